/* check_safety.c — joule never damages or loses a user's file.
 *
 * Each case is a hostile but ordinary use: an output path that resolves to
 * an input, to a device, a FIFO, a directory or through a symbolic link;
 * two spellings of one file; a report beside a planted link; a job whose
 * outputs cannot all be placed; a run killed with SIGKILL; an input that
 * grows while it is read. Every case asserts the exit status, the start of
 * the message, that nothing was damaged and no temporary is left. */
#include "testutil.h"

#include "outputs.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A 2 s stereo sine at 8 kHz. */
static void make_wav(const char *path)
{
    const size_t n = 16000;
    float *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[2 * i] = x[2 * i + 1] = (float)(0.5 * sin(i * 0.01));
    tu_write_wav(path, 8000, 2, n, x, 0);
    free(x);
}

static const char *energy_graph(const char *path)
{
    static char g[512];
    snprintf(g, sizeof g,
             "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\n[out]\nplugin = csv\ninput = rms\n"
             "path = %s\n",
             path);
    return g;
}

static int starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* Run a graph whose output path is `path` over the test's a.wav; expect
 * exit 2 and a message starting with `msg` (after "joule: "). */
static void refused(const char *path, const char *msg)
{
    tu_write_file(tu_path("g.ini"), energy_graph(path));
    int rc = tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_tmpdir());
    ck_assert_msg(rc == 2, "path %s: exit %d, stderr: %s", path, rc, tu_stderr());
    ck_assert_msg(strstr(tu_stderr(), msg) != NULL, "path %s: stderr: %s (wanted %s)", path, tu_stderr(), msg);
    ck_assert_int_eq(tu_count_tmps(tu_tmpdir()), 0);
}

START_TEST(test_output_is_input)
{
    make_wav(tu_path("a.wav"));
    char *before = tu_read_file(tu_path("a.wav"));
    size_t len = 16000 * 2 * 4;
    /* {name} in the input's own folder, {dir}/{name}, an absolute path,
     * another spelling, and a hard link to the input */
    refused("{name}", "would write its output over this input");
    refused("{dir}/{name}", "would write its output over this input");
    refused(tu_path("a.wav"), "would write its output over this input");
    refused("./sub/../{stem}.wav", "would write its output over this input");
    ck_assert_int_eq(link(tu_path("a.wav"), tu_path("hard.csv")), 0);
    refused("hard.csv", "would write its output over");
    char *after = tu_read_file(tu_path("a.wav"));
    ck_assert(!memcmp(before, after, len));
    free(before);
    free(after);
}
END_TEST

