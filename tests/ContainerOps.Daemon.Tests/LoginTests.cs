using ContainerOps.Core.Api;
using ContainerOps.Registry.Tests;

namespace ContainerOps.Daemon.Tests;

/// <summary>POST /auth and DELETE /auth against docker-registry with TLS and htpasswd: the credential is checked before it
/// is kept, kept in the daemon's config.json (0600), used by pushes, and forgotten on logout.</summary>
public class LoginTests
{
    [Fact]
    public async Task LoginChecksStoresAndIsUsedUntilLogout()
    {
        using var reg = TestRegistry.Start(RegistryMode.TlsBasicAuth);
        var configDir = Directory.CreateTempSubdirectory("co-dcfg-").FullName;
        var configFile = Path.Combine(configDir, "config.json");
        try
        {
            using var d = new PrivateDaemon("--certs-dir", reg.CertsDir, "--docker-config", configDir);
            await d.ImportBusyboxAsync("login/busybox:1");
            var target = $"{reg.Host}/login/busybox:1";

            await Assert.ThrowsAsync<ContainerOpsException>(() => d.Client.PushImageAsync("login/busybox:1", target));

            var refused = await Assert.ThrowsAsync<ContainerOpsException>(() => d.Client.LoginAsync(new RegistryLoginRequest
            {
                ServerAddress = reg.Host, Username = TestRegistry.User, Password = "not-the-password",
            }));
            Assert.DoesNotContain("not-the-password", refused.Error.Message);
            Assert.False(File.Exists(configFile) && File.ReadAllText(configFile).Contains(reg.Host));

            var ok = await d.Client.LoginAsync(new RegistryLoginRequest { ServerAddress = reg.Host, Username = TestRegistry.User, Password = TestRegistry.Password });
            Assert.Equal("Login Succeeded", ok.Status);
            Assert.Equal(TestRegistry.User, ok.Username);
            Assert.Contains(reg.Host, File.ReadAllText(configFile));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configFile));

            var pushed = await d.Client.PushImageAsync("login/busybox:1", target);
            Assert.StartsWith("sha256:", pushed.Digest);

            var bye = await d.Client.LogoutAsync(reg.Host);
            Assert.Equal("Removed login credentials", bye.Status);
            Assert.DoesNotContain(reg.Host, File.ReadAllText(configFile));
            await Assert.ThrowsAsync<ContainerOpsException>(() => d.Client.PushImageAsync("login/busybox:1", target));
        }
        finally { Directory.Delete(configDir, true); }
    }
}
