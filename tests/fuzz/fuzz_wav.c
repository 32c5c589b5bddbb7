/* fuzz_wav.c — libFuzzer target for the audio source: any bytes as a .wav
 * file run through sndfile -> energy -> csv must succeed (and leave its
 * output) or fail with one line that names the file (and leave none),
 * never crash. Three graphs, picked by the input's size: short overlapping
 * frames, a windowed frame with channel names from the file's channel
 * map, and the samples straight to CSV.
 * Built and run by tests/fuzz/run.sh (not part of make check). */
#include <joule/joule.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static joule_registry *reg;
static joule_graph *graphs[3];
static char dir[64], input[96];
static int errors;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer ends with exit(): leave nothing in /tmp */
static void cleanup(void)
{
    remove(input);
    rmdir(dir);
}

/* A failed input's message: one line, naming the input first. */
static void check_message(void *user, const char *msg)
{
    (void)user;
    errors++;
    if (strchr(msg, '\n') || strncmp(msg, input, strlen(input)) || strlen(msg) <= strlen(input) + 2) {
        fprintf(stderr, "fuzz_wav: bad message: %s\n", msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reg) {
        reg = joule_registry_new();
        const char *pp = getenv("JOULE_PLUGIN_PATH");
        if (pp)
            joule_registry_add_dir(reg, pp);
        snprintf(dir, sizeof dir, "/tmp/fuzz-wav-%d", (int)getpid());
        snprintf(input, sizeof input, "%s.wav", dir);
        atexit(cleanup);
        static const char *const texts[3] = {
            "[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\nframe = 64\nhop = 32\n"
            "[out]\nplugin = csv\ninput = rms\npath = out.csv\n",
            "[in]\nplugin = sndfile\nchannel_names = map\n[rms]\nplugin = energy\ninput = in\nframe = 7\nhop = 3\n"
            "window = hann\n[out]\nplugin = csv\ninput = rms\npath = out.csv\n",
            "[graph]\nchunk = 5\n[in]\nplugin = sndfile\n[out]\nplugin = csv\ninput = in\npath = out.csv\n"};
        for (int k = 0; k < 3; k++) {
            char gp[96];
            snprintf(gp, sizeof gp, "%s-%d.ini", dir, k);
            FILE *f = fopen(gp, "w");
            fputs(texts[k], f);
            fclose(f);
            char *errs = NULL;
            if (joule_graph_load(gp, reg, NULL, 0, &graphs[k], &errs)) {
                fprintf(stderr, "%s", errs);
                abort();
            }
            remove(gp);
        }
    }
    FILE *f = fopen(input, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    joule_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.struct_size = sizeof opt;
    opt.out_dir = dir;
    opt.threads = 1;
    opt.no_cache = 1; /* each input once: nothing to reuse, and no folder to fill */
    opt.on_error = check_message;
    const char *files[1] = {input};
    char out[128];
    snprintf(out, sizeof out, "%s/out.csv", dir);
    errors = 0;
    int rc = joule_run(graphs[size % 3], files, 1, &opt, NULL);
    if (rc != 0 && rc != JOULE_E_INPUT)
        abort(); /* an input's trouble is JOULE_E_INPUT, nothing else */
    if ((rc != 0) != (errors == 1))
        abort(); /* a failure has its message, a success none */
    if ((rc == 0) != (access(out, F_OK) == 0))
        abort(); /* a failed job leaves no output, a good one its output */
    remove(out);
    return 0;
}
