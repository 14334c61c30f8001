using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;
using ContainerOps.Images.Config;
using ContainerOps.Images.References;
using ContainerOps.Runtime;
using ContainerOps.Runtime.Builtin;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Images.Build;

/// <summary>
/// Runs a Dockerfile build: the stages the target needs, in order; metadata instructions change the config and add
/// an empty-layer history entry; RUN, COPY and ADD run in a build container (overlay over the current layers) whose
/// upper dir becomes the step's layer. Layer steps are cached by parent (layers + config), instruction and the
/// content of copied files. A failing step leaves no image, no container layer and no mount.
/// </summary>
internal sealed partial class ImageBuilder(ImageService svc, BuildRequest req, IProgress<BuildProgress>? progress)
{
    private int _step;
    private int _total;
    private Dockerfile _df = null!;
    private DockerIgnore _ignore = DockerIgnore.Empty;
    private readonly Dictionary<int, StageContext> _results = new();
    private readonly HashSet<string> _usedArgs = new(StringComparer.Ordinal);
    private Dictionary<string, string?> _globals = new();

    /// <summary>The state of a stage being built: config (in <see cref="State"/>), layers and history.</summary>
    private sealed class StageContext
    {
        public required BuildState State { get; init; }
        public List<string> DiffIds { get; init; } = new();
        public List<(string Digest, long Size)> Layers { get; init; } = new();
        public JsonArray History { get; init; } = new();
        public JsonObject BaseDoc { get; init; } = new();
    }

    public async Task<ImageSummary> RunAsync(CancellationToken ct)
    {
        var names = req.Tags.Select(t =>
        {
            var r = ImageReference.Parse(t, "tags");
            if (r.DigestValue != null) throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidReference", $"cannot tag as '{t}': a tag cannot include a digest", t, "tags");
            return r.ToString();
        }).ToList();
        CheckPlatform(req.Platform, null);
        foreach (var a in req.Allow)
            if (!Entitlements.Contains(a))
                throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnknownEntitlement",
                    $"unknown entitlement '{a}' for --allow (known: {string.Join(", ", Entitlements)})", a, "Allow");
        var context = Path.GetFullPath(req.ContextDir);
        if (!Directory.Exists(context))
            throw new ContainerOpsException(ErrorKind.NotFound, "BuildContextNotFound", $"build context '{req.ContextDir}' is not a directory", req.ContextDir, "ContextDir");
        var dfPath = req.Dockerfile is { Length: > 0 } f ? (Path.IsPathRooted(f) ? f : Path.Combine(context, f)) : Path.Combine(context, "Dockerfile");
        if (!File.Exists(dfPath))
            throw new ContainerOpsException(ErrorKind.NotFound, "DockerfileNotFound", $"Dockerfile '{dfPath}' not found", dfPath, "Dockerfile");
        _df = DockerfileParser.Parse(await File.ReadAllTextAsync(dfPath, ct));
        _ignore = DockerIgnore.Load(context);
        _globals = BuildState.EvaluateGlobalArgs(_df.GlobalArgs, req.BuildArgs, _df.Escape, _usedArgs);

        var target = req.Target is { Length: > 0 } t1
            ? _df.FindStage(t1) ?? throw new ContainerOpsException(ErrorKind.InvalidArgument, "TargetNotFound", $"target stage '{t1}' could not be found", t1, "Target")
            : _df.Stages[^1];
        var stages = Needed(target);
        _total = stages.Sum(s => 1 + s.Instructions.Count);

        foreach (var stage in stages)
            _results[stage.Index] = await BuildStage(stage, context, ct);

