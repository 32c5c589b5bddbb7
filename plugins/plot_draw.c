/* plot_draw.c — the plot sink's picture: layout, axes, colour maps, and
 * writing the PNG or SVG through the host's output file. Everything here
 * runs once, at finish, on what plot.c reduced to pixel resolution. The
 * layout is described in plot.c's header; the constants are in plot.h. */
#include "plot.h"

#include <cairo.h>
#include <cairo-svg.h>
#include <png.h>

#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- colour maps ---------------------------------------------------------
 * matplotlib's inferno, magma and viridis (Nathaniel J. Smith, Stéfan van
 * der Walt, Eric Firing; CC0), sampled at 33 evenly spaced points and
 * rounded to 8 bits: linear interpolation between them stays within 2/255
 * of the 256-entry originals. Entry 0 is the floor (silence). */
static const unsigned char cmaps[3][33][3] = {
    {/* inferno */
     {0, 0, 4},       {4, 3, 18},      {11, 7, 36},     {21, 11, 55},    {33, 12, 74},    {46, 10, 90},
     {60, 9, 101},    {74, 12, 107},   {87, 16, 109},   {99, 20, 110},   {112, 25, 110},  {125, 30, 109},
     {137, 34, 106},  {150, 39, 102},  {163, 43, 97},   {175, 49, 92},   {187, 55, 85},   {198, 62, 77},
     {209, 70, 68},   {219, 79, 59},   {227, 89, 50},   {235, 101, 40},  {241, 113, 30},  {246, 127, 20},
     {249, 141, 10},  {251, 156, 6},   {252, 171, 15},  {251, 186, 31},  {249, 202, 50},  {245, 217, 73},
     {242, 232, 101}, {243, 245, 134}, {252, 255, 164}},
    {/* magma */
     {0, 0, 4},       {3, 3, 17},      {10, 8, 34},     {19, 13, 51},    {29, 17, 70},    {40, 17, 90},
     {54, 16, 106},   {67, 15, 118},   {80, 18, 124},   {93, 23, 127},   {105, 28, 129},  {118, 33, 129},
     {130, 38, 129},  {143, 42, 129},  {156, 46, 127},  {169, 50, 125},  {182, 55, 121},  {195, 59, 117},
     {207, 65, 112},  {219, 72, 106},  {230, 81, 99},   {238, 92, 94},   {245, 105, 92},  {249, 120, 93},
     {251, 135, 97},  {253, 150, 104}, {254, 165, 113}, {254, 180, 123}, {254, 195, 135}, {254, 209, 148},
     {253, 224, 162}, {252, 238, 176}, {252, 253, 191}},
    {/* viridis */
     {68, 1, 84},     {71, 13, 96},    {72, 24, 106},   {72, 35, 116},   {71, 45, 123},   {69, 54, 129},
     {66, 64, 134},   {63, 73, 137},   {59, 82, 139},   {55, 90, 141},   {51, 99, 141},   {47, 106, 142},
     {44, 114, 142},  {41, 122, 142},  {38, 129, 142},  {35, 137, 142},  {33, 144, 140},  {31, 152, 139},
     {31, 159, 136},  {33, 166, 133},  {40, 174, 128},  {49, 181, 123},  {62, 188, 116},  {76, 194, 108},
     {93, 201, 99},   {110, 206, 88},  {130, 211, 76},  {150, 216, 63},  {171, 220, 50},  {192, 223, 36},
     {213, 226, 26},  {234, 229, 26},  {253, 231, 37}},
};

uint32_t pl_colour(int cmap, int index)
{
    if (index < 0)
        index = 0;
    if (index > 255)
        index = 255;
    /* control point k sits at index k·255/32 */
    int num = index * 32, k = num / 255, rem = num % 255;
    if (k >= 32) {
        k = 31;
        rem = 255;
    }
    const unsigned char *a = cmaps[cmap][k], *b = cmaps[cmap][k + 1];
    uint32_t rgb = 0;
    for (int c = 0; c < 3; c++) {
        int v = (a[c] * (255 - rem) + b[c] * rem + 127) / 255;
        rgb = rgb << 8 | (uint32_t)v;
    }
    return rgb;
}

/* tab10, matplotlib's default cycle of curve colours */
static const uint32_t palette[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b,
                                   0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};

