using System.Collections;
using ContainerOps.Compose.Model;

namespace ContainerOps.Compose.Loading;

/// <summary>Loads a compose project in phases, as the spec describes them: find the files → the environment (process
/// and .env) → read each file (interpolation, canonical form, `extends`) → `include` → merge the files in order →
/// project name → profiles → env_file → defaults (the default network, resource names) → validation. Nothing is
/// created anywhere: every mistake is reported before `up` touches the daemon.</summary>
public static class ComposeLoader
{
    public static readonly string[] DefaultFileNames = { "compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml" };
    private static readonly string[] OverrideFileNames = { "compose.override.yaml", "compose.override.yml", "docker-compose.override.yml", "docker-compose.override.yaml" };

    /// <summary>A project known by name only, for `-p NAME down` (and stop, ps, logs) where no compose file is at hand:
    /// the engine then finds everything from the daemon's labels.</summary>
    public static ComposeProject ByName(string name)
    {
        if (!IsValidProjectName(name))
            throw new ComposeFileException($"invalid project name \"{name}\": it must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit");
        return new ComposeProject { Name = name, WorkingDirectory = System.Environment.CurrentDirectory };
    }

    public static ComposeProject Load(ComposeLoadOptions options)
    {
        var cwd = Path.GetFullPath(options.WorkingDirectory ?? System.Environment.CurrentDirectory);
        var processEnv = options.Environment is { } given ? new Dictionary<string, string>(given, StringComparer.Ordinal) : ProcessEnvironment();
        var files = FindFiles(options, cwd, processEnv);
        var projectDir = options.ProjectDirectory is { } pd ? Path.GetFullPath(pd, cwd) : Path.GetDirectoryName(files[0])!;
        var env = ProjectEnvironment(options, projectDir, cwd, processEnv);
        var warnings = new List<string>();
        var project = LoadFiles(files, projectDir, env, warnings, new HashSet<string>(StringComparer.Ordinal), cwd, out var fileName);

        project.Name = ProjectName(options, env, fileName, projectDir);
        project.WorkingDirectory = projectDir;
        project.ConfigFiles = files;
        ApplyProfiles(project, options, env);
        ResolveEnvironment(project, env);
        ApplyDefaults(project);
        ComposeValidator.Validate(project);
        project.Warnings.AddRange(warnings);
        return project;
    }

