/* check_sndfile_sink.c — the sndfile_sink plugin: float and integer round
 * trips read back with libsndfile (samples equal), rounding and clipping
 * of integer subtypes by the rule in the plugin's help, formats libsndfile
 * cannot write refused with a clear message and no file, a job that fails
 * half-way leaves no file (while the other input of the run is written),
 * the rate override, a lossy format, and byte-identical files for any
 * chunk size and thread count. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double uniform(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (double)(*s >> 8) / (1u << 23) - 1.0;
}

/* Run sndfile -> sndfile_sink (with `params`) on `input`; exit status. */
static int run_sink(const char *input, const char *params, const char *extra)
{
    char graph[1024];
    snprintf(graph, sizeof graph, "[in]\nplugin = sndfile\n[w]\nplugin = sndfile_sink\ninput = in\n%s\n", params);
    tu_write_file(tu_path("g.ini"), graph);
    return tu_joule("run '%s' '%s' -o '%s' %s", tu_path("g.ini"), input, tu_path("o"), extra ? extra : "");
}

/* Open a written file; its info in *info. */
static SNDFILE *open_read(const char *rel, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(tu_path(rel), SFM_READ, info);
    ck_assert_msg(sf != NULL, "%s: %s", rel, sf_strerror(NULL));
    return sf;
}

