/* check_cache_store.c — the disk tier of the stage cache: entries written
 * and read back byte for byte whatever the record and read sizes; misses;
 * the TTL and its refresh on a hit; damaged, truncated, foreign-version
 * and misnamed entries refused and removed; an aborted or killed writer
 * leaves nothing; pruning by age and least-recently-used under the size
 * bound; clear; the memory tier in front of the disk (served without the
 * file, least recently used evicted under its byte bound, its TTL,
 * promotion of a disk hit, clear); the digest memo; four processes on one folder never see a
 * partial entry; the per-key lock and its release when its holder dies. */
#include "testutil.h"

#include "cache_mem.h"
#include "cache_store.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- an entry's content ---------------------------------------------------
 * Port 0: a 2-column signal; port 1: events (one column, with times).
 * Values are a function of the key's seed and the row, with a NaN carrying
 * a payload and a negative zero among them (compared as bytes). */
#define SIG_ROWS 200000u
#define EV_ROWS 30000u

static const char *sig_names[] = {"left", "right"};
static const char *ev_names[] = {"peak"};
static const char *ev_units[] = {"dBFS"};

static void formats(joule_format f[2])
{
    memset(f, 0, 2 * sizeof *f);
    f[0] = (joule_format){.kind = JOULE_SIGNAL, .n_columns = 2, .rate = 48000, .t0 = 0, .names = sig_names,
                          .out_num = 1, .out_den = 1, .flags = JOULE_FORMAT_IN_PLACE};
    f[1] = (joule_format){.kind = JOULE_EVENTS, .n_columns = 1, .rate = 100, .t0 = 0.25, .names = ev_names,
                          .units = ev_units, .out_num = 3, .out_den = 2};
}

