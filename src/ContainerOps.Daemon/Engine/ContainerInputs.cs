using System.Collections.Concurrent;
using System.Net.Sockets;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// The daemon's one connection to each running container's stdin (the shim's attach socket), shared by every Docker
/// client attached with input. The shim takes the end of a connection as the end of the container's stdin, so a
/// connection is never closed because a client left: it stays open until the shim closes it as the container ends,
/// and it is shut on purpose only to close the container's stdin (Docker's StdinOnce). One shared connection rather
/// than one per client, so that clients which come and go do not use up the shim's attach slots.
/// </summary>
public sealed class ContainerInputs
{
    private readonly ConcurrentDictionary<string, Lazy<Task<Input>>> _inputs = new(StringComparer.Ordinal);

    /// <summary>A container's stdin as the daemon holds it.</summary>
    public sealed class Input(Socket socket)
    {
        private readonly SemaphoreSlim _send = new(1, 1);

        /// <summary>Sends input; clients' writes are whole, one at a time.</summary>
        public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
        {
            await _send.WaitAsync(ct);
            try
            {
                while (!data.IsEmpty) data = data[await socket.SendAsync(data, SocketFlags.None, ct)..];
            }
            finally { _send.Release(); }
        }

        /// <summary>Closes the container's stdin (the shim reads the end of this connection's input as that).</summary>
        public void CloseStdin()
        {
            try { socket.Shutdown(SocketShutdown.Send); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }

        /// <summary>Reads (and drops) what the shim sends here — the output, which clients read from the log — until
        /// the shim closes the connection as the container ends.</summary>
        internal async Task DrainAsync()
        {
            var buffer = new byte[16384];
            try { while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0) { } }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            finally { socket.Dispose(); }
        }
    }

    /// <summary>Whether the end of an attached client's input closes the container's stdin: only for a container made
    /// to take one input without a terminal (StdinOnce: `docker run -i`, a pod's stdinOnce), as dockerd and the kubelet
    /// do; otherwise the stdin stays open for the next client.</summary>
    public static bool EndOfInputClosesStdin(ContainerOps.Core.Api.ContainerConfig config) => config.StdinOnce && !config.Tty;

    /// <summary>The container's stdin, connected at the first call of its run.</summary>
    public async Task<Input> OpenAsync(string containerId, string attachPath, CancellationToken ct)
    {
        var entry = _inputs.GetOrAdd(containerId, _ => new Lazy<Task<Input>>(() => ConnectAsync(containerId, attachPath)));
        try { return await entry.Value.WaitAsync(ct); }
        catch (Exception e) when (e is SocketException or IOException)
        {
            // A failed connection is not kept: the next client tries again, and this one hears why.
            _inputs.TryRemove(new KeyValuePair<string, Lazy<Task<Input>>>(containerId, entry));
            throw;
        }
    }

    private async Task<Input> ConnectAsync(string containerId, string attachPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { await socket.ConnectAsync(new UnixDomainSocketEndPoint(attachPath)); }
        catch
        {
            socket.Dispose();
            throw;
        }
        var input = new Input(socket);
        _ = Task.Run(async () =>
        {
            await input.DrainAsync();
            // The run ended: the next run's clients connect anew.
            if (_inputs.TryGetValue(containerId, out var entry) && entry.Value.IsCompletedSuccessfully && entry.Value.Result == input)
                _inputs.TryRemove(new KeyValuePair<string, Lazy<Task<Input>>>(containerId, entry));
        });
        return input;
    }
}
