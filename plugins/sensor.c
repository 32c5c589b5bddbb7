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
 * seconds). Times are made relative to the earliest row. Integer
 * timestamps of up to 19 digits (nanoseconds since boot or since 1970,
 * up to 9999999999999999999, past INT64_MAX) are subtracted exactly, as
 * unsigned 64-bit integers with a sign; an integer timestamp of more
 * digits is refused rather than rounded.
 * Without a time column, `rate =` gives the sample rate.
 *
 * Order. Rows must come in time order. A row with the same time and the
 * same values (in every column read) as the row before it in time is a
 * logging artifact: it is dropped, and one warning counts them. A
 * repeated time with other values, or a time going backwards, is what
 * `disorder` says: error (default), drop (the row; one warning counts
 * them) or sort (rows put back in time order, provided none comes after
 * more than `sort_window` rows later than it; further is an error).
 *
 * Rate. Since the output format is declared at open, the rate is inferred
 * there from a bounded prefix of the file (`probe` rows, default 4096, or
 * the rows in its first 64 MiB of text if fewer): the mean interval
 * between timestamps, gaps left out (an interval longer than `gap` × the
 * median interval). The prefix is kept in memory and parsed again, never
 * re-read from the file, so that a pipe or a FIFO (standard input, a live
 * stream) reads exactly as a regular file does. Irregular sampling in
 * that prefix (jitter) is reported as a warning, and so is every gap
 * anywhere in the file. A rate above 1e9 Hz is refused, and so is an
 * interval that would be resampled into more than 1e9 rows.
 * `resample = linear` (default) or `hold` maps the samples onto the
 * uniform grid t_k = k / rate (k = 0, 1, ... up to the last timestamp);
 * `none` passes the rows through as they are and declares the rate.
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
 * and timestamps out of order, missing values (under missing = error),
 * infinities and values beyond a float's range, over-long lines, and a
 * last line without its line end: a file still being written stops at
 * any byte, and its cut last value ("0.654" of "0.654321") must not pass
 * for a complete one.
 *
 * Speed and memory. The file is read through a 1 MiB buffer (grown only
 * to hold the probed prefix), lines are split by hand (memchr for the line
 * end, a byte loop per field) and numbers are parsed by a small exact
 * parser: digits are gathered into a 64-bit integer and scaled by an exact
 * power of ten when both are exact in a double (Clinger's fast path,
 * correctly rounded); other numbers go to strtod, whole. Memory does not
 * depend on the file's size. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

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
/* The probed prefix is held in memory to be parsed again: `probe` rows of
 * up to 1 MiB each could be gigabytes, so it also ends at this much text. */
#define PROBE_BYTES (64u << 20)

static const char *const sep_choices[] = {"auto", "comma", "semicolon", "tab", NULL};
static const char *const unit_choices[] = {"auto", "s", "ms", "us", "ns", NULL};
static const char *const resample_choices[] = {"linear", "hold", "none", NULL};
static const char *const missing_choices[] = {"error", "interpolate", "hold", NULL};
static const char *const disorder_choices[] = {"error", "drop", "sort", NULL};

enum { P_HEADER, P_COLUMNS, P_SEP, P_TIME, P_TUNIT, P_RATE, P_RESAMPLE, P_SELECT, P_MISSING, P_UNITS, P_PROBE,
       P_GAP, P_MAXMISS, P_DISORDER, P_SORTWIN, N_PARAMS };
