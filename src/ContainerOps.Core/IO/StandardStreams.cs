namespace ContainerOps.Core.IO;

/// <summary>
/// Standard output and error as plain file streams, for the command-line programs. Writing through System.Console's
/// own streams makes .NET switch the terminal into keypad-transmit mode (ESC[?1h ESC=) and never switch it back,
/// which changes what the keypad and cursor keys send in the user's shell afterwards.
/// </summary>
public static class StandardStreams
{
    public static Stream Open(int fd, FileAccess access = FileAccess.Write) => new DescriptorStream(fd, access);

    /// <summary>Console.Out and Console.Error over plain file streams, for every message written through Console.</summary>
    public static void UseForConsole()
    {
        var utf8 = new System.Text.UTF8Encoding(false);
        Console.SetOut(new StreamWriter(Open(1), utf8) { AutoFlush = true, NewLine = "\n" });
        Console.SetError(new StreamWriter(Open(2), utf8) { AutoFlush = true, NewLine = "\n" });
    }

    /// <summary>A write to a pipe whose reader is gone (`containerops logs -f | head`): the end of the output, not an error.</summary>
    public static bool IsBrokenPipe(Exception e) => e is IOException { HResult: 32 } || e.InnerException is IOException { HResult: 32 };
}
