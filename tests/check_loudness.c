/* check_loudness.c — the loudness plugin against EBU Tech 3341 and
 * BS.1770 arithmetic: a stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS
 * (case 1), at -20 dBFS -20.0, a mono one 3.01 LU less (one channel's
 * power instead of two); the relative gate leaves out the quiet parts of
 * case 3; sample and true peak of the sine; the row grid, times and NaN
 * for unfilled windows; silence; and byte-identical output for any chunk
 * size and thread count.
 *
 * The true peak (truepeak.h, tested directly and through the plugin):
 * inter-sample peaks of sines at fs/4 against their analytic values and
 * against libebur128's ebur128_true_peak, clipped material against a long
 * reference interpolator and libebur128, channels kept apart, per-channel
 * peaks and overs, the same bits for any split of the input, with or
 * without the skipping of quiet blocks and with the plain C or the vector
 * kernel, and the clip plugin's true_peak_c agreeing with this plugin's
 * true_peak to the bit. */
#include "testutil.h"
#include "truepeak.h"

#include <check.h>
#include <ebur128.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define GRAPH(params)                                                                                              \
    "[in]\nplugin = sndfile\n[lu]\nplugin = loudness\ninput = in\n" params "\n"                                  \
    "[m]\nplugin = csv\ninput = lu\npath = {stem}.m.csv\n"                                                        \
    "[s]\nplugin = csv\ninput = lu.summary\npath = {stem}.s.csv\n"

/* Append `seconds` of a 1 kHz sine of peak `dbfs` to every channel of x
 * (interleaved, `channels` wide) from frame *at on. */
static void sine(float *x, size_t *at, int channels, int rate, double seconds, double dbfs)
{
    const double A = pow(10.0, dbfs / 20.0);
    size_t n = (size_t)llround(seconds * rate);
    for (size_t i = 0; i < n; i++, (*at)++) {
        float v = (float)(A * sin(2 * M_PI * 1000.0 * (double)*at / rate));
        for (int c = 0; c < channels; c++)
            x[*at * channels + c] = v;
    }
}

/* Run the graph on x; read the frames (m) and summary (s) CSVs. */
static void run(const float *x, size_t frames, int channels, int rate, const char *graph, tu_csv *m, tu_csv *s)
{
    tu_write_wav(tu_path("in.wav"), rate, channels, frames, x, 0);
    tu_write_file(tu_path("g.ini"), graph);
    int rc = tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o"));
    ck_assert_msg(rc == 0, "joule failed: %s", tu_stderr());
    ck_assert_int_eq(tu_csv_read(tu_path("o/in.m.csv"), m), 0);
    ck_assert_int_eq(tu_csv_read(tu_path("o/in.s.csv"), s), 0);
    ck_assert_uint_eq(s->rows, 1);
}

static double at(const tu_csv *c, size_t row, const char *col)
{
    int k = tu_csv_col(c, col);
    ck_assert_msg(k >= 0, "no column %s", col);
    return c->v[row * c->cols + (size_t)k];
}

/* A steady sine of `dbfs` for 20 s: integrated, momentary and short-term
 * all read `lufs`. */
static void steady(int channels, double dbfs, double lufs)
{
    const int rate = 48000;
    const size_t n = 20 * (size_t)rate;
    float *x = malloc(n * channels * sizeof *x);
    size_t k = 0;
    sine(x, &k, channels, rate, 20, dbfs);
    tu_csv m, s;
    run(x, n, channels, rate, GRAPH(""), &m, &s);
    ck_assert_double_eq_tol(at(&s, 0, "integrated"), lufs, 0.1);
    ck_assert_double_lt(at(&s, 0, "lra"), 0.1);
    /* 1 kHz at 48 kHz: a sample lands on every crest */
    ck_assert_double_eq_tol(at(&s, 0, "sample_peak"), dbfs, 0.01);
    ck_assert_double_eq_tol(at(&s, 0, "true_peak"), dbfs, 0.2);
    ck_assert_uint_eq(m.rows, 200);
    for (size_t r = 0; r < m.rows; r++) {
        double end = (r + 1) * 0.1;
        if (end >= 0.4 - 1e-9)
            ck_assert_double_eq_tol(at(&m, r, "momentary"), lufs, 0.1);
        if (end >= 3.0 - 1e-9)
            ck_assert_double_eq_tol(at(&m, r, "shortterm"), lufs, 0.1);
    }
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}

