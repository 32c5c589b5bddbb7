/* util.c — see util.h. */
#include "config.h"

#include "util.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void oom(void)
{
    fputs("joule: out of memory\n", stderr);
    abort();
}

void *jl_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *jl_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *jl_realloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

char *jl_strdup(const char *s)
{
    return jl_strndup(s, strlen(s));
}

char *jl_strndup(const char *s, size_t n)
{
    char *d = jl_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *jl_vprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *s = jl_malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *jl_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = jl_vprintf(fmt, ap);
    va_end(ap);
    return s;
}

char *jl_strtrim(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return jl_strndup(s, n);
}

size_t jl_split_list(const char *s, char ***items)
{
    size_t n = 0, cap = 4;
    char **v = jl_malloc(cap * sizeof *v);
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *raw = jl_strndup(s, len);
        char *t = jl_strtrim(raw);
        free(raw);
        if (*t) {
            if (n + 2 > cap)
                v = jl_realloc(v, (cap *= 2) * sizeof *v);
            v[n++] = t;
        } else {
            free(t);
        }
        s += len;
        if (*s == ',')
            s++;
    }
    v[n] = NULL;
    *items = v;
    return n;
}

void jl_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of neighbours ("rsm" is one step from "rms"), case
 * ignored. */
size_t jl_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), w = lb + 1;
    size_t *d = jl_malloc((la + 1) * w * sizeof *d);
    for (size_t i = 0; i <= la; i++)
        d[i * w] = i;
    for (size_t j = 0; j <= lb; j++)
        d[j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[(i - 1) * w + j - 1] + (ca != cb);
            if (d[(i - 1) * w + j] + 1 < best)
                best = d[(i - 1) * w + j] + 1;
            if (d[i * w + j - 1] + 1 < best)
                best = d[i * w + j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == cb &&
                d[(i - 2) * w + j - 2] + 1 < best)
                best = d[(i - 2) * w + j - 2] + 1;
            d[i * w + j] = best;
        }
    size_t r = d[la * w + lb];
    free(d);
    return r;
}

const char *jl_suggest(const char *word, const char *const *cands, size_t n)
{
    /* A suggestion is only useful when it is plausibly what was meant: at
     * most a third of the word's letters wrong (and at least one allowed). */
    size_t len = strlen(word);
    size_t limit = len / 3 > 1 ? len / 3 : 1;
    if (len > 3 && limit < 2)
        limit = 2;
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = jl_edit_distance(word, cands[i]);
        /* one a prefix of the other ("output" for "out") is close too */
        size_t lc = strlen(cands[i]);
        if (lc >= 2 && len >= 2 && !strncasecmp(word, cands[i], lc < len ? lc : len))
            d = d < limit ? d : limit;
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

void jl_msgs_add(jl_msgs *m, const char *fmt, ...)
{
    if (m->n == m->cap)
        m->v = jl_realloc(m->v, (m->cap = m->cap ? m->cap * 2 : 8) * sizeof *m->v);
    va_list ap;
    va_start(ap, fmt);
    m->v[m->n++] = jl_vprintf(fmt, ap);
    va_end(ap);
}

void jl_msgs_free(jl_msgs *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

char *jl_escape(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += *p < 0x20 || *p == 0x7f ? 4 : 1;
    char *out = jl_malloc(n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (*p == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (*p < 0x20 || *p == 0x7f) {
            o += sprintf(o, "\\x%02x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

double jl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

char *jl_signal_text(int sig)
{
    const char *n = sig == SIGSEGV   ? "SIGSEGV"
                    : sig == SIGBUS  ? "SIGBUS"
                    : sig == SIGILL  ? "SIGILL"
                    : sig == SIGFPE  ? "SIGFPE"
                    : sig == SIGABRT ? "SIGABRT"
                    : sig == SIGSYS  ? "SIGSYS"
                    : sig == SIGTRAP ? "SIGTRAP"
                    : sig == SIGKILL ? "SIGKILL"
                    : sig == SIGTERM ? "SIGTERM"
                    : sig == SIGINT  ? "SIGINT"
                    : sig == SIGHUP  ? "SIGHUP"
                    : sig == SIGPIPE ? "SIGPIPE"
                                     : NULL;
    return n ? jl_strdup(n) : jl_printf("signal %d", sig);
}
