/* check_graph.c — loading and validating graph files: every validation
 * error, with its exact message (golden strings), and the settings; files
 * that are not graphs (audio, binary, directories, devices, huge lines),
 * capped error lists, values beyond their types, plugins that failed. */
#include <joule/joule.h>

#include "testutil.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static joule_registry *reg;

static void setup(void)
{
    reg = joule_registry_new();
    joule_registry_add_dir(reg, getenv("JOULE_PLUGIN_PATH"));
    joule_registry_add_dir(reg, getenv("TEST_PLUGINS"));
}

static void teardown(void)
{
    joule_registry_free(reg);
}

/* Load `text` as g.ini (or g.ini as it is, for NULL); return the error
 * text (malloc'd) or NULL. */
static char *load(const char *text, const char *const *sets, size_t n_sets, joule_graph **out)
{
    const char *path = tu_path("g.ini");
    if (text) /* NULL: g.ini as the test wrote it */
        tu_write_file(path, text);
    joule_graph *g = NULL;
    char *errors = NULL;
    int rc = joule_graph_load(path, reg, sets, n_sets, &g, &errors);
    if (out)
        *out = g;
    else
        joule_graph_free(g);
    ck_assert_int_eq(rc == 0, errors == NULL);
    return errors;
}

/* The error text with the temporary folder replaced by "G". */
static char *errs(const char *text)
{
    char *e = load(text, NULL, 0, NULL);
    ck_assert_msg(e != NULL, "expected an error");
    const char *p = tu_path("g.ini");
    size_t lp = strlen(p);
    char *out = calloc(strlen(e) + 1, 1);
    for (const char *s = e; *s;) {
        if (!strncmp(s, p, lp)) {
            strcat(out, "G");
            s += lp;
        } else {
            strncat(out, s, 1);
            s++;
        }
    }
    free(e);
    return out;
}

#define HEAD "[in]\nplugin = sndfile\n"
#define TAIL "[out]\nplugin = csv\ninput = rms\n"

#define EXPECT(text, golden)                                                                                       \
    do {                                                                                                           \
        char *got = errs(text);                                                                                    \
        ck_assert_str_eq(got, golden);                                                                             \
        free(got);                                                                                                 \
    } while (0)

START_TEST(test_valid)
{
    joule_graph *g;
    char *e = load("[graph]\nchunk = 1024\nthreads = 3\nmemory = 16M\n\n" HEAD "[rms]\nplugin = energy\ninput = in\n"
                   "  frame = 2048   ; indented, with a comment\n" TAIL,
                   NULL, 0, &g);
    ck_assert_msg(e == NULL, "%s", e);
    ck_assert_uint_eq(joule_graph_node_count(g), 3);
    ck_assert_uint_eq(joule_graph_chunk_rows(g), 1024);
    ck_assert_int_eq(joule_graph_threads(g), 3);
    ck_assert_uint_eq(joule_graph_memory(g), 16u << 20);
    ck_assert_str_eq(joule_graph_node_name(g, 1), "rms");
    joule_graph_free(g);
}
END_TEST

START_TEST(test_unknown_plugin)
{
    EXPECT(HEAD "[rms]\nplugin = enrgy\ninput = in\n" TAIL,
           "G:4: node 'rms': unknown plugin 'enrgy'; did you mean 'energy'?\n");
    /* the test plugin folder holds objects that fail to load on purpose
     * (bad_abi, bad_noentry, plugin-test's pt_default, ...): the message
     * counts them, however many there are */
    char *got = errs(HEAD "[rms]\nplugin = zzzzzzzz\ninput = in\n" TAIL);
    const char *head = "G:4: node 'rms': unknown plugin 'zzzzzzzz' (joule plugins lists those found, and why ";
    const char *tail = " files failed to load)\n";
    ck_assert_msg(!strncmp(got, head, strlen(head)), "%s", got);
    char *end;
    long n = strtol(got + strlen(head), &end, 10);
    ck_assert_msg(n >= 4 && !strcmp(end, tail), "%s", got);
    free(got);
}
END_TEST

