using System.Net;
using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>
/// The API server's endpoint reconciler: default/kubernetes (the service at the range's first address) gets Endpoints
/// naming the address and port the API listens on, so a pod reaches the API through the service (the endpoint slice
/// mirroring and the service proxy do the rest). A listener on loopback only cannot be reached from a pod and may not
/// be named in Endpoints: then the service has none, and any left from an earlier start go.
/// </summary>
public static class KubernetesEndpoints
{
    /// <param name="listening">The TLS listener, null when there is none.</param>
    /// <param name="hostAddress">The node's address, named when the listener takes every address (0.0.0.0).</param>
    public static void Reconcile(ClusterObjects objects, IPEndPoint? listening, IPAddress? hostAddress)
    {
        var endpoints = ResourceKinds.All.First(k => k.Kind == "Endpoints");
        var address = listening?.Address is { } a && (a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any)) ? hostAddress : listening?.Address;
        if (address is null || IPAddress.IsLoopback(address) || listening!.Port == 0)
        {
            try { objects.Delete(endpoints, "default", "kubernetes", null, null, dryRun: false); }
            catch (StatusException e) when (e.Code == 404) { }
            return;
        }
        var subsets = new JsonArray(new JsonObject
        {
            ["addresses"] = new JsonArray(new JsonObject { ["ip"] = address.ToString() }),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = listening.Port, ["protocol"] = "TCP" }),
        });
        try
        {
            objects.Update(endpoints, "default", "kubernetes", null, o =>
            {
                o["subsets"] = subsets.DeepClone();
                return o;
            }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code == 404)
        {
            var created = new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Endpoints",
                ["metadata"] = new JsonObject { ["name"] = "kubernetes" },
                ["subsets"] = subsets,
            };
            try { objects.Create(endpoints, "default", created, FieldValidation.Strict, dryRun: false, out _); }
            catch (StatusException conflict) when (conflict.Code == 409) { Reconcile(objects, listening, hostAddress); }
        }
    }
}
