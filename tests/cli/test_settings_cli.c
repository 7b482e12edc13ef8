/*
 * settings_cli — the settings table end to end through the tool: every
 * setting (the table walked, so a new one is covered without a change
 * here) set by `stream create --set` and `stream config --set` comes back
 * the same from stream.meta, `stream list --json` and `stream config
 * --json`; stream.meta entries the table does not know are kept across a
 * `stream config` rewrite when optional and refuse the stream, with one
 * line naming the tag, when they must be understood.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "names.h"
#include "run.h"
#include "stream.h"
#include "support.h"

static char *dir, *store;

static void setup(void)
{
    dir = test_tmpdir("settings-cli");
    store = test_path(dir, "store");
    run_result r = RUN(NULL, "init", store);
    cr_assert_eq(r.status, 0, "init: %s", r.err);
    run_free(&r);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(settings_cli, .init = setup, .fini = teardown, .timeout = 120);

/* A text setting's value other than its default (""), and the number
 * that stands for it in the tables of values below (its default: 0). */
#define TEXT_VALUE "/srv/cold tier"
#define TEXT_SET 1

/* A value other than the default: the minimum, or the maximum when the
 * minimum is the default. */
static uint64_t other_value(const siglog_setting *set)
{
    if (set->type == SIGLOG_SETTING_TEXT)
        return TEXT_SET;
    return set->min != set->default_value ? set->min : set->max;
}

/* The value of set in c, a text as the number standing for it. */
static uint64_t config_value(const siglog_stream_config *c, const siglog_setting *set)
{
    if (set->type != SIGLOG_SETTING_TEXT)
        return siglog_setting_get(c, set);
    const char *t = siglog_setting_text(c, set);
    cr_assert(!*t || strcmp(t, TEXT_VALUE) == 0, "%s is '%s'", set->name, t);
    return *t ? TEXT_SET : 0;
}

/* "NAME=VALUE" as the tool reads it. */
static void format_setting(char *out, size_t cap, const siglog_setting *set, uint64_t v)
{
    if (set->type == SIGLOG_SETTING_TEXT)
        snprintf(out, cap, "%s=%s", set->name, v == TEXT_SET ? TEXT_VALUE : "");
    else if (set->type == SIGLOG_SETTING_ENUM)
        snprintf(out, cap, "%s=%s", set->name, set->choices[v]);
    else if (set->type == SIGLOG_SETTING_DURATION)
        snprintf(out, cap, "%s=%lluus", set->name, (unsigned long long)(v * set->unit_us));
    else
        snprintf(out, cap, "%s=%llu", set->name, (unsigned long long)v);
}

/* The value of setting set in a stream's JSON object. */
static uint64_t json_value(json_t *o, const siglog_setting *set)
{
    json_t *f = json_object_get(o, set->name);
    if (set->type == SIGLOG_SETTING_TEXT) {
        cr_assert(json_is_string(f), "%s missing or not a string", set->name);
        cr_assert(!*json_string_value(f) || strcmp(json_string_value(f), TEXT_VALUE) == 0, "%s is '%s'", set->name,
                  json_string_value(f));
        return *json_string_value(f) ? TEXT_SET : 0;
    }
    if (set->type != SIGLOG_SETTING_ENUM) {
        cr_assert(json_is_integer(f), "%s missing or not an integer", set->name);
        return (uint64_t)json_integer_value(f);
    }
    cr_assert(json_is_string(f), "%s missing or not a string", set->name);
    for (uint64_t v = 0; set->choices[v]; v++)
        if (strcmp(set->choices[v], json_string_value(f)) == 0)
            return v;
    cr_assert_fail("%s: unknown choice %s", set->name, json_string_value(f));
    return 0;
}

static char *meta_path(const char *stream)
{
    char rel[192];
    snprintf(rel, sizeof rel, "streams/%s/%s", stream, STREAM_META_FILE);
    return test_path(store, rel);
}

/* stream.meta of `stream` decoded. */
static void meta_read(const char *stream, siglog_stream_config *c, stream_meta_extra *extra)
{
    char *path = meta_path(stream);
    size_t len;
    char *buf = run_slurp(path, &len);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode((const uint8_t *)buf, len, name, &id, c, extra, NULL), 0, "%s",
                 siglog_errdetail());
    free(buf);
    free(path);
}

/* Stream "s" holds want[i] for every row i: in stream.meta, in `stream
 * list --json` and in `stream config --json`. */
