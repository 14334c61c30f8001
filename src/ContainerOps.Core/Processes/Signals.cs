using ContainerOps.Core.Api;

namespace ContainerOps.Core.Processes;

/// <summary>Linux signal names and numbers ("KILL", "SIGKILL", "9" are the same signal).</summary>
public static class Signals
{
    private static readonly string[] Names =
    {
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
        "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    };

    public const int SIGKILL = 9, SIGTERM = 15;

    public static int Parse(string signal, string field = "signal")
    {
        var s = signal.Trim().ToUpperInvariant();
        if (int.TryParse(s, out var n))
        {
            if (n is > 0 and <= 64) return n;
        }
        else
        {
            if (s.StartsWith("SIG", StringComparison.Ordinal)) s = s[3..];
            var idx = Array.IndexOf(Names, s);
            if (idx > 0) return idx;
            if (s.StartsWith("RTMIN+", StringComparison.Ordinal) && int.TryParse(s[6..], out var rt) && rt is >= 0 and <= 30) return 34 + rt;
        }
        throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidSignal", $"invalid signal '{signal}'", null, field);
    }

    public static string Name(int signal) => signal > 0 && signal < Names.Length ? "SIG" + Names[signal] : signal.ToString();
}
