/* check_registry.c — loading plugins: a good one, an object without the
 * entry point, one built for another ABI, a missing folder, shadowing,
 * descriptor metadata. */
#include <joule/joule.h>

#include "registry.h"
#include "testutil.h"

#include <check.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *plugins_dir(void)
{
    return getenv("TEST_PLUGINS");
}

static const char *find_failure(joule_registry *reg, const char *file)
{
    for (size_t i = 0; i < joule_registry_failure_count(reg); i++) {
        const char *path;
        const char *why = joule_registry_failure(reg, i, &path);
        if (strstr(path, file))
            return why;
    }
    return NULL;
}

START_TEST(test_good)
{
    joule_registry *reg = joule_registry_new();
    char path[1024];
    snprintf(path, sizeof path, "%s/good_test.so", plugins_dir());
    ck_assert_int_eq(joule_registry_add_file(reg, path), 0);
    ck_assert_uint_eq(joule_registry_count(reg), 4); /* t_pass, t_join, t_burst, t_gen */
    const joule_plugin_info *p = joule_registry_find(reg, "t_join");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->desc->name, "t_join");
    ck_assert_uint_eq(p->desc->n_inputs, 2);
    ck_assert_str_eq(p->path, path);
    ck_assert_ptr_null(joule_registry_find(reg, "t_nothing"));
    ck_assert_uint_eq(joule_registry_failure_count(reg), 0);
    joule_registry_free(reg);
}
END_TEST

/* An entry found stays where it is while later lookups load more objects:
 * the graph keeps the pointers of its nodes' plugins while it resolves the
 * next node (the native and the test plugins are many more than the
 * registry's first allocation, 16). */
START_TEST(test_entries_stay)
{
    joule_registry *reg = joule_registry_new();
    ck_assert_int_eq(joule_registry_add_dir(reg, getenv("JOULE_PLUGIN_PATH")), 0);
    ck_assert_int_eq(joule_registry_add_dir(reg, plugins_dir()), 0);
    const joule_plugin_info *p = joule_registry_find(reg, "sndfile");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_gt(joule_registry_count(reg), 32); /* loads every object */
    ck_assert_str_eq(p->desc->name, "sndfile");
    ck_assert_ptr_eq(joule_registry_find(reg, "sndfile"), p);
    joule_registry_free(reg);
}
END_TEST

START_TEST(test_no_entry)
{
    joule_registry *reg = joule_registry_new();
    char path[1024];
    snprintf(path, sizeof path, "%s/bad_noentry.so", plugins_dir());
    ck_assert_int_eq(joule_registry_add_file(reg, path), JOULE_E_PLUGIN);
    ck_assert_uint_eq(joule_registry_count(reg), 0);
    ck_assert_str_eq(find_failure(reg, "bad_noentry.so"), "no entry point 'joule_plugin_entry': not a joule plugin");
    joule_registry_free(reg);
}
END_TEST

START_TEST(test_wrong_abi)
{
    joule_registry *reg = joule_registry_new();
    char path[1024];
    snprintf(path, sizeof path, "%s/bad_abi.so", plugins_dir());
    ck_assert_int_eq(joule_registry_add_file(reg, path), JOULE_E_PLUGIN);
    ck_assert_ptr_null(joule_registry_find(reg, "future"));
    ck_assert_str_eq(find_failure(reg, "bad_abi.so"), "built for plugin ABI version 2, this host speaks version 1");
    joule_registry_free(reg);
}
END_TEST

START_TEST(test_not_a_library)
{
    joule_registry *reg = joule_registry_new();
    const char *path = tu_path("junk.so");
    tu_write_file(path, "this is not an ELF object\n");
    ck_assert_int_eq(joule_registry_add_file(reg, path), JOULE_E_PLUGIN);
    const char *why = find_failure(reg, "junk.so");
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "junk.so"));
    joule_registry_free(reg);
}
END_TEST

