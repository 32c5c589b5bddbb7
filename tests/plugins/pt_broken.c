/* Plugins each wrong in one way that `joule plugin-test` must catch, and
 * otherwise right (help texts, metadata, bounds, determinism), so that the
 * check named in the table is the one that fails (tests/plugin-test.sh):
 *
 *   pt_bound      declares 1/2 rows per row, emits every row   output bound
 *   pt_times      an event goes back in time                   event times
 *   pt_chunks     one row per call: the chunk's mean           chunk sizes
 *   pt_global     a static running sum across instances        repeated runs
 *   pt_race       a static scratch buffer shared by instances  threads
 *   pt_nan_crash  abort() on NaN                               NaN, Inf input
 *   pt_empty_hang finish never returns when no row came        empty input
 *   pt_inplace    in place, but reads the previous input row   in place
 *   pt_alloc      malloc and free in every process call        no allocation
 *   pt_after_fail process fails on NaN and drops its state,
 *                 finish then uses it                          after a failure
 *   pt_names      two output columns of the same name          output formats
 *   pt_ports      output in the order the two ports arrive     port order
 *   pt_summary    a summary of two lines                       descriptor
 *   pt_meta       no maker, no licence                         metadata
 *
 * Each is a filter of one signal to one signal (pt_times: events; pt_ports:
 * two inputs) of one column, y = x unless said otherwise. */
#include <joule/plugin.h>

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { B_BOUND, B_TIMES, B_CHUNKS, B_GLOBAL, B_RACE, B_NAN_CRASH, B_EMPTY_HANG, B_INPLACE, B_ALLOC, B_AFTER_FAIL,
       B_NAMES, B_PORTS, B_SUMMARY, B_META, B_COUNT };

static const char *const one_name[] = {"y"};
static const char *const two_names[] = {"same", "same"};
static const joule_port in1[] = {{"in", JOULE_SIGNAL, 0, "a signal"}};
static const joule_port in2[] = {{"a", JOULE_SIGNAL, 0, "a signal"}, {"b", JOULE_SIGNAL, 0, "another signal"}};
static const joule_port out_sig[] = {{"out", JOULE_SIGNAL, 0, "the result"}};
static const joule_port out_ev[] = {{"out", JOULE_EVENTS, 0, "the result"}};

typedef struct inst {
    const joule_open_args *args;
    int kind;
    uint64_t seen;
    float prev;   /* pt_inplace: the last input row of the previous call */
    float *state; /* pt_after_fail */
} inst;

static double global_sum;    /* pt_global: never reset */
static float race_buf[8192]; /* pt_race: one for every instance */

static int open_any(const joule_open_args *a, void **self, int kind)
{
    inst *s = calloc(1, sizeof *s);
    if (!s)
        return JOULE_ERROR;
    *self = s;
    s->args = a;
    s->kind = kind;
    s->state = calloc(1, sizeof *s->state);
    joule_format *o = &a->outputs[0];
    o->kind = kind == B_TIMES ? JOULE_EVENTS : JOULE_SIGNAL;
    o->n_columns = kind == B_NAMES ? 2 : 1;
    o->names = kind == B_NAMES ? two_names : one_name;
    o->rate = a->inputs[0].rate;
    if (kind == B_BOUND) {
        o->out_num = 1;
        o->out_den = 2;
    }
    if (kind == B_INPLACE)
        o->flags = JOULE_FORMAT_IN_PLACE;
    return JOULE_OK;
}

