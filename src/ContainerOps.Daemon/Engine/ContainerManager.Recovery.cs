using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Runtime;
using ContainerOps.Runtime.Builtin;
using Microsoft.Extensions.Logging;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// Start-up: the daemon may have been killed at any point of any operation. Every record is read again and compared
/// with what the runtime and the kernel say; the record is made to tell the truth, and whatever an operation that was
/// cut off left behind (a runtime state directory, a cgroup, a mount, a build step) goes.
/// </summary>
public sealed partial class ContainerManager
{
    public async Task RecoverAsync()
    {
        await CleanBuildLeftoversAsync();
        DeferredDelete.Sweep(ContainersDir); // removals whose records' deletion was cut off
        foreach (var dir in Directory.GetDirectories(ContainersDir))
        {
            var record = ContainerRecord.Load(dir);
            if (record is null)
            {
                await SetAsideUnreadableAsync(dir);
                continue;
            }
            _containers[record.Id] = new Entry { Record = record, Dir = dir };
        }
        var running = _containers.Values.ToDictionary(e => e.Record.Id,
            e => Runtime(e.Record.HostConfig.Runtime).GetStatus(e.Record.Id).State is RuntimeState.Running or RuntimeState.Paused);
        Networking.Networks.Recover(Networking.WithSandboxes(running));
        Volumes.Recover(_containers.Values.Select(e => (e.Record, running[e.Record.Id])).ToList(), _log);
        foreach (var entry in _containers.Values.ToList())
        {
            try { await AdoptAsync(entry); }
            catch (Exception e) { _log.LogError(e, "cannot recover container {Id}", entry.Record.Id); }
        }
        await RemoveUnownedRuntimeStateAsync();
    }

    /// <summary>Runtime state of an id that no record names: a removal cut off after the record went, or a create cut
    /// off before it was saved. Whatever still runs for it is killed, and its state, cgroup and sockets go. The
    /// runtime's own entries (the shim socket folder "s", dot folders of external runtimes) are not containers.</summary>
    private async Task RemoveUnownedRuntimeStateAsync()
    {
        var root = Path.Combine(_options.RunRoot, "runtime");
        if (!Directory.Exists(root)) return;
        foreach (var dir in Directory.GetDirectories(root))
        {
            var id = Path.GetFileName(dir);
            if (id == "s" || id.StartsWith('.') || _containers.ContainsKey(id)) continue;
            _log.LogWarning("removing the runtime state of {Id}, which no container owns", id);
            try { await Runtime(null).DeleteAsync(id, force: true); }
            catch (Exception e) when (e is ContainerOpsException or IOException) { _log.LogError(e, "cannot remove the runtime state of {Id}", id); }
        }
    }

    /// <summary>A build runs its RUN steps as containers of a runtime of its own (RUN_ROOT/build-runtime) on layers of its
    /// own, from a context unpacked under the image root. No build outlives its daemon, so what a killed one left (the
    /// step's process, cgroup, mount and layer, the context) goes before anything else starts.</summary>
    private async Task CleanBuildLeftoversAsync()
    {
        var stateRoot = Path.Combine(_options.RunRoot, "build-runtime");
        if (Directory.Exists(stateRoot))
        {
            var runtime = new BuiltinRuntime(new RuntimeContext { StateRoot = stateRoot, ShimPath = _options.EffectiveShimPath });
            foreach (var dir in Directory.GetDirectories(stateRoot))
            {
                var id = Path.GetFileName(dir);
                // Container ids start with a letter or digit: a dot directory is the runtime's own (its seccomp cache).
                if (id is "s" or "bundles" || id.StartsWith('.')) continue;
                _log.LogWarning("stopping build step {Id}: its build ended with the daemon", id);
                try { await runtime.DeleteAsync(id, force: true); }
                catch (Exception e) when (e is ContainerOpsException or IOException) { _log.LogError(e, "cannot stop build step {Id}", id); }
            }
            try { Directory.Delete(stateRoot, recursive: true); }
            catch (IOException e) { _log.LogError(e, "cannot remove {Dir}", stateRoot); }
        }
        var layers = ImageEngine.CleanBuildLeftovers();
        var contexts = Path.Combine(_options.Root, "images", "build-contexts");
        var unpacked = Directory.Exists(contexts) ? Directory.GetDirectories(contexts) : [];
        foreach (var dir in unpacked) Directory.Delete(dir, recursive: true);
        if (layers + unpacked.Length > 0)
            _log.LogWarning("removed {Layers} build layer(s) and {Contexts} build context(s) of builds cut off by the daemon's end", layers, unpacked.Length);
    }

    /// <summary>A container directory without a readable record. Whatever the runtime still runs for it is stopped,
    /// since nothing could manage it. No record at all is a create that crashed before saving one: its directory and
    /// layer go. A record that exists but cannot be read is damage: its directory moves to ROOT/damaged and its
    /// layer is kept, so nothing the container wrote is lost.</summary>
    private async Task SetAsideUnreadableAsync(string dir)
    {
        var id = Path.GetFileName(dir);
        if (Runtime(null).GetStatus(id).State != RuntimeState.Unknown)
        {
            _log.LogWarning("stopping container {Id}: its record cannot be read", id);
            try { await Runtime(null).DeleteAsync(id, force: true); }
            catch (Exception e) when (e is ContainerOpsException or IOException) { _log.LogError(e, "cannot stop container {Id}", id); }
        }
        if (!File.Exists(ContainerRecord.FilePath(dir)))
        {
            _log.LogWarning("removing incomplete container directory {Dir}", dir);
            try { Images.RemoveContainerLayer(id); } catch (Exception e) when (e is ContainerOpsException or IOException) { }
            Directory.Delete(dir, true);
            return;
        }
        // The layer keeps what the container wrote; only its mount goes, as nothing will use it.
        try { Images.UnmountContainerRootfs(id); } catch (Exception e) when (e is ContainerOpsException or IOException) { }
        var damaged = Path.Combine(Path.GetDirectoryName(ContainersDir)!, "damaged");
        Directory.CreateDirectory(damaged);
        var target = Path.Combine(damaged, $"{id}.{DateTimeOffset.UtcNow:yyyyMMddTHHmmssZ}");
        Directory.Move(dir, target);
        _log.LogError("container {Id} has an unreadable record; its directory is kept in {Target} and its layer in the snapshot store", id, target);
    }

