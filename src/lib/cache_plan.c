/* cache_plan.c — see cache_plan.h. */
#include "config.h"

#include "cache_plan.h"
#include "util.h"

#include <stdlib.h>

void jl_cache_plan(const joule_graph *g, const int *cacheable, const int *hit, const int *current, int *plan)
{
    /* consumers of each node, to find those nobody reads */
    int *consumed = jl_calloc(g->n ? g->n : 1, sizeof *consumed);
    int *needed = jl_calloc(g->n ? g->n : 1, sizeof *needed);
    for (size_t i = 0; i < g->n; i++) {
        const jl_node *n = &g->nodes[i];
        for (uint32_t k = 0; k < n->plugin->desc->n_inputs; k++)
            if (n->in[k].node != JL_NO_NODE)
                consumed[n->in[k].node] = 1;
    }
    for (size_t i = 0; i < g->n; i++)
        needed[i] = !consumed[i] && !current[i];
    /* consumers before producers: g->order backwards */
    for (size_t oi = g->n; oi-- > 0;) {
        size_t i = g->order[oi];
        const jl_node *n = &g->nodes[i];
        if (!needed[i]) {
            plan[i] = current[i] ? JL_PLAN_CURRENT : JL_PLAN_SKIP;
            continue;
        }
        if (cacheable[i] && hit[i]) {
            plan[i] = JL_PLAN_REPLAY;
            continue;
        }
        plan[i] = cacheable[i] ? JL_PLAN_RECORD : JL_PLAN_RUN;
        for (uint32_t k = 0; k < n->plugin->desc->n_inputs; k++)
            if (n->in[k].node != JL_NO_NODE)
                needed[n->in[k].node] = 1;
    }
    free(consumed);
    free(needed);
}

const char *jl_plan_name(int plan)
{
    switch (plan) {
    case JL_PLAN_RUN: return "run";
    case JL_PLAN_RECORD: return "record";
    case JL_PLAN_REPLAY: return "replay";
    case JL_PLAN_CURRENT: return "current";
    default: return "skip";
    }
}
