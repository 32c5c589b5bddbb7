/* check_fft.c — the fft plugin against analysis: a sine at a bin centre
 * (peak bin and its height A·Σw/2), Parseval for every window and for
 * zero-padded, odd and non-power-of-two sizes (the time-domain side
 * computed here from the samples), the three scales against each other,
 * per-channel and mono mix-down, column names and frame times, wisdom, and
 * byte-identical output for any chunk size and thread count. */
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

/* Deterministic uniform noise in [-1, 1). */
static double uniform(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (double)(*s >> 8) / (1u << 23) - 1.0;
}

/* Run `graph` (text) on the float WAV of `x`; 0 or the exit status. */
static int run(const char *graph, const float *x, size_t frames, int channels, int rate, const char *extra)
{
    tu_write_wav(tu_path("in.wav"), rate, channels, frames, x, 0);
    tu_write_file(tu_path("g.ini"), graph);
    return tu_joule("run '%s' '%s' -o '%s' %s", tu_path("g.ini"), tu_path("in.wav"), tu_path("o"), extra ? extra : "");
}

static tu_csv read_csv(const char *name)
{
    tu_csv c;
    char rel[256];
    snprintf(rel, sizeof rel, "o/%s", name);
    ck_assert_msg(tu_csv_read(tu_path(rel), &c) == 0, "cannot read %s", rel);
    return c;
}

static double at(const tu_csv *c, size_t row, size_t col)
{
    return c->v[row * c->cols + col];
}

/* The periodic windows of the fft plugin's help text, written out here. */
static double window(const char *kind, size_t n, size_t len)
{
    double x = 2 * M_PI * n / len;
    if (!strcmp(kind, "hann"))
        return 0.5 - 0.5 * cos(x);
    if (!strcmp(kind, "hamming"))
        return 0.54 - 0.46 * cos(x);
    if (!strcmp(kind, "blackman"))
        return 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x);
    return 1.0;
}

#define FFT_GRAPH(params) "[in]\nplugin = sndfile\n[s]\nplugin = fft\ninput = in\n" params "\n[out]\nplugin = csv\ninput = s\n"

/* Silence in dB is -inf, the spelling of silence in every plugin. */
START_TEST(test_silence_db)
{
    const size_t n = 4096;
    float *x = calloc(n, sizeof *x);
    ck_assert_msg(run(FFT_GRAPH("frame = 256\nhop = 256\nscale = db"), x, n, 1, 8000, NULL) == 0, "%s",
                  tu_stderr());
    tu_csv c = read_csv("in.out.csv");
    ck_assert_uint_eq(c.rows, n / 256);
    for (size_t r = 0; r < c.rows; r++)
        for (size_t k = 1; k < c.cols; k++) /* column 0 is the time */
            ck_assert_msg(isinf(at(&c, r, k)) && at(&c, r, k) < 0, "row %zu col %zu: %g", r, k, at(&c, r, k));
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_sine_peak)
{
    /* bin 64 of 1024 at 44.1 kHz: 2756.25 Hz, a whole number of periods
     * per frame, so the periodic Hann window leaves exactly three bins:
     * A·N/4 at 64 and A·N/8 at 63 and 65 (A·Σw/2 and half of it). */
    const size_t n = 44100, N = 1024;
    const double A = 0.5, f = 64 * 44100.0 / N;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(A * sin(2 * M_PI * f * i / 44100.0));
    ck_assert_msg(run(FFT_GRAPH("frame = 1024\nhop = 512"), x, n, 1, 44100, NULL) == 0, "%s", tu_stderr());
    tu_csv c = read_csv("in.out.csv");
    ck_assert_uint_eq(c.cols, 1 + N / 2 + 1);
    ck_assert_uint_eq(c.rows, (n - N) / 512 + 1);
    ck_assert_str_eq(c.names[1], "f_0");
    ck_assert_str_eq(c.names[1 + 64], "f_2756.25");
    ck_assert_str_eq(c.names[1 + 1], "f_43.06640625");
    ck_assert_str_eq(c.names[1 + N / 2], "f_22050");
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq_tol(at(&c, r, 0), r * 512.0 / 44100.0, 1e-9);
        size_t best = 0;
        for (size_t k = 0; k <= N / 2; k++)
            if (at(&c, r, 1 + k) > at(&c, r, 1 + best))
                best = k;
        ck_assert_uint_eq(best, 64);
        ck_assert_double_eq_tol(at(&c, r, 1 + 64), A * N / 4, A * N / 4 * 1e-4);
        ck_assert_double_eq_tol(at(&c, r, 1 + 63), A * N / 8, A * N / 8 * 1e-4);
        ck_assert_double_eq_tol(at(&c, r, 1 + 65), A * N / 8, A * N / 8 * 1e-4);
        ck_assert_double_lt(at(&c, r, 1 + 70), A * N * 1e-5);
    }
    tu_csv_free(&c);
    /* rect window: the whole of A·N/2 in bin 64 */
    ck_assert_msg(run(FFT_GRAPH("frame = 1024\nhop = 1024\nwindow = rect"), x, n, 1, 44100, NULL) == 0, "%s",
                  tu_stderr());
    c = read_csv("in.out.csv");
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq_tol(at(&c, r, 1 + 64), A * N / 2, A * N / 2 * 1e-4);
        ck_assert_double_lt(at(&c, r, 1 + 63), A * N * 1e-5);
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_parseval)
{
    /* Σ_k |X_k|² over the two-sided spectrum = N · Σ (w·x)², for every
     * window, with zero padding, an odd size and a non-power-of-two frame */
    static const struct {
        const char *window;
        size_t size; /* 0 = frame */
    } cases[] = {{"hann", 0}, {"hamming", 1025}, {"blackman", 1536}, {"rect", 2000}};
    const size_t n = 20000, frame = 1000, hop = 333;
    float *x = malloc(n * sizeof *x);
    uint32_t s = 7;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.8 * uniform(&s));
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        char graph[512];
        snprintf(graph, sizeof graph,
                 FFT_GRAPH("frame = 1000\nhop = 333\nscale = power\nwindow = %s\nsize = %zu"), cases[t].window,
                 cases[t].size);
        ck_assert_msg(run(graph, x, n, 1, 8000, NULL) == 0, "%s", tu_stderr());
        tu_csv c = read_csv("in.out.csv");
        const size_t N = cases[t].size ? cases[t].size : frame;
        ck_assert_uint_eq(c.cols, 1 + N / 2 + 1);
        ck_assert_uint_eq(c.rows, (n - frame) / hop + 1);
        for (size_t r = 0; r < c.rows; r++) {
            double lhs = 0;
            for (size_t k = 0; k <= N / 2; k++) /* DC and (even N) Nyquist once, the rest twice */
                lhs += (k == 0 || 2 * k == N ? 1 : 2) * at(&c, r, 1 + k);
            double rhs = 0;
            for (size_t i = 0; i < frame; i++) {
                double v = window(cases[t].window, i, frame) * x[r * hop + i];
                rhs += v * v;
            }
            rhs *= (double)N;
            ck_assert_msg(fabs(lhs - rhs) <= 1e-4 * rhs, "%s size %zu frame %zu: Σ|X|² %.9g, N·Σ(wx)² %.9g",
                          cases[t].window, N, r, lhs, rhs);
        }
        tu_csv_free(&c);
    }
    free(x);
}
END_TEST

