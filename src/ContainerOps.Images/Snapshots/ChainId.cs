using System.Text;
using ContainerOps.Images.Content;

namespace ContainerOps.Images.Snapshots;

/// <summary>OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).</summary>
public static class ChainId
{
    public static List<string> For(IEnumerable<string> diffIds)
    {
        var result = new List<string>();
        string? prev = null;
        foreach (var d in diffIds)
        {
            prev = prev == null ? d : Digest.Of(Encoding.ASCII.GetBytes(prev + " " + d));
            result.Add(prev);
        }
        return result;
    }
}
