namespace ContainerOps.Core.Api;

/// <summary>docker's `-p` and `--expose` notations, turned into HostConfig.PortBindings and ExposedPorts.</summary>
public static class PortSpecs
{
    /// <summary>Adds the bindings of one `-p` value to <paramref name="h"/>.</summary>
    public static void AddPublish(HostConfig h, string spec)
    {
        foreach (var (key, binding) in ParsePublish(spec))
        {
            h.PortBindings ??= new();
            if (!h.PortBindings.TryGetValue(key, out var list)) h.PortBindings[key] = list = new();
            list.Add(binding);
        }
    }

    /// <summary>Adds the ports of one `--expose` value (PORT[-PORT][/proto]).</summary>
    public static void AddExpose(ContainerCreateRequest r, string spec)
    {
        var (range, proto) = SplitProto(spec);
        var (first, last) = ParseRange(range, spec);
        r.ExposedPorts ??= new();
        for (var p = first; p <= last; p++) r.ExposedPorts[$"{p}/{proto}"] = new EmptyObject();
    }

    /// <summary>`-p [ip:][hostPort:]containerPort[/proto]`, with ranges (8000-8009:80-89, or a host range for one port).</summary>
    public static List<(string Key, PortBinding Binding)> ParsePublish(string spec)
    {
        var (body, proto) = SplitProto(spec);
        var parts = body.Split(':');
        string ip = "", host = "", container;
        switch (parts.Length)
        {
            case 1: container = parts[0]; break;
            case 2: (host, container) = (parts[0], parts[1]); break;
            case 3: (ip, host, container) = (parts[0], parts[1], parts[2]); break;
            default: throw new ArgumentException($"invalid publish specification \"{spec}\": expected [ip:][hostPort:]containerPort[/proto]");
        }
        if (ip.Length > 0 && !System.Net.IPAddress.TryParse(ip, out _)) throw new ArgumentException($"invalid publish specification \"{spec}\": \"{ip}\" is not an IP address");
        var (cFirst, cLast) = ParseRange(container, spec);
        var result = new List<(string, PortBinding)>();
        if (host.Length == 0)
        {
            for (var p = cFirst; p <= cLast; p++) result.Add(($"{p}/{proto}", new PortBinding { HostIp = ip }));
            return result;
        }
        var (hFirst, hLast) = ParseRange(host, spec);
        if (cFirst == cLast && hLast > hFirst)
            throw new ArgumentException($"invalid publish specification \"{spec}\": a host port range needs a container port range of the same size");
        if (hLast - hFirst != cLast - cFirst)
            throw new ArgumentException($"invalid publish specification \"{spec}\": the host and container port ranges differ in size");
        for (var i = 0; i <= cLast - cFirst; i++)
            result.Add(($"{cFirst + i}/{proto}", new PortBinding { HostIp = ip, HostPort = (hFirst + i).ToString() }));
        return result;
    }

    private static (string Body, string Protocol) SplitProto(string spec)
    {
        var slash = spec.LastIndexOf('/');
        if (slash < 0) return (spec, "tcp");
        var proto = spec[(slash + 1)..].ToLowerInvariant();
        if (proto is not ("tcp" or "udp")) throw new ArgumentException($"invalid protocol \"{proto}\" in \"{spec}\": tcp or udp");
        return (spec[..slash], proto);
    }

    private static (int First, int Last) ParseRange(string text, string spec)
    {
        var bounds = text.Split('-');
        if (bounds.Length is 1 or 2 && int.TryParse(bounds[0], out var first) && int.TryParse(bounds[^1], out var last)
            && first is >= 1 and <= 65535 && last >= first && last <= 65535)
            return (first, last);
        throw new ArgumentException($"invalid port \"{text}\" in \"{spec}\": expected a port (1-65535) or a range such as 8000-8009");
    }
}
