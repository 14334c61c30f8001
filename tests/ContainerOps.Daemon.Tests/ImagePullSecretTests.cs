using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Registry.Tests;
using ContainerOps.TestSupport;

namespace ContainerOps.Daemon.Tests;

/// <summary>Pods pull from a registry that asks for a login (docker-registry with TLS and htpasswd) with the
/// credentials of their image pull secrets, as `kubectl create secret docker-registry` makes them, or of their service
/// account's; the node itself has no login there.</summary>
public class ImagePullSecretTests
{
    private static string? Reason(JsonObject pod) => pod["status"]?["containerStatuses"]?[0]?["state"]?["waiting"]?["reason"]?.GetValue<string>();

    [Fact]
    public async Task APodPullsWithItsSecretAndWithoutOneThePullIsRefused()
    {
        using var reg = TestRegistry.Start(RegistryMode.TlsBasicAuth);
        using var dockerConfig = new TempDir("cpsd");
        await using var cluster = await ClusterDaemon.StartAsync(ClusterDaemon.Image, "--certs-dir", reg.CertsDir, "--docker-config", dockerConfig.Path);
        var client = cluster.Daemon.Client;
        var image = $"{reg.Host}/private/busybox:1";
        // The image goes up with a login that the node then forgets.
        await client.LoginAsync(new RegistryLoginRequest { ServerAddress = reg.Host, Username = TestRegistry.User, Password = TestRegistry.Password });
        await client.PushImageAsync(ClusterDaemon.Image, image);
        await client.LogoutAsync(reg.Host);
        try { await client.RemoveImageAsync(image); }
        catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { } // a push need not tag it here

        cluster.Ok("create", "secret", "docker-registry", "regcred", $"--docker-server={reg.Host}",
            $"--docker-username={TestRegistry.User}", $"--docker-password={TestRegistry.Password}");
        cluster.Apply($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: with-secret}
            spec:
              imagePullSecrets: [{name: regcred}]
              containers: [{name: c, image: "{{image}}", command: [sleep, "3600"]}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: without-secret}
            spec:
              containers: [{name: c, image: "{{image}}", imagePullPolicy: Always, command: [sleep, "3600"]}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: missing-secret}
            spec:
              imagePullSecrets: [{name: nosuch}]
              containers: [{name: c, image: "{{image}}", imagePullPolicy: Always, command: [sleep, "3600"]}]
            """);

        await cluster.WaitForAsync("pod", "with-secret", p => p["status"]?["phase"]?.GetValue<string>() == "Running", seconds: 90);
        await cluster.WaitForAsync("pod", "without-secret", p => Reason(p) is "ErrImagePull" or "ImagePullBackOff", seconds: 90);
        // The registry's refusal is in the pull's event (the waiting message says ImagePullBackOff's words between tries).
        await cluster.EventuallyAsync(() => cluster.Ok("get", "events", "--field-selector", "involvedObject.name=without-secret", "-o", "wide"),
            events => events.Contains("Failed to pull image") && events.Contains("requires credentials"), "the registry's refusal among the pod's events", seconds: 30);
        await cluster.WaitForAsync("pod", "missing-secret", p => Reason(p) is "ErrImagePull" or "ImagePullBackOff", seconds: 90);
        var events = cluster.Ok("get", "events", "--field-selector", "involvedObject.name=missing-secret", "-o", "wide");
        Assert.Contains("FailedToRetrieveImagePullSecret", events);
        Assert.Contains("Unable to retrieve some image pull secrets (nosuch)", events);
        // An account's pull secrets go to the pods that run as it and name none of their own.
        cluster.Apply($$"""
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: puller}
            imagePullSecrets: [{name: regcred}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: via-account}
            spec:
              serviceAccountName: puller
              containers: [{name: c, image: "{{image}}", imagePullPolicy: Always, command: [sleep, "3600"]}]
            """);
        var viaAccount = await cluster.WaitForAsync("pod", "via-account", p => p["status"]?["phase"]?.GetValue<string>() == "Running", seconds: 90);
        Assert.Equal("regcred", viaAccount["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("default", cluster.Get("pod", "without-secret")["spec"]!["serviceAccountName"]!.GetValue<string>());
        var (exit, _, err) = cluster.KubectlWithInput($$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: no-account}
            spec:
              serviceAccountName: nobody
              containers: [{name: c, image: "{{image}}"}]
            """, "apply", "-f", "-");
        Assert.NotEqual(0, exit);
        Assert.Contains("error looking up service account default/nobody: serviceaccount \"nobody\" not found", err);
        // The pod's credentials were for its pull only: the node still has no login of its own.
        Assert.DoesNotContain(reg.Host, File.Exists(Path.Combine(dockerConfig.Path, "config.json")) ? File.ReadAllText(Path.Combine(dockerConfig.Path, "config.json")) : "");
    }
}
