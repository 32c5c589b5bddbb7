/* check_harness.c — the in-process harness (<joule/harness.h>): what it
 * feeds, what it collects, and each breach of the ABI it must catch. The
 * plugins are small descriptors compiled into this program, each right or
 * wrong in one known way; one shipped plugin (energy) is loaded by name. */
#include <joule/harness.h>
#include <joule/joule.h>

#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* A configurable filter: one signal in, one output out                     */

typedef enum {
    M_GAIN,      /* y = gain · x, one row per row, in place allowed        */
    M_HALF,      /* every second row (bound 1/2): correct                   */
    M_OVER,      /* declares 1/2 but emits every row: bound too small       */
    M_OVERRUN,   /* writes one row past capacity, reports capacity          */
    M_EVENTS,    /* events: one per row, time = row / rate, except row 5
                    which goes back in time                                 */
    M_MORE,      /* emits 3 rows per row through JOULE_MORE, bound 1/1      */
    M_FAIL,      /* process fails at row 10 with a message                  */
    M_SPIN,      /* returns JOULE_MORE forever without emitting             */
} mode;

static const char *const ch_names[] = {"y"};
static const joule_param params[] = {
    {"gain", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "1", -10, 10, NULL, "", "the gain"},
    {"mode", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0", 0, 7, NULL, "", "what to do"},
    {"limit", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN, "0", 0, 0, NULL, "", "must be <= 5 (check)"},
};
static const joule_port in_ports[] = {{"in", JOULE_SIGNAL, 0, "a signal"}};
static const joule_port out_ports[] = {{"out", JOULE_SIGNAL, 0, "the result"}};
static const joule_port ev_ports[] = {{"out", JOULE_EVENTS, 0, "the result"}};

typedef struct inst {
    const joule_open_args *args;
    mode m;
    float gain;
    uint64_t seen;
    uint32_t pending; /* M_MORE: rows still to emit */
    float pending_v;
} inst;

static int t_open(const joule_open_args *a, void **self)
{
    inst *s = calloc(1, sizeof *s);
    if (!s)
        return JOULE_ERROR;
    *self = s;
    s->args = a;
    s->gain = (float)a->params[0].f;
    s->m = (mode)a->params[1].i;
    joule_format *o = &a->outputs[0];
    o->kind = s->m == M_EVENTS ? JOULE_EVENTS : JOULE_SIGNAL;
    o->n_columns = 1;
    o->rate = a->inputs[0].rate;
    o->names = ch_names;
    if (s->m == M_GAIN)
        o->flags = JOULE_FORMAT_IN_PLACE;
    if (s->m == M_HALF || s->m == M_OVER) {
        o->out_num = 1;
        o->out_den = 2;
    }
    return JOULE_OK;
}

static int t_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    inst *s = self;
    (void)port;
    uint32_t k = 0, cols = in->n_columns;
    if (s->m == M_SPIN)
        return JOULE_MORE;
    if (s->m == M_MORE) {
        /* 3 rows per input row, through as many calls as it takes */
        for (uint32_t i = 0; i < in->n_rows; i++)
            s->pending += 3, s->pending_v = in->data[i * cols];
        while (s->pending && k < out->capacity) {
            out->data[k++] = s->pending_v;
            s->pending--;
        }
        out->n_rows = k;
        return s->pending ? JOULE_MORE : JOULE_OK;
    }
    for (uint32_t i = 0; i < in->n_rows; i++, s->seen++) {
        float x = in->data[i * cols];
        if (s->m == M_FAIL && s->seen == 10) {
            s->args->host->error(s->args->host, "row 10 is not welcome");
            return JOULE_ERROR;
        }
        if (s->m == M_HALF && s->seen % 2)
            continue;
        if (s->m == M_EVENTS) {
            out->times[k] = (double)(s->seen == 5 ? 0 : s->seen) / s->args->inputs[0].rate;
        }
        out->data[k++] = s->gain * x;
    }
    if (s->m == M_OVERRUN && k == out->capacity && k) {
        out->data[k] = 1; /* one past the end */
    }
    out->n_rows = k;
    return JOULE_OK;
}

static void t_close(void *self)
{
    free(self);
}

static int t_check(const joule_value *v, char *msg, size_t n)
{
    if (v[2].i > 5) {
        snprintf(msg, n, "limit must be at most 5");
        return 1;
    }
    return 0;
}

