/*
 * taskfarm.h - apply one function to N independent tasks on all the CPUs a
 * job really has.
 *
 * This header is the reference manual of libtaskfarm. The model, in short:
 *
 *   - A run has N tasks, numbered 0..N-1. A task callback computes task i and
 *     appends its result bytes to a tf_out; results may differ in size, from
 *     0 bytes upwards.
 *   - A result callback receives (i, bytes, len) in the thread that called
 *     tf_farm_run(), in index order by default (or as tasks complete, on
 *     request). The caller never needs locks, and memory stays bounded by
 *     what is in flight, whatever N is.
 *   - A task that fails (returns non-zero, or with the process backend,
 *     crashes its worker or exceeds its time limit) is reported through the
 *     error callback with its index and cause; the other tasks go on unless
 *     the options say to stop at the first failure.
 *
 * Conventions (every call):
 *   - Functions return int: 0 on success, a negative TF_E... code on failure;
 *     tf_strerror() names it. When a call fails before the run starts, none
 *     of its callbacks run.
 *   - Structs whose zero value means "all defaults" come with an _INIT macro.
 *   - Opaque handles have create/destroy; destroy(NULL) does nothing.
 *   - The library never prints and never exits.
 */
#ifndef TASKFARM_H
#define TASKFARM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TF_VERSION_MAJOR, _MINOR, _PATCH, TF_VERSION and TF_VERSION_STRING: the
 * version of this header, generated from the build's one version. */
#include "taskfarm_version.h"

/* Every public function is declared TF_API: the shared library exports
 * those and nothing else (the library is built with hidden visibility). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define TF_API __attribute__((visibility("default")))
#else
#define TF_API
#endif

/* ------------------------------------------------------------------------ */
/* Error codes                                                              */
/* ------------------------------------------------------------------------ */

/* One table makes both the enum and tf_strerror(). */
#define TF_ERRNO_MAP(X)                                                        \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(ERANGE, -3, "value out of range")                                        \
    X(ESYS, -4, "system call failed (see the error detail's sys_errno)")       \
    X(ETASKS, -5, "one or more tasks failed")                                  \
    X(ESTOPPED, -6, "run stopped at the first failed task")                    \
    X(ECANCELED, -7, "run canceled (by a callback or tf_farm_cancel)")         \
    X(EINTR, -8, "run interrupted by a signal")                                \
    X(ENOTBUILT, -9, "backend not built into this library (for "               \
                     "TF_BACKEND_MPI, link libtaskfarm_mpi instead: "          \
                     "-ltaskfarm_mpi, pkg-config taskfarm-mpi or CMake "       \
                     "taskfarm::mpi)")                                         \
    X(EBUSY, -10, "farm is already running")                                   \
    X(EWORLD, -11, "n_jobs differs from the MPI world size, or MPI is not "    \
                   "initialized")                                              \
    X(EJOURNAL, -12, "the journal cannot be used (see the report)")            \
    X(EWORKER, -13, "a worker's on_worker_start hook failed")

typedef enum {
    TF_OK = 0,
#define TF__ERR_ENUM(name, val, msg) TF_##name = (val),
    TF_ERRNO_MAP(TF__ERR_ENUM)
#undef TF__ERR_ENUM
    TF_ERR_LAST = -13
} tf_errno;

/* A static, human-readable description of a TF_E... code (or of 0).
 * Unknown codes give "unknown error"; the result is never NULL. */
TF_API const char *tf_strerror(int code);

/* The library's version at run time, which may differ from the header's
 * TF_VERSION when a program runs against another build: tf_version() is
 * encoded like TF_VERSION (0.2.0 is 200), tf_version_string() is "0.2.0"
 * (static, never NULL). */
TF_API int tf_version(void);
TF_API const char *tf_version_string(void);

/* ------------------------------------------------------------------------ */
/* CPU detection                                                            */
/* ------------------------------------------------------------------------ */

