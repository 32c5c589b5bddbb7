/* vector.c — per-row column operations on a signal or frames stream:
 *
 *   keep    = ax, ay:y, az        columns passed through (renamed old:new),
 *                                 'all' (default) or 'none'
 *   scale   = 9.80665             y = x · scale + offset on the kept columns:
 *   offset  = 0                   one value for all, or one per kept column
 *   unit    = m/s^2               the unit of the scaled columns
 *   norm    = ax, ay, az          appends the Euclidean norm of these input
 *   name    = norm                columns, named `name`,
 *   gravity = 9.80665             minus `gravity` (0: none): the dynamic
 *                                 acceleration, "minus 1 g", without a filter
 *
 * The norm is taken of the input values (before scale and offset), in
 * double. Every row is independent, so chunking cannot matter.
 *
 * The output is a signal: frames (one row per frame, at the frame rate)
 * come out as a signal at that rate, row for row, with the same t0. When
 * every input column is kept in its place (keep = all, or the input's
 * columns in order, renamed or not) and there is no norm, each output value
 * depends on the input value in the same place only, and the output is
 * declared in place. */
#include <joule/plugin.h>

#include <joule/plugin-util.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { P_KEEP, P_SCALE, P_OFFSET, P_UNIT, P_NORM, P_NAME, P_GRAVITY, N_PARAMS };

