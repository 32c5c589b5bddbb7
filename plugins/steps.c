/* steps.c — step detection from acceleration, wherever the device is
 * carried (hand, trouser pockets, bag, armband, neck pouch, swinging arm).
 *
 * Input: a signal holding either one magnitude column or three axes (the
 * Euclidean norm is taken here, so the phone's orientation does not matter).
 * Output: an events stream, one row per step: its time, the smoothed
 * acceleration magnitude at the step (`peak`, input units) and the local
 * step period (`period`, s).
 *
 * Algorithm (a periodicity-gated peak detector):
 *
 *  1. Smoothing. The magnitude is low-passed by a linear-phase FIR
 *     (Hann-windowed sinc, `cutoff`, default 3 Hz, 1 s long) evaluated at a
 *     working rate near 50 Hz (an integer decimation of the input rate).
 *     Its delay is exactly half its length and is subtracted from every
 *     time reported, so steps are placed where they happened.
 *  2. Periodicity. Every 0.25 s the normalised autocorrelation of the
 *     last `window` seconds (default 10 s) is computed up to 2 ×
 *     `max_period`. Its largest peak in [min_period, 2 × max_period] is
 *     the window's regularity (Moe-Nilssen & Helbostad 2004: the
 *     autocorrelation at the stride lag is high for steady walking, low for
 *     handling the phone or standing). The step period is the shortest lag
 *     that divides that peak's lag (1, 2, 3 or 4 times) and is itself a
 *     prominent autocorrelation peak (its value exceeds the mean of the
 *     values at half and one and a half times its lag by 0.15): this
 *     resolves the step / stride ambiguity of asymmetric carrying (a
 *     trouser pocket sees one leg much more than the other).
 *     The largest of many peaks must not be noise: the smoothed magnitude
 *     holds only about 2 × `cutoff` independent values per second, and at
 *     lag k only the window's W - k samples overlap. So the window is long
 *     (10 s: 7.6 s still overlap at 2.4 s), and the autocorrelation is the
 *     biased estimate (the sum of products over W, not W - k), which weights
 *     each lag by its overlap (W - k) / W and damps the long lags whose
 *     estimate is noisiest. Ten minutes of white noise (9.8 + N(0, 1) m/s^2)
 *     gave hundreds of false steps with 4 s windows and the unbiased
 *     estimate (Moe-Nilssen & Helbostad's); with both changes, at most a
 *     couple.
 *  3. Candidates. Local maxima of the smoothed magnitude that are the
 *     highest within ± `min_interval`, with their prominence in a 1 s window
 *     (as in scipy.signal.find_peaks).
 *  4. Gating. A candidate is a step when at least one of the windows that
 *     end at it, are centred on it or start at it is walking — regular
 *     (regularity >= `regularity`, default 0.5) and moving (the smoothed
 *     magnitude's standard deviation >= `min_sd`, 0.2 m/s^2) — and the
 *     candidate's prominence is at least `prominence` (default 1.0) times
 *     that window's standard deviation. Taking the best of the three windows keeps the first and
 *     last steps of a walk, whose centred window is half standing.
 *  5. Spacing. Two steps closer than `merge` (0.6) × the step period are one
 *     step: the higher peak is kept.
 *  6. Continuity. When two consecutive steps are 1.6 to 2.5 step periods
 *     apart (a step too weak to stand out, typical of the far leg with the
 *     phone in a pocket), the highest local maximum in the middle third of
 *     the gap is taken as the missing step (`fill_gaps`).
 *
 * Streaming: the look-ahead is bounded (the FIR's half length, the window,
 * and the spacing rule: about `window` + 2 s); events are emitted once they
 * are final, in time order. All sums run in stream order, so the output
 * does not depend on how the input is chunked.
 *
 * References: R. Moe-Nilssen, J. L. Helbostad, "Estimation of gait cycle
 * characteristics by trunk accelerometry", J. Biomech. 37 (2004) 121-126.
 * A. Brajdic, R. Harle, "Walk detection and step counting on unconstrained
 * smartphones", UbiComp 2013 (windowed peak detection, and the
 * walking-detection stage it needs). M. Salvi et al., "An optimised
 * algorithm for accurate steps counting from smart-phone accelerometry",
 * EMBC 2018 (smoothing, scoring, detection and post-processing stages). */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { P_COLUMN, P_AXES, P_CUTOFF, P_MIN_INTERVAL, P_MIN_PERIOD, P_MAX_PERIOD, P_WINDOW, P_REGULARITY, P_PROM,
       P_MERGE, P_FILL, P_MIN_SD, N_PARAMS };

