/* registry.c — finding, loading and checking plugins.
 *
 * Plugins are loaded with RTLD_LOCAL so that two plugins can use the same
 * internal symbol names, and RTLD_NOW so that a missing symbol is reported
 * here, with the object's path, rather than in the middle of a run, and
 * RTLD_NODELETE so that a plugin's code and the libraries it brought stay
 * mapped for the life of the process: a library's process-wide state
 * (FFTW's planner, a codec's tables) is not torn down and rebuilt, and
 * nothing still pointing into a plugin after the registry is freed can
 * crash. */
#include "config.h"

#include <joule/joule.h>

#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct failure {
    char *path;
    char *reason;
};

struct joule_registry {
    joule_plugin_info *plugins;
    size_t n, cap;
    struct failure *failures;
    size_t n_fail, cap_fail;
    void **handles;
    size_t n_handles, cap_handles;
};

joule_registry *joule_registry_new(void)
{
    return jl_calloc(1, sizeof(joule_registry));
}

void joule_registry_free(joule_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        free((char *)reg->plugins[i].path);
    free(reg->plugins);
    for (size_t i = 0; i < reg->n_fail; i++) {
        free(reg->failures[i].path);
        free(reg->failures[i].reason);
    }
    free(reg->failures);
    for (size_t i = 0; i < reg->n_handles; i++)
        dlclose(reg->handles[i]);
    free(reg->handles);
    free(reg);
}

static void add_failure(joule_registry *reg, const char *path, char *reason)
{
    if (reg->n_fail == reg->cap_fail) {
        reg->cap_fail = reg->cap_fail ? reg->cap_fail * 2 : 8;
        reg->failures = jl_realloc(reg->failures, reg->cap_fail * sizeof *reg->failures);
    }
    reg->failures[reg->n_fail].path = jl_strdup(path);
    reg->failures[reg->n_fail].reason = reason;
    reg->n_fail++;
}

