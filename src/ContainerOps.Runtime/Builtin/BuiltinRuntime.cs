using ContainerOps.Core.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Cgroups;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Seccomp;
using ContainerOps.Runtime.Shim;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Builtin;

/// <summary>
/// The default runtime: the C shim sets each container up from a plan written here, then stays as its parent.
/// All state lives in STATE_ROOT/&lt;id&gt; and in the cgroup, so a fresh instance (a restarted daemon, or the
/// `containerops oci` command line) sees every container an earlier one started.
/// </summary>
public partial class BuiltinRuntime : IContainerRuntime
{
    protected readonly RuntimeContext _context;
    protected readonly CgroupManager _cgroups;

    public BuiltinRuntime(RuntimeContext context, CgroupManager? cgroups = null)
    {
        _context = context;
        _cgroups = cgroups ?? CgroupManager.ForHost();
    }

    public virtual string Name => "builtin";
    public CgroupManager Cgroups => _cgroups;

    public virtual Task<RuntimeStatus> RunAsync(RunOptions options, CancellationToken ct = default) => Task.FromResult(Launch(options, createOnly: false));

    /// <summary>OCI `create`: everything is set up and the init waits on the exec fifo until <see cref="Start"/>.</summary>
    public RuntimeStatus Create(RunOptions options) => Launch(options, createOnly: true);

    /// <summary>OCI `start`: releases a created container's init into execve.</summary>
    public void Start(string id)
    {
        var dir = StateDir(id);
        GetStatus(id); // settles a start cut off after the release: then the container is not created any more
        var record = dir.Read() ?? throw NotFound(id);
        if (record.Status != "created")
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotCreated", $"container {id} is not in the created state", id);
        AwaitRelease(id, dir.ExecFifo, record);
        File.Delete(dir.ExecFifo);
        record.Status = "running";
        dir.Write(record);
        RunPoststart(record);
    }

    /// <summary>
    /// The fifo a created init waits on. The init opens it again after its credentials changed, as the container's
    /// user or a user namespace's root: writable by all (as runc makes it; the state directory keeps others out) and
    /// owned by the host ids of the container's root.
    /// </summary>
    private static void MakeExecFifo(string path, OciLinux? linux)
    {
        if (Libc.mkfifo(path, Convert.ToInt32("622", 8)) != 0) Libc.ThrowErrno("mkfifo " + path);
        if (Libc.fchmodat(Libc.Fs.AT_FDCWD, path, Convert.ToUInt32("622", 8), 0) != 0) Libc.ThrowErrno("chmod " + path); // past the umask
        var uid = HostIdOfRoot(linux?.UidMappings);
        var gid = HostIdOfRoot(linux?.GidMappings);
        if ((uid | gid) != 0 && Libc.fchownat(Libc.Fs.AT_FDCWD, path, uid, gid, 0) != 0) Libc.ThrowErrno("chown " + path);
    }

    private static uint HostIdOfRoot(List<OciIdMapping>? mappings) =>
        mappings?.FirstOrDefault(m => m.ContainerId == 0 && m.Size > 0) is { } m ? m.HostId : 0;

