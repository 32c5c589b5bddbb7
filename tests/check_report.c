/* check_report.c — run statistics: latency percentiles from the geometric
 * histogram, merging, the progress line's format, and reports packed for
 * another process (joule-mpi) and merged there. */
#include "progress.h"
#include "report.h"
#include "util.h"
#include "watch.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_quantiles)
{
    jl_node_stats s;
    memset(&s, 0, sizeof s);
    /* 1 ms, 2 ms, ..., 1000 ms: the median is 500 ms, the 95th percentile
     * 950 ms; buckets are 10 % wide, so within 5 % of those */
    for (int i = 1; i <= 1000; i++)
        jl_stats_latency(&s, i * 1e-3);
    ck_assert_double_eq_tol(jl_stats_quantile(&s, 0.5), 0.5, 0.5 * 0.05);
    ck_assert_double_eq_tol(jl_stats_quantile(&s, 0.95), 0.95, 0.95 * 0.05);
    ck_assert_double_eq(jl_stats_quantile(&s, 1.0), 1.0);
    ck_assert_double_eq(s.lat_max, 1.0);
    /* merging doubles the counts, keeps the shape */
    jl_node_stats t;
    memset(&t, 0, sizeof t);
    s.rows_in = 10;
    jl_stats_merge(&t, &s);
    jl_stats_merge(&t, &s);
    ck_assert_uint_eq(t.rows_in, 20);
    ck_assert_double_eq_tol(jl_stats_quantile(&t, 0.5), 0.5, 0.5 * 0.05);
    /* nothing recorded: zero, not garbage */
    jl_node_stats z;
    memset(&z, 0, sizeof z);
    ck_assert_double_eq(jl_stats_quantile(&z, 0.5), 0);
}
END_TEST

START_TEST(test_progress_format)
{
    char buf[160];
    jl_progress_format(buf, sizeof buf, 3, 8, 120500000, 241000000, 2.0);
    ck_assert_str_eq(buf, "3/8 files  120.5 MB  60.2 MB/s  ETA 0:02");
    jl_progress_format(buf, sizeof buf, 0, 1, 0, 0, 0.1);
    ck_assert_str_eq(buf, "0/1 files  0.0 MB  0.0 MB/s");
}
END_TEST

/* A report of `n` inputs named name0.wav ..., the first `failed` of them
 * failed, with one node whose counters are `k`. */
static joule_report *made(size_t n, size_t failed, uint64_t k, const char *first)
{
    joule_report *r = jl_calloc(1, sizeof *r);
    r->n_nodes = 1;
    r->nodes = jl_calloc(1, sizeof *r->nodes);
    r->nodes[0].name = jl_strdup("rms");
    r->nodes[0].plugin = jl_strdup("energy");
    r->nodes[0].rows_in = k;
    r->nodes[0].ran = k;
    jl_stats_latency(&r->nodes[0], 1e-3 * (double)k);
    r->cache.hits = k;
    r->files_done = n - failed;
    r->files_failed = failed;
    r->threads = 2;
    r->wall = (double)k;
    r->n_inputs = n;
    r->inputs = jl_calloc(n, sizeof *r->inputs);
    for (size_t i = 0; i < n; i++) {
        r->inputs[i].file = i == 0 && first ? jl_strdup(first) : jl_printf("name%zu.wav", i);
        r->inputs[i].state = i < failed ? JL_SLOT_FAILED : JL_SLOT_OK;
        r->inputs[i].error = i < failed ? jl_strdup("it broke") : NULL;
        r->inputs[i].wall = 0.5;
        r->inputs[i].duration = i < failed ? -1 : 3.0;
    }
    return r;
}

START_TEST(test_pack)
{
    joule_report *r = made(3, 1, 7, NULL);
    size_t len = 0, len2 = 0;
    unsigned char *b = joule_report_pack(r, &len);
    joule_report *u = joule_report_unpack(b, len);
    ck_assert_ptr_nonnull(u);
    unsigned char *b2 = joule_report_pack(u, &len2);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(b, b2, len), 0); /* a round trip changes nothing */
    ck_assert_str_eq(u->inputs[0].error, "it broke");
    ck_assert_ptr_null(u->inputs[1].error);
    ck_assert_str_eq(u->nodes[0].plugin, "energy");
    /* every shorter length, a longer one, another first word: refused */
    for (size_t n = 0; n < len; n++)
        ck_assert_ptr_null(joule_report_unpack(b, n));
    unsigned char *longer = jl_malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0;
    ck_assert_ptr_null(joule_report_unpack(longer, len + 1));
    longer[0] ^= 1;
    ck_assert_ptr_null(joule_report_unpack(longer, len));
    free(longer);
    free(b);
    free(b2);
    joule_report_free(u);
    joule_report_free(r);
}
END_TEST

START_TEST(test_merge)
{
    /* two ranks' reports of 3 and 2 inputs: counters summed, inputs with
     * where they ran, then in the order of the command line */
    joule_report *a = made(3, 1, 7, "z.wav"), *b = made(2, 0, 5, "a.wav");
    joule_report *m = joule_report_merge(NULL, a, "host rank 0");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_eq(joule_report_merge(m, b, "host rank 1"), m);
    ck_assert_uint_eq(m->nodes[0].rows_in, 12);
    ck_assert_uint_eq(m->nodes[0].ran, 12);
    ck_assert_uint_eq(m->cache.hits, 12);
    ck_assert_uint_eq(m->files_done, 2 + 2);
    ck_assert_uint_eq(m->files_failed, 1);
    ck_assert_uint_eq(m->n_inputs, 5);
    const char *files[] = {"a.wav", "name1.wav", "z.wav", "name1.wav", "name2.wav"};
    joule_report_finish_merge(m, files, 5, 9.5, 2, 4);
    const char *f = NULL;
    ck_assert_int_eq(joule_report_input(m, 0, &f), 1);
    ck_assert_str_eq(f, "a.wav");
    ck_assert_str_eq(m->inputs[0].where, "host rank 1");
    ck_assert_int_eq(joule_report_input(m, 2, &f), 0); /* z.wav failed */
    ck_assert_str_eq(f, "z.wav");
    ck_assert_str_eq(m->inputs[2].where, "host rank 0");
    ck_assert_int_eq(joule_report_input(m, 5, &f), -1);
    ck_assert_double_eq(m->wall, 9.5);
    ck_assert_int_eq(m->processes, 2);
    /* a report of another graph (two nodes) does not merge */
    joule_report *c = made(1, 0, 1, NULL);
    c->n_nodes = 2;
    c->nodes = realloc(c->nodes, 2 * sizeof *c->nodes);
    memset(&c->nodes[1], 0, sizeof c->nodes[1]);
    ck_assert_ptr_null(joule_report_merge(m, c, "x"));
    joule_report_free(a);
    joule_report_free(b);
    joule_report_free(c);
    joule_report_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_quantiles);
    tcase_add_test(tc, test_progress_format);
    tcase_add_test(tc, test_pack);
    tcase_add_test(tc, test_merge);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
