/*
 * spawn.c - run one command and capture its output.
 *
 * DESIGN
 *   - Called in a worker thread of the farm, which lives as long as the
 *     farm: PR_SET_PDEATHSIG fires when the thread that created the child
 *     exits, so starting it here (not in a short-lived helper thread) ties
 *     each command to taskfarm's life: a SIGKILLed taskfarm leaves none of
 *     the commands it started running (their own children are not covered:
 *     the man page says so; a time-out or a stop kills the whole group).
 *   - The child is a vfork-style clone (CLONE_VM | CLONE_VFORK, on a stack
 *     of its own), as glibc's posix_spawn makes it: no copy of taskfarm's
 *     page tables, no copy-on-write faults in the parent after it, and the
 *     calling thread waits until the exec, so an exec's errno comes back
 *     through memory, not a pipe. posix_spawn itself cannot set the parent
 *     death signal, hence our own. The child shares our memory until it
 *     execs: it writes only its stack and the one errno slot, makes only
 *     system calls, and every signal stays blocked until its handlers are
 *     back to SIG_DFL (a handler run there would write taskfarm's memory).
 *   - Between clone and exec: its own process group (so a time-out kills
 *     the command's whole tree), default dispositions for every signal
 *     taskfarm does not leave at SIG_DFL (ignored ones too: an ignored
 *     signal stays ignored across exec) and an empty signal mask (worker
 *     threads block every signal, and a command must not inherit that),
 *     stdin /dev/null, stdout and stderr to pipes, the slot's CPUs with
 *     --cpus-per-task, and no descriptor above 2 but those taskfarm itself
 *     inherited (libraries such as Open MPI open sockets without
 *     close-on-exec). Everything it needs (path, argv, envp, the list of
 *     signals) is built before the clone; cli_spawn_prepare(), first in
 *     main, makes sure of 0-2 and SIGCHLD and notes the inherited
 *     descriptors.
 *   - One poll loop over both pipes and a pidfd: output is read as it
 *     comes, the command's exit is seen at once, and the loop wakes at
 *     least every 100 ms to look at the stop flag. A pipe that carries
 *     output grows (within a share of the user's pipe limit) and is read
 *     in bursts (after_output). Output held past `spill` bytes moves to
 *     an unlinked temporary file.
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
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define KILL_GRACE 1.0
#define READ_CHUNK 65536      /* a new pipe's capacity: one read empties it */
#define PIPE_BIG (256 * 1024)   /* a pipe that has carried output */
#define HOLD 0.001              /* see after_output */

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

/* ---- the command's path and environment, built before the clone --------- */

static char *search_path(const char *name)
{
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
        struct stat st;     /* a directory is not a program: go on */
        if (access(full, X_OK) == 0 && stat(full, &st) == 0 &&
            S_ISREG(st.st_mode))
            return full;
        free(full);
        if (e == NULL)
            return NULL;
        p = e;
    }
}

/* The last name found in PATH and where: every task of a run usually
 * names the same program, and the search costs an access() per PATH
 * entry before it. Names not found are searched again each time. */
static pthread_mutex_t path_lock = PTHREAD_MUTEX_INITIALIZER;
static char *last_name, *last_path;

