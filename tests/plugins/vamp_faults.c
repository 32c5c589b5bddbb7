/* vamp_faults.c — a Vamp plugin library (vamp.h's C ABI, no SDK) whose
 * plugins are each wrong, or unusual, in one known way, for the Vamp
 * bridge's tests (tests/vamp-faults.sh):
 *
 *   stereo     needs at least 2 channels (min channel count 2)
 *   refuser    initialise always fails
 *   shifty     output "extra" exists only while parameter "extra" is 0
 *   backwards  a variable-rate output whose features go back in time
 *   marks      time-domain; per block: a marker event with a duration at
 *              the block's start (no values), and one result with as many
 *              values as the block's step index modulo 3 (a varying bin
 *              count); parameter "mode" is quantised with value names
 *
 * Every plugin is time-domain, block 8, step 8 unless said otherwise. */
#include <vamp/vamp.h>

#include <stdlib.h>
#include <string.h>

enum { P_STEREO, P_REFUSER, P_SHIFTY, P_BACKWARDS, P_MARKS, N_PLUGINS };

typedef struct inst {
    int which;
    float rate;
    float extra; /* shifty's parameter */
    float mode;  /* marks' parameter */
    unsigned step, block;
    long calls;
    VampFeatureList lists[2];
    VampFeatureUnion feats[2][8];
    float values[2][4];
} inst;

static const char *mode_names[] = {"low", "mid", "high"};
static const VampParameterDescriptor extra_param = {"extra", "Extra", "1 removes output extra", "", 0, 1, 0, 1, 1,
                                                    NULL};
static const VampParameterDescriptor mode_param = {"mode", "Mode", "a quantised choice", "", 0, 2, 1, 1, 1,
                                                   mode_names};
static const VampParameterDescriptor *const shifty_params[] = {&extra_param};
static const VampParameterDescriptor *const marks_params[] = {&mode_param};

static VampPluginHandle instantiate(const VampPluginDescriptor *d, float rate);
static void cleanup(VampPluginHandle h) { free(h); }
static void reset(VampPluginHandle h) { ((inst *)h)->calls = 0; }

static int initialise(VampPluginHandle h, unsigned ch, unsigned step, unsigned block)
{
    inst *s = h;
    s->step = step;
    s->block = block;
    if (s->which == P_REFUSER)
        return 0;
    if (s->which == P_STEREO && ch < 2)
        return 0;
    return 1;
}

static float get_param(VampPluginHandle h, int i)
{
    inst *s = h;
    (void)i;
    return s->which == P_SHIFTY ? s->extra : s->mode;
}

static void set_param(VampPluginHandle h, int i, float v)
{
    inst *s = h;
    (void)i;
    if (s->which == P_SHIFTY)
        s->extra = v;
    else
        s->mode = v;
}

static unsigned get_program(VampPluginHandle h) { (void)h; return 0; }
static void select_program(VampPluginHandle h, unsigned p) { (void)h; (void)p; }
static unsigned pref_step(VampPluginHandle h) { (void)h; return 8; }
static unsigned pref_block(VampPluginHandle h) { (void)h; return 8; }
static unsigned min_ch(VampPluginHandle h) { return ((inst *)h)->which == P_STEREO ? 2 : 1; }
static unsigned max_ch(VampPluginHandle h) { return ((inst *)h)->which == P_STEREO ? 2 : 1; }

static unsigned out_count(VampPluginHandle h)
{
    inst *s = h;
    if (s->which == P_SHIFTY)
        return s->extra > 0.5f ? 1 : 2;
    return s->which == P_MARKS ? 2 : 1;
}

static VampOutputDescriptor *out_desc(VampPluginHandle h, unsigned i)
{
    inst *s = h;
    VampOutputDescriptor *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->identifier = "value";
    o->name = "Value";
    o->description = "";
    o->unit = "";
    o->hasFixedBinCount = 1;
    o->binCount = 1;
    o->sampleType = vampOneSamplePerStep;
    if (s->which == P_SHIFTY && i == 1)
        o->identifier = "extra";
    if (s->which == P_BACKWARDS) {
        o->sampleType = vampVariableSampleRate;
        o->sampleRate = s->rate;
    }
    if (s->which == P_MARKS) {
        if (i == 0) {
            o->identifier = "marks";
            o->binCount = 0;
            o->sampleType = vampVariableSampleRate;
            o->hasDuration = 1;
        } else {
            o->identifier = "varying";
            o->hasFixedBinCount = 0;
            o->binCount = 0;
        }
    }
    return o;
}

