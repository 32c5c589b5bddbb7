/* gait.c — gait measures from step events and, optionally, the
 * acceleration they were found in.
 *
 * Input port 0 (`steps`): an events stream of steps (from the steps
 * plugin); port 1 (`signal`, optional): the acceleration signal, for the
 * regularity measures.
 *
 * Measures (over the whole walk, `mode = summary`, one row; or per sliding
 * window, `mode = windows`, a row every `hop` seconds for the window
 * [t, t + window)):
 *   steps            steps in the span
 *   cadence          steps per minute while walking: 60 / mean step time
 *   walking_time     sum of the step intervals that are not pauses (s)
 *   step_time        mean interval between consecutive steps (s), with
 *   step_time_sd     its sample standard deviation and
 *   step_time_cv     coefficient of variation (SD / mean, %)
 *   stride_time      mean interval between a step and the next-but-one
 *   stride_time_sd   (same foot), SD and CV likewise
 *   stride_time_cv
 *   step_regularity  Moe-Nilssen & Helbostad (2004): the unbiased
 *   stride_regularity  autocorrelation of the vertical acceleration,
 *   symmetry         normalised to 1 at lag 0, at its peak near one step
 *                    time (Ad1, step regularity) and near two (Ad2,
 *                    stride regularity); symmetry = Ad1 / Ad2 (1 for a
 *                    symmetric gait). NaN without the signal input;
 *                    symmetry is NaN also when Ad2 <= 0 (no stride
 *                    periodicity: the ratio would be meaningless).
 * An interval longer than `max_gap` seconds is a pause: it ends a walking
 * bout and counts in no interval statistic (nor does a stride spanning it).
 *
 * Vertical acceleration: the column named by `vertical`; by default the
 * norm of ax, ay, az (or of the first three columns, or the only column):
 * to first order the norm of gravity plus a small acceleration is gravity
 * plus the acceleration's vertical component, whatever the orientation.
 * The autocorrelation runs over the span from the first to the last step
 * (summary) or over the window, on the signal averaged down to about
 * 100 Hz; the peaks are sought within ±30 % of the mean step time and of
 * twice it.
 *
 * Ports interleave in any order, and the output must not depend on it: the
 * steps and the (decimated) vertical acceleration are kept, and every
 * measure is computed at finish. Memory grows with the recording's length
 * (about 0.4 MB per hour of signal, 16 bytes per step). */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_choices[] = {"summary", "windows", NULL};
enum { P_MODE, P_WINDOW, P_HOP, P_MAXGAP, P_VERTICAL, N_PARAMS };

