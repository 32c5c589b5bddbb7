/* cache_store.c — see cache_store.h.
 *
 * The folder:
 *     DIR/entries/ab/ab12…ef      one entry, named by its key's 32 hex
 *                                  digits, in a folder per first byte
 *     DIR/digests/cd/cd34…01      one memoised content digest, named by
 *                                  the hash of what identifies the file
 *     DIR/locks/ab12…ef.lock      single-flight locks, while held
 * Temporaries (outputs.h's .joule-…tmp names, which carry their creator's
 * identity) are made in the folder of their target, so that a rename puts
 * them in place, and removed by prune once their creator is gone.
 *
 * An entry file, in the writer's byte order (a marker tells; another is
 * refused as foreign, as is any other format version):
 *     preamble (PRE_SIZE bytes, offsets O_* below): magic, version, byte
 *         order mark, key, header size, payload size, the payload's
 *         XXH3-64, cost_s, n_ports, the header's XXH3-64
 *     per port: kind, n_columns, rate, t0, out_num, out_den, flags, which
 *         texts follow, rows; then the column names and units, each a u32
 *         length (NO_TEXT: NULL) and its bytes
 *     the payload: records [u32 port][u32 n_rows][n_rows × n_columns
 *         floats][n_rows doubles: the times, events only], as appended
 * The header is written first with zero counts and sums, the records are
 * streamed after it, and commit writes the header again, now complete,
 * before the rename. Nothing is synced: an entry can always be computed
 * again, so a power cut may lose one but must not let a torn one be
 * served, and that is what the checks at open are for — the file's size
 * is exactly header + payload, both checksums agree, and the records walk
 * the payload exactly, ending with the per-port row counts.
 *
 * Recency is the file's modification time: set by the rename's write,
 * refreshed by every hit. TTL and least-recently-used pruning both read
 * it, so neither needs an index that several processes would have to
 * share. */
#include "config.h"

#include "cache_store.h"
#include "cache_mem.h"
#include "cache_redis.h"
#include "outputs.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define ENTRY_MAGIC "\211JLE\r\n\032\n"  /* 8 bytes: binary, and mangled by a text transfer */
#define DIGEST_MAGIC "\211JLD\r\n\032\n"
#define FORMAT_VERSION 1u
#define BYTE_ORDER_MARK 0x01020304u
#define NO_TEXT 0xffffffffu

/* preamble offsets */
enum {
    O_MAGIC = 0,
    O_VERSION = 8,
    O_BOM = 12,
    O_KEY_HI = 16,
    O_KEY_LO = 24,
    O_HEADER_SIZE = 32,
    O_PAYLOAD_SIZE = 40,
    O_PAYLOAD_SUM = 48,
    O_COST = 56,
    O_N_PORTS = 64,
    O_RESERVED = 68,
    O_HEADER_SUM = 72,
    PRE_SIZE = 80
};
/* per-port fixed part, and the offset of its row count */
enum { PORT_FIXED = 48, PORT_ROWS = 40 };
enum { TEXT_NAMES = 1, TEXT_UNITS = 2 };

#define HEADER_MAX ((uint64_t)16 << 20) /* far above any real format          */
#define COLUMNS_MAX ((uint32_t)1 << 24) /* keeps every size product in 64 bits */
#define IDENT_MAX 65536u
#define IO_BUF ((size_t)256 << 10)      /* writer buffer and the reader's main window */
#define TIMES_BUF ((size_t)64 << 10)    /* the reader's window on event times          */

struct jl_store {
    char *dir, *entries, *digests, *locks;
    double ttl;
    uint64_t max_bytes;
    pthread_mutex_t mu; /* counts and held */
    jl_store_counts counts;
    struct held {
        int fd;
        jl_key key;
        int leased; /* a Redis lease taken with it */
    } *held;
    size_t n_held, cap_held;
    jl_redis *redis; /* the tier behind the disk, or NULL (cache_redis.h) */
};

void jl_store_set_redis(jl_store *s, jl_redis *r)
{
    s->redis = r;
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static void putd(unsigned char *p, double v)
{
    memcpy(p, &v, 8);
}
static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static double getd(const unsigned char *p)
{
    double v;
    memcpy(&v, p, 8);
    return v;
}

/* A growable byte string (headers: their size depends on the format, not
 * on the entry's). */
typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static unsigned char *bytes_add(bytes *b, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        while (b->cap < b->n + n)
            b->cap *= 2;
        b->p = jl_realloc(b->p, b->cap);
    }
    unsigned char *at = b->p + b->n;
    memset(at, 0, n);
    b->n += n;
    return at;
}

static void bytes_text(bytes *b, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len >= NO_TEXT)
        len = NO_TEXT - 1;
    put32(bytes_add(b, 4), s ? (uint32_t)len : NO_TEXT);
    if (len)
        memcpy(bytes_add(b, len), s, len);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double age_of(const struct stat *st)
{
    double age = wall_now() - ((double)st->st_mtim.tv_sec + 1e-9 * (double)st->st_mtim.tv_nsec);
    return age > 0 ? age : 0; /* a clock set back: as new */
}

static int is_expired(const jl_store *s, const struct stat *st)
{
    return s->ttl > 0 && age_of(st) > s->ttl;
}

static void hex_of(jl_key k, char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)k.hi, (unsigned long long)k.lo);
}

static int is_hex_name(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return name[len] == '\0';
}

/* DIR/entries/ab/ab…: the fan-out folder is the key's first byte. */
static char *entry_path(const jl_store *s, jl_key k)
{
    char hex[33];
    hex_of(k, hex);
    return jl_printf("%s/%.2s/%s", s->entries, hex, hex);
}

static char *lock_path(const jl_store *s, jl_key k)
{
    char hex[33];
    hex_of(k, hex);
    return jl_printf("%s/%s.lock", s->locks, hex);
}

