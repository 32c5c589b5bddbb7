/* check_clip.c — the clip plugin against counts made here, from the
 * signals built here: planted runs of known start, length, polarity and
 * level on several channels (runs shorter than min_run left out, a run
 * open at the end, a silent channel at -inf); the rails of a clipped
 * 16-bit file at the default threshold; NaN ending a run; the threshold
 * itself; random multichannel signals compared with a plain batch count
 * (find each channel's maximal runs, cut them into max_run pieces, sort
 * by start then channel); inter-sample overs of a quarter-rate sine whose
 * samples never clip, and of a flat run at exactly full scale; and the
 * same bytes for every chunk size and thread count. */
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define RATE 8000

#define GRAPH(params)                                                                                              \
    "[in]\nplugin = sndfile\n[cl]\nplugin = clip\ninput = in\n" params "\n"                                      \
    "[e]\nplugin = csv\ninput = cl.events\npath = {stem}.e.csv\n"                                                 \
    "[s]\nplugin = csv\ninput = cl.summary\npath = {stem}.s.csv\n"

/* One expected event. */
typedef struct ev {
    uint64_t start;
    uint32_t len;
    int ch;
    float peak;
    int cont;
} ev;

/* Expected summary of one channel. */
typedef struct sum {
    uint64_t clipped, runs, longest;
    float peak; /* largest |x|, NaN left out */
} sum;

static int cmp_ev(const void *a, const void *b)
{
    const ev *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->ch - y->ch;
}

/* The batch count: every maximal run of |x| >= lin (NaN is not) of at
 * least min_run samples, cut into pieces of max_run, sorted by start then
 * channel. Returns the number of events (*evs malloc'd). */
static size_t count_runs(const float *x, size_t n, int nch, double lin, size_t min_run, size_t max_run, ev **evs,
                         sum *s)
{
    size_t cap = 16, k = 0;
    ev *v = malloc(cap * sizeof *v);
    for (int c = 0; c < nch; c++) {
        memset(&s[c], 0, sizeof s[c]);
        for (size_t i = 0; i < n; i++) {
            double a = fabs((double)x[i * nch + c]);
            if (!isnan(a) && (float)a > s[c].peak)
                s[c].peak = (float)a;
        }
        size_t i = 0;
        while (i < n) {
            if (!(fabs((double)x[i * nch + c]) >= lin)) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < n && fabs((double)x[j * nch + c]) >= lin)
                j++;
            size_t len = j - i;
            if (len >= min_run) {
                s[c].clipped += len;
                s[c].runs++;
                if (len > s[c].longest)
                    s[c].longest = len;
                for (size_t p = i; p < j; p += max_run) {
                    if (k == cap)
                        v = realloc(v, (cap *= 2) * sizeof *v);
                    ev *e = &v[k++];
                    e->start = p;
                    e->len = (uint32_t)(j - p < max_run ? j - p : max_run);
                    e->ch = c;
                    e->cont = p > i;
                    e->peak = 0;
                    for (size_t q = p; q < p + e->len; q++)
                        if (fabsf(x[q * nch + c]) > e->peak)
                            e->peak = fabsf(x[q * nch + c]);
                }
            }
            i = j;
        }
    }
    qsort(v, k, sizeof *v, cmp_ev);
    *evs = v;
    return k;
}

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    return c->v[row * c->cols + (size_t)k];
}

static double atc(const tu_csv *c, const char *feat, int ch)
{
    char name[64];
    snprintf(name, sizeof name, "%s_ch%d", feat, ch);
    return at(c, 0, name);
}

static double db(float peak)
{
    return peak > 0 ? (double)(float)(20.0 * log10((double)peak)) : -INFINITY;
}

/* The plugin's output (e: events, s: summary) against the batch count. */
static void expect(const tu_csv *e, const tu_csv *s, const ev *want, size_t n_want, const sum *ws, int nch)
{
    ck_assert_uint_eq(e->rows, n_want);
    for (size_t r = 0; r < n_want; r++) {
        const ev *w = &want[r];
        ck_assert_msg(fabs(at(e, r, "time") - (double)w->start / RATE) < 1e-9, "row %zu: time %.9f, want %.9f", r,
                      at(e, r, "time"), (double)w->start / RATE);
        ck_assert_int_eq((int)at(e, r, "channel"), w->ch);
        ck_assert_uint_eq((uint64_t)at(e, r, "length"), w->len);
        ck_assert_double_eq_tol(at(e, r, "duration"), (float)((double)w->len / RATE), 1e-10);
        ck_assert_double_eq_tol(at(e, r, "level"), db(w->peak), 1e-6);
        ck_assert_int_eq((int)at(e, r, "continues"), w->cont);
    }
    ck_assert_uint_eq(s->rows, 1);
    ck_assert_double_eq(at(s, 0, "time"), 0.0);
    for (int c = 0; c < nch; c++) {
        ck_assert_uint_eq((uint64_t)atc(s, "clipped_samples", c), ws[c].clipped);
        ck_assert_uint_eq((uint64_t)atc(s, "runs", c), ws[c].runs);
        ck_assert_uint_eq((uint64_t)atc(s, "longest_run", c), ws[c].longest);
        double sp = atc(s, "sample_peak", c);
        if (ws[c].peak == 0)
            ck_assert_msg(isinf(sp) && sp < 0, "channel %d: silence reads %g, not -inf", c, sp);
        else
            ck_assert_double_eq_tol(sp, db(ws[c].peak), 1e-6);
    }
}