static void set_rgb(cairo_t *cr, uint32_t rgb, double alpha)
{
    cairo_set_source_rgba(cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0, (rgb & 255) / 255.0, alpha);
}

/* ---- text ------------------------------------------------------------------ */

#define INK 0x222222
#define FAINT 0xdddddd

/* Text anchored at (x, y): ax 0 left, 0.5 centre, 1 right; ay 0 top, 0.5
 * middle, 1 bottom of the font's ascent-to-descent box. */
static void text(cairo_t *cr, double x, double y, double size, int bold, double ax, double ay, const char *s)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_font_extents_t fe;
    cairo_text_extents(cr, s, &te);
    cairo_font_extents(cr, &fe);
    double h = fe.ascent + fe.descent;
    cairo_move_to(cr, x - ax * te.x_advance, y - ay * h + fe.ascent);
    cairo_show_text(cr, s);
}

static double text_width(cairo_t *cr, double size, const char *s)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

/* Rotated a quarter turn anticlockwise, centred on (x, y). */
static void text_up(cairo_t *cr, double x, double y, double size, const char *s)
{
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -M_PI / 2);
    text(cr, 0, 0, size, 0, 0.5, 0.5, s);
    cairo_restore(cr);
}

/* ---- ticks ---------------------------------------------------------------- */

/* A step of 1, 2 or 5 × 10^k giving about `target` intervals over span. */
static double nice_step(double span, double target)
{
    if (!(span > 0) || target < 1)
        target = 1;
    double raw = span / target, e = pow(10, floor(log10(raw))), f = raw / e;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * e;
}

/* A tick value as text, with the decimals its step needs. */
static void fmt_tick(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 9)
        dec = 9;
    if (fabs(v) < step * 1e-6)
        v = 0; /* no "-0" */
    snprintf(buf, n, "%.*f", dec, v);
}

static void tick_line(cairo_t *cr, double x1, double y1, double x2, double y2)
{
    set_rgb(cr, INK, 1);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x1, y1);
    cairo_line_to(cr, x2, y2);
    cairo_stroke(cr);
}

/* The frame around a rectangle of pixels, drawn just outside it. */
static void frame(cairo_t *cr, int x, int y, int w, int h)
{
    set_rgb(cr, INK, 1);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x - 0.5, y - 0.5, w + 1, h + 1);
    cairo_stroke(cr);
}

/* ---- the time axis ---------------------------------------------------------- */

static double t_end(const plot *p)
{
    double d = (double)p->rows / p->rate;
    return p->t0 + (d > 0 ? d : 1 / p->rate);
}

static double x_of_time(const plot *p, double t)
{
    return p->x0 + (t - p->t0) / (t_end(p) - p->t0) * p->pw;
}

/* Seconds as m:ss or h:mm:ss. */
static void fmt_clock(char *buf, size_t n, double t, int hours)
{
    long s = lround(t);
    int neg = s < 0;
    if (neg)
        s = -s;
    if (hours)
        snprintf(buf, n, "%s%ld:%02ld:%02ld", neg ? "-" : "", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, n, "%s%ld:%02ld", neg ? "-" : "", s / 60, s % 60);
}

/* Ticks and labels under the plot area; seconds, or m:ss from two minutes
 * on. `top`..`bottom` is the span grid lines cover (none when grid = 0). */
static void time_axis(const plot *p, cairo_t *cr, int grid)
{
    const double ts = p->t0, te = t_end(p), span = te - ts;
    const int clock = span >= 120;
    const int yb = p->y0 + p->ph;
    double target = p->pw / 90.0, step;
    if (clock) {
        static const double steps[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                                       21600, 43200, 86400};
        double raw = span / (target < 1 ? 1 : target);
        step = steps[sizeof steps / sizeof steps[0] - 1];
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            if (steps[i] >= raw) {
                step = steps[i];
                break;
            }
        while (step < raw)
            step *= 2;
    } else {
        step = nice_step(span, target);
    }
    char buf[48];
    for (double i = ceil(ts / step - 1e-9);; i++) {
        double t = i * step;
        if (t > te + step * 1e-9)
            break;
        double x = floor(x_of_time(p, t)) + 0.5;
        if (grid) {
            set_rgb(cr, FAINT, 1);
            cairo_set_line_width(cr, 1);
            cairo_move_to(cr, x, p->y0);
            cairo_line_to(cr, x, yb);
            cairo_stroke(cr);
        }
        tick_line(cr, x, yb, x, yb + 5);
        if (clock)
            fmt_clock(buf, sizeof buf, t, span >= 3600);
        else
            fmt_tick(buf, sizeof buf, t, step);
        set_rgb(cr, INK, 1);
        text(cr, x, yb + 7, 12, 0, 0.5, 0, buf);
    }
    set_rgb(cr, INK, 1);
    text(cr, p->x0 + p->pw / 2.0, p->height - 4, 13, 0, 0.5, 1,
         clock ? (span >= 3600 ? "time (h:mm:ss)" : "time (m:ss)") : "time (s)");
}

