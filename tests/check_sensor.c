/* check_sensor.c — the sensor CSV source: dialects (header or not, ',' ';'
 * tab, BOM, CRLF, comments, quotes, decimal comma), time columns in s, ms,
 * us, ns, the rate inferred from timestamps, resampling of irregular
 * sampling (linear, hold, none), column selection, missing values, every
 * parse error with its file:line:column (exit 1, no output file left),
 * files larger than the read buffer, and chunk invariance. */
#include "gen_gait.h"
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run a sensor → csv graph with the given sensor parameters on `text`
 * (written as `name`). Returns joule's exit status; on success the output
 * is read into *out. */
static const char *outdir = "out";

static int run(const char *name, const char *text, const char *sensor_params, tu_csv *out)
{
    const char *in = tu_path(name);
    tu_write_file(in, text);
    char g[4096];
    snprintf(g, sizeof g, "[in]\nplugin = sensor\n%s\n\n[out]\nplugin = csv\ninput = in\npath = {stem}.out.csv\n",
             sensor_params);
    const char *gp = tu_path("sensor.ini");
    tu_write_file(gp, g);
    char od[512];
    snprintf(od, sizeof od, "%s", tu_path(outdir));
    int rc = tu_joule("run '%s' '%s' -o '%s'", gp, in, od);
    if (out) {
        memset(out, 0, sizeof *out);
        if (rc == 0) {
            char stem[256], p[1024];
            snprintf(stem, sizeof stem, "%s", name);
            char *dot = strrchr(stem, '.');
            if (dot)
                *dot = '\0';
            snprintf(p, sizeof p, "%s/%s.out.csv", od, stem);
            ck_assert_int_eq(tu_csv_read(p, out), 0);
        }
    }
    return rc;
}

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    ck_assert_uint_lt(row, c->rows);
    return c->v[row * c->cols + (size_t)k];
}

/* Nothing but the inputs in the output folder: no output, no temporary. */
static void assert_no_output(void)
{
    DIR *d = opendir(tu_path("errout"));
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(e->d_name[0] == '.' || !strstr(e->d_name, ".out.csv"), "left behind: %s", e->d_name);
    closedir(d);
}

static void expect_error(const char *name, const char *text, const char *params, const char *msg)
{
    outdir = "errout";
    int rc = run(name, text, params, NULL);
    outdir = "out";
    ck_assert_msg(rc == 1, "exit %d, expected 1 (stderr: %s)", rc, tu_stderr());
    ck_assert_msg(strstr(tu_stderr(), msg) != NULL, "expected '%s' in: %s", msg, tu_stderr());
    /* one line */
    const char *s = tu_stderr();
    const char *nl = strchr(s, '\n');
    ck_assert_msg(nl && !strchr(nl + 1, '\n'), "more than one line: %s", s);
    assert_no_output();
}

START_TEST(plain_header)
{
    tu_csv c;
    ck_assert_int_eq(run("plain.csv", "t,ax,ay\n0,1.5,-2\n0.01,2.5,-3\n0.02,3.5,-4e-1\n0.03,1e3,0\n", "", &c), 0);
    ck_assert_uint_eq(c.rows, 4);
    ck_assert_uint_eq(c.cols, 3);
    ck_assert_int_eq(tu_csv_col(&c, "ax"), 1);
    ck_assert_int_eq(tu_csv_col(&c, "ay"), 2);
    ck_assert_double_eq(at(&c, 0, "ax"), 1.5);
    ck_assert_double_eq_tol(at(&c, 2, "ay"), -0.4, 1e-7);
    ck_assert_double_eq(at(&c, 3, "ax"), 1000);
    ck_assert_double_eq_tol(at(&c, 3, "time"), 0.03, 1e-9);
    tu_csv_free(&c);
}
END_TEST

