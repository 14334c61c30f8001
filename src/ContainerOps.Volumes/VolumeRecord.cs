using System.Text.Json;
using System.Text.Json.Serialization;
using ContainerOps.Core.IO;

namespace ContainerOps.Volumes;

/// <summary>One volume as the daemon keeps it: ROOT/volumes/&lt;name&gt;/volume.json beside its data directory _data.
/// The directory appears under its name only once it is complete (it is built under a temporary name and renamed).</summary>
public sealed class VolumeRecord
{
    public string Name { get; set; } = "";
    public string Driver { get; set; } = "local";
    public DateTimeOffset CreatedAt { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
    /// <summary>The local driver's options: type, device, o.</summary>
    public Dictionary<string, string> Options { get; set; } = new();

    public const string FileName = "volume.json";

    /// <summary>Docker's label on volumes made for a container without a name (`-v /path`, the image's VOLUME).</summary>
    public const string AnonymousLabel = "com.docker.volume.anonymous";

    [JsonIgnore] public bool Anonymous => Labels.ContainsKey(AnonymousLabel);

    /// <summary>The label of a volume that holds a cluster PersistentVolume's data (its value the volume's name): only
    /// its provisioner removes it, when the claim goes with reclaim policy Delete.</summary>
    public const string PersistentVolumeLabel = "io.kubernetes.persistentvolume";
    [JsonIgnore] public string? PersistentVolume => Labels.TryGetValue(PersistentVolumeLabel, out var pv) ? pv : null;

    /// <summary>Whether something is mounted at the mount point while the volume is in use (type/device/o given).</summary>
    [JsonIgnore] public bool MountsDevice => Options.ContainsKey("type") || Options.ContainsKey("device");

    public static VolumeRecord? Load(string dir)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dir, FileName)), VolumeJsonContext.Default.VolumeRecord); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    public void Save(string dir) =>
        AtomicFile.WriteAllBytes(Path.Combine(dir, FileName), JsonSerializer.SerializeToUtf8Bytes(this, VolumeJsonContext.Default.VolumeRecord));
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VolumeRecord))]
internal sealed partial class VolumeJsonContext : JsonSerializerContext
{
}