static const joule_param params[] = {
    {"column", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "A single magnitude column to use as it is (default: the only column of a one-column input)."},
    {"axes", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Three axis columns whose Euclidean norm is used (default: ax, ay, az if present, else the first three)."},
    {"cutoff", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "3", 0.5, 20, NULL, "Hz",
     "Cut-off of the linear-phase low-pass smoothing the magnitude (its delay is compensated)."},
    {"min_interval", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.25", 0.05, 5, NULL, "s",
     "Minimum step interval: a candidate must be the highest point within this distance."},
    {"min_period", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.3", 0.1, 5, NULL, "s",
     "Shortest step period considered (0.3 s: 200 steps/min)."},
    {"max_period", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1.2", 0.2, 5, NULL, "s",
     "Longest step period considered (1.2 s: 50 steps/min)."},
    {"window", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "10", 1, 30, NULL, "s",
     "Length of the windows in which walking is recognised by its periodicity; longer than 2 × max_period "
     "(shorter windows take noise for walking more often)."},
    {"regularity", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.5", 0, 1, NULL, "",
     "Least normalised autocorrelation at the step or stride lag for a window to count as walking."},
    {"prominence", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1", 0, 10, NULL, "",
     "Least peak prominence, in standard deviations of the smoothed magnitude in the walking window."},
    {"merge", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.6", 0, 0.95, NULL, "",
     "Steps closer than merge × the step period are one step (the higher peak is kept)."},
    {"fill_gaps", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "",
     "Recover a weak step between two steps 1.6 to 2.5 step periods apart."},
    {"min_sd", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.2", 0, 1000, NULL, "m/s^2",
     "Least standard deviation of the smoothed magnitude in a walking window (walking moves a phone by more "
     "than 0.02 g; a device at rest far less). In m/s^2; divided by 9.80665 when the input's unit is g."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "acceleration: three axes, or one magnitude column"},
};
static const joule_port outputs[] = {
    {"out", JOULE_EVENTS, 0, "one row per step: peak (smoothed magnitude), period (s)"},
};
static const char *const out_names[] = {"peak", "period"};

#define HOP_S 0.25
#define PROM_WIN_S 1.0
#define GAP_LO 1.6
#define GAP_HI 2.5
#define DIV_PROM 0.15
#define QCAP 256 /* initial output queue */

typedef struct win {
    float per, reg, sd;
} win;

typedef struct cand {
    int64_t p;        /* working sample */
    double pos;       /* refined position (working samples) */
    float val, prom;
} cand;

typedef struct step_ev {
    int64_t p;
    double pos;
    float val, per;
} step_ev;

typedef struct steps {
    const joule_host *host;
    uint32_t nin;            /* input columns */
    int col[3], ncol;
    double fs_in, fs, t0;
    uint32_t D;              /* decimation */
    /* FIR at the input rate */
    uint32_t ntap;
    double *h;
    float *mring;            /* last ntap magnitudes (ring) */
    uint64_t n_in;
    /* working signal */
    float *x;
    uint64_t xmask;
    int64_t nx;
    /* periodicity windows */
    int W, H, L, kmin, kmax_step, kmax;
    double *r;
    float *seg;
    win *wins;
    uint64_t wmask;
    int64_t nwin;            /* windows computed: 0 .. nwin-1 */
    /* candidates */
    int dist, half;          /* candidate distance, prominence half-window */
    int64_t det;             /* next working sample to test as candidate */
    cand *cq;                /* ring of undecided candidates */
    uint32_t cq_cap, cq_head, cq_n;
    /* spacing and continuity */
    int have_cur;
    step_ev cur;
    int have_prev;
    step_ev prev;
    double regth, promk, merge, min_sd;
    int fill;
    /* output queue (grows: one process call may find many steps) */
    step_ev *oq;
    uint32_t oq_cap, oq_head, oq_n;
    int oom;
    int ended;
    const char *units[2];
} steps;

/* ------------------------------------------------------------------------ */

static int find_name(const joule_format *f, const char *name)
{
    for (uint32_t i = 0; i < f->n_columns; i++)
        if (!strcmp(f->names[i], name))
            return (int)i;
    return -1;
}

static int steps_check(const joule_value *p, char *msg, size_t cap)
{
    double minp = p[P_MIN_PERIOD].f, maxp = p[P_MAX_PERIOD].f, w = p[P_WINDOW].f;
    if (!(maxp > minp)) {
        snprintf(msg, cap, "max_period (%g s) must exceed min_period (%g s)", maxp, minp);
        return 1;
    }
    if (!(w > 2 * maxp)) {
        snprintf(msg, cap, "window (%g s) must be longer than 2 × max_period (%g s)", w, 2 * maxp);
        return 1;
    }
    return 0;
}

static int steps_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    const joule_value *pv = a->params;
    steps *s = calloc(1, sizeof *s);
    if (!s) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = s;
    s->host = h;
    const joule_format *in = &a->inputs[0];
    s->nin = in->n_columns;
    s->fs_in = in->rate;
    s->t0 = in->t0;
    if (pv[P_COLUMN].s[0]) {
        s->col[0] = find_name(in, pv[P_COLUMN].s);
        if (s->col[0] < 0) {
            h->error(h, "column: the input has no column '%s'", pv[P_COLUMN].s);
            return JOULE_ERROR;
        }
        s->ncol = 1;
    } else if (pv[P_AXES].s[0]) {
        char **items;
        size_t n = jp_split(pv[P_AXES].s, &items);
        if (n != 3) {
            free(items);
            h->error(h, "axes: name three columns, not %zu", n);
            return JOULE_ERROR;
        }
        for (int i = 0; i < 3; i++) {
            s->col[i] = find_name(in, items[i]);
            if (s->col[i] < 0) {
                h->error(h, "axes: the input has no column '%s'", items[i]);
                free(items);
                return JOULE_ERROR;
            }
        }
        free(items);
        s->ncol = 3;
    } else if (in->n_columns == 1) {
        s->ncol = 1;
    } else if (in->n_columns >= 3) {
        int ax = find_name(in, "ax"), ay = find_name(in, "ay"), az = find_name(in, "az");
        s->ncol = 3;
        if (ax >= 0 && ay >= 0 && az >= 0) {
            s->col[0] = ax;
            s->col[1] = ay;
            s->col[2] = az;
        } else {
            s->col[0] = 0;
            s->col[1] = 1;
            s->col[2] = 2;
        }
    } else {
        h->error(h, "the input has %u columns: give one magnitude column (column =) or three axes (axes =)",
                 in->n_columns);
        return JOULE_ERROR;
    }
    double minp = pv[P_MIN_PERIOD].f, maxp = pv[P_MAX_PERIOD].f;
    if (maxp <= minp) { /* steps_check refuses it before any input is read */
        h->error(h, "max_period (%g s) must exceed min_period (%g s)", maxp, minp);
        return JOULE_ERROR;
    }
    /* working rate: an integer decimation to about 50 Hz */
    s->D = (uint32_t)(s->fs_in / 50.0 + 1e-9);
    if (s->D < 1)
        s->D = 1;
    s->fs = s->fs_in / s->D;
    double fc = pv[P_CUTOFF].f;
    if (fc >= 0.45 * s->fs) {
        h->error(h, "cutoff %g Hz is too high for the working rate %g Hz", fc, s->fs);
        return JOULE_ERROR;
    }
    /* FIR: Hann-windowed sinc, 1 s long (odd), unit gain at DC */
    uint32_t nt = (uint32_t)(s->fs_in * 1.0);
    if (nt < 3)
        nt = 3;
    if (!(nt & 1))
        nt++;
    s->ntap = nt;
    s->h = malloc(nt * sizeof *s->h);
    s->mring = calloc(nt, sizeof *s->mring);
    if (!s->h || !s->mring) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    double sum = 0, c = (nt - 1) / 2.0, wc = 2.0 * fc / s->fs_in;
    for (uint32_t i = 0; i < nt; i++) {
        double k = i - c;
        double sinc = k == 0 ? wc : sin(M_PI * wc * k) / (M_PI * k);
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * (i + 1) / (nt + 1));
        s->h[i] = sinc * w;
        sum += s->h[i];
    }
    for (uint32_t i = 0; i < nt; i++)
        s->h[i] /= sum;
    /* windows */
    s->W = (int)lround(pv[P_WINDOW].f * s->fs);
    s->H = (int)lround(HOP_S * s->fs);
    if (s->H < 1)
        s->H = 1;
    s->kmin = (int)ceil(minp * s->fs);
    if (s->kmin < 2)
        s->kmin = 2;
    s->kmax_step = (int)floor(maxp * s->fs);
    s->kmax = 2 * s->kmax_step;
    s->L = s->kmax + 2;
    if (s->L >= s->W - 2) {
        /* window > 2 × max_period in seconds (steps_check), but not by the
         * few samples the autocorrelation needs at this working rate */
        h->error(h, "window (%g s, %d samples at the working rate %g Hz) must exceed 2 × max_period (%g s, %d "
                 "samples) by more than 4 samples",
                 pv[P_WINDOW].f, s->W, s->fs, 2 * maxp, s->kmax);
        return JOULE_ERROR;
    }
    s->dist = (int)lround(pv[P_MIN_INTERVAL].f * s->fs);
    if (s->dist < 1)
        s->dist = 1;
    s->half = (int)lround(PROM_WIN_S * s->fs / 2);
    s->regth = pv[P_REGULARITY].f;
    s->promk = pv[P_PROM].f;
    s->merge = pv[P_MERGE].f;
    s->fill = pv[P_FILL].b;
    s->min_sd = pv[P_MIN_SD].f;
    if (in->units && in->units[s->col[0]] && !strcasecmp(in->units[s->col[0]], "g"))
        s->min_sd /= 9.80665;
    /* the working ring spans the window, the look-ahead and the longest gap */
    uint64_t span = (uint64_t)s->W + (uint64_t)(12.0 * s->fs) + 4u * (uint64_t)(s->half + s->dist) + 64;
    uint64_t xr = 1;
    while (xr < span)
        xr <<= 1;
    s->xmask = xr - 1;
    uint64_t wr = 1;
    while (wr < xr / (uint64_t)s->H + 8)
        wr <<= 1;
    s->wmask = wr - 1;
    s->x = calloc(xr, sizeof *s->x);
    s->wins = calloc(wr, sizeof *s->wins);
    s->r = calloc((size_t)s->L + 1, sizeof *s->r);
    s->seg = calloc((size_t)s->W, sizeof *s->seg);
    /* undecided candidates lie within a window and the look-ahead of the
     * newest, at least `dist` apart */
    s->cq_cap = (uint32_t)((s->W + 4 * (s->half + s->dist) + s->H) / s->dist + 16);
    s->cq = malloc(s->cq_cap * sizeof *s->cq);
    s->oq_cap = QCAP;
    s->oq = malloc(s->oq_cap * sizeof *s->oq);
    if (!s->x || !s->wins || !s->r || !s->seg || !s->cq || !s->oq) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    joule_format *o = &a->outputs[0];
    o->kind = JOULE_EVENTS;
    o->n_columns = 2;
    o->rate = s->fs_in;
    o->t0 = s->t0;
    o->names = out_names;
    s->units[0] = in->units && in->units[s->col[0]] ? in->units[s->col[0]] : "";
    s->units[1] = "s";
    o->units = s->units;
    o->out_num = 1;
    o->out_den = 1;
    return JOULE_OK;
}

