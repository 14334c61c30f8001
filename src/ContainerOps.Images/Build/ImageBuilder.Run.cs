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
/// RUN steps: the command (here-documents included) runs in a build container over the stage's layers; a
/// here-document that is a program of its own (<c>#!</c>) is bind-mounted read-only into /dev/pipes for the step.
/// </summary>
internal sealed partial class ImageBuilder
{
    /// <summary>A source outside the context: a stage built earlier or an image (its layers).</summary>
    private sealed record LayerSource(List<string> DiffIds, string Identity, string Description);

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

        // The script of a #! here-document is part of what the step runs.
        var extra = new StringBuilder(string.Join('\n', env));
        if (script is { } s0) extra.Append("\nscript ").Append(s0.Name).Append('\n').Append(s0.Text);

        await LayerStep(ctx, ins, createdBy, extra.ToString(), async (merged, id) =>
        {
            if (wd != null)
                using (var w = new RootfsWriter(merged)) Libc.close(w.MkdirAll(wd));
            var stateRoot = req.RuntimeStateRoot ?? Path.Combine(Path.GetDirectoryName(svc.BuildCacheDir)!, "build-runtime");
            var runtime = new BuiltinRuntime(req.ShimPath is { Length: > 0 } shim
                ? new RuntimeContext { StateRoot = stateRoot, ShimPath = shim }
                : new RuntimeContext { StateRoot = stateRoot });
            var cleanup = new Stack<Action>();
            RuntimeStatus status;
            try
            {
                var ociMounts = new List<OciMount>();
                string? privateDir = null;
                string PrivateDir()
                {
                    if (privateDir != null) return privateDir;
                    var dir = Path.Combine(stateRoot, "mounts", id);
                    Directory.CreateDirectory(dir);
                    File.SetUnixFileMode(dir, (UnixFileMode)FileModes.Mode0700);
                    cleanup.Push(() => Directory.Delete(dir, recursive: true));
                    return privateDir = dir;
                }

                if (script is { } s)
                {
                    var file = Path.Combine(PrivateDir(), "script-" + s.Name);
                    await File.WriteAllTextAsync(file, s.Text, ct);
                    File.SetUnixFileMode(file, (UnixFileMode)FileModes.Mode0755);
                    ociMounts.Add(BindMount(file, BuildState.ScriptDir + "/" + s.Name, readOnly: true));
                }
                var spec = SpecBuilder.Build(new ContainerSpecInput
                {
                    Id = id, RootfsPath = merged, Args = argv, Env = env, WorkingDir = wd, User = user,
                    HostConfig = new HostConfig { NetworkMode = req.NetworkMode }, CgroupParent = req.CgroupParent,
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
        }, emptyIsMetadata: false, ct, runsContainer: true);
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

    /// <summary>A stage built before (by name or index) or an image, for <c>COPY --from</c>.</summary>
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
}
