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
