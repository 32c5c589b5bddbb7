/* check_tables.c — one table for a run: a sink path that names no part of
 * the input gathers every input's rows into one file, with a leading
 * `file` column, inputs in command-line order, failed inputs left out and
 * listed in the report, written only when the run ends. Inputs are sensor
 * CSVs whose values the expected tables spell out. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Inputs are named relative to the test's folder, as a user types them. */
static void enter(void)
{
    ck_assert_int_eq(chdir(tu_tmpdir()), 0);
}

static void write_inputs(void)
{
    enter();
    tu_write_file(tu_path("a.csv"), "t,x\n0,1\n1,2\n");
    tu_write_file(tu_path("b.csv"), "t,x\n0,3\n1,4\n2,5\n");
    tu_write_file(tu_path("c,\"q\".csv"), "t,x\n0,6\n1,7\n");
}

static const char *graph(const char *sink, const char *path, const char *extra)
{
    static char g[512];
    snprintf(g, sizeof g, "[in]\nplugin = sensor\n[out]\nplugin = %s\ninput = in\npath = %s\n%s", sink, path,
             extra ? extra : "");
    tu_write_file(tu_path("g.ini"), g);
    return tu_path("g.ini");
}

/* Rows in command-line order, each input named as given (a name with a
 * comma and quotes quoted as RFC 4180 says), one header. */
START_TEST(test_order_and_labels)
{
    write_inputs();
    for (int isolate = 0; isolate < 2; isolate++) {
        int rc = tu_joule("run '%s' b.csv 'c,\"q\".csv' a.csv -o out %s", graph("csv", "all.csv", NULL),
                          isolate ? "" : "--no-isolate");
        ck_assert_msg(rc == 0, "%s", tu_stderr());
        char *t = tu_read_file(tu_path("out/all.csv"));
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t, "file,time,x\n"
                            "b.csv,0,3\nb.csv,1,4\nb.csv,2,5\n"
                            "\"c,\"\"q\"\".csv\",0,6\n\"c,\"\"q\"\".csv\",1,7\n"
                            "a.csv,0,1\na.csv,1,2\n");
        free(t);
        ck_assert_int_eq(tu_count_tmps(tu_path("out")), 0);
    }
    /* one input: the same shape, a table of one */
    ck_assert_int_eq(tu_joule("run '%s' a.csv -o out1", graph("csv", "{node}.csv", "separator = tab\n")), 0);
    char *t = tu_read_file(tu_path("out1/out.csv"));
    ck_assert_str_eq(t, "file\ttime\tx\na.csv\t0\t1\na.csv\t1\t2\n");
    free(t);
}
END_TEST

/* Inputs with different columns share one header: the union, first met
 * first; what an input lacks is empty. */
START_TEST(test_union_of_columns)
{
    enter();
    tu_write_file(tu_path("m.csv"), "t,x\n0,1\n1,1\n");
    tu_write_file(tu_path("s.csv"), "t,x,y\n0,2,3\n1,2,3\n");
    tu_write_file(tu_path("z.csv"), "t,z\n0,4\n1,4\n");
    ck_assert_int_eq(tu_joule("run '%s' m.csv s.csv z.csv -o out", graph("csv", "t.csv", NULL)), 0);
    char *t = tu_read_file(tu_path("out/t.csv"));
    ck_assert_str_eq(t, "file,time,x,y,z\nm.csv,0,1,,\nm.csv,1,1,,\ns.csv,0,2,3,\ns.csv,1,2,3,\nz.csv,0,,,4\nz.csv,1,,,4\n");
    free(t);
    /* without a header there is nothing to match: rows as they are */
    ck_assert_int_eq(tu_joule("run '%s' m.csv s.csv -o out2", graph("csv", "t.csv", "header = false\n")), 0);
    t = tu_read_file(tu_path("out2/t.csv"));
    ck_assert_str_eq(t, "m.csv,0,1\nm.csv,1,1\ns.csv,0,2,3\ns.csv,1,2,3\n");
    free(t);
}
END_TEST

/* A failed input is left out of the table and listed, with its message,
 * in the report; the exit status says an input failed. */
