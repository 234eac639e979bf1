/*
 * spawn.c - run one command and capture its output.
 *
 * DESIGN
 *   - Called in a worker thread of the farm, which lives as long as the
 *     farm: PR_SET_PDEATHSIG fires when the thread that forked exits, so
 *     forking here (not in a short-lived helper thread) ties each command
 *     to taskfarm's life: a SIGKILLed taskfarm leaves no command running.
 *   - Between fork and exec the child makes only async-signal-safe calls:
 *     its own process group (so a time-out kills the command's whole tree),
 *     default dispositions and an empty signal mask (worker threads block
 *     every signal, and a command must not inherit that), stdin /dev/null,
 *     stdout and stderr to pipes, the slot's CPUs with --cpus-per-task.
 *     Everything it needs (path, argv, envp) is built before the fork.
 *     An exec that fails reports its errno through a close-on-exec pipe.
 *   - One poll loop over both pipes and a pidfd: output is read as it
 *     comes, the command's exit is seen at once, and the loop wakes at
 *     least every 100 ms to look at the stop flag. Output held past
 *     `spill` bytes moves to an unlinked temporary file.
 *   - Time-out: SIGTERM to the group, SIGKILL to the group after a short
 *     grace (1 s) or as soon as the leader is gone, before the leader is
 *     reaped, so that the group id cannot have been reused. A stop
 *     (SIGTERM/SIGINT to taskfarm) gives running commands cfg->grace
 *     seconds to finish, then does the same.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define KILL_GRACE 1.0

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the command's path and environment, built before the fork ---------- */

static char *find_path(const char *name)
{
    if (strchr(name, '/') != NULL)
        return strdup(name);
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    size_t nl = strlen(name);
    for (const char *p = path;; p++) {
        const char *e = strchr(p, ':');
        size_t dl = e ? (size_t)(e - p) : strlen(p);
        char *full = malloc(dl + nl + 3);
        if (full == NULL)
            return NULL;
        snprintf(full, dl + nl + 3, "%.*s/%s", (int)dl, dl ? p : ".", name);
        if (access(full, X_OK) == 0)
            return full;
        free(full);
        if (e == NULL)
            return NULL;
        p = e;
    }
}

static int is_ours(const char *kv)
{
    return strncmp(kv, "TASKFARM_TASK=", 14) == 0 ||
           strncmp(kv, "TASKFARM_SEQ=", 13) == 0 ||
           strncmp(kv, "TASKFARM_SLOT=", 14) == 0;
}

/* environ without our three names, then the extras, then ours: one
 * malloc'd block (array first, our strings after it). */
static char **build_env(const cli_spawn_cfg *cfg, const cli_task_ctx *t,
                        size_t task)
{
    size_t n = 0, ne = 0;
    while (environ[n])
        n++;
    while (cfg->env_extra && cfg->env_extra[ne])
        ne++;
    size_t slots = n + ne + 4;
    char **env = malloc(slots * sizeof(char *) + 3 * 48);
    if (env == NULL)
        return NULL;
    char *mine = (char *)(env + slots);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_ours(environ[i]))
            env[k++] = environ[i];
    for (size_t i = 0; i < ne; i++)
        env[k++] = cfg->env_extra[i];
    snprintf(mine, 48, "TASKFARM_TASK=%zu", task);
    snprintf(mine + 48, 48, "TASKFARM_SEQ=%zu", t->seq);
    snprintf(mine + 96, 48, "TASKFARM_SLOT=%d", t->slot);
    env[k++] = mine;
    env[k++] = mine + 48;
    env[k++] = mine + 96;
    env[k] = NULL;
    return env;
}

/* ---- the child, between fork and exec ----------------------------------- */

/* SIG_DFL for signal s in a child about to exec. glibc refuses its own
 * two signals (32 and 33: thread cancellation, setxid) in sigaction(),
 * but a parent may have left them ignored (GNU make's children have
 * both ignored), and an ignored signal stays ignored across execve: those
 * two are reset by the system call itself (the kernel's struct). */
static void default_disposition(int s)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    if (sigaction(s, &dfl, NULL) == 0 || errno != EINVAL)
        return;
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask;
    } k = {SIG_DFL, 0, NULL, 0};
    syscall(SYS_rt_sigaction, s, &k, NULL, sizeof(k.mask));
}

static void child(const cli_spawn_cfg *cfg, const cli_task_ctx *t,
                  const char *path, char **argv, char **env, int out_w,
                  int err_w, int exec_w, pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)        /* taskfarm died before the prctl */
        _exit(127);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            default_disposition(s);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        _exit(127);
    if (in > 2)                     /* the command gets 0, 1, 2 only */
        close(in);
    if (cfg->pin > 0 && cfg->n_cpu_list > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int k = 0; k < cfg->pin; k++)
            CPU_SET(cfg->cpu_list[((t->slot - 1) * cfg->pin + k) %
                                  cfg->n_cpu_list], &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, env);
    int e = errno;
    if (e == ENOEXEC) {         /* a script without #!: sh, as execvp does */
        size_t n = 0;
        while (argv[n] != NULL)
            n++;
        char *sh[n + 2];        /* on the stack: no malloc after fork */
        sh[0] = "sh";
        sh[1] = (char *)path;
        memcpy(sh + 2, argv + 1, n * sizeof(char *));   /* and the NULL */
        execve("/bin/sh", sh, env);
        e = errno;
    }
    ssize_t w = write(exec_w, &e, sizeof(e));
    (void)w;
    _exit(127);
}

