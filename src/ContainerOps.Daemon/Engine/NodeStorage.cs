using ContainerOps.Cluster.Node;
using ContainerOps.Core.Api;
using ContainerOps.Volumes;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// The node's storage for the volumes its local provisioner makes: named volumes of the daemon's volume engine, labelled
/// with their PersistentVolume. One storage implementation on a node rather than a second tree of directories: the
/// same crash-safe create and removal (made under a dot name and renamed; removed by a rename first), and `containerops
/// volume ls` and `system df` show what the cluster holds. The engine refuses `volume rm` and leaves them out of `volume
/// prune`, since only the claim's reclaim policy may delete a PersistentVolume's data.
/// </summary>
public sealed class NodeStorage(ContainerVolumes volumes) : INodeStorage
{
    public string CreateVolume(string name, IReadOnlyDictionary<string, string> labels)
    {
        var all = new Dictionary<string, string>(labels) { [VolumeRecord.PersistentVolumeLabel] = name };
        volumes.Volumes.Create(new VolumeCreateRequest { Name = name, Labels = all });
        return volumes.Volumes.DataPath(name);
    }

    public void DeleteVolume(string name) => volumes.Volumes.Remove(name, force: true, byProvisioner: true);
}
