using System.Buffers;
using System.Text;
using System.Text.Json;
using ContainerOps.Core.Api;

namespace ContainerOps.Core.Security;

/// <summary>
/// A container's <c>--security-opt</c> entries (HostConfig.SecurityOpt), read as Docker reads them: <c>key=value</c> (or
/// the older <c>key:value</c>) with the keys no-new-privileges[=true|false], seccomp=unconfined|builtin|&lt;profile JSON&gt;,
/// apparmor=…, label=… and systempaths=unconfined. Any other key is refused by name. As with Docker, a client reads
/// a profile file itself and sends its JSON (<see cref="ExpandProfileFile"/>), which inspect then shows.
/// </summary>
public sealed class SecurityOptions
{
    private const string Field = "HostConfig.SecurityOpt";

    public bool NoNewPrivileges { get; private set; }
    /// <summary>seccomp=unconfined: no filter at all.</summary>
    public bool SeccompUnconfined { get; private set; }
    /// <summary>A profile of the container's own (Docker's JSON format); null for the default profile.</summary>
    public SeccompProfile? SeccompProfile { get; private set; }
    public string? AppArmorProfile { get; private set; }
    public List<string> Labels { get; } = new();
    /// <summary>systempaths=unconfined: /proc and /sys paths are neither masked nor read-only.</summary>
    public bool SystemPathsUnconfined { get; private set; }

    public static SecurityOptions Parse(IEnumerable<string> options, string? target = null)
    {
        var result = new SecurityOptions();
        foreach (var option in options)
        {
            var (key, value) = Split(option);
            switch (key)
            {
                case "no-new-privileges":
                    if (value is null or "true" or "1") result.NoNewPrivileges = true;
                    else if (value is "false" or "0") result.NoNewPrivileges = false;
                    else throw Invalid($"security option '{option}': no-new-privileges takes true or false", target);
                    break;
                case "seccomp":
                    if (value is "unconfined") { result.SeccompUnconfined = true; result.SeccompProfile = null; }
                    else if (value is "builtin") { result.SeccompUnconfined = false; result.SeccompProfile = null; }
                    else if (value is { Length: > 0 } && value.TrimStart().StartsWith('{'))
                    {
                        try { result.SeccompProfile = SeccompProfile.Parse(value); }
                        catch (JsonException e)
                        {
                            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidSeccompProfile", $"seccomp profile: {e.Message}", target, Field);
                        }
                        result.SeccompUnconfined = false;
                    }
                    else throw Invalid($"security option 'seccomp={Shorten(value)}': expected unconfined, builtin or a profile's JSON " +
                        "(containerops run --security-opt seccomp=FILE and New-Container -SecurityOption seccomp=FILE read the file and send its JSON)", target);
                    break;
                case "apparmor":
                    if (string.IsNullOrEmpty(value)) throw Invalid($"security option '{option}': apparmor needs a profile name", target);
                    result.AppArmorProfile = value;
                    break;
                case "label":
                    if (string.IsNullOrEmpty(value) || !(value is "disable" or "nested" || value.StartsWith("user:", StringComparison.Ordinal)
                        || value.StartsWith("role:", StringComparison.Ordinal) || value.StartsWith("type:", StringComparison.Ordinal)
                        || value.StartsWith("level:", StringComparison.Ordinal) || value.StartsWith("filetype:", StringComparison.Ordinal)))
                        throw Invalid($"security option '{option}': label takes disable, nested, user:, role:, type:, level: or filetype:", target);
                    result.Labels.Add(value);
                    break;
                case "systempaths":
                    if (value != "unconfined") throw Invalid($"security option '{option}': systempaths takes unconfined", target);
                    result.SystemPathsUnconfined = true;
                    break;
                default:
                    throw Invalid($"unknown security option '{Shorten(option)}' (known: no-new-privileges, seccomp=, apparmor=, label=, systempaths=unconfined)", target);
            }
        }
        return result;
    }

    /// <summary>What the options ask for that this host or runtime cannot give: AppArmor and SELinux labels are not
    /// applied (an explicit apparmor=unconfined or label=disable is what every container gets, so it is no warning).</summary>
    public List<string> Warnings()
    {
        var warnings = new List<string>();
        if (AppArmorProfile is { } profile && profile != "unconfined")
            warnings.Add(AppArmorEnabled
                ? $"apparmor={profile} is ignored: the runtime does not apply AppArmor profiles"
                : $"apparmor={profile} is ignored: AppArmor is not enabled on this host");
        foreach (var label in Labels.Where(l => l != "disable"))
            warnings.Add(SelinuxEnabled
                ? $"label={label} is ignored: the runtime does not apply SELinux labels"
                : $"label={label} is ignored: SELinux is not enabled on this host");
        return warnings;
    }

    private static bool AppArmorEnabled
    {
        get
        {
            try { return File.ReadAllText("/sys/module/apparmor/parameters/enabled").Trim() == "Y"; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        }
    }

    private static bool SelinuxEnabled => File.Exists("/sys/fs/selinux/enforce");

    /// <summary>For clients: <c>seccomp=FILE</c> becomes <c>seccomp=&lt;the file's JSON, compacted&gt;</c> after checking the
    /// profile, so an error names the file and the member at fault. Other entries are returned as they are.
    /// <paramref name="fullPath"/> resolves a relative path (the shell's working directory).</summary>
    public static string ExpandProfileFile(string option, Func<string, string>? fullPath = null)
    {
        var (key, value) = Split(option);
        if (key != "seccomp" || value is null or "" or "unconfined" or "builtin" || value.TrimStart().StartsWith('{')) return option;
        var path = (fullPath ?? Path.GetFullPath)(value);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidSeccompProfile", $"cannot read seccomp profile {value}: {e.Message}", value, "SecurityOpt");
        }
        try
        {
            SeccompProfile.Parse(bytes);
            using var document = JsonDocument.Parse(bytes);
            var buffer = new ArrayBufferWriter<byte>(bytes.Length);
            using (var writer = new Utf8JsonWriter(buffer)) document.RootElement.WriteTo(writer);
            return "seccomp=" + Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        catch (JsonException e)
        {
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidSeccompProfile", $"seccomp profile {value}: {e.Message}", value, "SecurityOpt");
        }
    }

    /// <summary>key=value, or the older key:value; a bare key has no value.</summary>
    private static (string Key, string? Value) Split(string option)
    {
        var eq = option.IndexOf('=');
        if (eq >= 0) return (option[..eq], option[(eq + 1)..]);
        var colon = option.IndexOf(':');
        return colon >= 0 ? (option[..colon], option[(colon + 1)..]) : (option, null);
    }

    private static string Shorten(string? text) => text is null ? "" : text.Length > 60 ? text[..60] + "…" : text;

    private static ContainerOpsException Invalid(string message, string? target) =>
        new(ErrorKind.InvalidArgument, "InvalidSecurityOpt", message, target, Field);
}
