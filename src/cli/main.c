/* main.c — the `joule` command.
 *
 *   joule run GRAPH [FILES...] [-o DIR] [--set node.key=value] [-j N] ...
 *   joule validate GRAPH
 *   joule plugins
 *   joule inspect PLUGIN
 *
 * Exit status: 0 success; 1 processing of at least one input failed; 2 bad
 * usage or an invalid graph (nothing was run); 130 interrupted. */
#include "config.h"

#include "plugin_test.h"

#include <joule/joule.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

static const char usage_text[] =
    "usage: joule run GRAPH [FILE...] [options]   run GRAPH once per input FILE\n"
    "       joule validate GRAPH [--set ...]       check GRAPH without running it\n"
    "       joule plugins                          list the plugins found, and failed loads\n"
    "       joule inspect PLUGIN                   parameters, inputs and outputs of PLUGIN\n"
    "       joule plugin-test PLUGIN|PATH.so ...   check a plugin against the ABI (--help for more)\n"
    "       joule cache stats | prune | clear      what the stage cache holds; trim it; empty it\n"
    "       joule --help | --version\n"
    "\n"
    "options:\n"
    "  -o, --output DIR        where output files go (default: the current folder)\n"
    "  -s, --set NODE.KEY=VAL  override a parameter (or graph.chunk, graph.threads, ...)\n"
    "  -j, --jobs N            worker threads (default: the graph's threads, or one per core)\n"
    "  -P, --plugin-path DIRS  look for plugins in DIRS (colon-separated) first\n"
    "      --stats             print per-node statistics on stderr after the run\n"
    "      --report FILE       write the statistics as JSON to FILE\n"
    "      --progress          show a progress line on stderr (default: when it is a terminal)\n"
    "      --no-progress       never show it\n"
    "      --timeout DURATION  fail an input that takes longer (30s, 2m, 1h)\n"
    "      --no-isolate        run plugins in this process (a crash then ends the run)\n"
    "      --no-cache          neither use nor fill the stage cache in this run\n"
    "      --cache-dir DIR     the stage cache's folder (default: $JOULE_CACHE_DIR,\n"
    "                          $XDG_CACHE_HOME/joule, ~/.cache/joule)\n"
    "      --refresh           recompute every cached node and replace its entry\n"
    "      --explain           say per input and node why it runs, is replayed or skipped\n"
    "      --shard I/N         run the I-th of N shares of the inputs (job arrays: the N\n"
    "                          shares run every input once); tables get .shard-I-of-N\n"
    "      --older-than AGE    cache prune: also remove entries unused for AGE (30d, 12h)\n"
    "  -v, --verbose           show plugins' informational messages\n"
    "\n"
    "Plugins are searched in --plugin-path, then $JOULE_PLUGIN_PATH, then " JOULE_PLUGIN_DIR ".\n"
    "Output paths may use {stem} {name} {dir} {node}.\n";

static const char *format_size(uint64_t bytes, char *buf, size_t n)
{
    static const char units[] = "KMGT";
    double x = (double)bytes;
    int u = -1;
    while (x >= 1024 && u < 3) {
        x /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, n, "%llu bytes", (unsigned long long)bytes);
    else
        snprintf(buf, n, "%.1f %ciB", x, units[u]);
    return buf;
}

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "joule: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(joule --help shows the usage)\n");
    exit(EXIT_USAGE);
}

/* Add each directory of a colon-separated list. */
static void add_dirs(joule_registry *reg, const char *list)
{
    char *copy = strdup(list);
    if (!copy)
        return;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
        if (*d && joule_registry_add_dir(reg, d))
            fprintf(stderr, "joule: warning: cannot read plugin folder %s: %s\n", d, strerror(errno));
    free(copy);
}

/* When run from its build tree (src/cli/.libs/joule, through libtool's
 * wrapper), use the build tree's plugins rather than installed ones. */
static int add_build_tree(joule_registry *reg)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    size_t len = strlen(exe);
    static const char tail[] = "/src/cli/.libs";
    if (len < sizeof tail - 1 || strcmp(exe + len - (sizeof tail - 1), tail))
        return 0;
    exe[len - (sizeof tail - 1)] = '\0';
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/plugins/.libs", exe);
    if (access(dir, R_OK))
        return 0;
    joule_registry_add_dir(reg, dir);
    return 1;
}

