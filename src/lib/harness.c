/* harness.c — one plugin instance run from memory (see <joule/harness.h>).
 *
 * The harness is deliberately stricter than the scheduler where the ABI
 * allows the host latitude: output buffers are exactly as large as the
 * plugin's declared bound (the scheduler often lends more), with guard
 * values behind them, so that a bound that is too small fails here rather
 * than one day in a user's run. */
#define _GNU_SOURCE 1 /* nftw */
#include "config.h"

#include <joule/harness.h>
#include <joule/joule.h>

#include "formats.h"
#include "locks.h"
#include "outputs.h"
#include "param.h"
#include "pathtpl.h"
#include "registry.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef JOULE_PLUGIN_DIR
#define JOULE_PLUGIN_DIR "/usr/local/lib/joule"
#endif

/* Rows of guard values behind every output buffer, and the value: a NaN
 * with a payload no arithmetic produces, compared bit for bit. The guard
 * is as large as four times the call's input or capacity (and at least
 * GUARD_ROWS), so that a plugin whose bound is understated by that much
 * writes into the guard, where it is seen, and not into other memory. */
enum { GUARD_ROWS = 16 };
static const uint32_t GUARD_BITS = 0x7fa5e1f3u;

/* Calls of process (JOULE_MORE) or finish (JOULE_OK) in a row that emit
 * nothing before the harness calls it a loop. */
enum { MAX_IDLE_CALLS = 1000 };

typedef struct out_port {
    float *rows;       /* collected */
    double *times;
    size_t n, cap;
    uint64_t next_row; /* first_row of the next buffer */
    double last_time;
    uint32_t num, den; /* the declared bound; 0/0 read as 1/1 */
    float *buf;        /* the buffer lent to the plugin, + guard rows */
    double *tbuf;
    uint32_t buf_rows;
    uint32_t guard;    /* guard rows behind the capacity of this call */
} out_port;

/* ST_FAILED: the plugin returned a failure (finish may still be called,
 * to see that it survives); ST_BROKEN: it broke the ABI. */
typedef enum { ST_NEW, ST_OPEN, ST_FINISHED, ST_COMMITTED, ST_CLOSED, ST_FAILED, ST_BROKEN } state;

struct joule_harness {
    const joule_descriptor *d;
    joule_registry *reg; /* when loaded from a path or name */
    char *err;
    char *plugin_err; /* the plugin's last host->error */

    char **texts;      /* per parameter: the text set, or NULL */
    joule_value *values;
    char **paths;      /* output paths, expanded */

    joule_format *in_fmts;
    char ***in_names, ***in_units;
    int *in_set;
    uint64_t *in_next;   /* next input row per port */
    double *in_last_time;
    int *in_ended;
    joule_format *out_fmts;
    out_port *out;

    char *input_path, *node, *out_dir;
    int own_out_dir;
    uint32_t *chunks;
    size_t n_chunks, chunk_i;
    int in_place;
    joule_harness_log_fn log;
    void *log_user;
    joule_harness_hook_fn before, after;
    void *hook_user;

    joule_host host;
    joule_open_args args;
    void *self;
    state st;
    int opened_ok;     /* open returned JOULE_OK */

    float *ibuf;       /* a chunk's copy (in place, events' times) */
    double *itimes;
    size_t ibuf_rows, ibuf_bytes;

    jl_outfile *files;
    size_t n_files;
    char **placed;     /* paths of the files put in place, NULL-ended */
    size_t n_placed;

    uint32_t *caps;      /* per output: the rows lent for this call */
    joule_buffer *obufs; /* per output: what the plugin writes into */

    joule_harness_stats stats;
};

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */

