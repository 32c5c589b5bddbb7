/* registry.c — finding, probing, loading and checking plugins.
 *
 * Loading runs a plugin object's code (constructors, the entry point) in
 * the loading process, and an object anywhere on the plugin path may be
 * broken: its constructor may crash, call exit() or never return. So an
 * object is never loaded into this process before it has been loaded once
 * in a child: adding a folder only lists its objects; the first lookup
 * forks one child that loads every listed object in turn and reports, per
 * object, the plugins it provides and what is wrong with them. A child
 * that dies or stops answering names the object it was loading, which is
 * recorded as failed with what happened, and a new child goes on with the
 * next object. One child for the whole path costs one fork (about a
 * millisecond) on top of the loading itself, and leaves a broken object
 * able to fail only itself.
 *
 * A probe in which every object loaded cleanly is remembered, and taken
 * from the memo while nothing it loaded has changed (probe_memo.h): then
 * no child is forked.
 *
 * This process then loads only what it needs: a lookup by name loads the
 * one object that provides the name (`run` and `validate` load the
 * plugins their graph names and nothing else), and listing (count, get)
 * loads every object that probed clean. Which object provides a name is
 * decided by the probe in path order, so a lookup gives the same answer
 * as loading everything would: the first folder wins, later objects with
 * the same plugin name are recorded as shadowed.
 *
 * Non-regular files named *.so (a FIFO would block the opening process, a
 * device could do anything) are recorded as skipped without being opened.
 *
 * The fork happens before any thread of the run is started (graphs are
 * loaded first); an embedder that looks plugins up while its own threads
 * run accepts what POSIX says of fork in a threaded process: the child
 * calls only dlopen, the plugin's entry point, write and _exit.
 *
 * Plugins are loaded with RTLD_LOCAL so that two plugins can use the same
 * internal symbol names, and RTLD_NOW so that a missing symbol is reported
 * here, with the object's path, rather than in the middle of a run, and
 * RTLD_NODELETE so that a plugin's code and the libraries it brought stay
 * mapped for the life of the process: a library's process-wide state
 * (FFTW's planner, a codec's tables) is not torn down and rebuilt, and
 * nothing still pointing into a plugin after the registry is freed can
 * crash. */
#define _GNU_SOURCE 1 /* dl_iterate_phdr */
#include "config.h"

#include <joule/joule.h>

#include "param.h"
#include "probe_memo.h"
#include "registry.h"
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long one object may take to load in the probing child before it is
 * taken to hang. Loading an object and its libraries takes milliseconds;
 * this is for a constructor that waits for ever. */
#define PROBE_TIMEOUT_S 5.0

struct failure {
    char *path;
    char *reason;
};

/* An object on the plugin path. */
enum { OBJ_LISTED, OBJ_PROBED, OBJ_FAILED, OBJ_LOADED };
typedef struct object {
    char *path;
    dev_t dev;    /* the file: one met again by another spelling (the */
    ino_t ino;    /* same folder given twice) is the same object      */
    int state;
    char **names; /* the valid, unshadowed plugins it provides (probed) */
    size_t n_names;
    int empty_bridge; /* a bridge that found nothing to offer (probed) */
} object;

struct joule_registry {
    /* each allocated once: joule_registry_find's pointers stay valid while
     * later lookups load more objects */
    joule_plugin_info **plugins;
    size_t n, cap;
    struct failure *failures;
    size_t n_fail, cap_fail;
    object *objs;
    size_t n_objs, cap_objs;
    size_t probed;     /* objects [0, probed) have been probed */
    /* the probe being recorded, for the memo: its lines, and the libraries
     * its child had loaded */
    int recording;
    char *lines;
    size_t n_lines_bytes;
    char **libs;
    size_t n_libs;
};

joule_registry *joule_registry_new(void)
{
    return jl_calloc(1, sizeof(joule_registry));
}