START_TEST(test_unknown_param)
{
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nfrme = 2048\n" TAIL,
           "G:6: node 'rms': plugin 'energy' has no parameter 'frme'; did you mean 'frame'?\n");
}
END_TEST

START_TEST(test_bad_values)
{
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = 0\n" TAIL,
           "G:6: node 'rms': frame = 0 is below the minimum 1 rows\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = 12x\n" TAIL,
           "G:6: node 'rms': frame must be an integer, not '12x'\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nwindow = han\n" TAIL,
           "G:6: node 'rms': window 'han' is not one of rect, hann, hamming, blackman; did you mean 'hann'?\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nfeatures = rms, loud\n" TAIL,
           "G:3: node 'rms': features: unknown feature 'loud' (known: ms, rms, db, peak)\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\n[out]\nplugin = csv\ninput = rms\nheader = maybe\n",
           "G:9: node 'out': header must be true or false, not 'maybe'\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\n[out]\nplugin = csv\ninput = rms\npath = {stm}.csv\n",
           "G:9: node 'out': path: unknown variable {stm} in path '{stm}.csv'; did you mean {stem}?\n");
}
END_TEST

START_TEST(test_inputs)
{
    EXPECT(HEAD "[rms]\nplugin = energy\n" TAIL, "G:3: node 'rms': input 'in' (signal) is not connected: add 'input = NODE'\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = inn\n" TAIL,
           "G:5: node 'rms': input 'inn' is not a node; did you mean 'in'?\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in, in\n" TAIL,
           "G:5: node 'rms': plugin 'energy' takes 1 input, 2 given\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in.output\n" TAIL,
           "G:5: node 'rms': node 'in' (sndfile) has no output 'output'; did you mean 'out'?\n");
    EXPECT("[in]\nplugin = sndfile\ninput = in\n[out]\nplugin = csv\ninput = in\n",
           "G:3: node 'in': plugin 'sndfile' is a source and takes no input\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = out\n" TAIL,
           "G:5: node 'rms': input 'out' is a sink and has no output\n");
}
END_TEST

START_TEST(test_kind_mismatch)
{
    /* energy's summary is an events stream; energy takes a signal */
    EXPECT(HEAD "[a]\nplugin = energy\ninput = in\n[rms]\nplugin = energy\ninput = a.summary\n" TAIL,
           "G:8: node 'rms': input 'in' accepts signal, but 'a.summary' produces events\n");
}
END_TEST

START_TEST(test_cycle)
{
    EXPECT("[in]\nplugin = t_gen\n[a]\nplugin = t_pass\ninput = b\n[b]\nplugin = t_pass\ninput = a\n"
           "[out]\nplugin = csv\ninput = b\n",
           "G:3: node 'a': the inputs form a cycle: a <- b <- a\n");
}
END_TEST

START_TEST(test_structure)
{
    EXPECT("[in]\nplugin = sndfile\n", "G: the graph has no sink, so it would write nothing: add a node with plugin = csv\n");
    EXPECT("[graph]\nchunk = 16\n", "G: the graph has no nodes: add a section per node, like [in] plugin = sndfile\n");
    EXPECT("[in]\nplugin = sndfile\n[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n",
           "G:3: section [in] appears twice (first at G:1)\n");
    EXPECT("frame = 1\n[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n",
           "G:1: 'frame' is outside any [section]\n");
    EXPECT("[in]\nplugin = sndfile\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n",
           "G:3: [in] sets 'plugin' twice (first at G:2)\n");
    EXPECT("[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\njunk line\n",
           "G:6: expected 'key = value', found 'junk line'\n");
    EXPECT("[in]\n[out]\nplugin = csv\ninput = in\n", "G:1: node 'in' has no 'plugin = ...'\n");
}
END_TEST

