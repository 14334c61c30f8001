using System.Diagnostics;
using ContainerOps.Daemon;
using Xunit;

namespace ContainerOps.Daemon.Tests;

/// <summary>When the daemon gives memory back after work: the heap once requests have stopped for the short wait, the
/// executable's pages once they have stopped for the long one. The waits are shortened here; the steps are counted.</summary>
public sealed class IdleTrimTests
{
    private int _compactions;
    private int _pageOuts;

    private IdleTrim Trim(TimeSpan quiet, TimeSpan imageQuiet) =>
        new(quiet, imageQuiet, () => Interlocked.Increment(ref _compactions), () => Interlocked.Increment(ref _pageOuts));

    private static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(20);
        }
        return true;
    }

    [Fact]
    public void ABurstSoonAfterACompactionIsCompactedOnceItEndsNotWhenTheLongWaitWouldEnd()
    {
        using var trim = Trim(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));
        trim.Touch();
        Assert.True(WaitFor(() => Volatile.Read(ref _compactions) == 1, TimeSpan.FromSeconds(10)), "the first burst was not compacted");

        for (var i = 0; i < 5; i++) { trim.Touch(); Thread.Sleep(50); } // a second burst within the long wait
        var sinceBurst = Stopwatch.StartNew();
        Assert.True(WaitFor(() => Volatile.Read(ref _compactions) == 2, TimeSpan.FromSeconds(15)), "the second burst was not compacted before the long wait ended");
        Assert.True(sinceBurst.Elapsed >= TimeSpan.FromMilliseconds(150), $"compacted {sinceBurst.ElapsedMilliseconds} ms after the burst, before the short wait");
        Assert.Equal(0, Volatile.Read(ref _pageOuts));
    }

    [Fact]
    public void TheExecutableIsPagedOutOnceAfterTheLongQuietAndNotWhileRequestsGoOn()
    {
        using var trim = Trim(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1500));
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(2)) { trim.Touch(); Thread.Sleep(30); } // busy for longer than the long wait
        Assert.Equal(0, Volatile.Read(ref _pageOuts));

        var quietSince = Stopwatch.StartNew();
        Assert.True(WaitFor(() => Volatile.Read(ref _pageOuts) == 1, TimeSpan.FromSeconds(15)), "the executable was never paged out");
        Assert.True(quietSince.Elapsed >= TimeSpan.FromMilliseconds(1400), $"paged out {quietSince.ElapsedMilliseconds} ms into the quiet");
        Assert.True(Volatile.Read(ref _compactions) >= 1);
        Thread.Sleep(500);
        Assert.Equal(1, Volatile.Read(ref _pageOuts)); // an idle daemon has no timer running
    }
}
