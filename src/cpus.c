/*
 * cpus.c - how many CPUs this job really has, and which source decided.
 *
 * The tutorial's main pitfall is a pool sized by the machine's core count
 * when Slurm gave the job a few of them. Each source below can only lower
 * the count; the answer is their minimum, and on a tie the most specific
 * source is named (a user's TASKFARM_NUM_JOBS beats Slurm, Slurm beats the
 * affinity mask that Slurm itself set). Values that do not parse are
 * ignored, and the next source decides.
 *
 * Slurm's variables mean different things inside and outside a job step.
 * In the batch script (no SLURM_STEP_ID) SLURM_CPUS_ON_NODE is what the
 * whole job holds on this node, and the script holds all of it: in a job of
 * --ntasks=8 --cpus-per-task=1 the script has 8 CPUs, so the per-task
 * SLURM_CPUS_PER_TASK only applies when the job has a single task. Inside a
 * step (srun sets SLURM_STEP_ID) SLURM_CPUS_ON_NODE is the step's CPUs on
 * this node and SLURM_STEP_TASKS_PER_NODE its tasks here, so a task has
 * their quotient. SLURM_CPUS_PER_TASK may be stale there: since Slurm 22.05
 * srun sets it only when given -c, and otherwise the step inherits the
 * batch script's value, which describes the job, not the step (srun -n1 in
 * a job of -n2 -c1 has 2 CPUs and sees SLURM_CPUS_PER_TASK=1). The value
 * alone cannot tell, so inside a step it counts only where it equals the
 * step's own quotient; the quotient also decides where the mask shows every
 * CPU (task/none).
 */
#define _GNU_SOURCE
#include "cpus.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CPUS (1 << 20)

static const char *const source_names[TF_CPUS_SOURCE_COUNT] = {
    [TF_CPUS_FROM_SYSTEM] = "all CPUs of the machine",
    [TF_CPUS_FROM_AFFINITY] = "the affinity mask",
    [TF_CPUS_FROM_CGROUP] = "the cgroup CPU quota",
    [TF_CPUS_FROM_SLURM_CPUS_PER_TASK] = "SLURM_CPUS_PER_TASK",
    [TF_CPUS_FROM_SLURM_CPUS_ON_NODE] = "SLURM_CPUS_ON_NODE",
    [TF_CPUS_FROM_SLURM_JOB_CPUS_PER_NODE] = "SLURM_JOB_CPUS_PER_NODE",
    [TF_CPUS_FROM_OMP_NUM_THREADS] = "OMP_NUM_THREADS",
    [TF_CPUS_FROM_TASKFARM_NUM_JOBS] = "TASKFARM_NUM_JOBS",
    [TF_CPUS_FROM_SLURM_STEP] = "the step's SLURM_CPUS_ON_NODE per task",
};

const char *tf_cpus_source_name(tf_cpus_source source)
{
    if ((unsigned)source >= TF_CPUS_SOURCE_COUNT)
        return "unknown";
    return source_names[source];
}

/* ---- small parsers ---------------------------------------------------- */

/* A whole decimal number in 1..MAX_CPUS, or -1. */
static int parse_count(const char *s, const char **end)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *e;
    long v = strtol(s, &e, 10);
    if (errno != 0 || v < 1 || v > MAX_CPUS)
        return -1;
    if (end != NULL)
        *end = e;
    else if (*e != '\0')
        return -1;
    return (int)v;
}

int tf__cpus_parse_job_cpus(const char *text, int node)
{
    const char *p = text;
    int found = -1;
    if (p == NULL || node < 0)
        return -1;
    for (;;) {
        int cpus = parse_count(p, &p);
        if (cpus < 0)
            return -1;
        int repeat = 1;
        if (p[0] == '(') {
            if (p[1] != 'x' || (repeat = parse_count(p + 2, &p)) < 0 ||
                *p != ')')
                return -1;
            p++;
        }
        if (found < 0 && node < repeat)
            found = cpus;
        else if (found < 0)
            node -= repeat;
        if (*p == '\0')
            return found;
        if (*p != ',')
            return -1;
        p++;
    }
}

/* OMP_NUM_THREADS may list one count per nesting level: "4,2". */
static int parse_omp(const char *s)
{
    const char *end;
    int v = parse_count(s, &end);
    return v > 0 && (*end == '\0' || *end == ',') ? v : -1;
}

/* ---- environment ------------------------------------------------------ */