START_TEST(test_settings)
{
    EXPECT("[graph]\nchunk = 0\nthreds = 2\nmemory = lots\n[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n",
           "G:2: [graph] chunk = 0 is below the minimum 1 rows\n"
           "G:3: [graph] has no setting 'threds'; did you mean 'threads'?\n"
           "G:4: [graph] memory must be a size like 64M or 1.5G (units K, M, G, T), not 'lots'\n");
    EXPECT("[cache]\nttl = forever\n[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n",
           "G:2: [cache] ttl must be a duration like 90s, 30m, 1h or 2d, not 'forever'\n");
}
END_TEST

START_TEST(test_long_line)
{
    char text[1024];
    char pad[400];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(text, sizeof text, "[in]\nplugin = sndfile\n; %s\n[out]\nplugin = csv\ninput = in\n", pad);
    EXPECT(text, "G:3: line is longer than 199 characters\n");
}
END_TEST

START_TEST(test_every_error_reported)
{
    /* several mistakes: all of them in one go, in file order */
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nhop = -1\nwindw = hann\n" TAIL,
           "G:6: node 'rms': hop = -1 is below the minimum 1 rows\n"
           "G:7: node 'rms': plugin 'energy' has no parameter 'windw'; did you mean 'window'?\n");
}
END_TEST

START_TEST(test_sets)
{
    const char *text = HEAD "[rms]\nplugin = energy\ninput = in\n" TAIL;
    const char *good[] = {"rms.frame=2048", "graph.chunk=7"};
    joule_graph *g;
    char *e = load(text, good, 2, &g);
    ck_assert_msg(e == NULL, "%s", e);
    ck_assert_uint_eq(joule_graph_chunk_rows(g), 7);
    joule_graph_free(g);
    const char *bad[] = {"rms.frame=abc", "rsm.hop=2", "nodot"};
    e = load(text, bad, 3, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e, "--set rsm.hop=2: no node or section 'rsm'; did you mean 'rms'?\n"
                        "--set nodot: expected NODE.KEY=VALUE\n"
                        "--set rms.frame=abc: node 'rms': frame must be an integer, not 'abc'\n");
    free(e);
}
END_TEST

START_TEST(test_missing_file)
{
    joule_graph *g;
    char *e;
    int rc = joule_graph_load(tu_path("nope.ini"), reg, NULL, 0, &g, &e);
    ck_assert_int_eq(rc, JOULE_E_IO);
    ck_assert_ptr_nonnull(strstr(e, "nope.ini: cannot open the graph: No such file or directory"));
    free(e);
}
END_TEST