static char *find_path(const char *name)
{
    if (strchr(name, '/') != NULL)
        return strdup(name);
    char *full = NULL;
    pthread_mutex_lock(&path_lock);
    if (last_name != NULL && strcmp(last_name, name) == 0)
        full = strdup(last_path);
    pthread_mutex_unlock(&path_lock);
    if (full != NULL || (full = search_path(name)) == NULL)
        return full;
    char *n = strdup(name), *f = strdup(full);
    pthread_mutex_lock(&path_lock);
    if (n != NULL && f != NULL) {
        free(last_name);
        free(last_path);
        last_name = n;
        last_path = f;
        n = f = NULL;
    }
    pthread_mutex_unlock(&path_lock);
    free(n);
    free(f);
    return full;
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

/* ---- before anything else ------------------------------------------------ */

/* The descriptors above 2 that taskfarm inherited (a caller's 9>lock):
 * commands inherit them too, as from xargs. Any other one a library
 * opened without close-on-exec (Open MPI's sockets) is closed in the
 * child. Kept as the ranges to close: [from, to] pairs. */
#define MAX_CLOSE_RANGES 16
static struct {
    unsigned from[MAX_CLOSE_RANGES], to[MAX_CLOSE_RANGES];
    int n;
} to_close;

static void note_inherited(void)
{
    unsigned next = 3;
    to_close.n = 0;
    for (unsigned fd = 3; fd < 1024 && to_close.n < MAX_CLOSE_RANGES - 1; fd++)
        if (fcntl((int)fd, F_GETFD) >= 0) {
            if (fd > next) {
                to_close.from[to_close.n] = next;
                to_close.to[to_close.n++] = fd - 1;
            }
            next = fd + 1;
        }
    to_close.from[to_close.n] = next;
    to_close.to[to_close.n++] = ~0u;
}

void cli_spawn_prepare(void)
{
    /* 0, 1 and 2 open: else the first descriptor taskfarm opens takes
     * one of those numbers, and a command would get it as its stdin. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int k = open("/dev/null", O_RDWR);
            if (k >= 0 && k != fd) {
                dup2(k, fd);
                close(k);
            }
        }
    /* Exit statuses need SIGCHLD at SIG_DFL: ignored (a parent may leave
     * it so), the kernel reaps the commands itself and waitpid() fails. */
    struct sigaction sa;
    if (sigaction(SIGCHLD, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGCHLD, &sa, NULL);
    }
    note_inherited();
}

/* Enlarged pipes count against the user's pipe-user-pages-soft (16,384
 * pages by default), past which the kernel makes every new pipe of the
 * user 8 KiB, theirs included: taskfarm grows at most a quarter of that
 * at a time. (root is not limited.) */
static atomic_int pipes_grown;
static int pipes_budget = -1;   /* set once, in child_env_init */

static int pipe_budget(void)
{
    if (geteuid() == 0)
        return INT_MAX;
    long soft = 16384;
    FILE *f = fopen("/proc/sys/fs/pipe-user-pages-soft", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &soft) != 1)
            soft = 16384;
        fclose(f);
    }
    if (soft == 0)              /* 0: no limit */
        return INT_MAX;
    return (int)(soft / 4 / (PIPE_BIG / 4096));
}

/* ---- the child, between clone and exec ---------------------------------- */

/* The kernel's struct sigaction, for the two signals glibc keeps for
 * itself (32 and 33: thread cancellation, setxid): its sigaction()
 * refuses them, but a parent may have left them ignored (GNU make's
 * children have both ignored), and an ignored signal stays ignored
 * across execve. */
typedef struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
} kernel_sigaction;

/* What the child must reset, found once: the signals taskfarm does not
 * leave at SIG_DFL (ignored since its start, or handled; handlers are
 * installed before the first command, by the run), SIGINT and SIGTERM
 * in any case. And stdin for the commands, opened once. */
static struct {
    pthread_once_t once;
    int sig[NSIG];
    int n_sig;
    int dev_null;
    pid_t pid;                  /* taskfarm's: it never forks itself */
} child_env = {PTHREAD_ONCE_INIT, {0}, 0, -1, 0};

static int is_default(int s)
{
    struct sigaction sa;
    if (sigaction(s, NULL, &sa) == 0)
        return sa.sa_handler == SIG_DFL;
    kernel_sigaction k;
    if (syscall(SYS_rt_sigaction, s, NULL, &k, sizeof(k.mask)) != 0)
        return 1;
    return k.handler == SIG_DFL;
}

static void child_env_init(void)
{
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP &&
            (s == SIGINT || s == SIGTERM || !is_default(s)))
            child_env.sig[child_env.n_sig++] = s;
    child_env.dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    child_env.pid = getpid();
    pipes_budget = pipe_budget();
}