/* Where a CPU count came from (new values are added at the end). */
typedef enum {
    TF_CPUS_FROM_SYSTEM = 0,     /* online CPUs of the machine (no limit seen) */
    TF_CPUS_FROM_AFFINITY,       /* sched_getaffinity mask */
    TF_CPUS_FROM_CGROUP,         /* cgroup v2 cpu.max or v1 cfs quota */
    TF_CPUS_FROM_SLURM_CPUS_PER_TASK,
    TF_CPUS_FROM_SLURM_CPUS_ON_NODE,
    TF_CPUS_FROM_SLURM_JOB_CPUS_PER_NODE,
    TF_CPUS_FROM_OMP_NUM_THREADS,
    TF_CPUS_FROM_TASKFARM_NUM_JOBS,
    TF_CPUS_FROM_SLURM_STEP,     /* in a step: SLURM_CPUS_ON_NODE / its tasks
                                    on this node (SLURM_STEP_TASKS_PER_NODE) */
    TF_CPUS_SOURCE_COUNT
} tf_cpus_source;

typedef struct tf_cpus {
    int count;              /* >= 1 */
    tf_cpus_source source;  /* which source decided the count */
} tf_cpus;

/* How many CPUs this process may really use: the minimum over the affinity
 * mask, the cgroup CPU quota (v2 and v1, through /proc/self/cgroup and
 * /proc/self/mountinfo), SLURM_CPUS_ON_NODE, SLURM_JOB_CPUS_PER_NODE (forms
 * like "72(x2),36"), OMP_NUM_THREADS, TASKFARM_NUM_JOBS, and Slurm's
 * per-task figures:
 * - in a batch script (no SLURM_STEP_ID), which holds all of the job's CPUs
 *   on its node: SLURM_CPUS_PER_TASK only when the job has one task;
 * - inside a step (srun), where SLURM_CPUS_ON_NODE counts the step's CPUs on
 *   this node: that over the step's tasks here (SLURM_STEP_TASKS_PER_NODE,
 *   else SLURM_TASKS_PER_NODE), TF_CPUS_FROM_SLURM_STEP. SLURM_CPUS_PER_TASK
 *   counts there only when it equals that quotient, since from Slurm 22.05
 *   srun without -c leaves the batch script's value in place, which may be
 *   lower than what the step has.
 * On equal counts the most specific source is named (TASKFARM_NUM_JOBS, then
 * OMP_NUM_THREADS, SLURM_CPUS_PER_TASK, the step's quotient, the cgroup, the
 * mask, ...). Malformed values are ignored. Never fails: with nothing
 * readable it reports 1 CPU. */
TF_API int tf_cpus_detect(tf_cpus *out);

/* "the affinity mask", "SLURM_CPUS_PER_TASK", ...: for messages like
 * "using 8 CPUs (from SLURM_CPUS_PER_TASK)". Never NULL. */
TF_API const char *tf_cpus_source_name(tf_cpus_source source);

/* ------------------------------------------------------------------------ */
/* Task output                                                              */
/* ------------------------------------------------------------------------ */

/* The result of one task, built by the task callback. Owned by the farm;
 * valid only during the task callback that received it. */
typedef struct tf_out tf_out;

/* Append len bytes to the task's result. Returns 0 or TF_ENOMEM. */
TF_API int tf_out_append(tf_out *out, const void *data, size_t len);

/* Make room for len more bytes at the end of the result and return a pointer
 * to them (NULL on out of memory). The pointer is valid until the next
 * tf_out_* call. Pair with tf_out_truncate() to give back what was unused. */
TF_API void *tf_out_extend(tf_out *out, size_t len);

/* Shorten this task's result to len bytes (no-op if it is already shorter). */
TF_API void tf_out_truncate(tf_out *out, size_t len);

/* The length of this task's result so far. */
TF_API size_t tf_out_len(const tf_out *out);

/* This task's input, as the run's input callback wrote it (see
 * tf_run_options.on_input): tf_in_len() bytes at tf_in_data(), valid during
 * the task callback. Without an input callback (or with an empty input)
 * the length is 0 and the pointer is not NULL. The bytes travel with the
 * task to whatever worker runs it (thread, process or MPI rank). */
TF_API const void *tf_in_data(const tf_out *out);
TF_API size_t tf_in_len(const tf_out *out);

