/* plugin_test.h — `joule plugin-test` (see plugin_test.c). */
#ifndef JOULE_PLUGIN_TEST_H
#define JOULE_PLUGIN_TEST_H

/* argv[0] is "plugin-test"; returns the exit status. */
int plugin_test_main(int argc, char **argv);

#endif
