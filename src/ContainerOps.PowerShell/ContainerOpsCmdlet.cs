using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using ContainerOps.Client;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>
/// Base of every ContainerOps cmdlet: a client connected lazily once per runspace, daemon errors as ErrorRecords,
/// and async calls that stop when the pipeline stops (Ctrl+C cancels the token handed to the client).
/// </summary>
public abstract class ContainerOpsCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _stopping = new();
    private IContainerOpsClient? _client;

    /// <summary>Cancelled by <see cref="StopProcessing"/>.</summary>
    protected CancellationToken StopToken => _stopping.Token;

    protected override void StopProcessing()
    {
        try { _stopping.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>The runspace's client; connects (and auto-starts a daemon) on first use. A failure to connect ends the command.</summary>
    protected IContainerOpsClient Client
    {
        get
        {
            if (_client is not null) return _client;
            try
            {
                _client = ClientConnections.Get();
            }
            catch (ContainerOpsException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(ex));
            }
            catch (Exception ex) when (ex is not PipelineStoppedException)
            {
                ThrowTerminatingError(new ErrorRecord(ex, "DaemonUnavailable", ErrorCategory.ResourceUnavailable, null));
            }
            return _client!;
        }
    }

    /// <summary>Runs an async client call on the pipeline thread; a stopped pipeline surfaces as <see cref="PipelineStoppedException"/>.</summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> call)
    {
        try
        {
            return call(StopToken).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    protected void Run(Func<CancellationToken, Task> call) => Run(async ct => { await call(ct).ConfigureAwait(false); return true; });

    /// <summary>Runs <paramref name="call"/> while calling <paramref name="tick"/> on the pipeline thread every
    /// <paramref name="interval"/> (for Write-Progress, which other threads may not call).</summary>
    protected T RunWithTicks<T>(Func<CancellationToken, Task<T>> call, TimeSpan interval, Action tick)
    {
        var task = call(StopToken);
        try
        {
            while (!task.Wait(interval)) tick();
            return task.GetAwaiter().GetResult();
        }
        catch (AggregateException ae) when (ae.InnerExceptions.Count == 1)
        {
            if (ae.InnerException is OperationCanceledException && StopToken.IsCancellationRequested) throw new PipelineStoppedException();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ae.InnerException!).Throw();
            throw;
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>Enumerates an async sequence on the pipeline thread, so each item can be written as it arrives.</summary>
    protected IEnumerable<T> Enumerate<T>(IAsyncEnumerable<T> sequence)
    {
        var e = sequence.GetAsyncEnumerator(StopToken);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = e.MoveNextAsync().AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
                {
                    throw new PipelineStoppedException();
                }
                if (!more) yield break;
                yield return e.Current;
            }
        }
        finally
        {
            try { e.DisposeAsync().AsTask().GetAwaiter().GetResult(); } catch (OperationCanceledException) { }
        }
    }

    /// <summary>Writes a daemon error as a non-terminating error (the pipeline goes on with the next object).</summary>
    protected void WriteApiError(ContainerOpsException ex) => WriteError(ErrorRecords.From(ex));

    /// <summary>Runs one step for one target; a daemon error is written and false returned.</summary>
    protected bool TryStep(Action step)
    {
        try
        {
            step();
            return true;
        }
        catch (ContainerOpsException ex)
        {
            WriteApiError(ex);
            return false;
        }
    }

    /// <summary>The summary row of one container (for -PassThru), or its details as a fallback when listing misses it.</summary>
    protected object GetContainerObject(string idOrName)
    {
        var list = Run(ct => Client.ListContainersAsync(true, null, ct));
        foreach (var c in list)
            if (c.Id == idOrName || TrimSlash(c.Name) == TrimSlash(idOrName)) return c;
        foreach (var c in list)
            if (c.Id.StartsWith(idOrName, StringComparison.Ordinal)) return c;
        return Run(ct => Client.InspectContainerAsync(idOrName, ct));
    }

    /// <summary>The items whose name matches one of <paramref name="names"/> (wildcards allowed; null: all). A plain
    /// name that matches nothing is written as an ObjectNotFound error.</summary>
    protected List<T> FilterByName<T>(IEnumerable<T> items, string[]? names, Func<T, string> nameOf, string what, string errorId)
    {
        var list = items.ToList();
        if (names is null) return list;
        var patterns = names.Select(n => (Text: n, Pattern: new WildcardPattern(n, WildcardOptions.IgnoreCase))).ToList();
        foreach (var p in patterns.Where(p => !WildcardPattern.ContainsWildcardCharacters(p.Text)))
            if (!list.Any(x => p.Pattern.IsMatch(nameOf(x)))) WriteError(ErrorRecords.NotFound(what, errorId, p.Text));
        return list.Where(x => patterns.Any(p => p.Pattern.IsMatch(nameOf(x)))).ToList();
    }

    internal static string TrimSlash(string name) => name.StartsWith('/') ? name[1..] : name;

    /// <summary>Sets $global:LASTEXITCODE, as a native command would, so docker-run habits keep working.</summary>
    protected void SetLastExitCode(int code) => SessionState.PSVariable.Set("global:LASTEXITCODE", code);

    /// <summary>KEY=VALUE entries from hashtables and strings (a bare KEY takes its value from this process, as docker does).</summary>
    internal static List<string> ToKeyValueList(object[]? items, bool inheritBareKeys)
    {
        var result = new List<string>();
        if (items is null) return result;
        foreach (var raw in items)
        {
            var item = raw is PSObject pso ? pso.BaseObject : raw;
            switch (item)
            {
                case null:
                    break;
                case IDictionary dict:
                    foreach (DictionaryEntry de in dict)
                        result.Add($"{Unwrap(de.Key)}={Unwrap(de.Value)}");
                    break;
                case string s when s.Contains('='):
                    result.Add(s);
                    break;
                case string s when inheritBareKeys:
                    if (System.Environment.GetEnvironmentVariable(s) is { } v) result.Add($"{s}={v}");
                    break;
                case string s:
                    result.Add(s + "=");
                    break;
                default:
                    throw new ArgumentException($"'{item}' is neither a hashtable nor a KEY=VALUE string.");
            }
        }
        return result;
    }

    internal static Dictionary<string, string> ToDictionary(object[]? items)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kv in ToKeyValueList(items, inheritBareKeys: false))
        {
            var i = kv.IndexOf('=');
            d[kv[..i]] = kv[(i + 1)..];
        }
        return d;
    }

    private static string Unwrap(object? o) => (o is PSObject p ? p.BaseObject : o)?.ToString() ?? "";
}