/* The number of the worker running this task: 0..W-1 where W is
 * tf_farm_workers(); with MPI, the rank. A worker that replaces a dead one
 * keeps its number. The same number is passed to the worker hooks. */
TF_API int tf_out_worker(const tf_out *out);

/* Attaches a message to a task that is about to fail (return non-zero):
 * it reaches the error callback and report.first_error as
 * tf_task_error.message, across processes and ranks. Longer than 127 bytes,
 * it is cut on a UTF-8 character boundary. A later call replaces it; it is
 * ignored when the task succeeds. Returns 0, or TF_EINVAL for NULL. */
TF_API int tf_out_error(tf_out *out, const char *message);

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

/* Computes task `index` and appends its result to `out`. Returns 0 on
 * success; any other value marks the task failed, and that value is reported
 * as the error's code (whatever was appended is then discarded; a message
 * given with tf_out_error() is kept). tf_in_data(), tf_in_len() and
 * tf_out_worker() tell the task its input and its worker.
 * Runs in a worker: a thread (threads), a child process (procs), an MPI rank
 * (mpi) or the caller's thread (serial). It may run concurrently with itself
 * and must not call back into the farm. */
typedef int (*tf_task_fn)(void *user, size_t index, tf_out *out);

/* Writes the input of task `index` into `in` with tf_out_append() (or
 * tf_out_extend()); any length, 0 included. Runs in the thread that called
 * the run, when the task is dispatched, so it may read the caller's data
 * without locks. It may be called again for the same index (a retry, a job
 * given back after a worker was lost, a resumed run whose journal does not
 * hold the task) and must then write the same bytes: inputs are never
 * journaled. Return 0; non-zero cancels the run (TF_ECANCELED). */
typedef int (*tf_input_fn)(void *user, size_t index, tf_out *in);

/* Receives the result of task `index`: `len` bytes at `data` (never NULL,
 * even when len is 0), valid only during the call. Runs in the thread that called tf_farm_run(), one call at
 * a time. Return 0 to go on; non-zero cancels the run (TF_ECANCELED). */
typedef int (*tf_result_fn)(void *user, size_t index, const void *data,
                            size_t len);

/* Why a task failed. */
typedef enum {
    TF_FAIL_ERROR = 1,  /* the task callback returned non-zero: code = value */
    TF_FAIL_SIGNAL,     /* its worker process died of signal `code` */
    TF_FAIL_EXIT,       /* its worker process exited with status `code` */
    TF_FAIL_TIMEOUT,    /* it exceeded the per-task time limit (seconds) */
    TF_FAIL_LOST        /* its worker process broke its connection while
                           alive (the task closed the descriptors it
                           inherited) or sent a malformed message: it was
                           killed; code 0 */
} tf_fail_kind;

typedef struct tf_task_error {
    size_t index;       /* which task */
    tf_fail_kind kind;  /* why */
    int code;           /* return value, signal number or exit status */
    int attempts;       /* how many times it was tried */
    /* What the task said with tf_out_error() on its last attempt,
     * NUL-terminated; "" when it said nothing (and for crashes, time-outs). */
    char message[128];
} tf_task_error;

/* Receives one failed task, in the caller's thread, in the same order as
 * results (index order by default). Return 0 to go on; non-zero cancels the
 * run (TF_ECANCELED). May be NULL: failures are then only counted. */
typedef int (*tf_error_fn)(void *user, const tf_task_error *err);

/* Progress: called in the caller's thread after results are delivered, at
 * most every progress_interval seconds, and once when the run ends. `done`
 * counts delivered results and failures. Return value ignored. */
typedef void (*tf_progress_fn)(void *user, size_t done, size_t total,
                               double elapsed);

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum {
    TF_BACKEND_AUTO = 0,   /* threads */
    TF_BACKEND_SERIAL,     /* inline, in the caller's thread: the reference */
    TF_BACKEND_THREADS,    /* pthreads workers in this process */
    TF_BACKEND_PROCS,      /* forked worker processes: crash isolation */
    TF_BACKEND_MPI         /* one worker per MPI rank (libtaskfarm_mpi only) */
} tf_backend;

