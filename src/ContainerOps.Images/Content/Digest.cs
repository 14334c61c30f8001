using System.Security.Cryptography;
using ContainerOps.Core.Api;
using ContainerOps.Core.IO;

namespace ContainerOps.Images.Content;

/// <summary>"sha256:&lt;64 lowercase hex&gt;" content digests.</summary>
public static class Digest
{
    public const string Prefix = "sha256:";

    public static string Of(ReadOnlySpan<byte> data) => Prefix + Convert.ToHexStringLower(SHA256.HashData(data));

    public static string FromHash(byte[] hash) => Prefix + Convert.ToHexStringLower(hash);

    public static bool IsHex(string s, int length = 64) =>
        s.Length == length && s.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    public static bool IsValid(string? digest) =>
        digest != null && digest.StartsWith(Prefix, StringComparison.Ordinal) && IsHex(digest[Prefix.Length..]);

    /// <summary>The hex part of a valid digest; throws InvalidArgument otherwise (never lets a digest become a path).</summary>
    public static string Hex(string digest) => IsValid(digest)
        ? digest[Prefix.Length..]
        : throw new ContainerOpsException(ErrorKind.InvalidArgument, "InvalidDigest", $"'{digest}' is not a sha256 digest", digest);
}

/// <summary>A read-through stream that hashes (sha256) and counts what passes through it.</summary>
public sealed class HashingStream : ForwardReadStream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly bool _leaveOpen;

    public HashingStream(Stream inner, bool leaveOpen = false) { _inner = inner; _leaveOpen = leaveOpen; }

    public long BytesRead { get; private set; }

    /// <summary>Digest of everything read so far.</summary>
    public string Digest => Content.Digest.FromHash(_hash.GetCurrentHash());

    /// <summary>Reads the rest of the stream so the digest covers all of it.</summary>
    public void Drain()
    {
        var buf = new byte[81920];
        while (Read(buf, 0, buf.Length) > 0) { }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = _inner.Read(buffer);
        if (n > 0) { _hash.AppendData(buffer[..n]); BytesRead += n; }
        return n;
    }

    public override long Position { get => BytesRead; }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _hash.Dispose(); if (!_leaveOpen) _inner.Dispose(); }
        base.Dispose(disposing);
    }
}
