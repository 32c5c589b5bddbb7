/* filter.c — Butterworth low-pass, high-pass and band-pass filters, per
 * column, as cascades of biquad sections in double precision.
 *
 * Design: the bilinear transform with the cut-off prewarped, so the
 * magnitude at the cut-off is exactly 1/sqrt(2) (-3.01 dB) whatever the
 * rate. Order 2 is one section (Q = 0.7071); order 4 two sections with the
 * Butterworth pole pairs (Q = 0.5412 and 1.3066). The coefficients are the
 * RBJ "audio EQ cookbook" ones for those Q, which is the same design. A
 * band-pass is the cascade of a high-pass at `low` and a low-pass at `high`,
 * each of the given order (so the response at an edge is -3 dB only when
 * the edges are far apart).
 *
 * Each section runs in transposed direct form II; its state is carried
 * across calls, so the output does not depend on how the input is chunked.
 * The output is declared in place (JOULE_FORMAT_IN_PLACE): each section
 * reads a sample before it writes it back, so the filter works on the
 * input chunk itself when the host hands it over (out.data == in.data).
 *
 * Group delay (low-pass, at DC): sum over sections of 1 / (Q · 2π · fc),
 * i.e. about 0.225 / fc seconds for order 2 and 0.416 / fc for order 4
 * (75 ms and 139 ms at 3 Hz). It is not compensated: a causal filter
 * delays. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_choices[] = {"lowpass", "highpass", "bandpass", NULL};
enum { T_LP, T_HP, T_BP };
enum { P_TYPE, P_CUTOFF, P_LOW, P_HIGH, P_ORDER, P_COLUMNS, N_PARAMS };

static const joule_param params[] = {
    {"type", JOULE_PARAM_ENUM, 0, "lowpass", 0, 0, type_choices, "",
     "lowpass, highpass or bandpass (a high-pass at `low` then a low-pass at `high`)."},
    {"cutoff", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "3", 1e-6, 1e9, NULL, "Hz",
     "Cut-off (-3 dB) of the low-pass or high-pass. Low-pass group delay at DC: about 0.225/cutoff s for order 2, "
     "0.416/cutoff s for order 4 (75 ms or 139 ms at 3 Hz)."},
    {"low", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.5", 1e-6, 1e9, NULL, "Hz",
     "Band-pass: lower edge (the high-pass cut-off)."},
    {"high", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "3", 1e-6, 1e9, NULL, "Hz",
     "Band-pass: upper edge (the low-pass cut-off)."},
    {"order", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "2", 2, 4, NULL, "",
     "Filter order: 2 (one biquad, 12 dB/octave) or 4 (two biquads, 24 dB/octave)."},
    {"columns", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Columns to filter (default all); the others pass through unchanged."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "any signal"},
};
static const joule_port outputs[] = {
    {"out", JOULE_SIGNAL, 0, "the same columns, filtered"},
};

typedef struct biquad {
    double b0, b1, b2, a1, a2; /* normalised: a0 = 1 */
} biquad;

typedef struct filt {
    const joule_host *host;
    uint32_t nc;
    int nsec;
    biquad sec[4];
    uint8_t *on;   /* per column: filtered? */
    double *z;     /* per column, per section: z1, z2 */
} filt;

static int filter_check(const joule_value *p, char *msg, size_t cap)
{
    if (p[P_ORDER].i != 2 && p[P_ORDER].i != 4) {
        snprintf(msg, cap, "order must be 2 or 4, not %lld", (long long)p[P_ORDER].i);
        return 1;
    }
    if (p[P_TYPE].e == T_BP && !(p[P_LOW].f < p[P_HIGH].f)) {
        snprintf(msg, cap, "bandpass: low (%g Hz) must be below high (%g Hz)", p[P_LOW].f, p[P_HIGH].f);
        return 1;
    }
    return 0;
}

/* Append the sections of a Butterworth low- or high-pass. */
static void design(filt *f, int hp, int order, double fc, double fs)
{
    double w0 = 2.0 * M_PI * fc / fs, cw = cos(w0), sw = sin(w0);
    for (int k = 1; k <= order / 2; k++) {
        double q = 1.0 / (2.0 * cos((2 * k - 1) * M_PI / (2.0 * order)));
        double al = sw / (2.0 * q), a0 = 1.0 + al;
        biquad *b = &f->sec[f->nsec++];
        if (hp) {
            b->b0 = (1.0 + cw) / 2.0 / a0;
            b->b1 = -(1.0 + cw) / a0;
        } else {
            b->b0 = (1.0 - cw) / 2.0 / a0;
            b->b1 = (1.0 - cw) / a0;
        }
        b->b2 = b->b0;
        b->a1 = -2.0 * cw / a0;
        b->a2 = (1.0 - al) / a0;
    }
}

