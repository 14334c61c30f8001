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

    /// <summary>Whether an object passes <paramref name="filters"/>: its <paramref name="labels"/> every label filter, and
    /// for each other key one of its values by <paramref name="matches"/>(key, value), which throws for an unknown key.</summary>
    public static bool Pass(IReadOnlyDictionary<string, List<string>> filters, IReadOnlyDictionary<string, string> labels, Func<string, string, bool> matches) =>
        filters.All(f => f.Key == "label" ? HasLabels(labels, f.Value) : f.Value.Any(value => matches(f.Key, value)));
}
