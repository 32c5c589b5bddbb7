/* vamp.c — Vamp analysis plugins as joule nodes.
 *
 * At load, every Vamp plugin library on the Vamp path (VAMP_PATH, or the
 * standard folders: bridge_paths.h) is opened and each plugin in it is
 * offered as a joule filter named vamp_<library>_<identifier> (the library
 * file's name without ".so" and a leading "vamp-", as an identifier): the
 * SDK's examples become vamp_example_plugins_spectralcentroid and so on.
 * Only vamp.h's C ABI is used, not the C++ host SDK; what that SDK's
 * adapters do for a host is done here, the same way, so that the results
 * equal vamp-simple-host's:
 *
 *   - Blocks and steps. The input is cut into blocks of block_size samples
 *     every step_size samples (the plugin's preferred sizes unless the graph
 *     sets them); at the end, zero-padded blocks follow until every sample
 *     has been in every position of a block (vamp-simple-host's count:
 *     max(1, block/step - 1) of them), then getRemainingFeatures.
 *   - Frequency-domain plugins get each block windowed (Hann unless
 *     window_type says otherwise), rotated by half a block (so that phases
 *     refer to its centre) and transformed by a real FFT in double
 *     precision, as the SDK's input-domain adapter does; their timestamps,
 *     and the times of their outputs, are those of the block's centre.
 *   - Channels. A plugin that takes one channel gets the mean of the
 *     input's (summed and divided in single precision, as the SDK's channel
 *     adapter does); one that takes fewer than the input has gets the first
 *     ones; one that needs more than the input has is refused.
 *
 * Outputs become ports. A one-sample-per-step output with a fixed number of
 * bins is a frames stream, one row per step (NaN where the plugin returned
 * nothing for a step). Every other output is an events stream: fixed- and
 * variable-rate features at their timestamps (a fixed-rate output's
 * features on its own grid, as vamp-simple-host places them), with a
 * `duration` column (seconds) when the output has durations. An output
 * whose number of bins varies gives one row per value, with columns `bin`
 * and `value`. One without values (markers) has a column `marker` = 1.
 * Labels are not kept: joule streams hold numbers.
 *
 * The Vamp plugin's parameters become typed joule parameters: quantised
 * ones with value names an enum, quantised 0/1 ones a bool, integer-stepped
 * ones an int, the rest floats, each with its range, default, unit and
 * description, validated by the host like native ones.
 *
 * Vamp plugins allocate as they run (features are returned in memory the
 * plugin allocates), so these descriptors carry JOULE_DESC_ALLOCATES. */
#define _GNU_SOURCE 1
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include "bridge.h"
#include "bridge_paths.h"

#include <vamp/vamp.h>

#include <fftw3.h>

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner is process-wide and not thread-safe: joule's plugins
 * plan under this host lock. A Vamp plugin may plan its own transforms
 * when it is made, initialised or cleaned up, so those calls take it too
 * (process() does not: it would serialise every plugin). */
#define PLANNER_LOCK "fftw-planner"
#define MAX_BLOCK (1 << 20)

/* The bridge's own parameters, after the Vamp plugin's. */
enum { B_BLOCK, B_STEP, B_WINDOW, N_BRIDGE_PARAMS };
static const char *const window_choices[] = {"hann", "hamming", "blackman", "nuttall", "blackman_harris",
                                             "bartlett", "rectangular", NULL};

/* The kinds of output rows. */
enum {
    O_FRAMES,  /* one-sample-per-step, fixed bins: one row per step   */
    O_FIXED,   /* events: fixed bins (maybe none: a marker column)      */
    O_VARBINS, /* events: one row per value, columns bin, value         */
};

/* A Vamp plugin offered as a joule plugin. */
typedef struct vplug {
    joule_descriptor d; /* first: open finds the vplug from args->descriptor */
    const VampPluginDescriptor *vd;
    char *key; /* vamp:library:identifier */
    uint32_t n_vparams;
    uint32_t has_window; /* frequency domain: window_type is declared */
    const char **out_ids; /* per joule output port: the Vamp output's identifier */
} vplug;

/* ---- what an output is -------------------------------------------------- */

static int out_kind(const VampOutputDescriptor *o)
{
    if (o->sampleType == vampOneSamplePerStep && o->hasFixedBinCount && o->binCount > 0)
        return O_FRAMES;
    return o->hasFixedBinCount ? O_FIXED : O_VARBINS;
}

static int has_duration(const VampPluginDescriptor *vd, const VampOutputDescriptor *o)
{
    return vd->vampApiVersion >= 2 && o->hasDuration;
}

/* ---- listing ------------------------------------------------------------ */

static jb_list plugins;
static pthread_once_t listed = PTHREAD_ONCE_INIT;

/* Quantised values as names: the count of values, or 0 when the names do
 * not cover the range. */
