namespace ContainerOps.TestSupport;

/// <summary>
/// Ends what a test left running before its fixture removes bundles, root filesystems and state: every process in
/// the fixture's cgroup subtree (all hierarchies, v1 and v2), then any shim whose plan lives under the fixture's
/// directory, then the emptied cgroup directories, deepest first. Removing a root filesystem under a live container
/// leaves it spinning on a vanished tree and its shim without a state directory, so this runs first and reports
/// what it found: a fixture fails by the name of the test that left each container running.
/// </summary>
public static class LeftoverContainers
{
    /// <param name="cgroupParent">The fixture's own cgroup parent (each container's cgroup is PARENT/ID).</param>
    /// <param name="ownedPath">A directory only this fixture uses: shims whose command line names it are its own.</param>
    /// <param name="ownerOf">Maps a container id (a cgroup leaf's name) to the test that made it, when known.</param>
    /// <returns>One line per container that was still running, naming its test; empty when nothing was.</returns>
    public static IReadOnlyList<string> Reap(string cgroupParent, string ownedPath, Func<string, string?>? ownerOf = null)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        Thaw(cgroupParent);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var live = ProcessesIn(cgroupParent);
            foreach (var (pid, leaf) in live)
            {
                var owner = ownerOf?.Invoke(leaf);
                found.Add($"container {leaf}" + (owner is null ? "" : $" of {owner}") + $" (pid {pid} {Comm(pid)})");
                Kill(pid);
            }
            if (live.Count == 0 || DateTime.UtcNow > deadline) break;
            Thread.Sleep(20);
        }

        // Its container gone, a shim records the exit and ends by itself; one that does not is killed.
        deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            var shims = ShimsUnder(ownedPath);
            if (shims.Count == 0) break;
            if (DateTime.UtcNow > deadline)
            {
                foreach (var pid in shims) { found.Add($"shim pid {pid} outlived its container"); Kill(pid); }
                Thread.Sleep(50);
                break;
            }
            Thread.Sleep(20);
        }

        foreach (var dir in CgroupDirs(cgroupParent).OrderByDescending(d => d.Length))
        {
            try { Directory.Delete(dir); }
            catch (IOException) { }
        }
        return found.ToList();
    }

    private static IEnumerable<string> Hierarchies()
    {
        if (!Directory.Exists("/sys/fs/cgroup")) yield break;
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers")) yield return "/sys/fs/cgroup";
        foreach (var d in Directory.GetDirectories("/sys/fs/cgroup"))
            if (!File.Exists("/sys/fs/cgroup/cgroup.controllers") || d == "/sys/fs/cgroup/unified") yield return d;
    }

    private static List<string> CgroupDirs(string cgroupParent)
    {
        var dirs = new List<string>();
        foreach (var hierarchy in Hierarchies())
        {
            var top = Path.Combine(hierarchy, cgroupParent.Trim('/'));
            if (!Directory.Exists(top)) continue;
            dirs.Add(top);
            try { dirs.AddRange(Directory.EnumerateDirectories(top, "*", SearchOption.AllDirectories)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return dirs;
    }

    /// <summary>A frozen task takes SIGKILL only once thawed (v1 freezer).</summary>
    private static void Thaw(string cgroupParent)
    {
        foreach (var dir in CgroupDirs(cgroupParent))
        {
            foreach (var (file, value) in new[] { ("freezer.state", "THAWED"), ("cgroup.freeze", "0") })
            {
                try { if (File.Exists(Path.Combine(dir, file))) File.WriteAllText(Path.Combine(dir, file), value); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
    }

    private static List<(int Pid, string Leaf)> ProcessesIn(string cgroupParent)
    {
        var result = new List<(int, string)>();
        var seen = new HashSet<int>();
        foreach (var dir in CgroupDirs(cgroupParent))
        {
            string text;
            try { text = File.ReadAllText(Path.Combine(dir, "cgroup.procs")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                if (int.TryParse(line, out var pid) && seen.Add(pid)) result.Add((pid, Path.GetFileName(dir)));
        }
        return result;
    }

    private static List<int> ShimsUnder(string ownedPath)
    {
        var pids = new List<int>();
        foreach (var p in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(p), out var pid)) continue;
            try
            {
                var cmd = File.ReadAllText(p + "/cmdline").Replace('\0', ' ');
                if (cmd.Contains("containerops-shim", StringComparison.Ordinal) && cmd.Contains(ownedPath, StringComparison.Ordinal)) pids.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return pids;
    }

    private static string Comm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").Trim(); }
        catch (IOException) { return "?"; }
    }

    private static void Kill(int pid)
    {
        try { System.Diagnostics.Process.GetProcessById(pid).Kill(); }
        catch (ArgumentException) { }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }
}
