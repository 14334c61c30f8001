using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Engine;

namespace ContainerOps.Daemon.Api;

/// <summary>
/// What Docker clients negotiate with before anything else: versioned paths (<c>/v1.41/containers/json</c> reaches
/// the handler of <c>/containers/json</c>), <c>/_ping</c> with its headers, <c>/version</c> and <c>/info</c>.
/// </summary>
internal static partial class DockerSystemRoutes
{
    /// <summary>Set on requests from Docker clients — those that came with a version prefix, and those without one whose
    /// user agent is not our own client's (Docker.DotNet, curl: dockerd answers them with its current API) — so that
    /// streams Docker frames differently from our own client (logs, attach, progress) are framed as Docker's.</summary>
    public const string VersionedRequest = "docker-api-version";

    [GeneratedRegex(@"^/v(\d+\.\d+)(/.*)$")]
    private static partial Regex VersionPrefix();

    /// <summary>Strips <c>/vX.Y</c> before routing. A version older than the minimum is refused as dockerd refuses it.</summary>
    public static void UseVersionedPaths(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value ?? "";
            if (path.StartsWith("/v", StringComparison.Ordinal) && VersionPrefix().Match(path) is { Success: true } m)
            {
                var version = m.Groups[1].Value;
                if (Version.Parse(version) < Version.Parse(DockerApiVersions.Minimum))
                    throw new ContainerOpsException(ErrorKind.InvalidArgument, "ApiVersionTooOld",
                        $"client version {version} is too old. Minimum supported API version is {DockerApiVersions.Minimum}, please upgrade your client to a newer version");
                context.Items[VersionedRequest] = version;
                context.Request.Path = m.Groups[2].Value;
            }
            else if (context.Request.Headers.UserAgent.ToString() is { Length: > 0 } agent
                     && !agent.StartsWith(DockerApiVersions.OwnClientUserAgent, StringComparison.Ordinal))
                context.Items[VersionedRequest] = DockerApiVersions.Current;
            context.Response.Headers["Api-Version"] = DockerApiVersions.Current;
            context.Response.Headers["Server"] = $"ContainerOps/{DaemonVersion} (linux)";
            await next(context);
        });
    }

    public static bool IsDockerClient(HttpContext context) => context.Items.ContainsKey(VersionedRequest);

    private static string DaemonVersion => typeof(DockerSystemRoutes).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private static string Arch => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        var other => other.ToString().ToLowerInvariant(),
    };

    private static string KernelVersion => ReadTrimmed("/proc/sys/kernel/osrelease");

    private static string ReadTrimmed(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (IOException) { return ""; }
    }

    public static void Map(WebApplication app)
    {
        // Docker's headers: the client takes the API version from them, and its defaults for experimental and the builder.
        IResult Ping(HttpContext context)
        {
            var h = context.Response.Headers;
            h["Docker-Experimental"] = "false";
            h["OSType"] = "linux";
            h["Builder-Version"] = "1";
            h["Swarm"] = "inactive";
            h["Cache-Control"] = "no-cache, no-store, must-revalidate";
            h["Pragma"] = "no-cache";
            return HttpMethods.IsHead(context.Request.Method) ? Results.Ok() : Results.Text("OK");
        }
        app.MapGet("/_ping", Ping);
        app.MapMethods("/_ping", ["HEAD"], Ping);

        app.MapGet("/version", () =>
        {
            var v = new SystemVersion
            {
                Platform = new VersionPlatform { Name = "ContainerOps" },
                Version = DaemonVersion, Arch = Arch, KernelVersion = KernelVersion, GoVersion = ".NET " + Environment.Version,
            };
            v.Components.Add(new VersionComponent
            {
                Name = "Engine", Version = DaemonVersion,
                Details = new()
                {
                    ["ApiVersion"] = v.ApiVersion, ["MinAPIVersion"] = v.MinAPIVersion, ["Arch"] = v.Arch, ["Os"] = v.Os,
                    ["KernelVersion"] = v.KernelVersion, ["Experimental"] = "false", ["GitCommit"] = "", ["GoVersion"] = v.GoVersion, ["BuildTime"] = "",
                },
            });
            return Json.Ok(v, ApiJsonContext.Default.SystemVersion);
        });

        app.MapGet("/info", (ContainerManager m) =>
        {
            var containers = m.AllContainers();
            var os = OsRelease();
            var info = new SystemInfo
            {
                ID = MachineId(), Name = Environment.MachineName, ServerVersion = DaemonVersion,
                Containers = containers.Count, ContainersRunning = containers.Count(c => c.Running), ContainersStopped = containers.Count(c => !c.Running),
                Images = m.Images.List().Count,
                SystemTime = DateTimeOffset.Now.ToString("yyyy-MM-ddTHH:mm:ss.fffffffzzz", System.Globalization.CultureInfo.InvariantCulture),
                KernelVersion = KernelVersion, OperatingSystem = os.GetValueOrDefault("PRETTY_NAME", "Linux"), OSVersion = os.GetValueOrDefault("VERSION_ID", ""),
                Architecture = RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64 ? "x86_64" : Arch,
                NCPU = Environment.ProcessorCount, MemTotal = MemTotal(), DockerRootDir = m.Options.Root,
                CgroupVersion = File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1",
                NGoroutines = System.Diagnostics.Process.GetCurrentProcess().Threads.Count,
                Plugins = new InfoPlugins { Volume = ["local"], Network = ["bridge", "host", "none"], Log = ["json-file"] },
                Runtimes = new() { ["builtin"] = new InfoRuntime { Path = "containerops-shim" }, ["crun"] = new InfoRuntime { Path = "crun" }, ["runc"] = new InfoRuntime { Path = "runc" } },
                SecurityOptions = ["name=seccomp,profile=builtin", "name=no-new-privileges"],
                DriverStatus = [["Backing Filesystem", "overlay"]],
                NEventsListener = m.Events.ListenerCount,
            };
            return Json.Ok(info, ApiJsonContext.Default.SystemInfo);
        });
    }

    private static Dictionary<string, string> OsRelease()
    {
        var values = new Dictionary<string, string>();
        try
        {
            foreach (var line in File.ReadLines("/etc/os-release"))
                if (line.Split('=', 2) is [var k, var v]) values[k] = v.Trim('"');
        }
        catch (IOException) { }
        return values;
    }

    private static string MachineId() => ReadTrimmed("/etc/machine-id");

    private static long MemTotal()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (Exception e) when (e is IOException or FormatException) { }
        return 0;
    }
}
