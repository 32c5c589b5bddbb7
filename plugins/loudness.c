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
 * sample peak and true peak over all channels (dBFS, dBTP). In dB,
 * silence is -inf everywhere: the integrated loudness when no block
 * passes the absolute gate (-70 LUFS), a momentary or short-term reading
 * over digital silence, and the peaks of digital silence. The range of
 * too few loud blocks is 0 LU.
 *
 * The true peak is measured by truepeak.h, the interpolator the clip
 * plugin uses too (its true_peak_c are this figure per channel): 4x
 * oversampling below 96 kHz, 2x below 192 kHz, the samples alone above,
 * the samples themselves always among the points (never less than the
 * sample peak), by a 32-tap-per-phase Kaiser-windowed sinc that reads
 * sines within 0.0002 dB up to 0.4 × the rate. That is not libebur128's
 * filter (49 taps, 12 per phase): on tones, and clipped sines whose
 * harmonics stay clear of Nyquist, the two agree within 0.05 dB; on
 * programme with energy near Nyquist (noise, hard clipping, square
 * waves) libebur128's reads lower, by 0.17 to 0.31 dB on 16-bit pink
 * noise and 0.2 to 0.3 dB on hard-clipped sines, and this one is the
 * nearer to a long reference (see truepeak.h). truepeak.h keeps only the
 * largest |y| of the oversampled points, vectorised across channels and
 * frames, and skips the stretches too quiet to raise it; libebur128's
 * resampler (every point stored, summed in double) was three quarters of
 * the whole measurement.
 *
 * Channels follow libebur128's default map: 1 channel = left (a mono file
 * counts once, not as dual mono), 2 = L R, 3 = L R C, 4 = L R Ls Rs,
 * 5 = L R C Ls Rs, 6 and more = L R C LFE Ls Rs with the LFE and any
 * further channel ignored.
 *
 * Speed: libebur128 computes each momentary and short-term reading by
 * summing its whole window again (3 s of audio every 100 ms for
 * short-term: thirty times the work of the filter itself). When both
 * windows are whole multiples of the hop and the hop is a whole number of
 * milliseconds (0.1 s at any common rate), the meter instead reads the
 * mean square of each hop once (ebur128_loudness_window over the hop) and
 * keeps the last 3 s of those in a ring: momentary and short-term are the
 * means of the last 4 and 30 hops' energies, which is the same mean over
 * the same samples, to rounding. The loudness range is then computed here
 * too, from the same energies: a 3 s block every second, gated at -70 LUFS
 * and 20 LU below their mean, the 10th to 95th percentile — the blocks,
 * gates and percentile indices libebur128 uses, without its second pass
 * over 3 s of audio every second — and the sample peak is taken as the
 * rows are gathered. libebur128 then only filters and gates (mode I).
 * Other intervals use libebur128's own readings.
 *
 * Chunking: rows go to libebur128 straight from the input, cut at every
 * hop boundary, and the meter is read at each boundary. libebur128 filters
 * sample by sample and keeps its own block counters, so what it computes
 * does not depend on how the rows were split between calls; nor does the
 * true peak (truepeak.h keeps the last samples it needs).
 *
 * libebur128 writes process-wide constants in ebur128_init; init and
 * destroy are therefore done under the host's lock "libebur128". It also
 * allocates a list entry per 100 ms gating block while measuring: memory
 * grows by a few words per second of input. */
#include <joule/plugin.h>

#include "truepeak.h"
#include <joule/plugin-util.h>

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
     "Measure the true peak for the summary (dBTP: 4x oversampled below 96 kHz, 2x below 192 kHz, by a "
     "32-tap-per-phase windowed sinc, the clip plugin's too; -inf for digital silence); false saves the "
     "oversampling work and drops the column."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "audio: 1 to 64 channels, samples in [-1, 1], an integer sample rate"},
};
static const joule_port outputs[] = {
    {"out", JOULE_FRAMES, 0,
     "one row per interval, at the end of the measured audio: momentary and short-term loudness (LUFS); "
     "NaN until the window is full, -inf over digital silence"},
    {"summary", JOULE_EVENTS, 0,
     "one row at the end (time 0): integrated (LUFS), lra (LU), sample_peak (dBFS), true_peak (dBTP); "
     "-inf for silence: integrated when no block passes the -70 LUFS gate, peaks of digital silence"},
};

