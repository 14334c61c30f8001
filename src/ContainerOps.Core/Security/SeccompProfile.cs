using System.Runtime.InteropServices;
using System.Text.Json;

namespace ContainerOps.Core.Security;

/// <summary>
/// A seccomp profile in Docker's JSON format, which is the OCI runtime spec's <c>linux.seccomp</c> plus what a profile
/// needs to serve every host and capability set: <c>archMap</c> (the architectures to add, by native architecture) and,
/// per rule, <c>includes</c>/<c>excludes</c> (capabilities, architectures, minimum kernel) and the older single
/// <c>name</c>. <see cref="Resolve"/> turns it into the OCI form for one container: those extras are gone, each rule
/// that applies is kept. The same type therefore serves as the OCI <c>linux.seccomp</c> section of a config.json.
/// </summary>
public sealed class SeccompProfile
{
    public string DefaultAction { get; set; } = "";
    public uint? DefaultErrnoRet { get; set; }
    public List<string>? Architectures { get; set; }
    public List<SeccompArchMap>? ArchMap { get; set; }
    public List<string>? Flags { get; set; }
    public string? ListenerPath { get; set; }
    public string? ListenerMetadata { get; set; }
    public List<SeccompSyscall>? Syscalls { get; set; }

    /// <summary>The OCI form for a container with the <paramref name="capabilities"/> (its bounding set, as Docker
    /// decides), on <paramref name="arch"/> (Docker's architecture names: amd64, arm64…; default this host's) and a
    /// kernel of <paramref name="kernel"/> (default this host's).</summary>
    public SeccompProfile Resolve(IEnumerable<string> capabilities, string? arch = null, Version? kernel = null)
    {
        arch ??= SeccompNames.HostArch;
        kernel ??= HostKernel;
        var caps = new HashSet<string>(capabilities.Select(SeccompNames.CapabilityName), StringComparer.Ordinal);
        var resolved = new SeccompProfile
        {
            DefaultAction = DefaultAction, DefaultErrnoRet = DefaultErrnoRet, Flags = Flags?.ToList(),
            ListenerPath = ListenerPath, ListenerMetadata = ListenerMetadata, Syscalls = new(),
        };
        if (Architectures is { Count: > 0 }) resolved.Architectures = Architectures.ToList();
        else if (ArchMap is not null && SeccompNames.ScmpArch(arch) is { } native)
        {
            foreach (var map in ArchMap)
                if (map.Architecture == native)
                    resolved.Architectures = new List<string> { map.Architecture }.Concat(map.SubArchitectures ?? new()).ToList();
        }
        foreach (var rule in Syscalls ?? new())
        {
            if (rule.Includes is { } inc)
            {
                if (inc.Arches is { Count: > 0 } && !inc.Arches.Contains(arch)) continue;
                if (inc.Caps is { Count: > 0 } && !inc.Caps.All(c => caps.Contains(SeccompNames.CapabilityName(c)))) continue;
                if (inc.MinKernel is { } min && kernel < SeccompNames.ParseKernel(min)) continue;
            }
            if (rule.Excludes is { } exc)
            {
                if (exc.Arches is { Count: > 0 } && exc.Arches.Contains(arch)) continue;
                if (exc.Caps is { Count: > 0 } && exc.Caps.Any(c => caps.Contains(SeccompNames.CapabilityName(c)))) continue;
                if (exc.MinKernel is { } below && kernel >= SeccompNames.ParseKernel(below)) continue;
            }
            var names = rule.Names is { Count: > 0 } list ? list.ToList() : new List<string> { rule.Name! };
            resolved.Syscalls.Add(new SeccompSyscall
            {
                Names = names, Action = rule.Action, ErrnoRet = rule.ErrnoRet,
                Args = rule.Args is { Count: > 0 } args ? args.Select(a => new SeccompArg { Index = a.Index, Value = a.Value, ValueTwo = a.ValueTwo, Op = a.Op }).ToList() : null,
            });
        }
        return resolved;
    }

    /// <summary>The running kernel's version (major.minor), as the profile's minKernel compares it.</summary>
    public static Version HostKernel
    {
        get
        {
            var v = Environment.OSVersion.Version;
            return new Version(Math.Max(0, v.Major), Math.Max(0, v.Minor));
        }
    }

