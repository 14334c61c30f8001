using System.Globalization;
using System.Runtime.InteropServices;

namespace ContainerOps.Daemon;

/// <summary>
/// Gives memory back once the daemon is quiet again, in two steps. A burst of work (a hundred containers started and
/// removed, a build, a pull) grows the heap, and a collector left alone shrinks it only when it next collects, which
/// an idle daemon never needs to. So once no request has started for <see cref="Quiet"/>, one aggressive collection
/// compacts the heap and returns its free regions to the system. Then, once the daemon has been quiet for
/// <see cref="ImageQuiet"/>, the pages of its own executable that the work touched — code and type data never
/// written, clean and read back from the file when next needed — are handed back too (MADV_PAGEOUT): most of them
/// served start-up or one kind of request and would otherwise stay resident for the daemon's life. The longer wait
/// keeps a user's next command, a few seconds later, from reading them in again. An idle daemon has no timer running.
/// </summary>
public sealed partial class IdleTrim : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ImageQuiet = TimeSpan.FromSeconds(30);
    private enum Phase { Idle, AwaitQuiet, AwaitImageQuiet }

    private readonly TimeSpan _quiet;
    private readonly TimeSpan _imageQuiet;
    private readonly Action _compact;
    private readonly Action _pageOut;
    private readonly Lock _gate = new();
    private readonly Timer _timer;
    private long _requests;
    private long _seen;
    private volatile Phase _phase;

    public IdleTrim() : this(Quiet, ImageQuiet, CompactHeap, PageOutExecutable) { }

    /// <summary>The two waits and the two steps, given apart so that they can be tested in seconds.</summary>
    public IdleTrim(TimeSpan quiet, TimeSpan imageQuiet, Action compact, Action pageOut)
    {
        (_quiet, _imageQuiet, _compact, _pageOut) = (quiet, imageQuiet, compact, pageOut);
        _timer = new Timer(_ => Tick(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A request started. While the short wait runs this is one increment; otherwise it (re)starts that
    /// wait, also during the long one: a burst soon after a compaction is compacted once it ends, not when the
    /// long wait would have ended.</summary>
    public void Touch()
    {
        Interlocked.Increment(ref _requests);
        if (_phase == Phase.AwaitQuiet) return;
        lock (_gate)
        {
            if (_phase == Phase.AwaitQuiet) return;
            _phase = Phase.AwaitQuiet;
            _timer.Change(_quiet, Timeout.InfiniteTimeSpan);
        }
    }

    private void Tick()
    {
        lock (_gate)
        {
            var now = Interlocked.Read(ref _requests);
            switch (_phase)
            {
                case Phase.AwaitQuiet when now != _seen: // requests came during the wait: wait again
                    _seen = now;
                    _timer.Change(_quiet, Timeout.InfiniteTimeSpan);
                    return;
                case Phase.AwaitQuiet:
                    _compact();
                    _phase = Phase.AwaitImageQuiet;
                    _timer.Change(_imageQuiet - _quiet, Timeout.InfiniteTimeSpan);
                    return;
                case Phase.AwaitImageQuiet:
                    _phase = Phase.Idle;
                    break;
                default: return; // a tick from a wait that a request has since replaced
            }
        }
        _pageOut();
    }

    private static long s_allocatedAtCompaction;

    /// <summary>Compacts the heap unless little was allocated since the last compaction (a script polling every few
    /// seconds): then there is little to give back and the collection would only cost the pause.</summary>
    private static void CompactHeap()
    {
        var allocated = GC.GetTotalAllocatedBytes();
        if (allocated - s_allocatedAtCompaction < 4 << 20) return;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        s_allocatedAtCompaction = GC.GetTotalAllocatedBytes();
    }

    private const int MADV_PAGEOUT = 21;

    /// <summary>Advises the kernel to reclaim the executable's mappings. Its data mapping is writable, but most of its
    /// pages (the type data, stored ready to use at a fixed address) are never written and are the file's own: those
    /// are reclaimed like code; the written ones are anonymous and stay unless there is swap. Kernels before 5.4
    /// refuse the advice (EINVAL), which changes nothing.</summary>
    private static void PageOutExecutable()
    {
        if (Environment.ProcessPath is not { } self) return;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                // start-end perms offset dev inode path
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 6 || fields[5].Trim() != self) continue;
                var range = fields[0].Split('-');
                var start = nint.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                var end = nint.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                madvise(start, (nuint)(end - start), MADV_PAGEOUT);
            }
        }
        catch (IOException) { } // no /proc: nothing to give back
    }

    [LibraryImport("libc")] private static partial int madvise(nint addr, nuint length, int advice);

    public void Dispose() => _timer.Dispose();
}
