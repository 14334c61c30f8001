using System.Globalization;
using System.Text;
using ContainerOps.Core.Api;
using ContainerOps.Core.Security;
using ContainerOps.Runtime.Native;

namespace ContainerOps.Runtime.Seccomp;

/// <summary>A compiled filter as the shim takes it: a file holding the raw <c>struct sock_filter[]</c> and the
/// SECCOMP_FILTER_FLAG_* bits to load it with (see PLAN.md, <c>seccomp</c>).</summary>
public readonly record struct SeccompProgram(string Path, uint Flags);

/// <summary>
/// Compiles an OCI <c>linux.seccomp</c> section into a BPF program with libseccomp, as runc and crun do: the default
/// action (and its errno), the extra architectures, then one rule per system call name and action. Conditions on
/// distinct arguments make one rule (all must hold); several conditions on one argument make one rule each (any may
/// hold), which is what runc does with the libseccomp it links. Names that no architecture knows are skipped (a profile
/// lists calls of other architectures and newer kernels), and a rule whose action is the default action is left out.
/// Calls newer than the profile fail with ENOSYS, as under runc (<see cref="NewerCallsStub"/>). Programs are cached by the profile's content under STATE_ROOT/.seccomp, so a container start compiles nothing
/// (and loads no libseccomp) when an earlier one had the same profile.
/// </summary>
public static class SeccompCompiler
{
    private const string Field = "linux.seccomp";

    /// <summary>What the built-in runtime cannot do with a profile, found without compiling it (user notification).</summary>
    public static void CheckSupported(SeccompProfile profile, string? target, string at = Field, string field = Field)
    {
        if (!string.IsNullOrEmpty(profile.ListenerPath))
            throw Unsupported($"{at}.listenerPath: seccomp user notification (a listener at {profile.ListenerPath}) is not supported by the built-in runtime", target, field);
        if (profile.DefaultAction == "SCMP_ACT_NOTIFY")
            throw Unsupported($"{at}.defaultAction: SCMP_ACT_NOTIFY (seccomp user notification) is not supported by the built-in runtime", target, field);
        var i = 0;
        foreach (var rule in profile.Syscalls ?? new())
        {
            if (rule.Action == "SCMP_ACT_NOTIFY")
                throw Unsupported($"{at}.syscalls[{i}].action: SCMP_ACT_NOTIFY (seccomp user notification) is not supported by the built-in runtime", target, field);
            i++;
        }
        if (profile.Flags?.Contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == true)
            throw Unsupported($"{at}.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV applies to a notification listener, which the built-in runtime does not support", target, field);
    }

