using System.Text;

namespace ContainerOps.Core.IO;

/// <summary>
/// Reads and writes the small text files of /proc, /sys/fs/cgroup and a run root (a pid, a limit, a state line) through
/// a plain handle: no FileStream or StreamReader and their buffers, which are most of what a one-shot command like
/// the OCI runtime allocates, and each fresh page of heap costs a page fault. The exceptions are File's own
/// (FileNotFoundException, DirectoryNotFoundException, UnauthorizedAccessException, IOException).
/// </summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
public static class SmallFile
{
    /// <summary>The whole file as UTF-8. Files of /proc and /sys report no size, so it reads until the end.</summary>
    public static string ReadText(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        Span<byte> first = stackalloc byte[4096];
        var length = ReadFrom(handle, first, 0);
        if (length < first.Length) return Encoding.UTF8.GetString(first[..length]);
        // Larger than a page (a long mountinfo): grow on the heap.
        var buffer = new byte[first.Length * 4];
        first.CopyTo(buffer);
        while (true)
        {
            var n = ReadFrom(handle, buffer.AsSpan(length), length);
            length += n;
            if (length < buffer.Length) return Encoding.UTF8.GetString(buffer, 0, length);
            Array.Resize(ref buffer, buffer.Length * 2);
        }
    }

    /// <summary>The file's non-empty lines, without the line ends.</summary>
    public static string[] ReadLines(string path) => ReadText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Writes <paramref name="text"/> as UTF-8 in one write, creating or truncating the file (a cgroup file
    /// takes the value whole or refuses it with the kernel's error).</summary>
    public static void WriteText(string path, string text)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        Span<byte> bytes = max <= 1024 ? stackalloc byte[max] : new byte[max];
        RandomAccess.Write(handle, bytes[..Encoding.UTF8.GetBytes(text, bytes)], 0);
    }

    /// <summary>Writes <paramref name="text"/> unless the file holds it already (a container's hostname, hosts and
    /// resolv.conf, made at create and checked again at each start). A new file is made without truncation: ext4 writes
    /// a truncated file back to the disk when it is closed. Returns whether it wrote.</summary>
    public static bool WriteIfChanged(string path, string text)
    {
        string? current = null;
        try { current = ReadText(path); }
        catch (FileNotFoundException) { }
        if (current == text) return false;
        using var handle = File.OpenHandle(path, current is null ? FileMode.CreateNew : FileMode.Create, FileAccess.Write);
        var bytes = Encoding.UTF8.GetBytes(text);
        RandomAccess.Write(handle, bytes, 0);
        return true;
    }

    // Fills as much of the buffer as the file has from the offset on: 0 only at the end.
    private static int ReadFrom(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[total..], offset + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
