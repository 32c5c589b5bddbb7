/* ladspa.c — LADSPA effect plugins as joule nodes.
 *
 * At load, every LADSPA library on the LADSPA path (LADSPA_PATH when it is
 * set, even to nothing; else the standard folders: bridge_paths.h) is
 * opened and each plugin in it is offered as a joule filter named
 * ladspa_<library>_<label> (the library file's name without ".so" and the
 * plugin's label, as identifiers): the SDK's filter.so gives
 * ladspa_filter_lpf and ladspa_filter_hpf, CMT's cmt.so ladspa_cmt_lpf.
 * When two plugins come out with the same name, the first found wins
 * (folders in path order, files sorted by name).
 *
 * Offered: plugins with at least one audio input and something to give
 * back (audio outputs, control outputs, or both). Generators (no audio
 * input) are left out: a joule filter needs an input to be driven by.
 *
 * What runs is what the SDK's applyplugin does, so that the samples equal
 * its own:
 *
 *   - Blocks. run() is called on blocks of exactly `block` samples (2048
 *     by default, applyplugin's size), the last one shorter, whatever
 *     chunks the host passes: the output does not depend on chunking. A
 *     last block of no samples is not run (applyplugin calls run(0) when
 *     the length is a multiple of its block; that produces nothing).
 *   - In place. Audio input i and audio output i share one buffer, as in
 *     applyplugin, unless the plugin says it cannot work in place
 *     (LADSPA_PROPERTY_INPLACE_BROKEN), which then gets buffers of its own.
 *   - Channels. With a audio inputs and C input channels: one instance
 *     when C == a; one per channel when a == 1 (a mono effect on each
 *     channel); C/a instances, each on a consecutive group of a channels,
 *     when a divides C; otherwise the node fails.
 *   - Parameters are the plugin's control inputs, typed from the port's
 *     hints (integer, toggled, else float), with the bounds and the
 *     default the hints give (see make_param). Bounds that are multiples
 *     of the sample rate (LADSPA_HINT_SAMPLE_RATE) are checked at open,
 *     when the rate is known.
 *
 * Outputs: "out", the audio outputs of every instance (a signal at the
 * input's rate); "controls", the control outputs of every instance, one
 * row per block run (a frames stream at rate / block), when the plugin has
 * control outputs. Because of the blocks a call may have more rows to give
 * than the host's buffers hold: they wait in a queue and process returns
 * JOULE_MORE. The output lags the input by up to a block, so it is never
 * declared in place. */
#define _GNU_SOURCE 1
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include "bridge.h"
#include "bridge_paths.h"

#include <ladspa.h>

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BLOCK "2048" /* applyplugin's BUFFER_SIZE */
#define MAX_BLOCK 65536
#define MAX_PORTS 4096
/* Some plugins' instantiate, activate and cleanup touch tables shared by
 * all their instances without a lock (LADSPA says nothing on threads), and
 * some plan FFTW transforms there (swh-plugins' FFT effects): FFTW's
 * planner is process-wide and not thread-safe, and joule's own plugins
 * plan under the host lock "fftw-planner". Those calls take that lock.
 * run() does not: instances are independent, as every multi-threaded
 * LADSPA host assumes. */
#define LADSPA_LOCK "fftw-planner"
/* The rate at which defaults relative to the sample rate are computed
 * (see make_param). */
#define REF_RATE 44100.0

/* A LADSPA plugin offered as a joule plugin. */
typedef struct lplug {
    joule_descriptor d; /* first: open finds the lplug from args->descriptor */
    const LADSPA_Descriptor *ld;
    char *key;        /* for messages: "'lpf' (1041, /usr/lib/ladspa/filter.so)" */
    uint32_t n_ain, n_aout, n_cin, n_cout;
    unsigned long *ain, *aout, *cin, *cout; /* port indices of each kind */
    unsigned char *rel_def;                 /* per control input: its declared default
                                               is the plugin's at 44100 Hz (make_param) */
    int has_out, has_ctl;                   /* which joule outputs exist */
} lplug;

/* ---- listing ------------------------------------------------------------ */

static jb_list plugins;
static pthread_once_t listed = PTHREAD_ONCE_INIT;

/* The shortest decimal text that reads back as float f (at most 9
 * significant digits): "0.45", not "0.449999988". Declared bounds and
 * defaults use it, so that the number a user copies from `joule inspect`
 * is accepted and gives the port exactly the float it names. */
