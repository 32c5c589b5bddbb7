/* Plugins for the host's own tests (not installed):
 *   t_pass  — a filter that copies its input; with `fail_on`, fails after
 *             `fail_at` rows on inputs whose path contains that text;
 *             `delay_us` sleeps per call (a slow node).
 *   t_join  — two inputs of any kind; counts rows and sums the first column
 *             of each, emitting one summary row at finish (order-independent).
 *   t_burst — consumes its input silently, then emits `rows` counting rows
 *             on each of two outputs from finish, `per_call` at most per
 *             call (a node whose whole output comes at the end).
 *   t_gen   — a source that ignores the file and emits `rows` rows
 *             counting 0, 1, 2, ... in `columns` columns, `per_call` rows
 *             per call at most (exercises sources smaller than a chunk). */
#include <joule/plugin.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- t_pass ---- */
static const joule_param pass_params[] = {
    {"fail_on", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "", "fail on inputs whose path contains this"},
    {"fail_at", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "0", 0, 0, NULL, "rows", "fail once this many rows passed"},
    {"delay_us", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "0", 0, 0, NULL, "us", "sleep this long per call"},
};
static const joule_port pass_in[] = {{"in", JOULE_SIGNAL | JOULE_FRAMES, 0, ""}};
static const joule_port pass_out[] = {{"out", JOULE_SIGNAL, 0, ""}};

typedef struct pass {
    const joule_host *h;
    int fail;
    long long fail_at, delay_us, rows;
} pass;

static int pass_open(const joule_open_args *a, void **self)
{
    pass *p = calloc(1, sizeof *p);
    *self = p;
    p->h = a->host;
    p->fail = *a->params[0].s && strstr(a->input_path, a->params[0].s) != NULL;
    p->fail_at = a->params[1].i;
    p->delay_us = a->params[2].i;
    a->outputs[0] = a->inputs[0];
    a->outputs[0].kind = JOULE_SIGNAL;
    a->outputs[0].out_num = a->outputs[0].out_den = 1;
    a->outputs[0].flags = JOULE_FORMAT_IN_PLACE;
    return JOULE_OK;
}

static int pass_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    pass *p = self;
    if (p->delay_us) {
        struct timespec ts = {0, (long)p->delay_us * 1000};
        nanosleep(&ts, NULL);
    }
    if (p->fail && p->rows + in->n_rows > p->fail_at) {
        p->h->error(p->h, "failing on purpose at row %lld", p->fail_at);
        return JOULE_ERROR;
    }
    if (out[0].data != in->data) /* in place when the host could, a copy otherwise */
        memcpy(out[0].data, in->data, (size_t)in->n_rows * in->n_columns * sizeof(float));
    out[0].n_rows = in->n_rows;
    p->rows += in->n_rows;
    return JOULE_OK;
}

static void pass_close(void *self)
{
    free(self);
}

/* ---- t_join ---- */
static const joule_port join_in[] = {
    {"a", JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS, 0, ""},
    {"b", JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS, 0, ""},
};
static const joule_port join_out[] = {{"out", JOULE_EVENTS, 0, ""}};
static const char *const join_names[] = {"rows_a", "sum_a", "rows_b", "sum_b"};

typedef struct join {
    double v[4];
} join;

static int join_open(const joule_open_args *a, void **self)
{
    *self = calloc(1, sizeof(join));
    joule_format *f = &a->outputs[0];
    f->kind = JOULE_EVENTS;
    f->n_columns = 4;
    f->names = join_names;
    f->out_num = 0;
    f->out_den = 1;
    return JOULE_OK;
}

static int join_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)out;
    join *j = self;
    j->v[2 * port] += in->n_rows;
    for (uint32_t r = 0; r < in->n_rows; r++)
        j->v[2 * port + 1] += in->data[(size_t)r * in->n_columns];
    return JOULE_OK;
}

static int join_finish(void *self, joule_buffer *out)
{
    join *j = self;
    for (int k = 0; k < 4; k++)
        out[0].data[k] = (float)j->v[k];
    out[0].times[0] = 0;
    out[0].n_rows = 1;
    return JOULE_END;
}