    /// <summary>Reads a profile file's JSON (Docker's format). Errors are <see cref="JsonException"/>s whose message starts
    /// with the path of the member at fault (<c>syscalls[3].action: …</c>).</summary>
    public static SeccompProfile Parse(ReadOnlyMemory<byte> json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false });
        return Parse(document.RootElement, "", oci: false);
    }

    public static SeccompProfile Parse(string json) => Parse(System.Text.Encoding.UTF8.GetBytes(json));

    /// <summary>Reads a profile from <paramref name="element"/>; <paramref name="at"/> prefixes error paths. With
    /// <paramref name="oci"/> only the OCI members are read (a config.json's <c>linux.seccomp</c>); others are skipped.</summary>
    public static SeccompProfile Parse(JsonElement element, string at, bool oci)
    {
        var profile = new SeccompProfile();
        var seenAction = false;
        foreach (var (name, value, path) in Json.Members(element, at))
        {
            switch (name)
            {
                case "defaultAction": profile.DefaultAction = Action(value, path); seenAction = true; break;
                case "defaultErrnoRet": profile.DefaultErrnoRet = Json.NullOr(value, path, Json.UInt32); break;
                case "architectures":
                    profile.Architectures = Json.List(value, path, (v, p) => Known(Json.String(v, p), p, SeccompNames.Architectures, "architecture"));
                    break;
                case "archMap" when !oci: profile.ArchMap = Json.List(value, path, (v, p) => ReadArchMap(v, p)); break;
                case "flags": profile.Flags = Json.List(value, path, (v, p) => Known(Json.String(v, p), p, SeccompNames.Flags, "flag")); break;
                case "listenerPath": profile.ListenerPath = Json.NullableString(value, path); break;
                case "listenerMetadata": profile.ListenerMetadata = Json.NullableString(value, path); break;
                case "syscalls": profile.Syscalls = Json.List(value, path, (v, p) => Syscall(v, p, oci)); break;
            }
        }
        if (!seenAction) throw Json.Error(Json.Join(at, "defaultAction"), "missing: every profile names the action for calls no rule matches");
        if (profile.Architectures is { Count: > 0 } && profile.ArchMap is { Count: > 0 })
            throw Json.Error(Json.Join(at, "archMap"), "give either architectures or archMap, not both");
        CheckErrno(profile.DefaultAction, profile.DefaultErrnoRet, Json.Join(at, "defaultErrnoRet"));
        return profile;
    }

    private static SeccompArchMap ReadArchMap(JsonElement element, string at)
    {
        var map = new SeccompArchMap();
        foreach (var (name, value, path) in Json.Members(element, at))
        {
            if (name == "architecture") map.Architecture = Known(Json.String(value, path), path, SeccompNames.Architectures, "architecture");
            else if (name == "subArchitectures") map.SubArchitectures = Json.List(value, path, (v, p) => Known(Json.String(v, p), p, SeccompNames.Architectures, "architecture"));
        }
        if (map.Architecture.Length == 0) throw Json.Error(Json.Join(at, "architecture"), "missing");
        return map;
    }

    private static SeccompSyscall Syscall(JsonElement element, string at, bool oci)
    {
        var rule = new SeccompSyscall();
        var seenAction = false;
        foreach (var (name, value, path) in Json.Members(element, at))
        {
            switch (name)
            {
                case "name" when !oci: rule.Name = Json.NullableString(value, path); break;
                case "names": rule.Names = Json.List(value, path, Json.String); break;
                case "action": rule.Action = Action(value, path); seenAction = true; break;
                case "errnoRet": rule.ErrnoRet = Json.NullOr(value, path, Json.UInt32); break;
                case "args": rule.Args = Json.List(value, path, Arg); break;
                case "comment" when !oci: rule.Comment = Json.NullableString(value, path); break;
                case "includes" when !oci: rule.Includes = value.ValueKind == JsonValueKind.Null ? null : Filter(value, path); break;
                case "excludes" when !oci: rule.Excludes = value.ValueKind == JsonValueKind.Null ? null : Filter(value, path); break;
            }
        }
        if (!seenAction) throw Json.Error(Json.Join(at, "action"), "missing");
        if (rule.Name is { Length: > 0 } && rule.Names is { Count: > 0 })
            throw Json.Error(Json.Join(at, "name"), "give either name or names, not both");
        if (string.IsNullOrEmpty(rule.Name) && rule.Names is not { Count: > 0 })
            throw Json.Error(Json.Join(at, "names"), "missing: a rule names at least one system call");
        var i = 0;
        foreach (var n in rule.Names ?? new())
        {
            if (n.Length == 0 || n.Any(c => !(char.IsAsciiLetterOrDigit(c) || c == '_')))
                throw Json.Error($"{Json.Join(at, "names")}[{i}]", $"'{n}' is not a system call name");
            i++;
        }
        CheckErrno(rule.Action, rule.ErrnoRet, Json.Join(at, "errnoRet"));
        return rule;
    }

    private static SeccompArg Arg(JsonElement element, string at)
    {
        var arg = new SeccompArg();
        var seenOp = false;
        foreach (var (name, value, path) in Json.Members(element, at))
        {
            switch (name)
            {
                case "index":
                    arg.Index = Json.UInt32(value, path);
                    if (arg.Index > 5) throw Json.Error(path, $"{arg.Index} is out of range: a system call has arguments 0 to 5");
                    break;
                case "value": arg.Value = Json.UInt64(value, path); break;
                case "valueTwo": arg.ValueTwo = Json.UInt64(value, path); break;
                case "op": arg.Op = Known(Json.String(value, path), path, SeccompNames.Operators, "operator"); seenOp = true; break;
            }
        }
        if (!seenOp) throw Json.Error(Json.Join(at, "op"), "missing");
        return arg;
    }

    private static SeccompFilter Filter(JsonElement element, string at)
    {
        var filter = new SeccompFilter();
        foreach (var (name, value, path) in Json.Members(element, at))
        {
            switch (name)
            {
                case "caps": filter.Caps = Json.List(value, path, Json.String); break;
                case "arches": filter.Arches = Json.List(value, path, Json.String); break;
                case "minKernel":
                    filter.MinKernel = Json.NullableString(value, path);
                    if (filter.MinKernel is { } k && SeccompNames.TryParseKernel(k) is null)
                        throw Json.Error(path, $"'{k}' is not a kernel version like 4.8");
                    break;
            }
        }
        return filter;
    }

    private static string Action(JsonElement value, string path) => Known(Json.String(value, path), path, SeccompNames.Actions, "action");

    private static string Known(string value, string path, IReadOnlyCollection<string> known, string what) =>
        known.Contains(value) ? value : throw Json.Error(path, $"unknown {what} '{value}' (one of {string.Join(", ", known)})");

    private static void CheckErrno(string action, uint? errno, string path)
    {
        if (errno is not null && action is not ("SCMP_ACT_ERRNO" or "SCMP_ACT_TRACE"))
            throw Json.Error(path, $"an errno return is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}");
    }

    /// <summary>JsonDocument helpers: members with their paths, and values of the expected kind or an error naming the path.</summary>
    private static class Json
    {
        public static string Join(string at, string name) => at.Length == 0 ? name : at + "." + name;

        public static IEnumerable<(string Name, JsonElement Value, string Path)> Members(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Object) throw Expected(path.Length == 0 ? "(the profile)" : path, "an object", element);
            foreach (var member in element.EnumerateObject()) yield return (member.Name, member.Value, Join(path, member.Name));
        }

        public static T? NullOr<T>(JsonElement element, string path, Func<JsonElement, string, T> read) where T : struct =>
            element.ValueKind == JsonValueKind.Null ? null : read(element, path);

        public static List<T>? List<T>(JsonElement element, string path, Func<JsonElement, string, T> read)
        {
            if (element.ValueKind == JsonValueKind.Null) return null;
            if (element.ValueKind != JsonValueKind.Array) throw Expected(path, "an array", element);
            var list = new List<T>(element.GetArrayLength());
            var i = 0;
            foreach (var item in element.EnumerateArray()) list.Add(read(item, $"{path}[{i++}]"));
            return list;
        }

        public static string String(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Expected(path, "a string", element);

        public static string? NullableString(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.Null ? null : String(element, path);

        public static uint UInt32(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.Number && element.TryGetUInt32(out var value) ? value : throw Expected(path, "a whole number from 0 to 4294967295", element);

        public static ulong UInt64(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.Number && element.TryGetUInt64(out var value) ? value : throw Expected(path, "a whole number from 0 to 2^64-1", element);

        public static JsonException Error(string path, string message) => new($"{path}: {message}", path, null, null);

        private static JsonException Expected(string path, string what, JsonElement found)
        {
            var text = found.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? found.ValueKind.ToString().ToLowerInvariant() : found.GetRawText();
            if (text.Length > 40) text = text[..40] + "…";
            return Error(path, $"expected {what}, found {text}");
        }
    }
}

public sealed class SeccompArchMap
{
    public string Architecture { get; set; } = "";
    public List<string>? SubArchitectures { get; set; }
}

public sealed class SeccompSyscall
{
    /// <summary>Docker's older single-name form; <see cref="SeccompProfile.Resolve"/> folds it into <see cref="Names"/>.</summary>
    public string? Name { get; set; }
    public List<string>? Names { get; set; }
    public string Action { get; set; } = "";
    public uint? ErrnoRet { get; set; }
    public List<SeccompArg>? Args { get; set; }
    public string? Comment { get; set; }
    public SeccompFilter? Includes { get; set; }
    public SeccompFilter? Excludes { get; set; }
}

/// <summary>A condition on one argument: <c>arg[Index] Op Value</c>; for SCMP_CMP_MASKED_EQ, <c>(arg &amp; Value) == ValueTwo</c>.</summary>
public sealed class SeccompArg
{
    public uint Index { get; set; }
    public ulong Value { get; set; }
    public ulong ValueTwo { get; set; }
    public string Op { get; set; } = "";
}

/// <summary>When a rule of a Docker profile applies: every listed capability present (includes) or none (excludes),
/// the architecture listed or not, the kernel at least (includes) or below (excludes) a version.</summary>
public sealed class SeccompFilter
{
    public List<string>? Caps { get; set; }
    public List<string>? Arches { get; set; }
    public string? MinKernel { get; set; }
}

/// <summary>The names a profile may use, and this host's architecture in the two spellings profiles use.</summary>
public static class SeccompNames
{
    public static readonly string[] Actions =
    {
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
    };

    public static readonly string[] Operators =
    {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
    };

    public static readonly string[] Flags =
    {
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    };

    public static readonly string[] Architectures =
    {
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    };

    /// <summary>This host's architecture as Docker profiles name it in includes/excludes (Go's names: amd64, arm64…).</summary>
    public static string HostArch => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.X86 => "x86",
        Architecture.Arm64 => "arm64",
        Architecture.Arm => "arm",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        Architecture.LoongArch64 => "loong64",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>The SCMP_ARCH_ name of a Docker architecture name, or null.</summary>
    public static string? ScmpArch(string arch) => arch switch
    {
        "amd64" => "SCMP_ARCH_X86_64",
        "x86" or "386" => "SCMP_ARCH_X86",
        "x32" => "SCMP_ARCH_X32",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "s390x" => "SCMP_ARCH_S390X",
        "s390" => "SCMP_ARCH_S390",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "ppc64" => "SCMP_ARCH_PPC64",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mips64n32" => "SCMP_ARCH_MIPS64N32",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "mipsel64n32" => "SCMP_ARCH_MIPSEL64N32",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => null,
    };

    /// <summary>"SYS_ADMIN", "sys_admin" and "CAP_SYS_ADMIN" all name CAP_SYS_ADMIN.</summary>
    public static string CapabilityName(string name)
    {
        var upper = name.Trim().ToUpperInvariant();
        return upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper : "CAP_" + upper;
    }

    public static Version? TryParseKernel(string text)
    {
        var parts = text.Split('.');
        if (parts.Length is < 1 or > 3 || !int.TryParse(parts[0], out var major) || major < 0) return null;
        var minor = 0;
        if (parts.Length > 1 && (!int.TryParse(parts[1], out minor) || minor < 0)) return null;
        return new Version(major, minor);
    }

    public static Version ParseKernel(string text) => TryParseKernel(text) ?? new Version(0, 0);
}