START_TEST(test_ebu_case1)
{
    steady(2, -23.0, -23.0);
}
END_TEST

START_TEST(test_minus20)
{
    steady(2, -20.0, -20.0);
}
END_TEST

START_TEST(test_mono)
{
    /* a mono file counts once: half the power of the same sine in stereo */
    steady(1, -23.0, -23.0 - 10 * log10(2.0));
}
END_TEST

START_TEST(test_ebu_case3)
{
    /* EBU Tech 3341 case 3: 10 s at -36, 60 s at -23, 10 s at -36 dBFS
     * (stereo 1 kHz) reads -23.0: the relative gate, 10 LU below the
     * ungated level of about -24.2, leaves out the -36 dBFS blocks */
    const int rate = 48000;
    const size_t n = 80 * (size_t)rate;
    float *x = malloc(n * 2 * sizeof *x);
    size_t k = 0;
    sine(x, &k, 2, rate, 10, -36);
    sine(x, &k, 2, rate, 60, -23);
    sine(x, &k, 2, rate, 10, -36);
    ck_assert_uint_eq(k, n);
    tu_csv m, s;
    run(x, n, 2, rate, GRAPH("true_peak = false"), &m, &s);
    ck_assert_double_eq_tol(at(&s, 0, "integrated"), -23.0, 0.1);
    ck_assert_int_eq(tu_csv_col(&s, "true_peak"), -1);
    ck_assert_uint_eq(s.cols, 4); /* time, integrated, lra, sample_peak */
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_grid_and_times)
{
    /* 4.25 s at 16 kHz, interval 0.05 s: hop 800, 85 whole hops; row k at
     * the end of its audio, (k+1)·0.05 s; NaN until the windows fill */
    const int rate = 16000;
    const size_t n = 68000;
    float *x = malloc(n * sizeof *x);
    size_t k = 0;
    sine(x, &k, 1, rate, 4.25, -10);
    tu_csv m, s;
    run(x, n, 1, rate, GRAPH("interval = 0.05"), &m, &s);
    ck_assert_uint_eq(m.rows, n / 800);
    for (size_t r = 0; r < m.rows; r++) {
        double end = (r + 1) * 0.05;
        ck_assert_double_eq_tol(at(&m, r, "time"), end, 1e-9);
        ck_assert_int_eq(isnan(at(&m, r, "momentary")), end < 0.4 - 1e-9);
        ck_assert_int_eq(isnan(at(&m, r, "shortterm")), end < 3.0 - 1e-9);
    }
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_silence)
{
    const int rate = 8000;
    const size_t n = 8000;
    float *x = calloc(n * 2, sizeof *x);
    tu_csv m, s;
    run(x, n, 2, rate, GRAPH(""), &m, &s);
    ck_assert(isinf(at(&s, 0, "integrated")) && at(&s, 0, "integrated") < 0);
    ck_assert(isinf(at(&s, 0, "sample_peak")) && at(&s, 0, "sample_peak") < 0);
    ck_assert(isinf(at(&s, 0, "true_peak")) && at(&s, 0, "true_peak") < 0);
    ck_assert_uint_eq(m.rows, 10);
    ck_assert(isinf(at(&m, 9, "momentary")));
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_chunk_invariance)
{
    /* 3.7 s of stereo noise with a level step, at 16 kHz: rows past 3 s
     * (short-term defined), a partial last hop, summary values */
    const int rate = 16000;
    const size_t n = 59300;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 21;
    for (size_t i = 0; i < 2 * n; i++) {
        s = s * 1664525u + 1013904223u;
        double u = (double)(s >> 8) / (1u << 23) - 1.0;
        x[i] = (float)(u * (i < n ? 0.1 : 0.5));
    }
    tu_write_wav(tu_path("y.wav"), rate, 2, n, x, 0);
    tu_write_file(tu_path("g.ini"), GRAPH("interval = 0.07"));
    static const char *const outs[] = {"y.m.csv", "y.s.csv"};
    char *why = tu_invariance(tu_path("g.ini"), tu_path("y.wav"), outs, 2);
    ck_assert_msg(why == NULL, "%s", why);
    /* the reference holds real numbers past 3 s */
    tu_csv m;
    ck_assert_int_eq(tu_csv_read(tu_path("inv-1-1/y.m.csv"), &m), 0);
    ck_assert_uint_eq(m.rows, n / 1120);
    ck_assert(isfinite(at(&m, m.rows - 1, "shortterm")));
    tu_csv_free(&m);
    free(x);
}
END_TEST

