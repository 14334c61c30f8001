using ContainerOps.Core.IO;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Cgroups;

/// <summary>
/// One container's cgroup, v1 (a directory in each controller hierarchy) or v2 (one unified directory),
/// behind one interface. <c>cgroupsPath</c> is the spec's linux.cgroupsPath, e.g. "/containerops/&lt;id&gt;".
/// </summary>
public abstract class CgroupManager
{
    /// <summary>The manager for this host's layout: v2 when /sys/fs/cgroup is a cgroup2 mount, else v1 (hybrid layouts use the v1 controllers).</summary>
    public static CgroupManager ForHost(string sysFsCgroup = "/sys/fs/cgroup")
    {
        var mounts = MountInfo.Read();
        var unified = mounts.FirstOrDefault(m => m.MountPoint == sysFsCgroup && m.FsType == "cgroup2");
        return unified is not null ? new CgroupV2(sysFsCgroup) : new CgroupV1(mounts);
    }

    public abstract int Version { get; }

    /// <summary>Creates the cgroup with its limits. A limit the kernel refuses is an InvalidArgument/ResourceUnavailable error and nothing stays behind.</summary>
    public abstract void Create(string cgroupsPath, OciResources? resources, string target);

    /// <summary>Changes the limits of an existing cgroup (device rules aside: they are set once, at create).</summary>
    public abstract void Update(string cgroupsPath, OciResources resources, string target);

    /// <summary>The cgroup.procs files a new process must be written into.</summary>
    public abstract IReadOnlyList<string> ProcsFiles(string cgroupsPath);

    public abstract bool Exists(string cgroupsPath);
    public abstract void Freeze(string cgroupsPath, bool frozen);
    public abstract bool IsFrozen(string cgroupsPath);
    public abstract CgroupStats ReadStats(string cgroupsPath);
    public abstract long OomKills(string cgroupsPath);

    /// <summary>Every pid in the container's cgroup.</summary>
    public IReadOnlyList<int> Pids(string cgroupsPath)
    {
        var result = new List<int>();
        foreach (var procs in ProcsFiles(cgroupsPath).Take(1))
        {
            try
            {
                foreach (var line in SmallFile.ReadLines(procs))
                    if (int.TryParse(line, out var pid)) result.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return result;
    }

    /// <summary>Removes the cgroup, first killing anything still inside (a frozen cgroup is thawed so SIGKILL lands).
    /// Retries while the kernel still reports it busy.</summary>
    public void Remove(string cgroupsPath)
    {
        if (!Exists(cgroupsPath)) return;
        if (IsFrozen(cgroupsPath)) Freeze(cgroupsPath, false);
        for (var attempt = 0; attempt < 200; attempt++)
        {
            foreach (var pid in Pids(cgroupsPath)) Libc.kill(pid, Libc.SIGKILL);
            if (TryRemoveDirectories(cgroupsPath)) return;
            Thread.Sleep(attempt < 20 ? 1 : 10);
        }
        throw new ContainerOpsException(ErrorKind.Internal, "CgroupBusy", $"cgroup {cgroupsPath} is still busy after killing its processes", cgroupsPath);
    }

    protected abstract bool TryRemoveDirectories(string cgroupsPath);

    /// <summary>Removes the cgroup when it holds no process and no child, once, killing nothing; false when it stays.</summary>
    public bool TryRemoveEmpty(string cgroupsPath) => !Exists(cgroupsPath) || TryRemoveDirectories(cgroupsPath);

    protected static bool TryRmdir(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir); return true; }
        catch (IOException) { return !Directory.Exists(dir); }
    }

    /// <summary>A limit the spec asks for that this host cannot enforce: refused, naming the field and what is missing.</summary>
    protected static ContainerOpsException Unavailable(string what, string missing, string field, string target) =>
        new(ErrorKind.InvalidArgument, "CgroupSettingUnsupported", $"{what} cannot be enforced on this host: {missing}", target, field);

