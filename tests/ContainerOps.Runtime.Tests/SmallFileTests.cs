using ContainerOps.Core.IO;
using ContainerOps.TestSupport;

namespace ContainerOps.Runtime.Tests;

public sealed class SmallFileTests : IDisposable
{
    private readonly TempDir _root = new("co-smallfile");

    public void Dispose() => _root.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(70_000)]
    public void Reads_a_file_of_any_size_whole(int size)
    {
        var path = Path.Combine(_root.Path, "f");
        var text = string.Concat(Enumerable.Range(0, size).Select(i => (char)('a' + i % 26)));
        File.WriteAllText(path, text);
        Assert.Equal(text, SmallFile.ReadText(path));
    }

    [Fact]
    public void WriteIfChanged_writes_a_new_or_different_content_and_leaves_the_same_alone()
    {
        var path = Path.Combine(_root.Path, "hosts");
        Assert.True(SmallFile.WriteIfChanged(path, "127.0.0.1\tlocalhost\n"));
        var written = File.GetLastWriteTimeUtc(path);
        File.SetLastWriteTimeUtc(path, written.AddMinutes(-5));
        Assert.False(SmallFile.WriteIfChanged(path, "127.0.0.1\tlocalhost\n"));
        Assert.Equal(written.AddMinutes(-5), File.GetLastWriteTimeUtc(path)); // not touched
        Assert.True(SmallFile.WriteIfChanged(path, "short\n"));
        Assert.Equal("short\n", File.ReadAllText(path)); // a shorter content leaves nothing of the longer one
    }

    [Fact]
    public void Reads_proc_files_that_report_no_size()
    {
        Assert.Equal(0, new FileInfo("/proc/self/mountinfo").Length);
        var text = SmallFile.ReadText("/proc/self/mountinfo");
        Assert.Contains(" / / ", text);
        Assert.Equal(File.ReadAllLines("/proc/self/mountinfo").Length, SmallFile.ReadLines("/proc/self/mountinfo").Length);
    }

    [Fact]
    public void Writes_create_and_truncate_and_errors_are_files_own()
    {
        var path = Path.Combine(_root.Path, "w");
        SmallFile.WriteText(path, "a longer first value");
        SmallFile.WriteText(path, "ünï");
        Assert.Equal("ünï", File.ReadAllText(path));
        SmallFile.WriteText(path, new string('x', 5000));
        Assert.Equal(5000, File.ReadAllText(path).Length);
        Assert.Throws<FileNotFoundException>(() => SmallFile.ReadText(Path.Combine(_root.Path, "missing")));
        Assert.Throws<DirectoryNotFoundException>(() => SmallFile.WriteText(Path.Combine(_root.Path, "no/such"), "x"));
    }

    [Fact]
    public void Process_start_time_is_field_22_of_stat_and_minus_one_when_gone()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var expected = long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19]);
        Assert.Equal(expected, ContainerStateDir.ProcessStartTime(Environment.ProcessId));
        using var p = System.Diagnostics.Process.Start("/bin/true")!;
        p.WaitForExit();
        Assert.Equal(-1, ContainerStateDir.ProcessStartTime(p.Id));
    }
}

public sealed class StandardStreamsTests : IDisposable
{
    private readonly TempDir _root = new("co-stdstreams");

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Output_into_a_file_shared_with_other_programs_lands_after_theirs_and_before_the_next()
    {
        var binary = Path.Combine(RuntimeFixture.RepoRoot, "bin", "containerops-runtime");
        Assert.True(File.Exists(binary), $"{binary} is missing: ./build.sh build");
        var file = Path.Combine(_root.Path, "out");
        // The shell's redirection opens the file once; every program in the group shares that offset.
        var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", "{ echo first; \"$0\" --help; echo last; } > \"$1\"", binary, file } };
        using (var sh = System.Diagnostics.Process.Start(psi)!) Assert.True(sh.WaitForExit(30_000) && sh.ExitCode == 0);
        var lines = File.ReadAllLines(file);
        Assert.Equal("first", lines[0]);
        Assert.StartsWith("usage: containerops-runtime", lines[1]);
        Assert.Equal("last", lines[^1]);
        Assert.Equal(3, lines.Length);
    }

    [Fact]
    public void A_closed_pipe_is_an_io_error_with_epipe()
    {
        var fds = new int[2];
        Assert.Equal(0, Native.Libc.pipe2(fds, 0));
        Native.Libc.close(fds[0]);
        try
        {
            using var stream = StandardStreams.Open(fds[1]);
            var e = Assert.Throws<IOException>(() => stream.Write("x"u8));
            Assert.True(StandardStreams.IsBrokenPipe(e), e.Message);
        }
        finally { Native.Libc.close(fds[1]); }
    }
}