static float sig_value(unsigned seed, uint64_t row, unsigned col)
{
    uint64_t x = row * 2 + col;
    if (x % 9973 == 5) {
        uint32_t bits = 0x7fc00000u | (uint32_t)(seed + row) % 0x3fffffu; /* NaN with a payload */
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    if (x % 7919 == 3)
        return -0.0f;
    return (float)sin((double)x * 0.001 + seed) * (float)(seed + 1);
}

static float ev_value(unsigned seed, uint64_t row)
{
    return (float)row * 0.5f + (float)seed;
}

static double ev_time(unsigned seed, uint64_t row)
{
    return 0.25 + (double)row * 0.01 + seed * 1e-6;
}

static jl_key key_of(unsigned n)
{
    /* different first bytes: different fan-out folders */
    return (jl_key){0x0123456789abcdefull ^ ((uint64_t)(n * 37u % 256u) << 56), 0xfedcba9876543210ull + n};
}

/* Write an entry for `seed` in records whose sizes cycle through `sizes`
 * (rows), the ports interleaved; sig_rows/ev_rows rows in all. Returns the
 * commit's result (or -2 when aborted on purpose after half). */
static int write_entry_n(jl_store *s, jl_key key, unsigned seed, const uint32_t *sizes, size_t n_sizes,
                         uint32_t sig_rows, uint32_t ev_rows, int abort_half)
{
    joule_format f[2];
    formats(f);
    char *why = NULL;
    jl_entry_writer *w = jl_entry_create(s, key, 2, f, &why);
    ck_assert_msg(w != NULL, "create: %s", why ? why : "?");
    uint64_t rs = 0, re = 0;
    size_t k = 0;
    uint32_t max = 0;
    for (size_t i = 0; i < n_sizes; i++)
        max = sizes[i] > max ? sizes[i] : max;
    float *data = malloc((size_t)max * 2 * sizeof *data);
    double *times = malloc((size_t)max * sizeof *times);
    while (rs < sig_rows || re < ev_rows) {
        uint32_t n = sizes[k++ % n_sizes];
        if (abort_half && rs >= sig_rows / 2) {
            jl_entry_abort(w);
            free(data);
            free(times);
            return -2;
        }
        if (rs < sig_rows) {
            uint32_t m = sig_rows - rs < n ? (uint32_t)(sig_rows - rs) : n;
            for (uint32_t i = 0; i < m; i++)
                for (unsigned c = 0; c < 2; c++)
                    data[2 * i + c] = sig_value(seed, rs + i, c);
            ck_assert_int_eq(jl_entry_append(w, 0, data, NULL, m), 0);
            rs += m;
        }
        n = sizes[k++ % n_sizes];
        if (re < ev_rows) {
            uint32_t m = ev_rows - re < n ? (uint32_t)(ev_rows - re) : n;
            for (uint32_t i = 0; i < m; i++) {
                data[i] = ev_value(seed, re + i);
                times[i] = ev_time(seed, re + i);
            }
            ck_assert_int_eq(jl_entry_append(w, 1, data, times, m), 0);
            re += m;
        }
    }
    free(data);
    free(times);
    ck_assert_int_eq(jl_entry_append(w, 0, NULL, NULL, 0), 0); /* nothing: no record */
    int rc = jl_entry_commit(w, 1.5 + seed, &why);
    if (rc) {
        fprintf(stderr, "commit: %s\n", why);
        free(why);
    }
    return rc;
}

static const uint32_t mixed[] = {1, 7, 300, 4096, 70000, 3, 20000, 2};

static void write_entry(jl_store *s, jl_key key, unsigned seed)
{
    ck_assert_int_eq(write_entry_n(s, key, seed, mixed, sizeof mixed / sizeof *mixed, SIG_ROWS, EV_ROWS, 0), 0);
}

/* Read an open entry to its end in reads of at most max_rows, checking
 * every byte. NULL, or what is wrong (static). */
static const char *read_check(jl_entry_reader *r, unsigned seed, uint32_t max_rows, uint32_t sig_rows,
                              uint32_t ev_rows)
{
    if (jl_entry_ports(r) != 2 || jl_entry_rows(r, 0) != sig_rows || jl_entry_rows(r, 1) != ev_rows)
        return "ports or row counts";
    if (jl_entry_cost(r) != 1.5 + seed)
        return "cost";
    float *data = malloc((size_t)max_rows * 2 * sizeof *data);
    double *times = malloc((size_t)max_rows * sizeof *times);
    uint64_t rs = 0, re = 0;
    const char *bad = NULL;
    uint32_t port, n;
    int rc;
    while (!bad && (rc = jl_entry_read(r, max_rows, &port, &n, data, times)) == 1) {
        if (n == 0 || n > max_rows) {
            bad = "rows per read";
        } else if (port == 0) {
            for (uint32_t i = 0; i < n && !bad; i++)
                for (unsigned c = 0; c < 2; c++) {
                    float want = sig_value(seed, rs + i, c);
                    if (memcmp(&data[2 * i + c], &want, sizeof want))
                        bad = "signal value";
                }
            rs += n;
        } else if (port == 1) {
            for (uint32_t i = 0; i < n && !bad; i++) {
                float want = ev_value(seed, re + i);
                double t = ev_time(seed, re + i);
                if (memcmp(&data[i], &want, sizeof want) || memcmp(&times[i], &t, sizeof t))
                    bad = "event value or time";
            }
            re += n;
        } else {
            bad = "port";
        }
    }
    if (!bad && rc != 0)
        bad = "read error";
    if (!bad && (rs != sig_rows || re != ev_rows))
        bad = "rows read";
    if (!bad && jl_entry_read(r, max_rows, &port, &n, data, times) != 0)
        bad = "read after the end";
    free(data);
    free(times);
    return bad;
}

static jl_store *store(const char *name, double ttl, uint64_t max_bytes)
{
    char *why = NULL;
    jl_store *s = jl_store_open(tu_path(name), ttl, max_bytes, &why);
    ck_assert_msg(s != NULL, "open: %s", why ? why : "?");
    return s;
}

static char *entry_file(jl_store *s, jl_key k)
{
    char *p = NULL;
    if (asprintf(&p, "%s/entries/%02llx/%016llx%016llx", jl_store_dir(s), (unsigned long long)(k.hi >> 56),
                 (unsigned long long)k.hi, (unsigned long long)k.lo) < 0)
        abort();
    return p;
}

/* Files in the entry's fan-out folder, temporaries included. */
static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static char *dir_of_file(const char *p)
{
    char *d = strdup(p);
    *strrchr(d, '/') = '\0';
    return d;
}

static int expect_open(jl_store *s, jl_key k)
{
    jl_entry_reader *r = NULL;
    int rc = jl_entry_open(s, k, &r);
    ck_assert((rc == JL_ENTRY_HIT) == (r != NULL));
    jl_entry_close(r);
    return rc;
}

/* ---- round trip ----------------------------------------------------------*/

START_TEST(test_round_trip)
{
    jl_store *s = store("rt", 0, 0);
    jl_key k = key_of(1);
    ck_assert_int_eq(jl_entry_probe(s, k), JL_ENTRY_MISS);
    write_entry(s, k, 1);
    ck_assert_int_eq(jl_entry_probe(s, k), JL_ENTRY_HIT);
    const uint32_t reads[] = {1, 5, 999, 4096, 65536, 1000000};
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
        jl_entry_reader *r = NULL;
        ck_assert_int_eq(jl_entry_open(s, k, &r), JL_ENTRY_HIT);
        const joule_format *f0 = jl_entry_format(r, 0), *f1 = jl_entry_format(r, 1);
        ck_assert_uint_eq(f0->kind, JOULE_SIGNAL);
        ck_assert_uint_eq(f0->n_columns, 2);
        ck_assert(f0->rate == 48000 && f0->t0 == 0);
        ck_assert_str_eq(f0->names[0], "left");
        ck_assert_str_eq(f0->names[1], "right");
        ck_assert_ptr_null(f0->units);
        ck_assert_uint_eq(f0->out_num, 1);
        ck_assert_uint_eq(f0->flags, JOULE_FORMAT_IN_PLACE);
        ck_assert_uint_eq(f1->kind, JOULE_EVENTS);
        ck_assert(f1->rate == 100 && f1->t0 == 0.25);
        ck_assert_str_eq(f1->names[0], "peak");
        ck_assert_str_eq(f1->units[0], "dBFS");
        ck_assert_uint_eq(f1->out_num, 3);
        ck_assert_uint_eq(f1->out_den, 2);
        ck_assert_ptr_null(jl_entry_format(r, 2));
        const char *bad = read_check(r, 1, reads[i], SIG_ROWS, EV_ROWS);
        ck_assert_msg(bad == NULL, "max_rows %u: %s", reads[i], bad);
        jl_entry_close(r);
    }
    jl_store_counts c;
    jl_store_counts_get(s, &c);
    ck_assert_uint_eq(c.hits, 6);
    ck_assert_uint_eq(c.misses + c.corrupt + c.expired, 0);
    struct stat st;
    char *path = entry_file(s, k);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(c.bytes_written, (uint64_t)st.st_size);
    ck_assert_uint_eq(c.bytes_read, 6 * (uint64_t)st.st_size);
    /* only the entry in its folder: no temporary left */
    char *dir = dir_of_file(path);
    ck_assert_int_eq(files_in(dir), 1);
    free(dir);
    free(path);

    /* written again (another chunking): replaced, read back the same */
    const uint32_t big[] = {100000};
    ck_assert_int_eq(write_entry_n(s, k, 1, big, 1, SIG_ROWS, EV_ROWS, 0), 0);
    jl_entry_reader *r = NULL;
    ck_assert_int_eq(jl_entry_open(s, k, &r), JL_ENTRY_HIT);
    ck_assert_ptr_null(read_check(r, 1, 777, SIG_ROWS, EV_ROWS));
    jl_entry_close(r);

    /* an entry of no rows, and one of no ports */
    ck_assert_int_eq(write_entry_n(s, key_of(2), 2, mixed, 8, 0, 0, 0), 0);
    ck_assert_int_eq(jl_entry_open(s, key_of(2), &r), JL_ENTRY_HIT);
    ck_assert_ptr_null(read_check(r, 2, 10, 0, 0));
    jl_entry_close(r);
    char *why = NULL;
    jl_entry_writer *w = jl_entry_create(s, key_of(3), 0, NULL, &why);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(jl_entry_commit(w, 0, &why), 0);
    ck_assert_int_eq(jl_entry_open(s, key_of(3), &r), JL_ENTRY_HIT);
    uint32_t port, n;
    float x;
    ck_assert_int_eq(jl_entry_ports(r), 0);
    ck_assert_int_eq(jl_entry_read(r, 1, &port, &n, &x, NULL), 0);
    jl_entry_close(r);
    jl_store_close(s);
}
END_TEST