static char *digest_path(const jl_store *s, const char *ident, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(ident, len);
    jl_key k = {h.high64, h.low64};
    char hex[33];
    hex_of(k, hex);
    return jl_printf("%s/%.2s/%s", s->digests, hex, hex);
}

static void count(jl_store *s, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    *field += n;
    pthread_mutex_unlock(&s->mu);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0) {
            errno = ENOSPC;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    const char *c = p;
    while (n) {
        ssize_t k = pwrite(fd, c, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0) {
            errno = ENOSPC;
            return -1;
        }
        c += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

/* Up to n bytes at off: fewer only at the end of the file; -1 on error. */
static ssize_t pread_all(int fd, void *p, size_t n, uint64_t off)
{
    char *c = p;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, c + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* mkdir -p with mode 0700 for what is missing. */
static int make_dirs(const char *dir)
{
    char *p = jl_strdup(dir);
    int rc = 0;
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char was = *c;
        *c = '\0';
        if (mkdir(p, 0700) && errno != EEXIST) {
            rc = -1;
            break;
        }
        *c = was;
        if (!was)
            break;
    }
    if (!rc) {
        struct stat st;
        if (stat(dir, &st))
            rc = -1;
        else if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            rc = -1;
        }
    }
    free(p);
    return rc;
}

/* Remove `path` if it is still the file `st` was taken of: a writer may
 * have put a fresh entry there since it was opened. */
static void unlink_same(const char *path, const struct stat *st)
{
    struct stat now;
    if (lstat(path, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino)
        unlink(path);
}

/* ------------------------------------------------------------------------ */
/* The store                                                                 */

jl_store *jl_store_open(const char *dir, double ttl, uint64_t max_bytes, char **why)
{
    *why = NULL;
    if (!dir || !*dir) {
        *why = jl_strdup("no cache folder given");
        return NULL;
    }
    jl_store *s = jl_calloc(1, sizeof *s);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    s->dir = jl_strndup(dir, len);
    s->entries = jl_printf("%s/entries", s->dir);
    s->digests = jl_printf("%s/digests", s->dir);
    s->locks = jl_printf("%s/locks", s->dir);
    s->ttl = ttl > 0 ? ttl : 0;
    s->max_bytes = max_bytes;
    pthread_mutex_init(&s->mu, NULL);
    const char *sub[] = {s->dir, s->entries, s->digests, s->locks};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++)
        if (make_dirs(sub[i])) {
            int err = errno;
            char *p = jl_escape(sub[i]);
            *why = err == ENOTDIR || err == EEXIST ? jl_printf("cannot create %s: a part of it is not a folder", p)
                                                   : jl_printf("cannot create %s: %s", p, strerror(err));
            free(p);
            jl_store_close(s);
            return NULL;
        }
    return s;
}

void jl_store_close(jl_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_held; i++) {
        if (s->held[i].leased && s->redis)
            jl_redis_release(s->redis, s->held[i].key);
        close(s->held[i].fd);
    }
    free(s->held);
    pthread_mutex_destroy(&s->mu);
    free(s->dir);
    free(s->entries);
    free(s->digests);
    free(s->locks);
    free(s);
}

const char *jl_store_dir(const jl_store *s)
{
    return s->dir;
}

void jl_store_counts_get(const jl_store *s, jl_store_counts *c)
{
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    *c = s->counts;
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

struct jl_entry_writer {
    jl_store *s;
    jl_key key;
    int fd;
    char *tmp, *path;
    uint32_t n_ports;
    uint32_t *kind, *cols;
    uint64_t *rows;
    bytes hdr;         /* the whole header, completed at commit         */
    size_t *rows_at;   /* where each port's row count is in hdr         */
    unsigned char *buf;
    size_t n_buf;
    uint64_t payload;  /* bytes appended (buffered or written)          */
    XXH3_state_t *sum; /* of the payload, fed as it is written          */
    int err;           /* errno of the first failure: the writer is dead */
};

static int valid_kind(uint32_t k)
{
    return k == JOULE_SIGNAL || k == JOULE_FRAMES || k == JOULE_EVENTS;
}

static void writer_free(jl_entry_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->kind);
    free(w->cols);
    free(w->rows);
    free(w->rows_at);
    free(w->hdr.p);
    free(w->buf);
    if (w->sum)
        XXH3_freeState(w->sum);
    free(w);
}

