using System.Net;

namespace ContainerOps.Core.Api;

/// <summary>What kind of failure; maps to HTTP status on the wire and to ErrorCategory in pwsh.</summary>
public enum ErrorKind
{
    InvalidArgument,   // 400: the request names a bad value (field says which)
    NotFound,          // 404
    Conflict,          // 409: name in use, image in use, container running…
    ResourceUnavailable, // 503: kernel/runtime refused (cgroup limit below minimum, runtime missing)
    CannotExecute,     // 126
    CommandNotFound,   // 127
    Internal,          // 500
}

/// <summary>The error body every failing API call returns.</summary>
public sealed class ApiError
{
    /// <summary>Stable identifier, e.g. "ContainerNotFound", "NameInUse", "InvalidMemoryLimit".</summary>
    public string Id { get; set; } = "Internal";
    public ErrorKind Kind { get; set; } = ErrorKind.Internal;
    /// <summary>Human message naming the object and why.</summary>
    public string Message { get; set; } = "";
    /// <summary>The object concerned (container or image name/id), when there is one.</summary>
    public string? Target { get; set; }
    /// <summary>The request field at fault, when there is one (e.g. "HostConfig.Memory").</summary>
    public string? Field { get; set; }
}

/// <summary>The one exception type carried from engines to the API and from the client to the CLI and cmdlets.</summary>
public class ContainerOpsException : Exception
{
    public ApiError Error { get; }

    public ContainerOpsException(ApiError error, Exception? inner = null) : base(error.Message, inner) => Error = error;

    public ContainerOpsException(ErrorKind kind, string id, string message, string? target = null, string? field = null, Exception? inner = null)
        : this(new ApiError { Kind = kind, Id = id, Message = message, Target = target, Field = field }, inner) { }

    public static HttpStatusCode StatusFor(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => HttpStatusCode.BadRequest,
        ErrorKind.NotFound => HttpStatusCode.NotFound,
        ErrorKind.Conflict => HttpStatusCode.Conflict,
        ErrorKind.ResourceUnavailable => HttpStatusCode.ServiceUnavailable,
        _ => HttpStatusCode.InternalServerError,
    };

    /// <summary>Docker's exit status for a `run` that failed before the command ran.</summary>
    public int CliExitCode => Error.Kind switch
    {
        ErrorKind.CannotExecute => 126,
        ErrorKind.CommandNotFound => 127,
        _ => 125,
    };
}
