/* check_spectral.c — the spectral plugin against analysis.
 *
 * A sine at a bin centre under a periodic Hann window has exactly three
 * bins, magnitudes 1/4, 1/2, 1/4 (relative) at k-1, k, k+1: the centroid
 * is f, the spread Δf/√2, the power shares 1/6, 4/6, 1/6 give the rolloff
 * and the entropy, the crest is 0.5·K / Σm. Gaussian white noise has
 * E|X_k|² = σ²·Σw² in every bin (band energy per bin is flat) and an
 * expected periodogram flatness of e^-γ. A random-phase multisine with one
 * component per bin, under a rect window over whole periods, has an
 * exactly flat spectrum (flatness 1). Silence gives NaN. A non-spectrum
 * input is refused. Output bytes do not depend on chunking or threads. */
#include "testutil.h"

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
    const double total = A * A * N * N * (1.0 / 64 + 1.0 / 16 + 1.0 / 64); /* Σ|X_k|², k >= 1 */
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
            ck_assert_double_eq_tol(at(&c, r, "band_2000-4000"), total, total * 1e-4);
            ck_assert_double_lt(at(&c, r, "band_1000-2000"), total * 1e-9);
            ck_assert_double_lt(at(&c, r, "band_4000-8000"), total * 1e-9);
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
    /* 12 s of Gaussian noise: band energy per bin within 1 dB of σ²·Σw²
     * (Σw² = 3N/8 for the periodic Hann window) in every octave band,
     * averaged over the frames; periodogram flatness e^-γ */
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
                            "features = flatness, bands\nbands = octave") == 0,
                  "%s", tu_stderr());
    tu_csv c = read_out();
    const double expect = var * 3.0 * N / 8;
    int nbands = 0;
    for (size_t col = 1; col < c.cols; col++) {
        if (strncmp(c.names[col], "oct_", 4))
            continue;
        nbands++;
        double fc = strtod(c.names[col] + 4, NULL);
        double lo = fc / sqrt(2.0), hi = fc * sqrt(2.0);
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
    /* 31.25 Hz .. 16 kHz */
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
        ck_assert_double_eq(at(&c, r, "band_100-1000"), 0.0);
        if (r)
            ck_assert_double_eq(at(&c, r, "flux"), 0.0);
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
    /* band columns: third_<centre>_<channel>, channels alternating, each
     * centre 2^(1/3) above the last kept one or a whole number of thirds */
    double last = 0;
    for (size_t col = 3; col < c.cols; col += 2) {
        ck_assert_msg(!strncmp(c.names[col], "third_", 6), "column %s", c.names[col]);
        char *end;
        double fc = strtod(c.names[col] + 6, &end);
        ck_assert_str_eq(end, "_ch0");
        char *end1;
        ck_assert_double_eq(strtod(c.names[col + 1] + 6, &end1), fc);
        ck_assert_str_eq(end1, "_ch1");
        double thirds = 3 * log2(fc / 1000);
        ck_assert_double_eq_tol(thirds, round(thirds), 1e-4);
        ck_assert_double_gt(fc, last);
        last = fc;
    }
    ck_assert_double_gt(last, 12000);
    tu_csv_free(&c);
    free(x);
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
