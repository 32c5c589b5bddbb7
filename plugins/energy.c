/* energy.c — frame energy per channel: mean square, RMS, dBFS and peak.
 *
 * Frame k covers rows [k·hop, k·hop + frame) of the input, complete frames
 * only; its time is its start.
 *
 * Rectangular window (the default): the input is cut into blocks of
 * g = gcd(frame, hop) rows; each block's sum of squares (in double) and
 * peak are kept in a ring, and a frame is the sum of its frame/g blocks. The
 * work per sample is one multiply-add whatever the overlap, and since every
 * sum runs in stream order over fixed block boundaries, the result does not
 * depend on how the input was chunked.
 *
 * Other windows: the last `frame` rows are kept in a ring and each frame is
 * weighted, mean square = Σ w·x² / Σ w (so a constant signal has the same
 * RMS under every window).
 *
 * dBFS = 10·log10(mean square), full scale 1.0. Silence reads -inf, as
 * in every joule plugin (doc/graph-format.md, "Silence"): a mean square
 * below 1e-20 (-200 dBFS, far under any converter's noise) is digital
 * silence, or the rounding residue a running sum leaves of it. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_DB (-INFINITY) /* silence */
#define FLOOR_MS 1e-20

enum { F_MS, F_RMS, F_DB, F_PEAK, N_FEAT };
static const char *const feat_names[N_FEAT] = {"ms", "rms", "db", "peak"};
static const char *const feat_units[N_FEAT] = {"FS^2", "FS", "dBFS", "FS"};

static const char *const window_choices[] = {"rect", "hann", "hamming", "blackman", NULL};

static const joule_param params[] = {
    {"frame", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1024", 1, 1 << 24, NULL, "rows",
     "Frame length: the rows (samples) each output row summarises."},
    {"hop", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "512", 1, 1 << 24, NULL, "rows",
     "Rows between the starts of consecutive frames."},
    {"window", JOULE_PARAM_ENUM, 0, "rect", 0, 0, window_choices, "",
     "Weighting within the frame for ms/rms/db: rect, or a periodic hann, hamming or blackman window "
     "(normalised so a constant signal keeps its level). Peak is never weighted."},
    {"features", JOULE_PARAM_STRING, 0, "ms, rms, db, peak", 0, 0, NULL, "",
     "Which features to output, per channel, as columns <feature>_<channel>: any of ms (mean square), "
     "rms, db (dBFS of the mean square; -inf for silence) and peak (largest |x|)."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "any signal: audio channels or sensor columns"},
};
static const joule_port outputs[] = {
    {"out", JOULE_FRAMES, 0, "one row per frame: the features of every channel"},
    {"summary", JOULE_EVENTS, 0, "one row at the end (time 0): the features over the whole stream"},
};

typedef struct energy energy;
struct energy {
    const joule_host *host;
    void (*acc)(energy *e, const float *p, uint32_t take);
    uint32_t nch, frame, hop, g, nblk; /* nblk = frame / g blocks per frame */
    int feats[N_FEAT];                 /* enabled features, in output order */
    int nfeat;
    int windowed;
    /* rect: per-block sums */
    double *blk_ss;   /* ring of nblk × nch */
    float *blk_pk;
    double *acc_ss;   /* current block */
    float *acc_pk;
    uint32_t in_blk;  /* rows in the current block */
    uint64_t blocks;  /* completed blocks */
    /* windowed: ring of the last `frame` rows */
    float *ring;
    double *win;
    double wsum;
    uint64_t rows;    /* rows seen */
    uint64_t next_end; /* row count at which the next frame completes */
    /* whole stream */
    double *tot_ss;
    float *tot_pk;
    double *fms;      /* the frame being emitted */
    float *fpk;
    jp_names names, snames;
    const char **units, **sunits;
};

static void acc_stereo(energy *e, const float *p, uint32_t take);
static void acc_stereo_peak(energy *e, const float *p, uint32_t take);
static void acc_any(energy *e, const float *p, uint32_t take);
static void acc_any_peak(energy *e, const float *p, uint32_t take);

static int parse_features(const char *s, int *feats, char *msg, size_t n)
{
    char **items;
    size_t k = jp_split(s, &items);
    int count = 0, seen[N_FEAT] = {0};
    for (size_t i = 0; i < k; i++) {
        int f;
        for (f = 0; f < N_FEAT; f++)
            if (!strcmp(items[i], feat_names[f]))
                break;
        if (f == N_FEAT) {
            snprintf(msg, n, "features: unknown feature '%s' (known: ms, rms, db, peak)", items[i]);
            free(items);
            return -1;
        }
        if (!seen[f]) {
            seen[f] = 1;
            if (feats)
                feats[count] = f;
            count++;
        }
    }
    free(items);
    if (!count) {
        snprintf(msg, n, "features: name at least one of ms, rms, db, peak");
        return -1;
    }
    return count;
}

