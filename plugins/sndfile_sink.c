/* sndfile_sink.c — write a signal stream as an audio file, in any format
 * libsndfile writes (WAV, FLAC, AIFF, Ogg Vorbis/Opus, CAF, W64, RF64, AU,
 * MP3 where libsndfile was built with it).
 *
 * Samples are floats, full scale [-1, 1). For the integer subtypes (pcm16,
 * pcm24, pcm32; FLAC is one of them) each sample is scaled by 2^(bits-1),
 * rounded to nearest (ties to even), clipped to the integer range, and
 * NaN written as 0: the exact inverse of how the sndfile source reads
 * (int / 2^(bits-1)), so a file read and written again at the same depth
 * keeps every sample. (libsndfile's own float-to-int conversion scales by
 * 2^(bits-1) - 1 and would not give the samples back.) float and double
 * store the values as they are; ulaw, alaw, vorbis, opus and mp3 use
 * libsndfile's conversion.
 *
 * Combinations libsndfile cannot write (ogg with pcm16, flac with float,
 * a rate or channel count the format does not allow) are refused before
 * anything is written: at validation for the format/subtype pair, at open
 * for the stream's channels and rate.
 *
 * Rows are gathered into blocks of a fixed size and each block is written
 * with one libsndfile call, so the encoder sees the same calls however the
 * input was chunked, and the file's bytes do not depend on chunking or
 * threads (except Ogg files: libsndfile gives every Ogg stream a random
 * serial number).
 *
 * The file is written under a temporary name and renamed into place only
 * when the whole job has succeeded (see util.h, "output files"):
 * libsndfile writes through the temporary file's descriptor. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <sndfile.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_ROWS 4096 /* rows per libsndfile write call */
#define SNDFILE_LOCK "libsndfile-open"

/* Codes of libsndfile >= 1.1.0 (MPEG) and >= 1.0.29 (Opus), spelled out
 * so that the plugin builds against older headers; an older library
 * refuses them in sf_format_check. */
#define FMT_MPEG 0x230000      /* SF_FORMAT_MPEG */
#define SUB_MPEG_III 0x0082    /* SF_FORMAT_MPEG_LAYER_III */
#define SUB_OPUS 0x0064        /* SF_FORMAT_OPUS */

enum { P_PATH, P_FORMAT, P_SUBTYPE, P_RATE };

static const char *const format_choices[] = {"wav", "wavex", "w64", "rf64", "aiff", "caf",
                                             "au",  "flac",  "ogg", "mp3",  NULL};
static const int format_codes[] = {SF_FORMAT_WAV, SF_FORMAT_WAVEX, SF_FORMAT_W64,  SF_FORMAT_RF64, SF_FORMAT_AIFF,
                                   SF_FORMAT_CAF, SF_FORMAT_AU,    SF_FORMAT_FLAC, SF_FORMAT_OGG,  FMT_MPEG};

enum { ST_AUTO, ST_PCM16, ST_PCM24, ST_PCM32, ST_FLOAT, ST_DOUBLE, ST_ULAW, ST_ALAW, ST_VORBIS, ST_OPUS };
static const char *const subtype_choices[] = {"auto", "pcm16", "pcm24", "pcm32", "float", "double",
                                              "ulaw", "alaw",  "vorbis", "opus", NULL};
static const int subtype_codes[] = {0,
                                    SF_FORMAT_PCM_16,
                                    SF_FORMAT_PCM_24,
                                    SF_FORMAT_PCM_32,
                                    SF_FORMAT_FLOAT,
                                    SF_FORMAT_DOUBLE,
                                    SF_FORMAT_ULAW,
                                    SF_FORMAT_ALAW,
                                    SF_FORMAT_VORBIS,
                                    SUB_OPUS};
static const int subtype_bits[] = {0, 16, 24, 32, 0, 0, 0, 0, 0, 0}; /* integer PCM: bits */

