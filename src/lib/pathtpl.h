/* pathtpl.h — output path templates: {stem} {name} {dir} {node}. */
#ifndef JOULE_PATHTPL_H
#define JOULE_PATHTPL_H

/* Returns 0 if every {...} in `tpl` is a known variable and braces match;
 * otherwise -1 and a malloc'd reason in *why. */
int jl_path_check(const char *tpl, char **why);

/* Expand `tpl` for one input file and node. {stem} is the input's file name
 * without its last extension, {name} its file name, {dir} its directory
 * ("." if none), {node} the node's name. A relative result is placed under
 * `out_dir` (unless out_dir is NULL or "."). "-" (standard output) stays
 * "-". Returns a malloc'd path. */
char *jl_path_expand(const char *tpl, const char *input, const char *node,
                     const char *out_dir);

/* Does `tpl` name a part of the input ({stem}, {name} or {dir}), so that
 * each input gets its own file? */
int jl_path_per_input(const char *tpl);

/* `path` with `tag` before the extension of its file name
 * ("out/loudness.csv", "shard-2-of-3": "out/loudness.shard-2-of-3.csv"),
 * or after the name when it has none. malloc'd. */
char *jl_path_tag(const char *path, const char *tag);

#endif
