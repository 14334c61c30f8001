using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Spec;

/// <summary>One mount a container asked for (`-v`, `--mount`, `--tmpfs`, `--volumes-from`, the image's VOLUME), in one
/// form whatever flag it came from. The daemon keeps these in the container's record and fills in
/// <see cref="Source"/> of volumes (the volume's data directory) before the spec is built.</summary>
public sealed class ContainerMount
{
    /// <summary>bind | volume | tmpfs</summary>
    public string Type { get; set; } = "bind";
    /// <summary>The volume's name (volumes; empty until an anonymous one is made).</summary>
    public string? Name { get; set; }
    /// <summary>Host path: the bind's source, or the volume's data directory.</summary>
    public string Source { get; set; } = "";
    public string Destination { get; set; } = "";
    public bool ReadOnly { get; set; }
    /// <summary>The mode as given (Docker's Mode in inspect: "ro", "z", "nocopy"…).</summary>
    public string Mode { get; set; } = "";
    /// <summary>Bind propagation: rprivate (default), private, rshared, shared, rslave, slave.</summary>
    public string Propagation { get; set; } = "";
    /// <summary>Volumes: do not copy the image's content into an empty volume.</summary>
    public bool NoCopy { get; set; }
    /// <summary>Volumes made for this container alone (no name given): removed with `rm -v` and `--rm`.</summary>
    public bool Anonymous { get; set; }
    /// <summary>Binds from `-v`: a missing source directory is created (as Docker's -v does; --mount refuses it).</summary>
    public bool CreateSource { get; set; }
    /// <summary>Volumes to be created: the local driver's options and labels (`--mount volume-opt=`, volume-label=).</summary>
    public Dictionary<string, string>? DriverOptions { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    /// <summary>tmpfs: mount options (size=, mode=, noexec…).</summary>
    public List<string>? Options { get; set; }
    /// <summary>Where it came from, for error messages: "-v data:/x", "--mount …", "--tmpfs …", "VOLUME /x".</summary>
    public string Origin { get; set; } = "";
}

/// <summary>
/// HostConfig.Binds, Mounts and Tmpfs → <see cref="ContainerMount"/>s, validated as Docker validates them, each error
/// naming the field, the value and why. Pure: nothing is created here.
/// </summary>
public static class MountRequests
{
    private static readonly HashSet<string> Propagations = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

    public static List<ContainerMount> Parse(HostConfig hc, string? target)
    {
        var list = new List<ContainerMount>();
        foreach (var b in hc.Binds) list.Add(ParseBind(b, target));
        foreach (var m in hc.Mounts) list.Add(ParseMount(m, target));
        foreach (var t in hc.Tmpfs) list.Add(ParseTmpfs(t, target));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in list)
            if (!seen.Add(m.Destination))
                throw Invalid("DuplicateMountPoint", $"duplicate mount point: {m.Destination} ({m.Origin})", target, FieldOf(m));
        return list;
    }

    private static string FieldOf(ContainerMount m) =>
        m.Origin.StartsWith("--mount", StringComparison.Ordinal) ? "HostConfig.Mounts" : m.Origin.StartsWith("--tmpfs", StringComparison.Ordinal) ? "HostConfig.Tmpfs" : "HostConfig.Binds";

    /// <summary>`-v`: /ctr (anonymous volume), name:/ctr[:opts] (named volume), /host:/ctr[:opts] (bind).</summary>
    public static ContainerMount ParseBind(string bind, string? target)
    {
        const string field = "HostConfig.Binds";
        var origin = "-v " + bind;
        var parts = bind.Split(':');
        if (parts.Length > 3 || parts.Any(p => p.Length == 0))
            throw Invalid("InvalidVolumeSpec", $"-v '{bind}' is not [SOURCE:]DEST[:OPTIONS]", target, field);
        var m = new ContainerMount { Origin = origin };
        if (parts.Length == 1)
        {
            m.Type = "volume";
            m.Anonymous = true;
            m.Destination = Destination(parts[0], origin, target, field);
            return m;
        }
        var source = parts[0];
        m.Destination = Destination(parts[1], origin, target, field);
        if (source.StartsWith('/'))
        {
            m.Type = "bind";
            m.Source = Clean(source);
            m.CreateSource = true;
        }
        else
        {
            if (source.StartsWith('.') || source.Contains('/') || !IsVolumeName(source))
                throw Invalid("InvalidVolumeSpec", $"-v '{bind}': '{source}' is neither an absolute host path nor a volume name (letters, digits, '_', '.', '-')", target, field);
            m.Type = "volume";
            m.Name = source;
        }
        if (parts.Length == 3)
        {
            m.Mode = parts[2];
            var rwSeen = 0;
            foreach (var o in parts[2].Split(','))
            {
                switch (o)
                {
                    case "ro": m.ReadOnly = true; rwSeen++; break;
                    case "rw": m.ReadOnly = false; rwSeen++; break;
                    case "z" or "Z": break; // SELinux relabelling: nothing to do without SELinux
                    case "nocopy" when m.Type == "volume": m.NoCopy = true; break;
                    case var p when Propagations.Contains(p) && m.Type == "bind": m.Propagation = p; break;
                    default:
                        throw Invalid("InvalidVolumeSpec", $"-v '{bind}': option '{o}' is not valid for a {m.Type} (ro, rw, z, Z{(m.Type == "volume" ? ", nocopy" : ", [r]private, [r]shared, [r]slave")})", target, field);
                }
            }
            if (rwSeen > 1) throw Invalid("InvalidVolumeSpec", $"-v '{bind}': give ro or rw once", target, field);
        }
        return m;
    }

