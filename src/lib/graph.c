/* graph.c — loading and validating graph files.
 *
 * The file is read with inih, through a line reader of our own: Debian's
 * libinih is built without line numbers in the handler and cuts lines at
 * 200 characters, so the reader counts lines (every message can say
 * graph.ini:12:), notices section headers (inih says nothing of an empty
 * section), and refuses over-long lines instead of letting them be cut.
 *
 * Before any line is parsed, the file is checked for being one: a
 * directory, a device, or a first block that is not text (an audio file
 * given in the graph's place) gets one line saying what it is, not one
 * error per line of garbage. Lines are never held beyond inih's length,
 * and past the first MAX_ERRORS errors only a count is kept.
 *
 * Loading is two passes: collect every section and key with its line, then
 * validate everything and report every problem found, so that a user fixes
 * a graph in one go. Nothing runs until the whole graph is valid. */
#include "config.h"

#include "graph.h"
#include "cache_redis.h"
#include "param.h"
#include "pathtpl.h"
#include "registry.h"
#include "util.h"

#include <ini.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct kv {
    char *key, *value;
    char *where; /* "graph.ini:12" or "--set rms.frame=2048" */
    int used;
} kv;

typedef struct section {
    char *name;
    char *where;
    kv *kv;
    size_t n, cap;
} section;

/* Errors shown: past these, only a count. A file that is not a graph at
 * all would otherwise print one error per line, which buries the first. */
#define MAX_ERRORS 20
/* The first block, looked at before any line is parsed to tell text from
 * binary data; and the read buffer, from which lines are taken without
 * ever holding more than inih's line length of one line. */
#define PROBE_SIZE 4096
#define READ_SIZE 65536
#define USAGE_HINT "usage is joule run GRAPH FILE..."
/* Sections and keys kept, at most: a graph is written by hand (or a
 * script) and has tens of them. Past this the file is something else (a
 * log whose lines all begin with "[time]" would otherwise make a section
 * per line, each looked up among all the others). */
#define MAX_ENTRIES 10000
#define NO_GRAPH_TEXT "text with no [section] and no 'key = value' line"

typedef struct loader {
    const char *path;
    char *epath;       /* path fit for messages (control characters escaped) */
    int fd;
    unsigned char *buf;
    size_t pos, len;
    int eof;
    int read_errno;    /* a read failed: stop, and say so */
    int line;
    int in_section;    /* a section header has been seen (-1: a bad one) */
    int seen_header;   /* a line starting with '[' */
    int seen_equals;   /* a line with '=' */
    char *not_graph;   /* stopped reading: why this is not a graph file */
    size_t entries;    /* sections and keys kept */
    section *secs;
    size_t n, cap;
    jl_msgs errs;      /* the first MAX_ERRORS errors */
    size_t n_errs;     /* all errors, shown or not */
} loader;

static void gerr(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gerr(loader *L, const char *fmt, ...)
{
    L->n_errs++;
    if (L->errs.n >= MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = jl_vprintf(fmt, ap);
    va_end(ap);
    jl_msgs_add(&L->errs, "%s", s);
    free(s);
}

static section *find_section(loader *L, const char *name)
{
    for (size_t i = 0; i < L->n; i++)
        if (!strcmp(L->secs[i].name, name))
            return &L->secs[i];
    return NULL;
}

static void add_kv(section *s, const char *key, const char *value, char *where)
{
    if (s->n == s->cap)
        s->kv = jl_realloc(s->kv, (s->cap = s->cap ? s->cap * 2 : 8) * sizeof *s->kv);
    s->kv[s->n].key = jl_strdup(key);
    s->kv[s->n].value = jl_strdup(value);
    s->kv[s->n].where = where;
    s->kv[s->n].used = 0;
    s->n++;
}

static kv *find_kv(section *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->kv[i].key, key))
            return &s->kv[i];
    return NULL;
}

static int valid_node_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

/* Reads more of the file into L->buf (after what is left unread). Returns
 * the bytes added, 0 at the end or after a read error (kept in
 * L->read_errno). */
static size_t fill(loader *L)
{
    if (L->eof)
        return 0;
    if (L->pos > 0) {
        memmove(L->buf, L->buf + L->pos, L->len - L->pos);
        L->len -= L->pos;
        L->pos = 0;
    }
    for (;;) {
        ssize_t got = read(L->fd, L->buf + L->len, READ_SIZE - L->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0)
                L->read_errno = errno;
            L->eof = 1;
            return 0;
        }
        L->len += (size_t)got;
        return (size_t)got;
    }
}

/* Bytes that text does not hold: control characters other than tab, line
 * and page ends, and bytes that are not UTF-8. A sequence cut by the end of
 * the block is not judged. */
static size_t non_text_bytes(const unsigned char *s, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f)
                bad++;
            i++;
            continue;
        }
        size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!len) {
            bad++;
            i++;
            continue;
        }
        if (i + len > n)
            break;
        size_t k = 1;
        while (k < len && (s[i + k] & 0xc0) == 0x80)
            k++;
        if (k < len) {
            bad++;
            i++;
            continue;
        }
        i += len;
    }
    return bad;
}

