using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ContainerOps.Daemon.Tests;
using ContainerOps.TestSupport;

namespace ContainerOps.Chaos.Tests;

/// <summary>
/// What exists on the host for one private daemon, read from the kernel and the state directories rather than through
/// its API: overlay mounts, cgroups, shim processes, runtime state, container records and layers, veths and network
/// namespaces, and the image store's files. Each check returns the violations it found and counts what it checked.
/// </summary>
public sealed class HostState(PrivateDaemon daemon)
{
    private string ImagesRoot => Path.Combine(daemon.Root, "images");

    /// <summary>Every object that belongs to a container must belong to one the API lists, and the objects of a running
    /// container only to a running one: mounts, cgroups, shims, runtime state. Records and layers match the list.</summary>
    public List<string> CheckOwnership(IReadOnlyDictionary<string, string> statusById, ref int checks)
    {
        var v = new List<string>();
        bool Live(string id) => statusById.TryGetValue(id, out var s) && s is "running" or "paused";
        string Describe(string id) => statusById.TryGetValue(id, out var s) ? $"{Short(id)} ({s})" : $"{Short(id)} (no such container)";

        // Overlay mounts: only the merged dir of a running container (build containers only while a build runs).
        var layers = Path.Combine(ImagesRoot, "containers") + "/";
        foreach (var mount in MountPoints().Where(m => m.StartsWith(daemon.Root + "/", StringComparison.Ordinal)))
        {
            checks++;
            var rest = mount.StartsWith(layers, StringComparison.Ordinal) ? mount[layers.Length..].Split('/') : [];
            if (rest.Length == 2 && rest[1] == "merged" && Live(rest[0])) continue;
            v.Add($"mount {mount} is owned by no running container" + (rest.Length > 0 ? $": {Describe(rest[0])}" : ""));
        }

        // Cgroups: one per running container under the daemon's parent, none under the build parent.
        foreach (var group in Cgroups().GroupBy(c => (c.Id, c.Build)))
        {
            checks++;
            var (id, build) = group.Key;
            if (!build && Live(id)) continue;
            var pids = group.SelectMany(c => ReadPids(c.Dir)).Distinct().Count();
            v.Add($"cgroup {Path.GetFileName(Path.GetDirectoryName(group.First().Dir))}/{id} ({group.Count()} hierarchies) is owned by no running container: " +
                $"{(build ? "a build step" : Describe(id))}, {pids} process(es)");
        }

        // Shims: one run/create shim per running container; an exec shim only in a running container.
        var shims = ShimProcesses();
        foreach (var group in shims.GroupBy(s => s.Id))
        {
            checks++;
            var monitors = group.Where(s => s.Mode is "run" or "create").ToList();
            if (!group.First().Build && Live(group.Key) && monitors.Count <= 1) continue;
            foreach (var s in group)
                v.Add($"shim process {s.Pid} ({s.Mode}{(s.Build ? ", build" : "")}) for {Describe(group.Key)}" + (monitors.Count > 1 ? $": {monitors.Count} shims for one container" : ""));
        }
        foreach (var (id, status) in statusById)
        {
            if (status is not ("running" or "paused")) continue;
            checks++;
            if (!shims.Any(s => s.Id == id && s.Mode is "run" or "create"))
                v.Add($"container {Short(id)} is {status} but no shim runs for it");
        }

        // Runtime state: only for running containers; the build runtime keeps nothing between builds.
        foreach (var (root, build) in new[] { (Path.Combine(daemon.RunRoot, "runtime"), false), (Path.Combine(daemon.RunRoot, "build-runtime"), true) })
        {
            if (!Directory.Exists(root)) continue;
            foreach (var dir in Directory.GetDirectories(root))
            {
                var id = Path.GetFileName(dir);
                // Container ids start with a letter or digit: a dot directory is the runtime's own (its seccomp cache).
                if (id is "s" || id.StartsWith('.')) continue;
                if (build && id == "bundles" && Directory.GetFileSystemEntries(dir).Length == 0) continue;
                checks++;
                if (!build && Live(id)) continue;
                v.Add($"runtime state {dir} is owned by no running container: {(build ? "a build step" : Describe(id))}" + DescribeState(dir));
            }
        }

        // Records and layers: exactly the containers the API lists.
        var records = ListDirs(Path.Combine(daemon.Root, "containers"));
        var layerDirs = ListDirs(Path.Combine(ImagesRoot, "containers"));
        foreach (var id in statusById.Keys)
        {
            checks += 2;
            if (!records.Contains(id)) v.Add($"container {Short(id)} is listed but has no record directory");
            if (!layerDirs.Contains(id)) v.Add($"container {Short(id)} is listed but has no layer");
        }
        foreach (var id in records.Concat(layerDirs).Distinct().Where(id => !statusById.ContainsKey(id)))
        {
            checks++;
            v.Add($"{(records.Contains(id) ? "record" : "layer")} {id} belongs to no listed container");
        }
        if (Directory.Exists(Path.Combine(daemon.Root, "damaged")))
            v.Add("a record became unreadable (ROOT/damaged exists): " + string.Join(", ", Directory.GetDirectories(Path.Combine(daemon.Root, "damaged")).Select(Path.GetFileName)));
        checks++;

        v.AddRange(CheckNetworks(statusById, ref checks));
        return v;
    }