/* The same data in other dialects reads the same. */
START_TEST(dialects)
{
    static const char *const texts[] = {
        "t,ax,ay\n0,1.5,-2\n0.01,2.5,-3\n0.02,3.5,-4\n",
        "\xEF\xBB\xBFt,ax,ay\r\n0,1.5,-2\r\n0.01,2.5,-3\r\n0.02,3.5,-4\r\n",
        "# recorded by hand\nt\tax\tay\n\n0\t1.5\t-2\n  # a comment\n0.01\t2.5\t-3\n0.02\t3.5\t-4\n",
        "t;ax;ay\n0;1,5;-2\n0,01;2,5;-3\n0,02;3,5;-4\n",
        "\"t\",\"ax\",\"ay\"\n\"0\",\"1.5\",-2\n0.01, 2.5 ,\"-3\"\n0.02,3.5,-4\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tu_csv c;
        ck_assert_msg(run("dialect.csv", texts[i], "", &c) == 0, "dialect %zu: %s", i, tu_stderr());
        ck_assert_uint_eq(c.rows, 3);
        ck_assert_double_eq(at(&c, 0, "ax"), 1.5);
        ck_assert_double_eq(at(&c, 1, "ay"), -3);
        ck_assert_double_eq(at(&c, 2, "ax"), 3.5);
        ck_assert_double_eq_tol(at(&c, 2, "time"), 0.02, 1e-9);
        tu_csv_free(&c);
    }
}
END_TEST

/* No header: names from columns =, or col1..; the time by number; the
 * Oxford layout (ns since boot, a status column). */
START_TEST(no_header)
{
    tu_csv c;
    const char *text = "263239144953734,2,1.25,5.5,10.0\n263239149953734,2,1.5,5.0,9.5\n"
                       "263239154953734,2,1.75,4.5,9.0\n";
    ck_assert_int_eq(run("nh.csv", text,
                         "header = false\ncolumns = t, status, ax, ay, az\ntime = t\ntime_unit = ns\nselect = ax, ay, az",
                         &c),
                     0);
    ck_assert_uint_eq(c.rows, 3);
    ck_assert_uint_eq(c.cols, 4);
    ck_assert_double_eq(at(&c, 2, "ax"), 1.75);
    ck_assert_double_eq(at(&c, 1, "az"), 9.5);
    ck_assert_double_eq_tol(at(&c, 1, "time"), 0.005, 1e-9); /* 200 Hz inferred */
    tu_csv_free(&c);
    ck_assert_int_eq(run("nh2.csv", "0,7,8\n1,9,10\n2,11,12\n", "header = false\ntime = 1", &c), 0);
    ck_assert_int_ge(tu_csv_col(&c, "col2"), 0);
    ck_assert_double_eq(at(&c, 2, "col3"), 12);
    ck_assert_double_eq_tol(at(&c, 2, "time"), 2, 1e-9);
    tu_csv_free(&c);
    /* no time column: the rate given */
    ck_assert_int_eq(run("nh3.csv", "7,8\n9,10\n11,12\n", "header = false\ntime = none\nrate = 50", &c), 0);
    ck_assert_double_eq_tol(at(&c, 2, "time"), 0.04, 1e-9);
    ck_assert_double_eq(at(&c, 1, "col1"), 9);
    tu_csv_free(&c);
}
END_TEST

/* Time units: the header's, or time_unit. */
START_TEST(time_units)
{
    tu_csv c;
    ck_assert_int_eq(run("ms.csv", "t [ms],x\n1000,1\n1020,2\n1040,3\n", "", &c), 0);
    ck_assert_double_eq_tol(at(&c, 1, "time"), 0.02, 1e-9);
    tu_csv_free(&c);
    ck_assert_int_eq(run("us.csv", "time_us,x\n0,1\n2000,2\n4000,3\n", "", &c), 0);
    ck_assert_double_eq_tol(at(&c, 2, "time"), 0.004, 1e-9);
    tu_csv_free(&c);
    ck_assert_int_eq(run("ms2.csv", "stamp,x\n0,1\n10,2\n20,3\n", "time = stamp\ntime_unit = ms", &c), 0);
    ck_assert_double_eq_tol(at(&c, 2, "time"), 0.02, 1e-9);
    tu_csv_free(&c);
}
END_TEST

/* Irregular sampling: x = 3 t + 1 sampled at jittered times is resampled
 * linearly onto k / rate exactly (a line interpolates to itself); the rate
 * is the mean interval (there is no gap: at most 13 ms against a median of
 * 10 ms), (n - 1) / T. */
