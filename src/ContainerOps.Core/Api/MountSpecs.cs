using System.Globalization;

namespace ContainerOps.Core.Api;

/// <summary>docker's `--mount` notation (comma-separated key=value), turned into a HostConfig.Mounts entry. Shared by
/// the CLI and New-Container -Mount.</summary>
public static class MountSpecs
{
    /// <summary>`type=bind|volume|tmpfs,source=,target=,readonly,bind-propagation=,volume-nocopy,volume-opt=K=V,
    /// volume-label=K=V,volume-driver=,tmpfs-size=,tmpfs-mode=`. Throws ArgumentException naming the field and why.</summary>
    public static Mount ParseMount(string spec)
    {
        var m = new Mount { Type = "" };
        foreach (var field in spec.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = field.IndexOf('=');
            var key = (eq < 0 ? field : field[..eq]).Trim().ToLowerInvariant();
            var value = eq < 0 ? null : field[(eq + 1)..];
            string Need() => value is { Length: > 0 } v ? v : throw Bad(spec, $"'{key}' needs a value");
            switch (key)
            {
                case "type": m.Type = Need(); break;
                case "source" or "src": m.Source = Need(); break;
                case "target" or "destination" or "dst": m.Target = Need(); break;
                case "readonly" or "ro": m.ReadOnly = Bool(value, key, spec); break;
                case "bind-propagation": (m.BindOptions ??= new()).Propagation = Need(); break;
                case "bind-create-mountpoint": (m.BindOptions ??= new()).CreateMountpoint = Bool(value, key, spec); break;
                case "volume-nocopy": (m.VolumeOptions ??= new()).NoCopy = Bool(value, key, spec); break;
                case "volume-driver": ((m.VolumeOptions ??= new()).DriverConfig ??= new()).Name = Need(); break;
                case "volume-opt":
                {
                    var (k, v) = Pair(Need(), key, spec);
                    (((m.VolumeOptions ??= new()).DriverConfig ??= new()).Options ??= new())[k] = v;
                    break;
                }
                case "volume-label":
                {
                    var (k, v) = Pair(Need(), key, spec);
                    ((m.VolumeOptions ??= new()).Labels ??= new())[k] = v;
                    break;
                }
                case "tmpfs-size": (m.TmpfsOptions ??= new()).SizeBytes = ParseSize(Need(), "tmpfs-size"); break;
                case "tmpfs-mode":
                    (m.TmpfsOptions ??= new()).Mode = Need() is var mode && mode.All(c => c is >= '0' and <= '7') && mode.Length <= 4
                        ? Convert.ToInt32(mode, 8) : throw Bad(spec, $"tmpfs-mode '{mode}' is not an octal mode");
                    break;
                case "consistency": break; // macOS only in Docker
                default: throw Bad(spec, $"unknown key '{key}'");
            }
        }
        if (m.Type.Length == 0) m.Type = "volume";
        if (m.Type is not ("bind" or "volume" or "tmpfs")) throw Bad(spec, $"type '{m.Type}' is not bind, volume or tmpfs");
        if (string.IsNullOrEmpty(m.Target)) throw Bad(spec, "target is required");
        if (m.Type == "bind" && string.IsNullOrEmpty(m.Source)) throw Bad(spec, "a bind needs a source");
        return m;
    }

    /// <summary>A size like docker's: a number with an optional b/k/m/g suffix (binary multiples).</summary>
    public static long ParseSize(string text, string flag)
    {
        var s = text.Trim().ToLowerInvariant();
        if (s.EndsWith('b')) s = s[..^1];
        long multiplier = 1;
        if (s.Length > 0 && char.IsLetter(s[^1]))
        {
            multiplier = s[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, _ => 0 };
            s = s[..^1];
        }
        if (multiplier == 0 || !decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) || n < 0 || n * multiplier > long.MaxValue)
            throw new ArgumentException($"invalid {flag} '{text}': a size such as 64m or 1g is expected");
        return (long)(n * multiplier);
    }

    private static bool Bool(string? value, string key, string spec) => value?.ToLowerInvariant() switch
    {
        null or "" or "true" or "1" => true,
        "false" or "0" => false,
        _ => throw Bad(spec, $"'{key}' is true or false, not '{value}'"),
    };

    private static (string, string) Pair(string kv, string key, string spec) =>
        kv.IndexOf('=') is var i and > 0 ? (kv[..i], kv[(i + 1)..]) : throw Bad(spec, $"'{key}' needs KEY=VALUE (got '{kv}')");

    private static ArgumentException Bad(string spec, string why) => new($"invalid --mount \"{spec}\": {why}");
}
