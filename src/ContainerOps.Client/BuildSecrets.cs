using System.Text;

namespace ContainerOps.Client;

/// <summary>
/// Build secrets as <c>docker build --secret</c> names them: <c>id=ID,src=PATH</c> (a file, also <c>source=</c>),
/// <c>id=ID,env=VAR</c> (an environment variable of the caller), <c>type=file|env</c> optional; a bare <c>id=ID</c>
/// takes the variable ID when it is set, else the file ID. The values go to the daemon in one request header.
/// </summary>
public static class BuildSecrets
{
    /// <summary>Reads one --secret specification. Throws ArgumentException naming what is wrong.</summary>
    public static (string Id, byte[] Value) Read(string spec, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? id = null, src = null, env = null, type = null;
        foreach (var field in spec.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = field.IndexOf('=');
            var key = (eq < 0 ? field : field[..eq]).Trim().ToLowerInvariant();
            var value = eq < 0 ? "" : field[(eq + 1)..].Trim();
            switch (key)
            {
                case "id": id = value; break;
                case "src" or "source": src = value; break;
                case "env": env = value; break;
                case "type":
                    if (value is not ("file" or "env")) throw new ArgumentException($"secret '{spec}': type must be file or env");
                    type = value;
                    break;
                default: throw new ArgumentException($"secret '{spec}': unknown field '{key}' (id, src, env, type)");
            }
        }
        if (string.IsNullOrEmpty(id)) throw new ArgumentException($"secret '{spec}' needs an id (id=NAME,src=FILE or id=NAME,env=VAR)");
        if (type == "env" && env == null) { env = src ?? id; src = null; }
        if (env == null && src == null && type != "file" && environment(id) != null) env = id;
        if (env != null)
        {
            var v = environment(env) ?? throw new ArgumentException($"secret '{id}': environment variable {env} is not set");
            return (id, Encoding.UTF8.GetBytes(v));
        }
        var path = src ?? id;
        if (!File.Exists(path)) throw new ArgumentException($"secret '{id}': file '{path}' not found");
        return (id, File.ReadAllBytes(path));
    }
}
