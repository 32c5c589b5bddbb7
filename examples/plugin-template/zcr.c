/* zcr.c — a third-party joule plugin: zero-crossing rate per frame and
 * channel, the fraction of neighbouring samples whose signs differ.
 *
 * It is built against the installed joule with nothing but
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags joule) zcr.c -o zcr.so
 * and found through JOULE_PLUGIN_PATH. Read it with <joule/plugin.h> open:
 * every field used here is documented there.
 *
 * Frame k covers input rows [k*hop, k*hop + frame); crossings are counted
 * between consecutive rows inside the frame (frame - 1 pairs). A ring of
 * the last `frame` rows keeps the result independent of how the host
 * chunks the input, as every plugin must. */
#include <joule/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const joule_param params[] = {
    {"frame", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1024", 2, 1 << 22, NULL, "rows",
     "Frame length in rows."},
    {"hop", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "512", 1, 1 << 22, NULL, "rows",
     "Rows between frame starts."},
};
static const joule_port inputs[] = {{"in", JOULE_SIGNAL, 0, "any signal"}};
static const joule_port outputs[] = {{"out", JOULE_FRAMES, 0, "zcr_<channel> per frame, in [0, 1]"}};

typedef struct zcr {
    unsigned nch, frame, hop;
    float *ring;            /* the last `frame` rows */
    unsigned long long rows, next_end;
    char **names;
} zcr;

static int zcr_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    zcr *z = calloc(1, sizeof *z);
    if (!z) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = z;
    z->nch = a->inputs[0].n_columns;
    z->frame = (unsigned)a->params[0].i;
    z->hop = (unsigned)a->params[1].i;
    z->next_end = z->frame;
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
    joule_format *o = &a->outputs[0];
    o->kind = JOULE_FRAMES;
    o->n_columns = z->nch;
    o->rate = a->inputs[0].rate / z->hop;
    o->t0 = a->inputs[0].t0;
    o->names = (const char *const *)z->names;
    o->out_num = 1; /* at most one frame per `hop` input rows */
    o->out_den = z->hop;
    return JOULE_OK;
}

static int zcr_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    zcr *z = self;
    (void)port;
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
    .name = "zcr",
    .version = "0.1.0",
    .summary = "zero-crossing rate per frame and channel (a plugin-template example)",
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

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi_version, uint32_t index)
{
    (void)host_abi_version;
    return index == 0 ? &desc : NULL;
}
