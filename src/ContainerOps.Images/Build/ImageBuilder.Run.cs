using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Images.Layers;
using ContainerOps.Runtime;
using ContainerOps.Runtime.Builtin;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Spec;
using static ContainerOps.Runtime.Native.Libc.Fs;

namespace ContainerOps.Images.Build;

/// <summary>
/// RUN steps: the command (here-documents included) runs in a build container over the stage's layers, with the
/// step's <c>--mount</c>s added to its OCI spec, its <c>--network</c> and <c>--security</c>. The mounts live outside
/// the container's writable layer; the mount points the runtime had to create for them are left out of the layer.
/// </summary>
internal sealed partial class ImageBuilder
{
    /// <summary>What <c>--allow</c> may grant a build. network.host is granted anyway, as with Docker.</summary>
    public static readonly string[] Entitlements = ["security.insecure", "network.host"];

    /// <summary>A mount's source outside the context: a stage built earlier or an image (its layers).</summary>
    private sealed record LayerSource(List<string> DiffIds, string Identity, string Description);

    private sealed record PlannedMount(RunMount Mount, string? Target, LayerSource? From, string? ContextHash);

    private async Task RunStep(StageContext ctx, Instruction ins, string context, CancellationToken ct)
    {
        var state = ctx.State;
        var argv = state.RunCommand(ins, out var script);
        if (argv.Count == 0) throw DockerfileParser.Error(ins.Line, "RUN needs a command");
        var createdBy = "RUN " + (ins.Json != null ? JsonText(argv) : string.Join(' ', argv));
        if (script is { } sc) createdBy += $" <<{sc.Name}\n{sc.Text}{sc.Name}";
        var env = state.RunEnv();
        var wd = state.WorkingDir;
        var user = state.User;

        var network = ins.Flags.TryGetValue("network", out var nw) ? nw : "default";
        var insecure = ins.Flags.TryGetValue("security", out var sec) && sec == "insecure";
        if (insecure && !req.Allow.Contains("security.insecure"))
            throw DockerfileParser.Error(ins.Line, "RUN --security=insecure needs a build that allows it (--allow security.insecure)");
        var mounts = new List<PlannedMount>();
        foreach (var value in ins.Flags.All("mount"))
        {
            var m = RunMount.Parse(value, ins.Line, v => state.Words.Word(v));
            if (m.Type == RunMountType.Ssh)
                throw DockerfileParser.Error(ins.Line, "RUN --mount=type=ssh is not supported: this builder forwards no SSH agent");
            var target = m.Target is { Length: > 0 } t ? ContainerPath(t, wd) : null;
            if (target == "/") throw DockerfileParser.Error(ins.Line, "--mount: cannot mount over /");
            LayerSource? from = m.From is { Length: > 0 } f ? FromSource(f, ins.Line, "--mount from") : null;
            string? contextHash = null;
            if (m.Type == RunMountType.Bind && from == null) contextHash = ContextHash(context, m.Source, ins);
            mounts.Add(new PlannedMount(m, target, from, contextHash));
        }
        if (mounts.FirstOrDefault(p => p.Mount.Type == RunMountType.Secret && p.Mount.Required && !req.Secrets.ContainsKey(p.Mount.Id!)) is { } missing)
            throw DockerfileParser.Error(ins.Line,
                $"secret '{missing.Mount.Id}' is required but was not given to the build (--secret id={missing.Mount.Id},src=FILE)");

        // The cache key: what the step runs with. Mounts count by their options and sources, never a secret's value.
        var extra = new StringBuilder(string.Join('\n', env));
        if (ins.Flags.Count > 0) extra.Append("\nnetwork=").Append(network).Append("\nsecurity=").Append(insecure ? "insecure" : "sandbox");
        foreach (var p in mounts)
            extra.Append("\nmount ").Append(p.Mount.Describe()).Append(" at ").Append(p.Target)
                .Append(" from ").Append(p.From?.Identity ?? p.ContextHash ?? "-");
        if (script is { } s0) extra.Append("\nscript ").Append(s0.Name).Append('\n').Append(s0.Text);

        var omit = new HashSet<string>(StringComparer.Ordinal);
        await LayerStep(ctx, ins, createdBy, extra.ToString(), async (merged, id) =>
        {
            if (wd != null)
                using (var w = new RootfsWriter(merged)) Libc.close(w.MkdirAll(wd));
            var stateRoot = req.RuntimeStateRoot ?? Path.Combine(Path.GetDirectoryName(svc.BuildCacheDir)!, "build-runtime");
            var runtime = new BuiltinRuntime(req.ShimPath is { Length: > 0 } shim
                ? new RuntimeContext { StateRoot = stateRoot, ShimPath = shim }
                : new RuntimeContext { StateRoot = stateRoot });
            var cleanup = new Stack<Action>();
            // Directories that held a mount point only, and their mode and owner before the step.
            var ancestors = new Dictionary<string, (uint Mode, uint Uid, uint Gid)>(StringComparer.Ordinal);
            RuntimeStatus status;
            try
            {
                var ociMounts = new List<OciMount>();
                var secretEnv = new List<string>();
                string? privateDir = null;
                // Secrets and scripts go beside the step's bundle: gone with it, and with the runtime's state when a
                // daemon start clears what a killed build left.
                string PrivateDir()
                {
                    if (privateDir != null) return privateDir;
                    var dir = Path.Combine(stateRoot, "bundles", id, "mounts");
                    Directory.CreateDirectory(dir);
                    File.SetUnixFileMode(dir, (UnixFileMode)FileModes.Mode0700);
                    cleanup.Push(() => Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true));
                    return privateDir = dir;
                }

                if (script is { } s)
                {
                    var file = Path.Combine(PrivateDir(), "script-" + s.Name);
                    await File.WriteAllTextAsync(file, s.Text, ct);
                    File.SetUnixFileMode(file, (UnixFileMode)FileModes.Mode0755);
                    ociMounts.Add(BindMount(file, BuildState.ScriptDir + "/" + s.Name, readOnly: true));
                }
                var secrets = 0;
                foreach (var p in mounts)
                {
                    var m = p.Mount;
                    switch (m.Type)
                    {
                        case RunMountType.Bind:
                            {
                                var host = PrepareBind(p, context, cleanup, ins, ct);
                                ociMounts.Add(BindMount(host, p.Target!, m.ReadOnly));
                                break;
                            }
                        case RunMountType.Cache:
                            {
                                var host = await PrepareCache(p, context, cleanup, ins, ct);
                                ociMounts.Add(BindMount(host, p.Target!, m.ReadOnly));
                                break;
                            }
                        case RunMountType.Tmpfs:
                            ociMounts.Add(new OciMount
                            {
                                Destination = p.Target!, Type = "tmpfs", Source = "tmpfs",
                                Options = m.Size > 0 ? ["nosuid", "nodev", "size=" + m.Size] : ["nosuid", "nodev"],
                            });
                            break;
                        case RunMountType.Secret:
                            {
                                if (!req.Secrets.TryGetValue(m.Id!, out var secret)) continue; // not required: no mount
                                if (m.Env is { Length: > 0 } envName) secretEnv.Add(envName + "=" + Encoding.UTF8.GetString(secret));
                                if (p.Target == null) continue;
                                var file = Path.Combine(PrivateDir(), "secret-" + secrets++);
                                await File.WriteAllBytesAsync(file, secret, ct);
                                Libc.fchownat(AT_FDCWD, file, (uint)m.Uid, (uint)m.Gid, AT_SYMLINK_NOFOLLOW);
                                File.SetUnixFileMode(file, (UnixFileMode)(m.Mode ?? Convert.ToInt32("400", 8)));
                                ociMounts.Add(BindMount(file, p.Target, readOnly: true));
                                break;
                            }
                    }
                    if (p.Target != null) PlanMountPoint(merged, p.Target, omit, ancestors);
                }

                var spec = SpecBuilder.Build(new ContainerSpecInput
                {
                    Id = id, RootfsPath = merged, Args = argv, Env = secretEnv.Count > 0 ? [.. env, .. secretEnv] : env, WorkingDir = wd, User = user,
                    HostConfig = new HostConfig
                    {
                        NetworkMode = network switch { "none" => "none", "host" => "host", _ => req.NetworkMode },
                        Privileged = insecure,
                    },
                    CgroupParent = req.CgroupParent,
                });
                spec.Mounts.AddRange(ociMounts);
                status = await RunContainer(runtime, stateRoot, id, spec, ins, ct);
            }
            finally
            {
                while (cleanup.Count > 0)
                    try { cleanup.Pop()(); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or ContainerOpsException) { }
            }
            if (status.ExitCode != 0 || status.Signal != 0)
            {
                var code = status.ExitCode != 0 ? status.ExitCode : 128 + status.Signal;
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "BuildStepFailed", $"{StepLabel(ins)} exited with code {code}", ins.Line.ToString());
            }
            // A directory the step did not change but for a mount point in it (copied up by the overlay) stays out too.
            var upper = svc.ContainerUpperDir(id);
            foreach (var (rel, before) in ancestors)
                if (LayerWriter.Native.LStat(Path.Combine(upper, rel), out var st) && (st.Mode & S_IFMT) == S_IFDIR
                    && (st.Mode & 0xFFF) == before.Mode && st.Uid == before.Uid && st.Gid == before.Gid)
                    omit.Add(rel);
        }, emptyIsMetadata: false, ct, runsContainer: true, omit);
    }

    /// <summary>Runs the build container to its end, reporting its output; removes it and its bundle.</summary>
    private async Task<RuntimeStatus> RunContainer(BuiltinRuntime runtime, string stateRoot, string id, OciSpec spec, Instruction ins, CancellationToken ct)
    {
        var bundle = Path.Combine(stateRoot, "bundles", id);
        var log = Path.Combine(bundle, "log.json");
        SpecBuilder.WriteBundle(bundle, spec);
        var started = false;
        try
        {
            await runtime.RunAsync(new RunOptions { Id = id, BundlePath = bundle, LogPath = log }, ct);
            started = true;
            CrashPoint.Hit("build-step-running");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(req.StepTimeout);
            var wait = runtime.WaitAsync(id, timeout.Token);
            var reader = new LogPump(log, (text, stream) => Report(BuildProgressKind.Output, text, stream));
            while (!wait.IsCompleted)
            {
                await Task.WhenAny(wait, Task.Delay(100, CancellationToken.None));
                reader.Pump();
            }
            try { return await wait; }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "BuildStepTimeout",
                    $"{StepLabel(ins)} did not finish within {req.StepTimeout}", ins.Line.ToString());
            }
            finally
            {
                reader.Pump();
                reader.Flush();
            }
        }
        finally
        {
            if (started || Directory.Exists(Path.Combine(stateRoot, id)))
                try { await runtime.DeleteAsync(id, force: true, CancellationToken.None); } catch (ContainerOpsException) { }
            try { Directory.Delete(bundle, recursive: true); } catch (IOException) { }
        }
    }

    private static OciMount BindMount(string source, string destination, bool readOnly) => new()
    {
        Destination = destination, Type = "bind", Source = source,
        Options = readOnly ? ["rbind", "rprivate", "ro"] : ["rbind", "rprivate"],
    };

    /// <summary>A JSON array of strings, as history shows the exec form.</summary>
    private static string JsonText(IEnumerable<string> items) =>
        new JsonArray(items.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()).ToJsonString();

    /// <summary>An absolute, clean container path: relative ones start at WORKDIR; '..' stops at the root.</summary>
    private static string ContainerPath(string path, string? workingDir) => Core.IO.ContainerPaths.Clean(path, workingDir);

    /// <summary>A stage built before (by name or index) or an image, for <c>COPY --from</c> and <c>--mount from=</c>.</summary>
    private LayerSource FromSource(string from, int line, string what)
    {
        var stage = _df.Stages.FirstOrDefault(s => _results.ContainsKey(s.Index)
            && (string.Equals(s.Name, from, StringComparison.OrdinalIgnoreCase) || s.Index.ToString() == from));
        if (stage != null)
        {
            var diffIds = _results[stage.Index].DiffIds.ToList();
            return new LayerSource(diffIds, "stage:" + string.Join(',', diffIds), $"stage '{from}'");
        }
        try
        {
            var img = svc.BuildBase(from);
            return new LayerSource(img.DiffIds, "image:" + img.Id, $"image '{from}'");
        }
        catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound)
        {
            throw DockerfileParser.Error(line, $"{what}={from}: no such stage or image");
        }
    }

    /// <summary>The content hash of what a mount takes from the build context (.dockerignore applied).</summary>
    private string ContextHash(string context, string? source, Instruction ins)
    {
        try
        {
            return "context:" + CopyPlan.Create(new CopyPlan.Options
            {
                SourceRoot = context, Ignore = _ignore, Sources = [source is { Length: > 0 } s ? s : "."], Dest = "/", KeepSourceOwner = true,
            }).ContentHash;
        }
        catch (ContainerOpsException e) when (e.Error.Id is "CopySourceNotFound" or "CopyOutsideContext")
        {
            throw DockerfileParser.Error(ins.Line, $"--mount source: {e.Message}");
        }
    }

    /// <summary>A new directory under the build's scratch space, deleted by <paramref name="cleanup"/>.</summary>
    private string ScratchDir(Stack<Action> cleanup)
    {
        var dir = Path.Combine(svc.BuildTmpDir, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        cleanup.Push(() => Snapshots.SnapshotStore.DeleteTree(dir)); // refuses to delete through a mount left there
        return dir;
    }

    /// <summary>The root a mount's source lies in: the context, or the layers of a stage or image mounted for the
    /// step (removed by <paramref name="cleanup"/>).</summary>
    private string SourceRoot(LayerSource? from, string context, Stack<Action> cleanup)
    {
        if (from == null) return context;
        var mountId = "buildsrc-" + Guid.NewGuid().ToString("N")[..12];
        cleanup.Push(() => svc.RemoveBuildContainer(mountId));
        return svc.MountBuildContainer(mountId, from.DiffIds);
    }

    /// <summary>The host path a bind mount shows. Nothing the step writes reaches the context or the stage: read-only
    /// unless rw, and then the writes go to an overlay (or a copy) thrown away after the step. From the context, files
    /// .dockerignore leaves out are not there.</summary>
    private string PrepareBind(PlannedMount p, string context, Stack<Action> cleanup, Instruction ins, CancellationToken ct)
    {
        var m = p.Mount;
        var root = SourceRoot(p.From, context, cleanup);
        var source = m.Source is { Length: > 0 } s ? s : "/";
        string host, rootHost;
        using (var w = new RootfsWriter(root))
        {
            rootHost = w.HostPath("/")!;
            host = w.HostPath(source) ?? throw DockerfileParser.Error(ins.Line,
                $"--mount source '{source}' not found in {(p.From?.Description ?? "the build context")}");
        }
        var isFile = !Directory.Exists(host);
        if (p.From != null) return host; // a stage's layers: the build container's overlay takes the writes
        var rel = host.Length > rootHost.Length ? host[(rootHost.Length + 1)..] : "";
        if (rel.Length > 0 && _ignore.IsExcluded(rel))
            throw DockerfileParser.Error(ins.Line, $"--mount source '{source}' not found in the build context (.dockerignore leaves it out)");
        if (isFile)
        {
            if (m.ReadOnly) return host;
            var copy = Path.Combine(ScratchDir(cleanup), Path.GetFileName(host));
            File.Copy(host, copy);
            return copy;
        }
        if (!_ignore.IsEmpty || host.IndexOfAny([',', ':', '\\']) >= 0)
        {
            // A copy of what the context has there, without what .dockerignore leaves out.
            var dir = ScratchDir(cleanup);
            var plan = CopyPlan.Create(new CopyPlan.Options
            {
                SourceRoot = context, Ignore = _ignore, Sources = [rel.Length == 0 ? "." : rel], Dest = "/", KeepSourceOwner = true,
            });
            using (var w = new RootfsWriter(dir)) plan.Apply(w, ct);
            return dir;
        }
        if (m.ReadOnly) return host;
        var scratch = ScratchDir(cleanup);
        foreach (var d in new[] { "upper", "work", "merged" }) Directory.CreateDirectory(Path.Combine(scratch, d));
        var mergedDir = Path.Combine(scratch, "merged");
        var data = $"lowerdir={host},upperdir={Path.Combine(scratch, "upper")},workdir={Path.Combine(scratch, "work")}";
        if (Libc.mount("overlay", mergedDir, "overlay", 0, data) != 0)
        {
            var e = Marshal.GetLastPInvokeError();
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "MountFailed", $"{StepLabel(ins)}: overlay over the context for --mount: {Libc.StrError(e)}", host);
        }
        cleanup.Push(() => Libc.umount2(mergedDir, MNT_DETACH));
        return mergedDir;
    }

    /// <summary>The host directory of a cache mount, held (per its sharing) until <paramref name="cleanup"/> runs.
    /// A new cache starts empty, or with what <c>from</c> has at <c>source</c>; without <c>from</c>, <c>source</c> is
    /// a directory inside the cache.</summary>
    private async Task<string> PrepareCache(PlannedMount p, string context, Stack<Action> cleanup, Instruction ins, CancellationToken ct)
    {
        var m = p.Mount;
        var lease = await new CacheMountStore(svc.CacheMountsDir).AcquireAsync(m.Id!, m.Sharing, m.Mode ?? FileModes.Mode0755, m.Uid, m.Gid, ct);
        cleanup.Push(lease.Dispose);
        if (m.From is { Length: > 0 })
        {
            if (lease.Created)
            {
                var root = SourceRoot(p.From, context, cleanup);
                var plan = CopyPlan.Create(new CopyPlan.Options
                {
                    SourceRoot = root, Ignore = p.From == null ? _ignore : DockerIgnore.Empty,
                    Sources = [m.Source is { Length: > 0 } s ? s : "."], Dest = "/", KeepSourceOwner = true,
                });
                using var w = new RootfsWriter(lease.Dir);
                plan.Apply(w, ct);
            }
            return lease.Dir;
        }
        if (m.Source is not { Length: > 0 } sub) return lease.Dir;
        using (var w = new RootfsWriter(lease.Dir))
        {
            Libc.close(w.MkdirAll(sub, m.Uid, m.Gid));
            return w.HostPath(sub) ?? throw DockerfileParser.Error(ins.Line, $"--mount source '{sub}' is not a directory in the cache");
        }
    }

    /// <summary>Notes which components of <paramref name="target"/> the runtime will have to create as a mount point
    /// (they go to <paramref name="omit"/>), and the mode and owner of the existing directories above them.</summary>
    private static void PlanMountPoint(string merged, string target, HashSet<string> omit, Dictionary<string, (uint, uint, uint)> ancestors)
    {
        var parts = RootfsWriter.Split(target);
        using var root = new RootfsWriter(merged);
        var rootHost = root.HostPath("/")!;
        var k = parts.Length;
        string? host = null;
        for (; k >= 0; k--)
            if ((host = root.HostPath("/" + string.Join('/', parts, 0, k))) != null) break;
        if (host == null || k == parts.Length) return; // it exists: the mount needs no new mount point
        var rel = host.Length > rootHost.Length ? host[(rootHost.Length + 1)..] : "";
        for (var a = rel; a.Length > 0; a = a.Contains('/') ? a[..a.LastIndexOf('/')] : "")
            if (!ancestors.ContainsKey(a) && LayerWriter.Native.LStat(Path.Combine(rootHost, a), out var st))
                ancestors[a] = (st.Mode & 0xFFF, st.Uid, st.Gid);
        var cur = rel;
        for (var j = k; j < parts.Length; j++)
        {
            cur = cur.Length == 0 ? parts[j] : cur + "/" + parts[j];
            omit.Add(cur);
        }
    }
}
