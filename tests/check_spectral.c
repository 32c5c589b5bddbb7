/* check_spectral.c — the spectral plugin against analysis.
 *
 * A sine at a bin centre under a periodic Hann window has exactly three
 * bins, magnitudes 1/4, 1/2, 1/4 (relative) at k-1, k, k+1: the centroid
 * is f, the spread Δf/√2, the power shares 1/6, 4/6, 1/6 give the rolloff
 * and the entropy, the crest is 0.5·K / Σm, and the three bins hold the
 * sine's whole mean square A²/2. Gaussian white noise has a calibrated
 * power 2σ²/N in every bin (flat band power per bin) and an expected
 * periodogram flatness of e^-γ. A random-phase multisine with one
 * component per bin, under a rect window over whole periods, has an
 * exactly flat spectrum (flatness 1). Silence gives NaN, and -inf dB.
 *
 * Band levels: a sine of RMS level L dBFS at the mid-band frequency of
 * each IEC 61260-1 band reads L in that band at several rates, frames,
 * windows and zero paddings, the same multitone at 44.1 and 48 kHz reads
 * the same, bands that hold no bin are NaN with the same columns at every
 * rate, and with a rect window the band 0 .. Nyquist is the energy
 * plugin's mean square exactly (Parseval). The units on the streams are
 * read in-process from the plugins. A non-spectrum input is refused.
 * Output bytes do not depend on chunking or threads. */
#include "testutil.h"

#include <joule/harness.h>
#include <joule/joule.h>

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#define EULER_GAMMA 0.57721566490153286
/* CSV values are floats printed with 9 significant digits: a frequency
 * near 3 kHz reads back within 1e-5 Hz; bins are tens of Hz apart */

/* IEC 61260-1 nominal mid-band frequencies, third octaves x = -16 .. 13
 * (exact mid-band 1000·10^(x/10) Hz) */
static const char *const third_labels[30] = {
    "25",   "31.5", "40",   "50",   "63",   "80",   "100",  "125",   "160",   "200",
    "250",  "315",  "400",  "500",  "630",  "800",  "1000", "1250",  "1600",  "2000",
    "2500", "3150", "4000", "5000", "6300", "8000", "10000", "12500", "16000", "20000"};
#define THIRD_X0 (-16)

static double uniform01(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((double)(*s >> 8) + 0.5) / (1u << 24);
}

static double gaussian(uint32_t *s)
{
    double u = uniform01(s), v = uniform01(s);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* fft (with `fft_params`) -> spectral (with `sp_params`) -> csv, on the
 * float WAV of x. Returns the exit status. */
static int run_chain(const float *x, size_t frames, int channels, int rate, const char *fft_params,
                     const char *sp_params)
{
    tu_write_wav(tu_path("in.wav"), rate, channels, frames, x, 0);
    char graph[2048];
    snprintf(graph, sizeof graph,
             "[in]\nplugin = sndfile\n[s]\nplugin = fft\ninput = in\n%s\n[f]\nplugin = spectral\ninput = s\n%s\n"
             "[out]\nplugin = csv\ninput = f\n",
             fft_params, sp_params);
    tu_write_file(tu_path("g.ini"), graph);
    return tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o"));
}

static tu_csv read_out(void)
{
    tu_csv c;
    ck_assert_int_eq(tu_csv_read(tu_path("o/in.out.csv"), &c), 0);
    return c;
}

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    return c->v[row * c->cols + (size_t)k];
}

