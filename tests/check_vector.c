/* check_vector.c — per-row column operations: the Euclidean norm (minus
 * gravity), keeping, renaming, scaling and offsetting columns, the errors
 * for unknown columns, and chunk invariance. */
#include "gen_gait.h"
#include "testutil.h"

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
