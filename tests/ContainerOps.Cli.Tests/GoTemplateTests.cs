using System.Text.Json.Nodes;
using ContainerOps.Cli.Parsing;

namespace ContainerOps.Cli.Tests;

public class GoTemplateTests
{
    private static readonly JsonNode Data = JsonNode.Parse("""
        {
          "Id": "abc123", "Name": "/web",
          "State": { "Status": "running", "Pid": 4242, "Running": true, "Paused": false,
                     "Health": { "Status": "healthy", "FailingStreak": 0, "Log": [ { "ExitCode": 0, "Output": "ok\n" } ] } },
          "Config": { "Env": ["PATH=/bin", "A=1"], "Cmd": ["sh", "-c", "echo <hi> & bye"], "Labels": { "tier": "front", "app": "shop" },
                      "Entrypoint": [] },
          "NetworkSettings": { "Networks": { "app": { "IPAddress": "10.0.0.2" }, "bridge": { "IPAddress": "172.17.0.2" } } }
        }
        """)!;

    private static string Run(string template) => GoTemplate.Parse(template).Execute(Data);

    [Theory]
    [InlineData("{{.State.Pid}}", "4242")]
    [InlineData("pid={{ .State.Pid }} name={{.Name}}", "pid=4242 name=/web")]
    [InlineData("{{.State.Running}}", "true")]
    [InlineData("{{.State.Health.Status}}", "healthy")]
    [InlineData("{{.Config.Cmd}}", "[sh -c echo <hi> & bye]")]
    [InlineData("{{.Config.Labels}}", "map[app:shop tier:front]")]
    [InlineData("{{.Missing}}", "<no value>")]
    [InlineData("{{.Missing.Deeper}}", "<no value>")]
    [InlineData("{{json .Config.Cmd}}", "[\"sh\",\"-c\",\"echo <hi> & bye\"]")]
    [InlineData("{{json .State.Health.Log}}", "[{\"ExitCode\":0,\"Output\":\"ok\\n\"}]")]
    [InlineData("{{index .Config.Labels \"tier\"}}", "front")]
    [InlineData("{{index .Config.Env 1}}", "A=1")]
    [InlineData("{{(index .State.Health.Log 0).Output}}", "ok\n")]
    [InlineData("{{join .Config.Env \",\"}}", "PATH=/bin,A=1")]
    [InlineData("{{.State.Status | upper}}", "RUNNING")]
    [InlineData("{{lower \"ABC\"}}", "abc")]
    [InlineData("{{printf \"%s has pid %d\" .Name .State.Pid}}", "/web has pid 4242")]
    [InlineData("{{printf \"%-6s|\" .State.Status}}", "running|")]
    [InlineData("{{printf \"%8s|\" \"up\"}}", "      up|")]
    [InlineData("{{printf \"%q\" .Id}}", "\"abc123\"")]
    [InlineData("{{range .Config.Env}}[{{.}}]{{end}}", "[PATH=/bin][A=1]")]
    [InlineData("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=PATH=/bin;1=A=1;")]
    [InlineData("{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}\n{{end}}", "app 10.0.0.2\nbridge 172.17.0.2\n")]
    [InlineData("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "10.0.0.2 172.17.0.2 ")]
    [InlineData("{{range .Config.Entrypoint}}x{{else}}none{{end}}", "none")]
    [InlineData("{{if .State.Paused}}paused{{else}}not paused{{end}}", "not paused")]
    [InlineData("{{if eq .State.Status \"running\"}}up{{end}}", "up")]
    [InlineData("{{if not .State.Paused}}ok{{end}}", "ok")]
    [InlineData("{{with .State.Health}}{{.Status}}{{end}}", "healthy")]
    [InlineData("{{range .Config.Env}}{{$.Name}}{{end}}", "/web/web")]
    [InlineData("a  {{- .Id -}}  b", "aabc123b")]
    [InlineData("{{/* a comment */}}x", "x")]
    [InlineData("{{len .Config.Env}}", "2")]
    [InlineData("{{split \"a:b\" \":\"}}", "[a b]")]
    [InlineData("{{title \"hello world\"}}", "Hello World")]
    [InlineData("{{truncate .Id 3}}", "abc")]
    [InlineData("{{println .Id}}", "abc123\n")]
    [InlineData("{{`raw \\n`}}", "raw \\n")]
    public void RendersAsGoDoes(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{.Id")]
    [InlineData("{{range .Config.Env}}x")]
    [InlineData("{{end}}")]
    [InlineData("{{bogus .Id}}")]
    [InlineData("{{.Id.Deeper}}")]
    [InlineData("{{index .Config.Env 5}}")]
    [InlineData("{{$nope}}")]
    public void BadTemplatesAreUsageErrors(string template)
    {
        var e = Assert.Throws<UsageException>(() => Run(template));
        Assert.StartsWith("template parsing error: template: ", e.Message);
    }

    [Fact]
    public void TableFormatsGetAHeaderAndAlignedColumns()
    {
        var rows = new[]
        {
            new JsonObject { ["ID"] = "abc", ["Names"] = "web" },
            new JsonObject { ["ID"] = "defghi", ["Names"] = "database" },
        };
        var headers = new Dictionary<string, string> { ["ID"] = "CONTAINER ID", ["Names"] = "NAMES" };
        Assert.Equal("CONTAINER ID   NAMES\nabc            web\ndefghi         database\n",
            GoTemplate.FormatRows("table {{.ID}}\\t{{.Names}}", rows, headers));
        Assert.Equal("abc:web\ndefghi:database\n", GoTemplate.FormatRows("{{.ID}}:{{.Names}}", rows, headers));
        Assert.Equal("WEB\nDATABASE\n", GoTemplate.FormatRows("{{.Names | upper}}", rows, headers));
    }
}