/* Write `n` bytes as a file. */
static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Load the file at `path`; expect `want` as the return code and the
 * errors (returned, malloc'd) with `path` replaced by "P". */
static char *load_file(const char *path, int want)
{
    joule_graph *g = NULL;
    char *e = NULL;
    int rc = joule_graph_load(path, reg, NULL, 0, &g, &e);
    ck_assert_msg(rc == want, "rc %d, want %d: %s", rc, want, e ? e : "");
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(e);
    size_t lp = strlen(path);
    char *out = calloc(strlen(e) + 1, 1);
    for (const char *p = e; *p;) {
        if (!strncmp(p, path, lp)) {
            strcat(out, "P");
            p += lp;
        } else {
            strncat(out, p, 1);
            p++;
        }
    }
    free(e);
    return out;
}

#define EXPECT_FILE(path, want, golden)                                                                            \
    do {                                                                                                           \
        char *got = load_file(path, want);                                                                         \
        ck_assert_str_eq(got, golden);                                                                             \
        free(got);                                                                                                 \
    } while (0)

/* A 16-bit WAV file as a user would give it: header, then a second of a
 * tone. */
static void write_wav_like(const char *path)
{
    size_t frames = 44100, n = 44 + frames * 2;
    unsigned char *b = calloc(n, 1);
    memcpy(b, "RIFF", 4);
    uint32_t riff = (uint32_t)(n - 8), fmt = 16, rate = 44100, bps = 88200, data = (uint32_t)(frames * 2);
    memcpy(b + 4, &riff, 4);
    memcpy(b + 8, "WAVEfmt ", 8);
    memcpy(b + 16, &fmt, 4);
    b[20] = 1, b[22] = 1;
    memcpy(b + 24, &rate, 4);
    memcpy(b + 28, &bps, 4);
    b[32] = 2, b[34] = 16;
    memcpy(b + 36, "data", 4);
    memcpy(b + 40, &data, 4);
    for (size_t i = 0; i < frames; i++) {
        int16_t v = (int16_t)((i * 1237) % 20000 - 10000);
        memcpy(b + 44 + 2 * i, &v, 2);
    }
    write_bytes(path, b, n);
    free(b);
}

START_TEST(test_audio_as_graph)
{
    const char *wav = tu_path("take.wav");
    write_wav_like(wav);
    EXPECT_FILE(wav, JOULE_E_GRAPH, "P: not a graph file (a WAV file): usage is joule run GRAPH FILE...\n");
    /* the swapped command: one line, exit 2 */
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", wav, tu_path("g.ini"), tu_tmpdir()), 2);
    char want[1024];
    snprintf(want, sizeof want, "%s: not a graph file (a WAV file): usage is joule run GRAPH FILE...\n", wav);
    ck_assert_str_eq(tu_stderr(), want);
    /* FLAC and Ogg by their magic */
    write_bytes(tu_path("a.flac"), "fLaC\0\0\0\x22\x10\0\x10\0", 12);
    EXPECT_FILE(tu_path("a.flac"), JOULE_E_GRAPH, "P: not a graph file (a FLAC file): usage is joule run GRAPH FILE...\n");
    write_bytes(tu_path("a.ogg"), "OggS\0\x02\0\0\0\0\0\0\0\0", 14);
    EXPECT_FILE(tu_path("a.ogg"), JOULE_E_GRAPH, "P: not a graph file (an Ogg file): usage is joule run GRAPH FILE...\n");
}
END_TEST

START_TEST(test_binary_as_graph)
{
    unsigned char b[8192];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof b; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)(x >> 24);
    }
    write_bytes(tu_path("noise.bin"), b, sizeof b);
    EXPECT_FILE(tu_path("noise.bin"), JOULE_E_GRAPH,
                "P: not a graph file (binary data): usage is joule run GRAPH FILE...\n");
    /* all zeros: what a file pre-allocated and never written holds */
    memset(b, 0, sizeof b);
    write_bytes(tu_path("zeros.bin"), b, sizeof b);
    EXPECT_FILE(tu_path("zeros.bin"), JOULE_E_GRAPH,
                "P: not a graph file (binary data): usage is joule run GRAPH FILE...\n");
    /* a graph saved as UTF-16 by an editor */
    const char *t = "[in]\nplugin = sndfile\n";
    size_t n = 2;
    b[0] = 0xff, b[1] = 0xfe;
    for (; *t; t++, n += 2)
        b[n] = (unsigned char)*t, b[n + 1] = 0;
    write_bytes(tu_path("u16.ini"), b, n);
    EXPECT_FILE(tu_path("u16.ini"), JOULE_E_GRAPH,
                "P: not a graph file (UTF-16 text: save it as UTF-8): usage is joule run GRAPH FILE...\n");
}
END_TEST

