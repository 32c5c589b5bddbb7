/* report.c — run statistics: latency histograms, the --stats table and the
 * --report JSON (schema: doc/report.md). */
#include "config.h"

#include "outputs.h"
#include "param.h"
#include "report.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void jl_stats_latency(jl_node_stats *s, double t)
{
    int b = t <= JL_LAT_MIN ? 0 : (int)(log(t / JL_LAT_MIN) / log(JL_LAT_STEP));
    if (b < 0)
        b = 0;
    if (b >= JL_LAT_BUCKETS)
        b = JL_LAT_BUCKETS - 1;
    s->lat_hist[b]++;
    if (t > s->lat_max)
        s->lat_max = t;
}

double jl_stats_quantile(const jl_node_stats *s, double q)
{
    uint64_t total = 0;
    for (int b = 0; b < JL_LAT_BUCKETS; b++)
        total += s->lat_hist[b];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
    if (want < 1)
        want = 1;
    for (int b = 0; b < JL_LAT_BUCKETS; b++) {
        seen += s->lat_hist[b];
        if (seen >= want) {
            /* the bucket's geometric middle, never above the true maximum */
            double v = JL_LAT_MIN * pow(JL_LAT_STEP, b + 0.5);
            return v < s->lat_max ? v : s->lat_max;
        }
    }
    return s->lat_max;
}

void jl_stats_merge(jl_node_stats *a, const jl_node_stats *b)
{
    a->rows_in += b->rows_in;
    a->rows_out += b->rows_out;
    a->calls += b->calls;
    a->busy += b->busy;
    if (b->lat_max > a->lat_max)
        a->lat_max = b->lat_max;
    for (int i = 0; i < JL_LAT_BUCKETS; i++)
        a->lat_hist[i] += b->lat_hist[i];
    if (b->queue_high_water > a->queue_high_water)
        a->queue_high_water = b->queue_high_water;
    a->ran += b->ran;
    a->replayed += b->replayed;
    a->skipped += b->skipped;
    a->current += b->current;
}

void jl_cache_figures_merge(jl_cache_figures *a, const jl_cache_figures *b)
{
    a->enabled |= b->enabled;
    a->hits += b->hits;
    a->memory_hits += b->memory_hits;
    a->misses += b->misses;
    a->expired += b->expired;
    a->corrupt += b->corrupt;
    a->evicted += b->evicted;
    a->too_large += b->too_large;
    a->bytes_read += b->bytes_read;
    a->bytes_written += b->bytes_written;
    a->digest_bytes += b->digest_bytes;
    a->time_saved += b->time_saved;
    a->lookups += b->lookups;
    a->lookup_p50 = b->lookup_p50 > a->lookup_p50 ? b->lookup_p50 : a->lookup_p50;
    a->lookup_p95 = b->lookup_p95 > a->lookup_p95 ? b->lookup_p95 : a->lookup_p95;
    a->lookup_p99 = b->lookup_p99 > a->lookup_p99 ? b->lookup_p99 : a->lookup_p99;
}

