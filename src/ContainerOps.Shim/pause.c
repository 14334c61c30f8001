/* containerops-shim pause: holds a new pid namespace for a pod whose containers share one (shareProcessNamespace).
 * A pid namespace lives only while its first process does, and that process (pid 1 inside) inherits every orphan of
 * the namespace, so it must reap them: this is that process, and does nothing else (PLAN.md "pause"). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void __attribute__((noreturn)) hold(void)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; fd++) dup2(null, fd);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    if (chdir("/") < 0) { /* nothing depends on the directory */ }
    /* The signals that matter are taken synchronously: SIGCHLD reaps, SIGTERM and SIGINT end the namespace (the
       kernel then kills whatever is left in it). Others are ignored, as they are for a namespace's init anyway. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGTERM || sig == SIGINT) _exit(0);
        while (waitpid(-1, NULL, WNOHANG) > 0) { }
    }
}

/* Prints "ok <pid>" (the holder's pid on the host) or "error <errno> <stage>: <message>"; the holder is re-parented
 * to the caller's subreaper or init when this returns, so it outlives the daemon as a container does. */
int pause_main(void)
{
    char err[512];
    if (unshare(CLONE_NEWPID) < 0) {
        fmt_error(err, sizeof err, errno, "unshare", "pid namespace: %s", strerror(errno));
        printf("%s\n", err);
        return 1;
    }
    pid_t holder = fork();
    if (holder < 0) {
        fmt_error(err, sizeof err, errno, "fork", "pid namespace holder: %s", strerror(errno));
        printf("%s\n", err);
        return 1;
    }
    if (holder == 0) {
        setsid();
        hold();
    }
    printf("ok %d\n", (int)holder);
    return 0;
}