/* The MPI backend is SPMD: every rank creates the farm and calls every run
 * with the same arguments. The caller initializes MPI before
 * tf_farm_create() and finalizes it after tf_farm_destroy(). n_jobs is the
 * world size (0 or -1 mean "the world size"; another value is refused with
 * TF_EWORLD). Rank 0 hands out batches, computes when it is otherwise idle,
 * and runs the result and error callbacks; every rank returns the same code
 * and report. A rank that dies ends the whole MPI job (MPI cannot survive
 * it): use the journal to resume. */

typedef enum {
    TF_ORDER_INDEX = 0,    /* results in index order (default) */
    TF_ORDER_COMPLETED     /* results as soon as each batch completes */
} tf_order;

/* Workers per farm. Threads and processes share one machine, where more
 * than TF_MAX_JOBS workers would only time-slice (tf_resolve_jobs refuses
 * them with TF_ERANGE). MPI ranks span nodes: the world may hold up to
 * TF_MAX_RANKS ranks (larger: TF_ERANGE at tf_farm_create). Rank 0 keeps
 * at most 256 bytes per rank for them, whatever the run, besides the
 * results that wait for it (bounded in bytes) and MPI's own per-peer
 * state; beyond this size its share of every batch would make it the
 * bottleneck (bench/README.md, bench_coord). */
#define TF_MAX_JOBS 1024
#define TF_MAX_RANKS 65536
#define TF_MAX_TASKS ((size_t)1 << 40)      /* tasks per run */

