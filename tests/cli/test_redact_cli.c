/*
 * `siglog replay --redact LEVEL [--redact-mode hash|drop]`: no byte of a
 * value at or above the level leaves the store, over several streams and
 * in every format; pseudonyms are stable and equal to FORMAT.md §25
 * recomputed in Python (redact_check.py); drop removes the field; a replay
 * manifest records the redaction and --from-manifest redoes it; an event
 * that cannot be redacted ends the replay instead of going out as stored.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFINITION                                                                                               \
    "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"},"                                         \
    "\"user\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"},"                                             \
    "\"email\":{\"type\":\"string\",\"x-sensitivity\":\"secret\"},"                                              \
    "\"note\":{\"type\":\"string\",\"x-sensitivity\":\"internal\"},"                                             \
    "\"device\":{\"type\":\"object\",\"properties\":{\"id\":{\"x-sensitivity\":\"personal\"}},"                  \
    "\"additionalProperties\":{\"type\":\"string\"}},"                                                          \
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"}}}}\n"

#define CLICKS                                                                                                   \
    "{\"n\":1,\"user\":\"ursula-4411\",\"email\":\"ursula@mail.test\",\"note\":\"note-amber\","                  \
    "\"device\":{\"id\":\"dev-77ab\",\"model\":\"model-m1\"},\"tags\":[\"tag-olive\",\"tag-plum\"]}\n"            \
    "{\"n\":2,\"user\":\"viktor-9902\",\"note\":\"note-cedar\",\"device\":{\"id\":123456789}}\n"                  \
    "{\"n\":3,\"user\":\"ursula-4411\",\"tags\":[]}\n"
#define VIEWS "{\"n\":4,\"user\":\"viktor-9902\",\"page\":\"/home\"}\n"

/* Every value marked personal or secret above, as it would appear in output. */
static const char *const personal[] = { "ursula-4411", "ursula@mail.test", "dev-77ab", "tag-olive",
                                        "tag-plum",    "viktor-9902",      "123456789" };

static char *dir, *store, *definition, *originals;

static char *write_file(const char *name, const char *text)
{
    char *path = test_path(dir, name);
    run_write_file(path, text, strlen(text));
    return path;
}

static void ok(run_result r)
{
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
}

static void setup(void)
{
    dir = test_tmpdir("redact_cli");
    store = test_path(dir, "store");
    definition = write_file("def.json", DEFINITION);
    originals = write_file("originals.jsonl", CLICKS VIEWS);
    char *clicks = write_file("clicks.jsonl", CLICKS), *views = write_file("views.jsonl", VIEWS);
    ok(RUN(NULL, "init", store));
    ok(RUN(NULL, "stream", "create", store, "clicks", "--partitions", "2"));
    ok(RUN(NULL, "stream", "create", store, "views", "--partitions", "1"));
    ok(RUN(NULL, "schema", "add", store, "clicks", "--version", "1", "--file", definition));
    ok(RUN(NULL, "schema", "add", store, "views", "--version", "1", "--file", definition));
    ok(RUN(clicks, "append", store, "clicks", "--schema-version", "1", "--key-field", "n"));
    ok(RUN(views, "append", store, "views", "--schema-version", "1"));
    free(clicks);
    free(views);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(originals);
    free(definition);
    free(store);
    free(dir);
}

TestSuite(redact_cli, .init = setup, .fini = teardown, .timeout = 120);

static void assert_hidden(const char *out, size_t len)
{
    for (size_t i = 0; i < sizeof personal / sizeof *personal; i++)
        cr_assert_null(memmem(out, len, personal[i], strlen(personal[i])), "'%s' leaked:\n%s", personal[i], out);
}

/* The replay's standard output, which must succeed. */
static char *replay_out(const char *const *args, size_t *len)
{
    char *path = test_path(dir, "replay.out");
    run_result r = run_siglog_to(NULL, path, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    char *text = run_slurp(path, len);
    free(path);
    return text;
}

Test(redact_cli, hashes_hide_every_personal_value_and_follow_the_documented_formula)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        cr_skip_test("python3 is missing");
    const char *const args[] = { "replay", store, "clicks,views", "--redact", "personal", NULL };
    char *path = test_path(dir, "redacted.jsonl");
    run_result r = run_siglog_to(NULL, path, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    size_t len, again_len;
    char *out = run_slurp(path, &len);
    assert_hidden(out, len);
    cr_assert(strstr(out, "note-amber") && strstr(out, "model-m1") && strstr(out, "/home"),
              "below the level stays:\n%s", out);

    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/redact_check.py' '%s' '%s' personal '%s' '%s'",
             getenv("SIGLOG_CLI_TEST_DIR"), store, definition, originals, path);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "the formula disagrees with the replay:\n%s", out);

    char *again = replay_out(args, &again_len);
    cr_assert(again_len == len && memcmp(again, out, len) == 0, "a second replay differs:\n%s\n%s", out, again);
    free(again);
    free(out);
    free(path);
}

