using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Tests;

/// <summary>`--runtime runc` / `crun`: that runtime sets the container up, our shim still monitors it (log, exit status,
/// attach). crun runs too on a hybrid cgroup layout it would refuse, in a mount namespace without the unified mount.</summary>
[Collection("kernel")]
public sealed class ExternalRuntimeTests : IClassFixture<RuntimeFixture>
{
    private readonly RuntimeFixture _f;
    public ExternalRuntimeTests(RuntimeFixture f) => _f = f;

    private IContainerRuntime Create(string name) =>
        ContainerRuntimes.Create(name, new RuntimeContext { StateRoot = Path.Combine(_f.Root.Path, "state-" + name), ShimPath = RuntimeFixture.ShimPath });

    [Theory]
    [InlineData("runc")]
    [InlineData("crun")]
    public async Task Runs_under_our_shim_with_logs_exit_codes_exec_and_pause(string name)
    {
        var runc = Create(name);
        Assert.Equal(name, runc.Name);
        var once = _f.Bundle(new[] { "/bin/sh", "-c", "echo out; echo err >&2; exit 6" });
        await runc.RunAsync(_f.Options(once));
        var status = await runc.WaitAsync(once.Id);
        Assert.Equal(6, status.ExitCode);
        var (stdout, stderr) = RuntimeFixture.ReadLog(once.Log);
        Assert.Equal("out\n", stdout);
        Assert.Equal("err\n", stderr);
        await runc.DeleteAsync(once.Id, force: true);

        var sleeper = _f.Bundle(new[] { "/bin/sleep", "60" });
        await runc.RunAsync(_f.Options(sleeper));
        try
        {
            using (var p = runc.Exec(sleeper.Id, new ExecOptions { Args = new[] { "/bin/sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 3" } }))
            {
                p.Stdin!.Dispose();
                var output = await new StreamReader(p.Stdout!).ReadToEndAsync();
                var errors = await new StreamReader(p.Stderr!).ReadToEndAsync();
                Assert.True(3 == await p.WaitForExitAsync(), errors);
                Assert.Equal("/bin/sleep 60 ", output);
            }
            runc.Pause(sleeper.Id);
            Assert.Equal(RuntimeState.Paused, runc.GetStatus(sleeper.Id).State);
            runc.Resume(sleeper.Id);
            runc.Kill(sleeper.Id, 9);
            Assert.Equal(137, (await runc.WaitAsync(sleeper.Id)).ExitCode);
        }
        finally { await runc.DeleteAsync(sleeper.Id, force: true); }
    }

    [Fact]
    public void An_unknown_runtime_names_the_field() =>
        Assert.Equal("HostConfig.Runtime", Assert.Throws<ContainerOpsException>(() => ContainerRuntimes.Create("kata", new RuntimeContext { StateRoot = "/tmp/x" })).Error.Field);
}
