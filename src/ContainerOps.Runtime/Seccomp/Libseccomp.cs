using System.Runtime.InteropServices;

namespace ContainerOps.Runtime.Seccomp;

/// <summary>
/// The few libseccomp calls that turn a profile into a BPF program (Debian's libseccomp2; bound on first use, so a
/// process that never compiles a profile never loads it). The values are those of libseccomp 2.5's seccomp.h.
/// </summary>
internal static unsafe partial class Libseccomp
{
    private const string Library = "libseccomp.so.2";

    public const uint ActKillThread = 0x00000000, ActKillProcess = 0x80000000, ActTrap = 0x00030000, ActErrno = 0x00050000,
        ActTrace = 0x7ff00000, ActLog = 0x7ffc0000, ActAllow = 0x7fff0000;

    /// <summary>enum scmp_filter_attr.</summary>
    public const int AttrNoNewPrivs = 3, AttrOptimize = 8;

    /// <summary>seccomp_syscall_resolve_name's answer for a name no architecture knows.</summary>
    public const int NrError = -1;

    /// <summary>struct scmp_arg_cmp: argument index, enum scmp_compare, two 64-bit data.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ArgCmp
    {
        public uint Arg;
        public int Op;
        public ulong DatumA;
        public ulong DatumB;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Version
    {
        public uint Major, Minor, Micro;
    }

    [LibraryImport(Library)]
    public static partial nint seccomp_init(uint defaultAction);

    [LibraryImport(Library)]
    public static partial void seccomp_release(nint ctx);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint seccomp_arch_resolve_name(string name);

    [LibraryImport(Library)]
    public static partial int seccomp_arch_add(nint ctx, uint archToken);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int seccomp_syscall_resolve_name(string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int seccomp_syscall_resolve_name_arch(uint archToken, string name);

    [LibraryImport(Library)]
    public static partial uint seccomp_arch_native();

    [LibraryImport(Library)]
    public static partial int seccomp_rule_add_array(nint ctx, uint action, int syscall, uint count, ArgCmp* args);

    [LibraryImport(Library)]
    public static partial int seccomp_attr_set(nint ctx, int attribute, uint value);

    [LibraryImport(Library)]
    public static partial int seccomp_export_bpf(nint ctx, int fd);

    [LibraryImport(Library)]
    public static partial Version* seccomp_version();

    /// <summary>For the exported program: an anonymous file libseccomp writes to and the compiler reads back.</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);
}
