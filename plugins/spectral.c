/* spectral.c — spectral shape features per frame, from the spectrum the
 * `fft` plugin writes: centroid, spread, rolloff, flatness, flux, crest,
 * entropy and calibrated band levels.
 *
 * Input: a frames stream whose columns are spectrum bins named
 * "f_<Hz>" or "f_<Hz>_<channel>" (see fft.c), all of one scale, with the
 * units the fft plugin writes: "U/<r>" (magnitude), "U^2/<S>" (power) or
 * "dB re U^2/<S>" (10·log10 power), which say that the bin's power in U²
 * is |X_k|² / S (S = r²). The older units "|X|", "|X|^2" and "dB" say
 * nothing of the normalisation: they are accepted for every feature but the
 * band levels. Anything else is refused at open. Columns of one channel
 * follow each other with strictly increasing frequencies; every channel
 * has the same bins. Features are computed per channel and named
 * "<feature>" (mono) or "<feature>_<channel>".
 *
 * Definitions. For each frame and channel, let k run over the bins with
 * f_k > 0 — bins 1 .. N/2 of an N-point transform, DC left out, K of
 * them; m_k = |X_k| is the magnitude and p_k = m_k² the power (a power input
 * is used as p_k directly and m_k = √p_k; a dB input is p_k = 10^(v/10),
 * and silence, -inf (or -200 and below, the floor of older fft builds), is
 * p_k = 0).
 *   centroid  C = Σ f_k m_k / Σ m_k                                   [Hz]
 *             (magnitude-weighted: the Vamp example plugin's linear
 *             centroid, and the bench's peers)
 *   spread    √( Σ (f_k − C)² m_k / Σ m_k )                          [Hz]
 *   rolloff   the smallest f_k with Σ_{j<=k} p_j >= r · Σ p_j, r the
 *             `rolloff` parameter (0.85)                              [Hz]
 *   flatness  exp( (1/K) Σ ln p_k ) / ( (1/K) Σ p_k ): geometric over
 *             arithmetic mean of the power (Wiener entropy), in [0, 1]. 1
 *             for a flat spectrum; a periodogram of Gaussian white noise
 *             has exponentially distributed bins, whose expected flatness
 *             is e^-γ ≈ 0.56, not 1 (average spectra over frames first
 *             for a smooth estimate).
 *   flux      √( Σ (m_k − m'_k)² ), m' the previous frame's magnitudes
 *             (L2, not rectified); NaN for the first frame  [U/r, the
 *             unit of the input's magnitudes]
 *   crest     max m_k / ( (1/K) Σ m_k ), >= 1
 *   entropy   −Σ q_k ln q_k / ln K with q_k = p_k / Σ p_j: the Shannon
 *             entropy of the power distribution over the bins, normalised
 *             to [0, 1] (1 = flat, 0 = a single bin)
 *   bands     the calibrated level of each band: E_b = Σ_{k in b} P_k with
 *             P_k = p_k / S_k, the bin's share of the frame's mean square
 *             (S_k from the column's unit; the bins of a whole spectrum
 *             sum to Σ(w x)²/Σw², the mean square of the frame weighted
 *             by the squared window). So a sine of RMS a reads a² in its
 *             band (10·log10 a² dBFS, the energy plugin's dBFS: a
 *             full-scale sine is -3.01 dBFS) whatever the window, frame,
 *             zero padding and rate, less the part of its power the
 *             window leaks out of the band: under hann, under 0.01 dB for
 *             a sine 3 bin widths (rate/frame) inside its band; but a band
 *             a bin or two wide, at low frequencies, catches only part of
 *             the main lobe and reads low, by about 2 dB under hann (a
 *             third octave at f_m is 0.23·f_m wide, an octave 0.71·f_m).
 *             `scale` = db (default): 10·log10 E_b, unit dBFS (dB re U²
 *             for another unit U), -inf for a band of zero power; power:
 *             E_b, unit FS^2 (U²). Bin k is in [lo, hi) when
 *             lo <= f_k < hi; DC counts only in a listed band that starts
 *             at 0 Hz. `bands`:
 *             third — the 30 third octaves of IEC 61260-1 (base-10,
 *             G = 10^(3/10)) from 25 Hz to 20 kHz, mid-band
 *             f_m = 1000·G^(x/3), x = -16 .. 13, edges f_m·G^(±1/6);
 *             octave — the 10 octaves from 31.5 Hz to 16 kHz, f_m =
 *             1000·G^x, x = -5 .. 4, edges f_m·G^(±1/2). Named by the
 *             nominal mid-band frequency (third_25, third_31.5, ..
 *             third_20000; oct_31.5, oct_63, .. oct_16000), the same
 *             columns at every rate: a band that holds no bin (above
 *             Nyquist, or narrower than the bin spacing at low
 *             frequencies) is NaN, and a band that reaches past Nyquist
 *             holds only the bins below it. Or a list of edges in Hz
 *             "e0, e1, .., en" (increasing): bands [e_i, e_i+1), the last
 *             one closed [e_n-1, e_n], named band_<lo>-<hi>; a listed band
 *             that holds no bin is NaN (a warning says so at open).
 * Undefined values: a silent frame (Σ m = 0) has NaN centroid, spread,
 * rolloff, flatness, crest and entropy (there is no distribution to
 * describe); its band levels are -inf dB (0 in power) and its flux is
 * defined.
 *
 * Each output row depends only on its input row (and the previous one,
 * for flux), so the output does not depend on chunking or threads. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_CENTROID, F_SPREAD, F_ROLLOFF, F_FLATNESS, F_FLUX, F_CREST, F_ENTROPY, F_BANDS, N_FEAT };
static const char *const feat_names[N_FEAT] = {"centroid", "spread", "rolloff", "flatness",
                                               "flux",     "crest",  "entropy", "bands"};
/* flux and bands take their units from the input's (see open) */
static const char *const feat_units[N_FEAT] = {"Hz", "Hz", "Hz", "", NULL, "", "", NULL};
#define KNOWN_FEATURES "centroid, spread, rolloff, flatness, flux, crest, entropy, bands"

