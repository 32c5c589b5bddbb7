/* plot.h — what the plot sink's two halves share: plot.c reads the streams
 * and reduces them to the picture's resolution as rows arrive; plot_draw.c
 * lays the picture out and draws it with cairo at the end.
 *
 * The layout, in pixels of the picture (width × height), is the contract
 * the tests compute from (see plot.c's header for the whole of it):
 *
 *     plot area   x in [PL_LEFT, width - right), y in [PL_TOP, height - PL_BOTTOM)
 *     right       PL_RIGHT_SPEC with a colour bar, PL_RIGHT_CURVES without
 */
#ifndef JOULE_PLOT_H
#define JOULE_PLOT_H

#include <joule/plugin-util.h>

#include <stdint.h>

#define PL_LEFT 80          /* y tick labels and the y axis name        */
#define PL_TOP 40           /* the title                                 */
#define PL_BOTTOM 56        /* x tick labels and the x axis name         */
#define PL_RIGHT_SPEC 120   /* the colour bar, its ticks and its name    */
#define PL_RIGHT_CURVES 24
#define PL_BAR_GAP 16       /* from the plot area to the colour bar      */
#define PL_BAR_WIDTH 16
#define PL_PANEL_GAP 16     /* between stacked panels of curves          */
#define PL_MAX_SERIES 12    /* curves drawn at most (the first ones)     */
#define PL_MAX_PANELS 4     /* units, one panel each                     */
#define PL_EV_SUB 64        /* event times kept to 1/(64 rate)           */

enum { PL_SPECTROGRAM, PL_CURVES };
enum { PL_MAG, PL_POW, PL_DB };          /* spectrum input scale */
enum { PL_REDUCE_MEAN, PL_REDUCE_MAX };
enum { PL_LINEAR, PL_LOG };

/* One stored time column of a curve: the values of the rows it covers. */
typedef struct pl_span {
    float min, max, first, last; /* NaN when no row had a number */
} pl_span;

typedef struct plot {
    const joule_host *host;
    jp_outfile file;
    int svg;
    int mode;
    int width, height;
    int x0, y0, pw, ph; /* the plot area */
    char *title;
    int cmap;

    /* the input's time base */
    double rate, t0;
    uint64_t rows;      /* rows seen */

    /* Time reduction: stored columns of `per` rows each (the last one
     * maybe fewer); when `cap` are full, pairs are merged and `per`
     * doubles. Column c holds rows [c·per, (c+1)·per). */
    uint32_t cap, ncol;
    uint64_t per;
    uint64_t cur;       /* rows in the column being filled */

    /* spectrogram */
    uint32_t ncols_in, nbins, ngrp;
    int scale, reduce, fscale, chan; /* chan: -1 = mean power of all */
    double fmin, fmax, db_range, db_max;
    int db_auto;
    double *freq;       /* nbins centre frequencies */
    float *calp;        /* per input column: 1/S, power |X|² to the bin's power */
    float *offdb;       /* per input column: -10 log10 S */
    int calibrated;     /* the units give S and the input's unit */
    int mixed_units;
    char db_label[80];  /* the colour bar's name */
    uint32_t *row_lo;   /* per pixel row (0 = bottom): its bins [lo, hi) */
    uint32_t *row_hi;
    float *binp;        /* nbins: the channels' mean power */
    float *rowv;        /* ph: this row's value per pixel row */
    double *acc;        /* ph: the column being filled */
    float *spec;        /* cap × ph power, column-major by time */
    uint64_t last_n;    /* rows in the last stored column (if partial) */

    /* curves */
    uint32_t nser;
    uint32_t *ser_col;  /* input column per series */
    int *ser_panel;     /* panel per series */
    uint32_t npanel;
    const char *panel_unit[PL_MAX_PANELS];
    const char *const *names;
    pl_span *span;      /* cap × nser */
    pl_span *cspan;     /* nser: the column being filled */
    int y_fixed;
    double y_lo, y_hi;

    /* events: counts in buckets of ev_per/(PL_EV_SUB·rate) seconds */
    int has_events;
    uint32_t *ev;       /* cap buckets */
    uint64_t ev_per;
    uint64_t n_events;

    int werr;           /* errno of a failed write */
    char perr[128];     /* libpng's message */
} plot;

/* plot_draw.c: draw the picture and write it to p->file. 0, or -1 after
 * host->error. */
int pl_render(plot *p);

/* The colour maps: 33 control points each, as 8-bit RGB (plot_draw.c). */
uint32_t pl_colour(int cmap, int index); /* index 0..255 -> 0x00RRGGBB */

#endif
