/* scheduler.c — running a graph over input files: jobs, nodes, threads.
 *
 * Each input file is a job: one instance of every node, connected by
 * bounded queues of chunk references. A pool of worker threads runs
 * "steps": one plugin call on one node (a source filling a chunk, a filter
 * or sink consuming a slice of its input, a finish). A node is run by one
 * thread at a time; different nodes of a job run in parallel (a pipeline),
 * and so do different jobs. All bookkeeping — queues, readiness, job states
 * — is under one mutex, held only between plugin calls; the cost per chunk
 * is a few queue operations, the plugin call itself runs unlocked.
 *
 * Why the pool and the queues cannot deadlock
 * -------------------------------------------
 * Chunk memory is held in exactly three places: a node's "fill" chunk (the
 * output chunk it is writing, one per output port), the queues (each queue
 * holds at most `queue_cap` chunks), and nowhere else — plugins copy what
 * they keep. A chunk fanned out to several consumers is shared, and a
 * port's live chunks are the union of its consumers' queues, which all hold
 * a suffix of the same sequence: so a port never holds more than
 * queue_cap + 1 blocks. A job's quota, the sum of (queue_cap + 1) blocks
 * over its output ports, is thus the most it can ever hold, and a job starts
 * only once the pool has reserved its quota (a job alone may exceed the
 * budget: it runs alone). Jobs never compete for blocks.
 *
 * Within a job: a node is ready when every queue it feeds has room and it
 * has something to do (input waiting, a source not exhausted, all inputs
 * ended so it can finish). Take, among the unfinished nodes of a job that
 * have input waiting, the last in topological order: none of its consumers
 * has input waiting, so every queue it feeds is empty, and it is ready —
 * its block is within the quota. If no node has input waiting, every queue
 * is empty, so a source that is not exhausted is ready, or else the first
 * unfinished node in topological order has all its inputs ended and can
 * finish. So some node of every unfinished job is always ready: progress is
 * guaranteed for fan-out (a chunk waits for its slowest consumer, and the
 * producer waits with it), slow sinks (their producers wait; nothing else
 * does), many jobs (quotas), and nodes with several inputs (a node takes
 * whichever input has rows, in any order — the plugin contract says its
 * output does not depend on that order — so one starved input never blocks
 * another). The tests in tests/check_scheduler.c run these shapes.
 */
#include "config.h"

#include "cache_plan.h"
#include "graph.h"
#include "job_cache.h"
#include "locks.h"
#include "outputs.h"
#include "param.h"
#include "pathtpl.h"
#include "pool.h"
#include "progress.h"
#include "queue.h"
#include "report.h"
#include "scheduler.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUEUE_CAP 4

/* Calls in a row that consume nothing and emit nothing (a source giving no
 * rows, JOULE_MORE or finish's JOULE_OK with no row) before a node is
 * taken to be stuck: far more than any honest plugin needs. */
#define STALL_LIMIT 1000

/* Set from a signal handler: a lock-free atomic, read by every worker. */
static sig_atomic_t interrupted;

void joule_interrupt(void)
{
    __atomic_store_n(&interrupted, 1, __ATOMIC_RELAXED);
}

static int is_interrupted(void)
{
    return __atomic_load_n(&interrupted, __ATOMIC_RELAXED);
}

int jl_interrupted(void)
{
    return is_interrupted();
}

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

/* What a node the cache plan skips is: no ports, never opened. */
static const joule_descriptor skipped_desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "skipped",
    .version = "",
    .summary = "a node nothing needed in this job",
    .role = JOULE_ROLE_FILTER,
};

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

enum { J_PENDING, J_OPEN, J_WAITING, J_RUNNING, J_FINALIZE, J_DONE };

struct jl_job {
    run *run;
    size_t index;
    size_t slot;          /* the input's index in the whole run     */
    double t_start;       /* when it was opened                     */
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
    jl_job *waiting;      /* opened, waiting for their quota */
    jl_job *finalize;     /* to commit or tear down          */
    int stopping;
    pthread_mutex_t err_mu;
    uint64_t bytes_read;
    jl_progress *progress; /* the progress line, when shown */
    double timeout;        /* per input, s; 0 = none           */
    jl_cache_run *cache;   /* the stage cache; NULL: off       */
};

/* ------------------------------------------------------------------------ */
/* Plugin calls                                                              */

__thread jl_cur_call jl_cur = {-1, -1, JL_CALL_NONE};
jl_watch *jl_watching;

const char *jl_call_name(int call)
{
    static const char *const names[] = {"", "open", "process", "finish", "commit", "close"};
    return call > 0 && call <= JL_CALL_CLOSE ? names[call] : "a call";
}

/* Say which plugin call this thread is in: a crash handler (supervisor.c)
 * and the supervisor's timeout read it. */
static void call_enter(const jl_nrt *n, int call)
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

static void call_leave(const jl_nrt *n)
{
    jl_cur.call = JL_CALL_NONE;
    if (jl_watching)
        __atomic_store_n(&jl_watching->calls[n->job->slot * jl_watching->n_nodes + n->index].call, JL_CALL_NONE,
                         __ATOMIC_RELEASE);
}