    /// <summary>Networks: every bridge of this daemon belongs to a network record; a host veth exists exactly for each
    /// running container's endpoint (named in its record), on that network's bridge; no address is handed out twice;
    /// endpoints belong to listed containers; no named network namespace carries a container's id.</summary>
    private List<string> CheckNetworks(IReadOnlyDictionary<string, string> statusById, ref int checks)
    {
        var v = new List<string>();
        bool Live(string id) => statusById.TryGetValue(id, out var s) && s is "running" or "paused";
        var networks = new List<JsonNode>();
        var dir = Path.Combine(daemon.Root, "networks");
        foreach (var file in Directory.Exists(dir) ? Directory.GetFiles(dir, "*.json") : [])
        {
            checks++;
            try { networks.Add(JsonNode.Parse(File.ReadAllText(file))!); }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { v.Add($"network record {Path.GetFileName(file)} cannot be read: {e.Message}"); }
        }
        var links = Directory.Exists("/sys/class/net") ? Directory.GetFileSystemEntries("/sys/class/net").Select(l => Path.GetFileName(l)!).ToHashSet() : [];
        var bridges = networks.Select(n => n["BridgeName"]?.GetValue<string>() ?? "").Where(b => b.Length > 0).ToHashSet();
        foreach (var link in links.Where(l => l == daemon.BridgeName || l.StartsWith(daemon.BridgePrefix, StringComparison.Ordinal)))
        {
            checks++;
            if (!bridges.Contains(link)) v.Add($"bridge {link} belongs to no network");
        }
        var expectedVeths = new HashSet<string>();
        foreach (var n in networks)
        {
            var name = n["Name"]?.GetValue<string>();
            var bridge = n["BridgeName"]?.GetValue<string>() ?? "";
            var endpoints = (n["Endpoints"] as JsonObject ?? []).Select(kv => (Id: kv.Key, E: kv.Value!)).ToList();
            foreach (var dup in endpoints.GroupBy(e => e.E["IPv4Address"]?.GetValue<string>()).Where(g => g.Key is { Length: > 0 } && g.Count() > 1))
                v.Add($"network {name}: address {dup.Key} is given to {string.Join(" and ", dup.Select(d => Short(d.Id)))}");
            foreach (var (id, e) in endpoints)
            {
                checks++;
                if (!statusById.ContainsKey(id)) { v.Add($"network {name} keeps an endpoint of {Short(id)}, which is no listed container"); continue; }
                var veth = e["HostVeth"]?.GetValue<string>();
                if (veth is null)
                {
                    if (Live(id)) v.Add($"container {Short(id)} runs but its endpoint on {name} has no veth");
                    continue;
                }
                expectedVeths.Add(veth);
                if (!Live(id)) v.Add($"container {Short(id)} is {statusById[id]} but its endpoint on {name} still names veth {veth}");
                else if (!links.Contains(veth)) v.Add($"container {Short(id)} runs but its veth {veth} on {name} does not exist");
                else if (ReadMaster(veth) != bridge) v.Add($"veth {veth} of {Short(id)} is on {ReadMaster(veth) ?? "no bridge"}, not {bridge}");
            }
        }
        foreach (var link in links.Where(l => l.StartsWith("veth", StringComparison.Ordinal) && !expectedVeths.Contains(l)))
        {
            var master = ReadMaster(link);
            var ours = master is not null && bridges.Contains(master)
                || statusById.Keys.Any(id => link.Length >= 11 && link[4..11] == id[..7]);
            if (!ours) continue;
            checks++;
            v.Add($"veth {link} (on {master ?? "no bridge"}) is owned by no running container's endpoint");
        }
        var named = Directory.Exists("/run/netns") ? Directory.GetFileSystemEntries("/run/netns").Select(Path.GetFileName).ToList() : [];
        foreach (var id in statusById.Keys)
        {
            checks++;
            if (named.FirstOrDefault(n => n!.Contains(id[..12], StringComparison.Ordinal)) is { } ns) v.Add($"network namespace {ns} names container {Short(id)}");
        }
        return v;
    }

