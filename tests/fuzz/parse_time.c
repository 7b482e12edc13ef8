/*
 * parse_time: feed arbitrary text to every parser of tools/timeparse.c
 * (decimal integers, RFC 3339 times, time operands, durations, sizes) and
 * check what each accepts against an independent reading: a number parsed
 * must be what strtoull says, and a value parsed must survive a round trip
 * through text — timeparse_format for times, "<n>us" for durations, "<n>"
 * for sizes — back to the very same value.
 *
 * An input holding a NUL is also read as PATTERN NUL TEXT: a time that
 * timeparse_pattern reads from TEXT, written back in PATTERN by an
 * independent formatter (gmtime_r and printf), must read back as the same
 * time.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeparse.h"

/* Longer inputs add nothing: every accepted form is short. */
#define INPUT_MAX 256

static void fail(const char *what, const char *input)
{
    fprintf(stderr, "parse_time: %s (input '%s')\n", what, input);
    abort();
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static void check_u64(const char *s)
{
    uint64_t v;
    if (timeparse_u64(s, &v) != 0) {
        /* Digits only, and not beyond UINT64_MAX, must be accepted. */
        errno = 0;
        if (all_digits(s) && (strtoull(s, NULL, 10), errno == 0))
            fail("timeparse_u64 refused a number in range", s);
        return;
    }
    errno = 0;
    unsigned long long ref = strtoull(s, NULL, 10);
    if (!all_digits(s) || errno != 0 || ref != v)
        fail("timeparse_u64 disagrees with strtoull", s);
}

/* A time parsed from s must format to text that parses to the same time
 * (formatted times outside years 0..9999 are integers: time operands). */
static void check_time(const char *s, int64_t us)
{
    char text[TIMEPARSE_RFC3339_MAX];
    timeparse_format(us, text);
    int64_t again;
    if (timeparse_time_arg(text, 1, &again) != 0)
        fail("a formatted time does not parse", s);
    if (again != us)
        fail("a formatted time parses to another time", s);
    /* The canonical text is a fixed point. */
    char text2[TIMEPARSE_RFC3339_MAX];
    timeparse_format(again, text2);
    if (strcmp(text, text2) != 0)
        fail("formatting is not stable", s);
}

static void check_rfc3339(const char *s, size_t n)
{
    int64_t us;
    if (timeparse_rfc3339(s, n, &us) != 0)
        return;
    /* The accepted form has no NUL: the string operand parses the same. */
    int64_t arg;
    if (memchr(s, 0, n) || timeparse_time_arg(s, 0, &arg) != 0 || arg != us)
        fail("timeparse_time_arg disagrees with timeparse_rfc3339", s);
    check_time(s, us);
}

/* An integer operand in a unit is that many microseconds times the unit
 * (when that fits); without a unit only 0 is taken. */
static void check_time_arg(const char *s)
{
    static const int64_t units[] = { 0, 1, 1000, 1000000 };
    int64_t us, in_us = 0;
    int integer = timeparse_is_integer(s), have_us = timeparse_time_arg(s, 1, &in_us) == 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (timeparse_time_arg(s, units[i], &us) != 0) {
            int64_t want;
            if (have_us && !(integer && units[i] == 0 && in_us != 0) &&
                !__builtin_mul_overflow(in_us, units[i] ? units[i] : 1, &want))
                fail("timeparse_time_arg refused a time in a unit", s);
            continue;
        }
        if (integer && (units[i] == 0 ? us != 0 : us != in_us * units[i]))
            fail("an integer time is not its count of units", s);
        if (!integer && (!have_us || us != in_us))
            fail("an RFC 3339 time depends on the unit", s);
        check_time(s, us);
    }
}

static void check_duration(const char *s)
{
    uint64_t us;
    if (timeparse_duration_us(s, &us) != 0)
        return;
    char text[32];
    snprintf(text, sizeof text, "%lluus", (unsigned long long)us);
    uint64_t again;
    if (timeparse_duration_us(text, &again) != 0 || again != us)
        fail("a duration does not survive \"<n>us\"", s);
    /* A whole number of seconds also reads back in seconds. */
    if (us % 1000000 == 0) {
        snprintf(text, sizeof text, "%llus", (unsigned long long)(us / 1000000));
        if (timeparse_duration_us(text, &again) != 0 || again != us)
            fail("a duration does not survive \"<n>s\"", s);
    }
}

static void check_size(const char *s)
{
    uint64_t v;
    if (timeparse_size_bytes(s, &v) != 0)
        return;
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    uint64_t again;
    if (timeparse_size_bytes(text, &again) != 0 || again != v)
        fail("a size does not survive its byte count", s);
    if (v % (1u << 20) == 0) {
        snprintf(text, sizeof text, "%lluMiB", (unsigned long long)(v >> 20));
        if (timeparse_size_bytes(text, &again) != 0 || again != v)
            fail("a size does not survive \"<n>MiB\"", s);
    }
}