    /// <summary>
    /// Opening the fifo for reading releases the init, which waits to open it for writing; it writes one byte, then
    /// execs. An init that died before (its error went to create's output) would leave a blocking open waiting for
    /// ever: the fifo is opened without blocking and polled beside a pidfd of the init. The pidfd comes first: once the
    /// fifo is open a short-lived init may write, exec, exit and be reaped before the next instruction here.
    /// </summary>
    private static unsafe void AwaitRelease(string id, string fifoPath, ContainerRuntimeRecord record)
    {
        var pidfd = Libc.PidfdOpen(record.Pid);
        // Gone, or a zombie, or another process under a reused pid: it died before it was released.
        if (pidfd < 0 || !IsAlive(record))
        {
            if (pidfd >= 0) Libc.close(pidfd);
            throw InitGone(id);
        }
        var fifo = Libc.open(fifoPath, Libc.Fs.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fifo < 0)
        {
            Libc.close(pidfd);
            Libc.ThrowErrno("open " + fifoPath);
        }
        try
        {
            var fds = stackalloc Libc.PollFd[2];
            while (true)
            {
                fds[0] = new Libc.PollFd { Fd = fifo, Events = Libc.POLLIN };
                fds[1] = new Libc.PollFd { Fd = pidfd, Events = Libc.POLLIN };
                if (Libc.poll(fds, 2, -1) < 0)
                {
                    if (Libc.LastErrno == Libc.EINTR) continue;
                    Libc.ThrowErrno("poll " + fifoPath);
                }
                if (fds[0].Revents != 0)
                {
                    byte b;
                    var n = Libc.read(fifo, &b, 1);
                    if (n == 1) return;
                    if (n == 0) throw InitGone(id); // its writer closed without a word
                }
                if (fds[1].Revents != 0) throw InitGone(id);
            }
        }
        finally
        {
            Libc.close(fifo);
            Libc.close(pidfd);
        }
    }

    private static ContainerOpsException InitGone(string id) => new(ErrorKind.Conflict, "ContainerInitExited",
        $"container {id}: its process exited before start (create's error output says why)", id);

    /// <summary>The spec's poststart hooks, once the container's process runs.</summary>
    private static void RunPoststart(ContainerRuntimeRecord record)
    {
        if (record.HasHooks == false) return;
        var spec = TryReadBundle(record.Bundle);
        if (spec?.Hooks?.Poststart is { Count: > 0 } hooks)
            Hooks.RunAndWarn(hooks, "poststart", HookState(record, spec, "running", record.Pid));
    }

    private static OciSpec? TryReadBundle(string bundle)
    {
        try { return SpecBuilder.ReadBundle(bundle); }
        catch (ContainerOpsException) { return null; } // the bundle is gone: nothing to run
    }

    private static string HookState(ContainerRuntimeRecord record, OciSpec spec, string status, int pid) =>
        new OciState { Id = record.Id, Status = status, Pid = pid, Bundle = record.Bundle, Annotations = spec.Annotations }.ToJson();