static void slot_state(const jl_job *j, int state)
{
    if (jl_watching)
        __atomic_store_n(&jl_watching->slots[j->slot].state, state, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------------ */
/* Host services                                                             */

static void host_log(const joule_host *h, int level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    jl_nrt *n = h->host_data;
    if (level > JOULE_LOG_WARN && !n->job->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = jl_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "joule: %s: node '%s': %s: %s\n", n->job->shown, n->def->name,
            names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
    free(msg);
}

static void host_error(const joule_host *h, const char *fmt, ...)
{
    jl_nrt *n = h->host_data;
    va_list ap;
    va_start(ap, fmt);
    char *msg = jl_vprintf(fmt, ap);
    va_end(ap);
    free(n->error);
    n->error = msg;
}

/* A sink's file: only a path the host expanded for one of the node's
 * output-path parameters, checked before the run (see outputs.h). */
static int host_open_output(const joule_host *h, const char *path)
{
    jl_nrt *n = h->host_data;
    jl_job *j = n->job;
    int ours = 0;
    for (uint32_t k = 0; k < n->d->n_params && !ours; k++)
        ours = n->paths[k] && path && !strcmp(n->paths[k], path);
    if (!ours) {
        char *p = path ? jl_escape(path) : jl_strdup("(null)");
        host_error(h, "asked to write %s, which is not one of its output-path parameters: refused", p);
        free(p);
        return -1;
    }
    jl_outfile o = {jl_strdup(path), NULL, 0};
    int fd;
    if (!strcmp(path, "-")) {
        o.to_stdout = 1;
        fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            host_error(h, "standard output: %s", strerror(errno));
    } else {
        char *msg = NULL;
        fd = jl_tmp_create(path, &o.tmp, &msg);
        if (fd < 0)
            host_error(h, "%s", msg);
        free(msg);
    }
    if (fd < 0) {
        free(o.path);
        return -1;
    }
    run *r = j->run;
    pthread_mutex_lock(&r->mu);
    j->outs = jl_realloc(j->outs, (j->n_outs + 1) * sizeof *j->outs);
    j->outs[j->n_outs++] = o;
    pthread_mutex_unlock(&r->mu);
    return fd;
}

static void host_lock(const joule_host *h, const char *name)
{
    (void)h;
    jl_named_lock(name);
}

static void host_unlock(const joule_host *h, const char *name)
{
    (void)h;
    jl_named_unlock(name);
}

/* ------------------------------------------------------------------------ */
/* Failure                                                                   */

/* Record the first failure of a job. Lock held. */
static void job_fail(jl_job *j, jl_nrt *n, const char *text)
{
    if (j->failed)
        return;
    j->failed = 1;
    /* a plugin's message may quote a file name or data: one line, always */
    char *what = jl_escape(text);
    if (n)
        j->error = jl_printf("%s: node '%s' (%s %s): %s", j->shown, n->def->name, n->d->name, n->d->version,
                             what);
    else
        j->error = jl_printf("%s: %s", j->shown, what);
    free(what);
}

static void report_error(run *r, const char *msg)
{
    pthread_mutex_lock(&r->err_mu);
    if (r->opt && r->opt->on_error) {
        r->opt->on_error(r->opt->user, msg);
    } else {
        char *line = jl_printf("joule: %s", msg);
        jl_progress_message(r->progress, line);
        free(line);
    }
    pthread_mutex_unlock(&r->err_mu);
}

/* ------------------------------------------------------------------------ */
/* Readiness                                                                 */

static int has_input(const jl_nrt *n)
{
    for (uint32_t i = 0; i < n->d->n_inputs; i++)
        if (!jl_queue_empty(&n->in[i].q))
            return 1;
    return 0;
}

static int inputs_ended(const jl_nrt *n)
{
    for (uint32_t i = 0; i < n->d->n_inputs; i++)
        if (n->in[i].connected && (!n->in[i].ended || !jl_queue_empty(&n->in[i].q)))
            return 0;
    return 1;
}

static int port_has_room(const jl_nrt *n, uint32_t p)
{
    for (size_t c = 0; c < n->out[p].n_cons; c++)
        if (jl_queue_full(&n->out[p].cons[c]->q))
            return 0;
    return 1;
}

static int outputs_have_room(const jl_nrt *n)
{
    for (uint32_t p = 0; p < n->d->n_outputs; p++)
        for (size_t c = 0; c < n->out[p].n_cons; c++)
            if (jl_queue_full(&n->out[p].cons[c]->q))
                return 0;
    return 1;
}

static int is_ready(const jl_nrt *n)
{
    if (n->busy || n->queued || n->phase == PH_DONE || n->job->state != J_RUNNING || n->job->failed)
        return 0;
    if (!outputs_have_room(n))
        return 0;
    if (n->more || n->phase == PH_FINISH || n->phase == PH_FLUSH)
        return 1;
    if (n->d->role == JOULE_ROLE_SOURCE)
        return 1;
    return has_input(n) || inputs_ended(n);
}

static void make_ready(run *r, jl_nrt *n)
{
    if (!is_ready(n))
        return;
    n->queued = 1;
    n->ready_next = NULL;
    if (r->ready_tail)
        r->ready_tail->ready_next = n;
    else
        r->ready_head = n;
    r->ready_tail = n;
    /* The caller is a worker that goes back to the ready list as soon as
     * it lets go of the lock, and takes the first node itself: wake another
     * thread only for the second. Waking one per node would make two
     * threads trade every chunk of a pipeline, each handoff a sleep and a
     * wake-up. */
    if (++r->n_ready >= 2)
        pthread_cond_signal(&r->cv);
}

/* Recheck a node and its neighbours after it changed. */
static void wake_around(run *r, jl_nrt *n)
{
    make_ready(r, n);
    for (uint32_t i = 0; i < n->d->n_inputs; i++) {
        const jl_edge *e = &n->def->in[i];
        if (e->node != JL_NO_NODE)
            make_ready(r, &n->job->nodes[e->node]);
    }
    for (uint32_t p = 0; p < n->d->n_outputs; p++)
        for (size_t c = 0; c < n->out[p].n_cons; c++)
            make_ready(r, n->out[p].cons[c]->node);
}

/* ------------------------------------------------------------------------ */
/* Output chunks                                                             */

/* Hand the fill chunk of port p to its consumers. Lock held; the caller has
 * made sure every consumer queue has room. */
static void push_fill(run *r, jl_nrt *n, uint32_t p)
{
    jl_outport *o = &n->out[p];
    jl_chunk *c = o->fill;
    if (!c)
        return;
    o->fill = NULL;
    if (c->buf.n_rows) {
        for (size_t i = 0; i < o->n_cons; i++) {
            if (jl_queue_push(&o->cons[i]->q, c)) {
                /* every caller checks for room first: rows are never
                 * dropped, and a broken promise is not silent */
                fprintf(stderr, "joule: internal error: a queue overflowed\n");
                abort();
            }
            jl_nrt *cn = o->cons[i]->node;
            if (o->cons[i]->q.len > cn->st.queue_high_water)
                cn->st.queue_high_water = o->cons[i]->q.len;
        }
    }
    jl_chunk_unref(r->pool, c);
}

/* Make sure port p has a fill chunk with room for `need` rows. Lock held. */
static int ensure_room(run *r, jl_nrt *n, uint32_t p, uint32_t need)
{
    jl_outport *o = &n->out[p];
    if (o->fill && o->fill->buf.capacity - o->fill->buf.n_rows < need)
        push_fill(r, n, p);
    if (!o->fill) {
        const joule_format *f = &n->out_fmts[p];
        o->fill = jl_pool_get(r->pool, o->rows_cap, f->n_columns, f->kind);
        if (!o->fill)
            return -1;
        o->fill->buf.first_row = o->next_row;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One step                                                                  */

enum { A_SOURCE, A_INPUT, A_MORE, A_FINISH };

/* `n_in`: the input rows of the call, when the declared bound applies. */
static int check_output(jl_nrt *n, uint32_t p, const joule_buffer *b, int bounded, uint32_t n_in, char **why)
{
    if (b->n_rows > b->capacity) {
        const jl_outport *o = &n->out[p];
        *why = bounded ? jl_printf("wrote %u rows to output '%s' for %u input rows, declared at most %u (out_num/"
                                   "out_den = %u/%u): the declared bound is too small",
                                   b->n_rows, n->d->outputs[p].name, n_in, b->capacity, o->num, o->den)
                       : jl_printf("wrote %u rows to output '%s', which had room for %u", b->n_rows,
                                   n->d->outputs[p].name, b->capacity);
        return -1;
    }
    if (b->times) {
        double last = n->out[p].last_time;
        for (uint32_t i = 0; i < b->n_rows; i++) {
            if (!(b->times[i] >= last)) {
                *why = jl_printf("emitted an event at %.9g s after one at %.9g s on output '%s': event times "
                                 "must not decrease",
                                 b->times[i], last, n->d->outputs[p].name);
                return -1;
            }
            last = b->times[i];
        }
        n->out[p].last_time = last;
    }
    return 0;
}

static void after_step(run *r, jl_nrt *n);

/* In place: a plugin of one input and one output that maps each row to one
 * row (JOULE_FORMAT_IN_PLACE) works on the input chunk itself when nothing
 * else holds it, and the chunk goes on downstream as it is — no block
 * taken, no copy. The quota argument holds: the chunk leaves the
 * producer's queue as it enters this node's consumers' queues. */
static int in_place_ok(const jl_nrt *n, const jl_inport *ip, const jl_chunk *head)
{
    const jl_outport *o = &n->out[0];
    return n->d->n_inputs == 1 && n->d->n_outputs == 1 && (n->out_fmts[0].flags & JOULE_FORMAT_IN_PLACE) &&
           ip->offset == 0 && (!o->fill || o->fill->buf.n_rows == 0) && head->kind == n->out_fmts[0].kind &&
           head->buf.n_columns == n->out_fmts[0].n_columns && __atomic_load_n(&head->refs, __ATOMIC_ACQUIRE) == 1;
}

static void step_in_place(run *r, jl_nrt *n, jl_inport *ip, jl_chunk *head)
{
    jl_job *j = n->job;
    joule_buffer in = head->buf;
    in.capacity = in.n_rows;
    joule_buffer *out = &n->obuf[0];
    *out = head->buf;
    out->first_row = n->out[0].next_row;
    out->n_rows = 0;
    out->capacity = in.n_rows;
    j->busy++;
    pthread_mutex_unlock(&r->mu);
    double t0 = jl_now();
    call_enter(n, JL_CALL_PROCESS);
    int rc = n->d->process(n->self, 0, &in, out);
    call_leave(n);
    double dt = jl_now() - t0;
    if (j->jc && rc == JOULE_OK && out->n_rows == in.n_rows)
        jl_job_cache_rows(j->jc, n->index, 0, out);
    pthread_mutex_lock(&r->mu);
    j->busy--;
    n->st.busy += dt;
    n->st.calls++;
    jl_stats_latency(&n->st, dt);
    n->st.rows_in += in.n_rows;
    char *why = NULL;
    if (rc < 0)
        job_fail(j, n, n->error ? n->error : "failed (the plugin gave no reason)");
    else if (rc != JOULE_OK)
        job_fail(j, n, "returned a status its call may not return");
    else if (out->n_rows != in.n_rows) {
        why = jl_printf("declared its output in place but wrote %u rows for %u", out->n_rows, in.n_rows);
        job_fail(j, n, why);
        free(why);
    } else if (!check_output(n, 0, out, 0, in.n_rows, &why)) {
        jl_chunk *c = jl_queue_pop(&ip->q);
        c->buf.first_row = n->out[0].next_row;
        n->out[0].next_row += c->buf.n_rows;
        n->st.rows_out += c->buf.n_rows;
        /* hand it on as this node's output */
        jl_outport *o = &n->out[0];
        for (size_t i = 0; i < o->n_cons; i++) {
            jl_queue_push(&o->cons[i]->q, c);
            jl_nrt *cn = o->cons[i]->node;
            if (o->cons[i]->q.len > cn->st.queue_high_water)
                cn->st.queue_high_water = o->cons[i]->q.len;
        }
        jl_chunk_unref(r->pool, c);
    } else {
        job_fail(j, n, why);
        free(why);
    }
    after_step(r, n);
}

/* The node has said its last word: hand on its last chunks, each as soon as
 * its consumers have room, and only then tell them the stream has ended.
 * Lock held. */
static void flush(run *r, jl_nrt *n)
{
    int pending = 0;
    for (uint32_t p = 0; p < n->d->n_outputs; p++) {
        jl_outport *o = &n->out[p];
        if (o->fill && o->fill->buf.n_rows && !port_has_room(n, p)) {
            pending = 1;
            continue;
        }
        push_fill(r, n, p);
    }
    if (pending)
        return;
    for (uint32_t p = 0; p < n->d->n_outputs; p++)
        for (size_t c = 0; c < n->out[p].n_cons; c++)
            n->out[p].cons[c]->ended = 1;
    n->phase = PH_DONE;
    n->job->done++;
}

/* Run one step of node n. Called and returns with the lock held. */
static void step(run *r, jl_nrt *n)
{
    jl_job *j = n->job;
    const joule_descriptor *d = n->d;
    if (n->phase == PH_FLUSH) {
        flush(r, n);
        after_step(r, n);
        return;
    }
    int action;
    jl_inport *ip = NULL;
    uint32_t port = 0;
    if (n->more) {
        action = A_MORE;
        port = n->more_port;
        ip = &n->in[port];
    } else if (n->phase == PH_FINISH) {
        action = A_FINISH;
    } else if (d->role == JOULE_ROLE_SOURCE) {
        action = A_SOURCE;
    } else {
        action = A_FINISH;
        for (uint32_t k = 0; k < d->n_inputs; k++) {
            uint32_t i = (n->rr + k) % d->n_inputs;
            if (!jl_queue_empty(&n->in[i].q)) {
                action = A_INPUT;
                port = i;
                ip = &n->in[i];
                n->rr = (i + 1) % d->n_inputs;
                break;
            }
        }
        if (action == A_FINISH)
            n->phase = PH_FINISH;
    }

    jl_chunk *head = action == A_INPUT ? jl_queue_peek(&ip->q) : NULL;
    if (head && in_place_ok(n, ip, head)) {
        step_in_place(r, n, ip, head);
        return;
    }

    /* Output room, and the input slice that fits it. */
    uint32_t take = 0;
    if (head)
        take = head->buf.n_rows - ip->offset;
    for (uint32_t p = 0; p < d->n_outputs; p++) {
        jl_outport *o = &n->out[p];
        uint32_t need = action == A_INPUT ? (o->num + o->den - 1) / o->den : 1;
        if (ensure_room(r, n, p, need)) {
            job_fail(j, n, "out of memory for a chunk");
            after_step(r, n);
            return;
        }
        joule_buffer *b = &n->obuf[p];
        const joule_buffer *fb = &o->fill->buf;
        uint32_t room = fb->capacity - fb->n_rows;
        if (action == A_INPUT && o->num) {
            uint64_t fit = (uint64_t)room * o->den / o->num;
            if (fit < take)
                take = (uint32_t)fit;
        }
        b->first_row = fb->first_row + fb->n_rows;
        b->n_rows = 0;
        b->capacity = room; /* for input, cut to the declared bound below */
        b->n_columns = fb->n_columns;
        b->reserved = 0;
        b->data = fb->data + (size_t)fb->n_rows * fb->n_columns;
        b->times = fb->times ? fb->times + fb->n_rows : NULL;
    }
    if (action == A_INPUT) {
        if (take == 0) {
            job_fail(j, n, "its declared output bound leaves no room for a single input row");
            after_step(r, n);
            return;
        }
        /* Exactly the declared bound, so that a plugin that writes more
         * than it declared is caught here, whatever the chunk's room. */
        for (uint32_t p = 0; p < d->n_outputs; p++) {
            const jl_outport *o = &n->out[p];
            uint64_t bound = ((uint64_t)take * o->num + o->den - 1) / o->den;
            if (bound < n->obuf[p].capacity)
                n->obuf[p].capacity = (uint32_t)bound;
        }
    }
    joule_buffer in;
    memset(&in, 0, sizeof in);
    if (head) {
        in.first_row = head->buf.first_row + ip->offset;
        in.n_rows = in.capacity = take;
        in.n_columns = head->buf.n_columns;
        in.data = head->buf.data + (size_t)ip->offset * head->buf.n_columns;
        in.times = head->buf.times ? head->buf.times + ip->offset : NULL;
    } else if (action == A_MORE) {
        in.n_columns = n->in_fmts[port].n_columns;
        in.first_row = 0;
    }
    j->busy++;
    pthread_mutex_unlock(&r->mu);

    double t0 = jl_now();
    int rc;
    joule_buffer *out = d->n_outputs ? n->obuf : NULL;
    call_enter(n, action == A_FINISH ? JL_CALL_FINISH : JL_CALL_PROCESS);
    if (action == A_SOURCE)
        rc = d->process(n->self, 0, NULL, out);
    else if (action == A_FINISH)
        rc = d->finish ? d->finish(n->self, out) : JOULE_END;
    else
        rc = d->process(n->self, port, &in, out);
    call_leave(n);
    double dt = jl_now() - t0;
    if (j->jc && rc >= 0)
        for (uint32_t p = 0; p < d->n_outputs; p++)
            if (n->obuf[p].n_rows <= n->obuf[p].capacity) /* a lie is caught below */
                jl_job_cache_rows(j->jc, n->index, p, &n->obuf[p]);

    pthread_mutex_lock(&r->mu);
    j->busy--;
    n->st.busy += dt;
    n->st.calls++;
    jl_stats_latency(&n->st, dt);
    n->st.rows_in += in.n_rows;
    char *why = NULL;
    if (rc < 0) {
        job_fail(j, n, n->error ? n->error : "failed (the plugin gave no reason)");
    } else if (rc > JOULE_MORE || (rc == JOULE_MORE && action != A_INPUT && action != A_MORE) ||
               (rc == JOULE_END && action != A_SOURCE && action != A_FINISH)) {
        job_fail(j, n, "returned a status its call may not return");
    } else {
        uint64_t emitted = 0;
        for (uint32_t p = 0; p < d->n_outputs && !why; p++) {
            if (check_output(n, p, &n->obuf[p], action == A_INPUT, take, &why))
                break;
            n->out[p].fill->buf.n_rows += n->obuf[p].n_rows;
            n->out[p].next_row += n->obuf[p].n_rows;
            n->st.rows_out += n->obuf[p].n_rows;
            emitted += n->obuf[p].n_rows;
        }
        /* A call that consumed nothing, emitted nothing and did not end
         * makes no progress; a plugin that only ever does that would spin
         * for ever. */
        int idle = !why && emitted == 0 &&
                   ((action == A_SOURCE && rc == JOULE_OK) || (action == A_MORE && rc == JOULE_MORE) ||
                    (action == A_FINISH && rc == JOULE_OK));
        n->stall = idle ? n->stall + 1 : 0;
        if (!why && n->stall >= STALL_LIMIT)
            why = action == A_SOURCE
                      ? jl_printf("process returned JOULE_OK %u times in a row with no row and no JOULE_END: the "
                                  "source makes no progress",
                                  n->stall)
                  : action == A_MORE
                      ? jl_printf("process returned JOULE_MORE %u times in a row without emitting a row", n->stall)
                      : jl_printf("finish returned JOULE_OK %u times in a row without emitting a row (JOULE_END "
                                  "ends it)",
                                  n->stall);
        if (why) {
            job_fail(j, n, why);
            free(why);
        }
    }
    if (action == A_INPUT) {
        ip->offset += take;
        if (ip->offset >= head->buf.n_rows) {
            jl_chunk_unref(r->pool, jl_queue_pop(&ip->q));
            ip->offset = 0;
        }
    }
    if (!j->failed) {
        n->more = rc == JOULE_MORE;
        if (n->more)
            n->more_port = port;
        if (action == A_SOURCE && rc == JOULE_END)
            n->phase = PH_FINISH;
        if (action == A_SOURCE && jl_watching && n->out_fmts[0].length) {
            double frac = (double)n->out[0].next_row / (double)n->out_fmts[0].length;
            __atomic_store(&jl_watching->slots[j->slot].frac, &frac, __ATOMIC_RELAXED);
        }
        /* A full chunk goes downstream at once when it can. */
        for (uint32_t p = 0; p < d->n_outputs; p++) {
            jl_outport *o = &n->out[p];
            if (o->fill && o->fill->buf.n_rows == o->fill->buf.capacity && port_has_room(n, p))
                push_fill(r, n, p);
        }
        if (action == A_FINISH && rc == JOULE_END) {
            n->phase = PH_FLUSH;
            flush(r, n);
        }
    }
    after_step(r, n);
}

/* Bookkeeping after any step: the node is free again; its job may be over;
 * its neighbours may have become ready. Lock held. */
static void after_step(run *r, jl_nrt *n)
{
    jl_job *j = n->job;
    n->busy = 0;
    if (r->stopping) {
        j->cancelled |= !j->failed;
        job_fail(j, NULL, "interrupted");
    }
    if (!j->failed && (r->timeout > 0 || jl_watching)) {
        int over = r->timeout > 0 && jl_now() - j->t_start > r->timeout;
        if (over || (jl_watching && __atomic_load_n(&jl_watching->slots[j->slot].timed_out, __ATOMIC_RELAXED))) {
            char *why = jl_printf("timed out after %.3g s (the limit for one input)", r->timeout);
            job_fail(j, NULL, why);
            free(why);
        }
    }
    if (j->failed || j->done == j->n) {
        if (j->busy == 0 && j->state == J_RUNNING) {
            j->state = J_FINALIZE;
            j->next = r->finalize;
            r->finalize = j;
            pthread_cond_broadcast(&r->cv);
        }
        return;
    }
    wake_around(r, n);
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                      */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The column names a plugin declared: present, in the ABI's character set
 * ([A-Za-z0-9_.-], so that a CSV header or a JSON key needs no quoting),
 * and unique. NULL, or the reason. */
static char *check_names(const joule_format *f)
{
    for (uint32_t i = 0; i < f->n_columns; i++) {
        const char *c = f->names[i];
        if (!c)
            return jl_printf("declared no name for column %u", i);
        if (!*c)
            return jl_printf("declared an empty name for column %u", i);
        for (const char *q = c; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_' ||
                  *q == '.' || *q == '-')) {
                char *e = jl_escape(c);
                char *m = jl_printf("column %u is named '%s': names are made of A-Z a-z 0-9 _ . -", i, e);
                free(e);
                return m;
            }
        if (f->units && !f->units[i])
            return jl_printf("declared units but none for column %u", i);
    }
    const char **v = jl_malloc(f->n_columns * sizeof *v);
    memcpy(v, f->names, f->n_columns * sizeof *v);
    qsort(v, f->n_columns, sizeof *v, cmp_name);
    char *m = NULL;
    for (uint32_t i = 1; i < f->n_columns && !m; i++)
        if (!strcmp(v[i - 1], v[i]))
            m = jl_printf("declared two columns named '%s'", v[i]);
    free(v);
    return m;
}

/* Instantiate every node of job j. Called without the lock. Returns 0, or
 * -1 with the job failed. */
static int job_open(run *r, jl_job *j)
{
    const joule_graph *g = r->g;
    j->n = g->n;
    /* The input as it is before anything reads it: compared again at the
     * end, so that a file still being written fails instead of giving
     * results for part of it. */
    j->in_st_ok = stat(j->input, &j->in_st) == 0 && S_ISREG(j->in_st.st_mode);
    j->t_start = jl_now();
    if (jl_watching) {
        __atomic_store(&jl_watching->slots[j->slot].started, &j->t_start, __ATOMIC_RELAXED);
        slot_state(j, JL_SLOT_RUNNING);
    }
    /* What each node does with the cache: run, record, replay or skip. */
    j->plan = jl_calloc(g->n ? g->n : 1, sizeof *j->plan);
    j->jc = r->cache ? jl_job_cache_plan(r->cache, j->input, j->size, j->plan) : NULL;
    j->nodes = jl_calloc(g->n, sizeof *j->nodes);
    for (size_t i = 0; i < g->n; i++) {
        jl_nrt *n = &j->nodes[i];
        n->job = j;
        n->index = i;
        n->def = &g->nodes[i];
        n->d = n->def->plugin->desc;
        n->st.name = n->def->name;
        n->st.plugin = (char *)n->d->name;
        n->in = jl_calloc(n->d->n_inputs ? n->d->n_inputs : 1, sizeof *n->in);
        n->out = jl_calloc(n->d->n_outputs ? n->d->n_outputs : 1, sizeof *n->out);
        n->obuf = jl_calloc(n->d->n_outputs ? n->d->n_outputs : 1, sizeof *n->obuf);
        n->in_fmts = jl_calloc(n->d->n_inputs ? n->d->n_inputs : 1, sizeof *n->in_fmts);
        n->out_fmts = jl_calloc(n->d->n_outputs ? n->d->n_outputs : 1, sizeof *n->out_fmts);
        if (j->plan[i] == JL_PLAN_SKIP) {
            /* nothing needs it: never opened, never stepped, no ports */
            n->d = &skipped_desc;
            n->phase = PH_DONE;
            j->done++;
            n->st.skipped = 1;
            continue;
        }
        if (j->plan[i] == JL_PLAN_REPLAY) {
            /* a source reading its entry, with the recorded formats */
            if (jl_job_cache_replay(j->jc, i, n->out_fmts, &n->d, &n->self) == 0) {
                n->opened = 1;
                n->st.replayed = 1;
            } else if (!j->failed) {
                pthread_mutex_lock(&r->mu);
                job_fail(j, n, "its cache entry does not match the plugin's outputs (run with --refresh)");
                pthread_mutex_unlock(&r->mu);
            }
        } else {
            n->st.ran = 1;
            if (n->d->role == JOULE_ROLE_SOURCE)
                j->reads_input = 1;
        }
        for (uint32_t k = 0; k < n->d->n_inputs; k++) {
            n->in[k].node = n;
            n->in[k].connected = n->def->in[k].node != JL_NO_NODE;
            jl_queue_init(&n->in[k].q, QUEUE_CAP);
        }
    }
    if (j->failed)
        return -1;
    /* Consumers of every output port. */
    for (size_t i = 0; i < g->n; i++) {
        jl_nrt *n = &j->nodes[i];
        for (uint32_t k = 0; k < n->d->n_inputs; k++) {
            const jl_edge *e = &n->def->in[k];
            if (e->node == JL_NO_NODE)
                continue;
            jl_outport *o = &j->nodes[e->node].out[e->port];
            o->cons = jl_realloc(o->cons, (o->n_cons + 1) * sizeof *o->cons);
            o->cons[o->n_cons++] = &n->in[k];
        }
    }
    size_t quota = 0;
    for (size_t oi = 0; oi < g->n; oi++) {
        size_t i = g->order[oi];
        jl_nrt *n = &j->nodes[i];
        const joule_descriptor *d = n->d;
        if (j->plan[i] == JL_PLAN_SKIP)
            continue;
        /* Parameter values, with output paths expanded for this input. */
        n->values = jl_malloc((d->n_params ? d->n_params : 1) * sizeof *n->values);
        n->paths = jl_calloc(d->n_params ? d->n_params : 1, sizeof *n->paths);
        for (uint32_t k = 0; k < d->n_params; k++) {
            n->values[k] = n->def->values[k];
            if (d->params[k].flags & JOULE_PARAM_OUT_PATH) {
                n->paths[k] = jl_path_expand(n->def->texts[k], j->input, n->def->name, r->out_dir);
                n->values[k].s = n->paths[k];
            }
        }
        for (uint32_t k = 0; k < d->n_inputs; k++) {
            const jl_edge *e = &n->def->in[k];
            if (e->node != JL_NO_NODE)
                n->in_fmts[k] = j->nodes[e->node].out_fmts[e->port];
        }
        n->host.abi_version = JOULE_ABI_VERSION;
        n->host.struct_size = sizeof n->host;
        n->host.log = host_log;
        n->host.error = host_error;
        n->host.lock = host_lock;
        n->host.unlock = host_unlock;
        n->host.host_data = n;
        n->host.open_output = host_open_output;
        n->args.struct_size = sizeof n->args;
        n->args.host = &n->host;
        n->args.node = n->def->name;
        n->args.input_path = j->input;
        n->args.params = n->values;
        n->args.inputs = n->in_fmts;
        n->args.outputs = n->out_fmts;
        int rc = JOULE_OK;
        if (j->plan[i] != JL_PLAN_REPLAY) {
            call_enter(n, JL_CALL_OPEN);
            rc = d->open(&n->args, &n->self);
            call_leave(n);
            n->opened = 1;
        }
        if (rc != JOULE_OK) {
            pthread_mutex_lock(&r->mu);
            job_fail(j, n, n->error ? n->error : "could not open (the plugin gave no reason)");
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        for (uint32_t p = 0; p < d->n_outputs; p++) {
            joule_format *f = &n->out_fmts[p];
            const char *bad = NULL;
            char *names_bad = NULL;
            if (f->kind != d->outputs[p].kinds)
                bad = "declared a different kind than its port";
            else if (f->n_columns == 0 || f->n_columns > (1u << 20))
                bad = "declared no columns (or more than 2^20)";
            else if (!f->names)
                bad = "declared no column names";
            else if ((names_bad = check_names(f)))
                bad = names_bad;
            else if (f->kind != JOULE_EVENTS && !(f->rate > 0 && isfinite(f->rate)))
                bad = "declared no rate";
            uint64_t most = f->out_den ? ((uint64_t)f->out_num + f->out_den - 1) / f->out_den : 1;
            if (!bad && most > (1u << 24))
                bad = "declares a bound (out_num/out_den) of more than 2^24 rows per input row";
            if (bad) {
                char *msg = jl_printf("output '%s' %s", d->outputs[p].name, bad);
                free(names_bad);
                pthread_mutex_lock(&r->mu);
                job_fail(j, n, msg);
                pthread_mutex_unlock(&r->mu);
                free(msg);
                return -1;
            }
            jl_outport *o = &n->out[p];
            /* 0/0 means 1/1; 0/d means "emits only at finish" */
            o->num = f->out_num || f->out_den ? f->out_num : 1;
            o->den = f->out_den ? f->out_den : 1;
            o->last_time = -INFINITY;
            /* Chunks hold `chunk` rows of two floats' worth of bytes: wider
             * streams get fewer rows, so that a chunk's memory is about the
             * same whatever its columns (a spectrum of 513 bins gets 15 rows
             * of the 4096 a stereo signal gets). */
            uint64_t row_bytes = (uint64_t)f->n_columns * sizeof(float) + (f->kind == JOULE_EVENTS ? 8 : 0);
            uint64_t cap = (uint64_t)r->chunk_rows * 2 * sizeof(float) / row_bytes;
            uint64_t need = (o->num + (uint64_t)o->den - 1) / o->den;
            if (cap < need)
                cap = need;
            if (cap < 1)
                cap = 1;
            if (cap > (1u << 24))
                cap = 1u << 24;
            o->rows_cap = (uint32_t)cap;
            quota += (QUEUE_CAP + 1) * jl_pool_block_bytes(o->rows_cap, f->n_columns, f->kind == JOULE_EVENTS);
        }
        if (j->plan[i] == JL_PLAN_RECORD)
            jl_job_cache_record(j->jc, i, n->out_fmts);
    }
    j->quota = quota;
    return 0;
}

/* Commit (on success) and close every node, release every chunk. Called
 * without the lock, once no node of the job is in a step. */
static void job_close(run *r, jl_job *j)
{
    if (!j->failed && is_interrupted()) {
        j->failed = 1;
        j->cancelled = 1;
        j->error = jl_printf("%s: interrupted", j->shown);
    }
    if (!j->failed && j->in_st_ok) {
        struct stat st;
        char *why = NULL;
        if (stat(j->input, &st))
            why = jl_printf("changed while being read: it was removed (%s)", strerror(errno));
        else if (st.st_dev != j->in_st.st_dev || st.st_ino != j->in_st.st_ino)
            why = jl_strdup("changed while being read: it was replaced by another file");
        else if (st.st_size != j->in_st.st_size || st.st_mtim.tv_sec != j->in_st.st_mtim.tv_sec ||
                 st.st_mtim.tv_nsec != j->in_st.st_mtim.tv_nsec)
            why = jl_printf("changed while being read (%lld bytes when opened, %lld now%s): run again once it is "
                            "complete",
                            (long long)j->in_st.st_size, (long long)st.st_size,
                            st.st_size == j->in_st.st_size ? ", modified" : "");
        if (why) {
            pthread_mutex_lock(&r->mu);
            job_fail(j, NULL, why);
            pthread_mutex_unlock(&r->mu);
            free(why);
        }
    }
    if (!j->failed) {
        for (size_t i = 0; i < j->n; i++) {
            jl_nrt *n = &j->nodes[i];
            int rc = JOULE_OK;
            if (n->d->commit) {
                call_enter(n, JL_CALL_COMMIT);
                rc = n->d->commit(n->self);
                call_leave(n);
            }
            if (rc != JOULE_OK) {
                pthread_mutex_lock(&r->mu);
                job_fail(j, n, n->error ? n->error : "could not commit its output");
                pthread_mutex_unlock(&r->mu);
                break;
            }
        }
    }
    for (size_t i = 0; i < j->n; i++) {
        jl_nrt *n = &j->nodes[i];
        if (n->opened) {
            call_enter(n, JL_CALL_CLOSE);
            n->d->close(n->self);
            call_leave(n);
        }
        for (uint32_t k = 0; k < n->d->n_inputs; k++)
            jl_queue_clear(&n->in[k].q, r->pool);
        for (uint32_t p = 0; p < n->d->n_outputs; p++) {
            jl_chunk_unref(r->pool, n->out[p].fill);
            free(n->out[p].cons);
        }
        if (n->paths)
            for (uint32_t k = 0; k < n->d->n_params; k++)
                free(n->paths[k]);
        free(n->paths);
        free(n->values);
        free(n->in);
        free(n->out);
        free(n->obuf);
        free(n->in_fmts);
        free(n->out_fmts);
        free(n->error);
    }
    /* Every plugin has closed its files: put the job's outputs in place,
     * all of them or none. */
    if (!j->failed && j->n_outs) {
        char *msg = NULL;
        if (jl_outputs_place(j->outs, j->n_outs, &msg)) {
            pthread_mutex_lock(&r->mu);
            job_fail(j, NULL, msg);
            pthread_mutex_unlock(&r->mu);
        }
        free(msg);
    } else {
        jl_outputs_discard(j->outs, j->n_outs);
    }
    jl_outputs_free(j->outs, j->n_outs);
    free(j->outs);
    j->outs = NULL;
    j->n_outs = 0;
    /* Its cache entries: committed only with a job whose outputs are in
     * place, so that a failed or interrupted job leaves none. */
    if (j->jc) {
        double *busy = jl_calloc(j->n ? j->n : 1, sizeof *busy);
        for (size_t i = 0; i < j->n; i++)
            busy[i] = j->nodes[i].st.busy;
        jl_job_cache_end(j->jc, !j->failed, busy);
        free(busy);
        j->jc = NULL;
    }
    free(j->plan);
    j->plan = NULL;
    if (j->reserved)
        jl_pool_unreserve(r->pool, j->quota);
    if (j->failed)
        report_error(r, j->error);
    slot_state(j, !j->failed ? JL_SLOT_OK : j->cancelled ? JL_SLOT_CANCELLED : JL_SLOT_FAILED);
}

/* Start a job whose quota the pool can cover (lock held). */
static int try_start(run *r, jl_job *j)
{
    int alone = 1;
    for (size_t i = 0; i < r->n_jobs; i++)
        if (r->jobs[i].state == J_RUNNING || r->jobs[i].state == J_FINALIZE)
            alone = 0;
    if (jl_pool_reserve(r->pool, j->quota, alone))
        return 0;
    j->reserved = 1;
    j->state = J_RUNNING;
    for (size_t i = 0; i < j->n; i++)
        make_ready(r, &j->nodes[i]);
    return 1;
}

static void merge_stats(joule_report *rep, jl_job *j)
{
    for (size_t i = 0; i < j->n && rep; i++)
        jl_stats_merge(&rep->nodes[i], &j->nodes[i].st);
}

/* The worker loop: every thread, the caller's included, runs it. */
/* After a step of n: if n can go on, take it off the ready list and return
 * it, so that the same thread runs it again. A node's state (a filter's
 * history, a meter's buffers) then stays in one core's cache instead of
 * moving between cores at every chunk; the bounded queues stop a node that
 * runs ahead of its consumers. Lock held. */
static jl_nrt *stay_on(run *r, jl_nrt *n)
{
    if (!n->queued || r->finalize)
        return NULL;
    jl_nrt **pp = &r->ready_head, *prev = NULL;
    while (*pp && *pp != n) {
        prev = *pp;
        pp = &(*pp)->ready_next;
    }
    if (!*pp)
        return NULL;
    *pp = n->ready_next;
    if (r->ready_tail == n)
        r->ready_tail = prev;
    r->n_ready--;
    n->queued = 0;
    return is_ready(n) ? n : NULL;
}

static void work(run *r, joule_report *rep)
{
    jl_nrt *next = NULL;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (is_interrupted() && !r->stopping) {
            r->stopping = 1;
            /* files not yet opened will not be: they count as failed */
            for (; r->next_open < r->n_jobs; r->next_open++) {
                jl_job *j = &r->jobs[r->next_open];
                j->state = J_DONE;
                j->failed = 1;
                r->finished++;
                r->failed++;
            }
            for (size_t i = 0; i < r->n_jobs; i++) {
                jl_job *j = &r->jobs[i];
                if (j->state == J_RUNNING || j->state == J_WAITING) {
                    j->cancelled |= !j->failed;
                    job_fail(j, NULL, "interrupted");
                    if (j->state == J_WAITING) {
                        /* unlink from the waiting list */
                        jl_job **pp = &r->waiting;
                        while (*pp && *pp != j)
                            pp = &(*pp)->next;
                        if (*pp)
                            *pp = j->next;
                    }
                    if (j->busy == 0) {
                        j->state = J_FINALIZE;
                        j->next = r->finalize;
                        r->finalize = j;
                    }
                }
            }
            pthread_cond_broadcast(&r->cv);
        }
        if (r->finalize) {
            next = NULL; /* its job may be the one going */
            jl_job *j = r->finalize;
            r->finalize = j->next;
            if (r->n_ready) /* someone else takes the ready nodes meanwhile */
                pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
            job_close(r, j);
            pthread_mutex_lock(&r->mu);
            merge_stats(rep, j);
            /* A failed job's nodes may still be queued as ready. */
            jl_nrt **pp = &r->ready_head;
            r->ready_tail = NULL;
            while (*pp) {
                if ((*pp)->job == j) {
                    *pp = (*pp)->ready_next;
                    r->n_ready--;
                } else {
                    r->ready_tail = *pp;
                    pp = &(*pp)->ready_next;
                }
            }
            free(j->nodes);
            j->nodes = NULL;
            j->state = J_DONE;
            r->active--;
            r->finished++;
            if (j->reads_input)
                r->bytes_read += j->size;
            if (j->failed)
                r->failed++;
            /* Room for waiting jobs now. */
            while (r->waiting && try_start(r, r->waiting))
                r->waiting = r->waiting->next;
            pthread_cond_broadcast(&r->cv);
            continue;
        }
        if (next && !r->stopping) {
            jl_nrt *n = next;
            n->busy = 1;
            step(r, n);
            next = stay_on(r, n);
            continue;
        }
        next = NULL;
        if (r->ready_head) {
            jl_nrt *n = r->ready_head;
            r->ready_head = n->ready_next;
            if (!r->ready_head)
                r->ready_tail = NULL;
            r->n_ready--;
            n->queued = 0;
            if (!is_ready(n))
                continue;
            n->busy = 1;
            step(r, n);
            next = stay_on(r, n);
            continue;
        }
        if (!r->stopping && r->next_open < r->n_jobs && r->active < r->max_active) {
            jl_job *j = &r->jobs[r->next_open++];
            r->active++;
            j->state = J_OPEN;
            if (r->n_ready)
                pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
            int rc = job_open(r, j);
            pthread_mutex_lock(&r->mu);
            if (r->stopping) {
                j->cancelled |= !j->failed;
                job_fail(j, NULL, "interrupted");
            }
            if (rc || j->failed) {
                j->state = J_FINALIZE;
                j->next = r->finalize;
                r->finalize = j;
            } else if (!try_start(r, j)) {
                j->state = J_WAITING;
                jl_job **pp = &r->waiting;
                while (*pp)
                    pp = &(*pp)->next;
                j->next = NULL;
                *pp = j;
            }
            continue;
        }
        if (r->finished == r->n_jobs)
            break;
        if (is_interrupted() && !r->stopping)
            continue;
        /* Idle. The timeout only lets an interrupt (set from a signal
         * handler, which cannot signal a condition variable) be noticed. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Progress figures: finished files count whole, running ones by the share
 * of their sources' rows read (when the sources know their length). */
static void probe(void *ctx, size_t *files_done, size_t *files_total, uint64_t *bytes_done, uint64_t *bytes_total)
{
    run *r = ctx;
    pthread_mutex_lock(&r->mu);
    *files_done = r->finished;
    *files_total = r->n_jobs;
    uint64_t done = r->bytes_read, total = 0;
    for (size_t i = 0; i < r->n_jobs; i++) {
        jl_job *j = &r->jobs[i];
        total += j->size;
        if (j->state != J_RUNNING || !j->nodes)
            continue;
        double frac = 1, any = 0;
        for (size_t k = 0; k < j->n; k++) {
            jl_nrt *n = &j->nodes[k];
            if (n->d->role != JOULE_ROLE_SOURCE || !n->out_fmts[0].length)
                continue;
            double f = (double)n->out[0].next_row / (double)n->out_fmts[0].length;
            frac = f < frac ? f : frac;
            any = 1;
        }
        if (any)
            done += (uint64_t)(frac * (double)j->size);
    }
    pthread_mutex_unlock(&r->mu);
    *bytes_done = done;
    *bytes_total = total;
}

typedef struct worker_arg {
    run *r;
    joule_report *rep;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    work(a->r, a->rep);
    return NULL;
}

static int mkdirs(const char *dir)
{
    char *p = jl_strdup(dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0777);
            *s = '/';
        }
    int rc = mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* A message before any job runs: through the caller's on_error, else on
 * stderr. */
static void say(const joule_run_options *opt, const char *msg)
{
    if (opt && opt->on_error) {
        opt->on_error(opt->user, msg);
    } else {
        fprintf(stderr, "joule: %s\n", msg);
    }
}

/* An option appended after 0.1: read only when the caller's struct has it. */
#define OPT(o, field, def) \
    ((o) && (o)->struct_size >= offsetof(joule_run_options, field) + sizeof(o)->field ? (o)->field : (def))

int joule_run(const joule_graph *g, const char *const *files, size_t n_files, const joule_run_options *opt,
              joule_report **report)
{
    double t_start = jl_now();
    if (report)
        *report = NULL;
    const char *out_dir = opt && opt->out_dir ? opt->out_dir : ".";
    char *msg = NULL;
    char **dirs = NULL;
    if (jl_outputs_check(g, files, n_files, out_dir, OPT(opt, extra_outputs, NULL), OPT(opt, n_extra_outputs, 0),
                         &msg, &dirs)) {
        say(opt, msg);
        free(msg);
        return JOULE_E_USAGE;
    }
    /* Temporaries of earlier runs that were killed (SIGKILL, a power cut)
     * would stay beside the outputs forever: remove those whose process
     * is gone, in every folder this run writes to. */
    for (char **d = dirs; *d; d++) {
        size_t k = jl_tmp_sweep(*d);
        if (k) {
            char *e = jl_escape(*d);
            fprintf(stderr, "joule: removed %zu temporary file%s left in %s by an interrupted run\n", k,
                    k == 1 ? "" : "s", e);
            free(e);
        }
    }
    if (mkdirs(out_dir)) {
        char *e = jl_escape(out_dir);
        msg = jl_printf("%s: cannot create the output folder: %s", e, strerror(errno));
        say(opt, msg);
        free(msg);
        free(e);
        jl_strv_free(dirs);
        return JOULE_E_IO;
    }
    __atomic_store_n(&interrupted, 0, __ATOMIC_RELAXED);
    int rc = OPT(opt, isolate, 0) ? jl_supervise(g, files, n_files, opt, report, (const char *const *)dirs, t_start)
                                  : jl_run_jobs(g, files, NULL, n_files, opt, report, t_start);
    jl_strv_free(dirs);
    return rc;
}

/* How many jobs may be open at once without running out of descriptors:
 * each holds about one per source and sink (plus a spare), and those in
 * use already are not free. Inputs then wait their turn instead of failing
 * with "Too many open files". */
static size_t fd_room(const joule_graph *g)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
        return (size_t)-1;
    if (rl.rlim_cur < rl.rlim_max) { /* the soft limit may be raised freely */
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
        if (want > rl.rlim_cur) {
            struct rlimit nl = {want, rl.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
                rl.rlim_cur = want;
        }
    }
    size_t in_use = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        while (readdir(d))
            in_use++;
        closedir(d);
    }
    size_t per_job = 1;
    for (size_t i = 0; i < g->n; i++) {
        uint32_t role = g->nodes[i].plugin->desc->role;
        per_job += role == JOULE_ROLE_SOURCE || role == JOULE_ROLE_SINK;
    }
    size_t spare = 4; /* the progress line, a report, FFTW wisdom ... */
    size_t free_fds = rl.rlim_cur > in_use + spare ? (size_t)rl.rlim_cur - in_use - spare : 0;
    return free_fds / per_job > 0 ? free_fds / per_job : 1;
}

/* Run the jobs of `files` in this process (see the top of this file).
 * `slots[i]` is file i's index in the whole run, for a supervisor's
 * bookkeeping (NULL: the identity). */
int jl_run_jobs(const joule_graph *g, const char *const *files, const size_t *slots, size_t n_files,
                const joule_run_options *opt, joule_report **report, double t_start)
{
    if (report)
        *report = NULL;
    run r;
    memset(&r, 0, sizeof r);
    r.g = g;
    r.opt = opt;
    r.out_dir = opt && opt->out_dir ? opt->out_dir : ".";
    r.chunk_rows = opt && opt->chunk_rows ? opt->chunk_rows : g->chunk_rows;
    r.timeout = OPT(opt, timeout, 0.0) > 0 ? OPT(opt, timeout, 0.0) : g->timeout;
    size_t memory = opt && opt->memory ? opt->memory : g->memory;
    int threads = opt && opt->threads ? opt->threads : g->threads;
    if (threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 0 ? (int)nc : 1;
    }
    pthread_mutex_init(&r.err_mu, NULL);
    __atomic_store_n(&interrupted, 0, __ATOMIC_RELAXED);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.pool = jl_pool_new(memory);
    r.jobs = jl_calloc(n_files ? n_files : 1, sizeof *r.jobs);
    r.n_jobs = n_files;
    for (size_t i = 0; i < n_files; i++) {
        r.jobs[i].run = &r;
        r.jobs[i].index = i;
        r.jobs[i].slot = slots ? slots[i] : i;
        r.jobs[i].input = files[i];
        r.jobs[i].shown = jl_escape(files[i]);
        r.jobs[i].verbose = opt && opt->verbose;
        struct stat st;
        if (stat(files[i], &st) == 0)
            r.jobs[i].size = (uint64_t)st.st_size;
    }
    /* As many jobs open as threads, plus one being opened while they run:
     * enough to keep every thread busy when each job is a short pipeline. */
    r.max_active = (size_t)threads + 1;
    size_t fds = fd_room(g);
    if (fds < r.max_active)
        r.max_active = fds;

    joule_report *rep = jl_calloc(1, sizeof *rep);
    rep->n_nodes = g->n;
    rep->nodes = jl_calloc(g->n ? g->n : 1, sizeof *rep->nodes);
    for (size_t i = 0; i < g->n; i++) {
        rep->nodes[i].name = jl_strdup(g->nodes[i].name);
        rep->nodes[i].plugin = jl_strdup(g->nodes[i].plugin->desc->name);
    }

    char *warning = NULL;
    r.cache = jl_cache_run_new(g, opt, &warning);
    if (warning) {
        char *m = jl_printf("warning: %s", warning);
        say(opt, m);
        free(m);
        free(warning);
    }
    r.progress = opt && opt->progress ? jl_progress_start(probe, &r) : NULL;
    /* The calling thread is one of the workers. */
    pthread_t *tids = jl_calloc((size_t)threads, sizeof *tids);
    worker_arg wa = {&r, rep};
    int started = 0;
    int terr = 0;
    for (int i = 1; i < threads; i++) {
        int e = pthread_create(&tids[started], NULL, worker_main, &wa);
        if (e == 0)
            started++;
        else
            terr = e;
    }
    if (started + 1 < threads) {
        char *m = jl_printf("joule: warning: could start only %d of %d threads (%s): going on with fewer",
                            started + 1, threads, strerror(terr));
        jl_progress_message(r.progress, m);
        free(m);
    }
    work(&r, rep);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    jl_progress *prog = r.progress;
    r.progress = NULL;
    jl_progress_stop(prog);

    jl_cache_run_free(r.cache, &rep->cache);
    rep->wall = jl_now() - t_start;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        rep->peak_rss = (size_t)ru.ru_maxrss * 1024;
    rep->pool_high_water = jl_pool_high_water(r.pool);
    rep->pool_allocated = jl_pool_allocated(r.pool);
    rep->pool_budget = memory;
    rep->files_done = r.finished - r.failed;
    rep->files_failed = r.failed;
    rep->bytes_read = r.bytes_read;
    rep->threads = threads;
    rep->chunk_rows = r.chunk_rows;
    for (size_t i = 0; i < n_files; i++) {
        free(r.jobs[i].error);
        free(r.jobs[i].shown);
    }
    free(r.jobs);
    jl_pool_free(r.pool);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    pthread_mutex_destroy(&r.err_mu);
    if (report)
        *report = rep;
    else
        joule_report_free(rep);
    if (is_interrupted())
        return JOULE_E_INTERRUPTED;
    return r.failed ? JOULE_E_INPUT : 0;
}
