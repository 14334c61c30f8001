using System.Net;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;

namespace ContainerOps.Images.Registry;

/// <summary>Turns registry responses into ContainerOpsExceptions. Messages name the registry, repository and
/// reference, and the registry's own error codes; never a header, credential or token.</summary>
internal static class RegistryErrors
{
    public static async Task<ContainerOpsException> FromResponse(HttpResponseMessage resp, string what, string target, CancellationToken ct)
    {
        var errors = await ErrorCodes(resp, ct);
        var detail = Limit(string.Join("; ", errors.Select(e => e.Message.Length > 0 ? $"{e.Code}: {e.Message}" : e.Code)));
        var status = (int)resp.StatusCode;
        var suffix = detail.Length > 0 ? $" ({detail})" : $" (HTTP {status})";
        return resp.StatusCode switch
        {
            // In dockerd's words ("manifest for r/x:1 not found: manifest unknown: manifest unknown"), which scripts match.
            HttpStatusCode.NotFound => new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound",
                $"{what} for {target} not found" + (errors.Count > 0
                    ? ": " + Limit(string.Join("; ", errors.Select(e => e.Code.ToLowerInvariant().Replace('_', ' ') + (e.Message.Length > 0 ? ": " + e.Message : ""))))
                    : $" (HTTP {status})"), target),
            HttpStatusCode.Unauthorized => Unauthorized(target, suffix),
            HttpStatusCode.Forbidden => new ContainerOpsException(ErrorKind.InvalidArgument, "Denied", $"access to {target} denied{suffix}", target),
            HttpStatusCode.TooManyRequests => new ContainerOpsException(ErrorKind.ResourceUnavailable, "TooManyRequests", $"registry rate limit reached for {target}{suffix}", target),
            >= HttpStatusCode.InternalServerError => new ContainerOpsException(ErrorKind.ResourceUnavailable, "RegistryUnavailable", $"registry failed on {what} for {target}{suffix}", target),
            _ => new ContainerOpsException(ErrorKind.InvalidArgument, "RegistryError", $"registry refused {what} for {target}{suffix}", target),
        };
    }

    public static ContainerOpsException Unauthorized(string target, string suffix) =>
        new(ErrorKind.InvalidArgument, "Unauthorized", $"unauthorized: authentication required or credentials rejected for {target}{suffix}", target, "credentials");

    /// <summary>The codes and messages of the body's <c>errors</c> array (MANIFEST_UNKNOWN, "manifest unknown"), at most three.</summary>
    private static async Task<List<(string Code, string Message)>> ErrorCodes(HttpResponseMessage resp, CancellationToken ct)
    {
        try
        {
            if (resp.Content.Headers.ContentLength is > 65536) return [];
            var body = await resp.Content.ReadAsStringAsync(ct);
            if (body.Length == 0 || JsonNode.Parse(body)?["errors"] is not JsonArray errors) return [];
            return errors.OfType<JsonObject>()
                .Select(e => (Code: e["code"]?.GetValue<string>() ?? "", Message: e["message"]?.GetValue<string>() ?? ""))
                .Where(e => e.Code.Length > 0 || e.Message.Length > 0).Take(3).ToList();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or HttpRequestException or IOException)
        {
            return [];
        }
    }

    private static string Limit(string text) => text.Length > 300 ? text[..300] : text;

    public static ContainerOpsException Unreachable(string registry, Exception e) =>
        new(ErrorKind.ResourceUnavailable, "RegistryUnreachable", $"cannot reach registry {registry}: {e.Message}", registry, inner: e);
}
