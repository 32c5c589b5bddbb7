/* testutil.c — see testutil.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testutil.h"

#include <joule/harness.h>
#include <joule/joule.h>

#include <check.h>
#include <sndfile.h>

#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char *last_stderr;

static void cleanup(void)
{
    if (tmpdir[0] && !getenv("TU_KEEP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd)) {
        }
    }
}

const char *tu_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/joule-test.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(99);
        }
        atexit(cleanup);
        /* a stage cache of its own, empty at the start: a suite's runs
         * never see entries left by another suite or an earlier make check */
        char cache[300];
        snprintf(cache, sizeof cache, "%s/cache", tmpdir);
        setenv("JOULE_CACHE_DIR", cache, 1);
    }
    return tmpdir;
}

const char *tu_path(const char *name)
{
    static char ring[16][512];
    static int k;
    char *p = ring[k++ % 16];
    snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
    return p;
}

void tu_write_wav(const char *path, int rate, int channels, size_t frames, const float *data, int format)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | (format ? format : SF_FORMAT_FLOAT);
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "%s: %s\n", path, sf_strerror(NULL));
        exit(99);
    }
    if (sf_writef_float(sf, data, (sf_count_t)frames) != (sf_count_t)frames) {
        fprintf(stderr, "%s: short write\n", path);
        exit(99);
    }
    sf_close(sf);
}

void tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        perror(path);
        exit(99);
    }
}

char *tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            s = realloc(s, cap *= 2);
    }
    s[n] = '\0';
    fclose(f);
    return s;
}

int tu_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return -1;
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t got;
    int rc = 0;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, out) != got)
            rc = -1;
    if (ferror(in))
        rc = -1;
    fclose(in);
    if (fclose(out))
        rc = -1;
    return rc;
}

