/* sensor.c — the sensor source: CSV / TSV files of timestamped samples
 * (accelerometers, gyroscopes, joint angles) as a uniform signal stream.
 *
 * Format. One row per line; fields separated by ',', ';' or tab (detected
 * from the first row, or `separator =`); an optional header row of column
 * names (`header =`), or names given with `columns =`; a UTF-8 byte order
 * mark, CRLF line ends, blank lines and comment lines (first non-blank
 * character '#') are accepted; a field may be quoted ("1.5", "a ""b"""),
 * within one line. A header name may carry its unit: `ax [m/s^2]` or
 * `ax (m/s^2)`. With ';' or tab as separator, ',' is also accepted as the
 * decimal mark.
 *
 * Time. A time column (`time =` name or number from 1; `auto` takes a
 * column named t, time, timestamp or ts, or starting with "time") in s,
 * ms, us or ns (`time_unit =`; `auto` reads the unit from the header, else
 * seconds). Times are made relative to the first row (integer timestamps
 * of up to 19 digits, such as nanoseconds since boot or since 1970, are
 * subtracted exactly, as integers).
 * Without a time column, `rate =` gives the sample rate.
 *
 * Rate. Since the output format is declared at open, the rate is inferred
 * there from a bounded prefix of the file (`probe` rows, default 4096): the
 * mean interval between timestamps, gaps left out (an interval longer than
 * `gap` × the median interval). Irregular sampling in that prefix (jitter)
 * is reported as a warning, and so is every gap anywhere in the file. A
 * rate above 1e9 Hz is refused, and so is an interval that would be
 * resampled into more than 1e9 rows. `resample = linear` (default) or
 * `hold` maps the samples onto the uniform grid t_k = k / rate (k = 0, 1,
 * ... up to the last timestamp); `none` passes the rows through as they
 * are and declares the rate.
 *
 * Missing values (an empty field, NaN, NA, N/A, null): `missing = error`
 * (default) stops with the place; `interpolate` fills them linearly in time
 * between the neighbouring values of the column, `hold` repeats the last
 * value (a leading run takes the first value, a trailing run the last).
 * At most `max_missing` consecutive rows may be filled (the look-ahead is
 * bounded).
 *
 * Errors name the place as file:line:column and what was found:
 *   walk.csv:12:3: text 'abc' in numeric column 'ax'
 *   walk.csv:40: 3 fields, expected 5
 * and unsorted or duplicate timestamps, missing values (under
 * missing = error), infinities and values beyond a float's range,
 * over-long lines.
 *
 * Speed and memory. The file is read through a fixed 1 MiB buffer, lines
 * are split by hand (memchr for the line end, a byte loop per field) and
 * numbers are parsed by a small exact parser: digits are gathered into a
 * 64-bit integer and scaled by an exact power of ten when both are exact in
 * a double (Clinger's fast path, correctly rounded); other numbers go to
 * strtod, whole. Memory does not depend on the file's size. */
#include <joule/plugin.h>

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF (1u << 20)
#define MAX_FIELDS 4096
#define MAX_RATE 1e9     /* Hz: the most `rate` may be, given or inferred */
#define MAX_GAP_ROWS 1e9 /* the most rows one interval may be resampled into */

static const char *const sep_choices[] = {"auto", "comma", "semicolon", "tab", NULL};
static const char *const unit_choices[] = {"auto", "s", "ms", "us", "ns", NULL};
static const char *const resample_choices[] = {"linear", "hold", "none", NULL};
static const char *const missing_choices[] = {"error", "interpolate", "hold", NULL};

enum { P_HEADER, P_COLUMNS, P_SEP, P_TIME, P_TUNIT, P_RATE, P_RESAMPLE, P_SELECT, P_MISSING, P_UNITS, P_PROBE,
       P_GAP, P_MAXMISS, N_PARAMS };
enum { RS_LINEAR, RS_HOLD, RS_NONE };
enum { MS_ERROR, MS_INTERP, MS_HOLD };