/* Formats people put where the graph belongs, by their first bytes. */
static const char *known_format(const unsigned char *s, size_t n)
{
    if (n >= 12 && (!memcmp(s, "RIFF", 4) || !memcmp(s, "RIFX", 4) || !memcmp(s, "RF64", 4)) &&
        !memcmp(s + 8, "WAVE", 4))
        return "a WAV file";
    if (n >= 12 && !memcmp(s, "FORM", 4) && (!memcmp(s + 8, "AIFF", 4) || !memcmp(s + 8, "AIFC", 4)))
        return "an AIFF file";
    if (n >= 4 && !memcmp(s, "fLaC", 4))
        return "a FLAC file";
    if (n >= 4 && !memcmp(s, "OggS", 4))
        return "an Ogg file";
    if (n >= 4 && !memcmp(s, "caff", 4))
        return "a CAF file";
    if (n >= 4 && !memcmp(s, ".snd", 4))
        return "an AU file";
    if (n >= 3 && !memcmp(s, "ID3", 3))
        return "an MP3 file";
    if (n >= 2 && s[0] == 0xff && (s[1] & 0xe0) == 0xe0)
        return "MPEG audio";
    if (n >= 4 && !memcmp(s, "\x7f" "ELF", 4))
        return "a program";
    if (n >= 4 && !memcmp(s, "PK\x03\x04", 4))
        return "a zip archive";
    if (n >= 2 && s[0] == 0x1f && s[1] == 0x8b)
        return "gzip data";
    return NULL;
}

/* Whether the first block is text or something else given by mistake
 * (`joule run take.wav graph.ini`): returns NULL for text, else what it
 * is, for "not a graph file (...)". A few stray NUL or control bytes in a
 * graph are reported on their lines instead, and so is damage after a
 * first line that reads as a graph's (a file whose end was filled with NUL
 * bytes by a crash). */
static const char *sniff(const unsigned char *s, size_t n)
{
    if (n >= 2 && ((s[0] == 0xff && s[1] == 0xfe) || (s[0] == 0xfe && s[1] == 0xff)))
        return "UTF-16 text: save it as UTF-8";
    size_t bad = non_text_bytes(s, n);
    const char *fmt = known_format(s, n);
    if (fmt && bad)
        return fmt;
    if (bad * 10 <= n)
        return NULL;
    const unsigned char *nl = memchr(s, '\n', n);
    size_t first = nl ? (size_t)(nl - s) : n;
    if (first && !non_text_bytes(s, first)) {
        size_t i = 0;
        while (i < first && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == first || s[i] == '[' || s[i] == ';' || s[i] == '#' || memchr(s, '=', first))
            return NULL;
    }
    return "binary data";
}

/* inih's reader: one line per call, as fgets would give, but never more
 * than `num` - 1 characters of it kept: a longer line is an error and the
 * rest of it is skipped unread into memory (a 1 GB line costs a pass over
 * it, not 1 GB). A line with a NUL byte or a control character is an error
 * too; such lines reach inih empty. */
static char *reader(char *str, int num, void *stream)
{
    loader *L = stream;
    if (L->not_graph)
        return NULL;
    if (L->entries > MAX_ENTRIES) {
        L->not_graph = jl_printf("more than %d sections and keys by line %d", MAX_ENTRIES, L->line);
        return NULL;
    }
    size_t keep = (size_t)num - 1, len = 0, trail_cr = 0;
    int ended = 0;
    while (!ended) {
        if (L->pos == L->len && !fill(L))
            break;
        unsigned char c = L->buf[L->pos++];
        if (c == '\n') {
            ended = 1;
            break;
        }
        if (len < keep)
            str[len] = (char)c;
        len++;
        trail_cr = c == '\r' ? trail_cr + 1 : 0;
    }
    if (!ended && !len)
        return NULL;
    L->line++;
    len -= trail_cr; /* a CRLF file's line ends */
    int bad = 0;
    if (len > keep) {
        gerr(L, "%s:%d: line is longer than %d characters", L->epath, L->line, num - 1);
        bad = 1;
        len = keep;
    } else {
        for (size_t i = 0; i < len && !bad; i++) {
            unsigned char c = (unsigned char)str[i];
            if (!c) {
                gerr(L, "%s:%d: line contains a NUL byte (a graph file is text)", L->epath, L->line);
                bad = 1;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                gerr(L, "%s:%d: line contains the control character \\x%02x", L->epath, L->line, c);
                bad = 1;
            }
        }
    }
    str[len] = '\0';
    const char *p = str;
    while (*p == ' ' || *p == '\t')
        p++;
    if (bad) {
        /* what follows a broken header must not land in the section before */
        if (*p == '[')
            L->in_section = -1;
        str[0] = '\0';
        goto done;
    }
    /* Look at the line as inih will, to keep what inih does not tell. */
    if (*p == '[') {
        L->seen_header = 1;
        const char *e = strchr(p, ']');
        if (!e) {
            gerr(L, "%s:%d: section header without ']'", L->epath, L->line);
            str[0] = '\0';
            L->in_section = -1;
        } else {
            char *raw = jl_strndup(p + 1, (size_t)(e - p - 1));
            char *name = jl_strtrim(raw);
            free(raw);
            if (find_section(L, name)) {
                gerr(L, "%s:%d: section [%s] appears twice (first at %s)", L->epath, L->line, name,
                     find_section(L, name)->where);
                free(name);
                str[0] = '\0'; /* keep its keys out of the first one */
                L->in_section = -1;
            } else {
                if (L->n == L->cap)
                    L->secs = jl_realloc(L->secs, (L->cap = L->cap ? L->cap * 2 : 8) * sizeof *L->secs);
                section *s = &L->secs[L->n++];
                memset(s, 0, sizeof *s);
                L->entries++;
                s->name = name;
                s->where = jl_printf("%s:%d", L->epath, L->line);
                L->in_section = 1;
            }
        }
    } else if (*p && *p != ';' && *p != '#') {
        if (strchr(p, '='))
            L->seen_equals = 1;
        if (!strchr(p, '=') && !strchr(p, ':') && p == str)
            gerr(L, "%s:%d: expected 'key = value', found '%s'", L->epath, L->line, p);
        else if (L->in_section < 0)
            str[0] = '\0';
    }
done:
    /* Many errors and not one line of a graph: some other text file (a
     * CSV log given in the graph's place). Reading on would only count. */
    if (L->n_errs >= MAX_ERRORS && !L->seen_header && !L->seen_equals)
        L->not_graph = jl_strdup(NO_GRAPH_TEXT);
    return str;
}

