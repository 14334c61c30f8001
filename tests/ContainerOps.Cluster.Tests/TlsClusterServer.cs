using System.Diagnostics;
using System.Net;
using ContainerOps.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Cluster.Tests;

/// <summary>The cluster API as the daemon hosts it (ClusterHost: store, certificates, TLS with client certificates),
/// in process on a free loopback port, with a kubeconfig file for kubectl and a private kubectl cache.</summary>
public sealed class TlsClusterServer : IAsyncDisposable
{
    private readonly TempDir _dir = new("ctls");
    private readonly WebApplication _app;
    public ClusterHost Host { get; }
    public string KubeconfigPath => Path.Combine(_dir.Path, "kubeconfig");
    public string Directory => _dir.Path;

    public TlsClusterServer()
    {
        Host = ClusterHost.Open(Path.Combine(_dir.Path, "root"), new ClusterHostOptions
        {
            TlsEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            Api = new() { BookmarkInterval = TimeSpan.FromSeconds(1) },
        });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => Host.Listen(k));
        _app = builder.Build();
        _app.UseWebSockets(); // as the daemon: kubectl's exec, attach and port-forward are WebSocket connections
        _app.Use(Host.InvokeAsync);
        _app.Run(ctx => { ctx.Response.StatusCode = 404; return Task.CompletedTask; });
        _app.StartAsync().GetAwaiter().GetResult();
        Host.Started(_app.Urls);
        File.WriteAllText(KubeconfigPath, Host.Kubeconfig());
    }

    public (int Exit, string Out, string Err) KubectlWithInput(string stdin, params string[] args) =>
        Run(ContainerOps.TestSupport.Kubectl.Path, stdin, args);

    /// <summary>Another kubectl (an older one) with this server's kubeconfig and a private cache.</summary>
    public (int Exit, string Out, string Err) KubectlAt(string binary, params string[] args) => Run(binary, "", args);

    /// <summary>As <see cref="KubectlAt"/>, with standard input.</summary>
    public (int Exit, string Out, string Err) KubectlAtWithInput(string binary, string stdin, params string[] args) => Run(binary, stdin, args);

    private (int Exit, string Out, string Err) Run(string binary, string stdin, string[] args)
    {
        using var p = Process.Start(StartWith(binary, args))!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException("kubectl " + string.Join(' ', args)); }
        return (p.ExitCode, output, err.Result);
    }

    public (int Exit, string Out, string Err) Kubectl(params string[] args) => KubectlWithInput("", args);

    /// <summary>kubectl that must succeed; its standard output.</summary>
    public string Ok(params string[] args)
    {
        var (exit, output, err) = Kubectl(args);
        Assert.True(exit == 0, $"kubectl {string.Join(' ', args)} exited {exit}: {err}{output}");
        return output;
    }

    public ProcessStartInfo Start(params string[] args) => StartWith(ContainerOps.TestSupport.Kubectl.Path, args);

    private ProcessStartInfo StartWith(string binary, string[] args)
    {
        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add("--kubeconfig");
        psi.ArgumentList.Add(KubeconfigPath);
        psi.ArgumentList.Add("--cache-dir");
        psi.ArgumentList.Add(Path.Combine(_dir.Path, "kube-cache"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = _dir.Path;
        return psi;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Host.Dispose();
        _dir.Dispose();
    }
}
