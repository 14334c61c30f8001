using System.Text.Json;
using ContainerOps.Core.IO;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime;

/// <summary>What a runtime remembers about one container, in STATE_ROOT/&lt;id&gt;/state.json. Together with the files the
/// shim writes there (pid, exit) it is all a restarted daemon needs to find the container again.</summary>
public sealed class ContainerRuntimeRecord
{
    public string Id { get; set; } = "";
    public string Runtime { get; set; } = "builtin";
    public string Bundle { get; set; } = "";
    public string CgroupsPath { get; set; } = "";
    /// <summary>created (waiting on the exec fifo) | running</summary>
    public string Status { get; set; } = "running";
    public int Pid { get; set; }
    /// <summary>/proc/&lt;pid&gt;/stat start time, so a recycled pid is never mistaken for the container.</summary>
    public long PidStartTime { get; set; }
    /// <summary>The shim's monitor (the container's parent) and its start time; 0 in records of earlier versions.</summary>
    public int ShimPid { get; set; }
    public long ShimStartTime { get; set; }
    public DateTimeOffset Created { get; set; }
    public bool OomKilled { get; set; }
    /// <summary>No shim stays with the container (an OCI caller's `create`): the caller reaps it, no exit is recorded.</summary>
    public bool Unmonitored { get; set; }
    /// <summary>Whether the spec has poststart or poststop hooks, so that a start and a delete read the bundle only when
    /// there is one to run; null in records of earlier versions (the bundle is read).</summary>
    public bool? HasHooks { get; set; }

    // Written and read with the JSON reader and writer, not the serializer: its metadata for this one type costs the
    // runtime command line a millisecond per start (see OciSpecReader). The member names are the serializer's camelCase.
    public byte[] ToJson() => IndentedJson.Object(json =>
    {
        json.WriteString("id", Id);
        json.WriteString("runtime", Runtime);
        json.WriteString("bundle", Bundle);
        json.WriteString("cgroupsPath", CgroupsPath);
        json.WriteString("status", Status);
        json.WriteNumber("pid", Pid);
        json.WriteNumber("pidStartTime", PidStartTime);
        json.WriteNumber("shimPid", ShimPid);
        json.WriteNumber("shimStartTime", ShimStartTime);
        json.WriteString("created", Created);
        json.WriteBoolean("oomKilled", OomKilled);
        if (Unmonitored) json.WriteBoolean("unmonitored", true);
        if (HasHooks is bool hooks) json.WriteBoolean("hasHooks", hooks);
    });

    /// <exception cref="JsonException">Not a record: malformed JSON or a member of the wrong kind.</exception>
    public static ContainerRuntimeRecord FromJson(ReadOnlyMemory<byte> bytes)
    {
        using var document = JsonDocument.Parse(bytes);
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("a runtime record is a JSON object");
        var record = new ContainerRuntimeRecord();
        try
        {
            foreach (var member in document.RootElement.EnumerateObject())
            {
                var value = member.Value;
                switch (member.Name)
                {
                    case "id": record.Id = value.GetString() ?? ""; break;
                    case "runtime": record.Runtime = value.GetString() ?? record.Runtime; break;
                    case "bundle": record.Bundle = value.GetString() ?? ""; break;
                    case "cgroupsPath": record.CgroupsPath = value.GetString() ?? ""; break;
                    case "status": record.Status = value.GetString() ?? record.Status; break;
                    case "pid": record.Pid = value.GetInt32(); break;
                    case "pidStartTime": record.PidStartTime = value.GetInt64(); break;
                    case "shimPid": record.ShimPid = value.GetInt32(); break;
                    case "shimStartTime": record.ShimStartTime = value.GetInt64(); break;
                    case "created": record.Created = value.GetDateTimeOffset(); break;
                    case "oomKilled": record.OomKilled = value.GetBoolean(); break;
                    case "unmonitored": record.Unmonitored = value.GetBoolean(); break;
                    case "hasHooks": record.HasHooks = value.GetBoolean(); break;
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new JsonException($"runtime record: {e.Message}", e);
        }
        return record;
    }
}

/// <summary>The files of one container's runtime state directory.</summary>
public sealed class ContainerStateDir
{
    public ContainerStateDir(string stateRoot, string id)
    {
        Id = id;
        Dir = Path.Combine(stateRoot, id);
        SocketDir = Path.Combine(stateRoot, "s");
        // Socket paths must fit in 108 bytes: a short hash of the id instead of the id and its directory.
        var hash = SocketName(id);
        AttachSocket = Path.Combine(SocketDir, hash + ".a");
        ControlSocket = Path.Combine(SocketDir, hash + ".c");
    }

    public string Id { get; }
    public string Dir { get; }
    public string RecordFile => Path.Combine(Dir, "state.json");
    public string PlanFile => Path.Combine(Dir, "plan");
    public string PidFile => Path.Combine(Dir, "pid");
    public string ExitFile => Path.Combine(Dir, "exit");
    public string ExecFifo => Path.Combine(Dir, "exec.fifo");
    public string SocketDir { get; }
    public string AttachSocket { get; }
    public string ControlSocket { get; }

    public bool Exists => File.Exists(RecordFile);

    /// <summary>64-bit FNV-1a of the id as 16 hex digits. Not a cryptographic hash on purpose: ids are chosen by root,
    /// and loading a crypto library would cost the OCI command line several milliseconds per start.</summary>
    internal static string SocketName(string id)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(id)) hash = (hash ^ b) * 1099511628211UL;
        return hash.ToString("x16");
    }

