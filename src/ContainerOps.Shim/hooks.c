/* OCI hooks run by the shim itself (PLAN.md "hooks"): each hook is forked and executed with the container's state
 * on its stdin, one after the other, each within its timeout; its output is kept for the error that a failing hook
 * makes. poststart and poststop are the runtime's (C#); these are the ones that must run while the container is
 * set up. */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int has_hooks(const struct plan *p, const char *phase)
{
    for (int i = 0; i < p->nhooks; i++)
        if (!strcmp(p->hooks[i].phase, phase)) return 1;
    return 0;
}

int has_runtime_hooks(const struct plan *p)
{
    return has_hooks(p, "prestart") || has_hooks(p, "createRuntime");
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One hook: 0 when it exited 0, else -1 with err saying how it ended and the start of what it wrote. */
static int run_hook(const struct plan_hook *h, const char *state, char *err, size_t errlen)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        fmt_error(err, errlen, errno, "hook", "%s %s: pipe: %s", h->phase, h->path, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fmt_error(err, errlen, errno, "hook", "%s %s: fork: %s", h->phase, h->path, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        char *fallback[] = { h->path, NULL };
        execve(h->path, h->nargs ? h->args : fallback, h->env);
        dprintf(2, "exec: %s", strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* A hook need not read its stdin: a closed pipe is no error. SIGPIPE is ignored only meanwhile, since an ignored
       signal would outlast the init's execve. */
    struct sigaction ignore = { .sa_handler = SIG_IGN }, before;
    sigaction(SIGPIPE, &ignore, &before);
    write_all(in[1], state, strlen(state));
    sigaction(SIGPIPE, &before, NULL);
    close(in[1]);
    char output[256];
    size_t got = 0;
    long long deadline = h->timeout > 0 ? now_ms() + (long long)h->timeout * 1000 : -1;
    int status = 0, ended = 0, timed_out = 0;
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    while (!ended) {
        struct pollfd pf = { out[0], POLLIN, 0 };
        poll(&pf, 1, 10);
        char buf[512];
        ssize_t n;
        while ((n = read(out[0], buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < n && got < sizeof output - 1; i++) output[got++] = buf[i] == '\n' ? ' ' : buf[i];
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) ended = 1;
        else if (deadline >= 0 && now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            ended = timed_out = 1;
        }
    }
    close(out[0]);
    output[got] = 0;
    while (got > 0 && output[got - 1] == ' ') output[--got] = 0;
    if (timed_out) {
        fmt_error(err, errlen, ETIMEDOUT, "hook", "%s %s: did not end within %d s%s%s", h->phase, h->path, h->timeout, got ? ": " : "", output);
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status))
        fmt_error(err, errlen, EIO, "hook", "%s %s: exited %d%s%s", h->phase, h->path, WEXITSTATUS(status), got ? ": " : "", output);
    else
        fmt_error(err, errlen, EIO, "hook", "%s %s: killed by signal %d%s%s", h->phase, h->path, WTERMSIG(status), got ? ": " : "", output);
    return -1;
}

int run_hooks(const struct plan *p, const char *phase, const char *status, pid_t pid, char *err, size_t errlen)
{
    if (!has_hooks(p, phase)) return 0;
    char state[8192];
    snprintf(state, sizeof state, "{\"status\":\"%s\",\"pid\":%d%s%s}", status, (int)pid,
             p->hook_state && *p->hook_state ? "," : "", p->hook_state ? p->hook_state : "");
    for (int i = 0; i < p->nhooks; i++)
        if (!strcmp(p->hooks[i].phase, phase) && run_hook(&p->hooks[i], state, err, errlen) < 0) return -1;
    return 0;
}
