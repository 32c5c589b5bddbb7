/* ladspa_cmp.c — the helper of ladspa-agree.sh (not a test by itself).
 *
 *   ladspa_cmp --make OUT.wav CHANNELS FRAMES RATE [SEED]
 *       writes a 16-bit WAV: per channel c, a logarithmic chirp (40 Hz to
 *       0.45 × RATE) plus noise and a few clipped bursts, from seed SEED + c
 *       (default 1), so that a mono file made with seed S + c holds the
 *       same samples as channel c of a wider one made with seed S.
 *
 *   ladspa_cmp --same A.wav B.wav
 *       the samples of two float files are the same bits (exit status 0).
 *
 *   ladspa_cmp --frames A.wav
 *       prints the number of frames of A.wav.
 *
 *   ladspa_cmp [--channel K] JOULE.wav APPLY.wav
 *       JOULE.wav: joule's output (float samples); APPLY.wav: the LADSPA
 *       SDK's applyplugin output (16-bit). Each of joule's floats is turned
 *       into the 16-bit sample applyplugin would have written for it (its
 *       writeFromBuffers: x × 2^31 in float, clamped, llrintf, to int32;
 *       then libsndfile's int to 16-bit, >> 16) and every sample must be
 *       equal. With --channel K, joule's channel K is compared with the
 *       one channel of APPLY.wav. Prints the count of samples compared, or
 *       the first mismatch (frame, channel, both values); exit status 1 on
 *       any difference, 2 on a usage or file error. */
#include <sndfile.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static int make(const char *path, int ch, long frames, int rate, unsigned seed)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = ch;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "ladspa_cmp: %s: %s\n", path, sf_strerror(NULL));
        return 2;
    }
    short *row = calloc((size_t)ch, sizeof *row);
    uint32_t *st = calloc((size_t)ch, sizeof *st);
    double *ph = calloc((size_t)ch, sizeof *ph);
    if (!row || !st || !ph)
        return 2;
    for (int c = 0; c < ch; c++)
        st[c] = 2654435761u * (seed + (unsigned)c) + 1u;
    double f0 = 40, f1 = 0.45 * rate, len = (double)frames / rate;
    for (long i = 0; i < frames; i++) {
        double t = (double)i / rate;
        double f = f0 * pow(f1 / f0, t / len);
        for (int c = 0; c < ch; c++) {
            unsigned s = seed + (unsigned)c;
            ph[c] += 2 * M_PI * f * (1 + 0.01 * (s % 7)) / rate;
            double noise = ((double)(rng(&st[c]) >> 8) / 16777216.0 - 0.5) * 0.2;
            double x = 0.5 * sin(ph[c]) + noise;
            if ((i / 4410) % 10 == (long)(s % 10)) /* a burst past full scale */
                x *= 3;
            x = x > 1 ? 1 : x < -1 ? -1 : x;
            row[c] = (short)lrint(x * 32767);
        }
        if (sf_writef_short(sf, row, 1) != 1) {
            fprintf(stderr, "ladspa_cmp: %s: cannot write\n", path);
            return 2;
        }
    }
    free(row);
    free(st);
    free(ph);
    return sf_close(sf) ? 2 : 0;
}

/* The 16-bit sample applyplugin writes for float x. */
static short as_applyplugin(float x)
{
    float scalar = (float)(0x80000000ll), lo = (float)(-0x80000000ll), hi = (float)(0x7FFFFFFFll);
    float v = x * scalar;
    if (v >= hi)
        v = hi;
    else if (v <= lo)
        v = lo;
    int32_t i = (int32_t)llrintf(v); /* as applyplugin: hi is 2^31, which wraps to -2^31 */
    return (short)(i >> 16);
}

static SNDFILE *open_in(const char *path, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    if (!sf)
        fprintf(stderr, "ladspa_cmp: %s: %s\n", path, sf_strerror(NULL));
    return sf;
}

/* Are the samples of two float files the same bits? (Not the same bytes:
 * libsndfile stamps a float WAV's PEAK chunk with the time.) */
