/* job_cache.h — the stage cache in the life of a run and of its jobs.
 *
 * Per run: the store is opened and every node's signature computed once.
 * Per job, before anything of it is opened: the input's digest is taken
 * (memoised: an unchanged file is not read), every node's key derived,
 * the store asked which entries exist, and a plan made (cache_plan.h). The
 * scheduler then opens the nodes the plan runs, a built-in replay source
 * for each replayed node, and nothing for skipped ones; it hands every
 * recorded node's output rows here as they are emitted, and the entries
 * are committed with the job — only when the whole job succeeded. */
#ifndef JOULE_JOB_CACHE_H
#define JOULE_JOB_CACHE_H

#include "cache_store.h"
#include "graph.h"
#include "outputs.h"
#include "report.h"

#include <stdint.h>

typedef struct jl_cache_run jl_cache_run;
typedef struct jl_job_cache jl_job_cache;

/* The cache folder when neither the run nor the graph names one:
 * $JOULE_CACHE_DIR, else $XDG_CACHE_HOME/joule, else ~/.cache/joule;
 * malloc'd, or NULL when none can be named. */
char *jl_cache_default_dir(void);

/* NULL when the cache is off for this run (disabled, or its folder cannot
 * be used: then *warning says why, once). */
jl_cache_run *jl_cache_run_new(const joule_graph *g, const joule_run_options *opt, char **warning);
/* Removes entries past the TTL and the size bound, then frees. */
void jl_cache_run_free(jl_cache_run *c, jl_cache_figures *figures);

/* Plan a job: plan[i] for every node (JL_PLAN_*). Returns the job's cache
 * state, or NULL when nothing of it is cached or recorded (then plan[] is
 * all JL_PLAN_RUN). Thread-safe. Single flight: every entry the plan
 * records is locked (a lock per key, the kernel's, so held across
 * processes and released if its holder dies); when one is held by
 * another job and `may_wait`, nothing is kept, *busy is set and NULL
 * returned: the caller tries again once that job may have ended. */
jl_job_cache *jl_job_cache_plan(jl_cache_run *c, const char *input, uint64_t input_bytes, int *plan, int may_wait,
                                int *busy);

/* A replayed node: its output formats (out_fmts[p], valid until the job
 * ends), and its descriptor and instance, a source that replays the
 * entry. */
int jl_job_cache_replay(jl_job_cache *jc, size_t node, joule_format *out_fmts, const joule_descriptor **desc,
                        void **self);

/* The host a replay reports through (its read errors name the entry). */
void jl_job_cache_replay_host(void *self, const joule_host *host);

/* A recorded node, once opened: start its entry with its output formats. */
void jl_job_cache_record(jl_job_cache *jc, size_t node, const joule_format *out_fmts);

/* Rows node `node` emitted on `port`: appended to its entry. Called from
 * the thread stepping the node (a node's steps never overlap), without
 * the run's lock. */
void jl_job_cache_rows(jl_job_cache *jc, size_t node, uint32_t port, const joule_buffer *b);

/* With --explain: why node `node` runs, is replayed or skipped ("runs:
 * parameter 'frame' changed (1024 -> 2048)"); NULL otherwise. */
const char *jl_job_cache_why(const jl_job_cache *jc, size_t node);

/* The job's outputs were put in place: each sink that ran records which
 * files it wrote (cache_outputs.h), so that a later run may find them
 * current. */
void jl_job_cache_placed(jl_job_cache *jc, const jl_outfile *outs, size_t n_outs);

/* The job ended: entries committed when `ok`, with the seconds each node
 * took (busy[i]), discarded otherwise; readers closed; jc freed. */
void jl_job_cache_end(jl_job_cache *jc, int ok, const double *busy);

#endif
