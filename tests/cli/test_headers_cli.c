/*
 * Headers in the tool: `append --header NAME=@PATH` stores a field of each
 * line as a header and `--header NAME=VALUE` a constant, `replay --format
 * jsonl` prints them (FORMAT.md §20) and `replay --header NAME=VALUE`
 * keeps only events carrying them. `append --tombstone-field PATH` marks
 * the lines whose field is true as tombstones, which replay shows. Outputs
 * are compared byte for byte.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir, *store, *input;

static void setup(void)
{
    dir = test_tmpdir("headers_cli");
    store = test_path(dir, "store");
    input = test_path(dir, "in.jsonl");
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "ev", "--partitions", "1", "--set", "record_bytes_max=100");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(input);
    free(store);
    free(dir);
}

TestSuite(headers_cli, .init = setup, .fini = teardown, .timeout = 120);

static const char lines[] = "{\"ts\":1000,\"c\":\"granted\",\"m\":{\"v\":3}}\n"
                            "{\"ts\":2000,\"c\":\"denied\",\"m\":{\"v\":1.50}}\n"
                            "{\"ts\":3000,\"c\":\"granted\",\"m\":{\"v\":\"x\\\"y\"}}\n";

/* append `text` to stream ev with the options given; the result. */
static run_result append(const char *text, const char *const *opts)
{
    run_write_file(input, text, strlen(text));
    const char *args[24] = { "append", store, "ev", "--time-field", "ts" };
    size_t n = 5;
    for (; *opts; opts++)
        args[n++] = *opts;
    args[n++] = input;
    args[n] = NULL;
    return run_siglog(NULL, args);
}

static void append_ok(const char *text, const char *const *opts)
{
    run_result r = append(text, opts);
    cr_assert_eq(r.status, 0, "append: %s", r.err);
    run_free(&r);
}

static void assert_replay(const char *want, const char *const *filters)
{
    const char *args[16] = { "replay", store, "ev" };
    size_t n = 3;
    for (; *filters; filters++)
        args[n++] = *filters;
    args[n] = NULL;
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "replay: %s", r.err);
    cr_assert_str_eq(r.out, want);
    run_free(&r);
}

Test(headers_cli, fields_and_constants_round_trip)
{
    append_ok(lines, (const char *const[]){ "--header", "consent=@c", "--header", "model=@m.v", "--header",
                                            "svc=ranker", "--header", "at=@@home", "--header", "empty=", NULL });
    assert_replay(
        "{\"stream\":\"ev\",\"partition\":0,\"offset\":0,\"ts\":1000000,\"key\":null,\"schema\":0,"
        "\"headers\":[[\"consent\",\"granted\"],[\"model\",\"3\"],[\"svc\",\"ranker\"],[\"at\",\"@home\"],[\"empty\",\"\"]],"
        "\"value\":{\"ts\":1000,\"c\":\"granted\",\"m\":{\"v\":3}}}\n"
        "{\"stream\":\"ev\",\"partition\":0,\"offset\":1,\"ts\":2000000,\"key\":null,\"schema\":0,"
        "\"headers\":[[\"consent\",\"denied\"],[\"model\",\"1.5\"],[\"svc\",\"ranker\"],[\"at\",\"@home\"],[\"empty\",\"\"]],"
        "\"value\":{\"ts\":2000,\"c\":\"denied\",\"m\":{\"v\":1.50}}}\n"
        "{\"stream\":\"ev\",\"partition\":0,\"offset\":2,\"ts\":3000000,\"key\":null,\"schema\":0,"
        "\"headers\":[[\"consent\",\"granted\"],[\"model\",\"x\\\"y\"],[\"svc\",\"ranker\"],[\"at\",\"@home\"],[\"empty\",\"\"]],"
        "\"value\":{\"ts\":3000,\"c\":\"granted\",\"m\":{\"v\":\"x\\\"y\"}}}\n",
        (const char *const[]){ NULL });
}

