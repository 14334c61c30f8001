namespace ContainerOps.Runtime.Spec;

/// <summary>The OCI runtime spec's config.json.</summary>
public sealed class OciSpec
{
}