jl_entry_writer *jl_entry_create(jl_store *s, jl_key key, uint32_t n_ports, const joule_format *fmts, char **why)
{
    *why = NULL;
    for (uint32_t p = 0; p < n_ports; p++)
        if (!valid_kind(fmts[p].kind) || fmts[p].n_columns == 0 || fmts[p].n_columns > COLUMNS_MAX) {
            *why = jl_printf("port %u: a stream of kind %u and %u columns cannot be cached", p, fmts[p].kind,
                             fmts[p].n_columns);
            return NULL;
        }
    jl_entry_writer *w = jl_calloc(1, sizeof *w);
    w->s = s;
    w->key = key;
    w->fd = -1;
    w->n_ports = n_ports;
    w->kind = jl_calloc(n_ports ? n_ports : 1, sizeof *w->kind);
    w->cols = jl_calloc(n_ports ? n_ports : 1, sizeof *w->cols);
    w->rows = jl_calloc(n_ports ? n_ports : 1, sizeof *w->rows);
    w->rows_at = jl_calloc(n_ports ? n_ports : 1, sizeof *w->rows_at);
    w->sum = XXH3_createState();
    if (!w->sum || XXH3_64bits_reset(w->sum) != XXH_OK) {
        *why = jl_strdup("out of memory");
        writer_free(w);
        return NULL;
    }

    unsigned char *pre = bytes_add(&w->hdr, PRE_SIZE);
    memcpy(pre + O_MAGIC, ENTRY_MAGIC, 8);
    put32(pre + O_VERSION, FORMAT_VERSION);
    put32(pre + O_BOM, BYTE_ORDER_MARK);
    put64(pre + O_KEY_HI, key.hi);
    put64(pre + O_KEY_LO, key.lo);
    put32(pre + O_N_PORTS, n_ports);
    for (uint32_t p = 0; p < n_ports; p++) {
        const joule_format *f = &fmts[p];
        w->kind[p] = f->kind;
        w->cols[p] = f->n_columns;
        size_t at = w->hdr.n;
        unsigned char *q = bytes_add(&w->hdr, PORT_FIXED);
        put32(q + 0, f->kind);
        put32(q + 4, f->n_columns);
        putd(q + 8, f->rate);
        putd(q + 16, f->t0);
        put32(q + 24, f->out_num);
        put32(q + 28, f->out_den);
        put32(q + 32, f->flags);
        put32(q + 36, (f->names ? TEXT_NAMES : 0) | (f->units ? TEXT_UNITS : 0));
        w->rows_at[p] = at + PORT_ROWS;
        for (uint32_t c = 0; f->names && c < f->n_columns; c++)
            bytes_text(&w->hdr, f->names[c]);
        for (uint32_t c = 0; f->units && c < f->n_columns; c++)
            bytes_text(&w->hdr, f->units[c]);
    }
    if (w->hdr.n > HEADER_MAX) {
        *why = jl_printf("the stream formats take %zu bytes: too many to cache", w->hdr.n);
        writer_free(w);
        return NULL;
    }
    put64(w->hdr.p + O_HEADER_SIZE, w->hdr.n);

    w->path = entry_path(s, key);
    char *msg = NULL;
    w->fd = jl_tmp_create(w->path, &w->tmp, &msg);
    if (w->fd < 0) {
        *why = msg;
        writer_free(w);
        return NULL;
    }
    /* the header's room, with its counts still zero (not an entry yet) */
    if (write_all(w->fd, w->hdr.p, w->hdr.n)) {
        char *p = jl_escape(w->tmp);
        *why = jl_printf("%s: cannot write: %s", p, strerror(errno));
        free(p);
        writer_free(w);
        return NULL;
    }
    w->buf = jl_malloc(IO_BUF);
    return w;
}

static int flush_buf(jl_entry_writer *w)
{
    if (!w->n_buf)
        return 0;
    XXH3_64bits_update(w->sum, w->buf, w->n_buf);
    if (write_all(w->fd, w->buf, w->n_buf)) {
        w->err = errno;
        return -1;
    }
    w->n_buf = 0;
    return 0;
}

/* Append bytes to the payload: through the buffer, or straight from the
 * caller's memory when they are many (no copy). */
static int put_bytes(jl_entry_writer *w, const void *p, size_t n)
{
    if ((n > IO_BUF - w->n_buf || n >= IO_BUF / 2) && flush_buf(w))
        return -1;
    if (n >= IO_BUF / 2) {
        XXH3_64bits_update(w->sum, p, n);
        if (write_all(w->fd, p, n)) {
            w->err = errno;
            return -1;
        }
    } else {
        memcpy(w->buf + w->n_buf, p, n);
        w->n_buf += n;
    }
    w->payload += n;
    return 0;
}

int jl_entry_append(jl_entry_writer *w, uint32_t port, const float *data, const double *times, uint32_t n_rows)
{
    if (w->err)
        return -1;
    if (port >= w->n_ports || (n_rows && (!data || (w->kind[port] == JOULE_EVENTS && !times)))) {
        w->err = EINVAL;
        return -1;
    }
    if (!n_rows)
        return 0;
    unsigned char rec[8];
    put32(rec, port);
    put32(rec + 4, n_rows);
    if (put_bytes(w, rec, sizeof rec) || put_bytes(w, data, (size_t)n_rows * w->cols[port] * sizeof *data) ||
        (w->kind[port] == JOULE_EVENTS && put_bytes(w, times, (size_t)n_rows * sizeof *times)))
        return -1;
    w->rows[port] += n_rows;
    return 0;
}

uint64_t jl_entry_size(const jl_entry_writer *w)
{
    return w->payload;
}

int jl_entry_commit(jl_entry_writer *w, double cost_s, char **why)
{
    *why = NULL;
    if (!w->err)
        flush_buf(w);
    if (!w->err) {
        unsigned char *h = w->hdr.p;
        for (uint32_t p = 0; p < w->n_ports; p++)
            put64(h + w->rows_at[p], w->rows[p]);
        put64(h + O_PAYLOAD_SIZE, w->payload);
        put64(h + O_PAYLOAD_SUM, XXH3_64bits_digest(w->sum));
        putd(h + O_COST, cost_s);
        put64(h + O_HEADER_SUM, 0);
        put64(h + O_HEADER_SUM, XXH3_64bits(h, w->hdr.n));
        /* No fsync: see the top of this file. The rename comes after every
         * write, so another process never sees the entry before its data. */
        if (pwrite_all(w->fd, h, w->hdr.n, 0) || close(w->fd))
            w->err = errno;
        w->fd = -1;
    }
    if (w->err) {
        char *p = jl_escape(w->tmp);
        *why = w->err == EINVAL ? jl_printf("%s: rows appended to a port that does not exist, or without data", p)
                                : jl_printf("%s: cannot write: %s", p, strerror(w->err));
        free(p);
        writer_free(w);
        return -1;
    }
    if (rename(w->tmp, w->path)) {
        int err = errno;
        char *p = jl_escape(w->path);
        *why = jl_printf("%s: cannot put in place: %s", p, strerror(err));
        free(p);
        writer_free(w);
        return -1;
    }
    jl_mem_used_before(w->key); /* a first use: a second one is kept (cache_mem.h) */
    if (w->s->redis)
        jl_redis_store(w->s->redis, w->key, w->path); /* for every other machine */
    free(w->tmp);
    w->tmp = NULL;
    count(w->s, &w->s->counts.bytes_written, w->hdr.n + w->payload);
    writer_free(w);
    return 0;
}

