/*
 * schema_contract — what an append checks against its stream's schema
 * versions under the stream's `contract` setting (siglog.h, enum
 * siglog_contract), and the per-version, per-path counts of nonconforming
 * events that `warn` keeps.
 *
 * An append call is checked whole before anything of it is written:
 * under warn and enforce every event must carry a registered version
 * (SIGLOG_ESCHEMA otherwise); under enforce every event must conform
 * (SIGLOG_ESCHEMA naming the event, its version, and the first paths and
 * reasons). Under warn the violations found are only collected, and
 * counted (sl_schema_contract_count) once the call has appended its events,
 * so a refused or failed call counts nothing.
 *
 * The counts live in memory, per registry (so per stream handle), from
 * open to close: SCHEMA_QUALITY_PATHS_MAX paths per version are told
 * apart, the rest count under "*". They are guarded by the registry's
 * quality_mu, which appenders take only when they have something to count.
 */
#ifndef SIGLOG_SCHEMA_CONTRACT_H
#define SIGLOG_SCHEMA_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "schema_registry.h"
#include "siglog.h"

#define SCHEMA_QUALITY_PATHS_MAX 64
#define SCHEMA_EVENT_VIOLATIONS_MAX 16 /* per event, under warn */

typedef struct schema_warning {
    uint32_t version;
    int new_event;              /* the first violation of its event */
    char path[SCHEMA_PATH_MAX];
} schema_warning;

typedef struct schema_warnings {
    schema_warning *v;
    size_t count;
    size_t cap;
} schema_warnings;

void sl_schema_warnings_free(schema_warnings *w);

/* Check events[0..n) of one append to stream `stream` under contract.
 * 0, or SIGLOG_ESCHEMA / SIGLOG_ECORRUPT (a damaged registry) /
 * SIGLOG_ENOMEM with the detail set. Under warn, w collects violations. */
int sl_schema_contract_check(schema_registry *r, int contract, const char *stream, const siglog_event *events, size_t n,
                          schema_warnings *w);

/* Count what w collected (the call appended its events). */
void sl_schema_contract_count(schema_registry *r, const schema_warnings *w);

/* The counts of one version; see siglog_schema_violations. */
int sl_schema_contract_violations(schema_registry *r, uint32_t version, uint64_t *total,
                               void (*fn)(void *ctx, const char *path, uint64_t count), void *ctx);

#endif
