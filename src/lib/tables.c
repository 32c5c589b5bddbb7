/* tables.c — see tables.h. */
#include "config.h"

#include "tables.h"
#include "locks.h"
#include "outputs.h"
#include "pathtpl.h"
#include "scheduler.h"
#include "util.h"

#include <errno.h>
#include <xxhash.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The part of table `table` for input `input` that runs in other
 * processes (joule_run_options.defer_tables) write and one gather reads:
 * a name both compute alike, hidden in the table's folder. */
static char *shared_part(const char *dir, const char *table, const char *input)
{
    return jl_printf("%s/.joule-part-%016llx-%016llx", dir, (unsigned long long)XXH3_64bits(table, strlen(table)),
                     (unsigned long long)XXH3_64bits(input, strlen(input)));
}

jl_tables *jl_tables_plan(const joule_graph *g, const char *const *files, size_t n_files, const char *out_dir,
                          const char *table_tag, int shared)
{
    jl_tables *t = NULL;
    for (size_t i = 0; i < g->n; i++) {
        const jl_node *n = &g->nodes[i];
        for (uint32_t k = 0; k < n->plugin->desc->n_params; k++) {
            if (!jl_param_gathered(n, k))
                continue;
            if (!t) {
                t = jl_calloc(1, sizeof *t);
                t->n_files = n_files;
                t->keep = shared;
            }
            t->v = jl_realloc(t->v, (t->n + 1) * sizeof *t->v);
            jl_table *tb = &t->v[t->n++];
            tb->node = i;
            tb->param = k;
            /* the path names no part of the input: any input expands it */
            tb->path = jl_path_expand(n->texts[k], n_files ? files[0] : "", n->name, out_dir);
            if (table_tag) {
                char *tagged = jl_path_tag(tb->path, table_tag);
                free(tb->path);
                tb->path = tagged;
            }
            tb->parts = jl_calloc(n_files ? n_files : 1, sizeof *tb->parts);
            char *slash = strrchr(tb->path, '/');
            char *dir = slash ? jl_strndup(tb->path, slash == tb->path ? 1 : (size_t)(slash - tb->path))
                              : jl_strdup(".");
            for (size_t f = 0; f < n_files; f++)
                tb->parts[f] = shared ? shared_part(dir, tb->path, files[f]) : jl_tmp_name(dir);
            free(dir);
        }
    }
    return t;
}

const char *jl_tables_part(const jl_tables *t, size_t node, uint32_t param, size_t slot)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->v[i].node == node && t->v[i].param == param)
            return slot < t->n_files ? t->v[i].parts[slot] : NULL;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The host a gather call gets                                               */

typedef struct gather_ctx {
    const jl_node *node;
    char *error;
    const char **parts;  /* the parts' paths, as the plugin numbers them */
    const char **inputs;
} gather_ctx;