void jl_entry_abort(jl_entry_writer *w)
{
    if (w)
        writer_free(w);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

/* A window on the file: buf holds bytes [off, off + len). */
typedef struct window {
    unsigned char *buf;
    size_t cap, len;
    uint64_t off;
} window;

struct jl_entry_reader {
    int fd;             /* the entry's file, or -1 when ...          */
    const unsigned char *bytes; /* ... its whole image is in memory  */
    jl_mem_item *item;  /* the memory tier's, held                   */
    unsigned char *own; /* an image read from disk the tier did not keep */
    uint32_t n_ports;
    joule_format *fmts;
    char **texts;       /* every name and unit, to free           */
    size_t n_texts;
    uint64_t *rows;
    double cost;
    uint64_t pos, end;  /* the next record; the payload's end     */
    uint64_t end_all;   /* the image's size, when in memory       */
    /* the record being read */
    int in_rec;
    uint32_t port, rec_rows, rec_done;
    uint64_t rec_data;  /* its first float                        */
    window win[2];      /* [0]: records and floats; [1]: times    */
};

static uint64_t row_bytes(const jl_entry_reader *r, uint32_t port)
{
    const joule_format *f = &r->fmts[port];
    return (uint64_t)f->n_columns * sizeof(float) + (f->kind == JOULE_EVENTS ? sizeof(double) : 0);
}

void jl_entry_close(jl_entry_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    jl_mem_release(r->item);
    free(r->own);
    for (size_t i = 0; i < r->n_texts; i++)
        free(r->texts[i]);
    free(r->texts);
    for (uint32_t p = 0; r->fmts && p < r->n_ports; p++) {
        free((void *)r->fmts[p].names);
        free((void *)r->fmts[p].units);
    }
    free(r->fmts);
    free(r->rows);
    free(r->win[0].buf);
    free(r->win[1].buf);
    free(r);
}

/* Up to n bytes of the entry at off: from its image in memory, else from
 * its file. */
static ssize_t rd(const jl_entry_reader *r, void *p, size_t n, uint64_t off)
{
    if (!r->bytes)
        return pread_all(r->fd, p, n, off);
    uint64_t len = r->end_all;
    if (off >= len)
        return 0;
    size_t k = len - off < n ? (size_t)(len - off) : n;
    memcpy(p, r->bytes + off, k);
    return (ssize_t)k;
}

/* Parse and check the header (h, n bytes); 0 or -1 (corrupt). */
static int parse_header(jl_entry_reader *r, const unsigned char *h, size_t n)
{
    size_t at = PRE_SIZE;
    r->n_ports = get32(h + O_N_PORTS);
    if (r->n_ports > (n - PRE_SIZE) / PORT_FIXED)
        return -1;
    r->cost = getd(h + O_COST);
    r->fmts = jl_calloc(r->n_ports ? r->n_ports : 1, sizeof *r->fmts);
    r->rows = jl_calloc(r->n_ports ? r->n_ports : 1, sizeof *r->rows);
    for (uint32_t p = 0; p < r->n_ports; p++) {
        if (n - at < PORT_FIXED)
            return -1;
        const unsigned char *q = h + at;
        joule_format *f = &r->fmts[p];
        f->kind = get32(q + 0);
        f->n_columns = get32(q + 4);
        f->rate = getd(q + 8);
        f->t0 = getd(q + 16);
        f->out_num = get32(q + 24);
        f->out_den = get32(q + 28);
        f->flags = get32(q + 32);
        uint32_t texts = get32(q + 36);
        r->rows[p] = get64(q + PORT_ROWS);
        f->length = r->rows[p];
        at += PORT_FIXED;
        if (!valid_kind(f->kind) || f->n_columns == 0 || f->n_columns > COLUMNS_MAX || (texts & ~3u))
            return -1;
        for (int t = 0; t < 2; t++) {
            if (!(texts & (t ? TEXT_UNITS : TEXT_NAMES)))
                continue;
            if ((n - at) / 4 < f->n_columns)
                return -1;
            char **v = jl_calloc(f->n_columns, sizeof *v);
            if (t)
                f->units = (const char *const *)v;
            else
                f->names = (const char *const *)v;
            r->texts = jl_realloc(r->texts, (r->n_texts + f->n_columns) * sizeof *r->texts);
            for (uint32_t c = 0; c < f->n_columns; c++) {
                if (n - at < 4)
                    return -1;
                uint32_t len = get32(h + at);
                at += 4;
                if (len == NO_TEXT)
                    continue;
                if (n - at < len)
                    return -1;
                v[c] = r->texts[r->n_texts++] = jl_strndup((const char *)h + at, len);
                at += len;
            }
        }
    }
    return at == n ? 0 : -1;
}

/* Read the whole payload once: its checksum, and its records walked to
 * the end, each of an existing port and within the payload, their rows
 * adding up to the header's counts. 0, or -1 (corrupt or unreadable). */
static int verify_payload(jl_entry_reader *r, uint64_t sum)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return -1;
    XXH3_64bits_reset(st);
    uint64_t *seen = jl_calloc(r->n_ports ? r->n_ports : 1, sizeof *seen);
    window *w = &r->win[0];
    uint64_t off = r->pos, skip = 0;
    unsigned char rh[8];
    size_t rh_n = 0;
    int rc = 0;
    while (off < r->end && !rc) {
        size_t want = r->end - off < w->cap ? (size_t)(r->end - off) : w->cap;
        ssize_t got = rd(r, w->buf, want, off);
        if (got != (ssize_t)want) {
            rc = -1;
            break;
        }
        XXH3_64bits_update(st, w->buf, want);
        size_t i = 0;
        while (i < want) {
            if (skip) {
                uint64_t t = skip < want - i ? skip : want - i;
                skip -= t;
                i += (size_t)t;
                continue;
            }
            size_t t = 8 - rh_n < want - i ? 8 - rh_n : want - i;
            memcpy(rh + rh_n, w->buf + i, t);
            rh_n += t;
            i += t;
            if (rh_n < 8)
                continue;
            rh_n = 0;
            uint32_t port = get32(rh), nr = get32(rh + 4);
            uint64_t left = r->end - (off + i);
            if (port >= r->n_ports || nr == 0 || nr > left / row_bytes(r, port)) {
                rc = -1;
                break;
            }
            skip = nr * row_bytes(r, port);
            seen[port] += nr;
        }
        off += want;
    }
    if (!rc && (skip || rh_n || XXH3_64bits_digest(st) != sum))
        rc = -1;
    for (uint32_t p = 0; !rc && p < r->n_ports; p++)
        if (seen[p] != r->rows[p])
            rc = -1;
    free(seen);
    XXH3_freeState(st);
    w->len = 0;
    return rc;
}