/* Write us in pattern (checked) as local time zone_s east of UTC, zones
 * as +HH:MM. 0, or -1 when the year is outside 0000..9999 or buf is full. */
static int format_pattern(const char *pattern, int64_t us, int64_t zone_s, char *buf, size_t cap)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int64_t local = us + zone_s * 1000000;
    int64_t frac = local % 1000000;
    time_t secs = (time_t)(local / 1000000 - (frac < 0));
    frac += frac < 0 ? 1000000 : 0;
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return -1;
    size_t len = 0;
    for (const char *q = pattern; *q; q++) {
        char piece[32];
        if (*q != '%' || q[1] == '%') {
            q += *q == '%';
            snprintf(piece, sizeof piece, "%c", *q);
        } else {
            int zh = (int)(zone_s < 0 ? -zone_s : zone_s) / 3600, zm = (int)(zone_s < 0 ? -zone_s : zone_s) / 60 % 60;
            switch (*++q) {
            case 'Y': snprintf(piece, sizeof piece, "%04d", tm.tm_year + 1900); break;
            case 'm': snprintf(piece, sizeof piece, "%02d", tm.tm_mon + 1); break;
            case 'b': snprintf(piece, sizeof piece, "%.3s", months + 3 * tm.tm_mon); break;
            case 'd': snprintf(piece, sizeof piece, "%02d", tm.tm_mday); break;
            case 'H': snprintf(piece, sizeof piece, "%02d", tm.tm_hour); break;
            case 'M': snprintf(piece, sizeof piece, "%02d", tm.tm_min); break;
            case 'S': snprintf(piece, sizeof piece, "%02d", tm.tm_sec); break;
            case 'f': snprintf(piece, sizeof piece, "%06lld", (long long)frac); break;
            case 'z': snprintf(piece, sizeof piece, "%c%02d:%02d", zone_s < 0 ? '-' : '+', zh, zm); break;
            case 'F':
                snprintf(piece, sizeof piece, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
                break;
            default:
                snprintf(piece, sizeof piece, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
                break;
            }
        }
        size_t n = strlen(piece);
        if (len + n >= cap)
            return -1;
        memcpy(buf + len, piece, n);
        len += n;
    }
    buf[len] = '\0';
    return 0;
}

/* Whether pattern names every field of an instant: a date (%Y %m-or-%b
 * %d, or %F) and a time of day (%H %M %S, or %T). */
static int names_whole_instant(const char *pattern)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    for (const char *q = pattern; *q; q++) {
        if (*q != '%' || !q[1])
            continue;
        switch (*++q) {
        case 'Y': y = 1; break;
        case 'm': case 'b': mo = 1; break;
        case 'd': d = 1; break;
        case 'H': h = 1; break;
        case 'M': mi = 1; break;
        case 'S': se = 1; break;
        case 'F': y = mo = d = 1; break;
        case 'T': h = mi = se = 1; break;
        default: break;
        }
    }
    return y && mo && d && h && mi && se;
}

static void check_pattern(const char *pattern, const char *text, size_t n)
{
    int has_zone;
    if (timeparse_pattern_check(pattern, &has_zone) != 0)
        return;
    /* A time is written back faithfully only by a pattern that names
     * every field of an instant: the text's own zone is not known here, so
     * it is written at +00:00 ("%F%z" of 0000-02-01+01:00 is 0000-01-31
     * 23:00 UTC, which "%F" cannot write), and a leap second 60 carries
     * into a minute that "%Y-%m-%d %S" cannot write. */
    if (!names_whole_instant(pattern))
        return;
    /* A zone west of UTC for times without one, so zones are exercised. */
    const int64_t zone_s = has_zone ? 0 : -(int64_t)(n % 48) * 1800;
    int64_t us;
    if (timeparse_pattern(pattern, text, n, zone_s, &us) != 0)
        return;
    char again_text[2 * INPUT_MAX + 64];
    if (format_pattern(pattern, us, zone_s, again_text, sizeof again_text) != 0)
        return;
    int64_t again;
    if (timeparse_pattern(pattern, again_text, strlen(again_text), zone_s, &again) != 0)
        fail("a time written in its pattern does not read back", again_text);
    if (again != us)
        fail("a time written in its pattern reads back as another time", again_text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX)
        return 0;
    char s[INPUT_MAX + 1];
    memcpy(s, data, size);
    s[size] = '\0';
    /* The byte-counted parser sees the input as it is, NULs included. */
    check_rfc3339(s, size);
    const char *nul = memchr(s, 0, size);
    if (nul) {
        check_pattern(s, nul + 1, size - (size_t)(nul + 1 - s));
        return 0;
    }
    check_u64(s);
    check_time_arg(s);
    check_duration(s);
    check_size(s);
    return 0;
}