typedef struct tf_options {
    tf_backend backend;    /* 0 = threads */
    /* Workers. Positive: that many. 0: all CPUs of the allocation
     * (tf_cpus_detect). Negative: CPUs + 1 + n_jobs, joblib's convention
     * (-1 = all, -2 = all but one). More workers than CPUs is allowed. */
    int n_jobs;
    /* Tasks per batch; 0 = automatic: batches of about 2 ms of compute,
     * or W x 0.5 ms x (1 + W / 2048) with W workers past 4 (while the
     * results in flight fit in what may wait for delivery), so that the
     * one thread that handles every batch (the caller's; MPI's rank 0)
     * stays a small load at thousands of ranks; smaller at the end of a
     * run, so that workers finish together. */
    size_t batch_size;
    tf_order order;        /* 0 = index order */
    int stop_on_error;     /* 0 = keep going; 1 = stop at the first failure */
    /* Seconds per task; 0 = no limit. Process backend only: a time limit
     * needs a worker that can be killed, so any other backend refuses it
     * at tf_farm_create() with TF_EINVAL. */
    double task_timeout;
    /* Extra attempts for a failed task; 0 = none. Every backend retries a
     * task that returned an error; a crash or a time-out can only happen,
     * and be retried, with the process backend. */
    int retries;
    /* 0: during a run the library handles SIGINT and SIGTERM: no new work
     * starts, running tasks end (threads, serial and MPI cannot interrupt
     * a task; procs kills its busy workers after grace_seconds), what they
     * finished reaches the journal, and the run returns TF_EINTR with
     * report->signal set, within about 100 ms of that. Results are
     * delivered up to the signal, not after. When the run returns, the
     * caller's handlers are back; if the caller had installed a handler of
     * its own (not SIG_DFL or SIG_IGN), the signal is raised again so that
     * handler runs once. With SIG_DFL it is not: the caller gets TF_EINTR
     * and decides (e.g. exit with 128 + signal).
     * A signal the caller ignores (SIG_IGN) stays ignored.
     * MPI: rank 0 decides; every rank returns TF_EINTR. mpirun and srun
     * signal every rank; a signal that reaches only another rank is
     * caught there and does nothing.
     * 1: leave signals alone. */
    int keep_signals;
    tf_progress_fn on_progress;  /* NULL = none */
    void *progress_user;
    double progress_interval;    /* seconds; 0 = 0.2 */
    /* Told of each failed attempt that will be retried (err->attempts is
     * the attempt that failed), in the caller's thread; its return value is
     * ignored. NULL = not told. */
    tf_error_fn on_retry;
    void *retry_user;
    /* Resume. With a journal path, every finished result is appended to that
     * file before it is delivered; a later run with the same path, N and
     * key skips those tasks and delivers their results from the file (in
     * index order, interleaved with the new ones). The key names the run,
     * e.g. the program's arguments: a journal made with another N, key or
     * format is refused (TF_EJOURNAL), never overwritten. */
    const char *journal;         /* NULL = no journal */
    const void *journal_key;     /* journal_key_len bytes, up to 64 KiB */
    size_t journal_key_len;
    /* Durability. Every batch is written when it arrives, so a killed
     * process loses nothing written. For a crashed machine, fdatasync runs
     * every journal_sync_interval seconds (0 = 1 s, < 0 = only at the end)
     * and, if journal_sync_every > 0, every that many records. */
    double journal_sync_interval;
    int journal_sync_every;
    /* On SIGINT/SIGTERM, in-flight tasks get this long to finish and reach
     * the journal before their workers are killed. 0 = 3 s, below Slurm's
     * KillWait; < 0 = stop at once. Process backend only (the others
     * always let a running task finish): any other value is refused there
     * with TF_EINVAL. */
    double grace_seconds;
    /* Worker hooks, NULL = none: run once in each worker, with its number
     * (as tf_out_worker()), in the worker itself: its thread, its process
     * (right after the fork, so it may open files, seed an RNG, load what
     * each process needs once), its MPI rank (serial: the caller's thread).
     * on_worker_start runs before the worker's first task; non-zero stops
     * the run with TF_EWORKER before that worker runs any task, and the
     * farm then refuses later runs with TF_EWORKER. A process worker that
     * replaces a dead one runs it again. on_worker_stop runs after the
     * worker's last task, at tf_farm_destroy(), in workers whose start hook
     * succeeded; it does not run in a worker that was killed (a crash, a
     * time limit, a stop that killed busy workers); its return value is
     * ignored, and tf_farm_destroy() waits for it. Both get worker_user. */
    int (*on_worker_start)(void *user, int worker);
    int (*on_worker_stop)(void *user, int worker);
    void *worker_user;
    /* Jobs a worker holds at once: the batch it computes and those queued
     * behind it. 0 = automatic: 2 when there are no more workers than
     * CPUs (the next batch is there the moment one ends), else 1.
     * 1 = a worker gets a job only once it has finished the last, so no
     * job waits behind a long task while another worker is idle: for
     * tasks of milliseconds to hours (the taskfarm command). Larger values
     * are capped at the automatic depth; negative: TF_EINVAL. */
    int queue_depth;
} tf_options;

#define TF_OPTIONS_INIT                                                     \
    {TF_BACKEND_AUTO, 0, 0, TF_ORDER_INDEX, 0, 0.0, 0, 0, NULL, NULL, 0.0, \
     NULL, NULL, NULL, NULL, 0, 0.0, 0, 0.0, NULL, NULL, NULL, 0}

/* "serial", "threads", "procs", "mpi" (and "auto"); never NULL. */
TF_API const char *tf_backend_name(tf_backend backend);

/* Parses a backend name as tf_backend_name() writes it. Returns 0 or
 * TF_EINVAL. */
TF_API int tf_backend_parse(const char *name, tf_backend *out);

/* Resolves n_jobs against a CPU count as the options describe. Returns the
 * number of workers (>= 1), or TF_EINVAL / TF_ERANGE when the result would be
 * below 1 or above TF_MAX_JOBS. */
TF_API int tf_resolve_jobs(int n_jobs, int cpus);

/* ------------------------------------------------------------------------ */
/* Run report                                                               */
/* ------------------------------------------------------------------------ */

