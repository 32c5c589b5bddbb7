/* check_pool.c — the chunk pool (budget, exhaustion, reuse, reference
 * counts) and the bounded queue. */
#include "pool.h"
#include "queue.h"

#include <check.h>
#include <stdlib.h>

START_TEST(test_block_layout)
{
    jl_pool *p = jl_pool_new(1 << 20);
    jl_chunk *c = jl_pool_get(p, 100, 3, JOULE_SIGNAL);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->buf.capacity, 100);
    ck_assert_uint_eq(c->buf.n_columns, 3);
    ck_assert_uint_eq(c->buf.n_rows, 0);
    ck_assert_ptr_null(c->buf.times);
    ck_assert_uint_eq((uintptr_t)c->buf.data % 64, 0);
    for (int i = 0; i < 300; i++) /* the whole block is writable (ASan checks) */
        c->buf.data[i] = (float)i;
    jl_chunk *e = jl_pool_get(p, 10, 2, JOULE_EVENTS);
    ck_assert_ptr_nonnull(e->buf.times);
    ck_assert_uint_eq((uintptr_t)e->buf.times % 8, 0);
    for (int i = 0; i < 10; i++)
        e->buf.times[i] = i;
    ck_assert(jl_pool_in_use(p) == c->bytes + e->bytes);
    jl_chunk_unref(p, c);
    jl_chunk_unref(p, e);
    ck_assert_uint_eq(jl_pool_in_use(p), 0);
    jl_pool_free(p);
}
END_TEST

START_TEST(test_exhaustion_and_reuse)
{
    size_t b = jl_pool_block_bytes(256, 2, 0);
    jl_pool *p = jl_pool_new(4 * b);
    jl_chunk *c[5];
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(c[i] = jl_pool_get(p, 256, 2, JOULE_SIGNAL));
    ck_assert_ptr_null(jl_pool_get(p, 256, 2, JOULE_SIGNAL)); /* exhausted */
    ck_assert_uint_eq(jl_pool_high_water(p), 4 * b);
    jl_chunk_unref(p, c[2]);
    c[4] = jl_pool_get(p, 256, 2, JOULE_SIGNAL);
    ck_assert_ptr_eq(c[4], c[2]); /* the freed block is reused */
    ck_assert_uint_eq(jl_pool_allocated(p), 4 * b);
    for (int i = 0; i < 5; i++)
        if (i != 2)
            jl_chunk_unref(p, c[i]);
    ck_assert_uint_eq(jl_pool_in_use(p), 0);
    jl_pool_free(p);
}
END_TEST

START_TEST(test_reservation)
{
    jl_pool *p = jl_pool_new(1000);
    ck_assert_int_eq(jl_pool_reserve(p, 600, 0), 0);
    ck_assert_int_eq(jl_pool_reserve(p, 600, 0), -1); /* no room */
    ck_assert_int_eq(jl_pool_reserve(p, 600, 1), 0);  /* forced: a lone job */
    /* blocks within the (forced) reservations can be had */
    size_t b = jl_pool_block_bytes(16, 1, 0);
    ck_assert_uint_lt(b, 1200);
    jl_chunk *c = jl_pool_get(p, 16, 1, JOULE_SIGNAL);
    ck_assert_ptr_nonnull(c);
    jl_chunk_unref(p, c);
    jl_pool_unreserve(p, 600);
    jl_pool_unreserve(p, 600);
    ck_assert_int_eq(jl_pool_reserve(p, 1000, 0), 0);
    jl_pool_free(p);
}
END_TEST

START_TEST(test_refcount_fanout)
{
    jl_pool *p = jl_pool_new(1 << 20);
    jl_queue a, b;
    jl_queue_init(&a, 2);
    jl_queue_init(&b, 2);
    jl_chunk *c = jl_pool_get(p, 8, 1, JOULE_SIGNAL);
    ck_assert_int_eq(jl_queue_push(&a, c), 0);
    ck_assert_int_eq(jl_queue_push(&b, c), 0);
    ck_assert_uint_eq(c->refs, 3);
    jl_chunk_unref(p, c); /* the producer lets go */
    ck_assert_uint_ne(jl_pool_in_use(p), 0);
    jl_chunk_unref(p, jl_queue_pop(&a));
    ck_assert_uint_ne(jl_pool_in_use(p), 0); /* still in b */
    jl_chunk_unref(p, jl_queue_pop(&b));
    ck_assert_uint_eq(jl_pool_in_use(p), 0);
    jl_queue_clear(&a, p);
    jl_queue_clear(&b, p);
    jl_pool_free(p);
}
END_TEST

START_TEST(test_queue_bounds)
{
    jl_pool *p = jl_pool_new(1 << 20);
    jl_queue q;
    jl_queue_init(&q, 3);
    jl_chunk *c[4];
    for (int i = 0; i < 4; i++)
        c[i] = jl_pool_get(p, 4, 1, JOULE_SIGNAL);
    ck_assert(jl_queue_empty(&q));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(jl_queue_push(&q, c[i]), 0);
    ck_assert(jl_queue_full(&q));
    ck_assert_int_eq(jl_queue_push(&q, c[3]), -1);
    ck_assert_uint_eq(q.high_water, 3);
    /* FIFO across the ring's wrap */
    for (int round = 0; round < 5; round++) {
        jl_chunk *h = jl_queue_pop(&q);
        ck_assert_ptr_eq(h, c[round % 4]);
        ck_assert_int_eq(jl_queue_push(&q, c[(round + 3) % 4]), 0);
        jl_chunk_unref(p, h);
    }
    jl_queue_clear(&q, p);
    for (int i = 0; i < 4; i++)
        jl_chunk_unref(p, c[i]);
    ck_assert_uint_eq(jl_pool_in_use(p), 0);
    jl_pool_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_block_layout);
    tcase_add_test(tc, test_exhaustion_and_reuse);
    tcase_add_test(tc, test_reservation);
    tcase_add_test(tc, test_refcount_fanout);
    tcase_add_test(tc, test_queue_bounds);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
