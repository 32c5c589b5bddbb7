/* check_sndfile.c — the audio source on inputs that are wrong: a directory,
 * a device, a missing or empty file, a header cut short, a header that
 * promises more audio than the file holds (WAV, AIFF, and over a FIFO),
 * zero or 2000 channels, a sample rate of 0 or 2 GHz, 0 bits per sample, a
 * codec libsndfile lacks, text, random bytes behind a RIFF header, a name
 * with control characters. Each fails its own job with one line that names
 * the file and says what is wrong, exit 1, nothing left in the output
 * folder (no output, no temporary), while the good input given beside it
 * on the same command line is processed and right: a constant signal whose
 * RMS is known (0.5 and 0.25 of full scale). A data chunk that ends within
 * a frame and an AIFF frame count above its audio are warnings. Every input
 * is written here byte by byte, so that the damage is exactly known. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FRAMES 4096 /* of the good input: 4 energy frames of 1024 */
#define PREFIX "node 'in' (sndfile 1.0.0): "

static const char *graph_text = "[in]\nplugin = sndfile\n\n[rms]\nplugin = energy\ninput = in\nframe = 1024\n"
                                "hop = 1024\n\n[out]\nplugin = csv\ninput = rms\npath = {stem}.energy.csv\n";

/* ---- bytes ---------------------------------------------------------------- */

static void le16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
    le16(p, v & 0xffff);
    le16(p + 2, v >> 16);
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A canonical 44-byte WAV header: RIFF, a 16-byte 'fmt ' chunk, and a
 * 'data' chunk of data_len bytes (whatever follows in the file). */
static void wav_header(unsigned char *h, uint32_t tag, uint32_t channels, uint32_t rate, uint32_t bits,
                       uint32_t data_len)
{
    uint32_t align = channels * (bits / 8);
    memcpy(h, "RIFF", 4);
    le32(h + 4, 36 + data_len);
    memcpy(h + 8, "WAVEfmt ", 8);
    le32(h + 16, 16);
    le16(h + 20, tag);
    le16(h + 22, channels);
    le32(h + 24, rate);
    le32(h + 28, rate * align);
    le16(h + 32, align);
    le16(h + 34, bits);
    memcpy(h + 36, "data", 4);
    le32(h + 40, data_len);
}

/* The good input, 16-bit stereo at 8 kHz: channel 0 at +0.5 of full scale
 * (16384), channel 1 at -0.25 (-8192). *n = its size. With header data
 * length `data_len` (0: the true one). */
static unsigned char *good_wav(uint32_t data_len, size_t *n)
{
    size_t bytes = FRAMES * 4;
    unsigned char *b = calloc(1, 44 + bytes + 2); /* room for a stray byte and a pad */
    wav_header(b, 1, 2, 8000, 16, data_len ? data_len : (uint32_t)bytes);
    for (size_t i = 0; i < FRAMES; i++) {
        le16(b + 44 + 4 * i, 16384);
        le16(b + 44 + 4 * i + 2, (uint16_t)-8192);
    }
    *n = 44 + bytes;
    return b;
}

/* A mono 16-bit AIFF at 8 kHz of `frames` samples at +0.5, whose COMM
 * chunk gives `comm_frames`. */