START_TEST(resample_linear)
{
    gg_rng r = {12345};
    size_t n = 2000;
    char *text = malloc(n * 64 + 64), *p = text;
    p += sprintf(p, "t,x\n");
    double t = 0;
    double ts[2000];
    for (size_t i = 0; i < n; i++) {
        ts[i] = t;
        p += sprintf(p, "%.6f,%.9g\n", t, 3 * t + 1);
        /* intervals of 10 ms, a third of them 7 or 13 ms: median 10 ms */
        double u = gg_uniform(&r);
        t += u < 0.17 ? 0.007 : u < 0.34 ? 0.013 : 0.010;
    }
    tu_csv c;
    ck_assert_int_eq(run("irr.csv", text, "", &c), 0);
    ck_assert(strstr(tu_stderr(), "irregular sampling") != NULL);
    double T = ts[n - 1], rate = (n - 1) / T;
    ck_assert_uint_eq(c.rows, (size_t)floor(T * rate + 1e-6) + 1);
    for (size_t k = 0; k < c.rows; k++) {
        double tk = k / rate;
        ck_assert_double_eq_tol(at(&c, k, "time"), tk, 1e-9);
        ck_assert_double_eq_tol(at(&c, k, "x"), 3 * tk + 1, 2e-5 * (3 * tk + 1));
    }
    tu_csv_free(&c);
    /* hold: the last sample at or before k / rate */
    ck_assert_int_eq(run("irr.csv", text, "resample = hold", &c), 0);
    size_t j = 0;
    for (size_t k = 0; k < c.rows; k++) {
        double tk = k / rate;
        while (j + 1 < n && ts[j + 1] <= tk + 1e-12)
            j++;
        double got = at(&c, k, "x");
        /* a grid point on a sample time may take either side */
        int ok = fabs(got - (3 * ts[j] + 1)) <= 1e-5 * (3 * ts[j] + 1) ||
                 (j > 0 && fabs(ts[j] - tk) < 1e-9 && fabs(got - (3 * ts[j - 1] + 1)) <= 1e-5 * (3 * ts[j] + 1));
        ck_assert_msg(ok, "row %zu: %g, expected %g", k, got, 3 * ts[j] + 1);
    }
    tu_csv_free(&c);
    /* none: the rows as they are */
    ck_assert_int_eq(run("irr.csv", text, "resample = none", &c), 0);
    ck_assert_uint_eq(c.rows, n);
    ck_assert_double_eq_tol(at(&c, 77, "x"), 3 * ts[77] + 1, 1e-5 * (3 * ts[77] + 1));
    tu_csv_free(&c);
    free(text);
}
END_TEST

/* A gap is reported as a warning and bridged. */
START_TEST(gap_warning)
{
    char text[4096], *p = text;
    p += sprintf(p, "t,x\n");
    for (int i = 0; i < 50; i++)
        p += sprintf(p, "%.2f,%d\n", i < 30 ? i * 0.01 : 0.2 + i * 0.01, i);
    tu_csv c;
    ck_assert_int_eq(run("gap.csv", text, "", &c), 0);
    ck_assert_msg(strstr(tu_stderr(), "line 32: gap of 0.21 s") != NULL, "%s", tu_stderr());
    ck_assert_uint_eq(c.rows, 70);
    tu_csv_free(&c);
}
END_TEST

START_TEST(selection_units)
{
    tu_csv c;
    ck_assert_int_eq(run("sel.csv", "t,a,b,c\n0,1,2,3\n0.1,4,5,6\n", "select = c, 2\nunits = g", &c), 0);
    ck_assert_uint_eq(c.cols, 3);
    ck_assert_int_eq(tu_csv_col(&c, "c"), 1);
    ck_assert_int_eq(tu_csv_col(&c, "a"), 2);
    ck_assert_double_eq(at(&c, 1, "c"), 6);
    tu_csv_free(&c);
    expect_error("sel2.csv", "t,a,b\n0,1,2\n0.1,3,4\n", "select = a, zz", "select: no column 'zz' (the columns are: t, a, b)");
}
END_TEST

