using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Security;
using ContainerOps.Cluster.Store;
using ContainerOps.Core.Text;
using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The Kubernetes REST API: discovery, /version, OpenAPI v3, and GET/LIST/WATCH/POST/PUT/PATCH/DELETE/deletecollection
/// on every served kind, with label and field selectors, paging, Table output and Status errors. One request
/// delegate: Kubernetes paths are regular enough to parse here, and the daemon maps them to it.
/// </summary>
public sealed class KubernetesApi(ClusterObjects objects, KubernetesApiOptions? options = null)
{
    /// <summary>The largest request body taken (the API server's limit); objects are further held to
    /// <see cref="ClusterObjects.MaxObjectBytes"/>.</summary>
    public const int MaxBodyBytes = 3 * 1024 * 1024;
    private readonly KubernetesApiOptions _options = options ?? new KubernetesApiOptions();
    private IClusterStore Store => objects.Store;

    /// <summary>Who serves pods' log, exec, attach and portforward: the node agent, once it runs.</summary>
    public IPodConnections? PodConnections { get; set; }

    /// <summary>What the node measures (metrics.k8s.io, the autoscaler's input): the node agent, once it runs.</summary>
    public IResourceMetrics? Metrics { get; set; }

    /// <summary>The signer of service account tokens; without one, token requests and reviews are refused.</summary>
    public ServiceAccountTokens? Tokens { get; set; }

    /// <summary>Where the host puts the request's <see cref="UserInfo"/> once it has authenticated it.</summary>
    public const string UserKey = "containerops.user";

    private static UserInfo UserOf(HttpContext ctx) => ctx.Items.TryGetValue(UserKey, out var u) && u is UserInfo user ? user : UserInfo.Local;

    private ServiceAccountTokens TokensOrRefuse =>
        Tokens ?? throw new StatusException(503, "ServiceUnavailable", "this server issues no service account tokens");

    /// <summary>The pod subresources that are connections to the node, with the verbs Kubernetes takes for each.</summary>
    private static bool IsPodConnection(string sub, string method) => (sub, method) switch
    {
        ("log", "GET") => true,
        ("exec" or "attach" or "portforward", "GET" or "POST") => true,
        _ => false,
    };

    /// <summary>Paths served on the daemon's Unix socket (where /version is Docker's).</summary>
    public static bool IsApiPath(PathString path) =>
        path.StartsWithSegments("/api") || path.StartsWithSegments("/apis") || path.StartsWithSegments("/openapi");

