/*
 * zonename — local times in an IANA time zone ("Europe/Berlin") to UTC,
 * for `siglog append --time-zone`.
 *
 * The C library converts local times only in the process's own zone (TZ),
 * global state that tzset() reads: so this is for the tool, which is
 * single-threaded and reads no other local time, and never for the
 * library. A wall-clock time that the zone skips (clocks forward) or
 * shows twice (clocks back) has no single UTC time: it is refused rather
 * than guessed.
 */
#ifndef SIGLOG_ZONENAME_H
#define SIGLOG_ZONENAME_H

#include <stdint.h>

/* Make name the process's zone. -1 unless name is a relative path without
 * ".." to a regular file under the zone directory ($TZDIR, else
 * /usr/share/zoneinfo). */
int zonename_select(const char *name);

/* UTC microseconds of local_us, a wall-clock time in the selected zone
 * counted as if it were UTC. -1 when the zone skips that time or shows it
 * twice, or it is outside the years 0000..9999. */
int zonename_to_utc(int64_t local_us, int64_t *utc_us);

#endif