START_TEST(test_sine)
{
    const size_t n = 44100, N = 1024;
    const double rate = 44100, df = rate / N, A = 0.5, f = 64 * df;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(A * sin(2 * M_PI * f * i / rate));
    /* relative magnitudes 1/4, 1/2, 1/4; powers 1/16, 1/4, 1/16 */
    const double K = N / 2;                         /* bins 1 .. N/2 */
    const double q[3] = {1.0 / 6, 4.0 / 6, 1.0 / 6}; /* power shares */
    const double entropy = -(q[0] * log(q[0]) + q[1] * log(q[1]) + q[2] * log(q[2])) / log(K);
    const double L = 10 * log10(A * A / 2); /* the sine's mean square in dBFS, held by its three bins */
    static const char *const scales[] = {"magnitude", "power", "db"};
    for (int sc = 0; sc < 3; sc++) {
        char fp[128];
        snprintf(fp, sizeof fp, "frame = 1024\nhop = 512\nscale = %s", scales[sc]);
        ck_assert_msg(run_chain(x, n, 1, 44100, fp, "bands = 1000, 2000, 4000, 8000") == 0, "%s", tu_stderr());
        tu_csv c = read_out();
        ck_assert_uint_eq(c.rows, (n - N) / 512 + 1);
        ck_assert_uint_eq(c.cols, 1 + 7 + 3);
        for (size_t r = 0; r < c.rows; r++) {
            ck_assert_double_eq_tol(at(&c, r, "centroid"), f, 0.5);
            /* Δf/√2 from the three bins; the float32 noise floor of the
             * transform (~1e-9 of Σm per bin) weighted by (f - C)² over the
             * far bins adds some 80 Hz² to the 927 Hz² variance: the exact
             * check is test_two_tones, where the spread is large */
            ck_assert_double_eq_tol(at(&c, r, "spread"), df / sqrt(2.0), df / sqrt(2.0) * 0.1);
            /* cumulative power share reaches 5/6 < 0.85 at bin 64: rolloff at bin 65 */
            ck_assert_double_eq_tol(at(&c, r, "rolloff"), 65 * df, 1e-3);
            ck_assert_double_lt(at(&c, r, "flatness"), 1e-3);
            ck_assert_double_eq_tol(at(&c, r, "crest"), 0.5 * K, 0.5 * K * 1e-3);
            ck_assert_double_eq_tol(at(&c, r, "entropy"), entropy, 1e-4);
            if (r == 0)
                ck_assert(isnan(at(&c, r, "flux")));
            else /* a period divides the hop: identical frames */
                ck_assert_double_lt(at(&c, r, "flux"), 1e-4 * A * N);
            ck_assert_double_eq_tol(at(&c, r, "band_2000-4000"), L, 1e-3);
            ck_assert_double_lt(at(&c, r, "band_1000-2000"), L - 90);
            ck_assert_double_lt(at(&c, r, "band_4000-8000"), L - 90);
        }
        tu_csv_free(&c);
    }
    /* a lower rolloff fraction: 5/6 >= 0.8 is reached at bin 64 */
    ck_assert_msg(run_chain(x, n, 1, 44100, "frame = 1024", "features = rolloff\nrolloff = 0.8") == 0, "%s",
                  tu_stderr());
    tu_csv c = read_out();
    ck_assert_uint_eq(c.cols, 2);
    for (size_t r = 0; r < c.rows; r++)
        ck_assert_double_eq_tol(at(&c, r, "rolloff"), 64 * df, 1e-3);
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_two_tones)
{
    /* sines of amplitude 0.4 and 0.2 at bins 40 and 120 of 1024, rect
     * window over whole periods: two bins, magnitudes 2:1 (powers 4:1),
     * nothing else. Weights 2/3 and 1/3 put the magnitude-weighted
     * centroid at (2 f1 + f2)/3 (a power-weighted one would be at
     * (4 f1 + f2)/5) and the spread at (f2 - f1)·√2/3. */
    const size_t n = 16384, N = 1024;
    const double rate = 44100, df = rate / N, f1 = 40 * df, f2 = 120 * df, K = N / 2, D = f2 - f1;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.4 * sin(2 * M_PI * f1 * i / rate) + 0.2 * cos(2 * M_PI * f2 * i / rate));
    ck_assert_msg(run_chain(x, n, 1, 44100, "frame = 1024\nhop = 1024\nwindow = rect",
                            "features = centroid, spread, rolloff, crest, entropy, flatness") == 0,
                  "%s", tu_stderr());
    tu_csv c = read_out();
    ck_assert_uint_eq(c.rows, n / N);
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq_tol(at(&c, r, "centroid"), (2 * f1 + f2) / 3, 0.5);
        ck_assert_double_eq_tol(at(&c, r, "spread"), D * sqrt(2.0) / 3, D * 1e-3);
        ck_assert_double_eq_tol(at(&c, r, "rolloff"), f2, 1e-3); /* 0.8 of the power at f1 < 0.85 */
        ck_assert_double_eq_tol(at(&c, r, "crest"), K * 2 / 3, K * 1e-3);
        ck_assert_double_eq_tol(at(&c, r, "entropy"), -(0.8 * log(0.8) + 0.2 * log(0.2)) / log(K), 1e-4);
        ck_assert_double_lt(at(&c, r, "flatness"), 1e-3);
    }
    tu_csv_free(&c);
    ck_assert_msg(run_chain(x, n, 1, 44100, "frame = 1024\nhop = 1024\nwindow = rect",
                            "features = rolloff\nrolloff = 0.7") == 0,
                  "%s", tu_stderr());
    c = read_out();
    for (size_t r = 0; r < c.rows; r++)
        ck_assert_double_eq_tol(at(&c, r, "rolloff"), f1, 1e-3);
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_white_noise)
{
    /* 12 s of Gaussian noise: calibrated band power per bin within 1 dB
     * of 2σ²/N (E|X_k|² = σ²·Σw², divided by N·Σw²/2) in every octave
     * band, averaged over the frames; periodogram flatness e^-γ */
    const size_t rate = 44100, n = 12 * rate, N = 1024;
    const double sigma = 0.1;
    float *x = malloc(n * sizeof *x);
    uint32_t s = 12345;
    double var = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(sigma * gaussian(&s));
        var += (double)x[i] * x[i];
    }
    var /= n;
    ck_assert_msg(run_chain(x, n, 1, (int)rate, "frame = 1024\nhop = 512\nscale = power",
                            "features = flatness, bands\nbands = octave\nscale = power") == 0,
                  "%s", tu_stderr());
    tu_csv c = read_out();
    const double expect = 2 * var / N;
    int nbands = 0;
    for (size_t col = 1; col < c.cols; col++) {
        if (strncmp(c.names[col], "oct_", 4))
            continue;
        nbands++;
        /* the exact mid-band frequency: the nominal one within 3 % */
        double fc = strtod(c.names[col] + 4, NULL);
        fc = 1000 * pow(10, round(10 * log10(fc / 1000) / 3) * 3 / 10);
        double lo = fc * pow(10, -0.15), hi = fc * pow(10, 0.15);
        int bins = 0;
        for (size_t k = 1; k <= N / 2; k++) {
            double fk = (double)k * rate / N;
            bins += fk >= lo && fk < hi;
        }
        ck_assert_msg(bins > 0, "band %s holds no bin", c.names[col]);
        double mean = 0;
        for (size_t r = 0; r < c.rows; r++)
            mean += c.v[r * c.cols + col];
        mean /= c.rows;
        double db = 10 * log10(mean / bins / expect);
        ck_assert_msg(fabs(db) < 1.0, "band %s: %.2f dB from flat (%d bins)", c.names[col], db, bins);
    }
    /* 31.5 Hz .. 16 kHz */
    ck_assert_int_eq(nbands, 10);
    double flat = 0;
    for (size_t r = 0; r < c.rows; r++)
        flat += at(&c, r, "flatness");
    flat /= c.rows;
    ck_assert_double_eq_tol(flat, exp(-EULER_GAMMA), 0.01);
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_flat_spectrum)
{
    /* periodic white noise: a component of equal amplitude and random phase
     * in every bin 1 .. N/2 (the Nyquist one real, half the amplitude), so
     * that a rect window over a period sees a flat magnitude spectrum */
    const size_t N = 512, periods = 8, n = N * periods;
    double *one = calloc(N, sizeof *one);
    uint32_t s = 99;
    for (size_t k = 1; k < N / 2; k++) {
        double ph = 2 * M_PI * uniform01(&s);
        for (size_t i = 0; i < N; i++)
            one[i] += cos(2 * M_PI * k * i / N + ph);
    }
    double peak = 0;
    for (size_t i = 0; i < N; i++) {
        one[i] += 0.5 * ((i & 1) ? -1 : 1);
        peak = fabs(one[i]) > peak ? fabs(one[i]) : peak;
    }
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.9 * one[i % N] / peak);
    ck_assert_msg(run_chain(x, n, 1, 16000, "frame = 512\nhop = 128\nwindow = rect",
                            "features = flatness, entropy, crest") == 0,
                  "%s", tu_stderr());
    tu_csv c = read_out();
    ck_assert_uint_eq(c.rows, (n - N) / 128 + 1);
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_gt(at(&c, r, "flatness"), 0.9);
        ck_assert_double_gt(at(&c, r, "entropy"), 0.99);
        ck_assert_double_lt(at(&c, r, "crest"), 1.01);
    }
    tu_csv_free(&c);
    free(x);
    free(one);
}
END_TEST

