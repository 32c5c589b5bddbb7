/* check_steps.c — step detection on synthetic walks whose step times are
 * known (made by gen_gait.c): F1 within ±100 ms for different carrying
 * orientations, cadences, noise, pauses, turns and left/right asymmetry;
 * a single magnitude column; independence from chunking and threads. */
#include "gen_gait.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char graph[] = "[imu]\nplugin = sensor\ntime = t\n\n"
                            "[steps]\nplugin = steps\ninput = imu\n\n"
                            "[out]\nplugin = csv\ninput = steps\npath = {stem}.steps.csv\n";

/* Run the graph on a generated walk; return the detected step times. */
static double *detect(const char *name, const gg_walk_opts *o, double **truth, size_t *nt, size_t *nf,
                      const char *extra)
{
    char csv[64];
    snprintf(csv, sizeof csv, "%s.csv", name);
    const char *in = tu_path(csv);
    gg_walk_csv(in, o, truth, nt);
    const char *g = tu_path("steps.ini");
    tu_write_file(g, graph);
    int rc = tu_joule("run '%s' '%s' -o '%s' %s", g, in, tu_path("out"), extra ? extra : "");
    ck_assert_msg(rc == 0, "joule failed: %s", tu_stderr());
    char out[600];
    snprintf(out, sizeof out, "%s/%s.steps.csv", tu_path("out"), name);
    tu_csv t;
    ck_assert_int_eq(tu_csv_read(out, &t), 0);
    ck_assert_int_eq(tu_csv_col(&t, "time"), 0);
    ck_assert_int_ge(tu_csv_col(&t, "peak"), 0);
    double *f = malloc((t.rows + 1) * sizeof *f);
    for (size_t i = 0; i < t.rows; i++)
        f[i] = t.v[i * t.cols];
    *nf = t.rows;
    tu_csv_free(&t);
    return f;
}

static void check_f1(const char *name, const gg_walk_opts *o, double min_f1)
{
    double *truth, *found;
    size_t nt, nf;
    found = detect(name, o, &truth, &nt, &nf, NULL);
    double f1 = gg_f1(truth, nt, found, nf, 0.1);
    ck_assert_msg(nt > 20, "%s: only %zu generated steps", name, nt);
    ck_assert_msg(f1 >= min_f1, "%s: F1 %.4f (%zu true steps, %zu found)", name, f1, nt, nf);
    free(truth);
    free(found);
}

static const gg_part steady[] = {{3, 0, 0, 0}, {60, 110, 110, 0}, {3, 0, 0, 0}};

START_TEST(upright_steady)
{
    gg_walk_opts o = {.rate = 100, .parts = steady, .n_parts = 3, .amp = 3, .noise = 0.2, .jitter = 0.01, .seed = 1};
    check_f1("upright", &o, 0.98);
}
END_TEST

/* Different carrying orientations: the norm makes them all alike. */
START_TEST(orientations)
{
    static const double ori[][3] = {{0, 90, 0}, {45, -60, 30}, {170, 20, -100}, {0, 0, 180}};
    static const char *const names[] = {"pocket", "bag", "hand", "upside"};
    for (int i = 0; i < 4; i++) {
        gg_walk_opts o = {.rate = 100, .parts = steady, .n_parts = 3, .yaw = ori[i][0], .pitch = ori[i][1],
                          .roll = ori[i][2], .amp = 2.5, .noise = 0.25, .jitter = 0.01, .seed = 10 + i};
        check_f1(names[i], &o, 0.98);
    }
}
END_TEST

/* Cadence varying from slow to brisk, pauses and turns, asymmetric
 * amplitudes (a phone in one trouser pocket), irregular timestamps. */
START_TEST(varied_walk)
{
    static const gg_part parts[] = {{2, 0, 0, 0},     {30, 90, 130, 0},  {5, 0, 0, 0}, {20, 120, 100, 180},
                                    {4, 0, 0, 0},      {25, 100, 115, -90}, {3, 0, 0, 0}};
    gg_walk_opts o = {.rate = 200, .parts = parts, .n_parts = 7, .pitch = 80, .roll = 10, .amp = 3, .asym = 0.3,
                      .noise = 0.3, .jitter = 0.015, .ts_jitter = 0.3, .seed = 42, .time_unit = 3};
    check_f1("varied", &o, 0.98);
}
END_TEST

