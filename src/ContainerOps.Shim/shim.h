/* containerops-shim: shared declarations. The contract is PLAN.md in this directory. */
#ifndef CONTAINEROPS_SHIM_H
#define CONTAINEROPS_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SHIM_VERSION "containerops-shim 1.0"

/* Namespace kinds, in the order exec joins them (user first, mount after pid, cgroup last). */
enum ns_kind { NS_USER, NS_IPC, NS_UTS, NS_NET, NS_PID, NS_MOUNT, NS_CGROUP, NS_COUNT };

struct plan_mount {
    char *source, *dest, *fstype, *data;
    unsigned long flags;
    unsigned long propagation;  /* MS_SHARED/MS_SLAVE/MS_UNBINDABLE (| MS_REC) applied after the mount; 0: stays private */
};

struct plan_device {
    char *path;
    char type;
    unsigned major, minor;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

struct plan_rlimit {
    int resource;
    uint64_t soft, hard;
};

/* An OCI hook run by the shim: prestart and createRuntime by the monitor (host namespaces) before the root changes,
 * createContainer by the init before pivot_root, startContainer by the init just before the process starts. */
struct plan_hook {
    char *phase;
    int timeout;                /* seconds; 0: none */
    char *path;
    char **args; int nargs;     /* NULL-terminated; args[0] is argv[0] */
    char **env; int nenv;       /* NULL-terminated */
};

struct plan {
    char *id;
    char *rootfs;
    int readonly_rootfs;
    char *hostname;
    char *domainname;
    int ns_set[NS_COUNT];       /* namespace line present */
    char *ns_path[NS_COUNT];    /* NULL: new namespace */
    char *uid_map, *gid_map;    /* a new user namespace's maps as the kernel reads them ("C H N\n" lines); NULL: none */
    size_t uid_map_len, gid_map_len;
    unsigned long propagation;
    int has_propagation;
    struct plan_mount *mounts; int nmounts;
    struct plan_device *devices; int ndevices;
    char **symlink_target, **symlink_path; int nsymlinks;
    char **masked; int nmasked;
    char **readonly; int nreadonly;
    char **sysctl_key, **sysctl_value; int nsysctls;
    char **cgroups; int ncgroups;
    int cgroup_joined;          /* set by the monitor: the init was cloned into its cgroup (v2) */
    int has_uid, has_gid;
    uid_t uid; gid_t gid;
    int has_groups; gid_t *groups; int ngroups;
    int has_caps; uint64_t caps[5]; /* bounding, effective, permitted, inheritable, ambient */
    int no_new_privs;
    int has_oom; int oom_score_adj;
    struct plan_rlimit *rlimits; int nrlimits;
    char *seccomp; unsigned int seccomp_flags;   /* BPF program file; SECCOMP_FILTER_FLAG_* */
    struct plan_hook *hooks; int nhooks;
    char *hook_state;           /* the hooks' state JSON members other than status and pid ("ociVersion":…,"id":…) */
    char **env; int nenv;
    char *cwd;
    char **args; int nargs;
    int terminal;
    int open_stdin;
    int inherit_stdio;          /* the init gets the shim's own fds 0-2 (the caller's): no pipes, no log */
    int unmonitored;            /* no monitor once the container is set up: the init goes to the caller's subreaper */
    char *log_path; uint64_t log_max_bytes; int log_max_files;
    char *exit_file, *pid_file, *attach_socket, *control_socket, *exec_fifo;
    char *console_socket;       /* with terminal 1 and unmonitored: the pty master goes to the caller over this socket */
    char *runtime, *bundle;
};

/* plan.c: on failure returns -1 with an "error <errno> plan: ..." line in err. */
int plan_load(const char *path, struct plan *p, char *err, size_t errlen);

/* util (plan.c) */
int write_all(int fd, const void *buf, size_t len);
int write_file_atomic(const char *path, const char *data, size_t len);
int write_string_file(const char *path, const char *s);
int join_cgroup_self(const char *procs_file);
/* Whether the hierarchy of a cgroup.procs file is cgroup v1 (its directory has a "tasks" file). */
int cgroup_is_v1(const char *procs_file);
/* Whether our own init is cloned into a new user namespace (then the monitor moves it into its cgroups). */
static inline int init_in_new_userns(const struct plan *p) { return p->ns_set[NS_USER] && !p->ns_path[NS_USER]; }
void fmt_error(char *buf, size_t len, int err, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
const char *ns_name(int kind);
/* The CLONE_NEW* flag of a namespace kind: setns with it refuses a file of another kind of namespace. */
int ns_clone_flag(int kind);

/* container.c: runs in the cloned init; never returns. sync_fd: read one byte before setup;
 * report_fd: CLOEXEC pipe for the error line (or "ready\n" in create mode). With console_fd >= 0 the init
 * opens a pty inside the container and sends its master over that socket; stdio fds are then unused. */
void container_init(struct plan *p, int create, int sync_fd, int report_fd,
                    int stdin_fd, int stdout_fd, int stderr_fd, int console_fd);

/* Process setup shared by the init and exec: creds, caps, no_new_privs, cwd, close fds.
 * Returns 0 or -1 with err filled (stage named). */
int process_early(struct plan *p, char *err, size_t errlen);   /* rlimits, oom_score_adj */
int process_creds(struct plan *p, char *err, size_t errlen);   /* bounding, groups/gid/uid, caps, nnp */
int process_cwd(struct plan *p, int verify, char *err, size_t errlen);
/* The plan's BPF program, read while host paths are still reachable; loaded by seccomp_load with the plan's flags. */
int seccomp_read(const char *path, void **prog, size_t *len, char *err, size_t errlen);
int seccomp_load(void *prog, size_t len, unsigned int flags, char *err, size_t errlen);
/* Resolves argv[0] through PATH of env and execs; returns errno on failure with err filled. */
int process_exec(struct plan *p, char *err, size_t errlen);

/* Default dispositions for every signal, empty mask (container.c). */
void reset_signals(void);

/* monitor.c: the run/create monitor (after the double fork). Writes the report line to report_fd. */
void monitor_main(struct plan *p, int create, int report_fd) __attribute__((noreturn));

/* exec.c */
int exec_main(struct plan *p);

/* pause.c: a new pid namespace's reaping init, for pods that share one. */
int pause_main(void);
/* init.c: the container init of `--init` (argv after "--"); returns its exit status. */
int init_main(char **cmd);
/* hooks.c: whether the plan has hooks of a phase; runs them in order with the state on stdin (0, or -1 and err). */
int has_hooks(const struct plan *p, const char *phase);
/* Whether the init stops before pivot_root for the monitor to run prestart and createRuntime hooks: both sides ask this. */
int has_runtime_hooks(const struct plan *p);
int run_hooks(const struct plan *p, const char *phase, const char *status, pid_t pid, char *err, size_t errlen);

#endif
