using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Security;

namespace ContainerOps.Cluster.Tests;

/// <summary>kubectl 1.32 (the machine's) as the judge of the API: the generated kubeconfig, over TLS with the admin
/// client certificate.</summary>
public sealed class KubectlTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private const string Manifest = """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: web-config
          namespace: shop
        data:
          greeting: hello
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: web-secret
          namespace: shop
        data:
          password: czNjcmV0
        stringData:
          user: admin
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          labels: {app: web}
        spec:
          replicas: 2
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: nginx:1.27
                ports:
                - containerPort: 80
                env:
                - name: MODE
                  value: prod
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: shop
        spec:
          selector: {app: web}
          ports:
          - port: 80
            targetPort: 80
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: debug
          namespace: shop
          labels: {app: debug}
        spec:
          containers:
          - name: sh
            image: busybox
            command: ["sleep", "3600"]
        """;

    private string WriteManifest(string name, string text)
    {
        var path = Path.Combine(_server.Directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>kubectl apply --prune with its default list of kinds (no allowlist) removes what the label's set no
    /// longer holds; the list names ReplicationControllers, so the API must serve them.</summary>
    [Fact]
    public void ApplyPruneRemovesWhatTheLabelledSetNoLongerHolds()
    {
        const string both = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: one, labels: {set: demo}}
            data: {a: "1"}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: two, labels: {set: demo}}
            data: {b: "2"}
            ---
            apiVersion: v1
            kind: ReplicationController
            metadata: {name: legacy, labels: {set: demo}}
            spec:
              replicas: 0
              template:
                metadata: {labels: {app: legacy}}
                spec: {containers: [{name: c, image: busybox}]}
            """;
        var (exit, output, err) = _server.KubectlWithInput(both, "apply", "--prune", "-l", "set=demo", "-f", "-");
        Assert.True(exit == 0, err + output);
        Assert.Contains("replicationcontroller/legacy created", output);
        (exit, output, err) = _server.KubectlWithInput(both.Split("---")[0], "apply", "--prune", "-l", "set=demo", "-f", "-");
        Assert.True(exit == 0, err + output);
        Assert.Contains("configmap/two pruned", output);
        Assert.Contains("replicationcontroller/legacy pruned", output);
        Assert.Equal("configmap/one", _server.Ok("get", "configmaps,rc", "-l", "set=demo", "-o", "name").Trim());
    }

    [Fact]
    public void ApplyGetReapplyAndDeleteAMultiDocumentFile()
    {
        var file = WriteManifest("app.yaml", Manifest);
        var applied = _server.Ok("apply", "-f", file);
        Assert.Equal(
            ["namespace/shop created", "configmap/web-config created", "secret/web-secret created", "deployment.apps/web created", "service/web created", "pod/debug created"],
            applied.Trim().Split('\n'));

        var pods = JsonNode.Parse(_server.Ok("get", "pods", "-n", "shop", "-o", "json"))!;
        Assert.Equal("List", pods["kind"]!.GetValue<string>());
        Assert.Equal(["debug"], pods["items"]!.AsArray().Select(p => p!["metadata"]!["name"]!.GetValue<string>()));
        Assert.Equal("busybox", pods["items"]![0]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());

        var byLabel = _server.Ok("get", "deployments", "-n", "shop", "-l", "app=web", "-o", "name");
        Assert.Equal("deployment.apps/web", byLabel.Trim());
        Assert.Equal("", _server.Ok("get", "deployments", "-n", "shop", "-l", "app=other", "-o", "name").Trim());

        var all = _server.Ok("get", "pods", "-A");
        var header = all.Split('\n')[0];
        Assert.Matches(@"^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$", header.TrimEnd());
        Assert.Matches(@"shop\s+debug\s+0/1\s+Pending\s+0\s+\d+s", all);

        var secret = JsonNode.Parse(_server.Ok("get", "secret", "web-secret", "-n", "shop", "-o", "json"))!;
        Assert.Equal(Convert.ToBase64String("s3cret"u8.ToArray()), secret["data"]!["password"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String("admin"u8.ToArray()), secret["data"]!["user"]!.GetValue<string>());
        Assert.Null(secret["stringData"]);

        // stringData is write-only, so kubectl sends it again and says "configured" for that Secret, as it does against
        // any API server; nothing is written for it (the revision stays).
        var revision = _server.Host.Store.CurrentRevision;
        var again = _server.Ok("apply", "-f", file);
        Assert.Equal(
            ["namespace/shop unchanged", "configmap/web-config unchanged", "secret/web-secret configured", "deployment.apps/web unchanged", "service/web unchanged", "pod/debug unchanged"],
            again.Trim().Split('\n'));
        Assert.Equal(revision, _server.Host.Store.CurrentRevision);

        // A change to one document patches that object only.
        var changed = WriteManifest("app2.yaml", Manifest.Replace("image: nginx:1.27", "image: nginx:1.28").Replace("greeting: hello", "greeting: hi"));
        var third = _server.Ok("apply", "-f", changed).Trim().Split('\n');
        Assert.Contains("deployment.apps/web configured", third);
        Assert.Contains("configmap/web-config configured", third);
        Assert.Contains("service/web unchanged", third);
        var deployment = JsonNode.Parse(_server.Ok("get", "deployment", "web", "-n", "shop", "-o", "json"))!;
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("nginx:1.28", container["image"]!.GetValue<string>());
        Assert.Equal("MODE", container["env"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(2, deployment["metadata"]!["generation"]!.GetValue<long>());

        var deleted = _server.Ok("delete", "-f", file);
        Assert.Contains("namespace \"shop\" deleted", deleted);
        Assert.Contains("pod \"debug\" deleted", deleted);
        var (exit, _, err) = _server.Kubectl("get", "deployment", "web", "-n", "shop");
        Assert.NotEqual(0, exit);
        // kubectl looks the namespace up when an object is not found, and names what is missing.
        Assert.Contains("Error from server (NotFound): namespaces \"shop\" not found", err);
    }

    [Fact]
    public void ApplyRemovesListItemsAndFieldsTheFileNoLongerHas()
    {
        // kubectl computes a strategic merge patch from the last applied, the file and the live object: items dropped
        // from a merged list (containers by name, env by name, ports by containerPort) must go, kept ones stay merged.
        var (first, second) = ApplyTwice.Files(_server.Directory);
        _server.Ok("apply", "-f", first);
        Assert.Contains("deployment.apps/lists configured", _server.Ok("apply", "-f", second));
        ApplyTwice.AssertSecondApplied(JsonNode.Parse(_server.Ok("get", "deployment", "lists", "-o", "json"))!);
    }

    [Fact]
    public void InvalidAndUnknownFieldsAreReportedAsKubectlPrintsThem()
    {
        var bad = WriteManifest("bad.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: bad
            spec:
              containers:
              - name: c
            """);
        var (exit, _, err) = _server.Kubectl("apply", "-f", bad);
        Assert.NotEqual(0, exit);
        Assert.Contains("The Pod \"bad\" is invalid: spec.containers[0].image: Required value", err);

        var unknown = WriteManifest("unknown.yaml", """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: u
            data: {a: b}
            extra: field
            """);
        (exit, _, err) = _server.Kubectl("apply", "-f", unknown);
        Assert.NotEqual(0, exit);
        Assert.Contains("unknown field \"extra\"", err);
    }

    [Fact]
    public void CreateAndDeleteANamespace()
    {
        Assert.Equal("namespace/team-a created", _server.Ok("create", "namespace", "team-a").Trim());
        Assert.Matches(@"team-a\s+Active", _server.Ok("get", "namespaces"));
        Assert.Equal("default", _server.Ok("get", "serviceaccounts", "-n", "team-a", "-o", "name").Trim().Replace("serviceaccount/", ""));
        Assert.Equal("namespace \"team-a\" deleted", _server.Ok("delete", "namespace", "team-a").Trim());
        Assert.DoesNotContain("team-a", _server.Ok("get", "namespaces", "-o", "name"));
    }

    [Fact]
    public void KubectlDiscoversEveryKindFromTheAggregatedDocumentsAlone()
    {
        // A cold cache: kubectl asks /api and /apis for the aggregated documents and needs nothing more.
        var (exit, output, log) = _server.Kubectl("api-resources", "-o", "wide", "-v=6");
        Assert.True(exit == 0, log);
        Assert.Matches(@"GET https://[^ ]+/api\?timeout=\S+ 200 OK", log);
        Assert.Matches(@"GET https://[^ ]+/apis\?timeout=\S+ 200 OK", log);
        Assert.DoesNotMatch(@"GET https://[^ ]+/apis/apps/v1\?", log);
        Assert.DoesNotMatch(@"GET https://[^ ]+/api/v1\?", log);
        Assert.Matches(@"deployments\s+deploy\s+apps/v1\s+true\s+Deployment\s+create,delete,deletecollection,get,list,patch,update,watch\s+all", output);
        Assert.Matches(@"nodes\s+no\s+v1\s+false\s+Node", output);
        Assert.Matches(@"horizontalpodautoscalers\s+hpa\s+autoscaling/v2\s+true", output);
        // Subresources come along: kubectl scale finds the Scale kind, get finds the status.
        _server.Ok("create", "deployment", "web", "--image=nginx");
        Assert.Equal("deployment.apps/web scaled", _server.Ok("scale", "deployment", "web", "--replicas=3").Trim());
        Assert.Equal("3", _server.Ok("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"));
    }

    [Fact]
    public void EventsListWithKubectlsColumns()
    {
        _server.KubectlWithInput("""
            apiVersion: v1
            kind: Event
            metadata: {name: web.1}
            involvedObject: {kind: Pod, name: web, namespace: default, fieldPath: "spec.containers{c}"}
            reason: BackOff
            message: Back-off restarting failed container c
            type: Warning
            count: 3
            source: {component: kubelet}
            """, "apply", "-f", "-");
        var table = _server.Ok("get", "events").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$", table[0].Trim());
        Assert.Matches(@"^\S+\s+Warning\s+BackOff\s+pod/web\s+Back-off restarting failed container c$", table[1].Trim());
        var wide = _server.Ok("get", "events", "-o", "wide").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"SUBOBJECT\s+SOURCE\s+MESSAGE\s+FIRST SEEN\s+COUNT\s+NAME$", wide[0].Trim());
        Assert.Matches(@"spec.containers\{c\}\s+kubelet\s+Back-off restarting failed container c\s+\S+\s+3\s+web.1$", wide[1].Trim());
    }

    [Fact]
    public void ExplainDescribesKindsAndFieldsInTheApisWords()
    {
        // The words are the API's own, as the client models document them; these tests look for a few of them.
        var deployment = _server.Ok("explain", "deployment");
        Assert.Matches(@"DESCRIPTION:\s+Deployment enables declarative updates for Pods and ReplicaSets", deployment);
        Assert.Matches(@"spec\s+<DeploymentSpec>\s+Specification of the desired behavior of the Deployment", deployment);
        var replicas = _server.Ok("explain", "deployment.spec.replicas");
        Assert.Matches(@"FIELD: replicas <integer>\s+DESCRIPTION:\s+Number of desired pods", replicas);
        // A field of an embedded struct (a probe's handler) is described by the type it lands in.
        Assert.Matches(@"exec\s+<ExecAction>\s+Exec specifies", _server.Ok("explain", "pod.spec.containers.livenessProbe"));
        // A field named as a C# keyword (readOnly), and a type two groups share the name of (core and events Event).
        Assert.Matches(@"readOnly\s+<boolean>\s+\S", _server.Ok("explain", "pod.spec.containers.volumeMounts"));
        Assert.Matches(@"DESCRIPTION:\s+Event is a report of an event somewhere in the cluster.\s+Events have", _server.Ok("explain", "events", "--api-version=v1"));
        Assert.Matches(@"DESCRIPTION:\s+Event is a report of an event somewhere in the cluster.\s+It generally", _server.Ok("explain", "events", "--api-version=events.k8s.io/v1"));
    }

    [Fact]
    public void ExplainShowsTheFieldsAndTypesOfAKindAndOfAPathIntoIt()
    {
        var spec = _server.Ok("explain", "deployment.spec");
        Assert.Contains("GROUP:      apps", spec);
        Assert.Contains("FIELD: spec <DeploymentSpec>", spec);
        Assert.Matches(@"replicas\s+<integer>", spec);
        Assert.Matches(@"template\s+<PodTemplateSpec>", spec);
        Assert.Matches(@"strategy\s+<DeploymentStrategy>", spec);
        // Deeper: lists of a type, maps, an int-or-string, a quantity.
        Assert.Matches(@"containers\s+<\[\]Container>", _server.Ok("explain", "pods.spec"));
        Assert.Matches(@"nodeSelector\s+<map\[string\]string>", _server.Ok("explain", "pods.spec"));
        Assert.Matches(@"maxSurge\s+<IntOrString>", _server.Ok("explain", "deploy.spec.strategy.rollingUpdate"));
        Assert.Matches(@"port\s+<IntOrString>", _server.Ok("explain", "pod.spec.containers.livenessProbe.httpGet"));
        // Fields of an embedded struct are the object's own (a probe's handler, a secret reference's name).
        Assert.Matches(@"exec\s+<ExecAction>", _server.Ok("explain", "pod.spec.containers.livenessProbe"));
        // Core kinds and the top of a kind.
        var service = _server.Ok("explain", "service");
        Assert.Contains("KIND:       Service", service);
        Assert.Matches(@"apiVersion\s+<string>", service);
        Assert.Matches(@"metadata\s+<ObjectMeta>", service);
        // --recursive walks the whole tree.
        Assert.Contains("matchLabels", _server.Ok("explain", "statefulset.spec.selector", "--recursive"));
        var unknown = _server.Kubectl("explain", "deployment.spec.nosuchfield");
        Assert.NotEqual(0, unknown.Exit);
        Assert.Contains("nosuchfield", unknown.Err);
    }

    [Fact]
    public void AReplaceWithAStaleResourceVersionIsAConflict()
    {
        _server.Ok("create", "configmap", "cfg", "--from-literal=a=1");
        var stale = _server.Ok("get", "configmap", "cfg", "-o", "json");
        _server.Ok("patch", "configmap", "cfg", "--type=merge", "-p", """{"data":{"a":"2"}}""");
        var (exit, _, err) = _server.KubectlWithInput(stale, "replace", "-f", "-");
        Assert.NotEqual(0, exit);
        Assert.Contains("Operation cannot be fulfilled on configmaps \"cfg\": the object has been modified; please apply your changes to the latest version and try again", err);
    }

    [Fact]
    public async Task GetWatchSeesAnUpdate()
    {
        _server.Ok("create", "configmap", "watched", "--from-literal=v=1");
        using var p = Process.Start(_server.Start("get", "configmap", "watched", "-w", "-o", "jsonpath={.data.v}{\"\\n\"}"))!;
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Assert.Equal("1", await p.StandardOutput.ReadLineAsync(cts.Token));
            _server.Ok("patch", "configmap", "watched", "-p", """{"data":{"v":"2"}}""");
            Assert.Equal("2", await p.StandardOutput.ReadLineAsync(cts.Token));
        }
        finally
        {
            p.Kill(true);
            p.WaitForExit(10_000);
        }
    }

    [Fact]
    public async Task TheTlsPortRefusesClientsWithoutACertificateOfThisCluster()
    {
        var url = _server.Host.ServerUrl!;
        using var noCert = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var http = new HttpClient(noCert);
        using var response = await http.GetAsync(url + "/api/v1/namespaces");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("Unauthorized", status["reason"]!.GetValue<string>());

        // A certificate from another CA does not get through the handshake.
        using var otherDir = new ContainerOps.TestSupport.TempDir("cother");
        using var other = ClusterCertificates.LoadOrCreate(otherDir.Path);
        using var foreign = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        foreign.ClientCertificates.Add(other.Admin);
        using var foreignHttp = new HttpClient(foreign);
        await Assert.ThrowsAsync<HttpRequestException>(() => foreignHttp.GetAsync(url + "/api/v1/namespaces"));

        var (_, version, _) = _server.Kubectl("version", "-o", "json");
        Assert.Equal("v1.32.0+containerops", JsonNode.Parse(version)!["serverVersion"]!["gitVersion"]!.GetValue<string>());
    }

    [Fact]
    public void KeysAndTheDatabaseAreReadableByTheOwnerOnly()
    {
        _ = _server.Host.Store; // both are made on first use
        var root = Path.Combine(_server.Directory, "root", "cluster");
        foreach (var key in Directory.GetFiles(Path.Combine(root, "pki"), "*.key"))
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, "cluster.db")));
    }
}
