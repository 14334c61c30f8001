using System.Text;
using ContainerOps.Cluster.Api;
using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Tests;

public sealed class KubernetesApiTests : IAsyncLifetime
{
    private ApiServer _api = null!;
    public Task InitializeAsync() { _api = new ApiServer(new() { BookmarkInterval = TimeSpan.FromMilliseconds(300) }); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _api.DisposeAsync();

    private const string Pod = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web","tier":"front"}},
         "spec":{"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80}]}]}}
        """;

    private static string S(JsonNode? n) => n?.GetValue<string>() ?? "";

    [Fact]
    public async Task AListOfOneNameNeverClaimsARevisionPastItsItem()
    {
        // kubectl rollout status lists one object by name and watches from the list's revision; with only that object
        // written meanwhile, the list's revision must be its item's, or the watch skips the writes in between.
        Assert.Equal(201, (await _api.PostAsync("/api/v1/namespaces/default/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hot"},"data":{"n":"0"}}""")).Code);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            for (var i = 1; !stop.IsCancellationRequested; i++)
                _api.Store.Update(ResourceKinds.ConfigMap.Key("default", "hot"), _api.Store.Get(ResourceKinds.ConfigMap.Key("default", "hot"))!.Revision,
                    rev => Encoding.UTF8.GetBytes("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hot","namespace":"default","resourceVersion":"REV"},"data":{"n":"N"}}"""
                        .Replace("REV", rev.ToString()).Replace("N", i.ToString())));
        });
        try
        {
            for (var lists = 0; lists < 300; lists++)
            {
                var (code, list) = await _api.GetAsync("/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dhot&limit=500&resourceVersion=0");
                Assert.Equal(200, code);
                var item = Assert.Single(list["items"]!.AsArray())!;
                Assert.Equal(S(list["metadata"]!["resourceVersion"]), S(item["metadata"]!["resourceVersion"]));
            }
            Assert.False(writer.IsCompleted, "the writer stopped before the lists were done");
        }
        finally { stop.Cancel(); }
        await writer;
    }


    [Fact]
    public async Task EveryOpenApiDocumentHasASchemaPerKindAndEveryReferenceResolves()
    {
        var (_, root) = await _api.GetAsync("/openapi/v3");
        var documents = root["paths"]!.AsObject().Select(p => (Path: p.Key, Url: S(p.Value!["serverRelativeURL"]))).ToList();
        Assert.Contains(documents, d => d.Path == "apis/apps/v1");
        var kindsWithSchemas = 0;
        foreach (var (path, url) in documents)
        {
            var (code, doc) = await _api.GetAsync(url);
            Assert.Equal(200, code);
            var schemas = doc["components"]!["schemas"]!.AsObject();
            foreach (var m in System.Text.RegularExpressions.Regex.Matches(doc.ToJsonString(), "\"#/components/schemas/([^\"]+)\"").Cast<System.Text.RegularExpressions.Match>())
                Assert.True(schemas.ContainsKey(m.Groups[1].Value), $"{path}: {m.Groups[1].Value} is referred to but not defined");
            kindsWithSchemas += schemas.Count(s => s.Value!["x-kubernetes-group-version-kind"] is not null);
        }
        Assert.True(kindsWithSchemas >= 30, $"{kindsWithSchemas} kinds have schemas");
        // A kind's schema: its type meta, its fields and where they lead.
        var (_, apps) = await _api.GetAsync(documents.First(d => d.Path == "apis/apps/v1").Url);
        var deployment = apps["components"]!["schemas"]!["io.k8s.api.apps.v1.Deployment"]!;
        Assert.Equal("Deployment", S(deployment["x-kubernetes-group-version-kind"]![0]!["kind"]));
        Assert.Equal("string", S(deployment["properties"]!["apiVersion"]!["type"]));
        Assert.Equal("#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec", S(deployment["properties"]!["spec"]!["allOf"]![0]!["$ref"]));
        Assert.Equal("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", S(deployment["properties"]!["metadata"]!["allOf"]![0]!["$ref"]));
        // The document's hash changes with the document, so clients that keep documents by hash read it again.
        Assert.Matches("hash=[0-9A-F]{16}$", documents[0].Url);
    }

    [Fact]
    public async Task AnUpdateOfAnObjectWithoutStatusWritesNoNullStatus()
    {
        const string path = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
        var (code, created) = await _api.PostAsync(path, """{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"b"},"spec":{"minAvailable":1}}""");
        Assert.Equal(201, code);
        Assert.False(created.ContainsKey("status"));
        created["spec"]!["minAvailable"] = 2;
        var (updatedCode, updated) = await _api.PutAsync($"{path}/b", created.ToJsonString());
        Assert.Equal(200, updatedCode);
        Assert.False(updated.ContainsKey("status"), updated.ToJsonString());
        Assert.False((await _api.GetAsync($"{path}/b")).Body.ContainsKey("status"));
    }

    [Fact]
    public async Task StartsWithItsNamespacesEachWithADefaultServiceAccount()
    {
        var (code, list) = await _api.GetAsync("/api/v1/namespaces");
        Assert.Equal(200, code);
        Assert.Equal("NamespaceList", S(list["kind"]));
        Assert.Equal(["default", "kube-node-lease", "kube-public", "kube-system"], list["items"]!.AsArray().Select(i => S(i!["metadata"]!["name"])));
        var (saCode, sa) = await _api.GetAsync("/api/v1/namespaces/kube-system/serviceaccounts/default");
        Assert.Equal(200, saCode);
        Assert.Equal("kube-system", S(sa["metadata"]!["namespace"]));
    }

    [Fact]
    public async Task DiscoveryListsTheKindsWithTheirVerbsAndShortNames()
    {
        var (_, core) = await _api.GetAsync("/api/v1");
        var pods = core["resources"]!.AsArray().Single(r => S(r!["name"]) == "pods")!;
        Assert.True(pods["namespaced"]!.GetValue<bool>());
        Assert.Contains("watch", pods["verbs"]!.AsArray().Select(S));
        Assert.Equal("po", S(pods["shortNames"]![0]));
        var (_, groups) = await _api.GetAsync("/apis");
        Assert.Contains("apps", groups["groups"]!.AsArray().Select(g => S(g!["name"])));
        var (_, apps) = await _api.GetAsync("/apis/apps/v1");
        Assert.Contains("deployments", apps["resources"]!.AsArray().Select(r => S(r!["name"])));
        var (code, missing) = await _api.GetAsync("/apis/nothing.example.com/v1/things");
        Assert.Equal(404, code);
        Assert.Equal("Status", S(missing["kind"]));
    }

    [Fact]
    public async Task CreateSetsServerMetadataAndGetReadsItBack()
    {
        var (code, created) = await _api.PostAsync("/api/v1/namespaces/default/pods", Pod);
        Assert.Equal(201, code);
        var meta = created["metadata"]!;
        Assert.True(Guid.TryParse(S(meta["uid"]), out _));
        Assert.EndsWith("Z", S(meta["creationTimestamp"]));
        Assert.Equal(1, meta["generation"]!.GetValue<long>());
        Assert.Equal("default", S(meta["namespace"]));
        Assert.Equal("Pending", S(created["status"]!["phase"]));
        Assert.Equal("IfNotPresent", S(created["spec"]!["containers"]![0]!["imagePullPolicy"]));
        var (_, got) = await _api.GetAsync("/api/v1/namespaces/default/pods/web");
        Assert.Equal(S(meta["resourceVersion"]), S(got["metadata"]!["resourceVersion"]));

        var (again, exists) = await _api.PostAsync("/api/v1/namespaces/default/pods", Pod);
        Assert.Equal(409, again);
        Assert.Equal("AlreadyExists", S(exists["reason"]));
        Assert.Equal("pods \"web\" already exists", S(exists["message"]));

        var (nf, notFound) = await _api.GetAsync("/api/v1/namespaces/default/pods/nope");
        Assert.Equal(404, nf);
        Assert.Equal("pods \"nope\" not found", S(notFound["message"]));
        Assert.Equal("NotFound", S(notFound["reason"]));
        Assert.Equal("Failure", S(notFound["status"]));

        var (noNs, nsMissing) = await _api.PostAsync("/api/v1/namespaces/ghost/pods", Pod);
        Assert.Equal(404, noNs);
        Assert.Equal("namespaces \"ghost\" not found", S(nsMissing["message"]));
    }

    [Fact]
    public async Task GenerateNameMakesAUniqueName()
    {
        var body = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"cfg-"},"data":{"a":"1"}}""";
        var (_, a) = await _api.PostAsync("/api/v1/namespaces/default/configmaps", body);
        var (_, b) = await _api.PostAsync("/api/v1/namespaces/default/configmaps", body);
        Assert.Matches("^cfg-[a-z0-9]{5}$", S(a["metadata"]!["name"]));
        Assert.NotEqual(S(a["metadata"]!["name"]), S(b["metadata"]!["name"]));
    }

    [Fact]
    public async Task InvalidObjectsAreRefusedWithOneCausePerField()
    {
        var (code, status) = await _api.PostAsync("/api/v1/namespaces/default/pods",
            """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name","labels":{"ok":"not valid!"}},"spec":{"containers":[{"name":"c"}]}}""");
        Assert.Equal(422, code);
        Assert.Equal("Invalid", S(status["reason"]));
        var causes = status["details"]!["causes"]!.AsArray();
        Assert.Equal(["metadata.name", "metadata.labels", "spec.containers[0].image"], causes.Select(c => S(c!["field"])));
        Assert.Equal("FieldValueRequired", S(causes[2]!["reason"]));
        Assert.StartsWith("Pod \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain", S(status["message"]));
        Assert.Contains("spec.containers[0].image: Required value]", S(status["message"]));

        var (dcode, deployment) = await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments",
            """{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}""");
        Assert.Equal(422, dcode);
        Assert.Equal("Deployment.apps \"d\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`", S(deployment["message"]));
    }

    [Fact]
    public async Task UnknownFieldsAreRefusedUnderStrictAndDroppedOtherwise()
    {
        var body = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","colour":"red"},"data":{"a":"1"},"bogus":{"x":1}}""";
        var (code, status) = await _api.PostAsync("/api/v1/namespaces/default/configmaps?fieldValidation=Strict", body);
        Assert.Equal(400, code);
        Assert.Equal("BadRequest", S(status["reason"]));
        Assert.Equal("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"metadata.colour\", unknown field \"bogus\"", S(status["message"]));
        var (_, pod) = await _api.PostAsync("/api/v1/namespaces/default/pods?fieldValidation=Strict",
            Pod.Replace("\"image\":\"nginx:1.27\"", "\"image\":\"nginx:1.27\",\"imagePolicy\":\"x\""));
        Assert.Contains("unknown field \"spec.containers[0].imagePolicy\"", S(pod["message"]));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/namespaces/default/configmaps?fieldValidation=Warn")
        { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        using var response = await _api.Http.SendAsync(request);
        Assert.Equal(201, (int)response.StatusCode);
        Assert.Contains("299 - \"unknown field \\\"bogus\\\"\"", response.Headers.GetValues("Warning"));
        var (_, stored) = await _api.GetAsync("/api/v1/namespaces/default/configmaps/c");
        Assert.Null(stored["bogus"]);
        Assert.Null(stored["metadata"]!["colour"]);
    }

    [Fact]
    public async Task AStalePutIsAConflictAndGenerationFollowsTheSpec()
    {
        var (_, created) = await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments", Deployment("web", "nginx:1"));
        var stale = created.DeepClone().AsObject();
        created["spec"]!["template"]!["spec"]!["containers"]![0]!["image"] = "nginx:2";
        var (code, updated) = await _api.PutAsync("/apis/apps/v1/namespaces/default/deployments/web", created.ToJsonString());
        Assert.Equal(200, code);
        Assert.Equal(2, updated["metadata"]!["generation"]!.GetValue<long>());
        Assert.NotEqual(S(stale["metadata"]!["resourceVersion"]), S(updated["metadata"]!["resourceVersion"]));

        stale["spec"]!["replicas"] = 5;
        var (conflict, status) = await _api.PutAsync("/apis/apps/v1/namespaces/default/deployments/web", stale.ToJsonString());
        Assert.Equal(409, conflict);
        Assert.Equal("Conflict", S(status["reason"]));
        Assert.Equal("Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again", S(status["message"]));

        // A label change is not a spec change.
        var (_, labelled) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web", """{"metadata":{"labels":{"x":"y"}}}""", "application/merge-patch+json");
        Assert.Equal(2, labelled["metadata"]!["generation"]!.GetValue<long>());
        Assert.Equal("y", S(labelled["metadata"]!["labels"]!["x"]));
    }

    private static string Deployment(string name, string image) => """
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"NAME","labels":{"app":"NAME"}},
         "spec":{"selector":{"matchLabels":{"app":"NAME"}},"template":{"metadata":{"labels":{"app":"NAME"}},
         "spec":{"containers":[{"name":"main","image":"IMAGE","env":[{"name":"A","value":"1"}]},{"name":"side","image":"busybox"}]}}}}
        """.Replace("NAME", name).Replace("IMAGE", image);

    [Fact]
    public async Task PatchesMergeListsByTheirKeys()
    {
        await _api.PostAsync("/apis/apps/v1/namespaces/default/deployments", Deployment("web", "nginx:1"));
        var (code, patched) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web",
            """{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"main"},{"name":"side"}],"containers":[{"name":"main","image":"nginx:2","env":[{"name":"B","value":"2"}]}]}}}}""",
            "application/strategic-merge-patch+json");
        Assert.Equal(200, code);
        var containers = patched["spec"]!["template"]!["spec"]!["containers"]!.AsArray();
        Assert.Equal(["main", "side"], containers.Select(c => S(c!["name"])));
        Assert.Equal("nginx:2", S(containers[0]!["image"]));
        Assert.Equal(["A", "B"], containers[0]!["env"]!.AsArray().Select(e => S(e!["name"])));

        var (_, deleted) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web",
            """{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}""", "application/strategic-merge-patch+json");
        Assert.Equal(["main"], deleted["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Select(c => S(c!["name"])));

        // A merge patch replaces lists whole; a JSON patch edits by index.
        var (_, merged) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web",
            """{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"x"}]}}}}""", "application/merge-patch+json");
        Assert.Equal(["only"], merged["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Select(c => S(c!["name"])));
        var (_, jsonPatched) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web",
            """[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/metadata/labels/new","value":"v"}]""", "application/json-patch+json");
        Assert.Equal(3, jsonPatched["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal("v", S(jsonPatched["metadata"]!["labels"]!["new"]));
        var (bad, invalid) = await _api.PatchAsync("/apis/apps/v1/namespaces/default/deployments/web",
            """{"spec":{"template":{"spec":{"containers":[{"name":"only","image":""}]}}}}""", "application/strategic-merge-patch+json");
        Assert.Equal(422, bad);
        Assert.Equal("spec.template.spec.containers[0].image", S(invalid["details"]!["causes"]![0]!["field"]));
    }

    [Fact]
    public async Task ListsSelectByLabelsAndFieldsAndPage()
    {
        await _api.PostAsync("/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}}""");
        for (var i = 0; i < 5; i++)
            await _api.PostAsync("/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"cI","labels":{"n":"I","even":"EVEN"}}}""".Replace("I", i.ToString()).Replace("EVEN", (i % 2 == 0).ToString()));
        await _api.PostAsync("/api/v1/namespaces/other/configmaps", """{"metadata":{"name":"c9","labels":{"n":"9"}}}""");

        async Task<List<string>> Names(string query)
        {
            var (code, list) = await _api.GetAsync("/api/v1/" + query);
            Assert.True(code == 200, list.ToJsonString());
            return list["items"]!.AsArray().Select(i => S(i!["metadata"]!["name"])).ToList();
        }
        Assert.Equal(["c0", "c2", "c4"], await Names("namespaces/default/configmaps?labelSelector=even%3DTrue"));
        Assert.Equal(["c1", "c3"], await Names("namespaces/default/configmaps?labelSelector=even!%3DTrue"));
        Assert.Equal(["c1", "c3", "c9"], await Names("configmaps?labelSelector=n+in+(1,3,9)"));
        Assert.Equal(["c0", "c2", "c4"], await Names("configmaps?labelSelector=n,n+notin+(1,3,9)"));
        Assert.Equal(["c9"], await Names("configmaps?fieldSelector=metadata.namespace%3Dother"));
        Assert.Equal(["c2"], await Names("namespaces/default/configmaps?fieldSelector=metadata.name%3Dc2"));
        var (badCode, bad) = await _api.GetAsync("/api/v1/configmaps?labelSelector=a+in+b");
        Assert.Equal(400, badCode);
        Assert.Contains("parentheses", S(bad["message"]));

        var (_, page1) = await _api.GetAsync("/api/v1/namespaces/default/configmaps?limit=2");
        Assert.Equal(2, page1["items"]!.AsArray().Count);
        Assert.Equal(3, page1["metadata"]!["remainingItemCount"]!.GetValue<long>());
        var token = S(page1["metadata"]!["continue"]);
        await _api.DeleteAsync("/api/v1/namespaces/default/configmaps/c3");
        var (_, page2) = await _api.GetAsync($"/api/v1/namespaces/default/configmaps?limit=2&continue={token}");
        Assert.Equal(["c2", "c3"], page2["items"]!.AsArray().Select(i => S(i!["metadata"]!["name"])));
        Assert.Equal(S(page1["metadata"]!["resourceVersion"]), S(page2["metadata"]!["resourceVersion"]));
    }

    [Fact]
    public async Task AWatchFromAResourceVersionStreamsEventsAndBookmarks()
    {
        var (_, created) = await _api.PostAsync("/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"w"},"data":{"v":"1"}}""");
        var rv = S(created["metadata"]!["resourceVersion"]);
        await _api.PatchAsync("/api/v1/namespaces/default/configmaps/w", """{"data":{"v":"2"}}""", "application/merge-patch+json");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var response = await _api.Http.GetAsync($"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=10",
            HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        async Task<JsonObject> Next() => (JsonObject)JsonNode.Parse((await reader.ReadLineAsync(cts.Token))!)!;
        // An idle moment of 300 ms (a busy machine) may put a bookmark before an event: skipped there.
        async Task<JsonObject> NextEvent()
        {
            JsonObject e;
            while (S((e = await Next())["type"]) == "BOOKMARK") { }
            return e;
        }
        var first = await NextEvent();
        Assert.Equal("MODIFIED", S(first["type"]));
        Assert.Equal("2", S(first["object"]!["data"]!["v"]));
        await _api.DeleteAsync("/api/v1/namespaces/default/configmaps/w");
        var second = await NextEvent();
        Assert.Equal("DELETED", S(second["type"]));
        var bookmark = await Next();
        Assert.Equal("BOOKMARK", S(bookmark["type"]));
        Assert.Equal(S(second["object"]!["metadata"]!["resourceVersion"]), S(bookmark["object"]!["metadata"]!["resourceVersion"]));

        _api.Store.Compact(_api.Store.CurrentRevision);
        var (gone, status) = await _api.GetAsync($"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1");
        Assert.Equal(410, gone);
        Assert.Equal("Expired", S(status["reason"]));
    }

    [Fact]
    public async Task DeletingANamespaceDeletesWhatIsInIt()
    {
        await _api.PostAsync("/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gone"}}""");
        await _api.PostAsync("/api/v1/namespaces/gone/configmaps", """{"metadata":{"name":"c"}}""");
        var (code, terminating) = await _api.DeleteAsync("/api/v1/namespaces/gone");
        Assert.Equal(200, code);
        Assert.Equal("Terminating", S(terminating["status"]!["phase"]));
        var (refused, forbidden) = await _api.PostAsync("/api/v1/namespaces/gone/configmaps", """{"metadata":{"name":"late"}}""");
        Assert.Equal(403, refused);
        Assert.Contains("because it is being terminated", S(forbidden["message"]));
        for (var i = 0; i < 100 && (await _api.GetAsync("/api/v1/namespaces/gone")).Code != 404; i++) await Task.Delay(100);
        Assert.Equal(404, (await _api.GetAsync("/api/v1/namespaces/gone/configmaps/c")).Code);
        Assert.Equal(404, (await _api.GetAsync("/api/v1/namespaces/gone/serviceaccounts/default")).Code);
        Assert.Equal(404, (await _api.GetAsync("/api/v1/namespaces/gone")).Code);
    }

    [Fact]
    public async Task TablesCarryKubectlsColumns()
    {
        await _api.PostAsync("/api/v1/namespaces/default/pods", Pod);
        var (code, table) = await _api.GetAsync("/api/v1/namespaces/default/pods", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
        Assert.Equal(200, code);
        Assert.Equal("Table", S(table["kind"]));
        Assert.Equal(["Name", "Ready", "Status", "Restarts", "Age"], table["columnDefinitions"]!.AsArray().Where(c => c!["priority"]!.GetValue<int>() == 0).Select(c => S(c!["name"])));
        var cells = table["rows"]![0]!["cells"]!.AsArray();
        Assert.Equal(["web", "0/1", "Pending", "0"], cells.Take(4).Select(c => c!.ToString()));
        Assert.Equal("default", S(table["rows"]![0]!["object"]!["metadata"]!["namespace"]));
    }
}
