using System.Management.Automation;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Gets a kubeconfig for kubectl and other Kubernetes clients: the daemon's cluster address, its CA, and an
/// administrator's client certificate (`containerops kubeconfig`).</summary>
/// <example><code>Get-ClusterKubeConfig -Path ~/.kube/config; kubectl get namespaces</code>Writes the kubeconfig kubectl reads by default (mode 0600), then uses it.</example>
/// <example><code>$env:KUBECONFIG = '/tmp/co.kubeconfig'; Get-ClusterKubeConfig -Path $env:KUBECONFIG</code>A kubeconfig of its own for this session.</example>
[Cmdlet(VerbsCommon.Get, "ClusterKubeConfig", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(string))]
public sealed class GetClusterKubeConfigCommand : ContainerOpsCmdlet
{
    /// <summary>Writes the kubeconfig to this file (mode 0600: it holds a private key) instead of the pipeline.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    protected override void EndProcessing()
    {
        string config;
        try { config = Run(ct => Client.GetKubeconfigAsync(ct)); }
        catch (ContainerOpsException ex) { ThrowTerminatingError(ErrorRecords.From(ex)); return; }
        if (Path is null)
        {
            WriteObject(config);
            return;
        }
        var target = GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(target, "Write kubeconfig")) return;
        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            if (File.Exists(target)) File.SetUnixFileMode(target, owner);
            using var fs = new FileStream(target, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = owner });
            using var w = new StreamWriter(fs);
            w.Write(config);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "KubeConfigNotWritten", ErrorCategory.WriteError, target));
        }
    }
}
