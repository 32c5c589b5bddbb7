/* job_cache.c — see job_cache.h.
 *
 * Which nodes are cached. A node whose `cache = no`, a sink (it writes
 * files, which are always written — unless they are current, see
 * cache_outputs.h), an impure plugin and everything
 * downstream of one are never cached. `cache = yes` caches the node
 * whatever its size. `cache = auto` (the default) caches filters, not
 * sources (a source's output is the decoded input itself: recording it
 * would copy every recording into the cache), and stops recording a node
 * whose entry grows past a quarter of its input file (at least 1 MiB): a
 * per-frame spectrum of a long recording is larger than the recording and
 * cheaper to compute again than to keep, while features, levels and events
 * are a small fraction of it and are what a re-run most often needs.
 *
 * Replay. A replayed node becomes a source that reads its entry: its
 * outputs have the recorded formats, and everything downstream sees the
 * same streams (the determinism tests compare replayed and computed
 * outputs byte for byte). Back-pressure, the pool quota and the scheduler's
 * progress argument are those of any source. */
#include "config.h"

#include "job_cache.h"
#include "cache_redis.h"
#include "cache_key.h"
#include "cache_mem.h"
#include "cache_outputs.h"
#include "cache_plan.h"
#include "pathtpl.h"
#include "report.h"
#include "util.h"

#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PRUNE_EVERY_S 600.0
#define AUTO_SHARE 4              /* an auto entry may reach input / 4 ... */
#define AUTO_FLOOR ((uint64_t)1 << 20) /* ... or 1 MiB, whichever is larger */

struct jl_cache_run {
    const joule_graph *g;
    jl_store *store;
    jl_key *sigs;
    int *cacheable;      /* per node, before looking at entries */
    int refresh;
    int explain;         /* say why each node runs (--explain) */
    int *pure;
    int *memo;           /* per node: a sink whose files may be current */
    char *out_dir;       /* where relative output paths go (-o)       */
    pthread_mutex_t mu;  /* the figures below */
    jl_cache_figures fig;
    jl_node_stats lookups; /* latency histogram of lookups */
    jl_redis *redis;       /* the tier behind the disk ([cache] redis), or NULL */
};

/* The Redis tier's one warning (it is given up after its first error). */
static void redis_say(const char *msg)
{
    fprintf(stderr, "joule: %s\n", msg);
}

typedef struct replay {
    jl_entry_reader *r;
    const joule_host *h;
    uint32_t n_ports;
    uint32_t max_cols;
    float *data;
    double *times;
    uint32_t cap;        /* rows the scratch buffers hold */
} replay;

struct jl_job_cache {
    jl_cache_run *c;
    size_t n;
    int *plan;
    jl_key *keys;
    jl_entry_reader **readers; /* replayed nodes, until the node opens */
    jl_entry_writer **writers; /* recorded nodes                       */
    int *locks;                /* single-flight tokens, -1: none       */
    int *dup;                  /* records a key an earlier node records */
    uint64_t *limit;           /* bytes an entry may reach; 0 = none   */
    joule_descriptor *replay_desc;
    uint64_t input_bytes;
    jl_key digest;
    char *input;
    int *state;                /* per node: JL_ENTRY_* of its lookup   */
    char **why;                /* --explain: per node, why             */
    int *current;              /* a sink whose files are current        */
    int *has_memo;             /* memo_keys[i] is valid                 */
    jl_key *memo_keys;         /* of a sink's files (cache_outputs.h)   */
    char **sink_why;           /* why a sink with a memo key runs       */
};

static void explain(jl_job_cache *jc);
static void remember(jl_job_cache *jc, size_t i);

static uint32_t desc_role(const jl_node *n)
{
    return n->plugin->desc->role;
}

#define DEFAULT_TTL (7 * 86400.0)

char *jl_cache_default_dir(void)
{
    const char *e = getenv("JOULE_CACHE_DIR");
    if (e && *e)
        return jl_strdup(e);
    e = getenv("XDG_CACHE_HOME");
    if (e && *e == '/')
        return jl_printf("%s/joule", e);
    e = getenv("HOME");
    if (e && *e)
        return jl_printf("%s/.cache/joule", e);
    return NULL;
}

/* The folder: the run's option, the graph's `dir`, then the default. */
static char *cache_dir(const joule_graph *g, const joule_run_options *opt)
{
    const char *d = opt && opt->struct_size >= offsetof(joule_run_options, cache_dir) + sizeof opt->cache_dir
                        ? opt->cache_dir
                        : NULL;
    if (d && *d)
        return jl_strdup(d);
    if (g->cache.dir)
        return jl_strdup(g->cache.dir);
    return jl_cache_default_dir();
}

