using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Builtin;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Oci;

/// <summary>The OCI runtime command line's read-only verbs besides `state`: `list`, `ps` and `features`, in runc's output
/// shapes (its table and JSON), written with the JSON writer as the rest of the command line.</summary>
internal static class OciQueries
{
    /// <summary>`list [-q] [--format table|json]`: every container under the state root.</summary>
    public static int List(BuiltinRuntime runtime, string root, bool quiet, string format)
    {
        var rows = new List<(string Id, OciState State, DateTimeOffset Created)>();
        if (Directory.Exists(root))
            foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                var id = Path.GetFileName(dir);
                if (id.StartsWith('.')) continue; // the runtime's own caches (compiled seccomp filters)
                var record = new ContainerStateDir(root, id).Read();
                if (record is null) continue;
                var status = runtime.GetStatus(id);
                if (status.State == RuntimeState.Unknown) continue;
                rows.Add((id, OciCommandLine.StateOf(id, status, record), record.Created));
            }
        if (quiet)
        {
            foreach (var row in rows) Console.Out.WriteLine(row.Id);
            return 0;
        }
        if (format == "json")
        {
            Console.Out.WriteLine(Encoding.UTF8.GetString(IndentedJson.Array(json =>
            {
                foreach (var (id, state, created) in rows)
                {
                    json.WriteStartObject();
                    json.WriteString("ociVersion", state.OciVersion);
                    json.WriteString("id", id);
                    json.WriteNumber("pid", state.Pid);
                    json.WriteString("status", state.Status);
                    json.WriteString("bundle", state.Bundle);
                    json.WriteString("rootfs", Path.Combine(state.Bundle, "rootfs"));
                    json.WriteString("created", created);
                    json.WriteString("owner", "root");
                    json.WriteEndObject();
                }
            })));
            return 0;
        }
        Console.Out.WriteLine("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
        foreach (var (id, state, created) in rows)
            Console.Out.WriteLine($"{id}\t{state.Pid}\t{state.Status}\t{state.Bundle}\t{created.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffffffZ}\troot");
        return 0;
    }

    /// <summary>`ps [--format table|json] ID`: the container's processes (its cgroup's), as pids in JSON, else a table.</summary>
    public static int Ps(BuiltinRuntime runtime, string id, string format)
    {
        var status = runtime.GetStatus(id);
        if (status.State == RuntimeState.Unknown)
            throw new ContainerOpsException(ErrorKind.NotFound, "ContainerNotFound", $"container {id} does not exist", id);
        var pids = status.State == RuntimeState.Exited ? [] : runtime.ListPids(id);
        if (format == "json")
        {
            Console.Out.WriteLine("[" + string.Join(",", pids) + "]");
            return 0;
        }
        Console.Out.WriteLine("PID\tCMD");
        foreach (var pid in pids)
        {
            string command;
            try { command = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
            catch (IOException) { continue; } // ended meanwhile
            Console.Out.WriteLine($"{pid}\t{command}");
        }
        return 0;
    }

    /// <summary>`features`: what this runtime implements, in the OCI runtime features document's shape. Hooks are not run
    /// yet, so none is listed; there is no systemd cgroup driver, AppArmor or SELinux support.</summary>
    public static int Features()
    {
        Console.Out.WriteLine(Encoding.UTF8.GetString(IndentedJson.Object(json =>
        {
            json.WriteString("ociVersionMin", "1.0.0");
            json.WriteString("ociVersionMax", new OciSpec().OciVersion);
            json.WriteStartArray("hooks");
            json.WriteEndArray();
            json.WriteStartArray("mountOptions");
            foreach (var option in new[] { "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "remount",
                         "bind", "rbind", "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
                         "noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime", "strictatime", "nostrictatime" })
                json.WriteStringValue(option);
            json.WriteEndArray();
            json.WriteStartObject("linux");
            json.WriteStartArray("namespaces");
            foreach (var ns in new[] { "cgroup", "ipc", "mount", "network", "pid", "user", "uts" }) json.WriteStringValue(ns);
            json.WriteEndArray();
            json.WriteStartArray("capabilities");
            foreach (var cap in Capabilities.All) json.WriteStringValue(cap);
            json.WriteEndArray();
            json.WriteStartObject("cgroup");
            json.WriteBoolean("v1", true);
            json.WriteBoolean("v2", true);
            json.WriteBoolean("systemd", false);
            json.WriteBoolean("systemdUser", false);
            json.WriteEndObject();
            json.WriteStartObject("seccomp");
            json.WriteBoolean("enabled", true);
            json.WriteEndObject();
            json.WriteStartObject("apparmor");
            json.WriteBoolean("enabled", false);
            json.WriteEndObject();
            json.WriteStartObject("selinux");
            json.WriteBoolean("enabled", false);
            json.WriteEndObject();
            json.WriteEndObject();
        })));
        return 0;
    }
}
