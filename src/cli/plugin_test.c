/* plugin_test.c — `joule plugin-test`: the conformance checker a plugin
 * author runs before publishing, built on the harness (<joule/harness.h>).
 *
 * Every run of the plugin happens in a child process with a time limit,
 * so that a plugin that crashes or hangs fails its check instead of the
 * checker. A run writes everything the plugin emitted (rows, times, and
 * the bytes of the files a sink wrote) to a dump file; checks compare
 * dumps byte for byte. The report is one line per check:
 *
 *     PASS  chunk sizes      1, 7, 4096 and random sizes: identical output
 *     FAIL  output bound     process wrote 9 rows to output 'out' for ...
 *
 * and the exit status is 1 when any check failed, 2 for a usage error. */
#define _GNU_SOURCE 1
#include "config.h"

#include "alloc_count.h"
#include "plugin_test.h"

#include <joule/harness.h>
#include <joule/joule.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_THREADS 4

/* ------------------------------------------------------------------------ */
/* Options                                                                   */

typedef struct via {
    char *plugin;
    char **sets; /* name=value */
    size_t n_sets;
} via;

typedef struct opts {
    const char *plugin;
    const char **sets;
    size_t n_sets;
    via *vias;
    size_t n_vias;
    const char *input;   /* the file a source reads */
    const char **connect; /* optional input ports to feed */
    size_t n_connect;
    unsigned channels;   /* synthetic signal */
    double rate, seconds;
    double timeout;
    int verbose;
} opts;

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("joule plugin-test: out of memory\n", stderr);
        exit(1);
    }
    return d;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("joule plugin-test: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("joule plugin-test: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Test input                                                                */

/* A reproducible generator: the same numbers on every machine. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

typedef struct stream {
    joule_format fmt;
    char **names;
    float *rows;
    double *times;
    size_t n;
} stream;

static void stream_free(stream *s)
{
    for (uint32_t i = 0; s->names && i < s->fmt.n_columns; i++)
        free(s->names[i]);
    free(s->names);
    free(s->rows);
    free(s->times);
    memset(s, 0, sizeof *s);
}

/* Mix NaN, infinities and denormals into a stream's rows: every 97th
 * value NaN, every 89th ±Inf, every 83rd a denormal, and the middle tenth
 * all NaN. */
static void add_specials(stream *s)
{
    static const float tiny = 1e-40f;
    size_t cols = s->fmt.n_columns, n = s->n;
    for (size_t k = 0; k < n * cols; k++) {
        if (k % 97 == 3)
            s->rows[k] = NAN;
        else if (k % 89 == 5)
            s->rows[k] = k % 2 ? INFINITY : -INFINITY;
        else if (k % 83 == 7)
            s->rows[k] = k % 2 ? tiny : -tiny;
    }
    for (size_t i = n * 45 / 100; i < n * 55 / 100; i++)
        for (size_t c = 0; c < cols; c++)
            s->rows[i * cols + c] = NAN;
}

/* What the plugin is fed on a port nothing is chained into: a signal of
 * tones and a little noise, frames of positive values, or events every
 * quarter second. `special`: NaN, infinities and denormals mixed in. */
static void synthetic(stream *s, uint32_t kind, const opts *o, int special)
{
    memset(s, 0, sizeof *s);
    uint32_t cols = kind == JOULE_SIGNAL ? o->channels : 4;
    double rate = kind == JOULE_SIGNAL ? o->rate : kind == JOULE_FRAMES ? 100.0 : 0.0;
    size_t n = kind == JOULE_EVENTS ? (size_t)(o->seconds * 4) : (size_t)(o->seconds * rate);
    s->fmt.kind = kind;
    s->fmt.n_columns = cols;
    s->fmt.rate = rate;
    s->names = xcalloc(cols, sizeof *s->names);
    for (uint32_t c = 0; c < cols; c++) {
        char b[32];
        snprintf(b, sizeof b, kind == JOULE_SIGNAL ? "ch%u" : "v%u", c);
        s->names[c] = xstrdup(b);
    }
    s->fmt.names = (const char *const *)s->names;
    s->fmt.length = kind == JOULE_EVENTS ? 0 : n;
    s->rows = xcalloc(n * cols, sizeof(float));
    s->times = kind == JOULE_EVENTS ? xcalloc(n, sizeof(double)) : NULL;
    s->n = n;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        if (s->times)
            s->times[i] = 0.25 * (double)i;
        for (uint32_t c = 0; c < cols; c++) {
            double v;
            if (kind == JOULE_SIGNAL) {
                double f = 110.0 * (c + 1) * 1.618;
                v = 0.5 * sin(2 * M_PI * f * (double)i / rate) + 0.05 * (rng_unit(&seed) - 0.5);
            } else
                v = rng_unit(&seed);
            s->rows[i * cols + c] = (float)v;
        }
    }
    if (special)
        add_specials(s);
}

/* A 32-bit float WAV of the synthetic signal, for a source to read when
 * no --input is given. */
