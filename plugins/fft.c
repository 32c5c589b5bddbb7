/* fft.c — short-time Fourier transform: one row of bin magnitudes (or
 * powers, or dB) per analysis frame, on FFTW3 single precision.
 *
 * Framing: frame k covers input rows [k·hop, k·hop + frame), complete frames
 * only; its time is its start. The last `frame` rows are kept in a ring
 * (after the optional mono mix-down), so a frame is assembled from the same
 * samples in the same order however the input was chunked: the output does
 * not depend on chunking or threads.
 *
 * Transform: the frame is multiplied by a periodic window w (hann, hamming,
 * blackman, or rect = 1), zero-padded to N = `size` points (N >= frame) and
 * transformed with an unnormalised real-to-complex DFT
 *     X_k = Σ_{n<frame} w_n x_n e^{-2πi kn/N},  k = 0 .. N/2 (floor),
 * so Parseval reads Σ_{k<N} |X_k|² = N · Σ_n (w_n x_n)² over the full
 * two-sided spectrum. A sine of amplitude A at a bin centre reads
 * |X_k| = A · Σw / 2 (A·frame/4 for hann).
 *
 * Output format, the contract the `spectral` plugin parses:
 *   - one column per bin k = 0 .. N/2, named "f_<Hz>" where <Hz> is the
 *     bin's centre frequency k · rate / N, printed with the fewest digits
 *     (at least 10) that read back as the same double ("f_0",
 *     "f_43.06640625", "f_132.3", "f_22050"); with mix = channels the
 *     columns of each input channel follow each other, named
 *     "f_<Hz>_<channel>" ("f_43.06640625_ch1"), channel by channel;
 *   - the values are the unnormalised |X_k| (magnitude), |X_k|² (power) or
 *     10·log10 |X_k|² (db; -inf for |X_k|² below 1e-20: silence, as in every
 *     joule plugin), and the unit
 *     of every column says how they read as the bin's power in the input's
 *     unit U: "U/<r>" (magnitude), "U^2/<S>" (power) or "dB re U^2/<S>"
 *     (db), with S = r² the number that |X_k|² is divided by to give the
 *     bin's share P_k of the frame's mean square,
 *         P_k = 2|X_k|² / (N·Σw²)  for 0 < k < N/2,
 *         P_k =  |X_k|² / (N·Σw²)  for k = 0 and k = N/2 (N even),
 *     so that Σ_k P_k = Σ(w_n x_n)² / Σw² (Parseval, one-sided): the
 *     mean square of the frame weighted by w², whatever the window, frame
 *     and zero padding. A sine of RMS level a puts a² into the bins of its
 *     main lobe (PSD·Δf in scipy's terms). U is the input column's unit
 *     ("FS" from the sndfile source), "(U)" when it holds / ^ * ( ) or a
 *     space, "1" when it has none (with mix = mono: the channels' common
 *     unit, or "1" when they differ). Example: Hann, frame = size = 1024,
 *     audio: "FS/443.4050067", "FS^2/196608" or "dB re FS^2/196608"
 *     (DC and Nyquist: S = 393216). The spectral plugin reads these units
 *     to calibrate its band levels;
 *   - rate = input rate / hop, t0 = input t0.
 *
 * FFTW: the planner is not thread-safe, only fftwf_execute* is. Plans are
 * made once per instance in open and destroyed in close, both under the
 * host's process-wide lock "fftw-planner"; frames are transformed with the
 * new-array fftwf_execute_dft_r2c on the instance's own fftwf_malloc'd
 * (SIMD-aligned) buffers. Plans use FFTW_ESTIMATE, which is deterministic.
 * With `wisdom` set, the wisdom file is imported, the plan is made with
 * FFTW_MEASURE (instant when the wisdom already holds this size) and the
 * wisdom is written back atomically when it grew — all under the lock.
 * Measured plans can differ between machines or wisdom files, and so can
 * the last bits of the results. The module is linked with -z nodelete:
 * FFTW's planner and wisdom are process-wide and live until exit, so the
 * library stays loaded even when the host unloads the plugin. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <fftw3.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_DB (-INFINITY) /* silence: doc/graph-format.md */