START_TEST(test_failed_input)
{
    write_inputs();
    tu_write_file(tu_path("bad.csv"), "t,x\n0,1\n1,2,3\n"); /* a ragged row */
    for (int isolate = 0; isolate < 2; isolate++) {
        int rc = tu_joule("run '%s' a.csv bad.csv b.csv -o out --report rep.json %s",
                          graph("csv", "all.csv", NULL), isolate ? "" : "--no-isolate");
        ck_assert_int_eq(rc, 1); /* an input failed */
        char *t = tu_read_file(tu_path("out/all.csv"));
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t, "file,time,x\na.csv,0,1\na.csv,1,2\nb.csv,0,3\nb.csv,1,4\nb.csv,2,5\n");
        free(t);
        char *r = tu_read_file(tu_path("rep.json"));
        ck_assert_ptr_nonnull(r);
        ck_assert_ptr_nonnull(strstr(r, "{\"file\": \"a.csv\", \"status\": \"ok\""));
        char *bad = strstr(r, "{\"file\": \"bad.csv\", \"status\": \"failed\"");
        ck_assert_msg(bad && strstr(bad, "\"error\": \"bad.csv: node 'in'"), "%s", r);
        ck_assert_ptr_nonnull(strstr(r, "{\"file\": \"b.csv\", \"status\": \"ok\""));
        free(r);
        ck_assert_int_eq(tu_count_tmps(tu_path("out")), 0);
    }
}
END_TEST

/* No input succeeded: an older table stays as it was, and no part
 * remains. */
START_TEST(test_all_failed_keeps_table)
{
    enter();
    tu_write_file(tu_path("bad1.csv"), "t,x\n0,1\n1,1,2\n");
    tu_write_file(tu_path("bad2.csv"), "nothing here\n");
    ck_assert_int_eq(mkdir(tu_path("out"), 0755), 0);
    tu_write_file(tu_path("out/all.csv"), "an older table\n");
    ck_assert_int_eq(tu_joule("run '%s' bad1.csv bad2.csv -o out", graph("csv", "all.csv", NULL)), 1);
    char *t = tu_read_file(tu_path("out/all.csv"));
    ck_assert_str_eq(t, "an older table\n");
    free(t);
    ck_assert_int_eq(tu_count_tmps(tu_path("out")), 0);
}
END_TEST

/* A worker that crashes on one input: the inputs it finished before keep
 * their rows, the crashed one is left out. */
START_TEST(test_crash_keeps_finished_parts)
{
    write_inputs();
    char g[512];
    snprintf(g, sizeof g,
             "[graph]\nthreads = 1\n[in]\nplugin = sensor\n[bad]\nplugin = t_bad\ninput = in\nfault = segv\n"
             "on = b.csv\n[out]\nplugin = csv\ninput = bad\npath = all.csv\n");
    tu_write_file(tu_path("g.ini"), g);
    int rc = tu_joule("run -P '%s' '%s' a.csv b.csv 'c,\"q\".csv' -o out", getenv("TEST_PLUGINS"), tu_path("g.ini"));
    ck_assert_int_eq(rc, 1); /* an input failed */
    ck_assert_ptr_nonnull(strstr(tu_stderr(), "b.csv: node 'bad'"));
    char *t = tu_read_file(tu_path("out/all.csv"));
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t, "file,time,x\na.csv,0,1\na.csv,1,2\n\"c,\"\"q\"\".csv\",0,6\n\"c,\"\"q\"\".csv\",1,7\n");
    free(t);
    ck_assert_int_eq(tu_count_tmps(tu_path("out")), 0);
}
END_TEST

START_TEST(test_jsonl)
{
    write_inputs();
    ck_assert_int_eq(tu_joule("run '%s' a.csv 'c,\"q\".csv' -o out", graph("jsonl", "all.jsonl", NULL)), 0);
    char *t = tu_read_file(tu_path("out/all.jsonl"));
    ck_assert_str_eq(t, "{\"file\":\"a.csv\",\"time\":0,\"x\":1}\n{\"file\":\"a.csv\",\"time\":1,\"x\":2}\n"
                        "{\"file\":\"c,\\\"q\\\".csv\",\"time\":0,\"x\":6}\n"
                        "{\"file\":\"c,\\\"q\\\".csv\",\"time\":1,\"x\":7}\n");
    free(t);
}
END_TEST

/* What cannot be: two tables in one file, a table over an input, a sink
 * that cannot gather given one path for several inputs. */