START_TEST(test_dir)
{
    joule_registry *reg = joule_registry_new();
    ck_assert_int_eq(joule_registry_add_dir(reg, tu_path("does-not-exist")), 0);
    ck_assert_int_eq(joule_registry_add_dir(reg, plugins_dir()), 0);
    /* the good one loaded; both bad ones listed with their reasons */
    ck_assert_ptr_nonnull(joule_registry_find(reg, "t_pass"));
    ck_assert_ptr_nonnull(find_failure(reg, "bad_abi.so"));
    ck_assert_ptr_nonnull(find_failure(reg, "bad_noentry.so"));
    /* the same folder again, spelt otherwise: the same files, nothing
     * shadowed by itself */
    char again[4096];
    snprintf(again, sizeof again, "%s/.", plugins_dir());
    ck_assert_int_eq(joule_registry_add_dir(reg, again), 0);
    ck_assert_uint_eq(joule_registry_count(reg), 22);
    ck_assert_ptr_null(find_failure(reg, "good_test.so"));
    /* a second folder with copies of the same plugins: the first wins, the
     * second is listed as shadowed */
    ck_assert_int_eq(mkdir(tu_path("copies"), 0755), 0);
    char from[4096];
    snprintf(from, sizeof from, "%s/good_test.so", plugins_dir());
    ck_assert_int_eq(tu_copy_file(from, tu_path("copies/good_test.so")), 0);
    ck_assert_int_eq(joule_registry_add_dir(reg, tu_path("copies")), 0);
    /* t_pass, t_join, t_burst, t_gen (good_test.so); t_bad, t_badsrc
     * (bad_plugin.so); t_ctor (bad_ctor.so); the 14 of pt_broken.so
     * (pt_default.so and pt_badmeta.so are refused); zcr (the template) */
    ck_assert_uint_eq(joule_registry_count(reg), 22);
    ck_assert_ptr_nonnull(find_failure(reg, "pt_default.so"));
    ck_assert_ptr_nonnull(strstr(find_failure(reg, "pt_badmeta.so"), "maker"));
    const char *why = find_failure(reg, "copies/good_test.so");
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "is shadowed by"));
    joule_registry_free(reg);
}
END_TEST

START_TEST(test_cli_lists_failures)
{
    int rc = tu_joule("plugins --plugin-path '%s'", plugins_dir());
    ck_assert_int_eq(rc, 0);
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "'%s' plugins --plugin-path '%s' > '%s'", getenv("JOULE"), plugins_dir(),
                              tu_path("plugins.txt")), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    char *out = tu_read_file(tu_path("plugins.txt"));
    ck_assert_ptr_nonnull(strstr(out, "t_gen"));
    ck_assert_ptr_nonnull(strstr(out, "energy"));
    ck_assert_ptr_nonnull(strstr(out, "not loaded:"));
    ck_assert_ptr_nonnull(strstr(out, "bad_abi.so: built for plugin ABI version 2"));
    free(out);
}
END_TEST

/* A folder of objects that misbehave while loaded, copies of bad_ctor.so
 * named for what they do, next to a good one, a FIFO and a folder named
 * *.so. Returns the folder. */
static const char *bad_folder(int with_hang)
{
    const char *dir = tu_path(with_hang ? "plugs-hang" : "plugs");
    mkdir(dir, 0700);
    static const char *const names[] = {"a_crash.so", "b_abort.so", "c_exit.so", "d_defects.so", "e_logged.so"};
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/bad_ctor.so", plugins_dir());
    ck_assert(tu_exists(src));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
        ck_assert_int_eq(tu_copy_file(src, dst), 0);
    }
    if (with_hang) {
        snprintf(dst, sizeof dst, "%s/f_hang.so", dir);
        ck_assert_int_eq(tu_copy_file(src, dst), 0);
    }
    snprintf(src, sizeof src, "%s/good_test.so", plugins_dir());
    snprintf(dst, sizeof dst, "%s/good.so", dir);
    ck_assert_int_eq(tu_copy_file(src, dst), 0);
    snprintf(dst, sizeof dst, "%s/x.so", dir);
    unlink(dst);
    ck_assert_int_eq(mkfifo(dst, 0600), 0);
    snprintf(dst, sizeof dst, "%s/sub.so", dir);
    mkdir(dst, 0700);
    return dir;
}

/* Constructors that crash, abort or exit fail only their own object; a
 * FIFO on the path is skipped unopened; defective descriptors are refused
 * with the defect named; the good plugins load. */
