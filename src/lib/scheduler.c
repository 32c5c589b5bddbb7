/* scheduler.c — running a graph over input files: the run, its threads and
 * their work loop. A job's life (its cache plan, opening, committing and
 * closing its nodes) is in job.c, stepping a node in step.c; sched_shared.h holds
 * what they share.
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

#include "outputs.h"
#include "sched_shared.h"
#include "shard.h"

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

/* Set from a signal handler: a lock-free atomic, read by every worker. */
static sig_atomic_t interrupted;

void joule_interrupt(void)
{
    __atomic_store_n(&interrupted, 1, __ATOMIC_RELAXED);
}

int jl_interrupted(void)
{
    return __atomic_load_n(&interrupted, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------ */
/* Plugin calls                                                              */

__thread jl_cur_call jl_cur = {-1, -1, JL_CALL_NONE};
jl_watch *jl_watching;

const char *jl_call_name(int call)
{
    static const char *const names[] = {"", "open", "process", "finish", "commit", "close"};
    return call > 0 && call <= JL_CALL_CLOSE ? names[call] : "a call";
}


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
    return jl_node_ready(n) ? n : NULL;
}

/* Called with the lock held, returns with it held: 1 when a node was
 * made ready within SPIN_S, 0 after that long without one. */
#define SPIN_S 50e-6
static int spin_for_work(run *r)
{
    unsigned long seen = __atomic_load_n(&r->readied, __ATOMIC_ACQUIRE);
    size_t finished = r->finished;
    pthread_mutex_unlock(&r->mu);
    double until = jl_now() + SPIN_S;
    int found = 0;
    for (unsigned i = 0; !found; i++) {
        found = __atomic_load_n(&r->readied, __ATOMIC_ACQUIRE) != seen;
        if (!found && (i & 63) == 63 && jl_now() > until)
            break;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&r->mu);
    return found || r->finished != finished || r->finalize;
}

static void work(run *r, joule_report *rep)
{
    jl_nrt *next = NULL;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (jl_interrupted() && !r->stopping) {
            r->stopping = 1;
            /* files not yet opened will not be: they count as failed */
            for (; r->next_open < r->n_jobs; r->next_open++) {
                jl_job *j = &r->jobs[r->next_open];
                j->state = J_DONE;
                j->failed = 1;
                r->finished++;
                r->failed++;
            }
            for (jl_job *j = r->deferred; j; j = j->next) {
                j->state = J_DONE;
                j->failed = 1;
                r->finished++;
                r->failed++;
            }
            r->deferred = NULL;
            for (size_t i = 0; i < r->n_jobs; i++) {
                jl_job *j = &r->jobs[i];
                if (j->state == J_RUNNING || j->state == J_WAITING) {
                    j->cancelled |= !j->failed;
                    jl_job_fail(j, NULL, "interrupted");
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
            jl_job_close(r, j);
            pthread_mutex_lock(&r->mu);
            jl_job_merge_stats(rep, j);
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
            /* what they wait for may be there now: each tried once */
            r->retry_deferred = 0;
            for (jl_job *d = r->deferred; d; d = d->next)
                r->retry_deferred++;
            if (j->reads_input)
                r->bytes_read += j->size;
            if (j->failed)
                r->failed++;
            /* Room for waiting jobs now. */
            while (r->waiting && jl_job_start(r, r->waiting))
                r->waiting = r->waiting->next;
            pthread_cond_broadcast(&r->cv);
            continue;
        }
        if (next && !r->stopping) {
            jl_nrt *n = next;
            n->busy = 1;
            jl_node_step(r, n);
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
            if (!jl_node_ready(n))
                continue;
            n->busy = 1;
            jl_node_step(r, n);
            next = stay_on(r, n);
            continue;
        }
        /* Deferred jobs (single flight) are tried again once a job ended,
         * or every 50 ms (the entry they wait for may be another
         * process's); new ones are opened meanwhile. */
        int retry = r->deferred && (r->retry_deferred || jl_now() - r->deferred_at > 0.05);
        if (!r->stopping && (retry || r->next_open < r->n_jobs) && r->active < r->max_active) {
            jl_job *j;
            if (retry) {
                j = r->deferred;
                r->deferred = j->next;
                if (r->retry_deferred > 0)
                    r->retry_deferred--;
                r->deferred_at = jl_now();
            } else {
                j = &r->jobs[r->next_open++];
            }
            r->active++;
            j->state = J_OPEN;
            if (r->n_ready)
                pthread_cond_signal(&r->cv);
            pthread_mutex_unlock(&r->mu);
            int rc = jl_job_open(r, j);
            pthread_mutex_lock(&r->mu);
            if (rc == 1) { /* another job computes what it needs: later */
                r->active--;
                j->state = J_DEFERRED;
                j->next = NULL;
                jl_job **pp = &r->deferred;
                while (*pp)
                    pp = &(*pp)->next;
                *pp = j;
                r->deferred_at = jl_now();
                if (r->stopping) {
                    r->deferred = NULL;
                    j->state = J_DONE;
                    j->failed = 1;
                    r->finished++;
                    r->failed++;
                }
                continue;
            }
            if (r->stopping) {
                j->cancelled |= !j->failed;
                jl_job_fail(j, NULL, "interrupted");
            }
            /* a job whose every node is skipped or current has nothing to
             * step: it ends here */
            if (rc || j->failed || j->done == j->n) {
                j->state = J_FINALIZE;
                j->next = r->finalize;
                r->finalize = j;
            } else if (!jl_job_start(r, j)) {
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
        if (jl_interrupted() && !r->stopping)
            continue;
        /* Idle. In a pipeline the next chunk is usually tens of
         * microseconds away: look for it a moment before sleeping, as a
         * sleep and a wake-up per chunk cost more than the step itself
         * (on one file, -j2 spent a third more CPU than -j1 in futex calls
         * and context switches). The lock is not held while looking. */
        if (r->threads > 1 && spin_for_work(r))
            continue;
        /* The timeout only lets an interrupt (set from a signal handler,
         * which cannot signal a condition variable) be noticed. */
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

static void table_error(void *user, const char *msg)
{
    say(user, msg);
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
    /* a shard: its share of the inputs, and its tag in the tables' names */
    unsigned shard = OPT(opt, shard_index, 0u), shards = OPT(opt, shard_count, 0u);
    if (shards > 1 && shard >= shards) {
        msg = jl_printf("shard %u of %u does not exist (shards are 1 to %u)", shard + 1, shards, shards);
        say(opt, msg);
        free(msg);
        return JOULE_E_USAGE;
    }
    const char **share = NULL;
    char *tag = NULL;
    size_t n_given = n_files;
    if (shards > 1) {
        /* the outputs of the whole run first: two inputs that would write
         * one file must be refused in every shard, wherever they fall */
        tag = jl_shard_tag(shard, shards);
        if (jl_outputs_check(g, files, n_files, out_dir, tag, OPT(opt, extra_outputs, NULL),
                             OPT(opt, n_extra_outputs, 0), &msg, &dirs)) {
            say(opt, msg);
            free(msg);
            free(tag);
            return JOULE_E_USAGE;
        }
        jl_strv_free(dirs);
        dirs = NULL;
        share = jl_shard_select(files, n_files, shard, shards, &n_files);
        files = share;
    }
    if (jl_outputs_check(g, files, n_files, out_dir, tag, OPT(opt, extra_outputs, NULL),
                         OPT(opt, n_extra_outputs, 0), &msg, &dirs)) {
        say(opt, msg);
        free(msg);
        free(share);
        free(tag);
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
        free(share);
        free(tag);
        return JOULE_E_IO;
    }
    __atomic_store_n(&interrupted, 0, __ATOMIC_RELAXED);
    int defer = OPT(opt, defer_tables, 0);
    jl_tables *tables = jl_tables_plan(g, files, n_files, out_dir, tag, defer);
    /* the tables are written from the inputs the report says succeeded */
    joule_report *rep = NULL;
    int rc = OPT(opt, isolate, 0)
                 ? jl_supervise(g, files, n_files, opt, tables, &rep, (const char *const *)dirs, t_start)
                 : jl_run_jobs(g, files, NULL, n_files, opt, tables, &rep, t_start);
    if (tables && !defer && rc != JOULE_E_INTERRUPTED && !jl_interrupted()) {
        int *ok = jl_calloc(n_files ? n_files : 1, sizeof *ok);
        for (size_t i = 0; rep && i < n_files && i < rep->n_inputs; i++)
            ok[i] = rep->inputs[i].state == JL_SLOT_OK;
        int trc = jl_tables_write(tables, g, files, ok, table_error, (void *)opt);
        free(ok);
        if (trc && !rc)
            rc = trc;
        if (rep)
            rep->wall = jl_now() - t_start;
    }
    jl_tables_free(tables);
    if (rep && shards > 1) {
        rep->shard_index = shard;
        rep->shard_count = shards;
        rep->inputs_given = n_given;
    }
    if (report)
        *report = rep;
    else
        joule_report_free(rep);
    jl_strv_free(dirs);
    free(share);
    free(tag);
    return rc;
}

int joule_run_check(const joule_graph *g, const char *const *files, size_t n_files, const joule_run_options *opt,
                    char **msg)
{
    *msg = NULL;
    char **dirs = NULL;
    const char *out_dir = opt && opt->out_dir ? opt->out_dir : ".";
    if (jl_outputs_check(g, files, n_files, out_dir, NULL, OPT(opt, extra_outputs, NULL),
                         OPT(opt, n_extra_outputs, 0), msg, &dirs))
        return JOULE_E_USAGE;
    jl_strv_free(dirs);
    return 0;
}

int joule_gather_tables(const joule_graph *g, const char *const *files, size_t n_files, const int *ok,
                        const joule_run_options *opt)
{
    const char *out_dir = opt && opt->out_dir ? opt->out_dir : ".";
    jl_tables *tables = jl_tables_plan(g, files, n_files, out_dir, NULL, 1);
    if (!tables)
        return 0;
    tables->keep = 0; /* the parts go once gathered, or not */
    int rc = jl_tables_write(tables, g, files, ok, table_error, (void *)opt);
    jl_tables_free(tables);
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
        /* the stage cache: a lock and an entry file (or a reader) */
        per_job += g->cache.enabled ? 2 : 0;
    }
    size_t spare = 4; /* the progress line, a report, FFTW wisdom ... */
    size_t free_fds = rl.rlim_cur > in_use + spare ? (size_t)rl.rlim_cur - in_use - spare : 0;
    return free_fds / per_job > 0 ? free_fds / per_job : 1;
}

/* Run the jobs of `files` in this process (see the top of this file).
 * `slots[i]` is file i's index in the whole run, for a supervisor's
 * bookkeeping (NULL: the identity). */
int jl_run_jobs(const joule_graph *g, const char *const *files, const size_t *slots, size_t n_files,
                const joule_run_options *opt, const jl_tables *tables, joule_report **report, double t_start)
{
    if (report)
        *report = NULL;
    run r;
    memset(&r, 0, sizeof r);
    r.g = g;
    r.opt = opt;
    r.tables = tables;
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
    r.threads = threads;
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
    rep->n_inputs = n_files;
    rep->inputs = jl_calloc(n_files ? n_files : 1, sizeof *rep->inputs);
    for (size_t i = 0; i < n_files; i++) {
        const jl_job *j = &r.jobs[i];
        jl_input_stats *in = &rep->inputs[i];
        in->file = jl_strdup(files[i]);
        in->state = j->failed ? (j->cancelled ? JL_SLOT_CANCELLED : JL_SLOT_FAILED)
                    : j->state == J_DONE ? JL_SLOT_OK : JL_SLOT_PENDING;
        in->wall = j->wall;
        in->duration = in->state == JL_SLOT_PENDING ? -1 : j->duration;
        in->error = j->failed && j->error ? jl_strdup(j->error) : NULL;
    }
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
    if (jl_interrupted())
        return JOULE_E_INTERRUPTED;
    return r.failed ? JOULE_E_INPUT : 0;
}
