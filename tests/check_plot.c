/* check_plot.c — the plot sink, by its pixels. Known signals are drawn
 * and the pictures read back (cairo_image_surface_create_from_png): a
 * 1 kHz tone lights, in the top colour of the map, the pixel row that the
 * frequency axis gives to 1 kHz, linear and log, with and without time
 * columns merged; silence is the map's floor; a tone 20 dB down gets the
 * colour 20 dB down; a per-channel spectrum shows the channel asked for;
 * curves land on the rows their values map to; events put their markers
 * at their times; SVG is well-formed; and the same bytes come out for any
 * chunk size and thread count.
 *
 * Every expected position is computed here from the layout documented in
 * plot.c (margins, plot area, the frequency bands of pixel rows, the value
 * and time scales), and every expected colour from matplotlib's colour
 * maps (the 256-entry originals; the plugin interpolates a smaller table,
 * hence a tolerance of a few units in the middle of the map). */
#include "gen_gait.h"
#include "testutil.h"

#include <cairo.h>
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* The documented layout (plot.c): margins and the plot area. */
#define LEFT 80
#define TOP 40
#define BOTTOM 56
#define RIGHT_SPEC 120
#define RIGHT_CURVES 24

/* matplotlib's inferno and viridis (the 256-entry tables), at 0, 153, 255 */
static const int INFERNO_0[3] = {0, 0, 4}, INFERNO_153[3] = {221, 81, 58}, INFERNO_255[3] = {252, 255, 164};
static const int VIRIDIS_0[3] = {68, 1, 84};
static const int TAB10_BLUE[3] = {31, 119, 180};

/* ---- pictures ----------------------------------------------------------- */

typedef struct pic {
    cairo_surface_t *s;
    int w, h, stride;
    const unsigned char *d;
} pic;

static pic load(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s", tu_path(rel));
    pic m;
    m.s = cairo_image_surface_create_from_png(path);
    ck_assert_msg(cairo_surface_status(m.s) == CAIRO_STATUS_SUCCESS, "%s: %s", rel,
                  cairo_status_to_string(cairo_surface_status(m.s)));
    cairo_surface_flush(m.s);
    m.w = cairo_image_surface_get_width(m.s);
    m.h = cairo_image_surface_get_height(m.s);
    m.stride = cairo_image_surface_get_stride(m.s);
    m.d = cairo_image_surface_get_data(m.s);
    return m;
}

static void unload(pic *m)
{
    cairo_surface_destroy(m->s);
}

/* The pixel's colour (an opaque PNG loads as RGB24 or ARGB32 with alpha
 * 255: either way 0x..RRGGBB in a native uint32). */
static void rgb(const pic *m, int x, int y, int c[3])
{
    ck_assert_msg(x >= 0 && x < m->w && y >= 0 && y < m->h, "pixel (%d, %d) outside %dx%d", x, y, m->w, m->h);
    uint32_t v = ((const uint32_t *)(m->d + (size_t)y * m->stride))[x];
    c[0] = (int)(v >> 16 & 255);
    c[1] = (int)(v >> 8 & 255);
    c[2] = (int)(v & 255);
}

static int close_to(const int c[3], const int want[3], int tol)
{
    for (int k = 0; k < 3; k++)
        if (abs(c[k] - want[k]) > tol)
            return 0;
    return 1;
}

#define ASSERT_COLOUR(m, x, y, want, tol, what)                                                                  \
    do {                                                                                                       \
        int c_[3];                                                                                             \
        const int *w_ = (want);                                                                                \
        rgb(m, x, y, c_);                                                                                      \
        ck_assert_msg(close_to(c_, w_, tol), "%s: pixel (%d, %d) is (%d, %d, %d), expected (%d, %d, %d) ± %d",  \
                      what, x, y, c_[0], c_[1], c_[2], w_[0], w_[1], w_[2], tol);                             \
    } while (0)

/* ---- signals and runs ------------------------------------------------------ */

/* Run `graph` (text) on `in.wav` made of `x`; the exit status. */
static int run_wav(const char *graph, const float *x, size_t frames, int channels, int rate)
{
    tu_write_wav(tu_path("in.wav"), rate, channels, frames, x, 0);
    tu_write_file(tu_path("g.ini"), graph);
    return tu_joule("run '%s' '%s' -o '%s'", tu_path("g.ini"), tu_path("in.wav"), tu_path("o"));
}

