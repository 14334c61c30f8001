using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Commands;

/// <summary>`containerops compose`: docker compose's options before the verb, and its verbs with their flags.</summary>
internal static class ComposeVerbs
{
    private static OptionSpec F(string name, char? s, string help) => new(name, s, OptionKind.Flag, help);
    private static OptionSpec V(string name, char? s, string help, string? valueName = null) => new(name, s, OptionKind.Value, help, valueName);
    private static OptionSpec L(string name, char? s, string help, string? valueName = null) => new(name, s, OptionKind.List, help, valueName);

    private const int Many = int.MaxValue;

    public static readonly CommandSpec GlobalSpec = new()
    {
        Name = "compose",
        Usage = "compose [OPTIONS] COMMAND",
        Summary = "Define and run multi-container applications (compose files)",
        StopAtFirstPositional = true,
        Options = new[]
        {
            L("file", 'f', "Compose configuration files", "stringArray"),
            V("project-name", 'p', "Project name", "string"),
            V("project-directory", null, "Specify an alternate working directory (default: the path of the first Compose file)", "string"),
            L("profile", null, "Specify a profile to enable", "stringArray"),
            L("env-file", null, "Specify an alternate environment file", "stringArray"),
        },
    };

    private static CommandSpec Spec(string name, string usage, string summary, int min, int max, params OptionSpec[] options) =>
        new() { Name = "compose " + name, Usage = "compose " + usage, Summary = summary, MinArgs = min, MaxArgs = max, Options = options };

