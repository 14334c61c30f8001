using System.Text.Json;
using ContainerOps.Core.Security;

namespace ContainerOps.Runtime.Spec;

/// <summary>
/// Reads a config.json into <see cref="OciSpec"/> from a parsed <see cref="JsonDocument"/>. Why not the serializer:
/// building its metadata for the spec's types costs about 3 ms on every start of `containerops-runtime`, more than the
/// rest of reading and checking the bundle; a document walk costs a tenth of that. Names are matched exactly, as the
/// spec writes them; members it does not act on are skipped, and unknown top-level and `linux` members are kept in
/// <c>Extra</c> as the serializer did. A value of the wrong kind is a <see cref="JsonException"/> naming its path.
/// </summary>
public static class OciSpecReader
{
    public static OciSpec Read(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json);
        var spec = new OciSpec();
        foreach (var (name, value, path) in Members(document.RootElement, "$"))
        {
            switch (name)
            {
                case "ociVersion": spec.OciVersion = String(value, path) ?? spec.OciVersion; break;
                case "process": spec.Process = Object(value, path, Process); break;
                case "root": spec.Root = Object(value, path, Root); break;
                case "hostname": spec.Hostname = String(value, path); break;
                case "domainname": spec.Domainname = String(value, path); break;
                case "mounts": spec.Mounts = List(value, path, (v, p) => Object(v, p, Mount)!) ?? spec.Mounts; break;
                case "linux": spec.Linux = Object(value, path, Linux); break;
                case "annotations": spec.Annotations = StringMap(value, path); break;
                case "hooks": spec.Hooks = Object(value, path, Hooks); break;
                default: (spec.Extra ??= new())[name] = value.Clone(); break;
            }
        }
        return spec;
    }

    private static OciHooks Hooks(JsonElement element, string at)
    {
        var hooks = new OciHooks();
        foreach (var (name, value, path) in Members(element, at))
        {
            var list = List(value, path, (v, p) => Object(v, p, Hook)!);
            switch (name)
            {
                case "prestart": hooks.Prestart = list; break;
                case "createRuntime": hooks.CreateRuntime = list; break;
                case "createContainer": hooks.CreateContainer = list; break;
                case "startContainer": hooks.StartContainer = list; break;
                case "poststart": hooks.Poststart = list; break;
                case "poststop": hooks.Poststop = list; break;
            }
        }
        return hooks;
    }

    private static OciHook Hook(JsonElement element, string at)
    {
        var hook = new OciHook();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "path": hook.Path = String(value, path) ?? ""; break;
                case "args": hook.Args = Strings(value, path); break;
                case "env": hook.Env = Strings(value, path); break;
                case "timeout": hook.Timeout = NullOr(value, path, (v, p) => (int)Int64(v, p)); break;
            }
        }
        if (!System.IO.Path.IsPathRooted(hook.Path)) throw new JsonException($"{at}.path: a hook's path must be absolute, not '{hook.Path}'");
        return hook;
    }

    /// <summary>A process object alone, as OCI `exec --process FILE` takes it.</summary>
    public static OciProcess ReadProcess(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json);
        return Process(document.RootElement, "$");
    }

    private static OciProcess Process(JsonElement element, string at)
    {
        var process = new OciProcess();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "terminal": process.Terminal = Bool(value, path); break;
                case "user": process.User = Object(value, path, User) ?? process.User; break;
                case "args": process.Args = Strings(value, path) ?? process.Args; break;
                case "env": process.Env = Strings(value, path) ?? process.Env; break;
                case "cwd": process.Cwd = String(value, path) ?? process.Cwd; break;
                case "capabilities": process.Capabilities = Object(value, path, Capabilities); break;
                case "rlimits": process.Rlimits = List(value, path, (v, p) => Object(v, p, Rlimit)!); break;
                case "noNewPrivileges": process.NoNewPrivileges = Bool(value, path); break;
                case "oomScoreAdj": process.OomScoreAdj = NullOr(value, path, Int32); break;
            }
        }
        return process;
    }

    private static OciUser User(JsonElement element, string at)
    {
        var user = new OciUser();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "uid": user.Uid = UInt32(value, path); break;
                case "gid": user.Gid = UInt32(value, path); break;
                case "umask": user.Umask = NullOr(value, path, UInt32); break;
                case "additionalGids": user.AdditionalGids = List(value, path, UInt32); break;
            }
        }
        return user;
    }

    private static OciCapabilities Capabilities(JsonElement element, string at)
    {
        var caps = new OciCapabilities();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "bounding": caps.Bounding = Strings(value, path); break;
                case "effective": caps.Effective = Strings(value, path); break;
                case "inheritable": caps.Inheritable = Strings(value, path); break;
                case "permitted": caps.Permitted = Strings(value, path); break;
                case "ambient": caps.Ambient = Strings(value, path); break;
            }
        }
        return caps;
    }

    private static OciRlimit Rlimit(JsonElement element, string at)
    {
        var limit = new OciRlimit();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "type": limit.Type = String(value, path) ?? ""; break;
                case "hard": limit.Hard = UInt64(value, path); break;
                case "soft": limit.Soft = UInt64(value, path); break;
            }
        }
        return limit;
    }

    private static OciRoot Root(JsonElement element, string at)
    {
        var root = new OciRoot();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "path": root.Path = String(value, path) ?? root.Path; break;
                case "readonly": root.Readonly = Bool(value, path); break;
            }
        }
        return root;
    }

    private static OciMount Mount(JsonElement element, string at)
    {
        var mount = new OciMount();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "destination": mount.Destination = String(value, path) ?? ""; break;
                case "type": mount.Type = String(value, path); break;
                case "source": mount.Source = String(value, path); break;
                case "options": mount.Options = Strings(value, path); break;
            }
        }
        return mount;
    }

    private static OciLinux Linux(JsonElement element, string at)
    {
        var linux = new OciLinux();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "namespaces": linux.Namespaces = List(value, path, (v, p) => Object(v, p, Namespace)!) ?? linux.Namespaces; break;
                case "devices": linux.Devices = List(value, path, (v, p) => Object(v, p, Device)!); break;
                case "uidMappings": linux.UidMappings = List(value, path, (v, p) => Object(v, p, IdMapping)!); break;
                case "gidMappings": linux.GidMappings = List(value, path, (v, p) => Object(v, p, IdMapping)!); break;
                case "cgroupsPath": linux.CgroupsPath = String(value, path); break;
                case "resources": linux.Resources = Object(value, path, Resources); break;
                case "sysctl": linux.Sysctl = StringMap(value, path); break;
                case "maskedPaths": linux.MaskedPaths = Strings(value, path); break;
                case "readonlyPaths": linux.ReadonlyPaths = Strings(value, path); break;
                case "rootfsPropagation": linux.RootfsPropagation = String(value, path); break;
                case "seccomp": linux.Seccomp = value.ValueKind == JsonValueKind.Null ? null : SeccompProfile.Parse(value, path, oci: true); break;
                default: (linux.Extra ??= new())[name] = value.Clone(); break;
            }
        }
        return linux;
    }

    private static OciNamespace Namespace(JsonElement element, string at)
    {
        var ns = new OciNamespace();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "type": ns.Type = String(value, path) ?? ""; break;
                case "path": ns.Path = String(value, path); break;
            }
        }
        return ns;
    }

    private static OciIdMapping IdMapping(JsonElement element, string at)
    {
        var mapping = new OciIdMapping();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "containerID": mapping.ContainerId = UInt32(value, path); break;
                case "hostID": mapping.HostId = UInt32(value, path); break;
                case "size": mapping.Size = UInt32(value, path); break;
            }
        }
        return mapping;
    }

    private static OciDevice Device(JsonElement element, string at)
    {
        var device = new OciDevice();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "path": device.Path = String(value, path) ?? ""; break;
                case "type": device.Type = String(value, path) ?? device.Type; break;
                case "major": device.Major = Int64(value, path); break;
                case "minor": device.Minor = Int64(value, path); break;
                case "fileMode": device.FileMode = NullOr(value, path, UInt32); break;
                case "uid": device.Uid = NullOr(value, path, UInt32); break;
                case "gid": device.Gid = NullOr(value, path, UInt32); break;
            }
        }
        return device;
    }

    /// <summary>A linux.resources object alone, as OCI `update --resources FILE` takes it.</summary>
    public static OciResources ReadResources(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json);
        return Resources(document.RootElement, "$");
    }

    private static OciResources Resources(JsonElement element, string at)
    {
        var resources = new OciResources();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "devices": resources.Devices = List(value, path, (v, p) => Object(v, p, DeviceRule)!); break;
                case "memory": resources.Memory = Object(value, path, Memory); break;
                case "cpu": resources.Cpu = Object(value, path, Cpu); break;
                case "pids": resources.Pids = Object(value, path, Pids); break;
                case "blockIO": resources.BlockIo = Object(value, path, BlockIo); break;
                case "hugepageLimits": resources.HugepageLimits = List(value, path, (v, p) => Object(v, p, HugepageLimit)!); break;
                case "network": resources.Network = Object(value, path, Network); break;
                case "unified": resources.Unified = StringMap(value, path); break;
                case "rdma" when value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Any():
                    throw new JsonException($"{path}: RDMA limits are not supported by this runtime", path, null, null);
            }
        }
        return resources;
    }

    private static OciBlockIo BlockIo(JsonElement element, string at)
    {
        var io = new OciBlockIo();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "weight": io.Weight = NullOr(value, path, UInt16); break;
                case "leafWeight": io.LeafWeight = NullOr(value, path, UInt16); break;
                case "weightDevice": io.WeightDevice = List(value, path, (v, p) => Object(v, p, WeightDevice)!); break;
                case "throttleReadBpsDevice": io.ThrottleReadBpsDevice = List(value, path, (v, p) => Object(v, p, ThrottleDevice)!); break;
                case "throttleWriteBpsDevice": io.ThrottleWriteBpsDevice = List(value, path, (v, p) => Object(v, p, ThrottleDevice)!); break;
                case "throttleReadIOPSDevice": io.ThrottleReadIopsDevice = List(value, path, (v, p) => Object(v, p, ThrottleDevice)!); break;
                case "throttleWriteIOPSDevice": io.ThrottleWriteIopsDevice = List(value, path, (v, p) => Object(v, p, ThrottleDevice)!); break;
            }
        }
        return io;
    }

    private static OciWeightDevice WeightDevice(JsonElement element, string at)
    {
        var device = new OciWeightDevice();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "major": device.Major = Int64(value, path); break;
                case "minor": device.Minor = Int64(value, path); break;
                case "weight": device.Weight = NullOr(value, path, UInt16); break;
                case "leafWeight": device.LeafWeight = NullOr(value, path, UInt16); break;
            }
        }
        return device;
    }

    private static OciThrottleDevice ThrottleDevice(JsonElement element, string at)
    {
        var device = new OciThrottleDevice();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "major": device.Major = Int64(value, path); break;
                case "minor": device.Minor = Int64(value, path); break;
                case "rate": device.Rate = UInt64(value, path); break;
            }
        }
        return device;
    }

    private static OciHugepageLimit HugepageLimit(JsonElement element, string at)
    {
        var limit = new OciHugepageLimit();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "pageSize": limit.PageSize = String(value, path) ?? ""; break;
                case "limit": limit.Limit = UInt64(value, path); break;
            }
        }
        return limit;
    }

    private static OciNetwork Network(JsonElement element, string at)
    {
        var network = new OciNetwork();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "classID": network.ClassId = NullOr(value, path, UInt32); break;
                case "priorities": network.Priorities = List(value, path, (v, p) => Object(v, p, InterfacePriority)!); break;
            }
        }
        return network;
    }

    private static OciInterfacePriority InterfacePriority(JsonElement element, string at)
    {
        var priority = new OciInterfacePriority();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "name": priority.Name = String(value, path) ?? ""; break;
                case "priority": priority.Priority = UInt32(value, path); break;
            }
        }
        return priority;
    }

    private static OciDeviceRule DeviceRule(JsonElement element, string at)
    {
        var rule = new OciDeviceRule();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "allow": rule.Allow = Bool(value, path); break;
                case "type": rule.Type = String(value, path); break;
                case "major": rule.Major = NullOr(value, path, Int64); break;
                case "minor": rule.Minor = NullOr(value, path, Int64); break;
                case "access": rule.Access = String(value, path); break;
            }
        }
        return rule;
    }

    private static OciMemory Memory(JsonElement element, string at)
    {
        var memory = new OciMemory();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "limit": memory.Limit = NullOr(value, path, Int64); break;
                case "reservation": memory.Reservation = NullOr(value, path, Int64); break;
                case "swap": memory.Swap = NullOr(value, path, Int64); break;
                case "swappiness": memory.Swappiness = NullOr(value, path, UInt64); break;
                case "disableOOMKiller": memory.DisableOomKiller = NullOr(value, path, Bool); break;
                case "kernel": memory.Kernel = NullOr(value, path, Int64); break;
                case "kernelTCP": memory.KernelTcp = NullOr(value, path, Int64); break;
            }
        }
        return memory;
    }

    private static OciCpu Cpu(JsonElement element, string at)
    {
        var cpu = new OciCpu();
        foreach (var (name, value, path) in Members(element, at))
        {
            switch (name)
            {
                case "shares": cpu.Shares = NullOr(value, path, UInt64); break;
                case "quota": cpu.Quota = NullOr(value, path, Int64); break;
                case "period": cpu.Period = NullOr(value, path, UInt64); break;
                case "cpus": cpu.Cpus = String(value, path); break;
                case "mems": cpu.Mems = String(value, path); break;
            }
        }
        return cpu;
    }

    private static OciPids Pids(JsonElement element, string at)
    {
        var pids = new OciPids();
        foreach (var (name, value, path) in Members(element, at))
            if (name == "limit") pids.Limit = Int64(value, path);
        return pids;
    }

    // The members of an object with the JSON path of each, for error messages.
    private static IEnumerable<(string Name, JsonElement Value, string Path)> Members(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Expected(path, "an object", element);
        foreach (var member in element.EnumerateObject()) yield return (member.Name, member.Value, path + "." + member.Name);
    }

    private static T? Object<T>(JsonElement element, string path, Func<JsonElement, string, T> read) where T : class =>
        element.ValueKind == JsonValueKind.Null ? null : read(element, path);

    private static T? NullOr<T>(JsonElement element, string path, Func<JsonElement, string, T> read) where T : struct =>
        element.ValueKind == JsonValueKind.Null ? null : read(element, path);

    private static List<T>? List<T>(JsonElement element, string path, Func<JsonElement, string, T> read)
    {
        if (element.ValueKind == JsonValueKind.Null) return null;
        if (element.ValueKind != JsonValueKind.Array) throw Expected(path, "an array", element);
        var list = new List<T>(element.GetArrayLength());
        var i = 0;
        foreach (var item in element.EnumerateArray()) list.Add(read(item, $"{path}[{i++}]"));
        return list;
    }

    private static List<string>? Strings(JsonElement element, string path) => List(element, path, (v, p) => String(v, p) ?? throw Expected(p, "a string", v));

    private static Dictionary<string, string>? StringMap(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Null) return null;
        var map = new Dictionary<string, string>();
        foreach (var (name, value, at) in Members(element, path)) map[name] = String(value, at) ?? throw Expected(at, "a string", value);
        return map;
    }

    private static string? String(JsonElement element, string path) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Null => null,
        _ => throw Expected(path, "a string", element),
    };

    private static bool Bool(JsonElement element, string path) => element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Expected(path, "true or false", element),
    };

    private static uint UInt32(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetUInt32(out var value) ? value : throw Expected(path, "a whole number from 0 to 4294967295", element);

    private static ushort UInt16(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetUInt16(out var value) ? value : throw Expected(path, "a whole number from 0 to 65535", element);

    private static int Int32(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var value) ? value : throw Expected(path, "a 32-bit whole number", element);

    private static long Int64(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value) ? value : throw Expected(path, "a 64-bit whole number", element);

    private static ulong UInt64(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetUInt64(out var value) ? value : throw Expected(path, "a whole number from 0 to 2^64-1", element);

    private static JsonException Expected(string path, string what, JsonElement found)
    {
        var text = found.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? found.ValueKind.ToString().ToLowerInvariant() : found.GetRawText();
        if (text.Length > 40) text = text[..40] + "…";
        return new JsonException($"{path}: expected {what}, found {text}", path, null, null);
    }
}
