/* shard.h — the share of a run's inputs one shard of a job array takes.
 *
 * `joule run --shard I/N` (joule_run_options.shard_index/shard_count) runs
 * the I-th of N disjoint shares of the inputs, so that N processes given
 * the same inputs — tasks of a Slurm array, `xargs -P`, a CI matrix, on
 * any machines — together run each input exactly once, with no message
 * passing between them. A share must therefore be a function of what
 * every process sees alike: the inputs' paths and sizes.
 *
 * The inputs are ordered by their paths' bytes (not as given: two shells
 * may expand one glob in different orders under different locales) and
 * cut into N consecutive ranges of about equal total size: input i, whose
 * bytes span [S_i, S_i + w_i) of the total T, goes to the share its middle
 * falls in, floor((S_i + w_i / 2) × N / T). An input whose size is not
 * known (it cannot be read: it will fail, in whichever share) weighs as the
 * mean of the others, so that it does not move the cuts much. */
#ifndef JOULE_SHARD_H
#define JOULE_SHARD_H

#include <stddef.h>

/* The inputs of share `index` (0-based) of `count` among files[0..n), in
 * their command-line order: a malloc'd array of pointers into files (its
 * length in *n_out; NULL when empty). */
const char **jl_shard_select(const char *const *files, size_t n, unsigned index, unsigned count, size_t *n_out);

/* The tag a shard puts in the names of the tables it gathers:
 * "shard-2-of-3" (1-based, as the user wrote it). malloc'd. */
char *jl_shard_tag(unsigned index, unsigned count);

#endif
