using System.Globalization;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Node;

/// <summary>Kubernetes resource quantities: "128Mi", "1G", "500m", "250n", "0.5", "2" (the node's limits, the
/// downward API and the autoscaler's targets all read them here).</summary>
public static class Quantity
{
    private static readonly (string Suffix, decimal Factor)[] Suffixes =
    [
        ("Ki", 1024m), ("Mi", 1024m * 1024), ("Gi", 1024m * 1024 * 1024), ("Ti", 1024m * 1024 * 1024 * 1024),
        ("k", 1e3m), ("M", 1e6m), ("G", 1e9m), ("T", 1e12m), ("m", 0.001m), ("u", 0.000001m), ("n", 0.000000001m),
    ];

    public static bool TryValue(string? text, out decimal value)
    {
        value = 0;
        if (text is null) return false;
        text = text.Trim();
        foreach (var (suffix, factor) in Suffixes)
            if (text.EndsWith(suffix, StringComparison.Ordinal) && decimal.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                value = n * factor;
                return true;
            }
        return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A quantity field's value; such a field may hold a JSON string or a number.</summary>
    public static bool TryValue(JsonNode? node, out decimal value) => TryValue(Json.Scalar(node), out value);

    public static decimal Value(string text) =>
        TryValue(text, out var value) ? value : throw new ContainerConfigException($"\"{text.Trim()}\" is not a quantity");

    public static long Bytes(string text) => (long)Math.Ceiling(Value(text));

    /// <summary>A total in the shortest exact form: millicores for a fraction, the largest binary suffix that divides
    /// an amount of memory or storage, else the plain number (CPUs, counts).</summary>
    public static string Format(string resource, decimal value)
    {
        if (value != decimal.Truncate(value)) return $"{decimal.Round(value * 1000)}m";
        if ((resource.Contains("memory") || resource.Contains("storage")) && value > 0)
            foreach (var (suffix, factor) in new[] { ("Ti", 1024m * 1024 * 1024 * 1024), ("Gi", 1024m * 1024 * 1024), ("Mi", 1024m * 1024), ("Ki", 1024m) })
                if (value % factor == 0) return (value / factor).ToString(CultureInfo.InvariantCulture) + suffix;
        return value.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>What a pod asks for as a whole, the one rule LimitRanges and ResourceQuotas count by.</summary>
public static class PodResources
{
    /// <summary>Per resource named in a container's resources[<paramref name="field"/>], as Kubernetes sums it: the
    /// containers and sidecars (init containers that keep running) together, or, where more, what runs while an
    /// init container runs — that one and the sidecars started before it.</summary>
    public static Dictionary<string, decimal> Total(JsonObject? spec, string field)
    {
        var total = new Dictionary<string, decimal>();
        var sidecars = new Dictionary<string, decimal>();
        var initPeak = new Dictionary<string, decimal>();
        foreach (var container in (spec?["initContainers"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var sidecar = PodStatusBuilder.IsSidecar(container);
            foreach (var (resource, value) in Amounts(container, field))
            {
                if (sidecar) sidecars[resource] = sidecars.GetValueOrDefault(resource) + value;
                var running = sidecar ? sidecars[resource] : value + sidecars.GetValueOrDefault(resource);
                initPeak[resource] = Math.Max(initPeak.GetValueOrDefault(resource), running);
            }
        }
        foreach (var container in (spec?["containers"] as JsonArray ?? []).OfType<JsonObject>())
            foreach (var (resource, value) in Amounts(container, field))
                total[resource] = total.GetValueOrDefault(resource) + value;
        foreach (var (resource, value) in sidecars) total[resource] = total.GetValueOrDefault(resource) + value;
        foreach (var (resource, value) in initPeak) total[resource] = Math.Max(total.GetValueOrDefault(resource), value);
        return total;
    }

    private static IEnumerable<(string Resource, decimal Value)> Amounts(JsonObject container, string field)
    {
        foreach (var (resource, node) in container["resources"]?[field] as JsonObject ?? [])
            if (Quantity.TryValue(node, out var value)) yield return (resource, value);
    }
}