/* Read and check the header, and the payload too when `payload`. 0, or
 * -1: corrupt (or unreadable). */
static int check_entry(jl_entry_reader *r, jl_key key, uint64_t size, int payload)
{
    unsigned char pre[PRE_SIZE];
    if (rd(r, pre, PRE_SIZE, 0) != PRE_SIZE || memcmp(pre + O_MAGIC, ENTRY_MAGIC, 8) ||
        get32(pre + O_BOM) != BYTE_ORDER_MARK || get32(pre + O_VERSION) != FORMAT_VERSION ||
        get64(pre + O_KEY_HI) != key.hi || get64(pre + O_KEY_LO) != key.lo)
        return -1;
    uint64_t hsize = get64(pre + O_HEADER_SIZE), psize = get64(pre + O_PAYLOAD_SIZE);
    if (hsize < PRE_SIZE || hsize > HEADER_MAX || psize > size || hsize + psize != size)
        return -1;
    unsigned char *h = jl_malloc((size_t)hsize);
    int rc = -1;
    if (rd(r, h, (size_t)hsize, 0) == (ssize_t)hsize) {
        uint64_t hsum = get64(h + O_HEADER_SUM);
        put64(h + O_HEADER_SUM, 0);
        if (XXH3_64bits(h, (size_t)hsize) == hsum && !parse_header(r, h, (size_t)hsize)) {
            r->pos = hsize;
            r->end = hsize + psize;
            rc = payload ? verify_payload(r, get64(h + O_PAYLOAD_SUM)) : 0;
        }
    }
    free(h);
    return rc;
}

int jl_entry_open(jl_store *s, jl_key key, jl_entry_reader **out)
{
    *out = NULL;
    /* The memory tier first: an image kept there was checked when it was
     * read from disk, or written by this process. */
    jl_mem_item *it = jl_mem_get(key, s->ttl);
    if (it) {
        jl_entry_reader *r = jl_calloc(1, sizeof *r);
        r->fd = -1;
        r->item = it;
        r->bytes = jl_mem_bytes(it);
        r->end_all = jl_mem_size(it);
        if (check_entry(r, key, r->end_all, 0) == 0) {
            char *path = entry_path(s, key);
            utimensat(AT_FDCWD, path, NULL, 0); /* recent on disk too (it may be gone: fine) */
            free(path);
            pthread_mutex_lock(&s->mu);
            s->counts.hits++;
            s->counts.memory_hits++;
            pthread_mutex_unlock(&s->mu);
            *out = r;
            return JL_ENTRY_HIT;
        }
        jl_entry_close(r);
        jl_mem_forget(key);
    }
    char *path = entry_path(s, key);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && s->redis) {
        /* not on this disk: another machine's, promoted to this disk */
        char *sub = jl_strndup(path, (size_t)(strrchr(path, '/') - path));
        make_dirs(sub);
        free(sub);
        int rc = jl_redis_fetch(s->redis, key, path);
        if (rc == JL_ENTRY_CORRUPT) {
            count(s, &s->counts.corrupt, 1);
            free(path);
            return JL_ENTRY_CORRUPT;
        }
        if (rc == JL_ENTRY_HIT)
            fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        else
            errno = ENOENT;
    }
    if (fd < 0) {
        int err = errno;
        struct stat st;
        /* A link or something unreadable where an entry should be: not an
         * entry. Anything else (no entry, out of descriptors): a miss. */
        if ((err == ELOOP || err == EACCES) && lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
            unlink_same(path, &st);
            count(s, &s->counts.corrupt, 1);
            free(path);
            return JL_ENTRY_CORRUPT;
        }
        count(s, &s->counts.misses, 1);
        free(path);
        return JL_ENTRY_MISS;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        /* a FIFO or a device planted there (a folder cannot be removed
         * this way, and is left to whoever made it) */
        close(fd);
        if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
            unlink_same(path, &st);
        count(s, &s->counts.corrupt, 1);
        free(path);
        return JL_ENTRY_CORRUPT;
    }
    if (is_expired(s, &st)) {
        close(fd);
        unlink_same(path, &st);
        count(s, &s->counts.expired, 1);
        free(path);
        return JL_ENTRY_EXPIRED;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    jl_entry_reader *r = jl_calloc(1, sizeof *r);
    r->fd = fd;
    r->win[0].cap = IO_BUF;
    r->win[0].buf = jl_malloc(IO_BUF);
    /* An entry used before in this process that the memory tier would
     * keep is read whole, checked there, and handed to the tier. */
    if (jl_mem_used_before(key) && jl_mem_fits((uint64_t)st.st_size)) {
        r->own = malloc((size_t)st.st_size);
        if (r->own && pread_all(fd, r->own, (size_t)st.st_size, 0) == (ssize_t)st.st_size) {
            r->bytes = r->own;
            r->end_all = (uint64_t)st.st_size;
        } else {
            free(r->own);
            r->own = NULL;
        }
    }
    if (check_entry(r, key, (uint64_t)st.st_size, 1)) {
        jl_entry_close(r);
        unlink_same(path, &st);
        count(s, &s->counts.corrupt, 1);
        free(path);
        return JL_ENTRY_CORRUPT;
    }
    free(path);
    if (r->own && (r->item = jl_mem_put(key, r->own, (size_t)st.st_size))) {
        r->own = NULL; /* the tier's now */
        r->bytes = jl_mem_bytes(r->item);
    }
    /* served: recent again (for the TTL and for pruning) */
    futimens(fd, NULL);
    pthread_mutex_lock(&s->mu);
    s->counts.hits++;
    s->counts.bytes_read += (uint64_t)st.st_size;
    pthread_mutex_unlock(&s->mu);
    for (uint32_t p = 0; p < r->n_ports; p++)
        if (r->fmts[p].kind == JOULE_EVENTS) {
            r->win[1].cap = TIMES_BUF;
            r->win[1].buf = jl_malloc(TIMES_BUF);
            break;
        }
    *out = r;
    return JL_ENTRY_HIT;
}