/* 4 s at 8 kHz: a 1 kHz sine of amplitude 0.5 for 2 s, then silence. */
#define RATE 8000
#define NSAMP (4 * RATE)
static float *tone_then_silence(void)
{
    float *x = calloc(NSAMP, sizeof *x);
    for (size_t i = 0; i < NSAMP / 2; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / RATE));
    return x;
}

/* The pixel row (picture y) showing frequency f: pixel row j from the
 * bottom covers [j, j+1) of ph equal parts of the axis. */
static int row_of(double f, double fmin, double fmax, int log_axis, int ph)
{
    double u = log_axis ? log(f / fmin) / log(fmax / fmin) : (f - fmin) / (fmax - fmin);
    int j = (int)floor(u * ph);
    if (j > ph - 1)
        j = ph - 1;
    return TOP + ph - 1 - j;
}

/* The range of pixel columns wholly inside frames [k0, k1) of n frames
 * spread over pw columns (column i covers frames [i n/pw, (i+1) n/pw)). */
static void columns_within(double k0, double k1, double n, int pw, int *i0, int *i1)
{
    *i0 = (int)ceil(k0 * pw / n);
    *i1 = (int)floor(k1 * pw / n) - 1;
}

/* ---- spectrograms ---------------------------------------------------------- */

/* The tone lights the 1 kHz row at the top of the colour map, rows far from
 * it and the silent half are the floor; the frequency tick of 1 kHz is on
 * the lit row. hop 256 keeps every frame (122 < 2 × plot width); hop 16
 * makes 1937 frames, so the plot merges time columns as they stream in. */
static void check_tone(int hop, int log_axis)
{
    const int W = 600, H = 400, pw = W - LEFT - RIGHT_SPEC, ph = H - TOP - BOTTOM;
    const int N = 1024;
    float *x = tone_then_silence();
    char g[512];
    snprintf(g, sizeof g,
             "[in]\nplugin = sndfile\n[spec]\nplugin = fft\ninput = in\nframe = %d\nhop = %d\n"
             "[pic]\nplugin = plot\ninput = spec\nwidth = %d\nheight = %d\nfrequency = %s\npath = t.png\n",
             N, hop, W, H, log_axis ? "log" : "linear");
    ck_assert_msg(run_wav(g, x, NSAMP, 1, RATE) == 0, "%s", tu_stderr());
    free(x);
    pic m = load("o/t.png");
    ck_assert_int_eq(m.w, W);
    ck_assert_int_eq(m.h, H);

    /* bins k·8000/1024 Hz, k = 0..512: 1 kHz is bin 128, a bin centre, so
     * the Hann window leaves it and its two neighbours only */
    const double fmin = log_axis ? RATE / (double)N : 0, fmax = RATE / 2.0;
    const int y1k = row_of(1000, fmin, fmax, log_axis, ph);
    const double n = (NSAMP - N) / hop + 1;
    /* frames wholly in the tone end by sample 16000, silent ones start there */
    int t0, t1, s0, s1;
    columns_within(0, floor((NSAMP / 2 - N) / (double)hop) + 1, n, pw, &t0, &t1);
    columns_within(ceil(NSAMP / 2 / (double)hop), n, n, pw, &s0, &s1);
    ck_assert_int_gt(t1 - t0, 50);
    ck_assert_int_gt(s1 - s0, 50);
    for (int i = t0; i <= t1; i++) {
        ASSERT_COLOUR(&m, LEFT + i, y1k, INFERNO_255, 0, "the 1 kHz row, tone");
        /* well away from the tone's three bins: nothing (linear: 8 rows
         * are 105 Hz, 13 bins; log: 8 rows are 25 % in frequency) */
        for (int y = TOP; y < TOP + ph; y++)
            if (abs(y - y1k) >= 8)
                ASSERT_COLOUR(&m, LEFT + i, y, INFERNO_0, 0, "far from the tone");
    }
    for (int i = s0; i <= s1; i++)
        for (int y = TOP; y < TOP + ph; y++)
            ASSERT_COLOUR(&m, LEFT + i, y, INFERNO_0, 0, "silence");
    /* the axis: the 1 kHz tick (1.0 kHz on a linear axis of 0.5 kHz steps,
     * 1k on a log axis) is drawn on that row, left of the plot area, and
     * nothing 3 rows above or below it */
    static const int ink[3] = {34, 34, 34}, white[3] = {255, 255, 255};
    ASSERT_COLOUR(&m, LEFT - 3, y1k, ink, 40, "the 1 kHz tick");
    ASSERT_COLOUR(&m, LEFT - 3, y1k - 3, white, 0, "above the 1 kHz tick");
    ASSERT_COLOUR(&m, LEFT - 3, y1k + 3, white, 0, "below the 1 kHz tick");
    unload(&m);
}