jl_cache_run *jl_cache_run_new(const joule_graph *g, const joule_run_options *opt, char **warning)
{
    *warning = NULL;
    int off = opt && opt->struct_size >= offsetof(joule_run_options, no_cache) + sizeof opt->no_cache &&
              opt->no_cache;
    if (!g->cache.enabled || off)
        return NULL;
    char *dir = cache_dir(g, opt);
    if (!dir) {
        *warning = jl_strdup("no cache folder ($HOME is not set): running without the cache");
        return NULL;
    }
    char *why = NULL;
    jl_store *s = jl_store_open(dir, g->cache.ttl, g->cache.disk, &why);
    /* Entries are trusted once their checksums match: a folder someone
     * else can write to could be fed entries that pass every check. */
    struct stat sb;
    if (s && (stat(dir, &sb) || sb.st_uid != geteuid() || (sb.st_mode & 022))) {
        char *e = jl_escape(dir);
        *warning = jl_printf("the cache folder %s is not yours alone (another user owns it or may write to it): "
                             "running without the cache",
                             e);
        free(e);
        free(dir);
        jl_store_close(s);
        return NULL;
    }
    free(dir);
    if (!s) {
        *warning = jl_printf("%s: running without the cache", why ? why : "the cache folder cannot be used");
        free(why);
        return NULL;
    }
    jl_mem_configure(g->cache.memory);
    jl_cache_run *c = jl_calloc(1, sizeof *c);
    c->g = g;
    c->store = s;
    c->refresh = opt && opt->struct_size >= offsetof(joule_run_options, refresh) + sizeof opt->refresh &&
                 opt->refresh;
    c->sigs = jl_calloc(g->n ? g->n : 1, sizeof *c->sigs);
    int *pure = jl_calloc(g->n ? g->n : 1, sizeof *pure);
    jl_cache_signatures(g, c->sigs, pure);
    c->cacheable = jl_calloc(g->n ? g->n : 1, sizeof *c->cacheable);
    c->explain = opt && opt->struct_size >= offsetof(joule_run_options, explain) + sizeof opt->explain &&
                 opt->explain;
    for (size_t i = 0; i < g->n; i++) {
        const jl_node *n = &g->nodes[i];
        uint32_t role = desc_role(n);
        c->cacheable[i] = pure[i] && role != JOULE_ROLE_SINK && n->cache != JL_CACHE_NO &&
                          (role != JOULE_ROLE_SOURCE || n->cache == JL_CACHE_YES);
    }
    c->pure = pure;
    /* A sink's files may be found current when it is pure, not cache = no,
     * and writes through output-path parameters. */
    c->memo = jl_calloc(g->n ? g->n : 1, sizeof *c->memo);
    for (size_t i = 0; i < g->n; i++) {
        const jl_node *n = &g->nodes[i];
        const joule_descriptor *d = n->plugin->desc;
        int paths = 0;
        for (uint32_t k = 0; k < d->n_params; k++)
            paths += (d->params[k].flags & JOULE_PARAM_OUT_PATH) != 0;
        /* a gathered table is written from every input's part at the end
         * of the run: no input's files are current on their own */
        c->memo[i] = pure[i] && desc_role(n) == JOULE_ROLE_SINK && n->cache != JL_CACHE_NO && paths &&
                     !jl_node_gathers(n);
    }
    c->out_dir = jl_strdup(opt && opt->out_dir ? opt->out_dir : ".");
    pthread_mutex_init(&c->mu, NULL);
    c->fig.enabled = 1;
    if (g->cache.redis) {
        c->redis = jl_redis_new(g->cache.redis, g->cache.ttl, redis_say);
        jl_store_set_redis(s, c->redis);
    }
    return c;
}