    private async Task AdoptAsync(Entry entry)
    {
        var r = entry.Record;
        var runtime = Runtime(r.HostConfig.Runtime);
        if (r.State.Dead)
        {
            // A removal was cut off; it had begun (and may have stopped the container), so it is finished.
            _log.LogWarning("finishing the removal of {Name} ({Id}), cut off by the daemon's end", r.Name, r.Id[..12]);
            await runtime.DeleteAsync(r.Id, force: true);
            Networking.Release(r.Id);
            Volumes.Unmount(r, _log);
            Volumes.Release(r, r.RemoveVolumes, _log);
            Images.RemoveContainerLayer(r.Id);
            _containers.TryRemove(r.Id, out _);
            Directory.Delete(entry.Dir, true);
            return;
        }
        // The runtime settles a launch that was cut off before its pid was recorded: this is the truth about the process.
        var status = runtime.GetStatus(r.Id);
        switch (status.State)
        {
            case RuntimeState.Running or RuntimeState.Paused:
                if (!r.State.Running)
                {
                    // The start was cut off after the runtime had launched the process and before the record said so.
                    // It runs: it is running (a later start must not start a second one).
                    _log.LogWarning("the start of {Name} ({Id}) was cut off after its process started: adopting it as running", r.Name, r.Id[..12]);
                    r.State = new ContainerState { StartedAt = status.StartedAt ?? DateTimeOffset.UtcNow };
                    r.ManuallyStopped = false;
                }
                r.State.Running = true;
                r.State.Paused = status.State == RuntimeState.Paused;
                r.State.Restarting = false;
                r.State.Pid = status.Pid;
                r.RootfsPath ??= Images.MountContainerRootfs(r.Id, r.ImageId); // mounted already: its path
                StartHealthCheck(entry, resume: true);
                r.Save(entry.Dir);
                _log.LogInformation("re-adopted running container {Name} ({Id}), pid {Pid}", r.Name, r.Id[..12], status.Pid);
                Watch(entry);
                return;
            case RuntimeState.Created:
                // A start with attach, cut off before its process was let go: the command never ran.
                await runtime.DeleteAsync(r.Id, force: true);
                Images.UnmountContainerRootfs(r.Id);
                if (r.State.Running)
                {
                    r.State.Running = r.State.Paused = false;
                    r.State.Pid = 0;
                    r.State.ExitCode = 255;
                    r.State.Error = "the daemon stopped before the container's process was started";
                    r.State.FinishedAt = DateTimeOffset.UtcNow;
                }
                r.RootfsPath = null;
                r.Save(entry.Dir);
                break;
            case RuntimeState.Exited:
                await RecordExitAsync(entry, status, applyPolicy: false);
                break;
            default:
                // Nothing of the runtime runs for it. What a start cut off before its shim left (runtime state, the
                // cgroup, the root filesystem mount) goes.
                await runtime.DeleteAsync(r.Id, force: true);
                try { Images.UnmountContainerRootfs(r.Id); }
                catch (ContainerOpsException e) { _log.LogWarning("unmount of {Id}: {Message}", r.Id[..12], e.Message); }
                if (r.State.Running || r.State.Restarting || r.RootfsPath is not null)
                {
                    if (r.State.Running)
                    {
                        // The runtime state is gone (a reboot wipes the run root): not running, and how it ended is unknown.
                        r.State.ExitCode = r.State.ExitCode == 0 ? 255 : r.State.ExitCode;
                        r.State.FinishedAt ??= DateTimeOffset.UtcNow;
                    }
                    // Restarting: its exit was recorded already, with its code; only the pending restart was lost.
                    r.State.Running = r.State.Paused = r.State.Restarting = false;
                    r.State.Pid = 0;
                    r.RootfsPath = null;
                    r.Save(entry.Dir);
                }
                break;
        }
        if (r.HostConfig.AutoRemove && r.State.FinishedAt is not null)
        {
            // With its anonymous volumes, as the removal when it ends.
            await RemoveAsync(r.Id, force: true, removeVolumes: true);
            return;
        }
        var policy = r.HostConfig.RestartPolicy.Name;
        if (r.State.StartedAt is not null && (policy == "always" || (policy == "unless-stopped" && !r.ManuallyStopped)
            || (policy == "on-failure" && !r.ManuallyStopped && r.State.ExitCode != 0 && WithinRetries(r))))
        {
            _log.LogInformation("starting {Name} ({Id}) for its restart policy {Policy}", r.Name, r.Id[..12], policy);
            // A restart the policy asks for counts (a daemon start also starts "always" containers that were stopped:
            // that is not one), so on-failure:N holds across daemon restarts.
            if (!r.ManuallyStopped) r.RestartCount++;
            try { await StartAsync(r.Id); }
            catch (ContainerOpsException e) { _log.LogWarning("restart of {Name} failed: {Message}", r.Name, e.Message); }
        }
    }
}
