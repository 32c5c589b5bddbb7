/* param.h — parsing parameter values against their declarations. */
#ifndef JOULE_PARAM_H
#define JOULE_PARAM_H

#include <joule/plugin.h>

#include <stddef.h>

/* Parse `text` as a value of parameter `decl` into *v (v->s points to
 * `text`, which must outlive *v). Returns 0, or -1 with a malloc'd reason in
 * *why, to follow the parameter's name: "must be an integer, not '12x'",
 * "= 1e30 is above the maximum 16777216 rows". */
int jl_param_parse(const joule_param *decl, const char *text, joule_value *v, char **why);

/* The type name as shown to users ("int", "float", ...). */
const char *jl_param_type_name(uint32_t type);

/* Byte sizes "64M", "1.5G", "4096" (binary units: K = 1024) and durations
 * "90", "30s", "5m", "1h", "2d" (seconds). Return 0, or -1 with a malloc'd
 * reason in *why that follows the setting's name: "= 1e30G is too large
 * for a 64-bit byte count", "must be a size like 64M ..., not 'lots'". */
int jl_parse_size(const char *text, size_t *out, char **why);
int jl_parse_duration(const char *text, double *out, char **why);

/* "65536" -> "64K": for messages and reports. Writes into buf. */
const char *jl_format_size(size_t bytes, char *buf, size_t n);

#endif
