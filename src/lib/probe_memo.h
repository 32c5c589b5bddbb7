/* probe_memo.h — what probing the plugin path found, remembered.
 *
 * Before it loads a plugin object, the registry loads every object on the
 * plugin path once in a child process (registry.c): a constructor that
 * crashes, exits or hangs then fails only itself. That costs about as
 * much as loading everything, on every command — most of what `joule
 * validate` or a re-run served from the cache takes. So a probe in which
 * every object loaded cleanly is remembered, in the cache folder, with the
 * identity (device, inode, size, modification and change times) of each
 * object and of every library the child had loaded, and the library
 * search variables (LD_LIBRARY_PATH, LD_PRELOAD). While all of those are
 * unchanged, loading them again would do what it did then, and the next
 * command takes the probe's findings from the memo without forking. Any
 * object added, removed, rebuilt or touched, a library upgraded, another
 * search path: the path is probed again. A probe in which anything failed
 * is not remembered (a missing library may be installed since), nor is
 * one whose folder is not the user's alone (as for the stage cache). */
#ifndef JOULE_PROBE_MEMO_H
#define JOULE_PROBE_MEMO_H

#include <stddef.h>

/* The probe's lines (registry.c's protocol) for exactly these objects in
 * this order, when remembered and still valid; malloc'd, or NULL. */
char *jl_probe_memo_get(char *const *objs, size_t n);

/* Remember a clean probe of `objs`: its lines, and the libraries its
 * child had loaded. Failing is silent (the next command probes). */
void jl_probe_memo_put(char *const *objs, size_t n, const char *lines, char *const *libs, size_t n_libs);

#endif
