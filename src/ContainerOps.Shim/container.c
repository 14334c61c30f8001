/* Container init setup inside the new namespaces, and the process setup shared with exec
 * (PLAN.md "Setup order in the init"). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <grp.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define FAIL(stage, ...) do { fmt_error(err, errlen, errno, (stage), __VA_ARGS__); return -1; } while (0)

/* ---- paths inside the root, never following a symlink out of it ---- */

static int open_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0,
                            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    while (*path == '/') path++;
    if (!*path) path = ".";
    int fd;
    do fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

/* Creates every missing directory of path (inside the root); returns an O_PATH fd of the last one. */
static int mkdir_in_root(int rootfd, const char *path, mode_t mode)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) { errno = ENAMETOOLONG; return -1; }
    for (size_t l = strlen(buf); l > 1 && buf[l - 1] == '/'; l--) buf[l - 1] = 0;
    int fd = open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
    if (fd >= 0 || errno != ENOENT) return fd;
    char *slash = strrchr(buf, '/');
    while (slash && slash > buf && slash[-1] == '/') slash--;
    int parent;
    const char *name;
    if (!slash || slash == buf) {
        parent = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
        name = slash ? slash + 1 : buf;
    } else {
        *slash = 0;
        parent = mkdir_in_root(rootfd, buf, mode);
        name = slash + 1;
        while (*name == '/') name++;
    }
    if (parent < 0) return -1;
    if (mkdirat(parent, name, mode) < 0 && errno != EEXIST) {
        int e = errno; close(parent); errno = e; return -1;
    }
    close(parent);
    return open_in_root(rootfd, path, O_PATH | O_DIRECTORY);
}

/* Makes sure dest exists (a directory, or an empty file when file is set); returns an O_PATH fd. */
static int ensure_in_root(int rootfd, const char *dest, int file)
{
    if (!file) return mkdir_in_root(rootfd, dest, 0755);
    int fd = open_in_root(rootfd, dest, O_PATH);
    if (fd >= 0 || errno != ENOENT) return fd;
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dest) >= (int)sizeof buf) { errno = ENAMETOOLONG; return -1; }
    char *slash = strrchr(buf, '/');
    if (!slash) { errno = EINVAL; return -1; }
    *slash = 0;
    int parent = mkdir_in_root(rootfd, *buf ? buf : "/", 0755);
    if (parent < 0) return -1;
    /* O_PATH parents cannot be used with openat(O_CREAT); reopen as a real directory. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", parent);
    int dir = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(parent);
    if (dir < 0) return -1;
    int f = openat(dir, slash + 1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int e = errno;
    close(dir);
    if (f < 0 && e != EEXIST) { errno = e; return -1; }
    if (f >= 0) close(f);
    return open_in_root(rootfd, dest, O_PATH);
}

static void fdpath(char *buf, size_t len, int fd) { snprintf(buf, len, "/proc/self/fd/%d", fd); }

static unsigned long vfs_flags(const char *path)
{
    struct statvfs s;
    unsigned long f = 0;
    if (statvfs(path, &s) < 0) return 0;
    if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (s.f_flag & ST_NODEV) f |= MS_NODEV;
    if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

static int do_mount(int rootfd, struct plan_mount *m, char *err, size_t errlen)
{
    int bind = (m->flags & MS_BIND) != 0;
    struct stat st;
    int file = 0;
    if (bind) {
        if (stat(m->source, &st) < 0) FAIL("mount", "%s: bind source %s: %s", m->dest, m->source, strerror(errno));
        file = !S_ISDIR(st.st_mode);
    }
    int fd = ensure_in_root(rootfd, m->dest, file);
    if (fd < 0) FAIL("mount", "%s: create mount point: %s", m->dest, strerror(errno));
    char target[64];
    fdpath(target, sizeof target, fd);
    unsigned long rest = m->flags & ~(MS_BIND | MS_REC | PROPAGATION_FLAGS);
    int r;
    if (bind) r = mount(m->source, target, NULL, MS_BIND | (m->flags & MS_REC), NULL);
    /* A new mount of a file system whose superblock other containers share (sysfs of a pod's network namespace,
       mqueue of its IPC namespace) is made read-only on the mount alone: MS_RDONLY here would make the superblock
       read-only for every later mount of it, a privileged container's too. */
    else r = mount(m->source, target, m->fstype, m->flags & ~(PROPAGATION_FLAGS | MS_RDONLY), *m->data ? m->data : NULL);
    if (r < 0 && errno == EPERM && !bind && !strcmp(m->fstype, "sysfs")) {
        /* A sysfs is mounted only by the owner of the network namespace: a container in a user namespace of its own
         * that shares another's network namespace gets the host's /sys bound instead (as runc does); read-only below. */
        bind = 1;
        r = mount("/sys", target, NULL, MS_BIND | MS_REC, NULL);
    }
    int e = errno;
    close(fd);
    errno = e;
    if (r < 0) FAIL("mount", "%s: %s", m->dest, strerror(errno));
    if ((bind && rest) || (!bind && (m->flags & MS_RDONLY))) {
        /* The fd above points below the new mount; resolve again to reach the mount itself. */
        fd = open_in_root(rootfd, m->dest, O_PATH);
        if (fd < 0) FAIL("mount", "%s: reopen: %s", m->dest, strerror(errno));
        fdpath(target, sizeof target, fd);
        r = mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | rest | vfs_flags(target), NULL);
        e = errno;
        close(fd);
        errno = e;
        if (r < 0) FAIL("mount", "%s: remount: %s", m->dest, strerror(errno));
    }
    if (m->propagation) {
        /* The mount's own propagation (a bind that shares mounts with the host, say), on the mount itself. */
        fd = open_in_root(rootfd, m->dest, O_PATH);
        if (fd < 0) FAIL("mount", "%s: reopen: %s", m->dest, strerror(errno));
        fdpath(target, sizeof target, fd);
        r = mount(NULL, target, NULL, m->propagation, NULL);
        e = errno;
        close(fd);
        errno = e;
        if (r < 0) FAIL("mount", "%s: propagation: %s", m->dest, strerror(errno));
    }
    return 0;
}

