namespace ContainerOps.Chaos.Tests;

/// <summary>How a tracked container behaves; fixes its command, restart policy and the exit codes it can have.</summary>
public enum Role
{
    /// <summary>Logs a line every 0.2 s until stopped; SIGTERM makes it exit 7. Policy no.</summary>
    Sleeper,
    /// <summary>Writes one line to each stream and exits 3 at once. Policy no.</summary>
    Exiter,
    /// <summary>Exits 3 after 0.3 s; on-failure:2.</summary>
    OnFailure,
    /// <summary>Exits 5 after 1 s (7 on SIGTERM); always. A daemon start restarts it even when it was stopped.</summary>
    Always,
}

/// <summary>A state the API may report: status word and, for "exited", the exit code.</summary>
public readonly record struct Observed(string Status, int? ExitCode = null)
{
    public static readonly Observed Absent = new("absent");
    public static readonly Observed Created = new("created");
    public static readonly Observed Running = new("running");
    public static readonly Observed Restarting = new("restarting");
    public static Observed Exited(int code) => new("exited", code);
    public override string ToString() => ExitCode is { } c ? $"{Status}({c})" : Status;
}

/// <summary>One container the workload made: what the API acknowledged so far, as the set of states it may be in now.
/// An operation that was cut off by a kill widens the set (it may or may not have happened); an invariant check
/// narrows it to what the daemon reports, once that report is found to be one of the allowed states.</summary>
public sealed class TrackedContainer
{
    public required string Name { get; init; }
    public required Role Role { get; init; }
    public string? Id { get; set; }
    public HashSet<Observed> Allowed { get; } = new();
    /// <summary>Log entries ("stdout:text") read through the API; a later read must start with them.</summary>
    public List<string> Log { get; set; } = new();
    /// <summary>Held by one worker (or the killer) at a time, so that outcomes stay easy to predict.</summary>
    public bool Busy { get; set; }
    /// <summary>A stop was acknowledged since the last start: restart policies leave it alone (except "always" at a daemon start).</summary>
    public bool Stopped { get; set; }
    /// <summary>What a stop or kill that was cut off may still bring about: its signal may have been delivered before
    /// the daemon died and act later (a sleeper's trap runs when its current sleep ends). Kept while it may run.</summary>
    public HashSet<Observed> Pending { get; } = new();
    public int MaxRestartCount => Role == Role.OnFailure ? 2 : int.MaxValue;
    /// <summary>What was done to it and what was seen of it, with times: a violation report prints it.</summary>
    public List<string> History { get; } = new();

    public void Note(string what)
    {
        lock (History) History.Add($"{DateTime.Now:HH:mm:ss.fff} {what}");
    }

    public string Story()
    {
        lock (History) return string.Join("; ", History);
    }

    public void Expect(params Observed[] states)
    {
        Allowed.Clear();
        foreach (var s in states) Allowed.Add(s);
    }

    public void Widen(params Observed[] states)
    {
        foreach (var s in states) Allowed.Add(s);
    }

    public bool MayBeAbsent => Allowed.Contains(Observed.Absent);
    public bool CertainlyPresent => !MayBeAbsent && Allowed.Count > 0;

    /// <summary>The states an acknowledged start leads to (the process may have finished already).</summary>
    public Observed[] AfterStart() => Role switch
    {
        Role.Sleeper => [Observed.Running],
        Role.Exiter => [Observed.Running, Observed.Exited(3)],
        Role.OnFailure => [Observed.Running, Observed.Restarting, Observed.Exited(3)],
        _ => [Observed.Running, Observed.Restarting, Observed.Exited(5)],
    };

    /// <summary>The states an acknowledged stop (timeout 5 s) leads to.</summary>
    public Observed[] AfterStop() => Role switch
    {
        Role.Sleeper => [Observed.Exited(7)],
        Role.Exiter or Role.OnFailure => [Observed.Exited(3)],
        _ => [Observed.Exited(7), Observed.Exited(5)],
    };

    /// <summary>Whether <paramref name="seen"/> is allowed. An "always" container may be restarted by every daemon start,
    /// so once started it may be running or restarting whatever was acknowledged.</summary>
    public bool Allows(Observed seen)
    {
        if (Allowed.Contains(seen)) return true;
        if (Role == Role.Always && Allowed.Any(a => a.Status is "running" or "restarting" or "exited")
            && (seen.Status is "running" or "restarting" || seen == Observed.Exited(5) || seen == Observed.Exited(7)))
            return true;
        return false;
    }
}

/// <summary>One image name the workload made or removed.</summary>
public sealed class TrackedImage
{
    public required string Reference { get; init; }
    /// <summary>Whether the name may exist now (true, false, or both after a cut-off operation).</summary>
    public HashSet<bool> Present { get; } = new();
    public bool Busy { get; set; }
}

/// <summary>Everything the API acknowledged or refused, under one lock.</summary>
public sealed class Ledger
{
    public readonly object Lock = new();
    public List<TrackedContainer> Containers { get; } = new();
    public List<TrackedImage> Images { get; } = new();
    /// <summary>Names of creates the API refused: no container may ever carry them.</summary>
    public List<string> RefusedNames { get; } = new();
    /// <summary>Image names whose import the API refused: they must never resolve.</summary>
    public List<string> RefusedImages { get; } = new();
    private int _next;

    public string NewName(string kind) => $"chaos-{kind}-{Interlocked.Increment(ref _next)}";

    /// <summary>A tracked container no one else is using, picked by <paramref name="rng"/> among those <paramref name="fit"/>.</summary>
    public TrackedContainer? Lease(Random rng, Func<TrackedContainer, bool> fit)
    {
        lock (Lock)
        {
            var candidates = Containers.Where(c => !c.Busy && fit(c)).ToList();
            if (candidates.Count == 0) return null;
            var pick = candidates[rng.Next(candidates.Count)];
            pick.Busy = true;
            return pick;
        }
    }

    public TrackedImage? LeaseImage(Random rng, Func<TrackedImage, bool> fit)
    {
        lock (Lock)
        {
            var candidates = Images.Where(i => !i.Busy && fit(i)).ToList();
            if (candidates.Count == 0) return null;
            var pick = candidates[rng.Next(candidates.Count)];
            pick.Busy = true;
            return pick;
        }
    }

    public void Release(TrackedContainer c) { lock (Lock) c.Busy = false; }
    public void Release(TrackedImage i) { lock (Lock) i.Busy = false; }

    public int LiveContainers { get { lock (Lock) return Containers.Count(c => !(c.Allowed.Count == 1 && c.MayBeAbsent)); } }
    public int LiveImages { get { lock (Lock) return Images.Count(i => i.Present.Contains(true)); } }
}