    private static Dictionary<string, string> ProcessEnvironment()
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in System.Environment.GetEnvironmentVariables()) env[(string)e.Key] = (string?)e.Value ?? "";
        return env;
    }

    private static List<string> FindFiles(ComposeLoadOptions options, string cwd, Dictionary<string, string> env)
    {
        var given = options.Files.Count > 0 ? options.Files
            : env.TryGetValue("COMPOSE_FILE", out var cf) && cf.Length > 0 ? cf.Split(env.GetValueOrDefault("COMPOSE_PATH_SEPARATOR", ":")).ToList()
            : null;
        if (given is not null)
        {
            var files = given.Select(f => Path.GetFullPath(f, cwd)).ToList();
            foreach (var f in files)
                if (!File.Exists(f)) throw new ComposeFileException($"open {f}: no such file or directory");
            return files;
        }
        for (var dir = cwd; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            var found = DefaultFileNames.Select(n => Path.Join(dir, n)).FirstOrDefault(File.Exists);
            if (found is null) continue;
            var result = new List<string> { found };
            var overrideFile = OverrideFileNames.Select(n => Path.Join(dir, n)).FirstOrDefault(File.Exists);
            if (overrideFile is not null) result.Add(overrideFile);
            return result;
        }
        throw new ComposeFileException($"no configuration file provided: not found (looked for {string.Join(", ", DefaultFileNames)} in {cwd} and the folders above)");
    }

    /// <summary>The variables interpolation sees: the project directory's .env (or --env-file) under the process's
    /// environment, which wins.</summary>
    private static Dictionary<string, string> ProjectEnvironment(ComposeLoadOptions options, string projectDir, string cwd, Dictionary<string, string> processEnv)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        var envFiles = options.EnvFiles.Count > 0 ? options.EnvFiles.Select(f => Path.GetFullPath(f, cwd)).ToList() : new List<string> { Path.Join(projectDir, ".env") };
        foreach (var file in envFiles)
        {
            if (!File.Exists(file))
            {
                if (options.EnvFiles.Count > 0) throw new ComposeFileException($"the env file {file} does not exist");
                continue;
            }
            foreach (var (k, v) in DotEnvFile.Read(file, name => processEnv.TryGetValue(name, out var pv) ? pv : env.GetValueOrDefault(name)))
                env[k] = v;
        }
        foreach (var (k, v) in processEnv) env[k] = v;
        return env;
    }

    /// <summary>Reads and merges <paramref name="files"/> in order, with their includes. <paramref name="name"/> is the
    /// last `name:` given.</summary>
    private static ComposeProject LoadFiles(List<string> files, string projectDir, Dictionary<string, string> env, List<string> warnings,
        HashSet<string> including, string cwd, out string? name)
    {
        var interpolator = new Interpolator(v => env.TryGetValue(v, out var value) ? value : null);
        var reader = new ComposeFileReader(interpolator, warnings, cwd);
        var project = new ComposeProject();
        var origin = new Dictionary<string, string>(StringComparer.Ordinal);
        name = null;
        foreach (var file in files)
        {
            if (!including.Add(file)) throw new ComposeFileException($"include cycle: {file} includes itself");
            var fragment = reader.Read(file, projectDir);
            name = fragment.Name ?? name;
            foreach (var include in fragment.Includes) AddInclude(project, include, file, env, warnings, including, origin, cwd);
            var display = DisplayPath(file, cwd);
            foreach (var k in fragment.Services.Keys)
                if (origin.TryGetValue("services." + k, out var from))
                    throw new ComposeFileException($"service \"{k}\" is already defined by the included file {from}", display, keyPath: "services." + k);
            MergeResources(project.Networks, fragment.Networks, origin, "networks", display);
            MergeResources(project.Volumes, fragment.Volumes, origin, "volumes", display);
            MergeResources(project.Secrets, fragment.Secrets, origin, "secrets", display);
            MergeResources(project.Configs, fragment.Configs, origin, "configs", display);
            foreach (var (k, s) in fragment.Services)
                project.Services[k] = project.Services.TryGetValue(k, out var existing) ? ServiceMerger.Merge(existing, s) : s;
            including.Remove(file);
        }
        foreach (var v in interpolator.UnsetVariables) warnings.Add($"The \"{v}\" variable is not set. Defaulting to a blank string.");
        return project;
    }

    /// <summary>Adds one file's resources; <paramref name="origin"/> holds those that came from `include`, which may not be redefined.</summary>
    private static void MergeResources<T>(SortedDictionary<string, T> into, Dictionary<string, T> from, Dictionary<string, string> origin, string kind, string display)
    {
        foreach (var (k, v) in from)
        {
            if (origin.TryGetValue(kind + "." + k, out var included))
                throw new ComposeFileException($"{kind[..^1]} \"{k}\" is already defined by the included file {included}", display, keyPath: kind + "." + k);
            into[k] = v; // later files replace a resource's definition as a whole
        }
    }

    /// <summary>`include`: each entry is a project of its own (its directory, its .env), whose services and resources
    /// join this one; redefining them here is an error.</summary>
    private static void AddInclude(ComposeProject project, IncludeEntry include, string file, Dictionary<string, string> env, List<string> warnings,
        HashSet<string> including, Dictionary<string, string> origin, string cwd)
    {
        var dir = Path.GetDirectoryName(file)!;
        var paths = include.Paths.Select(p => Path.GetFullPath(p, dir)).ToList();
        foreach (var p in paths)
            if (!File.Exists(p)) throw include.Where.Error($"included file {DisplayPath(p, cwd)} does not exist");
        var includedDir = include.ProjectDirectory is { } pd ? Path.GetFullPath(pd, dir) : Path.GetDirectoryName(paths[0])!;
        var includedEnv = new Dictionary<string, string>(env, StringComparer.Ordinal);
        var envFiles = include.EnvFiles.Count > 0 ? include.EnvFiles.Select(f => Path.GetFullPath(f, dir)).ToList() : new List<string> { Path.Join(includedDir, ".env") };
        foreach (var f in envFiles.Where(File.Exists))
            foreach (var (k, v) in DotEnvFile.Read(f, n => env.GetValueOrDefault(n)))
                includedEnv.TryAdd(k, v); // the including project's variables win
        var included = LoadFiles(paths, includedDir, includedEnv, warnings, including, cwd, out _);
        ResolveEnvFiles(included, includedEnv);
        var from = DisplayPath(paths[0], cwd);
        Import(project.Services, included.Services, "services");
        Import(project.Networks, included.Networks, "networks");
        Import(project.Volumes, included.Volumes, "volumes");
        Import(project.Secrets, included.Secrets, "secrets");
        Import(project.Configs, included.Configs, "configs");

        void Import<T>(SortedDictionary<string, T> into, SortedDictionary<string, T> items, string kind)
        {
            foreach (var (k, v) in items)
            {
                if (into.ContainsKey(k))
                    throw include.Where.Error($"{kind[..^1]} \"{k}\" from {from} is already defined");
                into[k] = v;
                origin[kind + "." + k] = from;
            }
        }
    }

    internal static string DisplayPath(string path, string workingDirectory)
    {
        var rel = Path.GetRelativePath(workingDirectory, path);
        return rel.StartsWith("..", StringComparison.Ordinal) ? path : rel;
    }

    /// <summary>`-p`, then COMPOSE_PROJECT_NAME, then `name:`, each as given (and checked); else the project folder's
    /// name, normalised as docker compose does (lower case, only a-z 0-9 _ -, starting with a letter or digit).</summary>
    private static string ProjectName(ComposeLoadOptions options, Dictionary<string, string> env, string? fileName, string projectDir)
    {
        foreach (var (given, source) in new[] { (options.ProjectName, "-p"), (env.GetValueOrDefault("COMPOSE_PROJECT_NAME"), "COMPOSE_PROJECT_NAME"), (fileName, "name") })
        {
            if (string.IsNullOrEmpty(given)) continue;
            if (!IsValidProjectName(given))
                throw new ComposeFileException($"invalid project name \"{given}\" ({source}): it must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit");
            return given;
        }
        var normalised = NormalizeProjectName(Path.GetFileName(projectDir.TrimEnd('/')));
        return normalised.Length > 0 ? normalised
            : throw new ComposeFileException($"the folder name \"{Path.GetFileName(projectDir)}\" gives no project name: use -p or name:");
    }

    public static bool IsValidProjectName(string name) =>
        name.Length > 0 && (char.IsAsciiLetterLower(name[0]) || char.IsAsciiDigit(name[0]))
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-');

    public static string NormalizeProjectName(string name)
    {
        var kept = new string(name.ToLowerInvariant().Where(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-').ToArray());
        return kept.TrimStart('_', '-');
    }

    private static void ApplyProfiles(ComposeProject project, ComposeLoadOptions options, Dictionary<string, string> env)
    {
        var profiles = options.Profiles.Count > 0 ? options.Profiles
            : env.GetValueOrDefault("COMPOSE_PROFILES") is { Length: > 0 } p ? p.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList()
            : new List<string>();
        foreach (var named in options.Services)
            if (!project.Services.ContainsKey(named)) throw new ComposeFileException($"no such service: {named}");
        foreach (var (name, service) in project.Services.ToList())
        {
            var enabled = service.Profiles.Count == 0 || profiles.Contains("*") || service.Profiles.Any(profiles.Contains) || options.Services.Contains(name);
            if (enabled) continue;
            project.Services.Remove(name);
            project.DisabledServices[name] = service;
        }
    }

    private static void ResolveEnvironment(ComposeProject project, Dictionary<string, string> env)
    {
        ResolveEnvFiles(project, env);
    }

    /// <summary>Folds each service's env_file entries under its `environment:` (which wins), and fills `- KEY` entries
    /// from the environment.</summary>
    private static void ResolveEnvFiles(ComposeProject project, Dictionary<string, string> env)
    {
        foreach (var service in project.Services.Values)
        {
            var merged = new SortedDictionary<string, string?>(StringComparer.Ordinal);
            foreach (var file in service.EnvFiles)
            {
                if (!File.Exists(file.Path))
                {
                    if (file.Required)
                        throw new ComposeFileException($"env file {file.Path} not found", file.Position?.File, file.Position?.Line ?? 0, file.Position?.Column ?? 0, $"services.{service.Name}.env_file");
                    continue;
                }
                foreach (var (k, v) in DotEnvFile.Read(file.Path, n => env.GetValueOrDefault(n))) merged[k] = v;
            }
            foreach (var (k, v) in service.Environment) merged[k] = v ?? env.GetValueOrDefault(k);
            service.Environment = merged;
            service.EnvFiles.Clear(); // folded in: an including project must not read them again
        }
    }

    /// <summary>The default network when a service needs one, and the names resources get on the daemon.</summary>
    private static void ApplyDefaults(ComposeProject project)
    {
        foreach (var service in project.Services.Values)
            if (service.NetworkMode is null && service.Networks is null)
            {
                service.Networks = new(StringComparer.Ordinal) { ["default"] = new ServiceNetwork() };
                project.Networks.TryAdd("default", new NetworkConfig());
            }
        foreach (var (key, n) in project.Networks) n.Name ??= n.External ? key : $"{project.Name}_{key}";
        foreach (var (key, v) in project.Volumes) v.Name ??= v.External ? key : $"{project.Name}_{key}";
        foreach (var (key, s) in project.Secrets) s.Name ??= $"{project.Name}_{key}";
        foreach (var (key, c) in project.Configs) c.Name ??= $"{project.Name}_{key}";
    }
}