START_TEST(test_text_not_graph)
{
    /* a sensor log in the graph's place: one line, not one error per row */
    FILE *f = fopen(tu_path("log.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("t,ax,ay,az\n", f);
    for (int i = 0; i < 5000; i++)
        fprintf(f, "%d,0.1,0.2,9.8\n", i);
    fclose(f);
    EXPECT_FILE(tu_path("log.csv"), JOULE_E_GRAPH,
                "P: not a graph file (text with no [section] and no 'key = value' line): usage is joule run GRAPH "
                "FILE...\n");
    /* a log whose every line looks like a section header */
    f = fopen(tu_path("app.log"), "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "[12:00:%05d] started\n", i);
    fclose(f);
    EXPECT_FILE(tu_path("app.log"), JOULE_E_GRAPH,
                "P: not a graph file (more than 10000 sections and keys by line 10001): usage is joule run GRAPH "
                "FILE...\n");
}
END_TEST

START_TEST(test_nul_and_control)
{
    /* a stray NUL in a graph is an error on its line, not "binary data" */
    static const char g[] = "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\nheader = tr\0ue\n";
    write_bytes(tu_path("g.ini"), g, sizeof g - 1);
    char *e = errs(NULL);
    ck_assert_str_eq(e, "G:6: line contains a NUL byte (a graph file is text)\n");
    free(e);
    /* the tail of a file filled with NUL bytes (a crash while saving) */
    char buf[2048];
    static const char head[] = "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n";
    memset(buf, 0, sizeof buf);
    memcpy(buf, head, sizeof head - 1);
    write_bytes(tu_path("g.ini"), buf, sizeof buf);
    e = errs(NULL);
    ck_assert_str_eq(e, "G:6: line is longer than 199 characters\n");
    free(e);
    memset(buf + sizeof head - 1, 0, 10);
    write_bytes(tu_path("g.ini"), buf, sizeof head - 1 + 10);
    e = errs(NULL);
    ck_assert_str_eq(e, "G:6: line contains a NUL byte (a graph file is text)\n");
    free(e);
    /* a terminal escape in a value never reaches a message */
    EXPECT("[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\npath = \x1b[2J.csv\n",
           "G:6: line contains the control character \\x1b\n");
}
END_TEST

START_TEST(test_huge_line)
{
    /* a 10 MB line is skipped, not held: one error, and memory stays small */
    const char *path = tu_path("g.ini");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[in]\nplugin = sndfile\n; ", f);
    char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 160; i++)
        fwrite(chunk, 1, sizeof chunk, f);
    fputs("\n[out]\nplugin = csv\ninput = in\n", f);
    fclose(f);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    char *e = errs(NULL);
    getrusage(RUSAGE_SELF, &after);
    ck_assert_str_eq(e, "G:3: line is longer than 199 characters\n");
    free(e);
    ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 4096, "peak memory grew by %ld KB",
                  after.ru_maxrss - before.ru_maxrss);
}
END_TEST

START_TEST(test_not_files)
{
    /* a device never ends: refused before a byte is read */
    EXPECT_FILE("/dev/zero", JOULE_E_GRAPH,
                "P: not a graph file (a character device): usage is joule run GRAPH FILE...\n");
    EXPECT_FILE(tu_tmpdir(), JOULE_E_GRAPH, "P: is a directory, not a graph file: usage is joule run GRAPH FILE...\n");
    ck_assert_int_eq(tu_joule("run /dev/zero '%s'", tu_path("x.wav")), 2);
    ck_assert_str_eq(tu_stderr(), "/dev/zero: not a graph file (a character device): usage is joule run GRAPH FILE...\n");
}
END_TEST

START_TEST(test_fifo)
{
    /* a pipe still works (`joule run <(make-graph) ...`) */
    const char *path = tu_path("g.fifo");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = fopen(path, "w");
        if (!f)
            _exit(1);
        fputs("[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n", f);
        _exit(fclose(f) ? 1 : 0);
    }
    joule_graph *g = NULL;
    char *e = NULL;
    int rc = joule_graph_load(path, reg, NULL, 0, &g, &e);
    ck_assert_msg(rc == 0, "%s", e);
    ck_assert_uint_eq(joule_graph_node_count(g), 2);
    joule_graph_free(g);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(test_error_cap)
{
    /* 30 errors: the first 20, then their count */
    char text[4096] = "[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n";
    for (int i = 0; i < 30; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "bogus%d = 1\n", i);
    char *e = errs(text);
    size_t lines = 0;
    for (const char *p = e; *p; p++)
        lines += *p == '\n';
    ck_assert_uint_eq(lines, 21);
    ck_assert_ptr_nonnull(strstr(e, "G:6: node 'out': plugin 'csv' has no parameter 'bogus0'"));
    ck_assert_ptr_nonnull(strstr(e, "G:25: node 'out': plugin 'csv' has no parameter 'bogus19'"));
    ck_assert_ptr_null(strstr(e, "bogus20"));
    const char *last = strstr(e, "G: and 10 more errors\n");
    ck_assert_ptr_nonnull(last);
    ck_assert_str_eq(last, "G: and 10 more errors\n");
    free(e);
}
END_TEST

START_TEST(test_overflow)
{
    /* beyond the type: the range says what is wrong, not the syntax */
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = 99999999999999999999\n" TAIL,
           "G:6: node 'rms': frame = 99999999999999999999 is above the maximum 16777216 rows\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = 3000000000000000000000\n" TAIL,
           "G:6: node 'rms': frame = 3000000000000000000000 is above the maximum 16777216 rows\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = 1e30\n" TAIL,
           "G:6: node 'rms': frame = 1e30 is above the maximum 16777216 rows\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = -99999999999999999999\n" TAIL,
           "G:6: node 'rms': frame = -99999999999999999999 is below the minimum 1 rows\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = 1.5\n" TAIL,
           "G:6: node 'rms': frame must be a whole number, not '1.5'\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = 1e3\n" TAIL,
           "G:6: node 'rms': frame must be an integer written in digits (like 1000), not '1e3'\n");
    EXPECT(HEAD "[rms]\nplugin = energy\ninput = in\nframe = inf\n" TAIL,
           "G:6: node 'rms': frame = inf is above the maximum 16777216 rows\n");
    /* no maximum declared: the type's own limit */
    EXPECT("[in]\nplugin = t_gen\nrows = 99999999999999999999\n[out]\nplugin = csv\ninput = in\n",
           "G:3: node 'in': rows = 99999999999999999999 is out of range for a 64-bit integer\n");
    /* floats: infinities and overflow against the range, NaN is no number */
    EXPECT(HEAD "[f]\nplugin = filter\ninput = in\ncutoff = 1e999\n[out]\nplugin = csv\ninput = f\n",
           "G:6: node 'f': cutoff = 1e999 is above the maximum 1000000000 Hz\n");
    EXPECT(HEAD "[f]\nplugin = filter\ninput = in\ncutoff = inf\n[out]\nplugin = csv\ninput = f\n",
           "G:6: node 'f': cutoff = inf is above the maximum 1000000000 Hz\n");
    EXPECT(HEAD "[f]\nplugin = filter\ninput = in\ncutoff = nan\n[out]\nplugin = csv\ninput = f\n",
           "G:6: node 'f': cutoff must be a number, not 'nan'\n");
    /* settings: sizes, durations, counts */
    EXPECT("[graph]\nmemory = 99999999999999999999G\nchunk = 99999999999999999999\nthreads = 1e30\n"
           "[cache]\nttl = 1e999h\nmemory = 1K\n" HEAD "[out]\nplugin = csv\ninput = in\n",
           "G:2: [graph] memory = 99999999999999999999G is too large for a 64-bit byte count\n"
           "G:3: [graph] chunk = 99999999999999999999 is above the maximum 16777216 rows\n"
           "G:4: [graph] threads = 1e30 is above the maximum 1024\n"
           "G:6: [cache] ttl = 1e999h is too large for a number of seconds (a double)\n");
    EXPECT("[graph]\nmemory = 1K\n[cache]\nttl = 5y\nmemory = -5M\n" HEAD "[out]\nplugin = csv\ninput = in\n",
           "G:2: [graph] memory = 1K is below the minimum 64K\n"
           "G:4: [cache] ttl = 5y has an unknown unit 'y' (ms, s, m, h or d)\n"
           "G:5: [cache] memory = -5M is negative: must be a size like 64M or 1.5G (units K, M, G, T)\n");
}
END_TEST

