using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>`top`: ps -ef style rows for the container's pids, read from /proc.</summary>
public static class ProcessTable
{
    private static readonly long TicksPerSecond = 100;

    public static ContainerProcessList Build(IEnumerable<int> pids)
    {
        var list = new ContainerProcessList { Titles = { "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD" } };
        var boot = BootTime();
        foreach (var pid in pids.OrderBy(p => p))
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var close = stat.LastIndexOf(')');
                var comm = stat[(stat.IndexOf('(') + 1)..close];
                var f = stat[(close + 2)..].Split(' ');
                var ppid = f[1];
                var tty = int.Parse(f[4]);
                var cpuTicks = long.Parse(f[11]) + long.Parse(f[12]);
                var startTicks = long.Parse(f[19]);
                var uid = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
                var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
                var started = boot.AddSeconds((double)startTicks / TicksPerSecond);
                var elapsed = Math.Max(1, (DateTimeOffset.UtcNow - started).TotalSeconds);
                var cpuSeconds = cpuTicks / TicksPerSecond;
                list.Processes.Add(new List<string>
                {
                    uid, pid.ToString(), ppid, ((int)(100 * cpuSeconds / elapsed)).ToString(), started.ToLocalTime().ToString("HH:mm"),
                    tty == 0 ? "?" : $"pts/{tty & 0xff}", TimeSpan.FromSeconds(cpuSeconds).ToString(@"hh\:mm\:ss"),
                    cmdline.Length > 0 ? cmdline : $"[{comm}]",
                });
            }
            catch (Exception e) when (e is IOException or FormatException or InvalidOperationException or IndexOutOfRangeException) { }
        }
        return list;
    }

    private static DateTimeOffset BootTime()
    {
        foreach (var line in File.ReadLines("/proc/stat"))
            if (line.StartsWith("btime ", StringComparison.Ordinal))
                return DateTimeOffset.FromUnixTimeSeconds(long.Parse(line[6..].Trim()));
        return DateTimeOffset.UtcNow;
    }
}
