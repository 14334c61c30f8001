namespace ContainerOps.Runtime.Shim;

/// <summary>Finds the shim processes of one launch by their command line (`containerops-shim run|create PLAN`): the
/// front, the monitor it forked and the init before it execs all carry it. Used only for a launch that was cut off
/// before its caller learned any pid.</summary>
public static class ShimProcesses
{
    public static List<int> Running(string planFile)
    {
        var result = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            byte[] cmdline;
            try { cmdline = File.ReadAllBytes(Path.Combine(dir, "cmdline")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            var argv = System.Text.Encoding.UTF8.GetString(cmdline).Split('\0');
            if (argv.Length >= 3 && argv[1] is "run" or "create" && argv[2] == planFile
                && ContainerStateDir.ReadStat(pid) is { State: not ('Z' or 'X' or 'x') })
                result.Add(pid);
        }
        return result;
    }
}