/* the fft plugin writes |X|² below 1e-20 as this many dB */
#define FFT_FLOOR_DB -200.0

enum { IN_MAG, IN_POW, IN_DB };
enum { B_OCTAVE, B_THIRD, B_EDGES };
enum { SC_DB, SC_POWER };
enum { P_FEATURES, P_ROLLOFF, P_BANDS, P_SCALE };

static const char *const scale_choices[] = {"db", "power", NULL};

/* IEC 61260-1 nominal mid-band frequencies of the third octaves x = -16 ..
 * 13 (25 Hz .. 20 kHz); the octaves are every third one from 31.5 Hz. */
#define THIRD_X0 -16
#define N_THIRDS 30
#define OCT_X0 -5
#define N_OCTAVES 10
static const char *const nominal[N_THIRDS] = {
    "25",   "31.5", "40",   "50",   "63",   "80",   "100",  "125",   "160",   "200",
    "250",  "315",  "400",  "500",  "630",  "800",  "1000", "1250",  "1600",  "2000",
    "2500", "3150", "4000", "5000", "6300", "8000", "10000", "12500", "16000", "20000"};

static const joule_param params[] = {
    {"features", JOULE_PARAM_STRING, 0, KNOWN_FEATURES, 0, 0, NULL, "",
     "Which features to output, in this order, per channel: any of centroid, spread, rolloff (Hz), "
     "flatness, flux, crest, entropy, bands (one column per band)."},
    {"rolloff", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0.85", 0, 1, NULL, "",
     "Rolloff fraction r: the rolloff is the lowest bin frequency below which (inclusive) lies r of "
     "the frame's power."},
    {"bands", JOULE_PARAM_STRING, 0, "octave", 0, 0, NULL, "Hz",
     "Bands for the band levels: octave (IEC 61260-1 base-10 octaves 31.5 Hz .. 16 kHz, columns oct_31.5 "
     ".. oct_16000), third (third octaves 25 Hz .. 20 kHz, third_25 .. third_20000), or increasing band "
     "edges in Hz, e.g. \"0, 500, 2000, 8000\" (band_0-500 ..). The same columns at every rate: a band "
     "that holds no bin of the spectrum (above Nyquist, or narrower than the bin spacing) is NaN."},
    {"scale", JOULE_PARAM_ENUM, 0, "db", 0, 0, scale_choices, "",
     "Band levels in db (10*log10 of the band's power, unit dBFS for audio; -inf for silence) or power "
     "(unit FS^2). Calibrated: a sine of RMS a reads a^2, or 10*log10 a^2 dBFS (a full-scale sine: -3.01, "
     "as the energy plugin's dBFS), in the band of its frequency whatever the fft's window, frame, "
     "zero padding and rate, less what the window leaks out of the band: under 0.01 dB for a sine 3 bin "
     "widths (rate/frame) inside its band under hann, hamming or blackman (rect: 20 bin widths for 0.05 "
     "dB). A band only a bin or two wide catches part of the main lobe and reads low (about 2 dB under "
     "hann): under hann, third octaves read a mid-band sine within 0.01 dB from about 28*rate/frame Hz "
     "up (1.2 kHz at 44.1 kHz and frame 1024, 150 Hz at frame 8192), octaves from about 10*rate/frame Hz."},
};