static int handler(void *user, const char *sec, const char *key, const char *value)
{
    loader *L = user;
    if (!*sec) {
        gerr(L, "%s:%d: '%s' is outside any [section]", L->epath, L->line, key);
        return 1;
    }
    section *s = find_section(L, sec);
    if (!s)
        return 1; /* a repeated section, already reported */
    kv *prev = find_kv(s, key);
    if (prev) {
        gerr(L, "%s:%d: [%s] sets '%s' twice (first at %s)", L->epath, L->line, sec, key, prev->where);
        return 1;
    }
    add_kv(s, key, value, jl_printf("%s:%d", L->epath, L->line));
    L->entries++;
    return 1;
}

static void free_sections(loader *L)
{
    for (size_t i = 0; i < L->n; i++) {
        section *s = &L->secs[i];
        for (size_t j = 0; j < s->n; j++) {
            free(s->kv[j].key);
            free(s->kv[j].value);
            free(s->kv[j].where);
        }
        free(s->kv);
        free(s->name);
        free(s->where);
    }
    free(L->secs);
}

static const char *kind_name(uint32_t mask)
{
    switch (mask) {
    case JOULE_SIGNAL: return "signal";
    case JOULE_FRAMES: return "frames";
    case JOULE_EVENTS: return "events";
    case JOULE_SIGNAL | JOULE_FRAMES: return "signal or frames";
    case JOULE_SIGNAL | JOULE_EVENTS: return "signal or events";
    case JOULE_FRAMES | JOULE_EVENTS: return "frames or events";
    default: return "any stream";
    }
}

/* --set node.key=value: parsed into the graph as if written in the file. */
static void apply_set(loader *L, const char *set)
{
    /* Keys and values are echoed in messages: from the file they cannot
     * hold control characters (such lines are refused), nor from here. */
    for (const unsigned char *c = (const unsigned char *)set; *c; c++)
        if (*c < 0x20 || *c == 0x7f) {
            char *e = jl_escape(set);
            gerr(L, "--set %s: contains the control character \\x%02x", e, *c);
            free(e);
            return;
        }
    const char *dot = strchr(set, '.');
    const char *eq = strchr(set, '=');
    if (!dot || !eq || dot > eq || dot == set || eq == dot + 1) {
        gerr(L, "--set %s: expected NODE.KEY=VALUE", set);
        return;
    }
    char *node = jl_strndup(set, (size_t)(dot - set));
    char *rawkey = jl_strndup(dot + 1, (size_t)(eq - dot - 1));
    char *key = jl_strtrim(rawkey);
    char *value = jl_strtrim(eq + 1);
    free(rawkey);
    section *s = find_section(L, node);
    if (!s && (!strcmp(node, "graph") || !strcmp(node, "cache"))) {
        /* settings sections may be set from the command line alone */
        if (L->n == L->cap)
            L->secs = jl_realloc(L->secs, (L->cap = L->cap ? L->cap * 2 : 8) * sizeof *L->secs);
        s = &L->secs[L->n++];
        memset(s, 0, sizeof *s);
        s->name = jl_strdup(node);
        s->where = jl_strdup("--set");
    }
    if (!s) {
        const char **names = jl_malloc((L->n + 1) * sizeof *names);
        for (size_t i = 0; i < L->n; i++)
            names[i] = L->secs[i].name;
        const char *sug = jl_suggest(node, names, L->n);
        if (sug)
            gerr(L, "--set %s: no node or section '%s'; did you mean '%s'?", set, node, sug);
        else
            gerr(L, "--set %s: no node or section '%s'", set, node);
        free(names);
    } else {
        kv *k = find_kv(s, key);
        char *where = jl_printf("--set %s", set);
        if (k) {
            free(k->value);
            k->value = jl_strdup(value);
            free(k->where);
            k->where = where;
        } else {
            add_kv(s, key, value, where);
        }
    }
    free(node);
    free(key);
    free(value);
}

/* A setting's value checked as a parameter would be, so that settings and
 * parameters speak alike of overflow and range. */
static int setting(loader *L, const char *sec, kv *k, const joule_param *p, joule_value *v)
{
    char *why;
    if (!jl_param_parse(p, k->value, v, &why))
        return 0;
    gerr(L, "%s: [%s] %s %s", k->where, sec, k->key, why);
    free(why);
    return -1;
}