void jl_entry_probe_many(jl_store *s, const jl_key *keys, size_t n, int *states)
{
    size_t misses = 0;
    for (size_t i = 0; i < n; i++) {
        char *path = entry_path(s, keys[i]);
        struct stat st;
        states[i] = lstat(path, &st) || !S_ISREG(st.st_mode) ? JL_ENTRY_MISS
                    : is_expired(s, &st)                        ? JL_ENTRY_EXPIRED
                                                                : JL_ENTRY_HIT;
        misses += states[i] != JL_ENTRY_HIT;
        free(path);
    }
    if (misses && s->redis)
        jl_redis_probe_many(s->redis, keys, n, states);
}

int jl_entry_probe(jl_store *s, jl_key key)
{
    char *path = entry_path(s, key);
    struct stat st;
    int rc = lstat(path, &st) || !S_ISREG(st.st_mode) ? JL_ENTRY_MISS
             : is_expired(s, &st)                        ? JL_ENTRY_EXPIRED
                                                         : JL_ENTRY_HIT;
    free(path);
    if (rc != JL_ENTRY_HIT && s->redis && jl_redis_probe(s->redis, key) == JL_ENTRY_HIT)
        rc = JL_ENTRY_HIT; /* opening it fetches it */
    return rc;
}

uint32_t jl_entry_ports(const jl_entry_reader *r)
{
    return r->n_ports;
}

const joule_format *jl_entry_format(const jl_entry_reader *r, uint32_t port)
{
    return port < r->n_ports ? &r->fmts[port] : NULL;
}

uint64_t jl_entry_rows(const jl_entry_reader *r, uint32_t port)
{
    return port < r->n_ports ? r->rows[port] : 0;
}

double jl_entry_cost(const jl_entry_reader *r)
{
    return r->cost;
}

/* n bytes at file offset off into dst: from a window holding them, else
 * read straight into dst when they are many, else through window `which`
 * refilled from off. 0 or -1 (errno set). */
static int fetch(jl_entry_reader *r, int which, uint64_t off, size_t n, void *dst)
{
    if (r->bytes) {
        if (off > r->end_all || n > r->end_all - off) {
            errno = EIO;
            return -1;
        }
        memcpy(dst, r->bytes + off, n);
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        window *w = &r->win[i];
        if (w->buf && off >= w->off && off - w->off <= w->len && n <= w->len - (off - w->off)) {
            memcpy(dst, w->buf + (off - w->off), n);
            return 0;
        }
    }
    window *w = &r->win[which];
    if (!w->buf)
        w = &r->win[0];
    if (n >= w->cap / 2) {
        ssize_t got = pread_all(r->fd, dst, n, off);
        if (got == (ssize_t)n)
            return 0;
        if (got >= 0)
            errno = EIO; /* shorter than checked at open */
        return -1;
    }
    uint64_t left = r->end - off;
    size_t want = left < w->cap ? (size_t)left : w->cap;
    ssize_t got = pread_all(r->fd, w->buf, want, off);
    w->off = off;
    w->len = got > 0 ? (size_t)got : 0;
    if (got < 0)
        return -1;
    if ((size_t)got < n) {
        errno = EIO;
        return -1;
    }
    memcpy(dst, w->buf, n);
    return 0;
}

