/*
 * Schema contracts in the tool: `siglog schema add|check|list|show`,
 * `stream config --set contract=...` and `append --schema-version`: a
 * contract's life (register v1, append, evolve to v2 backward-compatibly,
 * a refused v3 with every reason, enforcement refusing a line and
 * appending nothing), outputs compared word for word.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir, *store;

static char *write_file(const char *name, const char *text)
{
    char *path = test_path(dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void setup(void)
{
    dir = test_tmpdir("schema_cli");
    store = test_path(dir, "store");
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "clicks", "--partitions", "1");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(schema_cli, .init = setup, .fini = teardown, .timeout = 120);

#define V1 "{\"type\":\"object\",\"required\":[\"user\",\"action\"],\"properties\":{\"user\":{\"type\":\"string\"}," \
           "\"action\":{\"enum\":[\"click\",\"view\"]},\"item\":{\"type\":\"integer\"}}}\n"
#define V2 "{\"type\":\"object\",\"required\":[\"user\",\"action\"],\"properties\":{\"user\":{\"type\":\"string\"}," \
           "\"action\":{\"enum\":[\"click\",\"view\"]},\"item\":{\"type\":\"number\"}}}\n"
#define V3 "{\"type\":\"object\",\"required\":[\"user\",\"action\",\"country\"],\"properties\":{"                    \
           "\"user\":{\"type\":\"integer\"},\"action\":{\"enum\":[\"click\",\"view\"]},\"country\":{\"type\":\"string\"}}}\n"

static run_result ok(run_result r)
{
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    return r;
}

Test(schema_cli, a_contracts_life)
{
    char *v1 = write_file("v1.json", V1), *v2 = write_file("v2.json", V2), *v3 = write_file("v3.json", V3);
    char *good = write_file("good.jsonl", "{\"user\":\"u1\",\"action\":\"click\",\"item\":3}\n");
    char *bad = write_file("bad.jsonl", "{\"user\":\"u2\",\"action\":\"click\"}\n{\"user\":\"u3\",\"action\":\"tap\"}\n");
    run_result r = ok(RUN(NULL, "schema", "add", store, "clicks", "--version", "1", "--file", v1, "--name", "clicks"));
    cr_assert(strstr(r.out, "version 1 of clicks: fingerprint "), "%s", r.out);
    run_free(&r);
    r = ok(RUN(NULL, "stream", "config", store, "clicks", "--set", "contract=enforce"));
    run_free(&r);
    r = ok(RUN(good, "append", store, "clicks", "--schema-version", "1"));
    run_free(&r);
    r = ok(RUN(NULL, "schema", "add", store, "clicks", "--version", "2", "--file", v2));
    run_free(&r);

    r = RUN(NULL, "schema", "add", store, "clicks", "--version", "3", "--file", v3);
    cr_assert_eq(r.status, 1);
    char want[4096];
    snprintf(want, sizeof want,
             "  against version 2: $.country: absent -> required string: old events may lack it; the new "
             "definition requires it\n"
             "  against version 2: $.user: string -> integer: old events may hold string here, which the "
             "new definition refuses\n"
             "siglog schema: add version 3 of clicks from %s: breaks the stream's schema contract (version 3 is not "
             "backward compatible with version 2: 2 reasons)\n",
             v3);
    cr_assert_str_eq(r.err, want);
    run_free(&r);
    /* check: the same decision as a dry run, its answer on standard
     * output (each reason, then why), exit 1; nothing registered. */
    r = RUN(NULL, "schema", "check", store, "clicks", "--version", "3", "--file", v3);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_str_eq(r.out,
                     "  against version 2: $.country: absent -> required string: old events may lack it; the new "
                     "definition requires it\n"
                     "  against version 2: $.user: string -> integer: old events may hold string here, which the "
                     "new definition refuses\n"
                     "incompatible: version 3 is not backward compatible with version 2: 2 reasons\n");
    cr_assert_str_eq(r.err, "");
    run_free(&r);
    r = RUN(NULL, "schema", "show", store, "clicks", "--version", "3");
    cr_assert_eq(r.status, 1, "check registered version 3: %s", r.out);
    run_free(&r);
    r = RUN(NULL, "schema", "check", store, "clicks", "--version", "3", "--file", v3, "--compat", "none");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "compatible: version 3 may be registered under none\n");
    run_free(&r);

    /* Enforced: the second line breaks v1, so nothing of the input is appended. */
    r = RUN(bad, "append", store, "clicks", "--schema-version", "1");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "event 1 does not conform to schema version 1 of stream 'clicks': $.action is not one "
                            "of [\"click\",\"view\"]"),
              "%s", r.err);
    run_free(&r);
    r = ok(RUN(NULL, "replay", store, "clicks", "--format", "value"));
    cr_assert_str_eq(r.out, "{\"user\":\"u1\",\"action\":\"click\",\"item\":3}\n");
    run_free(&r);

    r = ok(RUN(NULL, "schema", "list", store, "clicks", "--json"));
    cr_assert(strstr(r.out, "\"version\": 2"), "%s", r.out);
    cr_assert(strstr(r.out, "\"compat\": \"backward\""), "%s", r.out);
    cr_assert_null(strstr(r.out, "\"version\": 3"));
    run_free(&r);
    r = ok(RUN(NULL, "schema", "show", store, "clicks", "--version", "1"));
    cr_assert_str_eq(r.out, "{\"properties\":{\"action\":{\"enum\":[\"click\",\"view\"]},\"item\":{\"type\":\"integer\"},"
                            "\"user\":{\"type\":\"string\"}},\"required\":[\"user\",\"action\"],\"type\":\"object\"}\n");
    run_free(&r);
    r = RUN(NULL, "schema", "show", store, "clicks", "--version", "9");
    cr_assert_eq(r.status, 1);
    run_free(&r);
    r = RUN(NULL, "schema", "add", store, "clicks", "--file", v1);
    cr_assert_eq(r.status, 2);
    run_free(&r);
    free(v1);
    free(v2);
    free(v3);
    free(good);
    free(bad);
}