static int do_device(int rootfd, struct plan_device *d, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", d->path) >= (int)sizeof buf) { errno = ENAMETOOLONG; FAIL("device", "%s", d->path); }
    char *slash = strrchr(buf, '/');
    if (!slash || !slash[1]) { errno = EINVAL; FAIL("device", "%s: bad path", d->path); }
    *slash = 0;
    int parent = mkdir_in_root(rootfd, *buf ? buf : "/", 0755);
    if (parent < 0) FAIL("device", "%s: %s", d->path, strerror(errno));
    char proc[64];
    fdpath(proc, sizeof proc, parent);
    int dir = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(parent);
    if (dir < 0) FAIL("device", "%s: %s", d->path, strerror(errno));
    const char *name = slash + 1;
    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    unlinkat(dir, name, 0);
    if (mknodat(dir, name, type | (d->mode & 07777), makedev(d->major, d->minor)) < 0) {
        if (errno != EPERM) { int e = errno; close(dir); errno = e; FAIL("device", "mknod %s: %s", d->path, strerror(errno)); }
        /* Not allowed to create device nodes (e.g. user namespace): bind the host's node. */
        int f = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f >= 0) close(f);
        close(dir);
        int fd = open_in_root(rootfd, d->path, O_PATH);
        if (fd < 0) FAIL("device", "%s: %s", d->path, strerror(errno));
        char target[64];
        fdpath(target, sizeof target, fd);
        int r = mount(d->path, target, NULL, MS_BIND, NULL);
        int e = errno;
        close(fd);
        errno = e;
        if (r < 0) FAIL("device", "bind %s: %s", d->path, strerror(errno));
        return 0;
    }
    if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        fchmodat(dir, name, d->mode & 07777, 0) < 0) {
        int e = errno; close(dir); errno = e;
        FAIL("device", "chown/chmod %s: %s", d->path, strerror(errno));
    }
    close(dir);
    return 0;
}

