/*
 * Unit tests of replay's one-pass check (tools/jsoncheck.c): every value
 * it takes, jansson takes as the jsonl envelope reads it (JSON_DECODE_ANY
 * | JSON_ALLOW_NUL) and holds no raw line break; it takes plain JSON of
 * every kind, and declines each bound its header names on both sides of
 * the bound. Values are copied to an allocation of their exact length, so
 * that ASan sees any read past the end. Each answer is held to the same
 * check with every string read by its bytes (where the quotes' pass would
 * find its end) and to the one that copies the text as it reads it.
 */
#include "jsoncheck.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int check_len(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    cr_assert(copy);
    memcpy(copy, text, len);
    int yes = jsoncheck_embeddable(copy, len);
    /* The other two ways answer alike: every string read by its bytes,
     * and the copying one, whose copy is the text to the byte (its
     * destination of the text's exact length too). */
    cr_assert_eq(jsoncheck_embeddable_scanned(copy, len), yes, "'%.*s' read by its bytes", (int)len, text);
    char *dst = malloc(len ? len : 1);
    cr_assert(dst);
    cr_assert_eq(jsoncheck_embeddable_copy(copy, len, dst), yes, "'%.*s' copied", (int)len, text);
    cr_assert(memcmp(dst, copy, len) == 0, "'%.*s' copied as '%.*s'", (int)len, text, (int)len, dst);
    free(dst);
    if (yes) {
        json_t *v = json_loadb(copy, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        cr_assert(v, "jsoncheck takes '%.*s', which jansson refuses", (int)len, text);
        json_decref(v);
        cr_assert(!memchr(copy, '\n', len) && !memchr(copy, '\r', len));
    }
    free(copy);
    return yes;
}

static int check(const char *text)
{
    return check_len(text, strlen(text));
}

static void takes(const char *text)
{
    cr_assert_eq(check(text), 1, "'%s' should be taken", text);
}

static void declines(const char *text)
{
    cr_assert_eq(check(text), 0, "'%s' should be declined", text);
}

