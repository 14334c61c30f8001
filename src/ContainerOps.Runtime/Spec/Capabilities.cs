using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Spec;

/// <summary>Linux capability names and numbers, and Docker's default set.</summary>
public static class Capabilities
{
    public static readonly string[] All =
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    };

    /// <summary>The 14 capabilities Docker grants by default.</summary>
    public static readonly string[] DockerDefault =
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    };

    /// <summary>Accepts "NET_ADMIN", "net_admin", "CAP_NET_ADMIN" and "ALL".</summary>
    public static string Normalize(string name, string field, string? target)
    {
        var upper = name.Trim().ToUpperInvariant();
        if (upper == "ALL") return upper;
        if (!upper.StartsWith("CAP_", StringComparison.Ordinal)) upper = "CAP_" + upper;
        if (Array.IndexOf(All, upper) < 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidCapability",
                $"unknown capability '{name}' in {field}", target, field);
        return upper;
    }

    /// <summary>Bit number, or -1 for a name this table does not know (ignored, as newer kernels may add some).</summary>
    public static int Number(string name) => Array.IndexOf(All, name);

    /// <summary>Every capability this process may hand on (its bounding set): what `--privileged` grants. On a nested host
    /// that is less than <see cref="All"/>, and asking capset for more fails.</summary>
    public static List<string> HostBounding()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("CapBnd:", StringComparison.Ordinal))
                {
                    var mask = Convert.ToUInt64(line[7..].Trim(), 16);
                    return All.Where((_, bit) => (mask & (1UL << bit)) != 0).ToList();
                }
        }
        catch (IOException) { }
        return All.ToList();
    }

    public static ulong Mask(IEnumerable<string>? names)
    {
        ulong mask = 0;
        if (names is null) return 0;
        foreach (var n in names)
        {
            var bit = Number(n);
            if (bit >= 0) mask |= 1UL << bit;
        }
        return mask;
    }
}
