/* report_pack.c — a run's report carried to another process and merged
 * there (joule-mpi: each rank's reports, merged on rank 0).
 *
 * The bytes are no file format: both sides run the same libjoule (the
 * ranks of one job), and the first word says which layout it is, so that
 * anything else is refused rather than misread. Every read is bounded by
 * the buffer's length. */
#include "config.h"

#include "report.h"
#include "util.h"
#include "watch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PACK_MAGIC 0x4a525031u /* "JRP1" */

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
} wbuf;

static void put(wbuf *b, const void *v, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = jl_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

#define PUT(b, v) put(b, &(v), sizeof(v))

static void put_str(wbuf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0; /* 0: NULL */
    PUT(b, n);
    if (n)
        put(b, s, n);
}

typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    int bad;
} rbuf;

static void get(rbuf *b, void *v, size_t n)
{
    if (b->bad || n > b->n - b->at) {
        b->bad = 1;
        memset(v, 0, n);
        return;
    }
    memcpy(v, b->p + b->at, n);
    b->at += n;
}

#define GET(b, v) get(b, &(v), sizeof(v))

static char *get_str(rbuf *b)
{
    uint32_t n = 0;
    GET(b, n);
    if (!n || b->bad)
        return NULL;
    if (n > b->n - b->at || b->p[b->at + n - 1] != '\0') {
        b->bad = 1;
        return NULL;
    }
    char *s = jl_strdup((const char *)b->p + b->at);
    b->at += n;
    return s;
}

void *joule_report_pack(const joule_report *r, size_t *len)
{
    wbuf b = {NULL, 0, 0};
    uint32_t magic = PACK_MAGIC;
    PUT(&b, magic);
    PUT(&b, r->wall);
    PUT(&b, r->peak_rss);
    PUT(&b, r->pool_high_water);
    PUT(&b, r->pool_budget);
    PUT(&b, r->pool_allocated);
    PUT(&b, r->files_done);
    PUT(&b, r->files_failed);
    PUT(&b, r->bytes_read);
    PUT(&b, r->threads);
    PUT(&b, r->chunk_rows);
    PUT(&b, r->cache);
    PUT(&b, r->n_nodes);
    for (size_t i = 0; i < r->n_nodes; i++) {
        jl_node_stats s = r->nodes[i];
        put_str(&b, s.name);
        put_str(&b, s.plugin);
        s.name = s.plugin = NULL;
        PUT(&b, s);
    }
    PUT(&b, r->n_inputs);
    for (size_t i = 0; i < r->n_inputs; i++) {
        const jl_input_stats *in = &r->inputs[i];
        put_str(&b, in->file);
        PUT(&b, in->state);
        PUT(&b, in->wall);
        PUT(&b, in->duration);
        put_str(&b, in->error);
        put_str(&b, in->where);
    }
    *len = b.n;
    return b.p;
}

joule_report *joule_report_unpack(const void *bytes, size_t len)
{
    rbuf b = {bytes, len, 0, 0};
    uint32_t magic = 0;
    GET(&b, magic);
    if (magic != PACK_MAGIC)
        return NULL;
    joule_report *r = jl_calloc(1, sizeof *r);
    GET(&b, r->wall);
    GET(&b, r->peak_rss);
    GET(&b, r->pool_high_water);
    GET(&b, r->pool_budget);
    GET(&b, r->pool_allocated);
    GET(&b, r->files_done);
    GET(&b, r->files_failed);
    GET(&b, r->bytes_read);
    GET(&b, r->threads);
    GET(&b, r->chunk_rows);
    GET(&b, r->cache);
    GET(&b, r->n_nodes);
    /* each node takes more than its struct: a count past that is a lie */
    if (b.bad || r->n_nodes > (len - b.at) / sizeof(jl_node_stats)) {
        r->n_nodes = 0;
        joule_report_free(r);
        return NULL;
    }
    r->nodes = jl_calloc(r->n_nodes ? r->n_nodes : 1, sizeof *r->nodes);
    for (size_t i = 0; i < r->n_nodes && !b.bad; i++) {
        char *name = get_str(&b), *plugin = get_str(&b);
        GET(&b, r->nodes[i]);
        r->nodes[i].name = name;
        r->nodes[i].plugin = plugin;
    }
    size_t n_inputs = 0;
    GET(&b, n_inputs);
    if (b.bad || n_inputs > (len - b.at) / (4 * sizeof(uint32_t))) {
        joule_report_free(r);
        return NULL;
    }
    r->inputs = jl_calloc(n_inputs ? n_inputs : 1, sizeof *r->inputs);
    r->n_inputs = n_inputs;
    for (size_t i = 0; i < n_inputs && !b.bad; i++) {
        jl_input_stats *in = &r->inputs[i];
        in->file = get_str(&b);
        GET(&b, in->state);
        GET(&b, in->wall);
        GET(&b, in->duration);
        in->error = get_str(&b);
        in->where = get_str(&b);
    }
    if (b.bad || b.at != len) {
        joule_report_free(r);
        return NULL;
    }
    return r;
}

