/*
 * timeparse — the strict text formats the tool reads: RFC 3339 timestamps,
 * durations, byte sizes and decimal integers. All functions return 0 on
 * success and -1 on any malformed, out-of-range or overflowing input,
 * leaving *out untouched; none of them allocates, so they are safe to
 * fuzz and to call per event.
 *
 * Times are signed 64-bit microseconds since the Unix epoch (siglog.h).
 */
#ifndef SIGLOG_TIMEPARSE_H
#define SIGLOG_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal digits only (no sign, no spaces), at most UINT64_MAX. */
int timeparse_u64(const char *s, uint64_t *out);

/* RFC 3339 date-time, e.g. "2014-04-07T03:11:09.277Z",
 * "2014-04-07 05:11:09+02:00": years 0000..9999, 'T', 't' or ' ' between
 * date and time, seconds 00..60 (a leap second counts as the next second),
 * any number of fraction digits (digits beyond microseconds are dropped:
 * the result is rounded toward the past), zone 'Z', 'z' or +HH:MM/-HH:MM.
 * s need not be NUL-terminated: exactly n bytes are parsed. */
int timeparse_rfc3339(const char *s, size_t n, int64_t *us_out);

/* A time in an strftime-style pattern. Directives:
 *   %Y  year, 4 digits          %m  month, 2 digits    %b  month, Jan..Dec (any case)
 *   %d  day, 2 digits           %H  hour, 2 digits     %M  minute, 2 digits
 *   %S  second, 2 digits (60, a leap second, is the next second)
 *   %f  fraction of a second: one or more digits, as many as there are;
 *       digits beyond microseconds are dropped (toward the past)
 *   %z  zone: Z, +HH:MM, -HH:MM, +HHMM or -HHMM
 *   %F  %Y-%m-%d                %T  %H:%M:%S           %%  a '%'
 * Any other byte matches itself, and the whole of s must match. Numbers
 * are zero-padded to their width. A time the pattern gives no zone for is
 * zone_s seconds east of UTC; hours, minutes and seconds it does not name
 * are 0. The pattern must have passed timeparse_pattern_check. */
int timeparse_pattern(const char *pattern, const char *s, size_t n, int64_t zone_s, int64_t *us_out);

/* 0 when pattern names year, month and day, and no field twice, with only
 * the directives above; *has_zone says whether it has %z. */
int timeparse_pattern_check(const char *pattern, int *has_zone);

/* A zone for times without one: UTC, Z, or +HH:MM, -HH:MM, +HHMM, -HHMM;
 * *zone_s gets seconds east of UTC. */
int timeparse_zone(const char *s, int64_t *zone_s);

/* A time operand: RFC 3339, or an integer (optionally negative) of units
 * of unit_us microseconds since the epoch. unit_us 0 means no unit was
 * given: then an integer is refused — it could be seconds as well as
 * microseconds — except 0, the epoch in every unit. */
int timeparse_time_arg(const char *s, int64_t unit_us, int64_t *us_out);

/* Whether s has the form of an integer time operand (an optional '-' and
 * digits), so a refusal can say that a unit is missing. */
int timeparse_is_integer(const char *s);

/* A duration: "0", or a decimal number with a unit: us, ms, s, m, h, d
 * ("100ms", "1.5h", "7d"). Result in microseconds. */
int timeparse_duration_us(const char *s, uint64_t *us_out);

/* A byte size: an integer with an optional suffix: B; K, M, G, T or KiB,
 * MiB, GiB, TiB (powers of 1024); KB, MB, GB, TB (powers of 1000). */
int timeparse_size_bytes(const char *s, uint64_t *out);

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (27 bytes + NUL; the buffer has room
 * to spare for the compiler's format checks); times outside years
 * 0000..9999 are written as their microsecond integer. */
#define TIMEPARSE_RFC3339_MAX 64
void timeparse_format(int64_t us, char buf[TIMEPARSE_RFC3339_MAX]);

#endif
