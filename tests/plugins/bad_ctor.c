/* A plugin object for the registry's tests (not installed) that misbehaves
 * while being loaded, the way its file is named, so that one build gives
 * every case: the tests copy it into a folder under these names.
 *   ...crash...   its constructor raises SIGSEGV
 *   ...abort...   its constructor calls abort()
 *   ...exit...    its constructor calls exit(3)
 *   ...hang...    its constructor never returns
 *   ...defects... it offers descriptors the host must refuse: an int
 *                 default below its minimum, an enum default that is not
 *                 a choice, a parameter declared twice, an output
 *                 declared twice
 * Under any other name (bad_ctor.so, as built) it offers one good filter,
 * t_ctor. If $JOULE_TEST_CTOR_LOG is set, every load appends a line "PID
 * PPID" to that file, so a test can tell which process loaded it. */
#define _GNU_SOURCE 1 /* dladdr */
#include <joule/plugin.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int defects;

static void log_load(void)
{
    const char *log = getenv("JOULE_TEST_CTOR_LOG");
    if (!log || !*log)
        return;
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0)
        return;
    char line[64];
    int n = snprintf(line, sizeof line, "%ld %ld\n", (long)getpid(), (long)getppid());
    if (n > 0 && write(fd, line, (size_t)n) < 0)
        n = 0;
    close(fd);
}

__attribute__((constructor)) static void on_load(void)
{
    Dl_info info;
    const char *path = dladdr((void *)on_load, &info) && info.dli_fname ? info.dli_fname : "";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    log_load();
    if (strstr(base, "crash"))
        raise(SIGSEGV);
    if (strstr(base, "abort"))
        abort();
    if (strstr(base, "exit"))
        exit(3);
    if (strstr(base, "hang"))
        for (;;)
            pause();
    defects = strstr(base, "defects") != NULL;
}

static const joule_port in[] = {{"in", JOULE_SIGNAL, 0, ""}};
static const joule_port out[] = {{"out", JOULE_SIGNAL, 0, ""}};
static const joule_port two_outs[] = {{"out", JOULE_SIGNAL, 0, ""}, {"out", JOULE_SIGNAL, 0, ""}};
static const char *const modes[] = {"fast", "exact", NULL};
static const joule_param p_none[] = {{"gain", JOULE_PARAM_FLOAT, 0, "1", 0, 0, NULL, "", "a factor"}};
static const joule_param p_range[] = {
    {"n", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "0", 1, 10, NULL, "", "below its range"}};
static const joule_param p_enum[] = {{"mode", JOULE_PARAM_ENUM, 0, "slow", 0, 0, modes, "", "not a choice"}};
static const joule_param p_twice[] = {{"gain", JOULE_PARAM_FLOAT, 0, "1", 0, 0, NULL, "", "once"},
                                      {"gain", JOULE_PARAM_FLOAT, 0, "2", 0, 0, NULL, "", "twice"}};

static int c_open(const joule_open_args *a, void **self)
{
    *self = NULL;
    a->outputs[0] = a->inputs[0];
    return JOULE_OK;
}

static int c_process(void *self, uint32_t port, const joule_buffer *b, joule_buffer *o)
{
    (void)self;
    (void)port;
    memcpy(o->data, b->data, (size_t)b->n_rows * b->n_columns * sizeof(float));
    o->n_rows = b->n_rows;
    return JOULE_OK;
}

static void c_close(void *self)
{
    (void)self;
}

#define DESC(nm, ps, nps, outs, nouts)                                                              \
    {                                                                                                         \
        .abi_version = JOULE_ABI_VERSION, .struct_size = sizeof(joule_descriptor), .name = nm,                \
        .version = "1.0.0", .summary = "registry test plugin", .role = JOULE_ROLE_FILTER, .params = ps,       \
        .n_params = nps, .inputs = in, .n_inputs = 1, .outputs = outs, .n_outputs = nouts,                    \
        .open = c_open, .process = c_process, .close = c_close,                                               \
    }

static const joule_descriptor good = DESC("t_ctor", p_none, 1, out, 1);
static const joule_descriptor bad[] = {
    DESC("t_def_range", p_range, 1, out, 1),
    DESC("t_def_enum", p_enum, 1, out, 1),
    DESC("t_dup_param", p_twice, 2, out, 1),
    DESC("t_dup_out", p_none, 1, two_outs, 2),
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t abi, uint32_t index)
{
    (void)abi;
    if (!defects)
        return index == 0 ? &good : NULL;
    return index < sizeof bad / sizeof bad[0] ? &bad[index] : NULL;
}