static int energy_check(const joule_value *p, char *msg, size_t n)
{
    return parse_features(p[3].s, NULL, msg, n) < 0;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void make_window(double *w, uint32_t n, int kind)
{
    /* periodic windows (length n, period n), the convention for analysis */
    for (uint32_t i = 0; i < n; i++) {
        double x = 2.0 * M_PI * i / n;
        switch (kind) {
        case 1: w[i] = 0.5 - 0.5 * cos(x); break;
        case 2: w[i] = 0.54 - 0.46 * cos(x); break;
        case 3: w[i] = 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x); break;
        default: w[i] = 1.0; break;
        }
    }
}

static int energy_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    energy *e = calloc(1, sizeof *e);
    if (!e) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = e;
    e->host = h;
    const joule_format *in = &a->inputs[0];
    e->nch = in->n_columns;
    e->frame = (uint32_t)a->params[0].i;
    e->hop = (uint32_t)a->params[1].i;
    e->windowed = a->params[2].e != 0;
    char msg[128];
    e->nfeat = parse_features(a->params[3].s, e->feats, msg, sizeof msg);
    int peak = 0;
    for (int f = 0; f < e->nfeat; f++)
        peak |= e->feats[f] == F_PEAK;
    e->acc = e->nch == 2 ? (peak ? acc_stereo_peak : acc_stereo) : (peak ? acc_any_peak : acc_any);
    e->g = gcd(e->frame, e->hop);
    e->nblk = e->frame / e->g;
    e->next_end = e->frame;
    size_t nch = e->nch;
    e->tot_ss = calloc(nch, sizeof *e->tot_ss);
    e->tot_pk = calloc(nch, sizeof *e->tot_pk);
    e->fms = calloc(nch, sizeof *e->fms);
    e->fpk = calloc(nch, sizeof *e->fpk);
    int bad = !e->tot_ss || !e->tot_pk || !e->fms || !e->fpk;
    if (e->windowed) {
        e->ring = calloc((size_t)e->frame * nch, sizeof *e->ring);
        e->win = malloc(e->frame * sizeof *e->win);
        bad |= !e->ring || !e->win;
        if (!bad) {
            make_window(e->win, e->frame, (int)a->params[2].e);
            for (uint32_t i = 0; i < e->frame; i++)
                e->wsum += e->win[i];
        }
    } else {
        e->blk_ss = calloc((size_t)e->nblk * nch, sizeof *e->blk_ss);
        e->blk_pk = calloc((size_t)e->nblk * nch, sizeof *e->blk_pk);
        e->acc_ss = calloc(nch, sizeof *e->acc_ss);
        e->acc_pk = calloc(nch, sizeof *e->acc_pk);
        bad |= !e->blk_ss || !e->blk_pk || !e->acc_ss || !e->acc_pk;
    }
    size_t ncol = (size_t)e->nfeat * nch;
    bad |= jp_names_init(&e->names, ncol) || jp_names_init(&e->snames, ncol);
    e->units = calloc(ncol, sizeof *e->units);
    e->sunits = calloc(ncol, sizeof *e->sunits);
    if (bad || !e->units || !e->sunits) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    for (int f = 0; f < e->nfeat; f++)
        for (size_t c = 0; c < nch; c++) {
            size_t k = (size_t)f * nch + c;
            jp_names_set(&e->names, k, "%s_%s", feat_names[e->feats[f]], in->names[c]);
            jp_names_set(&e->snames, k, "%s_%s", feat_names[e->feats[f]], in->names[c]);
            e->units[k] = e->sunits[k] = feat_units[e->feats[f]];
        }
    joule_format *o = &a->outputs[0];
    o->kind = JOULE_FRAMES;
    o->n_columns = (uint32_t)ncol;
    o->rate = in->rate / e->hop;
    o->t0 = in->t0;
    o->names = (const char *const *)e->names.v;
    o->units = e->units;
    o->length = in->length >= e->frame ? (in->length - e->frame) / e->hop + 1 : 0;
    /* frames complete every `hop` rows */
    o->out_num = 1;
    o->out_den = e->hop;
    joule_format *s = &a->outputs[1];
    s->kind = JOULE_EVENTS;
    s->n_columns = (uint32_t)ncol;
    s->rate = in->rate;
    s->t0 = in->t0;
    s->names = (const char *const *)e->snames.v;
    s->units = e->sunits;
    s->length = 1;
    s->out_num = 0; /* emits only at finish */
    s->out_den = 1;
    return JOULE_OK;
}

