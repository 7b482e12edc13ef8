/*
 * Unit tests of the tool's parsers (tools/timeparse.c, jsonpath.c, jsonload.c),
 * compiled in directly: RFC 3339 and patterned times, durations, sizes,
 * integers, JSON with numbers of any size, and the key/time conversions
 * of `siglog append`.
 */
#include "jsonload.h"
#include "jsonpath.h"
#include "lines.h"
#include "timeparse.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int64_t rfc(const char *s)
{
    int64_t us = 0;
    cr_assert_eq(timeparse_rfc3339(s, strlen(s), &us), 0, "'%s' should parse", s);
    return us;
}

static void rfc_bad(const char *s)
{
    int64_t us = 12345;
    cr_assert_eq(timeparse_rfc3339(s, strlen(s), &us), -1, "'%s' should be rejected", s);
    cr_assert_eq(us, 12345, "a rejected input must leave the output alone");
}

Test(timeparse, rfc3339_known_instants)
{
    cr_assert_eq(rfc("1970-01-01T00:00:00Z"), 0);
    cr_assert_eq(rfc("2014-04-07T03:11:09.277Z"), 1396840269277000LL);
    cr_assert_eq(rfc("2000-02-29T12:00:00Z"), 951825600000000LL);
    cr_assert_eq(rfc("1969-12-31T23:59:59.999999Z"), -1);
    cr_assert_eq(rfc("0000-01-01T00:00:00Z"), -62167219200000000LL);
    cr_assert_eq(rfc("9999-12-31T23:59:59Z"), 253402300799000000LL);
}

Test(timeparse, rfc3339_zones_and_separators_agree)
{
    int64_t z = rfc("2014-04-07T03:11:09Z");
    cr_assert_eq(rfc("2014-04-07T05:11:09+02:00"), z);
    cr_assert_eq(rfc("2014-04-06T23:41:09-03:30"), z);
    cr_assert_eq(rfc("2014-04-07 03:11:09z"), z);
    cr_assert_eq(rfc("2014-04-07t03:11:09+00:00"), z);
}

Test(timeparse, rfc3339_fraction_digits_beyond_microseconds_are_dropped)
{
    cr_assert_eq(rfc("1970-01-01T00:00:00.5Z"), 500000);
    cr_assert_eq(rfc("1970-01-01T00:00:00.000001Z"), 1);
    cr_assert_eq(rfc("1970-01-01T00:00:00.0000019Z"), 1);
    cr_assert_eq(rfc("1970-01-01T00:00:00.123456789Z"), 123456);
}

Test(timeparse, rfc3339_leap_second_is_the_next_second)
{
    cr_assert_eq(rfc("2016-12-31T23:59:60Z"), rfc("2017-01-01T00:00:00Z"));
}

Test(timeparse, rfc3339_rejects_malformed_and_out_of_range)
{
    const char *bad[] = {
        "", "2014", "2014-04-07", "2014-04-07T03:11:09", "2014-04-07T03:11Z", "2014-4-07T03:11:09Z",
        "2014-04-07T03:11:09.Z", "2014-04-07T03:11:09+0200", "2014-04-07T03:11:09+24:00",
        "2014-04-07T03:11:09+02:60", "2014-13-01T00:00:00Z", "2014-00-01T00:00:00Z", "2014-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2014-04-31T00:00:00Z", "2014-04-07T24:00:00Z", "2014-04-07T23:60:00Z",
        "2014-04-07T23:59:61Z", "2014-04-07T03:11:09Zjunk", "2014-04-07X03:11:09Z", " 2014-04-07T03:11:09Z",
        "+2014-04-07T03:11:09Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        rfc_bad(bad[i]);
}

Test(timeparse, rfc3339_reads_exactly_n_bytes)
{
    const char s[] = "2014-04-07T03:11:09ZXYZ";
    int64_t us;
    cr_assert_eq(timeparse_rfc3339(s, 20, &us), 0);
    cr_assert_eq(timeparse_rfc3339(s, 19, &us), -1);
    const char nul[] = "2014-04-07T03:11:09\0Z";
    cr_assert_eq(timeparse_rfc3339(nul, sizeof nul - 1, &us), -1, "an embedded NUL is not a zone");
}

Test(timeparse, format_round_trips_through_parse)
{
    const int64_t samples[] = { 0, 1, -1, 1396840269277000LL, -62167219200000000LL, 253402300799999999LL,
                                951825600000000LL, -123456789 };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[TIMEPARSE_RFC3339_MAX];
        timeparse_format(samples[i], buf);
        cr_assert_eq(rfc(buf), samples[i], "%s", buf);
    }
    char buf[TIMEPARSE_RFC3339_MAX];
    timeparse_format(1396840269277000LL, buf);
    cr_assert_str_eq(buf, "2014-04-07T03:11:09.277000Z");
    timeparse_format(INT64_MAX, buf);
    cr_assert_str_eq(buf, "9223372036854775807", "beyond year 9999 the integer is shown");
}