/* ---- the spectrogram ---------------------------------------------------------- */

/* Pixel column i's power per row (ph values, row 0 at the bottom): the
 * stored columns it overlaps, weighted by the rows they share with it (or
 * the largest, for reduce = max). */
static void pixel_column(const plot *p, int i, double *out)
{
    const double n = (double)p->rows, a = i * n / p->pw, b = (i + 1) * n / p->pw;
    const double per = (double)p->per;
    const int ph = p->ph;
    for (int j = 0; j < ph; j++)
        out[j] = 0;
    double wsum = 0;
    for (uint64_t c = (uint64_t)floor(a / per); c < p->ncol; c++) {
        double cs = c * per, ce = cs + (c + 1 == p->ncol ? (double)p->last_n : per);
        if (cs >= b)
            break;
        double w = fmin(b, ce) - fmax(a, cs);
        if (!(w > 0))
            continue;
        const float *v = p->spec + c * (size_t)ph;
        for (int j = 0; j < ph; j++) {
            if (p->reduce == PL_REDUCE_MEAN)
                out[j] += w * v[j];
            else if (v[j] > out[j])
                out[j] = v[j];
        }
        wsum += w;
    }
    if (p->reduce == PL_REDUCE_MEAN && wsum > 0)
        for (int j = 0; j < ph; j++)
            out[j] /= wsum;
}

static double to_db(double pw)
{
    return pw > 0 ? 10 * log10(pw) : -INFINITY;
}

/* The spectrogram's pixels, and its colour map's top (dB). Two passes
 * over the stored columns, the first for the largest power, rather than a
 * picture of dB values kept between them: resampling a column is cheap,
 * memory for a picture is not. 0, or -1 when out of memory. */
static int spec_image(const plot *p, cairo_surface_t **img, double *top)
{
    const int pw = p->pw, ph = p->ph;
    double *col = malloc((size_t)ph * sizeof *col);
    *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
    if (!col || cairo_surface_status(*img)) {
        free(col);
        return -1;
    }
    double mx = 0;
    for (int i = 0; i < pw && p->rows; i++) {
        pixel_column(p, i, col);
        for (int j = 0; j < ph; j++)
            if (col[j] > mx)
                mx = col[j];
    }
    *top = p->db_auto ? (mx > 0 ? to_db(mx) : 0) : p->db_max;
    const double lo = *top - p->db_range;
    unsigned char *data = cairo_image_surface_get_data(*img);
    const int stride = cairo_image_surface_get_stride(*img);
    cairo_surface_flush(*img);
    for (int i = 0; i < pw; i++) {
        if (p->rows)
            pixel_column(p, i, col);
        for (int j = 0; j < ph; j++) {
            double x = p->rows ? (to_db(col[j]) - lo) / p->db_range : 0;
            int idx = !(x > 0) ? 0 : x >= 1 ? 255 : (int)floor(x * 255 + 0.5);
            /* image row 0 is the top frequency */
            ((uint32_t *)(data + (size_t)(ph - 1 - j) * stride))[i] = pl_colour(p->cmap, idx);
        }
    }
    cairo_surface_mark_dirty(*img);
    free(col);
    return 0;
}

/* The centre of the pixel row that shows frequency f: row j (from the
 * bottom) shows [j, j+1) of ph equal parts of the axis, the top row also
 * fmax itself. */
