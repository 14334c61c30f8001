using System.Text;

namespace ContainerOps.Probes;

/// <summary>A probe's stdout and stderr together, as Docker keeps them: the first 4096 bytes, then "..." when more came.
/// A check that floods its output must not grow the container's record.</summary>
public sealed class LimitedOutput
{
    public const int MaxBytes = 4096;
    private readonly MemoryStream _kept = new();
    private bool _truncated;

    public void Write(ReadOnlySpan<byte> data)
    {
        lock (_kept)
        {
            var keep = (int)Math.Min(MaxBytes - _kept.Length, data.Length);
            if (keep > 0) _kept.Write(data[..keep]);
            if (keep < data.Length) _truncated = true;
        }
    }

    public override string ToString()
    {
        lock (_kept)
        {
            var text = Encoding.UTF8.GetString(_kept.GetBuffer(), 0, (int)_kept.Length);
            return _truncated ? text + "..." : text;
        }
    }
}
