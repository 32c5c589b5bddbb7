/* check_gait.c — gait measures from steps found in synthetic walks with
 * known step times: cadence within 1 %, step and stride times, pauses
 * left out; step and stride regularity of a signal whose autocorrelation
 * is known in closed form; sliding windows; the same output whatever the
 * chunk size, thread count and so the interleaving of the two inputs. */
#include "gen_gait.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char graph[] = "[imu]\nplugin = sensor\n\n[steps]\nplugin = steps\ninput = imu\n\n"
                            "[gait]\nplugin = gait\ninput = steps, imu\n\n"
                            "[out]\nplugin = csv\ninput = gait\npath = {stem}.gait.csv\n";

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    ck_assert_uint_lt(row, c->rows);
    return c->v[row * c->cols + (size_t)k];
}

static void run_gait(const char *name, const char *g, const char *extra, tu_csv *c)
{
    char in[64], out[700];
    snprintf(in, sizeof in, "%s.csv", name);
    const char *gp = tu_path("gait.ini");
    tu_write_file(gp, g);
    int rc = tu_joule("run '%s' '%s' -o '%s' %s", gp, tu_path(in), tu_path("out"), extra ? extra : "");
    ck_assert_msg(rc == 0, "%s", tu_stderr());
    snprintf(out, sizeof out, "%s/%s.gait.csv", tu_path("out"), name);
    ck_assert_int_eq(tu_csv_read(out, c), 0);
}

/* Two walking bouts at a known cadence with a pause between them. */
START_TEST(cadence_and_step_times)
{
    static const gg_part parts[] = {{2, 0, 0, 0}, {40, 108, 108, 0}, {6, 0, 0, 0}, {40, 108, 108, 90}, {2, 0, 0, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 5, .pitch = 70, .amp = 3, .asym = 0.2, .noise = 0.2,
                      .jitter = 0.01, .seed = 21};
    double *st;
    size_t n;
    gg_walk_csv(tu_path("walk.csv"), &o, &st, &n);
    /* the truth: intervals within the bouts (the pause is > 2 s) */
    double sum = 0, sum2 = 0, strides = 0;
    size_t m = 0, ms = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        double d = st[i + 1] - st[i];
        if (d > 2)
            continue;
        sum += d;
        sum2 += d * d;
        m++;
        if (i + 2 < n && st[i + 2] - st[i + 1] <= 2) {
            strides += st[i + 2] - st[i];
            ms++;
        }
    }
    double mean = sum / m, cadence = 60.0 / mean, sd = sqrt((sum2 - m * mean * mean) / (m - 1));
    tu_csv c;
    run_gait("walk", graph, NULL, &c);
    ck_assert_uint_eq(c.rows, 1);
    ck_assert_msg(fabs(at(&c, 0, "cadence") - cadence) <= 0.01 * cadence, "cadence %.3f, truth %.3f",
                  at(&c, 0, "cadence"), cadence);
    ck_assert_msg(fabs(at(&c, 0, "steps") - n) <= 0.02 * n, "steps %g, truth %zu", at(&c, 0, "steps"), n);
    ck_assert_double_eq_tol(at(&c, 0, "step_time"), mean, 0.01 * mean);
    ck_assert_double_eq_tol(at(&c, 0, "stride_time"), strides / ms, 0.01 * strides / ms);
    /* detection adds a little timing noise to the generated jitter */
    ck_assert_msg(at(&c, 0, "step_time_sd") >= 0.8 * sd && at(&c, 0, "step_time_sd") <= sd + 0.02,
                  "step time SD %.4f, truth %.4f", at(&c, 0, "step_time_sd"), sd);
    ck_assert_double_eq_tol(at(&c, 0, "step_time_cv"), 100 * at(&c, 0, "step_time_sd") / at(&c, 0, "step_time"), 1e-3);
    /* walking time: the bouts, not the pause */
    ck_assert_double_eq_tol(at(&c, 0, "walking_time"), sum, 0.02 * sum);
    ck_assert(at(&c, 0, "step_regularity") > 0.3);
    tu_csv_free(&c);
    free(st);
}
END_TEST

/* x(t) = a sin(2πt/T) + b sin(πt/T): a step period T whose two steps
 * differ. Its normalised autocorrelation is
 *   R(τ) = (a² cos(2πτ/T) + b² cos(πτ/T)) / (a² + b²),
 * so step regularity R(T) = (a² - b²)/(a² + b²), stride regularity
 * R(2T) = 1, symmetry their ratio. */
START_TEST(regularity_closed_form)
{
    const double T = 0.5, fs = 100;
    static const double ab[][2] = {{2, 1}, {3, 0.5}, {2, 0}};
    for (int q = 0; q < 3; q++) {
        double a = ab[q][0], b = ab[q][1];
        size_t n = (size_t)(60 * fs);
        char *text = malloc(n * 40 + 32), *p = text;
        p += sprintf(p, "t,v\n");
        for (size_t i = 0; i < n; i++) {
            double t = i / fs;
            p += sprintf(p, "%.3f,%.6f\n", t, 9.8 + a * sin(2 * M_PI * t / T + 0.3) + b * sin(M_PI * t / T + 0.15));
        }
        tu_write_file(tu_path("reg.csv"), text);
        free(text);
        tu_csv c;
        run_gait("reg", "[imu]\nplugin = sensor\n\n[steps]\nplugin = steps\ninput = imu\n\n"
                        "[gait]\nplugin = gait\ninput = steps, imu\nvertical = v\n\n"
                        "[out]\nplugin = csv\ninput = gait\npath = {stem}.gait.csv\n",
                 NULL, &c);
        double ad1 = (a * a - b * b) / (a * a + b * b);
        ck_assert_msg(fabs(at(&c, 0, "step_time") - T) < 0.005, "step time %g", at(&c, 0, "step_time"));
        ck_assert_msg(fabs(at(&c, 0, "step_regularity") - ad1) < 0.02, "a %g b %g: Ad1 %.4f, expected %.4f", a, b,
                      at(&c, 0, "step_regularity"), ad1);
        ck_assert_msg(fabs(at(&c, 0, "stride_regularity") - 1) < 0.02, "Ad2 %.4f", at(&c, 0, "stride_regularity"));
        ck_assert_msg(fabs(at(&c, 0, "symmetry") - ad1) < 0.03, "symmetry %.4f", at(&c, 0, "symmetry"));
        tu_csv_free(&c);
    }
}
END_TEST