int joule_report_print(const joule_report *r, void *file)
{
    FILE *f = file;
    char b1[32], b2[32], b3[32];
    if (r->processes > 0)
        fprintf(f, "%d processes, %d threads each at most\n", r->processes, r->threads);
    if (r->shard_count > 1)
        fprintf(f, "shard %u of %u: %zu of the %zu inputs given\n", r->shard_index + 1, r->shard_count, r->n_inputs,
                r->inputs_given);
    fprintf(f, "%-16s %-10s %12s %12s %8s %10s %10s %10s %10s %5s  %s\n", "node", "plugin", "rows in", "rows out",
            "calls", "busy s", "p50 ms", "p95 ms", "max ms", "queue", "ran/replayed/skipped/current");
    for (size_t i = 0; i < r->n_nodes; i++) {
        const jl_node_stats *s = &r->nodes[i];
        fprintf(f, "%-16s %-10s %12llu %12llu %8llu %10.3f %10.3f %10.3f %10.3f %5zu  %llu/%llu/%llu/%llu\n", s->name,
                s->plugin, (unsigned long long)s->rows_in, (unsigned long long)s->rows_out,
                (unsigned long long)s->calls, s->busy, 1e3 * jl_stats_quantile(s, 0.5),
                1e3 * jl_stats_quantile(s, 0.95), 1e3 * s->lat_max, s->queue_high_water, (unsigned long long)s->ran,
                (unsigned long long)s->replayed, (unsigned long long)s->skipped, (unsigned long long)s->current);
    }
    const jl_cache_figures *c = &r->cache;
    if (c->enabled)
        fprintf(f, "cache: %llu hit%s (%llu from memory), %llu miss%s, %llu expired, %llu corrupt, %llu evicted, %llu too large; "
                   "read %s, wrote %s, %.3f s saved; lookup p50 %.3f ms, p95 %.3f ms, p99 %.3f ms\n",
                (unsigned long long)c->hits, c->hits == 1 ? "" : "s", (unsigned long long)c->memory_hits,
                (unsigned long long)c->misses,
                c->misses == 1 ? "" : "es", (unsigned long long)c->expired, (unsigned long long)c->corrupt,
                (unsigned long long)c->evicted, (unsigned long long)c->too_large,
                jl_format_size(c->bytes_read, b1, sizeof b1), jl_format_size(c->bytes_written, b2, sizeof b2),
                c->time_saved, 1e3 * c->lookup_p50, 1e3 * c->lookup_p95, 1e3 * c->lookup_p99);
    else
        fprintf(f, "cache: off\n");
    double audio = 0, busy = 0;
    size_t timed = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        if (r->inputs[i].state == JL_SLOT_OK && r->inputs[i].duration > 0) {
            audio += r->inputs[i].duration;
            busy += r->inputs[i].wall;
            timed++;
        }
    if (timed && r->wall > 0)
        fprintf(f, "signal: %.3f s in %zu input%s, %.1f× real time over the run (%.1f× per input on average)\n",
                audio, timed, timed == 1 ? "" : "s", audio / r->wall, busy > 0 ? audio / busy : 0.0);
    fprintf(f, "wall %.3f s, %d thread%s, chunk %zu rows, peak RSS %s, pool high water %s of %s, files %zu done, "
               "%zu failed\n",
            r->wall, r->threads, r->threads == 1 ? "" : "s", r->chunk_rows, jl_format_size(r->peak_rss, b1, sizeof b1),
            jl_format_size(r->pool_high_water, b2, sizeof b2), jl_format_size(r->pool_budget, b3, sizeof b3),
            r->files_done, r->files_failed);
    return ferror(f) ? JOULE_E_IO : 0;
}

/* The length of the valid UTF-8 sequence at s, or 0 when it is not one. */
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

/* A JSON string. File names are whatever the file system holds: a byte
 * that is not UTF-8 is written as U+FFFD, so that the report stays JSON. */
static void json_str(FILE *f, const char *str)
{
    fputc('"', f);
    for (const unsigned char *s = (const unsigned char *)str; *s;) {
        size_t len = utf8_len(s);
        if (*s == '"' || *s == '\\') {
            fprintf(f, "\\%c", *s++);
        } else if (*s < 0x20) {
            fprintf(f, "\\u%04x", *s++);
        } else if (!len) {
            fputs("\\ufffd", f);
            s++;
        } else {
            fwrite(s, 1, len, f);
            s += len;
        }
    }
    fputc('"', f);
}

