/* check_jsonl.c — the JSON Lines sink: one object per row with "time" and
 * the stream's column names, numbers that read back, null for NaN, events
 * with their own times, no file left when the job fails, chunk
 * invariance. */
#include "gen_gait.h"
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(signal_rows)
{
    const char *in = tu_path("s.csv");
    tu_write_file(in, "t,ax,ay\n0,1.5,-2\n0.5,2.25,3e-3\n1,0,-0\n");
    const char *gp = tu_path("s.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[out]\nplugin = jsonl\ninput = in\npath = {stem}.jsonl\n");
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", gp, in, tu_path("out")) == 0, "%s", tu_stderr());
    char *text = tu_read_file(tu_path("out/s.jsonl"));
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "{\"time\":0,\"ax\":1.5,\"ay\":-2}\n"
                           "{\"time\":0.5,\"ax\":2.25,\"ay\":0.00300000003}\n"
                           "{\"time\":1,\"ax\":0,\"ay\":0}\n");
    free(text);
}
END_TEST

/* Events (steps → gait summary) with NaN members (no signal: no
 * regularity) as null. */
START_TEST(events_and_null)
{
    static const gg_part parts[] = {{2, 0, 0, 0}, {20, 100, 100, 0}, {2, 0, 0, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 3, .amp = 3, .noise = 0.2, .seed = 4};
    double *truth;
    size_t nt;
    const char *in = tu_path("w.csv");
    gg_walk_csv(in, &o, &truth, &nt);
    free(truth);
    const char *gp = tu_path("w.ini");
    tu_write_file(gp, "[imu]\nplugin = sensor\n\n[steps]\nplugin = steps\ninput = imu\n\n[gait]\nplugin = gait\ninput = steps\n\n"
                      "[s]\nplugin = jsonl\ninput = steps\npath = {stem}.steps.jsonl\n\n"
                      "[g]\nplugin = jsonl\ninput = gait\npath = {stem}.gait.jsonl\n");
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", gp, in, tu_path("out")) == 0, "%s", tu_stderr());
    char *text = tu_read_file(tu_path("out/w.gait.jsonl"));
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(count_lines(text), 1);
    ck_assert_msg(!strncmp(text, "{\"time\":0,\"steps\":", 18), "%s", text);
    ck_assert_msg(strstr(text, "\"step_regularity\":null,\"stride_regularity\":null,\"symmetry\":null}\n"), "%s", text);
    free(text);
    text = tu_read_file(tu_path("out/w.steps.jsonl"));
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_ge(count_lines(text), 30);
    /* every line an object with time, peak, period; times increase */
    double last = -1;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        double t, pk, per;
        ck_assert_int_eq(sscanf(line, "{\"time\":%lf,\"peak\":%lf,\"period\":%lf}", &t, &pk, &per), 3);
        ck_assert(t > last);
        ck_assert_double_eq_tol(per, 0.6, 0.05);
        last = t;
        line = nl + 1;
    }
    free(text);
}
END_TEST

/* A failing job leaves no file (nor a temporary one). */
START_TEST(atomic)
{
    char *text = malloc(200000), *p = text;
    p += sprintf(p, "t,x\n");
    for (int i = 0; i < 9000; i++)
        p += sprintf(p, "%d,%d\n", i, i);
    p += sprintf(p, "9000,oops\n");
    const char *in = tu_path("bad.csv");
    tu_write_file(in, text);
    free(text);
    const char *gp = tu_path("bad.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[out]\nplugin = jsonl\ninput = in\npath = {stem}.jsonl\n");
    const char *od = tu_path("atomic");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s' --set graph.chunk=64", gp, in, od), 1);
    ck_assert(strstr(tu_stderr(), "bad.csv:9002:2: text 'oops' in numeric column 'x'") != NULL);
    DIR *d = opendir(od);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            ck_assert_msg(e->d_name[0] == '.', "left behind: %s", e->d_name);
        closedir(d);
    }
}
END_TEST

START_TEST(chunk_invariance)
{
    const size_t n = 1500;
    char *text = malloc(n * 48 + 64), *p = text;
    p += sprintf(p, "t,x,y\n");
    gg_rng r = {11};
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%.2f,%.6f,%.6f\n", i / 100.0, gg_normal(&r), gg_uniform(&r));
    const char *in = tu_path("inv.csv");
    tu_write_file(in, text);
    free(text);
    const char *gp = tu_path("inv.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[out]\nplugin = jsonl\ninput = in\npath = {stem}.jsonl\n");
    const char *why = gg_invariance(gp, in, "inv.jsonl", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

static Suite *jsonl_suite(void)
{
    Suite *s = suite_create("jsonl");
    TCase *tc = tcase_create("jsonl");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, signal_rows);
    tcase_add_test(tc, events_and_null);
    tcase_add_test(tc, atomic);
    tcase_add_test(tc, chunk_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jsonl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