/* Each output line of --format value, parsed. */
static json_t *line_values(const char *out)
{
    json_t *list = json_array();
    for (const char *p = out, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, NULL);
        cr_assert(json_is_object(v), "not a JSON object: %.*s", (int)(nl - p), p);
        json_array_append_new(list, v);
    }
    return list;
}

Test(redact_cli, drop_removes_the_fields_in_value_format)
{
    size_t len;
    char *out = replay_out((const char *const[]){ "replay", store, "clicks", "--stream", "views", "--redact",
                                                  "personal", "--redact-mode", "drop", "--format", "value", NULL },
                           &len);
    assert_hidden(out, len);
    json_t *values = line_values(out);
    cr_assert_eq(json_array_size(values), 4, "%s", out);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        cr_assert_null(json_object_get(v, "user"), "%s", out);
        cr_assert_null(json_object_get(v, "email"), "%s", out);
        json_t *device = json_object_get(v, "device"), *tags = json_object_get(v, "tags");
        cr_assert(!device || (!json_object_get(device, "id") && json_object_size(device) <= 1), "%s", out);
        cr_assert(!tags || json_array_size(tags) == 0, "every element is personal: %s", out);
        if (json_integer_value(json_object_get(v, "n")) == 1) {
            cr_assert_str_eq(json_string_value(json_object_get(v, "note")), "note-amber");
            cr_assert_str_eq(json_string_value(json_object_get(device, "model")), "model-m1");
        }
    }
    json_decref(values);
    free(out);

    /* At secret only the email goes. */
    out = replay_out((const char *const[]){ "replay", store, "clicks", "--redact", "secret", NULL }, &len);
    cr_assert_null(strstr(out, "ursula@mail.test"), "%s", out);
    cr_assert(strstr(out, "ursula-4411") && strstr(out, "dev-77ab"), "%s", out);
    free(out);
}

Test(redact_cli, a_manifest_records_the_redaction_and_from_manifest_redoes_it)
{
    char *manifest = test_path(dir, "m.json");
    size_t len, again_len;
    char *out = replay_out((const char *const[]){ "replay", store, "clicks,views", "--redact", "personal",
                                                  "--redact-mode", "drop", "--manifest", manifest, NULL },
                           &len);
    json_t *doc = json_load_file(manifest, 0, NULL);
    json_t *redact = json_object_get(json_object_get(doc, "options"), "redact");
    cr_assert_str_eq(json_string_value(json_object_get(redact, "level")), "personal");
    cr_assert_str_eq(json_string_value(json_object_get(redact, "mode")), "drop");

    char *again = replay_out((const char *const[]){ "replay", "--from-manifest", manifest, NULL }, &again_len);
    cr_assert(again_len == len && memcmp(again, out, len) == 0, "from the manifest:\n%s\nfirst:\n%s", again, out);
    free(again);
    ok(RUN(NULL, "manifest", "verify", manifest));

    /* The digest is of the redacted values: the same manifest without its
     * redaction no longer describes what the store delivers. */
    json_object_set_new(json_object_get(doc, "options"), "redact", json_null());
    cr_assert_eq(json_dump_file(doc, manifest, 0), 0);
    run_result r = RUN(NULL, "replay", "--from-manifest", manifest);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_eq(r.out_len, 0, "nothing is written when the check fails: %s", r.out);
    run_free(&r);
    json_decref(doc);
    free(out);
    free(manifest);
}

Test(redact_cli, an_event_that_cannot_be_redacted_ends_the_replay)
{
    char *raw = write_file("raw.jsonl", "{\"user\":\"zed-0000-private\"}\n");
    ok(RUN(NULL, "stream", "create", store, "raw", "--partitions", "1"));
    ok(RUN(raw, "append", store, "raw", "--schema-version", "5"));
    run_result r = RUN(NULL, "replay", store, "raw", "--redact", "internal");
    cr_assert_eq(r.status, 1);
    cr_assert_null(strstr(r.out, "zed-0000-private"), "%s", r.out);
    cr_assert(strstr(r.err, "has not registered"), "%s", r.err);
    run_free(&r);
    free(raw);

    const char *const usage[][8] = {
        { "replay", store, "clicks", "--redact-mode", "drop", NULL },
        { "replay", store, "clicks", "--redact", "public", NULL },
        { "replay", store, "clicks", "--redact", "everything", NULL },
        { "replay", store, "clicks", "--redact", "personal", "--redact-mode", "blur", NULL },
    };
    for (size_t i = 0; i < sizeof usage / sizeof *usage; i++) {
        r = run_siglog(NULL, usage[i]);
        cr_assert_eq(r.status, 2, "%s %s: exit %d %s", usage[i][3], usage[i][4], r.status, r.err);
        run_free(&r);
    }
}
