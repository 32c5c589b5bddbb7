/* cache_outputs.c — see cache_outputs.h.
 *
 * A memo is text: "joule-outputs 1", then one line per file:
 *   DEV INO SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS PATH */
#include "config.h"

#include "cache_outputs.h"
#include "cache_key.h"
#include "util.h"

#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEMO_HEAD "joule-outputs 1\n"

static char *absolute(const char *path)
{
    if (path[0] == '/')
        return jl_strdup(path);
    char *cwd = getcwd(NULL, 0);
    char *r = jl_printf("%s/%s", cwd ? cwd : ".", path);
    free(cwd);
    return r;
}

int jl_outmemo_key(jl_key sink_key, const char *input, char *const *paths, size_t n, jl_key *memo)
{
    XXH3_state_t *st = XXH3_createState();
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, "outputs", 8);
    XXH3_128bits_update(st, &sink_key, sizeof sink_key);
    char *in = absolute(input);
    XXH3_128bits_update(st, in, strlen(in) + 1);
    free(in);
    int rc = n ? 0 : -1;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!strcmp(paths[i], "-") || strchr(paths[i], '\n')) {
            rc = -1;
            break;
        }
        char *a = absolute(paths[i]);
        XXH3_128bits_update(st, a, strlen(a) + 1);
        free(a);
    }
    XXH128_hash_t h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    memo->hi = h.high64;
    memo->lo = h.low64;
    return rc;
}

static char *memo_file(const char *store_dir, jl_key k)
{
    char hex[33];
    return jl_printf("%s/outputs/%s", store_dir, jl_key_hex(k, hex));
}

static char *identity(const struct stat *st)
{
    return jl_printf("%llu %llu %lld %lld %ld %lld %ld", (unsigned long long)st->st_dev,
                     (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
                     (long)st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, (long)st->st_ctim.tv_nsec);
}

int jl_outmemo_check(const char *store_dir, jl_key memo, char **why)
{
    *why = NULL;
    char *path = memo_file(store_dir, memo);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "re");
    if (f) {
        char buf[8192];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
            text = jl_realloc(text, len + got + 1);
            memcpy(text + len, buf, got);
            len += got;
        }
        fclose(f);
    }
    if (!text || strncmp(text, MEMO_HEAD, strlen(MEMO_HEAD))) {
        *why = jl_strdup(text ? "its memo is damaged" : "no files written by this graph for this input yet");
        free(text);
        free(path);
        return -1;
    }
    text[len] = '\0';
    int files = 0;
    for (char *l = text + strlen(MEMO_HEAD); *l && !*why;) {
        char *end = strchr(l, '\n');
        if (!end) {
            *why = jl_strdup("its memo is damaged");
            break;
        }
        *end = '\0';
        /* the identity is seven fields; the path is the rest of the line */
        char *p = l;
        for (int field = 0; field < 7 && p; field++)
            p = strchr(p + (field > 0), ' ');
        if (!p || p == l) {
            *why = jl_strdup("its memo is damaged");
            break;
        }
        *p++ = '\0';
        struct stat st;
        if (lstat(p, &st) || !S_ISREG(st.st_mode)) {
            char *e = jl_escape(p);
            *why = jl_printf("%s is gone (or no longer a file)", e);
            free(e);
        } else {
            char *id = identity(&st);
            if (strcmp(id, l)) {
                char *e = jl_escape(p);
                *why = jl_printf("%s was changed or replaced since it was written", e);
                free(e);
            }
            free(id);
        }
        files++;
        l = end + 1;
    }
    if (!*why && !files)
        *why = jl_strdup("its memo is damaged");
    if (!*why)
        utimensat(AT_FDCWD, path, NULL, 0); /* used: kept for another TTL */
    free(text);
    free(path);
    return *why ? -1 : 0;
}

void jl_outmemo_write(const char *store_dir, jl_key memo, char *const *paths, size_t n)
{
    if (!n)
        return;
    char *text = jl_strdup(MEMO_HEAD);
    for (size_t i = 0; i < n; i++) {
        char *a = absolute(paths[i]);
        struct stat st;
        if (lstat(a, &st) || !S_ISREG(st.st_mode)) {
            free(a);
            free(text);
            return;
        }
        char *id = identity(&st);
        char *t = jl_printf("%s%s %s\n", text, id, a);
        free(id);
        free(a);
        free(text);
        text = t;
    }
    char *dir = jl_printf("%s/outputs", store_dir);
    mkdir(dir, 0700);
    free(dir);
    char *path = memo_file(store_dir, memo);
    char *tmp = jl_printf("%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        size_t len = strlen(text);
        int ok = write(fd, text, len) == (ssize_t)len;
        close(fd);
        if (!ok || rename(tmp, path))
            unlink(tmp);
    }
    free(tmp);
    free(path);
    free(text);
}

void jl_memos_prune(const char *store_dir, const char *sub, double older_than)
{
    char *dir = jl_printf("%s/%s", store_dir, sub);
    DIR *d = opendir(dir);
    struct dirent *e;
    double now = (double)time(NULL);
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = jl_printf("%s/%s", dir, e->d_name);
        struct stat st;
        int tmp = strchr(e->d_name, '.') != NULL; /* mkstemp's, of a writer that died */
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
            (older_than < 0 || now - (double)st.st_mtime > (tmp ? 3600 : older_than)))
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    free(dir);
}
