/* pool.c — see pool.h. */
#include "config.h"

#include "pool.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LINE 64

struct size_class {
    size_t bytes;
    jl_chunk *free;
};

struct jl_pool {
    pthread_mutex_t mu;
    size_t budget;
    size_t reserved;
    size_t in_use, high_water, allocated;
    struct size_class *classes;
    size_t n_classes, cap_classes;
};

jl_pool *jl_pool_new(size_t budget)
{
    jl_pool *p = jl_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->budget = budget;
    return p;
}

void jl_pool_free(jl_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_classes; i++) {
        jl_chunk *c = p->classes[i].free;
        while (c) {
            jl_chunk *next = c->next_free;
            free(c);
            c = next;
        }
    }
    free(p->classes);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static size_t header_bytes(void)
{
    return (sizeof(jl_chunk) + LINE - 1) / LINE * LINE;
}

size_t jl_pool_block_bytes(uint32_t rows, uint32_t columns, int events)
{
    size_t data = (size_t)rows * columns * sizeof(float);
    data = (data + LINE - 1) / LINE * LINE;
    size_t times = events ? (size_t)rows * sizeof(double) : 0;
    return header_bytes() + data + (times + LINE - 1) / LINE * LINE;
}

int jl_pool_reserve(jl_pool *p, size_t bytes, int force)
{
    pthread_mutex_lock(&p->mu);
    int ok = force || p->reserved + bytes <= p->budget;
    if (ok)
        p->reserved += bytes;
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : -1;
}

void jl_pool_unreserve(jl_pool *p, size_t bytes)
{
    pthread_mutex_lock(&p->mu);
    p->reserved -= bytes < p->reserved ? bytes : p->reserved;
    pthread_mutex_unlock(&p->mu);
}

jl_chunk *jl_pool_get(jl_pool *p, uint32_t rows, uint32_t columns, uint32_t kind)
{
    int events = kind == JOULE_EVENTS;
    size_t bytes = jl_pool_block_bytes(rows, columns, events);
    jl_chunk *c = NULL;
    pthread_mutex_lock(&p->mu);
    size_t limit = p->budget > p->reserved ? p->budget : p->reserved;
    if (p->in_use + bytes > limit) {
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    struct size_class *sc = NULL;
    for (size_t i = 0; i < p->n_classes; i++)
        if (p->classes[i].bytes == bytes)
            sc = &p->classes[i];
    if (!sc) {
        if (p->n_classes == p->cap_classes)
            p->classes = jl_realloc(p->classes, (p->cap_classes = p->cap_classes ? 2 * p->cap_classes : 8) *
                                                    sizeof *p->classes);
        sc = &p->classes[p->n_classes++];
        sc->bytes = bytes;
        sc->free = NULL;
    }
    if (sc->free) {
        c = sc->free;
        sc->free = c->next_free;
    }
    p->in_use += bytes;
    if (p->in_use > p->high_water)
        p->high_water = p->in_use;
    if (!c)
        p->allocated += bytes;
    pthread_mutex_unlock(&p->mu);
    if (!c) {
        c = aligned_alloc(LINE, bytes);
        if (!c) {
            pthread_mutex_lock(&p->mu);
            p->in_use -= bytes;
            p->allocated -= bytes;
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    }
    char *base = (char *)c;
    memset(c, 0, sizeof *c);
    c->bytes = bytes;
    c->refs = 1;
    c->kind = kind;
    c->buf.capacity = rows;
    c->buf.n_columns = columns;
    c->buf.data = (float *)(base + header_bytes());
    size_t data = ((size_t)rows * columns * sizeof(float) + LINE - 1) / LINE * LINE;
    c->buf.times = events ? (double *)(base + header_bytes() + data) : NULL;
    return c;
}

void jl_chunk_ref(jl_chunk *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

void jl_chunk_unref(jl_pool *p, jl_chunk *c)
{
    if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_classes; i++)
        if (p->classes[i].bytes == c->bytes) {
            c->next_free = p->classes[i].free;
            p->classes[i].free = c;
            break;
        }
    p->in_use -= c->bytes;
    pthread_mutex_unlock(&p->mu);
}

size_t jl_pool_in_use(jl_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t v = p->in_use;
    pthread_mutex_unlock(&p->mu);
    return v;
}

size_t jl_pool_high_water(jl_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t v = p->high_water;
    pthread_mutex_unlock(&p->mu);
    return v;
}

size_t jl_pool_allocated(jl_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t v = p->allocated;
    pthread_mutex_unlock(&p->mu);
    return v;
}
