using System.Text;
using System.Text.Json.Nodes;
using ContainerOps.Cluster.Api;

namespace ContainerOps.Cluster.Tests;

/// <summary>The protobuf body decoder on bodies built field by field here, with the field numbers of Kubernetes'
/// generated.proto files: the JSON must be what the same object has in Go's JSON encoding.</summary>
public sealed class ProtobufBodiesTests
{
    /// <summary>A protobuf message writer, just enough to build bodies.</summary>
    private sealed class Pb
    {
        private readonly List<byte> _bytes = [];
        public Pb Varint(int number, long value) { Key(number, 0); Raw((ulong)value); return this; }
        public Pb Str(int number, string value) => Bytes(number, Encoding.UTF8.GetBytes(value));
        public Pb Msg(int number, Pb message) => Bytes(number, message.ToArray());
        public Pb Fixed64(int number, ulong value) { Key(number, 1); _bytes.AddRange(BitConverter.GetBytes(value)); return this; }
        public Pb Entry(int number, string key, string value) => Msg(number, new Pb().Str(1, key).Str(2, value));
        public Pb Entry(int number, string key, Pb value) => Msg(number, new Pb().Str(1, key).Msg(2, value));
        public Pb Bytes(int number, byte[] value) { Key(number, 2); Raw((ulong)value.Length); _bytes.AddRange(value); return this; }
        public byte[] ToArray() => [.. _bytes];
        private void Key(int number, int wireType) => Raw((ulong)(number << 3 | wireType));
        private void Raw(ulong v)
        {
            while (v >= 0x80) { _bytes.Add((byte)(v | 0x80)); v >>= 7; }
            _bytes.Add((byte)v);
        }
    }

    private static byte[] Envelope(string apiVersion, string kind, Pb obj) =>
        [.. "k8s\0"u8, .. new Pb().Msg(1, new Pb().Str(1, apiVersion).Str(2, kind)).Msg(2, obj).Str(4, "application/vnd.kubernetes.protobuf").ToArray()];

    private static Pb Meta(string name) => new Pb().Str(1, name).Str(3, "default");
    private static Pb Quantity(string text) => new Pb().Str(1, text);
    private static Pb IntOrString(int value) => new Pb().Varint(1, 0).Varint(2, value).Str(3, "");
    private static Pb IntOrString(string value) => new Pb().Varint(1, 1).Varint(2, 0).Str(3, value);

    /// <summary>A container as gogo-protobuf writes it: every non-pointer field, zero or not.</summary>
    private static Pb Container(string name) => new Pb()
        .Str(1, name).Str(2, "busybox").Str(3, "sleep").Str(3, "1")
        .Msg(6, new Pb().Str(1, "").Varint(2, 0).Varint(3, 80).Str(4, "TCP").Str(5, ""))
        .Msg(7, new Pb().Str(1, "MODE").Str(2, "prod"))
        .Msg(8, new Pb().Entry(1, "cpu", Quantity("500m")).Entry(1, "memory", Quantity("64Mi")).Entry(2, "cpu", Quantity("0.1")))
        .Str(5, "").Str(13, "/dev/termination-log").Str(14, "IfNotPresent")
        .Varint(16, 0).Varint(17, 0).Varint(18, 0);

    [Fact]
    public void ADeploymentKeepsPointerZerosLeavesOutOmitemptyZerosAndKeepsEmptyStructs()
    {
        var spec = new Pb()
            .Varint(1, 0) // replicas: *int32, so 0 stays
            .Msg(2, new Pb().Entry(1, "app", "web"))
            .Msg(3, new Pb()
                .Msg(1, new Pb().Str(1, "").Entry(11, "app", "web"))
                .Msg(2, new Pb()
                    .Msg(2, Container("web"))
                    .Msg(2, new Pb().Str(1, "side").Str(2, "busybox").Msg(8, new Pb()))
                    .Str(3, "Always").Varint(4, 0).Str(6, "ClusterFirst").Varint(11, 0)))
            .Msg(4, new Pb().Str(1, "RollingUpdate").Msg(2, new Pb().Msg(1, IntOrString(0)).Msg(2, IntOrString("25%"))))
            .Varint(5, 0) // minReadySeconds: int32 omitempty, so 0 goes
            .Varint(7, 0); // paused: bool omitempty
        var o = ProtobufBodies.Decode(Envelope("apps/v1", "Deployment", new Pb().Msg(1, Meta("web")).Msg(2, spec)));

        Assert.Equal("apps/v1", (string?)o["apiVersion"]);
        Assert.Equal("Deployment", (string?)o["kind"]);
        Assert.Equal("""{"name":"web","namespace":"default"}""", o["metadata"]!.ToJsonString());
        var s = o["spec"]!.AsObject();
        Assert.Equal(0L, (long)s["replicas"]!);
        Assert.False(s.ContainsKey("minReadySeconds"));
        Assert.False(s.ContainsKey("paused"));
        Assert.Equal("""{"matchLabels":{"app":"web"}}""", s["selector"]!.ToJsonString());
        Assert.Equal("""{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"25%"}}""", s["strategy"]!.ToJsonString());

        var pod = s["template"]!["spec"]!.AsObject();
        Assert.Equal("""{"labels":{"app":"web"}}""", s["template"]!["metadata"]!.ToJsonString());
        Assert.Equal(0L, (long)pod["terminationGracePeriodSeconds"]!); // *int64
        Assert.False(pod.ContainsKey("hostNetwork"));
        Assert.Equal("ClusterFirst", (string?)pod["dnsPolicy"]);
        var containers = pod["containers"]!.AsArray();
        Assert.Equal(2, containers.Count);
        Assert.Equal(
            """{"name":"web","image":"busybox","command":["sleep","1"],"ports":[{"containerPort":80,"protocol":"TCP"}],"env":[{"name":"MODE","value":"prod"}],"resources":{"limits":{"cpu":"500m","memory":"64Mi"},"requests":{"cpu":"0.1"}},"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"}""",
            containers[0]!.ToJsonString());
        // An empty non-pointer struct stays, as Go writes it: "resources": {}.
        Assert.Equal("""{"name":"side","image":"busybox","resources":{}}""", containers[1]!.ToJsonString());
    }