static const joule_param params[] = {
    {"mode", JOULE_PARAM_ENUM, 0, "summary", 0, 0, mode_choices, "",
     "summary: one row for the whole walk; windows: a row every `hop` seconds over the last `window` seconds."},
    {"window", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "10", 1, 3600, NULL, "s",
     "windows: length of the sliding window."},
    {"hop", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1", 0.01, 3600, NULL, "s",
     "windows: time between window starts."},
    {"max_gap", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "2", 0.1, 60, NULL, "s",
     "A step interval longer than this is a pause, not a step time."},
    {"vertical", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Signal column holding the vertical acceleration (default: the norm of the three axes)."},
};

static const joule_port inputs[] = {
    {"steps", JOULE_EVENTS, 0, "step events (the steps plugin)"},
    {"signal", JOULE_SIGNAL, JOULE_PORT_OPTIONAL, "the acceleration, for step and stride regularity"},
};
static const joule_port outputs[] = {
    {"out", JOULE_EVENTS, 0, "the measures: one row (summary) or one per window"},
};

enum { C_STEPS, C_CADENCE, C_WALK, C_ST, C_ST_SD, C_ST_CV, C_SR, C_SR_SD, C_SR_CV, C_AD1, C_AD2, C_SYM, N_COLS };
static const char *const col_names[N_COLS] = {
    "steps",       "cadence",        "walking_time",   "step_time",       "step_time_sd",      "step_time_cv",
    "stride_time", "stride_time_sd", "stride_time_cv", "step_regularity", "stride_regularity", "symmetry"};
static const char *const col_units[N_COLS] = {"", "steps/min", "s", "s", "s", "%", "s", "s", "%", "", "", ""};

typedef struct gait {
    const joule_host *host;
    int windows;
    double window, hop, max_gap;
    double st0;            /* steps stream t0 */
    double *t;             /* step times */
    size_t nt, tcap;
    int has_sig;
    uint32_t sig_nc;
    int vcol[3], nv;
    double sig_t0, sig_fs;
    uint32_t D;            /* decimation to about 100 Hz */
    double acc;            /* running sum of the current block */
    uint32_t in_blk;
    float *v;              /* decimated vertical acceleration */
    size_t nvs, vcap;
    double *r;             /* autocorrelation scratch */
    size_t rcap;
    /* output */
    int computed;
    float *rows;
    double *times;
    size_t nrows, emitted;
} gait;

static int gait_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    const joule_value *pv = a->params;
    gait *g = calloc(1, sizeof *g);
    if (!g) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = g;
    g->host = h;
    g->windows = pv[P_MODE].e == 1;
    g->window = pv[P_WINDOW].f;
    g->hop = pv[P_HOP].f;
    g->max_gap = pv[P_MAXGAP].f;
    g->st0 = a->inputs[0].t0;
    const joule_format *sf = &a->inputs[1];
    g->has_sig = sf->kind != 0;
    if (g->has_sig) {
        g->sig_nc = sf->n_columns;
        g->sig_t0 = sf->t0;
        g->D = (uint32_t)(sf->rate / 100.0);
        if (g->D < 1)
            g->D = 1;
        g->sig_fs = sf->rate / g->D;
        if (pv[P_VERTICAL].s[0]) {
            g->vcol[0] = jp_find_col(sf, pv[P_VERTICAL].s);
            if (g->vcol[0] < 0) {
                h->error(h, "vertical: the signal has no column '%s'", pv[P_VERTICAL].s);
                return JOULE_ERROR;
            }
            g->nv = 1;
        } else if (sf->n_columns >= 3) {
            int x = jp_find_col(sf, "ax"), y = jp_find_col(sf, "ay"), z = jp_find_col(sf, "az");
            g->nv = 3;
            g->vcol[0] = x >= 0 && y >= 0 && z >= 0 ? x : 0;
            g->vcol[1] = x >= 0 && y >= 0 && z >= 0 ? y : 1;
            g->vcol[2] = x >= 0 && y >= 0 && z >= 0 ? z : 2;
        } else {
            g->nv = 1;
            g->vcol[0] = 0;
        }
    }
    joule_format *o = &a->outputs[0];
    o->kind = JOULE_EVENTS;
    o->n_columns = N_COLS;
    o->rate = a->inputs[0].rate;
    o->t0 = g->st0;
    o->names = col_names;
    o->units = col_units;
    o->length = g->windows ? 0 : 1;
    o->out_num = 0; /* everything at finish */
    o->out_den = 1;
    return JOULE_OK;
}

static int gait_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)out;
    gait *g = self;
    if (port == 0) {
        if (jp_grow((void **)&g->t, &g->tcap, g->nt + in->n_rows, sizeof *g->t)) {
            g->host->error(g->host, "out of memory");
            return JOULE_ERROR;
        }
        for (uint32_t r = 0; r < in->n_rows; r++)
            g->t[g->nt++] = in->times[r];
        return JOULE_OK;
    }
    if (jp_grow((void **)&g->v, &g->vcap, g->nvs + in->n_rows / g->D + 1, sizeof *g->v)) {
        g->host->error(g->host, "out of memory");
        return JOULE_ERROR;
    }
    for (uint32_t r = 0; r < in->n_rows; r++) {
        const float *row = in->data + (size_t)r * in->n_columns;
        double y;
        if (g->nv == 1) {
            y = row[g->vcol[0]];
        } else {
            double a = row[g->vcol[0]], b = row[g->vcol[1]], c = row[g->vcol[2]];
            y = sqrt(a * a + b * b + c * c);
        }
        g->acc += isfinite(y) ? y : 0.0;
        if (++g->in_blk == g->D) {
            g->v[g->nvs++] = (float)(g->acc / g->D);
            g->acc = 0;
            g->in_blk = 0;
        }
    }
    return JOULE_OK;
}

