/* outputs.c — see outputs.h. */
#include "config.h"

#include "outputs.h"
#include "pathtpl.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Who made a temporary                                                      */

/* A temporary is named
 *     .joule-HOST-BOOT-PID-START-RANDOM.tmp
 * HOST: a hash of the host name (a folder may be shared between machines:
 * another machine's processes cannot be checked, so its temporaries are
 * left alone); BOOT: the kernel's boot id (after a reboot every process of
 * the earlier boot is gone); PID and START: the process and its start time
 * in clock ticks since boot (a pid is reused; the pair is not). */
#define TMP_PREFIX ".joule-"
#define TMP_SUFFIX ".tmp"

typedef struct ident {
    unsigned host, boot;
    long pid;
    unsigned long long start;
} ident;

/* What /proc says of process `pid`: 1 and its start time (clock ticks
 * since boot) if it runs; 0 if it does not exist or is a zombie (it has
 * ended; only its parent has yet to collect it); -1 if that cannot be
 * read (no /proc): then nobody can tell. */
static int proc_info(long pid, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? 0 : -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return n == 0 || errno == ESRCH ? 0 : -1;
    buf[n] = '\0';
    /* the command name (field 2) may hold spaces and parentheses: count
     * fields from the last ')' */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -1;
    if (p[2] == 'Z' || p[2] == 'X')
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++) /* p: the space before field 3 */
        p = strchr(p + 1, ' ');
    if (!p)
        return -1;
    *start = strtoull(p + 1, NULL, 10);
    return 1;
}

static unsigned long long proc_start(long pid)
{
    unsigned long long start = 0;
    return proc_info(pid, &start) == 1 ? start : 0;
}

static unsigned fnv32(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static unsigned boot_id(void)
{
    char buf[64] = "";
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    return (unsigned)strtoul(buf, NULL, 16); /* the first 8 hex digits */
}

/* This process's identity. Computed again after a fork (the pid changed). */
static ident self_ident(void)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static ident id;
    pthread_mutex_lock(&mu);
    if (id.pid != (long)getpid()) {
        /* the host, and the pid namespace: a container sharing a folder
         * with its host sees other pids, and must leave their files be */
        char host[512] = "";
        gethostname(host, 255);
        size_t len = strlen(host);
        host[len++] = '/';
        ssize_t k = readlink("/proc/self/ns/pid", host + len, sizeof host - len - 1);
        host[len + (k > 0 ? (size_t)k : 0)] = '\0';
        id.host = fnv32(host);
        id.boot = boot_id();
        id.pid = (long)getpid();
        id.start = proc_start(id.pid);
    }
    ident r = id;
    pthread_mutex_unlock(&mu);
    return r;
}

static unsigned long long random64(void)
{
    unsigned long long v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        static unsigned long long counter;
        v = (unsigned long long)jl_now() * 1000003u ^ (unsigned long long)getpid() << 32 ^
            __atomic_add_fetch(&counter, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
    }
    return v;
}

/* A fresh temporary name in `dir`. */
char *jl_tmp_name(const char *dir)
{
    ident id = self_ident();
    return jl_printf("%s/" TMP_PREFIX "%08x-%08x-%ld-%llu-%016llx" TMP_SUFFIX, dir, id.host, id.boot, id.pid,
                     id.start, random64());
}

/* Parse a temporary's name; 0 if it is one. */
static int tmp_parse(const char *name, ident *id)
{
    char rnd[17];
    int end = 0;
    if (strncmp(name, TMP_PREFIX, sizeof TMP_PREFIX - 1))
        return -1;
    if (sscanf(name + sizeof TMP_PREFIX - 1, "%8x-%8x-%ld-%llu-%16[0-9a-f]" TMP_SUFFIX "%n", &id->host, &id->boot,
               &id->pid, &id->start, rnd, &end) != 5 ||
        name[sizeof TMP_PREFIX - 1 + (size_t)end] != '\0' || end == 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                     */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return jl_strdup(".");
    if (slash == path)
        return jl_strdup("/");
    return jl_strndup(path, (size_t)(slash - path));
}

static void mkdirs(const char *dir)
{
    char *p = jl_strdup(dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0777);
            *s = '/';
        }
    mkdir(p, 0777);
    free(p);
}