/* Under warn, nonconforming lines are stored and counted per version and
 * path; `schema list` and `stat` show where each version's events are,
 * from a store closed in between (the figures persisted). */
Test(schema_cli, usage_and_warn_counts_in_list_and_stat)
{
    char *v1 = write_file("v1.json", V1);
    char *lines = write_file("lines.jsonl", "{\"user\":\"u1\",\"action\":\"click\"}\n"
                                            "{\"user\":7,\"action\":\"tap\"}\n"
                                            "{\"user\":\"u2\",\"action\":\"view\"}\n");
    run_result r = ok(RUN(NULL, "schema", "add", store, "clicks", "--version", "1", "--file", v1));
    run_free(&r);
    r = ok(RUN(NULL, "stream", "config", store, "clicks", "--set", "contract=warn"));
    run_free(&r);
    r = ok(RUN(lines, "append", store, "clicks", "--schema-version", "1"));
    run_free(&r);
    r = ok(RUN(NULL, "schema", "list", store, "clicks"));
    const char *want_tail = "  partition 0 v1 offsets 0..2 events 3 nonconforming 1 time ";
    cr_assert(strstr(r.out, want_tail), "%s", r.out);
    cr_assert(strstr(r.out, "\n  nonconforming at $.user: 1\n  nonconforming at $.action: 1\n"), "%s", r.out);
    run_free(&r);
    r = ok(RUN(NULL, "schema", "list", store, "clicks", "--json"));
    cr_assert(strstr(r.out, "\"nonconforming\": 1,\n    \"nonconforming_paths\": {\n"), "%s", r.out);
    cr_assert(strstr(r.out, "\"$.action\": 1") && strstr(r.out, "\"$.user\": 1"), "%s", r.out);
    cr_assert(strstr(r.out, "\"first_offset\": 0,\n        \"last_offset\": 2,\n"), "%s", r.out);
    run_free(&r);
    r = ok(RUN(NULL, "stat", store));
    cr_assert(strstr(r.out, "\n        schema v1 offsets 0..2 events 3 nonconforming 1 time "), "%s", r.out);
    run_free(&r);
    r = ok(RUN(NULL, "stat", store, "--json"));
    cr_assert(strstr(r.out, "\"schema_versions\": ["), "%s", r.out);
    cr_assert(strstr(r.out, "\"events\": 3,\n              \"nonconforming\": 1"), "%s", r.out);
    run_free(&r);
    free(v1);
    free(lines);
}