static const joule_port inputs[] = {
    {"in", JOULE_FRAMES, 0,
     "a spectrum, as the fft plugin writes: columns f_<Hz>[_<channel>], magnitude, power or dB, with "
     "the fft's units"},
};
static const joule_port outputs[] = {
    {"out", JOULE_FRAMES, 0, "one row per frame: the features, per channel"},
};

typedef struct band {
    uint32_t k0, k1;   /* bins [k0, k1) of a channel's columns */
    double lo, hi;
    const char *label; /* fractional octaves: the nominal mid-band Hz */
} band;

typedef struct spectral {
    const joule_host *host;
    int feats[N_FEAT], nfeat;
    int in_scale;     /* IN_MAG, IN_POW, IN_DB */
    double r;         /* rolloff fraction */
    uint32_t ngrp;    /* channels */
    uint32_t nbins;   /* columns per channel */
    uint32_t k1;      /* first bin with f > 0 */
    double *freq;     /* nbins */
    double *cal;      /* ngrp × nbins: 1/S_k, power to mean-square share;
                         NULL when the input's units do not say */
    band *bands;
    uint32_t nbands;
    int band_kind;    /* B_OCTAVE, B_THIRD or B_EDGES */
    int band_scale;   /* SC_DB or SC_POWER */
    double *mag, *pow; /* one channel's bins of the current frame */
    double *prev;     /* ngrp × nbins: the previous frame's magnitudes */
    int have_prev;
    jp_names names;
    jp_names unit_text; /* per channel: flux's unit, the bands' unit */
    const char **units;
} spectral;

/* ---- parameters -------------------------------------------------------- */

