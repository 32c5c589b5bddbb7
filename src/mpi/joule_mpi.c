/* joule_mpi.c — `joule-mpi run GRAPH FILE...`: one graph over a corpus on
 * many machines, launched by an MPI runtime:
 *
 *   mpirun -np 16 joule-mpi run graph.ini archive/take[0-9]*.wav -o results
 *   srun joule-mpi run graph.ini archive/take[0-9]*.wav -o results
 *
 * Every rank loads the graph and runs its own scheduler (joule_run, with
 * its own threads, worker process and cache); rank 0 also hands the inputs
 * out, on demand: a rank asks for work when it is free, so a slow file
 * holds up no other rank. Each ask carries the report of the rank's last
 * batch; rank 0 merges them into one run report (--stats, --report: every
 * rank's figures, and where each input ran), gathers the tables every
 * input contributed to, and decides the one exit status all ranks return.
 *
 * What MPI is used for is only this: small requests, lists of input
 * numbers and packed reports. Outputs go to the output folder, which the
 * ranks share (a network file system, on a cluster); the stage cache is
 * each rank's own folder unless --cache-dir names a shared one. If the
 * runtime aborts the job, every output already in place is whole (outputs
 * appear by rename), and a re-run served from the cache does the rest.
 *
 * Rank 0 works too: a second thread serves the other ranks while its main
 * thread runs batches like theirs. MPI is called by one thread at a time
 * (the main thread before and after the serving thread's life), which is
 * MPI_THREAD_SERIALIZED. */
#include "config.h"

#include <joule/joule.h>

#include <mpi.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2

#define TAG_ASK 1  /* rank -> 0: the last batch's packed report (or none); give work */
#define TAG_WORK 2 /* 0 -> rank: input numbers (int64); none: no more work */

static const char usage_text[] =
    "usage: mpirun -np N joule-mpi run GRAPH FILE... [options]\n"
    "\n"
    "Runs GRAPH once per input FILE, the inputs handed out to the N ranks as they\n"
    "become free. Outputs go to the output folder, which the ranks must share.\n"
    "\n"
    "options (as joule run's):\n"
    "  -o, --output DIR        where output files go (default: the current folder)\n"
    "  -s, --set NODE.KEY=VAL  override a parameter or a graph setting\n"
    "  -j, --jobs N            worker threads per rank (default 1: a rank per core);\n"
    "                          a rank takes N inputs at a time\n"
    "  -P, --plugin-path DIRS  look for plugins in DIRS (colon-separated) first\n"
    "      --stats             print the merged statistics on stderr after the run\n"
    "      --report FILE       write them as JSON, with where each input ran\n"
    "      --timeout DURATION  fail an input that takes longer (30s, 2m, 1h)\n"
    "      --no-isolate        run plugins in the rank's process\n"
    "      --no-cache          neither use nor fill the stage cache\n"
    "      --cache-dir DIR     the stage cache's folder (shared, or each rank's)\n"
    "      --refresh           recompute every cached node\n"
    "      --explain           say per input and node why it runs\n"
    "  -v, --verbose           show plugins' informational messages\n";

typedef struct options {
    const char *out_dir, *plugin_path, *report_path, *cache_dir;
    const char **sets;
    size_t n_sets;
    int threads, stats, verbose, no_isolate, no_cache, refresh, explain;
    double timeout;
} options;

static int rank, n_ranks;

/* Only rank 0 speaks to the user before the run: every rank would say the
 * same. */
static void say0(const char *fmt, const char *arg)
{
    if (rank == 0) {
        fprintf(stderr, "joule-mpi: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\n");
    }
}

static void usage_exit(const char *fmt, const char *arg)
{
    say0(fmt, arg);
    if (rank == 0)
        fprintf(stderr, "(joule-mpi --help shows the usage)\n");
    MPI_Finalize();
    exit(EXIT_USAGE);
}