static int write_wav(const char *path, const opts *o)
{
    stream s;
    synthetic(&s, JOULE_SIGNAL, o, 0);
    FILE *f = fopen(path, "wb");
    if (!f) {
        stream_free(&s);
        return -1;
    }
    uint32_t ch = o->channels, rate = (uint32_t)o->rate, bytes = (uint32_t)(s.n * ch * 4);
    unsigned char h[44];
    memcpy(h, "RIFF", 4);
    uint32_t v = 36 + bytes;
    memcpy(h + 4, &v, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    v = 16;
    memcpy(h + 16, &v, 4);
    uint16_t w = 3; /* IEEE float */
    memcpy(h + 20, &w, 2);
    w = (uint16_t)ch;
    memcpy(h + 22, &w, 2);
    memcpy(h + 24, &rate, 4);
    v = rate * ch * 4;
    memcpy(h + 28, &v, 4);
    w = (uint16_t)(ch * 4);
    memcpy(h + 32, &w, 2);
    w = 32;
    memcpy(h + 34, &w, 2);
    memcpy(h + 36, "data", 4);
    memcpy(h + 40, &bytes, 4);
    int bad = fwrite(h, 1, 44, f) != 44 || fwrite(s.rows, 4, s.n * ch, f) != s.n * ch;
    bad |= fclose(f) != 0;
    stream_free(&s);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* One run of the plugin (in a child process)                                */

typedef struct run_spec {
    const uint32_t *chunks;
    size_t n_chunks;
    int special;      /* NaN, Inf, denormal input */
    int empty;        /* no input rows at all */
    int in_place;
    int port_order;   /* 1: feed ports round-robin chunk by chunk */
    int count_allocs;
    int finish_after_failure; /* when process fails: call finish anyway */
    int open_only;    /* open, then close: nothing else */
    int twice;        /* run twice in one process; the second is dumped */
} run_spec;

typedef struct run_ctx {
    const opts *o;
    const char *work;    /* scratch folder */
    const char *wav;     /* generated input for sources */
    unsigned long allocs;
    uint64_t calls;
    double *call_times;
    size_t n_times, cap_times;
    double t_call;
    int counting;
} run_ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Allocations are counted in process only: the ABI asks process for
 * bounded time without allocating; finish may allocate (a sink drawing its
 * picture, a summary). */
static void hook_before(void *user, const char *call)
{
    run_ctx *c = user;
    if (strcmp(call, "process") && strcmp(call, "finish"))
        return;
    if (c->counting && !strcmp(call, "process"))
        alloc_count_start();
    c->t_call = now();
}

static void hook_after(void *user, const char *call)
{
    run_ctx *c = user;
    if (strcmp(call, "process") && strcmp(call, "finish"))
        return;
    double t = now() - c->t_call;
    if (c->counting && !strcmp(call, "process"))
        c->allocs += alloc_count_stop();
    c->calls++;
    if (!strcmp(call, "process")) {
        if (c->n_times == c->cap_times) {
            c->cap_times = c->cap_times ? 2 * c->cap_times : 256;
            c->call_times = xrealloc(c->call_times, c->cap_times * sizeof(double));
        }
        c->call_times[c->n_times++] = t;
    }
}

static void quiet_log(void *user, int level, const char *message)
{
    (void)user;
    (void)level;
    (void)message;
}

/* Plugins loaded in this process, by the name or path they were asked
 * for: each is loaded (and probed, in a child process) once, before any
 * thread starts, and every harness after that is made from its
 * descriptor, so no thread forks. Never freed: a run is one child. */
typedef struct loaded {
    char *plugin;
    joule_harness *keep;
} loaded;
static loaded cache[32];
static size_t n_cache;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static const joule_descriptor *load_once(const char *plugin, char **err)
{
    const joule_descriptor *d = NULL;
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < n_cache && !d; i++)
        if (!strcmp(cache[i].plugin, plugin))
            d = joule_harness_descriptor(cache[i].keep);
    joule_harness *h;
    if (!d && n_cache < sizeof cache / sizeof cache[0] && joule_harness_load(plugin, &h, err) == 0) {
        cache[n_cache].plugin = xstrdup(plugin);
        cache[n_cache++].keep = h;
        d = joule_harness_descriptor(h);
    }
    pthread_mutex_unlock(&cache_mu);
    return d;
}

/* Open a harness for "PLUGIN" with "name=value" settings. */
static joule_harness *open_plugin(const char *plugin, const char *const *sets, size_t n_sets, char **err)
{
    joule_harness *h;
    const joule_descriptor *d = load_once(plugin, err);
    if (!d || joule_harness_new(d, &h, err) != 0)
        return NULL;
    for (size_t i = 0; i < n_sets; i++) {
        char *kv = xstrdup(sets[i]);
        char *eq = strchr(kv, '=');
        int rc = eq ? (*eq = '\0', joule_harness_set(h, kv, eq + 1)) : JOULE_E_USAGE;
        if (rc) {
            if (asprintf(err, "--set %s: %s", sets[i], eq ? joule_harness_error(h) : "expected name=value") < 0)
                *err = NULL;
            free(kv);
            joule_harness_free(h);
            return NULL;
        }
        free(kv);
    }
    joule_harness_set_log(h, quiet_log, NULL);
    return h;
}

/* The input for port 0 through the --via chain: the last stage's first
 * output. Returns 0, or -1 with *err. */
static int run_chain(const opts *o, const run_spec *sp, const char *input_path, stream *out, char **err)
{
    stream cur;
    memset(&cur, 0, sizeof cur);
    int have = 0;
    for (size_t v = 0; v < o->n_vias; v++) {
        joule_harness *h = open_plugin(o->vias[v].plugin, (const char *const *)o->vias[v].sets, o->vias[v].n_sets, err);
        if (!h)
            goto fail;
        const joule_descriptor *d = joule_harness_descriptor(h);
        joule_harness_set_input_path(h, input_path);
        if (d->role == JOULE_ROLE_SINK) {
            if (asprintf(err, "--via %s: a sink has no output to chain", d->name) < 0)
                *err = NULL;
            joule_harness_free(h);
            goto fail;
        }
        if (d->role != JOULE_ROLE_SOURCE) {
            if (!have) {
                uint32_t k = d->inputs[0].kinds;
                /* clean: the specials go to the plugin under test */
                synthetic(&cur, k & JOULE_SIGNAL ? JOULE_SIGNAL : k & JOULE_FRAMES ? JOULE_FRAMES : JOULE_EVENTS, o,
                          0);
                have = 1;
            }
            joule_harness_set_input(h, 0, &cur.fmt);
        }
        int rc = joule_harness_open(h);
        if (!rc)
            rc = d->role == JOULE_ROLE_SOURCE ? joule_harness_pull(h)
                                              : joule_harness_feed(h, 0, cur.rows, cur.times, cur.n);
        if (!rc)
            rc = joule_harness_finish(h);
        if (rc) {
            if (asprintf(err, "--via %s: %s", d->name, joule_harness_error(h)) < 0)
                *err = NULL;
            joule_harness_free(h);
            goto fail;
        }
        const joule_format *f = joule_harness_output_format(h, 0);
        stream next;
        memset(&next, 0, sizeof next);
        next.fmt = *f;
        next.fmt.out_num = next.fmt.out_den = next.fmt.flags = 0;
        next.names = xcalloc(f->n_columns, sizeof *next.names);
        for (uint32_t c = 0; c < f->n_columns; c++)
            next.names[c] = xstrdup(f->names[c]);
        next.fmt.names = (const char *const *)next.names;
        char **units = NULL;
        if (f->units) {
            /* kept with the names: one block freed by stream_free would be
             * nicer; a chain runs once per child, so this stays small */
            units = xcalloc(f->n_columns, sizeof *units);
            for (uint32_t c = 0; c < f->n_columns; c++)
                units[c] = xstrdup(f->units[c]);
            next.fmt.units = (const char *const *)units;
        }
        size_t n;
        const float *rows = joule_harness_rows(h, 0, &n);
        next.rows = xcalloc(n * f->n_columns, sizeof(float));
        if (n)
            memcpy(next.rows, rows, n * f->n_columns * sizeof(float));
        if (f->kind == JOULE_EVENTS) {
            next.times = xcalloc(n, sizeof(double));
            if (n)
                memcpy(next.times, joule_harness_times(h, 0), n * sizeof(double));
        }
        next.n = n;
        joule_harness_free(h);
        stream_free(&cur);
        cur = next;
        have = 1;
    }
    *out = cur;
    return 0;
fail:
    stream_free(&cur);
    return -1;
}

/* The dump: every output's rows and times, then each output file's name
 * and bytes. */
static int dump_write(FILE *f, joule_harness *h)
{
    const joule_descriptor *d = joule_harness_descriptor(h);
    for (uint32_t p = 0; p < d->n_outputs; p++) {
        size_t n;
        const float *rows = joule_harness_rows(h, p, &n);
        const double *times = joule_harness_times(h, p);
        const joule_format *fmt = joule_harness_output_format(h, p);
        uint64_t n64 = n;
        fwrite(&p, sizeof p, 1, f);
        fwrite(&n64, sizeof n64, 1, f);
        if (n)
            fwrite(rows, sizeof(float), n * fmt->n_columns, f);
        if (times && n)
            fwrite(times, sizeof(double), n, f);
    }
    for (size_t i = 0;; i++) {
        const char *path = joule_harness_output_file(h, i);
        if (!path)
            break;
        const char *base = strrchr(path, '/');
        fprintf(f, "file %s\n", base ? base + 1 : path);
        FILE *in = fopen(path, "rb");
        if (!in)
            return -1;
        char buf[65536];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, in)) > 0)
            fwrite(buf, 1, k, f);
        fclose(in);
    }
    return ferror(f) ? -1 : 0;
}

