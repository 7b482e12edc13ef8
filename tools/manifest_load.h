/*
 * manifest_load — read back a replay manifest (FORMAT.md §22) written by
 * `siglog replay --manifest`: what `replay --from-manifest` and
 * `manifest verify` need to run the same replay again and compare.
 *
 * The parse checks every member it uses (types, ranges, names); a file
 * that is not a version 2 manifest is refused with a reason.
 */
#ifndef SIGLOG_TOOLS_MANIFEST_LOAD_H
#define SIGLOG_TOOLS_MANIFEST_LOAD_H

#include "headers.h"
#include "manifest.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The recorded filters and options (manifest "options"). Strings point
 * into the loaded document. */
typedef struct manifest_options {
    uint32_t *parts; /* requested partitions; NULL: all */
    size_t nparts;
    uint64_t from_offset, to_offset, limit;
    int64_t from_time, to_time;
    int have_from_offset, have_to_offset, have_from_time, have_to_time, have_limit;
    const char *key;      /* NULL: none */
    const char *consumer; /* the consumer it read on for; NULL: none */
    uint32_t schema_version;
    int have_schema;
    header_arg headers[SIGLOG_HEADERS_MAX];
    size_t nheaders;
    int order;  /* 0 partition, 1 merge, 2 event-time */
    int format; /* 0 jsonl, 1 value, 2 binary */
    int follow, allow_gaps;
    int redact, redact_mode; /* as replay_opts has them; redact 0: none */
} manifest_options;

/* The names of the redaction levels and modes, as `replay --redact` and
 * `--redact-mode` take them and a manifest records them, indexed by enum
 * siglog_sensitivity and enum siglog_redact_mode, NULL-terminated. The
 * level "public" redacts nothing: no manifest records it. */
extern const char *const manifest_redact_levels[];
extern const char *const manifest_redact_modes[];

typedef struct manifest_spec {
    json_t *doc; /* owns every string below */
    uint64_t store_id;
    const char *store; /* the store's path when it was written */
    const char **streams;
    size_t nstreams;
    manifest_options o;
    manifest_end *ends; /* every partition read, sorted by stream, partition */
    size_t nends;
    manifest_range *ranges; /* partitions with events, sorted likewise */
    size_t nranges;
    uint64_t events;
    char digest[MANIFEST_DIGEST_HEX];
} manifest_spec;

/* Parse text[0..len). Returns 0, or -1 with the reason in err (and
 * nothing to free). */
int manifest_load(const char *text, size_t len, manifest_spec *out, char *err, size_t errlen);
void manifest_spec_free(manifest_spec *m);

#endif
