/* watch.h — what a worker process tells its supervisor, through memory
 * they share (see supervisor.c for why there are two processes).
 *
 * The worker writes; the supervisor reads, also after the worker died, so
 * everything here is plain data written with single stores: a field is
 * either its old or its new value, never torn, and nothing depends on a
 * lock the dead process might have held. */
#ifndef JOULE_WATCH_H
#define JOULE_WATCH_H

#include "report.h"

#include <stddef.h>
#include <stdint.h>

/* The state of one input's job. */
enum {
    JL_SLOT_PENDING,     /* not started (or to be started again)       */
    JL_SLOT_RUNNING,     /* opened by the worker                       */
    JL_SLOT_OK,          /* its outputs are in place                   */
    JL_SLOT_FAILED,      /* failed, and its message was sent           */
    JL_SLOT_CANCELLED,   /* interrupted: neither done nor failed       */
};

/* Plugin calls, for messages: "crashed with SIGSEGV in process". */
enum { JL_CALL_NONE, JL_CALL_OPEN, JL_CALL_PROCESS, JL_CALL_FINISH, JL_CALL_COMMIT, JL_CALL_CLOSE };
const char *jl_call_name(int call);

typedef struct jl_slot {
    int state;
    int timed_out;      /* set by the supervisor: fail at the next step */
    int retries;        /* times it was in flight when a worker died     */
    double started;     /* jl_now() when the job was opened              */
    double frac;        /* share of the input read so far (progress)     */
    double wall;        /* s, from opening to outputs in place           */
    double duration;    /* s of signal read; < 0 unknown                 */
    char error[512];    /* a failed input's message (truncated), for the
                           report; written before the state             */
} jl_slot;

/* The plugin call one node of one job is in, or JL_CALL_NONE: one record
 * per input and node, because a job's nodes run on several threads at
 * once (a record per job would be overwritten by a sibling's short call
 * while another call hangs), while one node's calls never overlap. */
typedef struct jl_call_rec {
    int call;
    double since;       /* jl_now() when it started */
} jl_call_rec;

typedef struct jl_watch {
    /* Set by the worker's crash and exit() handlers from the thread that
     * was inside a plugin call: who brought the worker down. */
    int culprit_slot;   /* -1 when not inside a plugin call */
    int culprit_node, culprit_call;
    int culprit_sig;    /* the signal, or 0 for a call of exit()  */
    /* The worker's figures, merged over workers by the supervisor. */
    size_t peak_rss, pool_high_water, pool_allocated;
    uint64_t bytes_read;
    jl_cache_figures cache;
    size_t n_slots, n_nodes;
    jl_node_stats *stats; /* n_nodes, in this shared block */
    jl_call_rec *calls;   /* n_slots × n_nodes, slot-major, in this block */
    jl_slot slots[];
} jl_watch;

/* The plugin call the current thread is in, for the crash handler. */
typedef struct jl_cur_call {
    int slot, node, call;
} jl_cur_call;
extern __thread jl_cur_call jl_cur;

/* Set in a worker process: the scheduler keeps its slots up to date. */
extern jl_watch *jl_watching;

#endif