#define FLOOR_POW 1e-20
#define MAX_COLUMNS (1u << 20) /* the host's limit on a stream's columns */
#define PLANNER_LOCK "fftw-planner"

enum { W_HANN, W_HAMMING, W_BLACKMAN, W_RECT };
enum { MIX_MONO, MIX_CHANNELS };
enum { S_MAGNITUDE, S_POWER, S_DB };
enum { P_FRAME, P_HOP, P_WINDOW, P_SIZE, P_MIX, P_SCALE, P_WISDOM };

static const char *const window_choices[] = {"hann", "hamming", "blackman", "rect", NULL};
static const char *const mix_choices[] = {"mono", "channels", NULL};
static const char *const scale_choices[] = {"magnitude", "power", "db", NULL};

static const joule_param params[] = {
    {"frame", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1024", 2, 1 << 20, NULL, "rows",
     "Frame length: the samples each transform covers (frame k starts at row k*hop)."},
    {"hop", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "512", 1, 1 << 24, NULL, "rows",
     "Rows between the starts of consecutive frames; the output rate is the input rate / hop."},
    {"window", JOULE_PARAM_ENUM, 0, "hann", 0, 0, window_choices, "",
     "Window applied to the frame: periodic hann, hamming or blackman (period = frame, w[0] = minimum, "
     "as used for spectral analysis; not the symmetric filter-design form), or rect (no window)."},
    {"size", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0", 0, 1 << 21, NULL, "points",
     "Transform length N >= frame: the frame is zero-padded to N points, giving N/2+1 bins spaced rate/N "
     "apart. 0 means N = frame."},
    {"mix", JOULE_PARAM_ENUM, 0, "mono", 0, 0, mix_choices, "",
     "mono: transform the mean of all channels (columns f_<Hz>); channels: transform every channel "
     "(columns f_<Hz>_<channel>, channel after channel)."},
    {"scale", JOULE_PARAM_ENUM, 0, "magnitude", 0, 0, scale_choices, "",
     "Output per bin, of the unnormalised DFT X_k: magnitude |X_k|, power |X_k|^2 or db = 10*log10 |X_k|^2 "
     "(-inf for silence). The columns' units say how to read them as the bin's power P_k = |X_k|^2 / S in the "
     "input's unit (FS for audio): FS/sqrt(S), FS^2/S or dB re FS^2/S, with S = N*sum(w^2)/2 (N*sum(w^2) "
     "for DC and Nyquist), so that the bins sum to the frame's mean square."},
    /* NO_KEY: how the transform is planned, not what it computes (a
     * measured plan may differ from an estimated one in the last bits of a
     * float, far below what any feature downstream resolves) */
    {"wisdom", JOULE_PARAM_STRING, JOULE_PARAM_NO_KEY, "", 0, 0, NULL, "",
     "FFTW wisdom file: when set, it is imported, plans are measured (FFTW_MEASURE) and new wisdom is "
     "saved back to it. Empty (the default): FFTW_ESTIMATE plans, no file. Not part of the stage cache's "
     "keys."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "a signal: audio channels or sensor columns"},
};
static const joule_port outputs[] = {
    {"out", JOULE_FRAMES, 0,
     "one row per frame: N/2+1 bins named f_<Hz> (f_<Hz>_<channel> with mix = channels), units FS/<r>, "
     "FS^2/<S> or dB re FS^2/<S> (the input's unit for FS)"},
};

typedef struct fft {
    const joule_host *host;
    uint32_t nch;     /* input channels */
    uint32_t ngrp;    /* transforms per frame: 1 (mono) or nch */
    uint32_t frame, hop, size, nbins;
    int mono, scale;
    float *ring;      /* the last `frame` rows, frame × ngrp, slot = row % frame */
    float *win;       /* frame weights */
    float *in;        /* fftwf_malloc'd: size points */
    fftwf_complex *out; /* fftwf_malloc'd: nbins */
    fftwf_plan plan;
    uint64_t rows;    /* rows seen */
    uint64_t next_end; /* row count at which the next frame completes */
    jp_names names;
    jp_names unit_text; /* per group: interior bins' unit, DC/Nyquist's */
    const char **units;
} fft;

