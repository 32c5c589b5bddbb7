/* formats.c — what a host checks in the output formats a plugin declares. */
#include "config.h"

#include "formats.h"

#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The column names a plugin declared: present, in the ABI's character set
 * ([A-Za-z0-9_.-], so that a CSV header or a JSON key needs no quoting),
 * and unique. NULL, or the reason. */
static char *check_names(const joule_format *f)
{
    for (uint32_t i = 0; i < f->n_columns; i++) {
        const char *c = f->names[i];
        if (!c)
            return jl_printf("declared no name for column %u", i);
        if (!*c)
            return jl_printf("declared an empty name for column %u", i);
        for (const char *q = c; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_' ||
                  *q == '.' || *q == '-')) {
                char *e = jl_escape(c);
                char *m = jl_printf("column %u is named '%s': names are made of A-Z a-z 0-9 _ . -", i, e);
                free(e);
                return m;
            }
        if (f->units && !f->units[i])
            return jl_printf("declared units but none for column %u", i);
    }
    const char **v = jl_malloc(f->n_columns * sizeof *v);
    memcpy(v, f->names, f->n_columns * sizeof *v);
    qsort(v, f->n_columns, sizeof *v, cmp_name);
    char *m = NULL;
    for (uint32_t i = 1; i < f->n_columns && !m; i++)
        if (!strcmp(v[i - 1], v[i]))
            m = jl_printf("declared two columns named '%s'", v[i]);
    free(v);
    return m;
}

char *jl_check_out_format(const joule_descriptor *d, uint32_t p, const joule_format *f)
{
    const char *bad = NULL;
    char *names_bad = NULL;
    if (f->kind != d->outputs[p].kinds)
        bad = "declared a different kind than its port";
    else if (f->n_columns == 0 || f->n_columns > (1u << 20))
        bad = "declared no columns (or more than 2^20)";
    else if (!f->names)
        bad = "declared no column names";
    else if ((names_bad = check_names(f)))
        bad = names_bad;
    else if (f->kind != JOULE_EVENTS && !(f->rate > 0 && isfinite(f->rate)))
        bad = "declared no rate";
    uint64_t most = f->out_den ? ((uint64_t)f->out_num + f->out_den - 1) / f->out_den : 1;
    if (!bad && most > (1u << 24))
        bad = "declares a bound (out_num/out_den) of more than 2^24 rows per input row";
    if (!bad)
        return NULL;
    char *msg = jl_printf("output '%s' %s", d->outputs[p].name, bad);
    free(names_bad);
    return msg;
}