/* The absolute path of `path` with ".", ".." and symbolic links of the
 * part that exists resolved — the same text for every spelling of one
 * file that does not exist yet ("x.csv", "./x.csv", "sub/../x.csv"). */
static char *normalise(const char *path)
{
    char *abs;
    if (path[0] == '/') {
        abs = jl_strdup(path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return jl_strdup(path);
        abs = jl_printf("%s/%s", cwd, path);
    }
    /* components, lexically */
    size_t n = 0;
    char **comp = jl_malloc((strlen(abs) / 2 + 2) * sizeof *comp);
    for (char *save = NULL, *c = strtok_r(abs, "/", &save); c; c = strtok_r(NULL, "/", &save))
        if (strcmp(c, "."))
            comp[n++] = c;
    /* the longest prefix that exists, resolved by the kernel */
    char *base = NULL;
    size_t k = n;
    for (;; k--) {
        size_t len = 1;
        for (size_t i = 0; i < k; i++)
            len += strlen(comp[i]) + 1;
        char *prefix = jl_malloc(len + 1), *p = prefix;
        *p = '\0';
        for (size_t i = 0; i < k; i++)
            p += sprintf(p, "/%s", comp[i]);
        if (k == 0)
            strcpy(prefix, "/");
        char *real = realpath(prefix, NULL);
        free(prefix);
        if (real) {
            base = real;
            break;
        }
        if (k == 0)
            break;
    }
    if (!base)
        base = strdup("/");
    /* the rest, lexically: it does not exist yet, so no link can be in it */
    size_t cap = strlen(base) + strlen(path) + 2;
    char *out = jl_malloc(cap + 1);
    strcpy(out, base);
    free(base);
    for (size_t i = k; i < n; i++) {
        if (!strcmp(comp[i], "..")) {
            char *s = strrchr(out, '/');
            if (s && s != out)
                *s = '\0';
            else
                strcpy(out, "/");
            continue;
        }
        size_t len = strlen(out);
        if (len + strlen(comp[i]) + 2 > cap)
            out = jl_realloc(out, (cap = 2 * (len + strlen(comp[i]) + 2)) + 1);
        if (len > 1)
            out[len++] = '/';
        strcpy(out + len, comp[i]);
    }
    free(comp);
    free(abs);
    return out;
}

static const char *type_name(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* ------------------------------------------------------------------------ */
/* The check before a run                                                    */

enum { E_INPUT, E_OUTPUT, E_TABLE, E_EXTRA }; /* E_TABLE: a node's gathered table */

typedef struct ent {
    char *key;        /* "=dev:ino" for a file that exists, else its path */
    char *path;       /* as the run spells it                              */
    int kind;
    const char *node; /* outputs and tables: the node                      */
    size_t file;      /* inputs and outputs: the input's index             */
    size_t seq;       /* order of appearance, for stable messages          */
} ent;

static int cmp_ent(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int same_stem(const char *a, const char *b)
{
    a = base_of(a);
    b = base_of(b);
    const char *da = strrchr(a, '.'), *db = strrchr(b, '.');
    size_t la = da && da != a ? (size_t)(da - a) : strlen(a);
    size_t lb = db && db != b ? (size_t)(db - b) : strlen(b);
    return la == lb && !strncmp(a, b, la);
}

/* The message for two outputs that are one file: say what would help. */
static char *twice_message(const ent *a, const ent *b, const char *const *files, int same_input)
{
    char *pa = jl_escape(a->path), *pb = jl_escape(b->path);
    char *what = !strcmp(a->path, b->path) ? jl_printf("%s", pa) : jl_printf("%s and %s (one file)", pa, pb);
    char *m;
    if (a->kind == E_TABLE || b->kind == E_TABLE) {
        const ent *t = a->kind == E_TABLE ? a : b, *o = a->kind == E_TABLE ? b : a;
        char *fo = o->kind == E_OUTPUT ? jl_escape(files[o->file]) : NULL;
        m = o->kind == E_OUTPUT ? jl_printf("%s would be written twice: node '%s' gathers every input's rows into "
                                            "it, and node '%s' writes it for %s: give one another path",
                                            what, t->node, o->node, fo)
          : o->kind == E_TABLE  ? jl_printf("%s would be written twice: nodes '%s' and '%s' both gather their "
                                            "rows into it: give each its own path (e.g. {node}.csv)",
                                            what, t->node, o->node)
                                : jl_printf("%s would be written twice: node '%s' gathers every input's rows into "
                                            "it, and it is the report: choose another report file",
                                            what, t->node);
        free(fo);
    } else if (a->kind == E_EXTRA || b->kind == E_EXTRA) {
        const ent *o = a->kind == E_EXTRA ? b : a;
        char *fo = o->kind == E_OUTPUT ? jl_escape(files[o->file]) : NULL;
        m = o->kind == E_OUTPUT
                ? jl_printf("%s would be written twice: by node '%s' for %s, and as the report: choose another "
                            "report file",
                            what, o->node, fo)
                : jl_printf("%s would be written twice: give the report another name", what);
        free(fo);
    } else {
        char *fa = jl_escape(files[a->file]), *fb = jl_escape(files[b->file]);
        const char *hint;
        if (a->file == b->file)
            hint = strcmp(a->node, b->node) ? "put {node} in the paths, or give them different names"
                                             : "give the node's output paths different names";
        else if (same_input)
            hint = "the same input is given twice";
        else if (!strcmp(base_of(files[a->file]), base_of(files[b->file])))
            hint = "the inputs have the same name in two folders: put {dir} in the path (e.g. {dir}/{stem}.csv)";
        else if (same_stem(files[a->file], files[b->file]))
            hint = "the inputs differ only in their extension: put {name} in the path instead of {stem}";
        else if (!strcmp(a->node, b->node))
            hint = "this sink writes a file per input and cannot gather them into one: put {stem} in the path, "
                   "so that each input gets its own file";
        else
            hint = "put {stem} in the path, so that each input gets its own file";
        m = jl_printf("%s would be written twice (node '%s' for %s, node '%s' for %s): %s", what, a->node, fa,
                      b->node, fb, hint);
        free(fa);
        free(fb);
    }
    free(what);
    free(pa);
    free(pb);
    return m;
}

static char *input_message(const ent *in, const ent *o, const char *const *files)
{
    char *po = jl_escape(o->path), *pi = jl_escape(in->path);
    char *m;
    if (o->kind == E_EXTRA) {
        m = jl_printf("%s: the report would be written over the input %s: choose another report file", po, pi);
    } else if (o->kind == E_TABLE) {
        m = jl_printf("%s: node '%s' would write its output over this input (its table of every input's rows): "
                      "choose another path",
                      po, o->node);
    } else {
        char *fo = jl_escape(files[o->file]);
        m = o->file == in->file
                ? jl_printf("%s: node '%s' would write its output over this input: choose a path that differs "
                            "from the input's (e.g. {stem}.{node}.csv) or another output folder (-o)",
                            po, o->node)
                : jl_printf("%s: node '%s' (for %s) would write its output over the input %s: choose a path "
                            "that differs from the inputs' (e.g. {stem}.{node}.csv) or another output folder (-o)",
                            po, o->node, fo, pi);
        free(fo);
    }
    free(po);
    free(pi);
    return m;
}

/* Resolve one output path into an entry; -1 with *msg if it is refused
 * whatever else the run holds. */
static int resolve_output(ent *e, char **msg)
{
    struct stat st;
    if (lstat(e->path, &st) == 0) {
        char *p = jl_escape(e->path);
        if (S_ISLNK(st.st_mode)) {
            *msg = jl_printf("%s is a symbolic link: joule never writes through one; remove it or choose another "
                             "path",
                             p);
        } else if (!S_ISREG(st.st_mode)) {
            *msg = jl_printf("%s exists and is %s, not a regular file: joule writes only regular files%s", p,
                             type_name(st.st_mode),
                             S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) ? " (path = - writes to standard output)"
                                                                         : "");
        } else {
            free(p);
            e->key = jl_printf("=%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
            return 0;
        }
        free(p);
        return -1;
    }
    /* It does not exist as spelt; but "sub/../a.wav" is a.wav once sub/ is
     * made: look again at the spelling the kernel will meet. */
    char *norm = normalise(e->path);
    if (strcmp(norm, e->path) && lstat(norm, &st) == 0) {
        ent alias = *e;
        alias.path = norm;
        int rc = resolve_output(&alias, msg);
        e->key = alias.key;
        free(norm);
        return rc;
    }
    e->key = norm;
    return 0;
}

static void add_ent(ent **v, size_t *n, size_t *cap, ent e)
{
    if (*n == *cap)
        *v = jl_realloc(*v, (*cap = *cap ? 2 * *cap : 64) * sizeof **v);
    e.seq = *n;
    (*v)[(*n)++] = e;
}

/* The folders a run writes to, whether they exist yet or not: swept of dead
 * processes' temporaries before the run, and after a worker dies. */
static void add_dir(char ***dirs, size_t *n, const char *path)
{
    char *d = dir_of(path);
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*dirs)[i], d)) {
            free(d);
            return;
        }
    *dirs = jl_realloc(*dirs, (*n + 2) * sizeof **dirs);
    (*dirs)[(*n)++] = d;
    (*dirs)[*n] = NULL;
}

