/* cache_key.c — signatures, keys and content digests (see cache_key.h).
 *
 * Everything that goes into a signature is written into one XXH3-128
 * stream as length-prefixed fields, so that no two different sequences of
 * fields can produce the same bytes ("ab" + "c" and "a" + "bc" differ).
 *
 * The build identity of a plugin object is its ELF build ID (the linker's
 * hash of its contents, which Debian's toolchain always writes), found in
 * the loaded object's program headers; an object without one is identified
 * by its size and modification time instead. A rebuilt plugin therefore
 * never serves results cached from the old build, even at the same
 * version. */
#define _GNU_SOURCE 1 /* dl_iterate_phdr */
#include "config.h"

#include "cache_key.h"
#include "util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Bumped when what a signature covers changes: old entries then miss. */
#define SIG_VERSION "joule-sig-1"

static void field(XXH3_state_t *st, const void *p, size_t n)
{
    uint64_t len = n;
    XXH3_128bits_update(st, &len, sizeof len);
    if (n)
        XXH3_128bits_update(st, p, n);
}

static void field_str(XXH3_state_t *st, const char *s)
{
    field(st, s ? s : "", s ? strlen(s) : 0);
}

static jl_key digest_of(XXH3_state_t *st)
{
    XXH128_hash_t h = XXH3_128bits_digest(st);
    jl_key k = {h.high64, h.low64};
    return k;
}

/* ---- build identity ------------------------------------------------------*/

typedef struct find_build {
    const char *path;
    const void *id;
    size_t len;
} find_build;

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    find_build *f = arg;
    if (!info->dlpi_name || strcmp(info->dlpi_name, f->path))
        return 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            const char *name = p + sizeof *nh;
            const char *desc = name + ((nh->n_namesz + 3) & ~3u);
            const char *next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
                f->id = desc;
                f->len = nh->n_descsz;
                return 1;
            }
            p = next;
        }
    }
    return 1;
}

/* Hashes the identity of the object at `path` into st. */
static void build_identity(XXH3_state_t *st, const char *path)
{
    find_build f = {path, NULL, 0};
    dl_iterate_phdr(each_object, &f);
    if (f.id && f.len) {
        field(st, "build-id", 8);
        field(st, f.id, f.len);
        return;
    }
    struct stat sb;
    field(st, "file", 4);
    if (path && stat(path, &sb) == 0) {
        int64_t v[3] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec};
        field(st, v, sizeof v);
    }
    field_str(st, path);
}

/* ---- signatures ----------------------------------------------------------*/

static uint32_t desc_flags(const joule_descriptor *d)
{
    return d->struct_size >= offsetof(joule_descriptor, flags) + sizeof d->flags ? d->flags : 0;
}

/* A parameter's value in one spelling per value. */
static void canonical_value(XXH3_state_t *st, const joule_param *p, const joule_value *v)
{
    char buf[64];
    switch (p->type) {
    case JOULE_PARAM_INT: snprintf(buf, sizeof buf, "i%lld", (long long)v->i); break;
    case JOULE_PARAM_FLOAT:
        /* exact: the bits of the double, so 1024 and 1024.0 agree and
         * 0.1 and 0.10000000000000001 do too (they are the same double) */
        snprintf(buf, sizeof buf, "f%a", v->f == 0 ? 0.0 : v->f);
        break;
    case JOULE_PARAM_BOOL: snprintf(buf, sizeof buf, "b%d", v->b ? 1 : 0); break;
    case JOULE_PARAM_ENUM:
        /* the choice's text, not its index: a plugin that inserts a choice
         * keeps the meaning of the others */
        field(st, "e", 1);
        field_str(st, p->choices ? p->choices[v->e] : "");
        return;
    default:
        field(st, "s", 1);
        field_str(st, v->s);
        return;
    }
    field_str(st, buf);
}

char *jl_cache_describe(const joule_graph *g, size_t i, const jl_key *sigs)
{
    const jl_node *n = &g->nodes[i];
    const joule_descriptor *d = n->plugin->desc;
    XXH3_state_t *st = XXH3_createState();
    XXH3_128bits_reset(st);
    build_identity(st, n->plugin->path);
    jl_key b = digest_of(st);
    char hex[33];
    char *out = jl_printf("plugin\t%s\nversion\t%s\nbuild\t%s\n", d->name, d->version, jl_key_hex(b, hex));
    for (uint32_t k = 0; k < d->n_params; k++) {
        const joule_param *p = &d->params[k];
        if (p->flags & (JOULE_PARAM_NO_KEY | JOULE_PARAM_OUT_PATH))
            continue;
        XXH3_128bits_reset(st);
        canonical_value(st, p, &n->values[k]);
        jl_key v = digest_of(st);
        const char *shown = n->texts && n->texts[k] ? n->texts[k] : p->def ? p->def : "";
        char *e = jl_escape(shown);
        for (char *c = e; *c; c++)
            if (*c == '\t')
                *c = ' ';
        char *more = jl_printf("%sparam\t%s\t%s\t%s\n", out, p->name, jl_key_hex(v, hex), e);
        free(e);
        free(out);
        out = more;
    }
    for (uint32_t k = 0; k < d->n_inputs; k++) {
        const jl_edge *e = &n->in[k];
        char *more = jl_printf("%supstream\t%s\t%s\n", out, e->node == JL_NO_NODE ? "-" : g->nodes[e->node].name,
                               e->node == JL_NO_NODE ? "-" : jl_key_hex(sigs[e->node], hex));
        free(out);
        out = more;
    }
    XXH3_freeState(st);
    return out;
}