START_TEST(test_output_not_regular)
{
    make_wav(tu_path("a.wav"));
    ck_assert_int_eq(mkfifo(tu_path("fifo.csv"), 0644), 0);
    refused("fifo.csv", "exists and is a FIFO, not a regular file");
    struct stat st;
    ck_assert_int_eq(lstat(tu_path("fifo.csv"), &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    ck_assert_int_eq(mkdir(tu_path("dir.csv"), 0755), 0);
    refused("dir.csv", "exists and is a directory");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", tu_path("sock.csv"));
    if (strlen(tu_path("sock.csv")) < sizeof sa.sun_path && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0)
        refused("sock.csv", "exists and is a socket");
    close(s);
    /* a device: /dev/null must stay a device (as root, a rename over it
     * would replace the node with a regular file) */
    refused("/dev/null", "/dev/null exists and is a character device");
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
}
END_TEST

START_TEST(test_output_symlink)
{
    make_wav(tu_path("a.wav"));
    tu_write_file(tu_path("precious.txt"), "keep me\n");
    ck_assert_int_eq(symlink(tu_path("precious.txt"), tu_path("link.csv")), 0);
    refused("link.csv", "link.csv is a symbolic link");
    ck_assert_int_eq(symlink(tu_path("nowhere"), tu_path("dangling.csv")), 0);
    refused("dangling.csv", "dangling.csv is a symbolic link");
    ck_assert(!tu_exists(tu_path("nowhere")));
    char *t = tu_read_file(tu_path("precious.txt"));
    ck_assert_str_eq(t, "keep me\n");
    free(t);
}
END_TEST

START_TEST(test_two_spellings)
{
    make_wav(tu_path("a.wav"));
    const char *pairs[][2] = {
        {"{stem}.csv", "./{stem}.csv"},
        {"{stem}.csv", "sub/../{stem}.csv"},
        {"x/{stem}.csv", "x//./{stem}.csv"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char g[512];
        snprintf(g, sizeof g,
                 "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\n[o1]\nplugin = csv\ninput = rms\n"
                 "path = %s\n[o2]\nplugin = csv\ninput = rms\npath = %s\n",
                 pairs[i][0], pairs[i][1]);
        tu_write_file(tu_path("g.ini"), g);
        int rc = tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("out"));
        ck_assert_msg(rc == 2, "%s / %s: exit %d", pairs[i][0], pairs[i][1], rc);
        ck_assert_msg(strstr(tu_stderr(), "would be written twice") && strstr(tu_stderr(), "{node}"),
                      "%s / %s: %s", pairs[i][0], pairs[i][1], tu_stderr());
    }
    /* the same input twice, and the same name in two folders */
    ck_assert_int_eq(mkdir(tu_path("d"), 0755), 0);
    make_wav(tu_path("d/a.wav"));
    make_wav(tu_path("a.flac"));
    tu_write_file(tu_path("g.ini"), energy_graph("{stem}.csv"));
    ck_assert_int_eq(tu_joule("run '%s' '%s' '%s/./a.wav'", tu_path("g.ini"), tu_path("a.wav"), tu_tmpdir()), 2);
    ck_assert_msg(strstr(tu_stderr(), "the same input is given twice"), "%s", tu_stderr());
    ck_assert_int_eq(tu_joule("run '%s' '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("d/a.wav"),
                              tu_path("out")),
                     2);
    ck_assert_msg(strstr(tu_stderr(), "put {dir} in the path"), "%s", tu_stderr());
    ck_assert_int_eq(tu_joule("run '%s' '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("a.flac"),
                              tu_path("out")),
                     2);
    ck_assert_msg(strstr(tu_stderr(), "put {name} in the path"), "%s", tu_stderr());
    ck_assert(!tu_exists(tu_path("out/a.csv")));
}
END_TEST

START_TEST(test_report)
{
    make_wav(tu_path("a.wav"));
    tu_write_file(tu_path("g.ini"), energy_graph("{stem}.csv"));
    tu_write_file(tu_path("victim.txt"), "keep me\n");
    /* a link planted where an older joule put its fixed temporary */
    ck_assert_int_eq(symlink(tu_path("victim.txt"), tu_path("r.json.tmp")), 0);
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s' --report '%s'", tu_path("g.ini"), tu_path("a.wav"),
                              tu_path("o"), tu_path("r.json")),
                     0);
    char *t = tu_read_file(tu_path("victim.txt"));
    ck_assert_str_eq(t, "keep me\n");
    free(t);
    t = tu_read_file(tu_path("r.json"));
    ck_assert(t && strstr(t, "\"files\": {\"done\": 1"));
    free(t);
    ck_assert_int_eq(tu_count_tmps(tu_tmpdir()), 0);
    /* the report itself a link, a FIFO, an input, an output */
    ck_assert_int_eq(symlink(tu_path("victim.txt"), tu_path("rl.json")), 0);
    ck_assert_int_eq(tu_joule("run '%s' '%s' --report '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("rl.json")),
                     2);
    ck_assert_msg(strstr(tu_stderr(), "is a symbolic link"), "%s", tu_stderr());
    ck_assert_int_eq(mkfifo(tu_path("rf.json"), 0644), 0);
    ck_assert_int_eq(tu_joule("run '%s' '%s' --report '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("rf.json")),
                     2);
    ck_assert_msg(strstr(tu_stderr(), "is a FIFO"), "%s", tu_stderr());
    ck_assert_int_eq(tu_joule("run '%s' '%s' --report '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("a.wav")),
                     2);
    ck_assert_msg(strstr(tu_stderr(), "the report would be written over the input"), "%s", tu_stderr());
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s' --report '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("o"),
                              tu_path("o/a.csv")),
                     2);
    ck_assert_msg(strstr(tu_stderr(), "would be written twice") && strstr(tu_stderr(), "report"), "%s",
                  tu_stderr());
}
END_TEST

START_TEST(test_stdout)
{
    make_wav(tu_path("a.wav"));
    make_wav(tu_path("b.wav"));
    tu_write_file(tu_path("g.ini"), energy_graph("-"));
    const char *joule = getenv("JOULE");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s run '%s' '%s' > '%s'", joule, tu_path("g.ini"), tu_path("a.wav"),
             tu_path("stdout.csv"));
    ck_assert_int_eq(system(cmd), 0);
    char *t = tu_read_file(tu_path("stdout.csv"));
    ck_assert(t && starts(t, "time,ms_ch0,"));
    free(t);
    ck_assert(!tu_exists(tu_path("-")));
    /* with an output folder too: "-" is standard output, not a file named
     * "-" in that folder (which the checks would not have looked at) */
    snprintf(cmd, sizeof cmd, "%s run '%s' '%s' -o '%s' > '%s'", joule, tu_path("g.ini"), tu_path("a.wav"),
             tu_path("od"), tu_path("stdout2.csv"));
    ck_assert_int_eq(system(cmd), 0);
    ck_assert(!tu_exists(tu_path("od/-")));
    ck_assert(tu_same_bytes(tu_path("stdout.csv"), tu_path("stdout2.csv")));
    ck_assert_int_eq(tu_joule("run '%s' '%s' '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("b.wav")), 2);
    ck_assert_msg(strstr(tu_stderr(), "standard output"), "%s", tu_stderr());
}
END_TEST

/* A run that lasts a while: t_pass sleeps `delay_us` per chunk. Two sinks,
 * written in the order x, y. Returns the child's pid. */
static pid_t slow_run(const char *extra_args)
{
    char g[1024];
    snprintf(g, sizeof g,
             "[graph]\nchunk = 256\nthreads = 1\n[in]\nplugin = sndfile\n[slow]\nplugin = t_pass\ninput = in\n"
             "delay_us = 20000\n[x]\nplugin = csv\ninput = slow\npath = x.csv\n[y]\nplugin = csv\ninput = slow\n"
             "path = y.csv\n");
    tu_write_file(tu_path("slow.ini"), g);
    const char *joule = getenv("JOULE");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s run -P '%s' '%s' '%s' -o '%s' %s 2>'%s'", joule, getenv("TEST_PLUGINS"),
             tu_path("slow.ini"), tu_path("a.wav"), tu_path("o"), extra_args, tu_path("slow.err"));
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait until the run has made its temporaries (it is then reading). */
static void wait_tmps(const char *dir, int n)
{
    for (int i = 0; i < 2000 && tu_count_tmps(dir) < n; i++)
        usleep(5000);
    ck_assert_int_ge(tu_count_tmps(dir), n);
}

static int wait_exit(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_all_or_nothing)
{
    make_wav(tu_path("a.wav"));
    ck_assert_int_eq(mkdir(tu_path("o"), 0755), 0);
    tu_write_file(tu_path("o/x.csv"), "older x\n");
    pid_t pid = slow_run("");
    wait_tmps(tu_path("o"), 2);
    /* y.csv becomes a folder while the job runs: y cannot be placed, so x
     * must not be either — and the older x is kept */
    ck_assert_int_eq(mkdir(tu_path("o/y.csv"), 0755), 0);
    ck_assert_int_eq(wait_exit(pid), 1);
    char *err = tu_read_file(tu_path("slow.err"));
    ck_assert_msg(strstr(err, "y.csv became a directory during the run"), "%s", err);
    free(err);
    char *x = tu_read_file(tu_path("o/x.csv"));
    ck_assert_str_eq(x, "older x\n");
    free(x);
    ck_assert_int_eq(tu_count_tmps(tu_path("o")), 0);
}
END_TEST

START_TEST(test_place_rollback)
{
    /* jl_outputs_place directly: the second target cannot be replaced, so
     * the first, already renamed over an older file, is rolled back */
    const char *dir = tu_path("p");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    jl_outfile v[3];
    memset(v, 0, sizeof v);
    const char *names[3] = {"p/one.csv", "p/two.csv", "p/three.csv"};
    tu_write_file(tu_path("p/one.csv"), "old one\n");
    for (int i = 0; i < 3; i++) {
        char *msg = NULL;
        v[i].path = strdup(tu_path(names[i]));
        int fd = jl_tmp_create(v[i].path, &v[i].tmp, &msg);
        ck_assert_msg(fd >= 0, "%s", msg);
        ck_assert_int_eq(write(fd, "new\n", 4), 4);
        close(fd);
    }
    ck_assert_int_eq(mkdir(tu_path("p/three.csv"), 0755), 0);
    char *msg = NULL;
    ck_assert_int_eq(jl_outputs_place(v, 3, &msg), -1);
    ck_assert_msg(strstr(msg, "three.csv became a directory"), "%s", msg);
    free(msg);
    char *t = tu_read_file(tu_path("p/one.csv"));
    ck_assert_str_eq(t, "old one\n");
    free(t);
    ck_assert(!tu_exists(tu_path("p/two.csv")));
    ck_assert_int_eq(tu_count_tmps(dir), 0);
    jl_outputs_free(v, 3);

    /* and when all can be placed, all are */
    rmdir(tu_path("p/three.csv"));
    for (int i = 0; i < 3; i++) {
        v[i].path = strdup(tu_path(names[i]));
        int fd = jl_tmp_create(v[i].path, &v[i].tmp, &msg);
        ck_assert_int_eq(write(fd, "new\n", 4), 4);
        close(fd);
    }
    ck_assert_int_eq(jl_outputs_place(v, 3, &msg), 0);
    for (int i = 0; i < 3; i++) {
        t = tu_read_file(tu_path(names[i]));
        ck_assert_str_eq(t, "new\n");
        free(t);
    }
    ck_assert_int_eq(tu_count_tmps(dir), 0);
    jl_outputs_free(v, 3);
}
END_TEST

START_TEST(test_long_name)
{
    /* a legal final name of 255 bytes: its temporary must not be longer */
    make_wav(tu_path("a.wav"));
    char name[256];
    memset(name, 'n', 251);
    strcpy(name + 251, ".csv");
    tu_write_file(tu_path("g.ini"), energy_graph("{stem}.csv"));
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s' --set out.path=%s", tu_path("g.ini"), tu_path("a.wav"),
                              tu_path("o"), name),
                     0);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tu_path("o"), name);
    ck_assert(tu_exists(path));
}
END_TEST

