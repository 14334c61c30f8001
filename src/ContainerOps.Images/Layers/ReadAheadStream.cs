using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using ContainerOps.Core.IO;

namespace ContainerOps.Images.Layers;

/// <summary>
/// Reads its source on a dedicated thread, a few chunks ahead of the reader: what the source does per byte
/// (gunzip, hashing) runs on one core while the reader (tar parsing, file creation) uses another. A failure of the
/// source is rethrown to the reader as it was. Dispose stops the thread and waits for it, so the source may be
/// disposed right after; the source must not block forever (a file, or a pipe its writer completes).
/// </summary>
internal sealed class ReadAheadStream : ForwardReadStream
{
    private readonly Stream _source;
    private readonly BlockingCollection<(byte[] Buffer, int Length)> _full;
    private readonly ConcurrentBag<byte[]> _free = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly int _chunk;
    private Exception? _error;
    private byte[]? _current;
    private int _pos, _len;
    private bool _done;

    public ReadAheadStream(Stream source, int chunkSize = 256 * 1024, int depth = 8)
    {
        _source = source;
        _chunk = chunkSize;
        _full = new BlockingCollection<(byte[], int)>(depth);
        _thread = new Thread(Produce) { IsBackground = true, Name = "layer read-ahead" };
        _thread.Start();
    }

    private void Produce()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var buf = _free.TryTake(out var b) ? b : new byte[_chunk];
                var n = 0;
                int r;
                while (n < buf.Length && (r = _source.Read(buf, n, buf.Length - n)) > 0) n += r;
                if (n == 0) break;
                _full.Add((buf, n), _stop.Token);
                if (n < buf.Length) break; // the source ended
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (Exception e) { _error = e; }
        finally { _full.CompleteAdding(); }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length == 0) return 0;
        if (_pos == _len)
        {
            if (_current != null) { _free.Add(_current); _current = null; }
            if (_done) return 0;
            if (!_full.TryTake(out var item, Timeout.Infinite))
            {
                _done = true;
                if (_error != null) ExceptionDispatchInfo.Capture(_error).Throw();
                return 0;
            }
            (_current, _len, _pos) = (item.Buffer, item.Length, 0);
        }
        var n = Math.Min(buffer.Length, _len - _pos);
        _current.AsSpan(_pos, n).CopyTo(buffer);
        _pos += n;
        return n;
    }


    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Cancel();
            _thread.Join();
            _full.Dispose();
            _stop.Dispose();
        }
        base.Dispose(disposing);
    }
}
