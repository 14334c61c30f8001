namespace ContainerOps.TestSupport;

/// <summary>The network links of the test's namespace, by name.</summary>
public static class HostLinks
{
    public static IReadOnlyList<string> Names() =>
        Directory.GetFileSystemEntries("/sys/class/net").Select(l => Path.GetFileName(l)!).ToList();

    /// <summary>Waits until no link matches: a removed container's veth pair is deleted in the background, a moment
    /// after the removal returned. False when one still does after <paramref name="seconds"/>.</summary>
    public static bool WaitUntilNone(Func<string, bool> match, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (Names().Any(match))
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(20);
        }
        return true;
    }
}
