/*
 * Unit tests of `siglog append`'s fast path (tools/jsonfast.cpp) where
 * it must decide exactly as jansson would and where it must not cost an
 * allocation a line. The differential fuzz target compare_jsonfast checks
 * any input against the jansson path; these pin the cases named here.
 */
#include "jsonfast.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* jsonfast_parse of s with no paths: 1 decided here, 0 left to jansson. */
static int decide(const char *s)
{
    jsonfast *f = jsonfast_new();
    cr_assert_not_null(f);
    json_t *tree = NULL;
    int rc = jsonfast_parse(f, s, strlen(s), NULL, 0, &tree);
    cr_assert(rc == 0 || rc == 1, "'%s': %d", s, rc);
    cr_assert_eq(rc == 1, tree != NULL, "'%s': a tree exactly when decided", s);
    if (tree)
        cr_assert(json_is_object(tree) && json_object_size(tree) == 0, "'%s': an empty object", s);
    json_decref(tree);
    jsonfast_free(f);
    return rc;
}

Test(jsonfast, digit_runs_in_strings_are_decided_here)
{
    /* Hex ids and zero-filled fields: no number, nothing jansson cannot
     * hold. */
    cr_assert_eq(decide("{\"msg\":\"id 00000000000000000000000 done\"}"), 1);
    cr_assert_eq(decide("\"1234567890123456789012345\""), 1);
    cr_assert_eq(decide("{\"a\":\"\\\\\\\"0000000000000000000\"}"), 1);
    cr_assert_eq(decide("{\"00000000000000000000\":1}"), 1);
}

/* ingest_parse searches a line for a raw NUL byte only when the fast path
 * did not take it: it must take none, wherever the NUL lies (in a string,
 * a key, between tokens, after a bare number). */
Test(jsonfast, never_takes_a_raw_nul)
{
    static const char *const lines[] = { "{\"k\":\"abc\",\"n\":12}", "12345", "[true, null, \"x\"]",
                                         "\"a string\"" };
    jsonfast *f = jsonfast_new();
    cr_assert_not_null(f);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        size_t len = strlen(lines[i]);
        for (size_t at = 0; at <= len; at++) {
            char buf[64 + JSONFAST_PADDING] = { 0 };
            memcpy(buf, lines[i], at);
            memcpy(buf + at + 1, lines[i] + at, len - at); /* buf[at] is the NUL */
            json_t *tree = NULL;
            int rc = jsonfast_parse_padded(f, buf, len + 1, NULL, 0, &tree);
            cr_assert_eq(rc, 0, "'%s' with a NUL at %zu: %d", lines[i], at, rc);
            json_decref(tree);
        }
    }
    jsonfast_free(f);
}

Test(jsonfast, long_numbers_go_to_jansson)
{
    cr_assert_eq(decide("{\"msg\":\"x\",\"n\":12345678901234567890}"), 0);
    cr_assert_eq(decide("[1234567890123456789]"), 0);
    cr_assert_eq(decide("-9223372036854775809"), 0);
    cr_assert_eq(decide("1.0000000000000000000001"), 0);
    /* A run in a string before the number does not hide it. */
    cr_assert_eq(decide("{\"a\":\"0000000000000000000\",\"b\":-9223372036854775809}"), 0);
    /* An escaped quote does not close the string; an escaped backslash
     * before the quote leaves the quote closing it. */
    cr_assert_eq(decide("{\"a\":\"\\\"\",\"n\":10000000000000000000}"), 0);
    cr_assert_eq(decide("{\"a\":\"\\\\\",\"n\":10000000000000000000}"), 0);
    cr_assert_eq(decide("{\"a\":\"\\\\\\\\\",\"n\":10000000000000000000}"), 0);
    /* The \u0000 escape still goes to jansson. */
    cr_assert_eq(decide("{\"a\\u0000\":1}"), 0);
}

static size_t allocations;

static void *counting_malloc(size_t n)
{
    allocations++;
    return malloc(n);
}

Test(jsonfast, no_allocation_a_line_without_paths)
{
    jsonfast *f = jsonfast_new();
    cr_assert_not_null(f);
    static const char line[] = "{\"host\":\"a.example\",\"bytes\":1839,\"path\":\"/x\"}";
    json_t *tree = NULL;
    /* The parser's buffers are sized by the first line. */
    cr_assert_eq(jsonfast_parse(f, line, sizeof line - 1, NULL, 0, &tree), 1);
    json_decref(tree);
    json_set_alloc_funcs(counting_malloc, free);
    allocations = 0;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(jsonfast_parse(f, line, sizeof line - 1, NULL, 0, &tree), 1);
        cr_assert(json_is_object(tree) && json_object_size(tree) == 0);
        json_decref(tree);
    }
    size_t counted = allocations;
    json_set_alloc_funcs(malloc, free);
    cr_assert_eq(counted, 0, "%zu jansson allocations for 100 lines", counted);
    jsonfast_free(f);
}