static double y_of_freq(const plot *p, double f)
{
    double u = p->fscale == PL_LOG ? log(f / p->fmin) / log(p->fmax / p->fmin) : (f - p->fmin) / (p->fmax - p->fmin);
    double j = floor(u * p->ph);
    if (j > p->ph - 1)
        j = p->ph - 1;
    return p->y0 + p->ph - 1 - j + 0.5;
}

static void freq_axis(const plot *p, cairo_t *cr)
{
    char buf[48];
    double last_y = INFINITY;
    if (p->fscale == PL_LOG) {
        static const double m125[] = {1, 2, 5}, m1_9[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        int dense = log10(p->fmax / p->fmin) < 1.3;
        const double *ms = dense ? m1_9 : m125;
        int nm = dense ? 9 : 3;
        for (double e = pow(10, floor(log10(p->fmin))); e <= p->fmax; e *= 10)
            for (int k = 0; k < nm; k++) {
                double f = ms[k] * e;
                if (f < p->fmin * (1 - 1e-9) || f > p->fmax * (1 + 1e-9))
                    continue;
                double y = y_of_freq(p, f);
                tick_line(cr, p->x0 - 5, y, p->x0, y);
                if (last_y - y < 16)
                    continue; /* no room for its label */
                if (f >= 1000)
                    snprintf(buf, sizeof buf, "%gk", f / 1000);
                else
                    snprintf(buf, sizeof buf, "%g", f);
                set_rgb(cr, INK, 1);
                text(cr, p->x0 - 8, y, 12, 0, 1, 0.5, buf);
                last_y = y;
            }
        set_rgb(cr, INK, 1);
        text_up(cr, 16, p->y0 + p->ph / 2.0, 13, "frequency (Hz)");
        return;
    }
    const int khz = p->fmax >= 2000;
    const double unit = khz ? 1000 : 1;
    const double lo = p->fmin / unit, hi = p->fmax / unit, step = nice_step(hi - lo, p->ph / 50.0);
    for (double i = ceil(lo / step - 1e-9);; i++) {
        double v = i * step;
        if (v > hi + step * 1e-9)
            break;
        double y = y_of_freq(p, v * unit);
        tick_line(cr, p->x0 - 5, y, p->x0, y);
        fmt_tick(buf, sizeof buf, v, step);
        set_rgb(cr, INK, 1);
        text(cr, p->x0 - 8, y, 12, 0, 1, 0.5, buf);
    }
    set_rgb(cr, INK, 1);
    text_up(cr, 16, p->y0 + p->ph / 2.0, 13, khz ? "frequency (kHz)" : "frequency (Hz)");
}

static int colour_bar(const plot *p, cairo_t *cr, double top)
{
    const int bx = p->x0 + p->pw + PL_BAR_GAP, ph = p->ph;
    cairo_surface_t *bar = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PL_BAR_WIDTH, ph);
    if (cairo_surface_status(bar)) {
        cairo_surface_destroy(bar);
        return -1;
    }
    unsigned char *data = cairo_image_surface_get_data(bar);
    const int stride = cairo_image_surface_get_stride(bar);
    cairo_surface_flush(bar);
    for (int y = 0; y < ph; y++) {
        uint32_t c = pl_colour(p->cmap, ph > 1 ? (int)floor((ph - 1 - y) * 255.0 / (ph - 1) + 0.5) : 255);
        uint32_t *row = (uint32_t *)(data + (size_t)y * stride);
        for (int x = 0; x < PL_BAR_WIDTH; x++)
            row[x] = c;
    }
    cairo_surface_mark_dirty(bar);
    cairo_set_source_surface(cr, bar, bx, p->y0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, bx, p->y0, PL_BAR_WIDTH, ph);
    cairo_fill(cr);
    cairo_surface_destroy(bar);
    frame(cr, bx, p->y0, PL_BAR_WIDTH, ph);

    /* ticks: in dB of the bins' power, or below the peak for an
     * uncalibrated stream scaled to its peak */
    const int rel = p->db_auto && !p->calibrated;
    const double range = p->db_range, lo = top - range;
    const double step = nice_step(range, ph / 45.0);
    char buf[48];
    const int xr = bx + PL_BAR_WIDTH;
    for (double i = floor(top / step + 1e-9);; i--) {
        double d = rel ? top - (floor(top / step + 1e-9) - i) * step : i * step;
        if (d < lo - step * 1e-9)
            break;
        if (d > top + step * 1e-9)
            continue;
        double y = floor(p->y0 + (top - d) / range * ph) + 0.5;
        if (y > p->y0 + ph)
            y = p->y0 + ph - 0.5;
        tick_line(cr, xr, y, xr + 4, y);
        fmt_tick(buf, sizeof buf, rel ? d - top : d, step);
        set_rgb(cr, INK, 1);
        text(cr, xr + 7, y, 12, 0, 0, 0.5, buf);
    }
    set_rgb(cr, INK, 1);
    text_up(cr, p->width - 14, p->y0 + ph / 2.0, 13, rel ? "dB re peak" : p->db_label);
    return 0;
}

