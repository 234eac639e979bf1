/*
 * cpus.h - CPU detection with every input injectable, for tests; not
 * installed. tf_cpus_detect() is tf__cpus_detect() on the real system.
 */
#ifndef TF_CPUS_H
#define TF_CPUS_H

#include "internal.h"

typedef struct tf__cpus_probe {
    const char *root;        /* prefix of /proc and /sys; "" = the real ones */
    char *const *envp;       /* NAME=VALUE list; NULL = the real environment */
    int affinity;            /* CPUs in the mask; < 0 = ask the kernel */
    int online;              /* online CPUs; < 0 = ask the kernel */
} tf__cpus_probe;

TF__HIDDEN int tf__cpus_detect(const tf__cpus_probe *probe, tf_cpus *out);

/* Parses SLURM_JOB_CPUS_PER_NODE ("72(x2),36") and returns the CPUs of node
 * `node` (0-based), or -1 when the text is malformed or too short. */
TF__HIDDEN int tf__cpus_parse_job_cpus(const char *text, int node);

/* The CPUs a cgroup quota allows under `root`, or -1 for no quota. */
TF__HIDDEN int tf__cpus_cgroup_limit(const char *root);

#endif /* TF_CPUS_H */
