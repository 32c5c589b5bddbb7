/* Plugins that misbehave on purpose, one way per value of `fault`, for the
 * host's fault-isolation tests (not installed). They misbehave only on
 * inputs whose path contains `on` (every input when it is empty), so that
 * a test can check that the run's other inputs are unharmed.
 *
 *   t_bad    — a filter (signal in, signal out, one row per row)
 *   t_badsrc — a source that emits `rows` rows of zeros, then misbehaves
 *              or ends */
#include <joule/plugin.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const faults[] = {"none",      "segv",        "abort",      "exit",      "hang",
                                     "more",      "finish_ok",   "null_name",  "comma_name", "dup_names",
                                     "understate", "huge_bound",  "oom",        "zero_rows", "check_overrun",
                                     "check_ctrl",    "big_alloc", NULL};
enum { F_NONE, F_SEGV, F_ABORT, F_EXIT, F_HANG, F_MORE, F_FINISH_OK, F_NULL_NAME, F_COMMA_NAME, F_DUP_NAMES,
       F_UNDERSTATE, F_HUGE_BOUND, F_OOM, F_ZERO_ROWS, F_CHECK_OVERRUN, F_CHECK_CTRL,
       F_BIG_ALLOC };
static const char *const wheres[] = {"open", "process", "finish", NULL};
enum { W_OPEN, W_PROCESS, W_FINISH };

static const joule_param params[] = {
    {"fault", JOULE_PARAM_ENUM, 0, "none", 0, 0, faults, "", "how to misbehave"},
    {"where", JOULE_PARAM_ENUM, 0, "process", 0, 0, wheres, "", "in which call (segv, abort, exit, hang)"},
    {"on", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "", "misbehave only on inputs whose path contains this"},
    {"rows", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "1000", 0, 0, NULL, "rows", "t_badsrc: rows before the fault"},
};
static const joule_port in_ports[] = {{"in", JOULE_SIGNAL, 0, ""}};
static const joule_port out_ports[] = {{"out", JOULE_SIGNAL, 0, ""}};

typedef struct bad {
    const joule_host *h;
    int fault, where, active;
    long long rows, sent;
    const char *names[2];
} bad;

static void misbehave(bad *b, int where)
{
    if (!b->active || b->where != where)
        return;
    switch (b->fault) {
    case F_SEGV: raise(SIGSEGV); break;
    case F_ABORT: abort();
    case F_EXIT: exit(0);
    case F_HANG:
        for (;;)
            pause();
    default: break;
    }
}

static int bad_open_common(const joule_open_args *a, void **self, bad **out, int is_source)
{
    bad *b = calloc(1, sizeof *b);
    *self = b;
    *out = b;
    b->h = a->host;
    b->fault = (int)a->params[0].e;
    b->where = (int)a->params[1].e;
    b->active = !*a->params[2].s || strstr(a->input_path, a->params[2].s) != NULL;
    b->rows = is_source ? a->params[3].i : 0;
    if (b->active && (b->fault == F_OOM || b->fault == F_BIG_ALLOC)) {
        /* a library that aborts when an allocation fails: oom asks for
         * more than any machine has, big_alloc for 2 GiB, which fails only
         * under a memory limit (ulimit -v) */
        void *p = malloc(b->fault == F_OOM ? (size_t)1 << 40 : (size_t)2 << 30);
        if (!p) {
            fprintf(stderr, "bad: alloc.c:29: assertion failed: p\n");
            abort();
        }
        free(p);
    }
    misbehave(b, W_OPEN);
    joule_format *f = &a->outputs[0];
    if (a->inputs && a->inputs[0].kind) {
        *f = a->inputs[0];
    } else {
        f->kind = JOULE_SIGNAL;
        f->n_columns = 1;
        f->rate = 1000;
        static const char *const one[] = {"x"};
        f->names = one;
    }
    f->kind = JOULE_SIGNAL;
    f->units = NULL;
    f->out_num = f->out_den = 1;
    f->flags = 0;
    if (b->active && f->n_columns >= 1) {
        static const char *const null_names[2] = {NULL, NULL};
        static const char *const comma_names[2] = {"a,b", "c\nd"};
        static const char *const dup_names[2] = {"same", "same"};
        if (b->fault == F_NULL_NAME)
            f->names = null_names;
        else if (b->fault == F_COMMA_NAME)
            f->names = comma_names;
        else if (b->fault == F_DUP_NAMES && f->n_columns == 2)
            f->names = dup_names;
        else if (b->fault == F_HUGE_BOUND)
            f->out_num = 1u << 30;
        if (b->fault == F_NULL_NAME || b->fault == F_COMMA_NAME || b->fault == F_DUP_NAMES)
            f->n_columns = f->n_columns < 2 ? f->n_columns : 2;
    }
    return JOULE_OK;
}

