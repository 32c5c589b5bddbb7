/* clip.c — clipping detection: runs of consecutive samples at or above a
 * level, per channel, as events, and a per-channel summary.
 *
 * A sample x is clipped when |x| >= 10^(threshold/20) (dBFS of the sample
 * value, full scale 1.0); both polarities count. A run is at least
 * `min_run` consecutive clipped samples of one channel; it ends at the
 * first sample that is not clipped, or at the end of the input. NaN is not
 * clipping: it is not at or above any level, so it ends a run and never
 * counts towards the peak. An infinite sample is clipped (+inf dBFS).
 *
 * Defaults. A file clipped at full scale holds the rails' values: for
 * 16-bit PCM +32767/32768 (-0.00027 dBFS) and -1.0; for 24-bit
 * +8388607/8388608 (-0.000001 dBFS) and -1.0. A threshold of -0.01 dBFS
 * (|x| >= 0.998849) takes both rails and leaves a master limited to -0.1
 * dBFS alone. One or two samples at full scale happen in clean audio (a
 * peak normalised to 0 dBFS lands on one sample, a symmetric crest on
 * two), three in a row mostly where the waveform was cut flat, hence
 * min_run = 3. What the defaults cannot tell apart: a crest of a low
 * frequency normalised to exactly 0 dBFS stays within 0.01 dB of it for
 * several samples (a sine below about 340 Hz at 44.1 kHz keeps three
 * samples there) and reads as clipped; and 8-bit audio, whose positive
 * rail is 127/128 (-0.068 dBFS), needs a threshold of -0.07.
 *
 * Output `events`: one row per run, its time the run's first sample
 * (t0 + start / rate): length (samples), duration (s), channel (the input
 * column's index: 0 for ch0), level (dBFS of the run's largest |x|) and
 * continues (see max_run). Rows are in order of time, then channel.
 * Output `summary`: one row at the end (time 0, like energy's and
 * loudness's summaries), per channel c (the input column's name):
 * clipped_samples_c (samples in runs), runs_c, longest_run_c (samples),
 * sample_peak_c (dBFS of the largest |x|; -inf for digital silence) and,
 * with true_peak, true_peak_c (dBTP) and over_0dbtp_c (points of the 4x
 * oversampled signal with |y| > 1.0). Every value is a float32: counts
 * above 2^24 (16.7 million) are rounded to float precision.
 *
 * Event order and memory. A run is known only when it ends, but its row is
 * placed at its start; a run of channel 1 may end, with an earlier start,
 * after one of channel 0. Ended runs are therefore queued per channel (each
 * queue is in start order) and a queue's head is emitted only when it is
 * the earliest head and no channel has a run open that started earlier
 * (or at the same sample on a lower channel): every later run starts later
 * still, so rows come out sorted by (start, channel) whatever the
 * chunking. A run open on one channel holds back the runs of every other
 * channel until it ends; so that a channel stuck at full scale does not
 * hold them back without bound, a run is reported in pieces of at most
 * `max_run` samples: each piece is a row, the later ones with continues =
 * 1 (the summary counts the run once, with its whole length). The queues
 * thus hold at most about channels × (max_run + rows per chunk) /
 * (min_run + 1) pieces of 24 bytes, grown by doubling when needed.
 *
 * True peak (true_peak = true): each channel is interpolated by
 * truepeak.h, the interpolator of the loudness plugin too (its summary's
 * true_peak is the largest of these true_peak_c, to the bit): 4x below
 * 96 kHz, 2x below 192 kHz, the samples alone above. The points are each
 * sample n and y(n + k/4), k = 1, 2, 3 (at 2x, y(n + 1/2)), a windowed-sinc
 * FIR over the 32 samples n - 15 .. n + 16 (sinc · Kaiser, beta = 9, each
 * phase's taps scaled to sum to 1: a constant passes exactly). Against
 * sines of every phase it is within 2.5e-5 (0.0002 dB) up to 0.4 × the
 * sample rate (0.017 dB at 0.42, more above: no short filter resolves
 * content near Nyquist), so that a sine peaking just below full scale
 * does not read over it; the 4x grid itself can miss a crest by up to
 * 0.69 dB at 0.5 × the rate (cos(π/8)). Samples outside the input, and
 * non-finite samples, are taken as 0 by the interpolation; the true peak
 * is never below the sample peak (an infinite sample makes both +inf).
 * NaN samples are not audio: never clipped, not a peak, and they end a
 * run. over_0dbtp_c counts the points
 * (samples included) whose |y|, in float, is above 1.0, so a flat run at
 * exactly 1.0 is not an over while the ringing at its edges (13.7 %
 * above it, band-limited) is. This is not libebur128's filter (49 taps,
 * 12 per phase): on tones, and clipped sines whose harmonics stay clear
 * of Nyquist, the two agree within 0.05 dB; on 16-bit pink noise at
 * 44.1 kHz, clean and clipped, this read within 0.07 dB of a 128-tap
 * reference where libebur128's read 0.17 and 0.31 dB off, and on hard
 * clipping near Nyquist libebur128's reads lower still (see truepeak.h).
 * Speed: the filter's symmetry halves the multiplies, the channels are
 * computed side by side in vectors, and a block whose samples are too
 * small to raise any channel's peak or make an over is not interpolated
 * at all (see truepeak.h).
 *
 * Chunking: runs and pieces are counted per sample in stream order, the
 * interpolator keeps the last 31 frames and computes every point by the
 * same code from the same samples, and the event order is the sort
 * above: the output does not depend on how the input was split. */
