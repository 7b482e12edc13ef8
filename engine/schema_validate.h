/*
 * schema_validate — does an event's value conform to a definition?
 *
 * A value the one-pass scan (schema_scan.h) finds conforming is done
 * with. Any other value is parsed with jansson (a value that is not JSON, or holds an
 * integer beyond 64 bits that jansson cannot hold, is one violation at
 * "$" quoting jansson's error) and walked against the definition tree
 * (schema_def.h). Each violation is reported with the JSON path of the
 * value it concerns and the reason:
 *   type      "is string, expected integer|null"
 *   enum      "is not one of [\"a\",\"b\"]"
 *   required  "is required but missing" (the path names the property)
 *   closed    "is not allowed: additionalProperties is false"
 * A JSON number with no fraction (1.0) is an integer, as in JSON Schema;
 * enum values compare numbers by value (1 equals 1.0).
 * Limits: the walk stops reporting after `max` violations (the count
 * returned stops there too); depth is bounded by the definition's.
 */
#ifndef SIGLOG_SCHEMA_VALIDATE_H
#define SIGLOG_SCHEMA_VALIDATE_H

#include <stddef.h>

#include "schema_def.h"

typedef void (*schema_violation_fn)(void *ctx, const char *path, const char *reason);

/* Validate value[0..len) against d: the number of violations (at most
 * max; 0: it conforms), each also given to fn (may be NULL) in document
 * order. max 0 means 1. Never fails: an allocation failure inside jansson
 * reads as a value that is not JSON. Thread-safe (d is read only). */
size_t sl_schema_validate(const schema_def *d, const void *value, size_t len, schema_violation_fn fn, void *ctx,
                       size_t max);

/* The same for a value already parsed. */
size_t sl_schema_validate_json(const schema_def *d, const json_t *value, schema_violation_fn fn, void *ctx, size_t max);

#endif
