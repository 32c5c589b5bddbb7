/* cache_mem.h — the memory tier of the stage cache: recently used entries
 * kept whole in memory, in front of the disk tier (cache_store.h).
 *
 * An entry is the output of a computation named by its key, so a copy in
 * memory never goes stale: whichever tier serves it, the bytes are the
 * same. The tier keeps entry images exactly as they are on disk (checked
 * when they came from disk, or just written by this process), so a hit
 * costs neither a read nor a checksum pass. It serves what one process
 * needs again: an entry another job of the same run waited for (single
 * flight), and, for a program that embeds libjoule and runs graphs again
 * and again, every re-run.
 *
 * An entry is admitted on its second use in the process (written or read
 * from disk once before): reading an image whole into fresh memory costs
 * more than streaming it through a small window, which only pays when the
 * entry is used again — a command-line run that reads each entry once
 * must not pay it.
 *
 * It belongs to the process and is shared by its runs and threads. It is
 * bounded in bytes (`[cache] memory`, the last run's setting; 0 turns it
 * off), evicting the least recently used entries first, and an entry
 * unused for longer than the TTL is dropped when next looked up. An
 * entry larger than half the bound is not kept. An image in use by a
 * reader stays valid until the reader lets it go, even when evicted. */
#ifndef JOULE_CACHE_MEM_H
#define JOULE_CACHE_MEM_H

#include "cache_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct jl_mem_item jl_mem_item;

/* Set the bound (bytes; 0 empties the tier and keeps nothing). */
void jl_mem_configure(uint64_t max_bytes);

/* The image of `key`, held for the caller (release it), or NULL when it
 * is not kept or was unused for longer than `ttl` s (0: no limit). */
jl_mem_item *jl_mem_get(jl_key key, double ttl);
const unsigned char *jl_mem_bytes(const jl_mem_item *it);
size_t jl_mem_size(const jl_mem_item *it);
void jl_mem_release(jl_mem_item *it);

/* Whether an image of n bytes would be kept: callers skip reading one in
 * otherwise. */
int jl_mem_fits(uint64_t n);

/* Note a use of `key` (an entry written, or read from disk); returns 1
 * when it was used before in this process (recently: a small table
 * remembers), 0 the first time. */
int jl_mem_used_before(jl_key key);

/* Keep the image of `key` (n malloc'd bytes), replacing an older one.
 * Returns it held for the caller (release it), the tier owning the bytes;
 * or NULL when it does not fit, the bytes left to the caller. */
jl_mem_item *jl_mem_put(jl_key key, unsigned char *bytes, size_t n);

/* Forget `key` (a damaged or removed entry), or everything. */
void jl_mem_forget(jl_key key);
void jl_mem_clear(void);

/* Bytes and entries kept, and entries evicted to keep the bound. */
void jl_mem_usage(uint64_t *bytes, uint64_t *entries, uint64_t *evicted);

#endif
