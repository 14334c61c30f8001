using System.Text.Json.Nodes;
using ContainerOps.Core.Api;

namespace ContainerOps.Client;

/// <summary>A kind the cluster API serves, as its discovery documents describe it.</summary>
public sealed record ClusterResourceType(string Group, string Version, string Resource, string Kind, bool Namespaced, string SingularName, IReadOnlyList<string> ShortNames)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The collection's path: api/v1/namespaces/NS/pods, apis/apps/v1/deployments (all namespaces).</summary>
    public string Collection(string? ns)
    {
        var root = Group.Length == 0 ? $"api/{Version}" : $"apis/{Group}/{Version}";
        return Namespaced && ns is not null ? $"{root}/namespaces/{Uri.EscapeDataString(ns)}/{Resource}" : $"{root}/{Resource}";
    }

    public string ItemPath(string? ns, string name) => $"{Collection(ns)}/{Uri.EscapeDataString(name)}";
}

/// <summary>
/// Any kind of cluster object, found by discovery as kubectl finds it (`/api/v1`, `/apis` and each group's preferred
/// version): by kind, plural, singular or short name, optionally with its group (`deployments.apps`). Applying is
/// create-or-replace, or server-side apply under a field manager.
/// </summary>
public static class ClusterResources
{
    public static async Task<List<ClusterResourceType>> DiscoverAsync(IContainerOpsClient client, CancellationToken ct)
    {
        var types = new List<ClusterResourceType>();
        await AddAsync("", "v1", "api/v1");
        var groups = await PodRequests.CallAsync(client, HttpMethod.Get, "apis", null, ct);
        foreach (var group in (groups?["groups"] as JsonArray ?? []).OfType<JsonObject>())
            if (group["name"]?.GetValue<string>() is { } name && group["preferredVersion"]?["version"]?.GetValue<string>() is { } version)
                await AddAsync(name, version, $"apis/{name}/{version}");
        return types;

        async Task AddAsync(string group, string version, string path)
        {
            var list = await PodRequests.CallAsync(client, HttpMethod.Get, path, null, ct);
            foreach (var r in (list?["resources"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var resource = r["name"]?.GetValue<string>() ?? "";
                if (resource.Contains('/')) continue; // subresources
                types.Add(new ClusterResourceType(group, version, resource, r["kind"]?.GetValue<string>() ?? "", r["namespaced"]?.GetValue<bool>() ?? false,
                    r["singularName"]?.GetValue<string>() ?? "", (r["shortNames"] as JsonArray ?? []).Select(n => n!.GetValue<string>()).ToList()));
            }
        }
    }

    /// <summary>The type a user's word names: Deployment, deployments, deployment, deploy, deployments.apps; or the
    /// one of a document's apiVersion and kind.</summary>
    public static ClusterResourceType Resolve(IReadOnlyList<ClusterResourceType> types, string name, string? apiVersion = null)
    {
        var (word, group) = name.Contains('.') && apiVersion is null ? (name[..name.IndexOf('.')], name[(name.IndexOf('.') + 1)..]) : (name, (string?)null);
        bool Named(ClusterResourceType t) =>
            string.Equals(t.Kind, word, StringComparison.OrdinalIgnoreCase) || string.Equals(t.Resource, word, StringComparison.OrdinalIgnoreCase)
            || string.Equals(t.SingularName, word, StringComparison.OrdinalIgnoreCase) || t.ShortNames.Contains(word, StringComparer.OrdinalIgnoreCase);
        var matches = types.Where(t => Named(t) && (group is null || t.Group == group) && (apiVersion is null || t.ApiVersion == apiVersion)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new ContainerOpsException(ErrorKind.NotFound, "ClusterKindUnknown",
                apiVersion is null ? $"the cluster serves no kind named {name}" : $"the cluster serves no {apiVersion} {name}"),
            // events and events.events.k8s.io, as kubectl: the core group first.
            _ => matches.FirstOrDefault(t => t.Group.Length == 0) ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "ClusterKindAmbiguous",
                $"{name} names {string.Join(", ", matches.Select(m => $"{m.Resource}.{m.Group}"))}: add the group"),
        };
    }

    public static async Task<List<JsonObject>> ListAsync(IContainerOpsClient client, ClusterResourceType type, string? ns, string? labelSelector, CancellationToken ct) =>
        await ResourceRequests.ListAtAsync(client, type.Collection(ns), labelSelector, ct);

    public static async Task<JsonObject> GetAsync(IContainerOpsClient client, ClusterResourceType type, string? ns, string name, CancellationToken ct) =>
        (JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Get, type.ItemPath(ns, name), null, ct))!;

    /// <summary>Creates the object, or replaces the one of its name (keeping nobody's change made in between: the
    /// replacement carries the resourceVersion read); with <paramref name="serverSide"/> a server-side apply by
    /// <paramref name="fieldManager"/>, <paramref name="force"/> taking fields other managers own.</summary>
    public static async Task<(JsonObject Result, bool Created)> ApplyAsync(IContainerOpsClient client, ClusterResourceType type, string? ns, JsonObject manifest,
        bool serverSide, string fieldManager, bool force, bool dryRun, CancellationToken ct)
    {
        var name = manifest["metadata"]?["name"]?.GetValue<string>() ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "ClusterObjectNameMissing", $"a {type.Kind} without metadata.name");
        var query = dryRun ? "dryRun=All&" : "";
        if (serverSide)
        {
            var path = $"{type.ItemPath(ns, name)}?{query}fieldManager={Uri.EscapeDataString(fieldManager)}{(force ? "&force=true" : "")}";
            var existed = await ExistsAsync();
            return ((JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Patch, path, manifest, ct, "application/apply-patch+yaml"))!, !existed);
        }
        for (var attempt = 0; ; attempt++)
        {
            JsonObject? current = null;
            try { current = await GetAsync(client, type, ns, name, ct); }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { }
            var body = (JsonObject)manifest.DeepClone();
            try
            {
                if (current is null)
                    return ((JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Post, $"{type.Collection(ns)}?{query}fieldManager={Uri.EscapeDataString(fieldManager)}", body, ct))!, true);
                if (body["metadata"] is JsonObject meta) meta["resourceVersion"] = current["metadata"]?["resourceVersion"]?.DeepClone();
                return ((JsonObject)(await PodRequests.CallAsync(client, HttpMethod.Put, $"{type.ItemPath(ns, name)}?{query}fieldManager={Uri.EscapeDataString(fieldManager)}", body, ct))!, false);
            }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.Conflict && attempt < 5) { }
        }

        async Task<bool> ExistsAsync()
        {
            try { await GetAsync(client, type, ns, name, ct); return true; }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound) { return false; }
        }
    }

    /// <param name="propagation">Background, Foreground or Orphan.</param>
    /// <param name="gracePeriodSeconds">null: the object's own.</param>
    public static async Task<JsonObject?> DeleteAsync(IContainerOpsClient client, ClusterResourceType type, string? ns, string name, string propagation, long? gracePeriodSeconds, CancellationToken ct)
    {
        var options = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "DeleteOptions", ["propagationPolicy"] = propagation };
        if (gracePeriodSeconds is { } g) options["gracePeriodSeconds"] = g;
        return await PodRequests.CallAsync(client, HttpMethod.Delete, type.ItemPath(ns, name), options, ct) as JsonObject;
    }
}
