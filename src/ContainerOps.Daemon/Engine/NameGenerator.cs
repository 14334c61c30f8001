using System.Text.RegularExpressions;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>Container names: validation (Docker's pattern) and generated adjective_noun names.</summary>
public static partial class NameGenerator
{
    private static readonly string[] Adjectives =
    {
        "agile", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fond", "gentle", "happy", "keen", "kind", "lucid",
        "merry", "nimble", "noble", "quiet", "quick", "sharp", "steady", "swift", "tidy", "vivid", "wise", "zesty",
    };

    private static readonly string[] Nouns =
    {
        "aster", "badger", "cedar", "comet", "delta", "falcon", "fjord", "gecko", "harbor", "heron", "island", "kestrel", "lagoon",
        "lynx", "maple", "meadow", "nebula", "otter", "pebble", "quartz", "raven", "sparrow", "summit", "tundra", "willow", "zephyr",
    };

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex ValidName();

    public static string Normalize(string name) => name.StartsWith('/') ? name[1..] : name;

    public static void Validate(string name)
    {
        if (name.Length > 128 || !ValidName().IsMatch(name))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidName",
                $"invalid container name '{name}': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed (at most 128 characters)", name, "Name");
    }

    public static string Generate(Func<string, bool> taken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var name = $"{Adjectives[Random.Shared.Next(Adjectives.Length)]}_{Nouns[Random.Shared.Next(Nouns.Length)]}";
            if (attempt > 20) name += Random.Shared.Next(100);
            if (!taken(name)) return name;
        }
    }
}