/* Write the features of one frame, from per-channel mean square and peak. */
static void emit(const energy *e, float *row, const double *ms, const float *pk)
{
    size_t nch = e->nch;
    for (int f = 0; f < e->nfeat; f++)
        for (size_t c = 0; c < nch; c++) {
            double v;
            switch (e->feats[f]) {
            case F_MS: v = ms[c]; break;
            case F_RMS: v = sqrt(ms[c]); break;
            case F_DB: v = ms[c] < FLOOR_MS ? FLOOR_DB : 10.0 * log10(ms[c]); break;
            default: v = pk[c]; break;
            }
            row[(size_t)f * nch + c] = (float)v;
        }
}

/* Block accumulation kernels, chosen once at open: the sums of squares
 * (double) and, only when a peak is wanted, the largest magnitude, of
 * `take` rows added to the current block. Two channels (stereo audio) get
 * an unrolled loop. */
static void acc_stereo(energy *e, const float *p, uint32_t take)
{
    double a0 = e->acc_ss[0], a1 = e->acc_ss[1];
    for (uint32_t j = 0; j < take; j++) {
        a0 += (double)p[2 * j] * p[2 * j];
        a1 += (double)p[2 * j + 1] * p[2 * j + 1];
    }
    e->acc_ss[0] = a0;
    e->acc_ss[1] = a1;
}

static void acc_stereo_peak(energy *e, const float *p, uint32_t take)
{
    double a0 = e->acc_ss[0], a1 = e->acc_ss[1];
    float p0 = e->acc_pk[0], p1 = e->acc_pk[1];
    for (uint32_t j = 0; j < take; j++) {
        float l = p[2 * j], r = p[2 * j + 1];
        a0 += (double)l * l;
        a1 += (double)r * r;
        l = fabsf(l);
        r = fabsf(r);
        p0 = l > p0 ? l : p0;
        p1 = r > p1 ? r : p1;
    }
    e->acc_ss[0] = a0;
    e->acc_ss[1] = a1;
    e->acc_pk[0] = p0;
    e->acc_pk[1] = p1;
}

static void acc_any(energy *e, const float *p, uint32_t take)
{
    const uint32_t nch = e->nch;
    for (uint32_t j = 0; j < take; j++)
        for (uint32_t c = 0; c < nch; c++) {
            float v = p[(size_t)j * nch + c];
            e->acc_ss[c] += (double)v * v;
        }
}

static void acc_any_peak(energy *e, const float *p, uint32_t take)
{
    const uint32_t nch = e->nch;
    for (uint32_t j = 0; j < take; j++)
        for (uint32_t c = 0; c < nch; c++) {
            float v = p[(size_t)j * nch + c];
            e->acc_ss[c] += (double)v * v;
            float av = fabsf(v);
            if (av > e->acc_pk[c])
                e->acc_pk[c] = av;
        }
}

static void process_rect(energy *e, const float *x, uint32_t n, joule_buffer *out)
{
    const uint32_t nch = e->nch;
    uint32_t i = 0;
    while (i < n) {
        uint32_t take = e->g - e->in_blk;
        if (take > n - i)
            take = n - i;
        const float *p = x + (size_t)i * nch;
        e->acc(e, p, take);
        e->in_blk += take;
        e->rows += take;
        i += take;
        if (e->in_blk < e->g)
            continue;
        /* a block is complete */
        size_t slot = (size_t)(e->blocks % e->nblk) * nch;
        for (uint32_t c = 0; c < nch; c++) {
            e->blk_ss[slot + c] = e->acc_ss[c];
            e->blk_pk[slot + c] = e->acc_pk[c];
            e->tot_ss[c] += e->acc_ss[c];
            if (e->acc_pk[c] > e->tot_pk[c])
                e->tot_pk[c] = e->acc_pk[c];
            e->acc_ss[c] = 0;
            e->acc_pk[c] = 0;
        }
        e->in_blk = 0;
        e->blocks++;
        if (e->rows != e->next_end)
            continue;
        e->next_end += e->hop;
        /* frame: blocks [blocks - nblk, blocks), summed oldest first */
        float *row = out[0].data + (size_t)out[0].n_rows * out[0].n_columns;
        for (uint32_t c = 0; c < nch; c++) {
            double s = 0;
            float m = 0;
            for (uint32_t b = 0; b < e->nblk; b++) {
                size_t k = (size_t)((e->blocks - e->nblk + b) % e->nblk) * nch + c;
                s += e->blk_ss[k];
                m = e->blk_pk[k] > m ? e->blk_pk[k] : m;
            }
            e->fms[c] = s / e->frame;
            e->fpk[c] = m;
        }
        emit(e, row, e->fms, e->fpk);
        out[0].n_rows++;
    }
}