#include <joule/plugin.h>

#include "truepeak.h"
#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { P_THRESHOLD, P_MIN_RUN, P_MAX_RUN, P_TRUE_PEAK, N_PARAMS };
enum { E_LENGTH, E_DURATION, E_CHANNEL, E_LEVEL, E_CONTINUES, N_EVCOL };
enum { S_CLIPPED, S_RUNS, S_LONGEST, S_SAMPLE_PEAK, S_TRUE_PEAK, S_OVERS, N_SUM };

static const char *const ev_names[N_EVCOL] = {"length", "duration", "channel", "level", "continues"};
static const char *const ev_units[N_EVCOL] = {"samples", "s", "", "dBFS", ""};
static const char *const sum_names[N_SUM] = {"clipped_samples", "runs",      "longest_run",
                                             "sample_peak",     "true_peak", "over_0dbtp"};
static const char *const sum_units[N_SUM] = {"samples", "", "samples", "dBFS", "dBTP", "points"};

static const joule_param params[] = {
    {"threshold", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "-0.01", -60, 60, NULL, "dBFS",
     "A sample is clipped when |x| is at or above this level (20·log10|x|, full scale 1.0). -0.01 takes the "
     "rails of a 16- or 24-bit file clipped at full scale (+32767/32768 is -0.00027 dBFS) and leaves a master "
     "limited to -0.1 dBFS alone; use -0.07 for 8-bit audio, the level of the rail for audio clipped and then "
     "turned down, and above 0 to count overs of a float file."},
    {"min_run", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "3", 1, 1 << 24, NULL, "samples",
     "Fewest consecutive clipped samples that make a run: a clean peak normalised to full scale touches it "
     "on one or two samples, a waveform cut flat stays there; 1 counts every sample."},
    {"max_run", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "65536", 1, 1 << 24, NULL, "samples",
     "A longer run (a channel stuck at full scale) is reported as several events of at most this length, the "
     "later ones with continues = 1; bounds the memory that keeps events of several channels in time order. "
     "At least min_run."},
    {"true_peak", JOULE_PARAM_BOOL, 0, "false", 0, 0, NULL, "",
     "Also interpolate each channel (4x below 96 kHz, 2x below 192 kHz; a 32-tap-per-phase windowed sinc, the "
     "loudness plugin's too) and report its true peak (dBTP) and the number of points, samples included, "
     "above full scale (over_0dbtp)."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "audio (or any signal): one column per channel, full scale 1.0"},
};
static const joule_port outputs[] = {
    {"events", JOULE_EVENTS, 0,
     "one row per run, at its first sample: length (samples), duration (s), channel (index), level (dBFS), "
     "continues (1 for the later pieces of a run longer than max_run)"},
    {"summary", JOULE_EVENTS, 0,
     "one row at the end (time 0), per channel: clipped_samples, runs, longest_run, sample_peak (dBFS); with "
     "true_peak, true_peak (dBTP) and over_0dbtp"},
};

/* One reported piece of a run. */
typedef struct piece {
    uint64_t start; /* its first sample */
    uint32_t len;   /* samples */
    float peak;     /* largest |x| */
    uint32_t cont;  /* continues the channel's previous piece */
} piece;