    public ContainerRuntimeRecord? Read()
    {
        try { return ContainerRuntimeRecord.FromJson(File.ReadAllBytes(RecordFile)); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
        catch (JsonException) { return null; }
    }

    /// <summary>Not fsynced: the runtime's state root is a run root, and its containers do not survive a reboot.</summary>
    public void Write(ContainerRuntimeRecord record) =>
        AtomicFile.WriteAllBytes(RecordFile, record.ToJson(), durable: false);

    /// <summary>The exit file the shim wrote: `exit_code=N signal=N finished=&lt;unix-ns&gt; oom=0`.</summary>
    public (int ExitCode, int Signal, DateTimeOffset Finished)? ReadExit()
    {
        string text;
        // Checked first because a running container has no exit file, and an exception per status query is dear.
        if (!File.Exists(ExitFile)) return null;
        try { text = SmallFile.ReadText(ExitFile); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
        int code = 0, signal = 0;
        long finished = 0;
        foreach (var field in text.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = field.Split('=', 2);
            if (kv.Length != 2) continue;
            switch (kv[0])
            {
                case "exit_code": int.TryParse(kv[1], out code); break;
                case "signal": int.TryParse(kv[1], out signal); break;
                case "finished": long.TryParse(kv[1], out finished); break;
            }
        }
        var at = finished > 0 ? DateTimeOffset.UnixEpoch.AddTicks(finished / 100) : File.GetLastWriteTimeUtc(ExitFile);
        return (code, signal, at);
    }

    /// <summary>The pids the shim wrote once the container was set up: `&lt;init&gt; &lt;shim&gt;` (the shim's part is 0 when an
    /// earlier shim wrote the file), or null while there is none.</summary>
    public (int Init, int Shim)? ReadPidFile()
    {
        if (!File.Exists(PidFile)) return null;
        string text;
        try { text = SmallFile.ReadText(PidFile); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
        var parts = text.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !int.TryParse(parts[0], out var init) || init <= 0) return null;
        return (init, parts.Length > 1 && int.TryParse(parts[1], out var shim) ? shim : 0);
    }

    /// <summary>Start time of <paramref name="pid"/> in clock ticks since boot (field 22 of /proc/pid/stat), or -1.</summary>
    public static long ProcessStartTime(int pid) => ReadStat(pid) is { } s ? s.StartTime : -1;

    /// <summary>State letter, parent pid, kernel flags and start time of a process (fields 3, 4, 9 and 22 of
    /// /proc/pid/stat), or null when there is no such process.</summary>
    public static (char State, int Parent, uint Flags, long StartTime)? ReadStat(int pid)
    {
        if (pid <= 0) return null;
        var path = $"/proc/{pid}/stat";
        // A process that is gone is common here (a short command has often exited by the time it is recorded): checked
        // first, as an exception per call would cost more than the read.
        if (!File.Exists(path)) return null;
        string stat;
        try { stat = SmallFile.ReadText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // The fields after the command name, which is in parentheses and may itself hold spaces: state, ppid, ...;
        // flags is the 7th, starttime the 20th.
        var rest = stat.AsSpan(stat.LastIndexOf(')') + 1).TrimStart(' ');
        if (rest.Length < 2) return null;
        var state = rest[0];
        int parent = 0;
        uint flags = 0;
        for (var field = 0; field < 19; field++)
        {
            var space = rest.IndexOf(' ');
            if (space < 0) return null;
            rest = rest[(space + 1)..];
            var end = rest.IndexOf(' ');
            if (field == 0 && (end < 0 || !int.TryParse(rest[..end], out parent))) return null;
            if (field == 5 && (end < 0 || !uint.TryParse(rest[..end], out flags))) return null;
        }
        var last = rest.IndexOfAny(' ', '\n');
        return long.TryParse(last < 0 ? rest : rest[..last], out var ticks) ? (state, parent, flags, ticks) : null;
    }

    /// <summary>The kernel's PF_EXITING: the process has begun to exit (its descriptors may already be closed) but is
    /// not yet a zombie.</summary>
    private const uint ExitingFlag = 0x4;

    /// <summary>Whether <paramref name="pid"/> is the live (not zombie) process that started at <paramref name="startTime"/>;
    /// with <paramref name="notExiting"/>, also one that has not begun to exit.</summary>
    public static bool IsLive(int pid, long startTime, bool notExiting = false) =>
        ReadStat(pid) is { } s && s.State is not ('Z' or 'X' or 'x') && s.StartTime == startTime && !(notExiting && (s.Flags & ExitingFlag) != 0);
}