static joule_descriptor desc_of(mode m)
{
    joule_descriptor d;
    memset(&d, 0, sizeof d);
    d.abi_version = JOULE_ABI_VERSION;
    d.struct_size = sizeof d;
    d.name = "t_filter";
    d.version = "1.0.0";
    d.summary = "a test filter";
    d.role = JOULE_ROLE_FILTER;
    d.n_params = 3;
    d.params = params;
    d.n_inputs = 1;
    d.inputs = in_ports;
    d.n_outputs = 1;
    d.outputs = m == M_EVENTS ? ev_ports : out_ports;
    d.open = t_open;
    d.process = t_process;
    d.close = t_close;
    d.check = t_check;
    return d;
}

static joule_descriptor D; /* the one a test uses: must outlive the harness */

static joule_harness *make(mode m)
{
    D = desc_of(m);
    joule_harness *h;
    char *err = NULL;
    ck_assert_int_eq(joule_harness_new(&D, &h, &err), 0);
    ck_assert_ptr_null(err);
    char ms[8];
    snprintf(ms, sizeof ms, "%d", (int)m);
    ck_assert_int_eq(joule_harness_set(h, "mode", ms), 0);
    joule_format f = {JOULE_SIGNAL, 1, 1000.0, 0, NULL, NULL, 0, 0, 0, 0};
    ck_assert_int_eq(joule_harness_set_input(h, 0, &f), 0);
    joule_harness_set_log(h, NULL, NULL);
    return h;
}

static float ramp[1000];

static void setup(void)
{
    for (int i = 0; i < 1000; i++)
        ramp[i] = (float)i;
}

/* ------------------------------------------------------------------------ */

START_TEST(test_gain_any_chunks)
{
    /* y = 2x, whatever the chunk sizes, in place or not: 1000 rows out */
    static const uint32_t sizes[][3] = {{1, 1, 1}, {7, 7, 7}, {4096, 4096, 4096}, {3, 100, 1}};
    for (int in_place = 0; in_place < 2; in_place++)
        for (size_t c = 0; c < 4; c++) {
            joule_harness *h = make(M_GAIN);
            ck_assert_int_eq(joule_harness_set(h, "gain", "2"), 0);
            joule_harness_set_chunks(h, sizes[c], 3);
            joule_harness_set_in_place(h, in_place);
            ck_assert_int_eq(joule_harness_open(h), 0);
            ck_assert(joule_harness_output_format(h, 0)->flags & JOULE_FORMAT_IN_PLACE);
            ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 1000), 0);
            ck_assert_int_eq(joule_harness_finish(h), 0);
            ck_assert_int_eq(joule_harness_commit(h), 0);
            size_t n;
            const float *y = joule_harness_rows(h, 0, &n);
            ck_assert_uint_eq(n, 1000);
            for (size_t i = 0; i < n; i++)
                ck_assert_float_eq(y[i], 2.0f * (float)i);
            joule_harness_stats st;
            joule_harness_get_stats(h, &st);
            ck_assert_uint_eq(st.rows_in, 1000);
            ck_assert_uint_eq(st.rows_out, 1000);
            /* 1000 rows in chunks of 1: 1000 calls; of 4096: one */
            if (c == 0)
                ck_assert_uint_eq(st.process_calls, 1000);
            if (c == 2)
                ck_assert_uint_eq(st.process_calls, 1);
            joule_harness_free(h);
            /* the caller's rows are never written, even in place */
            ck_assert_float_eq(ramp[999], 999.0f);
        }
}
END_TEST

START_TEST(test_half_bound_exact)
{
    /* a bound of 1/2 that the plugin keeps: 500 rows, from every chunk size */
    static const uint32_t odd[] = {1, 3, 5};
    joule_harness *h = make(M_HALF);
    joule_harness_set_chunks(h, odd, 3);
    ck_assert_int_eq(joule_harness_open(h), 0);
    ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 1000), 0);
    size_t n;
    const float *y = joule_harness_rows(h, 0, &n);
    ck_assert_uint_eq(n, 500);
    ck_assert_float_eq(y[1], 2.0f);
    joule_harness_free(h);
}
END_TEST

START_TEST(test_bound_too_small)
{
    joule_harness *h = make(M_OVER);
    ck_assert_int_eq(joule_harness_open(h), 0);
    ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 1000), JOULE_E_PLUGIN);
    ck_assert_ptr_nonnull(strstr(joule_harness_error(h), "the declared bound is too small"));
    /* broken: nothing more runs */
    ck_assert_int_eq(joule_harness_finish(h), JOULE_E_USAGE);
    joule_harness_free(h);
}
END_TEST

