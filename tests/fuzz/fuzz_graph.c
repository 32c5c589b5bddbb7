/* fuzz_graph.c — libFuzzer target for the graph loader: any bytes as a
 * graph file must give a graph or error lines, never a crash or a leak.
 * Built and run by tests/fuzz/run.sh (not part of make check). */
#include <joule/joule.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static joule_registry *reg;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer ends with exit(): leave nothing in /tmp */
static void cleanup(void)
{
    remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reg) {
        reg = joule_registry_new();
        const char *dir = getenv("JOULE_PLUGIN_PATH");
        if (dir)
            joule_registry_add_dir(reg, dir);
        snprintf(path, sizeof path, "/tmp/fuzz-graph-%d.ini", (int)getpid());
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    joule_graph *g = NULL;
    char *errors = NULL;
    static const char *const sets[] = {"in.x=1", "graph.chunk=7"};
    int rc = joule_graph_load(path, reg, sets, size % 3 == 0 ? 2 : 0, &g, &errors);
    if ((rc == 0) != (g != NULL) || (rc == 0) == (errors != NULL))
        abort();
    joule_graph_free(g);
    free(errors);
    return 0;
}