static int draw_spectrogram(const plot *p, cairo_t *cr)
{
    cairo_surface_t *img = NULL;
    double top;
    if (spec_image(p, &img, &top)) {
        cairo_surface_destroy(img);
        return -1;
    }
    cairo_set_source_surface(cr, img, p->x0, p->y0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, p->x0, p->y0, p->pw, p->ph);
    cairo_fill(cr);
    cairo_surface_destroy(img);
    if (!p->rows) {
        set_rgb(cr, 0xffffff, 1);
        text(cr, p->x0 + p->pw / 2.0, p->y0 + p->ph / 2.0, 14, 0, 0.5, 0.5, "no rows");
    }
    frame(cr, p->x0, p->y0, p->pw, p->ph);
    freq_axis(p, cr);
    time_axis(p, cr, 0);
    return colour_bar(p, cr, top);
}

/* ---- curves ------------------------------------------------------------------- */

typedef struct panel {
    int top, h;
    double lo, hi;
} panel;

/* A value's y. Far outside the panel (an infinity: the energy plugin's
 * dB of silence) it is held 10^5 px beyond the edge, where the panel's
 * clip hides it: the line still leaves the panel in the right direction,
 * and cairo's fixed-point coordinates do not overflow. */
static double y_of_value(const panel *q, double v)
{
    double y = q->top + q->h - (v - q->lo) / (q->hi - q->lo) * q->h;
    if (!(y > q->top - 1e5))
        y = q->top - 1e5;
    if (!(y < q->top + q->h + 1e5))
        y = q->top + q->h + 1e5;
    return y;
}

static void panel_range(const plot *p, int k, panel *q)
{
    if (p->y_fixed) {
        q->lo = p->y_lo;
        q->hi = p->y_hi;
        return;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (uint32_t c = 0; c < p->ncol; c++)
        for (uint32_t s = 0; s < p->nser; s++) {
            if (p->ser_panel[s] != k)
                continue;
            const pl_span *sp = &p->span[(size_t)c * p->nser + s];
            if (isfinite(sp->min) && sp->min < lo)
                lo = sp->min;
            if (isfinite(sp->max) && sp->max > hi)
                hi = sp->max;
        }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    }
    double pad = hi > lo ? 0.05 * (hi - lo) : lo != 0 ? 0.05 * fabs(lo) : 0.5;
    q->lo = lo - pad;
    q->hi = hi + pad;
}

static void value_axis(const plot *p, cairo_t *cr, const panel *q, int k)
{
    const double step = nice_step(q->hi - q->lo, q->h / 45.0);
    char buf[48];
    for (double i = ceil(q->lo / step - 1e-9);; i++) {
        double v = i * step;
        if (v > q->hi + step * 1e-9)
            break;
        double y = floor(y_of_value(q, v)) + 0.5;
        set_rgb(cr, FAINT, 1);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, p->x0, y);
        cairo_line_to(cr, p->x0 + p->pw, y);
        cairo_stroke(cr);
        tick_line(cr, p->x0 - 5, y, p->x0, y);
        fmt_tick(buf, sizeof buf, v, step);
        set_rgb(cr, INK, 1);
        text(cr, p->x0 - 8, y, 12, 0, 1, 0.5, buf);
    }
    /* the axis name: the unit, or the one column's name and unit */
    const char *unit = p->panel_unit[k];
    uint32_t n = 0, only = 0;
    for (uint32_t s = 0; s < p->nser; s++)
        if (p->ser_panel[s] == k) {
            n++;
            only = s;
        }
    char name[160];
    if (n == 1)
        snprintf(name, sizeof name, *unit ? "%s (%s)" : "%s", p->names[p->ser_col[only]], unit);
    else
        snprintf(name, sizeof name, "%s", *unit ? unit : "value");
    set_rgb(cr, INK, 1);
    text_up(cr, 16, q->top + q->h / 2.0, 13, name);
}

