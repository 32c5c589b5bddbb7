/* A plugin built for a future ABI version: the registry must refuse it and
 * say which version it was built for. */
#include <joule/plugin.h>

#include <stddef.h>

static int dummy_open(const joule_open_args *a, void **self)
{
    (void)a;
    *self = NULL;
    return JOULE_OK;
}
static int dummy_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)self, (void)port, (void)in, (void)out;
    return JOULE_END;
}
static void dummy_close(void *self)
{
    (void)self;
}
static const joule_port outs[] = {{"out", JOULE_SIGNAL, 0, ""}};

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION + 1,
    .struct_size = sizeof(joule_descriptor),
    .name = "future",
    .version = "9.0.0",
    .summary = "built for a newer host",
    .role = JOULE_ROLE_SOURCE,
    .n_outputs = 1,
    .outputs = outs,
    .open = dummy_open,
    .process = dummy_process,
    .close = dummy_close,
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
