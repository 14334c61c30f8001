namespace ContainerOps.Daemon.Engine;

public sealed partial class ContainerManager
{
    /// <summary>The container's mounts (binds, volumes, tmpfs), for `docker cp` to reach paths inside them.</summary>
    public IReadOnlyList<Runtime.Spec.ContainerMount> MountsOf(string idOrName) => Find(idOrName).Record.Mounts;

    /// <summary>
    /// Runs <paramref name="action"/> on the container's files with the container frozen while it runs, as Docker does
    /// for `docker cp`: paths are resolved inside its root and then read on the host, and a process in the container
    /// could otherwise swap a directory for a symlink in between and have the host's files read or written. The entry
    /// stays locked meanwhile, so no stop, pause or removal interleaves; a paused container is left as it is.
    /// </summary>
    public async Task<T> WithFilesStillAsync<T>(string idOrName, Func<Task<T>> action)
    {
        var entry = Find(idOrName);
        await entry.Lock.WaitAsync();
        try
        {
            var r = entry.Record;
            var freeze = r.State.Running && !r.State.Paused;
            var runtime = Runtime(r.HostConfig.Runtime);
            if (freeze) runtime.Pause(r.Id);
            try { return await action(); }
            finally { if (freeze) runtime.Resume(r.Id); }
        }
        finally { entry.Lock.Release(); }
    }
}