START_TEST(test_non_finite)
{
    /* one NaN sample would poison the meter for the rest of the stream:
     * refused, with the sample named, and no output; either reading path */
    const int rate = 8000;
    const size_t n = 2 * rate;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.1 * sin(2 * M_PI * 440.0 * i / rate));
    x[rate + 3] = NAN;
    tu_write_wav(tu_path("nan.wav"), rate, 1, n, x, 0);
    static const char *const params[] = {"", "interval = 0.137"};
    for (int k = 0; k < 2; k++) {
        char g[512];
        snprintf(g, sizeof g, "[in]\nplugin = sndfile\n[lu]\nplugin = loudness\ninput = in\n%s\n"
                              "[m]\nplugin = csv\ninput = lu\npath = {stem}.m.csv\n", params[k]);
        tu_write_file(tu_path("nan.ini"), g);
        ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s'", tu_path("nan.ini"), tu_path("nan.wav"), tu_path("nan")), 1);
        ck_assert_msg(strstr(tu_stderr(), "sample 8003 (1.000375 s), channel 0 is NaN") != NULL, "%s", tu_stderr());
        ck_assert(!tu_exists(tu_path("nan/nan.m.csv")));
    }
    free(x);
}
END_TEST

/* ---- the true peak ---------------------------------------------------------

 * A sine at fs/4 with phase φ, x[n] = A sin(πn/2 + φ), takes the values
 * ±A sin φ and ±A cos φ: its sample peak is A·max(|sin φ|, |cos φ|), as
 * low as A/√2 (-3.01 dB) at φ = π/4, while its true peak is A. An
 * oversampler by L reads the signal at the phases φ + πk/(2L), so it
 * reads A where one of them is a crest (φ a multiple of π/(2L)) and
 * A·cos(π/(4L)) at worst (-0.169 dB at 4x, -0.688 dB at 2x). The filter
 * (sinc · Kaiser β = 9 over ±16 samples, each phase scaled to sum 1) has,
 * at fs/4, gains of +0.000052 dB (phases 1/4, 3/4) and +0.000106 dB
 * (phase 1/2, the 2x one) and phase errors of 5.5e-6 rad (worked out from
 * its definition, sum over t of g(t) e^(iπt/2)), and the float samples
 * and sums add a few 1e-7: the reading is within 0.0005 dB of the ideal
 * grid reading at 4x and 2x. (libebur128's 49-tap filter: -0.0169 and
 * -0.0332 dB at 4x, +0.0042 dB at 2x, so the two stay within 0.05 dB.)
 * The sine fades in and out over 0.1 s: an abrupt start or end at full
 * amplitude rings (the interpolation of a step; samples outside the input
 * are zeros), by up to +0.6 dB. */

static double db(double v)
{
    return 20 * log10(v);
}

/* A raised-cosine fade-in over the first 0.1 s: frame n's gain. */
static double fade_in(size_t n, int rate)
{
    size_t fade = (size_t)rate / 10;
    return n < fade ? 0.5 - 0.5 * cos(M_PI * (double)n / (double)fade) : 1.0;
}

/* Frame n's gain of `frames` faded in and out over 0.1 s each. */
static double fade(size_t n, size_t frames, int rate)
{
    return fade_in(n, rate) * fade_in(frames - 1 - n, rate);
}

/* `frames` of A sin(πn/2 + φ), faded in and out, into channel c of x (nch
 * wide). */
static void quarter_sine(float *x, size_t frames, int nch, int c, int rate, double A, double phi)
{
    for (size_t n = 0; n < frames; n++)
        x[n * nch + c] = (float)(A * fade(n, frames, rate) * sin(M_PI / 2 * (double)(n % 4) + phi));
}

/* The ideal reading of an L-times oversampler on that sine: A times the
 * largest |sin| over the phases φ + πk/(2L). */
