/* zcr.c — a joule plugin template: a frames filter.
 *
 * The zero-crossing rate per frame and channel: the share of neighbouring
 * samples whose signs differ. A signal in, one row of frames out every
 * `hop` samples. Copy this file when your plugin measures something over
 * a sliding window — a level, a spectrum, a feature per frame. The other
 * shapes: ../detector/onset.c (events, and a finish) and ../sink/stats.c
 * (a sink writing a file per input).
 *
 * It needs <joule/plugin.h> and nothing else of joule:
 *     cc -std=c99 -O2 -fPIC -shared -fvisibility=hidden \
 *        $(pkg-config --cflags joule-plugin) zcr.c -o zcr.so
 * (see the Makefile), is found through JOULE_PLUGIN_PATH or installed in
 * joule's plugin folder, and is checked with `joule plugin-test ./zcr.so`.
 * Read it with <joule/plugin.h> open: every field used here is documented
 * there.
 *
 * Frame k covers input rows [k*hop, k*hop + frame); crossings are counted
 * between consecutive rows inside the frame (frame - 1 pairs). Input comes
 * in buffers of any size, cut anywhere: a ring of the last `frame` rows
 * carries a frame across buffer boundaries, so the result does not depend
 * on how the host chunks the input, as every plugin's must not. */
#include <joule/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameters: the names are the keys of graph files (`frame = 2048`) and of
 * `--set node.frame=2048`, so never rename one once published. The host
 * parses every value and checks it against the range before open: open
 * need not check them again. */
static const joule_param params[] = {
    {.name = "frame",
     .type = JOULE_PARAM_INT,
     .flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
     .def = "1024",
     .min = 2,
     .max = 1 << 22,
     .unit = "rows",
     .help = "Frame length in rows."},
    {.name = "hop",
     .type = JOULE_PARAM_INT,
     .flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
     .def = "512",
     .min = 1,
     .max = 1 << 22,
     .unit = "rows",
     .help = "Rows between frame starts."},
};
/* Ports: the kinds an input accepts (a mask) and the kind an output
 * produces. The host refuses, before running, a graph connecting kinds
 * that do not meet. */
static const joule_port inputs[] = {{.name = "in", .kinds = JOULE_SIGNAL, .help = "any signal"}};
static const joule_port outputs[] = {
    {.name = "out", .kinds = JOULE_FRAMES, .help = "zcr_<channel> per frame, in [0, 1]"}};

/* The instance: one per node and input file. Several run at once on
 * different threads, so every bit of state lives here, never in a global. */
typedef struct zcr {
    unsigned nch, frame, hop;
    float *ring;            /* the last `frame` rows, row r at r % frame */
    unsigned long long rows; /* input rows seen so far */
    unsigned long long next_end; /* the row count at which a frame is complete */
    char **names;           /* the output's column names: ours, kept until close */
} zcr;

static int zcr_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    zcr *z = calloc(1, sizeof *z);
    if (!z) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    /* Store the instance at once: if open fails below, the host still
     * calls close with it, which frees what was allocated so far. */
    *self = z;
    z->nch = a->inputs[0].n_columns;
    z->frame = (unsigned)a->params[0].i;
    z->hop = (unsigned)a->params[1].i;
    z->next_end = z->frame;
    /* Everything the instance will ever need is allocated here: process
     * must not allocate (plugin-test counts its allocations). */
    z->ring = calloc((size_t)z->frame * z->nch, sizeof *z->ring);
    z->names = calloc(z->nch, sizeof *z->names);
    if (!z->ring || !z->names) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    for (unsigned c = 0; c < z->nch; c++) {
        const char *in = a->inputs[0].names[c];
        z->names[c] = malloc(strlen(in) + 5);
        if (!z->names[c]) {
            h->error(h, "out of memory");
            return JOULE_ERROR;
        }
        sprintf(z->names[c], "zcr_%s", in);
    }
    /* The output format, which open MUST fill: kind, columns, their names
     * (memory of ours, valid until close), the rate of the frames and the
     * time of frame 0 (a frame's time is the start of the samples it
     * covers, so the input's t0). */
    joule_format *o = &a->outputs[0];
    o->kind = JOULE_FRAMES;
    o->n_columns = z->nch;
    o->rate = a->inputs[0].rate / z->hop;
    o->t0 = a->inputs[0].t0;
    o->names = (const char *const *)z->names;
    /* The bound: at most ceil(n * out_num / out_den) rows out for n rows
     * in, in any one call. Frames end every `hop` rows, so n rows complete
     * at most ceil(n / hop) of them: 1/hop. The host sizes the output
     * buffer from this, so process never checks the room it has. */
    o->out_num = 1;
    o->out_den = z->hop;
    return JOULE_OK;
}

static int zcr_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    zcr *z = self;
    (void)port; /* one input port: always 0 */
    /* Consume every row given (the buffer may hold zero). Each row goes
     * into the ring; when it completes a frame, the frame is measured from
     * the ring and written as the next output row. */
    for (uint32_t r = 0; r < in->n_rows; r++) {
        memcpy(z->ring + (size_t)(z->rows % z->frame) * z->nch, in->data + (size_t)r * in->n_columns,
               z->nch * sizeof(float));
        if (++z->rows != z->next_end)
            continue;
        z->next_end += z->hop;
        float *row = out[0].data + (size_t)out[0].n_rows * out[0].n_columns;
        unsigned long long start = z->rows - z->frame;
        for (unsigned c = 0; c < z->nch; c++) {
            unsigned crossings = 0;
            float prev = z->ring[(size_t)(start % z->frame) * z->nch + c];
            for (unsigned k = 1; k < z->frame; k++) {
                float v = z->ring[(size_t)((start + k) % z->frame) * z->nch + c];
                crossings += (v < 0) != (prev < 0);
                prev = v;
            }
            row[c] = (float)crossings / (float)(z->frame - 1);
        }
        out[0].n_rows++;
    }
    return JOULE_OK;
}

/* Always called once after open, whatever happened: accept NULL and a
 * half-built instance. */
static void zcr_close(void *self)
{
    zcr *z = self;
    if (!z)
        return;
    for (unsigned c = 0; z->names && c < z->nch; c++)
        free(z->names[c]);
    free(z->names);
    free(z->ring);
    free(z);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "zcr",      /* what graphs write after `plugin =`: [a-z0-9_] */
    .version = "0.1.0", /* bump it when the output changes: the stage
                           cache keys on it */
    .summary = "zero-crossing rate per frame and channel (a filter template)",
    .role = JOULE_ROLE_FILTER,
    .n_params = 2,
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = zcr_open,
    .process = zcr_process,
    .close = zcr_close,
    /* Who made it, under what licence, what it does at length, where to
     * read more: `joule inspect` shows them, and `joule plugin-test`
     * wants at least maker and license before a plugin is published. */
    .maker = "Your Name <you@example.org>",
    .license = "MIT",
    .description = "The zero-crossing rate of each channel, per frame: the share of neighbouring sample pairs "
                   "whose signs differ. High for noise and hiss, low for tones and voiced speech.",
    .homepage = "https://example.org/zcr",
};

/* The one exported symbol: descriptor 0, 1, ... of this object, then
 * NULL. Built with -fvisibility=hidden, nothing else is exported. */
JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi_version, uint32_t index)
{
    (void)host_abi_version;
    return index == 0 ? &desc : NULL;
}
