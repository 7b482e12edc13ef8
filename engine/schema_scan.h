/*
 * schema_scan — the fast answer to "does this value conform?": one pass
 * over the bytes against the definition tree, building nothing.
 *
 * It answers only "yes, certainly": the value is JSON that jansson reads
 * (json_loadb, flags 0) and that the tree walk of schema_validate.c finds
 * no violation in. Anything it does not decide cheaply (a violation, an
 * escape in a key or in an enum string, an exponent, an integer of more
 * than 18 digits, nesting deeper than SCHEMA_SCAN_DEPTH_MAX, an enum on a
 * value that is not a string, ...) is "cannot say", and the caller runs
 * the full validator, which alone words violations. So this file never
 * decides a refusal: it can only make conforming events cheap, and the
 * validate_event fuzzer checks that it never says yes where the full
 * validator reports anything.
 */
#ifndef SIGLOG_SCHEMA_SCAN_H
#define SIGLOG_SCHEMA_SCAN_H

#include <stddef.h>

#include "schema_def.h"

#define SCHEMA_SCAN_DEPTH_MAX 64

/* 1: value[0..len) is JSON conforming to d. 0: cannot say. Thread-safe. */
int sl_schema_scan_conforms(const schema_def *d, const void *value, size_t len);

#endif