static uint32_t n_value_names(const VampParameterDescriptor *p)
{
    if (!p->isQuantized || !p->valueNames || !(p->quantizeStep > 0))
        return 0;
    double n = floor((double)(p->maxValue - p->minValue) / p->quantizeStep + 0.5) + 1;
    if (!(n >= 1 && n <= 4096))
        return 0;
    for (uint32_t k = 0; k < (uint32_t)n; k++)
        if (!p->valueNames[k] || !p->valueNames[k][0])
            return 0;
    return (uint32_t)n;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The joule declaration of Vamp parameter p. */
static void make_param(joule_param *jp, const VampParameterDescriptor *p, const char *name)
{
    double lo = p->minValue, hi = p->maxValue, def = p->defaultValue;
    if (!(lo <= hi))
        hi = lo;
    def = clampd(def, lo, hi); /* a default outside the range would refuse every graph */
    const char *desc = p->description && p->description[0] ? p->description : NULL;
    jp->name = name;
    jp->unit = jb_text(p->unit ? p->unit : "", 0);
    uint32_t nv = n_value_names(p);
    if (nv) {
        const char **ch = jb_alloc((nv + 1) * sizeof *ch);
        for (uint32_t k = 0; k < nv; k++) {
            ch[k] = jb_text(p->valueNames[k], 0);
            for (uint32_t j = 0; j < k; j++)
                if (!strcasecmp(ch[j], ch[k])) {
                    char *u = jb_printf("%s_%u", ch[k], k);
                    free((char *)ch[k]);
                    ch[k] = u;
                }
        }
        jp->type = JOULE_PARAM_ENUM;
        jp->choices = ch;
        long idx = lround((def - lo) / p->quantizeStep);
        jp->def = ch[idx < 0 ? 0 : idx >= (long)nv ? nv - 1 : idx];
    } else if (p->isQuantized && p->quantizeStep == 1.0f && lo == 0 && hi == 1) {
        jp->type = JOULE_PARAM_BOOL;
        jp->def = def >= 0.5 ? "true" : "false";
    } else if (p->isQuantized && p->quantizeStep == 1.0f && lo == floor(lo) && hi == floor(hi)) {
        jp->type = JOULE_PARAM_INT;
        jp->flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX;
        jp->min = lo;
        jp->max = hi;
        jp->def = jb_printf("%ld", lround(def));
    } else {
        jp->type = JOULE_PARAM_FLOAT;
        jp->flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX;
        jp->min = lo;
        jp->max = hi;
        jp->def = jb_printf("%.9g", def);
    }
    char *h = jb_printf("%s%s%s%s", p->name ? p->name : p->identifier, desc ? ": " : "", desc ? desc : "",
                        p->isQuantized && jp->type == JOULE_PARAM_FLOAT ? " (the plugin quantises it)" : "");
    jp->help = jb_text(h, 0);
    free(h);
}

/* Build the joule descriptor of Vamp plugin vd from library `path`;
 * NULL when it cannot be offered (no instance, no output). */
static vplug *describe(const VampPluginDescriptor *vd, const char *path, const char *lib)
{
    if (vd->vampApiVersion < 1 || vd->vampApiVersion > 2 || !vd->identifier || !vd->instantiate ||
        !vd->process || !vd->getOutputCount || !vd->getOutputDescriptor)
        return NULL;
    /* the outputs, from an instance: they are listed only there */
    VampPluginHandle h = vd->instantiate(vd, 48000.0f);
    if (!h)
        return NULL;
    unsigned n_out = vd->getOutputCount(h);
    if (n_out == 0 || n_out > 1024) {
        vd->cleanup(h);
        return NULL;
    }
    vplug *vp = jb_alloc(sizeof *vp);
    vp->vd = vd;
    vp->key = jb_printf("vamp:%s:%s", lib, vd->identifier);
    joule_port *outs = jb_alloc(n_out * sizeof *outs);
    const char **onames = jb_alloc(n_out * sizeof *onames);
    vp->out_ids = jb_alloc(n_out * sizeof *vp->out_ids);
    for (unsigned k = 0; k < n_out; k++) {
        VampOutputDescriptor *o = vd->getOutputDescriptor(h, k);
        if (!o) {
            vd->cleanup(h);
            return NULL;
        }
        vp->out_ids[k] = jb_strdup(o->identifier);
        onames[k] = jb_ident(o->identifier);
        jb_unique(onames, k);
        outs[k].name = onames[k];
        outs[k].kinds = out_kind(o) == O_FRAMES ? JOULE_FRAMES : JOULE_EVENTS;
        const char *how = o->sampleType == vampOneSamplePerStep ? "one result per step"
                          : o->sampleType == vampFixedSampleRate ? "results at a fixed rate"
                                                                 : "results at their own times";
        char *help = jb_printf("%s%s%s (%s%s%s%s)", o->name ? o->name : o->identifier,
                               o->description && o->description[0] ? ": " : "",
                               o->description ? o->description : "", how, o->unit && o->unit[0] ? ", in " : "",
                               o->unit ? o->unit : "",
                               out_kind(o) == O_VARBINS ? ", a varying number of values: one row per value" : "");
        outs[k].help = jb_text(help, 0);
        free(help);
        if (vd->releaseOutputDescriptor)
            vd->releaseOutputDescriptor(o);
    }
    vd->cleanup(h);
    free(onames); /* the names stay, in outs */

    /* parameters: the plugin's, then the bridge's */
    uint32_t np = vd->parameterCount, fd = vd->inputDomain == vampFrequencyDomain;
    vp->n_vparams = np;
    vp->has_window = fd;
    uint32_t total = np + N_BRIDGE_PARAMS - (fd ? 0 : 1);
    joule_param *params = jb_alloc(total * sizeof *params);
    const char **pnames = jb_alloc((total + 6) * sizeof *pnames);
    /* names the plugin's parameters must not take */
    static const char *const reserved[] = {"plugin", "input", "cache", "block_size", "step_size", "window_type"};
    for (size_t r = 0; r < 6; r++)
        pnames[r] = reserved[r];
    for (uint32_t i = 0; i < np; i++) {
        const VampParameterDescriptor *p = vd->parameters[i];
        pnames[6 + i] = jb_ident(p->identifier);
        jb_unique(pnames, 6 + i);
        make_param(&params[i], p, pnames[6 + i]);
    }
    free(pnames); /* the names stay, in params */
    params[np + B_BLOCK] = (joule_param){
        .name = "block_size", .type = JOULE_PARAM_INT, .flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
        .def = "0", .min = 0, .max = MAX_BLOCK, .unit = "samples",
        .help = "Samples per block given to the plugin; 0: the plugin's preferred size (1024 when it has none)."};
    params[np + B_STEP] = (joule_param){
        .name = "step_size", .type = JOULE_PARAM_INT, .flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
        .def = "0", .min = 0, .max = MAX_BLOCK, .unit = "samples",
        .help = "Samples between the starts of consecutive blocks; 0: the plugin's preferred step (else the "
                "block size, or half of it for a frequency-domain plugin)."};
    if (fd)
        params[np + B_WINDOW] = (joule_param){
            .name = "window_type", .type = JOULE_PARAM_ENUM, .def = "hann", .choices = window_choices, .unit = "",
            .help = "The window applied to each block before its Fourier transform (the plugin takes "
                    "frequency-domain input)."};

    static const joule_port in = {"in", JOULE_SIGNAL, 0,
                                  "audio: mixed to one channel, or cut to the first channels, when the plugin "
                                  "takes fewer"};
    char *libid = jb_ident(lib), *id = jb_ident(vd->identifier);
    const char *short_lib = !strncmp(libid, "vamp_", 5) && libid[5] ? libid + 5 : libid;
    joule_descriptor *d = &vp->d;
    d->abi_version = JOULE_ABI_VERSION;
    d->struct_size = sizeof *d;
    d->name = jb_printf("vamp_%s_%s", short_lib, id);
    free(libid);
    free(id);
    char *base = jb_printf("%d.0.0", vd->pluginVersion > 0 ? vd->pluginVersion : 0);
    d->version = jb_version(base, path);
    free(base);
    char *summary = jb_printf("%s (Vamp)", vd->name ? vd->name : vd->identifier);
    d->summary = jb_text(summary, 0);
    free(summary);
    d->role = JOULE_ROLE_FILTER;
    d->n_params = total;
    d->params = params;
    d->n_inputs = 1;
    d->inputs = &in;
    d->n_outputs = n_out;
    d->outputs = outs;
    d->flags = JOULE_DESC_ALLOCATES;
    d->maker = jb_text(vd->maker && vd->maker[0] ? vd->maker : NULL, 0);
    char *text = jb_printf("%s%sThe Vamp plugin %s (version %d, Vamp API %u), from %s, run through joule's Vamp "
                           "bridge: %s-domain input%s.%s%s",
                           vd->description ? vd->description : "", vd->description && vd->description[0] ? "\n\n" : "",
                           vp->key, vd->pluginVersion, vd->vampApiVersion, path,
                           fd ? "frequency" : "time",
                           fd ? " (each block windowed and transformed by the bridge)" : "",
                           vd->copyright && vd->copyright[0] ? "\n\nCopyright: " : "",
                           vd->copyright ? vd->copyright : "");
    d->description = jb_text(text, 1);
    free(text);
    return vp;
}

static void list_library(const char *path)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    VampGetPluginDescriptorFunction get;
    *(void **)(&get) = dlsym(lib, "vampGetPluginDescriptor");
    if (!get) {
        dlclose(lib);
        return;
    }
    char *stem = jb_stem(path);
    int used = 0;
    for (unsigned i = 0; i < 4096; i++) {
        const VampPluginDescriptor *vd = get(VAMP_API_VERSION, i);
        if (!vd)
            break;
        vplug *vp = describe(vd, path, stem);
        if (!vp)
            continue;
        if (jb_list_has(&plugins, vp->d.name))
            continue; /* the first of two same names wins, as on joule's own path (what describe
                         made for the second is left: once, at load) */
        jb_list_add(&plugins, &vp->d);
        used = 1;
    }
    free(stem);
    if (!used)
        dlclose(lib);
}

