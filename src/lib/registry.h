/* registry.h — what libjoule asks of the plugin registry beyond the public
 * API (include/joule/joule.h). */
#ifndef JOULE_REGISTRY_H
#define JOULE_REGISTRY_H

#include <joule/joule.h>

#include <stddef.h>

/* The names of every valid plugin on the path, known from the probe and
 * without loading their objects into this process: for "did you mean".
 * *names is a malloc'd array (free it, not its strings, which belong to
 * the registry). Returns how many. */
size_t jl_registry_names(const joule_registry *reg, const char ***names);

/* NULL if descriptor d is one the registry would accept, else the reason
 * (malloc'd): the same checks as for a loaded object. */
char *jl_check_descriptor(const joule_descriptor *d);

#endif