static inline float X(const steps *s, int64_t n)
{
    return s->x[(uint64_t)n & s->xmask];
}

/* ------------------------------------------------------------------------ */
/* Periodicity of window j: [jH, jH + W)                                     */

static void compute_window(steps *s, int64_t j)
{
    const int W = s->W, L = s->L;
    int64_t st = j * s->H;
    double mean = 0;
    for (int i = 0; i < W; i++)
        mean += X(s, st + i);
    mean /= W;
    /* contiguous copy, mean removed */
    float *seg = s->seg;
    for (int i = 0; i < W; i++)
        seg[i] = (float)(X(s, st + i) - mean);
    double *r = s->r;
    for (int k = 0; k <= L; k++) {
        double acc = 0;
        for (int i = 0; i + k < W; i++)
            acc += (double)seg[i] * seg[i + k];
        r[k] = acc / W; /* biased: lag k weighted by its overlap (W - k) / W */
    }
    win *w = &s->wins[(uint64_t)j & s->wmask];
    w->sd = (float)sqrt(r[0]);
    w->per = 0;
    w->reg = 0;
    if (r[0] <= 1e-12)
        return;
    double r0 = r[0];
    for (int k = 0; k <= L; k++)
        r[k] /= r0;
    /* dominant peak in [kmin, kmax] */
    int kd = -1;
    for (int k = s->kmin; k <= s->kmax && k < L; k++)
        if (r[k] > r[k - 1] && r[k] >= r[k + 1] && (kd < 0 || r[k] > r[kd]))
            kd = k;
    if (kd < 0)
        return;
    w->reg = (float)r[kd];
    int best = kd;
    for (int n = 2; n <= 4; n++) {
        double k0 = (double)kd / n;
        if (k0 < s->kmin)
            break;
        int lo = (int)ceil(k0 * 0.85), hi = (int)floor(k0 * 1.15);
        int kb = -1;
        for (int k = lo < 1 ? 1 : lo; k <= hi && k < L; k++)
            if (r[k] > r[k - 1] && r[k] >= r[k + 1] && (kb < 0 || r[k] > r[kb]))
                kb = k;
        if (kb < 0)
            continue;
        int a = (int)lround(kb * 0.5), b = (int)lround(kb * 1.5);
        if (b > L)
            b = L;
        if (r[kb] > 0 && r[kb] - 0.5 * (r[a] + r[b]) > DIV_PROM)
            best = kb;
    }
    if (best > s->kmax_step)
        return;
    w->per = (float)(best / s->fs);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

static void push_out(steps *s, const step_ev *e)
{
    if (s->oq_n == s->oq_cap) {
        uint32_t cap = 2 * s->oq_cap;
        step_ev *q = malloc(cap * sizeof *q);
        if (!q) {
            s->oom = 1;
            return;
        }
        for (uint32_t i = 0; i < s->oq_n; i++)
            q[i] = s->oq[(s->oq_head + i) % s->oq_cap];
        free(s->oq);
        s->oq = q;
        s->oq_cap = cap;
        s->oq_head = 0;
    }
    s->oq[(s->oq_head + s->oq_n++) % s->oq_cap] = *e;
}

/* A step is final: recover a missed step before it, then queue it. */
static void finalize(steps *s, const step_ev *e)
{
    if (s->have_prev && s->fill) {
        double gap = e->pos - s->prev.pos;
        double P = 0.5 * (e->per + s->prev.per) * s->fs;
        if (gap >= GAP_LO * P && gap <= GAP_HI * P) {
            int64_t lo = s->prev.p + (int64_t)(gap / 3), hi = e->p - (int64_t)(gap / 3);
            int64_t kb = -1;
            for (int64_t k = lo + 1; k < hi; k++)
                if (X(s, k) > X(s, k - 1) && X(s, k) >= X(s, k + 1) && (kb < 0 || X(s, k) > X(s, kb)))
                    kb = k;
            step_ev f;
            if (kb >= 0) {
                double a = X(s, kb - 1), b = X(s, kb), c = X(s, kb + 1);
                double den = a - 2 * b + c, d = den < 0 ? 0.5 * (a - c) / den : 0;
                f.p = kb;
                f.pos = kb + d;
                f.val = (float)(b - 0.25 * (a - c) * d);
            } else {
                f.p = (lo + hi) / 2;
                f.pos = 0.5 * (s->prev.pos + e->pos);
                f.val = X(s, f.p);
            }
            f.per = 0.5f * (e->per + s->prev.per);
            push_out(s, &f);
        }
    }
    push_out(s, e);
    s->prev = *e;
    s->have_prev = 1;
}

/* Candidate c accepted as a step with period P (s). */
static void accept(steps *s, const cand *c, float P)
{
    step_ev e = {c->p, c->pos, c->val, P};
    if (s->have_cur && c->pos - s->cur.pos < s->merge * s->cur.per * s->fs) {
        if (c->val > s->cur.val)
            s->cur = e;
        return;
    }
    if (s->have_cur)
        finalize(s, &s->cur);
    s->cur = e;
    s->have_cur = 1;
}

/* Decide the candidates whose windows are known (all of them at the end). */
static void decide(steps *s, int final)
{
    while (s->cq_n) {
        cand *c = &s->cq[s->cq_head];
        int64_t p = c->p;
        int64_t jR = (p + s->H - 1) / s->H;
        if (!final && jR >= s->nwin)
            break;
        int64_t js[3];
        int nj = 0;
        if (p + 1 >= s->W)
            js[nj++] = (p + 1 - s->W) / s->H;
        int64_t q = p - s->W / 2;
        js[nj++] = q <= 0 ? 0 : (q + s->H - 1) / s->H;
        js[nj++] = jR;
        int best = -1;
        float breg = -1;
        for (int i = 0; i < nj; i++) {
            int64_t j = js[i];
            if (j < 0 || j >= s->nwin || j < s->nwin - (int64_t)s->wmask)
                continue;
            const win *w = &s->wins[(uint64_t)j & s->wmask];
            if (w->per > 0 && w->reg >= s->regth && w->sd >= s->min_sd && c->prom >= s->promk * w->sd &&
                w->reg > breg) {
                breg = w->reg;
                best = i;
            }
        }
        if (best >= 0)
            accept(s, c, s->wins[(uint64_t)js[best] & s->wmask].per);
        s->cq_head = (s->cq_head + 1) % s->cq_cap;
        s->cq_n--;
    }
    /* the current step is final once nothing that could replace it is
     * undecided */
    if (s->have_cur) {
        double frontier = s->cq_n ? (double)s->cq[s->cq_head].p : (double)(s->det - 1);
        if (final || frontier >= s->cur.pos + s->merge * s->cur.per * s->fs + 1) {
            finalize(s, &s->cur);
            s->have_cur = 0;
        }
    }
}

/* Test working sample p as a candidate (the ring holds p ± half + dist). */
static void detect(steps *s, int64_t p)
{
    float v = X(s, p);
    int64_t lo = p - s->dist, hi = p + s->dist;
    if (lo < 0)
        lo = 0;
    for (int64_t k = lo; k < p; k++)
        if (X(s, k) >= v)
            return;
    for (int64_t k = p + 1; k <= hi && k < s->nx; k++)
        if (X(s, k) > v)
            return;
    if (p == 0 || p + 1 >= s->nx)
        return;
    /* prominence within ± half */
    float lmin = v, rmin = v;
    for (int64_t k = p - 1; k >= 0 && k >= p - s->half; k--) {
        float y = X(s, k);
        if (y > v)
            break;
        if (y < lmin)
            lmin = y;
    }
    for (int64_t k = p + 1; k < s->nx && k <= p + s->half; k++) {
        float y = X(s, k);
        if (y > v)
            break;
        if (y < rmin)
            rmin = y;
    }
    cand c;
    c.p = p;
    double a = X(s, p - 1), b = v, cc = X(s, p + 1);
    double den = a - 2 * b + cc, d = den < 0 ? 0.5 * (a - cc) / den : 0;
    c.pos = p + d;
    c.val = (float)(b - 0.25 * (a - cc) * d);
    c.prom = v - (lmin > rmin ? lmin : rmin);
    if (s->cq_n == s->cq_cap) { /* cannot happen: see the sizing at open */
        s->cq_head = (s->cq_head + 1) % s->cq_cap;
        s->cq_n--;
    }
    s->cq[(s->cq_head + s->cq_n++) % s->cq_cap] = c;
}

/* A new working sample is in the ring. */
static void advance(steps *s)
{
    s->nx++;
    /* windows that just completed */
    while ((s->nwin * s->H) + s->W <= s->nx) {
        compute_window(s, s->nwin);
        s->nwin++;
    }
    /* candidates whose look-ahead is complete */
    int64_t ahead = s->half > s->dist ? s->half : s->dist;
    while (s->det + ahead + 1 < s->nx) {
        detect(s, s->det);
        s->det++;
    }
    decide(s, 0);
}

/* The FIR output centred on input sample `at`, the input known up to
 * n_avail - 1 (later samples repeat the last one, earlier the first). */
static float fir_at(const steps *s, uint64_t at, uint64_t n_avail)
{
    const int64_t c = (int64_t)(s->ntap - 1) / 2;
    double acc = 0;
    for (uint32_t i = 0; i < s->ntap; i++) {
        int64_t k = (int64_t)at + c - (int64_t)i;
        if (k < 0)
            k = 0;
        if (k >= (int64_t)n_avail)
            k = (int64_t)n_avail - 1;
        acc += s->h[i] * s->mring[(uint64_t)k % s->ntap];
    }
    return (float)acc;
}

static void feed(steps *s, const float *row)
{
    float m;
    if (s->ncol == 1) {
        m = row[s->col[0]];
    } else {
        double a = row[s->col[0]], b = row[s->col[1]], c = row[s->col[2]];
        m = (float)sqrt(a * a + b * b + c * c);
    }
    if (!isfinite(m))
        m = 0; /* a NaN would poison every sum after it */
    s->mring[s->n_in % s->ntap] = m;
    s->n_in++;
    /* working sample n is the FIR output centred on input sample n·D */
    const uint64_t c = (s->ntap - 1) / 2;
    while ((uint64_t)s->nx * s->D + c < s->n_in) {
        s->x[(uint64_t)s->nx & s->xmask] = fir_at(s, (uint64_t)s->nx * s->D, s->n_in);
        advance(s);
    }
}

static uint32_t emit(steps *s, joule_buffer *out)
{
    uint32_t n = 0;
    while (s->oq_n && n < out->capacity) {
        const step_ev *e = &s->oq[s->oq_head];
        out->data[(size_t)n * 2] = e->val;
        out->data[(size_t)n * 2 + 1] = e->per;
        out->times[n] = s->t0 + e->pos * s->D / s->fs_in;
        n++;
        s->oq_head = (s->oq_head + 1) % s->oq_cap;
        s->oq_n--;
    }
    out->n_rows = n;
    return n;
}

static int steps_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    steps *s = self;
    for (uint32_t r = 0; r < in->n_rows; r++)
        feed(s, in->data + (size_t)r * in->n_columns);
    if (s->oom) {
        s->host->error(s->host, "out of memory");
        return JOULE_ERROR;
    }
    emit(s, &out[0]);
    return s->oq_n ? JOULE_MORE : JOULE_OK;
}

