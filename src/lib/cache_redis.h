/* cache_redis.h — the Redis tier of the stage cache, behind the memory and
 * disk tiers: what one machine computed, every machine can replay.
 *
 * The unit moved is the disk tier's entry file, as it is (its header and
 * payload carry their own checksums, which the disk tier checks again when
 * it opens the file): a commit on disk also stores the file in Redis, and
 * a disk miss asks Redis before computing, promoting what it finds to the
 * local disk. In Redis an entry is
 *
 *   joule:1:<key>:m      "<pieces> <bytes> <xxh3-64 of the bytes>"
 *   joule:1:<key>:<i>    piece i of the bytes (at most 4 MiB each)
 *
 * written pieces first and the meta key last, every key expiring after the
 * cache's TTL (refreshed when served), so that a reader sees a whole entry
 * or none. A piece set that does not match its meta (a torn write, an
 * eviction, a change by hand) is a corrupt entry: deleted, recomputed,
 * never served. Single flight across machines: a lease, joule:1:<key>:l,
 * taken with SET NX PX (it expires on its own, so a holder that crashed
 * never blocks the others).
 *
 * Redis is a help, never a need: the first error (down, slow, full,
 * refused) is said once, and the run goes on with the local tiers. One
 * connection per thread that uses it, reused. */
#ifndef JOULE_CACHE_REDIS_H
#define JOULE_CACHE_REDIS_H

#include "cache_store.h"

#include <stdint.h>

typedef struct jl_redis jl_redis;

/* Parse and check `url` ("redis://HOST[:PORT][/DB]"; a password there is
 * refused: it comes from $JOULE_REDIS_PASSWORD). Returns 0, or -1 with a
 * malloc'd reason. */
int jl_redis_url_check(const char *url, char **why);

/* A tier for `url` (checked), entries expiring after `ttl` s (0: never).
 * Nothing is connected until first used. `say` receives the one warning. */
jl_redis *jl_redis_new(const char *url, double ttl, void (*say)(const char *msg));
void jl_redis_free(jl_redis *r);

/* Fetch the entry of `key` into the file `path` (created, mode 0600, or
 * replaced). Returns JL_ENTRY_HIT, JL_ENTRY_MISS (none, Redis away) or
 * JL_ENTRY_CORRUPT (found damaged: deleted in Redis too). */
int jl_redis_fetch(jl_redis *r, jl_key key, const char *path);
/* Is the entry of `key` in Redis? JL_ENTRY_HIT or JL_ENTRY_MISS. */
int jl_redis_probe(jl_redis *r, jl_key key);
/* For each keys[i] whose states[i] is not JL_ENTRY_HIT, set it to
 * JL_ENTRY_HIT when Redis has it: every key asked in one round trip. */
void jl_redis_probe_many(jl_redis *r, const jl_key *keys, size_t n, int *states);
/* Store the entry file `path` under `key`. Failures are said once. */
void jl_redis_store(jl_redis *r, jl_key key, const char *path);

/* The lease of `key`: 1 taken, 0 held by another (and not yet expired), -1
 * Redis away. Release gives it up if it is still ours. */
int jl_redis_lease(jl_redis *r, jl_key key);
void jl_redis_release(jl_redis *r, jl_key key);

/* Entries fetched, and found corrupt, so far. */
void jl_redis_counts(jl_redis *r, uint64_t *hits, uint64_t *corrupt);

#endif