typedef struct chan {
    /* the run in progress: whole > 0 while one is open */
    uint64_t whole;   /* samples in the run so far */
    uint64_t start;   /* first sample of its current piece */
    uint32_t len;     /* samples in its current piece (0: none open) */
    float peak;       /* largest |x| of the current piece */
    uint32_t cont;    /* the current piece continues a cut run */
    /* ended pieces not yet emitted: a ring, in start order */
    piece *q;
    uint32_t qhead, qn, qcap;
    /* the summary */
    uint64_t clipped, runs, longest;
    float speak;
} chan;

typedef struct clip {
    const joule_host *host;
    uint32_t nch;
    float lin;          /* the threshold as the least float clipped */
    uint64_t min_run;
    uint32_t max_run;
    int true_peak;
    double rate, t0;
    uint64_t rows;      /* input rows seen */
    int ended;
    chan *ch;
    jtp tp;            /* the true peak of every channel, when true_peak */
    float *clean;      /* a chunk with its non-finite samples as 0 */
    size_t clean_cap;  /* floats */
    jp_names snames;
    const char **sunits;
} clip;

static int clip_check(const joule_value *p, char *msg, size_t n)
{
    if (p[P_MAX_RUN].i < p[P_MIN_RUN].i) {
        snprintf(msg, n, "max_run (%lld) is shorter than min_run (%lld)", (long long)p[P_MAX_RUN].i,
                 (long long)p[P_MIN_RUN].i);
        return 1;
    }
    return 0;
}

static int clip_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    clip *k = calloc(1, sizeof *k);
    if (!k) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = k;
    k->host = h;
    const joule_format *in = &a->inputs[0];
    k->nch = in->n_columns;
    k->rate = in->rate;
    k->t0 = in->t0;
    /* |x| >= lin in double is |x| >= the least float not below lin */
    double lin = pow(10.0, a->params[P_THRESHOLD].f / 20.0);
    k->lin = (float)lin;
    if ((double)k->lin < lin)
        k->lin = nextafterf(k->lin, INFINITY);
    k->min_run = (uint64_t)a->params[P_MIN_RUN].i;
    k->max_run = (uint32_t)a->params[P_MAX_RUN].i;
    k->true_peak = a->params[P_TRUE_PEAK].b;
    if (k->true_peak && jtp_init(&k->tp, k->nch, (unsigned long)k->rate, JTP_SIMD | JTP_CHANNELS)) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    k->ch = calloc(k->nch, sizeof *k->ch);
    if (!k->ch) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    for (uint32_t c = 0; c < k->nch; c++) {
        k->ch[c].qcap = 16;
        k->ch[c].q = malloc(k->ch[c].qcap * sizeof *k->ch[c].q);
        if (!k->ch[c].q) {
            h->error(h, "out of memory");
            return JOULE_ERROR;
        }
    }
    int nsum = k->true_peak ? N_SUM : S_TRUE_PEAK;
    size_t ncol = (size_t)nsum * k->nch;
    k->sunits = calloc(ncol, sizeof *k->sunits);
    if (jp_names_init(&k->snames, ncol) || !k->sunits) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    for (int f = 0; f < nsum; f++)
        for (uint32_t c = 0; c < k->nch; c++) {
            size_t i = (size_t)f * k->nch + c;
            if (jp_names_set(&k->snames, i, "%s_%s", sum_names[f], in->names[c])) {
                h->error(h, "out of memory");
                return JOULE_ERROR;
            }
            k->sunits[i] = sum_units[f];
        }

    joule_format *e = &a->outputs[0];
    e->kind = JOULE_EVENTS;
    e->n_columns = N_EVCOL;
    e->rate = in->rate;
    e->t0 = in->t0;
    e->names = ev_names;
    e->units = ev_units;
    /* a run takes a row and ends at another, or is cut at max_run: rows
     * beyond one per input row wait for JOULE_MORE */
    e->out_num = 1;
    e->out_den = 1;
    joule_format *s = &a->outputs[1];
    s->kind = JOULE_EVENTS;
    s->n_columns = (uint32_t)ncol;
    s->rate = in->rate;
    s->t0 = in->t0;
    s->names = (const char *const *)k->snames.v;
    s->units = k->sunits;
    s->length = 1;
    s->out_num = 0; /* emits only at finish */
    s->out_den = 1;
    return JOULE_OK;
}

