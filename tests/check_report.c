/* check_report.c — run statistics: latency percentiles from the geometric
 * histogram, merging, and the progress line's format. */
#include "progress.h"
#include "report.h"

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

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_quantiles);
    tcase_add_test(tc, test_progress_format);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
