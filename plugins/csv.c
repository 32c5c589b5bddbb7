/* csv.c — the CSV sink: a header row ("time" and the stream's column
 * names), then one line per row.
 *
 * Values are float32 printed with 9 significant digits (%.9g), the fewest
 * that always read back to the same float, byte for byte as printf would
 * write them but without it (numtext.h): formatting is most of what a
 * re-run served from the cache does. `precision` asks for fewer
 * significant digits (a table for people: "-23.4" rather than
 * "-23.4212952"); `decimals` instead rounds to a number of places after
 * the point, trailing zeros dropped, so that what is zero but for
 * rounding error (a loudness range of 3.2e-13) reads 0. Times — t0 + row / rate for
 * signals and frames, the row's own time for events — are printed in
 * seconds to the nanosecond, trailing zeros dropped ("0.011609977"), with
 * integer arithmetic: a time column is as long as the file, and printf's
 * exact decimal conversion of doubles would cost more than the values.
 * NaN and infinities print as nan, inf and -inf, which strtod, Python and
 * numpy read back.
 *
 * The file is written under a temporary name and renamed into place only
 * when the whole job has succeeded (see util.h, "output files").
 *
 * One table for a run: when `path` names no part of the input
 * ("loudness.csv"), each input's rows are written to a part, and
 * csv_gather joins the parts into one table with a leading `file` column
 * (the input as given, quoted as RFC 4180 says when it holds a separator,
 * a quote or a line end). Inputs whose columns differ (a mono file and a
 * 5.1 one) share one header, the union of their columns in the order
 * first met; a column an input lacks is left empty. */
#define _GNU_SOURCE 1 /* sync_file_range (util.h, jp_outfile_writeback) */
#include <joule/plugin.h>

#include "numtext.h"
#include <joule/plugin-util.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const sep_choices[] = {"comma", "tab", "semicolon", NULL};

static const joule_param params[] = {
    {"path", JOULE_PARAM_STRING, JOULE_PARAM_OUT_PATH, "{stem}.{node}.csv", 0, 0, NULL, "",
     "Output file. {stem} {name} {dir} {node} are replaced per input; a relative path goes in the output "
     "folder (-o)."},
    {"time", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "", "Write the time column (seconds) first."},
    {"header", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "", "Write the header row of column names."},
    {"separator", JOULE_PARAM_ENUM, 0, "comma", 0, 0, sep_choices, "", "Field separator."},
    {"precision", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "9", 1, 9, NULL, "digits",
     "Significant digits of the values (not the time): 9 reads back as the same float; 3 or 4 reads better."},
    {"decimals", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "-1", -1, 9, NULL, "digits",
     "Instead of precision, round values to this many places after the point, trailing zeros dropped "
     "(3: -23.4567 -> -23.457, 3.2e-13 -> 0); -1: off. Values of 1e15 or more keep `precision`."},
    {"columns", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "The stream's columns to write, in this order (\"integrated, lra, true_peak\"); empty: all of them."},
};

enum { P_PATH, P_TIME, P_HEADER, P_SEP, P_PRECISION, P_DECIMALS, P_COLUMNS };

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS, 0, "any stream"},
};

