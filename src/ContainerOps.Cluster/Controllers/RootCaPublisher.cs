using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Controllers;

/// <summary>
/// kube-controller-manager's root CA publisher: every namespace holds the ConfigMap `kube-root-ca.crt` whose `ca.crt`
/// is the certificate authority the API's serving certificate chains to, so a client in a pod can check the API at
/// `https://kubernetes.default.svc`. Made again when deleted, put right when changed; left alone in a namespace being
/// deleted. Idle when no authority is known (<see cref="ControllerContext.RootCertificate"/>).
/// </summary>
public sealed class RootCaPublisher : IController
{
    public const string ConfigMapName = "kube-root-ca.crt";
    private ControllerContext _context = null!;
    private Informer _namespaces = null!, _configMaps = null!;

    public string Name => "root-ca-cert-publisher";

    public void Register(ControllerContext context, WorkQueue queue)
    {
        _context = context;
        _namespaces = context.Informers.For(ResourceKinds.Namespace);
        _configMaps = context.Informers.For(ResourceKinds.ConfigMap);
        _namespaces.AddHandler(e => queue.Add(Json.Str(e.Object["metadata"]?["name"]) ?? ""));
        _configMaps.AddHandler(e =>
        {
            if (Json.Str(e.Object["metadata"]?["name"]) == ConfigMapName) queue.Add(Json.Str(e.Object["metadata"]?["namespace"]) ?? "");
        });
    }

    public Task<Reconciled> ReconcileAsync(string ns, CancellationToken ct)
    {
        if (_context.RootCertificate() is not { } pem || _namespaces.Get(Informer.KeyOf(null, ns)) is not { } space
            || space["metadata"]?["deletionTimestamp"] is not null)
            return Task.FromResult(Reconciled.Done);
        var existing = _configMaps.Get(Informer.KeyOf(ns, ConfigMapName));
        if (existing is not null && Json.Str(existing["data"]?["ca.crt"]) == pem) return Task.FromResult(Reconciled.Done);
        try
        {
            if (existing is null)
                _context.Objects.Create(ResourceKinds.ConfigMap, ns, new JsonObject
                {
                    ["apiVersion"] = "v1", ["kind"] = "ConfigMap",
                    ["metadata"] = new JsonObject
                    {
                        ["name"] = ConfigMapName,
                        ["annotations"] = new JsonObject { ["kubernetes.io/description"] = "The cluster's certificate authority, to check the API server at kubernetes.default.svc from a pod." },
                    },
                    ["data"] = new JsonObject { ["ca.crt"] = pem },
                }, FieldValidation.Strict, dryRun: false, out _);
            else
                _context.Objects.Update(ResourceKinds.ConfigMap, ns, ConfigMapName, null, o =>
                {
                    o["data"] = new JsonObject { ["ca.crt"] = pem };
                    return o;
                }, statusOnly: false, dryRun: false);
        }
        catch (StatusException e) when (e.Code is 404 or 409 or 403) { return Task.FromResult(Reconciled.After(TimeSpan.FromSeconds(1))); }
        return Task.FromResult(Reconciled.Done);
    }
}
