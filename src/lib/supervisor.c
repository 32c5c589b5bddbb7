/* supervisor.c — running a run's jobs in a worker process, so that a plugin
 * that crashes, aborts, calls exit() or hangs fails only the inputs in
 * flight.
 *
 * Plugins are other people's code, run on hundreds of files at a time. In
 * one process, one bad call takes the whole batch with it: no message, the
 * temporaries left, the rest unprocessed. Here the calling process forks
 * one worker, which runs the ordinary scheduler (threads, pool, queues:
 * nothing changes) on the inputs not yet done, and watches it:
 *
 *   - the worker keeps a slot per input in memory the two share (watch.h):
 *     pending, running, done, failed; the plugin call each job is in; and
 *     each thread's current call, which its crash and exit() handlers copy
 *     out as the culprit before the process goes;
 *   - when the worker dies, the culprit's input is reported ("crashed with
 *     SIGSEGV in process"), the other inputs that were in flight are given
 *     to the next worker (they did nothing wrong; an input in flight at two
 *     deaths is failed), the dead worker's temporaries are removed, and a
 *     new worker takes the inputs not yet done;
 *   - a job past the time limit is first asked to stop (the scheduler fails
 *     it at its next step); one stuck inside a plugin call is stopped by
 *     killing the worker;
 *   - SIGINT and SIGTERM reach the worker, which stops cleanly; one that
 *     does not stop within a second (a thread blocked opening a FIFO, a
 *     plugin stuck in a call) is killed, and its temporaries removed.
 *
 * Why one worker for the run, restarted after a death, rather than a
 * process per job or a pool of them: the scheduler's parallelism — jobs
 * sharing threads and one memory pool — stays whole, and the happy path
 * costs one fork and one pipe for the whole run, whatever the number of
 * files (a process per job would cost a fork per file and split the
 * pool). What it gives up is the work of innocent jobs in flight at a
 * death: they start again in the next worker.
 *
 * The worker is forked after the graph is loaded, so it needs nothing
 * loaded again; errors come back over a pipe and are printed here, above
 * the progress line, which this process draws from the slots. */
#include "config.h"

#include "outputs.h"
#include "progress.h"
#include "report.h"
#include "scheduler.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a worker asked to stop (an interrupt, a time limit) may take
 * before it is killed. */
#define GRACE_S 0.5
/* The exit status of a worker whose plugin called exit(). */
#define EXIT_BY_PLUGIN 124

/* ------------------------------------------------------------------------ */
/* In the worker                                                             */

static int worker_finished;

static void record_culprit(int sig)
{
    jl_watch *w = jl_watching;
    if (!w || jl_cur.call == JL_CALL_NONE || w->culprit_slot >= 0)
        return;
    w->culprit_node = jl_cur.node;
    w->culprit_call = jl_cur.call;
    w->culprit_sig = sig;
    __atomic_store_n(&w->culprit_slot, jl_cur.slot, __ATOMIC_RELEASE);
}

