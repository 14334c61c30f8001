using System.Globalization;
using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace ContainerOps.Compose.Output;

/// <summary>Prints a <see cref="Map"/> tree as YAML (block style, strings quoted where YAML would read them as
/// something else) or as indented JSON.</summary>
public static class ConfigWriter
{
    public static string ToYaml(Map tree)
    {
        var sw = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(sw, new EmitterSettings(2, int.MaxValue, false, 1024, false, true, "\n"));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, true));
        Emit(emitter, tree);
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        return sw.ToString();
    }

    private static void Emit(IEmitter e, object? value)
    {
        switch (value)
        {
            case null: e.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false)); break;
            case string s: e.Emit(new Scalar(null, null, s, NeedsQuotes(s) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any, true, true)); break;
            case bool b: e.Emit(new Scalar(null, null, b ? "true" : "false", ScalarStyle.Plain, true, false)); break;
            case long or int: e.Emit(new Scalar(null, null, Convert.ToString(value, CultureInfo.InvariantCulture)!, ScalarStyle.Plain, true, false)); break;
            case double d: e.Emit(new Scalar(null, null, d.ToString("R", CultureInfo.InvariantCulture), ScalarStyle.Plain, true, false)); break;
            case Map m:
                e.Emit(new MappingStart(null, null, true, m.Count == 0 ? MappingStyle.Flow : MappingStyle.Block));
                foreach (var (k, v) in m)
                {
                    Emit(e, k);
                    Emit(e, v);
                }
                e.Emit(new MappingEnd());
                break;
            case List<object?> list:
                e.Emit(new SequenceStart(null, null, true, list.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in list) Emit(e, item);
                e.Emit(new SequenceEnd());
                break;
            default: throw new ArgumentException($"unexpected value of type {value.GetType().Name}");
        }
    }

    /// <summary>A plain scalar that YAML 1.1 or 1.2 would read as a number, boolean or null, or that starts or ends
    /// with something a plain scalar cannot, is printed in double quotes.</summary>
    private static bool NeedsQuotes(string s)
    {
        if (s.Length == 0 || s != s.Trim() || s.Any(char.IsControl)) return true;
        if (s.ToLowerInvariant() is "true" or "false" or "yes" or "no" or "on" or "off" or "y" or "n" or "null" or "~") return true;
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            || s.StartsWith("0o", StringComparison.Ordinal) || s.Contains(':') && s.Split(':').All(p => p.All(char.IsAsciiDigit)))
            return true;
        return false;
    }

    public static string ToJson(Map tree)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            Write(w, tree);
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static void Write(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case long l: w.WriteNumberValue(l); break;
            case int i: w.WriteNumberValue(i); break;
            case double d: w.WriteNumberValue(d); break;
            case Map m:
                w.WriteStartObject();
                foreach (var (k, v) in m)
                {
                    w.WritePropertyName(k);
                    Write(w, v);
                }
                w.WriteEndObject();
                break;
            case List<object?> list:
                w.WriteStartArray();
                foreach (var item in list) Write(w, item);
                w.WriteEndArray();
                break;
            default: throw new ArgumentException($"unexpected value of type {value.GetType().Name}");
        }
    }
}
