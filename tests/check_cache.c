/* check_cache.c — the stage cache end to end, through the joule command:
 * what a re-run recomputes (keys: the same graph written differently gives
 * the same keys; a changed parameter, plugin input or input byte changes
 * the keys downstream of it only), that replayed outputs are byte for
 * byte those computed, TTL, corrupted entries recomputed, failed jobs
 * leaving no entry, and concurrent processes on one cache folder. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A 2-second stereo WAV of two tones and a little noise; `seed` changes
 * one sample. */
static void make_wav(const char *name, unsigned seed)
{
    const int rate = 8000, n = 2 * rate;
    float *x = malloc((size_t)n * 2 * sizeof *x);
    unsigned s = 12345;
    for (int i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        float noise = ((float)((s >> 9) & 0xffff) / 65536.0f - 0.5f) * 0.01f;
        x[2 * i] = 0.5f * sinf(2 * (float)M_PI * 440 * (float)i / rate) + noise;
        x[2 * i + 1] = 0.25f * sinf(2 * (float)M_PI * 1000 * (float)i / rate) - noise;
    }
    if (seed)
        x[seed % (unsigned)n] += 0.125f;
    tu_write_wav(tu_path(name), rate, 2, (size_t)n, x, 0);
    free(x);
}

/* fft -> spectral -> csv, plus energy -> csv */
static const char *graph_text(const char *fft_extra, const char *out_extra)
{
    static char g[2048];
    snprintf(g, sizeof g,
             "[in]\nplugin = sndfile\n"
             "[spec]\nplugin = fft\ninput = in\nframe = 512\nhop = 256\n%s\n"
             "[feat]\nplugin = spectral\ninput = spec\n"
             "[rms]\nplugin = energy\ninput = in\nframe = 400\nhop = 200\n"
             "[out]\nplugin = csv\ninput = feat\npath = {stem}.feat.csv\n%s\n"
             "[out2]\nplugin = csv\ninput = rms\npath = {stem}.rms.csv\n",
             fft_extra, out_extra);
    return g;
}

/* Runs the graph text on the inputs into output folder `out`, with a JSON
 * report; returns the exit status. */
static int run_graph(const char *text, const char *inputs, const char *out, const char *extra)
{
    tu_write_file(tu_path("g.ini"), text);
    return tu_joule("run '%s' %s -o '%s' --report '%s' %s", tu_path("g.ini"), inputs, tu_path(out),
                    tu_path("r.json"), extra);
}

/* The figure `key` of node `node` in the report's "jobs" (ran, replayed,
 * skipped), or of the "cache" object when node is NULL. */
static long long figure(const char *node, const char *key)
{
    char *json = tu_read_file(tu_path("r.json"));
    ck_assert_ptr_nonnull(json);
    const char *at = json;
    if (node) {
        char tag[128];
        snprintf(tag, sizeof tag, "{\"name\": \"%s\",", node);
        at = strstr(json, tag);
        ck_assert_msg(at != NULL, "no node %s in %s", node, json);
        at = strstr(at, "\"jobs\": {");
    } else {
        at = strstr(json, "\"cache\": {");
    }
    ck_assert_ptr_nonnull(at);
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *v = strstr(at, k);
    ck_assert_msg(v != NULL, "no %s", key);
    long long x = atoll(v + strlen(k));
    free(json);
    return x;
}

static void same_file(const char *a_dir, const char *b_dir, const char *name)
{
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/%s", tu_path(a_dir), name);
    snprintf(b, sizeof b, "%s/%s", tu_path(b_dir), name);
    ck_assert_msg(tu_exists(a) && tu_exists(b), "%s or %s missing", a, b);
    ck_assert_msg(tu_same_bytes(a, b), "%s differs from %s", a, b);
}

/* Cold, then identical re-run: every cached node replayed, byte-identical
 * outputs, and the source not read at all. */
