namespace ContainerOps.Core.IO;

/// <summary>Unix permission bits as named constants. C# has no octal literal, and a decimal 0755 (0x2F3, octal
/// 1363) gives d-wxr----t: these are the values to pass to mkdir, chmod and friends.</summary>
public static class FileModes
{
    /// <summary>0755: rwxr-xr-x, what Docker gives directories it creates.</summary>
    public const int Mode0755 = 0b111_101_101;
    /// <summary>0700: rwx------, a directory private until its real mode is applied.</summary>
    public const int Mode0700 = 0b111_000_000;
    /// <summary>0600: rw-------, a file private until its real mode is applied.</summary>
    public const int Mode0600 = 0b110_000_000;
    /// <summary>0644: rw-r--r--.</summary>
    public const int Mode0644 = 0b110_100_100;
}