static int do_symlink(int rootfd, const char *target, const char *linkpath, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", linkpath) >= (int)sizeof buf) { errno = ENAMETOOLONG; FAIL("symlink", "%s", linkpath); }
    char *slash = strrchr(buf, '/');
    if (!slash || !slash[1]) { errno = EINVAL; FAIL("symlink", "%s: bad path", linkpath); }
    *slash = 0;
    int parent = mkdir_in_root(rootfd, *buf ? buf : "/", 0755);
    if (parent < 0) FAIL("symlink", "%s: %s", linkpath, strerror(errno));
    char proc[64];
    fdpath(proc, sizeof proc, parent);
    int dir = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(parent);
    if (dir < 0) FAIL("symlink", "%s: %s", linkpath, strerror(errno));
    int r = symlinkat(target, dir, slash + 1);
    int e = errno;
    close(dir);
    errno = e;
    if (r < 0 && errno != EEXIST) FAIL("symlink", "%s -> %s: %s", linkpath, target, strerror(errno));
    return 0;
}

static int do_sysctl(int rootfd, const char *key, const char *value, char *err, size_t errlen)
{
    char path[512];
    if (strstr(key, "..") || strchr(key, '/')) { errno = EINVAL; FAIL("sysctl", "%s: bad key", key); }
    int n = snprintf(path, sizeof path, "/proc/sys/%s", key);
    if (n >= (int)sizeof path) { errno = ENAMETOOLONG; FAIL("sysctl", "%s", key); }
    for (char *c = path + 10; *c; c++) if (*c == '.') *c = '/';
    int fd = open_in_root(rootfd, path, O_WRONLY);
    if (fd < 0) FAIL("sysctl", "%s: %s", path, strerror(errno));
    int r = write_all(fd, value, strlen(value));
    int e = errno;
    close(fd);
    errno = e;
    if (r < 0) FAIL("sysctl", "%s: %s", path, strerror(errno));
    return 0;
}

/* The mount point (from /proc/self/mountinfo) of the mount that holds path. */
static int containing_mount(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return -1;
    char line[4096], best[4096] = "";
    size_t bestlen = 0;
    while (fgets(line, sizeof line, f)) {
        char *mp = line;
        for (int i = 0; i < 4 && mp; i++) { mp = strchr(mp, ' '); if (mp) mp++; }
        if (!mp) continue;
        char *end = strchr(mp, ' ');
        if (!end) continue;
        *end = 0;
        /* undo the octal escapes of space, tab, newline and backslash */
        char *o = mp;
        for (char *i = mp; *i; i++) {
            if (i[0] == '\\' && i[1] >= '0' && i[1] <= '7' && i[2] && i[3]) {
                *o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
                i += 3;
            } else *o++ = *i;
        }
        *o = 0;
        size_t l = strlen(mp);
        int prefix = !strcmp(mp, "/") || (!strncmp(path, mp, l) && (path[l] == '/' || path[l] == 0));
        if (prefix && l >= bestlen) { bestlen = l; snprintf(best, sizeof best, "%s", mp); }
    }
    fclose(f);
    if (!bestlen) return -1;
    snprintf(out, outlen, "%s", best);
    return 0;
}

/* pivot_root refuses shared mounts: with a shared rootfs propagation, keep the submounts shared but make
 * the root mount and the mount holding the rootfs private (not recursively). */
static int unshare_pivot_mounts(const char *rootfs, char *err, size_t errlen)
{
    char real[4096], mp[4096];
    if (!realpath(rootfs, real)) FAIL("propagation", "%s: %s", rootfs, strerror(errno));
    if (mount(NULL, "/", NULL, MS_PRIVATE, NULL) < 0) FAIL("propagation", "make / private: %s", strerror(errno));
    if (containing_mount(real, mp, sizeof mp) < 0) { errno = ENOENT; FAIL("propagation", "no mount holds %s", real); }
    if (mount(NULL, mp, NULL, MS_PRIVATE, NULL) < 0) FAIL("propagation", "make %s private: %s", mp, strerror(errno));
    return 0;
}