    /// <summary>Writes <paramref name="file"/> when the host has it, else refuses as <see cref="Unavailable"/>.</summary>
    protected static void WriteIfAvailable(string dir, string file, string value, string what, string target, string field)
    {
        if (!File.Exists(Path.Combine(dir, file))) throw Unavailable(what, $"the cgroup has no {file}", field, target);
        WriteSetting(dir, file, value, target, field);
    }

    /// <summary>The kernel memory limit: Linux 6.x takes the write and enforces nothing — kernel memory is charged to
    /// the memory limit instead. Written where the host has the file; when it does not stick, a warning says so (as
    /// runc and Docker warn) rather than a refusal: the memory limit still bounds it.</summary>
    protected static void WriteKernelMemory(string dir, string file, long limit, string target)
    {
        var path = Path.Combine(dir, file);
        if (File.Exists(path)) WriteSetting(dir, file, limit.ToString(), target, "linux.resources.memory.kernel");
        if (!File.Exists(path) || ReadLong(path) != limit)
            Console.Error.WriteLine($"warning: {target}: linux.resources.memory.kernel is not enforced by this kernel; the memory limit covers kernel memory");
    }

    protected static void WriteSetting(string dir, string file, string value, string target, string field)
    {
        try { SmallFile.WriteText(Path.Combine(dir, file), value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "CgroupLimitRefused",
                $"the kernel refused {field} ({file} = {value.Trim()}): {e.Message}", target, field, e);
        }
    }

    protected static long ReadLong(string path, long fallback = 0)
    {
        try
        {
            var text = SmallFile.ReadText(path).Trim();
            if (text == "max") return 0;
            return long.TryParse(text, out var v) ? v : fallback;
        }
        catch (IOException) { return fallback; }
        catch (UnauthorizedAccessException) { return fallback; }
    }

    protected static long ReadKey(string path, string key)
    {
        try
        {
            foreach (var line in SmallFile.ReadLines(path))
            {
                var parts = line.Split(' ', 2);
                if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], out var v)) return v;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}

/// <summary>Mount table lines of /proc/self/mountinfo (mount point, fs type, super options, propagation).</summary>
public sealed record MountInfo(string MountPoint, string FsType, string Source, string SuperOptions)
{
    /// <summary>The propagation fields: "shared:N" (a peer group), "master:N" (a slave of one), "unbindable".</summary>
    public IReadOnlyList<string> Propagation { get; init; } = [];
    public bool IsShared => Propagation.Any(p => p.StartsWith("shared:", StringComparison.Ordinal));
    public bool IsSlave => Propagation.Any(p => p.StartsWith("master:", StringComparison.Ordinal));

    /// <summary>The mount <paramref name="path"/> (absolute, symlinks resolved) is on: the deepest mount point above it,
    /// the last mounted where several share one.</summary>
    public static MountInfo? Containing(string path, IReadOnlyList<MountInfo> mounts)
    {
        MountInfo? best = null;
        foreach (var m in mounts)
        {
            var under = m.MountPoint == "/" || path == m.MountPoint || path.StartsWith(m.MountPoint + "/", StringComparison.Ordinal);
            if (under && (best is null || m.MountPoint.Length >= best.MountPoint.Length)) best = m;
        }
        return best;
    }

    public static List<MountInfo> Read(string path = "/proc/self/mountinfo")
    {
        var result = new List<MountInfo>();
        foreach (var line in SmallFile.ReadLines(path))
        {
            var dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0) continue;
            var left = line[..dash].Split(' ');
            var right = line[(dash + 3)..].Split(' ');
            if (left.Length < 5 || right.Length < 3) continue;
            result.Add(new MountInfo(Unescape(left[4]), right[0], Unescape(right[1]), right[2]) { Propagation = left[6..] });
        }
        return result;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo.</summary>
    public static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && char.IsDigit(s[i + 1]))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
