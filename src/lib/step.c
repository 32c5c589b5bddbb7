/* step.c — stepping nodes: when a node is ready, one plugin call on it
 * (a source filling a chunk, a filter or sink consuming a slice of its
 * input, a finish), and handing full chunks downstream. Called with the
 * run's lock held; the plugin call itself runs unlocked. */
#include "config.h"

#include "sched_shared.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int jl_node_ready(const jl_nrt *n)
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

void jl_node_make_ready(run *r, jl_nrt *n)
{
    if (!jl_node_ready(n))
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
    __atomic_add_fetch(&r->readied, 1, __ATOMIC_RELEASE);
    if (++r->n_ready >= 2)
        pthread_cond_signal(&r->cv);
}

/* Recheck a node and its neighbours after it changed. */
static void wake_around(run *r, jl_nrt *n)
{
    jl_node_make_ready(r, n);
    for (uint32_t i = 0; i < n->d->n_inputs; i++) {
        const jl_edge *e = &n->def->in[i];
        if (e->node != JL_NO_NODE)
            jl_node_make_ready(r, &n->job->nodes[e->node]);
    }
    for (uint32_t p = 0; p < n->d->n_outputs; p++)
        for (size_t c = 0; c < n->out[p].n_cons; c++)
            jl_node_make_ready(r, n->out[p].cons[c]->node);
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
        jl_job_fail(j, n, n->error ? n->error : "failed (the plugin gave no reason)");
    else if (rc != JOULE_OK)
        jl_job_fail(j, n, "returned a status its call may not return");
    else if (out->n_rows != in.n_rows) {
        why = jl_printf("declared its output in place but wrote %u rows for %u", out->n_rows, in.n_rows);
        jl_job_fail(j, n, why);
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
        jl_job_fail(j, n, why);
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
void jl_node_step(run *r, jl_nrt *n)
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
            jl_job_fail(j, n, "out of memory for a chunk");
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
            jl_job_fail(j, n, "its declared output bound leaves no room for a single input row");
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
        jl_job_fail(j, n, n->error ? n->error : "failed (the plugin gave no reason)");
    } else if (rc > JOULE_MORE || (rc == JOULE_MORE && action != A_INPUT && action != A_MORE) ||
               (rc == JOULE_END && action != A_SOURCE && action != A_FINISH)) {
        jl_job_fail(j, n, "returned a status its call may not return");
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
            jl_job_fail(j, n, why);
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
        jl_job_fail(j, NULL, "interrupted");
    }
    if (!j->failed && (r->timeout > 0 || jl_watching)) {
        int over = r->timeout > 0 && jl_now() - j->t_start > r->timeout;
        if (over || (jl_watching && __atomic_load_n(&jl_watching->slots[j->slot].timed_out, __ATOMIC_RELAXED))) {
            char *why = jl_printf("timed out after %.3g s (the limit for one input)", r->timeout);
            jl_job_fail(j, NULL, why);
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
