/*
 * test_cpus.c - CPU detection against fake /proc and /sys trees and fake
 * environments: every source, ties, and malformed values (ignored, never a
 * crash).
 */
#include "cpus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- fake trees ------------------------------------------------------- */

static void mkdirs(char *path)
{
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
}

static void put(const char *root, const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", root, rel);
    mkdirs(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *make_root(void)
{
    char tmpl[] = "/tmp/tf_cpus_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    return strdup(dir);
}

static void remove_root(char *root)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    free(root);
}

#define V2_MOUNT "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
#define V1_MOUNT                                                            \
    "31 23 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup "          \
    "rw,cpu,cpuacct\n"
#define HYBRID_V2_MOUNT                                                     \
    "32 23 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"

static tf_cpus detect(const char *root, char *const *env, int affinity,
                      int online)
{
    tf__cpus_probe probe = {root, env, affinity, online};
    tf_cpus out;
    assert_int_equal(tf__cpus_detect(&probe, &out), 0);
    return out;
}

static char *const no_env[] = {NULL};

/* ---- the machine alone ------------------------------------------------ */

static void test_affinity_and_system(void **state)
{
    (void)state;
    char *root = make_root();
    tf_cpus c = detect(root, no_env, 8, 16);
    assert_int_equal(c.count, 8);
    assert_int_equal(c.source, TF_CPUS_FROM_AFFINITY);
    c = detect(root, no_env, 8, 8); /* tie: the mask is more specific */
    assert_int_equal(c.source, TF_CPUS_FROM_AFFINITY);
    c = detect(root, no_env, 0, 4); /* unreadable mask */
    assert_int_equal(c.count, 4);
    assert_int_equal(c.source, TF_CPUS_FROM_SYSTEM);
    remove_root(root);
}

/* ---- cgroups ---------------------------------------------------------- */

static void test_cgroup_v2_leaf_quota(void **state)
{
    (void)state;
    char *root = make_root();
    put(root, "/proc/self/mountinfo", V2_MOUNT);
    put(root, "/proc/self/cgroup", "0::/job/step\n");
    put(root, "/sys/fs/cgroup/job/step/cpu.max", "250000 100000\n");
    put(root, "/sys/fs/cgroup/job/cpu.max", "max 100000\n");
    assert_int_equal(tf__cpus_cgroup_limit(root), 3); /* 2.5 rounds up */
    tf_cpus c = detect(root, no_env, 16, 16);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.source, TF_CPUS_FROM_CGROUP);
    remove_root(root);
}

static void test_cgroup_v2_ancestor_is_tighter(void **state)
{
    (void)state;
    char *root = make_root();
    put(root, "/proc/self/mountinfo", V2_MOUNT);
    put(root, "/proc/self/cgroup", "0::/job/step\n");
    put(root, "/sys/fs/cgroup/job/step/cpu.max", "max 100000\n");
    put(root, "/sys/fs/cgroup/job/cpu.max", "100000 100000\n");
    assert_int_equal(tf__cpus_cgroup_limit(root), 1);
    remove_root(root);
}

static void test_cgroup_v1_hybrid(void **state)
{
    (void)state;
    char *root = make_root();
    put(root, "/proc/self/mountinfo", V1_MOUNT HYBRID_V2_MOUNT);
    put(root, "/proc/self/cgroup",
        "4:cpu,cpuacct:/slurm/job_5\n0::/\n");
    put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/job_5/cpu.cfs_quota_us",
        "200000\n");
    put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/job_5/cpu.cfs_period_us",
        "100000\n");
    assert_int_equal(tf__cpus_cgroup_limit(root), 2);
    /* -1 is "no quota" in v1. */
    put(root, "/sys/fs/cgroup/cpu,cpuacct/slurm/job_5/cpu.cfs_quota_us",
        "-1\n");
    assert_int_equal(tf__cpus_cgroup_limit(root), -1);
    remove_root(root);
}

