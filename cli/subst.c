/*
 * subst.c - replacement strings ({} {#} {%} {.} {/} {//} {/.} {N}) and the
 * argv of one task. Without --shell each word of COMMAND becomes one
 * argument after substitution, so an input is only ever text, one argument
 * (or part of one): no shell ever sees it. With --shell the words are
 * joined into a /bin/sh script and every substituted value is quoted for
 * the place it lands in the user's script: outside quotes in single quotes,
 * inside the user's '...' by closing and reopening them around a quote,
 * inside "..." by escaping $ ` \ and " (a plain '...' there would end the
 * user's own quotes and let $(...) in an input run). It is text there too.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct str {
    char *p;
    size_t len, cap;
} str;

static int put(str *s, const char *d, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t c = s->cap ? s->cap : 64;
        while (c < s->len + n + 1)
            c *= 2;
        char *q = realloc(s->p, c);
        if (q == NULL)
            return -1;
        s->p = q;
        s->cap = c;
    }
    memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = '\0';
    return 0;
}

int cli_quote(char **buf, size_t *len, size_t *cap, const char *s)
{
    str b = {*buf, *len, *cap};
    int rc = put(&b, "'", 1);
    for (const char *c = s; rc == 0 && *c; c++)
        rc = *c == '\'' ? put(&b, "'\\''", 4) : put(&b, c, 1);
    if (rc == 0)
        rc = put(&b, "'", 1);
    *buf = b.p;
    *len = b.len;
    *cap = b.cap;
    return rc;
}

/* Where the script being built stands: outside quotes, in '...', in "...",
 * each possibly right after a backslash. */
enum { SH_NONE, SH_SINGLE, SH_DOUBLE, SH_ESC = 4 };

/* The quoting state after the script's own character c. */
static int sh_next(int st, char c)
{
    if (st & SH_ESC)
        return st & ~SH_ESC;
    if (st == SH_SINGLE)
        return c == '\'' ? SH_NONE : st;
    if (c == '\\')
        return st | SH_ESC;
    if (c == '"')
        return st == SH_DOUBLE ? SH_NONE : SH_DOUBLE;
    if (c == '\'' && st == SH_NONE)
        return SH_SINGLE;
    return st;
}

