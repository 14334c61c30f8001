using ContainerOps.Core.Api;

namespace ContainerOps.Images;

/// <summary>
/// What the daemon asks of the image engine. Behind it are three separate stores (containerd's split):
/// content (blobs by digest, OCI image layout), references (names → manifest digests) and snapshots
/// (extracted layers by chain ID, overlay-mounted for containers).
/// </summary>
public interface IImageService
{
    IReadOnlyList<ImageSummary> List(bool all = false);
    /// <summary>Resolves a reference ("busybox", "busybox:1.0", "docker.io/library/busybox:latest", "sha256:…", a unique id prefix).
    /// Throws ContainerOpsException NotFound ("ImageNotFound").</summary>
    ImageDetails Inspect(string nameOrId);
    /// <param name="comment">The history entry's comment (`docker import --message`); default "Imported from tarball".</param>
    Task<ImageLoadResponse> ImportRootfsAsync(Stream tar, string? reference, IEnumerable<string> changes, CancellationToken ct = default, string? comment = null);
    Task<ImageLoadResponse> LoadArchiveAsync(Stream archive, CancellationToken ct = default);
    void Tag(string source, string target);
    /// <summary><paramref name="inUse"/> says whether a container uses the image id; used images are refused unless forced
    /// (forced: only the tags go, the content stays while containers use it).</summary>
    ImageRemoveResponse Remove(string nameOrId, bool force, Func<string, bool> inUse);

    /// <summary>Prepares the container's writable layer over the image's layers and mounts it (overlay) at the returned path.
    /// Idempotent: mounting an already-mounted container returns the same path. A <paramref name="transient"/> layer
    /// (one that goes with its container) is never synced to disk.</summary>
    string MountContainerRootfs(string containerId, string imageId, bool transient = false);
    /// <summary>Prepares the container's writable layer as <see cref="MountContainerRootfs"/> does, without the mount;
    /// returns the path the mount would be at.</summary>
    string PrepareContainerLayer(string containerId, string imageId, bool transient = false);
    void UnmountContainerRootfs(string containerId);
    /// <summary>Unmounts and deletes the container's writable layer.</summary>
    void RemoveContainerLayer(string containerId);
}
