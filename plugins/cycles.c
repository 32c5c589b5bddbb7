/* cycles.c — gait cycles of joint-angle data: range of motion, mean and
 * SD per cycle and column, ipsi/contra symmetry, outlier cycles, alerts.
 *
 * Segmentation: a cycle runs from one heel strike to the next. Heel
 * strikes come from the optional events input (port `events`: each event
 * starts a cycle), or from a column of the signal: `phase = col` starts a
 * cycle wherever the phase decreases (it wraps: 0-100 %, 0-1, 0-360°), and
 * `cycle = col` wherever the value changes (a cycle counter). Rows before
 * the first boundary and after the last are not part of a complete cycle
 * and are ignored.
 *
 * Per cycle and column (the signal's columns, or `columns =`): range of
 * motion ROM = max - min, mean and sample SD. Paired columns — NAME_ipsi and
 * NAME_contra (or `pairs = a:b, ...`) — get a symmetry index per cycle,
 *     SI = |a - b| / (½ (|a| + |b|))
 * of their ROMs (0: symmetric; 0 when both are 0).
 *
 * Validation (at the end, over all cycles): for every column, the ROM and
 * the mean of each cycle are checked with the IQR rule — outside
 * [Q1 - k·IQR, Q3 + k·IQR] (k = `iqr_k`, 1.5; quartiles by linear
 * interpolation, as numpy's default) — and so is the duration; a cycle
 * failing any test is an outlier. The IQR is taken as at least
 * `min_spread` (1°) for angles and two samples for durations: when every
 * cycle is alike, the bare rule would flag differences of a rounding
 * error. The summary averages the cycles that are
 * not outliers.
 *
 * Outputs:
 *   out      one row per cycle (time: its start): cycle (from 1), duration,
 *            rom_COL, mean_COL, sd_COL per column, si_NAME per pair
 *            NAME_ipsi:NAME_contra (si_A_B for any other pair A:B; a pair
 *            named twice is refused), outlier (0/1)
 *   alerts   events: cycle, code, column (from 1, 0 for the cycle), value;
 *            code 1: ROM under `min_rom`; 2: a value under the low end of
 *            `range` (value: the minimum); 3: over its high end (the
 *            maximum); 4: an outlier cycle (value: its duration)
 *   summary  one row: cycles, outliers, then the mean ROM, mean and SD per
 *            column and the SI of the mean ROMs per pair, over valid cycles
 *
 * Ports interleave in any order: signal rows are kept until the events
 * tell which cycle they belong to (rows of a cycle whose end is not yet
 * known), and every output is produced at finish, from per-cycle figures
 * kept as the cycles complete (a few numbers per cycle and column). */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { P_COLUMNS, P_PHASE, P_CYCLE, P_PAIRS, P_IQR, P_MIN_ROM, P_RANGE, P_MIN_SPREAD, N_PARAMS };

