using ContainerOps.Core.Security;

namespace ContainerOps.Runtime.Spec;

/// <summary>
/// The system call filter every container gets unless it runs privileged or with seccomp=unconfined. Its effect is
/// that of Docker's default profile (as of Docker 25): a call not listed fails with EPERM; the calls ordinary programs
/// make are allowed; the ones that reach kernel-wide state are allowed only with the capability that governs them (so
/// <c>--cap-add SYS_ADMIN</c> opens mount, unshare, setns…); and a few are allowed for some arguments only: clone
/// without namespace flags, personality for the standard personas, socket for every family but AF_VSOCK. clone3 fails
/// with ENOSYS instead (its flags live in memory a filter cannot read), so the C library falls back to clone. The
/// io_uring calls are not allowed (they run operations the filter never sees), nor are keyctl, add_key, request_key,
/// kexec_load, swapon, userfaultfd and the like, which no capability opens here.
/// </summary>
public static class DefaultSeccompProfile
{
    // Grouped by what the calls do. Names of other architectures (the 32-bit variants, socketcall, ipc…) are listed
    // too: the filter covers x86 and x32 binaries on x86_64 hosts, and names a host does not know are skipped.

    private static readonly string[] FilesAndDirectories =
    {
        "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "fcntl64", "flock",
        "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "getdents", "getdents64",
        "mkdir", "mkdirat", "mknod", "mknodat", "rmdir", "rename", "renameat", "renameat2",
        "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "readlink", "readlinkat",
        "chmod", "fchmod", "fchmodat", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32", "umask",
        "stat", "stat64", "fstat", "fstat64", "lstat", "lstat64", "newfstatat", "fstatat64", "statx",
        "statfs", "statfs64", "fstatfs", "fstatfs64",
        "truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "readahead",
        "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
        "sync", "syncfs", "fsync", "fdatasync", "sync_file_range",
        "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr", "llistxattr", "flistxattr",
        "removexattr", "lremovexattr", "fremovexattr", "name_to_handle_at",
    };

