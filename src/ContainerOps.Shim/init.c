/* containerops-shim as a container's init (`docker run --init`): mounted read-only at /sbin/docker-init and run as
 * `/sbin/docker-init -- CMD ARGS…`, it starts CMD as its child, forwards the signals it gets to it, reaps every
 * orphan the container's pid namespace hands it, and exits as CMD did (its exit code, or 128 + the signal that
 * ended it). A process that is pid 1 gets no default signal actions, so without an init `docker stop` waits out its
 * timeout for a program that never asked for SIGTERM; and nothing reaps the zombies of its grandchildren
 * (PLAN.md "init"). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int init_main(char **cmd)
{
    /* Every signal is taken synchronously: blocked here, so none is lost between now and the wait below, and one
       blocked is delivered even to a namespace's init without a handler. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL);
    /* In the host's pid namespace (--pid host) orphans come here only if asked. */
    if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1);

    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "docker-init: fork: %s\n", strerror(errno));
        return 126;
    }
    if (child == 0) {
        /* Its own process group, in the terminal's foreground when there is one: a Ctrl+C reaches CMD once, from
           the terminal, rather than a second time through this process. */
        setpgid(0, 0);
        if (isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpid());
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(cmd[0], cmd);
        int e = errno;
        fprintf(stderr, "docker-init: exec %s: %s\n", cmd[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue; /* EINTR */
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0)
            if (done == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
}
