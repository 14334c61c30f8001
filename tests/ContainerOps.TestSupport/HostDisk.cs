namespace ContainerOps.TestSupport;

/// <summary>A whole disk of this host (the cgroup I/O throttle files take disks, not partitions).</summary>
public static class HostDisk
{
    /// <summary>Its /dev path and its numbers as "major:minor".</summary>
    public static (string Path, string Numbers, long Major, long Minor) First()
    {
        foreach (var line in File.ReadAllLines("/proc/partitions").Skip(2))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 4 && !f[3].StartsWith("zram", StringComparison.Ordinal) && !f[3].StartsWith("loop", StringComparison.Ordinal)
                && !char.IsDigit(f[3][^1]) && File.Exists("/dev/" + f[3]))
                return ("/dev/" + f[3], $"{f[0]}:{f[1]}", long.Parse(f[0]), long.Parse(f[1]));
        }
        throw new InvalidOperationException("no disk in /proc/partitions");
    }
}