static void test_cgroup_namespaced_mount(void **state)
{
    (void)state;
    char *root = make_root();
    /* Inside a container the mount's root is the container's own cgroup. */
    put(root, "/proc/self/mountinfo",
        "40 30 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    put(root, "/proc/self/cgroup", "0::/docker/abc\n");
    put(root, "/sys/fs/cgroup/cpu.max", "400000 100000\n");
    assert_int_equal(tf__cpus_cgroup_limit(root), 4);
    remove_root(root);
}

static void test_cgroup_malformed_and_missing(void **state)
{
    (void)state;
    char *root = make_root();
    assert_int_equal(tf__cpus_cgroup_limit(root), -1); /* nothing there */
    put(root, "/proc/self/mountinfo", "garbage\n" V2_MOUNT);
    assert_int_equal(tf__cpus_cgroup_limit(root), -1); /* no cgroup file */
    put(root, "/proc/self/cgroup", "nonsense\n0::/a\n");
    put(root, "/sys/fs/cgroup/a/cpu.max", "lots of cpus\n");
    assert_int_equal(tf__cpus_cgroup_limit(root), -1);
    put(root, "/sys/fs/cgroup/a/cpu.max", "100000 0\n"); /* zero period */
    assert_int_equal(tf__cpus_cgroup_limit(root), -1);
    put(root, "/sys/fs/cgroup/a/cpu.max", "");
    assert_int_equal(tf__cpus_cgroup_limit(root), -1);
    tf_cpus c = detect(root, no_env, 2, 2);
    assert_int_equal(c.count, 2);
    remove_root(root);
}

/* ---- Slurm and user variables ----------------------------------------- */

static void test_slurm_cpus_per_task(void **state)
{
    (void)state;
    char *root = make_root();
    char *one_task[] = {"SLURM_CPUS_PER_TASK=2", "SLURM_CPUS_ON_NODE=2", NULL};
    tf_cpus c = detect(root, one_task, 2, 64);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_CPUS_PER_TASK);

    /* A batch script of an 8-task job holds all 8 CPUs. */
    char *batch[] = {"SLURM_CPUS_PER_TASK=1", "SLURM_NTASKS=8",
                     "SLURM_CPUS_ON_NODE=8", NULL};
    c = detect(root, batch, 8, 64);
    assert_int_equal(c.count, 8);
    assert_int_equal(c.source, TF_CPUS_FROM_AFFINITY);

    /* Inside an srun step of 8 tasks the per-task figure applies. */
    char *step[] = {"SLURM_CPUS_PER_TASK=1", "SLURM_NTASKS=8",
                    "SLURM_STEP_ID=0", "SLURM_CPUS_ON_NODE=8",
                    "SLURM_STEP_TASKS_PER_NODE=8", NULL};
    c = detect(root, step, 8, 64);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_CPUS_PER_TASK);

    /* A step whose own counts are missing cannot confirm the value, which
     * may be the batch script's: the mask decides. */
    char *unconfirmed[] = {"SLURM_CPUS_PER_TASK=1", "SLURM_STEP_ID=0",
                           "SLURM_CPUS_ON_NODE=4", NULL};
    c = detect(root, unconfirmed, 4, 64);
    assert_int_equal(c.count, 4);
    assert_int_equal(c.source, TF_CPUS_FROM_AFFINITY);

    char *bad[] = {"SLURM_CPUS_PER_TASK=two", "SLURM_CPUS_ON_NODE=3", NULL};
    c = detect(root, bad, 16, 64);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_CPUS_ON_NODE);
    remove_root(root);
}