void jl_cache_run_free(jl_cache_run *c, jl_cache_figures *fig)
{
    if (fig)
        memset(fig, 0, sizeof *fig);
    if (!c)
        return;
    /* Expired entries and the size bound: a walk over the whole folder,
     * so not after every run — after a run that finds the last walk more
     * than PRUNE_EVERY_S ago (the stamp's time says when). */
    uint64_t removed = 0, freed = 0;
    char *stamp = jl_printf("%s/last-prune", jl_store_dir(c->store));
    struct stat sb;
    if (stat(stamp, &sb) || (double)time(NULL) - (double)sb.st_mtime > PRUNE_EVERY_S) {
        int fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            close(fd);
        char *why = NULL;
        if (jl_store_prune(c->store, 0, &removed, &freed, &why))
            free(why);
        if (c->g->cache.ttl > 0) {
            jl_memos_prune(jl_store_dir(c->store), "explain", c->g->cache.ttl);
            jl_memos_prune(jl_store_dir(c->store), "outputs", c->g->cache.ttl);
            jl_memos_prune(jl_store_dir(c->store), "probe", c->g->cache.ttl);
        }
    }
    free(stamp);
    jl_store_counts k;
    jl_store_counts_get(c->store, &k);
    if (fig) {
        *fig = c->fig;
        fig->hits = c->fig.hits; /* served, not opened: a verified entry a re-plan did not use is no hit */
        fig->misses = c->fig.misses;
        fig->expired = k.expired + c->fig.expired;
        fig->corrupt = k.corrupt;
        fig->evicted = k.evicted + removed;
        fig->bytes_read = k.bytes_read;
        fig->memory_hits = k.memory_hits;
        fig->bytes_written = k.bytes_written;
        fig->lookups = c->lookups.calls;
        fig->lookup_p50 = jl_stats_quantile(&c->lookups, 0.50);
        fig->lookup_p95 = jl_stats_quantile(&c->lookups, 0.95);
        fig->lookup_p99 = jl_stats_quantile(&c->lookups, 0.99);
    }
    jl_store_close(c->store);
    jl_redis_free(c->redis);
    pthread_mutex_destroy(&c->mu);
    free(c->sigs);
    free(c->cacheable);
    free(c->pure);
    free(c->memo);
    free(c->out_dir);
    free(c);
}

static void lookup_time(jl_cache_run *c, double t0)
{
    double dt = jl_now() - t0;
    pthread_mutex_lock(&c->mu);
    c->lookups.calls++;
    jl_stats_latency(&c->lookups, dt);
    pthread_mutex_unlock(&c->mu);
}

static void free_job(jl_job_cache *jc)
{
    for (size_t i = 0; i < jc->n; i++) {
        if (jc->readers[i])
            jl_entry_close(jc->readers[i]);
        if (jc->writers[i])
            jl_entry_abort(jc->writers[i]);
    }
    for (size_t i = 0; i < jc->n; i++)
        jl_store_unlock(jc->c->store, jc->locks[i]);
    free(jc->locks);
    free(jc->dup);
    if (jc->why)
        for (size_t i = 0; i < jc->n; i++)
            free(jc->why[i]);
    free(jc->why);
    if (jc->sink_why)
        for (size_t i = 0; i < jc->n; i++)
            free(jc->sink_why[i]);
    free(jc->sink_why);
    free(jc->current);
    free(jc->has_memo);
    free(jc->memo_keys);
    free(jc->state);
    free(jc->input);
    free(jc->plan);
    free(jc->keys);
    free(jc->readers);
    free(jc->writers);
    free(jc->limit);
    free(jc->replay_desc);
    free(jc);
}