void joule_registry_free(joule_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++) {
        free((char *)reg->plugins[i]->path);
        free(reg->plugins[i]);
    }
    free(reg->plugins);
    for (size_t i = 0; i < reg->n_fail; i++) {
        free(reg->failures[i].path);
        free(reg->failures[i].reason);
    }
    free(reg->failures);
    for (size_t i = 0; i < reg->n_objs; i++) {
        free(reg->objs[i].path);
        for (size_t k = 0; k < reg->objs[i].n_names; k++)
            free(reg->objs[i].names[k]);
        free(reg->objs[i].names);
    }
    free(reg->objs);
    /* the objects stay mapped (RTLD_NODELETE): nothing to close */
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

/* A default the plugin's own declaration refuses is a defect of the
 * plugin: every graph that leaves the parameter out would fail, naming a
 * value the user never wrote. */
static char *check_default(const joule_descriptor *d, const joule_param *p)
{
    if (!p->def)
        return NULL;
    joule_value v;
    char *why = NULL;
    if (!jl_param_parse(p, p->def, &v, &why))
        return NULL;
    char *r = jl_printf("plugin '%s': its default for %s %s (a defect of the plugin)", d->name, p->name, why);
    free(why);
    return r;
}

/* Metadata text: NULL if s is valid UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF) without control characters (C0, DEL,
 * C1; newline and tab only where `multiline`), else what is wrong with it
 * (malloc'd), naming the offending byte or character and its offset. */
static char *meta_text(const char *s, int multiline)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t at = (size_t)(p - (const unsigned char *)s);
        unsigned c = *p;
        if (c < 0x80) {
            if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7f)
                return jl_printf("holds the control character U+%04X at byte %zu%s", c, at,
                                 c == '\n' || c == '\t' ? " (only the description may hold newlines and tabs)" : "");
            p++;
            continue;
        }
        int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || c == 0xc0 || c == 0xc1 || c > 0xf4)
            return jl_printf("is not valid UTF-8 (byte 0x%02x at byte %zu)", c, at);
        unsigned cp = c & (0x3f >> n);
        for (int k = 1; k <= n; k++) {
            if ((p[k] & 0xc0) != 0x80)
                return jl_printf("is not valid UTF-8 (byte 0x%02x at byte %zu)", c, at);
            cp = cp << 6 | (p[k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp < 0xe000))
            return jl_printf("is not valid UTF-8 (byte 0x%02x at byte %zu)", c, at);
        if (cp >= 0x80 && cp < 0xa0)
            return jl_printf("holds the control character U+%04X at byte %zu", cp, at);
        p += n + 1;
    }
    return NULL;
}

/* Returns NULL if the descriptor is usable, else the reason (malloc'd). */
static char *check_descriptor(const joule_descriptor *d)
{
    if (d->abi_version != JOULE_ABI_VERSION)
        return jl_printf("built for plugin ABI version %u, this host speaks version %u",
                         d->abi_version, JOULE_ABI_VERSION);
    if (d->struct_size < DESC_V1_SIZE)
        return jl_printf("descriptor is %u bytes, smaller than ABI version %u's %zu",
                         d->struct_size, JOULE_ABI_VERSION, (size_t)DESC_V1_SIZE);
    if (!valid_ident(d->name)) {
        char *e = d->name ? jl_escape(d->name) : jl_strdup("(null)");
        char *r = jl_printf("plugin name '%s' is not an identifier [a-z0-9_]", e);
        free(e);
        return r;
    }
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
    if (d->struct_size >= offsetof(joule_descriptor, gather) + sizeof d->gather && d->gather &&
        d->role != JOULE_ROLE_SINK)
        return jl_printf("plugin '%s' has a gather but is not a sink", d->name);
    /* the metadata (0.4), each field only when struct_size covers it */
    {
        const char *const fields[] = {JOULE_DESC_HAS(d, maker) ? d->maker : NULL,
                                      JOULE_DESC_HAS(d, license) ? d->license : NULL,
                                      JOULE_DESC_HAS(d, description) ? d->description : NULL,
                                      JOULE_DESC_HAS(d, homepage) ? d->homepage : NULL};
        static const char *const names[] = {"maker", "license", "description", "homepage"};
        for (int k = 0; k < 4; k++) {
            char *why = fields[k] ? meta_text(fields[k], k == 2) : NULL;
            if (why) {
                char *r = jl_printf("plugin '%s': its %s %s", d->name, names[k], why);
                free(why);
                return r;
            }
        }
    }
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
        if (!strcmp(p->name, "plugin") || !strcmp(p->name, "input") || !strcmp(p->name, "cache"))
            return jl_printf("plugin '%s': parameter name '%s' is reserved", d->name, p->name);
        for (uint32_t k = 0; k < i; k++)
            if (!strcmp(d->params[k].name, p->name))
                return jl_printf("plugin '%s' declares parameter '%s' twice", d->name, p->name);
        char *why = check_default(d, p);
        if (why)
            return why;
    }
    for (uint32_t i = 0; i < d->n_inputs; i++) {
        if (!valid_ident(d->inputs[i].name) || !d->inputs[i].kinds ||
            (d->inputs[i].kinds & ~(JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS)))
            return jl_printf("plugin '%s': input %u is malformed", d->name, i);
        for (uint32_t k = 0; k < i; k++)
            if (!strcmp(d->inputs[k].name, d->inputs[i].name))
                return jl_printf("plugin '%s' declares input '%s' twice", d->name, d->inputs[i].name);
    }
    for (uint32_t i = 0; i < d->n_outputs; i++) {
        if (!valid_ident(d->outputs[i].name) || !one_kind(d->outputs[i].kinds))
            return jl_printf("plugin '%s': output %u is malformed", d->name, i);
        for (uint32_t k = 0; k < i; k++)
            if (!strcmp(d->outputs[k].name, d->outputs[i].name))
                return jl_printf("plugin '%s' declares output '%s' twice", d->name, d->outputs[i].name);
    }
    return NULL;
}