/* Steps every T = 0.5 s (found in column v), but a vertical acceleration
 * w = sin(2πt / 2 s) that is not periodic at the stride: its normalised
 * autocorrelation is R(τ) = cos(πτ / 1 s), so the stride regularity (its
 * peak over 1.7 T .. 2.3 T) is cos(0.85π) = -0.891 and the step regularity
 * (over 0.7 T .. 1.3 T) cos(0.35π) = 0.454. With Ad2 <= 0 the symmetry
 * Ad1 / Ad2 means nothing: NaN. */
START_TEST(symmetry_needs_stride_regularity)
{
    const double T = 0.5, fs = 100;
    size_t n = (size_t)(60 * fs);
    char *text = malloc(n * 48 + 32), *p = text;
    p += sprintf(p, "t,v,w\n");
    for (size_t i = 0; i < n; i++) {
        double t = i / fs;
        p += sprintf(p, "%.3f,%.6f,%.6f\n", t, 9.8 + 2 * sin(2 * M_PI * t / T), sin(M_PI * t));
    }
    tu_write_file(tu_path("noreg.csv"), text);
    free(text);
    tu_csv c;
    run_gait("noreg", "[imu]\nplugin = sensor\n\n[steps]\nplugin = steps\ninput = imu\ncolumn = v\n\n"
                      "[gait]\nplugin = gait\ninput = steps, imu\nvertical = w\n\n"
                      "[out]\nplugin = csv\ninput = gait\npath = {stem}.gait.csv\n",
             NULL, &c);
    ck_assert_msg(fabs(at(&c, 0, "step_time") - T) < 0.005, "step time %g", at(&c, 0, "step_time"));
    ck_assert_msg(fabs(at(&c, 0, "step_regularity") - cos(0.35 * M_PI)) < 0.03, "Ad1 %.4f",
                  at(&c, 0, "step_regularity"));
    ck_assert_msg(fabs(at(&c, 0, "stride_regularity") - cos(0.85 * M_PI)) < 0.03, "Ad2 %.4f",
                  at(&c, 0, "stride_regularity"));
    ck_assert_msg(isnan(at(&c, 0, "symmetry")), "symmetry %g with Ad2 <= 0", at(&c, 0, "symmetry"));
    tu_csv_free(&c);
}
END_TEST

/* Sliding windows: one row per hop, the cadence of each window. */
START_TEST(windows)
{
    static const gg_part parts[] = {{1, 0, 0, 0}, {30, 96, 96, 0}, {30, 120, 120, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 3, .amp = 3, .noise = 0.2, .jitter = 0.005, .seed = 8};
    double *st;
    size_t n;
    gg_walk_csv(tu_path("win.csv"), &o, &st, &n);
    free(st);
    tu_csv c;
    run_gait("win", graph, "--set gait.mode=windows --set gait.window=10 --set gait.hop=2", &c);
    /* the signal lasts 61 s: windows start at 0, 2, ... 50 */
    ck_assert_uint_eq(c.rows, 26);
    ck_assert_double_eq_tol(at(&c, 5, "time"), 10, 1e-9);
    ck_assert_msg(fabs(at(&c, 5, "cadence") - 96) < 0.01 * 96, "window at 10 s: %g", at(&c, 5, "cadence"));
    ck_assert_msg(fabs(at(&c, 22, "cadence") - 120) < 0.01 * 120, "window at 44 s: %g", at(&c, 22, "cadence"));
    tu_csv_free(&c);
}
END_TEST

/* The output does not depend on chunking, threads, or how the steps and
 * the signal interleave. */
START_TEST(chunk_invariance)
{
    static const gg_part parts[] = {{2, 0, 0, 0}, {12, 100, 115, 0}, {3, 0, 0, 0}, {12, 110, 110, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 4, .amp = 3, .asym = 0.3, .noise = 0.2, .jitter = 0.02,
                      .seed = 31};
    double *st;
    size_t n;
    const char *in = tu_path("inv.csv");
    gg_walk_csv(in, &o, &st, &n);
    free(st);
    const char *gp = tu_path("inv.ini");
    tu_write_file(gp, "[imu]\nplugin = sensor\n\n[steps]\nplugin = steps\ninput = imu\n\n"
                      "[gait]\nplugin = gait\ninput = steps, imu\nmode = windows\nwindow = 8\n\n"
                      "[out]\nplugin = jsonl\ninput = gait\npath = {stem}.gait.jsonl\n");
    const char *why = gg_invariance(gp, in, "inv.gait.jsonl", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

static Suite *gait_suite(void)
{
    Suite *s = suite_create("gait");
    TCase *tc = tcase_create("gait");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, cadence_and_step_times);
    tcase_add_test(tc, regularity_closed_form);
    tcase_add_test(tc, symmetry_needs_stride_regularity);
    tcase_add_test(tc, windows);
    tcase_add_test(tc, chunk_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gait_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