joule_report *joule_report_merge(joule_report *into, const joule_report *from, const char *where)
{
    if (!into) {
        into = jl_calloc(1, sizeof *into);
        into->n_nodes = from->n_nodes;
        into->nodes = jl_calloc(from->n_nodes ? from->n_nodes : 1, sizeof *into->nodes);
        for (size_t i = 0; i < from->n_nodes; i++) {
            into->nodes[i].name = from->nodes[i].name ? jl_strdup(from->nodes[i].name) : NULL;
            into->nodes[i].plugin = from->nodes[i].plugin ? jl_strdup(from->nodes[i].plugin) : NULL;
        }
        into->chunk_rows = from->chunk_rows;
        into->pool_budget = from->pool_budget;
    }
    if (from->n_nodes != into->n_nodes)
        return NULL; /* not a run of the same graph */
    for (size_t i = 0; i < from->n_nodes; i++)
        jl_stats_merge(&into->nodes[i], &from->nodes[i]);
    jl_cache_figures_merge(&into->cache, &from->cache);
    if (from->wall > into->wall)
        into->wall = from->wall;
    if (from->peak_rss > into->peak_rss)
        into->peak_rss = from->peak_rss;
    if (from->pool_high_water > into->pool_high_water)
        into->pool_high_water = from->pool_high_water;
    if (from->pool_allocated > into->pool_allocated)
        into->pool_allocated = from->pool_allocated;
    into->files_done += from->files_done;
    into->files_failed += from->files_failed;
    into->bytes_read += from->bytes_read;
    if (from->threads > into->threads)
        into->threads = from->threads;
    into->inputs = jl_realloc(into->inputs, (into->n_inputs + from->n_inputs + 1) * sizeof *into->inputs);
    for (size_t i = 0; i < from->n_inputs; i++) {
        const jl_input_stats *s = &from->inputs[i];
        jl_input_stats *d = &into->inputs[into->n_inputs++];
        *d = *s;
        d->file = s->file ? jl_strdup(s->file) : NULL;
        d->error = s->error ? jl_strdup(s->error) : NULL;
        d->where = where ? jl_strdup(where) : s->where ? jl_strdup(s->where) : NULL;
    }
    return into;
}

void joule_report_finish_merge(joule_report *r, const char *const *files, size_t n_files, double wall,
                               int processes, int threads)
{
    /* inputs in command-line order: each file given takes the first of its
     * name not yet placed (a file may be given twice) */
    jl_input_stats *v = jl_calloc(r->n_inputs + 1, sizeof *v);
    char *used = jl_calloc(r->n_inputs + 1, 1);
    size_t k = 0;
    for (size_t f = 0; f < n_files; f++)
        for (size_t i = 0; i < r->n_inputs; i++)
            if (!used[i] && r->inputs[i].file && !strcmp(r->inputs[i].file, files[f])) {
                used[i] = 1;
                v[k++] = r->inputs[i];
                break;
            }
    for (size_t i = 0; i < r->n_inputs; i++)
        if (!used[i])
            v[k++] = r->inputs[i];
    free(used);
    free(r->inputs);
    r->inputs = v;
    r->wall = wall;
    r->processes = processes;
    r->threads = threads;
}

int joule_report_input(const joule_report *r, size_t i, const char **file)
{
    if (!r || i >= r->n_inputs)
        return -1;
    *file = r->inputs[i].file;
    return r->inputs[i].state == JL_SLOT_OK;
}
