using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace ContainerOps.Network.Ipam;

/// <summary>An IPv4 prefix: network address and length, with the arithmetic IPAM needs.</summary>
public readonly record struct Ipv4Subnet(uint Network, int PrefixLength)
{
    public uint Mask => PrefixLength == 0 ? 0 : uint.MaxValue << (32 - PrefixLength);
    public uint First => Network & Mask;
    public uint Last => First | ~Mask;
    public ulong Size => 1UL << (32 - PrefixLength);

    public bool Contains(uint address) => (address & Mask) == First;
    public bool Contains(IPAddress address) => Contains(ToUInt(address));
    public bool Contains(Ipv4Subnet other) => other.PrefixLength >= PrefixLength && Contains(other.First);
    public bool Overlaps(Ipv4Subnet other) => Contains(other.First) || other.Contains(First);

    public override string ToString() => $"{ToAddress(First)}/{PrefixLength}";

    public static Ipv4Subnet Parse(string text, string field)
    {
        if (!TryParse(text, out var s))
            throw new ArgumentException($"'{text}' is not an IPv4 subnet in CIDR notation (a.b.c.d/n)", field);
        return s;
    }

    public static bool TryParse(string? text, [NotNullWhen(true)] out Ipv4Subnet subnet)
    {
        subnet = default;
        if (text is null) return false;
        var slash = text.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(text[..slash], out var a) || a.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(text[(slash + 1)..], out var len) || len is < 0 or > 32) return false;
        var s = new Ipv4Subnet(ToUInt(a), len);
        subnet = s with { Network = s.First };
        return true;
    }

    public static uint ToUInt(IPAddress a) => BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes());

    public static IPAddress ToAddress(uint a)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, a);
        return new IPAddress(b);
    }

    public static IPAddress ParseAddress(string text, string field) =>
        IPAddress.TryParse(text, out var a) && a.AddressFamily == AddressFamily.InterNetwork ? a
            : throw new ArgumentException($"'{text}' is not an IPv4 address", field);
}
