/* bridge.h — what the Vamp and LADSPA bridges (vamp.c, ladspa.c) share:
 * walking a plugin search path, turning foreign names into joule
 * identifiers, and the never-freed memory their descriptors live in.
 *
 * A bridge is a joule plugin object whose descriptors are built at load
 * time, one per foreign plugin found. joule takes descriptors as static
 * data (the host never frees them), so a bridge builds them once, from
 * memory it never frees, and keeps the foreign libraries loaded for the
 * life of the process (their descriptors point into them).
 *
 * Header-only and static: each bridge is its own module. */
#ifndef JOULE_BRIDGE_H
#define JOULE_BRIDGE_H

#include <joule/plugin.h>

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- memory that lives as long as the process ------------------------- */

/* Allocation for descriptors (zeroed; what they point to is never freed)
 * and the temporaries made on the way (freed). Aborts on exhaustion:
 * it runs once, at load, for a few kilobytes per foreign plugin. */
static inline void *jb_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fputs("joule bridge: out of memory while listing plugins\n", stderr);
        abort();
    }
    return p;
}

static inline char *jb_strdup(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = (char *)jb_alloc(n);
    memcpy(d, s ? s : "", n);
    return d;
}

static inline char *jb_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *jb_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = (char *)jb_alloc((size_t)(n > 0 ? n : 0) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- names ---------------------------------------------------------------- */

/* A joule identifier ([a-z0-9_]) made from foreign text: lower case,
 * every run of other characters one '_', none leading or trailing; "x"
 * when nothing is left. */
static inline char *jb_ident(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = (char *)jb_alloc(n + 2), *o = d;
    for (const char *p = s ? s : ""; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            *o++ = c;
        else if (o > d && o[-1] != '_')
            *o++ = '_';
    }
    while (o > d && o[-1] == '_')
        o--;
    if (o == d)
        *o++ = 'x';
    *o = '\0';
    return d;
}

/* A column name ([A-Za-z0-9_.-]) made from foreign text, case kept;
 * NULL when nothing usable is left. */
static inline char *jb_colname(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = (char *)jb_alloc(n + 1), *o = d;
    for (const char *p = s ? s : ""; *p; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')
            *o++ = c;
        else if (o > d && o[-1] != '_')
            *o++ = '_';
    }
    while (o > d && o[-1] == '_')
        o--;
    *o = '\0';
    if (o == d) {
        free(d);
        return NULL;
    }
    return d;
}

/* Foreign text fit for descriptor metadata, which joule requires to be
 * UTF-8 without control characters: each byte that is not part of a
 * valid UTF-8 sequence, and each control character, becomes '?' (a
 * newline too unless `multiline`). NULL stays NULL. */
static inline char *jb_text(const char *s, int multiline)
{
    if (!s)
        return NULL;
    char *d = jb_strdup(s);
    unsigned char *p = (unsigned char *)d;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7f)
                *p = '?';
            p++;
            continue;
        }
        int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        unsigned cp = n > 0 ? c & (0x3fu >> n) : 0;
        int ok = n > 0 && c != 0xc0 && c != 0xc1 && c <= 0xf4;
        for (int k = 1; ok && k <= n; k++) {
            ok = (p[k] & 0xc0) == 0x80;
            cp = cp << 6 | (p[k] & 0x3fu);
        }
        ok = ok && !(n == 2 && cp < 0x800) && !(n == 3 && (cp < 0x10000 || cp > 0x10ffff)) &&
             !(cp >= 0xd800 && cp < 0xe000) && !(cp >= 0x80 && cp < 0xa0);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
    return d;
}

/* Is `name` among the first n of `names`? */
static inline int jb_taken(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], name))
            return 1;
    return 0;
}

/* Make names[i] unique among names[0..i) by appending _2, _3 ...; a
 * replaced names[i] (malloc'd) is freed. */
static inline void jb_unique(const char **names, size_t i)
{
    if (!jb_taken(names, i, names[i]))
        return;
    for (unsigned k = 2;; k++) {
        char *c = jb_printf("%s_%u", names[i], k);
        if (!jb_taken(names, i, c)) {
            free((char *)names[i]);
            names[i] = c;
            return;
        }
        free(c);
    }
}

/* ---- the search path --------------------------------------------------- */

/* The folders to search, in order: those of environment variable `env`
 * (colon-separated) when it is set, even to nothing, as the format's own
 * hosts do; else `defaults` (NULL-terminated; a leading "~/" is the home
 * folder). A folder met twice (by any spelling) is searched once.
 * Returns a NULL-terminated array of paths (free each and the array). */