START_TEST(test_failed_plugin)
{
    /* the registry of the fixture holds bad_abi.so's failure */
    char *e = errs("[in]\nplugin = bad_abi\n[out]\nplugin = csv\ninput = in\n");
    const char *want = "G:2: node 'in': plugin 'bad_abi' failed to load: built for plugin ABI version 2, this host "
                       "speaks version 1 (";
    ck_assert_msg(!strncmp(e, want, strlen(want)), "%s", e);
    ck_assert_ptr_nonnull(strstr(e, "bad_abi.so)\n"));
    free(e);
    /* and from the command line, exit 2 */
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = bad_abi\n[out]\nplugin = csv\ninput = in\n");
    ck_assert_int_eq(tu_joule("validate '%s' --plugin-path '%s'", tu_path("g.ini"), getenv("TEST_PLUGINS")), 2);
    ck_assert_msg(strstr(tu_stderr(), ":2: node 'in': plugin 'bad_abi' failed to load: built for plugin ABI") != NULL,
                  "%s", tu_stderr());
}
END_TEST

START_TEST(test_escaped_names)
{
    /* a file name with an escape sequence and a newline: one line, escaped */
    char name[64];
    snprintf(name, sizeof name, "x\x1b[2Jy\n.wav");
    const char *wav = tu_path(name);
    write_wav_like(wav);
    joule_graph *g = NULL;
    char *e = NULL;
    ck_assert_int_eq(joule_graph_load(wav, reg, NULL, 0, &g, &e), JOULE_E_GRAPH);
    ck_assert_ptr_nonnull(strstr(e, "/x\\x1b[2Jy\\n.wav: not a graph file (a WAV file)"));
    ck_assert_ptr_null(strchr(e, '\x1b'));
    ck_assert_ptr_eq(strchr(e, '\n'), e + strlen(e) - 1);
    free(e);
    /* and in --set */
    const char *bad[] = {"rms.frame=\x1b[2J"};
    e = load(HEAD "[rms]\nplugin = energy\ninput = in\n" TAIL, bad, 1, NULL);
    ck_assert_str_eq(e, "--set rms.frame=\\x1b[2J: contains the control character \\x1b\n");
    free(e);
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_sets);
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("Errors");
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_add_test(te, test_unknown_plugin);
    tcase_add_test(te, test_unknown_param);
    tcase_add_test(te, test_bad_values);
    tcase_add_test(te, test_inputs);
    tcase_add_test(te, test_kind_mismatch);
    tcase_add_test(te, test_cycle);
    tcase_add_test(te, test_structure);
    tcase_add_test(te, test_settings);
    tcase_add_test(te, test_long_line);
    tcase_add_test(te, test_every_error_reported);
    suite_add_tcase(s, te);
    TCase *tf = tcase_create("Files");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_add_test(tf, test_audio_as_graph);
    tcase_add_test(tf, test_binary_as_graph);
    tcase_add_test(tf, test_text_not_graph);
    tcase_add_test(tf, test_nul_and_control);
    tcase_add_test(tf, test_huge_line);
    tcase_add_test(tf, test_not_files);
    tcase_add_test(tf, test_fifo);
    tcase_add_test(tf, test_error_cap);
    tcase_add_test(tf, test_overflow);
    tcase_add_test(tf, test_failed_plugin);
    tcase_add_test(tf, test_escaped_names);
    suite_add_tcase(s, tf);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(graph_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
