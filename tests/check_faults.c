/* check_faults.c — a plugin that crashes, exits, hangs, spins or lies about
 * its output fails only its own input; every run can be stopped; limits
 * are respected.
 *
 * The misbehaving plugins are t_bad and t_badsrc (tests/plugins/
 * bad_plugin.c), which misbehave only on inputs whose path contains `on`:
 * each case runs three inputs, the middle one bad, and asserts the exit
 * status, the message, the other two outputs (byte for byte against a run
 * without the fault) and that no temporary is left. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void make_inputs(void)
{
    const size_t n = 20000;
    float *x = malloc(n * sizeof *x);
    const char *names[] = {"a.wav", "b.wav", "c.wav"};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(0.3 * sin(i * 0.01 * (k + 1)));
        tu_write_wav(tu_path(names[k]), 8000, 1, n, x, 0);
    }
    free(x);
}

/* The graph: sndfile -> t_bad(fault, where) -> csv, into folder `out`. */
static void bad_graph(const char *fault, const char *where)
{
    char g[1024];
    snprintf(g, sizeof g,
             "[in]\nplugin = sndfile\n[bad]\nplugin = t_bad\ninput = in\nfault = %s\nwhere = %s\non = b.wav\n"
             "[out]\nplugin = csv\ninput = bad\npath = {stem}.csv\n",
             fault, where);
    tu_write_file(tu_path("g.ini"), g);
}

static int run3(const char *out, const char *extra)
{
    return tu_joule("run -P '%s' '%s' '%s' '%s' '%s' -o '%s' %s", getenv("TEST_PLUGINS"), tu_path("g.ini"),
                    tu_path("a.wav"), tu_path("b.wav"), tu_path("c.wav"), tu_path(out), extra);
}

/* The outputs of a and c, as a run without any fault writes them. */
static void reference(void)
{
    make_inputs();
    bad_graph("none", "process");
    ck_assert_int_eq(run3("ref", ""), 0);
}

static void others_intact(const char *out)
{
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a.csv", tu_path(out));
    snprintf(b, sizeof b, "%s/a.csv", tu_path("ref"));
    ck_assert_msg(tu_same_bytes(a, b), "%s differs from the reference", a);
    snprintf(a, sizeof a, "%s/c.csv", tu_path(out));
    snprintf(b, sizeof b, "%s/c.csv", tu_path("ref"));
    ck_assert_msg(tu_same_bytes(a, b), "%s differs from the reference", a);
    snprintf(a, sizeof a, "%s/b.csv", tu_path(out));
    ck_assert_msg(!tu_exists(a), "%s exists", a);
    ck_assert_int_eq(tu_count_tmps(tu_path(out)), 0);
}

/* One fault: exit 1, the message, the others intact. */
static void expect(const char *fault, const char *where, const char *msg, const char *extra)
{
    static int k;
    char out[32];
    snprintf(out, sizeof out, "o%d", k++);
    bad_graph(fault, where);
    int rc = run3(out, extra);
    ck_assert_msg(rc == 1, "%s in %s: exit %d, %s", fault, where, rc, tu_stderr());
    ck_assert_msg(strstr(tu_stderr(), msg), "%s in %s: %s (wanted %s)", fault, where, tu_stderr(), msg);
    ck_assert_msg(strstr(tu_stderr(), "b.wav: "), "%s in %s: %s", fault, where, tu_stderr());
    ck_assert_msg(!strstr(tu_stderr(), "a.wav") && !strstr(tu_stderr(), "c.wav"), "%s in %s: %s", fault, where,
                  tu_stderr());
    others_intact(out);
}

START_TEST(test_crashes)
{
    reference();
    const char *wheres[] = {"open", "process", "finish"};
    for (int w = 0; w < 3; w++) {
        char m[128];
        snprintf(m, sizeof m, "node 'bad' (t_bad 6.6.6): crashed with SIGSEGV in %s", wheres[w]);
        expect("segv", wheres[w], m, "");
        snprintf(m, sizeof m, "node 'bad' (t_bad 6.6.6): crashed with SIGABRT in %s", wheres[w]);
        expect("abort", wheres[w], m, "");
        snprintf(m, sizeof m, "node 'bad' (t_bad 6.6.6): called exit() in %s", wheres[w]);
        expect("exit", wheres[w], m, "");
    }
    /* a library that aborts when memory runs out (FFTW's alloc check) */
    expect("oom", "open", "crashed with SIGABRT in open", "");
}
END_TEST

