using ContainerOps.Core;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Network.Netlink;

/// <summary>
/// Deletes links in the background, one after another. Deleting a veth pair takes the kernel ~20 ms (it waits for
/// RCU grace periods under the rtnl lock), most of a container's network step if its removal waited for it; the
/// container's address is free at once and its link goes a moment later. Links are named by index, which the kernel
/// never hands out again while a namespace lives, so a new link of the same name (the same container started again)
/// is never the one deleted.
/// </summary>
internal sealed class LinkReaper : IDisposable
{
    private readonly object _gate = new();
    private readonly Queue<int> _queue = new();
    private readonly RtNetlink _netlink;
    private readonly ILogger _log;
    private readonly Thread _thread;
    private readonly PendingWork _pending = new();
    private bool _stopping;

    /// <summary>The socket is opened here, by the caller, so that it works in the caller's network namespace whatever
    /// the namespace of the thread that uses it.</summary>
    public LinkReaper(ILogger log)
    {
        _log = log;
        _netlink = RtNetlink.Open();
        _thread = new Thread(Run) { IsBackground = true, Name = "link-reaper" };
        _thread.Start();
    }

    public void Delete(int index)
    {
        _pending.Begin();
        lock (_gate)
        {
            _queue.Enqueue(index);
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Waits until every link handed over so far is gone; false when <paramref name="timeout"/> passed first.</summary>
    public bool WaitIdle(TimeSpan timeout) => _pending.WaitIdle(timeout);

    private void Run()
    {
        while (true)
        {
            int index;
            lock (_gate)
            {
                while (_queue.Count == 0 && !_stopping) Monitor.Wait(_gate);
                if (_queue.Count == 0) return;
                index = _queue.Dequeue();
            }
            try { _netlink.DeleteLink(index); }
            catch (NetlinkException e) { _log.LogWarning("cannot delete link {Index}: {Message}", index, e.Message); }
            finally { _pending.End(); }
        }
    }

    /// <summary>Deletes what is queued (for up to 10 s), then stops.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        _thread.Join(TimeSpan.FromSeconds(10));
        _netlink.Dispose();
    }
}