static int do_pivot(int rootfd, char *err, size_t errlen)
{
    /* The old root, to stand in after the pivot: there "." would name the new root (a propagation change resolves a
       path without climbing onto the mount on top of it), and making it a slave would make every mount of the
       container one too, a shared bind included. */
    int oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (oldroot < 0) FAIL("pivot_root", "open /: %s", strerror(errno));
    int r = fchdir(rootfd) < 0 ? -1 : (int)syscall(SYS_pivot_root, ".", ".");
    if (r == 0) r = fchdir(oldroot);
    int e = errno;
    close(oldroot);
    errno = e;
    if (r < 0) FAIL("pivot_root", "%s", strerror(errno));
    /* Never let the unmount of the old root propagate to the host. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) FAIL("pivot_root", "make old root slave: %s", strerror(errno));
    if (umount2(".", MNT_DETACH) < 0) FAIL("pivot_root", "unmount old root: %s", strerror(errno));
    if (chdir("/") < 0) FAIL("pivot_root", "chdir /: %s", strerror(errno));
    return 0;
}

/* The caller's mount namespace is shared: the root changes for this process alone. */
static int do_chroot(int rootfd, char *err, size_t errlen)
{
    if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) FAIL("chroot", "%s", strerror(errno));
    return 0;
}

static int do_masked(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        FAIL("masked", "%s: %s", path, strerror(errno));
    }
    int r;
    if (S_ISDIR(st.st_mode)) r = mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    else r = mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (r < 0) FAIL("masked", "%s: %s", path, strerror(errno));
    return 0;
}

static int remount_ro(const char *path, int self_bind, char *err, size_t errlen, const char *stage)
{
    if (self_bind && mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        FAIL(stage, "%s: %s", path, strerror(errno));
    }
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | vfs_flags(path), NULL) < 0)
        FAIL(stage, "%s: remount read-only: %s", path, strerror(errno));
    return 0;
}

static int loopback_up(char *err, size_t errlen)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) FAIL("loopback", "socket: %s", strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { int e = errno; close(s); errno = e; FAIL("loopback", "get flags: %s", strerror(errno)); }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) { int e = errno; close(s); errno = e; FAIL("loopback", "set flags: %s", strerror(errno)); }
    close(s);
    return 0;
}

static void mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return;
    for (char *c = buf + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        mkdir(buf, 0755);
        *c = '/';
    }
    mkdir(buf, 0755);
}

/* Opens a pty in the container's devpts, makes it the controlling terminal and stdio, and sends the master
 * to the monitor over sock. */
static int setup_console(struct plan *p, int sock, char *err, size_t errlen)
{
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) FAIL("terminal", "open /dev/ptmx: %s", strerror(errno));
    int unlock = 0;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0) FAIL("terminal", "unlock pty: %s", strerror(errno));
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (s < 0) FAIL("terminal", "open pty peer: %s", strerror(errno));
    if (setsid() < 0) FAIL("terminal", "setsid: %s", strerror(errno));
    if (ioctl(s, TIOCSCTTY, 0) < 0) FAIL("terminal", "TIOCSCTTY: %s", strerror(errno));
    if (p->has_uid && fchown(s, p->uid, (gid_t)-1) < 0) FAIL("terminal", "chown pty: %s", strerror(errno));
    if (dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0) FAIL("terminal", "dup2: %s", strerror(errno));
    if (s > 2) close(s);
    char data = 'm';
    char ctl[CMSG_SPACE(sizeof(int))];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = { &data, 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &m, sizeof m);
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) FAIL("terminal", "send pty: %s", strerror(errno));
    close(m);
    close(sock);
    return 0;
}

/* ---- process setup shared with exec ---- */

int process_early(struct plan *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->nrlimits; i++) {
        struct plan_rlimit *r = &p->rlimits[i];
        struct rlimit rl = { r->soft == UINT64_MAX ? RLIM_INFINITY : r->soft, r->hard == UINT64_MAX ? RLIM_INFINITY : r->hard };
        if (setrlimit(r->resource, &rl) < 0) FAIL("rlimit", "resource %d: %s", r->resource, strerror(errno));
    }
    if (p->has_oom) {
        char v[32];
        snprintf(v, sizeof v, "%d", p->oom_score_adj);
        if (write_string_file("/proc/self/oom_score_adj", v) < 0) FAIL("oom_score_adj", "/proc/self/oom_score_adj: %s", strerror(errno));
    }
    return 0;
}