Test(jsoncheck, takes_plain_json_of_every_kind)
{
    const char *ok[] = {
        "0", "-0", "1", "-12", "123456789012345678", "-123456789012345678", "1.5", "-0.25", "1e5", "1E+99",
        "2.5e-99", "true", "false", "null", "\"\"", "\"a\"", "[]", "{}", "[ ]", "{ }", " \t[1, 2 ,3]\t ",
        "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", "{\"a\" : 1 , \"a\" : 2}",
        "[[[[[[[[[[]]]]]]]]]]", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0041\\u00e9\\uFFFF\\u0001\"",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf\"",
        "\"a string long enough to cross several sixteen-byte blocks of plain bytes\"",
        "{\"event_id\":\"1956686f65e8ea2f\",\"ts\":1767225600000892,\"consent\":{\"analytics\":true}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        takes(ok[i]);
}

Test(jsoncheck, declines_invalid_json)
{
    const char *bad[] = {
        "", " ", "01", "-", "-a", "1.", ".5", "1e", "1e+", "+1", "tru", "truex", "nul", "nulll", "falsey",
        "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{1:2}", "[1 2]", "1 2", "[", "]", "{", "\"abc",
        "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "[1]]", "{\"a\":1}}", "'a'", "\"\t\"", "\"a\x01\"",
        "\"\x80\"", "\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xf0\x80\x80\xaf\"",
        "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xc3\"", "\"\xe2\x82\"", "\"\xc3\x28\"", "\f1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        declines(bad[i]);
    cr_assert_eq(check_len("\"a\0b\"", 5), 0, "a raw NUL byte in a string");
    cr_assert_eq(check_len("1\0", 2), 0, "a NUL byte after the value");
}

/* What the header says it leaves to jansson, though jansson may take it. */
Test(jsoncheck, declines_at_its_bounds)
{
    declines("[1,\n2]");
    declines("{\"a\":1}\r\n");
    declines("\"\\u0000\"");
    declines("{\"\\u0000\":1}");
    declines("\"\\ud83d\\ude00\"");
    declines("\"\\udc00\"");
    takes("\"\\ud7ff\\ue000\"");
    declines("1234567890123456789");
    declines("-1234567890123456789");
    declines("1234567890123456789.5");
    takes("123456789012345678.5");
    declines("1e100");
    declines("1e-100");
    takes("1e-99");
    char deep[2 * JSONCHECK_DEPTH_MAX + 3];
    for (size_t depth = JSONCHECK_DEPTH_MAX; depth <= JSONCHECK_DEPTH_MAX + 1; depth++) {
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        cr_assert_eq(check_len(deep, 2 * depth), depth <= JSONCHECK_DEPTH_MAX, "depth %zu", depth);
    }
}

/* Every prefix of a valid value is declined or (a number cut short)
 * valid: never taken past the text's end. */
Test(jsoncheck, prefixes)
{
    const char *v = "{\"k\":[\"caf\xc3\xa9\",-1.5e+2,true,null,{\"x\":\"\\u00e9\"}],\"n\":12}";
    size_t len = strlen(v);
    cr_assert_eq(check_len(v, len), 1);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(check_len(v, i), 0, "prefix of %zu bytes", i);
}

/* An object of n members, each a name of name_len bytes and a string of
 * value_len, in buf: its length. */
static size_t object_of(char *buf, size_t n, size_t name_len, size_t value_len)
{
    char *p = buf;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        memset(p, 'a' + (char)(i % 26), name_len);
        p += name_len;
        memcpy(p, "\":\"", 3);
        p += 3;
        memset(p, 'v', value_len);
        p += value_len;
        *p++ = '"';
    }
    *p++ = '}';
    return (size_t)(p - buf);
}

/* Texts with nothing to escape have their strings' ends found from their
 * quotes before the walk: strings of every length across the 64-byte
 * words the quotes are found in, the text ending on and off a word's
 * end, more strings than that index holds, and quotes out of place: a
 * stray one, one missing, two strings with nothing between them. */
Test(jsoncheck, strings_found_by_their_quotes)
{
    static char buf[40000];
    for (size_t n = 1; n <= 300; n += n < 8 ? 1 : 37)
        for (size_t name_len = 0; name_len <= 3; name_len++)
            for (size_t value_len = 0; value_len <= 70; value_len += value_len < 20 ? 1 : 25) {
                size_t len = object_of(buf, n, name_len, value_len);
                cr_assert_eq(check_len(buf, len), 1, "%zu members, names %zu, values %zu", n, name_len,
                             value_len);
                for (size_t at = 1; at < len && at < 200; at += 7) {
                    char was = buf[at];
                    buf[at] = was == '"' ? 'q' : '"';
                    cr_assert_eq(check_len(buf, len), 0, "byte %zu of %zu changed", at, len);
                    buf[at] = was;
                }
            }
    /* An escaped quote at every place of a string in texts ending on and
     * off a word's end: the quotes' pass sees its backslash wherever it
     * lies, the text's last bytes read with some before them once more. */
    for (size_t value_len = 50; value_len <= 140; value_len += 3) {
        size_t len = object_of(buf, 1, 1, value_len); /* {"a":"v...v"} */
        for (size_t at = 6; at + 4 <= len; at++) {
            memcpy(buf + at, "\\\"", 2);
            cr_assert_eq(check_len(buf, len), 1, "an escaped quote at %zu of %zu", at, len);
            memcpy(buf + at, "vv", 2);
        }
    }
    takes("[\"0123456789012345678901234567890123456789012345678901234567890\",\"x\"]");
    takes("[\"012345678901234567890123456789012345678901234567890123456789012\",\"x\"]");
    declines("[\"0123456789012345678901234567890123456789012345678901234567890\"\"x\"]");
    declines("[\"0123456789012345678901234567890123456789012345678901234567890\",x\"]");
    declines("{\"name\":\"value\" \"more\":1,\"pad\":\"0123456789012345678901234567890123456789\"}");
    declines("{\"name\":1\"\",\"pad\":\"01234567890123456789012345678901234567890123456789012\"}");
}

/* An empty text (a pointer to no bytes; never NULL, jsoncheck.h) is
 * declined, jansson deciding, and nothing is copied. */
Test(jsoncheck, empty_text_without_bytes)
{
    static const char none[1] = { '{' }; /* a pointer to no bytes of text: len 0 */
    char dst[1] = { 'x' };
    cr_assert_eq(jsoncheck_embeddable_copy(none, 0, dst), 0);
    cr_assert_eq(dst[0], 'x');
}
