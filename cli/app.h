/*
 * app.h - the state of one `taskfarm` invocation, shared by main.c (setup,
 * exit status) and tasks.c (the library's callbacks).
 */
#ifndef TF_CLI_APP_H
#define TF_CLI_APP_H

#include "cli.h"

typedef struct app {
    cli_opts o;
    cli_inputs in;
    int has_repl;
    cli_spawn_cfg spawn;
    tf_farm *farm;
    cli_output *out;
    int rank, world;        /* MPI; 0 and 1 without */
    int journaling;
    int bar;                /* --progress on a terminal */
    int bar_drawn;
    volatile sig_atomic_t stop;     /* SIGTERM/SIGINT: no new task, grace */
    volatile sig_atomic_t signo;
    volatile sig_atomic_t no_new;   /* --stop-on-error after a failure */
    size_t n_failed;
    size_t n_delivered;     /* results and failures written out */
    size_t n_skipped;
    int internal_error;     /* taskfarm itself failed: exit 255 */
} app;

int app_task(void *user, size_t index, tf_out *out);
int app_input(void *user, size_t index, tf_out *in);
int app_result(void *user, size_t index, const void *data, size_t len);
int app_error(void *user, const tf_task_error *err);
void app_progress(void *user, size_t done, size_t total, double elapsed);

#endif
