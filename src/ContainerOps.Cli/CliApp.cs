using ContainerOps.Cli.Parsing;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.Cli;

/// <summary>One verb: its command line spec and what it does.</summary>
internal sealed record Verb(CommandSpec Spec, Func<CliContext, ParsedArgs, Task<int>> Run, string Group = "Commands");

/// <summary>Entry point: global options, verb dispatch, and the mapping of errors to messages and exit statuses.</summary>
internal static class CliApp
{
    public const int UsageExit = 125;

    internal static readonly CommandSpec GlobalSpec = new()
    {
        Name = "containerops",
        Usage = "[OPTIONS] COMMAND",
        Summary = "Containers from the shell: docker-shaped verbs over the ContainerOps daemon",
        Options = new OptionSpec[]
        {
            new("host", 'H', OptionKind.Value, "Daemon socket to connect to (unix:///path)"),
            new("root", null, OptionKind.Value, "State root of an auto-started daemon"),
            new("run-root", null, OptionKind.Value, "Run root of an auto-started daemon (its socket lives there)"),
            new("version", 'v', OptionKind.Flag, "Print version information and quit"),
        },
        StopAtFirstPositional = true,
    };

    public static async Task<int> MainAsync(string[] args)
    {
        ContainerOps.Core.IO.StandardStreams.UseForConsole();
        try { return await RunAsync(args).ConfigureAwait(false); }
        catch (Exception e) when (ContainerOps.Core.IO.StandardStreams.IsBrokenPipe(e)) { return 141; } // 128 + SIGPIPE, as a C program would end
    }

    private static async Task<int> RunAsync(string[] args)
    {
        ParsedArgs global;
        try { global = ArgParser.Parse(GlobalSpec, args); }
        catch (UsageException e) { return UsageError(e); }

        if (global.Flag("version")) return Commands.SystemCommands.PrintVersion();
        if (global.Positionals.Count == 0)
        {
            Console.Out.Write(GlobalHelp());
            return global.HelpRequested ? 0 : UsageExit;
        }
        var name = global.Positionals[0];
        var rest = global.Positionals.Skip(1).ToArray();

        // Verbs that pass their arguments through untouched.
        switch (name)
        {
            // `oci spec` is here rather than in the runtime command line: writing a spec needs the serializer, which
            // containerops-runtime leaves out to start faster.
            case "oci" when rest.Length > 0 && rest[0] == "spec": return Commands.SystemCommands.OciSpec(rest[1..]);
            case "oci": return ContainerOps.Runtime.Oci.OciCommandLine.Run(rest);
            case "daemon": return Commands.SystemCommands.ExecDaemon(rest);
            case "help":
                if (rest.Length > 0 && Verbs.Find(rest[0]) is Verb v) { Console.Out.Write(ArgParser.Help(v.Spec)); return 0; }
                Console.Out.Write(GlobalHelp());
                return 0;
        }

        // Management groups: `image prune`, `system df`, `container prune`, and `image pull`, `container ls`… for the plain verbs.
        if (name is "image" or "container" or "system" or "network" or "volume" && rest.Length > 0)
        {
            var sub = (name, rest[0]) switch
            {
                ("image", "ls" or "list") => "images",
                ("image", "rm") => "rmi",
                ("image", "inspect") or ("container", "inspect") => "inspect",
                ("container", "ls" or "list") => "ps",
                ("network", "list") => "network ls",
                ("network", "remove") => "network rm",
                ("volume", "list") => "volume ls",
                ("volume", "remove") => "volume rm",
                _ => rest[0],
            };
            if (Verbs.Find(name + " " + rest[0]) is not null) { name = name + " " + rest[0]; rest = rest[1..]; }
            else if (sub.StartsWith("network ", StringComparison.Ordinal) || sub.StartsWith("volume ", StringComparison.Ordinal)) { name = sub; rest = rest[1..]; }
            else if (name != "system" && Verbs.Find(sub) is not null) { name = sub; rest = rest[1..]; }
        }

        var verb = name == "compose" ? null : Verbs.Find(name);
        if (verb is null && name != "compose")
        {
            Console.Error.WriteLine($"containerops: '{name}' is not a containerops command.");
            Console.Error.WriteLine("See 'containerops --help'");
            return UsageExit;
        }

        var options = ClientOptions.FromEnvironment();
        if (global.Value("host") is string host)
        {
            if (host.StartsWith("unix://", StringComparison.Ordinal)) options.SocketPath = host["unix://".Length..];
            else if (host.StartsWith('/')) options.SocketPath = host;
            else return UsageError(new UsageException($"unsupported host \"{host}\": expected unix:///path/to/socket"));
        }
        if (global.Value("root") is string root) options.Root = root;
        if (global.Value("run-root") is string runRoot) options.RunRoot = runRoot;

        // `compose` parses its own options and verbs.
        if (verb is null) return await ExecuteAsync(options, "compose", c => Commands.Compose.RunAsync(c, rest)).ConfigureAwait(false);

        ParsedArgs parsed;
        try { parsed = ArgParser.Parse(verb.Spec, rest); }
        catch (UsageException e) { return UsageError(e, verb.Spec.Name); }
        if (parsed.HelpRequested)
        {
            Console.Out.Write(ArgParser.Help(verb.Spec));
            return 0;
        }
        return await ExecuteAsync(options, verb.Spec.Name, c => verb.Run(c, parsed)).ConfigureAwait(false);
    }

    /// <summary>Runs a verb with its context, mapping failures to messages and docker's exit statuses.</summary>
    private static async Task<int> ExecuteAsync(ClientOptions options, string verbName, Func<CliContext, Task<int>> run)
    {
        using var context = new CliContext(options);
        try
        {
            return await run(context).ConfigureAwait(false);
        }
        catch (UsageException e) { return UsageError(e, verbName); }
        catch (ContainerOpsException e)
        {
            Console.Error.WriteLine($"containerops: {e.Error.Message}");
            return e.CliExitCode;
        }
        catch (OperationCanceledException) when (context.Cancel.IsCancellationRequested)
        {
            return 130;
        }
        catch (Exception e) when (ContainerOps.Core.IO.StandardStreams.IsBrokenPipe(e)) { return 141; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Http.HttpRequestException
                                      or System.Net.Sockets.SocketException)
        {
            Console.Error.WriteLine($"containerops: {e.Message}");
            return UsageExit;
        }
        finally
        {
            context.Flush();
        }
    }

    internal static int UsageError(UsageException e, string? verb = null)
    {
        Console.Error.WriteLine($"containerops: {e.Message}");
        var command = e.Command ?? verb;
        Console.Error.WriteLine(command is null ? "See 'containerops --help'." : $"See 'containerops {command} --help'.");
        return UsageExit;
    }

    internal static string GlobalHelp()
    {
        var sb = new System.Text.StringBuilder(ArgParser.Help(GlobalSpec));
        foreach (var group in Verbs.All.GroupBy(v => v.Group))
        {
            sb.Append('\n').Append(group.Key).Append(":\n");
            foreach (var v in group) sb.Append("  ").Append(v.Spec.Name.PadRight(16)).Append(v.Spec.Summary).Append('\n');
        }
        sb.Append("\nOther:\n")
          .Append("  daemon      Run the ContainerOps daemon (arguments are passed to it)\n")
          .Append("  oci         OCI runtime commands (create, start, state, kill, delete) of the built-in runtime\n")
          .Append("  compose     Define and run multi-container applications from compose files ('compose --help')\n")
          .Append("\nRun 'containerops COMMAND --help' for more information on a command.\n");
        return sb.ToString();
    }
}
