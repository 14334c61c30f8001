using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ContainerOps.Network.Dns;

/// <summary>
/// The name server of one user-defined network, listening on UDP and TCP port 53 of the network's gateway address. It answers
/// A and AAAA queries for the names of the network's running containers (name, short id, aliases) itself, and passes
/// every other query on to the host's resolvers (1 s each). Hand-written because it is small: one question per query,
/// answers from a dictionary, and relaying other queries as they are; no DNS library ships with .NET and a separate
/// server process would need its own configuration and lifecycle per network.
/// </summary>
public sealed class DnsResponder : IDisposable
{
    private const ushort TypeA = 1, TypeAAAA = 28, ClassIN = 1;
    private const int RcodeServFail = 2, RcodeNxDomain = 3, RcodeRefused = 5;
    private readonly Socket _socket;
    private readonly Socket? _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly IReadOnlyList<IPEndPoint> _upstreams;
    private readonly bool _forward;
    private readonly ConcurrentDictionary<string, IPAddress[]> _names = new(StringComparer.Ordinal);
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(1);

    public IPEndPoint Endpoint { get; }

    private DnsZone _zone = DnsZone.Empty;

    /// <summary>Names answered with authority before the containers' names (the cluster domain); swapped whole.</summary>
    public DnsZone Zone { get => Volatile.Read(ref _zone); set => Volatile.Write(ref _zone, value); }

    /// <summary>The TTL of the zone's answers: short, so that clients see endpoint changes at once (CoreDNS's is 5 s too).</summary>
    private const uint ZoneTtl = 5, NamesTtl = 600;

    /// <summary>The upstreams for queries from one client (a container's `--dns`), or null for the default ones.</summary>
    public Func<IPAddress, IReadOnlyList<IPEndPoint>?>? UpstreamsFor { get; set; }

    /// <param name="forward">False on internal networks: names of the outside world do not resolve there.</param>
    public DnsResponder(IPEndPoint listen, IReadOnlyList<IPEndPoint> upstreams, bool forward)
    {
        _upstreams = upstreams;
        _forward = forward;
        // TCP on the same address and port, for answers too large for a datagram and clients that ask over TCP only.
        // Without it (the port taken over TCP by something else) the server still answers over UDP. An ephemeral
        // port (0) is chosen per protocol, so it is chosen again until it is free over TCP as well.
        for (var attempt = 1; ; attempt++)
        {
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _socket.Bind(listen);
            Endpoint = (IPEndPoint)_socket.LocalEndPoint!;
            _tcp = ListenTcp(Endpoint);
            if (_tcp is not null || listen.Port != 0 || attempt == 20) break;
            _socket.Dispose();
        }
        _ = Task.Run(LoopAsync);
        if (_tcp is not null) _ = Task.Run(AcceptLoopAsync);
    }

