namespace ContainerOps.Core.Api;

/// <summary>Docker's list filters (`?filters={"label":["a=1","b"],"name":["x"]}`): the values of one key are
/// alternatives, except labels, which must all match; different keys must all match.</summary>
public static class DockerFilters
{
    /// <summary>Whether <paramref name="labels"/> carry a label filter's "key" or "key=value".</summary>
    public static bool HasLabel(IReadOnlyDictionary<string, string> labels, string filter) =>
        filter.Split('=', 2) is var kv && labels.TryGetValue(kv[0], out var value) && (kv.Length == 1 || value == kv[1]);

    /// <summary>Whether labels satisfy every label filter given.</summary>
    public static bool HasLabels(IReadOnlyDictionary<string, string> labels, IEnumerable<string> filters) =>
        filters.All(f => HasLabel(labels, f));
}
