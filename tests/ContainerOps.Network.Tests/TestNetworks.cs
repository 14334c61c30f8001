using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Network.Tests;

/// <summary>
/// A network manager of our own: a temporary state directory, bridge names and an nftables table nobody else uses,
/// name servers that forward nothing off this machine (upstream 127.0.0.1:9), and stand-in containers that are
/// processes in network namespaces of their own. Disposal removes every process, link, table and file it made.
/// </summary>
public sealed class TestNetworks : IDisposable
{
    private static int _subnetCounter = Random.Shared.Next(0, 200);
    public readonly string Tag = Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant();
    public readonly TempDir State = new("conet");
    private readonly List<Process> _processes = new();
    private readonly List<NetworkManager> _managers = new();
    public NetworkManager Manager { get; private set; }
    public string BridgePrefix => "ct" + Tag[..4];
    public string Table => "cotest_" + Tag;
    public string DefaultBridge => "ctb" + Tag;

    private readonly IPEndPoint _dnsUpstream;

    /// <param name="dnsUpstream">Where the name servers forward unknown names (127.0.0.1:9, where nothing listens, unless given).</param>
    public TestNetworks(IPEndPoint? dnsUpstream = null)
    {
        _dnsUpstream = dnsUpstream ?? new IPEndPoint(IPAddress.Loopback, 9);
        Manager = NewManager();
        Manager.Recover(new Dictionary<string, bool>());
    }

    public NetworkManager NewManager()
    {
        var m = new NetworkManager(new NetworkOptions
        {
            StateDirectory = Path.Combine(State.Path, "networks"), DefaultBridgeName = DefaultBridge, DefaultSubnet = NextSubnet(),
            NftTable = Table, BridgePrefix = BridgePrefix, DnsUpstreams = [_dnsUpstream],
        });
        _managers.Add(m);
        return m;
    }

    /// <summary>Starts over with a fresh manager on the same state, as a restarted daemon does.</summary>
    public NetworkManager Restart(IReadOnlyDictionary<string, bool> containers)
    {
        Manager.Dispose();
        Manager = NewManager();
        Manager.Recover(containers);
        return Manager;
    }

    /// <summary>A /24 of 10.213.0.0/16 no other test of this run has had.</summary>
    public static string NextSubnet() => $"10.213.{Interlocked.Increment(ref _subnetCounter) % 250 + 1}.0/24";

    public string CreateNetwork(string name, bool @internal = false) =>
        Manager.Create(new NetworkCreateRequest
        {
            Name = name + "-" + Tag, Internal = @internal, IPAM = new IPAM { Config = [new IPAMConfig { Subnet = NextSubnet() }] },
        }).Id;

    /// <summary>A stand-in container: <paramref name="command"/> in a new network namespace (its pid is the namespace's holder).</summary>
    public Process Spawn(params string[] command)
    {
        var psi = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--net");
        foreach (var a in command) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        _processes.Add(p);
        // unshare execs the command once the namespace exists.
        for (var i = 0; i < 200 && File.ReadAllText($"/proc/{p.Id}/cmdline").StartsWith("unshare", StringComparison.Ordinal); i++) Thread.Sleep(5);
        return p;
    }

    public Process Sleeper() => Spawn("/bin/busybox", "sleep", "600");

    /// <summary>Runs busybox inside the stand-in's network namespace; returns (exit code, output).</summary>
    public static (int Code, string Output) InNamespace(Process holder, string args, int timeoutMs = 20_000)
    {
        var psi = new ProcessStartInfo("nsenter", $"-t {holder.Id} -n /bin/busybox {args}")
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); return (-1, output + "timeout"); }
        return (p.ExitCode, output + err.Result);
    }

    /// <summary>An A query for <paramref name="name"/> to <paramref name="server"/>: the addresses of the answer and its rcode.</summary>
    public static (int Rcode, List<IPAddress> Addresses) QueryA(IPEndPoint server, string name, ushort type = 1)
    {
        var q = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (var label in name.Split('.')) { q.Add((byte)label.Length); q.AddRange(Encoding.ASCII.GetBytes(label)); }
        q.AddRange(new byte[] { 0, (byte)(type >> 8), (byte)type, 0, 1 });
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 3000 };
        s.Connect(server);
        s.Send(q.ToArray());
        var buf = new byte[1500];
        var n = s.Receive(buf);
        var rcode = buf[3] & 0xF;
        var answers = BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(6));
        var list = new List<IPAddress>();
        var at = q.Count;
        for (var i = 0; i < answers && at + 16 <= n; i++, at += 16) list.Add(new IPAddress(buf.AsSpan(at + 12, 4)));
        return (rcode, list);
    }

    public static IReadOnlyList<string> Links() => Directory.GetFileSystemEntries("/sys/class/net").Select(Path.GetFileName).ToList()!;

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try { if (!p.HasExited) { p.Kill(); p.WaitForExit(5000); } } catch (Exception) { }
            p.Dispose();
        }
        try
        {
            foreach (var n in Manager.List(null))
            {
                foreach (var c in n.Containers.Keys) try { Manager.Release(c); } catch (Exception) { }
                if (n.Name != NetworkManager.DefaultNetworkName) try { Manager.Remove(n.Id); } catch (Exception) { }
            }
            Manager.TearDown();
        }
        catch (Exception) { }
        foreach (var m in _managers) m.Dispose();
        // Whatever is still there of ours (a test that failed half-way) goes too.
        foreach (var link in Links().Where(l => l.StartsWith(BridgePrefix, StringComparison.Ordinal) || l == DefaultBridge))
            Shell.Run("ip", $"link del {link}", check: false);
        Shell.Run("nft", $"delete table inet {Table}", check: false);
        State.Dispose();
    }
}
