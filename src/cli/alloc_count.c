/* alloc_count.c — counts the allocations a thread makes while a flag is
 * up: how `joule plugin-test` sees a plugin allocating inside process.
 *
 * The joule program defines malloc and its kin, which then take the place
 * of the C library's for every object in the process, the plugins
 * included; each forwards to glibc's own entry points (__libc_malloc ...),
 * and counts when the calling thread has asked for it. The flag and the
 * count are thread-local, so other threads are neither counted nor
 * slowed beyond one test of a thread-local word.
 *
 * Sanitizer builds replace malloc themselves: there counting is off, and
 * alloc_count_available() says so. */
#include "config.h"

#include "alloc_count.h"

#include <stddef.h>
#include <stdlib.h> /* __GLIBC__ */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__GLIBC__)
#define JOULE_NO_ALLOC_COUNT 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#undef JOULE_NO_ALLOC_COUNT
#define JOULE_NO_ALLOC_COUNT 1
#endif
#endif

#ifdef JOULE_NO_ALLOC_COUNT

int alloc_count_available(void)
{
    return 0;
}

void alloc_count_start(void)
{
}

unsigned long alloc_count_stop(void)
{
    return 0;
}

#else

#include <errno.h>
#include <malloc.h> /* memalign */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static __thread int counting;
static __thread unsigned long counted;

int alloc_count_available(void)
{
    return 1;
}

void alloc_count_start(void)
{
    counted = 0;
    counting = 1;
}

unsigned long alloc_count_stop(void)
{
    counting = 0;
    return counted;
}

void *malloc(size_t n)
{
    if (counting)
        counted++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (counting)
        counted++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (counting)
        counted++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    if (counting)
        counted++;
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    if (counting)
        counted++;
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) || (align & (align - 1)) || !align)
        return EINVAL;
    if (counting)
        counted++;
    void *p = __libc_memalign(align, n);
    if (!p && n)
        return ENOMEM;
    *out = p;
    return 0;
}

#endif