/* ---- capture ------------------------------------------------------------ */

static int spill_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char name[4096];
    snprintf(name, sizeof(name), "%s/taskfarm-spill.XXXXXX", dir);
    /* Close-on-exec from the start: another worker may fork meanwhile. */
    fd = mkostemp(name, O_CLOEXEC);
    if (fd >= 0)
        unlink(name);
    return fd;
}

static int stream_add(cli_stream *s, const char *d, size_t n, size_t spill)
{
    if (s->fd < 0 && spill > 0 && s->len + n > spill) {
        s->fd = spill_open();
        if (s->fd < 0 || cli_write_all(s->fd, s->data, s->len) != 0)
            return -1;
        s->fd_len = s->len;
        free(s->data);
        s->data = NULL;
        s->len = s->cap = 0;
    }
    if (s->fd >= 0) {
        s->fd_len += n;
        return cli_write_all(s->fd, d, n);
    }
    if (s->len + n > s->cap) {
        size_t c = s->cap ? s->cap : 4096;
        while (c < s->len + n)
            c *= 2;
        char *q = realloc(s->data, c);
        if (q == NULL)
            return -1;
        s->data = q;
        s->cap = c;
    }
    memcpy(s->data + s->len, d, n);
    s->len += n;
    return 0;
}

/* Reads what fd has now; returns 1 at end of file, 0, or -1. */
static int drain(int fd, cli_stream *s, size_t spill)
{
    char buf[65536];
    for (;;) {
        ssize_t k = read(fd, buf, sizeof(buf));
        if (k > 0) {
            if (stream_add(s, buf, (size_t)k, spill) != 0)
                return -1;
            continue;
        }
        if (k == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : -1;
    }
}

typedef struct proc {
    pid_t pid;
    int fd[2];              /* stdout, stderr read ends; -1 when closed */
    int pidfd;
    int exited;
    double term_at;         /* when to send SIGTERM (stop grace, timeout) */
    double kill_at;         /* when to send SIGKILL; 0 = not yet */
    int timed_out;
} proc;

/* One round of the loop: polls, reads, notices the exit. */
static int poll_round(proc *p, cli_result *r, size_t spill, double wait)
{
    struct pollfd pf[3];
    int n = 0;
    for (int k = 0; k < 2; k++)
        if (p->fd[k] >= 0)
            pf[n++] = (struct pollfd){p->fd[k], POLLIN, 0};
    if (p->pidfd >= 0 && !p->exited)
        pf[n++] = (struct pollfd){p->pidfd, POLLIN, 0};
    int ms = wait < 0 ? 0 : (int)(wait * 1000) + 1;
    if (p->pidfd < 0 && ms > 5)
        ms = 5;                 /* no pidfd: look for the exit often */
    if (poll(pf, (nfds_t)n, ms) < 0 && errno != EINTR)
        return -1;
    cli_stream *st[2] = {&r->out, &r->err};
    for (int k = 0; k < 2; k++) {
        if (p->fd[k] < 0)
            continue;
        int rc = drain(p->fd[k], st[k], spill);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            close(p->fd[k]);
            p->fd[k] = -1;
        }
    }
    if (!p->exited) {
        siginfo_t si;
        si.si_pid = 0;
        if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0
            && si.si_pid == p->pid)
            p->exited = 1;
    }
    return 0;
}

/* The deadlines: a time-out or a stop's grace sends SIGTERM, then SIGKILL. */
static void enforce(proc *p, const cli_spawn_cfg *cfg, double t)
{
    if (p->term_at == 0 && cfg->stop != NULL && *cfg->stop)
        p->term_at = t + cfg->grace;
    if (p->term_at > 0 && t >= p->term_at && p->kill_at == 0) {
        kill(-p->pid, SIGTERM);
        p->kill_at = t + KILL_GRACE;
    }
    if (p->kill_at > 0 && (t >= p->kill_at || p->exited)) {
        kill(-p->pid, SIGKILL);     /* the leader unreaped: the id is ours */
        p->kill_at = -1;
    }
}

static double next_wake(const proc *p, double t)
{
    double w = 0.1;
    if (p->term_at > 0 && p->kill_at == 0 && p->term_at - t < w)
        w = p->term_at - t;
    if (p->kill_at > 0 && p->kill_at - t < w)
        w = p->kill_at - t;
    return w;
}

