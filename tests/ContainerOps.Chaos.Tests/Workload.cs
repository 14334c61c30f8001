using ContainerOps.Client;
using ContainerOps.Core.Api;
using ContainerOps.TestSupport;

namespace ContainerOps.Chaos.Tests;

/// <summary>
/// The operations the workers run, and how each outcome changes the <see cref="Ledger"/>. An operation is
/// acknowledged (the API answered with success: it must hold from then on), refused (the API answered with an error:
/// nothing may have changed), or cut off (the daemon was killed while it ran: it may or may not have happened).
/// </summary>
public sealed class Workload(ChaosRun run)
{
    private const string Base = "chaos/base:1";
    private const int MaxContainers = 10;
    private const int MaxImages = 6;

    private Ledger L => run.Ledger;

    public async Task WorkerAsync(int index, CancellationToken stop)
    {
        var rng = new Random(run.Settings.Seed * 31 + index);
        while (!stop.IsCancellationRequested)
        {
            try { _epoch.Value = await run.Gate.EnterAsync(stop); }
            catch (OperationCanceledException) { return; }
            try { await OneAsync(rng); }
            catch (Exception e) { run.Anomaly($"worker {index}: {e.GetType().Name}: {e.Message}"); }
            finally { run.Gate.Exit(); }
        }
    }

    private enum Outcome { Acknowledged, Refused, CutOff }

    /// <summary>The epoch the worker's current operation entered the gate in (each worker runs one at a time).</summary>
    private readonly AsyncLocal<int> _epoch = new();

    /// <summary>Runs one API call and classifies its outcome by whether the daemon was killed while it ran: the gate closed
    /// (and a new epoch began) since the operation entered it.</summary>
    private async Task<(Outcome Outcome, ContainerOpsException? Error)> Call(string what, Func<IContainerOpsClient, CancellationToken, Task> op, TrackedContainer? subject = null)
    {
        var result = await CallCore(what, op);
        subject?.Note($"{what.Split(' ')[0]}: {result.Outcome}{(result.Error is { } e ? " (" + e.Message + ")" : "")}");
        return result;
    }