static void check_settings(loader *L, joule_graph *g)
{
    section *s = find_section(L, "graph");
    static const char *const gkeys[] = {"chunk", "threads", "memory", "timeout"};
    static const char *const ckeys[] = {"ttl", "memory", "dir", "enabled", "disk", "redis"};
    static const joule_param chunk = {"chunk", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX, "4096",
                                      1, 1 << 24, NULL, "rows", ""};
    static const joule_param threads = {"threads", JOULE_PARAM_INT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
                                        "auto", 1, 1024, NULL, "", ""};
    static const joule_param enabled = {"enabled", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "", ""};
    joule_value v;
    char *why;
    if (s) {
        for (size_t i = 0; i < s->n; i++) {
            kv *k = &s->kv[i];
            if (!strcmp(k->key, "chunk")) {
                if (!setting(L, "graph", k, &chunk, &v))
                    g->chunk_rows = (size_t)v.i;
            } else if (!strcmp(k->key, "threads")) {
                if (!strcmp(k->value, "auto"))
                    g->threads = 0;
                else if (!setting(L, "graph", k, &threads, &v))
                    g->threads = (int)v.i;
            } else if (!strcmp(k->key, "memory")) {
                size_t sz;
                if (jl_parse_size(k->value, &sz, &why)) {
                    gerr(L, "%s: [graph] memory %s", k->where, why);
                    free(why);
                } else if (sz < 65536) {
                    gerr(L, "%s: [graph] memory = %s is below the minimum 64K", k->where, k->value);
                } else {
                    g->memory = sz;
                }
            } else if (!strcmp(k->key, "timeout")) {
                /* per input; --timeout overrides it. "0" (or "none")
                 * means no limit, as when the key is absent. */
                double d;
                if (!strcmp(k->value, "none")) {
                    g->timeout = 0;
                } else if (jl_parse_duration(k->value, &d, &why)) {
                    gerr(L, "%s: [graph] timeout %s", k->where, why);
                    free(why);
                } else {
                    g->timeout = d;
                }
            } else {
                const char *sug = jl_suggest(k->key, gkeys, 4);
                gerr(L, "%s: [graph] has no setting '%s'%s%s%s", k->where, k->key,
                     sug ? "; did you mean '" : " (known: chunk, threads, memory, timeout)", sug ? sug : "",
                     sug ? "'?" : "");
            }
        }
    }
    s = find_section(L, "cache");
    if (s) {
        for (size_t i = 0; i < s->n; i++) {
            kv *k = &s->kv[i];
            size_t sz;
            double d;
            if (!strcmp(k->key, "ttl")) {
                if (jl_parse_duration(k->value, &d, &why)) {
                    gerr(L, "%s: [cache] ttl %s", k->where, why);
                    free(why);
                } else {
                    g->cache.ttl = d;
                }
            } else if (!strcmp(k->key, "memory") || !strcmp(k->key, "disk")) {
                if (jl_parse_size(k->value, &sz, &why)) {
                    gerr(L, "%s: [cache] %s %s", k->where, k->key, why);
                    free(why);
                } else if (k->key[0] == 'm') {
                    g->cache.memory = sz;
                } else {
                    g->cache.disk = sz;
                }
            } else if (!strcmp(k->key, "dir")) {
                free(g->cache.dir);
                g->cache.dir = *k->value ? jl_strdup(k->value) : NULL;
            } else if (!strcmp(k->key, "enabled")) {
                if (!setting(L, "cache", k, &enabled, &v))
                    g->cache.enabled = v.b;
            } else if (!strcmp(k->key, "redis")) {
                free(g->cache.redis);
                g->cache.redis = NULL;
                if (*k->value && jl_redis_url_check(k->value, &why)) {
                    gerr(L, "%s: [cache] %s", k->where, why);
                    free(why);
                } else if (*k->value) {
                    g->cache.redis = jl_strdup(k->value);
                }
            } else {
                const char *sug = jl_suggest(k->key, ckeys, 6);
                gerr(L, "%s: [cache] has no setting '%s'%s%s%s", k->where, k->key,
                     sug ? "; did you mean '" : " (known: enabled, ttl, memory, disk, dir, redis)", sug ? sug : "",
                     sug ? "'?" : "");
            }
        }
    }
}

/* Parameters of one node: every key checked against the declarations,
 * every declared parameter given a value. */
