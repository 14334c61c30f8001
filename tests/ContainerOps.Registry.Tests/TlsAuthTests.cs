using ContainerOps.Core.Api;
using ContainerOps.Images.Credentials;
using ContainerOps.Images.Registry;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

public class TlsAuthTests
{
    [Fact]
    public async Task Tls_WithTheRegistryCaInCertsD_PushesAndPulls()
    {
        using var reg = TestRegistry.Start(RegistryMode.Tls);
        using var src = await Store.WithBusybox();
        var options = new RegistryOptions { CertsDirectory = reg.CertsDir };
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/tls/busybox:1", options);
        using var dst = new Store();
        var pulled = await dst.Images.PullAsync($"{reg.Host}/tls/busybox:1", options);
        Assert.Equal(src.Images.Inspect("local/busybox:1").Digest, pulled.Digest);
    }

    [Fact]
    public async Task Tls_WithoutTheCa_IsRefused_AndInsecureSkipsVerification()
    {
        using var reg = TestRegistry.Start(RegistryMode.Tls);
        using var dst = new Store();
        using var empty = new TempDir("co-certs");
        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            dst.Images.PullAsync($"{reg.Host}/tls/busybox:1", new RegistryOptions { CertsDirectory = empty.Path }));
        Assert.Equal("RegistryUnreachable", e.Error.Id);
        // Declared insecure: TLS without verification reaches it (and it answers that the image is not there).
        var e2 = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            dst.Images.PullAsync($"{reg.Host}/tls/busybox:1", new RegistryOptions { CertsDirectory = empty.Path, Insecure = [reg.Host] }));
        Assert.Equal(ErrorKind.NotFound, e2.Error.Kind);
    }

    [Fact]
    public async Task BasicAuth_WithConfigJsonCredentials_PushesAndPulls()
    {
        using var reg = TestRegistry.Start(RegistryMode.TlsBasicAuth);
        using var home = new TempDir("co-dockercfg");
        var creds = new DockerConfigCredentialStore(Path.Combine(home.Path, "config.json"));
        creds.Store(reg.Host, new RegistryCredential(TestRegistry.User, TestRegistry.Password));
        var options = new RegistryOptions { CertsDirectory = reg.CertsDir, Credentials = creds };

        using var src = await Store.WithBusybox();
        await src.Images.PushAsync("local/busybox:1", $"{reg.Host}/auth/busybox:1", options);
        using var dst = new Store();
        var pulled = await dst.Images.PullAsync($"{reg.Host}/auth/busybox:1", options);
        Assert.Equal(src.Images.Inspect("local/busybox:1").Digest, pulled.Digest);
    }

    [Fact]
    public async Task BadOrMissingCredentials_AreUnauthorized_WithoutThePassword()
    {
        using var reg = TestRegistry.Start(RegistryMode.TlsBasicAuth);
        using var src = await Store.WithBusybox();
        var bad = new InMemoryCredentialStore();
        const string wrong = "wrong-Pa55word-xyz";
        bad.Store(reg.Host, new RegistryCredential(TestRegistry.User, wrong));

        var e = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            src.Images.PushAsync("local/busybox:1", $"{reg.Host}/auth/busybox:1", new RegistryOptions { CertsDirectory = reg.CertsDir, Credentials = bad }));
        Assert.Equal("Unauthorized", e.Error.Id);
        Assert.Contains(TestRegistry.User, e.Message);
        Assert.DoesNotContain(wrong, e.ToString());
        Assert.DoesNotContain(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{TestRegistry.User}:{wrong}")), e.ToString());

        using var dst = new Store();
        var e2 = await Assert.ThrowsAsync<ContainerOpsException>(() =>
            dst.Images.PullAsync($"{reg.Host}/auth/busybox:1", new RegistryOptions { CertsDirectory = reg.CertsDir }));
        Assert.Equal("Unauthorized", e2.Error.Id);
        Assert.Contains("requires credentials", e2.Message);
    }
}