/* v quoted as text for a script in state st. */
static int quote_in(str *out, const char *v, int st)
{
    st &= ~SH_ESC;
    if (st == SH_NONE)
        return cli_quote(&out->p, &out->len, &out->cap, v);
    for (const char *c = v; *c; c++) {
        int rc = st == SH_SINGLE && *c == '\'' ? put(out, "'\\''", 4)
                 : st == SH_DOUBLE && strchr("$`\\\"", *c)
                     ? put(out, "\\", 1) | put(out, c, 1)
                     : put(out, c, 1);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The length of a replacement token at s ("{...}"), or 0 if none. */
static size_t token_len(const char *s)
{
    static const char *const names[] = {"{}", "{#}", "{%}", "{.}", "{/}",
                                        "{//}", "{/.}"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (strncmp(s, names[k], strlen(names[k])) == 0)
            return strlen(names[k]);
    if (s[0] == '{' && s[1] >= '1' && s[1] <= '9') {
        size_t n = 2;
        while (s[n] >= '0' && s[n] <= '9')
            n++;
        if (s[n] == '}')
            return n + 1;
    }
    return 0;
}

int cli_has_replacement(char **cmd, int n, int colsep)
{
    (void)colsep;
    for (int k = 0; k < n; k++)
        for (const char *c = cmd[k]; *c; c++)
            if (token_len(c) > 0)
                return 1;
    return 0;
}

static const char *base_of(const char *s)
{
    const char *b = strrchr(s, '/');
    return b != NULL ? b + 1 : s;
}

/* Column `col` (1-based) of the input split at sep; "" past the last. */
static int column(str *v, const char *in, const char *sep, long col)
{
    size_t sl = strlen(sep);
    const char *start = in;
    for (long k = 1; k < col; k++) {
        const char *n = sep ? strstr(start, sep) : NULL;
        if (n == NULL)
            return put(v, "", 0);
        start = n + sl;
    }
    const char *end = strstr(start, sep);
    return put(v, start, end ? (size_t)(end - start) : strlen(start));
}

/* The value of one token into v. */
static int value(str *v, const char *tok, size_t tl, const cli_opts *o,
                 const cli_task_ctx *t)
{
    const char *in = t->input;
    char num[32];
    if (tl == 2)
        return put(v, in, strlen(in));
    if (strncmp(tok, "{#}", 3) == 0 || strncmp(tok, "{%}", 3) == 0) {
        int n = snprintf(num, sizeof(num), "%zu",
                         tok[1] == '#' ? t->seq : (size_t)t->slot);
        return put(v, num, (size_t)n);
    }
    const char *base = base_of(in);
    if (strncmp(tok, "{/}", 3) == 0)
        return put(v, base, strlen(base));
    if (strncmp(tok, "{//}", 4) == 0)
        return base == in ? put(v, ".", 1)
                          : put(v, in, (size_t)(base - in - 1 > 0 ?
                                                base - in - 1 : 1));
    if (strncmp(tok, "{.}", 3) == 0 || strncmp(tok, "{/.}", 4) == 0) {
        const char *from = tok[1] == '/' ? base : in;
        const char *dot = strrchr(base, '.');
        size_t n = dot != NULL && dot > base ? (size_t)(dot - from)
                                             : strlen(from);
        return put(v, from, n);
    }
    long col = strtol(tok + 1, NULL, 10);
    if (o->colsep == NULL)
        return col == 1 ? put(v, in, strlen(in)) : put(v, "", 0);
    return column(v, in, o->colsep, col);
}

/* One word of COMMAND with its tokens replaced, appended to out; sh is the
 * script's quoting state (carried from word to word), or NULL: no shell. */
static int expand(str *out, const char *word, const cli_opts *o,
                  const cli_task_ctx *t, int *sh)
{
    for (const char *c = word; *c;) {
        size_t tl = token_len(c);
        if (tl == 0) {
            if (put(out, c, 1) != 0)
                return -1;
            if (sh != NULL)
                *sh = sh_next(*sh, *c);
            c++;
            continue;
        }
        str v = {0};
        int rc = value(&v, c, tl, o, t);
        if (rc == 0 && sh != NULL) {
            if (*sh & SH_ESC)       /* \{}: that backslash would escape */
                out->p[--out->len] = '\0';   /* our quoting: drop it */
            rc = quote_in(out, v.p ? v.p : "", *sh);
            *sh &= ~SH_ESC;
        }
        else if (rc == 0)
            rc = put(out, v.p ? v.p : "", v.len);
        free(v.p);
        if (rc != 0)
            return -1;
        c += tl;
    }
    return put(out, "", 0);
}

static char **shell_argv(const cli_opts *o, int has_repl,
                         const cli_task_ctx *t)
{
    str script = {0};
    int rc = 0, sh = SH_NONE;
    for (int k = 0; rc == 0 && k < o->n_cmd; k++) {
        if (k > 0) {
            rc = put(&script, " ", 1);
            sh = sh_next(sh, ' ');
        }
        if (rc == 0)
            rc = expand(&script, o->cmd[k], o, t, &sh);
    }
    if (rc == 0 && !has_repl) {
        rc = put(&script, " ", 1);
        if (rc == 0)
            rc = quote_in(&script, t->input, sh_next(sh, ' '));
    }
    char **argv = calloc(4, sizeof(char *));
    if (rc != 0 || argv == NULL || (argv[0] = strdup("/bin/sh")) == NULL ||
        (argv[1] = strdup("-c")) == NULL) {
        free(script.p);
        cli_argv_free(argv);
        return NULL;
    }
    argv[2] = script.p;
    return argv;
}

char **cli_build_argv(const cli_opts *o, int has_repl, const cli_task_ctx *t)
{
    if (o->shell)
        return shell_argv(o, has_repl, t);
    int n = o->n_cmd + (has_repl ? 0 : 1);
    char **argv = calloc((size_t)n + 1, sizeof(char *));
    if (argv == NULL)
        return NULL;
    for (int k = 0; k < o->n_cmd; k++) {
        str w = {0};
        if (expand(&w, o->cmd[k], o, t, NULL) != 0) {
            free(w.p);
            cli_argv_free(argv);
            return NULL;
        }
        argv[k] = w.p;
    }
    if (!has_repl && (argv[n - 1] = strdup(t->input)) == NULL) {
        cli_argv_free(argv);
        return NULL;
    }
    return argv;
}

void cli_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

static int needs_quotes(const char *s)
{
    if (*s == '\0')
        return 1;
    for (; *s; s++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789_-./=:,+@%", *s) == NULL)
            return 1;
    return 0;
}

char *cli_argv_text(char **argv, int shell)
{
    if (shell)                  /* the script is the command line */
        return strdup(argv[2]);
    str s = {0};
    for (char **a = argv; *a; a++) {
        int rc = a != argv ? put(&s, " ", 1) : 0;
        if (rc == 0)
            rc = needs_quotes(*a) ? cli_quote(&s.p, &s.len, &s.cap, *a)
                                  : put(&s, *a, strlen(*a));
        if (rc != 0) {
            free(s.p);
            return NULL;
        }
    }
    return s.p ? s.p : strdup("");
}
