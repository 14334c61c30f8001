using System.Globalization;
using ContainerOps.Core.Api;

namespace ContainerOps.Daemon.Engine;

/// <summary>
/// `--log-driver`/`--log-opt`: json-file is the one driver, the log the shim writes and rotates (max-size, max-file).
/// Other drivers are refused by name: attach and `logs` read that file, so a container without it would lose both.
/// </summary>
public static class LogDriver
{
    /// <summary>What a container gets when it asks for nothing: 10 MB a file, 3 files.</summary>
    public const long DefaultMaxBytes = 10 * 1024 * 1024;
    public const int DefaultMaxFiles = 3;

    public static (long MaxBytes, int MaxFiles) Limits(LogConfig? config, string? target)
    {
        if (config is null) return (DefaultMaxBytes, DefaultMaxFiles);
        if (config.Type is not ("" or "json-file"))
            throw new ContainerOpsException(ErrorKind.InvalidArgument, "UnsupportedLogDriver",
                $"log driver '{config.Type}' is not supported: ContainerOps writes json-file logs (attach and logs read them)", target, "HostConfig.LogConfig.Type");
        long maxBytes = DefaultMaxBytes;
        int maxFiles = DefaultMaxFiles;
        foreach (var (key, value) in config.Config ?? new())
        {
            switch (key)
            {
                case "max-size":
                    try { maxBytes = value == "-1" ? 0 : MountSpecs.ParseSize(value, "log option max-size"); }
                    catch (ArgumentException e) { throw Invalid(e.Message, target, "max-size"); }
                    if (maxBytes is > 0 and < 4096) throw Invalid($"log option max-size {value} is below the minimum of 4k", target, "max-size");
                    break;
                case "max-file":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out maxFiles) || maxFiles < 1)
                        throw Invalid($"log option max-file '{value}' must be a whole number of at least 1", target, "max-file");
                    break;
                default:
                    throw Invalid($"log option '{key}' is not supported with json-file (max-size, max-file)", target, key);
            }
        }
        if (maxBytes == 0 && config.Config?.ContainsKey("max-file") == true && maxFiles > 1)
            throw Invalid("log option max-file needs max-size", target, "max-file");
        return (maxBytes, maxFiles);
    }

    private static ContainerOpsException Invalid(string message, string? target, string option) =>
        new(ErrorKind.InvalidArgument, "InvalidLogOption", message, target, "HostConfig.LogConfig.Config." + option);
}
