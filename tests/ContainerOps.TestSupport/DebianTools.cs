namespace ContainerOps.TestSupport;

/// <summary>Clients from Debian 12's packages, unpacked into the repository's .tools/ rather than installed: installing
/// them would replace the machine's newer ones (kubectl, docker) on PATH.</summary>
public static class DebianTools
{
    /// <summary>The file <paramref name="binary"/> (usr/bin/kubectl) of <paramref name="package"/>, downloaded and
    /// unpacked into .tools/<paramref name="dirName"/> the first time.</summary>
    public static string Unpacked(string package, string dirName, string binary)
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "ContainerOps.sln"))) repo = repo.Parent;
        var dir = Path.Combine(repo?.FullName ?? Path.GetTempPath(), ".tools", dirName);
        var path = Path.Combine(dir, binary);
        if (File.Exists(path)) return path;
        Directory.CreateDirectory(dir);
        Shell.Run("sh", $"-c \"cd {dir} && apt-get download -q {package} && dpkg -x {package}_*.deb . && rm -f {package}_*.deb\"", timeoutMs: 600_000);
        return File.Exists(path) ? path : throw new InvalidOperationException($"{package} did not unpack {binary} into {dir}");
    }
}
