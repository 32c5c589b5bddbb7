/*
 * joule/plugin.h — the joule plugin ABI.
 *
 * This is the only header a joule plugin needs. It depends on <stdint.h> and
 * <stddef.h> alone and compiles as C99, C11 and C++.
 *
 * A plugin is a shared object that exports one function, joule_plugin_entry
 * (see the end of this file). The host calls it with its ABI version and an
 * index 0, 1, 2 ... and gets a descriptor per plugin in the object, until it
 * returns NULL. A descriptor is plain data (name, parameters, ports) plus the
 * lifecycle calls:
 *
 *     open  ->  process (any number of times)  ->  finish  ->  [commit]  ->  close
 *
 * One instance is opened per node and per input file (a "job"). The host
 * never calls one instance from two threads at once, but different
 * instances of the same plugin run concurrently: keep state in the instance,
 * never in globals (use joule_host.lock for process-wide resources such as a
 * non-thread-safe library call).
 *
 * Data moves in buffers of rows. A row holds one float per column; a buffer
 * is rows × columns of float, row-major. Every plugin's output must depend
 * only on its input rows and parameters, never on how the rows were split
 * into buffers or on the order in which buffers of different input ports
 * arrive: the host checks this (same bytes for any chunk size and thread
 * count), and it is what makes caching and parallel runs safe.
 *
 * Binary compatibility: structs carry a struct_size (or are read only up to
 * the size the other side declares); new fields are appended only, each
 * marked with the ABI version that added it. JOULE_ABI_VERSION changes only
 * when an existing field changes meaning, and the host refuses descriptors
 * whose abi_version differs from its own.
 */
#ifndef JOULE_PLUGIN_H
#define JOULE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define JOULE_ABI_VERSION 1u

/* Marks the one symbol a plugin exports. Build plugins with
 * -fvisibility=hidden so that nothing else leaks. */
#if defined(_WIN32)
#define JOULE_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define JOULE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define JOULE_PLUGIN_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */

/* Returned by process and finish. Negative values are failures; new codes
 * may be added, and a host treats any unknown negative value as
 * JOULE_ERROR. */
#define JOULE_OK 0     /* done with this call; more calls may follow */
#define JOULE_END 1    /* source: no more rows; finish: nothing more to emit */
#define JOULE_MORE 2   /* process: the input is consumed but more output is
                          pending; call again (with zero input rows) once
                          the output has been taken                        */
#define JOULE_ERROR -1 /* failure: the message was set with host->error */

/* ------------------------------------------------------------------------ */
/* Streams                                                                   */

/* The kind of a stream. As port declarations they are also bit masks:
 * an input port may accept several kinds (JOULE_SIGNAL | JOULE_FRAMES). */
#define JOULE_SIGNAL 1u /* dense samples at a sample rate; columns = channels */
#define JOULE_FRAMES 2u /* one row per analysis frame, at a frame rate     */
#define JOULE_EVENTS 4u /* sparse rows, each with its own time              */

/* The format of one stream: negotiated once, at open.
 *
 * Row i (counted from 0 at the start of the stream) of a signal or frames
 * stream lies at time t0 + i / rate seconds; an events row carries its own
 * time (joule_buffer.times). For frames, the time of a frame is the start of
 * the samples it covers: frame k of hop h covers samples [k·h, k·h + frame).
 *
 * Ownership: in the formats the host passes to open, every pointer is the
 * host's and stays valid until close. In the formats the plugin fills in
 * open, every pointer is the plugin's and must stay valid until close; the
 * host reads them, it never frees them. */
typedef struct joule_format {
    uint32_t kind;              /* JOULE_SIGNAL, JOULE_FRAMES or JOULE_EVENTS */
    uint32_t n_columns;         /* number of columns; at least 1             */
    double rate;                /* rows per second (signal, frames); for
                                   events, the rate of the time base they
                                   were found in, or 0 if none              */
    double t0;                  /* time of row 0 in seconds, usually 0       */
    const char *const *names;   /* n_columns column names, e.g. "rms_ch0":
                                   [A-Za-z0-9_.-], unique within the stream */
    const char *const *units;   /* n_columns units ("", "dBFS", "Hz", "m/s^2"),
                                   or NULL when no column has a unit        */
    uint64_t length;            /* total rows if known in advance (a source
                                   reading a file header), else 0; used only
                                   for progress reports                      */
    /* The most rows one process call emits on this (output) stream, as a
     * multiple of the rows it was given: at most
     *     ceil(n_in · out_num / out_den)
     * rows for a call with n_in input rows (of whichever input port). The
     * host sizes the output buffers it passes in from this, so a plugin can
     * always write its whole output; it need not check capacity. 0/0 means
     * 1/1 (at most one row out per row in); 0/1 means process never emits
     * on this stream (only finish does). A plugin whose output is not
     * bounded by its input returns JOULE_MORE when it has more to say.
     * Ignored for inputs, for sources (they fill the capacity they are
     * given) and for finish. */
    uint32_t out_num;
    uint32_t out_den;
    uint32_t flags;             /* JOULE_FORMAT_IN_PLACE, ...                */
} joule_format;