static unsigned char *aiff(uint32_t frames, uint32_t comm_frames, size_t *n)
{
    static const unsigned char rate_8000[10] = {0x40, 0x0b, 0xfa, 0, 0, 0, 0, 0, 0, 0};
    size_t ssnd = 8 + 2 * (size_t)frames;
    unsigned char *b = calloc(1, 54 + 2 * (size_t)frames);
    memcpy(b, "FORM", 4);
    be32(b + 4, (uint32_t)(4 + 26 + 8 + ssnd));
    memcpy(b + 8, "AIFFCOMM", 8);
    be32(b + 16, 18);
    b[20] = 0, b[21] = 1; /* channels */
    be32(b + 22, comm_frames);
    b[26] = 0, b[27] = 16; /* bits */
    memcpy(b + 28, rate_8000, 10);
    memcpy(b + 38, "SSND", 4);
    be32(b + 42, (uint32_t)ssnd);
    /* offset and block size 0 (b + 46 .. b + 53), then the samples */
    for (uint32_t i = 0; i < frames; i++)
        b[54 + 2 * i] = 0x40;
    *n = 54 + 2 * (size_t)frames;
    return b;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f && fwrite(p, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
}

/* ---- runs ----------------------------------------------------------------- */

static char graph[512], good[512];

static void setup(void)
{
    snprintf(graph, sizeof graph, "%s", tu_path("g.ini"));
    snprintf(good, sizeof good, "%s", tu_path("good.wav"));
    tu_write_file(graph, graph_text);
    size_t n;
    unsigned char *b = good_wav(0, &n);
    write_bytes(good, b, n);
    free(b);
}

static int lines(const char *s)
{
    int k = 0;
    for (; *s; s++)
        k += *s == '\n';
    return k;
}

/* `csv` holds `rows` frames of the constant signal: RMS 0.5 on ch0 and,
 * when rms1 > 0, rms1 on ch1 (mean square, dBFS and peak to match). */
static void check_energy(const char *csv, size_t rows, double rms1)
{
    tu_csv c;
    ck_assert_msg(tu_csv_read(csv, &c) == 0, "%s: not written", csv);
    ck_assert_uint_eq(c.rows, rows);
    int ms0 = tu_csv_col(&c, "ms_ch0"), rms0 = tu_csv_col(&c, "rms_ch0"), db0 = tu_csv_col(&c, "db_ch0"),
        pk0 = tu_csv_col(&c, "peak_ch0"), r1 = tu_csv_col(&c, "rms_ch1"), pk1 = tu_csv_col(&c, "peak_ch1");
    ck_assert(ms0 >= 0 && rms0 >= 0 && db0 >= 0 && pk0 >= 0);
    ck_assert(rms1 > 0 ? r1 >= 0 && pk1 >= 0 : r1 < 0);
    for (size_t i = 0; i < c.rows; i++) {
        const double *v = c.v + i * c.cols;
        ck_assert_double_eq_tol(v[ms0], 0.25, 1e-7);
        ck_assert_double_eq_tol(v[rms0], 0.5, 1e-7);
        ck_assert_double_eq_tol(v[db0], 20 * log10(0.5), 1e-6);
        ck_assert_double_eq_tol(v[pk0], 0.5, 1e-7);
        if (rms1 > 0) {
            ck_assert_double_eq_tol(v[r1], rms1, 1e-7);
            ck_assert_double_eq_tol(v[pk1], rms1, 1e-7);
        }
    }
    tu_csv_free(&c);
}

/* The output folder holds the good input's output, right, and nothing
 * else: no output of the failed input, no temporary. */
static void only_good(const char *od)
{
    DIR *d = opendir(od);
    ck_assert_msg(d != NULL, "%s: no output folder", od);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "good.energy.csv"),
                      "%s: left behind: %s", od, e->d_name);
    closedir(d);
    char p[600];
    snprintf(p, sizeof p, "%s/good.energy.csv", od);
    check_energy(p, FRAMES / 1024, 0.25);
}

/* Run `input` (a path) beside the good input into a fresh folder: exit 1,
 * one line "INPUT: node 'in' (sndfile 1.0.0): INPUT: REASON...", and only
 * the good input's output. `reason` is matched as a prefix of the rest of
 * the line. */
static void expect_path(const char *input, const char *reason)
{
    static int k;
    char in[600], od[600], want[2048];
    snprintf(in, sizeof in, "%s", input);
    char name[32];
    snprintf(name, sizeof name, "o%d", k++);
    snprintf(od, sizeof od, "%s", tu_path(name));
    int rc = tu_joule("run '%s' '%s' '%s' -o '%s'", graph, in, good, od);
    const char *err = tu_stderr();
    ck_assert_msg(rc == 1, "%s: exit %d, expected 1: %s", in, rc, err);
    snprintf(want, sizeof want, "joule: %s: " PREFIX "%s: %s", in, in, reason);
    ck_assert_msg(!strncmp(err, want, strlen(want)), "expected\n  %s\ngot\n  %s", want, err);
    ck_assert_msg(lines(err) == 1, "%s: not one line: %s", in, err);
    only_good(od);
}