Test(timeparse, time_arg_is_rfc3339_or_an_integer_in_its_unit)
{
    int64_t us;
    cr_assert_eq(timeparse_time_arg("1396840269277000", 1, &us), 0);
    cr_assert_eq(us, 1396840269277000LL);
    cr_assert_eq(timeparse_time_arg("1396840269277", 1000, &us), 0);
    cr_assert_eq(us, 1396840269277000LL);
    cr_assert_eq(timeparse_time_arg("1396840269", 1000000, &us), 0);
    cr_assert_eq(us, 1396840269000000LL);
    cr_assert_eq(timeparse_time_arg("-5", 1, &us), 0);
    cr_assert_eq(us, -5);
    cr_assert_eq(timeparse_time_arg("-5", 1000000, &us), 0);
    cr_assert_eq(us, -5000000);
    cr_assert_eq(timeparse_time_arg("-9223372036854775808", 1, &us), 0);
    cr_assert_eq(us, INT64_MIN);
    cr_assert_eq(timeparse_time_arg("9223372036854775808", 1, &us), -1);
    cr_assert_eq(timeparse_time_arg("9223372036854776", 1000, &us), -1, "overflows in microseconds");
    cr_assert_eq(timeparse_time_arg("2014-04-07T03:11:09.277Z", 0, &us), 0);
    cr_assert_eq(us, 1396840269277000LL);
    cr_assert_eq(timeparse_time_arg("12abc", 1, &us), -1);
    cr_assert_eq(timeparse_time_arg("", 1, &us), -1);
    cr_assert_eq(timeparse_time_arg("-", 1, &us), -1);
}

Test(timeparse, time_arg_integer_needs_a_unit_but_zero_is_the_epoch)
{
    int64_t us = 42;
    cr_assert_eq(timeparse_time_arg("1396840269", 0, &us), -1, "seconds or microseconds?");
    cr_assert_eq(timeparse_time_arg("-1", 0, &us), -1);
    cr_assert_eq(us, 42, "untouched on refusal");
    cr_assert(timeparse_is_integer("1396840269") && timeparse_is_integer("-1") && timeparse_is_integer("0"));
    cr_assert(!timeparse_is_integer("-") && !timeparse_is_integer("") && !timeparse_is_integer("1e3") &&
              !timeparse_is_integer("2014-04-07T03:11:09Z"));
    cr_assert_eq(timeparse_time_arg("0", 0, &us), 0);
    cr_assert_eq(us, 0, "0 is the epoch");
    cr_assert_eq(timeparse_time_arg("0", 1000000, &us), 0);
    cr_assert_eq(us, 0);
}

