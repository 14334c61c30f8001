/* The run/create monitor: owns the container's stdio, the json-file log, the attach and control sockets,
 * and records the exit (PLAN.md "run / create", "Files the monitor writes", "Sockets"). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* On cgroup v2 the init is cloned straight into its cgroup (clone3 with CLONE_INTO_CGROUP, Linux 5.7): no migration,
 * so none of the global lock whose RCU grace period a move into a cgroup waits for. Returns -1 with cgroup_joined
 * cleared where that cannot be done (v1, several hierarchies, a new user namespace, an older kernel): the init then
 * moves itself. A failed clone3 that did apply returns -1 with cgroup_joined set. */
/* A new user namespace's maps, written from outside before the init goes on: until then its processes own nothing
 * (a file they create would have no owner: EOVERFLOW). Each map is one write, as the kernel requires. This process has
 * CAP_SETGID over the parent namespace, so gid_map needs no "setgroups deny" first. */
static int write_id_maps(const struct plan *p, pid_t pid, char *err, size_t errlen)
{
    const char *names[2] = { "uid_map", "gid_map" };
    const char *maps[2] = { p->uid_map, p->gid_map };
    size_t lens[2] = { p->uid_map_len, p->gid_map_len };
    for (int i = 0; i < 2; i++) {
        if (!maps[i]) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, names[i]);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : write(fd, maps[i], lens[i]);
        int e = errno;
        if (fd >= 0) close(fd);
        if (n != (ssize_t)lens[i]) {
            fmt_error(err, errlen, n < 0 ? e : EIO, "userns", "write %s: %s", names[i], n < 0 ? strerror(e) : "short write");
            return -1;
        }
    }
    return 0;
}

static pid_t clone_into_cgroup(struct plan *p, unsigned long flags)
{
    p->cgroup_joined = 0;
    if (p->ncgroups != 1 || init_in_new_userns(p) || cgroup_is_v1(p->cgroups[0])) return -1;
    char dir[4096];
    const char *slash = strrchr(p->cgroups[0], '/');
    if (!slash || (size_t)(slash - p->cgroups[0]) >= sizeof dir) return -1;
    memcpy(dir, p->cgroups[0], (size_t)(slash - p->cgroups[0]));
    dir[slash - p->cgroups[0]] = 0;
    int cgroup_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroup_fd < 0) return -1;
    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup; } args;
    memset(&args, 0, sizeof args);
    args.flags = (flags & ~(unsigned long)0xff) | 0x200000000ULL /* CLONE_INTO_CGROUP */;
    args.exit_signal = flags & 0xff;
    args.cgroup = (uint64_t)cgroup_fd;
    p->cgroup_joined = 1; /* the child's copy of the plan says so */
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    int saved = errno;
    if (pid != 0) close(cgroup_fd);
    if (pid < 0 && (saved == ENOSYS || saved == E2BIG || saved == EINVAL)) p->cgroup_joined = 0;
    errno = saved;
    return pid;
}

#define LINE_MAX_BYTES 16384
#define MAX_ATTACH 32
#define MAX_CONTROL 8

static struct plan *P;
static pid_t init_pid;
static int in_w = -1;          /* container stdin (pipe write end), -1 when closed */
static int out_fd[2] = { -1, -1 }; /* stdout/stderr read ends; with a pty out_fd[0] is the master */
static int master = -1;
static int log_fd = -1;
static uint64_t log_size;
static char linebuf[2][LINE_MAX_BYTES];
static size_t linelen[2];
static int attach_listen = -1, control_listen = -1;
static int attach_fd[MAX_ATTACH], attach_reading[MAX_ATTACH], nattach;
static struct { int fd; size_t len; char buf[128]; } control[MAX_CONTROL];
static int ncontrol;

/* ---- json-file log ---- */

static char outbuf[4096];
static size_t outlen;
static uint64_t outcount;
static int counting;

static void out_flush(void)
{
    if (outlen && log_fd >= 0) write_all(log_fd, outbuf, outlen);
    outlen = 0;
}

static void out_put(const char *s, size_t n)
{
    outcount += n;
    if (counting) return;
    while (n) {
        size_t room = sizeof outbuf - outlen;
        size_t k = n < room ? n : room;
        memcpy(outbuf + outlen, s, k);
        outlen += k;
        s += k;
        n -= k;
        if (outlen == sizeof outbuf) out_flush();
    }
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; c &= 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; c &= 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    return len;
}

