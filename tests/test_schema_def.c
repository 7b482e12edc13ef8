/*
 * schema_def — the definition subset is parsed, everything outside it is
 * refused naming the keyword and its path, and the fingerprint depends on
 * the definition only, not on how it was spelled.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <xxhash.h>

#include "schema_def.h"
#include "siglog.h"

static schema_def *parse_ok(const char *text)
{
    schema_def *d = NULL;
    int rc = sl_schema_def_parse(&d, text, strlen(text));
    cr_assert_eq(rc, 0, "refused %s: %s", text, siglog_errdetail());
    return d;
}

static void assert_refused(const char *text, const char *detail)
{
    schema_def *d = NULL;
    cr_assert_eq(sl_schema_def_parse(&d, text, strlen(text)), SIGLOG_EINVAL, "accepted %s", text);
    cr_assert_null(d);
    cr_assert(strstr(siglog_errdetail(), detail), "for %s: detail \"%s\" does not contain \"%s\"", text,
              siglog_errdetail(), detail);
}

Test(schema_def, parses_the_whole_subset)
{
    schema_def *d = parse_ok("{\"type\":\"object\",\"required\":[\"user\",\"ts\"],\"additionalProperties\":false,"
                             "\"properties\":{\"user\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"},"
                             "\"score\":{\"type\":[\"number\",\"null\"]},"
                             "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
                             "\"kind\":{\"enum\":[\"click\",\"view\"]},"
                             "\"geo\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}}}");
    const schema_node *r = d->root;
    cr_assert_eq(r->types, SCHEMA_OBJECT);
    cr_assert_eq(r->additional, SCHEMA_ADDITIONAL_CLOSED);
    cr_assert_eq(r->prop_count, 6); /* five described, "ts" only required */
    const schema_property *user = sl_schema_node_property(r, "user");
    cr_assert(user && user->required && user->node->types == SCHEMA_STRING);
    cr_assert_eq(user->node->sensitivity, SCHEMA_PERSONAL);
    const schema_property *ts = sl_schema_node_property(r, "ts");
    cr_assert(ts && ts->required && ts->node->types == SCHEMA_ANY);
    cr_assert_eq(sl_schema_node_property(r, "score")->node->types, SCHEMA_NUMBER | SCHEMA_NULL);
    cr_assert_not(sl_schema_node_property(r, "score")->required);
    cr_assert_eq(sl_schema_node_property(r, "tags")->node->items->types, SCHEMA_STRING);
    cr_assert_eq(json_array_size(sl_schema_node_property(r, "kind")->node->enum_values), 2);
    const schema_node *geo = sl_schema_node_property(r, "geo")->node;
    cr_assert_eq(geo->additional, SCHEMA_ADDITIONAL_SCHEMA);
    cr_assert_eq(geo->additional_node->types, SCHEMA_NUMBER);
    cr_assert_eq(d->max_sensitivity, SCHEMA_PERSONAL);
    cr_assert_null(sl_schema_node_property(r, "nope"));
    sl_schema_def_free(d);
}

Test(schema_def, fingerprint_ignores_spacing_and_key_order)
{
    schema_def *a = parse_ok("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{}}}");
    schema_def *b = parse_ok("{ \"properties\" : { \"b\" : { },\n \"a\" : {\"type\": \"string\"} },  \"type\":\"object\" }");
    cr_assert_str_eq(a->canonical, "{\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{}},\"type\":\"object\"}");
    cr_assert_str_eq(a->canonical, b->canonical);
    cr_assert_eq(a->fingerprint, XXH3_64bits(a->canonical, strlen(a->canonical)));
    cr_assert_eq(a->fingerprint, b->fingerprint);
    schema_def *c = parse_ok("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{}}}");
    cr_assert_neq(a->fingerprint, c->fingerprint);
    sl_schema_def_free(a);
    sl_schema_def_free(b);
    sl_schema_def_free(c);
}

Test(schema_def, refuses_what_is_outside_the_subset_naming_keyword_and_path)
{
    assert_refused("{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"string\",\"format\":\"email\"}}}",
                   "unknown keyword \"format\" at $.properties.user");
    assert_refused("{\"type\":\"object\",\"$ref\":\"#/x\"}", "unknown keyword \"$ref\" at $");
    assert_refused("{\"type\":\"object\",\"properties\":{\"a b\":{\"items\":{\"minimum\":1}}}}",
                   "unknown keyword \"minimum\" at $.properties[\"a b\"].items");
    assert_refused("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"int\"}}}",
                   "\"type\" names an unknown type at $.properties.n.type");
    assert_refused("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":[]}}}", "at $.properties.n.type");
    assert_refused("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":[\"null\",\"null\"]}}}",
                   "lists a type twice");
    assert_refused("{\"type\":\"object\",\"properties\":{\"e\":{\"enum\":[1,1]}}}", "\"enum\" lists a value twice");
    assert_refused("{\"type\":\"object\",\"properties\":{\"e\":{\"enum\":[]}}}", "at $.properties.e.enum");
    assert_refused("{\"type\":\"object\",\"required\":\"a\"}", "\"required\" must be a list of property names at $.required");
    assert_refused("{\"type\":\"object\",\"required\":[\"a\",\"a\"]}", "names a property twice");
    assert_refused("{\"type\":\"object\",\"properties\":{\"s\":{\"x-sensitivity\":\"top\"}}}",
                   "\"x-sensitivity\" must be public, internal, personal or secret at $.properties.s.x-sensitivity");
    assert_refused("{\"type\":\"object\",\"properties\":[]}", "\"properties\" must be an object at $.properties");
    assert_refused("{\"type\":\"object\",\"properties\":{\"a\":true}}", "must be a JSON object at $.properties.a");
    assert_refused("{\"type\":\"array\"}", "\"type\" of the root must be \"object\" at $.type");
    assert_refused("{\"properties\":{}}", "of the root must be \"object\"");
    assert_refused("{\"type\":\"object\",\"type\":\"object\"}", "not JSON");
    assert_refused("{\"type\":", "not JSON: line 1");
}

Test(schema_def, limits_depth_and_size)
{
    char deep[4096] = "{\"type\":\"object\"";
    for (int i = 0; i < SCHEMA_DEPTH_MAX + 1; i++)
        strcat(deep, ",\"items\":{\"type\":\"array\"");
    for (int i = 0; i < SCHEMA_DEPTH_MAX + 1; i++)
        strcat(deep, "}");
    strcat(deep, "}");
    assert_refused(deep, "nest deeper than 32 levels");

    size_t big = SCHEMA_DEF_BYTES_MAX + 1;
    char *text = malloc(big);
    memset(text, ' ', big);
    schema_def *d = NULL;
    cr_assert_eq(sl_schema_def_parse(&d, text, big), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "more than the"));
    free(text);
}

Test(schema_def, paths_quote_odd_keys_and_stay_bounded)
{
    schema_path p;
    sl_schema_path_root(&p);
    size_t a = sl_schema_path_push_key(&p, "user");
    sl_schema_path_push_key(&p, "x\"y\n");
    cr_assert_str_eq(p.text, "$.user[\"x\\\"y\\u000a\"]");
    sl_schema_path_pop(&p, a);
    sl_schema_path_push_index(&p, 7);
    sl_schema_path_push_items(&p);
    cr_assert_str_eq(p.text, "$[7][*]");
    char key[200];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    for (int i = 0; i < 10; i++)
        sl_schema_path_push_key(&p, key);
    cr_assert_lt(strlen(p.text), SCHEMA_PATH_MAX);
    cr_assert_str_eq(p.text + strlen(p.text) - 3, "...");
}
