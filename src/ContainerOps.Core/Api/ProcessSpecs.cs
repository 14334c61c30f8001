namespace ContainerOps.Core.Api;

/// <summary>docker's `--ulimit` and `--device` notations, turned into HostConfig entries. Shared by the CLI and
/// New-Container -Ulimit/-Device; each throws ArgumentException naming the value and the form expected.</summary>
public static class ProcessSpecs
{
    /// <summary>NAME=SOFT[:HARD] (the hard limit is the soft one when not given; -1 is unlimited).</summary>
    public static Ulimit ParseUlimit(string text)
    {
        var eq = text.IndexOf('=');
        var name = eq > 0 ? text[..eq] : "";
        var parts = eq > 0 ? text[(eq + 1)..].Split(':') : [];
        if (name.Length == 0 || parts.Length is 0 or > 2 || !long.TryParse(parts[0], out var soft)
            || (parts.Length == 2 ? !long.TryParse(parts[1], out var hard) : !long.TryParse(parts[0], out hard)))
            throw new ArgumentException($"invalid ulimit \"{text}\": expected NAME=SOFT[:HARD] with numbers (nofile=1024:2048)");
        return new Ulimit { Name = name, Soft = soft, Hard = hard };
    }

    /// <summary>/host[:/container[:permissions]], permissions a combination of r, w and m.</summary>
    public static DeviceMapping ParseDevice(string text)
    {
        var parts = text.Split(':');
        if (parts.Length > 3 || parts[0].Length == 0)
            throw new ArgumentException($"invalid device \"{text}\": expected /host[:/container[:rwm]]");
        var mapping = new DeviceMapping { PathOnHost = parts[0], PathInContainer = parts[0] };
        if (parts.Length == 2 && parts[1].Length > 0 && parts[1].All(ch => ch is 'r' or 'w' or 'm')) mapping.CgroupPermissions = parts[1];
        else if (parts.Length >= 2) mapping.PathInContainer = parts[1];
        if (parts.Length == 3) mapping.CgroupPermissions = parts[2];
        return mapping;
    }
}
