using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>RBAC through kubectl 1.32 over TLS: a service account's token may do what its bindings allow and nothing
/// else, `kubectl auth can-i` (with --as and --list) answers as the requests would be answered, nobody grants more
/// than they hold, and admin, edit and view gather the roles labelled to join them.</summary>
public sealed class RbacTests : IAsyncLifetime
{
    private TlsClusterServer _server = null!;
    public Task InitializeAsync() { _server = new TlsClusterServer(); return Task.CompletedTask; }
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private (int Exit, string Out, string Err) AsToken(string token, params string[] args) => ServiceAccountTokenTests.AsToken(_server, token, args);

    private string TokenOf(string account, string ns = "default")
    {
        _server.Ok("create", "serviceaccount", account, "-n", ns);
        return _server.Ok("create", "token", account, "-n", ns).Trim();
    }

    private string CanI(params string[] args)
    {
        var (_, answer, _) = _server.Kubectl(["auth", "can-i", .. args]);
        return answer.Trim();
    }

    [Fact]
    public void AnAccountMayDoWhatItsBindingsAllowAndIsToldExactlyWhatItMayNot()
    {
        var token = TokenOf("robot");
        var (exit, _, err) = AsToken(token, "get", "pods");
        Assert.NotEqual(0, exit);
        Assert.Contains("pods is forbidden: User \"system:serviceaccount:default:robot\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"", err);
        (exit, _, err) = AsToken(token, "get", "nodes");
        Assert.Contains("cannot list resource \"nodes\" in API group \"\" at the cluster scope", err);

        _server.Ok("create", "rolebinding", "robot-view", "--clusterrole", "view", "--serviceaccount", "default:robot");
        (exit, _, err) = AsToken(token, "get", "pods");
        Assert.True(exit == 0, err);
        (exit, _, err) = AsToken(token, "run", "web", "--image", "busybox");
        Assert.Contains("pods is forbidden: User \"system:serviceaccount:default:robot\" cannot create resource \"pods\"", err);
        (exit, _, err) = AsToken(token, "get", "secrets");
        Assert.Contains("cannot list resource \"secrets\"", err); // view leaves secrets out
        (exit, _, err) = AsToken(token, "get", "pods", "-n", "kube-system");
        Assert.Contains("in the namespace \"kube-system\"", err);

        // One name is enough when the rule names it.
        _server.Ok("create", "configmap", "settings", "--from-literal", "a=1");
        _server.Ok("create", "configmap", "other", "--from-literal", "b=2");
        _server.Ok("create", "role", "settings-editor", "--verb", "get,update,patch", "--resource", "configmaps", "--resource-name", "settings");
        _server.Ok("create", "rolebinding", "robot-settings", "--role", "settings-editor", "--serviceaccount", "default:robot");
        (exit, _, err) = AsToken(token, "label", "configmap", "settings", "tier=one");
        Assert.True(exit == 0, err);
        (exit, _, err) = AsToken(token, "label", "configmap", "other", "tier=one");
        Assert.Contains("configmaps \"other\" is forbidden", err);

        // The binding goes: so does the permission.
        _server.Ok("delete", "rolebinding", "robot-view");
        (exit, _, err) = AsToken(token, "get", "pods");
        Assert.Contains("forbidden", err);
    }

    [Fact]
    public void KubectlAuthCanIAnswersForTheCallerAndForWhomItImpersonates()
    {
        Assert.Equal("yes", CanI("delete", "nodes")); // the administrator: system:masters
        var token = TokenOf("asker");
        _server.Ok("create", "clusterrolebinding", "asker-edit", "--clusterrole", "edit", "--serviceaccount", "default:asker");

        var (exit, answer, _) = AsToken(token, "auth", "can-i", "create", "deployments");
        Assert.Equal((0, "yes"), (exit, answer.Trim()));
        (exit, answer, _) = AsToken(token, "auth", "can-i", "create", "roles");
        Assert.Equal((1, "no"), (exit, answer.Trim()));
        (exit, answer, _) = AsToken(token, "auth", "can-i", "get", "pods", "--subresource", "log");
        Assert.Equal("yes", answer.Trim());
        (exit, answer, var err) = AsToken(token, "auth", "can-i", "--list");
        Assert.True(exit == 0, err);
        Assert.Contains(answer.Split('\n'), l => l.StartsWith("deployments.apps ", StringComparison.Ordinal) && l.Contains("create"));
        Assert.Contains(answer.Split('\n'), l => l.StartsWith("selfsubjectaccessreviews.authorization.k8s.io ", StringComparison.Ordinal));

        // The administrator asks for another user (Impersonate-User): the answer is that user's.
        Assert.Equal("yes", CanI("create", "deployments", "--as", "system:serviceaccount:default:asker"));
        Assert.Equal("no", CanI("create", "roles", "--as", "system:serviceaccount:default:asker"));
        Assert.Equal("no", CanI("get", "pods", "--as", "bob"));
        _server.Ok("create", "rolebinding", "ops-view", "--clusterrole", "view", "--group", "ops");
        Assert.Equal("yes", CanI("get", "pods", "--as", "bob", "--as-group", "ops"));
        (exit, _, err) = _server.Kubectl("get", "pods", "--as", "bob");
        Assert.Contains("User \"bob\" cannot list resource \"pods\"", err);

        // Impersonation is itself a permission edit does not give for users.
        (exit, _, err) = AsToken(token, "get", "pods", "--as", "bob");
        Assert.Contains("users \"bob\" is forbidden: User \"system:serviceaccount:default:asker\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope", err);
    }

    [Fact]
    public void NobodyGrantsMoreThanTheyHold()
    {
        _server.Ok("create", "namespace", "team");
        var token = TokenOf("lead", "team");
        _server.Ok("create", "rolebinding", "lead-admin", "-n", "team", "--clusterrole", "admin", "--serviceaccount", "team:lead");

        // What admin holds in team may be given in team.
        var (exit, _, err) = AsToken(token, "create", "role", "pod-reader", "-n", "team", "--verb", "get,list", "--resource", "pods");
        Assert.True(exit == 0, err);
        (exit, _, err) = AsToken(token, "create", "rolebinding", "readers", "-n", "team", "--role", "pod-reader", "--user", "carol");
        Assert.True(exit == 0, err);
        (exit, _, err) = AsToken(token, "create", "rolebinding", "viewers", "-n", "team", "--clusterrole", "view", "--user", "carol");
        Assert.True(exit == 0, err);

        // What it does not hold may not: nodes, a role it may not bind, and anything outside team.
        (exit, _, err) = AsToken(token, "create", "role", "node-reader", "-n", "team", "--verb", "get", "--resource", "nodes");
        Assert.NotEqual(0, exit);
        Assert.Contains("is attempting to grant RBAC permissions not currently held", err);
        Assert.Contains("{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"get\"]}", err);
        (exit, _, err) = AsToken(token, "create", "rolebinding", "root", "-n", "team", "--clusterrole", "cluster-admin", "--user", "carol");
        Assert.Contains("rolebindings.rbac.authorization.k8s.io \"root\" is forbidden", err);
        (exit, _, err) = AsToken(token, "create", "role", "pod-reader", "-n", "default", "--verb", "get", "--resource", "pods");
        Assert.Contains("cannot create resource \"roles\" in API group \"rbac.authorization.k8s.io\" in the namespace \"default\"", err);
        // A patch that widens a role is refused the same way, and the role is left as it was.
        (exit, _, err) = AsToken(token, "patch", "role", "pod-reader", "-n", "team", "--type", "json",
            "-p", """[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes"],"verbs":["list"]}}]""");
        Assert.Contains("not currently held", err);
        Assert.Single(JsonNode.Parse(_server.Ok("get", "role", "pod-reader", "-n", "team", "-o", "json"))!["rules"]!.AsArray());

        // A binding to a role that is not there is refused as not found.
        (exit, _, err) = AsToken(token, "create", "rolebinding", "ghost", "-n", "team", "--role", "nobody", "--user", "carol");
        Assert.Contains("roles.rbac.authorization.k8s.io \"nobody\" not found", err);

        // Once it may bind cluster-admin (by name), it may.
        _server.Ok("create", "clusterrole", "bind-admin", "--verb", "bind", "--resource", "clusterroles", "--resource-name", "cluster-admin");
        _server.Ok("create", "rolebinding", "lead-bind", "-n", "team", "--clusterrole", "bind-admin", "--serviceaccount", "team:lead");
        (exit, _, err) = AsToken(token, "create", "rolebinding", "root", "-n", "team", "--clusterrole", "cluster-admin", "--user", "carol");
        Assert.True(exit == 0, err);
    }

    private static bool Names(JsonNode role, string resource) =>
        role["rules"]!.AsArray().Any(r => r!["resources"]?.AsArray().Any(x => Json.Str(x) == resource) == true);

    [Fact]
    public void AdminEditAndViewGatherTheRolesLabelledToJoinThem()
    {
        var view = JsonNode.Parse(_server.Ok("get", "clusterrole", "view", "-o", "json"))!;
        Assert.True(Names(view, "pods"));
        Assert.False(Names(view, "secrets"));
        var admin = JsonNode.Parse(_server.Ok("get", "clusterrole", "admin", "-o", "json"))!;
        Assert.True(Names(admin, "rolebindings") && Names(admin, "secrets") && Names(admin, "pods"));

        // A role labelled to join view counts at once for whoever is bound to view (its rules are also written
        // into view, admin and edit by the aggregation controller: ClusterRoleAggregationTests).
        _server.KubectlWithInput("""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: widget-reader
              labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
            rules:
            - {apiGroups: [example.com], resources: [widgets], verbs: [get, list]}
            """, "apply", "-f", "-");
        _server.Ok("create", "rolebinding", "dana-view", "--clusterrole", "view", "--user", "dana");
        var (exit, output, err) = _server.KubectlWithInput("""
            {"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
             "spec":{"user":"dana","resourceAttributes":{"namespace":"default","verb":"list","group":"example.com","resource":"widgets"}}}
            """, "create", "-f", "-", "-o", "json");
        Assert.True(exit == 0, err);
        var review = JsonNode.Parse(output)!;
        Assert.True(review["status"]!["allowed"]!.GetValue<bool>());
        Assert.Equal("RBAC: allowed by RoleBinding \"dana-view/default\" of ClusterRole \"view\" to User \"dana\"", Json.Str(review["status"]!["reason"]));
        Assert.Equal("no", CanI("delete", "widgets.example.com", "--as", "dana"));
    }

    [Fact]
    public void AnAggregatingRoleNeedsFullAuthority()
    {
        var token = TokenOf("maker");
        _server.Ok("create", "clusterrolebinding", "maker-roles", "--clusterrole", "edit", "--serviceaccount", "default:maker");
        _server.Ok("create", "clusterrole", "role-writer", "--verb", "create,get", "--resource", "clusterroles.rbac.authorization.k8s.io");
        _server.Ok("create", "clusterrolebinding", "maker-writer", "--clusterrole", "role-writer", "--serviceaccount", "default:maker");
        var (exit, _, err) = AsToken(token, "create", "clusterrole", "gatherer", "--aggregation-rule", "team=a");
        Assert.NotEqual(0, exit);
        Assert.Contains("must have cluster-admin privileges to use the aggregationRule", err);
    }
}
