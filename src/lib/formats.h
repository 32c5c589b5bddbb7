/* formats.h — what a host checks in the output formats a plugin declares
 * at open (joule run and the harness alike). */
#ifndef JOULE_FORMATS_H
#define JOULE_FORMATS_H

#include <joule/plugin.h>

/* NULL if output p's format f, as the plugin of descriptor d filled it in
 * open, is usable: the port's kind, 1 .. 2^20 columns, names present, in
 * [A-Za-z0-9_.-] and unique, units present for every column when given, a
 * finite positive rate (signals, frames), a bound of at most 2^24 rows per
 * input row. Otherwise the reason, malloc'd: "output 'x' declared ...". */
char *jl_check_out_format(const joule_descriptor *d, uint32_t p, const joule_format *f);

#endif
