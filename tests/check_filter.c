/* check_filter.c — Butterworth filters: -3 dB at the cut-off (±0.1 dB)
 * for low- and high-pass of order 2 and 4, unit gain in the pass-band, the
 * expected roll-off in the stop-band, a band-pass's centre, columns left
 * alone, parameter checks, and chunk invariance. */
#include "gen_gait.h"
#include "testutil.h"

#include <joule/joule.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FS 1000.0

/* Write sines of frequency f (one per column, plus a constant column), run
 * the filter with `params`, and return the gain in dB of column `col` of
 * the output over the last half (past the transient). */
static double gain_db(double f, const char *params, const char *col)
{
    const size_t n = 8000;
    char *text = malloc(n * 48 + 64), *p = text;
    p += sprintf(p, "t,x,c\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%.4f,%.9f,1\n", i / FS, sin(2 * M_PI * f * i / FS));
    const char *in = tu_path("sine.csv");
    tu_write_file(in, text);
    free(text);
    char g[1024];
    snprintf(g, sizeof g,
             "[in]\nplugin = sensor\n\n[f]\nplugin = filter\ninput = in\n%s\n\n[out]\nplugin = csv\ninput = f\npath = "
             "{stem}.f.csv\n",
             params);
    const char *gp = tu_path("filter.ini");
    tu_write_file(gp, g);
    int rc = tu_joule("run '%s' '%s' -o '%s'", gp, in, tu_path("out"));
    ck_assert_msg(rc == 0, "%s", tu_stderr());
    tu_csv c;
    ck_assert_int_eq(tu_csv_read(tu_path("out/sine.f.csv"), &c), 0);
    ck_assert_uint_eq(c.rows, n);
    int k = tu_csv_col(&c, col), kx = tu_csv_col(&c, "x");
    double si = 0, so = 0;
    for (size_t i = n / 2; i < n; i++) {
        double x = sin(2 * M_PI * f * i / FS);
        si += x * x;
        so += c.v[i * c.cols + (size_t)k] * c.v[i * c.cols + (size_t)k];
    }
    (void)kx;
    tu_csv_free(&c);
    if (!strcmp(col, "c"))
        return 0;
    return 10 * log10(so / si);
}

START_TEST(cutoff_minus_3db)
{
    static const char *const cfg[] = {"type = lowpass\ncutoff = 50\norder = 2", "type = lowpass\ncutoff = 50\norder = 4",
                                      "type = highpass\ncutoff = 20\norder = 2",
                                      "type = highpass\ncutoff = 20\norder = 4"};
    static const double fc[] = {50, 50, 20, 20};
    for (int i = 0; i < 4; i++) {
        double db = gain_db(fc[i], cfg[i], "x");
        ck_assert_msg(fabs(db + 3.0103) <= 0.1, "%s: %.3f dB at the cut-off", cfg[i], db);
    }
}
END_TEST

START_TEST(passband_stopband)
{
    double db = gain_db(5, "type = lowpass\ncutoff = 50\norder = 4", "x");
    ck_assert_msg(fabs(db) < 0.01, "pass-band %.4f dB", db);
    db = gain_db(200, "type = lowpass\ncutoff = 50\norder = 4", "x");
    ck_assert_msg(db < -45, "two octaves above, order 4: %.1f dB", db);
    db = gain_db(200, "type = lowpass\ncutoff = 50\norder = 2", "x");
    ck_assert_msg(db < -22 && db > -30, "two octaves above, order 2: %.1f dB", db);
    db = gain_db(200, "type = highpass\ncutoff = 20\norder = 2", "x");
    ck_assert_msg(fabs(db) < 0.01, "high-pass pass-band %.4f dB", db);
    /* band-pass: its centre passes, its edges are near -3 dB when far apart */
    db = gain_db(sqrt(5.0 * 200), "type = bandpass\nlow = 5\nhigh = 200\norder = 4", "x");
    ck_assert_msg(fabs(db) < 0.05, "band-pass centre %.4f dB", db);
    db = gain_db(200, "type = bandpass\nlow = 5\nhigh = 200\norder = 4", "x");
    ck_assert_msg(fabs(db + 3.0103) < 0.1, "band-pass edge %.4f dB", db);
}
END_TEST

/* A constant through a low-pass stays (unit DC gain); an unselected column
 * passes unchanged. */
START_TEST(dc_and_columns)
{
    gain_db(5, "type = lowpass\ncutoff = 10\norder = 4", "c");
    tu_csv c;
    ck_assert_int_eq(tu_csv_read(tu_path("out/sine.f.csv"), &c), 0);
    ck_assert_double_eq_tol(c.v[(c.rows - 1) * c.cols + 2], 1.0, 1e-6);
    tu_csv_free(&c);
    gain_db(5, "type = highpass\ncutoff = 10\ncolumns = x", "c");
    ck_assert_int_eq(tu_csv_read(tu_path("out/sine.f.csv"), &c), 0);
    for (size_t i = 0; i < c.rows; i += 111)
        ck_assert_double_eq(c.v[i * c.cols + 2], 1.0);
    tu_csv_free(&c);
}
END_TEST

START_TEST(bad_params)
{
    const char *gp = tu_path("bad.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[f]\nplugin = filter\ninput = in\norder = 3\n\n[out]\nplugin = csv\ninput = f\n");
    ck_assert_int_eq(tu_joule("validate '%s'", gp), 2);
    ck_assert(strstr(tu_stderr(), "order must be 2 or 4") != NULL);
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[f]\nplugin = filter\ninput = in\ntype = bandpass\nlow = 5\nhigh = 2\n\n"
                      "[out]\nplugin = csv\ninput = f\n");
    ck_assert_int_eq(tu_joule("validate '%s'", gp), 2);
    ck_assert(strstr(tu_stderr(), "low (5 Hz) must be below high (2 Hz)") != NULL);
    const char *in = tu_path("small.csv");
    tu_write_file(in, "t,x\n0,1\n0.01,2\n0.02,3\n");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[f]\nplugin = filter\ninput = in\ncutoff = 60\n\n"
                      "[out]\nplugin = csv\ninput = f\n");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", gp, in, tu_path("out")), 1);
    ck_assert_msg(strstr(tu_stderr(), "cutoff 60 Hz is not below the Nyquist frequency (50 Hz") != NULL, "%s",
                  tu_stderr());
}
END_TEST