START_TEST(test_stale_tmps)
{
    make_wav(tu_path("a.wav"));
    ck_assert_int_eq(mkdir(tu_path("o"), 0755), 0);
    /* a run killed outright leaves its temporaries ... */
    pid_t pid = slow_run("");
    wait_tmps(tu_path("o"), 2);
    kill(pid, SIGKILL);
    ck_assert_int_eq(wait_exit(pid), 128 + SIGKILL);
    ck_assert_int_eq(tu_count_tmps(tu_path("o")), 2);
    /* ... beside someone else's look-alike files, which are never touched:
     * another machine's, and one whose name is not joule's pattern */
    tu_write_file(tu_path("o/.joule-00000000-00000000-1-1-0123456789abcdef.tmp"), "other host\n");
    tu_write_file(tu_path("o/.joule-notes.tmp"), "mine\n");
    /* a later run writing there removes the dead run's, and says so */
    tu_write_file(tu_path("g.ini"), energy_graph("{stem}.csv"));
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("a.wav"), tu_path("o")), 0);
    ck_assert_msg(strstr(tu_stderr(), "removed 2 temporary files left in"), "%s", tu_stderr());
    ck_assert_int_eq(tu_count_tmps(tu_path("o")), 2);
    ck_assert(tu_exists(tu_path("o/.joule-00000000-00000000-1-1-0123456789abcdef.tmp")));
    ck_assert(tu_exists(tu_path("o/.joule-notes.tmp")));
}
END_TEST