    private static string? ReadMaster(string link)
    {
        try { return new FileInfo($"/sys/class/net/{link}/master").LinkTarget is { } t ? Path.GetFileName(t) : null; }
        catch (IOException) { return null; }
    }

    /// <summary>The image store on disk: every blob has the digest it is named by, every image's manifest, config and
    /// layers are there, every name points at an image, every snapshot is complete, and no temporary file of an
    /// interrupted operation outlives a daemon start.</summary>
    public List<string> CheckImageStore(ref int checks)
    {
        var v = new List<string>();
        var blobs = Path.Combine(ImagesRoot, "content", "blobs", "sha256");
        var present = new HashSet<string>();
        foreach (var file in Directory.Exists(blobs) ? Directory.GetFiles(blobs) : [])
        {
            checks++;
            var name = Path.GetFileName(file);
            using (var f = File.OpenRead(file))
            {
                var actual = Convert.ToHexStringLower(SHA256.HashData(f));
                if (actual != name) v.Add($"blob {name} has digest {actual}");
            }
            present.Add("sha256:" + name);
        }
        var refsFile = Path.Combine(ImagesRoot, "references.json");
        var images = new List<string>();
        if (File.Exists(refsFile))
        {
            var doc = JsonNode.Parse(File.ReadAllText(refsFile))!.AsObject();
            images = (doc["images"] as JsonArray ?? []).Select(n => n!.GetValue<string>()).ToList();
            foreach (var (tag, digest) in doc["tags"] as JsonObject ?? [])
            {
                checks++;
                if (!images.Contains(digest!.GetValue<string>())) v.Add($"name {tag} points at {digest} which is not an image");
            }
        }
        foreach (var manifest in images)
        {
            checks++;
            if (!present.Contains(manifest)) { v.Add($"image {manifest} has no manifest blob"); continue; }
            var m = JsonNode.Parse(File.ReadAllText(Path.Combine(blobs, manifest["sha256:".Length..])))!;
            var needed = new List<string>();
            if (m["config"]?["digest"]?.GetValue<string>() is { } config) needed.Add(config);
            needed.AddRange((m["layers"] as JsonArray ?? []).Select(l => l!["digest"]!.GetValue<string>()));
            needed.AddRange((m["manifests"] as JsonArray ?? []).Select(l => l!["digest"]!.GetValue<string>()));
            foreach (var d in needed)
            {
                checks++;
                if (!present.Contains(d)) v.Add($"image {Short(manifest)} needs blob {d}, which is missing");
            }
        }
        var snapshots = Path.Combine(ImagesRoot, "snapshots");
        foreach (var dir in Directory.Exists(snapshots) ? Directory.GetDirectories(snapshots) : [])
        {
            checks++;
            var name = Path.GetFileName(dir);
            if (name.StartsWith('.')) v.Add($"temporary snapshot {name} outlived a daemon start");
            else if (!File.Exists(Path.Combine(dir, "complete"))) v.Add($"snapshot {Short(name)} has no completion marker");
        }
        foreach (var leftover in new[] { Path.Combine(ImagesRoot, "content", "ingest"), Path.Combine(ImagesRoot, "build-contexts"), Path.Combine(ImagesRoot, "build-tmp") })
        {
            checks++;
            if (Directory.Exists(leftover) && Directory.GetFileSystemEntries(leftover).Length > 0)
                v.Add($"{leftover} holds {Directory.GetFileSystemEntries(leftover).Length} leftover(s) of interrupted operations after a daemon start");
        }
        return v;
    }

