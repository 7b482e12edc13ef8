/*
 * Unit tests of the jsonl envelope's writer (tools/envelope.c) and of the
 * pieces it builds lines from: the decimal numbers (out_put_u64 and
 * out_put_i64, eight digits at a time) against printf on each side of
 * every power of ten, jsoncheck_plain and its copying form on every
 * length and position of a byte that needs an escape, and the envelope's
 * in-place line against the piece-by-piece one it stands in for, on
 * records that take each path.
 * Lines are read back from the output buffer before it is sent.
 */
#include "envelope.h"
#include "jsoncheck.h"
#include "output.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void same_as_printf_u64(uint64_t v)
{
    char want[32], got[OUT_DECIMAL_MAX + 1];
    snprintf(want, sizeof want, "%" PRIu64, v);
    size_t n = (size_t)(out_put_u64(got, v) - got);
    cr_assert(n == strlen(want) && memcmp(got, want, n) == 0, "%s written as %.*s", want, (int)n, got);
}

static void same_as_printf_i64(int64_t v)
{
    char want[32], got[OUT_DECIMAL_MAX + 2];
    snprintf(want, sizeof want, "%" PRId64, v);
    size_t n = (size_t)(out_put_i64(got, v) - got);
    cr_assert(n == strlen(want) && memcmp(got, want, n) == 0, "%s written as %.*s", want, (int)n, got);
}

Test(envelope, numbers_as_printf_writes_them)
{
    uint64_t p = 1;
    for (int k = 0; k < 20; k++, p *= 10) {
        uint64_t around[] = { p - 1, p, p + 1, p * 2 - 1, p * 9 + (p - 1) };
        for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
            same_as_printf_u64(around[i]);
            if (around[i] <= INT64_MAX) {
                same_as_printf_i64((int64_t)around[i]);
                same_as_printf_i64(-(int64_t)around[i]);
            }
        }
    }
    /* Every digit in every place of an eight-digit block, twice over. */
    for (uint64_t d = 0; d < 10; d++) {
        same_as_printf_u64(d * UINT64_C(1111111111111111));
        same_as_printf_u64(UINT64_C(1234567890123456789) + d * UINT64_C(98765432109));
    }
    same_as_printf_u64(UINT64_MAX);
    same_as_printf_i64(INT64_MAX);
    same_as_printf_i64(INT64_MIN);
    same_as_printf_i64(1767225600000700); /* a time in microseconds */
}

static int plain_copy(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1); /* exact length: ASan sees a read past it */
    cr_assert(copy);
    memcpy(copy, text, len);
    int yes = jsoncheck_plain(copy, len);
    /* The copying form answers alike, its copy the bytes to the last,
     * in a destination of their exact length too. */
    char *dst = malloc(len ? len : 1);
    cr_assert(dst);
    cr_assert_eq(jsoncheck_plain_copy(copy, len, dst), yes, "%zu bytes copied", len);
    cr_assert(memcmp(dst, copy, len) == 0, "%zu bytes copied otherwise", len);
    free(dst);
    free(copy);
    return yes;
}

Test(envelope, plain_bytes_on_every_length_and_position)
{
    const unsigned char specials[] = { '"', '\\', 0x00, 0x1f, 0x80, 0xc3, 0xff };
    char text[40];
    for (size_t len = 0; len <= sizeof text; len++) {
        memset(text, 'k', sizeof text);
        cr_assert_eq(plain_copy(text, len), 1, "%zu plain bytes", len);
        for (size_t at = 0; at < len; at++) {
            for (size_t s = 0; s < sizeof specials; s++) {
                text[at] = (char)specials[s];
                cr_assert_eq(plain_copy(text, len), 0, "0x%02x at %zu of %zu", specials[s], at, len);
            }
            text[at] = ' ';
            cr_assert_eq(plain_copy(text, len), 1, "a space at %zu of %zu", at, len);
            text[at] = 0x7f;
            cr_assert_eq(plain_copy(text, len), 1, "DEL at %zu of %zu", at, len);
            text[at] = 'k';
        }
    }
}

/* r's line through envelope_write with head h, taken out of the buffer. */
static char *line_of(envelope_head *h, const char *stream, uint32_t partition, const siglog_record *r, int late)
{
    out_state.len = 0;
    envelope_write(h, stream, partition, r, late);
    cr_assert_eq(out_state.err, 0);
    char *line = malloc(out_state.len + 1);
    cr_assert(line);
    memcpy(line, out_state.buf, out_state.len);
    line[out_state.len] = '\0';
    out_state.len = 0;
    return line;
}

/* The line r gets from a cached head, which takes the in-place path when
 * r allows it, is the line it gets with none (every piece written on
 * its own): returned for the caller's own expectations. */
static char *agreed_line(const siglog_record *r, int late)
{
    envelope_head cached = { 0 }, none = { .len = -1 };
    char *a = line_of(&cached, "s0", r->partition, r, late);
    cr_assert_gt(cached.len, 0);
    char *b = line_of(&none, "s0", r->partition, r, late);
    cr_assert_str_eq(a, b);
    /* Again from the head now built. */
    char *c = line_of(&cached, "s0", r->partition, r, late);
    cr_assert_str_eq(a, c);
    free(b);
    free(c);
    return a;
}

static siglog_record record(const char *key, const char *value)
{
    return (siglog_record){ .offset = 62499, .timestamp_us = 1767225600000700, .partition = 3,
                            .schema_version = 2, .key = key, .key_len = key ? strlen(key) : 0,
                            .value = value, .value_len = strlen(value) };
}