typedef struct csv {
    const joule_host *host;
    jp_outfile file;
    joule_format fmt;
    int time;
    int digits;   /* significant digits                  */
    int decimals; /* places after the point, or -1: off  */
    char sep;
    uint32_t *sel;    /* the columns written, in order */
    uint32_t n_sel;
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
    c->time = a->params[P_TIME].b;
    c->sep = ",\t;"[a->params[P_SEP].e];
    c->digits = (int)a->params[P_PRECISION].i;
    c->decimals = (int)a->params[P_DECIMALS].i;
    char **want = NULL;
    size_t n_want = jp_split(a->params[P_COLUMNS].s, &want);
    if (!want) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    c->n_sel = n_want ? (uint32_t)n_want : c->fmt.n_columns;
    c->sel = malloc(c->n_sel * sizeof *c->sel);
    if (!c->sel) {
        free(want);
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    for (uint32_t i = 0; i < c->n_sel; i++) {
        int k = n_want ? jp_find_col(&c->fmt, want[i]) : (int)i;
        if (k < 0) {
            /* name what there is: the fix is usually a typo */
            char have[512] = "";
            size_t used = 0;
            for (uint32_t q = 0; q < c->fmt.n_columns && used + 2 < sizeof have; q++)
                used += (size_t)snprintf(have + used, sizeof have - used, "%s%s", q ? ", " : "", c->fmt.names[q]);
            h->error(h, "columns: the stream has no column '%s' (it has: %s)", want[i], have);
            free(want);
            return JOULE_ERROR;
        }
        c->sel[i] = (uint32_t)k;
        for (uint32_t q = 0; q < i; q++)
            if (c->sel[q] == c->sel[i]) {
                h->error(h, "columns: '%s' is named twice", want[i]);
                free(want);
                return JOULE_ERROR;
            }
    }
    free(want);
    /* the widest value: "-1.23456789e-308" is 16; 24 leaves room */
    c->line_cap = ((size_t)c->n_sel + 1) * 26 + 2;
    c->block = c->line_cap > (1u << 16) ? c->line_cap : 1u << 16;
    c->line = malloc(c->block + c->line_cap);
    if (!c->line) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    if (jp_outfile_open(&c->file, a->params[P_PATH].s, h, 1 << 18))
        return JOULE_ERROR;
    if (a->params[P_HEADER].b) {
        FILE *f = c->file.f;
        int first = 1;
        if (c->time) {
            fputs("time", f);
            first = 0;
        }
        for (uint32_t i = 0; i < c->n_sel; i++) {
            if (!first)
                fputc(c->sep, f);
            fputs(c->fmt.names[c->sel[i]], f);
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

/* A value: `digits` significant digits (9, the fewest that read back as
 * the same float, by default), converted without printf (numtext.h); or
 * rounded to `decimals` places, trailing zeros dropped. */
static size_t put_value(char *p, float v, int digits, int decimals)
{
    if (v == 0 && decimals >= 0) { /* rounded to places: zero has no sign */
        *p = '0';
        return 1;
    }
    if (!isfinite(v) || v == 0)
        return put_num(p, v, 9);
    if (decimals >= 0 && fabsf(v) < 1e15f) {
        int n = sprintf(p, "%.*f", decimals, (double)v);
        if (decimals > 0) {
            while (p[n - 1] == '0')
                n--;
            if (p[n - 1] == '.')
                n--;
        }
        if (n == 2 && p[0] == '-' && p[1] == '0') { /* rounded to zero: no sign */
            p[0] = '0';
            n = 1;
        }
        return (size_t)n;
    }
    return jp_put_float(p, v, digits);
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
        for (uint32_t k = 0; k < c->n_sel; k++) {
            if (!first)
                *p++ = c->sep;
            first = 0;
            p += put_value(p, row[c->sel[k]], c->digits, c->decimals);
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

/* ---- one table for the run ----------------------------------------------- */

/* One part, read a line at a time. */
typedef struct part_reader {
    FILE *f;
    char *line;
    size_t cap;
    ssize_t len;
} part_reader;

/* Open part i; 0, or -1 with the message set. */
static int part_open(const joule_gather_args *a, uint32_t i, part_reader *r)
{
    int fd = a->open_part(a, i);
    if (fd < 0)
        return -1;
    r->f = fdopen(fd, "r");
    if (!r->f) {
        a->host->error(a->host, "cannot read the part for %s: %s", a->labels[i], strerror(errno));
        close(fd);
        return -1;
    }
    return 0;
}

static int part_next(part_reader *r)
{
    r->len = getline(&r->line, &r->cap, r->f);
    if (r->len > 0 && r->line[r->len - 1] == '\n')
        r->line[--r->len] = '\0';
    return r->len >= 0;
}

/* Close the part; 0, or -1 with the message set when reading it failed. */
static int part_close(const joule_gather_args *a, uint32_t i, part_reader *r)
{
    int bad = r->f && ferror(r->f);
    if (r->f)
        fclose(r->f);
    r->f = NULL;
    if (bad)
        a->host->error(a->host, "cannot read the part for %s: %s", a->labels[i], strerror(errno ? errno : EIO));
    return bad ? -1 : 0;
}

/* The label as a CSV field: quoted when it must be (RFC 4180). */
static void put_label(FILE *out, const char *s, char sep)
{
    int quote = !*s || isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]);
    for (const char *p = s; *p && !quote; p++)
        quote = *p == sep || *p == '"' || *p == '\n' || *p == '\r';
    if (!quote) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Split `line` in place at `sep` into at most `max` fields (the last
 * one keeps the rest); returns the count. Values and column names never
 * hold a separator or a quote. */
static size_t split_fields(char *line, char sep, char **v, size_t max)
{
    size_t n = 0;
    for (char *p = line; n < max;) {
        char *e = strchr(p, sep);
        v[n++] = p;
        if (!e || n == max)
            break;
        *e = '\0';
        p = e + 1;
    }
    return n;
}

static size_t count_fields(const char *line, char sep)
{
    size_t k = 1;
    for (const char *q = line; (q = strchr(q, sep)); q++)
        k++;
    return k;
}

/* The union of the parts' columns: a column is its name and which
 * occurrence of that name it is in its part (a stream may repeat a name:
 * "time" beside the time column), so nothing is merged that a part keeps
 * apart. Found by hashing: a table of thousands of inputs and columns
 * must not cost their product. */
typedef struct col_union {
    char **names;
    unsigned *occ;
    size_t n, cap;
    size_t *slots; /* open addressing: index + 1, 0 empty */
    size_t n_slots;
} col_union;

static size_t col_hash(const char *s, unsigned occ)
{
    size_t h = 1469598103934665603u ^ occ;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int union_grow(col_union *u)
{
    size_t ns = u->n_slots ? 2 * u->n_slots : 64;
    size_t *slots = calloc(ns, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < u->n; i++) {
        size_t h = col_hash(u->names[i], u->occ[i]) & (ns - 1);
        while (slots[h])
            h = (h + 1) & (ns - 1);
        slots[h] = i + 1;
    }
    free(u->slots);
    u->slots = slots;
    u->n_slots = ns;
    return 0;
}

/* The index of (name, occ) in the union, added if new; -1: no memory. */
static long union_find(col_union *u, const char *name, unsigned occ)
{
    if (2 * (u->n + 1) > u->n_slots && union_grow(u))
        return -1;
    size_t h = col_hash(name, occ) & (u->n_slots - 1);
    for (; u->slots[h]; h = (h + 1) & (u->n_slots - 1)) {
        size_t i = u->slots[h] - 1;
        if (u->occ[i] == occ && !strcmp(u->names[i], name))
            return (long)i;
    }
    if (jp_grow((void **)&u->names, &u->cap, u->n + 1, sizeof *u->names))
        return -1;
    size_t cap = u->cap;
    unsigned *occs = realloc(u->occ, cap * sizeof *occs);
    if (!occs)
        return -1;
    u->occ = occs;
    char *nm = jp_strdup(name);
    if (!nm)
        return -1;
    u->names[u->n] = nm;
    u->occ[u->n] = occ;
    u->slots[h] = ++u->n;
    return (long)(u->n - 1);
}

static void union_free(col_union *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->names[i]);
    free(u->names);
    free(u->occ);
    free(u->slots);
}

/* Map a part's header (split into `fields`) onto the union: map[c] is
 * column c's place. 0, or -1: no memory. */
static int map_header(col_union *u, char **fields, size_t k, size_t *map)
{
    for (size_t c = 0; c < k; c++) {
        unsigned occ = 0;
        for (size_t q = 0; q < c; q++) /* the n-th time the name appears */
            occ += !strcmp(fields[q], fields[c]);
        long at = union_find(u, fields[c], occ);
        if (at < 0)
            return -1;
        map[c] = (size_t)at;
    }
    return 0;
}

static int csv_gather(const joule_gather_args *a)
{
    const joule_host *h = a->host;
    const char sep = ",\t;"[a->params[P_SEP].e];
    const int header = a->params[P_HEADER].b;
    const char *path = a->params[a->param].s;
    const uint32_t n = a->n_parts;
    part_reader r = {NULL, NULL, 0, 0};
    col_union u;
    memset(&u, 0, sizeof u);
    char **fields = NULL, **row = NULL;
    size_t fields_cap = 0, row_cap = 0, *map = NULL, map_cap = 0;
    int rc = JOULE_ERROR;
    int dup_fd = dup(a->out);
    FILE *out = dup_fd >= 0 ? fdopen(dup_fd, "w") : NULL;
    if (!out) {
        if (dup_fd >= 0)
            close(dup_fd);
        h->error(h, "%s: cannot write: %s", path, strerror(errno));
        return JOULE_ERROR;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 16);
    /* The header: every part's columns, first met first. Parts are read
     * one at a time (there may be more inputs than descriptors). */
    const char *label = "file";
    if (header) {
        for (uint32_t i = 0; i < n; i++) {
            if (part_open(a, i, &r))
                goto done;
            if (part_next(&r)) {
                size_t k = count_fields(r.line, sep);
                if (jp_grow((void **)&fields, &fields_cap, k, sizeof *fields) ||
                    jp_grow((void **)&map, &map_cap, k, sizeof *map)) {
                    h->error(h, "out of memory");
                    goto done;
                }
                split_fields(r.line, sep, fields, k);
                if (map_header(&u, fields, k, map)) {
                    h->error(h, "out of memory");
                    goto done;
                }
            }
            if (part_close(a, i, &r))
                goto done;
        }
        /* the input's column must not take a name the stream uses */
        static const char *const labels[] = {"file", "input", "input_file", "joule_input"};
        for (size_t l = 0; l < sizeof labels / sizeof *labels; l++) {
            label = labels[l];
            size_t c = 0;
            while (c < u.n && strcmp(u.names[c], label))
                c++;
            if (c == u.n)
                break;
        }
        fputs(label, out);
        for (size_t c = 0; c < u.n; c++) {
            fputc(sep, out);
            fputs(u.names[c], out);
        }
        fputc('\n', out);
    }
    /* The rows, each part's columns placed by name. */
    for (uint32_t i = 0; i < n; i++) {
        if (part_open(a, i, &r))
            goto done;
        size_t k = 0;
        int same = 1;
        if (header && part_next(&r)) {
            k = count_fields(r.line, sep);
            if (jp_grow((void **)&fields, &fields_cap, k, sizeof *fields) ||
                jp_grow((void **)&map, &map_cap, k, sizeof *map) ||
                jp_grow((void **)&row, &row_cap, u.n ? u.n : 1, sizeof *row)) {
                h->error(h, "out of memory");
                goto done;
            }
            split_fields(r.line, sep, fields, k);
            if (map_header(&u, fields, k, map)) { /* finds every name: added above */
                h->error(h, "out of memory");
                goto done;
            }
            same = k == u.n;
            for (size_t c = 0; c < k && same; c++)
                same = map[c] == c;
        }
        while (part_next(&r)) {
            put_label(out, a->labels[i], sep);
            if (!header || same) {
                fputc(sep, out);
                fwrite(r.line, 1, (size_t)r.len, out);
            } else {
                for (size_t c = 0; c < u.n; c++)
                    row[c] = "";
                size_t got = split_fields(r.line, sep, fields, k);
                for (size_t c = 0; c < got; c++)
                    row[map[c]] = fields[c];
                for (size_t c = 0; c < u.n; c++) {
                    fputc(sep, out);
                    fputs(row[c], out);
                }
            }
            fputc('\n', out);
        }
        if (part_close(a, i, &r))
            goto done;
    }
    rc = JOULE_OK;
done:
    if (r.f)
        fclose(r.f);
    free(r.line);
    {
        int bad = fflush(out) != 0 || ferror(out);
        int err = errno;
        bad |= fclose(out) != 0;
        if (bad && rc == JOULE_OK) {
            h->error(h, "%s: write failed: %s", path, strerror(err ? err : EIO));
            rc = JOULE_ERROR;
        }
    }
    union_free(&u);
    free(fields);
    free(row);
    free(map);
    return rc;
}

static void csv_close(void *self)
{
    csv *c = self;
    if (!c)
        return;
    jp_outfile_discard(&c->file);
    free(c->line);
    free(c->sel);
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
    .flags = 0,
    .gather = csv_gather,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Writes the stream it receives as an RFC 4180 CSV file: a time column (the row's time in seconds) "
                   "and one column per stream column, numbers printed so that they read back as the same float (or "
                   "to the precision or decimals asked for). The file is written through the host, so it appears "
                   "only when the whole job succeeded. With a path that names no part of the input it gathers one "
                   "table for the whole run, with a leading file column.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