static int same(const char *p1, const char *p2)
{
    SF_INFO i1, i2;
    SNDFILE *f1 = open_in(p1, &i1), *f2 = open_in(p2, &i2);
    if (!f1 || !f2)
        return 2;
    if (i1.channels != i2.channels || i1.frames != i2.frames || i1.samplerate != i2.samplerate) {
        printf("%s: %d channels, %lld frames at %d Hz; %s: %d, %lld at %d Hz\n", p1, i1.channels,
               (long long)i1.frames, i1.samplerate, p2, i2.channels, (long long)i2.frames, i2.samplerate);
        return 1;
    }
    float r1[64], r2[64];
    if (i1.channels > 64)
        return 2;
    for (sf_count_t f = 0; f < i1.frames; f++) {
        if (sf_readf_float(f1, r1, 1) != 1 || sf_readf_float(f2, r2, 1) != 1)
            return 2;
        if (memcmp(r1, r2, (size_t)i1.channels * sizeof *r1)) {
            printf("frame %lld differs\n", (long long)f);
            return 1;
        }
    }
    printf("%lld frames the same\n", (long long)i1.frames);
    sf_close(f1);
    sf_close(f2);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "--make"))
        return make(argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]),
                    argc > 6 ? (unsigned)strtoul(argv[6], NULL, 10) : 1u);
    if (argc == 4 && !strcmp(argv[1], "--same"))
        return same(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "--frames")) {
        SF_INFO info;
        SNDFILE *sf = open_in(argv[2], &info);
        if (!sf)
            return 2;
        printf("%lld\n", (long long)info.frames);
        sf_close(sf);
        return 0;
    }
    int k = -1, a = 1;
    if (argc == 5 && !strcmp(argv[1], "--channel")) {
        k = atoi(argv[2]);
        a = 3;
    }
    if (argc - a != 2) {
        fprintf(stderr, "usage: ladspa_cmp --make OUT.wav CHANNELS FRAMES RATE [SEED]\n"
                        "       ladspa_cmp --same A.wav B.wav\n"
                        "       ladspa_cmp --frames A.wav\n"
                        "       ladspa_cmp [--channel K] JOULE.wav APPLY.wav\n");
        return 2;
    }
    SF_INFO ji, ai;
    SNDFILE *jf = open_in(argv[a], &ji), *af = open_in(argv[a + 1], &ai);
    if (!jf || !af)
        return 2;
    if ((ji.format & SF_FORMAT_SUBMASK) != SF_FORMAT_FLOAT) {
        fprintf(stderr, "ladspa_cmp: %s: not float samples\n", argv[a]);
        return 2;
    }
    int nj = ji.channels, na = ai.channels;
    if (k >= 0 ? (na != 1 || k >= nj) : na != nj) {
        printf("channels differ: joule %d, applyplugin %d%s\n", nj, na, k >= 0 ? " (one expected)" : "");
        return 1;
    }
    if (ji.frames != ai.frames) {
        printf("lengths differ: joule %lld frames, applyplugin %lld\n", (long long)ji.frames, (long long)ai.frames);
        return 1;
    }
    float *jr = malloc((size_t)nj * sizeof *jr);
    short *ar = malloc((size_t)na * sizeof *ar);
    if (!jr || !ar)
        return 2;
    long long n = 0;
    for (sf_count_t f = 0; f < ji.frames; f++) {
        if (sf_readf_float(jf, jr, 1) != 1 || sf_readf_short(af, ar, 1) != 1) {
            fprintf(stderr, "ladspa_cmp: short read at frame %lld\n", (long long)f);
            return 2;
        }
        for (int c = 0; c < na; c++) {
            int jc = k >= 0 ? k : c;
            short mine = as_applyplugin(jr[jc]);
            if (mine != ar[c]) {
                printf("frame %lld, channel %d: joule %.9g (as 16-bit %d), applyplugin %d\n", (long long)f, jc,
                       (double)jr[jc], mine, ar[c]);
                return 1;
            }
            n++;
        }
    }
    printf("%lld samples equal\n", n);
    free(jr);
    free(ar);
    sf_close(jf);
    sf_close(af);
    return 0;
}
