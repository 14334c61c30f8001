using System.Runtime.InteropServices;

namespace ContainerOps.Network.Netlink;

/// <summary>
/// Work done inside another network namespace. A socket belongs to the namespace it was opened in for its whole life, so
/// only its opening needs to happen there: a dedicated thread enters the namespace, runs the work and leaves; if it
/// cannot leave, it ends, and its namespace with it. The daemon's own threads never change namespace.
/// </summary>
public static partial class NetworkNamespace
{
    /// <summary>Runs <paramref name="work"/> in the network namespace <paramref name="nsFd"/> refers to.</summary>
    public static T Run<T>(int nsFd, Func<T> work)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            int self = -1;
            try
            {
                self = Native.OpenNamespace($"/proc/self/task/{gettid()}/ns/net");
                if (Native.setns(nsFd, Native.CLONE_NEWNET) != 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), "setns into the container's network namespace");
                try { result = work(); }
                finally
                {
                    if (Native.setns(self, Native.CLONE_NEWNET) != 0)
                        error = new NetlinkException(Marshal.GetLastPInvokeError(), "setns back to the host network namespace");
                }
            }
            catch (Exception e) { error = e; }
            finally { if (self >= 0) Native.close(self); }
        }, 256 * 1024) { IsBackground = true, Name = "netns" };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            (result as IDisposable)?.Dispose();
            throw error;
        }
        return result;
    }

    /// <summary>As <see cref="Run{T}(int, Func{T})"/>, for a namespace named by a file (/proc/PID/ns/net, or a
    /// bind-mounted one such as a pod sandbox's).</summary>
    public static T Run<T>(string nsPath, Func<T> work)
    {
        var fd = Native.OpenNamespace(nsPath);
        try { return Run(fd, work); }
        finally { Native.close(fd); }
    }

    [LibraryImport("libc")] private static partial int gettid();
}
