using System.Runtime.InteropServices;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Native;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Cgroups;

/// <summary>
/// Device access rules on cgroup v2, where there is no devices.allow file: the rules become a small eBPF program of type
/// BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup. The kernel runs it on every open and mknod of a
/// device node by a process in the cgroup; it returns 1 to allow and 0 to deny. As with devices.allow/deny on v1,
/// the last rule that matches a device decides, and a device no rule matches is denied.
/// </summary>
public static partial class DeviceFilter
{
    // The program's context is struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
    // with access_type = (access << 16) | type.
    private const int DevBlock = 1, DevChar = 2;
    private const int AccessMknod = 1, AccessRead = 2, AccessWrite = 4, AccessAll = 7;

    private const int BpfProgLoad = 5, BpfProgAttach = 8;
    private const int BpfProgTypeCgroupDevice = 15, BpfCgroupDevice = 6, BpfFAllowMulti = 2;
    private const long SysBpf = 321;

    /// <summary>One instruction: opcode, destination and source registers, offset, immediate.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public readonly struct Instruction(byte code, int dst, int src, short offset, int immediate)
    {
        public readonly byte Code = code;
        public readonly byte Registers = (byte)((src << 4) | dst);
        public readonly short Offset = offset;
        public readonly int Immediate = immediate;
    }

    // Opcodes: load 32-bit word, 32-bit and/shift with a constant, 64-bit moves, jump if not equal, exit.
    private static Instruction LoadWord(int dst, int src, short offset) => new(0x61, dst, src, offset, 0);
    private static Instruction And(int dst, int value) => new(0x54, dst, 0, 0, value);
    private static Instruction ShiftRight(int dst, int bits) => new(0x74, dst, 0, 0, bits);
    private static Instruction Move(int dst, int src) => new(0xbf, dst, src, 0, 0);
    private static Instruction MoveConstant(int dst, int value) => new(0xb7, dst, 0, 0, value);
    private static Instruction JumpIfNotEqual(int dst, int value, short skip) => new(0x55, dst, 0, skip, value);
    private static Instruction Exit() => new(0x95, 0, 0, 0, 0);

    /// <summary>The program for <paramref name="rules"/>, in the order the OCI spec lists them.</summary>
    public static Instruction[] Compile(IReadOnlyList<OciDeviceRule> rules, string target)
    {
        var program = new List<Instruction>
        {
            LoadWord(2, 1, 0), And(2, 0xFFFF),        // r2 = device type
            LoadWord(3, 1, 0), ShiftRight(3, 16),     // r3 = requested access
            LoadWord(4, 1, 4),                        // r4 = major
            LoadWord(5, 1, 8),                        // r5 = minor
        };
        // The last matching rule decides: test the rules from the last one back.
        for (var i = rules.Count - 1; i >= 0; i--)
        {
            var rule = rules[i];
            var checks = new List<Func<short, Instruction[]>>();
            switch (rule.Type ?? "a")
            {
                case "a": break;
                case "b": checks.Add(skip => [JumpIfNotEqual(2, DevBlock, skip)]); break;
                case "c": checks.Add(skip => [JumpIfNotEqual(2, DevChar, skip)]); break;
                default: throw Invalid(target, i, $"type '{rule.Type}' is not a, b or c");
            }
            var access = ParseAccess(rule.Access, target, i);
            // Every access asked for must be one the rule names.
            if (access != AccessAll) checks.Add(skip => [Move(1, 3), And(1, ~access & AccessAll), JumpIfNotEqual(1, 0, skip)]);
            if (rule.Major is long major && major >= 0) checks.Add(skip => [JumpIfNotEqual(4, checked((int)major), skip)]);
            if (rule.Minor is long minor && minor >= 0) checks.Add(skip => [JumpIfNotEqual(5, checked((int)minor), skip)]);

            // Each check jumps past the rest of this rule's block when it does not match.
            var tail = new[] { MoveConstant(0, rule.Allow ? 1 : 0), Exit() };
            var block = new List<Instruction>(tail);
            // Each check ends with its jump, which skips everything after it in the block.
            for (var c = checks.Count - 1; c >= 0; c--) block.InsertRange(0, checks[c]((short)block.Count));
            program.AddRange(block);
            // A rule for every device and access always decides: earlier rules could never run, and the
            // verifier refuses unreachable instructions.
            if (checks.Count == 0) return program.ToArray();
        }
        program.Add(MoveConstant(0, 0));
        program.Add(Exit());
        return program.ToArray();
    }

