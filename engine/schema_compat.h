/*
 * schema_compat — may a new schema version follow the ones before it?
 *
 * The modes mean what Confluent Schema Registry makes them mean:
 *   backward  a consumer using the new definition reads every event
 *             written under the latest earlier one;
 *   forward   a consumer using the latest earlier definition reads every
 *             event written under the new one;
 *   full      both;
 *   *_transitive  the same against every earlier version, not the latest;
 *   none      no check.
 *
 * "Reads" is decided on the definitions alone: every event the writer's
 * definition admits must be admitted by the reader's. Property by
 * property (the writer is taken to emit only the properties it declares,
 * plus any when its additionalProperties is open, so adding or removing
 * an optional property is the change the modes are built around):
 *   - types: the writer's types must be among the reader's ("number"
 *     admits integers, so integer -> number widens, number -> integer
 *     narrows);
 *   - enum: a reader with an enum needs every value of the writer's enum
 *     (a writer without one breaks it);
 *   - required: a property the reader requires must be required by the
 *     writer;
 *   - a property the writer declares and the reader does not must be
 *     admitted by the reader's additionalProperties (false refuses it);
 *     a property the reader declares and the writer does not is checked
 *     against the writer's additionalProperties schema, when it has one;
 *   - additionalProperties: an open writer and a closed reader break;
 *   - nested objects and array items: the same, recursively.
 * Each break is one reason: the JSON path in the event, the type there
 * under the old and under the new definition, and what breaks. Every
 * reason is listed, not only the first (up to SCHEMA_REASONS_MAX).
 */
#ifndef SIGLOG_SCHEMA_COMPAT_H
#define SIGLOG_SCHEMA_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#include "schema_def.h"

enum schema_compat_mode {
    SCHEMA_COMPAT_NONE = 0,
    SCHEMA_COMPAT_BACKWARD = 1,
    SCHEMA_COMPAT_FORWARD = 2,
    SCHEMA_COMPAT_FULL = 3,
    SCHEMA_COMPAT_BACKWARD_TRANSITIVE = 4,
    SCHEMA_COMPAT_FORWARD_TRANSITIVE = 5,
    SCHEMA_COMPAT_FULL_TRANSITIVE = 6,
};
#define SCHEMA_COMPAT_MODES 7

/* "none", "backward", ..., "full_transitive"; "?" out of range. */
const char *sl_schema_compat_name(int mode);
/* The mode named name, or -1. */
int sl_schema_compat_parse(const char *name);
/* Whether mode checks against every earlier version, not only the latest. */
int sl_schema_compat_transitive(int mode);

#define SCHEMA_REASONS_MAX 256
#define SCHEMA_TYPE_TEXT_MAX 96

typedef struct schema_reason {
    uint32_t against;                   /* the earlier version it concerns */
    char path[SCHEMA_PATH_MAX];         /* in the event, e.g. $.user.id */
    char old_type[SCHEMA_TYPE_TEXT_MAX]; /* under the earlier version, e.g.
                                         * "required string", "absent" */
    char new_type[SCHEMA_TYPE_TEXT_MAX];
    char what[256];                     /* what breaks, in words */
} schema_reason;

typedef struct schema_reasons {
    schema_reason *v;
    size_t count;
    size_t cap;
    size_t dropped; /* reasons beyond SCHEMA_REASONS_MAX, counted only */
} schema_reasons;

void sl_schema_reasons_free(schema_reasons *r);

/* Check new_def, about to follow old_def (version old_version), under one
 * non-transitive mode (backward, forward or full; none adds nothing).
 * Appends a reason per break to out. Returns 0 or SIGLOG_ENOMEM. */
int sl_schema_compat_check(const schema_def *old_def, uint32_t old_version, const schema_def *new_def, int mode,
                        schema_reasons *out);

#endif
