/* stats.c — a joule plugin template: a sink that writes one file per input.
 *
 * Any stream in (a signal, frames, events); at the end of each input, a
 * small text table with one line per column: how many values, their
 * minimum, maximum and mean. Copy this file when your plugin's result is a
 * file — a report, a table, an image.
 *
 * What it shows, beyond the filters (../filter/zcr.c, ../detector/onset.c):
 *   - an output-path parameter (JOULE_PARAM_OUT_PATH): the host expands
 *     {stem}, {name}, {dir} and {node}, places the file in the output
 *     folder (`joule run -o DIR`) and checks, before anything runs, that
 *     it is not an input, another output, a device or a symbolic link;
 *   - the file made by the host, host->open_output, through the helpers
 *     of <joule/plugin-util.h> (jp_outfile_*): a temporary beside the
 *     target that the host puts in place only when the whole job has
 *     succeeded, so a failed or interrupted run never leaves half a file,
 *     nor clobbers a good older one;
 *   - a sink's process, which has no outputs (out is NULL), and its
 *     finish, which writes and closes the file.
 *
 * Build it against the installed joule (see the Makefile):
 *     cc -std=c99 -O2 -fPIC -shared -fvisibility=hidden \
 *        $(pkg-config --cflags joule-plugin) stats.c -o stats.so
 * and check it with `joule plugin-test ./stats.so`.
 */

/* plugin-util.h needs POSIX.1-2008 (fdopen, fileno): ask for it before
 * the first system header, since we build with -std=c99. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <joule/plugin-util.h> /* includes <joule/plugin.h> */

#include <math.h>

/* The one parameter: where the table goes. JOULE_PARAM_OUT_PATH tells the
 * host it is a file this plugin writes; the default names one file per
 * input ("music.wav" -> "music.stats.txt"). Users may set any template, or
 * "-" for standard output. A value naming no part of the input
 * ("all.txt") would mean one file for a whole run: a sink that can join
 * the inputs' tables implements `gather` (see the guide); this one does
 * not, so the host refuses such a path when given several inputs. */
static const joule_param params[] = {
    {.name = "path",
     .type = JOULE_PARAM_STRING,
     .flags = JOULE_PARAM_OUT_PATH,
     .def = "{stem}.stats.txt",
     .unit = "",
     .help = "The table's file: {stem} is the input's name without extension, {name} with it, {node} this "
             "node's name; - for standard output."},
};

/* A sink takes any kind: the statistics do not care whether rows are
 * samples, frames or events (an event's time is simply not used). */
static const joule_port inputs[] = {
    {.name = "in",
     .kinds = JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS,
     .help = "any stream: one line of the table per column"},
};

/* ---- the instance -------------------------------------------------------- */

typedef struct col {
    uint64_t n;       /* finite values seen                          */
    uint64_t skipped; /* NaN and infinities, left out of the rest    */
    double min, max;
    double sum;       /* in double: a float sum of millions of
                         samples loses the mean's digits            */
} col;

typedef struct stats {
    const joule_host *host;
    const joule_format *in; /* the host's, valid until close: the column
                               names and units are read at finish      */
    uint32_t ncol;
    uint64_t rows;
    col *cols;
    jp_outfile out; /* the table's file, made by the host            */
} stats;

static int stats_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    stats *s = calloc(1, sizeof *s);
    if (!s) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = s; /* close frees it, even if open fails below */
    s->host = h;
    s->in = &a->inputs[0];
    s->ncol = a->inputs[0].n_columns;
    s->cols = calloc(s->ncol, sizeof *s->cols);
    if (!s->cols) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    /* The file is created now, in open, and only this way: the value of an
     * output-path parameter goes to the host as it is (already expanded),
     * and jp_outfile_open wraps the descriptor the host returns in a FILE.
     * On failure the host has already set the message. Opening here, not
     * at finish, means a path that cannot be written fails the job before
     * any input is read. */
    if (jp_outfile_open(&s->out, a->params[0].s, h, 0) != 0)
        return JOULE_ERROR;
    /* A sink has no outputs to describe: args->outputs is empty. */
    return JOULE_OK;
}

