/* shard.c — see shard.h. */
#include "config.h"

#include "shard.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct item {
    const char *path;
    size_t pos;  /* on the command line */
    uint64_t w;  /* its size, or the mean where unknown */
    int known;
} item;

static int by_path(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    /* the same path twice: command-line order, so the order is total */
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int by_pos(const void *a, const void *b)
{
    const item *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

const char **jl_shard_select(const char *const *files, size_t n, unsigned index, unsigned count, size_t *n_out)
{
    *n_out = 0;
    if (!n || !count || index >= count)
        return NULL;
    item *v = jl_malloc(n * sizeof *v);
    uint64_t sum = 0;
    size_t n_known = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        v[i] = (item){files[i], i, 0, 0};
        if (stat(files[i], &st) == 0 && S_ISREG(st.st_mode)) {
            v[i].w = (uint64_t)st.st_size;
            v[i].known = 1;
            sum += v[i].w;
            n_known++;
        }
    }
    uint64_t mean = n_known ? sum / n_known : 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].known)
            v[i].w = mean;
        total += v[i].w;
    }
    if (total == 0) /* all empty, or none known: by count */
        for (size_t i = 0; i < n; i++) {
            v[i].w = 1;
            total++;
        }
    qsort(v, n, sizeof *v, by_path);
    size_t k = 0;
    unsigned __int128 start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned __int128 mid2 = 2 * start + v[i].w; /* twice the middle */
        unsigned __int128 s = mid2 * count / (2 * (unsigned __int128)total);
        if (s >= count)
            s = count - 1;
        start += v[i].w;
        if (s == index)
            v[k++] = v[i];
    }
    qsort(v, k, sizeof *v, by_pos);
    const char **out = NULL;
    if (k) {
        out = jl_malloc(k * sizeof *out);
        for (size_t i = 0; i < k; i++)
            out[i] = v[i].path;
    }
    free(v);
    *n_out = k;
    return out;
}

char *jl_shard_tag(unsigned index, unsigned count)
{
    return jl_printf("shard-%u-of-%u", index + 1, count);
}
