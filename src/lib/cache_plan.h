/* cache_plan.h — what a job does with each node, given what is cached.
 *
 * Planning is pure: from the graph's shape, which nodes may be cached and
 * which have an entry for this input, it decides per node:
 *   RUN      open and run it, as without a cache;
 *   RECORD   run it and record its output as an entry;
 *   REPLAY   do not run it: a built-in source replays its entry;
 *   SKIP     nothing downstream needs it: never opened (a source skipped
 *            this way reads nothing of the input);
 *   CURRENT  a sink whose files are already what it would write (see
 *            job_cache.c, "current sinks"): not opened, and what only it
 *            reads is not needed.
 * A node is needed when it has no consumer (a sink, or a dangling node
 * that runs as it would without a cache) or when a needed node runs and
 * reads it. A needed node with an entry is replayed, which is what makes
 * everything upstream of it unneeded. */
#ifndef JOULE_CACHE_PLAN_H
#define JOULE_CACHE_PLAN_H

#include "graph.h"

enum { JL_PLAN_RUN, JL_PLAN_RECORD, JL_PLAN_REPLAY, JL_PLAN_SKIP, JL_PLAN_CURRENT };

/* cacheable[i]: node i's output may be recorded and replayed; hit[i]: an
 * entry for it exists; current[i]: node i is a sink whose files are
 * current. Fills plan[i] for every node. */
void jl_cache_plan(const joule_graph *g, const int *cacheable, const int *hit, const int *current, int *plan);

/* "run", "record", "replay", "skip", "current" */
const char *jl_plan_name(int plan);

#endif
