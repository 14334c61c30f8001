using ContainerOps.Runtime.Native;

namespace ContainerOps.Runtime;

/// <summary>
/// Named places where this process can be made to die at once with SIGKILL, as a crash would, when the environment
/// variable CONTAINEROPS_CRASH_AT names them. A random kill finds a crash window now and then; a crash point hits it
/// every time, so a regression test can show that recovery handles exactly that window. Unset, it costs one
/// comparison with null.
/// </summary>
public static class CrashPoint
{
    private static readonly string? Armed = Environment.GetEnvironmentVariable("CONTAINEROPS_CRASH_AT");

    public static void Hit(string name)
    {
        if (Armed is null || !string.Equals(Armed, name, StringComparison.Ordinal)) return;
        Libc.kill(Environment.ProcessId, Libc.SIGKILL);
        Thread.Sleep(Timeout.Infinite);
    }
}