/* Format flags (outputs). */
#define JOULE_FORMAT_IN_PLACE 1u /* one row out per row in, same kind and
                                    columns as input 0, each out row
                                    computed from the same in row only (a
                                    gain, a filter, a pass-through). The
                                    host may then pass out->data ==
                                    in->data (and times) and hand the very
                                    chunk on downstream, without a copy;
                                    process must work whether or not they
                                    alias. Only for plugins of one input
                                    and one output.                       */

/* A run of consecutive rows of one stream. For inputs it is read-only and
 * belongs to the host, valid only during the call that receives it: copy
 * what you need to keep. For outputs it is host memory lent for the call:
 * write rows 0 .. capacity-1 and set n_rows. */
typedef struct joule_buffer {
    uint64_t first_row; /* index in the stream of row 0 of this buffer      */
    uint32_t n_rows;    /* rows present (input) or written (output)         */
    uint32_t capacity;  /* output: rows that fit; input: equal to n_rows     */
    uint32_t n_columns; /* floats per row (the row stride)                   */
    uint32_t reserved;  /* zero                                              */
    float *data;        /* n_rows × n_columns floats, row-major             */
    double *times;      /* events only: time of each row in seconds,
                           nondecreasing within the stream; NULL otherwise  */
} joule_buffer;

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */

#define JOULE_PARAM_INT 1u    /* 64-bit integer: value.i                      */
#define JOULE_PARAM_FLOAT 2u  /* double: value.f                              */
#define JOULE_PARAM_BOOL 3u   /* true/false, yes/no, on/off, 1/0: value.b      */
#define JOULE_PARAM_STRING 4u /* text: value.s                                */
#define JOULE_PARAM_ENUM 5u   /* one of `choices`: value.e (index), value.s   */

/* Parameter flags. */
#define JOULE_PARAM_HAS_MIN 1u   /* int, float: `min` is the inclusive minimum */
#define JOULE_PARAM_HAS_MAX 2u   /* int, float: `max` is the inclusive maximum */
#define JOULE_PARAM_REQUIRED 4u  /* no default: the graph must set it          */
#define JOULE_PARAM_OUT_PATH 8u  /* string: an output file path template; the
                                    host expands {stem} {name} {dir} {node}
                                    and places it in the output folder        */
