using System.Globalization;
using System.Runtime.InteropServices;

namespace ContainerOps.Daemon;

/// <summary>
/// Gives memory back once the daemon is quiet again, in two steps. A burst of work (a hundred containers started and
/// removed, a build, a pull) grows the heap, and a collector left alone shrinks it only when it next collects, which
/// an idle daemon never needs to. So once no request has started for <see cref="Quiet"/>, one aggressive collection
/// compacts the heap and returns its free regions to the system. Then, once the daemon has been quiet for
/// <see cref="ImageQuiet"/>, the pages of its own executable that the work touched — code and constant data, clean
/// and read back from the file when next needed — are handed back too (MADV_PAGEOUT): most of them served start-up or
/// one kind of request and would otherwise stay resident for the daemon's life. The longer wait keeps a user's next
/// command, a few seconds later, from reading them in again. An idle daemon has no timer running.
/// </summary>
internal sealed partial class IdleTrim : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ImageQuiet = TimeSpan.FromSeconds(30);
    private readonly Timer _timer;
    private long _requests;
    private long _seen;
    private int _armed;
    private bool _collected; // the heap is compacted; the executable's pages are next

    public IdleTrim() => _timer = new Timer(_ => Tick(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>A request started.</summary>
    public void Touch()
    {
        Interlocked.Increment(ref _requests);
        if (Interlocked.Exchange(ref _armed, 1) == 0) _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
    }

    private void Tick()
    {
        var now = Interlocked.Read(ref _requests);
        if (now != _seen)
        {
            _seen = now;
            _collected = false;
            _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
            return;
        }
        if (!_collected)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            _collected = true;
            _timer.Change(ImageQuiet - Quiet, Timeout.InfiniteTimeSpan);
            return;
        }
        Volatile.Write(ref _armed, 0);
        PageOutExecutable();
        _collected = false;
        // A request that started while this one looked quiet arms the timer again.
        if (Interlocked.Read(ref _requests) != now && Interlocked.Exchange(ref _armed, 1) == 0) _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
    }

    private const int MADV_PAGEOUT = 21;

    /// <summary>Advises the kernel to reclaim the executable's read-only mappings. Writable ones (relocated and
    /// runtime-built data) are anonymous memory that only swap could take, so they are left alone. Kernels before
    /// 5.4 refuse the advice (EINVAL), which changes nothing.</summary>
    private static void PageOutExecutable()
    {
        if (Environment.ProcessPath is not { } self) return;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                // start-end perms offset dev inode path
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 6 || fields[1].Contains('w') || fields[5].Trim() != self) continue;
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