static int steps_finish(void *self, joule_buffer *out)
{
    steps *s = self;
    if (!s->ended) {
        s->ended = 1;
        /* the FIR's tail: the last value held past the end */
        if (s->n_in) {
            while ((uint64_t)s->nx * s->D < s->n_in) {
                s->x[(uint64_t)s->nx & s->xmask] = fir_at(s, (uint64_t)s->nx * s->D, s->n_in);
                advance(s);
            }
            /* candidates near the end, then every decision */
            while (s->det + 1 < s->nx) {
                detect(s, s->det);
                s->det++;
            }
        }
        decide(s, 1);
        if (s->oom) {
            s->host->error(s->host, "out of memory");
            return JOULE_ERROR;
        }
    }
    emit(s, &out[0]);
    return s->oq_n ? JOULE_OK : JOULE_END;
}

static void steps_close(void *self)
{
    steps *s = self;
    if (!s)
        return;
    free(s->h);
    free(s->mring);
    free(s->x);
    free(s->wins);
    free(s->r);
    free(s->seg);
    free(s->cq);
    free(s->oq);
    free(s);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "steps",
    .version = "1.0.0",
    .summary = "step detection from acceleration (any carrying position): periodicity-gated peak detection",
    .role = JOULE_ROLE_FILTER,
    .n_params = N_PARAMS,
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = steps_open,
    .process = steps_process,
    .finish = steps_finish,
    .close = steps_close,
    .check = steps_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Detects steps in acceleration (three axes, whose norm is taken, or one magnitude column) from "
                   "any carrying position (hand, pocket, bag, wrist): the magnitude is low-passed by a Hann-windowed "
                   "sinc, and its prominent peaks are accepted only while the last seconds are periodic at a walking "
                   "cadence (the autocorrelation regularity of Moe-Nilssen & Helbostad 2004) and moving, which "
                   "rejects isolated jolts; a step too weak to stand out in a steady rhythm is filled in. Each step "
                   "is an event with the smoothed magnitude at its peak and the local step period. After Brajdic & "
                   "Harle (UbiComp 2013) and Salvi et al. (EMBC 2018).",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
