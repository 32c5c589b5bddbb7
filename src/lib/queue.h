/* queue.h — a bounded FIFO of chunk references between two nodes.
 *
 * Not locked: the scheduler owns every queue and touches them only under
 * its own lock. The queue holds one reference on each chunk it contains. */
#ifndef JOULE_QUEUE_H
#define JOULE_QUEUE_H

#include "pool.h"

#include <stddef.h>

typedef struct jl_queue {
    jl_chunk **v;
    size_t cap;        /* most chunks it may hold   */
    size_t head, len;
    size_t high_water; /* most it ever held          */
} jl_queue;

void jl_queue_init(jl_queue *q, size_t cap);
/* Drop every chunk still queued (back to `pool`) and free the storage. */
void jl_queue_clear(jl_queue *q, jl_pool *pool);

static inline int jl_queue_full(const jl_queue *q) { return q->len >= q->cap; }
static inline int jl_queue_empty(const jl_queue *q) { return q->len == 0; }
static inline jl_chunk *jl_queue_peek(const jl_queue *q) { return q->len ? q->v[q->head] : NULL; }

/* Append a chunk, taking a reference to it. Returns -1 if full. */
int jl_queue_push(jl_queue *q, jl_chunk *c);
/* Remove the head and return it; the caller inherits the queue's
 * reference. NULL if empty. */
jl_chunk *jl_queue_pop(jl_queue *q);

#endif
