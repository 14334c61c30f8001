using System.Runtime.InteropServices;
using System.Text;

namespace ContainerOps.Runtime.Native;

/// <summary>
/// Starts a program with chosen file descriptors as its stdio, through posix_spawn (safe from a multithreaded
/// process, unlike fork). Used to launch the shim with pipes or a pty slave, which Process.Start cannot do.
/// The caller reaps the child with <see cref="WaitForExit"/>.
/// </summary>
public static unsafe partial class Spawn
{
    private const short POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSIGDEF = 0x04;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_spawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);
    [LibraryImport("libc")] private static partial int posix_spawn_file_actions_init(void* fa);
    [LibraryImport("libc")] private static partial int posix_spawn_file_actions_destroy(void* fa);
    [LibraryImport("libc")] private static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);
    [LibraryImport("libc")] private static partial int posix_spawnattr_init(void* attr);
    [LibraryImport("libc")] private static partial int posix_spawnattr_destroy(void* attr);
    [LibraryImport("libc")] private static partial int posix_spawnattr_setflags(void* attr, short flags);
    [LibraryImport("libc")] private static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);
    [LibraryImport("libc")] private static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);
    [LibraryImport("libc")] private static partial int sigemptyset(void* set);
    [LibraryImport("libc")] private static partial int sigfillset(void* set);

    /// <summary>Starts <paramref name="path"/> with <paramref name="args"/> (argv[0] included) and fds 0,1,2 taken from
    /// <paramref name="stdin"/>, <paramref name="stdout"/>, <paramref name="stderr"/> (-1: /dev/null), and fd 3 from
    /// <paramref name="fd3"/> when given. The environment is this process's.</summary>
    public static int Start(string path, IReadOnlyList<string> args, int stdin, int stdout, int stderr, int fd3 = -1)
    {
        int devNull = -1;
        if (stdin < 0 || stdout < 0 || stderr < 0)
        {
            devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            if (devNull < 0) Libc.ThrowErrno("open /dev/null");
        }
        var fa = stackalloc byte[256];
        var attr = stackalloc byte[512];
        var sigset = stackalloc byte[128];
        var allocations = new List<nint>();
        try
        {
            posix_spawn_file_actions_init(fa);
            posix_spawn_file_actions_adddup2(fa, stdin < 0 ? devNull : stdin, 0);
            posix_spawn_file_actions_adddup2(fa, stdout < 0 ? devNull : stdout, 1);
            posix_spawn_file_actions_adddup2(fa, stderr < 0 ? devNull : stderr, 2);
            if (fd3 >= 0) posix_spawn_file_actions_adddup2(fa, fd3, 3);
            posix_spawnattr_init(attr);
            posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
            sigemptyset(sigset);
            posix_spawnattr_setsigmask(attr, sigset);
            sigfillset(sigset);
            posix_spawnattr_setsigdefault(attr, sigset);

            byte* Utf8(string s)
            {
                var bytes = Encoding.UTF8.GetByteCount(s);
                var p = (byte*)NativeMemory.Alloc((nuint)bytes + 1);
                allocations.Add((nint)p);
                fixed (char* c = s) Encoding.UTF8.GetBytes(c, s.Length, p, bytes);
                p[bytes] = 0;
                return p;
            }

            var argv = (byte**)NativeMemory.Alloc((nuint)(args.Count + 1), (nuint)sizeof(nint));
            allocations.Add((nint)argv);
            for (var i = 0; i < args.Count; i++) argv[i] = Utf8(args[i]);
            argv[args.Count] = null;

            var envVars = Environment.GetEnvironmentVariables();
            var envp = (byte**)NativeMemory.Alloc((nuint)(envVars.Count + 1), (nuint)sizeof(nint));
            allocations.Add((nint)envp);
            var n = 0;
            foreach (System.Collections.DictionaryEntry e in envVars) envp[n++] = Utf8($"{e.Key}={e.Value}");
            envp[n] = null;

            var rc = posix_spawn(out var pid, Utf8(path), fa, attr, argv, envp);
            if (rc != 0) Libc.ThrowErrno($"spawn {path}", rc);
            return pid;
        }
        finally
        {
            posix_spawn_file_actions_destroy(fa);
            posix_spawnattr_destroy(attr);
            foreach (var p in allocations) NativeMemory.Free((void*)p);
            if (devNull >= 0) Libc.close(devNull);
        }
    }

    /// <summary>Blocks until the child exits; returns its exit code with Docker's conventions (128+signal).</summary>
    public static int WaitForExit(int pid)
    {
        while (true)
        {
            var r = Libc.waitpid(pid, out var status, 0);
            if (r == pid) return Libc.ExitCodeFromWaitStatus(status);
            var errno = Libc.LastErrno;
            if (r < 0 && errno == Libc.EINTR) continue;
            if (r < 0) Libc.ThrowErrno($"waitpid {pid}", errno);
        }
    }

    public static Task<int> WaitForExitAsync(int pid) =>
        Task.Factory.StartNew(() => WaitForExit(pid), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
