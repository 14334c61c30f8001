using System.Collections.Frozen;

namespace ContainerOps.Cluster.Api.Protobuf;

/// <summary>What a field holds on the wire and becomes in JSON.</summary>
internal enum ValueKind
{
    String, Int32, Int64, Bool,
    /// <summary>[]byte: a base64 string in JSON.</summary>
    Bytes,
    Message,
    /// <summary>metav1.Time {1 seconds}: an RFC 3339 string to the second; an empty message is the zero time.</summary>
    Time,
    /// <summary>metav1.MicroTime {1 seconds, 2 nanos}: an RFC 3339 string with microseconds.</summary>
    MicroTime,
    /// <summary>resource.Quantity {1 string}: the string.</summary>
    Quantity,
    /// <summary>intstr.IntOrString {1 type, 2 intVal, 3 strVal}: a number or a string.</summary>
    IntOrString,
    /// <summary>runtime.RawExtension and metav1.FieldsV1 {1 raw}: the JSON document the bytes hold.</summary>
    RawJson,
}

/// <summary>The Go field's shape: pointer or not, omitempty or not, list, map (string keys), or a struct embedded
/// inline in JSON (a nested message on the wire whose fields land in the enclosing object).</summary>
[Flags]
internal enum FieldFlags { None = 0, Pointer = 1, OmitEmpty = 2, Repeated = 4, Map = 8, Inline = 16 }

/// <summary>One field of a message; <see cref="Message"/> names the nested message (or a map's value message).
/// <see cref="PatchStrategy"/> and <see cref="MergeKey"/> are the Go field's patchStrategy and patchMergeKey tags: how a
/// strategic merge patch treats it ("merge" lists by that key, "retainKeys"). <see cref="ListType"/> and
/// <see cref="ListMapKeys"/> are its +listType and +listMapKey markers: how server-side apply identifies a list's items
/// (atomic: the list is one value; set: by value; map: by those keys).</summary>
internal sealed record Field(int Number, string Json, ValueKind Kind, FieldFlags Flags, string? Message = null, string? PatchStrategy = null, string? MergeKey = null,
    string? ListType = null, string[]? ListMapKeys = null)
{
    public bool Has(FieldFlags flag) => (Flags & flag) != 0;
}

/// <summary>A message with its fields by number.</summary>
internal sealed class Message
{
    private readonly FrozenDictionary<int, Field> _fields;
    public string Name { get; }

    public Message(string name, Field[] fields)
    {
        Name = name;
        _fields = fields.ToFrozenDictionary(f => f.Number);
    }

    public Field? Find(int number) => _fields.GetValueOrDefault(number);
}

/// <summary>The protobuf messages of the Kubernetes kinds the API takes as protobuf. The facts (Schema.g.cs) are
/// generated from the Go struct tags of k8s.io/api and k8s.io/apimachinery by generate.py.</summary>
internal static partial class Schema
{
    // Built on first use: a static initializer here could run before the generated table's (partial classes have no
    // initialisation order across files). Two threads racing build equal tables.
    private static FrozenDictionary<string, Message>? _messages;
    private static FrozenDictionary<string, Message> Messages =>
        _messages ??= MessageFields.ToFrozenDictionary(m => m.Key, m => new Message(m.Key, m.Value));

    /// <summary>The message of an object of this apiVersion and kind, or null when it is not in the table.</summary>
    public static Message? Root(string apiVersion, string kind) =>
        RootMessages.TryGetValue((apiVersion, kind), out var name) ? Messages[name] : null;

    public static Message Get(string name) => Messages[name];

    /// <summary>The message name of an apiVersion and kind (core/v1.Pod), or null when it is not in the table.</summary>
    public static string? RootName(string apiVersion, string kind) => RootMessages.GetValueOrDefault((apiVersion, kind));

    /// <summary>A message's fields in declaration order, as the table has them.</summary>
    public static IReadOnlyList<Field> FieldsOf(string name) => MessageFields[name];

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, FrozenDictionary<string, Field>> ByJson = new();

    /// <summary>The field of <paramref name="message"/> a JSON key names, looking through inline fields (TypeMeta);
    /// null when the message has none of that name.</summary>
    public static Field? FieldByJson(Message message, string json) =>
        ByJson.GetOrAdd(message.Name, name => Flattened(name).GroupBy(f => f.Json).ToFrozenDictionary(g => g.Key, g => g.First())).GetValueOrDefault(json);

    private static IEnumerable<Field> Flattened(string name) =>
        FieldsOf(name).SelectMany(f => f.Has(FieldFlags.Inline) ? Flattened(f.Message!) : [f]);
}