START_TEST(test_tone_linear)
{
    check_tone(256, 0);
}
END_TEST

START_TEST(test_tone_log)
{
    check_tone(256, 1);
}
END_TEST

START_TEST(test_tone_merged_columns)
{
    check_tone(16, 0);
}
END_TEST

/* A second tone 20 dB below the first: with db_range 50 its row is 30 dB
 * above the floor, colour index round(255 · 30/50) = 153. */
START_TEST(test_levels)
{
    const int ph = 400 - TOP - BOTTOM;
    const size_t n = 2 * RATE;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / RATE) + 0.05 * sin(2 * M_PI * 2000.0 * i / RATE));
    const char *g = "[in]\nplugin = sndfile\n[spec]\nplugin = fft\ninput = in\nframe = 1024\nhop = 512\n"
                    "[pic]\nplugin = plot\ninput = spec\nwidth = 600\nheight = 400\ndb_range = 50\npath = l.png\n";
    ck_assert_msg(run_wav(g, x, n, 1, RATE) == 0, "%s", tu_stderr());
    free(x);
    pic m = load("o/l.png");
    const int y1 = row_of(1000, 0, 4000, 0, ph), y2 = row_of(2000, 0, 4000, 0, ph);
    for (int i = 10; i < 390; i += 7) {
        ASSERT_COLOUR(&m, LEFT + i, y1, INFERNO_255, 0, "the 0 dB tone");
        ASSERT_COLOUR(&m, LEFT + i, y2, INFERNO_153, 3, "the -20 dB tone");
    }
    unload(&m);
}
END_TEST

/* Per-channel spectra: the mean power of the channels by default (both
 * tones, equally strong, at the top), or the channel asked for. */
START_TEST(test_channels)
{
    const int ph = 400 - TOP - BOTTOM;
    const size_t n = 2 * RATE;
    float *x = malloc(2 * n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / RATE));
        x[2 * i + 1] = (float)(0.5 * sin(2 * M_PI * 2000.0 * i / RATE));
    }
    const int y1 = row_of(1000, 0, 4000, 0, ph), y2 = row_of(2000, 0, 4000, 0, ph);
    static const char *const chans[] = {"", "ch0", "ch1"};
    for (int c = 0; c < 3; c++) {
        char g[512];
        snprintf(g, sizeof g,
                 "[in]\nplugin = sndfile\n[spec]\nplugin = fft\ninput = in\nmix = channels\n"
                 "[pic]\nplugin = plot\ninput = spec\nwidth = 600\nheight = 400\nchannel = %s\npath = c.png\n",
                 chans[c]);
        ck_assert_msg(run_wav(g, x, n, 2, RATE) == 0, "%s", tu_stderr());
        pic m = load("o/c.png");
        for (int i = 10; i < 390; i += 9) {
            ASSERT_COLOUR(&m, LEFT + i, y1, c == 2 ? INFERNO_0 : INFERNO_255, 0, chans[c]);
            ASSERT_COLOUR(&m, LEFT + i, y2, c == 1 ? INFERNO_0 : INFERNO_255, 0, chans[c]);
        }
        unload(&m);
    }
    /* a channel the spectrum does not have */
    ck_assert_int_ne(run_wav("[in]\nplugin = sndfile\n[spec]\nplugin = fft\ninput = in\nmix = channels\n"
                             "[pic]\nplugin = plot\ninput = spec\nchannel = ch7\n",
                             x, n, 2, RATE),
                     0);
    ck_assert_msg(strstr(tu_stderr(), "ch7"), "%s", tu_stderr());
    free(x);
}
END_TEST

