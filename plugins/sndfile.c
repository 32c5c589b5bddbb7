/* sndfile.c — the audio source: every format libsndfile reads, as a float
 * signal stream (samples normalised to [-1, 1): int16 / 32768), one column
 * per channel.
 *
 * libsndfile reads interleaved frames, which is exactly a joule signal
 * chunk (row-major, a row per frame), so samples are decoded straight into
 * the host's chunk: no copy.
 *
 * What it reads. A regular file, or a FIFO (a live stream): libsndfile
 * reads WAV and the other streamable formats from a pipe, and a FIFO with
 * no writer yet waits for one, as the graph loader and the sensor source
 * do. A directory, a device or a socket is refused before it is opened
 * (/dev/zero would never end).
 *
 * Errors name the file and say what is wrong with it, in one line:
 *   take.wav: cannot open: No such file or directory
 *   take.wav: is a directory, not an audio file
 *   take.wav: is empty (0 bytes)
 *   take.wav: is not an audio file libsndfile can read (format not recognised)
 *   take.wav: is truncated: it ends after 40 bytes, inside its header (before any audio)
 *   take.wav: is truncated: its header promises 500 frames of audio, the file holds 8 (492 missing)
 *   take.wav: is damaged: its header gives 0 channels
 *   take.wav: is damaged: no 'data' chunk marker (WAV)
 * libsndfile's own texts for a file it recognised but could not open
 * ("Internal error : SF_INFO struct incomplete.", "Unspecified internal
 * error.") are turned into what is wrong with the file, read from its
 * parse log where it says more (the channel count, the sample rate).
 *
 * Truncation. A file whose header promises more frames than it holds is an
 * error, not a warning: libsndfile would read the frames that are there,
 * but the results would then describe part of a recording without anyone
 * noticing (a copy cut short, a recording still being written), which is
 * what the host's "changed while being read" check refuses too. A read
 * that stops early or fails (sf_error) fails the job the same way. What
 * cannot be found: a file whose writer left its sizes at 0xFFFFFFFF (as
 * a stream does) and that was then cut reads as complete, to its end,
 * since nothing says how long it was meant to be. Two
 * slips whose audio is all there are warnings: a data chunk that is not a
 * whole number of frames (less than one frame is left out), and an AIFF
 * whose 'COMM' frame count is above what its uncut 'SSND' chunk holds. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <sndfile.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The highest sample rate read: a header that gives more is damaged (the
 * sensor source has the same bound). */
#define MAX_RATE 1000000000

typedef struct source {
    const joule_host *host;
    const char *path;
    SNDFILE *sf;
    SF_INFO info;
    sf_count_t read;
    long long size; /* of a regular file, when opened; -1 for a FIFO */
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

/* What a file that is neither a regular file nor a FIFO is. */
static const char *file_kind(mode_t m)
{
    return S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket"
                                                                                          : "an unknown kind of file";
}

/* Bytes per sample of the encodings whose size is fixed; 0 for the others
 * (ADPCM, GSM, FLAC, Vorbis ...), whose frames cannot be counted from
 * bytes. */
static int sample_bytes(int format)
{
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8:
    case SF_FORMAT_ULAW:
    case SF_FORMAT_ALAW: return 1;
    case SF_FORMAT_PCM_16: return 2;
    case SF_FORMAT_PCM_24: return 3;
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_FLOAT: return 4;
    case SF_FORMAT_DOUBLE: return 8;
    default: return 0;
    }
}

/* libsndfile's message, made fit for the end of one line: "System error :
 * " and a final full stop dropped, line ends made spaces. */
static void tidy(const char *text, char *out, size_t n)
{
    if (!strncmp(text, "System error : ", 15))
        text += 15;
    snprintf(out, n, "%s", text);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t len = strlen(out);
    while (len > 0 && (out[len - 1] == '.' || out[len - 1] == ' '))
        out[--len] = '\0';
}

