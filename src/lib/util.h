/* util.h — small helpers shared by libjoule's modules (not installed). */
#ifndef JOULE_UTIL_H
#define JOULE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation that aborts with a message instead of returning NULL: the
 * library's own bookkeeping is small, and an out-of-memory there leaves
 * nothing sensible to recover. Chunk memory does not use these. */
void *jl_malloc(size_t n);
void *jl_calloc(size_t n, size_t size);
void *jl_realloc(void *p, size_t n);
char *jl_strdup(const char *s);
char *jl_strndup(const char *s, size_t n);
char *jl_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *jl_vprintf(const char *fmt, va_list ap);

/* Copy of s without leading and trailing white space. */
char *jl_strtrim(const char *s);

/* Split a comma-separated list into trimmed, non-empty items. Returns the
 * count; *items is a NULL-terminated array to free with jl_strv_free. */
size_t jl_split_list(const char *s, char ***items);
void jl_strv_free(char **v);

/* Levenshtein distance, and the closest of `n` candidates to `word` when it
 * is close enough to be a plausible typo (NULL otherwise). */
size_t jl_edit_distance(const char *a, const char *b);
const char *jl_suggest(const char *word, const char *const *cands, size_t n);

/* A growable list of messages ("file:line: text"). */
typedef struct jl_msgs {
    char **v;
    size_t n, cap;
} jl_msgs;
void jl_msgs_add(jl_msgs *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jl_msgs_free(jl_msgs *m);

/* A copy of s fit for a one-line message: control characters (a newline
 * or an escape in a file name) and DEL become \n, \t, \xHH, so a hostile
 * name cannot forge lines or terminal sequences. Bytes >= 0x80 pass
 * unchanged (UTF-8 names stay readable). */
char *jl_escape(const char *s);

/* Monotonic time in seconds. */
double jl_now(void);

/* "SIGSEGV" for a signal number ("signal 42" for one without a name):
 * malloc'd. */
char *jl_signal_text(int sig);

#endif
