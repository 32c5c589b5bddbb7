/* plot.c — the plot sink: a PNG or SVG picture of a stream, drawn with
 * cairo. An fft stream becomes a spectrogram (time × frequency, colour =
 * dB); any other frames or signal stream becomes curves, one panel per
 * unit; an events stream on the optional second port adds markers.
 *
 * Recognising a spectrum: the fft plugin's output format — every column
 * named f_<Hz> (or f_<Hz>_<channel>, channel after channel, each with the
 * same increasing frequencies), every unit one scale: "U/<r>", "U^2/<S>"
 * or "dB re U^2/<S>" (the bin's power in the input's unit U is |X|²/S,
 * S = r²), or the uncalibrated "|X|", "|X|^2", "dB" (S = 1). With mode =
 * auto such a stream is drawn as a spectrogram, anything else as curves.
 *
 * Bounded memory, whatever the length: the total number of rows is not
 * known in advance (joule_format.length is only a hint, and a stream served
 * from the stage cache need not carry it), so time is reduced as rows
 * stream in. Rows are gathered into stored columns of `per` rows; when
 * 2 × (plot width) columns are stored, neighbouring pairs are merged and
 * `per` doubles. Merging pairs of columns of per rows gives exactly the
 * columns of 2·per rows, so what is stored depends on the rows alone,
 * never on how they were chunked. At the end the stored columns (between
 * one and two per pixel, or fewer than the pixels for short streams) are
 * resampled to the pixel columns, each weighted by the rows it shares with
 * the pixel. A spectrogram keeps (plot height) values per column — the
 * frequency axis is reduced to pixel rows as each row arrives — and curves
 * keep min, max, first and last per column and series, so no peak is lost.
 * Memory: 2 · width · height floats for a spectrogram (4 MB at the default
 * size), a few hundred kB for curves.
 *
 * Spectrogram values: every bin is read as its power |X|²/S (magnitude
 * squared, power as is, dB as 10^(dB/10), each divided by its column's
 * S); with several channels, the mean power of the channels, or the one
 * named by `channel`. For audio through a calibrated fft, 10·log10 of it
 * is dBFS (re a full-scale square wave's mean square, as the energy
 * plugin's db). Pixel row j
 * (counted from the bottom, 0 .. ph-1) covers the frequencies
 *     linear  [fmin + j·(fmax-fmin)/ph, fmin + (j+1)·(fmax-fmin)/ph)
 *     log     [fmin·(fmax/fmin)^(j/ph), fmin·(fmax/fmin)^((j+1)/ph))
 * (fmax itself in the top row) and shows the largest power among the bins
 * whose centre frequency lies in it; a row that holds no bin centre shows
 * the bin nearest to its own centre (in Hz, or in log Hz). Over time, a
 * pixel shows the mean power of its rows (reduce = mean) or their largest
 * (reduce = max). Colour: 10·log10 of that power, from db_max (default
 * the picture's largest) down to db_max - db_range, through a perceptual
 * colour map (inferno, magma, viridis): colour index
 * round(255 · (dB - bottom) / db_range), clamped to 0 .. 255, so that
 * everything at or below the bottom, silence included, is the map's first
 * colour, and the largest value its last. The colour bar is labelled in
 * dB of the bins' power (dBFS for audio), or, for an uncalibrated stream
 * with db_max = auto, in dB below the picture's peak.
 *
 * Layout, in pixels of a width × height picture (defaults 1200 × 600):
 *     title        centred in the top PL_TOP = 40 pixels
 *     plot area    x0 = 80 to width - right (exclusive), y0 = 40 to
 *                  height - 56 (exclusive): pw × ph pixels; right = 120
 *                  for a spectrogram, 24 for curves
 *     spectrogram  pixel (x0 + i, y0 + ph - 1 - j) is time column i and
 *                  frequency row j, exactly (the image is not scaled)
 *     colour bar   16 pixels wide, 16 right of the plot area, as tall
 *                  as it; its tick labels and name to the right
 *     time axis    [t0, t0 + rows / rate] across the plot area's width:
 *                  time t at x = x0 + (t - t0) / (rows / rate) · pw
 *     curves       one panel per unit (at most 4, top to bottom in order
 *                  of first appearance), each h = floor((ph - 16 (P-1)) / P)
 *                  tall, panel k from y0 + k (h + 16); a value v at
 *                  y = top + h - (v - lo) / (hi - lo) · h, where [lo, hi]
 *                  is y_range or else the panel's data range widened by
 *                  5 % of its span on each side; lines 1.5 px wide in the
 *                  colours of the tab10 palette (#1f77b4 first), legend at
 *                  the panel's top right
 *     ticks        a frequency tick goes through the pixel row whose band
 *                  holds its frequency, a time tick through the pixel column
 *                  that holds its time
 *     events       a dashed vertical line at each event's time across the
 *                  plot area, and a triangle above it (its tip 1 px above
 *                  the plot area, 8 px tall, 9 px wide)
 *
 * Output: through the host's output file (util.h, "output files"): the
 * PNG is encoded with libpng (plot_draw.c says why not cairo's writer),
 * the SVG surface writes through a stream callback; nothing is written
 * before finish, and the picture depends only on the rows, never on
 * chunking or threads. Text uses cairo's own font selection
 * ("sans-serif", through fontconfig): the letters depend on the fonts
 * installed, nothing else does (cairo and fontconfig keep process-wide
 * caches; the host never unloads a plugin, so they live until exit). */
