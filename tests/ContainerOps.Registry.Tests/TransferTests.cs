using System.Net;
using System.Security.Cryptography;
using ContainerOps.Images.Content;
using ContainerOps.Images.Registry;
using ContainerOps.TestSupport;

namespace ContainerOps.Registry.Tests;

public class TransferTests
{
    /// <summary>Counts requests by method and, once, cuts a blob download short after some bytes.</summary>
    private sealed class Faults(HttpMessageHandler inner, long breakAfter) : DelegatingHandler(inner)
    {
        public int Patches, Gets;
        public readonly List<string?> Ranges = new();
        private int _broken;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            var blobGet = request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.Contains("/blobs/");
            if (request.Method == HttpMethod.Patch) Interlocked.Increment(ref Patches);
            if (blobGet) { Interlocked.Increment(ref Gets); lock (Ranges) Ranges.Add(request.Headers.Range?.ToString()); }
            var resp = await base.SendAsync(request, ct);
            if (blobGet && breakAfter > 0 && resp.IsSuccessStatusCode && Interlocked.Exchange(ref _broken, 1) == 0)
            {
                var body = await resp.Content.ReadAsStreamAsync(ct);
                var cut = new StreamContent(new BreakingStream(body, breakAfter));
                foreach (var h in resp.Content.Headers) cut.Headers.TryAddWithoutValidation(h.Key, h.Value);
                resp.Content = cut;
            }
            return resp;
        }
    }

    [Fact]
    public async Task BigBlob_IsUploadedInChunks_AndABrokenDownloadResumesWithRange()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var tmp = new TempDir("co-blob");
        var data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 123);
        var d = new Descriptor("application/octet-stream", Digest.Of(data), data.Length);

        Faults? faults = null;
        var options = new RegistryOptions
        {
            Insecure = [reg.Host], ChunkedUploadThreshold = 1 << 20, ChunkSize = 1 << 20,
            WrapHandler = h => faults = new Faults(h, breakAfter: 700_000),
        };
        using var client = new RegistryClient(reg.Host, options);
        var state = await client.PushBlobAsync("blobs/big", d, () => new MemoryStream(data));
        Assert.Equal(TransferState.Uploading, state);
        Assert.Equal(4, faults!.Patches);
        Assert.True(await client.BlobExistsAsync("blobs/big", d.Digest));

        var progress = new Recorder();
        var path = Path.Combine(tmp.Path, "blob");
        await client.DownloadBlobAsync("blobs/big", d, path, progress);
        Assert.Equal(data, await File.ReadAllBytesAsync(path));
        Assert.Equal(1, client.Resumes);
        Assert.Equal(2, faults.Gets);
        Assert.Null(faults.Ranges[0]);
        Assert.StartsWith("bytes=", faults.Ranges[1]);
        Assert.Contains(progress.Items, p => p.State == TransferState.Resuming);
        Assert.Equal(TransferState.Done, progress.Items[^1].State);
    }

    [Fact]
    public async Task ABlobWithTheWrongContent_IsRejectedAndNotKept()
    {
        using var reg = TestRegistry.Start(RegistryMode.PlainHttp);
        using var tmp = new TempDir("co-blob");
        var data = RandomNumberGenerator.GetBytes(200_000);
        var real = new Descriptor("application/octet-stream", Digest.Of(data), data.Length);
        using var client = new RegistryClient(reg.Host, new RegistryOptions { Insecure = [reg.Host] });
        await client.PushBlobAsync("blobs/x", real, () => new MemoryStream(data));
        // Ask for it with the right digest but a wrong size: the size check fails before any bad byte is kept.
        var path = Path.Combine(tmp.Path, "b");
        var e = await Assert.ThrowsAsync<ContainerOps.Core.Api.ContainerOpsException>(() =>
            client.DownloadBlobAsync("blobs/x", real with { Size = 100_000 }, path));
        Assert.Equal("SizeMismatch", e.Error.Id);
        Assert.False(File.Exists(path));
    }
}