static void expect(const char *name, const char *reason)
{
    expect_path(tu_path(name), reason);
}

/* Write `n` bytes as `name` and expect `reason`. */
static void expect_bytes(const char *name, const void *p, size_t n, const char *reason)
{
    write_bytes(tu_path(name), p, n);
    expect(name, reason);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(good_alone)
{
    /* the reference: the good input by itself, no message */
    int rc = tu_joule("run '%s' '%s' -o '%s'", graph, good, tu_path("alone"));
    ck_assert_msg(rc == 0, "exit %d: %s", rc, tu_stderr());
    ck_assert_str_eq(tu_stderr(), "");
    only_good(tu_path("alone"));
}
END_TEST

START_TEST(not_files)
{
    expect("missing.wav", "cannot open: No such file or directory");
    ck_assert_int_eq(mkdir(tu_path("folder.wav"), 0755), 0);
    expect("folder.wav", "is a directory, not an audio file");
    expect_path("/dev/null", "is a character device, not an audio file");
    expect_path("/dev/zero", "is a character device, not an audio file");
    tu_write_file(tu_path("empty.wav"), "");
    expect("empty.wav", "is empty (0 bytes)");
    /* a whole header over an empty audio chunk: not truncated, just empty */
    unsigned char h[44];
    wav_header(h, 1, 1, 8000, 16, 0);
    expect_bytes("noaudio.wav", h, sizeof h, "has no audio: its header is whole and gives 0 frames");
}
END_TEST

START_TEST(header_cut_short)
{
    size_t n;
    unsigned char *b = good_wav(0, &n);
    /* inside "RIFF....WAVE", inside 'fmt ', inside the 'data' chunk header */
    static const size_t cuts[] = {4, 12, 30, 40, 43};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[32], reason[128];
        snprintf(name, sizeof name, "cut%zu.wav", cuts[i]);
        snprintf(reason, sizeof reason, "is truncated: it ends after %zu bytes, inside its header (before any audio)",
                 cuts[i]);
        expect_bytes(name, b, cuts[i], reason);
    }
    free(b);
    /* AIFF: the file ends within 'SSND' */
    b = aiff(2048, 2048, &n);
    expect_bytes("cut.aiff", b, 44, "is truncated: it ends after 44 bytes, inside its header (before any audio)");
    free(b);
}
END_TEST

START_TEST(data_cut_short)
{
    size_t n;
    /* the header promises twice the audio there is */
    unsigned char *b = good_wav(2 * FRAMES * 4, &n);
    expect_bytes("more.wav", b, n, "is truncated: its header promises 8192 frames of audio, the file holds 4096 (4096 missing)");
    free(b);
    /* a copy cut short within the audio: 250 frames and 2 bytes */
    b = good_wav(0, &n);
    expect_bytes("cut.wav", b, 44 + 1002, "is truncated: its header promises 4096 frames of audio, the file holds 250 (3846 missing)");
    free(b);
    b = aiff(2048, 2048, &n);
    expect_bytes("cut-data.aiff", b, n - 1000, "is truncated: its header promises 2048 frames of audio, the file holds 1548 (500 missing)");
    free(b);
}
END_TEST