static double parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0))
        return -1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        return v;
    if (!strcmp(end, "ms"))
        return v / 1000;
    if (!strcmp(end, "m"))
        return v * 60;
    if (!strcmp(end, "h"))
        return v * 3600;
    return -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void add_dirs(joule_registry *reg, const char *list)
{
    char *copy = strdup(list);
    for (char *save = NULL, *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
        if (*d && joule_registry_add_dir(reg, d) && rank == 0)
            fprintf(stderr, "joule-mpi: warning: cannot read plugin folder %s: %s\n", d, strerror(errno));
    free(copy);
}

/* As the joule command: --plugin-path, $JOULE_PLUGIN_PATH, then the build
 * tree's plugins when run from it (src/mpi/.libs), else the installed
 * folder. */
static joule_registry *load_registry(const char *plugin_path)
{
    joule_registry *reg = joule_registry_new();
    if (plugin_path)
        add_dirs(reg, plugin_path);
    const char *env = getenv("JOULE_PLUGIN_PATH");
    if (env && *env)
        add_dirs(reg, env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    static const char tail[] = "/src/mpi/.libs/joule-mpi";
    size_t len = n > 0 ? (size_t)n : 0;
    if (len)
        exe[len] = '\0';
    if (len > sizeof tail - 1 && !strcmp(exe + len - (sizeof tail - 1), tail)) {
        exe[len - (sizeof tail - 1)] = '\0';
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/plugins/.libs", exe);
        if (!access(dir, R_OK)) {
            joule_registry_add_dir(reg, dir);
            return reg;
        }
    }
    joule_registry_add_dir(reg, JOULE_PLUGIN_DIR);
    return reg;
}

/* ------------------------------------------------------------------------ */
/* Rank 0's book of inputs and reports                                       */

typedef struct book {
    pthread_mutex_t mu;
    size_t next, n_files, batch;
    joule_report *merged;
    int merge_failed;
} book;

static book bk = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1, NULL, 0};

/* Up to bk.batch input numbers into v; how many (0: none left). */
static size_t take(int64_t *v)
{
    pthread_mutex_lock(&bk.mu);
    size_t k = 0;
    while (k < bk.batch && bk.next < bk.n_files)
        v[k++] = (int64_t)bk.next++;
    pthread_mutex_unlock(&bk.mu);
    return k;
}

static void merge(const joule_report *r, const char *where)
{
    pthread_mutex_lock(&bk.mu);
    joule_report *m = joule_report_merge(bk.merged, r, where);
    if (m)
        bk.merged = m;
    else
        bk.merge_failed = 1;
    pthread_mutex_unlock(&bk.mu);
}

/* "host rank 3": where a rank runs (host names are at most 255 bytes). */
static char *where_of(int r, const char *host)
{
    char w[320];
    snprintf(w, sizeof w, "%.255s rank %d", host, r);
    return strdup(w);
}

/* Rank 0's second thread: answers every other rank's asks until each has
 * been told there is no more work. Polls rather than blocks, so that an
 * idle wait costs no core (a blocking receive spins in most MPI
 * libraries). */
static void *serve(void *arg)
{
    (void)arg;
    int open_ranks = n_ranks - 1;
    int64_t *v = calloc(bk.batch, sizeof *v);
    long nap = 50000; /* ns: short after an ask, doubling to 5 ms while idle */
    while (open_ranks > 0) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_ASK, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            struct timespec ts = {0, nap};
            nanosleep(&ts, NULL);
            nap = nap < 5000000 ? nap * 2 : 5000000;
            continue;
        }
        nap = 50000;
        int len = 0;
        MPI_Get_count(&st, MPI_BYTE, &len);
        char *buf = malloc(len > 0 ? (size_t)len : 1);
        MPI_Recv(buf, len, MPI_BYTE, st.MPI_SOURCE, TAG_ASK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        /* the asker's last batch (its host name first) */
        if (len > 0) {
            size_t hl = strnlen(buf, (size_t)len);
            joule_report *r = hl < (size_t)len ? joule_report_unpack(buf + hl + 1, (size_t)len - hl - 1) : NULL;
            if (r) {
                char *w = where_of(st.MPI_SOURCE, buf);
                merge(r, w);
                free(w);
                joule_report_free(r);
            } else if (hl + 1 < (size_t)len) {
                pthread_mutex_lock(&bk.mu);
                bk.merge_failed = 1;
                pthread_mutex_unlock(&bk.mu);
            }
        }
        free(buf);
        size_t k = v ? take(v) : 0;
        MPI_Send(v, (int)k, MPI_INT64_T, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        if (!k)
            open_ranks--;
    }
    free(v);
    return NULL;
}

/* ------------------------------------------------------------------------ */

static int parse(int argc, char **argv, options *o, const char ***args, size_t *n_args)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},   {"set", required_argument, NULL, 's'},
        {"jobs", required_argument, NULL, 'j'},     {"plugin-path", required_argument, NULL, 'P'},
        {"stats", no_argument, NULL, 1},            {"report", required_argument, NULL, 2},
        {"timeout", required_argument, NULL, 5},    {"no-isolate", no_argument, NULL, 6},
        {"no-cache", no_argument, NULL, 7},         {"cache-dir", required_argument, NULL, 8},
        {"refresh", no_argument, NULL, 9},          {"explain", no_argument, NULL, 11},
        {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
        {"no-progress", no_argument, NULL, 4},      {NULL, 0, NULL, 0},
    };
    o->sets = calloc((size_t)argc + 1, sizeof *o->sets);
    *args = calloc((size_t)argc + 1, sizeof **args);
    if (!o->sets || !*args)
        return -1;
    opterr = rank == 0;
    while (optind < argc) {
        if (argv[optind][0] != '-' || !argv[optind][1]) {
            (*args)[(*n_args)++] = argv[optind++];
            continue;
        }
        int c = getopt_long(argc, argv, "+o:s:j:P:vh", longopts, NULL);
        char *end;
        long v;
        switch (c) {
        case -1:
            while (optind < argc)
                (*args)[(*n_args)++] = argv[optind++];
            break;
        case 'o': o->out_dir = optarg; break;
        case 's': o->sets[o->n_sets++] = optarg; break;
        case 'j':
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024)
                usage_exit("-j needs a number of threads from 1 to 1024, not '%s'", optarg);
            o->threads = (int)v;
            break;
        case 'P': o->plugin_path = optarg; break;
        case 1: o->stats = 1; break;
        case 2: o->report_path = optarg; break;
        case 4: break; /* there is no progress line to turn off */
        case 5:
            o->timeout = parse_duration(optarg);
            if (o->timeout < 0)
                usage_exit("--timeout needs a duration (30, 30s, 500ms, 2m, 1h), not '%s'", optarg);
            break;
        case 6: o->no_isolate = 1; break;
        case 7: o->no_cache = 1; break;
        case 8: o->cache_dir = optarg; break;
        case 9: o->refresh = 1; break;
        case 11: o->explain = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h':
            if (rank == 0)
                fputs(usage_text, stdout);
            MPI_Finalize();
            exit(0);
        default: usage_exit("%s", "unknown option");
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "joule-mpi: MPI could not start\n");
        return EXIT_FAILED;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    double t0 = now();
    options o;
    memset(&o, 0, sizeof o);
    const char **args = NULL;
    size_t n_args = 0;
    if (parse(argc, argv, &o, &args, &n_args))
        usage_exit("%s", "out of memory");
    if (n_args < 1 || strcmp(args[0], "run"))
        usage_exit("%s", "the command is: joule-mpi run GRAPH FILE...");
    if (n_args < 3)
        usage_exit("%s", "joule-mpi run needs a graph and input files: joule-mpi run GRAPH FILE...");
    if (n_ranks > 1 && provided < MPI_THREAD_SERIALIZED)
        usage_exit("%s", "this MPI library cannot be used from two threads one at a time (MPI_THREAD_SERIALIZED)");
    const char *graph_path = args[1];
    const char *const *files = args + 2;
    size_t n_files = n_args - 2;

    /* every rank loads the graph; rank 0 says what is wrong with it */
    joule_registry *reg = load_registry(o.plugin_path);
    joule_graph *g = NULL;
    char *errors = NULL;
    int status = 0;
    if (joule_graph_load(graph_path, reg, o.sets, o.n_sets, &g, &errors)) {
        if (rank == 0)
            fputs(errors, stderr);
        status = EXIT_USAGE;
    }
    free(errors);

    joule_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.struct_size = sizeof opt;
    opt.out_dir = o.out_dir;
    opt.threads = o.threads ? o.threads : 1;
    opt.verbose = o.verbose;
    opt.progress = 0;
    opt.isolate = !o.no_isolate;
    opt.timeout = o.timeout;
    opt.no_cache = o.no_cache;
    opt.cache_dir = o.cache_dir;
    opt.refresh = o.refresh;
    opt.explain = o.explain;
    opt.defer_tables = 1;

    /* the whole run's outputs, checked once before anything is read */
    if (!status && rank == 0) {
        char *msg = NULL;
        opt.extra_outputs = o.report_path ? &o.report_path : NULL;
        opt.n_extra_outputs = o.report_path ? 1 : 0;
        if (joule_run_check(g, files, n_files, &opt, &msg)) {
            fprintf(stderr, "joule-mpi: %s\n", msg);
            status = EXIT_USAGE;
        }
        free(msg);
        opt.extra_outputs = NULL;
        opt.n_extra_outputs = 0;
    }
    MPI_Allreduce(MPI_IN_PLACE, &status, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (status) {
        joule_graph_free(g);
        joule_registry_free(reg);
        free(o.sets);
        free(args);
        MPI_Finalize();
        return status;
    }

    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    bk.n_files = n_files;
    bk.batch = (size_t)opt.threads;
    int64_t *batch = calloc(bk.batch, sizeof *batch);
    const char **bfiles = calloc(bk.batch, sizeof *bfiles);
    pthread_t server;
    int serving = rank == 0 && n_ranks > 1 && pthread_create(&server, NULL, serve, NULL) == 0;
    if (rank == 0 && n_ranks > 1 && !serving) {
        fprintf(stderr, "joule-mpi: cannot start the thread that serves the other ranks\n");
        MPI_Abort(MPI_COMM_WORLD, EXIT_FAILED);
    }

    int failed = 0;
    void *packed = NULL;
    size_t packed_len = 0;
    for (;;) {
        size_t k;
        if (rank == 0) {
            k = take(batch);
        } else {
            /* ask, with the last batch's report after the host name */
            size_t hl = strlen(host) + 1;
            char *msg = malloc(hl + packed_len);
            memcpy(msg, host, hl);
            if (packed_len)
                memcpy(msg + hl, packed, packed_len);
            MPI_Send(msg, (int)(hl + packed_len), MPI_BYTE, 0, TAG_ASK, MPI_COMM_WORLD);
            free(msg);
            free(packed);
            packed = NULL;
            packed_len = 0;
            MPI_Status st;
            int got = 0;
            MPI_Recv(batch, (int)bk.batch, MPI_INT64_T, 0, TAG_WORK, MPI_COMM_WORLD, &st);
            MPI_Get_count(&st, MPI_INT64_T, &got);
            k = got > 0 ? (size_t)got : 0;
        }
        if (!k)
            break;
        for (size_t i = 0; i < k; i++)
            bfiles[i] = files[batch[i] >= 0 && (size_t)batch[i] < n_files ? batch[i] : 0];
        joule_report *rep = NULL;
        int rc = joule_run(g, bfiles, k, &opt, &rep);
        if (rc)
            failed = rc == JOULE_E_INTERRUPTED ? 2 : 1;
        if (rep) {
            if (rank == 0) {
                char *w = where_of(0, host);
                merge(rep, w);
                free(w);
            } else {
                packed = joule_report_pack(rep, &packed_len);
            }
            joule_report_free(rep);
        }
    }
    if (serving)
        pthread_join(server, NULL);
    free(batch);
    free(bfiles);

    /* rank 0: the tables, the report, the status every rank returns */
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        joule_report *r = bk.merged;
        int *ok = calloc(n_files ? n_files : 1, sizeof *ok);
        if (r) {
            joule_report_finish_merge(r, files, n_files, now() - t0, n_ranks, opt.threads);
            /* which inputs succeeded: the merged report's, in order */
            const char *f;
            for (size_t i = 0; i < n_files && joule_report_input(r, i, &f) >= 0; i++)
                ok[i] = joule_report_input(r, i, &f) == 1 && !strcmp(f, files[i]);
        }
        if (bk.merge_failed) {
            fprintf(stderr, "joule-mpi: a rank's report could not be read: the figures are incomplete\n");
            failed = failed ? failed : 1;
        }
        if (joule_gather_tables(g, files, n_files, ok, &opt))
            failed = failed ? failed : 1;
        if (r && o.stats)
            joule_report_print(r, stderr);
        if (r && o.report_path && joule_report_write_json(r, o.report_path)) {
            fprintf(stderr, "joule-mpi: %s: cannot write the report: %s\n", o.report_path, strerror(errno));
            failed = failed ? failed : 1;
        }
        joule_report_free(r);
        free(ok);
        status = failed == 2 ? 130 : failed ? EXIT_FAILED : 0;
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    joule_graph_free(g);
    joule_registry_free(reg);
    free(o.sets);
    free(args);
    MPI_Finalize();
    return status;
}