Test(envelope, in_place_line_agrees_with_the_piecewise_one)
{
    siglog_record r = record("u000002", "{\"a\":[1,true,null],\"b\":\"c\"}");
    char *line = agreed_line(&r, 0);
    cr_assert_str_eq(line, "{\"stream\":\"s0\",\"partition\":3,\"offset\":62499,\"ts\":1767225600000700,"
                           "\"key\":\"u000002\",\"schema\":2,\"value\":{\"a\":[1,true,null],\"b\":\"c\"}}\n");
    free(line);

    r.flags = SIGLOG_EVENT_TOMBSTONE;
    r.timestamp_us = -5;
    line = agreed_line(&r, 1);
    cr_assert_str_eq(line, "{\"stream\":\"s0\",\"partition\":3,\"offset\":62499,\"ts\":-5,\"key\":\"u000002\","
                           "\"schema\":2,\"tombstone\":true,\"late\":true,\"value\":{\"a\":[1,true,null],\"b\":\"c\"}}\n");
    free(line);
}

/* A source's lines in order through one head, which keeps the last
 * offset's and time's digits for the next line: each is the line a head
 * that keeps nothing writes, offsets rising by one across every carry
 * and skipping some, times rising across their top digits' changes and
 * going back, down to those too small to split. */
Test(envelope, digits_kept_from_line_to_line)
{
    envelope_head kept = { 0 };
    siglog_record r = record("u000002", "{\"a\":1}");
    const uint64_t starts[] = { 0, 7, 97, 995, 9999995, 19999, UINT64_MAX - 12, 42, 1000 };
    const int64_t times[] = { 1767225600000700, 1767225599999990, 99999999, 100000000, 5, -1,
                              INT64_MAX - 2, 1767225600000000, 199999995 };
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        for (uint64_t i = 0; i < 12; i++) {
            r.offset = starts[s] + i;
            /* Near INT64_MAX the times go down: the sum would overflow. */
            if (times[s] > INT64_MAX - 20000000000)
                r.timestamp_us = times[s] - (int64_t)i;
            else
                r.timestamp_us = times[s] + (int64_t)(i < 10 ? i : i * 1000000000);
            envelope_head none = { .len = -1 };
            char *a = line_of(&kept, "s0", r.partition, &r, 0);
            char *b = line_of(&none, "s0", r.partition, &r, 0);
            cr_assert_str_eq(a, b);
            free(a);
            free(b);
        }
    }
}

Test(envelope, lines_the_in_place_path_leaves)
{
    const char *keys[] = { NULL, "k\"q", "caf\xc3\xa9", "\xff\xfe", "tab\tkey" };
    const char *values[] = { "{\"a\":1}", "{\"a\":\n1}", "not json", "\"\\u0000\"", "[1,2]" };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            siglog_record r = record(keys[k], values[v]);
            free(agreed_line(&r, 0));
        }
    siglog_record r = record(NULL, "{\"a\":\n1}");
    char *line = agreed_line(&r, 0);
    cr_assert_str_eq(line, "{\"stream\":\"s0\",\"partition\":3,\"offset\":62499,\"ts\":1767225600000700,"
                           "\"key\":null,\"schema\":2,\"value\":{\"a\":1}}\n");
    free(line);

    /* Headers, and a record of another partition than the head's. */
    siglog_header hd = { .key = "src", .key_len = 3, .value = "x", .value_len = 1 };
    r = record("u1", "1");
    r.headers = &hd;
    r.header_count = 1;
    line = agreed_line(&r, 0);
    cr_assert(strstr(line, ",\"schema\":2,\"headers\":[[\"src\",\"x\"]],\"value\":1}\n"), "%s", line);
    free(line);
    envelope_head h = { 0 };
    r = record("u1", "1");
    free(line_of(&h, "s0", 3, &r, 0));
    r.partition = 4;
    line = line_of(&h, "s0", 3, &r, 0);
    cr_assert(strncmp(line, "{\"stream\":\"s0\",\"partition\":4,", 29) == 0, "%s", line);
    free(line);
}

Test(envelope, lines_at_the_buffer_end)
{
    /* What the buffer holds is sent to standard output, /dev/null here. */
    cr_assert(freopen("/dev/null", "w", stdout));
    siglog_record r = record("u1", "[1]");
    envelope_head h = { 0 };
    char *want = line_of(&h, "s0", 3, &r, 0);
    /* A line that does not fit what is left: the buffer is sent first,
     * then it holds the line whole. */
    out_state.len = OUT_BUF_BYTES - 10;
    envelope_write(&h, "s0", 3, &r, 0);
    cr_assert_eq(out_state.err, 0);
    cr_assert(out_state.len == strlen(want) && memcmp(out_state.buf, want, out_state.len) == 0);
    free(want);

    /* A line longer than the buffer: its value goes out on its own, what
     * follows it stays. */
    size_t n = OUT_BUF_BYTES + 100;
    char *value = malloc(n);
    cr_assert(value);
    memset(value, 'v', n);
    value[0] = value[n - 1] = '"';
    r.value = value;
    r.value_len = n;
    out_state.len = 0;
    envelope_write(&h, "s0", 3, &r, 0);
    cr_assert_eq(out_state.err, 0);
    cr_assert(out_state.len == 2 && memcmp(out_state.buf, "}\n", 2) == 0);
    out_state.len = 0;
    free(value);
}
