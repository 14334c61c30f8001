using System.Text;

namespace ContainerOps.Images.Build;

public enum RunMountType { Bind, Cache, Tmpfs, Secret, Ssh }

public enum CacheSharing { Shared, Private, Locked }

/// <summary>
/// One <c>RUN --mount=…</c>: comma-separated <c>key=value</c> options (a field may be double-quoted), the type first
/// or anywhere (default bind). Keys and the options each type takes are checked when the Dockerfile is parsed; values
/// are checked once variables are expanded, when the step runs.
/// </summary>
public sealed class RunMount
{
    public RunMountType Type { get; private set; } = RunMountType.Bind;
    /// <summary>Where the mount appears in the RUN container, as written (relative paths start at WORKDIR).</summary>
    public string? Target { get; private set; }
    public string? Source { get; private set; }
    public string? From { get; private set; }
    public string? Id { get; private set; }
    public bool ReadOnly { get; private set; }
    public CacheSharing Sharing { get; private set; } = CacheSharing.Shared;
    public int? Mode { get; private set; }
    public int Uid { get; private set; }
    public int Gid { get; private set; }
    /// <summary>tmpfs size in bytes; 0: the kernel's default (half the memory).</summary>
    public long Size { get; private set; }
    public bool Required { get; private set; }
    /// <summary>secret: the environment variable that holds it in the RUN.</summary>
    public string? Env { get; private set; }

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["type"] = "type", ["target"] = "target", ["dst"] = "target", ["destination"] = "target",
        ["source"] = "source", ["src"] = "source", ["from"] = "from", ["id"] = "id",
        ["ro"] = "readonly", ["readonly"] = "readonly", ["rw"] = "readwrite", ["readwrite"] = "readwrite",
        ["sharing"] = "sharing", ["mode"] = "mode", ["uid"] = "uid", ["gid"] = "gid", ["size"] = "size",
        ["required"] = "required", ["env"] = "env",
    };

    private static readonly Dictionary<RunMountType, string[]> Allowed = new()
    {
        [RunMountType.Bind] = ["target", "source", "from", "readonly", "readwrite"],
        [RunMountType.Cache] = ["target", "source", "from", "id", "readonly", "readwrite", "sharing", "mode", "uid", "gid"],
        [RunMountType.Tmpfs] = ["target", "size"],
        [RunMountType.Secret] = ["target", "id", "required", "mode", "uid", "gid", "env"],
        [RunMountType.Ssh] = ["target", "id", "required", "mode", "uid", "gid"],
    };

    private static readonly string[] BoolKeys = ["readonly", "readwrite", "required"];

    public static string TypeName(RunMountType t) => t.ToString().ToLowerInvariant();

    /// <summary>Parses a --mount value. <paramref name="expand"/> null: only the syntax and the keys are checked
    /// (parse time); otherwise every value is expanded and checked.</summary>
    public static RunMount Parse(string value, int line, Func<string, string>? expand)
    {
        var fields = SplitFields(value, line);
        var pairs = new List<(string Key, string Written, string? Value)>();
        foreach (var field in fields)
        {
            if (field.Length == 0) continue;
            var eq = field.IndexOf('=');
            var rawKey = (eq < 0 ? field : field[..eq]).ToLowerInvariant();
            if (!Aliases.TryGetValue(rawKey, out var key))
                throw DockerfileParser.Error(line, $"--mount: unknown option '{rawKey}'");
            pairs.Add((key, rawKey, eq < 0 ? null : field[(eq + 1)..]));
        }
        var m = new RunMount();
        var typeField = pairs.Where(p => p.Key == "type").ToList();
        if (typeField.Count > 1) throw DockerfileParser.Error(line, "--mount: type given twice");
        if (typeField.Count == 1)
        {
            m.Type = typeField[0].Value switch
            {
                "bind" => RunMountType.Bind, "cache" => RunMountType.Cache, "tmpfs" => RunMountType.Tmpfs,
                "secret" => RunMountType.Secret, "ssh" => RunMountType.Ssh,
                var t => throw DockerfileParser.Error(line, $"--mount: unknown type '{t}' (bind, cache, tmpfs, secret or ssh)"),
            };
        }
        m.ReadOnly = m.Type == RunMountType.Bind;
        var allowed = Allowed[m.Type];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, written, raw) in pairs)
        {
            if (key == "type") continue;
            if (!allowed.Contains(key))
                throw DockerfileParser.Error(line, $"--mount=type={TypeName(m.Type)} does not take '{written}'");
            if (!seen.Add(key)) throw DockerfileParser.Error(line, $"--mount: '{written}' given twice");
            if (raw == null && !BoolKeys.Contains(key)) throw DockerfileParser.Error(line, $"--mount: '{written}' needs a value ({written}=…)");
            string v;
            if (expand == null)
            {
                // Parse time: the paths and names as written; values are checked once expanded.
                if (key is not ("target" or "source" or "from" or "id" or "env")) continue;
                v = raw!;
            }
            else
            {
                try { v = raw == null ? "true" : expand(raw); }
                catch (FormatException e) { throw DockerfileParser.Error(line, $"--mount: {written}: {e.Message}"); }
            }
            switch (key)
            {
                case "target": m.Target = v; break;
                case "source": m.Source = v; break;
                case "from": m.From = v; break;
                case "id": m.Id = v; break;
                case "env": m.Env = v; break;
                case "readonly": m.ReadOnly = Bool(v, written, line); break;
                case "readwrite": m.ReadOnly = !Bool(v, written, line); break;
                case "required": m.Required = Bool(v, written, line); break;
                case "sharing":
                    m.Sharing = v switch
                    {
                        "shared" => CacheSharing.Shared, "private" => CacheSharing.Private, "locked" => CacheSharing.Locked,
                        _ => throw DockerfileParser.Error(line, $"--mount: sharing={v}: use shared, private or locked"),
                    };
                    break;
                case "mode":
                    try { m.Mode = Convert.ToInt32(v, 8); }
                    catch (Exception e) when (e is FormatException or ArgumentException or OverflowException) { m.Mode = -1; }
                    if (m.Mode is < 0 or > 0xFFF) throw DockerfileParser.Error(line, $"--mount: mode={v} is not an octal mode");
                    break;
                case "uid" or "gid":
                    if (!int.TryParse(v, System.Globalization.NumberStyles.None, null, out var id))
                        throw DockerfileParser.Error(line, $"--mount: {key}={v} is not a number");
                    if (key == "uid") m.Uid = id; else m.Gid = id;
                    break;
                case "size":
                    m.Size = Bytes(v) ?? throw DockerfileParser.Error(line, $"--mount: size={v} is not a size (bytes, or with k, m, g)");
                    break;
            }
        }
        if (expand == null) return m;
        switch (m.Type)
        {
            case RunMountType.Bind or RunMountType.Cache or RunMountType.Tmpfs when string.IsNullOrEmpty(m.Target):
                throw DockerfileParser.Error(line, $"--mount=type={TypeName(m.Type)} needs a target");
            case RunMountType.Cache:
                m.Id = string.IsNullOrEmpty(m.Id) ? m.Target : m.Id;
                break;
            case RunMountType.Secret or RunMountType.Ssh:
                if (string.IsNullOrEmpty(m.Id))
                {
                    if (m.Type == RunMountType.Secret && string.IsNullOrEmpty(m.Target))
                        throw DockerfileParser.Error(line, "--mount=type=secret needs an id or a target");
                    m.Id = m.Type == RunMountType.Ssh ? "default" : m.Target!.TrimEnd('/')[(m.Target!.TrimEnd('/').LastIndexOf('/') + 1)..];
                }
                if (m.Type == RunMountType.Secret && string.IsNullOrEmpty(m.Target) && string.IsNullOrEmpty(m.Env)) m.Target = "/run/secrets/" + m.Id;
                if (m.Env is { Length: > 0 } env && !env.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                    throw DockerfileParser.Error(line, $"--mount: env={env} is not a variable name");
                break;
        }
        return m;
    }

    private static bool Bool(string v, string key, int line) => v.ToLowerInvariant() switch
    {
        "true" or "1" or "" => true,
        "false" or "0" => false,
        _ => throw DockerfileParser.Error(line, $"--mount: {key}={v}: use true or false"),
    };

    /// <summary>Bytes with an optional binary unit: 1048576, 512k, 64m, 1g (also kb, mib…).</summary>
    public static long? Bytes(string v)
    {
        var s = v.Trim().ToLowerInvariant();
        var n = 0;
        while (n < s.Length && (char.IsAsciiDigit(s[n]) || s[n] == '.')) n++;
        if (n == 0 || !double.TryParse(s[..n], System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var num)) return null;
        long mul = s[n..] switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            "t" or "tb" or "tib" => 1L << 40,
            _ => -1,
        };
        return mul < 0 ? null : (long)(num * mul);
    }

    /// <summary>Comma-separated fields; a double-quoted part may hold commas, and "" in it is a quote.</summary>
    private static List<string> SplitFields(string value, int line)
    {
        var fields = new List<string>();
        var cur = new StringBuilder();
        var inQuote = false;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '"')
            {
                if (inQuote && i + 1 < value.Length && value[i + 1] == '"') { cur.Append('"'); i++; }
                else inQuote = !inQuote;
                continue;
            }
            if (c == ',' && !inQuote) { fields.Add(cur.ToString().Trim()); cur.Clear(); continue; }
            cur.Append(c);
        }
        if (inQuote) throw DockerfileParser.Error(line, $"--mount: unterminated quote in '{value}'");
        fields.Add(cur.ToString().Trim());
        return fields;
    }

    /// <summary>How the mount reads in a cache key and in messages: its options, never a secret's value.</summary>
    public string Describe() => string.Join(',', new[]
    {
        "type=" + TypeName(Type), Target is { } t ? "target=" + t : null, Source is { } s ? "source=" + s : null,
        From is { } f ? "from=" + f : null, Id is { } i ? "id=" + i : null, ReadOnly ? "ro" : "rw",
        Type == RunMountType.Cache ? "sharing=" + Sharing.ToString().ToLowerInvariant() : null,
        Mode is { } m ? "mode=" + Convert.ToString(m, 8) : null, Uid != 0 ? "uid=" + Uid : null, Gid != 0 ? "gid=" + Gid : null,
        Size > 0 ? "size=" + Size : null, Required ? "required" : null, Env is { } e ? "env=" + e : null,
    }.Where(x => x != null));
}
