/*
 * schema_compat — the compatibility matrix: each mode against each kind
 * of change, with every reason checked word for word (path, old type,
 * new type, what breaks).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "schema_compat.h"
#include "siglog.h"

/* The version every change starts from. */
#define V1                                                                                                        \
    "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{"                                                 \
    "\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},\"n\":{\"type\":\"integer\"},"                   \
    "\"kind\":{\"enum\":[\"a\",\"b\"]},"                                                                           \
    "\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}"

typedef struct change {
    const char *name;
    const char *v2;
    /* Expected reasons, "path | old | new | what" joined by "\n", per
     * mode: backward, forward (full expects both, in that order). */
    const char *backward;
    const char *forward;
} change;

static const change changes[] = {
    { "add optional field",
      "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}},"
      "\"extra\":{\"type\":\"string\"}}}",
      "", "" },
    { "add required field",
      "{\"type\":\"object\",\"required\":[\"id\",\"country\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}},"
      "\"country\":{\"type\":\"string\"}}}",
      "$.country | absent | required string | old events may lack it; the new definition requires it", "" },
    { "optional field becomes required",
      "{\"type\":\"object\",\"required\":[\"id\",\"note\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}",
      "$.note | optional string | required string | old events may lack it; the new definition requires it", "" },
    { "remove optional field",
      "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}",
      "", "" },
    { "remove required field",
      "{\"type\":\"object\",\"properties\":{\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}",
      "", "$.id | required string | absent | new events may lack it; the old definition requires it" },
    { "change type",
      "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"string\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}",
      "$.n | integer | string | old events may hold integer here, which the new definition refuses",
      "$.n | integer | string | new events may hold string here, which the old definition refuses" },
    { "widen integer to number",
      "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"number\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}",
      "", "$.n | integer | number | new events may hold a number that is no integer here, which the old definition refuses" },
    { "enum add",
      "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\",\"b\",\"c\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}",
      "", "$.kind | any enum [\"a\",\"b\"] | any enum [\"a\",\"b\",\"c\"] | new events may hold \"c\", which the old enum lacks" },
    { "enum remove",
      "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}}}",
      "$.kind | any enum [\"a\",\"b\"] | any enum [\"a\"] | old events may hold \"b\", which the new enum lacks", "" },
    { "nested object change",
      "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"note\":{\"type\":\"string\"},"
      "\"n\":{\"type\":\"integer\"},\"kind\":{\"enum\":[\"a\",\"b\"]},\"geo\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"string\"}}}}}",
      "$.geo.lat | number | string | old events may hold number here, which the new definition refuses",
      "$.geo.lat | number | string | new events may hold string here, which the old definition refuses" },
};

static schema_def *parse(const char *text)
{
    schema_def *d = NULL;
    cr_assert_eq(sl_schema_def_parse(&d, text, strlen(text)), 0, "%s", siglog_errdetail());
    return d;
}

static void reasons_text(const schema_reasons *r, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->count && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s | %s | %s | %s", i ? "\n" : "", r->v[i].path, r->v[i].old_type,
                              r->v[i].new_type, r->v[i].what);
}

static void expect(const schema_def *v1, const schema_def *v2, int mode, const char *want, const char *name)
{
    schema_reasons r = { 0 };
    cr_assert_eq(sl_schema_compat_check(v1, 1, v2, mode, &r), 0);
    char got[8192];
    reasons_text(&r, got, sizeof got);
    cr_expect_str_eq(got, want, "%s under %s:\n got: %s\nwant: %s", name, sl_schema_compat_name(mode), got, want);
    for (size_t i = 0; i < r.count; i++)
        cr_expect_eq(r.v[i].against, 1);
    sl_schema_reasons_free(&r);
}

Test(schema_compat, matrix_of_modes_and_changes_with_exact_reasons)
{
    schema_def *v1 = parse(V1);
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        const change *c = &changes[i];
        schema_def *v2 = parse(c->v2);
        char full[8192];
        snprintf(full, sizeof full, "%s%s%s", c->backward, c->backward[0] && c->forward[0] ? "\n" : "", c->forward);
        expect(v1, v2, SCHEMA_COMPAT_NONE, "", c->name);
        expect(v1, v2, SCHEMA_COMPAT_BACKWARD, c->backward, c->name);
        expect(v1, v2, SCHEMA_COMPAT_FORWARD, c->forward, c->name);
        expect(v1, v2, SCHEMA_COMPAT_FULL, full, c->name);
        /* Against one earlier version, a transitive mode is its plain one. */
        expect(v1, v2, SCHEMA_COMPAT_BACKWARD_TRANSITIVE, c->backward, c->name);
        expect(v1, v2, SCHEMA_COMPAT_FORWARD_TRANSITIVE, c->forward, c->name);
        expect(v1, v2, SCHEMA_COMPAT_FULL_TRANSITIVE, full, c->name);
        sl_schema_def_free(v2);
    }
    sl_schema_def_free(v1);
}

Test(schema_compat, every_reason_is_listed_not_only_the_first)
{
    schema_def *v1 = parse(V1);
    /* id becomes an integer, n a string, country is required: three breaks. */
    schema_def *v2 = parse("{\"type\":\"object\",\"required\":[\"id\",\"country\"],\"properties\":{"
                           "\"id\":{\"type\":\"integer\"},\"n\":{\"type\":\"string\"},\"country\":{\"type\":\"string\"}}}");
    expect(v1, v2, SCHEMA_COMPAT_BACKWARD, v2 ? "$.country | absent | required string | old events may lack it; the new definition requires it\n"
                                              "$.id | string | integer | old events may hold string here, which the new definition refuses\n"
                                              "$.n | integer | string | old events may hold integer here, which the new definition refuses"
                                            : "", "three breaks");
    sl_schema_def_free(v1);
    sl_schema_def_free(v2);
}

Test(schema_compat, closed_content_and_items)
{
    schema_def *open = parse("{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}");
    schema_def *closed = parse("{\"type\":\"object\",\"additionalProperties\":false,"
                               "\"properties\":{\"tags\":{\"type\":\"array\",\"items\":{\"type\":[\"string\",\"null\"]}}}}");
    /* Closing the content model breaks backward; nullable items do not. */
    expect(open, closed, SCHEMA_COMPAT_BACKWARD,
           "$ | additionalProperties open | additionalProperties false | old events may hold undeclared properties; the new definition refuses them",
           "close");
    expect(open, closed, SCHEMA_COMPAT_FORWARD,
           "$.tags[*] | string | string|null | new events may hold null here, which the old definition refuses", "close");
    /* A property removed from a closed definition: old events hold it. */
    schema_def *closed_empty = parse("{\"type\":\"object\",\"additionalProperties\":false}");
    expect(closed, closed_empty, SCHEMA_COMPAT_BACKWARD,
           "$.tags | optional array | absent | old events may hold it; the new definition's additionalProperties is false",
           "remove from closed");
    sl_schema_def_free(open);
    sl_schema_def_free(closed);
    sl_schema_def_free(closed_empty);
}

Test(schema_compat, mode_names_round_trip)
{
    for (int m = 0; m < SCHEMA_COMPAT_MODES; m++)
        cr_assert_eq(sl_schema_compat_parse(sl_schema_compat_name(m)), m);
    cr_assert_eq(sl_schema_compat_parse("sideways"), -1);
    cr_assert(sl_schema_compat_transitive(SCHEMA_COMPAT_FULL_TRANSITIVE));
    cr_assert_not(sl_schema_compat_transitive(SCHEMA_COMPAT_FULL));
}