/* The entry point of a loaded object, or NULL. */
static joule_entry_fn entry_of(void *h)
{
    joule_entry_fn entry;
    /* ISO C does not define converting an object pointer to a function
     * pointer; POSIX requires dlsym's result to allow it. */
    *(void **)(&entry) = dlsym(h, JOULE_ENTRY_SYMBOL);
    return entry;
}

/* The most descriptors one object may offer. */
#define MAX_PER_OBJECT 1024

/* ---- the probing child --------------------------------------------------
 *
 * It writes one line per fact, fields separated by tabs, text escaped (no
 * tab or line end survives jl_escape):
 *     B k            starts loading object k
 *     F k reason     object k is unusable
 *     P k name       object k provides a valid plugin
 *     X k reason     object k has a plugin that is not valid
 *     N k            object k is a bridge that found nothing to offer
 *     E k            done with object k
 *     L 0 path       a library the child had loaded, once all were     */

static void put(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = jl_vprintf(fmt, ap);
    va_end(ap);
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t w = write(fd, s + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(120);
        off += (size_t)w;
    }
    free(s);
}

static void put_reason(int fd, char tag, size_t k, const char *reason)
{
    char *e = jl_escape(reason);
    for (char *c = e; *c; c++)
        if (*c == '\t')
            *c = ' ';
    put(fd, "%c\t%zu\t%s\n", tag, k, e);
    free(e);
}

/* The child's pipe and the object it is loading, for the exit handler. */
static int probe_fd = -1;
static size_t probe_obj;

/* A constructor that calls exit(): registered last, this handler runs
 * first, says so, and ends the child before the handlers it inherited
 * from its parent run (they are the parent's: an embedder's cleanup, a
 * test's removal of its folder). */
static void probe_exit(int status, void *arg)
{
    (void)arg;
    put(probe_fd, "Q\t%zu\t%d\n", probe_obj, status);
    _exit(0);
}

/* Every object the child has loaded, for the memo (probe_memo.h). */
static int put_library(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    if (info->dlpi_name && info->dlpi_name[0] == '/')
        put_reason(*(int *)arg, 'L', 0, info->dlpi_name);
    return 0;
}