/* Silence alone, in another colour map: all of it that map's floor. */
START_TEST(test_silence_viridis)
{
    const int ph = 400 - TOP - BOTTOM, pw = 600 - LEFT - RIGHT_SPEC;
    float *x = calloc(RATE, sizeof *x);
    const char *g = "[in]\nplugin = sndfile\n[spec]\nplugin = fft\ninput = in\nframe = 256\nhop = 128\n"
                    "[pic]\nplugin = plot\ninput = spec\nwidth = 600\nheight = 400\ncolormap = viridis\npath = v.png\n";
    ck_assert_msg(run_wav(g, x, RATE, 1, RATE) == 0, "%s", tu_stderr());
    free(x);
    pic m = load("o/v.png");
    for (int i = 0; i < pw; i += 3)
        for (int y = TOP; y < TOP + ph; y += 5)
            ASSERT_COLOUR(&m, LEFT + i, y, VIRIDIS_0, 0, "silence");
    unload(&m);
}
END_TEST

/* Shorter than a frame: no rows, still a picture of the full size. */
START_TEST(test_no_rows)
{
    float x[100] = {0};
    const char *g = "[in]\nplugin = sndfile\n[spec]\nplugin = fft\ninput = in\n"
                    "[pic]\nplugin = plot\ninput = spec\npath = e.png\n"
                    "[cur]\nplugin = plot\ninput = in\npath = e2.png\n";
    ck_assert_msg(run_wav(g, x, 100, 1, RATE) == 0, "%s", tu_stderr());
    pic m = load("o/e.png");
    ck_assert_int_eq(m.w, 1200);
    ck_assert_int_eq(m.h, 600);
    unload(&m);
    m = load("o/e2.png");
    ck_assert_int_eq(m.w, 1200);
    unload(&m);
}
END_TEST

/* ---- curves ------------------------------------------------------------------ */

/* Is the pixel mostly the first curve colour (tab10 blue, antialiased
 * over white: blue well above red)? */
static int bluish(const pic *m, int x, int y)
{
    int c[3];
    rgb(m, x, y, c);
    return c[2] - c[0] >= 80;
}

/* RMS per 800-sample frame of a 100 Hz sine (8 periods a frame: exactly
 * A/√2): 0.8 for the first 2 s, then 0.2; frames 0-19 and 20-39. */