static char *float_text(float f)
{
    char buf[64];
    /* whole digits in full: "440", not "4.4e+02" */
    double m = fabs((double)f);
    int p = m >= 1 && m < 1e9 ? (int)floor(log10(m)) + 1 : 1;
    for (; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return jb_strdup(buf);
}

static double float_value(float f)
{
    char *t = float_text(f);
    double v = strtod(t, NULL);
    free(t);
    return v;
}

/* Which bounds of a port count: those its hints give, if finite; none
 * when the lower is above the upper (rather than a range nothing fits). */
static void port_bounds(const LADSPA_PortRangeHint *rh, int *has_lo, int *has_hi)
{
    int h = rh->HintDescriptor;
    *has_lo = LADSPA_IS_HINT_BOUNDED_BELOW(h) && isfinite(rh->LowerBound);
    *has_hi = LADSPA_IS_HINT_BOUNDED_ABOVE(h) && isfinite(rh->UpperBound);
    if (*has_lo && *has_hi && !(rh->LowerBound <= rh->UpperBound))
        *has_lo = *has_hi = 0;
}

/* The default the port's hints ask for, as the port would get it, given
 * bounds lo and hi (already multiplied by a rate where relative to it);
 * 0 with *found = 0 when the hints give none. */
static double hint_default(int h, int has_lo, double lo, int has_hi, double hi, int *found)
{
    int both = has_lo && has_hi;
    int lg = LADSPA_IS_HINT_LOGARITHMIC(h) && both && lo > 0 && hi > 0;
    double w = -1; /* weight of hi between the bounds */
    *found = 1;
    switch (h & LADSPA_HINT_DEFAULT_MASK) {
    case LADSPA_HINT_DEFAULT_MINIMUM:
        if (has_lo)
            return lo;
        break;
    case LADSPA_HINT_DEFAULT_MAXIMUM:
        if (has_hi)
            return hi;
        break;
    case LADSPA_HINT_DEFAULT_LOW: w = 0.25; break;
    case LADSPA_HINT_DEFAULT_MIDDLE: w = 0.5; break;
    case LADSPA_HINT_DEFAULT_HIGH: w = 0.75; break;
    case LADSPA_HINT_DEFAULT_0: return 0;
    case LADSPA_HINT_DEFAULT_1: return 1;
    case LADSPA_HINT_DEFAULT_100: return 100;
    case LADSPA_HINT_DEFAULT_440: return 440;
    default: break;
    }
    if (w >= 0 && both)
        return lg ? exp(log(lo) * (1 - w) + log(hi) * w) : lo * (1 - w) + hi * w;
    *found = 0;
    return 0;
}

/* The joule declaration of control input port `port` of ld.
 *
 * Types: INTEGER -> int, TOGGLED -> bool (the port gets 1 or 0), else
 * float. Bounds: the port's, as declared bounds; when they are relative
 * to the sample rate, none are declared and open checks the value (in Hz)
 * against them once the rate is known. Defaults: ladspa.h's rules for the
 * LADSPA_HINT_DEFAULT_* hints. Where the hints give none, the lower bound
 * if there is one, else 0 (moved into the range). A default relative to
 * the sample rate (the lower bound, "middle" ... of bounds that are
 * multiples of it) cannot be declared as a number that holds at every
 * rate: it is computed at 44100 Hz and the help says so. Returns whether
 * it is such a default: open then gives a parameter left at it the
 * plugin's default at the input's rate (a default computed at 44100 Hz
 * may be out of the bounds at 48000). */
/* The default of control input `port` of ld at `rate` (in Hz where the
 * port is relative to the sample rate): ladspa.h's rules for the hints;
 * where they give none, the lower bound if there is one, else 0; moved
 * into the range (a default outside it would refuse every graph). *rel:
 * whether it depends on the rate; *found: whether the hints gave it. */
static double port_default(const LADSPA_Descriptor *ld, unsigned long port, double rate, int *rel, int *found)
{
    const LADSPA_PortRangeHint *rh = &ld->PortRangeHints[port];
    int h = rh->HintDescriptor;
    int sr = LADSPA_IS_HINT_SAMPLE_RATE(h) != 0;
    int has_lo, has_hi;
    port_bounds(rh, &has_lo, &has_hi);
    double lo = has_lo ? float_value(rh->LowerBound) : 0, hi = has_hi ? float_value(rh->UpperBound) : 0;
    double scale = sr ? rate : 1;
    double def = hint_default(h, has_lo, lo * scale, has_hi, hi * scale, found);
    *rel = sr && *found && (h & LADSPA_HINT_DEFAULT_MASK) <= LADSPA_HINT_DEFAULT_MAXIMUM &&
           def != 0; /* 0 at every rate is no reference to one */
    if (!*found) {
        def = has_lo ? lo * scale : 0;
        *rel = sr && has_lo && lo != 0;
    }
    if (has_hi && def > hi * scale)
        def = hi * scale;
    if (has_lo && def < lo * scale)
        def = lo * scale;
    return def;
}

static int make_param(joule_param *jp, const LADSPA_Descriptor *ld, unsigned long port, const char *name)
{
    const LADSPA_PortRangeHint *rh = &ld->PortRangeHints[port];
    int h = rh->HintDescriptor;
    int sr = LADSPA_IS_HINT_SAMPLE_RATE(h) != 0;
    int has_lo, has_hi;
    port_bounds(rh, &has_lo, &has_hi);
    float flo = rh->LowerBound, fhi = rh->UpperBound;
    double lo = has_lo ? float_value(flo) : 0, hi = has_hi ? float_value(fhi) : 0;
    int found, def_sr;
    double def = port_default(ld, port, REF_RATE, &def_sr, &found);

    jp->name = name;
    jp->unit = sr ? "Hz" : "";
    if (LADSPA_IS_HINT_TOGGLED(h)) {
        jp->type = JOULE_PARAM_BOOL;
        jp->def = def > 0 ? "true" : "false";
    } else if (LADSPA_IS_HINT_INTEGER(h) &&
               !(has_lo && has_hi && !sr && ceil(lo) > floor(hi))) { /* an integer fits */
        jp->type = JOULE_PARAM_INT;
        double d = fabs(def) < 1e15 ? nearbyint(def) : 0; /* an integer joule reads back */
        if (!sr) {
            if (has_lo) {
                jp->flags |= JOULE_PARAM_HAS_MIN;
                jp->min = ceil(lo) + 0.0; /* + 0.0: not -0 */
                d = d < jp->min ? jp->min : d;
            }
            if (has_hi) {
                jp->flags |= JOULE_PARAM_HAS_MAX;
                jp->max = floor(hi) + 0.0;
                d = d > jp->max ? jp->max : d;
            }
        }
        jp->def = jb_printf("%.0f", d + 0.0);
    } else {
        jp->type = JOULE_PARAM_FLOAT;
        if (!sr) {
            jp->flags = (has_lo ? JOULE_PARAM_HAS_MIN : 0) | (has_hi ? JOULE_PARAM_HAS_MAX : 0);
            jp->min = lo;
            jp->max = hi;
        }
        char *t = float_text((float)def);
        double back = strtod(t, NULL);
        if ((jp->flags & JOULE_PARAM_HAS_MIN && back < jp->min) || (jp->flags & JOULE_PARAM_HAS_MAX && back > jp->max)) {
            free(t); /* cannot happen with bounds and default both shortest texts of floats; still */
            t = jb_printf("%.17g", def);
        }
        jp->def = t;
    }

    /* help: the port's name, then its hints in words */
    char words[400] = "";
    size_t w = 0;
#define SAY(...) (w += (size_t)snprintf(words + (w < sizeof words ? w : 0), w < sizeof words ? sizeof words - w : 0, __VA_ARGS__))
    if (LADSPA_IS_HINT_TOGGLED(h))
        SAY("; toggled (the port gets 1 or 0)");
    if (LADSPA_IS_HINT_INTEGER(h) && jp->type == JOULE_PARAM_INT)
        SAY("; integer");
    if (LADSPA_IS_HINT_LOGARITHMIC(h))
        SAY("; logarithmic");
    if (sr && (has_lo || has_hi)) {
        char *a = float_text(flo), *b = float_text(fhi);
        if (has_lo && has_hi)
            SAY("; between %s and %s × the sample rate", a, b);
        else if (has_lo)
            SAY("; at least %s × the sample rate", a);
        else
            SAY("; at most %s × the sample rate", b);
        SAY(" (checked when the rate is known)");
        free(a);
        free(b);
    } else if (sr)
        SAY("; relative to the sample rate");
    else if (has_lo && has_hi) /* as declared: an integer's are whole */
        SAY("; from %.9g to %.9g", jp->type == JOULE_PARAM_INT ? jp->min : lo, jp->type == JOULE_PARAM_INT ? jp->max : hi);
    else if (has_lo)
        SAY("; at least %.9g", jp->type == JOULE_PARAM_INT ? jp->min : lo);
    else if (has_hi)
        SAY("; at most %.9g", jp->type == JOULE_PARAM_INT ? jp->max : hi);
    if (def_sr)
        SAY("; the plugin's default is relative to the sample rate: the one shown is at 44100 Hz, and a "
            "parameter left at it takes the plugin's default at the input's rate");
    else if (!found)
        SAY("; the plugin suggests no default: the lower bound, or 0, is declared");
#undef SAY
    const char *pn = ld->PortNames[port] ? ld->PortNames[port] : name;
    char *help = w ? jb_printf("%s: %s.", pn, words + 2) : jb_printf("%s.", pn);
    jp->help = jb_text(help, 0);
    free(help);
    return jp->type != JOULE_PARAM_BOOL && def_sr;
}

/* Is port descriptor pd one LADSPA allows: input or output, audio or
 * control, not both? */
static int port_ok(LADSPA_PortDescriptor pd)
{
    return !LADSPA_IS_PORT_INPUT(pd) != !LADSPA_IS_PORT_OUTPUT(pd) &&
           !LADSPA_IS_PORT_AUDIO(pd) != !LADSPA_IS_PORT_CONTROL(pd);
}

/* Build the joule descriptor of LADSPA plugin ld from library `path`
 * (file name without .so: `lib`); NULL when it is not offered. */
static lplug *describe(const LADSPA_Descriptor *ld, const char *path, const char *lib)
{
    if (!ld->Label || !ld->instantiate || !ld->connect_port || !ld->run || !ld->cleanup ||
        !ld->PortDescriptors || !ld->PortRangeHints || !ld->PortNames || ld->PortCount > MAX_PORTS)
        return NULL;
    uint32_t na[4] = {0, 0, 0, 0}; /* audio in, audio out, control in, control out */
    for (unsigned long p = 0; p < ld->PortCount; p++) {
        LADSPA_PortDescriptor pd = ld->PortDescriptors[p];
        if (!port_ok(pd))
            return NULL;
        na[(LADSPA_IS_PORT_CONTROL(pd) ? 2 : 0) + (LADSPA_IS_PORT_OUTPUT(pd) ? 1 : 0)]++;
    }
    if (na[0] == 0 || (na[1] == 0 && na[3] == 0))
        return NULL;
    lplug *lp = jb_alloc(sizeof *lp);
    lp->ld = ld;
    lp->n_ain = na[0];
    lp->n_aout = na[1];
    lp->n_cin = na[2];
    lp->n_cout = na[3];
    unsigned long *idx[4];
    idx[0] = lp->ain = jb_alloc(na[0] * sizeof *lp->ain);
    idx[1] = lp->aout = jb_alloc(na[1] * sizeof *lp->aout);
    idx[2] = lp->cin = jb_alloc(na[2] * sizeof *lp->cin);
    idx[3] = lp->cout = jb_alloc(na[3] * sizeof *lp->cout);
    lp->rel_def = jb_alloc(na[2] + 1);
    uint32_t k[4] = {0, 0, 0, 0};
    for (unsigned long p = 0; p < ld->PortCount; p++) {
        LADSPA_PortDescriptor pd = ld->PortDescriptors[p];
        int c = (LADSPA_IS_PORT_CONTROL(pd) ? 2 : 0) + (LADSPA_IS_PORT_OUTPUT(pd) ? 1 : 0);
        idx[c][k[c]++] = p;
    }
    char *key = jb_printf("'%s' (%lu, %s)", ld->Label, ld->UniqueID, path);
    lp->key = jb_text(key, 0);
    free(key);

    /* parameters: one per control input, then the bridge's `block` */
    uint32_t np = lp->n_cin + 1;
    joule_param *params = jb_alloc(np * sizeof *params);
    enum { N_RESERVED = 4 };
    const char **pnames = jb_alloc((np + N_RESERVED) * sizeof *pnames);
    static const char *const reserved[N_RESERVED] = {"plugin", "input", "cache", "block"};
    for (size_t r = 0; r < N_RESERVED; r++)
        pnames[r] = reserved[r];
    for (uint32_t i = 0; i < lp->n_cin; i++) {
        pnames[N_RESERVED + i] = jb_ident(ld->PortNames[lp->cin[i]]);
        jb_unique(pnames, N_RESERVED + i);
        lp->rel_def[i] = (unsigned char)make_param(&params[i], ld, lp->cin[i], pnames[N_RESERVED + i]);
    }
    free(pnames); /* the names stay, in params */
    params[lp->n_cin] = (joule_param){
        .name = "block", .type = JOULE_PARAM_INT, .flags = JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
        .def = DEFAULT_BLOCK, .min = 1, .max = MAX_BLOCK, .unit = "rows",
        .help = "Samples per run() of the plugin (the last block of a file is shorter); 2048, as the LADSPA "
                "SDK's applyplugin. The output does not depend on the host's chunks; it may depend on this "
                "(the plugin's control outputs are one row per block)."};

    /* ports */
    static const joule_port in = {"in", JOULE_SIGNAL, 0,
                                  "audio: as many channels as the plugin's audio inputs, or a multiple of them "
                                  "(one instance per group of channels)"};
    joule_port *outs = jb_alloc(2 * sizeof *outs);
    uint32_t n_out = 0;
    if (lp->n_aout) {
        lp->has_out = 1;
        outs[n_out++] = (joule_port){"out", JOULE_SIGNAL, 0,
                                     "the plugin's audio outputs, for every instance, at the input's rate"};
    }
    if (lp->n_cout) {
        lp->has_ctl = 1;
        outs[n_out++] = (joule_port){"controls", JOULE_FRAMES, 0,
                                     "the plugin's control outputs after each block run, for every instance: "
                                     "one row per block"};
    }

    char *libid = jb_ident(lib), *label = jb_ident(ld->Label);
    joule_descriptor *d = &lp->d;
    d->abi_version = JOULE_ABI_VERSION;
    d->struct_size = sizeof *d;
    d->name = jb_printf("ladspa_%s_%s", libid, label);
    free(libid);
    free(label);
    /* LADSPA plugins carry no version: 1.0.0, tagged with the library
     * file so that the stage cache notices an upgrade */
    d->version = jb_version("1.0.0", path);
    char *summary = jb_printf("%s (LADSPA)", ld->Name && ld->Name[0] ? ld->Name : ld->Label);
    d->summary = jb_text(summary, 0);
    free(summary);
    d->role = JOULE_ROLE_FILTER;
    d->n_params = np;
    d->params = params;
    d->n_inputs = 1;
    d->inputs = &in;
    d->n_outputs = n_out;
    d->outputs = outs;
    /* LADSPA promises no allocation in run() only for plugins that say
     * they are hard real-time capable; for the others, plugin-test
     * reports what run() allocates rather than failing it */
    d->flags = LADSPA_IS_HARD_RT_CAPABLE(ld->Properties) ? 0 : JOULE_DESC_ALLOCATES;
    d->maker = ld->Maker && ld->Maker[0] ? jb_text(ld->Maker, 0) : NULL;
    /* LADSPA's Copyright is free text ("GPL", "None"), not an SPDX
     * expression: it goes in the description, the licence stays unknown */
    d->license = NULL;
    char *text = jb_printf(
        "LADSPA plugin %lu '%s' from %s, run through joule's LADSPA bridge: %u audio input%s, %u audio "
        "output%s, %u control input%s (the parameters), %u control output%s.%s\n\n"
        "run() is called on blocks of `block` samples (2048 by default, as the LADSPA SDK's applyplugin), "
        "audio input i and output i sharing a buffer%s. A plugin of one audio input runs once per channel of "
        "a wider input; one of several, once per group of that many channels. LADSPA plugins have no version: "
        "1.0.0 is shown, tagged with the library file.%s%s",
        ld->UniqueID, ld->Label, path, lp->n_ain, lp->n_ain == 1 ? "" : "s", lp->n_aout,
        lp->n_aout == 1 ? "" : "s", lp->n_cin, lp->n_cin == 1 ? "" : "s", lp->n_cout, lp->n_cout == 1 ? "" : "s",
        LADSPA_IS_HARD_RT_CAPABLE(ld->Properties) ? " Hard real-time capable." : "",
        LADSPA_IS_INPLACE_BROKEN(ld->Properties) ? " (not for this plugin: it cannot work in place, and gets "
                                                   "separate buffers)"
                                                 : "",
        ld->Copyright && ld->Copyright[0] ? "\n\nCopyright: " : "", ld->Copyright ? ld->Copyright : "");
    d->description = jb_text(text, 1);
    free(text);
    d->homepage = NULL;
    return lp;
}

static void list_library(const char *path)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    LADSPA_Descriptor_Function get;
    *(void **)(&get) = dlsym(lib, "ladspa_descriptor");
    if (!get) {
        dlclose(lib);
        return;
    }
    char *stem = jb_stem(path);
    int used = 0;
    for (unsigned long i = 0; i < 4096; i++) {
        const LADSPA_Descriptor *ld = get(i);
        if (!ld)
            break;
        lplug *lp = describe(ld, path, stem);
        if (!lp)
            continue;
        if (jb_list_has(&plugins, lp->d.name))
            continue; /* the first of two same names wins (what describe made for the second is
                         left: once, at load) */
        jb_list_add(&plugins, &lp->d);
        used = 1;
    }
    free(stem);
    if (!used)
        dlclose(lib); /* never one that offers a plugin: the descriptors point into it */
}