static void default_disposition(int s)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    if (sigaction(s, &dfl, NULL) == 0 || errno != EINVAL)
        return;
    kernel_sigaction k = {SIG_DFL, 0, NULL, 0};
    syscall(SYS_rt_sigaction, s, &k, NULL, sizeof(k.mask));
}

/* Everything the child needs, built by the parent; the child writes
 * only exec_errno. */
typedef struct child_args {
    const cli_spawn_cfg *cfg;
    const cli_task_ctx *t;
    const char *path;
    char **argv;
    char **sh_argv;         /* sh PATH ARGS...: a script without #! */
    char **env;
    int out_w, err_w;
    pid_t parent;
    volatile int exec_errno;
} child_args;

/* fd onto `to`; the same number: only its close-on-exec flag cleared. */
static int dup_onto(int fd, int to)
{
    return fd == to ? fcntl(to, F_SETFD, 0) : dup2(fd, to);
}

static void close_others(void)
{
#ifdef SYS_close_range          /* Linux 5.9; before it, they stay open */
    for (int k = 0; k < to_close.n; k++)
        syscall(SYS_close_range, to_close.from[k], to_close.to[k], 0);
#endif
}

/* Runs on a stack of its own, that AddressSanitizer does not know. */
#if defined(__SANITIZE_ADDRESS__)
__attribute__((no_sanitize("address")))
#endif
static int child(void *arg)
{
    child_args *c = arg;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != c->parent)     /* taskfarm died before the prctl */
        _exit(127);
    for (int k = 0; k < child_env.n_sig; k++)
        default_disposition(child_env.sig[k]);
    if (dup_onto(child_env.dev_null, 0) < 0 || dup_onto(c->out_w, 1) < 0 ||
        dup_onto(c->err_w, 2) < 0) {
        c->exec_errno = errno;
        _exit(127);
    }
    close_others();
    const cli_spawn_cfg *cfg = c->cfg;
    if (cfg->pin > 0 && cfg->n_cpu_list > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int k = 0; k < cfg->pin; k++)
            CPU_SET(cfg->cpu_list[((c->t->slot - 1) * cfg->pin + k) %
                                  cfg->n_cpu_list], &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(c->path, c->argv, c->env);
    int e = errno;
    if (e == ENOEXEC) {         /* a script without #!: sh, as execvp does */
        execve("/bin/sh", c->sh_argv, c->env);
        e = errno;
    }
    c->exec_errno = e;
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

/* Room for n more bytes in memory. */
static int stream_reserve(cli_stream *s, size_t n)
{
    if (s->len + n <= s->cap)
        return 0;
    size_t c = s->cap ? s->cap : 4096;
    while (c < s->len + n)
        c *= 2;
    char *q = realloc(s->data, c);
    if (q == NULL)
        return -1;
    s->data = q;
    s->cap = c;
    return 0;
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
    if (stream_reserve(s, n) != 0)
        return -1;
    memcpy(s->data + s->len, d, n);
    s->len += n;
    return 0;
}


enum { READ_DATA, READ_EOF, READ_NONE, READ_ERROR };

/* One read of a pipe that poll found ready, or of a non-blocking one:
 * straight into the stream's buffer while it is held in memory. Adds
 * the bytes to *got. */
static int read_once(int fd, int big, cli_stream *s, size_t spill,
                     size_t *got)
{
    ssize_t k;
    size_t n = big ? PIPE_BIG : READ_CHUNK;
    if (s->fd < 0 && (spill == 0 || s->len + n <= spill)) {
        if (stream_reserve(s, n) != 0)
            return READ_ERROR;
        k = read(fd, s->data + s->len, n);
        if (k > 0)
            s->len += (size_t)k;
    } else {
        char buf[READ_CHUNK];
        k = read(fd, buf, sizeof(buf));
        if (k > 0 && stream_add(s, buf, (size_t)k, spill) != 0)
            return READ_ERROR;
    }
    if (k > 0) {
        *got += (size_t)k;
        return READ_DATA;
    }
    if (k == 0)
        return READ_EOF;
    return errno == EINTR || errno == EAGAIN ? READ_NONE : READ_ERROR;
}

/* Reads a non-blocking pipe until it is empty for now. */
static int read_all(int fd, cli_stream *s, size_t spill, size_t *got)
{
    int rc;
    while ((rc = read_once(fd, 1, s, spill, got)) == READ_DATA)
        ;
    return rc;
}

/* Takes what fd has now, without waiting: at the end, when a descendant
 * may hold the pipe open. */
static void drain(int fd, cli_stream *s, size_t spill)
{
    size_t got = 0;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    read_all(fd, s, spill, &got);
}

typedef struct proc {
    pid_t pid;
    int fd[2];              /* stdout, stderr read ends; -1 when closed */
    int big[2];             /* non-blocking: it carries output */
    int grown[2];           /* and enlarged to PIPE_BIG (pipes_grown) */
    int pidfd;
    int exited;
    double last_read;       /* when output was last taken (or the start) */
    double hold_until;      /* grown pipes left alone until then */
    double term_at;         /* when to send SIGTERM (stop grace, timeout) */
    double kill_at;         /* when to send SIGKILL; 0 = not yet */
    int timed_out;
} proc;

static void grow_pipe(proc *p, int k)
{
    if (atomic_fetch_add(&pipes_grown, 1) < pipes_budget &&
        fcntl(p->fd[k], F_SETPIPE_SZ, PIPE_BIG) >= PIPE_BIG)
        p->grown[k] = 1;
    else
        atomic_fetch_sub(&pipes_grown, 1);
}

static void close_pipe(proc *p, int k)
{
    close(p->fd[k]);
    p->fd[k] = -1;
    if (p->grown[k])
        atomic_fetch_sub(&pipes_grown, 1);
    p->grown[k] = 0;
}

/* After output came on pipe k: a pipe that carries output turns
 * non-blocking and grows, and the next round leaves a grown one alone
 * for as long as it takes, at the rate seen, to fill half of it (at most
 * HOLD): a command writing 4 KiB at a time would otherwise wake this
 * thread for each write, while one writing fast is read as fast. */
static void after_output(proc *p, int k, size_t got, double t)
{
    if (!p->big[k]) {
        fcntl(p->fd[k], F_SETFL, O_NONBLOCK);
        p->big[k] = 1;
        grow_pipe(p, k);
    }
    double dt = t - p->last_read, hold = HOLD;
    p->last_read = t;
    if (dt > 0 && (double)got / dt * hold > PIPE_BIG / 2)
        hold = PIPE_BIG / 2 / ((double)got / dt);
    if (p->grown[k] && p->pidfd >= 0 && !p->exited && hold > 20e-6)
        p->hold_until = t + hold;
}

/* One round of the loop: polls the pidfd and the pipes not held (only
 * a grown pipe is held: one that could not grow is polled, so its writer
 * never waits on a full 64 KiB pipe), reads what is there, notices the
 * exit (the pidfd readable; without one, waitid). */
static int poll_round(proc *p, cli_result *r, size_t spill, double wait)
{
    double t = now_mono();
    int hold = p->hold_until > t;
    if (hold && p->hold_until - t < wait)
        wait = p->hold_until - t;
    p->hold_until = 0;
    struct pollfd pf[3];
    int n = 0, which[3];
    for (int k = 0; k < 2; k++)
        if (p->fd[k] >= 0 && !(hold && p->grown[k])) {
            which[n] = k;
            pf[n++] = (struct pollfd){p->fd[k], POLLIN, 0};
        }
    if (p->pidfd >= 0 && !p->exited) {
        which[n] = 2;
        pf[n++] = (struct pollfd){p->pidfd, POLLIN, 0};
    }
    int ms = wait < 0 ? 0 : (int)(wait * 1000) + 1;
    if (p->pidfd < 0 && ms > 5)
        ms = 5;                 /* no pidfd: look for the exit often */
    int ready[3] = {0, 0, 0};
    if (poll(pf, (nfds_t)n, ms) < 0 && errno != EINTR)
        return -1;
    for (int i = 0; i < n; i++)
        ready[which[i]] = pf[i].revents != 0;
    if (ready[2])
        p->exited = 1;
    cli_stream *st[2] = {&r->out, &r->err};
    for (int k = 0; k < 2; k++) {
        if (p->fd[k] < 0 || !(ready[k] || (hold && p->grown[k])))
            continue;
        size_t got = 0;
        int rc = p->big[k] ? read_all(p->fd[k], st[k], spill, &got)
                           : read_once(p->fd[k], 0, st[k], spill, &got);
        if (rc == READ_ERROR)
            return -1;
        if (rc == READ_EOF) {
            close_pipe(p, k);
        } else if (got > 0) {
            after_output(p, k, got, t);
        }
    }
    if (!p->exited && p->pidfd < 0) {
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
                    close_pipe(p, k);
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

#define CHILD_STACK (64 * 1024)

/* The clone itself, with every signal blocked in this thread around it
 * (the child starts with our mask). Returns the child's pid, or -1. */
static pid_t clone_child(child_args *c, int *pidfd)
{
    char *stack = malloc(CHILD_STACK);
    if (stack == NULL)
        return -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = -1;
#ifdef CLONE_PIDFD              /* Linux 5.2: the pidfd from the clone */
    pid = clone(child, stack + CHILD_STACK, flags | CLONE_PIDFD, c, pidfd);
#endif
    if (pid < 0) {
        *pidfd = -1;
        pid = clone(child, stack + CHILD_STACK, flags, c);
#ifdef SYS_pidfd_open           /* Linux 5.3; without it, poll briefly */
        if (pid > 0)
            *pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    }
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(stack);                /* the child has exec'd or exited */
    errno = e;
    return pid;
}

/* Pipes, then the child; p->fd and p->pidfd are ours after it. */
static int start(child_args *c, proc *p)
{
    pthread_once(&child_env.once, child_env_init);
    if (child_env.dev_null < 0)
        return -1;
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]); close(out[1]);
        return -1;
    }
    c->out_w = out[1];
    c->err_w = err[1];
    c->parent = child_env.pid;
    c->exec_errno = 0;
    p->pid = clone_child(c, &p->pidfd);
    int e = errno;
    close(out[1]);
    close(err[1]);
    if (p->pid < 0) {
        close(out[0]); close(err[0]);
        errno = e;
        return -1;
    }
    p->fd[0] = out[0];      /* blocking: read only when poll says so */
    p->fd[1] = err[0];
    return 0;
}

