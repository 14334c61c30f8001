using System.Management.Automation;
using ContainerOps.Core.Api;

namespace ContainerOps.PowerShell;

/// <summary>Lets a TimeSpan parameter take docker's duration strings too ("30s", "1m30s", "500ms"), besides TimeSpans and
/// "hh:mm:ss". A bare number would otherwise become ticks.</summary>
public sealed class DurationTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        return value switch
        {
            string s when GoDuration.TryParseNanos(s, out var nanos) => TimeSpan.FromTicks(nanos / 100),
            int or long => throw new ArgumentTransformationMetadataException(
                $"'{value}' has no unit: give a duration such as 5s, 500ms or 1m30s, or a TimeSpan"),
            _ => inputData,
        };
    }
}
