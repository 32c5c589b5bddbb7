/* pathtpl.c — see pathtpl.h. */
#include "config.h"

#include "pathtpl.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {"stem", "name", "dir", "node"};

int jl_path_check(const char *tpl, char **why)
{
    *why = NULL;
    if (!*tpl) {
        *why = jl_strdup("the path is empty");
        return -1;
    }
    for (const char *p = tpl; *p; p++) {
        if (*p == '}') {
            *why = jl_printf("unmatched '}' in path '%s'", tpl);
            return -1;
        }
        if (*p != '{')
            continue;
        const char *e = strchr(p, '}');
        if (!e) {
            *why = jl_printf("unmatched '{' in path '%s'", tpl);
            return -1;
        }
        char *v = jl_strndup(p + 1, (size_t)(e - p - 1));
        int ok = 0;
        for (size_t i = 0; i < 4; i++)
            ok |= !strcmp(v, vars[i]);
        if (!ok) {
            const char *s = jl_suggest(v, vars, 4);
            *why = s ? jl_printf("unknown variable {%s} in path '%s'; did you mean {%s}?", v, tpl, s)
                     : jl_printf("unknown variable {%s} in path '%s' (known: {stem} {name} {dir} {node})", v, tpl);
            free(v);
            return -1;
        }
        free(v);
        p = e;
    }
    return 0;
}

char *jl_path_expand(const char *tpl, const char *input, const char *node, const char *out_dir)
{
    if (!strcmp(tpl, "-"))
        return jl_strdup(tpl); /* standard output, wherever the output folder is */
    const char *slash = strrchr(input, '/');
    const char *name = slash ? slash + 1 : input;
    char *dir = slash ? jl_strndup(input, slash == input ? 1 : (size_t)(slash - input)) : jl_strdup(".");
    const char *dot = strrchr(name, '.');
    char *stem = dot && dot != name ? jl_strndup(name, (size_t)(dot - name)) : jl_strdup(name);
    const char *vals[4] = {stem, name, dir, node};

    size_t cap = strlen(tpl) + 64, n = 0;
    char *out = jl_malloc(cap);
    for (const char *p = tpl; *p;) {
        const char *add = p;
        size_t len = 1;
        if (*p == '{') {
            const char *e = strchr(p, '}');
            for (size_t i = 0; e && i < 4; i++)
                if ((size_t)(e - p - 1) == strlen(vars[i]) && !strncmp(p + 1, vars[i], strlen(vars[i]))) {
                    add = vals[i];
                    len = strlen(vals[i]);
                    p = e;
                    break;
                }
        }
        p++;
        if (n + len + 1 > cap)
            out = jl_realloc(out, cap = 2 * (n + len + 1));
        memcpy(out + n, add, len);
        n += len;
    }
    out[n] = '\0';
    free(stem);
    free(dir);
    if (out[0] != '/' && out_dir && *out_dir && strcmp(out_dir, ".")) {
        char *full = jl_printf("%s/%s", out_dir, out);
        free(out);
        out = full;
    }
    return out;
}

int jl_path_per_input(const char *tpl)
{
    for (size_t i = 0; i < 3; i++) { /* vars[3] is {node}: the same for every input */
        char var[16];
        snprintf(var, sizeof var, "{%s}", vars[i]);
        if (strstr(tpl, var))
            return 1;
    }
    return 0;
}

char *jl_path_tag(const char *path, const char *tag)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) /* no extension ("table", ".hidden"): at the end */
        return jl_printf("%s.%s", path, tag);
    return jl_printf("%.*s.%s%s", (int)(dot - path), path, tag, dot);
}