/* Run the graph on the WAV at `wav`; read o/<stem>.e.csv and .s.csv. */
static void run(const char *wav, const char *stem, const char *graph, tu_csv *e, tu_csv *s)
{
    tu_write_file(tu_path("g.ini"), graph);
    int rc = tu_joule("run '%s' '%s' -o '%s' --no-cache", tu_path("g.ini"), wav, tu_path("o"));
    ck_assert_msg(rc == 0, "joule failed: %s", tu_stderr());
    char p[256];
    snprintf(p, sizeof p, "o/%s.e.csv", stem);
    ck_assert_int_eq(tu_csv_read(tu_path(p), e), 0);
    snprintf(p, sizeof p, "o/%s.s.csv", stem);
    ck_assert_int_eq(tu_csv_read(tu_path(p), s), 0);
}

/* Run and compare with the batch count of the same samples. */
static void run_and_count(const float *x, size_t n, int nch, const char *graph, double threshold_db, size_t min_run,
                          size_t max_run)
{
    tu_write_wav(tu_path("in.wav"), RATE, nch, n, x, 0);
    ev *want;
    sum ws[8];
    size_t k = count_runs(x, n, nch, pow(10.0, threshold_db / 20.0), min_run, max_run, &want, ws);
    tu_csv e, s;
    run(tu_path("in.wav"), "in", graph, &e, &s);
    expect(&e, &s, want, k, ws, nch);
    tu_csv_free(&e);
    tu_csv_free(&s);
    free(want);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Quiet noise, |x| <= 0.5. */
static void noise(float *x, size_t n, int nch, uint32_t seed)
{
    for (size_t i = 0; i < n * nch; i++)
        x[i] = (float)((double)lcg(&seed) / (1u << 24) - 0.5);
}

/* Set `len` samples of channel c from `start` to v. */
static void plant(float *x, int nch, int c, size_t start, size_t len, float v)
{
    for (size_t i = start; i < start + len; i++)
        x[i * nch + c] = v;
}

START_TEST(test_planted)
{
    /* three channels: runs of every length around min_run = 3 on ch0, of
     * both polarities, at levels above full scale too (a float file); on
     * ch1 a run that starts before ch0's and ends after it (its row must
     * still come first) and one open at the end; ch2 silent */
    const size_t n = 4000;
    const int nch = 3;
    float *x = malloc(n * nch * sizeof *x);
    noise(x, n, nch, 7);
    plant(x, nch, 2, 0, n, 0.0f);
    plant(x, nch, 0, 100, 1, 1.0f);   /* 1: too short */
    plant(x, nch, 0, 200, 2, -1.0f);  /* 2: too short */
    plant(x, nch, 0, 300, 3, 1.0f);   /* 3: a run, 0 dBFS */
    plant(x, nch, 0, 400, 4, -1.0f);  /* 4: negative */
    plant(x, nch, 0, 500, 10, 1.0f);  /* 10 */
    x[(505) * nch + 0] = -1.25f;      /*   its peak, +1.94 dBFS, negative */
    plant(x, nch, 1, 490, 40, -1.0f); /* starts before ch0's 500, ends after */
    plant(x, nch, 0, 600, 3, 0.9990f); /* just above -0.01 dBFS (0.998849) */
    plant(x, nch, 0, 700, 3, 0.9988f); /* just below: not clipped */
    /* alternating polarity is still |x| at full scale */
    x[800 * nch] = 1.0f, x[801 * nch] = -1.0f, x[802 * nch] = 1.0f, x[803 * nch] = -1.0f;
    plant(x, nch, 1, n - 5, 5, 1.0f); /* open at the end */
    ev *want;
    sum ws[3];
    size_t k = count_runs(x, n, nch, pow(10.0, -0.01 / 20.0), 3, 65536, &want, ws);
    /* the plan, worked out by hand: the batch count must agree with it */
    ck_assert_uint_eq(k, 7);
    static const struct {
        uint64_t start;
        uint32_t len;
        int ch;
    } plan[] = {{300, 3, 0}, {400, 4, 0}, {490, 40, 1}, {500, 10, 0}, {600, 3, 0}, {800, 4, 0}, {3995, 5, 1}};
    for (size_t i = 0; i < k; i++) {
        ck_assert_uint_eq(want[i].start, plan[i].start);
        ck_assert_uint_eq(want[i].len, plan[i].len);
        ck_assert_int_eq(want[i].ch, plan[i].ch);
    }
    ck_assert_float_eq(want[3].peak, 1.25f);
    ck_assert_uint_eq(ws[0].clipped, 3 + 4 + 10 + 3 + 4);
    ck_assert_uint_eq(ws[0].runs, 5);
    ck_assert_uint_eq(ws[0].longest, 10);
    ck_assert_uint_eq(ws[1].runs, 2);
    ck_assert_uint_eq(ws[1].longest, 40);
    ck_assert_float_eq(ws[2].peak, 0.0f);
    tu_write_wav(tu_path("in.wav"), RATE, nch, n, x, 0);
    tu_csv e, s;
    run(tu_path("in.wav"), "in", GRAPH(""), &e, &s);
    expect(&e, &s, want, k, ws, nch);
    ck_assert_double_eq_tol(at(&e, 3, "level"), 20 * log10(1.25), 1e-5);
    /* no true peak columns unless asked */
    ck_assert_int_eq(tu_csv_col(&s, "over_0dbtp_ch0"), -1);
    ck_assert_uint_eq(s.cols, 1 + 4 * 3);
    tu_csv_free(&e);
    tu_csv_free(&s);
    free(want);
    free(x);
}
END_TEST

START_TEST(test_min_run_edges)
{
    /* min_run = 1 counts every clipped sample; min_run = 4 drops the runs
     * of 3; a run of exactly min_run counts */
    const size_t n = 1000;
    float *x = malloc(n * sizeof *x);
    noise(x, n, 1, 11);
    plant(x, 1, 0, 10, 1, 1.0f);
    plant(x, 1, 0, 20, 2, -1.0f);
    plant(x, 1, 0, 30, 3, 1.0f);
    plant(x, 1, 0, 40, 4, -1.0f);
    plant(x, 1, 0, 0, 1, 1.0f); /* the first sample */
    /* by hand: runs of 1 (twice), 2, 3 and 4 samples */
    static const uint64_t runs[] = {5, 3, 2, 1, 0}, clipped[] = {11, 9, 7, 4, 0};
    for (size_t m = 1; m <= 5; m++) {
        char g[512];
        snprintf(g, sizeof g, GRAPH("min_run = %zu"), m);
        run_and_count(x, n, 1, g, -0.01, m, 65536);
        tu_csv s;
        ck_assert_int_eq(tu_csv_read(tu_path("o/in.s.csv"), &s), 0);
        ck_assert_uint_eq((uint64_t)atc(&s, "runs", 0), runs[m - 1]);
        ck_assert_uint_eq((uint64_t)atc(&s, "clipped_samples", 0), clipped[m - 1]);
        tu_csv_free(&s);
    }
    free(x);
}
END_TEST

START_TEST(test_threshold)
{
    /* threshold = 0 dBFS: |x| >= 1.0 exactly; the float just below 1.0
     * is not clipped, 1.0 and -1.0 are */
    const size_t n = 200;
    float *x = calloc(n, sizeof *x);
    plant(x, 1, 0, 10, 5, nextafterf(1.0f, 0.0f));
    plant(x, 1, 0, 20, 5, 1.0f);
    plant(x, 1, 0, 30, 5, -1.0f);
    plant(x, 1, 0, 40, 5, 2.0f); /* a float file's over: +6.02 dBFS */
    run_and_count(x, n, 1, GRAPH("threshold = 0\nmin_run = 1"), 0.0, 1, 65536);
    tu_csv e, s;
    run(tu_path("in.wav"), "in", GRAPH("threshold = 0\nmin_run = 1"), &e, &s);
    ck_assert_uint_eq(e.rows, 3);
    ck_assert_double_eq_tol(at(&e, 0, "time"), 20.0 / RATE, 1e-9);
    ck_assert_double_eq_tol(at(&e, 2, "level"), 20 * log10(2.0), 1e-5);
    tu_csv_free(&e);
    tu_csv_free(&s);
    /* threshold = 3 dBFS counts only the over */
    run_and_count(x, n, 1, GRAPH("threshold = 3\nmin_run = 1"), 3.0, 1, 65536);
    free(x);
}
END_TEST

START_TEST(test_nan)
{
    /* NaN is not clipping: it ends a run, and is no peak */
    const size_t n = 100;
    float *x = calloc(n, sizeof *x);
    plant(x, 1, 0, 10, 2, 1.0f);
    x[12] = NAN;
    plant(x, 1, 0, 13, 3, -1.0f);
    x[50] = NAN;
    x[60] = 0.25f;
    run_and_count(x, n, 1, GRAPH(""), -0.01, 3, 65536);
    tu_csv e, s;
    run(tu_path("in.wav"), "in", GRAPH(""), &e, &s);
    ck_assert_uint_eq(e.rows, 1); /* 13..15; 10..11 is 2 samples */
    ck_assert_double_eq_tol(at(&e, 0, "time"), 13.0 / RATE, 1e-9);
    ck_assert_double_eq(at(&s, 0, "sample_peak_ch0"), 0.0);
    tu_csv_free(&e);
    tu_csv_free(&s);
    /* a NaN-only channel is silent: -inf */
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
    run_and_count(x, n, 1, GRAPH(""), -0.01, 3, 65536);
    /* the interpolation takes NaN and ±inf as 0: the same overs as the
     * same samples with zeros there (a sine near full scale, so that the
     * gaps ring over it); but the true peak is never below the sample
     * peak, which an infinite sample makes +inf */
    float *z = calloc(2 * n, sizeof *z);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(0.99 * sin(2 * M_PI * (double)i / 8));
        z[2 * i] = z[2 * i + 1] = x[i];
    }
    z[2 * 20 + 1] = NAN;
    z[2 * 21 + 1] = INFINITY;
    z[2 * 60 + 1] = -INFINITY;
    x[20] = x[21] = x[60] = 0.0f;
    for (size_t i = 0; i < n; i++)
        z[2 * i] = x[i];
    tu_write_wav(tu_path("bad.wav"), RATE, 2, n, z, 0);
    run(tu_path("bad.wav"), "bad", GRAPH("true_peak = true"), &e, &s);
    ck_assert(isinf(at(&s, 0, "sample_peak_ch1")) && at(&s, 0, "sample_peak_ch1") > 0);
    ck_assert(isinf(at(&s, 0, "true_peak_ch1")) && at(&s, 0, "true_peak_ch1") > 0);
    ck_assert(isfinite(at(&s, 0, "true_peak_ch0")));
    ck_assert_double_eq(at(&s, 0, "over_0dbtp_ch1"), at(&s, 0, "over_0dbtp_ch0"));
    tu_csv_free(&e);
    tu_csv_free(&s);
    /* without the infinities, NaN alone: the same true peak as zeros */
    z[2 * 21 + 1] = 0.0f;
    z[2 * 60 + 1] = 0.0f;
    tu_write_wav(tu_path("bad.wav"), RATE, 2, n, z, 0);
    run(tu_path("bad.wav"), "bad", GRAPH("true_peak = true"), &e, &s);
    ck_assert(isfinite(at(&s, 0, "true_peak_ch1")));
    ck_assert_double_eq(at(&s, 0, "true_peak_ch1"), at(&s, 0, "true_peak_ch0"));
    ck_assert_double_eq(at(&s, 0, "over_0dbtp_ch1"), at(&s, 0, "over_0dbtp_ch0"));
    tu_csv_free(&e);
    tu_csv_free(&s);
    free(z);
    free(x);
}
END_TEST