static void release_out(VampOutputDescriptor *o) { free(o); }

/* A feature at frame `frame` of the step, with n values. */
static void put(inst *s, int list, unsigned j, int timed, long frame, unsigned n, int dur)
{
    VampFeature *f = &s->feats[list][j].v1;
    memset(f, 0, sizeof *f);
    f->hasTimestamp = timed;
    f->sec = (int)(frame / (long)s->rate);
    f->nsec = (int)((double)(frame % (long)s->rate) / s->rate * 1e9 + 0.5);
    f->valueCount = n;
    f->values = s->values[list];
    for (unsigned k = 0; k < n; k++)
        s->values[list][k] = (float)(k + 1) * 10.0f + (float)s->mode;
    s->lists[list].featureCount = j + 1;
    s->lists[list].features = s->feats[list];
    /* the V2 parts follow the V1 features (one feature per list here) */
    VampFeatureV2 *v2 = &s->feats[list][j + 1].v2;
    v2->hasDuration = dur;
    v2->durationSec = 0;
    v2->durationNsec = dur ? (int)((double)s->block / s->rate * 1e9 + 0.5) : 0;
}

static VampFeatureList *process(VampPluginHandle h, const float *const *in, int sec, int nsec)
{
    inst *s = h;
    (void)in;
    (void)sec;
    (void)nsec;
    memset(s->lists, 0, sizeof s->lists);
    long frame = s->calls * (long)s->step;
    switch (s->which) {
    case P_BACKWARDS: /* a step later, then a step earlier: out of order across calls */
        put(s, 0, 0, 1, s->calls % 2 ? frame - (long)s->step : frame + (long)s->step, 1, 0);
        break;
    case P_MARKS:
        put(s, 0, 0, 1, frame, 0, 1);
        if (s->calls % 3)
            put(s, 1, 0, 0, frame, (unsigned)(s->calls % 3), 0);
        break;
    default:
        put(s, 0, 0, 0, frame, 1, 0);
        if (s->which == P_SHIFTY && s->extra < 0.5f)
            put(s, 1, 0, 0, frame, 1, 0);
        break;
    }
    s->calls++;
    return s->lists;
}

static VampFeatureList *remaining(VampPluginHandle h)
{
    inst *s = h;
    memset(s->lists, 0, sizeof s->lists);
    return s->lists;
}

static void release_set(VampFeatureList *l) { (void)l; }

#define PLUGIN(ID, NAME, NP, PARAMS)                                                                            \
    {                                                                                                           \
        2, ID, NAME, "a plugin of the bridge's fault tests", "joule tests", 1, "MIT", NP, PARAMS, 0, NULL,     \
            vampTimeDomain, instantiate, cleanup, initialise, reset, get_param, set_param, get_program,        \
            select_program, pref_step, pref_block, min_ch, max_ch, out_count, out_desc, release_out, process,  \
            remaining, release_set                                                                              \
    }

static const VampPluginDescriptor plugins[N_PLUGINS] = {
    PLUGIN("stereo", "Needs stereo", 0, NULL),
    PLUGIN("refuser", "Refuses to start", 0, NULL),
    PLUGIN("shifty", "Loses an output", 1, (const VampParameterDescriptor **)shifty_params),
    PLUGIN("backwards", "Goes back in time", 0, NULL),
    PLUGIN("marks", "Markers and varying bins", 1, (const VampParameterDescriptor **)marks_params),
};

static VampPluginHandle instantiate(const VampPluginDescriptor *d, float rate)
{
    inst *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->which = (int)(d - plugins);
    s->rate = rate;
    s->mode = 1;
    s->step = s->block = 8;
    return s;
}

__attribute__((visibility("default"))) const VampPluginDescriptor *vampGetPluginDescriptor(unsigned int api,
                                                                                             unsigned int i)
{
    (void)api;
    return i < N_PLUGINS ? &plugins[i] : NULL;
}