    /// <summary>`--mount` (HostConfig.Mounts).</summary>
    public static ContainerMount ParseMount(Mount mount, string? target)
    {
        const string field = "HostConfig.Mounts";
        var origin = $"--mount type={mount.Type},target={mount.Target}";
        var m = new ContainerMount { Type = mount.Type, ReadOnly = mount.ReadOnly, Origin = origin, Mode = mount.ReadOnly ? "ro" : "" };
        m.Destination = Destination(mount.Target, origin, target, field);
        switch (mount.Type)
        {
            case "bind":
                if (string.IsNullOrEmpty(mount.Source) || !mount.Source.StartsWith('/'))
                    throw Invalid("InvalidMount", $"{origin}: a bind needs an absolute source path (got '{mount.Source}')", target, field);
                if (mount.VolumeOptions is not null || mount.TmpfsOptions is not null)
                    throw Invalid("InvalidMount", $"{origin}: volume and tmpfs options do not apply to a bind", target, field);
                m.Source = Clean(mount.Source);
                m.CreateSource = mount.BindOptions?.CreateMountpoint == true;
                if (mount.BindOptions?.Propagation is { Length: > 0 } p)
                {
                    if (!Propagations.Contains(p))
                        throw Invalid("InvalidMount", $"{origin}: bind-propagation '{p}' is not one of private, rprivate, shared, rshared, slave, rslave", target, field);
                    m.Propagation = p;
                }
                break;
            case "volume":
                if (mount.BindOptions is not null || mount.TmpfsOptions is not null)
                    throw Invalid("InvalidMount", $"{origin}: bind and tmpfs options do not apply to a volume", target, field);
                if (string.IsNullOrEmpty(mount.Source)) m.Anonymous = true;
                else if (!IsVolumeName(mount.Source))
                    throw Invalid("InvalidMount", $"{origin}: '{mount.Source}' is not a volume name (letters, digits, '_', '.', '-')", target, field);
                else m.Name = mount.Source;
                m.NoCopy = mount.VolumeOptions?.NoCopy == true;
                if (mount.VolumeOptions?.DriverConfig is { } dc)
                {
                    if (dc.Name is { Length: > 0 } d && d != "local")
                        throw Invalid("InvalidMount", $"{origin}: volume driver '{d}' is not supported (local)", target, field);
                    if (dc.Options is { Count: > 0 } o) m.DriverOptions = new(o);
                }
                if (mount.VolumeOptions?.Labels is { Count: > 0 } labels) m.Labels = new(labels);
                break;
            case "tmpfs":
                if (!string.IsNullOrEmpty(mount.Source))
                    throw Invalid("InvalidMount", $"{origin}: a tmpfs has no source (got '{mount.Source}')", target, field);
                if (mount.BindOptions is not null || mount.VolumeOptions is not null)
                    throw Invalid("InvalidMount", $"{origin}: bind and volume options do not apply to a tmpfs", target, field);
                m.Options = ["nosuid", "nodev", "noexec"];
                if (mount.TmpfsOptions is { } t)
                {
                    if (t.SizeBytes < 0) throw Invalid("InvalidMount", $"{origin}: tmpfs-size {t.SizeBytes} is negative", target, field);
                    if (t.Mode is < 0 or > 0xfff) throw Invalid("InvalidMount", $"{origin}: tmpfs-mode {Convert.ToString(t.Mode, 8)} is not a permission mode", target, field);
                    if (t.SizeBytes > 0) m.Options.Add("size=" + t.SizeBytes);
                    if (t.Mode > 0) m.Options.Add("mode=" + Convert.ToString(t.Mode, 8));
                }
                if (mount.ReadOnly) m.Options.Add("ro");
                break;
            default:
                throw Invalid("InvalidMount", $"{origin}: type '{mount.Type}' is not bind, volume or tmpfs", target, field);
        }
        return m;
    }

