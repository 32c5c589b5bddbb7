/* cache_store.h — the disk tier of the stage cache: one file per entry in
 * a folder shared by every joule process of the user, written whole or not
 * at all, checked before anything in it is served.
 *
 * An entry is one node's whole output for one input: every output port's
 * stream format and rows, as the node emitted them, in records of any
 * size. It is found by its 128-bit key (cache_key.h computes keys); what
 * the key covers is not this module's business.
 *
 * Several processes may use one folder at once: entries appear by rename
 * (a reader sees a whole entry or none), are never modified in place, and
 * a reader that finds an entry unreadable, truncated, corrupted, of another
 * format version or of another key counts it and removes it. */
#ifndef JOULE_CACHE_STORE_H
#define JOULE_CACHE_STORE_H

#include <joule/plugin.h>

#include <stddef.h>
#include <stdint.h>

typedef struct jl_key {
    uint64_t hi, lo;
} jl_key;

typedef struct jl_store jl_store;

/* Counters since the store was opened (this process), of lookups and
 * writes: hits, misses, expired and corrupt are jl_entry_open's outcomes;
 * bytes_read is the size of the entry files served as hits, bytes_written
 * that of the entries committed. What jl_store_prune and jl_store_clear
 * remove is reported through their arguments, not here: this tier leaves
 * `evicted` at 0. Thread-safe. */
typedef struct jl_store_counts {
    uint64_t hits, misses, expired, corrupt, evicted;
    uint64_t bytes_read, bytes_written;
    uint64_t memory_hits; /* hits served by the memory tier (cache_mem.h) */
} jl_store_counts;

/* Open the cache folder `dir` (created, with its parents, mode 0700 when
 * missing). `ttl` in seconds: an entry older than that (since it was
 * written or last served) is expired; 0 = never. `max_bytes`: the size
 * bound jl_store_prune keeps to; 0 = none. Returns NULL with a malloc'd
 * reason in *why ("cannot create /x/joule: Permission denied"). */
jl_store *jl_store_open(const char *dir, double ttl, uint64_t max_bytes, char **why);
void jl_store_close(jl_store *s);
/* Put the Redis tier `r` behind the disk (cache_redis.h; the caller keeps
 * it and frees it after the store): disk misses are asked there, commits
 * stored there too, locks also taken as its leases. */
struct jl_redis;
void jl_store_set_redis(jl_store *s, struct jl_redis *r);
const char *jl_store_dir(const jl_store *s);
void jl_store_counts_get(const jl_store *s, jl_store_counts *c);

/* ---- writing an entry ---------------------------------------------------
 * Rows are streamed to a temporary file in the store as they come (memory
 * does not depend on the entry's size); commit makes the entry appear
 * under its key, replacing an older one; abort removes the temporary. */
typedef struct jl_entry_writer jl_entry_writer;

/* `fmts`: one stream format per output port (names and units are copied).
 * Returns NULL with *why on failure (the caller then runs uncached). */
jl_entry_writer *jl_entry_create(jl_store *s, jl_key key, uint32_t n_ports, const joule_format *fmts, char **why);

/* Append n_rows rows of port `port`: n_rows × n_columns floats, and for an
 * events stream their n_rows times. Returns 0, or -1 (a write error: the
 * writer is then dead, commit will fail; abort it). */
int jl_entry_append(jl_entry_writer *w, uint32_t port, const float *data, const double *times, uint32_t n_rows);

/* Bytes appended so far (payload). */
uint64_t jl_entry_size(const jl_entry_writer *w);

/* Finish the entry: header completed with the row counts, the payload's
 * checksum and `cost_s` (the seconds its computation took, for "time
 * saved"), and renamed into place after all its data is written. It is
 * not fsync'd: an entry can always be computed again, and one torn by a
 * power cut fails the checks at open like any damaged entry. Returns 0,
 * or -1 with *why; the writer is freed either way. */
int jl_entry_commit(jl_entry_writer *w, double cost_s, char **why);
void jl_entry_abort(jl_entry_writer *w);

/* ---- reading an entry ---------------------------------------------------*/
typedef struct jl_entry_reader jl_entry_reader;

enum { JL_ENTRY_HIT, JL_ENTRY_MISS, JL_ENTRY_EXPIRED, JL_ENTRY_CORRUPT };

/* Look up `key`: in the memory tier (cache_mem.h), then on disk. On
 * JL_ENTRY_HIT, *r is a reader positioned at the first record, the whole
 * payload already checked against its checksum (so nothing corrupted is
 * ever served; an image in memory was checked when it got there), and the
 * entry's recency refreshed (for TTL and least-recently-used pruning). An
 * entry read from disk that the memory tier can hold, and that this
 * process wrote or read once before, is handed to it. An expired or corrupt entry
 * is removed and counted; a miss is counted. Otherwise *r is NULL. The
 * check reads the whole entry once (the reads after it mostly come from
 * the page cache): a lookup costs about a read of the entry. */