static const joule_param params[] = {
    {"path", JOULE_PARAM_STRING, JOULE_PARAM_OUT_PATH, "{stem}.{node}.wav", 0, 0, NULL, "",
     "Output file. {stem} {name} {dir} {node} are replaced per input; a relative path goes in the output "
     "folder (-o). The extension is not checked against the format."},
    {"format", JOULE_PARAM_ENUM, 0, "wav", 0, 0, format_choices, "",
     "Container: wav, wavex (WAVE_FORMAT_EXTENSIBLE), w64, rf64, aiff, caf, au, flac, ogg, or mp3 (if "
     "libsndfile was built with it)."},
    {"subtype", JOULE_PARAM_ENUM, 0, "auto", 0, 0, subtype_choices, "",
     "Sample encoding: pcm16, pcm24, pcm32 (rounded, clipped), float, double, ulaw, alaw, vorbis or opus "
     "(ogg only). auto: pcm16, vorbis for ogg, MPEG layer III for mp3."},
    {"rate", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0", 0, 2822400, NULL, "Hz",
     "Sample rate written in the file's header (the samples are not resampled). 0: the stream's rate, "
     "which must then be a whole number of Hz."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL, 0, "the samples to write, one column per channel, full scale [-1, 1)"},
};

typedef struct sink {
    const joule_host *host;
    jp_outfile file;
    SNDFILE *sf;
    uint32_t nch;
    int bits;       /* integer PCM: 16, 24, 32; 0: written as float */
    void *block;    /* BLOCK_ROWS × nch int32_t (bits) or float */
    uint32_t fill;  /* rows in block */
} sink;

static int sf_code(const joule_value *p)
{
    int fmt = format_codes[p[P_FORMAT].e];
    uint32_t st = p[P_SUBTYPE].e;
    int sub = subtype_codes[st];
    if (st == ST_AUTO)
        sub = fmt == SF_FORMAT_OGG ? SF_FORMAT_VORBIS : fmt == FMT_MPEG ? SUB_MPEG_III : SF_FORMAT_PCM_16;
    return fmt | sub;
}

static int sink_check(const joule_value *p, char *msg, size_t n)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.format = sf_code(p);
    info.channels = 1;
    info.samplerate = p[P_RATE].i ? (int)p[P_RATE].i : 48000;
    if (sf_format_check(&info))
        return 0;
    info.channels = 2; /* a format may want stereo; open checks the real count */
    if (sf_format_check(&info))
        return 0;
    snprintf(msg, n, "libsndfile cannot write format '%s' with subtype '%s'%s", p[P_FORMAT].s, p[P_SUBTYPE].s,
             p[P_RATE].i ? " at this rate" : "");
    return 1;
}

static int sink_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    sink *k = calloc(1, sizeof *k);
    if (!k) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = k;
    k->host = h;
    const joule_format *in = &a->inputs[0];
    const joule_value *p = a->params;
    k->nch = in->n_columns;
    k->bits = subtype_bits[p[P_SUBTYPE].e];
    if (p[P_SUBTYPE].e == ST_AUTO && (sf_code(p) & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16)
        k->bits = 16;

    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.format = sf_code(p);
    info.channels = (int)k->nch;
    if (p[P_RATE].i) {
        info.samplerate = (int)p[P_RATE].i;
    } else if (in->rate == floor(in->rate) && in->rate >= 1 && in->rate <= 2822400) {
        info.samplerate = (int)in->rate;
    } else {
        h->error(h, "the stream's rate %g Hz is not a whole number of Hz: set rate", in->rate);
        return JOULE_ERROR;
    }
    if (k->nch > 1024 || !sf_format_check(&info)) {
        h->error(h, "libsndfile cannot write %u channel(s) at %d Hz as format '%s' with subtype '%s'", k->nch,
                 info.samplerate, p[P_FORMAT].s, p[P_SUBTYPE].s);
        return JOULE_ERROR;
    }
    k->block = malloc((size_t)BLOCK_ROWS * k->nch * 4);
    if (!k->block) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    if (jp_outfile_open(&k->file, p[P_PATH].s, h, 0))
        return JOULE_ERROR;
    /* sf_open_fd's failure reason lives in a process-wide variable until
     * the next failure: read it under the same lock as the open. */
    char reason[256] = "";
    h->lock(h, SNDFILE_LOCK);
    k->sf = sf_open_fd(jp_outfile_fd(&k->file), SFM_WRITE, &info, 0);
    if (!k->sf)
        snprintf(reason, sizeof reason, "%s", sf_strerror(NULL));
    h->unlock(h, SNDFILE_LOCK);
    if (!k->sf) {
        h->error(h, "%s: cannot write %u channel(s) at %d Hz as '%s' (%s): %s", p[P_PATH].s, k->nch,
                 info.samplerate, p[P_FORMAT].s, p[P_SUBTYPE].s, reason);
        return JOULE_ERROR;
    }
    return JOULE_OK;
}

