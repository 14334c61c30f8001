using System.IO.Compression;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// What each Kubernetes kind and field is for, in the API's own words: the summaries the KubernetesClient package
/// documents its models with, which the build extracts and embeds (see ContainerOps.Cluster.csproj). The OpenAPI
/// documents carry them as descriptions, which `kubectl explain` prints.
/// Loaded for one document build and then dropped: a daemon that is never asked for them does not hold a megabyte of
/// text.
/// </summary>
internal sealed class ModelDescriptions
{
    private const string ResourceName = "ContainerOps.Cluster.ModelDescriptions";

    /// <summary>By model member: "V1DeploymentSpec" and "V1DeploymentSpec.Replicas", ignoring case (JSON names are
    /// camel case, the models' Pascal case).</summary>
    private readonly Dictionary<string, string> _byMember;
    /// <summary>The models that have a description or a described property.</summary>
    private readonly HashSet<string> _models;

    private ModelDescriptions(Dictionary<string, string> byMember)
    {
        _byMember = byMember;
        _models = new HashSet<string>(byMember.Keys.Select(k => k.IndexOf('.') is var dot and > 0 ? k[..dot] : k), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>None: for a build without the package's documentation.</summary>
    public static readonly ModelDescriptions Empty = new(new Dictionary<string, string>());

    public static ModelDescriptions Load()
    {
        using var stream = typeof(ModelDescriptions).Assembly.GetManifestResourceStream(ResourceName);
        if (stream is null) return Empty;
        using var reader = new StreamReader(new GZipStream(stream, CompressionMode.Decompress));
        var byMember = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (reader.ReadLine() is { } line)
        {
            var tab = line.IndexOf('\t');
            if (tab > 0) byMember[line[..tab]] = line[(tab + 1)..];
        }
        return new ModelDescriptions(byMember);
    }

    /// <summary>The description of a message of the protobuf table (apps/v1.DeploymentSpec).</summary>
    public string? OfMessage(string message) => ModelOf(message) is { } model ? _byMember.GetValueOrDefault(model) : null;

    /// <summary>The description of a message's field, by its JSON name.</summary>
    public string? OfField(string message, string json)
    {
        if (ModelOf(message) is not { } model) return null;
        // A field named as a C# keyword is a property with a suffix (readOnly → ReadOnlyProperty).
        return _byMember.GetValueOrDefault($"{model}.{json}") ?? _byMember.GetValueOrDefault($"{model}.{json}Property");
    }

    /// <summary>The model's name: apps/v1.DeploymentSpec → V1DeploymentSpec; where two groups have a type of the same
    /// name, the model carries the group (core/v1.Event → Corev1Event, events/v1.Event → Eventsv1Event).</summary>
    private string? ModelOf(string message)
    {
        var dot = message.IndexOf('.');
        var slash = message.IndexOf('/');
        if (dot < 0 || slash < 0 || slash > dot) return null;
        var (group, version, type) = (message[..slash], message[(slash + 1)..dot], message[(dot + 1)..]);
        var grouped = $"{char.ToUpperInvariant(group[0])}{group[1..]}{version}{type}";
        if (_models.Contains(grouped)) return grouped;
        var plain = $"{char.ToUpperInvariant(version[0])}{version[1..]}{type}";
        return _models.Contains(plain) ? plain : null;
    }
}
