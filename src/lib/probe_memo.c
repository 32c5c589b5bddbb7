/* probe_memo.c — see probe_memo.h.
 *
 * The memo is text, in the cache folder's probe/ folder, one file per
 * plugin path (named by a hash of its objects' paths):
 *   joule-probe 1 ABI
 *   env NAME=VALUE               (LD_LIBRARY_PATH, LD_PRELOAD, VAMP_PATH,
 *                                LADSPA_PATH; "-" unset)
 *   obj DEV INO SIZE MS MNS CS CNS PATH    (in path order)
 *   lib DEV INO SIZE MS MNS CS CNS PATH
 *   dir DEV INO SIZE MS MNS CS CNS PATH   (a folder the bridges search;
 *                                "-" for the identity when it is absent)
 *   line TEXT                    (the probe's lines, replayed in order) */
#include "config.h"

#include <joule/plugin.h>

#include "../../plugins/bridge_paths.h"
#include "job_cache.h"
#include "probe_memo.h"
#include "util.h"

#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* LD_*: which libraries load. VAMP_PATH, LADSPA_PATH: which foreign
 * plugins the bridges (plugins/vamp.c, ladspa.c) find, and so which
 * plugins they offer. */
static const char *const env_names[] = {"LD_LIBRARY_PATH", "LD_PRELOAD", "VAMP_PATH", "LADSPA_PATH"};

/* mkdir -p, mode 0700 for what it creates */
static void mkdirs(const char *dir)
{
    char *p = jl_strdup(dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0700);
            *s = '/';
        }
    mkdir(p, 0700);
    free(p);
}

/* The memo's file for these objects, in a folder that is the user's
 * alone; NULL when there is none. */
static char *memo_file(char *const *objs, size_t n, int create)
{
    char *dir = jl_cache_default_dir();
    if (!dir)
        return NULL;
    char *sub = jl_printf("%s/probe", dir);
    if (create) {
        mkdirs(dir);
        mkdir(sub, 0700);
    }
    struct stat st;
    int ours = stat(dir, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 022) && stat(sub, &st) == 0 &&
               S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022);
    free(dir);
    if (!ours) {
        free(sub);
        return NULL;
    }
    XXH3_state_t *h = XXH3_createState();
    XXH3_128bits_reset(h);
    for (size_t i = 0; i < n; i++)
        XXH3_128bits_update(h, objs[i], strlen(objs[i]) + 1);
    XXH128_hash_t d = XXH3_128bits_digest(h);
    XXH3_freeState(h);
    char *path = jl_printf("%s/%016llx%016llx", sub, (unsigned long long)d.high64, (unsigned long long)d.low64);
    free(sub);
    return path;
}

/* "DEV INO SIZE MS MNS CS CNS" of a file, or NULL when it cannot be stat'ed. */
static char *identity(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        return NULL;
    return jl_printf("%llu %llu %lld %lld %ld %lld %ld", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                     (long)st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, (long)st.st_ctim.tv_nsec);
}

static char *env_line(size_t i)
{
    const char *v = getenv(env_names[i]);
    return jl_printf("env %s=%s", env_names[i], v ? v : "-");
}

/* The "dir" lines for the folders the bridges search (bridge_paths.h):
 * a folder's times change when a file is added to it or removed, so a
 * Vamp or LADSPA plugin installed there is noticed. */
static char *dir_lines(void)
{
    static const char *const vamp_defaults[] = JB_VAMP_DEFAULTS, *const ladspa_defaults[] = JB_LADSPA_DEFAULTS;
    static const char *const envs[] = {JB_VAMP_ENV, JB_LADSPA_ENV};
    const char *const *defaults[] = {vamp_defaults, ladspa_defaults};
    const char *home = getenv("HOME");
    char *out = jl_strdup("");
    for (size_t k = 0; k < 2; k++) {
        const char *v = getenv(envs[k]);
        char *list = NULL;
        if (v)
            list = jl_strdup(v);
        else {
            list = jl_strdup("");
            for (const char *const *d = defaults[k]; *d; d++) {
                char *dir = (*d)[0] == '~' ? jl_printf("%s%s", home ? home : "", *d + 1) : jl_strdup(*d);
                char *l = jl_printf("%s%s%s", list, *list ? ":" : "", dir);
                free(dir);
                free(list);
                list = l;
            }
        }
        char *save = NULL;
        for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            char *id = identity(dir);
            char *l = jl_printf("%sdir %s %s\n", out, id ? id : "-", dir);
            free(id);
            free(out);
            out = l;
        }
        free(list);
    }
    return out;
}

static char *header(void)
{
    return jl_printf("joule-probe 1 %u", (unsigned)JOULE_ABI_VERSION);
}