static const joule_param params[] = {
    {"keep", JOULE_PARAM_STRING, 0, "all", 0, 0, NULL, "",
     "Input columns to pass through, in order, each optionally renamed as old:new; 'all' or 'none'."},
    {"scale", JOULE_PARAM_STRING, 0, "1", 0, 0, NULL, "",
     "Factor applied to the kept columns (one for all, or one per kept column), e.g. 9.80665 for g to m/s^2."},
    {"offset", JOULE_PARAM_STRING, 0, "0", 0, 0, NULL, "",
     "Added after scaling (one for all, or one per kept column)."},
    {"unit", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Unit of the kept columns after scaling (default: the input's)."},
    {"norm", JOULE_PARAM_STRING, 0, "", 0, 0, NULL, "",
     "Columns whose Euclidean norm is appended as a new column (e.g. ax, ay, az)."},
    {"name", JOULE_PARAM_STRING, 0, "norm", 0, 0, NULL, "", "Name of the norm column."},
    {"gravity", JOULE_PARAM_FLOAT, 0, "0", 0, 0, NULL, "",
     "Subtracted from the norm (9.80665 in m/s^2, 1 in g): the dynamic acceleration. 0: nothing."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL | JOULE_FRAMES, 0, "a signal, or frames (such as the energy plugin's)"},
};
static const joule_port outputs[] = {
    {"out", JOULE_SIGNAL, 0, "the kept columns, then the norm"},
};

typedef struct vec {
    const joule_host *host;
    uint32_t nin, nkeep, nnorm, nout;
    int *keep;
    double *scale, *offset;
    int *norm;
    double gravity;
    jp_names names;
    const char **units;
} vec;

static int find(const joule_format *f, const char *name)
{
    for (uint32_t i = 0; i < f->n_columns; i++)
        if (!strcmp(f->names[i], name))
            return (int)i;
    return -1;
}

static int parse_nums(const char *s, double **out, size_t *n, char *msg, size_t cap, const char *what)
{
    char **items;
    size_t k = jp_split(s, &items);
    *out = malloc((k ? k : 1) * sizeof **out);
    *n = k;
    if (!*out) {
        free(items);
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        char *end;
        (*out)[i] = strtod(items[i], &end);
        if (end == items[i] || *end || !isfinite((*out)[i])) {
            snprintf(msg, cap, "%s: '%s' is not a number", what, items[i]);
            free(items);
            return -1;
        }
    }
    free(items);
    return 0;
}

/* Why a column name given here (keep = old:new, name =) is not one, or
 * NULL: names are [A-Za-z0-9_.-], not empty, and not "time" (the column
 * the sinks write first). Uniqueness is checked at open, where the
 * input's names are known. */
static const char *bad_name(const char *n)
{
    if (!*n)
        return "is empty";
    if (!strcmp(n, "time"))
        return "is taken by the time column";
    for (const char *q = n; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_' ||
              *q == '.' || *q == '-'))
            return "has a character other than A-Z a-z 0-9 _ . -";
    return NULL;
}

static int vector_check(const joule_value *p, char *msg, size_t cap)
{
    double *v;
    size_t n;
    if (parse_nums(p[P_SCALE].s, &v, &n, msg, cap, "scale"))
        return (free(v), 1);
    free(v);
    if (parse_nums(p[P_OFFSET].s, &v, &n, msg, cap, "offset"))
        return (free(v), 1);
    free(v);
    char **items;
    const char *why;
    if (strcmp(p[P_KEEP].s, "all") && strcmp(p[P_KEEP].s, "none")) {
        size_t nk = jp_split(p[P_KEEP].s, &items);
        for (size_t i = 0; i < nk; i++) {
            const char *dst = strchr(items[i], ':');
            if (!dst)
                continue;
            for (dst++; *dst == ' '; dst++)
                ;
            if ((why = bad_name(dst))) {
                snprintf(msg, cap, "keep: the new name in '%s' %s", items[i], why);
                free(items);
                return 1;
            }
        }
        free(items);
    }
    size_t k = jp_split(p[P_NORM].s, &items);
    free(items);
    if (k && (why = bad_name(p[P_NAME].s))) {
        snprintf(msg, cap, "name: '%s' %s", p[P_NAME].s, why);
        return 1;
    }
    if (k == 1) {
        snprintf(msg, cap, "norm: name two or more columns");
        return 1;
    }
    if (!strcmp(p[P_KEEP].s, "none") && k == 0) {
        snprintf(msg, cap, "keep = none and no norm: nothing to output");
        return 1;
    }
    return 0;
}

static int vector_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    const joule_value *pv = a->params;
    vec *v = calloc(1, sizeof *v);
    if (!v) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = v;
    v->host = h;
    const joule_format *in = &a->inputs[0];
    v->nin = in->n_columns;
    v->gravity = pv[P_GRAVITY].f;
    char msg[256];
    /* kept columns */
    char **items = NULL;
    size_t k;
    int all = !strcmp(pv[P_KEEP].s, "all"), none = !strcmp(pv[P_KEEP].s, "none");
    k = all ? v->nin : none ? 0 : jp_split(pv[P_KEEP].s, &items);
    char **norm = NULL;
    size_t nn = jp_split(pv[P_NORM].s, &norm);
    v->keep = malloc((k + 1) * sizeof *v->keep);
    v->norm = malloc((nn + 1) * sizeof *v->norm);
    v->nout = (uint32_t)k + (nn ? 1 : 0);
    v->units = calloc(v->nout ? v->nout : 1, sizeof *v->units);
    int rc = JOULE_ERROR;
    if (!v->keep || !v->norm || !v->units || jp_names_init(&v->names, v->nout)) {
        h->error(h, "out of memory");
        goto out;
    }
    if (!v->nout) {
        h->error(h, "nothing to output");
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        const char *src = all ? in->names[i] : items[i];
        const char *dst = src;
        char buf[256];
        const char *colon = all ? NULL : strchr(src, ':');
        if (colon) {
            snprintf(buf, sizeof buf, "%.*s", (int)(colon - src), src);
            size_t l = strlen(buf);
            while (l && buf[l - 1] == ' ')
                buf[--l] = '\0';
            dst = colon + 1;
            while (*dst == ' ')
                dst++;
            src = buf;
        }
        int c = find(in, src);
        if (c < 0) {
            h->error(h, "keep: the input has no column '%s'", src);
            goto out;
        }
        v->keep[i] = c;
        jp_names_set(&v->names, i, "%s", dst);
        v->units[i] = pv[P_UNIT].s[0] ? pv[P_UNIT].s : in->units ? in->units[c] : "";
    }
    v->nkeep = (uint32_t)k;
    size_t ns, no;
    if (parse_nums(pv[P_SCALE].s, &v->scale, &ns, msg, sizeof msg, "scale") ||
        parse_nums(pv[P_OFFSET].s, &v->offset, &no, msg, sizeof msg, "offset")) {
        h->error(h, "%s", msg);
        goto out;
    }
    if ((ns > 1 && ns != k) || (no > 1 && no != k)) {
        h->error(h, "scale and offset take one value, or one per kept column (%zu)", k);
        goto out;
    }
    if (k && (ns <= 1 || no <= 1)) {
        double s1 = ns ? v->scale[0] : 1.0, o1 = no ? v->offset[0] : 0.0;
        double *s2 = ns <= 1 ? malloc(k * sizeof *s2) : v->scale, *o2 = no <= 1 ? malloc(k * sizeof *o2) : v->offset;
        if (!s2 || !o2) {
            if (s2 != v->scale)
                free(s2);
            if (o2 != v->offset)
                free(o2);
            h->error(h, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < k; i++) {
            if (ns <= 1)
                s2[i] = s1;
            if (no <= 1)
                o2[i] = o1;
        }
        if (s2 != v->scale) {
            free(v->scale);
            v->scale = s2;
        }
        if (o2 != v->offset) {
            free(v->offset);
            v->offset = o2;
        }
    }
    for (size_t i = 0; i < nn; i++) {
        v->norm[i] = find(in, norm[i]);
        if (v->norm[i] < 0) {
            h->error(h, "norm: the input has no column '%s'", norm[i]);
            goto out;
        }
    }
    v->nnorm = (uint32_t)nn;
    if (nn) {
        jp_names_set(&v->names, k, "%s", pv[P_NAME].s);
        v->units[k] = in->units ? in->units[v->norm[0]] : "";
    }
    for (uint32_t i = 0; i < v->nout; i++)
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(v->names.v[i], v->names.v[j])) {
                h->error(h, "two output columns are named '%s' (rename with keep = old:new, or name =)",
                         v->names.v[i]);
                goto out;
            }
    joule_format *o = &a->outputs[0];
    /* the output port's kind: a frames input comes out as a signal at the
     * frame rate (the host refuses an output of another kind than its port) */
    o->kind = JOULE_SIGNAL;
    o->n_columns = v->nout;
    o->rate = in->rate;
    o->t0 = in->t0;
    o->names = (const char *const *)v->names.v;
    o->units = v->units;
    o->length = in->length;
    o->out_num = 1;
    o->out_den = 1;
    /* in place only when out[i] is computed from in[i] alone: the same
     * columns in the same places (same kind too), and no norm column */
    int same = in->kind == JOULE_SIGNAL && !v->nnorm && v->nkeep == v->nin;
    for (uint32_t i = 0; same && i < v->nkeep; i++)
        same = v->keep[i] == (int)i;
    o->flags = same ? JOULE_FORMAT_IN_PLACE : 0;
    rc = JOULE_OK;
out:
    free(items);
    free(norm);
    return rc;
}

