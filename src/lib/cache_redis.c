/* cache_redis.c — see cache_redis.h. */
#include "config.h"

#include "cache_redis.h"
#include "util.h"

#include <hiredis/hiredis.h>
#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define PIECE ((size_t)4 << 20)   /* bytes per piece: well under Redis's 512 MB values */
#define MAX_ENTRY ((uint64_t)1 << 34) /* 16 GiB: a meta key claiming more is damaged */
#define LEASE_MS 120000           /* a lease outlives a crashed holder by this much */
#define CONNECT_S 1.0
#define COMMAND_S 5.0

struct jl_redis {
    char *host;
    int port, db;
    long long ttl_ms; /* 0: no expiry */
    void (*say)(const char *msg);
    pthread_mutex_t mu;
    redisContext **idle; /* connections not in use: one per thread that used one */
    size_t n_idle, cap_idle;
    int down;            /* after the first error: not used again */
    char token[96];      /* this process's leases */
    uint64_t hits, corrupt;
};

int jl_redis_url_check(const char *url, char **why)
{
    *why = NULL;
    if (strncmp(url, "redis://", 8)) {
        *why = jl_printf("redis = %s: not a redis:// address (redis://HOST:PORT/DB)", url);
        return -1;
    }
    const char *h = url + 8;
    if (strchr(h, '@')) {
        *why = jl_printf("redis = %s: a password does not belong in a graph file: put it in $JOULE_REDIS_PASSWORD",
                         url);
        return -1;
    }
    size_t hl = strcspn(h, ":/");
    if (!hl) {
        *why = jl_printf("redis = %s: no host", url);
        return -1;
    }
    const char *p = h + hl;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/')) {
            *why = jl_printf("redis = %s: the port must be a number from 1 to 65535", url);
            return -1;
        }
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 1000000) {
            *why = jl_printf("redis = %s: the database must be a number (redis://HOST:PORT/0)", url);
            return -1;
        }
    }
    return 0;
}

jl_redis *jl_redis_new(const char *url, double ttl, void (*say)(const char *msg))
{
    jl_redis *r = jl_calloc(1, sizeof *r);
    const char *h = url + 8;
    size_t hl = strcspn(h, ":/");
    r->host = jl_strndup(h, hl);
    r->port = 6379;
    const char *p = h + hl;
    if (*p == ':')
        r->port = (int)strtol(p + 1, (char **)&p, 10);
    if (*p == '/' && p[1])
        r->db = (int)strtol(p + 1, NULL, 10);
    r->ttl_ms = ttl > 0 ? (long long)(ttl * 1000) : 0;
    r->say = say;
    pthread_mutex_init(&r->mu, NULL);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(r->token, sizeof r->token, "%.63s:%ld:%lld", host, (long)getpid(),
             (long long)tv.tv_sec * 1000000 + tv.tv_usec);
    return r;
}

void jl_redis_free(jl_redis *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_idle; i++)
        redisFree(r->idle[i]);
    free(r->idle);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r);
}

/* The first error: said once, and the tier is given up for this run. */
static void went_down(jl_redis *r, const char *what)
{
    pthread_mutex_lock(&r->mu);
    int first = !r->down;
    r->down = 1;
    pthread_mutex_unlock(&r->mu);
    if (first && r->say) {
        char *m = jl_printf("warning: Redis at %s:%d: %s: going on with the local cache", r->host, r->port, what);
        r->say(m);
        free(m);
    }
}

