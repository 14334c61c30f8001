using System.Text.RegularExpressions;
using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Spec;

/// <summary>
/// What a bundle must get right before anything is made for it, checked as runc and crun check it: an `ociVersion` this
/// runtime speaks (1.x.y), and capability names it knows (an unknown one would otherwise be dropped without a word, and
/// the process would run with less — or, in the bounding set, more — than the bundle says).
/// </summary>
public static partial class SpecValidation
{
    [GeneratedRegex(@"^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")]
    private static partial Regex Version1();

    public static void Validate(OciSpec spec, string id)
    {
        if (!Version1().IsMatch(spec.OciVersion))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidOciVersion",
                $"container {id}: ociVersion '{spec.OciVersion}' is not a version of the OCI runtime spec this runtime speaks (1.x.y)", id, "ociVersion");
        if (spec.Process?.Capabilities is { } caps)
            foreach (var (set, names) in new[] { ("bounding", caps.Bounding), ("effective", caps.Effective), ("inheritable", caps.Inheritable),
                         ("permitted", caps.Permitted), ("ambient", caps.Ambient) })
            {
                if (names is null) continue;
                for (var i = 0; i < names.Count; i++)
                    if (Capabilities.Number(names[i]) < 0)
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnknownCapability",
                            $"container {id}: unknown capability '{names[i]}'", id, $"process.capabilities.{set}[{i}]");
            }
        if (spec.Hooks is { } hooks)
            foreach (var (phase, list) in new[] { ("prestart", hooks.Prestart), ("createRuntime", hooks.CreateRuntime), ("createContainer", hooks.CreateContainer),
                         ("startContainer", hooks.StartContainer), ("poststart", hooks.Poststart), ("poststop", hooks.Poststop) })
                for (var i = 0; i < (list?.Count ?? 0); i++)
                {
                    // (A relative path is refused as the bundle is read.)
                    var hook = list![i];
                    if (hook.Timeout is <= 0)
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidHook",
                            $"container {id}: hook timeout {hook.Timeout} must be more than 0 seconds", id, $"hooks.{phase}[{i}].timeout");
                }
    }
}
