using ContainerOps.Core.Api;
using ContainerOps.Images.Registry;

namespace ContainerOps.Daemon.Api;

/// <summary>
/// A pull's or push's blob progress in dockerd's words, for Docker clients: each layer named by the first 12 hex digits
/// of its blob digest (pull) or diff ID (push), announced first ("Pulling fs layer", "Preparing", "Already exists"),
/// its bytes in progressDetail (a bar in a terminal, nothing in a pipe), then "Download complete" or "Pushed". A push
/// does not show the config, as dockerd does not. Reports arrive from several transfers at once.
/// </summary>
internal sealed class DockerTransferProgress(Action<ProgressFrame> post, bool push) : IProgress<TransferProgress>
{
    private readonly object _gate = new();
    private readonly List<string> _order = new(); // layers as announced: a pull announces them base first
    private readonly HashSet<string> _downloaded = new();

    public void Report(TransferProgress p)
    {
        var id = push ? (p.DiffId is { } diffId ? Short(diffId) : null) : Short(p.Digest);
        if (id == null) return; // a push's config
        lock (_gate)
        {
            if (!_order.Contains(id))
            {
                _order.Add(id);
                if (p.State is TransferState.Waiting or TransferState.Downloading or TransferState.Uploading)
                    post(Line(id, push ? "Preparing" : "Pulling fs layer"));
            }
            switch (p.State)
            {
                case TransferState.Downloading or TransferState.Resuming or TransferState.Uploading when p.Current > 0:
                    post(new ProgressFrame
                    {
                        Id = id, Status = push ? "Pushing" : "Downloading",
                        ProgressDetail = new DockerProgressDetail { Current = p.Current, Total = p.Total },
                    });
                    break;
                case TransferState.Exists:
                    post(Line(id, push ? "Layer already exists" : "Already exists"));
                    break;
                case TransferState.Mounted:
                    post(Line(id, "Mounted from " + (p.Source ?? "another repository")));
                    break;
                case TransferState.Done when push:
                    post(Line(id, "Pushed"));
                    break;
                case TransferState.Done:
                    post(Line(id, "Verifying Checksum"));
                    post(Line(id, "Download complete"));
                    _downloaded.Add(id);
                    break;
            }
        }
    }

    /// <summary>A pull's layers are in the store once the pull returns: each one fetched is then complete.</summary>
    public void PullComplete()
    {
        lock (_gate)
            foreach (var id in _order.Where(_downloaded.Contains)) post(Line(id, "Pull complete"));
    }

    private static ProgressFrame Line(string id, string status) => new() { Id = id, Status = status, ProgressDetail = new DockerProgressDetail() };

    private static string Short(string digest)
    {
        var hex = digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest["sha256:".Length..] : digest;
        return hex.Length > 12 ? hex[..12] : hex;
    }
}
