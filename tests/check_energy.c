/* check_energy.c — the energy plugin against values worked out by hand:
 * sines (RMS = A/√2), DC, silence, frame counts and times, overlapping and
 * non-multiple frame/hop against a direct computation, windows, summary. */
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Run energy with `params` over a mono or stereo float WAV of `x`. */
static tu_csv run_energy(const float *x, size_t frames, int channels, int rate, const char *params, const char *port)
{
    tu_write_wav(tu_path("in.wav"), rate, channels, frames, x, 0);
    char graph[1024];
    snprintf(graph, sizeof graph,
             "[in]\nplugin = sndfile\n[e]\nplugin = energy\ninput = in\n%s\n[out]\nplugin = csv\ninput = e%s\n",
             params, port ? port : "");
    tu_write_file(tu_path("g.ini"), graph);
    int rc = tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o"));
    ck_assert_msg(rc == 0, "joule failed: %s", tu_stderr());
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
    /* 375 Hz at 48 kHz: a period of 128 samples, 8 per 1024-sample frame */
    const size_t n = 48000;
    const double A = 0.5, B = 0.125;
    float *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)(A * sin(2 * M_PI * 375.0 * i / 48000.0));
        x[2 * i + 1] = (float)(B * sin(2 * M_PI * 375.0 * i / 48000.0 + 1.0));
    }
    tu_csv c = run_energy(x, n, 2, 48000, "frame = 1024\nhop = 512", NULL);
    ck_assert_uint_eq(c.rows, (n - 1024) / 512 + 1);
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq_tol(at(&c, r, "time"), r * 512.0 / 48000.0, 1e-9);
        ck_assert_double_eq_tol(at(&c, r, "rms_ch0"), A / sqrt(2.0), 1e-6);
        ck_assert_double_eq_tol(at(&c, r, "rms_ch1"), B / sqrt(2.0), 1e-6);
        ck_assert_double_eq_tol(at(&c, r, "ms_ch0"), A * A / 2, 1e-6);
        ck_assert_double_eq_tol(at(&c, r, "db_ch0"), 20 * log10(A / sqrt(2.0)), 1e-4);
        ck_assert_double_eq_tol(at(&c, r, "peak_ch0"), A, 1e-3); /* peak of sampled sine: within A(1-cos(π/128)) */
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_dc_and_silence)
{
    const size_t n = 10000;
    float *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = 0.25f;
        x[2 * i + 1] = 0.0f;
    }
    tu_csv c = run_energy(x, n, 2, 8000, "frame = 400\nhop = 160", NULL);
    ck_assert_uint_eq(c.rows, (n - 400) / 160 + 1);
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq_tol(at(&c, r, "rms_ch0"), 0.25, 1e-7);
        ck_assert_double_eq_tol(at(&c, r, "db_ch0"), 20 * log10(0.25), 1e-5);
        ck_assert_double_eq(at(&c, r, "peak_ch0"), 0.25);
        /* silence: zero energy, and -inf dBFS */
        ck_assert_double_eq(at(&c, r, "rms_ch1"), 0.0);
        ck_assert(isinf(at(&c, r, "db_ch1")) && at(&c, r, "db_ch1") < 0);
        ck_assert_double_eq(at(&c, r, "peak_ch1"), 0.0);
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

/* frame and hop that are not multiples, against a direct computation */
START_TEST(test_direct)
{
    const size_t n = 7777;
    float *x = malloc(n * sizeof *x);
    unsigned s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / (1u << 24) * 2 - 1) * (float)(i % 1000) / 1000.0f;
    }
    const size_t frame = 1000, hop = 300;
    tu_csv c = run_energy(x, n, 1, 16000, "frame = 1000\nhop = 300\nfeatures = rms, peak", NULL);
    ck_assert_uint_eq(c.cols, 3);
    ck_assert_uint_eq(c.rows, (n - frame) / hop + 1);
    for (size_t r = 0; r < c.rows; r++) {
        double ss = 0, pk = 0;
        for (size_t i = r * hop; i < r * hop + frame; i++) {
            ss += (double)x[i] * x[i];
            pk = fabs(x[i]) > pk ? fabs(x[i]) : pk;
        }
        ck_assert_double_eq_tol(at(&c, r, "rms_ch0"), sqrt(ss / frame), 1e-6);
        ck_assert_double_eq_tol(at(&c, r, "peak_ch0"), pk, 1e-7);
    }
    tu_csv_free(&c);
    /* hop longer than the frame: gaps between frames */
    c = run_energy(x, n, 1, 16000, "frame = 100\nhop = 250\nfeatures = ms", NULL);
    ck_assert_uint_eq(c.rows, (n - 100) / 250 + 1);
    for (size_t r = 0; r < c.rows; r++) {
        double ss = 0;
        for (size_t i = r * 250; i < r * 250 + 100; i++)
            ss += (double)x[i] * x[i];
        ck_assert_double_eq_tol(at(&c, r, "ms_ch0"), ss / 100, 1e-7);
    }
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_windows)
{
    /* a constant keeps its level under every (normalised) window; a
     * Hann-weighted sine frame has the analytic weighted mean square */
    const size_t n = 4096;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = -0.5f;
    static const char *const wins[] = {"hann", "hamming", "blackman"};
    for (int w = 0; w < 3; w++) {
        char p[128];
        snprintf(p, sizeof p, "frame = 512\nhop = 128\nwindow = %s\nfeatures = rms, peak", wins[w]);
        tu_csv c = run_energy(x, n, 1, 1000, p, NULL);
        ck_assert_uint_eq(c.rows, (n - 512) / 128 + 1);
        for (size_t r = 0; r < c.rows; r++) {
            ck_assert_double_eq_tol(at(&c, r, "rms_ch0"), 0.5, 1e-6);
            ck_assert_double_eq(at(&c, r, "peak_ch0"), 0.5);
        }
        tu_csv_free(&c);
    }
    free(x);
}
END_TEST

START_TEST(test_summary)
{
    /* the whole-stream summary covers every row, complete frames or not */
    const size_t n = 1234;
    float *x = malloc(n * sizeof *x);
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)((i % 7) / 10.0 - 0.3);
        ss += (double)x[i] * x[i];
    }
    tu_csv c = run_energy(x, n, 1, 1000, "frame = 500\nhop = 500", ".summary");
    ck_assert_uint_eq(c.rows, 1);
    ck_assert_double_eq_tol(at(&c, 0, "rms_ch0"), sqrt(ss / n), 1e-7);
    ck_assert_double_eq_tol(at(&c, 0, "peak_ch0"), 0.3, 1e-7);
    tu_csv_free(&c);
    free(x);
}
END_TEST

START_TEST(test_short_input)
{
    /* fewer rows than a frame: no frames, and no error */
    float x[10] = {0};
    tu_csv c = run_energy(x, 10, 1, 1000, "frame = 100\nhop = 50", NULL);
    ck_assert_uint_eq(c.rows, 0);
    ck_assert_uint_eq(c.cols, 5);
    tu_csv_free(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("energy");
    TCase *tc = tcase_create("Numerics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sine);
    tcase_add_test(tc, test_dc_and_silence);
    tcase_add_test(tc, test_direct);
    tcase_add_test(tc, test_windows);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_short_input);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