START_TEST(test_miss)
{
    jl_store *s = store("miss", 0, 0);
    jl_entry_reader *r = (jl_entry_reader *)&r;
    ck_assert_int_eq(jl_entry_open(s, key_of(9), &r), JL_ENTRY_MISS);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(jl_entry_probe(s, key_of(9)), JL_ENTRY_MISS);
    jl_store_counts c;
    jl_store_counts_get(s, &c);
    ck_assert_uint_eq(c.misses, 1); /* the probe counts nothing */
    ck_assert_uint_eq(c.hits + c.corrupt + c.expired, 0);
    jl_store_close(s);
}
END_TEST

/* ---- TTL -----------------------------------------------------------------*/

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

START_TEST(test_ttl)
{
    jl_store *s = store("ttl", 1, 0);
    jl_key k = key_of(4);
    ck_assert_int_eq(write_entry_n(s, k, 4, mixed, 8, 1000, 100, 0), 0);
    ck_assert_int_eq(jl_entry_probe(s, k), JL_ENTRY_HIT);
    sleep_s(1.1);
    ck_assert_int_eq(jl_entry_probe(s, k), JL_ENTRY_EXPIRED); /* by its file alone */
    jl_store_usage u;
    ck_assert_int_eq(jl_store_usage_get(s, &u), 0);
    ck_assert_uint_eq(u.entries, 1);
    ck_assert_uint_eq(u.expired, 1);
    ck_assert(u.oldest_s >= 1.0);
    char *path = entry_file(s, k);
    ck_assert(tu_exists(path));
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_EXPIRED);
    ck_assert(!tu_exists(path));
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_MISS);
    jl_store_counts c;
    jl_store_counts_get(s, &c);
    ck_assert_uint_eq(c.expired, 1);
    ck_assert_uint_eq(c.misses, 1);

    /* a hit makes the entry recent again */
    ck_assert_int_eq(write_entry_n(s, k, 4, mixed, 8, 1000, 100, 0), 0);
    sleep_s(0.6);
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_HIT);
    sleep_s(0.6); /* 1.2 s since written, 0.6 s since served */
    ck_assert_int_eq(jl_entry_probe(s, k), JL_ENTRY_HIT);
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_HIT);
    free(path);
    jl_store_close(s);
}
END_TEST

/* ---- the memory tier -----------------------------------------------------*/

static uint64_t mem_hits(jl_store *s)
{
    jl_store_counts c;
    jl_store_counts_get(s, &c);
    return c.memory_hits;
}

/* Open, read every byte, close: the entry is served whole. */
static int open_read(jl_store *s, jl_key k, unsigned seed)
{
    jl_entry_reader *r = NULL;
    int rc = jl_entry_open(s, k, &r);
    if (rc == JL_ENTRY_HIT) {
        const char *bad = read_check(r, seed, 777, 20000, 3000);
        ck_assert_msg(bad == NULL, "seed %u: %s", seed, bad);
    }
    jl_entry_close(r);
    return rc;
}

static void forget_file(jl_store *s, jl_key k)
{
    char *p = entry_file(s, k);
    ck_assert_int_eq(unlink(p), 0);
    free(p);
}

