/* bad_meta.c — descriptor metadata (maker, license, description, homepage;
 * appended in 0.4), right and wrong, for check_registry:
 *   t_meta       every field, UTF-8 beyond ASCII, a description of two
 *                paragraphs with a tab: loads, and inspect shows it all
 *   t_meta_old   a descriptor of 0.3, whose struct_size ends before maker:
 *                loads, and inspect shows no metadata, although the fields
 *                past its size (which the host must not read) hold text,
 *                one of them not UTF-8
 *   t_meta_bad   a maker that is not UTF-8 (Latin-1): refused, naming maker
 * Built into meta/.libs, out of $TEST_PLUGINS, whose files other suites
 * count. */
#include <joule/plugin.h>

#include <stddef.h>

static const char *const names[] = {"y"};
static const joule_port in[] = {{"in", JOULE_SIGNAL, 0, "a signal"}};
static const joule_port out[] = {{"out", JOULE_SIGNAL, 0, "its first column"}};

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

#define DESC(nm, size, mk, lic, text, home)                                                                    \
    {                                                                                                          \
        .abi_version = JOULE_ABI_VERSION, .struct_size = (size), .name = nm, .version = "1.0.0",              \
        .summary = "the first column", .role = JOULE_ROLE_FILTER, .n_inputs = 1, .inputs = in, .n_outputs = 1, \
        .outputs = out, .open = p_open, .process = p_process, .close = p_close, .maker = mk, .license = lic,   \
        .description = text, .homepage = home                                                                  \
    }

static const joule_descriptor descs[] = {
    DESC("t_meta", sizeof(joule_descriptor), "Zoë Ångström <zoe@example.org>", "LGPL-2.1-or-later OR MIT",
         "Passes the first column on.\n\tA second line, indented by a tab.\n\nA second paragraph: Größe, 音.",
         "https://example.org/t_meta"),
    DESC("t_meta_old", offsetof(joule_descriptor, maker), "caf\xe9, never read", "never read", "never read",
         "https://never.read.example.org/"),
    DESC("t_meta_bad", sizeof(joule_descriptor), "caf\xe9 (Latin-1, not UTF-8)", "MIT", "Refused when loaded.",
         NULL),
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index < sizeof descs / sizeof descs[0] ? &descs[index] : NULL;
}