static void test_slurm_job_cpus_per_node(void **state)
{
    (void)state;
    assert_int_equal(tf__cpus_parse_job_cpus("72(x2),36", 0), 72);
    assert_int_equal(tf__cpus_parse_job_cpus("72(x2),36", 1), 72);
    assert_int_equal(tf__cpus_parse_job_cpus("72(x2),36", 2), 36);
    assert_int_equal(tf__cpus_parse_job_cpus("72(x2),36", 3), -1);
    assert_int_equal(tf__cpus_parse_job_cpus("4", 0), 4);
    assert_int_equal(tf__cpus_parse_job_cpus("2,4(x3)", 3), 4);
    static const char *const bad[] = {"",      "a",      "72(x2",   "72(2)",
                                      "72,,3", "72(x0)", "0",       "-4",
                                      "72(x2),abc", "72 ", "99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(tf__cpus_parse_job_cpus(bad[i], 0), -1);
    assert_int_equal(tf__cpus_parse_job_cpus(NULL, 0), -1);
    assert_int_equal(tf__cpus_parse_job_cpus("4", -1), -1);

    char *root = make_root();
    char *env[] = {"SLURM_JOB_CPUS_PER_NODE=72(x2),36", "SLURM_NODEID=2",
                   NULL};
    tf_cpus c = detect(root, env, 100, 100);
    assert_int_equal(c.count, 36);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_JOB_CPUS_PER_NODE);
    char *bad_node[] = {"SLURM_JOB_CPUS_PER_NODE=6", "SLURM_NODEID=x", NULL};
    c = detect(root, bad_node, 100, 100);
    assert_int_equal(c.count, 100);
    remove_root(root);
}

/* ---- Slurm job shapes ------------------------------------------------- */

/* The variables Slurm 22.05 sets (measured on the project's test cluster),
 * the CPUs each task's mask holds under task/affinity or task/cgroup, and
 * the count and source it must give. NODE_CPUS is the node's size, which a
 * mask shows under task/none. */
#define NODE_CPUS 64
#define MAX_VARS 12

typedef struct shape {
    const char *name;
    char *env[MAX_VARS];
    int mask;                 /* CPUs in the task's mask, bound */
    int cpus;                 /* the count it must give */
    tf_cpus_source source;    /* and its source, with the bound mask */
} shape;

#define BATCH_1x1 "SLURM_CPUS_ON_NODE=1", "SLURM_JOB_CPUS_PER_NODE=1", \
                  "SLURM_NODEID=0", "SLURM_TASKS_PER_NODE=1"
#define BATCH_1x2 "SLURM_CPUS_ON_NODE=2", "SLURM_JOB_CPUS_PER_NODE=2", \
                  "SLURM_NODEID=0", "SLURM_TASKS_PER_NODE=1"
#define JOB_2x1   "SLURM_JOB_CPUS_PER_NODE=2", "SLURM_NODEID=0"
#define STEP(id, ntasks, on_node)                                         \
    "SLURM_STEP_ID=" #id, "SLURM_NTASKS=" #ntasks,                        \
        "SLURM_STEP_TASKS_PER_NODE=" #ntasks,                             \
        "SLURM_TASKS_PER_NODE=" #ntasks, "SLURM_CPUS_ON_NODE=" #on_node

