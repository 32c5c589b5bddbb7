/* loudness.c — EBU R 128 / ITU-R BS.1770 loudness on libebur128:
 * momentary and short-term loudness as a frames stream, and integrated
 * loudness, loudness range, sample peak and true peak as a one-row summary.
 *
 * The meter reads every hop = round(interval · rate) samples. Row k of the
 * `out` stream is the reading after (k+1)·hop samples: momentary loudness
 * over the last 400 ms and short-term loudness over the last 3 s, in LUFS.
 * Its time is the end of the measured audio, (k+1)·hop / rate — the instant
 * a meter shows it, as ffmpeg's ebur128 filter reports — so the stream's
 * t0 is the input's t0 + hop / rate. A reading whose window reaches back
 * before the start of the input (the first 400 ms for momentary, the first
 * 3 s for short-term) is NaN: the window is not full yet. Only complete
 * hops give a row.
 *
 * The summary (one row at the end, time 0): integrated loudness (LUFS,
 * gated as BS.1770-4), loudness range (LU, EBU Tech 3342), and the largest
 * sample peak and true peak over all channels (dBFS, dBTP; true peak by
 * libebur128's 4x oversampling below 96 kHz). Silence reads -inf, as
 * libebur128 reports it.
 *
 * Channels follow libebur128's default map: 1 channel = left (a mono file
 * counts once, not as dual mono), 2 = L R, 3 = L R C, 4 = L R Ls Rs,
 * 5 = L R C Ls Rs, 6 and more = L R C LFE Ls Rs with the LFE and any
 * further channel ignored.
 *
 * Chunking: samples go to libebur128 in blocks of exactly `hop` rows,
 * gathered in a buffer of our own, and the meter is read after each block,
 * so what libebur128 sees never depends on how the input was chunked.
 *
 * libebur128 writes process-wide constants in ebur128_init; init and
 * destroy are therefore done under the host's lock "libebur128". It also
 * allocates a list entry per 100 ms gating block while measuring: memory
 * grows by a few words per second of input. */
#include <joule/plugin.h>

#include "util.h"

#include <ebur128.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EBUR128_LOCK "libebur128"

enum { P_INTERVAL, P_TRUE_PEAK };
enum { S_INTEGRATED, S_LRA, S_SAMPLE_PEAK, S_TRUE_PEAK, N_SUMMARY };

static const char *const out_names[] = {"momentary", "shortterm"};
static const char *const out_units[] = {"LUFS", "LUFS"};
static const char *const sum_names[N_SUMMARY] = {"integrated", "lra", "sample_peak", "true_peak"};
static const char *const sum_units[N_SUMMARY] = {"LUFS", "LU", "dBFS", "dBTP"};

static const joule_param params[] = {
    {"interval", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.1", 0.0001, 60, NULL, "s",
     "Time between momentary/short-term readings; rounded to a whole number of samples "
     "(0.1 s = 4410 samples at 44.1 kHz)."},
    {"true_peak", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "",
     "Measure the true peak (4x oversampled, dBTP) for the summary; false saves the oversampling work "
     "and drops the column."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "audio: 1 to 64 channels, samples in [-1, 1], an integer sample rate"},
};
static const joule_port outputs[] = {
    {"out", JOULE_FRAMES, 0,
     "one row per interval, at the end of the measured audio: momentary and short-term loudness (LUFS)"},
    {"summary", JOULE_EVENTS, 0,
     "one row at the end (time 0): integrated (LUFS), lra (LU), sample_peak (dBFS), true_peak (dBTP)"},
};

typedef struct loudness {
    const joule_host *host;
    ebur128_state *st;
    uint32_t nch, hop;
    int true_peak;
    float *block;         /* hop × nch rows gathered for the next block */
    uint32_t fill;        /* rows in block */
    uint64_t fed;         /* rows given to libebur128 */
    uint64_t m_len, s_len; /* rows a full momentary / short-term window needs */
} loudness;

