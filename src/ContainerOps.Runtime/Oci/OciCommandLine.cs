namespace ContainerOps.Runtime.Oci;

/// <summary>`containerops oci create|start|state|kill|delete|run`: the built-in runtime behind the OCI runtime command line.</summary>
public static class OciCommandLine
{
    public static int Run(string[] args) => throw new NotImplementedException();
}
