/* scheduler.h — running jobs in this process, or under a supervisor. */
#ifndef JOULE_SCHEDULER_H
#define JOULE_SCHEDULER_H

#include "graph.h"
#include "tables.h"

/* Run the jobs of `files` in this process, with threads. `tables` are
 * the run's gathered tables (tables.h), whose parts the sinks write;
 * NULL: none. `slots[i]` is file
 * i's index in the whole run (NULL: i), used when a supervisor watches
 * (watch.h). `t_start` is when the run began, for the report. Returns as
 * joule_run does. The outputs were checked by the caller. */
int jl_run_jobs(const joule_graph *g, const char *const *files, const size_t *slots, size_t n_files,
                const joule_run_options *opt, const jl_tables *tables, joule_report **report, double t_start);

/* Run them in worker processes watched by this one (supervisor.c).
 * `dirs` are the folders outputs go to, swept of a dead worker's
 * temporaries. Returns as joule_run does. */
int jl_supervise(const joule_graph *g, const char *const *files, size_t n_files, const joule_run_options *opt,
                 const jl_tables *tables, joule_report **report, const char *const *dirs, double t_start);

/* Has joule_interrupt been called (since the run began)? */
int jl_interrupted(void);

#endif