static void list_all(void)
{
    static const char *const defaults[] = JB_VAMP_DEFAULTS;
    char **dirs = jb_search_path(JB_VAMP_ENV, defaults);
    for (char **d = dirs; *d; d++) {
        char **files = jb_list_so(*d);
        for (char **f = files; *f; f++) {
            list_library(*f);
            free(*f);
        }
        free(files);
        free(*d);
    }
    free(dirs);
}

/* ---- an instance ------------------------------------------------------- */

/* Rows waiting to go out on one port. */
typedef struct queue {
    float *rows;
    double *times;
    size_t head, n, cap; /* rows [head, n) wait */
    uint32_t n_cols;
} queue;

typedef struct oport {
    uint32_t vi; /* the Vamp output's index */
    int kind;
    int dur;           /* a duration column (the last) */
    uint32_t bins;     /* values per feature (fixed bin count) */
    int per_step;      /* one-sample-per-step: results at their step's time */
    double orate;      /* a fixed-rate output's rate */
    long fcount;       /* a fixed-rate output's last grid index */
    double last_t;     /* time of the last event out (order check) */
    unsigned dropped;  /* features beyond the first of a step */
    jp_names names;
    const char **units;
    char *unit; /* the Vamp output's unit, copied: its descriptor is released */
    queue q;
} oport;

