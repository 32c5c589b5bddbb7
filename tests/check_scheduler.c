/* check_scheduler.c — the executor on the graph shapes that could deadlock
 * or lose data (fan-out with a slow branch, a slow sink, many jobs in a
 * small pool, a node of two inputs), failure isolation, interruption, and
 * byte-identical output for any thread count and chunk size. */
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define GEN(rows) "[in]\nplugin = t_gen\nrows = " #rows "\ncolumns = 2\n"

static int run_graph(const char *graph, const char *files, const char *extra)
{
    const char *g = tu_path("g.ini");
    tu_write_file(g, graph);
    return tu_joule("run '%s' %s -o '%s' --plugin-path '%s' %s", g, files, tu_path("out"), getenv("TEST_PLUGINS"),
                    extra ? extra : "");
}

/* The counting source's output read back: rows 0..n-1, both columns. */
static void expect_count(const char *path, long n)
{
    tu_csv c;
    ck_assert_msg(tu_csv_read(path, &c) == 0, "%s missing", path);
    ck_assert_uint_eq(c.rows, (size_t)n);
    for (size_t r = 0; r < c.rows; r++) {
        ck_assert_double_eq(c.v[r * c.cols + 1], (double)r);
        ck_assert_double_eq(c.v[r * c.cols + 2], (double)r);
    }
    tu_csv_free(&c);
}

START_TEST(test_fanout_slow_branch)
{
    const char *g = GEN(20000) "[fast]\nplugin = t_pass\ninput = in\n"
                               "[slow]\nplugin = t_pass\ninput = in\ndelay_us = 200\n"
                               "[o1]\nplugin = csv\ninput = fast\npath = {stem}.fast.csv\n"
                               "[o2]\nplugin = csv\ninput = slow\npath = {stem}.slow.csv\n"
                               "[o3]\nplugin = csv\ninput = in\npath = {stem}.in.csv\n";
    ck_assert_int_eq(run_graph(g, "x", "-j 3 --set graph.chunk=64"), 0);
    expect_count(tu_path("out/x.fast.csv"), 20000);
    expect_count(tu_path("out/x.slow.csv"), 20000);
    expect_count(tu_path("out/x.in.csv"), 20000);
}
END_TEST

START_TEST(test_chain_in_place)
{
    /* pass-through nodes work in place on chunks nothing else holds, and
     * copy the ones shared (p2 feeds two nodes) */
    const char *g = GEN(50000) "[p1]\nplugin = t_pass\ninput = in\n[p2]\nplugin = t_pass\ninput = p1\n"
                               "[p3]\nplugin = t_pass\ninput = p2\n[p4]\nplugin = t_pass\ninput = p2\n"
                               "[p5]\nplugin = t_pass\ninput = p4\n"
                               "[o1]\nplugin = csv\ninput = p3\npath = {stem}.a.csv\n"
                               "[o2]\nplugin = csv\ninput = p5\npath = {stem}.b.csv\n";
    static const char *const extra[] = {"-j 1", "-j 2 --set graph.chunk=7", "-j 3 --set graph.chunk=5000"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(run_graph(g, "x", extra[i]), 0);
        expect_count(tu_path("out/x.a.csv"), 50000);
        expect_count(tu_path("out/x.b.csv"), 50000);
    }
}
END_TEST

START_TEST(test_slow_sink_many_jobs_small_pool)
{
    /* 12 jobs, 4 threads, the smallest budget: jobs must queue for their
     * quota, never deadlock, and all complete */
    const char *g = GEN(5000) "[slow]\nplugin = t_pass\ninput = in\ndelay_us = 50\n"
                              "[out]\nplugin = csv\ninput = slow\n";
    ck_assert_int_eq(run_graph(g, "f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 f11 f12", "-j 4 --set graph.memory=64K "
                                                                            "--set graph.chunk=256"),
                     0);
    for (int i = 1; i <= 12; i++) {
        char name[64];
        snprintf(name, sizeof name, "out/f%d.out.csv", i);
        expect_count(tu_path(name), 5000);
    }
}
END_TEST

