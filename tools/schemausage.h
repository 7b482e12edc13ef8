/*
 * schemausage — how `stat` and `schema list` show a stream's schema usage
 * (siglog_schema_usage_foreach), in text and JSON, so the two agree.
 */
#ifndef SIGLOG_SCHEMAUSAGE_H
#define SIGLOG_SCHEMAUSAGE_H

#include <jansson.h>
#include <stdint.h>

#include "siglog.h"

/* Every partition's figures for version (UINT32_MAX: every version),
 * ascending by partition, then version. */
typedef struct schemausage {
    siglog_schema_usage *v;
    size_t n;
} schemausage;

/* Collect partition `partition` (UINT32_MAX: every partition) of st. 0 or
 * the library's error (detail set). */
int schemausage_collect(siglog_stream *st, uint32_t partition, uint32_t version, schemausage *out);
void schemausage_free(schemausage *u);

/* {"partition", "version", "first_offset", "last_offset",
 * "first_time_us", "last_time_us" (earliest and latest event time),
 * "events", "nonconforming"}; NULL when out of memory. */
json_t *schemausage_json(const siglog_schema_usage *u);
/* One line, "<indent>v<version> offsets A..B events N nonconforming K
 * time T1 .. T2" (with the partition first when with_partition). */
void schemausage_text(const siglog_schema_usage *u, const char *indent, int with_partition);

#endif
