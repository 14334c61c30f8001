namespace ContainerOps.TestSupport;

/// <summary>The kubectl the cluster tests drive.</summary>
public static class Kubectl
{
    /// <summary>CONTAINEROPS_KUBECTL, else kubectl 1.32 itself: the machine's `kubectl` is the Cloud SDK's dispatcher,
    /// which picks a version by the server's and parses arguments its own way, so its `kubectl.1.32` sibling is used.</summary>
    public static string Path
    {
        get
        {
            if (Environment.GetEnvironmentVariable("CONTAINEROPS_KUBECTL") is { Length: > 0 } configured) return configured;
            var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => System.IO.Path.Combine(d, "kubectl")).FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("kubectl is not on PATH");
            var resolved = new FileInfo(onPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? onPath;
            var exact = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(resolved)!, "kubectl.1.32");
            return File.Exists(exact) ? exact : onPath;
        }
    }

    /// <summary>Debian 12's kubectl 1.20 (package kubernetes-client), unpacked into the repository's .tools/ rather than
    /// installed: installing it would replace the machine's /usr/bin/kubectl.</summary>
    public static string Debian120Path
    {
        get
        {
            var repo = new DirectoryInfo(AppContext.BaseDirectory);
            while (repo is not null && !File.Exists(System.IO.Path.Combine(repo.FullName, "ContainerOps.sln"))) repo = repo.Parent;
            var dir = System.IO.Path.Combine(repo?.FullName ?? System.IO.Path.GetTempPath(), ".tools", "kubectl-1.20");
            var binary = System.IO.Path.Combine(dir, "usr", "bin", "kubectl");
            if (File.Exists(binary)) return binary;
            Directory.CreateDirectory(dir);
            Shell.Run("sh", $"-c \"cd {dir} && apt-get download -q kubernetes-client && dpkg -x kubernetes-client_*.deb . && rm -f kubernetes-client_*.deb\"", timeoutMs: 600_000);
            return File.Exists(binary) ? binary : throw new InvalidOperationException($"kubernetes-client did not unpack a kubectl into {dir}");
        }
    }
}