static joule_registry *load_registry(const char *plugin_path)
{
    joule_registry *reg = joule_registry_new();
    if (plugin_path)
        add_dirs(reg, plugin_path);
    const char *env = getenv("JOULE_PLUGIN_PATH");
    if (env && *env)
        add_dirs(reg, env);
    if (!add_build_tree(reg))
        joule_registry_add_dir(reg, JOULE_PLUGIN_DIR);
    return reg;
}

static const char *role_name(uint32_t role)
{
    return role == JOULE_ROLE_SOURCE ? "source" : role == JOULE_ROLE_SINK ? "sink" : "filter";
}

static const char *kinds_name(uint32_t k)
{
    static char buf[64];
    buf[0] = '\0';
    if (k & JOULE_SIGNAL)
        strcat(buf, "signal");
    if (k & JOULE_FRAMES)
        strcat(buf, *buf ? "|frames" : "frames");
    if (k & JOULE_EVENTS)
        strcat(buf, *buf ? "|events" : "events");
    return buf;
}

static int cmd_plugins(joule_registry *reg)
{
    size_t n = joule_registry_count(reg);
    /* columns as wide as the widest name and version (bridged plugins have
     * long ones: vamp_example_plugins_spectralcentroid 2.0.0+1bce9039),
     * within reason */
    int wn = 12, wv = 8;
    for (size_t i = 0; i < n; i++) {
        const joule_descriptor *d = joule_registry_get(reg, i)->desc;
        int ln = (int)strlen(d->name), lv = (int)strlen(d->version);
        wn = ln > wn ? (ln < 40 ? ln : 40) : wn;
        wv = lv > wv ? (lv < 20 ? lv : 20) : wv;
    }
    printf("%-*s %-*s %-7s %s\n", wn, "NAME", wv, "VERSION", "ROLE", "SUMMARY");
    for (size_t i = 0; i < n; i++) {
        const joule_plugin_info *p = joule_registry_get(reg, i);
        printf("%-*s %-*s %-7s %s\n%*s%s\n", wn, p->desc->name, wv, p->desc->version, role_name(p->desc->role),
               p->desc->summary, wn + wv + 10, "", p->path);
    }
    size_t nf = joule_registry_failure_count(reg);
    if (nf)
        printf("\nnot loaded:\n");
    for (size_t i = 0; i < nf; i++) {
        const char *path;
        const char *why = joule_registry_failure(reg, i, &path);
        printf("  %s: %s\n", path, why);
    }
    if (!n)
        fprintf(stderr, "joule: no plugins found (searched --plugin-path, $JOULE_PLUGIN_PATH, %s)\n",
                JOULE_PLUGIN_DIR);
    return n ? 0 : EXIT_FAILED;
}

static int cmd_inspect(joule_registry *reg, const char *name)
{
    const joule_plugin_info *p = joule_registry_find(reg, name);
    if (!p) {
        fprintf(stderr, "joule: no plugin '%s' (joule plugins lists those found)\n", name);
        return EXIT_USAGE;
    }
    const joule_descriptor *d = p->desc;
    printf("%s %s (%s)\n  %s\n  %s\n", d->name, d->version, role_name(d->role), d->summary, p->path);
    /* the metadata (0.4): each field only when the descriptor has it, and
     * only when given */
    const char *who = JOULE_DESC_HAS(d, maker) ? d->maker : NULL;
    const char *lic = JOULE_DESC_HAS(d, license) ? d->license : NULL;
    const char *home = JOULE_DESC_HAS(d, homepage) ? d->homepage : NULL;
    const char *text = JOULE_DESC_HAS(d, description) ? d->description : NULL;
    if (who && *who)
        printf("  maker: %s\n", who);
    if (lic && *lic)
        printf("  licence: %s\n", lic);
    if (home && *home)
        printf("  home page: %s\n", home);
    if (text) {
        /* after a blank line, indented as the rest, line for line (a blank
         * line between paragraphs stays blank); leading and trailing blank
         * lines dropped */
        while (*text == '\n')
            text++;
        size_t len = strlen(text);
        while (len && text[len - 1] == '\n')
            len--;
        if (len)
            printf("\n  ");
        for (size_t i = 0; i < len; i++) {
            putchar(text[i]);
            if (text[i] == '\n' && text[i + 1] != '\n')
                fputs("  ", stdout);
        }
        if (len)
            putchar('\n');
    }
    if (d->n_params)
        printf("\nparameters:\n");
    for (uint32_t i = 0; i < d->n_params; i++) {
        const joule_param *q = &d->params[i];
        static const char *const types[] = {"?", "int", "float", "bool", "string", "enum"};
        printf("  %-14s %-6s default %s", q->name, types[q->type <= 5 ? q->type : 0],
               q->def ? (*q->def ? q->def : "\"\"") : "(required)");
        if (q->flags & (JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX)) {
            printf(", range ");
            if (q->flags & JOULE_PARAM_HAS_MIN)
                printf("%.15g", q->min);
            printf("..");
            if (q->flags & JOULE_PARAM_HAS_MAX)
                printf("%.15g", q->max);
        }
        if (q->type == JOULE_PARAM_ENUM) {
            printf(", one of");
            for (const char *const *c = q->choices; *c; c++)
                printf(" %s", *c);
        }
        if (q->unit && *q->unit)
            printf(", unit %s", q->unit);
        printf("\n      %s\n", q->help ? q->help : "");
    }
    if (d->n_inputs)
        printf("\ninputs:\n");
    for (uint32_t i = 0; i < d->n_inputs; i++)
        printf("  %-14s %-20s %s%s\n", d->inputs[i].name, kinds_name(d->inputs[i].kinds),
               d->inputs[i].flags & JOULE_PORT_OPTIONAL ? "(optional) " : "", d->inputs[i].help ? d->inputs[i].help : "");
    if (d->n_outputs)
        printf("\noutputs:\n");
    for (uint32_t i = 0; i < d->n_outputs; i++)
        printf("  %-14s %-20s %s\n", d->outputs[i].name, kinds_name(d->outputs[i].kinds),
               d->outputs[i].help ? d->outputs[i].help : "");
    return 0;
}

