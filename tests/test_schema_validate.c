/*
 * schema_validate — an event value against a definition: every violation
 * with its JSON path and reason, in document order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "schema_scan.h"
#include "schema_validate.h"
#include "siglog.h"

#define DEF                                                                                                  \
    "{\"type\":\"object\",\"required\":[\"user\",\"kind\"],\"additionalProperties\":false,\"properties\":{"  \
    "\"user\":{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"}}},"    \
    "\"kind\":{\"type\":\"string\",\"enum\":[\"click\",\"view\"]},"                                          \
    "\"n\":{\"type\":\"integer\"},\"score\":{\"type\":[\"number\",\"null\"]},\"level\":{\"enum\":[1,2]},"     \
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"                                          \
    "\"attrs\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"boolean\"}}}}"

typedef struct collected {
    char text[4096];
    size_t n;
} collected;

static void collect(void *ctx, const char *path, const char *reason)
{
    collected *c = ctx;
    c->n += (size_t)snprintf(c->text + c->n, sizeof c->text - c->n, "%s%s %s", c->n ? "\n" : "", path, reason);
}

static schema_def *def(void)
{
    schema_def *d = NULL;
    cr_assert_eq(sl_schema_def_parse(&d, DEF, strlen(DEF)), 0, "%s", siglog_errdetail());
    return d;
}

static void expect(const char *value, const char *want)
{
    schema_def *d = def();
    collected c = { .n = 0 };
    c.text[0] = '\0';
    size_t n = sl_schema_validate(d, value, strlen(value), collect, &c, 16);
    cr_expect_str_eq(c.text, want, "for %s:\n got: %s\nwant: %s", value, c.text, want);
    size_t lines = want[0] ? 1 : 0;
    for (const char *p = want; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(n, lines, "for %s: %zu violations counted", value, n);
    sl_schema_def_free(d);
}

Test(schema_validate, conforming_values_pass)
{
    expect("{\"user\":{\"id\":\"u1\"},\"kind\":\"click\"}", "");
    expect("{\"user\":{\"id\":\"u1\",\"more\":1},\"kind\":\"view\",\"n\":3,\"score\":null,\"level\":2.0,"
           "\"tags\":[\"a\",\"b\"],\"attrs\":{\"x\":true}}",
           "");
    /* 4.0 is an integer; an integer is a number. */
    expect("{\"user\":{\"id\":\"u\"},\"kind\":\"view\",\"n\":4.0,\"score\":7}", "");
}

Test(schema_validate, every_violation_with_its_path)
{
    expect("{\"user\":{},\"kind\":\"tap\",\"n\":1.5,\"score\":\"x\",\"tags\":[\"a\",3],\"attrs\":{\"y\":1},\"z\":0}",
           "$.user.id is required but missing\n"
           "$.kind is not one of [\"click\",\"view\"]\n"
           "$.n is number, expected integer\n"
           "$.score is string, expected number|null\n"
           "$.tags[1] is integer, expected string\n"
           "$.attrs.y is integer, expected boolean\n"
           "$.z is not allowed: additionalProperties is false");
    expect("{\"kind\":\"view\",\"level\":3}", "$.level is not one of [1,2]\n$.user is required but missing");
    expect("[1]", "$ is array, expected object");
    expect("{\"user\":", "$ is not JSON: line 1 column 8: unexpected token near end of file");
}

Test(schema_validate, stops_at_max)
{
    schema_def *d = def();
    const char *v = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}";
    cr_assert_eq(sl_schema_validate(d, v, strlen(v), NULL, NULL, 2), 2);
    cr_assert_eq(sl_schema_validate(d, v, strlen(v), NULL, NULL, 0), 1);
    cr_assert_eq(sl_schema_validate(d, v, strlen(v), NULL, NULL, 100), 6); /* four closed, two required */
    sl_schema_def_free(d);
}

/* The one-pass scan says "conforms" only where jansson reads the value and
 * the full walk finds nothing; everything else (violations, what jansson
 * refuses, what it leaves to the full walk) it declines. */