START_TEST(missing_values)
{
    const char *text = "t,x,y\n0,0,10\n1,,11\n2,NaN,12\n3,6,NA\n4,8,14\n";
    tu_csv c;
    ck_assert_int_eq(run("miss.csv", text, "missing = interpolate", &c), 0);
    ck_assert_double_eq_tol(at(&c, 1, "x"), 2, 1e-6);
    ck_assert_double_eq_tol(at(&c, 2, "x"), 4, 1e-6);
    ck_assert_double_eq_tol(at(&c, 3, "y"), 13, 1e-6);
    tu_csv_free(&c);
    ck_assert_int_eq(run("miss.csv", text, "missing = hold", &c), 0);
    ck_assert_double_eq(at(&c, 1, "x"), 0);
    ck_assert_double_eq(at(&c, 2, "x"), 0);
    ck_assert_double_eq(at(&c, 3, "y"), 12);
    tu_csv_free(&c);
    /* leading and trailing runs */
    ck_assert_int_eq(run("miss2.csv", "t,x\n0,\n1,5\n2,7\n3,\n", "missing = interpolate", &c), 0);
    ck_assert_double_eq(at(&c, 0, "x"), 5);
    ck_assert_double_eq(at(&c, 3, "x"), 7);
    tu_csv_free(&c);
    expect_error("miss3.csv", text, "", "miss3.csv:3:2: missing value in column 'x'");
    expect_error("miss4.csv", "t,x\n0,1\n1,nan\n", "", "miss4.csv:3:2: 'nan' (a missing value) in column 'x'");
    expect_error("miss5.csv", "t,x\n0,\n1,\n", "missing = hold", "column 'x' has no values");
}
END_TEST

START_TEST(parse_errors)
{
    char text[8192], *p = text;
    p += sprintf(p, "t,status,ax,ay,az\n");
    for (int i = 0; i < 60; i++)
        p += sprintf(p, "%d,3,1,2,3\n", i);
    char *row40 = strstr(text, "\n38,3,1,2,3\n") + 1; /* line 40 */
    memcpy(row40, "38,3,1\n\n\n\n", 10);
    expect_error("walk.csv", text, "", "walk.csv:40: 3 fields, expected 5");
    expect_error("walk.csv", "t,status,ax\n0,1,2\n1,1,2\n2,1,abc\n", "", "walk.csv:4:3: text 'abc' in numeric column 'ax'");
    expect_error("walk.csv", "t,x\n0,1\n1,2.5.1\n", "", "walk.csv:3:2: malformed number '2.5.1' in column 'x'");
    expect_error("walk.csv", "t,x\n0,1\n1,inf\n", "", "walk.csv:3:2: infinite value 'inf' in column 'x'");
    expect_error("walk.csv", "t,x\n0,1\n1,2\n0.5,3\n", "", "walk.csv:4:1: timestamp 0.5 is earlier than the previous one, 1 (line 3)");
    expect_error("walk.csv", "t,x\n0,1\n1,2\n1,3\n", "", "walk.csv:4:1: timestamp 1 repeats the previous one, 1 (line 3), with different values");
    expect_error("walk.csv", "t,x\n0,1\nzz,2\n", "", "walk.csv:3:1: text 'zz' in time column 't'");
    expect_error("walk.csv", "t,x\n0,1\n1,\"2\n", "", "walk.csv:3:2: unterminated quote");
    expect_error("walk.csv", "t,x\n", "", "walk.csv: no data rows");
    expect_error("walk.csv", "", "", "walk.csv: no data rows");
    expect_error("walk.csv", "a,b\n1,2\n", "", "no time column: set rate");
    /* a truncated file: the last row cut short, or only its line end
     * missing (a value cut from 5.25 to 5.2 must not pass for whole) */
    expect_error("walk.csv", "t,x,y\n0,1,2\n0.01,3,4\n0.02,5", "", "walk.csv:4: unterminated last line");
    expect_error("walk.csv", "t,x,y\n0,1,2\n0.01,3,4\n0.02,5,5.2", "", "walk.csv:4: unterminated last line");
    expect_error("walk.csv", "t,x,y", "", "walk.csv:1: unterminated last line");
    /* a missing file */
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("sensor.ini"), tu_path("nope.csv"), tu_path("out")), 1);
    ck_assert(strstr(tu_stderr(), "nope.csv: cannot open") != NULL);
}
END_TEST

