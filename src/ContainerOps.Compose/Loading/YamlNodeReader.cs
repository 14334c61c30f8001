using ContainerOps.Compose.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ContainerOps.Compose.Loading;

/// <summary>What reading one file needs: its path (for messages), the interpolation, and the directory its
/// relative paths are resolved against.</summary>
internal sealed class FileContext
{
    public FileContext(string path, string baseDirectory, Interpolator interpolator, string displayBase)
    {
        Path = path;
        _displayBase = displayBase;
        BaseDirectory = baseDirectory;
        Interpolator = interpolator;
    }

    private readonly string _displayBase;

    public string Path { get; }
    public string BaseDirectory { get; }
    public Interpolator Interpolator { get; }
    /// <summary>The path as messages show it: relative to the working directory when inside it.</summary>
    public string DisplayPath => ComposeLoader.DisplayPath(Path, _displayBase);

    /// <summary>Loads the file's single document; YAML errors become <see cref="ComposeFileException"/>s with their position.</summary>
    public YamlNode LoadRoot()
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(Path);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            var message = StripMark(e.InnerException is { } inner && e.Message.Contains("(Line", StringComparison.Ordinal) ? inner.Message : e.Message);
            if (message.StartsWith("Duplicate key ", StringComparison.Ordinal)) message = $"the key \"{message[14..]}\" is given twice";
            throw new ComposeFileException(message, DisplayPath, (int)e.Start.Line, (int)e.Start.Column);
        }
        if (stream.Documents.Count == 0) throw new ComposeFileException("the file is empty", DisplayPath);
        if (stream.Documents.Count > 1) throw new ComposeFileException("a compose file holds one YAML document, this one holds " + stream.Documents.Count, DisplayPath);
        return stream.Documents[0].RootNode;
    }

    private static string StripMark(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: …): "; the position is given separately.
        var i = message.LastIndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line", StringComparison.Ordinal) && i > 0 ? message[(i + 3)..] : message;
    }

    public string ResolvePath(string path)
    {
        if (path.StartsWith("~/", StringComparison.Ordinal) || path == "~")
            path = System.IO.Path.Join(Environment.GetEnvironmentVariable("HOME") ?? "/root", path[1..]);
        return System.IO.Path.GetFullPath(path, BaseDirectory);
    }
}

