using System.Text.Json.Nodes;

namespace ContainerOps.PowerShell.Tests;

/// <summary>Get-StatefulSetHistory, Get-DaemonSetHistory, Undo-StatefulSet and Undo-DaemonSet against the fake client's
/// cluster objects: which ControllerRevisions are a set's, and what a rollback writes (the revision's template, without
/// the patch directive).</summary>
public class WorkloadSetHistoryTests : IDisposable
{
    private const string Apps = "apis/apps/v1/namespaces/default";
    private readonly Shell _sh = new();
    public void Dispose() => _sh.Dispose();

    private static JsonObject Template(string image) => new()
    {
        ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["app"] = "db" } },
        ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "c", ["image"] = image }) },
    };

    private void AddSet(string resource, string kind, string name, string uid, string image) =>
        _sh.Client.ClusterObjects[$"{Apps}/{resource}/{name}"] = new JsonObject
        {
            ["kind"] = kind,
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default", ["uid"] = uid, ["creationTimestamp"] = "2026-12-05T00:00:00Z" },
            ["spec"] = new JsonObject { ["replicas"] = 2, ["template"] = Template(image) },
        };

    private void AddRevision(string owner, string ownerUid, long number, string image, string? cause = null)
    {
        var template = Template(image);
        if (cause is not null) template["metadata"]!["annotations"] = new JsonObject { ["kubernetes.io/change-cause"] = cause };
        template["$patch"] = "replace";
        _sh.Client.ClusterObjects[$"{Apps}/controllerrevisions/{owner}-{number}abc"] = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{owner}-{number}abc", ["namespace"] = "default", ["creationTimestamp"] = "2026-12-05T00:00:00Z",
                ["ownerReferences"] = new JsonArray(new JsonObject { ["uid"] = ownerUid, ["controller"] = true, ["kind"] = "StatefulSet", ["name"] = owner }),
            },
            ["revision"] = number,
            ["data"] = new JsonObject { ["spec"] = new JsonObject { ["template"] = template } },
        };
    }

    [Fact]
    public void HistoryListsOnlyTheSetsOwnRevisionsLowestFirst()
    {
        AddSet("statefulsets", "StatefulSet", "db", "uid-db", "db:3");
        AddRevision("db", "uid-db", 3, "db:3");
        AddRevision("db", "uid-db", 1, "db:1", "first");
        AddRevision("other", "uid-other", 2, "x:2");
        var revisions = _sh.Run("Get-StatefulSetHistory db").Select(o => Assert.IsType<WorkloadSetRevision>(o.BaseObject)).ToList();
        Assert.Empty(_sh.Errors);
        Assert.Equal([1L, 3L], revisions.Select(r => r.Revision));
        Assert.Equal("first", revisions[0].ChangeCause);
        Assert.Equal(["db:1"], revisions[0].Images);
        Assert.Equal([false, true], revisions.Select(r => r.Current));
        Assert.Equal("StatefulSet", revisions[1].Kind);
        Assert.Matches(@"(?s)REVISION.*1 db-1abc\s+first\s+db:1.*3\* db-3abc\s+<none>\s+db:3", Table(revisions.Cast<object>().ToArray()));
    }

    private static string Table(object[] objects) => System.Text.RegularExpressions.Regex.Replace(FormatTests.Render(objects), "\x1b\\[[0-9;]*m", "");

    [Fact]
    public void UndoWritesThePreviousRevisionsTemplateOrTheOneAsked()
    {
        AddSet("statefulsets", "StatefulSet", "db", "uid-db", "db:3");
        AddRevision("db", "uid-db", 1, "db:1");
        AddRevision("db", "uid-db", 2, "db:2");
        AddRevision("db", "uid-db", 3, "db:3");
        Assert.Empty(_sh.Run("Undo-StatefulSet db -WhatIf"));
        Assert.Equal("db:3", Image("statefulsets/db"));

        var result = Assert.IsType<StatefulSetInfo>(Assert.Single(_sh.Run("Undo-StatefulSet db")).BaseObject);
        Assert.Empty(_sh.Errors);
        Assert.Equal(["db:2"], result.Images);
        var template = _sh.Client.ClusterObjects[$"{Apps}/statefulsets/db"]["spec"]!["template"]!.AsObject();
        Assert.False(template.ContainsKey("$patch"));
        Assert.Equal("db", template["metadata"]!["labels"]!["app"]!.GetValue<string>());

        _sh.Run("Undo-StatefulSet db -ToRevision 1");
        Assert.Equal("db:1", Image("statefulsets/db"));
    }

    private string Image(string set) => _sh.Client.ClusterObjects[$"{Apps}/{set}"]["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>();

    [Fact]
    public void AMissingRevisionIsAnErrorAndTheNewestOneAWarningNeitherWritesAnything()
    {
        AddSet("daemonsets", "DaemonSet", "agent", "uid-agent", "agent:2");
        AddRevision("agent", "uid-agent", 2, "agent:2");
        _sh.Run("Undo-DaemonSet agent");
        var error = Assert.Single(_sh.Errors);
        Assert.StartsWith("WorkloadSetRevisionNotFound", error.FullyQualifiedErrorId);
        Assert.Contains("daemonset default/agent has no revision before the newest", error.Exception.Message);
        _sh.Errors.Clear();
        _sh.Run("Undo-DaemonSet agent -ToRevision 7");
        Assert.Contains("no revision 7", Assert.Single(_sh.Errors).Exception.Message);
        _sh.Errors.Clear();
        _sh.Run("Undo-DaemonSet agent -ToRevision 2");
        Assert.Empty(_sh.Errors);
        Assert.Contains("already at revision 2", Assert.Single(_sh.Warnings));
        Assert.DoesNotContain(_sh.Client.Calls, c => c.StartsWith("PUT", StringComparison.Ordinal));
        Assert.Equal(2, Assert.IsType<WorkloadSetRevision>(Assert.Single(_sh.Run("Get-DaemonSet agent | Get-DaemonSetHistory")).BaseObject).Revision);
    }
}