START_TEST(test_bad_constructors)
{
    const char *dir = bad_folder(0);
    joule_registry *reg = joule_registry_new();
    ck_assert_int_eq(joule_registry_add_dir(reg, dir), 0);
    if (!joule_registry_find(reg, "t_pass")) {
        char all[8192] = "";
        for (size_t i = 0; i < joule_registry_failure_count(reg); i++) {
            const char *p, *w = joule_registry_failure(reg, i, &p);
            snprintf(all + strlen(all), sizeof all - strlen(all), "| %s: %s", p, w);
        }
        ck_abort_msg("no t_pass %s", all);
    }
    ck_assert_ptr_nonnull(joule_registry_find(reg, "t_pass"));
    const char *why = find_failure(reg, "a_crash.so");
    ck_assert_msg(why && strstr(why, "crashed with SIGSEGV while being loaded"), "%s", why ? why : "(none)");
    why = find_failure(reg, "b_abort.so");
    ck_assert_msg(why && strstr(why, "crashed with SIGABRT while being loaded"), "%s", why ? why : "(none)");
    why = find_failure(reg, "c_exit.so");
    ck_assert_msg(why && strstr(why, "called exit(3) while being loaded"), "%s", why ? why : "(none)");
    why = find_failure(reg, "x.so");
    ck_assert_msg(why && strstr(why, "skipped: a FIFO"), "%s", why ? why : "(none)");
    why = find_failure(reg, "sub.so");
    ck_assert_msg(why && strstr(why, "skipped: a directory"), "%s", why ? why : "(none)");
    /* every defect, each named */
    static const char *const defects[] = {
        "plugin 't_def_range': its default for n = 0 is below the minimum 1 (a defect of the plugin)",
        "plugin 't_def_enum': its default for mode",
        "plugin 't_dup_param' declares parameter 'gain' twice",
        "plugin 't_dup_out' declares output 'out' twice",
    };
    for (size_t k = 0; k < sizeof defects / sizeof defects[0]; k++) {
        int seen = 0;
        for (size_t i = 0; i < joule_registry_failure_count(reg); i++)
            seen |= strstr(joule_registry_failure(reg, i, NULL), defects[k]) != NULL;
        ck_assert_msg(seen, "not reported: %s", defects[k]);
    }
    ck_assert_ptr_null(joule_registry_find(reg, "t_def_range"));
    ck_assert_ptr_null(joule_registry_find(reg, "t_dup_out"));
    /* the e_logged.so copy of the good t_ctor: loadable */
    ck_assert_ptr_nonnull(joule_registry_find(reg, "t_ctor"));
    joule_registry_free(reg);
}
END_TEST

/* The commands: `plugins` lists the broken objects under "not loaded" and
 * succeeds, `validate` and `run` work with a graph of good plugins, and a
 * constructor that hangs costs a bounded wait. */
START_TEST(test_cli_bad_constructors)
{
    const char *dir = bad_folder(1);
    double t0 = (double)time(NULL);
    ck_assert_int_eq(tu_joule("plugins --plugin-path '%s'", dir), 0);
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "'%s' plugins --plugin-path '%s' > '%s' 2>/dev/null", getenv("JOULE"), dir,
                              tu_path("plugins.txt")), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    ck_assert_double_lt((double)time(NULL) - t0, 30);
    char *out = tu_read_file(tu_path("plugins.txt"));
    ck_assert_ptr_nonnull(strstr(out, "t_pass"));
    ck_assert_ptr_nonnull(strstr(out, "t_ctor"));
    const char *nl = strstr(out, "not loaded:");
    ck_assert_ptr_nonnull(nl);
    ck_assert_msg(strstr(nl, "a_crash.so: crashed with SIGSEGV"), "%s", out);
    ck_assert_msg(strstr(nl, "c_exit.so: called exit(3)"), "%s", out);
    ck_assert_msg(strstr(nl, "f_hang.so: did not finish loading"), "%s", out);
    ck_assert_msg(strstr(nl, "x.so: skipped: a FIFO"), "%s", out);
    free(out);
    /* a graph of good plugins validates and runs beside them */
    const char *wav = tu_path("tone.wav");
    float x[800];
    for (int i = 0; i < 800; i++)
        x[i] = 0.25f;
    tu_write_wav(wav, 8000, 1, 800, x, 0);
    const char *g = tu_path("pass.ini");
    tu_write_file(g, "[in]\nplugin = sndfile\n[p]\nplugin = t_pass\ninput = in\n"
                     "[out]\nplugin = csv\ninput = p\npath = {stem}.pass.csv\n");
    ck_assert_int_eq(tu_joule("validate '%s' --plugin-path '%s'", g, dir), 0);
    ck_assert_int_eq(tu_joule("run '%s' '%s' -o '%s' --plugin-path '%s:%s'", g, wav, tu_path("o"), dir,
                              plugins_dir()), 0);
    /* naming a broken one says why it is not there */
    tu_write_file(g, "[in]\nplugin = sndfile\n[p]\nplugin = t_def_range\ninput = in\n"
                     "[out]\nplugin = csv\ninput = p\npath = {stem}.pass.csv\n");
    ck_assert_int_eq(tu_joule("validate '%s' --plugin-path '%s'", g, dir), 2);
    ck_assert_msg(strstr(tu_stderr(), "plugin 't_def_range' failed to load: plugin 't_def_range': its default for n"),
                  "%s", tu_stderr());
}
END_TEST

