/* Plan file parser (PLAN.md "Plan format") and small file helpers. */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const ns_names[NS_COUNT] = { "user", "ipc", "uts", "net", "pid", "mount", "cgroup" };

const char *ns_name(int kind) { return ns_names[kind]; }

int ns_clone_flag(int kind)
{
    static const int flags[NS_COUNT] = { CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWCGROUP };
    return flags[kind];
}

void fmt_error(char *buf, size_t len, int err, const char *stage, const char *fmt, ...)
{
    int n = snprintf(buf, len, "error %d %s: ", err, stage);
    if (n < 0 || (size_t)n >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
    /* one line only */
    for (char *c = buf; *c; c++)
        if (*c == '\n') *c = ' ';
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *b = buf;
    while (len > 0) {
        ssize_t n = write(fd, b, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Atomic against a crash of any process (readers see the old file or the new one), not against power loss:
 * these files live in the run root, whose containers do not outlive a reboot, so no fsync is paid per start. */
int write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) { errno = ENAMETOOLONG; return -1; }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (write_all(fd, data, len) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int write_string_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = write_all(fd, s, strlen(s));
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

/* Moves the calling process into the cgroup whose cgroup.procs file is given. On a cgroup v1 hierarchy it writes 0
 * to the sibling "tasks" file: that moves only the calling thread, which for a single-threaded caller is the whole
 * process, and the kernel does it without the global lock a process move takes, whose RCU grace period (~10 ms on
 * an idle machine) was the largest part of a container start. Elsewhere (v2) it writes 0 to cgroup.procs. */
static int tasks_file(const char *procs_file, char *out, size_t outlen)
{
    const char *slash = strrchr(procs_file, '/');
    if (!slash || strcmp(slash + 1, "cgroup.procs")) return -1;
    int n = snprintf(out, outlen, "%.*s/tasks", (int)(slash - procs_file), procs_file);
    return n > 0 && (size_t)n < outlen && access(out, W_OK) == 0 ? 0 : -1;
}

int cgroup_is_v1(const char *procs_file)
{
    char tasks[4096];
    return tasks_file(procs_file, tasks, sizeof tasks) == 0;
}

int join_cgroup_self(const char *procs_file)
{
    char tasks[4096];
    if (tasks_file(procs_file, tasks, sizeof tasks) == 0) return write_string_file(tasks, "0");
    return write_string_file(procs_file, "0");
}

/* ---- parser ---- */

static int unescape(char *s)
{
    char *o = s;
    for (char *i = s; *i; i++) {
        if (*i != '\\') { *o++ = *i; continue; }
        i++;
        if (*i == '\\') *o++ = '\\';
        else if (*i == 't') *o++ = '\t';
        else if (*i == 'n') *o++ = '\n';
        else return -1;
    }
    *o = 0;
    return 0;
}

#define GROW(arr, n) do { void *np_ = realloc((arr), sizeof(*(arr)) * ((size_t)(n) + 1)); \
    if (!np_) { err_no = ENOMEM; goto fail_msg; } (arr) = np_; } while (0)

static int parse_num(const char *s, long long *out, int base)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, base);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out, int base)
{
    char *end;
    errno = 0;
    if (*s == '-') {
        if (strcmp(s, "-1") == 0) { *out = UINT64_MAX; return 0; }
        return -1;
    }
    unsigned long long v = strtoull(s, &end, base);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int plan_load(const char *path, struct plan *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->log_max_files = 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { fmt_error(err, errlen, errno, "plan", "open %s: %s", path, strerror(errno)); return -1; }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { close(fd); fmt_error(err, errlen, ENOMEM, "plan", "out of memory"); return -1; }
        if (len + 1 >= cap) { cap *= 2; char *nb = realloc(buf, cap); if (!nb) free(buf); buf = nb; continue; }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno; close(fd); free(buf);
            fmt_error(err, errlen, e, "plan", "read %s: %s", path, strerror(e));
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;

    int lineno = 0, err_no = EINVAL;
    char *line = buf, *next;
    const char *kw = "";
    char msg[256] = "";
    for (; line && *line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (*line == 0 || *line == '#') continue;
        char *a[9];
        int na = 0;
        kw = line;
        char *t = strchr(line, '\t');
        if (t) *t++ = 0;
        while (t && na < 9) {
            a[na++] = t;
            t = strchr(t, '\t');
            if (t) *t++ = 0;
        }
        if (t) { snprintf(msg, sizeof msg, "too many arguments"); goto fail; }
        for (int i = 0; i < na; i++)
            if (unescape(a[i]) < 0) { snprintf(msg, sizeof msg, "bad escape"); goto fail; }
        long long v;
#define NEED(n) do { if (na != (n)) { snprintf(msg, sizeof msg, "expected %d argument(s), got %d", (n), na); goto fail; } } while (0)
#define NUM(s, out, base) do { if (parse_num((s), &v, (base)) < 0) { snprintf(msg, sizeof msg, "bad number '%s'", (s)); goto fail; } (out) = v; } while (0)
        if (!strcmp(kw, "version")) {
            NEED(1);
            if (strcmp(a[0], "1")) { snprintf(msg, sizeof msg, "unsupported version '%s'", a[0]); goto fail; }
        } else if (!strcmp(kw, "id")) { NEED(1); p->id = a[0]; }
        else if (!strcmp(kw, "rootfs")) { NEED(1); p->rootfs = a[0]; }
        else if (!strcmp(kw, "readonly_rootfs")) { NEED(1); NUM(a[0], p->readonly_rootfs, 10); }
        else if (!strcmp(kw, "hostname")) { NEED(1); p->hostname = a[0]; }
        else if (!strcmp(kw, "domainname")) { NEED(1); p->domainname = a[0]; }
        else if (!strcmp(kw, "namespace")) {
            if (na != 1 && na != 2) NEED(1);
            int k;
            for (k = 0; k < NS_COUNT; k++) if (!strcmp(a[0], ns_names[k])) break;
            if (k == NS_COUNT) { snprintf(msg, sizeof msg, "unknown namespace type '%s'", a[0]); goto fail; }
            p->ns_set[k] = 1;
            p->ns_path[k] = na == 2 && *a[1] ? a[1] : NULL;
        } else if (!strcmp(kw, "mount")) {
            if (na != 5 && na != 6) NEED(5);
            GROW(p->mounts, p->nmounts);
            struct plan_mount *m = &p->mounts[p->nmounts++];
            m->source = a[0]; m->dest = a[1]; m->fstype = a[2]; m->data = a[4];
            NUM(a[3], m->flags, 10);
            m->propagation = 0;
            if (na == 6) NUM(a[5], m->propagation, 10);
        } else if (!strcmp(kw, "propagation")) { NEED(1); NUM(a[0], p->propagation, 10); p->has_propagation = 1; }
        else if (!strcmp(kw, "device")) {
            NEED(7);
            GROW(p->devices, p->ndevices);
            struct plan_device *d = &p->devices[p->ndevices++];
            d->path = a[0];
            if (strcmp(a[1], "c") && strcmp(a[1], "b") && strcmp(a[1], "u") && strcmp(a[1], "p")) {
                snprintf(msg, sizeof msg, "bad device type '%s'", a[1]); goto fail;
            }
            d->type = a[1][0];
            NUM(a[2], d->major, 10); NUM(a[3], d->minor, 10); NUM(a[4], d->mode, 8);
            NUM(a[5], d->uid, 10); NUM(a[6], d->gid, 10);
        } else if (!strcmp(kw, "symlink")) {
            NEED(2);
            GROW(p->symlink_target, p->nsymlinks); GROW(p->symlink_path, p->nsymlinks);
            p->symlink_target[p->nsymlinks] = a[0]; p->symlink_path[p->nsymlinks++] = a[1];
        } else if (!strcmp(kw, "masked")) { NEED(1); GROW(p->masked, p->nmasked); p->masked[p->nmasked++] = a[0]; }
        else if (!strcmp(kw, "readonly")) { NEED(1); GROW(p->readonly, p->nreadonly); p->readonly[p->nreadonly++] = a[0]; }
        else if (!strcmp(kw, "sysctl")) {
            NEED(2);
            GROW(p->sysctl_key, p->nsysctls); GROW(p->sysctl_value, p->nsysctls);
            p->sysctl_key[p->nsysctls] = a[0]; p->sysctl_value[p->nsysctls++] = a[1];
        } else if (!strcmp(kw, "cgroup")) { NEED(1); GROW(p->cgroups, p->ncgroups); p->cgroups[p->ncgroups++] = a[0]; }
        else if (!strcmp(kw, "uid")) { NEED(1); NUM(a[0], p->uid, 10); p->has_uid = 1; }
        else if (!strcmp(kw, "gid")) { NEED(1); NUM(a[0], p->gid, 10); p->has_gid = 1; }
        else if (!strcmp(kw, "groups")) {
            if (na > 1) NEED(1);
            p->has_groups = 1;
            p->ngroups = 0;
            char *s = na ? a[0] : (char *)"";
            while (*s) {
                char *c = strchr(s, ',');
                if (c) *c = 0;
                GROW(p->groups, p->ngroups);
                NUM(s, p->groups[p->ngroups], 10);
                p->ngroups++;
                if (!c) break;
                s = c + 1;
            }
        } else if (!strcmp(kw, "caps")) {
            NEED(5);
            for (int i = 0; i < 5; i++)
                if (parse_u64(a[i], &p->caps[i], 16) < 0) { snprintf(msg, sizeof msg, "bad mask '%s'", a[i]); goto fail; }
            p->has_caps = 1;
        } else if (!strcmp(kw, "no_new_privs")) { NEED(1); NUM(a[0], p->no_new_privs, 10); }
        else if (!strcmp(kw, "oom_score_adj")) { NEED(1); NUM(a[0], p->oom_score_adj, 10); p->has_oom = 1; }
        else if (!strcmp(kw, "rlimit")) {
            NEED(3);
            GROW(p->rlimits, p->nrlimits);
            struct plan_rlimit *r = &p->rlimits[p->nrlimits++];
            NUM(a[0], r->resource, 10);
            if (parse_u64(a[1], &r->soft, 10) < 0 || parse_u64(a[2], &r->hard, 10) < 0) { snprintf(msg, sizeof msg, "bad limit"); goto fail; }
        } else if (!strcmp(kw, "seccomp")) {
            if (na < 1 || na > 2) { snprintf(msg, sizeof msg, "expected 1 or 2 arguments, got %d", na); goto fail; }
            p->seccomp = a[0];
            if (na == 2) NUM(a[1], p->seccomp_flags, 10);
        }
        else if (!strcmp(kw, "env")) { NEED(1); GROW(p->env, p->nenv + 1); p->env[p->nenv++] = a[0]; p->env[p->nenv] = NULL; }
        else if (!strcmp(kw, "cwd")) { NEED(1); p->cwd = a[0]; }
        else if (!strcmp(kw, "hook")) {
            NEED(3);
            GROW(p->hooks, p->nhooks);
            struct plan_hook *h = &p->hooks[p->nhooks];
            memset(h, 0, sizeof *h);
            h->phase = a[0];
            NUM(a[1], h->timeout, 10);
            h->path = a[2];
            GROW(h->args, 0); h->args[0] = NULL;
            GROW(h->env, 0); h->env[0] = NULL;
            p->nhooks++;
        } else if (!strcmp(kw, "hook_arg") || !strcmp(kw, "hook_env")) {
            NEED(1);
            if (p->nhooks == 0) { snprintf(msg, sizeof msg, "%s before any hook line", kw); goto fail; }
            struct plan_hook *h = &p->hooks[p->nhooks - 1];
            if (kw[5] == 'a') { GROW(h->args, h->nargs + 1); h->args[h->nargs++] = a[0]; h->args[h->nargs] = NULL; }
            else { GROW(h->env, h->nenv + 1); h->env[h->nenv++] = a[0]; h->env[h->nenv] = NULL; }
        } else if (!strcmp(kw, "hook_state")) { NEED(1); p->hook_state = a[0]; }
        else if (!strcmp(kw, "arg")) { NEED(1); GROW(p->args, p->nargs + 1); p->args[p->nargs++] = a[0]; p->args[p->nargs] = NULL; }
        else if (!strcmp(kw, "terminal")) { NEED(1); NUM(a[0], p->terminal, 10); }
        else if (!strcmp(kw, "stdin")) { NEED(1); NUM(a[0], p->open_stdin, 10); }
        else if (!strcmp(kw, "inherit_stdio")) { NEED(1); NUM(a[0], p->inherit_stdio, 10); }
        else if (!strcmp(kw, "unmonitored")) { NEED(1); NUM(a[0], p->unmonitored, 10); }
        else if (!strcmp(kw, "log")) {
            NEED(3);
            p->log_path = a[0];
            if (parse_u64(a[1], &p->log_max_bytes, 10) < 0) { snprintf(msg, sizeof msg, "bad size '%s'", a[1]); goto fail; }
            NUM(a[2], p->log_max_files, 10);
            if (p->log_max_files < 1) p->log_max_files = 1;
        } else if (!strcmp(kw, "exit_file")) { NEED(1); p->exit_file = a[0]; }
        else if (!strcmp(kw, "pid_file")) { NEED(1); p->pid_file = a[0]; }
        else if (!strcmp(kw, "attach_socket")) { NEED(1); p->attach_socket = a[0]; }
        else if (!strcmp(kw, "control_socket")) { NEED(1); p->control_socket = a[0]; }
        else if (!strcmp(kw, "exec_fifo")) { NEED(1); p->exec_fifo = a[0]; }
        else if (!strcmp(kw, "uidmap") || !strcmp(kw, "gidmap")) {
            NEED(3);
            unsigned long long inside, outside, count;
            NUM(a[0], inside, 10); NUM(a[1], outside, 10); NUM(a[2], count, 10);
            if (inside > UINT32_MAX || outside > UINT32_MAX || count == 0 || count > UINT32_MAX) {
                snprintf(msg, sizeof msg, "bad range %s %s %s", a[0], a[1], a[2]); goto fail;
            }
            char **map = kw[0] == 'u' ? &p->uid_map : &p->gid_map;
            size_t *maplen = kw[0] == 'u' ? &p->uid_map_len : &p->gid_map_len;
            char line[64];
            int n = snprintf(line, sizeof line, "%llu %llu %llu\n", inside, outside, count);
            char *grown = realloc(*map, *maplen + (size_t)n + 1);
            if (!grown) { err_no = ENOMEM; goto fail_msg; }
            memcpy(grown + *maplen, line, (size_t)n + 1);
            *map = grown;
            *maplen += (size_t)n;
        }
        else if (!strcmp(kw, "console_socket")) { NEED(1); p->console_socket = a[0]; }
        else if (!strcmp(kw, "runtime")) { NEED(2); p->runtime = a[0]; p->bundle = a[1]; }
        else {
            fmt_error(err, errlen, EINVAL, "plan", "unknown directive '%s' at line %d", kw, lineno);
            return -1;
        }
#undef NEED
#undef NUM
    }
    if (!p->env) { GROW(p->env, 0); p->env[0] = NULL; }
    return 0;
fail_msg:
    snprintf(msg, sizeof msg, "%s", strerror(err_no));
fail:
    fmt_error(err, errlen, err_no, "plan", "%s at line %d: %s", kw, lineno, msg);
    return -1;
}
