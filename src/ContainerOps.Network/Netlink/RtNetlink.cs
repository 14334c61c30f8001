using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;

namespace ContainerOps.Network.Netlink;

/// <summary>
/// A small rtnetlink client: links (bridges, veth pairs), addresses and routes, spoken directly over a NETLINK_ROUTE
/// socket. There is no .NET library for it, and running `ip` for each step would cost a process start (milliseconds
/// each) several times per container. <see cref="OpenIn"/> opens one in a container's network namespace.
/// </summary>
public sealed class RtNetlink : IDisposable
{
    private const ushort NLMSG_ERROR = 2, NLMSG_DONE = 3;
    private const ushort RTM_SETLINK = 19, IFLA_PROTINFO = 12, IFLA_BRPORT_MODE = 4, NLA_F_NESTED = 0x8000;
    private const byte AF_BRIDGE = 7;
    private const ushort NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_REPLACE = 0x100, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400, NLM_F_DUMP = 0x300;
    private const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_GETADDR = 22, RTM_NEWROUTE = 24, RTM_GETROUTE = 26;
    private const ushort IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_MASTER = 10, IFLA_LINKINFO = 18, IFLA_NET_NS_FD = 28;
    private const ushort IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, VETH_INFO_PEER = 1;
    private const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2;
    private const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_TABLE = 15;
    private const byte AF_INET = 2, RT_TABLE_MAIN = 254, RTPROT_BOOT = 3, RT_SCOPE_UNIVERSE = 0, RTN_UNICAST = 1;
    public const uint IFF_UP = 1;

    private int _fd;
    private uint _seq;
    private readonly byte[] _recv = new byte[32768];

    private RtNetlink(int fd) => _fd = fd;

