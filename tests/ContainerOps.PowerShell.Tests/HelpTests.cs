using System.Management.Automation;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ContainerOps.PowerShell.Tests;

/// <summary>
/// Module/en-US/ContainerOps.PowerShell.dll-Help.xml is made from the cmdlets themselves: syntax and parameters from
/// their metadata, text and examples from their XML docs. This test fails when the file is stale; run it with
/// CONTAINEROPS_UPDATE_HELP=1 to rewrite the file.
/// </summary>
public class HelpTests
{
    private static readonly XNamespace Msh = "http://msh";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    private static string HelpPath => Path.Combine(ModuleShapeTests.RepoRootForTests, "Module", "en-US", "ContainerOps.PowerShell.dll-Help.xml");

    [Fact]
    public void HelpFileIsCurrent()
    {
        var generated = Generate();
        if (Environment.GetEnvironmentVariable("CONTAINEROPS_UPDATE_HELP") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(HelpPath)!);
            File.WriteAllText(HelpPath, generated);
        }
        Assert.True(File.Exists(HelpPath), "help file missing: run the tests with CONTAINEROPS_UPDATE_HELP=1");
        Assert.Equal(generated, File.ReadAllText(HelpPath));
    }

    [Fact]
    public void EveryCmdletHasASynopsisAndAnExample()
    {
        var doc = XDocument.Parse(Generate());
        foreach (var c in doc.Root!.Elements(Command + "command"))
        {
            var name = c.Element(Command + "details")!.Element(Command + "name")!.Value;
            Assert.False(string.IsNullOrWhiteSpace(c.Element(Command + "details")!.Element(Maml + "description")!.Value), name);
            Assert.True(c.Descendants(Command + "example").Any(), $"{name} has no example");
        }
    }

    internal static string Generate()
    {
        var docs = XDocument.Load(Path.ChangeExtension(typeof(ContainerOpsCmdlet).Assembly.Location, ".xml"));
        var members = docs.Root!.Element("members")!.Elements("member").ToDictionary(m => (string)m.Attribute("name")!);
        using var sh = new Shell();
        var commands = sh.Run("Get-Command -CommandType Cmdlet")
            .Select(o => (CmdletInfo)o.BaseObject).Where(c => c.ImplementingType.Assembly == typeof(ContainerOpsCmdlet).Assembly)
            .OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
        Assert.Equal(104, commands.Count);
        var root = new XElement(Msh + "helpItems", new XAttribute("schema", "maml"),
            new XAttribute(XNamespace.Xmlns + "maml", Maml), new XAttribute(XNamespace.Xmlns + "command", Command), new XAttribute(XNamespace.Xmlns + "dev", Dev));
        foreach (var c in commands) root.Add(CommandHelp(c, members));
        var sb = new StringBuilder();
        using (var w = System.Xml.XmlWriter.Create(new StringWriter(sb), new System.Xml.XmlWriterSettings { Indent = true, IndentChars = "  ", Encoding = new UTF8Encoding(false) }))
            new XDocument(new XComment(" Made from the cmdlets and their XML docs by tests/ContainerOps.PowerShell.Tests/HelpTests.cs; do not edit by hand. "), root).Save(w);
        return sb.ToString().Replace("utf-16", "utf-8") + "\n";
    }

    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable", "WarningVariable",
        "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "WhatIf", "Confirm",
    };

    private static XElement CommandHelp(CmdletInfo c, Dictionary<string, XElement> members)
    {
        var typeDoc = members.GetValueOrDefault("T:" + c.ImplementingType.FullName);
        var summary = Text(typeDoc?.Element("summary"));
        var paragraphs = summary.Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var synopsis = FirstSentence(paragraphs.FirstOrDefault() ?? c.Name);

        XElement Param(CommandParameterInfo p, bool inSyntax)
        {
            var prop = c.ImplementingType.GetProperty(p.Name)!;
            // A property of a generic base (GetClusterObjectsCommand<T>) is documented under the open type: Name`1.
            var declaring = prop.DeclaringType!.IsGenericType ? prop.DeclaringType.GetGenericTypeDefinition() : prop.DeclaringType;
            var doc = members.GetValueOrDefault($"P:{declaring.FullName}.{p.Name}");
            var pipeline = p.ValueFromPipeline && p.ValueFromPipelineByPropertyName ? "True (ByValue, ByPropertyName)"
                : p.ValueFromPipeline ? "True (ByValue)" : p.ValueFromPipelineByPropertyName ? "True (ByPropertyName)" : "False";
            var isSwitch = p.ParameterType == typeof(SwitchParameter);
            var typeName = TypeName(p.ParameterType);
            var e = new XElement(Command + "parameter",
                new XAttribute("required", p.IsMandatory.ToString().ToLowerInvariant()),
                new XAttribute("variableLength", p.ParameterType.IsArray.ToString().ToLowerInvariant()),
                new XAttribute("globbing", prop.GetCustomAttributes(typeof(SupportsWildcardsAttribute), true).Length > 0 ? "true" : "false"),
                new XAttribute("pipelineInput", pipeline),
                new XAttribute("position", p.Position >= 0 ? p.Position.ToString() : "named"),
                new XAttribute("aliases", p.Aliases.Count > 0 ? string.Join(", ", p.Aliases) : "none"),
                new XElement(Maml + "name", p.Name),
                new XElement(Maml + "description", Paras(Text(doc?.Element("summary")))));
            if (!isSwitch)
                e.Add(new XElement(Command + "parameterValue", new XAttribute("required", "true"), new XAttribute("variableLength", p.ParameterType.IsArray.ToString().ToLowerInvariant()), typeName));
            e.Add(new XElement(Dev + "type", new XElement(Maml + "name", typeName)));
            if (!inSyntax) e.Add(new XElement(Dev + "defaultValue", isSwitch ? "False" : "None"));
            return e;
        }

        var syntax = new XElement(Command + "syntax");
        foreach (var set in c.ParameterSets)
        {
            var item = new XElement(Command + "syntaxItem", new XElement(Maml + "name", c.Name));
            foreach (var p in set.Parameters.Where(p => !Common.Contains(p.Name)).OrderBy(p => p.Position < 0 ? int.MaxValue : p.Position).ThenBy(p => p.Name))
                item.Add(Param(p, inSyntax: true));
            if (set.Parameters.Any(p => p.Name == "WhatIf"))
            {
                item.Add(Switch("WhatIf", "Shows what would happen without doing it."));
                item.Add(Switch("Confirm", "Asks before each change."));
            }
            syntax.Add(item);
        }

        var parameters = new XElement(Command + "parameters");
        foreach (var p in c.ParameterSets.SelectMany(s => s.Parameters).Where(p => !Common.Contains(p.Name)).DistinctBy(p => p.Name).OrderBy(p => p.Name))
            parameters.Add(Param(p, inSyntax: false));

        var examples = new XElement(Command + "examples");
        var n = 0;
        foreach (var ex in typeDoc?.Elements("example") ?? [])
        {
            n++;
            var code = ex.Element("code")?.Value.Trim() ?? "";
            var remarks = Text(new XElement("r", ex.Nodes().Where(node => node is not XElement { Name.LocalName: "code" })));
            examples.Add(new XElement(Command + "example",
                new XElement(Maml + "title", $"-------------------------- Example {n} --------------------------"),
                new XElement(Dev + "code", code),
                new XElement(Dev + "remarks", Paras(remarks))));
        }

        var outputs = new XElement(Command + "returnValues");
        foreach (var t in c.OutputType)
            outputs.Add(new XElement(Command + "returnValue", new XElement(Dev + "type", new XElement(Maml + "name", t.Name))));

        return new XElement(Command + "command",
            new XElement(Command + "details",
                new XElement(Command + "name", c.Name),
                new XElement(Maml + "description", new XElement(Maml + "para", synopsis)),
                new XElement(Command + "verb", c.Verb),
                new XElement(Command + "noun", c.Noun)),
            new XElement(Maml + "description", paragraphs.Select(p => new XElement(Maml + "para", p))),
            syntax, parameters, outputs, examples);
    }

    private static XElement Switch(string name, string text) =>
        new(Command + "parameter", new XAttribute("required", "false"), new XAttribute("variableLength", "false"), new XAttribute("globbing", "false"),
            new XAttribute("pipelineInput", "False"), new XAttribute("position", "named"), new XAttribute("aliases", name == "WhatIf" ? "wi" : "cf"),
            new XElement(Maml + "name", name), new XElement(Maml + "description", new XElement(Maml + "para", text)),
            new XElement(Dev + "type", new XElement(Maml + "name", "SwitchParameter")));

    private static IEnumerable<XElement> Paras(string text) =>
        text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => new XElement(Maml + "para", p));

    private static string TypeName(Type t)
    {
        if (t == typeof(SwitchParameter)) return "SwitchParameter";
        var u = Nullable.GetUnderlyingType(t);
        return u is not null ? TypeName(u) : t.IsArray ? TypeName(t.GetElementType()!) + "[]" : t.Name;
    }

    private static string FirstSentence(string text)
    {
        var m = Regex.Match(text, @"^.*?[.](?=\s|$)", RegexOptions.Singleline);
        return m.Success ? m.Value : text;
    }

    /// <summary>Doc text with see/paramref resolved, lines joined, blank lines kept as paragraph breaks.</summary>
    private static string Text(XElement? e)
    {
        if (e is null) return "";
        var sb = new StringBuilder();
        foreach (var node in e.Nodes())
        {
            sb.Append(node switch
            {
                XText t => t.Value,
                XElement { Name.LocalName: "see" } s => ((string?)s.Attribute("cref"))?.Split('.').Last() ?? (string?)s.Attribute("langword") ?? s.Value,
                XElement { Name.LocalName: "paramref" or "typeparamref" } p => (string?)p.Attribute("name"),
                XElement { Name.LocalName: "para" } p => "\n\n" + Text(p) + "\n\n",
                XElement x => x.Value,
                _ => "",
            });
        }
        var lines = sb.ToString().Replace("\r", "").Split('\n').Select(l => l.Trim());
        var text = string.Join("\n", lines).Trim();
        text = Regex.Replace(text, @"\n{2,}", "\u0001");
        text = text.Replace('\n', ' ').Replace("\u0001", "\n\n");
        return Regex.Replace(text, @" {2,}", " ").Trim();
    }
}
