/* jsonl.c — the JSON Lines sink: one JSON object per row,
 *
 *   {"time":1.25,"cadence":112.4,"step_time_mean":0.534}
 *
 * "time" first (t0 + row / rate for signals and frames, the row's own time
 * for events), then one member per column, named as the stream's columns.
 * Values are float32 printed with 9 significant digits (they read back to
 * the same float), times with 12; NaN and infinities, which JSON lacks,
 * are written as null.
 *
 * The file is written under a temporary name and renamed into place only
 * when the whole job has succeeded (see util.h, "output files"). A path
 * that names no part of the input ("all.jsonl") gathers every input's
 * rows into one file, each with a "file" member first (jsonl_gather). */
#include <joule/plugin.h>

#include "numtext.h"
#include <joule/plugin-util.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const joule_param params[] = {
    {"path", JOULE_PARAM_STRING, JOULE_PARAM_OUT_PATH, "{stem}.{node}.jsonl", 0, 0, NULL, "",
     "Output file. {stem} {name} {dir} {node} are replaced per input; a relative path goes in the output "
     "folder (-o)."},
    {"time", JOULE_PARAM_BOOL, 0, "true", 0, 0, NULL, "", "Write the \"time\" member (seconds) first."},
};

static const joule_port inputs[] = {
    {"in", JOULE_SIGNAL | JOULE_FRAMES | JOULE_EVENTS, 0, "any stream (frames and events are the usual)"},
};

typedef struct jsonl {
    const joule_host *host;
    jp_outfile file;
    joule_format fmt;
    int time;
    char **keys;  /* per column: "\"name\":" escaped */
    char *line;
    size_t line_cap;
} jsonl;

/* The length of the valid UTF-8 sequence at s, or 0 when it is not one
 * (a stray byte, an overlong form, a surrogate, past U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* "name": as a JSON string and a colon. Column names are plain ASCII;
 * input names are whatever the file system holds: a byte that is not
 * UTF-8 becomes U+FFFD, so that every line stays valid JSON. */
static char *json_key(const char *name)
{
    size_t n = strlen(name);
    char *k = malloc(6 * n + 4);
    if (!k)
        return NULL;
    char *p = k;
    *p++ = '"';
    for (const unsigned char *s = (const unsigned char *)name; *s;) {
        size_t len = utf8_len(s);
        if (*s == '"' || *s == '\\') {
            *p++ = '\\';
            *p++ = (char)*s++;
        } else if (*s < 0x20) {
            p += sprintf(p, "\\u%04x", *s++);
        } else if (len == 0) {
            memcpy(p, "\\ufffd", 6);
            p += 6;
            s++;
        } else {
            memcpy(p, s, len);
            p += len;
            s += len;
        }
    }
    *p++ = '"';
    *p++ = ':';
    *p = '\0';
    return k;
}

static int jsonl_open(const joule_open_args *a, void **self)
{
    const joule_host *h = a->host;
    jsonl *j = calloc(1, sizeof *j);
    if (!j) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    *self = j;
    j->host = h;
    j->fmt = a->inputs[0];
    j->time = a->params[1].b;
    uint32_t nc = j->fmt.n_columns;
    j->keys = calloc(nc, sizeof *j->keys);
    if (!j->keys) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    size_t keylen = 0;
    for (uint32_t c = 0; c < nc; c++) {
        j->keys[c] = json_key(j->fmt.names[c]);
        if (!j->keys[c]) {
            h->error(h, "out of memory");
            return JOULE_ERROR;
        }
        keylen += strlen(j->keys[c]);
    }
    j->line_cap = keylen + ((size_t)nc + 1) * 28 + 16;
    j->line = malloc(j->line_cap);
    if (!j->line) {
        h->error(h, "out of memory");
        return JOULE_ERROR;
    }
    if (jp_outfile_open(&j->file, a->params[0].s, h, 1 << 18))
        return JOULE_ERROR;
    return JOULE_OK;
}

static size_t put_num(char *p, double v, int digits)
{
    if (!isfinite(v)) {
        memcpy(p, "null", 4);
        return 4;
    }
    if (v == 0) {
        *p = '0';
        return 1;
    }
    return (size_t)sprintf(p, "%.*g", digits, v);
}

/* A value: 9 significant digits, the fewest that read back as the same
 * float, converted without printf (numtext.h). */
static size_t put_value(char *p, float v)
{
    if (!isfinite(v) || v == 0)
        return put_num(p, v, 9);
    return jp_put_float(p, v, 9);
}

static int jsonl_process(void *self, uint32_t port, const joule_buffer *in, joule_buffer *out)
{
    (void)port;
    (void)out;
    jsonl *j = self;
    const uint32_t nc = in->n_columns;
    FILE *f = j->file.f;
    for (uint32_t r = 0; r < in->n_rows; r++) {
        char *p = j->line;
        *p++ = '{';
        int first = 1;
        if (j->time) {
            double t = in->times ? in->times[r] : j->fmt.t0 + (double)(in->first_row + r) / j->fmt.rate;
            memcpy(p, "\"time\":", 7);
            p += 7;
            p += put_num(p, t, 12);
            first = 0;
        }
        const float *row = in->data + (size_t)r * nc;
        for (uint32_t c = 0; c < nc; c++) {
            if (!first)
                *p++ = ',';
            first = 0;
            size_t kl = strlen(j->keys[c]);
            memcpy(p, j->keys[c], kl);
            p += kl;
            p += put_value(p, row[c]);
        }
        *p++ = '}';
        *p++ = '\n';
        fwrite(j->line, 1, (size_t)(p - j->line), f);
    }
    if (ferror(f)) {
        j->host->error(j->host, "%s: write failed: %s", j->file.path, strerror(errno ? errno : EIO));
        return JOULE_ERROR;
    }
    return JOULE_OK;
}