    /// <summary>Loads the program for <paramref name="rules"/> and attaches it to the cgroup directory <paramref name="cgroupDir"/>.
    /// The attachment lasts as long as the cgroup; nothing needs to be kept open.</summary>
    public static unsafe void Attach(string cgroupDir, IReadOnlyList<OciDeviceRule> rules, string target)
    {
        var program = Compile(rules, target);
        var license = "Apache-2.0\0"u8.ToArray();
        var log = new byte[64 * 1024];
        int programFd;
        fixed (Instruction* instructions = program)
        fixed (byte* licensePtr = license)
        fixed (byte* logPtr = log)
        {
            var attr = stackalloc byte[128];
            new Span<byte>(attr, 128).Clear();
            *(uint*)(attr + 0) = BpfProgTypeCgroupDevice;
            *(uint*)(attr + 4) = (uint)program.Length;
            *(ulong*)(attr + 8) = (ulong)instructions;
            *(ulong*)(attr + 16) = (ulong)licensePtr;
            *(uint*)(attr + 24) = 1;                   // verifier log level: explain a refusal
            *(uint*)(attr + 28) = (uint)log.Length;
            *(ulong*)(attr + 32) = (ulong)logPtr;
            programFd = (int)bpf(SysBpf, BpfProgLoad, attr, 128);
            if (programFd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                var verifier = Encoding.UTF8.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0))).Trim();
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DeviceFilterRefused",
                    $"the kernel refused the device rules' eBPF program ({Libc.StrError(errno)})" + (verifier.Length > 0 ? $": {verifier}" : ""),
                    target, "Linux.Resources.Devices");
            }
        }
        var cgroupFd = Libc.open(cgroupDir, Libc.Fs.O_RDONLY | Libc.Fs.O_DIRECTORY | Libc.Fs.O_CLOEXEC, 0);
        try
        {
            if (cgroupFd < 0) Libc.ThrowErrno("open " + cgroupDir);
            var attr = stackalloc byte[32];
            new Span<byte>(attr, 32).Clear();
            *(uint*)(attr + 0) = (uint)cgroupFd;
            *(uint*)(attr + 4) = (uint)programFd;
            *(uint*)(attr + 8) = BpfCgroupDevice;
            *(uint*)(attr + 12) = BpfFAllowMulti;
            if (bpf(SysBpf, BpfProgAttach, attr, 32) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "DeviceFilterRefused",
                    $"cannot attach the device rules to {cgroupDir}: {Libc.StrError(errno)}", target, "Linux.Resources.Devices");
            }
        }
        finally
        {
            if (cgroupFd >= 0) Libc.close(cgroupFd);
            Libc.close(programFd);
        }
    }

    private static int ParseAccess(string? access, string target, int index)
    {
        if (string.IsNullOrEmpty(access)) return AccessAll;
        var bits = 0;
        foreach (var c in access)
            bits |= c switch
            {
                'r' => AccessRead,
                'w' => AccessWrite,
                'm' => AccessMknod,
                _ => throw Invalid(target, index, $"access '{access}' may only hold r, w and m"),
            };
        return bits;
    }

    private static ContainerOpsException Invalid(string target, int index, string why) =>
        new(ErrorKind.InvalidArgument, "InvalidDeviceRule", $"device rule {index}: {why}", target, $"Linux.Resources.Devices[{index}]");

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long bpf(long number, long command, void* attr, long size);
}
