/* report.h — run statistics (internal view of joule_report). */
#ifndef JOULE_REPORT_H
#define JOULE_REPORT_H

#include <joule/joule.h>

#include <stddef.h>
#include <stdint.h>

/* Per-step latencies go into geometric buckets: bucket b holds durations in
 * [LAT_MIN·LAT_STEP^b, LAT_MIN·LAT_STEP^(b+1)); percentiles are read back to
 * within a few percent, whatever the number of steps, in fixed memory. */
#define JL_LAT_BUCKETS 256
#define JL_LAT_MIN 1e-7 /* s */
#define JL_LAT_STEP 1.1

typedef struct jl_node_stats {
    char *name;
    char *plugin;
    uint64_t rows_in, rows_out, calls;
    double busy;                       /* s, summed over jobs and threads */
    double lat_max;
    uint64_t lat_hist[JL_LAT_BUCKETS];
    size_t queue_high_water;           /* most chunks waiting at its inputs */
    uint64_t ran, replayed, skipped;   /* jobs in which the node ran, was
                                          replayed from the cache, or was
                                          not needed                         */
    uint64_t current;                  /* ... or was a sink whose files
                                          were current (cache_outputs.h)     */
} jl_node_stats;

/* The run's cache figures, for the report. */
typedef struct jl_cache_figures {
    int enabled;
    uint64_t hits, misses, expired, corrupt, evicted, too_large;
    uint64_t memory_hits;   /* of the hits, served from memory    */
    uint64_t bytes_read, bytes_written;
    uint64_t digest_bytes;  /* input bytes read to take digests   */
    double time_saved;      /* s: the recorded cost of replays    */
    uint64_t lookups;
    double lookup_p50, lookup_p95, lookup_p99; /* s */
} jl_cache_figures;

/* One input of the run. */
typedef struct jl_input_stats {
    char *file;        /* as given                                      */
    int state;         /* JL_SLOT_* (watch.h): ok, failed, cancelled, or
                          pending (never started)                       */
    double wall;       /* s from its opening to its outputs in place    */
    double duration;   /* s of signal its source read; < 0 unknown (no
                          source read it: every node served or current) */
    char *error;       /* a failed input's message, else NULL           */
    char *where;       /* where it ran, in a merged report ("host rank
                          2"), else NULL                                */
} jl_input_stats;

struct joule_report {
    double wall;           /* s */
    size_t peak_rss;       /* bytes */
    size_t pool_high_water, pool_budget, pool_allocated;
    size_t files_done, files_failed;
    uint64_t bytes_read;
    int threads;
    size_t chunk_rows;
    size_t n_nodes;
    jl_node_stats *nodes;
    jl_cache_figures cache;
    size_t n_inputs;
    jl_input_stats *inputs;  /* in command-line order */
    /* a shard's run (shard_count > 1): which share, of how many inputs */
    unsigned shard_index, shard_count;
    size_t inputs_given;
    int processes;          /* a merged report: how many processes ran */
};

/* Record one call's duration. */
void jl_stats_latency(jl_node_stats *s, double seconds);
/* The q-quantile (0..1) of the recorded latencies, in seconds. */
double jl_stats_quantile(const jl_node_stats *s, double q);
/* Merge b's counters into a. */
void jl_stats_merge(jl_node_stats *a, const jl_node_stats *b);
/* Merge b's cache figures into a (percentiles: the larger). */
void jl_cache_figures_merge(jl_cache_figures *a, const jl_cache_figures *b);

#endif