int process_creds(struct plan *p, char *err, size_t errlen)
{
    if (p->has_caps) {
        /* The bounding set needs CAP_SETPCAP, which the uid switch takes out of the effective set. */
        for (int c = 0; c < 64; c++) {
            if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0) break;
            if (!(p->caps[0] & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                FAIL("caps", "drop bounding capability %d: %s", c, strerror(errno));
        }
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) FAIL("caps", "keepcaps: %s", strerror(errno));
    if (p->has_groups && setgroups((size_t)p->ngroups, p->groups) < 0) FAIL("groups", "setgroups: %s", strerror(errno));
    if (p->has_gid && setresgid(p->gid, p->gid, p->gid) < 0) FAIL("gid", "setresgid %u: %s", (unsigned)p->gid, strerror(errno));
    if (p->has_uid && setresuid(p->uid, p->uid, p->uid) < 0) FAIL("uid", "setresuid %u: %s", (unsigned)p->uid, strerror(errno));
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) FAIL("caps", "keepcaps: %s", strerror(errno));
    if (p->has_caps) {
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        for (int i = 0; i < 2; i++) {
            d[i].effective = (uint32_t)(p->caps[1] >> (32 * i));
            d[i].permitted = (uint32_t)(p->caps[2] >> (32 * i));
            d[i].inheritable = (uint32_t)(p->caps[3] >> (32 * i));
        }
        if (syscall(SYS_capset, &h, d) < 0) FAIL("caps", "capset: %s", strerror(errno));
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            FAIL("caps", "clear ambient: %s", strerror(errno));
        /* An ambient capability can only be raised when it is also permitted and inheritable; as with runc, one the
           spec asks for without making it inheritable is skipped rather than failing the container. */
        for (int c = 0; c < 64; c++)
            if ((p->caps[4] & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
                FAIL("caps", "raise ambient capability %d: %s", c, strerror(errno));
    }
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) FAIL("no_new_privs", "%s", strerror(errno));
    return 0;
}

int process_cwd(struct plan *p, int verify, char *err, size_t errlen)
{
    const char *cwd = p->cwd ? p->cwd : "/";
    if (chdir(cwd) < 0) FAIL("cwd", "chdir %s: %s", cwd, strerror(errno));
    if (!verify) return 0;
    char buf[4096];
    /* A working directory reached through a leaked host fd is not below the new root. */
    if (!getcwd(buf, sizeof buf)) FAIL("cwd", "%s: getcwd: %s (outside the container root?)", cwd, strerror(errno));
    if (buf[0] != '/') { errno = ENOENT; FAIL("cwd", "%s is outside the container root", cwd); }
    return 0;
}

int seccomp_read(const char *path, void **prog, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) FAIL("seccomp", "%s: %s", path, strerror(errno));
    struct stat st;
    /* BPF_MAXINSNS is 4096 instructions. */
    if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) || st.st_size > 4096 * (off_t)sizeof(struct sock_filter)) {
        close(fd);
        errno = EINVAL;
        FAIL("seccomp", "%s: not a sock_filter array", path);
    }
    char *b = malloc((size_t)st.st_size);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n <= 0) { if (n < 0 && errno == EINTR) continue; free(b); b = NULL; break; }
        got += (size_t)n;
    }
    close(fd);
    if (!b) { errno = EIO; FAIL("seccomp", "%s: read failed", path); }
    *prog = b;
    *len = (size_t)st.st_size;
    return 0;
}

int seccomp_load(void *prog, size_t len, unsigned int flags, char *err, size_t errlen)
{
    struct sock_fprog f = { (unsigned short)(len / sizeof(struct sock_filter)), prog };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &f) < 0) FAIL("seccomp", "load filter: %s", strerror(errno));
    return 0;
}

