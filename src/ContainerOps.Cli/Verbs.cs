using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli;

/// <summary>The table of verbs.</summary>
internal static class Verbs
{
    public static readonly Verb[] All =
    {
        new(new CommandSpec { Name = "version", Usage = "version", Summary = "Show the version information", MaxArgs = 0 },
            (_, _) => Task.FromResult(Commands.System.PrintVersion()), "Other commands"),
    };

    public static Verb? Find(string name)
    {
        foreach (var v in All) if (v.Spec.Name == name) return v;
        return null;
    }
}