static void check_rms_curve(const char *y_range)
{
    const int W = 600, H = 400, pw = W - LEFT - RIGHT_CURVES, ph = H - TOP - BOTTOM;
    float *x = malloc(NSAMP * sizeof *x);
    for (size_t i = 0; i < NSAMP; i++)
        x[i] = (float)((i < NSAMP / 2 ? 0.8 : 0.2) * sin(2 * M_PI * 100.0 * i / RATE));
    char g[512];
    snprintf(g, sizeof g,
             "[in]\nplugin = sndfile\n[e]\nplugin = energy\ninput = in\nframe = 800\nhop = 800\nfeatures = rms\n"
             "[pic]\nplugin = plot\ninput = e\nwidth = %d\nheight = %d\ny_range = %s\npath = r.png\n",
             W, H, y_range);
    ck_assert_msg(run_wav(g, x, NSAMP, 1, RATE) == 0, "%s", tu_stderr());
    free(x);
    const double v1 = 0.8 / sqrt(2), v2 = 0.2 / sqrt(2);
    double lo, hi;
    if (*y_range) {
        ck_assert_int_eq(sscanf(y_range, "%lf, %lf", &lo, &hi), 2);
    } else { /* the data's range and 5 % of it on each side */
        lo = v2 - 0.05 * (v1 - v2);
        hi = v1 + 0.05 * (v1 - v2);
    }
    /* one unit (FS), one panel: the whole plot area */
    const double yv1 = TOP + ph - (v1 - lo) / (hi - lo) * ph, yv2 = TOP + ph - (v2 - lo) / (hi - lo) * ph;
    pic m = load("o/r.png");
    /* 40 frames over pw columns: frame k at x = LEFT + k/40 · pw */
    const int a_end = (int)(LEFT + 19.0 / 40 * pw), b_start = (int)ceil(LEFT + 20.0 / 40 * pw);
    const int b_end = (int)(LEFT + 39.0 / 40 * pw);
    for (int xx = LEFT + 4; xx < a_end - 2; xx += 5) {
        ck_assert_msg(bluish(&m, xx, (int)floor(yv1)), "no curve at (%d, %d)", xx, (int)floor(yv1));
        ck_assert_msg(!bluish(&m, xx, (int)floor(yv1) - 3) && !bluish(&m, xx, (int)floor(yv1) + 3),
                      "curve too thick or misplaced at x %d", xx);
        ck_assert_msg(!bluish(&m, xx, (int)floor(yv2)), "curve at (%d, %d) before its time", xx, (int)floor(yv2));
    }
    for (int xx = b_start + 3; xx < b_end - 2; xx += 5) {
        ck_assert_msg(bluish(&m, xx, (int)floor(yv2)), "no curve at (%d, %d)", xx, (int)floor(yv2));
        ck_assert_msg(!bluish(&m, xx, (int)floor(yv1)), "curve at (%d, %d) after its time", xx, (int)floor(yv1));
    }
    /* exactly the first palette colour where the line covers a pixel
     * fully: a 1.5 px line centred at y covers the row holding y by at
     * least 0.75; somewhere along it, by more (nothing else is blue) */
    int best = 999;
    for (int xx = LEFT + 4; xx < a_end - 2; xx++)
        for (int dy = -1; dy <= 1; dy++) {
            int c[3];
            rgb(&m, xx, (int)floor(yv1) + dy, c);
            int d = abs(c[0] - TAB10_BLUE[0]) + abs(c[1] - TAB10_BLUE[1]) + abs(c[2] - TAB10_BLUE[2]);
            if (d < best)
                best = d;
        }
    ck_assert_msg(best <= 150, "the curve's colour is %d away from tab10 blue", best);
    unload(&m);
}

START_TEST(test_curve_fixed_range)
{
    check_rms_curve("0, 1");
}
END_TEST

START_TEST(test_curve_auto_range)
{
    check_rms_curve("");
}
END_TEST

/* A long signal as curves (the time columns merged many times): its
 * min/max envelope keeps a single-sample spike that an average would lose. */
START_TEST(test_curve_keeps_peaks)
{
    const int W = 400, H = 300, pw = W - LEFT - RIGHT_CURVES, ph = H - TOP - BOTTOM;
    const size_t n = 200000; /* 25 s at 8 kHz: 635 rows per pixel */
    float *x = calloc(n, sizeof *x);
    const size_t spike = 123457;
    x[spike] = 0.9f;
    char g[512];
    snprintf(g, sizeof g, "[in]\nplugin = sndfile\n[pic]\nplugin = plot\ninput = in\nwidth = %d\nheight = %d\n"
                          "y_range = -1, 1\npath = s.png\n", W, H);
    ck_assert_msg(run_wav(g, x, n, 1, RATE) == 0, "%s", tu_stderr());
    free(x);
    pic m = load("o/s.png");
    const double xs = LEFT + (double)spike / n * pw;
    const int y0 = (int)floor(TOP + ph - (0 - -1.0) / 2 * ph), ys = (int)floor(TOP + ph - (0.9 - -1.0) / 2 * ph);
    int found = 0;
    for (int xx = (int)xs - 2; xx <= (int)xs + 2; xx++)
        found |= bluish(&m, xx, ys + 2);
    ck_assert_msg(found, "the spike at x %.1f is lost", xs);
    ck_assert_msg(bluish(&m, LEFT + 10, y0), "no zero line");
    ck_assert_msg(!bluish(&m, LEFT + 10, ys + 2), "a spike where there is none");
    unload(&m);
}
END_TEST

/* ---- events --------------------------------------------------------------------- */

