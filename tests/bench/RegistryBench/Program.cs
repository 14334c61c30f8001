// registry-bench: the smallest front end over ImageService's registry support, for benchmarks.
//   registry-bench import <store> <name>                 import a busybox image (busybox-static) as <name>
//   registry-bench push   <store> <local> <target>       push (loopback registries may use plain HTTP)
//   registry-bench pull   <store> <reference>            pull, unpack and tag
//   registry-bench fetch  <dir> <reference>              only the transfer: manifest, config and layers into <dir>
//                                                        through RegistryClient (what `skopeo copy ... dir:` does)
// Prints one line per finished blob on stderr with -v.
using ContainerOps.Core.Api;
using ContainerOps.Images;
using ContainerOps.Images.Credentials;
using ContainerOps.Images.Registry;
using ContainerOps.TestSupport;

if (args.Length < 3) return Usage();
var verbose = args.Contains("-v");
var a = args.Where(x => x != "-v").ToArray();
var options = new RegistryOptions
{
    AllowInsecureLoopback = true,
    Credentials = new DockerConfigCredentialStore(),
    CertsDirectory = Environment.GetEnvironmentVariable("CONTAINEROPS_CERTS_D"),
};
IProgress<TransferProgress>? progress = verbose ? new Reporter() : null;
ImageService Images() => new(a[1]);
try
{
    switch (a[0])
    {
        case "import" when a.Length == 3:
            var tar = Path.Combine(Path.GetTempPath(), $"bench-rootfs-{Environment.ProcessId}.tar");
            try
            {
                Busybox.CreateRootfsTar(tar);
                await using var f = File.OpenRead(tar);
                var r = await Images().ImportRootfsAsync(f, a[2], []);
                Console.WriteLine(r.Images[0].Digest);
            }
            finally { File.Delete(tar); }
            return 0;
        case "push" when a.Length == 4:
            await Images().PushAsync(a[2], a[3], options, progress);
            return 0;
        case "pull" when a.Length == 3:
            var s = await Images().PullAsync(a[2], options, progress);
            Console.WriteLine(s.Digest);
            return 0;
        case "fetch" when a.Length == 3:
            await Fetch(a[1], a[2], options, progress);
            return 0;
        default:
            return Usage();
    }
}
catch (ContainerOpsException e)
{
    Console.Error.WriteLine($"registry-bench: {e.Error.Id}: {e.Message}");
    return 1;
}

static async Task Fetch(string dir, string reference, RegistryOptions options, IProgress<TransferProgress>? progress)
{
    var name = ContainerOps.Images.References.ImageReference.Parse(reference);
    Directory.CreateDirectory(dir);
    using var client = new RegistryClient(name.Domain, options);
    var m = await client.GetManifestAsync(name.Path, name.DigestValue ?? name.Tag!);
    if (m.IsIndex)
        m = await client.GetManifestAsync(name.Path, RegistryClient.SelectPlatform(m, options.Os, options.Architecture, options.Variant, reference).Digest);
    await File.WriteAllBytesAsync(Path.Combine(dir, "manifest.json"), m.Bytes);
    var json = m.Json;
    var blobs = (json["layers"]?.AsArray() ?? []).Select((n, i) => Descriptor.FromJson(n, $"layer {i}"))
        .Append(Descriptor.FromJson(json["config"], "config")).ToList();
    await Parallel.ForEachAsync(blobs, new ParallelOptions { MaxDegreeOfParallelism = options.MaxConcurrentTransfers },
        async (d, ct) => await client.DownloadBlobAsync(name.Path, d, Path.Combine(dir, d.Digest[7..]), progress, ct));
}

static int Usage()
{
    Console.Error.WriteLine("usage: registry-bench import|push|pull <store> ... | fetch <dir> <reference>");
    return 2;
}

sealed class Reporter : IProgress<TransferProgress>
{
    public void Report(TransferProgress p)
    {
        if (p.State is TransferState.Done or TransferState.Exists or TransferState.Mounted)
            Console.Error.WriteLine($"{p.Digest[..19]} {p.State} {p.Current}/{p.Total}");
    }
}
