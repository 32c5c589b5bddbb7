/* onset.c — a joule plugin template: an events detector.
 *
 * A signal in, events out: an event each time a channel's level rises
 * through a threshold (an onset), carrying the time of the crossing, the
 * peak level that followed it in dBFS, and the channel. Copy this file when
 * your plugin finds things in a stream — beats, clicks, steps, clipping —
 * rather than measuring every frame.
 *
 * What it shows, beyond the frames filter (../filter/zcr.c):
 *   - an events output: each row carries its own time (joule_buffer.times),
 *     and times never decrease within the stream;
 *   - the output bound of a detector (out_num/out_den), which is about the
 *     worst single call, not the average;
 *   - finish, which emits the event still pending when the input ends,
 *     within whatever room the host gives it;
 *   - state that carries across calls, so that the events are the same
 *     bytes however the host cuts the input into buffers;
 *   - no allocation in process: everything is allocated in open.
 *
 * Build it against the installed joule (see the Makefile):
 *     cc -std=c99 -O2 -fPIC -shared -fvisibility=hidden \
 *        $(pkg-config --cflags joule-plugin) onset.c -o onset.so -lm
 * and check it with `joule plugin-test ./onset.so`. Every field used here is
 * documented in <joule/plugin.h>.
 *
 * The method, precisely (a channel at a time):
 *   - The level of a sample is its magnitude, |x|, in dBFS: 20·log10|x|,
 *     0 dBFS being full scale (1.0). Comparisons are done on |x| against
 *     the threshold converted once, at open, to a linear value.
 *   - A channel is "armed" at the start of the stream. The first sample at
 *     or above the threshold is an onset, at that sample's time.
 *   - The channel is then watched for `hold` seconds (at least one sample):
 *     the largest magnitude in that window is the event's level. When the
 *     window closes, the event is emitted.
 *   - It re-arms only after `hold` seconds in a row below the threshold,
 *     so one loud passage gives one event, not one per waveform peak.
 * This is a peak-gate, the simplest onset detector there is; a real one
 * would follow an envelope or a spectral flux. The plumbing stays the same.
 */
#include <joule/plugin.h>

#include <math.h>
#include <stdlib.h>

/* ---- what the host sees before anything runs ---------------------------
 * Parameters: the names are the keys of graph files (`threshold = -30`) and
 * of `--set node.threshold=-30`; never rename them once published. The
 * host parses and range-checks every value against these declarations
 * before open, so open need not check them again. */
static const joule_param params[] = {
    {.name = "threshold",
     .type = JOULE_PARAM_FLOAT,
     .flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
     .def = "-20",
     .min = -140,
     .max = 0,
     .unit = "dBFS",
     .help = "The level a sample's magnitude must reach for an onset; 0 dBFS is full scale."},
    {.name = "hold",
     .type = JOULE_PARAM_FLOAT,
     .flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
     .def = "0.05",
     .min = 0,
     .max = 60,
     .unit = "s",
     .help = "After an onset, the window whose peak is the event's level; the channel must then stay "
             "below the threshold this long before another onset counts."},
};

/* One input accepting a signal only (the mask could accept several kinds:
 * JOULE_SIGNAL | JOULE_FRAMES), and one output producing events. Help
 * texts are what `joule inspect` prints: plugin-test wants one per port. */
static const joule_port inputs[] = {
    {.name = "in", .kinds = JOULE_SIGNAL, .help = "any signal, one column per channel"},
};
static const joule_port outputs[] = {
    {.name = "onsets",
     .kinds = JOULE_EVENTS,
     .help = "one event per onset, at the time of the crossing: level (peak dBFS over `hold`), channel "
             "(from 0)"},
};

/* The output's columns. They are the plugin's memory, which must stay
 * valid until close: static data is the simplest way. */
static const char *const out_names[] = {"level", "channel"};
static const char *const out_units[] = {"dBFS", ""};

/* ---- the instance --------------------------------------------------------
 * Everything a job needs lives here, never in globals: the host runs many
 * instances of the same plugin at once (one per input file), on different
 * threads. */
enum { ARMED, OPEN, QUIET };

typedef struct chan {
    int state;      /* ARMED, OPEN (watching after an onset), QUIET    */
    uint64_t start; /* OPEN: the row of the crossing                    */
    uint64_t left;  /* OPEN: rows of the window still to come; QUIET:
                       rows that must still stay below the threshold   */
    float peak;     /* OPEN: the largest magnitude so far               */
} chan;

typedef struct onset {
    uint32_t nch;
    float thr;      /* the threshold as a magnitude (linear)            */
    uint64_t hold;  /* `hold` in rows, at least 1                       */
    double rate;    /* the input's sample rate and the time of its row 0 */
    double t0;
    uint64_t row;   /* index in the stream of the next input row        */
    chan *ch;       /* one per channel                                  */
} onset;