START_TEST(test_no_progress)
{
    reference();
    expect("more", "process", "process returned JOULE_MORE 1000 times in a row without emitting a row", "");
    expect("finish_ok", "process", "finish returned JOULE_OK 1000 times in a row without emitting a row", "");
    /* a source that returns no row and no end, for ever */
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = t_badsrc\nfault = zero_rows\non = b.wav\n"
                                    "[out]\nplugin = csv\ninput = in\npath = {stem}.csv\n");
    ck_assert_int_eq(run3("src", ""), 1);
    ck_assert_msg(strstr(tu_stderr(), "b.wav: node 'in' (t_badsrc 6.6.6): process returned JOULE_OK 1000 times in "
                                      "a row with no row and no JOULE_END"),
                  "%s", tu_stderr());
    ck_assert(tu_exists(tu_path("src/a.csv")) && tu_exists(tu_path("src/c.csv")) && !tu_exists(tu_path("src/b.csv")));
}
END_TEST

START_TEST(test_host_checks)
{
    reference();
    expect("null_name", "process", "output 'out' declared no name for column 0", "");
    expect("comma_name", "process", "output 'out' column 0 is named 'a,b'", "");
    expect("understate", "process", "rows to output 'out' for", "");
    ck_assert_msg(strstr(tu_stderr(), "(out_num/out_den = 1/1): the declared bound is too small"), "%s", tu_stderr());
    expect("huge_bound", "process", "declares a bound (out_num/out_den) of more than 2^24 rows per input row", "");
    /* the same through the in-process path */
    expect("null_name", "process", "output 'out' declared no name for column 0", "--no-isolate");
    expect("more", "process", "JOULE_MORE 1000 times", "--no-isolate");
}
END_TEST

/* check() is told how much room its message has: a plugin that writes
 * past it is named as defective, and control characters in its message
 * are shown escaped, on one line. */
START_TEST(test_check_message)
{
    make_inputs();
    bad_graph("check_overrun", "process");
    ck_assert_int_eq(run3("ck1", ""), 2);
    ck_assert_msg(strstr(tu_stderr(), "plugin 't_bad' wrote past the 512 bytes its check() was given"), "%s",
                  tu_stderr());
    bad_graph("check_ctrl", "process");
    ck_assert_int_eq(run3("ck2", ""), 2);
    ck_assert_msg(strstr(tu_stderr(), "refused\\nwith a second line\\x1b[31m"), "%s", tu_stderr());
    const char *nl = strchr(tu_stderr(), '\n');
    ck_assert_msg(nl && !nl[1], "one line: %s", tu_stderr());
}
END_TEST

START_TEST(test_timeout)
{
    reference();
    double t0 = now();
    expect("hang", "process", "timed out after 1 s, stuck in node 'bad' (t_bad 6.6.6), in process", "--timeout 1");
    ck_assert_double_lt(now() - t0, 10);
    expect("hang", "open", "stuck in node 'bad' (t_bad 6.6.6), in open", "--timeout 500ms");
    /* the graph's own setting */
    bad_graph("hang", "finish");
    char g[1200], *text = tu_read_file(tu_path("g.ini"));
    snprintf(g, sizeof g, "[graph]\ntimeout = 1s\n%s", text);
    free(text);
    tu_write_file(tu_path("g.ini"), g);
    ck_assert_int_eq(run3("gt", ""), 1);
    ck_assert_msg(strstr(tu_stderr(), "b.wav: timed out after 1 s, stuck in node 'bad'"), "%s", tu_stderr());
}
END_TEST

/* Start joule in the background; its stderr goes to tu_path("bg.err"). */
static pid_t start_bg(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s run -P '%s' %s 2>'%s'", getenv("JOULE"), getenv("TEST_PLUGINS"), args,
             tu_path("bg.err"));
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid, double *took, double since)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    *took = now() - since;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_signal_stuck_plugin)
{
    reference();
    bad_graph("hang", "process");
    char args[2048];
    snprintf(args, sizeof args, "'%s' '%s' '%s' '%s' -o '%s' -j 2", tu_path("g.ini"), tu_path("a.wav"),
             tu_path("b.wav"), tu_path("c.wav"), tu_path("sig"));
    int sigs[] = {SIGTERM, SIGINT};
    for (int k = 0; k < 2; k++) {
        pid_t pid = start_bg(args);
        /* wait until a and c are done and b is stuck */
        for (int i = 0; i < 400 && !(tu_exists(tu_path("sig/a.csv")) && tu_exists(tu_path("sig/c.csv"))); i++)
            usleep(25000);
        usleep(200000);
        double t0 = now(), took;
        kill(pid, sigs[k]);
        int rc = wait_status(pid, &took, t0);
        ck_assert_int_eq(rc, 128 + sigs[k]);
        ck_assert_msg(took < 1.0, "took %.2f s to stop", took);
        others_intact("sig");
        unlink(tu_path("sig/a.csv"));
        unlink(tu_path("sig/c.csv"));
    }
}
END_TEST