    private async Task<(Outcome Outcome, ContainerOpsException? Error)> CallCore(string what, Func<IContainerOpsClient, CancellationToken, Task> op)
    {
        var epoch = _epoch.Value;
        var client = run.Client;
        var ct = run.OpToken;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            await op(client, timeout.Token);
            run.Stats.Acknowledged++;
            return (Outcome.Acknowledged, null);
        }
        catch (Exception) when (run.Gate.Epoch != epoch)
        {
            run.Stats.CutOff++;
            return (Outcome.CutOff, null);
        }
        catch (ContainerOpsException e) when (e.Error.Kind is ErrorKind.Conflict or ErrorKind.NotFound or ErrorKind.InvalidArgument)
        {
            run.Stats.Refused++;
            return (Outcome.Refused, e);
        }
        catch (Exception e)
        {
            // Not a refusal the workload can cause, and no kill to blame: the daemon failed on its own.
            run.Anomaly($"{what}: {e.GetType().Name}: {e.Message}");
            return (Outcome.CutOff, null);
        }
    }

    private async Task OneAsync(Random rng)
    {
        var live = L.LiveContainers;
        var roll = rng.Next(100);
        if (live >= MaxContainers && roll < 60) { await RemoveAsync(rng, force: true); return; }
        switch (roll)
        {
            case < 14: await RunAsync(rng, Role.Sleeper); break;
            case < 20: await RunAsync(rng, Role.Exiter); break;
            case < 23: await RunAsync(rng, Role.OnFailure); break;
            case < 25: await RunAsync(rng, Role.Always); break;
            case < 33: await StartAsync(rng); break;
            case < 41: await StopAsync(rng); break;
            case < 45: await KillAsync(rng); break;
            case < 51: await RemoveAsync(rng, force: true); break;
            case < 54: await RemoveAsync(rng, force: false); break;
            case < 62: await ExecAsync(rng); break;
            case < 72: await LogsAsync(rng); break;
            case < 76: await RefusedCreateAsync(rng); break;
            case < 80: if (L.LiveImages < MaxImages) await ImportAsync(rng); break;
            case < 84: if (L.LiveImages < MaxImages) await BuildAsync(rng); break;
            case < 87: if (L.LiveImages < MaxImages) await TagAsync(rng); break;
            case < 90: await PullAsync(rng); break;
            case < 96: await RemoveImageAsync(rng); break;
            default: await BadImportAsync(rng); break;
        }
    }

    // ---------------------------------------------------------------- containers

    private static List<string> Command(Role role) => role switch
    {
        Role.Sleeper => ["sh", "-c", "trap 'exit 7' TERM; echo start; i=0; while :; do echo line $i; i=$((i+1)); sleep 0.2; done"],
        Role.Exiter => ["sh", "-c", "echo out; echo err >&2; exit 3"],
        Role.OnFailure => ["sh", "-c", "echo try; sleep 0.3; exit 3"],
        _ => ["sh", "-c", "trap 'exit 7' TERM; echo up; sleep 1; exit 5"],
    };

    private async Task RunAsync(Random rng, Role role)
    {
        var c = new TrackedContainer { Name = L.NewName(role.ToString().ToLowerInvariant()), Role = role, Busy = true };
        c.Expect(Observed.Absent);
        lock (L.Lock) L.Containers.Add(c);
        try
        {
            var request = new ContainerCreateRequest
            {
                Name = c.Name, Image = Base, Cmd = Command(role),
                HostConfig = new HostConfig
                {
                    // Sleepers live long enough to matter on a network: the default bridge, the run's own, or none.
                    NetworkMode = role == Role.Sleeper ? rng.Next(3) switch { 0 => "bridge", 1 => ChaosRun.Network, _ => "none" } : "none",
                    RestartPolicy = role switch
                    {
                        Role.OnFailure => new RestartPolicy { Name = "on-failure", MaximumRetryCount = 2 },
                        Role.Always => new RestartPolicy { Name = "always" },
                        _ => new RestartPolicy { Name = "no" },
                    },
                },
            };
            string? id = null;
            var (outcome, error) = await Call("create " + c.Name, async (client, ct) => id = (await client.CreateContainerAsync(request, ct)).Id, c);
            lock (L.Lock)
                switch (outcome)
                {
                    case Outcome.Acknowledged: c.Id = id; c.Expect(Observed.Created); break;
                    case Outcome.CutOff: c.Widen(Observed.Created); break;
                    default: run.Anomaly($"create {c.Name} was refused: {error!.Message}"); return;
                }
            if (outcome != Outcome.Acknowledged || rng.Next(10) == 0) return; // sometimes leave it created
            await StartTracked(c);
        }
        finally { L.Release(c); }
    }

    private async Task StartTracked(TrackedContainer c)
    {
        var (outcome, _) = await Call("start " + c.Name, (client, ct) => client.StartContainerAsync(c.Name, ct), c);
        lock (L.Lock)
        {
            var after = Transform(c, s => s.Status == "absent" ? [s] : c.AfterStart());
            if (outcome == Outcome.Acknowledged) { c.Allowed.Clear(); c.Stopped = false; }
            if (outcome != Outcome.Refused) c.Widen(after);
            if (outcome == Outcome.CutOff) c.Stopped = false; // a start that may have run also reset the manual stop
            // A start of a container that still runs changes nothing: the signal of a cut-off stop or kill may still
            // end it (Pending is cleared once a check sees it not running, when a start makes a new process).
            if (outcome == Outcome.Acknowledged) c.Widen([.. c.Pending]);
        }
    }

    private static Observed[] Transform(TrackedContainer c, Func<Observed, Observed[]> f) => c.Allowed.SelectMany(f).Distinct().ToArray();

    private async Task StartAsync(Random rng)
    {
        var c = L.Lease(rng, c => c.CertainlyPresent && c.Role != Role.Always);
        if (c is null) return;
        try { await StartTracked(c); }
        finally { L.Release(c); }
    }

    private async Task StopAsync(Random rng)
    {
        var c = L.Lease(rng, c => c.CertainlyPresent);
        if (c is null) return;
        try
        {
            var (outcome, _) = await Call("stop " + c.Name, (client, ct) => client.StopContainerAsync(c.Name, 5, ct), c);
            lock (L.Lock)
            {
                var after = Transform(c, s => s.Status is "running" or "restarting" ? c.AfterStop() : [s]);
                if (outcome == Outcome.Acknowledged) { c.Allowed.Clear(); c.Stopped = true; c.Pending.Clear(); }
                if (outcome != Outcome.Refused) c.Widen(after);
                if (outcome == Outcome.CutOff) c.Pending.UnionWith(c.AfterStop());
            }
        }
        finally { L.Release(c); }
    }

    private async Task KillAsync(Random rng)
    {
        var c = L.Lease(rng, c => c.Role == Role.Sleeper && c.CertainlyPresent && c.Allowed.Contains(Observed.Running));
        if (c is null) return;
        try
        {
            var (outcome, _) = await Call("kill " + c.Name, (client, ct) => client.KillContainerAsync(c.Name, "KILL", ct), c);
            lock (L.Lock)
            {
                var after = Transform(c, s => s.Status == "running" ? [Observed.Exited(137)] : [s]);
                if (outcome == Outcome.Acknowledged) { c.Allowed.Clear(); c.Stopped = true; c.Pending.Clear(); }
                if (outcome != Outcome.Refused) c.Widen(after);
                if (outcome == Outcome.CutOff) c.Pending.Add(Observed.Exited(137));
            }
        }
        finally { L.Release(c); }
    }

    private async Task RemoveAsync(Random rng, bool force)
    {
        var c = L.Lease(rng, c => !(c.Allowed.Count == 1 && c.MayBeAbsent));
        if (c is null) return;
        try
        {
            var (outcome, error) = await Call("rm " + c.Name, (client, ct) => client.RemoveContainerAsync(c.Name, force, ct), c);
            lock (L.Lock)
            {
                if (outcome == Outcome.Acknowledged) { c.Expect(Observed.Absent); c.Pending.Clear(); }
                else if (outcome == Outcome.CutOff) c.Widen(Observed.Absent);
                else if (error!.Error.Kind == ErrorKind.NotFound) c.Expect(Observed.Absent);
                else if (force) run.Anomaly($"rm -f {c.Name} was refused: {error.Message}");
            }
        }
        finally { L.Release(c); }
    }

    private async Task ExecAsync(Random rng)
    {
        var c = L.Lease(rng, c => c.Role == Role.Sleeper && c.Allowed.Count == 1 && c.Allowed.Contains(Observed.Running));
        if (c is null) return;
        try
        {
            var token = "exec-" + rng.Next(1_000_000);
            var frames = new List<StreamFrame>();
            var (outcome, error) = await Call("exec " + c.Name, async (client, ct) =>
            {
                await foreach (var f in client.ExecAsync(c.Name, new ExecCreateRequest { Cmd = ["echo", token] }, ct: ct)) frames.Add(f);
            }, c);
            if (outcome == Outcome.Refused) run.Anomaly($"exec in running {c.Name} was refused: {error!.Message}");
            if (outcome != Outcome.Acknowledged) return;
            var stdout = string.Concat(frames.Where(f => f.Stream == "stdout").Select(f => f.Data));
            var exit = frames.LastOrDefault(f => f.Stream == "exit")?.ExitCode;
            if (stdout != token + "\n" || exit != 0)
                run.Violation($"exec in {c.Name} answered stdout '{stdout.Trim()}' and exit {exit?.ToString() ?? "none"}, not '{token}' and 0");
        }
        finally { L.Release(c); }
    }

    private async Task LogsAsync(Random rng)
    {
        var c = L.Lease(rng, c => c.CertainlyPresent);
        if (c is null) return;
        try
        {
            var entries = new List<string>();
            var (outcome, _) = await Call("logs " + c.Name, async (client, ct) =>
            {
                await foreach (var e in client.GetLogsAsync(c.Name, ct: ct)) entries.Add(e.Stream + ":" + e.Log);
            });
            if (outcome == Outcome.Acknowledged) run.CheckLogPrefix(c, entries, "a logs call");
        }
        finally { L.Release(c); }
    }

    private async Task RefusedCreateAsync(Random rng)
    {
        var variant = rng.Next(3);
        TrackedContainer? other = variant == 2 ? L.Lease(rng, c => c.CertainlyPresent && c.Id is not null) : null;
        if (variant == 2 && other is null) variant = 0;
        try
        {
            var name = variant == 2 ? other!.Name : L.NewName("refused");
            var request = new ContainerCreateRequest { Name = name, Image = variant == 0 ? "chaos/no-such-image:1" : Base, Cmd = ["true"] };
            if (variant == 1) request.HostConfig.RestartPolicy = new RestartPolicy { Name = "sometimes" };
            var (outcome, _) = await Call("refused create " + name, (client, ct) => client.CreateContainerAsync(request, ct));
            if (outcome == Outcome.Acknowledged)
                run.Violation(variant switch
                {
                    0 => $"create {name} from a missing image was acknowledged",
                    1 => $"create {name} with restart policy 'sometimes' was acknowledged",
                    _ => $"a second container named {name} was acknowledged",
                });
            else if (outcome == Outcome.Refused && variant != 2)
                lock (L.Lock) L.RefusedNames.Add(name);
        }
        finally { if (other is not null) L.Release(other); }
    }

    // ---------------------------------------------------------------- images

    private TrackedImage NewImage(string reference)
    {
        var i = new TrackedImage { Reference = reference, Busy = true };
        i.Present.Add(false);
        lock (L.Lock) L.Images.Add(i);
        return i;
    }

    private void Settle(TrackedImage i, Outcome outcome, bool present)
    {
        lock (L.Lock)
        {
            if (outcome == Outcome.Acknowledged) i.Present.Clear();
            if (outcome != Outcome.Refused) i.Present.Add(present);
        }
    }

    private async Task ImportAsync(Random rng)
    {
        var i = NewImage($"chaos/imp-{rng.Next(1_000_000)}:1");
        try
        {
            var (outcome, error) = await Call("import " + i.Reference, async (client, ct) =>
            {
                await using var tar = File.OpenRead(run.BusyboxTar);
                await client.ImportImageAsync(tar, i.Reference, ct: ct);
            });
            if (outcome == Outcome.Refused) run.Anomaly($"import {i.Reference} was refused: {error!.Message}");
            Settle(i, outcome, true);
        }
        finally { L.Release(i); }
    }

    private async Task BadImportAsync(Random rng)
    {
        var reference = $"chaos/bad-{rng.Next(1_000_000)}:1";
        var junk = new byte[4096 + rng.Next(4096)];
        rng.NextBytes(junk);
        var (outcome, _) = await Call("bad import " + reference, async (client, ct) =>
        {
            using var input = new MemoryStream(junk);
            await client.ImportImageAsync(input, reference, ct: ct);
        });
        if (outcome == Outcome.Acknowledged) run.Violation($"importing random bytes as {reference} was acknowledged");
        else if (outcome == Outcome.Refused) lock (L.Lock) L.RefusedImages.Add(reference);
    }

    private async Task BuildAsync(Random rng)
    {
        var n = rng.Next(1_000_000);
        var i = NewImage($"chaos/bld-{n}:1");
        using var dir = new TempDir("chaos-ctx");
        File.WriteAllText(Path.Combine(dir.Path, "Dockerfile"), $"FROM {Base}\nRUN echo {n} > /built && sleep 0.3\n");
        var (tar, name) = await BuildContext.PackAsync(dir.Path, null);
        try
        {
            var (outcome, error) = await Call("build " + i.Reference, async (client, ct) =>
            {
                await using var input = File.OpenRead(tar);
                await client.BuildImageAsync(input, new ImageBuildRequest { Dockerfile = name, Tags = [i.Reference] }, ct: ct);
            });
            if (outcome == Outcome.Refused) run.Anomaly($"build {i.Reference} was refused: {error!.Message}");
            Settle(i, outcome, true);
        }
        finally
        {
            File.Delete(tar);
            L.Release(i);
        }
    }

    private async Task TagAsync(Random rng)
    {
        var i = NewImage($"chaos/tag-{rng.Next(1_000_000)}:1");
        try
        {
            var (outcome, error) = await Call("tag " + i.Reference, (client, ct) => client.TagImageAsync(Base, i.Reference, ct));
            if (outcome == Outcome.Refused) run.Anomaly($"tag {i.Reference} was refused: {error!.Message}");
            Settle(i, outcome, true);
        }
        finally { L.Release(i); }
    }

    private async Task PullAsync(Random rng)
    {
        if (run.PulledReference is not { } reference) return;
        TrackedImage? i;
        lock (L.Lock)
        {
            i = L.Images.FirstOrDefault(x => x.Reference == reference);
            if (i is null) { i = new TrackedImage { Reference = reference }; i.Present.Add(false); L.Images.Add(i); }
            if (i.Busy) return;
            i.Busy = true;
        }
        try
        {
            var (outcome, error) = await Call("pull " + reference, (client, ct) => client.PullImageAsync(reference, ct: ct));
            if (outcome == Outcome.Refused) run.Anomaly($"pull {reference} was refused: {error!.Message}");
            Settle(i, outcome, true);
        }
        finally { L.Release(i); }
    }

    private async Task RemoveImageAsync(Random rng)
    {
        var i = L.LeaseImage(rng, i => i.Present.Contains(true));
        if (i is null) return;
        try
        {
            var (outcome, error) = await Call("rmi " + i.Reference, (client, ct) => client.RemoveImageAsync(i.Reference, ct: ct));
            if (outcome == Outcome.Refused && error!.Error.Kind == ErrorKind.NotFound) { Settle(i, Outcome.Acknowledged, false); return; }
            if (outcome == Outcome.Refused) run.Anomaly($"rmi {i.Reference} was refused: {error!.Message}");
            Settle(i, outcome, false);
        }
        finally { L.Release(i); }
    }
}
