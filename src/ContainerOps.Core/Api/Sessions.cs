namespace ContainerOps.Core.Api;

/// <summary>
/// Interactive sessions (exec, attach) run over a WebSocket on the daemon socket:
/// the client's first text message is the <see cref="ExecCreateRequest"/> (or "{}" for attach);
/// binary messages from the daemon are one stream byte (1 stdout, 2 stderr; 1 for a terminal) followed by data;
/// binary messages from the client are stdin bytes; text messages in either direction are <see cref="SessionControl"/>.
/// The daemon's last message is a control message with <see cref="SessionControl.Exit"/>.
/// </summary>
public sealed class SessionControl
{
    /// <summary>[rows, columns] of the client's terminal.</summary>
    public int[]? Resize { get; set; }
    /// <summary>The client has no more input.</summary>
    public bool? CloseStdin { get; set; }
    /// <summary>The process ended with this exit code.</summary>
    public int? Exit { get; set; }
    /// <summary>The session failed before or while running.</summary>
    public ApiError? Error { get; set; }
}

public static class SessionStreams
{
    public const byte Stdout = 1, Stderr = 2;
}