static int filter_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    const joule_value *pv = a->params;
    filt *f = calloc(1, sizeof *f);
    if (!f) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = f;
    f->host = h;
    const joule_format *in = &a->inputs[0];
    f->nc = in->n_columns;
    double fs = in->rate, ny = fs / 2;
    int order = (int)pv[P_ORDER].i;
    uint32_t type = pv[P_TYPE].e;
    double lo = type == T_BP ? pv[P_LOW].f : pv[P_CUTOFF].f, hi = type == T_BP ? pv[P_HIGH].f : pv[P_CUTOFF].f;
    if (hi >= ny || lo >= ny) {
        h->error(h, "%s %g Hz is not below the Nyquist frequency (%g Hz at rate %g Hz)",
                 type == T_BP ? "the band edge" : "cutoff", hi, ny, fs);
        return JOULE_ERROR;
    }
    if (type == T_LP)
        design(f, 0, order, hi, fs);
    else if (type == T_HP)
        design(f, 1, order, lo, fs);
    else {
        design(f, 1, order, lo, fs);
        design(f, 0, order, hi, fs);
    }
    if (type == T_LP)
        h->log(h, JOULE_LOG_INFO, "group delay at DC %.4g s", (order == 2 ? 1.41421356 : 2.61312593) / (2 * M_PI * hi));
    f->on = calloc(f->nc, 1);
    f->z = calloc((size_t)f->nc * (size_t)f->nsec * 2, sizeof *f->z);
    if (!f->on || !f->z) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    char **cols;
    size_t n = jp_split(pv[P_COLUMNS].s, &cols);
    if (!n) {
        memset(f->on, 1, f->nc);
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t c;
            for (c = 0; c < f->nc; c++)
                if (!strcmp(in->names[c], cols[i]))
                    break;
            if (c == f->nc) {
                h->error(h, "columns: the input has no column '%s'", cols[i]);
                free(cols);
                return JOULE_ERROR;
            }
            f->on[c] = 1;
        }
    }
    free(cols);
    /* the input's format, but not its flags: they describe the upstream
     * node's output, not this one's */
    joule_format *o = &a->outputs[0];
    o->kind = in->kind;
    o->n_columns = in->n_columns;
    o->rate = in->rate;
    o->t0 = in->t0;
    o->names = in->names;
    o->units = in->units;
    o->length = in->length;
    o->out_num = 1;
    o->out_den = 1;
    o->flags = JOULE_FORMAT_IN_PLACE;
    return JOULE_OK;
}

static int filter_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    filt *f = self;
    const uint32_t nc = f->nc, n = in->n_rows;
    const int ns = f->nsec;
    if (out[0].data != in->data) /* else in place: the host passed the input itself */
        memcpy(out[0].data, in->data, (size_t)n * nc * sizeof(float));
    for (uint32_t c = 0; c < nc; c++) {
        if (!f->on[c])
            continue;
        double *z = f->z + (size_t)c * ns * 2;
        for (int k = 0; k < ns; k++) {
            const biquad b = f->sec[k];
            double z1 = z[2 * k], z2 = z[2 * k + 1];
            float *p = out[0].data + c;
            for (uint32_t r = 0; r < n; r++, p += nc) {
                double x = *p, y = b.b0 * x + z1;
                z1 = b.b1 * x - b.a1 * y + z2;
                z2 = b.b2 * x - b.a2 * y;
                *p = (float)y;
            }
            z[2 * k] = z1;
            z[2 * k + 1] = z2;
        }
    }
    out[0].n_rows = n;
    return JOULE_OK;
}

static void filter_close(void *self)
{
    filt *f = self;
    if (!f)
        return;
    free(f->on);
    free(f->z);
    free(f);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "filter",
    .version = "1.0.0",
    .summary = "Butterworth low-pass, high-pass, band-pass (order 2 or 4, biquads in double), per column",
    .role = JOULE_ROLE_FILTER,
    .n_params = N_PARAMS,
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = filter_open,
    .process = filter_process,
    .close = filter_close,
    .check = filter_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Butterworth low-pass, high-pass and band-pass filters of order 2 or 4 for every column of a "
                   "signal, as cascaded biquads computed in double precision. One row out per row in: the host may "
                   "run it in place, without a copy.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