/* Async-signal-safe: plain stores, then the default action. */
static void on_crash(int sig)
{
    record_culprit(sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A plugin called exit(): registered last, so it runs first, and ends the
 * process before the caller's own exit handlers can run in this copy of
 * it (they would act twice: once here, once in the caller). */
static void on_exit_call(void)
{
    if (__atomic_load_n(&worker_finished, __ATOMIC_RELAXED))
        return;
    record_culprit(0);
    _exit(EXIT_BY_PLUGIN);
}

typedef struct pipe_out {
    int fd;
} pipe_out;

/* A failed input's message, to the supervisor: one line (messages are
 * escaped: no newline inside). */
static void send_error(void *user, const char *msg)
{
    pipe_out *p = user;
    size_t n = strlen(msg);
    char *line = jl_malloc(n + 2);
    memcpy(line, msg, n);
    line[n] = '\n';
    line[n + 1] = '\0';
    for (size_t off = 0; off < n + 1;) {
        ssize_t k = write(p->fd, line + off, n + 1 - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    free(line);
}

static void worker(jl_watch *w, const joule_graph *g, const char *const *files, const size_t *todo, size_t n_todo,
                   const joule_run_options *opt, const jl_tables *tables, int fd, double t_start)
{
    jl_watching = w;
    /* the worker goes with its supervisor, however that ends */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(EXIT_FAILURE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    const int crashes[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP};
    for (size_t i = 0; i < sizeof crashes / sizeof crashes[0]; i++)
        sigaction(crashes[i], &sa, NULL);
    atexit(on_exit_call);

    const char **sub = jl_malloc((n_todo ? n_todo : 1) * sizeof *sub);
    for (size_t i = 0; i < n_todo; i++)
        sub[i] = files[todo[i]];
    joule_run_options wo;
    memset(&wo, 0, sizeof wo);
    memcpy(&wo, opt, opt->struct_size < sizeof wo ? opt->struct_size : sizeof wo);
    wo.struct_size = sizeof wo;
    wo.progress = 0;
    wo.isolate = 0;
    pipe_out po = {fd};
    wo.on_error = send_error;
    wo.user = &po;
    joule_report *rep = NULL;
    int rc = jl_run_jobs(g, sub, todo, n_todo, &wo, tables, &rep, t_start);
    if (rep) {
        for (size_t i = 0; i < w->n_nodes && i < rep->n_nodes; i++)
            jl_stats_merge(&w->stats[i], &rep->nodes[i]);
        jl_cache_figures_merge(&w->cache, &rep->cache);
        if (rep->pool_high_water > w->pool_high_water)
            w->pool_high_water = rep->pool_high_water;
        if (rep->pool_allocated > w->pool_allocated)
            w->pool_allocated = rep->pool_allocated;
        w->bytes_read += rep->bytes_read;
        joule_report_free(rep);
    }
    __atomic_store_n(&worker_finished, 1, __ATOMIC_RELAXED);
    _exit(rc == JOULE_E_INTERRUPTED ? 3 : 0);
}

/* ------------------------------------------------------------------------ */
/* In the supervisor                                                         */

typedef struct sup {
    jl_watch *w;
    const joule_graph *g;
    const char *const *files;
    char **shown;
    uint64_t *sizes;
    size_t n;
    const joule_run_options *opt;
    jl_progress *progress;
    double timeout;
    int failed;
} sup;

static void emit(sup *s, const char *msg)
{
    if (s->opt->on_error) {
        s->opt->on_error(s->opt->user, msg);
    } else {
        char *line = jl_printf("joule: %s", msg);
        jl_progress_message(s->progress, line);
        free(line);
    }
}

static int slot_get(const jl_slot *sl)
{
    return __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
}

/* Progress: finished inputs whole, running ones by the share read. Never
 * more than was done. */
static void probe(void *ctx, size_t *files_done, size_t *files_total, uint64_t *bytes_done, uint64_t *bytes_total)
{
    sup *s = ctx;
    size_t done = 0;
    uint64_t bytes = 0, total = 0;
    for (size_t i = 0; i < s->n; i++) {
        const jl_slot *sl = &s->w->slots[i];
        int st = slot_get(sl);
        total += s->sizes[i];
        if (st == JL_SLOT_OK || st == JL_SLOT_FAILED) {
            done++;
            bytes += s->sizes[i];
        } else if (st == JL_SLOT_RUNNING) {
            double f;
            __atomic_load(&sl->frac, &f, __ATOMIC_RELAXED);
            if (f > 0 && f <= 1)
                bytes += (uint64_t)(f * (double)s->sizes[i]);
        }
    }
    *files_done = done;
    *files_total = s->n;
    *bytes_done = bytes;
    *bytes_total = total;
}

/* "node 'x' (plugin 1.0.0)" */
static char *node_text(const sup *s, int node)
{
    if (node < 0 || (size_t)node >= s->g->n)
        return jl_strdup("a node");
    const jl_node *nd = &s->g->nodes[node];
    return jl_printf("node '%s' (%s %s)", nd->name, nd->plugin->desc->name, nd->plugin->desc->version);
}

static void fail_slot(sup *s, size_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_slot(sup *s, size_t i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = jl_vprintf(fmt, ap);
    va_end(ap);
    char *msg = jl_printf("%s: %s", s->shown[i], what);
    emit(s, msg);
    snprintf(s->w->slots[i].error, sizeof s->w->slots[i].error, "%s", msg);
    s->w->slots[i].duration = -1;
    free(msg);
    free(what);
    __atomic_store_n(&s->w->slots[i].state, JL_SLOT_FAILED, __ATOMIC_RELEASE);
    s->failed = 1;
}

/* Lines from the worker: failed inputs' messages. */
static void drain(sup *s, int fd, char **buf, size_t *len)
{
    char tmp[4096];
    for (;;) {
        ssize_t k = read(fd, tmp, sizeof tmp);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        *buf = jl_realloc(*buf, *len + (size_t)k + 1);
        memcpy(*buf + *len, tmp, (size_t)k);
        *len += (size_t)k;
    }
    size_t start = 0;
    for (size_t i = 0; i < *len; i++)
        if ((*buf)[i] == '\n') {
            (*buf)[i] = '\0';
            emit(s, *buf + start);
            start = i + 1;
        }
    if (start) {
        memmove(*buf, *buf + start, *len - start);
        *len -= start;
    }
}

/* The plugin call input `slot` is in, the longest-running if several of
 * its nodes are in one (the one that hangs), or JL_CALL_NONE; its node in
 * *node. */
static int slot_call(const jl_watch *w, size_t slot, int *node)
{
    int call = JL_CALL_NONE;
    double first = 0;
    *node = 0;
    for (size_t k = 0; k < w->n_nodes; k++) {
        const jl_call_rec *c = &w->calls[slot * w->n_nodes + k];
        int ck = __atomic_load_n(&c->call, __ATOMIC_ACQUIRE);
        double since;
        __atomic_load(&c->since, &since, __ATOMIC_RELAXED);
        if (ck != JL_CALL_NONE && (call == JL_CALL_NONE || since < first)) {
            call = ck;
            first = since;
            *node = (int)k;
        }
    }
    return call;
}

/* After a worker ended without finishing: account for the inputs it had
 * in flight. `how` says how it ended; `stuck` is the input it was killed
 * for (a time limit), or -1. */
static void after_death(sup *s, int status, long stuck, int interrupted)
{
    jl_watch *w = s->w;
    long culprit = __atomic_load_n(&w->culprit_slot, __ATOMIC_ACQUIRE);
    int known = culprit >= 0 || stuck >= 0;
    char *how = WIFSIGNALED(status) ? jl_signal_text(WTERMSIG(status))
                                    : jl_printf("exit status %d", WEXITSTATUS(status));
    for (size_t i = 0; i < s->n; i++) {
        jl_slot *sl = &w->slots[i];
        if (slot_get(sl) != JL_SLOT_RUNNING)
            continue;
        int node, call = slot_call(w, i, &node);
        if ((long)i == stuck) {
            char *nt = node_text(s, node);
            if (call != JL_CALL_NONE)
                fail_slot(s, i, "timed out after %.3g s, stuck in %s, in %s", s->timeout, nt, jl_call_name(call));
            else
                fail_slot(s, i, "timed out after %.3g s", s->timeout);
            free(nt);
        } else if ((long)i == culprit) {
            char *nt = node_text(s, w->culprit_node);
            const char *cn = jl_call_name(w->culprit_call);
            if (w->culprit_sig) {
                char *sn = jl_signal_text(w->culprit_sig);
                fail_slot(s, i, "%s: crashed with %s in %s", nt, sn, cn);
                free(sn);
            } else {
                fail_slot(s, i, "%s: called exit() in %s, which would have ended the run", nt, cn);
            }
            free(nt);
        } else if (interrupted) {
            __atomic_store_n(&sl->state, JL_SLOT_CANCELLED, __ATOMIC_RELEASE);
            char *msg = jl_printf("%s: interrupted", s->shown[i]);
            emit(s, msg);
            free(msg);
        } else if (known && sl->retries < 1) {
            /* in flight beside the culprit, through no fault of its own:
             * the next worker starts it again */
            sl->retries++;
            /* the dead worker's calls are over */
            memset(&w->calls[i * w->n_nodes], 0, w->n_nodes * sizeof *w->calls);
            __atomic_store_n(&sl->state, JL_SLOT_PENDING, __ATOMIC_RELEASE);
        } else {
            char *nt = node_text(s, node);
            fail_slot(s, i, "the worker process ended (%s) while this input was in flight%s%s", how,
                      call != JL_CALL_NONE ? ", in " : "", call != JL_CALL_NONE ? nt : "");
            free(nt);
        }
    }
    free(how);
}

static jl_watch *watch_new(size_t n_slots, size_t n_nodes, size_t *size)
{
    size_t head = sizeof(jl_watch) + n_slots * sizeof(jl_slot);
    head = (head + 63) & ~(size_t)63;
    size_t stats = (n_nodes * sizeof(jl_node_stats) + 63) & ~(size_t)63;
    /* untouched pages of the call records cost nothing: anonymous memory
     * is allocated where it is written */
    *size = head + stats + n_slots * n_nodes * sizeof(jl_call_rec);
    void *p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    jl_watch *w = p;
    w->n_slots = n_slots;
    w->n_nodes = n_nodes;
    w->stats = (jl_node_stats *)(void *)((char *)p + head);
    w->calls = (jl_call_rec *)(void *)((char *)p + head + stats);
    w->culprit_slot = -1;
    /* JL_CALL_NONE is 0: the zeroed records say "in no call" */
    return w;
}

int jl_supervise(const joule_graph *g, const char *const *files, size_t n_files, const joule_run_options *opt,
                 const jl_tables *tables, joule_report **report, const char *const *dirs, double t_start)
{
    size_t map_size;
    jl_watch *w = watch_new(n_files, g->n, &map_size);
    if (!w) /* no shared memory: run in this process rather than not at all */
        return jl_run_jobs(g, files, NULL, n_files, opt, tables, report, t_start);
    sup s;
    memset(&s, 0, sizeof s);
    s.w = w;
    s.g = g;
    s.files = files;
    s.n = n_files;
    s.opt = opt;
    s.timeout = opt->struct_size >= offsetof(joule_run_options, timeout) + sizeof opt->timeout && opt->timeout > 0
                    ? opt->timeout
                    : g->timeout;
    s.shown = jl_calloc(n_files ? n_files : 1, sizeof *s.shown);
    s.sizes = jl_calloc(n_files ? n_files : 1, sizeof *s.sizes);
    for (size_t i = 0; i < n_files; i++) {
        s.shown[i] = jl_escape(files[i]);
        struct stat st;
        if (stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
            s.sizes[i] = (uint64_t)st.st_size;
    }
    s.progress = opt->progress ? jl_progress_start(probe, &s) : NULL;
    size_t *todo = jl_malloc((n_files ? n_files : 1) * sizeof *todo);
    int interrupted = 0, fork_failed = 0;
    for (;;) {
        size_t n_todo = 0;
        for (size_t i = 0; i < n_files; i++)
            if (slot_get(&w->slots[i]) == JL_SLOT_PENDING)
                todo[n_todo++] = i;
        if (!n_todo || interrupted)
            break;
        w->culprit_slot = -1;
        int pfd[2];
        if (pipe(pfd)) {
            fork_failed = errno;
            break;
        }
        fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
        fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
        fflush(NULL); /* nothing buffered is written twice */
        jl_progress_hold(s.progress); /* fork a single-threaded process */
        pid_t pid = fork();
        if (pid != 0)
            jl_progress_release(s.progress); /* the child's copy stays held: it draws nothing */
        if (pid < 0) {
            fork_failed = errno;
            close(pfd[0]);
            close(pfd[1]);
            break;
        }
        if (pid == 0) {
            close(pfd[0]);
            worker(w, g, files, todo, n_todo, opt, tables, pfd[1], t_start);
        }
        close(pfd[1]);
        fcntl(pfd[0], F_SETFL, O_NONBLOCK);
        char *buf = NULL;
        size_t len = 0;
        int status = 0, forwarded = 0;
        long stuck = -1;
        double stop_at = 0; /* when the worker is killed, if still there */
        for (;;) {
            struct pollfd pf = {pfd[0], POLLIN, 0};
            poll(&pf, 1, 50);
            drain(&s, pfd[0], &buf, &len);
            pid_t got = waitpid(pid, &status, WNOHANG);
            if (got == pid)
                break;
            double now = jl_now();
            if (jl_interrupted() && !forwarded) {
                /* a terminal's Ctrl-C reached the worker too; a kill aimed
                 * at this process alone is passed on */
                interrupted = forwarded = 1;
                kill(pid, SIGTERM);
                stop_at = now + GRACE_S;
            }
            if (s.timeout > 0 && stuck < 0)
                for (size_t i = 0; i < n_files; i++) {
                    jl_slot *sl = &w->slots[i];
                    double started;
                    __atomic_load(&sl->started, &started, __ATOMIC_RELAXED);
                    if (slot_get(sl) != JL_SLOT_RUNNING || now - started <= s.timeout)
                        continue;
                    if (!sl->timed_out) {
                        /* ask first: the scheduler fails it at its next step */
                        __atomic_store_n(&sl->timed_out, 1, __ATOMIC_RELAXED);
                    } else if (now - started > s.timeout + GRACE_S) {
                        stuck = (long)i; /* inside a call that does not return */
                        if (!stop_at || stop_at > now)
                            stop_at = now;
                    }
                }
            if (stop_at && now >= stop_at) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
        }
        drain(&s, pfd[0], &buf, &len);
        if (len) { /* a last line without its newline */
            buf = jl_realloc(buf, len + 1);
            buf[len] = '\0';
            emit(&s, buf);
        }
        free(buf);
        close(pfd[0]);
        for (size_t i = 0; i < n_files; i++)
            if (slot_get(&w->slots[i]) == JL_SLOT_FAILED)
                s.failed = 1;
        int clean = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
            interrupted = 1;
        if (!clean || stuck >= 0) {
            after_death(&s, status, stuck, interrupted);
            /* its temporaries: their process is gone */
            for (const char *const *d = dirs; d && *d; d++)
                jl_tmp_sweep(*d);
        }
        /* An input it never reached stays pending for the next worker, as
         * long as workers get somewhere: one that ended having started
         * nothing (killed from outside, or unable to start its threads)
         * would be followed by another ending the same way, for ever. */
        size_t still = 0;
        for (size_t i = 0; i < n_files; i++)
            still += slot_get(&w->slots[i]) == JL_SLOT_PENDING;
        if (still == n_todo && !interrupted) {
            char *how = WIFSIGNALED(status) ? jl_signal_text(WTERMSIG(status))
                                            : jl_printf("exit status %d", WEXITSTATUS(status));
            for (size_t i = 0; i < n_files; i++)
                if (slot_get(&w->slots[i]) == JL_SLOT_PENDING)
                    fail_slot(&s, i, "the worker process ended (%s) before it could start this input", how);
            free(how);
            break;
        }
    }
    if (fork_failed) {
        char *m = jl_printf("cannot start a worker process (%s): the remaining inputs run in this process",
                            strerror(fork_failed));
        emit(&s, m);
        free(m);
        size_t n_todo = 0;
        for (size_t i = 0; i < n_files; i++)
            if (slot_get(&w->slots[i]) == JL_SLOT_PENDING)
                todo[n_todo++] = i;
        const char **sub = jl_malloc((n_todo ? n_todo : 1) * sizeof *sub);
        for (size_t i = 0; i < n_todo; i++)
            sub[i] = files[todo[i]];
        joule_report *rep = NULL;
        jl_watching = w;
        int rc = jl_run_jobs(g, sub, todo, n_todo, opt, tables, &rep, t_start);
        jl_watching = NULL;
        if (rc == JOULE_E_INTERRUPTED)
            interrupted = 1;
        if (rep) {
            for (size_t i = 0; i < w->n_nodes && i < rep->n_nodes; i++)
                jl_stats_merge(&w->stats[i], &rep->nodes[i]);
            jl_cache_figures_merge(&w->cache, &rep->cache);
            w->bytes_read += rep->bytes_read;
            joule_report_free(rep);
        }
        free(sub);
    }
    jl_progress *prog = s.progress;
    s.progress = NULL;
    jl_progress_stop(prog);

    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < n_files; i++) {
        int st = slot_get(&w->slots[i]);
        ok += st == JL_SLOT_OK;
        failed += st == JL_SLOT_FAILED || st == JL_SLOT_CANCELLED || st == JL_SLOT_PENDING;
    }
    if (report) {
        joule_report *rep = jl_calloc(1, sizeof *rep);
        rep->n_nodes = g->n;
        rep->nodes = jl_calloc(g->n ? g->n : 1, sizeof *rep->nodes);
        for (size_t i = 0; i < g->n; i++) {
            rep->nodes[i] = w->stats[i];
            rep->nodes[i].name = jl_strdup(g->nodes[i].name);
            rep->nodes[i].plugin = jl_strdup(g->nodes[i].plugin->desc->name);
        }
        rep->cache = w->cache;
        rep->wall = jl_now() - t_start;
        struct rusage ru;
        if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
            rep->peak_rss = (size_t)ru.ru_maxrss * 1024;
        rep->pool_high_water = w->pool_high_water;
        rep->pool_allocated = w->pool_allocated;
        rep->pool_budget = opt->memory ? opt->memory : g->memory;
        rep->files_done = ok;
        rep->files_failed = failed;
        rep->bytes_read = w->bytes_read;
        int threads = opt->threads ? opt->threads : g->threads;
        if (threads <= 0) {
            long nc = sysconf(_SC_NPROCESSORS_ONLN);
            threads = nc > 0 ? (int)nc : 1;
        }
        rep->threads = threads;
        rep->chunk_rows = opt->chunk_rows ? opt->chunk_rows : g->chunk_rows;
        rep->n_inputs = n_files;
        rep->inputs = jl_calloc(n_files ? n_files : 1, sizeof *rep->inputs);
        for (size_t i = 0; i < n_files; i++) {
            const jl_slot *sl = &w->slots[i];
            jl_input_stats *in = &rep->inputs[i];
            in->file = jl_strdup(files[i]);
            in->state = slot_get(sl);
            in->wall = in->state == JL_SLOT_PENDING ? 0 : sl->wall;
            in->duration = in->state == JL_SLOT_OK || in->state == JL_SLOT_FAILED ? sl->duration : -1;
            in->error = in->state == JL_SLOT_OK || in->state == JL_SLOT_PENDING ? NULL
                        : jl_strdup(sl->error[0] ? sl->error : "interrupted");
        }
        *report = rep;
    }
    for (size_t i = 0; i < n_files; i++)
        free(s.shown[i]);
    free(s.shown);
    free(s.sizes);
    free(todo);
    munmap(w, map_size);
    if (interrupted || jl_interrupted())
        return JOULE_E_INTERRUPTED;
    return failed ? JOULE_E_INPUT : 0;
}
