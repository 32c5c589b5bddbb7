/* outputs.h — the files a run writes: checked before anything is read,
 * written under temporary names, and put in place all together.
 *
 * The rules, so that a run never damages a user's file:
 *   - before a run, every output path (each sink's, for each input, and any
 *     extra file the caller will write, such as a report) is resolved and
 *     compared by identity — device and inode where the file exists, the
 *     normalised absolute path where it does not — with every input and
 *     every other output; an output that is an input, two outputs that are
 *     one file, an existing output that is not a regular file, and an
 *     output whose last component is a symbolic link are refused;
 *   - outputs are written to temporaries created exclusively, with
 *     unpredictable names, never through a symbolic link, in the target's
 *     folder; a temporary's name carries a joule prefix and its creator's
 *     identity (host, boot, process and its start time), and never the
 *     target's name, so a long legal name never makes it too long;
 *   - a job's outputs are placed together: if one cannot be, those already
 *     placed are rolled back (a file that existed before is restored);
 *   - temporaries whose creating process no longer exists (a run killed by
 *     SIGKILL or a power cut) are removed by a later run writing to the
 *     same folder, and only those: never another live process's, never a
 *     file joule did not name. */
#ifndef JOULE_OUTPUTS_H
#define JOULE_OUTPUTS_H

#include "graph.h"

#include <stddef.h>

/* One output of a job. */
typedef struct jl_outfile {
    char *path;   /* where it goes                                  */
    char *tmp;    /* the temporary being written; NULL for stdout   */
    int to_stdout;
    size_t node;  /* the node that writes it (a job's outputs)      */
    int part;     /* a part of a gathered table (tables.h): path and
                     tmp are the part; placing it leaves it there   */
} jl_outfile;

/* Check every output of a run of `g` over `files` (see the rules above).
 * `table_tag`, when not NULL, is put in the names of gathered tables
 * (jl_path_tag: a shard's). `extra` are other files the caller will write
 * (a report). Returns 0, or
 * -1 with a malloc'd one-line message (naming both files and a hint) in
 * *msg. On success *dirs receives the distinct folders outputs go to,
 * existing or not (NULL-terminated, free with jl_strv_free). */
int jl_outputs_check(const joule_graph *g, const char *const *files, size_t n_files, const char *out_dir,
                     const char *table_tag, const char *const *extra, size_t n_extra, char **msg, char ***dirs);

/* Create the temporary for `path` (making its folders). Returns a
 * descriptor open for writing (O_CLOEXEC) and the temporary's name in
 * *tmp, or -1 with errno set and a malloc'd message in *msg. */
int jl_tmp_create(const char *path, char **tmp, char **msg);

/* A fresh temporary name in `dir`, marked with this process's identity
 * (a later run removes it once this process is gone). */
char *jl_tmp_name(const char *dir);

/* Create the part `part` (a jl_tmp_name) of the table `target` afresh,
 * replacing one this run made before. Returns a descriptor open for
 * writing, or -1 with errno set and a malloc'd message in *msg. */
int jl_part_create(const char *part, const char *target, char **msg);

/* Remove the temporaries in `dir` left by joule processes that no longer
 * exist. Returns how many were removed. */
size_t jl_tmp_sweep(const char *dir);

/* Put every output in place: each temporary is synced, then renamed over
 * its target. If one fails, the ones already placed are rolled back and 
 * -1 is returned with a malloc'd message in *msg. Temporaries never
 * remain, whatever the outcome. */
int jl_outputs_place(jl_outfile *v, size_t n, char **msg);

/* Remove every temporary (a failed job). */
void jl_outputs_discard(jl_outfile *v, size_t n);

/* Free the array's strings. */
void jl_outputs_free(jl_outfile *v, size_t n);

#endif
