/*
 * schema_validate — an event value against a definition: every violation
 * with its JSON path and reason, in document order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

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