/* x of row k of the stream */
static double x_of_row(const plot *p, double k)
{
    return p->x0 + k / (double)(p->rows ? p->rows : 1) * p->pw;
}

static void draw_series(const plot *p, cairo_t *cr, const panel *q, uint32_t s)
{
    const double per = (double)p->per;
    int pen = 0;
    cairo_new_path(cr);
    for (uint32_t c = 0; c < p->ncol; c++) {
        const pl_span *sp = &p->span[(size_t)c * p->nser + s];
        if (sp->first != sp->first) {
            pen = 0;
            continue;
        }
        const double k0 = c * per, cnt = c + 1 == p->ncol ? (double)p->last_n : per;
        double pts[4][2];
        int np;
        if (cnt <= 1) {
            pts[0][0] = x_of_row(p, k0);
            pts[0][1] = sp->first;
            np = 1;
        } else {
            double xm = x_of_row(p, k0 + (cnt - 1) / 2);
            pts[0][0] = x_of_row(p, k0);
            pts[0][1] = sp->first;
            pts[1][0] = xm;
            pts[1][1] = sp->min;
            pts[2][0] = xm;
            pts[2][1] = sp->max;
            pts[3][0] = x_of_row(p, k0 + cnt - 1);
            pts[3][1] = sp->last;
            np = 4;
        }
        for (int i = 0; i < np; i++) {
            double y = y_of_value(q, pts[i][1]);
            if (!pen)
                cairo_move_to(cr, pts[i][0], y);
            else
                cairo_line_to(cr, pts[i][0], y);
            pen = 1;
        }
    }
    set_rgb(cr, palette[s % 10], 1);
    cairo_set_line_width(cr, 1.5);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr);
}

static void legend(const plot *p, cairo_t *cr, const panel *q, int k)
{
    double w = 0;
    int n = 0;
    for (uint32_t s = 0; s < p->nser; s++)
        if (p->ser_panel[s] == k) {
            double tw = text_width(cr, 12, p->names[p->ser_col[s]]);
            if (tw > w)
                w = tw;
            n++;
        }
    if (n < 2)
        return; /* one curve: the axis names it */
    const int row = 17, fit = (q->h - 12) / row;
    if (n > fit)
        n = fit;
    if (n <= 0)
        return;
    const double bw = w + 40, bh = n * row + 8, bx = p->x0 + p->pw - bw - 8, by = q->top + 8;
    cairo_rectangle(cr, bx, by, bw, bh);
    set_rgb(cr, 0xffffff, 0.85);
    cairo_fill_preserve(cr);
    set_rgb(cr, 0xbbbbbb, 1);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    int i = 0;
    for (uint32_t s = 0; s < p->nser && i < n; s++) {
        if (p->ser_panel[s] != k)
            continue;
        double y = by + 4 + i * row + row / 2.0;
        set_rgb(cr, palette[s % 10], 1);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, bx + 8, y);
        cairo_line_to(cr, bx + 26, y);
        cairo_stroke(cr);
        set_rgb(cr, INK, 1);
        text(cr, bx + 32, y, 12, 0, 0, 0.5, p->names[p->ser_col[s]]);
        i++;
    }
}

static void draw_curves(const plot *p, cairo_t *cr)
{
    const int np = p->npanel ? (int)p->npanel : 1;
    const int h = (p->ph - PL_PANEL_GAP * (np - 1)) / np;
    for (int k = 0; k < np; k++) {
        panel q = {p->y0 + k * (h + PL_PANEL_GAP), h, 0, 1};
        panel_range(p, k, &q);
        value_axis(p, cr, &q, k);
        cairo_save(cr);
        cairo_rectangle(cr, p->x0, q.top, p->pw, q.h);
        cairo_clip(cr);
        for (uint32_t s = 0; s < p->nser; s++)
            if (p->ser_panel[s] == k)
                draw_series(p, cr, &q, s);
        cairo_restore(cr);
        legend(p, cr, &q, k);
        frame(cr, p->x0, q.top, p->pw, q.h);
    }
    if (!p->rows) {
        set_rgb(cr, INK, 1);
        text(cr, p->x0 + p->pw / 2.0, p->y0 + p->ph / 2.0, 14, 0, 0.5, 0.5, "no rows");
    }
    time_axis(p, cr, 0);
}