/* ---- t_gen ---- */
static const joule_param gen_params[] = {
    {"rows", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "1000", 0, 0, NULL, "rows", "rows to emit"},
    {"columns", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1", 1, 64, NULL, "", "columns"},
    {"per_call", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "1000000", 1, 0, NULL, "rows", "most rows per call"},
};
static const joule_port gen_out[] = {{"out", JOULE_SIGNAL, 0, ""}};
static const char *const gen_names[64] = {
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14", "c15",
    "c16", "c17", "c18", "c19", "c20", "c21", "c22", "c23", "c24", "c25", "c26", "c27", "c28", "c29", "c30", "c31",
    "c32", "c33", "c34", "c35", "c36", "c37", "c38", "c39", "c40", "c41", "c42", "c43", "c44", "c45", "c46", "c47",
    "c48", "c49", "c50", "c51", "c52", "c53", "c54", "c55", "c56", "c57", "c58", "c59", "c60", "c61", "c62", "c63"};

typedef struct gen {
    long long rows, done, per_call;
    int cols;
} gen;

static int gen_open(const joule_open_args *a, void **self)
{
    gen *g = calloc(1, sizeof *g);
    *self = g;
    g->rows = a->params[0].i;
    g->cols = (int)a->params[1].i;
    g->per_call = a->params[2].i;
    joule_format *f = &a->outputs[0];
    f->kind = JOULE_SIGNAL;
    f->n_columns = (uint32_t)g->cols;
    f->rate = 1000;
    f->names = gen_names;
    f->length = (uint64_t)g->rows;
    return JOULE_OK;
}

static int gen_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port, (void)in;
    gen *g = self;
    long long n = out[0].capacity;
    if (n > g->per_call)
        n = g->per_call;
    if (n > g->rows - g->done)
        n = g->rows - g->done;
    for (long long r = 0; r < n; r++)
        for (int c = 0; c < g->cols; c++)
            out[0].data[r * g->cols + c] = (float)(g->done + r);
    out[0].n_rows = (uint32_t)n;
    g->done += n;
    return g->done == g->rows ? JOULE_END : JOULE_OK;
}

/* ---- t_burst ---- */
static const joule_param burst_params[] = {
    {"rows", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "1000", 0, 0, NULL, "rows", "rows per output"},
    {"per_call", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "1000000", 1, 0, NULL, "rows", "most rows per call"},
};
static const joule_port burst_in[] = {{"in", JOULE_SIGNAL, 0, ""}};
static const joule_port burst_out[] = {{"a", JOULE_SIGNAL, 0, ""}, {"b", JOULE_SIGNAL, 0, ""}};

typedef struct burst {
    long long rows, done, per_call;
} burst;

static int burst_open(const joule_open_args *a, void **self)
{
    burst *b = calloc(1, sizeof *b);
    *self = b;
    b->rows = a->params[0].i;
    b->per_call = a->params[1].i;
    for (int p = 0; p < 2; p++) {
        joule_format *f = &a->outputs[p];
        f->kind = JOULE_SIGNAL;
        f->n_columns = 2;
        f->rate = 1000;
        f->names = gen_names;
        f->out_num = 0;
        f->out_den = 1;
    }
    return JOULE_OK;
}

static int burst_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)self, (void)port, (void)in, (void)out;
    return JOULE_OK;
}

static int burst_finish(void *self, joule_buffer *out)
{
    burst *b = self;
    long long n = b->rows - b->done;
    if (n > b->per_call)
        n = b->per_call;
    for (int p = 0; p < 2; p++)
        if (n > out[p].capacity)
            n = out[p].capacity;
    for (int p = 0; p < 2; p++) {
        for (long long r = 0; r < n; r++)
            out[p].data[2 * r] = out[p].data[2 * r + 1] = (float)(b->done + r);
        out[p].n_rows = (uint32_t)n;
    }
    b->done += n;
    return b->done == b->rows ? JOULE_END : JOULE_OK;
}

#define DESC(id, nm, sum, rl, np, pp, ni, ip, no, op, o, p, f)                                                   \
    static const joule_descriptor id = {.abi_version = JOULE_ABI_VERSION, .struct_size = sizeof(joule_descriptor), \
                                        .name = nm, .version = "0.0.1", .summary = sum, .role = rl,             \
                                        .n_params = np, .params = pp, .n_inputs = ni, .inputs = ip,             \
                                        .n_outputs = no, .outputs = op, .open = o, .process = p, .finish = f,   \
                                        .close = pass_close}
DESC(d_pass, "t_pass", "test: copy input", JOULE_ROLE_FILTER, 3, pass_params, 1, pass_in, 1, pass_out, pass_open,
     pass_process, NULL);
DESC(d_join, "t_join", "test: join two inputs", JOULE_ROLE_FILTER, 0, NULL, 2, join_in, 1, join_out, join_open,
     join_process, join_finish);
DESC(d_burst, "t_burst", "test: all output at the end, on two ports", JOULE_ROLE_FILTER, 2, burst_params, 1,
     burst_in, 2, burst_out, burst_open, burst_process, burst_finish);
DESC(d_gen, "t_gen", "test: counting source", JOULE_ROLE_SOURCE, 3, gen_params, 0, NULL, 1, gen_out, gen_open,
     gen_process, NULL);

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    static const joule_descriptor *const all[] = {&d_pass, &d_join, &d_burst, &d_gen};
    return index < 4 ? all[index] : NULL;
}
