/* check_loudness.c — the loudness plugin against EBU Tech 3341 and
 * BS.1770 arithmetic: a stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS
 * (case 1), at -20 dBFS -20.0, a mono one 3.01 LU less (one channel's
 * power instead of two); the relative gate leaves out the quiet parts of
 * case 3; sample and true peak of the sine; the row grid, times and NaN
 * for unfilled windows; silence; and byte-identical output for any chunk
 * size and thread count. */
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

#define GRAPH(params)                                                                                              \
    "[in]\nplugin = sndfile\n[lu]\nplugin = loudness\ninput = in\n" params "\n"                                  \
    "[m]\nplugin = csv\ninput = lu\npath = {stem}.m.csv\n"                                                        \
    "[s]\nplugin = csv\ninput = lu.summary\npath = {stem}.s.csv\n"

/* Append `seconds` of a 1 kHz sine of peak `dbfs` to every channel of x
 * (interleaved, `channels` wide) from frame *at on. */
static void sine(float *x, size_t *at, int channels, int rate, double seconds, double dbfs)
{
    const double A = pow(10.0, dbfs / 20.0);
    size_t n = (size_t)llround(seconds * rate);
    for (size_t i = 0; i < n; i++, (*at)++) {
        float v = (float)(A * sin(2 * M_PI * 1000.0 * (double)*at / rate));
        for (int c = 0; c < channels; c++)
            x[*at * channels + c] = v;
    }
}

/* Run the graph on x; read the frames (m) and summary (s) CSVs. */
static void run(const float *x, size_t frames, int channels, int rate, const char *graph, tu_csv *m, tu_csv *s)
{
    tu_write_wav(tu_path("in.wav"), rate, channels, frames, x, 0);
    tu_write_file(tu_path("g.ini"), graph);
    int rc = tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o"));
    ck_assert_msg(rc == 0, "joule failed: %s", tu_stderr());
    ck_assert_int_eq(tu_csv_read(tu_path("o/in.m.csv"), m), 0);
    ck_assert_int_eq(tu_csv_read(tu_path("o/in.s.csv"), s), 0);
    ck_assert_uint_eq(s->rows, 1);
}

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    return c->v[row * c->cols + (size_t)k];
}

/* A steady sine of `dbfs` for 20 s: integrated, momentary and short-term
 * all read `lufs`. */
static void steady(int channels, double dbfs, double lufs)
{
    const int rate = 48000;
    const size_t n = 20 * (size_t)rate;
    float *x = malloc(n * channels * sizeof *x);
    size_t k = 0;
    sine(x, &k, channels, rate, 20, dbfs);
    tu_csv m, s;
    run(x, n, channels, rate, GRAPH(""), &m, &s);
    ck_assert_double_eq_tol(at(&s, 0, "integrated"), lufs, 0.1);
    ck_assert_double_lt(at(&s, 0, "lra"), 0.1);
    /* 1 kHz at 48 kHz: a sample lands on every crest */
    ck_assert_double_eq_tol(at(&s, 0, "sample_peak"), dbfs, 0.01);
    ck_assert_double_eq_tol(at(&s, 0, "true_peak"), dbfs, 0.2);
    ck_assert_uint_eq(m.rows, 200);
    for (size_t r = 0; r < m.rows; r++) {
        double end = (r + 1) * 0.1;
        if (end >= 0.4 - 1e-9)
            ck_assert_double_eq_tol(at(&m, r, "momentary"), lufs, 0.1);
        if (end >= 3.0 - 1e-9)
            ck_assert_double_eq_tol(at(&m, r, "shortterm"), lufs, 0.1);
    }
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}

START_TEST(test_ebu_case1)
{
    steady(2, -23.0, -23.0);
}
END_TEST

START_TEST(test_minus20)
{
    steady(2, -20.0, -20.0);
}
END_TEST

START_TEST(test_mono)
{
    /* a mono file counts once: half the power of the same sine in stereo */
    steady(1, -23.0, -23.0 - 10 * log10(2.0));
}
END_TEST