/* append --schema-field: each line's version is its own field; a line
 * without a usable one is a bad line; replay --schema-version gives
 * exactly the lines of that version. */
Test(schema_cli, schema_field_sets_each_events_version)
{
    char *lines = write_file("lines.jsonl", "{\"v\":{\"n\":2},\"a\":1}\n"
                                            "{\"v\":{\"n\":1},\"a\":2}\n"
                                            "{\"v\":{\"n\":4294967295},\"a\":3}\n"
                                            "{\"v\":{\"n\":2},\"a\":4}\n");
    char *bad = write_file("bad.jsonl", "{\"v\":{\"n\":2},\"a\":5}\n{\"v\":{\"n\":\"2\"},\"a\":6}\n{\"a\":7}\n"
                                        "{\"v\":{\"n\":-1}}\n{\"v\":{\"n\":4294967296}}\n{\"v\":{\"n\":2.5}}\n");
    run_result r = ok(RUN(lines, "append", store, "clicks", "--schema-field", "v.n"));
    run_free(&r);
    r = ok(RUN(NULL, "replay", store, "clicks", "--schema-version", "2", "--format", "value"));
    cr_assert_str_eq(r.out, "{\"v\":{\"n\":2},\"a\":1}\n{\"v\":{\"n\":2},\"a\":4}\n");
    run_free(&r);
    r = ok(RUN(NULL, "replay", store, "clicks", "--schema-version", "4294967295", "--format", "value"));
    cr_assert_str_eq(r.out, "{\"v\":{\"n\":4294967295},\"a\":3}\n");
    run_free(&r);
    r = RUN(bad, "append", store, "clicks", "--schema-field", "v.n", "--on-error", "skip");
    cr_assert_eq(r.status, 0, "%s", r.err); /* skip: each bad line reported, the rest appended */
    cr_assert(strstr(r.err, "line 2: schema field 'v.n' is not an integer from 0 to 4294967295"), "%s", r.err);
    cr_assert(strstr(r.err, "line 3: no field 'v.n'"), "%s", r.err);
    cr_assert(strstr(r.err, "line 4: schema field 'v.n' is not an integer"), "%s", r.err);
    cr_assert(strstr(r.err, "line 5: schema field 'v.n' is not an integer"), "%s", r.err);
    cr_assert(strstr(r.err, "line 6: schema field 'v.n' is not an integer"), "%s", r.err);
    run_free(&r);
    r = ok(RUN(NULL, "replay", store, "clicks", "--schema-version", "2", "--format", "value"));
    cr_assert_str_eq(r.out, "{\"v\":{\"n\":2},\"a\":1}\n{\"v\":{\"n\":2},\"a\":4}\n{\"v\":{\"n\":2},\"a\":5}\n");
    run_free(&r);
    r = RUN(lines, "append", store, "clicks", "--schema-field", "v.n", "--schema-version", "1");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--schema-version and --schema-field exclude each other"), "%s", r.err);
    run_free(&r);
    free(lines);
    free(bad);
}

/* stream create --contract MODE: the setting from the start, the same as
 * --set contract=MODE; a mode it does not know is a usage error. */