static void list_all(void)
{
    static const char *const defaults[] = JB_LADSPA_DEFAULTS;
    char **dirs = jb_search_path(JB_LADSPA_ENV, defaults);
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

/* Rows waiting to go out on one port: rows [head, n) of cap. */
typedef struct queue {
    float *rows;
    size_t head, n, cap;
    uint32_t nc;
} queue;

typedef struct linst {
    const lplug *lp;
    const LADSPA_Descriptor *ld;
    const joule_host *host;
    uint32_t n_inst;   /* instances */
    uint32_t block;    /* samples per run() */
    uint32_t fill;     /* samples in the current block */
    uint32_t n_buf;    /* buffers per instance */
    LADSPA_Handle *h;  /* n_inst */
    int active;        /* activate was called */
    float *bufs;       /* n_inst × n_buf × block */
    float *cin;        /* n_inst × n_cin: the control inputs' values */
    float *cout;       /* n_inst × n_cout: the control outputs */
    int ended;
    jp_names out_names, ctl_names;
    queue qa, qc;      /* audio rows, control rows */
} linst;

static float *buf_of(const linst *s, uint32_t k, uint32_t b)
{
    return s->bufs + ((size_t)k * s->n_buf + b) * s->block;
}

/* The buffer of audio output j: that of input j when in place. */
static uint32_t out_buf(const linst *s, uint32_t j)
{
    return LADSPA_IS_INPLACE_BROKEN(s->ld->Properties) ? s->lp->n_ain + j : j;
}

static int q_init(queue *q, size_t cap, uint32_t nc)
{
    q->nc = nc;
    q->cap = cap;
    q->rows = malloc(cap * (nc ? nc : 1) * sizeof *q->rows);
    return q->rows ? 0 : -1;
}

/* Room for `k` more rows at the end, reusing what was taken out; 0 or -1. */
static int q_room(queue *q, size_t k)
{
    if (q->n + k > q->cap && q->head) {
        memmove(q->rows, q->rows + q->head * q->nc, (q->n - q->head) * q->nc * sizeof *q->rows);
        q->n -= q->head;
        q->head = 0;
    }
    return q->n + k <= q->cap ? 0 : -1;
}

/* Move what fits into out (after the rows it holds); 1 when rows are left. */
static int q_drain(queue *q, joule_buffer *out)
{
    size_t k = q->n - q->head, room = out->capacity - out->n_rows;
    if (k > room)
        k = room;
    if (k) {
        memcpy(out->data + (size_t)out->n_rows * q->nc, q->rows + q->head * q->nc, k * q->nc * sizeof *out->data);
        out->n_rows += (uint32_t)k;
        q->head += k;
    }
    if (q->head == q->n)
        q->head = q->n = 0;
    return q->n > q->head;
}

static int drain(linst *s, joule_buffer *out)
{
    int more = 0, p = 0;
    if (s->lp->has_out)
        more |= q_drain(&s->qa, &out[p++]);
    if (s->lp->has_ctl)
        more |= q_drain(&s->qc, &out[p]);
    return more;
}

/* Run every instance on the n samples of the block, queue what they give
 * and pass on what fits. -1 after host->error. */
static int run_block(linst *s, uint32_t n, joule_buffer *out)
{
    const lplug *lp = s->lp;
    for (uint32_t k = 0; k < s->n_inst; k++)
        s->ld->run(s->h[k], n);
    if (lp->has_out) {
        if (q_room(&s->qa, n) < 0)
            goto full;
        float *row = s->qa.rows + s->qa.n * s->qa.nc;
        uint32_t nc = s->qa.nc, b = lp->n_aout;
        for (uint32_t k = 0; k < s->n_inst; k++)
            for (uint32_t j = 0; j < b; j++) {
                const float *src = buf_of(s, k, out_buf(s, j));
                float *dst = row + k * b + j;
                for (uint32_t r = 0; r < n; r++, dst += nc)
                    *dst = src[r];
            }
        s->qa.n += n;
    }
    if (lp->has_ctl) {
        if (q_room(&s->qc, 1) < 0)
            goto full;
        memcpy(s->qc.rows + s->qc.n * s->qc.nc, s->cout, s->qc.nc * sizeof *s->cout);
        s->qc.n++;
    }
    drain(s, out);
    return 0;
full:
    /* only when a host passes input before taking what was pending */
    s->host->error(s->host, "the LADSPA bridge's output queue overflowed (input passed while output was pending)");
    return -1;
}

static int ladspa_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    linst *s = self;
    (void)port;
    drain(s, out); /* what a JOULE_MORE left */
    const uint32_t nc = in->n_columns, a = s->lp->n_ain, n = in->n_rows;
    uint32_t r = 0;
    while (r < n) {
        uint32_t m = s->block - s->fill;
        if (m > n - r)
            m = n - r;
        for (uint32_t k = 0; k < s->n_inst; k++)
            for (uint32_t i = 0; i < a; i++) {
                float *dst = buf_of(s, k, i) + s->fill;
                const float *src = in->data + (size_t)r * nc + k * a + i;
                for (uint32_t t = 0; t < m; t++, src += nc)
                    dst[t] = *src;
            }
        s->fill += m;
        r += m;
        if (s->fill == s->block) {
            if (run_block(s, s->block, out) < 0)
                return JOULE_ERROR;
            s->fill = 0;
        }
    }
    return s->qa.n > s->qa.head || s->qc.n > s->qc.head ? JOULE_MORE : JOULE_OK;
}