/// <summary>Maps the daemon's <see cref="ApiError"/> to ErrorRecords: the error id is the API's, the target its target.</summary>
public static class ErrorRecords
{
    public static ErrorRecord From(ContainerOpsException ex)
    {
        var e = ex.Error;
        var record = new ErrorRecord(ex, string.IsNullOrEmpty(e.Id) ? "ContainerOpsError" : e.Id, CategoryFor(e), e.Target);
        if (!string.IsNullOrEmpty(e.Field))
            record.ErrorDetails = new ErrorDetails(e.Message) { RecommendedAction = $"Check the value of {e.Field}." };
        return record;
    }

    public static ErrorCategory CategoryFor(ApiError e) => e.Kind switch
    {
        ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        ErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        // A name or tag that is taken is "exists"; a container in the wrong state is "invalid operation".
        ErrorKind.Conflict => IsExistsConflict(e.Id) ? ErrorCategory.ResourceExists : ErrorCategory.InvalidOperation,
        ErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        _ => ErrorCategory.NotSpecified,
    };

    private static bool IsExistsConflict(string? id) =>
        id is not null && (id.Contains("Exists", StringComparison.OrdinalIgnoreCase) || id.Contains("NameInUse", StringComparison.OrdinalIgnoreCase)
                           || id.Contains("Duplicate", StringComparison.OrdinalIgnoreCase));

    public static ErrorRecord NotFound(string what, string id, string name) =>
        new(new ItemNotFoundException($"No {what} matches '{name}'."), id, ErrorCategory.ObjectNotFound, name);
}

