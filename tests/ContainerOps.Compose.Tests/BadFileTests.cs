namespace ContainerOps.Compose.Tests;

/// <summary>One bad file per kind of mistake, each with the exact message: the file, line and column where known, the
/// key path, and why.</summary>
public class BadFileTests
{
    [Theory]
    [InlineData("unknown-key.yaml", "unknown-key.yaml:4:12: services.web.portz: unknown key")]
    [InlineData("bad-port.yaml", "bad-port.yaml:6:9: services.web.ports[1]: invalid port \"80:abc\"")]
    [InlineData("undefined-dependency.yaml", "undefined-dependency.yaml:4:18: services.web.depends_on: service \"db\" is not defined")]
    [InlineData("undefined-network.yaml", "undefined-network.yaml:4:16: services.web.networks: network \"front\" is not defined in the top-level networks")]
    [InlineData("undefined-volume.yaml", "undefined-volume.yaml:4:15: services.web.volumes[0]: volume \"data\" is not defined in the top-level volumes")]
    [InlineData("cycle.yaml", "cycle.yaml:4:18: services.a.depends_on: dependency cycle: a -> b -> c -> a")]
    [InlineData("required-variable.yaml", "required-variable.yaml:3:12: services.web.image: required variable IMAGE is missing a value: set IMAGE to the image to run")]
    [InlineData("bad-interpolation.yaml", "bad-interpolation.yaml:3:12: services.web.image: invalid interpolation format for \"${IMAGE:busybox}\": \"${IMAGE:busybox}\" (expected ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} or ${VAR:+alternative})")]
    [InlineData("bad-duration.yaml", "bad-duration.yaml:6:17: services.web.healthcheck.interval: missing unit in duration \"10 seconds\" (h, m, s, ms, us, ns)")]
    [InlineData("bad-condition.yaml", "bad-condition.yaml:6:20: services.web.depends_on.db.condition: invalid condition \"service_ready\": service_started, service_healthy or service_completed_successfully")]
    [InlineData("no-image.yaml", "no-image.yaml:3:5: services.web: has neither an image nor a build section")]
    [InlineData("bad-yaml.yaml", "bad-yaml.yaml:4:4: While parsing a block mapping, did not find expected key.")]
    [InlineData("unknown-top-level.yaml", "unknown-top-level.yaml:2:3: service: unknown top-level key (expected name, services, networks, volumes, secrets, configs, include or x-…)")]
    [InlineData("bad-volume.yaml", "bad-volume.yaml:4:15: services.web.volumes[0]: invalid volume \"data:relative/path\": the target \"relative/path\" is not an absolute path")]
    [InlineData("disabled-dependency.yaml", "disabled-dependency.yaml:4:18: services.web.depends_on: service \"debug\" is disabled by its profiles (debug)")]
    [InlineData("unsupported-key.yaml", "unsupported-key.yaml:4:18: services.web.userns_mode: not supported by containerops")]
    [InlineData("duplicate-key.yaml", "duplicate-key.yaml:4:5: the key \"image\" is given twice")]
    [InlineData("extends-missing.yaml", "extends-missing.yaml:3:14: services.web.extends: extends: service \"base\" is not defined")]
    [InlineData("bad-test.yaml", "bad-test.yaml:5:13: services.web.healthcheck.test: a test list starts with CMD, CMD-SHELL or NONE")]
    [InlineData("undefined-secret.yaml", "undefined-secret.yaml:5:9: services.web.secrets: secret \"token\" is not defined in the top-level secrets")]
    [InlineData("undefined-config.yaml", "undefined-config.yaml:5:9: services.web.configs: config \"nginx\" is not defined in the top-level configs")]
    [InlineData("extends-cycle.yaml", "extends-cycle.yaml:6:14: services.base.extends: extends cycle: web -> base -> web")]
    [InlineData("missing-include.yaml", "missing-include.yaml:2:5: include[0]: included file common/db.yaml does not exist")]
    [InlineData("bad-restart.yaml", "bad-restart.yaml:4:14: services.web.restart: invalid restart policy \"sometimes\": no, always, on-failure[:N] or unless-stopped")]
    [InlineData("network-mode-and-networks.yaml", "network-mode-and-networks.yaml:4:19: services.web: network_mode and networks cannot be used together")]
    public void Bad_file_is_reported_with_its_place_and_reason(string file, string expected)
    {
        var e = Corpus.LoadBad(file);
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void A_required_variable_that_is_set_is_used()
    {
        var project = Corpus.Load("bad", new Dictionary<string, string> { ["IMAGE"] = "alpine" }, files: new() { "required-variable.yaml" });
        Assert.Equal("alpine", project.Services["web"].Image);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var e = Corpus.LoadBad("nothing-here.yaml");
        Assert.Equal($"open {Path.Combine(Corpus.Root, "bad", "nothing-here.yaml")}: no such file or directory", e.Message);
    }
}