static int parse_features(const char *s, int *feats, char *msg, size_t n)
{
    char **items;
    size_t k = jp_split(s, &items);
    int count = 0, seen[N_FEAT] = {0};
    if (!items) {
        snprintf(msg, n, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        int f;
        for (f = 0; f < N_FEAT; f++)
            if (!strcmp(items[i], feat_names[f]))
                break;
        if (f == N_FEAT) {
            snprintf(msg, n, "features: unknown feature '%s' (known: %s)", items[i], KNOWN_FEATURES);
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
        snprintf(msg, n, "features: name at least one of %s", KNOWN_FEATURES);
        return -1;
    }
    return count;
}

/* Parse `bands`: returns B_OCTAVE, B_THIRD or B_EDGES (then *edges is a
 * malloc'd array of *n values), or -1 with a message. */
static int parse_bands(const char *s, double **edges, size_t *n, char *msg, size_t msz)
{
    *edges = NULL;
    *n = 0;
    char **items;
    size_t k = jp_split(s, &items);
    if (!items) {
        snprintf(msg, msz, "out of memory");
        return -1;
    }
    if (k == 1 && !strcmp(items[0], "octave")) {
        free(items);
        return B_OCTAVE;
    }
    if (k == 1 && !strcmp(items[0], "third")) {
        free(items);
        return B_THIRD;
    }
    double *e = malloc((k ? k : 1) * sizeof *e);
    if (!e) {
        free(items);
        snprintf(msg, msz, "out of memory");
        return -1;
    }
    size_t listed = 1;
    for (const char *c = s; *c; c++)
        listed += *c == ',';
    if (listed != k) {
        snprintf(msg, msz, "bands: an empty item in the list '%s'", s);
        goto fail;
    }
    for (size_t i = 0; i < k; i++) {
        char *end;
        e[i] = strtod(items[i], &end);
        if (end != items[i] && !*end && isfinite(e[i]) && e[i] > 1e9) {
            /* sample rates stop at 1 GHz (the sndfile source's limit) */
            snprintf(msg, msz, "bands: edge %s Hz is above any rate's Nyquist frequency (at most 1e9 Hz)", items[i]);
            goto fail;
        }
        if (end == items[i] || *end || !isfinite(e[i]) || e[i] < 0) {
            snprintf(msg, msz, "bands: '%s' is neither octave, third nor a frequency in Hz (>= 0)", items[i]);
            goto fail;
        }
        if (i && e[i] <= e[i - 1]) {
            snprintf(msg, msz, "bands: edges must increase (%g after %g)", e[i], e[i - 1]);
            goto fail;
        }
    }
    if (k < 2) {
        snprintf(msg, msz, "bands: give octave, third, or at least two band edges in Hz");
        goto fail;
    }
    free(items);
    *edges = e;
    *n = k;
    return B_EDGES;
fail:
    free(items);
    free(e);
    return -1;
}

static int spectral_check(const joule_value *p, char *msg, size_t n)
{
    if (parse_features(p[P_FEATURES].s, NULL, msg, n) < 0)
        return 1;
    double *edges;
    size_t ne;
    if (parse_bands(p[P_BANDS].s, &edges, &ne, msg, n) < 0)
        return 1;
    free(edges);
    return 0;
}

/* ---- the input's layout ------------------------------------------------ */

/* Parse a bin column name "f_<Hz>" or "f_<Hz>_<channel>": the frequency
 * into *hz and the channel suffix ("" for none) into *chan. */
static int parse_bin(const char *name, double *hz, const char **chan)
{
    if (strncmp(name, "f_", 2) || !(isdigit((unsigned char)name[2]) || name[2] == '.'))
        return -1;
    char *end;
    *hz = strtod(name + 2, &end);
    if (end == name + 2 || !isfinite(*hz) || *hz < 0)
        return -1;
    if (*end == '\0') {
        *chan = "";
        return 0;
    }
    if (*end != '_' || end[1] == '\0')
        return -1;
    *chan = end + 1;
    return 0;
}

static const char *describe(const char *name)
{
    return name ? name : "(unnamed)";
}

/* A bin column's unit (see the top of the file): its scale into *kind,
 * the unit U into base[0 .. *blen) and S into *S — 0 for the older units
 * "|X|", "|X|^2" and "dB", which do not say how |X|² was normalised.
 * 0, or -1 for a unit that is none of these. */
static int parse_unit(const char *u, int *kind, const char **base, size_t *blen, double *S)
{
    *S = 0;
    *base = "";
    *blen = 0;
    if (!strcmp(u, "|X|") || !strcmp(u, "|X|^2") || !strcmp(u, "dB")) {
        *kind = u[0] == 'd' ? IN_DB : u[3] ? IN_POW : IN_MAG;
        return 0;
    }
    const int db = !strncmp(u, "dB re ", 6);
    if (db)
        u += 6;
    const char *slash = strrchr(u, '/');
    if (!slash)
        return -1;
    char *end;
    double v = strtod(slash + 1, &end);
    if (end == slash + 1 || *end || !isfinite(v) || !(v > 0))
        return -1;
    size_t n = (size_t)(slash - u);
    const int squared = n > 2 && !strncmp(slash - 2, "^2", 2);
    if ((db && !squared) || n == 0)
        return -1;
    *kind = db ? IN_DB : squared ? IN_POW : IN_MAG;
    *S = squared ? v : v * v;
    *base = u;
    *blen = squared ? n - 2 : n;
    return 0;
}

/* Check the input is a spectrum and learn its layout and calibration. 0
 * or -1 after host->error. */
static int read_layout(spectral *s, const joule_format *in)
{
    const joule_host *h = s->host;
    static const char hint[] = "expected spectrum bins f_<Hz>[_<channel>] with the fft plugin's units "
                               "FS/<r>, FS^2/<S> or dB re FS^2/<S>";
    const uint32_t nc = in->n_columns;
    /* every column a bin */
    double hz;
    const char *chan0 = "", *chan = "";
    for (uint32_t c = 0; c < nc; c++)
        if (parse_bin(in->names[c], &hz, &chan)) {
            h->error(h, "input is not a spectrum: column '%s' is not a bin (%s)", describe(in->names[c]), hint);
            return -1;
        }
    /* the first channel: the columns up to the first change of suffix */
    uint32_t nb = 1;
    parse_bin(in->names[0], &hz, &chan0);
    while (nb < nc && parse_bin(in->names[nb], &hz, &chan) == 0 && !strcmp(chan, chan0))
        nb++;
    if (nc % nb) {
        h->error(h, "input is not a spectrum: %u columns are not whole channels of %u bins", nc, nb);
        return -1;
    }
    s->nbins = nb;
    s->ngrp = nc / nb;
    s->freq = malloc(nb * sizeof *s->freq);
    s->cal = malloc((size_t)nc * sizeof *s->cal);
    if (!s->freq || !s->cal || jp_names_init(&s->unit_text, 2 * (size_t)s->ngrp)) {
        h->error(h, "out of memory");
        return -1;
    }
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t g = c / nb, k = c % nb;
        parse_bin(in->names[c], &hz, &chan);
        if (k == 0)
            chan0 = chan;
        if (g == 0) {
            if (k && !(hz > s->freq[k - 1])) {
                h->error(h, "input is not a spectrum: bin frequencies must increase ('%s' after '%s')",
                         in->names[c], in->names[c - 1]);
                return -1;
            }
            s->freq[k] = hz;
        } else if (hz != s->freq[k] || strcmp(chan, chan0)) {
            h->error(h, "input is not a spectrum: column '%s' breaks the layout of channel '%s' "
                        "(every channel must have the same bins, one channel after the other)",
                     in->names[c], chan0);
            return -1;
        }
    }
    s->k1 = s->freq[0] > 0 ? 0 : 1;
    if (nb - s->k1 < 2) {
        h->error(h, "input spectrum has %u bin(s) above 0 Hz: at least 2 are needed", nb - s->k1);
        return -1;
    }

    /* units: one scale throughout, calibrated throughout or not at all,
     * one unit U per channel; S may differ from bin to bin (DC, Nyquist) */
    if (!in->units) {
        h->error(h, "input is not a spectrum: its columns have no unit (%s)", hint);
        return -1;
    }
    const char *gbase = "";
    size_t gblen = 0;
    int calibrated = 0;
    for (uint32_t c = 0; c < nc; c++) {
        const uint32_t g = c / nb, k = c % nb;
        const char *u = in->units[c] ? in->units[c] : "";
        int kind;
        const char *base;
        size_t blen;
        double S;
        if (parse_unit(u, &kind, &base, &blen, &S)) {
            h->error(h, "input is not a spectrum: column '%s' has unit '%s' (%s)", describe(in->names[c]), u, hint);
            return -1;
        }
        if (c == 0) {
            s->in_scale = kind;
            calibrated = S > 0;
        }
        if (k == 0) {
            gbase = base;
            gblen = blen;
        }
        if (kind != s->in_scale || (S > 0) != calibrated || blen != gblen || strncmp(base, gbase, blen)) {
            h->error(h, "input is not a spectrum: column '%s' has unit '%s', column '%s' has '%s' (%s, of one "
                        "scale and one unit per channel)",
                     describe(in->names[c]), u, describe(in->names[g * nb]), in->units[g * nb], hint);
            return -1;
        }
        s->cal[c] = calibrated ? 1.0 / S : 0;
        if (k != nb - 1)
            continue;
        /* this channel's flux and band units */
        int bad;
        if (!calibrated) {
            bad = jp_names_set(&s->unit_text, 2 * (size_t)g, "|X|") ||
                  jp_names_set(&s->unit_text, 2 * (size_t)g + 1, "%s", "");
        } else {
            /* flux is in the magnitudes' unit, U/r of a bin inside the
             * spectrum (k1: with two bins above DC, not Nyquist) */
            bad = jp_names_set(&s->unit_text, 2 * (size_t)g, "%.*s/%.10g", (int)gblen, gbase,
                               sqrt(1.0 / s->cal[(size_t)g * nb + s->k1]));
            const int one = gblen == 1 && gbase[0] == '1', fs = gblen == 2 && !strncmp(gbase, "FS", 2);
            if (s->band_scale == SC_POWER)
                bad = bad || (one ? jp_names_set(&s->unit_text, 2 * (size_t)g + 1, "%s", "")
                                  : jp_names_set(&s->unit_text, 2 * (size_t)g + 1, "%.*s^2", (int)gblen, gbase));
            else
                bad = bad || (one  ? jp_names_set(&s->unit_text, 2 * (size_t)g + 1, "dB")
                              : fs ? jp_names_set(&s->unit_text, 2 * (size_t)g + 1, "dBFS")
                                   : jp_names_set(&s->unit_text, 2 * (size_t)g + 1, "dB re %.*s^2", (int)gblen,
                                                  gbase));
        }
        if (bad) {
            h->error(h, "out of memory");
            return -1;
        }
    }
    if (!calibrated) {
        free(s->cal);
        s->cal = NULL;
    }
    return 0;
}

/* ---- bands ------------------------------------------------------------- */

/* Bin range [k0, k1) of the half-open band [lo, hi) (closed [lo, hi] when
 * `closed`). DC, at 0 Hz, falls only in a band with lo = 0. */
static void band_bins(const spectral *s, band *b, int closed)
{
    uint32_t k = 0;
    while (k < s->nbins && s->freq[k] < b->lo)
        k++;
    b->k0 = k;
    while (k < s->nbins && (s->freq[k] < b->hi || (closed && s->freq[k] == b->hi)))
        k++;
    b->k1 = k;
}

/* Build the band list. 0, or -1 after host->error. */
static int make_bands(spectral *s, const char *spec, const char *node)
{
    const joule_host *h = s->host;
    double *edges;
    size_t ne;
    char msg[200];
    int kind = parse_bands(spec, &edges, &ne, msg, sizeof msg);
    if (kind < 0) {
        h->error(h, "%s", msg);
        return -1;
    }
    s->band_kind = kind;
    if (!s->cal) {
        free(edges);
        h->error(h, "band levels need a spectrum whose units say how it was scaled (the fft plugin's "
                    "FS/<r>, FS^2/<S> or dB re FS^2/<S>); this one's are '%s': leave bands out of features",
                 s->in_scale == IN_MAG ? "|X|" : s->in_scale == IN_POW ? "|X|^2" : "dB");
        return -1;
    }
    if (kind == B_EDGES) {
        s->bands = calloc(ne - 1, sizeof *s->bands);
        if (!s->bands) {
            free(edges);
            h->error(h, "out of memory");
            return -1;
        }
        s->nbands = (uint32_t)(ne - 1);
        for (uint32_t i = 0; i < s->nbands; i++) {
            band *b = &s->bands[i];
            b->lo = edges[i];
            b->hi = edges[i + 1];
            band_bins(s, b, i + 1 == s->nbands);
            if (b->k0 == b->k1)
                h->log(h, JOULE_LOG_WARN,
                       "%s: band %.10g-%.10g Hz holds no bin of the spectrum (bins are %g Hz apart): its level is NaN",
                       node, b->lo, b->hi, s->freq[s->nbins - 1] - s->freq[s->nbins - 2]);
        }
        free(edges);
        return 0;
    }
    /* IEC 61260-1 base-10 fractional octaves, a fixed list (the same
     * columns at every rate): mid-band 1000·G^(x/d) for G = 10^(3/10), d = 1
     * (octave) or 3 (third), edges G^(±1/(2d)) from it */
    const int third = kind == B_THIRD;
    const int x0 = third ? THIRD_X0 : OCT_X0;
    s->nbands = third ? N_THIRDS : N_OCTAVES;
    s->bands = calloc(s->nbands, sizeof *s->bands);
    if (!s->bands) {
        h->error(h, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < s->nbands; i++) {
        band *b = &s->bands[i];
        const int x = x0 + (int)i;                     /* in bands of 1/d octave */
        const double mid = 1000.0 * pow(10.0, (third ? x : 3 * x) / 10.0);
        const double half = pow(10.0, (third ? 1.0 : 3.0) / 20.0);
        b->lo = mid / half;
        b->hi = mid * half;
        b->label = nominal[third ? i : 3 * i + (size_t)(OCT_X0 * 3 - THIRD_X0)];
        band_bins(s, b, 0);
    }
    return 0;
}

/* ---- open -------------------------------------------------------------- */

static int spectral_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    spectral *s = calloc(1, sizeof *s);
    if (!s) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = s;
    s->host = h;
    const joule_format *in = &a->inputs[0];
    char msg[200];
    s->nfeat = parse_features(a->params[P_FEATURES].s, s->feats, msg, sizeof msg);
    if (s->nfeat < 0) {
        h->error(h, "%s", msg);
        return JOULE_ERROR;
    }
    s->r = a->params[P_ROLLOFF].f;
    s->band_scale = (int)a->params[P_SCALE].e;
    if (read_layout(s, in))
        return JOULE_ERROR;
    int want_bands = 0;
    for (int f = 0; f < s->nfeat; f++)
        want_bands |= s->feats[f] == F_BANDS;
    if (want_bands && make_bands(s, a->params[P_BANDS].s, a->node))
        return JOULE_ERROR;

    /* columns: feature by feature (bands: band by band), channel by channel */
    size_t per_grp = 0;
    for (int f = 0; f < s->nfeat; f++)
        per_grp += s->feats[f] == F_BANDS ? s->nbands : 1;
    size_t ncol = per_grp * s->ngrp;
    if (!ncol) {
        h->error(h, "no output columns: the spectrum holds no bin in any band");
        return JOULE_ERROR;
    }
    s->mag = malloc(s->nbins * sizeof *s->mag);
    s->pow = malloc(s->nbins * sizeof *s->pow);
    s->prev = calloc((size_t)s->ngrp * s->nbins, sizeof *s->prev);
    s->units = calloc(ncol, sizeof *s->units);
    if (!s->mag || !s->pow || !s->prev || !s->units || jp_names_init(&s->names, ncol)) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    size_t c = 0;
    for (int f = 0; f < s->nfeat; f++) {
        int feat = s->feats[f];
        uint32_t nsub = feat == F_BANDS ? s->nbands : 1;
        for (uint32_t b = 0; b < nsub; b++)
            for (uint32_t g = 0; g < s->ngrp; g++, c++) {
                const char *chan = "";
                double hz;
                parse_bin(in->names[(size_t)g * s->nbins], &hz, &chan);
                char base[96];
                if (feat != F_BANDS)
                    snprintf(base, sizeof base, "%s", feat_names[feat]);
                else if (s->band_kind != B_EDGES)
                    snprintf(base, sizeof base, "%s_%s", s->band_kind == B_OCTAVE ? "oct" : "third",
                             s->bands[b].label);
                else
                    snprintf(base, sizeof base, "band_%.10g-%.10g", s->bands[b].lo, s->bands[b].hi);
                if ((*chan ? jp_names_set(&s->names, c, "%s_%s", base, chan)
                           : jp_names_set(&s->names, c, "%s", base))) {
                    h->error(h, "out of memory");
                    return JOULE_ERROR;
                }
                s->units[c] = feat == F_FLUX    ? s->unit_text.v[2 * (size_t)g]
                              : feat == F_BANDS ? s->unit_text.v[2 * (size_t)g + 1]
                                                : feat_units[feat];
            }
    }

    joule_format *o = &a->outputs[0];
    o->kind = JOULE_FRAMES;
    o->n_columns = (uint32_t)ncol;
    o->rate = in->rate;
    o->t0 = in->t0;
    o->names = (const char *const *)s->names.v;
    o->units = s->units;
    o->length = in->length;
    o->out_num = 1;
    o->out_den = 1;
    return JOULE_OK;
}

/* ---- features ---------------------------------------------------------- */

/* The features of channel g of one input row, written with stride `ngrp`
 * from `dst`. */
static void features(spectral *s, uint32_t g, const float *x, float *dst)
{
    const uint32_t k1 = s->k1, nb = s->nbins, ngrp = s->ngrp;
    const double K = (double)(nb - k1);
    const double *f = s->freq;
    double *m = s->mag, *p = s->pow, *prev = s->prev + (size_t)g * nb;
    double sm = 0, sfm = 0, sp = 0, mmax = 0;
    for (uint32_t k = 0; k < nb; k++) {
        double v = x[k];
        switch (s->in_scale) {
        case IN_MAG: m[k] = v; p[k] = v * v; break;
        case IN_POW: p[k] = v > 0 ? v : 0; m[k] = sqrt(p[k]); break;
        default: p[k] = v <= FFT_FLOOR_DB ? 0 : pow(10.0, v / 10.0); m[k] = sqrt(p[k]); break;
        }
    }
    for (uint32_t k = k1; k < nb; k++) {
        sm += m[k];
        sfm += f[k] * m[k];
        sp += p[k];
        if (m[k] > mmax)
            mmax = m[k];
    }
    const int silent = !(sm > 0);
    const double nan = NAN;
    double centroid = silent ? nan : sfm / sm;
    for (int i = 0; i < s->nfeat; i++) {
        double v = 0;
        switch (s->feats[i]) {
        case F_CENTROID: v = centroid; break;
        case F_SPREAD:
            if (silent) {
                v = nan;
            } else {
                double acc = 0;
                for (uint32_t k = k1; k < nb; k++)
                    acc += (f[k] - centroid) * (f[k] - centroid) * m[k];
                v = sqrt(acc / sm);
            }
            break;
        case F_ROLLOFF:
            v = nan;
            if (!silent) {
                /* the same summation order as sp: with r = 1 the last bin
                 * reaches the total exactly */
                double target = s->r * sp, cum = 0;
                for (uint32_t k = k1; k < nb; k++) {
                    cum += p[k];
                    if (cum >= target) {
                        v = f[k];
                        break;
                    }
                }
            }
            break;
        case F_FLATNESS:
            if (silent) {
                v = nan;
            } else {
                double logsum = 0;
                for (uint32_t k = k1; k < nb; k++)
                    logsum += log(p[k]); /* a zero bin gives -inf: flatness 0 */
                v = exp(logsum / K) / (sp / K);
            }
            break;
        case F_FLUX:
            if (!s->have_prev) {
                v = nan;
            } else {
                double acc = 0;
                for (uint32_t k = k1; k < nb; k++)
                    acc += (m[k] - prev[k]) * (m[k] - prev[k]);
                v = sqrt(acc);
            }
            break;
        case F_CREST: v = silent ? nan : mmax / (sm / K); break;
        case F_ENTROPY:
            if (silent) {
                v = nan;
            } else {
                double hsum = 0;
                for (uint32_t k = k1; k < nb; k++)
                    if (p[k] > 0) {
                        double q = p[k] / sp;
                        hsum -= q * log(q);
                    }
                v = hsum / log(K);
            }
            break;
        case F_BANDS: {
            const double *cal = s->cal + (size_t)g * nb;
            for (uint32_t b = 0; b < s->nbands; b++) {
                const band *bd = &s->bands[b];
                double e = bd->k1 > bd->k0 ? 0 : nan;
                for (uint32_t k = bd->k0; k < bd->k1; k++)
                    e += p[k] * cal[k];
                if (s->band_scale == SC_DB)
                    e = e > 0 ? 10.0 * log10(e) : e == 0 ? -INFINITY : e; /* NaN stays */
                *dst = (float)e;
                dst += ngrp;
            }
            continue;
        }
        }
        *dst = (float)v;
        dst += ngrp;
    }
    memcpy(prev + k1, m + k1, (nb - k1) * sizeof *m);
}

static int spectral_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    spectral *s = self;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        const float *x = in->data + (size_t)r * in->n_columns;
        float *row = out[0].data + (size_t)r * out[0].n_columns;
        for (uint32_t g = 0; g < s->ngrp; g++)
            features(s, g, x + (size_t)g * s->nbins, row + g);
        s->have_prev = 1;
    }
    out[0].n_rows = in->n_rows;
    return JOULE_OK;
}

static void spectral_close(void *self)
{
    spectral *s = self;
    if (!s)
        return;
    free(s->freq);
    free(s->cal);
    free(s->bands);
    free(s->mag);
    free(s->pow);
    free(s->prev);
    free(s->units);
    jp_names_free(&s->names);
    jp_names_free(&s->unit_text);
    free(s);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "spectral",
    .version = "2.0.0",
    .summary = "spectral features per frame of an fft spectrum: centroid, spread, rolloff, flatness, flux, "
               "crest, entropy, calibrated octave / third-octave / custom band levels (dBFS or FS^2)",
    .role = JOULE_ROLE_FILTER,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = spectral_open,
    .process = spectral_process,
    .close = spectral_close,
    .check = spectral_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Computes spectral descriptors from an fft stream, per frame and channel: centroid, spread, "
                   "roll-off, flatness, flux, crest and entropy, and band levels over octave or third-octave bands "
                   "(IEC 61260 nominal centres) or custom edges. Band levels are calibrated from the fft's units, so "
                   "a sine of RMS level L dBFS reads L dB in its band; a band above Nyquist or holding no bin is "
                   "NaN.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
