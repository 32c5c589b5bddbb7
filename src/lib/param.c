/* param.c — see param.h. */
#include "config.h"

#include "param.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *jl_param_type_name(uint32_t type)
{
    switch (type) {
    case JOULE_PARAM_INT: return "int";
    case JOULE_PARAM_FLOAT: return "float";
    case JOULE_PARAM_BOOL: return "bool";
    case JOULE_PARAM_STRING: return "string";
    case JOULE_PARAM_ENUM: return "enum";
    default: return "?";
    }
}

static char *range_text(const joule_param *d)
{
    const char *u = d->unit && *d->unit ? d->unit : "";
    const char *sp = *u ? " " : "";
    int has_min = d->flags & JOULE_PARAM_HAS_MIN, has_max = d->flags & JOULE_PARAM_HAS_MAX;
    if (has_min && has_max)
        return jl_printf("between %.15g and %.15g%s%s", d->min, d->max, sp, u);
    if (has_min)
        return jl_printf("at least %.15g%s%s", d->min, sp, u);
    return jl_printf("at most %.15g%s%s", d->max, sp, u);
}

static int check_range(const joule_param *d, double x, char **why)
{
    if (((d->flags & JOULE_PARAM_HAS_MIN) && x < d->min) ||
        ((d->flags & JOULE_PARAM_HAS_MAX) && x > d->max)) {
        char *r = range_text(d);
        *why = jl_printf("must be %s", r);
        free(r);
        return -1;
    }
    return 0;
}

int jl_param_parse(const joule_param *d, const char *text, joule_value *v, char **why)
{
    memset(v, 0, sizeof *v);
    v->s = text;
    *why = NULL;
    char *end;
    switch (d->type) {
    case JOULE_PARAM_INT: {
        errno = 0;
        long long x = strtoll(text, &end, 10);
        if (!*text || *end || errno) {
            *why = jl_printf("must be an integer, not '%s'", text);
            return -1;
        }
        v->i = x;
        v->f = (double)x;
        return check_range(d, (double)x, why);
    }
    case JOULE_PARAM_FLOAT: {
        errno = 0;
        double x = strtod(text, &end);
        if (!*text || *end || errno == ERANGE || !isfinite(x)) {
            *why = jl_printf("must be a finite number, not '%s'", text);
            return -1;
        }
        v->f = x;
        return check_range(d, x, why);
    }
    case JOULE_PARAM_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") || !strcmp(text, "1"))
            v->b = 1;
        else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcasecmp(text, "off") || !strcmp(text, "0"))
            v->b = 0;
        else {
            *why = jl_printf("must be true or false, not '%s'", text);
            return -1;
        }
        return 0;
    case JOULE_PARAM_STRING:
        return 0;
    case JOULE_PARAM_ENUM: {
        size_t n = 0;
        for (uint32_t i = 0; d->choices[i]; i++, n++)
            if (!strcasecmp(text, d->choices[i])) {
                v->e = i;
                v->s = d->choices[i];
                return 0;
            }
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += strlen(d->choices[i]) + 2;
        char *list = jl_calloc(len + 1, 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(list, ", ");
            strcat(list, d->choices[i]);
        }
        const char *s = jl_suggest(text, d->choices, n);
        if (s)
            *why = jl_printf("'%s' is not one of %s; did you mean '%s'?", text, list, s);
        else
            *why = jl_printf("'%s' is not one of %s", text, list);
        free(list);
        return -1;
    }
    }
    *why = jl_strdup("has an unknown type");
    return -1;
}

int jl_parse_size(const char *text, size_t *out)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || errno || !(x >= 0))
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    double mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1024.0; end++; break;
    case 'M': mul = 1024.0 * 1024; end++; break;
    case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (mul > 1 && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || x * mul > 1e18)
        return -1;
    *out = (size_t)(x * mul);
    return 0;
}

int jl_parse_duration(const char *text, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || errno || !(x >= 0) || !isfinite(x))
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    double mul = 1;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        mul = 1;
    else if (!strcmp(end, "ms"))
        mul = 1e-3;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "d"))
        mul = 86400;
    else
        return -1;
    *out = x * mul;
    return 0;
}

const char *jl_format_size(size_t bytes, char *buf, size_t n)
{
    static const char units[] = "KMGT";
    double x = (double)bytes;
    int u = -1;
    while (x >= 1024 && u < 3) {
        x /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, n, "%zu", bytes);
    else
        snprintf(buf, n, "%.*f%c", x < 10 && x != (double)(long)x ? 1 : 0, x, units[u]);
    return buf;
}