/* `validate` loads into its own process only the objects its graph names:
 * an object it does not use is loaded once, by the probing child, and one
 * it uses once more, by joule itself. */
START_TEST(test_lazy_loading)
{
    const char *dir = bad_folder(0);
    const char *log = tu_path("loads.txt");
    unlink(log);
    setenv("JOULE_TEST_CTOR_LOG", log, 1);
    const char *g = tu_path("lazy.ini");
    tu_write_file(g, "[in]\nplugin = sndfile\n[p]\nplugin = t_pass\ninput = in\n"
                     "[out]\nplugin = csv\ninput = p\npath = {stem}.x.csv\n");
    ck_assert_int_eq(tu_joule("validate '%s' --plugin-path '%s:%s'", g, dir, plugins_dir()), 0);
    char *text = tu_read_file(log);
    ck_assert_ptr_nonnull(text);
    /* e_logged.so and d_defects.so: probed, never loaded by joule (the
     * crashing ones log before they die: 3 more probe lines) */
    size_t lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    free(text);
    ck_assert_uint_eq(lines, 5 + 1); /* + bad_ctor.so in the second folder */
    unlink(log);
    tu_write_file(g, "[in]\nplugin = sndfile\n[p]\nplugin = t_ctor\ninput = in\n"
                     "[out]\nplugin = csv\ninput = p\npath = {stem}.x.csv\n");
    ck_assert_int_eq(tu_joule("validate '%s' --plugin-path '%s:%s'", g, dir, plugins_dir()), 0);
    text = tu_read_file(log);
    lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    free(text);
    ck_assert_uint_eq(lines, 6 + 1); /* e_logged.so, which provides t_ctor, loaded by joule too */
    unsetenv("JOULE_TEST_CTOR_LOG");
}
END_TEST

static size_t log_lines(const char *log)
{
    char *text = tu_read_file(log);
    size_t lines = 0;
    for (char *c = text; c && *c; c++)
        lines += *c == '\n';
    free(text);
    unlink(log);
    return lines;
}

/* A probe in which every object loaded cleanly is remembered: the next
 * command forks no probing child (an object it does not use is then not
 * loaded at all), until an object or a library changes, the library search
 * path changes, or the memo's folder is not the user's alone. A probe in
 * which something failed is never remembered. */