    private static readonly string[] ReadingAndWriting =
    {
        "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2",
        "lseek", "_llseek", "ioctl", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range",
        "pipe", "pipe2", "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    };

    private static readonly string[] WaitingForEvents =
    {
        "poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2",
        "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        "fanotify_mark", "futex", "futex_time64", "futex_waitv",
    };

    private static readonly string[] Memory =
    {
        "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "remap_file_pages",
        "mlock", "mlock2", "mlockall", "munlock", "munlockall", "membarrier", "memfd_create", "memfd_secret",
        "pkey_alloc", "pkey_free", "pkey_mprotect",
    };

    private static readonly string[] Processes =
    {
        "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
        "getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
        "kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "process_mrelease",
        "prctl", "capget", "capset", "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
        "getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
        "set_tid_address", "get_robust_list", "set_robust_list", "get_thread_area", "set_thread_area", "rseq", "restart_syscall",
        "uname", "sysinfo", "getcpu", "getrandom",
        "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr", "sched_getparam",
        "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
        "sched_rr_get_interval", "sched_rr_get_interval_time64",
    };

    private static readonly string[] Identities =
    {
        "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
        "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
        "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
        "setresuid", "setresuid32", "setresgid", "setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
        "setgroups", "setgroups32",
    };

    private static readonly string[] SignalsAndTime =
    {
        "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigsuspend", "rt_sigreturn", "rt_sigqueueinfo",
        "rt_tgsigqueueinfo", "rt_sigtimedwait", "rt_sigtimedwait_time64", "sigaltstack", "sigprocmask", "sigreturn",
        "pause", "alarm", "nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "time", "times", "gettimeofday",
        "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "adjtimex", "clock_adjtime", "clock_adjtime64",
        "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
        "timer_settime", "timer_settime64",
    };

    private static readonly string[] SocketsAndIpc =
    {
        "socketpair", "socketcall", "bind", "listen", "accept", "accept4", "connect", "shutdown",
        "getsockname", "getpeername", "getsockopt", "setsockopt",
        "send", "sendto", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
        "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
        "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
        "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
    };

    /// <summary>Calls allowed only with a capability, by the capability.</summary>
    private static readonly (string Capability, string[] Calls)[] ByCapability =
    {
        ("CAP_SYS_ADMIN", new[]
        {
            "mount", "umount", "umount2", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
            "unshare", "setns", "clone", "clone3", "sethostname", "setdomainname", "quotactl", "quotactl_fd",
            "fanotify_init", "lookup_dcookie", "bpf", "perf_event_open", "syslog",
        }),
        ("CAP_SYS_PTRACE", new[] { "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp", "pidfd_getfd" }),
        ("CAP_SYS_MODULE", new[] { "init_module", "finit_module", "delete_module" }),
        ("CAP_SYS_BOOT", new[] { "reboot" }),
        ("CAP_SYS_TIME", new[] { "settimeofday", "stime", "clock_settime", "clock_settime64" }),
        ("CAP_SYS_NICE", new[] { "mbind", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node" }),
        ("CAP_SYS_RAWIO", new[] { "ioperm", "iopl" }),
        ("CAP_SYS_CHROOT", new[] { "chroot" }),
        ("CAP_SYS_PACCT", new[] { "acct" }),
        ("CAP_SYS_TTY_CONFIG", new[] { "vhangup" }),
        ("CAP_SYSLOG", new[] { "syslog" }),
        ("CAP_DAC_READ_SEARCH", new[] { "open_by_handle_at" }),
        ("CAP_BPF", new[] { "bpf" }),
        ("CAP_PERFMON", new[] { "perf_event_open" }),
    };

    /// <summary>Calls of one architecture family, by Docker's architecture names.</summary>
    private static readonly (string[] Arches, string[] Calls)[] ByArchitecture =
    {
        (new[] { "amd64", "x32" }, new[] { "arch_prctl" }),
        (new[] { "amd64", "x32", "x86" }, new[] { "modify_ldt" }),
        (new[] { "arm", "arm64" }, new[] { "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls" }),
        (new[] { "ppc64le" }, new[] { "sync_file_range2", "swapcontext" }),
        (new[] { "s390", "s390x" }, new[] { "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr" }),
        (new[] { "riscv64" }, new[] { "riscv_flush_icache" }),
    };

    private const uint EPERM = 1, ENOSYS = 38;
    private const ulong AF_VSOCK = 40;

    /// <summary>CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET.</summary>
    public const ulong NamespaceFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

    /// <summary>The personalities a container may switch to: Linux, 32-bit Linux, each with UNAME26, and the query 0xffffffff.</summary>
    private static readonly ulong[] Personalities = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

    /// <summary>The profile in Docker's form (with includes/excludes); SpecBuilder resolves it for each container.</summary>
    public static SeccompProfile Profile { get; } = Build();

    private static SeccompProfile Build()
    {
        var rules = new List<SeccompSyscall>
        {
            Allow(FilesAndDirectories.Concat(ReadingAndWriting).Concat(WaitingForEvents).Concat(Memory).Concat(Processes)
                .Concat(Identities).Concat(SignalsAndTime).Concat(SocketsAndIpc)),
            // Tracing and reading another process's memory were opened to everyone with kernel 4.8, where ptrace can no
            // longer be used to get around the filter.
            new() { Names = new() { "ptrace", "process_vm_readv", "process_vm_writev" }, Action = "SCMP_ACT_ALLOW", Includes = new SeccompFilter { MinKernel = "4.8" } },
            new()
            {
                Names = new() { "socket" }, Action = "SCMP_ACT_ALLOW",
                Args = new() { new SeccompArg { Index = 0, Op = "SCMP_CMP_NE", Value = AF_VSOCK } },
                Comment = "every address family but AF_VSOCK (a way to the host's virtual machines)",
            },
        };
        foreach (var persona in Personalities)
            rules.Add(new SeccompSyscall { Names = new() { "personality" }, Action = "SCMP_ACT_ALLOW", Args = new() { new SeccompArg { Index = 0, Op = "SCMP_CMP_EQ", Value = persona } } });
        foreach (var (arches, calls) in ByArchitecture)
            rules.Add(new SeccompSyscall { Names = calls.ToList(), Action = "SCMP_ACT_ALLOW", Includes = new SeccompFilter { Arches = arches.ToList() } });
        foreach (var (capability, calls) in ByCapability)
            rules.Add(new SeccompSyscall { Names = calls.ToList(), Action = "SCMP_ACT_ALLOW", Includes = new SeccompFilter { Caps = new() { capability } } });

        // Without CAP_SYS_ADMIN: clone for threads and processes but not for new namespaces (flags are the first
        // argument, the second on s390), and clone3 answers ENOSYS.
        rules.Add(new SeccompSyscall
        {
            Names = new() { "clone" }, Action = "SCMP_ACT_ALLOW",
            Args = new() { new SeccompArg { Index = 0, Op = "SCMP_CMP_MASKED_EQ", Value = NamespaceFlags, ValueTwo = 0 } },
            Excludes = new SeccompFilter { Caps = new() { "CAP_SYS_ADMIN" }, Arches = new() { "s390", "s390x" } },
        });
        rules.Add(new SeccompSyscall
        {
            Names = new() { "clone" }, Action = "SCMP_ACT_ALLOW",
            Args = new() { new SeccompArg { Index = 1, Op = "SCMP_CMP_MASKED_EQ", Value = NamespaceFlags, ValueTwo = 0 } },
            Includes = new SeccompFilter { Arches = new() { "s390", "s390x" } },
            Excludes = new SeccompFilter { Caps = new() { "CAP_SYS_ADMIN" } },
        });
        rules.Add(new SeccompSyscall
        {
            Names = new() { "clone3" }, Action = "SCMP_ACT_ERRNO", ErrnoRet = ENOSYS,
            Excludes = new SeccompFilter { Caps = new() { "CAP_SYS_ADMIN" } },
        });

        return new SeccompProfile
        {
            DefaultAction = "SCMP_ACT_ERRNO",
            DefaultErrnoRet = EPERM,
            ArchMap = new()
            {
                Map("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
                Map("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
                Map("SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"),
                Map("SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"),
                Map("SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"),
                Map("SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"),
                Map("SCMP_ARCH_S390X", "SCMP_ARCH_S390"),
                Map("SCMP_ARCH_RISCV64"),
            },
            Syscalls = rules,
        };
    }

    private static SeccompSyscall Allow(IEnumerable<string> calls) => new() { Names = calls.Distinct().ToList(), Action = "SCMP_ACT_ALLOW" };

    private static SeccompArchMap Map(string native, params string[] sub) => new() { Architecture = native, SubArchitectures = sub.ToList() };
}
