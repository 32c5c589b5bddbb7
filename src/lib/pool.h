/* pool.h — the chunk pool: all stream memory of a run, within a budget.
 *
 * A chunk is one block of rows of one stream. Blocks come in a few sizes (a
 * stream's rows × columns decide its block size, fixed for the stream); a
 * freed block goes back on the free list of its size and is reused, so after
 * the first few chunks a run allocates nothing.
 *
 * The budget is enforced by reservation: before a job starts it reserves the
 * most it can ever hold at once (its quota, see scheduler.c), and takes
 * blocks only within it. A job that cannot reserve waits; no job can then
 * starve another of blocks half-way through, which is what keeps the pool
 * free of deadlock. Thread-safe. */
#ifndef JOULE_POOL_H
#define JOULE_POOL_H

#include <joule/plugin.h>

#include <stddef.h>
#include <stdint.h>

typedef struct jl_chunk {
    struct jl_chunk *next_free; /* free list link                          */
    size_t bytes;               /* block size (its size class)             */
    uint32_t refs;              /* queues and nodes holding it             */
    uint32_t kind;              /* stream kind                             */
    joule_buffer buf;           /* the rows; buf.capacity = rows that fit  */
} jl_chunk;

typedef struct jl_pool jl_pool;

jl_pool *jl_pool_new(size_t budget);
void jl_pool_free(jl_pool *p);

/* Bytes a block needs for `rows` rows of `columns` floats (plus a time per
 * row for events), rounded to whole cache lines. */
size_t jl_pool_block_bytes(uint32_t rows, uint32_t columns, int events);

/* Reserve `bytes` of the budget for a job. With `force`, succeed even past
 * the budget (a lone job bigger than the budget must still run). Returns 0,
 * or -1 if the budget does not have room now. */
int jl_pool_reserve(jl_pool *p, size_t bytes, int force);
void jl_pool_unreserve(jl_pool *p, size_t bytes);

/* A block with room for `rows` × `columns` (and times for events), its
 * reference count 1. Returns NULL when the blocks in use would pass the
 * larger of the budget and the reservations: the pool is exhausted. */
jl_chunk *jl_pool_get(jl_pool *p, uint32_t rows, uint32_t columns, uint32_t kind);

/* Add a reference; drop one, returning the block to the pool at zero. */
void jl_chunk_ref(jl_chunk *c);
void jl_chunk_unref(jl_pool *p, jl_chunk *c);

/* Figures. */
size_t jl_pool_in_use(jl_pool *p);     /* bytes in blocks handed out       */
size_t jl_pool_high_water(jl_pool *p); /* most bytes ever in use at once   */
size_t jl_pool_allocated(jl_pool *p);  /* bytes allocated, free or in use  */

#endif