/* Larger than the 1 MiB read buffer: lines cross buffer boundaries. */
START_TEST(large_file)
{
    const char *in = tu_path("large.csv");
    FILE *f = fopen(in, "w");
    ck_assert_ptr_nonnull(f);
    fputs("t,a,b,c\n", f);
    const size_t n = 120000;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.3f,%zu,%.4f,-%zu.25\n", i * 0.005, i, i * 0.5, i % 1000);
    fclose(f);
    const char *gp = tu_path("large.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[out]\nplugin = csv\ninput = in\npath = {stem}.out.csv\n");
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", gp, in, tu_path("out")), 0);
    tu_csv c;
    char p[700];
    snprintf(p, sizeof p, "%s/large.out.csv", tu_path("out"));
    ck_assert_int_eq(tu_csv_read(p, &c), 0);
    ck_assert_uint_eq(c.rows, n);
    for (size_t i = 0; i < n; i += 997) {
        ck_assert_double_eq(at(&c, i, "a"), (double)(float)i);
        ck_assert_double_eq(at(&c, i, "b"), (double)(float)(i * 0.5));
        ck_assert_double_eq(at(&c, i, "c"), (double)(float)-((double)(i % 1000) + 0.25));
    }
    tu_csv_free(&c);
    /* a line longer than the buffer */
    f = fopen(in, "w");
    fputs("t,x\n0,1\n1,", f);
    for (int i = 0; i < (1 << 20) + 10; i++)
        fputc('1', f);
    fputs("\n", f);
    fclose(f);
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", gp, in, tu_path("out")), 1);
    ck_assert_msg(strstr(tu_stderr(), "large.csv:3: line longer than") != NULL, "%s", tu_stderr());
}
END_TEST

/* Jitter that does not accumulate: each timestamp off its point of a 100 Hz
 * grid by up to ±30 % of the interval. The median interval is biased (the
 * intervals are the differences of two jitters); the rate must be 100 Hz
 * within what the jitter of the two ends of the 4096-row probe allows,
 * 100 · 0.6 / 4095 Hz. */
START_TEST(jitter_rate)
{
    const size_t n = 4096;
    gg_rng r = {4242};
    char *text = malloc(n * 48 + 16), *p = text;
    p += sprintf(p, "t,x\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%.6f,%.6f\n", (i + 0.6 * gg_uniform(&r) - 0.3) / 100, 3 * (i / 100.0) + 1);
    tu_csv c;
    ck_assert_int_eq(run("jit.csv", text, "", &c), 0);
    free(text);
    ck_assert_uint_ge(c.rows, n - 2);
    size_t last = c.rows - 1;
    double rate = last / at(&c, last, "time"); /* the grid: row k at k / rate */
    ck_assert_msg(fabs(rate - 100) <= 100 * 0.6 / (n - 1), "rate %.6f Hz, expected 100 Hz ± %.4f", rate,
                  100 * 0.6 / (n - 1));
    tu_csv_free(&c);
}
END_TEST

/* Unix-epoch nanoseconds (19 digits) are exact integers: 100 Hz exactly,
 * every value on its grid point, no row lost. */
START_TEST(epoch_ns)
{
    const size_t n = 1000;
    char *text = malloc(n * 40 + 16), *p = text;
    p += sprintf(p, "time_ns,x\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%lld,%zu\n", 1700000000123456789LL + (long long)i * 10000000LL, i);
    tu_csv c;
    ck_assert_msg(run("epoch.csv", text, "", &c) == 0, "%s", tu_stderr());
    free(text);
    ck_assert_uint_eq(c.rows, n);
    for (size_t k = 0; k < n; k++) {
        ck_assert_double_eq_tol(at(&c, k, "time"), k * 0.01, 1e-9);
        ck_assert_double_eq(at(&c, k, "x"), (double)k);
    }
    tu_csv_free(&c);
}
END_TEST

/* Numbers longer than any fixed buffer keep their value (an exponent at
 * the end of 140 zeros counts). */
