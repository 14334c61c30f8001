using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ContainerOps.Core.Api;

namespace ContainerOps.Images.Config;

/// <summary>
/// Applies Dockerfile-style <c>--change</c> lines (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL,
/// VOLUME) to the "config" object of an OCI image config. CMD/ENTRYPOINT/VOLUME take the JSON form or the shell form.
/// </summary>
public static class ConfigChanges
{
    public const string Field = "changes";

    public static void Apply(JsonObject config, IEnumerable<string> changes)
    {
        foreach (var raw in changes)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var sp = line.IndexOfAny([' ', '\t']);
            var instr = (sp < 0 ? line : line[..sp]).ToUpperInvariant();
            var args = sp < 0 ? "" : line[(sp + 1)..].Trim();
            if (args.Length == 0) throw Bad(line, $"{instr} needs an argument");
            switch (instr)
            {
                case "CMD":
                    config["Cmd"] = ToArray(ExecOrShell(line, args));
                    break;
                case "ENTRYPOINT":
                    config["Entrypoint"] = ToArray(ExecOrShell(line, args));
                    break;
                case "ENV":
                    foreach (var (k, v) in KeyValues(line, args, allowSpaceForm: true)) SetEnv(config, k, v);
                    break;
                case "LABEL":
                    var labels = config["Labels"] as JsonObject ?? new JsonObject();
                    foreach (var (k, v) in KeyValues(line, args, allowSpaceForm: false)) labels[k] = v;
                    config["Labels"] = labels;
                    break;
                case "WORKDIR":
                    var wd = Unquote(args);
                    var cur = config["WorkingDir"]?.GetValue<string>();
                    config["WorkingDir"] = wd.StartsWith('/') ? wd : Path.Combine(string.IsNullOrEmpty(cur) ? "/" : cur, wd);
                    break;
                case "USER":
                    config["User"] = Unquote(args);
                    break;
                case "STOPSIGNAL":
                    config["StopSignal"] = Unquote(args);
                    break;
                case "EXPOSE":
                    var ports = config["ExposedPorts"] as JsonObject ?? new JsonObject();
                    foreach (var p in SplitWords(line, args))
                    {
                        var (num, proto) = p.Contains('/') ? (p[..p.IndexOf('/')], p[(p.IndexOf('/') + 1)..].ToLowerInvariant()) : (p, "tcp");
                        if (!ushort.TryParse(num, out var port) || port == 0 || proto is not ("tcp" or "udp" or "sctp"))
                            throw Bad(line, $"'{p}' is not a port[/tcp|udp|sctp]");
                        ports[$"{port}/{proto}"] = new JsonObject();
                    }
                    config["ExposedPorts"] = ports;
                    break;
                case "VOLUME":
                    var vols = config["Volumes"] as JsonObject ?? new JsonObject();
                    var list = args.StartsWith('[') ? ParseJsonArray(line, args) : SplitWords(line, args);
                    foreach (var v in list)
                    {
                        if (!v.StartsWith('/')) throw Bad(line, $"volume '{v}' must be an absolute path");
                        vols[v] = new JsonObject();
                    }
                    config["Volumes"] = vols;
                    break;
                default:
                    throw Bad(line, $"'{instr}' is not a supported change (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)");
            }
        }
    }

    private static ContainerOpsException Bad(string line, string why) =>
        new(ErrorKind.InvalidArgument, "InvalidChange", $"invalid change '{line}': {why}", line, Field);

    private static JsonArray ToArray(IEnumerable<string> items) => new(items.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());

    /// <summary>JSON form when the argument is a JSON array of strings, else shell form (/bin/sh -c).</summary>
    private static List<string> ExecOrShell(string line, string args)
    {
        if (args.StartsWith('['))
        {
            try { return ParseJsonArray(line, args); }
            catch (ContainerOpsException) { /* Docker falls back to the shell form for malformed JSON. */ }
        }
        return ["/bin/sh", "-c", args];
    }

    private static List<string> ParseJsonArray(string line, string args)
    {
        try
        {
            var arr = JsonNode.Parse(args) as JsonArray ?? throw Bad(line, "not a JSON array");
            return arr.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Bad(line, "JSON array items must be strings")).ToList();
        }
        catch (JsonException e) { throw Bad(line, e.Message); }
    }

    private static void SetEnv(JsonObject config, string key, string value)
    {
        var env = config["Env"] as JsonArray ?? new JsonArray();
        var existing = env.Select((n, i) => (n?.GetValue<string>() ?? "", i)).FirstOrDefault(t => t.Item1.StartsWith(key + "=", StringComparison.Ordinal) || t.Item1 == key);
        if (existing.Item1 != null && (existing.Item1.StartsWith(key + "=", StringComparison.Ordinal) || existing.Item1 == key))
            env[existing.i] = key + "=" + value;
        else env.Add((JsonNode)(key + "=" + value));
        config["Env"] = env;
    }

    /// <summary>key=value pairs (quotes and backslash escapes honoured), or the legacy "KEY value with spaces" form.</summary>
    private static List<(string, string)> KeyValues(string line, string args, bool allowSpaceForm)
    {
        var words = SplitWords(line, args, keepQuotesInfo: true);
        if (allowSpaceForm && !words[0].Contains('='))
        {
            var sp = args.IndexOfAny([' ', '\t']);
            if (sp < 0) throw Bad(line, "expected KEY=VALUE or KEY VALUE");
            return [(args[..sp], Unquote(args[(sp + 1)..].Trim()))];
        }
        var result = new List<(string, string)>();
        foreach (var w in words)
        {
            var eq = w.IndexOf('=');
            if (eq <= 0) throw Bad(line, $"'{w}' is not KEY=VALUE");
            result.Add((w[..eq], w[(eq + 1)..]));
        }
        return result;
    }

    private static string Unquote(string s)
    {
        var w = SplitWords("", s);
        return w.Count == 1 ? w[0] : s;
    }

    /// <summary>Splits on unquoted whitespace, removing quotes and backslash escapes like a shell word splitter.</summary>
    private static List<string> SplitWords(string line, string s, bool keepQuotesInfo = false)
    {
        var words = new List<string>();
        var cur = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < s.Length) cur.Append(s[++i]);
                else cur.Append(c);
                continue;
            }
            if (c is '"' or '\'') { quote = c; inWord = true; continue; }
            if (c == '\\' && i + 1 < s.Length) { cur.Append(s[++i]); inWord = true; continue; }
            if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(cur.ToString()); cur.Clear(); inWord = false; }
                continue;
            }
            cur.Append(c);
            inWord = true;
        }
        if (quote != '\0') throw Bad(line, "unterminated quote");
        if (inWord) words.Add(cur.ToString());
        if (words.Count == 0) throw Bad(line, "missing argument");
        return words;
    }
}