START_TEST(test_signal_fifo)
{
    /* an input that blocks on open: a FIFO with no writer, two threads */
    make_inputs();
    ck_assert_int_eq(mkfifo(tu_path("fifo.wav"), 0644), 0);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\npath = {stem}.csv\n");
    char args[2048];
    snprintf(args, sizeof args, "'%s' '%s' '%s' '%s' -o '%s' -j 2", tu_path("g.ini"), tu_path("fifo.wav"),
             tu_path("a.wav"), tu_path("c.wav"), tu_path("ff"));
    pid_t pid = start_bg(args);
    usleep(700000);
    double t0 = now(), took;
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_status(pid, &took, t0), 130);
    ck_assert_msg(took < 1.0, "took %.2f s to stop", took);
    ck_assert(!tu_exists(tu_path("ff/fifo.csv")));
    ck_assert_int_eq(tu_count_tmps(tu_path("ff")), 0);
}
END_TEST

START_TEST(test_fd_limit)
{
    /* 100 inputs at -j 64 with 20 descriptors: they wait their turn */
    const size_t n = 400;
    float x[400];
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 50) / 50;
    char list[100 * 300] = "";
    ck_assert_int_eq(mkdir(tu_path("many"), 0755), 0);
    for (int k = 0; k < 100; k++) {
        char name[64];
        snprintf(name, sizeof name, "many/f%03d.wav", k);
        tu_write_wav(tu_path(name), 8000, 1, n, x, 0);
        strcat(list, " '");
        strcat(list, tu_path(name));
        strcat(list, "'");
    }
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\nframe = 100\n"
                                    "hop = 100\n[out]\nplugin = csv\ninput = rms\npath = {stem}.csv\n");
    char *cmd = malloc(sizeof list + 1024);
    snprintf(cmd, sizeof list + 1024, "ulimit -n 20 && exec %s run '%s' %s -o '%s' -j 64 2>'%s'", getenv("JOULE"),
             tu_path("g.ini"), list, tu_path("mo"), tu_path("fd.err"));
    int st = system(cmd);
    free(cmd);
    char *err = tu_read_file(tu_path("fd.err"));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
    free(err);
    for (int k = 0; k < 100; k++) {
        char name[64];
        snprintf(name, sizeof name, "mo/f%03d.csv", k);
        ck_assert_msg(tu_exists(tu_path(name)), "%s missing", name);
    }
}
END_TEST

/* Under a memory limit, a plugin's library that aborts when an allocation
 * fails (as FFTW does) fails only the input it was opening. Not under the
 * sanitizers: their shadow memory needs more address space than any
 * limit leaves. */
START_TEST(test_memory_limit)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return;
#endif
    reference();
    bad_graph("big_alloc", "open");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ulimit -v 1500000 && exec %s run -P '%s' '%s' '%s' '%s' '%s' -o '%s' 2>'%s'",
             getenv("JOULE"), getenv("TEST_PLUGINS"), tu_path("g.ini"), tu_path("a.wav"), tu_path("b.wav"),
             tu_path("c.wav"), tu_path("vm"), tu_path("vm.err"));
    int st = system(cmd);
    char *err = tu_read_file(tu_path("vm.err"));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, err);
    ck_assert_msg(strstr(err, "b.wav: node 'bad' (t_bad 6.6.6): crashed with SIGABRT in open"), "%s", err);
    ck_assert_msg(!strstr(err, "a.wav") && !strstr(err, "c.wav"), "%s", err);
    free(err);
    others_intact("vm");
    /* without the limit the same allocation succeeds */
    ck_assert_int_eq(run3("vm2", ""), 0);
}
END_TEST

START_TEST(test_in_process_still_works)
{
    reference();
    bad_graph("none", "process");
    ck_assert_int_eq(run3("np", "--no-isolate"), 0);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/b.csv", tu_path("np"));
    snprintf(b, sizeof b, "%s/b.csv", tu_path("ref"));
    ck_assert(tu_same_bytes(a, b));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("faults");
    TCase *t = tcase_create("plugins");
    tcase_set_timeout(t, 180);
    tcase_add_test(t, test_crashes);
    tcase_add_test(t, test_no_progress);
    tcase_add_test(t, test_host_checks);
    tcase_add_test(t, test_timeout);
    tcase_add_test(t, test_check_message);
    tcase_add_test(t, test_memory_limit);
    tcase_add_test(t, test_in_process_still_works);
    suite_add_tcase(s, t);
    TCase *g = tcase_create("stopping");
    tcase_set_timeout(g, 120);
    tcase_add_test(g, test_signal_stuck_plugin);
    tcase_add_test(g, test_signal_fifo);
    tcase_add_test(g, test_fd_limit);
    suite_add_tcase(s, g);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
