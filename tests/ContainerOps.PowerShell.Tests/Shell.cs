using System.Collections.Concurrent;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace ContainerOps.PowerShell.Tests;

/// <summary>A runspace with the module's cmdlets, talking to its own <see cref="FakeClient"/>.</summary>
internal sealed class Shell : IDisposable
{
    private static readonly ConcurrentDictionary<Runspace, FakeClient> s_clients = new();

    static Shell()
    {
        ClientConnections.Factory = _ => s_clients.TryGetValue(Runspace.DefaultRunspace, out var c) ? c : throw new InvalidOperationException("no fake client for this runspace");
    }

    public FakeClient Client { get; } = new();
    public Runspace Runspace { get; }
    public Collection<ErrorRecord> Errors { get; } = new();
    public List<string> Warnings { get; } = new();
    public List<ProgressRecord> Progress { get; } = new();

    public Shell()
    {
        var iss = InitialSessionState.CreateDefault2();
        iss.ImportPSModule([typeof(ContainerOpsCmdlet).Assembly.Location]);
        Runspace = RunspaceFactory.CreateRunspace(iss);
        Runspace.Open();
        s_clients[Runspace] = Client;
    }

    public Collection<PSObject> Run(string script, object? input = null)
    {
        using var ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = Runspace;
        ps.AddScript(script);
        var output = input is null ? ps.Invoke() : ps.Invoke(new[] { input });
        foreach (var e in ps.Streams.Error) Errors.Add(e);
        Warnings.AddRange(ps.Streams.Warning.Select(w => w.Message));
        Progress.AddRange(ps.Streams.Progress);
        return output;
    }

    public void Dispose()
    {
        s_clients.TryRemove(Runspace, out _);
        Runspace.Dispose();
    }
}
