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

    /// <summary>Debian 12's kubectl 1.20 (package kubernetes-client), unpacked into .tools/.</summary>
    public static string Debian120Path => DebianTools.Unpacked("kubernetes-client", "kubectl-1.20", "usr/bin/kubectl");
}