START_TEST(test_rerun_replays)
{
    make_wav("a.wav", 0);
    const char *in = tu_path("a.wav");
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", in);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "nocache", "--no-cache"), 0);
    ck_assert_int_eq(figure(NULL, "hits") + figure(NULL, "misses"), 0);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cold", ""), 0);
    ck_assert_int_eq(figure("feat", "ran"), 1);
    ck_assert_int_eq(figure("rms", "ran"), 1);
    ck_assert_int_eq(figure(NULL, "hits"), 0);
    ck_assert_int_gt(figure(NULL, "bytes_written"), 0);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "warm", ""), 0);
    /* feat and rms replayed; spec and in not needed */
    ck_assert_int_eq(figure("feat", "replayed"), 1);
    ck_assert_int_eq(figure("rms", "replayed"), 1);
    ck_assert_int_eq(figure("spec", "skipped"), 1);
    ck_assert_int_eq(figure("in", "skipped"), 1);
    ck_assert_int_eq(figure("out", "ran"), 1);
    ck_assert_int_eq(figure(NULL, "hits"), 2);
    /* the memoised digest: the input was not read again */
    ck_assert_int_eq(figure(NULL, "digest_bytes"), 0);
    same_file("nocache", "cold", "a.feat.csv");
    same_file("nocache", "warm", "a.feat.csv");
    same_file("nocache", "warm", "a.rms.csv");
    same_file("nocache", "cold", "a.rms.csv");
}
END_TEST

/* The same graph written differently has the same keys: parameters at
 * their default written out or left out, other spacing, a node renamed,
 * a sink changed. */
START_TEST(test_key_stability)
{
    make_wav("b.wav", 0);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("b.wav"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "k1", ""), 0);
    /* window = hann is fft's default; the csv sink gets another separator */
    ck_assert_int_eq(run_graph(graph_text("window   =    hann\nwisdom =", "separator = semicolon"), inputs, "k2", ""),
                     0);
    ck_assert_msg(figure("feat", "replayed") == 1, "%s", tu_stderr());
    ck_assert_int_eq(figure("in", "skipped"), 1);
    ck_assert_int_eq(figure(NULL, "misses"), 0);
}
END_TEST

/* A changed parameter recomputes its node and what is downstream of it,
 * and nothing else. */
START_TEST(test_change_downstream_only)
{
    make_wav("c.wav", 0);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("c.wav"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "c1", ""), 0);
    ck_assert_int_eq(run_graph(graph_text("window = hamming", ""), inputs, "c2", ""), 0);
    ck_assert_int_eq(figure("feat", "ran"), 1);  /* downstream of the change */
    ck_assert_int_eq(figure("spec", "ran"), 1);  /* changed */
    ck_assert_int_eq(figure("rms", "replayed"), 1); /* beside it */
    ck_assert_int_eq(run_graph(graph_text("window = hamming", ""), inputs, "c3", "--no-cache"), 0);
    same_file("c2", "c3", "c.feat.csv");
}
END_TEST

/* One changed byte of the input recomputes everything for it. */
START_TEST(test_input_changed)
{
    make_wav("d.wav", 0);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("d.wav"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "d1", ""), 0);
    make_wav("d.wav", 777);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "d2", ""), 0);
    ck_assert_int_eq(figure("feat", "ran"), 1);
    ck_assert_int_eq(figure("rms", "ran"), 1);
    ck_assert_int_eq(figure(NULL, "hits"), 0);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "d3", "--no-cache"), 0);
    same_file("d2", "d3", "d.rms.csv");
    same_file("d2", "d3", "d.feat.csv");
}
END_TEST

/* ttl = 1 s: an entry unused for longer is recomputed, counted expired. */
START_TEST(test_ttl)
{
    make_wav("e.wav", 0);
    char inputs[700], text[2200];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("e.wav"));
    snprintf(text, sizeof text, "[cache]\nttl = 1s\n%s", graph_text("", ""));
    ck_assert_int_eq(run_graph(text, inputs, "t1", ""), 0);
    /* (a replay within the second is not asserted: a slow build, such as
     * ThreadSanitizer's, may take longer than that) */
    usleep(1100 * 1000);
    ck_assert_int_eq(run_graph(text, inputs, "t3", ""), 0);
    ck_assert_int_eq(figure("feat", "ran"), 1);
    ck_assert_int_ge(figure(NULL, "expired"), 1);
    same_file("t1", "t3", "e.feat.csv");
}
END_TEST

/* Every file under dir, recursively, whose name is 32 hex digits. */
static int each_file(const char *dir, void (*fn)(const char *path))
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += each_file(p, fn);
        } else if (strlen(e->d_name) == 32 && strspn(e->d_name, "0123456789abcdef") == 32) {
            n++;
            if (fn)
                fn(p);
        }
    }
    closedir(d);
    return n;
}

/* The entries of the cache folder `dir` (not its memo of input digests):
 * calls fn on each, returns how many. */
static int each_entry(const char *dir, void (*fn)(const char *path))
{
    char p[1024];
    snprintf(p, sizeof p, "%s/entries", dir);
    return each_file(p, fn);
}