    /// <summary>`--tmpfs /path[:options]`: Docker's noexec,nosuid,nodev first, then what was given (size=, mode=, exec…).</summary>
    public static ContainerMount ParseTmpfs(string tmpfs, string? target)
    {
        const string field = "HostConfig.Tmpfs";
        var origin = "--tmpfs " + tmpfs;
        var idx = tmpfs.IndexOf(':');
        var path = idx < 0 ? tmpfs : tmpfs[..idx];
        var m = new ContainerMount { Type = "tmpfs", Origin = origin, Destination = Destination(path, origin, target, field), Options = ["noexec", "nosuid", "nodev"] };
        if (idx >= 0)
            foreach (var o in tmpfs[(idx + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                var (key, value) = o.IndexOf('=') is var eq and > 0 ? (o[..eq], o[(eq + 1)..]) : (o, "");
                var ok = key switch
                {
                    "size" => SizeValid(value),
                    "mode" => value.Length > 0 && value.All(c => c is >= '0' and <= '7') && value.Length <= 4,
                    "uid" or "gid" or "nr_inodes" or "nr_blocks" => value.Length > 0 && value.TrimEnd('k', 'm', 'g', 'K', 'M', 'G').All(char.IsAsciiDigit),
                    "ro" or "rw" or "exec" or "noexec" or "suid" or "nosuid" or "dev" or "nodev" or "sync" or "async" or "noatime" or "relatime" or "strictatime" => value.Length == 0,
                    _ => false,
                };
                if (!ok) throw Invalid("InvalidTmpfs", $"--tmpfs '{tmpfs}': option '{o}' is not valid (size=N[k|m|g], mode=OCTAL, uid=, gid=, nr_inodes=, ro, exec…)", target, field);
                m.Options.Add(o);
            }
        m.ReadOnly = m.Options.LastOrDefault(o => o is "ro" or "rw") == "ro";
        return m;
    }

    private static bool SizeValid(string v) =>
        v.Length > 0 && (v.EndsWith('%') ? v[..^1].All(char.IsAsciiDigit) && v.Length > 1 : v.TrimEnd('k', 'm', 'g', 'K', 'M', 'G') is { Length: > 0 } n && n.All(char.IsAsciiDigit));

    private static bool IsVolumeName(string s) =>
        s.Length is >= 2 and <= 255 && char.IsAsciiLetterOrDigit(s[0]) && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    private static string Destination(string path, string origin, string? target, string field)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/'))
            throw Invalid("InvalidMountDestination", $"{origin}: the destination '{path}' must be an absolute path in the container", target, field);
        var clean = Clean(path);
        if (clean == "/")
            throw Invalid("InvalidMountDestination", $"{origin}: the destination cannot be /", target, field);
        return clean;
    }

    /// <summary>/a//b/./c/ → /a/b/c (".." is kept out: it is refused).</summary>
    private static string Clean(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToList();
        if (parts.Contains(".."))
            throw Invalid("InvalidMountPath", $"path '{path}' may not contain '..'", null, null);
        return "/" + string.Join('/', parts);
    }

    /// <summary>The OCI mount of a resolved request: binds and volumes as recursive binds, tmpfs as tmpfs.</summary>
    public static OciMount ToOci(ContainerMount m)
    {
        if (m.Type == "tmpfs")
            return new OciMount { Destination = m.Destination, Type = "tmpfs", Source = "tmpfs", Options = new(m.Options ?? ["noexec", "nosuid", "nodev"]) };
        var options = new List<string> { "rbind", m.Propagation is { Length: > 0 } p ? p : "rprivate" };
        if (m.ReadOnly) options.Add("ro");
        return new OciMount { Destination = m.Destination, Type = "bind", Source = m.Source, Options = options };
    }

    private static ContainerOpsException Invalid(string id, string message, string? target, string? field) =>
        new(ErrorKind.InvalidArgument, id, message, target, field);
}