static int jsonl_finish(void *self, joule_buffer *out)
{
    (void)out;
    jsonl *j = self;
    return jp_outfile_finish(&j->file, j->host) ? JOULE_ERROR : JOULE_END;
}

static void jsonl_close(void *self)
{
    jsonl *j = self;
    if (!j)
        return;
    jp_outfile_discard(&j->file);
    if (j->keys)
        for (uint32_t c = 0; c < j->fmt.n_columns; c++)
            free(j->keys[c]);
    free(j->keys);
    free(j->line);
    free(j);
}

/* One file for the run (a path naming no part of the input): each line
 * of each input's part, with the input first, under "file" (or, when the
 * stream has a column of that name, the first of "input", "input_file",
 * "joule_input" it does not have: a repeated key would lose one). Parts
 * are read one at a time. */
static int jsonl_gather(const joule_gather_args *a)
{
    const joule_host *h = a->host;
    const char *path = a->params[a->param].s;
    int rc = JOULE_OK;
    char *line = NULL;
    size_t cap = 0;
    /* the key: a name no part's rows use (a row's first line has them all) */
    static const char *const keys[] = {"file", "input", "input_file", "joule_input"};
    int taken[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; i < a->n_parts && rc == JOULE_OK; i++) {
        int fd = a->open_part(a, i);
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (!f) {
            if (fd >= 0) {
                h->error(h, "cannot read the part for %s: %s", a->labels[i], strerror(errno));
                close(fd);
            }
            rc = JOULE_ERROR;
            break;
        }
        if (getline(&line, &cap, f) > 0)
            for (size_t k = 0; k < 4; k++) {
                char quoted[32];
                snprintf(quoted, sizeof quoted, "\"%s\":", keys[k]);
                taken[k] |= strstr(line, quoted) != NULL;
            }
        fclose(f);
    }
    size_t key = 0;
    while (key < 3 && taken[key])
        key++;
    int dup_fd = rc == JOULE_OK ? dup(a->out) : -1;
    FILE *out = dup_fd >= 0 ? fdopen(dup_fd, "w") : NULL;
    if (rc == JOULE_OK && !out) {
        if (dup_fd >= 0)
            close(dup_fd);
        h->error(h, "%s: cannot write: %s", path, strerror(errno));
        rc = JOULE_ERROR;
    }
    if (out)
        setvbuf(out, NULL, _IOFBF, 1 << 16);
    for (uint32_t i = 0; i < a->n_parts && rc == JOULE_OK; i++) {
        char *label = json_key(a->labels[i]); /* escaped the same way as a name */
        int fd = label ? a->open_part(a, i) : -1;
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (!f) {
            if (!label)
                h->error(h, "out of memory");
            else if (fd >= 0) {
                h->error(h, "cannot read the part for %s: %s", a->labels[i], strerror(errno));
                close(fd);
            }
            free(label);
            rc = JOULE_ERROR;
            break;
        }
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            if (line[0] != '{') {
                h->error(h, "%s: the part for %s holds a line that is not an object", path, a->labels[i]);
                rc = JOULE_ERROR;
                break;
            }
            fprintf(out, "{\"%s\":", keys[key]);
            fwrite(label, 1, strlen(label) - 1, out); /* json_key ends in ':' */
            if (len > 1 && line[1] != '}')
                fputc(',', out);
            fwrite(line + 1, 1, (size_t)len - 1, out);
        }
        if (rc == JOULE_OK && ferror(f)) {
            h->error(h, "cannot read the part for %s: %s", a->labels[i], strerror(errno));
            rc = JOULE_ERROR;
        }
        fclose(f);
        free(label);
    }
    free(line);
    if (out) {
        int bad = fflush(out) != 0 || ferror(out);
        int err = errno;
        bad |= fclose(out) != 0;
        if (bad && rc == JOULE_OK) {
            h->error(h, "%s: write failed: %s", path, strerror(err ? err : EIO));
            rc = JOULE_ERROR;
        }
    }
    return rc;
}

static const joule_descriptor desc = {
    .abi_version = JOULE_ABI_VERSION,
    .struct_size = sizeof(joule_descriptor),
    .name = "jsonl",
    .version = "1.0.0",
    .summary = "write any stream as JSON Lines: one object per row, a \"time\" member and the columns",
    .role = JOULE_ROLE_SINK,
    .n_params = sizeof params / sizeof params[0],
    .params = params,
    .n_inputs = 1,
    .inputs = inputs,
    .open = jsonl_open,
    .process = jsonl_process,
    .finish = jsonl_finish,
    .close = jsonl_close,
    .flags = 0,
    .gather = jsonl_gather,
    .maker = "The joule developers",
    .license = "MIT",
    .description = "Writes the stream it receives as JSON Lines: one object per row with a \"time\" member and one "
                   "member per column; infinities and NaN are written as null. With a path that names no part of the "
                   "input it gathers one file for the whole run, each object led by a \"file\" member.",
};

JOULE_PLUGIN_EXPORT const joule_descriptor *joule_plugin_entry(uint32_t host_abi, uint32_t index)
{
    (void)host_abi;
    return index == 0 ? &desc : NULL;
}