int jl_outputs_check(const joule_graph *g, const char *const *files, size_t n_files, const char *out_dir,
                     const char *table_tag, const char *const *extra, size_t n_extra, char **msg, char ***dirs_out)
{
    *msg = NULL;
    ent *v = NULL;
    size_t n = 0, cap = 0, n_dirs = 0, n_stdout = 0;
    char **dirs = jl_calloc(1, sizeof *dirs);
    const char *stdout_node = NULL;
    int rc = 0;
    for (size_t f = 0; f < n_files; f++) {
        struct stat st;
        if (stat(files[f], &st) == 0)
            add_ent(&v, &n, &cap,
                    (ent){jl_printf("=%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino),
                          jl_strdup(files[f]), E_INPUT, NULL, f, 0});
    }
    for (size_t f = 0; f < n_files && !rc; f++)
        for (size_t i = 0; i < g->n && !rc; i++) {
            const joule_descriptor *d = g->nodes[i].plugin->desc;
            for (uint32_t k = 0; k < d->n_params && !rc; k++) {
                if (!(d->params[k].flags & JOULE_PARAM_OUT_PATH))
                    continue;
                if (!strcmp(g->nodes[i].texts[k], "-")) {
                    if (f == 0)
                        n_stdout++;
                    if (n_stdout > 1 || n_files > 1) {
                        *msg = n_stdout > 1
                                   ? jl_printf("nodes '%s' and '%s' both write to standard output (path = -): "
                                               "give one of them a file",
                                               stdout_node, g->nodes[i].name)
                                   : jl_printf("node '%s' writes to standard output (path = -), which only one "
                                               "input can do, and %zu are given: run one input, or give a path "
                                               "with {stem} (a file per input)%s",
                                               g->nodes[i].name, n_files,
                                               jl_desc_gather(g->nodes[i].plugin->desc)
                                                   ? " or a file name without it (one table for every input)"
                                                   : "");
                        rc = -1;
                    }
                    stdout_node = g->nodes[i].name;
                    continue;
                }
                int table = jl_param_gathered(&g->nodes[i], k);
                if (table && f > 0)
                    continue; /* one file for the whole run */
                char *path = jl_path_expand(g->nodes[i].texts[k], files[f], g->nodes[i].name, out_dir);
                if (table && table_tag) {
                    char *tagged = jl_path_tag(path, table_tag);
                    free(path);
                    path = tagged;
                }
                ent e = {NULL, path, table ? E_TABLE : E_OUTPUT, g->nodes[i].name, f, 0};
                if (resolve_output(&e, msg)) {
                    free(e.path);
                    rc = -1;
                    break;
                }
                add_dir(&dirs, &n_dirs, e.path);
                add_ent(&v, &n, &cap, e);
            }
        }
    for (size_t x = 0; x < n_extra && !rc; x++) {
        ent e = {NULL, jl_strdup(extra[x]), E_EXTRA, NULL, 0, 0};
        if (resolve_output(&e, msg)) {
            free(e.path);
            rc = -1;
            break;
        }
        add_dir(&dirs, &n_dirs, e.path);
        add_ent(&v, &n, &cap, e);
    }
    if (!rc) {
        qsort(v, n, sizeof *v, cmp_ent);
        for (size_t i = 0; i < n && !rc;) {
            size_t j = i;
            while (j < n && !strcmp(v[j].key, v[i].key))
                j++;
            /* a group [i, j) of one file: inputs sort first */
            size_t first_out = i;
            while (first_out < j && v[first_out].kind == E_INPUT)
                first_out++;
            if (first_out > i && first_out < j) {
                *msg = input_message(&v[i], &v[first_out], files);
                rc = -1;
            } else if (j - first_out >= 2) {
                const ent *a = &v[first_out], *b = &v[first_out + 1];
                /* two inputs that are one file give the same outputs */
                int same = 0;
                if (a->kind == E_OUTPUT && b->kind == E_OUTPUT && a->file != b->file) {
                    struct stat sa, sb;
                    same = !strcmp(files[a->file], files[b->file]) ||
                           (!stat(files[a->file], &sa) && !stat(files[b->file], &sb) && sa.st_dev == sb.st_dev &&
                            sa.st_ino == sb.st_ino);
                }
                /* name them in the order the run meets them */
                if (a->seq > b->seq) {
                    const ent *t = a;
                    a = b;
                    b = t;
                }
                *msg = twice_message(a, b, files, same);
                rc = -1;
            }
            i = j;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].path);
    }
    free(v);
    if (rc) {
        jl_strv_free(dirs);
        dirs = NULL;
    }
    *dirs_out = dirs;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Temporaries                                                               */

int jl_tmp_create(const char *path, char **tmp, char **msg)
{
    *tmp = NULL;
    *msg = NULL;
    char *dir = dir_of(path);
    mkdirs(dir);
    int fd = -1;
    for (int tries = 0; tries < 64 && fd < 0; tries++) {
        char *name = jl_tmp_name(dir);
        /* 0666: the umask decides, as for any new file */
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0)
            *tmp = name;
        else
            free(name);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int err = errno;
        char *p = jl_escape(path), *d = jl_escape(dir);
        struct stat st;
        if (err == ENOENT || err == ENOTDIR)
            *msg = stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)
                       ? jl_printf("%s: cannot create: %s is not a folder", p, d)
                       : jl_printf("%s: cannot create: the folder %s cannot be made", p, d);
        else
            *msg = jl_printf("%s: cannot create: %s", p, strerror(err));
        free(p);
        free(d);
        errno = err;
    }
    free(dir);
    return fd;
}

