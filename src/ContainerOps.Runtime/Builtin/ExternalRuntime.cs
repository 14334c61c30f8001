using System.Text.Json;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Cgroups;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Shim;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Builtin;

/// <summary>
/// crun or runc behind the same interface. Our shim still monitors the container (log, exit file, attach socket):
/// it runs `&lt;runtime&gt; run --bundle B id` as its child. Signals, pause and exec go through the runtime's own verbs.
/// </summary>
public sealed class ExternalRuntime : BuiltinRuntime
{
    private readonly string _name;
    private readonly string _binary;

    // What every invocation of the runtime starts with: the binary and its --root, behind a private mount namespace
    // where crun needs one.
    private readonly string[] _command;

    public ExternalRuntime(string name, string binary, RuntimeContext context, CgroupManager? cgroups = null) : base(context, cgroups)
    {
        _name = name;
        _binary = binary;
        var command = new List<string>();
        // crun 1.8 refuses a hybrid layout whose unified hierarchy holds any controller ("drop all controllers from
        // cgroupv2"). There it runs in a private mount namespace without the unified mount, where it sees the v1
        // hierarchies only, the ones the built-in runtime uses on such a host. The host's mounts are not touched.
        if (name == "crun" && _cgroups is CgroupV1 { HybridUnifiedHoldsControllers: true } v1 && Find("unshare") is { } unshare)
            command.AddRange(new[] { unshare, "-m", "--propagation", "private", "sh", "-c", "umount \"$0\" && exec \"$@\"", v1.HybridUnifiedMount! });
        command.AddRange(new[] { _binary, "--root", RuntimeRoot });
        _command = command.ToArray();
    }

    public override string Name => _name;
    protected override bool CreatesCgroups => false;
    private string RuntimeRoot => Path.Combine(_context.StateRoot, "." + _name);

    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(DefaultEnvironment.PathDirectories.Split(':'))
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    protected override string WritePlan(RunOptions options, OciSpec spec, string rootfs, string cgroupsPath, ShimPaths paths)
    {
        // The shim runs `<runtime> run`; a wrapper script carries the global --root (so runc state stays beside ours)
        // and the mount namespace crun may need.
        var wrapper = Path.Combine(StateDir(options.Id).Dir, "runtime");
        File.WriteAllText(wrapper, $"#!/bin/sh\nexec {string.Join(' ', _command.Select(ShellQuote))} \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return PlanWriter.ForExternalRuntime(options.Id, wrapper, options.BundlePath, spec.Process?.Terminal == true, paths);
    }

    /// <summary>The shim reports as soon as it has started `runtime run`; the container exists a little later.
    /// Returns once the runtime knows the container (or it has already ended).</summary>
    public override async Task<RuntimeStatus> RunAsync(RunOptions options, CancellationToken ct = default)
    {
        var status = await base.RunAsync(options, ct);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (TryInvoke("state", options.Id)) return status;
            if (GetStatus(options.Id).State is RuntimeState.Exited or RuntimeState.Unknown) return status;
            await Task.Delay(5, ct);
        }
        return status;
    }

    private bool TryInvoke(params string[] args)
    {
        try { Invoke(args); return true; }
        catch (ContainerOpsException) { return false; }
    }

    private void Invoke(params string[] args)
    {
        var all = new List<string>(_command);
        all.AddRange(args);
        Span<int> fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_CLOEXEC) != 0) Libc.ThrowErrno("pipe2");
        var pid = Spawn.Start(all[0], all, -1, -1, fds[1]);
        Libc.close(fds[1]);
        string error;
        using (var reader = new StreamReader(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fds[0], true), FileAccess.Read, 1)))
            error = reader.ReadToEnd();
        var code = Spawn.WaitForExit(pid);
        if (code != 0)
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "RuntimeCommandFailed", $"{_name} {string.Join(' ', args)}: {error.Trim()}", args.LastOrDefault());
    }

    private static string ShellQuote(string word) => "'" + word.Replace("'", "'\\''") + "'";

    public override void Kill(string id, int signal, bool all = false)
    {
        var record = StateDir(id).Read() ?? throw NotFound(id);
        if (!IsAlive(record)) throw new ContainerOpsException(ErrorKind.Conflict, "ContainerNotRunning", $"container {id} is not running", id);
        if (all) Invoke("kill", "--all", id, signal.ToString());
        else Invoke("kill", id, signal.ToString());
    }

    protected override void Freeze(string id, bool frozen) => Invoke(frozen ? "pause" : "resume", id);

    public override async Task DeleteAsync(string id, bool force = false, CancellationToken ct = default)
    {
        var dir = StateDir(id);
        var record = ReadSettled(dir);
        if (record is not null && IsAlive(record))
        {
            if (!force) throw new ContainerOpsException(ErrorKind.Conflict, "ContainerRunning", $"container {id} is running: stop it first or force the removal", id);
            try { Invoke("kill", id, "9"); } catch (ContainerOpsException) { }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try { await WaitAsync(id, timeout.Token); } catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        }
        try { Invoke("delete", "--force", id); } catch (ContainerOpsException) { }
        Cleanup(dir, record?.CgroupsPath);
    }

    public override ExecProcess Exec(string id, ExecOptions options)
    {
        var (dir, _, _, process) = PrepareExec(id, options);
        var processFile = Path.Combine(dir.Dir, $"exec-{Guid.NewGuid():N}.json");
        File.WriteAllText(processFile, JsonSerializer.Serialize(process, OciJsonContext.Default.OciProcess));
        var args = new List<string>(_command) { "exec", "--process", processFile };
        if (options.Tty) args.Add("--tty");
        args.Add(id);
        try { return ShimExecProcess.Start(args[0], args.ToArray(), processFile, tty: false); }
        catch { File.Delete(processFile); throw; }
    }
}