/* A tidied libsndfile message in the user's terms, in place: "Error in
 * WAV file. No 'data' chunk marker" becomes "no 'data' chunk marker" with
 * "WAV" in fmt (else fmt is ""), "Error : bad flac header" "bad flac
 * header"; its internal and generic texts ("Unspecified internal error",
 * "Internal error : SF_INFO struct incomplete", "Supported file format but
 * file is malformed") become "" (they say only that it made no sense).
 * Returns why. */
static char *plain(char *why, char *fmt, size_t fmt_size)
{
    *fmt = '\0';
    if (strstr(why, "nternal error") || strstr(why, "file is malformed")) {
        *why = '\0';
        return why;
    }
    const char *rest = why;
    const char *in = !strncmp(why, "Error in ", 9) ? strstr(why, " file") : NULL;
    if (in && in - (why + 9) < (ptrdiff_t)fmt_size) {
        memcpy(fmt, why + 9, (size_t)(in - (why + 9)));
        fmt[in - (why + 9)] = '\0';
        rest = in + 5;
    } else if (!strncmp(why, "Error", 5) && why[5] && strchr(".: ", why[5])) {
        rest = why + 5;
    }
    while (*rest && strchr(".,: ", *rest))
        rest++;
    memmove(why, rest, strlen(rest) + 1);
    /* "No 'data' chunk" -> "no 'data' chunk", but "MPEG" stays */
    if (islower((unsigned char)why[1]))
        why[0] = (char)tolower((unsigned char)why[0]);
    return why;
}

/* The number after "LABEL :" at the start of a line of libsndfile's parse
 * log ("  Channels      : 0"; the label in any case); 0 with *found unset
 * when there is none. */
static long long log_value(const char *log, const char *label, int *found)
{
    size_t n = strlen(label);
    *found = 0;
    for (const char *line = log; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *p = line;
        while (*p == ' ')
            p++;
        if (strncasecmp(p, label, n))
            continue;
        p += n;
        while (*p == ' ')
            p++;
        if (*p != ':')
            continue;
        *found = 1;
        return strtoll(p + 1, NULL, 10);
    }
    return 0;
}

/* Does a regular file that libsndfile could not open end before its audio
 * does begin: inside its RIFF/RF64 (WAV) or FORM (AIFF) header? The chunks
 * are walked up to the audio chunk ('data', 'SSND'); a file that ends
 * before that chunk's contents begin is truncated when its container size
 * promises more than the file holds (or is one a streaming writer leaves
 * unset). A container header that is cut short itself (fewer than 12
 * bytes after a RIFF or FORM tag) is truncated too. Returns 1 with the
 * file's size in *size, else 0 (no such container, or complete). */
static int header_cut_short(const char *path, long long *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    struct stat st;
    memset(&st, 0, sizeof st);
    unsigned char h[12];
    ssize_t got = fstat(fd, &st) || !S_ISREG(st.st_mode) ? -1 : pread(fd, h, sizeof h, 0);
    int cut = 0;
    static const char *const tags[] = {"RIFF", "RIFX", "RF64", "FORM"};
    int tag = -1;
    for (int k = 0; k < 4 && got >= 4; k++)
        if (!memcmp(h, tags[k], 4))
            tag = k;
    if (tag >= 0 && got < (ssize_t)sizeof h) {
        cut = 1;
    } else if (tag >= 0) {
        int big = tag == 1 || tag == 3;
        const char *audio = tag == 3 ? "SSND" : "data";
        long long len = (long long)st.st_size;
#define U32(b) (big ? (uint32_t)(b)[0] << 24 | (uint32_t)(b)[1] << 16 | (uint32_t)(b)[2] << 8 | (b)[3] \
                    : (uint32_t)(b)[3] << 24 | (uint32_t)(b)[2] << 16 | (uint32_t)(b)[1] << 8 | (b)[0])
        long long container = U32(h + 4);
        int ends_early = 1;
        long long off = 12;
        for (int k = 0; k < 100000 && off + 8 <= len; k++) {
            unsigned char c[8];
            if (pread(fd, c, 8, off) != 8)
                break;
            long long sz = U32(c + 4);
            if (!memcmp(c, audio, 4)) {
                /* SSND starts with an offset and a block size */
                ends_early = off + 8 + (tag == 3 ? 8 : 0) > len;
                break;
            }
            off += 8 + sz + (sz & 1);
        }
#undef U32
        cut = ends_early && (container == 0 || container == 0xFFFFFFFFLL || container + 8 > len);
    }
    close(fd);
    *size = (long long)st.st_size;
    return cut;
}