static int process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    inst *s = self;
    uint32_t c = in->n_columns, n = in->n_rows;
    float *y = out->data;
    switch (s->kind) {
    case B_CHUNKS: {
        if (!n)
            return JOULE_OK;
        double m = 0;
        for (uint32_t i = 0; i < n; i++)
            m += in->data[i * c];
        y[0] = (float)(m / n);
        out->n_rows = 1;
        return JOULE_OK;
    }
    case B_RACE:
        for (uint32_t i = 0; i < n && i < 8192; i++)
            race_buf[i] = in->data[i * c];
        for (int k = 0; k < 20; k++)
            sched_yield();
        for (uint32_t i = 0; i < n; i++)
            y[i] = i < 8192 ? race_buf[i] : in->data[i * c];
        out->n_rows = n;
        return JOULE_OK;
    case B_ALLOC: {
        float *tmp = malloc((n ? n : 1) * sizeof *tmp);
        if (!tmp)
            return JOULE_ERROR;
        for (uint32_t i = 0; i < n; i++)
            tmp[i] = in->data[i * c];
        memcpy(y, tmp, n * sizeof *tmp);
        free(tmp);
        out->n_rows = n;
        return JOULE_OK;
    }
    case B_INPLACE: {
        /* y[i] = x[i] + x[i-1]: right when out and in are apart, wrong
         * when they alias (x[i-1] is then already y[i-1]) */
        float prev = s->prev;
        for (uint32_t i = 0; i < n; i++) {
            float x = in->data[i * c];
            y[i * c] = x + (i ? in->data[(i - 1) * c] : prev);
            for (uint32_t k = 1; k < c; k++)
                y[i * c + k] = in->data[i * c + k];
        }
        if (n)
            s->prev = in->data[(n - 1) * c];
        out->n_rows = n;
        return JOULE_OK;
    }
    case B_PORTS:
        for (uint32_t i = 0; i < n; i++)
            y[i] = (float)port;
        out->n_rows = n;
        return JOULE_OK;
    default:
        break;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++, s->seen++) {
        float x = in->data[i * c];
        if (s->kind == B_NAN_CRASH && isnan(x))
            abort();
        if (s->kind == B_AFTER_FAIL && isnan(x)) {
            free(s->state);
            s->state = NULL;
            s->args->host->error(s->args->host, "NaN at row %llu", (unsigned long long)s->seen);
            return JOULE_ERROR;
        }
        if (s->kind == B_GLOBAL)
            global_sum += 1;
        if (s->kind == B_TIMES)
            out->times[k] = s->seen == 100 ? 0.0 : (double)s->seen / s->args->inputs[0].rate;
        y[k * out->n_columns] = s->kind == B_GLOBAL ? (float)global_sum : x;
        if (out->n_columns == 2)
            y[k * 2 + 1] = x;
        k++;
    }
    out->n_rows = k;
    return JOULE_OK;
}

static int finish(void *self, joule_buffer *out)
{
    inst *s = self;
    (void)out;
    if (s->kind == B_EMPTY_HANG && s->seen == 0)
        for (;;)
            pause();
    if (s->kind == B_AFTER_FAIL)
        *(volatile float *)s->state += 1; /* NULL after the failure */
    return JOULE_END;
}

static void close_any(void *self)
{
    inst *s = self;
    if (s)
        free(s->state);
    free(s);
}

#define OPEN(k)                                                                                                \
    static int open_##k(const joule_open_args *a, void **self)                                                 \
    {                                                                                                          \
        return open_any(a, self, k);                                                                           \
    }
OPEN(B_BOUND)
OPEN(B_TIMES)
OPEN(B_CHUNKS)
OPEN(B_GLOBAL)
OPEN(B_RACE)
OPEN(B_NAN_CRASH)
OPEN(B_EMPTY_HANG)
OPEN(B_INPLACE)
OPEN(B_ALLOC)
OPEN(B_AFTER_FAIL)
OPEN(B_NAMES)
OPEN(B_PORTS)
OPEN(B_SUMMARY)
OPEN(B_META)

#define DESC(k, nm, sum, ins, n_ins, outs, mk, lic)                                                            \
    {.abi_version = JOULE_ABI_VERSION, .struct_size = sizeof(joule_descriptor), .name = nm, .version = "1.0.0", \
     .summary = sum, .role = JOULE_ROLE_FILTER, .n_inputs = n_ins, .inputs = ins, .n_outputs = 1,              \
     .outputs = outs, .open = open_##k, .process = process, .finish = finish, .close = close_any,              \
     .maker = mk, .license = lic, .description = "A plugin that is wrong on purpose."}

static const joule_descriptor descs[B_COUNT] = {
    DESC(B_BOUND, "pt_bound", "understated output bound", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_TIMES, "pt_times", "events back in time", in1, 1, out_ev, "tests", "MIT"),
    DESC(B_CHUNKS, "pt_chunks", "output depends on the chunks", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_GLOBAL, "pt_global", "state kept in a global", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_RACE, "pt_race", "a buffer shared by every instance", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_NAN_CRASH, "pt_nan_crash", "aborts on NaN", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_EMPTY_HANG, "pt_empty_hang", "hangs on empty input", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_INPLACE, "pt_inplace", "a false in-place claim", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_ALLOC, "pt_alloc", "allocates in process", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_AFTER_FAIL, "pt_after_fail", "crashes in finish after a failure", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_NAMES, "pt_names", "two columns of one name", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_PORTS, "pt_ports", "output depends on port order", in2, 2, out_sig, "tests", "MIT"),
    DESC(B_SUMMARY, "pt_summary", "a summary\nof two lines", in1, 1, out_sig, "tests", "MIT"),
    DESC(B_META, "pt_meta", "no maker, no licence", in1, 1, out_sig, NULL, NULL),
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index < B_COUNT ? &descs[index] : NULL;
}
