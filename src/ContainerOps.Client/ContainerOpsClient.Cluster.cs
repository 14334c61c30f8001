namespace ContainerOps.Client;

public sealed partial class ContainerOpsClient
{
    public async Task<string> GetKubeconfigAsync(CancellationToken ct = default)
    {
        using var response = await SendAsync(HttpMethod.Get, "cluster/kubeconfig", null, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }
}