START_TEST(test_overrun_caught)
{
    joule_harness *h = make(M_OVERRUN);
    ck_assert_int_eq(joule_harness_open(h), 0);
    ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 100), JOULE_E_PLUGIN);
    ck_assert_ptr_nonnull(strstr(joule_harness_error(h), "wrote past the end of output 'out'"));
    joule_harness_free(h);
}
END_TEST

START_TEST(test_event_times)
{
    joule_harness *h = make(M_EVENTS);
    ck_assert_int_eq(joule_harness_open(h), 0);
    ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 100), JOULE_E_PLUGIN);
    ck_assert_ptr_nonnull(strstr(joule_harness_error(h), "event times must not decrease"));
    joule_harness_free(h);
}
END_TEST

START_TEST(test_more)
{
    /* JOULE_MORE: 3 rows per row, drained through calls with no input */
    static const uint32_t two[] = {2};
    joule_harness *h = make(M_MORE);
    joule_harness_set_chunks(h, two, 1);
    ck_assert_int_eq(joule_harness_open(h), 0);
    ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 10), 0);
    size_t n;
    const float *y = joule_harness_rows(h, 0, &n);
    ck_assert_uint_eq(n, 30);
    ck_assert_float_eq(y[29], 9.0f);
    joule_harness_free(h);

    h = make(M_SPIN);
    ck_assert_int_eq(joule_harness_open(h), 0);
    ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 10), JOULE_E_PLUGIN);
    ck_assert_ptr_nonnull(strstr(joule_harness_error(h), "JOULE_MORE"));
    joule_harness_free(h);
}
END_TEST

START_TEST(test_plugin_failure)
{
    joule_harness *h = make(M_FAIL);
    ck_assert_int_eq(joule_harness_open(h), 0);
    ck_assert_int_eq(joule_harness_feed(h, 0, ramp, NULL, 100), JOULE_E_PLUGIN);
    ck_assert_str_eq(joule_harness_error(h), "row 10 is not welcome");
    /* finish after the failure is allowed (to see that the plugin
     * survives it), commit is not */
    ck_assert_int_eq(joule_harness_finish(h), 0);
    ck_assert_int_eq(joule_harness_commit(h), JOULE_E_USAGE);
    joule_harness_free(h);
}
END_TEST

START_TEST(test_params)
{
    D = desc_of(M_GAIN);
    joule_harness *h;
    ck_assert_int_eq(joule_harness_new(&D, &h, NULL), 0);
    ck_assert_int_eq(joule_harness_set(h, "gain", "11"), JOULE_E_USAGE); /* above max */
    ck_assert_ptr_nonnull(strstr(joule_harness_error(h), "gain"));
    ck_assert_int_eq(joule_harness_set(h, "gian", "1"), JOULE_E_USAGE);
    ck_assert_ptr_nonnull(strstr(joule_harness_error(h), "no parameter 'gian'"));
    ck_assert_int_eq(joule_harness_set(h, "gain", "x"), JOULE_E_USAGE);
    /* the plugin's own check() runs at open */
    ck_assert_int_eq(joule_harness_set(h, "limit", "6"), 0);
    joule_format f = {JOULE_SIGNAL, 1, 1000.0, 0, NULL, NULL, 0, 0, 0, 0};
    ck_assert_int_eq(joule_harness_set_input(h, 0, &f), 0);
    ck_assert_int_eq(joule_harness_open(h), JOULE_E_USAGE);
    ck_assert_str_eq(joule_harness_error(h), "limit must be at most 5");
    joule_harness_free(h);

    /* an input that is not connected, a kind the port refuses */
    ck_assert_int_eq(joule_harness_new(&D, &h, NULL), 0);
    ck_assert_int_eq(joule_harness_open(h), JOULE_E_USAGE);
    ck_assert_ptr_nonnull(strstr(joule_harness_error(h), "input 'in'"));
    joule_harness_free(h);
    ck_assert_int_eq(joule_harness_new(&D, &h, NULL), 0);
    joule_format fr = {JOULE_FRAMES, 1, 10.0, 0, NULL, NULL, 0, 0, 0, 0};
    ck_assert_int_eq(joule_harness_set_input(h, 0, &fr), JOULE_E_USAGE);
    joule_harness_free(h);

    /* a descriptor the registry would refuse */
    joule_descriptor bad = desc_of(M_GAIN);
    bad.name = "Not An Identifier";
    char *err = NULL;
    ck_assert_int_eq(joule_harness_new(&bad, &h, &err), JOULE_E_PLUGIN);
    ck_assert_ptr_null(h);
    ck_assert_ptr_nonnull(strstr(err, "not an identifier"));
    free(err);
}
END_TEST

