/* containerops-shim entry point: run/create front process, exec, --version (PLAN.md "Invocation"). */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "usage: containerops-shim run|create <plan-file> [<report-fd>]\n"
                    "       containerops-shim exec <plan-file>\n       containerops-shim pause\n"
                    "       containerops-shim init -- <command> [<arg>...]\n"
                    "       containerops-shim --version\n");
}

/* Where the front's one report line goes: stdout, or the fd named after the plan file. */
static int report_out = STDOUT_FILENO;

static int print_line(const char *line)
{
    size_t n = strlen(line);
    write_all(report_out, line, n);
    if (n == 0 || line[n - 1] != '\n') write_all(report_out, "\n", 1);
    return strncmp(line, "ok ", 3) == 0 ? 0 : 1;
}

/* The front: fork the monitor, wait for its one-line report, print it, exit. The monitor calls setsid() (a child is
 * never a process-group leader, so no second fork is needed for that) and is re-parented to the subreaper or init
 * when the front exits: it is never a child of the daemon. */
static int front(struct plan *p, int create)
{
    char err[512];
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) < 0) {
        fmt_error(err, sizeof err, errno, "pipe", "%s", strerror(errno));
        return print_line(err);
    }
    pid_t monitor = fork();
    if (monitor < 0) {
        fmt_error(err, sizeof err, errno, "fork", "monitor: %s", strerror(errno));
        return print_line(err);
    }
    if (monitor == 0) {
        close(rp[0]);
        setsid();
        monitor_main(p, create, rp[1]);
    }
    close(rp[1]);
    char line[1024];
    size_t len = 0;
    while (len < sizeof line - 1) {
        ssize_t n = read(rp[0], line + len, sizeof line - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (memchr(line, '\n', len)) break;
    }
    line[len] = 0;
    char *nl = strchr(line, '\n');
    if (nl) nl[1] = 0;
    close(rp[0]);
    if (!nl || (strncmp(line, "ok ", 3) && strncmp(line, "error ", 6))) {
        fmt_error(err, sizeof err, EIO, "monitor", "exited without a report");
        return print_line(err);
    }
    return print_line(line);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("%s\n", SHIM_VERSION);
        return 0;
    }
    /* As a container's init: /sbin/docker-init -- CMD…, or containerops-shim init -- CMD…. */
    {
        const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        if (!strcmp(name, "docker-init") && argc >= 3 && !strcmp(argv[1], "--")) return init_main(argv + 2);
        if (argc >= 4 && !strcmp(argv[1], "init") && !strcmp(argv[2], "--")) return init_main(argv + 3);
    }
    if (argc == 2 && !strcmp(argv[1], "pause")) {
        reset_signals();
        return pause_main();
    }
    if (argc != 3 && argc != 4) {
        usage();
        return 2;
    }
    int mode;
    if (!strcmp(argv[1], "run")) mode = 0;
    else if (!strcmp(argv[1], "create")) mode = 1;
    else if (!strcmp(argv[1], "exec") && argc == 3) mode = 2;
    else {
        usage();
        return 2;
    }
    if (argc == 4) {
        char *end;
        long fd = strtol(argv[3], &end, 10);
        if (*end || fd < 1 || fd > 1024 || fcntl((int)fd, F_GETFD) < 0) {
            fprintf(stderr, "containerops-shim: report fd '%s' is not an open descriptor\n", argv[3]);
            return 2;
        }
        report_out = (int)fd;
        fcntl(report_out, F_SETFD, FD_CLOEXEC);
    }
    /* fds 0-2 must exist, or pipes created below could land on them. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) return 125;
    /* Nothing inherited from the caller's signal setup. */
    reset_signals();

    struct plan p;
    char err[512];
    if (plan_load(argv[2], &p, err, sizeof err) < 0) {
        if (mode == 2) {
            fprintf(stderr, "%s\n", err);
            return 125;
        }
        return print_line(err);
    }
    if (mode == 2) return exec_main(&p);
    if (p.nargs == 0 && !p.runtime) {
        fmt_error(err, sizeof err, EINVAL, "plan", "no arg lines");
        return print_line(err);
    }
    if (!p.runtime && !p.rootfs) {
        fmt_error(err, sizeof err, EINVAL, "plan", "a rootfs is required");
        return print_line(err);
    }
    /* Without a mount namespace of the container's, a mount would change the caller's own mount table. */
    if (!p.runtime && !p.ns_set[NS_MOUNT] && (p.nmounts || p.ndevices || p.nsymlinks || p.nsysctls || p.nmasked
                                              || p.nreadonly || p.readonly_rootfs || p.has_propagation)) {
        fmt_error(err, sizeof err, EINVAL, "plan", "mounts, devices, links, sysctls and propagation need a mount namespace");
        return print_line(err);
    }
    if (p.inherit_stdio && (p.terminal || p.runtime || p.log_path || p.open_stdin)) {
        fmt_error(err, sizeof err, EINVAL, "plan", "inherit_stdio excludes terminal, runtime, log and stdin");
        return print_line(err);
    }
    if (p.unmonitored && (!(p.inherit_stdio || (p.terminal && p.console_socket)) || p.exit_file || p.attach_socket
                          || p.control_socket || p.log_path)) {
        fmt_error(err, sizeof err, EINVAL, "plan", "unmonitored needs inherit_stdio or a terminal with console_socket, and excludes exit_file, log and the sockets");
        return print_line(err);
    }
    if (p.console_socket && (!p.unmonitored || !p.terminal || p.runtime)) {
        fmt_error(err, sizeof err, EINVAL, "plan", "console_socket needs terminal 1 and unmonitored");
        return print_line(err);
    }
    if (mode == 1 && !p.exec_fifo && !p.runtime) {
        fmt_error(err, sizeof err, EINVAL, "plan", "create needs exec_fifo");
        return print_line(err);
    }
    return front(&p, mode == 1);
}