Test(timeparse, pattern_directives_and_fractions_of_any_length)
{
    int64_t us;
    const char *azure = "%Y-%m-%d %H:%M:%S.%f";
#define PAT(p, s, zone) timeparse_pattern((p), (s), strlen(s), (zone), &us)
    cr_assert_eq(PAT(azure, "2023-11-16 18:17:03.9799600", 0), 0);
    cr_assert_eq(us, 1700158623979960LL);
    cr_assert_eq(PAT(azure, "2023-11-16 18:17:03.9", 0), 0);
    cr_assert_eq(us, 1700158623900000LL);
    cr_assert_eq(PAT(azure, "2023-11-16 18:17:03.123456789012", 0), 0);
    cr_assert_eq(us, 1700158623123456LL, "digits beyond microseconds are dropped");
    cr_assert_eq(PAT(azure, "2023-11-16 18:17:03.", 0), -1, "%%f needs a digit");
    cr_assert_eq(PAT(azure, "2023-11-16 18:17:03", 0), -1, "the literal '.' is missing");
    cr_assert_eq(PAT(azure, "2023-11-16 18:17:03.5 ", 0), -1, "all of the text must match");
    cr_assert_eq(PAT(azure, "2023-11-16 18:17:03.5", -7200), 0);
    cr_assert_eq(us, 1700158623500000LL + 7200000000LL, "a zone two hours west of UTC");

    cr_assert_eq(PAT("%d/%b/%Y:%T %z", "16/nov/2023:18:17:03 +0100", 0), 0, "Apache's form");
    cr_assert_eq(us, 1700158623000000LL - 3600000000LL);
    cr_assert_eq(PAT("%d/%b/%Y:%T %z", "16/Nov/2023:18:17:03 -01:30", 0), 0);
    cr_assert_eq(us, 1700158623000000LL + 5400000000LL);
    cr_assert_eq(PAT("%d/%b/%Y:%T %z", "16/Nov/2023:18:17:03 Z", 3600), 0, "%%z wins over the default zone");
    cr_assert_eq(us, 1700158623000000LL);
    cr_assert_eq(PAT("%d/%b/%Y:%T %z", "16/Nox/2023:18:17:03 Z", 0), -1);
    cr_assert_eq(PAT("%F", "2023-11-16", 0), 0, "time fields default to midnight");
    cr_assert_eq(us, 1700092800000000LL);
    cr_assert_eq(PAT("%Y%m%d 100%%", "20231116 100%", 0), 0);
    cr_assert_eq(us, 1700092800000000LL);
    cr_assert_eq(PAT("%F %T", "2016-12-31 23:59:60", 0), 0, "a leap second is the next second");
    cr_assert_eq(us, 1483228800000000LL);
    cr_assert_eq(PAT("%F", "2023-02-29", 0), -1);
    cr_assert_eq(PAT("%F", "2023-11-6", 0), -1, "numbers are zero-padded");
    cr_assert_eq(PAT("%F %T", "2023-11-16 24:00:00", 0), -1);
#undef PAT

    int has_zone = -1;
    cr_assert_eq(timeparse_pattern_check(azure, &has_zone), 0);
    cr_assert_eq(has_zone, 0);
    cr_assert_eq(timeparse_pattern_check("%d/%b/%Y:%T %z", &has_zone), 0);
    cr_assert_eq(has_zone, 1);
    const char *bad[] = { "%H:%M:%S", "%Y-%m", "%F %Y", "%Y-%m-%d %q", "%Y-%m-%d %", "%F %T %T", "%Y-%b-%m-%d" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(timeparse_pattern_check(bad[i], &has_zone), -1, "%s", bad[i]);
}

Test(timeparse, zones_for_times_without_one)
{
    int64_t z = 1;
    cr_assert_eq(timeparse_zone("UTC", &z), 0);
    cr_assert_eq(z, 0);
    cr_assert_eq(timeparse_zone("+02:00", &z), 0);
    cr_assert_eq(z, 7200);
    cr_assert_eq(timeparse_zone("-0930", &z), 0);
    cr_assert_eq(z, -34200);
    cr_assert_eq(timeparse_zone("Z", &z), 0);
    cr_assert_eq(z, 0);
    const char *bad[] = { "", "utc+1", "+2", "+24:00", "+02:60", "+02:00 ", "Europe/Berlin" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(timeparse_zone(bad[i], &z), -1, "%s", bad[i]);
}

Test(timeparse, u64_strict)
{
    uint64_t v;
    cr_assert_eq(timeparse_u64("18446744073709551615", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(timeparse_u64("18446744073709551616", &v), -1);
    cr_assert_eq(timeparse_u64("0", &v), 0);
    cr_assert_eq(v, 0);
    const char *bad[] = { "", "-1", "+1", " 1", "1 ", "0x10", "1e3" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(timeparse_u64(bad[i], &v), -1, "'%s'", bad[i]);
}

Test(timeparse, durations_with_units_and_fractions)
{
    static const struct {
        const char *s;
        uint64_t us;
    } ok[] = {
        { "0", 0 }, { "1us", 1 }, { "100ms", 100000 }, { "30s", 30000000 }, { "90m", 5400000000ULL },
        { "24h", 86400000000ULL }, { "7d", 604800000000ULL }, { "1.5h", 5400000000ULL }, { "0.5ms", 500 },
        { "0.0000001s", 0 }, { "2.25s", 2250000 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t us = 99;
        cr_assert_eq(timeparse_duration_us(ok[i].s, &us), 0, "'%s'", ok[i].s);
        cr_assert_eq(us, ok[i].us, "'%s' gave %llu", ok[i].s, (unsigned long long)us);
    }
    const char *bad[] = { "", "5", "s", "1.h", ".5h", "1hh", "1 h", "-1s", "1w", "213503983d", "1.5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t us;
        cr_assert_eq(timeparse_duration_us(bad[i], &us), -1, "'%s'", bad[i]);
    }
}

Test(timeparse, sizes_binary_and_decimal_suffixes)
{
    static const struct {
        const char *s;
        uint64_t bytes;
    } ok[] = {
        { "0", 0 }, { "65536", 65536 }, { "512B", 512 }, { "64K", 65536 }, { "64KiB", 65536 }, { "64KB", 64000 },
        { "64MiB", 64ULL << 20 }, { "1G", 1ULL << 30 }, { "1GB", 1000000000ULL }, { "2TiB", 2ULL << 40 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t b = 99;
        cr_assert_eq(timeparse_size_bytes(ok[i].s, &b), 0, "'%s'", ok[i].s);
        cr_assert_eq(b, ok[i].bytes, "'%s'", ok[i].s);
    }
    const char *bad[] = { "", "K", "1.5M", "1 M", "1m", "1Mb", "-1", "16777216TiB", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t b;
        cr_assert_eq(timeparse_size_bytes(bad[i], &b), -1, "'%s'", bad[i]);
    }
}

/* ---- jsonpath ---- */

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v, "test JSON '%s'", text);
    return v;
}

Test(jsonpath, nested_lookup_and_missing_steps)
{
    jsonpath p;
    cr_assert_eq(jsonpath_compile(&p, "user.id"), 0);
    json_t *doc = parse("{\"user\":{\"id\":\"u7\"},\"flat\":1}");
    json_t *v = jsonpath_get(doc, &p);
    cr_assert(json_is_string(v));
    cr_assert_str_eq(json_string_value(v), "u7");
    json_decref(doc);

    const char *misses[] = { "{\"user\":{}}", "{\"user\":\"u7\"}", "{\"user\":[{\"id\":1}]}", "[1]", "3", "{}" };
    for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
        doc = parse(misses[i]);
        cr_assert_null(jsonpath_get(doc, &p), "%s", misses[i]);
        json_decref(doc);
    }
    jsonpath_free(&p);
}

Test(jsonpath, compile_rejects_empty_names_and_deep_paths)
{
    jsonpath p;
    const char *bad[] = { "", ".", "a.", ".a", "a..b", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(jsonpath_compile(&p, bad[i]), -1, "'%s'", bad[i]);
    cr_assert_eq(jsonpath_compile(&p, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p"), 0, "16 names are allowed");
    cr_assert_eq(p.depth, 16);
    jsonpath_free(&p);
}

static void key_is(const char *json, const char *expect)
{
    json_t *v = parse(json);
    char buf[JSONPATH_KEY_MAX];
    const char *k;
    size_t len;
    cr_assert_eq(jsonpath_key(v, buf, &k, &len), 0, "%s", json);
    cr_assert_eq(len, strlen(expect), "%s", json);
    cr_assert_eq(memcmp(k, expect, len), 0, "%s gave %.*s", json, (int)len, k);
    json_decref(v);
}

Test(jsonpath, key_from_string_or_number_text)
{
    key_is("\"user-7\"", "user-7");
    key_is("\"\\u00e9t\\u00e9\"", "\xc3\xa9t\xc3\xa9");
    key_is("42", "42");
    key_is("-9223372036854775808", "-9223372036854775808");
    key_is("1.5", "1.5");
    key_is("1.50", "1.5");
    key_is("0.1", "0.1");
    key_is("1396839069.277", "1396839069.277");
    key_is("1e300", "1e+300");
    const char *bad[] = { "null", "true", "{}", "[]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = parse(bad[i]);
        char buf[JSONPATH_KEY_MAX];
        const char *k;
        size_t len;
        cr_assert_eq(jsonpath_key(v, buf, &k, &len), -1, "%s", bad[i]);
        json_decref(v);
    }
}

static int64_t time_of(const char *json, int64_t unit_us, int expect_rc)
{
    json_t *v = parse(json);
    int64_t us = 0;
    jsonpath_time how = { .unit_us = unit_us };
    cr_assert_eq(jsonpath_time_us(v, &how, &us), expect_rc, "%s", json);
    json_decref(v);
    return us;
}

/* jsonload's tree of text, compact, with digit for numbers jansson cannot
 * hold; "ERR <jansson's text>" for a refusal. */
static char *load_shown(const char *text, char digit, size_t *replaced)
{
    json_error_t err;
    json_t *v = jsonload(text, strlen(text), digit, replaced, &err);
    char *shown = NULL;
    if (v)
        shown = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    else
        cr_assert(asprintf(&shown, "ERR %s", err.text) > 0);
    json_decref(v);
    return shown;
}

Test(jsonload, numbers_jansson_cannot_hold_read_as_a_digit)
{
    const struct {
        const char *text, *zeros;
        size_t replaced;
    } cases[] = {
        { "18446744073709551615", "0", 1 },
        { "{\"a\":[1e400,-1E+400, 2,123456789012345678901234567890]}", "{\"a\":[0,0,2,0]}", 3 },
        { "[true,-1e400,false]", "[true,0,false]", 1 },
        { "-0.0000000000000000000000000001e-400", "-0.0", 0 },
        /* Invalid, and refused in jansson's words for the first number. */
        { "[5-1e400]", "ERR real number overflow near '-1e400'", 0 },
        { "true1e400", "ERR real number overflow near '1e400'", 0 },
        { "1e400.5", "ERR real number overflow near '1e400'", 0 },
        { "[1e400 2]", "ERR real number overflow near '1e400'", 0 },
        { "[1e400,99999999999999999999,{]", "ERR real number overflow near '1e400'", 0 },
        { "{\"a\":1,\"b\":x}", "ERR invalid token near 'x'", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t replaced = 99;
        char *shown = load_shown(cases[i].text, '0', &replaced);
        cr_assert_str_eq(shown, cases[i].zeros, "%s", cases[i].text);
        cr_assert_eq(replaced, cases[i].replaced, "%s", cases[i].text);
        free(shown);
    }
    size_t replaced;
    char *shown = load_shown("[1e400,3]", '1', &replaced);
    cr_assert_str_eq(shown, "[1,3]");
    free(shown);
}

Test(jsonload, the_work_of_replacing_numbers_is_bounded)
{
    /* 200,000 numbers in 1.2 MB would mean 200,000 parses of it. */
    const size_t n = 200000;
    char *text = malloc(6 * n + 3);
    cr_assert_not_null(text);
    size_t len = 0;
    text[len++] = '[';
    for (size_t i = 0; i < n; i++, len += 6)
        memcpy(text + len, "1e400,", 6);
    text[len++] = '0';
    text[len++] = ']';
    size_t replaced;
    json_error_t err;
    cr_assert_null(jsonload(text, len, '0', &replaced, &err));
    cr_assert_eq(replaced, JSONLOAD_TOO_MANY);
    /* The same numbers in a text 1/1000 the size are all checked. */
    len = 6 * (n / 1000) + 1;
    text[len++] = '0';
    text[len++] = ']';
    json_t *v = jsonload(text, len, '0', &replaced, &err);
    cr_assert_not_null(v, "%s", err.text);
    cr_assert_eq(replaced, n / 1000);
    json_decref(v);
    free(text);
}

Test(jsonpath, time_strings_in_a_pattern_and_its_zone)
{
    jsonpath_time how = { .unit_us = 1000, .pattern = "%Y-%m-%d %H:%M:%S.%f", .zone_s = 3600 };
    json_t *v = parse("\"2023-11-16 18:17:03.9799600\"");
    int64_t us = 0;
    cr_assert_eq(jsonpath_time_us(v, &how, &us), 0);
    cr_assert_eq(us, 1700158623979960LL - 3600000000LL, "in the zone an hour east of UTC");
    json_decref(v);
    v = parse("\"2023-11-16T18:17:03Z\"");
    cr_assert_eq(jsonpath_time_us(v, &how, &us), -1, "with a pattern, RFC 3339 is not taken instead");
    json_decref(v);
    v = parse("1700158623979");
    cr_assert_eq(jsonpath_time_us(v, &how, &us), 0, "numbers still count --time-unit units");
    cr_assert_eq(us, 1700158623979000LL);
    json_decref(v);
}

Test(jsonpath, time_from_numbers_in_units_and_rfc3339_strings)
{
    cr_assert_eq(time_of("1396839069277", 1000, 0), 1396839069277000LL);
    cr_assert_eq(time_of("1396839069.277", 1000000, 0), 1396839069277000LL, "fractional epoch seconds");
    cr_assert_eq(time_of("1396839069", 1000000, 0), 1396839069000000LL);
    cr_assert_eq(time_of("12.5", 1000, 0), 12500);
    cr_assert_eq(time_of("7", 1, 0), 7);
    cr_assert_eq(time_of("-1.5", 1000, 0), -1500);
    cr_assert_eq(time_of("\"2014-04-07T03:11:09.277Z\"", 1000, 0), 1396840269277000LL);
    time_of("9223372036854775807", 1000, -1);
    time_of("1e300", 1, -1);
    time_of("\"yesterday\"", 1000, -1);
    time_of("null", 1000, -1);
    time_of("[1]", 1000, -1);
}

/* The line reader: every line as written, each followed by LINES_PAD
 * initialised bytes inside the buffer (the JSON fast path parses it where
 * it lies; under ASan a line at the buffer's end reads past it without
 * them), and the buffer's end always at the phase of the file offset the
 * next read starts from, modulo 64 (lines.h). Lines of many lengths and
 * one longer than the first buffer, which makes it grow. */
/* The padding is read into it, so that ASan checks those bytes. */
static volatile unsigned pad_sink;

Test(lines, lines_come_back_whole_padded_and_reads_keep_the_offsets_phase)
{
    char path[] = "/tmp/siglog_lines_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w+");
    cr_assert_not_null(f);
    enum { LINES = 40000, LONG_LINE = 3 << 20 };
    for (unsigned i = 0; i < LINES; i++) {
        size_t len = i == LINES / 2 ? LONG_LINE : i % 211;
        for (size_t k = 0; k < len; k++)
            fputc('a' + (int)((i + k) % 26), f);
        fputc('\n', f);
    }
    cr_assert_eq(fflush(f), 0);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    lines r;
    cr_assert_eq(lines_init(&r, fd, 16u << 20), 0);
    const char *line;
    size_t len;
    unsigned n = 0;
    int rc;
    while ((rc = lines_next(&r, LINES_MAY_BLOCK, &line, &len)) == LINES_LINE) {
        size_t want = n == LINES / 2 ? LONG_LINE : n % 211;
        cr_assert_eq(len, want, "line %u: %zu bytes, not %zu", n, len, want);
        for (size_t k = 0; k < len; k += 97)
            cr_assert_eq(line[k], 'a' + (int)((n + k) % 26), "line %u byte %zu", n, k);
        for (size_t k = 0; k < LINES_PAD; k++)
            pad_sink += (unsigned char)line[len + k];
        cr_assert_eq(((uintptr_t)(r.buf + r.end) - (uintptr_t)r.read_bytes) % 64, 0, "line %u", n);
        n++;
    }
    cr_assert_eq(rc, LINES_EOF);
    cr_assert_eq(n, LINES);
    lines_free(&r);
    fclose(f);
    unlink(path);
}