static int ladspa_finish(void *self, joule_buffer *out)
{
    linst *s = self;
    if (!s->ended) {
        s->ended = 1;
        /* the last, shorter block; none when the length is a multiple of
         * the block (applyplugin's run(0) then changes no sample) */
        if (s->fill) {
            if (run_block(s, s->fill, out) < 0)
                return JOULE_ERROR;
            s->fill = 0;
        }
    }
    return drain(s, out) ? JOULE_OK : JOULE_END;
}

static void ladspa_close(void *self)
{
    linst *s = self;
    if (!s)
        return;
    if (s->h) {
        s->host->lock(s->host, LADSPA_LOCK);
        for (uint32_t k = 0; k < s->n_inst; k++)
            if (s->h[k]) {
                if (s->active && s->ld->deactivate)
                    s->ld->deactivate(s->h[k]);
                s->ld->cleanup(s->h[k]);
            }
        s->host->unlock(s->host, LADSPA_LOCK);
    }
    free(s->h);
    free(s->bufs);
    free(s->cin);
    free(s->cout);
    free(s->qa.rows);
    free(s->qc.rows);
    jp_names_free(&s->out_names);
    jp_names_free(&s->ctl_names);
    free(s);
}

/* Set name i of nm to `base` (followed by `sfx`), made unique among names
 * [0, i) with _2, _3 ...; 0 or -1 (no memory). */
