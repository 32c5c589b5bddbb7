/*
 * joule/harness.h — run one plugin instance from memory: for unit tests of
 * plugins, and for `joule plugin-test`.
 *
 * The harness is a host with no graph and no files of its own: you give it
 * a plugin, parameters as text, the formats of its inputs and rows from
 * memory; it calls open, process, finish, commit and close exactly as
 * `joule run` would, and keeps every row the plugin emits.
 *
 *     joule_harness *h;
 *     char *err;
 *     if (joule_harness_load("./zcr.so", &h, &err) != 0) {  // or a name
 *         fprintf(stderr, "%s\n", err);
 *         free(err);
 *         return 1;
 *     }
 *     joule_harness_set(h, "frame", "800");
 *     const char *ch[] = {"ch0"};
 *     joule_format in = {JOULE_SIGNAL, 1, 8000.0, 0.0, ch};
 *     joule_harness_set_input(h, 0, &in);
 *     if (joule_harness_open(h) != 0            // parameters checked here
 *         || joule_harness_feed(h, 0, samples, NULL, n) != 0
 *         || joule_harness_finish(h) != 0 || joule_harness_commit(h) != 0)
 *         fprintf(stderr, "%s\n", joule_harness_error(h));
 *     size_t rows;
 *     const float *zcr = joule_harness_rows(h, 0, &rows);
 *     joule_harness_free(h);                       // closes the instance
 *
 * What it holds the plugin to, as a host does (each breach makes the call
 * fail with a message saying what happened):
 *   - every parameter is parsed and range-checked as in a graph file, and
 *     the plugin's own check() is called, before open;
 *   - output formats: kind of the port, columns, names in the ABI's
 *     character set and unique, a rate for frames and signals;
 *   - output buffers are offered with exactly the capacity the plugin
 *     declared (out_num/out_den), never more, with guard values behind
 *     them: writing past the end or reporting more rows than the capacity
 *     is caught;
 *   - event times do not decrease; JOULE_MORE makes progress.
 *
 * Input is cut into chunks of the sizes set with joule_harness_set_chunks
 * (4096 rows by default), so a test can check that the output does not
 * depend on how the input was split. Outputs of sinks (host->open_output)
 * are temporary files put in place by commit, as joule run does, in the
 * folder set with joule_harness_set_output_dir (by default one the harness
 * makes and removes).
 *
 * Errors: functions return 0 or a JOULE_E_* code (<joule/joule.h>); after a
 * failure joule_harness_error() says why, in one line. A harness is used
 * from one thread at a time; separate harnesses may run on separate
 * threads, with instances of the same plugin, at the same time.
 */
#ifndef JOULE_HARNESS_H
#define JOULE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <joule/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct joule_harness joule_harness;

/* A harness for a descriptor the caller already has (a plugin compiled
 * into the test program, say). The descriptor is checked as the registry
 * checks a loaded one. Returns 0 and the harness in *out, or JOULE_E_PLUGIN
 * with a malloc'd reason in *error (free it; error may be NULL). */
int joule_harness_new(const joule_descriptor *desc, joule_harness **out, char **error);

/* A harness for a plugin found by name on the plugin path
 * ($JOULE_PLUGIN_PATH, then the installed plugin folder), or, when
 * `plugin` contains a '/', for the shared object at that path: its only
 * plugin, or the one named after a colon ("./multi.so:second"). The object
 * is probed in a child process first, as `joule run` does. Returns 0, or
 * JOULE_E_PLUGIN with a malloc'd reason in *error. */
int joule_harness_load(const char *plugin, joule_harness **out, char **error);

/* The descriptor being run. */
const joule_descriptor *joule_harness_descriptor(const joule_harness *h);

/* Closes the instance if it is open (a job that never committed: its
 * output files are removed), then frees everything. Accepts NULL. */
void joule_harness_free(joule_harness *h);

/* The reason for the last failure, one line; "" if none. Valid until the
 * next call on h. */
const char *joule_harness_error(const joule_harness *h);

/* ---- before open ------------------------------------------------------- */

/* Set parameter `name` from its text, as written in a graph file. Checked
 * at once: JOULE_E_USAGE for an unknown name or a value that does not
 * parse or is out of range. Unset parameters take their defaults. */
int joule_harness_set(joule_harness *h, const char *name, const char *text);

/* The format of input port `port` (copied: names and units too; flags and
 * bound as given, as joule run passes an upstream output's format on). A
 * port left unset is unconnected: allowed only for an optional port. */
int joule_harness_set_input(joule_harness *h, uint32_t port, const joule_format *format);

/* The path sources read, and that {stem}, {name}, {dir} in output paths
 * refer to. Default "input.wav". */
int joule_harness_set_input_path(joule_harness *h, const char *path);

