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

    /// <summary>The kernel's limit on the lines of a uid_map or gid_map (Linux 4.15 and later).</summary>
    private const int MaxIdMappings = 340;

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
        if (spec.Linux is { } linux)
        {
            // A new user namespace needs its ids mapped: without a map its processes own nothing and can create no file
            // (EOVERFLOW). Maps without a new user namespace would be silently ignored.
            var newUserNamespace = linux.Namespaces.Any(n => n.Type == "user" && string.IsNullOrEmpty(n.Path));
            foreach (var (field, maps) in new[] { ("uidMappings", linux.UidMappings), ("gidMappings", linux.GidMappings) })
            {
                var count = maps?.Count ?? 0;
                if (count > 0 && !newUserNamespace)
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "MappingsWithoutUserNamespace",
                        $"container {id}: linux.{field} need a new user namespace (linux.namespaces has no \"user\" without a path)", id, $"linux.{field}");
                if (count == 0 && newUserNamespace)
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "UserNamespaceWithoutMappings",
                        $"container {id}: a new user namespace needs linux.{field}", id, $"linux.{field}");
                if (count > MaxIdMappings)
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "TooManyMappings",
                        $"container {id}: linux.{field} has {count} ranges; the kernel takes at most {MaxIdMappings}", id, $"linux.{field}");
                for (var i = 0; i < count; i++)
                    if (maps![i].Size == 0)
                        throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidMapping",
                            $"container {id}: linux.{field}[{i}] maps no id (size 0)", id, $"linux.{field}[{i}].size");
            }
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
