using System.Text.Json.Nodes;

namespace ContainerOps.Cluster.Api;

public static partial class Validation
{
    /// <summary>The API server's checks of backoffLimitPerIndex and maxFailedIndexes.</summary>
    private static void IndexBackoff(JsonObject spec, List<FieldError> errors, string at = "spec")
    {
        var indexed = Json.Str(spec["completionMode"]) == "Indexed";
        int? completions = spec["completions"] is JsonValue c && c.TryGetValue<int>(out var cv) ? cv : null;
        if (spec["backoffLimitPerIndex"] is { } perIndex)
        {
            if (perIndex is not JsonValue v || !v.TryGetValue<int>(out var limit) || limit < 0)
                errors.Add(FieldError.InvalidRaw($"{at}.backoffLimitPerIndex", perIndex.ToJsonString(), "must be greater than or equal to 0"));
            if (!indexed) errors.Add(FieldError.Forbidden($"{at}.backoffLimitPerIndex", "requires indexed completion mode"));
            if (Json.Str(spec["template"]?["spec"]?["restartPolicy"]) is { } restart && restart != "Never")
                errors.Add(FieldError.Invalid($"{at}.template.spec.restartPolicy", restart, "only \"Never\" is supported when backoffLimitPerIndex is specified"));
            if (indexed && completions > MaxIndexesWithBackoffPerIndex)
                errors.Add(FieldError.InvalidRaw($"{at}.completions", completions.Value.ToString(), $"must be less than or equal to {MaxIndexesWithBackoffPerIndex} when backoffLimitPerIndex is specified"));
        }
        if (spec["maxFailedIndexes"] is { } maxNode)
        {
            if (maxNode is not JsonValue v || !v.TryGetValue<int>(out var max) || max < 0)
                errors.Add(FieldError.InvalidRaw($"{at}.maxFailedIndexes", maxNode.ToJsonString(), "must be greater than or equal to 0"));
            else
            {
                if (completions is { } n && max > n) errors.Add(FieldError.InvalidRaw($"{at}.maxFailedIndexes", max.ToString(), "must be less than or equal to completions"));
                if (max > MaxIndexesWithBackoffPerIndex) errors.Add(FieldError.InvalidRaw($"{at}.maxFailedIndexes", max.ToString(), $"must be less than or equal to {MaxIndexesWithBackoffPerIndex}"));
            }
            if (spec["backoffLimitPerIndex"] is null) errors.Add(FieldError.Required($"{at}.backoffLimitPerIndex", "when maxFailedIndexes is specified"));
        }
    }

    private const int MaxIndexesWithBackoffPerIndex = 100_000;

    /// <summary>The API server's checks of spec.podFailurePolicy, against the Job's pod template.</summary>
    private static void PodFailurePolicy(JsonObject spec, List<FieldError> errors, string at = "spec")
    {
        if (spec["podFailurePolicy"] is not JsonObject policy) return;
        var path = $"{at}.podFailurePolicy";
        var podSpec = spec["template"]?["spec"] as JsonObject;
        if (Json.Str(podSpec?["restartPolicy"]) is { } restart && restart != "Never")
            errors.Add(FieldError.Invalid($"{at}.template.spec.restartPolicy", restart, "only \"Never\" is supported when podFailurePolicy is specified"));
        if (policy["rules"] is not JsonArray rules) { errors.Add(FieldError.Required($"{path}.rules")); return; }
        if (rules.Count > 20) errors.Add(FieldError.InvalidRaw($"{path}.rules", rules.Count.ToString(), "must have at most 20 items"));
        var containerNames = (podSpec?["initContainers"] as JsonArray ?? []).Concat(podSpec?["containers"] as JsonArray ?? [])
            .Select(c => Json.Str(c?["name"])).OfType<string>().ToHashSet();
        string[] actions = ["Count", "FailIndex", "FailJob", "Ignore"];
        for (var i = 0; i < rules.Count; i++)
        {
            var rulePath = $"{path}.rules[{i}]";
            if (rules[i] is not JsonObject rule) { errors.Add(FieldError.Required(rulePath)); continue; }
            if (Json.Str(rule["action"]) is not { } action) errors.Add(FieldError.Required($"{rulePath}.action", $"valid values: {string.Join(", ", actions.Select(a => $"\"{a}\""))}"));
            else if (!actions.Contains(action)) errors.Add(FieldError.Unsupported($"{rulePath}.action", action, actions));
            else if (action == "FailIndex" && spec["backoffLimitPerIndex"] is null)
                errors.Add(FieldError.Invalid($"{rulePath}.action", action, "requires the backoffLimitPerIndex to be set"));
            var codes = rule["onExitCodes"] as JsonObject;
            var conditions = rule["onPodConditions"] as JsonArray;
            if (codes is not null && conditions is { Count: > 0 })
                errors.Add(FieldError.Invalid(rulePath, null, "specifying both OnExitCodes and OnPodConditions is not supported"));
            else if (codes is null && conditions is not { Count: > 0 })
                errors.Add(FieldError.Invalid(rulePath, null, "specifying one of OnExitCodes and OnPodConditions is required"));
            if (codes is not null)
            {
                var codesPath = $"{rulePath}.onExitCodes";
                if (Json.Str(codes["containerName"]) is { } container && !containerNames.Contains(container))
                    errors.Add(FieldError.Invalid($"{codesPath}.containerName", container, "must be one of the container or initContainer names in the pod template"));
                var op = Json.Str(codes["operator"]);
                if (op is null) errors.Add(FieldError.Required($"{codesPath}.operator", "valid values: \"In\", \"NotIn\""));
                else if (op is not ("In" or "NotIn")) errors.Add(FieldError.Unsupported($"{codesPath}.operator", op, ["In", "NotIn"]));
                var values = codes["values"] as JsonArray ?? [];
                if (values.Count == 0) errors.Add(FieldError.Required($"{codesPath}.values"));
                if (values.Count > 255) errors.Add(FieldError.InvalidRaw($"{codesPath}.values", values.Count.ToString(), "must have at most 255 items"));
                var seen = new HashSet<int>();
                for (var j = 0; j < values.Count; j++)
                {
                    if (values[j] is not JsonValue v || !v.TryGetValue<int>(out var code))
                        errors.Add(FieldError.Invalid($"{codesPath}.values[{j}]", values[j]?.ToJsonString(), "must be an integer"));
                    else if (!seen.Add(code))
                        errors.Add(FieldError.InvalidRaw($"{codesPath}.values[{j}]", code.ToString(), "must be unique"));
                    else if (code == 0 && op == "In")
                        errors.Add(FieldError.InvalidRaw($"{codesPath}.values[{j}]", "0", "must not be 0 for the In operator"));
                }
            }
            for (var j = 0; conditions is not null && j < conditions.Count; j++)
            {
                var conditionPath = $"{rulePath}.onPodConditions[{j}]";
                if (Json.Str(conditions[j]?["type"]) is null) errors.Add(FieldError.Required($"{conditionPath}.type"));
                if (Json.Str(conditions[j]?["status"]) is { } status && status is not ("True" or "False" or "Unknown"))
                    errors.Add(FieldError.Unsupported($"{conditionPath}.status", status, ["True", "False", "Unknown"]));
            }
        }
    }
}