START_TEST(header_values)
{
    unsigned char b[44 + 64];
    memset(b, 0, sizeof b);
    wav_header(b, 1, 0, 8000, 16, 64);
    expect_bytes("ch0.wav", b, sizeof b, "is damaged: its header gives 0 channels");
    wav_header(b, 1, 2000, 8000, 16, 64);
    expect_bytes("ch2000.wav", b, sizeof b, "is damaged: its header gives 2000 channels (libsndfile reads at most 1024)");
    wav_header(b, 1, 1, 0, 16, 64);
    expect_bytes("rate0.wav", b, sizeof b, "is damaged: its header gives a sample rate of 0 Hz");
    wav_header(b, 1, 1, 2000000000, 16, 64);
    expect_bytes("rate2g.wav", b, sizeof b,
                 "is damaged: its header gives a sample rate of 2000000000 Hz (at most 1000000000 Hz is read)");
    wav_header(b, 1, 1, 8000, 0, 64);
    expect_bytes("bits0.wav", b, sizeof b, "is damaged: its header gives 0 bits per sample");
    /* a codec libsndfile does not have (0x63, Canopus ATRAC) */
    wav_header(b, 0x63, 1, 8000, 16, 64);
    expect_bytes("codec.wav", b, sizeof b, "is in an audio encoding libsndfile cannot decode");
}
END_TEST

START_TEST(not_audio)
{
    tu_write_file(tu_path("text.wav"), "time,x\n0,1\n0.1,2\nthis is a CSV file, not audio\n");
    expect("text.wav", "is not an audio file libsndfile can read (format not recognised)");
    /* random bytes behind a RIFF/WAVE header whose size is right: eight of
     * them on one command line, each failing alone with its one line */
    char args[8192] = "", od[600];
    size_t used = 0;
    uint32_t seed = 12345;
    for (int k = 0; k < 8; k++) {
        unsigned char b[1024];
        memcpy(b, "RIFF", 4);
        le32(b + 4, sizeof b - 8);
        memcpy(b + 8, "WAVE", 4);
        for (size_t i = 12; i < sizeof b; i++) {
            seed = seed * 1103515245u + 12345u;
            b[i] = (unsigned char)(seed >> 16);
        }
        if (k >= 4)
            memcpy(b + 12, "fmt ", 4); /* a chunk libsndfile parses, with a random size and contents */
        char name[32];
        snprintf(name, sizeof name, "noise%d.wav", k);
        write_bytes(tu_path(name), b, sizeof b);
        used += (size_t)snprintf(args + used, sizeof args - used, " '%s'", tu_path(name));
    }
    snprintf(od, sizeof od, "%s", tu_path("noise"));
    int rc = tu_joule("run '%s'%s '%s' -o '%s'", graph, args, good, od);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, tu_stderr());
    char *err = strdup(tu_stderr());
    ck_assert_int_eq(lines(err), 8);
    static const char *const reasons[] = {"is damaged: ", "is truncated: ", "is not an audio file ",
                                          "is in an audio encoding "};
    for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = strstr(line, PREFIX);
        ck_assert_msg(p && !strncmp(line, "joule: ", 7), "%s", line);
        p += strlen(PREFIX);
        /* the file, again, then the reason */
        ck_assert_msg(!strncmp(p, line + 7, (size_t)(strstr(line, ": " PREFIX) - line - 7)), "%s", line);
        p = strstr(p, ".wav: ");
        ck_assert_msg(p != NULL, "%s", line);
        p += 6;
        int known = 0;
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
            known |= !strncmp(p, reasons[i], strlen(reasons[i]));
        ck_assert_msg(known, "not a known reason: %s", line);
        ck_assert_msg(!strstr(p, "nternal error") && !strstr(p, "Error"), "libsndfile's text: %s", line);
    }
    free(err);
    only_good(od);
}
END_TEST

START_TEST(control_characters)
{
    /* the name is shown escaped, in the host's prefix and in the message */
    tu_write_file(tu_path("bad\nname\033[2J.wav"), "");
    char od[600];
    snprintf(od, sizeof od, "%s", tu_path("ctl"));
    int rc = tu_joule("run '%s' '%s' '%s' -o '%s'", graph, tu_path("bad\nname\033[2J.wav"), good, od);
    ck_assert_int_eq(rc, 1);
    const char *err = tu_stderr();
    ck_assert_msg(lines(err) == 1, "%s", err);
    ck_assert_msg(strstr(err, "bad\\nname\\x1b[2J.wav: " PREFIX), "%s", err);
    ck_assert_msg(strstr(err, "bad\\nname\\x1b[2J.wav: is empty (0 bytes)"), "%s", err);
    ck_assert(!strchr(err, '\033'));
    only_good(od);
}
END_TEST