    /// <summary>A socket in the calling thread's network namespace (the daemon's: the host's).</summary>
    public static RtNetlink Open()
    {
        var fd = Native.socket(Native.AF_NETLINK, Native.SOCK_RAW | Native.SOCK_CLOEXEC, Native.NETLINK_ROUTE);
        if (fd < 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), "socket(AF_NETLINK)");
        return new RtNetlink(fd);
    }

    /// <summary>A socket in the network namespace <paramref name="nsFd"/> refers to (<see cref="NetworkNamespace"/>).</summary>
    public static RtNetlink OpenIn(int nsFd) => NetworkNamespace.Run(nsFd, Open);

    public void Dispose()
    {
        if (_fd >= 0) Native.close(_fd);
        _fd = -1;
    }

    // ------------------------------------------------------------------ transport

    private unsafe void Send(NetlinkMessage m, out uint seq)
    {
        seq = ++_seq;
        var bytes = m.Finish(seq);
        fixed (byte* p = bytes)
        {
            while (true)
            {
                var n = Native.send(_fd, p, bytes.Length, 0);
                if (n >= 0) return;
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Native.EINTR) throw new NetlinkException(errno, "netlink send");
            }
        }
    }

    private unsafe int Receive()
    {
        fixed (byte* p = _recv)
        {
            while (true)
            {
                var n = Native.recv(_fd, p, _recv.Length, 0);
                if (n >= 0) return (int)n;
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Native.EINTR) throw new NetlinkException(errno, "netlink receive");
            }
        }
    }

    /// <summary>Sends a request with NLM_F_ACK and returns 0 or the kernel's errno.</summary>
    private int Do(NetlinkMessage m)
    {
        Send(m, out var seq);
        while (true)
        {
            var n = Receive();
            for (var off = 0; off + 16 <= n;)
            {
                var len = (int)BinaryPrimitives.ReadUInt32LittleEndian(_recv.AsSpan(off));
                var type = BinaryPrimitives.ReadUInt16LittleEndian(_recv.AsSpan(off + 4));
                var mseq = BinaryPrimitives.ReadUInt32LittleEndian(_recv.AsSpan(off + 8));
                if (len < 16) break;
                if (mseq == seq && type == NLMSG_ERROR) return -BinaryPrimitives.ReadInt32LittleEndian(_recv.AsSpan(off + 16));
                off += (len + 3) & ~3;
            }
        }
    }

    private void Check(NetlinkMessage m, string what, params int[] ignored)
    {
        var errno = Do(m);
        if (errno != 0 && Array.IndexOf(ignored, errno) < 0) throw new NetlinkException(errno, what);
    }

    /// <summary>Sends a dump request and calls <paramref name="each"/> with the payload of every answer.</summary>
    private void Dump(NetlinkMessage m, ReadOnlySpanAction each, string what)
    {
        Send(m, out var seq);
        while (true)
        {
            var n = Receive();
            for (var off = 0; off + 16 <= n;)
            {
                var len = (int)BinaryPrimitives.ReadUInt32LittleEndian(_recv.AsSpan(off));
                var type = BinaryPrimitives.ReadUInt16LittleEndian(_recv.AsSpan(off + 4));
                var mseq = BinaryPrimitives.ReadUInt32LittleEndian(_recv.AsSpan(off + 8));
                if (len < 16 || off + len > n) break;
                if (mseq == seq)
                {
                    if (type == NLMSG_DONE) return;
                    if (type == NLMSG_ERROR)
                    {
                        var errno = -BinaryPrimitives.ReadInt32LittleEndian(_recv.AsSpan(off + 16));
                        if (errno != 0) throw new NetlinkException(errno, what);
                        return;
                    }
                    each(_recv.AsSpan(off + 16, len - 16));
                }
                off += (len + 3) & ~3;
            }
        }
    }

    private delegate void ReadOnlySpanAction(ReadOnlySpan<byte> payload);

    // ------------------------------------------------------------------ links

    public sealed record Link(int Index, string Name, int Mtu, uint Flags, int Master);

    /// <summary>The link called <paramref name="name"/>, or null.</summary>
    public Link? GetLink(string name)
    {
        var m = new NetlinkMessage(RTM_GETLINK, NLM_F_REQUEST).IfInfo().Attr(IFLA_IFNAME, name);
        Link? found = null;
        Send(m, out var seq);
        while (true)
        {
            var n = Receive();
            var off = 0;
            var len = (int)BinaryPrimitives.ReadUInt32LittleEndian(_recv);
            var type = BinaryPrimitives.ReadUInt16LittleEndian(_recv.AsSpan(4));
            if (BinaryPrimitives.ReadUInt32LittleEndian(_recv.AsSpan(8)) != seq) continue;
            if (type == NLMSG_ERROR)
            {
                var errno = -BinaryPrimitives.ReadInt32LittleEndian(_recv.AsSpan(16));
                if (errno is Native.ENODEV or 0) return null;
                throw new NetlinkException(errno, "get link " + name);
            }
            found = ParseLink(_recv.AsSpan(off + 16, Math.Min(len, n) - 16));
            return found;
        }
    }

    /// <summary>Every link of the namespace.</summary>
    public List<Link> Links()
    {
        var list = new List<Link>();
        Dump(new NetlinkMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP).IfInfo(), p => list.Add(ParseLink(p)), "list links");
        return list;
    }

    private static Link ParseLink(ReadOnlySpan<byte> p)
    {
        var index = BinaryPrimitives.ReadInt32LittleEndian(p[4..]);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(p[8..]);
        string name = ""; int mtu = 0, master = 0;
        var a = new AttrReader(p[16..]);
        while (a.Next())
        {
            switch (a.Type)
            {
                case IFLA_IFNAME: name = a.Text; break;
                case IFLA_MTU: mtu = (int)a.U32; break;
                case IFLA_MASTER: master = (int)a.U32; break;
            }
        }
        return new Link(index, name, mtu, flags, master);
    }

    /// <summary>Creates a Linux bridge (EEXIST is not an error: it is there already).</summary>
    public void CreateBridge(string name, int mtu)
    {
        var m = new NetlinkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).IfInfo()
            .Attr(IFLA_IFNAME, name);
        if (mtu > 0) m.Attr(IFLA_MTU, (uint)mtu);
        var info = m.Begin(IFLA_LINKINFO);
        m.Attr(IFLA_INFO_KIND, "bridge");
        m.End(info);
        Check(m, "create bridge " + name, Native.EEXIST);
    }

    /// <summary>
    /// Creates a veth pair in one request: <paramref name="hostName"/> here, enslaved to <paramref name="masterIndex"/>
    /// and up; its peer <paramref name="peerName"/> born directly in the namespace <paramref name="peerNsFd"/> with
    /// the MAC <paramref name="peerMac"/>, so nothing is moved between namespaces afterwards.
    /// </summary>
    public void CreateVeth(string hostName, int masterIndex, int mtu, string peerName, int peerNsFd, byte[]? peerMac)
    {
        var m = new NetlinkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).IfInfo(flags: IFF_UP, change: IFF_UP)
            .Attr(IFLA_IFNAME, hostName);
        if (mtu > 0) m.Attr(IFLA_MTU, (uint)mtu);
        if (masterIndex > 0) m.Attr(IFLA_MASTER, (uint)masterIndex);
        var info = m.Begin(IFLA_LINKINFO);
        m.Attr(IFLA_INFO_KIND, "veth");
        var data = m.Begin(IFLA_INFO_DATA);
        var peer = m.Begin(VETH_INFO_PEER);
        m.IfInfo();
        m.Attr(IFLA_IFNAME, peerName);
        if (mtu > 0) m.Attr(IFLA_MTU, (uint)mtu);
        if (peerMac is not null) m.Attr(IFLA_ADDRESS, peerMac);
        m.Attr(IFLA_NET_NS_FD, (uint)peerNsFd);
        m.End(peer);
        m.End(data);
        m.End(info);
        Check(m, $"create veth pair {hostName}/{peerName}");
    }

    /// <summary>Deletes a link by name; false when there was none.</summary>
    public bool DeleteLink(string name)
    {
        var errno = Do(new NetlinkMessage(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK).IfInfo().Attr(IFLA_IFNAME, name));
        if (errno is Native.ENODEV) return false;
        if (errno != 0) throw new NetlinkException(errno, "delete link " + name);
        return true;
    }

    /// <summary>Deletes a link by index; false when there was none.</summary>
    public bool DeleteLink(int index)
    {
        var errno = Do(new NetlinkMessage(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK).IfInfo(index));
        if (errno is Native.ENODEV) return false;
        if (errno != 0) throw new NetlinkException(errno, $"delete link {index}");
        return true;
    }

    public void SetUp(int index) =>
        Check(new NetlinkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK).IfInfo(index, IFF_UP, IFF_UP), $"set link {index} up");

    /// <summary>
    /// Puts bridge port <paramref name="index"/> in hairpin mode, through netlink rather than /sys/class/net: sysfs shows
    /// the links of the namespace it was mounted in, which need not be this process's.
    /// </summary>
    public void SetHairpin(int index)
    {
        var m = new NetlinkMessage(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK).IfInfo(index, family: AF_BRIDGE);
        var port = m.Begin((ushort)(IFLA_PROTINFO | NLA_F_NESTED));
        m.Attr(IFLA_BRPORT_MODE, [1]);
        m.End(port);
        Check(m, $"set bridge port {index} to hairpin mode");
    }

    public void SetMacAddress(int index, byte[] mac) =>
        Check(new NetlinkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK).IfInfo(index).Attr(IFLA_ADDRESS, mac), $"set link {index} address");

    public void SetMtu(int index, int mtu) =>
        Check(new NetlinkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK).IfInfo(index).Attr(IFLA_MTU, (uint)mtu), $"set link {index} mtu");

    // ------------------------------------------------------------------ addresses and routes

    /// <summary>Adds an IPv4 address (an existing equal one is not an error).</summary>
    public void AddAddress(int index, IPAddress address, int prefix)
    {
        var m = new NetlinkMessage(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
            .IfAddr(AF_INET, (byte)prefix, index).Attr(IFA_LOCAL, address).Attr(IFA_ADDRESS, address);
        Check(m, $"add address {address}/{prefix}", Native.EEXIST);
    }

    /// <summary>IPv4 addresses of a link (or of every link with 0) as (index, address, prefix).</summary>
    public List<(int Index, IPAddress Address, int Prefix)> Addresses(int index = 0)
    {
        var list = new List<(int, IPAddress, int)>();
        Dump(new NetlinkMessage(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP).IfAddr(AF_INET, 0, 0), p =>
        {
            var prefix = p[1];
            var idx = BinaryPrimitives.ReadInt32LittleEndian(p[4..]);
            if (index != 0 && idx != index) return;
            var a = new AttrReader(p[8..]);
            IPAddress? addr = null;
            while (a.Next())
                if (a.Type == IFA_LOCAL || (a.Type == IFA_ADDRESS && addr is null)) addr = new IPAddress(a.Value);
            if (addr is not null) list.Add((idx, addr, prefix));
        }, "list addresses");
        return list;
    }

    /// <summary>Adds the default route via <paramref name="gateway"/> (replacing one that exists).</summary>
    public void AddDefaultRoute(IPAddress gateway, int oif)
    {
        var m = new NetlinkMessage(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE)
            .RtMsg(AF_INET, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST)
            .Attr(RTA_GATEWAY, gateway).Attr(RTA_OIF, (uint)oif);
        Check(m, "add default route via " + gateway);
    }

    public sealed record Route(IPAddress Destination, int PrefixLength, IPAddress? Gateway, int OutputIndex);

    /// <summary>IPv4 routes of the main table.</summary>
    public List<Route> Routes()
    {
        var list = new List<Route>();
        Dump(new NetlinkMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP).RtMsg(AF_INET, 0, 0, 0, 0, 0), p =>
        {
            var dstLen = p[1];
            uint table = p[4];
            var type = p[7];
            IPAddress dst = IPAddress.Any;
            IPAddress? gw = null;
            var oif = 0;
            var a = new AttrReader(p[12..]);
            while (a.Next())
            {
                switch (a.Type)
                {
                    case RTA_DST: dst = new IPAddress(a.Value); break;
                    case RTA_GATEWAY: gw = new IPAddress(a.Value); break;
                    case RTA_OIF: oif = (int)a.U32; break;
                    case RTA_TABLE: table = a.U32; break;
                }
            }
            if (table == RT_TABLE_MAIN && type == RTN_UNICAST) list.Add(new Route(dst, dstLen, gw, oif));
        }, "list routes");
        return list;
    }
}
