/*
 * joule/plugin-util.h — helpers for plugin authors: header-only, libc only.
 *
 * Everything here is static inline and uses nothing of libjoule, so a
 * plugin that includes it still links nothing but libc (and is built with
 * joule-plugin.pc, which has no Libs). The shipped plugins use it too.
 *
 *   jp_strdup, jp_split, jp_grow     strings, comma lists, growing arrays
 *   jp_find_col, jp_names_*          column lookup; names built at open
 *   jp_outfile_*                     an output file written through the
 *                                    host (host->open_output): placed only
 *                                    when the whole job succeeded, never
 *                                    half-written, never over an input
 *
 * It needs POSIX.1-2008 (fdopen, fileno, ftello): compile with -std=gnu99
 * or later, or define _POSIX_C_SOURCE 200809L before including it.
 * Identifiers are prefixed jp_ / JP_; new helpers are added, existing ones
 * keep their meaning.
 */
#ifndef JOULE_PLUGIN_UTIL_H
#define JOULE_PLUGIN_UTIL_H

#include <joule/plugin.h>

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- strings ----------------------------------------------------------- */

static inline char *jp_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = (char *)malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Split "a, b ,c" into trimmed non-empty items: returns the count, and a
 * NULL-terminated array in *out (one malloc block; free(*out) frees all). */
static inline size_t jp_split(const char *s, char ***out)
{
    size_t len = strlen(s), n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **v = (char **)malloc((n + 1) * sizeof *v + len + 1);
    if (!v) {
        *out = NULL;
        return 0;
    }
    char *buf = (char *)(v + n + 1);
    memcpy(buf, s, len + 1);
    size_t k = 0;
    for (char *tok = buf; tok;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (*tok)
            v[k++] = tok;
        tok = comma ? comma + 1 : NULL;
    }
    v[k] = NULL;
    *out = v;
    return k;
}

/* Make *p (of *cap elements of `elem` bytes) hold at least `need`
 * elements, doubling. Returns 0, or -1 with *p unchanged when out of
 * memory. */
static inline int jp_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* The index of the column called `name` in format f, or -1. */
static inline int jp_find_col(const joule_format *f, const char *name)
{
    for (uint32_t i = 0; i < f->n_columns; i++)
        if (!strcmp(f->names[i], name))
            return (int)i;
    return -1;
}

/* Column names built at open: one block holding the pointer array and the
 * strings, freed with free(). `fmt` gets the item's index... the caller
 * fills names with jp_names_set. */
typedef struct jp_names {
    char **v;     /* n names */
    char *buf;
    size_t n, used, cap;
} jp_names;

static inline int jp_names_init(jp_names *nm, size_t n)
{
    nm->n = n;
    nm->used = 0;
    nm->cap = 64 * (n ? n : 1);
    nm->v = (char **)calloc(n ? n : 1, sizeof *nm->v);
    nm->buf = (char *)malloc(nm->cap);
    return nm->v && nm->buf ? 0 : -1;
}

