/* scprobe: makes the system calls named on its command line, each so that it cannot change anything (bad magic,
 * missing files, null pointers), and prints one line per call: "name=ok" or "name=<errno name or number>". Under a
 * seccomp filter a denied call answers with the filter's errno (EPERM) before the kernel looks at the arguments;
 * allowed, it answers with whatever the kernel makes of them. Built by the tests with `cc -static`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *name_of(int e)
{
    static char buf[16];
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EBUSY: return "EBUSY";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case E2BIG: return "E2BIG";
    case ENODEV: return "ENODEV";
    case ENOKEY: return "ENOKEY";
    }
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

static long call(const char *name)
{
    if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    if (!strcmp(name, "add_key")) return syscall(SYS_add_key, NULL, NULL, NULL, 0, -2);
    if (!strcmp(name, "request_key")) return syscall(SYS_request_key, NULL, NULL, NULL, 0);
    if (!strcmp(name, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL);
    if (!strcmp(name, "bpf")) return syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, NULL, 0);
    if (!strcmp(name, "perf_event_open")) return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    if (!strcmp(name, "swapon")) return syscall(SYS_swapon, "/nonexistent-swap", 0);
    if (!strcmp(name, "reboot")) return syscall(SYS_reboot, 0, 0, 0, NULL); /* wrong magic: EINVAL once allowed */
    if (!strcmp(name, "mount")) return syscall(SYS_mount, "none", "/nonexistent-mountpoint", "tmpfs", 0, NULL);
    if (!strcmp(name, "unshare_user")) return syscall(SYS_unshare, CLONE_NEWUSER);
    if (!strcmp(name, "unshare_ns")) return syscall(SYS_unshare, CLONE_NEWNS);
    if (!strcmp(name, "clone3")) return syscall(SYS_clone3, NULL, 0);
    if (!strcmp(name, "personality_query")) return syscall(SYS_personality, 0xffffffffUL);
    if (!strcmp(name, "personality_norandom")) return syscall(SYS_personality, 0x0040000UL /* ADDR_NO_RANDOMIZE */);
    if (!strcmp(name, "socket_vsock")) return syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0);
    if (!strcmp(name, "socket_unix")) return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (!strcmp(name, "mkdir")) return syscall(SYS_mkdir, "/tmp/scprobe-dir", 0700);
    if (!strcmp(name, "getpid")) return syscall(SYS_getpid);
    /* Newer than any call the default profile names (Linux 6.6): a filter should answer ENOSYS, so the C library
       falls back to fchmodat, rather than EPERM. */
    if (!strcmp(name, "fchmodat2")) return syscall(452, AT_FDCWD, "/nonexistent-file", 0644, 0);
    errno = ENOSYS;
    return -2;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        errno = 0;
        long r = call(argv[i]);
        if (r == -2) { printf("%s=unknown-probe\n", argv[i]); continue; }
        if (r < 0) printf("%s=%s\n", argv[i], name_of(errno));
        else printf("%s=ok\n", argv[i]);
    }
    return 0;
}