static void assert_settings(const uint64_t *want, const char *when)
{
    siglog_stream_config c;
    meta_read("s", &c, NULL);
    json_t *listed = run_json((const char *const[]){"stream", "list", store, "--json", NULL});
    json_t *shown = run_json((const char *const[]){"stream", "config", store, "s", "--json", NULL});
    cr_assert_eq(json_array_size(listed), 1);
    for (size_t i = 0; i < siglog_setting_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        cr_assert_eq(config_value(&c, set), want[i], "%s in stream.meta %s", set->name, when);
        cr_assert_eq(json_value(json_array_get(listed, 0), set), want[i], "%s from stream list --json %s", set->name,
                     when);
        cr_assert_eq(json_value(shown, set), want[i], "%s from stream config --json %s", set->name, when);
    }
    json_decref(listed);
    json_decref(shown);
}

Test(settings_cli, every_setting_round_trips_through_create_config_list_and_stream_meta)
{
    size_t n = siglog_setting_count();
    uint64_t *want = calloc(n, sizeof *want);
    char (*texts)[64] = calloc(n, sizeof *texts);
    const char **args = calloc(2 * n + 8, sizeof *args);
    cr_assert(want && texts && args);
    /* Created with every setting at its other value (partitions through
     * --set as well). */
    size_t k = 0;
    args[k++] = "stream";
    args[k++] = "create";
    args[k++] = store;
    args[k++] = "s";
    args[k++] = "--partitions";
    for (size_t i = 0; i < n; i++) {
        const siglog_setting *set = siglog_setting_at(i);
        want[i] = strcmp(set->name, "partitions") == 0 ? 3 : other_value(set);
        format_setting(texts[i], sizeof texts[i], set, want[i]);
        if (strcmp(set->name, "partitions") == 0) {
            args[k++] = "3";
            continue;
        }
        args[k++] = "--set";
        args[k++] = texts[i];
    }
    args[k] = NULL;
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    assert_settings(want, "after stream create");
    /* Every mutable one back to its default through stream config. */
    k = 4;
    args[0] = "stream";
    args[1] = "config";
    for (size_t i = 0; i < n; i++) {
        const siglog_setting *set = siglog_setting_at(i);
        if (!set->is_mutable)
            continue;
        want[i] = set->default_value;
        format_setting(texts[i], sizeof texts[i], set, want[i]);
        args[k++] = "--set";
        args[k++] = texts[i];
    }
    args[k] = NULL;
    r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    assert_settings(want, "after stream config --set");
    free(args);
    free(texts);
    free(want);
}

/* Stream "s" (one partition) whose stream.meta also holds an entry of
 * `tag` (3 bytes "abc"), as a newer writer would write it. */
static void stream_with_unknown_entry(uint16_t tag)
{
    RUN_OK("stream", "create", store, "s", "--partitions", "1");
    siglog_stream_config c;
    stream_meta_extra extra = {.len = 7};
    put_le16(extra.bytes, tag);
    put_le16(extra.bytes + 2, 3);
    memcpy(extra.bytes + 4, "abc", 3);
    char *path = meta_path("s");
    size_t len;
    char *old = run_slurp(path, &len);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode((const uint8_t *)old, len, name, &id, &c, NULL, NULL), 0);
    uint8_t buf[STREAM_META_BYTES_MAX];
    len = sl_stream_meta_encode(buf, name, id, &c, &extra);
    run_write_file(path, buf, len);
    free(old);
    free(path);
}

Test(settings_cli, an_unknown_optional_entry_survives_a_stream_config_rewrite)
{
    stream_with_unknown_entry(0x0100);
    RUN_OK("stream", "config", store, "s", "--set", "linger_us=7ms");
    siglog_stream_config c;
    stream_meta_extra extra;
    meta_read("s", &c, &extra);
    cr_assert_eq(c.linger_us, 7000);
    cr_assert_eq(extra.len, 7, "the entry was dropped");
    cr_assert_eq(get_le16(extra.bytes), 0x0100);
    cr_assert_eq(memcmp(extra.bytes + 4, "abc", 3), 0);
}

Test(settings_cli, an_unknown_must_understand_entry_refuses_the_stream_in_one_line)
{
    stream_with_unknown_entry(0x8100);
    char *path = meta_path("s");
    size_t before_len;
    char *before = run_slurp(path, &before_len);
    const char *const shows[] = {"stream", "config", store, "s", NULL};
    const char *const changes[] = {"stream", "config", store, "s", "--set", "linger_us=7ms", NULL};
    const char *const *runs[] = {shows, changes};
    for (size_t i = 0; i < 2; i++) {
        run_result r = run_siglog(NULL, runs[i]);
        cr_assert_eq(r.status, 1, "%s", r.err);
        cr_assert(strstr(r.err, "tag 0x8100 must be understood"), "%s", r.err);
        cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
        run_free(&r);
    }
    size_t after_len;
    char *after = run_slurp(path, &after_len);
    cr_assert(after_len == before_len && memcmp(after, before, before_len) == 0, "stream.meta changed");
    free(after);
    free(before);
    free(path);
}