static void check_params(loader *L, section *s, jl_node *n)
{
    const joule_descriptor *d = n->plugin->desc;
    n->values = jl_calloc(d->n_params ? d->n_params : 1, sizeof *n->values);
    n->texts = jl_calloc(d->n_params ? d->n_params : 1, sizeof *n->texts);
    const char **names = jl_malloc((d->n_params + 1) * sizeof *names);
    for (uint32_t i = 0; i < d->n_params; i++)
        names[i] = d->params[i].name;
    int ok = 1;
    for (size_t j = 0; j < s->n; j++) {
        kv *k = &s->kv[j];
        if (!strcmp(k->key, "plugin") || !strcmp(k->key, "input"))
            continue;
        if (!strcmp(k->key, "cache")) {
            static const char *const policies[] = {"auto", "yes", "no", NULL};
            static const joule_param policy = {"cache", JOULE_PARAM_ENUM, 0, "auto", 0, 0, policies, "", ""};
            joule_value v;
            char *why;
            if (jl_param_parse(&policy, k->value, &v, &why)) {
                gerr(L, "%s: node '%s': cache %s", k->where, n->name, why);
                free(why);
                ok = 0;
            } else {
                n->cache = (int)v.e;
            }
            continue;
        }
        uint32_t i;
        for (i = 0; i < d->n_params; i++)
            if (!strcmp(k->key, d->params[i].name))
                break;
        if (i == d->n_params) {
            const char *sug = jl_suggest(k->key, names, d->n_params);
            if (sug)
                gerr(L, "%s: node '%s': plugin '%s' has no parameter '%s'; did you mean '%s'?",
                            k->where, n->name, d->name, k->key, sug);
            else
                gerr(L, "%s: node '%s': plugin '%s' has no parameter '%s' (see: joule inspect %s)",
                            k->where, n->name, d->name, k->key, d->name);
            ok = 0;
            continue;
        }
        const joule_param *p = &d->params[i];
        char *why;
        n->texts[i] = jl_strdup(k->value);
        if (jl_param_parse(p, n->texts[i], &n->values[i], &why)) {
            gerr(L, "%s: node '%s': %s %s", k->where, n->name, p->name, why);
            free(why);
            ok = 0;
            continue;
        }
        if ((p->flags & JOULE_PARAM_OUT_PATH) && jl_path_check(k->value, &why)) {
            gerr(L, "%s: node '%s': %s: %s", k->where, n->name, p->name, why);
            free(why);
            ok = 0;
        }
    }
    for (uint32_t i = 0; i < d->n_params; i++) {
        const joule_param *p = &d->params[i];
        if (n->texts[i])
            continue;
        if (!p->def) {
            gerr(L, "%s: node '%s': plugin '%s' needs '%s = ...' (%s)", n->where, n->name, d->name,
                        p->name, p->help ? p->help : jl_param_type_name(p->type));
            ok = 0;
            continue;
        }
        char *why;
        n->texts[i] = jl_strdup(p->def);
        if (jl_param_parse(p, n->texts[i], &n->values[i], &why)) {
            gerr(L, "%s: node '%s': the default of %s is invalid (a plugin bug): %s", n->where,
                        n->name, p->name, why);
            free(why);
            ok = 0;
        }
    }
    free(names);
    if (ok && d->check) {
        /* The plugin is told of MSG_SIZE bytes; the guard after them shows
         * a plugin that writes past what it was given (a defect that would
         * otherwise overwrite the host's memory unseen). Its text is
         * escaped: it is shown on a terminal. */
        enum { MSG_SIZE = 512, GUARD = 512 };
        char msg[MSG_SIZE + GUARD];
        memset(msg, 0, MSG_SIZE);
        memset(msg + MSG_SIZE, 0x5a, GUARD);
        int bad = d->check(n->values, msg, MSG_SIZE);
        int over = 0;
        for (size_t i = MSG_SIZE; i < sizeof msg && !over; i++)
            over = msg[i] != 0x5a;
        msg[MSG_SIZE - 1] = '\0';
        if (over) {
            gerr(L, "%s: node '%s': plugin '%s' wrote past the %d bytes its check() was given (a defect of the "
                    "plugin)", n->where, n->name, d->name, MSG_SIZE);
        } else if (bad) {
            char *e = jl_escape(msg);
            gerr(L, "%s: node '%s': %s", n->where, n->name, *e ? e : "invalid parameters");
            free(e);
        }
    }
}