START_TEST(test_probe_memo)
{
    const char *dir = tu_path("memo-plugs");
    mkdir(dir, 0700);
    char src[1024], logged[1024], good[1024], crash[1024];
    snprintf(src, sizeof src, "%s/bad_ctor.so", plugins_dir());
    snprintf(logged, sizeof logged, "%s/e_logged.so", dir);
    ck_assert_int_eq(tu_copy_file(src, logged), 0);
    snprintf(crash, sizeof crash, "%s/a_crash.so", dir);
    snprintf(src, sizeof src, "%s/good_test.so", plugins_dir());
    snprintf(good, sizeof good, "%s/good.so", dir);
    ck_assert_int_eq(tu_copy_file(src, good), 0);
    const char *log = tu_path("memo-loads.txt");
    unlink(log);
    setenv("JOULE_TEST_CTOR_LOG", log, 1);
    const char *g = tu_path("memo.ini");
    tu_write_file(g, "[in]\nplugin = sndfile\n[p]\nplugin = t_pass\ninput = in\n"
                     "[out]\nplugin = csv\ninput = p\npath = {stem}.x.csv\n");
    /* the folder, then the shipped plugins ($JOULE_PLUGIN_PATH); not the
     * test plugins' folder, where broken objects are */
#define VALIDATE() ck_assert_int_eq(tu_joule("validate '%s' --plugin-path '%s'", g, dir), 0)
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 1); /* probed: e_logged.so */
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 0); /* remembered: nothing loaded that t_pass does not need */
    /* t_ctor is found from the memo, and loaded once, by joule */
    tu_write_file(tu_path("memo2.ini"), "[in]\nplugin = sndfile\n[p]\nplugin = t_ctor\ninput = in\n"
                                        "[out]\nplugin = csv\ninput = p\npath = {stem}.x.csv\n");
    ck_assert_int_eq(tu_joule("validate '%s' --plugin-path '%s'", tu_path("memo2.ini"), dir), 0);
    ck_assert_uint_eq(log_lines(log), 1); /* by joule itself, not probed */

    /* an object touched: probed again, then remembered again */
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    ck_assert_int_eq(utimensat(AT_FDCWD, logged, ts, 0), 0);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 1);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 0);

    /* another library search path */
    const char *old = getenv("LD_LIBRARY_PATH");
    char *keep = old ? strdup(old) : NULL;
    char *more = NULL;
    ck_assert_int_ge(asprintf(&more, "%s%s/nowhere", old ? old : "", old ? ":" : ""), 0);
    setenv("LD_LIBRARY_PATH", more, 1);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 1);
    if (keep)
        setenv("LD_LIBRARY_PATH", keep, 1);
    else
        unsetenv("LD_LIBRARY_PATH");
    free(keep);
    free(more);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 1); /* the memo now holds the other path's probe */

    /* an object that crashes while loaded: probed every time, never remembered */
    snprintf(src, sizeof src, "%s/bad_ctor.so", plugins_dir());
    ck_assert_int_eq(tu_copy_file(src, crash), 0);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 2);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 2);
    ck_assert_int_eq(unlink(crash), 0);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 0); /* the memo of the path without it still holds */

    /* a memo folder others may write to is not trusted */
    char probe_dir[1024];
    snprintf(probe_dir, sizeof probe_dir, "%s/probe", getenv("JOULE_CACHE_DIR"));
    ck_assert_int_eq(chmod(probe_dir, 0777), 0);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 1);
    VALIDATE();
    ck_assert_uint_eq(log_lines(log), 1);
    ck_assert_int_eq(chmod(probe_dir, 0700), 0);
#undef VALIDATE
    unsetenv("JOULE_TEST_CTOR_LOG");
}
END_TEST

/* ---- descriptor metadata (appended in 0.4) ------------------------------ */

static int m_open(const joule_open_args *a, void **self)
{
    (void)a;
    *self = NULL;
    return JOULE_OK;
}

static int m_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)self;
    (void)port;
    (void)in;
    (void)out;
    return JOULE_OK;
}

static void m_close(void *self)
{
    (void)self;
}

static const joule_port m_in[] = {{"in", JOULE_SIGNAL, 0, ""}};
static const joule_port m_out[] = {{"out", JOULE_SIGNAL, 0, ""}};

/* A valid descriptor with the given metadata and struct_size (0: the
 * whole struct). */
static joule_descriptor meta_desc(uint32_t size, const char *maker, const char *license, const char *description,
                                  const char *homepage)
{
    joule_descriptor d;
    memset(&d, 0, sizeof d);
    d.abi_version = JOULE_ABI_VERSION;
    d.struct_size = size ? size : (uint32_t)sizeof d;
    d.name = "t";
    d.version = "1.0.0";
    d.summary = "metadata";
    d.role = JOULE_ROLE_FILTER;
    d.n_inputs = 1;
    d.inputs = m_in;
    d.n_outputs = 1;
    d.outputs = m_out;
    d.open = m_open;
    d.process = m_process;
    d.close = m_close;
    d.maker = maker;
    d.license = license;
    d.description = description;
    d.homepage = homepage;
    return d;
}