#include <joule/plugin.h>

#include "plot.h"
#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    P_PATH, P_FORMAT, P_MODE, P_WIDTH, P_HEIGHT, P_TITLE, P_FREQUENCY, P_FMIN, P_FMAX, P_DB_RANGE, P_DB_MAX,
    P_COLORMAP, P_REDUCE, P_CHANNEL, P_COLUMNS, P_Y_RANGE
};
enum { F_AUTO, F_PNG, F_SVG };
enum { M_AUTO, M_SPECTROGRAM, M_CURVES };

static const char *const format_choices[] = {"auto", "png", "svg", NULL};
static const char *const mode_choices[] = {"auto", "spectrogram", "curves", NULL};
static const char *const freq_choices[] = {"linear", "log", NULL};
static const char *const cmap_choices[] = {"inferno", "magma", "viridis", NULL};
static const char *const reduce_choices[] = {"mean", "max", NULL};

static const joule_param params[] = {
    {"path", JOULE_PARAM_STRING, JOULE_PARAM_OUT_PATH, "{stem}.{node}.png", 0, 0, NULL, "",
     "Output picture. {stem} {name} {dir} {node} are replaced per input; a relative path goes in the output "
     "folder (-o). Its extension (.png, .svg) gives the format unless `format` is set."},
    {"format", JOULE_PARAM_ENUM, 0, "auto", 0, 0, format_choices, "",
     "png, svg, or auto: from the path's extension (standard output: png)."},
    {"mode", JOULE_PARAM_ENUM, 0, "auto", 0, 0, mode_choices, "",
     "spectrogram (of an fft stream: columns f_<Hz>), curves (any frames or signal stream), or auto: a "
     "spectrogram when the input is a spectrum, else curves."},
    {"width", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1200", 320, 8192, NULL, "px",
     "Picture width. The plot area spans x = 80 to width - 120 (spectrogram; the colour bar is on the right) "
     "or width - 24 (curves)."},
    {"height", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "600", 200, 8192, NULL, "px",
     "Picture height. The plot area spans y = 40 (below the title) to height - 56 (above the time axis)."},
    {"title", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Title above the plot; empty: the input file's name and the node's."},
    {"frequency", JOULE_PARAM_ENUM, 0, "linear", 0, 0, freq_choices, "",
     "Spectrogram frequency axis: linear or log. Each pixel row shows the strongest bin of its band."},
    {"fmin", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN, "0", 0, 0, NULL, "Hz",
     "Lowest frequency shown; 0: the first bin (linear) or the first bin above 0 Hz (log)."},
    {"fmax", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN, "0", 0, 0, NULL, "Hz",
     "Highest frequency shown; 0: the last bin (half the sample rate)."},
    {"db_range", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "90", 1, 400, NULL, "dB",
     "Span of the colour map: values db_range or more below the top get its first colour."},
    {"db_max", JOULE_PARAM_STRING, 0, "auto", 0, 0, NULL, "dB",
     "Top of the colour map in dB of the bins' power (dBFS for audio), or auto: the picture's largest "
     "value."},
    {"colormap", JOULE_PARAM_ENUM, 0, "inferno", 0, 0, cmap_choices, "",
     "Perceptual colour map of the spectrogram, dark (low) to light (high)."},
    {"reduce", JOULE_PARAM_ENUM, 0, "mean", 0, 0, reduce_choices, "",
     "Spectrogram: a pixel covering many frames shows their mean power, or their largest."},
    {"channel", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Spectrogram of a per-channel fft (columns f_<Hz>_<channel>): the channel to show; empty: the mean power "
     "of all channels."},
    {"columns", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Curves: the columns to draw, comma-separated; empty: all of them (the first 12). Columns of different "
     "units go to separate panels (at most 4)."},
    {"y_range", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Curves: the value axis as 'low, high'; empty: the data's range and 5 % on each side."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL | JOULE_FRAMES, 0, "an fft stream (a spectrogram), or any frames or signal (curves)"},
    {"events", JOULE_EVENTS, JOULE_PORT_OPTIONAL, "events to mark on the time axis"},
};

/* ---- parameters -------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* The format: from the parameter, else the path's extension; -1 when
 * neither tells. */
static int pick_format(const joule_value *p)
{
    if (p[P_FORMAT].e != F_AUTO)
        return (int)p[P_FORMAT].e;
    const char *path = p[P_PATH].s;
    if (!strcmp(path, "-") || ends_with(path, ".png"))
        return F_PNG;
    if (ends_with(path, ".svg"))
        return F_SVG;
    return -1;
}

/* "auto" or a number. */
static int parse_db_max(const char *s, double *v, int *is_auto)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!strcasecmp(s, "auto") || !*s) {
        *is_auto = 1;
        return 0;
    }
    char *end;
    *v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    *is_auto = 0;
    return end != s && !*end && isfinite(*v) ? 0 : -1;
}

