/* cache_key.h — what a cached stream is keyed by.
 *
 * A node's signature says everything about how it computes, without the
 * input: its plugin's name and version, the build of the object it came
 * from, its parameter values in a canonical spelling (so `frame = 1024`,
 * `frame=1024.0` for a float and an omitted default agree), which port of
 * which upstream node each input port reads, and, through those, the
 * signatures of everything upstream. A key is the signature combined with
 * the input's content digest. Neither covers the chunk size or the thread
 * count: outputs do not depend on them (the determinism tests prove it). */
#ifndef JOULE_CACHE_KEY_H
#define JOULE_CACHE_KEY_H

#include "cache_store.h"
#include "graph.h"

#include <stdint.h>

/* Per node of g: its signature in sigs[i]; pure[i] 1 when its output is a
 * function of its input and parameters alone, which is false for a plugin
 * that says it is not (JOULE_DESC_IMPURE) and for everything downstream of
 * one. */
void jl_cache_signatures(const joule_graph *g, jl_key *sigs, int *pure);

/* The key of a node's output for an input of content `digest`. */
jl_key jl_cache_key(jl_key digest, jl_key sig);

/* The content digest of the file at `path`: from the store's memo when the
 * file is unchanged since it was last hashed (same device, inode, size,
 * modification and change times), else read and hashed (XXH3-128) and
 * memoised. *bytes_read says how much was read (0 when memoised).
 * Returns 0, or -1 when the input cannot be digested (not a regular file:
 * a pipe cannot be read twice; a read error), with a malloc'd reason. */
int jl_input_digest(jl_store *s, const char *path, jl_key *digest, uint64_t *bytes_read, char **why);

/* What node i's signature covers, as lines of tab-separated fields, for
 * `--explain` to say what changed since an entry was recorded:
 *   plugin NAME / version V / build HEX / param NAME VALUEHASH AS-WRITTEN /
 *   upstream NODE SIGHEX
 * malloc'd. */
char *jl_cache_describe(const joule_graph *g, size_t i, const jl_key *sigs);

/* "0123…ef": 32 hex digits and a NUL into buf[33]. */
const char *jl_key_hex(jl_key k, char buf[33]);

#endif