int joule_report_write_json(const joule_report *r, const char *path)
{
    /* like any output: an exclusive temporary, placed only when complete */
    char *tmp = NULL, *msg = NULL;
    int fd = jl_tmp_create(path, &tmp, &msg);
    free(msg);
    if (fd < 0)
        return JOULE_E_IO;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int err = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        errno = err;
        return JOULE_E_IO;
    }
    fprintf(f, "{\n  \"version\": 1,\n  \"wall_s\": %.6f,\n  \"threads\": %d,\n  \"chunk_rows\": %zu,\n", r->wall,
            r->threads, r->chunk_rows);
    fprintf(f, "  \"peak_rss_bytes\": %zu,\n  \"pool\": {\"budget_bytes\": %zu, \"high_water_bytes\": %zu, "
               "\"allocated_bytes\": %zu},\n",
            r->peak_rss, r->pool_budget, r->pool_high_water, r->pool_allocated);
    if (r->processes > 0)
        fprintf(f, "  \"processes\": %d,\n", r->processes);
    if (r->shard_count > 1)
        fprintf(f, "  \"shard\": {\"index\": %u, \"count\": %u, \"inputs_given\": %zu},\n", r->shard_index + 1,
                r->shard_count, r->inputs_given);
    fprintf(f, "  \"files\": {\"done\": %zu, \"failed\": %zu, \"bytes_read\": %llu},\n  \"nodes\": [\n",
            r->files_done, r->files_failed, (unsigned long long)r->bytes_read);
    for (size_t i = 0; i < r->n_nodes; i++) {
        const jl_node_stats *s = &r->nodes[i];
        fprintf(f, "    {\"name\": ");
        json_str(f, s->name);
        fprintf(f, ", \"plugin\": ");
        json_str(f, s->plugin);
        fprintf(f,
                ", \"rows_in\": %llu, \"rows_out\": %llu, \"calls\": %llu, \"busy_s\": %.6f, "
                "\"latency_s\": {\"p50\": %.9f, \"p95\": %.9f, \"max\": %.9f}, \"queue_high_water\": %zu, "
                "\"jobs\": {\"ran\": %llu, \"replayed\": %llu, \"skipped\": %llu, \"current\": %llu}}%s\n",
                (unsigned long long)s->rows_in, (unsigned long long)s->rows_out, (unsigned long long)s->calls,
                s->busy, jl_stats_quantile(s, 0.5), jl_stats_quantile(s, 0.95), s->lat_max, s->queue_high_water,
                (unsigned long long)s->ran, (unsigned long long)s->replayed, (unsigned long long)s->skipped,
                (unsigned long long)s->current, i + 1 < r->n_nodes ? "," : "");
    }
    const jl_cache_figures *c = &r->cache;
    fprintf(f,
            "  ],\n  \"cache\": {\"enabled\": %s, \"hits\": %llu, \"memory_hits\": %llu, \"misses\": %llu, "
            "\"expired\": %llu, "
            "\"corrupt\": %llu, \"evicted\": %llu, \"too_large\": %llu, \"bytes_read\": %llu, "
            "\"bytes_written\": %llu, \"digest_bytes\": %llu, \"time_saved_s\": %.6f, \"lookups\": %llu, "
            "\"lookup_s\": {\"p50\": %.9f, \"p95\": %.9f, \"p99\": %.9f}},\n",
            c->enabled ? "true" : "false", (unsigned long long)c->hits, (unsigned long long)c->memory_hits,
            (unsigned long long)c->misses,
            (unsigned long long)c->expired, (unsigned long long)c->corrupt, (unsigned long long)c->evicted,
            (unsigned long long)c->too_large, (unsigned long long)c->bytes_read,
            (unsigned long long)c->bytes_written, (unsigned long long)c->digest_bytes, c->time_saved,
            (unsigned long long)c->lookups, c->lookup_p50, c->lookup_p95, c->lookup_p99);
    fprintf(f, "  \"inputs\": [\n");
    for (size_t i = 0; i < r->n_inputs; i++) {
        const jl_input_stats *in = &r->inputs[i];
        static const char *const states[] = {"not run", "not run", "ok", "failed", "interrupted"};
        fprintf(f, "    {\"file\": ");
        json_str(f, in->file);
        fprintf(f, ", \"status\": \"%s\", \"wall_s\": %.6f", states[in->state < 0 || in->state > 4 ? 0 : in->state],
                in->wall);
        if (in->duration >= 0)
            fprintf(f, ", \"duration_s\": %.6f, \"rtf\": %.6g", in->duration,
                    in->duration > 0 ? in->wall / in->duration : 0.0);
        else
            fprintf(f, ", \"duration_s\": null, \"rtf\": null");
        if (in->error) {
            fprintf(f, ", \"error\": ");
            json_str(f, in->error);
        }
        if (in->where) {
            fprintf(f, ", \"where\": ");
            json_str(f, in->where);
        }
        fprintf(f, "}%s\n", i + 1 < r->n_inputs ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    int bad = ferror(f);
    int err = errno;
    bad |= fclose(f) != 0;
    if (!bad)
        err = errno;
    jl_outfile o = {(char *)path, tmp, 0, 0, 0};
    if (bad) {
        jl_outputs_discard(&o, 1);
        errno = err ? err : EIO;
        return JOULE_E_IO;
    }
    if (jl_outputs_place(&o, 1, &msg)) {
        free(msg);
        return JOULE_E_IO;
    }
    return 0;
}

void joule_report_free(joule_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_nodes; i++) {
        free(r->nodes[i].name);
        free(r->nodes[i].plugin);
    }
    free(r->nodes);
    for (size_t i = 0; i < r->n_inputs; i++) {
        free(r->inputs[i].file);
        free(r->inputs[i].error);
        free(r->inputs[i].where);
    }
    free(r->inputs);
    free(r);
}