/* "" or "low, high" with low < high. Returns 1 when set, 0 when empty,
 * -1 when malformed. */
static int parse_range(const char *s, double *lo, double *hi)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return 0;
    char *end;
    *lo = strtod(s, &end);
    if (end == s)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != ',')
        return -1;
    s = end + 1;
    *hi = strtod(s, &end);
    if (end == s)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    return !*end && isfinite(*lo) && isfinite(*hi) && *lo < *hi ? 1 : -1;
}

static int plot_check(const joule_value *p, char *msg, size_t n)
{
    if (pick_format(p) < 0) {
        snprintf(msg, n, "cannot tell the picture format from path '%s': name it .png or .svg, or set format",
                 p[P_PATH].s);
        return 1;
    }
    double v;
    int is_auto;
    if (parse_db_max(p[P_DB_MAX].s, &v, &is_auto)) {
        snprintf(msg, n, "db_max must be auto or a number of dB, not '%s'", p[P_DB_MAX].s);
        return 1;
    }
    double lo, hi;
    if (parse_range(p[P_Y_RANGE].s, &lo, &hi) < 0) {
        snprintf(msg, n, "y_range must be 'low, high' with low < high (or empty), not '%s'", p[P_Y_RANGE].s);
        return 1;
    }
    if (p[P_FMAX].f > 0 && p[P_FMAX].f <= p[P_FMIN].f) {
        snprintf(msg, n, "fmax (%g Hz) must be above fmin (%g Hz), or 0 for the last bin", p[P_FMAX].f,
                 p[P_FMIN].f);
        return 1;
    }
    return 0;
}

/* ---- recognising a spectrum ------------------------------------------- */

/* "f_<Hz>" or "f_<Hz>_<channel>": 0, the frequency and the channel
 * suffix ("" without one); -1 otherwise. */
static int parse_bin(const char *name, double *hz, const char **chan)
{
    if (!name || strncmp(name, "f_", 2))
        return -1;
    const char *s = name + 2;
    if (!(isdigit((unsigned char)*s) || *s == '.'))
        return -1;
    char *end;
    *hz = strtod(s, &end);
    if (end == s || !isfinite(*hz) || *hz < 0)
        return -1;
    if (!*end) {
        *chan = "";
        return 0;
    }
    if (*end != '_' || !end[1])
        return -1;
    *chan = end + 1;
    return 0;
}

/* A spectrum column's unit: the scale of its values and the divisor S
 * that makes them the bin's power in the input's unit U (fft.c: "U/<r>"
 * with S = r², "U^2/<S>", "dB re U^2/<S>", U bracketed when compound, "1"
 * when none), or the uncalibrated "|X|", "|X|^2", "dB" (S = 1, no U).
 * 0, with U copied into `base` ("" for none or uncalibrated) and
 * *calibrated set; -1 when it is no spectrum unit. */
static int parse_unit(const char *u, int *scale, double *S, char *base, size_t n, int *calibrated)
{
    *S = 1;
    *base = '\0';
    *calibrated = 0;
    if (!strcmp(u, "|X|") || !strcmp(u, "|X|^2") || !strcmp(u, "dB")) {
        *scale = u[0] == 'd' ? PL_DB : u[3] ? PL_POW : PL_MAG;
        return 0;
    }
    int db = !strncmp(u, "dB re ", 6);
    if (db)
        u += 6;
    const char *slash = strrchr(u, '/');
    if (!slash || slash == u)
        return -1;
    char *end;
    *S = strtod(slash + 1, &end);
    if (end == slash + 1 || *end || !(*S > 0) || !isfinite(*S))
        return -1;
    size_t len = (size_t)(slash - u);
    int squared = len > 2 && !strncmp(slash - 2, "^2", 2);
    if (db && !squared)
        return -1;
    *scale = db ? PL_DB : squared ? PL_POW : PL_MAG;
    if (*scale == PL_MAG)
        *S *= *S; /* U/<r>: r = sqrt(S) */
    if (squared)
        len -= 2;
    if (len >= 2 && u[0] == '(' && u[len - 1] == ')') {
        u++;
        len -= 2;
    }
    if (len >= n)
        return -1;
    memcpy(base, u, len);
    base[len] = '\0';
    if (!strcmp(base, "1"))
        *base = '\0';
    *calibrated = 1;
    return 0;
}