Test(headers_cli, events_without_headers_have_no_member)
{
    append_ok("{\"ts\":1}\n", (const char *const[]){ NULL });
    assert_replay("{\"stream\":\"ev\",\"partition\":0,\"offset\":0,\"ts\":1000,\"key\":null,\"schema\":0,\"value\":{\"ts\":1}}\n",
                  (const char *const[]){ NULL });
}

Test(headers_cli, the_filter_keeps_events_carrying_every_header_given)
{
    append_ok(lines, (const char *const[]){ "--header", "consent=@c", "--header", "tag=a", "--header", "tag=b", NULL });
    append_ok("{\"ts\":4000,\"c\":\"granted\"}\n", (const char *const[]){ NULL }); /* no headers at all */
    const char *const value[] = { "--format", "value", "--header", "consent=granted", NULL };
    assert_replay("{\"ts\":1000,\"c\":\"granted\",\"m\":{\"v\":3}}\n"
                  "{\"ts\":3000,\"c\":\"granted\",\"m\":{\"v\":\"x\\\"y\"}}\n",
                  value);
    /* A repeated name matches any of its values; every filter must hold. */
    assert_replay("{\"ts\":2000,\"c\":\"denied\",\"m\":{\"v\":1.50}}\n",
                  (const char *const[]){ "--format", "value", "--header", "tag=b", "--header", "consent=denied", NULL });
    assert_replay("", (const char *const[]){ "--header", "tag=c", NULL });
    assert_replay("", (const char *const[]){ "--header", "consent=grant", NULL }); /* exact values only */
}

Test(headers_cli, a_line_without_the_header_field_is_a_bad_line)
{
    run_result r = append("{\"ts\":1,\"c\":\"x\"}\n{\"ts\":2}\n", (const char *const[]){ "--header", "consent=@c", NULL });
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 2: no field 'c'"), "%s", r.err);
    run_free(&r);
    r = append("{\"ts\":3,\"c\":[1]}\n", (const char *const[]){ "--header", "consent=@c", NULL });
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 1: header field 'c' is not a string or a number"), "%s", r.err);
    run_free(&r);
    assert_replay("{\"stream\":\"ev\",\"partition\":0,\"offset\":0,\"ts\":1000,\"key\":null,\"schema\":0,"
                  "\"headers\":[[\"consent\",\"x\"]],\"value\":{\"ts\":1,\"c\":\"x\"}}\n",
                  (const char *const[]){ NULL });
}

Test(headers_cli, headers_count_against_the_record_limit)
{
    /* 59 bytes of value: with a header of 1 + 40 bytes the event is
     * exactly the stream's 100 bytes, with one more byte over it. */
    const char *line = "{\"ts\":1,\"pad\":\"0123456789012345678901234567890123456789xx\"}\n";
    append_ok(line, (const char *const[]){ "--header", "h=0123456789012345678901234567890123456789", NULL });
    run_result r = append(line, (const char *const[]){ "--header", "h=0123456789012345678901234567890123456789x", NULL });
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 1: event of 101 bytes (value, key and headers) exceeds the stream's record limit of "
                            "100 bytes"),
              "%s", r.err);
    run_free(&r);
}

Test(headers_cli, malformed_header_options_are_usage_errors)
{
    const char *const bad[] = { "=x", "novalue", "p=@", "p=@a..b" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        run_result r = append("{\"ts\":1}\n", (const char *const[]){ "--header", bad[i], NULL });
        cr_assert_eq(r.status, 2, "append --header %s: %d %s", bad[i], r.status, r.err);
        run_free(&r);
    }
    run_result r = RUN(NULL, "replay", store, "ev", "--header", "novalue");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--header wants NAME=VALUE"), "%s", r.err);
    run_free(&r);
}