static void probe_child(joule_registry *reg, size_t from, int fd)
{
    probe_fd = fd;
    on_exit(probe_exit, NULL);
    /* A crash must end this process with its signal, seen by the parent,
     * and an interrupt must end it too. */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
    for (size_t k = from; k < reg->n_objs; k++) {
        if (reg->objs[k].state != OBJ_LISTED)
            continue;
        probe_obj = k;
        put(fd, "B\t%zu\n", k);
        dlerror();
        void *h = dlopen(reg->objs[k].path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            put_reason(fd, 'F', k, e ? e : "dlopen failed");
        } else {
            joule_entry_fn entry = entry_of(h);
            if (!entry) {
                char *r = jl_printf("no entry point '%s': not a joule plugin", JOULE_ENTRY_SYMBOL);
                put_reason(fd, 'F', k, r);
                free(r);
            } else {
                uint32_t i = 0;
                for (; i < MAX_PER_OBJECT; i++) {
                    const joule_descriptor *d = entry(JOULE_ABI_VERSION, i);
                    if (!d)
                        break;
                    char *why = check_descriptor(d);
                    if (why)
                        put_reason(fd, 'X', k, why);
                    else
                        put(fd, "P\t%zu\t%s\n", k, d->name);
                    free(why);
                }
                /* a bridge may find nothing to offer: that is not a fault */
                if (!i && dlsym(h, JOULE_BRIDGE_SYMBOL))
                    put(fd, "N\t%zu\n", k);
                else if (!i)
                    put_reason(fd, 'F', k, "the entry point returned no plugin");
            }
        }
        put(fd, "E\t%zu\n", k);
    }
    dl_iterate_phdr(put_library, &fd);
    _exit(0);
}

/* What the child said of one object, gathered by the parent. */
typedef struct probe_state {
    long current;    /* object being loaded, -1 between objects */
    int any_line;
    int exit_status; /* what a constructor passed to exit(), or -1 */
} probe_state;

static object *obj_at(joule_registry *reg, const char *field)
{
    char *end;
    unsigned long long k = strtoull(field, &end, 10);
    return (*end == '\0' || *end == '\t') && k < reg->n_objs ? &reg->objs[k] : NULL;
}

static void take_line(joule_registry *reg, probe_state *ps, char *line)
{
    char tag = line[0];
    if (!tag || line[1] != '\t')
        return;
    if (reg->recording && strchr("FPXEN", tag)) {
        size_t n = strlen(line);
        reg->lines = jl_realloc(reg->lines, reg->n_lines_bytes + n + 2);
        memcpy(reg->lines + reg->n_lines_bytes, line, n);
        reg->n_lines_bytes += n;
        reg->lines[reg->n_lines_bytes++] = '\n';
        reg->lines[reg->n_lines_bytes] = '\0';
    }
    char *num = line + 2, *text = strchr(num, '\t');
    if (text)
        *text++ = '\0';
    object *o = obj_at(reg, num);
    if (!o)
        return;
    ps->any_line = 1;
    switch (tag) {
    case 'Q': ps->exit_status = text ? atoi(text) : -1; break;
    case 'B': ps->current = o - reg->objs; break;
    case 'F':
        o->state = OBJ_FAILED;
        add_failure(reg, o->path, jl_strdup(text ? text : "?"));
        break;
    case 'X': add_failure(reg, o->path, jl_strdup(text ? text : "?")); break;
    case 'L':
        if (text && reg->recording) {
            reg->libs = jl_realloc(reg->libs, (reg->n_libs + 1) * sizeof *reg->libs);
            reg->libs[reg->n_libs++] = jl_strdup(text);
        }
        break;
    case 'P':
        if (text) {
            o->names = jl_realloc(o->names, (o->n_names + 1) * sizeof *o->names);
            o->names[o->n_names++] = jl_strdup(text);
        }
        break;
    case 'N': o->empty_bridge = 1; break;
    case 'E':
        if (o->state == OBJ_LISTED)
            o->state = o->n_names || o->empty_bridge ? OBJ_PROBED : OBJ_FAILED;
        ps->current = -1;
        break;
    default: break;
    }
}

/* Runs one child from object `from` on. Returns the index after the
 * object it stopped at if it died or hung there, or reg->n_objs when it
 * went through. Sets *interrupted when it was ended by an interrupt. */
