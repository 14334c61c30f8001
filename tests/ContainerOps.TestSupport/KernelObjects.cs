namespace ContainerOps.TestSupport;

/// <summary>
/// A snapshot of the kernel objects tests can leak: mounts, cgroup directories, network namespaces, bridges/veths,
/// shim processes. Take one before, one after, and assert <see cref="Diff"/> is empty.
/// </summary>
public sealed record KernelObjects(IReadOnlySet<string> Mounts, IReadOnlySet<string> Cgroups, IReadOnlySet<string> NetNamespaces,
    IReadOnlySet<string> Links, IReadOnlySet<string> ShimProcesses)
{
    public static KernelObjects Capture(string cgroupNameFilter = "containerops")
    {
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).ToHashSet();
        var cgroups = new HashSet<string>();
        foreach (var top in Directory.Exists("/sys/fs/cgroup") ? Directory.GetDirectories("/sys/fs/cgroup") : [])
            foreach (var d in SafeDirs(top))
                if (d.Contains(cgroupNameFilter, StringComparison.Ordinal)) cgroups.Add(d);
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers"))
            foreach (var d in SafeDirs("/sys/fs/cgroup")) if (d.Contains(cgroupNameFilter, StringComparison.Ordinal)) cgroups.Add(d);
        var netns = Directory.Exists("/run/netns") ? Directory.GetFiles("/run/netns").ToHashSet() : new HashSet<string>();
        var links = Directory.Exists("/sys/class/net") ? Directory.GetFileSystemEntries("/sys/class/net").ToHashSet() : new HashSet<string>();
        var shims = new HashSet<string>();
        foreach (var p in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(System.IO.Path.GetFileName(p), out _)) continue;
            try
            {
                var cmd = File.ReadAllText(p + "/cmdline").Replace('\0', ' ');
                if (cmd.Contains("containerops-shim", StringComparison.Ordinal)) shims.Add(System.IO.Path.GetFileName(p) + " " + cmd.Trim());
            }
            catch (IOException) { }
        }
        return new KernelObjects(mounts, cgroups, netns, links, shims);
    }

    private static IEnumerable<string> SafeDirs(string top)
    {
        try { return Directory.EnumerateDirectories(top, "*", SearchOption.AllDirectories).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    /// <summary>Human-readable list of what <paramref name="after"/> has that this snapshot had not; empty when nothing leaked.</summary>
    public IReadOnlyList<string> Diff(KernelObjects after)
    {
        var leaks = new List<string>();
        leaks.AddRange(after.Mounts.Except(Mounts).Select(m => "mount " + m));
        leaks.AddRange(after.Cgroups.Except(Cgroups).Select(c => "cgroup " + c));
        leaks.AddRange(after.NetNamespaces.Except(NetNamespaces).Select(n => "netns " + n));
        leaks.AddRange(after.Links.Except(Links).Select(n => "link " + n));
        leaks.AddRange(after.ShimProcesses.Except(ShimProcesses).Select(n => "process " + n));
        return leaks;
    }
}