int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int tu_joule(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args;
    if (vasprintf(&args, fmt, ap) < 0)
        exit(99);
    va_end(ap);
    const char *joule = getenv("JOULE");
    const char *err = tu_path("stderr.txt");
    char *cmd;
    if (asprintf(&cmd, "%s %s 2>'%s' >/dev/null", joule ? joule : "joule", args, err) < 0)
        exit(99);
    int st = system(cmd);
    free(cmd);
    free(args);
    free(last_stderr);
    last_stderr = tu_read_file(err);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

const char *tu_stderr(void)
{
    return last_stderr ? last_stderr : "";
}

int tu_csv_read(const char *path, tu_csv *csv)
{
    memset(csv, 0, sizeof *csv);
    char *text = tu_read_file(path);
    if (!text)
        return -1;
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (!line) {
        free(text);
        return -1;
    }
    size_t cols = 1;
    for (char *p = line; *p; p++)
        cols += *p == ',';
    csv->cols = cols;
    csv->names = calloc(cols, sizeof *csv->names);
    size_t k = 0;
    for (char *s2 = NULL, *t = strtok_r(line, ",", &s2); t && k < cols; t = strtok_r(NULL, ",", &s2))
        csv->names[k++] = strdup(t);
    size_t cap = 1024;
    csv->v = malloc(cap * cols * sizeof *csv->v);
    while ((line = strtok_r(NULL, "\n", &save))) {
        if (csv->rows == cap)
            csv->v = realloc(csv->v, (cap *= 2) * cols * sizeof *csv->v);
        char *p = line;
        for (size_t c = 0; c < cols; c++) {
            char *end;
            csv->v[csv->rows * cols + c] = strtod(p, &end);
            p = *end == ',' ? end + 1 : end;
        }
        csv->rows++;
    }
    free(text);
    return 0;
}

int tu_csv_col(const tu_csv *csv, const char *name)
{
    for (size_t c = 0; c < csv->cols; c++)
        if (!strcmp(csv->names[c], name))
            return (int)c;
    return -1;
}

void tu_csv_free(tu_csv *csv)
{
    for (size_t c = 0; c < csv->cols; c++)
        free(csv->names[c]);
    free(csv->names);
    free(csv->v);
    memset(csv, 0, sizeof *csv);
}

int tu_same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        char ba[65536], bb[65536];
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        same = na == nb && !memcmp(ba, bb, na);
        if (na < sizeof ba)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

char *tu_invariance(const char *graph_arg, const char *inputs_arg, const char *const *outputs, size_t n)
{
    /* the arguments may live in tu_path's ring, which the runs reuse */
    char *graph = strdup(graph_arg), *inputs = strdup(inputs_arg);
    static const int chunks[] = {1, 7, 4096, 65536};
    static const int threads[] = {1, 2, 8};
    char *why = NULL;
    for (int ci = 0; ci < 4 && !why; ci++)
        for (int ti = 0; ti < 3 && !why; ti++) {
            char dir[64];
            snprintf(dir, sizeof dir, "inv-%d-%d", chunks[ci], threads[ti]);
            /* computed every time: a cache would replay the first run */
            int rc = tu_joule("run '%s' %s -o '%s' -j %d --set graph.chunk=%d --no-cache", graph, inputs,
                              tu_path(dir), threads[ti], chunks[ci]);
            if (rc != 0) {
                if (asprintf(&why, "chunk %d, -j %d: exit %d: %s", chunks[ci], threads[ti], rc, tu_stderr()) < 0)
                    exit(99);
                break;
            }
            for (size_t k = 0; k < n && !why; k++) {
                char a[600], b[600];
                snprintf(a, sizeof a, "%s/inv-1-1/%s", tu_tmpdir(), outputs[k]);
                snprintf(b, sizeof b, "%s/%s/%s", tu_tmpdir(), dir, outputs[k]);
                if (!tu_exists(b)) {
                    if (asprintf(&why, "chunk %d, -j %d: %s was not written", chunks[ci], threads[ti], outputs[k]) < 0)
                        exit(99);
                } else if (!tu_same_bytes(a, b)) {
                    if (asprintf(&why, "chunk %d, -j %d: %s differs from chunk 1, -j 1", chunks[ci], threads[ti],
                                 outputs[k]) < 0)
                        exit(99);
                }
            }
        }
    /* The stage cache: a cold run (every cacheable node recorded) and a
     * run replaying it give the same bytes as computing. */
    static const char *const passes[] = {"inv-cold", "inv-replayed"};
    char *cache = strdup(tu_path("inv-cache"));
    for (int pass = 0; pass < 2 && !why; pass++) {
        int rc = tu_joule("run '%s' %s -o '%s' -j 2 --cache-dir '%s'", graph, inputs, tu_path(passes[pass]), cache);
        if (rc != 0) {
            if (asprintf(&why, "%s: exit %d: %s", passes[pass], rc, tu_stderr()) < 0)
                exit(99);
            break;
        }
        for (size_t k = 0; k < n && !why; k++) {
            char a[600], b[600];
            snprintf(a, sizeof a, "%s/inv-1-1/%s", tu_tmpdir(), outputs[k]);
            snprintf(b, sizeof b, "%s/%s/%s", tu_tmpdir(), passes[pass], outputs[k]);
            if (!tu_same_bytes(a, b) && asprintf(&why, "%s: %s differs from the computed one", passes[pass],
                                                 outputs[k]) < 0)
                exit(99);
        }
    }
    free(cache);
    free(graph);
    free(inputs);
    return why;
}

int tu_count_tmps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += !strncmp(e->d_name, ".joule-", 7);
    closedir(d);
    return n;
}

/* ---- one plugin in-process, through the harness ------------------------ */

