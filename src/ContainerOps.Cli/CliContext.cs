using System.Runtime.InteropServices;
using System.Text;
using ContainerOps.Client;
using ContainerOps.Core.IO;

namespace ContainerOps.Cli;

/// <summary>What a verb works with: the client (connected on first use), buffered standard output, and a token
/// that fires on Ctrl+C or SIGTERM.</summary>
internal sealed class CliContext : IDisposable
{
    private IContainerOpsClient? _client;
    private readonly CancellationTokenSource _cancel = new();
    private readonly List<PosixSignalRegistration> _signals = new();

    public CliContext(ClientOptions options)
    {
        Options = options;
        Out = new StreamWriter(StandardStreams.Open(1), new UTF8Encoding(false), 16384) { AutoFlush = false, NewLine = "\n" };
        Err = new StreamWriter(StandardStreams.Open(2), new UTF8Encoding(false), 4096) { AutoFlush = true, NewLine = "\n" };
    }

    /// <summary>Standard input as text, read from the file descriptor (not through System.Console, see StandardStreams).</summary>
    public TextReader In => _in ??= new StreamReader(StandardStreams.Open(0, FileAccess.Read), new UTF8Encoding(false));
    private TextReader? _in;

    public ClientOptions Options { get; }
    public StreamWriter Out { get; }
    public StreamWriter Err { get; }
    public CancellationToken Cancel => _cancel.Token;

    public IContainerOpsClient Client => _client ??= ContainerOpsClient.Connect(Options);

    /// <summary>Ctrl+C and SIGTERM cancel <see cref="Cancel"/> instead of ending the process (so terminals are restored
    /// and streams closed). A verb that forwards signals installs its own handler instead.</summary>
    public void CancelOnSignals()
    {
        foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _signals.Add(PosixSignalRegistration.Create(sig, c => { c.Cancel = true; _cancel.Cancel(); }));
    }

    public void Flush()
    {
        try { Out.Flush(); } catch (IOException) { }
    }

    public void Dispose()
    {
        foreach (var s in _signals) s.Dispose();
        Flush();
        _client?.Dispose();
        _cancel.Dispose();
    }
}
