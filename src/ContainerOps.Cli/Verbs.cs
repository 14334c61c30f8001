using ContainerOps.Cli.Commands;
using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli;

/// <summary>The table of verbs: name, usage, options and handler, in the order `--help` lists them.</summary>
internal static class Verbs
{
    private static OptionSpec F(string name, char? s, string help) => new(name, s, OptionKind.Flag, help);
    private static OptionSpec V(string name, char? s, string help, string? valueName = null) => new(name, s, OptionKind.Value, help, valueName);
    private static OptionSpec L(string name, char? s, string help, string? valueName = null) => new(name, s, OptionKind.List, help, valueName);

    private static CommandSpec Spec(string name, string usage, string summary, int min, int max, params OptionSpec[] options) =>
        new() { Name = name, Usage = usage, Summary = summary, MinArgs = min, MaxArgs = max, Options = options };

    private const int Many = int.MaxValue;

    public static readonly Verb[] All =
    {
        new(RunOptions.RunSpec, Containers.Run, "Container commands"),
        new(RunOptions.CreateSpec, Containers.Create, "Container commands"),
        new(Spec("start", "start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", 1, Many,
                F("attach", 'a', "Attach STDOUT/STDERR and forward signals"), F("interactive", 'i', "Attach container's STDIN")),
            Containers.Start, "Container commands"),
        new(Spec("stop", "stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", 1, Many,
                V("time", 't', "Seconds to wait before killing the container", "int")),
            Containers.Stop, "Container commands"),
        new(Spec("restart", "restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", 1, Many,
                V("time", 't', "Seconds to wait before killing the container", "int")),
            Containers.Restart, "Container commands"),
        new(Spec("kill", "kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", 1, Many,
                V("signal", 's', "Signal to send to the container (default KILL)")),
            Containers.Kill, "Container commands"),
        new(Spec("pause", "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", 1, Many),
            Containers.Pause, "Container commands"),
        new(Spec("unpause", "unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", 1, Many),
            Containers.Unpause, "Container commands"),
        new(Spec("wait", "wait CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes", 1, Many),
            Containers.Wait, "Container commands"),
        new(Spec("rm", "rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", 1, Many,
                F("force", 'f', "Force the removal of a running container (uses SIGKILL)")),
            Containers.Remove, "Container commands"),
        new(Spec("rename", "rename CONTAINER NEW_NAME", "Rename a container", 2, 2), Containers.Rename, "Container commands"),
        new(Spec("ps", "ps [OPTIONS]", "List containers", 0, 0,
                F("all", 'a', "Show all containers (default shows just running)"),
                F("quiet", 'q', "Only display container IDs"),
                F("no-trunc", null, "Don't truncate output"),
                L("filter", 'f', "Filter output based on conditions provided (key=value)", "filter"),
                V("format", null, "Format output: table, json, or a template like '{{.ID}}\\t{{.Names}}'")),
            Containers.List, "Container commands"),
        new(Spec("logs", "logs [OPTIONS] CONTAINER", "Fetch the logs of a container", 1, 1,
                F("follow", 'f', "Follow log output"),
                V("tail", 'n', "Number of lines to show from the end of the logs (default all)"),
                V("since", null, "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"),
                F("timestamps", 't', "Show timestamps")),
            Containers.Logs, "Container commands"),
        new(new CommandSpec
            {
                Name = "exec", Usage = "exec [OPTIONS] CONTAINER COMMAND [ARG...]", Summary = "Execute a command in a running container",
                MinArgs = 2, StopAtFirstPositional = true,
                Options = new[]
                {
                    F("detach", 'd', "Detached mode: run command in the background"),
                    F("interactive", 'i', "Keep STDIN open even if not attached"),
                    F("tty", 't', "Allocate a pseudo-TTY"),
                    L("env", 'e', "Set environment variables"),
                    L("env-file", null, "Read in a file of environment variables"),
                    V("user", 'u', "Username or UID (format: \"<name|uid>[:<group|gid>]\")"),
                    V("workdir", 'w', "Working directory inside the container"),
                    F("privileged", null, "Give extended privileges to the command"),
                },
            },
            Containers.Exec, "Container commands"),
        new(Spec("top", "top CONTAINER", "Display the running processes of a container", 1, 1), Containers.Top, "Container commands"),
        new(Spec("stats", "stats [OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", 0, Many,
                F("no-stream", null, "Disable streaming stats and only pull the first result")),
            Containers.Stats, "Container commands"),
        new(Spec("inspect", "inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers or images", 1, Many,
                V("type", null, "Return JSON for the specified type (container or image)")),
            Images.Inspect, "Container commands"),

        new(Spec("images", "images [OPTIONS]", "List images", 0, 0,
                F("all", 'a', "Show all images (default hides intermediate images)"),
                F("quiet", 'q', "Only show image IDs"),
                F("no-trunc", null, "Don't truncate output")),
            Images.List, "Image commands"),
        new(Spec("import", "import [OPTIONS] file|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a filesystem image", 1, 2,
                L("change", 'c', "Apply Dockerfile instruction to the created image", "list")),
            Images.Import, "Image commands"),
        new(Spec("load", "load [OPTIONS]", "Load an image from a tar archive or STDIN", 0, 0,
                V("input", 'i', "Read from tar archive file, instead of STDIN", "file"),
                F("quiet", 'q', "Suppress the load output")),
            Images.Load, "Image commands"),
        new(Spec("tag", "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", 2, 2),
            Images.Tag, "Image commands"),
        new(Spec("rmi", "rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", 1, Many,
                F("force", 'f', "Force removal of the image")),
            Images.Remove, "Image commands"),

        new(Spec("dial-stdio", "dial-stdio", "Proxy the daemon's socket over stdin and stdout (for ssh)", 0, 0),
            DialStdio.Run, "Other commands"),
        new(Spec("version", "version", "Show the version information", 0, 0),
            (_, _) => Task.FromResult(Commands.SystemCommands.PrintVersion()), "Other commands"),
    };

    public static Verb? Find(string name)
    {
        foreach (var v in All) if (v.Spec.Name == name) return v;
        return null;
    }
}