static int onset_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    const joule_format *in = &a->inputs[0];

    onset *o = calloc(1, sizeof *o);
    if (!o) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    /* Store the instance at once: if open fails below, the host still
     * calls close with it, and close frees what was allocated so far. */
    *self = o;
    o->nch = in->n_columns;
    o->rate = in->rate;
    o->t0 = in->t0;
    /* Parameters arrive in declaration order, parsed and in range. */
    o->thr = (float)pow(10.0, a->params[0].f / 20.0);
    double hold = floor(a->params[1].f * in->rate + 0.5);
    o->hold = hold < 1 ? 1 : (uint64_t)hold;
    /* All the memory the instance will ever need, now: process must not
     * allocate (plugin-test counts its allocations). */
    o->ch = calloc(o->nch, sizeof *o->ch);
    if (!o->ch) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }

    /* The output format. For events, `rate` is the time base they were
     * found in (the input's sample rate) and t0 its origin; each row's
     * time is written into out->times by process and finish. */
    joule_format *f = &a->outputs[0];
    f->kind = JOULE_EVENTS;
    f->n_columns = 2;
    f->rate = in->rate;
    f->t0 = in->t0;
    f->names = out_names;
    f->units = out_units;
    /* The bound: the most rows one process call may emit, as a multiple
     * of the rows it is given. The host sizes the output buffer from it
     * (exactly: plugin-test offers no more room than this), so it must
     * hold for the worst call, not on average. Here each channel closes at
     * most one window per input row, so one row in can emit up to `nch`
     * events (every channel crossing together): nch/1. A tighter ratio
     * such as 1/hold would be wrong: a one-row call may close a window
     * opened many calls before. (0/1 would declare that process never
     * emits — right only for a plugin that holds everything until finish,
     * which would need memory growing with the input.) */
    f->out_num = o->nch;
    f->out_den = 1;
    return JOULE_OK;
}

/* Write channel c's pending event into `out`. The time comes from the row
 * index, not from a running sum of 1/rate: a sum would drift, and
 * differently for different chunkings. */
static void emit(onset *o, joule_buffer *out, uint32_t c)
{
    chan *s = &o->ch[c];
    uint32_t k = out->n_rows++;
    out->times[k] = o->t0 + (double)s->start / o->rate;
    out->data[(size_t)k * out->n_columns + 0] = (float)(20.0 * log10((double)s->peak));
    out->data[(size_t)k * out->n_columns + 1] = (float)c;
    s->state = QUIET;
    s->left = o->hold;
}

static int onset_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    onset *o = self;
    (void)port; /* one input port: always 0 */
    /* Rows arrive in order, in buffers of any size (zero included); all of
     * them must be consumed. The state machine advances one row at a time,
     * so the buffer boundaries cannot change what it finds. */
    for (uint32_t r = 0; r < in->n_rows; r++, o->row++) {
        const float *x = in->data + (size_t)r * in->n_columns;
        /* Channels in order, so that events closing on the same row come
         * out in channel order: windows all last `hold` rows, so events
         * close in the order of their crossings, and their times never
         * decrease, as the ABI requires of an events stream. */
        for (uint32_t c = 0; c < o->nch; c++) {
            chan *s = &o->ch[c];
            float m = fabsf(x[c]);
            /* NaN compares false: it never triggers, and counts as quiet.
             * +Inf triggers, with a level of +Inf dBFS. */
            switch (s->state) {
            case ARMED:
                if (m >= o->thr) {
                    s->state = OPEN;
                    s->start = o->row;
                    s->peak = m;
                    s->left = o->hold;
                }
                break;
            case OPEN:
                if (m > s->peak)
                    s->peak = m;
                break;
            default: /* QUIET */
                if (m >= o->thr)
                    s->left = o->hold; /* still loud: start waiting again */
                else if (--s->left == 0)
                    s->state = ARMED;
                break;
            }
            if (s->state == OPEN && --s->left == 0)
                emit(o, &out[0], c);
        }
    }
    return JOULE_OK;
}

/* The input has ended: emit the events whose window was still open (their
 * level is the peak seen so far). finish gets at least one row of room,
 * perhaps no more: emit what fits, return JOULE_OK to be called again with
 * a fresh buffer, and JOULE_END once nothing is left. Pending events go
 * out in the order of their crossings, as process would have emitted
 * them, so times still never decrease. */
static int onset_finish(void *self, joule_buffer *out)
{
    onset *o = self;
    for (;;) {
        uint32_t next = o->nch;
        for (uint32_t c = 0; c < o->nch; c++)
            if (o->ch[c].state == OPEN && (next == o->nch || o->ch[c].start < o->ch[next].start))
                next = c;
        if (next == o->nch)
            return JOULE_END; /* nothing pending */
        if (out[0].n_rows == out[0].capacity)
            return JOULE_OK; /* more to say: call again */
        emit(o, &out[0], next);
    }
}

/* Always called once after open, even when open failed half way: accept
 * NULL and partly built instances. */
static void onset_close(void *self)
{
    onset *o = self;
    if (!o)
        return;
    free(o->ch);
    free(o);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "onset",    /* what graphs write after `plugin =`: [a-z0-9_] */
    .version = "0.1.0", /* bump it when the output changes: the stage
                           cache keys on it */
    .summary = "onsets: where each channel's level rises through a threshold (a detector template)",
    .role = JOULE_ROLE_FILTER, /* inputs and outputs: a filter, whatever the kinds */
    .n_params = 2,
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = onset_open,
    .process = onset_process,
    .finish = onset_finish,
    .close = onset_close,
    /* Who made it, under what licence, what it does at length, where to
     * read more: `joule inspect` shows them, and `joule plugin-test`
     * requires maker and license. Put your own here. */
    .maker = "Your Name <you@example.org>",
    .license = "MIT",
    .description = "Finds onsets in each channel of a signal: the first sample whose magnitude reaches the "
                   "threshold, once the channel has been below it for `hold` seconds (or since the start). "
                   "Each onset is an event at the time of that sample, with the peak level in dBFS over the "
                   "`hold` seconds that follow and the channel's index.\n\n"
                   "A peak gate: simple and exact, but it reacts to clicks as well as to notes.",
    .homepage = "https://example.org/joule-onset",
};

/* The one exported symbol. The host asks for descriptor 0, 1, ... until
 * NULL: one object may hold several plugins. */
JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi_version, uint32_t index)
{
    (void)host_abi_version;
    return index == 0 ? &desc : NULL;
}