/* Vamp's time: seconds and nanoseconds, as the SDK's RealTime. */
typedef struct rtime {
    int sec, nsec;
} rtime;

typedef struct vinst {
    const vplug *vp;
    const VampPluginDescriptor *vd;
    const joule_host *host;
    VampPluginHandle h;
    uint32_t in_ch, plug_ch;
    int mix;              /* the mean of every channel to one */
    uint32_t block, step; /* samples */
    int freq;
    unsigned rate;        /* the sample rate, rounded, as Vamp hosts pass it */
    double sr;
    float **buf;  /* plug_ch blocks, time domain */
    uint32_t fill;
    float **fbuf;  /* plug_ch × (block + 2): interleaved re, im */
    double *win, *fin;
    fftw_complex *fout;
    fftw_plan plan;
    uint64_t steps; /* process calls made */
    int ended;      /* getRemainingFeatures taken */
    uint32_t n_ports;
    oport *ports;
    float *scratch; /* one row of the widest port */
} vinst;

static rtime rt_norm(long long sec, long long nsec)
{
    while (nsec < 0) {
        nsec += 1000000000;
        sec--;
    }
    while (nsec >= 1000000000) {
        nsec -= 1000000000;
        sec++;
    }
    return (rtime){(int)sec, (int)nsec};
}

/* RealTime::frame2RealTime */
static rtime frame_time(long frame, unsigned rate)
{
    int sec = (int)(frame / (long)rate);
    frame -= sec * (long)rate;
    return rt_norm(sec, (long long)(((double)frame / (double)rate) * 1000000000.0 + 0.5));
}

/* RealTime::realTime2Frame (for times >= 0) */
static long time_frame(rtime t, unsigned rate)
{
    double s = t.sec + (double)t.nsec / 1000000000.0;
    return (long)(s * rate + 0.5);
}

static int q_push(queue *q, const float *row, double t)
{
    if (q->n == q->cap) {
        if (q->head) { /* reuse the room already taken out */
            memmove(q->rows, q->rows + q->head * q->n_cols, (q->n - q->head) * q->n_cols * sizeof *q->rows);
            memmove(q->times, q->times + q->head, (q->n - q->head) * sizeof *q->times);
            q->n -= q->head;
            q->head = 0;
        }
        if (q->n == q->cap) {
            size_t cap = q->cap ? 2 * q->cap : 64;
            float *r = realloc(q->rows, cap * q->n_cols * sizeof *r);
            if (!r)
                return -1;
            q->rows = r;
            double *t2 = realloc(q->times, cap * sizeof *t2);
            if (!t2)
                return -1;
            q->times = t2;
            q->cap = cap;
        }
    }
    memcpy(q->rows + q->n * q->n_cols, row, q->n_cols * sizeof *row);
    q->times[q->n++] = t;
    return 0;
}

/* Move what fits into out; 1 when rows are left. */
static int q_drain(queue *q, joule_buffer *out, int events)
{
    size_t k = q->n - q->head;
    if (k > out->capacity)
        k = out->capacity;
    out->n_rows = (uint32_t)k;
    if (!k)
        return q->n > q->head;
    memcpy(out->data, q->rows + q->head * q->n_cols, k * q->n_cols * sizeof *out->data);
    if (events && out->times)
        memcpy(out->times, q->times + q->head, k * sizeof *out->times);
    out->n_rows = (uint32_t)k;
    q->head += k;
    if (q->head == q->n)
        q->head = q->n = 0;
    return q->n > q->head;
}

static void set_window(double *w, uint32_t n, uint32_t type)
{
    /* the SDK's windows (its Window<double>), periodic: a0 - a1 cos + a2 cos - a3 cos */
    static const double coef[][4] = {
        {0.50, 0.50, 0.0, 0.0},                          /* hann */
        {0.54, 0.46, 0.0, 0.0},                          /* hamming */
        {0.42, 0.50, 0.08, 0.0},                         /* blackman */
        {0.3635819, 0.4891775, 0.1365995, 0.0106411},    /* nuttall */
        {0.35875, 0.48829, 0.14128, 0.01168},            /* blackman_harris */
    };
    int ni = (int)n;
    for (int i = 0; i < ni; i++) {
        double m = 1.0;
        if (type < 5) {
            const double *a = coef[type];
            m *= (a[0] - a[1] * cos((2 * M_PI * i) / ni) + a[2] * cos((4 * M_PI * i) / ni) -
                  a[3] * cos((6 * M_PI * i) / ni));
        }
        w[i] = m;
    }
    if (type == 5) { /* bartlett */
        for (int i = 0; i < ni / 2; i++) {
            w[i] = 1.0 * (i / (double)(ni / 2));
            w[i + ni / 2] = 1.0 * (1.0 - (i / (double)(ni / 2)));
        }
    } else if (type == 6) { /* rectangular: the SDK's is 0.5 */
        for (int i = 0; i < ni; i++)
            w[i] = 0.5;
    }
}

/* One row for each feature of Vamp output list fl on port o. `step_t` is
 * the time of the step (its block's start, or centre for a
 * frequency-domain plugin); `in_step`: from process, not the remaining
 * features. Returns -1 after host->error. */