static int loudness_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    loudness *l = calloc(1, sizeof *l);
    if (!l) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = l;
    l->host = h;
    const joule_format *in = &a->inputs[0];
    l->nch = in->n_columns;
    if (l->nch > 64) {
        h->error(h, "%u channels: libebur128 measures at most 64", l->nch);
        return JOULE_ERROR;
    }
    double rate = in->rate;
    if (rate != floor(rate) || rate < 16 || rate > 2822400) {
        h->error(h, "sample rate %g Hz: loudness needs an integer rate from 16 Hz to 2.8224 MHz", rate);
        return JOULE_ERROR;
    }
    unsigned long srate = (unsigned long)rate;
    double hop = floor(a->params[P_INTERVAL].f * rate + 0.5);
    l->hop = hop < 1 ? 1 : (uint32_t)hop;
    l->true_peak = a->params[P_TRUE_PEAK].b;
    /* libebur128 counts a 100 ms block as (rate + 5) / 10 samples */
    l->m_len = 4 * ((srate + 5) / 10);
    l->s_len = 30 * ((srate + 5) / 10);
    l->block = malloc((size_t)l->hop * l->nch * sizeof *l->block);
    if (!l->block) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    int mode = EBUR128_MODE_M | EBUR128_MODE_S | EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_SAMPLE_PEAK;
    if (l->true_peak)
        mode |= EBUR128_MODE_TRUE_PEAK;
    h->lock(h, EBUR128_LOCK);
    l->st = ebur128_init(l->nch, srate, mode);
    h->unlock(h, EBUR128_LOCK);
    if (!l->st) {
        h->error(h, "libebur128 could not start a meter for %u channel(s) at %lu Hz", l->nch, srate);
        return JOULE_ERROR;
    }

    joule_format *o = &a->outputs[0];
    o->kind = JOULE_FRAMES;
    o->n_columns = 2;
    o->rate = rate / l->hop;
    o->t0 = in->t0 + l->hop / rate; /* a row's time is the end of its audio */
    o->names = out_names;
    o->units = out_units;
    o->length = in->length / l->hop;
    o->out_num = 1;
    o->out_den = l->hop;
    joule_format *s = &a->outputs[1];
    s->kind = JOULE_EVENTS;
    s->n_columns = l->true_peak ? N_SUMMARY : N_SUMMARY - 1;
    s->rate = rate;
    s->t0 = in->t0;
    s->names = sum_names;
    s->units = sum_units;
    s->length = 1;
    s->out_num = 0; /* emits only at finish */
    s->out_den = 1;
    return JOULE_OK;
}

/* Give the gathered block to libebur128. 0, or -1 after host->error. */
static int feed(loudness *l)
{
    int rc = ebur128_add_frames_float(l->st, l->block, l->fill);
    if (rc != EBUR128_SUCCESS) {
        l->host->error(l->host, "libebur128 failed while measuring (error %d)", rc);
        return -1;
    }
    l->fed += l->fill;
    l->fill = 0;
    return 0;
}

static int loudness_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    loudness *l = self;
    const uint32_t nch = l->nch;
    uint32_t r = 0;
    while (r < in->n_rows) {
        uint32_t take = l->hop - l->fill;
        if (take > in->n_rows - r)
            take = in->n_rows - r;
        memcpy(l->block + (size_t)l->fill * nch, in->data + (size_t)r * nch, (size_t)take * nch * sizeof(float));
        l->fill += take;
        r += take;
        if (l->fill < l->hop)
            break;
        if (feed(l))
            return JOULE_ERROR;
        double m = NAN, s = NAN;
        if (l->fed >= l->m_len && ebur128_loudness_momentary(l->st, &m) != EBUR128_SUCCESS)
            m = NAN;
        if (l->fed >= l->s_len && ebur128_loudness_shortterm(l->st, &s) != EBUR128_SUCCESS)
            s = NAN;
        float *row = out[0].data + (size_t)out[0].n_rows * 2;
        row[0] = (float)m;
        row[1] = (float)s;
        out[0].n_rows++;
    }
    return JOULE_OK;
}

static double to_db(double peak)
{
    return peak > 0 ? 20.0 * log10(peak) : -INFINITY;
}

static int loudness_finish(void *self, joule_buffer *out)
{
    loudness *l = self;
    /* the rows of an incomplete last hop count for the summary */
    if (l->fill && feed(l))
        return JOULE_ERROR;
    double v[N_SUMMARY] = {NAN, NAN, 0, 0};
    if (ebur128_loudness_global(l->st, &v[S_INTEGRATED]) != EBUR128_SUCCESS ||
        ebur128_loudness_range(l->st, &v[S_LRA]) != EBUR128_SUCCESS) {
        l->host->error(l->host, "libebur128 could not compute the integrated loudness or range");
        return JOULE_ERROR;
    }
    for (uint32_t c = 0; c < l->nch; c++) {
        double sp = 0, tp = 0;
        if (ebur128_sample_peak(l->st, c, &sp) == EBUR128_SUCCESS && sp > v[S_SAMPLE_PEAK])
            v[S_SAMPLE_PEAK] = sp;
        if (l->true_peak && ebur128_true_peak(l->st, c, &tp) == EBUR128_SUCCESS && tp > v[S_TRUE_PEAK])
            v[S_TRUE_PEAK] = tp;
    }
    v[S_SAMPLE_PEAK] = to_db(v[S_SAMPLE_PEAK]);
    v[S_TRUE_PEAK] = to_db(v[S_TRUE_PEAK]);
    float *row = out[1].data;
    for (uint32_t i = 0; i < out[1].n_columns; i++)
        row[i] = (float)v[i];
    out[1].times[0] = 0.0;
    out[1].n_rows = 1;
    return JOULE_END;
}

static void loudness_close(void *self)
{
    loudness *l = self;
    if (!l)
        return;
    if (l->st) {
        l->host->lock(l->host, EBUR128_LOCK);
        ebur128_destroy(&l->st);
        l->host->unlock(l->host, EBUR128_LOCK);
    }
    free(l->block);
    free(l);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "loudness",
    .version = "1.0.0",
    .summary = "EBU R 128 loudness (libebur128): momentary and short-term LUFS, and integrated, range, "
               "sample and true peak",
    .role = JOULE_ROLE_FILTER,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 2,
    .outputs = outputs,
    .open = loudness_open,
    .process = loudness_process,
    .finish = loudness_finish,
    .close = loudness_close,
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