jl_job_cache *jl_job_cache_plan(jl_cache_run *c, const char *input, uint64_t input_bytes, int *plan, int may_wait,
                                int *busy)
{
    const joule_graph *g = c->g;
    *busy = 0;
    for (size_t i = 0; i < g->n; i++)
        plan[i] = JL_PLAN_RUN;
    int any = 0;
    for (size_t i = 0; i < g->n; i++)
        any |= c->cacheable[i] || c->memo[i];
    if (!any)
        return NULL;
    jl_key digest;
    uint64_t read_bytes = 0;
    char *why = NULL;
    if (jl_input_digest(c->store, input, &digest, &read_bytes, &why)) {
        /* a pipe, a read error: this input runs uncached (the read error,
         * if real, is the source's to report) */
        free(why);
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    c->fig.digest_bytes += read_bytes;
    pthread_mutex_unlock(&c->mu);

    jl_job_cache *jc = jl_calloc(1, sizeof *jc);
    jc->c = c;
    jc->n = g->n;
    jc->input_bytes = input_bytes;
    jc->plan = jl_calloc(g->n, sizeof *jc->plan);
    jc->keys = jl_calloc(g->n, sizeof *jc->keys);
    jc->readers = jl_calloc(g->n, sizeof *jc->readers);
    jc->writers = jl_calloc(g->n, sizeof *jc->writers);
    jc->limit = jl_calloc(g->n, sizeof *jc->limit);
    jc->digest = digest;
    jc->input = jl_strdup(input);
    jc->state = jl_calloc(g->n, sizeof *jc->state);
    jc->locks = jl_malloc(g->n * sizeof *jc->locks);
    for (size_t i = 0; i < g->n; i++)
        jc->locks[i] = -1;
    /* Sinks whose files are already what they would write. */
    jc->current = jl_calloc(g->n, sizeof *jc->current);
    jc->has_memo = jl_calloc(g->n, sizeof *jc->has_memo);
    jc->memo_keys = jl_calloc(g->n, sizeof *jc->memo_keys);
    jc->sink_why = jl_calloc(g->n, sizeof *jc->sink_why);
    for (size_t i = 0; i < g->n; i++) {
        if (!c->memo[i])
            continue;
        const jl_node *n = &g->nodes[i];
        const joule_descriptor *d = n->plugin->desc;
        char **paths = jl_calloc(d->n_params, sizeof *paths);
        size_t np = 0;
        for (uint32_t k = 0; k < d->n_params; k++)
            if (d->params[k].flags & JOULE_PARAM_OUT_PATH)
                paths[np++] = jl_path_expand(n->texts[k], input, n->name, c->out_dir);
        jc->has_memo[i] = !jl_outmemo_key(jl_cache_key(digest, c->sigs[i]), input, paths, np,
                                             &jc->memo_keys[i]);
        for (size_t k = 0; k < np; k++)
            free(paths[k]);
        free(paths);
        if (!jc->has_memo[i])
            continue;
        if (c->refresh)
            jc->sink_why[i] = jl_strdup("--refresh");
        else
            jc->current[i] = !jl_outmemo_check(jl_store_dir(c->store), jc->memo_keys[i], &jc->sink_why[i]);
    }
    int *hit = jl_calloc(g->n, sizeof *hit);
    for (size_t i = 0; i < g->n; i++) {
        if (!c->cacheable[i])
            continue;
        jc->keys[i] = jl_cache_key(digest, c->sigs[i]);
        if (g->nodes[i].cache == JL_CACHE_AUTO) {
            uint64_t lim = input_bytes / AUTO_SHARE;
            jc->limit[i] = lim > AUTO_FLOOR ? lim : AUTO_FLOOR;
        }
    }
    /* every node's entry probed at once: one round trip to Redis for
     * those the disk does not have */
    if (!c->refresh) {
        jl_key *ks = jl_calloc(g->n ? g->n : 1, sizeof *ks);
        size_t *at = jl_calloc(g->n ? g->n : 1, sizeof *at);
        int *st = jl_calloc(g->n ? g->n : 1, sizeof *st);
        size_t nk = 0;
        for (size_t i = 0; i < g->n; i++)
            if (c->cacheable[i]) {
                at[nk] = i;
                ks[nk++] = jc->keys[i];
            }
        double t0 = jl_now();
        jl_entry_probe_many(c->store, ks, nk, st);
        double each = nk ? (jl_now() - t0) / (double)nk : 0;
        for (size_t k = 0; k < nk; k++) {
            jc->state[at[k]] = st[k];
            hit[at[k]] = st[k] == JL_ENTRY_HIT;
            lookup_time(c, jl_now() - each); /* the batch's time, shared */
        }
        free(ks);
        free(at);
        free(st);
    }
    /* Single flight first, on the plan the probes give, before any entry
     * is opened: a job that must wait has then read nothing. Every entry
     * this job will record is locked; one another job holds is being
     * computed: wait, and be served it. A key two nodes of this job share
     * (identical nodes) is locked and recorded once. */
    jl_cache_plan(g, c->cacheable, hit, jc->current, jc->plan);
    jc->dup = jl_calloc(g->n, sizeof *jc->dup);
    for (size_t i = 0; i < g->n; i++) {
        if (jc->plan[i] != JL_PLAN_RECORD)
            continue;
        for (size_t k = 0; k < i && !jc->dup[i]; k++)
            jc->dup[i] = jc->plan[k] == JL_PLAN_RECORD && !jc->dup[k] && jc->keys[k].hi == jc->keys[i].hi &&
                         jc->keys[k].lo == jc->keys[i].lo;
        if (jc->dup[i])
            continue;
        int tok = jl_store_lock(c->store, jc->keys[i], 0);
        if (tok == -2 && may_wait) {
            free(hit);
            free_job(jc);
            for (size_t k = 0; k < g->n; k++)
                plan[k] = JL_PLAN_RUN;
            *busy = 1;
            return NULL;
        }
        jc->locks[i] = tok;
        /* committed by the holder we waited for: replay it instead */
        if (tok >= 0 && !c->refresh && jl_entry_probe(c->store, jc->keys[i]) == JL_ENTRY_HIT)
            hit[i] = 1;
    }
    /* Plan with what seems to be there; open (and so verify) only what the
     * plan replays; an entry that turns out damaged, or not of this
     * plugin's ports, is planned again as missing. Each round replays
     * fewer nodes: it ends. */
    for (;;) {
        jl_cache_plan(g, c->cacheable, hit, jc->current, jc->plan);
        int again = 0;
        for (size_t i = 0; i < g->n; i++) {
            if (jc->plan[i] != JL_PLAN_REPLAY || jc->readers[i])
                continue;
            double t0 = jl_now();
            int rc = jl_entry_open(c->store, jc->keys[i], &jc->readers[i]);
            lookup_time(c, t0);
            if (rc == JL_ENTRY_HIT && jl_entry_ports(jc->readers[i]) != g->nodes[i].plugin->desc->n_outputs) {
                jl_entry_close(jc->readers[i]); /* recorded by another build of the plugin */
                rc = JL_ENTRY_CORRUPT;
            }
            if (rc != JL_ENTRY_HIT) {
                jc->state[i] = rc;
                jc->readers[i] = NULL;
                hit[i] = 0;
                again = 1;
            }
        }
        if (!again)
            break;
    }
    free(hit);
    double saved = 0;
    uint64_t replayed = 0, computed = 0, expired = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (jc->plan[i] != JL_PLAN_REPLAY && jc->readers[i]) {
            jl_entry_close(jc->readers[i]); /* not needed after all */
            jc->readers[i] = NULL;
        }
        if (jc->plan[i] != JL_PLAN_RECORD && jc->locks[i] >= 0) {
            jl_store_unlock(c->store, jc->locks[i]); /* nothing of it to compute */
            jc->locks[i] = -1;
        }
        if (jc->readers[i]) {
            saved += jl_entry_cost(jc->readers[i]);
            replayed++;
        }
        /* a miss: an entry this job computes */
        computed += jc->plan[i] == JL_PLAN_RECORD && !jc->dup[i];
        expired += jc->plan[i] == JL_PLAN_RECORD && jc->state[i] == JL_ENTRY_EXPIRED;
        plan[i] = jc->plan[i];
    }
    if (c->explain)
        explain(jc);
    pthread_mutex_lock(&c->mu);
    c->fig.time_saved += saved;
    c->fig.hits += replayed;
    c->fig.misses += computed;
    c->fig.expired += expired;
    pthread_mutex_unlock(&c->mu);
    return jc;
}