static double grid_reading(double A, double phi, int L)
{
    double best = 0;
    for (int k = 0; k < 4 * L; k++) {
        double v = fabs(sin(phi + M_PI * k / (2.0 * L)));
        best = v > best ? v : best;
    }
    return A * best;
}

/* libebur128's true peak of x: of channel c, or the largest of all (c < 0). */
static double ref_true_peak(const float *x, size_t frames, int nch, unsigned long rate, int c)
{
    ebur128_state *st = ebur128_init((unsigned)nch, rate, EBUR128_MODE_TRUE_PEAK);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(ebur128_add_frames_float(st, x, frames), EBUR128_SUCCESS);
    double best = 0;
    for (int k = 0; k < nch; k++) {
        double v;
        ck_assert_int_eq(ebur128_true_peak(st, (unsigned)k, &v), EBUR128_SUCCESS);
        if ((c < 0 || k == c) && v > best)
            best = v;
    }
    ebur128_destroy(&st);
    return best;
}

/* The true-peak meter fed x in pieces of `piece` frames (0: all at once)
 * and ended; simd 0 for the plain C kernel; prune 0 to compute every
 * point; flags JTP_CHANNELS or 0. jtp_free it after. */
static void tp_run(jtp *t, const float *x, size_t frames, int nch, unsigned long rate, size_t piece, int simd,
                   int prune, int flags)
{
    ck_assert_int_eq(jtp_init(t, (uint32_t)nch, rate, (simd ? JTP_SIMD : 0) | flags), 0);
    if (!prune)
        t->bound = INFINITY;
    if (!piece)
        piece = frames;
    for (size_t at = 0; at < frames; at += piece)
        jtp_feed(t, x + at * nch, frames - at < piece ? frames - at : piece);
    jtp_end(t);
}

/* The true peak by truepeak.h over all channels (see tp_run). */
static float tp_of(const float *x, size_t frames, int nch, unsigned long rate, size_t piece, int simd, int prune)
{
    jtp t;
    tp_run(&t, x, frames, nch, rate, piece, simd, prune, 0);
    float v = jtp_peak(&t);
    jtp_free(&t);
    return v;
}

/* A reference true peak of channel c of x, independent of truepeak.h: the
 * same points (each sample n and n + k/L, zeros outside the input) by a
 * Hann-windowed sinc over ±256 samples, in double; 16 times longer than
 * truepeak.h's, so that its own error near Nyquist is a sixteenth. */
