/* check_csv.c — the CSV sink: values read back bit for bit, the header,
 * byte-identical output for chunk sizes 1, 7, 4096 and 65536, atomic
 * writes (a failed job leaves no file and spares an older one). */
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_exact_readback)
{
    /* awkward floats: tiny, huge, negative zero, subnormal */
    const size_t n = 3000;
    float *x = malloc(n * 2 * sizeof *x);
    unsigned s = 7;
    for (size_t i = 0; i < n * 2; i++) {
        s = s * 1103515245u + 12345u;
        double m = ((double)(s >> 8) / (1u << 24)) * 2 - 1;
        x[i] = (float)(m * pow(10.0, (int)(s % 13) - 9));
    }
    x[0] = -0.0f;
    x[1] = 1e-40f; /* subnormal */
    x[2] = 0.1f;
    x[3] = 1.0f / 3.0f;
    tu_write_wav(tu_path("x.wav"), 1000, 2, n, x, 0);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\npath = {stem}.csv\n");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("x.wav"), tu_path("o")), 0);
    char *text = tu_read_file(tu_path("o/x.csv"));
    ck_assert_ptr_nonnull(text);
    ck_assert(!strncmp(text, "time,ch0,ch1\n0,-0,", 18));
    tu_csv c;
    ck_assert_int_eq(tu_csv_read(tu_path("o/x.csv"), &c), 0);
    ck_assert_uint_eq(c.rows, n);
    for (size_t r = 0; r < n; r++) {
        ck_assert_double_eq_tol(c.v[r * 3], r / 1000.0, 1e-12);
        for (int k = 0; k < 2; k++) {
            float back = (float)c.v[r * 3 + 1 + k];
            ck_assert_msg(memcmp(&back, &x[2 * r + k], sizeof back) == 0, "row %zu col %d: %.9g != %.9g", r, k,
                          back, x[2 * r + k]);
        }
    }
    tu_csv_free(&c);
    free(text);
    free(x);
}
END_TEST

START_TEST(test_chunk_sizes)
{
    const size_t n = 20011;
    float *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)sin(i * 0.05);
        x[2 * i + 1] = (float)((i % 100) / 100.0);
    }
    tu_write_wav(tu_path("y.wav"), 44100, 2, n, x, 0x0002);
    free(x);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[e]\nplugin = energy\ninput = in\nframe = 441\nhop = 147\n"
                                    "[out]\nplugin = csv\ninput = e\n");
    static const char *const outs[] = {"y.out.csv"};
    char *why = tu_invariance(tu_path("g.ini"), tu_path("y.wav"), outs, 1);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

START_TEST(test_atomic)
{
    /* an older complete file survives a failed run untouched */
    const size_t n = 1000;
    float *x = calloc(n, sizeof *x);
    tu_write_wav(tu_path("z.wav"), 1000, 1, n, x, 0);
    free(x);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\npath = {stem}.csv\n");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("z.wav"), tu_path("a")), 0);
    char *before = tu_read_file(tu_path("a/z.csv"));
    ck_assert_ptr_nonnull(before);
    /* now make the same input fail: truncate the WAV's data */
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "truncate -s 2000 '%s'", tu_path("z.wav")), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("z.wav"), tu_path("a")), 1);
    char *after = tu_read_file(tu_path("a/z.csv"));
    ck_assert_ptr_nonnull(after);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    ck_assert_int_ge(asprintf(&cmd, "ls '%s' | grep -q tmp", tu_path("a")), 0);
    ck_assert_int_ne(system(cmd), 0);
    free(cmd);
}
END_TEST

START_TEST(test_options)
{
    float x[4] = {1, 2, 3, 4};
    tu_write_wav(tu_path("w.wav"), 2, 1, 4, x, 0);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\npath = sub/{name}-{node}.tsv\n"
                                    "separator = tab\ntime = false\nheader = true\n");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("w.wav"), tu_path("p")), 0);
    char *text = tu_read_file(tu_path("p/sub/w.wav-out.tsv"));
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "ch0\n1\n2\n3\n4\n");
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("Core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_exact_readback);
    tcase_add_test(tc, test_chunk_sizes);
    tcase_add_test(tc, test_atomic);
    tcase_add_test(tc, test_options);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