static void g_log(const joule_host *h, int level, const char *fmt, ...)
{
    const gather_ctx *c = h->host_data;
    if (level > JOULE_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *raw = jl_vprintf(fmt, ap);
    va_end(ap);
    char *msg = jl_escape(raw);
    fprintf(stderr, "joule: node '%s': %s: %s\n", c->node->name, level == JOULE_LOG_ERROR ? "error" : "warning",
            msg);
    free(msg);
    free(raw);
}

static void g_error(const joule_host *h, const char *fmt, ...)
{
    gather_ctx *c = h->host_data;
    va_list ap;
    va_start(ap, fmt);
    free(c->error);
    c->error = jl_vprintf(fmt, ap);
    va_end(ap);
}

static void g_lock(const joule_host *h, const char *name)
{
    (void)h;
    jl_named_lock(name);
}

static void g_unlock(const joule_host *h, const char *name)
{
    (void)h;
    jl_named_unlock(name);
}

static int g_open_output(const joule_host *h, const char *path)
{
    (void)path;
    g_error(h, "gather cannot create files: it writes to its args->out");
    return -1;
}

static int g_open_part(const joule_gather_args *a, uint32_t i)
{
    gather_ctx *c = a->host_data;
    if (jl_interrupted()) {
        g_error(a->host, "interrupted");
        return -1;
    }
    if (i >= a->n_parts) {
        g_error(a->host, "asked for part %u of %u", i, a->n_parts);
        return -1;
    }
    int fd = open(c->parts[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        char *in = jl_escape(c->inputs[i]);
        g_error(a->host, "cannot open the part written for %s: %s", in, strerror(errno));
        free(in);
    }
    return fd;
}

/* ------------------------------------------------------------------------ */
/* Writing the tables                                                        */

/* Gather one table into a temporary; *o receives it (o->tmp NULL when
 * there was nothing to gather). Returns 0, or -1 with *msg. */
static int write_one(const jl_table *tb, const joule_graph *g, const char *const *files, const int *ok,
                     size_t n_files, jl_outfile *o, char **msg)
{
    const jl_node *n = &g->nodes[tb->node];
    const joule_descriptor *d = n->plugin->desc;
    *o = (jl_outfile){jl_strdup(tb->path), NULL, 0, tb->node, 0};
    size_t n_parts = 0;
    for (size_t f = 0; f < n_files; f++)
        n_parts += ok[f] != 0;
    if (!n_parts)
        return 0; /* nothing to gather: an older table stays as it was */
    const char **parts = jl_malloc(n_parts * sizeof *parts);
    const char **labels = jl_malloc(n_parts * sizeof *labels);
    size_t k = 0;
    int rc = 0;
    for (size_t f = 0; f < n_files; f++)
        if (ok[f]) {
            parts[k] = tb->parts[f];
            labels[k++] = files[f];
        }
    int out = -1;
    if (!rc) {
        out = jl_tmp_create(tb->path, &o->tmp, msg);
        rc = out < 0 ? -1 : 0;
    }
    if (!rc) {
        joule_value *values = jl_malloc((d->n_params ? d->n_params : 1) * sizeof *values);
        for (uint32_t p = 0; p < d->n_params; p++)
            values[p] = n->values[p];
        values[tb->param].s = tb->path;
        gather_ctx ctx = {n, NULL, parts, labels};
        joule_host host;
        memset(&host, 0, sizeof host);
        host.abi_version = JOULE_ABI_VERSION;
        host.struct_size = sizeof host;
        host.log = g_log;
        host.error = g_error;
        host.lock = g_lock;
        host.unlock = g_unlock;
        host.host_data = &ctx;
        host.open_output = g_open_output;
        joule_gather_args a;
        memset(&a, 0, sizeof a);
        a.struct_size = sizeof a;
        a.host = &host;
        a.node = n->name;
        a.params = values;
        a.param = tb->param;
        a.n_parts = (uint32_t)n_parts;
        a.labels = labels;
        a.open_part = g_open_part;
        a.out = out;
        a.host_data = &ctx;
        if (jl_desc_gather(d)(&a) != JOULE_OK) {
            char *why = jl_escape(ctx.error ? ctx.error : "failed (the plugin gave no reason)");
            *msg = jl_printf("node '%s' (%s %s): gathering the table: %s", n->name, d->name, d->version, why);
            free(why);
            rc = -1;
        }
        free(ctx.error);
        free(values);
        if (close(out) && !rc) {
            char *p = jl_escape(tb->path);
            *msg = jl_printf("%s: write failed: %s", p, strerror(errno));
            free(p);
            rc = -1;
        }
    }
    free(parts);
    free(labels);
    return rc;
}

int jl_tables_write(const jl_tables *t, const joule_graph *g, const char *const *files, const int *ok,
                    void (*say)(void *user, const char *msg), void *user)
{
    if (!t || !t->n)
        return 0;
    /* Every table first, then all of them put in place together, like a
     * job's outputs: one that cannot be written leaves every older table
     * as it was. */
    jl_outfile *o = jl_calloc(t->n, sizeof *o);
    int rc = 0;
    for (size_t i = 0; i < t->n && !rc; i++) {
        char *msg = NULL;
        if (write_one(&t->v[i], g, files, ok, t->n_files, &o[i], &msg)) {
            if (jl_interrupted()) {
                free(msg);
                rc = JOULE_E_INTERRUPTED;
                break;
            }
            char *p = jl_escape(t->v[i].path);
            char *line = msg && !strncmp(msg, p, strlen(p)) ? jl_strdup(msg) : jl_printf("%s: %s", p, msg ? msg : "");
            say(user, line);
            free(line);
            free(p);
            rc = JOULE_E_IO;
        }
        free(msg);
    }
    if (!rc && jl_interrupted()) {
        rc = JOULE_E_INTERRUPTED; /* as if the run had stopped a moment sooner */
        jl_outputs_discard(o, t->n);
    } else if (!rc) {
        char *msg = NULL;
        if (jl_outputs_place(o, t->n, &msg)) {
            say(user, msg);
            rc = JOULE_E_IO;
        }
        free(msg);
    } else {
        jl_outputs_discard(o, t->n);
    }
    jl_outputs_free(o, t->n);
    free(o);
    return rc;
}

void jl_tables_free(jl_tables *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        for (size_t f = 0; f < t->n_files; f++) {
            if (!t->keep)
                unlink(t->v[i].parts[f]); /* ENOENT for the inputs that failed */
            free(t->v[i].parts[f]);
        }
        free(t->v[i].parts);
        free(t->v[i].path);
    }
    free(t->v);
    free(t);
}
