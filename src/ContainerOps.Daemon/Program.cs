using System.Runtime.InteropServices;
using ContainerOps.Cluster;
using ContainerOps.Cluster.Controllers;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Daemon.Api;
using ContainerOps.Daemon.Engine;

namespace ContainerOps.Daemon;

/// <summary>`containerops-daemon [--root DIR] [--run-root DIR] [--socket PATH] [--cgroup-parent NAME] [--shim PATH] [--insecure-registry HOST[:PORT]]... [--certs-dir DIR] [--docker-config DIR]
/// [--bridge-name NAME] [--bridge-subnet CIDR] [--bridge-prefix PREFIX] [--nft-table NAME] [--dns-upstream IP[:PORT]]... [--cluster-address IP:PORT|none] [--service-cidr CIDR] [--max-watches N] [--detach]`.</summary>
public static partial class Program
{
    public static async Task<int> Main(string[] args)
    {
        DaemonOptions options;
        bool detach;
        try { (options, detach) = ParseArgs(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"containerops-daemon: {e.Message}");
            return 2;
        }
        Directory.CreateDirectory(options.RunRoot);
        Directory.CreateDirectory(options.Root);

        // One daemon per run root: the lock is held for the life of the process.
        FileStream instanceLock;
        try { instanceLock = new FileStream(Path.Combine(options.RunRoot, "daemon.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException)
        {
            Console.Error.WriteLine($"containerops-daemon: another daemon already runs with run root {options.RunRoot}");
            return 1;
        }
        var readyFd = detach ? Detach(Path.Combine(options.RunRoot, "daemon.log")) : -1;
        File.WriteAllText(Path.Combine(options.RunRoot, "daemon.pid"), Environment.ProcessId.ToString());

        var socket = options.EffectiveSocketPath;
        if (File.Exists(socket)) File.Delete(socket);

        // The content root is the daemon's own directory, and configuration is not reloaded: by default the host
        // watches the working directory recursively, which is wherever the client that auto-started us ran.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new LineLoggerProvider());
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // The image engine reads uploads with blocking I/O on worker threads.
        // The control plane: the cluster store in the state root and the Kubernetes API, on the socket and on its TLS port.
        using var cluster = ClusterHost.Open(options.Root, new ClusterHostOptions
        {
            TlsEndpoint = ClusterHostOptions.ParseAddress(options.ClusterAddress), ServiceNetwork = options.ServiceNetwork,
            Api = new Cluster.Api.KubernetesApiOptions { MaxWatches = options.MaxWatches },
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Docker clients half-close attach and exec connections and read on: HijackedConnections keeps them.
            k.ListenUnixSocket(socket, listen => listen.Use(HijackedConnections.Middleware));
            k.AllowSynchronousIO = true;
            k.Limits.MaxRequestBodySize = null;
            cluster.Listen(k);
        });
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new Core.Events.EventBus());
        builder.Services.AddSingleton<ContainerNetworking>();
        builder.Services.AddSingleton<ContainerVolumes>();
        builder.Services.AddSingleton<ContainerManager>();
        builder.Services.AddSingleton<PodSandboxes>();
        builder.Services.AddSingleton<Sessions>();
        builder.Services.AddSingleton<ExecRegistry>();
        builder.Services.AddSingleton<ContainerInputs>();

        var app = builder.Build();
        var manager = app.Services.GetRequiredService<ContainerManager>();
        var sandboxes = app.Services.GetRequiredService<PodSandboxes>(); // before recovery, which keeps their addresses
        await manager.RecoverAsync();
        var nodeControllers = ServiceNetworking.NodeControllers(options, app.Services.GetRequiredService<ContainerNetworking>())
            .Append(_ => new ContainerOps.Cluster.Node.LocalVolumeProvisioner(new NodeStorage(app.Services.GetRequiredService<ContainerVolumes>()), options.Node.Agent.NodeName));
        await using var nodeAgent = NodeRuntimeAdapter.StartAgent(cluster, manager, sandboxes, app.Services.GetRequiredService<ContainerInputs>(), options, app.Logger);
        // The controllers start with the control plane, like the node agent, and stop before the store closes.
        await using var controllers = ControllerManager.StartWhenActive(cluster, options.Node.Controllers, app.Logger, nodeControllers);
        using var idleTrim = new IdleTrim();
        app.Use((context, next) => { idleTrim.Touch(); return next(context); });
        app.UseWebSockets(); // before the cluster API: kubectl exec and attach are WebSocket connections
        app.Use(cluster.InvokeAsync);
        app.Use(async (context, next) =>
        {
            try { await next(context); }
            catch (ContainerOpsException e) when (!context.Response.HasStarted)
            {
                await Json.WriteErrorAsync(context, e.Error);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { }
            catch (Exception e) when (!context.Response.HasStarted)
            {
                app.Logger.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
                await Json.WriteErrorAsync(context, new ApiError { Kind = ErrorKind.Internal, Id = "Internal", Message = e.Message });
            }
        });
        DockerSystemRoutes.UseVersionedPaths(app);
        DockerImagePaths.Use(app);
        app.UseRouting(); // after the version prefix is gone
        Routes.Map(app);

        await app.StartAsync();
        File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        app.Logger.LogInformation("listening on unix://{Socket} (root {Root}, run root {RunRoot})", socket, options.Root, options.RunRoot);
        cluster.Started(app.Urls);
        if (cluster.ServerUrl is { } clusterUrl) app.Logger.LogInformation("cluster API on {Url}", clusterUrl);
        if (cluster.TlsProblem is { } problem) app.Logger.LogWarning("cluster API: {Problem}", problem);
        SignalReady(readyFd);
        await app.WaitForShutdownAsync();
        manager.Dispose();
        // Removed containers' layers and records still being deleted: a daemon that stops leaves none behind.
        DeferredDelete.WaitForPending(TimeSpan.FromSeconds(10));
        GC.KeepAlive(instanceLock);
        return 0;
    }

    internal static (DaemonOptions, bool) ParseArgs(string[] args)
    {
        var o = new DaemonOptions();
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_ROOT") is { Length: > 0 } root) o.Root = root;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_RUN_ROOT") is { Length: > 0 } runRoot) o.RunRoot = runRoot;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_CGROUP_PARENT") is { Length: > 0 } parent) o.CgroupParent = parent;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_CLUSTER_ADDRESS") is { } clusterAddress) o.ClusterAddress = clusterAddress;
        // The kernel names of the networks: a second daemon beside the system's one (a test suite's) needs its own.
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_BRIDGE_NAME") is { Length: > 0 } bridge) o.BridgeName = bridge;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_BRIDGE_PREFIX") is { Length: > 0 } prefix) o.BridgePrefix = prefix;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_NFT_TABLE") is { Length: > 0 } table) o.NftTable = table;
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_SERVICE_CIDR") is { Length: > 0 } serviceCidr) o.ServiceNetwork = Cluster.Api.ServiceNetworkOptions.Parse(serviceCidr);
        var detach = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            var a = args[i];
            var eq = a.IndexOf('=');
            if (a.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                args = args[..i].Concat(new[] { a[..eq], a[(eq + 1)..] }).Concat(args[(i + 1)..]).ToArray();
                a = args[i];
            }
            switch (a)
            {
                case "--root": o.Root = Path.GetFullPath(Value()); break;
                case "--run-root": o.RunRoot = Path.GetFullPath(Value()); break;
                case "--socket" or "-H": o.SocketPath = Value().Replace("unix://", ""); break;
                case "--cgroup-parent": o.CgroupParent = Value(); break;
                case "--shim": o.ShimPath = Value(); break;
                case "--insecure-registry": o.InsecureRegistries.Add(Value()); break;
                case "--certs-dir": o.RegistryCertsDirectory = Path.GetFullPath(Value()); break;
                case "--docker-config": o.DockerConfigDirectory = Path.GetFullPath(Value()); break;
                case "--bridge-name": o.BridgeName = Value(); break;
                case "--bridge-subnet": o.BridgeSubnet = Value(); break;
                case "--bridge-prefix": o.BridgePrefix = Value(); break;
                case "--nft-table": o.NftTable = Value(); break;
                case "--dns-upstream": o.DnsUpstreams.Add(Value()); break;
                case "--dns-port": o.DnsPort = int.TryParse(Value(), out var port) && port is > 0 and < 65536 ? port : throw new ArgumentException("--dns-port needs a port number"); break;
                case "--cluster-address": o.ClusterAddress = Value(); ClusterHostOptions.ParseAddress(o.ClusterAddress); break;
                case "--service-cidr": o.ServiceNetwork = Cluster.Api.ServiceNetworkOptions.Parse(Value()); break;
                case "--max-watches": o.MaxWatches = int.TryParse(Value(), out var watches) && watches > 0 ? watches : throw new ArgumentException("--max-watches needs a number of watches above 0"); break;
                case "--detach": detach = true; break;
                default: if (!o.Node.TryParse(a, Value)) throw new ArgumentException($"unknown option {a}"); break;
            }
        }
        return (o, detach);
    }

    [LibraryImport("libc", SetLastError = true)] private static partial int setsid();
    [LibraryImport("libc", SetLastError = true)] private static partial int dup2(int oldfd, int newfd);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags, int mode);
    [LibraryImport("libc", SetLastError = true)] private static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport("libc", SetLastError = true)] private static partial nint write(int fd, byte[] buffer, nint count);

    /// <summary>A daemon started by a client leaves the client's session and stdio: its output goes to the log file.
    /// The stdout it was given stays open, close-on-exec, as the readiness channel (<see cref="SignalReady"/>).</summary>
    private static int Detach(string logPath)
    {
        setsid();
        var ready = fcntl(1, 1030 /* F_DUPFD_CLOEXEC */, 3);
        var nul = open("/dev/null", 2, 0);
        var log = open(logPath, 0x441 /* O_WRONLY|O_CREAT|O_APPEND */, Convert.ToInt32("600", 8));
        if (nul >= 0) { dup2(nul, 0); close(nul); }
        if (log >= 0) { dup2(log, 1); dup2(log, 2); close(log); }
        return ready;
    }

    /// <summary>Tells the client that started this daemon that the socket accepts connections: "ready" on the stdout
    /// it gave, then end of file. The client blocks on that read instead of polling the socket.</summary>
    private static void SignalReady(int fd)
    {
        if (fd < 0) return;
        write(fd, "ready\n"u8.ToArray(), 6);
        close(fd);
    }
}