/* ---- events -------------------------------------------------------------------- */

static void triangle(cairo_t *cr, double x, double y)
{
    cairo_move_to(cr, x - 4.5, y - 8);
    cairo_line_to(cr, x + 4.5, y - 8);
    cairo_line_to(cr, x, y - 1);
    cairo_close_path(cr);
    cairo_fill(cr);
}

static void draw_events(const plot *p, cairo_t *cr)
{
    const uint32_t line = p->mode == PL_SPECTROGRAM ? 0xffffff : 0x444444;
    const uint32_t mark = p->mode == PL_SPECTROGRAM ? 0x0090d0 : 0x444444;
    const double te = t_end(p), per = (double)p->ev_per / (PL_EV_SUB * p->rate);
    static const double dash[] = {4, 3};
    for (uint32_t b = 0; b < p->cap; b++) {
        if (!p->ev[b])
            continue;
        double t = p->t0 + (b + 0.5) * per;
        if (t > te || !p->rows)
            continue;
        double x = floor(x_of_time(p, t)) + 0.5;
        cairo_set_dash(cr, dash, 2, 0);
        set_rgb(cr, line, 0.8);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, x, p->y0);
        cairo_line_to(cr, x, p->y0 + p->ph);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        set_rgb(cr, mark, 1);
        triangle(cr, x, p->y0);
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%llu event%s", (unsigned long long)p->n_events, p->n_events == 1 ? "" : "s");
    double w = text_width(cr, 12, buf);
    set_rgb(cr, mark, 1);
    triangle(cr, p->width - 16 - w - 10, 24);
    set_rgb(cr, INK, 1);
    text(cr, p->width - 16, 20, 12, 0, 1, 0.5, buf);
}

/* ---- the picture ---------------------------------------------------------------- */

/* ---- SVG ---------------------------------------------------------------------
 * cairo names an embedded image and a surface's group by ids it counts
 * across the whole process ("image74", "surface70"): the same picture
 * would come out with other names after other drawing, in this job or in
 * one beside it. So the document is gathered in memory (bounded by the
 * picture's size) and those ids are renumbered in order of appearance
 * before it is written. Every other id cairo writes (glyphs, clips,
 * patterns) is counted per document. */

typedef struct svgbuf {
    char *d;
    size_t n, cap;
} svgbuf;

static cairo_status_t svg_cb(void *closure, const unsigned char *data, unsigned int length)
{
    svgbuf *b = closure;
    void *d = b->d;
    if (jp_grow(&d, &b->cap, b->n + length + 1, 1))
        return CAIRO_STATUS_NO_MEMORY;
    b->d = d;
    memcpy(b->d + b->n, data, length);
    b->n += length;
    b->d[b->n] = '\0';
    return CAIRO_STATUS_SUCCESS;
}

/* Write the document with every `id="imageN"`, `#imageN` (and surfaceN)
 * renumbered 1, 2, ... in order of first appearance. */