/* Learn the spectrum's layout and calibration: 0, or -1 with the reason
 * in `why`. */
static int read_spectrum(plot *p, const joule_format *in, char *why, size_t n)
{
    const uint32_t nc = in->n_columns;
    static const char expect[] = "not a spectrum unit (|X|, |X|^2, dB, or U/<r>, U^2/<S>, dB re U^2/<S>)";
    if (in->kind != JOULE_FRAMES) {
        snprintf(why, n, "the input is a signal, not frames");
        return -1;
    }
    if (!in->units) {
        snprintf(why, n, "its columns have no units");
        return -1;
    }
    double hz;
    const char *chan, *chan0 = NULL;
    uint32_t nb = 0; /* bins per channel: the columns up to the first change of suffix */
    char base[64], base0[64] = "";
    int scale0 = -1, cal0 = 0;
    for (uint32_t c = 0; c < nc; c++) {
        if (parse_bin(in->names[c], &hz, &chan)) {
            snprintf(why, n, "column '%s' is not a bin f_<Hz>[_<channel>]", in->names[c]);
            return -1;
        }
        const char *u = in->units[c] ? in->units[c] : "";
        int scale, cal;
        double S;
        if (parse_unit(u, &scale, &S, base, sizeof base, &cal)) {
            snprintf(why, n, "column '%s' has unit '%s', %s", in->names[c], u, expect);
            return -1;
        }
        if (!c) {
            scale0 = scale;
            cal0 = cal;
            snprintf(base0, sizeof base0, "%s", base);
        } else if (scale != scale0 || cal != cal0) {
            snprintf(why, n, "column '%s' has unit '%s', column '%s' has '%s'", in->names[c], u, in->names[0],
                     in->units[0] ? in->units[0] : "");
            return -1;
        } else if (strcmp(base, base0)) {
            p->mixed_units = 1; /* channels of different units: no common name */
        }
        p->calp[c] = (float)(1 / S);
        p->offdb[c] = (float)(-10 * log10(S));
        if (!c)
            chan0 = chan;
        else if (!nb && strcmp(chan, chan0))
            nb = c;
    }
    if (!nb)
        nb = nc;
    if (nc % nb) {
        snprintf(why, n, "%u columns are not whole channels of %u bins", nc, nb);
        return -1;
    }
    if (nb < 2) {
        snprintf(why, n, "a spectrum needs at least 2 bins");
        return -1;
    }
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t k = c % nb;
        parse_bin(in->names[c], &hz, &chan);
        if (k == 0)
            chan0 = chan;
        if (c < nb) {
            if (k && !(hz > p->freq[k - 1])) {
                snprintf(why, n, "bin frequencies must increase ('%s' after '%s')", in->names[c],
                         in->names[c - 1]);
                return -1;
            }
            p->freq[k] = hz;
        } else if (hz != p->freq[k] || strcmp(chan, chan0)) {
            snprintf(why, n, "column '%s' breaks the layout of channel '%s' (every channel must have the same "
                             "bins, one channel after the other)", in->names[c], chan0);
            return -1;
        }
    }
    p->nbins = nb;
    p->ngrp = nc / nb;
    p->scale = scale0;
    p->calibrated = cal0;
    /* the colour bar's name: dB of the bin's power in the input's unit */
    if (!cal0)
        snprintf(p->db_label, sizeof p->db_label, "dB");
    else if (p->mixed_units || !*base0)
        snprintf(p->db_label, sizeof p->db_label, "dB re 1");
    else if (!strcmp(base0, "FS"))
        snprintf(p->db_label, sizeof p->db_label, "dBFS");
    else
        snprintf(p->db_label, sizeof p->db_label, "dB re %s\xc2\xb2", base0);
    return 0;
}

/* Give every pixel row its bins: those whose centre lies in its band
 * (bins rise in frequency, so they are a contiguous run), or else the one
 * nearest to the row's centre. */
