/* check_cli.c — the joule command end to end: usage and exit statuses,
 * graph errors before any input is read, bad inputs, plugins/inspect, and
 * the example graph's RMS against an independent computation. */
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

START_TEST(test_usage)
{
    ck_assert_int_eq(tu_joule("--help"), 0);
    ck_assert_int_eq(tu_joule("--version"), 0);
    ck_assert_int_eq(tu_joule("%s", ""), 2);
    ck_assert_int_eq(tu_joule("frobnicate"), 2);
    ck_assert_ptr_nonnull(strstr(tu_stderr(), "unknown command 'frobnicate'"));
    ck_assert_int_eq(tu_joule("run"), 2);
    ck_assert_int_eq(tu_joule("run -j 0 x.ini"), 2);
    ck_assert_int_eq(tu_joule("--no-such-option"), 2);
    ck_assert_int_eq(tu_joule("inspect nothing_like_it"), 2);
    ck_assert_int_eq(tu_joule("inspect energy"), 0);
    ck_assert_int_eq(tu_joule("plugins"), 0);
}
END_TEST

START_TEST(test_misspelt_plugin)
{
    /* exit 2, file:line and a suggestion, before any input is read (the
     * input does not even exist) */
    tu_write_file(tu_path("graph.ini"), "[in]\nplugin = sndfile\n\n[rms]\nplugin = enrgy\ninput = in\n\n"
                                        "[out]\nplugin = csv\ninput = rms\n");
    int rc = tu_joule("run '%s' '%s'", tu_path("graph.ini"), tu_path("missing.wav"));
    ck_assert_int_eq(rc, 2);
    char want[1024];
    snprintf(want, sizeof want, "%s:5: node 'rms': unknown plugin 'enrgy'; did you mean 'energy'?\n",
             tu_path("graph.ini"));
    ck_assert_str_eq(tu_stderr(), want);
    ck_assert_int_eq(tu_joule("validate '%s'", tu_path("graph.ini")), 2);
}
END_TEST

static const char *example(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/examples/energy.ini", getenv("top_srcdir") ? getenv("top_srcdir") : "..");
    return path;
}

START_TEST(test_example_rms)
{
    /* examples/energy.ini on a 16-bit WAV: every RMS within 1e-5 of a
     * direct computation from the integer samples */
    const int rate = 44100, n = rate * 2 + 123;
    short *pcm = malloc((size_t)n * 2 * sizeof *pcm);
    float *x = malloc((size_t)n * 2 * sizeof *x);
    unsigned s = 99;
    for (int i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        pcm[2 * i] = (short)(12000 * sin(i * 0.031) + (int)((s >> 16) % 2001) - 1000);
        pcm[2 * i + 1] = (short)(i % 3000 - 1500);
        x[2 * i] = pcm[2 * i] / 32768.0f;
        x[2 * i + 1] = pcm[2 * i + 1] / 32768.0f;
    }
    tu_write_wav(tu_path("music.wav"), rate, 2, (size_t)n, x, 0x0002 /* PCM 16 */);
    ck_assert_int_eq(tu_joule("validate '%s'", example()), 0);
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", example(), tu_path("music.wav"), tu_path("ex")), 0);
    tu_csv c;
    ck_assert_int_eq(tu_csv_read(tu_path("ex/music.energy.csv"), &c), 0);
    ck_assert_uint_eq(c.rows, (size_t)(n - 1024) / 512 + 1);
    int k0 = tu_csv_col(&c, "rms_ch0"), k1 = tu_csv_col(&c, "rms_ch1");
    ck_assert_int_ge(k0, 0);
    ck_assert_int_ge(k1, 0);
    for (size_t r = 0; r < c.rows; r++) {
        double s0 = 0, s1 = 0;
        for (size_t i = r * 512; i < r * 512 + 1024; i++) {
            s0 += (pcm[2 * i] / 32768.0) * (pcm[2 * i] / 32768.0);
            s1 += (pcm[2 * i + 1] / 32768.0) * (pcm[2 * i + 1] / 32768.0);
        }
        ck_assert_double_eq_tol(c.v[r * c.cols + (size_t)k0], sqrt(s0 / 1024), 1e-5);
        ck_assert_double_eq_tol(c.v[r * c.cols + (size_t)k1], sqrt(s1 / 1024), 1e-5);
    }
    tu_csv_free(&c);
    free(pcm);
    free(x);
}
END_TEST