/* Set name i to the printf-formatted text. Returns 0 or -1 (no memory). */
static inline int jp_names_set(jp_names *nm, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int jp_names_set(jp_names *nm, size_t i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -1;
    /* names are kept as offsets until the buffer stops moving */
    if (nm->used + (size_t)len + 1 > nm->cap) {
        size_t cap = 2 * (nm->used + (size_t)len + 1);
        char *b = (char *)realloc(nm->buf, cap);
        if (!b)
            return -1;
        for (size_t k = 0; k < nm->n; k++)
            if (nm->v[k])
                nm->v[k] = b + (nm->v[k] - nm->buf);
        nm->buf = b;
        nm->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(nm->buf + nm->used, (size_t)len + 1, fmt, ap);
    va_end(ap);
    nm->v[i] = nm->buf + nm->used;
    nm->used += (size_t)len + 1;
    return 0;
}

static inline void jp_names_free(jp_names *nm)
{
    free(nm->v);
    free(nm->buf);
    nm->v = NULL;
    nm->buf = NULL;
}

/* ---- output files, written atomically ----------------------------------
 * The host makes the file (host->open_output): a fresh temporary beside
 * the target, which it puts in place together with the job's other
 * outputs once the whole job has succeeded, and removes otherwise. Open
 * gets the descriptor; finish flushes and closes it. A failed or
 * interrupted run thus never leaves a partial file, and never clobbers an
 * older complete one. */

typedef struct jp_outfile {
    char *path;
    FILE *f;
    int closed;
    long long synced; /* bytes whose write-back was started */
} jp_outfile;

/* The process's umask, without changing it: umask() can only be read by
 * setting it, and setting it, even for an instant, races with files being
 * created on other threads. Linux shows it in /proc/self/status. */
static inline mode_t jp_umask(void)
{
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v >= 0)
        return (mode_t)v;
    v = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[128];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Umask:", 6)) {
                v = (int)strtol(line + 6, NULL, 8) & 0777;
                break;
            }
        fclose(f);
    }
    __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    return (mode_t)v;
}

/* Returns 0, or -1 after host->error. `bufsize` sets stdio buffering. */
static inline int jp_outfile_open(jp_outfile *o, const char *path, const joule_host *h, size_t bufsize)
{
    memset(o, 0, sizeof *o);
    if (h->struct_size <= offsetof(joule_host, open_output) || !h->open_output) {
        h->error(h, "this host cannot create output files (joule 0.2 or later is needed)");
        return -1;
    }
    o->path = jp_strdup(path);
    if (!o->path) {
        h->error(h, "out of memory");
        return -1;
    }
    int fd = h->open_output(h, path);
    if (fd < 0)
        return -1;
    o->f = fdopen(fd, "w");
    if (!o->f) {
        h->error(h, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (bufsize)
        setvbuf(o->f, NULL, _IOFBF, bufsize);
    return 0;
}

/* The temporary file's descriptor, for libraries that write through a
 * descriptor of their own (libsndfile's sf_open_fd with close_desc = 0):
 * leave o->f unwritten, close the library's handle first, then call
 * jp_outfile_finish (which closes the descriptor), commit and discard as
 * usual. -1 when no file is open. */
static inline int jp_outfile_fd(const jp_outfile *o)
{
    return o->f ? fileno(o->f) : -1;
}

/* Call after writing a block: once JP_WRITEBACK more bytes are written,
 * the kernel is asked to start writing them to disk, without waiting. The
 * host syncs every output before putting it in place (a file that is
 * renamed into place must be on disk first); started early, that sync
 * finds most of a large file already written instead of waiting for all
 * of it at the end of the job. */
#define JP_WRITEBACK (4LL << 20)
static inline void jp_outfile_writeback(jp_outfile *o)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (!o->f)
        return;
    long long at = (long long)ftello(o->f);
    if (at - o->synced < JP_WRITEBACK)
        return;
    if (fflush(o->f) == 0)
        sync_file_range(fileno(o->f), o->synced, at - o->synced, SYNC_FILE_RANGE_WRITE);
    o->synced = at;
#else
    (void)o;
#endif
}

/* Flush and close the temporary file. Returns 0, or -1 after host->error. */
static inline int jp_outfile_finish(jp_outfile *o, const joule_host *h)
{
    if (!o->f)
        return 0;
    int bad = fflush(o->f) != 0 || ferror(o->f);
    int err = errno;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    o->closed = 1;
    if (bad) {
        h->error(h, "%s: write failed: %s", o->path, strerror(err ? err : EIO));
        return -1;
    }
    return 0;
}

/* Close the file if still open (a failed job: the host removes it), and
 * free. */
static inline void jp_outfile_discard(jp_outfile *o)
{
    if (o->f)
        fclose(o->f);
    free(o->path);
    memset(o, 0, sizeof *o);
}

#ifdef __cplusplus
}
#endif

#endif
