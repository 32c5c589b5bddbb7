/* check_cycles.c — gait cycles of synthetic joint angles with known range
 * of motion, asymmetry and a few abnormal cycles: ROM within 0.5°, the
 * symmetry index within 0.01, exactly the abnormal cycles flagged by the
 * IQR rule, the alerts expected from the generated values, cycles from a
 * phase column, a cycle counter or heel-strike events, and chunk
 * invariance (with events: any interleaving of the two inputs). */
#include "gen_gait.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCY 30
static const size_t abnormal[] = {6, 14, 22};
static const char *const cols[4] = {"knee_flexion_angle_ipsi", "knee_flexion_angle_contra", "hip_flexion_angle_ipsi",
                                    "hip_flexion_angle_contra"};
/* the columns' numbers in the sensor's output (t is not one of them) */
static const int colnum[4] = {2, 3, 4, 5};

static gg_cycle *make(const char *name)
{
    gg_angles_opts o = {.rate = 100,
                        .n_cycles = NCY,
                        .rom = {60, 55, 45, 45},
                        .base = {5, 5, -10, -10},
                        .rom_var = 1.5,
                        .base_var = 0.5,
                        .abnormal = abnormal,
                        .n_abnormal = 3,
                        .seed = 1234};
    return gg_angles_csv(tu_path(name), &o);
}

static double si(double a, double b)
{
    return fabs(a - b) / (0.5 * (fabs(a) + fabs(b)));
}

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    ck_assert_uint_lt(row, c->rows);
    return c->v[row * c->cols + (size_t)k];
}

static const char *graph(const char *seg)
{
    static char g[2048];
    snprintf(g, sizeof g,
             "[in]\nplugin = sensor\n\n%s\n"
             "[cyc]\nplugin = cycles\ncolumns = knee_flexion_angle_ipsi, knee_flexion_angle_contra, "
             "hip_flexion_angle_ipsi, hip_flexion_angle_contra\nmin_rom = 40\nrange = -20, 90\n%s%s\n\n"
             "[out]\nplugin = csv\ninput = cyc\npath = {stem}.cycles.csv\n\n"
             "[al]\nplugin = csv\ninput = cyc.alerts\npath = {stem}.alerts.csv\n\n"
             "[sum]\nplugin = csv\ninput = cyc.summary\npath = {stem}.summary.csv\n",
             strstr(seg, "input") ? "[hs]\nplugin = steps\ninput = in\ncolumn = hs\nmax_period = 1.5\nwindow = 6\n" : "",
             strstr(seg, "input") ? "" : "input = in\n", seg);
    return g;
}

static void run(const char *name, const char *seg, tu_csv *cy, tu_csv *al, tu_csv *sum)
{
    const char *gp = tu_path("cycles.ini");
    tu_write_file(gp, graph(seg));
    char in[64], p[700];
    snprintf(in, sizeof in, "%s.csv", name);
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", gp, tu_path(in), tu_path("out")) == 0, "%s", tu_stderr());
    snprintf(p, sizeof p, "%s/%s.cycles.csv", tu_path("out"), name);
    ck_assert_int_eq(tu_csv_read(p, cy), 0);
    snprintf(p, sizeof p, "%s/%s.alerts.csv", tu_path("out"), name);
    ck_assert_int_eq(tu_csv_read(p, al), 0);
    snprintf(p, sizeof p, "%s/%s.summary.csv", tu_path("out"), name);
    ck_assert_int_eq(tu_csv_read(p, sum), 0);
}

/* Every figure against the generated cycles. `tol_t`: start-time
 * tolerance (boundaries from detected heel strikes are approximate). */