START_TEST(test_live_tmps_kept)
{
    /* a run in progress keeps its temporaries while another run sweeps */
    make_wav(tu_path("a.wav"));
    make_wav(tu_path("b.wav"));
    ck_assert_int_eq(mkdir(tu_path("o"), 0755), 0);
    pid_t pid = slow_run("");
    wait_tmps(tu_path("o"), 2);
    tu_write_file(tu_path("g.ini"), energy_graph("{stem}.other.csv"));
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("b.wav"), tu_path("o")), 0);
    ck_assert_msg(!strstr(tu_stderr(), "removed"), "%s", tu_stderr());
    ck_assert_int_eq(wait_exit(pid), 0);
    ck_assert(tu_exists(tu_path("o/x.csv")) && tu_exists(tu_path("o/y.csv")));
}
END_TEST

START_TEST(test_input_changes)
{
    make_wav(tu_path("a.wav"));
    pid_t pid = slow_run("");
    wait_tmps(tu_path("o"), 2);
    /* the recording is still being written: it grows */
    FILE *f = fopen(tu_path("a.wav"), "ab");
    fwrite("more", 1, 4, f);
    fclose(f);
    ck_assert_int_eq(wait_exit(pid), 1);
    char *err = tu_read_file(tu_path("slow.err"));
    ck_assert_msg(strstr(err, "a.wav: changed while being read"), "%s", err);
    free(err);
    ck_assert(!tu_exists(tu_path("o/x.csv")));
    ck_assert_int_eq(tu_count_tmps(tu_path("o")), 0);
}
END_TEST