int process_exec(struct plan *p, char *err, size_t errlen)
{
    const char *arg0 = p->args[0];
    if (strchr(arg0, '/')) {
        execve(arg0, p->args, p->env);
        int e = errno;
        fmt_error(err, errlen, e, "exec", "%s: %s", arg0, strerror(e));
        return e;
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (int i = 0; i < p->nenv; i++)
        if (!strncmp(p->env[i], "PATH=", 5)) path = p->env[i] + 5;
    int seen_eacces = 0, last = ENOENT;
    char cand[4096];
    for (const char *s = path;; ) {
        const char *colon = strchr(s, ':');
        size_t dl = colon ? (size_t)(colon - s) : strlen(s);
        if (dl == 0) snprintf(cand, sizeof cand, "%s", arg0);
        else snprintf(cand, sizeof cand, "%.*s/%s", (int)dl, s, arg0);
        execve(cand, p->args, p->env);
        if (errno == EACCES) seen_eacces = 1;
        else if (errno != ENOENT && errno != ENOTDIR) { last = errno; break; }
        if (!colon) break;
        s = colon + 1;
    }
    int e = seen_eacces && last == ENOENT ? EACCES : last;
    fmt_error(err, errlen, e, "exec", "%s: %s", arg0, strerror(e));
    return e;
}

/* ---- the init ---- */

void reset_signals(void)
{
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void report(int fd, const char *line)
{
    size_t n = strlen(line);
    char buf[1100];
    if (n > sizeof buf - 2) n = sizeof buf - 2;
    memcpy(buf, line, n);
    buf[n++] = '\n';
    write_all(fd, buf, n);
}

#define INIT_FAIL() do { report(report_fd, err); _exit(1); } while (0)

void container_init(struct plan *p, int create, int sync_fd, int report_fd,
                    int stdin_fd, int stdout_fd, int stderr_fd, int console_fd)
{
    char err[1024];
    size_t errlen = sizeof err;

    /* The container starts with default signal dispositions and nothing blocked (the monitor ignores
     * SIGPIPE/SIGHUP and blocks SIGCHLD; ignored signals and the mask would survive execve). */
    reset_signals();
    if (console_fd < 0 && (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0)) {
        fmt_error(err, errlen, errno, "stdio", "dup2: %s", strerror(errno));
        INIT_FAIL();
    }

    /* Into the container's cgroups first, with the host's paths, unless we were cloned into it (v2) or are in a new
     * user namespace (the monitor moves us then); the sync below tells the monitor it may go on. */
    if (!init_in_new_userns(p) && !p->cgroup_joined)
        for (int i = 0; i < p->ncgroups; i++)
            if (join_cgroup_self(p->cgroups[i]) < 0) {
                fmt_error(err, errlen, errno, "cgroup", "%s: %s", p->cgroups[i], strerror(errno));
                INIT_FAIL();
            }

    /* Join the namespaces given by path (pid was joined by the monitor before clone); a path to another kind of
       namespace is refused (EINVAL), not joined. */
    for (int k = 0; k < NS_COUNT; k++) {
        if (!p->ns_set[k] || !p->ns_path[k] || k == NS_PID) continue;
        int fd = open(p->ns_path[k], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, ns_clone_flag(k)) < 0) {
            fmt_error(err, errlen, errno, "namespace", "join %s %s: %s%s", ns_name(k), p->ns_path[k], strerror(errno),
                      fd >= 0 && errno == EINVAL ? " (not a namespace of that kind)" : "");
            INIT_FAIL();
        }
        close(fd);
    }

    /* The container dies with its shim: nothing else would relay its stdio, write its log or record its exit. A shim
     * that died before this is seen as EOF on the sync pipe. Unmonitored, the caller's subreaper takes the init over
     * once the shim has reported: no parent-death signal then. */
    if (!p->unmonitored) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    char c;
    ssize_t n;
    do n = read(sync_fd, &c, 1); while (n < 0 && errno == EINTR);
    if (n != 1) _exit(1);
    if (init_in_new_userns(p)) {
        /* Mapped now (the monitor wrote the maps before the sync): become the new namespace's root, from which the
         * plan's own uid and gid are set later. A credential change clears the parent-death signal: set it again. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
            fmt_error(err, errlen, errno, "userns", "become root of the new user namespace (is id 0 mapped?): %s", strerror(errno));
            INIT_FAIL();
        }
        if (!p->unmonitored) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    }
    int runtime_hooks = has_runtime_hooks(p);
    if (!runtime_hooks) close(sync_fd);

    /* The cgroup namespace is created once we are in the container's cgroups. */
    if (p->ns_set[NS_CGROUP] && !p->ns_path[NS_CGROUP] && unshare(CLONE_NEWCGROUP) < 0) {
        fmt_error(err, errlen, errno, "namespace", "new cgroup namespace: %s", strerror(errno));
        INIT_FAIL();
    }

    /* Host paths are read before the root changes. */
    int fifo = -1;
    if (create) {
        fifo = open(p->exec_fifo, O_PATH | O_CLOEXEC);
        if (fifo < 0) { fmt_error(err, errlen, errno, "exec_fifo", "%s: %s", p->exec_fifo, strerror(errno)); INIT_FAIL(); }
    }
    void *filter = NULL;
    size_t filter_len = 0;
    if (p->seccomp && seccomp_read(p->seccomp, &filter, &filter_len, err, errlen) < 0) INIT_FAIL();

    umask(0);
    /* A mount namespace of its own (new, or joined by path: set up there, as runc does), or the caller's: then the
       root changes by chroot alone and the plan has no mounts (main checked). */
    int own_mounts = p->ns_set[NS_MOUNT];
    /* The fifo is opened again through /proc, which a chroot without mounts leaves behind: the host's, held here. */
    int host_proc = create && !own_mounts ? open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    unsigned long prop = p->has_propagation ? p->propagation : (MS_REC | MS_PRIVATE);
    /* An unbindable tree cannot be bind-mounted, the rootfs included: private until the root is in place, then
       unbindable (below, once the mounts are all made), as crun does. */
    unsigned long unbindable = prop & MS_UNBINDABLE ? prop : 0;
    if (unbindable) prop = (prop & MS_REC) | MS_PRIVATE;
    if (own_mounts && mount(NULL, "/", NULL, prop, NULL) < 0) { fmt_error(err, errlen, errno, "propagation", "/: %s", strerror(errno)); INIT_FAIL(); }
    if (own_mounts && (prop & MS_SHARED) && unshare_pivot_mounts(p->rootfs, err, errlen) < 0) INIT_FAIL();
    if (own_mounts && mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
        fmt_error(err, errlen, errno, "rootfs", "bind %s: %s", p->rootfs, strerror(errno));
        INIT_FAIL();
    }
    int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) { fmt_error(err, errlen, errno, "rootfs", "%s: %s", p->rootfs, strerror(errno)); INIT_FAIL(); }
    for (int i = 0; i < p->nmounts; i++)
        if (do_mount(rootfd, &p->mounts[i], err, errlen) < 0) INIT_FAIL();
    for (int i = 0; i < p->ndevices; i++)
        if (do_device(rootfd, &p->devices[i], err, errlen) < 0) INIT_FAIL();
    for (int i = 0; i < p->nsymlinks; i++)
        if (do_symlink(rootfd, p->symlink_target[i], p->symlink_path[i], err, errlen) < 0) INIT_FAIL();
    for (int i = 0; i < p->nsysctls; i++)
        if (do_sysctl(rootfd, p->sysctl_key[i], p->sysctl_value[i], err, errlen) < 0) INIT_FAIL();
    /* The hooks' state names the container's pid on the host: /proc is still the host's here. */
    pid_t host_pid = getpid();
    if (p->nhooks) {
        char self[32];
        ssize_t len = readlink("/proc/self", self, sizeof self - 1);
        if (len > 0) { self[len] = 0; host_pid = (pid_t)atoi(self); }
    }
    /* The mounts are made, the root not yet changed: the runtime's hooks (prestart, createRuntime) run now in the
       host's namespaces, by the monitor, then the container's own (createContainer) here (PLAN.md "hooks"). */
    if (runtime_hooks) {
        report(report_fd, "hooks");
        do n = read(sync_fd, &c, 1); while (n < 0 && errno == EINTR);
        if (n != 1) _exit(1);
        close(sync_fd);
    }
    if (run_hooks(p, "createContainer", "creating", host_pid, err, errlen) < 0) INIT_FAIL();
    if (own_mounts ? do_pivot(rootfd, err, errlen) < 0 : do_chroot(rootfd, err, errlen) < 0) INIT_FAIL();
    close(rootfd);
    /* pivot_root refused a shared root: the root in place is made shared now, a peer group of its own. */
    if (own_mounts && (prop & MS_SHARED) && mount(NULL, "/", NULL, prop, NULL) < 0) {
        fmt_error(err, errlen, errno, "propagation", "make / shared: %s", strerror(errno));
        INIT_FAIL();
    }
    for (int i = 0; i < p->nmasked; i++)
        if (do_masked(p->masked[i], err, errlen) < 0) INIT_FAIL();
    for (int i = 0; i < p->nreadonly; i++)
        if (remount_ro(p->readonly[i], 1, err, errlen, "readonly") < 0) INIT_FAIL();
    if (p->readonly_rootfs && remount_ro("/", 0, err, errlen, "readonly_rootfs") < 0) INIT_FAIL();
    /* Last of the mounts: masking and read-only paths bind-mount, which an unbindable tree refuses. */
    if (own_mounts && unbindable && mount(NULL, "/", NULL, unbindable, NULL) < 0) {
        fmt_error(err, errlen, errno, "propagation", "make / unbindable: %s", strerror(errno));
        INIT_FAIL();
    }
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) {
        fmt_error(err, errlen, errno, "hostname", "%s: %s", p->hostname, strerror(errno));
        INIT_FAIL();
    }
    if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0) {
        fmt_error(err, errlen, errno, "domainname", "%s: %s", p->domainname, strerror(errno));
        INIT_FAIL();
    }
    if (p->ns_set[NS_NET] && !p->ns_path[NS_NET] && loopback_up(err, errlen) < 0) INIT_FAIL();
    if (console_fd >= 0 && setup_console(p, console_fd, err, errlen) < 0) INIT_FAIL();
    if (p->cwd && !p->readonly_rootfs) mkdir_p(p->cwd);
    umask(022);

    if (process_early(p, err, errlen) < 0) INIT_FAIL();
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    /* Without no_new_privs a filter can only be loaded with CAP_SYS_ADMIN, which the capability drop takes away: it is
       loaded now, before the credentials change (as runc does); with no_new_privs as late as possible, before execve. */
    /* The profile may forbid getcwd: the working directory is verified before a filter loaded this early. */
    int verified = filter && !p->no_new_privs;
    if (verified && process_cwd(p, 1, err, errlen) < 0) INIT_FAIL();
    if (filter && !p->no_new_privs && seccomp_load(filter, filter_len, p->seccomp_flags, err, errlen) < 0) INIT_FAIL();
    if (process_creds(p, err, errlen) < 0) INIT_FAIL();
    if (process_cwd(p, !verified, err, errlen) < 0) INIT_FAIL();
    /* A change of credentials clears the parent-death signal: armed again. A shim that died in between has closed
     * its end of the report pipe. */
    if (!p->unmonitored) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    struct pollfd rp = { report_fd, 0, 0 };
    if (poll(&rp, 1, 0) > 0 && (rp.revents & (POLLERR | POLLHUP))) _exit(1);

    int out_fd = report_fd;
    if (create) {
        report(report_fd, "ready");
        close(report_fd);
        out_fd = 2;
        char path[64];
        fdpath(path, sizeof path, fifo);
        int w;
        do w = openat(host_proc, host_proc >= 0 ? path + 6 : path, O_WRONLY | O_CLOEXEC); while (w < 0 && errno == EINTR);
        if (w < 0) { fmt_error(err, errlen, errno, "exec_fifo", "%s: %s", p->exec_fifo, strerror(errno)); report(2, err); _exit(1); }
        /* A starter killed after it opened the fifo is no reason to die of SIGPIPE: it asked for the start (the
           runtime sees the release by the fifo this process no longer holds). */
        struct sigaction ignore = { .sa_handler = SIG_IGN }, before;
        sigaction(SIGPIPE, &ignore, &before);
        write_all(w, "0", 1);
        sigaction(SIGPIPE, &before, NULL);
        close(w);
        close(fifo);
        if (host_proc >= 0) close(host_proc);
    }
    /* Started: the startContainer hooks run in the container, just before its process. */
    if (run_hooks(p, "startContainer", "created", host_pid, err, errlen) < 0) { report(out_fd, err); _exit(1); }
    if (filter && p->no_new_privs && seccomp_load(filter, filter_len, p->seccomp_flags, err, errlen) < 0) { report(out_fd, err); _exit(1); }
    int e = process_exec(p, err, errlen);
    report(out_fd, err);
    _exit(e == ENOENT ? 127 : 126);
}