static int valid_ident(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static int one_kind(uint32_t k)
{
    return k == JOULE_SIGNAL || k == JOULE_FRAMES || k == JOULE_EVENTS;
}

/* The descriptor size of ABI version 1, up to and including `check`: the
 * least a version-1 plugin must provide. */
#define DESC_V1_SIZE (offsetof(joule_descriptor, check) + sizeof(void *))

/* Returns NULL if the descriptor is usable, else the reason (malloc'd). */
static char *check_descriptor(const joule_descriptor *d)
{
    if (d->abi_version != JOULE_ABI_VERSION)
        return jl_printf("built for plugin ABI version %u, this host speaks version %u",
                         d->abi_version, JOULE_ABI_VERSION);
    if (d->struct_size < DESC_V1_SIZE)
        return jl_printf("descriptor is %u bytes, smaller than ABI version %u's %zu",
                         d->struct_size, JOULE_ABI_VERSION, (size_t)DESC_V1_SIZE);
    if (!valid_ident(d->name))
        return jl_printf("plugin name '%s' is not an identifier [a-z0-9_]",
                         d->name ? d->name : "(null)");
    if (!d->version || !d->summary)
        return jl_printf("plugin '%s' has no version or summary", d->name);
    if (!d->open || !d->process || !d->close)
        return jl_printf("plugin '%s' lacks open, process or close", d->name);
    if (d->role == JOULE_ROLE_SOURCE ? (d->n_inputs != 0 || d->n_outputs == 0)
        : d->role == JOULE_ROLE_FILTER ? (d->n_inputs == 0 || d->n_outputs == 0)
        : d->role == JOULE_ROLE_SINK ? (d->n_inputs == 0 || d->n_outputs != 0)
                                     : 1)
        return jl_printf("plugin '%s': role %u does not match its %u inputs and %u outputs",
                         d->name, d->role, d->n_inputs, d->n_outputs);
    if ((d->n_params && !d->params) || (d->n_inputs && !d->inputs) || (d->n_outputs && !d->outputs))
        return jl_printf("plugin '%s' declares entries it does not provide", d->name);
    for (uint32_t i = 0; i < d->n_params; i++) {
        const joule_param *p = &d->params[i];
        if (!valid_ident(p->name) || p->type < JOULE_PARAM_INT || p->type > JOULE_PARAM_ENUM)
            return jl_printf("plugin '%s': parameter %u is malformed", d->name, i);
        if (p->type == JOULE_PARAM_ENUM && (!p->choices || !p->choices[0]))
            return jl_printf("plugin '%s': enum parameter '%s' has no choices", d->name, p->name);
        if (!p->def && !(p->flags & JOULE_PARAM_REQUIRED))
            return jl_printf("plugin '%s': parameter '%s' has neither a default nor the REQUIRED flag",
                             d->name, p->name);
        if (!strcmp(p->name, "plugin") || !strcmp(p->name, "input"))
            return jl_printf("plugin '%s': parameter name '%s' is reserved", d->name, p->name);
    }
    for (uint32_t i = 0; i < d->n_inputs; i++)
        if (!valid_ident(d->inputs[i].name) || !d->inputs[i].kinds ||
            (d->inputs[i].kinds & ~(JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS)))
            return jl_printf("plugin '%s': input %u is malformed", d->name, i);
    for (uint32_t i = 0; i < d->n_outputs; i++)
        if (!valid_ident(d->outputs[i].name) || !one_kind(d->outputs[i].kinds))
            return jl_printf("plugin '%s': output %u is malformed", d->name, i);
    return NULL;
}

int joule_registry_add_file(joule_registry *reg, const char *path)
{
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        const char *e = dlerror();
        add_failure(reg, path, jl_strdup(e ? e : "dlopen failed"));
        return JOULE_E_PLUGIN;
    }
    joule_entry_fn entry;
    /* ISO C does not define converting an object pointer to a function
     * pointer; POSIX requires dlsym's result to allow it. */
    *(void **)(&entry) = dlsym(h, JOULE_ENTRY_SYMBOL);
    if (!entry) {
        add_failure(reg, path, jl_printf("no entry point '%s': not a joule plugin", JOULE_ENTRY_SYMBOL));
        dlclose(h);
        return JOULE_E_PLUGIN;
    }
    size_t loaded = 0;
    int status = 0;
    for (uint32_t i = 0; i < 1024; i++) {
        const joule_descriptor *d = entry(JOULE_ABI_VERSION, i);
        if (!d)
            break;
        char *why = check_descriptor(d);
        if (!why) {
            const joule_plugin_info *prev = joule_registry_find(reg, d->name);
            if (prev)
                why = jl_printf("plugin '%s' is shadowed by %s", d->name, prev->path);
        }
        if (why) {
            add_failure(reg, path, why);
            status = JOULE_E_PLUGIN;
            continue;
        }
        if (reg->n == reg->cap) {
            reg->cap = reg->cap ? reg->cap * 2 : 16;
            reg->plugins = jl_realloc(reg->plugins, reg->cap * sizeof *reg->plugins);
        }
        reg->plugins[reg->n].desc = d;
        reg->plugins[reg->n].path = jl_strdup(path);
        reg->n++;
        loaded++;
    }
    if (!loaded) {
        if (!status)
            add_failure(reg, path, jl_strdup("the entry point returned no plugin"));
        dlclose(h);
        return JOULE_E_PLUGIN;
    }
    if (reg->n_handles == reg->cap_handles) {
        reg->cap_handles = reg->cap_handles ? reg->cap_handles * 2 : 16;
        reg->handles = jl_realloc(reg->handles, reg->cap_handles * sizeof *reg->handles);
    }
    reg->handles[reg->n_handles++] = h;
    return status;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int joule_registry_add_dir(joule_registry *reg, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : JOULE_E_IO;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") || e->d_name[0] == '.')
            continue;
        if (n == cap)
            names = jl_realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
        names[n++] = jl_strdup(e->d_name);
    }
    closedir(d);
    /* Sorted, so that which of two same-named plugins wins never depends on
     * the file system's order. */
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *path = jl_printf("%s/%s", dir, names[i]);
        joule_registry_add_file(reg, path);
        free(path);
        free(names[i]);
    }
    free(names);
    return 0;
}

size_t joule_registry_count(const joule_registry *reg)
{
    return reg->n;
}

const joule_plugin_info *joule_registry_get(const joule_registry *reg, size_t i)
{
    return i < reg->n ? &reg->plugins[i] : NULL;
}

const joule_plugin_info *joule_registry_find(const joule_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (!strcmp(reg->plugins[i].desc->name, name))
            return &reg->plugins[i];
    return NULL;
}

size_t joule_registry_failure_count(const joule_registry *reg)
{
    return reg->n_fail;
}

const char *joule_registry_failure(const joule_registry *reg, size_t i, const char **path)
{
    if (i >= reg->n_fail)
        return NULL;
    if (path)
        *path = reg->failures[i].path;
    return reg->failures[i].reason;
}
