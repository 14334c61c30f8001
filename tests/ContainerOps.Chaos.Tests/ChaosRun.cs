using System.Diagnostics;
using ContainerOps.Client;
using ContainerOps.Core.Api;
using ContainerOps.Daemon.Tests;
using ContainerOps.Registry.Tests;
using ContainerOps.TestSupport;

namespace ContainerOps.Chaos.Tests;

public sealed class ChaosStats
{
    public int Kills, StartupKills, ShimKills, Restarts, InvariantChecks, Acknowledged, Refused, CutOff;
    public TimeSpan Elapsed;
    public override string ToString() =>
        $"{Kills} daemon kills ({StartupKills} during start-up), {ShimKills} shim kills, {Restarts} restarts checked, " +
        $"{InvariantChecks} invariant checks; operations: {Acknowledged} acknowledged, {Refused} refused, {CutOff} cut off; {Elapsed.TotalSeconds:0} s";
}

/// <summary>
/// One chaos run: a private daemon, workers running a mixed workload through the API, and a killer that SIGKILLs the
/// daemon at random moments (sometimes again while it starts up, sometimes a container's shim instead), restarts it,
/// and checks the invariants before letting the workers go on.
/// </summary>
public sealed class ChaosRun : IAsyncDisposable
{
    public ChaosSettings Settings { get; }
    public Ledger Ledger { get; } = new();
    public Gate Gate { get; } = new();
    public ChaosStats Stats { get; } = new();
    public List<string> Violations { get; } = new();
    public List<string> Anomalies { get; } = new();
    public string BusyboxTar => Path.Combine(_tmp.Path, "busybox.tar");
    public string? PulledReference { get; private set; }
    /// <summary>A user network (bridge, addresses, name server) some containers join; others use the default bridge.</summary>
    public const string Network = "chaos-net";

    private readonly Action<string> _log;
    private readonly Random _rng;
    private readonly TempDir _tmp = new("chaos");
    private PrivateDaemon? _daemon;
    private HostState? _host;
    private TestRegistry? _registry;
    private CancellationTokenSource _ops = new();
    private readonly Stopwatch _clock = new();
    private TimeSpan _startup = TimeSpan.FromMilliseconds(500);

    public ChaosRun(ChaosSettings settings, Action<string> log)
    {
        Settings = settings;
        _log = log;
        _rng = new Random(settings.Seed);
    }

    public IContainerOpsClient Client => _daemon!.Client;
    public CancellationToken OpToken => _ops.Token;

    private readonly HashSet<string> _seen = new();

    /// <summary>Records a broken invariant. One that persists is reported again at every check: listed once, with the
    /// restart it was first seen at (with CHAOS_KEEP_GOING=1).</summary>
    public void Violation(string what)
    {
        lock (Violations)
        {
            if (!_seen.Add(what)) return;
            Violations.Add($"[restart {Stats.Restarts}] {what}");
        }
        _log("VIOLATION " + what);
    }

    public void Anomaly(string what)
    {
        lock (Anomalies) Anomalies.Add($"[restart {Stats.Restarts}] {what}");
        _log("anomaly " + what);
    }

    private bool Failed { get { lock (Violations) return Violations.Count > 0 && !Settings.KeepGoing; } }

    public async Task RunAsync()
    {
        _clock.Start();
        _log($"chaos run: seed {Settings.Seed}, at least {Settings.Duration.TotalSeconds:0} s and {Settings.MinKills} kills, {Settings.Workers} workers");
        await SetUpAsync();
        var stop = new CancellationTokenSource();
        var workload = new Workload(this);
        Gate.Open();
        var workers = Enumerable.Range(0, Settings.Workers).Select(i => Task.Run(() => workload.WorkerAsync(i, stop.Token))).ToList();
        // A run that cannot reach its kills in this time is stuck, not slow.
        var cap = Settings.Duration + TimeSpan.FromMinutes(15);
        try
        {
            while (!Failed && (_clock.Elapsed < Settings.Duration || Stats.Kills < Settings.MinKills) && _clock.Elapsed < cap)
            {
                await Task.Delay(_rng.Next(100, 1200));
                if (_rng.Next(5) == 0) await KillAShimAsync();
                await KillAndRestartAsync();
            }
        }
        finally
        {
            stop.Cancel();
            await Gate.Close();
            Gate.Open(); // let workers waiting to enter see the cancellation
            await Task.WhenAll(workers);
            Stats.Elapsed = _clock.Elapsed;
        }
        if (Violations.Count == 0 && Stats.Kills < Settings.MinKills)
            Violation($"only {Stats.Kills} kills in {_clock.Elapsed.TotalMinutes:0} minutes");
        _log("chaos run done: " + Stats);
    }