static size_t probe_from(joule_registry *reg, size_t from, int *interrupted)
{
    int pfd[2];
    if (pipe(pfd)) {
        for (size_t k = from; k < reg->n_objs; k++)
            if (reg->objs[k].state == OBJ_LISTED) {
                reg->objs[k].state = OBJ_FAILED;
                add_failure(reg, reg->objs[k].path, jl_printf("not probed: %s", strerror(errno)));
            }
        return reg->n_objs;
    }
    fflush(NULL); /* a constructor calling exit() must not write our buffers twice */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        for (size_t k = from; k < reg->n_objs; k++)
            if (reg->objs[k].state == OBJ_LISTED) {
                reg->objs[k].state = OBJ_FAILED;
                add_failure(reg, reg->objs[k].path, jl_printf("not probed: cannot fork: %s", strerror(e)));
            }
        return reg->n_objs;
    }
    if (pid == 0) {
        close(pfd[0]);
        probe_child(reg, from, pfd[1]);
    }
    close(pfd[1]);
    probe_state ps = {-1, 0, -1};
    char *buf = NULL;
    size_t len = 0;
    double last = jl_now();
    int hung = 0, status = 0;
    for (;;) {
        struct pollfd pf = {pfd[0], POLLIN, 0};
        int r = poll(&pf, 1, 100);
        if (r > 0) {
            char tmp[4096];
            ssize_t got = read(pfd[0], tmp, sizeof tmp);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break; /* the child closed its end: it is exiting */
            buf = jl_realloc(buf, len + (size_t)got + 1);
            memcpy(buf + len, tmp, (size_t)got);
            len += (size_t)got;
            size_t start = 0;
            for (size_t i = 0; i < len; i++)
                if (buf[i] == '\n') {
                    buf[i] = '\0';
                    take_line(reg, &ps, buf + start);
                    start = i + 1;
                }
            memmove(buf, buf + start, len - start);
            len -= start;
            last = jl_now();
        } else if (jl_now() - last > PROBE_TIMEOUT_S) {
            hung = 1;
            kill(pid, SIGKILL);
            break;
        }
    }
    free(buf);
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (ps.current < 0)
        return reg->n_objs;
    object *o = &reg->objs[ps.current];
    o->state = OBJ_FAILED;
    for (size_t k = 0; k < o->n_names; k++)
        free(o->names[k]);
    o->n_names = 0;
    if (hung) {
        add_failure(reg, o->path, jl_printf("did not finish loading in %.0f s (its constructor or entry point "
                                            "does not return)", PROBE_TIMEOUT_S));
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            *interrupted = 1;
            add_failure(reg, o->path, jl_strdup("not loaded: interrupted"));
        } else {
            char *sn = jl_signal_text(sig);
            add_failure(reg, o->path, jl_printf("crashed with %s while being loaded (in its constructor or entry "
                                                "point)", sn));
            free(sn);
        }
    } else if (ps.exit_status >= 0 || !WIFEXITED(status)) {
        add_failure(reg, o->path, jl_printf("called exit(%d) while being loaded (in its constructor or entry "
                                            "point)", ps.exit_status));
    } else {
        add_failure(reg, o->path, jl_printf("ended its loading process with status %d (in its constructor or "
                                            "entry point)", WEXITSTATUS(status)));
    }
    return (size_t)ps.current + 1;
}

/* A plugin name provided by an object before `upto`, or NULL. */
static const char *provider_before(const joule_registry *reg, size_t upto, const char *name)
{
    for (size_t k = 0; k < upto; k++)
        for (size_t j = 0; j < reg->objs[k].n_names; j++)
            if (!strcmp(reg->objs[k].names[j], name))
                return reg->objs[k].path;
    return NULL;
}

/* Probes every object listed and not yet probed, then records shadowed
 * names: the first object in path order keeps a name. */
