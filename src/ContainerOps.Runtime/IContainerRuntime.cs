namespace ContainerOps.Runtime;

/// <summary>
/// Runs OCI bundles. Implementations: the built-in runtime (our shim does the container setup) and the
/// external runtimes crun/runc (our shim still monitors: it runs `&lt;runtime&gt; run` as its child).
/// The daemon holds no process handles: everything about a container is in its state directory, so a
/// restarted daemon gets the truth back from <see cref="GetStatus"/>.
/// </summary>
public interface IContainerRuntime
{
    /// <summary>"builtin", "crun" or "runc".</summary>
    string Name { get; }

    /// <summary>Starts the container of <c>options.BundlePath</c>/config.json under a detached shim and returns once it runs
    /// (execve done). Throws ContainerOpsException (CommandNotFound / CannotExecute / ResourceUnavailable / InvalidArgument)
    /// with the shim's message when it cannot; in that case nothing is left behind (no cgroup, no state dir, no process).</summary>
    Task<RuntimeStatus> RunAsync(RunOptions options, CancellationToken ct = default);

    /// <summary>What the state directory and the kernel say now: Running (pid alive and is ours), Paused, Exited (exit file,
    /// or 137 when the shim was killed and the container with it), or Unknown (nothing of the container runs or ran).
    /// A launch that was cut off before its pid was recorded is settled first, from what its shim left.</summary>
    RuntimeStatus GetStatus(string id);

    /// <summary>Completes when the container's shim has written its exit file (works for containers started by an earlier daemon).</summary>
    Task<RuntimeStatus> WaitAsync(string id, CancellationToken ct = default);

    /// <summary>Sends <paramref name="signal"/> to the container's init (or to all its processes).</summary>
    void Kill(string id, int signal, bool all = false);

    /// <summary>Freezer cgroup (v1 freezer.state / v2 cgroup.freeze).</summary>
    void Pause(string id);
    void Resume(string id);

    /// <summary>Removes what the runtime made for an exited container: cgroups, state dir, sockets. Idempotent.
    /// With <paramref name="force"/> a running container is SIGKILLed and waited for first.</summary>
    Task DeleteAsync(string id, bool force = false, CancellationToken ct = default);

    /// <summary>Runs an extra process in the running container (joins all its namespaces and its cgroup).</summary>
    ExecProcess Exec(string id, ExecOptions options);

    /// <summary>CPU, memory, pids from the container's cgroup; OOM kill count for exit reporting.</summary>
    CgroupStats ReadStats(string id);

    /// <summary>Pids of every process in the container (from its cgroup), for `top`.</summary>
    IReadOnlyList<int> ListPids(string id);
}

public sealed class RunOptions
{
    public required string Id { get; init; }
    /// <summary>Directory holding config.json (OCI runtime spec) and whose `root.path` is already mounted.</summary>
    public required string BundlePath { get; init; }
    /// <summary>The spec just written to <see cref="BundlePath"/>, when the caller has it: the built-in runtime then does
    /// not read and parse the bundle again. The runtime takes it over (it may add to it, as the default devices).</summary>
    public Spec.OciSpec? Spec { get; init; }
    /// <summary>json-file log path; rotation limits.</summary>
    public required string LogPath { get; init; }
    public long LogMaxBytes { get; init; } = 10 * 1024 * 1024;
    public int LogMaxFiles { get; init; } = 3;
    /// <summary>Keep stdin open and feed it from attach clients.</summary>
    public bool OpenStdin { get; init; }
    /// <summary>The container's stdin, stdout and stderr are this process's own, as under runc and crun in the
    /// foreground: no log and no output on the attach socket. Ignored when the spec asks for a terminal.</summary>
    public bool InheritStdio { get; init; }
    /// <summary>As runc and crun leave it to the OCI caller (conmon, containerd's shim): no shim stays as the container's
    /// parent once it is set up; the init is re-parented to the caller's subreaper, which reaps it and reads its stdio
    /// (inherited: needs <see cref="InheritStdio"/>). No log, no attach, no exit status is recorded.</summary>
    public bool Unmonitored { get; init; }
    /// <summary>Unmonitored with a terminal: the Unix socket the pty master is sent to (OCI `--console-socket`).</summary>
    public string? ConsoleSocket { get; init; }
}

public enum RuntimeState { Unknown, Created, Running, Paused, Exited }

public sealed record RuntimeStatus(
    string Id,
    RuntimeState State,
    int Pid,
    int ExitCode,
    int Signal,
    DateTimeOffset? FinishedAt,
    bool OomKilled)
{
    public static RuntimeStatus Unknown(string id) => new(id, RuntimeState.Unknown, 0, 0, 0, null, false);

    /// <summary>When the runtime started the container (its record's creation), where it knows.</summary>
    public DateTimeOffset? StartedAt { get; init; }
}

public sealed class ExecOptions
{
    public required IReadOnlyList<string> Args { get; init; }
    public IReadOnlyList<string> Env { get; init; } = Array.Empty<string>();
    /// <summary>Numeric uid/gid already resolved by the caller (null: the container's).</summary>
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
    public IReadOnlyList<uint> AdditionalGids { get; init; } = Array.Empty<uint>();
    public string? WorkingDir { get; init; }
    public bool Tty { get; init; }
    /// <summary>The terminal's size when the process starts (with <see cref="Tty"/>); later changes go through Resize.</summary>
    public (int Rows, int Columns)? ConsoleSize { get; init; }
    public bool Privileged { get; init; }
}

/// <summary>A process started by <see cref="IContainerRuntime.Exec"/>. With a terminal, <see cref="Terminal"/> is the pty master
/// and Stdout/Stderr are null.</summary>
public abstract class ExecProcess : IDisposable
{
    public abstract int Pid { get; }
    public abstract Stream? Stdin { get; }
    public abstract Stream? Stdout { get; }
    public abstract Stream? Stderr { get; }
    public abstract Stream? Terminal { get; }
    public abstract void Resize(int rows, int columns);
    public abstract void Signal(int signal);
    /// <summary>Exit code with Docker's conventions (126/127 for exec failures, 128+signal).</summary>
    public abstract Task<int> WaitForExitAsync(CancellationToken ct = default);
    /// <summary>Whether its output pipes (or terminal) still hold bytes nobody has read.</summary>
    public virtual bool OutputPending => false;
    public abstract void Dispose();
}

public sealed record CgroupStats(
    long CpuUsageNanos,
    long MemoryUsage,
    long MemoryLimit,
    long Pids,
    long PidsLimit,
    long OomKills);
