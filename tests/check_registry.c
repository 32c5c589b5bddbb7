/* check_registry.c — loading plugins: a good one, an object without the
 * entry point, one built for another ABI, a missing folder, shadowing. */
#include <joule/joule.h>

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* a second folder with the same plugins: the first wins, the second is
     * listed as shadowed */
    ck_assert_int_eq(joule_registry_add_dir(reg, plugins_dir()), 0);
    /* t_pass, t_join, t_burst, t_gen (good_test.so); t_bad, t_badsrc (bad_plugin.so) */
    ck_assert_uint_eq(joule_registry_count(reg), 6);
    const char *why = find_failure(reg, "good_test.so");
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

int main(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_no_entry);
    tcase_add_test(tc, test_wrong_abi);
    tcase_add_test(tc, test_not_a_library);
    tcase_add_test(tc, test_dir);
    tcase_add_test(tc, test_cli_lists_failures);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