START_TEST(noisy_slow)
{
    static const gg_part parts[] = {{2, 0, 0, 0}, {60, 80, 90, 45}, {2, 0, 0, 0}};
    gg_walk_opts o = {.rate = 50, .parts = parts, .n_parts = 3, .yaw = 30, .pitch = 40, .amp = 2, .asym = 0.2,
                      .noise = 0.5, .jitter = 0.02, .seed = 7, .time_unit = 1};
    check_f1("slow", &o, 0.98);
}
END_TEST

/* Standing still, and handling without walking: no steps at all. */
START_TEST(no_walking)
{
    static const gg_part parts[] = {{30, 0, 0, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 1, .amp = 3, .noise = 0.3, .seed = 3};
    double *truth, *found;
    size_t nt, nf;
    found = detect("still", &o, &truth, &nt, &nf, NULL);
    ck_assert_uint_eq(nt, 0);
    ck_assert_msg(nf == 0, "%zu steps found while standing", nf);
    free(truth);
    free(found);
}
END_TEST

/* Ten minutes of white noise, 9.8 + N(0, 1) m/s^2 at 100 Hz, as three
 * axes and as one magnitude column: moving enough (min_sd), but not
 * periodic. At most one false step a minute (4 s windows made hundreds). */
START_TEST(noise_only)
{
    const size_t n = 60000;
    gg_rng r = {2024};
    char *t3 = malloc(n * 64 + 32), *t1 = malloc(n * 32 + 32), *p3 = t3, *p1 = t1;
    p3 += sprintf(p3, "t,ax,ay,az\n");
    p1 += sprintf(p1, "t,a\n");
    for (size_t i = 0; i < n; i++) {
        double x = gg_normal(&r), y = gg_normal(&r), z = 9.8 + gg_normal(&r);
        p3 += sprintf(p3, "%.2f,%.5f,%.5f,%.5f\n", i / 100.0, x, y, z);
        p1 += sprintf(p1, "%.2f,%.5f\n", i / 100.0, 9.8 + gg_normal(&r));
    }
    tu_write_file(tu_path("noise3.csv"), t3);
    tu_write_file(tu_path("noise1.csv"), t1);
    free(t3);
    free(t1);
    const char *g = tu_path("noise.ini");
    tu_write_file(g, graph);
    static const char *const names[] = {"noise3", "noise1"};
    for (int i = 0; i < 2; i++) {
        char in[64], out[700];
        snprintf(in, sizeof in, "%s.csv", names[i]);
        ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", g, tu_path(in), tu_path("nout")) == 0, "%s", tu_stderr());
        snprintf(out, sizeof out, "%s/%s.steps.csv", tu_path("nout"), names[i]);
        tu_csv t;
        ck_assert_int_eq(tu_csv_read(out, &t), 0);
        ck_assert_msg(t.rows <= 10, "%s: %zu steps in 10 minutes of noise", names[i], t.rows);
        tu_csv_free(&t);
    }
}
END_TEST

/* Relations between parameters are refused before any input is read
 * (exit 2, by validate and by run), with the figures they compare. */
START_TEST(param_relations)
{
    const char *g = tu_path("rel.ini");
    tu_write_file(g, "[imu]\nplugin = sensor\n\n[steps]\nplugin = steps\ninput = imu\nmax_period = 1.2\nwindow = 2.4\n\n"
                     "[out]\nplugin = csv\ninput = steps\n");
    ck_assert_int_eq(tu_joule("validate '%s'", g), 2);
    ck_assert_msg(strstr(tu_stderr(), "window (2.4 s) must be longer than 2 × max_period (2.4 s)") != NULL, "%s",
                  tu_stderr());
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", g, tu_path("absent.csv"), tu_path("rout")), 2);
    ck_assert_msg(strstr(tu_stderr(), "must be longer than 2 × max_period") != NULL, "%s", tu_stderr());
    tu_write_file(g, "[imu]\nplugin = sensor\n\n[steps]\nplugin = steps\ninput = imu\nmin_period = 0.8\n"
                     "max_period = 0.8\n\n[out]\nplugin = csv\ninput = steps\n");
    ck_assert_int_eq(tu_joule("validate '%s'", g), 2);
    ck_assert_msg(strstr(tu_stderr(), "max_period (0.8 s) must exceed min_period (0.8 s)") != NULL, "%s", tu_stderr());
}
END_TEST

/* One magnitude column (from the vector plugin) gives the same steps as
 * the three axes. */
START_TEST(magnitude_column)
{
    gg_walk_opts o = {.rate = 100, .parts = steady, .n_parts = 3, .amp = 3, .noise = 0.2, .jitter = 0.01, .seed = 5};
    double *truth;
    size_t nt;
    const char *in = tu_path("mag.csv");
    gg_walk_csv(in, &o, &truth, &nt);
    const char *g = tu_path("mag.ini");
    tu_write_file(g, "[imu]\nplugin = sensor\n\n[mag]\nplugin = vector\ninput = imu\nkeep = none\nnorm = ax, ay, az\n\n"
                     "[steps]\nplugin = steps\ninput = mag\n\n"
                     "[out]\nplugin = csv\ninput = steps\npath = {stem}.steps.csv\n");
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", g, in, tu_path("magout")) == 0, "%s", tu_stderr());
    tu_csv t;
    char out[600];
    snprintf(out, sizeof out, "%s/mag.steps.csv", tu_path("magout"));
    ck_assert_int_eq(tu_csv_read(out, &t), 0);
    double *f = malloc((t.rows + 1) * sizeof *f);
    for (size_t i = 0; i < t.rows; i++)
        f[i] = t.v[i * t.cols];
    double f1 = gg_f1(truth, nt, f, t.rows, 0.1);
    ck_assert_msg(f1 >= 0.98, "F1 %.4f", f1);
    tu_csv_free(&t);
    free(f);
    free(truth);
}
END_TEST

/* The same bytes whatever the chunk size and thread count. */
START_TEST(chunk_invariance)
{
    static const gg_part parts[] = {{2, 0, 0, 0}, {15, 100, 120, 90}, {3, 0, 0, 0}, {10, 110, 110, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 4, .pitch = 60, .amp = 3, .asym = 0.25, .noise = 0.3,
                      .jitter = 0.02, .seed = 9};
    double *truth;
    size_t nt;
    const char *in = tu_path("inv.csv");
    gg_walk_csv(in, &o, &truth, &nt);
    free(truth);
    const char *g = tu_path("inv.ini");
    tu_write_file(g, graph);
    const char *why = gg_invariance(g, in, "inv.steps.csv", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

/* A long walk: one chunk of 65,536 rows holds hundreds of steps, all of
 * which must come out (and the same ones as with small chunks). */
START_TEST(long_walk_big_chunks)
{
    static const gg_part parts[] = {{2, 0, 0, 0}, {420, 115, 115, 0}, {2, 0, 0, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 3, .amp = 3, .noise = 0.2, .jitter = 0.01, .seed = 77};
    double *truth, *found;
    size_t nt, nf;
    found = detect("long", &o, &truth, &nt, &nf, "--set graph.chunk=65536");
    double f1 = gg_f1(truth, nt, found, nf, 0.1);
    ck_assert_msg(f1 >= 0.98, "F1 %.4f (%zu true steps, %zu found)", f1, nt, nf);
    free(truth);
    free(found);
    const char *why = gg_invariance(tu_path("steps.ini"), tu_path("long.csv"), "long.steps.csv", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

/* Too short an input for a periodicity window: no steps, no failure. */
START_TEST(short_input)
{
    const char *in = tu_path("short.csv");
    tu_write_file(in, "t,ax,ay,az\n0,0,0,9.8\n0.01,0,0,9.9\n0.02,0,0,9.7\n");
    const char *g = tu_path("short.ini");
    tu_write_file(g, graph);
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", g, in, tu_path("sout")) == 0, "%s", tu_stderr());
    char *text = tu_read_file(tu_path("sout/short.steps.csv"));
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "time,peak,period\n");
    free(text);
}
END_TEST

static Suite *steps_suite(void)
{
    Suite *s = suite_create("steps");
    TCase *tc = tcase_create("steps");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, upright_steady);
    tcase_add_test(tc, orientations);
    tcase_add_test(tc, varied_walk);
    tcase_add_test(tc, noisy_slow);
    tcase_add_test(tc, no_walking);
    tcase_add_test(tc, magnitude_column);
    tcase_add_test(tc, chunk_invariance);
    tcase_add_test(tc, long_walk_big_chunks);
    tcase_add_test(tc, short_input);
    tcase_add_test(tc, noise_only);
    tcase_add_test(tc, param_relations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(steps_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