/* The `input` key: "a, b.port" bound to the declared input ports in order. */
static void check_inputs(loader *L, joule_graph *g, section *s, jl_node *n, const char **node_names)
{
    const joule_descriptor *d = n->plugin->desc;
    n->in = jl_malloc((d->n_inputs ? d->n_inputs : 1) * sizeof *n->in);
    for (uint32_t i = 0; i < d->n_inputs; i++)
        n->in[i].node = JL_NO_NODE;
    kv *k = find_kv(s, "input");
    if (d->role == JOULE_ROLE_SOURCE) {
        if (k)
            gerr(L, "%s: node '%s': plugin '%s' is a source and takes no input", k->where, n->name,
                        d->name);
        return;
    }
    char **items = NULL;
    size_t m = k ? jl_split_list(k->value, &items) : 0;
    const char *where = k ? k->where : n->where;
    if (m > d->n_inputs)
        gerr(L, "%s: node '%s': plugin '%s' takes %u input%s, %zu given", where, n->name, d->name,
                    d->n_inputs, d->n_inputs == 1 ? "" : "s", m);
    for (uint32_t i = 0; i < d->n_inputs && i < m; i++) {
        char *item = items[i];
        char *dot = strchr(item, '.');
        const char *port = NULL;
        if (dot) {
            *dot = '\0';
            port = dot + 1;
        }
        size_t src;
        for (src = 0; src < g->n; src++)
            if (!strcmp(g->nodes[src].name, item))
                break;
        if (src == g->n) {
            const char *sug = jl_suggest(item, node_names, g->n);
            if (sug)
                gerr(L, "%s: node '%s': input '%s' is not a node; did you mean '%s'?", where,
                            n->name, item, sug);
            else
                gerr(L, "%s: node '%s': input '%s' is not a node of this graph", where, n->name,
                            item);
            continue;
        }
        jl_node *sn = &g->nodes[src];
        if (!sn->plugin)
            continue; /* already reported */
        const joule_descriptor *sd = sn->plugin->desc;
        if (sd->n_outputs == 0) {
            gerr(L, "%s: node '%s': input '%s' is a %s and has no output", where, n->name, item,
                        sd->role == JOULE_ROLE_SINK ? "sink" : "node");
            continue;
        }
        uint32_t op = 0;
        if (port) {
            for (op = 0; op < sd->n_outputs; op++)
                if (!strcmp(sd->outputs[op].name, port))
                    break;
            if (op == sd->n_outputs) {
                const char **pn = jl_malloc(sd->n_outputs * sizeof *pn);
                for (uint32_t j = 0; j < sd->n_outputs; j++)
                    pn[j] = sd->outputs[j].name;
                const char *sug = jl_suggest(port, pn, sd->n_outputs);
                gerr(L, "%s: node '%s': node '%s' (%s) has no output '%s'%s%s%s", where, n->name,
                            item, sd->name, port, sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
                free(pn);
                continue;
            }
        }
        uint32_t produced = sd->outputs[op].kinds;
        if (!(produced & d->inputs[i].kinds)) {
            gerr(L, "%s: node '%s': input '%s' accepts %s, but '%s%s%s' produces %s", where,
                        n->name, d->inputs[i].name, kind_name(d->inputs[i].kinds), item, port ? "." : "",
                        port ? port : "", kind_name(produced));
            continue;
        }
        n->in[i].node = src;
        n->in[i].port = op;
    }
    for (uint32_t i = (uint32_t)m; i < d->n_inputs; i++)
        if (!(d->inputs[i].flags & JOULE_PORT_OPTIONAL))
            gerr(L, "%s: node '%s': input '%s' (%s) is not connected: add 'input = NODE'%s", where,
                        n->name, d->inputs[i].name, kind_name(d->inputs[i].kinds),
                        d->n_inputs > 1 ? " with one node per input, in order" : "");
    jl_strv_free(items);
}

/* Depth-first search for a cycle; on finding one, report its path. */
static int visit(loader *L, joule_graph *g, size_t v, int *state, size_t *stack, size_t depth, size_t *order,
                 size_t *n_order)
{
    state[v] = 1;
    stack[depth] = v;
    jl_node *n = &g->nodes[v];
    uint32_t nin = n->plugin ? n->plugin->desc->n_inputs : 0;
    for (uint32_t i = 0; i < nin; i++) {
        size_t u = n->in ? n->in[i].node : JL_NO_NODE;
        if (u == JL_NO_NODE)
            continue;
        if (state[u] == 1) {
            char *path = jl_strdup(g->nodes[u].name);
            size_t k = depth;
            while (stack[k] != u)
                k--;
            for (size_t j = depth + 1; j-- > k;) {
                char *p2 = jl_printf("%s <- %s", path, g->nodes[stack[j]].name);
                free(path);
                path = p2;
            }
            gerr(L, "%s: node '%s': the inputs form a cycle: %s", g->nodes[u].where, g->nodes[u].name,
                        path);
            free(path);
            return -1;
        }
        if (state[u] == 0 && visit(L, g, u, state, stack, depth + 1, order, n_order))
            return -1;
    }
    state[v] = 2;
    order[(*n_order)++] = v;
    return 0;
}

/* The errors, one a line; past the first MAX_ERRORS, their count. */
static char *join_msgs(const loader *L)
{
    const jl_msgs *m = &L->errs;
    size_t len = 1;
    for (size_t i = 0; i < m->n; i++)
        len += strlen(m->v[i]) + 1;
    char *more = NULL;
    if (L->n_errs > m->n) {
        size_t k = L->n_errs - m->n;
        more = jl_printf("%s: and %zu more error%s\n", L->epath, k, k == 1 ? "" : "s");
        len += strlen(more);
    }
    char *s = jl_malloc(len), *p = s;
    for (size_t i = 0; i < m->n; i++) {
        size_t l = strlen(m->v[i]);
        memcpy(p, m->v[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    if (more)
        strcpy(p, more);
    free(more);
    return s;
}

/* Why the plugin `name` is not in the registry when an object that should
 * have provided it failed to load: the object is NAME.so, or the reason
 * names the plugin (a malformed descriptor). NULL if none did. */
static const char *load_failure(const joule_registry *reg, const char *name, const char **path)
{
    size_t nl = strlen(name);
    char *tag = jl_printf("plugin '%s'", name);
    const char *found = NULL;
    for (int pass = 0; pass < 2 && !found; pass++)
        for (size_t i = 0; i < joule_registry_failure_count(reg) && !found; i++) {
            const char *p = NULL;
            const char *why = joule_registry_failure(reg, i, &p);
            const char *base = p ? strrchr(p, '/') : NULL;
            base = base ? base + 1 : p ? p : "";
            if (pass == 0 ? !strncmp(base, name, nl) && !strcmp(base + nl, ".so")
                          : !strncmp(why, tag, strlen(tag)) && (why[strlen(tag)] == ' ' || why[strlen(tag)] == ':')) {
                found = why;
                *path = p ? p : "";
            }
        }
    free(tag);
    return found;
}

/* What a file that is not a regular file or a pipe is, for a message. */
static const char *file_kind(mode_t m)
{
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

/* NULL if a graph may be read from a file of this type, else why not. */
static char *refuse_type(const loader *L, mode_t m)
{
    if (S_ISDIR(m))
        return jl_printf("%s: is a directory, not a graph file: %s\n", L->epath, USAGE_HINT);
    if (!S_ISREG(m) && !S_ISFIFO(m))
        return jl_printf("%s: not a graph file (%s): %s\n", L->epath, file_kind(m), USAGE_HINT);
    return NULL;
}

/* Opens the graph and looks at its first block. Returns 0 with L->fd open
 * and the block in L->buf, or an error code with the one-line message in
 * *errors. Anything but a regular file or a pipe (a device like /dev/zero,
 * which would never end; a directory) is refused before it is opened, and
 * a file that is not text is refused before any of it is parsed: someone
 * who swapped the arguments (`joule run take.wav graph.ini`) gets one line,
 * not one error per line of audio. */
static int open_graph(loader *L, char **errors)
{
    struct stat st;
    if (stat(L->path, &st)) {
        *errors = jl_printf("%s: cannot open the graph: %s\n", L->epath, strerror(errno));
        return JOULE_E_IO;
    }
    if ((*errors = refuse_type(L, st.st_mode)))
        return JOULE_E_GRAPH;
    /* a FIFO waits here for its writer, as with any reader */
    L->fd = open(L->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (L->fd < 0) {
        *errors = jl_printf("%s: cannot open the graph: %s\n", L->epath, strerror(errno));
        return JOULE_E_IO;
    }
    /* what was opened may not be what was looked at */
    if (fstat(L->fd, &st) || (*errors = refuse_type(L, st.st_mode))) {
        if (!*errors)
            *errors = jl_printf("%s: cannot open the graph: %s\n", L->epath, strerror(errno));
        close(L->fd);
        return JOULE_E_GRAPH;
    }
    L->buf = jl_malloc(READ_SIZE);
    while (L->len < PROBE_SIZE && fill(L))
        ;
    if (L->read_errno) {
        *errors = jl_printf("%s: cannot read the graph: %s\n", L->epath, strerror(L->read_errno));
        close(L->fd);
        free(L->buf);
        return JOULE_E_IO;
    }
    size_t n = L->len < PROBE_SIZE ? L->len : PROBE_SIZE;
    const char *what = sniff(L->buf, n);
    if (what) {
        *errors = jl_printf("%s: not a graph file (%s): %s\n", L->epath, what, USAGE_HINT);
        close(L->fd);
        free(L->buf);
        return JOULE_E_GRAPH;
    }
    if (n >= 3 && !memcmp(L->buf, "\xEF\xBB\xBF", 3))
        L->pos = 3; /* a UTF-8 byte order mark, as some editors write */
    return 0;
}

int joule_graph_load(const char *path, const joule_registry *reg, const char *const *sets, size_t n_sets,
                     joule_graph **out, char **errors)
{
    *out = NULL;
    *errors = NULL;
    loader L;
    memset(&L, 0, sizeof L);
    L.path = path;
    L.epath = jl_escape(path);
    int rc = open_graph(&L, errors);
    if (rc) {
        free(L.epath);
        return rc;
    }
#if HAVE_DECL_INI_ALLOW_MULTILINE
    /* An indented line is a key like any other, not the continuation of the
     * previous value: graph files get indented, and a silently merged value
     * would be a baffling error. */
    ini_allow_multiline = 0;
#endif
    rc = ini_parse_stream(reader, &L, handler, &L);
    close(L.fd);
    free(L.buf);
    if (!L.not_graph && !L.seen_header && !L.seen_equals && L.n_errs)
        L.not_graph = jl_strdup(NO_GRAPH_TEXT);
    if (L.read_errno || L.not_graph) {
        if (L.read_errno)
            *errors = jl_printf("%s: cannot read the graph: %s\n", L.epath, strerror(L.read_errno));
        else
            *errors = jl_printf("%s: not a graph file (%s): %s\n", L.epath, L.not_graph, USAGE_HINT);
        rc = L.read_errno ? JOULE_E_IO : JOULE_E_GRAPH;
        free(L.not_graph);
        free_sections(&L);
        jl_msgs_free(&L.errs);
        free(L.epath);
        return rc;
    }
    if (rc > 0 && !L.n_errs)
        gerr(&L, "%s:%d: cannot parse this line", L.epath, rc);
    for (size_t i = 0; i < n_sets; i++)
        apply_set(&L, sets[i]);

    joule_graph *g = jl_calloc(1, sizeof *g);
    g->path = jl_strdup(path);
    g->chunk_rows = 4096;
    g->cache.enabled = 1;
    g->cache.ttl = 7 * 86400.0;
    g->cache.memory = (size_t)16 << 20;
    g->threads = 0;
    g->memory = (size_t)64 << 20;
    check_settings(&L, g);

    /* Nodes: every section but [graph] and [cache]. */
    g->nodes = jl_calloc(L.n ? L.n : 1, sizeof *g->nodes);
    const char **node_names = jl_calloc(L.n + 1, sizeof *node_names);
    /* for "did you mean": known by name only, their objects not loaded */
    const char **plugin_names = NULL;
    size_t n_plugins = 0;
    for (size_t i = 0; i < L.n; i++) {
        section *s = &L.secs[i];
        if (!strcmp(s->name, "graph") || !strcmp(s->name, "cache"))
            continue;
        jl_node *n = &g->nodes[g->n];
        node_names[g->n] = s->name;
        g->n++;
        n->name = jl_strdup(s->name);
        n->where = jl_strdup(s->where);
        if (!valid_node_name(s->name))
            gerr(&L, "%s: node name '%s' may hold only letters, digits, '_' and '-'", s->where, s->name);
        kv *k = find_kv(s, "plugin");
        if (!k) {
            gerr(&L, "%s: node '%s' has no 'plugin = ...'", s->where, s->name);
            continue;
        }
        n->plugin = joule_registry_find(reg, k->value);
        const char *failed_path = NULL;
        const char *load_why = n->plugin ? NULL : load_failure(reg, k->value, &failed_path);
        if (load_why) {
            /* "unknown plugin" would send the user looking for a typo */
            char *ewhy = jl_escape(load_why), *efile = jl_escape(failed_path);
            if (strstr(load_why, failed_path))
                gerr(&L, "%s: node '%s': plugin '%s' failed to load: %s", k->where, s->name, k->value, ewhy);
            else
                gerr(&L, "%s: node '%s': plugin '%s' failed to load: %s (%s)", k->where, s->name, k->value, ewhy,
                     efile);
            free(ewhy);
            free(efile);
            continue;
        }
        if (!n->plugin) {
            if (!plugin_names)
                n_plugins = jl_registry_names(reg, &plugin_names);
            const char *sug = jl_suggest(k->value, plugin_names, n_plugins);
            if (sug)
                gerr(&L, "%s: node '%s': unknown plugin '%s'; did you mean '%s'?", k->where, s->name, k->value,
                     sug);
            else if (joule_registry_failure_count(reg))
                /* it may be one of them, in a file of another name */
                gerr(&L, "%s: node '%s': unknown plugin '%s' (joule plugins lists those found, and why %zu "
                     "file%s failed to load)", k->where, s->name, k->value, joule_registry_failure_count(reg),
                     joule_registry_failure_count(reg) == 1 ? "" : "s");
            else
                gerr(&L, "%s: node '%s': unknown plugin '%s' (joule plugins lists those found)", k->where, s->name,
                     k->value);
            continue;
        }
        check_params(&L, s, n);
    }
    if (!g->n)
        gerr(&L, "%s: the graph has no nodes: add a section per node, like [in] plugin = sndfile", L.epath);
    size_t gi = 0;
    for (size_t i = 0; i < L.n; i++) {
        section *s = &L.secs[i];
        if (!strcmp(s->name, "graph") || !strcmp(s->name, "cache"))
            continue;
        jl_node *n = &g->nodes[gi++];
        if (n->plugin)
            check_inputs(&L, g, s, n, node_names);
    }

    /* Cycles and order; sinks. */
    g->order = jl_malloc((g->n ? g->n : 1) * sizeof *g->order);
    if (!L.n_errs) {
        int *state = jl_calloc(g->n, sizeof *state);
        size_t *stack = jl_malloc(g->n * sizeof *stack);
        size_t n_order = 0;
        for (size_t v = 0; v < g->n; v++)
            if (!state[v] && visit(&L, g, v, state, stack, 0, g->order, &n_order))
                break;
        free(state);
        free(stack);
        size_t sinks = 0;
        for (size_t v = 0; v < g->n; v++)
            sinks += g->nodes[v].plugin->desc->role == JOULE_ROLE_SINK;
        if (!L.n_errs && !sinks)
            gerr(&L, "%s: the graph has no sink, so it would write nothing: add a node with plugin = csv",
                 L.epath);
        size_t sources = 0;
        for (size_t v = 0; v < g->n; v++)
            sources += g->nodes[v].plugin->desc->role == JOULE_ROLE_SOURCE;
        if (!L.n_errs && !sources)
            gerr(&L, "%s: the graph has no source to read input files: add a node with plugin = sndfile",
                 L.epath);
    }
    free(node_names);
    free(plugin_names);
    free_sections(&L);
    int failed = L.n_errs > 0;
    if (failed)
        *errors = join_msgs(&L);
    jl_msgs_free(&L.errs);
    free(L.epath);
    if (failed) {
        joule_graph_free(g);
        return JOULE_E_GRAPH;
    }
    *out = g;
    return 0;
}

void joule_graph_free(joule_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        jl_node *n = &g->nodes[i];
        if (n->texts && n->plugin)
            for (uint32_t j = 0; j < n->plugin->desc->n_params; j++)
                free(n->texts[j]);
        free(n->texts);
        free(n->values);
        free(n->in);
        free(n->name);
        free(n->where);
    }
    free(g->nodes);
    free(g->order);
    free(g->path);
    free(g->cache.dir);
    free(g->cache.redis);
    free(g);
}

size_t joule_graph_node_count(const joule_graph *g) { return g->n; }
const char *joule_graph_node_name(const joule_graph *g, size_t i) { return i < g->n ? g->nodes[i].name : NULL; }
int joule_graph_threads(const joule_graph *g) { return g->threads; }
size_t joule_graph_chunk_rows(const joule_graph *g) { return g->chunk_rows; }
size_t joule_graph_memory(const joule_graph *g) { return g->memory; }

int jl_param_gathered(const jl_node *n, uint32_t k)
{
    const joule_descriptor *d = n->plugin->desc;
    return k < d->n_params && (d->params[k].flags & JOULE_PARAM_OUT_PATH) && d->role == JOULE_ROLE_SINK &&
           jl_desc_gather(d) && strcmp(n->texts[k], "-") && !jl_path_per_input(n->texts[k]);
}

int jl_node_gathers(const jl_node *n)
{
    for (uint32_t k = 0; k < n->plugin->desc->n_params; k++)
        if (jl_param_gathered(n, k))
            return 1;
    return 0;
}