static int fft_check(const joule_value *p, char *msg, size_t n)
{
    int64_t frame = p[P_FRAME].i, size = p[P_SIZE].i;
    if (size != 0 && size < frame) {
        snprintf(msg, n, "size (%lld) must be 0 or at least frame (%lld): it is the zero-padded transform length",
                 (long long)size, (long long)frame);
        return 1;
    }
    return 0;
}

static void make_window(float *w, uint32_t n, int kind)
{
    /* periodic: period n, so that w[0] is the minimum and w[n/2] the peak */
    for (uint32_t i = 0; i < n; i++) {
        double x = 2.0 * M_PI * i / n;
        double v;
        switch (kind) {
        case W_HANN: v = 0.5 - 0.5 * cos(x); break;
        case W_HAMMING: v = 0.54 - 0.46 * cos(x); break;
        case W_BLACKMAN: v = 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x); break;
        default: v = 1.0; break;
        }
        w[i] = (float)v;
    }
}

/* The unit of channel (group) g of the input: its column's unit, or with
 * a mono mix the unit all channels share; "" when there is none. */
static const char *input_unit(const joule_format *in, uint32_t g, int mono)
{
    if (!in->units)
        return "";
    if (!mono)
        return in->units[g] ? in->units[g] : "";
    const char *u = in->units[0] ? in->units[0] : "";
    for (uint32_t c = 1; c < in->n_columns; c++)
        if (strcmp(in->units[c] ? in->units[c] : "", u))
            return "";
    return u;
}

/* Set unit text i: the bin's values read as power |X|² / S in unit U (see
 * the top of the file). 0 or -1 (no memory). */
static int set_unit(jp_names *nm, size_t i, int scale, const char *u, double S)
{
    /* a compound unit is bracketed so that "^2" and "/S" apply to all of it
     * and the text parses back unambiguously */
    const int plain = *u && !strpbrk(u, "/^*() ");
    const char *l = plain || !*u ? "" : "(", *r = plain || !*u ? "" : ")";
    if (!*u)
        u = "1";
    switch (scale) {
    case S_MAGNITUDE: return jp_names_set(nm, i, "%s%s%s/%.10g", l, u, r, sqrt(S));
    case S_POWER: return jp_names_set(nm, i, "%s%s%s^2/%.10g", l, u, r, S);
    default: return jp_names_set(nm, i, "dB re %s%s%s^2/%.10g", l, u, r, S);
    }
}

/* The shortest %g text (at least 10 digits) that reads back as exactly
 * `hz`: "43.06640625", "132.3", "22050". */
static void format_hz(char *buf, size_t n, double hz)
{
    for (int digits = 10; digits <= 17; digits++) {
        snprintf(buf, n, "%.*g", digits, hz);
        if (strtod(buf, NULL) == hz)
            return;
    }
}

/* Save the planner's wisdom to `path` atomically (temporary file, rename).
 * Planner lock held. A failure is only a warning: wisdom is an
 * optimisation. */
static void save_wisdom(const joule_host *h, const char *path)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return;
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        h->log(h, JOULE_LOG_WARN, "wisdom %s: cannot write: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return;
    }
    fchmod(fd, 0666 & ~jp_umask());
    fftwf_export_wisdom_to_file(f);
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        h->log(h, JOULE_LOG_WARN, "wisdom %s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
}

/* Make the plan (planner lock held). Returns NULL on failure. */
static fftwf_plan make_plan(fft *s, const char *wisdom)
{
    const joule_host *h = s->host;
    int n = (int)s->size;
    if (!*wisdom)
        return fftwf_plan_dft_r2c_1d(n, s->in, s->out, FFTW_ESTIMATE);
    if (access(wisdom, F_OK) == 0 && !fftwf_import_wisdom_from_filename(wisdom))
        h->log(h, JOULE_LOG_WARN, "wisdom %s: not an FFTW wisdom file (ignored, and rewritten)", wisdom);
    fftwf_plan p = fftwf_plan_dft_r2c_1d(n, s->in, s->out, FFTW_MEASURE | FFTW_WISDOM_ONLY);
    if (p)
        return p;
    /* not in the wisdom yet: measure (this overwrites the buffers, which
     * hold nothing yet) and save what was learnt */
    p = fftwf_plan_dft_r2c_1d(n, s->in, s->out, FFTW_MEASURE);
    if (p)
        save_wisdom(h, wisdom);
    return p;
}