/* The signal that stopped the run: the exit status is 128 + it. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
    joule_interrupt();
}

/* In place from the start of the process: a Ctrl-C while plugins load or a
 * graph is read is not lost. Every SIGINT is caught, not only the first:
 * `timeout` and group kills deliver the same interrupt twice, and a
 * second, default-action signal would kill the run before it removed its
 * temporary files. (SIGQUIT still ends a run at once.) */
static void catch_stops(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* "30", "30s", "500ms", "2m", "1h" -> seconds; -1 if not a duration. */
static double parse_duration(const char *t)
{
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (end == t || errno || !(v > 0) || v > 1e9)
        return -1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        return v;
    if (!strcmp(end, "ms"))
        return v / 1000;
    if (!strcmp(end, "m") || !strcmp(end, "min"))
        return v * 60;
    if (!strcmp(end, "h"))
        return v * 3600;
    return -1;
}

typedef struct options {
    const char *out_dir, *plugin_path, *report_path;
    const char **sets;
    size_t n_sets;
    int threads, stats, progress, verbose, no_isolate, no_cache, refresh, explain;
    const char *cache_dir;
    double timeout, older_than;
    unsigned shard_index, shard_count; /* --shard I/N: I - 1, N */
} options;

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"set", required_argument, NULL, 's'},
    {"jobs", required_argument, NULL, 'j'},
    {"plugin-path", required_argument, NULL, 'P'},
    {"stats", no_argument, NULL, 1},
    {"report", required_argument, NULL, 2},
    {"progress", no_argument, NULL, 3},
    {"no-progress", no_argument, NULL, 4},
    {"timeout", required_argument, NULL, 5},
    {"no-isolate", no_argument, NULL, 6},
    {"no-cache", no_argument, NULL, 7},
    {"cache-dir", required_argument, NULL, 8},
    {"refresh", no_argument, NULL, 9},
    {"older-than", required_argument, NULL, 10},
    {"explain", no_argument, NULL, 11},
    {"shard", required_argument, NULL, 12},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* One option from getopt_long; exits for --help, --version and errors. */