/* The registry's reason for a descriptor, "" when it is accepted. */
static const char *meta_why(joule_descriptor d)
{
    static char buf[1024];
    char *why = jl_check_descriptor(&d);
    snprintf(buf, sizeof buf, "%s", why ? why : "");
    free(why);
    return buf;
}

/* What the registry accepts: UTF-8 of 1 to 4 bytes, newlines and tabs in
 * the description, NULL and empty fields, and anything at all past the
 * struct_size a plugin declares; what it refuses, each with the field and
 * the place named. */
START_TEST(test_metadata_checks)
{
    ck_assert_str_eq(meta_why(meta_desc(0, NULL, NULL, NULL, NULL)), "");
    ck_assert_str_eq(meta_why(meta_desc(0, "", "", "", "")), "");
    ck_assert_str_eq(meta_why(meta_desc(0, "Zoë Ångström <zoe@example.org>", "GPL-2.0-or-later",
                                        "First paragraph, 音 and \xf0\x9f\x8e\xb5.\n\tIndented.\n\nSecond.",
                                        "https://example.org/t")),
                     "");
    /* not UTF-8 */
    ck_assert_str_eq(meta_why(meta_desc(0, "caf\xe9", "MIT", NULL, NULL)),
                     "plugin 't': its maker is not valid UTF-8 (byte 0xe9 at byte 3)");
    static const char *const not_utf8[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, three bytes */
        "\xed\xa0\x80",     /* a UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "x\xe2\x82",        /* cut short */
        "\x80",             /* a continuation byte alone */
        "\xff",
    };
    for (size_t k = 0; k < sizeof not_utf8 / sizeof not_utf8[0]; k++) {
        const char *why = meta_why(meta_desc(0, "m", "MIT", not_utf8[k], NULL));
        ck_assert_msg(strstr(why, "plugin 't': its description is not valid UTF-8 (byte 0x"), "%zu: %s", k, why);
    }
    /* control characters */
    ck_assert_str_eq(meta_why(meta_desc(0, "m", "MIT\n", NULL, NULL)),
                     "plugin 't': its license holds the control character U+000A at byte 3 (only the description "
                     "may hold newlines and tabs)");
    ck_assert_str_eq(meta_why(meta_desc(0, "a\tb", "MIT", NULL, NULL)),
                     "plugin 't': its maker holds the control character U+0009 at byte 1 (only the description "
                     "may hold newlines and tabs)");
    ck_assert_str_eq(meta_why(meta_desc(0, "m", "MIT", NULL, "https://x.org/\x1b[2J")),
                     "plugin 't': its homepage holds the control character U+001B at byte 14");
    ck_assert_str_eq(meta_why(meta_desc(0, "m", "MIT", "line\r\nline", NULL)),
                     "plugin 't': its description holds the control character U+000D at byte 4");
    ck_assert_str_eq(meta_why(meta_desc(0, "m", "MIT", "del \x7f", NULL)),
                     "plugin 't': its description holds the control character U+007F at byte 4");
    ck_assert_str_eq(meta_why(meta_desc(0, "c1 \xc2\x85", "MIT", NULL, NULL)),
                     "plugin 't': its maker holds the control character U+0085 at byte 3");
    /* a descriptor of 0.3 ends before maker; one that ends after license
     * has no description nor homepage: what lies past its size is never
     * read */
    ck_assert_str_eq(meta_why(meta_desc((uint32_t)offsetof(joule_descriptor, maker), "caf\xe9", "\n", "\x1b",
                                        "\xff")),
                     "");
    ck_assert_str_eq(meta_why(meta_desc((uint32_t)(offsetof(joule_descriptor, license) + sizeof(const char *)),
                                        "m", "MIT", "\x1b", "\xff")),
                     "");
    ck_assert_str_eq(meta_why(meta_desc((uint32_t)(offsetof(joule_descriptor, license) + sizeof(const char *)),
                                        "m", "MIT\x1b", NULL, NULL)),
                     "plugin 't': its license holds the control character U+001B at byte 3");
}
END_TEST

/* The folder of tests/plugins/bad_meta.c's object, beside $TEST_PLUGINS. */
static const char *meta_dir(void)
{
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/../meta/.libs", plugins_dir());
    return dir;
}