static const joule_param params[] = {
    {"header", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "",
     "The first row (after comments) holds the column names."},
    {"columns", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Column names, comma-separated, for a file without a header (or to rename a header's columns). "
     "Without either, columns are named col1, col2, ..."},
    {"separator", JOULE_PARAM_ENUM, 0, "auto", 0, 0, sep_choices, "",
     "Field separator; auto picks tab, else ';', else ',' from the first row."},
    {"time", JOULE_PARAM_STRING, 0, "auto", 0, 0, NULL, "",
     "The time column: a name, a number counting from 1, 'auto' (a column named t, time, timestamp or ts, "
     "or whose name starts with 'time'), or 'none' (then set rate)."},
    {"time_unit", JOULE_PARAM_ENUM, 0, "auto", 0, 0, unit_choices, "",
     "Unit of the time column: s, ms, us or ns; auto takes it from the header ('t [ms]', 'time_ns') or "
     "assumes seconds."},
    {"rate", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0", 0, MAX_RATE, NULL, "Hz",
     "Sample rate of the output. 0: inferred from the timestamps in the first `probe` rows (the mean interval "
     "between rows, gaps left out). Required when there is no time column."},
    {"resample", JOULE_PARAM_ENUM, 0, "linear", 0, 0, resample_choices, "",
     "How timestamped rows become a uniform signal: linear interpolation or hold (last value) onto the grid "
     "k / rate, or none (rows as they are, declared at the rate)."},
    {"select", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Data columns to output, in order, by name or number from 1; default every column but the time."},
    {"missing", JOULE_PARAM_ENUM, 0, "error", 0, 0, missing_choices, "",
     "Missing values (empty, NaN, NA, null): error, interpolate (linear in time) or hold (last value)."},
    {"units", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Units of the selected columns: one for all (m/s^2) or one per column; default the header's units."},
    {"probe", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "4096", 16, 1 << 22, NULL, "rows",
     "Rows read at open to infer the rate and check the sampling."},
    {"gap", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "3", 1.01, 1e6, NULL, "",
     "An interval longer than gap × the median interval is reported as a gap (a warning)."},
    {"max_missing", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "4096", 1, 1 << 20, NULL, "rows",
     "The longest run of missing values that interpolate or hold may fill."},
};

static const joule_port outputs[] = {
    {"out", JOULE_SIGNAL, 0, "the selected data columns (time removed), uniformly sampled"},
};

typedef struct field {
    const char *p, *e; /* text, trimmed, quotes removed (may point into scratch) */
    uint32_t col;      /* 1-based column in the line, for messages */
} field;

typedef struct sensor {
    const joule_host *host;
    const char *path;
    int fd;
    char *buf;
    size_t beg, end;
    int eof;
    uint64_t line;       /* number of the last line taken */
    int started;         /* BOM handled */
    char sep, dec2;      /* separator; second decimal mark (',' or '.') */
    uint32_t nf;         /* fields per row */
    int tcol;            /* time field index or -1 */
    double tscale;       /* seconds per time unit */
    uint32_t nsel;
    int *colmap;         /* per field: output column, -1 skip, -2 time */
    jp_names names;
    char **units;        /* per output column (malloc'd strings) */
    char **fnames;       /* per field: its name (for messages) */
    char *scratch;       /* unquoting */
    size_t scratch_cap;
    char *numtext;       /* a number for strtod, NUL-terminated */
    size_t numtext_cap;
    field *fields;
    int missing, resample;
    int64_t max_missing; /* longest run of missing values filled, per column */
    double rate;
    double gap_factor, median_dt;
    /* time base */
    int have_t0, t0_int;
    int64_t t0_i;
    double t0_d;
    double prev_t;
    uint64_t prev_line;
    uint64_t n_gaps;
    double longest_gap;
    uint64_t longest_gap_line;
    int probing;
    uint64_t first_data_line;
    double *probe_t;
    size_t n_probe, probe_cap;
    /* sample ring (rows parsed, waiting for missing values to be filled) */
    size_t qcap;
    double *qt;
    float *qv;
    uint32_t *qmiss;
    uint64_t q_head, q_tail;  /* sample indices: [head, tail) in the ring */
    int64_t *last_valid;      /* per output column: sample index, -1 none */
    float *last_val;
    double *last_time;
    int64_t *pend_from;       /* per column: first unfilled sample, -1 none */
    uint64_t *pend_line;
    /* resampler */
    int have0, have1;
    double t0, t1;
    float *v0, *v1;
    uint64_t k;
    int done;
} sensor;

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */

static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parse a decimal number at p (before e). Returns the end of the number,
 * or p itself if there is none, or NULL when out of memory. `dec2` is a
 * second accepted decimal mark. *is_int is set when the text was a plain
 * integer that fits *iv. A number the fast path cannot take is copied
 * whole (however long) for strtod into *tmp, grown as needed. */
static const char *parse_num(const char *p, const char *e, char dec2, double *out, int64_t *iv, int *is_int,
                             char **tmp, size_t *tmp_cap)
{
    const char *s = p;
    int neg = 0;
    if (p < e && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    uint64_t m = 0;
    int nd = 0, exp10 = 0, digits = 0, inexact = 0, frac = 0;
    while (p < e && (unsigned)(*p - '0') < 10u) {
        unsigned d = (unsigned)(*p - '0');
        if (nd < 19) {
            m = m * 10 + d;
            nd += m != 0;
        } else {
            exp10++;
            inexact |= d != 0;
        }
        digits++;
        p++;
    }
    if (p < e && (*p == '.' || *p == dec2)) {
        const char *q = p + 1;
        int fd = 0;
        while (q < e && (unsigned)(*q - '0') < 10u) {
            unsigned d = (unsigned)(*q - '0');
            if (nd < 19) {
                m = m * 10 + d;
                nd += m != 0;
                exp10--;
            } else {
                inexact |= d != 0;
            }
            fd++;
            q++;
        }
        if (fd || digits) {
            p = q;
            digits += fd;
            frac = 1;
        }
    }
    if (!digits)
        return s;
    int expo = 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        int eneg = 0;
        if (q < e && (*q == '-' || *q == '+')) {
            eneg = *q == '-';
            q++;
        }
        if (q < e && (unsigned)(*q - '0') < 10u) {
            int x = 0;
            while (q < e && (unsigned)(*q - '0') < 10u) {
                if (x < 100000)
                    x = x * 10 + (*q - '0');
                q++;
            }
            expo = eneg ? -x : x;
            p = q;
            frac = 1;
        }
    }
    /* 19 significant digits still fit an int64_t when m <= INT64_MAX
     * (Unix-epoch nanoseconds are 19 digits); exp10 > 0 means digits were
     * dropped past the 19th (zeros: the value is m·10^exp10, not m). */
    *is_int = !frac && !inexact && exp10 == 0 && (nd < 19 || m <= (uint64_t)INT64_MAX);
    if (*is_int)
        *iv = neg ? -(int64_t)m : (int64_t)m;
    int ex = exp10 + expo;
    double v;
    if (m == 0) {
        v = 0.0;
    } else if (!inexact && m <= (1ull << 53) && ex >= -22 && ex <= 22) {
        v = ex < 0 ? (double)m / p10[-ex] : (double)m * p10[ex];
    } else {
        /* the whole number: truncating it would change its value */
        size_t n = (size_t)(p - s);
        if (*tmp_cap < n + 1) {
            char *b = realloc(*tmp, n + 1);
            if (!b)
                return NULL;
            *tmp = b;
            *tmp_cap = n + 1;
        }
        char *t = *tmp;
        memcpy(t, s, n);
        t[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (t[i] == dec2)
                t[i] = '.';
        v = fabs(strtod(t, NULL));
    }
    *out = neg ? -v : v;
    return p;
}

static int is_missing_text(const char *p, const char *e)
{
    size_t n = (size_t)(e - p);
    if (n == 0)
        return 1;
    static const char *const words[] = {"nan", "-nan", "+nan", "na", "n/a", "null", "none", NULL};
    for (int i = 0; words[i]; i++)
        if (strlen(words[i]) == n && !strncasecmp(p, words[i], n))
            return 1;
    return 0;
}

/* A printable excerpt of a field for messages. */
static void excerpt(char *dst, size_t cap, const char *p, const char *e)
{
    size_t n = 0;
    for (; p < e && n + 4 < cap; p++)
        dst[n++] = (*p >= 32 && *p < 127) ? *p : '?';
    if (p < e) {
        dst[n++] = '.';
        dst[n++] = '.';
        dst[n++] = '.';
    }
    dst[n] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Reading lines                                                             */

/* The next line (without its end), or NULL at the end of the file.
 * Returns (char *)-1 after host->error. */
static char *next_line(sensor *s, size_t *len)
{
    for (;;) {
        char *p = s->buf + s->beg;
        size_t avail = s->end - s->beg;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl || (s->eof && avail)) {
            size_t n = nl ? (size_t)(nl - p) : avail;
            s->beg += nl ? n + 1 : n;
            s->line++;
            if (!s->started) {
                s->started = 1;
                if (n >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
                    (unsigned char)p[2] == 0xBF) {
                    p += 3;
                    n -= 3;
                }
            }
            if (n && p[n - 1] == '\r')
                n--;
            *len = n;
            return p;
        }
        if (s->eof)
            return NULL;
        if (s->beg > 0) {
            memmove(s->buf, s->buf + s->beg, avail);
            s->end = avail;
            s->beg = 0;
        }
        if (s->end == READ_BUF) {
            s->host->error(s->host, "%s:%llu: line longer than %u bytes", s->path, (unsigned long long)s->line + 1,
                           READ_BUF);
            return (char *)-1;
        }
        ssize_t got;
        do
            got = read(s->fd, s->buf + s->end, READ_BUF - s->end);
        while (got < 0 && errno == EINTR);
        if (got < 0) {
            s->host->error(s->host, "%s: read error: %s", s->path, strerror(errno));
            return (char *)-1;
        }
        if (got == 0)
            s->eof = 1;
        s->end += (size_t)got;
    }
}

static int blank_or_comment(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '#')
            return 1;
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    }
    return 1;
}

static int is_space(char c, char sep)
{
    return (c == ' ' || c == '\t' || c == '\r') && c != sep;
}

/* Split a line into fields (general path: quotes). Returns the number of
 * fields, or -1 after host->error. */
static long split_fields(sensor *s, const char *p, size_t n, field *f, uint32_t maxf)
{
    const char *e = p + n;
    long k = 0;
    size_t used = 0;
    if (s->scratch_cap < n + 1) {
        char *b = realloc(s->scratch, n + 1);
        if (!b) {
            s->host->error(s->host, "out of memory");
            return -1;
        }
        s->scratch = b;
        s->scratch_cap = n + 1;
    }
    for (;;) {
        while (p < e && is_space(*p, s->sep))
            p++;
        const char *fs, *fe;
        if (p < e && *p == '"') {
            const char *q = p + 1;
            char *d = s->scratch + used;
            fs = d;
            for (;;) {
                if (q >= e) {
                    s->host->error(s->host, "%s:%llu:%ld: unterminated quote", s->path, (unsigned long long)s->line,
                                   k + 1);
                    return -1;
                }
                if (*q == '"') {
                    if (q + 1 < e && q[1] == '"') {
                        *d++ = '"';
                        q += 2;
                        continue;
                    }
                    q++;
                    break;
                }
                *d++ = *q++;
            }
            fe = d;
            used = (size_t)(d - s->scratch);
            while (q < e && is_space(*q, s->sep))
                q++;
            if (q < e && *q != s->sep) {
                s->host->error(s->host, "%s:%llu:%ld: text after the closing quote", s->path,
                               (unsigned long long)s->line, k + 1);
                return -1;
            }
            p = q;
        } else {
            fs = p;
            while (p < e && *p != s->sep)
                p++;
            fe = p;
            while (fe > fs && is_space(fe[-1], s->sep))
                fe--;
        }
        if ((uint32_t)k < maxf) {
            f[k].p = fs;
            f[k].e = fe;
            f[k].col = (uint32_t)k + 1;
        }
        k++;
        if (p >= e)
            break;
        p++; /* the separator */
    }
    return k;
}

/* ------------------------------------------------------------------------ */
/* Samples                                                                   */

/* Time of a field, in seconds from the first row. Returns 0, or -1 after
 * host->error. */
static int parse_time(sensor *s, const char *p, const char *e, uint32_t col, double *t)
{
    double v;
    int64_t iv = 0;
    int is_int = 0;
    const char *q = parse_num(p, e, s->dec2, &v, &iv, &is_int, &s->numtext, &s->numtext_cap);
    if (!q) {
        s->host->error(s->host, "out of memory");
        return -1;
    }
    if (q == p || q != e || !isfinite(v)) {
        char ex[48];
        excerpt(ex, sizeof ex, p, e);
        if (p == e)
            s->host->error(s->host, "%s:%llu:%u: missing timestamp in column '%s'", s->path,
                           (unsigned long long)s->line, col, s->fnames[col - 1]);
        else
            s->host->error(s->host, "%s:%llu:%u: text '%s' in time column '%s'", s->path, (unsigned long long)s->line,
                           col, ex, s->fnames[col - 1]);
        return -1;
    }
    if (!s->have_t0) {
        s->have_t0 = 1;
        s->t0_int = is_int;
        s->t0_i = iv;
        s->t0_d = v;
        *t = 0.0;
    } else if (is_int && s->t0_int && (iv >= 0) == (s->t0_i >= 0)) {
        /* exact (same signs: the difference cannot overflow) */
        *t = (double)(iv - s->t0_i) * s->tscale;
    } else {
        *t = (v - s->t0_d) * s->tscale;
    }
    if (s->prev_line) {
        if (!(*t > s->prev_t)) {
            s->host->error(s->host,
                           "%s:%llu:%u: timestamp %.9g s %s the previous one (line %llu): timestamps must increase",
                           s->path, (unsigned long long)s->line, col, *t,
                           *t == s->prev_t ? "duplicates" : "is earlier than", (unsigned long long)s->prev_line);
            return -1;
        }
        double dt = *t - s->prev_t;
        if (!s->probing && s->resample != RS_NONE && dt * s->rate > MAX_GAP_ROWS) {
            s->host->error(s->host,
                           "%s:%llu:%u: %.6g s since the previous row (line %llu) would be resampled into %.3g rows at "
                           "%.6g Hz, more than %g: check the timestamps (and time_unit), or set resample = none",
                           s->path, (unsigned long long)s->line, col, dt, (unsigned long long)s->prev_line,
                           dt * s->rate, s->rate, MAX_GAP_ROWS);
            return -1;
        }
        if (s->median_dt > 0 && dt > s->gap_factor * s->median_dt) {
            s->n_gaps++;
            if (s->n_gaps <= 3)
                s->host->log(s->host, JOULE_LOG_WARN, "line %llu: gap of %.6g s (%.1f × the median interval) before this row",
                             (unsigned long long)s->line, dt, dt / s->median_dt);
            if (dt > s->longest_gap) {
                s->longest_gap = dt;
                s->longest_gap_line = s->line;
            }
        }
    }
    s->prev_t = *t;
    s->prev_line = s->line;
    return 0;
}

/* Fill the pending missing values of column c, samples [from, upto), now
 * that sample `upto` has a value (or at the end: upto = -1 holds the last). */
static void fill_pending(sensor *s, uint32_t c, int64_t upto, double t_next, float v_next)
{
    const size_t nsel = s->nsel;
    int64_t from = s->pend_from[c];
    int64_t end = upto >= 0 ? upto : (int64_t)s->q_tail;
    for (int64_t j = from; j < end; j++) {
        size_t slot = (size_t)((uint64_t)j % s->qcap);
        float v;
        if (s->last_valid[c] < 0 || upto < 0) {
            v = s->last_valid[c] < 0 ? v_next : s->last_val[c];
        } else if (s->missing == MS_HOLD) {
            v = s->last_val[c];
        } else {
            double ta = s->last_time[c], tb = t_next, tj = s->qt[slot];
            double w = tb > ta ? (tj - ta) / (tb - ta) : 0.0;
            v = (float)((double)s->last_val[c] + ((double)v_next - (double)s->last_val[c]) * w);
        }
        s->qv[slot * nsel + c] = v;
        s->qmiss[slot]--;
    }
    s->pend_from[c] = -1;
}

/* Parse one data line into the ring (or, while probing, just its time).
 * Returns 1 added, 0 skipped, -1 error. */
static int parse_row(sensor *s, const char *p, size_t n)
{
    if (blank_or_comment(p, n))
        return 0;
    const uint32_t nf = s->nf;
    field *f = s->fields;
    long k;
    /* fast path: no quote in the line */
    if (!memchr(p, '"', n)) {
        const char *e = p + n, *q = p;
        const char sep = s->sep;
        k = 0;
        for (;;) {
            while (q < e && is_space(*q, sep))
                q++;
            const char *fs = q;
            while (q < e && *q != sep)
                q++;
            const char *fe = q;
            while (fe > fs && is_space(fe[-1], sep))
                fe--;
            if ((uint32_t)k < nf) {
                f[k].p = fs;
                f[k].e = fe;
                f[k].col = (uint32_t)k + 1;
            }
            k++;
            if (q >= e)
                break;
            q++;
        }
    } else {
        k = split_fields(s, p, n, f, nf);
        if (k < 0)
            return -1;
    }
    if ((uint64_t)k != nf) {
        s->host->error(s->host, "%s:%llu: %ld field%s, expected %u", s->path, (unsigned long long)s->line, k,
                       k == 1 ? "" : "s", nf);
        return -1;
    }
    double t = 0;
    if (s->tcol >= 0 && parse_time(s, f[s->tcol].p, f[s->tcol].e, (uint32_t)s->tcol + 1, &t))
        return -1;
    if (s->probing) {
        if (s->n_probe == s->probe_cap) {
            size_t cap = s->probe_cap ? 2 * s->probe_cap : 1024;
            double *b = realloc(s->probe_t, cap * sizeof *b);
            if (!b) {
                s->host->error(s->host, "out of memory");
                return -1;
            }
            s->probe_t = b;
            s->probe_cap = cap;
        }
        if (!s->n_probe)
            s->first_data_line = s->line;
        s->probe_t[s->n_probe++] = t;
        return 1;
    }
    if (s->q_tail - s->q_head == s->qcap) {
        /* cannot happen: the oldest row waits only for the run of missing
         * values that starts at it, at most max_missing rows (checked
         * below), and the ring holds max_missing + 1 rows or more */
        s->host->error(s->host, "%s:%llu: internal error: more than %zu rows waiting for missing values", s->path,
                       (unsigned long long)s->line, s->qcap);
        return -1;
    }
    uint64_t idx = s->q_tail;
    size_t slot = (size_t)(idx % s->qcap);
    const size_t nsel = s->nsel;
    float *row = s->qv + slot * nsel;
    uint32_t miss = 0;
    s->qt[slot] = t;
    for (uint32_t i = 0; i < nf; i++) {
        int c = s->colmap[i];
        if (c < 0)
            continue;
        const char *fp = f[i].p, *fe = f[i].e;
        double v;
        int64_t iv;
        int is_int;
        const char *q = parse_num(fp, fe, s->dec2, &v, &iv, &is_int, &s->numtext, &s->numtext_cap);
        if (!q) {
            s->host->error(s->host, "out of memory");
            return -1;
        }
        /* finite as a double is not enough: beyond FLT_MAX the float is
         * infinite (and would spoil the interpolation of its neighbours) */
        if (q != fp && q == fe && fabs(v) <= FLT_MAX) {
            row[c] = (float)v;
            if (s->pend_from[c] >= 0)
                fill_pending(s, (uint32_t)c, (int64_t)idx, t, row[c]);
            s->last_valid[c] = (int64_t)idx;
            s->last_val[c] = row[c];
            s->last_time[c] = t;
            continue;
        }
        char ex[48];
        excerpt(ex, sizeof ex, fp, fe);
        if (q != fp && q == fe) {
            s->host->error(s->host, "%s:%llu:%u: value '%s' out of range in column '%s'", s->path,
                           (unsigned long long)s->line, i + 1, ex, s->fnames[i]);
            return -1;
        }
        if (!is_missing_text(fp, fe)) {
            if (q != fp && (*q == 'e' || *q == 'E' || *q == '.'))
                s->host->error(s->host, "%s:%llu:%u: malformed number '%s' in column '%s'", s->path,
                               (unsigned long long)s->line, i + 1, ex, s->fnames[i]);
            else if ((fe - fp == 3 && !strncasecmp(fp, "inf", 3)) || (fe - fp == 4 && !strncasecmp(fp + 1, "inf", 3)) ||
                     (fe - fp >= 8 && !strncasecmp(fp + (fe - fp) - 8, "infinity", 8)))
                s->host->error(s->host, "%s:%llu:%u: infinite value '%s' in column '%s'", s->path,
                               (unsigned long long)s->line, i + 1, ex, s->fnames[i]);
            else
                s->host->error(s->host, "%s:%llu:%u: text '%s' in numeric column '%s'", s->path,
                               (unsigned long long)s->line, i + 1, ex, s->fnames[i]);
            return -1;
        }
        if (s->missing == MS_ERROR) {
            if (fp == fe)
                s->host->error(s->host, "%s:%llu:%u: missing value in column '%s' (missing = error; set missing = "
                               "interpolate or hold to fill gaps)",
                               s->path, (unsigned long long)s->line, i + 1, s->fnames[i]);
            else
                s->host->error(s->host, "%s:%llu:%u: '%s' (a missing value) in column '%s' (missing = error; set "
                               "missing = interpolate or hold to fill gaps)",
                               s->path, (unsigned long long)s->line, i + 1, ex, s->fnames[i]);
            return -1;
        }
        if (s->pend_from[c] >= 0 && (int64_t)idx - s->pend_from[c] >= s->max_missing) {
            s->host->error(s->host,
                           "%s:%llu:%u: column '%s' has more than %lld consecutive missing values (from line %llu): "
                           "too long a gap to fill (raise max_missing)",
                           s->path, (unsigned long long)s->line, i + 1, s->fnames[i], (long long)s->max_missing,
                           (unsigned long long)s->pend_line[c]);
            return -1;
        }
        row[c] = NAN;
        miss++;
        if (s->pend_from[c] < 0) {
            s->pend_from[c] = (int64_t)idx;
            s->pend_line[c] = s->line;
        }
    }
    s->qmiss[slot] = miss;
    s->q_tail++;
    return 1;
}

/* The next complete sample: 1 got one (time and values copied), 0 end,
 * -1 error. */
static int next_sample(sensor *s, double *t, float *v)
{
    for (;;) {
        if (s->q_head < s->q_tail) {
            size_t slot = (size_t)(s->q_head % s->qcap);
            if (s->qmiss[slot] == 0) {
                *t = s->qt[slot];
                memcpy(v, s->qv + slot * s->nsel, s->nsel * sizeof *v);
                s->q_head++;
                return 1;
            }
        }
        if (s->done)
            return 0;
        size_t len;
        char *p = next_line(s, &len);
        if (p == (char *)-1)
            return -1;
        if (!p) {
            /* end: fill trailing runs with the last value */
            for (uint32_t c = 0; c < s->nsel; c++)
                if (s->pend_from[c] >= 0) {
                    if (s->last_valid[c] < 0) {
                        s->host->error(s->host, "%s: column '%s' has no values", s->path, s->names.v[c]);
                        return -1;
                    }
                    fill_pending(s, c, -1, 0, 0);
                }
            s->done = 1;
            if (s->n_gaps > 3)
                s->host->log(s->host, JOULE_LOG_WARN, "%llu gaps in all (longest %.6g s, before line %llu)",
                             (unsigned long long)s->n_gaps, s->longest_gap,
                             (unsigned long long)s->longest_gap_line);
            continue;
        }
        if (parse_row(s, p, len) < 0)
            return -1;
    }
}

/* ------------------------------------------------------------------------ */
/* Open                                                                      */

static int cmpd(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

/* Split a header cell "ax [m/s^2]" into a clean name and a unit. */
static void header_cell(const char *p, const char *e, char *name, size_t ncap, char *unit, size_t ucap)
{
    unit[0] = '\0';
    const char *ne = e;
    if (e > p && (e[-1] == ']' || e[-1] == ')')) {
        char open = e[-1] == ']' ? '[' : '(';
        const char *o = e - 1;
        while (o > p && *o != open)
            o--;
        if (*o == open && o > p) {
            size_t un = (size_t)(e - 1 - (o + 1));
            if (un >= ucap)
                un = ucap - 1;
            memcpy(unit, o + 1, un);
            unit[un] = '\0';
            ne = o;
            while (ne > p && (ne[-1] == ' ' || ne[-1] == '_'))
                ne--;
        }
    }
    size_t n = 0;
    for (const char *q = p; q < ne && n + 1 < ncap; q++)
        name[n++] = name_char((unsigned char)*q) ? *q : '_';
    name[n] = '\0';
}

static int parse_unit(const char *u, double *scale)
{
    if (!strcmp(u, "s") || !strcmp(u, "sec"))
        *scale = 1.0;
    else if (!strcmp(u, "ms"))
        *scale = 1e-3;
    else if (!strcmp(u, "us") || !strcmp(u, "µs"))
        *scale = 1e-6;
    else if (!strcmp(u, "ns"))
        *scale = 1e-9;
    else
        return -1;
    return 0;
}

/* Index of a column given by name (exact, then case-insensitive) or by
 * number from 1; -1 if none. */
static int find_col(sensor *s, const char *spec)
{
    for (uint32_t i = 0; i < s->nf; i++)
        if (!strcmp(s->fnames[i], spec))
            return (int)i;
    for (uint32_t i = 0; i < s->nf; i++)
        if (!strcasecmp(s->fnames[i], spec))
            return (int)i;
    char *end;
    long v = strtol(spec, &end, 10);
    if (*spec && !*end && v >= 1 && (uint64_t)v <= s->nf)
        return (int)v - 1;
    return -1;
}

static void list_cols(sensor *s, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < s->nf && n + 4 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", s->fnames[i]);
}

static int sensor_check(const joule_value *p, char *msg, size_t cap)
{
    if (!strcmp(p[P_TIME].s, "none") && p[P_RATE].f <= 0) {
        snprintf(msg, cap, "time = none: set rate (the sample rate in Hz)");
        return 1;
    }
    return 0;
}

static int sensor_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    const joule_value *pv = a->params;
    sensor *s = calloc(1, sizeof *s);
    if (!s) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = s;
    s->host = h;
    s->path = a->input_path;
    s->fd = -1;
    s->missing = (int)pv[P_MISSING].e;
    s->resample = (int)pv[P_RESAMPLE].e;
    s->gap_factor = pv[P_GAP].f;
    s->max_missing = pv[P_MAXMISS].i;
    s->buf = malloc(READ_BUF);
    s->fields = malloc(MAX_FIELDS * sizeof *s->fields);
    if (!s->buf || !s->fields) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    s->fd = open(s->path, O_RDONLY);
    if (s->fd < 0) {
        h->error(h, "%s: cannot open: %s", s->path, strerror(errno));
        return JOULE_ERROR;
    }
    /* The first row: separator, field count, names. */
    size_t len;
    char *p;
    for (;;) {
        p = next_line(s, &len);
        if (p == (char *)-1)
            return JOULE_ERROR;
        if (!p) {
            h->error(h, "%s: no data rows", s->path);
            return JOULE_ERROR;
        }
        if (!blank_or_comment(p, len))
            break;
    }
    static const char seps[] = {0, ',', ';', '\t'};
    s->sep = seps[pv[P_SEP].e];
    if (!s->sep) {
        int in_q = 0, tabs = 0, semis = 0;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '"')
                in_q = !in_q;
            else if (!in_q && p[i] == '\t')
                tabs++;
            else if (!in_q && p[i] == ';')
                semis++;
        }
        s->sep = tabs ? '\t' : semis ? ';' : ',';
    }
    s->dec2 = s->sep == ',' ? '.' : ',';
    s->nf = MAX_FIELDS;
    long nfl = split_fields(s, p, len, s->fields, MAX_FIELDS);
    if (nfl < 0)
        return JOULE_ERROR;
    if (nfl > MAX_FIELDS) {
        h->error(h, "%s:%llu: %ld fields: at most %d are supported", s->path, (unsigned long long)s->line, nfl,
                 MAX_FIELDS);
        return JOULE_ERROR;
    }
    s->nf = (uint32_t)nfl;
    uint64_t first_line = s->line;
    int header = pv[P_HEADER].b;
    s->fnames = calloc(s->nf, sizeof *s->fnames);
    char **hunits = calloc(s->nf, sizeof *hunits);
    if (!s->fnames || !hunits) {
        free(hunits);
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    char **given = NULL;
    size_t ngiven = jp_split(pv[P_COLUMNS].s, &given);
    int rc = JOULE_ERROR;
    if (ngiven && ngiven != s->nf) {
        h->error(h, "%s:%llu: %u fields, but columns names %zu", s->path, (unsigned long long)first_line, s->nf,
                 ngiven);
        goto out;
    }
    for (uint32_t i = 0; i < s->nf; i++) {
        char name[256], unit[64];
        unit[0] = '\0';
        if (ngiven)
            header_cell(given[i], given[i] + strlen(given[i]), name, sizeof name, unit, sizeof unit);
        else if (header)
            header_cell(s->fields[i].p, s->fields[i].e, name, sizeof name, unit, sizeof unit);
        else
            name[0] = '\0';
        if (header && ngiven && !unit[0]) {
            char dummy[256];
            header_cell(s->fields[i].p, s->fields[i].e, dummy, sizeof dummy, unit, sizeof unit);
        }
        if (!name[0])
            snprintf(name, sizeof name, "col%u", i + 1);
        /* unique */
        char uniq[300];
        snprintf(uniq, sizeof uniq, "%s", name);
        for (int dup = 2;; dup++) {
            uint32_t j;
            for (j = 0; j < i; j++)
                if (!strcmp(s->fnames[j], uniq))
                    break;
            if (j == i)
                break;
            snprintf(uniq, sizeof uniq, "%s_%d", name, dup);
        }
        s->fnames[i] = jp_strdup(uniq);
        hunits[i] = jp_strdup(unit);
        if (!s->fnames[i] || !hunits[i]) {
            h->error(h, "out of memory");
            goto out;
        }
    }
    if (!header) {
        /* the first row is data: read it again below */
        s->line = 0;
        s->beg = 0;
        s->started = 0;
        if (lseek(s->fd, 0, SEEK_SET) < 0) {
            h->error(h, "%s: cannot seek: %s", s->path, strerror(errno));
            goto out;
        }
        s->end = 0;
        s->eof = 0;
    }
    /* The time column. */
    const char *tspec = pv[P_TIME].s;
    s->tcol = -1;
    if (!strcmp(tspec, "auto")) {
        for (uint32_t i = 0; i < s->nf && s->tcol < 0; i++) {
            const char *nm = s->fnames[i];
            if (!strcasecmp(nm, "t") || !strcasecmp(nm, "time") || !strcasecmp(nm, "timestamp") ||
                !strcasecmp(nm, "ts") || !strncasecmp(nm, "time", 4))
                s->tcol = (int)i;
        }
    } else if (strcmp(tspec, "none") != 0) {
        s->tcol = find_col(s, tspec);
        if (s->tcol < 0) {
            char cols[512];
            list_cols(s, cols, sizeof cols);
            h->error(h, "%s: time = %s: no such column (the columns are: %s)", s->path, tspec, cols);
            goto out;
        }
    }
    if (s->tcol < 0 && pv[P_RATE].f <= 0) {
        h->error(h, "%s: no time column: set rate (Hz), or time = the column holding the timestamps", s->path);
        goto out;
    }
    s->tscale = 1.0;
    if (s->tcol >= 0) {
        uint32_t tu = pv[P_TUNIT].e;
        if (tu == 0) {
            const char *nm = s->fnames[s->tcol];
            const char *us = strrchr(nm, '_');
            if (hunits[s->tcol][0] && parse_unit(hunits[s->tcol], &s->tscale) == 0)
                ;
            else if (us && parse_unit(us + 1, &s->tscale) == 0)
                ;
            else
                s->tscale = 1.0;
        } else {
            static const double sc[] = {1, 1, 1e-3, 1e-6, 1e-9};
            s->tscale = sc[tu];
        }
    }
    /* Selected columns. */
    s->colmap = malloc(s->nf * sizeof *s->colmap);
    if (!s->colmap) {
        h->error(h, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < s->nf; i++)
        s->colmap[i] = -1;
    if (s->tcol >= 0)
        s->colmap[s->tcol] = -2;
    char **sel = NULL;
    size_t nsel = jp_split(pv[P_SELECT].s, &sel);
    int *order = malloc((s->nf + nsel + 1) * sizeof *order);
    if (!order) {
        free(sel);
        h->error(h, "out of memory");
        goto out;
    }
    uint32_t no = 0;
    if (nsel) {
        for (size_t i = 0; i < nsel; i++) {
            int c = find_col(s, sel[i]);
            if (c < 0 || c == s->tcol) {
                char cols[512];
                list_cols(s, cols, sizeof cols);
                if (c < 0)
                    h->error(h, "%s: select: no column '%s' (the columns are: %s)", s->path, sel[i], cols);
                else
                    h->error(h, "%s: select: '%s' is the time column", s->path, sel[i]);
                free(sel);
                free(order);
                goto out;
            }
            if (s->colmap[c] >= 0) {
                h->error(h, "%s: select: column '%s' named twice", s->path, sel[i]);
                free(sel);
                free(order);
                goto out;
            }
            s->colmap[c] = (int)no;
            order[no++] = c;
        }
    } else {
        for (uint32_t i = 0; i < s->nf; i++)
            if ((int)i != s->tcol) {
                s->colmap[i] = (int)no;
                order[no++] = (int)i;
            }
    }
    free(sel);
    if (!no) {
        free(order);
        h->error(h, "%s: no data columns (only the time column)", s->path);
        goto out;
    }
    s->nsel = no;
    /* names and units of the output */
    char **ulist = NULL;
    size_t nu = jp_split(pv[P_UNITS].s, &ulist);
    if (nu > 1 && nu != no) {
        free(ulist);
        free(order);
        h->error(h, "units: %zu units for %u columns (give one for all, or one per column)", nu, no);
        goto out;
    }
    s->units = calloc(no, sizeof *s->units);
    if (!s->units || jp_names_init(&s->names, no)) {
        free(ulist);
        free(order);
        h->error(h, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < no; i++) {
        jp_names_set(&s->names, i, "%s", s->fnames[order[i]]);
        s->units[i] = jp_strdup(nu ? ulist[nu == 1 ? 0 : i] : hunits[order[i]]);
    }
    free(ulist);
    free(order);
    /* state; the ring holds a run of max_missing missing values and the
     * row after it */
    s->qcap = (size_t)pv[P_MAXMISS].i + 1;
    if (s->qcap < 1024)
        s->qcap = 1024;
    s->qt = malloc(s->qcap * sizeof *s->qt);
    s->qv = malloc(s->qcap * no * sizeof *s->qv);
    s->qmiss = calloc(s->qcap, sizeof *s->qmiss);
    s->last_valid = malloc(no * sizeof *s->last_valid);
    s->last_val = calloc(no, sizeof *s->last_val);
    s->last_time = calloc(no, sizeof *s->last_time);
    s->pend_from = malloc(no * sizeof *s->pend_from);
    s->pend_line = calloc(no, sizeof *s->pend_line);
    s->v0 = calloc(no, sizeof *s->v0);
    s->v1 = calloc(no, sizeof *s->v1);
    if (!s->qt || !s->qv || !s->qmiss || !s->last_valid || !s->last_val || !s->last_time || !s->pend_from ||
        !s->pend_line || !s->v0 || !s->v1) {
        h->error(h, "out of memory");
        goto out;
    }
    for (uint32_t c = 0; c < no; c++)
        s->last_valid[c] = s->pend_from[c] = -1;

    /* The rate: probe the first rows for their timestamps. */
    s->rate = pv[P_RATE].f;
    if (s->tcol >= 0) {
        size_t probe = (size_t)pv[P_PROBE].i;
        /* remember where the data starts */
        uint64_t line0 = s->line;
        int started0 = s->started;
        off_t pos = lseek(s->fd, 0, SEEK_CUR);
        off_t data_off = pos - (off_t)(s->end - s->beg);
        s->probing = 1;
        while (s->n_probe < probe) {
            p = next_line(s, &len);
            if (p == (char *)-1)
                goto out;
            if (!p)
                break;
            if (parse_row(s, p, len) < 0)
                goto out;
        }
        s->probing = 0;
        if (s->n_probe == 0) {
            h->error(h, "%s: no data rows", s->path);
            goto out;
        }
        if (s->n_probe >= 2) {
            size_t m = s->n_probe - 1;
            double *dt = malloc(m * sizeof *dt);
            if (!dt) {
                h->error(h, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < m; i++)
                dt[i] = s->probe_t[i + 1] - s->probe_t[i];
            qsort(dt, m, sizeof *dt, cmpd);
            double med = m % 2 ? dt[m / 2] : 0.5 * (dt[m / 2 - 1] + dt[m / 2]);
            double p5 = dt[m / 20], p95 = dt[m - 1 - m / 20];
            s->median_dt = med;
            /* The median interval only tells gaps (over gap × median) from
             * the sampling; as the rate it is biased when the jitter does
             * not accumulate (timestamps off a uniform grid by up to ±30 %
             * have intervals whose median is not their mean). The rate is
             * the mean interval between the rows of the gap-free runs,
             * (t_last - t_first) / (n - 1) for each run, pooled: exact up
             * to the jitter of the runs' ends. */
            double span = 0;
            size_t nint = 0, run0 = 0;
            for (size_t i = 0; i < m; i++) {
                int gap = s->probe_t[i + 1] - s->probe_t[i] > s->gap_factor * med;
                if (gap || i + 1 == m) {
                    size_t end = gap ? i : i + 1;
                    span += s->probe_t[end] - s->probe_t[run0];
                    nint += end - run0;
                    run0 = i + 1;
                }
            }
            double est = (double)nint / span;
            if (s->rate <= 0) {
                if (!(est > 0 && est <= MAX_RATE)) {
                    h->error(h,
                             "%s:%llu: the timestamps of the first %zu rows (from this line) imply a rate of %.6g "
                             "Hz (at most %g Hz is supported): check time_unit, or set rate",
                             s->path, (unsigned long long)s->first_data_line, s->n_probe, est, MAX_RATE);
                    free(dt);
                    goto out;
                }
                s->rate = est;
            }
            if (p95 - p5 > 0.1 * med)
                h->log(h, JOULE_LOG_WARN,
                       "irregular sampling in the first %zu rows: intervals %.4g s (5th percentile), %.4g s "
                       "(median), %.4g s (95th); %s",
                       s->n_probe, p5, med, p95,
                       s->resample == RS_NONE ? "resample = none: rows are taken as uniform"
                                              : "resampling to a uniform grid");
            h->log(h, JOULE_LOG_INFO,
                   "timestamps: %.6g Hz (mean interval %.6g s over %zu intervals without gaps, median %.6g s)", est,
                   1.0 / est, nint, med);
            free(dt);
        } else if (s->rate <= 0) {
            h->error(h, "%s: a single data row: cannot infer the rate (set rate)", s->path);
            goto out;
        }
        /* back to the first data row */
        s->line = line0;
        s->started = started0;
        if (pos < 0 || lseek(s->fd, data_off, SEEK_SET) < 0) {
            h->error(h, "%s: cannot seek: %s", s->path, strerror(errno));
            goto out;
        }
        s->beg = s->end = 0;
        s->eof = 0;
        s->have_t0 = 0;
        s->prev_line = 0;
        free(s->probe_t);
        s->probe_t = NULL;
    } else {
        s->resample = RS_NONE;
    }
    joule_format *o = &a->outputs[0];
    o->kind = JOULE_SIGNAL;
    o->n_columns = no;
    o->rate = s->rate;
    o->t0 = 0;
    o->names = (const char *const *)s->names.v;
    o->units = (const char *const *)s->units;
    o->length = 0;
    rc = JOULE_OK;
out:
    free(given);
    if (hunits)
        for (uint32_t i = 0; i < s->nf; i++)
            free(hunits[i]);
    free(hunits);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Process                                                                   */

static int sensor_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    (void)in;
    sensor *s = self;
    joule_buffer *b = &out[0];
    const uint32_t nc = s->nsel;
    float *dst = b->data;
    uint32_t n = 0, cap = b->capacity;
    if (s->resample == RS_NONE) {
        while (n < cap) {
            double t;
            int rc = next_sample(s, &t, dst + (size_t)n * nc);
            if (rc < 0)
                return JOULE_ERROR;
            if (rc == 0) {
                b->n_rows = n;
                return JOULE_END;
            }
            n++;
        }
        b->n_rows = n;
        return JOULE_OK;
    }
    const double rate = s->rate;
    const int linear = s->resample == RS_LINEAR;
    while (n < cap) {
        double tk = (double)s->k / rate;
        if (s->have1 && tk < s->t1) {
            float *row = dst + (size_t)n * nc;
            if (linear) {
                double w = (tk - s->t0) / (s->t1 - s->t0);
                for (uint32_t c = 0; c < nc; c++)
                    row[c] = (float)((double)s->v0[c] + ((double)s->v1[c] - (double)s->v0[c]) * w);
            } else {
                memcpy(row, s->v0, nc * sizeof *row);
            }
            n++;
            s->k++;
            continue;
        }
        if (s->have1) {
            float *tmp = s->v0;
            s->v0 = s->v1;
            s->v1 = tmp;
            s->t0 = s->t1;
            s->have1 = 0;
        }
        double t;
        float *v = s->have0 ? s->v1 : s->v0;
        int rc = next_sample(s, &t, v);
        if (rc < 0)
            return JOULE_ERROR;
        if (rc == 0) {
            /* the last sample lands on the grid only if tk is at it */
            if (s->have0 && tk <= s->t0 + 1e-6 / rate) {
                memcpy(dst + (size_t)n * nc, s->v0, nc * sizeof *dst);
                n++;
                s->k++;
                s->have0 = 0;
            }
            b->n_rows = n;
            return JOULE_END;
        }
        if (!s->have0) {
            s->have0 = 1;
            s->t0 = t;
        } else {
            s->have1 = 1;
            s->t1 = t;
        }
    }
    b->n_rows = n;
    return JOULE_OK;
}

static void sensor_close(void *self)
{
    sensor *s = self;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->fields);
    free(s->scratch);
    free(s->numtext);
    if (s->fnames)
        for (uint32_t i = 0; i < s->nf; i++)
            free(s->fnames[i]);
    free(s->fnames);
    if (s->units)
        for (uint32_t i = 0; i < s->nsel; i++)
            free(s->units[i]);
    free(s->units);
    jp_names_free(&s->names);
    free(s->colmap);
    free(s->probe_t);
    free(s->qt);
    free(s->qv);
    free(s->qmiss);
    free(s->last_valid);
    free(s->last_val);
    free(s->last_time);
    free(s->pend_from);
    free(s->pend_line);
    free(s->v0);
    free(s->v1);
    free(s);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "sensor",
    .version = "1.0.0",
    .summary = "read sensor CSV/TSV (timestamps in s/ms/us/ns) as a uniform signal: rate inferred, resampled",
    .role = JOULE_ROLE_SOURCE,
    .n_params = N_PARAMS,
    .params = params,
    .n_outputs = 1,
    .outputs = outputs,
    .open = sensor_open,
    .process = sensor_process,
    .close = sensor_close,
    .check = sensor_check,
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
