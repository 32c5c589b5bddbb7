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
} jl_node_stats;

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
};

/* Record one call's duration. */
void jl_stats_latency(jl_node_stats *s, double seconds);
/* The q-quantile (0..1) of the recorded latencies, in seconds. */
double jl_stats_quantile(const jl_node_stats *s, double q);
/* Merge b's counters into a. */
void jl_stats_merge(jl_node_stats *a, const jl_node_stats *b);

#endif
