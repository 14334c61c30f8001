using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// What a request asks to do, as the API server's authorizers see it: a verb on a resource (its group, subresource,
/// namespace and name), or a verb on a path that names no resource (discovery, /version, /healthz).
/// </summary>
public sealed record AccessRequest(string Verb, string Group, string Resource, string Subresource, string Namespace, string Name, string? Path = null)
{
    public bool IsResource => Path is null;

    /// <summary>The resource as rules name it: pods, or pods/log for a subresource.</summary>
    public string Combined => Subresource.Length > 0 ? $"{Resource}/{Subresource}" : Resource;

    public static AccessRequest NonResource(string verb, string path) => new(verb, "", "", "", "", "", path);

    /// <summary>The request an HTTP request makes, read from its method, path and query as the API server reads them.</summary>
    public static AccessRequest From(HttpRequest request)
    {
        var path = request.Path.Value ?? "/";
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string group;
        string[] rest;
        if (parts is ["api", _, _, ..]) (group, rest) = ("", parts[2..]);
        else if (parts is ["apis", _, _, _, ..]) (group, rest) = (parts[1], parts[3..]);
        else return NonResource(request.Method.ToLowerInvariant(), path);
        var watch = false;
        if (rest[0] == "watch")
        {
            watch = true;
            rest = rest[1..];
            if (rest.Length == 0) return NonResource(request.Method.ToLowerInvariant(), path);
        }
        var ns = "";
        if (rest[0] == "namespaces" && rest.Length > 1)
        {
            // namespaces/NAME is the namespace itself (and its status and finalize); deeper, a resource in it.
            ns = rest[1];
            if (rest.Length > 2 && rest[2] is not ("status" or "finalize")) rest = rest[2..];
        }
        var resource = rest[0];
        var name = rest.Length > 1 ? rest[1] : "";
        var sub = rest.Length > 2 ? rest[2] : "";
        watch |= request.Query["watch"].ToString() is "1" or "true";
        var verb = request.Method switch
        {
            // Connections to a pod are creations whichever way they come (a POST upgraded to SPDY, or a WebSocket GET).
            _ when resource == "pods" && sub is "exec" or "attach" or "portforward" => "create",
            "GET" or "HEAD" => watch ? "watch" : name.Length == 0 ? "list" : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => name.Length == 0 ? "deletecollection" : "delete",
            var other => other.ToLowerInvariant(),
        };
        // A list or watch of one name (kubectl get NAME --watch) is a request about that name.
        if (name.Length == 0 && verb is "list" or "watch" && FieldSelector.Parse(request.Query["fieldSelector"]).Name is { } only) name = only;
        return new AccessRequest(verb, group, resource, sub, ns, name);
    }
}