static void apply_option(options *o, int c)
{
    switch (c) {
    case 'o': o->out_dir = optarg; break;
    case 's': o->sets[o->n_sets++] = optarg; break;
    case 'j': {
        char *end;
        long v = strtol(optarg, &end, 10);
        if (*end || v < 1 || v > 1024)
            usage_error("-j needs a number of threads from 1 to 1024, not '%s'", optarg);
        o->threads = (int)v;
        break;
    }
    case 'P': o->plugin_path = optarg; break;
    case 1: o->stats = 1; break;
    case 2: o->report_path = optarg; break;
    case 3: o->progress = 1; break;
    case 4: o->progress = 0; break;
    case 5:
        o->timeout = parse_duration(optarg);
        if (o->timeout < 0)
            usage_error("--timeout needs a duration (30, 30s, 500ms, 2m, 1h), not '%s'", optarg);
        break;
    case 6: o->no_isolate = 1; break;
    case 7: o->no_cache = 1; break;
    case 8: o->cache_dir = optarg; break;
    case 9: o->refresh = 1; break;
    case 11: o->explain = 1; break;
    case 10:
        o->older_than = parse_duration(optarg);
        if (o->older_than < 0) {
            /* days too: a cache is pruned by the day */
            char *end;
            double v = strtod(optarg, &end);
            if (end != optarg && !strcmp(end, "d") && v > 0 && v < 1e6)
                o->older_than = v * 86400;
            else
                usage_error("--older-than needs an age (30d, 12h, 90m), not '%s'", optarg);
        }
        break;
    case 12: {
        /* I/N, 1-based as array task numbers are (sbatch --array=1-N) */
        char *end;
        errno = 0;
        unsigned long i = strtoul(optarg, &end, 10), n = 0;
        int ok = end != optarg && *end == '/' && optarg[0] != '-' && !errno;
        if (ok) {
            const char *d = end + 1;
            n = strtoul(d, &end, 10);
            ok = end != d && !*end && d[0] != '-' && !errno && n >= 1 && n <= 1000000;
        }
        if (!ok)
            usage_error("--shard needs I/N, the I-th of N shares of the inputs (1 <= I <= N), not '%s'", optarg);
        if (i < 1 || i > n)
            usage_error("--shard %s: shares are numbered 1 to N (a Slurm array: --array=1-N)", optarg);
        o->shard_index = (unsigned)(i - 1);
        o->shard_count = (unsigned)n;
        break;
    }
    case 'v': o->verbose = 1; break;
    case 'h': fputs(usage_text, stdout); exit(0);
    case 'V': printf("joule %s (plugin ABI %u)\n", joule_version(), JOULE_ABI_VERSION); exit(0);
    default: fprintf(stderr, "(joule --help shows the usage)\n"); exit(EXIT_USAGE);
    }
}

/* joule cache stats | prune | clear */
static int cmd_cache(const char *what, size_t n_args, const options *o)
{
    if (!what || n_args != 1 || (strcmp(what, "stats") && strcmp(what, "prune") && strcmp(what, "clear")))
        usage_error("%s", "cache takes one of: stats, prune, clear");
    char b1[32], b2[32];
    char *dir = NULL, *why = NULL;
    if (!strcmp(what, "stats")) {
        joule_cache_usage u;
        if (joule_cache_usage_get(o->cache_dir, &u, &dir, &why)) {
            fprintf(stderr, "joule: %s\n", why);
            free(why);
            free(dir);
            return EXIT_FAILED;
        }
        printf("%s: %llu entr%s, %s", dir, (unsigned long long)u.entries, u.entries == 1 ? "y" : "ies",
               format_size(u.bytes, b1, sizeof b1));
        if (u.entries)
            printf(", %llu expired, least recently used %.1f days ago", (unsigned long long)u.expired,
                   u.oldest_s / 86400);
        printf("\n");
        free(dir);
        return 0;
    }
    uint64_t removed = 0, freed = 0;
    int rc = !strcmp(what, "prune") ? joule_cache_prune(o->cache_dir, o->older_than, &removed, &freed, &dir, &why)
                                    : joule_cache_clear(o->cache_dir, &removed, &freed, &dir, &why);
    if (rc) {
        fprintf(stderr, "joule: %s\n", why);
        free(why);
        free(dir);
        return EXIT_FAILED;
    }
    printf("%s: removed %llu entr%s, %s\n", dir, (unsigned long long)removed, removed == 1 ? "y" : "ies",
           format_size(freed, b2, sizeof b2));
    free(dir);
    return 0;
}