static void probe_all(joule_registry *reg)
{
    if (reg->probed == reg->n_objs)
        return;
    size_t first = reg->probed;
    int interrupted = 0;
    char **paths = jl_malloc(reg->n_objs * sizeof *paths);
    for (size_t k = 0; k < reg->n_objs; k++)
        paths[k] = reg->objs[k].path;
    /* The whole path at once: from the memo when it holds */
    char *memo = first == 0 ? jl_probe_memo_get(paths, reg->n_objs) : NULL;
    if (memo) {
        probe_state ps = {-1, 0, -1};
        for (char *l = memo; *l;) {
            char *end = strchr(l, '\n');
            if (end)
                *end = '\0';
            take_line(reg, &ps, l);
            l = end ? end + 1 : l + strlen(l);
        }
        free(memo);
    }
    size_t listed = 0;
    for (size_t k = first; k < reg->n_objs; k++)
        listed += reg->objs[k].state == OBJ_LISTED;
    reg->recording = first == 0 && listed == reg->n_objs;
    for (size_t from = first; from < reg->n_objs && !interrupted && listed;)
        from = probe_from(reg, from, &interrupted);
    if (reg->recording) {
        int clean = !interrupted;
        for (size_t k = 0; k < reg->n_objs; k++)
            clean &= reg->objs[k].state == OBJ_PROBED;
        if (clean && reg->lines)
            jl_probe_memo_put(paths, reg->n_objs, reg->lines, reg->libs, reg->n_libs);
        reg->recording = 0;
    }
    free(paths);
    free(reg->lines);
    reg->lines = NULL;
    reg->n_lines_bytes = 0;
    for (size_t i = 0; i < reg->n_libs; i++)
        free(reg->libs[i]);
    free(reg->libs);
    reg->libs = NULL;
    reg->n_libs = 0;
    for (size_t k = first; k < reg->n_objs; k++) {
        object *o = &reg->objs[k];
        if (o->state == OBJ_LISTED) { /* after an interrupt */
            o->state = OBJ_FAILED;
            add_failure(reg, o->path, jl_strdup("not loaded: interrupted"));
        }
        size_t kept = 0;
        for (size_t j = 0; j < o->n_names; j++) {
            const char *prev = provider_before(reg, k, o->names[j]);
            if (!prev) /* and not twice in this object */
                for (size_t i = 0; i < kept && !prev; i++)
                    if (!strcmp(o->names[i], o->names[j]))
                        prev = o->path;
            if (prev) {
                add_failure(reg, o->path, jl_printf("plugin '%s' is shadowed by %s", o->names[j], prev));
                free(o->names[j]);
            } else {
                o->names[kept++] = o->names[j];
            }
        }
        o->n_names = kept;
        if (o->state == OBJ_PROBED && !kept)
            o->state = OBJ_FAILED;
    }
    reg->probed = reg->n_objs;
}

/* Loads object k into this process (it probed clean) and registers the
 * plugins the probe gave it. */
static void load_object(joule_registry *reg, object *o)
{
    o->state = OBJ_LOADED;
    dlerror();
    void *h = dlopen(o->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    joule_entry_fn entry = h ? entry_of(h) : NULL;
    if (!entry) {
        /* it loaded in the child a moment ago: the file changed since */
        const char *e = h ? NULL : dlerror();
        add_failure(reg, o->path, jl_printf("could not be loaded again after its probe: %s",
                                            e ? e : "no entry point"));
        if (h)
            dlclose(h);
        return;
    }
    for (uint32_t i = 0; i < MAX_PER_OBJECT; i++) {
        const joule_descriptor *d = entry(JOULE_ABI_VERSION, i);
        if (!d)
            break;
        char *why = check_descriptor(d);
        if (why) {
            free(why);
            continue; /* recorded by the probe */
        }
        int mine = 0;
        for (size_t j = 0; j < o->n_names && !mine; j++)
            mine = !strcmp(o->names[j], d->name);
        int have = 0;
        for (size_t j = 0; j < reg->n && !have; j++)
            have = !strcmp(reg->plugins[j]->desc->name, d->name);
        if (!mine || have)
            continue; /* shadowed, recorded by the probe */
        if (reg->n == reg->cap) {
            reg->cap = reg->cap ? reg->cap * 2 : 16;
            reg->plugins = jl_realloc(reg->plugins, reg->cap * sizeof *reg->plugins);
        }
        joule_plugin_info *p = jl_malloc(sizeof *p);
        p->desc = d;
        p->path = jl_strdup(o->path);
        reg->plugins[reg->n++] = p;
    }
}

/* What a non-regular file is, for "skipped: ...". */
static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

/* Lists one object; returns it, or NULL when it was skipped (recorded). */
static object *list_object(joule_registry *reg, const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        add_failure(reg, path, jl_printf("cannot be read: %s", strerror(errno)));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        add_failure(reg, path, jl_printf("skipped: %s, not a shared object", kind_of(st.st_mode)));
        return NULL;
    }
    for (size_t i = 0; i < reg->n_objs; i++)
        if (reg->objs[i].dev == st.st_dev && reg->objs[i].ino == st.st_ino)
            return &reg->objs[i];
    if (reg->n_objs == reg->cap_objs) {
        reg->cap_objs = reg->cap_objs ? reg->cap_objs * 2 : 16;
        reg->objs = jl_realloc(reg->objs, reg->cap_objs * sizeof *reg->objs);
    }
    object *o = &reg->objs[reg->n_objs++];
    memset(o, 0, sizeof *o);
    o->path = jl_strdup(path);
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    o->state = OBJ_LISTED;
    return o;
}