START_TEST(test_float_roundtrip)
{
    /* float WAV in, float WAV out: every sample equal, beyond full scale
     * included */
    const size_t n = 30000;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 1;
    for (size_t i = 0; i < 2 * n; i++)
        x[i] = (float)(1.5 * uniform(&s));
    tu_write_wav(tu_path("in.wav"), 44100, 2, n, x, SF_FORMAT_FLOAT);
    ck_assert_msg(run_sink(tu_path("in.wav"), "subtype = float", NULL) == 0, "%s", tu_stderr());
    SF_INFO info;
    SNDFILE *sf = open_read("o/in.w.wav", &info);
    ck_assert_int_eq(info.format, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    ck_assert_int_eq(info.channels, 2);
    ck_assert_int_eq(info.samplerate, 44100);
    ck_assert_int_eq(info.frames, (sf_count_t)n);
    float *y = malloc(2 * n * sizeof *y);
    sf_command(sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    ck_assert_int_eq(sf_readf_float(sf, y, (sf_count_t)n), (sf_count_t)n);
    sf_close(sf);
    ck_assert(!memcmp(x, y, 2 * n * sizeof *x));
    free(x);
    free(y);
}
END_TEST

/* Read a whole file as ints (full scale 2^31), channels × frames. */
static int *read_ints(const char *path, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    ck_assert_msg(sf != NULL, "%s: %s", path, sf_strerror(NULL));
    int *v = malloc((size_t)info->frames * info->channels * sizeof *v + 1);
    ck_assert_int_eq(sf_readf_int(sf, v, info->frames), info->frames);
    sf_close(sf);
    return v;
}

START_TEST(test_integer_roundtrip)
{
    /* pcm16 WAV -> pcm16 WAV and FLAC, pcm24 WAV -> pcm24 AIFF: the integer
     * samples come back unchanged (the source reads int / 2^(bits-1), the
     * sink multiplies back) */
    const size_t n = 20000;
    float *x = malloc(3 * n * sizeof *x);
    uint32_t s = 2;
    for (size_t i = 0; i < 3 * n; i++)
        x[i] = (float)(0.999 * uniform(&s));
    tu_write_wav(tu_path("p16.wav"), 32000, 3, n, x, SF_FORMAT_PCM_16);
    tu_write_wav(tu_path("p24.wav"), 32000, 3, n, x, SF_FORMAT_PCM_24);
    static const struct {
        const char *in, *params, *out;
        int format;
    } cases[] = {
        {"p16.wav", "subtype = pcm16", "o/p16.w.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
        {"p16.wav", "format = flac\npath = {stem}.flac", "o/p16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
        {"p24.wav", "format = aiff\nsubtype = pcm24\npath = {stem}.aiff", "o/p24.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24},
        {"p24.wav", "format = flac\nsubtype = pcm24\npath = {stem}.flac", "o/p24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        ck_assert_msg(run_sink(tu_path(cases[t].in), cases[t].params, NULL) == 0, "%s", tu_stderr());
        SF_INFO a, b;
        int *want = read_ints(tu_path(cases[t].in), &a);
        int *got = read_ints(tu_path(cases[t].out), &b);
        ck_assert_int_eq(b.format, cases[t].format);
        ck_assert_int_eq(b.channels, 3);
        ck_assert_int_eq(b.samplerate, 32000);
        ck_assert_int_eq(b.frames, a.frames);
        ck_assert_msg(!memcmp(want, got, (size_t)a.frames * 3 * sizeof *got), "%s: samples differ", cases[t].out);
        free(want);
        free(got);
    }
    free(x);
}
END_TEST

START_TEST(test_rounding_and_clipping)
{
    /* pcm16 of x is round-half-even(x · 32768) clipped to [-32768, 32767] */
    static const struct {
        float x;
        int q;
    } cases[] = {
        {0.0f, 0},
        {0.5f / 32768, 0},            /* tie to even */
        {1.5f / 32768, 2},            /* tie to even */
        {-2.5f / 32768, -2},          /* tie to even */
        {0.6f / 32768, 1},
        {-0.6f / 32768, -1},
        {1000.0f / 32768, 1000},
        {0.99999f, 32767},            /* 32767.67 clipped */
        {1.0f, 32767},
        {2.0f, 32767},
        {-1.0f, -32768},
        {-3.0f, -32768},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    float x[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < n; i++)
        x[i] = cases[i].x;
    tu_write_wav(tu_path("q.wav"), 8000, 1, n, x, SF_FORMAT_FLOAT);
    ck_assert_msg(run_sink(tu_path("q.wav"), "subtype = pcm16", NULL) == 0, "%s", tu_stderr());
    SF_INFO info;
    SNDFILE *sf = open_read("o/q.w.wav", &info);
    short y[sizeof cases / sizeof cases[0]];
    ck_assert_int_eq(sf_readf_short(sf, y, (sf_count_t)n), (sf_count_t)n);
    sf_close(sf);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(y[i] == cases[i].q, "x = %.9g: wrote %d, expected %d", cases[i].x, y[i], cases[i].q);
}
END_TEST

/* Names in the output folder other than "." and "..". */
static int count_files(const char *dir, const char *must_not_contain)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        ck_assert_msg(!must_not_contain || !strstr(e->d_name, must_not_contain), "left behind: %s", e->d_name);
    }
    closedir(d);
    return n;
}

START_TEST(test_refuses)
{
    float x[1000] = {0};
    tu_write_wav(tu_path("in.wav"), 44100, 2, 500, x, 0);
    static const struct {
        const char *params, *words[2];
    } cases[] = {
        {"format = ogg\nsubtype = pcm16", {"ogg", "pcm16"}},
        {"format = flac\nsubtype = float", {"flac", "float"}},
        {"format = au\nsubtype = vorbis", {"au", "vorbis"}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        ck_assert_int_ne(run_sink(tu_path("in.wav"), cases[t].params, NULL), 0);
        for (int w = 0; w < 2; w++)
            ck_assert_msg(strstr(tu_stderr(), cases[t].words[w]), "message lacks '%s': %s", cases[t].words[w],
                          tu_stderr());
        ck_assert_int_eq(count_files(tu_path("o"), NULL), 0);
    }
    /* a rate the format cannot hold, known only at open: FLAC stops at 655350 Hz */
    tu_write_wav(tu_path("fast.wav"), 700000, 1, 100, x, 0);
    ck_assert_int_ne(run_sink(tu_path("fast.wav"), "format = flac", NULL), 0);
    ck_assert_msg(strstr(tu_stderr(), "700000"), "message: %s", tu_stderr());
    ck_assert_int_eq(count_files(tu_path("o"), NULL), 0);
}
END_TEST

START_TEST(test_failed_job_leaves_no_file)
{
    /* a FLAC file cut short: the source fails after the sink has written
     * most of it; nothing of it stays. The good file of the same run is
     * written. */
    const size_t n = 200000;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 4;
    for (size_t i = 0; i < 2 * n; i++)
        x[i] = (float)(0.5 * uniform(&s));
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = 44100;
    info.channels = 2;
    info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(tu_path("bad.flac"), SFM_WRITE, &info);
    ck_assert_ptr_nonnull(sf);
    ck_assert_int_eq(sf_writef_float(sf, x, (sf_count_t)n), (sf_count_t)n);
    sf_close(sf);
    FILE *f = fopen(tu_path("bad.flac"), "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    ck_assert_int_eq(truncate(tu_path("bad.flac"), size * 3 / 4), 0);
    tu_write_wav(tu_path("good.wav"), 44100, 2, 1000, x, 0);
    char inputs[600];
    snprintf(inputs, sizeof inputs, "'%s' '%s'", tu_path("bad.flac"), tu_path("good.wav"));
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n[w]\nplugin = sndfile_sink\ninput = in\n");
    int rc = tu_joule("run '%s' %s -o '%s' --set graph.chunk=1024", tu_path("g.ini"), inputs, tu_path("o"));
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(tu_stderr(), "bad.flac"), "message: %s", tu_stderr());
    ck_assert(!tu_exists(tu_path("o/bad.w.wav")));
    ck_assert(tu_exists(tu_path("o/good.w.wav")));
    ck_assert_int_eq(count_files(tu_path("o"), ".tmp"), 1);
    free(x);
}
END_TEST

START_TEST(test_rate_and_ogg)
{
    /* the header rate can be set; Ogg Vorbis keeps a sine's level */
    const size_t n = 48000;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 440.0 * i / 48000));
    tu_write_wav(tu_path("in.wav"), 48000, 1, n, x, 0);
    ck_assert_msg(run_sink(tu_path("in.wav"), "rate = 24000", NULL) == 0, "%s", tu_stderr());
    SF_INFO info;
    SNDFILE *sf = open_read("o/in.w.wav", &info);
    ck_assert_int_eq(info.samplerate, 24000);
    ck_assert_int_eq(info.frames, (sf_count_t)n);
    sf_close(sf);
    ck_assert_msg(run_sink(tu_path("in.wav"), "format = ogg\npath = {stem}.ogg", NULL) == 0, "%s", tu_stderr());
    sf = open_read("o/in.ogg", &info);
    ck_assert_int_eq(info.format, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
    ck_assert_int_eq(info.samplerate, 48000);
    float *y = malloc(n * sizeof *y);
    sf_count_t got = sf_readf_float(sf, y, (sf_count_t)n);
    sf_close(sf);
    ck_assert_int_gt(got, (sf_count_t)(n * 9 / 10));
    double ss = 0;
    for (sf_count_t i = 0; i < got; i++)
        ss += (double)y[i] * y[i];
    /* RMS of a 0.5 sine: 0.5/√2, within 0.5 dB after lossy coding */
    ck_assert_double_eq_tol(10 * log10(ss / got), 20 * log10(0.5 / sqrt(2.0)), 0.5);
    free(x);
    free(y);
}
END_TEST

START_TEST(test_chunk_invariance)
{
    const size_t n = 9000;
    float *x = malloc(2 * n * sizeof *x);
    uint32_t s = 6;
    for (size_t i = 0; i < 2 * n; i++)
        x[i] = (float)(0.9 * uniform(&s));
    tu_write_wav(tu_path("y.wav"), 22050, 2, n, x, 0);
    tu_write_file(tu_path("g.ini"), "[in]\nplugin = sndfile\n"
                                    "[a]\nplugin = sndfile_sink\ninput = in\n"
                                    "[b]\nplugin = sndfile_sink\ninput = in\nformat = flac\npath = {stem}.flac\n"
                                    "[c]\nplugin = sndfile_sink\ninput = in\nformat = aiff\nsubtype = pcm24\n"
                                    "path = {stem}.aiff\n"
                                    "[d]\nplugin = sndfile_sink\ninput = in\nformat = caf\nsubtype = float\n"
                                    "path = {stem}.caf\n");
    static const char *const files[] = {"y.a.wav", "y.flac", "y.aiff", "y.caf"};
    char *why = tu_invariance(tu_path("g.ini"), tu_path("y.wav"), files, 4);
    ck_assert_msg(why == NULL, "%s", why);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sndfile_sink");
    TCase *tc = tcase_create("Files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_float_roundtrip);
    tcase_add_test(tc, test_integer_roundtrip);
    tcase_add_test(tc, test_rounding_and_clipping);
    tcase_add_test(tc, test_refuses);
    tcase_add_test(tc, test_failed_job_leaves_no_file);
    tcase_add_test(tc, test_rate_and_ogg);
    tcase_add_test(tc, test_chunk_invariance);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
