/*
 * parse_time: feed arbitrary text to every parser of tools/timeparse.c
 * (decimal integers, RFC 3339 times, time operands, durations, sizes) and
 * check what each accepts against an independent reading: a number parsed
 * must be what strtoull says, and a value parsed must survive a round trip
 * through text — timeparse_format for times, "<n>us" for durations, "<n>"
 * for sizes — back to the very same value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX)
        return 0;
    char s[INPUT_MAX + 1];
    memcpy(s, data, size);
    s[size] = '\0';
    /* The byte-counted parser sees the input as it is, NULs included. */
    check_rfc3339(s, size);
    if (memchr(s, 0, size))
        return 0;
    check_u64(s);
    check_time_arg(s);
    check_duration(s);
    check_size(s);
    return 0;
}
