using System.Net.Sockets;
using ContainerOps.Cli.Parsing;
using ContainerOps.Client;

namespace ContainerOps.Cli.Commands;

/// <summary><c>dial-stdio</c>: joins this process's stdin and stdout to the daemon's socket, both ways, so a remote client can
/// reach the daemon through <c>ssh node containerops dial-stdio</c>. The command ends when the daemon closes the connection.
/// The end of stdin is not passed on as a half-close: the daemon's HTTP server takes one as an aborted request and would drop
/// the response still owed, so the connection stays open until the daemon has answered and closed it.</summary>
internal static class DialStdio
{
    public static async Task<int> Run(CliContext c, ParsedArgs a)
    {
        // Starts the daemon when none answers (as every other verb would).
        _ = c.Client;
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(c.Options.EffectiveSocketPath), c.Cancel);
        await using var net = new NetworkStream(socket, ownsSocket: false);
        await using var stdin = Console.OpenStandardInput();
        await using var stdout = Console.OpenStandardOutput();

        var up = Task.Run(async () =>
        {
            var buffer = new byte[32768];
            int n;
            while ((n = await stdin.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                await net.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
        });
        var down = Task.Run(async () =>
        {
            var buffer = new byte[32768];
            int n;
            while ((n = await net.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                await stdout.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                await stdout.FlushAsync().ConfigureAwait(false);
            }
        });
        // The daemon closing its side ends the session.
        try { await down.ConfigureAwait(false); }
        catch (IOException) { }
        if (up.IsFaulted) _ = up.Exception;
        return 0;
    }
}