/* Why a journal was refused or failed (tf_report.journal_problem). */
typedef enum {
    TF_JOURNAL_OK = 0,
    TF_JOURNAL_IO,            /* a system call failed: sys_errno says why */
    TF_JOURNAL_NOT_JOURNAL,   /* the file is something else */
    TF_JOURNAL_OTHER_VERSION, /* made by another version of the format */
    TF_JOURNAL_OTHER_N,       /* made by a run with another number of tasks */
    TF_JOURNAL_OTHER_KEY,     /* made by another run (another key) */
    TF_JOURNAL_DAMAGED,       /* a damaged header, or record at an offset */
    TF_JOURNAL_IN_USE         /* another run holds it */
} tf_journal_problem;

/* One sentence on the problem and what to do about it. Never NULL. */
TF_API const char *tf_journal_problem_text(tf_journal_problem problem);

typedef struct tf_report {
    size_t n_tasks;          /* N of the run */
    size_t n_ok;             /* tasks whose result was delivered */
    size_t n_replayed;       /* of those, delivered from the journal */
    size_t n_failed;         /* tasks reported failed */
    size_t n_retried;        /* tasks that needed more than one attempt */
    size_t n_not_run;        /* tasks never finished (stop, cancel, signal) */
    int n_workers;           /* workers used */
    int signal;              /* the signal behind a TF_EINTR return, else 0 */
    int sys_errno;           /* errno behind a TF_ESYS return, else 0 */
    int has_error;           /* first_error is valid */
    tf_task_error first_error; /* the lowest-index failure delivered */
    double seconds;          /* wall time of the run */
    /* With a journal: why it was refused or failed (TF_EJOURNAL), the
     * offset of a damaged record, and the bytes of a torn last record that
     * were cut off when it was opened. */
    tf_journal_problem journal_problem;
    uint64_t journal_offset;
    uint64_t journal_truncated;
} tf_report;

/* Writes a one-line progress bar with rate and ETA into buf, e.g.
 * "[#########           ]  45%  2250/5000  1200/s  ETA 2.3 s", always
 * NUL-terminated. Returns the length written (like snprintf). */
TF_API int tf_progress_format(char *buf, size_t size, size_t done, size_t total,
                              double elapsed);

/* ------------------------------------------------------------------------ */
/* The farm                                                                 */
/* ------------------------------------------------------------------------ */

/* A set of workers with fixed options, reusable across runs. */
typedef struct tf_farm tf_farm;

/* Creates a farm. `opts` may be NULL for all defaults; it is copied.
 * Returns 0 and sets *out, or TF_EINVAL (bad options, or an option the
 * backend cannot honour: task_timeout or grace_seconds without processes),
 * TF_ERANGE (n_jobs out
 * of range), TF_ENOTBUILT (backend missing), TF_EWORLD (MPI: n_jobs is not
 * the world size, or MPI is not initialized), TF_ENOMEM. Workers start on
 * the first run that has a task to compute. */
TF_API int tf_farm_create(tf_farm **out, const tf_options *opts);

/* Stops the workers and frees the farm. NULL is fine. Must not be called
 * from a callback of the same farm. */
TF_API void tf_farm_destroy(tf_farm *farm);

/* The number of workers this farm runs. */
TF_API int tf_farm_workers(const tf_farm *farm);

/* The CPU count this farm detected at tf_farm_create() and which source
 * decided it (as tf_cpus_detect), e.g. for "using 8 CPUs (from
 * SLURM_CPUS_PER_TASK)". Returns 0, or TF_EINVAL for NULL. */
TF_API int tf_farm_cpus(const tf_farm *farm, tf_cpus *out);

/* Asks the run in progress on this farm to stop, as a callback that
 * returns non-zero does: no new work starts, busy process workers are
 * killed at once (threads, serial and MPI let their running batch end),
 * and tf_farm_run() returns TF_ECANCELED with what was delivered intact,
 * within about 100 ms. Returns at once; safe from any thread and from a
 * signal handler (it only stores to an atomic flag). A cancel while no run
 * is in progress does nothing: the next run is not affected.
 * MPI: only on rank 0, which runs the callbacks; elsewhere TF_EINVAL.
 * The farm must stay alive during the call (not race tf_farm_destroy).
 * Returns 0, or TF_EINVAL (NULL farm, MPI rank other than 0). */
TF_API int tf_farm_cancel(tf_farm *farm);