static int supervise(proc *p, const cli_spawn_cfg *cfg, cli_result *r,
                     double t0)
{
    for (;;) {
        double t = now_mono();
        if (cfg->timeout > 0 && p->term_at == 0 && t - t0 >= cfg->timeout) {
            p->term_at = t;
            p->timed_out = 1;
        }
        enforce(p, cfg, t);
        if (p->exited && p->kill_at <= 0 && p->fd[0] < 0 && p->fd[1] < 0)
            return 0;
        if (p->exited && p->kill_at <= 0) {
            /* Gone; a descendant may hold the pipes: take what is there. */
            for (int k = 0; k < 2; k++)
                if (p->fd[k] >= 0) {
                    drain(p->fd[k], k ? &r->err : &r->out, cfg->spill);
                    close(p->fd[k]);
                    p->fd[k] = -1;
                }
            return 0;
        }
        double w = next_wake(p, t);
        if (cfg->timeout > 0 && p->term_at == 0 && t0 + cfg->timeout - t < w)
            w = t0 + cfg->timeout - t;
        if (poll_round(p, r, cfg->spill, w) != 0)
            return -1;
    }
}

/* ---- one command -------------------------------------------------------- */

static void not_started(cli_result *r, const char *name, int e)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "taskfarm: %s: %s\n", name,
                     e == ENOENT ? "command not found" : strerror(e));
    stream_add(&r->err, msg, (size_t)n, 0);
    r->kind = RUN_NOT_STARTED;
    r->code = e == ENOENT ? 127 : 126;
}

static void finish(proc *p, cli_result *r, int status, int exec_err,
                   const char *name)
{
    if (exec_err != 0) {
        not_started(r, name, exec_err);
    } else if (WIFSIGNALED(status)) {
        r->kind = p->timed_out ? RUN_TIMEOUT : RUN_SIGNALED;
        r->code = WTERMSIG(status);
    } else if (p->timed_out) {
        r->kind = RUN_TIMEOUT;  /* it caught SIGTERM and exited */
        r->code = SIGTERM;
    } else {
        r->kind = RUN_EXITED;
        r->code = WEXITSTATUS(status);
    }
}

static int start(const cli_spawn_cfg *cfg, const cli_task_ctx *t, char *path,
                 char **argv, char **env, proc *p, int exec_fd[2])
{
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(err, O_CLOEXEC) != 0 || pipe2(exec_fd, O_CLOEXEC) != 0) {
        close(out[0]); close(out[1]);
        return -1;
    }
    pid_t parent = getpid();
    p->pid = fork();
    if (p->pid == 0)
        child(cfg, t, path, argv, env, out[1], err[1], exec_fd[1], parent);
    close(out[1]);
    close(err[1]);
    close(exec_fd[1]);
    if (p->pid < 0) {
        close(out[0]); close(err[0]); close(exec_fd[0]);
        return -1;
    }
    setpgid(p->pid, p->pid);    /* also here: no race with kill(-pid) */
    p->fd[0] = out[0];
    p->fd[1] = err[0];
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
#ifdef SYS_pidfd_open           /* Linux 5.3; without it, poll briefly */
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
#endif
    return 0;
}

int cli_spawn(const cli_spawn_cfg *cfg, char **argv, const cli_task_ctx *t,
              size_t task, cli_result *r)
{
    memset(r, 0, sizeof(*r));
    r->out.fd = r->err.fd = -1;
    r->start = now_real();
    r->slot = t->slot;
    if ((cfg->stop != NULL && *cfg->stop) ||
        (cfg->no_new != NULL && *cfg->no_new)) {
        r->kind = RUN_SKIPPED;
        return 0;
    }
    char *path = find_path(argv[0]);
    if (path == NULL) {
        not_started(r, argv[0], ENOENT);
        return 0;
    }
    char **env = build_env(cfg, t, task);
    proc p = {.pidfd = -1, .fd = {-1, -1}};
    int exec_fd[2];
    double t0 = now_mono();
    int rc = env != NULL ? start(cfg, t, path, argv, env, &p, exec_fd) : -1;
    free(env);
    free(path);
    if (rc != 0)
        return -1;
    rc = supervise(&p, cfg, r, t0);
    int status = 0;
    while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR)
        ;
    r->runtime = now_mono() - t0;
    int exec_err = 0;
    if (read(exec_fd[0], &exec_err, sizeof(exec_err)) != sizeof(exec_err))
        exec_err = 0;
    close(exec_fd[0]);
    if (p.pidfd >= 0)
        close(p.pidfd);
    for (int k = 0; k < 2; k++)
        if (p.fd[k] >= 0)
            close(p.fd[k]);
    finish(&p, r, status, exec_err, argv[0]);
    return rc;
}

void cli_result_release(cli_result *r)
{
    free(r->out.data);
    free(r->err.data);
    if (r->out.fd >= 0)
        close(r->out.fd);
    if (r->err.fd >= 0)
        close(r->err.fd);
    memset(r, 0, sizeof(*r));
    r->out.fd = r->err.fd = -1;
}

int cli_result_ok(const cli_result *r)
{
    return r->kind == RUN_EXITED && r->code == 0;
}
