/* job.c — a job's life: its plan (what the stage cache serves), opening
 * every node, committing and closing them, placing its outputs; and the
 * services the host offers plugins (log, error, locks, output files). */
#include "config.h"

#include "sched_shared.h"
#include "cache_plan.h"
#include "formats.h"
#include "locks.h"
#include "param.h"
#include "pathtpl.h"
#include "tables.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a node the cache plan skips is: no ports, never opened. */
static const joule_descriptor skipped_desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "skipped",
    .version = "",
    .summary = "a node nothing needed in this job",
    .role = JOULE_ROLE_FILTER,
};

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
    char *raw = jl_vprintf(fmt, ap);
    va_end(ap);
    /* one line whatever the plugin quotes (a name from the data) */
    char *msg = jl_escape(raw);
    free(raw);
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
    uint32_t k = 0;
    for (; k < n->d->n_params && !ours; k++)
        ours = n->paths[k] && path && !strcmp(n->paths[k], path);
    k--;
    if (!ours) {
        char *p = path ? jl_escape(path) : jl_strdup("(null)");
        host_error(h, "asked to write %s, which is not one of its output-path parameters: refused", p);
        free(p);
        return -1;
    }
    jl_outfile o = {jl_strdup(path), NULL, 0, n->index, 0};
    const char *part = jl_tables_part(j->run->tables, n->index, k, j->slot);
    int fd;
    if (part) {
        /* one table for the run: this input's rows go to its part */
        char *msg = NULL;
        fd = jl_part_create(part, path, &msg);
        if (fd < 0)
            host_error(h, "%s", msg);
        else {
            free(o.path);
            o.path = jl_strdup(part);
            o.tmp = jl_strdup(part);
            o.part = 1;
        }
        free(msg);
    } else if (!strcmp(path, "-")) {
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
void jl_job_fail(jl_job *j, jl_nrt *n, const char *text)
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

void jl_report_error(run *r, const char *msg)
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
/* Jobs                                                                      */

/* Instantiate every node of job j. Called without the lock. Returns 0, or
 * -1 with the job failed. */
int jl_job_open(run *r, jl_job *j)
{
    const joule_graph *g = r->g;
    j->n = g->n;
    /* What each node does with the cache: run, record, replay or skip.
     * When another job (of this run or another process) is computing an
     * entry this one would compute too, this one waits for it, unopened
     * and holding no pool memory, and is then served the entry — for at
     * most DEFER_MAX_S, in case that job is stuck. */
    if (!j->deferred_since)
        j->deferred_since = jl_now();
    /* The input as it is before anything reads it, its digest included:
     * compared again at the end, so that a file still being written (or
     * replaced while the plan was made) fails instead of giving results
     * for part of it, or entries for other content. */
    j->in_st_ok = stat(j->input, &j->in_st) == 0 && S_ISREG(j->in_st.st_mode);
    int busy = 0;
    j->plan = jl_calloc(g->n ? g->n : 1, sizeof *j->plan);
    j->jc = r->cache ? jl_job_cache_plan(r->cache, j->input, j->size, j->plan,
                                         jl_now() - j->deferred_since < DEFER_MAX_S, &busy)
                     : NULL;
    if (busy) {
        free(j->plan);
        j->plan = NULL;
        return 1;
    }
    if (r->opt && r->opt->struct_size >= offsetof(joule_run_options, explain) + sizeof r->opt->explain &&
        r->opt->explain)
        for (size_t i = 0; i < g->n; i++) {
            const char *why = jl_job_cache_why(j->jc, i);
            if (!why)
                why = !r->cache ? "runs: the cache is off"
                                : "runs: this input is not cached (not a regular file, or nothing in the graph "
                                  "is cacheable)";
            char *m = jl_printf("explain: %s: node '%s' (%s): %s", j->shown, g->nodes[i].name,
                                g->nodes[i].plugin->desc->name, why);
            jl_report_error(r, m);
            free(m);
        }
    j->t_start = jl_now();
    if (jl_watching) {
        __atomic_store(&jl_watching->slots[j->slot].started, &j->t_start, __ATOMIC_RELAXED);
        slot_state(j, JL_SLOT_RUNNING);
    }
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
        if (j->plan[i] == JL_PLAN_SKIP || j->plan[i] == JL_PLAN_CURRENT) {
            /* nothing needs it, or a sink whose files are current: never
             * opened, never stepped, no ports */
            n->d = &skipped_desc;
            n->phase = PH_DONE;
            j->done++;
            if (j->plan[i] == JL_PLAN_CURRENT)
                n->st.current = 1;
            else
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
                jl_job_fail(j, n, "its cache entry does not match the plugin's outputs (run with --refresh)");
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
        if (j->plan[i] == JL_PLAN_SKIP || j->plan[i] == JL_PLAN_CURRENT)
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
        if (j->plan[i] == JL_PLAN_REPLAY)
            jl_job_cache_replay_host(n->self, &n->host);
        n->args.struct_size = sizeof n->args;
        n->args.host = &n->host;
        n->args.node = n->def->name;
        n->args.input_path = j->input;
        n->args.params = n->values;
        n->args.inputs = n->in_fmts;
        n->args.outputs = n->out_fmts;
        n->args.descriptor = d;
        int rc = JOULE_OK;
        if (j->plan[i] != JL_PLAN_REPLAY) {
            call_enter(n, JL_CALL_OPEN);
            rc = d->open(&n->args, &n->self);
            call_leave(n);
            n->opened = 1;
        }
        if (rc != JOULE_OK) {
            pthread_mutex_lock(&r->mu);
            jl_job_fail(j, n, n->error ? n->error : "could not open (the plugin gave no reason)");
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        for (uint32_t p = 0; p < d->n_outputs; p++) {
            joule_format *f = &n->out_fmts[p];
            char *bad = jl_check_out_format(d, p, f);
            if (bad) {
                pthread_mutex_lock(&r->mu);
                jl_job_fail(j, n, bad);
                pthread_mutex_unlock(&r->mu);
                free(bad);
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
void jl_job_close(run *r, jl_job *j)
{
    if (!j->failed && jl_interrupted()) {
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
            jl_job_fail(j, NULL, why);
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
                jl_job_fail(j, n, n->error ? n->error : "could not commit its output");
                pthread_mutex_unlock(&r->mu);
                break;
            }
        }
    }
    /* The signal's length, for the report's real-time factor: what the
     * first source that ran (or was replayed) gave on its first port. */
    j->duration = -1;
    for (size_t i = 0; i < j->n && j->duration < 0; i++) {
        const jl_nrt *n = &j->nodes[i];
        if (n->d->role == JOULE_ROLE_SOURCE && n->d->n_outputs && n->out_fmts[0].kind == JOULE_SIGNAL &&
            n->out_fmts[0].rate > 0)
            j->duration = (double)n->out[0].next_row / n->out_fmts[0].rate;
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
            jl_job_fail(j, NULL, msg);
            pthread_mutex_unlock(&r->mu);
        } else {
            jl_job_cache_placed(j->jc, j->outs, j->n_outs);
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
    j->wall = j->t_start > 0 ? jl_now() - j->t_start : 0;
    if (jl_watching) {
        jl_slot *sl = &jl_watching->slots[j->slot];
        sl->wall = j->wall;
        sl->duration = j->duration;
        if (j->failed)
            snprintf(sl->error, sizeof sl->error, "%s", j->error);
    }
    if (j->failed)
        jl_report_error(r, j->error);
    slot_state(j, !j->failed ? JL_SLOT_OK : j->cancelled ? JL_SLOT_CANCELLED : JL_SLOT_FAILED);
}

/* Start a job whose quota the pool can cover (lock held). */
int jl_job_start(run *r, jl_job *j)
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
        jl_node_make_ready(r, &j->nodes[i]);
    return 1;
}

void jl_job_merge_stats(joule_report *rep, jl_job *j)
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