int jl_entry_open(jl_store *s, jl_key key, jl_entry_reader **r);

/* Whether an entry for `key` is there and not expired, by its file alone
 * (nothing read, nothing counted, nothing removed): for planning, before
 * the entries that will really be replayed are opened. JL_ENTRY_HIT or
 * JL_ENTRY_MISS. */
int jl_entry_probe(jl_store *s, jl_key key);
/* The same for n keys at once (states[i] for keys[i]): those the disk
 * lacks are asked of the Redis tier in one round trip. */
void jl_entry_probe_many(jl_store *s, const jl_key *keys, size_t n, int *states);

uint32_t jl_entry_ports(const jl_entry_reader *r);
/* The stream format of a port as recorded (names, units owned by r; its
 * `length` is the port's row count), or NULL for a port past the last. */
const joule_format *jl_entry_format(const jl_entry_reader *r, uint32_t port);
uint64_t jl_entry_rows(const jl_entry_reader *r, uint32_t port);
double jl_entry_cost(const jl_entry_reader *r);

/* Read rows of the next record, at most `max_rows` (the rest of a longer
 * record comes with the next calls), into data (n_rows × the port's
 * n_columns floats) and, for events, times. Returns 1 with *port and
 * *n_rows (>= 1) set, 0 at the end, -1 on a read error or a max_rows of
 * 0. `max_rows` applies to every port; the caller passes buffers of at
 * least max_rows rows of the widest port. The rows come as they were
 * appended, byte for byte. */
int jl_entry_read(jl_entry_reader *r, uint32_t max_rows, uint32_t *port, uint32_t *n_rows, float *data,
                  double *times);
void jl_entry_close(jl_entry_reader *r);

/* ---- single flight -------------------------------------------------------
 * An exclusive lock per key, held while one job computes an entry that
 * others (threads or processes) will then read. flock(2) on a lock file:
 * the kernel releases it when its holder dies. Returns a token (>= 0) or
 * -1 when locks cannot be taken (the caller computes without). `wait` 0:
 * return -2 at once if another holds it (another thread of this process
 * included). The token is a descriptor (close-on-exec): a child forked
 * while it is held shares the lock until it exits or closes it. Unlock
 * removes the lock file; jl_store_close releases the locks still held. */
int jl_store_lock(jl_store *s, jl_key key, int wait);
void jl_store_unlock(jl_store *s, int token);

/* ---- input digests -------------------------------------------------------
 * The memo of content digests: a file identified by (device, inode, size,
 * mtime, ctime) keeps its digest, so an unchanged file is not read again
 * to be hashed. `ident` is those bytes (at most 64 KiB), compared whole
 * on lookup. Returns 0 and *digest, or -1 when unknown. A memo is pruned
 * like an entry by age (TTL, older_than), a get refreshing it; put
 * failing is silent (the digest is computed again next time). */
int jl_store_digest_get(jl_store *s, const char *ident, size_t ident_len, jl_key *digest);
void jl_store_digest_put(jl_store *s, const char *ident, size_t ident_len, jl_key digest);

/* ---- maintenance ---------------------------------------------------------*/
typedef struct jl_store_usage {
    uint64_t entries, bytes; /* entries only (not the memo, not temporaries) */
    uint64_t expired;       /* entries past the TTL, not yet removed */
    double oldest_s;        /* age of the least recently used entry   */
} jl_store_usage;

/* 0, or -1 with errno set when the folder cannot be read. */
int jl_store_usage_get(jl_store *s, jl_store_usage *u);

/* Remove expired entries, entries older than `older_than` seconds (0:
 * none by age), stray temporaries of dead writers, then least recently
 * used entries until the store is within its size bound; memoised digests
 * past the TTL or older_than, and the lock files of holders that died.
 * *removed: the entries removed; *freed: their bytes and the memo's.
 * Safe while other threads and processes read and write (an open reader
 * keeps reading a removed entry; an entry written or served since the
 * walk saw it is left). Returns 0, or -1 with *why naming the first path
 * that could not be read or removed (the rest is still done). */
int jl_store_prune(jl_store *s, double older_than, uint64_t *removed, uint64_t *freed, char **why);

/* Remove every entry (and the digest memo, dead writers' temporaries and
 * stale lock files); *removed, *freed as for prune. Live writers'
 * temporaries stay: their entries appear when they commit. */
int jl_store_clear(jl_store *s, uint64_t *removed, uint64_t *freed, char **why);

#endif
