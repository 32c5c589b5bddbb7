/* sched_shared.h — what the scheduler's modules share (internal to libjoule):
 * the run, its jobs and their nodes, and the calls between
 *   scheduler.c  the run: threads, the work loop, joule_run;
 *   job.c        a job's life: plan, open, commit, close, host services;
 *   step.c       stepping nodes: readiness, plugin calls, output chunks.
 * The locking rules and the argument for why runs cannot deadlock are at
 * the top of scheduler.c. */
#ifndef JOULE_SCHED_SHARED_H
#define JOULE_SCHED_SHARED_H

#include "graph.h"
#include "job_cache.h"
#include "outputs.h"
#include "pool.h"
#include "progress.h"
#include "queue.h"
#include "report.h"
#include "tables.h"
#include "scheduler.h"
#include "util.h"
#include "watch.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>

#define QUEUE_CAP 4

/* Calls in a row that consume nothing and emit nothing (a source giving no
 * rows, JOULE_MORE or finish's JOULE_OK with no row) before a node is
 * taken to be stuck: far more than any honest plugin needs. */
#define STALL_LIMIT 1000

typedef struct jl_inport jl_inport;
typedef struct jl_nrt jl_nrt;
typedef struct jl_job jl_job;
typedef struct run run;

struct jl_inport {
    jl_nrt *node;
    jl_queue q;
    uint32_t offset; /* rows of the head chunk already consumed */
    int connected;
    int ended;       /* the producer has finished: nothing after the queue */
};

typedef struct jl_outport {
    uint32_t rows_cap;  /* rows per chunk                        */
    uint32_t num, den;  /* output bound per input row            */
    jl_chunk *fill;     /* the chunk being written               */
    uint64_t next_row;  /* rows emitted so far                   */
    double last_time;   /* events: the last time emitted         */
    size_t n_cons;
    jl_inport **cons;
} jl_outport;

/* A node's phases: running; finishing (all input seen, finish being
 * called); flushing (finish said END, its last chunks wait for room
 * downstream); done. */
enum { PH_RUN, PH_FINISH, PH_FLUSH, PH_DONE };



struct jl_nrt {
    jl_job *job;
    size_t index;
    const jl_node *def;
    const joule_descriptor *d;
    void *self;
    int opened;
    joule_host host;
    joule_open_args args;
    joule_value *values;
    char **paths;         /* expanded output paths, per parameter */
    joule_format *in_fmts;
    joule_format *out_fmts;
    jl_inport *in;
    jl_outport *out;
    joule_buffer *obuf;
    int phase;
    int busy, queued;
    int more;             /* process returned JOULE_MORE            */
    uint32_t more_port;
    uint32_t rr;          /* next input port to look at             */
    unsigned stall;       /* calls in a row that did nothing        */
    char *error;
    jl_node_stats st;
    jl_nrt *ready_next;
};

enum { J_PENDING, J_OPEN, J_DEFERRED, J_WAITING, J_RUNNING, J_FINALIZE, J_DONE };

/* The longest a job waits for another to finish computing an entry it
 * needs (single flight) before computing it too. */
#define DEFER_MAX_S 30.0

struct jl_job {
    run *run;
    size_t index;
    size_t slot;          /* the input's index in the whole run     */
    double t_start;       /* when it was opened                     */
    double wall;          /* s from opening to outputs in place     */
    double duration;      /* s of signal its source read; < 0: none */
    int cancelled;        /* failed because the run was interrupted */
    const char *input;
    char *shown;          /* the input's name as messages show it   */
    int verbose;
    uint64_t size;        /* the input file's bytes, for progress */
    jl_nrt *nodes;
    size_t n;
    int state;
    int failed;
    char *error;          /* the first failure                      */
    size_t quota;
    int reserved;
    size_t busy;          /* nodes in a step                        */
    size_t done;          /* nodes finished                         */
    jl_job *next;         /* waiting / finalize lists               */
    jl_outfile *outs;     /* files made through host->open_output   */
    size_t n_outs;
    struct stat in_st;    /* the input before it was opened         */
    int in_st_ok;
    int *plan;            /* per node: JL_PLAN_* (cache_plan.h)     */
    int reads_input;      /* a source of it runs (not all replayed) */
    double deferred_since; /* first tried to open (jl_now), or 0    */
    jl_job_cache *jc;     /* its cache entries; NULL: none          */
};

struct run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const joule_graph *g;
    const joule_run_options *opt;
    const char *out_dir;
    size_t chunk_rows;
    jl_pool *pool;
    jl_job *jobs;
    size_t n_jobs, next_open, active, max_active;
    size_t finished, failed;
    jl_nrt *ready_head, *ready_tail;
    size_t n_ready;
    unsigned long readied; /* nodes made ready so far: read without the
                              lock (atomically) by an idle worker that
                              spins a moment before it sleeps           */
    int threads;
    jl_job *waiting;      /* opened, waiting for their quota */
    jl_job *finalize;     /* to commit or tear down          */
    jl_job *deferred;     /* waiting for another's entries   */
    size_t retry_deferred; /* a job ended: tries left, one each */
    double deferred_at;   /* when the last was deferred      */
    int stopping;
    pthread_mutex_t err_mu;
    uint64_t bytes_read;
    jl_progress *progress; /* the progress line, when shown */
    double timeout;        /* per input, s; 0 = none           */
    jl_cache_run *cache;   /* the stage cache; NULL: off       */
    const jl_tables *tables; /* gathered tables; NULL: none     */
};

/* Say which plugin call this thread is in: a crash handler (supervisor.c)
 * and the supervisor's timeout read it. */
static inline void call_enter(const jl_nrt *n, int call)
{
    const jl_job *j = n->job;
    jl_cur.slot = (int)j->slot;
    jl_cur.node = (int)n->index;
    jl_cur.call = call;
    if (jl_watching) {
        jl_call_rec *c = &jl_watching->calls[j->slot * jl_watching->n_nodes + n->index];
        double now = jl_now();
        __atomic_store(&c->since, &now, __ATOMIC_RELAXED);
        __atomic_store_n(&c->call, call, __ATOMIC_RELEASE);
    }
}

static inline void call_leave(const jl_nrt *n)
{
    jl_cur.call = JL_CALL_NONE;
    if (jl_watching)
        __atomic_store_n(&jl_watching->calls[n->job->slot * jl_watching->n_nodes + n->index].call, JL_CALL_NONE,
                         __ATOMIC_RELEASE);
}

static inline void slot_state(const jl_job *j, int state)
{
    if (jl_watching)
        __atomic_store_n(&jl_watching->slots[j->slot].state, state, __ATOMIC_RELEASE);
}

/* job.c */
int jl_job_open(run *r, jl_job *j);
void jl_job_close(run *r, jl_job *j);
int jl_job_start(run *r, jl_job *j);
void jl_job_merge_stats(joule_report *rep, jl_job *j);
void jl_job_fail(jl_job *j, jl_nrt *n, const char *text);
void jl_report_error(run *r, const char *msg);

/* step.c */
int jl_node_ready(const jl_nrt *n);
void jl_node_make_ready(run *r, jl_nrt *n);
void jl_node_step(run *r, jl_nrt *n);

#endif
