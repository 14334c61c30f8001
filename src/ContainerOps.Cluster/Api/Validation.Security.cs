using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ContainerOps.Cluster.Api;

/// <summary>The API server's checks of a pod's and its containers' securityContext, in its wording.</summary>
public static partial class Validation
{
    private const string IdRangeText = "must be between 0 and 2147483647, inclusive";

    [GeneratedRegex("^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")] private static partial Regex SysctlName();

    private static void PodSecurityContext(JsonObject spec, string path, List<FieldError> errors)
    {
        var at = $"{path}.securityContext";
        if (spec["shareProcessNamespace"]?.GetValue<bool>() == true && spec["hostPID"]?.GetValue<bool>() == true)
            errors.Add(FieldError.InvalidRaw($"{at}.shareProcessNamespace", "true", "ShareProcessNamespace and HostPID cannot both be enabled"));
        if (spec["securityContext"] is not JsonObject sc) return;
        foreach (var id in new[] { "runAsUser", "runAsGroup", "fsGroup" }) IdRange(sc[id], $"{at}.{id}", errors);
        if (sc["supplementalGroups"] is JsonArray groups)
            for (var i = 0; i < groups.Count; i++) IdRange(groups[i], $"{at}.supplementalGroups[{i}]", errors);
        if (Json.Str(sc["fsGroupChangePolicy"]) is { } policy && policy is not ("OnRootMismatch" or "Always"))
            errors.Add(FieldError.Unsupported($"{at}.fsGroupChangePolicy", policy, ["OnRootMismatch", "Always"]));
        SeccompProfile(sc["seccompProfile"] as JsonObject, $"{at}.seccompProfile", errors);
        if (sc["sysctls"] is JsonArray sysctls)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < sysctls.Count; i++)
            {
                var name = Json.Str(sysctls[i]?["name"]);
                var field = $"{at}.sysctls[{i}].name";
                if (string.IsNullOrEmpty(name)) errors.Add(FieldError.Required(field));
                else if (name.Length > 253 || !SysctlName().IsMatch(name))
                    errors.Add(FieldError.Invalid(field, name, "must have at most 253 characters and match regex " + SysctlName()));
                else if (!names.Add(name.Replace('/', '.'))) errors.Add(FieldError.Duplicate(field, name));
            }
        }
    }

    private static void ContainerSecurityContext(JsonObject container, string at, List<FieldError> errors)
    {
        if (container["securityContext"] is not JsonObject sc) return;
        at += ".securityContext";
        foreach (var id in new[] { "runAsUser", "runAsGroup" }) IdRange(sc[id], $"{at}.{id}", errors);
        if (Json.Str(sc["procMount"]) is { } procMount)
        {
            if (procMount is not ("Default" or "Unmasked")) errors.Add(FieldError.Unsupported($"{at}.procMount", procMount, ["Default", "Unmasked"]));
        }
        SeccompProfile(sc["seccompProfile"] as JsonObject, $"{at}.seccompProfile", errors);
        if (sc["allowPrivilegeEscalation"]?.GetValue<bool>() != false) return;
        if (sc["privileged"]?.GetValue<bool>() == true)
            errors.Add(FieldError.InvalidRaw(at, sc.ToJsonString(), "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"));
        if ((sc["capabilities"]?["add"] as JsonArray)?.Any(c => Json.Str(c) == "CAP_SYS_ADMIN") == true)
            errors.Add(FieldError.InvalidRaw(at, sc.ToJsonString(), "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"));
    }

    private static void IdRange(JsonNode? value, string field, List<FieldError> errors)
    {
        if (value is JsonValue v && v.TryGetValue<long>(out var id) && id is < 0 or > int.MaxValue)
            errors.Add(FieldError.InvalidRaw(field, id.ToString(CultureInfo.InvariantCulture), IdRangeText));
    }

    private static void SeccompProfile(JsonObject? profile, string at, List<FieldError> errors)
    {
        if (profile is null) return;
        var type = Json.Str(profile["type"]);
        var localhost = Json.Str(profile["localhostProfile"]);
        if (string.IsNullOrEmpty(type)) errors.Add(FieldError.Required($"{at}.type", "type is required when seccompProfile is set"));
        else if (type is not ("Localhost" or "RuntimeDefault" or "Unconfined"))
            errors.Add(FieldError.Unsupported($"{at}.type", type, ["Localhost", "RuntimeDefault", "Unconfined"]));
        if (type == "Localhost")
        {
            if (localhost is null) errors.Add(FieldError.Required($"{at}.localhostProfile", "must be set when seccomp type is Localhost"));
            else if (localhost.StartsWith('/')) errors.Add(FieldError.Invalid($"{at}.localhostProfile", localhost, "must be a relative path"));
            else if (localhost.Split('/').Contains("..")) errors.Add(FieldError.Invalid($"{at}.localhostProfile", localhost, "must not contain '..'"));
        }
        else if (localhost is not null)
            errors.Add(FieldError.InvalidRaw($"{at}.localhostProfile", profile.ToJsonString(), "can only be set when seccomp type is Localhost"));
    }
}