START_TEST(test_event_markers)
{
    /* 30 s of walking at 100 steps/min between 3 s standing, 100 Hz;
     * steps → events, 20 px apart */
    const int W = 1200, pw = W - LEFT - RIGHT_CURVES;
    gg_part parts[] = {{3, 0, 0, 0}, {30, 100, 100, 0}, {3, 0, 0, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 3, .amp = 3, .noise = 0.1, .seed = 7};
    double *truth;
    size_t nt;
    gg_walk_csv(tu_path("walk.csv"), &o, &truth, &nt);
    free(truth);
    tu_write_file(tu_path("ev.ini"),
                  "[imu]\nplugin = sensor\ntime = t\n"
                  "[mag]\nplugin = vector\ninput = imu\nkeep = none\nnorm = ax, ay, az\n"
                  "[steps]\nplugin = steps\ninput = mag\n"
                  "[pic]\nplugin = plot\ninput = mag, steps\nwidth = 1200\nheight = 400\npath = ev.png\n"
                  "[st]\nplugin = csv\ninput = steps\npath = {stem}.steps.csv\n"
                  "[mg]\nplugin = csv\ninput = mag\npath = {stem}.mag.csv\n");
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s'", tu_path("ev.ini"), tu_path("walk.csv"), tu_path("o")) == 0, "%s",
                  tu_stderr());
    tu_csv st, mg;
    ck_assert_int_eq(tu_csv_read(tu_path("o/walk.steps.csv"), &st), 0);
    ck_assert_int_eq(tu_csv_read(tu_path("o/walk.mag.csv"), &mg), 0);
    ck_assert_uint_gt(st.rows, 20);
    ck_assert_uint_gt(mg.rows, 1000);
    const int tm = tu_csv_col(&mg, "time"), ts = tu_csv_col(&st, "time");
    ck_assert_int_ge(tm, 0);
    ck_assert_int_ge(ts, 0);
    /* the time axis: [t0, t0 + rows / rate] over the plot area's width */
    const double t0 = mg.v[tm], rate = 1 / (mg.v[mg.cols + tm] - mg.v[tm]);
    const double span = mg.rows / rate;
    pic m = load("o/ev.png");
    /* a marker's triangle: its tip 1 px above the plot area, 8 px tall,
     * so 4 rows above the plot area it is about 3 px wide, centred on the
     * event's pixel column */
    const int ty = TOP - 4;
    double prev = -1;
    for (size_t r = 0; r < st.rows; r++) {
        double t = st.v[r * st.cols + ts];
        double x = LEFT + (t - t0) / span * pw;
        int dark = 0;
        for (int xx = (int)floor(x) - 1; xx <= (int)floor(x) + 1; xx++) {
            int c[3];
            rgb(&m, xx, ty, c);
            dark |= c[0] < 120;
        }
        ck_assert_msg(dark, "no marker for the event at %.3f s (x %.1f)", t, x);
        if (prev >= 0 && x - prev > 12) {
            int c[3];
            rgb(&m, (int)floor((x + prev) / 2), ty, c);
            ck_assert_msg(c[0] > 240, "a marker between the events at x %.1f and %.1f", prev, x);
        }
        prev = x;
    }
    tu_csv_free(&st);
    tu_csv_free(&mg);
    unload(&m);
}
END_TEST

/* ---- SVG ------------------------------------------------------------------------- */

/* Well-formed XML, checked by hand: every element closed in order,
 * attributes quoted, comments, processing instructions and declarations
 * skipped. Returns NULL or what is wrong. */
static const char *xml_check(const char *s)
{
    static char why[128];
    const char *stack[256];
    size_t len[256];
    int depth = 0, roots = 0;
    while (*s) {
        if (*s != '<') {
            s++;
            continue;
        }
        if (!strncmp(s, "<?", 2) || !strncmp(s, "<!--", 4) || !strncmp(s, "<!", 2)) {
            const char *end = strstr(s, !strncmp(s, "<?", 2) ? "?>" : !strncmp(s, "<!--", 4) ? "-->" : ">");
            if (!end)
                return "unterminated <? or <!";
            s = end + 1;
            continue;
        }
        int closing = s[1] == '/';
        const char *name = s + 1 + closing, *p = name;
        while (*p && !strchr(" \t\r\n/>", *p))
            p++;
        if (p == name)
            return "a tag without a name";
        size_t n = (size_t)(p - name);
        int quote = 0;
        while (*p && (quote || *p != '>')) {
            if (*p == '"' || *p == '\'')
                quote = quote == *p ? 0 : quote ? quote : *p;
            p++;
        }
        if (!*p)
            return "unterminated tag";
        int self = p[-1] == '/';
        if (closing) {
            if (!depth || len[depth - 1] != n || strncmp(stack[depth - 1], name, n)) {
                snprintf(why, sizeof why, "</%.*s> closes nothing open", (int)n, name);
                return why;
            }
            depth--;
        } else if (!self) {
            if (depth == 256)
                return "nested too deep";
            if (!depth)
                roots++;
            stack[depth] = name;
            len[depth++] = n;
        } else if (!depth) {
            roots++;
        }
        s = p + 1;
    }
    if (depth) {
        snprintf(why, sizeof why, "<%.*s> never closed", (int)len[depth - 1], stack[depth - 1]);
        return why;
    }
    return roots == 1 ? NULL : "not one root element";
}

