using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Commands;

/// <summary>`kubeconfig`: what kubectl needs to reach the daemon's cluster API. The rest of the cluster is kubectl's.</summary>
internal static class Cluster
{
    public static async Task<int> Kubeconfig(CliContext c, ParsedArgs a)
    {
        var config = await c.Client.GetKubeconfigAsync(c.Cancel);
        if (a.Value("output") is not { Length: > 0 } path)
        {
            c.Out.Write(config);
            return 0;
        }
        // It holds a private key: made 0600, and an existing file is narrowed to 0600 before it is written.
        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (File.Exists(path)) File.SetUnixFileMode(path, owner);
        using (var fs = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = owner }))
        using (var w = new StreamWriter(fs))
            w.Write(config);
        return 0;
    }
}