/* Runs tasks 0..n_tasks-1 and returns when every task has been delivered
 * (or the run stopped).
 *
 * task       required; runs in the workers.
 * on_result  may be NULL (results are then dropped); caller's thread.
 * on_error   may be NULL (failures are then only counted); caller's thread.
 * user       passed to all three.
 * report     may be NULL; filled on every return, including errors.
 *
 * Returns 0 when every task succeeded; TF_ETASKS when some failed and the
 * rest completed; TF_ESTOPPED when stop_on_error ended the run; TF_ECANCELED
 * when a callback or tf_farm_cancel() asked to stop; TF_EWORKER when a
 * worker's start hook failed; TF_EINTR when SIGINT or SIGTERM arrived
 * (report->signal says which; see keep_signals); TF_EJOURNAL when the
 * journal was refused (no callback runs) or could not be written (the run
 * stops; the file stays readable up to its last whole record); TF_EINVAL / TF_ERANGE / TF_EBUSY for bad
 * arguments (no callback runs); TF_ENOMEM / TF_ESYS when the farm itself
 * failed (report->sys_errno says why).
 *
 * Memory: while results wait for delivery (in index order, behind a slow
 * task; or behind a slow result callback) the farm hands out no new work
 * beyond the range delivery waits for, so what is held stays bounded by a
 * few MiB per worker (at most 256 MiB) plus what is in flight, whatever N
 * is, in every order, with or without a journal (which keeps 8 bytes per
 * task in memory).
 *
 * With the process backend, a worker is a fork of the caller made at the
 * first run and reused afterwards: it sees memory as it was at that fork
 * (give a reused farm new data through task inputs: tf_farm_run_with).
 * A worker that died (between runs too) is replaced before it gets work,
 * by a fork made then: the replacement sees memory as it is at that
 * moment, not as the others do. A death is blamed on a task only if that
 * task had started on it (or, when the worker finished its batch and could
 * not send it, on the batch's last task). */
TF_API int tf_farm_run(tf_farm *farm, size_t n_tasks, tf_task_fn task,
                       tf_result_fn on_result, tf_error_fn on_error, void *user,
                       tf_report *report);

/* Per-run options: zero (TF_RUN_OPTIONS_INIT) means the farm's own. */
typedef enum {
    TF_RUN_ORDER_FARM = 0,    /* the farm's tf_options.order */
    TF_RUN_ORDER_INDEX,
    TF_RUN_ORDER_COMPLETED
} tf_run_order;

typedef struct tf_run_options {
    /* The journal of this run (see tf_options.journal): NULL = the farm's;
     * no_journal = 1 runs without one even if the farm has one. The key:
     * NULL = the farm's. Only read during the call; copied as needed. */
    const char *journal;
    const void *journal_key;
    size_t journal_key_len;
    int no_journal;
    tf_run_order order;
    /* Task inputs (tf_input_fn), NULL = none; called with the run's
     * `user`. Their bytes count in the same bound on memory as results. */
    tf_input_fn on_input;
} tf_run_options;

#define TF_RUN_OPTIONS_INIT {NULL, NULL, 0, 0, TF_RUN_ORDER_FARM, NULL}

/* tf_farm_run() with per-run options (NULL = all the farm's), so that one
 * farm (one set of forked workers) serves runs with different journals,
 * orders and inputs. Returns as tf_farm_run(); bad run options give
 * TF_EINVAL before any callback runs. */
TF_API int tf_farm_run_with(tf_farm *farm, const tf_run_options *run,
                            size_t n_tasks, tf_task_fn task,
                            tf_result_fn on_result, tf_error_fn on_error,
                            void *user, tf_report *report);

/* One call: create a farm with `opts`, run it once, destroy it.
 * joblib's Parallel(n_jobs)(delayed(f)(i) for i in range(N)), in C. */
TF_API int tf_map(const tf_options *opts, size_t n_tasks, tf_task_fn task,
                  tf_result_fn on_result, tf_error_fn on_error, void *user,
                  tf_report *report);

#ifdef __cplusplus
}
#endif

#endif /* TASKFARM_H */
