/* progress.c — see progress.h.
 *
 * The display has a thread of its own, waking four times a second: the
 * workers never pay for it, and never wait for the terminal. */
#include "config.h"

#include "progress.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct jl_progress {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int held;     /* no display thread until released */
    int running;  /* a display thread exists */
    jl_progress_probe probe;
    void *ctx;
    double t0;
    size_t last_len;
};

void jl_progress_format(char *buf, size_t n, size_t files_done, size_t files_total, uint64_t bytes_done,
                        uint64_t bytes_total, double elapsed)
{
    double mb = bytes_done / 1e6;
    double rate = elapsed > 0 ? mb / elapsed : 0;
    int len = snprintf(buf, n, "%zu/%zu files  %.1f MB  %.1f MB/s", files_done, files_total, mb, rate);
    if (len < 0 || (size_t)len >= n)
        return;
    if (rate > 0 && bytes_total > bytes_done && elapsed >= 1) {
        long eta = (long)((bytes_total - bytes_done) / 1e6 / rate + 0.5);
        snprintf(buf + len, n - (size_t)len, "  ETA %ld:%02ld", eta / 60, eta % 60);
    }
}

static void draw(jl_progress *p, int final)
{
    size_t fd, ft;
    uint64_t bd, bt;
    p->probe(p->ctx, &fd, &ft, &bd, &bt);
    char line[160];
    jl_progress_format(line, sizeof line, fd, ft, bd, bt, jl_now() - p->t0);
    size_t len = strlen(line);
    /* pad over the previous, longer line */
    fprintf(stderr, "\r%s%*s%s", line, p->last_len > len ? (int)(p->last_len - len) : 0, "", final ? "\n" : "");
    fflush(stderr);
    p->last_len = len;
}

static void *run(void *arg)
{
    jl_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (!p->stop)
            draw(p, 0);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void jl_progress_message(jl_progress *p, const char *text)
{
    if (!p) {
        fprintf(stderr, "%s\n", text);
        return;
    }
    pthread_mutex_lock(&p->mu);
    /* \r and erase-line: the message takes the progress line's place */
    fprintf(stderr, "\r\033[K%s\n", text);
    fflush(stderr);
    p->last_len = 0;
    pthread_mutex_unlock(&p->mu);
}

jl_progress *jl_progress_start(jl_progress_probe probe, void *ctx)
{
    jl_progress *p = jl_calloc(1, sizeof *p);
    p->probe = probe;
    p->ctx = ctx;
    p->t0 = jl_now();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->tid, NULL, run, p)) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    p->running = 1;
    return p;
}

void jl_progress_stop(jl_progress *p)
{
    if (!p)
        return;
    if (p->running && !p->held) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->tid, NULL);
    }
    draw(p, 1);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void jl_progress_hold(jl_progress *p)
{
    if (!p || p->held)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->tid, NULL);
    p->stop = 0;
    p->held = 1;
}

void jl_progress_release(jl_progress *p)
{
    if (!p || !p->held)
        return;
    p->held = 0;
    /* if no thread can be started, the line just stops moving until the
     * final state is drawn */
    p->running = !pthread_create(&p->tid, NULL, run, p);
}
