using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

/// <summary>One field at fault, as the API reports it in an Invalid status: `spec.containers[0].image: Required value`.</summary>
public sealed record FieldError(string Type, string Field, string Detail, string? Value = null, bool RawValue = false)
{
    /// <summary>The cause's reason: FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueForbidden…</summary>
    public string Reason => Type switch
    {
        "Required value" => "FieldValueRequired",
        "Unsupported value" => "FieldValueNotSupported",
        "Forbidden" => "FieldValueForbidden",
        "Duplicate value" => "FieldValueDuplicate",
        "Too long" => "FieldValueTooLong",
        _ => "FieldValueInvalid",
    };

    /// <summary>The message without the field, as in a cause: `Invalid value: "X": why`.</summary>
    public string Message => Type switch
    {
        "Invalid value" or "Unsupported value" or "Duplicate value" => $"{Type}: {(RawValue ? Value : Quote(Value))}{(Detail.Length > 0 ? ": " + Detail : "")}",
        _ => Detail.Length > 0 ? $"{Type}: {Detail}" : Type,
    };

    public override string ToString() => $"{Field}: {Message}";

    /// <summary>As Go's %q writes a string (the API server's wording).</summary>
    private static string Quote(string? value) => value is null ? "null" : "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    public static FieldError Required(string field, string detail = "") => new("Required value", field, detail);
    public static FieldError Invalid(string field, string? value, string detail) => new("Invalid value", field, detail, value);
    /// <summary>A value written as it is (a map or a structure, which the API server does not quote).</summary>
    public static FieldError InvalidRaw(string field, string value, string detail) => new("Invalid value", field, detail, value, true);
    public static FieldError Unsupported(string field, string? value, IEnumerable<string> supported) =>
        new("Unsupported value", field, "supported values: " + string.Join(", ", supported.Select(s => $"\"{s}\"")), value);
    public static FieldError Forbidden(string field, string detail) => new("Forbidden", field, detail);
    public static FieldError Duplicate(string field, string? value) => new("Duplicate value", field, "", value);
}

/// <summary>An API failure, written as a Kubernetes `Status` object with the code, reason and message kubectl prints.</summary>
public sealed class StatusException(int code, string reason, string message, JsonObject? details = null) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
    public JsonObject? Details { get; } = details;

    public JsonObject ToStatus() => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = Message,
        ["reason"] = Reason,
        ["details"] = Details?.DeepClone(),
        ["code"] = Code,
    };

    private static JsonObject Named(ResourceKind kind, string? name) => new()
    {
        ["name"] = name, ["group"] = kind.Group.Length > 0 ? kind.Group : null, ["kind"] = kind.Resource,
    };

    public static StatusException NotFound(ResourceKind kind, string name) =>
        new(404, "NotFound", $"{kind.GroupResource} \"{name}\" not found", Named(kind, name));
    public static StatusException AlreadyExists(ResourceKind kind, string name) =>
        new(409, "AlreadyExists", $"{kind.GroupResource} \"{name}\" already exists", Named(kind, name));
    public static StatusException Conflict(ResourceKind kind, string name, string why = "the object has been modified; please apply your changes to the latest version and try again") =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {kind.GroupResource} \"{name}\": {why}", Named(kind, name));
    public static StatusException BadRequest(string message) => new(400, "BadRequest", message);
    public static StatusException Gone(string message) => new(410, "Expired", message);
    public static StatusException MethodNotAllowed(string message) => new(405, "MethodNotAllowed", message);
    public static StatusException NotAcceptable(string message) => new(406, "NotAcceptable", message);
    public static StatusException UnsupportedMediaType(string message) => new(415, "UnsupportedMediaType", message);
    public static StatusException TooLarge(string message) => new(413, "RequestEntityTooLarge", message);
    public static StatusException Unauthorized() => new(401, "Unauthorized", "Unauthorized");
    public static StatusException PathNotFound() => new(404, "NotFound", "the server could not find the requested resource");

    /// <summary>`Pod "web" is invalid: [a, b]` with one cause per field, as the API server words it.</summary>
    public static StatusException Invalid(ResourceKind kind, string? name, IReadOnlyList<FieldError> errors) =>
        Invalid(kind.Kind, kind.Group, name, errors);

    /// <summary>The same for a kind that is not stored (a TokenRequest).</summary>
    public static StatusException Invalid(string kind, string group, string? name, IReadOnlyList<FieldError> errors)
    {
        var causes = new JsonArray();
        foreach (var e in errors)
            causes.Add((JsonNode)new JsonObject { ["reason"] = e.Reason, ["message"] = e.Message, ["field"] = e.Field });
        var list = errors.Count == 1 ? errors[0].ToString() : "[" + string.Join(", ", errors) + "]";
        var details = new JsonObject
        {
            ["name"] = name, ["group"] = group.Length > 0 ? group : null, ["kind"] = kind, ["causes"] = causes,
        };
        var label = group.Length > 0 ? $"{kind}.{group}" : kind;
        return new StatusException(422, "Invalid", $"{label} \"{name}\" is invalid: {list}", details);
    }
}