    // ---------------------------------------------------------------- readers

    public static string Short(string id) => id.Length > 12 ? id[..12] : id;

    private static IEnumerable<string> MountPoints() =>
        File.ReadAllLines("/proc/self/mountinfo").Select(l => Unescape(l.Split(' ')[4]));

    private static string Unescape(string s) => System.Text.RegularExpressions.Regex.Replace(s, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());

    private static HashSet<string> ListDirs(string dir) =>
        Directory.Exists(dir) ? Directory.GetDirectories(dir).Select(d => Path.GetFileName(d)!).Where(n => !n.StartsWith('.')).ToHashSet() : [];

    /// <summary>Container cgroups under the daemon's parent and its build parent, in every hierarchy.</summary>
    public IEnumerable<(string Dir, string Id, bool Build)> Cgroups()
    {
        var tops = Directory.Exists("/sys/fs/cgroup") ? Directory.GetDirectories("/sys/fs/cgroup").ToList() : [];
        tops.Add("/sys/fs/cgroup");
        foreach (var top in tops.Distinct())
            foreach (var (parent, build) in new[] { (daemon.CgroupParent, false), (daemon.CgroupParent + "-build", true) })
            {
                var p = Path.Combine(top, parent);
                if (!Directory.Exists(p)) continue;
                foreach (var d in Directory.GetDirectories(p)) yield return (d, Path.GetFileName(d), build);
            }
    }

    private static List<int> ReadPids(string cgroupDir)
    {
        try { return File.ReadAllLines(Path.Combine(cgroupDir, "cgroup.procs")).Select(int.Parse).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return []; }
    }

    public sealed record Shim(int Pid, string Mode, string Id, bool Build);

    /// <summary>containerops-shim processes whose plan lies in this daemon's run root.</summary>
    public List<Shim> ShimProcesses()
    {
        var result = new List<Shim>();
        foreach (var (pid, argv) in Processes())
        {
            if (argv.Length < 3 || !argv[0].EndsWith("containerops-shim", StringComparison.Ordinal)) continue;
            foreach (var (root, build) in new[] { (Path.Combine(daemon.RunRoot, "runtime") + "/", false), (Path.Combine(daemon.RunRoot, "build-runtime") + "/", true) })
                if (argv[2].StartsWith(root, StringComparison.Ordinal))
                    result.Add(new Shim(pid, argv[1], argv[2][root.Length..].Split('/')[0], build));
        }
        return result;
    }

    private static IEnumerable<(int Pid, string[] Argv)> Processes()
    {
        foreach (var p in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(p), out var pid)) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(p + "/cmdline"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (cmdline.Length == 0) continue;
            yield return (pid, cmdline.TrimEnd('\0').Split('\0'));
        }
    }

    private static string DescribeState(string dir)
    {
        try
        {
            var state = Path.Combine(dir, "state.json");
            if (!File.Exists(state)) return " (no state.json)";
            var doc = JsonNode.Parse(File.ReadAllText(state))!;
            return $" (pid {doc["pid"]}, exit file {(File.Exists(Path.Combine(dir, "exit")) ? "present" : "absent")})";
        }
        catch (Exception e) { return $" ({e.Message})"; }
    }

    // ---------------------------------------------------------------- cleanup

    /// <summary>After the daemon has stopped: kills whatever of its processes are left, unmounts what it mounted and
    /// removes its cgroups, so that a run that found a leak still leaves nothing behind.</summary>
    public void Scrub()
    {
        foreach (var s in ShimProcesses()) Kill(s.Pid);
        foreach (var (dir, _, _) in Cgroups().ToList())
            foreach (var pid in ReadPids(dir)) Kill(pid);
        foreach (var mount in MountPoints().Where(m => m.StartsWith(daemon.Root + "/", StringComparison.Ordinal)).Reverse().ToList())
            Shell.Run("umount", $"-l {mount}", check: false);
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var left = Cgroups().ToList();
            if (left.Count == 0) break;
            foreach (var (dir, _, _) in left)
            {
                foreach (var pid in ReadPids(dir)) Kill(pid);
                try { Directory.Delete(dir); } catch (IOException) { }
            }
            Thread.Sleep(100);
        }
    }

    private static void Kill(int pid)
    {
        try { System.Diagnostics.Process.GetProcessById(pid).Kill(); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
    }
}