/* Result line of a child, written to its result file. */
typedef struct result {
    int status; /* 0 ok; 1 plugin failure (message); 2 crash; 3 timeout */
    char msg[1024];
    unsigned long allocs;
    uint64_t calls;     /* process and finish */
    uint64_t process_calls;
    double median_call, max_call;
    uint64_t rows_in;
    int nan_out;  /* special input: 1 if any output value is NaN */
    int failed_process; /* the plugin's process failed (special input) */
    uint32_t out0_flags; /* the first output's format flags, from open */
} result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int any_nan(joule_harness *h)
{
    const joule_descriptor *d = joule_harness_descriptor(h);
    for (uint32_t p = 0; p < d->n_outputs; p++) {
        size_t n;
        const float *rows = joule_harness_rows(h, p, &n);
        size_t k = n * joule_harness_output_format(h, p)->n_columns;
        for (size_t i = 0; i < k; i++)
            if (isnan(rows[i]))
                return 1;
    }
    return 0;
}

/* Is input port k fed? Required ports always; optional ones when named
 * with --connect (and port 0 when a --via chain feeds it). */
static int port_fed(const opts *o, const joule_descriptor *d, uint32_t k)
{
    if (!(d->inputs[k].flags & JOULE_PORT_OPTIONAL) || (k == 0 && o->n_vias))
        return 1;
    for (size_t i = 0; i < o->n_connect; i++)
        if (!strcmp(o->connect[i], d->inputs[k].name))
            return 1;
    return 0;
}

/* Run once, in this (child) process, writing the dump to `dump`. */
static void run_once(const opts *o, const run_spec *sp, run_ctx *ctx, const char *out_dir, const char *dump,
                     result *res)
{
    memset(res, 0, sizeof *res);
    char *err = NULL;
    const char *input_path = o->input ? o->input : ctx->wav;
    joule_harness *h = open_plugin(o->plugin, o->sets, o->n_sets, &err);
    if (!h) {
        res->status = 1;
        snprintf(res->msg, sizeof res->msg, "%s", err ? err : "cannot load");
        free(err);
        return;
    }
    const joule_descriptor *d = joule_harness_descriptor(h);
    joule_harness_set_input_path(h, input_path);
    joule_harness_set_output_dir(h, out_dir);
    joule_harness_set_chunks(h, sp->chunks, sp->n_chunks);
    joule_harness_set_in_place(h, sp->in_place);
    ctx->counting = sp->count_allocs && alloc_count_available();
    joule_harness_set_hooks(h, hook_before, hook_after, ctx);
    stream in[8];
    uint32_t n_in = d->n_inputs < 8 ? d->n_inputs : 8;
    memset(in, 0, sizeof in);
    int rc = 0;
    for (uint32_t k = 0; k < n_in && !rc; k++) {
        if (k == 0 && o->n_vias) {
            if (run_chain(o, sp, input_path, &in[0], &err)) {
                res->status = 1;
                snprintf(res->msg, sizeof res->msg, "%s", err ? err : "the --via chain failed");
                free(err);
                rc = -1;
                break;
            }
            /* what the chain made, with the specials mixed in: the plugin
             * under test is the one that must cope with them */
            if (sp->special)
                add_specials(&in[0]);
        } else if (!port_fed(o, d, k))
            continue;
        else {
            uint32_t kinds = d->inputs[k].kinds;
            synthetic(&in[k], kinds & JOULE_SIGNAL ? JOULE_SIGNAL : kinds & JOULE_FRAMES ? JOULE_FRAMES : JOULE_EVENTS,
                      o, sp->special);
        }
        if (sp->empty)
            in[k].n = 0;
        rc = joule_harness_set_input(h, k, &in[k].fmt);
    }
    if (!rc)
        rc = joule_harness_open(h);
    if (!rc && d->n_outputs)
        res->out0_flags = joule_harness_output_format(h, 0)->flags;
    if (!rc && !sp->open_only) {
        if (d->role == JOULE_ROLE_SOURCE)
            rc = joule_harness_pull(h);
        else if (sp->port_order) {
            /* round-robin: a chunk of each port in turn, last port first */
            size_t at[8] = {0};
            uint32_t step = sp->chunks[0];
            int more = 1;
            while (more && !rc) {
                more = 0;
                for (uint32_t k = n_in; k-- > 0 && !rc;) {
                    if (!in[k].fmt.kind || at[k] >= in[k].n)
                        continue;
                    size_t n = in[k].n - at[k] < step ? in[k].n - at[k] : step;
                    rc = joule_harness_feed(h, k, in[k].rows + at[k] * in[k].fmt.n_columns,
                                            in[k].times ? in[k].times + at[k] : NULL, n);
                    at[k] += n;
                    more |= at[k] < in[k].n;
                }
            }
        } else
            for (uint32_t k = 0; k < n_in && !rc; k++)
                if (in[k].fmt.kind)
                    rc = joule_harness_feed(h, k, in[k].rows, in[k].times, in[k].n);
        if (rc && sp->finish_after_failure) {
            /* as a lenient host might: finish anyway, then close */
            res->failed_process = 1;
            snprintf(res->msg, sizeof res->msg, "%s", joule_harness_error(h));
            joule_harness_finish(h);
            rc = 0;
            joule_harness_close(h);
            joule_harness_free(h);
            for (uint32_t k = 0; k < n_in; k++)
                stream_free(&in[k]);
            return;
        }
        if (!rc)
            rc = joule_harness_finish(h);
        if (!rc)
            rc = joule_harness_commit(h);
    }
    if (rc && !res->failed_process && !res->status) {
        res->status = 1;
        snprintf(res->msg, sizeof res->msg, "%s", joule_harness_error(h));
    }
    joule_harness_close(h);
    if (!rc && sp->special)
        res->nan_out = any_nan(h);
    if (!rc && !sp->open_only) {
        FILE *f = fopen(dump, "wb");
        if (!f || dump_write(f, h) || fclose(f)) {
            res->status = 1;
            snprintf(res->msg, sizeof res->msg, "cannot write the dump %s", dump);
        }
    }
    joule_harness_stats st;
    joule_harness_get_stats(h, &st);
    res->rows_in = st.rows_in;
    res->calls = ctx->calls;
    res->process_calls = ctx->n_times;
    res->allocs = ctx->allocs;
    if (ctx->n_times) {
        qsort(ctx->call_times, ctx->n_times, sizeof(double), cmp_double);
        res->median_call = ctx->call_times[ctx->n_times / 2];
        res->max_call = ctx->call_times[ctx->n_times - 1];
    }
    joule_harness_free(h);
    for (uint32_t k = 0; k < n_in; k++)
        stream_free(&in[k]);
}

/* The plugin's finish after its process failed: does it survive? Done in
 * the child with the plugin's own descriptor, outside the harness (which
 * refuses to go on after a failure, as joule run does). */
static void finish_after_failure(const opts *o, run_ctx *ctx, result *res)
{
    static const uint32_t one[] = {4096};
    run_spec sp = {one, 1, 1, 0, 0, 0, 0, 1, 0, 0};
    run_once(o, &sp, ctx, ctx->work, "/dev/null", res);
}

