/* param.c — see param.h. */
#include "config.h"

#include "param.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
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

/* "16777216 rows": a bound with the parameter's unit. */
static char *bound_text(double b, const char *unit)
{
    return jl_printf("%.15g%s%s", b, unit && *unit ? " " : "", unit && *unit ? unit : "");
}

/* "= 3000000000000000000000 is above the maximum 16777216 rows": the
 * caller puts the parameter's name in front. The text is the user's, as
 * written, so a value too large for any type still reads as what it is. */
static char *beyond(const char *text, int above, double bound, const char *unit)
{
    char *b = bound_text(bound, unit);
    char *t = jl_escape(text);
    char *why = jl_printf("= %s is %s the %s %s", t, above ? "above" : "below", above ? "maximum" : "minimum", b);
    free(t);
    free(b);
    return why;
}

/* 0 if x is within the declared range, else -1 and *why. x may be an
 * infinity standing for a text no type holds (1e999). */
static int check_range(const joule_param *d, const char *text, double x, char **why)
{
    if ((d->flags & JOULE_PARAM_HAS_MAX) && x > d->max) {
        *why = beyond(text, 1, d->max, d->unit);
        return -1;
    }
    if ((d->flags & JOULE_PARAM_HAS_MIN) && x < d->min) {
        *why = beyond(text, 0, d->min, d->unit);
        return -1;
    }
    return 0;
}

/* "must be an integer, not '12x'", with the text made safe to print. */
static char *must(const char *what, const char *text)
{
    char *t = jl_escape(text);
    char *why = jl_printf("must be %s, not '%s'", what, t);
    free(t);
    return why;
}

/* An integer parameter whose text is not a 64-bit integer: say what is
 * wrong with the number it is (beyond the range, not whole, written in
 * another notation), not only that it is not an integer. */
static int int_why(const joule_param *d, const char *text, char **why)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end || isnan(x)) {
        *why = must("an integer", text);
        return -1;
    }
    if (check_range(d, text, x, why))
        return -1;
    if (x != floor(x) || (errno == ERANGE && fabs(x) < 1)) {
        *why = must("a whole number", text);
        return -1;
    }
    char *t = jl_escape(text);
    if (fabs(x) >= 9223372036854775808.0)
        *why = jl_printf("= %s is out of range for a 64-bit integer", t);
    else
        *why = jl_printf("must be an integer written in digits (like %.0f), not '%s'", x, t);
    free(t);
    return -1;
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
        if (!*text || *end || errno)
            return int_why(d, text, why);
        v->i = x;
        v->f = (double)x;
        return check_range(d, text, (double)x, why);
    }
    case JOULE_PARAM_FLOAT: {
        errno = 0;
        double x = strtod(text, &end);
        if (end == text || *end || isnan(x)) {
            *why = must("a number", text);
            return -1;
        }
        if (isinf(x)) {
            /* "inf" as written, or a number beyond a double's range */
            if (check_range(d, text, x, why))
                return -1;
            if (errno == ERANGE) {
                char *t = jl_escape(text);
                *why = jl_printf("= %s is out of range for a double-precision number", t);
                free(t);
            } else {
                *why = must("a finite number", text);
            }
            return -1;
        }
        /* an underflow (1e-400) is taken as the 0 or tiny value strtod
         * gives: the number is valid, only smaller than a double holds */
        v->f = x;
        return check_range(d, text, x, why);
    }
    case JOULE_PARAM_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") || !strcmp(text, "1"))
            v->b = 1;
        else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcasecmp(text, "off") || !strcmp(text, "0"))
            v->b = 0;
        else {
            *why = must("true or false", text);
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
        char *t = jl_escape(text);
        if (s)
            *why = jl_printf("'%s' is not one of %s; did you mean '%s'?", t, list, s);
        else
            *why = jl_printf("'%s' is not one of %s", t, list);
        free(t);
        free(list);
        return -1;
    }
    }
    *why = jl_strdup("has an unknown type");
    return -1;
}

/* The number in front of a size's or a duration's unit: digits first
 * (strtod's "inf", "nan" and hexadecimal forms are not sizes), never
 * negative. Returns 0 with *x, *end and whether strtod overflowed, or -1
 * with *why. `what` is "a size like 64M". */
static int unsigned_number(const char *text, const char *what, double *x, char **end, int *overflow, char **why)
{
    const char *t = text;
    while (isspace((unsigned char)*t))
        t++;
    if (*t == '-') {
        char *e = jl_escape(text);
        *why = jl_printf("= %s is negative: must be %s", e, what);
        free(e);
        return -1;
    }
    if ((!isdigit((unsigned char)*t) && !(*t == '.' && isdigit((unsigned char)t[1]))) ||
        (t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))) {
        *why = must(what, text);
        return -1;
    }
    errno = 0;
    *x = strtod(t, end);
    *overflow = errno == ERANGE && *x > 1;
    return 0;
}

int jl_parse_size(const char *text, size_t *out, char **why)
{
    char *end;
    double x;
    int overflow;
    const char *what = "a size like 64M or 1.5G (units K, M, G, T)";
    if (unsigned_number(text, what, &x, &end, &overflow, why))
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
    if (*end) {
        *why = must(what, text);
        return -1;
    }
    /* 2^63, or what size_t holds where it is smaller: the conversion of a
     * double at or past 2^64 to size_t is undefined. */
    double limit = (double)SIZE_MAX < 9223372036854775808.0 ? (double)SIZE_MAX : 9223372036854775808.0;
    if (overflow || x * mul >= limit) {
        char *e = jl_escape(text);
        *why = jl_printf("= %s is too large for a %d-bit byte count", e, (int)(sizeof(size_t) * 8));
        free(e);
        return -1;
    }
    *out = (size_t)(x * mul);
    return 0;
}

int jl_parse_duration(const char *text, double *out, char **why)
{
    char *end;
    double x;
    int overflow;
    if (unsigned_number(text, "a duration like 90s, 30m, 1h or 2d", &x, &end, &overflow, why))
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
    else {
        char *e = jl_escape(text), *u = jl_escape(end);
        *why = jl_printf("= %s has an unknown unit '%s' (ms, s, m, h or d)", e, u);
        free(e);
        free(u);
        return -1;
    }
    if (overflow || !isfinite(x * mul)) {
        char *e = jl_escape(text);
        *why = jl_printf("= %s is too large for a number of seconds (a double)", e);
        free(e);
        return -1;
    }
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
