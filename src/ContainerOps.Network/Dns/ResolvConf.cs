using System.Net;
using System.Text;

namespace ContainerOps.Network.Dns;

/// <summary>What of a resolv.conf containers get: its name servers, search domains and options. Other lines (comments,
/// sortlist) are not carried over.</summary>
public sealed record ResolvConf(IReadOnlyList<string> Nameservers, IReadOnlyList<string> Search, IReadOnlyList<string> Options)
{
    /// <summary>systemd-resolved's stub listener: it answers in the host's network namespace only.</summary>
    public const string SystemdStub = "127.0.0.53";

    /// <summary>Docker's name servers for a container the host's resolv.conf leaves without one it can reach: Google's
    /// public DNS, as dockerd's resolvconf package falls back to.</summary>
    public static readonly IReadOnlyList<string> FallbackNameservers = ["8.8.8.8", "8.8.4.4"];

    public static readonly ResolvConf Empty = new([], [], []);

    public static ResolvConf Parse(string text)
    {
        var nameservers = new List<string>();
        IReadOnlyList<string> search = [];
        var options = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            switch (fields)
            {
                case ["nameserver", var address, ..] when IPAddress.TryParse(address, out _): nameservers.Add(address); break;
                // resolv.conf(5): search and domain replace each other, the last one wins.
                case ["search" or "domain", .. var domains]: search = domains; break;
                case ["options", .. var values]: options.AddRange(values); break;
            }
        }
        return new ResolvConf(nameservers, search, options);
    }

    /// <summary>The file's, or <see cref="Empty"/> when there is none.</summary>
    public static ResolvConf Load(string path) => File.Exists(path) ? Parse(File.ReadAllText(path)) : Empty;

    public static bool IsLoopback(string nameserver) => IPAddress.TryParse(nameserver, out var ip) && IPAddress.IsLoopback(ip);

    public bool NamesOnlyTheSystemdStub => Nameservers is [SystemdStub];

    /// <summary>A container's --dns, --dns-search and --dns-option, each replacing what it names when given.</summary>
    public ResolvConf Override(IReadOnlyList<string> nameservers, IReadOnlyList<string> search, IReadOnlyList<string> options) =>
        new(nameservers.Count > 0 ? nameservers : Nameservers, search.Count > 0 ? search : Search, options.Count > 0 ? options : Options);

    public string Render()
    {
        var text = new StringBuilder();
        foreach (var n in Nameservers) text.Append("nameserver ").Append(n).Append('\n');
        // `--dns-search .` asks for no search domains, as with Docker.
        if (Search.Count > 0 && Search is not ["."]) text.Append("search ").AppendJoin(' ', Search).Append('\n');
        if (Options.Count > 0) text.Append("options ").AppendJoin(' ', Options).Append('\n');
        return text.ToString();
    }
}
