/* bridge_paths.h — where the bridges look for foreign plugins when their
 * variable is unset: the folders each format's own hosts search (the Vamp
 * SDK's, and the LADSPA SDK's with /usr/local first), then Debian's
 * multiarch folder. A set variable (VAMP_PATH, LADSPA_PATH) replaces the
 * list, as it does for those hosts.
 *
 * Shared by the bridges (vamp.c, ladspa.c) and by the probe memo
 * (src/lib/probe_memo.c), which must notice a plugin added to any of
 * these folders. MULTIARCH_LIBDIR is "/usr/lib/<triplet>" (configure). */
#ifndef JOULE_BRIDGE_PATHS_H
#define JOULE_BRIDGE_PATHS_H

#ifndef MULTIARCH_LIBDIR
#define MULTIARCH_LIBDIR "/usr/lib"
#endif

#define JB_VAMP_ENV "VAMP_PATH"
#define JB_VAMP_DEFAULTS \
    {"~/vamp", "~/.vamp", "/usr/local/lib/vamp", "/usr/lib/vamp", MULTIARCH_LIBDIR "/vamp", NULL}

#define JB_LADSPA_ENV "LADSPA_PATH"
#define JB_LADSPA_DEFAULTS \
    {"~/.ladspa", "/usr/local/lib/ladspa", "/usr/lib/ladspa", MULTIARCH_LIBDIR "/ladspa", NULL}

#endif