static void verify(const gg_cycle *g, tu_csv *cy, tu_csv *al, tu_csv *sum, double tol_t)
{
    ck_assert_uint_eq(cy->rows, NCY);
    for (size_t k = 0; k < NCY; k++) {
        ck_assert_double_eq(at(cy, k, "cycle"), k + 1);
        ck_assert_double_eq_tol(at(cy, k, "time"), g[k].start, tol_t);
        ck_assert_double_eq_tol(at(cy, k, "duration"), g[k].dur, 2 * tol_t);
        for (int j = 0; j < 4; j++) {
            char nm[96];
            snprintf(nm, sizeof nm, "rom_%s", cols[j]);
            ck_assert_msg(fabs(at(cy, k, nm) - g[k].rom[j]) <= 0.5, "cycle %zu %s: %.3f, expected %.3f", k + 1, nm,
                          at(cy, k, nm), g[k].rom[j]);
            snprintf(nm, sizeof nm, "mean_%s", cols[j]);
            ck_assert_msg(fabs(at(cy, k, nm) - (g[k].base[j] + g[k].rom[j] / 2)) <= 0.5, "cycle %zu %s", k + 1, nm);
        }
        ck_assert_msg(fabs(at(cy, k, "si_knee_flexion_angle") - si(g[k].rom[0], g[k].rom[1])) <= 0.01,
                      "cycle %zu knee SI %.4f, expected %.4f", k + 1, at(cy, k, "si_knee_flexion_angle"),
                      si(g[k].rom[0], g[k].rom[1]));
        ck_assert_msg(fabs(at(cy, k, "si_hip_flexion_angle") - si(g[k].rom[2], g[k].rom[3])) <= 0.01, "cycle %zu hip SI",
                      k + 1);
        ck_assert_msg(at(cy, k, "outlier") == g[k].abnormal, "cycle %zu: outlier %g, abnormal %d", k + 1,
                      at(cy, k, "outlier"), g[k].abnormal);
    }
    /* summary over the normal cycles */
    double mrom[4] = {0};
    size_t nv = 0;
    for (size_t k = 0; k < NCY; k++)
        if (!g[k].abnormal) {
            for (int j = 0; j < 4; j++)
                mrom[j] += g[k].rom[j];
            nv++;
        }
    ck_assert_uint_eq(sum->rows, 1);
    ck_assert_double_eq(at(sum, 0, "cycles"), NCY);
    ck_assert_double_eq(at(sum, 0, "outliers"), NCY - nv);
    for (int j = 0; j < 4; j++) {
        char nm[96];
        snprintf(nm, sizeof nm, "rom_%s", cols[j]);
        mrom[j] /= nv;
        ck_assert_double_eq_tol(at(sum, 0, nm), mrom[j], 0.5);
    }
    ck_assert_double_eq_tol(at(sum, 0, "si_knee_flexion_angle"), si(mrom[0], mrom[1]), 0.01);
    ck_assert_double_eq_tol(at(sum, 0, "si_hip_flexion_angle"), si(mrom[2], mrom[3]), 0.01);
    /* alerts: what the generated values imply, in cycle order */
    size_t na = 0;
    for (size_t k = 0; k < NCY; k++) {
        double want[16][3];
        size_t nw = 0;
        for (int j = 0; j < 4; j++) {
            double lo = g[k].base[j], hi = g[k].base[j] + g[k].rom[j];
            if (g[k].rom[j] < 40) {
                want[nw][0] = 1, want[nw][1] = colnum[j], want[nw][2] = g[k].rom[j];
                nw++;
            }
            if (lo < -20) {
                want[nw][0] = 2, want[nw][1] = colnum[j], want[nw][2] = lo;
                nw++;
            }
            if (hi > 90) {
                want[nw][0] = 3, want[nw][1] = colnum[j], want[nw][2] = hi;
                nw++;
            }
        }
        if (g[k].abnormal) {
            want[nw][0] = 4, want[nw][1] = 0, want[nw][2] = g[k].dur;
            nw++;
        }
        for (size_t w = 0; w < nw; w++, na++) {
            ck_assert_uint_lt(na, al->rows);
            ck_assert_double_eq(at(al, na, "cycle"), k + 1);
            ck_assert_double_eq(at(al, na, "code"), want[w][0]);
            ck_assert_double_eq(at(al, na, "column"), want[w][1]);
            ck_assert_double_eq_tol(at(al, na, "value"), want[w][2], want[w][0] == 4 ? 2 * tol_t : 0.5);
        }
    }
    ck_assert_uint_eq(al->rows, na);
    ck_assert_uint_ge(na, 5); /* the test has teeth */
}

START_TEST(phase_column)
{
    gg_cycle *g = make("ph.csv");
    tu_csv cy, al, sum;
    run("ph", "phase = phase", &cy, &al, &sum);
    verify(g, &cy, &al, &sum, 0.011);
    tu_csv_free(&cy);
    tu_csv_free(&al);
    tu_csv_free(&sum);
    free(g);
}
END_TEST

START_TEST(cycle_counter)
{
    gg_cycle *g = make("cc.csv");
    tu_csv cy, al, sum;
    run("cc", "cycle = cycle", &cy, &al, &sum);
    verify(g, &cy, &al, &sum, 0.011);
    tu_csv_free(&cy);
    tu_csv_free(&al);
    tu_csv_free(&sum);
    free(g);
}
END_TEST

/* Heel strikes found by the steps plugin in the `hs` column. */
START_TEST(heel_strike_events)
{
    gg_cycle *g = make("ev.csv");
    tu_csv cy, al, sum;
    run("ev", "input = in, hs", &cy, &al, &sum);
    verify(g, &cy, &al, &sum, 0.02);
    tu_csv_free(&cy);
    tu_csv_free(&al);
    tu_csv_free(&sum);
    free(g);
}
END_TEST

