/*
 * joule/joule.h — the embedding API of libjoule.
 *
 * A program that runs joule graphs (the `joule` command is one) does four
 * things:
 *
 *     joule_registry *reg = joule_registry_new();
 *     joule_registry_add_dir(reg, "/usr/lib/x86_64-linux-gnu/joule");
 *     joule_graph *g;
 *     char *errors;
 *     if (joule_graph_load("graph.ini", reg, NULL, 0, &g, &errors) != 0) {
 *         fputs(errors, stderr);          // "graph.ini:12: ..." lines
 *         free(errors);
 *     }
 *     joule_run(g, files, n_files, &options, NULL);
 *     joule_graph_free(g);
 *     joule_registry_free(reg);
 *
 * Plugins do not need this header: they include <joule/plugin.h> only.
 *
 * Conventions: functions that can fail return an int status, 0 on success
 * and one of the JOULE_E_* codes otherwise; *_free functions accept NULL.
 * Objects are not locked: use one from one thread at a time (joule_run
 * itself runs many threads internally).
 */
#ifndef JOULE_JOULE_H
#define JOULE_JOULE_H

#include <stddef.h>
#include <stdint.h>

#include <joule/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header, and of the library actually loaded:
 * assert(joule_version_number() == JOULE_VERSION_NUMBER) holds when both
 * come from the same release. */
#define JOULE_VERSION "0.1.0"
#define JOULE_VERSION_NUMBER 1000 /* major * 1000000 + minor * 1000 + patch */
const char *joule_version(void);
int joule_version_number(void);

/* Status codes. These values are stable; new codes may be added. */
#define JOULE_E_OK 0
#define JOULE_E_USAGE 1       /* bad arguments                            */
#define JOULE_E_GRAPH 2       /* the graph file is invalid                */
#define JOULE_E_PLUGIN 3      /* a plugin could not be loaded or failed   */
#define JOULE_E_INPUT 4       /* processing at least one input failed     */
#define JOULE_E_IO 5          /* a file could not be read or written      */
#define JOULE_E_NOMEM 6       /* out of memory                            */
#define JOULE_E_INTERRUPTED 7 /* stopped by joule_interrupt()             */

/* A static, thread-safe description of a status code. */
const char *joule_strerror(int code);

/* ------------------------------------------------------------------------ */
/* Plugin registry                                                           */

typedef struct joule_registry joule_registry;

/* What the registry knows of one loaded plugin. Owned by the registry. */
typedef struct joule_plugin_info {
    const joule_descriptor *desc; /* the plugin's own descriptor          */
    const char *path;             /* the shared object it came from       */
} joule_plugin_info;

joule_registry *joule_registry_new(void);
void joule_registry_free(joule_registry *reg);

/* Add the plugin objects (*.so) in `dir` to those searched. Nothing is
 * loaded yet: the first lookup probes every object added so far in a
 * child process (one whose constructor crashes, calls exit() or hangs is
 * recorded as a failure with what happened, and cannot take the caller
 * with it), and then loads into this process only the object that
 * provides the plugin asked for. Directories added first take precedence:
 * a plugin whose name an earlier object provides is recorded as a failure,
 * "shadowed by ...". A directory that does not exist is not an error;
 * files that are not regular files (a FIFO, a device) are recorded as
 * skipped without being opened. Returns 0, or JOULE_E_IO if `dir` exists
 * but cannot be read. */
int joule_registry_add_dir(joule_registry *reg, const char *dir);

/* Probe and load the plugins of one shared object now. Returns 0 or
 * JOULE_E_PLUGIN (the reasons are recorded as failures). */
int joule_registry_add_file(joule_registry *reg, const char *path);

/* Listing loads every object that probed clean; a lookup by name loads
 * only the one object that provides the name. Lookups change the registry
 * (a const one too, as a cache): do not use one registry from several
 * threads at once. */
size_t joule_registry_count(const joule_registry *reg);
const joule_plugin_info *joule_registry_get(const joule_registry *reg, size_t i);
const joule_plugin_info *joule_registry_find(const joule_registry *reg,
                                             const char *name);

/* Objects that failed to load: their path and the reason. */
size_t joule_registry_failure_count(const joule_registry *reg);
const char *joule_registry_failure(const joule_registry *reg, size_t i,
                                   const char **path);

/* ------------------------------------------------------------------------ */
/* Graphs                                                                    */

typedef struct joule_graph joule_graph;

/* Load and fully validate a graph file. `sets` are command-line overrides
 * "node.key=value", applied before validation. On success returns 0 and
 * stores the graph in *out. On failure returns JOULE_E_GRAPH (or
 * JOULE_E_IO when the file cannot be read) and stores in *errors a
 * malloc'd text of one or more lines, each "FILE:LINE: message" (free it);
 * nothing has run. `reg` must outlive the graph. */
int joule_graph_load(const char *path, const joule_registry *reg,
                     const char *const *sets, size_t n_sets,
                     joule_graph **out, char **errors);
void joule_graph_free(joule_graph *g);

/* The graph's settings, from its [graph] section. */
size_t joule_graph_node_count(const joule_graph *g);
const char *joule_graph_node_name(const joule_graph *g, size_t i);
int joule_graph_threads(const joule_graph *g);       /* 0 = one per core */
size_t joule_graph_chunk_rows(const joule_graph *g); /* `chunk`          */
size_t joule_graph_memory(const joule_graph *g);     /* pool budget, bytes */