static int svg_write(plot *p, const svgbuf *b)
{
    static const char *const kinds[] = {"image", "surface"};
    enum { MAXID = 64 };
    unsigned long from[2][MAXID];
    int nid[2] = {0, 0};
    FILE *f = p->file.f;
    const char *s = b->d, *end = b->d + b->n, *out = s;
    while (s < end) {
        const char *q = NULL;
        if (*s == '#')
            q = s + 1;
        else if (!strncmp(s, "id=\"", 4))
            q = s + 4;
        int k = -1;
        if (q)
            for (int i = 0; i < 2; i++)
                if (!strncmp(q, kinds[i], strlen(kinds[i])) && isdigit((unsigned char)q[strlen(kinds[i])]))
                    k = i;
        if (k < 0) {
            s++;
            continue;
        }
        const char *num = q + strlen(kinds[k]);
        char *after;
        unsigned long v = strtoul(num, &after, 10);
        int idx = -1;
        for (int i = 0; i < nid[k]; i++)
            if (from[k][i] == v)
                idx = i;
        if (idx < 0 && nid[k] < MAXID) {
            idx = nid[k]++;
            from[k][idx] = v;
        }
        if (idx >= 0) {
            fwrite(out, 1, (size_t)(num - out), f);
            fprintf(f, "%d", idx + 1);
            out = after;
        }
        s = after;
    }
    fwrite(out, 1, (size_t)(end - out), f);
    if (ferror(f)) {
        p->werr = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

/* ---- PNG ------------------------------------------------------------------------
 * Written with libpng rather than cairo_surface_write_to_png_stream, for
 * the settings: cairo leaves libpng's defaults (zlib level 6, the five
 * filters tried on every row), which took 0.4 s for a 1200 × 600
 * spectrogram; a spectrogram's pixels come from a 256-colour map, which
 * filtering (pixel differences) only scatters, so no filter at level 3
 * took 0.07 s and gave a file 20 % smaller. */

static void png_write_cb(png_structp png, png_bytep data, png_size_t n)
{
    plot *p = png_get_io_ptr(png);
    if (fwrite(data, 1, n, p->file.f) != n) {
        p->werr = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

static void png_error_cb(png_structp png, png_const_charp msg)
{
    plot *p = png_get_error_ptr(png);
    snprintf(p->perr, sizeof p->perr, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int write_png(plot *p, cairo_surface_t *sf)
{
    cairo_surface_flush(sf);
    const int w = cairo_image_surface_get_width(sf), hgt = cairo_image_surface_get_height(sf);
    const int stride = cairo_image_surface_get_stride(sf);
    const unsigned char *data = cairo_image_surface_get_data(sf);
    unsigned char *row = malloc((size_t)w * 3);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, p, png_error_cb, png_warn_cb);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!row || !png || !info) {
        snprintf(p->perr, sizeof p->perr, "out of memory");
        png_destroy_write_struct(&png, &info);
        free(row);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        return -1;
    }
    png_set_write_fn(png, p, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)hgt, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 3);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_write_info(png, info);
    for (int y = 0; y < hgt; y++) {
        const uint32_t *src = (const uint32_t *)(data + (size_t)y * stride); /* RGB24: 0x00RRGGBB */
        for (int x = 0; x < w; x++) {
            row[3 * x] = (unsigned char)(src[x] >> 16);
            row[3 * x + 1] = (unsigned char)(src[x] >> 8);
            row[3 * x + 2] = (unsigned char)src[x];
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    return 0;
}

static int draw(plot *p, cairo_t *cr)
{
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);

    set_rgb(cr, 0xffffff, 1);
    cairo_paint(cr);
    set_rgb(cr, INK, 1);
    text(cr, p->width / 2.0, PL_TOP / 2.0, 15, 1, 0.5, 0.5, p->title);
    int bad = 0;
    if (p->mode == PL_SPECTROGRAM)
        bad = draw_spectrogram(p, cr);
    else
        draw_curves(p, cr);
    if (p->has_events)
        draw_events(p, cr);
    return bad;
}

int pl_render(plot *p)
{
    const joule_host *h = p->host;
    cairo_surface_t *sf;
    svgbuf svg = {NULL, 0, 0};
    if (p->svg) {
        sf = cairo_svg_surface_create_for_stream(svg_cb, &svg, p->width, p->height);
#if CAIRO_VERSION >= CAIRO_VERSION_ENCODE(1, 15, 10)
        cairo_svg_surface_set_document_unit(sf, CAIRO_SVG_UNIT_PX);
#endif
    } else {
        sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, p->width, p->height);
    }
    cairo_t *cr = cairo_create(sf);
    int bad = draw(p, cr);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    int png_bad = 0;
    if (!bad && !st) {
        if (p->svg) {
            cairo_surface_finish(sf);
            st = cairo_surface_status(sf);
            if (!st)
                svg_write(p, &svg);
        } else {
            png_bad = write_png(p, sf);
        }
    }
    cairo_surface_destroy(sf);
    free(svg.d);
    if (p->werr) {
        h->error(h, "%s: write failed: %s", p->file.path, strerror(p->werr));
        return -1;
    }
    if (bad || st || png_bad) {
        h->error(h, "%s: cannot draw the picture: %s", p->file.path,
                 bad ? "out of memory" : png_bad ? p->perr : cairo_status_to_string(st));
        return -1;
    }
    return 0;
}
