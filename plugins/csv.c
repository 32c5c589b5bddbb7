/* csv.c — the CSV sink: a header row ("time" and the stream's column
 * names), then one line per row.
 *
 * Values are float32 printed with 9 significant digits (%.9g), the fewest
 * that always read back to the same float, byte for byte as printf would
 * write them but without it (numtext.h): formatting is most of what a
 * re-run served from the cache does. Times — t0 + row / rate for
 * signals and frames, the row's own time for events — are printed in
 * seconds to the nanosecond, trailing zeros dropped ("0.011609977"), with
 * integer arithmetic: a time column is as long as the file, and printf's
 * exact decimal conversion of doubles would cost more than the values.
 * NaN and infinities print as nan, inf and -inf, which strtod, Python and
 * numpy read back.
 *
 * The file is written under a temporary name and renamed into place only
 * when the whole job has succeeded (see util.h, "output files"). */
#define _GNU_SOURCE 1 /* sync_file_range (util.h, jp_outfile_writeback) */
#include <joule/plugin.h>

#include "numtext.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sep_choices[] = {"comma", "tab", "semicolon", NULL};

static const joule_param params[] = {
    {"path", JOULE_PARAM_STRING, JOULE_PARAM_OUT_PATH, "{stem}.{node}.csv", 0, 0, NULL, "",
     "Output file. {stem} {name} {dir} {node} are replaced per input; a relative path goes in the output "
     "folder (-o)."},
    {"time", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "", "Write the time column (seconds) first."},
    {"header", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "", "Write the header row of column names."},
    {"separator", JOULE_PARAM_ENUM, 0, "comma", 0, 0, sep_choices, "", "Field separator."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS, 0, "any stream"},
};

typedef struct csv {
    const joule_host *host;
    jp_outfile file;
    joule_format fmt;
    int time;
    char sep;
    char *line; /* formatted rows, written a block at a time */
    size_t line_cap;  /* the longest row                       */
    size_t block;     /* bytes of rows gathered before a write  */
} csv;

static int csv_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    csv *c = calloc(1, sizeof *c);
    if (!c) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = c;
    c->host = h;
    c->fmt = a->inputs[0];
    c->time = a->params[1].b;
    c->sep = ",\t;"[a->params[3].e];
    /* the widest value: "-1.23456789e-308" is 16; 24 leaves room */
    c->line_cap = ((size_t)c->fmt.n_columns + 1) * 26 + 2;
    c->block = c->line_cap > (1u << 16) ? c->line_cap : 1u << 16;
    c->line = malloc(c->block + c->line_cap);
    if (!c->line) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    if (jp_outfile_open(&c->file, a->params[0].s, h, 1 << 18))
        return JOULE_ERROR;
    if (a->params[2].b) {
        FILE *f = c->file.f;
        int first = 1;
        if (c->time) {
            fputs("time", f);
            first = 0;
        }
        for (uint32_t i = 0; i < c->fmt.n_columns; i++) {
            if (!first)
                fputc(c->sep, f);
            fputs(c->fmt.names[i], f);
            first = 0;
        }
        fputc('\n', f);
    }
    return JOULE_OK;
}

static size_t put_num(char *p, double v, int digits)
{
    if (isnan(v)) {
        memcpy(p, "nan", 3);
        return 3;
    }
    if (isinf(v)) {
        if (v < 0) {
            memcpy(p, "-inf", 4);
            return 4;
        }
        memcpy(p, "inf", 3);
        return 3;
    }
    if (v == 0) {
        /* keep the sign of zero: -0 reads back as -0 */
        if (signbit(v)) {
            memcpy(p, "-0", 2);
            return 2;
        }
        *p = '0';
        return 1;
    }
    return (size_t)sprintf(p, "%.*g", digits, v);
}

/* A value: 9 significant digits, the fewest that read back as the same
 * float, converted without printf (numtext.h). */
static size_t put_value(char *p, float v)
{
    if (!isfinite(v) || v == 0)
        return put_num(p, v, 9);
    return jp_put_float(p, v, 9);
}

/* Seconds to the nanosecond: "12", "0.5", "0.011609977". */
static size_t put_time(char *p, double t)
{
    if (!isfinite(t) || fabs(t) >= 9e9)
        return put_num(p, t, 12);
    char *start = p;
    if (t < 0) {
        *p++ = '-';
        t = -t;
    }
    unsigned long long ns = (unsigned long long)llround(t * 1e9);
    unsigned long long sec = ns / 1000000000u, frac = ns % 1000000000u;
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + sec % 10);
        sec /= 10;
    } while (sec);
    while (n)
        *p++ = digits[--n];
    if (frac) {
        *p++ = '.';
        int width = 9;
        while (frac % 10 == 0) {
            frac /= 10;
            width--;
        }
        for (int k = width - 1; k >= 0; k--) {
            p[k] = (char)('0' + frac % 10);
            frac /= 10;
        }
        p += width;
    }
    return (size_t)(p - start);
}

static int csv_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    (void)out;
    csv *c = self;
    const uint32_t nc = in->n_columns;
    FILE *f = c->file.f;
    char *p = c->line;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        if ((size_t)(p - c->line) >= c->block) {
            fwrite(c->line, 1, (size_t)(p - c->line), f);
            p = c->line;
            jp_outfile_writeback(&c->file);
        }
        const float *row = in->data + (size_t)r * nc;
        int first = 1;
        if (c->time) {
            double t = in->times ? in->times[r] : c->fmt.t0 + (double)(in->first_row + r) / c->fmt.rate;
            p += put_time(p, t);
            first = 0;
        }
        for (uint32_t k = 0; k < nc; k++) {
            if (!first)
                *p++ = c->sep;
            first = 0;
            p += put_value(p, row[k]);
        }
        *p++ = '\n';
    }
    fwrite(c->line, 1, (size_t)(p - c->line), f);
    if (ferror(f)) {
        c->host->error(c->host, "%s: write failed: %s", c->file.path, strerror(errno ? errno : EIO));
        return JOULE_ERROR;
    }
    return JOULE_OK;
}

static int csv_finish(void *self, joule_buffer *out)
{
    (void)out;
    csv *c = self;
    return jp_outfile_finish(&c->file, c->host) ? JOULE_ERROR : JOULE_END;
}

static void csv_close(void *self)
{
    csv *c = self;
    if (!c)
        return;
    jp_outfile_discard(&c->file);
    free(c->line);
    free(c);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "csv",
    .version = "1.0.0",
    .summary = "write any stream as CSV: a time column and the stream's columns, exact to the last bit",
    .role = JOULE_ROLE_SINK,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .open = csv_open,
    .process = csv_process,
    .finish = csv_finish,
    .close = csv_close,
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
