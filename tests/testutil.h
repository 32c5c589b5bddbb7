/* testutil.h — helpers shared by the test suites: temporary folders, WAV
 * files written with libsndfile, running the joule command, reading CSV,
 * running one plugin in-process through the harness. */
#ifndef JOULE_TESTUTIL_H
#define JOULE_TESTUTIL_H

#include <joule/harness.h>

#include <stddef.h>
#include <stdint.h>

/* A fresh temporary folder (removed by tu_cleanup at exit). */
const char *tu_tmpdir(void);
/* tu_tmpdir()/name, in a static ring of buffers (valid for 16 calls). */
const char *tu_path(const char *name);

/* Write `frames` interleaved frames of `channels` channels as a WAV file
 * (format: SF_FORMAT_PCM_16, _PCM_24, _FLOAT; 0 = float). */
void tu_write_wav(const char *path, int rate, int channels, size_t frames, const float *data, int format);
/* Write a text file. */
void tu_write_file(const char *path, const char *text);
/* Read a whole file (malloc'd, NUL-terminated); NULL if missing. */
char *tu_read_file(const char *path);
/* Copy a file's bytes; 0 or -1. */
int tu_copy_file(const char *from, const char *to);
int tu_exists(const char *path);

/* Run the joule command with the given arguments (a shell fragment), with
 * the build tree's plugins. Returns its exit status; its stderr is kept in
 * tu_stderr() until the next call. */
int tu_joule(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tu_stderr(void);

/* The temporaries joule left in `dir` (files named .joule-*). */
int tu_count_tmps(const char *dir);

/* Whole-file byte comparison: 1 if both exist and are identical. */
int tu_same_bytes(const char *a, const char *b);

/* The determinism matrix: run `graph` over `inputs` (a shell fragment of
 * quoted paths) with chunk sizes 1, 7, 4096 and 65536 rows, each with 1, 2
 * and 8 threads, into tu_path("inv-CHUNK-THREADS"), and compare each of
 * the `n` output files (names relative to the output folder) byte for byte
 * with the first run's (in tu_path("inv-1-1")), all without the stage
 * cache; then the same with a fresh cache, cold (recording) and again
 * (replaying), which must give the same bytes. Returns NULL when all
 * agree, else a malloc'd description of the first difference or failure. */
char *tu_invariance(const char *graph, const char *inputs, const char *const *outputs, size_t n);

/* A CSV file read as numbers: header names and rows × cols values. */
typedef struct tu_csv {
    size_t rows, cols;
    char **names;
    double *v;
} tu_csv;
int tu_csv_read(const char *path, tu_csv *csv); /* 0 or -1 */
int tu_csv_col(const tu_csv *csv, const char *name); /* index or -1 */
void tu_csv_free(tu_csv *csv);

/* ---- one plugin in-process, through the harness (<joule/harness.h>) ----
 * Each helper fails the running check test, with the harness's message,
 * when the harness or the plugin refuses something. */

/* A harness for `plugin` (a name on $JOULE_PLUGIN_PATH, which the test
 * environment points at the build's plugins, or a path to a .so), its
 * parameters set from `params` ("name = value" lines, as in a node's
 * section of a graph file; NULL or "" for none) and, unless `in` is NULL,
 * input port 0 given the format `in`. Not open yet: set chunk sizes or in
 * place, then joule_harness_open (which checks the parameters as a whole:
 * the plugin's check()). Free with joule_harness_free. */
joule_harness *tu_harness(const char *plugin, const char *params, const joule_format *in);
/* tu_harness, then joule_harness_open, which must succeed. */
joule_harness *tu_harness_open(const char *plugin, const char *params, const joule_format *in);

/* As tu_harness for the descriptor `d` (which must outlive the harness),
 * but open sees `in_flags` in the flags of its connected inputs' formats,
 * as when joule run connects it to an upstream output that declared those
 * flags: the harness itself always passes 0. One such harness at a time. */
joule_harness *tu_harness_in_flags(const joule_descriptor *d, uint32_t in_flags, const char *params,
                                   const joule_format *in);

/* Feed n rows to input port 0 of an open harness (must succeed). Returns
 * the number of rows output port 0 gained. */
size_t tu_harness_feed(joule_harness *h, const float *rows, size_t n);
/* finish, then commit (both must succeed). Returns output port 0's rows
 * (all of them so far; *n_rows of them), valid until the harness is freed. */
const float *tu_harness_end(joule_harness *h, size_t *n_rows);

#endif