/* Write the gathered rows. 0, or -1 after host->error. */
static int flush_block(sink *k)
{
    if (!k->fill)
        return 0;
    sf_count_t n = k->fill;
    sf_count_t got = k->bits ? sf_writef_int(k->sf, k->block, n) : sf_writef_float(k->sf, k->block, n);
    if (got != n) {
        k->host->error(k->host, "%s: write failed: %s", k->file.path, sf_strerror(k->sf));
        return -1;
    }
    k->fill = 0;
    return 0;
}

/* x · 2^(bits-1), rounded and clipped, placed in the top bits of an int32
 * (libsndfile's int samples are full scale 2^31 and keep the top bits). */
static int32_t quantise(float x, int bits)
{
    const double scale = ldexp(1.0, bits - 1);
    double v = (double)x * scale;
    if (isnan(v))
        v = 0;
    else if (v < -scale)
        v = -scale;
    else if (v > scale - 1)
        v = scale - 1;
    return (int32_t)(llrint(v) * (1LL << (32 - bits)));
}

static int sink_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    (void)out;
    sink *k = self;
    const uint32_t nch = k->nch;
    uint32_t r = 0;
    while (r < in->n_rows) {
        uint32_t take = BLOCK_ROWS - k->fill;
        if (take > in->n_rows - r)
            take = in->n_rows - r;
        const float *src = in->data + (size_t)r * nch;
        size_t n = (size_t)take * nch, at = (size_t)k->fill * nch;
        if (k->bits) {
            int32_t *dst = (int32_t *)k->block + at;
            for (size_t i = 0; i < n; i++)
                dst[i] = quantise(src[i], k->bits);
        } else {
            memcpy((float *)k->block + at, src, n * sizeof *src);
        }
        k->fill += take;
        r += take;
        if (k->fill == BLOCK_ROWS && flush_block(k))
            return JOULE_ERROR;
    }
    return JOULE_OK;
}

static int sink_finish(void *self, joule_buffer *out)
{
    (void)out;
    sink *k = self;
    if (flush_block(k))
        return JOULE_ERROR;
    int rc = sf_close(k->sf); /* writes the header; the descriptor stays open */
    k->sf = NULL;
    if (rc) {
        k->host->error(k->host, "%s: cannot finish the file: %s", k->file.path, sf_error_number(rc));
        return JOULE_ERROR;
    }
    return jp_outfile_finish(&k->file, k->host) ? JOULE_ERROR : JOULE_END;
}

static void sink_close(void *self)
{
    sink *k = self;
    if (!k)
        return;
    if (k->sf)
        sf_close(k->sf);
    jp_outfile_discard(&k->file);
    free(k->block);
    free(k);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "sndfile_sink",
    .version = "1.0.0",
    .summary = "write a signal as an audio file in any format libsndfile writes (WAV, FLAC, AIFF, Ogg, ...)",
    .role = JOULE_ROLE_SINK,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .open = sink_open,
    .process = sink_process,
    .finish = sink_finish,
    .close = sink_close,
    .check = sink_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Writes the signal it receives as an audio file through libsndfile, in the container and encoding "
                   "asked for (WAV, FLAC, AIFF, Ogg Vorbis, ...; 16/24/32-bit integer or float), at the stream's "
                   "rate. Integer encodings scale by 2^(bits-1) and round to nearest, the exact inverse of how the "
                   "sndfile source reads, so a file read and written again at the same depth keeps every sample. "
                   "The file is written through the host: it appears only when the whole job succeeded and never "
                   "replaces an input.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