static double long_true_peak(const float *x, size_t frames, int nch, int c, int L)
{
    enum { H = 256 };
    double w[2 * H * 4], best = 0;
    for (int k = 1; k < L; k++)
        for (int j = 0; j < 2 * H; j++) {
            double t = (double)k / L + H - 1 - j; /* from sample i - H + 1 + j to the point i + k/L */
            w[(k - 1) * 2 * H + j] = sin(M_PI * t) / (M_PI * t) * (0.5 + 0.5 * cos(M_PI * t / H));
        }
    for (size_t i = 0; i < frames; i++) {
        double a = fabs(x[i * nch + c]);
        best = a > best ? a : best;
        for (int k = 1; k < L; k++) {
            double y = 0;
            for (int j = 0; j < 2 * H; j++) {
                ptrdiff_t s = (ptrdiff_t)i - H + 1 + j;
                if (s >= 0 && (size_t)s < frames)
                    y += w[(k - 1) * 2 * H + j] * x[(size_t)s * nch + c];
            }
            best = fabs(y) > best ? fabs(y) : best;
        }
    }
    return best;
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

START_TEST(test_tp_quarter_sines)
{
    /* φ in steps of π/32 over a quarter turn, at 48 kHz (4x), 96 kHz (2x)
     * and 192 kHz (no oversampling: the true peak is the sample peak) */
    static const int rates[] = {48000, 96000, 192000};
    static const int factor[] = {4, 2, 1};
    static const double tol[] = {0.0005, 0.0005, 1e-5};
    const double A = 0.5;
    for (int r = 0; r < 3; r++) {
        size_t n = (size_t)rates[r] / 2; /* 0.5 s */
        float *x = malloc(n * sizeof *x);
        for (int k = 0; k <= 16; k++) {
            double phi = M_PI / 32 * k;
            quarter_sine(x, n, 1, 0, rates[r], A, phi);
            double tp = tp_of(x, n, 1, (unsigned long)rates[r], 0, 1, 1);
            double expect = grid_reading(A, phi, factor[r]);
            ck_assert_msg(fabs(db(tp) - db(expect)) <= tol[r], "%d Hz, phi = %d pi/32: %.4f dB, not %.4f dB",
                          rates[r], k, db(tp), db(expect));
            /* never above the continuous peak by more than the gain */
            ck_assert_double_le(db(tp), db(A) + tol[r]);
            /* where the grid meets a crest, the amplitude itself */
            if (k % (16 / factor[r]) == 0 && factor[r] > 1)
                ck_assert_double_eq_tol(db(tp), db(A), tol[r]);
            /* and libebur128's figure */
            double ref = ref_true_peak(x, n, 1, (unsigned long)rates[r], -1);
            ck_assert_msg(fabs(db(tp) - db(ref)) <= 0.05, "%d Hz, phi = %d pi/32: %.4f dB, libebur128 %.4f dB",
                          rates[r], k, db(tp), db(ref));
        }
        free(x);
    }
}
END_TEST

START_TEST(test_tp_clipped)
{
    /* sines driven into ±1 (clipping makes overs between the samples),
     * a clipped square-ish tone near fs/4 and clipped white noise, 1 s
     * each, at 44.1 kHz (4x) and 88.2 kHz (2x), against libebur128 and
     * the long reference. Within 0.05 dB of libebur128 on the 997 Hz sine
     * and the 10.8 kHz tone. Hard clipping puts harmonics up to Nyquist,
     * where the filters part: there every figure is within 0.05 dB of
     * libebur128's or nearer the reference than libebur128's is
     * (libebur128 reads the 5 kHz sine driven 4 times 0.3 dB under the
     * reference at 44.1 kHz; this, 0.04). On clipped white noise, whose
     * energy at Nyquist no finite filter resolves (the reading grows with
     * the filter's length), both stay well under the reference. */
    static const int rates[] = {44100, 88200};
    for (int r = 0; r < 2; r++) {
        const int rate = rates[r], L = r ? 2 : 4;
        const size_t n = (size_t)rate; /* 1 s */
        float *x = malloc(2 * n * sizeof *x), *mono = malloc(n * sizeof *mono);
        static const double freq[] = {997, 5000, 10800, 3000};
        static const double drive[] = {2.0, 4.0, 1.5, 8.0};
        for (int k = 0; k < 4; k++) {
            uint32_t s = 7u + (uint32_t)k;
            for (size_t i = 0; i < n; i++) {
                double v = drive[k] * sin(2 * M_PI * freq[k] * (double)i / rate + 0.3 * k);
                s = s * 1664525u + 1013904223u;
                double u = ((double)(s >> 8) / (1u << 23) - 1.0) * drive[k];
                x[2 * i] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
                x[2 * i + 1] = (float)(u > 1 ? 1 : u < -1 ? -1 : u);
            }
            double both = 0;
            for (int c = 0; c < 2; c++) {
                for (size_t i = 0; i < n; i++)
                    mono[i] = x[2 * i + (size_t)c];
                double tp = tp_of(mono, n, 1, (unsigned long)rate, 0, 1, 1);
                double lng = long_true_peak(x, n, 2, c, L);
                double ref = ref_true_peak(mono, n, 1, (unsigned long)rate, -1);
                ck_assert_msg(fabs(db(tp) - db(ref)) <= 0.05 || fabs(db(tp) - db(lng)) < fabs(db(ref) - db(lng)),
                              "%d Hz, case %d, channel %d: %.4f dB, libebur128 %.4f, reference %.4f", rate, k, c,
                              db(tp), db(ref), db(lng));
                if (c == 0 && (k == 0 || k == 2))
                    ck_assert_msg(fabs(db(tp) - db(ref)) <= 0.05, "%d Hz, case %d: %.4f dB, libebur128 %.4f", rate, k,
                                  db(tp), db(ref));
                /* clipped at full scale: overs above 0 dBFS */
                ck_assert_double_gt(db(tp), 0.0);
                both = tp > both ? tp : both;
            }
            /* both channels together: the larger, to the bit */
            float two = tp_of(x, n, 2, (unsigned long)rate, 0, 1, 1);
            ck_assert_msg(same_bits(two, (float)both), "%d Hz, case %d: %.9g, not %.9g", rate, k, two, both);
        }
        free(x);
        free(mono);
    }
}
END_TEST

START_TEST(test_tp_channels_apart)
{
    /* five channels: a quarter-rate sine at 0.8 with φ = π/4 (samples
     * ±0.566, true peak 0.8) in one channel, and 0.6 of a 100 Hz sine (true
     * peak 0.6; faded in and out too, as a step would ring) in the others. Wherever the first is, the true peak is its
     * 0.8; each channel's figure alone (mono) is libebur128's for that
     * channel, and the five-channel figure is the largest of them, to the
     * bit: a lane never reads another channel's samples. */
    const int rate = 48000, nch = 5;
    const size_t n = 24000;
    float *x = malloc(n * nch * sizeof *x), *mono = malloc(n * sizeof *mono);
    for (int hot = 0; hot < nch; hot++) {
        for (int c = 0; c < nch; c++)
            if (c == hot)
                quarter_sine(x, n, nch, c, rate, 0.8, M_PI / 4);
            else
                for (size_t i = 0; i < n; i++)
                    x[i * nch + c] = (float)(0.6 * fade(i, n, rate) * sin(2 * M_PI * 100 * (double)i / rate + c));
        float all = tp_of(x, n, nch, rate, 0, 1, 1);
        ck_assert_double_eq_tol(db(all), db(0.8), 0.0005);
        float most = 0;
        for (int c = 0; c < nch; c++) {
            for (size_t i = 0; i < n; i++)
                mono[i] = x[i * nch + c];
            float one = tp_of(mono, n, 1, rate, 0, 1, 1);
            double ref = ref_true_peak(x, n, nch, rate, c);
            ck_assert_msg(fabs(db(one) - db(ref)) <= 0.05, "hot %d, channel %d: %.4f dB, libebur128 %.4f dB", hot, c,
                          db(one), db(ref));
            ck_assert_double_eq_tol(db(one), (c == hot ? db(0.8) : db(0.6)), 0.0005);
            most = one > most ? one : most;
        }
        ck_assert_msg(same_bits(all, most), "hot %d: %.9g, channels alone %.9g", hot, all, most);
    }
    free(x);
    free(mono);
}
END_TEST

START_TEST(test_tp_splits)
{
    /* noise whose level steps between loud and quiet every 0.3 s (so that
     * blocks are skipped, and differently for each split), for 1, 2, 3 and
     * 7 channels at 4x, 2x and none: the same bits whether fed at once or
     * in pieces of 1, 5, 11, 64 or 4410 frames, with the plain C kernel or
     * the vector one, with skipping or computing every point; over all
     * channels and per channel (peaks and overs alike) */
    static const int rates[] = {44100, 96000, 192000};
    static const int chans[] = {1, 2, 3, 7};
    static const size_t pieces[] = {1, 5, 11, 64, 4410};
    for (int r = 0; r < 3; r++)
        for (int ci = 0; ci < 4; ci++) {
            const int nch = chans[ci];
            const size_t n = 30000;
            float *x = malloc(n * nch * sizeof *x);
            uint32_t s = 99u + (uint32_t)(r * 10 + ci);
            for (size_t i = 0; i < n * nch; i++) {
                s = s * 1664525u + 1013904223u;
                double u = (double)(s >> 8) / (1u << 23) - 1.0;
                double level = (i / (size_t)nch / 13230) % 2 ? 0.05 : 1.0;
                x[i] = (float)(u * level);
            }
            float ref = tp_of(x, n, nch, (unsigned long)rates[r], 0, 0, 0);
            ck_assert(ref >= 0.99f);
            jtp rc;
            tp_run(&rc, x, n, nch, (unsigned long)rates[r], 0, 0, 0, JTP_CHANNELS);
            ck_assert(same_bits(jtp_peak(&rc), ref));
            for (int simd = 0; simd < 2; simd++)
                for (int prune = 0; prune < 2; prune++)
                    for (size_t p = 0; p < 6; p++) {
                        size_t piece = p < 5 ? pieces[p] : 0;
                        float v = tp_of(x, n, nch, (unsigned long)rates[r], piece, simd, prune);
                        ck_assert_msg(same_bits(v, ref), "%d Hz, %d ch, simd %d, prune %d, piece %zu: %.9g, not %.9g",
                                      rates[r], nch, simd, prune, piece, v, ref);
                        /* per channel: the peaks and the overs */
                        jtp t;
                        tp_run(&t, x, n, nch, (unsigned long)rates[r], piece, simd, prune, JTP_CHANNELS);
                        for (uint32_t c = 0; c < (uint32_t)nch; c++) {
                            ck_assert(same_bits(jtp_channel_peak(&t, c), jtp_channel_peak(&rc, c)));
                            ck_assert_uint_eq(jtp_overs(&t, c), jtp_overs(&rc, c));
                        }
                        jtp_free(&t);
                    }
            /* noise up to full scale rings over it between the samples */
            if (rates[r] < 192000)
                for (uint32_t c = 0; c < (uint32_t)nch; c++)
                    ck_assert_uint_gt(jtp_overs(&rc, c), 0);
            jtp_free(&rc);
            free(x);
        }
}
END_TEST

START_TEST(test_tp_summary)
{
    /* through the plugin: a stereo quarter-rate sine at 48 kHz, φ = π/8
     * (a sample peak of A·cos(π/8), 0.688 dB under its true peak A) on
     * the left, a quieter 1 kHz sine on the right: the summary's peaks are
     * the analytic ones and libebur128's; the same with the true peak
     * skipped from the graph, which drops the column */
    const int rate = 48000;
    const size_t n = 3 * (size_t)rate;
    const double A = 0.9;
    float *x = malloc(2 * n * sizeof *x);
    quarter_sine(x, n, 2, 0, rate, A, M_PI / 8);
    for (size_t i = 0; i < n; i++)
        x[2 * i + 1] = (float)(0.5 * sin(2 * M_PI * 1000 * (double)i / rate));
    tu_csv m, s;
    run(x, n, 2, rate, GRAPH(""), &m, &s);
    ck_assert_double_eq_tol(at(&s, 0, "true_peak"), db(A), 0.0005);
    ck_assert_double_eq_tol(at(&s, 0, "true_peak"), db(ref_true_peak(x, n, 2, rate, -1)), 0.05);
    ck_assert_double_eq_tol(at(&s, 0, "sample_peak"), db(A * cos(M_PI / 8)), 1e-4);
    tu_csv_free(&m);
    tu_csv_free(&s);
    /* an interval libebur128 reads itself (the path without the ring) */
    run(x, n, 2, rate, GRAPH("interval = 0.137"), &m, &s);
    ck_assert_double_eq_tol(at(&s, 0, "true_peak"), db(A), 0.0005);
    ck_assert_double_eq_tol(at(&s, 0, "sample_peak"), db(A * cos(M_PI / 8)), 1e-4);
    tu_csv_free(&m);
    tu_csv_free(&s);
    free(x);
}
END_TEST

START_TEST(test_tp_clip_agrees)
{
    /* the loudness and clip plugins on the same three-channel file, at
     * 44.1 kHz (4x) and 96 kHz (2x): a clipped 5 kHz sine, a quarter-rate
     * sine and quiet noise. clip's true_peak_c is each channel's figure
     * alone (mono, by truepeak.h), and loudness's true_peak is the
     * largest of them, to the bit */
    static const int rates[] = {44100, 96000};
    const char *graph = "[in]\nplugin = sndfile\n[lu]\nplugin = loudness\ninput = in\n"
                        "[cl]\nplugin = clip\ninput = in\ntrue_peak = true\n"
                        "[m]\nplugin = csv\ninput = lu\npath = {stem}.m.csv\n"
                        "[s]\nplugin = csv\ninput = lu.summary\npath = {stem}.s.csv\n"
                        "[e]\nplugin = csv\ninput = cl.events\npath = {stem}.e.csv\n"
                        "[c]\nplugin = csv\ninput = cl.summary\npath = {stem}.c.csv\n";
    for (int r = 0; r < 2; r++) {
        const int rate = rates[r], nch = 3;
        const size_t n = (size_t)rate;
        float *x = malloc(n * nch * sizeof *x), *mono = malloc(n * sizeof *mono);
        quarter_sine(x, n, nch, 1, rate, 0.7, M_PI / 8);
        uint32_t s = 5u;
        for (size_t i = 0; i < n; i++) {
            double v = 4 * sin(2 * M_PI * 5000 * (double)i / rate);
            x[i * nch] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
            s = s * 1664525u + 1013904223u;
            x[i * nch + 2] = (float)(0.3 * ((double)(s >> 8) / (1u << 23) - 1.0));
        }
        tu_write_wav(tu_path("in.wav"), rate, nch, n, x, 0);
        tu_write_file(tu_path("g.ini"), graph);
        int rc = tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o"));
        ck_assert_msg(rc == 0, "joule failed: %s", tu_stderr());
        tu_csv lu, cl;
        ck_assert_int_eq(tu_csv_read(tu_path("o/in.s.csv"), &lu), 0);
        ck_assert_int_eq(tu_csv_read(tu_path("o/in.c.csv"), &cl), 0);
        double most = -INFINITY;
        for (int c = 0; c < nch; c++) {
            char name[32];
            snprintf(name, sizeof name, "true_peak_ch%d", c);
            double v = at(&cl, 0, name);
            for (size_t i = 0; i < n; i++)
                mono[i] = x[i * nch + (size_t)c];
            float one = tp_of(mono, n, 1, (unsigned long)rate, 0, 1, 1);
            /* the CSV holds the float to round-trip precision */
            ck_assert_msg((float)v == (float)db(one), "%d Hz, channel %d: clip %.9g dB, alone %.9g dB", rate, c, v,
                          (double)(float)db(one));
            most = v > most ? v : most;
        }
        ck_assert_msg(at(&lu, 0, "true_peak") == most, "%d Hz: loudness %.9g dB, clip %.9g dB", rate,
                      at(&lu, 0, "true_peak"), most);
        /* the quarter-rate sine's is the grid's reading (its amplitude at
         * 4x, A·cos(π/8) at 2x); the clipped sine's rings over full scale */
        ck_assert_double_eq_tol(at(&cl, 0, "true_peak_ch1"), db(grid_reading(0.7, M_PI / 8, r ? 2 : 4)), 0.0005);
        ck_assert_double_gt(at(&cl, 0, "true_peak_ch0"), 0.0);
        ck_assert_double_gt(at(&cl, 0, "over_0dbtp_ch0"), 0);
        ck_assert_double_eq(at(&cl, 0, "over_0dbtp_ch1"), 0);
        tu_csv_free(&lu);
        tu_csv_free(&cl);
        free(x);
        free(mono);
    }
}
END_TEST

START_TEST(test_refuses)
{
    /* a rate libebur128 cannot meter */
    float x[64] = {0};
    tu_write_wav(tu_path("in.wav"), 8, 1, 64, x, 0);
    tu_write_file(tu_path("g.ini"), GRAPH(""));
    ck_assert_int_ne(tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o")), 0);
    ck_assert_msg(strstr(tu_stderr(), "rate"), "message: %s", tu_stderr());
    ck_assert(!tu_exists(tu_path("o/in.s.csv")));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loudness");
    TCase *tc = tcase_create("EBU");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ebu_case1);
    tcase_add_test(tc, test_minus20);
    tcase_add_test(tc, test_mono);
    tcase_add_test(tc, test_ebu_case3);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("Behaviour");
    tcase_set_timeout(tb, 120);
    tcase_add_test(tb, test_grid_and_times);
    tcase_add_test(tb, test_silence);
    tcase_add_test(tb, test_chunk_invariance);
    tcase_add_test(tb, test_refuses);
    tcase_add_test(tb, test_non_finite);
    suite_add_tcase(s, tb);
    TCase *tt = tcase_create("TruePeak");
    tcase_set_timeout(tt, 120);
    tcase_add_test(tt, test_tp_quarter_sines);
    tcase_add_test(tt, test_tp_clipped);
    tcase_add_test(tt, test_tp_channels_apart);
    tcase_add_test(tt, test_tp_splits);
    tcase_add_test(tt, test_tp_summary);
    tcase_add_test(tt, test_tp_clip_agrees);
    suite_add_tcase(s, tt);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