    private async Task SetUpAsync()
    {
        Busybox.CreateRootfsTar(BusyboxTar);
        _daemon = new PrivateDaemon();
        _host = new HostState(_daemon);
        await using (var tar = File.OpenRead(BusyboxTar))
            await Client.ImportImageAsync(tar, "chaos/base:1");
        await Client.CreateNetworkAsync(new NetworkCreateRequest { Name = Network });
        try
        {
            // A loopback registry with an image whose top layer only it has: every pull downloads and unpacks it.
            _registry = TestRegistry.Start(RegistryMode.PlainHttp);
            using var ctx = new TempDir("chaos-ctx");
            File.WriteAllText(Path.Combine(ctx.Path, "Dockerfile"), "FROM chaos/base:1\nRUN head -c 300000 /dev/urandom > /payload\n");
            var (tarPath, name) = await BuildContext.PackAsync(ctx.Path, null);
            await using (var input = File.OpenRead(tarPath))
                await Client.BuildImageAsync(input, new ImageBuildRequest { Dockerfile = name, Tags = ["chaos/pushed:1"] });
            File.Delete(tarPath);
            PulledReference = $"{_registry.Host}/chaos/pushed:1";
            await Client.PushImageAsync("chaos/pushed:1", PulledReference);
            await Client.RemoveImageAsync("chaos/pushed:1");
        }
        catch (Exception e)
        {
            _log($"no loopback registry, pulls are left out: {e.Message}");
            PulledReference = null;
        }
    }

    /// <summary>SIGKILLs the shim of a running sleeper; the daemon must report the container exited with 137.</summary>
    private async Task KillAShimAsync()
    {
        var c = Ledger.Lease(_rng, c => c.Role == Role.Sleeper && c.Allowed.Count == 1 && c.Allowed.Contains(Observed.Running));
        if (c is null) return;
        try
        {
            var pid = (await Client.InspectContainerAsync(c.Name)).State.Pid;
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var shim = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
            if (!File.ReadAllText($"/proc/{shim}/cmdline").Contains("containerops-shim"))
            {
                Violation($"the parent {shim} of {c.Name}'s process {pid} is not its shim");
                return;
            }
            Process.GetProcessById(shim).Kill();
            Stats.ShimKills++;
            _log($"killed the shim {shim} of {c.Name}");
            c.Note("its shim killed");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            ContainerDetails d;
            while ((d = await Client.InspectContainerAsync(c.Name)).State.Running && DateTime.UtcNow < deadline) await Task.Delay(50);
            var seen = new Observed(d.State.Status, d.State.Status == "exited" ? d.State.ExitCode : null);
            if (seen != Observed.Exited(137))
                Violation($"{c.Name}'s shim was killed; 10 s later the daemon reports {seen}, not exited(137)");
            lock (Ledger.Lock) c.Expect(Observed.Exited(137));
        }
        catch (Exception e) when (e is IOException or FormatException or ArgumentException or ContainerOpsException)
        {
            Anomaly($"killing {c.Name}'s shim: {e.Message}");
        }
        finally { Ledger.Release(c); }
    }

    private void Kill(bool startup)
    {
        _ops.Cancel();
        _daemon!.Crash();
        Stats.Kills++;
        if (startup) Stats.StartupKills++;
    }

    private async Task KillAndRestartAsync()
    {
        // Closed first so no new operation starts, then killed while those in flight run, then drained.
        var drained = Gate.Close();
        Kill(startup: false);
        await drained;
        // Sometimes the restarted daemon is killed again while it recovers.
        while (_rng.Next(3) == 0)
        {
            _daemon!.Launch();
            await Task.Delay(_rng.Next(0, (int)(_startup.TotalMilliseconds * 1.2) + 1));
            Kill(startup: true);
        }
        var started = Stopwatch.StartNew();
        _daemon!.Start();
        _startup = (_startup + started.Elapsed) / 2;
        Stats.Restarts++;
        _ops = new CancellationTokenSource();
        await CheckAsync();
        Stats.Elapsed = _clock.Elapsed;
        if (Stats.Restarts % 10 == 0) _log($"progress: {Stats}");
        Gate.Open();
    }

    // ---------------------------------------------------------------- invariants