static int take(vinst *s, oport *o, const VampFeatureList *fl, double step_t, int in_step)
{
    uint32_t nf = fl->featureCount;
    const VampFeatureUnion *fu = fl->features;
    int v2 = s->vd->vampApiVersion >= 2;
    float *row = s->scratch;
    uint32_t nc = o->q.n_cols;
    if (o->kind == O_FRAMES) {
        uint32_t take_n = in_step ? 1 : nf;
        for (uint32_t j = 0; j < take_n; j++) {
            const VampFeature *f = j < nf ? &fu[j].v1 : NULL;
            for (uint32_t c = 0; c < nc; c++)
                row[c] = f && c < f->valueCount ? f->values[c] : NAN;
            if (q_push(&o->q, row, 0) < 0)
                goto oom;
        }
        if (in_step && nf > 1)
            o->dropped += nf - 1;
        return 0;
    }
    /* events, in time order within the list (a stable insertion sort) */
    uint32_t order_buf[64];
    uint32_t *order = nf <= 64 ? order_buf : malloc(nf * sizeof *order);
    double *tv = malloc((nf ? nf : 1) * sizeof *tv);
    if (!order || !tv) {
        if (order != order_buf)
            free(order);
        free(tv);
        goto oom;
    }
    for (uint32_t j = 0; j < nf; j++) {
        const VampFeature *f = &fu[j].v1;
        double t;
        if (o->per_step)
            t = step_t;
        else if (o->orate > 0) { /* fixed rate: on its own grid */
            long n = o->fcount + 1;
            if (f->hasTimestamp)
                n = lround((f->sec + (double)(f->nsec + 1) / 1000000000.0) * o->orate);
            t = (double)n / o->orate;
            o->fcount = n;
        } else if (f->hasTimestamp)
            t = f->sec + (double)f->nsec / 1000000000.0;
        else
            t = step_t;
        tv[j] = t;
        uint32_t k = j;
        while (k > 0 && tv[order[k - 1]] > t) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = j;
    }
    int rc = 0;
    for (uint32_t jj = 0; jj < nf && !rc; jj++) {
        uint32_t j = order[jj];
        const VampFeature *f = &fu[j].v1;
        double t = tv[j];
        if (t < o->last_t) {
            s->host->error(s->host, "the Vamp plugin %s gave output '%s' a feature at %.9g s after one at %.9g s "
                                    "(out of time order)",
                           s->vp->key, s->vp->d.outputs[o - s->ports].name, t, o->last_t);
            rc = -1;
            break;
        }
        o->last_t = t;
        float dur = NAN;
        if (o->dur && v2 && fu[nf + j].v2.hasDuration)
            dur = (float)(fu[nf + j].v2.durationSec + fu[nf + j].v2.durationNsec / 1e9);
        if (o->kind == O_VARBINS) {
            for (uint32_t c = 0; c < f->valueCount || (c == 0 && f->valueCount == 0); c++) {
                row[0] = f->valueCount ? (float)c : NAN;
                row[1] = f->valueCount ? f->values[c] : NAN;
                if (o->dur)
                    row[2] = dur;
                if (q_push(&o->q, row, t) < 0) {
                    rc = -2;
                    break;
                }
            }
        } else {
            uint32_t nv = nc - (uint32_t)o->dur;
            if (o->bins == 0 && nv == 1)
                row[0] = 1.0f; /* a marker */
            else
                for (uint32_t c = 0; c < nv; c++)
                    row[c] = c < f->valueCount ? f->values[c] : NAN;
            if (o->dur)
                row[nc - 1] = dur;
            if (q_push(&o->q, row, t) < 0)
                rc = -2;
        }
    }
    if (order != order_buf)
        free(order);
    free(tv);
    if (rc == -2)
        goto oom;
    return rc;
oom:
    s->host->error(s->host, "out of memory for the features of %s", s->vp->key);
    return -1;
}

/* Give the plugin the block now in s->buf, as step number s->steps. */
static int run_step(vinst *s)
{
    long frame = (long)(s->steps * s->step);
    rtime ts = frame_time(frame, s->rate);
    long shown = frame; /* the frame a one-sample-per-step result belongs to */
    const float *const *in = (const float *const *)s->buf;
    if (s->freq) {
        /* the adapter's timestamp: the block's centre, nudged up a
         * nanosecond when that keeps it from rounding to the frame before */
        rtime adj = frame_time(s->block / 2, s->rate);
        ts = rt_norm((long long)ts.sec + adj.sec, (long long)ts.nsec + adj.nsec);
        rtime up = rt_norm(ts.sec, (long long)ts.nsec + 1);
        if (time_frame(ts, s->rate) < time_frame(up, s->rate))
            ts = up;
        shown = frame + (long)(s->block / 2);
        uint32_t half = s->block / 2;
        for (uint32_t c = 0; c < s->plug_ch; c++) {
            for (uint32_t i = 0; i < s->block; i++)
                s->fin[i] = s->buf[c][i] * s->win[i];
            for (uint32_t i = 0; i < half; i++) { /* rotate: phase about the centre */
                double v = s->fin[i];
                s->fin[i] = s->fin[i + half];
                s->fin[i + half] = v;
            }
            fftw_execute_dft_r2c(s->plan, s->fin, s->fout);
            for (uint32_t i = 0; i <= half; i++) {
                s->fbuf[c][2 * i] = (float)s->fout[i][0];
                s->fbuf[c][2 * i + 1] = (float)s->fout[i][1];
            }
        }
        in = (const float *const *)s->fbuf;
    }
    VampFeatureList *fl = s->vd->process(s->h, in, ts.sec, ts.nsec);
    s->steps++;
    /* a plugin may return no list at all when no output has a result: a
     * step without results all the same (one-sample-per-step outputs
     * still get their row, of NaN) */
    static const VampFeatureList none = {0, NULL};
    int rc = 0;
    for (uint32_t p = 0; p < s->n_ports && !rc; p++)
        rc = take(s, &s->ports[p], fl ? &fl[s->ports[p].vi] : &none, (double)shown / s->sr, 1);
    if (fl && s->vd->releaseFeatureSet)
        s->vd->releaseFeatureSet(fl);
    return rc;
}