static inline char **jb_search_path(const char *env, const char *const *defaults)
{
    size_t cap = 16, n = 0;
    char **dirs = (char **)jb_alloc(cap * sizeof *dirs);
    struct {
        dev_t dev;
        ino_t ino;
    } seen[64];
    size_t n_seen = 0;
    const char *val = getenv(env);
    const char *home = getenv("HOME");
    size_t n_def = 0;
    while (!val && defaults[n_def])
        n_def++;
    /* the variable's entries, then the defaults */
    char *list = jb_strdup(val ? val : "");
    char *save = NULL;
    const char *item = strtok_r(list, ":", &save);
    size_t d = 0;
    for (;;) {
        char *dir;
        if (item) {
            dir = jb_strdup(item);
            item = strtok_r(NULL, ":", &save);
        } else if (d < n_def) {
            const char *def = defaults[d++];
            if (def[0] == '~' && def[1] == '/') {
                if (!home || !*home)
                    continue;
                dir = jb_printf("%s%s", home, def + 1);
            } else
                dir = jb_strdup(def);
        } else
            break;
        struct stat st;
        if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
            free(dir);
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < n_seen; k++)
            dup |= seen[k].dev == st.st_dev && seen[k].ino == st.st_ino;
        if (dup) {
            free(dir);
            continue;
        }
        if (n_seen < sizeof seen / sizeof seen[0]) {
            seen[n_seen].dev = st.st_dev;
            seen[n_seen].ino = st.st_ino;
            n_seen++;
        }
        if (n + 1 >= cap) {
            char **g = (char **)jb_alloc(2 * cap * sizeof *g);
            memcpy(g, dirs, n * sizeof *g);
            free(dirs);
            dirs = g;
            cap *= 2;
        }
        dirs[n++] = dir;
    }
    free(list);
    dirs[n] = NULL;
    return dirs;
}

static inline int jb_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files named *.so in `dir`, sorted by name (so that the
 * order, and with it which of two same-named plugins wins, does not depend
 * on the file system). NULL-terminated; free each and the array. */
static inline char **jb_list_so(const char *dir)
{
    DIR *dp = opendir(dir);
    size_t n = 0, cap = 16;
    char **v = (char **)jb_alloc(cap * sizeof *v);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp))) {
            size_t len = strlen(e->d_name);
            if (len < 4 || strcmp(e->d_name + len - 3, ".so"))
                continue;
            char *path = jb_printf("%s/%s", dir, e->d_name);
            struct stat st;
            /* only regular files: a FIFO would block dlopen */
            if (stat(path, &st) || !S_ISREG(st.st_mode)) {
                free(path);
                continue;
            }
            if (n + 1 >= cap) {
                char **g = (char **)jb_alloc(2 * cap * sizeof *g);
                memcpy(g, v, n * sizeof *g);
                free(v);
                v = g;
                cap *= 2;
            }
            v[n++] = path;
        }
        closedir(dp);
    }
    qsort(v, n, sizeof *v, jb_cmp_str);
    v[n] = NULL;
    return v;
}

/* The file name of `path` without folder and ".so". */
static inline char *jb_stem(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = jb_strdup(b);
    size_t n = strlen(s);
    if (n > 3 && !strcmp(s + n - 3, ".so"))
        s[n - 3] = '\0';
    return s;
}

/* The version of a descriptor made from the foreign library at `path`:
 * `base` ("2.0.0") with a tag of the file (its inode, size and
 * modification time) as build metadata, "2.0.0+1a2b3c4d". The stage cache
 * keys results by a plugin's version and the build of the object that
 * offers it, here the bridge: without the tag, a foreign library upgraded
 * in place at the same version would be served its old results. */
static inline char *jb_version(const char *base, const char *path)
{
    struct stat st;
    uint32_t h = 2166136261u; /* FNV-1a */
    if (stat(path, &st) == 0) {
        uint64_t v[4] = {(uint64_t)st.st_ino, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                         (uint64_t)st.st_mtim.tv_nsec};
        const unsigned char *b = (const unsigned char *)v;
        for (size_t i = 0; i < sizeof v; i++)
            h = (h ^ b[i]) * 16777619u;
    }
    return jb_printf("%s+%08x", base, (unsigned)h);
}

/* ---- growing arrays of descriptors ------------------------------------ */

typedef struct jb_list {
    const joule_descriptor **v;
    size_t n, cap;
} jb_list;

static inline void jb_list_add(jb_list *l, const joule_descriptor *d)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        const joule_descriptor **g = (const joule_descriptor **)jb_alloc(cap * sizeof *g);
        if (l->n)
            memcpy(g, l->v, l->n * sizeof *g);
        free(l->v);
        l->v = g;
        l->cap = cap;
    }
    l->v[l->n++] = d;
}

/* Is a plugin of this name already offered? */
static inline int jb_list_has(const jb_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i]->name, name))
            return 1;
    return 0;
}

#endif
