using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The pod subresources that are not objects but connections to the node running the pod (log, exec, attach,
/// portforward): the API server hands them to the node's agent, as Kubernetes' API server proxies them to the kubelet.
/// The daemon's node agent serves them once it runs; the API only finds the pod and checks the verb.
/// </summary>
public interface IPodConnections
{
    /// <summary>Answers <paramref name="subresource"/> of <paramref name="pod"/> on <paramref name="ctx"/> (the whole
    /// response), or throws a <see cref="StatusException"/> saying why not.</summary>
    Task ServeAsync(HttpContext ctx, JsonObject pod, string subresource);
}