START_TEST(test_scales)
{
    const size_t n = 6000;
    float *x = malloc(n * sizeof *x);
    uint32_t s = 3;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * uniform(&s));
    tu_write_wav(tu_path("in.wav"), 16000, 1, n, x, 0);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n"
                                    "[m]\nplugin = fft\ninput = in\nframe = 512\nhop = 256\nscale = magnitude\n"
                                    "[p]\nplugin = fft\ninput = in\nframe = 512\nhop = 256\nscale = power\n"
                                    "[d]\nplugin = fft\ninput = in\nframe = 512\nhop = 256\nscale = db\n"
                                    "[om]\nplugin = csv\ninput = m\n[op]\nplugin = csv\ninput = p\n"
                                    "[od]\nplugin = csv\ninput = d\n");
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o")) == 0, "%s",
                  tu_stderr());
    tu_csv m = read_csv("in.om.csv"), p = read_csv("in.op.csv"), d = read_csv("in.od.csv");
    ck_assert_uint_eq(m.rows, p.rows);
    ck_assert_uint_eq(m.rows, d.rows);
    ck_assert_uint_eq(m.rows, (n - 512) / 256 + 1);
    for (size_t r = 0; r < m.rows; r++)
        for (size_t k = 1; k < m.cols; k++) {
            double mag = at(&m, r, k), pw = at(&p, r, k), db = at(&d, r, k);
            ck_assert_double_eq_tol(mag * mag, pw, 1e-5 * pw + 1e-12);
            if (pw > 1e-20)
                ck_assert_double_eq_tol(db, 10 * log10(pw), 1e-4);
        }
    tu_csv_free(&m);
    tu_csv_free(&p);
    tu_csv_free(&d);
    free(x);
}
END_TEST