/* ---- explaining ----------------------------------------------------------
 * What a recorded entry was computed from is kept beside the entries, per
 * input file and node name (explain/HASH: the input's digest and the
 * node's description, cache_key.h), so that a later run that misses can
 * say what changed: the input, the plugin's version or build, a
 * parameter, something upstream. */

static char *memo_path(const jl_job_cache *jc, size_t i)
{
    char *real = realpath(jc->input, NULL);
    const char *name = jc->c->g->nodes[i].name;
    size_t a = strlen(real ? real : jc->input), b = strlen(name);
    char *id = jl_malloc(a + b + 2);
    memcpy(id, real ? real : jc->input, a);
    id[a] = '\0';
    memcpy(id + a + 1, name, b + 1);
    free(real);
    XXH128_hash_t h = XXH3_128bits(id, a + b + 2);
    free(id);
    jl_key k = {h.high64, h.low64};
    char hex[33];
    return jl_printf("%s/explain/%s", jl_store_dir(jc->c->store), jl_key_hex(k, hex));
}

static void remember(jl_job_cache *jc, size_t i)
{
    char *path = memo_path(jc, i);
    char *dir = jl_printf("%s/explain", jl_store_dir(jc->c->store));
    mkdir(dir, 0700);
    free(dir);
    char hex[33];
    char *desc = jl_cache_describe(jc->c->g, i, jc->c->sigs);
    char *text = jl_printf("input\t%s\n%s", jl_key_hex(jc->digest, hex), desc);
    free(desc);
    char *tmp = jl_printf("%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        size_t len = strlen(text);
        int ok = write(fd, text, len) == (ssize_t)len;
        close(fd);
        if (!ok || rename(tmp, path))
            unlink(tmp);
    }
    free(tmp);
    free(text);
    free(path);
}

/* The value of the line starting with `key` TAB (and, for param and
 * upstream lines, `name` TAB) in a description; NULL if none. */
static char *line_of(const char *text, const char *key, const char *name)
{
    char *pre = name ? jl_printf("%s\t%s\t", key, name) : jl_printf("%s\t", key);
    size_t n = strlen(pre);
    char *r = NULL;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, pre, n)) {
            const char *e = strchr(l + n, '\n');
            r = jl_strndup(l + n, e ? (size_t)(e - l - n) : strlen(l + n));
            break;
        }
    free(pre);
    return r;
}

/* Why node i runs, compared with what its last entry for this input was
 * computed from. */