static void json_string(const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    out_put("\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; out_put(e, 2); i++; continue; }
        if (c < 0x20 || c == 0x7f) {
            char e[6];
            if (c == '\n') out_put("\\n", 2);
            else if (c == '\r') out_put("\\r", 2);
            else if (c == '\t') out_put("\\t", 2);
            else { e[0] = '\\'; e[1] = 'u'; e[2] = '0'; e[3] = '0'; e[4] = hex[c >> 4]; e[5] = hex[c & 15]; out_put(e, 6); }
            i++;
            continue;
        }
        if (c < 0x80) {
            size_t j = i;
            while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\') j++;
            out_put((const char *)s + i, j - i);
            i = j;
            continue;
        }
        size_t l = utf8_len(s + i, n - i);
        if (l == 0) { out_put("\\ufffd", 6); i++; continue; }
        out_put((const char *)s + i, l);
        i += l;
    }
    out_put("\"", 1);
}

static void log_rotate(void)
{
    char from[4096], to[4096];
    close(log_fd);
    log_fd = -1;
    if (P->log_max_files <= 1) {
        unlink(P->log_path);
    } else {
        for (int i = P->log_max_files - 1; i >= 1; i--) {
            if (i == 1) snprintf(from, sizeof from, "%s", P->log_path);
            else snprintf(from, sizeof from, "%s.%d", P->log_path, i - 1);
            snprintf(to, sizeof to, "%s.%d", P->log_path, i);
            rename(from, to);
        }
    }
    log_fd = open(P->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    log_size = 0;
}

static char *put_digits(char *o, unsigned long v, int width)
{
    for (int i = width - 1; i >= 0; i--) { o[i] = (char)('0' + v % 10); v /= 10; }
    return o + width;
}

/* ",\"stream\":\"stdout\",\"time\":\"2026-11-23T07:31:02.123456789Z\"}\n" without printf or gmtime, which
 * keeps the relay loop's resident code small. */
static size_t format_tail(char *o, int stream, const struct timespec *ts)
{
    char *start = o;
    const char *s1 = stream ? ",\"stream\":\"stderr\",\"time\":\"" : ",\"stream\":\"stdout\",\"time\":\"";
    size_t l = strlen(s1);
    memcpy(o, s1, l);
    o += l;
    long long days = ts->tv_sec / 86400, rem = ts->tv_sec % 86400;
    /* days since 1970-01-01 to a civil date (proleptic Gregorian) */
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    o = put_digits(o, (unsigned long)y, 4); *o++ = '-';
    o = put_digits(o, m, 2); *o++ = '-';
    o = put_digits(o, d, 2); *o++ = 'T';
    o = put_digits(o, (unsigned long)(rem / 3600), 2); *o++ = ':';
    o = put_digits(o, (unsigned long)(rem / 60 % 60), 2); *o++ = ':';
    o = put_digits(o, (unsigned long)(rem % 60), 2); *o++ = '.';
    o = put_digits(o, (unsigned long)ts->tv_nsec, 9);
    memcpy(o, "Z\"}\n", 4);
    return (size_t)(o + 4 - start);
}

static void log_record(int stream, const char *data, size_t len)
{
    if (log_fd < 0 && !P->log_path) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    static const char head[] = "{\"log\":";
    char tail[80];
    size_t tl = format_tail(tail, stream, &ts);
    /* First measure the record, so rotation happens before a record, never inside one. */
    counting = 1;
    outcount = 0;
    out_put(head, sizeof head - 1);
    json_string((const unsigned char *)data, len);
    out_put(tail, tl);
    counting = 0;
    uint64_t size = outcount;
    if (P->log_max_bytes && log_size > 0 && log_size + size > P->log_max_bytes) log_rotate();
    if (log_fd < 0) return;
    out_put(head, sizeof head - 1);
    json_string((const unsigned char *)data, len);
    out_put(tail, tl);
    out_flush();
    log_size += size;
}

static void log_flush_partial(int stream)
{
    if (linelen[stream]) log_record(stream, linebuf[stream], linelen[stream]);
    linelen[stream] = 0;
}

static void log_data(int stream, const char *data, size_t len)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) + 1 : len;
        size_t room = LINE_MAX_BYTES - linelen[stream];
        if (take > room) { take = room; nl = NULL; }
        memcpy(linebuf[stream] + linelen[stream], data, take);
        linelen[stream] += take;
        data += take;
        len -= take;
        if (nl || linelen[stream] == LINE_MAX_BYTES) log_flush_partial(stream);
    }
}