static int set_unique(jp_names *nm, size_t i, const char *base, const char *sfx)
{
    if (jp_names_set(nm, i, "%s%s", base, sfx) < 0)
        return -1;
    for (unsigned u = 2; jb_taken((const char *const *)nm->v, i, nm->v[i]); u++)
        if (jp_names_set(nm, i, "%s%s_%u", base, sfx, u) < 0)
            return -1;
    return 0;
}

/* Column names of n_inst instances' ports `idx` (n of them): the port's
 * name as a column name, with the instance's channel (_ch<k>, one channel
 * per instance) or group (_g<k>) after it when there are several. */
static int port_columns(linst *s, jp_names *nm, const unsigned long *idx, uint32_t n, const char *fallback)
{
    if (jp_names_init(nm, (size_t)s->n_inst * n) < 0)
        return -1;
    for (uint32_t k = 0; k < s->n_inst; k++)
        for (uint32_t j = 0; j < n; j++) {
            char *c = jb_colname(s->ld->PortNames[idx[j]]);
            char base[32], sfx[32] = "";
            if (!c)
                snprintf(base, sizeof base, "%s%u", fallback, j);
            if (s->n_inst > 1)
                snprintf(sfx, sizeof sfx, "_%s%u", s->lp->n_ain == 1 ? "ch" : "g", k);
            int rc = set_unique(nm, (size_t)k * n + j, c ? c : base, sfx);
            free(c);
            if (rc < 0)
                return -1;
        }
    return 0;
}

