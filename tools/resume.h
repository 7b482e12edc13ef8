/*
 * resume — where `replay --consumer NAME` starts and what it commits: a
 * consumer's committed offsets read through the public API, and the
 * progress of a replay committed back once it ended cleanly.
 */
#ifndef SIGLOG_RESUME_H
#define SIGLOG_RESUME_H

#include "siglog.h"

#include <stdint.h>

/* Consumer `name`'s next offset in each of the stream's `partitions`
 * partitions into next[] (0 where it committed none, or when there is
 * no such consumer: a new consumer reads from the log's start), and
 * whether it exists into *found. 0, or the library's error code (the
 * detail names the consumers file). */
int resume_load(siglog_stream *st, const char *name, uint32_t partitions, uint64_t *next, int *found);

/* Whether name is spelled as a consumer's (as a stream's: 1..128 bytes
 * of [A-Za-z0-9._-], not starting with '.'), so a replay refuses a name
 * it could not commit under before it delivers anything. */
int resume_name_ok(const char *name);

#endif