        var final = _results[target.Index];
        var doc = final.BaseDoc.DeepClone().AsObject();
        var config = final.State.Config;
        if (req.Labels.Count > 0)
        {
            var labels = config["Labels"] as JsonObject ?? new JsonObject();
            foreach (var (k, v) in req.Labels) labels[k] = v;
            config["Labels"] = labels;
        }
        doc["config"] = config.DeepClone();
        doc["created"] = ImageTime.Now();
        if (final.State.Author != null) doc["author"] = final.State.Author;
        doc["history"] = final.History.DeepClone();
        if (!req.NoCache) KeepTimesOfSameBuild(doc, final.DiffIds);
        var unused = req.BuildArgs.Keys.Where(k => !_usedArgs.Contains(k) && !BuildState.PlatformArgs.ContainsKey(k)).ToList();
        if (unused.Count > 0)
            Report(BuildProgressKind.Warning, $"[Warning] one or more build-args [{string.Join(' ', unused)}] were not consumed");
        var summary = svc.StoreBuiltImage(doc, final.DiffIds, final.Layers, names);
        Report(BuildProgressKind.Done, $"Successfully built {summary.Id}" + (names.Count > 0 ? " (" + string.Join(", ", names) + ")" : ""));
        return summary;
    }

    /// <summary>A rebuild that changes nothing (the same layers and the same config and history but for their times)
    /// gives the same image, as every step came from the cache: the times of the first such build are kept in the build
    /// cache and used again, so the config, and with it the image ID, is the same bytes.</summary>
    private void KeepTimesOfSameBuild(JsonObject doc, List<string> diffIds)
    {
        var bare = doc.DeepClone().AsObject();
        bare.Remove("created");
        var history = bare["history"] as JsonArray ?? new JsonArray();
        foreach (var h in history.OfType<JsonObject>()) h.Remove("created");
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(',', diffIds) + "\n" + bare.ToJsonString())));
        var file = Path.Combine(svc.BuildCacheDir, "image-" + key + ".json");
        var entries = (doc["history"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        try
        {
            if (File.Exists(file) && JsonNode.Parse(File.ReadAllText(file)) is JsonObject kept
                && kept["created"] is JsonValue created && kept["history"] is JsonArray times && times.Count == entries.Count)
            {
                doc["created"] = created.GetValue<string>();
                for (var i = 0; i < entries.Count; i++)
                    if (times[i] is JsonValue t) entries[i]["created"] = t.GetValue<string>();
                return;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or IOException) { }
        Directory.CreateDirectory(svc.BuildCacheDir);
        var record = new JsonObject
        {
            ["created"] = doc["created"]?.DeepClone(),
            ["history"] = new JsonArray(entries.Select(h => h["created"]?.DeepClone()).ToArray()),
        };
        AtomicFile.WriteAllText(file, record.ToJsonString());
    }

    private void Report(BuildProgressKind kind, string message, string? stream = null) =>
        progress?.Report(new BuildProgress(kind, _step, _total, message, stream));

    private static void CheckPlatform(string? platform, int? line)
    {
        if (platform is null or "") return;
        var p = platform.ToLowerInvariant();
        if (p is "linux" or "linux/amd64" or "linux/amd64/v1" or "linux/x86_64") return;
        var msg = $"platform '{platform}' is not supported: this builder makes linux/amd64 images only";
        throw line is { } l ? DockerfileParser.Error(l, msg) : new ContainerOpsException(ErrorKind.InvalidArgument, "UnsupportedPlatform", msg, platform, "Platform");
    }

    /// <summary>The target and the stages it depends on (FROM another stage, COPY --from), in file order.</summary>
    private List<Stage> Needed(Stage target)
    {
        var need = new HashSet<int>();
        var todo = new Stack<Stage>();
        todo.Push(target);
        while (todo.Count > 0)
        {
            var s = todo.Pop();
            if (!need.Add(s.Index)) continue;
            var baseName = BuildState.ExpandFrom(s.Base, _globals, _df.Escape, s.From.Line);
            if (EarlierStage(baseName, s.Index) is { } b) todo.Push(b);
            foreach (var ins in s.Instructions)
            {
                if (ins.Keyword is "COPY" or "ADD" && ins.Flags.TryGetValue("from", out var from) && EarlierStage(BuildState.ExpandFrom(from, _globals, _df.Escape, ins.Line), s.Index) is { } d)
                    todo.Push(d);
                // RUN --mount=from=<stage> (bind or cache) needs that stage built first.
                if (ins.Keyword == "RUN")
                    foreach (var value in ins.Flags.All("mount"))
                        if (RunMount.Parse(value, ins.Line, expand: null).From is { Length: > 0 } mf
                            && EarlierStage(BuildState.ExpandFrom(mf, _globals, _df.Escape, ins.Line), s.Index) is { } m)
                            todo.Push(m);
            }
        }
        return _df.Stages.Where(s => need.Contains(s.Index)).ToList();
    }

    private Stage? EarlierStage(string name, int before)
    {
        var s = _df.Stages.FirstOrDefault(x => x.Index < before && string.Equals(x.Name, name, StringComparison.OrdinalIgnoreCase));
        if (s != null) return s;
        return int.TryParse(name, out var i) && i >= 0 && i < before ? _df.Stages[i] : null;
    }

    // ---------------- stages ----------------

    private async Task<StageContext> BuildStage(Stage stage, string context, CancellationToken ct)
    {
        _step++;
        var from = stage.From;
        if (from.Flags.TryGetValue("platform", out var platform))
            CheckPlatform(BuildState.ExpandFrom(platform, _globals, _df.Escape, from.Line), from.Line);
        var baseName = BuildState.ExpandFrom(stage.Base, _globals, _df.Escape, from.Line);
        Report(BuildProgressKind.Step, $"Step {_step}/{_total} : FROM {baseName}" + (stage.Name != null ? " AS " + stage.Name : ""));
        if (baseName.Length == 0) throw DockerfileParser.Error(from.Line, "FROM needs an image name");

        JsonObject doc;
        List<string> diffIds;
        List<(string, long)> layers;
        if (EarlierStage(baseName, stage.Index) is { } prev)
        {
            var p = _results[prev.Index];
            doc = p.BaseDoc.DeepClone().AsObject();
            doc["config"] = p.State.Config.DeepClone();
            doc["history"] = p.History.DeepClone();
            if (p.State.Author != null) doc["author"] = p.State.Author;
            diffIds = p.DiffIds.ToList();
            layers = p.Layers.ToList();
        }
        else if (baseName.Equals("scratch", StringComparison.OrdinalIgnoreCase))
        {
            doc = new JsonObject { ["architecture"] = "amd64", ["os"] = "linux", ["config"] = new JsonObject(), ["history"] = new JsonArray() };
            diffIds = [];
            layers = [];
        }
        else
        {
            ImageService.BuiltImage img;
            try { img = svc.BuildBase(baseName); }
            catch (ContainerOpsException e) when (e.Error.Kind == ErrorKind.NotFound)
            {
                throw new ContainerOpsException(ErrorKind.NotFound, "ImageNotFound", $"Dockerfile line {from.Line}: base image '{baseName}' not found: {e.Message}", baseName, inner: e);
            }
            doc = img.ConfigDoc;
            diffIds = img.DiffIds;
            layers = img.Layers;
        }
        var state = new BuildState { Escape = _df.Escape, BuildArgs = req.BuildArgs, GlobalArgs = _globals };
        var triggers = (doc["config"]?["OnBuild"] as JsonArray)?.Select(n => n?.GetValue<string>() ?? "").Where(s => s.Length > 0).ToList() ?? [];
        state.Inherit(doc["config"] as JsonObject);
        if (doc["config"]?["Shell"] is JsonArray sh && sh.Count > 0)
            state.ApplyMetadata(DockerfileParser.ParseInstruction("SHELL " + sh.ToJsonString(), from.Line, _df.Escape));
        state.Author = doc["author"]?.GetValue<string>();
        var ctx = new StageContext
        {
            State = state, DiffIds = diffIds, Layers = layers, History = doc["history"] as JsonArray ?? new JsonArray(), BaseDoc = doc,
        };
        doc.Remove("history");

        foreach (var trigger in triggers)
        {
            var ins = DockerfileParser.ParseTrigger(trigger, from.Line, _df.Escape);
            Report(BuildProgressKind.Step, $"# Executing ONBUILD trigger: {trigger}");
            await Execute(ctx, ins, context, ct);
        }
        foreach (var ins in stage.Instructions)
        {
            _step++;
            Report(BuildProgressKind.Step, $"Step {_step}/{_total} : {ins.Original}");
            ct.ThrowIfCancellationRequested();
            await Execute(ctx, ins, context, ct);
        }
        _usedArgs.UnionWith(state.UsedBuildArgs);
        return ctx;
    }

    private async Task Execute(StageContext ctx, Instruction ins, string context, CancellationToken ct)
    {
        switch (ins.Keyword)
        {
            case "RUN":
                await RunStep(ctx, ins, context, ct);
                break;
            case "COPY" or "ADD":
                await CopyStep(ctx, ins, context, ct);
                break;
            case "WORKDIR":
                ctx.State.ApplyMetadata(ins);
                var wd = ctx.State.WorkingDir ?? "/";
                await LayerStep(ctx, ins, "WORKDIR " + wd, cacheExtra: null, (merged, _) =>
                {
                    using var w = new RootfsWriter(merged);
                    Libc.close(w.MkdirAll(wd));
                    return Task.CompletedTask;
                }, emptyIsMetadata: true, ct);
                break;
            default:
                var createdBy = ctx.State.ApplyMetadata(ins);
                AddHistory(ctx, createdBy, empty: true);
                break;
        }
    }

    private static void AddHistory(StageContext ctx, string createdBy, bool empty, string? comment = null)
    {
        var h = new JsonObject { ["created"] = ImageTime.Now(), ["created_by"] = createdBy };
        if (comment != null) h["comment"] = comment;
        if (empty) h["empty_layer"] = true;
        ctx.History.Add((JsonNode)h);
    }

    // ---------------- layer steps ----------------

    private string StepLabel(Instruction ins) => $"step {_step}/{_total} (line {ins.Line}) `{Shorten(ins.Original)}`";

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";

    /// <summary>Runs <paramref name="action"/> in a build container over the stage's layers and turns the changes into a
    /// layer (or reuses the cached one). <paramref name="cacheExtra"/> null: not cached.
    /// <paramref name="omit"/>: paths the action adds while it runs that stay out of the layer (mount points).</summary>
    private async Task LayerStep(StageContext ctx, Instruction ins, string createdBy, string? cacheExtra,
        Func<string, string, Task> action, bool emptyIsMetadata, CancellationToken ct, bool runsContainer = false, IReadOnlySet<string>? omit = null)
    {
        string? key = null;
        if (cacheExtra != null)
        {
            key = CacheKey(ctx, createdBy, cacheExtra);
            if (!req.NoCache && ReadCache(key) is { } cached && svc.TryReuseLayer(ctx.DiffIds, cached.DiffId, ct))
            {
                Report(BuildProgressKind.CacheHit, " ---> Using cache");
                ctx.DiffIds.Add(cached.DiffId);
                ctx.Layers.Add((cached.DiffId, cached.Size));
                AddHistory(ctx, createdBy, empty: false);
                return;
            }
        }
        var id = "build-" + Guid.NewGuid().ToString("N")[..12];
        try
        {
            var merged = svc.MountBuildContainer(id, ctx.DiffIds);
            await action(merged, id);
            svc.UnmountBuildContainer(id);
            var upper = svc.ContainerUpperDir(id);
            if (emptyIsMetadata && !Directory.EnumerateFileSystemEntries(upper).Any())
            {
                AddHistory(ctx, createdBy, empty: true);
                return;
            }
            var layer = svc.StoreLayer(upper, ctx.DiffIds, ct, fromContainer: runsContainer, omit);
            if (key != null) WriteCache(key, layer.DiffId, layer.Size, Snapshots.ChainId.For(ctx.DiffIds.Append(layer.DiffId)).Last());
            ctx.DiffIds.Add(layer.DiffId);
            ctx.Layers.Add((layer.Digest, layer.Size));
            AddHistory(ctx, createdBy, empty: false);
        }
        finally
        {
            svc.RemoveBuildContainer(id);
        }
    }

    private static string CacheKey(StageContext ctx, string createdBy, string extra)
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(',', ctx.DiffIds)).Append('\n');
        sb.Append(ctx.State.Config.ToJsonString()).Append('\n');
        sb.Append(createdBy).Append('\n').Append(extra);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private sealed record CacheEntry(string DiffId, long Size);

    private CacheEntry? ReadCache(string key)
    {
        var f = Path.Combine(svc.BuildCacheDir, key + ".json");
        if (!File.Exists(f)) return null;
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(f))!;
            return new CacheEntry(o["diffId"]!.GetValue<string>(), o["size"]!.GetValue<long>());
        }
        catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException or IOException) { return null; }
    }

    private void WriteCache(string key, string diffId, long size, string chainId)
    {
        Directory.CreateDirectory(svc.BuildCacheDir);
        AtomicFile.WriteAllText(Path.Combine(svc.BuildCacheDir, key + ".json"),
            new JsonObject { ["diffId"] = diffId, ["size"] = size, ["chainId"] = chainId }.ToJsonString());
    }

    // ---------------- RUN (ImageBuilder.Run.cs) ----------------

    /// <summary>Follows a json-file log as it grows and reports each line.</summary>
    private sealed class LogPump(string path, Action<string, string> report)
    {
        private long _offset;
        private readonly StringBuilder _partial = new();

        public void Pump()
        {
            if (!File.Exists(path)) return;
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (f.Length <= _offset) return;
            f.Seek(_offset, SeekOrigin.Begin);
            var buf = new byte[f.Length - _offset];
            var n = f.Read(buf, 0, buf.Length);
            _offset += n;
            _partial.Append(Encoding.UTF8.GetString(buf, 0, n));
            var text = _partial.ToString();
            var last = text.LastIndexOf('\n');
            if (last < 0) return;
            _partial.Clear().Append(text[(last + 1)..]);
            foreach (var line in text[..last].Split('\n', StringSplitOptions.RemoveEmptyEntries)) Emit(line);
        }

        public void Flush()
        {
            if (_partial.Length > 0) Emit(_partial.ToString());
            _partial.Clear();
        }

        private void Emit(string line)
        {
            try
            {
                var o = JsonNode.Parse(line);
                report(o?["log"]?.GetValue<string>() ?? "", o?["stream"]?.GetValue<string>() ?? "stdout");
            }
            catch (JsonException) { report(line + "\n", "stdout"); }
        }
    }

    // ---------------- COPY / ADD ----------------

    private async Task CopyStep(StageContext ctx, Instruction ins, string context, CancellationToken ct)
    {
        var state = ctx.State;
        var isAdd = ins.Keyword == "ADD";
        foreach (var k in ins.Flags.Keys)
            if (k is not ("from" or "chown" or "chmod" or "link" or "keep-git-dir" or "checksum"))
                throw DockerfileParser.Error(ins.Line, $"unknown flag for {ins.Keyword}: --{k}");
        // Here-documents are sources of their own (files named after them); the other words are as usual.
        var argsText = ins.Heredocs.Count == 0 ? ins.Args : string.Join(' ', DockerfileParser.RawWords(ins.Args, _df.Escape)
            .Select(w => w.Word).Where(w => !ins.Heredocs.Any(h => h.Token == w)));
        List<string> words;
        try { words = ins.Json?.Select(j => state.Words.Word(j)).ToList() ?? state.Words.Words(argsText); }
        catch (FormatException e) { throw DockerfileParser.Error(ins.Line, e.Message); }
        if (words.Count + ins.Heredocs.Count < 2 || words.Count == 0)
            throw DockerfileParser.Error(ins.Line, $"{ins.Keyword} requires at least two arguments: source(s) and destination");
        var sources = words[..^1];
        var dest = words[^1];
        if (sources.Count + ins.Heredocs.Count > 1 && !dest.EndsWith('/')) dest += "/";
        string? chown = ins.Flags.TryGetValue("chown", out var co) ? state.Words.Word(co) : null;
        int? chmod = null;
        if (ins.Flags.TryGetValue("chmod", out var cm))
        {
            try { chmod = Convert.ToInt32(cm, 8); }
            catch (FormatException) { throw DockerfileParser.Error(ins.Line, $"invalid --chmod '{cm}': use an octal mode"); }
        }

        string? sourceMountId = null;
        string? tempDir = null;
        string? heredocDir = null;
        try
        {
            if (ins.Heredocs.Count > 0)
            {
                heredocDir = Path.Combine(svc.BuildTmpDir, Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(heredocDir);
                foreach (var h in ins.Heredocs)
                {
                    if (h.Name.Contains('/') || h.Name is "." or "..")
                        throw DockerfileParser.Error(ins.Line, $"here-document name '{h.Name}' cannot be a file name");
                    string body;
                    try { body = h.Expand ? state.Words.Heredoc(h.Body) : h.Body; }
                    catch (FormatException e) { throw DockerfileParser.Error(ins.Line, $"<<{h.Name}: {e.Message}"); }
                    var file = Path.Combine(heredocDir, h.Name);
                    await File.WriteAllTextAsync(file, body, ct);
                    File.SetUnixFileMode(file, (UnixFileMode)FileModes.Mode0644);
                }
            }
            string sourceRoot = context;
            var keepOwner = false;
            var ignore = _ignore;
            var extract = isAdd;
            string sourceIdentity = "context";
            if (ins.Flags.TryGetValue("from", out var fromRaw))
            {
                if (isAdd) throw DockerfileParser.Error(ins.Line, "ADD does not support --from; use COPY --from");
                var from = FromSource(state.Words.Word(fromRaw), ins.Line, "--from");
                sourceIdentity = from.Identity;
                sourceMountId = "buildsrc-" + Guid.NewGuid().ToString("N")[..12];
                sourceRoot = svc.MountBuildContainer(sourceMountId, from.DiffIds);
                keepOwner = true;
                ignore = DockerIgnore.Empty;
                extract = false;
            }
            else if (isAdd && sources.Any(IsUrl))
            {
                if (!sources.All(IsUrl)) throw DockerfileParser.Error(ins.Line, "ADD cannot mix URLs and local sources in one instruction");
                tempDir = Path.Combine(svc.BuildTmpDir, Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(tempDir);
                var local = new List<string>();
                foreach (var url in sources) local.Add(await Download(url, tempDir, ins, ct));
                sources = local;
                sourceRoot = tempDir;
                ignore = DockerIgnore.Empty;
                extract = false;
                sourceIdentity = "url";
            }

            // The plans: the sources named (context, stage or downloads), then the here-documents' files.
            List<CopyPlan> Plans(Func<string, bool>? destIsDir)
            {
                var plans = new List<CopyPlan>();
                if (sources.Count > 0)
                    plans.Add(CopyPlan.Create(new CopyPlan.Options
                    {
                        SourceRoot = sourceRoot, Ignore = ignore, Sources = sources, Dest = dest, WorkingDir = state.WorkingDir,
                        KeepSourceOwner = keepOwner, Chmod = chmod, ExtractArchives = extract, DestIsDirectory = destIsDir ?? (_ => false),
                    }));
                if (heredocDir != null)
                    plans.Add(CopyPlan.Create(new CopyPlan.Options
                    {
                        SourceRoot = heredocDir, Sources = ins.Heredocs.Select(h => h.Name).ToList(), Dest = dest, WorkingDir = state.WorkingDir,
                        Chmod = chmod, DestIsDirectory = destIsDir ?? (_ => false),
                    }));
                return plans;
            }
            List<CopyPlan> hashPlans;
            try { hashPlans = Plans(null); }
            catch (ContainerOpsException e) when (e.Error.Id is "CopySourceNotFound" or "CopyOutsideContext")
            {
                throw DockerfileParser.Error(ins.Line, $"{ins.Keyword} failed: {e.Message}");
            }
            var createdBy = $"{ins.Keyword} " + (chown != null ? $"--chown={chown} " : "")
                + string.Join(' ', sources.Concat(ins.Heredocs.Select(h => "<<" + h.Name)).Append(dest));
            var extra = sourceIdentity + "\n" + string.Join('\n', hashPlans.Select(p => p.ContentHash));
            await LayerStep(ctx, ins, createdBy, extra, (merged, _) =>
            {
                using var target = new RootfsWriter(merged);
                try
                {
                    (int, int)? owner = chown != null ? ResolveOwner(target, chown, ins) : null;
                    foreach (var plan in Plans(target.IsDirectory)) plan.Apply(target, ct, owner);
                }
                catch (ContainerOpsException e) when (!e.Message.StartsWith("Dockerfile line", StringComparison.Ordinal))
                {
                    throw new ContainerOpsException(e.Error.Kind, e.Error.Id, $"{StepLabel(ins)}: {e.Message}", e.Error.Target, inner: e);
                }
                catch (IOException e)
                {
                    throw new ContainerOpsException(ErrorKind.Internal, "BuildStepFailed", $"{StepLabel(ins)}: {e.Message}", ins.Line.ToString(), inner: e);
                }
                return Task.CompletedTask;
            }, emptyIsMetadata: false, ct);
        }
        finally
        {
            if (sourceMountId != null) svc.RemoveBuildContainer(sourceMountId);
            if (tempDir != null) try { Directory.Delete(tempDir, recursive: true); } catch (IOException) { }
            if (heredocDir != null) try { Directory.Delete(heredocDir, recursive: true); } catch (IOException) { }
        }
    }

    private static bool IsUrl(string s) => s.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || s.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static async Task<string> Download(string url, string dir, Instruction ins, CancellationToken ct)
    {
        var name = Uri.TryCreate(url, UriKind.Absolute, out var u) ? Path.GetFileName(u.AbsolutePath) : "";
        if (string.IsNullOrEmpty(name) || name is "." or "..") name = "download";
        var path = Path.Combine(dir, name);
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var resp = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!resp.IsSuccessStatusCode)
                throw new HttpRequestException($"server answered {(int)resp.StatusCode} {resp.ReasonPhrase}");
            await using (var f = File.Create(path))
                await resp.Content.CopyToAsync(f, ct);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            if (resp.Content.Headers.LastModified is { } lm) File.SetLastWriteTimeUtc(path, lm.UtcDateTime);
            return name;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException && !ct.IsCancellationRequested)
        {
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "AddDownloadFailed",
                $"Dockerfile line {ins.Line}: ADD {url}: cannot download: {e.Message}", url);
        }
    }

    /// <summary>--chown=user[:group] with names looked up in the target rootfs' /etc/passwd and /etc/group.</summary>
    private static (int, int) ResolveOwner(RootfsWriter rootfs, string spec, Instruction ins)
    {
        var parts = spec.Split(':', 2);
        int uid;
        int? gid = null;
        if (int.TryParse(parts[0], out var u)) uid = u;
        else
        {
            var entry = Lookup(rootfs, "/etc/passwd", parts[0]) ?? throw DockerfileParser.Error(ins.Line, $"--chown: user '{parts[0]}' not found in /etc/passwd");
            uid = int.Parse(entry[2]);
            gid = int.Parse(entry[3]);
        }
        if (parts.Length == 2)
        {
            if (int.TryParse(parts[1], out var g)) gid = g;
            else gid = int.Parse((Lookup(rootfs, "/etc/group", parts[1]) ?? throw DockerfileParser.Error(ins.Line, $"--chown: group '{parts[1]}' not found in /etc/group"))[2]);
        }
        return (uid, gid ?? uid);
    }

    private static string[]? Lookup(RootfsWriter rootfs, string file, string name)
    {
        var host = rootfs.HostPath(file);
        if (host == null || !File.Exists(host)) return null;
        foreach (var line in File.ReadLines(host))
        {
            var f = line.Split(':');
            if (f.Length >= 3 && f[0] == name && (file.EndsWith("group") || f.Length >= 4)) return f;
        }
        return null;
    }
}