START_TEST(test_memory_tier)
{
    jl_store *s = store("mem", 0, 0);
    jl_key k[8];
    for (unsigned i = 0; i < 8; i++)
        k[i] = key_of(100 + i);
    /* the size of one entry, to set the bound in entries */
    jl_mem_configure(0);
    ck_assert_int_eq(write_entry_n(s, k[0], 0, mixed, 8, 20000, 3000, 0), 0);
    struct stat st;
    char *p0 = entry_file(s, k[0]);
    ck_assert_int_eq(stat(p0, &st), 0);
    free(p0);
    uint64_t size = (uint64_t)st.st_size;

    /* not kept while the tier is off; once on, an entry is kept at its
     * second use (written, then read: the read hands it to the tier) */
    jl_mem_configure(size * 9 / 2);
    ck_assert_int_eq(open_read(s, k[0], 0), JL_ENTRY_HIT);
    ck_assert_uint_eq(mem_hits(s), 0);
    forget_file(s, k[0]);
    ck_assert_int_eq(open_read(s, k[0], 0), JL_ENTRY_HIT); /* without its file */
    ck_assert_uint_eq(mem_hits(s), 1);
    /* written by another process, read once here: not kept */
    pid_t pid = fork();
    if (pid == 0)
        _exit(write_entry_n(s, k[7], 7, mixed, 8, 20000, 3000, 0) ? 1 : 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(open_read(s, k[7], 7), JL_ENTRY_HIT);
    forget_file(s, k[7]);
    ck_assert_int_eq(open_read(s, k[7], 7), JL_ENTRY_MISS);

    /* 4.5 entries' bound: a fifth evicts the least recently used */
    for (unsigned i = 1; i < 4; i++) {
        ck_assert_int_eq(write_entry_n(s, k[i], i, mixed, 8, 20000, 3000, 0), 0);
        ck_assert_int_eq(open_read(s, k[i], i), JL_ENTRY_HIT); /* the second use: kept */
    }
    ck_assert_int_eq(open_read(s, k[1], 1), JL_ENTRY_HIT); /* k0 is now the least recent */
    for (unsigned i = 1; i < 4; i++)
        forget_file(s, k[i]);
    uint64_t bytes, entries, evicted;
    jl_mem_usage(&bytes, &entries, &evicted);
    ck_assert_uint_eq(entries, 4);
    ck_assert_uint_eq(bytes, 4 * size);
    ck_assert_int_eq(write_entry_n(s, k[4], 4, mixed, 8, 20000, 3000, 0), 0);
    ck_assert_int_eq(open_read(s, k[4], 4), JL_ENTRY_HIT);
    forget_file(s, k[4]);
    jl_mem_usage(&bytes, &entries, &evicted);
    ck_assert_uint_eq(entries, 4);
    ck_assert_uint_le(bytes, size * 9 / 2);
    ck_assert_int_eq(open_read(s, k[0], 0), JL_ENTRY_MISS);
    for (unsigned i = 1; i < 5; i++)
        ck_assert_int_eq(open_read(s, k[i], i), JL_ENTRY_HIT);
    ck_assert_uint_eq(mem_hits(s), 1 + 1 + 4);

    /* an entry larger than half the bound is not kept */
    jl_mem_configure(size);
    jl_mem_usage(&bytes, &entries, &evicted);
    ck_assert_uint_le(bytes, size);
    ck_assert_int_eq(write_entry_n(s, k[5], 5, mixed, 8, 20000, 3000, 0), 0);
    ck_assert_int_eq(open_read(s, k[5], 5), JL_ENTRY_HIT);
    forget_file(s, k[5]);
    ck_assert_int_eq(open_read(s, k[5], 5), JL_ENTRY_MISS);
    jl_store_close(s);

    /* the TTL: unused for longer, it is gone from memory too */
    s = store("memttl", 1, 0);
    jl_mem_configure(size * 4);
    ck_assert_int_eq(write_entry_n(s, k[6], 6, mixed, 8, 20000, 3000, 0), 0);
    ck_assert_int_eq(open_read(s, k[6], 6), JL_ENTRY_HIT);
    forget_file(s, k[6]);
    ck_assert_int_eq(open_read(s, k[6], 6), JL_ENTRY_HIT);
    sleep_s(1.2);
    ck_assert_int_eq(open_read(s, k[6], 6), JL_ENTRY_MISS);

    /* clear empties it */
    ck_assert_int_eq(write_entry_n(s, k[7], 7, mixed, 8, 20000, 3000, 0), 0);
    ck_assert_int_eq(open_read(s, k[7], 7), JL_ENTRY_HIT);
    uint64_t removed, freed;
    char *why = NULL;
    ck_assert_int_eq(jl_store_clear(s, &removed, &freed, &why), 0);
    jl_mem_usage(&bytes, &entries, &evicted);
    ck_assert_uint_eq(entries, 0);
    ck_assert_int_eq(open_read(s, k[7], 7), JL_ENTRY_MISS);
    jl_mem_configure(0);
    jl_store_close(s);
}
END_TEST

/* ---- damaged entries -----------------------------------------------------*/

static void patch_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    fstat(fd, &st);
    if (off < 0)
        off += st.st_size;
    unsigned char b;
    ck_assert_int_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
    /* as it was: only the content tells */
    struct timespec t[2] = {st.st_atim, st.st_mtim};
    futimens(fd, t);
    close(fd);
}