static void map_rows(plot *p)
{
    const uint32_t nb = p->nbins, ph = (uint32_t)p->ph;
    const int lg = p->fscale == PL_LOG;
    const double a = lg ? log(p->fmin) : p->fmin, span = (lg ? log(p->fmax) : p->fmax) - a;
    for (uint32_t j = 0; j < ph; j++)
        p->row_lo[j] = p->row_hi[j] = 0;
    for (uint32_t k = 0; k < nb; k++) {
        double f = p->freq[k];
        if (f < p->fmin || f > p->fmax || (lg && f <= 0))
            continue;
        double pos = ((lg ? log(f) : f) - a) / span * ph;
        int64_t j = (int64_t)floor(pos);
        if (j >= (int64_t)ph)
            j = ph - 1;
        if (j < 0)
            j = 0;
        if (p->row_hi[j] == 0)
            p->row_lo[j] = k;
        p->row_hi[j] = k + 1;
    }
    for (uint32_t j = 0; j < ph; j++) {
        if (p->row_hi[j])
            continue;
        double c = a + (j + 0.5) / ph * span; /* the row's centre, in the axis's metric */
        uint32_t best = 0;
        double bd = INFINITY;
        for (uint32_t k = 0; k < nb; k++) {
            if (lg && p->freq[k] <= 0)
                continue;
            double d = fabs((lg ? log(p->freq[k]) : p->freq[k]) - c);
            if (d < bd) {
                bd = d;
                best = k;
            }
        }
        p->row_lo[j] = best;
        p->row_hi[j] = best + 1;
    }
}

static int open_spectrogram(plot *p, const joule_open_args *a)
{
    const joule_host *h = a->host;
    const joule_value *v = a->params;
    p->fscale = (int)v[P_FREQUENCY].e;
    p->reduce = (int)v[P_REDUCE].e;
    p->db_range = v[P_DB_RANGE].f;
    parse_db_max(v[P_DB_MAX].s, &p->db_max, &p->db_auto);
    /* the channel */
    p->chan = -1;
    const char *want = v[P_CHANNEL].s;
    if (*want) {
        for (uint32_t g = 0; g < p->ngrp; g++) {
            double hz;
            const char *chan;
            parse_bin(a->inputs[0].names[g * p->nbins], &hz, &chan);
            if (!strcmp(chan, want))
                p->chan = (int)g;
        }
        if (p->chan < 0) {
            h->error(h, "channel '%s': the spectrum has no such channel (its columns are named like '%s')", want,
                     a->inputs[0].names[0]);
            return -1;
        }
    } else if (p->ngrp == 1) {
        p->chan = 0;
    }
    /* the frequency range */
    uint32_t k1 = 0;
    while (k1 < p->nbins && p->freq[k1] <= 0)
        k1++;
    double auto_min = p->fscale == PL_LOG ? (k1 < p->nbins ? p->freq[k1] : 1) : p->freq[0];
    p->fmin = v[P_FMIN].f > 0 ? v[P_FMIN].f : auto_min;
    p->fmax = v[P_FMAX].f > 0 ? v[P_FMAX].f : p->freq[p->nbins - 1];
    if (!(p->fmax > p->fmin)) {
        h->error(h, "the frequency axis would be empty: fmin %g Hz, fmax %g Hz (the bins span %g to %g Hz)",
                 p->fmin, p->fmax, p->freq[0], p->freq[p->nbins - 1]);
        return -1;
    }
    if (p->fscale == PL_LOG && !(p->fmin > 0)) {
        h->error(h, "a log frequency axis needs fmin above 0 Hz");
        return -1;
    }
    const size_t ph = (size_t)p->ph;
    p->row_lo = malloc(ph * sizeof *p->row_lo);
    p->row_hi = malloc(ph * sizeof *p->row_hi);
    p->binp = malloc(p->nbins * sizeof *p->binp);
    p->rowv = malloc(ph * sizeof *p->rowv);
    p->acc = calloc(ph, sizeof *p->acc);
    p->spec = malloc((size_t)p->cap * ph * sizeof *p->spec);
    if (!p->row_lo || !p->row_hi || !p->binp || !p->rowv || !p->acc || !p->spec) {
        h->error(h, "out of memory");
        return -1;
    }
    map_rows(p);
    return 0;
}

static void span_reset(pl_span *s)
{
    s->min = s->max = s->first = s->last = NAN;
}