/* After a step: the block moves on by one step. */
static void shift(vinst *s)
{
    uint32_t keep = s->block - s->step;
    for (uint32_t c = 0; c < s->plug_ch; c++)
        memmove(s->buf[c], s->buf[c] + s->step, keep * sizeof **s->buf);
    s->fill = s->fill > s->step ? s->fill - s->step : 0;
}

static int drain(vinst *s, joule_buffer *out)
{
    int more = 0;
    for (uint32_t p = 0; p < s->n_ports; p++)
        more |= q_drain(&s->ports[p].q, &out[p], s->ports[p].kind != O_FRAMES);
    return more;
}

static int vamp_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    vinst *s = self;
    (void)port;
    const float *x = in->data;
    uint32_t nc = in->n_columns;
    for (uint32_t r = 0; r < in->n_rows; r++, x += nc) {
        uint32_t f = s->fill;
        if (s->mix) {
            float m = x[0];
            for (uint32_t c = 1; c < s->in_ch; c++)
                m += x[c];
            s->buf[0][f] = m / (float)s->in_ch;
        } else
            for (uint32_t c = 0; c < s->plug_ch; c++)
                s->buf[c][f] = x[c];
        if (++s->fill == s->block) {
            if (run_step(s) < 0)
                return JOULE_ERROR;
            shift(s);
        }
    }
    return drain(s, out) ? JOULE_MORE : JOULE_OK;
}

static int vamp_finish(void *self, joule_buffer *out)
{
    vinst *s = self;
    if (!s->ended) {
        s->ended = 1;
        /* the zero-padded blocks that carry the last samples through every
         * position of a block, as many as vamp-simple-host gives */
        uint32_t tail = s->block / s->step > 1 ? s->block / s->step - 1 : 1;
        for (uint32_t k = 0; k < tail; k++) {
            for (uint32_t c = 0; c < s->plug_ch; c++)
                memset(s->buf[c] + s->fill, 0, (s->block - s->fill) * sizeof **s->buf);
            if (run_step(s) < 0)
                return JOULE_ERROR;
            shift(s);
        }
        if (s->vd->getRemainingFeatures) {
            VampFeatureList *fl = s->vd->getRemainingFeatures(s->h);
            double t = ((double)s->steps * s->step + (s->freq ? s->block / 2 : 0)) / s->sr;
            int rc = 0;
            if (fl)
                for (uint32_t p = 0; p < s->n_ports && !rc; p++)
                    rc = take(s, &s->ports[p], &fl[s->ports[p].vi], t, 0);
            if (fl && s->vd->releaseFeatureSet)
                s->vd->releaseFeatureSet(fl);
            if (rc < 0)
                return JOULE_ERROR;
        }
        for (uint32_t p = 0; p < s->n_ports; p++)
            if (s->ports[p].dropped)
                s->host->log(s->host, JOULE_LOG_WARN,
                             "output '%s': %u steps gave more than one result; the first of each was kept",
                             s->vp->d.outputs[p].name, s->ports[p].dropped);
    }
    return drain(s, out) ? JOULE_OK : JOULE_END;
}

static void vamp_close(void *self)
{
    vinst *s = self;
    if (!s)
        return;
    s->host->lock(s->host, PLANNER_LOCK);
    if (s->h)
        s->vd->cleanup(s->h);
    if (s->plan)
        fftw_destroy_plan(s->plan);
    s->host->unlock(s->host, PLANNER_LOCK);
    fftw_free(s->fin);
    fftw_free(s->fout);
    free(s->win);
    for (uint32_t c = 0; c < s->plug_ch; c++) {
        if (s->buf)
            free(s->buf[c]);
        if (s->fbuf)
            free(s->fbuf[c]);
    }
    free(s->buf);
    free(s->fbuf);
    for (uint32_t p = 0; p < s->n_ports; p++) {
        jp_names_free(&s->ports[p].names);
        free(s->ports[p].units);
        free(s->ports[p].unit);
        free(s->ports[p].q.rows);
        free(s->ports[p].q.times);
    }
    free(s->ports);
    free(s->scratch);
    free(s);
}

/* Set the plugin's parameters from the node's values. */
static void set_params(vinst *s, const joule_value *v)
{
    const vplug *vp = s->vp;
    for (uint32_t i = 0; i < vp->n_vparams; i++) {
        const VampParameterDescriptor *p = vp->vd->parameters[i];
        const joule_param *jp = &vp->d.params[i];
        float val;
        switch (jp->type) {
        case JOULE_PARAM_ENUM: val = p->minValue + (float)v[i].e * p->quantizeStep; break;
        case JOULE_PARAM_BOOL: val = v[i].b ? 1.0f : 0.0f; break;
        case JOULE_PARAM_INT: val = (float)v[i].i; break;
        default: val = (float)v[i].f; break;
        }
        if (s->vd->setParameter)
            s->vd->setParameter(s->h, (int)i, val);
    }
}