/* "KIND IDENTITY PATH" checked against the file now: 0 when the same. */
static int same_file_line(const char *l, const char *kind, const char *want_path)
{
    size_t k = strlen(kind);
    if (strncmp(l, kind, k) || l[k] != ' ')
        return -1;
    const char *p = l + k + 1;
    for (int field = 0; field < 7 && p; field++)
        p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
    if (!p || (want_path && strcmp(p, want_path)))
        return -1;
    char *id = identity(p);
    int rc = id && strlen(id) == (size_t)(p - 1 - (l + k + 1)) && !strncmp(id, l + k + 1, strlen(id)) ? 0 : -1;
    free(id);
    return rc;
}

char *jl_probe_memo_get(char *const *objs, size_t n)
{
    char *path = memo_file(objs, n, 0);
    if (!path)
        return NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    free(path);
    struct stat st;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) ||
        st.st_size > (1 << 24)) {
        close(fd);
        return NULL;
    }
    char *text = jl_malloc((size_t)st.st_size + 1);
    ssize_t got = read(fd, text, (size_t)st.st_size);
    close(fd);
    if (got != st.st_size) {
        free(text);
        return NULL;
    }
    text[got] = '\0';
    /* every line checked; the probe's own lines gathered */
    char *lines = jl_calloc(1, (size_t)got + 1);
    size_t out = 0, obj = 0, envs = 0;
    char *dirs = jl_strdup("");
    int ok = 1, first = 1;
    for (char *l = text; *l && ok;) {
        char *end = strchr(l, '\n');
        if (!end) {
            ok = 0;
            break;
        }
        *end = '\0';
        if (first) {
            char *h = header();
            ok = !strcmp(l, h);
            free(h);
            first = 0;
        } else if (!strncmp(l, "env ", 4)) {
            char *e = envs < sizeof env_names / sizeof env_names[0] ? env_line(envs) : NULL;
            ok = e && !strcmp(l, e);
            free(e);
            envs++;
        } else if (!strncmp(l, "obj ", 4)) {
            ok = obj < n && !same_file_line(l, "obj", objs[obj]);
            obj++;
        } else if (!strncmp(l, "lib ", 4)) {
            ok = !same_file_line(l, "lib", NULL);
        } else if (!strncmp(l, "dir ", 4)) {
            char *d = jl_printf("%s%s\n", dirs, l);
            free(dirs);
            dirs = d;
        } else if (!strncmp(l, "line ", 5)) {
            size_t len = strlen(l + 5);
            memcpy(lines + out, l + 5, len);
            out += len;
            lines[out++] = '\n';
        } else {
            ok = 0;
        }
        l = end + 1;
    }
    free(text);
    char *want_dirs = dir_lines();
    ok &= !strcmp(dirs, want_dirs);
    free(want_dirs);
    free(dirs);
    if (!ok || first || obj != n || envs != sizeof env_names / sizeof env_names[0]) {
        free(lines);
        return NULL;
    }
    lines[out] = '\0';
    return lines;
}

void jl_probe_memo_put(char *const *objs, size_t n, const char *lines, char *const *libs, size_t n_libs)
{
    char *path = memo_file(objs, n, 1);
    if (!path)
        return;
    char *h = header();
    size_t cap = 4096, len = 0;
    char *text = jl_malloc(cap);
    int ok = 1;
#define ADD(s)                                                                                                     \
    do {                                                                                                           \
        const char *a_ = (s);                                                                                      \
        size_t n_ = strlen(a_);                                                                                    \
        if (len + n_ + 2 > cap)                                                                                    \
            text = jl_realloc(text, cap = 2 * (len + n_ + 2));                                                     \
        memcpy(text + len, a_, n_);                                                                                \
        len += n_;                                                                                                 \
        text[len++] = '\n';                                                                                        \
    } while (0)
    ADD(h);
    free(h);
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++) {
        char *e = env_line(i);
        ok &= strchr(e, '\n') == NULL;
        ADD(e);
        free(e);
    }
    for (size_t k = 0; k < 2 && ok; k++)
        for (size_t i = 0; i < (k ? n_libs : n) && ok; i++) {
            const char *p = k ? libs[i] : objs[i];
            char *id = identity(p);
            ok = id && !strchr(p, '\n');
            if (ok) {
                char *l = jl_printf("%s %s %s", k ? "lib" : "obj", id, p);
                ADD(l);
                free(l);
            }
            free(id);
        }
    {
        char *d = dir_lines();
        for (char *l = d; ok && *l;) {
            char *end = strchr(l, '\n');
            *end = '\0';
            ADD(l);
            l = end + 1;
        }
        free(d);
    }
    for (const char *l = lines; ok && *l;) {
        const char *end = strchr(l, '\n');
        size_t ln = end ? (size_t)(end - l) : strlen(l);
        char *t = jl_printf("line %.*s", (int)ln, l);
        ADD(t);
        free(t);
        l += ln + (end != NULL);
    }
#undef ADD
    if (ok) {
        char *tmp = jl_printf("%s.XXXXXX", path);
        int fd = mkstemp(tmp);
        if (fd >= 0) {
            int w = write(fd, text, len) == (ssize_t)len;
            close(fd);
            if (!w || rename(tmp, path))
                unlink(tmp);
        }
        free(tmp);
    }
    free(text);
    free(path);
}
