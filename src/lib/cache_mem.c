/* cache_mem.c — see cache_mem.h.
 *
 * A hash table of items chained through a doubly linked list in recency
 * order (most recent first), under one mutex: lookups are a handful per
 * job, never per chunk. Items are reference counted so that a reader can
 * keep using an image that eviction has dropped from the table. */
#include "config.h"

#include "cache_mem.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct jl_mem_item {
    jl_key key;
    unsigned char *bytes;
    size_t n;
    double used;             /* when last put or served (jl_now) */
    int refs;                /* the table's, and each reader's    */
    jl_mem_item *prev, *next; /* recency list                      */
    jl_mem_item *chain;      /* hash bucket                       */
};

#define BUCKETS 1024

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static jl_mem_item *buckets[BUCKETS];
static jl_mem_item *head, *tail;  /* most and least recently used */
static uint64_t max_bytes, bytes, entries, evicted;
#define SEEN 4096
static jl_key seen[SEEN];    /* keys used once, direct-mapped */
static int seen_set[SEEN];

static size_t bucket(jl_key k)
{
    return (size_t)(k.lo ^ k.hi) % BUCKETS;
}

static void unref(jl_mem_item *it)
{
    if (--it->refs == 0) {
        free(it->bytes);
        free(it);
    }
}

/* Take `it` out of the table and the list (lock held). */
static void drop(jl_mem_item *it)
{
    jl_mem_item **pp = &buckets[bucket(it->key)];
    while (*pp != it)
        pp = &(*pp)->chain;
    *pp = it->chain;
    if (it->prev)
        it->prev->next = it->next;
    else
        head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        tail = it->prev;
    bytes -= it->n;
    entries--;
    unref(it);
}

static jl_mem_item *find(jl_key k)
{
    for (jl_mem_item *it = buckets[bucket(k)]; it; it = it->chain)
        if (it->key.hi == k.hi && it->key.lo == k.lo)
            return it;
    return NULL;
}

static void to_front(jl_mem_item *it)
{
    if (head == it)
        return;
    it->prev->next = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        tail = it->prev;
    it->prev = NULL;
    it->next = head;
    head->prev = it;
    head = it;
}

static void shrink(void)
{
    while (bytes > max_bytes && tail) {
        drop(tail);
        evicted++;
    }
}

void jl_mem_configure(uint64_t max)
{
    pthread_mutex_lock(&mu);
    max_bytes = max;
    shrink();
    pthread_mutex_unlock(&mu);
}

jl_mem_item *jl_mem_get(jl_key key, double ttl)
{
    pthread_mutex_lock(&mu);
    jl_mem_item *it = find(key);
    double now = jl_now();
    if (it && ttl > 0 && now - it->used > ttl) {
        drop(it);
        it = NULL;
    }
    if (it) {
        it->used = now;
        it->refs++;
        to_front(it);
    }
    pthread_mutex_unlock(&mu);
    return it;
}

const unsigned char *jl_mem_bytes(const jl_mem_item *it)
{
    return it->bytes;
}

size_t jl_mem_size(const jl_mem_item *it)
{
    return it->n;
}

void jl_mem_release(jl_mem_item *it)
{
    if (!it)
        return;
    pthread_mutex_lock(&mu);
    unref(it);
    pthread_mutex_unlock(&mu);
}

int jl_mem_fits(uint64_t n)
{
    pthread_mutex_lock(&mu);
    int ok = n > 0 && n <= max_bytes / 2;
    pthread_mutex_unlock(&mu);
    return ok;
}

int jl_mem_used_before(jl_key key)
{
    size_t i = (size_t)((key.lo * 0x9e3779b97f4a7c15ull) >> 52) % SEEN;
    pthread_mutex_lock(&mu);
    int before = seen_set[i] && seen[i].hi == key.hi && seen[i].lo == key.lo;
    seen[i] = key;
    seen_set[i] = 1;
    pthread_mutex_unlock(&mu);
    return before;
}

jl_mem_item *jl_mem_put(jl_key key, unsigned char *b, size_t n)
{
    pthread_mutex_lock(&mu);
    jl_mem_item *old = find(key);
    if (old)
        drop(old);
    if (n == 0 || n > max_bytes / 2) {
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    jl_mem_item *it = jl_calloc(1, sizeof *it);
    it->key = key;
    it->bytes = b;
    it->n = n;
    it->used = jl_now();
    it->refs = 2; /* the table's and the caller's */
    it->chain = buckets[bucket(key)];
    buckets[bucket(key)] = it;
    it->next = head;
    if (head)
        head->prev = it;
    head = it;
    if (!tail)
        tail = it;
    bytes += n;
    entries++;
    shrink();
    pthread_mutex_unlock(&mu);
    return it;
}

void jl_mem_forget(jl_key key)
{
    pthread_mutex_lock(&mu);
    jl_mem_item *it = find(key);
    if (it)
        drop(it);
    pthread_mutex_unlock(&mu);
}

void jl_mem_clear(void)
{
    pthread_mutex_lock(&mu);
    while (head)
        drop(head);
    memset(seen_set, 0, sizeof seen_set);
    pthread_mutex_unlock(&mu);
}

void jl_mem_usage(uint64_t *b, uint64_t *e, uint64_t *ev)
{
    pthread_mutex_lock(&mu);
    *b = bytes;
    *e = entries;
    *ev = evicted;
    pthread_mutex_unlock(&mu);
}