    [Fact]
    public void TimesAreRfc3339AndTheZeroTimeIsLeftOut()
    {
        var meta = Meta("e").Msg(8, new Pb().Varint(1, 1767323045).Varint(2, 999)) // creationTimestamp, nanos dropped
            .Msg(9, new Pb()); // deletionTimestamp: the zero time
        var o = ProtobufBodies.Decode(Envelope("v1", "ConfigMap", new Pb().Msg(1, meta)));
        Assert.Equal("2026-01-02T03:04:05Z", (string?)o["metadata"]!["creationTimestamp"]);
        Assert.False(o["metadata"]!.AsObject().ContainsKey("deletionTimestamp"));

        // events.k8s.io Event: eventTime is a MicroTime (1 seconds, 2 nanos).
        var ev = ProtobufBodies.Decode(Envelope("events.k8s.io/v1", "Event",
            new Pb().Msg(1, Meta("ev")).Msg(2, new Pb().Varint(1, 1767323045).Varint(2, 123456789)).Str(7, "Scheduled")));
        Assert.Equal("2026-01-02T03:04:05.123456Z", (string?)ev["eventTime"]);
        Assert.Equal("Scheduled", (string?)ev["reason"]);
    }

    [Fact]
    public void IntOrStringQuantityBytesAndNegativeNumbersKeepTheirJsonForms()
    {
        var service = new Pb().Msg(1, Meta("s")).Msg(2, new Pb()
            .Msg(1, new Pb().Str(1, "http").Str(2, "TCP").Varint(3, 80).Msg(4, IntOrString(8080)).Varint(5, 0))
            .Msg(1, new Pb().Str(1, "named").Str(2, "TCP").Varint(3, 81).Msg(4, IntOrString("web")).Varint(5, 30081))
            .Msg(1, new Pb().Str(1, "bare").Str(2, "UDP").Varint(3, 82).Msg(4, new Pb()).Varint(5, 0))
            .Entry(2, "app", "web").Str(4, "NodePort"));
        var o = ProtobufBodies.Decode(Envelope("v1", "Service", service));
        var ports = o["spec"]!["ports"]!.AsArray();
        Assert.Equal("""{"name":"http","protocol":"TCP","port":80,"targetPort":8080}""", ports[0]!.ToJsonString());
        Assert.Equal("""{"name":"named","protocol":"TCP","port":81,"targetPort":"web","nodePort":30081}""", ports[1]!.ToJsonString());
        // A non-pointer IntOrString is a struct to Go's omitempty: written even when zero.
        Assert.Equal("""{"name":"bare","protocol":"UDP","port":82,"targetPort":0}""", ports[2]!.ToJsonString());
        Assert.Equal("NodePort", (string?)o["spec"]!["type"]);

        var secret = ProtobufBodies.Decode(Envelope("v1", "Secret", new Pb().Msg(1, Meta("x"))
            .Msg(2, new Pb().Str(1, "password").Bytes(2, [0, 1, 2, 255])).Str(3, "Opaque")));
        Assert.Equal("""{"password":"AAEC/w=="}""", secret["data"]!.ToJsonString());

        var quota = ProtobufBodies.Decode(Envelope("v1", "LimitRange", new Pb().Msg(1, Meta("l"))
            .Msg(2, new Pb().Msg(1, new Pb().Str(1, "Container").Entry(4, "cpu", Quantity("250m"))))));
        Assert.Equal("""{"limits":[{"type":"Container","default":{"cpu":"250m"}}]}""", quota["spec"]!.ToJsonString());

        var pod = ProtobufBodies.Decode(Envelope("v1", "Pod", new Pb().Msg(1, Meta("p"))
            .Msg(2, new Pb().Msg(2, new Pb().Str(1, "c").Str(2, "i")).Msg(14, new Pb().Varint(2, -1).Varint(4, 1000).Varint(4, 2000)))));
        Assert.Equal("""{"runAsUser":-1,"supplementalGroups":[1000,2000]}""", pod["spec"]!["securityContext"]!.ToJsonString());
    }

