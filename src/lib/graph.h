/* graph.h — a loaded, validated graph (internal view of joule_graph). */
#ifndef JOULE_GRAPH_H
#define JOULE_GRAPH_H

#include <joule/joule.h>

#include <stddef.h>
#include <stdint.h>

#define JL_NO_NODE ((size_t)-1)

/* Where an input port's rows come from. */
typedef struct jl_edge {
    size_t node;   /* producing node, or JL_NO_NODE (optional, unconnected) */
    uint32_t port; /* its output port                                       */
} jl_edge;

typedef struct jl_node {
    char *name;
    char *where;                      /* "graph.ini:12" of the section      */
    const joule_plugin_info *plugin;
    joule_value *values;              /* one per declared parameter          */
    char **texts;                     /* their texts (values[i].s points in) */
    jl_edge *in;                      /* one per declared input port         */
    int cache;                        /* JL_CACHE_AUTO, _YES or _NO          */
} jl_node;

/* A node's `cache =`: auto caches filters whose output stays small next to
 * their input (see scheduler.c); yes caches it whatever its size; no never. */
enum { JL_CACHE_AUTO, JL_CACHE_YES, JL_CACHE_NO };

/* The [cache] section. */
typedef struct jl_cache_settings {
    int enabled;        /* on by default                                 */
    double ttl;         /* s; entries unused for longer expire (7 days)  */
    size_t memory;      /* the memory tier's bound (cache_mem.h)         */
    uint64_t disk;      /* the folder's size bound, bytes; 0 = none      */
    char *dir;          /* NULL: $JOULE_CACHE_DIR, $XDG_CACHE_HOME/joule,
                           ~/.cache/joule                               */
    char *redis;        /* redis://HOST:PORT/DB of a tier behind the disk
                           (cache_redis.h), or NULL                      */
} jl_cache_settings;

struct joule_graph {
    char *path;
    size_t chunk_rows;
    int threads;      /* 0 = auto */
    size_t memory;
    double timeout;   /* per input, s; 0 = none */
    jl_cache_settings cache;
    size_t n;
    jl_node *nodes;
    size_t *order;    /* a topological order: producers before consumers */
};

/* A descriptor's gather (plugin.h), or NULL: read only when the plugin's
 * descriptor is recent enough to have the field. */
static inline int (*jl_desc_gather(const joule_descriptor *d))(const joule_gather_args *)
{
    return d->struct_size >= offsetof(joule_descriptor, gather) + sizeof d->gather ? d->gather : NULL;
}

/* Does parameter k of node n name one table for the whole run? An output
 * path of a sink that can gather, naming no per-input part ({stem},
 * {name}, {dir}), and not standard output. */
int jl_param_gathered(const jl_node *n, uint32_t k);

/* Does node n write a gathered table? */
int jl_node_gathers(const jl_node *n);

#endif
