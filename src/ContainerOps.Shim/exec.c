/* exec mode: join a running container's namespaces and cgroups, run one process in the foreground
 * (PLAN.md "exec"). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile pid_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0) kill(child_pid, sig);
}

/* With a terminal, the process gets a pty from the container's own devpts (so `tty` names it inside), and this
 * process relays between it and the terminal the caller gave as stdio. This process makes the caller's terminal its
 * controlling terminal, so a resize there raises SIGWINCH here at once and the size is copied across. */
static volatile sig_atomic_t resize_pending = 1;

static void on_resize(int sig)
{
    (void)sig;
    resize_pending = 1;
}

static int open_container_pty(int *peer)
{
    int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -1;
    int unlock = 0;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0) { close(m); return -1; }
    *peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (*peer < 0) { close(m); return -1; }
    return m;
}

static int copy_some(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return 0;
    if (n <= 0) return -1;
    return write_all(to, buf, (size_t)n);
}

/* Returns when the container side of the pty is closed by everyone (read gives EIO) or the caller's side fails.
 * SIGWINCH is blocked except inside ppoll, so a resize is never missed between the check and the wait. */
static void relay_terminal(int master, const sigset_t *wait_mask)
{
    int input_open = 1;
    for (;;) {
        if (resize_pending) {
            resize_pending = 0;
            struct winsize ws;
            if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
        }
        struct pollfd fds[2] = { { master, POLLIN, 0 }, { 0, input_open ? POLLIN : 0, 0 } };
        if (ppoll(fds, 2, NULL, wait_mask) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            if (copy_some(master, 1) < 0) return;
        if (input_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            if (copy_some(0, master) < 0) input_open = 0;
    }
}

static int setup_error(const char *err)
{
    fprintf(stderr, "%s\n", err);
    return 125;
}

int exec_main(struct plan *p)
{
    char err[1024];
    if (p->nargs == 0) {
        fmt_error(err, sizeof err, EINVAL, "plan", "no arg lines");
        return setup_error(err);
    }
    /* Open every namespace first: the paths are host paths, gone once the mount namespace changes. */
    int nsfd[NS_COUNT];
    for (int k = 0; k < NS_COUNT; k++) {
        nsfd[k] = -1;
        if (!p->ns_set[k] || !p->ns_path[k]) continue;
        nsfd[k] = open(p->ns_path[k], O_RDONLY | O_CLOEXEC);
        if (nsfd[k] < 0) {
            fmt_error(err, sizeof err, errno, "namespace", "open %s %s: %s", ns_name(k), p->ns_path[k], strerror(errno));
            return setup_error(err);
        }
    }
    for (int i = 0; i < p->ncgroups; i++)
        if (join_cgroup_self(p->cgroups[i]) < 0) {
            fmt_error(err, sizeof err, errno, "cgroup", "%s: %s", p->cgroups[i], strerror(errno));
            return setup_error(err);
        }
    void *filter = NULL;
    size_t filter_len = 0;
    if (p->seccomp && seccomp_read(p->seccomp, &filter, &filter_len, err, sizeof err) < 0) return setup_error(err);
    /* enum ns_kind is already the join order: user, ipc, uts, net, pid, mount, cgroup. */
    for (int k = 0; k < NS_COUNT; k++) {
        if (nsfd[k] < 0) continue;
        if (setns(nsfd[k], 0) < 0) {
            /* Joining one's own user namespace again fails with EINVAL; that is not an error. */
            if (!(k == NS_USER && errno == EINVAL)) {
                fmt_error(err, sizeof err, errno, "namespace", "join %s %s: %s", ns_name(k), p->ns_path[k], strerror(errno));
                return setup_error(err);
            }
        }
        close(nsfd[k]);
    }

    int master = -1, peer = -1;
    if (p->terminal && (master = open_container_pty(&peer)) >= 0) {
        /* The shim was spawned inside its caller's process group, so it can start a session; failing that, the
         * size is still copied once below, only later resizes would not reach the process. */
        struct sigaction resize_action;
        memset(&resize_action, 0, sizeof resize_action);
        resize_action.sa_handler = on_resize;
        sigaction(SIGWINCH, &resize_action, NULL); /* before the terminal is ours: no resize is dropped */
        if (setsid() >= 0) ioctl(0, TIOCSCTTY, 0);
        /* The caller's terminal becomes a plain byte pipe: the container's pty does echo and line editing. */
        struct termios t;
        if (tcgetattr(0, &t) == 0) { cfmakeraw(&t); tcsetattr(0, TCSANOW, &t); }
        /* The process starts with the caller's size; a resize from here on sets the flag again. */
        resize_pending = 0;
        struct winsize ws;
        if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
    }

    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid < 0) {
        fmt_error(err, sizeof err, errno, "fork", "%s", strerror(errno));
        return setup_error(err);
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (p->terminal) {
            setsid();
            if (peer >= 0 && (dup2(peer, 0) < 0 || dup2(peer, 1) < 0 || dup2(peer, 2) < 0)) {
                fmt_error(err, sizeof err, errno, "terminal", "dup2: %s", strerror(errno));
                goto fail;
            }
            if (ioctl(0, TIOCSCTTY, 0) < 0) {
                fmt_error(err, sizeof err, errno, "terminal", "TIOCSCTTY: %s", strerror(errno));
                goto fail;
            }
        }
        if (process_early(p, err, sizeof err) < 0) goto fail;
        syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
        /* As in the init: before the capability drop unless no_new_privs lets an unprivileged process load it. */
        int verified = filter && !p->no_new_privs; /* see container_init */
        if (verified && process_cwd(p, 1, err, sizeof err) < 0) goto fail;
        if (filter && !p->no_new_privs && seccomp_load(filter, filter_len, p->seccomp_flags, err, sizeof err) < 0) goto fail;
        if (process_creds(p, err, sizeof err) < 0 || process_cwd(p, !verified, err, sizeof err) < 0) goto fail;
        if (filter && p->no_new_privs && seccomp_load(filter, filter_len, p->seccomp_flags, err, sizeof err) < 0) goto fail;
        int e = process_exec(p, err, sizeof err);
        fprintf(stderr, "%s\n", err);
        _exit(e == ENOENT ? 127 : 126);
    fail:
        fprintf(stderr, "%s\n", err);
        _exit(125);
    }
    child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    if (master >= 0) {
        /* Resizes are ours to copy; the process gets its SIGWINCH from its own pty when the size changes. */
        sa.sa_handler = on_resize;
        sigaction(SIGWINCH, &sa, NULL);
        sigset_t run_mask = old, wait_mask = old;
        sigaddset(&run_mask, SIGWINCH);
        sigdelset(&wait_mask, SIGWINCH);
        sigprocmask(SIG_SETMASK, &run_mask, NULL);
        close(peer);
        relay_terminal(master, &wait_mask);
        close(master);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(0);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return 125;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}