static const joule_param params[] = {
    {"columns", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Angle columns to analyse (default: all but the phase or cycle column)."},
    {"phase", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "A gait-phase column: a new cycle starts wherever it decreases (wraps)."},
    {"cycle", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "A cycle-number column: a new cycle starts wherever it changes."},
    {"pairs", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Column pairs for the symmetry index, as a:b, ... (default: every NAME_ipsi with its NAME_contra)."},
    {"iqr_k", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1.5", 0, 100, NULL, "",
     "IQR rule: a cycle whose ROM, mean or duration lies beyond k × IQR outside the quartiles is an outlier."},
    {"min_rom", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN, "0", 0, 0, NULL, "",
     "Alert when a column's ROM in a cycle is under this (0: no alert)."},
    {"range", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Alert when a value leaves this range, given as 'low, high' (empty: no alert)."},
    {"min_spread", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN, "1", 0, 0, NULL, "deg",
     "The IQR rule uses an IQR of at least this (angle units) for ROM and mean, and of two samples for the "
     "duration, so that cycles differing by less than the measurement's resolution are never outliers."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "joint angles (degrees), one column per angle"},
    {"events", JOULE_EVENTS, JOULE_PORT_OPTIONAL, "heel strikes: each starts a cycle"},
};
static const joule_port outputs[] = {
    {"out", JOULE_EVENTS, 0, "one row per cycle"},
    {"alerts", JOULE_EVENTS, 0, "cycle, code, column, value"},
    {"summary", JOULE_EVENTS, 0, "one row over the valid cycles"},
};

typedef struct cyc {
    double start, dur;
    float *rom, *mean, *sd, *mn, *mx; /* per column (slices of one block) */
} cyc;

typedef struct cycles {
    const joule_host *host;
    uint32_t nc;              /* analysed columns */
    int *cols;
    int mode;                 /* 0 events, 1 phase, 2 cycle */
    int seg_col;
    uint32_t npair;
    int (*pair)[2];
    double iqr_k, min_rom, lo, hi, min_spread;
    int has_range;
    double fs, t0;
    uint32_t in_nc;
    /* the cycle being accumulated */
    int in_cycle;
    double cstart;
    uint64_t crows;
    double *sum, *sum2;
    float *cmin, *cmax;
    float prev_seg;
    int have_prev;
    /* events mode */
    double *ev;
    size_t nev, evcap, evpos;  /* evpos: next boundary not yet passed */
    int ev_ended;
    float *pend;               /* signal rows waiting for the events */
    size_t npend, pendcap, pend_head;
    uint64_t row_index;        /* index of the next signal row */
    uint64_t pend_first;       /* row index of pend[pend_head] */
    /* finished cycles */
    cyc *cy;
    float *cyblk;
    size_t ncy, cycap;
    /* outputs */
    jp_names onames, snames;
    const char **ounits, **sunits;
    int done;
    uint8_t *outlier;
    size_t e_out, e_al, e_sum;
    float *alerts;             /* n × 4 */
    double *atimes;
    size_t nal, alcap;
    float *sumrow;
    uint32_t oncol, sncol;
} cycles;

static const char *const alert_names[] = {"cycle", "code", "column", "value"};

static int parse_range(const char *s, double *lo, double *hi)
{
    char **items;
    size_t n = jp_split(s, &items);
    int rc = -1;
    if (n == 2) {
        char *e1, *e2;
        *lo = strtod(items[0], &e1);
        *hi = strtod(items[1], &e2);
        if (!*e1 && !*e2 && e1 != items[0] && e2 != items[1] && *lo < *hi)
            rc = 0;
    }
    free(items);
    return rc;
}

static int cycles_check(const joule_value *p, char *msg, size_t cap)
{
    double lo, hi;
    if (p[P_RANGE].s[0] && parse_range(p[P_RANGE].s, &lo, &hi)) {
        snprintf(msg, cap, "range: give 'low, high' with low < high, not '%s'", p[P_RANGE].s);
        return 1;
    }
    if (p[P_PHASE].s[0] && p[P_CYCLE].s[0]) {
        snprintf(msg, cap, "give phase or cycle, not both");
        return 1;
    }
    return 0;
}

static int cycles_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    const joule_value *pv = a->params;
    cycles *c = calloc(1, sizeof *c);
    if (!c) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = c;
    c->host = h;
    const joule_format *in = &a->inputs[0];
    c->in_nc = in->n_columns;
    c->fs = in->rate;
    c->t0 = in->t0;
    c->iqr_k = pv[P_IQR].f;
    c->min_rom = pv[P_MIN_ROM].f;
    c->min_spread = pv[P_MIN_SPREAD].f;
    c->has_range = pv[P_RANGE].s[0] && !parse_range(pv[P_RANGE].s, &c->lo, &c->hi);
    c->seg_col = -1;
    int has_events = a->inputs[1].kind != 0;
    if (pv[P_PHASE].s[0] || pv[P_CYCLE].s[0]) {
        const char *nm = pv[P_PHASE].s[0] ? pv[P_PHASE].s : pv[P_CYCLE].s;
        c->seg_col = jp_find_col(in, nm);
        if (c->seg_col < 0) {
            h->error(h, "%s: the input has no column '%s'", pv[P_PHASE].s[0] ? "phase" : "cycle", nm);
            return JOULE_ERROR;
        }
        c->mode = pv[P_PHASE].s[0] ? 1 : 2;
        if (has_events) {
            h->error(h, "cycles come either from the events input or from a %s column, not both",
                     c->mode == 1 ? "phase" : "cycle");
            return JOULE_ERROR;
        }
    } else if (!has_events) {
        h->error(h, "no cycle boundaries: connect heel-strike events (input = angles, events) or set phase = or "
                    "cycle =");
        return JOULE_ERROR;
    }
    /* columns */
    char **items;
    size_t n = jp_split(pv[P_COLUMNS].s, &items);
    c->cols = malloc((in->n_columns + 1) * sizeof *c->cols);
    if (!c->cols) {
        free(items);
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    if (n) {
        for (size_t i = 0; i < n; i++) {
            int k = jp_find_col(in, items[i]);
            if (k < 0) {
                h->error(h, "columns: the input has no column '%s'", items[i]);
                free(items);
                return JOULE_ERROR;
            }
            c->cols[c->nc++] = k;
        }
    } else {
        for (uint32_t i = 0; i < in->n_columns; i++)
            if ((int)i != c->seg_col)
                c->cols[c->nc++] = (int)i;
    }
    free(items);
    if (!c->nc) {
        h->error(h, "no angle columns to analyse");
        return JOULE_ERROR;
    }
    /* pairs, as indices into cols */
    c->pair = malloc((c->nc + 1) * sizeof *c->pair);
    if (!c->pair) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    n = jp_split(pv[P_PAIRS].s, &items);
    if (n) {
        for (size_t i = 0; i < n; i++) {
            char *colon = strchr(items[i], ':');
            int ia = -1, ib = -1;
            if (colon) {
                *colon = '\0';
                char *b = colon + 1;
                size_t la = strlen(items[i]);
                while (la && items[i][la - 1] == ' ')
                    items[i][--la] = '\0';
                while (*b == ' ')
                    b++;
                for (uint32_t k = 0; k < c->nc; k++) {
                    if (!strcmp(in->names[c->cols[k]], items[i]))
                        ia = (int)k;
                    if (!strcmp(in->names[c->cols[k]], b))
                        ib = (int)k;
                }
            }
            if (ia < 0 || ib < 0 || c->npair >= c->nc) {
                h->error(h, "pairs: '%s' is not two analysed columns a:b", pv[P_PAIRS].s);
                free(items);
                return JOULE_ERROR;
            }
            c->pair[c->npair][0] = ia;
            c->pair[c->npair][1] = ib;
            c->npair++;
        }
    } else {
        for (uint32_t k = 0; k < c->nc; k++) {
            const char *nm = in->names[c->cols[k]];
            size_t l = strlen(nm);
            if (l < 6 || strcmp(nm + l - 5, "_ipsi"))
                continue;
            for (uint32_t j = 0; j < c->nc; j++) {
                const char *m = in->names[c->cols[j]];
                if (strlen(m) == l + 2 && !strncmp(m, nm, l - 5) && !strcmp(m + l - 5, "_contra")) {
                    c->pair[c->npair][0] = (int)k;
                    c->pair[c->npair][1] = (int)j;
                    c->npair++;
                }
            }
        }
    }
    free(items);
    size_t nc = c->nc;
    c->sum = calloc(nc, sizeof *c->sum);
    c->sum2 = calloc(nc, sizeof *c->sum2);
    c->cmin = calloc(nc, sizeof *c->cmin);
    c->cmax = calloc(nc, sizeof *c->cmax);
    c->oncol = 2 + 3 * (uint32_t)nc + c->npair + 1;
    c->sncol = 2 + 3 * (uint32_t)nc + c->npair;
    c->ounits = calloc(c->oncol, sizeof *c->ounits);
    c->sunits = calloc(c->sncol, sizeof *c->sunits);
    c->sumrow = calloc(c->sncol, sizeof *c->sumrow);
    if (!c->sum || !c->sum2 || !c->cmin || !c->cmax || !c->ounits || !c->sunits || !c->sumrow ||
        jp_names_init(&c->onames, c->oncol) || jp_names_init(&c->snames, c->sncol)) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    uint32_t k = 0;
    jp_names_set(&c->onames, k, "cycle");
    c->ounits[k++] = "";
    jp_names_set(&c->onames, k, "duration");
    c->ounits[k++] = "s";
    jp_names_set(&c->snames, 0, "cycles");
    jp_names_set(&c->snames, 1, "outliers");
    c->sunits[0] = c->sunits[1] = "";
    static const char *const stat[3] = {"rom", "mean", "sd"};
    for (int s = 0; s < 3; s++)
        for (uint32_t i = 0; i < nc; i++) {
            const char *nm = in->names[c->cols[i]];
            const char *u = in->units && in->units[c->cols[i]] ? in->units[c->cols[i]] : "";
            jp_names_set(&c->onames, k, "%s_%s", stat[s], nm);
            jp_names_set(&c->snames, k, "%s_%s", stat[s], nm);
            c->ounits[k] = c->sunits[k] = u;
            k++;
        }
    const uint32_t k_si = k;
    for (uint32_t p = 0; p < c->npair; p++) {
        const char *na = in->names[c->cols[c->pair[p][0]]], *nb = in->names[c->cols[c->pair[p][1]]];
        size_t la = strlen(na), lb = strlen(nb);
        /* si_NAME only for NAME_ipsi with NAME_contra: any other pair
         * (NAME_ipsi with something else) names both its columns */
        if (la > 5 && !strcmp(na + la - 5, "_ipsi") && lb == la + 2 && !strncmp(na, nb, la - 5) &&
            !strcmp(nb + la - 5, "_contra"))
            jp_names_set(&c->onames, k, "si_%.*s", (int)(la - 5), na);
        else
            jp_names_set(&c->onames, k, "si_%s_%s", na, nb);
        for (uint32_t j = k_si; j < k; j++)
            if (!strcmp(c->onames.v[j], c->onames.v[k])) {
                h->error(h, "pairs: two symmetry columns would be named '%s' (%s:%s): name each pair once",
                         c->onames.v[k], na, nb);
                return JOULE_ERROR;
            }
        jp_names_set(&c->snames, k, "%s", c->onames.v[k]);
        c->ounits[k] = c->sunits[k] = "";
        k++;
    }
    jp_names_set(&c->onames, k, "outlier");
    c->ounits[k] = "";
    joule_format *o = &a->outputs[0];
    o->kind = JOULE_EVENTS;
    o->n_columns = c->oncol;
    o->rate = in->rate;
    o->t0 = in->t0;
    o->names = (const char *const *)c->onames.v;
    o->units = c->ounits;
    o->out_num = 0;
    o->out_den = 1;
    joule_format *al = &a->outputs[1];
    al->kind = JOULE_EVENTS;
    al->n_columns = 4;
    al->rate = in->rate;
    al->t0 = in->t0;
    al->names = alert_names;
    al->out_num = 0;
    al->out_den = 1;
    joule_format *su = &a->outputs[2];
    su->kind = JOULE_EVENTS;
    su->n_columns = c->sncol;
    su->rate = in->rate;
    su->t0 = in->t0;
    su->names = (const char *const *)c->snames.v;
    su->units = c->sunits;
    su->length = 1;
    su->out_num = 0;
    su->out_den = 1;
    return JOULE_OK;
}

/* ------------------------------------------------------------------------ */
/* Accumulation                                                              */

static void begin_cycle(cycles *c, double t)
{
    c->in_cycle = 1;
    c->cstart = t;
    c->crows = 0;
    for (uint32_t i = 0; i < c->nc; i++) {
        c->sum[i] = c->sum2[i] = 0;
        c->cmin[i] = INFINITY;
        c->cmax[i] = -INFINITY;
    }
}

/* The cycle in progress ends at time t. Returns -1 when out of memory. */
static int end_cycle(cycles *c, double t)
{
    if (!c->in_cycle || c->crows < 2)
        return 0;
    const size_t nc = c->nc;
    size_t old = c->cycap;
    if (jp_grow((void **)&c->cy, &c->cycap, c->ncy + 1, sizeof *c->cy))
        return -1;
    if (c->cycap != old) {
        float *b = realloc(c->cyblk, c->cycap * 5 * nc * sizeof *b);
        if (!b)
            return -1;
        c->cyblk = b;
        for (size_t k = 0; k < c->ncy; k++) {
            float *base = b + k * 5 * nc;
            c->cy[k].rom = base;
            c->cy[k].mean = base + nc;
            c->cy[k].sd = base + 2 * nc;
            c->cy[k].mn = base + 3 * nc;
            c->cy[k].mx = base + 4 * nc;
        }
    }
    cyc *y = &c->cy[c->ncy];
    float *base = c->cyblk + c->ncy * 5 * nc;
    y->rom = base;
    y->mean = base + nc;
    y->sd = base + 2 * nc;
    y->mn = base + 3 * nc;
    y->mx = base + 4 * nc;
    y->start = c->cstart;
    y->dur = t - c->cstart;
    double n = (double)c->crows;
    for (size_t i = 0; i < nc; i++) {
        double m = c->sum[i] / n, v = (c->sum2[i] - n * m * m) / (n - 1);
        y->rom[i] = c->cmax[i] - c->cmin[i];
        y->mean[i] = (float)m;
        y->sd[i] = (float)sqrt(v > 0 ? v : 0);
        y->mn[i] = c->cmin[i];
        y->mx[i] = c->cmax[i];
    }
    c->ncy++;
    c->in_cycle = 0;
    return 0;
}

static void add_row(cycles *c, const float *row)
{
    c->crows++;
    for (uint32_t i = 0; i < c->nc; i++) {
        double v = row[c->cols[i]];
        c->sum[i] += v;
        c->sum2[i] += v * v;
        if (row[c->cols[i]] < c->cmin[i])
            c->cmin[i] = row[c->cols[i]];
        if (row[c->cols[i]] > c->cmax[i])
            c->cmax[i] = row[c->cols[i]];
    }
}

/* Signal row `idx` (time t), once the boundaries up to t are known. */
static int take_row(cycles *c, uint64_t idx, const float *row)
{
    double t = c->t0 + (double)idx / c->fs;
    if (c->mode == 0) {
        while (c->evpos < c->nev && c->ev[c->evpos] <= t) {
            if (end_cycle(c, c->ev[c->evpos]))
                return -1;
            begin_cycle(c, c->ev[c->evpos]);
            c->evpos++;
        }
        if (c->in_cycle)
            add_row(c, row);
        return 0;
    }
    float s = row[c->seg_col];
    int boundary = c->have_prev && (c->mode == 1 ? s < c->prev_seg : s != c->prev_seg);
    c->prev_seg = s;
    c->have_prev = 1;
    if (boundary) {
        if (end_cycle(c, t))
            return -1;
        begin_cycle(c, t);
    }
    if (c->in_cycle)
        add_row(c, row);
    return 0;
}

/* Events mode: take the kept rows whose cycle is known. */
static int drain(cycles *c, int all)
{
    double known = c->nev ? c->ev[c->nev - 1] : -INFINITY;
    while (c->npend) {
        double t = c->t0 + (double)c->pend_first / c->fs;
        if (!all && !(t < known))
            break;
        if (take_row(c, c->pend_first, c->pend + c->pend_head * c->in_nc))
            return -1;
        c->pend_head++;
        c->pend_first++;
        c->npend--;
    }
    if (!c->npend)
        c->pend_head = 0;
    return 0;
}

static int cycles_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)out;
    cycles *c = self;
    if (port == 1) {
        if (jp_grow((void **)&c->ev, &c->evcap, c->nev + in->n_rows, sizeof *c->ev))
            goto oom;
        for (uint32_t r = 0; r < in->n_rows; r++)
            c->ev[c->nev++] = in->times[r];
        if (drain(c, 0))
            goto oom;
        return JOULE_OK;
    }
    if (c->mode != 0) {
        for (uint32_t r = 0; r < in->n_rows; r++)
            if (take_row(c, c->row_index++, in->data + (size_t)r * in->n_columns))
                goto oom;
        return JOULE_OK;
    }
    /* events mode: rows go through the queue (in order) */
    if (c->pend_head && (c->pend_head + c->npend + in->n_rows) * c->in_nc > c->pendcap) {
        memmove(c->pend, c->pend + c->pend_head * c->in_nc, c->npend * c->in_nc * sizeof *c->pend);
        c->pend_head = 0;
    }
    size_t cap_rows = c->pendcap;
    if (jp_grow((void **)&c->pend, &cap_rows, (c->pend_head + c->npend + in->n_rows) * c->in_nc, sizeof *c->pend))
        goto oom;
    c->pendcap = cap_rows;
    if (!c->npend)
        c->pend_first = c->row_index;
    if (in->n_rows) /* an empty call may come before anything was queued */
        memcpy(c->pend + (c->pend_head + c->npend) * c->in_nc, in->data,
               (size_t)in->n_rows * c->in_nc * sizeof(float));
    c->npend += in->n_rows;
    c->row_index += in->n_rows;
    if (drain(c, 0))
        goto oom;
    return JOULE_OK;
oom:
    c->host->error(c->host, "out of memory");
    return JOULE_ERROR;
}

/* ------------------------------------------------------------------------ */
/* Validation and output                                                     */

static int cmpf(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Quartiles by linear interpolation (numpy's default). */
static void quartiles(double *v, size_t n, double *q1, double *q3)
{
    qsort(v, n, sizeof *v, cmpf);
    double p1 = 0.25 * (double)(n - 1), p3 = 0.75 * (double)(n - 1);
    size_t i1 = (size_t)p1, i3 = (size_t)p3;
    *q1 = v[i1] + (i1 + 1 < n ? (v[i1 + 1] - v[i1]) * (p1 - (double)i1) : 0);
    *q3 = v[i3] + (i3 + 1 < n ? (v[i3 + 1] - v[i3]) * (p3 - (double)i3) : 0);
}

static double si(double a, double b)
{
    double d = 0.5 * (fabs(a) + fabs(b));
    return d > 0 ? fabs(a - b) / d : 0.0;
}

static int add_alert(cycles *c, double t, size_t cycle, int code, int col, double v)
{
    if (jp_grow((void **)&c->alerts, &c->alcap, (c->nal + 1) * 4, sizeof *c->alerts))
        return -1;
    size_t cap = c->alcap / 4;
    double *tt = realloc(c->atimes, (cap ? cap : 1) * sizeof *tt);
    if (!tt)
        return -1;
    c->atimes = tt;
    float *a = c->alerts + c->nal * 4;
    a[0] = (float)cycle;
    a[1] = (float)code;
    a[2] = (float)col;
    a[3] = (float)v;
    c->atimes[c->nal++] = t;
    return 0;
}

static int validate(cycles *c)
{
    size_t n = c->ncy, nc = c->nc;
    c->outlier = calloc(n ? n : 1, 1);
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!c->outlier || !v) {
        free(v);
        return -1;
    }
    if (n >= 4) {
        for (size_t test = 0; test < 2 * nc + 1; test++) {
            for (size_t k = 0; k < n; k++)
                v[k] = test == 2 * nc ? c->cy[k].dur : test < nc ? c->cy[k].rom[test] : c->cy[k].mean[test - nc];
            double q1, q3;
            quartiles(v, n, &q1, &q3);
            double iqr = q3 - q1, floor_iqr = test == 2 * nc ? 2.0 / c->fs : c->min_spread;
            if (iqr < floor_iqr)
                iqr = floor_iqr;
            double lo = q1 - c->iqr_k * iqr, hi = q3 + c->iqr_k * iqr;
            for (size_t k = 0; k < n; k++) {
                double x = test == 2 * nc ? c->cy[k].dur : test < nc ? c->cy[k].rom[test] : c->cy[k].mean[test - nc];
                if (x < lo || x > hi)
                    c->outlier[k] = 1;
            }
        }
    }
    free(v);
    /* alerts, in cycle order */
    for (size_t k = 0; k < n; k++) {
        const cyc *y = &c->cy[k];
        for (size_t i = 0; i < nc; i++) {
            if (c->min_rom > 0 && y->rom[i] < c->min_rom && add_alert(c, y->start, k + 1, 1, (int)c->cols[i] + 1, y->rom[i]))
                return -1;
            if (c->has_range && y->mn[i] < c->lo && add_alert(c, y->start, k + 1, 2, (int)c->cols[i] + 1, y->mn[i]))
                return -1;
            if (c->has_range && y->mx[i] > c->hi && add_alert(c, y->start, k + 1, 3, (int)c->cols[i] + 1, y->mx[i]))
                return -1;
        }
        if (c->outlier[k] && add_alert(c, y->start, k + 1, 4, 0, y->dur))
            return -1;
    }
    /* summary over valid cycles */
    float *s = c->sumrow;
    size_t nv = 0, no = 0;
    for (size_t k = 0; k < n; k++)
        no += c->outlier[k];
    nv = n - no;
    s[0] = (float)n;
    s[1] = (float)no;
    for (size_t i = 0; i < nc; i++) {
        double r = 0, m = 0, d = 0;
        for (size_t k = 0; k < n; k++)
            if (!c->outlier[k]) {
                r += c->cy[k].rom[i];
                m += c->cy[k].mean[i];
                d += c->cy[k].sd[i];
            }
        s[2 + i] = nv ? (float)(r / nv) : NAN;
        s[2 + nc + i] = nv ? (float)(m / nv) : NAN;
        s[2 + 2 * nc + i] = nv ? (float)(d / nv) : NAN;
    }
    for (uint32_t p = 0; p < c->npair; p++)
        s[2 + 3 * nc + p] = nv ? (float)si(s[2 + c->pair[p][0]], s[2 + c->pair[p][1]]) : NAN;
    return 0;
}

static int cycles_finish(void *self, joule_buffer *out)
{
    cycles *c = self;
    if (!c->done) {
        c->done = 1;
        if (c->mode == 0 && drain(c, 1))
            goto oom;
        /* the cycle in progress has no end: dropped */
        c->in_cycle = 0;
        if (validate(c))
            goto oom;
    }
    const size_t nc = c->nc;
    uint32_t n = 0;
    while (c->e_out < c->ncy && n < out[0].capacity) {
        const cyc *y = &c->cy[c->e_out];
        float *row = out[0].data + (size_t)n * c->oncol;
        row[0] = (float)(c->e_out + 1);
        row[1] = (float)y->dur;
        for (size_t i = 0; i < nc; i++) {
            row[2 + i] = y->rom[i];
            row[2 + nc + i] = y->mean[i];
            row[2 + 2 * nc + i] = y->sd[i];
        }
        for (uint32_t p = 0; p < c->npair; p++)
            row[2 + 3 * nc + p] = (float)si(y->rom[c->pair[p][0]], y->rom[c->pair[p][1]]);
        row[c->oncol - 1] = c->outlier[c->e_out];
        out[0].times[n] = y->start;
        n++;
        c->e_out++;
    }
    out[0].n_rows = n;
    n = 0;
    while (c->e_al < c->nal && n < out[1].capacity) {
        memcpy(out[1].data + (size_t)n * 4, c->alerts + c->e_al * 4, 4 * sizeof(float));
        out[1].times[n] = c->atimes[c->e_al];
        n++;
        c->e_al++;
    }
    out[1].n_rows = n;
    out[2].n_rows = 0;
    if (!c->e_sum && out[2].capacity) {
        memcpy(out[2].data, c->sumrow, c->sncol * sizeof(float));
        out[2].times[0] = c->ncy ? c->cy[0].start : c->t0;
        out[2].n_rows = 1;
        c->e_sum = 1;
    }
    return c->e_out < c->ncy || c->e_al < c->nal || !c->e_sum ? JOULE_OK : JOULE_END;
oom:
    c->host->error(c->host, "out of memory");
    return JOULE_ERROR;
}

static void cycles_close(void *self)
{
    cycles *c = self;
    if (!c)
        return;
    free(c->cols);
    free(c->pair);
    free(c->sum);
    free(c->sum2);
    free(c->cmin);
    free(c->cmax);
    free(c->ev);
    free(c->pend);
    free(c->cy);
    free(c->cyblk);
    jp_names_free(&c->onames);
    jp_names_free(&c->snames);
    free(c->ounits);
    free(c->sunits);
    free(c->outlier);
    free(c->alerts);
    free(c->atimes);
    free(c->sumrow);
    free(c);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "cycles",
    .version = "1.0.0",
    .summary = "joint-angle gait cycles: ROM, mean, SD, ipsi/contra symmetry, IQR outlier cycles, alerts",
    .role = JOULE_ROLE_FILTER,
    .n_params = N_PARAMS,
    .params = params,
    .n_inputs = 2,
    .inputs = inputs,
    .n_outputs = 3,
    .outputs = outputs,
    .open = cycles_open,
    .process = cycles_process,
    .finish = cycles_finish,
    .close = cycles_close,
    .check = cycles_check,
    /* The per-cycle values are kept for the summary's quartiles and
     * symmetry, and heel strikes and rows wait for their cycle to end:
     * memory grows with the input, a doubling array at a time. */
    .flags = JOULE_DESC_ALLOCATES,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Cuts joint-angle signals (degrees) into gait cycles, at heel strikes given as events, or where a "
                   "phase column wraps or a cycle counter changes, and reports per cycle the range of motion, mean "
                   "and SD per angle, ipsilateral/contralateral symmetry, cycles that are outliers by the IQR "
                   "rule, and alerts (a ROM under a minimum, values outside a given range); a summary over the "
                   "valid cycles ends the stream.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
