using System.Buffers;
using System.Text.Json;

namespace ContainerOps.Runtime.Spec;

/// <summary>One indented JSON object written member by member: the small documents of the runtime command line (its
/// state output, its record), which does not load the serializer (see <see cref="OciSpecReader"/>).</summary>
public static class IndentedJson
{
    /// <summary>The object, indented; on one line with <paramref name="indented"/> false (a log record).</summary>
    public static byte[] Object(Action<Utf8JsonWriter> writeMembers, bool indented = true) =>
        Write(json => { json.WriteStartObject(); writeMembers(json); json.WriteEndObject(); }, indented);

    /// <summary>An indented JSON array written item by item.</summary>
    public static byte[] Array(Action<Utf8JsonWriter> writeItems) =>
        Write(json => { json.WriteStartArray(); writeItems(json); json.WriteEndArray(); }, indented: true);

    private static byte[] Write(Action<Utf8JsonWriter> write, bool indented)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented })) write(json);
        return buffer.WrittenSpan.ToArray();
    }
}
