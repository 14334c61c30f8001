// images-bench: the smallest front end over the image engine's parts, for benchmarks.
//   images-bench unpack <oci-layout> <tag> <dir> [--repeat N]
//       Unpacks the image <tag> of an OCI image layout the way the engine unpacks a layer into a snapshot:
//       for each layer, the compressed blob's sha256 is checked while it streams through gunzip into
//       LayerExtractor (openat2-confined extraction into an empty directory), and the tar's sha256 is checked
//       against the config's diff ID. Layer i goes to <dir>/<i> (each layer is its own snapshot in the engine).
//       The same work as `umoci raw unpack` (blob digest, gunzip, diff ID, extraction). With --repeat the
//       extraction runs N times in this process (into <dir>.rep) and each time is printed: JIT-free figures.
using System.Diagnostics;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Images.Content;
using ContainerOps.Images.Layers;

if (args.Length < 1) return Usage();
try
{
    switch (args[0])
    {
        case "unpack" when args.Length is 4 or 6:
            var repeat = args.Length == 6 && args[4] == "--repeat" ? int.Parse(args[5]) : 0;
            if (repeat == 0) { Unpack(args[1], args[2], args[3]); return 0; }
            for (var i = 0; i < repeat; i++)
            {
                var dir = args[3] + ".rep";
                if (Directory.Exists(dir)) Directory.Delete(dir, true);
                var sw = Stopwatch.StartNew();
                Unpack(args[1], args[2], dir);
                Console.WriteLine($"run {i}: {sw.Elapsed.TotalMilliseconds:F1} ms");
            }
            return 0;
        default:
            return Usage();
    }
}
catch (ContainerOpsException e)
{
    Console.Error.WriteLine($"images-bench: {e.Error.Id}: {e.Message}");
    return 1;
}

static void Unpack(string layout, string tag, string target)
{
    string Blob(string digest) => Path.Combine(layout, "blobs", "sha256", Digest.Hex(digest));
    JsonObject Read(string digest) => JsonNode.Parse(File.ReadAllBytes(Blob(digest)))!.AsObject();
    var index = JsonNode.Parse(File.ReadAllBytes(Path.Combine(layout, "index.json")))!.AsObject();
    var entry = index["manifests"]!.AsArray().FirstOrDefault(m => m?["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == tag)
                ?? throw new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", $"no image tagged {tag} in {layout}");
    var manifest = Read(entry["digest"]!.GetValue<string>());
    var config = Read(manifest["config"]!["digest"]!.GetValue<string>());
    var diffIds = config["rootfs"]!["diff_ids"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
    var layers = manifest["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()).ToList();
    Directory.CreateDirectory(target);
    for (var i = 0; i < layers.Count; i++)
    {
        var dir = Path.Combine(target, i.ToString());
        Directory.CreateDirectory(dir);
        using var file = new FileStream(Blob(layers[i]), FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        using var blob = new HashingStream(file);
        var result = LayerExtractor.Extract(blob, dir);
        blob.Drain();
        ContentStore.Verify(blob.Digest, layers[i]);
        ContentStore.Verify(result.DiffId, diffIds[i]);
    }
}

static int Usage()
{
    Console.Error.WriteLine("usage: images-bench unpack <oci-layout> <tag> <dir> [--repeat N]");
    return 2;
}