    public async Task HandleAsync(HttpContext ctx)
    {
        try { await DispatchAsync(ctx); }
        catch (StatusException e) when (!ctx.Response.HasStarted) { await WriteAsync(ctx, e.Code, e.ToStatus()); }
        catch (RevisionCompactedException e) when (!ctx.Response.HasStarted)
        {
            await WriteAsync(ctx, 410, StatusException.Gone($"too old resource version: {e.Requested} ({e.Compacted})").ToStatus());
        }
        catch (RevisionTooNewException e) when (!ctx.Response.HasStarted)
        {
            await WriteAsync(ctx, 504, new StatusException(504, "Timeout", $"Too large resource version: {e.Requested}, current: {e.Current}").ToStatus());
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { }
    }

    private Task DispatchAsync(HttpContext ctx)
    {
        Authorize(ctx);
        var path = ctx.Request.Path.Value ?? "/";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var method = ctx.Request.Method;
        if (segments.Length == 0) throw StatusException.PathNotFound();
        switch (segments[0])
        {
            case "version" when segments.Length == 1: return WriteAsync(ctx, 200, Discovery.Version());
            // Service account token discovery, as the API server serves it for parties that check tokens themselves.
            case ".well-known" when segments is [_, "openid-configuration"]: return WriteAsync(ctx, 200, TokensOrRefuse.OpenIdConfiguration());
            case "openid" when segments is [_, "v1", "jwks"]: return WriteAsync(ctx, 200, TokensOrRefuse.Jwks(), "application/jwk-set+json");
            case "healthz" or "livez" or "readyz":
                ctx.Response.ContentType = "text/plain";
                return ctx.Response.WriteAsync("ok");
            case "openapi":
                if (segments is [_, "v2"]) return WriteOpenApiV2Async(ctx);
                if (segments is [_, "v3"]) return WriteAsync(ctx, 200, Discovery.OpenApiV3Root());
                if (segments is [_, "v3", "api", var cv]) return WriteAsync(ctx, 200, Discovery.OpenApiV3("", cv) ?? throw StatusException.PathNotFound());
                if (segments is [_, "v3", "apis", var g, var gv]) return WriteAsync(ctx, 200, Discovery.OpenApiV3(g, gv) ?? throw StatusException.PathNotFound());
                throw StatusException.PathNotFound();
            case "api" or "apis" when segments.Length == 1 && Discovery.AcceptsAggregated(ctx.Request.Headers.Accept.ToString()):
                return WriteAsync(ctx, 200, Discovery.Aggregated(core: segments[0] == "api", ServedGroups().Select(g => (g.Group, g.Version, g.Resources))),
                    Discovery.AggregatedMediaType);
            case "api":
                if (segments.Length == 1) return WriteAsync(ctx, 200, Discovery.ApiVersions());
                return ResourceAsync(ctx, "", segments[1], segments[2..]);
            case "apis":
                if (segments.Length == 1) return WriteAsync(ctx, 200, Discovery.ApiGroupList(ServedGroups().Select(g => g.Document)));
                if (segments[1] == MetricsApi.Group) return MetricsAsync(ctx, segments[2..]);
                if (segments[1] == Authentication.Group) return AuthenticationAsync(ctx, segments[2..]);
                if (segments[1] == Authorization.Group) return AuthorizationAsync(ctx, segments[2..]);
                if (segments.Length == 2) return WriteAsync(ctx, 200, Discovery.Group(segments[1]) ?? throw StatusException.PathNotFound());
                return ResourceAsync(ctx, segments[1], segments[2], segments[3..]);
        }
        throw StatusException.PathNotFound();
    }

    /// <summary>Settles who the request acts as (its user, or the one it impersonates when that user may) and refuses
    /// it unless RBAC allows that user to make it.</summary>
    private void Authorize(HttpContext ctx)
    {
        var user = UserOf(ctx);
        var headers = ctx.Request.Headers;
        if (headers.Keys.Any(k => k.StartsWith("Impersonate-", StringComparison.OrdinalIgnoreCase)))
        {
            user = Impersonate(user, headers);
            ctx.Items[UserKey] = user;
        }
        var request = AccessRequest.From(ctx.Request);
        if (!Rbac.Authorize(objects, user, request).Allowed) throw Rbac.Forbidden(user, request);
    }

    /// <summary>The user named by the Impersonate-User, -Group, -Uid and -Extra-KEY headers (kubectl --as, --as-group),
    /// once <paramref name="actor"/> may impersonate each part of it.</summary>
    private UserInfo Impersonate(UserInfo actor, IHeaderDictionary headers)
    {
        var name = headers["Impersonate-User"].ToString();
        var groups = headers["Impersonate-Group"].Where(g => !string.IsNullOrEmpty(g)).Select(g => g!).ToList();
        var uid = headers["Impersonate-Uid"].ToString();
        const string extraPrefix = "Impersonate-Extra-";
        var extra = headers.Where(h => h.Key.StartsWith(extraPrefix, StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => Uri.UnescapeDataString(h.Key[extraPrefix.Length..]).ToLowerInvariant(), h => h.Value.Select(v => v ?? "").ToArray());
        if (name.Length == 0)
            throw StatusException.BadRequest("requested impersonation of groups, a uid or extra values without impersonating a user (Impersonate-User)");
        var checks = new List<AccessRequest>();
        var account = name.Split(':') is ["system", "serviceaccount", var accountNs, var accountName] ? (accountNs, accountName) : default;
        checks.Add(account.accountName is { } sa ? new AccessRequest("impersonate", "", "serviceaccounts", "", account.accountNs, sa)
            : new AccessRequest("impersonate", "", "users", "", "", name));
        checks.AddRange(groups.Select(g => new AccessRequest("impersonate", "", "groups", "", "", g)));
        if (uid.Length > 0) checks.Add(new AccessRequest("impersonate", Authentication.Group, "uids", "", "", uid));
        foreach (var (key, values) in extra)
            checks.AddRange(values.Select(v => new AccessRequest("impersonate", Authentication.Group, "userextras", key, "", v)));
        foreach (var check in checks)
            if (!Rbac.Authorize(objects, actor, check).Allowed) throw Rbac.Forbidden(actor, check);
        // As the API server: an account is in its groups, and everyone impersonated but the anonymous user is authenticated.
        if (account.accountName is not null) groups.AddRange(["system:serviceaccounts", $"system:serviceaccounts:{account.accountNs}"]);
        if (name != "system:anonymous") groups.Add("system:authenticated");
        return new UserInfo(name, uid, groups.Distinct().ToList(), extra);
    }

    /// <summary>A role or binding write refused when it gives more than its writer holds.</summary>
    private void ConfirmNoEscalation(HttpContext ctx, ResourceKind kind, string? ns, JsonObject o)
    {
        if (kind.Group == Rbac.Group) Rbac.ConfirmNoEscalation(objects, UserOf(ctx), kind, ns, o);
    }

    /// <summary>The groups served beside the stored kinds': authentication (when tokens are issued), metrics (when a
    /// node agent measures).</summary>
    private IEnumerable<(string Group, string Version, JsonObject Document, JsonObject Resources)> ServedGroups()
    {
        if (Tokens is not null) yield return (Authentication.Group, Authentication.Version, Authentication.GroupDocument(), Authentication.ResourceList());
        yield return (Authorization.Group, Authorization.Version, Authorization.GroupDocument(), Authorization.ResourceList());
        if (Metrics is not null) yield return (MetricsApi.Group, MetricsApi.Version, MetricsApi.GroupDocument(), MetricsApi.ResourceList());
    }

    private async Task AuthenticationAsync(HttpContext ctx, string[] rest)
    {
        var tokens = TokensOrRefuse;
        switch (rest)
        {
            case []: await WriteAsync(ctx, 200, Authentication.GroupDocument()); return;
            case [Authentication.Version]: await WriteAsync(ctx, 200, Authentication.ResourceList()); return;
            case [Authentication.Version, "selfsubjectreviews" or "tokenreviews"] when ctx.Request.Method != "POST":
                throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource");
            // Nothing in a SelfSubjectReview's body matters (and its protobuf form is not in the message table).
            case [Authentication.Version, "selfsubjectreviews"]: await WriteAsync(ctx, 201, Authentication.ReviewSelf(UserOf(ctx))); return;
            case [Authentication.Version, "tokenreviews"]:
                await WriteAsync(ctx, 201, Authentication.ReviewToken(objects, tokens, await ReadObjectAsync(ctx.Request), DateTimeOffset.UtcNow));
                return;
            default: throw StatusException.PathNotFound();
        }
    }

    private async Task AuthorizationAsync(HttpContext ctx, string[] rest)
    {
        switch (rest)
        {
            case []: await WriteAsync(ctx, 200, Authorization.GroupDocument()); return;
            case [Authorization.Version]: await WriteAsync(ctx, 200, Authorization.ResourceList()); return;
            case [Authorization.Version, ..] when ctx.Request.Method != "POST":
                throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource");
            case [Authorization.Version, var resource]:
                await WriteAsync(ctx, 201, Authorization.Review(objects, UserOf(ctx), resource, await ReadObjectAsync(ctx.Request), null));
                return;
            case [Authorization.Version, "namespaces", var ns, "localsubjectaccessreviews"]:
                await WriteAsync(ctx, 201, Authorization.Review(objects, UserOf(ctx), "localsubjectaccessreviews", await ReadObjectAsync(ctx.Request), ns));
                return;
            default: throw StatusException.PathNotFound();
        }
    }

    /// <summary>The user a bearer token stands for, or null with why.</summary>
    public UserInfo? AuthenticateBearer(string token, out string problem)
    {
        problem = "this server issues no service account tokens";
        return Tokens is { } tokens ? Authentication.Authenticate(objects, tokens, token, DateTimeOffset.UtcNow, null, out problem, out _) : null;
    }

    private async Task MetricsAsync(HttpContext ctx, string[] rest) => await WriteAsync(ctx, 200, await MetricsApi.ServeAsync(ctx, objects, Metrics, rest));

    /// <summary>/openapi/v2, which kubectl before 1.27 reads for validation (as protobuf): a document with no
    /// definitions, so clients skip schema validation of every kind and the server's own validation decides.</summary>
    private static Task WriteOpenApiV2Async(HttpContext ctx)
    {
        if (ctx.Request.Headers.Accept.ToString().Contains("protobuf", StringComparison.Ordinal))
        {
            ctx.Response.ContentType = Discovery.OpenApiV2ProtobufType;
            return ctx.Response.Body.WriteAsync(Discovery.OpenApiV2Protobuf()).AsTask();
        }
        return WriteAsync(ctx, 200, Discovery.OpenApiV2());
    }

    private Task ResourceAsync(HttpContext ctx, string group, string version, string[] rest)
    {
        if (rest.Length == 0)
            return WriteAsync(ctx, 200, Discovery.ResourceList(group, version) ?? throw StatusException.PathNotFound());
        var watch = false;
        if (rest[0] == "watch") { watch = true; rest = rest[1..]; }
        string? ns = null;
        if (rest.Length >= 3 && rest[0] == "namespaces" && !(rest.Length == 3 && rest[2] is "status" or "finalize"))
        {
            ns = rest[1];
            rest = rest[2..];
        }
        var kind = ResourceKinds.Find(group, version, rest[0]) ?? throw StatusException.PathNotFound();
        // A version converted from another's stored objects: the store and object layer work on the stored kind, and
        // bodies convert at the edges (ToServed, FromServed).
        if (kind.StoredAs is { } stored) { ctx.Items[ServedKindKey] = kind; kind = stored; }
        if (ns is not null && !kind.Namespaced) throw StatusException.PathNotFound();
        var name = rest.Length > 1 ? rest[1] : null;
        var sub = rest.Length > 2 ? rest[2] : null;
        if (kind == ResourceKinds.Pod && ns is not null && name is not null && sub is not null && rest.Length == 3 && sub is "log" or "exec" or "attach" or "portforward")
            return ConnectAsync(ctx, ns, name, sub);
        if (kind == ResourceKinds.ServiceAccount && ns is not null && name is not null && sub == "token" && rest.Length == 3)
            return ctx.Request.Method == "POST" ? RequestTokenAsync(ctx, ns, name) : throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource");
        if (kind == ResourceKinds.Pod && ns is not null && name is not null && sub == "eviction" && rest.Length == 3)
            return ctx.Request.Method == "POST" ? EvictAsync(ctx, ns, name) : throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource");
        if (rest.Length > 3 || (sub is not null && !(sub == "status" && kind.HasStatus) && !(sub == "scale" && Scales.Has(kind)))) throw StatusException.PathNotFound();
        var q = ctx.Request.Query;
        watch |= q["watch"].ToString() is "1" or "true";
        var method = ctx.Request.Method;
        if (name is null)
        {
            return method switch
            {
                "GET" when watch => WatchAsync(ctx, kind, ns),
                "GET" => ListAsync(ctx, kind, ns),
                "POST" when ns is not null || !kind.Namespaced => CreateAsync(ctx, kind, ns),
                "DELETE" when ns is not null || !kind.Namespaced => DeleteCollectionAsync(ctx, kind, ns),
                _ => throw StatusException.MethodNotAllowed($"the server does not allow this method on the requested resource"),
            };
        }
        if (kind.Namespaced && ns is null) throw StatusException.PathNotFound();
        if (sub == "scale") return ScaleAsync(ctx, kind, ns, name);
        return method switch
        {
            "GET" => GetAsync(ctx, kind, ns, name),
            "PUT" => ReplaceAsync(ctx, kind, ns, name, sub == "status"),
            "PATCH" => PatchAsync(ctx, kind, ns, name, sub == "status"),
            "DELETE" when sub is null => DeleteAsync(ctx, kind, ns, name),
            _ => throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource"),
        };
    }

    private const string ServedKindKey = "containerops.served-kind";

    private static bool WantsYaml(HttpRequest r) =>
        r.Headers.Accept.ToString().Split(',')[0].Split(';')[0].Trim() == "application/yaml";

    /// <summary>The version the request was made at, when it is not the stored one.</summary>
    private static ResourceKind? ServedKind(HttpContext ctx) => ctx.Items.TryGetValue(ServedKindKey, out var k) ? k as ResourceKind : null;

    /// <summary>A stored object (or list of them) as the version the request was made at.</summary>
    private static JsonNode ToServed(HttpContext ctx, JsonNode body)
    {
        if (ServedKind(ctx) is not { } served || body is not JsonObject o) return body;
        if (Json.Str(o["kind"]) == served.Kind) return served.FromStored(o);
        if (Json.Str(o["kind"]) == served.ListKind && o["items"] is JsonArray items)
        {
            var list = (JsonObject)o.DeepClone();
            list["apiVersion"] = served.ApiVersion;
            list["items"] = new JsonArray(items.OfType<JsonObject>().Select(i => (JsonNode)served.FromStored(i)).ToArray());
            return list;
        }
        return body;
    }

    /// <summary>A body sent at a converted version, checked for unknown fields against that version, as stored.</summary>
    private JsonObject FromServed(HttpContext ctx, string? ns, JsonObject body, List<string> warnings)
    {
        if (ServedKind(ctx) is not { } served) return body;
        objects.CheckFields(served, ns, body, Validation(ctx.Request), warnings);
        return served.ToStored(body);
    }

    private Task ConnectAsync(HttpContext ctx, string ns, string name, string sub)
    {
        if (!IsPodConnection(sub, ctx.Request.Method))
            throw StatusException.MethodNotAllowed("the server does not allow this method on the requested resource");
        var pod = objects.Get(ResourceKinds.Pod, ns, name);
        var connections = PodConnections ?? throw new StatusException(503, "ServiceUnavailable", $"no node agent runs on this daemon to serve pods/{sub}");
        return connections.ServeAsync(ctx, pod, sub);
    }

    private Task GetAsync(HttpContext ctx, ResourceKind kind, string? ns, string name)
    {
        var o = objects.Get(kind, ns, name);
        return AsTable(ctx.Request) is { } include
            ? WriteAsync(ctx, 200, Tables.Build(kind, [o], null, null, include, true, DateTimeOffset.UtcNow))
            : WriteAsync(ctx, 200, o);
    }

    private async Task ListAsync(HttpContext ctx, ResourceKind kind, string? ns)
    {
        var q = ctx.Request.Query;
        var labels = LabelSelector.Parse(q["labelSelector"]);
        var fields = FieldSelector.Parse(q["fieldSelector"]);
        var limit = int.TryParse(q["limit"], out var l) && l > 0 ? l : 0;
        long revision = 0;
        string? after = null;
        if (q["continue"].ToString() is { Length: > 0 } token) (revision, after) = DecodeContinue(token);
        else if (q["resourceVersionMatch"] == "Exact")
            revision = long.TryParse(q["resourceVersion"], out var rv) ? rv : throw StatusException.BadRequest("resourceVersionMatch=Exact needs a resourceVersion");
        StoreList list;
        if (fields.Name is { } only && (ns is not null || !kind.Namespaced) && revision == 0)
        {
            // One name: one key, not a scan. The revision is read before the object: a write in between is then in the
            // watch that follows this list as well (seen twice at worst). Read after, it could be newer than the object
            // returned, and that watch would skip the write (kubectl rollout status lists and watches one deployment
            // by name, and waited 120 s on the last status write it had missed).
            var before = Store.CurrentRevision;
            var one = Store.Get(kind.Key(ns, only));
            list = new StoreList(one is null ? [] : [one], Math.Max(before, one?.Revision ?? 0), false, 0);
        }
        else
        {
            try { list = Store.List(kind.Key(ns, null), revision, after, limit); }
            catch (RevisionCompactedException) when (after is not null)
            {
                throw StatusException.Gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
            }
        }
        var continueToken = list.More ? EncodeContinue(list.Revision, list.Items[^1].Key) : null;
        var selecting = !labels.IsEmpty || !fields.IsEmpty;
        if (AsTable(ctx.Request) is { } include)
        {
            var rows = list.Items.Select(i => ClusterObjects.Parse(i.Value)).Where(o => Matches(o, labels, fields));
            await WriteAsync(ctx, 200, Tables.Build(kind, rows, list.Revision.ToString(), continueToken, include, true, DateTimeOffset.UtcNow));
            return;
        }
        // The items go out as stored, without a parse, unless a selector must look into them.
        var buffer = new ArrayBufferWriter<byte>(4096 + list.Items.Sum(i => i.Value.Length));
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartObject();
            var served = ServedKind(ctx);
            w.WriteString("kind", kind.ListKind);
            w.WriteString("apiVersion", (served ?? kind).ApiVersion);
            w.WriteStartObject("metadata");
            w.WriteString("resourceVersion", list.Revision.ToString());
            if (continueToken is not null)
            {
                w.WriteString("continue", continueToken);
                if (!selecting) w.WriteNumber("remainingItemCount", list.Remaining);
            }
            w.WriteEndObject();
            w.WriteStartArray("items");
            foreach (var item in list.Items)
                if (!selecting || Matches(ClusterObjects.Parse(item.Value), labels, fields))
                    w.WriteRawValue(served is null ? item.Value : Json.Bytes(served.FromStored(ClusterObjects.Parse(item.Value))), skipInputValidation: true);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ctx.RequestAborted);
    }

    private int _openWatches;

    /// <summary>A watch holds a connection, a store subscription and a backlog for as long as it runs: past
    /// <see cref="KubernetesApiOptions.MaxWatches"/> open at once a new one is refused with 429 and a Retry-After, as
    /// the API server's flow control refuses what it cannot take, instead of letting a flood of them starve the rest.</summary>
    private async Task WatchAsync(HttpContext ctx, ResourceKind kind, string? ns)
    {
        if (Interlocked.Increment(ref _openWatches) > _options.MaxWatches)
        {
            Interlocked.Decrement(ref _openWatches);
            ctx.Response.Headers.RetryAfter = "1";
            throw new StatusException(429, "TooManyRequests",
                $"too many watches are open ({_options.MaxWatches}, the server's --max-watches): close some or try again later",
                new JsonObject { ["retryAfterSeconds"] = 1 });
        }
        try { await ServeWatchAsync(ctx, kind, ns); }
        finally { Interlocked.Decrement(ref _openWatches); }
    }

    private async Task ServeWatchAsync(HttpContext ctx, ResourceKind kind, string? ns)
    {
        var q = ctx.Request.Query;
        var labels = LabelSelector.Parse(q["labelSelector"]);
        var fields = FieldSelector.Parse(q["fieldSelector"]);
        var bookmarks = q["allowWatchBookmarks"].ToString() is "true" or "1";
        var sendInitial = q["sendInitialEvents"].ToString() is "true" or "1";
        var timeout = int.TryParse(q["timeoutSeconds"], out var t) && t > 0 ? TimeSpan.FromSeconds(t) : _options.MaxWatchTime;
        var table = AsTable(ctx.Request);
        var prefix = kind.Key(ns, null);
        var rvText = q["resourceVersion"].ToString();
        var initial = new List<JsonObject>();
        long from;
        if (rvText is "" or "0" || sendInitial)
        {
            // No revision (or "any"): the current objects as ADDED events, then what follows.
            var list = Store.List(prefix);
            from = list.Revision;
            initial.AddRange(list.Items.Select(i => ClusterObjects.Parse(i.Value)).Where(o => Matches(o, labels, fields)));
        }
        else if (!long.TryParse(rvText, out from) || from < 0) throw StatusException.BadRequest($"invalid resourceVersion \"{rvText}\"");
        using var watch = Store.Watch(prefix, from);

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        var body = ctx.Response.Body;
        var columnsSent = false;
        async Task Send(string type, JsonObject o)
        {
            JsonNode obj = ToServed(ctx, o);
            if (table is { } include)
            {
                obj = Tables.Build(kind, [o], null, null, include, !columnsSent, DateTimeOffset.UtcNow);
                columnsSent = true;
            }
            var e = new JsonObject { ["type"] = type, ["object"] = obj.Parent is null ? obj : obj.DeepClone() };
            await body.WriteAsync(Json.Bytes(e), ctx.RequestAborted);
            await body.WriteAsync("\n"u8.ToArray(), ctx.RequestAborted);
        }
        async Task Bookmark(long revision, bool initialEnd)
        {
            var meta = new JsonObject { ["resourceVersion"] = revision.ToString() };
            if (initialEnd) meta["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
            var e = new JsonObject { ["type"] = "BOOKMARK", ["object"] = new JsonObject { ["kind"] = kind.Kind, ["apiVersion"] = kind.ApiVersion, ["metadata"] = meta } };
            await body.WriteAsync(Json.Bytes(e), ctx.RequestAborted);
            await body.WriteAsync("\n"u8.ToArray(), ctx.RequestAborted);
        }
        await ctx.Response.StartAsync(ctx.RequestAborted);
        foreach (var o in initial) await Send("ADDED", o);
        if (sendInitial && bookmarks) await Bookmark(from, true);
        await body.FlushAsync(ctx.RequestAborted);

        var last = from;
        using var ends = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        ends.CancelAfter(timeout);
        try
        {
            while (!ends.IsCancellationRequested)
            {
                while (watch.TryRead(out var e))
                {
                    last = e!.Object.Revision;
                    var o = ClusterObjects.Parse(e.Object.Value);
                    if (e.Type == WatchEventType.Deleted) Json.Metadata(o)["resourceVersion"] = e.Object.Revision.ToString();
                    if (!Matches(o, labels, fields)) continue;
                    await Send(e.Type switch { WatchEventType.Added => "ADDED", WatchEventType.Modified => "MODIFIED", _ => "DELETED" }, o);
                }
                await body.FlushAsync(ctx.RequestAborted);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ends.Token);
                if (bookmarks) wait.CancelAfter(_options.BookmarkInterval);
                try
                {
                    if (!await watch.WaitToReadAsync(wait.Token)) break;
                }
                catch (OperationCanceledException) when (!ends.IsCancellationRequested)
                {
                    await Bookmark(last, false);
                    await body.FlushAsync(ctx.RequestAborted);
                }
            }
        }
        catch (OperationCanceledException) when (!ctx.RequestAborted.IsCancellationRequested) { }
    }

    private async Task CreateAsync(HttpContext ctx, ResourceKind kind, string? ns)
    {
        var servedWarnings = new List<string>();
        var body = FromServed(ctx, ns, await ReadObjectAsync(ctx.Request), servedWarnings);
        ConfirmNoEscalation(ctx, kind, ns, body);
        var created = objects.Create(kind, ns, body, Validation(ctx.Request), DryRun(ctx.Request), out var warnings);
        Warn(ctx, [.. servedWarnings, .. warnings]);
        await WriteAsync(ctx, 201, created);
    }

    private async Task ReplaceAsync(HttpContext ctx, ResourceKind kind, string? ns, string name, bool statusOnly)
    {
        var servedWarnings = new List<string>();
        var body = FromServed(ctx, ns, await ReadObjectAsync(ctx.Request), servedWarnings);
        ConfirmNoEscalation(ctx, kind, ns, body);
        var updated = objects.Replace(kind, ns, name, body, statusOnly, Validation(ctx.Request), DryRun(ctx.Request), out var warnings, Manager(ctx.Request));
        Warn(ctx, [.. servedWarnings, .. warnings]);
        await WriteAsync(ctx, 200, updated);
    }

    private async Task PatchAsync(HttpContext ctx, ResourceKind kind, string? ns, string name, bool statusOnly)
    {
        var type = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
        var patch = await ReadJsonAsync(ctx.Request);
        if (type is "application/apply-patch+yaml")
        {
            await ApplyAsync(ctx, kind, ns, name, statusOnly, patch);
            return;
        }
        Func<JsonObject, JsonNode> apply = type switch
        {
            "application/merge-patch+json" => current => Patches.MergePatch(current, patch),
            "application/strategic-merge-patch+json" => current => Patches.StrategicMergePatch(current, patch),
            "application/json-patch+json" => patch is JsonArray ops ? current => Patches.JsonPatch(current, ops)
                : throw StatusException.BadRequest("a JSON patch must be an array of operations"),
            "application/apply-patch+cbor" => throw StatusException.UnsupportedMediaType("apply patches are served as application/apply-patch+yaml (JSON is YAML), not CBOR"),
            _ => throw StatusException.UnsupportedMediaType($"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"),
        };
        // A resourceVersion in the patch is a precondition (as the API server treats it).
        long? expected = patch is JsonObject po && long.TryParse(Json.Str(po["metadata"]?["resourceVersion"]), out var rv) ? rv : null;
        var validation = Validation(ctx.Request);
        var warnings = new List<string>();
        var served = ServedKind(ctx);
        var updated = objects.Update(kind, ns, name, expected, current =>
        {
            // A patch made at a converted version applies to the object as that version shows it.
            var patched = apply(served is null ? current : served.FromStored(current)) as JsonObject ?? throw StatusException.BadRequest("the patch does not result in an object");
            objects.CheckFields(served ?? kind, ns, patched, validation, warnings);
            var stored = served is null ? patched : served.ToStored(patched);
            ConfirmNoEscalation(ctx, kind, ns, stored);
            return stored;
        }, statusOnly, DryRun(ctx.Request), Manager(ctx.Request));
        Warn(ctx, warnings);
        await WriteAsync(ctx, 200, updated);
    }

    /// <summary>Server-side apply: creates the object if it does not exist (201), else merges the configuration into
    /// it under the request's field manager (<see cref="ServerSideApply"/>).</summary>
    private async Task ApplyAsync(HttpContext ctx, ResourceKind kind, string? ns, string name, bool statusOnly, JsonNode patch)
    {
        if (statusOnly) throw StatusException.UnsupportedMediaType("server-side apply of the status subresource is not served; apply the object, or patch its status");
        if (ServedKind(ctx) is { } served)
            throw StatusException.UnsupportedMediaType($"server-side apply of {served.ApiVersion} {served.Kind} is not served; apply it as {kind.ApiVersion}");
        var manager = ctx.Request.Query["fieldManager"].ToString();
        if (manager.Length == 0) throw StatusException.BadRequest("fieldManager is required for apply requests");
        var force = ctx.Request.Query["force"].ToString() is "true" or "1";
        if (patch is not JsonObject applied) throw StatusException.BadRequest("the apply configuration must be an object");
        if (Json.Str(applied["apiVersion"]) is not { Length: > 0 } apiVersion || Json.Str(applied["kind"]) is not { Length: > 0 } appliedKind)
            throw StatusException.BadRequest("apiVersion and kind are required in an apply configuration");
        if (appliedKind != kind.Kind || apiVersion != kind.ApiVersion)
            throw StatusException.BadRequest($"the apply configuration is a {apiVersion} {appliedKind}; this path serves {kind.ApiVersion} {kind.Kind}");
        var meta = Json.Metadata(applied);
        if (Json.Str(meta["name"]) is { Length: > 0 } bodyName && bodyName != name)
            throw StatusException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        meta["name"] = name;
        long? expected = long.TryParse(Json.Str(meta["resourceVersion"]), out var rv) ? rv : null;
        meta.Remove("resourceVersion");
        var validation = Validation(ctx.Request);
        var dryRun = DryRun(ctx.Request);
        var warnings = new List<string>();
        if (objects.Store.Get(kind.Key(ns, name)) is null)
        {
            var created = ServerSideApply.Apply(kind, name, null, applied, manager, force, objects.Timestamp());
            var managed = Json.Metadata(created)["managedFields"] as JsonArray;
            ConfirmNoEscalation(ctx, kind, ns, created);
            try
            {
                var stored = objects.Create(kind, ns, created, validation, dryRun, out warnings, managed);
                Warn(ctx, warnings);
                await WriteAsync(ctx, 201, stored);
                return;
            }
            catch (StatusException e) when (e.Reason == "AlreadyExists") { } // made in between: apply to it
        }
        var updated = objects.Update(kind, ns, name, expected, current =>
        {
            var merged = ServerSideApply.Apply(kind, name, current, applied, manager, force, objects.Timestamp());
            objects.CheckFields(kind, ns, merged, validation, warnings);
            ConfirmNoEscalation(ctx, kind, ns, merged);
            return merged;
        }, statusOnly: false, dryRun, manager, applying: true);
        Warn(ctx, warnings);
        await WriteAsync(ctx, 200, updated);
    }

    private static string Manager(HttpRequest r) => ServerSideApply.ManagerOf(r.Query["fieldManager"].ToString(), r.Headers.UserAgent.ToString());

    private async Task ScaleAsync(HttpContext ctx, ResourceKind kind, string? ns, string name)
    {
        var body = ctx.Request.Method is "PUT" or "PATCH" ? await ReadJsonAsync(ctx.Request) : null;
        await WriteAsync(ctx, 200, Scales.Handle(objects, kind, ns, name, ctx.Request.Method, (ctx.Request.ContentType ?? "").Split(';')[0].Trim(), body, DryRun(ctx.Request), Manager(ctx.Request)));
    }

    private async Task RequestTokenAsync(HttpContext ctx, string ns, string name)
    {
        var tokens = TokensOrRefuse;
        await WriteAsync(ctx, 201, Authentication.RequestToken(objects, tokens, ns, name, await ReadObjectAsync(ctx.Request), DateTimeOffset.UtcNow));
    }

    private async Task EvictAsync(HttpContext ctx, string ns, string name) =>
        await WriteAsync(ctx, 201, Evictions.Evict(objects, ns, name, await ReadObjectAsync(ctx.Request), DryRun(ctx.Request), DateTimeOffset.UtcNow));

    private async Task DeleteAsync(HttpContext ctx, ResourceKind kind, string? ns, string name)
    {
        var (rv, uid, dryRun, grace, propagation) = await DeleteOptionsAsync(ctx.Request);
        await WriteAsync(ctx, 200, objects.Delete(kind, ns, name, rv, uid, dryRun, grace, propagation));
    }

    private async Task DeleteCollectionAsync(HttpContext ctx, ResourceKind kind, string? ns)
    {
        var q = ctx.Request.Query;
        var labels = LabelSelector.Parse(q["labelSelector"]);
        var fields = FieldSelector.Parse(q["fieldSelector"]);
        var (_, _, dryRun, grace, propagation) = await DeleteOptionsAsync(ctx.Request);
        var list = Store.List(kind.Key(ns, null));
        var items = new JsonArray();
        foreach (var item in list.Items)
        {
            var o = ClusterObjects.Parse(item.Value);
            if (!Matches(o, labels, fields)) continue;
            var itemNs = Json.Str(o["metadata"]?["namespace"]);
            try { items.Add((JsonNode)objects.Delete(kind, kind.Namespaced ? itemNs : null, Json.Str(o["metadata"]?["name"])!, null, null, dryRun, grace, propagation)); }
            catch (StatusException e) when (e.Code == 404) { }
        }
        await WriteAsync(ctx, 200, new JsonObject
        {
            ["kind"] = kind.ListKind, ["apiVersion"] = kind.ApiVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = Store.CurrentRevision.ToString() }, ["items"] = items,
        });
    }