static int open_curves(plot *p, const joule_open_args *a)
{
    const joule_host *h = a->host;
    const joule_format *in = &a->inputs[0];
    const uint32_t nc = in->n_columns;
    p->ser_col = calloc(nc, sizeof *p->ser_col);
    p->ser_panel = calloc(nc, sizeof *p->ser_panel);
    if (!p->ser_col || !p->ser_panel) {
        h->error(h, "out of memory");
        return -1;
    }
    uint32_t n = 0;
    if (*a->params[P_COLUMNS].s) {
        char **want;
        size_t nw = jp_split(a->params[P_COLUMNS].s, &want);
        if (!want) {
            h->error(h, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < nw; i++) {
            int c = jp_find_col(in, want[i]);
            if (c < 0) {
                char have[256] = "";
                size_t len = 0;
                for (uint32_t k = 0; k < nc && len + 8 < sizeof have; k++) {
                    int w = snprintf(have + len, sizeof have - len, "%s%s", k ? ", " : "", in->names[k]);
                    len = w < 0 || len + (size_t)w >= sizeof have ? sizeof have - 1 : len + (size_t)w;
                }
                h->error(h, "columns: the input has no column '%s' (it has %s)", want[i], have);
                free(want);
                return -1;
            }
            if (n < nc)
                p->ser_col[n++] = (uint32_t)c;
        }
        free(want);
        if (n > PL_MAX_SERIES) {
            h->error(h, "columns: %u columns named, at most %d curves are drawn", n, PL_MAX_SERIES);
            return -1;
        }
    } else {
        n = nc < PL_MAX_SERIES ? nc : PL_MAX_SERIES;
        for (uint32_t i = 0; i < n; i++)
            p->ser_col[i] = i;
        if (nc > PL_MAX_SERIES)
            h->log(h, JOULE_LOG_WARN, "drawing the first %d of %u columns (choose with columns = a, b, ...)",
                   PL_MAX_SERIES, nc);
    }
    /* one panel per unit, in order of first appearance */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *u = in->units && in->units[p->ser_col[i]] ? in->units[p->ser_col[i]] : "";
        int panel = -1;
        for (uint32_t k = 0; k < p->npanel; k++)
            if (!strcmp(p->panel_unit[k], u))
                panel = (int)k;
        if (panel < 0 && p->npanel < PL_MAX_PANELS) {
            panel = (int)p->npanel;
            p->panel_unit[p->npanel++] = u;
        }
        if (panel < 0) {
            h->log(h, JOULE_LOG_WARN, "column '%s' (unit '%s') not drawn: at most %d units, one panel each",
                   in->names[p->ser_col[i]], u, PL_MAX_PANELS);
            continue;
        }
        p->ser_col[kept] = p->ser_col[i];
        p->ser_panel[kept++] = panel;
    }
    p->nser = kept;
    p->names = in->names;
    p->y_fixed = parse_range(a->params[P_Y_RANGE].s, &p->y_lo, &p->y_hi) == 1;
    p->span = malloc((size_t)p->cap * p->nser * sizeof *p->span);
    p->cspan = malloc(p->nser * sizeof *p->cspan);
    if (!p->span || !p->cspan) {
        h->error(h, "out of memory");
        return -1;
    }
    for (uint32_t s = 0; s < p->nser; s++)
        span_reset(&p->cspan[s]);
    return 0;
}

static char *make_title(const joule_open_args *a)
{
    const char *t = a->params[P_TITLE].s;
    if (*t)
        return jp_strdup(t);
    const char *in = a->input_path ? a->input_path : "";
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    size_t n = strlen(base) + strlen(a->node) + 8;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, *base ? "%s \xe2\x80\x94 %s" : "%s%s", base, a->node); /* an em dash */
    return s;
}

static int plot_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    plot *p = calloc(1, sizeof *p);
    if (!p) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = p;
    p->host = h;
    const joule_format *in = &a->inputs[0];
    const joule_value *v = a->params;
    p->svg = pick_format(v) == F_SVG;
    p->width = (int)v[P_WIDTH].i;
    p->height = (int)v[P_HEIGHT].i;
    p->cmap = (int)v[P_COLORMAP].e;
    p->rate = in->rate;
    p->t0 = in->t0;
    p->ncols_in = in->n_columns;
    p->has_events = a->inputs[1].kind != 0;
    if (!(p->rate > 0)) {
        h->error(h, "the input has no rate (%g rows per second): nothing to put on a time axis", p->rate);
        return JOULE_ERROR;
    }

    /* spectrogram or curves */
    char why[256] = "";
    int mode = (int)v[P_MODE].e;
    int is_spec = -1;
    if (mode != M_CURVES) {
        p->freq = malloc(in->n_columns * sizeof *p->freq);
        p->calp = malloc(in->n_columns * sizeof *p->calp);
        p->offdb = malloc(in->n_columns * sizeof *p->offdb);
        if (!p->freq || !p->calp || !p->offdb) {
            h->error(h, "out of memory");
            return JOULE_ERROR;
        }
        is_spec = read_spectrum(p, in, why, sizeof why) == 0;
    }
    if (mode == M_SPECTROGRAM && !is_spec) {
        h->error(h, "mode = spectrogram needs a spectrum, as the fft plugin writes (columns f_<Hz>[_<channel>]): %s",
                 why);
        return JOULE_ERROR;
    }
    p->mode = is_spec == 1 ? PL_SPECTROGRAM : PL_CURVES;

    /* the layout (plot.h, and the header above) */
    int right = p->mode == PL_SPECTROGRAM ? PL_RIGHT_SPEC : PL_RIGHT_CURVES;
    p->x0 = PL_LEFT;
    p->y0 = PL_TOP;
    p->pw = p->width - PL_LEFT - right;
    p->ph = p->height - PL_TOP - PL_BOTTOM;
    p->cap = 2 * (uint32_t)p->pw;
    p->per = 1;

    if (p->mode == PL_SPECTROGRAM ? open_spectrogram(p, a) : open_curves(p, a))
        return JOULE_ERROR;
    p->ev_per = 1;
    if (p->has_events && !(p->ev = calloc(p->cap, sizeof *p->ev))) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    p->title = make_title(a);
    if (!p->title) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    if (jp_outfile_open(&p->file, v[P_PATH].s, h, 1 << 16))
        return JOULE_ERROR;
    return JOULE_OK;
}