static void expect_corrupt(jl_store *s, jl_key k, const char *what, uint64_t *n_corrupt)
{
    char *path = entry_file(s, k);
    ck_assert_int_eq(jl_entry_probe(s, k), JL_ENTRY_HIT); /* the probe does not read */
    jl_entry_reader *r = NULL;
    ck_assert_msg(jl_entry_open(s, k, &r) == JL_ENTRY_CORRUPT, "%s: not found corrupt", what);
    ck_assert_ptr_null(r);
    ck_assert_msg(!tu_exists(path), "%s: not removed", what);
    jl_store_counts c;
    jl_store_counts_get(s, &c);
    ck_assert_uint_eq(c.corrupt, ++*n_corrupt);
    ck_assert_uint_eq(c.hits, 0);
    free(path);
}

START_TEST(test_corrupt)
{
    jl_store *s = store("corrupt", 0, 0);
    jl_key k = key_of(5);
    uint64_t n = 0;
    char *path = entry_file(s, k);
    struct stat st;

    /* one payload byte flipped: at the end, in the middle, in a record's
     * header (the record's walk and the checksum both see it) */
    const off_t where[] = {-1, -100000, -1234567};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        write_entry(s, k, 5);
        patch_byte(path, where[i]);
        expect_corrupt(s, k, "a flipped byte", &n);
    }
    /* a byte of the header: a column name's length */
    write_entry(s, k, 5);
    patch_byte(path, 130);
    expect_corrupt(s, k, "a flipped header byte", &n);

    /* truncated by one byte, by half, to nothing, to less than a header */
    const int cut[] = {1, 2, 0, 3};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        write_entry(s, k, 5);
        ck_assert_int_eq(stat(path, &st), 0);
        off_t len = cut[i] == 1 ? st.st_size - 1 : cut[i] == 2 ? st.st_size / 2 : cut[i] == 0 ? 0 : 40;
        ck_assert_int_eq(truncate(path, len), 0);
        expect_corrupt(s, k, "a truncated entry", &n);
    }
    /* a byte appended */
    write_entry(s, k, 5);
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    expect_corrupt(s, k, "a longer entry", &n);

    /* another format version (byte 8: the version's low byte here) */
    write_entry(s, k, 5);
    int fd = open(path, O_RDWR);
    unsigned char v = 2;
    ck_assert_int_eq(pwrite(fd, &v, 1, 8), 1);
    close(fd);
    expect_corrupt(s, k, "another version", &n);

    /* another byte order */
    write_entry(s, k, 5);
    fd = open(path, O_RDWR);
    unsigned char bom[4] = {1, 2, 3, 4};
    uint32_t native = 0x01020304u;
    if (!memcmp(&native, bom, 4))
        memcpy(bom, (unsigned char[]){4, 3, 2, 1}, 4);
    ck_assert_int_eq(pwrite(fd, bom, 4, 12), 4);
    close(fd);
    expect_corrupt(s, k, "another byte order", &n);

    /* another key's entry under this key's name */
    jl_key other = key_of(6);
    write_entry(s, other, 5);
    char *opath = entry_file(s, other);
    ck_assert_int_eq(rename(opath, path), 0);
    expect_corrupt(s, k, "another key's entry", &n);
    ck_assert_int_eq(expect_open(s, other), JL_ENTRY_MISS);
    free(opath);

    /* not an entry at all: text, a symbolic link, a FIFO */
    tu_write_file(path, "hello\n");
    expect_corrupt(s, k, "a text file", &n);
    write_entry(s, other, 5);
    opath = entry_file(s, other);
    ck_assert_int_eq(symlink(opath, path), 0);
    ck_assert_int_eq(jl_entry_probe(s, k), JL_ENTRY_MISS);
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_CORRUPT);
    ck_assert_int_eq(lstat(path, &st), -1);
    ck_assert(tu_exists(opath)); /* the link's target is left alone */
    n++;
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_CORRUPT);
    ck_assert_int_eq(lstat(path, &st), -1);
    n++;
    free(opath);

    /* after all that, a good entry is served again */
    write_entry(s, k, 5);
    jl_entry_reader *r = NULL;
    ck_assert_int_eq(jl_entry_open(s, k, &r), JL_ENTRY_HIT);
    ck_assert_ptr_null(read_check(r, 5, 4096, SIG_ROWS, EV_ROWS));
    jl_entry_close(r);
    jl_store_counts c;
    jl_store_counts_get(s, &c);
    ck_assert_uint_eq(c.corrupt, n);
    free(path);
    jl_store_close(s);
}
END_TEST

/* ---- writers that do not finish ------------------------------------------*/