/* Set each "name = value" line of `params` (blank lines skipped). */
static void set_params(joule_harness *h, const char *params)
{
    char *copy = strdup(params ? params : ""), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (!*line)
            continue;
        char *eq = strchr(line, '=');
        ck_assert_msg(eq != NULL, "parameter line '%s' has no '='", line);
        char *name_end = eq, *value = eq + 1, *value_end = eq + strlen(eq);
        while (name_end > line && isspace((unsigned char)name_end[-1]))
            name_end--;
        *name_end = '\0';
        while (isspace((unsigned char)*value))
            value++;
        while (value_end > value && isspace((unsigned char)value_end[-1]))
            value_end--;
        *value_end = '\0';
        int rc = joule_harness_set(h, line, value);
        ck_assert_msg(rc == 0, "%s = %s: %s", line, value, joule_harness_error(h));
    }
    free(copy);
}

static joule_harness *configure(joule_harness *h, const char *params, const joule_format *in)
{
    set_params(h, params);
    if (in) {
        int rc = joule_harness_set_input(h, 0, in);
        ck_assert_msg(rc == 0, "input format: %s", joule_harness_error(h));
    }
    return h;
}

joule_harness *tu_harness(const char *plugin, const char *params, const joule_format *in)
{
    joule_harness *h;
    char *err = NULL;
    int rc = joule_harness_load(plugin, &h, &err);
    ck_assert_msg(rc == 0, "%s: %s", plugin, err ? err : "?");
    return configure(h, params, in);
}

joule_harness *tu_harness_open(const char *plugin, const char *params, const joule_format *in)
{
    joule_harness *h = tu_harness(plugin, params, in);
    int rc = joule_harness_open(h);
    ck_assert_msg(rc == 0, "%s: open: %s", plugin, joule_harness_error(h));
    return h;
}

/* tu_harness_in_flags: a copy of the descriptor whose open passes the
 * plugin a copy of its arguments, the inputs' flags replaced. Everything
 * open is given stays valid until close (the plugin may keep `args`):
 * hence one such harness at a time. */
enum { WRAP_INPUTS = 16 };
static struct {
    const joule_descriptor *real;
    joule_descriptor desc;
    uint32_t flags;
    joule_open_args args;
    joule_format in[WRAP_INPUTS];
} wrap;

static int wrap_open(const joule_open_args *a, void **self)
{
    const joule_descriptor *d = wrap.real;
    wrap.args = *a;
    for (uint32_t k = 0; k < d->n_inputs; k++) {
        wrap.in[k] = a->inputs[k];
        if (wrap.in[k].kind)
            wrap.in[k].flags = wrap.flags;
    }
    wrap.args.inputs = wrap.in;
    return d->open(&wrap.args, self);
}

joule_harness *tu_harness_in_flags(const joule_descriptor *d, uint32_t in_flags, const char *params,
                                   const joule_format *in)
{
    ck_assert_uint_le(d->n_inputs, WRAP_INPUTS);
    memset(&wrap, 0, sizeof wrap);
    wrap.real = d;
    memcpy(&wrap.desc, d, d->struct_size < sizeof wrap.desc ? d->struct_size : sizeof wrap.desc);
    wrap.desc.open = wrap_open;
    wrap.flags = in_flags;
    joule_harness *h;
    char *err = NULL;
    int rc = joule_harness_new(&wrap.desc, &h, &err);
    ck_assert_msg(rc == 0, "%s: %s", d->name, err ? err : "?");
    return configure(h, params, in);
}

size_t tu_harness_feed(joule_harness *h, const float *rows, size_t n)
{
    size_t before, after;
    joule_harness_rows(h, 0, &before);
    int rc = joule_harness_feed(h, 0, rows, NULL, n);
    ck_assert_msg(rc == 0, "%s: feed: %s", joule_harness_descriptor(h)->name, joule_harness_error(h));
    joule_harness_rows(h, 0, &after);
    return after - before;
}

const float *tu_harness_end(joule_harness *h, size_t *n_rows)
{
    const char *name = joule_harness_descriptor(h)->name;
    int rc = joule_harness_finish(h);
    ck_assert_msg(rc == 0, "%s: finish: %s", name, joule_harness_error(h));
    rc = joule_harness_commit(h);
    ck_assert_msg(rc == 0, "%s: commit: %s", name, joule_harness_error(h));
    return joule_harness_rows(h, 0, n_rows);
}