START_TEST(warnings)
{
    /* a data chunk that ends within a frame: one byte of a 4-byte frame */
    size_t n;
    unsigned char *b = good_wav(FRAMES * 4 + 1, &n);
    le32(b + 4, 36 + FRAMES * 4 + 1 + 1); /* with its pad byte */
    write_bytes(tu_path("odd.wav"), b, n + 2);
    free(b);
    int rc = tu_joule("run '%s' '%s' -o '%s'", graph, tu_path("odd.wav"), tu_path("odd"));
    ck_assert_msg(rc == 0, "exit %d: %s", rc, tu_stderr());
    ck_assert_msg(strstr(tu_stderr(), "odd.wav: node 'in': warning: the audio data ends within a frame: its last 1 of "
                                      "4 bytes are left out"),
                  "%s", tu_stderr());
    ck_assert_int_eq(lines(tu_stderr()), 1);
    check_energy(tu_path("odd/odd.energy.csv"), FRAMES / 1024, 0.25);
    /* AIFF: COMM gives more frames than SSND holds, in an uncut file */
    b = aiff(2048, 3000, &n);
    write_bytes(tu_path("comm.aiff"), b, n);
    free(b);
    rc = tu_joule("run '%s' '%s' -o '%s'", graph, tu_path("comm.aiff"), tu_path("comm"));
    ck_assert_msg(rc == 0, "exit %d: %s", rc, tu_stderr());
    ck_assert_msg(strstr(tu_stderr(), "comm.aiff: node 'in': warning: its header gives 3000 frames, its audio chunk "
                                      "holds 2048 (952 missing): 2048 read"),
                  "%s", tu_stderr());
    check_energy(tu_path("comm/comm.energy.csv"), 2, 0);
}
END_TEST

/* Feed `n` bytes into a FIFO from a child process. */
static pid_t feed_fifo(const char *fifo, const unsigned char *b, size_t n)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(60);
        signal(SIGPIPE, SIG_IGN);
        int fd = open(fifo, O_WRONLY);
        if (fd < 0)
            _exit(1);
        for (size_t off = 0; off < n;) {
            ssize_t w = write(fd, b + off, n - off > 1000 ? 1000 : n - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    return pid;
}

START_TEST(fifo_input)
{
    /* a FIFO reads as the file does; one cut short fails as the file
     * would, found while reading (libsndfile cannot know its length) */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s", tu_path("live.wav"));
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    size_t n;
    unsigned char *b = good_wav(0, &n);
    pid_t pid = feed_fifo(fifo, b, n);
    int rc = tu_joule("run '%s' '%s' -o '%s'", graph, fifo, tu_path("fifo"));
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, tu_stderr());
    check_energy(tu_path("fifo/live.energy.csv"), FRAMES / 1024, 0.25);

    pid = feed_fifo(fifo, b, 44 + 1002);
    expect("live.wav", "is truncated: its header promises 4096 frames of audio, the file holds 250 (3846 missing)");
    waitpid(pid, &st, 0);

    pid = feed_fifo(fifo, b, 30);
    expect("live.wav", "is truncated: it ends inside its header (before any audio)");
    waitpid(pid, &st, 0);
    free(b);
}
END_TEST

static Suite *sndfile_suite(void)
{
    Suite *s = suite_create("sndfile");
    TCase *tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, good_alone);
    tcase_add_test(tc, not_files);
    tcase_add_test(tc, header_cut_short);
    tcase_add_test(tc, data_cut_short);
    tcase_add_test(tc, header_values);
    tcase_add_test(tc, not_audio);
    tcase_add_test(tc, control_characters);
    tcase_add_test(tc, fifo_input);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("warnings");
    tcase_add_checked_fixture(tw, setup, NULL);
    tcase_add_test(tw, warnings);
    suite_add_tcase(s, tw);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sndfile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
