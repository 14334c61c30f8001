using System.Collections.Concurrent;
using System.Security.Cryptography;
using ContainerOps.Core.Api;
using ContainerOps.Core.Terminal;
using ContainerOps.Runtime;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Docker's exec in two steps: `POST /containers/{id}/exec` records a configuration, `POST /exec/{id}/start` runs it
/// once, and `GET /exec/{id}/json` tells its exit code afterwards (the docker CLI asks for it when the stream ends).
/// Ended execs are kept a while for that question, then forgotten.
/// </summary>
public sealed class ExecRegistry
{
    private static readonly TimeSpan KeepEnded = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, ExecInstance> _execs = new();
    private readonly ContainerManager _manager;

    public ExecRegistry(ContainerManager manager) => _manager = manager;

    public sealed class ExecInstance
    {
        public required string Id { get; init; }
        public required string ContainerId { get; init; }
        public required ExecCreateRequest Request { get; init; }
        public bool Started;
        public volatile bool Running;
        public int? ExitCode;
        public int Pid;
        public DateTimeOffset? EndedAt;
        public ExecProcess? Process;
    }

    public ExecInstance Create(string container, ExecCreateRequest request)
    {
        Forget();
        // Go clients send null for empty lists.
        request.Cmd ??= new();
        request.Env ??= new();
        var (containerId, _, running) = _manager.Lookup(container);
        if (!running)
            // dockerd's words, which scripts match: the full id, capitalised.
            throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"Container {containerId} is not running", container);
        if (request.Cmd.Count == 0)
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "NoCommand", $"exec in {container} needs a command", container, "Cmd");
        if (request.DetachKeys is { Length: > 0 } keys)
        {
            try { DetachKeys.Parse(keys); }
            catch (ArgumentException e) { throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidDetachKeys", e.Message, container, "DetachKeys"); }
        }
        // Docker clients send [0, 0] for "no size".
        if (request.ConsoleSize is { } size && size.All(v => v == 0)) request.ConsoleSize = null;
        var exec = new ExecInstance { Id = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant(), ContainerId = containerId, Request = request };
        _execs[exec.Id] = exec;
        _manager.Emit(containerId, ContainerManager.ExecAction("exec_create", request.Cmd), ("execID", exec.Id));
        return exec;
    }

    public ExecInstance Get(string id) => _execs.TryGetValue(id, out var exec) ? exec
        : throw new ContainerOpsException(ErrorKind.NotFound, "NoSuchExec", $"No such exec instance: {id}", id);

    /// <summary>Starts the exec's process (once); <paramref name="consoleSize"/> is [height, width] for a terminal.</summary>
    public ExecProcess Start(ExecInstance exec, List<int>? consoleSize)
    {
        lock (exec)
        {
            if (exec.Started)
                throw new ContainerOpsException(ErrorKind.Conflict, "ExecAlreadyStarted", $"exec {exec.Id[..12]} has already been started", exec.Id);
            exec.Started = true;
        }
        var request = exec.Request;
        if (consoleSize is not null && consoleSize.Any(v => v != 0)) request.ConsoleSize = consoleSize;
        var (process, _) = _manager.Exec(exec.ContainerId, request);
        exec.Process = process;
        exec.Pid = process.Pid;
        exec.Running = true;
        _manager.Emit(exec.ContainerId, ContainerManager.ExecAction("exec_start", request.Cmd), ("execID", exec.Id));
        return process;
    }

    public void Ended(ExecInstance exec, int exitCode)
    {
        exec.ExitCode = exitCode;
        exec.EndedAt = DateTimeOffset.UtcNow;
        exec.Running = false;
        _manager.Emit(exec.ContainerId, "exec_die", ("execID", exec.Id), ("exitCode", exitCode.ToString()));
    }

    public ExecInspectResponse Inspect(string id)
    {
        var exec = Get(id);
        var r = exec.Request;
        return new ExecInspectResponse
        {
            ID = exec.Id, ContainerID = exec.ContainerId, Running = exec.Running, ExitCode = exec.ExitCode, Pid = exec.Running ? exec.Pid : 0,
            DetachKeys = r.DetachKeys ?? "", OpenStdin = r.AttachStdin, OpenStdout = r.AttachStdout ?? true, OpenStderr = r.AttachStderr ?? true,
            ProcessConfig = new ExecProcessConfig
            {
                Tty = r.Tty, Entrypoint = r.Cmd[0], Arguments = r.Cmd.Skip(1).ToList(), Privileged = r.Privileged, User = r.User ?? "",
            },
        };
    }

    /// <summary>Ended execs past their keeping time, and those of containers that are gone.</summary>
    private void Forget()
    {
        var now = DateTimeOffset.UtcNow;
        var live = _manager.AllContainers().Select(c => c.Id).ToHashSet();
        foreach (var (id, exec) in _execs)
            if (exec.EndedAt is { } ended && now - ended > KeepEnded || !live.Contains(exec.ContainerId))
                _execs.TryRemove(id, out _);
    }
}
