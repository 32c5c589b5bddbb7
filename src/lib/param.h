/* param.h — parsing parameter values against their declarations. */
#ifndef JOULE_PARAM_H
#define JOULE_PARAM_H

#include <joule/plugin.h>

#include <stddef.h>

/* Parse `text` as a value of parameter `decl` into *v (v->s points to
 * `text`, which must outlive *v). Returns 0, or -1 with a malloc'd reason in
 * *why ("must be an integer, not '12x'"). */
int jl_param_parse(const joule_param *decl, const char *text, joule_value *v, char **why);

/* The type name as shown to users ("int", "float", ...). */
const char *jl_param_type_name(uint32_t type);

/* Byte sizes "64M", "1.5G", "4096" (binary units: K = 1024) and durations
 * "90", "30s", "5m", "1h", "2d" (seconds). Return 0 or -1. */
int jl_parse_size(const char *text, size_t *out);
int jl_parse_duration(const char *text, double *out);

/* "65536" -> "64K": for messages and reports. Writes into buf. */
const char *jl_format_size(size_t bytes, char *buf, size_t n);

#endif
