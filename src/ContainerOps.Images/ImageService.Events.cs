using ContainerOps.Core.Api;
using ContainerOps.Core.Events;

namespace ContainerOps.Images;

/// <summary>Image events (Docker's `/events`), with the ids and names dockerd gives them: pull names the reference,
/// tag the new name, untag, delete, import and load the image id.</summary>
public sealed partial class ImageService
{
    /// <summary>Where image events go (the daemon's bus); none when the engine is used alone.</summary>
    public EventBus? Events { get; init; }

    private void Emit(string action, string id, string name) =>
        Events?.Publish(EventTypes.Image, action, id, new Dictionary<string, string> { ["name"] = name });

    private void EmitTags(string imageId, IEnumerable<string> names)
    {
        foreach (var n in names) Emit("tag", imageId, ImageNames.Familiar(n));
    }
}