/* What `joule ARGS` writes to standard output (malloc'd); its exit status
 * must be `status`. */
static char *joule_stdout(int status, const char *args)
{
    char *cmd;
    ck_assert_int_ge(asprintf(&cmd, "'%s' %s > '%s' 2>/dev/null", getenv("JOULE"), args, tu_path("stdout.txt")), 0);
    int st = system(cmd);
    free(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == status, "joule %s: status %d", args, st);
    return tu_read_file(tu_path("stdout.txt"));
}

/* bad_meta.so: the two good descriptors load (the one of 0.3 too), the
 * one whose maker is not UTF-8 is refused with the field named; inspect
 * shows the metadata given and nothing of what lies past a descriptor's
 * size. */
START_TEST(test_metadata_plugins)
{
    char path[4096 + 64];
    snprintf(path, sizeof path, "%s/bad_meta.so", meta_dir());
    joule_registry *reg = joule_registry_new();
    joule_registry_add_file(reg, path);
    ck_assert_uint_eq(joule_registry_count(reg), 2);
    const joule_plugin_info *p = joule_registry_find(reg, "t_meta");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->desc->maker, "Zoë Ångström <zoe@example.org>");
    p = joule_registry_find(reg, "t_meta_old");
    ck_assert_ptr_nonnull(p);
    ck_assert(!JOULE_DESC_HAS(p->desc, maker));
    ck_assert(JOULE_DESC_HAS(p->desc, gather));
    ck_assert_ptr_null(joule_registry_find(reg, "t_meta_bad"));
    ck_assert_str_eq(find_failure(reg, "bad_meta.so"),
                     "plugin 't_meta_bad': its maker is not valid UTF-8 (byte 0xe9 at byte 3)");
    joule_registry_free(reg);

    char args[4096 + 128];
    snprintf(args, sizeof args, "inspect t_meta --plugin-path '%s'", meta_dir());
    char *out = joule_stdout(0, args);
    char want[4096 + 512];
    snprintf(want, sizeof want,
             "t_meta 1.0.0 (filter)\n"
             "  the first column\n"
             "  %s\n"
             "  maker: Zoë Ångström <zoe@example.org>\n"
             "  licence: LGPL-2.1-or-later OR MIT\n"
             "  home page: https://example.org/t_meta\n"
             "\n"
             "  Passes the first column on.\n"
             "  \tA second line, indented by a tab.\n"
             "\n"
             "  A second paragraph: Größe, 音.\n"
             "\n"
             "inputs:\n",
             path);
    ck_assert_msg(!strncmp(out, want, strlen(want)), "got:\n%s\nwanted it to start with:\n%s", out, want);
    free(out);

    snprintf(args, sizeof args, "inspect t_meta_old --plugin-path '%s'", meta_dir());
    out = joule_stdout(0, args);
    snprintf(want, sizeof want, "t_meta_old 1.0.0 (filter)\n  the first column\n  %s\n\ninputs:\n", path);
    ck_assert_msg(!strncmp(out, want, strlen(want)), "got:\n%s\nwanted it to start with:\n%s", out, want);
    ck_assert_ptr_null(strstr(out, "never"));
    free(out);

    snprintf(args, sizeof args, "inspect t_meta_bad --plugin-path '%s'", meta_dir());
    free(joule_stdout(2, args));
    snprintf(args, sizeof args, "plugins --plugin-path '%s'", meta_dir());
    out = joule_stdout(0, args);
    ck_assert_msg(strstr(out, "bad_meta.so: plugin 't_meta_bad': its maker is not valid UTF-8"), "%s", out);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_entries_stay);
    tcase_add_test(tc, test_no_entry);
    tcase_add_test(tc, test_wrong_abi);
    tcase_add_test(tc, test_not_a_library);
    tcase_add_test(tc, test_dir);
    tcase_add_test(tc, test_cli_lists_failures);
    tcase_add_test(tc, test_bad_constructors);
    tcase_add_test(tc, test_cli_bad_constructors);
    tcase_add_test(tc, test_lazy_loading);
    tcase_add_test(tc, test_probe_memo);
    tcase_add_test(tc, test_metadata_checks);
    tcase_add_test(tc, test_metadata_plugins);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