/* Columns of output port p, from its Vamp descriptor; -1 after error. */
static int make_port(vinst *s, uint32_t p, const VampOutputDescriptor *o)
{
    oport *op = &s->ports[p];
    const char *pname = s->vp->d.outputs[p].name;
    op->kind = out_kind(o);
    op->dur = op->kind != O_FRAMES && has_duration(s->vd, o);
    op->bins = o->hasFixedBinCount ? o->binCount : 0;
    op->per_step = o->sampleType == vampOneSamplePerStep;
    op->orate = o->sampleType == vampFixedSampleRate && o->sampleRate > 0 ? o->sampleRate : 0;
    op->fcount = -1;
    op->last_t = -INFINITY;
    uint32_t nv = op->kind == O_VARBINS ? 2 : op->bins ? op->bins : (op->dur ? 0 : 1);
    uint32_t nc = nv + (uint32_t)op->dur;
    if (jp_names_init(&op->names, nc) < 0)
        return -1;
    op->units = calloc(nc, sizeof *op->units);
    if (!op->units)
        return -1;
    if (!(op->unit = strdup(o->unit ? o->unit : "")))
        return -1;
    const char *unit = op->unit;
    for (uint32_t c = 0; c < nv; c++) {
        char *bn = op->kind == O_FIXED || op->kind == O_FRAMES
                       ? (o->binNames && o->binNames[c] ? jb_colname(o->binNames[c]) : NULL)
                       : NULL;
        int rc;
        if (op->kind == O_VARBINS)
            rc = jp_names_set(&op->names, c, "%s", c == 0 ? "bin" : "value");
        else if (op->bins == 0)
            rc = jp_names_set(&op->names, c, "marker");
        else if (bn && !jb_taken((const char *const *)op->names.v, c, bn) && strcmp(bn, "duration"))
            rc = jp_names_set(&op->names, c, "%s", bn);
        else if (op->bins == 1)
            rc = jp_names_set(&op->names, c, "%s", pname);
        else
            rc = jp_names_set(&op->names, c, "%s_%u", pname, c);
        free(bn);
        if (rc < 0)
            return -1;
        op->units[c] = op->kind == O_VARBINS && c == 0 ? "" : op->bins == 0 && op->kind != O_VARBINS ? "" : unit;
    }
    if (op->dur) {
        if (jp_names_set(&op->names, nv, "duration") < 0)
            return -1;
        op->units[nv] = "s";
    }
    op->q.n_cols = nc;
    return 0;
}

