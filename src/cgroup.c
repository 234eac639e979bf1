/*
 * cgroup.c - the CPU quota of this process's cgroup, v2 and v1.
 *
 * A container or a Slurm job with task/cgroup may limit CPU time without
 * touching the affinity mask. The quota lives in the process's own cgroup,
 * named in /proc/self/cgroup, under wherever the hierarchy is mounted (read
 * from /proc/self/mountinfo: hybrid machines mount v2 at
 * /sys/fs/cgroup/unified, v1 controllers beside it). Every ancestor may set a
 * tighter quota, so the walk goes up to the mount point and keeps the
 * smallest. quota/period CPUs, rounded up: 1.5 CPUs of time keeps 2 busy.
 */
#include "cpus.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 4096

typedef struct mount {
    char point[PATH_MAX];   /* where it is mounted, under root */
    char base[PATH_MAX];    /* which cgroup is the mount's root */
} mount;

static FILE *open_at(const char *root, const char *path)
{
    char full[PATH_MAX];
    if (snprintf(full, sizeof full, "%s%s", root, path) >= (int)sizeof full)
        return NULL;
    return fopen(full, "r");
}

/* 1 if the comma list `opts` has `word`. */
static int has_word(const char *opts, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = opts; p != NULL; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0' ||
                                         p[n] == '\n' || p[n] == ' '))
            return 1;
    }
    return 0;
}

/* Finds the mount of cgroup2 (v1 == 0) or of the v1 "cpu" controller. */
static int find_mount(const char *root, int v1, mount *m)
{
    FILE *f = open_at(root, "/proc/self/mountinfo");
    if (f == NULL)
        return -1;
    char line[LINE_MAX_LEN], base[PATH_MAX], point[PATH_MAX];
    char fstype[64], super[LINE_MAX_LEN];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f) != NULL) {
        const char *sep = strstr(line, " - ");
        if (sep == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", base,
                                  point) != 2)
            continue;
        if (sscanf(sep + 3, "%63s %*s %4095s", fstype, super) != 2)
            continue;
        int match = v1 ? strcmp(fstype, "cgroup") == 0 && has_word(super, "cpu")
                       : strcmp(fstype, "cgroup2") == 0;
        if (match && snprintf(m->point, sizeof m->point, "%s%s", root,
                              point) < (int)sizeof m->point) {
            snprintf(m->base, sizeof m->base, "%s", base);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* This process's cgroup path for v2 (v1 == 0) or the v1 "cpu" controller. */
static int own_path(const char *root, int v1, char *path, size_t size)
{
    FILE *f = open_at(root, "/proc/self/cgroup");
    if (f == NULL)
        return -1;
    char line[LINE_MAX_LEN];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f) != NULL) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c1 = '\0';
        *c2 = '\0';
        int is_v2 = strcmp(line, "0") == 0 && c1[1] == '\0';
        if (v1 ? !is_v2 && has_word(c1 + 1, "cpu") : is_v2) {
            c2[strcspn(c2 + 1, "\n") + 1] = '\0';
            found = snprintf(path, size, "%s", c2 + 1) < (int)size ? 0 : -1;
        }
    }
    fclose(f);
    return found;
}

/* Reads up to two integers ("max" reads as -1) from dir/name. */
static int read_pair(const char *dir, const char *name, long long *a,
                     long long *b)
{
    char full[PATH_MAX], text[128];
    if (snprintf(full, sizeof full, "%s/%s", dir, name) >= (int)sizeof full)
        return -1;
    FILE *f = fopen(full, "r");
    if (f == NULL)
        return -1;
    int n = fgets(text, sizeof text, f) != NULL ? 1 : 0;
    fclose(f);
    if (n == 0)
        return -1;
    if (strncmp(text, "max", 3) == 0) {
        *a = -1;
        return sscanf(text + 3, "%lld", b) == 1 ? 2 : 1;
    }
    return sscanf(text, "%lld %lld", a, b);
}

static int quota_cpus(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return -1;
    long long n = (quota + period - 1) / period;
    return n > INT_MAX ? INT_MAX : (int)n;
}

static int level_limit(const char *dir, int v1)
{
    long long q = -1, p = -1;
    if (!v1)
        return read_pair(dir, "cpu.max", &q, &p) == 2 ? quota_cpus(q, p) : -1;
    long long unused;
    if (read_pair(dir, "cpu.cfs_quota_us", &q, &unused) < 1 ||
        read_pair(dir, "cpu.cfs_period_us", &p, &unused) < 1)
        return -1;
    return quota_cpus(q, p);
}

static int min_limit(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* Smallest quota from the process's cgroup up to the mount point. */
static int hierarchy_limit(const char *root, int v1)
{
    mount m;
    char path[PATH_MAX], dir[PATH_MAX];
    if (find_mount(root, v1, &m) != 0 || own_path(root, v1, path,
                                                  sizeof path) != 0)
        return -1;
    const char *rel = path;
    size_t nb = strlen(m.base);
    if (strcmp(m.base, "/") != 0 && strncmp(path, m.base, nb) == 0)
        rel = path + nb;   /* a namespaced mount starts below the root */
    if (snprintf(dir, sizeof dir, "%s%s", m.point, rel) >= (int)sizeof dir)
        return -1;
    size_t floor_len = strlen(m.point);
    int limit = -1;
    for (;;) {
        limit = min_limit(limit, level_limit(dir, v1));
        char *slash = strrchr(dir, '/');
        if (slash == NULL || (size_t)(slash - dir) < floor_len)
            break;
        *slash = '\0';
    }
    return limit;
}

int tf__cpus_cgroup_limit(const char *root)
{
    return min_limit(hierarchy_limit(root, 0), hierarchy_limit(root, 1));
}