START_TEST(errors)
{
    free(make("err.csv"));
    const char *gp = tu_path("err.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[cyc]\nplugin = cycles\ninput = in\n\n[out]\nplugin = csv\ninput = cyc\n");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", gp, tu_path("err.csv"), tu_path("out")), 1);
    ck_assert(strstr(tu_stderr(), "no cycle boundaries") != NULL);
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[cyc]\nplugin = cycles\ninput = in\nphase = phase\nrange = 5\n\n"
                      "[out]\nplugin = csv\ninput = cyc\n");
    ck_assert_int_eq(tu_joule("validate '%s'", gp), 2);
    ck_assert(strstr(tu_stderr(), "range: give 'low, high'") != NULL);
}
END_TEST

/* Symmetry columns of explicit pairs: si_NAME only for NAME_ipsi with
 * NAME_contra, si_A_B for another pair (not a second si_knee_flexion_angle);
 * a pair named twice is refused. */
START_TEST(pair_names)
{
    gg_cycle *g = make("pn.csv");
    tu_csv cy, al, sum;
    run("pn", "phase = phase\npairs = knee_flexion_angle_ipsi:knee_flexion_angle_contra, "
              "knee_flexion_angle_ipsi:hip_flexion_angle_ipsi",
        &cy, &al, &sum);
    ck_assert_int_ge(tu_csv_col(&cy, "si_knee_flexion_angle"), 0);
    ck_assert_int_ge(tu_csv_col(&cy, "si_knee_flexion_angle_ipsi_hip_flexion_angle_ipsi"), 0);
    int n_si = 0;
    for (size_t i = 0; i < cy.cols; i++)
        n_si += !strncmp(cy.names[i], "si_", 3);
    ck_assert_int_eq(n_si, 2);
    ck_assert_uint_eq(cy.rows, NCY);
    for (size_t k = 0; k < NCY; k++) {
        ck_assert_msg(fabs(at(&cy, k, "si_knee_flexion_angle") - si(g[k].rom[0], g[k].rom[1])) <= 0.01,
                      "cycle %zu knee SI", k + 1);
        ck_assert_msg(fabs(at(&cy, k, "si_knee_flexion_angle_ipsi_hip_flexion_angle_ipsi") -
                           si(g[k].rom[0], g[k].rom[2])) <= 0.01,
                      "cycle %zu knee/hip SI %.4f, expected %.4f", k + 1,
                      at(&cy, k, "si_knee_flexion_angle_ipsi_hip_flexion_angle_ipsi"), si(g[k].rom[0], g[k].rom[2]));
    }
    tu_csv_free(&cy);
    tu_csv_free(&al);
    tu_csv_free(&sum);
    free(g);
    const char *gp = tu_path("pn.ini");
    tu_write_file(gp, graph("phase = phase\npairs = knee_flexion_angle_ipsi:knee_flexion_angle_contra, "
                            "knee_flexion_angle_ipsi : knee_flexion_angle_contra"));
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", gp, tu_path("pn.csv"), tu_path("pnout")), 1);
    ck_assert_msg(strstr(tu_stderr(), "two symmetry columns would be named 'si_knee_flexion_angle'") != NULL, "%s",
                  tu_stderr());
}
END_TEST

START_TEST(chunk_invariance)
{
    gg_angles_opts o = {.rate = 100,
                        .n_cycles = 12,
                        .rom = {60, 55, 45, 45},
                        .base = {5, 5, -10, -10},
                        .rom_var = 1.5,
                        .base_var = 0.5,
                        .abnormal = abnormal,
                        .n_abnormal = 1,
                        .seed = 77};
    free(gg_angles_csv(tu_path("inv.csv"), &o));
    char gp[512];
    snprintf(gp, sizeof gp, "%s", tu_path("inv.ini"));
    tu_write_file(gp, graph("input = in, hs"));
    const char *why = gg_invariance(gp, tu_path("inv.csv"), "inv.cycles.csv", NULL);
    ck_assert_msg(why == NULL, "%s", why);
    why = gg_invariance(gp, tu_path("inv.csv"), "inv.alerts.csv", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

static Suite *cycles_suite(void)
{
    Suite *s = suite_create("cycles");
    TCase *tc = tcase_create("cycles");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, phase_column);
    tcase_add_test(tc, cycle_counter);
    tcase_add_test(tc, heel_strike_events);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, pair_names);
    tcase_add_test(tc, chunk_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cycles_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
