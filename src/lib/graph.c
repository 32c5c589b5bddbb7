/* graph.c — loading and validating graph files.
 *
 * The file is read with inih, through a line reader of our own: Debian's
 * libinih is built without line numbers in the handler and cuts lines at
 * 200 characters, so the reader counts lines (every message can say
 * graph.ini:12:), notices section headers (inih says nothing of an empty
 * section), and refuses over-long lines instead of letting them be cut.
 *
 * Loading is two passes: collect every section and key with its line, then
 * validate everything and report every problem found, so that a user fixes
 * a graph in one go. Nothing runs until the whole graph is valid. */
#include "config.h"

#include "graph.h"
#include "param.h"
#include "pathtpl.h"
#include "util.h"

#include <ini.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

typedef struct loader {
    const char *path;
    FILE *f;
    int line;
    int in_section;    /* a section header has been seen */
    section *secs;
    size_t n, cap;
    jl_msgs errs;
} loader;

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

/* inih's reader: fgets-like, one line at a time. */
static char *reader(char *str, int num, void *stream)
{
    loader *L = stream;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, L->f);
    if (len < 0) {
        free(line);
        return NULL;
    }
    L->line++;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (L->line == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3))
        memmove(line, line + 3, (size_t)(len -= 3) + 1);
    if (len + 1 > num) {
        jl_msgs_add(&L->errs, "%s:%d: line is longer than %d characters", L->path, L->line, num - 1);
        str[0] = '\0';
        free(line);
        return str;
    }
    /* Look at the line as inih will, to keep what inih does not tell. */
    const char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        if (!e) {
            jl_msgs_add(&L->errs, "%s:%d: section header without ']'", L->path, L->line);
            line[0] = '\0';
        } else {
            char *raw = jl_strndup(p + 1, (size_t)(e - p - 1));
            char *name = jl_strtrim(raw);
            free(raw);
            if (find_section(L, name)) {
                jl_msgs_add(&L->errs, "%s:%d: section [%s] appears twice (first at %s)", L->path, L->line,
                            name, find_section(L, name)->where);
                free(name);
                line[0] = '\0'; /* keep its keys out of the first one */
                L->in_section = -1;
            } else {
                if (L->n == L->cap)
                    L->secs = jl_realloc(L->secs, (L->cap = L->cap ? L->cap * 2 : 8) * sizeof *L->secs);
                section *s = &L->secs[L->n++];
                memset(s, 0, sizeof *s);
                s->name = name;
                s->where = jl_printf("%s:%d", L->path, L->line);
                L->in_section = 1;
            }
        }
    } else if (*p && *p != ';' && *p != '#') {
        if (!strchr(p, '=') && !strchr(p, ':') && p == line)
            jl_msgs_add(&L->errs, "%s:%d: expected 'key = value', found '%s'", L->path, L->line, p);
        else if (L->in_section < 0)
            line[0] = '\0';
    }
    memcpy(str, line, strlen(line) + 1);
    free(line);
    return str;
}

