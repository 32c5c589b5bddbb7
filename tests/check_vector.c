/* check_vector.c — per-row column operations: the Euclidean norm (minus
 * gravity), keeping, renaming, scaling and offsetting columns, the errors
 * for unknown columns, and chunk invariance. */
#include "gen_gait.h"
#include "testutil.h"

#include <joule/joule.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(const char *vector_params, tu_csv *out)
{
    const char *in = tu_path("v.csv");
    tu_write_file(in, "t,ax,ay,az\n0,3,4,0\n0.01,1,2,2\n0.02,-6,0,8\n0.03,0,0,9.80665\n");
    char g[1024];
    snprintf(g, sizeof g,
             "[in]\nplugin = sensor\n\n[v]\nplugin = vector\ninput = in\n%s\n\n[out]\nplugin = csv\ninput = v\npath = "
             "{stem}.v.csv\n",
             vector_params);
    const char *gp = tu_path("v.ini");
    tu_write_file(gp, g);
    int rc = tu_joule("run '%s' '%s' -o '%s'", gp, in, tu_path("out"));
    if (rc == 0 && out)
        ck_assert_int_eq(tu_csv_read(tu_path("out/v.v.csv"), out), 0);
    return rc;
}

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    return c->v[row * c->cols + (size_t)k];
}