START_TEST(test_pcm16_rails)
{
    /* a 16-bit sine driven 6 dB into both rails: +32767 (-0.00027 dBFS)
     * and -32768 (-1.0), both clipped at the default threshold; counted
     * here from the integers written */
    const size_t n = 8000;
    const int nch = 2;
    short *pcm = malloc(n * nch * sizeof *pcm);
    float *x = malloc(n * nch * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < nch; c++) {
            double v = 2.0 * sin(2 * M_PI * (c ? 101.0 : 441.0) * (double)i / RATE) * 32768.0;
            long q = lround(v);
            q = q > 32767 ? 32767 : q < -32768 ? -32768 : q;
            pcm[i * nch + c] = (short)q;
            x[i * nch + c] = (float)q / 32768.0f; /* as the sndfile source reads it */
        }
    SF_INFO info = {.samplerate = RATE, .channels = nch, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(tu_path("pcm.wav"), SFM_WRITE, &info);
    ck_assert(sf != NULL);
    ck_assert_int_eq(sf_writef_short(sf, pcm, (sf_count_t)n), (sf_count_t)n);
    sf_close(sf);
    ev *want;
    sum ws[2];
    size_t k = count_runs(x, n, nch, pow(10.0, -0.01 / 20.0), 3, 65536, &want, ws);
    /* both rails: 441 Hz over 1 s has 441 crests of each sign */
    size_t pos = 0, neg = 0;
    for (size_t i = 0; i < k; i++)
        if (want[i].ch == 0 && want[i].peak == 1.0f)
            neg++;
        else if (want[i].ch == 0)
            pos++;
    ck_assert_uint_eq(pos, 441);
    ck_assert_uint_eq(neg, 441);
    tu_csv e, s;
    run(tu_path("pcm.wav"), "pcm", GRAPH(""), &e, &s);
    expect(&e, &s, want, k, ws, nch);
    tu_csv_free(&e);
    tu_csv_free(&s);
    free(want);
    free(pcm);
    free(x);
}
END_TEST

/* Random runs on 4 channels: lengths 1 to 12 and some long ones, both
 * polarities, levels from the threshold to 1.5, a few NaN; channel 3
 * clipped from row 1000 to 15000 (it holds back every other channel's
 * rows), channel 2 to the end, and channels 0 and 1 from the same row. */
static float *random_signal(size_t n, int nch, uint32_t seed)
{
    float *x = malloc(n * nch * sizeof *x);
    noise(x, n, nch, seed);
    for (int c = 0; c < nch; c++)
        for (int r = 0; r < 400; r++) {
            size_t len = 1 + lcg(&seed) % 12;
            if (r % 50 == 0)
                len = 20 + lcg(&seed) % 200;
            size_t start = lcg(&seed) % (n - len);
            float sign = lcg(&seed) & 1 ? 1.0f : -1.0f;
            for (size_t i = start; i < start + len; i++) {
                uint32_t u = lcg(&seed) % 8;
                x[i * nch + c] = u == 0 ? NAN : sign * (u < 4 ? 1.0f : (float)(0.9989 + 0.5 * (u - 4) / 3.0));
            }
        }
    plant(x, nch, 3, 1000, 14000, 1.0f);
    plant(x, nch, 2, n - 300, 300, -1.0f);
    /* two runs from the same sample: channel 1's ends first, channel 0's
     * row still comes first */
    plant(x, nch, 0, 16000, 9, 1.0f);
    plant(x, nch, 1, 16000, 3, -1.0f);
    x[15999 * nch] = x[16009 * nch] = x[15999 * nch + 1] = x[16003 * nch + 1] = 0.0f;
    return x;
}

START_TEST(test_random)
{
    const size_t n = 20000;
    const int nch = 4;
    float *x = random_signal(n, nch, 2024);
    run_and_count(x, n, nch, GRAPH(""), -0.01, 3, 65536);
    run_and_count(x, n, nch, GRAPH("min_run = 2\nmax_run = 7"), -0.01, 2, 7);
    run_and_count(x, n, nch, GRAPH("min_run = 1\nmax_run = 1\nthreshold = -0.5"), -0.5, 1, 1);
    free(x);
}
END_TEST

START_TEST(test_max_run)
{
    /* a run of 2.5 × max_run is three rows: max_run, max_run, the rest;
     * the later two continue the first; the summary counts one run */
    const size_t n = 1000;
    float *x = calloc(n, sizeof *x);
    plant(x, 1, 0, 100, 250, -1.0f);
    tu_write_wav(tu_path("in.wav"), RATE, 1, n, x, 0);
    tu_csv e, s;
    run(tu_path("in.wav"), "in", GRAPH("max_run = 100"), &e, &s);
    ck_assert_uint_eq(e.rows, 3);
    static const double start[] = {100, 200, 300}, len[] = {100, 100, 50}, cont[] = {0, 1, 1};
    for (size_t r = 0; r < 3; r++) {
        ck_assert_double_eq_tol(at(&e, r, "time"), start[r] / RATE, 1e-9);
        ck_assert_double_eq(at(&e, r, "length"), len[r]);
        ck_assert_double_eq(at(&e, r, "continues"), cont[r]);
    }
    ck_assert_double_eq(at(&s, 0, "runs_ch0"), 1);
    ck_assert_double_eq(at(&s, 0, "longest_run_ch0"), 250);
    ck_assert_double_eq(at(&s, 0, "clipped_samples_ch0"), 250);
    tu_csv_free(&e);
    tu_csv_free(&s);
    /* a run of exactly max_run: one row, nothing continues */
    run(tu_path("in.wav"), "in", GRAPH("max_run = 250"), &e, &s);
    ck_assert_uint_eq(e.rows, 1);
    ck_assert_double_eq(at(&e, 0, "length"), 250);
    tu_csv_free(&e);
    tu_csv_free(&s);
    /* max_run below min_run is refused before anything runs */
    tu_write_file(tu_path("bad.ini"), GRAPH("min_run = 5\nmax_run = 4"));
    ck_assert_int_eq(tu_joule("validate '%s'", tu_path("bad.ini")), 2);
    ck_assert_msg(strstr(tu_stderr(), "max_run"), "%s", tu_stderr());
    free(x);
}
END_TEST

START_TEST(test_true_peak_sine)
{
    /* a quarter-rate sine at phase 45°: every sample is ±A/√2, its crests
     * fall half-way between samples. With A = 1.2 no sample reaches full
     * scale (-1.43 dBFS), while the true peak is +1.58 dBTP. It fades in
     * and out over 400 samples (sin² ramps), so that no abrupt start
     * rings. The points over 0 dBTP are counted here on the signal itself,
     * y(t) = env(t) · A sin(πt/2 + π/4) at t = n + k/4: at least those
     * above 1 + 1e-4, at most those above 1 - 1e-4 (the interpolator is
     * within 3e-5 of a sine at a quarter of the rate) */
    const size_t n = 8000, fade = 400;
    const double A = 1.2;
    float *x = malloc(n * sizeof *x);
    double lo = 0, hi = 0;
    for (size_t q = 0; q < 4 * n; q++) {
        double t = q / 4.0;
        double env = t < fade ? pow(sin(M_PI / 2 * t / fade), 2)
                   : t > (double)(n - 1 - fade) ? pow(sin(M_PI / 2 * ((double)(n - 1) - t) / fade), 2)
                   : 1.0;
        if (t > (double)(n - 1))
            env = 0;
        double y = env * A * sin(M_PI / 2 * t + M_PI / 4);
        lo += fabs(y) > 1 + 1e-4;
        hi += fabs(y) > 1 - 1e-4;
        if (q % 4 == 0)
            x[q / 4] = (float)y;
    }
    ck_assert_double_gt(lo, 1.5 * (double)(n - 2 * fade)); /* 3 points in 8 between the fades */
    tu_write_wav(tu_path("tp.wav"), RATE, 1, n, x, 0);
    tu_csv e, s;
    run(tu_path("tp.wav"), "tp", GRAPH("true_peak = true"), &e, &s);
    ck_assert_uint_eq(e.rows, 0);
    ck_assert_double_eq(at(&s, 0, "clipped_samples_ch0"), 0);
    ck_assert_double_eq_tol(at(&s, 0, "sample_peak_ch0"), 20 * log10(A / sqrt(2.0)), 1e-4);
    ck_assert_double_eq_tol(at(&s, 0, "true_peak_ch0"), 20 * log10(A), 0.01);
    double overs = at(&s, 0, "over_0dbtp_ch0");
    ck_assert_msg(overs >= lo && overs <= hi, "over_0dbtp %g, expected %g to %g", overs, lo, hi);
    tu_csv_free(&e);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_true_peak_flat)
{
    /* 2000 samples at exactly 1.0 between silences: the interior is full
     * scale, not over it; only the ringing at its two edges is over 0
     * dBTP. Band-limited, a step of samples overshoots by 13.7 % half a
     * sample after its first full sample (the sum of sinc(0.5 - i) over
     * the samples of the run, computed here); the points a quarter, a half
     * and three quarters of a sample inside each edge are over in any
     * faithful interpolation, and none farther than the 16-sample reach of
     * the filter from an edge can be */
    const size_t n = 4000, at0 = 1000, len = 2000;
    float *x = calloc(n, sizeof *x);
    plant(x, 1, 0, at0, len, 1.0f);
    double ideal = 0;
    for (size_t i = 0; i < len; i++)
        ideal += sin(M_PI * (0.5 - (double)i)) / (M_PI * (0.5 - (double)i));
    ck_assert_double_eq_tol(ideal, 1.1366, 1e-3);
    tu_write_wav(tu_path("flat.wav"), RATE, 1, n, x, 0);
    tu_csv e, s;
    run(tu_path("flat.wav"), "flat", GRAPH("true_peak = true"), &e, &s);
    ck_assert_uint_eq(e.rows, 1);
    ck_assert_double_eq(at(&s, 0, "clipped_samples_ch0"), (double)len);
    double overs = at(&s, 0, "over_0dbtp_ch0");
    ck_assert_msg(overs >= 2 * 3 && overs <= 2 * 16 * 4, "over_0dbtp %g", overs);
    ck_assert_double_eq_tol(at(&s, 0, "true_peak_ch0"), 20 * log10(ideal), 0.05);
    tu_csv_free(&e);
    tu_csv_free(&s);
    /* silence: -inf, no overs */
    memset(x, 0, n * sizeof *x);
    tu_write_wav(tu_path("flat.wav"), RATE, 1, n, x, 0);
    run(tu_path("flat.wav"), "flat", GRAPH("true_peak = true"), &e, &s);
    ck_assert(isinf(at(&s, 0, "true_peak_ch0")) && at(&s, 0, "true_peak_ch0") < 0);
    ck_assert(isinf(at(&s, 0, "sample_peak_ch0")) && at(&s, 0, "sample_peak_ch0") < 0);
    ck_assert_double_eq(at(&s, 0, "over_0dbtp_ch0"), 0);
    tu_csv_free(&e);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_chunk_invariance)
{
    /* runs across every chunk boundary (chunks of 1 and 7 rows cut through
     * all of them), rows held back by channel 3's long run, runs cut at
     * max_run, a run open at the end, true peak: the same bytes for every
     * chunk size and thread count */
    const size_t n = 20000;
    const int nch = 4;
    float *x = random_signal(n, nch, 77);
    tu_write_wav(tu_path("r.wav"), RATE, nch, n, x, 0);
    static const char *const outs[] = {"r.e.csv", "r.s.csv"};
    tu_write_file(tu_path("inv.ini"), GRAPH("true_peak = true"));
    char *why = tu_invariance(tu_path("inv.ini"), tu_path("r.wav"), outs, 2);
    ck_assert_msg(why == NULL, "%s", why);
    tu_write_file(tu_path("inv.ini"), GRAPH("min_run = 2\nmax_run = 7"));
    why = tu_invariance(tu_path("inv.ini"), tu_path("r.wav"), outs, 2);
    ck_assert_msg(why == NULL, "%s", why);
    /* and that reference is the batch count */
    ev *want;
    sum ws[4];
    size_t k = count_runs(x, n, nch, pow(10.0, -0.01 / 20.0), 2, 7, &want, ws);
    ck_assert_uint_gt(k, 2000);
    tu_csv e, s;
    ck_assert_int_eq(tu_csv_read(tu_path("inv-1-1/r.e.csv"), &e), 0);
    ck_assert_int_eq(tu_csv_read(tu_path("inv-1-1/r.s.csv"), &s), 0);
    expect(&e, &s, want, k, ws, nch);
    tu_csv_free(&e);
    tu_csv_free(&s);
    free(want);
    free(x);
}
END_TEST

/* A gathered table (a leading file column, empty cells for columns an
 * input lacks), split in place: no cell here holds a comma or a quote. */
typedef struct table {
    size_t rows, cols;
    char *text;
    char **cell; /* (rows + 1) × cols, the header first */
} table;

static void table_read(const char *path, table *t)
{
    t->text = tu_read_file(path);
    ck_assert_msg(t->text != NULL, "%s is missing", path);
    t->cols = 1;
    for (const char *p = t->text; *p && *p != '\n'; p++)
        t->cols += *p == ',';
    size_t lines = 0;
    for (const char *p = t->text; *p; p++)
        lines += *p == '\n';
    t->cell = calloc(lines * t->cols + t->cols, sizeof *t->cell);
    size_t k = 0;
    char *p = t->text;
    while (*p) {
        for (size_t c = 0; c < t->cols; c++) {
            t->cell[k++] = p;
            p += strcspn(p, ",\n");
            ck_assert_msg(*p == (c + 1 < t->cols ? ',' : '\n'), "%s: a ragged line", path);
            *p++ = '\0';
        }
    }
    t->rows = k / t->cols - 1;
}

/* The cell of data row r in column `name`, as text. */
static const char *cell(const table *t, size_t r, const char *name)
{
    for (size_t c = 0; c < t->cols; c++)
        if (!strcmp(t->cell[c], name))
            return t->cell[(r + 1) * t->cols + c];
    ck_abort_msg("no column %s", name);
    return NULL;
}

static double num(const table *t, size_t r, const char *name)
{
    return strtod(cell(t, r, name), NULL);
}

START_TEST(test_example)
{
    /* examples/clipping.ini on two files: a stereo float file clipped in
     * one channel, then a clean mono one; runs per file, and one table
     * each of the files' clipping and energy, in command-line order */
    const size_t n = 4000;
    float *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double v = 1.6 * sin(2 * M_PI * 200.0 * (double)i / RATE);
        x[2 * i] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
        x[2 * i + 1] = (float)(0.5 * v);
    }
    tu_write_wav(tu_path("loud.wav"), RATE, 2, n, x, 0);
    /* counted here: 200 Hz over 0.5 s, 100 crests of each polarity, each
     * cut flat for 29 % of its 40-sample period (where |sin| > 1/1.6) */
    ev *want;
    sum ws[2];
    size_t k = count_runs(x, n, 2, pow(10.0, -0.01 / 20.0), 3, 65536, &want, ws);
    ck_assert_uint_eq(ws[0].runs, 200);
    ck_assert_uint_eq(ws[1].runs, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = x[2 * i + 1];
    tu_write_wav(tu_path("clean.wav"), RATE, 1, n, x, 0);
    char ini[1024];
    snprintf(ini, sizeof ini, "%s/examples/clipping.ini", getenv("top_srcdir") ? getenv("top_srcdir") : "..");
    int rc = tu_joule("run '%s' '%s' '%s' -o '%s' --no-cache", ini, tu_path("loud.wav"), tu_path("clean.wav"),
                      tu_path("ex"));
    ck_assert_msg(rc == 0, "joule failed: %s", tu_stderr());

    tu_csv e;
    ck_assert_int_eq(tu_csv_read(tu_path("ex/loud.clip.csv"), &e), 0);
    ck_assert_uint_eq(e.rows, k);
    for (size_t r = 0; r < k; r++) {
        ck_assert_double_eq_tol(at(&e, r, "time"), (double)want[r].start / RATE, 1e-9);
        ck_assert_uint_eq((uint64_t)at(&e, r, "length"), want[r].len);
    }
    tu_csv_free(&e);
    ck_assert_int_eq(tu_csv_read(tu_path("ex/clean.clip.csv"), &e), 0);
    ck_assert_uint_eq(e.rows, 0);
    tu_csv_free(&e);

    table c, en;
    table_read(tu_path("ex/clipping.csv"), &c);
    ck_assert_uint_eq(c.rows, 2);
    ck_assert_str_eq(cell(&c, 0, "file"), tu_path("loud.wav"));
    ck_assert_str_eq(cell(&c, 1, "file"), tu_path("clean.wav"));
    ck_assert_uint_eq((uint64_t)num(&c, 0, "runs_ch0"), ws[0].runs);
    ck_assert_uint_eq((uint64_t)num(&c, 0, "clipped_samples_ch0"), ws[0].clipped);
    ck_assert_uint_eq((uint64_t)num(&c, 0, "longest_run_ch0"), ws[0].longest);
    ck_assert_double_eq(num(&c, 0, "sample_peak_ch0"), 0.0);
    ck_assert_double_eq(num(&c, 0, "runs_ch1"), 0);
    ck_assert_double_eq_tol(num(&c, 0, "sample_peak_ch1"), db(ws[1].peak), 1e-6);
    ck_assert_double_gt(num(&c, 0, "over_0dbtp_ch0"), 0); /* flat tops ring over full scale */
    ck_assert_double_eq(num(&c, 1, "runs_ch0"), 0);
    ck_assert_double_eq(num(&c, 1, "over_0dbtp_ch0"), 0);
    ck_assert_str_eq(cell(&c, 1, "runs_ch1"), ""); /* mono */
    table_read(tu_path("ex/energy.csv"), &en);
    ck_assert_uint_eq(en.rows, 2);
    ck_assert_double_eq(num(&en, 0, "peak_ch0"), 1.0);
    ck_assert_double_eq_tol(num(&en, 1, "peak_ch0"), ws[1].peak, 1e-7);
    free(c.text);
    free(c.cell);
    free(en.text);
    free(en.cell);
    free(want);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clip");
    TCase *tc = tcase_create("Runs");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_planted);
    tcase_add_test(tc, test_min_run_edges);
    tcase_add_test(tc, test_threshold);
    tcase_add_test(tc, test_nan);
    tcase_add_test(tc, test_pcm16_rails);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_max_run);
    tcase_add_test(tc, test_example);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("TruePeak");
    tcase_set_timeout(tp, 120);
    tcase_add_test(tp, test_true_peak_sine);
    tcase_add_test(tp, test_true_peak_flat);
    suite_add_tcase(s, tp);
    TCase *ti = tcase_create("Invariance");
    tcase_set_timeout(ti, 300);
    tcase_add_test(ti, test_chunk_invariance);
    suite_add_tcase(s, ti);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
