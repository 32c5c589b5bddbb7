/* alloc_count.h — count the allocations the calling thread makes between
 * start and stop (see alloc_count.c). */
#ifndef JOULE_ALLOC_COUNT_H
#define JOULE_ALLOC_COUNT_H

/* 0 when this build cannot count (sanitizer builds, non-glibc). */
int alloc_count_available(void);
void alloc_count_start(void);
/* The allocations since alloc_count_start on this thread. */
unsigned long alloc_count_stop(void);

#endif