int jl_part_create(const char *part, const char *target, char **msg)
{
    *msg = NULL;
    char *dir = dir_of(part);
    mkdirs(dir);
    free(dir);
    /* a part left by a worker that died in this job: ours to replace */
    unlink(part);
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        char *t = jl_escape(target);
        *msg = jl_printf("%s: cannot create a part of the table: %s", t, strerror(err));
        free(t);
        errno = err;
    }
    return fd;
}

/* Is the process that made a temporary gone? Only when that can be known:
 * another machine's temporaries are never judged. */
static int creator_gone(const ident *t)
{
    ident me = self_ident();
    if (t->host != me.host)
        return 0;
    if (t->boot != me.boot)
        return 1;
    if (t->pid == me.pid)
        return t->start != me.start;
    if (kill((pid_t)t->pid, 0) && errno == ESRCH)
        return 1;
    unsigned long long start = 0;
    int alive = proc_info(t->pid, &start);
    return alive == 0 || (alive == 1 && start != t->start);
}

size_t jl_tmp_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t removed = 0;
    uid_t uid = geteuid();
    struct dirent *e;
    while ((e = readdir(d))) {
        ident t;
        if (tmp_parse(e->d_name, &t))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) || st.st_uid != uid)
            continue;
        if (creator_gone(&t) && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* ------------------------------------------------------------------------ */
/* Placing a job's outputs                                                   */

static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int jl_outputs_place(jl_outfile *v, size_t n, char **msg)
{
    *msg = NULL;
    char **backup = jl_calloc(n ? n : 1, sizeof *backup);
    int *moved = jl_calloc(n ? n : 1, sizeof *moved);
    int *placed = jl_calloc(n ? n : 1, sizeof *placed); /* by this call */
    size_t i = 0;
    int err = 0;
    /* Data first: a rename that reaches the disk before the data would
     * leave an empty file after a power cut. */
    for (i = 0; i < n; i++)
        if (v[i].tmp && !v[i].part && sync_file(v[i].tmp)) {
            err = errno;
            char *p = jl_escape(v[i].path);
            *msg = jl_printf("%s: cannot write: %s", p, strerror(err));
            free(p);
            i = 0;
            goto rollback;
        }
    for (i = 0; i < n; i++) {
        if (!v[i].tmp)
            continue;
        placed[i] = 1; /* from here on, a rollback undoes it */
        if (v[i].part) {
            /* a part of a table stays where it is, for the end of the run */
            free(v[i].tmp);
            v[i].tmp = NULL;
            continue;
        }
        struct stat st;
        char *p = jl_escape(v[i].path);
        if (lstat(v[i].path, &st) == 0) {
            /* checked before the run; checked again: it may have changed */
            if (!S_ISREG(st.st_mode)) {
                *msg = S_ISLNK(st.st_mode)
                           ? jl_printf("%s became a symbolic link during the run: not written through", p)
                           : jl_printf("%s became %s during the run: not replaced", p, type_name(st.st_mode));
                free(p);
                err = EEXIST;
                goto rollback;
            }
            /* Keep the old file under a temporary name until the whole job
             * is in place: a hard link where the file system has them,
             * else a rename (the target is then briefly absent). */
            char *dir = dir_of(v[i].path);
            for (int tries = 0; tries < 64 && !backup[i]; tries++) {
                char *b = jl_tmp_name(dir);
                if (link(v[i].path, b) == 0) {
                    backup[i] = b;
                } else if (errno == EEXIST) {
                    free(b);
                } else if (rename(v[i].path, b) == 0) {
                    backup[i] = b;
                    moved[i] = 1;
                } else {
                    free(b);
                    break;
                }
            }
            free(dir);
            if (!backup[i]) {
                err = errno;
                *msg = jl_printf("%s: cannot replace: %s", p, strerror(err));
                free(p);
                goto rollback;
            }
        }
        if (rename(v[i].tmp, v[i].path)) {
            err = errno;
            *msg = jl_printf("%s: cannot put in place: %s", p, strerror(err));
            free(p);
            if (moved[i] && rename(backup[i], v[i].path) == 0) {
                free(backup[i]);
                backup[i] = NULL;
            }
            goto rollback;
        }
        free(p);
        free(v[i].tmp);
        v[i].tmp = NULL;
    }
    for (size_t k = 0; k < n; k++)
        if (backup[k]) {
            unlink(backup[k]);
            free(backup[k]);
        }
    for (size_t k = 0; k < n; k++) {
        if (v[k].to_stdout || v[k].part)
            continue;
        char *dir = dir_of(v[k].path);
        sync_dir(dir);
        free(dir);
    }
    free(backup);
    free(moved);
    free(placed);
    return 0;

rollback:
    /* Outputs 0 .. i-1 are in place: put back what was there before. */
    for (size_t k = i; k-- > 0;) {
        if (v[k].to_stdout || !placed[k])
            continue;
        if (backup[k]) {
            rename(backup[k], v[k].path);
            free(backup[k]);
            backup[k] = NULL;
        } else {
            unlink(v[k].path);
        }
    }
    if (i < n && backup[i]) {
        if (moved[i])
            rename(backup[i], v[i].path);
        else
            unlink(backup[i]);
        free(backup[i]);
    }
    jl_outputs_discard(v, n);
    free(backup);
    free(moved);
    free(placed);
    errno = err;
    return -1;
}

void jl_outputs_discard(jl_outfile *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].tmp) {
            unlink(v[i].tmp);
            free(v[i].tmp);
            v[i].tmp = NULL;
        }
}

void jl_outputs_free(jl_outfile *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].tmp);
    }
}