    public static readonly (CommandSpec Spec, Func<CliContext, ComposeContext, ParsedArgs, Task<int>> Run)[] All =
    {
        (Spec("config", "config [OPTIONS] [SERVICE...]", "Parse, resolve and render compose file in canonical format", 0, Many,
            V("format", null, "Format the output. Values: [yaml | json]", "string"),
            F("quiet", 'q', "Only validate the configuration, don't print anything"),
            F("services", null, "Print the service names, one per line"),
            F("volumes", null, "Print the volume names, one per line"),
            F("profiles", null, "Print the profile names, one per line"),
            V("output", 'o', "Save to file (default to stdout)", "string")), Compose.Config),
        (Spec("up", "up [OPTIONS] [SERVICE...]", "Create and start containers", 0, Many,
            F("detach", 'd', "Detached mode: Run containers in the background"),
            F("build", null, "Build images before starting containers"),
            F("no-build", null, "Don't build an image, even if it's policy"),
            F("force-recreate", null, "Recreate containers even if their configuration and image haven't changed"),
            F("no-recreate", null, "If containers already exist, don't recreate them"),
            F("no-deps", null, "Don't start linked services"),
            F("remove-orphans", null, "Remove containers for services not defined in the Compose file"),
            L("scale", null, "Scale SERVICE to NUM instances. Overrides the scale setting in the Compose file if present.", "SERVICE=NUM"),
            F("wait", null, "Wait for services to be running|healthy. Implies detached mode."),
            V("wait-timeout", null, "Maximum duration in seconds to wait for the project to be running|healthy", "int"),
            V("timeout", 't', "Use this timeout in seconds for container shutdown when attached or when containers are already running", "int")), Compose.Up),
        (Spec("down", "down [OPTIONS] [SERVICES]", "Stop and remove containers, networks", 0, 0,
            F("volumes", 'v', "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers"),
            F("remove-orphans", null, "Remove containers for services not defined in the Compose file"),
            V("rmi", null, "Remove images used by services. \"local\" remove only images that don't have a custom tag (\"local\"|\"all\")", "string"),
            V("timeout", 't', "Specify a shutdown timeout in seconds", "int")), Compose.Down),
        (Spec("ps", "ps [OPTIONS] [SERVICE...]", "List containers", 0, Many,
            F("all", 'a', "Show all stopped containers (including those created by the run command)"),
            F("quiet", 'q', "Only display IDs"),
            F("services", null, "Display services"),
            V("format", null, "Format output using a custom template: 'table', 'json' or a Go template", "string")), Compose.Ps),
        (Spec("logs", "logs [OPTIONS] [SERVICE...]", "View output from containers", 0, Many,
            F("follow", 'f', "Follow log output"),
            V("tail", 'n', "Number of lines to show from the end of the logs for each container", "string"),
            F("no-color", null, "Produce monochrome output"),
            F("no-log-prefix", null, "Don't print prefix in logs"),
            F("timestamps", 't', "Show timestamps")), Compose.Logs),
        (Spec("start", "start [SERVICE...]", "Start services", 0, Many), Compose.Start),
        (Spec("stop", "stop [OPTIONS] [SERVICE...]", "Stop services", 0, Many,
            V("timeout", 't', "Specify a shutdown timeout in seconds", "int")), Compose.Stop),
        (Spec("restart", "restart [OPTIONS] [SERVICE...]", "Restart service containers", 0, Many,
            F("no-deps", null, "Don't restart dependent services"),
            V("timeout", 't', "Specify a shutdown timeout in seconds", "int")), Compose.Restart),
        (Spec("pull", "pull [OPTIONS] [SERVICE...]", "Pull service images", 0, Many,
            F("ignore-pull-failures", null, "Pull what it can and ignores images with pull failures"),
            F("quiet", 'q', "Pull without printing progress information")), Compose.Pull),
        (Spec("build", "build [OPTIONS] [SERVICE...]", "Build or rebuild services", 0, Many,
            F("no-cache", null, "Do not use cache when building the image"),
            F("quiet", 'q', "Don't print anything to STDOUT")), Compose.Build),
        (new CommandSpec
        {
            Name = "compose exec", Usage = "compose exec [OPTIONS] SERVICE COMMAND [ARGS...]", Summary = "Execute a command in a running container",
            MinArgs = 2, StopAtFirstPositional = true,
            Options = new[]
            {
                F("detach", 'd', "Detached mode: Run command in the background"),
                F("no-TTY", 'T', "Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY."),
                L("env", 'e', "Set environment variables"),
                V("index", null, "Index of the container if service has multiple replicas", "int"),
                V("user", 'u', "Run the command as this user", "string"),
                V("workdir", 'w', "Path to workdir directory for this command", "string"),
                F("privileged", null, "Give extended privileges to the process"),
            },
        }, Compose.Exec),
        (new CommandSpec
        {
            Name = "compose run", Usage = "compose run [OPTIONS] SERVICE [COMMAND] [ARGS...]", Summary = "Run a one-off command on a service",
            MinArgs = 1, StopAtFirstPositional = true,
            Options = new[]
            {
                F("detach", 'd', "Run container in background and print container ID"),
                F("rm", null, "Automatically remove the container when it exits"),
                F("no-deps", null, "Don't start linked services"),
                F("no-TTY", 'T', "Disable pseudo-TTY allocation (default: auto-detected)"),
                F("interactive", 'i', "Keep STDIN open even if not attached"),
                L("env", 'e', "Set environment variables"),
                V("name", null, "Assign a name to the container", "string"),
                V("user", 'u', "Run as specified username or uid", "string"),
                V("workdir", 'w', "Working directory inside the container", "string"),
                V("entrypoint", null, "Override the entrypoint of the image", "string"),
                L("publish", 'p', "Publish a container's port(s) to the host", "stringArray"),
                F("service-ports", null, "Run command with all service's ports enabled and mapped to the host"),
            },
        }, Compose.Run),
        (Spec("images", "images [SERVICE...]", "List images used by the created containers", 0, Many), Compose.Images),
        (Spec("top", "top [SERVICES...]", "Display the running processes", 0, Many), Compose.Top),
    };

    public static string Help()
    {
        var sb = new System.Text.StringBuilder(ArgParser.Help(GlobalSpec));
        sb.Append("\nCommands:\n");
        foreach (var (spec, _) in All) sb.Append("  ").Append(spec.Name["compose ".Length..].PadRight(10)).Append(spec.Summary).Append('\n');
        sb.Append("\nRun 'containerops compose COMMAND --help' for more information on a command.\n");
        return sb.ToString();
    }
}
