/* version.c — version and status strings. */
#include "config.h"

#include <joule/joule.h>

const char *joule_version(void)
{
    return JOULE_VERSION;
}

int joule_version_number(void)
{
    return JOULE_VERSION_NUMBER;
}

const char *joule_strerror(int code)
{
    switch (code) {
    case JOULE_E_OK: return "success";
    case JOULE_E_USAGE: return "invalid arguments";
    case JOULE_E_GRAPH: return "invalid graph";
    case JOULE_E_PLUGIN: return "plugin failure";
    case JOULE_E_INPUT: return "an input failed";
    case JOULE_E_IO: return "input/output error";
    case JOULE_E_NOMEM: return "out of memory";
    case JOULE_E_INTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}