int joule_registry_add_file(joule_registry *reg, const char *path)
{
    size_t fails = reg->n_fail;
    object *o = list_object(reg, path);
    if (!o)
        return JOULE_E_PLUGIN;
    size_t k = (size_t)(o - reg->objs);
    probe_all(reg);
    o = &reg->objs[k];
    if (o->state == OBJ_PROBED)
        load_object(reg, o);
    int failed = 0;
    for (size_t i = fails; i < reg->n_fail; i++)
        failed |= !strcmp(reg->failures[i].path, path);
    return failed ? JOULE_E_PLUGIN : 0;
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
        list_object(reg, path);
        free(path);
        free(names[i]);
    }
    free(names);
    return 0;
}

/* Lookups load what they need: the registry changes under a const
 * pointer, as a cache would. It is not to be used from several threads at
 * once. */
static joule_registry *mut(const joule_registry *reg)
{
    return (joule_registry *)(uintptr_t)reg;
}

static void load_all(joule_registry *reg)
{
    probe_all(reg);
    for (size_t k = 0; k < reg->n_objs; k++)
        if (reg->objs[k].state == OBJ_PROBED)
            load_object(reg, &reg->objs[k]);
}

size_t joule_registry_count(const joule_registry *reg)
{
    load_all(mut(reg));
    return reg->n;
}

const joule_plugin_info *joule_registry_get(const joule_registry *reg, size_t i)
{
    load_all(mut(reg));
    return i < reg->n ? reg->plugins[i] : NULL;
}

const joule_plugin_info *joule_registry_find(const joule_registry *reg, const char *name)
{
    joule_registry *r = mut(reg);
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->plugins[i]->desc->name, name))
            return r->plugins[i];
    probe_all(r);
    for (size_t k = 0; k < r->n_objs; k++) {
        object *o = &r->objs[k];
        if (o->state != OBJ_PROBED)
            continue;
        for (size_t j = 0; j < o->n_names; j++)
            if (!strcmp(o->names[j], name)) {
                size_t before = r->n;
                load_object(r, o);
                for (size_t i = before; i < r->n; i++)
                    if (!strcmp(r->plugins[i]->desc->name, name))
                        return r->plugins[i];
                return NULL;
            }
    }
    return NULL;
}

size_t jl_registry_names(const joule_registry *reg, const char ***names)
{
    joule_registry *r = mut(reg);
    probe_all(r);
    size_t n = 0;
    for (size_t k = 0; k < r->n_objs; k++)
        n += r->objs[k].state == OBJ_PROBED || r->objs[k].state == OBJ_LOADED ? r->objs[k].n_names : 0;
    *names = jl_calloc(n + 1, sizeof **names);
    n = 0;
    for (size_t k = 0; k < r->n_objs; k++)
        if (r->objs[k].state == OBJ_PROBED || r->objs[k].state == OBJ_LOADED)
            for (size_t j = 0; j < r->objs[k].n_names; j++)
                (*names)[n++] = r->objs[k].names[j];
    return n;
}

size_t joule_registry_failure_count(const joule_registry *reg)
{
    probe_all(mut(reg));
    return reg->n_fail;
}

const char *joule_registry_failure(const joule_registry *reg, size_t i, const char **path)
{
    probe_all(mut(reg));
    if (i >= reg->n_fail)
        return NULL;
    if (path)
        *path = reg->failures[i].path;
    return reg->failures[i].reason;
}

char *jl_check_descriptor(const joule_descriptor *d)
{
    return check_descriptor(d);
}
