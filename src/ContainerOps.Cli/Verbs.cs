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

        new(Spec("build", "build [OPTIONS] PATH", "Build an image from a Dockerfile", 1, 1,
                L("tag", 't', "Name and optionally a tag in the 'name:tag' format", "list"),
                V("file", 'f', "Name of the Dockerfile (default: 'PATH/Dockerfile')", "string"),
                L("build-arg", null, "Set build-time variables", "list"),
                V("target", null, "Set the target build stage to build", "string"),
                L("secret", null, "Secret to expose to the build (id=mysecret,src=/local/secret or id=mysecret,env=VAR)", "stringArray"),
                L("allow", null, "Allow extra privileged entitlement (security.insecure, network.host)", "stringArray"),
                F("no-cache", null, "Do not use cache when building the image"),
                F("quiet", 'q', "Suppress the build output and print image ID on success")),
            ImageOps.Build, "Image commands"),
        new(Spec("pull", "pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", 1, 1,
                F("quiet", 'q', "Suppress verbose output"),
                F("insecure", null, "Allow plain HTTP or unverified TLS for this registry")),
            ImageOps.Pull, "Image commands"),
        new(Spec("push", "push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", 1, 1,
                F("quiet", 'q', "Suppress verbose output"),
                F("insecure", null, "Allow plain HTTP or unverified TLS for this registry")),
            ImageOps.Push, "Image commands"),
        new(Spec("login", "login [OPTIONS] [SERVER]", "Log in to a registry", 0, 1,
                V("username", 'u', "Username"),
                V("password", 'p', "Password"),
                F("password-stdin", null, "Take the password from stdin"),
                F("insecure", null, "Allow plain HTTP or unverified TLS for this registry")),
            ImageOps.Login, "Image commands"),
        new(Spec("logout", "logout [SERVER]", "Log out from a registry", 0, 1), ImageOps.Logout, "Image commands"),
        new(Spec("save", "save [OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)", 1, Many,
                V("output", 'o', "Write to a file, instead of STDOUT", "file"),
                V("format", null, "Archive format: docker (default) or oci", "string")),
            ImageOps.Save, "Image commands"),
        new(Spec("history", "history [OPTIONS] IMAGE", "Show the history of an image", 1, 1,
                F("no-trunc", null, "Don't truncate output"),
                F("quiet", 'q', "Only show image IDs")),
            ImageOps.History, "Image commands"),
        new(Spec("image prune", "image prune [OPTIONS]", "Remove unused images", 0, 0,
                F("all", 'a', "Remove all unused images, not just dangling ones"),
                F("force", 'f', "Do not prompt for confirmation")),
            ImageOps.ImagePrune, "Image commands"),
        new(Spec("commit", "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", 1, 2,
                V("author", 'a', "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")"),
                V("message", 'm', "Commit message"),
                L("change", 'c', "Apply Dockerfile instruction to the created image", "list")),
            ImageOps.Commit, "Container commands"),
        new(Spec("diff", "diff CONTAINER", "Inspect changes to files or directories on a container's filesystem", 1, 1), ImageOps.Diff, "Container commands"),
        new(Spec("export", "export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", 1, 1,
                V("output", 'o', "Write to a file, instead of STDOUT", "file")),
            ImageOps.Export, "Container commands"),
        new(Spec("container prune", "container prune [OPTIONS]", "Remove all stopped containers", 0, 0,
                F("force", 'f', "Do not prompt for confirmation")),
            ImageOps.ContainerPrune, "Container commands"),
        new(Spec("system df", "system df", "Show disk usage", 0, 0), ImageOps.SystemDf, "Other commands"),
        new(Spec("system prune", "system prune [OPTIONS]", "Remove stopped containers, unused images and the build cache", 0, 0,
                F("all", 'a', "Remove all unused images not just dangling ones"),
                F("force", 'f', "Do not prompt for confirmation")),
            ImageOps.SystemPrune, "Other commands"),

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