/* ---- attach and control sockets ---- */

static int listen_unix(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) { errno = ENAMETOOLONG; return -1; }
    strcpy(a.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) return -1;
    unlink(path);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

static void drop_attach(int i)
{
    close(attach_fd[i]);
    attach_fd[i] = attach_fd[nattach - 1];
    attach_reading[i] = attach_reading[nattach - 1];
    nattach--;
}

static void broadcast(int stream, const char *data, size_t len)
{
    unsigned char h[8] = { (unsigned char)(stream + 1), 0, 0, 0,
                           (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len };
    for (int i = 0; i < nattach; i++) {
        struct iovec v[2] = { { h, 8 }, { (void *)data, len } };
        size_t total = 8 + len, done = 0;
        int ok = 1;
        while (done < total) {
            ssize_t n = writev(attach_fd[i], v, 2);
            if (n < 0) { if (errno == EINTR) continue; ok = 0; break; }
            done += (size_t)n;
            size_t k = (size_t)n;
            for (int j = 0; j < 2; j++) {
                size_t t = k < v[j].iov_len ? k : v[j].iov_len;
                v[j].iov_base = (char *)v[j].iov_base + t;
                v[j].iov_len -= t;
                k -= t;
            }
        }
        if (!ok) drop_attach(i--);
    }
}

/* Input for the container that did not fit into its stdin yet. While some is pending, clients are not read
 * (so a container that does not read stdin never blocks the monitor, nor its output relay). */
static char pend[8192];
static size_t pend_len, pend_off;
static int close_after_pend;

static int stdin_target(void)
{
    if (!P->open_stdin) return -1;
    return master >= 0 ? master : in_w;
}

static void close_stdin(void)
{
    if (pend_len) { close_after_pend = 1; return; }
    if (master >= 0) {
        if (P->open_stdin) write_all(master, "\x04", 1);
        return;
    }
    if (in_w >= 0) close(in_w);
    in_w = -1;
}

static void flush_stdin(void)
{
    int fd = stdin_target();
    while (pend_len && fd >= 0) {
        ssize_t n = write(fd, pend + pend_off, pend_len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) break; /* the container closed its stdin: the input is dropped */
        pend_off += (size_t)n;
        pend_len -= (size_t)n;
    }
    pend_len = pend_off = 0;
    if (close_after_pend) { close_after_pend = 0; close_stdin(); }
}

static void to_stdin(const char *data, size_t len)
{
    if (stdin_target() < 0) return;
    if (len > sizeof pend - pend_len - pend_off) len = sizeof pend - pend_len - pend_off;
    memcpy(pend + pend_off + pend_len, data, len);
    pend_len += len;
    flush_stdin();
}

static void control_command(int i, char *line)
{
    const char *reply = "ok\n";
    char buf[160];
    unsigned rows, cols;
    if (sscanf(line, "resize %u %u", &rows, &cols) == 2) {
        if (master < 0) reply = "error no terminal\n";
        else {
            struct winsize ws = { (unsigned short)rows, (unsigned short)cols, 0, 0 };
            if (ioctl(master, TIOCSWINSZ, &ws) < 0) { snprintf(buf, sizeof buf, "error %s\n", strerror(errno)); reply = buf; }
        }
    } else if (!strcmp(line, "closestdin")) {
        close_stdin();
    } else {
        snprintf(buf, sizeof buf, "error unknown command\n");
        reply = buf;
    }
    send(control[i].fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void drop_control(int i)
{
    close(control[i].fd);
    control[i] = control[ncontrol - 1];
    ncontrol--;
}

/* ---- lifecycle ---- */

static void cleanup_sockets(void)
{
    if (attach_listen >= 0) { close(attach_listen); unlink(P->attach_socket); }
    if (control_listen >= 0) { close(control_listen); unlink(P->control_socket); }
    attach_listen = control_listen = -1;
}

static void fail(int report_fd, const char *line, pid_t child) __attribute__((noreturn));
static void fail(int report_fd, const char *line, pid_t child)
{
    if (child > 0) {
        kill(child, SIGKILL);
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    }
    if (P->pid_file) unlink(P->pid_file);
    cleanup_sockets();
    char buf[1100];
    size_t n = strlen(line);
    if (n > sizeof buf - 2) n = sizeof buf - 2;
    memcpy(buf, line, n);
    if (!n || buf[n - 1] != '\n') buf[n++] = '\n';
    write_all(report_fd, buf, n);
    _exit(1);
}

static void write_exit_file(int status)
{
    if (!P->exit_file) return;
    int code, sig = 0;
    if (WIFSIGNALED(status)) { sig = WTERMSIG(status); code = 128 + sig; }
    else code = WEXITSTATUS(status);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[128];
    int n = snprintf(buf, sizeof buf, "exit_code=%d signal=%d finished=%lld oom=0\n", code, sig,
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    write_file_atomic(P->exit_file, buf, (size_t)n);
}

/* The monitor stays resident for the container's lifetime. Setup code and libc paths it no longer uses were
 * faulted in (with fault-around) while starting; drop those mappings so only what the relay loop touches
 * stays resident. Text pages are clean file pages: they are simply faulted in again when needed. */
extern char __executable_start[], etext[];
static void trim_resident_text(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)__executable_start + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t b = (uintptr_t)etext & ~((uintptr_t)pg - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

static int recv_fd(int sock)
{
    char data;
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &data, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
    ssize_t n;
    do n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
            return fd;
        }
    return -1;
}

/* Hands the pty master to an OCI caller's console socket, as runc does (SCM_RIGHTS, the data naming the console). */
static int send_console(const char *path, int fd)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) { errno = ENAMETOOLONG; return -1; }
    strcpy(a.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    int r;
    do r = connect(s, (struct sockaddr *)&a, sizeof a); while (r < 0 && errno == EINTR);
    if (r == 0) {
        char name[] = "/dev/ptmx";
        char ctl[CMSG_SPACE(sizeof(int))];
        memset(ctl, 0, sizeof ctl);
        struct iovec iov = { name, sizeof name - 1 };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        do r = (int)sendmsg(s, &m, 0); while (r < 0 && errno == EINTR);
        if (r > 0) r = 0;
    }
    int e = errno;
    close(s);
    errno = e;
    return r;
}

static pid_t start_external(int stdin_fd, int stdout_fd, int stderr_fd, const char *slave, int report_w)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    char err[600];
    reset_signals();
    if (slave) {
        setsid();
        int fd = open(slave, O_RDWR);
        if (fd >= 0) ioctl(fd, TIOCSCTTY, 0);
        stdin_fd = stdout_fd = stderr_fd = fd;
    }
    dup2(stdin_fd, 0);
    dup2(stdout_fd, 1);
    dup2(stderr_fd, 2);
    syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
    char *argv[] = { P->runtime, (char *)"run", (char *)"--bundle", P->bundle, P->id ? P->id : (char *)"container", NULL };
    execve(P->runtime, argv, P->nenv ? P->env : environ);
    fmt_error(err, sizeof err, errno, "exec", "%s: %s", P->runtime, strerror(errno));
    size_t n = strlen(err);
    err[n++] = '\n';
    write_all(report_w, err, n);
    _exit(127);
}

static void stdio_to_null(void)
{
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); if (null > 2) close(null); }
}