int main(int argc, char **argv)
{
    /* plugin-test has options of its own */
    if (argc > 1 && !strcmp(argv[1], "plugin-test"))
        return plugin_test_main(argc - 1, argv + 1);
    catch_stops();
    /* static: usage errors exit() from anywhere, and what these hold must
     * still be reachable then (the leak checker of the sanitizer builds) */
    static options o;
    memset(&o, 0, sizeof o);
    o.progress = -1;
    o.sets = calloc((size_t)argc + 1, sizeof *o.sets);
    static const char **args;
    args = calloc((size_t)argc + 1, sizeof *args);
    size_t n_args = 0;
    if (!o.sets || !args)
        return EXIT_FAILED;
    /* Options may come before or after the command and its arguments. */
    const char *cmd = NULL;
    while (optind < argc) {
        if (argv[optind][0] == '-' && argv[optind][1]) {
            int c = getopt_long(argc, argv, "+o:s:j:P:vhV", longopts, NULL);
            if (c == -1) /* "--" */
                while (optind < argc)
                    args[n_args++] = argv[optind++];
            else
                apply_option(&o, c);
        } else if (!cmd) {
            cmd = argv[optind++];
        } else {
            args[n_args++] = argv[optind++];
        }
    }
    if (!cmd)
        usage_error("%s", "no command: run, validate, plugins or inspect");
    const char *out_dir = o.out_dir, *report_path = o.report_path;
    const char **sets = o.sets;
    size_t n_sets = o.n_sets;
    int threads = o.threads, stats = o.stats, progress = o.progress, verbose = o.verbose;

    if (!strcmp(cmd, "cache")) {
        int st = cmd_cache(n_args ? args[0] : NULL, n_args, &o);
        free(o.sets);
        free(args);
        return st;
    }
    joule_registry *reg = load_registry(o.plugin_path);
    int status = 0;
    if (!strcmp(cmd, "plugins")) {
        status = cmd_plugins(reg);
    } else if (!strcmp(cmd, "inspect")) {
        if (n_args != 1)
            usage_error("%s", "inspect takes one plugin name");
        status = cmd_inspect(reg, args[0]);
    } else if (!strcmp(cmd, "validate") || !strcmp(cmd, "run")) {
        int run = !strcmp(cmd, "run");
        if (n_args < 1)
            usage_error("%s needs a graph file", cmd);
        if (!run && n_args > 1)
            usage_error("%s", "validate takes one graph file");
        joule_graph *g = NULL;
        char *errors = NULL;
        int rc = joule_graph_load(args[0], reg, sets, n_sets, &g, &errors);
        if (rc) {
            fputs(errors, stderr);
            free(errors);
            status = EXIT_USAGE;
        } else if (!run) {
            printf("%s: valid, %zu nodes\n", args[0], joule_graph_node_count(g));
        } else if (n_args < 2) {
            fprintf(stderr, "joule: no input files: joule run %s FILE...\n", args[0]);
            status = EXIT_USAGE;
        } else if (stop_signal) { /* while the graph was read */
            status = 128 + stop_signal;
        } else {
            joule_run_options opt;
            memset(&opt, 0, sizeof opt);
            opt.struct_size = sizeof opt;
            opt.out_dir = out_dir;
            opt.threads = threads;
            opt.verbose = verbose;
            opt.progress = progress < 0 ? isatty(2) : progress;
            /* the report is an output like the others: checked with them */
            opt.extra_outputs = report_path ? &report_path : NULL;
            opt.n_extra_outputs = report_path ? 1 : 0;
            /* Plugins run in a worker process, so that one that crashes
             * or hangs fails only the inputs in flight. */
            opt.isolate = !o.no_isolate;
            opt.timeout = o.timeout;
            opt.no_cache = o.no_cache;
            opt.cache_dir = o.cache_dir;
            opt.refresh = o.refresh;
            opt.explain = o.explain;
            opt.shard_index = o.shard_index;
            opt.shard_count = o.shard_count;
            joule_report *report = NULL;
            rc = joule_run(g, args + 1, n_args - 1, &opt, (stats || report_path) ? &report : NULL);
            if (report) {
                if (stats)
                    joule_report_print(report, stderr);
                if (report_path && joule_report_write_json(report, report_path)) {
                    fprintf(stderr, "joule: %s: cannot write the report: %s\n", report_path, strerror(errno));
                    if (!rc)
                        rc = JOULE_E_IO;
                }
                joule_report_free(report);
            }
            status = rc == 0                     ? 0
                     : rc == JOULE_E_INTERRUPTED ? (stop_signal ? 128 + stop_signal : EXIT_INTERRUPTED)
                     : rc == JOULE_E_USAGE       ? EXIT_USAGE
                                                 : EXIT_FAILED;
        }
        joule_graph_free(g);
    } else {
        usage_error("unknown command '%s': run, validate, plugins or inspect", cmd);
    }
    joule_registry_free(reg);
    free(sets);
    free(args);
    return status;
}