START_TEST(test_two_inputs)
{
    /* a join of a stream with a (slow) copy of itself: both inputs must be
     * consumed whatever the interleaving */
    const char *g = GEN(30000) "[copy]\nplugin = t_pass\ninput = in\ndelay_us = 100\n"
                               "[j]\nplugin = t_join\ninput = in, copy\n"
                               "[out]\nplugin = csv\ninput = j\n";
    for (int threads = 1; threads <= 4; threads *= 2) {
        char extra[64];
        snprintf(extra, sizeof extra, "-j %d --set graph.chunk=100", threads);
        ck_assert_int_eq(run_graph(g, "x", extra), 0);
        tu_csv c;
        ck_assert_int_eq(tu_csv_read(tu_path("out/x.out.csv"), &c), 0);
        ck_assert_uint_eq(c.rows, 1);
        double sum = 30000.0 * 29999.0 / 2;
        ck_assert_double_eq(c.v[1], 30000);
        ck_assert_double_eq_tol(c.v[2], sum, sum * 1e-6);
        ck_assert_double_eq(c.v[3], 30000);
        ck_assert_double_eq_tol(c.v[4], sum, sum * 1e-6);
        tu_csv_free(&c);
    }
}
END_TEST

START_TEST(test_failure_isolation)
{
    const char *g = GEN(10000) "[p]\nplugin = t_pass\ninput = in\nfail_on = bad\nfail_at = 5000\n"
                               "[out]\nplugin = csv\ninput = p\n";
    int rc = run_graph(g, "a bad c", "-j 2 --set graph.chunk=128");
    ck_assert_int_eq(rc, 1);
    expect_count(tu_path("out/a.out.csv"), 10000);
    expect_count(tu_path("out/c.out.csv"), 10000);
    ck_assert(!tu_exists(tu_path("out/bad.out.csv")));
    ck_assert_str_eq(tu_stderr(), "joule: bad: node 'p' (t_pass 0.0.1): failing on purpose at row 5000\n");
    /* no temporary file left behind either */
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "ls '%s' | grep -q tmp", tu_path("out")), 0);
    ck_assert_int_ne(system(cmd), 0);
    free(cmd);
}
END_TEST

START_TEST(test_interrupt)
{
    const char *g = GEN(100000000) "[p]\nplugin = t_pass\ninput = in\ndelay_us = 1000\n"
                                   "[out]\nplugin = csv\ninput = p\n";
    tu_write_file(tu_path("g.ini"), g);
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "timeout --preserve-status -s INT 1 '%s' run '%s' x y -o '%s' --plugin-path '%s' 2>/dev/null",
                              getenv("JOULE"), tu_path("g.ini"), tu_path("int"), getenv("TEST_PLUGINS")), 0);
    int st = system(cmd);
    free(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 130);
    char *ls;
    ck_assert_int_ge(asprintf(&ls, "test -z \"$(ls -A '%s')\"", tu_path("int")), 0);
    ck_assert_int_eq(system(ls), 0); /* no output, no temporary file */
    free(ls);
}
END_TEST

START_TEST(test_burst_at_finish)
{
    /* a node of two outputs that says everything in finish, into two slow
     * branches: its last chunks must wait for room, not be dropped */
    const char *g = GEN(1000) "[b]\nplugin = t_burst\ninput = in\nrows = 44100\nper_call = 3000\n"
                              "[s1]\nplugin = t_pass\ninput = b.a\ndelay_us = 20\n"
                              "[s2]\nplugin = t_pass\ninput = b.b\ndelay_us = 50\n"
                              "[o1]\nplugin = csv\ninput = s1\npath = {stem}.a.csv\n"
                              "[o2]\nplugin = csv\ninput = s2\npath = {stem}.b.csv\n";
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(run_graph(g, "x", i % 2 ? "-j 4 --set graph.chunk=512" : "-j 8 --set graph.chunk=300"), 0);
        expect_count(tu_path("out/x.a.csv"), 44100);
        expect_count(tu_path("out/x.b.csv"), 44100);
    }
}
END_TEST