/* Why sf_open failed, as a message naming the file. `code` and `text` are
 * sf_error (NULL) and sf_strerror (NULL) right after the failure, `log` its
 * parse log; `fifo` says the input is one. */
static void open_failure(const joule_host *h, const char *path, int fifo, int code, const char *text,
                         const char *log)
{
    char why[256], fmt[16];
    tidy(text, why, sizeof why);
    long long size = 0;
    int found;
    if (code == SF_ERR_SYSTEM) {
        h->error(h, "%s: cannot open: %s", path, why);
        return;
    }
    if (!fifo && header_cut_short(path, &size)) {
        h->error(h, "%s: is truncated: it ends after %lld bytes, inside its header (before any audio)", path, size);
        return;
    }
    /* a FIFO cannot be looked at again: a header read short is one cut
     * short, unless too little came to tell the format at all (a FIFO that
     * delivers nothing cannot be told from one that delivers a few bytes
     * of something else: both are "format not recognised") */
    if (fifo && code != SF_ERR_UNRECOGNISED_FORMAT && strstr(log, "returned short count")) {
        h->error(h, "%s: is truncated: it ends inside its header (before any audio)", path);
        return;
    }
    long long channels = log_value(log, "Channels", &found);
    if (found && (channels < 1 || channels > 1024)) {
        h->error(h, "%s: is damaged: its header gives %lld channels%s", path, channels,
                 channels > 1024 ? " (libsndfile reads at most 1024)" : "");
        return;
    }
    long long rate = log_value(log, "Sample Rate", &found);
    if (found && rate < 1) {
        h->error(h, "%s: is damaged: its header gives a sample rate of %lld Hz", path, rate);
        return;
    }
    long long bits = log_value(log, "Bit Width", &found);
    if (found && bits < 1) {
        h->error(h, "%s: is damaged: its header gives %lld bits per sample", path, bits);
        return;
    }
    if (code == SF_ERR_UNRECOGNISED_FORMAT) {
        h->error(h, "%s: is not an audio file libsndfile can read (format not recognised)", path);
        return;
    }
    if (code == SF_ERR_UNSUPPORTED_ENCODING || strstr(text, "unimplemented format") ||
        strstr(log, "chunk dumper for this format")) {
        /* the log names the codec: "Format        : 0x63 => WAVE_FORMAT_..." */
        char codec[64] = "";
        const char *f = strstr(log, " => ");
        if (f)
            sscanf(f + 4, "%63[A-Za-z0-9_]", codec);
        h->error(h, "%s: is in an audio encoding libsndfile cannot decode%s%s%s", path, *codec ? " (" : "", codec,
                 *codec ? ")" : "");
        return;
    }
    if (!*plain(why, fmt, sizeof fmt)) {
        h->error(h, "%s: is damaged: its header is malformed", path);
        return;
    }
    h->error(h, "%s: is damaged: %s%s%s%s", path, why, *fmt ? " (" : "", fmt, *fmt ? ")" : "");
}