START_TEST(test_svg)
{
    float *x = tone_then_silence();
    const char *g = "[in]\nplugin = sndfile\n[spec]\nplugin = fft\ninput = in\n"
                    "[pic]\nplugin = plot\ninput = spec\nwidth = 640\nheight = 360\npath = {stem}.svg\n"
                    "[e]\nplugin = energy\ninput = in\nframe = 400\nhop = 400\n"
                    "[cur]\nplugin = plot\ninput = e\nformat = svg\npath = {stem}.curves.out\n";
    ck_assert_msg(run_wav(g, x, NSAMP, 1, RATE) == 0, "%s", tu_stderr());
    free(x);
    static const char *const files[] = {"o/in.svg", "o/in.curves.out"};
    for (int f = 0; f < 2; f++) {
        char *s = tu_read_file(tu_path(files[f]));
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(!strncmp(s, "<?xml", 5), "%s starts with %.20s", files[f], s);
        const char *why = xml_check(s);
        ck_assert_msg(why == NULL, "%s: %s", files[f], why);
        const char *root = strstr(s, "<svg");
        ck_assert_ptr_nonnull(root);
        ck_assert_msg(strstr(root, f ? "width=\"1200" : "width=\"640"), "%s: %.200s", files[f], root);
        ck_assert_msg(strstr(root, f ? "height=\"600" : "height=\"360"), "%s: %.200s", files[f], root);
        if (!f)
            ck_assert_msg(strstr(s, "<image"), "the spectrogram is not embedded as an image");
        free(s);
    }
    /* the same bytes when the plugins run inside the joule process, after
     * other pictures were drawn there (cairo counts some ids per process) */
    ck_assert_msg(tu_joule("run '%s' '%s' -o '%s' --no-isolate -j 1 --no-cache", tu_path("g.ini"),
                           tu_path("in.wav"), tu_path("o2")) == 0,
                  "%s", tu_stderr());
    ck_assert_msg(tu_same_bytes(tu_path("o/in.svg"), tu_path("o2/in.svg")), "the SVG changed in process");
}
END_TEST

/* ---- what is refused ------------------------------------------------------------- */

START_TEST(test_refused)
{
    float x[4000] = {0};
    /* a spectrogram of something that is no spectrum */
    ck_assert_int_ne(run_wav("[in]\nplugin = sndfile\n[e]\nplugin = energy\ninput = in\n"
                             "[pic]\nplugin = plot\ninput = e\nmode = spectrogram\n",
                             x, 4000, 1, RATE),
                     0);
    ck_assert_msg(strstr(tu_stderr(), "spectrum"), "%s", tu_stderr());
    /* no format from the name */
    ck_assert_int_eq(run_wav("[in]\nplugin = sndfile\n[pic]\nplugin = plot\ninput = in\npath = x.jpg\n", x, 4000,
                             1, RATE),
                     2);
    ck_assert_msg(strstr(tu_stderr(), ".png or .svg"), "%s", tu_stderr());
    /* a malformed range */
    ck_assert_int_eq(run_wav("[in]\nplugin = sndfile\n[pic]\nplugin = plot\ninput = in\ny_range = 1, 0\n", x, 4000,
                             1, RATE),
                     2);
    ck_assert_msg(strstr(tu_stderr(), "y_range"), "%s", tu_stderr());
    /* a column that is not there */
    ck_assert_int_ne(run_wav("[in]\nplugin = sndfile\n[pic]\nplugin = plot\ninput = in\ncolumns = ch3\n", x, 4000,
                             1, RATE),
                     0);
    ck_assert_msg(strstr(tu_stderr(), "ch3"), "%s", tu_stderr());
}
END_TEST