START_TEST(test_energy_by_name)
{
    /* a shipped plugin from the plugin path: the RMS of a full-scale sine
     * is 1/sqrt(2) in every frame that holds whole periods */
    joule_harness *h;
    char *err = NULL;
    ck_assert_msg(joule_harness_load("energy", &h, &err) == 0, "%s", err ? err : "");
    ck_assert_int_eq(joule_harness_set(h, "frame", "480"), 0);
    ck_assert_int_eq(joule_harness_set(h, "hop", "480"), 0);
    joule_format f = {JOULE_SIGNAL, 1, 48000.0, 0, NULL, NULL, 0, 0, 0, 0};
    ck_assert_int_eq(joule_harness_set_input(h, 0, &f), 0);
    ck_assert_int_eq(joule_harness_open(h), 0);
    static float sine[48000];
    for (int i = 0; i < 48000; i++)
        sine[i] = (float)sin(2 * M_PI * 1000.0 * i / 48000.0); /* 10 periods per frame */
    ck_assert_int_eq(joule_harness_feed(h, 0, sine, NULL, 48000), 0);
    ck_assert_int_eq(joule_harness_finish(h), 0);
    const joule_format *o = joule_harness_output_format(h, 0);
    int rms = -1;
    for (uint32_t c = 0; c < o->n_columns; c++)
        if (!strncmp(o->names[c], "rms", 3))
            rms = (int)c;
    ck_assert_int_ge(rms, 0);
    size_t n;
    const float *rows = joule_harness_rows(h, 0, &n);
    ck_assert_uint_eq(n, 100);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(rows[i * o->n_columns + (uint32_t)rms], M_SQRT1_2, 1e-4);
    joule_harness_free(h);

    ck_assert_int_eq(joule_harness_load("no_such_plugin", &h, &err), JOULE_E_PLUGIN);
    ck_assert_ptr_nonnull(strstr(err, "no plugin named 'no_such_plugin'"));
    free(err);
}
END_TEST

START_TEST(test_sink_files)
{
    /* the csv sink: its file appears only after commit, under the output
     * folder; without commit it never appears */
    for (int commit = 0; commit < 2; commit++) {
        joule_harness *h;
        char *err = NULL;
        ck_assert_msg(joule_harness_load("csv", &h, &err) == 0, "%s", err ? err : "");
        const char *dir = tu_path(commit ? "sink-c" : "sink-n");
        ck_assert_int_eq(joule_harness_set_output_dir(h, dir), 0);
        ck_assert_int_eq(joule_harness_set_input_path(h, "/somewhere/take 1.wav"), 0);
        ck_assert_int_eq(joule_harness_set(h, "path", "{stem}.csv"), 0);
        const char *names[] = {"a", "b"};
        joule_format f = {JOULE_FRAMES, 2, 10.0, 0, names, NULL, 0, 0, 0, 0};
        ck_assert_int_eq(joule_harness_set_input(h, 0, &f), 0);
        ck_assert_int_eq(joule_harness_open(h), 0);
        float rows[] = {1, 2, 3, 4};
        ck_assert_int_eq(joule_harness_feed(h, 0, rows, NULL, 2), 0);
        ck_assert_int_eq(joule_harness_finish(h), 0);
        if (commit)
            ck_assert_int_eq(joule_harness_commit(h), 0);
        joule_harness_close(h);
        char path[4096];
        snprintf(path, sizeof path, "%s/take 1.csv", dir);
        if (commit) {
            ck_assert_str_eq(joule_harness_output_file(h, 0), path);
            char *text = tu_read_file(path);
            ck_assert_ptr_nonnull(text);
            ck_assert_ptr_nonnull(strstr(text, "a,b"));
            free(text);
        } else {
            ck_assert_ptr_null(joule_harness_output_file(h, 0));
            ck_assert(!tu_exists(path));
            ck_assert_int_eq(tu_count_tmps(dir), 0);
        }
        joule_harness_free(h);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("harness");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_gain_any_chunks);
    tcase_add_test(tc, test_half_bound_exact);
    tcase_add_test(tc, test_bound_too_small);
    tcase_add_test(tc, test_overrun_caught);
    tcase_add_test(tc, test_event_times);
    tcase_add_test(tc, test_more);
    tcase_add_test(tc, test_plugin_failure);
    tcase_add_test(tc, test_params);
    tcase_add_test(tc, test_energy_by_name);
    tcase_add_test(tc, test_sink_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