enum { RS_LINEAR, RS_HOLD, RS_NONE };
enum { MS_ERROR, MS_INTERP, MS_HOLD };
enum { DO_ERROR, DO_DROP, DO_SORT };

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
    /* The default is error: a time that repeats with other values or goes
     * backwards means either the rows or the clock are wrong, and the file
     * cannot tell which. Sorting trusts the clock, dropping trusts the
     * order; either guess, made silently, changes the data, which is worse
     * than stopping and letting the user choose. (Exactly repeated rows
     * are not in question: dropping them loses nothing.) */
    {"disorder", JOULE_PARAM_ENUM, 0, "error", 0, 0, disorder_choices, "",
     "A timestamp that repeats with other values or goes backwards: error (default: the file cannot tell whether "
     "the rows or the clock are wrong, so nothing is changed silently), drop (skip such rows; a warning counts "
     "them) or sort (put rows back in time order within sort_window rows). Exactly repeated rows (same time, "
     "same values) are always dropped, with a warning that counts them."},
    {"sort_window", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "64", 1, 1 << 16, NULL, "rows",
     "disorder = sort: how many rows later in time may come before a row; a row further out of order is an "
     "error."},
};

static const joule_port outputs[] = {
    {"out", JOULE_SIGNAL, 0, "the selected data columns (time removed), uniformly sampled"},
};

typedef struct field {
    const char *p, *e; /* text, trimmed, quotes removed (may point into scratch) */
    uint32_t col;      /* 1-based column in the line, for messages */
} field;

/* A parsed data row, before it is put in time order. */
typedef struct row {
    double t;       /* time in the file's unit from the file's first row (exact for integers) */
    uint64_t line;
    float *v;       /* per output column; NaN: missing */
    char tt[40];    /* the time as written, for messages */
} row;