/* The node's name (what the host's messages and {node} use). Default
 * "node". */
int joule_harness_set_node(joule_harness *h, const char *name);

/* Where relative output paths are placed. Default: a fresh folder under
 * $TMPDIR, removed by joule_harness_free. */
int joule_harness_set_output_dir(joule_harness *h, const char *dir);
const char *joule_harness_output_dir(const joule_harness *h);

/* Cut input into chunks of these sizes in turn (sizes[0], sizes[1], ...,
 * then from the start again); each size at least 1 row. A source is asked
 * for the same sizes, and finish given room for them. Default: one size,
 * 4096. The array is copied. This and joule_harness_set_in_place may also
 * be called between feeds (the cycle then starts again from sizes[0]). */
int joule_harness_set_chunks(joule_harness *h, const uint32_t *sizes, size_t n);

/* When the plugin declares JOULE_FORMAT_IN_PLACE, 1 passes each chunk's
 * own memory as the output buffer (as the host may); 0 (the default)
 * passes separate memory. */
int joule_harness_set_in_place(joule_harness *h, int in_place);

/* Messages the plugin logs (host->log). Default: errors and warnings on
 * stderr, prefixed with the node's name; NULL discards them all. */
typedef void (*joule_harness_log_fn)(void *user, int level, const char *message);
int joule_harness_set_log(joule_harness *h, joule_harness_log_fn fn, void *user);

/* Called just before and just after every call into the plugin (open,
 * process, finish, commit, close), on the calling thread: to time calls,
 * or to watch what the plugin does inside them (its allocations, say).
 * `call` is "open", "process", "finish", "commit" or "close". */
typedef void (*joule_harness_hook_fn)(void *user, const char *call);
int joule_harness_set_hooks(joule_harness *h, joule_harness_hook_fn before,
                            joule_harness_hook_fn after, void *user);

/* ---- running ------------------------------------------------------------ */

/* Validate the parameters (each one, then the plugin's check()), call
 * open, and check the output formats it filled. JOULE_E_USAGE for
 * parameters or inputs the plugin refuses to be given (a required
 * parameter unset, an unconnected port that is not optional, a kind the
 * port does not accept), JOULE_E_PLUGIN when the plugin fails or breaks
 * the ABI. */
int joule_harness_open(joule_harness *h);

/* Once open: the format the plugin declared for output `port`. */
const joule_format *joule_harness_output_format(const joule_harness *h, uint32_t port);

/* Feed n_rows rows of input port `port` (rows × the port's columns floats,
 * row-major; for events, `times` holds each row's time), in chunks of the
 * chunk sizes, collecting all output. Zero rows makes one call with an
 * empty buffer. JOULE_E_PLUGIN when the plugin fails (its message in
 * joule_harness_error) or breaks the protocol. */
int joule_harness_feed(joule_harness *h, uint32_t port, const float *rows,
                       const double *times, size_t n_rows);

/* For a source: call process until it returns JOULE_END, collecting all
 * output (chunk sizes as the capacity of each call). */
int joule_harness_pull(joule_harness *h);

/* Call finish until it returns JOULE_END (any input still to come is taken
 * to have ended). Allowed after process failed too (joule run does not
 * do that, but a plugin must survive it): the job still counts as failed,
 * and commit is refused. */
int joule_harness_finish(joule_harness *h);

/* The job succeeded: call commit, and put output files in place. */
int joule_harness_commit(joule_harness *h);

/* Call close now (joule_harness_free does it otherwise). Without a commit
 * before it, output files are removed, as for a failed job. */
void joule_harness_close(joule_harness *h);

/* ---- what came out ------------------------------------------------------ */

/* Every row emitted on output `port` so far, and how many (*n_rows).
 * NULL when none. Valid until the next call that runs the plugin. */
const float *joule_harness_rows(const joule_harness *h, uint32_t port, size_t *n_rows);

/* Events outputs: each row's time. NULL for other kinds. */
const double *joule_harness_times(const joule_harness *h, uint32_t port);

/* Forget the rows collected so far (to keep memory bounded over a long
 * feed). */
void joule_harness_clear(joule_harness *h, uint32_t port);

/* Where output files went, in the order the plugin created them: the
 * path (under the output folder) of file i, or NULL past the last. Files
 * exist only after joule_harness_commit. */
const char *joule_harness_output_file(const joule_harness *h, size_t i);

/* Calls into the plugin so far, and their time. */
typedef struct joule_harness_stats {
    uint64_t process_calls;   /* process and finish calls                 */
    double process_seconds;   /* their total wall time                    */
    double process_max;       /* the longest one, seconds                 */
    uint64_t rows_in, rows_out;
} joule_harness_stats;
void joule_harness_get_stats(const joule_harness *h, joule_harness_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* JOULE_HARNESS_H */