static int fft_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    fft *s = calloc(1, sizeof *s);
    if (!s) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = s;
    s->host = h;
    const joule_format *in = &a->inputs[0];
    s->nch = in->n_columns;
    s->frame = (uint32_t)a->params[P_FRAME].i;
    s->hop = (uint32_t)a->params[P_HOP].i;
    s->size = a->params[P_SIZE].i ? (uint32_t)a->params[P_SIZE].i : s->frame;
    s->mono = a->params[P_MIX].e == MIX_MONO;
    s->scale = (int)a->params[P_SCALE].e;
    s->ngrp = s->mono ? 1 : s->nch;
    s->nbins = s->size / 2 + 1;
    s->next_end = s->frame;
    uint64_t ncol = (uint64_t)s->ngrp * s->nbins;
    if (ncol > MAX_COLUMNS) {
        h->error(h, "%u channel(s) of %u bins make %llu columns, more than a stream may have (%u): "
                    "use a smaller size or mix = mono",
                 s->ngrp, s->nbins, (unsigned long long)ncol, MAX_COLUMNS);
        return JOULE_ERROR;
    }

    s->ring = calloc((size_t)s->frame * s->ngrp, sizeof *s->ring);
    s->win = malloc((size_t)s->frame * sizeof *s->win);
    s->in = fftwf_malloc((size_t)s->size * sizeof *s->in);
    s->out = fftwf_malloc((size_t)s->nbins * sizeof *s->out);
    s->units = calloc(ncol, sizeof *s->units);
    if (!s->ring || !s->win || !s->in || !s->out || !s->units || jp_names_init(&s->names, ncol)) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    make_window(s->win, s->frame, (int)a->params[P_WINDOW].e);
    memset(s->in, 0, (size_t)s->size * sizeof *s->in);

    /* the window actually applied (float weights), summed in double */
    double wss = 0;
    for (uint32_t i = 0; i < s->frame; i++)
        wss += (double)s->win[i] * s->win[i];
    const double S = (double)s->size * wss / 2; /* bins 0 < k < N/2 */
    if (jp_names_init(&s->unit_text, 2 * (size_t)s->ngrp)) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    for (uint32_t g = 0; g < s->ngrp; g++) {
        const char *u = input_unit(in, g, s->mono);
        if (set_unit(&s->unit_text, 2 * (size_t)g, s->scale, u, S) ||
            set_unit(&s->unit_text, 2 * (size_t)g + 1, s->scale, u, 2 * S)) {
            h->error(h, "out of memory");
            return JOULE_ERROR;
        }
    }
    for (uint32_t g = 0; g < s->ngrp; g++)
        for (uint32_t k = 0; k < s->nbins; k++) {
            size_t c = (size_t)g * s->nbins + k;
            char hz[32];
            format_hz(hz, sizeof hz, (double)k * in->rate / s->size);
            int bad = s->mono ? jp_names_set(&s->names, c, "f_%s", hz)
                              : jp_names_set(&s->names, c, "f_%s_%s", hz, in->names[g]);
            if (bad) {
                h->error(h, "out of memory");
                return JOULE_ERROR;
            }
            /* DC, and Nyquist when N is even, have no mirror image: their
             * power is not doubled */
            const int edge = k == 0 || 2 * k == s->size;
            s->units[c] = s->unit_text.v[2 * (size_t)g + (size_t)edge];
        }

    h->lock(h, PLANNER_LOCK);
    s->plan = make_plan(s, a->params[P_WISDOM].s);
    h->unlock(h, PLANNER_LOCK);
    if (!s->plan) {
        h->error(h, "FFTW could not plan a real transform of %u points", s->size);
        return JOULE_ERROR;
    }

    joule_format *o = &a->outputs[0];
    o->kind = JOULE_FRAMES;
    o->n_columns = (uint32_t)ncol;
    o->rate = in->rate / s->hop;
    o->t0 = in->t0;
    o->names = (const char *const *)s->names.v;
    o->units = s->units;
    o->length = in->length >= s->frame ? (in->length - s->frame) / s->hop + 1 : 0;
    o->out_num = 1; /* a frame completes every `hop` rows */
    o->out_den = s->hop;
    return JOULE_OK;
}