void jl_cache_signatures(const joule_graph *g, jl_key *sigs, int *pure)
{
    XXH3_state_t *st = XXH3_createState();
    /* g->order: producers come before their consumers */
    for (size_t oi = 0; oi < g->n; oi++) {
        size_t i = g->order[oi];
        const jl_node *n = &g->nodes[i];
        const joule_descriptor *d = n->plugin->desc;
        XXH3_128bits_reset(st);
        field_str(st, SIG_VERSION);
        field_str(st, d->name);
        field_str(st, d->version);
        build_identity(st, n->plugin->path);
        pure[i] = !(desc_flags(d) & JOULE_DESC_IMPURE);
        for (uint32_t k = 0; k < d->n_params; k++) {
            const joule_param *p = &d->params[k];
            if (p->flags & (JOULE_PARAM_NO_KEY | JOULE_PARAM_OUT_PATH))
                continue;
            field_str(st, p->name);
            canonical_value(st, p, &n->values[k]);
        }
        for (uint32_t k = 0; k < d->n_inputs; k++) {
            const jl_edge *e = &n->in[k];
            field_str(st, d->inputs[k].name);
            if (e->node == JL_NO_NODE) {
                field(st, "-", 1);
                continue;
            }
            field(st, &sigs[e->node], sizeof sigs[e->node]);
            field(st, &e->port, sizeof e->port);
            if (!pure[e->node])
                pure[i] = 0;
        }
        sigs[i] = digest_of(st);
    }
    XXH3_freeState(st);
}

jl_key jl_cache_key(jl_key digest, jl_key sig)
{
    uint64_t v[4] = {digest.hi, digest.lo, sig.hi, sig.lo};
    XXH128_hash_t h = XXH3_128bits(v, sizeof v);
    jl_key k = {h.high64, h.low64};
    return k;
}

const char *jl_key_hex(jl_key k, char buf[33])
{
    snprintf(buf, 33, "%016llx%016llx", (unsigned long long)k.hi, (unsigned long long)k.lo);
    return buf;
}

/* ---- content digests -----------------------------------------------------*/

int jl_input_digest(jl_store *s, const char *path, jl_key *digest, uint64_t *bytes_read, char **why)
{
    *bytes_read = 0;
    /* Not even opened unless regular: opening a FIFO would let its writer
     * in, then leave it writing to nobody. */
    struct stat pre;
    if (stat(path, &pre) || !S_ISREG(pre.st_mode)) {
        *why = jl_strdup("not a regular file: its content cannot be read twice");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *why = jl_printf("cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        *why = jl_strdup("not a regular file: its content cannot be read twice");
        return -1;
    }
    /* What identifies this version of the file without reading it. */
    int64_t ident[7] = {(int64_t)sb.st_dev,          (int64_t)sb.st_ino,          (int64_t)sb.st_size,
                        (int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec, (int64_t)sb.st_ctim.tv_sec,
                        (int64_t)sb.st_ctim.tv_nsec};
    if (s && jl_store_digest_get(s, (const char *)ident, sizeof ident, digest) == 0) {
        close(fd);
        return 0;
    }
    XXH3_state_t *st = XXH3_createState();
    XXH3_128bits_reset(st);
    size_t cap = 1 << 20;
    char *buf = jl_malloc(cap);
    int rc = 0;
    for (;;) {
        ssize_t got = read(fd, buf, cap);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *why = jl_printf("read error: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (got == 0)
            break;
        XXH3_128bits_update(st, buf, (size_t)got);
        *bytes_read += (uint64_t)got;
    }
    free(buf);
    struct stat after;
    if (!rc && (fstat(fd, &after) || after.st_size != sb.st_size || after.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
                after.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
        *why = jl_strdup("changed while being read");
        rc = -1;
    }
    close(fd);
    if (!rc) {
        *digest = digest_of(st);
        if (s)
            jl_store_digest_put(s, (const char *)ident, sizeof ident, *digest);
    }
    XXH3_freeState(st);
    return rc;
}