#define JOULE_PARAM_NO_KEY 16u   /* (ABI 1, since 0.2) the value does not
                                    change the output, only how it is computed
                                    (a plan cache's file, a thread hint): it
                                    is left out of the stage cache's keys, so
                                    changing it reuses cached results. Hosts
                                    older than 0.2 ignore the flag.           */

/* One declared parameter. Its name is the key used in graph files and on the
 * command line (--set node.name=value): it must never change between
 * versions of a plugin. The host parses and validates every value against
 * this declaration before anything runs, so open receives only values that
 * are well-formed and in range. */
typedef struct joule_param {
    const char *name;            /* identifier, [a-z0-9_]                    */
    uint32_t type;               /* JOULE_PARAM_INT ... JOULE_PARAM_ENUM     */
    uint32_t flags;              /* JOULE_PARAM_HAS_MIN | ...                */
    const char *def;             /* default, written as in a graph file
                                    ("1024", "hann", "true"); NULL when
                                    JOULE_PARAM_REQUIRED                     */
    double min, max;             /* range, per flags                         */
    const char *const *choices;  /* enum: NULL-terminated list of choices    */
    const char *unit;            /* "samples", "Hz", "s", "" ...             */
    const char *help;            /* one or two sentences for `joule inspect` */
} joule_param;

/* A parameter value as open receives it, after parsing and validation.
 * Strings belong to the host and stay valid until close. */
typedef struct joule_value {
    int64_t i;     /* JOULE_PARAM_INT                                    */
    double f;      /* JOULE_PARAM_FLOAT (also set for INT, as a double)  */
    int b;         /* JOULE_PARAM_BOOL: 0 or 1                            */
    uint32_t e;    /* JOULE_PARAM_ENUM: index into choices                */
    const char *s; /* STRING, ENUM: the text (an OUT_PATH already
                      expanded); for other types the text as written   */
} joule_value;

/* ------------------------------------------------------------------------ */
/* Ports                                                                     */

/* One input or output port. Graphs connect outputs to inputs; the host
 * refuses, before running anything, a connection whose kinds do not meet. */
typedef struct joule_port {
    const char *name;  /* identifier: "in", "out", "steps", "summary"        */
    uint32_t kinds;    /* inputs: kinds accepted (mask); outputs: the kind
                          produced (exactly one bit)                        */
    uint32_t flags;    /* JOULE_PORT_OPTIONAL, ...                           */
    const char *help;
} joule_port;

/* Port flags. */
#define JOULE_PORT_OPTIONAL 1u /* input: the graph may leave it unconnected;
                                  open sees kind 0 in its format            */

/* ------------------------------------------------------------------------ */
/* Host services                                                             */

#define JOULE_LOG_ERROR 0
#define JOULE_LOG_WARN 1
#define JOULE_LOG_INFO 2
#define JOULE_LOG_DEBUG 3

/* What the host lends a plugin instance. The table and everything it points
 * to belong to the host and stay valid until close returns. All functions
 * may be called from open, process, finish and commit; they are safe to call
 * from the thread that runs the instance. */
typedef struct joule_host joule_host;
struct joule_host {
    uint32_t abi_version; /* the host's JOULE_ABI_VERSION                   */
    uint32_t struct_size; /* sizeof (joule_host) in the host: a plugin built
                             against a newer header must not use fields past
                             it                                             */

    /* Write a message to the host's log, tagged with the node. */
    void (*log)(const joule_host *host, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* Set the error message for the failure the plugin is about to return
     * (one line, no trailing newline, no node name: the host adds the
     * input file, node and plugin). The last call before the failing
     * return wins. */
    void (*error)(const joule_host *host, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

    /* Take and release a process-wide lock named by `name` (any string; one
     * lock per distinct name, shared by every plugin in the process). For
     * libraries whose calls are not thread-safe, such as FFTW's planner.
     * Calls do not nest for the same name. */
    void (*lock)(const joule_host *host, const char *name);
    void (*unlock)(const joule_host *host, const char *name);

    void *host_data; /* the host's own; plugins must not touch it */

    /* Appended in joule 0.2 (ABI 1): present when struct_size >
     * offsetof(joule_host, open_output).
     *
     * Create the file named by one of the instance's output-path parameters
     * (JOULE_PARAM_OUT_PATH: pass its value, args->params[k].s, as it is)
     * and return a descriptor open for writing, which the plugin owns:
     * write through it (fdopen, sf_open_fd ...) and close it in finish. The
     * descriptor is a temporary file beside the target, created afresh;
     * the host puts it in place only when the whole job has succeeded,
     * together with the job's other outputs (all of them or none), and
     * removes it otherwise. The path "-" gives standard output. On failure
     * returns -1 with the message already set (as host->error): return
     * JOULE_ERROR. Sinks should write every file this way; a plugin that
     * writes files itself gets none of these guarantees. Call from open. */
    int (*open_output)(const joule_host *host, const char *path);
};

/* ------------------------------------------------------------------------ */
/* Open arguments                                                            */

/* Everything open needs to know. Belongs to the host; every pointer stays
 * valid until close returns. */
typedef struct joule_open_args {
    uint32_t struct_size;        /* sizeof (joule_open_args) in the host     */
    const joule_host *host;      /* services for this instance               */
    const char *node;            /* the node's name in the graph              */
    const char *input_path;      /* the job's input file (what sources read) */
    const joule_value *params;   /* one per declared parameter, in order     */
    const joule_format *inputs;  /* one per declared input port, in order;
                                    kind 0 for an unconnected optional port  */
    joule_format *outputs;       /* one per declared output port, zeroed by
                                    the host: open MUST fill every one       */

    /* Appended in 0.5 (ABI 1): present when struct_size >
     * offsetof(joule_open_args, descriptor). The descriptor being opened:
     * for an object whose descriptors share one open function (a bridge to
     * another plugin format builds one descriptor per foreign plugin) and
     * must tell which plugin is meant. */
    const struct joule_descriptor *descriptor;
} joule_open_args;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                            */

#define JOULE_ROLE_SOURCE 1u /* no inputs; reads the job's input file       */
#define JOULE_ROLE_FILTER 2u /* inputs and outputs                          */
#define JOULE_ROLE_SINK 3u   /* inputs only; writes files                   */

/* What a sink's gather receives (see joule_descriptor.gather). Belongs to
 * the host; valid during the call. */
typedef struct joule_gather_args joule_gather_args;
struct joule_gather_args {
    uint32_t struct_size;        /* sizeof (joule_gather_args) in the host   */
    const joule_host *host;      /* log, error, lock; open_output fails     */
    const char *node;            /* the node's name in the graph              */
    const joule_value *params;   /* the node's parameters, as open gets them;
                                    the gathered path parameter holds the
                                    table's path                            */
    uint32_t param;              /* which output-path parameter this is       */
    uint32_t n_parts;            /* inputs that succeeded, at least one      */
    const char *const *labels;   /* each part's input as given on the
                                    command line, in command-line order      */
    /* Open part i (0 .. n_parts-1), the file the sink wrote for input
     * labels[i]: a descriptor open for reading at its start, which gather
     * closes. Open parts one or two at a time, not all at once: a run may
     * have more inputs than the process has descriptors. Returns -1 with
     * the message set (as host->error) when it cannot be opened, or when
     * the run was interrupted: gather then returns JOULE_ERROR. */
    int (*open_part)(const joule_gather_args *args, uint32_t i);
    int out;                     /* write the whole table here; the host
                                    syncs it, puts it in place and closes it */
    void *host_data;             /* the host's own                           */
};

typedef struct joule_descriptor joule_descriptor;
struct joule_descriptor {
    uint32_t abi_version;  /* JOULE_ABI_VERSION the plugin was built with:
                              first field, never moves                     */
    uint32_t struct_size;  /* sizeof (joule_descriptor) in the plugin      */

    const char *name;      /* unique plugin name, [a-z0-9_], what graphs
                              write after `plugin =`                        */
    const char *version;   /* "1.2.0"                                       */
    const char *summary;   /* one line for `joule plugins`                  */
    uint32_t role;         /* JOULE_ROLE_*                                  */

    uint32_t n_params;
    const joule_param *params;
    uint32_t n_inputs;
    const joule_port *inputs;
    uint32_t n_outputs;
    const joule_port *outputs;

    /* Create an instance for one node of one job. Read the parameters and
     * input formats, fill args->outputs, allocate everything the instance
     * will need (nothing should be allocated per buffer later), open files.
     * On success store the instance in *self and return JOULE_OK; on
     * failure call host->error and return JOULE_ERROR (close is then called
     * with whatever *self holds, possibly NULL).
     * `args` stays valid until close: keep the pointer if useful. */
    int (*open)(const joule_open_args *args, void **self);

    /* Consume rows.
     *   Sources: `in` is NULL; write up to out[p].capacity rows to each
     *   output and set out[p].n_rows; return JOULE_END once the input is
     *   exhausted (rows written in the same call still count).
     *   Filters and sinks: `in` holds rows of input port `port`; consume
     *   all of them, write at most the declared bound (joule_format.out_num
     *   /out_den) to each output. Rows of one port arrive in order and
     *   exactly once; ports interleave in no particular order. `in` may have
     *   zero rows. Return JOULE_OK; or JOULE_MORE when output is pending that
     *   did not fit (the host calls again with zero input rows on the same
     *   port and fresh output buffers); or JOULE_ERROR after host->error.
     * `out` has one buffer per output port, with n_rows = 0 on entry and
     * first_row set; it is NULL for sinks. No allocation, no blocking I/O
     * other than the plugin's own files, bounded time. */
    int (*process)(void *self, uint32_t port, const joule_buffer *in,
                   joule_buffer *out);

    /* End of every input: emit whatever remains (the last frames, a summary
     * row) into `out` as in process, with at least one row of capacity per
     * output. Return JOULE_END when done, JOULE_OK to be called again with
     * fresh buffers (to emit more than fits), JOULE_ERROR on failure. Sinks
     * flush and close their files here. May be NULL: nothing to emit. */
    int (*finish)(void *self, joule_buffer *out);

    /* The whole job succeeded: make outputs visible. Called after every
     * node's finish returned, and only then; a failed or interrupted job
     * goes straight to close, which must then remove whatever it wrote.
     * Files made with host->open_output need nothing here: the host places
     * them after close. May be NULL. */
    int (*commit)(void *self);

    /* Release the instance. Always called once after open, whatever
     * happened; must accept NULL. */
    void (*close)(void *self);

    /* Check relations between parameter values that the declarations
     * cannot express (hop <= frame, size >= frame, a list that must parse).
     * Called while the graph is validated, before any input is read, with
     * values already checked one by one. Return 0 if they are fine;
     * otherwise write a one-line reason (no node name) into `msg`, at most
     * msg_size bytes, and return nonzero. May be NULL. */
    int (*check)(const joule_value *params, char *msg, size_t msg_size);

    /* Appended in 0.2 (ABI 1). The ABI grows by fields appended here, read
     * only when struct_size covers them, rather than by an extension query:
     * what a host needs to know of a plugin is a few static facts, and
     * fields are checked by the compiler, listed by `joule inspect` and
     * cost a plugin nothing to leave zero. A plugin built against an older
     * header has a smaller struct_size and reads as flags = 0. */
    uint32_t flags;        /* JOULE_DESC_*                                  */

    /* Appended in 0.3 (ABI 1). Sinks only; may be NULL. A sink that can
     * gather writes one table for a whole run: when an output-path
     * parameter's value names no per-input part ({stem}, {name}, {dir}),
     * each input's instance runs as usual but writes to a part of its own
     * (host->open_output gives a temporary the host keeps), and once
     * every input is done the host calls gather, once per such parameter,
     * with the parts of the inputs that succeeded. gather writes the
     * table: one header, then each part's rows, each marked with its
     * input (a leading `file` column in a CSV). The host then puts the
     * table in place and removes the parts. Without gather, a path that
     * names no per-input part is refused for more than one input (it
     * would be written twice). Return JOULE_OK, or JOULE_ERROR after
     * host->error. */
    int (*gather)(const joule_gather_args *args);

    /* Appended in 0.4 (ABI 1): who made the plugin, under what terms,
     * what it does at length, and where to read more — shown by `joule
     * inspect`, required in part by `joule plugin-test` (maker and
     * license) before a plugin is published. Each may be NULL (not
     * given). UTF-8 text without control characters; description may hold
     * newlines (paragraphs separated by a blank line) and tabs. */
    const char *maker;       /* a person or organisation, optionally with
                                "<email>": "Ada Lovelace <ada@example.org>" */
    const char *license;     /* an SPDX licence expression: "MIT",
                                "GPL-2.0-or-later", "LGPL-2.1-only OR MIT" */
    const char *description; /* what it computes and how: the method, the
                                standard it follows, references            */
    const char *homepage;    /* "https://..." where it is documented        */
};

/* Does descriptor d (a plugin built against this header or an older one)
 * have field `field`? The host reads a field appended after ABI 1's first
 * release only when this holds:
 *     const char *who = JOULE_DESC_HAS(d, maker) ? d->maker : NULL; */
#define JOULE_DESC_HAS(d, field) \
    ((d)->struct_size >= offsetof(joule_descriptor, field) + sizeof((d)->field))

/* Descriptor flags. */
#define JOULE_DESC_IMPURE 1u /* the output is not a function of the inputs
                                and parameters alone (it reads the clock, a
                                device, a file that changes, a random seed it
                                does not take as a parameter): the host never
                                caches it, nor anything computed from it     */
#define JOULE_DESC_ALLOCATES 2u /* (since 0.4) process allocates memory: what
                                   it keeps grows with the input (a
                                   whole-file measurement built on a library
                                   that allocates as it goes). process
                                   should not allocate; a plugin that must
                                   says so here, and `joule plugin-test`
                                   then reports its allocations instead of
                                   failing it.                              */

/* The one exported entry point. Returns the index-th descriptor of this
 * object (0, 1, ...), or NULL past the last one. `host_abi_version` is the
 * host's JOULE_ABI_VERSION: a plugin that cannot serve it may return NULL.
 * Descriptors are static data: the host never frees them. */
typedef const joule_descriptor *(*joule_entry_fn)(uint32_t host_abi_version,
                                                  uint32_t index);

#define JOULE_ENTRY_SYMBOL "joule_plugin_entry"

/* Optional: an object that offers plugins of another format (a bridge,
 * whose descriptors are made at load time from the plugins it finds)
 * exports this symbol as well, a string saying where it looks:
 *     JOULE_PLUGIN_EXPORT const char joule_plugin_bridge[] =
 *         "Vamp plugins on VAMP_PATH";
 * Its entry point may then return NULL for index 0 (nothing found) without
 * the host taking the object for a broken one. */
#define JOULE_BRIDGE_SYMBOL "joule_plugin_bridge"

JOULE_PLUGIN_EXPORT const joule_descriptor *
joule_plugin_entry(uint32_t host_abi_version, uint32_t index);

#ifdef __cplusplus
}
#endif

#endif /* JOULE_PLUGIN_H */
