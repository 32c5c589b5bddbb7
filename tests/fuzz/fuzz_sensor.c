/* fuzz_sensor.c — libFuzzer target for the sensor CSV source: any bytes as
 * a CSV file run through sensor -> csv must succeed or fail with a message,
 * never crash, and leave no output file when failing.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer ends with exit(): leave nothing in /tmp */
static void cleanup(void)
{
    remove(input);
    rmdir(dir);
}

static void quiet(void *user, const char *msg)
{
    (void)user;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reg) {
        reg = joule_registry_new();
        const char *pp = getenv("JOULE_PLUGIN_PATH");
        if (pp)
            joule_registry_add_dir(reg, pp);
        snprintf(dir, sizeof dir, "/tmp/fuzz-sensor-%d", (int)getpid());
        snprintf(input, sizeof input, "%s.csv", dir);
        atexit(cleanup);
        static const char *const texts[3] = {
            "[in]\nplugin = sensor\n[out]\nplugin = csv\ninput = in\npath = out.csv\n",
            "[in]\nplugin = sensor\nheader = false\ncolumns = t, s, x, y, z\ntime = t\ntime_unit = ns\n"
            "missing = interpolate\n[out]\nplugin = csv\ninput = in\npath = out.csv\n",
            "[in]\nplugin = sensor\nrate = 100\nresample = hold\nmissing = hold\n[out]\nplugin = csv\ninput = in\n"
            "path = out.csv\n"};
        for (int k = 0; k < 3; k++) {
            char gp[96];
            snprintf(gp, sizeof gp, "%s-%d.ini", dir, k);
            FILE *f = fopen(gp, "w");
            fputs(texts[k], f);
            fclose(f);
            char *errors = NULL;
            if (joule_graph_load(gp, reg, NULL, 0, &graphs[k], &errors)) {
                fprintf(stderr, "%s", errors);
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
    opt.on_error = quiet;
    const char *files[1] = {input};
    char out[128];
    snprintf(out, sizeof out, "%s/out.csv", dir);
    int rc = joule_run(graphs[size % 3], files, 1, &opt, NULL);
    if (rc != 0 && access(out, F_OK) == 0)
        abort(); /* a failed job must leave no output */
    remove(out);
    return 0;
}