Test(schema_validate, the_scan_says_yes_only_where_the_full_walk_agrees)
{
    static const struct {
        const char *value;
        int scan; /* what the scan must answer */
    } cases[] = {
        { "{\"user\":{\"id\":\"u1\"},\"kind\":\"click\"}", 1 },
        { "{\"user\":{\"id\":\"u1\",\"more\":[1,{}]},\"kind\":\"view\",\"n\":-3,\"score\":null,\"tags\":[\"a\",\"b\"],"
          "\"attrs\":{\"x\":true,\"y\":false}}",
          1 },
        { " {\"user\" : {\"id\":\"\xc3\xa9\\u00e9\\ud83d\\ude00\\n\"} ,\"kind\":\"view\",\"score\":-0.5}\r\n", 1 },
        { "{\"user\":{},\"kind\":\"click\"}", 0 },                                   /* required missing */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"tap\"}", 0 },                           /* not in the enum */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"kind\":\"tap\"}", 0 },        /* jansson keeps the last */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"z\":1}", 0 },                 /* closed */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"n\":4.0}", 0 },               /* an integer to the walk */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"n\":1e2}", 0 },               /* exponent */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"score\":12345678901234567890}", 0 },
        { "{\"user\":{\"i\\u0064\":\"u\"},\"kind\":\"click\"}", 0 },                   /* escaped key */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"cl\\u0069ck\"}", 0 },                   /* escaped enum string */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"level\":1}", 0 },             /* enum of numbers */
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\"} x", 0 },
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",}", 0 },
        { "{\"user\":{\"id\":\"\\u0000\"},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"\\udc00\"},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"\\ud800x\"},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"\xc0\x80\"},\"kind\":\"click\"}", 0 },                  /* overlong */
        { "{\"user\":{\"id\":\"\xed\xa0\x80\"},\"kind\":\"click\"}", 0 },              /* a surrogate */
        { "{\"user\":{\"id\":\"\xf4\x90\x80\x80\"},\"kind\":\"click\"}", 0 },          /* above U+10FFFF */
        { "{\"user\":{\"id\":\"\x01\"},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"u\",\"m\":01},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"u\",\"m\":1.},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"u\",\"m\":-},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"u\",\"m\":truex},\"kind\":\"click\"}", 0 },
        { "{\"user\":{\"id\":\"u\"},\"kind\":\"click\"", 0 },
        { "[1]", 0 },
        { "", 0 },
    };
    schema_def *d = def();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *v = cases[i].value;
        cr_expect_eq(sl_schema_scan_conforms(d, v, strlen(v)), cases[i].scan, "scan of %s", v);
        json_t *j = json_loadb(v, strlen(v), 0, NULL);
        if (sl_schema_scan_conforms(d, v, strlen(v)))
            cr_expect(j && sl_schema_validate_json(d, j, NULL, NULL, 16) == 0, "the walk disagrees on %s", v);
        json_decref(j);
    }
    /* Deeper than the scan goes: left to the walk, which accepts it. */
    char deep[512];
    int n = snprintf(deep, sizeof deep, "{\"user\":{\"id\":\"u\",\"m\":");
    for (int i = 0; i < SCHEMA_SCAN_DEPTH_MAX + 2; i++)
        deep[n++] = '[';
    for (int i = 0; i < SCHEMA_SCAN_DEPTH_MAX + 2; i++)
        deep[n++] = ']';
    n += snprintf(deep + n, sizeof deep - (size_t)n, "},\"kind\":\"click\"}");
    cr_expect_eq(sl_schema_scan_conforms(d, deep, (size_t)n), 0);
    cr_expect_eq(sl_schema_validate(d, deep, (size_t)n, NULL, NULL, 16), 0);
    sl_schema_def_free(d);
}

/* What jansson and the full walk say of v: it reads and conforms. */
static int walk_conforms(const schema_def *d, const char *v, size_t n)
{
    json_t *j = json_loadb(v, n, 0, NULL);
    int ok = j && sl_schema_validate_json(d, j, NULL, NULL, 16) == 0;
    json_decref(j);
    return ok;
}

/* The scan takes a string's plain bytes a word at a time and finds the
 * first byte that is not plain from the word's flags, and decides a
 * string from the one word after its quote when that byte closes it:
 * whatever the string's length and wherever in it a quote, backslash,
 * control or non-ASCII byte falls (also the last byte of a word and the
 * first after one), the scan answers what jansson and the full walk
 * answer, for a string followed by more than a word of the value, for
 * one closing 2 bytes before its end (fewer than a word left: the long
 * way) and for the name of the last member (a name holding an escape is
 * left to the walk, by design). */
Test(schema_validate, the_scan_finds_each_special_byte_wherever_it_falls)
{
    static const char *const specials[] = { "\\\"", "\\\\", "\\n", "\x01", "\x1f", "\"", "\x80", "\xc3\xa9",
                                            "\xc3", "\x7f", " ", "~", "" };
    static const char *const places[] = { "{\"user\":{\"id\":\"%.*s%s%s\"},\"kind\":\"click\"}",
                                          "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"tags\":[\"%.*s%s%s\"]}",
                                          "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"attrs\":{\"%.*s%s%s\":true}}" };
    schema_def *d = def();
    for (size_t len = 0; len <= 40; len++)
        for (size_t at = 0; at <= len; at++)
            for (size_t k = 0; k < sizeof specials / sizeof *specials; k++)
                for (size_t place = 0; place < sizeof places / sizeof *places; place++) {
                    char s[64], v[160];
                    memset(s, 'a', len);
                    s[len] = '\0';
                    int n = snprintf(v, sizeof v, places[place], (int)at, s, specials[k], s + at);
                    int want = walk_conforms(d, v, (size_t)n) && !(place == 2 && strchr(specials[k], '\\'));
                    cr_assert_eq(sl_schema_scan_conforms(d, v, (size_t)n), want, "scan of %s (special %zu at %zu)", v,
                                 k, at);
                }
    sl_schema_def_free(d);
}