typedef struct sensor {
    const joule_host *host;
    const char *path;
    int fd;
    char *buf;
    size_t bufcap;
    size_t beg, end;
    int eof;
    int marked;          /* the bytes from `mark` on are kept: the probed rows are parsed again */
    size_t mark;
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
    /* time base: the first row's time, as an integer (sign and magnitude)
     * when it is one */
    int have_t0, t0_int, t0_neg;
    uint64_t t0_m;
    double t0_d;
    int have_origin;
    double origin;       /* the earliest row's time (row.t): time 0 */
    /* order: rows in, rows out in time order */
    int disorder;
    row in, last;        /* the row being parsed (error, drop); the last row passed on */
    int have_last;
    int at_end;          /* no more lines */
    size_t sort_window;  /* sort: rows held; win has one more slot */
    row *win;            /* slots */
    float *winv;
    uint32_t *word;      /* ring of the held slots in time order, from word_head */
    size_t word_head, nwin;
    uint32_t *wfree;     /* free slots */
    size_t nfree;
    uint64_t n_repeats, repeat_line, n_dropped, dropped_line;
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

/* What a number's text was, for timestamps. */
enum { NUM_OTHER, NUM_INT, NUM_LONG_INT };
typedef struct numinfo {
    int kind;     /* NUM_INT: a plain integer of up to 19 significant digits, exact in mag */
    int neg;
    uint64_t mag;
} numinfo;

/* Parse a decimal number at p (before e). Returns the end of the number,
 * or p itself if there is none, or NULL when out of memory. `dec2` is a
 * second accepted decimal mark. *ni (if not NULL) tells whether the text
 * was a plain integer, and gives it exactly when it has at most 19
 * significant digits. A number the fast path cannot take is copied whole
 * (however long) for strtod into *tmp, grown as needed. */
static const char *parse_num(const char *p, const char *e, char dec2, double *out, numinfo *ni, char **tmp,
                             size_t *tmp_cap)
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
    /* 19 significant digits always fit a uint64_t (Unix-epoch
     * nanoseconds are 19 digits, and pass INT64_MAX in 2262); exp10 > 0
     * means digits were dropped past the 19th (zeros: the value is
     * m·10^exp10, not m). */
    if (ni) {
        ni->kind = frac ? NUM_OTHER : exp10 == 0 ? NUM_INT : NUM_LONG_INT;
        ni->neg = neg;
        ni->mag = m;
    }
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
 * Returns (char *)-1 after host->error. A line ends with '\n' (or
 * "\r\n"): bytes after the last one are a line still being written, not
 * a short last row. A line is at most READ_BUF - 1 bytes before its end,
 * however large the buffer has grown. */
static char *next_line(sensor *s, size_t *len)
{
    for (;;) {
        char *p = s->buf + s->beg;
        size_t avail = s->end - s->beg;
        char *nl = avail ? memchr(p, '\n', avail < READ_BUF ? avail : READ_BUF) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p);
            s->beg += n + 1;
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
        if (avail >= READ_BUF) {
            s->host->error(s->host, "%s:%llu: line longer than %u bytes", s->path, (unsigned long long)s->line + 1,
                           READ_BUF);
            return (char *)-1;
        }
        if (s->eof) {
            if (!avail)
                return NULL;
            s->host->error(s->host, "%s:%llu: unterminated last line (the file may still be being written)", s->path,
                           (unsigned long long)s->line + 1);
            return (char *)-1;
        }
        /* Make room: drop what was taken, but while marked keep the
         * bytes from the mark on (grown into as needed). */
        size_t keep = s->marked ? s->mark : s->beg;
        if (keep > 0) {
            memmove(s->buf, s->buf + keep, s->end - keep);
            s->end -= keep;
            s->beg -= keep;
            if (s->marked)
                s->mark = 0;
        }
        if (!s->marked && s->bufcap > READ_BUF) {
            /* the probed prefix is consumed: back to the usual buffer
             * (what is left is part of one line, under READ_BUF) */
            char *b = realloc(s->buf, READ_BUF);
            if (b) {
                s->buf = b;
                s->bufcap = READ_BUF;
            }
        }
        if (s->end == s->bufcap) {
            size_t cap = 2 * s->bufcap;
            char *b = realloc(s->buf, cap);
            if (!b) {
                s->host->error(s->host, "out of memory");
                return (char *)-1;
            }
            s->buf = b;
            s->bufcap = cap;
        }
        ssize_t got;
        do
            got = read(s->fd, s->buf + s->end, s->bufcap - s->end);
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
/* Rows                                                                      */

/* The time of a field into r: r->t in the file's unit from the file's
 * first row, and its text for messages. Returns 0, or -1 after
 * host->error. */
static int parse_time(sensor *s, const char *p, const char *e, uint32_t col, row *r)
{
    double v;
    numinfo ni;
    const char *q = parse_num(p, e, s->dec2, &v, &ni, &s->numtext, &s->numtext_cap);
    if (!q) {
        s->host->error(s->host, "out of memory");
        return -1;
    }
    excerpt(r->tt, sizeof r->tt, p, e);
    if (q == p || q != e || !isfinite(v)) {
        if (p == e)
            s->host->error(s->host, "%s:%llu:%u: missing timestamp in column '%s'", s->path,
                           (unsigned long long)s->line, col, s->fnames[col - 1]);
        else
            s->host->error(s->host, "%s:%llu:%u: text '%s' in time column '%s'", s->path, (unsigned long long)s->line,
                           col, r->tt, s->fnames[col - 1]);
        return -1;
    }
    if (ni.kind == NUM_LONG_INT) {
        /* as a double it would be rounded (to 2048 ns at 1e19 ns): rows
         * would move, or collide, without a word */
        s->host->error(s->host,
                       "%s:%llu:%u: timestamp '%s' has more than 19 digits: it cannot be read exactly",
                       s->path, (unsigned long long)s->line, col, r->tt);
        return -1;
    }
    if (!s->have_t0) {
        s->have_t0 = 1;
        s->t0_int = ni.kind == NUM_INT;
        s->t0_neg = ni.neg;
        s->t0_m = ni.mag;
        s->t0_d = v;
        r->t = 0.0;
    } else if (ni.kind == NUM_INT && s->t0_int) {
        /* exact: magnitudes below 1e19 subtract in a uint64_t; only the
         * conversion of the difference to a double rounds (beyond 2^53) */
        uint64_t a = ni.mag, b = s->t0_m;
        double d;
        if (ni.neg == s->t0_neg)
            d = a >= b ? (double)(a - b) : -(double)(b - a);
        else
            d = a <= UINT64_MAX - b ? (double)(a + b) : (double)a + (double)b;
        r->t = ni.neg ? -d : d;
    } else {
        r->t = v - s->t0_d;
    }
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

/* Parse one line into r: its time and the values of the selected columns
 * (NaN where missing). Returns 1 a row, 0 a blank or comment line, -1
 * error. */
static int parse_line(sensor *s, const char *p, size_t n, row *r)
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
    if (!s->first_data_line)
        s->first_data_line = s->line;
    r->line = s->line;
    r->t = 0;
    if (s->tcol >= 0 && parse_time(s, f[s->tcol].p, f[s->tcol].e, (uint32_t)s->tcol + 1, r))
        return -1;
    for (uint32_t i = 0; i < nf; i++) {
        int c = s->colmap[i];
        if (c < 0)
            continue;
        const char *fp = f[i].p, *fe = f[i].e;
        double v;
        const char *q = parse_num(fp, fe, s->dec2, &v, NULL, &s->numtext, &s->numtext_cap);
        if (!q) {
            s->host->error(s->host, "out of memory");
            return -1;
        }
        /* finite as a double is not enough: beyond FLT_MAX the float is
         * infinite (and would spoil the interpolation of its neighbours) */
        if (q != fp && q == fe && fabs(v) <= FLT_MAX) {
            r->v[c] = (float)v;
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
        r->v[c] = NAN;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Order                                                                     */

/* Same values in every column read (missing in the same places). */
static int same_values(const sensor *s, const row *a, const row *b)
{
    for (uint32_t c = 0; c < s->nsel; c++) {
        float x = a->v[c], y = b->v[c];
        if (!(x == y || (isnan(x) && isnan(y))))
            return 0;
    }
    return 1;
}

static void count_repeat(sensor *s, const row *r)
{
    if (!s->n_repeats++)
        s->repeat_line = r->line;
}

/* The i-th held row in time order (sort). */
static row *held(const sensor *s, size_t i)
{
    return &s->win[s->word[(s->word_head + i) % (s->sort_window + 1)]];
}

/* The row r (at s->line's place) is not after the last row passed on and
 * is not a repeat of it: error, or counted and dropped. Returns 0 dropped,
 * -1 error. */
static int out_of_order(sensor *s, const row *r)
{
    const row *l = &s->last;
    const uint32_t col = (uint32_t)s->tcol + 1;
    if (s->disorder == DO_DROP) {
        if (!s->n_dropped++)
            s->dropped_line = r->line;
        return 0;
    }
    if (s->disorder == DO_SORT) {
        if (r->t == l->t)
            s->host->error(s->host,
                           "%s:%llu:%u: timestamp %s repeats that of line %llu, %s, with different values: sorting "
                           "cannot order them (disorder = drop keeps the first row)",
                           s->path, (unsigned long long)r->line, col, r->tt, (unsigned long long)l->line, l->tt);
        else
            s->host->error(s->host,
                           "%s:%llu:%u: timestamp %s is earlier than %s (line %llu), and more than sort_window = %zu "
                           "rows later in time came before it: too far out of order to sort (raise sort_window)",
                           s->path, (unsigned long long)r->line, col, r->tt, l->tt, (unsigned long long)l->line,
                           s->sort_window);
        return -1;
    }
    if (r->t == l->t)
        s->host->error(s->host,
                       "%s:%llu:%u: timestamp %s repeats the previous one, %s (line %llu), with different values "
                       "(disorder = error; drop keeps the first row)",
                       s->path, (unsigned long long)r->line, col, r->tt, l->tt, (unsigned long long)l->line);
    else
        s->host->error(s->host,
                       "%s:%llu:%u: timestamp %s is earlier than the previous one, %s (line %llu): timestamps must "
                       "increase (disorder = error; sort or drop accept rows out of order)",
                       s->path, (unsigned long long)r->line, col, r->tt, l->tt, (unsigned long long)l->line);
    return -1;
}

/* The next row in time order into *out: 1 a row, 0 the end, -1 error.
 * Exact repeats and (disorder = drop) rows out of order are dropped here;
 * under disorder = sort up to sort_window rows are held, in time order,
 * and the earliest is passed on when one more comes. What is passed on
 * depends on the file's bytes only, never on how reads split them. */
static int next_row(sensor *s, row **out)
{
    const int sort = s->disorder == DO_SORT && s->tcol >= 0;
    const size_t wcap = s->sort_window + 1;
    for (;;) {
        if (sort && s->nwin && (s->nwin > s->sort_window || s->at_end)) {
            uint32_t k = s->word[s->word_head];
            s->word_head = (s->word_head + 1) % wcap;
            s->nwin--;
            s->wfree[s->nfree++] = k;
            row *w = &s->win[k];
            s->last.t = w->t;
            s->last.line = w->line;
            memcpy(s->last.v, w->v, s->nsel * sizeof *w->v);
            memcpy(s->last.tt, w->tt, sizeof w->tt);
            s->have_last = 1;
            *out = &s->last;
            return 1;
        }
        if (s->at_end)
            return 0;
        size_t len;
        char *p = next_line(s, &len);
        if (p == (char *)-1)
            return -1;
        if (!p) {
            s->at_end = 1;
            continue;
        }
        /* under sort a row is parsed straight into a free slot (there is
         * one: at most sort_window are held when a line is read) */
        row *r = sort ? &s->win[s->wfree[s->nfree - 1]] : &s->in;
        int rc = parse_line(s, p, len, r);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (s->tcol < 0) {
            /* no time: the rows as they come */
            *out = r;
            return 1;
        }
        if (s->have_last && r->t <= s->last.t) {
            if (r->t == s->last.t && same_values(s, r, &s->last)) {
                count_repeat(s, r);
                continue;
            }
            if (out_of_order(s, r) < 0)
                return -1;
            continue;
        }
        if (!sort) {
            row tmp = s->last;
            s->last = s->in;
            s->in = tmp;
            s->have_last = 1;
            *out = &s->last;
            return 1;
        }
        /* the place among the held rows: usually after the last */
        size_t lo = 0, hi = s->nwin;
        if (hi && !(r->t > held(s, hi - 1)->t)) {
            hi--;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (held(s, mid)->t < r->t)
                    lo = mid + 1;
                else
                    hi = mid;
            }
        } else {
            lo = hi;
        }
        if (lo < s->nwin && held(s, lo)->t == r->t) {
            const row *q = held(s, lo);
            if (same_values(s, r, q)) {
                count_repeat(s, r);
                continue;
            }
            s->host->error(s->host,
                           "%s:%llu:%u: timestamp %s repeats that of line %llu, %s, with different values: sorting "
                           "cannot order them (disorder = drop keeps the first row)",
                           s->path, (unsigned long long)r->line, (uint32_t)s->tcol + 1, r->tt,
                           (unsigned long long)q->line, q->tt);
            return -1;
        }
        for (size_t i = s->nwin; i > lo; i--)
            s->word[(s->word_head + i) % wcap] = s->word[(s->word_head + i - 1) % wcap];
        s->word[(s->word_head + lo) % wcap] = s->wfree[--s->nfree];
        s->nwin++;
    }
}

/* Back to no row read (after the probe). */
static void reset_order(sensor *s)
{
    s->have_t0 = 0;
    s->have_origin = 0;
    s->have_last = 0;
    s->at_end = 0;
    s->nwin = s->word_head = 0;
    if (s->win) {
        s->nfree = s->sort_window + 1;
        for (size_t k = 0; k < s->nfree; k++)
            s->wfree[k] = (uint32_t)k;
    }
    s->n_repeats = s->repeat_line = s->n_dropped = s->dropped_line = 0;
    s->prev_line = 0;
}

/* ------------------------------------------------------------------------ */
/* Samples                                                                   */

/* Take the next row in time order: checks of the interval since the
 * previous one, then (while probing) just its time, else into the ring
 * where missing values wait to be filled. Returns 0, or -1 after
 * host->error. */
static int accept_row(sensor *s, const row *r)
{
    double t = 0;
    if (s->tcol >= 0) {
        if (!s->have_origin) {
            s->have_origin = 1;
            s->origin = r->t;
        }
        /* the difference of two exact integers is exact (below 2^53) */
        t = (r->t - s->origin) * s->tscale;
        if (s->prev_line) {
            double dt = t - s->prev_t;
            if (!s->probing && s->resample != RS_NONE && dt * s->rate > MAX_GAP_ROWS) {
                s->host->error(s->host,
                               "%s:%llu:%d: %.6g s since the previous row (line %llu) would be resampled into %.3g "
                               "rows at %.6g Hz, more than %g: check the timestamps (and time_unit), or set resample "
                               "= none",
                               s->path, (unsigned long long)r->line, s->tcol + 1, dt,
                               (unsigned long long)s->prev_line, dt * s->rate, s->rate, MAX_GAP_ROWS);
                return -1;
            }
            if (s->median_dt > 0 && dt > s->gap_factor * s->median_dt) {
                s->n_gaps++;
                if (s->n_gaps <= 3)
                    s->host->log(s->host, JOULE_LOG_WARN,
                                 "line %llu: gap of %.6g s (%.1f × the median interval) before this row",
                                 (unsigned long long)r->line, dt, dt / s->median_dt);
                if (dt > s->longest_gap) {
                    s->longest_gap = dt;
                    s->longest_gap_line = r->line;
                }
            }
        }
        s->prev_t = t;
        s->prev_line = r->line;
    }
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
        s->probe_t[s->n_probe++] = t;
        return 0;
    }
    if (s->q_tail - s->q_head == s->qcap) {
        /* cannot happen: the oldest row waits only for the run of missing
         * values that starts at it, at most max_missing rows (checked
         * below), and the ring holds max_missing + 1 rows or more */
        s->host->error(s->host, "%s:%llu: internal error: more than %zu rows waiting for missing values", s->path,
                       (unsigned long long)r->line, s->qcap);
        return -1;
    }
    uint64_t idx = s->q_tail;
    size_t slot = (size_t)(idx % s->qcap);
    const size_t nsel = s->nsel;
    float *dst = s->qv + slot * nsel;
    uint32_t miss = 0;
    s->qt[slot] = t;
    for (uint32_t i = 0; i < s->nf; i++) {
        int c = s->colmap[i];
        if (c < 0)
            continue;
        float x = r->v[c];
        if (!isnan(x)) {
            dst[c] = x;
            if (s->pend_from[c] >= 0)
                fill_pending(s, (uint32_t)c, (int64_t)idx, t, x);
            s->last_valid[c] = (int64_t)idx;
            s->last_val[c] = x;
            s->last_time[c] = t;
            continue;
        }
        if (s->pend_from[c] >= 0 && (int64_t)idx - s->pend_from[c] >= s->max_missing) {
            s->host->error(s->host,
                           "%s:%llu:%u: column '%s' has more than %lld consecutive missing values (from line %llu): "
                           "too long a gap to fill (raise max_missing)",
                           s->path, (unsigned long long)r->line, i + 1, s->fnames[i], (long long)s->max_missing,
                           (unsigned long long)s->pend_line[c]);
            return -1;
        }
        dst[c] = NAN;
        miss++;
        if (s->pend_from[c] < 0) {
            s->pend_from[c] = (int64_t)idx;
            s->pend_line[c] = r->line;
        }
    }
    s->qmiss[slot] = miss;
    s->q_tail++;
    return 0;
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
        row *r;
        int rc = next_row(s, &r);
        if (rc < 0)
            return -1;
        if (rc == 0) {
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
            /* once, with the count: a warning per row would bury the rest */
            if (s->n_repeats)
                s->host->log(s->host, JOULE_LOG_WARN, "dropped %llu exactly repeated row%s (%sline %llu)",
                             (unsigned long long)s->n_repeats, s->n_repeats == 1 ? "" : "s",
                             s->n_repeats == 1 ? "" : "first at ", (unsigned long long)s->repeat_line);
            if (s->n_dropped)
                s->host->log(s->host, JOULE_LOG_WARN,
                             "dropped %llu row%s whose timestamp did not increase (%sline %llu; disorder = drop)",
                             (unsigned long long)s->n_dropped, s->n_dropped == 1 ? "" : "s",
                             s->n_dropped == 1 ? "" : "first at ", (unsigned long long)s->dropped_line);
            if (s->n_gaps > 3)
                s->host->log(s->host, JOULE_LOG_WARN, "%llu gaps in all (longest %.6g s, before line %llu)",
                             (unsigned long long)s->n_gaps, s->longest_gap,
                             (unsigned long long)s->longest_gap_line);
            continue;
        }
        if (accept_row(s, r) < 0)
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
    s->disorder = (int)pv[P_DISORDER].e;
    s->sort_window = (size_t)pv[P_SORTWIN].i;
    s->buf = malloc(READ_BUF);
    s->bufcap = READ_BUF;
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
    /* The first row: separator, field count, names. Nothing is read
     * twice from the file (it may be a pipe): what open reads stays in the
     * buffer, from the mark on, to be parsed again. */
    s->marked = 1;
    s->mark = 0;
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
        /* the first row is data: parsed again below */
        s->line = 0;
        s->beg = s->mark;
        s->started = 0;
    }
    s->mark = s->beg; /* the data starts here */
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
    s->in.v = malloc(no * sizeof *s->in.v);
    s->last.v = malloc(no * sizeof *s->last.v);
    if (!s->in.v || !s->last.v) {
        h->error(h, "out of memory");
        goto out;
    }
    if (s->disorder == DO_SORT && s->tcol >= 0) {
        size_t wcap = s->sort_window + 1;
        s->win = calloc(wcap, sizeof *s->win);
        s->winv = malloc(wcap * no * sizeof *s->winv);
        s->word = malloc(wcap * sizeof *s->word);
        s->wfree = malloc(wcap * sizeof *s->wfree);
        if (!s->win || !s->winv || !s->word || !s->wfree) {
            h->error(h, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < wcap; k++)
            s->win[k].v = s->winv + k * no;
    }
    reset_order(s);

    /* The rate: probe the first rows for their timestamps. */
    s->rate = pv[P_RATE].f;
    if (s->tcol >= 0) {
        size_t probe = (size_t)pv[P_PROBE].i;
        /* where the data starts: the mark */
        uint64_t line0 = s->line;
        int started0 = s->started;
        s->probing = 1;
        while (s->n_probe < probe && s->beg - s->mark < PROBE_BYTES) {
            row *r;
            int got = next_row(s, &r);
            if (got < 0)
                goto out;
            if (!got)
                break;
            if (accept_row(s, r) < 0)
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
        /* back to the first data row, still in the buffer */
        s->line = line0;
        s->started = started0;
        s->beg = s->mark;
        reset_order(s);
        free(s->probe_t);
        s->probe_t = NULL;
    } else {
        s->resample = RS_NONE;
    }
    s->marked = 0;
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
            float *o = dst + (size_t)n * nc;
            if (linear) {
                double w = (tk - s->t0) / (s->t1 - s->t0);
                for (uint32_t c = 0; c < nc; c++)
                    o[c] = (float)((double)s->v0[c] + ((double)s->v1[c] - (double)s->v0[c]) * w);
            } else {
                memcpy(o, s->v0, nc * sizeof *o);
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
    free(s->in.v);
    free(s->last.v);
    free(s->win);
    free(s->winv);
    free(s->word);
    free(s->wfree);
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
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Reads sensor logs written as CSV or TSV (phones, IMUs, motion capture exports): finds the "
                   "header, the timestamp column and its unit (s, ms, us, ns, or epoch times), infers the sampling "
                   "rate, and maps the chosen columns onto a uniform grid (linear interpolation, or holding the last "
                   "value). Ragged rows, non-numeric cells and (by default) timestamps that go backwards or missing "
                   "values fail with the file, line and column.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