START_TEST(test_channels_and_mix)
{
    /* ch0: bin 40, ch1: bin 100 of 1024 at 32 kHz */
    const size_t n = 8192, N = 1024;
    const double A = 0.4;
    float *x = malloc(2 * n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)(A * sin(2 * M_PI * 40 * i / N));
        x[2 * i + 1] = (float)(A * cos(2 * M_PI * 100 * i / N));
    }
    ck_assert_msg(run(FFT_GRAPH("mix = channels"), x, n, 2, 32000, NULL) == 0, "%s", tu_stderr());
    tu_csv c = read_csv("in.out.csv");
    const size_t nb = N / 2 + 1;
    ck_assert_uint_eq(c.cols, 1 + 2 * nb);
    ck_assert_str_eq(c.names[1], "f_0_ch0");
    ck_assert_str_eq(c.names[1 + 40], "f_1250_ch0");
    ck_assert_str_eq(c.names[1 + nb], "f_0_ch1");
    ck_assert_str_eq(c.names[1 + nb + 100], "f_3125_ch1");
    for (size_t r = 0; r < c.rows; r++)
        for (int g = 0; g < 2; g++) {
            size_t best = 0;
            for (size_t k = 0; k < nb; k++)
                if (at(&c, r, 1 + g * nb + k) > at(&c, r, 1 + g * nb + best))
                    best = k;
            ck_assert_uint_eq(best, g ? 100 : 40);
            ck_assert_double_eq_tol(at(&c, r, 1 + g * nb + best), A * N / 4, A * N / 4 * 1e-4);
        }
    tu_csv_free(&c);
    /* mono: the mean of the channels, so both peaks at half height */
    ck_assert_msg(run(FFT_GRAPH("mix = mono"), x, n, 2, 32000, NULL) == 0, "%s", tu_stderr());
    c = read_csv("in.out.csv");
    ck_assert_uint_eq(c.cols, 1 + nb);
    ck_assert_str_eq(c.names[1 + 40], "f_1250");
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq_tol(at(&c, r, 1 + 40), A / 2 * N / 4, A * N * 1e-4);
        ck_assert_double_eq_tol(at(&c, r, 1 + 100), A / 2 * N / 4, A * N * 1e-4);
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_short_and_bad)
{
    /* fewer rows than a frame: no frames, no error */
    float x[100] = {0};
    ck_assert_msg(run(FFT_GRAPH("frame = 256"), x, 100, 1, 8000, NULL) == 0, "%s", tu_stderr());
    tu_csv c = read_csv("in.out.csv");
    ck_assert_uint_eq(c.rows, 0);
    ck_assert_uint_eq(c.cols, 1 + 129);
    tu_csv_free(&c);
    /* size below frame: refused before running, naming the parameter */
    int rc = run(FFT_GRAPH("frame = 1024\nsize = 512"), x, 100, 1, 8000, NULL);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(tu_stderr(), "size"), "message: %s", tu_stderr());
}
END_TEST

START_TEST(test_wisdom)
{
    /* with a wisdom file: measured plans, the file written, and the same
     * spectrum as the estimated plan to float precision */
    const size_t n = 5000;
    float *x = malloc(n * sizeof *x);
    uint32_t s = 11;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * uniform(&s));
    ck_assert_msg(run(FFT_GRAPH("frame = 512\nhop = 128"), x, n, 1, 8000, NULL) == 0, "%s", tu_stderr());
    tu_csv ref = read_csv("in.out.csv");
    char graph[512];
    snprintf(graph, sizeof graph, FFT_GRAPH("frame = 512\nhop = 128\nwisdom = %s"), tu_path("fftw.wisdom"));
    for (int pass = 0; pass < 2; pass++) { /* the second run imports the file */
        /* without the stage cache: wisdom is not in its keys, so the
         * spectrum computed above would be replayed, with no plan made */
        ck_assert_msg(run(graph, x, n, 1, 8000, "--no-cache") == 0, "%s", tu_stderr());
        char *w = tu_read_file(tu_path("fftw.wisdom"));
        ck_assert_ptr_nonnull(w);
        ck_assert_msg(strstr(w, "fftwf_wisdom"), "not wisdom: %.60s", w);
        free(w);
        tu_csv c = read_csv("in.out.csv");
        ck_assert_uint_eq(c.rows, ref.rows);
        for (size_t i = 0; i < c.rows * c.cols; i++)
            ck_assert_double_eq_tol(c.v[i], ref.v[i], 1e-4 * (fabs(ref.v[i]) + 1));
        tu_csv_free(&c);
    }
    tu_csv_free(&ref);
    free(x);
}
END_TEST

START_TEST(test_chunk_invariance)
{
    /* the same bytes for chunks of 1, 7, 4096, 65536 rows and 1 or 2
     * threads: frame, hop and size that divide nothing */
    const size_t n = 3000;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 5;
    for (size_t i = 0; i < 2 * n; i++)
        x[i] = (float)(0.7 * uniform(&s));
    tu_write_wav(tu_path("y.wav"), 22050, 2, n, x, 0);
    tu_write_file(tu_path("g.ini"),
                  "[in]\nplugin = sndfile\n"
                  "[a]\nplugin = fft\ninput = in\nframe = 256\nhop = 100\nsize = 300\nwindow = blackman\n"
                  "mix = channels\nscale = db\n"
                  "[b]\nplugin = fft\ninput = in\nframe = 64\nhop = 64\nscale = power\n"
                  "[oa]\nplugin = csv\ninput = a\n[ob]\nplugin = csv\ninput = b\n");
    static const char *const outs[] = {"y.oa.csv", "y.ob.csv"};
    char *why = tu_invariance(tu_path("g.ini"), tu_path("y.wav"), outs, 2);
    ck_assert_msg(why == NULL, "%s", why);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fft");
    TCase *tc = tcase_create("Numerics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sine_peak);
    tcase_add_test(tc, test_silence_db);
    tcase_add_test(tc, test_parseval);
    tcase_add_test(tc, test_scales);
    tcase_add_test(tc, test_channels_and_mix);
    tcase_add_test(tc, test_short_and_bad);
    tcase_add_test(tc, test_wisdom);
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
