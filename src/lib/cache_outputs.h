/* cache_outputs.h — sinks whose files are current.
 *
 * A sink's product is files, and those are written by every run: the
 * stage cache never stores them. But when a sink's files are exactly the
 * ones it wrote for this input — the same key (the input's digest and
 * the sink's signature: plugin, build, parameters, everything upstream),
 * the same paths — and each is untouched since it was put in place,
 * writing them again would give the same bytes. Such a sink is planned as
 * current (cache_plan.h): not run, nor anything only it reads. That is
 * what makes an identical re-run cost a lookup, as `make` does.
 *
 * "Untouched" is judged by the file's identity as it was just after it
 * was put in place: device, inode, size, and modification and change
 * times to the nanosecond. Writing to a file, replacing, renaming or
 * touching it changes its change time, which no one can set back. A file
 * that is gone, replaced or edited makes its sink run, and `--refresh` or
 * `--no-cache` always runs it.
 *
 * The memos live in the cache folder (outputs/KEY), written through a
 * temporary and renamed, pruned with the TTL and emptied by `cache
 * clear`. A memo only says "these files are what this sink wrote": a lost
 * or stale one costs a run of the sink, never a wrong file. */
#ifndef JOULE_CACHE_OUTPUTS_H
#define JOULE_CACHE_OUTPUTS_H

#include "cache_store.h"

#include <stddef.h>

/* The memo key of a sink's files, from its cache key, the input's path (a
 * sink may write it into its files: the same content under another name
 * is another memo) and the paths its output-path parameters give for this
 * input (relative ones taken from the current folder). Returns 0, or -1
 * when one is standard output ("-"), whose bytes cannot be kept, or holds
 * a line end. */
int jl_outmemo_key(jl_key sink_key, const char *input, char *const *paths, size_t n, jl_key *memo);

/* 0 when the memo exists and every file it lists is as it was put in
 * place (the memo's use is then recorded, for the TTL); else -1 and a
 * malloc'd reason ("no files written for this input yet", "PATH was
 * changed since it was written"). */
int jl_outmemo_check(const char *store_dir, jl_key memo, char **why);

/* Record the files a sink has just put in place (paths as it opened
 * them). Nothing is recorded for none, or when one cannot be stat'ed. */
void jl_outmemo_write(const char *store_dir, jl_key memo, char *const *paths, size_t n);

/* Remove memos unused for `older_than` s (all when negative) from
 * `store_dir`/`sub` ("explain", "outputs", "probe"), and temporaries of writers
 * that died. */
void jl_memos_prune(const char *store_dir, const char *sub, double older_than);

#endif