/* Accumulate. Rows are added one after another in stream order, whatever
 * the buffers, so even the double sums are the same to the last bit for
 * any chunking — the ABI requires byte-identical output. out is NULL: a
 * sink has no output ports. */
static int stats_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    stats *s = self;
    (void)port;
    (void)out;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        const float *x = in->data + (size_t)r * in->n_columns;
        for (uint32_t c = 0; c < s->ncol; c++) {
            col *k = &s->cols[c];
            double v = x[c];
            if (!isfinite(v)) {
                k->skipped++;
                continue;
            }
            if (k->n == 0 || v < k->min)
                k->min = v;
            if (k->n == 0 || v > k->max)
                k->max = v;
            k->sum += v;
            k->n++;
        }
    }
    s->rows += in->n_rows;
    return JOULE_OK;
}

/* The end of the input: write the table, then flush and close the file.
 * The host puts it in place after every node of the job has finished
 * well; if anything fails, it removes it instead. */
static int stats_finish(void *self, joule_buffer *out)
{
    stats *s = self;
    (void)out;
    FILE *f = s->out.f;
    /* Only what the rows determine goes in the file — not the input's
     * path, not the date: the same input must give the same bytes, run
     * after run (plugin-test compares them; so do users' diffs). */
    int w = 6; /* the width of the name column */
    for (uint32_t c = 0; c < s->ncol; c++) {
        int len = (int)strlen(s->in->names[c]);
        if (len > w)
            w = len;
    }
    fprintf(f, "# %llu rows, %u column%s\n", (unsigned long long)s->rows, s->ncol, s->ncol == 1 ? "" : "s");
    fprintf(f, "%-*s %-6s %10s %14s %14s %14s %8s\n", w, "column", "unit", "n", "min", "max", "mean", "skipped");
    for (uint32_t c = 0; c < s->ncol; c++) {
        const col *k = &s->cols[c];
        const char *unit = s->in->units && *s->in->units[c] ? s->in->units[c] : "-";
        fprintf(f, "%-*s %-6s %10llu ", w, s->in->names[c], unit, (unsigned long long)k->n);
        /* %.7g: as many digits as a float holds. The C locale's decimal
         * point: joule never calls setlocale, and neither should a
         * plugin (it would change every other thread's output). */
        if (k->n)
            fprintf(f, "%14.7g %14.7g %14.7g", k->min, k->max, k->sum / (double)k->n);
        else
            fprintf(f, "%14s %14s %14s", "-", "-", "-");
        fprintf(f, " %8llu\n", (unsigned long long)k->skipped);
    }
    /* jp_outfile_finish reports a failed write (a full disk) with
     * host->error: the job then fails, and the file is not placed. */
    if (jp_outfile_finish(&s->out, s->host) != 0)
        return JOULE_ERROR;
    return JOULE_END; /* nothing more: a sink emits no rows */
}

static void stats_close(void *self)
{
    stats *s = self;
    if (!s)
        return;
    /* Closes the file if finish never ran (a failed job: the host then
     * removes the temporary), and frees the path. */
    jp_outfile_discard(&s->out);
    free(s->cols);
    free(s);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "stats",
    .version = "0.1.0",
    .summary = "per column minimum, maximum and mean, as a text file per input (a sink template)",
    .role = JOULE_ROLE_SINK,
    .n_params = 1,
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 0,
    .outputs = NULL,
    .open = stats_open,
    .process = stats_process,
    .finish = stats_finish,
    .close = stats_close,
    .maker = "Your Name <you@example.org>",
    .license = "MIT",
    .description = "Writes, for each input, a text table with one line per column of the stream it is given: "
                   "the count of finite values, their minimum, maximum and mean, and how many values were NaN "
                   "or infinite (left out of the rest).",
    .homepage = "https://example.org/joule-stats",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi_version, uint32_t index)
{
    (void)host_abi_version;
    return index == 0 ? &desc : NULL;
}