static void corrupt(const char *path)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, -3, SEEK_END);
    int c = fgetc(f);
    fseek(f, -3, SEEK_END);
    fputc(c ^ 0x55, f);
    fclose(f);
}

static void truncate_half(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
}

/* A damaged entry is never served: detected, counted, recomputed, and
 * the output is what it would have been. */
START_TEST(test_corrupt_entries)
{
    make_wav("f.wav", 0);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("f.wav"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "f1", ""), 0);
    /* feat, rms, and spec (small here: 2 s of audio) */
    int n = each_entry(getenv("JOULE_CACHE_DIR"), NULL);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(each_entry(getenv("JOULE_CACHE_DIR"), corrupt), n);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "f2", ""), 0);
    /* feat and rms found damaged; feat then needs spec, damaged too */
    ck_assert_int_eq(figure(NULL, "corrupt"), 3);
    ck_assert_int_eq(figure(NULL, "hits"), 0);
    ck_assert_int_eq(figure("feat", "ran"), 1);
    same_file("f1", "f2", "f.feat.csv");
    same_file("f1", "f2", "f.rms.csv");
    /* recorded again: served now */
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "f3", ""), 0);
    ck_assert_int_eq(figure(NULL, "hits"), 2);
    ck_assert_int_eq(each_entry(getenv("JOULE_CACHE_DIR"), truncate_half), 3);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "f4", ""), 0);
    ck_assert_int_eq(figure(NULL, "corrupt"), 3);
    same_file("f1", "f4", "f.feat.csv");
}
END_TEST

/* A job that fails leaves no entry; the run's other input is cached. */
START_TEST(test_failed_job_no_entry)
{
    make_wav("ok.wav", 0);
    make_wav("bad.wav", 5);
    setenv("JOULE_CACHE_DIR", tu_path("cache-fail"), 1);
    char inputs[1400];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("bad.wav"));
    const char *text = "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\n"
                       "[p]\nplugin = t_pass\ninput = rms\nfail_on = bad\nfail_at = 3\n"
                       "[out]\nplugin = csv\ninput = p\npath = {stem}.csv\n";
    tu_write_file(tu_path("g.ini"), text);
    ck_assert_int_eq(tu_joule("run -P '%s' '%s' '%s' -o '%s'", getenv("TEST_PLUGINS"), tu_path("g.ini"),
                              tu_path("bad.wav"), tu_path("fo")),
                     1);
    ck_assert_int_eq(each_entry(tu_path("cache-fail"), NULL), 0);
    ck_assert_int_eq(tu_joule("run -P '%s' '%s' '%s' -o '%s'", getenv("TEST_PLUGINS"), tu_path("g.ini"),
                              tu_path("ok.wav"), tu_path("fo")),
                     0);
    /* rms and p (a filter of the tests) recorded */
    ck_assert_int_eq(each_entry(tu_path("cache-fail"), NULL), 2);
}
END_TEST

/* Four processes at once on the same inputs and cache folder: the same
 * outputs as without a cache, and a cache that serves a fifth run. */
START_TEST(test_concurrent_processes)
{
    make_wav("p1.wav", 1);
    make_wav("p2.wav", 2);
    make_wav("p3.wav", 3);
    setenv("JOULE_CACHE_DIR", tu_path("cache-conc"), 1);
    char inputs[2100];
    snprintf(inputs, sizeof inputs, "'%s' '%s' '%s'", tu_path("p1.wav"), tu_path("p2.wav"), tu_path("p3.wav"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "ref", "--no-cache"), 0);
    pid_t pids[4];
    for (int k = 0; k < 4; k++) {
        char out[16];
        snprintf(out, sizeof out, "conc%d", k);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "'%s' run '%s' %s -o '%s' -j 2 2>/dev/null", getenv("JOULE"), tu_path("g.ini"),
                 inputs, tu_path(out));
        pids[k] = fork();
        ck_assert_int_ge(pids[k], 0);
        if (pids[k] == 0)
            _exit(system(cmd) == 0 ? 0 : 1);
    }
    for (int k = 0; k < 4; k++) {
        int st;
        ck_assert_int_eq(waitpid(pids[k], &st, 0), pids[k]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d failed", k);
    }
    for (int k = 0; k < 4; k++) {
        char out[16];
        snprintf(out, sizeof out, "conc%d", k);
        for (int f = 1; f <= 3; f++) {
            char name[32];
            snprintf(name, sizeof name, "p%d.feat.csv", f);
            same_file("ref", out, name);
            snprintf(name, sizeof name, "p%d.rms.csv", f);
            same_file("ref", out, name);
        }
    }
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "after", ""), 0);
    ck_assert_int_eq(figure(NULL, "hits"), 6);
    ck_assert_int_eq(figure(NULL, "corrupt"), 0);
    same_file("ref", "after", "p2.feat.csv");
}
END_TEST