typedef struct loudness {
    const joule_host *host;
    ebur128_state *st;
    uint32_t nch, hop;
    int true_peak;
    jtp tp;               /* the true peak meter, when true_peak */
    uint32_t fill;        /* rows given since the last hop boundary */
    uint64_t fed;         /* rows given to libebur128 */
    uint64_t m_len, s_len; /* rows a full momentary / short-term window needs */
    /* the fast path: hop energies in a ring (NULL when not usable) */
    double *ring;
    uint32_t m_hops, s_hops; /* hops per momentary / short-term window */
    uint32_t hop_ms;
    uint64_t hops;           /* hops measured */
    uint32_t sec_hops;       /* hops per second */
    double *st_blocks;       /* short-term energies for the range, one a second */
    size_t n_st, cap_st;
    float peak;              /* largest |sample| so far */
    double rate, t0;         /* of the input, for messages */
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
    l->rate = rate;
    l->t0 = in->t0;
    double hop = floor(a->params[P_INTERVAL].f * rate + 0.5);
    l->hop = hop < 1 ? 1 : (uint32_t)hop;
    l->true_peak = a->params[P_TRUE_PEAK].b;
    /* libebur128 counts a 100 ms block as (rate + 5) / 10 samples */
    l->m_len = 4 * ((srate + 5) / 10);
    l->s_len = 30 * ((srate + 5) / 10);
    uint64_t sec_len = 10 * ((srate + 5) / 10);
    if (l->m_len % l->hop == 0 && l->s_len % l->hop == 0 && sec_len % l->hop == 0 &&
        ((uint64_t)l->hop * 1000) % srate == 0) {
        l->m_hops = (uint32_t)(l->m_len / l->hop);
        l->s_hops = (uint32_t)(l->s_len / l->hop);
        l->sec_hops = (uint32_t)(sec_len / l->hop);
        l->hop_ms = (uint32_t)((uint64_t)l->hop * 1000 / srate);
        l->ring = calloc(l->s_hops, sizeof *l->ring);
        if (!l->ring) {
            h->error(h, "out of memory");
            return JOULE_ERROR;
        }
    }
    int mode = l->ring ? EBUR128_MODE_I
                       : EBUR128_MODE_M | EBUR128_MODE_S | EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_SAMPLE_PEAK;
    if (l->true_peak && jtp_init(&l->tp, l->nch, srate, JTP_SIMD) == -1) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
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

/* Give rows to libebur128. 0, or -1 after host->error. */
static int feed(loudness *l, const float *rows, uint32_t n)
{
    int rc = ebur128_add_frames_float(l->st, rows, n);
    if (rc != EBUR128_SUCCESS) {
        l->host->error(l->host, "libebur128 failed while measuring (error %d)", rc);
        return -1;
    }
    l->fed += n;
    l->fill += n;
    return 0;
}

/* The fast path: the K-weighted mean square of the hop just fed, into the
 * ring. 0, or -1 after host->error. */
static int read_hop(loudness *l)
{
    double lufs;
    if (ebur128_loudness_window(l->st, l->hop_ms, &lufs) != EBUR128_SUCCESS) {
        l->host->error(l->host, "libebur128 could not read a %u ms window", l->hop_ms);
        return -1;
    }
    /* BS.1770: L = -0.691 + 10 log10(energy) */
    l->ring[l->hops % l->s_hops] = isinf(lufs) ? 0.0 : pow(10.0, (lufs + 0.691) / 10.0);
    l->hops++;
    /* a short-term block for the range: after 3 s, then every second,
     * kept if above the absolute gate (-70 LUFS) */
    if (l->hops >= l->s_hops && (l->hops - l->s_hops) % l->sec_hops == 0) {
        double e = 0;
        for (uint64_t k = l->hops - l->s_hops; k < l->hops; k++)
            e += l->ring[k % l->s_hops];
        e /= l->s_hops;
        if (e >= pow(10.0, (-70.0 + 0.691) / 10.0)) {
            if (l->n_st == l->cap_st) {
                size_t cap = l->cap_st ? 2 * l->cap_st : 1024;
                double *v = realloc(l->st_blocks, cap * sizeof *v);
                if (!v) {
                    l->host->error(l->host, "out of memory");
                    return -1;
                }
                l->st_blocks = v;
                l->cap_st = cap;
            }
            l->st_blocks[l->n_st++] = e;
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* EBU Tech 3342 loudness range from the short-term blocks, as libebur128
 * computes it: relative gate 20 LU below the blocks' mean energy, then the
 * spread between the 10th and 95th percentiles. Sorts the blocks. */
static double loudness_range(loudness *l)
{
    if (!l->n_st)
        return 0.0;
    double mean = 0;
    for (size_t i = 0; i < l->n_st; i++)
        mean += l->st_blocks[i];
    mean /= (double)l->n_st;
    double gate = 0.01 * mean; /* -20 dB */
    qsort(l->st_blocks, l->n_st, sizeof *l->st_blocks, cmp_double);
    size_t first = 0;
    while (first < l->n_st && l->st_blocks[first] < gate)
        first++;
    size_t n = l->n_st - first;
    if (!n)
        return 0.0;
    double hi = l->st_blocks[first + (size_t)((double)(n - 1) * 0.95 + 0.5)];
    double lo = l->st_blocks[first + (size_t)((double)(n - 1) * 0.1 + 0.5)];
    return 10.0 * log10(hi) - 10.0 * log10(lo);
}

/* Loudness of the last n hops: their mean energy, oldest first. */
static double mean_loudness(const loudness *l, uint32_t n)
{
    double sum = 0;
    for (uint64_t k = l->hops - n; k < l->hops; k++)
        sum += l->ring[k % l->s_hops];
    return sum > 0 ? -0.691 + 10.0 * log10(sum / n) : -INFINITY;
}

/* The largest |x| of n samples and `pk`, in a form the compiler turns into
 * vector max instructions (fmaxf's NaN rules would keep it scalar). Sets
 * *bad when a sample is not finite: x·0 is 0 for every finite x and NaN
 * for inf and NaN, and the sum of those stays 0 only if all were finite. */
static float peak_of(const float *x, size_t n, float pk, int *bad)
{
    float m[8] = {pk, pk, pk, pk, pk, pk, pk, pk};
    float z[8] = {0};
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) {
            float a = fabsf(x[k + (size_t)j]);
            m[j] = a > m[j] ? a : m[j];
            z[j] += x[k + (size_t)j] * 0.0f;
        }
    for (; k < n; k++) {
        float a = fabsf(x[k]);
        m[0] = a > m[0] ? a : m[0];
        z[0] += x[k] * 0.0f;
    }
    for (int j = 1; j < 8; j++) {
        m[0] = m[j] > m[0] ? m[j] : m[0];
        z[0] += z[j];
    }
    *bad = z[0] != 0.0f;
    return m[0];
}

/* A non-finite sample would poison the meter's filters for the rest of the
 * stream (every later reading NaN or -inf) without a word: refuse it, and
 * say where it is. */
static int refuse_non_finite(loudness *l, const joule_buffer *in, uint32_t r0, uint32_t n)
{
    for (uint32_t r = r0; r < r0 + n; r++)
        for (uint32_t c = 0; c < l->nch; c++) {
            float v = in->data[(size_t)r * l->nch + c];
            if (!isfinite(v)) {
                uint64_t row = in->first_row + r;
                l->host->error(l->host, "sample %llu (%.6f s), channel %u is %s: loudness cannot be measured",
                               (unsigned long long)row, l->t0 + (double)row / l->rate, c, isnan(v) ? "NaN" : "infinite");
                return -1;
            }
        }
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
        const float *src = in->data + (size_t)r * nch;
        int bad;
        float pk = peak_of(src, (size_t)take * nch, l->peak, &bad);
        if (bad && refuse_non_finite(l, in, r, take) == -1)
            return JOULE_ERROR;
        l->peak = pk;
        if (feed(l, src, take))
            return JOULE_ERROR;
        if (l->true_peak)
            jtp_feed(&l->tp, src, take);
        r += take;
        if (l->fill < l->hop)
            break;
        l->fill = 0;
        double m = NAN, s = NAN;
        if (l->ring) {
            if (read_hop(l))
                return JOULE_ERROR;
            if (l->hops >= l->m_hops)
                m = mean_loudness(l, l->m_hops);
            if (l->hops >= l->s_hops)
                s = mean_loudness(l, l->s_hops);
        } else {
            if (l->fed >= l->m_len && ebur128_loudness_momentary(l->st, &m) != EBUR128_SUCCESS)
                m = NAN;
            if (l->fed >= l->s_len && ebur128_loudness_shortterm(l->st, &s) != EBUR128_SUCCESS)
                s = NAN;
        }
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
    double v[N_SUMMARY] = {NAN, NAN, 0, 0};
    if (ebur128_loudness_global(l->st, &v[S_INTEGRATED]) != EBUR128_SUCCESS ||
        (!l->ring && ebur128_loudness_range(l->st, &v[S_LRA]) != EBUR128_SUCCESS)) {
        l->host->error(l->host, "libebur128 could not compute the integrated loudness or range");
        return JOULE_ERROR;
    }
    if (l->ring) {
        v[S_LRA] = loudness_range(l);
        v[S_SAMPLE_PEAK] = l->peak;
    }
    for (uint32_t c = 0; c < l->nch; c++) {
        double sp = 0;
        if (!l->ring && ebur128_sample_peak(l->st, c, &sp) == EBUR128_SUCCESS && sp > v[S_SAMPLE_PEAK])
            v[S_SAMPLE_PEAK] = sp;
    }
    if (l->true_peak) {
        jtp_end(&l->tp);
        v[S_TRUE_PEAK] = jtp_peak(&l->tp);
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
    jtp_free(&l->tp);
    free(l->ring);
    free(l->st_blocks);
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
    /* libebur128 keeps every 100 ms gating block for the integrated
     * loudness and every short-term value for the range, allocating one
     * as each arrives: exact, where its histogram mode would round to
     * 0.1 LU. */
    .flags = JOULE_DESC_ALLOCATES,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Measures loudness after EBU R 128 / ITU-R BS.1770-4 with libebur128: momentary (400 ms) and "
                   "short-term (3 s) loudness at a chosen interval, and at the end the integrated loudness (gated), "
                   "the loudness range (EBU Tech 3342), the sample peak and the true peak. The true peak comes from joule's own "
                   "meter (BS.1770-4 annex 2: oversampled 4 times below 96 kHz, twice below 192 kHz; shared with the "
                   "clip plugin), not libebur128's.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