static char *why_missed(jl_job_cache *jc, size_t i)
{
    if (jc->state[i] == JL_ENTRY_EXPIRED)
        return jl_strdup("runs: its entry expired (unused for longer than the ttl)");
    if (jc->state[i] == JL_ENTRY_CORRUPT)
        return jl_strdup("runs: its entry was damaged (removed)");
    char *path = memo_path(jc, i);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return jl_strdup("runs: no entry for this input yet");
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char hex[33];
    char *now = jl_cache_describe(jc->c->g, i, jc->c->sigs);
    char *r = NULL, *a = line_of(buf, "input", NULL);
    if (!a || strcmp(a, jl_key_hex(jc->digest, hex)))
        r = jl_strdup("runs: the input changed since its entry was computed");
    free(a);
    static const char *const keys[] = {"plugin", "version", "build"};
    for (int k = 0; k < 3 && !r; k++) {
        char *x = line_of(buf, keys[k], NULL), *y = line_of(now, keys[k], NULL);
        if (!x || !y || strcmp(x, y))
            r = k == 2 ? jl_strdup("runs: the plugin was rebuilt")
                       : jl_printf("runs: plugin %s changed (%s -> %s)", keys[k], x ? x : "?", y ? y : "?");
        free(x);
        free(y);
    }
    const joule_descriptor *d = jc->c->g->nodes[i].plugin->desc;
    for (uint32_t k = 0; k < d->n_params && !r; k++) {
        char *x = line_of(buf, "param", d->params[k].name), *y = line_of(now, "param", d->params[k].name);
        if (y && (!x || strncmp(x, y, 32))) {
            const char *was = x && strchr(x, '\t') ? strchr(x, '\t') + 1 : "?";
            r = jl_printf("runs: parameter '%s' changed (%s -> %s)", d->params[k].name, was,
                          strchr(y, '\t') ? strchr(y, '\t') + 1 : "?");
        }
        free(x);
        free(y);
    }
    const jl_node *n = &jc->c->g->nodes[i];
    for (uint32_t k = 0; k < d->n_inputs && !r; k++) {
        if (n->in[k].node == JL_NO_NODE)
            continue;
        const char *up = jc->c->g->nodes[n->in[k].node].name;
        char *x = line_of(buf, "upstream", up), *y = line_of(now, "upstream", up);
        if (!x || !y || strcmp(x, y))
            r = jl_printf("runs: upstream node '%s' changed", up);
        free(x);
        free(y);
    }
    free(now);
    return r ? r : jl_strdup("runs: no entry (removed, or evicted to keep the size bound)");
}

static void explain(jl_job_cache *jc)
{
    jl_cache_run *c = jc->c;
    const joule_graph *g = c->g;
    jc->why = jl_calloc(jc->n, sizeof *jc->why);
    for (size_t i = 0; i < jc->n; i++) {
        const jl_node *n = &g->nodes[i];
        uint32_t role = desc_role(n);
        if (jc->plan[i] == JL_PLAN_REPLAY)
            jc->why[i] = jl_strdup("replayed from the cache");
        else if (jc->plan[i] == JL_PLAN_SKIP)
            jc->why[i] = jl_strdup("skipped: what it feeds is replayed or current");
        else if (jc->plan[i] == JL_PLAN_CURRENT)
            jc->why[i] = jl_strdup("current: its files are as it wrote them for this input, untouched since "
                                   "(--refresh writes them again)");
        else if (role == JOULE_ROLE_SINK && jc->sink_why[i])
            jc->why[i] = jl_printf("runs: %s", jc->sink_why[i]);
        else if (role == JOULE_ROLE_SINK)
            jc->why[i] = jl_strdup(c->pure[i] && n->cache != JL_CACHE_NO
                                       ? "runs: a sink whose files cannot be checked (standard output, or none)"
                                       : "runs: a sink (its files are always written)");
        else if (n->cache == JL_CACHE_NO)
            jc->why[i] = jl_strdup("runs: cache = no");
        else if (!c->pure[i])
            jc->why[i] = jl_strdup("runs: not cacheable (its plugin, or one upstream, is not a pure function)");
        else if (!c->cacheable[i])
            jc->why[i] = jl_strdup("runs: a source is cached only with cache = yes");
        else if (c->refresh)
            jc->why[i] = jl_strdup("runs: --refresh");
        else
            jc->why[i] = why_missed(jc, i);
    }
}

const char *jl_job_cache_why(const jl_job_cache *jc, size_t node)
{
    return jc && jc->why ? jc->why[node] : NULL;
}

/* ---- the replay source ---------------------------------------------------*/

static int replay_open(const joule_open_args *a, void **self)
{
    (void)a;
    *self = NULL;
    return JOULE_ERROR; /* never called: the scheduler opens replays itself */
}

