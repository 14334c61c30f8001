using System.Runtime.InteropServices;

namespace ContainerOps.Cli.Commands;

/// <summary><c>version</c> and <c>daemon</c>.</summary>
internal static unsafe partial class SystemCommands
{
    public const string DaemonExecutable = "containerops-daemon";

    /// <summary>`oci spec [--bundle DIR]`: writes DIR/config.json (default: here) from the built-in runtime's defaults, as
    /// `runc spec` does; it refuses to replace an existing one.</summary>
    public static int OciSpec(string[] args)
    {
        var bundle = ".";
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "-b" or "--bundle" && i + 1 < args.Length) bundle = args[++i];
            else if (args[i].StartsWith("--bundle=", StringComparison.Ordinal)) bundle = args[i]["--bundle=".Length..];
            else
            {
                Console.Error.WriteLine($"containerops oci spec: unknown argument {args[i]}\nusage: containerops oci spec [--bundle DIR]");
                return 2;
            }
        }
        if (File.Exists(Path.Combine(bundle, "config.json")))
        {
            Console.Error.WriteLine($"containerops oci spec: {Path.Combine(bundle, "config.json")} exists already");
            return 1;
        }
        ContainerOps.Runtime.Spec.SpecBuilder.WriteBundle(bundle, ContainerOps.Runtime.Spec.SpecBuilder.Template());
        return 0;
    }

    public static int PrintVersion()
    {
        var version = typeof(SystemCommands).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        Console.Out.WriteLine($"containerops version {version}");
        var arch = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "amd64",
            Architecture.Arm64 => "arm64",
            var other => other.ToString().ToLowerInvariant(),
        };
        Console.Out.WriteLine($" OS/Arch: linux/{arch}");
        Console.Out.WriteLine($" Runtime: .NET {Environment.Version}");
        return 0;
    }

    /// <summary>Where the daemon executable is: CONTAINEROPS_DAEMON, else containerops-daemon in &lt;dir of this exe&gt;/daemon/,
    /// &lt;dir&gt;/../daemon/, or on PATH.</summary>
    public static string? FindDaemon()
    {
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_DAEMON") is { Length: > 0 } configured) return configured;
        var self = Environment.ProcessPath is string p ? Path.GetDirectoryName(p)! : AppContext.BaseDirectory;
        foreach (var candidate in new[] { Path.Combine(self, "daemon", DaemonExecutable), Path.Combine(self, "..", "daemon", DaemonExecutable) })
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, DaemonExecutable);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int execv(byte* path, byte** argv);

    /// <summary>Replaces this process with the daemon, passing <paramref name="args"/> on.</summary>
    public static int ExecDaemon(string[] args)
    {
        var daemon = FindDaemon();
        if (daemon is null)
        {
            Console.Error.WriteLine($"containerops: {DaemonExecutable} was not found (set CONTAINEROPS_DAEMON, or install it in daemon/ beside this executable or on PATH)");
            return 127;
        }
        Console.Out.Flush();
        Console.Error.Flush();
        var argv = new nint[args.Length + 2];
        try
        {
            argv[0] = Marshal.StringToCoTaskMemUTF8(daemon);
            for (var i = 0; i < args.Length; i++) argv[i + 1] = Marshal.StringToCoTaskMemUTF8(args[i]);
            fixed (nint* a = argv)
                execv((byte*)argv[0], (byte**)a);
            var errno = Marshal.GetLastPInvokeError();
            Console.Error.WriteLine($"containerops: cannot run {daemon}: {Marshal.GetPInvokeErrorMessage(errno)}");
            return errno == 2 ? 127 : 126;
        }
        finally
        {
            foreach (var p in argv) if (p != 0) Marshal.FreeCoTaskMem(p);
        }
    }
}