    private static bool Matches(JsonObject o, LabelSelector labels, FieldSelector fields) =>
        (labels.IsEmpty || labels.Matches(LabelSelector.LabelsOf(o["metadata"]?["labels"]))) && (fields.IsEmpty || fields.Matches(o));

    /// <summary>The row object a Table was asked for (includeObject), or null when the client wants no Table.</summary>
    private static string? AsTable(HttpRequest r)
    {
        var accept = r.Headers.Accept.ToString();
        if (!accept.Contains("as=Table", StringComparison.Ordinal)) return null;
        // The first acceptable media type wins: a Table only if it is listed before plain JSON.
        foreach (var media in accept.Split(','))
        {
            var m = media.Trim();
            if (m.Contains("as=Table", StringComparison.Ordinal)) return m.Contains("v=v1;", StringComparison.Ordinal) || m.EndsWith("v=v1", StringComparison.Ordinal) || m.Contains("v=v1,", StringComparison.Ordinal) ? (r.Query["includeObject"].ToString() is { Length: > 0 } i ? i : "Metadata") : null;
            if (m.StartsWith("application/json", StringComparison.Ordinal) || m.StartsWith("*/*", StringComparison.Ordinal)) return null;
        }
        return null;
    }

    private static FieldValidation Validation(HttpRequest r) => r.Query["fieldValidation"].ToString() switch
    {
        "Strict" => FieldValidation.Strict,
        "Ignore" => FieldValidation.Ignore,
        "Warn" or "" => FieldValidation.Warn,
        var other => throw StatusException.BadRequest($"fieldValidation must be one of Ignore, Warn or Strict, not \"{other}\""),
    };

