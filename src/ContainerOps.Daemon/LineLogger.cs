namespace ContainerOps.Daemon;

/// <summary>
/// The daemon's log: one line an entry on stdout (the log file of a detached daemon), in the console logger's
/// single-line format: <c>2026-12-04T18:24:11.893 info: Category[0] message</c>. The console logger itself brings
/// half a dozen options types with their configure/validate/change-token services, which the host resolves at start;
/// in a NativeAOT daemon each generic service built at run time costs start time, for nothing a log file needs.
/// Levels and categories are filtered by the logging builder (SetMinimumLevel, AddFilter) as before.
/// </summary>
internal sealed class LineLoggerProvider : ILoggerProvider
{
    private static readonly object Gate = new();

    public ILogger CreateLogger(string categoryName) => new LineLogger(categoryName);

    public void Dispose() { }

    private sealed class LineLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"{DateTimeOffset.Now:yyyy-MM-ddTHH:mm:ss.fff} {Level(logLevel)}: {category}[{eventId.Id}] {formatter(state, exception)}";
            if (exception != null) line += Environment.NewLine + exception;
            lock (Gate) Console.Out.WriteLine(line);
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
    }
}