    [Fact]
    public void InlineStructsLandInTheirParentAndEmbeddedJsonIsParsed()
    {
        var probe = new Pb().Msg(1, new Pb().Msg(2, new Pb().Str(1, "/healthz").Msg(2, IntOrString(8080)).Str(4, "HTTP"))).Varint(2, 0).Varint(4, 10);
        var podSpec = new Pb()
            .Msg(1, new Pb().Str(1, "config").Msg(2, new Pb().Msg(19, new Pb().Msg(1, new Pb().Str(1, "settings")).Varint(3, 420))))
            .Msg(1, new Pb().Str(1, "scratch").Msg(2, new Pb().Msg(2, new Pb().Str(1, "").Msg(2, Quantity("1Gi")))))
            .Msg(2, new Pb().Str(1, "c").Str(2, "i").Msg(10, probe));
        var meta = Meta("p").Msg(17, new Pb().Str(1, "kubectl").Str(2, "Update").Str(6, "FieldsV1")
            .Msg(7, new Pb().Bytes(1, """{"f:metadata":{"f:labels":{}}}"""u8.ToArray())));
        var o = ProtobufBodies.Decode(Envelope("v1", "Pod", new Pb().Msg(1, meta).Msg(2, podSpec)));

        var volumes = o["spec"]!["volumes"]!.AsArray();
        Assert.Equal("""{"name":"config","configMap":{"name":"settings","defaultMode":420}}""", volumes[0]!.ToJsonString());
        Assert.Equal("""{"name":"scratch","emptyDir":{"sizeLimit":"1Gi"}}""", volumes[1]!.ToJsonString());
        Assert.Equal("""{"httpGet":{"path":"/healthz","port":8080,"scheme":"HTTP"},"periodSeconds":10}""",
            o["spec"]!["containers"]![0]!["livenessProbe"]!.ToJsonString());
        Assert.Equal("""{"f:metadata":{"f:labels":{}}}""", o["metadata"]!["managedFields"]![0]!["fieldsV1"]!.ToJsonString());
    }

    [Fact]
    public void UnknownFieldsAreSkippedByTheirWireType()
    {
        var meta = Meta("n").Varint(90, 7).Str(91, "later").Fixed64(92, 1).Msg(93, new Pb().Str(1, "x"));
        var o = ProtobufBodies.Decode(Envelope("v1", "Namespace", new Pb().Msg(1, meta).Varint(99, 1)));
        Assert.Equal("""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n","namespace":"default"}}""", o.ToJsonString());
    }

    [Fact]
    public void EveryKindTheApiServesThatClientsCreateIsInTheTable()
    {
        foreach (var kind in ResourceKinds.All)
        {
            var o = ProtobufBodies.Decode(Envelope(kind.ApiVersion, kind.Kind, new Pb().Msg(1, Meta("x"))));
            Assert.Equal("x", (string?)o["metadata"]!["name"]);
        }
        foreach (var (apiVersion, kind) in new[] { ("policy/v1", "PodDisruptionBudget"), ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("networking.k8s.io/v1", "Ingress"), ("scheduling.k8s.io/v1", "PriorityClass"),
            ("autoscaling/v1", "HorizontalPodAutoscaler") })
            Assert.Equal(kind, (string?)ProtobufBodies.Decode(Envelope(apiVersion, kind, new Pb().Msg(1, Meta("x"))))["kind"]);
    }

    [Fact]
    public void BadBodiesAreRefusedWithWhatIsWrong()
    {
        var unknownKind = Assert.Throws<StatusException>(() => ProtobufBodies.Decode(Envelope("example.com/v1", "Widget", new Pb().Msg(1, Meta("w")))));
        Assert.Equal(415, unknownKind.Code);
        Assert.Contains("Widget (example.com/v1) is taken as JSON only", unknownKind.Message);

        var noMagic = Assert.Throws<StatusException>(() => ProtobufBodies.Decode("{}"u8));
        Assert.Equal(400, noMagic.Code);

        var whole = Envelope("apps/v1", "Deployment", new Pb().Msg(1, Meta("web")).Msg(2, new Pb().Varint(1, 3)));
        var truncated = Assert.Throws<StatusException>(() => ProtobufBodies.Decode(whole.AsSpan(0, whole.Length - 3)));
        Assert.Equal(400, truncated.Code);
        Assert.Contains("malformed", truncated.Message);

        // spec.replicas sent as a string: the field is named.
        var wrongType = Assert.Throws<StatusException>(() => ProtobufBodies.Decode(Envelope("apps/v1", "Deployment", new Pb().Msg(2, new Pb().Str(1, "3")))));
        Assert.Equal(400, wrongType.Code);
        Assert.Contains("apps/v1.DeploymentSpec field 1 (replicas)", wrongType.Message);

        var badUtf8 = Assert.Throws<StatusException>(() => ProtobufBodies.Decode(Envelope("v1", "ConfigMap", new Pb().Msg(1, new Pb().Bytes(1, [0xff, 0xfe])))));
        Assert.Contains("meta/v1.ObjectMeta field 1 (name) is not valid UTF-8", badUtf8.Message);
    }
}
