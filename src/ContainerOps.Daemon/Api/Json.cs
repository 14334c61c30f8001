using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Api;

/// <summary>Request/response bodies through the source-generated contract types (the same the client uses).</summary>
internal static class Json
{
    public static IResult Ok<T>(T value, JsonTypeInfo<T> type) =>
        Results.Bytes(JsonSerializer.SerializeToUtf8Bytes(value, type), "application/json");

    /// <summary>Writes one line of a JSON stream — the value and its newline in one write, so they reach the client in
    /// one chunk (the Python docker SDK fails on a chunk that holds only the newline) — and flushes it.</summary>
    public static async Task WriteLineAsync<T>(Stream body, T value, JsonTypeInfo<T> type, CancellationToken ct = default)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(value, type);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        await body.WriteAsync(line, ct);
        await body.FlushAsync(ct);
    }

    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, string what)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync(request.Body, type, request.HttpContext.RequestAborted)
                ?? throw new JsonException("empty body");
        }
        catch (JsonException e) { throw Invalid(what, e); }
    }

    /// <summary>The body as a document, for a route that also looks at members its type has no field for; the value
    /// itself from <see cref="Read{T}"/>.</summary>
    public static async Task<JsonDocument> ReadDocumentAsync(HttpRequest request, string what)
    {
        try { return await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted); }
        catch (JsonException e) { throw Invalid(what, e); }
    }

    public static T Read<T>(JsonElement body, JsonTypeInfo<T> type, string what)
    {
        try { return body.Deserialize(type) ?? throw new JsonException("empty body"); }
        catch (JsonException e) { throw Invalid(what, e); }
    }

    private static ContainerOpsException Invalid(string what, JsonException e) =>
        new(ErrorKind.InvalidArgument, "InvalidRequestBody", $"the {what} is not valid JSON: {e.Message}", null, e.Path);

    public static async Task WriteErrorAsync(HttpContext context, ApiError error)
    {
        context.Response.StatusCode = (int)ContainerOpsException.StatusFor(error.Kind);
        context.Response.ContentType = "application/json";
        if (DockerSystemRoutes.IsDockerClient(context))
        {
            // dockerd's error body, {"message": "…"}: the Python SDK (docker-compose 1.29) reads that key alone.
            await using var w = new Utf8JsonWriter(context.Response.Body);
            w.WriteStartObject();
            w.WriteString("message", error.Message);
            w.WriteEndObject();
            return;
        }
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(error, ApiJsonContext.Default.ApiError));
    }
}