START_TEST(test_ebu_case3)
{
    /* EBU Tech 3341 case 3: 10 s at -36, 60 s at -23, 10 s at -36 dBFS
     * (stereo 1 kHz) reads -23.0: the relative gate, 10 LU below the
     * ungated level of about -24.2, leaves out the -36 dBFS blocks */
    const int rate = 48000;
    const size_t n = 80 * (size_t)rate;
    float *x = malloc(n * 2 * sizeof *x);
    size_t k = 0;
    sine(x, &k, 2, rate, 10, -36);
    sine(x, &k, 2, rate, 60, -23);
    sine(x, &k, 2, rate, 10, -36);
    ck_assert_uint_eq(k, n);
    tu_csv m, s;
    run(x, n, 2, rate, GRAPH("true_peak = false"), &m, &s);
    ck_assert_double_eq_tol(at(&s, 0, "integrated"), -23.0, 0.1);
    ck_assert_int_eq(tu_csv_col(&s, "true_peak"), -1);
    ck_assert_uint_eq(s.cols, 4); /* time, integrated, lra, sample_peak */
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_grid_and_times)
{
    /* 4.25 s at 16 kHz, interval 0.05 s: hop 800, 85 whole hops; row k at
     * the end of its audio, (k+1)·0.05 s; NaN until the windows fill */
    const int rate = 16000;
    const size_t n = 68000;
    float *x = malloc(n * sizeof *x);
    size_t k = 0;
    sine(x, &k, 1, rate, 4.25, -10);
    tu_csv m, s;
    run(x, n, 1, rate, GRAPH("interval = 0.05"), &m, &s);
    ck_assert_uint_eq(m.rows, n / 800);
    for (size_t r = 0; r < m.rows; r++) {
        double end = (r + 1) * 0.05;
        ck_assert_double_eq_tol(at(&m, r, "time"), end, 1e-9);
        ck_assert_int_eq(isnan(at(&m, r, "momentary")), end < 0.4 - 1e-9);
        ck_assert_int_eq(isnan(at(&m, r, "shortterm")), end < 3.0 - 1e-9);
    }
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_silence)
{
    const int rate = 8000;
    const size_t n = 8000;
    float *x = calloc(n * 2, sizeof *x);
    tu_csv m, s;
    run(x, n, 2, rate, GRAPH(""), &m, &s);
    ck_assert(isinf(at(&s, 0, "integrated")) && at(&s, 0, "integrated") < 0);
    ck_assert(isinf(at(&s, 0, "sample_peak")) && at(&s, 0, "sample_peak") < 0);
    ck_assert(isinf(at(&s, 0, "true_peak")) && at(&s, 0, "true_peak") < 0);
    ck_assert_uint_eq(m.rows, 10);
    ck_assert(isinf(at(&m, 9, "momentary")));
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_chunk_invariance)
{
    /* 3.7 s of stereo noise with a level step, at 16 kHz: rows past 3 s
     * (short-term defined), a partial last hop, summary values */
    const int rate = 16000;
    const size_t n = 59300;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 21;
    for (size_t i = 0; i < 2 * n; i++) {
        s = s * 1664525u + 1013904223u;
        double u = (double)(s >> 8) / (1u << 23) - 1.0;
        x[i] = (float)(u * (i < n ? 0.1 : 0.5));
    }
    tu_write_wav(tu_path("y.wav"), rate, 2, n, x, 0);
    tu_write_file(tu_path("g.ini"), GRAPH("interval = 0.07"));
    static const char *const outs[] = {"y.m.csv", "y.s.csv"};
    char *why = tu_invariance(tu_path("g.ini"), tu_path("y.wav"), outs, 2);
    ck_assert_msg(why == NULL, "%s", why);
    /* the reference holds real numbers past 3 s */
    tu_csv m;
    ck_assert_int_eq(tu_csv_read(tu_path("inv-1-1/y.m.csv"), &m), 0);
    ck_assert_uint_eq(m.rows, n / 1120);
    ck_assert(isfinite(at(&m, m.rows - 1, "shortterm")));
    tu_csv_free(&m);
    free(x);
}
END_TEST

START_TEST(test_non_finite)
{
    /* one NaN sample would poison the meter for the rest of the stream:
     * refused, with the sample named, and no output; either reading path */
    const int rate = 8000;
    const size_t n = 2 * rate;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.1 * sin(2 * M_PI * 440.0 * i / rate));
    x[rate + 3] = NAN;
    tu_write_wav(tu_path("nan.wav"), rate, 1, n, x, 0);
    static const char *const params[] = {"", "interval = 0.137"};
    for (int k = 0; k < 2; k++) {
        char g[512];
        snprintf(g, sizeof g, "[in]\nplugin = sndfile\n[lu]\nplugin = loudness\ninput = in\n%s\n"
                              "[m]\nplugin = csv\ninput = lu\npath = {stem}.m.csv\n", params[k]);
        tu_write_file(tu_path("nan.ini"), g);
        ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("nan.ini"), tu_path("nan.wav"), tu_path("nan")), 1);
        ck_assert_msg(strstr(tu_stderr(), "sample 8003 (1.000375 s), channel 0 is NaN") != NULL, "%s", tu_stderr());
        ck_assert(!tu_exists(tu_path("nan/nan.m.csv")));
    }
    free(x);
}
END_TEST

START_TEST(test_refuses)
{
    /* a rate libebur128 cannot meter */
    float x[64] = {0};
    tu_write_wav(tu_path("in.wav"), 8, 1, 64, x, 0);
    tu_write_file(tu_path("g.ini"), GRAPH(""));
    ck_assert_int_ne(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o")), 0);
    ck_assert_msg(strstr(tu_stderr(), "rate"), "message: %s", tu_stderr());
    ck_assert(!tu_exists(tu_path("o/in.s.csv")));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loudness");
    TCase *tc = tcase_create("EBU");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ebu_case1);
    tcase_add_test(tc, test_minus20);
    tcase_add_test(tc, test_mono);
    tcase_add_test(tc, test_ebu_case3);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("Behaviour");
    tcase_set_timeout(tb, 120);
    tcase_add_test(tb, test_grid_and_times);
    tcase_add_test(tb, test_silence);
    tcase_add_test(tb, test_chunk_invariance);
    tcase_add_test(tb, test_refuses);
    tcase_add_test(tb, test_non_finite);
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
