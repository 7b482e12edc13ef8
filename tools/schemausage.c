/*
 * schemausage — see schemausage.h.
 */
#include "schemausage.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "output.h"
#include "timeparse.h"

typedef struct collecting {
    schemausage *u;
    uint32_t version;
} collecting;

static int add_one(void *ctx, const siglog_schema_usage *x)
{
    collecting *c = ctx;
    if (c->version != UINT32_MAX && x->version != c->version)
        return 0;
    siglog_schema_usage *v = realloc(c->u->v, (c->u->n + 1) * sizeof *v);
    if (!v)
        return SIGLOG_ENOMEM;
    c->u->v = v;
    v[c->u->n++] = *x;
    return 0;
}

int schemausage_collect(siglog_stream *st, uint32_t partition, uint32_t version, schemausage *out)
{
    *out = (schemausage){ 0 };
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    collecting ctx = { out, version };
    int rc = 0;
    for (uint32_t p = partition == UINT32_MAX ? 0 : partition; !rc && p < c.partitions; p++) {
        rc = siglog_schema_usage_foreach(st, p, add_one, &ctx);
        if (partition != UINT32_MAX)
            break;
    }
    if (rc)
        schemausage_free(out);
    return rc;
}

void schemausage_free(schemausage *u)
{
    free(u->v);
    *u = (schemausage){ 0 };
}

json_t *schemausage_json(const siglog_schema_usage *u)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "partition", (json_int_t)u->partition, "version",
                     (json_int_t)u->version, "first_offset", (json_int_t)u->first_offset, "last_offset",
                     (json_int_t)u->last_offset, "first_time_us", (json_int_t)u->min_timestamp_us, "last_time_us",
                     (json_int_t)u->max_timestamp_us, "events", (json_int_t)u->count, "nonconforming",
                     (json_int_t)u->nonconforming);
}

void schemausage_text(const siglog_schema_usage *u, const char *indent, int with_partition)
{
    char first[TIMEPARSE_RFC3339_MAX], last[TIMEPARSE_RFC3339_MAX], line[512], part[32] = "";
    timeparse_format(u->min_timestamp_us, first);
    timeparse_format(u->max_timestamp_us, last);
    if (with_partition)
        snprintf(part, sizeof part, "partition %" PRIu32 " ", u->partition);
    snprintf(line, sizeof line,
             "%s%sv%" PRIu32 " offsets %" PRIu64 "..%" PRIu64 " events %" PRIu64 " nonconforming %" PRIu64
             " time %s .. %s\n",
             indent, part, u->version, u->first_offset, u->last_offset, u->count, u->nonconforming, first, last);
    out_puts(line);
}
