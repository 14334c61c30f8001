using System.Net;
using ContainerOps.TestSupport;
using Xunit;

namespace ContainerOps.Cluster.Tests;

/// <summary>The control plane starts on first use: a daemon that only runs containers never opens the store or makes
/// certificates; one whose store exists opens it at start.</summary>
public sealed class ClusterHostTests : IDisposable
{
    private readonly TempDir _dir = new("chost");
    private string Root => Path.Combine(_dir.Path, "root");
    private string ClusterDir => Path.Combine(Root, "cluster");
    private static ClusterHostOptions Options => new() { TlsEndpoint = new IPEndPoint(IPAddress.Loopback, 0) };

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_fresh_host_makes_nothing_until_the_store_is_used_then_runs_what_waited_once()
    {
        using var host = ClusterHost.Open(Root, Options);
        var started = 0;
        host.WhenActive(_ => started++);
        Assert.False(host.IsActive);
        Assert.False(File.Exists(Path.Combine(ClusterDir, "cluster.db")));
        Assert.False(Directory.Exists(Path.Combine(ClusterDir, "pki")));
        Assert.Equal(0, started);

        Assert.True(host.Store.CurrentRevision > 0); // the default namespaces were written on first use
        Assert.True(host.IsActive);
        Assert.True(File.Exists(Path.Combine(ClusterDir, "cluster.db")));
        Assert.Equal(1, started);
        _ = host.Api;
        Assert.Equal(1, started);
        host.WhenActive(_ => started++);
        Assert.Equal(2, started); // registered after the start: runs at once
        Assert.False(Directory.Exists(Path.Combine(ClusterDir, "pki"))); // certificates wait for a TLS client or a kubeconfig
    }

    [Fact]
    public void A_host_whose_store_exists_starts_its_control_plane_at_once()
    {
        using (var first = ClusterHost.Open(Root, Options)) _ = first.Objects;
        using var second = ClusterHost.Open(Root, Options);
        Assert.True(second.IsActive);
        var started = false;
        second.WhenActive(_ => started = true);
        Assert.True(started);
    }

    [Fact]
    public void Certificates_are_made_on_first_use_and_kept()
    {
        using var host = ClusterHost.Open(Root, Options);
        var thumbprint = host.Certificates.Authority.Thumbprint;
        Assert.True(Directory.Exists(Path.Combine(ClusterDir, "pki")));
        Assert.False(host.IsActive); // a kubeconfig does not start the store
        using var again = ClusterHost.Open(Root, Options);
        Assert.Equal(thumbprint, again.Certificates.Authority.Thumbprint);
    }
}
