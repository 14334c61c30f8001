using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace ContainerOps.Probes;

/// <summary>
/// Kubernetes' grpc probe: the gRPC Health Checking Protocol's Check call (grpc.health.v1.Health/Check) over cleartext
/// HTTP/2 to the container's port, for the named service or the server as a whole; SERVING succeeds, any other answer
/// or status fails with the kubelet's wording. Written by hand on HttpClient's HTTP/2 rather than with a gRPC library:
/// the call is one request with a one-field message each way, and the daemon stays free of a code generator.
/// </summary>
public sealed class GrpcProbe(string host, int port, string? service) : IProbe
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private static readonly string[] StatusNames = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

    public async Task<ProbeResult> RunAsync(TimeSpan timeout, CancellationToken ct)
    {
        var begun = DateTimeOffset.UtcNow;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{(host.Contains(':') ? $"[{host}]" : host)}:{port}/grpc.health.v1.Health/Check")
            {
                Content = new ByteArrayContent(Frame(service)),
                // HTTP/2 without TLS from the first byte (prior knowledge), as gRPC speaks it.
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
            request.Headers.TE.ParseAdd("trailers");
            request.Headers.UserAgent.ParseAdd("kube-probe/1.32");
            using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseContentRead, limit.Token);
            var body = await response.Content.ReadAsByteArrayAsync(limit.Token);
            // A call that failed may answer with headers alone ("trailers-only"), so the status is looked for in both.
            var status = Header(response, "grpc-status") ?? (response.IsSuccessStatusCode ? null : ((int)response.StatusCode).ToString());
            if (status is not "0")
            {
                var message = Uri.UnescapeDataString(Header(response, "grpc-message") ?? "");
                return Failed(begun, $"error: health rpc probe failed: rpc error: code = {CodeName(status)} desc = {message}");
            }
            var answer = ReadStatus(body);
            return answer == 1 ? new ProbeResult(begun, DateTimeOffset.UtcNow, 0, "")
                : Failed(begun, $"service unhealthy (responded with \"{(answer is >= 0 and < 4 ? StatusNames[answer] : answer.ToString())}\")");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ProbeResult(begun, DateTimeOffset.UtcNow, -1, $"timeout: health rpc did not complete within {timeout.TotalSeconds:0.###}s");
        }
        catch (HttpRequestException e)
        {
            return Failed(begun, $"timeout: failed to connect service \"{host}:{port}\" within {timeout.TotalSeconds:0.###}s: {e.Message}");
        }
    }

    private static ProbeResult Failed(DateTimeOffset begun, string why) => new(begun, DateTimeOffset.UtcNow, 1, why);

    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var t) ? t.FirstOrDefault()
        : response.Headers.TryGetValues(name, out var h) ? h.FirstOrDefault() : null;

    private static string CodeName(string? status) => status switch
    {
        "1" => "Canceled", "2" => "Unknown", "3" => "InvalidArgument", "4" => "DeadlineExceeded", "5" => "NotFound",
        "7" => "PermissionDenied", "12" => "Unimplemented", "13" => "Internal", "14" => "Unavailable", "16" => "Unauthenticated",
        null => "Unknown", var other => $"Code({other})",
    };

    /// <summary>A HealthCheckRequest { string service = 1; } in gRPC's length-prefixed frame (uncompressed).</summary>
    internal static byte[] Frame(string? service)
    {
        var name = Encoding.UTF8.GetBytes(service ?? "");
        var message = new List<byte>();
        if (name.Length > 0)
        {
            message.Add(0x0A); // field 1, length-delimited
            for (var n = (uint)name.Length; ; n >>= 7)
            {
                if (n < 0x80) { message.Add((byte)n); break; }
                message.Add((byte)(n | 0x80));
            }
            message.AddRange(name);
        }
        var frame = new byte[5 + message.Count];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Count);
        message.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>HealthCheckResponse.status (field 1, a varint) from a response frame; 0 (UNKNOWN) when absent.</summary>
    internal static int ReadStatus(ReadOnlySpan<byte> body)
    {
        if (body.Length < 5) return 0;
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body[1..]);
        var message = body.Slice(5, Math.Min(length, body.Length - 5));
        for (var i = 0; i < message.Length;)
        {
            var tag = message[i++];
            if (tag == 0x08 && i < message.Length) return message[i] & 0x7F; // field 1, varint (values below 128)
            // Anything else is skipped by its wire type: varint or length-delimited.
            if ((tag & 7) == 0) { while (i < message.Length && (message[i++] & 0x80) != 0) { } }
            else if ((tag & 7) == 2 && i < message.Length) i += 1 + message[i];
            else break;
        }
        return 0;
    }
}