static int handler(void *user, const char *sec, const char *key, const char *value)
{
    loader *L = user;
    if (!*sec) {
        jl_msgs_add(&L->errs, "%s:%d: '%s' is outside any [section]", L->path, L->line, key);
        return 1;
    }
    section *s = find_section(L, sec);
    if (!s)
        return 1; /* a repeated section, already reported */
    kv *prev = find_kv(s, key);
    if (prev) {
        jl_msgs_add(&L->errs, "%s:%d: [%s] sets '%s' twice (first at %s)", L->path, L->line, sec, key, prev->where);
        return 1;
    }
    add_kv(s, key, value, jl_printf("%s:%d", L->path, L->line));
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
    const char *dot = strchr(set, '.');
    const char *eq = strchr(set, '=');
    if (!dot || !eq || dot > eq || dot == set || eq == dot + 1) {
        jl_msgs_add(&L->errs, "--set %s: expected NODE.KEY=VALUE", set);
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
            jl_msgs_add(&L->errs, "--set %s: no node or section '%s'; did you mean '%s'?", set, node, sug);
        else
            jl_msgs_add(&L->errs, "--set %s: no node or section '%s'", set, node);
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

static void check_settings(loader *L, joule_graph *g)
{
    section *s = find_section(L, "graph");
    static const char *const gkeys[] = {"chunk", "threads", "memory"};
    static const char *const ckeys[] = {"ttl", "memory", "dir", "enabled"};
    if (s) {
        for (size_t i = 0; i < s->n; i++) {
            kv *k = &s->kv[i];
            if (!strcmp(k->key, "chunk")) {
                char *end;
                errno = 0;
                long long v = strtoll(k->value, &end, 10);
                if (!*k->value || *end || errno || v < 1 || v > (1 << 24))
                    jl_msgs_add(&L->errs, "%s: [graph] chunk must be a whole number of rows from 1 to %d, not '%s'",
                                k->where, 1 << 24, k->value);
                else
                    g->chunk_rows = (size_t)v;
            } else if (!strcmp(k->key, "threads")) {
                char *end;
                long v = strtol(k->value, &end, 10);
                if (!strcmp(k->value, "auto"))
                    g->threads = 0;
                else if (!*k->value || *end || v < 1 || v > 1024)
                    jl_msgs_add(&L->errs, "%s: [graph] threads must be 'auto' or from 1 to 1024, not '%s'",
                                k->where, k->value);
                else
                    g->threads = (int)v;
            } else if (!strcmp(k->key, "memory")) {
                size_t v;
                if (jl_parse_size(k->value, &v) || v < 65536)
                    jl_msgs_add(&L->errs, "%s: [graph] memory must be a size of at least 64K (like 64M), not '%s'",
                                k->where, k->value);
                else
                    g->memory = v;
            } else {
                const char *sug = jl_suggest(k->key, gkeys, 3);
                jl_msgs_add(&L->errs, "%s: [graph] has no setting '%s'%s%s%s", k->where, k->key,
                            sug ? "; did you mean '" : " (known: chunk, threads, memory)", sug ? sug : "",
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
                if (jl_parse_duration(k->value, &d))
                    jl_msgs_add(&L->errs, "%s: [cache] ttl must be a duration (like 90s, 30m, 1h, 2d), not '%s'",
                                k->where, k->value);
            } else if (!strcmp(k->key, "memory")) {
                if (jl_parse_size(k->value, &sz))
                    jl_msgs_add(&L->errs, "%s: [cache] memory must be a size (like 256M), not '%s'", k->where,
                                k->value);
            } else if (!strcmp(k->key, "dir")) {
            } else if (!strcmp(k->key, "enabled")) {
                joule_param b = {"enabled", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "", ""};
                joule_value v;
                char *why;
                if (jl_param_parse(&b, k->value, &v, &why)) {
                    jl_msgs_add(&L->errs, "%s: [cache] enabled %s", k->where, why);
                    free(why);
                }
            } else {
                const char *sug = jl_suggest(k->key, ckeys, 4);
                jl_msgs_add(&L->errs, "%s: [cache] has no setting '%s'%s%s%s", k->where, k->key,
                            sug ? "; did you mean '" : " (known: ttl, memory, dir, enabled)", sug ? sug : "",
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
        uint32_t i;
        for (i = 0; i < d->n_params; i++)
            if (!strcmp(k->key, d->params[i].name))
                break;
        if (i == d->n_params) {
            const char *sug = jl_suggest(k->key, names, d->n_params);
            if (sug)
                jl_msgs_add(&L->errs, "%s: node '%s': plugin '%s' has no parameter '%s'; did you mean '%s'?",
                            k->where, n->name, d->name, k->key, sug);
            else
                jl_msgs_add(&L->errs, "%s: node '%s': plugin '%s' has no parameter '%s' (see: joule inspect %s)",
                            k->where, n->name, d->name, k->key, d->name);
            ok = 0;
            continue;
        }
        const joule_param *p = &d->params[i];
        char *why;
        n->texts[i] = jl_strdup(k->value);
        if (jl_param_parse(p, n->texts[i], &n->values[i], &why)) {
            jl_msgs_add(&L->errs, "%s: node '%s': %s %s", k->where, n->name, p->name, why);
            free(why);
            ok = 0;
            continue;
        }
        if ((p->flags & JOULE_PARAM_OUT_PATH) && jl_path_check(k->value, &why)) {
            jl_msgs_add(&L->errs, "%s: node '%s': %s: %s", k->where, n->name, p->name, why);
            free(why);
            ok = 0;
        }
    }
    for (uint32_t i = 0; i < d->n_params; i++) {
        const joule_param *p = &d->params[i];
        if (n->texts[i])
            continue;
        if (!p->def) {
            jl_msgs_add(&L->errs, "%s: node '%s': plugin '%s' needs '%s = ...' (%s)", n->where, n->name, d->name,
                        p->name, p->help ? p->help : jl_param_type_name(p->type));
            ok = 0;
            continue;
        }
        char *why;
        n->texts[i] = jl_strdup(p->def);
        if (jl_param_parse(p, n->texts[i], &n->values[i], &why)) {
            jl_msgs_add(&L->errs, "%s: node '%s': the default of %s is invalid (a plugin bug): %s", n->where,
                        n->name, p->name, why);
            free(why);
            ok = 0;
        }
    }
    free(names);
    if (ok && d->check) {
        char msg[512] = "";
        if (d->check(n->values, msg, sizeof msg)) {
            msg[sizeof msg - 1] = '\0';
            jl_msgs_add(&L->errs, "%s: node '%s': %s", n->where, n->name, *msg ? msg : "invalid parameters");
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
            jl_msgs_add(&L->errs, "%s: node '%s': plugin '%s' is a source and takes no input", k->where, n->name,
                        d->name);
        return;
    }
    char **items = NULL;
    size_t m = k ? jl_split_list(k->value, &items) : 0;
    const char *where = k ? k->where : n->where;
    if (m > d->n_inputs)
        jl_msgs_add(&L->errs, "%s: node '%s': plugin '%s' takes %u input%s, %zu given", where, n->name, d->name,
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
                jl_msgs_add(&L->errs, "%s: node '%s': input '%s' is not a node; did you mean '%s'?", where,
                            n->name, item, sug);
            else
                jl_msgs_add(&L->errs, "%s: node '%s': input '%s' is not a node of this graph", where, n->name,
                            item);
            continue;
        }
        jl_node *sn = &g->nodes[src];
        if (!sn->plugin)
            continue; /* already reported */
        const joule_descriptor *sd = sn->plugin->desc;
        if (sd->n_outputs == 0) {
            jl_msgs_add(&L->errs, "%s: node '%s': input '%s' is a %s and has no output", where, n->name, item,
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
                jl_msgs_add(&L->errs, "%s: node '%s': node '%s' (%s) has no output '%s'%s%s%s", where, n->name,
                            item, sd->name, port, sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
                free(pn);
                continue;
            }
        }
        uint32_t produced = sd->outputs[op].kinds;
        if (!(produced & d->inputs[i].kinds)) {
            jl_msgs_add(&L->errs, "%s: node '%s': input '%s' accepts %s, but '%s%s%s' produces %s", where,
                        n->name, d->inputs[i].name, kind_name(d->inputs[i].kinds), item, port ? "." : "",
                        port ? port : "", kind_name(produced));
            continue;
        }
        n->in[i].node = src;
        n->in[i].port = op;
    }
    for (uint32_t i = (uint32_t)m; i < d->n_inputs; i++)
        if (!(d->inputs[i].flags & JOULE_PORT_OPTIONAL))
            jl_msgs_add(&L->errs, "%s: node '%s': input '%s' (%s) is not connected: add 'input = NODE'%s", where,
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
            jl_msgs_add(&L->errs, "%s: node '%s': the inputs form a cycle: %s", g->nodes[u].where, g->nodes[u].name,
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

static char *join_msgs(const jl_msgs *m)
{
    size_t len = 1;
    for (size_t i = 0; i < m->n; i++)
        len += strlen(m->v[i]) + 1;
    char *s = jl_malloc(len), *p = s;
    for (size_t i = 0; i < m->n; i++) {
        size_t l = strlen(m->v[i]);
        memcpy(p, m->v[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    return s;
}

int joule_graph_load(const char *path, const joule_registry *reg, const char *const *sets, size_t n_sets,
                     joule_graph **out, char **errors)
{
    *out = NULL;
    *errors = NULL;
    loader L;
    memset(&L, 0, sizeof L);
    L.path = path;
    L.f = fopen(path, "r");
    if (!L.f) {
        *errors = jl_printf("%s: cannot open the graph: %s\n", path, strerror(errno));
        return JOULE_E_IO;
    }
#if HAVE_DECL_INI_ALLOW_MULTILINE
    /* An indented line is a key like any other, not the continuation of the
     * previous value: graph files get indented, and a silently merged value
     * would be a baffling error. */
    ini_allow_multiline = 0;
#endif
    int rc = ini_parse_stream(reader, &L, handler, &L);
    int read_err = ferror(L.f);
    fclose(L.f);
    if (read_err) {
        *errors = jl_printf("%s: cannot read the graph: %s\n", path, strerror(EIO));
        free_sections(&L);
        jl_msgs_free(&L.errs);
        return JOULE_E_IO;
    }
    if (rc > 0 && !L.errs.n)
        jl_msgs_add(&L.errs, "%s:%d: cannot parse this line", path, rc);
    for (size_t i = 0; i < n_sets; i++)
        apply_set(&L, sets[i]);

    joule_graph *g = jl_calloc(1, sizeof *g);
    g->path = jl_strdup(path);
    g->chunk_rows = 4096;
    g->threads = 0;
    g->memory = (size_t)64 << 20;
    check_settings(&L, g);

    /* Nodes: every section but [graph] and [cache]. */
    g->nodes = jl_calloc(L.n ? L.n : 1, sizeof *g->nodes);
    const char **node_names = jl_calloc(L.n + 1, sizeof *node_names);
    size_t n_plugins = joule_registry_count(reg);
    const char **plugin_names = jl_calloc(n_plugins + 1, sizeof *plugin_names);
    for (size_t i = 0; i < n_plugins; i++)
        plugin_names[i] = joule_registry_get(reg, i)->desc->name;
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
            jl_msgs_add(&L.errs, "%s: node name '%s' may hold only letters, digits, '_' and '-'", s->where, s->name);
        kv *k = find_kv(s, "plugin");
        if (!k) {
            jl_msgs_add(&L.errs, "%s: node '%s' has no 'plugin = ...'", s->where, s->name);
            continue;
        }
        n->plugin = joule_registry_find(reg, k->value);
        if (!n->plugin) {
            const char *sug = jl_suggest(k->value, plugin_names, n_plugins);
            if (sug)
                jl_msgs_add(&L.errs, "%s: node '%s': unknown plugin '%s'; did you mean '%s'?", k->where, s->name,
                            k->value, sug);
            else
                jl_msgs_add(&L.errs, "%s: node '%s': unknown plugin '%s' (joule plugins lists those found)",
                            k->where, s->name, k->value);
            continue;
        }
        check_params(&L, s, n);
    }
    if (!g->n)
        jl_msgs_add(&L.errs, "%s: the graph has no nodes: add a section per node, like [in] plugin = sndfile", path);
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
    if (!L.errs.n) {
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
        if (!L.errs.n && !sinks)
            jl_msgs_add(&L.errs, "%s: the graph has no sink, so it would write nothing: add a node with plugin = csv",
                        path);
        size_t sources = 0;
        for (size_t v = 0; v < g->n; v++)
            sources += g->nodes[v].plugin->desc->role == JOULE_ROLE_SOURCE;
        if (!L.errs.n && !sources)
            jl_msgs_add(&L.errs, "%s: the graph has no source to read input files: add a node with plugin = sndfile",
                        path);
    }
    free(node_names);
    free(plugin_names);
    free_sections(&L);
    if (L.errs.n) {
        *errors = join_msgs(&L.errs);
        jl_msgs_free(&L.errs);
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
    free(g);
}

size_t joule_graph_node_count(const joule_graph *g) { return g->n; }
const char *joule_graph_node_name(const joule_graph *g, size_t i) { return i < g->n ? g->nodes[i].name : NULL; }
int joule_graph_threads(const joule_graph *g) { return g->threads; }
size_t joule_graph_chunk_rows(const joule_graph *g) { return g->chunk_rows; }
size_t joule_graph_memory(const joule_graph *g) { return g->memory; }