/* sh PATH ARGS...: for a script without #!, as execvp runs it. */
static char **sh_argv(const char *path, char **argv)
{
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    char **sh = malloc((n + 2) * sizeof(char *));
    if (sh == NULL)
        return NULL;
    sh[0] = "sh";
    sh[1] = (char *)path;
    memcpy(sh + 2, argv + 1, n * sizeof(char *));   /* and the NULL */
    return sh;
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
    child_args c = {.cfg = cfg, .t = t, .path = path, .argv = argv,
                    .sh_argv = sh_argv(path, argv),
                    .env = build_env(cfg, t, task)};
    proc p = {.pidfd = -1, .fd = {-1, -1}, .big = {0, 0}};
    double t0 = now_mono();
    p.last_read = t0;
    int rc = c.env != NULL && c.sh_argv != NULL ? start(&c, &p) : -1;
    free(c.env);
    free(c.sh_argv);
    free(path);
    if (rc != 0)
        return -1;
    rc = supervise(&p, cfg, r, t0);
    int status = 0, w;
    while ((w = waitpid(p.pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (w < 0)
        rc = -1;                /* no status: never report success */
    r->runtime = now_mono() - t0;
    if (p.pidfd >= 0)
        close(p.pidfd);
    for (int k = 0; k < 2; k++)
        if (p.fd[k] >= 0)
            close_pipe(&p, k);
    finish(&p, r, status, c.exec_errno, argv[0]);
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
