/*
 * audit_ranges — which offsets the audit trail says are gone on purpose
 * (format-spec/FORMAT.md, "Audit trail" and "Recorded loss"), so that
 * verify can tell a hole the trail accounts for from damage.
 *
 * Every action that takes offsets out of a partition's log appends its
 * record, naming the stream, the partition and the offsets, before it
 * begins (audit.h): a loss (verify --accept-loss), a purge, a compaction,
 * a forget. A hole between two catalog entries is accounted for when the
 * ranges of such records of its stream and partition cover it, together
 * (a hole two accepted losses made side by side is covered by both).
 * Records of other actions, and records that name no partition or no
 * offsets, account for nothing.
 *
 * The trail is read without its key (its chain is `siglog audit
 * --verify`'s to check): only each record's structure.
 */
#ifndef SIGLOG_AUDIT_RANGES_H
#define SIGLOG_AUDIT_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

typedef struct audit_range audit_range;

typedef struct audit_ranges {
    audit_range *items;
    size_t count;
} audit_ranges;

/* Read the trail of the store at store_dir (id store_id) into out. A
 * missing trail has no ranges. SIGLOG_ECORRUPT (naming the record and
 * byte) when it is damaged before its end. */
int sl_audit_ranges_load(const siglog_io *io, const char *store_dir, uint64_t store_id, audit_ranges *out);
void sl_audit_ranges_free(audit_ranges *r);

/* 1 when the ranges of stream's partition cover every offset of
 * [from, to), 0 otherwise. */
int sl_audit_ranges_cover(const audit_ranges *r, const char *stream, uint32_t partition, uint64_t from, uint64_t to);

#endif
