/* exec mode: join a running container's namespaces and cgroups, run one process in the foreground
 * (PLAN.md "exec"). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
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
    char pidstr[32];
    snprintf(pidstr, sizeof pidstr, "%d", (int)getpid());
    for (int i = 0; i < p->ncgroups; i++)
        if (write_string_file(p->cgroups[i], pidstr) < 0) {
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
            if (ioctl(0, TIOCSCTTY, 0) < 0) {
                fmt_error(err, sizeof err, errno, "terminal", "TIOCSCTTY: %s", strerror(errno));
                goto fail;
            }
        }
        if (process_early(p, err, sizeof err) < 0 || process_creds(p, err, sizeof err) < 0 ||
            process_cwd(p, err, sizeof err) < 0)
            goto fail;
        syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
        if (filter && seccomp_load(filter, filter_len, err, sizeof err) < 0) goto fail;
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
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(0);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return 125;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}