static redisContext *take(jl_redis *r)
{
    pthread_mutex_lock(&r->mu);
    if (r->down) {
        pthread_mutex_unlock(&r->mu);
        return NULL;
    }
    redisContext *c = r->n_idle ? r->idle[--r->n_idle] : NULL;
    pthread_mutex_unlock(&r->mu);
    if (c)
        return c;
    struct timeval ct = {(time_t)CONNECT_S, (suseconds_t)((CONNECT_S - (long)CONNECT_S) * 1e6)};
    c = redisConnectWithTimeout(r->host, r->port, ct);
    if (!c || c->err) {
        char *m = jl_printf("cannot connect: %s", c ? c->errstr : "out of memory");
        went_down(r, m);
        free(m);
        if (c)
            redisFree(c);
        return NULL;
    }
    struct timeval cmd = {(time_t)COMMAND_S, 0};
    redisSetTimeout(c, cmd);
    const char *pw = getenv("JOULE_REDIS_PASSWORD");
    redisReply *rep = NULL;
    if (pw && *pw)
        rep = redisCommand(c, "AUTH %s", pw);
    if (pw && *pw && (!rep || rep->type == REDIS_REPLY_ERROR)) {
        char *m = jl_printf("AUTH refused: %s", rep ? rep->str : c->errstr);
        went_down(r, m);
        free(m);
        freeReplyObject(rep);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(rep);
    rep = r->db ? redisCommand(c, "SELECT %d", r->db) : NULL;
    if (r->db && (!rep || rep->type == REDIS_REPLY_ERROR)) {
        char *m = jl_printf("SELECT %d refused: %s", r->db, rep ? rep->str : c->errstr);
        went_down(r, m);
        free(m);
        freeReplyObject(rep);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(rep);
    return c;
}

/* Give back a connection; a broken one is closed (and the tier given up). */
static void give(jl_redis *r, redisContext *c)
{
    if (!c)
        return;
    if (c->err) {
        went_down(r, c->errstr);
        redisFree(c);
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (r->n_idle == r->cap_idle)
        r->idle = jl_realloc(r->idle, (r->cap_idle = r->cap_idle ? 2 * r->cap_idle : 4) * sizeof *r->idle);
    r->idle[r->n_idle++] = c;
    pthread_mutex_unlock(&r->mu);
}

/* An error reply (OOM when full, READONLY, ...): the tier is given up. */
static int reply_error(jl_redis *r, redisContext *c, redisReply *rep)
{
    if (!rep) {
        went_down(r, c->errstr[0] ? c->errstr : "no reply");
        return 1;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        went_down(r, rep->str);
        return 1;
    }
    return 0;
}

static void key_name(char *buf, size_t n, jl_key k, const char *what)
{
    snprintf(buf, n, "joule:1:%016llx%016llx:%s", (unsigned long long)k.hi, (unsigned long long)k.lo, what);
}

int jl_redis_fetch(jl_redis *r, jl_key key, const char *path)
{
    redisContext *c = take(r);
    if (!c)
        return JL_ENTRY_MISS;
    char meta[80];
    key_name(meta, sizeof meta, key, "m");
    redisReply *rep = redisCommand(c, "GET %s", meta);
    if (reply_error(r, c, rep)) {
        freeReplyObject(rep);
        give(r, c);
        return JL_ENTRY_MISS;
    }
    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        give(r, c);
        return JL_ENTRY_MISS;
    }
    unsigned long long n_pieces = 0, size = 0, sum = 0;
    int fields = sscanf(rep->str, "%llu %llu %llx", &n_pieces, &size, &sum);
    freeReplyObject(rep);
    int rc = JL_ENTRY_CORRUPT;
    unsigned char *bytes = NULL;
    if (fields == 3 && size <= MAX_ENTRY && n_pieces == (size ? (size + PIECE - 1) / PIECE : 1)) {
        bytes = malloc(size ? size : 1);
        /* every piece asked for at once: one round trip */
        char name[96];
        for (unsigned long long i = 0; bytes && i < n_pieces; i++) {
            key_name(name, sizeof name, key, "");
            snprintf(name + strlen(name), sizeof name - strlen(name), "%llu", i);
            redisAppendCommand(c, "GET %s", name);
        }
        uint64_t at = 0;
        int ok = bytes != NULL;
        for (unsigned long long i = 0; bytes && i < n_pieces; i++) {
            redisReply *pr = NULL;
            if (redisGetReply(c, (void **)&pr) != REDIS_OK) {
                went_down(r, c->errstr);
                ok = 0;
                rc = JL_ENTRY_MISS;
                break;
            }
            if (!pr || pr->type != REDIS_REPLY_STRING || pr->len > size - at ||
                (i + 1 < n_pieces && pr->len != PIECE)) {
                ok = 0; /* a piece missing (evicted) or of the wrong size */
            } else {
                memcpy(bytes + at, pr->str, pr->len);
                at += pr->len;
            }
            freeReplyObject(pr);
        }
        if (ok && at == size && XXH3_64bits(bytes, size) == sum)
            rc = JL_ENTRY_HIT;
    }
    if (rc == JL_ENTRY_CORRUPT && !c->err) {
        /* never served, and not found again: it will be computed anew */
        rep = redisCommand(c, "DEL %s", meta);
        freeReplyObject(rep);
    }
    if (rc == JL_ENTRY_HIT) {
        /* served: recent again */
        if (r->ttl_ms) {
            char name[96];
            redisAppendCommand(c, "PEXPIRE %s %lld", meta, r->ttl_ms);
            for (unsigned long long i = 0; i < n_pieces; i++) {
                key_name(name, sizeof name, key, "");
                snprintf(name + strlen(name), sizeof name - strlen(name), "%llu", i);
                redisAppendCommand(c, "PEXPIRE %s %lld", name, r->ttl_ms);
            }
            for (unsigned long long i = 0; i <= n_pieces; i++) {
                redisReply *x = NULL;
                if (redisGetReply(c, (void **)&x) != REDIS_OK)
                    break;
                freeReplyObject(x);
            }
        }
        char *tmp = jl_printf("%s.redis-%ld.tmp", path, (long)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        ssize_t w = 0;
        uint64_t done = 0;
        while (fd >= 0 && done < size && (w = write(fd, bytes + done, size - done)) > 0)
            done += (uint64_t)w;
        if (fd < 0 || done != size || close(fd) || rename(tmp, path)) {
            if (fd >= 0 && done != size)
                close(fd);
            unlink(tmp);
            rc = JL_ENTRY_MISS; /* the local disk could not take it: computed here */
        }
        free(tmp);
    }
    free(bytes);
    pthread_mutex_lock(&r->mu);
    r->hits += rc == JL_ENTRY_HIT;
    r->corrupt += rc == JL_ENTRY_CORRUPT;
    pthread_mutex_unlock(&r->mu);
    give(r, c);
    return rc;
}

int jl_redis_probe(jl_redis *r, jl_key key)
{
    redisContext *c = take(r);
    if (!c)
        return JL_ENTRY_MISS;
    char meta[80];
    key_name(meta, sizeof meta, key, "m");
    redisReply *rep = redisCommand(c, "EXISTS %s", meta);
    int rc = !reply_error(r, c, rep) && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ? JL_ENTRY_HIT
                                                                                            : JL_ENTRY_MISS;
    freeReplyObject(rep);
    give(r, c);
    return rc;
}

void jl_redis_probe_many(jl_redis *r, const jl_key *keys, size_t n, int *states)
{
    redisContext *c = take(r);
    if (!c)
        return;
    char meta[80];
    size_t asked = 0;
    for (size_t i = 0; i < n; i++)
        if (states[i] != JL_ENTRY_HIT) {
            key_name(meta, sizeof meta, keys[i], "m");
            redisAppendCommand(c, "EXISTS %s", meta);
            asked++;
        }
    for (size_t i = 0; i < n && asked; i++) {
        if (states[i] == JL_ENTRY_HIT)
            continue;
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK || reply_error(r, c, rep)) {
            freeReplyObject(rep);
            break; /* the connection is given up: what is left stays a miss */
        }
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
            states[i] = JL_ENTRY_HIT;
        freeReplyObject(rep);
        asked--;
    }
    give(r, c);
}

void jl_redis_store(jl_redis *r, jl_key key, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || (uint64_t)st.st_size > MAX_ENTRY) {
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *bytes = malloc(size ? size : 1);
    size_t done = 0;
    ssize_t got = 0;
    while (bytes && done < size && (got = read(fd, bytes + done, size - done)) > 0)
        done += (size_t)got;
    close(fd);
    if (!bytes || done != size) {
        free(bytes);
        return;
    }
    redisContext *c = take(r);
    if (!c) {
        free(bytes);
        return;
    }
    size_t n_pieces = size ? (size + PIECE - 1) / PIECE : 1;
    char name[96];
    /* the pieces, then the meta key: a reader that finds the meta finds
     * every piece (unless evicted since: then the sums tell) */
    for (size_t i = 0; i < n_pieces; i++) {
        key_name(name, sizeof name, key, "");
        snprintf(name + strlen(name), sizeof name - strlen(name), "%zu", i);
        size_t len = i + 1 < n_pieces ? PIECE : size - i * PIECE;
        if (r->ttl_ms)
            redisAppendCommand(c, "SET %s %b PX %lld", name, bytes + i * PIECE, len, r->ttl_ms);
        else
            redisAppendCommand(c, "SET %s %b", name, bytes + i * PIECE, len);
    }
    int ok = 1;
    for (size_t i = 0; i < n_pieces; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK || reply_error(r, c, rep))
            ok = 0;
        freeReplyObject(rep);
        if (c->err)
            break;
    }
    if (ok) {
        char meta[80], val[80];
        key_name(meta, sizeof meta, key, "m");
        snprintf(val, sizeof val, "%zu %zu %016llx", n_pieces, size, (unsigned long long)XXH3_64bits(bytes, size));
        redisReply *rep = r->ttl_ms ? redisCommand(c, "SET %s %s PX %lld", meta, val, r->ttl_ms)
                                    : redisCommand(c, "SET %s %s", meta, val);
        reply_error(r, c, rep);
        freeReplyObject(rep);
    }
    free(bytes);
    give(r, c);
}

int jl_redis_lease(jl_redis *r, jl_key key)
{
    redisContext *c = take(r);
    if (!c)
        return -1;
    char name[80];
    key_name(name, sizeof name, key, "l");
    redisReply *rep = redisCommand(c, "SET %s %s NX PX %d", name, r->token, LEASE_MS);
    int rc = reply_error(r, c, rep) ? -1 : rep->type == REDIS_REPLY_STATUS ? 1 : 0;
    freeReplyObject(rep);
    give(r, c);
    return rc;
}

void jl_redis_release(jl_redis *r, jl_key key)
{
    redisContext *c = take(r);
    if (!c)
        return;
    char name[80];
    key_name(name, sizeof name, key, "l");
    /* only our own: a lease that expired may be another's by now */
    redisReply *rep = redisCommand(
        c, "EVAL %s 1 %s %s", "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        name, r->token);
    reply_error(r, c, rep);
    freeReplyObject(rep);
    give(r, c);
}

void jl_redis_counts(jl_redis *r, uint64_t *hits, uint64_t *corrupt)
{
    pthread_mutex_lock(&r->mu);
    *hits = r->hits;
    *corrupt = r->corrupt;
    pthread_mutex_unlock(&r->mu);
}
