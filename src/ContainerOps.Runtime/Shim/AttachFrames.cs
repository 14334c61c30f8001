using System.Buffers.Binary;

namespace ContainerOps.Runtime.Shim;

/// <summary>The shim's attach socket speaks stdcopy frames: one stream byte (1 stdout, 2 stderr), three zero bytes,
/// a big-endian length, then the data. One reader for every consumer of that socket.</summary>
public static class AttachFrames
{
    public const byte Stdout = 1, Stderr = 2;

    /// <summary>The next frame, or null when the stream ends (a frame cut short counts as the end). The end is not an
    /// exception: every attached run meets it once, and a thrown exception costs the command line about a millisecond.</summary>
    public static async Task<(byte Stream, byte[] Data)?> ReadAsync(Stream source, CancellationToken ct = default)
    {
        var header = new byte[8];
        if (await source.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, ct) < header.Length) return null;
        var data = new byte[BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4))];
        if (await source.ReadAtLeastAsync(data, data.Length, throwOnEndOfStream: false, ct) < data.Length) return null;
        return (header[0], data);
    }

    /// <summary>The blocking twin of <see cref="ReadAsync"/>, for one-shot command lines that should not start the
    /// thread pool and socket event loop just to copy one container's output.</summary>
    public static (byte Stream, byte[] Data)? Read(Stream source)
    {
        Span<byte> header = stackalloc byte[8];
        if (source.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length) return null;
        var data = new byte[BinaryPrimitives.ReadInt32BigEndian(header[4..])];
        if (source.ReadAtLeast(data, data.Length, throwOnEndOfStream: false) < data.Length) return null;
        return (header[0], data);
    }
}