/* The value of parameter i for control input i; 0, or -1 after error when
 * a value relative to the sample rate is outside the port's bounds. */
static int control_value(linst *s, uint32_t i, const joule_value *v, double rate, float *out)
{
    const joule_param *jp = &s->lp->d.params[i];
    const LADSPA_PortRangeHint *rh = &s->ld->PortRangeHints[s->lp->cin[i]];
    int h = rh->HintDescriptor;
    double x = jp->type == JOULE_PARAM_BOOL ? (v->b ? 1.0 : 0.0) : jp->type == JOULE_PARAM_INT ? (double)v->i : v->f;
    if (s->lp->rel_def[i] && x == strtod(jp->def, NULL)) {
        /* left at the default shown for 44100 Hz: the plugin's at this rate */
        int rel, found;
        x = port_default(s->ld, s->lp->cin[i], rate, &rel, &found);
        if (jp->type == JOULE_PARAM_INT)
            x = nearbyint(x);
    }
    *out = (float)x;
    if (!LADSPA_IS_HINT_SAMPLE_RATE(h) || jp->type == JOULE_PARAM_BOOL)
        return 0;
    int has_lo, has_hi;
    port_bounds(rh, &has_lo, &has_hi);
    /* the bounds as declared in the help ("0.45", not 0.449999988) */
    double lo = float_value(rh->LowerBound) * rate, hi = float_value(rh->UpperBound) * rate;
    /* a little slack: the bounds are floats times the rate, the value a
     * number of Hz typed from the %g shown */
    double tol = 1e-6 * fmax(fabs(lo), fabs(hi));
    if ((!has_lo || x >= lo - tol) && (!has_hi || x <= hi + tol))
        return 0;
    char *a = float_text(rh->LowerBound), *b = float_text(rh->UpperBound), what[200];
    if (has_lo && has_hi)
        snprintf(what, sizeof what, "between %s × the sample rate (%.9g Hz) and %s × the sample rate (%.9g Hz)", a,
                 lo, b, hi);
    else if (has_lo)
        snprintf(what, sizeof what, "at least %s × the sample rate (%.9g Hz)", a, lo);
    else
        snprintf(what, sizeof what, "at most %s × the sample rate (%.9g Hz)", b, hi);
    if (has_lo && lo == 0 && has_hi) /* the common case, said simply */
        snprintf(what, sizeof what, "between 0 and %s × the sample rate (%.9g Hz)", b, hi);
    s->host->error(s->host, "%s = %.9g Hz is out of range for the LADSPA plugin %s: it must be %s at %.9g Hz",
                   jp->name, x, s->lp->key, what, rate);
    free(a);
    free(b);
    return -1;
}

