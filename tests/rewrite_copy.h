/*
 * rewrite_copy — the synthetic rewrite of the tests: copy sealed segments
 * byte for byte through the rewrite primitive (catalog.h), one new
 * segment per old one, so that every batch keeps its bytes and offsets
 * and only the files' names and the catalog's generation change.
 */
#ifndef SIGLOG_TEST_REWRITE_COPY_H
#define SIGLOG_TEST_REWRITE_COPY_H

#include <stddef.h>

#include "catalog.h"

/* Replace entries [first, first + count) of c by copies (SIGLOG_* code on
 * failure, the detail set; nothing is asserted, so a crash test may let it
 * fail anywhere). */
int rewrite_copy(catalog *c, size_t first, size_t count, const segment_params *params);

#endif