int jl_entry_read(jl_entry_reader *r, uint32_t max_rows, uint32_t *port, uint32_t *n_rows, float *data,
                  double *times)
{
    *n_rows = 0;
    if (!r->in_rec) {
        if (r->pos >= r->end)
            return 0;
        unsigned char rh[8];
        if (r->end - r->pos < sizeof rh || fetch(r, 0, r->pos, sizeof rh, rh))
            return -1;
        uint32_t p = get32(rh), nr = get32(rh + 4);
        /* checked at open; checked again, cheaply, against surprises */
        if (p >= r->n_ports || nr == 0 || nr > (r->end - r->pos - sizeof rh) / row_bytes(r, p)) {
            errno = EIO;
            return -1;
        }
        r->in_rec = 1;
        r->port = p;
        r->rec_rows = nr;
        r->rec_done = 0;
        r->rec_data = r->pos + sizeof rh;
    }
    if (max_rows == 0) {
        errno = EINVAL;
        return -1;
    }
    const joule_format *f = &r->fmts[r->port];
    uint32_t k = r->rec_rows - r->rec_done < max_rows ? r->rec_rows - r->rec_done : max_rows;
    uint64_t fb = (uint64_t)f->n_columns * sizeof(float);
    if (fetch(r, 0, r->rec_data + r->rec_done * fb, (size_t)(k * fb), data))
        return -1;
    if (f->kind == JOULE_EVENTS &&
        fetch(r, 1, r->rec_data + r->rec_rows * fb + (uint64_t)r->rec_done * sizeof(double),
              (size_t)k * sizeof(double), times))
        return -1;
    *port = r->port;
    *n_rows = k;
    r->rec_done += k;
    if (r->rec_done == r->rec_rows) {
        r->in_rec = 0;
        r->pos = r->rec_data + r->rec_rows * row_bytes(r, r->port);
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Single flight                                                             */

int jl_store_lock(jl_store *s, jl_key key, int wait)
{
    char *path = lock_path(s, key);
    for (int tries = 0; tries < 1000; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT && make_dirs(s->locks) == 0)
            fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            break;
        int rc;
        while ((rc = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) && errno == EINTR)
            ;
        if (rc) {
            int busy = errno == EWOULDBLOCK;
            close(fd);
            free(path);
            return busy ? -2 : -1;
        }
        /* Its holder removes the file as it unlocks (and prune removes
         * those of holders that died): the lock we got may be on a file no
         * longer there, which the next locker would not see. Try again. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            /* and across machines: Redis's lease (another's: busy; Redis
             * away: this machine's lock alone) */
            int leased = s->redis ? jl_redis_lease(s->redis, key) : -1;
            if (leased == 0) {
                unlink(path);
                close(fd);
                free(path);
                return -2;
            }
            pthread_mutex_lock(&s->mu);
            if (s->n_held == s->cap_held)
                s->held = jl_realloc(s->held, (s->cap_held = s->cap_held ? 2 * s->cap_held : 8) * sizeof *s->held);
            s->held[s->n_held++] = (struct held){fd, key, leased == 1};
            pthread_mutex_unlock(&s->mu);
            free(path);
            return fd;
        }
        close(fd);
    }
    free(path);
    return -1;
}

void jl_store_unlock(jl_store *s, int token)
{
    if (token < 0)
        return;
    int found = 0, leased = 0;
    jl_key key = {0, 0};
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_held; i++)
        if (s->held[i].fd == token) {
            key = s->held[i].key;
            leased = s->held[i].leased;
            s->held[i] = s->held[--s->n_held];
            found = 1;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    if (!found)
        return;
    if (leased && s->redis)
        jl_redis_release(s->redis, key);
    /* removed while still held: whoever opens the path next makes a new
     * file; whoever waits on this one sees it gone and tries again */
    char *path = lock_path(s, key);
    unlink(path);
    free(path);
    close(token);
}

/* ------------------------------------------------------------------------ */
/* Input digests                                                             */

/* magic, version, ident length, ident, digest (hi, lo), XXH3-64 of all
 * that */
static size_t digest_file_size(size_t ident_len)
{
    return 8 + 4 + 4 + ident_len + 16 + 8;
}

int jl_store_digest_get(jl_store *s, const char *ident, size_t ident_len, jl_key *digest)
{
    if (ident_len > IDENT_MAX)
        return -1;
    char *path = digest_path(s, ident, ident_len);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        free(path);
        return -1;
    }
    size_t n = digest_file_size(ident_len);
    unsigned char *b = jl_malloc(n + 1);
    struct stat st;
    int rc = -1, corrupt = 1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread_all(fd, b, n + 1, 0) == (ssize_t)n &&
        !memcmp(b, DIGEST_MAGIC, 8) && get32(b + 8) == FORMAT_VERSION && get64(b + n - 8) == XXH3_64bits(b, n - 8)) {
        corrupt = 0;
        /* the same hash of another identity: not ours, not damaged */
        if (get32(b + 12) == ident_len && !memcmp(b + 16, ident, ident_len)) {
            digest->hi = get64(b + 16 + ident_len);
            digest->lo = get64(b + 24 + ident_len);
            futimens(fd, NULL); /* used: kept by pruning */
            rc = 0;
        }
    }
    if (corrupt && fstat(fd, &st) == 0)
        unlink_same(path, &st);
    close(fd);
    free(b);
    free(path);
    return rc;
}

