/*
 * signals.c - SIGINT and SIGTERM while a run is in progress.
 *
 * Slurm ends a job with SIGTERM (then SIGKILL after KillWait), and users
 * press Ctrl-C. During a run the farm catches both, stops handing out work,
 * stops its workers and returns TF_EINTR, so that what was delivered stays
 * delivered and the program can say how to resume. Outside runs, and with
 * tf_options.keep_signals, the caller's handlers are untouched.
 *
 * When the last run ends, the caller's dispositions come back; if a signal
 * was caught and the caller had a handler of its own (not SIG_DFL or
 * SIG_IGN), the signal is raised again, so that handler runs once, as if
 * the library had never been there. With SIG_DFL it is not: the caller
 * gets TF_EINTR and decides (exit 128 + signal, as the examples do).
 *
 * The handler is installed with SA_RESTART, and the library's own blocking
 * calls retry on EINTR as well.
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
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        caught = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        /* A signal the caller ignores (a background job's SIGINT, nohup's
         * SIGHUP-like habits) stays ignored: it must not stop the run. */
        if (old_int.sa_handler == SIG_IGN && !(old_int.sa_flags & SA_SIGINFO))
            sigaction(SIGINT, &old_int, NULL);
        if (old_term.sa_handler == SIG_IGN && !(old_term.sa_flags & SA_SIGINFO))
            sigaction(SIGTERM, &old_term, NULL);
    }
    pthread_mutex_unlock(&install_lock);
}

static int has_own_handler(const struct sigaction *sa)
{
    if (sa->sa_flags & SA_SIGINFO)
        return 1;
    return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

void tf__signals_end(void)
{
    int again = 0;
    pthread_mutex_lock(&install_lock);
    if (--runs == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        int signo = caught;
        const struct sigaction *old = signo == SIGINT ? &old_int : &old_term;
        if (signo != 0 && has_own_handler(old))
            again = signo;
    }
    pthread_mutex_unlock(&install_lock);
    if (again != 0)
        raise(again);
}

int tf__signals_caught(void)
{
    return caught;
}