/* ------------------------------------------------------------------------ */
/* Running                                                                   */

typedef struct joule_report joule_report;

/* Options for joule_run. Zero-initialise, set struct_size, then set what
 * you need. */
typedef struct joule_run_options {
    size_t struct_size;   /* sizeof (joule_run_options)                      */
    const char *out_dir;  /* where relative output paths go; NULL = "."      */
    int threads;          /* worker threads; 0 = the graph's `threads`      */
    size_t chunk_rows;    /* override the graph's `chunk`; 0 = keep          */
    size_t memory;        /* override the graph's `memory`; 0 = keep         */
    int verbose;          /* log plugin info messages too                    */
    int progress;         /* 1: a progress line on stderr; 0: none           */
    /* Called once per failed input, from any thread, one call at a time,
     * with a one-line message "FILE: node 'x' (plugin 1.0.0): reason".
     * NULL: print it on stderr. */
    void (*on_error)(void *user, const char *message);
    void *user;
    /* Appended in 0.2. Other files the caller will write once the run is
     * over (a report): checked before anything is read, like the sinks'
     * outputs, against every input and output of the run. */
    const char *const *extra_outputs;
    size_t n_extra_outputs;
    /* Appended in 0.2. Run the jobs in a worker process watched by this
     * one, so that a plugin that crashes, aborts, calls exit() or hangs
     * fails only the inputs in flight: they are reported ("FILE: node 'x'
     * (plugin 1.0.0): crashed with SIGSEGV in process"), their temporary
     * files removed, and a new worker takes the inputs not yet done. The
     * caller must not have other threads running (joule_run forks), and
     * on_error is then called from the calling thread. 0: in process, where
     * a crash is the caller's. */
    int isolate;
    /* Appended in 0.2. Seconds one input may take (0: the graph's
     * `timeout`, which is none by default). A job past it fails; with
     * isolate, a plugin stuck inside a call is stopped by ending its
     * worker. */
    double timeout;
    /* Appended in 0.2. The stage cache (on unless the graph's [cache] says
     * enabled = false): no_cache 1 turns it off for this run; cache_dir
     * overrides the graph's `dir` and $JOULE_CACHE_DIR; refresh 1
     * recomputes every cached node and overwrites its entry. */
    int no_cache;
    const char *cache_dir;
    int refresh;
    /* Appended in 0.2. Report, per input and node, why the node runs, is
     * replayed or skipped (through on_error, or on stderr), prefixed
     * "explain: ". */
    int explain;
} joule_run_options;

/* Run the graph once per input file (a job per file; jobs and the nodes
 * within a job run concurrently). Returns 0 when every job succeeded,
 * JOULE_E_INPUT when at least one failed (the others still complete, and a
 * failed job leaves no output file), JOULE_E_INTERRUPTED after
 * joule_interrupt(), JOULE_E_USAGE when an output is refused before
 * anything is read: one that is an input, two outputs that are one file,
 * an existing output that is not a regular file or is a symbolic link.
 * A job's outputs appear together, only when the whole job succeeded. When `report` is not NULL it receives the run's
 * statistics (free with joule_report_free). */
int joule_run(const joule_graph *g, const char *const *files, size_t n_files,
              const joule_run_options *opt, joule_report **report);

/* ------------------------------------------------------------------------ */
/* The stage cache's folder                                                  */

/* `dir` NULL: the default folder, as joule_run finds it ($JOULE_CACHE_DIR,
 * $XDG_CACHE_HOME/joule, ~/.cache/joule). Each function returns 0 and the
 * folder it used in *dir_used (malloc'd; may be NULL), or -1 with a
 * malloc'd reason in *why. */
typedef struct joule_cache_usage {
    uint64_t entries, bytes;
    uint64_t expired;   /* past the default TTL (7 days), not yet removed */
    double oldest_s;    /* since the least recently used entry was used */
} joule_cache_usage;

int joule_cache_usage_get(const char *dir, joule_cache_usage *u, char **dir_used, char **why);
/* Remove expired entries (the default TTL), those unused for `older_than`
 * seconds (0: no such limit), and temporaries of dead writers. */
int joule_cache_prune(const char *dir, double older_than, uint64_t *removed, uint64_t *freed, char **dir_used,
                      char **why);
int joule_cache_clear(const char *dir, uint64_t *removed, uint64_t *freed, char **dir_used, char **why);

/* Ask running joule_run calls to stop as soon as possible: jobs in flight
 * are abandoned without output. Async-signal-safe (call it from SIGINT). */
void joule_interrupt(void);

/* ------------------------------------------------------------------------ */
/* Run statistics                                                            */

/* Write the report as a human-readable table (stderr style) or as JSON (the
 * schema is in doc/report.md). Return 0 or JOULE_E_IO. */
int joule_report_print(const joule_report *r, void *file /* FILE * */);
int joule_report_write_json(const joule_report *r, const char *path);
void joule_report_free(joule_report *r);

#ifdef __cplusplus
}
#endif

#endif /* JOULE_JOULE_H */