void jl_store_digest_put(jl_store *s, const char *ident, size_t ident_len, jl_key digest)
{
    if (ident_len > IDENT_MAX)
        return;
    size_t n = digest_file_size(ident_len);
    unsigned char *b = jl_malloc(n);
    memcpy(b, DIGEST_MAGIC, 8);
    put32(b + 8, FORMAT_VERSION);
    put32(b + 12, (uint32_t)ident_len);
    memcpy(b + 16, ident, ident_len);
    put64(b + 16 + ident_len, digest.hi);
    put64(b + 24 + ident_len, digest.lo);
    put64(b + n - 8, XXH3_64bits(b, n - 8));
    char *path = digest_path(s, ident, ident_len), *tmp = NULL, *msg = NULL;
    int fd = jl_tmp_create(path, &tmp, &msg);
    if (fd >= 0) {
        int bad = write_all(fd, b, n);
        bad |= close(fd);
        if (bad || rename(tmp, path))
            unlink(tmp);
    }
    free(msg);
    free(tmp);
    free(path);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* Maintenance                                                               */

typedef struct item {
    char name[36]; /* "ab/" and 32 hex digits */
    struct timespec mtime;
    uint64_t size;
} item;

typedef struct walk {
    item *v;
    size_t n, cap;
    int err;       /* errno of the first failure, 0 if none */
    char *err_path;
} walk;

static void walk_fail(walk *w, const char *path, int err)
{
    if (w->err)
        return;
    w->err = err;
    w->err_path = jl_strdup(path);
}

/* Every file of top/XX/ named by 32 hex digits, into w (sorted later);
 * with `sweep`, dead writers' temporaries in each folder removed. */
static void walk_files(const char *top, walk *w, int sweep)
{
    DIR *d = opendir(top);
    if (!d) {
        if (errno != ENOENT)
            walk_fail(w, top, errno);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 2 || !is_hex_name(e->d_name, 2))
            continue;
        char *sub = jl_printf("%s/%s", top, e->d_name);
        if (sweep)
            jl_tmp_sweep(sub);
        DIR *f = opendir(sub);
        if (!f) {
            if (errno != ENOENT && errno != ENOTDIR)
                walk_fail(w, sub, errno);
            free(sub);
            continue;
        }
        struct dirent *g;
        while ((g = readdir(f))) {
            struct stat st;
            if (strlen(g->d_name) != 32 || !is_hex_name(g->d_name, 32) || strncmp(g->d_name, e->d_name, 2) ||
                fstatat(dirfd(f), g->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
                continue;
            if (w->n == w->cap)
                w->v = jl_realloc(w->v, (w->cap = w->cap ? 2 * w->cap : 256) * sizeof *w->v);
            item *it = &w->v[w->n++];
            memcpy(it->name, e->d_name, 2); /* lengths checked above */
            it->name[2] = '/';
            memcpy(it->name + 3, g->d_name, 33);
            it->mtime = st.st_mtim;
            it->size = (uint64_t)st.st_size;
        }
        closedir(f);
        free(sub);
    }
    closedir(d);
}

static int cmp_lru(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static double item_age(const item *it)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mtim = it->mtime;
    return age_of(&st);
}

/* Remove top/it->name if it is still the file walked (a writer may have
 * put a new one in its place since: that one stays). 1 if removed. */
static int remove_item(const char *top, const item *it, walk *w)
{
    char *path = jl_printf("%s/%s", top, it->name);
    struct stat st;
    int rc = 0;
    if (lstat(path, &st) == 0 && st.st_mtim.tv_sec == it->mtime.tv_sec && st.st_mtim.tv_nsec == it->mtime.tv_nsec) {
        if (unlink(path) == 0)
            rc = 1;
        else if (errno != ENOENT)
            walk_fail(w, path, errno);
    }
    free(path);
    return rc;
}

/* Lock files nobody holds (their holder died before unlocking): taken,
 * then removed while held, so a process that opened one meanwhile sees it
 * gone when it gets the lock, and tries again (see jl_store_lock). */
static void remove_stale_locks(jl_store *s)
{
    DIR *d = opendir(s->locks);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len != 37 || strcmp(e->d_name + 32, ".lock"))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat a, b;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 &&
            fstatat(dirfd(d), e->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            unlinkat(dirfd(d), e->d_name, 0);
        close(fd);
    }
    closedir(d);
}

static int walk_end(walk *w, char **why)
{
    int err = w->err;
    if (err && why) {
        char *p = jl_escape(w->err_path);
        *why = jl_printf("%s: %s", p, strerror(err));
        free(p);
    }
    free(w->err_path);
    free(w->v);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int jl_store_usage_get(jl_store *s, jl_store_usage *u)
{
    memset(u, 0, sizeof *u);
    walk w = {0};
    walk_files(s->entries, &w, 0);
    for (size_t i = 0; i < w.n; i++) {
        double age = item_age(&w.v[i]);
        u->entries++;
        u->bytes += w.v[i].size;
        if (s->ttl > 0 && age > s->ttl)
            u->expired++;
        if (age > u->oldest_s)
            u->oldest_s = age;
    }
    return walk_end(&w, NULL);
}

int jl_store_prune(jl_store *s, double older_than, uint64_t *removed, uint64_t *freed, char **why)
{
    *removed = *freed = 0;
    *why = NULL;
    walk w = {0};
    walk_files(s->entries, &w, 1);
    /* by age first, then the least recently used down to the bound */
    uint64_t total = 0;
    size_t kept = 0;
    for (size_t i = 0; i < w.n; i++) {
        double age = item_age(&w.v[i]);
        if (((s->ttl > 0 && age > s->ttl) || (older_than > 0 && age > older_than)) &&
            remove_item(s->entries, &w.v[i], &w)) {
            (*removed)++;
            *freed += w.v[i].size;
            continue;
        }
        total += w.v[i].size;
        w.v[kept++] = w.v[i];
    }
    if (s->max_bytes && total > s->max_bytes) {
        qsort(w.v, kept, sizeof *w.v, cmp_lru);
        for (size_t i = 0; i < kept && total > s->max_bytes; i++)
            if (remove_item(s->entries, &w.v[i], &w)) {
                (*removed)++;
                *freed += w.v[i].size;
                total -= w.v[i].size;
            }
    }
    /* the digest memo: kept while used, as long as entries are */
    w.n = 0;
    walk_files(s->digests, &w, 1);
    for (size_t i = 0; i < w.n; i++) {
        double age = item_age(&w.v[i]);
        if (((s->ttl > 0 && age > s->ttl) || (older_than > 0 && age > older_than)) &&
            remove_item(s->digests, &w.v[i], &w))
            *freed += w.v[i].size;
    }
    remove_stale_locks(s);
    return walk_end(&w, why);
}

int jl_store_clear(jl_store *s, uint64_t *removed, uint64_t *freed, char **why)
{
    *removed = *freed = 0;
    jl_mem_clear();
    *why = NULL;
    walk w = {0};
    walk_files(s->entries, &w, 1);
    for (size_t i = 0; i < w.n; i++)
        if (remove_item(s->entries, &w.v[i], &w)) {
            (*removed)++;
            *freed += w.v[i].size;
        }
    w.n = 0;
    walk_files(s->digests, &w, 1);
    for (size_t i = 0; i < w.n; i++)
        if (remove_item(s->digests, &w.v[i], &w))
            *freed += w.v[i].size;
    remove_stale_locks(s);
    return walk_end(&w, why);
}
