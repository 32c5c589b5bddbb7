/* sndfile.c — the audio source: every format libsndfile reads, as a float
 * signal stream (samples normalised to [-1, 1): int16 / 32768), one column
 * per channel.
 *
 * libsndfile reads interleaved frames, which is exactly a joule signal
 * chunk (row-major, a row per frame), so samples are decoded straight into
 * the host's chunk: no copy.
 *
 * A file whose header promises more frames than it holds (a truncated
 * file) is an error: the job fails rather than producing results for part
 * of a file without saying so. */
#include <joule/plugin.h>

#include "util.h"

#include <sndfile.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct source {
    const joule_host *host;
    const char *path;
    SNDFILE *sf;
    SF_INFO info;
    sf_count_t read;
    jp_names names;
    const char **units;
} source;

static const char *const naming_choices[] = {"index", "map", NULL};

static const joule_param params[] = {
    {"channel_names", JOULE_PARAM_ENUM, 0, "index", 0, 0, naming_choices, "",
     "Column names: 'index' gives ch0, ch1, ...; 'map' uses the file's channel map where it has one "
     "(left, right, center, lfe, ...) and falls back to ch<i>."},
};

static const joule_port outputs[] = {
    {"out", JOULE_SIGNAL, 0, "the samples, one column per channel, in [-1, 1)"},
};

static const char *map_name(int m)
{
    switch (m) {
    case SF_CHANNEL_MAP_MONO: return "mono";
    case SF_CHANNEL_MAP_LEFT: return "left";
    case SF_CHANNEL_MAP_RIGHT: return "right";
    case SF_CHANNEL_MAP_CENTER: return "center";
    case SF_CHANNEL_MAP_FRONT_LEFT: return "front_left";
    case SF_CHANNEL_MAP_FRONT_RIGHT: return "front_right";
    case SF_CHANNEL_MAP_FRONT_CENTER: return "front_center";
    case SF_CHANNEL_MAP_REAR_CENTER: return "rear_center";
    case SF_CHANNEL_MAP_REAR_LEFT: return "rear_left";
    case SF_CHANNEL_MAP_REAR_RIGHT: return "rear_right";
    case SF_CHANNEL_MAP_LFE: return "lfe";
    case SF_CHANNEL_MAP_SIDE_LEFT: return "side_left";
    case SF_CHANNEL_MAP_SIDE_RIGHT: return "side_right";
    default: return NULL;
    }
}

/* A header that promises more audio than the file holds is a truncated
 * file. libsndfile opens it anyway, trimming the length to what is there,
 * and notes the lie in its log as "data : N (should be M)": find that. A
 * streamed file whose writer could not fill in the size (0 or 0xFFFFFFFF)
 * is not truncated. */
static int check_lengths(source *s, const joule_host *h)
{
    char log[8192];
    memset(log, 0, sizeof log);
    sf_command(s->sf, SFC_GET_LOG_INFO, log, sizeof log - 1);
    /* A header that says "no audio" in front of bytes libsndfile could not
     * make sense of (a writer that never filled in its sizes) would read as
     * an empty file: that is a broken file, not silence. */
    const char *warn = strstr(log, "*** ");
    const char *len = strstr(log, "Length : ");
    long long length = len ? strtoll(len + 9, NULL, 10) : 0;
    if (s->info.frames == 0 && (warn || length > 4096)) {
        /* (headers and metadata of a truly empty file take far less than
         * 4 KiB; more is audio the header does not account for) */
        char what[160] = "";
        if (warn) {
            snprintf(what, sizeof what, " (%s)", warn + 4);
            what[strcspn(what, "\n")] = '\0';
            strcat(what, ")");
        }
        h->error(h, "%s: the header gives no audio, yet the file holds %lld bytes%s", s->path, length, what);
        return -1;
    }
    for (char *line = log; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        const char *should = strstr(line, "(should be ");
        const char *colon = strchr(line, ':');
        if (should && colon && colon < should) {
            char label[16] = "";
            sscanf(line, " %15[A-Za-z0-9 ]", label);
            long long said = strtoll(colon + 1, NULL, 10), real = strtoll(should + 11, NULL, 10);
            int payload = !strncmp(label, "data", 4) || !strncmp(label, "SSND", 4);
            if (payload && said > real && said != 0xFFFFFFFFLL && said != 0xFFFFFFFFLL - 8) {
                h->error(h, "%s: truncated: the header promises %lld bytes of audio, the file holds %lld", s->path,
                         said, real);
                return -1;
            }
        }
        line = next;
    }
    return 0;
}