static const char *env_get(const tf__cpus_probe *pr, const char *name)
{
    if (pr->envp == NULL)
        return getenv(name);
    size_t n = strlen(name);
    for (char *const *e = pr->envp; *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* 0 for the first node, or this node's index (in a step: in the step). */
static int slurm_node_id(const tf__cpus_probe *pr)
{
    const char *node = env_get(pr, "SLURM_NODEID");
    if (node == NULL || strcmp(node, "0") == 0)
        return 0;
    return parse_count(node, NULL);
}

static int in_step(const tf__cpus_probe *pr)
{
    return env_get(pr, "SLURM_STEP_ID") != NULL;
}

/* Inside a step: its CPUs on this node over its tasks here, or -1. */
static int slurm_step_cpus(const tf__cpus_probe *pr)
{
    if (!in_step(pr))
        return -1;
    int node = slurm_node_id(pr);
    int cpus = parse_count(env_get(pr, "SLURM_CPUS_ON_NODE"), NULL);
    const char *per_node = env_get(pr, "SLURM_STEP_TASKS_PER_NODE");
    if (per_node == NULL)
        per_node = env_get(pr, "SLURM_TASKS_PER_NODE");
    int tasks = tf__cpus_parse_job_cpus(per_node, node);
    if (cpus < 0 || tasks < 0)
        return -1;
    return cpus / tasks > 0 ? cpus / tasks : 1; /* overcommitted: 1 */
}

static int slurm_cpus_per_task(const tf__cpus_probe *pr)
{
    int cpt = parse_count(env_get(pr, "SLURM_CPUS_PER_TASK"), NULL);
    if (cpt < 0)
        return -1;
    if (in_step(pr))
        return cpt == slurm_step_cpus(pr) ? cpt : -1; /* else maybe stale */
    const char *ntasks = env_get(pr, "SLURM_NTASKS");
    return ntasks == NULL || parse_count(ntasks, NULL) == 1 ? cpt : -1;
}

static int slurm_job_cpus(const tf__cpus_probe *pr)
{
    int id = slurm_node_id(pr);
    return id < 0 ? -1
                  : tf__cpus_parse_job_cpus(
                        env_get(pr, "SLURM_JOB_CPUS_PER_NODE"), id);
}

/* ---- the kernel ------------------------------------------------------- */

static int kernel_affinity(void)
{
    for (int n = 1024; n <= MAX_CPUS; n *= 2) {
        cpu_set_t *set = CPU_ALLOC(n);
        if (set == NULL)
            return -1;
        size_t size = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(size, set);
        int rc = sched_getaffinity(0, size, set);
        int count = rc == 0 ? CPU_COUNT_S(size, set) : -1;
        CPU_FREE(set);
        if (rc == 0)
            return count > 0 ? count : -1;
        if (errno != EINVAL)
            return -1;
    }
    return -1;
}

static int kernel_online(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= MAX_CPUS ? (int)n : 1;
}

/* ---- choosing --------------------------------------------------------- */

/* Most specific first: on equal counts, the earlier one is named. */
static const tf_cpus_source specificity[] = {
    TF_CPUS_FROM_TASKFARM_NUM_JOBS,   TF_CPUS_FROM_OMP_NUM_THREADS,
    TF_CPUS_FROM_SLURM_CPUS_PER_TASK, TF_CPUS_FROM_SLURM_STEP,
    TF_CPUS_FROM_CGROUP,              TF_CPUS_FROM_AFFINITY,
    TF_CPUS_FROM_SLURM_CPUS_ON_NODE,  TF_CPUS_FROM_SLURM_JOB_CPUS_PER_NODE,
    TF_CPUS_FROM_SYSTEM,
};

static void gather(const tf__cpus_probe *pr, int v[TF_CPUS_SOURCE_COUNT])
{
    const char *root = pr->root != NULL ? pr->root : "";
    v[TF_CPUS_FROM_SYSTEM] = pr->online >= 0 ? pr->online : kernel_online();
    v[TF_CPUS_FROM_AFFINITY] = pr->affinity >= 0 ? pr->affinity
                                                 : kernel_affinity();
    v[TF_CPUS_FROM_CGROUP] = tf__cpus_cgroup_limit(root);
    v[TF_CPUS_FROM_SLURM_CPUS_PER_TASK] = slurm_cpus_per_task(pr);
    v[TF_CPUS_FROM_SLURM_STEP] = slurm_step_cpus(pr);
    v[TF_CPUS_FROM_SLURM_CPUS_ON_NODE] =
        parse_count(env_get(pr, "SLURM_CPUS_ON_NODE"), NULL);
    v[TF_CPUS_FROM_SLURM_JOB_CPUS_PER_NODE] = slurm_job_cpus(pr);
    v[TF_CPUS_FROM_OMP_NUM_THREADS] = parse_omp(env_get(pr, "OMP_NUM_THREADS"));
    v[TF_CPUS_FROM_TASKFARM_NUM_JOBS] =
        parse_count(env_get(pr, "TASKFARM_NUM_JOBS"), NULL);
}

int tf__cpus_detect(const tf__cpus_probe *probe, tf_cpus *out)
{
    if (probe == NULL || out == NULL)
        return TF_EINVAL;
    int v[TF_CPUS_SOURCE_COUNT];
    gather(probe, v);
    out->count = 1;
    out->source = TF_CPUS_FROM_SYSTEM;
    int best = -1;
    for (size_t i = 0; i < sizeof(specificity) / sizeof(*specificity); i++) {
        int n = v[specificity[i]];
        if (n >= 1 && (best < 0 || n < best)) {
            best = n;
            out->source = specificity[i];
        }
    }
    if (best >= 1)
        out->count = best;
    return 0;
}

int tf_cpus_detect(tf_cpus *out)
{
    const tf__cpus_probe real = {"", NULL, -1, -1};
    return tf__cpus_detect(&real, out);
}