    private static bool DryRun(HttpRequest r) => r.Query["dryRun"].ToString() switch
    {
        "" => false,
        "All" => true,
        var other => throw StatusException.BadRequest($"dryRun must be All, not \"{other}\""),
    };

    private static void Warn(HttpContext ctx, List<string> warnings)
    {
        foreach (var w in warnings) ctx.Response.Headers.Append("Warning", $"299 - \"{w.Replace("\"", "\\\"")}\"");
    }

    private static async Task<(long? Revision, string? Uid, bool DryRun, long? GracePeriodSeconds, string? Propagation)> DeleteOptionsAsync(HttpRequest r)
    {
        var dryRun = DryRun(r);
        var propagation = r.Query["propagationPolicy"].ToString() is { Length: > 0 } p ? p : null;
        long? grace = r.Query["gracePeriodSeconds"].ToString() is { Length: > 0 } g
            ? (long.TryParse(g, out var q) && q >= 0 ? q : throw StatusException.BadRequest($"gracePeriodSeconds must be a number of seconds, not \"{g}\""))
            : null;
        if (r.ContentLength is 0 || (r.ContentLength is null && !r.Headers.ContainsKey("Transfer-Encoding"))) return (null, null, dryRun, grace, propagation);
        var body = await ReadJsonAsync(r, allowEmpty: true);
        if (body is not JsonObject o) return (null, null, dryRun, grace, propagation);
        // The older orphanDependents flag means what propagationPolicy Orphan (true) or Background (false) says.
        if (o["orphanDependents"] is JsonValue od && od.TryGetValue<bool>(out var orphan)) propagation = orphan ? "Orphan" : "Background";
        if (Json.Str(o["propagationPolicy"]) is { Length: > 0 } bodyPropagation) propagation = bodyPropagation;
        long? rv = long.TryParse(Json.Str(o["preconditions"]?["resourceVersion"]), out var v) ? v : null;
        if (o["dryRun"] is JsonArray { Count: > 0 } d && Json.Str(d[0]) == "All") dryRun = true;
        // Negative values mean "now" to the API server, as 0 does.
        if (o["gracePeriodSeconds"] is JsonValue gv && gv.TryGetValue<long>(out var bodyGrace)) grace = Math.Max(0, bodyGrace);
        return (rv, Json.Str(o["preconditions"]?["uid"]), dryRun, grace, propagation);
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpRequest r) =>
        await ReadJsonAsync(r) as JsonObject ?? throw StatusException.BadRequest("the request body must be a JSON object");

    private static async Task<JsonNode> ReadJsonAsync(HttpRequest r, bool allowEmpty = false)
    {
        var type = (r.ContentType ?? "application/json").Split(';')[0].Trim();
        var protobuf = type == ProtobufBodies.MediaType;
        var yaml = type is "application/yaml" or "application/apply-patch+yaml";
        if (type.Contains("yaml", StringComparison.Ordinal) && !yaml)
            throw StatusException.UnsupportedMediaType($"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
        if (r.ContentLength > MaxBodyBytes) throw StatusException.TooLarge($"the request body is {r.ContentLength} bytes; the limit is {MaxBodyBytes}");
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = await r.Body.ReadAsync(chunk, r.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + n > MaxBodyBytes) throw StatusException.TooLarge($"the request body is over the limit of {MaxBodyBytes} bytes");
            buffer.Write(chunk, 0, n);
        }
        if (buffer.Length == 0)
            return allowEmpty ? new JsonObject() : throw StatusException.BadRequest("the request has no body");
        if (protobuf) return ProtobufBodies.Decode(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        // The JSON reader passes bytes that are not UTF-8 through inside strings; they would be stored as they came.
        if (InvalidUtf8At(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)) is { } at)
            throw StatusException.BadRequest($"the request body is not valid UTF-8: byte {at} (0x{buffer.GetBuffer()[at]:x2}) starts no character");
        // JSON is YAML: a YAML body that is JSON (what kubectl sends) is read as JSON, the rest as YAML.
        var first = buffer.GetBuffer().AsSpan(0, (int)buffer.Length).TrimStart(" \t\r\n"u8);
        if (yaml && first.Length > 0 && first[0] != (byte)'{') return ReadYaml(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        try
        {
            return JsonNode.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), documentOptions: new JsonDocumentOptions { MaxDepth = 100 })
                ?? throw StatusException.BadRequest("the request body is null");
        }
        catch (JsonException) when (yaml) { return ReadYaml(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)); }
        catch (JsonException e) { throw StatusException.BadRequest($"the request body is not valid JSON: {e.Message}"); }
        catch (InvalidOperationException e) { throw StatusException.BadRequest($"the request body is not valid JSON: {e.Message}"); }
    }

    /// <summary>The offset of the first byte that is not part of a valid UTF-8 sequence, or null when all are.</summary>
    private static int? InvalidUtf8At(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return null;
        for (var at = 0; at < bytes.Length;)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes[at..], out _, out var used) != System.Buffers.OperationStatus.Done) return at;
            at += used;
        }
        return null;
    }

    private static JsonNode ReadYaml(string text)
    {
        List<JsonNode?> documents;
        try { documents = YamlJson.Read(text, "the request body"); }
        catch (FormatException e) { throw StatusException.BadRequest($"the request body is not valid YAML: {e.Message}"); }
        var present = documents.Where(d => d is not null).ToList();
        return present.Count switch
        {
            0 => throw StatusException.BadRequest("the request has no body"),
            1 => present[0]!,
            _ => throw StatusException.BadRequest($"the request body holds {present.Count} YAML documents; one object per request"),
        };
    }

    private static string EncodeContinue(long revision, string lastKey) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "meta.k8s.io/v1", ["rv"] = revision, ["start"] = lastKey }.ToJsonString()))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static (long Revision, string After) DecodeContinue(string token)
    {
        try
        {
            var b64 = token.Replace('-', '+').Replace('_', '/');
            b64 += new string('=', (4 - b64.Length % 4) % 4);
            var o = JsonNode.Parse(Convert.FromBase64String(b64)) as JsonObject;
            if (o?["rv"] is JsonValue rv && rv.TryGetValue<long>(out var revision) && Json.Str(o["start"]) is { } start) return (revision, start);
        }
        catch (Exception e) when (e is FormatException or JsonException) { }
        throw StatusException.BadRequest("continue key is not valid");
    }

    private static async Task WriteAsync(HttpContext ctx, int code, JsonNode body, string contentType = "application/json")
    {
        body = ToServed(ctx, body);
        ctx.Response.StatusCode = code;
        // A client that asks for YAML first (curl -H 'Accept: application/yaml') gets it, as from the API server.
        if (contentType == "application/json" && WantsYaml(ctx.Request))
        {
            ctx.Response.ContentType = "application/yaml";
            await ctx.Response.WriteAsync(YamlJson.Write(body), ctx.RequestAborted);
            return;
        }
        ctx.Response.ContentType = contentType;
        await ctx.Response.Body.WriteAsync(Json.Bytes(body), ctx.RequestAborted);
    }
}

public sealed class KubernetesApiOptions
{
    /// <summary>How often an idle watch that asked for bookmarks gets one.</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>A watch without timeoutSeconds ends after this, as the API server's (30 to 60 minutes) do.</summary>
    public TimeSpan MaxWatchTime { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>How many watches may be open at once (clients' watches; the controllers' informers are not counted).</summary>
    public int MaxWatches { get; init; } = 10_000;
}
