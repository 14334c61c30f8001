namespace ContainerOps.Compose.Loading;

/// <summary>What `docker compose` takes before its verb: `-f`, `-p`, `--project-directory`, `--profile`, `--env-file`.</summary>
public sealed class ComposeLoadOptions
{
    /// <summary>Files in merge order; empty: compose.yaml (or its older names) found from the working directory up,
    /// with compose.override.yaml beside it, or COMPOSE_FILE.</summary>
    public List<string> Files { get; set; } = new();
    public string? ProjectName { get; set; }
    public string? ProjectDirectory { get; set; }
    /// <summary>Where to look for files and resolve relative `-f` paths; default: the process's current directory.</summary>
    public string? WorkingDirectory { get; set; }
    /// <summary>Enabled profiles; empty: COMPOSE_PROFILES. "*" enables every profile.</summary>
    public List<string> Profiles { get; set; } = new();
    /// <summary>Services named on the command line: enabled whatever their profiles.</summary>
    public List<string> Services { get; set; } = new();
    /// <summary>`--env-file`: replaces the project directory's `.env`.</summary>
    public List<string> EnvFiles { get; set; } = new();
    /// <summary>The environment; default: the process's.</summary>
    public IDictionary<string, string>? Environment { get; set; }
}
