namespace ContainerOps.Core.IO;

/// <summary>
/// Deletes directory trees off the caller's path. A tree is first renamed to a hidden name beside it (atomic: its own
/// name is free at once, and a crash never leaves half a tree under a valid name), then deleted by a background task.
/// Deleting a container's layer and records costs a millisecond or more (more on a file system mounted with
/// <c>discard</c>, which trims each freed extent there and then), and `run --rm` would wait for it. What a crash or a
/// failed deletion leaves behind is removed by <see cref="Sweep"/> when its owner starts again, and a daemon that
/// stops waits for the deletions under way (<see cref="WaitForPending"/>).
/// </summary>
public static class DeferredDelete
{
    /// <summary>The hidden name's start; listings of containers skip names that begin with a dot.</summary>
    public const string Prefix = ".del-";

    private static readonly PendingWork Pending = new();

    /// <summary>Renames <paramref name="dir"/> aside and deletes it in the background. Nothing happens when it does not
    /// exist. The rename's failure is thrown (the tree stays where it was); the deletion's is left to the next sweep.</summary>
    public static void Directory(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) return;
        var doomed = RenameAside(dir);
        Pending.Begin();
        ThreadPool.UnsafeQueueUserWorkItem(static path =>
        {
            try { DeleteTree(path); }
            finally { Pending.End(); }
        }, doomed, preferLocal: false);
    }

    /// <summary>Renames <paramref name="dir"/> to a hidden name beside it and returns that name: whatever happens to its
    /// deletion from here, nothing is left under the name it had.</summary>
    public static string RenameAside(string dir)
    {
        var full = Path.GetFullPath(dir);
        var doomed = Path.Combine(Path.GetDirectoryName(full)!, Prefix + Guid.NewGuid().ToString("N"));
        System.IO.Directory.Move(full, doomed);
        return doomed;
    }

    /// <summary>Deletes the trees a crash or a failed deletion left in <paramref name="parent"/>.</summary>
    public static void Sweep(string parent)
    {
        if (!System.IO.Directory.Exists(parent)) return;
        foreach (var dir in System.IO.Directory.EnumerateDirectories(parent, Prefix + "*").ToList()) DeleteTree(dir);
    }

    /// <summary>Waits until every deletion started so far has ended, or the timeout passed; false on a timeout.</summary>
    public static bool WaitForPending(TimeSpan timeout) => Pending.WaitIdle(timeout);

    // A tree that cannot go now (a mount still inside it, a file held busy) is left for the next sweep.
    private static void DeleteTree(string path)
    {
        try { System.IO.Directory.Delete(path, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