static void set_err(joule_harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(joule_harness *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = jl_vprintf(fmt, ap);
    va_end(ap);
    free(h->err);
    h->err = m;
}

static void default_log(void *user, int level, const char *message)
{
    const joule_harness *h = user;
    if (level <= JOULE_LOG_WARN)
        fprintf(stderr, "%s: %s: %s\n", h->node, level == JOULE_LOG_ERROR ? "error" : "warning", message);
}

static void host_log(const joule_host *host, int level, const char *fmt, ...)
{
    joule_harness *h = host->host_data;
    if (!h->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *m = jl_vprintf(fmt, ap);
    va_end(ap);
    h->log(h->log_user, level, m);
    free(m);
}

static void host_error(const joule_host *host, const char *fmt, ...)
{
    joule_harness *h = host->host_data;
    va_list ap;
    va_start(ap, fmt);
    char *m = jl_vprintf(fmt, ap);
    va_end(ap);
    /* one line: the host adds nothing after it */
    for (char *c = m; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    free(h->plugin_err);
    h->plugin_err = m;
}

static void host_lock(const joule_host *host, const char *name)
{
    (void)host;
    jl_named_lock(name);
}

static void host_unlock(const joule_host *host, const char *name)
{
    (void)host;
    jl_named_unlock(name);
}

/* Only the paths the host expanded for the instance's output-path
 * parameters, as joule run allows. */
static int host_open_output(const joule_host *host, const char *path)
{
    joule_harness *h = host->host_data;
    const joule_descriptor *d = h->d;
    int ours = 0;
    for (uint32_t k = 0; k < d->n_params && !ours; k++)
        ours = h->paths[k] && path && !strcmp(h->paths[k], path);
    if (!ours) {
        char *p = path ? jl_escape(path) : jl_strdup("(null)");
        host_error(host, "asked to write %s, which is not one of its output-path parameters: refused", p);
        free(p);
        return -1;
    }
    jl_outfile o = {jl_strdup(path), NULL, 0, 0, 0};
    int fd;
    if (!strcmp(path, "-")) {
        o.to_stdout = 1;
        fd = dup(STDOUT_FILENO);
        if (fd < 0)
            host_error(host, "standard output: %s", strerror(errno));
    } else {
        char *msg = NULL;
        fd = jl_tmp_create(path, &o.tmp, &msg);
        if (fd < 0)
            host_error(host, "%s", msg);
        free(msg);
    }
    if (fd < 0) {
        free(o.path);
        return -1;
    }
    h->files = jl_realloc(h->files, (h->n_files + 1) * sizeof *h->files);
    h->files[h->n_files++] = o;
    return fd;
}

/* ------------------------------------------------------------------------ */
/* Creating                                                                  */

int joule_harness_new(const joule_descriptor *desc, joule_harness **out, char **error)
{
    *out = NULL;
    if (error)
        *error = NULL;
    char *why = desc ? jl_check_descriptor(desc) : jl_strdup("no descriptor");
    if (why) {
        if (error)
            *error = why;
        else
            free(why);
        return JOULE_E_PLUGIN;
    }
    joule_harness *h = jl_calloc(1, sizeof *h);
    const joule_descriptor *d = desc;
    h->d = d;
    size_t np = d->n_params ? d->n_params : 1, ni = d->n_inputs ? d->n_inputs : 1,
           no = d->n_outputs ? d->n_outputs : 1;
    h->texts = jl_calloc(np, sizeof *h->texts);
    h->values = jl_calloc(np, sizeof *h->values);
    h->paths = jl_calloc(np, sizeof *h->paths);
    h->in_fmts = jl_calloc(ni, sizeof *h->in_fmts);
    h->in_names = jl_calloc(ni, sizeof *h->in_names);
    h->in_units = jl_calloc(ni, sizeof *h->in_units);
    h->in_set = jl_calloc(ni, sizeof *h->in_set);
    h->in_next = jl_calloc(ni, sizeof *h->in_next);
    h->in_last_time = jl_calloc(ni, sizeof *h->in_last_time);
    h->in_ended = jl_calloc(ni, sizeof *h->in_ended);
    h->out_fmts = jl_calloc(no, sizeof *h->out_fmts);
    h->out = jl_calloc(no, sizeof *h->out);
    h->caps = jl_calloc(no, sizeof *h->caps);
    h->obufs = jl_calloc(no, sizeof *h->obufs);
    h->input_path = jl_strdup("input.wav");
    h->node = jl_strdup("node");
    h->chunks = jl_malloc(sizeof *h->chunks);
    h->chunks[0] = 4096;
    h->n_chunks = 1;
    h->log = default_log;
    h->log_user = h;
    h->err = jl_strdup("");
    *out = h;
    return 0;
}

static void add_dirs(joule_registry *reg, const char *list)
{
    char *copy = jl_strdup(list);
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
        joule_registry_add_dir(reg, dir);
    free(copy);
}

/* The registry's failures, as one line. */
static char *failures(const joule_registry *reg, const char *fallback)
{
    size_t n = joule_registry_failure_count(reg);
    if (!n)
        return jl_strdup(fallback);
    const char *path;
    const char *why = joule_registry_failure(reg, n - 1, &path);
    return jl_printf("%s: %s", path, why);
}

int joule_harness_load(const char *plugin, joule_harness **out, char **error)
{
    *out = NULL;
    if (error)
        *error = NULL;
    char *why = NULL;
    joule_registry *reg = joule_registry_new();
    const joule_plugin_info *info = NULL;
    if (strchr(plugin, '/')) {
        /* PATH or PATH:NAME */
        char *path = jl_strdup(plugin), *name = NULL;
        char *colon = strrchr(path, ':');
        struct stat st;
        if (colon && colon > strrchr(path, '/') && stat(path, &st) != 0) {
            *colon = '\0';
            name = colon + 1;
        }
        if (stat(path, &st) != 0)
            why = jl_printf("%s: %s", path, strerror(errno));
        else if (!S_ISREG(st.st_mode))
            why = jl_printf("%s: not a regular file", path);
        else if (joule_registry_add_file(reg, path) != 0)
            why = failures(reg, "cannot be loaded");
        else if (name) {
            info = joule_registry_find(reg, name);
            if (!info)
                why = jl_printf("%s holds no plugin named '%s'", path, name);
        } else if (joule_registry_count(reg) == 1) {
            info = joule_registry_get(reg, 0);
        } else if (joule_registry_count(reg) == 0) {
            why = failures(reg, "holds no plugin");
            if (!joule_registry_failure_count(reg)) {
                free(why);
                why = jl_printf("%s holds no plugin", path);
            }
        } else {
            char *list = jl_strdup("");
            for (size_t i = 0; i < joule_registry_count(reg); i++) {
                char *l = jl_printf("%s%s%s", list, i ? ", " : "", joule_registry_get(reg, i)->desc->name);
                free(list);
                list = l;
            }
            why = jl_printf("%s holds %zu plugins (%s): name one as %s:NAME", path, joule_registry_count(reg), list,
                            path);
            free(list);
        }
        free(path);
    } else {
        const char *env = getenv("JOULE_PLUGIN_PATH");
        if (env && *env)
            add_dirs(reg, env);
        joule_registry_add_dir(reg, JOULE_PLUGIN_DIR);
        info = joule_registry_find(reg, plugin);
        if (!info) {
            char *e = jl_escape(plugin);
            why = jl_printf("no plugin named '%s' on the plugin path ($JOULE_PLUGIN_PATH, then %s)", e,
                            JOULE_PLUGIN_DIR);
            free(e);
        }
    }
    if (!why) {
        int rc = joule_harness_new(info->desc, out, &why);
        if (rc == 0) {
            (*out)->reg = reg;
            return 0;
        }
    }
    joule_registry_free(reg);
    if (error)
        *error = why;
    else
        free(why);
    return JOULE_E_PLUGIN;
}

const joule_descriptor *joule_harness_descriptor(const joule_harness *h)
{
    return h->d;
}

const char *joule_harness_error(const joule_harness *h)
{
    return h->err ? h->err : "";
}

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */

static int not_new(joule_harness *h, const char *what)
{
    if (h->st == ST_NEW)
        return 0;
    set_err(h, "%s must be set before joule_harness_open", what);
    return 1;
}

int joule_harness_set(joule_harness *h, const char *name, const char *text)
{
    if (not_new(h, "parameters"))
        return JOULE_E_USAGE;
    const joule_descriptor *d = h->d;
    uint32_t i;
    for (i = 0; i < d->n_params; i++)
        if (!strcmp(d->params[i].name, name))
            break;
    if (i == d->n_params) {
        set_err(h, "plugin '%s' has no parameter '%s'", d->name, name);
        return JOULE_E_USAGE;
    }
    char *t = jl_strdup(text);
    char *why = NULL;
    joule_value v;
    if (jl_param_parse(&d->params[i], t, &v, &why)) {
        set_err(h, "%s %s", name, why);
        free(why);
        free(t);
        return JOULE_E_USAGE;
    }
    if ((d->params[i].flags & JOULE_PARAM_OUT_PATH) && jl_path_check(t, &why)) {
        set_err(h, "%s: %s", name, why);
        free(why);
        free(t);
        return JOULE_E_USAGE;
    }
    free(h->texts[i]);
    h->texts[i] = t;
    h->values[i] = v;
    return 0;
}

static void free_input(joule_harness *h, uint32_t port)
{
    for (uint32_t c = 0; h->in_names[port] && c < h->in_fmts[port].n_columns; c++)
        free(h->in_names[port][c]);
    for (uint32_t c = 0; h->in_units[port] && c < h->in_fmts[port].n_columns; c++)
        free(h->in_units[port][c]);
    free(h->in_names[port]);
    free(h->in_units[port]);
    h->in_names[port] = h->in_units[port] = NULL;
    memset(&h->in_fmts[port], 0, sizeof h->in_fmts[port]);
    h->in_set[port] = 0;
}

int joule_harness_set_input(joule_harness *h, uint32_t port, const joule_format *f)
{
    if (not_new(h, "input formats"))
        return JOULE_E_USAGE;
    const joule_descriptor *d = h->d;
    if (port >= d->n_inputs) {
        set_err(h, "plugin '%s' has %u input ports, not %u", d->name, d->n_inputs, port + 1);
        return JOULE_E_USAGE;
    }
    const joule_port *dp = &d->inputs[port];
    if (f->kind != JOULE_SIGNAL && f->kind != JOULE_FRAMES && f->kind != JOULE_EVENTS) {
        set_err(h, "input '%s': kind %u is not one of JOULE_SIGNAL, JOULE_FRAMES, JOULE_EVENTS", dp->name, f->kind);
        return JOULE_E_USAGE;
    }
    if (!(dp->kinds & f->kind)) {
        set_err(h, "input '%s' does not accept %s", dp->name,
                f->kind == JOULE_SIGNAL ? "a signal" : f->kind == JOULE_FRAMES ? "frames" : "events");
        return JOULE_E_USAGE;
    }
    if (f->n_columns == 0 || f->n_columns > (1u << 20)) {
        set_err(h, "input '%s': %u columns (1 .. 2^20)", dp->name, f->n_columns);
        return JOULE_E_USAGE;
    }
    if (f->kind != JOULE_EVENTS && !(f->rate > 0 && f->rate < 1e300)) {
        set_err(h, "input '%s': a signal or frames need a rate above 0", dp->name);
        return JOULE_E_USAGE;
    }
    free_input(h, port);
    joule_format *c = &h->in_fmts[port];
    *c = *f;
    h->in_names[port] = jl_calloc(f->n_columns, sizeof(char *));
    for (uint32_t i = 0; i < f->n_columns; i++)
        h->in_names[port][i] = f->names && f->names[i] ? jl_strdup(f->names[i]) : jl_printf("ch%u", i);
    c->names = (const char *const *)h->in_names[port];
    if (f->units) {
        h->in_units[port] = jl_calloc(f->n_columns, sizeof(char *));
        for (uint32_t i = 0; i < f->n_columns; i++)
            h->in_units[port][i] = jl_strdup(f->units[i] ? f->units[i] : "");
        c->units = (const char *const *)h->in_units[port];
    }
    h->in_set[port] = 1;
    return 0;
}

static int set_str(joule_harness *h, char **field, const char *v, const char *what)
{
    if (not_new(h, what))
        return JOULE_E_USAGE;
    if (!v || !*v) {
        set_err(h, "%s must not be empty", what);
        return JOULE_E_USAGE;
    }
    free(*field);
    *field = jl_strdup(v);
    return 0;
}

int joule_harness_set_input_path(joule_harness *h, const char *path)
{
    return set_str(h, &h->input_path, path, "the input path");
}

int joule_harness_set_node(joule_harness *h, const char *name)
{
    return set_str(h, &h->node, name, "the node's name");
}

int joule_harness_set_output_dir(joule_harness *h, const char *dir)
{
    return set_str(h, &h->out_dir, dir, "the output folder");
}

const char *joule_harness_output_dir(const joule_harness *h)
{
    return h->out_dir;
}

int joule_harness_set_chunks(joule_harness *h, const uint32_t *sizes, size_t n)
{
    if (!n) {
        set_err(h, "no chunk sizes");
        return JOULE_E_USAGE;
    }
    for (size_t i = 0; i < n; i++)
        if (sizes[i] < 1 || sizes[i] > (1u << 24)) {
            set_err(h, "chunk size %u is not within 1 .. 2^24 rows", sizes[i]);
            return JOULE_E_USAGE;
        }
    free(h->chunks);
    h->chunks = jl_malloc(n * sizeof *h->chunks);
    memcpy(h->chunks, sizes, n * sizeof *sizes);
    h->n_chunks = n;
    h->chunk_i = 0;
    return 0;
}

int joule_harness_set_in_place(joule_harness *h, int in_place)
{
    h->in_place = in_place != 0;
    return 0;
}

int joule_harness_set_log(joule_harness *h, joule_harness_log_fn fn, void *user)
{
    h->log = fn;
    h->log_user = user;
    return 0;
}

int joule_harness_set_hooks(joule_harness *h, joule_harness_hook_fn before, joule_harness_hook_fn after,
                            void *user)
{
    h->before = before;
    h->after = after;
    h->hook_user = user;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */

static void enter(joule_harness *h, const char *call)
{
    free(h->plugin_err);
    h->plugin_err = NULL;
    if (h->before)
        h->before(h->hook_user, call);
}

static void leave(joule_harness *h, const char *call)
{
    if (h->after)
        h->after(h->hook_user, call);
}

/* The plugin returned a failure from `call`. */
static int plugin_failed(joule_harness *h, const char *call, int rc)
{
    if (rc < 0 && h->plugin_err && *h->plugin_err)
        set_err(h, "%s", h->plugin_err);
    else if (rc < 0)
        set_err(h, "%s failed (the plugin gave no reason)", call);
    else
        set_err(h, "%s returned %d, which is not a status it may return", call, rc);
    h->st = rc < 0 && h->opened_ok ? ST_FAILED : ST_BROKEN;
    return JOULE_E_PLUGIN;
}

/* A breach of the ABI found by the harness. */
static int broken(joule_harness *h, char *msg)
{
    free(h->err);
    h->err = msg;
    h->st = ST_BROKEN;
    return JOULE_E_PLUGIN;
}

static int make_out_dir(joule_harness *h)
{
    if (h->out_dir)
        return 0;
    const char *tmp = getenv("TMPDIR");
    char *t = jl_printf("%s/joule-harness-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(t)) {
        set_err(h, "cannot make a folder for outputs (%s): %s", t, strerror(errno));
        free(t);
        return -1;
    }
    h->out_dir = t;
    h->own_out_dir = 1;
    return 0;
}

int joule_harness_open(joule_harness *h)
{
    if (h->st != ST_NEW) {
        set_err(h, "joule_harness_open: the instance was opened already");
        return JOULE_E_USAGE;
    }
    const joule_descriptor *d = h->d;
    /* defaults, required parameters */
    for (uint32_t i = 0; i < d->n_params; i++) {
        const joule_param *p = &d->params[i];
        if (h->texts[i])
            continue;
        if (!p->def) {
            set_err(h, "plugin '%s' needs '%s' to be set (%s)", d->name, p->name,
                    p->help ? p->help : jl_param_type_name(p->type));
            return JOULE_E_USAGE;
        }
        char *why;
        h->texts[i] = jl_strdup(p->def);
        if (jl_param_parse(p, h->texts[i], &h->values[i], &why)) {
            set_err(h, "the default of %s is invalid: %s", p->name, why);
            free(why);
            return JOULE_E_PLUGIN;
        }
    }
    if (d->check) {
        enum { MSG_SIZE = 512, GUARD = 512 };
        char msg[MSG_SIZE + GUARD];
        memset(msg, 0, MSG_SIZE);
        memset(msg + MSG_SIZE, 0x5a, GUARD);
        int bad = d->check(h->values, msg, MSG_SIZE);
        for (size_t i = MSG_SIZE; i < sizeof msg; i++)
            if (msg[i] != 0x5a)
                return broken(h, jl_printf("check() wrote past the %d bytes it was given", MSG_SIZE));
        msg[MSG_SIZE - 1] = '\0';
        if (bad) {
            set_err(h, "%s", *msg ? msg : "invalid parameters (check() gave no reason)");
            return JOULE_E_USAGE;
        }
    }
    for (uint32_t k = 0; k < d->n_inputs; k++)
        if (!h->in_set[k] && !(d->inputs[k].flags & JOULE_PORT_OPTIONAL)) {
            set_err(h, "input '%s' needs a format (joule_harness_set_input)", d->inputs[k].name);
            return JOULE_E_USAGE;
        }
    for (uint32_t k = 0; k < d->n_params; k++)
        if (d->params[k].flags & JOULE_PARAM_OUT_PATH) {
            if (make_out_dir(h))
                return JOULE_E_IO;
            h->paths[k] = jl_path_expand(h->texts[k], h->input_path, h->node, h->out_dir);
            h->values[k].s = h->paths[k];
        }
    h->host.abi_version = JOULE_ABI_VERSION;
    h->host.struct_size = sizeof h->host;
    h->host.log = host_log;
    h->host.error = host_error;
    h->host.lock = host_lock;
    h->host.unlock = host_unlock;
    h->host.host_data = h;
    h->host.open_output = host_open_output;
    h->args.struct_size = sizeof h->args;
    h->args.host = &h->host;
    h->args.node = h->node;
    h->args.input_path = h->input_path;
    h->args.params = h->values;
    h->args.inputs = h->in_fmts;
    h->args.outputs = h->out_fmts;
    h->args.descriptor = d;
    enter(h, "open");
    int rc = d->open(&h->args, &h->self);
    leave(h, "open");
    h->st = ST_OPEN;
    if (rc != JOULE_OK)
        return plugin_failed(h, "open", rc);
    h->opened_ok = 1;
    for (uint32_t p = 0; p < d->n_outputs; p++) {
        const joule_format *f = &h->out_fmts[p];
        char *bad = jl_check_out_format(d, p, f);
        if (bad)
            return broken(h, bad);
        out_port *o = &h->out[p];
        o->num = f->out_num || f->out_den ? f->out_num : 1;
        o->den = f->out_den ? f->out_den : 1;
        o->last_time = -INFINITY;
        if (f->flags & JOULE_FORMAT_IN_PLACE) {
            const joule_format *in = &h->in_fmts[0];
            if (d->n_inputs != 1 || d->n_outputs != 1)
                return broken(h, jl_printf("output '%s' is declared in place, but the plugin does not have one "
                                           "input and one output",
                                           d->outputs[p].name));
            if (in->kind && (f->kind != in->kind || f->n_columns != in->n_columns))
                return broken(h, jl_printf("output '%s' is declared in place, but its kind or columns differ "
                                           "from the input's",
                                           d->outputs[p].name));
            if (o->num != o->den)
                return broken(h, jl_printf("output '%s' is declared in place but bounded by %u/%u rows per row, "
                                           "not 1/1",
                                           d->outputs[p].name, o->num, o->den));
        }
    }
    return 0;
}

const joule_format *joule_harness_output_format(const joule_harness *h, uint32_t port)
{
    if (h->st == ST_NEW || port >= h->d->n_outputs)
        return NULL;
    return &h->out_fmts[port];
}

/* Lend output buffers of `rows` rows each (per port: caps[p]), with guard
 * values behind them. */
static uint32_t guard_rows(uint32_t cap, uint32_t n_in)
{
    uint64_t g = 4 * (uint64_t)(cap > n_in ? cap : n_in) + GUARD_ROWS;
    return g > (1u << 26) ? 1u << 26 : (uint32_t)g;
}

static void lend(joule_harness *h, joule_buffer *bufs, const uint32_t *caps, uint32_t n_in)
{
    for (uint32_t p = 0; p < h->d->n_outputs; p++) {
        out_port *o = &h->out[p];
        const joule_format *f = &h->out_fmts[p];
        uint32_t guard = guard_rows(caps[p], n_in);
        o->guard = guard;
        uint32_t need = caps[p] + guard;
        if (need > o->buf_rows) {
            free(o->buf);
            free(o->tbuf);
            o->buf = jl_malloc((size_t)need * f->n_columns * sizeof(float));
            o->tbuf = f->kind == JOULE_EVENTS ? jl_malloc((size_t)need * sizeof(double)) : NULL;
            o->buf_rows = need;
        }
        size_t guard_from = (size_t)caps[p] * f->n_columns, guard_n = (size_t)guard * f->n_columns;
        for (size_t i = 0; i < guard_n; i++)
            memcpy(&o->buf[guard_from + i], &GUARD_BITS, sizeof(float));
        if (o->tbuf)
            for (size_t i = 0; i < guard; i++) {
                uint64_t g = ((uint64_t)GUARD_BITS << 32) | GUARD_BITS;
                memcpy(&o->tbuf[caps[p] + i], &g, sizeof(double));
            }
        joule_buffer *b = &bufs[p];
        memset(b, 0, sizeof *b);
        b->first_row = o->next_row;
        b->capacity = caps[p];
        b->n_columns = f->n_columns;
        b->data = o->buf;
        b->times = o->tbuf;
    }
}

/* After a call: the plugin kept to the buffers it was lent; keep the rows.
 * `bounded`: the capacity was the declared bound for n_in input rows. */
static int take(joule_harness *h, const char *call, joule_buffer *bufs, int bounded, uint32_t n_in,
                int in_place, size_t *emitted)
{
    const joule_descriptor *d = h->d;
    *emitted = 0;
    for (uint32_t p = 0; p < d->n_outputs; p++) {
        out_port *o = &h->out[p];
        const joule_format *f = &h->out_fmts[p];
        joule_buffer *b = &bufs[p];
        const char *name = d->outputs[p].name;
        if (b->n_rows > b->capacity) {
            if (bounded)
                return broken(h, jl_printf("%s wrote %u rows to output '%s' for %u input rows, declared at most "
                                           "%u (out_num/out_den = %u/%u): the declared bound is too small",
                                           call, b->n_rows, name, n_in, b->capacity, o->num, o->den));
            return broken(h, jl_printf("%s wrote %u rows to output '%s', which had room for %u", call, b->n_rows,
                                       name, b->capacity));
        }
        if (!in_place) {
            if (b->data != o->buf || b->times != o->tbuf)
                return broken(h, jl_printf("%s replaced the buffer pointers of output '%s'", call, name));
            size_t guard_from = (size_t)b->capacity * f->n_columns, guard_n = (size_t)o->guard * f->n_columns;
            int over = memcmp(&o->buf[guard_from], &GUARD_BITS, sizeof(float)) != 0;
            for (size_t i = 1; i < guard_n && !over; i++)
                over = memcmp(&o->buf[guard_from + i], &GUARD_BITS, sizeof(float)) != 0;
            for (size_t i = 0; o->tbuf && i < o->guard && !over; i++) {
                uint64_t g = ((uint64_t)GUARD_BITS << 32) | GUARD_BITS;
                over = memcmp(&o->tbuf[b->capacity + i], &g, sizeof(double)) != 0;
            }
            if (over) {
                if (bounded)
                    return broken(h, jl_printf("%s wrote past the end of output '%s' (room for %u rows, the bound "
                                               "declared for %u input rows at %u/%u): the declared bound is too "
                                               "small, or the plugin writes more than it reports",
                                               call, name, b->capacity, n_in, o->num, o->den));
                return broken(h, jl_printf("%s wrote past the end of output '%s' (room for %u rows)", call, name,
                                           b->capacity));
            }
        }
        if (b->n_rows && f->kind == JOULE_EVENTS) {
            for (uint32_t i = 0; i < b->n_rows; i++) {
                if (!(b->times[i] >= o->last_time))
                    return broken(h, jl_printf("%s emitted an event at %.9g s after one at %.9g s on output '%s': "
                                               "event times must not decrease",
                                               call, b->times[i], o->last_time, name));
                o->last_time = b->times[i];
            }
        }
        if (!b->n_rows)
            continue;
        if (o->n + b->n_rows > o->cap) {
            size_t c = o->cap ? o->cap : 1024;
            while (c < o->n + b->n_rows)
                c *= 2;
            o->rows = jl_realloc(o->rows, c * f->n_columns * sizeof(float));
            if (f->kind == JOULE_EVENTS)
                o->times = jl_realloc(o->times, c * sizeof(double));
            o->cap = c;
        }
        memcpy(o->rows + o->n * f->n_columns, b->data, (size_t)b->n_rows * f->n_columns * sizeof(float));
        if (f->kind == JOULE_EVENTS)
            memcpy(o->times + o->n, b->times, b->n_rows * sizeof(double));
        o->n += b->n_rows;
        o->next_row += b->n_rows;
        h->stats.rows_out += b->n_rows;
        *emitted += b->n_rows;
    }
    return 0;
}

static int call_process(joule_harness *h, uint32_t port, const joule_buffer *in, joule_buffer *out,
                        const char *call)
{
    enter(h, call);
    double t = jl_now();
    int rc = h->d->process(h->self, port, in, h->d->n_outputs ? out : NULL);
    t = jl_now() - t;
    leave(h, call);
    h->stats.process_calls++;
    h->stats.process_seconds += t;
    if (t > h->stats.process_max)
        h->stats.process_max = t;
    return rc;
}

static uint32_t next_chunk(joule_harness *h)
{
    uint32_t c = h->chunks[h->chunk_i];
    h->chunk_i = (h->chunk_i + 1) % h->n_chunks;
    return c;
}

static int runnable(joule_harness *h, const char *what)
{
    if (h->st == ST_OPEN)
        return 0;
    set_err(h, "%s: %s", what,
            h->st == ST_NEW ? "the instance is not open" : h->st == ST_BROKEN ? "the instance failed already"
                                                                              : "the instance has finished");
    return 1;
}

/* After process returned JOULE_MORE: call again with zero rows until it
 * returns JOULE_OK. */
static int drain(joule_harness *h, uint32_t port, uint64_t first_row, uint32_t n_cols, uint32_t *caps)
{
    unsigned idle = 0;
    for (;;) {
        float dummy = 0;
        joule_buffer in = {first_row, 0, 0, n_cols, 0, &dummy, NULL};
        uint32_t c = next_chunk(h);
        for (uint32_t p = 0; p < h->d->n_outputs; p++)
            caps[p] = c;
        joule_buffer *out = h->obufs;
        lend(h, out, caps, 0);
        int rc = call_process(h, port, &in, out, "process");
        if (rc < 0 || (rc != JOULE_OK && rc != JOULE_MORE))
            return plugin_failed(h, "process", rc);
        size_t emitted;
        int e = take(h, "process", out, 0, 0, 0, &emitted);
        if (e)
            return e;
        if (rc == JOULE_OK)
            return 0;
        idle = emitted ? 0 : idle + 1;
        if (idle >= MAX_IDLE_CALLS)
            return broken(h, jl_printf("process returned JOULE_MORE %d times in a row without emitting anything",
                                       MAX_IDLE_CALLS));
    }
}

int joule_harness_feed(joule_harness *h, uint32_t port, const float *rows, const double *times, size_t n_rows)
{
    if (runnable(h, "joule_harness_feed"))
        return JOULE_E_USAGE;
    const joule_descriptor *d = h->d;
    if (d->role == JOULE_ROLE_SOURCE) {
        set_err(h, "a source takes no input: use joule_harness_pull");
        return JOULE_E_USAGE;
    }
    if (port >= d->n_inputs || !h->in_set[port]) {
        set_err(h, "input port %u is not connected (joule_harness_set_input)", port);
        return JOULE_E_USAGE;
    }
    const joule_format *f = &h->in_fmts[port];
    if (n_rows && !rows) {
        set_err(h, "no rows given");
        return JOULE_E_USAGE;
    }
    if (f->kind == JOULE_EVENTS) {
        if (n_rows && !times) {
            set_err(h, "events need their times");
            return JOULE_E_USAGE;
        }
        double last = h->in_last_time[port];
        for (size_t i = 0; i < n_rows; i++) {
            if ((h->in_next[port] || i) && !(times[i] >= last)) {
                set_err(h, "input '%s': the time of row %zu (%.9g s) is before the one before it (%.9g s)",
                        d->inputs[port].name, i, times[i], last);
                return JOULE_E_USAGE;
            }
            last = times[i];
        }
    }
    uint32_t *caps = h->caps;
    size_t at = 0;
    do {
        uint32_t n = next_chunk(h);
        if (n > n_rows - at)
            n = (uint32_t)(n_rows - at);
        size_t bytes = (size_t)n * f->n_columns * sizeof(float);
        /* a copy of the chunk: the plugin sees exactly n rows of memory
         * (and, in place, may write over them) */
        /* ports differ in width: the copy is sized in bytes and rows */
        if (bytes > h->ibuf_bytes || n > h->ibuf_rows || !h->ibuf) {
            free(h->ibuf);
            free(h->itimes);
            h->ibuf_bytes = bytes > h->ibuf_bytes ? bytes : h->ibuf_bytes;
            h->ibuf_rows = n > h->ibuf_rows ? n : h->ibuf_rows;
            h->ibuf = jl_malloc(h->ibuf_bytes ? h->ibuf_bytes : sizeof(float));
            h->itimes = jl_malloc((h->ibuf_rows ? h->ibuf_rows : 1) * sizeof(double));
        }
        if (n)
            memcpy(h->ibuf, rows + at * f->n_columns, bytes);
        if (n && f->kind == JOULE_EVENTS)
            memcpy(h->itimes, times + at, n * sizeof(double));
        joule_buffer in = {h->in_next[port], n, n, f->n_columns, 0, h->ibuf,
                           f->kind == JOULE_EVENTS ? h->itimes : NULL};
        joule_buffer *out = h->obufs;
        int in_place = h->in_place && d->n_outputs == 1 && (h->out_fmts[0].flags & JOULE_FORMAT_IN_PLACE);
        for (uint32_t p = 0; p < d->n_outputs; p++)
            caps[p] = (uint32_t)(((uint64_t)n * h->out[p].num + h->out[p].den - 1) / h->out[p].den);
        if (in_place) {
            memset(&out[0], 0, sizeof out[0]);
            out[0].first_row = h->out[0].next_row;
            out[0].capacity = n;
            out[0].n_columns = f->n_columns;
            out[0].data = h->ibuf;
            out[0].times = in.times;
        } else
            lend(h, out, caps, n);
        int rc = call_process(h, port, &in, out, "process");
        if (rc < 0 || (rc != JOULE_OK && rc != JOULE_MORE))
            return plugin_failed(h, "process", rc);
        size_t emitted;
        int e = take(h, "process", out, 1, n, in_place, &emitted);
        if (e)
            return e;
        h->in_next[port] += n;
        if (n && f->kind == JOULE_EVENTS)
            h->in_last_time[port] = times[at + n - 1];
        h->stats.rows_in += n;
        at += n;
        if (rc == JOULE_MORE && (e = drain(h, port, h->in_next[port], f->n_columns, caps)))
            return e;
    } while (at < n_rows);
    return 0;
}

int joule_harness_pull(joule_harness *h)
{
    if (runnable(h, "joule_harness_pull"))
        return JOULE_E_USAGE;
    const joule_descriptor *d = h->d;
    if (d->role != JOULE_ROLE_SOURCE) {
        set_err(h, "only a source is pulled: feed a filter or sink its input");
        return JOULE_E_USAGE;
    }
    uint32_t *caps = h->caps;
    unsigned idle = 0;
    for (;;) {
        uint32_t c = next_chunk(h);
        for (uint32_t p = 0; p < d->n_outputs; p++)
            caps[p] = c;
        joule_buffer *out = h->obufs;
        lend(h, out, caps, 0);
        int rc = call_process(h, 0, NULL, out, "process");
        if (rc < 0 || (rc != JOULE_OK && rc != JOULE_END && rc != JOULE_MORE))
            return plugin_failed(h, "process", rc);
        size_t emitted;
        int e = take(h, "process", out, 0, 0, 0, &emitted);
        if (e)
            return e;
        if (rc == JOULE_END)
            return 0;
        idle = emitted ? 0 : idle + 1;
        if (idle >= MAX_IDLE_CALLS)
            return broken(h, jl_printf("process (a source) returned %d times in a row without rows or JOULE_END",
                                       MAX_IDLE_CALLS));
    }
}

int joule_harness_finish(joule_harness *h)
{
    int after_failure = h->st == ST_FAILED;
    if (!after_failure && runnable(h, "joule_harness_finish"))
        return JOULE_E_USAGE;
    const joule_descriptor *d = h->d;
    if (!d->finish) {
        if (!after_failure)
            h->st = ST_FINISHED;
        return 0;
    }
    uint32_t *caps = h->caps;
    unsigned idle = 0;
    for (;;) {
        uint32_t c = next_chunk(h);
        for (uint32_t p = 0; p < d->n_outputs; p++)
            caps[p] = c;
        joule_buffer *out = h->obufs;
        lend(h, out, caps, 0);
        enter(h, "finish");
        double t = jl_now();
        int rc = d->finish(h->self, d->n_outputs ? out : NULL);
        t = jl_now() - t;
        leave(h, "finish");
        h->stats.process_calls++;
        h->stats.process_seconds += t;
        if (t > h->stats.process_max)
            h->stats.process_max = t;
        if (rc < 0 || (rc != JOULE_OK && rc != JOULE_END))
            return plugin_failed(h, "finish", rc);
        size_t emitted;
        int e = take(h, "finish", out, 0, 0, 0, &emitted);
        if (e)
            return e;
        if (rc == JOULE_END)
            break;
        idle = emitted ? 0 : idle + 1;
        if (idle >= MAX_IDLE_CALLS)
            return broken(h, jl_printf("finish returned JOULE_OK %d times in a row without emitting anything",
                                       MAX_IDLE_CALLS));
    }
    if (after_failure)
        return 0; /* survived; the job still failed: no commit */
    h->st = ST_FINISHED;
    return 0;
}

int joule_harness_commit(joule_harness *h)
{
    if (h->st != ST_FINISHED) {
        set_err(h, "joule_harness_commit: %s",
                h->st == ST_OPEN ? "call joule_harness_finish first" : "the instance did not finish");
        return JOULE_E_USAGE;
    }
    if (h->d->commit) {
        enter(h, "commit");
        int rc = h->d->commit(h->self);
        leave(h, "commit");
        if (rc != JOULE_OK)
            return plugin_failed(h, "commit", rc);
    }
    h->st = ST_COMMITTED;
    return 0;
}

void joule_harness_close(joule_harness *h)
{
    if (h->st == ST_NEW || h->st == ST_CLOSED)
        return;
    int committed = h->st == ST_COMMITTED;
    enter(h, "close");
    h->d->close(h->self);
    leave(h, "close");
    h->self = NULL;
    h->st = ST_CLOSED;
    if (committed && h->n_files) {
        char *msg = NULL;
        if (jl_outputs_place(h->files, h->n_files, &msg) != 0) {
            set_err(h, "%s", msg);
            free(msg);
        } else
            for (size_t i = 0; i < h->n_files; i++) {
                h->placed = jl_realloc(h->placed, (h->n_placed + 2) * sizeof *h->placed);
                h->placed[h->n_placed++] = jl_strdup(h->files[i].path);
                h->placed[h->n_placed] = NULL;
            }
    } else
        jl_outputs_discard(h->files, h->n_files);
    jl_outputs_free(h->files, h->n_files);
    free(h->files);
    h->files = NULL;
    h->n_files = 0;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

const float *joule_harness_rows(const joule_harness *h, uint32_t port, size_t *n_rows)
{
    if (port >= h->d->n_outputs || !h->out[port].n) {
        if (n_rows)
            *n_rows = 0;
        return NULL;
    }
    if (n_rows)
        *n_rows = h->out[port].n;
    return h->out[port].rows;
}

const double *joule_harness_times(const joule_harness *h, uint32_t port)
{
    if (port >= h->d->n_outputs || !h->out[port].n)
        return NULL;
    return h->out[port].times;
}

void joule_harness_clear(joule_harness *h, uint32_t port)
{
    if (port < h->d->n_outputs)
        h->out[port].n = 0;
}

const char *joule_harness_output_file(const joule_harness *h, size_t i)
{
    return i < h->n_placed ? h->placed[i] : NULL;
}

void joule_harness_get_stats(const joule_harness *h, joule_harness_stats *stats)
{
    *stats = h->stats;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void joule_harness_free(joule_harness *h)
{
    if (!h)
        return;
    joule_harness_close(h);
    const joule_descriptor *d = h->d;
    for (uint32_t i = 0; i < d->n_params; i++) {
        free(h->texts[i]);
        free(h->paths[i]);
    }
    for (uint32_t k = 0; k < d->n_inputs; k++)
        free_input(h, k);
    for (uint32_t p = 0; p < d->n_outputs; p++) {
        free(h->out[p].rows);
        free(h->out[p].times);
        free(h->out[p].buf);
        free(h->out[p].tbuf);
    }
    if (h->own_out_dir)
        nftw(h->out_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < h->n_placed; i++)
        free(h->placed[i]);
    free(h->placed);
    free(h->texts);
    free(h->values);
    free(h->paths);
    free(h->in_fmts);
    free(h->in_names);
    free(h->in_units);
    free(h->in_set);
    free(h->in_next);
    free(h->in_last_time);
    free(h->in_ended);
    free(h->out_fmts);
    free(h->out);
    free(h->caps);
    free(h->obufs);
    free(h->input_path);
    free(h->node);
    free(h->out_dir);
    free(h->chunks);
    free(h->ibuf);
    free(h->itimes);
    free(h->err);
    free(h->plugin_err);
    joule_registry_free(h->reg);
    free(h);
}
