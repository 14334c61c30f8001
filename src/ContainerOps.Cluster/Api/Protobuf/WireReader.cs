using System.Text;

namespace ContainerOps.Cluster.Api.Protobuf;

/// <summary>Walks the fields of one protobuf message: key, then a varint, a length-delimited slice, or fixed bytes
/// (read past: the Kubernetes messages hold no fixed-width numbers). Every read is bounds-checked.</summary>
internal ref struct WireReader(ReadOnlySpan<byte> data)
{
    public const int VarintType = 0, Fixed64Type = 1, DelimitedType = 2, Fixed32Type = 5;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _at;

    public int Number { get; private set; }
    public int WireType { get; private set; }
    public ulong Varint { get; private set; }
    public ReadOnlySpan<byte> Bytes { get; private set; }
    public readonly bool AtEnd => _at >= _data.Length;

    /// <summary>Reads the next field; false at the end of the message.</summary>
    public bool Next()
    {
        if (AtEnd) return false;
        var key = ReadVarint();
        Number = (int)(key >> 3);
        WireType = (int)(key & 7);
        Varint = 0;
        Bytes = default;
        if (Number <= 0) throw ProtobufDecoder.Malformed($"field number {key >> 3} at byte {_at}");
        switch (WireType)
        {
            case VarintType: Varint = ReadVarint(); break;
            case Fixed64Type: Skip(8); break;
            case Fixed32Type: Skip(4); break;
            case DelimitedType:
                var length = ReadVarint();
                if (length > (ulong)(_data.Length - _at)) throw ProtobufDecoder.Malformed($"field {Number} claims {length} bytes where {_data.Length - _at} remain");
                Bytes = _data.Slice(_at, (int)length);
                _at += (int)length;
                break;
            default: throw ProtobufDecoder.Malformed($"field {Number} has wire type {WireType}, which no Kubernetes message uses");
        }
        return true;
    }

    /// <summary>The current field's bytes, which <paramref name="field"/> of <paramref name="message"/> must have.</summary>
    public readonly ReadOnlySpan<byte> Delimited(Message message, Field field) =>
        WireType == DelimitedType ? Bytes : throw ProtobufDecoder.WrongWireType(message, field, WireType);

    public readonly string Text(Message message, Field field) =>
        Utf8(Delimited(message, field), $"{message.Name} field {field.Number} ({field.Json})");

    /// <summary>Strict UTF-8, as the API takes JSON: invalid bytes are an error naming <paramref name="what"/>.</summary>
    public static string Utf8(ReadOnlySpan<byte> bytes, string what)
    {
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException) { throw ProtobufDecoder.Malformed($"{what} is not valid UTF-8"); }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_at >= _data.Length) throw ProtobufDecoder.Malformed("the body ends inside a number");
            var b = _data[_at++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw ProtobufDecoder.Malformed("a number runs over ten bytes");
    }

    private void Skip(int count)
    {
        if (count > _data.Length - _at) throw ProtobufDecoder.Malformed($"field {Number} runs past the end of its message");
        _at += count;
    }
}