/* Queue a finished piece. 0, or -1 out of memory. */
static int push(chan *ch, uint64_t start, uint32_t len, float peak, uint32_t cont)
{
    if (ch->qn == ch->qcap) {
        /* double it, the ring laid out from its head */
        uint32_t cap = ch->qcap * 2;
        piece *q = malloc((size_t)cap * sizeof *q);
        if (!q)
            return -1;
        for (uint32_t i = 0; i < ch->qn; i++)
            q[i] = ch->q[(ch->qhead + i) % ch->qcap];
        free(ch->q);
        ch->q = q;
        ch->qcap = cap;
        ch->qhead = 0;
    }
    piece *p = &ch->q[(ch->qhead + ch->qn) % ch->qcap];
    p->start = start;
    p->len = len;
    p->peak = peak;
    p->cont = cont;
    ch->qn++;
    return 0;
}

/* The open run has ended (a sample below the threshold, or the end of the
 * input). 0, or -1 out of memory. */
static int end_run(clip *k, chan *ch)
{
    int rc = 0;
    if (ch->whole >= k->min_run) {
        if (ch->len)
            rc = push(ch, ch->start, ch->len, ch->peak, ch->cont);
        ch->runs++;
        ch->clipped += ch->whole;
        if (ch->whole > ch->longest)
            ch->longest = ch->whole;
    }
    ch->whole = 0;
    ch->len = 0;
    ch->cont = 0;
    return rc;
}

/* Runs of channel c in n rows (row stride k->nch) starting at stream row
 * row0. 0, or -1 out of memory. */
static int scan(clip *k, uint32_t c, const float *x, uint32_t n, uint64_t row0)
{
    chan *ch = &k->ch[c];
    const size_t stride = k->nch;
    const float lin = k->lin;
    float speak = ch->speak;
    for (uint32_t r = 0; r < n; r++) {
        float a = fabsf(x[(size_t)r * stride]);
        if (a > speak) /* false for NaN */
            speak = a;
        if (a >= lin) {
            if (!ch->len) {
                ch->start = row0 + r;
                ch->peak = 0;
            }
            ch->len++;
            ch->whole++;
            if (a > ch->peak)
                ch->peak = a;
            if (ch->len == k->max_run) {
                /* max_run >= min_run: the run counts; its next piece, if
                 * any, continues it */
                if (push(ch, ch->start, ch->len, ch->peak, ch->cont))
                    return -1;
                ch->cont = 1;
                ch->len = 0;
            }
        } else if (ch->whole && end_run(k, ch)) {
            return -1;
        }
    }
    ch->speak = speak;
    return 0;
}

/* The true peak of n rows: to truepeak.h as they are, or, when some are
 * not finite, as a copy with those as 0. 0, or -1 out of memory. */
static int tp_feed(clip *k, const float *x, uint32_t n)
{
    size_t len = (size_t)n * k->nch;
    int bad = 0;
    for (size_t i = 0; i < len; i++)
        bad |= !(fabsf(x[i]) <= 3.4028235e38f); /* NaN, inf */
    if (bad) {
        if (len > k->clean_cap) {
            float *c = realloc(k->clean, len * sizeof *c);
            if (!c)
                return -1;
            k->clean = c;
            k->clean_cap = len;
        }
        for (size_t i = 0; i < len; i++)
            k->clean[i] = isfinite(x[i]) ? x[i] : 0.0f;
        x = k->clean;
    }
    jtp_feed(&k->tp, x, n);
    return 0;
}

/* Emit queued pieces in (start, channel) order while no open piece could
 * come before them. Sets *more when one is ready but the output is full. */
