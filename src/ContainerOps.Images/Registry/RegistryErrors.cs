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
        var detail = await ErrorCodes(resp, ct);
        var status = (int)resp.StatusCode;
        var suffix = detail.Length > 0 ? $" ({detail})" : $" (HTTP {status})";
        return resp.StatusCode switch
        {
            HttpStatusCode.NotFound => new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", $"{what} not found: {target}{suffix}", target),
            HttpStatusCode.Unauthorized => Unauthorized(target, suffix),
            HttpStatusCode.Forbidden => new ContainerOpsException(ErrorKind.InvalidArgument, "Denied", $"access to {target} denied{suffix}", target),
            HttpStatusCode.TooManyRequests => new ContainerOpsException(ErrorKind.ResourceUnavailable, "TooManyRequests", $"registry rate limit reached for {target}{suffix}", target),
            >= HttpStatusCode.InternalServerError => new ContainerOpsException(ErrorKind.ResourceUnavailable, "RegistryUnavailable", $"registry failed on {what} for {target}{suffix}", target),
            _ => new ContainerOpsException(ErrorKind.InvalidArgument, "RegistryError", $"registry refused {what} for {target}{suffix}", target),
        };
    }

    public static ContainerOpsException Unauthorized(string target, string suffix) =>
        new(ErrorKind.InvalidArgument, "Unauthorized", $"unauthorized: authentication required or credentials rejected for {target}{suffix}", target, "credentials");

    /// <summary>"MANIFEST_UNKNOWN: manifest unknown" from the body's <c>errors</c> array, limited in length.</summary>
    private static async Task<string> ErrorCodes(HttpResponseMessage resp, CancellationToken ct)
    {
        try
        {
            if (resp.Content.Headers.ContentLength is > 65536) return "";
            var body = await resp.Content.ReadAsStringAsync(ct);
            if (body.Length == 0 || JsonNode.Parse(body)?["errors"] is not JsonArray errors) return "";
            var parts = errors.OfType<JsonObject>().Select(e =>
            {
                var code = e["code"]?.GetValue<string>() ?? "";
                var msg = e["message"]?.GetValue<string>() ?? "";
                return msg.Length > 0 ? $"{code}: {msg}" : code;
            }).Where(s => s.Length > 0).Take(3);
            var text = string.Join("; ", parts);
            return text.Length > 300 ? text[..300] : text;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or HttpRequestException or IOException)
        {
            return "";
        }
    }

    public static ContainerOpsException Unreachable(string registry, Exception e) =>
        new(ErrorKind.ResourceUnavailable, "RegistryUnreachable", $"cannot reach registry {registry}: {e.Message}", registry, inner: e);
}