static int vamp_open(const joule_open_args *a, void **self)
{
    const joule_host *host = a->host;
    if (a->struct_size <= offsetof(joule_open_args, descriptor) || !a->descriptor) {
        host->error(host, "this joule is too old to run Vamp plugins (it does not say which plugin is opened)");
        return JOULE_ERROR;
    }
    const vplug *vp = (const vplug *)a->descriptor;
    const VampPluginDescriptor *vd = vp->vd;
    const joule_format *inf = &a->inputs[0];
    vinst *s = calloc(1, sizeof *s);
    if (!s) {
        host->error(host, "out of memory");
        return JOULE_ERROR;
    }
    *self = s;
    s->vp = vp;
    s->vd = vd;
    s->host = host;
    s->sr = inf->rate;
    s->in_ch = inf->n_columns;
    if (!(inf->rate >= 1 && inf->rate < 1e7)) {
        host->error(host, "%s needs audio at a sample rate, not %g rows per second", vp->key, inf->rate);
        return JOULE_ERROR;
    }
    s->rate = (unsigned)lround(inf->rate);
    s->freq = vd->inputDomain == vampFrequencyDomain;
    host->lock(host, PLANNER_LOCK);
    s->h = vd->instantiate(vd, (float)inf->rate);
    host->unlock(host, PLANNER_LOCK);
    if (!s->h) {
        host->error(host, "the Vamp plugin %s could not be made for %g Hz", vp->key, inf->rate);
        return JOULE_ERROR;
    }
    const joule_value *v = a->params;
    set_params(s, v);

    /* channels */
    unsigned minch = vd->getMinChannelCount ? vd->getMinChannelCount(s->h) : 1;
    unsigned maxch = vd->getMaxChannelCount ? vd->getMaxChannelCount(s->h) : 1;
    if (s->in_ch < minch) {
        host->error(host, "the Vamp plugin %s takes at least %u channels; the input has %u", vp->key, minch,
                     s->in_ch);
        return JOULE_ERROR;
    }
    s->plug_ch = s->in_ch;
    if (s->in_ch > maxch) {
        s->plug_ch = maxch ? maxch : 1;
        s->mix = s->plug_ch == 1;
        if (!s->mix)
            host->log(host, JOULE_LOG_WARN, "%s takes at most %u channels: the input's first %u are given to it",
                      vp->key, maxch, maxch);
    }

    /* block and step: the graph's, else the plugin's preferences, as
     * vamp-simple-host settles them */
    uint32_t np = vp->n_vparams;
    int64_t want_block = v[np + B_BLOCK].i, want_step = v[np + B_STEP].i;
    uint32_t block = want_block > 0 ? (uint32_t)want_block
                                    : vd->getPreferredBlockSize ? vd->getPreferredBlockSize(s->h) : 0;
    if (block == 0)
        block = 1024;
    if (s->freq && block % 2) {
        if (want_block > 0) {
            host->error(host, "block_size %u is odd: a frequency-domain plugin needs an even one", block);
            return JOULE_ERROR;
        }
        block++;
    }
    uint32_t step = want_step > 0 ? (uint32_t)want_step
                                  : vd->getPreferredStepSize ? vd->getPreferredStepSize(s->h) : 0;
    if (step == 0)
        step = s->freq ? block / 2 : block;
    if (step > block) {
        if (want_block > 0) {
            host->error(host, "step_size %u is larger than block_size %u", step, block);
            return JOULE_ERROR;
        }
        block = s->freq ? step * 2 : step;
    }
    if (block > MAX_BLOCK || step == 0) {
        host->error(host, "the Vamp plugin %s asks for blocks of %u samples, more than %d", vp->key, block,
                     MAX_BLOCK);
        return JOULE_ERROR;
    }
    s->block = block;
    s->step = step;
    host->lock(host, PLANNER_LOCK);
    int started = vd->initialise(s->h, s->plug_ch, step, block);
    host->unlock(host, PLANNER_LOCK);
    if (!started) {
        host->error(host, "the Vamp plugin %s refused to start with %u channel%s, step %u and block %u samples",
                     vp->key, s->plug_ch, s->plug_ch == 1 ? "" : "s", step, block);
        return JOULE_ERROR;
    }

    /* the outputs, as the plugin now describes them */
    s->n_ports = vp->d.n_outputs;
    s->ports = calloc(s->n_ports, sizeof *s->ports);
    if (!s->ports)
        goto oom;
    unsigned n_out = vd->getOutputCount(s->h);
    uint32_t widest = 1;
    for (uint32_t p = 0; p < s->n_ports; p++) {
        VampOutputDescriptor *o = NULL;
        for (unsigned k = 0; k < n_out && !o; k++) {
            o = vd->getOutputDescriptor(s->h, k);
            if (o && strcmp(o->identifier, vp->out_ids[p])) {
                if (vd->releaseOutputDescriptor)
                    vd->releaseOutputDescriptor(o);
                o = NULL;
            } else
                s->ports[p].vi = k;
        }
        if (!o) {
            host->error(host, "the Vamp plugin %s has no output '%s' once started with these parameters", vp->key,
                         vp->out_ids[p]);
            return JOULE_ERROR;
        }
        int kind = out_kind(o) == O_FRAMES ? JOULE_FRAMES : JOULE_EVENTS;
        int rc = kind == (int)vp->d.outputs[p].kinds ? make_port(s, p, o) : -2;
        if (vd->releaseOutputDescriptor)
            vd->releaseOutputDescriptor(o);
        if (rc == -2) {
            host->error(host, "output '%s' of the Vamp plugin %s changes kind with these parameters (it was listed "
                              "as %s)",
                         vp->out_ids[p], vp->key, kind == JOULE_FRAMES ? "events" : "frames");
            return JOULE_ERROR;
        }
        if (rc < 0)
            goto oom;
        oport *op = &s->ports[p];
        joule_format *of = &a->outputs[p];
        of->kind = (uint32_t)kind;
        of->n_columns = op->q.n_cols;
        of->names = (const char *const *)op->names.v;
        of->units = op->units;
        if (kind == JOULE_FRAMES) {
            of->rate = inf->rate / step;
            of->t0 = inf->t0 + (s->freq ? (double)(block / 2) / inf->rate : 0);
        } else {
            of->rate = op->orate > 0 ? op->orate : inf->rate;
            of->t0 = inf->t0;
        }
        of->out_num = 1;
        of->out_den = 1;
        if (op->q.n_cols > widest)
            widest = op->q.n_cols;
    }
    s->scratch = calloc(widest, sizeof *s->scratch);
    s->buf = calloc(s->plug_ch, sizeof *s->buf);
    if (!s->scratch || !s->buf)
        goto oom;
    for (uint32_t c = 0; c < s->plug_ch; c++)
        if (!(s->buf[c] = calloc(block, sizeof **s->buf)))
            goto oom;
    if (s->freq) {
        s->fbuf = calloc(s->plug_ch, sizeof *s->fbuf);
        s->win = malloc(block * sizeof *s->win);
        s->fin = fftw_malloc(block * sizeof *s->fin);
        s->fout = fftw_malloc((block / 2 + 1) * sizeof *s->fout);
        if (!s->fbuf || !s->win || !s->fin || !s->fout)
            goto oom;
        for (uint32_t c = 0; c < s->plug_ch; c++)
            if (!(s->fbuf[c] = calloc(block + 2, sizeof **s->fbuf)))
                goto oom;
        set_window(s->win, block, v[np + B_WINDOW].e);
        host->lock(host, PLANNER_LOCK);
        s->plan = fftw_plan_dft_r2c_1d((int)block, s->fin, s->fout, FFTW_ESTIMATE);
        host->unlock(host, PLANNER_LOCK);
        if (!s->plan) {
            host->error(host, "FFTW could not plan a transform of %u points", block);
            return JOULE_ERROR;
        }
    }
    return JOULE_OK;
oom:
    host->error(host, "out of memory");
    return JOULE_ERROR;
}

/* ---- the entry point ---------------------------------------------------- */

static void list_once(void)
{
    list_all();
    for (size_t i = 0; i < plugins.n; i++) {
        joule_descriptor *d = (joule_descriptor *)plugins.v[i];
        d->open = vamp_open;
        d->process = vamp_process;
        d->finish = vamp_finish;
        d->close = vamp_close;
    }
}

JOULE_PLUGIN_EXPORT const char joule_plugin_bridge[] = "Vamp plugins on VAMP_PATH, or in the standard folders";

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    pthread_once(&listed, list_once);
    return index < plugins.n ? plugins.v[index] : NULL;
}