START_TEST(test_abort)
{
    jl_store *s = store("abort", 0, 0);
    jl_key k = key_of(7);
    char *path = entry_file(s, k), *dir = dir_of_file(path);
    ck_assert_int_eq(write_entry_n(s, k, 7, mixed, 8, SIG_ROWS, EV_ROWS, 1), -2);
    ck_assert_int_eq(files_in(dir), 0); /* no entry, no temporary */
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_MISS);

    /* a failed write: rows for a port that does not exist, then commit */
    joule_format f[2];
    formats(f);
    char *why = NULL;
    jl_entry_writer *w = jl_entry_create(s, k, 2, f, &why);
    float x[2] = {1, 2};
    ck_assert_int_eq(jl_entry_append(w, 0, x, NULL, 1), 0);
    ck_assert_int_eq(jl_entry_append(w, 2, x, NULL, 1), -1);
    ck_assert_int_eq(jl_entry_append(w, 0, x, NULL, 1), -1); /* dead */
    ck_assert_int_eq(jl_entry_append(w, 1, x, NULL, 1), -1); /* events without times */
    ck_assert_int_eq(jl_entry_commit(w, 0, &why), -1);
    ck_assert_ptr_nonnull(why);
    free(why);
    ck_assert_int_eq(files_in(dir), 0);
    /* a format that cannot be cached */
    f[1].n_columns = 0;
    ck_assert_ptr_null(jl_entry_create(s, k, 2, f, &why));
    ck_assert_ptr_nonnull(strstr(why, "port 1"));
    free(why);

    /* a writer killed: its temporary stays until a prune finds its
     * process gone; a live writer's temporary is left alone */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        formats(f);
        jl_entry_writer *cw = jl_entry_create(s, k, 2, f, &why);
        jl_entry_append(cw, 0, x, NULL, 1);
        /* the writer's memory grows after it made its temporary: still the
         * same live process (a sweep once compared the size for the start
         * time) */
        char *big = malloc((size_t)64 << 20);
        if (big)
            memset(big, 1, (size_t)64 << 20);
        char c = big ? 'x' : '!';
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    formats(f);
    jl_entry_writer *live = jl_entry_create(s, k, 2, f, &why);
    ck_assert_int_eq(files_in(dir), 2);
    uint64_t removed, freed;
    ck_assert_int_eq(jl_store_prune(s, 0, &removed, &freed, &why), 0);
    ck_assert_int_eq(files_in(dir), 2); /* both writers live */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_int_eq(jl_store_prune(s, 0, &removed, &freed, &why), 0);
    ck_assert_int_eq(files_in(dir), 1); /* the dead one's removed */
    ck_assert_int_eq(jl_entry_append(live, 0, x, NULL, 1), 0);
    ck_assert_int_eq(jl_entry_commit(live, 0, &why), 0);
    ck_assert_int_eq(files_in(dir), 1); /* the entry */
    ck_assert_int_eq(expect_open(s, k), JL_ENTRY_HIT);
    close(fds[0]);
    close(fds[1]);
    free(path);
    free(dir);
    jl_store_close(s);
}
END_TEST

/* ---- maintenance ---------------------------------------------------------*/