/* Reads the init's report line (or what it wrote before EOF) into line, NUL-terminated. */
static void read_verdict(int fd, char *line, size_t size)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, line + len, size - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (memchr(line, '\n', len) || len == size - 1) break;
    }
    line[len] = 0;
}

void monitor_main(struct plan *p, int create, int report_fd)
{
    P = p;
    char err[1100];
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);

    /* Keep nothing the caller gave us except the report pipe; stdio is /dev/null (with inherit_stdio: once the init
     * has its copy of the caller's). */
    if (!p->inherit_stdio) stdio_to_null();
    if (report_fd > 3) syscall(SYS_close_range, 3U, (unsigned)report_fd - 1, 0U);
    syscall(SYS_close_range, (unsigned)report_fd + 1, ~0U, 0U);

    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) { fmt_error(err, sizeof err, errno, "monitor", "signalfd: %s", strerror(errno)); fail(report_fd, err, 0); }

    if (!p->runtime && p->ns_set[NS_PID] && p->ns_path[NS_PID]) {
        int fd = open(p->ns_path[NS_PID], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWPID) < 0) {
            fmt_error(err, sizeof err, errno, "namespace", "join pid %s: %s", p->ns_path[NS_PID], strerror(errno));
            fail(report_fd, err, 0);
        }
        close(fd);
    }

    /* stdio */
    int child_in = 0, child_out = -1, child_err = -1;
    char slave[128] = "";
    int cons[2] = { -1, -1 };
    if (p->terminal && !p->runtime) {
        /* The init opens the pty inside the container's devpts and passes the master back. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cons) < 0) {
            fmt_error(err, sizeof err, errno, "terminal", "socketpair: %s", strerror(errno));
            fail(report_fd, err, 0);
        }
    } else if (p->terminal) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, slave, sizeof slave) != 0) {
            fmt_error(err, sizeof err, errno, "terminal", "open pty: %s", strerror(errno));
            fail(report_fd, err, 0);
        }
        out_fd[0] = master;
    } else if (p->inherit_stdio) {
        child_out = 1;
        child_err = 2;
    } else {
        int pi[2], po[2], pe[2];
        if ((p->open_stdin && pipe2(pi, O_CLOEXEC) < 0) || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
            fmt_error(err, sizeof err, errno, "stdio", "pipe: %s", strerror(errno));
            fail(report_fd, err, 0);
        }
        if (p->open_stdin) { child_in = pi[0]; in_w = pi[1]; }
        child_out = po[1]; out_fd[0] = po[0];
        child_err = pe[1]; out_fd[1] = pe[0];
    }

    if (p->log_path) {
        log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (log_fd < 0) { fmt_error(err, sizeof err, errno, "log", "%s: %s", p->log_path, strerror(errno)); fail(report_fd, err, 0); }
        struct stat st;
        if (fstat(log_fd, &st) == 0) log_size = (uint64_t)st.st_size;
    }
    if (p->attach_socket && (attach_listen = listen_unix(p->attach_socket)) < 0) {
        fmt_error(err, sizeof err, errno, "attach_socket", "%s: %s", p->attach_socket, strerror(errno));
        fail(report_fd, err, 0);
    }
    if (p->control_socket && (control_listen = listen_unix(p->control_socket)) < 0) {
        fmt_error(err, sizeof err, errno, "control_socket", "%s: %s", p->control_socket, strerror(errno));
        fail(report_fd, err, 0);
    }

    int sync[2], rep[2];
    if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
        fmt_error(err, sizeof err, errno, "sync", "pipe: %s", strerror(errno));
        fail(report_fd, err, 0);
    }

    pid_t pid;
    if (p->runtime) {
        pid = start_external(child_in, child_out, child_err, *slave ? slave : NULL, rep[1]);
        if (pid < 0) { fmt_error(err, sizeof err, errno, "fork", "%s", strerror(errno)); fail(report_fd, err, 0); }
    } else {
        /* The cgroup namespace is unshared by the init, once it is in its cgroups. */
        unsigned long flags = SIGCHLD;
        for (int k = 0; k < NS_COUNT; k++)
            if (p->ns_set[k] && !p->ns_path[k] && k != NS_CGROUP) flags |= (unsigned long)ns_clone_flag(k);
        pid = clone_into_cgroup(p, flags);
        if (pid < 0 && !p->cgroup_joined) pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
        if (pid < 0) { fmt_error(err, sizeof err, errno, "clone", "%s", strerror(errno)); fail(report_fd, err, 0); }
        if (pid == 0) {
            close(sync[1]);
            close(rep[0]);
            close(report_fd);
            if (cons[0] >= 0) close(cons[0]);
            container_init(p, create, sync[0], rep[1], child_in, child_out, child_err, cons[1]);
            _exit(1);
        }
    }
    init_pid = pid;
    close(sync[0]);
    close(rep[1]);
    if (p->inherit_stdio) stdio_to_null();
    else {
        if (child_in > 0) close(child_in);
        if (child_out >= 0) close(child_out);
        if (child_err >= 0) close(child_err);
    }

    if (!p->runtime && init_in_new_userns(p) && write_id_maps(p, pid, err, sizeof err) < 0) fail(report_fd, err, pid);

    char pidstr[32];
    snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
    /* Our own init moves itself (faster, see join_cgroup_self) unless it is in a new user namespace, where the
     * cgroup files are not its to write; an external runtime's process is moved from here. */
    for (int i = 0; i < p->ncgroups && (p->runtime || init_in_new_userns(p)); i++) {
        if (write_string_file(p->cgroups[i], pidstr) < 0) {
            fmt_error(err, sizeof err, errno, "cgroup", "%s: %s", p->cgroups[i], strerror(errno));
            fail(report_fd, err, pid);
        }
    }
    if (!p->runtime && write_all(sync[1], "1", 1) < 0) {
        /* The init is gone already: its own report (written before it exited) says why, better than EPIPE does. */
        int saved = errno;
        char early[1100];
        read_verdict(rep[0], early, sizeof early);
        if (!strncmp(early, "error ", 6)) fail(report_fd, early, pid);
        fmt_error(err, sizeof err, saved, "sync", "%s", strerror(saved));
        fail(report_fd, err, pid);
    }
    /* The init stops before it changes its root; the runtime's hooks run here, in the host's namespaces, then it goes
       on. A failing hook ends the container: nothing is left (PLAN.md "hooks"). */
    if (!p->runtime && has_runtime_hooks(p)) {
        char line[1100];
        read_verdict(rep[0], line, sizeof line);
        if (!strncmp(line, "error ", 6)) fail(report_fd, line, pid);
        if (strncmp(line, "hooks", 5)) {
            fmt_error(err, sizeof err, EIO, "init", "exited during setup");
            fail(report_fd, err, pid);
        }
        if (run_hooks(p, "prestart", "created", pid, err, sizeof err) < 0 || run_hooks(p, "createRuntime", "creating", pid, err, sizeof err) < 0)
            fail(report_fd, err, pid);
        if (write_all(sync[1], "1", 1) < 0) {
            fmt_error(err, sizeof err, errno, "sync", "after hooks: %s", strerror(errno));
            fail(report_fd, err, pid);
        }
    }
    close(sync[1]);
    if (cons[0] >= 0) {
        close(cons[1]);
        master = recv_fd(cons[0]);
        close(cons[0]);
        out_fd[0] = master;
    }

    /* Wait for the init's verdict: an error line, "ready" (create), or EOF when execve succeeded. */
    char line[1100];
    read_verdict(rep[0], line, sizeof line);
    close(rep[0]);
    if (!strncmp(line, "error ", 6)) fail(report_fd, line, pid);
    if (create && !p->runtime && strncmp(line, "ready", 5)) {
        fmt_error(err, sizeof err, EIO, "init", "exited during setup");
        fail(report_fd, err, pid);
    }
    /* After the init's verdict, so that a failed setup is reported as what it was, not as a missing terminal. */
    if (p->console_socket) {
        if (master < 0 || send_console(p->console_socket, master) < 0) {
            fmt_error(err, sizeof err, master < 0 ? EIO : errno, "console_socket", "%s: %s", p->console_socket,
                      master < 0 ? "no terminal from the init" : strerror(errno));
            fail(report_fd, err, pid);
        }
        close(master);
        master = out_fd[0] = -1;
    }
    /* The pid file says the container is set up, and which processes are its and its shim's: written only now, so
     * that a caller killed while it waited for this report finds the outcome here (PLAN.md, pid_file). */
    char ok[64];
    int monitor_pid = p->unmonitored ? 0 : (int)getpid();
    int okn = snprintf(ok, sizeof ok, "%d %d\n", (int)pid, monitor_pid);
    if (p->pid_file && write_file_atomic(p->pid_file, ok, (size_t)okn) < 0) {
        fmt_error(err, sizeof err, errno, "pid_file", "%s: %s", p->pid_file, strerror(errno));
        fail(report_fd, err, pid);
    }
    okn = snprintf(ok, sizeof ok, "ok %d %d\n", (int)pid, monitor_pid);
    write_all(report_fd, ok, (size_t)okn);
    close(report_fd);
    /* Unmonitored (an OCI caller such as conmon or containerd's shim): the container is the caller's to reap and its
     * stdio the caller's to read. The init is re-parented to the caller's subreaper when this process ends. */
    if (p->unmonitored) _exit(0);

    trim_resident_text();

    /* Relay until the init has exited and its output is drained. */
    static char buf[8192];
    int status = 0, exited = 0;
    struct pollfd pf[6 + MAX_ATTACH + MAX_CONTROL];
    if (in_w >= 0) fcntl(in_w, F_SETFL, O_NONBLOCK);
    if (master >= 0) fcntl(master, F_SETFL, O_RDWR | O_NONBLOCK);
    for (;;) {
        int n = 0;
        pf[n++] = (struct pollfd){ sfd, POLLIN, 0 };
        pf[n++] = (struct pollfd){ out_fd[0], POLLIN, 0 };
        pf[n++] = (struct pollfd){ out_fd[1], POLLIN, 0 };
        pf[n++] = (struct pollfd){ attach_listen, POLLIN, 0 };
        pf[n++] = (struct pollfd){ control_listen, POLLIN, 0 };
        pf[n++] = (struct pollfd){ pend_len ? stdin_target() : -1, POLLOUT, 0 };
        int base_a = n;
        for (int i = 0; i < nattach; i++)
            pf[n++] = (struct pollfd){ attach_reading[i] && pend_len ? -1 : attach_fd[i], attach_reading[i] ? POLLIN : 0, 0 };
        int base_c = n;
        for (int i = 0; i < ncontrol; i++) pf[n++] = (struct pollfd){ control[i].fd, POLLIN, 0 };
        if (exited && out_fd[0] < 0 && out_fd[1] < 0) break;
        int r = poll(pf, (nfds_t)n, exited ? 200 : -1);
        if (r < 0) { if (errno == EINTR) continue; break; }
        if (r == 0) break; /* exited and nothing more to read: orphans may hold the pipes */
        if (pf[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {}
            int st;
            pid_t w;
            while ((w = waitpid(-1, &st, WNOHANG)) > 0)
                if (w == init_pid) { status = st; exited = 1; }
        }
        for (int s = 0; s < 2; s++) {
            if (!pf[1 + s].revents) continue;
            ssize_t k = read(out_fd[s], buf, sizeof buf);
            if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (k <= 0) {
                log_flush_partial(s);
                if (out_fd[s] != master) close(out_fd[s]);
                out_fd[s] = -1;
                continue;
            }
            broadcast(s, buf, (size_t)k);
            log_data(s, buf, (size_t)k);
        }
        if (pf[3].revents) {
            int c = accept4(attach_listen, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                if (nattach == MAX_ATTACH) close(c);
                else {
                    struct timeval tv = { 2, 0 };
                    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                    attach_fd[nattach] = c;
                    attach_reading[nattach++] = 1;
                }
            }
        }
        if (pf[5].revents) flush_stdin();
        if (pf[4].revents) {
            int c = accept4(control_listen, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                if (ncontrol == MAX_CONTROL) close(c);
                else { control[ncontrol].fd = c; control[ncontrol++].len = 0; }
            }
        }
        /* Clients: walk backwards so dropping one does not skip another. */
        for (int i = base_c - base_a - 1; i >= 0; i--) {
            short ev = pf[base_a + i].revents;
            if (!ev || i >= nattach || attach_fd[i] != pf[base_a + i].fd) continue;
            if (ev & POLLIN) {
                ssize_t k = read(attach_fd[i], buf, sizeof buf);
                if (k > 0) { to_stdin(buf, (size_t)k); continue; }
                if (k == 0) {
                    attach_reading[i] = 0;
                    if (P->open_stdin) close_stdin();
                    if (!(ev & POLLHUP)) continue;
                }
            }
            drop_attach(i);
        }
        for (int i = n - base_c - 1; i >= 0; i--) {
            short ev = pf[base_c + i].revents;
            if (!ev || i >= ncontrol || control[i].fd != pf[base_c + i].fd) continue;
            ssize_t k = read(control[i].fd, control[i].buf + control[i].len, sizeof control[i].buf - 1 - control[i].len);
            if (k <= 0) { drop_control(i); continue; }
            control[i].len += (size_t)k;
            char *nl;
            while ((nl = memchr(control[i].buf, '\n', control[i].len))) {
                *nl = 0;
                if (nl > control[i].buf && nl[-1] == '\r') nl[-1] = 0;
                control_command(i, control[i].buf);
                size_t used = (size_t)(nl - control[i].buf) + 1;
                memmove(control[i].buf, nl + 1, control[i].len - used);
                control[i].len -= used;
            }
            if (control[i].len == sizeof control[i].buf - 1) drop_control(i);
        }
    }
    log_flush_partial(0);
    log_flush_partial(1);
    if (log_fd >= 0) close(log_fd);
    /* The exit file first: an attach client that sees EOF can read the exit status at once. */
    write_exit_file(status);
    for (int i = nattach - 1; i >= 0; i--) { shutdown(attach_fd[i], SHUT_RDWR); drop_attach(i); }
    while (ncontrol) drop_control(0);
    cleanup_sockets();
    /* Reap whatever is left of re-parented orphans without blocking. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    _exit(0);
}

