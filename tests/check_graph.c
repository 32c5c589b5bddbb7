/* check_graph.c — loading and validating graph files: every validation
 * error, with its exact message (golden strings), and the settings. */
#include <joule/joule.h>

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Load `text` as g.ini; return the error text (malloc'd) or NULL. */
static char *load(const char *text, const char *const *sets, size_t n_sets, joule_graph **out)
{
    const char *path = tu_path("g.ini");
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
    EXPECT(HEAD "[rms]\nplugin = zzzzzzzz\ninput = in\n" TAIL,
           "G:4: node 'rms': unknown plugin 'zzzzzzzz' (joule plugins lists those found)\n");
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
           "G:6: node 'rms': frame must be between 1 and 16777216 rows\n");
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
           "G:2: [graph] chunk must be a whole number of rows from 1 to 16777216, not '0'\n"
           "G:3: [graph] has no setting 'threds'; did you mean 'threads'?\n"
           "G:4: [graph] memory must be a size of at least 64K (like 64M), not 'lots'\n");
    EXPECT("[cache]\nttl = forever\n[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\n",
           "G:2: [cache] ttl must be a duration (like 90s, 30m, 1h, 2d), not 'forever'\n");
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
           "G:6: node 'rms': hop must be between 1 and 16777216 rows\n"
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