static void process_windowed(energy *e, const float *x, uint32_t n, joule_buffer *out)
{
    const uint32_t nch = e->nch;
    for (uint32_t i = 0; i < n; i++) {
        const float *p = x + (size_t)i * nch;
        size_t slot = (size_t)(e->rows % e->frame) * nch;
        for (uint32_t c = 0; c < nch; c++) {
            float v = p[c];
            e->ring[slot + c] = v;
            e->tot_ss[c] += (double)v * v;
            float av = fabsf(v);
            if (av > e->tot_pk[c])
                e->tot_pk[c] = av;
        }
        e->rows++;
        if (e->rows != e->next_end)
            continue;
        e->next_end += e->hop;
        float *row = out[0].data + (size_t)out[0].n_rows * out[0].n_columns;
        uint64_t start = e->rows - e->frame;
        for (uint32_t c = 0; c < nch; c++) {
            double s = 0;
            float m = 0;
            for (uint32_t k = 0; k < e->frame; k++) {
                float v = e->ring[(size_t)((start + k) % e->frame) * nch + c];
                s += e->win[k] * (double)v * v;
                float av = fabsf(v);
                m = av > m ? av : m;
            }
            double ms = s / e->wsum;
            for (int f = 0; f < e->nfeat; f++) {
                double v;
                switch (e->feats[f]) {
                case F_MS: v = ms; break;
                case F_RMS: v = sqrt(ms); break;
                case F_DB: v = ms < FLOOR_MS ? FLOOR_DB : 10.0 * log10(ms); break;
                default: v = m; break;
                }
                row[(size_t)f * nch + c] = (float)v;
            }
        }
        out[0].n_rows++;
    }
}

static int energy_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    energy *e = self;
    if (e->windowed)
        process_windowed(e, in->data, in->n_rows, out);
    else
        process_rect(e, in->data, in->n_rows, out);
    return JOULE_OK;
}

static int energy_finish(void *self, joule_buffer *out)
{
    energy *e = self;
    size_t nch = e->nch;
    if (!e->windowed) /* rows of an incomplete last block */
        for (size_t c = 0; c < nch; c++) {
            e->tot_ss[c] += e->acc_ss[c];
            if (e->acc_pk[c] > e->tot_pk[c])
                e->tot_pk[c] = e->acc_pk[c];
        }
    float *row = out[1].data;
    for (int f = 0; f < e->nfeat; f++)
        for (size_t c = 0; c < nch; c++) {
            double ms = e->rows ? e->tot_ss[c] / (double)e->rows : 0.0, v;
            switch (e->feats[f]) {
            case F_MS: v = ms; break;
            case F_RMS: v = sqrt(ms); break;
            case F_DB: v = ms < FLOOR_MS ? FLOOR_DB : 10.0 * log10(ms); break;
            default: v = e->tot_pk[c]; break;
            }
            row[(size_t)f * nch + c] = (float)v;
        }
    out[1].times[0] = 0.0;
    out[1].n_rows = 1;
    return JOULE_END;
}

static void energy_close(void *self)
{
    energy *e = self;
    if (!e)
        return;
    free(e->blk_ss);
    free(e->blk_pk);
    free(e->acc_ss);
    free(e->acc_pk);
    free(e->ring);
    free(e->win);
    free(e->tot_ss);
    free(e->tot_pk);
    free(e->fms);
    free(e->fpk);
    jp_names_free(&e->names);
    jp_names_free(&e->snames);
    free(e->units);
    free(e->sunits);
    free(e);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "energy",
    .version = "1.0.0",
    .summary = "frame energy per channel: mean square, RMS, dBFS, peak (and a whole-stream summary)",
    .role = JOULE_ROLE_FILTER,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 2,
    .outputs = outputs,
    .open = energy_open,
    .process = energy_process,
    .finish = energy_finish,
    .close = energy_close,
    .check = energy_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Cuts each channel into frames of `frame` samples every `hop` and gives, per frame, the mean "
                   "square, the RMS, the level in dBFS of the mean square (-inf for digital silence) and the peak "
                   "|x|. The summary output gives the same measures over the whole stream, accumulated in double "
                   "precision so that the result does not depend on how the input was split.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