/// <summary>A node of a compose file with its key path, so that every value read can say where it came from.
/// Reading a scalar interpolates it; reading a mapping applies YAML merge keys (<c>&lt;&lt;: *a</c>, <c>&lt;&lt;: [*a, *b]</c>).</summary>
internal readonly struct Node
{
    public Node(YamlNode yaml, string path, FileContext file)
    {
        Yaml = yaml;
        Path = path;
        File = file;
    }

    public YamlNode Yaml { get; }
    public string Path { get; }
    public FileContext File { get; }

    public bool IsMapping => Yaml is YamlMappingNode;
    public bool IsSequence => Yaml is YamlSequenceNode;
    public bool IsScalar => Yaml is YamlScalarNode;
    public bool IsNull => Yaml is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    public SourcePosition Position => new(File.DisplayPath, (int)Yaml.Start.Line, (int)Yaml.Start.Column);

    public ComposeFileException Error(string message) =>
        new(message, File.DisplayPath, (int)Yaml.Start.Line, (int)Yaml.Start.Column, Path);

    public Node Child(YamlNode yaml, string key) => new(yaml, Path.Length == 0 ? key : Path + "." + key, File);

    /// <summary>The entries of a mapping, merge keys applied (the mapping's own keys win, then earlier merge sources).</summary>
    public List<KeyValuePair<string, Node>> Entries()
    {
        if (Yaml is not YamlMappingNode map) throw Error($"must be a mapping, not {Describe()}");
        var result = new List<KeyValuePair<string, Node>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var merged = new List<YamlMappingNode>();
        foreach (var (k, v) in map.Children)
        {
            var key = KeyText(k);
            if (key == "<<" && k is YamlScalarNode { Style: ScalarStyle.Plain })
            {
                switch (v)
                {
                    case YamlMappingNode m: merged.Add(m); break;
                    case YamlSequenceNode seq:
                        foreach (var item in seq.Children)
                            merged.Add(item as YamlMappingNode ?? throw Child(item, "<<").Error("a merge key takes a mapping or a list of mappings"));
                        break;
                    default: throw Child(v, "<<").Error("a merge key takes a mapping or a list of mappings");
                }
                continue;
            }
            if (!seen.Add(key)) throw Child(k, key).Error("the key is given twice");
            result.Add(new(key, Child(v, key)));
        }
        foreach (var source in merged)
            foreach (var entry in new Node(source, Path, File).Entries())
                if (seen.Add(entry.Key)) result.Add(new(entry.Key, Child(entry.Value.Yaml, entry.Key)));
        return result;
    }

    private string KeyText(YamlNode key) => key is YamlScalarNode { Value: { } s } ? s : throw new Node(key, Path, File).Error("a key must be a plain value");

    public List<Node> Items()
    {
        if (Yaml is not YamlSequenceNode seq) throw Error($"must be a list, not {Describe()}");
        var result = new List<Node>(seq.Children.Count);
        for (var i = 0; i < seq.Children.Count; i++) result.Add(new(seq.Children[i], $"{Path}[{i}]", File));
        return result;
    }

    /// <summary>The scalar's text after interpolation; null for a YAML null.</summary>
    public string? ScalarOrNull()
    {
        if (IsNull) return null;
        if (Yaml is not YamlScalarNode scalar) throw Error($"must be a single value, not {Describe()}");
        try { return File.Interpolator.Interpolate(scalar.Value ?? ""); }
        catch (FormatException e) { throw Error(e.Message); }
    }

    public string String() => ScalarOrNull() ?? throw Error("must have a value");

    public bool Bool()
    {
        var s = String();
        return s.ToLowerInvariant() switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw Error($"invalid boolean \"{s}\": expected true or false"),
        };
    }

    public int Int(int min = int.MinValue)
    {
        var s = String();
        if (!int.TryParse(s, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n))
            throw Error($"invalid integer \"{s}\"");
        if (n < min) throw Error($"{n} is less than {min}");
        return n;
    }

    public long Long()
    {
        var s = String();
        return long.TryParse(s, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? n : throw Error($"invalid integer \"{s}\"");
    }

    public double Double()
    {
        var s = String();
        return double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n : throw Error($"invalid number \"{s}\"");
    }

    public TimeSpan Duration()
    {
        try { return ComposeValues.ParseDuration(String()); }
        catch (FormatException e) { throw Error(e.Message); }
    }

    public long Bytes()
    {
        try { return ComposeValues.ParseBytes(String()); }
        catch (FormatException e) { throw Error(e.Message); }
    }

    /// <summary>A list of strings, or (when <paramref name="allowSingle"/>) one string taken as a one-item list.</summary>
    public List<string> StringList(bool allowSingle = false)
    {
        if (allowSingle && IsScalar) return new() { String() };
        return Items().Select(i => i.String()).ToList();
    }

    /// <summary>`KEY: value` mapping or `["KEY=value", "KEY"]` list; a missing value is null.</summary>
    public List<KeyValuePair<string, string?>> KeyValues(char separator = '=')
    {
        var result = new List<KeyValuePair<string, string?>>();
        if (IsSequence)
        {
            foreach (var item in Items())
            {
                var s = item.String();
                var i = s.IndexOf(separator);
                var key = i < 0 ? s : s[..i];
                if (key.Length == 0) throw item.Error($"invalid entry \"{s}\": the key is empty");
                result.Add(new(key, i < 0 ? null : s[(i + 1)..]));
            }
            return result;
        }
        foreach (var (key, value) in Entries())
            result.Add(new(key, value.IsMapping || value.IsSequence ? throw value.Error("must be a single value") : value.ScalarOrNull()));
        return result;
    }

    public string Describe() => Yaml switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ when IsNull => "null",
        YamlScalarNode s => $"\"{s.Value}\"",
        _ => "this",
    };
}