static const shape shapes[] = {
    {"-c1, batch", {"SLURM_CPUS_PER_TASK=1", BATCH_1x1, NULL}, 1, 1,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    {"-c1, srun", {"SLURM_CPUS_PER_TASK=1", "SLURM_JOB_CPUS_PER_NODE=1",
                   STEP(0, 1, 1), NULL}, 1, 1,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    {"-c2, batch", {"SLURM_CPUS_PER_TASK=2", BATCH_1x2, NULL}, 2, 2,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    {"-c2, srun", {"SLURM_CPUS_PER_TASK=2", "SLURM_JOB_CPUS_PER_NODE=2",
                   STEP(0, 1, 2), NULL}, 2, 2,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    {"-n2 -c1, batch", {"SLURM_CPUS_PER_TASK=1", "SLURM_NTASKS=2",
                        "SLURM_CPUS_ON_NODE=2", "SLURM_TASKS_PER_NODE=2",
                        JOB_2x1, NULL}, 2, 2, TF_CPUS_FROM_AFFINITY},
    /* The step inherits the batch script's SLURM_CPUS_PER_TASK=1 but holds
     * both CPUs. */
    {"-n2 -c1, srun -n1", {"SLURM_CPUS_PER_TASK=1", JOB_2x1, STEP(0, 1, 2),
                           NULL}, 2, 2, TF_CPUS_FROM_SLURM_STEP},
    {"-n2 -c1, srun -n1 --exact", {"SLURM_CPUS_PER_TASK=1", JOB_2x1,
                                   STEP(1, 1, 1), NULL}, 1, 1,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    {"-n2 -c1, srun -n1 -c2", {"SLURM_CPUS_PER_TASK=2", JOB_2x1,
                               STEP(2, 1, 2), NULL}, 2, 2,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    {"-n2 -c1, srun -n2", {"SLURM_CPUS_PER_TASK=1", JOB_2x1, STEP(3, 2, 2),
                           "SLURM_LOCALID=1", NULL}, 1, 1,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    /* Without -c no SLURM_CPUS_PER_TASK at all: the step's counts decide. */
    {"-n2, srun -n2", {JOB_2x1, STEP(0, 2, 2), NULL}, 1, 1,
     TF_CPUS_FROM_SLURM_STEP},
    {"-n2, srun -n1", {JOB_2x1, STEP(0, 1, 2), NULL}, 2, 2,
     TF_CPUS_FROM_SLURM_STEP},
    {"array -c2, a task", {"SLURM_CPUS_PER_TASK=2", "SLURM_ARRAY_JOB_ID=4",
                           "SLURM_ARRAY_TASK_ID=1", BATCH_1x2, NULL}, 2, 2,
     TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
    /* 3 tasks of 4 CPUs on 2 nodes: the step's second node has 1 task. */
    {"-N2 -n3 -c4, srun on node 1",
     {"SLURM_CPUS_PER_TASK=4", "SLURM_JOB_CPUS_PER_NODE=8,4",
      "SLURM_STEP_ID=0", "SLURM_NODEID=1", "SLURM_NTASKS=3",
      "SLURM_STEP_TASKS_PER_NODE=2,1", "SLURM_TASKS_PER_NODE=2,1",
      "SLURM_CPUS_ON_NODE=4", NULL}, 4, 4, TF_CPUS_FROM_SLURM_CPUS_PER_TASK},
};

static void test_slurm_job_shapes(void **state)
{
    (void)state;
    char *root = make_root();
    for (size_t i = 0; i < sizeof(shapes) / sizeof(*shapes); i++) {
        const shape *s = &shapes[i];
        tf_cpus bound = detect(root, s->env, s->mask, NODE_CPUS);
        tf_cpus open = detect(root, s->env, NODE_CPUS, NODE_CPUS);
        if (bound.count != s->cpus || bound.source != s->source ||
            open.count != s->cpus)
            fail_msg("%s: want %d from %s; got %d from %s (mask bound), %d "
                     "from %s (task/none)",
                     s->name, s->cpus, tf_cpus_source_name(s->source),
                     bound.count, tf_cpus_source_name(bound.source),
                     open.count, tf_cpus_source_name(open.source));
    }
    remove_root(root);
}

/* Only a SLURM_CPUS_PER_TASK that equals the step's own quotient counts:
 * a stale value lower than the step's share is ignored, a fresh one (srun
 * -c) names itself, and an overcommitted step still gets 1. */
static void test_slurm_step_rules(void **state)
{
    (void)state;
    char *root = make_root();
    char *low[] = {"SLURM_CPUS_PER_TASK=2", STEP(0, 1, 8), NULL};
    tf_cpus c = detect(root, low, NODE_CPUS, NODE_CPUS);
    assert_int_equal(c.count, 8);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_STEP);
    char *high[] = {"SLURM_CPUS_PER_TASK=16", STEP(0, 2, 8), NULL};
    c = detect(root, high, NODE_CPUS, NODE_CPUS);
    assert_int_equal(c.count, 4);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_STEP);
    char *over[] = {STEP(0, 4, 2), NULL};
    assert_int_equal(detect(root, over, NODE_CPUS, NODE_CPUS).count, 1);
    /* SLURM_TASKS_PER_NODE when the step's own form is missing. */
    char *old[] = {"SLURM_STEP_ID=0", "SLURM_CPUS_ON_NODE=6",
                   "SLURM_TASKS_PER_NODE=3(x2)", "SLURM_NODEID=1", NULL};
    c = detect(root, old, NODE_CPUS, NODE_CPUS);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_STEP);
    /* Malformed counts: the quotient is unknown, the rest decide. */
    char *bad[] = {"SLURM_STEP_ID=0", "SLURM_CPUS_ON_NODE=6",
                   "SLURM_STEP_TASKS_PER_NODE=two", "SLURM_CPUS_PER_TASK=1",
                   NULL};
    c = detect(root, bad, NODE_CPUS, NODE_CPUS);
    assert_int_equal(c.count, 6);
    assert_int_equal(c.source, TF_CPUS_FROM_SLURM_CPUS_ON_NODE);
    char *bad_node[] = {STEP(0, 2, 4), "SLURM_NODEID=x", NULL};
    assert_int_equal(detect(root, bad_node, NODE_CPUS, NODE_CPUS).count, 4);
    /* Outside a step the quotient does not apply: the script holds all. */
    char *batch[] = {"SLURM_CPUS_ON_NODE=4", "SLURM_TASKS_PER_NODE=4",
                     NULL};
    assert_int_equal(detect(root, batch, NODE_CPUS, NODE_CPUS).count, 4);
    remove_root(root);
}

static void test_user_variables(void **state)
{
    (void)state;
    char *root = make_root();
    char *omp[] = {"OMP_NUM_THREADS=3", NULL};
    tf_cpus c = detect(root, omp, 8, 8);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.source, TF_CPUS_FROM_OMP_NUM_THREADS);
    char *nested[] = {"OMP_NUM_THREADS=4,2", NULL};
    assert_int_equal(detect(root, nested, 8, 8).count, 4);
    char *tie[] = {"TASKFARM_NUM_JOBS=2", "OMP_NUM_THREADS=2", NULL};
    c = detect(root, tie, 2, 2);
    assert_int_equal(c.source, TF_CPUS_FROM_TASKFARM_NUM_JOBS);
    static char *junk[][2] = {{"OMP_NUM_THREADS=abc", NULL},
                              {"OMP_NUM_THREADS=0", NULL},
                              {"OMP_NUM_THREADS=-1", NULL},
                              {"OMP_NUM_THREADS=", NULL},
                              {"TASKFARM_NUM_JOBS=1e3", NULL},
                              {"TASKFARM_NUM_JOBS= 4", NULL}};
    for (size_t i = 0; i < sizeof(junk) / sizeof(*junk); i++) {
        c = detect(root, junk[i], 6, 6);
        assert_int_equal(c.count, 6);
        assert_int_equal(c.source, TF_CPUS_FROM_AFFINITY);
    }
    remove_root(root);
}

static void test_real_system(void **state)
{
    (void)state;
    tf_cpus c;
    assert_int_equal(tf_cpus_detect(&c), 0);
    assert_true(c.count >= 1);
    for (int s = 0; s < TF_CPUS_SOURCE_COUNT; s++)
        assert_string_not_equal(tf_cpus_source_name((tf_cpus_source)s),
                                "unknown");
    assert_string_equal(tf_cpus_source_name(TF_CPUS_SOURCE_COUNT), "unknown");
    assert_int_equal(tf__cpus_detect(NULL, &c), TF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_affinity_and_system),
        cmocka_unit_test(test_cgroup_v2_leaf_quota),
        cmocka_unit_test(test_cgroup_v2_ancestor_is_tighter),
        cmocka_unit_test(test_cgroup_v1_hybrid),
        cmocka_unit_test(test_cgroup_namespaced_mount),
        cmocka_unit_test(test_cgroup_malformed_and_missing),
        cmocka_unit_test(test_slurm_cpus_per_task),
        cmocka_unit_test(test_slurm_job_cpus_per_node),
        cmocka_unit_test(test_slurm_job_shapes),
        cmocka_unit_test(test_slurm_step_rules),
        cmocka_unit_test(test_user_variables),
        cmocka_unit_test(test_real_system),
    };
    return cmocka_run_group_tests_name("cpus", tests, NULL, NULL);
}