/* `cache = yes` on every node but the sinks (sources too, and the large
 * spectrum): replayed streams of every kind are byte-identical. */
START_TEST(test_replay_every_kind)
{
    make_wav("g.wav", 0);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("g.wav"));
    const char *text = "[in]\nplugin = sndfile\ncache = yes\n"
                       "[spec]\nplugin = fft\ninput = in\nframe = 256\nhop = 128\ncache = yes\n"
                       "[feat]\nplugin = spectral\ninput = spec\ncache = yes\n"
                       "[loud]\nplugin = loudness\ninput = in\n"
                       "[o1]\nplugin = csv\ninput = spec\npath = {stem}.spec.csv\n"
                       "[o2]\nplugin = csv\ninput = feat\npath = {stem}.feat.csv\n"
                       "[o3]\nplugin = csv\ninput = loud\npath = {stem}.loud.csv\n"
                       "[o4]\nplugin = sndfile_sink\ninput = in\npath = {stem}.copy.wav\n";
    ck_assert_int_eq(run_graph(text, inputs, "v0", "--no-cache"), 0);
    ck_assert_int_eq(run_graph(text, inputs, "v1", ""), 0);
    ck_assert_int_eq(run_graph(text, inputs, "v2", ""), 0);
    ck_assert_int_eq(figure("in", "replayed"), 1);
    ck_assert_int_eq(figure("spec", "replayed"), 1);
    static const char *const files[] = {"g.spec.csv", "g.feat.csv", "g.loud.csv", "g.copy.wav"};
    for (int k = 0; k < 4; k++) {
        same_file("v0", "v1", files[k]);
        same_file("v0", "v2", files[k]);
    }
    /* --refresh recomputes and records again */
    ck_assert_int_eq(run_graph(text, inputs, "v3", "--refresh"), 0);
    ck_assert_int_eq(figure("spec", "ran"), 1);
    same_file("v0", "v3", "g.spec.csv");
}
END_TEST

/* Single flight: two inputs of the same content in one run (a copy under
 * another name) are computed once: one miss, one hit. */
START_TEST(test_single_flight)
{
    make_wav("s1.wav", 0);
    ck_assert_int_eq(tu_copy_file(tu_path("s1.wav"), tu_path("s2.wav")), 0);
    setenv("JOULE_CACHE_DIR", tu_path("cache-sf"), 1);
    char inputs[1400];
    snprintf(inputs, sizeof inputs, "'%s' '%s'", tu_path("s1.wav"), tu_path("s2.wav"));
    const char *text = "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\nframe = 400\nhop = 200\n"
                       "[out]\nplugin = csv\ninput = rms\npath = {stem}.{node}.csv\n";
    ck_assert_int_eq(run_graph(text, inputs, "sf", "-j 2"), 0);
    ck_assert_int_eq(figure(NULL, "misses"), 1);
    ck_assert_int_eq(figure(NULL, "hits"), 1);
    ck_assert_int_eq(figure("rms", "ran"), 1);
    ck_assert_int_eq(figure("rms", "replayed"), 1);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/s1.out.csv", tu_path("sf"));
    snprintf(b, sizeof b, "%s/s2.out.csv", tu_path("sf"));
    ck_assert(tu_same_bytes(a, b));
    /* three copies on one thread: computed by the first, read from disk
     * by the second (its second use in the process: kept in memory), and
     * served from memory to the third */
    ck_assert_int_eq(tu_copy_file(tu_path("s1.wav"), tu_path("s3.wav")), 0);
    setenv("JOULE_CACHE_DIR", tu_path("cache-sf3"), 1);
    snprintf(inputs, sizeof inputs, "'%s' '%s' '%s'", tu_path("s1.wav"), tu_path("s2.wav"), tu_path("s3.wav"));
    ck_assert_int_eq(run_graph(text, inputs, "sf3", "-j 1"), 0);
    ck_assert_int_eq(figure(NULL, "misses"), 1);
    ck_assert_int_eq(figure(NULL, "hits"), 2);
    ck_assert_int_eq(figure(NULL, "memory_hits"), 1);
    snprintf(b, sizeof b, "%s/s3.out.csv", tu_path("sf3"));
    ck_assert(tu_same_bytes(a, b));
}
END_TEST