/* ---- reducing time ------------------------------------------------------ */

/* A dB value (re |X|²/S) back to power; -inf (fft's floor) and NaN count
 * as nothing. */
static inline float db_power(float x)
{
    if (!(x > -INFINITY))
        return 0;
    return (float)exp(x * (M_LN10 / 10));
}

/* Store the column being filled (of `count` rows) and start the next. */
static void store_column(plot *p, uint64_t count)
{
    if (p->mode == PL_SPECTROGRAM) {
        float *dst = p->spec + (size_t)p->ncol * p->ph;
        for (int j = 0; j < p->ph; j++) {
            dst[j] = (float)(p->reduce == PL_REDUCE_MEAN ? p->acc[j] / (double)count : p->acc[j]);
            p->acc[j] = 0;
        }
    } else {
        memcpy(p->span + (size_t)p->ncol * p->nser, p->cspan, p->nser * sizeof *p->cspan);
        for (uint32_t s = 0; s < p->nser; s++)
            span_reset(&p->cspan[s]);
    }
    p->ncol++;
    p->last_n = count;
}

static float nan_min(float a, float b)
{
    return a != a ? b : b != b ? a : fminf(a, b);
}

static float nan_max(float a, float b)
{
    return a != a ? b : b != b ? a : fmaxf(a, b);
}

/* All `cap` columns are full: merge neighbours, doubling `per`. */
static void merge_columns(plot *p)
{
    const uint32_t half = p->cap / 2;
    if (p->mode == PL_SPECTROGRAM) {
        const size_t ph = (size_t)p->ph;
        for (uint32_t i = 0; i < half; i++) {
            const float *a = p->spec + 2 * i * ph, *b = a + ph;
            float *d = p->spec + i * ph;
            for (size_t j = 0; j < ph; j++)
                d[j] = p->reduce == PL_REDUCE_MEAN ? (a[j] + b[j]) * 0.5f : fmaxf(a[j], b[j]);
        }
    } else {
        const size_t ns = p->nser;
        for (uint32_t i = 0; i < half; i++)
            for (size_t s = 0; s < ns; s++) {
                const pl_span a = p->span[2 * i * ns + s], b = p->span[(2 * i + 1) * ns + s];
                pl_span *d = &p->span[i * ns + s];
                d->min = nan_min(a.min, b.min);
                d->max = nan_max(a.max, b.max);
                d->first = a.first == a.first ? a.first : b.first;
                d->last = b.last == b.last ? b.last : a.last;
            }
    }
    p->ncol = half;
    p->per *= 2;
}

static void column_done(plot *p)
{
    store_column(p, p->cur);
    p->cur = 0;
    if (p->ncol == p->cap)
        merge_columns(p);
}

/* The largest of each pixel row's bins, as power (or as dB re |X|²/S for a
 * dB stream: it rises with the power), into p->rowv. The row's bins are a
 * run, so this is a branch-free max over contiguous values; it runs for
 * every bin of every row of the stream. NaN never wins. */
#define ROW_MAX(expr)                                                                                          \
    for (int j = 0; j < ph; j++) {                                                                             \
        float m = -INFINITY;                                                                                   \
        for (uint32_t k = lo[j]; k < hi[j]; k++) {                                                             \
            float e_ = (expr);                                                                                 \
            m = e_ > m ? e_ : m;                                                                               \
        }                                                                                                      \
        rv[j] = m;                                                                                             \
    }