static int vector_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    vec *v = self;
    const uint32_t ni = in->n_columns, no = v->nout;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        const float *x = in->data + (size_t)r * ni;
        float *y = out[0].data + (size_t)r * no;
        for (uint32_t i = 0; i < v->nkeep; i++)
            y[i] = (float)(x[v->keep[i]] * v->scale[i] + v->offset[i]);
        if (v->nnorm) {
            double s = 0;
            for (uint32_t i = 0; i < v->nnorm; i++) {
                double q = x[v->norm[i]];
                s += q * q;
            }
            y[v->nkeep] = (float)(sqrt(s) - v->gravity);
        }
    }
    out[0].n_rows = in->n_rows;
    return JOULE_OK;
}

static void vector_close(void *self)
{
    vec *v = self;
    if (!v)
        return;
    free(v->keep);
    free(v->scale);
    free(v->offset);
    free(v->norm);
    jp_names_free(&v->names);
    free(v->units);
    free(v);
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "vector",
    .version = "1.0.0",
    .summary = "per-row column operations: Euclidean norm (minus gravity), select, rename, scale and offset",
    .role = JOULE_ROLE_FILTER,
    .n_params = N_PARAMS,
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .open = vector_open,
    .process = vector_process,
    .close = vector_close,
    .check = vector_check,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Per-row operations on columns: the Euclidean norm of chosen columns (optionally minus 1 g, for "
                   "accelerometers), selecting, renaming, scaling and offsetting columns. Works on signals and "
                   "frames; one row out per row in.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