static void release(clip *k, joule_buffer *out, int *more)
{
    *more = 0;
    /* the earliest open piece: nothing at or after it may go yet */
    int open = -1;
    uint64_t os = 0;
    for (uint32_t c = 0; c < k->nch; c++)
        if (k->ch[c].len && (open < 0 || k->ch[c].start < os)) {
            open = (int)c;
            os = k->ch[c].start;
        }
    uint32_t n = out->n_rows;
    for (;;) {
        int best = -1;
        uint64_t bs = 0;
        for (uint32_t c = 0; c < k->nch; c++) {
            const chan *ch = &k->ch[c];
            if (ch->qn && (best < 0 || ch->q[ch->qhead].start < bs)) {
                best = (int)c;
                bs = ch->q[ch->qhead].start;
            }
        }
        if (best < 0 || (open >= 0 && (os < bs || (os == bs && open < best))))
            break;
        if (n == out->capacity) {
            *more = 1;
            break;
        }
        chan *ch = &k->ch[best];
        const piece *p = &ch->q[ch->qhead];
        float *row = out->data + (size_t)n * N_EVCOL;
        row[E_LENGTH] = (float)p->len;
        row[E_DURATION] = (float)(p->len / k->rate);
        row[E_CHANNEL] = (float)best;
        row[E_LEVEL] = (float)(20.0 * log10((double)p->peak));
        row[E_CONTINUES] = (float)p->cont;
        out->times[n] = k->t0 + (double)p->start / k->rate;
        n++;
        ch->qhead = (ch->qhead + 1) % ch->qcap;
        ch->qn--;
    }
    out->n_rows = n;
}

static int clip_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    clip *k = self;
    uint32_t n = in->n_rows;
    if (n) {
        for (uint32_t c = 0; c < k->nch; c++) {
            if (scan(k, c, in->data + c, n, k->rows)) {
                k->host->error(k->host, "out of memory");
                return JOULE_ERROR;
            }
        }
        if (k->true_peak && tp_feed(k, in->data, n)) {
            k->host->error(k->host, "out of memory");
            return JOULE_ERROR;
        }
        k->rows += n;
    }
    int more;
    release(k, &out[0], &more);
    return more ? JOULE_MORE : JOULE_OK;
}

static double to_db(double v)
{
    return v > 0 ? 20.0 * log10(v) : -INFINITY;
}

static int clip_finish(void *self, joule_buffer *out)
{
    clip *k = self;
    if (!k->ended) {
        k->ended = 1;
        const uint32_t nch = k->nch;
        float *row = out[1].data;
        if (k->true_peak)
            jtp_end(&k->tp); /* the last samples' points, zeros past the end */
        for (uint32_t c = 0; c < nch; c++) {
            chan *ch = &k->ch[c];
            if (ch->whole && end_run(k, ch)) {
                k->host->error(k->host, "out of memory");
                return JOULE_ERROR;
            }
            row[(size_t)S_CLIPPED * nch + c] = (float)ch->clipped;
            row[(size_t)S_RUNS * nch + c] = (float)ch->runs;
            row[(size_t)S_LONGEST * nch + c] = (float)ch->longest;
            row[(size_t)S_SAMPLE_PEAK * nch + c] = (float)to_db(ch->speak);
            if (k->true_peak) {
                /* the samples are points too: an infinite one (which the
                 * interpolation takes as 0) still makes the peak +inf */
                double tp = jtp_channel_peak(&k->tp, c);
                row[(size_t)S_TRUE_PEAK * nch + c] = (float)to_db(ch->speak > tp ? ch->speak : tp);
                row[(size_t)S_OVERS * nch + c] = (float)jtp_overs(&k->tp, c);
            }
        }
        out[1].times[0] = 0.0;
        out[1].n_rows = 1;
    }
    int more;
    release(k, &out[0], &more);
    return more ? JOULE_OK : JOULE_END;
}

static void clip_close(void *self)
{
    clip *k = self;
    if (!k)
        return;
    if (k->ch)
        for (uint32_t c = 0; c < k->nch; c++)
            free(k->ch[c].q);
    free(k->ch);
    jtp_free(&k->tp);
    free(k->clean);
    jp_names_free(&k->snames);
    free(k->sunits);
    free(k);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "clip",
    .version = "1.0.0",
    .summary = "clipping: runs of samples at full scale per channel, as events and a summary (optionally "
               "over 0 dBTP)",
    .role = JOULE_ROLE_FILTER,
    .n_params = N_PARAMS,
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 2,
    .outputs = outputs,
    .open = clip_open,
    .process = clip_process,
    .finish = clip_finish,
    .close = clip_close,
    .check = clip_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Finds clipping: per channel, runs of at least `min_run` consecutive samples at or above "
                   "`threshold` (dBFS, either polarity), emitted as events in time order with their start, length, "
                   "duration, channel and level. The summary gives per channel the clipped samples, the number of "
                   "runs, the longest run and the sample peak, and optionally the true peak (the same meter as the "
                   "loudness plugin) and the count of points over 0 dBTP.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
