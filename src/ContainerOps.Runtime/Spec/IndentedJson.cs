using System.Buffers;
using System.Text.Json;

namespace ContainerOps.Runtime.Spec;

/// <summary>One indented JSON object written member by member: the small documents of the runtime command line (its
/// state output, its record), which does not load the serializer (see <see cref="OciSpecReader"/>).</summary>
public static class IndentedJson
{
    /// <summary>The same object on one line (a log record).</summary>
    public static byte[] Line(Action<Utf8JsonWriter> writeMembers)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            writeMembers(json);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Object(Action<Utf8JsonWriter> writeMembers)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            writeMembers(json);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