START_TEST(test_refused)
{
    write_inputs();
    tu_write_file(tu_path("g2.ini"), "[in]\nplugin = sensor\n[o1]\nplugin = csv\ninput = in\npath = t.csv\n"
                                     "[o2]\nplugin = jsonl\ninput = in\npath = t.csv\n");
    ck_assert_int_eq(tu_joule("run '%s' a.csv b.csv -o out", tu_path("g2.ini")), 2);
    ck_assert_msg(strstr(tu_stderr(), "would be written twice: nodes 'o1' and 'o2' both gather"), "%s",
                  tu_stderr());
    ck_assert_int_eq(tu_joule("run '%s' a.csv b.csv -o .", graph("csv", "a.csv", NULL)), 2);
    ck_assert_msg(strstr(tu_stderr(), "would write its output over this input (its table"), "%s", tu_stderr());
    tu_write_file(tu_path("g3.ini"), "[in]\nplugin = sensor\n[o]\nplugin = sndfile_sink\ninput = in\npath = x.wav\n");
    ck_assert_int_eq(tu_joule("run '%s' a.csv b.csv -o out", tu_path("g3.ini")), 2);
    ck_assert_msg(strstr(tu_stderr(), "cannot gather"), "%s", tu_stderr());
    ck_assert_int_eq(tu_exists(tu_path("out/t.csv")), 0);
    /* standard output is one stream per run: a single input's, as ever */
    ck_assert_int_eq(tu_joule("run '%s' a.csv b.csv", graph("csv", "-", NULL)), 2);
    ck_assert_msg(strstr(tu_stderr(), "or a file name without it (one table for every input)"), "%s", tu_stderr());
}
END_TEST

/* precision and decimals: fewer significant digits, or places after the
 * point with what rounds to zero written 0. */
START_TEST(test_precision)
{
    enter();
    tu_write_file(tu_path("p.csv"), "t,x\n0,-23.456789\n1,3.2e-13\n2,1234567\n3,-0.0004\n4,-0\n");
    ck_assert_int_eq(tu_joule("run '%s' p.csv -o o1", graph("csv", "{stem}.out.csv", "precision = 3\n")), 0);
    char *t = tu_read_file(tu_path("o1/p.out.csv"));
    ck_assert_str_eq(t, "time,x\n0,-23.5\n1,3.2e-13\n2,1.23e+06\n3,-0.0004\n4,-0\n");
    free(t);
    ck_assert_int_eq(tu_joule("run '%s' p.csv -o o2", graph("csv", "{stem}.out.csv", "decimals = 3\n")), 0);
    t = tu_read_file(tu_path("o2/p.out.csv"));
    ck_assert_str_eq(t, "time,x\n0,-23.457\n1,0\n2,1234567\n3,0\n4,0\n");
    free(t);
    ck_assert_int_eq(tu_joule("run '%s' p.csv -o o3", graph("csv", "{stem}.out.csv", "precision = 0\n")), 2);
    /* columns: chosen and ordered; a name the stream lacks is an error
     * that names what it has */
    tu_write_file(tu_path("q.csv"), "t,x,y\n0,1,2\n1,3,4\n");
    ck_assert_int_eq(tu_joule("run '%s' q.csv -o o4",
                              graph("csv", "{stem}.out.csv", "columns = y, x\ntime = false\n")), 0);
    t = tu_read_file(tu_path("o4/q.out.csv"));
    ck_assert_str_eq(t, "y,x\n2,1\n4,3\n");
    free(t);
    ck_assert_int_eq(tu_joule("run '%s' q.csv -o o5", graph("csv", "{stem}.out.csv", "columns = x, z\n")), 1);
    ck_assert_msg(strstr(tu_stderr(), "no column 'z' (it has: x, y)"), "%s", tu_stderr());
    ck_assert_int_eq(tu_exists(tu_path("o5/q.out.csv")), 0);
    ck_assert_int_eq(tu_joule("run '%s' q.csv -o o6", graph("csv", "{stem}.out.csv", "columns = y, x, y\n")), 1);
    ck_assert_msg(strstr(tu_stderr(), "'y' is named twice"), "%s", tu_stderr());
}
END_TEST

/* More inputs than the process has descriptors: parts are read one at
 * a time. */