START_TEST(test_control_chars)
{
    /* a file name with a newline and an escape cannot forge a line */
    tu_write_file(tu_path("g.ini"), energy_graph("{stem}.csv"));
    ck_assert_int_eq(tu_joule("run '%s' '%s'", tu_path("g.ini"), tu_path("evil\nname\033[2J.wav")), 1);
    const char *e = tu_stderr();
    ck_assert_msg(strstr(e, "evil\\nname\\x1b[2J.wav"), "%s", e);
    ck_assert_ptr_null(strchr(e, '\033'));
    ck_assert_ptr_eq(strchr(e, '\n'), e + strlen(e) - 1);
}
END_TEST

START_TEST(test_disk_full)
{
    /* a full disk says so, on every sink; needs a small tmpfs, mounted in a
     * private namespace (skipped where that is not allowed) */
    if (system("unshare -rm true 2>/dev/null")) {
        fprintf(stderr, "test_disk_full: skipped (no user namespaces)\n");
        return;
    }
    make_wav(tu_path("a.wav"));
    const char *sinks[] = {"csv", "jsonl", "sndfile_sink"};
    const char *joule = getenv("JOULE");
    for (size_t i = 0; i < 3; i++) {
        char g[512];
        snprintf(g, sizeof g,
                 "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\nframe = 8\nhop = 8\n"
                 "[out]\nplugin = %s\ninput = %s\npath = out.data\n",
                 sinks[i], strcmp(sinks[i], "sndfile_sink") ? "rms" : "in");
        tu_write_file(tu_path("g.ini"), g);
        ck_assert_int_eq(mkdir(tu_path("full"), 0755), 0);
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "unshare -rm sh -c \"mount -t tmpfs -o size=16k tmpfs '%s' && %s run '%s' '%s' -o '%s'; "
                 "echo \\$? > '%s'; ls -a '%s' | wc -l > '%s'\" 2>'%s'",
                 tu_path("full"), joule, tu_path("g.ini"), tu_path("a.wav"), tu_path("full"), tu_path("rc"),
                 tu_path("full"), tu_path("n"), tu_path("err"));
        if (system(cmd)) {
        }
        char *rc = tu_read_file(tu_path("rc")), *n = tu_read_file(tu_path("n")), *err = tu_read_file(tu_path("err"));
        ck_assert_msg(rc && atoi(rc) == 1, "%s: %s", sinks[i], err);
        ck_assert_msg(strstr(err, "No space left on device"), "%s: %s", sinks[i], err);
        ck_assert_msg(n && atoi(n) == 2, "%s: files left: %s", sinks[i], n); /* . and .. */
        free(rc);
        free(n);
        free(err);
        rmdir(tu_path("full"));
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safety");
    TCase *t = tcase_create("outputs");
    tcase_add_test(t, test_output_is_input);
    tcase_add_test(t, test_output_not_regular);
    tcase_add_test(t, test_output_symlink);
    tcase_add_test(t, test_two_spellings);
    tcase_add_test(t, test_report);
    tcase_add_test(t, test_stdout);
    tcase_add_test(t, test_long_name);
    tcase_add_test(t, test_control_chars);
    suite_add_tcase(s, t);
    TCase *j = tcase_create("jobs");
    tcase_set_timeout(j, 120);
    tcase_add_test(j, test_all_or_nothing);
    tcase_add_test(j, test_place_rollback);
    tcase_add_test(j, test_stale_tmps);
    tcase_add_test(j, test_live_tmps_kept);
    tcase_add_test(j, test_input_changes);
    tcase_add_test(j, test_disk_full);
    suite_add_tcase(s, j);
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