Test(schema_cli, stream_create_takes_the_contract)
{
    run_result r = ok(RUN(NULL, "stream", "create", store, "orders", "--partitions", "1", "--contract", "enforce"));
    run_free(&r);
    r = ok(RUN(NULL, "stream", "config", store, "orders", "--json"));
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "contract")), "enforce", "%s", r.out);
    json_decref(doc);
    run_free(&r);
    char *line = write_file("order.jsonl", "{\"id\":1}\n");
    r = RUN(line, "append", store, "orders", "--schema-version", "1");
    cr_assert_eq(r.status, 1, "version 1 is not registered: %s", r.out);
    run_free(&r);
    r = RUN(NULL, "stream", "create", store, "bills", "--partitions", "1", "--contract", "strict");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--contract"), "%s", r.err);
    run_free(&r);
    free(line);
}

/* A definition file cut short or naming a keyword outside the subset is
 * refused with a one-line reason (where the text breaks; the keyword and
 * its path), and neither the registry nor the log changes. */
Test(schema_cli, a_broken_definition_file_is_refused_and_changes_nothing)
{
    char *v1 = write_file("v1.json", V1), *good = write_file("good.jsonl", "{\"user\":\"u1\",\"action\":\"click\"}\n");
    run_result r = ok(RUN(NULL, "schema", "add", store, "clicks", "--version", "1", "--file", v1));
    run_free(&r);
    r = ok(RUN(good, "append", store, "clicks", "--schema-version", "1"));
    run_free(&r);
    run_result before = ok(RUN(NULL, "schema", "list", store, "clicks", "--json"));
    run_result log = ok(RUN(NULL, "replay", store, "clicks"));

    /* Cut short, outside the subset, and corrupt: a NUL byte inside a
     * string, bytes that are not UTF-8, an empty file. Each is refused by
     * add and by check, naming the file and where in it. */
#define BYTES(literal) literal, sizeof literal - 1
    static const struct {
        const char *name, *bytes;
        size_t len;
        const char *reason;
    } broken[] = {
        { "cut.json", BYTES("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"strin"),
          "schema definition is not JSON: line 1 column 49: premature end of input" },
        { "unknown.json", BYTES("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"format\":\"email\"}}}"),
          "schema definition: unknown keyword \"format\" at $.properties.a" },
        { "nul.json", BYTES("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"str\0ing\"}}}"),
          "schema definition is not JSON: line 1 column 47: control character 0x0" },
        { "utf8.json", BYTES("{\"type\":\"object\",\"properties\":{\"\xff\xfe\":{\"type\":\"string\"}}}"),
          "schema definition is not JSON: line 1 column 32: unable to decode byte 0xff" },
        { "empty.json", BYTES(""), "schema definition is not JSON: line 1 column 0: '[' or '{' expected near end of file" },
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        char *file = test_path(dir, broken[i].name);
        run_write_file(file, broken[i].bytes, broken[i].len);
        for (int check = 0; check < 2; check++) {
            r = RUN(NULL, "schema", check ? "check" : "add", store, "clicks", "--version", "2", "--file", file);
            cr_assert_eq(r.status, 1, "%s: %s", broken[i].name, r.err);
            char named[4096];
            snprintf(named, sizeof named, "version 2 of clicks from %s: invalid argument (%s", file, broken[i].reason);
            cr_assert(strstr(r.err, named), "%s: %s", broken[i].name, r.err);
            run_free(&r);
        }
        free(file);
    }

    r = ok(RUN(NULL, "schema", "list", store, "clicks", "--json"));
    cr_assert_str_eq(r.out, before.out);
    run_free(&r);
    r = ok(RUN(NULL, "replay", store, "clicks"));
    cr_assert_str_eq(r.out, log.out);
    run_free(&r);
    run_free(&before);
    run_free(&log);
    free(v1);
    free(good);
}