static void add_spectrum(plot *p, const float *x)
{
    const uint32_t nb = p->nbins, *lo = p->row_lo, *hi = p->row_hi;
    const int ph = p->ph;
    float *rv = p->rowv;
    int db = 0;
    if (p->chan >= 0) {
        const size_t base = (size_t)p->chan * nb;
        const float *v = x + base, *cal = p->calp + base, *off = p->offdb + base;
        switch (p->scale) {
        case PL_MAG: ROW_MAX(v[k] * v[k] * cal[k]); break;
        case PL_POW: ROW_MAX(v[k] * cal[k]); break;
        default:
            ROW_MAX(v[k] <= -200.0f ? -INFINITY : v[k] + off[k]);
            db = 1;
            break;
        }
    } else {
        /* the channels' mean power per bin first */
        float *bp = p->binp;
        for (uint32_t k = 0; k < nb; k++) {
            double sum = 0;
            for (uint32_t g = 0; g < p->ngrp; g++) {
                size_t c = (size_t)g * nb + k;
                float v = x[c];
                switch (p->scale) {
                case PL_MAG: sum += v * v * p->calp[c]; break;
                case PL_POW: sum += v * p->calp[c]; break;
                default: sum += v <= -200.0f ? 0 : db_power(v + p->offdb[c]); break;
                }
            }
            bp[k] = (float)(sum / p->ngrp);
        }
        ROW_MAX(bp[k]);
    }
    if (p->reduce == PL_REDUCE_MEAN) {
        for (int j = 0; j < ph; j++)
            p->acc[j] += db ? db_power(rv[j]) : rv[j] > 0 ? rv[j] : 0;
    } else {
        for (int j = 0; j < ph; j++) {
            float pw = db ? db_power(rv[j]) : rv[j] > 0 ? rv[j] : 0;
            if (pw > p->acc[j])
                p->acc[j] = pw;
        }
    }
}
#undef ROW_MAX

static void add_values(plot *p, const float *x)
{
    for (uint32_t s = 0; s < p->nser; s++) {
        float v = x[p->ser_col[s]];
        if (v != v)
            continue;
        pl_span *c = &p->cspan[s];
        if (c->first != c->first) {
            c->first = c->min = c->max = v;
        } else {
            if (v < c->min)
                c->min = v;
            if (v > c->max)
                c->max = v;
        }
        c->last = v;
    }
}

static void add_events(plot *p, const joule_buffer *in)
{
    for (uint32_t r = 0; r < in->n_rows; r++) {
        double u = (in->times[r] - p->t0) * p->rate * PL_EV_SUB;
        if (!(u >= 0 && u < 9e18))
            continue; /* before the stream, or not a time */
        uint64_t i = (uint64_t)u;
        while (i / p->ev_per >= p->cap) {
            for (uint32_t b = 0; b < p->cap / 2; b++)
                p->ev[b] = p->ev[2 * b] + p->ev[2 * b + 1];
            memset(p->ev + p->cap / 2, 0, (p->cap - p->cap / 2) * sizeof *p->ev);
            p->ev_per *= 2;
        }
        p->ev[i / p->ev_per]++;
        p->n_events++;
    }
}

static int plot_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)out;
    plot *p = self;
    if (port == 1) {
        if (in->times)
            add_events(p, in);
        return JOULE_OK;
    }
    const uint32_t nc = in->n_columns;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        const float *x = in->data + (size_t)r * nc;
        if (p->mode == PL_SPECTROGRAM)
            add_spectrum(p, x);
        else
            add_values(p, x);
        p->rows++;
        if (++p->cur == p->per)
            column_done(p);
    }
    return JOULE_OK;
}

static int plot_finish(void *self, joule_buffer *out)
{
    (void)out;
    plot *p = self;
    if (p->cur) { /* the last, partial column: never merged, as ncol < cap here */
        store_column(p, p->cur);
        p->cur = 0;
    } else {
        p->last_n = p->per;
    }
    if (pl_render(p))
        return JOULE_ERROR;
    return jp_outfile_finish(&p->file, p->host) ? JOULE_ERROR : JOULE_END;
}

static void plot_close(void *self)
{
    plot *p = self;
    if (!p)
        return;
    jp_outfile_discard(&p->file);
    free(p->title);
    free(p->freq);
    free(p->calp);
    free(p->offdb);
    free(p->row_lo);
    free(p->row_hi);
    free(p->binp);
    free(p->rowv);
    free(p->acc);
    free(p->spec);
    free(p->ser_col);
    free(p->ser_panel);
    free(p->span);
    free(p->cspan);
    free(p->ev);
    free(p);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "plot",
    .version = "1.0.0",
    .summary = "a PNG or SVG picture: spectrogram of an fft stream, curves of any stream, events as markers",
    .role = JOULE_ROLE_SINK,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 2,
    .inputs = inputs,
    .open = plot_open,
    .process = plot_process,
    .finish = plot_finish,
    .close = plot_close,
    .check = plot_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Draws a picture with cairo: the spectrogram of an fft stream (linear or log frequency, inferno, "
                   "magma or viridis, a colour bar in dBFS), or the curves of any stream, one panel per unit, with "
                   "events from a second input as markers. PNG (through libpng) or SVG; memory stays bounded for any "
                   "length of input.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