/* Property names are looked up by a hash and, up to 16 bytes, compared by
 * two words covering their bytes: a name of every length from 1 to 40 is
 * found, and the same name with any one byte changed is not (the object
 * is closed, so the scan and the walk refuse it). */
Test(schema_validate, a_name_differing_in_any_one_byte_is_another_name)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{");
    for (size_t len = 1; len <= 40; len++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\"%.*s\":{\"type\":\"integer\"}", len > 1 ? "," : "",
                              (int)len, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    n += (size_t)snprintf(text + n, sizeof text - n, "}}");
    schema_def *d = NULL;
    cr_assert_eq(sl_schema_def_parse(&d, text, n), 0, "%s", siglog_errdetail());
    for (size_t len = 1; len <= 40; len++) {
        char name[48], v[96];
        memcpy(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", len);
        int vn = snprintf(v, sizeof v, "{\"%.*s\":1}", (int)len, name);
        cr_assert_eq(sl_schema_scan_conforms(d, v, (size_t)vn), 1, "scan of %s", v);
        for (size_t at = 0; at < len; at++) {
            char was = name[at];
            name[at] = '_';
            vn = snprintf(v, sizeof v, "{\"%.*s\":1}", (int)len, name);
            cr_assert_eq(sl_schema_scan_conforms(d, v, (size_t)vn), 0, "scan of %s", v);
            cr_assert_eq(sl_schema_validate(d, v, (size_t)vn, NULL, NULL, 16), 1, "walk of %s", v);
            name[at] = was;
        }
    }
    sl_schema_def_free(d);
}

/* Digits are counted 8 at a time: a number of 1 to 20 digits with a stray
 * byte at every place, first in the object (a word of bytes after it) and
 * last (the word crosses the end), for an integer and for a number, gets
 * the answer of jansson and the full walk, except what the scan leaves
 * to the walk by design: an exponent, more than 18 digits before the
 * point, a fraction where an integer is asked for (4.0 is one there). */
Test(schema_validate, the_scan_reads_a_number_wherever_a_stray_byte_falls)
{
    static const char *const strays[] = { "", ".", ".5", "5.", "-", "/", ":", "a", "e", "E1", " ", "0",
                                          "\x80", "\x01", "}", ",", "\xb0", "\xb9" };
    static const char *const fields[] = { "score", "n" };
    static const char digits[] = "12345678901234567890";
    schema_def *d = def();
    for (size_t f = 0; f < 2; f++)
        for (size_t len = 1; len <= 20; len++)
            for (size_t at = 0; at <= len; at++)
                for (size_t k = 0; k < sizeof strays / sizeof *strays; k++) {
                    char num[48], v[160];
                    snprintf(num, sizeof num, "%.*s%s%.*s", (int)at, digits, strays[k], (int)(len - at), digits + at);
                    size_t int_digits = strspn(num + strspn(num, " -"), "0123456789");
                    int left = strpbrk(num, "eE") || int_digits > 18 || (f == 1 && strchr(num, '.'));
                    for (int last = 0; last <= 1; last++) {
                        int n = last ? snprintf(v, sizeof v, "{\"user\":{\"id\":\"u\"},\"kind\":\"click\",\"%s\":%s}",
                                                fields[f], num)
                                     : snprintf(v, sizeof v, "{\"%s\":%s,\"user\":{\"id\":\"u\"},\"kind\":\"click\"}",
                                                fields[f], num);
                        int want = walk_conforms(d, v, (size_t)n) && !left;
                        cr_assert_eq(sl_schema_scan_conforms(d, v, (size_t)n), want, "scan of %s", v);
                    }
                }
    sl_schema_def_free(d);
}

/* Whitespace is settled by one compare when the next byte is above 0x20:
 * a run of each kind of whitespace, and of bytes that are not JSON's
 * whitespace on either side of 0x20, put at every place of a value, gets
 * the answer of jansson and the full walk. */
Test(schema_validate, the_scan_skips_whitespace_of_each_kind_wherever_it_falls)
{
    static const char *const runs[] = { " ", "\t", "\n", "\r", " \t\r\n ", "\v", "\f", "\x01", "\x1f", "!", "\xa0",
                                        " \v" };
    static const char value[] = "{\"user\":{\"id\":\"u\",\"m\":[1,true,null,{}]},\"kind\":\"click\",\"n\":-2,"
                                "\"score\":0.5,\"tags\":[]}";
    schema_def *d = def();
    cr_assert_eq(sl_schema_scan_conforms(d, value, strlen(value)), 1);
    for (size_t at = 0; at <= strlen(value); at++)
        for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
            char v[160];
            int n = snprintf(v, sizeof v, "%.*s%s%s", (int)at, value, runs[k], value + at);
            cr_assert_eq(sl_schema_scan_conforms(d, v, (size_t)n), walk_conforms(d, v, (size_t)n),
                         "scan of %s (run %zu at %zu)", v, k, at);
        }
    sl_schema_def_free(d);
}