static int ladspa_open(const joule_open_args *a, void **self)
{
    const joule_host *host = a->host;
    if (a->struct_size <= offsetof(joule_open_args, descriptor) || !a->descriptor) {
        host->error(host, "this joule is too old to run LADSPA plugins (it does not say which plugin is opened)");
        return JOULE_ERROR;
    }
    const lplug *lp = (const lplug *)a->descriptor;
    const LADSPA_Descriptor *ld = lp->ld;
    const joule_format *inf = &a->inputs[0];
    linst *s = calloc(1, sizeof *s);
    if (!s) {
        host->error(host, "out of memory");
        return JOULE_ERROR;
    }
    *self = s;
    s->lp = lp;
    s->ld = ld;
    s->host = host;
    if (!(inf->rate >= 1 && inf->rate <= 4294967295.0)) {
        host->error(host, "the LADSPA plugin %s needs audio at a sample rate, not %g rows per second", lp->key,
                    inf->rate);
        return JOULE_ERROR;
    }
    /* LADSPA rates are whole numbers (applyplugin passes the file's) */
    unsigned long rate = (unsigned long)lround(inf->rate);

    /* channels: instances */
    uint32_t C = inf->n_columns, na = lp->n_ain;
    if (C == na)
        s->n_inst = 1;
    else if (na == 1 || C % na == 0)
        s->n_inst = C / na;
    else {
        host->error(host, "the LADSPA plugin %s takes %u audio inputs; the input has %u channel%s (a multiple of %u "
                          "is needed)",
                    lp->key, na, C, C == 1 ? "" : "s", na);
        return JOULE_ERROR;
    }
    s->block = (uint32_t)a->params[lp->n_cin].i;

    /* the control inputs' values, the same for every instance */
    s->cin = calloc((size_t)s->n_inst * (lp->n_cin ? lp->n_cin : 1), sizeof *s->cin);
    s->cout = calloc((size_t)s->n_inst * (lp->n_cout ? lp->n_cout : 1), sizeof *s->cout);
    s->h = calloc(s->n_inst, sizeof *s->h);
    s->n_buf = LADSPA_IS_INPLACE_BROKEN(ld->Properties) ? lp->n_ain + lp->n_aout
               : lp->n_ain > lp->n_aout                 ? lp->n_ain
                                                        : lp->n_aout;
    s->bufs = calloc((size_t)s->n_inst * s->n_buf * s->block, sizeof *s->bufs);
    if (!s->cin || !s->cout || !s->h || !s->bufs)
        goto oom;
    for (uint32_t i = 0; i < lp->n_cin; i++) {
        float x;
        if (control_value(s, i, &a->params[i], (double)rate, &x) < 0)
            return JOULE_ERROR;
        for (uint32_t k = 0; k < s->n_inst; k++)
            s->cin[(size_t)k * lp->n_cin + i] = x;
    }

    /* instances, wired as applyplugin wires them */
    host->lock(host, LADSPA_LOCK);
    for (uint32_t k = 0; k < s->n_inst; k++) {
        s->h[k] = ld->instantiate(ld, rate);
        if (!s->h[k])
            break;
    }
    host->unlock(host, LADSPA_LOCK);
    for (uint32_t k = 0; k < s->n_inst; k++) {
        if (!s->h[k]) {
            host->error(host, "the LADSPA plugin %s could not be made for %lu Hz (instantiate failed)", lp->key,
                        rate);
            return JOULE_ERROR;
        }
        for (uint32_t i = 0; i < lp->n_cin; i++)
            ld->connect_port(s->h[k], lp->cin[i], &s->cin[(size_t)k * lp->n_cin + i]);
        for (uint32_t i = 0; i < lp->n_cout; i++)
            ld->connect_port(s->h[k], lp->cout[i], &s->cout[(size_t)k * lp->n_cout + i]);
        for (uint32_t i = 0; i < lp->n_ain; i++)
            ld->connect_port(s->h[k], lp->ain[i], buf_of(s, k, i));
        for (uint32_t j = 0; j < lp->n_aout; j++)
            ld->connect_port(s->h[k], lp->aout[j], buf_of(s, k, out_buf(s, j)));
    }
    if (ld->activate) {
        host->lock(host, LADSPA_LOCK);
        for (uint32_t k = 0; k < s->n_inst; k++)
            ld->activate(s->h[k]);
        host->unlock(host, LADSPA_LOCK);
    }
    s->active = 1;

    /* outputs */
    uint32_t p = 0;
    if (lp->has_out) {
        uint32_t nc = s->n_inst * lp->n_aout;
        if (lp->n_aout == na) { /* channel for channel: the input's names */
            if (jp_names_init(&s->out_names, nc) < 0)
                goto oom;
            for (uint32_t c = 0; c < nc; c++)
                if (jp_names_set(&s->out_names, c, "%s", inf->names ? inf->names[c] : "") < 0)
                    goto oom;
            if (!inf->names)
                for (uint32_t c = 0; c < nc; c++)
                    if (jp_names_set(&s->out_names, c, "ch%u", c) < 0)
                        goto oom;
        } else if (port_columns(s, &s->out_names, lp->aout, lp->n_aout, "out") < 0)
            goto oom;
        if (q_init(&s->qa, 2 * (size_t)s->block, nc) < 0)
            goto oom;
        joule_format *of = &a->outputs[p++];
        of->kind = JOULE_SIGNAL;
        of->n_columns = nc;
        of->rate = inf->rate;
        of->t0 = inf->t0;
        of->names = (const char *const *)s->out_names.v;
        of->units = NULL;
        of->length = inf->length;
        of->out_num = 1;
        of->out_den = 1;
    }
    if (lp->has_ctl) {
        uint32_t nc = s->n_inst * lp->n_cout;
        if (port_columns(s, &s->ctl_names, lp->cout, lp->n_cout, "control") < 0 ||
            q_init(&s->qc, 2 * (size_t)s->block, nc) < 0)
            goto oom;
        joule_format *of = &a->outputs[p];
        of->kind = JOULE_FRAMES;
        of->n_columns = nc;
        of->rate = inf->rate / s->block;
        of->t0 = inf->t0;
        of->names = (const char *const *)s->ctl_names.v;
        of->units = NULL;
        of->length = inf->length ? (inf->length + s->block - 1) / s->block : 0;
        of->out_num = 1;
        of->out_den = 1;
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
        d->open = ladspa_open;
        d->process = ladspa_process;
        d->finish = ladspa_finish;
        d->close = ladspa_close;
    }
}

JOULE_PLUGIN_EXPORT const char joule_plugin_bridge[] = "LADSPA plugins on LADSPA_PATH, or in the standard folders";

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    pthread_once(&listed, list_once);
    return index < plugins.n ? plugins.v[index] : NULL;
}