static int bad_open(const joule_open_args *a, void **self)
{
    bad *b;
    return bad_open_common(a, self, &b, 0);
}

static int src_open(const joule_open_args *a, void **self)
{
    bad *b;
    return bad_open_common(a, self, &b, 1);
}

static int bad_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    bad *b = self;
    misbehave(b, W_PROCESS);
    if (b->active && b->fault == F_MORE)
        return JOULE_MORE; /* and never emits */
    memcpy(out->data, in->data, (size_t)in->n_rows * in->n_columns * sizeof(float));
    uint32_t n = in->n_rows;
    /* claims one row more than its declared 1/1 (without writing it, so
     * that the test does not depend on what lies past the capacity) */
    if (b->active && b->fault == F_UNDERSTATE && n)
        n++;
    out->n_rows = n;
    return JOULE_OK;
}

static int bad_finish(void *self, joule_buffer *out)
{
    (void)out;
    bad *b = self;
    misbehave(b, W_FINISH);
    if (b->active && b->fault == F_FINISH_OK)
        return JOULE_OK; /* for ever, and never emits */
    return JOULE_END;
}

static void bad_close(void *self)
{
    free(self);
}

static int src_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    (void)in;
    bad *b = self;
    misbehave(b, W_PROCESS);
    if (b->sent >= b->rows) {
        if (b->active && b->fault == F_ZERO_ROWS)
            return JOULE_OK; /* no row, no end: for ever */
        return JOULE_END;
    }
    long long n = b->rows - b->sent;
    if (n > out->capacity)
        n = out->capacity;
    memset(out->data, 0, (size_t)n * out->n_columns * sizeof(float));
    out->n_rows = (uint32_t)n;
    b->sent += n;
    return JOULE_OK;
}

/* At validation: check_overrun writes past the message size it is given,
 * check_ctrl refuses with control characters in its message. */
static int bad_check(const joule_value *p, char *msg, size_t size)
{
    if (p[0].e == F_CHECK_OVERRUN) {
        memset(msg, 'x', size + 100);
        return 1;
    }
    if (p[0].e == F_CHECK_CTRL) {
        snprintf(msg, size, "refused\nwith a second line\x1b[31m");
        return 1;
    }
    return 0;
}

static const joule_descriptor descs[] = {
    {
        .abi_version = JOULE_ABI_VERSION,
        .struct_size = sizeof(joule_descriptor),
        .name = "t_bad",
        .version = "6.6.6",
        .summary = "misbehaves on purpose (tests)",
        .role = JOULE_ROLE_FILTER,
        .n_params = 3,
        .params = params,
        .n_inputs = 1,
        .inputs = in_ports,
        .n_outputs = 1,
        .outputs = out_ports,
        .open = bad_open,
        .process = bad_process,
        .finish = bad_finish,
        .close = bad_close,
        .check = bad_check,
    },
    {
        .abi_version = JOULE_ABI_VERSION,
        .struct_size = sizeof(joule_descriptor),
        .name = "t_badsrc",
        .version = "6.6.6",
        .summary = "a source that misbehaves on purpose (tests)",
        .role = JOULE_ROLE_SOURCE,
        .n_params = 4,
        .params = params,
        .n_outputs = 1,
        .outputs = out_ports,
        .open = src_open,
        .process = src_process,
        .finish = bad_finish,
        .close = bad_close,
    },
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index < 2 ? &descs[index] : NULL;
}
