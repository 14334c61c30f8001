using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace ContainerOps.Network.Netlink;

/// <summary>Builds one netlink message: the 16-byte header, a fixed family header, then attributes (4-byte aligned,
/// nested ones patched with their length when closed).</summary>
internal sealed class NetlinkMessage
{
    private byte[] _buf = new byte[256];
    private int _len;

    public NetlinkMessage(ushort type, ushort flags)
    {
        _len = 16;
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(6), flags);
    }

    public int Length => _len;

    private Span<byte> Grow(int n)
    {
        var aligned = (n + 3) & ~3;
        if (_len + aligned > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + aligned));
        var span = _buf.AsSpan(_len, aligned);
        span.Clear();
        _len += aligned;
        return span[..n];
    }

    /// <summary>struct ifinfomsg.</summary>
    public NetlinkMessage IfInfo(int index = 0, uint flags = 0, uint change = 0, byte family = 0)
    {
        var s = Grow(16);
        s[0] = family;
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], change);
        return this;
    }

    /// <summary>struct ifaddrmsg.</summary>
    public NetlinkMessage IfAddr(byte family, byte prefix, int index, byte scope = 0)
    {
        var s = Grow(8);
        s[0] = family; s[1] = prefix; s[3] = scope;
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], index);
        return this;
    }

    /// <summary>struct rtmsg.</summary>
    public NetlinkMessage RtMsg(byte family, byte dstLen, byte table, byte protocol, byte scope, byte type)
    {
        var s = Grow(12);
        s[0] = family; s[1] = dstLen; s[4] = table; s[5] = protocol; s[6] = scope; s[7] = type;
        return this;
    }

    public NetlinkMessage Attr(ushort type, ReadOnlySpan<byte> value)
    {
        var s = Grow(4 + value.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)(4 + value.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], type);
        value.CopyTo(s[4..]);
        return this;
    }

    public NetlinkMessage Attr(ushort type, string value)
    {
        Span<byte> b = stackalloc byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, b);
        b[^1] = 0;
        return Attr(type, b);
    }

    public NetlinkMessage Attr(ushort type, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Attr(type, b);
    }

    public NetlinkMessage Attr(ushort type, IPAddress address) => Attr(type, address.GetAddressBytes());

    /// <summary>Opens a nested attribute; <see cref="End"/> closes it.</summary>
    public int Begin(ushort type)
    {
        var at = _len;
        var s = Grow(4);
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], type);
        return at;
    }

    /// <summary>Opens a nested block that starts with a family header (a veth peer's ifinfomsg).</summary>
    public void End(int at) => BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(at), (ushort)(_len - at));

    public ReadOnlySpan<byte> Finish(uint seq)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buf, (uint)_len);
        BinaryPrimitives.WriteUInt32LittleEndian(_buf.AsSpan(8), seq);
        return _buf.AsSpan(0, _len);
    }
}

/// <summary>Walks the attributes of a received message.</summary>
internal ref struct AttrReader(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;
    public ushort Type;
    public ReadOnlySpan<byte> Value;

    public bool Next()
    {
        if (_rest.Length < 4) return false;
        var len = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        if (len < 4 || len > _rest.Length) return false;
        Type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]) & 0x3fff);
        Value = _rest[4..len];
        var aligned = (len + 3) & ~3;
        _rest = aligned >= _rest.Length ? ReadOnlySpan<byte>.Empty : _rest[aligned..];
        return true;
    }

    public readonly string Text => Encoding.UTF8.GetString(Value.IndexOf((byte)0) is var z and >= 0 ? Value[..z] : Value);
    public readonly uint U32 => BinaryPrimitives.ReadUInt32LittleEndian(Value);
}