/// <summary>One client per runspace, made on first use from the environment (CONTAINEROPS_HOST/ROOT/RUN_ROOT);
/// when those variables change, the next command connects afresh.</summary>
internal static class ClientConnections
{
    private sealed class Entry
    {
        public IContainerOpsClient? Client;
        public string? Key;
    }

    private static readonly ConditionalWeakTable<Runspace, Entry> s_byRunspace = new();
    private static readonly Entry s_noRunspace = new();

    /// <summary>How clients are made; a seam for tests.</summary>
    internal static Func<ClientOptions, IContainerOpsClient> Factory { get; set; } = o => ContainerOpsClient.Connect(o);

    public static IContainerOpsClient Get(ClientOptions? options = null)
    {
        options ??= ClientOptions.FromEnvironment();
        var key = $"{options.EffectiveSocketPath}|{options.Root}";
        var rs = Runspace.DefaultRunspace;
        var entry = rs is null ? s_noRunspace : s_byRunspace.GetValue(rs, _ => new Entry());
        lock (entry)
        {
            if (entry.Client is not null && entry.Key == key) return entry.Client;
            var old = entry.Client;
            entry.Client = Factory(options);
            entry.Key = key;
            old?.Dispose();
            return entry.Client;
        }
    }

    /// <summary>The runspace's client if a command already connected one (current environment), else null.</summary>
    public static IContainerOpsClient? Existing()
    {
        var options = ClientOptions.FromEnvironment();
        var key = $"{options.EffectiveSocketPath}|{options.Root}";
        var rs = Runspace.DefaultRunspace;
        var entry = rs is null ? s_noRunspace : s_byRunspace.GetValue(rs, _ => new Entry());
        lock (entry) return entry.Key == key ? entry.Client : null;
    }

    /// <summary>A client made outside the cache (the caller disposes it).</summary>
    public static IContainerOpsClient Create(ClientOptions options) => Factory(options);

    public static void DisposeAll()
    {
        foreach (var (_, entry) in s_byRunspace)
            lock (entry) { entry.Client?.Dispose(); entry.Client = null; }
        lock (s_noRunspace) { s_noRunspace.Client?.Dispose(); s_noRunspace.Client = null; }
    }
}

/// <summary>Closes the module's connections when it is removed.</summary>
public sealed class ModuleCleanup : IModuleAssemblyCleanup
{
    public void OnRemove(PSModuleInfo psModuleInfo) => ClientConnections.DisposeAll();
}

/// <summary>-Name as the Get- cmdlets of cluster objects take it: names or wildcards. A plain name that matches nothing
/// is an error (ObjectNotFound, "{Kind}NotFound"); a wildcard that matches nothing is not.</summary>
/// <summary>-Label of the cmdlets that make cluster objects: a hashtable as metadata.labels.</summary>
internal static class ClusterLabels
{
    public static System.Text.Json.Nodes.JsonObject ToJson(System.Collections.Hashtable labels) =>
        new(labels.Keys.Cast<object>().Select(k => KeyValuePair.Create(k.ToString()!, (System.Text.Json.Nodes.JsonNode?)(labels[k]?.ToString() ?? ""))));
}

internal static class NameFilter
{
    public static IEnumerable<T> Select<T>(Cmdlet cmdlet, string[]? names, IEnumerable<T> items, Func<T, string> nameOf, string kind, string where)
    {
        var list = items.ToList();
        foreach (var name in names ?? [])
            if (!WildcardPattern.ContainsWildcardCharacters(name) && !list.Any(i => string.Equals(nameOf(i), name, StringComparison.OrdinalIgnoreCase)))
                cmdlet.WriteError(new ErrorRecord(new ItemNotFoundException($"{kind.ToLowerInvariant()} \"{name}\" not found {where}"), kind + "NotFound", ErrorCategory.ObjectNotFound, name));
        var patterns = names?.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
        return patterns is null ? list : list.Where(i => patterns.Any(p => p.IsMatch(nameOf(i))));
    }
}