static int replay_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    (void)in;
    replay *rp = self;
    uint32_t room = UINT32_MAX;
    for (uint32_t p = 0; p < rp->n_ports; p++)
        if (out[p].capacity < room)
            room = out[p].capacity;
    if (room > rp->cap) {
        rp->cap = room;
        rp->data = jl_realloc(rp->data, (size_t)room * rp->max_cols * sizeof *rp->data);
        rp->times = jl_realloc(rp->times, (size_t)room * sizeof *rp->times);
    }
    uint32_t p, n;
    int rc = jl_entry_read(rp->r, room, &p, &n, rp->data, rp->times);
    if (rc == 0)
        return JOULE_END;
    if (rc < 0 || p >= rp->n_ports) {
        /* verified when opened: the file changed or the disk failed since */
        if (rp->h)
            rp->h->error(rp->h, "its cache entry could not be read (%s): run again, or with --refresh",
                         rc < 0 ? strerror(errno) : "a record of another port");
        return JOULE_ERROR;
    }
    memcpy(out[p].data, rp->data, (size_t)n * out[p].n_columns * sizeof *rp->data);
    if (out[p].times)
        memcpy(out[p].times, rp->times, (size_t)n * sizeof *rp->times);
    out[p].n_rows = n;
    return JOULE_OK;
}

void jl_job_cache_replay_host(void *self, const joule_host *host)
{
    if (self)
        ((replay *)self)->h = host;
}

static void replay_close(void *self)
{
    replay *rp = self;
    if (!rp)
        return;
    /* the reader stays open until the job ends (jl_job_cache_end): the
     * formats' names and units, which consumers hold, are its memory */
    free(rp->data);
    free(rp->times);
    free(rp);
}

int jl_job_cache_replay(jl_job_cache *jc, size_t node, joule_format *out_fmts, const joule_descriptor **desc,
                        void **self)
{
    const jl_node *n = &jc->c->g->nodes[node];
    const joule_descriptor *d = n->plugin->desc;
    jl_entry_reader *r = jc->readers[node];
    if (!r || jl_entry_ports(r) != d->n_outputs)
        return -1;
    if (!jc->replay_desc)
        jc->replay_desc = jl_calloc(jc->n, sizeof *jc->replay_desc);
    joule_descriptor *rd = &jc->replay_desc[node];
    rd->abi_version = JOULE_ABI_VERSION;
    rd->struct_size = sizeof *rd;
    rd->name = d->name; /* messages name the plugin whose output it is */
    rd->version = d->version;
    rd->summary = "replays a cached stream";
    rd->role = JOULE_ROLE_SOURCE;
    rd->n_outputs = d->n_outputs;
    rd->outputs = d->outputs;
    rd->open = replay_open;
    rd->process = replay_process;
    rd->close = replay_close;
    replay *rp = jl_calloc(1, sizeof *rp);
    rp->r = r;
    rp->n_ports = d->n_outputs;
    for (uint32_t p = 0; p < d->n_outputs; p++) {
        out_fmts[p] = *jl_entry_format(r, p);
        out_fmts[p].length = jl_entry_rows(r, p);
        /* as a source: it fills the room it is given */
        out_fmts[p].out_num = 1;
        out_fmts[p].out_den = 1;
        out_fmts[p].flags = 0;
        if (out_fmts[p].n_columns > rp->max_cols)
            rp->max_cols = out_fmts[p].n_columns;
    }
    *desc = rd;
    *self = rp;
    return 0;
}

/* ---- recording -----------------------------------------------------------*/

void jl_job_cache_record(jl_job_cache *jc, size_t node, const joule_format *out_fmts)
{
    if (!jc || jc->plan[node] != JL_PLAN_RECORD || jc->dup[node])
        return;
    const joule_descriptor *d = jc->c->g->nodes[node].plugin->desc;
    char *why = NULL;
    jc->writers[node] = jl_entry_create(jc->c->store, jc->keys[node], d->n_outputs, out_fmts, &why);
    free(why); /* a cache that cannot be written: the job runs as without */
}

void jl_job_cache_rows(jl_job_cache *jc, size_t node, uint32_t port, const joule_buffer *b)
{
    if (!jc || !jc->writers[node] || !b->n_rows)
        return;
    jl_entry_writer *w = jc->writers[node];
    if (jl_entry_append(w, port, b->data, b->times, b->n_rows) ||
        (jc->limit[node] && jl_entry_size(w) > jc->limit[node])) {
        if (jc->limit[node] && jl_entry_size(w) > jc->limit[node]) {
            pthread_mutex_lock(&jc->c->mu);
            jc->c->fig.too_large++;
            pthread_mutex_unlock(&jc->c->mu);
        }
        jl_entry_abort(w);
        jc->writers[node] = NULL;
    }
}