START_TEST(norm)
{
    tu_csv c;
    ck_assert_msg(run("norm = ax, ay, az", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.cols, 5); /* time, ax, ay, az, norm */
    ck_assert_double_eq_tol(at(&c, 0, "norm"), 5, 1e-6);
    ck_assert_double_eq_tol(at(&c, 1, "norm"), 3, 1e-6);
    ck_assert_double_eq_tol(at(&c, 2, "norm"), 10, 1e-6);
    ck_assert_double_eq(at(&c, 2, "ax"), -6);
    tu_csv_free(&c);
    ck_assert_msg(run("keep = none\nnorm = ax, ay, az\nname = dyn\ngravity = 9.80665", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.cols, 2);
    ck_assert_double_eq_tol(at(&c, 0, "dyn"), 5 - 9.80665, 1e-5);
    ck_assert_double_eq_tol(at(&c, 3, "dyn"), 0, 1e-5);
    tu_csv_free(&c);
}
END_TEST

START_TEST(keep_rename_scale)
{
    tu_csv c;
    ck_assert_msg(run("keep = az:z, ax\nscale = 0.5, 2\noffset = 1\nunit = g", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.cols, 3);
    ck_assert_int_eq(tu_csv_col(&c, "z"), 1);
    ck_assert_int_eq(tu_csv_col(&c, "ax"), 2);
    ck_assert_double_eq_tol(at(&c, 2, "z"), 8 * 0.5 + 1, 1e-6);
    ck_assert_double_eq_tol(at(&c, 2, "ax"), -6 * 2 + 1, 1e-6);
    tu_csv_free(&c);
}
END_TEST

START_TEST(errors)
{
    ck_assert_int_eq(run("norm = ax, ay, bz", NULL), 1);
    ck_assert_msg(strstr(tu_stderr(), "norm: the input has no column 'bz'") != NULL, "%s", tu_stderr());
    ck_assert_int_eq(run("keep = ax:ay, ay", NULL), 1);
    ck_assert_msg(strstr(tu_stderr(), "two output columns are named 'ay'") != NULL, "%s", tu_stderr());
    ck_assert_int_eq(run("keep = qq", NULL), 1);
    ck_assert_msg(strstr(tu_stderr(), "keep: the input has no column 'qq'") != NULL, "%s", tu_stderr());
    ck_assert_int_eq(run("keep = ax, ay\nscale = 1, 2, 3", NULL), 1);
    ck_assert(strstr(tu_stderr(), "scale and offset take one value, or one per kept column (2)") != NULL);
    ck_assert_int_eq(run("scale = x2", NULL), 2);
    ck_assert(strstr(tu_stderr(), "scale: 'x2' is not a number") != NULL);
    ck_assert_int_eq(run("norm = ax", NULL), 2);
    ck_assert(strstr(tu_stderr(), "norm: name two or more columns") != NULL);
}
END_TEST

/* New names (keep = old:new, name =) are column names: [A-Za-z0-9_.-], not
 * empty, not "time", and unique. Refused before any input is read. */
START_TEST(bad_names)
{
    static const char *const bad[][2] = {
        {"keep = ax:", "keep: the new name in 'ax:' is empty"},
        {"keep = ax:time, ay", "keep: the new name in 'ax:time' is taken by the time column"},
        {"keep = ax:a b", "keep: the new name in 'ax:a b' has a character other than A-Z a-z 0-9 _ . -"},
        {"keep = ax:x:y", "keep: the new name in 'ax:x:y' has a character other than"},
        {"norm = ax, ay\nname = time", "name: 'time' is taken by the time column"},
        {"norm = ax, ay\nname = |a|", "name: '|a|' has a character other than"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run(bad[i][0], NULL);
        ck_assert_msg(rc == 2, "%s: exit %d, expected 2", bad[i][0], rc);
        ck_assert_msg(strstr(tu_stderr(), bad[i][1]) != NULL, "%s: %s", bad[i][0], tu_stderr());
    }
    /* unique, with the norm's name too */
    ck_assert_int_eq(run("keep = ax:n, ay\nnorm = ax, ay\nname = n", NULL), 1);
    ck_assert_msg(strstr(tu_stderr(), "two output columns are named 'n'") != NULL, "%s", tu_stderr());
    /* and the good ones */
    tu_csv c;
    ck_assert_msg(run("keep = ax:a.x-1, ay:Y_2\nnorm = ax, ay\nname = n.2", &c) == 0, "%s", tu_stderr());
    ck_assert_double_eq(at(&c, 2, "a.x-1"), -6);
    ck_assert_double_eq(at(&c, 2, "Y_2"), 0);
    ck_assert_double_eq_tol(at(&c, 2, "n.2"), 6, 1e-6);
    tu_csv_free(&c);
}
END_TEST

/* Frames in (the energy plugin's RMS of 10-row frames), a signal out at the
 * frame rate: 2 × the RMS of each frame, computed here. */
START_TEST(frames_input)
{
    const size_t n = 100;
    double x[100];
    char text[4096], *p = text;
    p += sprintf(p, "t,x\n");
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(i % 7) - 3 + 0.25 * (double)(i % 3);
        p += sprintf(p, "%.2f,%.2f\n", i / 100.0, x[i]);
    }
    tu_write_file(tu_path("fr.csv"), text);
    const char *gp = tu_path("fr.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[e]\nplugin = energy\ninput = in\nframe = 10\nhop = 10\nfeatures = rms\n\n"
                      "[v]\nplugin = vector\ninput = e\nkeep = rms_x:r\nscale = 2\n\n"
                      "[out]\nplugin = csv\ninput = v\npath = {stem}.v.csv\n");
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", gp, tu_path("fr.csv"), tu_path("frout")) == 0, "%s", tu_stderr());
    tu_csv c;
    ck_assert_int_eq(tu_csv_read(tu_path("frout/fr.v.csv"), &c), 0);
    ck_assert_uint_eq(c.rows, n / 10);
    for (size_t k = 0; k < c.rows; k++) {
        double s = 0;
        for (size_t i = 10 * k; i < 10 * k + 10; i++)
            s += x[i] * x[i];
        ck_assert_double_eq_tol(at(&c, k, "time"), k * 0.1, 1e-9);
        ck_assert_double_eq_tol(at(&c, k, "r"), 2 * sqrt(s / 10), 1e-5);
    }
    tu_csv_free(&c);
}
END_TEST

/* The plugin run in-process through the harness, for the output format:
 * a signal always, and in place exactly when each output value comes from
 * the input value in the same place (every column kept in order, no
 * norm). Its input: three columns at 50 Hz, from an upstream output that
 * is in place (the harness itself passes input flags 0). */
static const char *const axyz[] = {"ax", "ay", "az"};

static joule_harness *vector_harness(const joule_descriptor *d, uint32_t kind, const char *keep,
                                     const char *norm_cols)
{
    joule_format in = {.kind = kind, .n_columns = 3, .rate = 50, .names = axyz};
    char params[256];
    snprintf(params, sizeof params, "keep = %s\nscale = 2\noffset = 1\nunit =\nnorm = %s\nname = norm\ngravity = 0",
             keep, norm_cols);
    return tu_harness_in_flags(d, JOULE_FORMAT_IN_PLACE, params, &in);
}

START_TEST(format_and_in_place)
{
    joule_harness *base = tu_harness("vector", NULL, NULL);
    const joule_descriptor *d = joule_harness_descriptor(base);
    ck_assert_uint_eq(d->n_params, 7);
    ck_assert_uint_eq(d->inputs[0].kinds, JOULE_SIGNAL | JOULE_FRAMES);
    static const struct {
        uint32_t kind;
        const char *keep, *norm;
        uint32_t flags;
    } cases[] = {
        {JOULE_SIGNAL, "all", "", JOULE_FORMAT_IN_PLACE},
        {JOULE_SIGNAL, "ax:x, ay, az:z", "", JOULE_FORMAT_IN_PLACE},
        {JOULE_SIGNAL, "ay, ax, az", "", 0},
        {JOULE_SIGNAL, "ax, ay", "", 0},
        {JOULE_SIGNAL, "all", "ax, ay", 0},
        {JOULE_FRAMES, "all", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        joule_harness *v = vector_harness(d, cases[i].kind, cases[i].keep, cases[i].norm);
        ck_assert_msg(joule_harness_open(v) == 0, "case %zu: %s", i, joule_harness_error(v));
        const joule_format *o = joule_harness_output_format(v, 0);
        ck_assert_msg(o->kind == JOULE_SIGNAL, "case %zu: kind %u", i, o->kind);
        ck_assert_msg(o->flags == cases[i].flags, "case %zu: flags %#x", i, o->flags);
        joule_harness_free(v);
    }
    /* in place: 2 x + 1, the same as copied */
    float x[3 * 64];
    for (int k = 0; k < 3 * 64; k++)
        x[k] = (float)(k * 0.37 - 20);
    float y[3 * 64], z[3 * 64];
    for (int in_place = 0; in_place < 2; in_place++) {
        joule_harness *v = vector_harness(d, JOULE_SIGNAL, "all", "");
        ck_assert_int_eq(joule_harness_set_in_place(v, in_place), 0);
        ck_assert_msg(joule_harness_open(v) == 0, "%s", joule_harness_error(v));
        ck_assert_uint_eq(tu_harness_feed(v, x, 64), 64);
        size_t n;
        const float *out = tu_harness_end(v, &n);
        ck_assert_uint_eq(n, 64);
        memcpy(in_place ? z : y, out, sizeof y);
        joule_harness_free(v);
    }
    for (int k = 0; k < 3 * 64; k++) {
        ck_assert_float_eq(y[k], (float)(x[k] * 2.0 + 1.0));
        ck_assert_float_eq(z[k], y[k]);
    }
    joule_harness_free(base);
}
END_TEST

START_TEST(chunk_invariance)
{
    const size_t n = 2000;
    char *text = malloc(n * 64 + 64), *p = text;
    p += sprintf(p, "t,ax,ay,az\n");
    gg_rng r = {5};
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%.2f,%.5f,%.5f,%.5f\n", i / 100.0, gg_normal(&r), gg_normal(&r), 9.8 + gg_normal(&r));
    const char *in = tu_path("inv.csv");
    tu_write_file(in, text);
    free(text);
    const char *gp = tu_path("inv.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[v]\nplugin = vector\ninput = in\nnorm = ax, ay, az\ngravity = 9.80665\n"
                      "scale = 0.1\n\n[out]\nplugin = csv\ninput = v\npath = {stem}.v.csv\n");
    const char *why = gg_invariance(gp, in, "inv.v.csv", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

static Suite *vector_suite(void)
{
    Suite *s = suite_create("vector");
    TCase *tc = tcase_create("vector");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, norm);
    tcase_add_test(tc, keep_rename_scale);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, bad_names);
    tcase_add_test(tc, frames_input);
    tcase_add_test(tc, format_and_in_place);
    tcase_add_test(tc, chunk_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vector_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
