/*
 * cli.h - the `taskfarm` command's internal interfaces, one section per
 * source file. The command is a program, not the library: it prints and it
 * exits; the library below it (threads, or MPI ranks) does the ordering,
 * back-pressure and the journal.
 */
#ifndef TF_CLI_H
#define TF_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "taskfarm.h"

#define CLI_EXIT_USAGE 255

/* ---- args.c: the command line ----------------------------------------- */

typedef enum { SRC_NONE, SRC_ARGS, SRC_FILE, SRC_STDIN, SRC_RANGE } cli_source;

typedef struct cli_opts {
    char **cmd;             /* COMMAND [ARG...], NULL-terminated */
    int n_cmd;
    cli_source source;
    char **args;            /* the inputs after ::: */
    int n_args;
    const char *file;       /* -a FILE ("-" = stdin) */
    long long lo, hi;       /* --range LO:HI */
    int null_sep;           /* -0 */
    const char *jobs;       /* -j as given, NULL = all CPUs */
    int cpus_per_task;      /* 0 = not given */
    const char *colsep;
    int shell;
    int verbose;
    int order_completed;
    int tag;
    const char *results;
    double timeout;
    double grace;           /* seconds after SIGTERM/SIGINT; default 3 */
    int retries;
    int stop_on_error;
    const char *joblog;
    const char *journal;
    int progress;
    int dry_run;
} cli_opts;

/* Parses argv; on a usage error prints one line and returns -1; --help and
 * --version print and return 1. */
int cli_parse(int argc, char **argv, cli_opts *o);

/* ---- inputs.c: the list of inputs ------------------------------------- */

typedef struct cli_inputs {
    size_t n;
    char *buf;              /* every input, each NUL-terminated */
    size_t *off;            /* n offsets into buf; NULL for a range */
    long long lo;           /* a range: input i is lo + i */
    int range;
} cli_inputs;

/* Reads every input before the first task. Returns 0, or -1 after one
 * line on stderr. */
int cli_inputs_read(const cli_opts *o, cli_inputs *in);
/* Input i as text into tmp (for a range), or a pointer into buf. */
const char *cli_input(const cli_inputs *in, size_t i, char tmp[32]);
void cli_inputs_release(cli_inputs *in);
/* A 128-bit digest of every input, as 32 hex digits, for the journal key. */
void cli_inputs_digest(const cli_inputs *in, char hex[33]);

/* ---- subst.c: replacement strings ------------------------------------- */

typedef struct cli_task_ctx {
    const char *input;
    size_t seq;             /* 1-based */
    int slot;               /* 1-based */
} cli_task_ctx;

/* Whether the command has a replacement string anywhere. */
int cli_has_replacement(char **cmd, int n, int colsep);

/* Builds the argv of one task: malloc'd, NULL-terminated, every string
 * malloc'd; free with cli_argv_free. With `shell`, one string
 * "/bin/sh -c SCRIPT" where each substituted value is quoted. NULL on
 * out of memory. */
char **cli_build_argv(const cli_opts *o, int has_repl, const cli_task_ctx *t);
void cli_argv_free(char **argv);
/* The command line for messages, the joblog and --dry-run: the words
 * joined by spaces, each quoted when it needs to be. malloc'd. */
char *cli_argv_text(char **argv, int shell);
/* Appends a shell-quoted copy of s to a growing string; -1 on ENOMEM. */
int cli_quote(char **buf, size_t *len, size_t *cap, const char *s);

/* ---- spawn.c: one command, its output captured ------------------------ */

typedef enum {
    RUN_EXITED = 0,         /* code = exit status */
    RUN_SIGNALED,           /* code = signal */
    RUN_TIMEOUT,            /* code = the signal that ended it */
    RUN_NOT_STARTED,        /* exec failed: code = 127 or 126 */
    RUN_SKIPPED             /* stop requested before it started */
} run_kind;

/* Where a captured stream lives: in memory, or past the spill threshold in
 * an unlinked temporary file (fd >= 0; the same process reads it). */
typedef struct cli_stream {
    char *data;
    size_t len, cap;
    int fd;
    uint64_t fd_len;
} cli_stream;

typedef struct cli_result {
    run_kind kind;
    int code;
    double start;           /* seconds since the epoch */
    double runtime;
    cli_stream out, err;
    int slot;
    char host[64];
} cli_result;

typedef struct cli_spawn_cfg {
    double timeout;         /* 0 = none */
    double grace;           /* after a stop request */
    size_t spill;           /* 0 = never spill */
    char **env_extra;       /* "NAME=value" added to every command */
    int pin;                /* --cpus-per-task K: pin slot to K CPUs */
    int *cpu_list;          /* the CPUs of the mask, in order */
    int n_cpu_list;
    volatile sig_atomic_t *stop;   /* non-zero: no new command; grace */
    volatile sig_atomic_t *no_new; /* non-zero: no new command */
} cli_spawn_cfg;

/* At the start of main, before any library opens a descriptor: 0-2
 * open, SIGCHLD not ignored, the inherited descriptors noted. */
void cli_spawn_prepare(void);
/* Runs argv for task ctx and fills r. Returns 0, or -1 with errno when
 * taskfarm itself failed (pipes, fork). */
int cli_spawn(const cli_spawn_cfg *cfg, char **argv, const cli_task_ctx *t,
              size_t task, cli_result *r);
void cli_result_release(cli_result *r);
int cli_result_ok(const cli_result *r);

/* ---- record.c: a result as bytes -------------------------------------- */

/* Encodes r (with its in-memory bytes, or a spilled fd) into out. */
int cli_record_put(tf_out *out, const cli_result *r);
/* Decodes a record; the streams point into `data` (fd = -1) or carry a
 * spilled fd. Returns 0 or -1 for a malformed record. */
int cli_record_get(const void *data, size_t len, cli_result *r);

/* ---- output.c: delivery ------------------------------------------------ */

typedef struct cli_output cli_output;

int cli_output_open(cli_output **out, const cli_opts *o, int append_joblog);
/* Writes one task's outputs, joblog line and results dir entry. `cmdline`
 * may be NULL (then rebuilt). Returns 0, or -1 after a message. */
int cli_output_task(cli_output *out, size_t seq, const char *input,
                    const char *cmdline, const cli_result *r);
void cli_output_close(cli_output *out);
/* write(2) until done; -1 on error. */
int cli_write_all(int fd, const void *p, size_t n);

/* ---- mpi.c / mpi_none.c ------------------------------------------------ */

/* Starts MPI when launched by mpirun/srun with more than one rank:
 * returns the world size (1 without MPI) and sets *rank. */
int cli_mpi_init(int *argc, char ***argv, int *rank);
/* Rank 0's input count (and whether reading them went well) to every
 * rank; returns 0, or -1 when rank 0 failed. */
int cli_mpi_share_count(size_t *n, int ok);
void cli_mpi_finalize(void);

#endif
