/* queue.c — see queue.h. */
#include "config.h"

#include "queue.h"
#include "util.h"

#include <stdlib.h>

void jl_queue_init(jl_queue *q, size_t cap)
{
    q->cap = cap ? cap : 1;
    q->v = jl_calloc(q->cap, sizeof *q->v);
    q->head = q->len = q->high_water = 0;
}

void jl_queue_clear(jl_queue *q, jl_pool *pool)
{
    jl_chunk *c;
    while ((c = jl_queue_pop(q)))
        jl_chunk_unref(pool, c);
    free(q->v);
    q->v = NULL;
    q->cap = 0;
}

int jl_queue_push(jl_queue *q, jl_chunk *c)
{
    if (q->len >= q->cap)
        return -1;
    jl_chunk_ref(c);
    q->v[(q->head + q->len) % q->cap] = c;
    q->len++;
    if (q->len > q->high_water)
        q->high_water = q->len;
    return 0;
}

jl_chunk *jl_queue_pop(jl_queue *q)
{
    if (!q->len)
        return NULL;
    jl_chunk *c = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return c;
}
