/* Plugins the registry must refuse, each in an object of its own (built
 * twice, -DPT_DEFAULT and -DPT_BADMETA): `joule plugin-test` then fails
 * at its first line, load, with the registry's reason.
 *   pt_default   a default outside its parameter's own range
 *   pt_badmeta   a maker that is not UTF-8 */
#include <joule/plugin.h>

#include <stdlib.h>

static const char *const names[] = {"y"};
static const joule_param params[] = {
    {"gain", JOULE_PARAM_FLOAT, JOULE_PARAM_HAS_MIN | JOULE_PARAM_HAS_MAX,
#ifdef PT_DEFAULT
     "20",
#else
     "1",
#endif
     0, 10, NULL, "", "a gain of 0 to 10"},
};
static const joule_port in[] = {{"in", JOULE_SIGNAL, 0, "a signal"}};
static const joule_port out[] = {{"out", JOULE_SIGNAL, 0, "the signal"}};

static int p_open(const joule_open_args *a, void **self)
{
    *self = NULL;
    a->outputs[0] = a->inputs[0];
    a->outputs[0].n_columns = 1;
    a->outputs[0].names = names;
    a->outputs[0].units = NULL;
    return JOULE_OK;
}

static int p_process(void *self, uint32_t port, const joule_buffer *i, joule_buffer *o)
{
    (void)self;
    (void)port;
    for (uint32_t r = 0; r < i->n_rows; r++)
        o->data[r] = i->data[r * i->n_columns];
    o->n_rows = i->n_rows;
    return JOULE_OK;
}

static void p_close(void *self)
{
    (void)self;
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
#ifdef PT_DEFAULT
    .name = "pt_default",
    .maker = "tests",
#else
    .name = "pt_badmeta",
    .maker = "caf\xe9 (Latin-1, not UTF-8)",
#endif
    .version = "1.0.0",
    .summary = "refused when loaded",
    .role = JOULE_ROLE_FILTER,
    .n_params = 1,
    .params = params,
    .n_inputs = 1,
    .inputs = in,
    .n_outputs = 1,
    .outputs = out,
    .open = p_open,
    .process = p_process,
    .close = p_close,
    .license = "MIT",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
