using ContainerOps.Core.Api;
using ContainerOps.Core.Events;

namespace ContainerOps.Daemon.Engine;

/// <summary>Container events (Docker's `/events`): every one carries the container's labels, its image and its name,
/// as dockerd's do, plus what the action adds (exitCode, signal, oldName…).</summary>
public sealed partial class ContainerManager
{
    public EventBus Events { get; }

    private void Emit(ContainerRecord r, string action, params (string Key, string Value)[] extra)
    {
        var attributes = new Dictionary<string, string>(r.Config.Labels) { ["image"] = r.Image, ["name"] = r.Name };
        foreach (var (key, value) in extra) attributes[key] = value;
        Events.Publish(EventTypes.Container, action, r.Id, attributes);
    }

    /// <summary>For what the API layer does with a container (attach, exec, export, commit); nothing for a container that
    /// is gone by then (an exec that outlived its container's removal).</summary>
    public void Emit(string idOrName, string action, params (string Key, string Value)[] extra)
    {
        ContainerRecord record;
        try { record = Find(idOrName).Record; }
        catch (ContainerOpsException) { return; }
        Emit(record, action, extra);
    }

    /// <summary>Docker's exec actions name the command: "exec_start: sh -c date".</summary>
    public static string ExecAction(string action, IEnumerable<string> cmd) => action + ": " + string.Join(' ', cmd);
}