    /// <summary>The program for <paramref name="profile"/>: from the cache, or compiled into it.</summary>
    public static SeccompProgram Prepare(SeccompProfile profile, string stateRoot, string? target)
    {
        CheckSupported(profile, target);
        var flags = FlagBits(profile.Flags);
        var key = Key(profile);
        var cache = Path.Combine(stateRoot, ".seccomp");
        var entry = Path.Combine(cache, Hash(key));
        if (Holds(entry, key)) return new SeccompProgram(Path.Combine(entry, "filter.bpf"), flags);

        // Entries are written whole in a scratch directory and renamed into place, never changed afterwards: a shim
        // reading one never sees it half written, and two runtimes compiling the same profile at once both succeed.
        Directory.CreateDirectory(cache);
        var scratch = Path.Combine(cache, ".new-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(scratch);
        try
        {
            File.WriteAllText(Path.Combine(scratch, "key"), key);
            File.WriteAllBytes(Path.Combine(scratch, "filter.bpf"), Compile(profile, target));
            try
            {
                Directory.Move(scratch, entry);
                return new SeccompProgram(Path.Combine(entry, "filter.bpf"), flags);
            }
            catch (IOException) when (Directory.Exists(entry)) { }
            if (Holds(entry, key))
            {
                Directory.Delete(scratch, true);
                return new SeccompProgram(Path.Combine(entry, "filter.bpf"), flags);
            }
            // Another profile with the same hash holds the entry: this one keeps a directory of its own.
            var own = entry + "-" + Guid.NewGuid().ToString("N")[..8];
            Directory.Move(scratch, own);
            return new SeccompProgram(Path.Combine(own, "filter.bpf"), flags);
        }
        catch
        {
            try { if (Directory.Exists(scratch)) Directory.Delete(scratch, true); } catch (IOException) { }
            throw;
        }
    }

    private static bool Holds(string entry, string key)
    {
        try { return File.Exists(Path.Combine(entry, "filter.bpf")) && File.ReadAllText(Path.Combine(entry, "key")) == key; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>The BPF program of <paramref name="profile"/>: a <c>struct sock_filter[]</c> as the kernel takes it.</summary>
    public static unsafe byte[] Compile(SeccompProfile profile, string? target, string at = Field)
    {
        CheckSupported(profile, target, at);
        var defaultAction = ActionValue(profile.DefaultAction, profile.DefaultErrnoRet);
        nint ctx;
        try { ctx = Libseccomp.seccomp_init(defaultAction); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new ContainerOpsException(ErrorKind.ResourceUnavailable, "SeccompUnavailable",
                "cannot compile the container's seccomp profile: libseccomp.so.2 is missing (Debian: apt-get install libseccomp2)", target, at, e);
        }
        if (ctx == 0) throw Invalid($"{at}.defaultAction: libseccomp refused {profile.DefaultAction}", target, at);
        try
        {
            // The filter is loaded by the shim, which sets no_new_privs itself when the spec asks for it.
            Libseccomp.seccomp_attr_set(ctx, Libseccomp.AttrNoNewPrivs, 0);
            // A binary tree of system call numbers: a call is matched in about log2(n) comparisons rather than n.
            Libseccomp.seccomp_attr_set(ctx, Libseccomp.AttrOptimize, 2);
            var arches = new List<uint> { Libseccomp.seccomp_arch_native() };
            var a = 0;
            foreach (var arch in profile.Architectures ?? new())
            {
                var name = arch.StartsWith("SCMP_ARCH_", StringComparison.Ordinal) ? arch["SCMP_ARCH_".Length..].ToLowerInvariant() : arch;
                var token = Libseccomp.seccomp_arch_resolve_name(name);
                if (token == 0) throw Invalid($"{at}.architectures[{a}]: {arch} is not known to libseccomp {LibraryVersion()}", target, at);
                var rc = Libseccomp.seccomp_arch_add(ctx, token);
                if (rc < 0 && rc != -17 /* EEXIST: the native one */)
                    throw Invalid($"{at}.architectures[{a}]: libseccomp cannot add {arch}: {Libc.StrError(-rc)}", target, at);
                if (!arches.Contains(token)) arches.Add(token);
                a++;
            }

            var r = 0;
            foreach (var rule in profile.Syscalls ?? new())
            {
                var path = $"{at}.syscalls[{r++}]";
                var action = ActionValue(rule.Action, rule.ErrnoRet);
                if (action == defaultAction) continue;
                var args = rule.Args ?? new();
                var conditions = args.Select(x => new Libseccomp.ArgCmp { Arg = x.Index, Op = OperatorValue(x.Op), DatumA = x.Value, DatumB = x.ValueTwo }).ToArray();
                var oneArgumentTwice = args.GroupBy(x => x.Index).Any(g => g.Count() > 1);
                fixed (Libseccomp.ArgCmp* first = conditions)
                {
                    foreach (var name in rule.Names ?? new())
                    {
                        var nr = Libseccomp.seccomp_syscall_resolve_name(name);
                        if (nr == Libseccomp.NrError) continue;
                        if (!oneArgumentTwice) Add(ctx, action, nr, (uint)conditions.Length, first, path, name, target, at);
                        else for (var i = 0; i < conditions.Length; i++) Add(ctx, action, nr, 1, first + i, path, name, target, at);
                    }
                }
            }
            var program = Export(ctx);
            var stub = profile.DefaultAction is "SCMP_ACT_ALLOW" or "SCMP_ACT_LOG" ? Array.Empty<byte>() : NewerCallsStub(profile, arches);
            if ((stub.Length + program.Length) / 8 > 4096)
                throw Invalid($"{at}: the compiled filter has {(stub.Length + program.Length) / 8} instructions, more than the kernel's 4096", target, at);
            return stub.Length == 0 ? program : [.. stub, .. program];
        }
        finally
        {
            Libseccomp.seccomp_release(ctx);
        }
    }

    private static byte[] Export(nint ctx)
    {
        var fd = Libseccomp.memfd_create("seccomp-bpf", 1 /* MFD_CLOEXEC */);
        if (fd < 0) Libc.ThrowErrno("memfd_create");
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        var rc = Libseccomp.seccomp_export_bpf(ctx, fd);
        if (rc < 0) throw new IOException($"seccomp: exporting the BPF program failed: {Libc.StrError(-rc)}");
        var program = new byte[RandomAccess.GetLength(handle)];
        for (var done = 0; done < program.Length;)
        {
            var n = RandomAccess.Read(handle, program.AsSpan(done), done);
            if (n <= 0) throw new IOException("seccomp: the exported BPF program is shorter than its file");
            done += n;
        }
        return program;
    }

    // AUDIT_ARCH_X86_64, and the pseudo-architecture libseccomp names x32 by: its calls come as x86_64 with this bit set.
    private const uint AuditArchX86_64 = 0xc000003e, ScmpArchX32 = 0x4000003e, X32Bit = 0x40000000;

    /// <summary>
    /// A prologue, as runc puts before its filters: a call numbered above every call the profile names (for the calling
    /// architecture) is newer than the profile, and fails with ENOSYS rather than the default errno, so the C library
    /// falls back to the older call it replaces (fchmodat2 to fchmodat, as clone3 to clone). Not for a profile whose
    /// default is to allow: a newer call is then allowed anyway.
    /// </summary>
    private static byte[] NewerCallsStub(SeccompProfile profile, List<uint> arches)
    {
        var names = (profile.Syscalls ?? new()).SelectMany(r => r.Names ?? new()).Distinct().ToList();
        var highest = new Dictionary<uint, uint>();
        foreach (var arch in arches)
        {
            var max = -1L;
            foreach (var name in names)
            {
                long nr = Libseccomp.seccomp_syscall_resolve_name_arch(arch, name);
                if (nr < 0) continue;
                if (arch == ScmpArchX32) nr |= X32Bit;
                max = Math.Max(max, nr);
            }
            if (max >= 0) highest[arch] = (uint)max;
        }
        if (highest.Count == 0) return Array.Empty<byte>();

        // Jumps are relative and forward only; "end" is the first instruction after the stub, where the program starts.
        var code = new List<(ushort Code, string? True, string? False, uint K, string? Label)>();
        void Emit(ushort op, uint k, string? jt = null, string? jf = null, string? label = null) => code.Add((op, jt, jf, k, label));
        const ushort LdAbs = 0x20, Jeq = 0x15, Jgt = 0x25, Jge = 0x35, Ja = 0x05, Ret = 0x06;
        Emit(LdAbs, 4); // seccomp_data.arch
        var audits = highest.Keys.Select(a => a == ScmpArchX32 ? AuditArchX86_64 : a).Distinct().ToList();
        foreach (var audit in audits) Emit(Jeq, audit, jt: "arch" + audit);
        Emit(Ja, 0, jt: "end");
        foreach (var audit in audits)
        {
            Emit(LdAbs, 0, label: "arch" + audit); // seccomp_data.nr
            if (audit == AuditArchX86_64)
            {
                var x32 = highest.TryGetValue(ScmpArchX32, out var maxX32);
                Emit(Jge, X32Bit, jt: x32 ? "x32" : "end");
                if (highest.TryGetValue(AuditArchX86_64, out var max64)) Emit(Jgt, max64, jt: "enosys", jf: "end");
                else Emit(Ja, 0, jt: "end");
                if (x32) Emit(Jgt, maxX32, jt: "enosys", jf: "end", label: "x32");
            }
            else Emit(Jgt, highest[audit], jt: "enosys", jf: "end");
        }
        Emit(Ret, Libseccomp.ActErrno | 38 /* ENOSYS */, label: "enosys");

        var labels = new Dictionary<string, int> { ["end"] = code.Count };
        for (var i = 0; i < code.Count; i++) if (code[i].Label is { } l) labels[l] = i;
        var bytes = new byte[code.Count * 8];
        for (var i = 0; i < code.Count; i++)
        {
            var (op, jt, jf, k, _) = code[i];
            var offsetTrue = jt is null ? 0 : labels[jt] - i - 1;
            var offsetFalse = jf is null ? 0 : labels[jf] - i - 1;
            if (op == Ja) { k = (uint)offsetTrue; offsetTrue = 0; }
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), op);
            bytes[i * 8 + 2] = checked((byte)offsetTrue);
            bytes[i * 8 + 3] = checked((byte)offsetFalse);
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8 + 4), k);
        }
        return bytes;
    }

    private static unsafe void Add(nint ctx, uint action, int nr, uint count, Libseccomp.ArgCmp* conditions, string path, string name, string? target, string at)
    {
        var rc = Libseccomp.seccomp_rule_add_array(ctx, action, nr, count, count == 0 ? null : conditions);
        if (rc < 0) throw Invalid($"{path}: libseccomp refused the rule for {name}: {Libc.StrError(-rc)}", target, at);
    }

    private static string LibraryVersion()
    {
        unsafe
        {
            var v = Libseccomp.seccomp_version();
            return v == null ? "" : $"{v->Major}.{v->Minor}.{v->Micro}";
        }
    }

    /// <summary>The libseccomp action value: SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry an errno (EPERM unless given).</summary>
    public static uint ActionValue(string action, uint? errno) => action switch
    {
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => Libseccomp.ActKillThread,
        "SCMP_ACT_KILL_PROCESS" => Libseccomp.ActKillProcess,
        "SCMP_ACT_TRAP" => Libseccomp.ActTrap,
        "SCMP_ACT_ERRNO" => Libseccomp.ActErrno | ((errno ?? 1) & 0xffff),
        "SCMP_ACT_TRACE" => Libseccomp.ActTrace | ((errno ?? 1) & 0xffff),
        "SCMP_ACT_LOG" => Libseccomp.ActLog,
        "SCMP_ACT_ALLOW" => Libseccomp.ActAllow,
        _ => throw new ArgumentException($"unknown seccomp action '{action}'"),
    };

    private static int OperatorValue(string op) => op switch
    {
        "SCMP_CMP_NE" => 1,
        "SCMP_CMP_LT" => 2,
        "SCMP_CMP_LE" => 3,
        "SCMP_CMP_EQ" => 4,
        "SCMP_CMP_GE" => 5,
        "SCMP_CMP_GT" => 6,
        "SCMP_CMP_MASKED_EQ" => 7,
        _ => throw new ArgumentException($"unknown seccomp operator '{op}'"),
    };

    /// <summary>SECCOMP_FILTER_FLAG_* bits of linux/seccomp.h.</summary>
    public static uint FlagBits(IEnumerable<string>? flags)
    {
        uint bits = 0;
        foreach (var flag in flags ?? Array.Empty<string>())
            bits |= flag switch
            {
                "SECCOMP_FILTER_FLAG_TSYNC" => 1u,
                "SECCOMP_FILTER_FLAG_LOG" => 2u,
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4u,
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => 32u,
                _ => throw new ArgumentException($"unknown seccomp flag '{flag}'"),
            };
        return bits;
    }

    /// <summary>Everything the program depends on, in a fixed order: two profiles with the same key compile alike.</summary>
    internal static string Key(SeccompProfile profile)
    {
        var sb = new StringBuilder(8192);
        sb.Append("containerops seccomp 2\ndefault ").Append(ActionValue(profile.DefaultAction, profile.DefaultErrnoRet).ToString("x")).Append('\n');
        sb.Append("arch ").AppendJoin(',', profile.Architectures ?? new()).Append('\n');
        foreach (var rule in profile.Syscalls ?? new())
        {
            sb.Append("rule ").Append(ActionValue(rule.Action, rule.ErrnoRet).ToString("x")).Append(' ').AppendJoin(',', rule.Names ?? new());
            foreach (var arg in rule.Args ?? new())
                sb.Append(' ').Append(arg.Index).Append(':').Append(OperatorValue(arg.Op)).Append(':')
                    .Append(arg.Value.ToString("x", CultureInfo.InvariantCulture)).Append(':').Append(arg.ValueTwo.ToString("x", CultureInfo.InvariantCulture));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>64-bit FNV-1a, as a file name. Not a defence against collisions: <see cref="Prepare"/> compares the key.</summary>
    private static string Hash(string key)
    {
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(key))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h.ToString("x16");
    }

    private static ContainerOpsException Invalid(string message, string? target, string field) =>
        new(ErrorKind.InvalidArgument, "InvalidSeccompProfile", message, target, field);

    private static ContainerOpsException Unsupported(string message, string? target, string field) =>
        new(ErrorKind.InvalidArgument, "SeccompNotSupported", message, target, field);
}
