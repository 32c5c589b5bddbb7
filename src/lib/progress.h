/* progress.h — the one-line progress display on stderr. */
#ifndef JOULE_PROGRESS_H
#define JOULE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* Where the figures come from: called from the display thread. */
typedef void (*jl_progress_probe)(void *ctx, size_t *files_done, size_t *files_total, uint64_t *bytes_done,
                                  uint64_t *bytes_total);

typedef struct jl_progress jl_progress;

/* Start redrawing the line four times a second, from a thread of its own. */
jl_progress *jl_progress_start(jl_progress_probe probe, void *ctx);
/* Stop, draw the final state, and end the line. NULL is a no-op. */
void jl_progress_stop(jl_progress *p);

/* Print a line of text on stderr above the progress line (which is
 * cleared first and redrawn at the next tick), so that the two never mix.
 * NULL p: just print it. */
void jl_progress_message(jl_progress *p, const char *text);

/* End the display thread until release starts a new one, so that a fork
 * meanwhile is the fork of a single-threaded process: no lock (stderr's,
 * the allocator's) can be copied into the child held by a thread that does
 * not exist there. NULL is a no-op. */
void jl_progress_hold(jl_progress *p);
void jl_progress_release(jl_progress *p);

/* Format one line into buf: "3/8 files  120.5 MB  95.1 MB/s  ETA 0:07". */
void jl_progress_format(char *buf, size_t n, size_t files_done, size_t files_total, uint64_t bytes_done,
                        uint64_t bytes_total, double elapsed);

#endif