/* The plugin run in-process through the harness, for what a graph run
 * cannot show: the output format's flags, and processing in place. The
 * filter: low-pass 3 Hz, order 4, on two columns at 100 Hz. */
#define LOWPASS_3HZ "type = lowpass\ncutoff = 3\nlow = 0.5\nhigh = 3\norder = 4\ncolumns ="
static const char *const xy[] = {"x", "y"};
static const joule_format xy100 = {.kind = JOULE_SIGNAL, .n_columns = 2, .rate = 100, .names = xy};

/* The output's flags are the filter's own, whatever the input's: it is in
 * place (a biquad reads each sample before it writes it), and it gives the
 * same samples whether or not the host passes the input as the output. */
START_TEST(flags_and_in_place)
{
    joule_harness *base = tu_harness("filter", NULL, NULL);
    const joule_descriptor *d = joule_harness_descriptor(base);
    ck_assert_uint_eq(d->n_params, 6);
    /* the harness gives inputs flags 0; joule run passes the upstream
     * output's, which these stand for */
    static const uint32_t in_flags[] = {~(uint32_t)JOULE_FORMAT_IN_PLACE, ~0u, 0, JOULE_FORMAT_IN_PLACE};
    for (size_t i = 0; i < sizeof in_flags / sizeof in_flags[0]; i++) {
        joule_harness *f = tu_harness_in_flags(d, in_flags[i], LOWPASS_3HZ, &xy100);
        ck_assert_msg(joule_harness_open(f) == 0, "%s", joule_harness_error(f));
        const joule_format *o = joule_harness_output_format(f, 0);
        ck_assert_msg(o->flags == JOULE_FORMAT_IN_PLACE, "input flags %#x: output flags %#x", in_flags[i], o->flags);
        ck_assert_uint_eq(o->n_columns, 2);
        ck_assert_uint_eq(o->out_num, 1);
        ck_assert_uint_eq(o->out_den, 1);
        joule_harness_free(f);
    }
    joule_harness_free(base);
    /* three chunks, copied and in place */
    joule_harness *a = tu_harness("filter", LOWPASS_3HZ, &xy100), *b = tu_harness("filter", LOWPASS_3HZ, &xy100);
    /* one process call per chunk, with room for exactly its rows */
    static const uint32_t sizes[] = {500, 17, 500};
    ck_assert_int_eq(joule_harness_set_chunks(a, sizes, 3), 0);
    ck_assert_int_eq(joule_harness_set_chunks(b, sizes, 3), 0);
    ck_assert_int_eq(joule_harness_set_in_place(b, 1), 0);
    ck_assert_msg(joule_harness_open(a) == 0, "%s", joule_harness_error(a));
    ck_assert_msg(joule_harness_open(b) == 0, "%s", joule_harness_error(b));
    gg_rng r = {31};
    float x[2 * 500];
    size_t done = 0;
    for (int chunk = 0; chunk < 3; chunk++) {
        uint32_t n = sizes[chunk];
        for (uint32_t k = 0; k < 2 * n; k++)
            x[k] = (float)gg_normal(&r);
        ck_assert_uint_eq(tu_harness_feed(a, x, n), n);
        ck_assert_uint_eq(tu_harness_feed(b, x, n), n);
        size_t na, nb;
        const float *y = joule_harness_rows(a, 0, &na), *z = joule_harness_rows(b, 0, &nb);
        ck_assert_uint_eq(na, done + n);
        ck_assert_uint_eq(nb, done + n);
        ck_assert_msg(!memcmp(y + 2 * done, z + 2 * done, 2 * n * sizeof *y), "chunk %d: in place differs", chunk);
        done += n;
    }
    size_t na, nb;
    tu_harness_end(a, &na);
    tu_harness_end(b, &nb);
    ck_assert_uint_eq(na, done);
    ck_assert_uint_eq(nb, done);
    joule_harness_free(a);
    joule_harness_free(b);
}
END_TEST

START_TEST(chunk_invariance)
{
    const size_t n = 3000;
    char *text = malloc(n * 64 + 64), *p = text;
    p += sprintf(p, "t,x,y\n");
    gg_rng r = {99};
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%.3f,%.6f,%.6f\n", i / 100.0, sin(i * 0.3) + gg_normal(&r), gg_uniform(&r));
    const char *in = tu_path("inv.csv");
    tu_write_file(in, text);
    free(text);
    const char *gp = tu_path("inv.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[f]\nplugin = filter\ninput = in\ntype = bandpass\nlow = 0.5\nhigh = 5\n"
                      "order = 4\n\n[out]\nplugin = csv\ninput = f\npath = {stem}.f.csv\n");
    const char *why = gg_invariance(gp, in, "inv.f.csv", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

static Suite *filter_suite(void)
{
    Suite *s = suite_create("filter");
    TCase *tc = tcase_create("filter");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cutoff_minus_3db);
    tcase_add_test(tc, passband_stopband);
    tcase_add_test(tc, dc_and_columns);
    tcase_add_test(tc, bad_params);
    tcase_add_test(tc, flags_and_in_place);
    tcase_add_test(tc, chunk_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(filter_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
