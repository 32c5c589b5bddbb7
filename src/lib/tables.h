/* tables.h — gathered tables: one file for a whole run.
 *
 * A sink that can gather (joule_descriptor.gather), given an output path
 * that names no part of the input ("loudness.csv", "{node}.csv"), writes
 * one table for the run instead of a file per input. Each input's
 * instance runs as usual, but host->open_output gives it a part: a
 * temporary beside the table, named when the run is planned and marked
 * with the identity of the process that planned it, so that a worker
 * process that dies leaves the parts of the inputs it finished where the
 * next worker and the end of the run find them. A job's parts are kept
 * only if the whole job succeeds, like any output.
 *
 * When every input is done, the sink's gather is called with the parts
 * of the inputs that succeeded, in command-line order, and writes the
 * table to a temporary that is put in place like any output. Failed
 * inputs are left out (the report lists them with their message); a run
 * in which no input succeeded, or that was interrupted, leaves any older
 * table untouched. Every part is removed at the end, whatever happened. */
#ifndef JOULE_TABLES_H
#define JOULE_TABLES_H

#include "graph.h"

#include <stddef.h>

typedef struct jl_table {
    size_t node;
    uint32_t param;
    char *path;   /* the table, expanded (in the output folder)        */
    char **parts; /* per input of the run: its part's temporary name  */
} jl_table;

typedef struct jl_tables {
    jl_table *v;
    size_t n, n_files;
    int keep; /* jl_tables_free leaves the parts (another run gathers them) */
} jl_tables;

/* The tables a run of `g` over `files` writes; NULL when none. A
 * `table_tag` (not NULL) goes in their names (jl_path_tag: a shard's).
 * `shared`: the parts get names every process computes alike from the
 * table and the input, and are kept (runs whose tables another gathers:
 * joule_run_options.defer_tables, joule_gather_tables). */
jl_tables *jl_tables_plan(const joule_graph *g, const char *const *files, size_t n_files, const char *out_dir,
                          const char *table_tag, int shared);

/* The part for input `slot` of node `node`'s output-path parameter
 * `param`, or NULL when that parameter is not gathered. */
const char *jl_tables_part(const jl_tables *t, size_t node, uint32_t param, size_t slot);

/* Write every table from the parts of the inputs whose ok[i] is set.
 * Errors are passed to `say` (one line each, naming the table and the
 * node). Returns 0, or JOULE_E_IO when a table could not be written. */
int jl_tables_write(const jl_tables *t, const joule_graph *g, const char *const *files, const int *ok,
                    void (*say)(void *user, const char *msg), void *user);

/* Remove every part that remains, and free. */
void jl_tables_free(jl_tables *t);

#endif
