namespace ContainerOps.Compose.Loading;

/// <summary>A mistake in a compose file or in the project it describes. The message names the file, the line and column
/// and the key path when they are known: <c>compose.yaml:12:9: services.web.ports[1]: invalid port "80:abc"</c>.</summary>
public sealed class ComposeFileException : Exception
{
    public ComposeFileException(string message, string? file = null, int line = 0, int column = 0, string? keyPath = null)
        : base(Format(message, file, line, column, keyPath))
    {
        Reason = message;
        File = file;
        Line = line;
        Column = column;
        KeyPath = keyPath;
    }

    /// <summary>The problem alone, without its location.</summary>
    public string Reason { get; }
    public string? File { get; }
    public int Line { get; }
    public int Column { get; }
    public string? KeyPath { get; }

    private static string Format(string message, string? file, int line, int column, string? keyPath)
    {
        var where = file is null ? "" : line > 0 ? $"{file}:{line}:{column}: " : $"{file}: ";
        var path = string.IsNullOrEmpty(keyPath) ? "" : keyPath + ": ";
        return where + path + message;
    }
}
