/* locks.h — process-wide named locks, lent to plugins through
 * joule_host.lock/unlock (for libraries whose calls are not thread-safe). */
#ifndef JOULE_LOCKS_H
#define JOULE_LOCKS_H

void jl_named_lock(const char *name);
void jl_named_unlock(const char *name);

#endif
