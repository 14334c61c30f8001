using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Cgroups;

/// <summary>
/// The device rules every container gets after its own, as runc and crun add them: whatever a bundle denies, mknod of
/// any device and the standard character devices (null, zero, full, random, urandom, tty, console, ptmx and the ptys
/// behind it, tun) stay usable — a shell cannot even redirect to /dev/null without them, nor open a terminal.
/// </summary>
public static class DefaultDevices
{
    private static readonly (long Major, long? Minor)[] CharacterDevices =
        [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, null), (10, 200)];

    public static IEnumerable<OciDeviceRule> Rules()
    {
        yield return new OciDeviceRule { Allow = true, Type = "c", Access = "m" };
        yield return new OciDeviceRule { Allow = true, Type = "b", Access = "m" };
        foreach (var (major, minor) in CharacterDevices)
            yield return new OciDeviceRule { Allow = true, Type = "c", Major = major, Minor = minor, Access = "rwm" };
    }

    /// <summary>Appends the defaults to a bundle's device rules (the last matching rule decides, so they win over a
    /// deny-all). Without rules there is no device policy to amend.</summary>
    public static void AppendTo(OciResources? resources)
    {
        if (resources?.Devices is not { Count: > 0 } rules) return;
        var defaults = Rules().ToList();
        // Our own specs end with them already: not written twice (each rule is a write to the cgroup at every start).
        if (rules.Count >= defaults.Count && rules.Skip(rules.Count - defaults.Count).Zip(defaults).All(p => Same(p.First, p.Second))) return;
        rules.AddRange(defaults);
    }

    private static bool Same(OciDeviceRule a, OciDeviceRule b) =>
        a.Allow == b.Allow && a.Type == b.Type && a.Major == b.Major && a.Minor == b.Minor && a.Access == b.Access;
}