typedef struct thread_arg {
    const opts *o;
    const run_spec *sp;
    run_ctx ctx;
    char out[4096], dump[4200];
    result r;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    run_once(a->o, a->sp, &a->ctx, a->out, a->dump, &a->r);
    return NULL;
}

static void run_threads(const opts *o, const run_spec *sp, run_ctx *ctx, const char *outd, const char *dump,
                         result *res)
{
    thread_arg a[N_THREADS];
    pthread_t t[N_THREADS];
    memset(a, 0, sizeof a);
    /* each thread cuts its input differently, so that at any moment the
     * instances are at different rows: a buffer or state shared between
     * instances then shows in the output */
    static const uint32_t sizes[N_THREADS][3] = {{4096, 4096, 4096}, {7, 7, 7}, {1000, 3, 61}, {1, 1, 1}};
    run_spec sps[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        sps[i] = *sp;
        sps[i].chunks = sizes[i];
        sps[i].n_chunks = 3;
        a[i].o = o;
        a[i].sp = &sps[i];
        a[i].ctx = *ctx;
        if (snprintf(a[i].out, sizeof a[i].out, "%s/t%d", outd, i) >= (int)sizeof a[i].out)
            a[i].out[0] = '\0';
        mkdir(a[i].out, 0700);
        snprintf(a[i].dump, sizeof a[i].dump, "%s.%d", dump, i);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_create(&t[i], NULL, thread_main, &a[i]);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    *res = a[0].r;
    for (int i = 0; i < N_THREADS; i++) {
        if (a[i].r.status) {
            *res = a[i].r;
            break;
        }
        free(a[i].ctx.call_times);
    }
}

/* Run `sp` in a child; its result in *res, its dump in `dump`. */
static void run_child(const opts *o, const run_spec *sp, run_ctx *ctx, const char *tag, int threads, result *res)
{
    char dump[4096], resf[4096], outd[4096];
    snprintf(dump, sizeof dump, "%s/%s.dump", ctx->work, tag);
    snprintf(resf, sizeof resf, "%s/%s.result", ctx->work, tag);
    snprintf(outd, sizeof outd, "%s/%s.out", ctx->work, tag);
    mkdir(outd, 0700);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        res->status = 1;
        snprintf(res->msg, sizeof res->msg, "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* the plugin's standard output (a sink writing to "-") goes to a
         * file, not into the report */
        char so[4200];
        snprintf(so, sizeof so, "%s/%s.stdout", ctx->work, tag);
        int fd = open(so, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        result r;
        if (sp->finish_after_failure)
            finish_after_failure(o, ctx, &r);
        else if (threads > 1) {
            /* several at once, each dumped; loaded first, on one thread */
            char *e = NULL;
            load_once(o->plugin, &e);
            for (size_t v = 0; v < o->n_vias; v++)
                load_once(o->vias[v].plugin, &e);
            free(e);
            run_threads(o, sp, ctx, outd, dump, &r);
        }
        else {
            if (sp->twice) /* a first instance, then the one compared */
                run_once(o, sp, ctx, outd, "/dev/null", &r);
            if (!sp->twice || !r.status)
                run_once(o, sp, ctx, outd, dump, &r);
        }
        FILE *f = fopen(resf, "wb");
        if (f) {
            fwrite(&r, sizeof r, 1, f);
            fclose(f);
        }
        fflush(NULL);
        _exit(0);
    }
    double deadline = now() + o->timeout;
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            res->status = 3;
            snprintf(res->msg, sizeof res->msg, "did not finish within %g s (hung?)", o->timeout);
            return;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    if (WIFSIGNALED(st)) {
        res->status = 2;
        snprintf(res->msg, sizeof res->msg, "crashed with %s", strsignal(WTERMSIG(st)));
        return;
    }
    FILE *f = fopen(resf, "rb");
    if (!f || fread(res, sizeof *res, 1, f) != 1) {
        res->status = 2;
        snprintf(res->msg, sizeof res->msg, "the plugin ended the process (exit status %d)",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    if (f)
        fclose(f);
}

/* ------------------------------------------------------------------------ */
/* Comparing dumps                                                           */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n + 65536 > cap) {
            cap = cap ? 2 * cap : 1 << 20;
            b = xrealloc(b, cap);
        }
        size_t k = fread(b + *n, 1, cap - *n, f);
        if (!k)
            break;
        *n += k;
    }
    fclose(f);
    return b;
}

/* 0 when the two dumps are identical; else where they first differ. */
static int same_dump(const char *a, const char *b, char *where, size_t where_n)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    if (!same) {
        size_t i = 0;
        while (x && y && i < na && i < nb && x[i] == y[i])
            i++;
        snprintf(where, where_n, "%s at byte %zu of the output (%zu and %zu bytes)",
                 !x || !y ? "missing" : "different", i, na, nb);
    }
    free(x);
    free(y);
    return same ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* The report                                                                */

typedef struct tally {
    int pass, fail, skip, warn;
} tally;

static void line(tally *t, const char *status, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void line(tally *t, const char *status, const char *check, const char *fmt, ...)
{
    if (!strcmp(status, "PASS"))
        t->pass++;
    else if (!strcmp(status, "FAIL"))
        t->fail++;
    else if (!strcmp(status, "SKIP"))
        t->skip++;
    else if (!strcmp(status, "WARN"))
        t->warn++;
    printf("%-4s  %-16s  ", status, check);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* "1.2.3", optionally followed by "-suffix" or "+build". */
static int valid_version(const char *v)
{
    if (!v)
        return 0;
    for (int part = 0; part < 3; part++) {
        if (!(*v >= '0' && *v <= '9'))
            return 0;
        while (*v >= '0' && *v <= '9')
            v++;
        if (part < 2 && *v++ != '.')
            return 0;
    }
    return !*v || *v == '-' || *v == '+';
}

static int utf8_text(const char *s, int newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 && !(newlines && (*p == '\n' || *p == '\t')))
            return 0;
        if (*p == 0x7f)
            return 0;
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0)
            return 0;
        p++;
        while (n--)
            if ((*p++ & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

static void check_descriptor(tally *t, const joule_descriptor *d)
{
    char why[512] = "";
    if (!valid_version(d->version))
        snprintf(why, sizeof why, "version '%s' is not MAJOR.MINOR.PATCH", d->version);
    else if (!*d->summary || strchr(d->summary, '\n'))
        snprintf(why, sizeof why, "the summary must be one line");
    for (uint32_t i = 0; i < d->n_inputs && !*why; i++)
        if (!d->inputs[i].help || !*d->inputs[i].help)
            snprintf(why, sizeof why, "input '%s' has no help text", d->inputs[i].name);
    for (uint32_t i = 0; i < d->n_outputs && !*why; i++)
        if (!d->outputs[i].help || !*d->outputs[i].help)
            snprintf(why, sizeof why, "output '%s' has no help text", d->outputs[i].name);
    for (uint32_t i = 0; i < d->n_outputs && !*why; i++)
        if (d->outputs[i].flags)
            snprintf(why, sizeof why, "output '%s' has port flags, which only inputs have", d->outputs[i].name);
    if (*why)
        line(t, "FAIL", "descriptor", "%s", why);
    else if (strlen(d->summary) > 100)
        line(t, "WARN", "descriptor", "the summary is %zu characters: `joule plugins` shows it best in 100 or "
                                      "fewer", strlen(d->summary));
    else
        line(t, "PASS", "descriptor", "%s %s: %s, %u input%s, %u output%s, %u parameter%s", d->name, d->version,
             d->role == JOULE_ROLE_SOURCE ? "source" : d->role == JOULE_ROLE_SINK ? "sink" : "filter", d->n_inputs,
             d->n_inputs == 1 ? "" : "s", d->n_outputs, d->n_outputs == 1 ? "" : "s", d->n_params,
             d->n_params == 1 ? "" : "s");
}

/* What the object offering d bridges (its JOULE_BRIDGE_SYMBOL text), or
 * NULL when it is a plugin of joule's own. Found through the object that
 * holds d's code: a bridge's descriptors are built on the heap. */
static const char *bridge_of(const joule_descriptor *d)
{
    Dl_info info;
    void *code;
    memcpy(&code, &d->open, sizeof code);
    if (!dladdr(code, &info) || !info.dli_fname)
        return NULL;
    void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return NULL;
    const char *b = dlsym(h, JOULE_BRIDGE_SYMBOL);
    dlclose(h);
    return b;
}

static void check_metadata(tally *t, const joule_descriptor *d)
{
    if (!JOULE_DESC_HAS(d, homepage)) {
        line(t, "FAIL", "metadata", "the descriptor ends before maker, license, description and homepage: "
                                    "rebuild against joule 0.4 or later and fill them in");
        return;
    }
    const char *why = NULL;
    if (!d->maker || !*d->maker)
        why = "no maker: say who made the plugin";
    else if (!d->license || !*d->license)
        why = "no license: give an SPDX expression such as MIT or GPL-2.0-or-later";
    else if (!utf8_text(d->maker, 0) || !utf8_text(d->license, 0) || (d->homepage && !utf8_text(d->homepage, 0)))
        why = "maker or license is not one line of UTF-8 text";
    else if (d->description && (!*d->description || !utf8_text(d->description, 1)))
        why = "the description is empty or not UTF-8 text";
    else if (d->homepage && strncmp(d->homepage, "https://", 8) && strncmp(d->homepage, "http://", 7))
        why = "the homepage is not an http(s):// address";
    const char *bridge = why && (!d->maker || !*d->maker || !d->license || !*d->license) ? bridge_of(d) : NULL;
    if (bridge)
        /* the foreign plugin's maker and terms are what they are: its
         * format may not say them in joule's form (Vamp has a free-text
         * copyright, LADSPA no licence field) */
        line(t, "WARN", "metadata", "%s (a plugin of another format, from the bridge to %s: its own terms apply)",
             why, bridge);
    else if (why)
        line(t, "FAIL", "metadata", "%s", why);
    else
        line(t, "PASS", "metadata", "%s, %s%s%s", d->maker, d->license, d->homepage ? ", " : "",
             d->homepage ? d->homepage : "");
}

static void check_params(tally *t, const opts *o, const joule_descriptor *d)
{
    char why[512] = "";
    for (uint32_t i = 0; i < d->n_params && !*why; i++) {
        const joule_param *p = &d->params[i];
        if (!p->help || !*p->help)
            snprintf(why, sizeof why, "parameter '%s' has no help text", p->name);
        else if ((p->flags & JOULE_PARAM_HAS_MIN) && (p->flags & JOULE_PARAM_HAS_MAX) && p->min > p->max)
            snprintf(why, sizeof why, "parameter '%s': min %g is above max %g", p->name, p->min, p->max);
        else if (p->type == JOULE_PARAM_ENUM)
            for (uint32_t c = 0; p->choices[c] && !*why; c++) {
                if (!*p->choices[c])
                    snprintf(why, sizeof why, "parameter '%s': choice %u is empty", p->name, c);
                for (uint32_t k = 0; k < c && !*why; k++)
                    if (!strcmp(p->choices[k], p->choices[c]))
                        snprintf(why, sizeof why, "parameter '%s': choice '%s' is listed twice", p->name,
                                 p->choices[c]);
            }
        else if ((p->type == JOULE_PARAM_STRING || p->type == JOULE_PARAM_BOOL) &&
                 (p->flags & (JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX)))
            snprintf(why, sizeof why, "parameter '%s': a range on a %s parameter means nothing", p->name,
                     p->type == JOULE_PARAM_STRING ? "string" : "bool");
    }
    if (*why) {
        line(t, "FAIL", "parameters", "%s", why);
        return;
    }
    /* every default parses, lies in its range, and passes check() with the
     * others: the harness validates them as the graph loader does */
    char *err = NULL;
    joule_harness *h = open_plugin(o->plugin, NULL, 0, &err);
    int required = 0;
    for (uint32_t i = 0; i < d->n_params; i++)
        required += !d->params[i].def;
    if (!h) {
        line(t, "FAIL", "parameters", "%s", err ? err : "cannot load");
        free(err);
        return;
    }
    /* each default, set explicitly, parses and is in range */
    for (uint32_t i = 0; i < d->n_params && !*why; i++)
        if (d->params[i].def && joule_harness_set(h, d->params[i].name, d->params[i].def))
            snprintf(why, sizeof why, "the default of '%s' (%s) is refused: %s", d->params[i].name,
                     d->params[i].def, joule_harness_error(h));
    joule_harness_free(h);
    if (*why)
        line(t, "FAIL", "parameters", "%s", why);
    else
        line(t, "PASS", "parameters", "%u declared, every default parses and is in range%s", d->n_params,
             required ? " (some required: set with --set)" : "");
}

/* ------------------------------------------------------------------------ */

/* The descriptor's flags, 0 when it predates them. */
static uint32_t desc_flags(const joule_descriptor *d)
{
    return d->struct_size >= offsetof(joule_descriptor, flags) + sizeof d->flags ? d->flags : 0;
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "joule plugin-test: %s\n", msg);
    fputs("usage: joule plugin-test PLUGIN|PATH.so[:NAME] [--set name=value]... [--via 'PLUGIN name=value ...']...\n"
          "                         [--input FILE] [--signal CHANNELS[@RATE]] [--seconds S] [--timeout S]\n"
          "Checks a plugin against the joule plugin ABI and prints one line per check.\n"
          "  --set name=value   a parameter of the plugin under test (repeatable)\n"
          "  --via 'P k=v ...'  feed the plugin's first input from plugin P (repeatable: a chain, which may\n"
          "                     start with a source reading --input)\n"
          "  --connect PORT     feed optional input PORT too (generated rows; repeatable)\n"
          "  --input FILE       the file sources read (default: a generated float WAV)\n"
          "  --signal C@R       the generated signal: C channels at R Hz (default 2@48000)\n"
          "  --seconds S        length of the generated input (default 3)\n"
          "  --timeout S        the most one run may take (default 60)\n"
          "Exit status: 0 when every check passed, 1 when one failed, 2 for a usage error.\n",
          msg ? stderr : stdout);
    return msg ? 2 : 0;
}

static void parse_via(via *v, const char *text)
{
    char *copy = xstrdup(text);
    memset(v, 0, sizeof *v);
    for (char *save = NULL, *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (!v->plugin)
            v->plugin = xstrdup(tok);
        else {
            v->sets = xrealloc(v->sets, (v->n_sets + 1) * sizeof *v->sets);
            v->sets[v->n_sets++] = xstrdup(tok);
        }
    }
    free(copy);
}

static int rm_tree(const char *dir)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return remove(dir);
    struct dirent *e;
    while ((e = readdir(dd))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            remove(p);
    }
    closedir(dd);
    return remove(dir);
}

/* Classify a failed run's message into the check it belongs to. */
static int is_bound(const result *r)
{
    return r->status == 1 && (strstr(r->msg, "declared bound is too small") || strstr(r->msg, "wrote past the end"));
}

static int is_times(const result *r)
{
    return r->status == 1 && strstr(r->msg, "event times must not decrease");
}

static const char *what(const result *r)
{
    return r->msg;
}

static int run(int argc, char **argv, const char **sets, via *vias)
{
    opts o;
    memset(&o, 0, sizeof o);
    o.channels = 2;
    o.rate = 48000;
    o.seconds = 3;
    o.timeout = 60;
    o.sets = sets;
    o.vias = vias;
    o.connect = sets + argc; /* the second half of the same array */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(NULL);
        if (!strcmp(a, "--set") || !strcmp(a, "-s")) {
            if (!val || !strchr(val, '='))
                return usage("--set needs name=value");
            o.sets[o.n_sets++] = val;
            i++;
        } else if (!strcmp(a, "--via")) {
            if (!val)
                return usage("--via needs a plugin");
            parse_via(&o.vias[o.n_vias++], val);
            if (!o.vias[o.n_vias - 1].plugin)
                return usage("--via needs a plugin");
            i++;
        } else if (!strcmp(a, "--connect")) {
            if (!val)
                return usage("--connect needs an input port's name");
            o.connect[o.n_connect++] = val;
            i++;
        } else if (!strcmp(a, "--input")) {
            if (!val)
                return usage("--input needs a file");
            o.input = val;
            i++;
        } else if (!strcmp(a, "--signal")) {
            char *end;
            if (!val)
                return usage("--signal needs CHANNELS[@RATE]");
            unsigned long c = strtoul(val, &end, 10);
            double r = o.rate;
            if (*end == '@')
                r = strtod(end + 1, &end);
            if (*end || c < 1 || c > 64 || !(r >= 1 && r <= 1e7))
                return usage("--signal needs CHANNELS[@RATE]: 1 to 64 channels, a rate of 1 Hz to 10 MHz");
            o.channels = (unsigned)c;
            o.rate = r;
            i++;
        } else if (!strcmp(a, "--seconds") || !strcmp(a, "--timeout")) {
            char *end;
            double v = val ? strtod(val, &end) : 0;
            if (!val || *end || !(v > 0 && v <= 3600))
                return usage(!strcmp(a, "--seconds") ? "--seconds needs a length of 0 to 3600 s"
                                                      : "--timeout needs 0 to 3600 s");
            *(!strcmp(a, "--seconds") ? &o.seconds : &o.timeout) = v;
            i++;
        } else if (a[0] == '-' && a[1])
            return usage("unknown option");
        else if (!o.plugin)
            o.plugin = a;
        else
            return usage("one plugin at a time");
    }
    if (!o.plugin)
        return usage("which plugin? a name on the plugin path, or the path of a .so");

    char *err = NULL;
    joule_harness *h0;
    tally t = {0, 0, 0, 0};
    printf("joule plugin-test %s: %s\n", joule_version(), o.plugin);
    if (joule_harness_load(o.plugin, &h0, &err) != 0) {
        line(&t, "FAIL", "load", "%s", err ? err : "cannot load");
        free(err);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    const joule_descriptor *d = joule_harness_descriptor(h0);
    /* a --set that cannot apply is the caller's mistake, not the plugin's */
    for (size_t i = 0; i < o.n_sets; i++) {
        char *kv = xstrdup(o.sets[i]);
        char *eq = strchr(kv, '=');
        *eq = '\0';
        if (joule_harness_set(h0, kv, eq + 1)) {
            fprintf(stderr, "joule plugin-test: --set %s: %s\n", o.sets[i], joule_harness_error(h0));
            free(kv);
            joule_harness_free(h0);
            return 2;
        }
        free(kv);
    }
    for (size_t i = 0; i < o.n_connect; i++) {
        uint32_t k = 0;
        while (k < d->n_inputs && strcmp(d->inputs[k].name, o.connect[i]))
            k++;
        if (k == d->n_inputs || !(d->inputs[k].flags & JOULE_PORT_OPTIONAL)) {
            fprintf(stderr, "joule plugin-test: --connect %s: plugin '%s' has no optional input port of that name\n",
                    o.connect[i], d->name);
            joule_harness_free(h0);
            return 2;
        }
    }
    line(&t, "PASS", "load", "%s: the ABI version, the descriptor's fields and ports are valid", o.plugin);
    check_descriptor(&t, d);
    check_metadata(&t, d);
    check_params(&t, &o, d);

    char work[] = "/tmp/joule-plugin-test-XXXXXX";
    const char *tmpdir = getenv("TMPDIR");
    char *workp = NULL;
    if (tmpdir && *tmpdir) {
        if (asprintf(&workp, "%s/joule-plugin-test-XXXXXX", tmpdir) < 0)
            workp = NULL;
    }
    if (!mkdtemp(workp ? workp : work)) {
        fprintf(stderr, "joule plugin-test: cannot make a scratch folder: %s\n", strerror(errno));
        return 1;
    }
    char wav[4200];
    run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.o = &o;
    ctx.work = workp ? workp : work;
    snprintf(wav, sizeof wav, "%s/input.wav", ctx.work);
    if (write_wav(wav, &o)) {
        fprintf(stderr, "joule plugin-test: cannot write %s\n", wav);
        return 1;
    }
    ctx.wav = wav;

    /* open and close, nothing in between */
    static const uint32_t big[] = {4096}, one[] = {1}, seven[] = {7};
    uint32_t rnd[64];
    uint64_t seed = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < 64; i++)
        rnd[i] = 1 + (uint32_t)(rng_next(&seed) % 5000);
    result r0, rb, r1, r7, rr, rt, rrep, re, rn, rip, rpo, rf;
    run_spec sp_open = {big, 1, 0, 0, 0, 0, 0, 0, 1, 0};
    run_child(&o, &sp_open, &ctx, "open", 1, &r0);
    if (r0.status == 1 && !strncmp(r0.msg, "output '", 8)) {
        line(&t, "PASS", "open, close", "opens with the test input");
        line(&t, "FAIL", "output formats", "%s", what(&r0));
        line(&t, "SKIP", "runs", "the output formats are invalid");
        goto done;
    }
    if (r0.status) {
        line(&t, "FAIL", "open, close", "%s", what(&r0));
        line(&t, "SKIP", "runs", "the plugin does not open with the test input (see above; give one it accepts "
                                 "with --set, --via, --input or --signal)");
        goto done;
    }
    line(&t, "PASS", "open, close", "opens with the test input and closes without processing");
    if (d->n_outputs)
        line(&t, "PASS", "output formats", "%u output%s: kinds as declared, column names present, unique and in "
             "[A-Za-z0-9_.-], units for every column or none", d->n_outputs, d->n_outputs == 1 ? "" : "s");
    else
        line(&t, "SKIP", "output formats", "a sink has no outputs");

    run_spec sp_big = {big, 1, 0, 0, 0, 0, 1, 0, 0, 0};
    run_child(&o, &sp_big, &ctx, "big", 1, &rb);
    run_spec sp1 = {one, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    run_child(&o, &sp1, &ctx, "one", 1, &r1);
    run_spec sp7 = {seven, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    run_child(&o, &sp7, &ctx, "seven", 1, &r7);
    run_spec spr = {rnd, 64, 0, 0, 0, 0, 0, 0, 0, 0};
    run_child(&o, &spr, &ctx, "random", 1, &rr);

    /* the output bound, exact capacity offered on every call */
    const result *runs[] = {&rb, &r1, &r7, &rr};
    const result *bad_bound = NULL, *bad_times = NULL, *bad_other = NULL;
    for (size_t i = 0; i < 4; i++) {
        if (is_bound(runs[i]) && !bad_bound)
            bad_bound = runs[i];
        else if (is_times(runs[i]) && !bad_times)
            bad_times = runs[i];
        else if (runs[i]->status && !bad_bound && !bad_times && !bad_other)
            bad_other = runs[i];
    }
    if (d->role == JOULE_ROLE_SOURCE || d->role == JOULE_ROLE_SINK)
        line(&t, bad_bound ? "FAIL" : "SKIP", "output bound", "%s",
             bad_bound ? what(bad_bound)
                       : d->role == JOULE_ROLE_SINK ? "a sink has no outputs"
                                                    : "a source fills the capacity it is given");
    else if (bad_bound)
        line(&t, "FAIL", "output bound", "%s", what(bad_bound));
    else if (!bad_other && !bad_times)
        line(&t, "PASS", "output bound", "never more rows than declared, with exactly that much room offered");
    else
        line(&t, "SKIP", "output bound", "the runs failed (below)");
    int events = 0;
    for (uint32_t p = 0; p < d->n_outputs; p++)
        events |= d->outputs[p].kinds == JOULE_EVENTS;
    if (bad_times)
        line(&t, "FAIL", "event times", "%s", what(bad_times));
    else if (!events)
        line(&t, "SKIP", "event times", "no events output");
    else if (bad_bound || bad_other)
        line(&t, "SKIP", "event times", "the runs failed");
    else
        line(&t, "PASS", "event times", "never decrease");

    char where[256];
    int ok_runs = !bad_bound && !bad_times && !bad_other;
    /* why the checks that compare with the 4096-row run are skipped */
    const char *skip_why = "the runs failed (above)";
    if (bad_other)
        line(&t, "FAIL", "chunk sizes", "%s", what(bad_other));
    else if (!ok_runs)
        line(&t, "SKIP", "chunk sizes", "the runs failed (above)");
    else {
        const char *tags[] = {"one", "seven", "random"};
        const char *names[] = {"1", "7", "random sizes"};
        int bad = 0;
        char dump_ref[4200], dump_x[4200];
        snprintf(dump_ref, sizeof dump_ref, "%s/big.dump", ctx.work);
        for (int i = 0; i < 3 && !bad; i++) {
            snprintf(dump_x, sizeof dump_x, "%s/%s.dump", ctx.work, tags[i]);
            if (same_dump(dump_ref, dump_x, where, sizeof where)) {
                line(&t, "FAIL", "chunk sizes", "chunks of %s rows give output %s than chunks of 4096", names[i],
                     where);
                bad = 1;
                ok_runs = 0;
                skip_why = "the output depends on the chunk sizes (above)";
            }
        }
        if (!bad)
            line(&t, "PASS", "chunk sizes", "1, 7, 4096 and random sizes: byte-identical output (%llu rows in)",
                 (unsigned long long)rb.rows_in);
    }

    char ref[4200], x[4200];
    snprintf(ref, sizeof ref, "%s/big.dump", ctx.work);
    /* repeated runs in one process: no state kept between instances (a
     * second instance after a first gives the same output); then several
     * at once on threads */
    if (ok_runs) {
        run_spec sp_seq = {seven, 1, 0, 0, 0, 0, 0, 0, 0, 1};
        run_child(&o, &sp_seq, &ctx, "again", 1, &rrep);
        snprintf(x, sizeof x, "%s/again.dump", ctx.work);
        int seq_bad = 1;
        if (rrep.status)
            line(&t, "FAIL", "repeated runs", "%s", rrep.msg);
        else if (same_dump(ref, x, where, sizeof where))
            line(&t, "FAIL", "repeated runs", "a second instance in the same process gives output %s than the "
                                              "first: state is kept outside the instance", where);
        else {
            line(&t, "PASS", "repeated runs", "a second instance in the same process gives the same output");
            seq_bad = 0;
        }
        run_spec sp_rep = {big, 1, 0, 0, 0, 0, 0, 0, 0, 0};
        run_child(&o, &sp_rep, &ctx, "repeat", N_THREADS, &rt);
        int bad = rt.status != 0;
        for (int i = 0; i < N_THREADS && !bad; i++) {
            snprintf(x, sizeof x, "%s/repeat.dump.%d", ctx.work, i);
            if (same_dump(ref, x, where, sizeof where)) {
                bad = 1;
                snprintf(rt.msg, sizeof rt.msg, "%d instances on %d threads at once: output %s than one alone",
                         N_THREADS, N_THREADS, where);
            }
        }
        if (bad && seq_bad)
            line(&t, "SKIP", "threads", "state is kept outside the instance (above)");
        else
            line(&t, bad ? "FAIL" : "PASS", "threads", "%s",
                 bad ? rt.msg : "4 instances at once on 4 threads, each fed in chunks of its own sizes: the same "
                                "output as one alone");
    } else {
        line(&t, "SKIP", "repeated runs", "%s", skip_why);
        line(&t, "SKIP", "threads", "%s", skip_why);
    }

    /* more than one input port: the order buffers of different ports
     * arrive in must not matter */
    uint32_t connected = 0;
    for (uint32_t k = 0; k < d->n_inputs; k++)
        connected += port_fed(&o, d, k);
    if (connected > 1 && ok_runs) {
        run_spec sp_po = {seven, 1, 0, 0, 0, 1, 0, 0, 0, 0};
        run_child(&o, &sp_po, &ctx, "ports", 1, &rpo);
        snprintf(x, sizeof x, "%s/ports.dump", ctx.work);
        if (rpo.status)
            line(&t, "FAIL", "port order", "%s", rpo.msg);
        else if (same_dump(ref, x, where, sizeof where))
            line(&t, "FAIL", "port order", "ports fed in turn give output %s than one port after another", where);
        else
            line(&t, "PASS", "port order", "the same output whatever order the ports' rows arrive in");
    } else
        line(&t, "SKIP", "port order", "%s", connected > 1 ? skip_why : "one connected input port");

    /* empty input */
    if (d->role == JOULE_ROLE_SOURCE)
        line(&t, "SKIP", "empty input", "a source reads its file");
    else {
        run_spec sp_e = {big, 1, 0, 1, 0, 0, 0, 0, 0, 0};
        run_child(&o, &sp_e, &ctx, "empty", 1, &re);
        if (re.status >= 2)
            line(&t, "FAIL", "empty input", "%s", re.msg);
        else if (re.status == 1 && (is_bound(&re) || is_times(&re) || strstr(re.msg, "returned")))
            line(&t, "FAIL", "empty input", "%s", re.msg);
        else
            line(&t, "PASS", "empty input", "%s%s", re.status ? "refused with a message: " : "no rows: no crash",
                 re.status ? re.msg : "");
    }

    /* NaN, infinities, denormals */
    if (d->role == JOULE_ROLE_SOURCE)
        line(&t, "SKIP", "NaN, Inf input", "a source reads its file");
    else {
        run_spec sp_n = {big, 1, 1, 0, 0, 0, 0, 0, 0, 0};
        run_child(&o, &sp_n, &ctx, "nan", 1, &rn);
        if (rn.status >= 2)
            line(&t, "FAIL", "NaN, Inf input", "%s", rn.msg);
        else if (rn.status == 1 && ((is_bound(&rn) && bad_bound) || (is_times(&rn) && bad_times)))
            line(&t, "SKIP", "NaN, Inf input", "the same failure as above");
        else if (rn.status == 1 && (is_bound(&rn) || is_times(&rn)))
            line(&t, "FAIL", "NaN, Inf input", "%s", rn.msg);
        else if (rn.status == 1)
            line(&t, "PASS", "NaN, Inf input", "no crash, no hang; refused: %s", rn.msg);
        else
            line(&t, "PASS", "NaN, Inf input", "no crash, no hang; NaN %s", rn.nan_out ? "appears in the output"
                                                                                     : "never reaches the output");
    }

    /* finish after a failed process: only when some input makes process
     * fail */
    if (d->role != JOULE_ROLE_SOURCE && rn.status == 1 && d->finish) {
        run_spec sp_f = {big, 1, 1, 0, 0, 0, 0, 1, 0, 0};
        run_child(&o, &sp_f, &ctx, "finishfail", 1, &rf);
        if (rf.status >= 2)
            line(&t, "FAIL", "after a failure", "finish and close after process failed: %s", rf.msg);
        else
            line(&t, "PASS", "after a failure", "finish and close after a failed process: no crash");
    } else
        line(&t, "SKIP", "after a failure", "process never failed on the test inputs");

    /* in place */
    int ip = 0;
    if (d->n_inputs == 1 && d->n_outputs == 1 && ok_runs && (rb.out0_flags & JOULE_FORMAT_IN_PLACE)) {
        run_spec sp_ip = {seven, 1, 0, 0, 1, 0, 0, 0, 0, 0};
        run_child(&o, &sp_ip, &ctx, "inplace", 1, &rip);
        snprintf(x, sizeof x, "%s/inplace.dump", ctx.work);
        ip = 1;
        if (rip.status)
            line(&t, "FAIL", "in place", "%s", rip.msg);
        else if (same_dump(ref, x, where, sizeof where))
            line(&t, "FAIL", "in place", "with the output buffer on the input's memory, output %s (the "
                                         "in-place claim does not hold)", where);
        else
            line(&t, "PASS", "in place", "the output is the same when the host passes it in place");
    }
    if (!ip)
        line(&t, "SKIP", "in place", "%s",
             !(rb.out0_flags & JOULE_FORMAT_IN_PLACE) ? "the output is not declared in place" : skip_why);

    /* allocations in process */
    if (!alloc_count_available())
        line(&t, "SKIP", "no allocation", "this build cannot count allocations (a sanitizer build)");
    else if (rb.status)
        line(&t, "SKIP", "no allocation", "the runs failed");
    else if (rb.allocs && (desc_flags(d) & JOULE_DESC_ALLOCATES))
        line(&t, "WARN", "no allocation", "%lu allocation%s in %zu calls of process (declared: "
             "JOULE_DESC_ALLOCATES)", rb.allocs, rb.allocs == 1 ? "" : "s", (size_t)rb.process_calls);
    else if (rb.allocs)
        line(&t, "FAIL", "no allocation", "%lu allocation%s in %zu calls of process: allocate in open",
             rb.allocs, rb.allocs == 1 ? "" : "s", (size_t)rb.process_calls);
    else
        line(&t, "PASS", "no allocation", "none in %zu call%s of process", (size_t)rb.process_calls,
             rb.process_calls == 1 ? "" : "s");

    /* time per call */
    if (!rb.status && rb.calls)
        line(&t, "INFO", "time per call", "median %.1f us, longest %.1f us (chunks of 4096 rows)",
             rb.median_call * 1e6, rb.max_call * 1e6);

done:
    printf("%d passed, %d failed, %d skipped\n", t.pass, t.fail, t.skip);
    joule_harness_free(h0);
    rm_tree(ctx.work);
    free(workp);
    return t.fail ? 1 : 0;
}

/* The plugins a shared object named without ":NAME" holds, when more than
 * one: each is tested in turn. NULL-terminated, or NULL. */
static char **several(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") || !strcmp(argv[i], "-s") || !strcmp(argv[i], "--via") ||
            !strcmp(argv[i], "--input") || !strcmp(argv[i], "--signal") || !strcmp(argv[i], "--seconds") ||
            !strcmp(argv[i], "--timeout") || !strcmp(argv[i], "--connect"))
            i++;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
    }
    struct stat st;
    if (!path || !strchr(path, '/') || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    joule_registry *reg = joule_registry_new();
    char **names = NULL;
    if (joule_registry_add_file(reg, path) == 0 && joule_registry_count(reg) > 1) {
        size_t n = joule_registry_count(reg);
        names = xcalloc(n + 1, sizeof *names);
        for (size_t i = 0; i < n; i++)
            if (asprintf(&names[i], "%s:%s", path, joule_registry_get(reg, i)->desc->name) < 0)
                names[i] = NULL;
    }
    joule_registry_free(reg);
    return names;
}

int plugin_test_main(int argc, char **argv)
{
    char **each = several(argc, argv);
    if (each) {
        /* PATH.so holding several plugins: test each, PATH.so:NAME */
        int worst = 0;
        for (size_t k = 0; each[k]; k++) {
            char **av = xcalloc((size_t)argc + 1, sizeof *av);
            int seen = 0;
            for (int i = 0; i < argc; i++) {
                int opt_arg = i > 0 && argv[i - 1][0] == '-' && strcmp(argv[i - 1], "-h") && strcmp(argv[i - 1], "--help");
                av[i] = (i > 0 && !seen && argv[i][0] != '-' && !opt_arg) ? (seen = 1, each[k]) : argv[i];
            }
            if (k)
                putchar('\n');
            int rc = plugin_test_main(argc, av);
            worst = rc > worst ? rc : worst;
            free(av);
            free(each[k]);
        }
        free(each);
        return worst;
    }
    const char **sets = xcalloc(2 * (size_t)argc, sizeof *sets);
    via *vias = xcalloc((size_t)argc, sizeof *vias);
    int rc = run(argc, argv, sets, vias);
    for (int i = 0; i < argc; i++) {
        free(vias[i].plugin);
        for (size_t k = 0; k < vias[i].n_sets; k++)
            free(vias[i].sets[k]);
        free(vias[i].sets);
    }
    free(vias);
    free(sets);
    return rc;
}