    /// <summary>Everything the API acknowledged holds, nothing it refused exists, logs are whole, no kernel object is
    /// orphaned, and the image store verifies. Run with no operation in flight.</summary>
    private async Task CheckAsync()
    {
        var checks = 0;
        var list = await Client.ListContainersAsync(all: true);
        var byName = list.GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (name, rows) in byName)
        {
            checks++;
            if (rows.Count > 1) Violation($"{rows.Count} containers are named {name}");
        }

        List<TrackedContainer> tracked;
        List<string> refusedNames, refusedImages;
        lock (Ledger.Lock)
        {
            tracked = Ledger.Containers.ToList();
            refusedNames = Ledger.RefusedNames.ToList();
            refusedImages = Ledger.RefusedImages.ToList();
        }
        foreach (var c in tracked)
        {
            checks++;
            var row = byName.GetValueOrDefault(c.Name)?.FirstOrDefault();
            var seen = row is null ? Observed.Absent : new Observed(row.State, row.State == "exited" ? row.ExitCode : null);
            bool allowed;
            string expected;
            lock (Ledger.Lock)
            {
                allowed = c.Allows(seen);
                expected = string.Join(" or ", c.Allowed);
            }
            if (!allowed) Violation($"{c.Name} ({c.Role}) is {seen}; acknowledged operations allow {expected}; its history: {c.Story()}");
            c.Note($"restart {Stats.Restarts} check: {seen}");
            if (row is not null)
            {
                checks++;
                if (c.Id is not null && c.Id != row.Id) Violation($"{c.Name} was {HostState.Short(c.Id)} and is now {HostState.Short(row.Id)}");
                if (row.RestartCount > c.MaxRestartCount) Violation($"{c.Name} restarted {row.RestartCount} times, more than on-failure:{c.MaxRestartCount}");
            }
            lock (Ledger.Lock)
            {
                c.Id ??= row?.Id;
                if (c.Role == Role.Exiter && seen == Observed.Running) c.Expect(Observed.Running, Observed.Exited(3));
                else if (c.Role == Role.OnFailure && !c.Stopped && seen.Status is "running" or "restarting" or "exited") c.Expect(c.AfterStart());
                else c.Expect(seen);
                // A signal a cut-off stop or kill delivered may still end a process seen running; once it is seen ended,
                // the signal has done what it could.
                if (seen.Status == "running") c.Widen([.. c.Pending]);
                else c.Pending.Clear();
            }
            if (row is not null)
            {
                var entries = new List<string>();
                await foreach (var e in Client.GetLogsAsync(row.Id)) entries.Add(e.Stream + ":" + e.Log);
                checks++;
                CheckLogPrefix(c, entries, "the restart");
                if (c.Role == Role.Sleeper)
                {
                    checks++;
                    CheckLogSequence(c, entries);
                }
            }
        }
        var trackedNames = tracked.Select(c => c.Name).ToHashSet();
        foreach (var row in list)
        {
            checks++;
            if (refusedNames.Contains(row.Name)) Violation($"container {row.Name} exists although its create was refused");
            else if (!trackedNames.Contains(row.Name)) Violation($"container {row.Name} ({HostState.Short(row.Id)}) was never created by the workload");
        }

