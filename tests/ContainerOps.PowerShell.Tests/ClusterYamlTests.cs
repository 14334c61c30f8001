using System.Text.Json.Nodes;

namespace ContainerOps.PowerShell.Tests;

/// <summary>Objects written as YAML read back as the same JSON, strings that look like other things quoted.</summary>
public sealed class ClusterYamlTests
{
    [Fact]
    public void WhatIsWrittenReadsBackTheSame()
    {
        var o = (JsonObject)JsonNode.Parse("""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"app":"web"}},
             "data":{"port":"80","on":"true","none":"null","empty":"","text":"a: b # c","lines":"one\ntwo\n","spaced":" x "},
             "spec":{"replicas":3,"ratio":0.5,"enabled":false,"nothing":null,"list":[1,"2",{"k":"v"}]}}
            """)!;
        var yaml = ContainerOps.Core.Text.YamlJson.Write(o);
        Assert.StartsWith("apiVersion: v1\n", yaml.Replace("\r\n", "\n"));
        Assert.Contains("port: \"80\"", yaml);
        Assert.Contains("replicas: 3", yaml);
        Assert.DoesNotContain("...", yaml);
        var back = Assert.Single(ManifestReader.Read(yaml, "test"));
        Assert.True(JsonNode.DeepEquals(o, back), back.ToJsonString());
    }
}