/* ---- determinism ------------------------------------------------------------------- */

START_TEST(test_chunk_invariance)
{
    /* a spectrogram whose time columns merge (969 frames, 240 columns
     * kept), a curve of the signal itself (8000 rows), SVG too */
    const size_t n = RATE;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 9;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        double noise = (double)(s >> 8) / (1u << 23) - 1.0;
        x[2 * i] = (float)(0.3 * sin(2 * M_PI * (200 + 0.2 * i) * i / RATE) + 0.05 * noise);
        x[2 * i + 1] = (float)(0.2 * noise);
    }
    tu_write_wav(tu_path("y.wav"), RATE, 2, n, x, 0);
    free(x);
    tu_write_file(tu_path("g.ini"),
                  "[in]\nplugin = sndfile\n"
                  "[spec]\nplugin = fft\ninput = in\nframe = 256\nhop = 8\nmix = channels\n"
                  "[a]\nplugin = plot\ninput = spec\nwidth = 320\nheight = 200\npath = {stem}.a.png\n"
                  "[b]\nplugin = plot\ninput = spec\nwidth = 320\nheight = 200\nfrequency = log\nreduce = max\n"
                  "channel = ch1\npath = {stem}.b.svg\n"
                  "[c]\nplugin = plot\ninput = in\nwidth = 320\nheight = 200\npath = {stem}.c.png\n");
    static const char *const outs[] = {"y.a.png", "y.b.svg", "y.c.png"};
    char *why = tu_invariance(tu_path("g.ini"), tu_path("y.wav"), outs, 3);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

START_TEST(test_chunk_invariance_events)
{
    gg_part parts[] = {{2, 0, 0, 0}, {15, 110, 110, 0}};
    gg_walk_opts o = {.rate = 100, .parts = parts, .n_parts = 2, .amp = 3, .noise = 0.1, .seed = 3};
    double *truth;
    size_t nt;
    gg_walk_csv(tu_path("w.csv"), &o, &truth, &nt);
    free(truth);
    tu_write_file(tu_path("ge.ini"), "[imu]\nplugin = sensor\ntime = t\n"
                                     "[steps]\nplugin = steps\ninput = imu\n"
                                     "[pic]\nplugin = plot\ninput = imu, steps\nwidth = 320\nheight = 300\n"
                                     "path = {stem}.png\n");
    static const char *const outs[] = {"w.png"};
    char *why = tu_invariance(tu_path("ge.ini"), tu_path("w.csv"), outs, 1);
    ck_assert_msg(why == NULL, "%s", why);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plot");
    TCase *sp = tcase_create("Spectrogram");
    tcase_set_timeout(sp, 120);
    tcase_add_test(sp, test_tone_linear);
    tcase_add_test(sp, test_tone_log);
    tcase_add_test(sp, test_tone_merged_columns);
    tcase_add_test(sp, test_levels);
    tcase_add_test(sp, test_channels);
    tcase_add_test(sp, test_silence_viridis);
    tcase_add_test(sp, test_no_rows);
    suite_add_tcase(s, sp);
    TCase *cu = tcase_create("Curves");
    tcase_set_timeout(cu, 120);
    tcase_add_test(cu, test_curve_fixed_range);
    tcase_add_test(cu, test_curve_auto_range);
    tcase_add_test(cu, test_curve_keeps_peaks);
    tcase_add_test(cu, test_event_markers);
    suite_add_tcase(s, cu);
    TCase *io = tcase_create("Files");
    tcase_set_timeout(io, 120);
    tcase_add_test(io, test_svg);
    tcase_add_test(io, test_refused);
    suite_add_tcase(s, io);
    TCase *inv = tcase_create("Invariance");
    tcase_set_timeout(inv, 300);
    tcase_add_test(inv, test_chunk_invariance);
    tcase_add_test(inv, test_chunk_invariance_events);
    suite_add_tcase(s, inv);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