/* --explain says per node why it runs: no entry yet, a parameter that
 * changed (with both values), something upstream, the input. */
START_TEST(test_explain)
{
    make_wav("x.wav", 0);
    setenv("JOULE_CACHE_DIR", tu_path("cache-x"), 1);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("x.wav"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "x1", "--explain"), 0);
    ck_assert_msg(strstr(tu_stderr(), "node 'feat' (spectral): runs: no entry for this input yet"), "%s",
                  tu_stderr());
    ck_assert_int_eq(run_graph(graph_text("window = hamming", ""), inputs, "x2", "--explain"), 0);
    const char *e = tu_stderr();
    ck_assert_msg(strstr(e, "node 'spec' (fft): runs: parameter 'window' changed (hann -> hamming)"), "%s", e);
    ck_assert_msg(strstr(e, "node 'feat' (spectral): runs: upstream node 'spec' changed"), "%s", e);
    ck_assert_msg(strstr(e, "node 'rms' (energy): replayed from the cache"), "%s", e);
    ck_assert_msg(strstr(e, "node 'out' (csv): runs: no files written by this graph for this input yet"), "%s", e);
    make_wav("x.wav", 99);
    ck_assert_int_eq(run_graph(graph_text("window = hamming", ""), inputs, "x3", "--explain"), 0);
    ck_assert_msg(strstr(tu_stderr(), "node 'rms' (energy): runs: the input changed"), "%s", tu_stderr());
}
END_TEST

/* The identity of a file, to the nanosecond: whether a run left it alone. */
static void identity(const char *path, struct stat *st)
{
    ck_assert_msg(stat(path, st) == 0, "%s missing", path);
}

static int same_identity(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A sink whose files are as it wrote them for this input is current: not
 * run, nothing read, the files left alone. Anything done to a file — an
 * edit, a touch, its removal — makes the sink write it again, with the
 * bytes it had; so do --refresh, --no-cache, another folder or parameter,
 * and standard output is never current. */
START_TEST(test_current_sinks)
{
    make_wav("c.wav", 0);
    setenv("JOULE_CACHE_DIR", tu_path("cache-c"), 1);
    char inputs[700], feat[700], rms[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("c.wav"));
    snprintf(feat, sizeof feat, "%s", tu_path("cur/c.feat.csv"));
    snprintf(rms, sizeof rms, "%s", tu_path("cur/c.rms.csv"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "ref", "--no-cache"), 0);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    struct stat a, b;
    identity(feat, &a);

    /* identical: both sinks current, nothing else needed, nothing read */
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", "--explain"), 0);
    ck_assert_int_eq(figure("out", "current"), 1);
    ck_assert_int_eq(figure("out2", "current"), 1);
    ck_assert_int_eq(figure("out", "ran"), 0);
    ck_assert_int_eq(figure("in", "skipped"), 1);
    ck_assert_int_eq(figure("feat", "skipped"), 1);
    ck_assert_int_eq(figure(NULL, "hits"), 0);
    ck_assert_msg(strstr(tu_stderr(), "node 'out' (csv): current: its files are as it wrote them"), "%s",
                  tu_stderr());
    char *rep = tu_read_file(tu_path("r.json"));
    ck_assert_msg(strstr(rep, "\"bytes_read\": 0"), "%s", rep);
    free(rep);
    identity(feat, &b);
    ck_assert(same_identity(&a, &b));
    same_file("ref", "cur", "c.feat.csv");

    /* an edited file is written again, with its bytes */
    tu_write_file(feat, "edited\n");
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", "--explain"), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    ck_assert_int_eq(figure("out2", "current"), 1);
    ck_assert_msg(strstr(tu_stderr(), "c.feat.csv was changed or replaced since it was written"), "%s", tu_stderr());
    same_file("ref", "cur", "c.feat.csv");

    /* a touched one (same bytes, new times) too: the memo cannot tell */
    identity(feat, &a);
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    ck_assert_int_eq(utimensat(AT_FDCWD, feat, ts, 0), 0);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    identity(feat, &b);
    ck_assert(!same_identity(&a, &b));
    same_file("ref", "cur", "c.feat.csv");

    /* a removed one */
    ck_assert_int_eq(unlink(rms), 0);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out2", "ran"), 1);
    ck_assert_int_eq(figure("out", "current"), 1);
    same_file("ref", "cur", "c.rms.csv");

    /* --refresh and --no-cache always write */
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", "--refresh"), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", "--no-cache"), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    /* ... and the file --no-cache wrote is not the one the memo knows */
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);

    /* a sink parameter changed and changed back: the file was rewritten
     * in between, so the first memo no longer holds */
    ck_assert_int_eq(run_graph(graph_text("", "separator = semicolon"), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    ck_assert_int_eq(figure("out2", "current"), 1);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    same_file("ref", "cur", "c.feat.csv");

    /* another output folder is other files */
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur2", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);

    /* the input changed: every sink runs */
    make_wav("c.wav", 7);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    ck_assert_int_eq(figure("out2", "ran"), 1);

    /* standard output is never current */
    const char *one = "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\n"
                      "[out]\nplugin = csv\ninput = rms\npath = -\n";
    ck_assert_int_eq(run_graph(one, inputs, "so", "> /dev/null"), 0);
    ck_assert_int_eq(run_graph(one, inputs, "so", "> /dev/null"), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
    ck_assert_int_eq(figure("rms", "replayed"), 1);

    /* cache clear forgets the memos too */
    ck_assert_int_eq(tu_joule("cache clear"), 0);
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "cur", ""), 0);
    ck_assert_int_eq(figure("out", "ran"), 1);
}
END_TEST