START_TEST(test_many_inputs)
{
    enter();
    char list[8192] = "";
    size_t used = 0;
    for (int i = 0; i < 150; i++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "m%03d.csv", i);
        snprintf(text, sizeof text, "t,x\n0,%d\n1,%d\n", i, -i);
        tu_write_file(tu_path(name), text);
        used += (size_t)snprintf(list + used, sizeof list - used, " %s", name);
    }
    graph("csv", "all.csv", NULL);
    graph("jsonl", "all.jsonl", NULL);
    tu_write_file(tu_path("g2.ini"), "[in]\nplugin = sensor\n[c]\nplugin = csv\ninput = in\npath = all.csv\n"
                                     "[j]\nplugin = jsonl\ninput = in\npath = all.jsonl\n");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "ulimit -n 64 && %s run '%s' %s -o out -j 1 2>err.txt", getenv("JOULE"),
             tu_path("g2.ini"), list);
    int st = system(cmd);
    char *err = tu_read_file(tu_path("err.txt"));
    ck_assert_msg(st == 0, "%s", err);
    free(err);
    char *t = tu_read_file(tu_path("out/all.csv"));
    size_t lines = 0;
    for (const char *p = t; *p; p++)
        lines += *p == '\n';
    ck_assert_uint_eq(lines, 1 + 2 * 150);
    ck_assert_ptr_nonnull(strstr(t, "\nm149.csv,1,-149\n"));
    free(t);
    t = tu_read_file(tu_path("out/all.jsonl"));
    ck_assert_ptr_nonnull(strstr(t, "{\"file\":\"m149.csv\",\"time\":1,\"x\":-149}\n"));
    free(t);
}
END_TEST

/* Names that would collide: a column called like the time column is kept
 * as a column of its own; a column called "file" leaves the input's
 * column another name; a file name that is not UTF-8 stays valid JSON. */
START_TEST(test_names)
{
    enter();
    tu_write_file(tu_path("tt.csv"), "t,time\n0,5\n1,6\n");
    ck_assert_int_eq(tu_joule("run '%s' tt.csv tt.csv -o o1 --set in.time=t", graph("csv", "all.csv", NULL)), 0);
    char *t = tu_read_file(tu_path("o1/all.csv"));
    ck_assert_str_eq(t, "file,time,time\ntt.csv,0,5\ntt.csv,1,6\ntt.csv,0,5\ntt.csv,1,6\n");
    free(t);
    tu_write_file(tu_path("ff.csv"), "t,file\n0,1\n1,2\n");
    ck_assert_int_eq(tu_joule("run '%s' ff.csv -o o2", graph("csv", "all.csv", NULL)), 0);
    t = tu_read_file(tu_path("o2/all.csv"));
    ck_assert_str_eq(t, "input,time,file\nff.csv,0,1\nff.csv,1,2\n");
    free(t);
    ck_assert_int_eq(tu_joule("run '%s' ff.csv -o o3", graph("jsonl", "all.jsonl", NULL)), 0);
    t = tu_read_file(tu_path("o3/all.jsonl"));
    ck_assert_str_eq(t, "{\"input\":\"ff.csv\",\"time\":0,\"file\":1}\n{\"input\":\"ff.csv\",\"time\":1,\"file\":2}\n");
    free(t);
    tu_write_file(tu_path("n\xff\xc3\xa9.csv"), "t,x\n0,1\n1,2\n");
    ck_assert_int_eq(tu_joule("run '%s' 'n\xff\xc3\xa9.csv' -o o4 --report rep.json", graph("jsonl", "all.jsonl", NULL)),
                     0);
    t = tu_read_file(tu_path("o4/all.jsonl"));
    ck_assert_str_eq(t, "{\"file\":\"n\\ufffd\xc3\xa9.csv\",\"time\":0,\"x\":1}\n"
                        "{\"file\":\"n\\ufffd\xc3\xa9.csv\",\"time\":1,\"x\":2}\n");
    free(t);
    t = tu_read_file(tu_path("rep.json"));
    ck_assert_ptr_nonnull(strstr(t, "{\"file\": \"n\\ufffd\xc3\xa9.csv\", \"status\": \"ok\""));
    free(t);
}
END_TEST

/* The same table for every chunk size and thread count, and from the
 * stage cache. */
START_TEST(test_invariance)
{
    write_inputs();
    const char *outs[] = {"all.csv"};
    char *why = tu_invariance(graph("csv", "all.csv", NULL), "a.csv b.csv 'c,\"q\".csv'", outs, 1);
    ck_assert_msg(!why, "%s", why);
}
END_TEST

static Suite *tables_suite(void)
{
    Suite *s = suite_create("tables");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_order_and_labels);
    tcase_add_test(tc, test_union_of_columns);
    tcase_add_test(tc, test_failed_input);
    tcase_add_test(tc, test_all_failed_keeps_table);
    tcase_add_test(tc, test_crash_keeps_finished_parts);
    tcase_add_test(tc, test_jsonl);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_precision);
    tcase_add_test(tc, test_many_inputs);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tables_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
