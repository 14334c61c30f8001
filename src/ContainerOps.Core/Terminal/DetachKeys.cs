namespace ContainerOps.Core.Terminal;

/// <summary>
/// The key sequence that detaches a terminal from a container and leaves it running (docker's --detach-keys, default
/// ctrl-p,ctrl-q): comma-separated keys, each a single character or ctrl-X with X one of a-z @ [ \ ] ^ _.
/// </summary>
public static class DetachKeys
{
    public const string Default = "ctrl-p,ctrl-q";

    /// <summary>The keys <paramref name="text"/> names, or the default ones when it names none (null or empty, as
    /// Docker clients send an unset value).</summary>
    public static byte[] ParseOrDefault(string? text) => Parse(string.IsNullOrEmpty(text) ? Default : text);

    public static byte[] Parse(string text)
    {
        var keys = new List<byte>();
        foreach (var key in text.Split(','))
        {
            var k = key.Trim();
            if (k.Length == 1 && k[0] < 128) keys.Add((byte)k[0]);
            else if (k.Length == 6 && k.StartsWith("ctrl-", StringComparison.OrdinalIgnoreCase) && char.ToLowerInvariant(k[5]) is var c
                     && (c is >= 'a' and <= 'z' || c is '@' or '[' or '\\' or ']' or '^' or '_'))
                keys.Add(c is >= 'a' and <= 'z' ? (byte)(c - 'a' + 1) : (byte)(c - '@'));
            else
                throw new ArgumentException($"invalid detach keys ({text}): each key is one character or ctrl-X (X: a-z, @, [, \\, ], ^, _), separated by commas");
        }
        return keys.ToArray();
    }
}

/// <summary>Watches terminal input for the detach sequence. Bytes that begin the sequence are held back until it is
/// complete (then nothing of it is sent) or broken (then they are sent with the rest), as docker's escape proxy does.</summary>
public sealed class DetachKeyMatcher(byte[] keys)
{
    private int _matched;

    /// <summary>The bytes to send on, and whether the sequence is now complete.</summary>
    public (byte[] Forward, bool Detach) Feed(ReadOnlySpan<byte> input)
    {
        var forward = new List<byte>(input.Length + _matched);
        foreach (var b in input)
        {
            if (b == keys[_matched])
            {
                if (++_matched == keys.Length) return (forward.ToArray(), true);
                continue;
            }
            for (var i = 0; i < _matched; i++) forward.Add(keys[i]);
            _matched = 0;
            if (b == keys[0]) { _matched = 1; if (keys.Length == 1) return (forward.ToArray(), true); continue; }
            forward.Add(b);
        }
        return (forward.ToArray(), false);
    }
}