START_TEST(long_numbers)
{
    char zeros[141], text[512];
    memset(zeros, '0', 140);
    zeros[140] = '\0';
    snprintf(text, sizeof text, "t,x,y\n0,2.5%se1,0.%s123e143\n1,1,1\n", zeros, zeros);
    tu_csv c;
    ck_assert_msg(run("long.csv", text, "", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.rows, 2);
    ck_assert_double_eq(at(&c, 0, "x"), 25);
    ck_assert_double_eq(at(&c, 0, "y"), 123);
    tu_csv_free(&c);
}
END_TEST

/* Values a float cannot hold are out of range, not infinities. */
START_TEST(float_range)
{
    expect_error("big.csv", "t,x\n0,1\n1,1e39\n2,3\n", "", "big.csv:3:2: value '1e39' out of range in column 'x'");
    expect_error("big.csv", "t,x\n0,1\n1,2\n2,-3.5e38\n", "", "big.csv:4:2: value '-3.5e38' out of range in column 'x'");
    tu_csv c;
    ck_assert_msg(run("max.csv", "t,x\n0,1\n1,3.4e38\n2,-3.4e38\n", "", &c) == 0, "%s", tu_stderr());
    ck_assert_float_eq((float)at(&c, 1, "x"), 3.4e38f);
    ck_assert_float_eq((float)at(&c, 2, "x"), -3.4e38f);
    tu_csv_free(&c);
}
END_TEST

/* An absurd rate (timestamps 1e-15 s apart), and a gap that would take
 * billions of rows, are refused with their place. */
START_TEST(rate_limits)
{
    expect_error("tiny.csv", "t,x\n0,1\n1e-15,2\n2e-15,3\n", "",
                 "tiny.csv:2: the timestamps of the first 3 rows (from this line) imply a rate of 1e+15 Hz");
    char text[2048], *p = text;
    p += sprintf(p, "t,x\n");
    for (int i = 0; i < 30; i++)
        p += sprintf(p, "%.3f,%d\n", i * 0.001, i);
    p += sprintf(p, "2000000,30\n"); /* line 32: 2e6 s at 1000 Hz */
    expect_error("huge.csv", text, "",
                 "huge.csv:32:1: 2e+06 s since the previous row (line 31) would be resampled into 2e+09 rows at 1000 Hz");
}
END_TEST

/* max_missing is the longest run filled, exactly. */
START_TEST(max_missing_exact)
{
    const char *text = "t,x,y\n0,0,0\n1,,1\n2,,2\n3,6,3\n4,,4\n5,,5\n6,,6\n7,14,7\n";
    expect_error("mm.csv", text, "missing = interpolate\nmax_missing = 2",
                 "mm.csv:8:2: column 'x' has more than 2 consecutive missing values (from line 6)");
    tu_csv c;
    ck_assert_msg(run("mm.csv", text, "missing = interpolate\nmax_missing = 3", &c) == 0, "%s", tu_stderr());
    ck_assert_double_eq_tol(at(&c, 2, "x"), 4, 1e-6);
    ck_assert_double_eq_tol(at(&c, 5, "x"), 10, 1e-6);
    tu_csv_free(&c);
}
END_TEST

/* Exactly repeated rows (a logging artifact) are dropped with one warning
 * that counts them; the data is what it would be without them. */
START_TEST(repeated_rows)
{
    tu_csv c;
    ck_assert_msg(run("rep.csv", "t,x,y\n0,1,5\n1,2,6\n1,2,6\n2,3,7\n3,4,8\n3,4,8\n3,4,8\n", "", &c) == 0, "%s",
                  tu_stderr());
    ck_assert_uint_eq(c.rows, 4);
    for (size_t k = 0; k < 4; k++) {
        ck_assert_double_eq_tol(at(&c, k, "time"), (double)k, 1e-9);
        ck_assert_double_eq(at(&c, k, "x"), (double)k + 1);
        ck_assert_double_eq(at(&c, k, "y"), (double)k + 5);
    }
    tu_csv_free(&c);
    const char *w = strstr(tu_stderr(), "dropped 3 exactly repeated rows (first at line 4)");
    ck_assert_msg(w != NULL, "%s", tu_stderr());
    ck_assert_msg(!strstr(w + strlen("dropped 3 exactly repeated"), "exactly repeated"), "one warning only: %s", tu_stderr());
}
END_TEST

/* A timestamp that repeats with other values or goes backwards follows
 * `disorder`: error (default, with the place), drop, or sort within the
 * window. */
START_TEST(disorder)
{
    const char *text = "t,x\n0,0\n1,10\n3,30\n2,20\n4,40\n5,50\n";
    expect_error("dis.csv", text, "", "dis.csv:5:1: timestamp 2 is earlier than the previous one, 3 (line 4)");
    tu_csv c;
    /* drop: the row at t = 2 is gone, the others kept as they are */
    ck_assert_msg(run("dis.csv", text, "disorder = drop\nresample = none", &c) == 0, "%s", tu_stderr());
    ck_assert_msg(strstr(tu_stderr(), "dropped 1 row whose timestamp did not increase (line 5"), "%s", tu_stderr());
    ck_assert_uint_eq(c.rows, 5);
    static const double kept[] = {0, 10, 30, 40, 50};
    for (size_t k = 0; k < 5; k++)
        ck_assert_double_eq(at(&c, k, "x"), kept[k]);
    tu_csv_free(&c);
    /* sort: every row kept, in time order */
    ck_assert_msg(run("dis.csv", text, "disorder = sort\nresample = none", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.rows, 6);
    for (size_t k = 0; k < 6; k++) {
        ck_assert_double_eq_tol(at(&c, k, "time"), (double)k, 1e-9);
        ck_assert_double_eq(at(&c, k, "x"), 10.0 * (double)k);
    }
    tu_csv_free(&c);
    /* a repeated time with other values */
    expect_error("dis.csv", "t,x\n0,0\n1,1\n1,2\n2,3\n", "", "dis.csv:4:1: timestamp 1 repeats the previous one");
    ck_assert_msg(run("dis.csv", "t,x\n0,0\n1,1\n1,2\n2,3\n", "disorder = drop", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.rows, 3);
    ck_assert_double_eq(at(&c, 1, "x"), 1);
    tu_csv_free(&c);
    /* sort, but a row further out of order than the window */
    char big[4096], *p = big;
    p += sprintf(p, "t,x\n");
    for (int i = 1; i <= 20; i++)
        p += sprintf(p, "%d,%d\n", i, i);
    p += sprintf(p, "0,0\n");
    outdir = "errout";
    int rc = run("far.csv", big, "disorder = sort\nsort_window = 8", NULL);
    outdir = "out";
    ck_assert_msg(rc == 1, "exit %d: %s", rc, tu_stderr());
    ck_assert_msg(strstr(tu_stderr(), "far.csv:22"), "%s", tu_stderr());
    assert_no_output();
}
END_TEST

/* 19-digit nanosecond timestamps above INT64_MAX are exact; longer ones
 * are refused, not rounded. */
START_TEST(ns_beyond_int64)
{
    /* Rows 10 ns apart across INT64_MAX (9223372036854775807): a double
     * there is 1024 ns coarse, so rounded timestamps would collide. Exact,
     * they give a 100 MHz grid whose samples are the rows themselves. */
    char text[1024], *p = text;
    p += sprintf(p, "timestamp,x\n");
    for (unsigned long long k = 0; k < 8; k++)
        p += sprintf(p, "%llu,%llu\n", 9223372036854775787ULL + 10 * k, k);
    tu_csv c;
    ck_assert_msg(run("big_ns.csv", text, "time_unit = ns", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.rows, 8);
    for (size_t k = 0; k < 8; k++) {
        ck_assert_double_eq_tol(at(&c, k, "time"), (double)k * 1e-8, 1e-15);
        ck_assert_double_eq_tol(at(&c, k, "x"), (double)k, 1e-6);
    }
    tu_csv_free(&c);
    /* the largest 19-digit values, near 10^19 */
    p = text;
    p += sprintf(p, "timestamp,x\n");
    for (unsigned long long k = 0; k < 4; k++)
        p += sprintf(p, "%llu,%llu\n", 9999999999999999959ULL + 10 * k, k);
    ck_assert_msg(run("big_ns.csv", text, "time_unit = ns", &c) == 0, "%s", tu_stderr());
    ck_assert_uint_eq(c.rows, 4);
    ck_assert_double_eq_tol(at(&c, 3, "x"), 3, 1e-6);
    tu_csv_free(&c);
    expect_error("big_ns.csv", "timestamp,x\n18446744073709551610,1\n18446744073709551611,2\n", "time_unit = ns",
                 "big_ns.csv:2:1: timestamp '18446744073709551610' has more than 19 digits");
}
END_TEST

/* A FIFO (a live stream, standard input) reads as the same text in a
 * regular file does: nothing is rewound. */
START_TEST(fifo_input)
{
    char text[65536], *p = text;
    p += sprintf(p, "t,x\n");
    for (int i = 0; i < 3000; i++)
        p += sprintf(p, "%.2f,%d\n", i * 0.01, i % 97);
    tu_csv want, got;
    ck_assert_msg(run("plain.csv", text, "", &want) == 0, "%s", tu_stderr());
    const char *fifo = tu_path("live.csv");
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(fifo, O_WRONLY);
        size_t len = strlen(text), off = 0;
        while (fd >= 0 && off < len) {
            ssize_t w = write(fd, text + off, len - off > 1000 ? 1000 : len - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    const char *gp = tu_path("sensor.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\n\n[out]\nplugin = csv\ninput = in\npath = {stem}.out.csv\n");
    int rc = tu_joule("run '%s' '%s' -o '%s'", gp, fifo, tu_path("out"));
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(rc == 0, "%s", tu_stderr());
    char out[700];
    snprintf(out, sizeof out, "%s/live.out.csv", tu_path("out"));
    ck_assert_int_eq(tu_csv_read(out, &got), 0);
    ck_assert_uint_eq(got.rows, want.rows);
    ck_assert_uint_eq(got.rows, 3000);
    for (size_t i = 0; i < got.rows * got.cols; i++)
        ck_assert_double_eq(got.v[i], want.v[i]);
    tu_csv_free(&want);
    tu_csv_free(&got);
}
END_TEST

START_TEST(chunk_invariance)
{
    gg_rng r = {777};
    char *text = malloc(400 * 64), *p = text;
    p += sprintf(p, "time_ms;x;y\r\n");
    double t = 0;
    for (int i = 0; i < 400; i++) {
        if (i % 37 == 5)
            p += sprintf(p, "%.1f;;%d\r\n", t, i);
        else
            p += sprintf(p, "%.1f;%.3f;%d\r\n", t, sin(i * 0.1), i);
        t += 8 + 4 * gg_uniform(&r);
    }
    const char *in = tu_path("inv.csv");
    tu_write_file(in, text);
    free(text);
    const char *gp = tu_path("inv.ini");
    tu_write_file(gp, "[in]\nplugin = sensor\nmissing = interpolate\n\n[out]\nplugin = csv\ninput = in\npath = {stem}.out.csv\n");
    const char *why = gg_invariance(gp, in, "inv.out.csv", NULL);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

static Suite *sensor_suite(void)
{
    Suite *s = suite_create("sensor");
    TCase *tc = tcase_create("sensor");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, plain_header);
    tcase_add_test(tc, dialects);
    tcase_add_test(tc, no_header);
    tcase_add_test(tc, time_units);
    tcase_add_test(tc, resample_linear);
    tcase_add_test(tc, gap_warning);
    tcase_add_test(tc, selection_units);
    tcase_add_test(tc, missing_values);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, large_file);
    tcase_add_test(tc, jitter_rate);
    tcase_add_test(tc, epoch_ns);
    tcase_add_test(tc, long_numbers);
    tcase_add_test(tc, float_range);
    tcase_add_test(tc, rate_limits);
    tcase_add_test(tc, max_missing_exact);
    tcase_add_test(tc, repeated_rows);
    tcase_add_test(tc, disorder);
    tcase_add_test(tc, ns_beyond_int64);
    tcase_add_test(tc, fifo_input);
    tcase_add_test(tc, chunk_invariance);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sensor_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