    private static Socket? ListenTcp(IPEndPoint endpoint)
    {
        var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            tcp.Bind(endpoint);
            tcp.Listen(64);
            return tcp;
        }
        catch (SocketException)
        {
            tcp.Dispose();
            return null;
        }
    }

    /// <summary>Whether queries over TCP are answered too.</summary>
    public bool ServesTcp => _tcp is not null;

    /// <summary>Replaces the whole name table (lower-case names without the trailing dot).</summary>
    public void SetNames(IReadOnlyDictionary<string, IPAddress[]> names)
    {
        foreach (var key in _names.Keys) if (!names.ContainsKey(key)) _names.TryRemove(key, out _);
        foreach (var (k, v) in names) _names[k] = v;
    }

    public IReadOnlyCollection<string> Names => _names.Keys.ToList();

    private async Task LoopAsync()
    {
        var buffer = new byte[1500];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try { r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            var query = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            var client = r.RemoteEndPoint;
            _ = Task.Run(async () =>
            {
                try
                {
                    var answer = await AnswerAsync(query, ((IPEndPoint)client).Address);
                    if (answer is not null) await _socket.SendToAsync(answer, SocketFlags.None, client);
                }
                catch (Exception) { }
            });
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try { connection = await _tcp!.AcceptAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            _ = Task.Run(() => ServeTcpAsync(connection));
        }
    }

    /// <summary>DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message after its two-byte length, several queries on one
    /// connection, answered in turn with the same answers as over UDP but never truncated; a connection idle for 10 s
    /// is closed.</summary>
    private async Task ServeTcpAsync(Socket connection)
    {
        var client = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        await using var stream = new NetworkStream(connection, ownsSocket: true);
        var prefix = new byte[2];
        try
        {
            while (true)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                idle.CancelAfter(TimeSpan.FromSeconds(10));
                await stream.ReadExactlyAsync(prefix, idle.Token);
                var query = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
                await stream.ReadExactlyAsync(query, idle.Token);
                if (await AnswerAsync(query, client, ushort.MaxValue - 2) is not { } answer) return;
                var framed = new byte[answer.Length + 2];
                BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)answer.Length);
                answer.CopyTo(framed, 2);
                await stream.WriteAsync(framed, _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or EndOfStreamException) { }
    }

    /// <param name="maxSize">The largest answer the transport carries: 512 bytes over UDP (more records set TC), 64 KiB over TCP.</param>
    internal async Task<byte[]?> AnswerAsync(byte[] query, IPAddress? client = null, int maxSize = 512)
    {
        if (query.Length < 12) return null;
        var flags = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(2));
        if ((flags & 0x8000) != 0) return null; // a response, not a query
        var qdcount = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(4));
        if (qdcount != 1 || ((flags >> 11) & 0xF) != 0) return Error(query, RcodeRefused, 12);
        if (!TryReadName(query, 12, out var name, out var end) || end + 4 > query.Length) return Error(query, RcodeRefused, 12);
        var qtype = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(end));
        var qclass = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(end + 2));
        var questionEnd = end + 4;
        if (qclass == ClassIN && Zone.Lookup(name, qtype) is { } zoneAnswer)
            return zoneAnswer.NameExists ? Answer(query, questionEnd, zoneAnswer.Records, ZoneTtl, maxSize) : Error(query, RcodeNxDomain, questionEnd);
        if (qclass == ClassIN && _names.TryGetValue(name, out var addresses))
        {
            // A known container: A records for its addresses; AAAA and others answer "no data" (it has no IPv6 here).
            var records = qtype == TypeA ? addresses.Select(a => (DnsRecord)new ARecord(a)).ToList() : [];
            return Answer(query, questionEnd, records, NamesTtl, maxSize);
        }
        if (!_forward) return Error(query, RcodeNxDomain, questionEnd);
        var upstreams = (client is null ? null : UpstreamsFor?.Invoke(client)) ?? _upstreams;
        foreach (var upstream in upstreams)
        {
            try
            {
                using var s = new Socket(upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                await s.ConnectAsync(upstream);
                await s.SendAsync(query, SocketFlags.None);
                var reply = new byte[4096];
                using var cts = new CancellationTokenSource(_timeout);
                var n = await s.ReceiveAsync(reply, SocketFlags.None, cts.Token);
                if (n >= 12 && reply[0] == query[0] && reply[1] == query[1]) return reply[..n];
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException) { }
        }
        return Error(query, RcodeServFail, questionEnd);
    }

    private static bool TryReadName(byte[] m, int offset, out string name, out int end)
    {
        var sb = new StringBuilder();
        name = ""; end = offset;
        while (true)
        {
            if (offset >= m.Length) return false;
            int len = m[offset];
            if (len == 0) { end = offset + 1; break; }
            if ((len & 0xC0) != 0 || offset + 1 + len > m.Length) return false; // no compression in questions
            if (sb.Length > 0) sb.Append('.');
            sb.Append(Encoding.ASCII.GetString(m, offset + 1, len));
            offset += 1 + len;
            if (sb.Length > 255) return false;
        }
        name = sb.ToString().ToLowerInvariant();
        return true;
    }

    private static byte[] Header(byte[] query, int questionEnd, int rcode, int answers)
    {
        var buf = new byte[questionEnd];
        query.AsSpan(0, questionEnd).CopyTo(buf);
        var qflags = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(2));
        // QR, the query's opcode and RD, AA (we are the authority for these names), RA.
        var flags = (ushort)(0x8000 | (qflags & 0x7800) | 0x0400 | (qflags & 0x0100) | 0x0080 | rcode);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(2), flags);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(4), (ushort)(questionEnd > 12 ? 1 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(6), (ushort)answers);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(8), 0);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(10), 0);
        return buf;
    }

    private static byte[] Error(byte[] query, int rcode, int questionEnd) => Header(query, questionEnd, rcode, 0);

    /// <summary>The answer section: every record owned by the question's name (a pointer to it), as many as fit in
    /// <paramref name="maxSize"/> bytes (then TC, so that a client of a 512-byte UDP answer may ask again over TCP).</summary>
    private static byte[] Answer(byte[] query, int questionEnd, IReadOnlyList<DnsRecord> records, uint ttl, int maxSize)
    {
        var body = new List<byte>(questionEnd + records.Count * 16);
        var count = 0;
        var truncated = false;
        Span<byte> fixedPart = stackalloc byte[10];
        foreach (var r in records)
        {
            var rdata = RData(r);
            if (questionEnd + body.Count + 12 + rdata.Length > maxSize) { truncated = true; break; }
            body.Add(0xC0); body.Add(0x0C); // the name of the question
            BinaryPrimitives.WriteUInt16BigEndian(fixedPart, r.Type);
            BinaryPrimitives.WriteUInt16BigEndian(fixedPart[2..], ClassIN);
            BinaryPrimitives.WriteUInt32BigEndian(fixedPart[4..], ttl);
            BinaryPrimitives.WriteUInt16BigEndian(fixedPart[8..], (ushort)rdata.Length);
            body.AddRange(fixedPart.ToArray());
            body.AddRange(rdata);
            count++;
        }
        var header = Header(query, questionEnd, 0, count);
        if (truncated) header[2] |= 0x02;
        return [.. header, .. body];
    }

    private static byte[] RData(DnsRecord r) => r switch
    {
        ARecord a => a.Address.GetAddressBytes(),
        CnameRecord c => EncodeName(c.Target),
        PtrRecord p => EncodeName(p.Target),
        SrvRecord s => [(byte)(s.Priority >> 8), (byte)s.Priority, (byte)(s.Weight >> 8), (byte)s.Weight, (byte)(s.Port >> 8), (byte)s.Port, .. EncodeName(s.Target)],
        _ => [],
    };

    private static byte[] EncodeName(string name)
    {
        var bytes = new List<byte>(name.Length + 2);
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return [.. bytes];
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _tcp?.Dispose();
    }
}
