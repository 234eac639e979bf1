/*
 * signals.c - SIGINT and SIGTERM while a run is in progress.
 *
 * Slurm ends a job with SIGTERM (then SIGKILL after KillWait), and users
 * press Ctrl-C. During a run the farm catches both, stops handing out work,
 * stops its workers and returns TF_EINTR, so that what was delivered stays
 * delivered and the program can say how to resume. Outside runs, and with
 * tf_options.keep_signals, the caller's handlers are untouched.
 *
 * Signal dispositions belong to the whole process, so this is the one piece
 * of process-wide state in the library: a flag the handler sets, and a
 * count of runs in progress so that concurrent runs (in different threads,
 * on different farms) install the handlers once and restore them once.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static int runs;
static struct sigaction old_int, old_term;

static void on_signal(int signo)
{
    caught = signo;
}

void tf__signals_begin(void)
{
    pthread_mutex_lock(&install_lock);
    if (runs++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        caught = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    pthread_mutex_unlock(&install_lock);
}

void tf__signals_end(void)
{
    pthread_mutex_lock(&install_lock);
    if (--runs == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    pthread_mutex_unlock(&install_lock);
}

int tf__signals_caught(void)
{
    return caught;
}
