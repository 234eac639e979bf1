/*
 * procs.h - what the two halves of the process backend share: the shared-
 * memory slot of each worker. The messages are wire.h's. Not installed.
 */
#ifndef TF_PROCS_H
#define TF_PROCS_H

#include "wire.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/* Written by the worker before each task, read by the parent for time
 * limits and when the worker dies: which task it is on, and since when
 * (tf__now() in nanoseconds; 0 = between batches), and whether it has
 * finished its batch and is sending it. One cache line each. */
typedef struct tf__worker_slot {
    _Atomic uint64_t index;
    _Atomic uint64_t started_ns;
    _Atomic uint32_t sending;
    char pad[44];
} tf__worker_slot;

/* What a new worker is given. `close_fds` lists the descriptors the child
 * must not keep (its siblings' sockets, the run's journal), -1 entries
 * skipped; `cpu`, when not NULL, the CPUs it stays on. */
typedef struct tf__worker_setup {
    int fd;
    int worker;               /* its number, for tf_out_worker and hooks */
    const tf__hooks *hooks;
    tf__worker_slot *slot;
    char **env;
    const int *close_fds;
    size_t n_close;
    const cpu_set_t *cpu;
} tf__worker_setup;

/* The worker's side: never returns. Only async-signal-safe calls run
 * before the worker loop. */
TF__HIDDEN void tf__worker_main(const tf__worker_setup *s)
    __attribute__((noreturn));

#endif /* TF_PROCS_H */
