using System.Text.Json;
using System.Text.Json.Serialization;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;

namespace ContainerOps.Daemon.Engine;

/// <summary>What the daemon knows about one container, persisted atomically in ROOT/containers/&lt;id&gt;/config.json.</summary>
public sealed class ContainerRecord
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public DateTimeOffset Created { get; set; }
    /// <summary>The image as the user named it.</summary>
    public string Image { get; set; } = "";
    public string ImageId { get; set; } = "";
    public string Path { get; set; } = "";
    public List<string> Args { get; set; } = new();
    public ContainerConfig Config { get; set; } = new();
    public HostConfig HostConfig { get; set; } = new();
    public ContainerState State { get; set; } = new();
    public int RestartCount { get; set; }
    /// <summary>Stopped by stop/kill: restart policies leave it alone (until the daemon starts, for "always").</summary>
    public bool ManuallyStopped { get; set; }
    public string LogPath { get; set; } = "";
    public string? RootfsPath { get; set; }
    /// <summary>Binds, volumes and tmpfs mounts as resolved at create (anonymous volumes named, volumes-from copied).</summary>
    public List<ContainerOps.Runtime.Spec.ContainerMount> Mounts { get; set; } = new();
    /// <summary>Set with State.Dead: the removal asked for the anonymous volumes too (finished after a crash).</summary>
    public bool RemoveVolumes { get; set; }
    /// <summary>The pod sandbox whose namespaces the container joins (<see cref="PodSandboxes"/>), if it is a pod's.</summary>
    public string? SandboxDir { get; set; }

    public static string FilePath(string dir) => System.IO.Path.Combine(dir, "config.json");

    /// <summary>Replaces the record on disk atomically. A container that goes when it ends (`--rm`) does not outlive a
    /// reboot, so its record is not synced: after a power loss, one found is removed at start (as every ended
    /// auto-remove container is) and one found unreadable is set aside; either way nothing half-written is used.</summary>
    public void Save(string dir) => AtomicFile.WriteAllBytes(FilePath(dir),
        JsonSerializer.SerializeToUtf8Bytes(this, DaemonJsonContext.Default.ContainerRecord), durable: !HostConfig.AutoRemove);

    /// <summary>Writes the record as it will be with <paramref name="state"/>, then makes that its state: a reader
    /// (inspect takes no lock) never sees a state that a crash before the write would lose.</summary>
    public void SaveState(string dir, ContainerState state)
    {
        var next = (ContainerRecord)MemberwiseClone();
        next.State = state;
        next.Save(dir);
        State = state;
    }

    public static ContainerRecord? Load(string dir)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(FilePath(dir)), DaemonJsonContext.Default.ContainerRecord); }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    /// <summary>created | running | paused | restarting | exited | dead</summary>
    public string StatusWord => StatusOf(State);

    /// <summary>The status word of one state object. The record's state is replaced as a whole when a container starts
    /// or exits, so a reader that takes <see cref="State"/> once sees all of a change or none of it.</summary>
    public static string StatusOf(ContainerState s) =>
        s.Restarting ? "restarting" : s.Paused ? "paused" : s.Running ? "running" : s.Dead ? "dead"
        : s.StartedAt is null && s.FinishedAt is null ? "created" : "exited";

    /// <summary>Docker's human status: "Up 5 seconds", "Exited (0) 3 minutes ago".</summary>
    public static string HumanStatus(ContainerState s, DateTimeOffset now) => StatusOf(s) switch
    {
        "running" => "Up " + HumanDuration(now - (s.StartedAt ?? now)) + s.Health?.Status switch
        {
            null => "",
            HealthStatus.Starting => " (health: starting)",
            var status => $" ({status})",
        },
        "paused" => "Up " + HumanDuration(now - (s.StartedAt ?? now)) + " (Paused)",
        "restarting" => $"Restarting ({s.ExitCode}) {HumanDuration(now - (s.FinishedAt ?? now))} ago",
        "exited" => $"Exited ({s.ExitCode}) {HumanDuration(now - (s.FinishedAt ?? now))} ago",
        "dead" => "Dead",
        _ => "Created",
    };

    public static string HumanDuration(TimeSpan d)
    {
        var s = d.TotalSeconds;
        if (s < 1) return "Less than a second";
        if (s < 2) return "1 second";
        if (s < 60) return $"{(int)s} seconds";
        var m = d.TotalMinutes;
        if (m < 2) return "About a minute";
        if (m < 60) return $"{(int)m} minutes";
        var h = d.TotalHours;
        if (h < 2) return "About an hour";
        if (h < 48) return $"{(int)h} hours";
        if (h < 24 * 14) return $"{(int)(h / 24)} days";
        if (h < 24 * 7 * 8) return $"{(int)(h / 24 / 7)} weeks";
        if (h < 24 * 365 * 2) return $"{(int)(h / 24 / 30)} months";
        return $"{(int)(h / 24 / 365)} years";
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ContainerRecord))]
internal sealed partial class DaemonJsonContext : JsonSerializerContext
{
}
