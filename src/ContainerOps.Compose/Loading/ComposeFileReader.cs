using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Loading;

/// <summary>What one compose file declares, before files are merged.</summary>
internal sealed class ComposeFragment
{
    public string? Name { get; set; }
    public Dictionary<string, ServiceConfig> Services { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, NetworkConfig> Networks { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, VolumeConfig> Volumes { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, FileObjectConfig> Secrets { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, FileObjectConfig> Configs { get; } = new(StringComparer.Ordinal);
    public List<IncludeEntry> Includes { get; } = new();
}

internal sealed record IncludeEntry(List<string> Paths, string? ProjectDirectory, List<string> EnvFiles, Node Where);

/// <summary>Reads one compose file into a <see cref="ComposeFragment"/>: the top-level keys, every service (with
/// `extends` resolved, from this file or another), networks, volumes, secrets, configs and the `include` list.</summary>
internal sealed class ComposeFileReader
{
    private readonly Interpolator _interpolator;
    private readonly List<string> _warnings;
    private readonly Dictionary<string, Node> _roots = new(StringComparer.Ordinal);

    private readonly string _displayBase;

    public ComposeFileReader(Interpolator interpolator, List<string> warnings, string displayBase)
    {
        _displayBase = displayBase;
        _interpolator = interpolator;
        _warnings = warnings;
    }

    /// <summary>Reads <paramref name="path"/>; its relative paths resolve against <paramref name="baseDirectory"/>
    /// (the project directory: override files use the first file's directory, as the spec asks).</summary>
    public ComposeFragment Read(string path, string baseDirectory)
    {
        var root = Root(path, baseDirectory);
        var fragment = new ComposeFragment();
        if (root.IsNull) return fragment;
        foreach (var (key, value) in root.Entries())
        {
            if (key.StartsWith("x-", StringComparison.Ordinal)) continue;
            switch (key)
            {
                case "version": _warnings.Add($"{root.File.DisplayPath}: the attribute `version` is obsolete, it is ignored"); break;
                case "name": fragment.Name = value.String(); break;
                case "services":
                    if (value.IsNull) break;
                    foreach (var (name, service) in value.Entries())
                    {
                        CheckResourceName(service, name);
                        fragment.Services[name] = ReadService(root, name, service, new HashSet<string>(StringComparer.Ordinal));
                    }
                    break;
                case "networks":
                    if (value.IsNull) break;
                    foreach (var (name, n) in value.Entries()) fragment.Networks[name] = ReadNetwork(n);
                    break;
                case "volumes":
                    if (value.IsNull) break;
                    foreach (var (name, v) in value.Entries()) fragment.Volumes[name] = ReadVolume(v);
                    break;
                case "secrets":
                    if (value.IsNull) break;
                    foreach (var (name, s) in value.Entries()) fragment.Secrets[name] = ReadFileObject(s, isConfig: false);
                    break;
                case "configs":
                    if (value.IsNull) break;
                    foreach (var (name, c) in value.Entries()) fragment.Configs[name] = ReadFileObject(c, isConfig: true);
                    break;
                case "include":
                    foreach (var item in value.Items()) fragment.Includes.Add(ReadInclude(item));
                    break;
                default: throw value.Error("unknown top-level key (expected name, services, networks, volumes, secrets, configs, include or x-…)");
            }
        }
        return fragment;
    }

    private Node Root(string path, string baseDirectory)
    {
        var key = path + "\0" + baseDirectory;
        if (_roots.TryGetValue(key, out var cached)) return cached;
        var file = new FileContext(path, baseDirectory, _interpolator, _displayBase);
        var root = new Node(file.LoadRoot(), "", file);
        if (!root.IsNull && !root.IsMapping) throw root.Error("a compose file must be a mapping at the top");
        return _roots[key] = root;
    }

    private static void CheckResourceName(Node node, string name)
    {
        if (name.Length == 0 || !char.IsAsciiLetterOrDigit(name[0]) || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
            throw node.Error($"invalid service name \"{name}\": letters, digits, '_', '-' and '.', starting with a letter or digit");
    }

    /// <summary>A service, with `extends` applied: the base service (read in its own file's context) and this one merged.</summary>
    private ServiceConfig ReadService(Node root, string name, Node node, HashSet<string> chain)
    {
        chain.Add(root.File.Path + "#" + name);
        var local = ServiceReader.Read(name, node, _warnings);
        var ext = node.IsNull ? default : node.Entries().FirstOrDefault(e => e.Key == "extends").Value;
        if (ext.Yaml is null) return local;

        string baseName;
        string? baseFile = null;
        if (ext.IsScalar) baseName = ext.String();
        else
        {
            baseName = "";
            foreach (var (k, v) in ext.Entries())
                switch (k)
                {
                    case "service": baseName = v.String(); break;
                    case "file": baseFile = v.String(); break;
                    default: throw v.Error("unknown key (expected service, file)");
                }
            if (baseName.Length == 0) throw ext.Error("extends needs a service");
        }

        Node baseRoot = root;
        if (baseFile is not null)
        {
            var full = Path.GetFullPath(baseFile, Path.GetDirectoryName(root.File.Path)!);
            if (!File.Exists(full)) throw ext.Error($"extends: the file \"{baseFile}\" does not exist");
            baseRoot = Root(full, Path.GetDirectoryName(full)!);
        }
        var services = baseRoot.IsNull ? default : baseRoot.Entries().FirstOrDefault(e => e.Key == "services").Value;
        var baseNode = services.Yaml is not null && !services.IsNull ? services.Entries().FirstOrDefault(e => e.Key == baseName).Value : default;
        if (baseNode.Yaml is null)
            throw ext.Error($"extends: service \"{baseName}\" is not defined{(baseFile is null ? "" : $" in {baseFile}")}");
        // The cycle is named at the `extends` that closes it.
        if (chain.Contains(baseRoot.File.Path + "#" + baseName))
            throw ext.Error($"extends cycle: {string.Join(" -> ", chain.Select(c => c[(c.IndexOf('#') + 1)..]))} -> {baseName}");
        var baseService = ReadService(baseRoot, baseName, baseNode, chain);
        chain.Remove(root.File.Path + "#" + name);
        var merged = ServiceMerger.Merge(baseService, local);
        merged.Name = name;
        return merged;
    }

    private static NetworkConfig ReadNetwork(Node node)
    {
        var n = new NetworkConfig();
        if (node.IsNull) return n;
        foreach (var (key, value) in node.Entries())
        {
            if (key.StartsWith("x-", StringComparison.Ordinal)) continue;
            switch (key)
            {
                case "name": n.Name = value.String(); break;
                case "driver":
                    n.Driver = value.String();
                    if (n.Driver is not "bridge") throw value.Error($"driver \"{n.Driver}\" is not supported by containerops (bridge)");
                    break;
                case "external": n.External = ReadExternal(value, n); break;
                case "internal": n.Internal = value.Bool(); break;
                case "attachable": n.Attachable = value.Bool(); break;
                case "enable_ipv6": n.EnableIpv6 = value.Bool(); break;
                case "driver_opts":
                    foreach (var (k, v) in value.KeyValues()) n.DriverOpts[k] = v ?? "";
                    break;
                case "labels":
                    foreach (var (k, v) in value.KeyValues()) n.Labels[k] = v ?? "";
                    break;
                case "ipam":
                    foreach (var (k, v) in value.Entries())
                        switch (k)
                        {
                            case "driver": if (v.String() != "default") throw v.Error("only the default IPAM driver is supported"); break;
                            case "options": break;
                            case "config":
                                foreach (var pool in v.Items())
                                {
                                    var p = new IpamPool();
                                    foreach (var (pk, pv) in pool.Entries())
                                        switch (pk)
                                        {
                                            case "subnet": p.Subnet = pv.String(); break;
                                            case "ip_range": p.IpRange = pv.String(); break;
                                            case "gateway": p.Gateway = pv.String(); break;
                                            case "aux_addresses": break;
                                            default: ServiceReader.RejectUnknown(pv, pk, "subnet", "ip_range", "gateway", "aux_addresses"); break;
                                        }
                                    n.IpamConfig.Add(p);
                                }
                                break;
                            default: ServiceReader.RejectUnknown(v, k, "driver", "config", "options"); break;
                        }
                    break;
                default: throw value.Error("unknown key (expected name, driver, driver_opts, external, internal, attachable, enable_ipv6, ipam, labels)");
            }
        }
        return n;
    }

    private static VolumeConfig ReadVolume(Node node)
    {
        var v = new VolumeConfig();
        if (node.IsNull) return v;
        foreach (var (key, value) in node.Entries())
        {
            if (key.StartsWith("x-", StringComparison.Ordinal)) continue;
            switch (key)
            {
                case "name": v.Name = value.String(); break;
                case "driver":
                    v.Driver = value.String();
                    if (v.Driver is not "local") throw value.Error($"driver \"{v.Driver}\" is not supported by containerops (local)");
                    break;
                case "external": v.External = ReadExternal(value, v); break;
                case "driver_opts":
                    foreach (var (k, o) in value.KeyValues()) v.DriverOpts[k] = o ?? "";
                    break;
                case "labels":
                    foreach (var (k, l) in value.KeyValues()) v.Labels[k] = l ?? "";
                    break;
                default: throw value.Error("unknown key (expected name, driver, driver_opts, external, labels)");
            }
        }
        return v;
    }

    /// <summary>`external: true`, or the older `external: {name: …}`.</summary>
    private static bool ReadExternal(Node value, object target)
    {
        if (value.IsScalar) return value.Bool();
        foreach (var (k, v) in value.Entries())
        {
            if (k != "name") { ServiceReader.RejectUnknown(v, k, "name"); continue; }
            if (target is NetworkConfig n) n.Name = v.String();
            else if (target is VolumeConfig vol) vol.Name = v.String();
        }
        return true;
    }

    private static FileObjectConfig ReadFileObject(Node node, bool isConfig)
    {
        var f = new FileObjectConfig();
        foreach (var (key, value) in node.Entries())
        {
            if (key.StartsWith("x-", StringComparison.Ordinal)) continue;
            switch (key)
            {
                case "name": f.Name = value.String(); break;
                case "file": f.File = value.File.ResolvePath(value.String()); break;
                case "environment": f.Environment = value.String(); break;
                case "content" when isConfig: f.Content = value.String(); break;
                case "external": f.External = value.Bool(); break;
                case "labels" or "template_driver": break;
                default: throw value.Error(isConfig ? "unknown key (expected file, environment, content, external, name)" : "unknown key (expected file, environment, external, name)");
            }
        }
        if (f.External) throw node.Error("external secrets and configs need a swarm; containerops takes file, environment or content");
        if ((f.File is null ? 0 : 1) + (f.Environment is null ? 0 : 1) + (f.Content is null ? 0 : 1) != 1)
            throw node.Error(isConfig ? "needs exactly one of file, environment or content" : "needs exactly one of file or environment");
        return f;
    }

    private static IncludeEntry ReadInclude(Node node)
    {
        if (node.IsScalar) return new IncludeEntry(new() { node.String() }, null, new(), node);
        List<string>? paths = null;
        string? projectDirectory = null;
        var envFiles = new List<string>();
        foreach (var (key, value) in node.Entries())
            switch (key)
            {
                case "path": paths = value.StringList(allowSingle: true); break;
                case "project_directory": projectDirectory = value.String(); break;
                case "env_file": envFiles = value.StringList(allowSingle: true); break;
                default: ServiceReader.RejectUnknown(value, key, "path", "project_directory", "env_file"); break;
            }
        if (paths is null || paths.Count == 0) throw node.Error("an include entry needs a path");
        return new IncludeEntry(paths, projectDirectory, envFiles, node);
    }
}