START_TEST(test_prune_lru)
{
    /* five entries of one size; room for three */
    jl_store *s0 = store("lru", 0, 0);
    for (unsigned i = 0; i < 5; i++)
        ck_assert_int_eq(write_entry_n(s0, key_of(10 + i), 3, mixed, 8, 5000, 500, 0), 0);
    jl_store_usage u;
    ck_assert_int_eq(jl_store_usage_get(s0, &u), 0);
    ck_assert_uint_eq(u.entries, 5);
    uint64_t size = u.bytes / 5;
    ck_assert_uint_eq(u.bytes, 5 * size);
    jl_store_close(s0);

    jl_store *s = store("lru", 0, 3 * size);
    /* used in this order: 3, 0, 4, 1, 2 — so 3 and 0 are the least recent */
    const unsigned order[] = {3, 0, 4, 1, 2};
    for (size_t i = 0; i < 5; i++) {
        sleep_s(0.02); /* file times move by the kernel's tick */
        ck_assert_int_eq(expect_open(s, key_of(10 + order[i])), JL_ENTRY_HIT);
    }
    uint64_t removed, freed;
    char *why = NULL;
    ck_assert_int_eq(jl_store_prune(s, 0, &removed, &freed, &why), 0);
    ck_assert_uint_eq(removed, 2);
    ck_assert_uint_eq(freed, 2 * size);
    ck_assert_int_eq(jl_entry_probe(s, key_of(13)), JL_ENTRY_MISS);
    ck_assert_int_eq(jl_entry_probe(s, key_of(10)), JL_ENTRY_MISS);
    for (unsigned i = 1; i < 5; i++)
        if (i != 3)
            ck_assert_int_eq(jl_entry_probe(s, key_of(10 + i)), JL_ENTRY_HIT);
    ck_assert_int_eq(jl_store_prune(s, 0, &removed, &freed, &why), 0);
    ck_assert_uint_eq(removed, 0); /* within the bound */

    /* by age: an entry last used two hours ago */
    char *path = entry_file(s, key_of(11));
    struct timespec t[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
    ck_assert_int_eq(jl_store_usage_get(s, &u), 0);
    ck_assert(u.oldest_s > 7000);
    ck_assert_int_eq(jl_store_prune(s, 3600, &removed, &freed, &why), 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert(!tu_exists(path));
    ck_assert_int_eq(jl_store_usage_get(s, &u), 0);
    ck_assert_uint_eq(u.entries, 2);
    free(path);
    jl_store_close(s);
}
END_TEST

START_TEST(test_clear_and_digests)
{
    jl_store *s = store("clear", 0, 0);
    for (unsigned i = 0; i < 3; i++)
        ck_assert_int_eq(write_entry_n(s, key_of(20 + i), 3, mixed, 8, 100, 10, 0), 0);
    int64_t ident[7] = {1, 2, 3, 4, 5, 6, 7};
    jl_key d = {0x1111, 0x2222}, got = {0, 0};
    ck_assert_int_eq(jl_store_digest_get(s, (const char *)ident, sizeof ident, &got), -1);
    jl_store_digest_put(s, (const char *)ident, sizeof ident, d);
    ck_assert_int_eq(jl_store_digest_get(s, (const char *)ident, sizeof ident, &got), 0);
    ck_assert(got.hi == d.hi && got.lo == d.lo);
    int64_t other[7] = {1, 2, 3, 4, 5, 6, 8};
    ck_assert_int_eq(jl_store_digest_get(s, (const char *)other, sizeof other, &got), -1);
    ck_assert_int_eq(jl_store_digest_get(s, (const char *)ident, sizeof ident - 1, &got), -1);
    /* replaced */
    d.lo = 0x3333;
    jl_store_digest_put(s, (const char *)ident, sizeof ident, d);
    ck_assert_int_eq(jl_store_digest_get(s, (const char *)ident, sizeof ident, &got), 0);
    ck_assert(got.lo == 0x3333);

    jl_store_usage u;
    ck_assert_int_eq(jl_store_usage_get(s, &u), 0);
    ck_assert_uint_eq(u.entries, 3);
    uint64_t removed, freed;
    char *why = NULL;
    ck_assert_int_eq(jl_store_clear(s, &removed, &freed, &why), 0);
    ck_assert_uint_eq(removed, 3);
    ck_assert(freed > u.bytes); /* the entries and the memo */
    ck_assert_int_eq(jl_store_usage_get(s, &u), 0);
    ck_assert_uint_eq(u.entries, 0);
    ck_assert_uint_eq(u.bytes, 0);
    ck_assert_int_eq(jl_store_digest_get(s, (const char *)ident, sizeof ident, &got), -1);
    ck_assert_int_eq(expect_open(s, key_of(20)), JL_ENTRY_MISS);
    /* and the store works on */
    ck_assert_int_eq(write_entry_n(s, key_of(20), 3, mixed, 8, 100, 10, 0), 0);
    ck_assert_int_eq(expect_open(s, key_of(20)), JL_ENTRY_HIT);
    jl_store_close(s);
}
END_TEST

START_TEST(test_open_errors)
{
    char *why = NULL;
    tu_write_file(tu_path("plain"), "x");
    ck_assert_ptr_null(jl_store_open(tu_path("plain/cache"), 0, 0, &why));
    ck_assert_ptr_nonnull(strstr(why, "plain/cache"));
    free(why);
    ck_assert_ptr_null(jl_store_open(tu_path("plain"), 0, 0, &why));
    free(why);
    /* created with its parents, private */
    jl_store *s = store("deep/er/cache/", 0, 0);
    struct stat st;
    ck_assert_int_eq(stat(tu_path("deep/er/cache"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_str_eq(jl_store_dir(s), tu_path("deep/er/cache"));
    jl_store_close(s);
}
END_TEST

/* ---- several processes ---------------------------------------------------*/

#define N_PROCS 4
#define N_KEYS 5
#define CC_SIG 20000u
#define CC_EV 3000u

/* One of the processes: writes (in its own record sizes, sometimes
 * aborting), reads and checks, and (the last one) prunes to a tight bound
 * and clears now and then. Exits 0 when every read was a miss or a whole,
 * right entry. */
static int worker(const char *dir, unsigned who, int iterations)
{
    char *why = NULL;
    jl_store *s = jl_store_open(dir, 0, who == N_PROCS - 1 ? 300000 : 0, &why);
    if (!s)
        return 10;
    unsigned seed = 12345u + who * 7919u;
    int hits = 0;
    for (int it = 0; it < iterations; it++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        unsigned key = r % N_KEYS;
        if (r / N_KEYS % 3 == 0) {
            uint32_t sizes[3] = {1 + r % 13, 1 + r % 5000, 1 + r % 70000};
            int rc = write_entry_n(s, key_of(100 + key), key, sizes, 3, CC_SIG, CC_EV, r % 11 == 0);
            if (rc == -1)
                return 11;
        } else {
            jl_entry_reader *rd = NULL;
            int rc = jl_entry_open(s, key_of(100 + key), &rd);
            if (rc == JL_ENTRY_HIT) {
                const char *bad = read_check(rd, key, 1 + r % 6000, CC_SIG, CC_EV);
                jl_entry_close(rd);
                if (bad) {
                    fprintf(stderr, "process %u: %s\n", who, bad);
                    return 12;
                }
                hits++;
            } else if (rc != JL_ENTRY_MISS) {
                fprintf(stderr, "process %u: open gave %d\n", who, rc);
                return 13;
            }
        }
        if (who == N_PROCS - 1 && it % 10 == 5) {
            uint64_t removed, freed;
            if (it % 40 == 5 ? jl_store_clear(s, &removed, &freed, &why) : jl_store_prune(s, 0, &removed, &freed, &why))
                return 14;
        }
    }
    jl_store_counts c;
    jl_store_counts_get(s, &c);
    jl_store_close(s);
    if (c.corrupt || c.expired)
        return 15;
    return hits > 0 ? 0 : 16;
}

START_TEST(test_concurrent)
{
    const char *dir = tu_path("cc");
    pid_t pids[N_PROCS];
    for (unsigned i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0)
            _exit(worker(dir, i, 150));
    }
    for (unsigned i = 0; i < N_PROCS; i++) {
        int st;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %u: status %d", i, st);
    }
    /* the folder holds whole entries and no temporary */
    jl_store *s = store("cc", 0, 0);
    uint64_t removed, freed;
    char *why = NULL;
    ck_assert_int_eq(jl_store_prune(s, 0, &removed, &freed, &why), 0);
    for (unsigned k = 0; k < N_KEYS; k++) {
        jl_entry_reader *rd = NULL;
        int rc = jl_entry_open(s, key_of(100 + k), &rd);
        ck_assert(rc == JL_ENTRY_HIT || rc == JL_ENTRY_MISS);
        if (rd) {
            ck_assert_ptr_null(read_check(rd, k, 4096, CC_SIG, CC_EV));
            jl_entry_close(rd);
        }
        char *path = entry_file(s, key_of(100 + k)), *d = dir_of_file(path);
        ck_assert_int_le(files_in(d), 1);
        free(path);
        free(d);
    }
    jl_store_close(s);
}
END_TEST

/* ---- single flight -------------------------------------------------------*/

static int files_in_locks(jl_store *s)
{
    char p[600];
    snprintf(p, sizeof p, "%s/locks", jl_store_dir(s));
    return files_in(p);
}

START_TEST(test_lock)
{
    jl_store *s = store("lock", 0, 0);
    jl_key k = key_of(30);
    /* in one process: a second taker is refused, then served */
    int t = jl_store_lock(s, k, 0);
    ck_assert_int_ge(t, 0);
    ck_assert_int_eq(jl_store_lock(s, k, 0), -2);
    int t2 = jl_store_lock(s, key_of(31), 0); /* another key: free */
    ck_assert_int_ge(t2, 0);
    jl_store_unlock(s, t2);
    jl_store_unlock(s, t);
    ck_assert_int_eq(files_in_locks(s), 0); /* removed on unlock */
    t = jl_store_lock(s, k, 0);
    ck_assert_int_ge(t, 0);
    jl_store_unlock(s, t);

    /* another process holds it; killed, it holds nothing */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (jl_store_lock(s, k, 1) < 0)
            _exit(1);
        char c = 'x';
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    ck_assert_int_eq(jl_store_lock(s, k, 0), -2);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    t = jl_store_lock(s, k, 0);
    ck_assert_int_ge(t, 0);
    jl_store_unlock(s, t);

    /* a waiter gets it when the holder lets go */
    pid = fork();
    if (pid == 0) {
        int tk = jl_store_lock(s, k, 1);
        char x = 'x';
        if (tk < 0 || write(fds[1], &x, 1) != 1)
            _exit(1);
        sleep_s(0.3);
        jl_store_unlock(s, tk);
        _exit(0);
    }
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    t = jl_store_lock(s, k, 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ck_assert_int_ge(t, 0);
    double waited = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    ck_assert_msg(waited > 0.15, "waited %.3f s", waited);
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* a dead holder's lock file is removed by prune, a live one's is not */
    pid = fork();
    if (pid == 0) {
        if (jl_store_lock(s, key_of(32), 0) < 0)
            _exit(1);
        char x = 'x';
        if (write(fds[1], &x, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    ck_assert_int_eq(files_in_locks(s), 2); /* ours and the child's */
    uint64_t removed, freed;
    char *why = NULL;
    ck_assert_int_eq(jl_store_prune(s, 0, &removed, &freed, &why), 0);
    ck_assert_int_eq(files_in_locks(s), 2);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    ck_assert_int_eq(jl_store_prune(s, 0, &removed, &freed, &why), 0);
    ck_assert_int_eq(files_in_locks(s), 1);
    jl_store_unlock(s, t);
    ck_assert_int_eq(files_in_locks(s), 0);

    /* many threads' worth of lock/unlock churn across processes: at most
     * one holder at any time */
    int counter_fd = open(tu_path("lock-counter"), O_RDWR | O_CREAT, 0600);
    ck_assert_int_ge(counter_fd, 0);
    pid_t ps[4];
    for (int i = 0; i < 4; i++) {
        ps[i] = fork();
        if (ps[i] == 0) {
            for (int j = 0; j < 200; j++) {
                int tk = jl_store_lock(s, k, 1);
                if (tk < 0)
                    _exit(2);
                int v = 0;
                if (pread(counter_fd, &v, sizeof v, 0) < 0)
                    v = 0;
                if (v != 0)
                    _exit(3); /* someone else inside */
                v = getpid();
                if (pwrite(counter_fd, &v, sizeof v, 0) != sizeof v)
                    _exit(4);
                usleep(50);
                v = 0;
                if (pwrite(counter_fd, &v, sizeof v, 0) != sizeof v)
                    _exit(4);
                jl_store_unlock(s, tk);
            }
            _exit(0);
        }
    }
    for (int i = 0; i < 4; i++) {
        waitpid(ps[i], &st, 0);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "locker %d: status %d", i, st);
    }
    close(counter_fd);
    close(fds[0]);
    close(fds[1]);
    jl_store_close(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("cache_store");
    TCase *tc = tcase_create("Core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_miss);
    tcase_add_test(tc, test_ttl);
    tcase_add_test(tc, test_memory_tier);
    tcase_add_test(tc, test_corrupt);
    tcase_add_test(tc, test_abort);
    tcase_add_test(tc, test_prune_lru);
    tcase_add_test(tc, test_clear_and_digests);
    tcase_add_test(tc, test_open_errors);
    suite_add_tcase(su, tc);
    TCase *tp = tcase_create("Processes");
    tcase_set_timeout(tp, 300);
    tcase_add_test(tp, test_concurrent);
    tcase_add_test(tp, test_lock);
    suite_add_tcase(su, tp);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