START_TEST(test_interrupt_pending_files)
{
    /* more files than can be open at once: the unopened ones are given up
     * at once, and the run ends (it used to wait for them forever) */
    const char *g = GEN(100000000) "[p]\nplugin = t_pass\ninput = in\ndelay_us = 1000\n"
                                   "[out]\nplugin = csv\ninput = p\n";
    tu_write_file(tu_path("g.ini"), g);
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "timeout -k 20 -s INT 1 '%s' run '%s' a b c d e f g -j 1 -o '%s' --plugin-path '%s' "
                                    "2>/dev/null",
                              getenv("JOULE"), tu_path("g.ini"), tu_path("int2"), getenv("TEST_PLUGINS")),
                     0);
    int st = system(cmd);
    free(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 124); /* timeout's status: it sent INT, and no kill was needed */
    char *ls;
    ck_assert_int_ge(asprintf(&ls, "test -z \"$(ls -A '%s')\"", tu_path("int2")), 0);
    ck_assert_int_eq(system(ls), 0);
    free(ls);
}
END_TEST

START_TEST(test_same_output_twice)
{
    /* one path for every input is one table (check_tables); two nodes
     * gathering into it are one file written twice */
    const char *g = GEN(10) "[out]\nplugin = csv\ninput = in\npath = all.csv\n"
                            "[out2]\nplugin = csv\ninput = in\npath = all.csv\n";
    ck_assert_int_eq(run_graph(g, "a b", NULL), 2);
    ck_assert_ptr_nonnull(strstr(tu_stderr(), "all.csv would be written twice"));
}
END_TEST

/* Determinism: same bytes for every thread count and chunk size, on a
 * fan-out graph of shipped plugins over a real WAV. */
START_TEST(test_determinism)
{
    const size_t frames = 44100 + 777;
    float *x = malloc(frames * 2 * sizeof *x);
    unsigned s = 12345;
    for (size_t i = 0; i < frames; i++) {
        s = s * 1103515245u + 12345u;
        x[2 * i] = (float)(0.5 * sin(i * 0.01) + ((s >> 16) % 1000) / 5000.0);
        x[2 * i + 1] = (float)(0.25 * cos(i * 0.003));
    }
    tu_write_wav(tu_path("a.wav"), 44100, 2, frames, x, 0);
    tu_write_wav(tu_path("b.wav"), 22050, 2, frames / 3, x, 0);
    free(x);
    /* every shipped audio plugin, with fan-out from the source */
    const char *g = "[in]\nplugin = sndfile\n"
                    "[rms]\nplugin = energy\ninput = in\n"
                    "[win]\nplugin = energy\ninput = in\nframe = 1000\nhop = 300\nwindow = hann\n"
                    "[spec]\nplugin = fft\ninput = in\nframe = 1024\nhop = 300\nmix = channels\n"
                    "[feat]\nplugin = spectral\ninput = spec\n"
                    "[loud]\nplugin = loudness\ninput = in\n"
                    "[o1]\nplugin = csv\ninput = rms\n[o2]\nplugin = csv\ninput = win\n"
                    "[o3]\nplugin = csv\ninput = rms.summary\n[o4]\nplugin = csv\ninput = in\n"
                    "[o5]\nplugin = csv\ninput = feat\n[o6]\nplugin = csv\ninput = loud\n"
                    "[o7]\nplugin = csv\ninput = loud.summary\n"
                    "[o8]\nplugin = sndfile_sink\ninput = in\npath = {stem}.o8.csv\nformat = flac\n";
    tu_write_file(tu_path("g.ini"), g);
    static const char *const outs[] = {"a.o1.csv", "a.o2.csv", "a.o3.csv", "a.o4.csv", "a.o5.csv", "a.o6.csv",
                                       "a.o7.csv", "a.o8.csv", "b.o1.csv", "b.o2.csv", "b.o3.csv", "b.o4.csv",
                                       "b.o5.csv", "b.o6.csv", "b.o7.csv", "b.o8.csv"};
    char inputs[1200];
    snprintf(inputs, sizeof inputs, "'%s' '%s'", tu_path("a.wav"), tu_path("b.wav"));
    char *why = tu_invariance(tu_path("g.ini"), inputs, outs, 16);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scheduler");
    TCase *tc = tcase_create("Shapes");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_fanout_slow_branch);
    tcase_add_test(tc, test_chain_in_place);
    tcase_add_test(tc, test_slow_sink_many_jobs_small_pool);
    tcase_add_test(tc, test_two_inputs);
    tcase_add_test(tc, test_failure_isolation);
    tcase_add_test(tc, test_interrupt);
    tcase_add_test(tc, test_same_output_twice);
    tcase_add_test(tc, test_burst_at_finish);
    tcase_add_test(tc, test_interrupt_pending_files);
    tcase_add_test(tc, test_determinism);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
