using Microsoft.AspNetCore.Http.Extensions;

namespace ContainerOps.Daemon.Api;

/// <summary>
/// The Docker Engine API names an image in the path (`DELETE /images/{name}`, `GET /images/{name}/json`,
/// `/history`, `/get`, `POST /images/{name}/tag`, `/push`), and a name has slashes of its own
/// (`127.0.0.1:5000/team/app:1`), which route templates cannot tell from the path's. The daemon's image endpoints take
/// the name as a query parameter instead; this rewrites the Docker form to them before routing.
/// </summary>
internal static class DockerImagePaths
{
    /// <summary>The endpoints under /images/ that are not an image name (`/images/json`, `/images/create`…).</summary>
    private static readonly HashSet<string> Own = ["json", "inspect", "import", "load", "tag", "create", "push", "get", "history", "prune", "search"];

    public static void Use(WebApplication app) => app.Use((context, next) =>
    {
        var request = context.Request;
        if (request.Path.Value is { } path && path.StartsWith("/images/", StringComparison.Ordinal) && Rewrite(request.Method, path[8..]) is var (to, name, extra))
        {
            var query = new QueryBuilder(request.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? ""))));
            query.Add(name.Key, name.Value);
            foreach (var (key, value) in extra(request)) query.Add(key, value);
            request.Path = to;
            request.QueryString = query.ToQueryString();
        }
        return next(context);
    });

    private static (string To, KeyValuePair<string, string> Name, Func<HttpRequest, IEnumerable<KeyValuePair<string, string>>> Extra)? Rewrite(string method, string rest)
    {
        static IEnumerable<KeyValuePair<string, string>> None(HttpRequest _) => [];
        if (rest.Length == 0 || Own.Contains(rest)) return null;
        var name = Uri.UnescapeDataString(rest);
        if (HttpMethods.IsDelete(method)) return ("/images", new("name", name), None);
        var slash = name.LastIndexOf('/');
        if (slash <= 0) return null;
        var (image, verb) = (name[..slash], name[(slash + 1)..]);
        return (method, verb) switch
        {
            ("GET", "json") => ("/images/inspect", new("name", image), None),
            ("GET", "history") => ("/images/history", new("name", image), None),
            ("GET", "get") => ("/images/get", new("names", image), None),
            ("POST", "push") => ("/images/push", new("name", image), None),
            // repo and tag become the target name; the source is the image in the path.
            ("POST", "tag") => ("/images/tag", new("source", image), req =>
                [new("target", req.Query["tag"].ToString() is { Length: > 0 } tag ? $"{req.Query["repo"]}:{tag}" : req.Query["repo"].ToString())]),
            _ => null,
        };
    }
}