START_TEST(test_bad_inputs)
{
    char g[600]; /* a copy: tu_path's ring is reused below */
    snprintf(g, sizeof g, "%s", tu_path("e.ini"));
    tu_write_file(g, "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n");
    /* missing, empty, not audio, truncated: each a one-line error naming the
     * file, exit 1, and the good file beside them still processed */
    tu_write_file(tu_path("empty.wav"), "");
    tu_write_file(tu_path("text.wav"), "RIFF but not really a wave file, just text\n");
    float x[2000];
    for (int i = 0; i < 2000; i++)
        x[i] = (float)i / 2000;
    tu_write_wav(tu_path("good.wav"), 8000, 1, 2000, x, 0);
    tu_write_wav(tu_path("cut.wav"), 8000, 1, 2000, x, 0);
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "truncate -s 3000 '%s'", tu_path("cut.wav")), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    /* a header whose sizes were never filled in, with audio after it */
    tu_write_wav(tu_path("nosize.wav"), 8000, 1, 2000, x, 0);
    char *text = tu_read_file(tu_path("nosize.wav"));
    ck_assert_ptr_nonnull(text);
    free(text);
    ck_assert_int_ge(asprintf(&cmd, "printf '\\000\\000\\000\\000' | dd of='%s' bs=1 seek=4 conv=notrunc status=none && "
                                    "n=$(grep -abo data '%s' | head -n1 | cut -d: -f1) && "
                                    "printf '\\000\\000\\000\\000' | dd of='%s' bs=1 seek=$((n + 4)) conv=notrunc status=none",
                              tu_path("nosize.wav"), tu_path("nosize.wav"), tu_path("nosize.wav")),
                     0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    int rc = tu_joule("run '%s' '%s' '%s' '%s' '%s' '%s' '%s' -o '%s'", g, tu_path("nope.wav"), tu_path("empty.wav"),
                      tu_path("text.wav"), tu_path("cut.wav"), tu_path("nosize.wav"), tu_path("good.wav"),
                      tu_path("bad"));
    ck_assert_int_eq(rc, 1);
    const char *err = tu_stderr();
    ck_assert_ptr_nonnull(strstr(err, "nope.wav: node 'in' (sndfile 1.0.0): "));
    ck_assert_ptr_nonnull(strstr(err, "empty.wav: node 'in'"));
    ck_assert_ptr_nonnull(strstr(err, "text.wav: node 'in'"));
    ck_assert_ptr_nonnull(strstr(err, "cut.wav: node 'in' (sndfile 1.0.0): "));
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    ck_assert_ptr_nonnull(strstr(err, "nosize.wav: node 'in' (sndfile 1.0.0): "));
    ck_assert(!tu_exists(tu_path("bad/nosize.out.csv")));
    int lines = 0;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 5);
    ck_assert(tu_exists(tu_path("bad/good.out.csv")));
    ck_assert(!tu_exists(tu_path("bad/cut.out.csv")));
    ck_assert(!tu_exists(tu_path("bad/empty.out.csv")));
}
END_TEST

START_TEST(test_stats_report_progress)
{
    float x[8000];
    for (int i = 0; i < 8000; i++)
        x[i] = (float)(i % 100) / 100;
    tu_write_wav(tu_path("s.wav"), 8000, 1, 8000, x, 0);
    tu_write_file(tu_path("s.ini"), "[in]\nplugin = sndfile\n[e]\nplugin = energy\ninput = in\nframe = 800\nhop = 400\n"
                                    "[out]\nplugin = csv\ninput = e\n");
    int rc = tu_joule("run '%s' '%s' -o '%s' --stats --report '%s' --progress", tu_path("s.ini"), tu_path("s.wav"),
                      tu_path("so"), tu_path("r.json"));
    ck_assert_int_eq(rc, 0);
    const char *err = tu_stderr();
    /* the table: a row per node with its rows in and out */
    ck_assert_ptr_nonnull(strstr(err, "rows in"));
    ck_assert_ptr_nonnull(strstr(err, "files 1 done, 0 failed"));
    ck_assert_ptr_nonnull(strstr(err, "1/1 files"));
    char *json = tu_read_file(tu_path("r.json"));
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(strstr(json, "\"files\": {\"done\": 1, \"failed\": 0"));
    /* energy: 8000 rows in; 19 frames + 1 summary row out */
    ck_assert_ptr_nonnull(strstr(json, "\"name\": \"e\", \"plugin\": \"energy\", \"rows_in\": 8000, \"rows_out\": 20,"));
    ck_assert_ptr_nonnull(strstr(json, "\"latency_s\": {\"p50\": "));
    free(json);
    /* without a terminal and without --progress: no progress line */
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("s.ini"), tu_path("s.wav"), tu_path("so")), 0);
    ck_assert_str_eq(tu_stderr(), "");
}
END_TEST

/* inspect shows a shipped plugin's metadata (maker, licence, its
 * description after a blank line) between its header and its parameters;
 * no home page, since none is given. */
START_TEST(test_inspect_metadata)
{
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "'%s' inspect energy > '%s'", getenv("JOULE"), tu_path("inspect.txt")), 0);
    int st = system(cmd);
    free(cmd);
    ck_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *out = tu_read_file(tu_path("inspect.txt"));
    const char *maker = strstr(out, "\n  maker: The joule developers\n  licence: ");
    ck_assert_msg(maker != NULL, "%s", out);
    const char *text = strstr(out, "\n\n  Cuts each channel into frames of `frame` samples");
    const char *params = strstr(out, "\n\nparameters:\n");
    ck_assert_msg(text && params && maker < text && text < params, "%s", out);
    ck_assert_ptr_null(strstr(out, "home page:"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("Core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_usage);
    tcase_add_test(tc, test_inspect_metadata);
    tcase_add_test(tc, test_misspelt_plugin);
    tcase_add_test(tc, test_example_rms);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_stats_report_progress);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