/* Transform the frame that ends at row s->rows into `row`. */
static void emit_frame(fft *s, float *row)
{
    const uint32_t frame = s->frame, ngrp = s->ngrp, nbins = s->nbins;
    /* the oldest row of the frame sits at slot rows % frame */
    const uint32_t start = (uint32_t)(s->rows % frame);
    for (uint32_t g = 0; g < ngrp; g++) {
        const float *ring = s->ring + g;
        uint32_t i = 0;
        for (uint32_t slot = start; slot < frame; slot++, i++)
            s->in[i] = s->win[i] * ring[(size_t)slot * ngrp];
        for (uint32_t slot = 0; slot < start; slot++, i++)
            s->in[i] = s->win[i] * ring[(size_t)slot * ngrp];
        fftwf_execute_dft_r2c(s->plan, s->in, s->out);
        float *dst = row + (size_t)g * nbins;
        for (uint32_t k = 0; k < nbins; k++) {
            double re = s->out[k][0], im = s->out[k][1];
            double p = re * re + im * im;
            double v;
            switch (s->scale) {
            case S_MAGNITUDE: v = sqrt(p); break;
            case S_POWER: v = p; break;
            default: v = p < FLOOR_POW ? FLOOR_DB : 10.0 * log10(p); break;
            }
            dst[k] = (float)v;
        }
    }
}

static int fft_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    fft *s = self;
    const uint32_t nch = s->nch, ngrp = s->ngrp;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        const float *x = in->data + (size_t)r * nch;
        float *slot = s->ring + (size_t)(s->rows % s->frame) * ngrp;
        if (s->mono) {
            double sum = 0;
            for (uint32_t c = 0; c < nch; c++)
                sum += x[c];
            slot[0] = (float)(sum / nch);
        } else {
            memcpy(slot, x, (size_t)nch * sizeof *x);
        }
        s->rows++;
        if (s->rows != s->next_end)
            continue;
        s->next_end += s->hop;
        emit_frame(s, out[0].data + (size_t)out[0].n_rows * out[0].n_columns);
        out[0].n_rows++;
    }
    return JOULE_OK;
}

static void fft_close(void *self)
{
    fft *s = self;
    if (!s)
        return;
    if (s->plan) {
        s->host->lock(s->host, PLANNER_LOCK);
        fftwf_destroy_plan(s->plan);
        s->host->unlock(s->host, PLANNER_LOCK);
    }
    fftwf_free(s->in);
    fftwf_free(s->out);
    free(s->ring);
    free(s->win);
    free(s->units);
    jp_names_free(&s->names);
    jp_names_free(&s->unit_text);
    free(s);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "fft",
    .version = "1.1.0",
    .summary = "short-time Fourier transform (FFTW3f): magnitude, power or dB per bin, columns f_<Hz>, units "
               "calibrated to the frame's mean square",
    .role = JOULE_ROLE_FILTER,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = fft_open,
    .process = fft_process,
    .close = fft_close,
    .check = fft_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Short-time Fourier transform with FFTW (single precision): frames of `size` samples every `hop`, "
                   "windowed (Hann, Hamming, Blackman or rectangular) and optionally zero-padded, giving per bin the "
                   "magnitude, the power or the level in dB. Each column's unit states the scaling (FS^2/<S> with S "
                   "= N·Σw²/2), so that the bins of a sine's main lobe sum to its mean square whatever the window, "
                   "frame size, zero padding or rate, and the spectral plugin can calibrate band levels from it.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
