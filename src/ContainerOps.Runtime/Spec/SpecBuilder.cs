using ContainerOps.Core.Api;

namespace ContainerOps.Runtime.Spec;

/// <summary>Request + image config → OCI runtime spec with Docker's defaults (capabilities, masked paths, /dev, cgroup limits).</summary>
public static partial class SpecBuilder
{
    /// <summary>Validates the input (errors name the field) and builds the spec.</summary>
    public static OciSpec Build(ContainerSpecInput input) => throw new NotImplementedException();

    /// <summary>Writes <c>config.json</c> atomically into <paramref name="bundleDir"/>.</summary>
    public static void WriteBundle(string bundleDir, OciSpec spec) => throw new NotImplementedException();
}
