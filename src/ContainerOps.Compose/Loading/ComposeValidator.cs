using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Loading;

/// <summary>Checks that hold across the project: every reference resolves (depends_on, networks, named volumes,
/// secrets, configs, network_mode service:…), dependencies form no cycle, and each service can be created.</summary>
public static class ComposeValidator
{
    public static void Validate(ComposeProject project)
    {
        foreach (var (name, s) in project.Services)
        {
            var at = "services." + name;
            SourcePosition? Where(string attribute) => s.Positions.GetValueOrDefault(attribute);
            if (s.Image is null && s.Build is null) throw Error(at, "has neither an image nor a build section", Where(""));
            foreach (var (dep, d) in s.DependsOn)
            {
                if (project.Services.ContainsKey(dep)) continue;
                if (!d.Required) { project.Warnings.Add($"{at}.depends_on.{dep}: optional service \"{dep}\" is not enabled, ignored"); continue; }
                throw Error($"{at}.depends_on", project.DisabledServices.ContainsKey(dep)
                    ? $"service \"{dep}\" is disabled by its profiles ({string.Join(", ", project.DisabledServices[dep].Profiles)})"
                    : $"service \"{dep}\" is not defined", d.Position);
            }
            if (s.NetworkMode is { } mode)
            {
                if (s.Networks is { Count: > 0 }) throw Error(at, "network_mode and networks cannot be used together", Where("network_mode"));
                if (!(mode is "none" or "host" or "bridge" || mode.StartsWith("service:", StringComparison.Ordinal) || mode.StartsWith("container:", StringComparison.Ordinal)))
                    throw Error($"{at}.network_mode", $"invalid network_mode \"{mode}\": none, host, bridge, service:NAME or container:NAME", Where("network_mode"));
            }
            foreach (var (field, used) in s.ServicesUsed())
                if (!project.Services.ContainsKey(used)) throw Error($"{at}.{field}", $"service \"{used}\" is not defined", Where(field));
            foreach (var (field, shared) in new[] { ("pid", s.Pid), ("ipc", s.Ipc) })
                if (shared is not null && !(shared is "host" || (field == "ipc" && shared is "private" or "shareable" or "none")
                                            || shared.StartsWith("service:", StringComparison.Ordinal) || shared.StartsWith("container:", StringComparison.Ordinal)))
                    throw Error($"{at}.{field}", $"invalid {field} \"{shared}\": host, {(field == "ipc" ? "private, shareable, " : "")}service:NAME or container:NAME", Where(field));
            foreach (var (net, n) in s.Networks ?? new())
                if (!project.Networks.ContainsKey(net)) throw Error($"{at}.networks", $"network \"{net}\" is not defined in the top-level networks", n.Position);
            for (var i = 0; i < s.Volumes.Count; i++)
            {
                var v = s.Volumes[i];
                if (v.Type == "volume" && v.Source is { } source && !project.Volumes.ContainsKey(source))
                    throw Error($"{at}.volumes[{i}]", $"volume \"{source}\" is not defined in the top-level volumes", v.Position);
            }
            var targets = s.Volumes.GroupBy(v => v.Target).FirstOrDefault(g => g.Count() > 1);
            if (targets is not null) throw Error($"{at}.volumes", $"\"{targets.Key}\" is mounted twice", targets.Last().Position);
            foreach (var secret in s.Secrets)
                if (!project.Secrets.ContainsKey(secret.Source)) throw Error($"{at}.secrets", $"secret \"{secret.Source}\" is not defined in the top-level secrets", secret.Position);
            foreach (var config in s.Configs)
                if (!project.Configs.ContainsKey(config.Source)) throw Error($"{at}.configs", $"config \"{config.Source}\" is not defined in the top-level configs", config.Position);
            if (s.ContainerName is not null && s.Replicas > 1)
                throw Error(at, $"container_name \"{s.ContainerName}\" cannot be used with {s.Replicas} replicas: container names must be unique", Where("container_name"));
        }
        CheckCycles(project);
    }

    private static void CheckCycles(ComposeProject project)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1: on the current path, 2: done
        var path = new List<string>();
        foreach (var name in project.Services.Keys) Visit(name);

        void Visit(string name)
        {
            if (state.GetValueOrDefault(name) == 2) return;
            if (state.GetValueOrDefault(name) == 1)
            {
                var cycle = path.Skip(path.IndexOf(name)).Append(name).ToList();
                throw Error("services." + name + ".depends_on", $"dependency cycle: {string.Join(" -> ", cycle)}", EdgePosition(project.Services[name], cycle[1]));
            }
            state[name] = 1;
            path.Add(name);
            if (project.Services.TryGetValue(name, out var s))
            {
                foreach (var dep in s.DependsOn.Keys) Visit(dep);
                foreach (var (_, used) in s.ServicesUsed()) Visit(used);
            }
            path.RemoveAt(path.Count - 1);
            state[name] = 2;
        }
    }

    /// <summary>Where <paramref name="service"/> names <paramref name="used"/>: its depends_on entry, else the attribute
    /// (network_mode, pid, ipc, volumes_from) that uses the service's containers.</summary>
    private static SourcePosition? EdgePosition(ServiceConfig service, string used) =>
        service.DependsOn.TryGetValue(used, out var d) ? d.Position
        : service.ServicesUsed().Where(u => u.Service == used).Select(u => service.Positions.GetValueOrDefault(u.Field)).FirstOrDefault();

    private static ComposeFileException Error(string path, string message, SourcePosition? at) =>
        new(message, at?.File, at?.Line ?? 0, at?.Column ?? 0, path);
}