/* Two identical nodes in one graph share a key: recorded once, and the
 * job does not wait on its own lock. */
START_TEST(test_identical_nodes)
{
    make_wav("i.wav", 0);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("i.wav"));
    const char *text = "[in]\nplugin = sndfile\n[r1]\nplugin = energy\ninput = in\n[r2]\nplugin = energy\ninput = in\n"
                       "[o1]\nplugin = csv\ninput = r1\npath = {stem}.1.csv\n"
                       "[o2]\nplugin = csv\ninput = r2\npath = {stem}.2.csv\n";
    double t0 = (double)time(NULL);
    ck_assert_int_eq(run_graph(text, inputs, "id", ""), 0);
    ck_assert_double_lt((double)time(NULL) - t0, 15);
    ck_assert_int_eq(figure(NULL, "misses"), 1);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/i.1.csv", tu_path("id"));
    snprintf(b, sizeof b, "%s/i.2.csv", tu_path("id"));
    ck_assert(tu_same_bytes(a, b));
    ck_assert_int_eq(run_graph(text, inputs, "id2", ""), 0);
    ck_assert_int_eq(figure(NULL, "hits"), 2);
}
END_TEST

/* joule cache stats | prune | clear on the folder a run filled. */
START_TEST(test_cache_commands)
{
    make_wav("h.wav", 0);
    setenv("JOULE_CACHE_DIR", tu_path("cache-cmd"), 1);
    char inputs[700];
    snprintf(inputs, sizeof inputs, "'%s'", tu_path("h.wav"));
    ck_assert_int_eq(run_graph(graph_text("", ""), inputs, "h1", ""), 0);
    ck_assert_int_eq(tu_joule("cache stats"), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' cache stats > '%s'", getenv("JOULE"), tu_path("stats.txt"));
    ck_assert_int_eq(system(cmd), 0);
    char *out = tu_read_file(tu_path("stats.txt"));
    ck_assert_msg(strstr(out, ": 3 entries"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_joule("cache prune --older-than 30d"), 0);
    ck_assert_int_eq(each_entry(tu_path("cache-cmd"), NULL), 3);
    ck_assert_int_eq(tu_joule("cache clear"), 0);
    ck_assert_int_eq(each_entry(tu_path("cache-cmd"), NULL), 0);
    ck_assert_int_eq(tu_joule("cache frobnicate"), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("Core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rerun_replays);
    tcase_add_test(tc, test_key_stability);
    tcase_add_test(tc, test_change_downstream_only);
    tcase_add_test(tc, test_input_changed);
    tcase_add_test(tc, test_ttl);
    tcase_add_test(tc, test_corrupt_entries);
    tcase_add_test(tc, test_failed_job_no_entry);
    tcase_add_test(tc, test_concurrent_processes);
    tcase_add_test(tc, test_replay_every_kind);
    tcase_add_test(tc, test_cache_commands);
    tcase_add_test(tc, test_single_flight);
    tcase_add_test(tc, test_explain);
    tcase_add_test(tc, test_identical_nodes);
    tcase_add_test(tc, test_current_sinks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