/* Mean, sample SD and CV (%) of the values. */
static void stats(const double *x, size_t n, float *mean, float *sd, float *cv)
{
    if (!n) {
        *mean = *sd = *cv = NAN;
        return;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / n, q = 0;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - m) * (x[i] - m);
    double d = n > 1 ? sqrt(q / (n - 1)) : NAN;
    *mean = (float)m;
    *sd = (float)d;
    *cv = (float)(n > 1 && m > 0 ? 100.0 * d / m : NAN);
}

/* Step and stride regularity over signal samples [a, b) with step time P. */
static void regularity(gait *g, int64_t a, int64_t b, double P, float *ad1, float *ad2)
{
    *ad1 = *ad2 = NAN;
    if (a < 0)
        a = 0;
    if (b > (int64_t)g->nvs)
        b = (int64_t)g->nvs;
    int64_t n = b - a;
    int L = (int)ceil(2.3 * P * g->sig_fs) + 1;
    if (!(P > 0) || n < 2 * (int64_t)L || L < 3)
        return;
    if (jp_grow((void **)&g->r, &g->rcap, (size_t)L + 1, sizeof *g->r))
        return;
    const float *x = g->v + a;
    double mean = 0;
    for (int64_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    for (int k = 0; k <= L; k++) {
        double s = 0;
        for (int64_t i = 0; i + k < n; i++)
            s += (x[i] - mean) * (x[i + k] - mean);
        g->r[k] = s / (double)(n - k);
    }
    if (!(g->r[0] > 0))
        return;
    double best1 = -INFINITY, best2 = -INFINITY;
    int lo1 = (int)floor(0.7 * P * g->sig_fs), hi1 = (int)ceil(1.3 * P * g->sig_fs);
    int lo2 = (int)floor(1.7 * P * g->sig_fs), hi2 = (int)ceil(2.3 * P * g->sig_fs);
    for (int k = lo1 < 1 ? 1 : lo1; k <= hi1 && k <= L; k++)
        if (g->r[k] > best1)
            best1 = g->r[k];
    for (int k = lo2 < 1 ? 1 : lo2; k <= hi2 && k <= L; k++)
        if (g->r[k] > best2)
            best2 = g->r[k];
    *ad1 = (float)(best1 / g->r[0]);
    *ad2 = (float)(best2 / g->r[0]);
}

/* The measures over steps [i0, i1) and the signal over [ta, tb). */
static void measures(gait *g, size_t i0, size_t i1, double ta, double tb, float *row, double *tmp)
{
    row[C_STEPS] = (float)(i1 - i0);
    size_t n = 0;
    double walk = 0;
    for (size_t i = i0; i + 1 < i1; i++) {
        double d = g->t[i + 1] - g->t[i];
        if (d <= g->max_gap) {
            tmp[n++] = d;
            walk += d;
        }
    }
    row[C_WALK] = (float)walk;
    stats(tmp, n, &row[C_ST], &row[C_ST_SD], &row[C_ST_CV]);
    row[C_CADENCE] = n ? (float)(60.0 * n / walk) : NAN;
    double P = n ? walk / n : NAN;
    size_t m = 0;
    for (size_t i = i0; i + 2 < i1; i++) {
        double d1 = g->t[i + 1] - g->t[i], d2 = g->t[i + 2] - g->t[i + 1];
        if (d1 <= g->max_gap && d2 <= g->max_gap)
            tmp[m++] = d1 + d2;
    }
    stats(tmp, m, &row[C_SR], &row[C_SR_SD], &row[C_SR_CV]);
    row[C_AD1] = row[C_AD2] = row[C_SYM] = NAN;
    if (g->has_sig && n) {
        int64_t a = (int64_t)ceil((ta - g->sig_t0) * g->sig_fs), b = (int64_t)floor((tb - g->sig_t0) * g->sig_fs) + 1;
        regularity(g, a, b, P, &row[C_AD1], &row[C_AD2]);
        /* Ad1 / Ad2 compares the steps with the stride: only meaningful
         * when the stride is periodic at all (NaN compares false too) */
        row[C_SYM] = row[C_AD2] > 0 ? row[C_AD1] / row[C_AD2] : NAN;
    }
}

static int compute(gait *g)
{
    double *tmp = malloc((g->nt + 1) * sizeof *tmp);
    if (!tmp)
        return -1;
    if (!g->windows) {
        g->rows = malloc(N_COLS * sizeof *g->rows);
        g->times = malloc(sizeof *g->times);
        if (!g->rows || !g->times) {
            free(tmp);
            return -1;
        }
        double ta = g->nt ? g->t[0] : 0, tb = g->nt ? g->t[g->nt - 1] : 0;
        measures(g, 0, g->nt, ta, tb, g->rows, tmp);
        g->times[0] = g->st0;
        g->nrows = 1;
    } else {
        double end = g->nt ? g->t[g->nt - 1] : g->st0;
        if (g->has_sig) {
            double se = g->sig_t0 + (double)g->nvs / g->sig_fs;
            if (se > end)
                end = se;
        }
        size_t nw = end - g->st0 >= g->window ? (size_t)floor((end - g->st0 - g->window) / g->hop + 1e-9) + 1 : 0;
        g->rows = malloc((nw ? nw : 1) * N_COLS * sizeof *g->rows);
        g->times = malloc((nw ? nw : 1) * sizeof *g->times);
        if (!g->rows || !g->times) {
            free(tmp);
            return -1;
        }
        size_t i0 = 0, i1 = 0;
        for (size_t k = 0; k < nw; k++) {
            double ta = g->st0 + k * g->hop, tb = ta + g->window;
            while (i0 < g->nt && g->t[i0] < ta)
                i0++;
            if (i1 < i0)
                i1 = i0;
            while (i1 < g->nt && g->t[i1] < tb)
                i1++;
            measures(g, i0, i1, ta, tb, g->rows + k * N_COLS, tmp);
            g->times[k] = ta;
        }
        g->nrows = nw;
    }
    free(tmp);
    return 0;
}

static int gait_finish(void *self, joule_buffer *out)
{
    gait *g = self;
    if (!g->computed) {
        g->computed = 1;
        if (compute(g)) {
            g->host->error(g->host, "out of memory");
            return JOULE_ERROR;
        }
    }
    uint32_t n = 0;
    while (g->emitted < g->nrows && n < out[0].capacity) {
        memcpy(out[0].data + (size_t)n * N_COLS, g->rows + g->emitted * N_COLS, N_COLS * sizeof(float));
        out[0].times[n] = g->times[g->emitted];
        n++;
        g->emitted++;
    }
    out[0].n_rows = n;
    return g->emitted < g->nrows ? JOULE_OK : JOULE_END;
}

static void gait_close(void *self)
{
    gait *g = self;
    if (!g)
        return;
    free(g->t);
    free(g->v);
    free(g->r);
    free(g->rows);
    free(g->times);
    free(g);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "gait",
    .version = "1.0.0",
    .summary = "cadence, step/stride time and variability, step/stride regularity and symmetry from steps",
    .role = JOULE_ROLE_FILTER,
    .n_params = N_PARAMS,
    .params = params,
    .n_inputs = 2,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = gait_open,
    .process = gait_process,
    .finish = gait_finish,
    .close = gait_close,
    /* Step times are kept for the variability over the whole stream, and
     * the (decimated) acceleration for its autocorrelation: memory grows
     * with the input, a doubling array at a time. */
    .flags = JOULE_DESC_ALLOCATES,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Gait measures from step events (the steps plugin): cadence, walking time, and step and stride "
                   "time with their SD and coefficient of variation, over the whole walk or per sliding window; an "
                   "interval longer than `max_gap` is a pause and counts in none of them. With the acceleration on "
                   "the optional input, step and stride regularity and their ratio, the symmetry, from the unbiased "
                   "autocorrelation of the vertical acceleration at one and two step times (R. Moe-Nilssen, J. L. "
                   "Helbostad, J. Biomech. 37 (2004) 121-126).",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