void jl_job_cache_placed(jl_job_cache *jc, const jl_outfile *outs, size_t n_outs)
{
    if (!jc)
        return;
    char **paths = jl_calloc(n_outs ? n_outs : 1, sizeof *paths);
    for (size_t i = 0; i < jc->n; i++) {
        if (!jc->has_memo[i] || jc->plan[i] != JL_PLAN_RUN)
            continue;
        size_t np = 0;
        int to_stdout = 0;
        for (size_t k = 0; k < n_outs; k++)
            if (outs[k].node == i) {
                to_stdout |= outs[k].to_stdout;
                paths[np++] = outs[k].path;
            }
        if (!to_stdout)
            jl_outmemo_write(jl_store_dir(jc->c->store), jc->memo_keys[i], paths, np);
    }
    free(paths);
}

void jl_job_cache_end(jl_job_cache *jc, int ok, const double *busy)
{
    if (!jc)
        return;
    const joule_graph *g = jc->c->g;
    for (size_t i = 0; i < jc->n; i++) {
        jl_entry_writer *w = jc->writers[i];
        if (!w)
            continue;
        jc->writers[i] = NULL;
        if (!ok) {
            jl_entry_abort(w);
            continue;
        }
        /* Its cost: its own time and that of everything upstream of it that
         * ran in this job — what a replay saves. */
        char *up = jl_calloc(jc->n, 1);
        up[i] = 1;
        double cost = 0;
        for (size_t oi = g->n; oi-- > 0;) {
            size_t k = g->order[oi];
            if (!up[k])
                continue;
            cost += busy ? busy[k] : 0;
            const jl_node *n = &g->nodes[k];
            for (uint32_t p = 0; p < n->plugin->desc->n_inputs; p++)
                if (n->in[p].node != JL_NO_NODE)
                    up[n->in[p].node] = 1;
        }
        free(up);
        char *why = NULL;
        if (jl_entry_commit(w, cost, &why))
            free(why);
        else
            remember(jc, i);
    }
    free_job(jc);
}

/* ---- the public maintenance API (joule.h) -------------------------------*/

static jl_store *open_for_tools(const char *dir, char **dir_used, char **why)
{
    *dir_used = dir && *dir ? jl_strdup(dir) : jl_cache_default_dir();
    if (!*dir_used) {
        *why = jl_strdup("no cache folder: set JOULE_CACHE_DIR or HOME");
        return NULL;
    }
    return jl_store_open(*dir_used, DEFAULT_TTL, 0, why);
}

int joule_cache_usage_get(const char *dir, joule_cache_usage *u, char **dir_used, char **why)
{
    memset(u, 0, sizeof *u);
    jl_store *s = open_for_tools(dir, dir_used, why);
    if (!s)
        return -1;
    jl_store_usage su;
    int rc = jl_store_usage_get(s, &su);
    if (!rc) {
        u->entries = su.entries;
        u->bytes = su.bytes;
        u->expired = su.expired;
        u->oldest_s = su.oldest_s;
    } else {
        *why = jl_printf("%s: cannot be read: %s", *dir_used, strerror(errno));
    }
    jl_store_close(s);
    return rc ? -1 : 0;
}

int joule_cache_prune(const char *dir, double older_than, uint64_t *removed, uint64_t *freed, char **dir_used,
                      char **why)
{
    *removed = *freed = 0;
    jl_store *s = open_for_tools(dir, dir_used, why);
    if (!s)
        return -1;
    int rc = jl_store_prune(s, older_than, removed, freed, why);
    double memo_age = older_than > 0 && older_than < DEFAULT_TTL ? older_than : DEFAULT_TTL;
    jl_memos_prune(jl_store_dir(s), "explain", memo_age);
    jl_memos_prune(jl_store_dir(s), "outputs", memo_age);
    jl_memos_prune(jl_store_dir(s), "probe", memo_age);
    jl_store_close(s);
    return rc ? -1 : 0;
}

int joule_cache_clear(const char *dir, uint64_t *removed, uint64_t *freed, char **dir_used, char **why)
{
    *removed = *freed = 0;
    jl_store *s = open_for_tools(dir, dir_used, why);
    if (!s)
        return -1;
    int rc = jl_store_clear(s, removed, freed, why);
    jl_memos_prune(jl_store_dir(s), "explain", -1);
    jl_memos_prune(jl_store_dir(s), "outputs", -1);
    jl_memos_prune(jl_store_dir(s), "probe", -1);
    jl_store_close(s);
    return rc ? -1 : 0;
}