/* A header that promises more audio than the file holds is a truncated
 * file. libsndfile opens it anyway, trimming the length to what is there,
 * and notes the lie in its log as "data : N (should be M)": find that. A
 * streamed file whose writer could not fill in the size (0 or 0xFFFFFFFF)
 * is not truncated. Over a pipe libsndfile cannot know the length: the
 * read stops early instead (src_process). */
static int check_lengths(source *s, const joule_host *h)
{
    char log[8192];
    memset(log, 0, sizeof log);
    sf_command(s->sf, SFC_GET_LOG_INFO, log, sizeof log - 1);
    int found;
    long long length = log_value(log, "Length", &found);
    /* A header that says "no audio" in front of bytes libsndfile could not
     * make sense of (a writer that never filled in its sizes) would read as
     * an empty file: that is a broken file, not silence. */
    const char *warn = strstr(log, "*** ");
    long long whole = 0;
    if (s->info.frames == 0 && strstr(log, "returned short count") && s->size >= 0 &&
        !header_cut_short(s->path, &whole)) {
        /* a whole header whose audio chunk holds nothing: not damaged,
         * but nothing to analyse either */
        h->error(h, "%s: has no audio: its header is whole and gives 0 frames", s->path);
        return -1;
    }
    if (s->info.frames == 0 && strstr(log, "returned short count")) {
        /* the header ended before the audio did begin (libsndfile opens
         * that as a file of no audio when the 'data' tag made it) */
        if (s->size >= 0)
            h->error(h, "%s: is truncated: it ends after %lld bytes, inside its header (before any audio)", s->path,
                     s->size);
        else
            h->error(h, "%s: is truncated: it ends inside its header (before any audio)", s->path);
        return -1;
    }
    if (s->info.frames == 0 && (warn || length > 4096)) {
        /* (headers and metadata of a truly empty file take far less than
         * 4 KiB; more is audio the header does not account for) */
        char what[160] = "";
        if (warn) {
            snprintf(what, sizeof what, " (%s", warn + 4);
            what[strcspn(what, "\n")] = '\0';
            strcat(what, ")");
        }
        h->error(h, "%s: is damaged: its header gives no audio, yet the file holds %lld bytes%s", s->path, length,
                 what);
        return -1;
    }
    /* AIFF: a frame count in 'COMM' above what the 'SSND' chunk holds, in
     * a file whose sizes are otherwise whole (a cut file is caught below):
     * a writer's slip, the audio that is there is read */
    long long comm = -1, ssnd = -1;
    const char *fc = strstr(log, "Frame count read from 'COMM' chunk (");
    const char *sc = strstr(log, "length of 'SSND' chunk (");
    if (fc && sc) {
        comm = strtoll(fc + 36, NULL, 10);
        ssnd = strtoll(sc + 24, NULL, 10);
    }
    int bpf = sample_bytes(s->info.format) * s->info.channels;
    for (char *line = log; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        const char *should = strstr(line, "(should be ");
        const char *colon = strchr(line, ':');
        char label[16] = "";
        sscanf(line, " %15[A-Za-z0-9 ]", label);
        int payload = !strncmp(label, "data", 4) || !strncmp(label, "SSND", 4);
        long long said = colon ? strtoll(colon + 1, NULL, 10) : 0;
        long long real = should ? strtoll(should + 11, NULL, 10) : said;
        if (payload && should && colon && colon < should && said > real && said != 0xFFFFFFFFLL &&
            said != 0xFFFFFFFFLL - 8) {
            if (bpf > 0) {
                long long missing = (said - real + bpf - 1) / bpf;
                h->error(h, "%s: is truncated: its header promises %lld frames of audio, the file holds %lld "
                            "(%lld missing)",
                         s->path, (long long)s->info.frames + missing, (long long)s->info.frames, missing);
            } else {
                h->error(h, "%s: is truncated: its header promises %lld bytes of audio, the file holds %lld "
                            "(%lld missing)",
                         s->path, said, real, said - real);
            }
            return -1;
        }
        if (payload && colon && bpf > 0 && !strncmp(label, "data", 4) && real > 0 && real < 0xFFFFFFFFLL - 8 &&
            real % bpf) {
            /* the host names the file: the message need not (and a name
             * with control characters is escaped only there) */
            h->log(h, JOULE_LOG_WARN, "the audio data ends within a frame: its last %lld of %d bytes are left out",
                   real % bpf, bpf);
        }
        line = next;
    }
    if (comm > ssnd && ssnd >= 0)
        h->log(h, JOULE_LOG_WARN, "its header gives %lld frames, its audio chunk holds %lld (%lld missing): %lld read",
               comm, ssnd, comm - ssnd, (long long)s->info.frames);
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
    /* What the path names, before libsndfile opens it: libsndfile reads a
     * directory as a file that is not audio, and a device forever. */
    struct stat st;
    if (stat(s->path, &st)) {
        h->error(h, "%s: cannot open: %s", s->path, strerror(errno));
        return JOULE_ERROR;
    }
    if (S_ISDIR(st.st_mode)) {
        h->error(h, "%s: is a directory, not an audio file", s->path);
        return JOULE_ERROR;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        h->error(h, "%s: is %s, not an audio file", s->path, file_kind(st.st_mode));
        return JOULE_ERROR;
    }
    s->size = S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
    if (s->size == 0) {
        h->error(h, "%s: is empty (0 bytes)", s->path);
        return JOULE_ERROR;
    }
    /* sf_open's failure reason and parse log live in process-wide variables
     * until the next failure: read them under the same lock as the open. */
    char reason[256] = "", log[4096] = "";
    int code = 0;
    h->lock(h, "libsndfile-open");
    s->sf = sf_open(s->path, SFM_READ, &s->info);
    if (!s->sf) {
        code = sf_error(NULL);
        snprintf(reason, sizeof reason, "%s", sf_strerror(NULL));
        sf_command(NULL, SFC_GET_LOG_INFO, log, sizeof log);
    }
    h->unlock(h, "libsndfile-open");
    if (!s->sf) {
        open_failure(h, s->path, s->size < 0, code, reason, log);
        return JOULE_ERROR;
    }
    /* (libsndfile itself refuses fewer than 1 channel, more than 1024, and
     * a rate under 1 Hz) */
    if (s->info.samplerate > MAX_RATE) {
        h->error(h, "%s: is damaged: its header gives a sample rate of %d Hz (at most %d Hz is read)", s->path,
                 s->info.samplerate, MAX_RATE);
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
        char why[256];
        tidy(sf_strerror(s->sf), why, sizeof why);
        char fmt[16];
        if (err == SF_ERR_SYSTEM)
            s->host->error(s->host, "%s: read error after %lld frames: %s", s->path, (long long)s->read, why);
        else
            s->host->error(s->host, "%s: is damaged: %s, after %lld frames", s->path,
                           *plain(why, fmt, sizeof fmt) ? why : "its audio cannot be decoded", (long long)s->read);
        return JOULE_ERROR;
    }
    if (got < want) {
        /* the end, or a file shorter than its header said (over a pipe,
         * where libsndfile could not compare them at open) */
        if (s->info.frames > 0 && s->read < s->info.frames && s->info.frames != SF_COUNT_MAX) {
            s->host->error(s->host,
                           "%s: is truncated: its header promises %lld frames of audio, the file holds %lld (%lld "
                           "missing)",
                           s->path, (long long)s->info.frames, (long long)s->read,
                           (long long)(s->info.frames - s->read));
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
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Reads any file libsndfile opens (WAV, WAVE_FORMAT_EXTENSIBLE, FLAC, AIFF, AU, Ogg Vorbis and "
                   "more) and streams its samples as floats in [-1, 1), one column per channel, at the file's sample "
                   "rate. A file whose header promises more frames than it holds, or that cannot be decoded to the "
                   "end, fails with the place it stopped.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