        // Kernel objects settle within a moment of a container's exit (restart policies keep some busy): checked
        // until they agree with the API, for up to 3 s.
        var ownership = new List<string>();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var statuses = (await Client.ListContainersAsync(all: true)).ToDictionary(s => s.Id, s => s.State);
            var counted = 0;
            ownership = _host!.CheckOwnership(statuses, ref counted);
            if (ownership.Count == 0) { checks += counted; break; }
            await Task.Delay(150);
        }
        foreach (var o in ownership) Violation(o);

        // Images: names acknowledged are there and resolve, names removed are gone, refused imports never appear.
        // RepoTags are canonical: docker.io/ in front of a name without a registry.
        var listed = (await Client.ListImagesAsync()).SelectMany(i => i.RepoTags).ToHashSet();
        var tags = listed.Concat(listed.Where(t => t.StartsWith("docker.io/", StringComparison.Ordinal)).Select(t => t["docker.io/".Length..])).ToHashSet();
        checks++;
        if (!tags.Contains("chaos/base:1")) Violation("the base image chaos/base:1 is gone");
        List<TrackedImage> images;
        lock (Ledger.Lock) images = Ledger.Images.ToList();
        foreach (var i in images)
        {
            checks++;
            var present = tags.Contains(i.Reference);
            lock (Ledger.Lock)
            {
                if (!i.Present.Contains(present)) Violation($"image {i.Reference} is {(present ? "present" : "absent")}; acknowledged operations allow {(present ? "absent" : "present")} only");
                i.Present.Clear();
                i.Present.Add(present);
            }
            if (present)
            {
                checks++;
                try { await Client.InspectImageAsync(i.Reference); }
                catch (ContainerOpsException e) { Violation($"image {i.Reference} is listed but does not resolve: {e.Message}"); }
            }
        }
        foreach (var r in refusedImages)
        {
            checks++;
            if (tags.Contains(r)) Violation($"image {r} exists although its import was refused");
        }
        foreach (var s in _host!.CheckImageStore(ref checks)) Violation(s);
        Stats.InvariantChecks += checks;
    }

    /// <summary>Log entries read before must still be the first entries: nothing written before a kill is lost.</summary>
    public void CheckLogPrefix(TrackedContainer c, List<string> entries, string since)
    {
        lock (Ledger.Lock)
        {
            var before = c.Log;
            var lost = before.Count > entries.Count ? before.Count - entries.Count : before.Where((e, i) => entries[i] != e).Count();
            if (lost > 0)
                Violation($"{c.Name}: {lost} of {before.Count} log entries read before {since} are gone or changed (first expected '{before[0].Trim()}', now {entries.Count} entries)");
            else c.Log = entries;
        }
    }

    /// <summary>A sleeper numbers its lines from 0 after each "start": every line it wrote before the last one of a run
    /// is in the log (the last may be cut off by a kill of the shim), so nothing written before a kill went missing.</summary>
    private void CheckLogSequence(TrackedContainer c, List<string> entries)
    {
        var next = -1;
        foreach (var e in entries.Where(e => e.StartsWith("stdout:", StringComparison.Ordinal)).Select(e => e["stdout:".Length..].TrimEnd('\n')))
        {
            if (e == "start") { next = 0; continue; }
            if (!e.StartsWith("line ", StringComparison.Ordinal) || !int.TryParse(e[5..], out var n)) continue;
            if (n != next)
            {
                Violation($"{c.Name}: the log goes from line {next - 1} to line {n}: {n - next} line(s) written before are missing");
                return;
            }
            next++;
        }
    }

    // ---------------------------------------------------------------- cleanup

    /// <summary>The daemon's log, for a failure report; the whole of it is kept beside CHAOS_LOG when that is set.</summary>
    /// <summary>The daemon log's lines (over every restart) that name one of the containers a finding names, so a
    /// failure says what the daemon did with them, not only what it did last.</summary>
    public string DaemonLogAbout(IEnumerable<string> findings, int lines)
    {
        if (_daemon is null || !File.Exists(_daemon.LogPath)) return "";
        var names = findings.SelectMany(f => System.Text.RegularExpressions.Regex.Matches(f, @"chaos-[a-z]+-\d+").Select(m => m.Value)).ToHashSet();
        if (names.Count == 0) return "";
        var about = File.ReadLines(_daemon.LogPath).Where(l => names.Any(n => l.Contains(n + " ", StringComparison.Ordinal))).ToList();
        return string.Join('\n', about.Skip(Math.Max(0, about.Count - lines)));
    }

    public string DaemonLogTail(int lines)
    {
        if (_daemon is null || !File.Exists(_daemon.LogPath)) return "";
        if (Settings.LogFile is { } log)
        {
            var kept = Path.ChangeExtension(log, ".daemon.log");
            File.Copy(_daemon.LogPath, kept, overwrite: true);
            _log("the daemon's whole log is kept in " + kept);
        }
        var all = File.ReadAllLines(_daemon.LogPath);
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public async ValueTask DisposeAsync()
    {
        if (_daemon is not null)
        {
            try
            {
                if (_daemon.HasExited) _daemon.Start();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
                foreach (var c in await Client.ListContainersAsync(all: true, ct: cts.Token))
                    try { await Client.RemoveContainerAsync(c.Id, force: true, cts.Token); } catch (ContainerOpsException) { }
            }
            catch (Exception e) { _log("cleanup through the API: " + e.Message); }
            try { _daemon.Stop(); } catch (Exception e) { _log("stopping the daemon: " + e.Message); }
            try { _host!.Scrub(); } catch (Exception e) { _log("scrub: " + e.Message); }
            _daemon.Dispose();
        }
        _registry?.Dispose();
        _tmp.Dispose();
    }
}