START_TEST(test_silence)
{
    const size_t n = 4096;
    float *x = calloc(n, sizeof *x);
    ck_assert_msg(run_chain(x, n, 1, 8000, "frame = 256\nhop = 256", "bands = 100, 1000, 3000") == 0, "%s",
                  tu_stderr());
    tu_csv c = read_out();
    ck_assert_uint_eq(c.rows, n / 256);
    static const char *const undefined[] = {"centroid", "spread", "rolloff", "flatness", "crest", "entropy"};
    for (size_t r = 0; r < c.rows; r++) {
        for (size_t i = 0; i < sizeof undefined / sizeof undefined[0]; i++)
            ck_assert_msg(isnan(at(&c, r, undefined[i])), "%s of silence is not NaN", undefined[i]);
        /* zero power: -inf dB */
        ck_assert(isinf(at(&c, r, "band_100-1000")) && at(&c, r, "band_100-1000") < 0);
        if (r)
            ck_assert_double_eq(at(&c, r, "flux"), 0.0);
    }
    tu_csv_free(&c);
    /* and 0 in power, from a dB spectrum whose bins sit at the fft's floor */
    ck_assert_msg(run_chain(x, n, 1, 8000, "frame = 256\nhop = 256\nscale = db",
                            "bands = 100, 1000, 3000\nscale = power") == 0,
                  "%s", tu_stderr());
    c = read_out();
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert(isnan(at(&c, r, "centroid")));
        ck_assert_double_eq(at(&c, r, "band_100-1000"), 0.0);
        ck_assert_double_eq(at(&c, r, "band_1000-3000"), 0.0);
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_channels_and_names)
{
    /* per-channel features, named <feature>_<channel>; third octaves */
    const size_t n = 16384, N = 1024;
    const double rate = 32000, f0 = 40 * rate / N, f1 = 200 * rate / N;
    float *x = malloc(2 * n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)(0.3 * sin(2 * M_PI * f0 * i / rate));
        x[2 * i + 1] = (float)(0.6 * sin(2 * M_PI * f1 * i / rate));
    }
    ck_assert_msg(run_chain(x, n, 2, 32000, "mix = channels", "features = centroid, bands\nbands = third") == 0, "%s",
                  tu_stderr());
    tu_csv c = read_out();
    ck_assert_str_eq(c.names[1], "centroid_ch0");
    ck_assert_str_eq(c.names[2], "centroid_ch1");
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq_tol(at(&c, r, "centroid_ch0"), f0, 0.5);
        ck_assert_double_eq_tol(at(&c, r, "centroid_ch1"), f1, 0.5);
    }
    /* band columns: third_<nominal>_<channel>, channels alternating, the
     * 30 IEC bands whatever the rate */
    ck_assert_uint_eq(c.cols, 3 + 2 * 30);
    for (size_t b = 0; b < 30; b++) {
        char want[64];
        snprintf(want, sizeof want, "third_%s_ch0", third_labels[b]);
        ck_assert_str_eq(c.names[3 + 2 * b], want);
        snprintf(want, sizeof want, "third_%s_ch1", third_labels[b]);
        ck_assert_str_eq(c.names[4 + 2 * b], want);
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

/* ---- calibrated band levels ------------------------------------------- */

/* Exact IEC 61260-1 band b of the list: mid-band 1000·G^(x/3) for third
 * octaves (x = -16 + b), 1000·G^x for octaves (x = -5 + b), G = 10^(3/10);
 * edges G^(±1/6) and G^(±1/2) from it. */
static void iec_band(int third, int b, double *mid, double *lo, double *hi)
{
    double thirds = third ? THIRD_X0 + b : 3 * (-5 + b);
    *mid = 1000 * pow(10, thirds / 10);
    double half = pow(10, (third ? 1.0 : 3.0) / 20);
    *lo = *mid / half;
    *hi = *mid * half;
}

static const char *iec_label(int third, int b)
{
    return third_labels[third ? b : 3 * b + 1];
}

/* Does some bin k·rate/N, k = 0 .. N/2, lie in [lo, hi)? */
static int holds_bin(double lo, double hi, int rate, int N)
{
    for (int k = 0; k <= N / 2; k++) {
        double f = (double)k * rate / N;
        if (f >= lo && f < hi)
            return 1;
    }
    return 0;
}

/* One analysis set-up, and how far inside its band (in bin widths
 * rate/frame, also from Nyquist) a sine must lie to be checked.
 *
 * Leakage, measured with a 64-times zero-padded DFT of each window: the
 * fraction of a sine's power beyond ±d bin widths is, for hann, 5e-4 at
 * d = 2 and 6e-5 at d = 3; hamming 3.5e-4 for d = 2 .. 3 (its far
 * sidelobes fall slowly); blackman 2e-6 at d = 3; rect about 1/(π² d)
 * (1 % at d = 10, 0.5 % at d = 20), up to twice that where the bins sample
 * the sidelobes at their peaks. So a sine 3 bin widths inside its band
 * loses under 0.1 % of its power (0.005 dB) under hann, hamming and
 * blackman, and one 20 bin widths inside under 1 % (0.045 dB) under rect;
 * the tolerances below add room for float32 rounding. Low bands, narrower
 * than a few bin widths, are not checked: there a band holds one or two
 * bins and its level depends on where they fall. */
typedef struct band_case {
    int rate, frame, size;
    const char *window;
    int third;
    double guard; /* bin widths */
    double tol;   /* dB */
} band_case;

static const band_case band_cases[] = {
    {44100, 1024, 0, "hann", 1, 3, 0.02},
    {48000, 1024, 0, "hann", 1, 3, 0.02},
    {48000, 8192, 0, "hann", 1, 3, 0.02},
    {44100, 4096, 8192, "hann", 1, 3, 0.02},   /* zero-padded twice */
    {32000, 2048, 0, "hamming", 1, 3, 0.02},
    {96000, 4096, 6000, "blackman", 1, 3, 0.02}, /* padded, not a power of 2 */
    {22050, 8192, 0, "rect", 1, 20, 0.06},
    {44100, 2048, 0, "hann", 0, 3, 0.02},
    {8000, 1000, 1001, "hann", 0, 3, 0.02},    /* odd N: no Nyquist bin */
    {16000, 4096, 0, "rect", 0, 20, 0.06},
};

START_TEST(test_band_centres)
{
    /* one channel per checked band, holding a sine at its mid-band
     * frequency at a level of its own; every channel reads its level in
     * its band, and every band that holds no bin is NaN */
    const band_case *bc = &band_cases[_i];
    const int nb = bc->third ? 30 : 10;
    const int N = bc->size ? bc->size : bc->frame;
    const double width = (double)bc->rate / bc->frame, nyq = bc->rate / 2.0;
    int chan_band[30], nch = 0;
    for (int b = 0; b < nb; b++) {
        double mid, lo, hi;
        iec_band(bc->third, b, &mid, &lo, &hi);
        if (mid - lo >= bc->guard * width && fmin(hi, nyq) - mid >= bc->guard * width)
            chan_band[nch++] = b;
    }
    ck_assert_msg(nch >= 4, "case %d checks only %d bands", _i, nch);
    const size_t n = 2 * (size_t)bc->frame; /* 3 frames at hop frame/2 */
    float *x = malloc(n * nch * sizeof *x);
    double level[30];
    for (int j = 0; j < nch; j++) {
        double mid, lo, hi;
        iec_band(bc->third, chan_band[j], &mid, &lo, &hi);
        level[j] = -6 - 3 * (j % 8); /* dBFS */
        double A = sqrt(2) * pow(10, level[j] / 20);
        for (size_t i = 0; i < n; i++)
            x[i * nch + j] = (float)(A * sin(2 * M_PI * mid * i / bc->rate + 0.37 * j));
    }
    char fp[256];
    snprintf(fp, sizeof fp, "frame = %d\nhop = %d\nsize = %d\nwindow = %s\nmix = channels", bc->frame,
             bc->frame / 2, bc->size, bc->window);
    ck_assert_msg(run_chain(x, n, nch, bc->rate, fp,
                            bc->third ? "features = bands\nbands = third" : "features = bands\nbands = octave") == 0,
                  "%s", tu_stderr());
    tu_csv c = read_out();
    ck_assert_uint_eq(c.rows, 3);
    ck_assert_uint_eq(c.cols, 1 + (size_t)nb * nch);
    double worst = 0;
    for (int b = 0; b < nb; b++) {
        double mid, lo, hi;
        iec_band(bc->third, b, &mid, &lo, &hi);
        const int held = holds_bin(lo, hi, bc->rate, N);
        for (int j = 0; j < nch; j++) {
            char col[64];
            snprintf(col, sizeof col, "%s_%s_ch%d", bc->third ? "third" : "oct", iec_label(bc->third, b), j);
            ck_assert_str_eq(c.names[1 + (size_t)b * nch + j], col);
            for (size_t r = 0; r < c.rows; r++) {
                double v = at(&c, r, col);
                ck_assert_msg(held ? !isnan(v) : isnan(v), "case %d: %s = %g (%s bin)", _i, col, v,
                              held ? "holds a" : "holds no");
                if (chan_band[j] == b) {
                    double err = v - level[j];
                    ck_assert_msg(fabs(err) <= bc->tol, "case %d (%d Hz, frame %d, size %d, %s): %s = %.4f dB, "
                                  "sine at %.4f dB", _i, bc->rate, bc->frame, N, bc->window, col, v, level[j]);
                    worst = fmax(worst, fabs(err));
                }
            }
        }
    }
    if (getenv("SPECTRAL_REPORT"))
        fprintf(stderr, "case %d: %d Hz frame %d N %d %s %s: %d bands checked (from %s Hz), worst error %.4f dB\n",
                _i, bc->rate, bc->frame, N, bc->window, bc->third ? "third" : "octave", nch,
                iec_label(bc->third, chan_band[0]), worst);
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_rates)
{
    /* the same multitone — a sine at the mid-band frequency of every third
     * octave from 100 Hz, each at its own level — at 44.1 and 48 kHz,
     * 16384-point Hann frames: every band reads the same level at both
     * rates (and the sine's), within 0.1 dB; the columns are the same at
     * every rate, 8 and 96 kHz too, and the bands above 4 kHz are NaN at
     * 8 kHz. 100 Hz is 3.7 bin widths inside its band at 48 kHz, where
     * the Hann window leaks under 1e-4 of a sine's power: a neighbouring
     * tone (at most 9 dB louder) adds under 0.01 dB. */
    static const int rates[] = {44100, 48000, 8000, 96000};
    const int first = 6; /* band 6: 100 Hz */
    const size_t frame = 16384, n = 2 * frame;
    double level[30], mean[2][30];
    char *header0 = NULL;
    for (int ri = 0; ri < 4; ri++) {
        const int rate = rates[ri];
        float *x = calloc(n, sizeof *x);
        for (int b = first; b < 30; b++) {
            double mid, lo, hi;
            iec_band(1, b, &mid, &lo, &hi);
            level[b] = -33 - 3 * (b % 4);
            if (mid > rate / 2.0 - 3.0 * rate / frame)
                continue;
            double A = sqrt(2) * pow(10, level[b] / 20);
            for (size_t i = 0; i < n; i++)
                x[i] += (float)(A * sin(2 * M_PI * mid * i / rate + 0.5 * b));
        }
        ck_assert_msg(run_chain(x, n, 1, rate, "frame = 16384\nhop = 8192", "features = bands\nbands = third") == 0,
                      "%s", tu_stderr());
        free(x);
        char *text = tu_read_file(tu_path("o/in.out.csv"));
        ck_assert(text);
        *strchr(text, '\n') = '\0';
        if (!header0)
            header0 = text;
        else {
            ck_assert_str_eq(text, header0);
            free(text);
        }
        tu_csv c = read_out();
        ck_assert_uint_eq(c.cols, 31);
        for (int b = 0; b < 30; b++) {
            double mid, lo, hi;
            iec_band(1, b, &mid, &lo, &hi);
            char col[32];
            snprintf(col, sizeof col, "third_%s", third_labels[b]);
            if (rate == 8000 && lo > 4000)
                ck_assert_msg(isnan(at(&c, 0, col)), "%s at 8 kHz: %g", col, at(&c, 0, col));
            if (b < first || mid > rate / 2.0 - 3.0 * rate / frame)
                continue;
            double sum = 0;
            for (size_t r = 0; r < c.rows; r++) {
                double v = at(&c, r, col);
                ck_assert_msg(fabs(v - level[b]) < 0.05, "%d Hz: %s = %.4f dB, the sine is at %.1f", rate, col, v,
                              level[b]);
                sum += v;
            }
            if (ri < 2)
                mean[ri][b] = sum / c.rows;
        }
        tu_csv_free(&c);
    }
    double worst = 0;
    for (int b = first; b < 30; b++) {
        double d = mean[0][b] - mean[1][b];
        ck_assert_msg(fabs(d) < 0.1, "third_%s: %.4f dB at 44.1 kHz, %.4f at 48", third_labels[b], mean[0][b],
                      mean[1][b]);
        worst = fmax(worst, fabs(d));
    }
    if (getenv("SPECTRAL_REPORT"))
        fprintf(stderr, "44.1 vs 48 kHz: largest difference %.5f dB over third_100 .. third_20000\n", worst);
    free(header0);
}
END_TEST

START_TEST(test_parseval)
{
    /* The bins of a whole spectrum sum to Σ(w x)²/Σw², the frame's mean
     * square weighted by w²: with a rect window that is the energy
     * plugin's mean square exactly, so the listed band 0 .. Nyquist (DC
     * in, the last band closed so Nyquist is in too) reads the energy
     * plugin's dBFS. Under Hann it is computed here from the samples.
     * Noise with a DC offset, 8 kHz, frames of 1000 (even N) every 500. */
    const size_t n = 8000, frame = 1000, hop = 500;
    float *x = malloc(n * sizeof *x);
    uint32_t s = 77;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.05 + 0.2 * gaussian(&s));
    tu_write_wav(tu_path("in.wav"), 8000, 1, n, x, 0);
    for (int scale = 0; scale < 2; scale++) {
        char graph[1024];
        snprintf(graph, sizeof graph,
                 "[in]\nplugin = sndfile\n"
                 "[s]\nplugin = fft\ninput = in\nframe = 1000\nhop = 500\nwindow = rect\nscale = %s\n"
                 "[f]\nplugin = spectral\ninput = s\nfeatures = bands\nbands = 0, 2000, 4000\nscale = %s\n"
                 "[out]\nplugin = csv\ninput = f\n"
                 "[e]\nplugin = energy\ninput = in\nframe = 1000\nhop = 500\nfeatures = ms, db\n"
                 "[eout]\nplugin = csv\ninput = e\n",
                 scale ? "power" : "magnitude", scale ? "power" : "db");
        tu_write_file(tu_path("g.ini"), graph);
        ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o")) == 0, "%s",
                      tu_stderr());
        tu_csv c = read_out(), e;
        ck_assert_int_eq(tu_csv_read(tu_path("o/in.eout.csv"), &e), 0);
        ck_assert_uint_eq(c.rows, (n - frame) / hop + 1);
        ck_assert_uint_eq(e.rows, c.rows);
        for (size_t r = 0; r < c.rows; r++) {
            double lo = at(&c, r, "band_0-2000"), hi = at(&c, r, "band_2000-4000");
            if (scale) {
                double ms = at(&e, r, "ms_ch0");
                ck_assert_double_eq_tol(lo + hi, ms, ms * 1e-5);
            } else {
                double db = at(&e, r, "db_ch0");
                ck_assert_double_eq_tol(10 * log10(pow(10, lo / 10) + pow(10, hi / 10)), db, 1e-4);
            }
        }
        tu_csv_free(&c);
        tu_csv_free(&e);
    }
    /* Hann, zero-padded to 1500 points, from a dB spectrum */
    ck_assert_msg(run_chain(x, n, 1, 8000, "frame = 1000\nhop = 500\nsize = 1500\nscale = db",
                            "features = bands\nbands = 0, 4000\nscale = power") == 0,
                  "%s", tu_stderr());
    tu_csv c = read_out();
    for (size_t r = 0; r < c.rows; r++) {
        double sw = 0, swx = 0;
        for (size_t i = 0; i < frame; i++) {
            double w = 0.5 - 0.5 * cos(2 * M_PI * i / frame), v = x[r * hop + i];
            sw += w * w;
            swx += w * w * v * v;
        }
        ck_assert_double_eq_tol(at(&c, r, "band_0-4000"), swx / sw, swx / sw * 1e-4);
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

/* ---- the units on the streams, read from the plugins in-process ------- */

/* A unit "<prefix><number>": the number, checked against `want`. */
static void check_unit(const char *unit, const char *prefix, double want)
{
    size_t len = strlen(prefix);
    ck_assert_msg(!strncmp(unit, prefix, len), "unit '%s', expected %s%g", unit, prefix, want);
    char *end;
    double v = strtod(unit + len, &end);
    ck_assert_msg(*end == '\0' && fabs(v - want) <= want * 1e-8, "unit '%s', expected %s%.10g", unit, prefix, want);
}

/* Open `plugin` through the harness on one input format, its parameters at
 * their defaults but for `params` ("name = value" lines). The output
 * format: the harness's, valid until *h is freed. */
static const joule_format *open_plugin(const char *plugin, const joule_format *in, const char *params,
                                       joule_harness **h)
{
    *h = tu_harness_open(plugin, params, in);
    return joule_harness_output_format(*h, 0);
}

START_TEST(test_units)
{
    static const char *const ch[] = {"ch0", "ch1"};
    const char *fs[] = {"FS", "FS"};
    joule_format sig = {.kind = JOULE_SIGNAL, .n_columns = 1, .rate = 48000, .names = ch, .units = fs};
    const joule_format *spec, *feat;
    joule_harness *fft, *sp;
    /* Hann, 1024 points: Σw² = 3·1024/8 = 384, S = 1024·384/2 = 196608
     * (DC and Nyquist 393216) */
    static const char *const scales[] = {"power", "magnitude", "db"};
    for (int sc = 0; sc < 3; sc++) {
        char item[32];
        snprintf(item, sizeof item, "scale = %s", scales[sc]);
        spec = open_plugin("fft", &sig, item, &fft);
        ck_assert_uint_eq(spec->n_columns, 513);
        const char *prefix = sc == 0 ? "FS^2/" : sc == 1 ? "FS/" : "dB re FS^2/";
        for (uint32_t k = 0; k < 513; k++) {
            double S = k == 0 || k == 512 ? 393216 : 196608;
            check_unit(spec->units[k], prefix, sc == 1 ? sqrt(S) : S);
        }
        /* spectral on it: the bands in dBFS or FS^2, flux in FS/√S */
        feat = open_plugin("spectral", spec, sc ? "features = centroid, flux, bands\nscale = db"
                                                : "features = centroid, flux, bands\nscale = power",
                           &sp);
        ck_assert_uint_eq(feat->n_columns, 12);
        ck_assert_str_eq(feat->units[0], "Hz");
        check_unit(feat->units[1], "FS/", sqrt(196608));
        for (int b = 0; b < 10; b++) {
            char want[32];
            snprintf(want, sizeof want, "oct_%s", iec_label(0, b));
            ck_assert_str_eq(feat->names[2 + b], want);
            ck_assert_str_eq(feat->units[2 + b], sc ? "dBFS" : "FS^2");
        }
        joule_harness_free(sp);
        joule_harness_free(fft);
    }
    /* odd N = 1001, frame 1000, Hann: Σw² = 375, S = 187687.5 for every bin
     * but DC (no Nyquist bin); per channel, in the channel's unit */
    const char *sensor[] = {"m/s^2", ""};
    sig.n_columns = 2;
    sig.units = sensor;
    spec = open_plugin("fft", &sig, "frame = 1000\nsize = 1001\nmix = channels\nscale = db", &fft);
    ck_assert_uint_eq(spec->n_columns, 2 * 501);
    check_unit(spec->units[0], "dB re (m/s^2)^2/", 375375);
    check_unit(spec->units[500], "dB re (m/s^2)^2/", 187687.5);
    check_unit(spec->units[501], "dB re 1^2/", 375375);
    check_unit(spec->units[1001], "dB re 1^2/", 187687.5);
    feat = open_plugin("spectral", spec, "features = bands\nbands = third", &sp);
    ck_assert_uint_eq(feat->n_columns, 60);
    ck_assert_str_eq(feat->names[0], "third_25_ch0");
    ck_assert_str_eq(feat->units[0], "dB re (m/s^2)^2");
    ck_assert_str_eq(feat->names[1], "third_25_ch1");
    ck_assert_str_eq(feat->units[1], "dB");
    joule_harness_free(sp);
    feat = open_plugin("spectral", spec, "features = bands\nscale = power", &sp);
    ck_assert_str_eq(feat->units[0], "(m/s^2)^2");
    ck_assert_str_eq(feat->units[1], "");
    joule_harness_free(sp);
    joule_harness_free(fft);

    /* a spectrum whose units do not say how it was scaled: shape features
     * only */
    static const char *const bins[] = {"f_0", "f_100", "f_200", "f_300"};
    static const char *const old[] = {"|X|", "|X|", "|X|", "|X|"};
    joule_format raw = {.kind = JOULE_FRAMES, .n_columns = 4, .rate = 10, .names = bins, .units = old};
    sp = tu_harness("spectral", "features = centroid, bands", &raw);
    ck_assert_int_eq(joule_harness_open(sp), JOULE_E_PLUGIN); /* open returned JOULE_ERROR */
    ck_assert_msg(strstr(joule_harness_error(sp), "units"), "message: %s", joule_harness_error(sp));
    joule_harness_free(sp);
    feat = open_plugin("spectral", &raw, "features = centroid, flux", &sp);
    ck_assert_str_eq(feat->units[1], "|X|");
    joule_harness_free(sp);
}
END_TEST

START_TEST(test_refuses)
{
    float x[2048] = {0};
    tu_write_wav(tu_path("in.wav"), 8000, 1, 2048, x, 0);
    /* not a spectrum: frame energies */
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[e]\nplugin = energy\ninput = in\n"
                                    "[f]\nplugin = spectral\ninput = e\n[out]\nplugin = csv\ninput = f\n");
    ck_assert_int_ne(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o")), 0);
    ck_assert_msg(strstr(tu_stderr(), "not a spectrum"), "message: %s", tu_stderr());
    ck_assert(!tu_exists(tu_path("o/in.out.csv")));
    /* bad parameters, before running */
    ck_assert_int_ne(run_chain(x, 2048, 1, 8000, "", "features = centroid, loudness"), 0);
    ck_assert_msg(strstr(tu_stderr(), "loudness"), "message: %s", tu_stderr());
    ck_assert_int_ne(run_chain(x, 2048, 1, 8000, "", "bands = 100, 50"), 0);
    ck_assert_msg(strstr(tu_stderr(), "increase"), "message: %s", tu_stderr());
    ck_assert_int_eq(run_chain(x, 2048, 1, 8000, "", "bands = 0, , 500"), 2);
    ck_assert_msg(strstr(tu_stderr(), "an empty item"), "message: %s", tu_stderr());
    ck_assert_int_eq(run_chain(x, 2048, 1, 8000, "", "bands = 0, 1e300"), 2);
    ck_assert_msg(strstr(tu_stderr(), "above any rate's Nyquist"), "message: %s", tu_stderr());
}
END_TEST

START_TEST(test_chunk_invariance)
{
    /* noise with a silent stretch (NaN rows), stereo, per channel */
    const size_t n = 4000;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 8;
    for (size_t i = 0; i < 2 * n; i++)
        x[i] = (i / 2 > 1500 && i / 2 < 2600) ? 0.0f : (float)(0.2 * gaussian(&s));
    tu_write_wav(tu_path("y.wav"), 22050, 2, n, x, 0);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n"
                                    "[s]\nplugin = fft\ninput = in\nframe = 256\nhop = 96\nmix = channels\n"
                                    "[f]\nplugin = spectral\ninput = s\nbands = third\n"
                                    "[out]\nplugin = csv\ninput = f\n");
    static const char *const outs[] = {"y.out.csv"};
    char *why = tu_invariance(tu_path("g.ini"), tu_path("y.wav"), outs, 1);
    ck_assert_msg(why == NULL, "%s", why);
    char *ref = tu_read_file(tu_path("inv-1-1/y.out.csv"));
    ck_assert_msg(strstr(ref, "nan"), "no silent frame in the test input");
    free(ref);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spectral");
    TCase *tc = tcase_create("Numerics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sine);
    tcase_add_test(tc, test_two_tones);
    tcase_add_test(tc, test_white_noise);
    tcase_add_test(tc, test_flat_spectrum);
    tcase_add_test(tc, test_silence);
    tcase_add_test(tc, test_channels_and_names);
    tcase_add_test(tc, test_refuses);
    tcase_add_loop_test(tc, test_band_centres, 0, (int)(sizeof band_cases / sizeof band_cases[0]));
    tcase_add_test(tc, test_rates);
    tcase_add_test(tc, test_parseval);
    tcase_add_test(tc, test_units);
    suite_add_tcase(s, tc);
    TCase *inv = tcase_create("Invariance");
    tcase_set_timeout(inv, 120);
    tcase_add_test(inv, test_chunk_invariance);
    suite_add_tcase(s, inv);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
