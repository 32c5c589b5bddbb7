/* locks.c — see locks.h.
 *
 * A plugin cannot share a mutex with another plugin (each is its own shared
 * object, loaded RTLD_LOCAL), so the host keeps one per name. Names are few
 * (one per non-thread-safe library), so a list searched under one mutex is
 * enough; the locks live until the process ends, since a plugin may still
 * hold one while another thread asks for it. */
#include "config.h"

#include "locks.h"
#include "util.h"

#include <pthread.h>
#include <string.h>

struct named {
    struct named *next;
    char *name;
    pthread_mutex_t mu;
};

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct named *table;

static pthread_mutex_t *lookup(const char *name)
{
    pthread_mutex_lock(&table_mu);
    struct named *e;
    for (e = table; e; e = e->next)
        if (!strcmp(e->name, name))
            break;
    if (!e) {
        e = jl_calloc(1, sizeof *e);
        e->name = jl_strdup(name);
        pthread_mutex_init(&e->mu, NULL);
        e->next = table;
        table = e;
    }
    pthread_mutex_unlock(&table_mu);
    return &e->mu;
}

void jl_named_lock(const char *name)
{
    pthread_mutex_lock(lookup(name ? name : ""));
}

void jl_named_unlock(const char *name)
{
    pthread_mutex_unlock(lookup(name ? name : ""));
}
