/* A shared object without the joule entry point: the registry must refuse
 * it with a reason, not crash or skip it silently. */
int not_a_joule_plugin(void);
int not_a_joule_plugin(void)
{
    return 42;
}
