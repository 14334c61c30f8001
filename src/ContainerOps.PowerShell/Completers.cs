using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using ContainerOps.Client;

namespace ContainerOps.PowerShell;

/// <summary>Completion helpers: ask the daemon briefly, never start one for a Tab press.</summary>
internal static class Completion
{
    internal static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    /// <summary>Lists through the runspace's client, or a short-lived one that does not start a daemon for a Tab press.</summary>
    internal static IEnumerable<CompletionResult> Query<T>(Func<IContainerOpsClient, CancellationToken, Task<IReadOnlyList<T>>> list,
        Func<T, IEnumerable<(string Text, string Tip)>> candidates, string wordToComplete)
    {
        IContainerOpsClient? owned = null;
        try
        {
            var client = ClientConnections.Existing();
            if (client is null)
            {
                var options = ClientOptions.FromEnvironment();
                options.AutoStart = false;
                client = owned = ClientConnections.Create(options);
            }
            using var cts = new CancellationTokenSource(Budget);
            var items = list(client, cts.Token).GetAwaiter().GetResult();
            return Complete(items.SelectMany(candidates), wordToComplete).ToList();
        }
        catch
        {
            return [];
        }
        finally
        {
            owned?.Dispose();
        }
    }

    internal static IEnumerable<CompletionResult> Complete(IEnumerable<(string Text, string Tip)> candidates, string wordToComplete)
    {
        var word = (wordToComplete ?? "").Trim('\'', '"');
        var pattern = new WildcardPattern(WildcardPattern.Escape(word) + "*", WildcardOptions.IgnoreCase);
        foreach (var (text, tip) in candidates.Where(c => pattern.IsMatch(c.Text)).DistinctBy(c => c.Text).OrderBy(c => c.Text, StringComparer.Ordinal))
        {
            var quoted = text.IndexOfAny([' ', '$', '\'', '"', '`', ';', '(', ')', '{', '}', '@', '#', ',']) >= 0 ? $"'{text.Replace("'", "''")}'" : text;
            yield return new CompletionResult(quoted, text, CompletionResultType.ParameterValue, string.IsNullOrEmpty(tip) ? text : tip);
        }
    }
}

/// <summary>Completes container names (all containers, running or not).</summary>
public sealed class ContainerNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Query((client, ct) => client.ListContainersAsync(true, null, ct),
            c => [(ContainerOpsCmdlet.TrimSlash(c.Name), $"{c.Image} ({c.State})")], wordToComplete);
}

/// <summary>Completes image references (repository:tag).</summary>
public sealed class ImageReferenceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completion.Query((client, ct) => client.ListImagesAsync(false, ct), i => i.RepoTags.Select(t => (t, i.Id)), wordToComplete);
}

/// <summary>Completes -Ulimit with the limit names docker knows, ready for their values (nofile=).</summary>
public sealed class UlimitCompleter : IArgumentCompleter
{
    private static readonly string[] Names =
        ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Names.Where(n => n.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            .Select(n => new CompletionResult(n + "=", n + "=", CompletionResultType.ParameterValue, $"RLIMIT_{n.ToUpperInvariant()}: SOFT[:HARD]"));
}

/// <summary>Completes a namespace mode (-Pid): host, or container: followed by a container's name.</summary>
public sealed class NamespaceModeCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        if ("host".StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            yield return new CompletionResult("host", "host", CompletionResultType.ParameterValue, "the host's namespace");
        if (!"container:".StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase) && !wordToComplete.StartsWith("container:", StringComparison.OrdinalIgnoreCase)) yield break;
        var prefix = wordToComplete.Length > "container:".Length ? wordToComplete["container:".Length..] : "";
        foreach (var r in new ContainerNameCompleter().CompleteArgument(commandName, parameterName, prefix, commandAst, fakeBoundParameters))
            yield return new CompletionResult("container:" + r.CompletionText, "container:" + r.ListItemText, CompletionResultType.ParameterValue, r.ToolTip);
    }
}
