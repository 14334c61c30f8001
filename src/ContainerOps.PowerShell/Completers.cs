using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using ContainerOps.Client;

namespace ContainerOps.PowerShell;

/// <summary>Completion helpers: ask the daemon briefly, never start one for a Tab press.</summary>
internal static class Completion
{
    internal static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    internal static IContainerOpsClient? TryClient()
    {
        try
        {
            var options = ClientOptions.FromEnvironment();
            options.AutoStart = false;
            return ClientConnections.Get(options);
        }
        catch
        {
            return null;
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
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var client = Completion.TryClient();
        if (client is null) return [];
        try
        {
            using var cts = new CancellationTokenSource(Completion.Budget);
            var list = client.ListContainersAsync(true, null, cts.Token).GetAwaiter().GetResult();
            return Completion.Complete(list.Select(c => (ContainerOpsCmdlet.TrimSlash(c.Name), $"{c.Image} ({c.State})")), wordToComplete).ToList();
        }
        catch
        {
            return [];
        }
    }
}

/// <summary>Completes image references (repository:tag).</summary>
public sealed class ImageReferenceCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var client = Completion.TryClient();
        if (client is null) return [];
        try
        {
            using var cts = new CancellationTokenSource(Completion.Budget);
            var list = client.ListImagesAsync(false, cts.Token).GetAwaiter().GetResult();
            return Completion.Complete(list.SelectMany(i => i.RepoTags.Select(t => (t, i.Id))), wordToComplete).ToList();
        }
        catch
        {
            return [];
        }
    }
}