    private RuntimeStatus Launch(RunOptions options, bool createOnly)
    {
        ValidateId(options.Id);
        var dir = StateDir(options.Id);
        if (dir.Exists)
        {
            var existing = GetStatus(options.Id);
            if (existing.State is RuntimeState.Running or RuntimeState.Paused or RuntimeState.Created)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerExists", $"container {options.Id} already exists and is {existing.State.ToString().ToLowerInvariant()}", options.Id);
            Cleanup(dir, dir.Read()?.CgroupsPath);
        }

        var spec = options.Spec ?? SpecBuilder.ReadBundle(options.BundlePath);
        SpecValidation.Validate(spec, options.Id);
        var rootfs = spec.Root?.Path ?? "rootfs";
        if (!Path.IsPathRooted(rootfs)) rootfs = Path.GetFullPath(Path.Combine(options.BundlePath, rootfs));
        if (!Directory.Exists(rootfs))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "RootfsNotFound", $"container {options.Id}: root filesystem {rootfs} does not exist", options.Id, "root.path");
        var cgroupsPath = PlanWriter.CgroupsPath(spec, options.Id);
        var inheritStdio = options.InheritStdio && spec.Process?.Terminal != true;
        var unmonitored = options.Unmonitored;
        var terminal = spec.Process?.Terminal == true;
        if (unmonitored && terminal && options.ConsoleSocket is null)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "ConsoleSocketRequired",
                $"container {options.Id}: a terminal (process.terminal) needs --console-socket", options.Id, "process.terminal");
        if (options.ConsoleSocket is not null && !(unmonitored && terminal))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "ConsoleSocketWithoutTerminal",
                $"container {options.Id}: --console-socket is for a container with a terminal (process.terminal)", options.Id, "process.terminal");

        Directory.CreateDirectory(dir.Dir);
        Directory.CreateDirectory(dir.SocketDir);
        var cgroupCreated = false;
        try
        {
            // The record comes first: whatever a crash leaves behind from here on (the cgroup, a shim that carries on
            // alone) is found through it. Until it has a pid, the shim's pid file tells (see SettleCutOffLaunch).
            var record = new ContainerRuntimeRecord
            {
                Id = options.Id, Runtime = Name, Bundle = Path.GetFullPath(options.BundlePath), CgroupsPath = cgroupsPath,
                Status = createOnly ? "created" : "running", Created = DateTimeOffset.UtcNow, Unmonitored = unmonitored,
                HasHooks = spec.Hooks is { } hooks && (hooks.Poststart is { Count: > 0 } || hooks.Poststop is { Count: > 0 }),
            };
            dir.Write(record);
            if (CreatesCgroups)
            {
                DefaultDevices.AppendTo(spec.Linux?.Resources);
                _cgroups.Create(cgroupsPath, spec.Linux?.Resources, options.Id);
                cgroupCreated = true;
            }
            if (createOnly) MakeExecFifo(dir.ExecFifo, spec.Linux);

            var paths = new ShimPaths
            {
                LogPath = inheritStdio || unmonitored ? null : options.LogPath, LogMaxBytes = options.LogMaxBytes, LogMaxFiles = options.LogMaxFiles,
                ExitFile = unmonitored ? null : dir.ExitFile, PidFile = dir.PidFile,
                AttachSocket = unmonitored ? null : dir.AttachSocket, ControlSocket = unmonitored ? null : dir.ControlSocket,
                ExecFifo = createOnly ? dir.ExecFifo : null, OpenStdin = options.OpenStdin && !inheritStdio, InheritStdio = inheritStdio,
                Unmonitored = unmonitored, ConsoleSocket = options.ConsoleSocket,
            };
            SmallFile.WriteText(dir.PlanFile, WritePlan(options, spec, rootfs, cgroupsPath, paths));
            CrashPoint.Hit("runtime-before-shim");

            var (pid, shim) = RunShimFront(createOnly ? "create" : "run", dir.PlanFile, options.Id, spec.Process?.Args.FirstOrDefault(), inheritStdio);
            CrashPoint.Hit("runtime-after-shim");
            record.Pid = pid;
            record.PidStartTime = ContainerStateDir.ProcessStartTime(pid);
            record.ShimPid = shim;
            record.ShimStartTime = ContainerStateDir.ProcessStartTime(shim);
            dir.Write(record);
            if (!createOnly && spec.Hooks?.Poststart is { Count: > 0 } poststart)
                Hooks.RunAndWarn(poststart, "poststart", HookState(record, spec, "running", pid));
            return new RuntimeStatus(options.Id, createOnly ? RuntimeState.Created : RuntimeState.Running, pid, 0, 0, null, false) { StartedAt = record.Created };
        }
        catch
        {
            Cleanup(dir, cgroupCreated ? cgroupsPath : null);
            throw;
        }
    }

    /// <summary>Whether this runtime makes the cgroup itself (an external runtime makes its own from the spec).</summary>
    protected virtual bool CreatesCgroups => true;

    protected virtual string WritePlan(RunOptions options, OciSpec spec, string rootfs, string cgroupsPath, ShimPaths paths) =>
        PlanWriter.ForContainer(options.Id, spec, rootfs, _cgroups.ProcsFiles(cgroupsPath), paths, SeccompFor(spec, options.Id), Path.GetFullPath(options.BundlePath));

    /// <summary>The compiled filter of the spec's linux.seccomp (cached under the state root), or null without one.</summary>
    protected SeccompProgram? SeccompFor(OciSpec spec, string id) =>
        spec.Linux?.Seccomp is { } profile ? SeccompCompiler.Prepare(profile, _context.StateRoot, id) : null;

    /// <summary>Runs the shim's front process and returns the container's pid and the shim's (its monitor), or throws
    /// what it reported. With <paramref name="inheritStdio"/> the shim gets this process's stdio and reports on fd 3.</summary>
    private (int Pid, int Shim) RunShimFront(string mode, string planFile, string id, string? command, bool inheritStdio)
    {
        Span<int> fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_CLOEXEC) != 0) Libc.ThrowErrno("pipe2");
        int pid;
        try
        {
            pid = inheritStdio
                ? Spawn.Start(_context.ShimPath, new[] { _context.ShimPath, mode, planFile, "3" }, 0, 1, 2, fd3: fds[1])
                : Spawn.Start(_context.ShimPath, new[] { _context.ShimPath, mode, planFile }, -1, fds[1], fds[1]);
        }
        catch (IOException e)
        {
            Libc.close(fds[0]);
            Libc.close(fds[1]);
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "ShimNotFound", $"cannot start the container shim {_context.ShimPath}: {e.Message}", id, inner: e);
        }
        Libc.close(fds[1]);
        string? line;
        using (var reader = new StreamReader(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fds[0], true), FileAccess.Read, 1), Encoding.UTF8))
            line = reader.ReadLine();
        var exit = Spawn.WaitForExit(pid);
        return ParseFrontReport(line, exit, id, command);
    }

    /// <summary>`ok &lt;pid&gt; &lt;shim-pid&gt;` (the shim's pid is 0 from an earlier shim that reported only the container's).</summary>
    internal static (int Pid, int Shim) ParseFrontReport(string? line, int exitCode, string id, string? command)
    {
        if (line is not null && line.StartsWith("ok ", StringComparison.Ordinal) && exitCode == 0)
        {
            var parts = line[3..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length is 1 or 2 && int.TryParse(parts[0], out var pid))
                return (pid, parts.Length == 2 && int.TryParse(parts[1], out var shim) ? shim : 0);
        }
        var m = line is null ? null : FrontError().Match(line);
        if (m is null || !m.Success)
            throw new ContainerOpsException(ErrorKind.Internal, "ShimFailed",
                $"container {id}: the shim exited with {exitCode} without a report" + (line is null ? "" : $" (it said: {line})"), id);
        var errno = int.Parse(m.Groups[1].Value);
        var stage = m.Groups[2].Value;
        var message = m.Groups[3].Value;
        if (stage == "exec")
        {
            if (errno == Libc.ENOENT)
                throw new ContainerOpsException(ErrorKind.CommandNotFound, "CommandNotFound",
                    $"container {id}: exec: \"{command}\": executable file not found ({message})", id, "Cmd");
            throw new ContainerOpsException(ErrorKind.CannotExecute, "CannotExecute",
                $"container {id}: exec: \"{command}\": cannot execute ({message})", id, "Cmd");
        }
        var field = stage switch { "cwd" => "WorkingDir", "hostname" => "Hostname", "user" or "uid" or "gid" or "groups" => "User", _ => null };
        throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "ContainerSetupFailed", $"container {id}: {stage}: {message}", id, field);
    }

    [GeneratedRegex(@"^error (\d+) ([^:]+): (.*)$")]
    private static partial Regex FrontError();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex IdPattern();

    public static void ValidateId(string id)
    {
        if (!IdPattern().IsMatch(id))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidContainerId",
                $"container id '{id}' is invalid: use 1-64 letters, digits, '_', '.', '-', starting with a letter or digit", id, "id");
    }

    protected ContainerStateDir StateDir(string id) => new(_context.StateRoot, id);

    protected static ContainerOpsException NotFound(string id) =>
        new(ErrorKind.NotFound, "ContainerNotFound", $"container {id} does not exist in the runtime", id);

    public RuntimeStatus GetStatus(string id)
    {
        var dir = StateDir(id);
        var record = ReadSettled(dir);
        // Nothing wanted runs: a created container whose removal began (see DeleteAsync), or a launch without a pid.
        if (record is null || record.Pid == 0 || record.Status == DeletingStatus) return RuntimeStatus.Unknown(id);
        // Without a shim nobody records how it ended: its OCI caller reaped it. Stopped, as runc says, code unknown (0).
        if (record.Unmonitored && !IsAlive(record)) return Exited(dir, record, (0, 0, DateTimeOffset.UtcNow));
        var exit = dir.ReadExit();
        if (exit is null && !IsAlive(record))
        {
            // The init died; the shim records the exit, then exits itself. While it lives, give it time to write (on a
            // loaded machine it may not run for a while); once it is gone, read once more, as it may have written and
            // exited since the last look.
            var deadline = Environment.TickCount64 + ShimExitGrace;
            while (exit is null && !ShimLost(record) && Environment.TickCount64 < deadline) { Thread.Sleep(2); exit = dir.ReadExit(); }
            exit ??= dir.ReadExit();
            // No exit file and no shim to write one: the shim was killed, and the container with it (the init dies with
            // its parent), by SIGKILL as far as anyone can tell.
            if (exit is null) return Exited(dir, record, ShimLost(record) ? (128 + Libc.SIGKILL, Libc.SIGKILL, DateTimeOffset.UtcNow) : (255, 0, DateTimeOffset.UtcNow));
        }
        // The shim gone with no exit file: unless the container ended and the shim wrote its exit since the look above.
        if (exit is null && ShimLost(record) && (exit = dir.ReadExit()) is null)
        {
            // Still running without its shim (a set-uid program or a change of credentials disarms the parent-death
            // signal): nothing would log it, feed it or record its exit, so it is stopped as the shim's death implies.
            foreach (var pid in _cgroups.Pids(record.CgroupsPath)) Libc.kill(pid, Libc.SIGKILL);
            Libc.kill(record.Pid, Libc.SIGKILL);
            return Exited(dir, record, (128 + Libc.SIGKILL, Libc.SIGKILL, DateTimeOffset.UtcNow));
        }
        if (exit is not null) return Exited(dir, record, exit.Value);
        if (record.Status == "created" && Released(dir, record))
        {
            // A start cut off between releasing the init and recording it: the process runs, and the record says so now.
            record.Status = "running";
            dir.Write(record);
            try { File.Delete(dir.ExecFifo); } catch (IOException) { }
        }
        var state = record.Status == "created" ? RuntimeState.Created
            : _cgroups.IsFrozen(record.CgroupsPath) ? RuntimeState.Paused : RuntimeState.Running;
        return new RuntimeStatus(id, state, record.Pid, 0, 0, null, false) { StartedAt = record.Created };
    }

    /// <summary>
    /// Whether a created container's live init has been released by a `start` that did not get to record it (the caller
    /// was killed in between). Until it is released the init holds the exec fifo open (its O_PATH descriptor, kept
    /// from before its root changed); once released it closes it and execs.
    /// </summary>
    private static bool Released(ContainerStateDir dir, ContainerRuntimeRecord record)
    {
        if (Libc.stat(dir.ExecFifo, out var fifo) != 0) return true; // a start removes it once it has read the byte
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{record.Pid}/fd"))
                if (Libc.stat(fd, out var st) == 0 && st.Dev == fifo.Dev && st.Ino == fifo.Ino) return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; } // gone: not released
        // An init that is being killed closes its descriptors before it becomes a zombie: dying, not released.
        return ContainerStateDir.IsLive(record.Pid, record.PidStartTime, notExiting: true);
    }

    /// <summary>The record, with the pid filled in when a launch was cut off before it could write it.</summary>
    protected ContainerRuntimeRecord? ReadSettled(ContainerStateDir dir)
    {
        var record = dir.Read();
        if (record is { Pid: 0 }) SettleCutOffLaunch(dir, record);
        return record;
    }

    /// <summary>
    /// A record without a pid is a launch cut off between writing the record and writing the pid the shim reported
    /// (the daemon or the runtime command was killed). The shim carries on without its caller: once the container is
    /// set up it writes the pid file (then reports), and if setup fails it cleans up and exits without one. So the pid
    /// file decides; while there is none but a shim of this launch still runs, its setup is still going on. When
    /// neither is there, nothing of the launch runs and the record stays without a pid (Unknown: its leftovers can go).
    /// </summary>
    private void SettleCutOffLaunch(ContainerStateDir dir, ContainerRuntimeRecord record)
    {
        var deadline = Environment.TickCount64 + 10_000;
        (int Init, int Shim)? pids;
        while ((pids = dir.ReadPidFile()) is null)
        {
            var shims = ShimProcesses.Running(dir.PlanFile);
            if (shims.Count == 0)
            {
                if ((pids = dir.ReadPidFile()) is not null) break; // it finished between the two looks
                return;
            }
            if (Environment.TickCount64 > deadline)
            {
                // A setup that hangs this long never completes: stop it, so nothing of this launch stays.
                foreach (var shim in shims) Libc.kill(shim, Libc.SIGKILL);
                return;
            }
            Thread.Sleep(10);
        }
        var (init, shimPid) = pids.Value;
        // The init is the container's only while its parent is the shim; otherwise it is gone (and the pid may be
        // someone else's by now). The exit file, when there is one, says how it ended.
        var stat = ContainerStateDir.ReadStat(init);
        record.Pid = init;
        // Unmonitored (no shim pid), the init has been handed to the caller's subreaper: its parent proves nothing, and
        // the pid file was written an instant before the shim reported, so the process there now is taken as the init.
        record.PidStartTime = stat is { } s && (s.Parent == shimPid || shimPid == 0 && record.Unmonitored) ? s.StartTime : Gone;
        record.ShimPid = shimPid;
        record.ShimStartTime = shimPid == 0 ? 0 : ContainerStateDir.ReadStat(shimPid)?.StartTime ?? Gone;
        dir.Write(record);
    }

    /// <summary>The record's status while a created container that never ran is being removed.</summary>
    private const string DeletingStatus = "deleting";

    /// <summary>A start time no process has: the process was already gone when it was recorded.</summary>
    private const long Gone = -2;

    private RuntimeStatus Exited(ContainerStateDir dir, ContainerRuntimeRecord record, (int ExitCode, int Signal, DateTimeOffset Finished) exit)
    {
        if (!record.OomKilled && _cgroups.Exists(record.CgroupsPath) && _cgroups.OomKills(record.CgroupsPath) > 0)
        {
            record.OomKilled = true;
            dir.Write(record);
        }
        return new RuntimeStatus(record.Id, RuntimeState.Exited, 0, exit.ExitCode, exit.Signal, exit.Finished, record.OomKilled) { StartedAt = record.Created };
    }

    /// <summary>How long a live shim may take to record the exit of a container whose init has died.</summary>
    private const int ShimExitGrace = 5000;

    protected static bool IsAlive(ContainerRuntimeRecord record) =>
        record.Pid > 0 && ContainerStateDir.IsLive(record.Pid, record.PidStartTime);

    /// <summary>The shim of a started container is gone (not known for records of earlier versions).</summary>
    protected static bool ShimLost(ContainerRuntimeRecord record) =>
        record.ShimPid > 0 && !ContainerStateDir.IsLive(record.ShimPid, record.ShimStartTime);

    public async Task<RuntimeStatus> WaitAsync(string id, CancellationToken ct = default)
    {
        var dir = StateDir(id);
        if (!dir.Exists) throw NotFound(id);
        var current = GetStatus(id);
        if (current.State is RuntimeState.Exited or RuntimeState.Unknown) return current;
        // The shim writes the exit file, then closes attach clients: EOF is the prompt wake-up. Polling covers the rest.
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(dir.AttachSocket), ct);
            var buffer = new byte[16384];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, ct) > 0) { }
        }
        catch (SocketException) { }
        var delay = 1;
        while (true)
        {
            var status = GetStatus(id);
            if (status.State is RuntimeState.Exited or RuntimeState.Unknown) return status;
            await Task.Delay(delay, ct);
            delay = Math.Min(delay * 2, 100);
        }
    }

    public virtual void Kill(string id, int signal, bool all = false)
    {
        var record = StateDir(id).Read() ?? throw NotFound(id);
        if (!IsAlive(record))
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {id} is not running", id);
        if (all)
            foreach (var pid in _cgroups.Pids(record.CgroupsPath)) Libc.kill(pid, signal);
        else if (Libc.kill(record.Pid, signal) != 0)
            Libc.ThrowErrno($"kill {record.Pid}");
    }

    /// <summary>OCI `update`: new limits for a container that exists (created, running or paused).</summary>
    public void Update(string id, OciResources resources)
    {
        var record = StateDir(id).Read() ?? throw NotFound(id);
        if (!IsAlive(record))
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {id} is not running", id);
        _cgroups.Update(record.CgroupsPath, resources, id);
    }

    public void Pause(string id) => Freeze(id, true);
    public void Resume(string id) => Freeze(id, false);

    protected virtual void Freeze(string id, bool frozen)
    {
        var record = StateDir(id).Read() ?? throw NotFound(id);
        if (!IsAlive(record))
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {id} is not running", id);
        _cgroups.Freeze(record.CgroupsPath, frozen);
    }

    public virtual async Task DeleteAsync(string id, bool force = false, CancellationToken ct = default)
    {
        var dir = StateDir(id);
        var record = ReadSettled(dir);
        if (record is null)
        {
            if (Directory.Exists(dir.Dir)) Directory.Delete(dir.Dir, true);
            return;
        }
        if (IsAlive(record))
        {
            if (!force)
                throw new ContainerOpsException(ErrorKind.Conflict, "ContainerRunning", $"container {id} is running: stop it first or force the removal", id);
            // A created init killed here never ran its command. Marked first: a caller cut off from here on (a daemon
            // killed in its recovery) must not find the kill recorded as the container's exit.
            if (record.Status == "created" && !Released(dir, record))
            {
                record.Status = DeletingStatus;
                dir.Write(record);
            }
            if (_cgroups.IsFrozen(record.CgroupsPath)) _cgroups.Freeze(record.CgroupsPath, false);
            Libc.kill(record.Pid, Libc.SIGKILL);
            CrashPoint.Hit("runtime-delete-after-kill");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                if (record.Status != DeletingStatus) await WaitAsync(id, timeout.Token);
                else
                    // Its status reads Unknown now: wait for the shim to have recorded the end (or to be gone) instead.
                    while (record.Unmonitored ? IsAlive(record) : dir.ReadExit() is null && !ShimLost(record))
                        await Task.Delay(2, timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        }
        Cleanup(dir, record.CgroupsPath);
        if (record.HasHooks != false && TryReadBundle(record.Bundle) is { Hooks.Poststop: { Count: > 0 } poststop } spec)
            Hooks.RunAndWarn(poststop, "poststop", HookState(record, spec, "stopped", 0));
    }

    protected void Cleanup(ContainerStateDir dir, string? cgroupsPath)
    {
        if (cgroupsPath is not null) _cgroups.Remove(cgroupsPath);
        try { if (Directory.Exists(dir.Dir)) Directory.Delete(dir.Dir, true); }
        catch (IOException) { }
        foreach (var socket in new[] { dir.AttachSocket, dir.ControlSocket })
            if (File.Exists(socket)) File.Delete(socket);
    }

    public CgroupStats ReadStats(string id)
    {
        var record = StateDir(id).Read() ?? throw NotFound(id);
        return _cgroups.ReadStats(record.CgroupsPath);
    }

    public IReadOnlyList<int> ListPids(string id)
    {
        var record = StateDir(id).Read() ?? throw NotFound(id);
        return _cgroups.Pids(record.CgroupsPath);
    }

    public virtual ExecProcess Exec(string id, ExecOptions options)
    {
        var (dir, record, spec, process) = PrepareExec(id, options);
        var planFile = WriteExecPlan(dir, record, spec, process);
        try
        {
            return ShimExecProcess.Start(_context.ShimPath, new[] { _context.ShimPath, "exec", planFile }, planFile, options.Tty, options.ConsoleSize);
        }
        catch
        {
            File.Delete(planFile);
            throw;
        }
    }

    /// <summary>The shim's plan for running <paramref name="process"/> in the container (the caller deletes the file).</summary>
    private string WriteExecPlan(ContainerStateDir dir, ContainerRuntimeRecord record, OciSpec spec, OciProcess process)
    {
        var planFile = Path.Combine(dir.Dir, $"exec-{Guid.NewGuid():N}.plan");
        File.WriteAllText(planFile, PlanWriter.ForExec(record.Id, record.Pid, spec.Linux?.Namespaces ?? new(), process,
            _cgroups.ProcsFiles(record.CgroupsPath), SeccompFor(spec, record.Id)));
        return planFile;
    }

    /// <summary>OCI `exec`: runs <paramref name="process"/> in the container with this process's stdio, through the shim
    /// in exec mode, which exits with the process's status. Returns the shim's pid; <paramref name="detach"/> leaves it
    /// running (the caller's subreaper reaps it and so learns the status, as from runc's detached exec).</summary>
    public int ExecWithCallerStdio(string id, OciProcess process, bool detach, out int exitCode)
    {
        var (dir, record) = ExecTarget(id);
        if (process.Terminal)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "ConsoleSocketRequired",
                $"container {id}: an exec with a terminal needs --console-socket, which this runtime does not support yet", id, "process.terminal");
        if (process.Args.Count == 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidProcess", $"container {id}: the process has no args", id, "process.args");
        var spec = SpecBuilder.ReadBundle(record.Bundle);
        var planFile = WriteExecPlan(dir, record, spec, process);
        // A detached shim reads its plan after this process may have gone: the plan then stays in the container's state
        // directory until the container is deleted.
        var pid = Spawn.Start(_context.ShimPath, new[] { _context.ShimPath, "exec", planFile }, 0, 1, 2);
        exitCode = 0;
        if (!detach)
        {
            exitCode = Spawn.WaitForExit(pid);
            File.Delete(planFile);
        }
        return pid;
    }

    /// <summary>Sets NAME=VALUE in <paramref name="env"/>, replacing an earlier value of NAME.</summary>
    internal static void SetEnv(List<string> env, string entry)
    {
        var key = entry.Split('=', 2)[0] + "=";
        env.RemoveAll(x => x.StartsWith(key, StringComparison.Ordinal));
        env.Add(entry);
    }

    /// <summary>The container an exec joins: it must run, and not be paused (a frozen cgroup would hold the new process
    /// before it could start, and the caller with it).</summary>
    private (ContainerStateDir Dir, ContainerRuntimeRecord Record) ExecTarget(string id)
    {
        var dir = StateDir(id);
        var record = dir.Read() ?? throw NotFound(id);
        if (!IsAlive(record) || record.Status != "running")
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {id} is not running", id);
        if (_cgroups.IsFrozen(record.CgroupsPath))
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerPaused", $"container {id} is paused: unpause it first", id);
        return (dir, record);
    }

    /// <summary>The exec'd process: the container's user, capabilities, env and cwd unless the options override them.</summary>
    protected (ContainerStateDir Dir, ContainerRuntimeRecord Record, OciSpec Spec, OciProcess Process) PrepareExec(string id, ExecOptions options)
    {
        var (dir, record) = ExecTarget(id);
        var spec = SpecBuilder.ReadBundle(record.Bundle);
        var baseProcess = spec.Process ?? new OciProcess();
        var env = new List<string>(baseProcess.Env);
        foreach (var e in options.Env) SetEnv(env, e);
        var caps = options.Privileged ? Capabilities.HostBounding() : null;
        var process = new OciProcess
        {
            Terminal = options.Tty,
            User = new OciUser
            {
                Uid = options.Uid ?? baseProcess.User.Uid,
                Gid = options.Gid ?? baseProcess.User.Gid,
                AdditionalGids = options.Uid is null ? baseProcess.User.AdditionalGids : options.AdditionalGids.ToList(),
            },
            Args = options.Args.ToList(),
            Env = env,
            Cwd = options.WorkingDir ?? baseProcess.Cwd,
            Capabilities = caps is null ? baseProcess.Capabilities : new OciCapabilities { Bounding = caps, Effective = caps, Permitted = caps },
            NoNewPrivileges = baseProcess.NoNewPrivileges,
            Rlimits = baseProcess.Rlimits,
        };
        return (dir, record, spec, process);
    }
}