static int src_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    source *s = calloc(1, sizeof *s);
    if (!s) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = s;
    s->host = h;
    s->path = a->input_path;
    memset(&s->info, 0, sizeof s->info);
    /* sf_open's failure reason lives in a process-wide variable until the
     * next failure: read it under the same lock as the open. */
    h->lock(h, "libsndfile-open");
    s->sf = sf_open(s->path, SFM_READ, &s->info);
    char reason[256] = "";
    if (!s->sf)
        snprintf(reason, sizeof reason, "%s", sf_strerror(NULL));
    h->unlock(h, "libsndfile-open");
    if (!s->sf) {
        h->error(h, "%s: cannot read as audio: %s", s->path, reason);
        return JOULE_ERROR;
    }
    if (s->info.channels < 1 || s->info.samplerate < 1) {
        h->error(h, "%s: the header gives %d channels at %d Hz", s->path, s->info.channels, s->info.samplerate);
        return JOULE_ERROR;
    }
    if (check_lengths(s, h))
        return JOULE_ERROR;
    int nch = s->info.channels;
    int *map = NULL;
    if (a->params[0].e == 1) {
        map = calloc((size_t)nch, sizeof *map);
        if (map && !sf_command(s->sf, SFC_GET_CHANNEL_MAP_INFO, map, (int)(nch * sizeof *map))) {
            free(map);
            map = NULL;
        }
    }
    s->units = calloc((size_t)nch, sizeof *s->units);
    if (!s->units || jp_names_init(&s->names, (size_t)nch)) {
        free(map);
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    for (int c = 0; c < nch; c++) {
        const char *mn = map ? map_name(map[c]) : NULL;
        /* a map that names two channels alike is no use as column names */
        for (int k = 0; mn && k < c; k++)
            if (map_name(map[k]) && !strcmp(map_name(map[k]), mn))
                mn = NULL;
        if (mn)
            jp_names_set(&s->names, (size_t)c, "%s", mn);
        else
            jp_names_set(&s->names, (size_t)c, "ch%d", c);
        s->units[c] = "FS";
    }
    free(map);
    joule_format *f = &a->outputs[0];
    f->kind = JOULE_SIGNAL;
    f->n_columns = (uint32_t)nch;
    f->rate = s->info.samplerate;
    f->t0 = 0;
    f->names = (const char *const *)s->names.v;
    f->units = s->units;
    f->length = s->info.frames > 0 ? (uint64_t)s->info.frames : 0;
    /* Decode as floats without clipping: a float file may hold values past
     * full scale, and analysis should see them. */
    sf_command(s->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    return JOULE_OK;
}

static int src_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    (void)in;
    source *s = self;
    sf_count_t want = out[0].capacity;
    sf_count_t got = sf_readf_float(s->sf, out[0].data, want);
    if (got < 0)
        got = 0;
    out[0].n_rows = (uint32_t)got;
    s->read += got;
    int err = sf_error(s->sf);
    if (err != SF_ERR_NO_ERROR) {
        s->host->error(s->host, "%s: read error after %lld frames: %s", s->path, (long long)s->read,
                       sf_strerror(s->sf));
        return JOULE_ERROR;
    }
    if (got < want) {
        if (s->info.frames > 0 && s->read < s->info.frames && s->info.frames != SF_COUNT_MAX) {
            s->host->error(s->host, "%s: truncated: the header promises %lld frames, the file holds %lld", s->path,
                           (long long)s->info.frames, (long long)s->read);
            return JOULE_ERROR;
        }
        return JOULE_END;
    }
    return JOULE_OK;
}

static void src_close(void *self)
{
    source *s = self;
    if (!s)
        return;
    if (s->sf)
        sf_close(s->sf);
    jp_names_free(&s->names);
    free(s->units);
    free(s);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "sndfile",
    .version = "1.0.0",
    .summary = "read audio files (WAV, FLAC, AIFF, Ogg, ... all libsndfile reads) as a float signal",
    .role = JOULE_ROLE_SOURCE,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_outputs = 1,
    .outputs = outputs,
    .open = src_open,
    .process = src_process,
    .close = src_close,
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