Test(headers_cli, names_and_values_that_are_not_utf8_are_base64)
{
    siglog *s = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    siglog_header h[2] = { { "\xff", 1, "ok", 2 }, { "n", 1, "\xc3", 1 } };
    siglog_event e = { .value = "1", .value_len = 1, .timestamp_us = 5, .headers = h, .header_count = 2 };
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0);
    cr_assert_eq(siglog_close(s), 0);
    assert_replay("{\"stream\":\"ev\",\"partition\":0,\"offset\":0,\"ts\":5,\"key\":null,\"schema\":0,"
                  "\"headers\":[[{\"base64\":\"/w==\"},\"ok\"],[\"n\",{\"base64\":\"ww==\"}]],\"value\":1}\n",
                  (const char *const[]){ NULL });
}

Test(headers_cli, lines_whose_tombstone_field_is_true_are_tombstones)
{
    append_ok("{\"ts\":1,\"u\":\"a\",\"del\":true}\n"
              "{\"ts\":2,\"u\":\"b\",\"del\":false}\n"
              "{\"ts\":3,\"u\":\"c\",\"del\":null}\n"
              "{\"ts\":4,\"u\":\"d\"}\n"
              "{\"ts\":5,\"u\":\"e\",\"m\":{\"gone\":true}}\n",
              (const char *const[]){ "--key-field", "u", "--tombstone-field", "del", NULL });
    append_ok("{\"ts\":6,\"u\":\"e\",\"m\":{\"gone\":true}}\n",
              (const char *const[]){ "--key-field", "u", "--tombstone-field", "m.gone", NULL });
    assert_replay("{\"stream\":\"ev\",\"partition\":0,\"offset\":0,\"ts\":1000,\"key\":\"a\",\"schema\":0,"
                  "\"tombstone\":true,\"value\":{\"ts\":1,\"u\":\"a\",\"del\":true}}\n"
                  "{\"stream\":\"ev\",\"partition\":0,\"offset\":1,\"ts\":2000,\"key\":\"b\",\"schema\":0,"
                  "\"value\":{\"ts\":2,\"u\":\"b\",\"del\":false}}\n"
                  "{\"stream\":\"ev\",\"partition\":0,\"offset\":2,\"ts\":3000,\"key\":\"c\",\"schema\":0,"
                  "\"value\":{\"ts\":3,\"u\":\"c\",\"del\":null}}\n"
                  "{\"stream\":\"ev\",\"partition\":0,\"offset\":3,\"ts\":4000,\"key\":\"d\",\"schema\":0,"
                  "\"value\":{\"ts\":4,\"u\":\"d\"}}\n"
                  "{\"stream\":\"ev\",\"partition\":0,\"offset\":4,\"ts\":5000,\"key\":\"e\",\"schema\":0,"
                  "\"value\":{\"ts\":5,\"u\":\"e\",\"m\":{\"gone\":true}}}\n"
                  "{\"stream\":\"ev\",\"partition\":0,\"offset\":5,\"ts\":6000,\"key\":\"e\",\"schema\":0,"
                  "\"tombstone\":true,\"value\":{\"ts\":6,\"u\":\"e\",\"m\":{\"gone\":true}}}\n",
                  (const char *const[]){ NULL });
}

Test(headers_cli, a_tombstone_field_neither_boolean_nor_null_is_a_bad_line)
{
    const char *const bad[] = { "\"true\"", "1", "\"yes\"", "{}" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char line[64];
        snprintf(line, sizeof line, "{\"ts\":1,\"del\":%s}\n", bad[i]);
        run_result r = append(line, (const char *const[]){ "--tombstone-field", "del", NULL });
        cr_assert_eq(r.status, 1, "del %s: %d %s", bad[i], r.status, r.err);
        cr_assert(strstr(r.err, "line 1: tombstone field 'del' is not true, false or null"), "%s", r.err);
        run_free(&r);
    }
    assert_replay("", (const char *const[]){ NULL });
    run_result r = append("{\"ts\":1}\n", (const char *const[]){ "--tombstone-field", "a..b", NULL });
    cr_assert_eq(r.status, 2, "%d %s", r.status, r.err);
    run_free(&r);
}
