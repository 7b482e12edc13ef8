/*
 * Integration tests of the siglog tool: the real binary, run as a
 * subprocess on stores in scratch directories, with inputs generated here
 * deterministically. Each test states one promise of the CLI.
 */
#include "io_crash.h"
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixtures ---- */

typedef struct cli_env {
    char *dir;
    char *store;
} cli_env;

static cli_env env;

static void env_setup(void)
{
    env.dir = test_tmpdir("cli");
    env.store = test_path(env.dir, "store");
    run_result r = RUN(NULL, "init", env.store);
    cr_assert_eq(r.status, 0, "init failed: %s", r.err);
    run_free(&r);
}

static void env_teardown(void)
{
    test_rmtree(env.dir);
    free(env.store);
    free(env.dir);
}

TestSuite(cli, .init = env_setup, .fini = env_teardown, .timeout = 120);

static void create_stream(const char *name, const char *partitions)
{
    run_result r = RUN(NULL, "stream", "create", env.store, name, "--partitions", partitions);
    cr_assert_eq(r.status, 0, "stream create %s: %s", name, r.err);
    run_free(&r);
}

/* A scratch file path in the test directory (caller frees). */
static char *scratch(const char *name)
{
    return test_path(env.dir, name);
}

/* Event times of generated lines. */
enum ts_mode {
    TS_RANDOM, /* pseudo-random within one day */
    TS_STEP,   /* base + i ms: every line later than the one before */
    TS_TIES,   /* base + i/3 ms: non-decreasing, three lines per instant */
};

/* n JSON lines {"user":{"id":"u<k>"},"ts":<ms>,"n":<i>,"pad":"..."} with
 * keys drawn from nkeys and times by mode, written to a scratch file. */
static char *gen_lines(const char *name, size_t n, unsigned nkeys, enum ts_mode mode, size_t *len_out)
{
    uint64_t seed = 42;
    size_t cap = n * 96 + 1, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = test_rand(&seed);
        long long ts = 1396839069277LL + (mode == TS_STEP   ? (long long)i
                                          : mode == TS_TIES ? (long long)(i / 3)
                                                            : (long long)(r % 86400000));
        int padlen = (int)((r >> 32) % 24);
        int w = snprintf(buf + len, cap - len, "{\"user\":{\"id\":\"u%u\"},\"ts\":%lld,\"n\":%zu,\"pad\":\"%.*s\"}\n",
                         (unsigned)(r % nkeys), ts, i, padlen, "abcdefghijklmnopqrstuvwxyz");
        cr_assert(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
    }
    char *path = scratch(name);
    run_write_file(path, buf, len);
    if (len_out)
        *len_out = len;
    free(buf);
    return path;
}

static void append_file(const char *stream, const char *path, const char *const *extra)
{
    const char *args[16] = { "append", env.store, stream };
    size_t n = 3;
    for (; extra && *extra; extra++)
        args[n++] = *extra;
    args[n++] = path;
    args[n] = NULL;
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "append failed: %s", r.err);
    run_free(&r);
}

/* Parsed --format jsonl output. */
typedef struct envelopes {
    json_t **e;
    size_t n;
} envelopes;

static envelopes parse_envelopes(const char *text)
{
    envelopes v = { 0 };
    size_t cap = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "output ends without a newline");
        json_error_t err;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &err);
        cr_assert_not_null(o, "bad envelope '%.*s': %s", (int)(nl - p), p, err.text);
        if (v.n == cap) {
            cap = cap ? cap * 2 : 64;
            v.e = realloc(v.e, cap * sizeof *v.e);
            cr_assert_not_null(v.e);
        }
        v.e[v.n++] = o;
        p = nl + 1;
    }
    return v;
}

static void envelopes_free(envelopes *v)
{
    for (size_t i = 0; i < v->n; i++)
        json_decref(v->e[i]);
    free(v->e);
}

static json_int_t field_int(json_t *o, const char *name)
{
    json_t *f = json_object_get(o, name);
    cr_assert(json_is_integer(f), "field %s missing or not an integer", name);
    return json_integer_value(f);
}

static const char *field_str(json_t *o, const char *name)
{
    json_t *f = json_object_get(o, name);
    cr_assert(json_is_string(f), "field %s missing or not a string", name);
    return json_string_value(f);
}

/* Replay with arguments after "replay STORE STREAM"; asserts success. */
#define REPLAY(...) replay_ok((const char *const[]){ "replay", env.store, __VA_ARGS__, NULL })
static run_result replay_ok(const char *const *args)
{
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "replay failed (%d): %s", r.status, r.err);
    return r;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- usage and help ---- */

Test(cli, usage_errors_exit_2_with_a_message)
{
    const char *const *cases[] = {
        (const char *const[]){ NULL },
        (const char *const[]){ "frobnicate", NULL },
        (const char *const[]){ "init", NULL },
        (const char *const[]){ "init", "a", "b", NULL },
        (const char *const[]){ "stream", NULL },
        (const char *const[]){ "stream", "drop", "x", NULL },
        (const char *const[]){ "stream", "create", "s", "x", NULL },
        (const char *const[]){ "stream", "create", "s", "x", "--partitions", "0", NULL },
        (const char *const[]){ "stream", "create", "s", "x", "--partitions", "2", "--sync", "sometimes", NULL },
        (const char *const[]){ "stream", "create", "s", "x", "--partitions", "2", "--segment-age", "5", NULL },
        (const char *const[]){ "stream", "create", "s", "x", "--partitions", "2", "--segment-bytes", "1.5M", NULL },
        (const char *const[]){ "append", "s", NULL },
        (const char *const[]){ "append", "s", "x", "--time-unit", "h", NULL },
        (const char *const[]){ "append", "s", "x", "--key-field", "a..b", NULL },
        (const char *const[]){ "append", "s", "x", "--on-error", "ignore", NULL },
        (const char *const[]){ "append", "s", "x", "f1", "f2", NULL },
        (const char *const[]){ "replay", "s", "x", "--format", "xml", NULL },
        (const char *const[]){ "replay", "s", "x", "--limit", "ten", NULL },
        (const char *const[]){ "replay", "s", "x", "--limit", NULL },
        (const char *const[]){ "replay", "s", "x", "--from-time", "yesterday", NULL },
        (const char *const[]){ "replay", "s", "x", "--from-time", "1396839069", NULL },
        (const char *const[]){ "replay", "s", "x", "--to-time", "5", "--time-unit", "h", NULL },
        (const char *const[]){ "replay", "s", "x", "--partition", "1", "--partition", "1", NULL },
        (const char *const[]){ "replay", "s", "x", "--bogus", NULL },
        (const char *const[]){ "stat", "--json", NULL },
        (const char *const[]){ "verify", NULL },
        (const char *const[]){ "verify", "s", "t", NULL },
        (const char *const[]){ "verify", "s", "--fix", NULL },
        (const char *const[]){ "dump", NULL },
        (const char *const[]){ "dump", "--records", NULL },
        (const char *const[]){ "dump", "a.seg", "b.seg", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run_siglog(NULL, cases[i]);
        cr_expect_eq(r.status, 2, "case %zu (%s ...) exited %d", i, cases[i][0] ? cases[i][0] : "", r.status);
        cr_expect(r.err_len > 0, "case %zu printed nothing on stderr", i);
        cr_expect_eq(r.out_len, 0, "case %zu wrote to stdout", i);
        run_free(&r);
    }
}

Test(cli, every_command_has_help)
{
    const char *const *cases[] = {
        (const char *const[]){ "--help", NULL },
        (const char *const[]){ "help", NULL },
        (const char *const[]){ "help", "replay", NULL },
        (const char *const[]){ "init", "--help", NULL },
        (const char *const[]){ "stream", "--help", NULL },
        (const char *const[]){ "stream", "create", "--help", NULL },
        (const char *const[]){ "stream", "list", "-h", NULL },
        (const char *const[]){ "append", "--help", NULL },
        (const char *const[]){ "replay", "--help", NULL },
        (const char *const[]){ "stat", "--help", NULL },
        (const char *const[]){ "verify", "--help", NULL },
        (const char *const[]){ "help", "dump", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run_siglog(NULL, cases[i]);
        cr_expect_eq(r.status, 0, "case %zu exited %d: %s", i, r.status, r.err);
        cr_expect(strstr(r.out, "usage") != NULL, "case %zu: no usage text", i);
        /* Help text is printed as it is, not as a printf format. */
        cr_expect(strstr(r.out, "%%") == NULL, "case %zu: help shows a doubled %%: %s", i, r.out);
        run_free(&r);
    }
    run_result r = RUN(NULL, "append", "--help");
    cr_expect(strstr(r.out, "xxh3(key) % partitions"), "%s", r.out);
    run_free(&r);
}

/* ---- init and streams ---- */

Test(cli, init_refuses_an_existing_store)
{
    run_result r = RUN(NULL, "init", env.store);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "already exists"), "%s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "one line on stderr: %s", r.err);
    run_free(&r);
}

/* Mode of path (lstat), 0 when missing. */
static unsigned mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

Test(cli, init_records_mode_and_sizes_the_journal)
{
    char *store = scratch("moded");
    run_result r = RUN(NULL, "init", store, "--mode", "0640", "--journal-bytes", "8388608");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *file = test_path(store, "siglog.store");
    char *journal = test_path(store, "journal");
    char *streams = test_path(store, "streams");
    cr_expect_eq(mode_of(file), 0640);
    cr_expect_eq(mode_of(journal), 0640);
    cr_expect_eq(mode_of(store), 0750, "directories get x wherever r is set");
    cr_expect_eq(mode_of(streams), 0750);
    cr_expect_eq(test_file_size(journal), 8u << 20);
    /* Later files too, whatever the writer's umask. */
    r = RUN(NULL, "stream", "create", store, "s", "--partitions", "1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *sd = test_path(streams, "s");
    cr_expect_eq(mode_of(sd), 0750);
    free(sd);
    static const char *const bad[] = {"0400", "640x", "01640", "", "7777"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *other = scratch("badmode");
        r = RUN(NULL, "init", other, "--mode", bad[i]);
        cr_expect_eq(r.status, 2, "--mode '%s': %s", bad[i], r.err);
        cr_expect_eq(mode_of(other), 0, "--mode '%s' created the store", bad[i]);
        run_free(&r);
        free(other);
    }
    char *small = scratch("small");
    r = RUN(NULL, "init", small, "--journal-bytes", "1000");
    cr_expect_eq(r.status, 2, "%s", r.err);
    run_free(&r);
    free(small);
    free(streams);
    free(journal);
    free(file);
    free(store);
}

Test(cli, failures_name_the_store_and_exit_1)
{
    char *missing = scratch("no-such-store");
    run_result r = RUN(NULL, "replay", missing, "clicks");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, missing), "%s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "replay", env.store, "nope");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "nope"), "%s", r.err);
    run_free(&r);
    free(missing);
}

Test(cli, a_diagnostic_is_one_line_whatever_it_quotes)
{
    run_result r = RUN(NULL, "stream", "create", env.store, "two\nlines\x01", "--partitions", "1");
    cr_assert_eq(r.status, 1);
    cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
    cr_assert(strstr(r.err, "two\\nlines\\x01"), "the name is quoted escaped: %s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "create", env.store, "s", "--partitions", "1", "--segment-bytes", "1\t2");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "'1\\t2'"), "a usage error quotes escaped too: %s", r.err);
    run_free(&r);
    r = RUN(NULL, "no\nsuch");
    cr_assert_eq(r.status, 2);
    const char *first = "siglog: unknown command 'no\\nsuch'\n"; /* then the usage */
    cr_assert(strncmp(r.err, first, strlen(first)) == 0, "%s", r.err);
    run_free(&r);
}

/* The text these tests give a text setting (cold_dir), and the number
 * standing for it (its default "" stands for 0). */
#define TEXT_SETTING_VALUE "/mnt/cold"
#define TEXT_SETTING_SET 1

/* The value of setting `set` in a stream's JSON object, as a number. */
static uint64_t json_setting(json_t *o, const siglog_setting *set)
{
    json_t *f = json_object_get(o, set->name);
    if (set->type == SIGLOG_SETTING_TEXT) {
        const char *t = field_str(o, set->name);
        cr_assert(!*t || strcmp(t, TEXT_SETTING_VALUE) == 0, "%s is '%s'", set->name, t);
        return *t ? TEXT_SETTING_SET : 0;
    }
    if (set->type != SIGLOG_SETTING_ENUM)
        return (uint64_t)field_int(o, set->name);
    cr_assert(json_is_string(f), "%s is no string", set->name);
    for (uint64_t v = 0; set->choices[v]; v++)
        if (strcmp(set->choices[v], json_string_value(f)) == 0)
            return v;
    cr_assert_fail("%s: unknown choice %s", set->name, json_string_value(f));
    return 0;
}

/* Every mutable setting changed in one `stream config` comes back the
 * same from `stream config --json`, `stream list --json` and the text. */
Test(cli, stream_config_round_trips_every_mutable_setting)
{
    run_result r = RUN(NULL, "stream", "create", env.store, "clicks", "--partitions", "2");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *args[64] = {"stream", "config", env.store, "clicks"};
    size_t n = 4;
    char texts[32][48];
    uint64_t want[32];
    for (size_t i = 0; i < siglog_setting_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        if (!set->is_mutable)
            continue;
        /* Its minimum, or its maximum when that is the default. */
        want[i] = set->min != set->default_value ? set->min : set->max;
        if (set->type == SIGLOG_SETTING_TEXT) {
            want[i] = TEXT_SETTING_SET;
            snprintf(texts[i], sizeof texts[i], "%s=%s", set->name, TEXT_SETTING_VALUE);
        } else if (set->type == SIGLOG_SETTING_ENUM)
            snprintf(texts[i], sizeof texts[i], "%s=%s", set->name, set->choices[want[i]]);
        else if (set->type == SIGLOG_SETTING_DURATION)
            snprintf(texts[i], sizeof texts[i], "%s=%lluus", set->name,
                     (unsigned long long)(want[i] * set->unit_us));
        else
            snprintf(texts[i], sizeof texts[i], "%s=%llu", set->name, (unsigned long long)want[i]);
        args[n++] = "--set";
        args[n++] = texts[i];
    }
    args[n++] = "--json";
    args[n] = NULL;
    r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *changed = json_loads(r.out, 0, NULL);
    run_free(&r);
    r = RUN(NULL, "stream", "list", env.store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *listed = json_loads(r.out, 0, NULL);
    run_free(&r);
    r = RUN(NULL, "stream", "config", env.store, "clicks", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *shown = json_loads(r.out, 0, NULL);
    run_free(&r);
    r = RUN(NULL, "stream", "config", env.store, "clicks");
    cr_assert_eq(r.status, 0, "%s", r.err);
    for (size_t i = 0; i < siglog_setting_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        uint64_t v = set->is_mutable ? want[i] : strcmp(set->name, "partitions") == 0 ? 2 : set->default_value;
        cr_assert_eq(json_setting(changed, set), v, "%s from stream config --set", set->name);
        cr_assert_eq(json_setting(json_array_get(listed, 0), set), v, "%s from stream list --json", set->name);
        cr_assert_eq(json_setting(shown, set), v, "%s from stream config --json", set->name);
        char line[96];
        snprintf(line, sizeof line, "%s=", set->name);
        cr_assert(strstr(r.out, line), "%s missing from the text: %s", set->name, r.out);
    }
    run_free(&r);
    json_decref(changed);
    json_decref(listed);
    json_decref(shown);
}

/* All or nothing: one setting fixed at creation refuses the whole change
 * (exit 1, naming it); a bad value is a usage error (exit 2). */
Test(cli, stream_config_refuses_all_or_nothing)
{
    run_result r = RUN(NULL, "stream", "create", env.store, "clicks", "--partitions", "2");
    run_free(&r);
    r = RUN(NULL, "stream", "config", env.store, "clicks", "--set", "linger_us=20ms", "--set", "partitions=4");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "partitions") && strstr(r.err, "cannot change") &&
                  strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
              "one line naming the setting: %s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "config", env.store, "clicks", "--set", "linger_us=20ms", "--set", "batch_bytes_max=1");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "batch_bytes_max"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "config", env.store, "clicks", "--json");
    json_t *o = json_loads(r.out, 0, NULL);
    cr_assert_eq(field_int(o, "linger_us"), 5000, "nothing changed");
    json_decref(o);
    run_free(&r);
    r = RUN(NULL, "audit", env.store, "--json");
    cr_assert(!strstr(r.out, "config"), "no change was audited: %s", r.out);
    run_free(&r);
}

Test(cli, stream_create_and_list)
{
    run_result r = RUN(NULL, "stream", "create", env.store, "outcomes", "--partitions", "3", "--segment-bytes", "1MiB",
                       "--segment-age", "1h", "--batch-bytes", "16KiB", "--compression", "none", "--sync",
                       "interval:250");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    create_stream("clicks", "8");

    r = RUN(NULL, "stream", "create", env.store, "clicks", "--partitions", "2");
    cr_assert_eq(r.status, 1, "a taken name is refused");
    run_free(&r);
    r = RUN(NULL, "stream", "create", env.store, "../evil", "--partitions", "2");
    cr_assert_eq(r.status, 1, "an invalid name is refused");
    run_free(&r);
    r = RUN(NULL, "stream", "create", env.store, "tiny", "--partitions", "2", "--batch-bytes", "100");
    cr_assert_eq(r.status, 2, "a batch limit under 1 KiB is outside the setting's range");
    cr_assert(strstr(r.err, "batch_bytes_max"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "create", env.store, "huge", "--partitions", "2", "--batch-bytes", "8GiB");
    cr_assert_eq(r.status, 2, "a size that does not fit is a usage error");
    run_free(&r);

    r = RUN(NULL, "stream", "list", env.store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "clicks\tpartitions=8\tcompression=lz4\tsync=interval:100\n"
                            "outcomes\tpartitions=3\tcompression=none\tsync=interval:250\n");
    run_free(&r);

    r = RUN(NULL, "stream", "list", env.store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, TS_RANDOM, NULL);
    cr_assert(json_is_array(doc) && json_array_size(doc) == 2, "%s", r.out);
    json_t *o = json_array_get(doc, 1);
    cr_assert_str_eq(field_str(o, "name"), "outcomes");
    cr_assert_eq(field_int(o, "partitions"), 3);
    cr_assert_eq(field_int(o, "segment_bytes_max"), 1 << 20);
    cr_assert_eq(field_int(o, "segment_age_max_us"), 3600000000LL);
    cr_assert_eq(field_int(o, "batch_bytes_max"), 16 << 10);
    cr_assert_eq(field_int(json_array_get(doc, 0), "batch_bytes_max"), 64 << 10, "the default");
    cr_assert_str_eq(field_str(o, "sync"), "interval:250");
    json_decref(doc);
    run_free(&r);
}

/* A valid value of set other than its default, as --set spells it. */
static uint64_t other_setting_value(const siglog_setting *set, char *text, size_t cap)
{
    uint64_t v = set->default_value < set->max ? set->default_value + 1 : set->default_value - 1;
    if (set->type == SIGLOG_SETTING_TEXT) {
        snprintf(text, cap, "%s=%s", set->name, TEXT_SETTING_VALUE);
        return TEXT_SETTING_SET;
    }
    if (set->type == SIGLOG_SETTING_ENUM)
        snprintf(text, cap, "%s=%s", set->name, set->choices[v]);
    else if (set->type == SIGLOG_SETTING_DURATION)
        snprintf(text, cap, "%s=%llu%s", set->name, (unsigned long long)v, set->unit_us == 1 ? "us" : "ms");
    else
        snprintf(text, cap, "%s=%llu", set->name, (unsigned long long)v);
    return v;
}

Test(cli, every_setting_round_trips_through_set_and_list_json)
{
    enum { MAX_SETTINGS = 32 };
    size_t n = siglog_setting_count();
    cr_assert_leq(n, MAX_SETTINGS);
    char texts[MAX_SETTINGS][96];
    uint64_t want[MAX_SETTINGS];
    const char *args[8 + 2 * MAX_SETTINGS] = { "stream", "create", env.store, "every", "--partitions", "1" };
    size_t argc = 6;
    for (size_t i = 0; i < n; i++) {
        want[i] = other_setting_value(siglog_setting_at(i), texts[i], sizeof texts[i]);
        args[argc++] = "--set";
        args[argc++] = texts[i];
    }
    args[argc] = NULL;
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);

    r = RUN(NULL, "stream", "list", env.store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    json_t *o = json_array_get(doc, 0);
    cr_assert_not_null(o, "%s", r.out);
    for (size_t i = 0; i < n; i++) {
        const siglog_setting *set = siglog_setting_at(i);
        if (set->type == SIGLOG_SETTING_ENUM || set->type == SIGLOG_SETTING_TEXT)
            cr_assert_eq(json_setting(o, set), want[i], "%s", set->name);
        else
            cr_assert_eq(field_int(o, set->name), (json_int_t)want[i], "%s: %s", set->name, r.out);
    }
    json_decref(doc);
    run_free(&r);

    /* A name that is no setting, and a value out of range, are usage
     * errors naming what is wrong; nothing is created. */
    r = RUN(NULL, "stream", "create", env.store, "bad", "--partitions", "1", "--set", "linger=5ms");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "linger=5ms"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "create", env.store, "bad", "--partitions", "1", "--set", "sync_interval_ms=1500us");
    cr_assert_eq(r.status, 2, "no whole number of milliseconds");
    cr_assert(strstr(r.err, "sync_interval_ms"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "create", env.store, "bad", "--partitions", "1", "--set", "linger_us=2m");
    cr_assert_eq(r.status, 2, "above the range");
    cr_assert(strstr(r.err, "linger_us is 120000000, must be 0..60000000"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "create", env.store, "bad", "--partitions", "1", "--set", "cold_dir=relative/cold");
    cr_assert_eq(r.status, 2, "a relative cold_dir");
    cr_assert(strstr(r.err, "cold_dir 'relative/cold' must be an absolute path"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "list", env.store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "bad"), "%s", r.out);
    run_free(&r);
}

/* ---- append and replay ---- */

Test(cli, round_trip_100k_events_byte_identical, .timeout = 300)
{
    create_stream("one", "1");
    size_t len;
    char *in = gen_lines("in.jsonl", 100000, 1000, TS_STEP, &len);
    append_file("one", in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    run_result r = REPLAY("one", "--format", "value");
    size_t in_len;
    char *expect = run_slurp(in, &in_len);
    cr_assert_eq(r.out_len, in_len, "replayed %zu bytes of %zu", r.out_len, in_len);
    cr_assert(memcmp(r.out, expect, in_len) == 0, "replayed bytes differ from the input");
    free(expect);
    run_free(&r);
    free(in);
}

Test(cli, merged_replay_of_partitions_reproduces_time_ordered_input, .timeout = 300)
{
    create_stream("clicks", "4");
    char *in = gen_lines("in.jsonl", 100000, 1000, TS_STEP, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    run_result r = REPLAY("clicks", "--format", "value", "--merge");
    size_t in_len;
    char *expect = run_slurp(in, &in_len);
    cr_assert_eq(r.out_len, in_len);
    cr_assert(memcmp(r.out, expect, in_len) == 0, "merged replay is not the input order");
    free(expect);
    run_free(&r);
    free(in);
}

/* (ts, partition, offset) of envelope i strictly before that of j. */
static int merge_key_less(json_t *a, json_t *b)
{
    json_int_t ta = field_int(a, "ts"), tb = field_int(b, "ts");
    json_int_t pa = field_int(a, "partition"), pb = field_int(b, "partition");
    return ta < tb || (ta == tb && (pa < pb || (pa == pb && field_int(a, "offset") < field_int(b, "offset"))));
}

Test(cli, merge_sorts_by_time_partition_offset)
{
    create_stream("clicks", "4");
    /* Non-decreasing times with ties across partitions: the merged replay
     * must be totally ordered by (ts, partition, offset). */
    char *in = gen_lines("in.jsonl", 3000, 50, TS_TIES, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    run_result r = REPLAY("clicks", "--merge");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 3000);
    size_t partitions_seen[4] = { 0 };
    for (size_t i = 0; i < v.n; i++) {
        partitions_seen[field_int(v.e[i], "partition")]++;
        if (i > 0)
            cr_assert(merge_key_less(v.e[i - 1], v.e[i]), "event %zu out of order", i);
    }
    for (int p = 0; p < 4; p++)
        cr_assert_gt(partitions_seen[p], 0, "50 keys should reach every partition");
    envelopes_free(&v);
    run_free(&r);
    free(in);
}

Test(cli, merge_of_unordered_partitions_is_a_k_way_merge)
{
    create_stream("clicks", "3");
    /* Random times: a partition is not sorted by time, and the merge must
     * neither sort nor reorder it; at each step it takes the smallest head
     * (the oracle below replays that rule over the per-partition replays). */
    char *in = gen_lines("in.jsonl", 1500, 30, TS_RANDOM, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    envelopes part[3];
    run_result pr[3];
    size_t head[3] = { 0 };
    const char *names[] = { "0", "1", "2" };
    for (int p = 0; p < 3; p++) {
        pr[p] = REPLAY("clicks", "--partition", names[p]);
        part[p] = parse_envelopes(pr[p].out);
    }
    run_result r = REPLAY("clicks", "--merge");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, part[0].n + part[1].n + part[2].n);
    for (size_t i = 0; i < v.n; i++) {
        int best = -1;
        for (int p = 0; p < 3; p++)
            if (head[p] < part[p].n && (best < 0 || merge_key_less(part[p].e[head[p]], part[best].e[head[best]])))
                best = p;
        json_t *want = part[best].e[head[best]++];
        cr_assert(json_equal(want, v.e[i]), "merged event %zu differs from the k-way merge", i);
    }
    for (int p = 0; p < 3; p++) {
        envelopes_free(&part[p]);
        run_free(&pr[p]);
    }
    envelopes_free(&v);
    run_free(&r);
    free(in);
}

Test(cli, unmerged_replay_reads_partitions_in_turn_in_offset_order)
{
    create_stream("clicks", "3");
    char *in = gen_lines("in.jsonl", 600, 20, TS_RANDOM, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", NULL });
    run_result r = REPLAY("clicks");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 600);
    for (size_t i = 1; i < v.n; i++) {
        json_int_t p0 = field_int(v.e[i - 1], "partition"), p1 = field_int(v.e[i], "partition");
        json_int_t o0 = field_int(v.e[i - 1], "offset"), o1 = field_int(v.e[i], "offset");
        cr_assert(p0 < p1 || (p0 == p1 && o1 == o0 + 1), "event %zu: %lld/%lld after %lld/%lld", i, (long long)p1,
                  (long long)o1, (long long)p0, (long long)o0);
    }
    envelopes_free(&v);
    run_free(&r);
    free(in);
}

Test(cli, envelope_fields_and_key_and_time_conversions)
{
    create_stream("one", "1");
    const char lines[] = "{\"k\":\"user-1\",\"t\":1396839069.277,\"v\":[1,2]}\n"
                         "{\"k\":42,\"t\":\"2014-04-07T03:11:09.5+01:00\"}\n"
                         "{\"k\":1.50,\"t\":1396839069}\n";
    char *in = scratch("in.jsonl");
    run_write_file(in, lines, sizeof lines - 1);
    append_file("one", in,
                (const char *const[]){ "--key-field", "k", "--time-field", "t", "--time-unit", "s", "--schema-version",
                                       "7", NULL });
    run_result r = REPLAY("one");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 3);
    const char *keys[] = { "user-1", "42", "1.5" };
    const json_int_t ts[] = { 1396839069277000LL, 1396836669500000LL, 1396839069000000LL };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(field_str(v.e[i], "stream"), "one");
        cr_assert_eq(field_int(v.e[i], "partition"), 0);
        cr_assert_eq(field_int(v.e[i], "offset"), (json_int_t)i);
        cr_assert_eq(field_int(v.e[i], "ts"), ts[i], "event %zu ts %lld", i, (long long)field_int(v.e[i], "ts"));
        cr_assert_str_eq(field_str(v.e[i], "key"), keys[i]);
        cr_assert_eq(field_int(v.e[i], "schema"), 7);
    }
    json_t *value = json_object_get(v.e[0], "value");
    cr_assert(json_is_object(value), "the value is embedded as JSON");
    cr_assert(json_is_array(json_object_get(value, "v")));
    envelopes_free(&v);
    run_free(&r);
    free(in);
}

Test(cli, keyless_events_have_null_key_and_append_time)
{
    create_stream("one", "1");
    char *in = scratch("in.jsonl");
    const char lines[] = "{\"a\":1}\n[true]\n\"just a string\"\n";
    run_write_file(in, lines, sizeof lines - 1);
    append_file("one", in, NULL);
    run_result r = REPLAY("one");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 3);
    for (size_t i = 0; i < v.n; i++) {
        cr_assert(json_is_null(json_object_get(v.e[i], "key")));
        cr_assert_gt(field_int(v.e[i], "ts"), 1500000000000000LL, "append time is now-ish, not 0");
    }
    cr_assert_str_eq(json_string_value(json_object_get(v.e[2], "value")), "just a string");
    envelopes_free(&v);
    run_free(&r);
    free(in);
}

Test(cli, replay_offset_ranges_are_half_open)
{
    create_stream("clicks", "2");
    char *in = gen_lines("in.jsonl", 100, 1, TS_STEP, NULL);
    /* One key: every event in one partition, offsets 0..99. */
    append_file("clicks", in, (const char *const[]){ "--partition", "1", NULL });
    run_result r = REPLAY("clicks", "--partition", "1", "--from-offset", "10", "--to-offset", "20");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 10);
    for (size_t i = 0; i < v.n; i++) {
        cr_assert_eq(field_int(v.e[i], "offset"), (json_int_t)(10 + i));
        cr_assert_eq(field_int(v.e[i], "partition"), 1);
    }
    envelopes_free(&v);
    run_free(&r);

    r = REPLAY("clicks", "--partition", "0");
    cr_assert_eq(r.out_len, 0, "partition 0 got nothing");
    run_free(&r);
    r = REPLAY("clicks", "--from-offset", "95");
    cr_assert_eq(count_lines(r.out), 5);
    run_free(&r);
    r = REPLAY("clicks", "--to-offset", "0");
    cr_assert_eq(r.out_len, 0);
    run_free(&r);
    r = REPLAY("clicks", "--from-offset", "1000");
    cr_assert_eq(r.out_len, 0);
    run_free(&r);

    r = RUN(NULL, "replay", env.store, "clicks", "--partition", "2");
    cr_assert_eq(r.status, 1, "partition 2 does not exist");
    cr_assert(strstr(r.err, "partition 2"), "%s", r.err);
    run_free(&r);
    free(in);
}

Test(cli, replay_time_ranges_filter_every_partition)
{
    create_stream("clicks", "4");
    char *in = gen_lines("in.jsonl", 2000, 100, TS_RANDOM, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    /* Times are base + [0, 1 day) ms; take a window in the middle. */
    const long long base_us = 1396839069277000LL;
    const long long from = base_us + 6 * 3600000000LL, to = base_us + 18 * 3600000000LL;
    char from_s[32], to_s[32];
    snprintf(from_s, sizeof from_s, "%lld", from);
    snprintf(to_s, sizeof to_s, "%lld", to);

    run_result all = REPLAY("clicks");
    envelopes va = parse_envelopes(all.out);
    size_t expect = 0;
    for (size_t i = 0; i < va.n; i++) {
        json_int_t t = field_int(va.e[i], "ts");
        expect += t >= from && t < to;
    }
    cr_assert(expect > 0 && expect < va.n);

    run_result r = REPLAY("clicks", "--from-time", from_s, "--to-time", to_s, "--time-unit", "us");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, expect);
    for (size_t i = 0; i < v.n; i++) {
        json_int_t t = field_int(v.e[i], "ts");
        cr_assert(t >= from && t < to);
    }
    envelopes_free(&v);
    run_free(&r);

    /* The same window in RFC 3339 (base is 2014-04-07T02:51:09.277Z). */
    r = REPLAY("clicks", "--from-time", "2014-04-07T08:51:09.277Z", "--to-time", "2014-04-07T20:51:09.277Z",
               "--merge");
    cr_assert_eq(count_lines(r.out), expect);
    run_free(&r);
    envelopes_free(&va);
    run_free(&all);
    free(in);
}

/* Delete the second segment of a one-partition stream (all its files);
 * returns its base offset and sets *end to the next segment's. */
static unsigned long long delete_second_segment(const char *stream, unsigned long long *end)
{
    char *sd = scratch("store/streams");
    char pd[4096];
    snprintf(pd, sizeof pd, "%s/%s/00000", sd, stream);
    uint64_t bases[3];
    cr_assert_geq(test_segment_bases(pd, bases, 3), 3, "at least three segments");
    test_remove_segment(pd, bases[1]);
    free(sd);
    *end = bases[2];
    return bases[1];
}

Test(cli, replay_over_a_deleted_segment_fails_unless_allow_gaps)
{
    /* Batches far below the segment size, so segments roll at the same
     * offsets whatever the linger timer seals: at least three of them. */
    run_result r = RUN(NULL, "stream", "create", env.store, "holes", "--partitions", "1", "--segment-bytes", "64K",
                       "--batch-bytes", "4K");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *in = gen_lines("holes.jsonl", 5000, 10, TS_STEP, NULL);
    append_file("holes", in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    unsigned long long end, from = delete_second_segment("holes", &end);
    char range[96], t_in[32], t_after[32];
    snprintf(range, sizeof range, "offsets %llu..%llu are missing", from, end - 1);
    /* Offset n has time base + n ms (TS_STEP, one partition). */
    snprintf(t_in, sizeof t_in, "%lld", (1396839069277LL + (long long)from + 1) * 1000);
    snprintf(t_after, sizeof t_after, "%lld", (1396839069277LL + (long long)end + 5) * 1000);
    const char *const windows[][8] = {
        { "replay", env.store, "holes", "--from-time", t_in, "--time-unit", "us" },
        { "replay", env.store, "holes", "--from-time", t_after, "--time-unit", "us" },
        { "replay", env.store, "holes", "--key", "u3", NULL, NULL },
        { "replay", env.store, "holes", "--from-offset", "0", NULL, NULL },
    };
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        r = run_siglog(NULL, windows[w]);
        cr_assert_eq(r.status, 1, "window %zu: status %d", w, r.status);
        cr_assert(strstr(r.err, range), "window %zu names the range: %s", w, r.err);
        cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
        run_free(&r);
        /* With --allow-gaps: what a full scan of the events present gives. */
        const char *args[10];
        size_t n = 0;
        for (; n < 7 && windows[w][n]; n++)
            args[n] = windows[w][n];
        args[n++] = "--allow-gaps";
        args[n] = NULL;
        r = run_siglog(NULL, args);
        cr_assert_eq(r.status, 0, "window %zu: %s", w, r.err);
        envelopes v = parse_envelopes(r.out);
        size_t expect = 0;
        for (unsigned long long off = 0; off < 5000; off++) {
            if (off >= from && off < end)
                continue;
            long long ts_us = (1396839069277LL + (long long)off) * 1000;
            expect += w == 0 ? ts_us >= atoll(t_in) : w == 1 ? ts_us >= atoll(t_after) : w == 3;
        }
        if (w == 2) {
            run_result all = run_siglog(NULL, (const char *const[]){ "replay", env.store, "holes", "--allow-gaps", NULL });
            envelopes va = parse_envelopes(all.out);
            for (size_t i = 0; i < va.n; i++)
                expect += strcmp(field_str(va.e[i], "key"), "u3") == 0;
            envelopes_free(&va);
            run_free(&all);
        }
        cr_assert_eq(v.n, expect, "window %zu: %zu events, a full scan says %zu", w, v.n, expect);
        for (size_t i = 0; i < v.n; i++) {
            json_int_t off = field_int(v.e[i], "offset");
            cr_assert(off < (json_int_t)from || off >= (json_int_t)end);
        }
        envelopes_free(&v);
        run_free(&r);
    }
    free(in);
}

Test(cli, verify_accept_loss_records_a_deleted_segment_and_the_log_goes_on_after_it)
{
    run_result r = RUN(NULL, "stream", "create", env.store, "lost", "--partitions", "1", "--segment-bytes", "64K",
                       "--batch-bytes", "4K");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *in = gen_lines("lost.jsonl", 5000, 10, TS_STEP, NULL);
    const char *const fields[] = { "--key-field", "user.id", "--time-field", "ts", NULL };
    append_file("lost", in, fields);
    unsigned long long end, from = delete_second_segment("lost", &end);
    char lost[96];
    snprintf(lost, sizeof lost, "offsets %llu..%llu", from, end - 1);
    /* Usage: it goes with --repair. */
    r = RUN(NULL, "verify", env.store, "--accept-loss");
    cr_assert_eq(r.status, 2, "%s", r.err);
    run_free(&r);
    /* Without accepting it, nothing changes and appends are refused. */
    r = RUN(NULL, "verify", env.store, "--repair");
    cr_assert_eq(r.status, 1, "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "verify", env.store, "--repair", "--accept-loss", "--json");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "%s", jerr.text);
    json_t *repairs = json_object_get(doc, "repairs");
    cr_assert_eq(json_array_size(repairs), 1, "%s", r.out);
    cr_assert(strstr(field_str(json_array_get(repairs, 0), "what"), lost), "%s", r.out);
    json_decref(doc);
    run_free(&r);
    /* The audit trail accounts for the lost offsets. */
    r = RUN(NULL, "audit", env.store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char range[96];
    snprintf(range, sizeof range, "loss command lost/0 offsets=[%llu,%llu)", from, end);
    cr_assert(strstr(r.out, range), "%s", r.out);
    run_free(&r);
    /* Appends go on past every offset handed out. */
    char *more = gen_lines("more.jsonl", 1, 10, TS_STEP, NULL);
    append_file("lost", more, fields);
    /* A replay is told of the loss once, on stderr, and goes on. */
    r = RUN(NULL, "replay", env.store, "lost");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, lost) && strstr(r.err, "were lost"), "%s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 5000 - (end - from) + 1);
    cr_assert_eq(field_int(v.e[v.n - 1], "offset"), 5000);
    envelopes_free(&v);
    run_free(&r);
    r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 0, "%s", r.out);
    run_free(&r);
    free(more);
    free(in);
}

/* rm -rf of a partition directory: verify names the offsets its floor
 * file says it handed out; --repair --accept-loss makes it again, audits
 * the loss, and appends go on past every one of them. */
Test(cli, verify_accept_loss_makes_a_removed_partition_directory_again_past_its_offsets)
{
    run_result r = RUN(NULL, "stream", "create", env.store, "gone", "--partitions", "1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *in = gen_lines("gone.jsonl", 300, 10, TS_STEP, NULL);
    const char *const fields[] = { "--key-field", "user.id", "--time-field", "ts", NULL };
    append_file("gone", in, fields);
    char *pd = scratch("store/streams/gone/00000");
    test_rmtree(pd);
    r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.out, "offsets 0..299"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "verify", env.store, "--repair", "--accept-loss", "--json");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "made the missing partition directory again"), "%s", r.out);
    cr_assert(strstr(r.out, "recorded the loss of offsets 0..299"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", env.store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "loss command gone/0 offsets=[0,300)"), "%s", r.out);
    run_free(&r);
    char *more = gen_lines("gone-more.jsonl", 1, 10, TS_STEP, NULL);
    append_file("gone", more, fields);
    r = RUN(NULL, "replay", env.store, "gone");
    cr_assert_eq(r.status, 0, "%s", r.err);
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 1, "%s", r.out);
    cr_assert_eq(field_int(v.e[0], "offset"), 300);
    envelopes_free(&v);
    run_free(&r);
    r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 0, "%s", r.out);
    run_free(&r);
    free(pd);
    free(more);
    free(in);
}

/* Offsets of partition 0 of the `gaps` vector's expected.jsonl. */
static size_t gaps_vector_offsets(const char *vectors, json_int_t *out, size_t max)
{
    char *path = test_path(vectors, "gaps/expected.jsonl");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, f);
    cr_assert(feof(f), "%s is larger than expected", path);
    fclose(f);
    free(path);
    text[len] = 0;
    envelopes v = parse_envelopes(text);
    size_t n = 0;
    for (size_t i = 0; i < v.n; i++)
        if (field_int(v.e[i], "partition") == 0) {
            cr_assert_lt(n, max);
            out[n++] = field_int(v.e[i], "offset");
        }
    envelopes_free(&v);
    return n;
}

Test(cli, replay_of_an_offset_range_over_gaps_left_by_a_rewrite_is_complete)
{
    /* Gaps inside batches (the `gaps` golden vector) are no holes: an
     * offset range over them, starting or ending in one, or lying wholly
     * in one, replays the records present and exits 0. */
    const char *vectors = getenv("SIGLOG_FORMAT_VECTORS");
    cr_assert_not_null(vectors);
    char *store = scratch("gaps");
    char *from = test_path(vectors, "gaps/store");
    test_copy_tree(from, store);
    free(from);
    static json_int_t present[4096];
    size_t n = gaps_vector_offsets(vectors, present, 4096);
    cr_assert_gt(n, 0);
    /* Starting in a gap (1), across a segment boundary with gaps on both
     * sides (743..750), over batches emptied whole (100..169), wholly in
     * a gap (a range of one dropped offset). */
    static const char *const ranges[][2] = {{"1", "13"}, {"743", "751"}, {"90", "180"}, {"1", "2"}, {"0", "2000"}};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        run_result r = run_siglog(NULL, (const char *const[]){ "replay", store, "compacted", "--partition", "0",
                                                              "--from-offset", ranges[k][0], "--to-offset",
                                                              ranges[k][1], NULL });
        cr_assert_eq(r.status, 0, "range %s..%s: %s", ranges[k][0], ranges[k][1], r.err);
        envelopes v = parse_envelopes(r.out);
        json_int_t lo = atoll(ranges[k][0]), hi = atoll(ranges[k][1]);
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (present[i] < lo || present[i] >= hi)
                continue;
            cr_assert_lt(j, v.n, "range %s..%s: offset %lld missing", ranges[k][0], ranges[k][1],
                         (long long)present[i]);
            cr_assert_eq(field_int(v.e[j], "offset"), present[i], "range %s..%s", ranges[k][0], ranges[k][1]);
            j++;
        }
        cr_assert_eq(v.n, j, "range %s..%s: %zu events, %zu present", ranges[k][0], ranges[k][1], v.n, j);
        envelopes_free(&v);
        run_free(&r);
    }
    run_result r = RUN(NULL, "verify", store);
    cr_assert_eq(r.status, 0, "verify: %s%s", r.out, r.err);
    run_free(&r);
    free(store);
}

Test(cli, replay_filters_by_key_and_schema_version)
{
    create_stream("clicks", "4");
    char *in = gen_lines("in.jsonl", 500, 10, TS_STEP, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", "--schema-version", "1", NULL });
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", "--schema-version", "2", NULL });

    run_result r = REPLAY("clicks", "--key", "u3");
    envelopes v = parse_envelopes(r.out);
    cr_assert_gt(v.n, 0);
    for (size_t i = 0; i < v.n; i++)
        cr_assert_str_eq(field_str(v.e[i], "key"), "u3");
    size_t both = v.n;
    envelopes_free(&v);
    run_free(&r);

    r = REPLAY("clicks", "--key", "u3", "--schema-version", "2");
    v = parse_envelopes(r.out);
    cr_assert_eq(v.n * 2, both, "half of u3's events are version 2");
    for (size_t i = 0; i < v.n; i++)
        cr_assert_eq(field_int(v.e[i], "schema"), 2);
    envelopes_free(&v);
    run_free(&r);

    r = REPLAY("clicks", "--schema-version", "3");
    cr_assert_eq(r.out_len, 0);
    run_free(&r);
    free(in);
}

Test(cli, replay_limit_stops_after_n_events)
{
    create_stream("clicks", "2");
    char *in = gen_lines("in.jsonl", 300, 7, TS_STEP, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", NULL });
    const char *limits[] = { "0", "1", "17", "299", "300", "1000" };
    const size_t expect[] = { 0, 1, 17, 299, 300, 300 };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        run_result r = REPLAY("clicks", "--limit", limits[i], "--merge");
        cr_assert_eq(count_lines(r.out), expect[i], "--limit %s", limits[i]);
        run_free(&r);
        r = REPLAY("clicks", "--limit", limits[i], "--format", "value");
        cr_assert_eq(count_lines(r.out), expect[i], "--limit %s unmerged", limits[i]);
        run_free(&r);
    }
    free(in);
}

Test(cli, binary_format_is_length_prefixed_values)
{
    create_stream("one", "1");
    char *in = gen_lines("in.jsonl", 50, 3, TS_STEP, NULL);
    append_file("one", in, NULL);
    run_result r = REPLAY("one", "--format", "binary");
    size_t in_len;
    char *lines = run_slurp(in, &in_len);
    const char *line = lines;
    size_t pos = 0, n = 0;
    while (pos < r.out_len) {
        cr_assert_leq(pos + 4, r.out_len);
        const unsigned char *b = (const unsigned char *)r.out + pos;
        uint32_t len = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        const char *nl = strchr(line, '\n');
        cr_assert_eq(len, (uint32_t)(nl - line), "record %zu length", n);
        cr_assert(memcmp(b + 4, line, len) == 0, "record %zu bytes", n);
        pos += 4 + len;
        line = nl + 1;
        n++;
    }
    cr_assert_eq(n, 50);
    free(lines);
    run_free(&r);
    free(in);
}

/* Events the CLI cannot produce, appended through the library. */
static void append_raw(const char *stream, const void *key, size_t key_len, const void *value, size_t value_len)
{
    siglog *s;
    siglog_stream *st;
    cr_assert_eq(siglog_open(&s, env.store, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(s, stream, &st), 0);
    siglog_event e = { .key = key, .key_len = key_len, .value = value, .value_len = value_len, .timestamp_us = 5 };
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
}

Test(cli, jsonl_shows_non_json_values_and_non_utf8_keys_in_base64)
{
    create_stream("one", "1");
    append_raw("one", "\xff\xfek", 3, "not json\0\x01", 10);
    const char multi_line[] = "{\n  \"a\": [1,\r\n 2]\n}";
    append_raw("one", "caf\xc3\xa9", 5, multi_line, strlen(multi_line));
    run_result r = REPLAY("one");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 2, "every event is one line: %s", r.out);
    cr_assert_str_eq(field_str(v.e[0], "key"), "//5r");
    cr_assert_str_eq(field_str(v.e[0], "key_encoding"), "base64");
    cr_assert_str_eq(field_str(v.e[0], "value"), "bm90IGpzb24AAQ==");
    cr_assert_str_eq(field_str(v.e[0], "value_encoding"), "base64");
    cr_assert_str_eq(field_str(v.e[1], "key"), "caf\xc3\xa9");
    cr_assert_null(json_object_get(v.e[1], "key_encoding"));
    cr_assert_null(json_object_get(v.e[1], "value_encoding"));
    json_t *want = json_loads("{\"a\":[1,2]}", 0, NULL);
    cr_assert(json_equal(json_object_get(v.e[1], "value"), want), "multi-line JSON is re-encoded on one line");
    json_decref(want);
    envelopes_free(&v);
    run_free(&r);

    r = REPLAY("one", "--format", "value");
    cr_assert_eq(r.out_len, 10 + 1 + strlen(multi_line) + 1);
    cr_assert(memcmp(r.out, "not json\0\x01\n", 11) == 0, "value format writes the bytes as stored");
    run_free(&r);
    r = REPLAY("one", "--key", "caf\xc3\xa9");
    cr_assert_eq(count_lines(r.out), 1);
    run_free(&r);
}

/* ---- bad input ---- */

/* Ten lines {"id":"k<i>","ts":<1000+i>} with line 5 replaced by `bad`. */
static char *ten_lines_with_bad_fifth(const char *bad)
{
    char buf[2048];
    size_t len = 0;
    for (int i = 1; i <= 10; i++) {
        if (i == 5)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s\n", bad);
        else
            len += (size_t)snprintf(buf + len, sizeof buf - len, "{\"id\":\"k%d\",\"ts\":%d}\n", i, 1000 + i);
    }
    char *path = scratch("bad.jsonl");
    run_write_file(path, buf, len);
    return path;
}

Test(cli, malformed_line_stops_with_its_number_and_keeps_what_came_before)
{
    create_stream("one", "1");
    char *in = ten_lines_with_bad_fifth("{\"id\":\"k5\",\"ts\":");
    run_result r = RUN(NULL, "append", env.store, "one", "--key-field", "id", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 5"), "%s", r.err);
    cr_assert(strstr(r.err, "4 events"), "the summary says how many were appended: %s", r.err);
    run_free(&r);
    r = REPLAY("one", "--format", "value");
    cr_assert_str_eq(r.out, "{\"id\":\"k1\",\"ts\":1001}\n{\"id\":\"k2\",\"ts\":1002}\n"
                            "{\"id\":\"k3\",\"ts\":1003}\n{\"id\":\"k4\",\"ts\":1004}\n");
    run_free(&r);
    free(in);
}

Test(cli, malformed_line_is_skipped_on_request)
{
    create_stream("one", "1");
    char *in = ten_lines_with_bad_fifth("not json at all");
    run_result r = RUN(NULL, "append", env.store, "one", "--on-error", "skip", in);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "line 5"), "%s", r.err);
    cr_assert(strstr(r.err, "9 events"), "%s", r.err);
    run_free(&r);
    r = REPLAY("one", "--format", "value");
    cr_assert_eq(count_lines(r.out), 9);
    cr_assert_null(strstr(r.out, "not json"));
    cr_assert(strstr(r.out, "\"k10\""));
    run_free(&r);
    free(in);
}

Test(cli, two_values_on_one_line_are_malformed)
{
    create_stream("one", "1");
    char *in = ten_lines_with_bad_fifth("{\"id\":\"a\"} {\"id\":\"b\"}");
    run_result r = RUN(NULL, "append", env.store, "one", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 5"), "%s", r.err);
    run_free(&r);
    free(in);
}

Test(cli, missing_key_or_time_field_is_rejected_with_its_line)
{
    create_stream("one", "1");
    char *in = ten_lines_with_bad_fifth("{\"other\":1}");
    run_result r = RUN(NULL, "append", env.store, "one", "--key-field", "id", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 5") && strstr(r.err, "'id'"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "append", env.store, "one", "--time-field", "ts", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 5") && strstr(r.err, "'ts'"), "%s", r.err);
    run_free(&r);
    free(in);

    in = ten_lines_with_bad_fifth("{\"id\":{\"nested\":1},\"ts\":\"noon\"}");
    r = RUN(NULL, "append", env.store, "one", "--key-field", "id", in);
    cr_assert_eq(r.status, 1, "an object is not a key");
    cr_assert(strstr(r.err, "line 5"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "append", env.store, "one", "--time-field", "ts", in);
    cr_assert_eq(r.status, 1, "'noon' is not a time");
    cr_assert(strstr(r.err, "line 5"), "%s", r.err);
    run_free(&r);
    free(in);

    r = REPLAY("one");
    cr_assert_eq(count_lines(r.out), 16, "4 good lines before each of the four failures");
    run_free(&r);
}

Test(cli, empty_input_and_empty_stream)
{
    create_stream("one", "3");
    char *in = scratch("empty.jsonl");
    run_write_file(in, "", 0);
    run_result r = RUN(NULL, "append", env.store, "one", in);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "0 events"), "%s", r.err);
    run_free(&r);
    r = RUN(in, "append", env.store, "one", "-");
    cr_assert_eq(r.status, 0, "empty standard input: %s", r.err);
    run_free(&r);
    const char *formats[] = { "jsonl", "value", "binary" };
    for (size_t i = 0; i < 3; i++) {
        r = REPLAY("one", "--format", formats[i]);
        cr_assert_eq(r.out_len, 0);
        run_free(&r);
        r = REPLAY("one", "--format", formats[i], "--merge");
        cr_assert_eq(r.out_len, 0);
        run_free(&r);
    }
    free(in);
}

Test(cli, append_reads_standard_input_and_last_line_without_newline)
{
    create_stream("one", "1");
    char *in = scratch("in.jsonl");
    run_write_file(in, "{\"a\":1}\n{\"a\":2}", 15);
    run_result r = RUN(in, "append", env.store, "one");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    r = REPLAY("one", "--format", "value");
    cr_assert_str_eq(r.out, "{\"a\":1}\n{\"a\":2}\n");
    run_free(&r);
    free(in);
}

/* ---- what real files hold: line endings, byte order marks, blank lines ---- */

/* Append `text` to stream one and return the summary it printed (caller
 * frees); asserts success. */
static char *append_text(const char *text, const char *const *extra)
{
    char *in = scratch("text.jsonl");
    run_write_file(in, text, strlen(text));
    const char *args[16] = { "append", env.store, "one" };
    size_t n = 3;
    for (; extra && *extra; extra++)
        args[n++] = *extra;
    args[n++] = in;
    args[n] = NULL;
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "append failed: %s", r.err);
    free(in);
    free(r.out);
    return r.err;
}

Test(cli, crlf_endings_a_leading_bom_and_blank_lines_are_not_events)
{
    create_stream("one", "1");
    const char text[] = "\xEF\xBB\xBF{\"a\":1}\r\n"
                        "\r\n"
                        "   \n"
                        "{\"a\":2}\n"
                        "\t \r\n"
                        "\n"
                        " {\"a\":\"\\r\"} \r\n"
                        "{\"a\":3}\r";
    char *summary = append_text(text, NULL);
    cr_assert(strstr(summary, " 4 events"), "%s", summary);
    cr_assert(strstr(summary, "4 blank lines skipped"), "%s", summary);
    free(summary);
    run_result r = REPLAY("one", "--format", "value");
    cr_assert_str_eq(r.out, "{\"a\":1}\n{\"a\":2}\n {\"a\":\"\\r\"} \n{\"a\":3}\n",
                     "stored without BOM and CR, spaces kept");
    run_free(&r);

    /* A byte order mark after the start is data, and not JSON. */
    char *in = scratch("bom.jsonl");
    const char late_bom[] = "{\"a\":1}\n\xEF\xBB\xBF{\"a\":2}\n";
    run_write_file(in, late_bom, sizeof late_bom - 1);
    r = RUN(NULL, "append", env.store, "one", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 2"), "%s", r.err);
    run_free(&r);
    free(in);
}

Test(cli, skip_lines_resumes_after_a_failure_counting_blank_lines)
{
    create_stream("one", "1");
    char *in = ten_lines_with_bad_fifth("{\"id\":\"k5\",\"ts\":");
    run_result r = RUN(NULL, "append", env.store, "one", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 5"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "append", env.store, "one", "--skip-lines", "5", in);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, " 5 events"), "%s", r.err);
    cr_assert(strstr(r.err, "5 leading lines skipped (--skip-lines)"), "%s", r.err);
    run_free(&r);
    r = REPLAY("one", "--format", "value");
    size_t len;
    char *lines = run_slurp(in, &len);
    char *bad = strstr(lines, "{\"id\":\"k5\"");
    char *after = strchr(bad, '\n') + 1;
    memmove(bad, after, strlen(after) + 1);
    cr_assert_str_eq(r.out, lines, "every line but the fifth, once");
    run_free(&r);
    free(lines);
    free(in);

    /* Blank lines count: the third line here is {"a":2}. */
    char *summary = append_text("{\"a\":0}\n\n{\"a\":2}\n{\"a\":3}\n",
                                (const char *const[]){ "--skip-lines", "2", NULL });
    cr_assert(strstr(summary, " 2 events"), "%s", summary);
    cr_assert(strstr(summary, "2 leading lines skipped"), "%s", summary);
    cr_assert_null(strstr(summary, "blank"), "a skipped blank line is not counted twice: %s", summary);
    free(summary);
    r = REPLAY("one", "--format", "value", "--from-offset", "9");
    cr_assert_str_eq(r.out, "{\"a\":2}\n{\"a\":3}\n");
    run_free(&r);

    /* More lines skipped than there are: nothing appended, and said so. */
    summary = append_text("{\"a\":0}\n", (const char *const[]){ "--skip-lines", "10", NULL });
    cr_assert(strstr(summary, " 0 events"), "%s", summary);
    cr_assert(strstr(summary, "1 leading lines skipped"), "%s", summary);
    free(summary);
}

Test(cli, replay_time_integers_take_the_unit_and_zero_is_the_epoch)
{
    create_stream("one", "1");
    /* Times in seconds: -2 (before the epoch), 1396839069, 1396839070. */
    char *summary = append_text("{\"t\":-2}\n{\"t\":1396839069}\n{\"t\":1396839070}\n",
                                (const char *const[]){ "--time-field", "t", "--time-unit", "s", NULL });
    cr_assert(strstr(summary, " 3 events"), "%s", summary);
    free(summary);

    run_result r = REPLAY("one", "--from-time", "1396839070", "--time-unit", "s", "--format", "value");
    cr_assert_str_eq(r.out, "{\"t\":1396839070}\n");
    run_free(&r);
    r = REPLAY("one", "--time-unit", "ms", "--to-time", "1396839069001", "--from-time", "1396839069000", "--format",
               "value");
    cr_assert_str_eq(r.out, "{\"t\":1396839069}\n", "the unit applies wherever it stands");
    run_free(&r);
    r = REPLAY("one", "--to-time", "0", "--format", "value");
    cr_assert_str_eq(r.out, "{\"t\":-2}\n", "0 is the epoch, needing no unit");
    run_free(&r);
    r = REPLAY("one", "--from-time", "0", "--format", "value");
    cr_assert_eq(count_lines(r.out), 2, "0 is the epoch, not now: %s", r.out);
    run_free(&r);

    r = RUN(NULL, "replay", env.store, "one", "--from-time", "1396839070");
    cr_assert_eq(r.status, 2, "an integer without a unit is refused");
    cr_assert(strstr(r.err, "'1396839070' is an integer without a unit"), "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    run_free(&r);
    r = RUN(NULL, "replay", env.store, "one", "--to-time", "9223372036854775", "--time-unit", "s");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "out of range"), "%s", r.err);
    run_free(&r);
}

Test(cli, a_time_field_of_exactly_the_epoch_is_a_bad_line_not_now)
{
    create_stream("one", "1");
    char *in = ten_lines_with_bad_fifth("{\"id\":\"k5\",\"ts\":0}");
    run_result r = RUN(NULL, "append", env.store, "one", "--time-field", "ts", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 5: time field 'ts' is the epoch (0)"), "%s", r.err);
    cr_assert_eq(count_lines(r.err), 3, "summary, partition, one-line error: %s", r.err);
    run_free(&r);
    free(in);
    in = ten_lines_with_bad_fifth("{\"id\":\"k5\",\"ts\":\"1970-01-01T00:00:00Z\"}");
    r = RUN(NULL, "append", env.store, "one", "--time-field", "ts", in);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "line 5: time field 'ts' is the epoch"), "%s", r.err);
    run_free(&r);
    free(in);
}

Test(cli, numbers_of_any_size_are_values_but_not_keys_or_times)
{
    create_stream("one", "1");
    const char text[] =
        "{\"id\":\"a\",\"ts\":1001,\"n\":18446744073709551615}\n"
        "{\"id\":\"b\",\"ts\":1002,\"x\":1e400,\"y\":-0.0000000000000000000000000001e-400,\"z\":[-1E+400, 1]}\n"
        "{\"id\":12345678901234567,\"ts\":1.5e3,\"w\":123456789012345678901234567890.5e-3}\n";
    char *summary = append_text(text, (const char *const[]){ "--key-field", "id", "--time-field", "ts", NULL });
    cr_assert(strstr(summary, " 3 events"), "%s", summary);
    free(summary);
    run_result r = REPLAY("one", "--format", "value");
    cr_assert_str_eq(r.out, text, "stored byte for byte");
    run_free(&r);

    /* The envelope's valid JSON has jansson's number range (FORMAT.md,
     * Appendix), so the first two are replayed in base64. */
    r = REPLAY("one");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 3);
    cr_assert_str_eq(field_str(v.e[0], "value_encoding"), "base64");
    cr_assert_str_eq(field_str(v.e[1], "value_encoding"), "base64");
    cr_assert_null(json_object_get(v.e[2], "value_encoding"));
    cr_assert_str_eq(field_str(v.e[2], "key"), "12345678901234567");
    cr_assert_eq(field_int(v.e[2], "ts"), 1500000);
    envelopes_free(&v);
    run_free(&r);

    /* A key or time beyond what it can be is a bad line, saying so. */
    const char *bad[] = {
        "{\"id\":18446744073709551615,\"ts\":1}",
        "{\"id\":\"k5\",\"ts\":-1e400}",
        "{\"id\":\"k5\",\"ts\":9223372036854775807}",
    };
    const char *why[] = {
        "line 5: key field 'id' is a number beyond 64-bit integers and doubles",
        "line 5: time field 'ts' is a number out of range",
        "line 5: time field 'ts' is not a number in range",
    };
    for (size_t i = 0; i < 3; i++) {
        char *in = ten_lines_with_bad_fifth(bad[i]);
        r = RUN(NULL, "append", env.store, "one", "--key-field", "id", "--time-field", "ts", in);
        cr_assert_eq(r.status, 1);
        cr_assert(strstr(r.err, why[i]), "case %zu: %s", i, r.err);
        run_free(&r);
        free(in);
    }

    /* Invalid JSON is refused as before, in jansson's words. */
    const char *invalid[] = { "{\"a\":1e400,\"b\":x}", "[5-1e400]", "[1e400 2]", "1e400.5" };
    const char *words[] = {
        "line 5: invalid JSON at column 10: real number overflow near '1e400'",
        "line 5: invalid JSON at column 8: real number overflow near '-1e400'",
        "line 5: invalid JSON at column 6: real number overflow near '1e400'",
        "line 5: invalid JSON at column 5: real number overflow near '1e400'",
    };
    for (size_t i = 0; i < 4; i++) {
        char *in = ten_lines_with_bad_fifth(invalid[i]);
        r = RUN(NULL, "append", env.store, "one", in);
        cr_assert_eq(r.status, 1);
        cr_assert(strstr(r.err, words[i]), "case %zu: %s", i, r.err);
        run_free(&r);
        free(in);
    }
}

/* ---- time strings in a pattern ---- */

Test(cli, time_format_and_zone_read_times_as_written)
{
    create_stream("one", "1");
    /* 2023-11-16T18:17:03Z is 1700158623 s. */
    const char text[] = "{\"T\":\"2023-11-16 18:17:03.9799600\"}\n"
                        "{\"T\":\"2023-11-16 18:17:03.5\"}\n"
                        "{\"T\":\"2023-11-16 18:17:03.000001999\"}\n";
    char *summary = append_text(text, (const char *const[]){ "--time-field", "T", "--time-format",
                                                             "%Y-%m-%d %H:%M:%S.%f", "--time-zone", "UTC", NULL });
    free(summary);
    summary = append_text(text, (const char *const[]){ "--time-field", "T", "--time-format", "%F %T.%f",
                                                       "--time-zone", "+02:00", NULL });
    free(summary);
    const char apache[] = "{\"T\":\"16/Nov/2023:18:17:03 -0130\"}\n";
    summary = append_text(apache, (const char *const[]){ "--time-field", "T", "--time-format", "%d/%b/%Y:%T %z", NULL });
    free(summary);

    run_result r = REPLAY("one");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 7);
    const json_int_t base = 1700158623000000LL, east2 = -7200000000LL;
    const json_int_t want[] = { base + 979960, base + 500000, base + 1,
                                base + 979960 + east2, base + 500000 + east2, base + 1 + east2,
                                base + 5400000000LL };
    for (size_t i = 0; i < v.n; i++)
        cr_assert_eq(field_int(v.e[i], "ts"), want[i], "event %zu: ts %lld", i, (long long)field_int(v.e[i], "ts"));
    envelopes_free(&v);
    run_free(&r);
    r = REPLAY("one", "--format", "value", "--to-offset", "3");
    cr_assert_str_eq(r.out, text, "stored byte for byte");
    run_free(&r);

    /* A time the pattern does not fit is a bad line naming field and pattern. */
    char *in = ten_lines_with_bad_fifth("{\"id\":\"k5\",\"ts\":\"2023-11-16T18:17:03Z\"}");
    r = RUN(NULL, "append", env.store, "one", "--time-field", "ts", "--time-format", "%F %T", "--time-zone", "UTC",
            "--on-error", "skip", in);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "line 5: time field 'ts' is not a number in range or a time in the pattern '%F %T'"),
              "%s", r.err);
    cr_assert(strstr(r.err, " 9 events"), "%s", r.err);
    run_free(&r);
    free(in);

    /* A pattern without a zone needs --time-zone; nonsense is refused. */
    const char *const *usage[] = {
        (const char *const[]){ "append", env.store, "one", "--time-field", "T", "--time-format", "%F %T", NULL },
        (const char *const[]){ "append", env.store, "one", "--time-field", "T", "--time-format", "%H:%M", "--time-zone",
                               "UTC", NULL },
        (const char *const[]){ "append", env.store, "one", "--time-field", "T", "--time-format", "%F %T", "--time-zone",
                               "Mars/Olympus_Mons", NULL },
        (const char *const[]){ "append", env.store, "one", "--time-field", "T", "--time-format", "%F %T", "--time-zone",
                               "../zoneinfo/UTC", NULL },
        (const char *const[]){ "append", env.store, "one", "--time-format", "%F %z", NULL },
        (const char *const[]){ "append", env.store, "one", "--time-field", "T", "--time-zone", "UTC", NULL },
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        r = run_siglog(NULL, usage[i]);
        cr_assert_eq(r.status, 2, "case %zu: %s", i, r.err);
        run_free(&r);
    }
}

Test(cli, time_zone_names_follow_daylight_saving_and_refuse_what_it_skips_or_repeats)
{
    if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
        cr_skip_test("no zoneinfo for Europe/Berlin (tzdata)");
    create_stream("one", "1");
    const char text[] = "{\"T\":\"2023-01-15 12:00:00\"}\n" /* CET, +01:00 */
                        "{\"T\":\"2023-07-15 12:00:00\"}\n" /* CEST, +02:00 */
                        "{\"T\":\"2023-03-26 02:30:00\"}\n" /* skipped: 02:00 became 03:00 */
                        "{\"T\":\"2023-10-29 02:30:00\"}\n" /* twice: 03:00 became 02:00 */
                        "{\"T\":\"2023-10-29 01:59:59\"}\n"
                        "{\"T\":\"2023-10-29 03:00:00\"}\n";
    char *in = scratch("berlin.jsonl");
    run_write_file(in, text, sizeof text - 1);
    run_result r = RUN(NULL, "append", env.store, "one", "--time-field", "T", "--time-format", "%F %T", "--time-zone",
                       "Europe/Berlin", "--on-error", "skip", in);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "line 3: time field 'T' is a local time that Europe/Berlin skips or shows twice"),
              "%s", r.err);
    cr_assert(strstr(r.err, "line 4: time field 'T' is a local time that Europe/Berlin skips or shows twice"),
              "%s", r.err);
    cr_assert(strstr(r.err, " 4 events"), "%s", r.err);
    run_free(&r);
    free(in);

    r = REPLAY("one");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, 4);
    /* 2023-01-15T11:00Z, 2023-07-15T10:00Z, 2023-10-28T23:59:59Z, 2023-10-29T02:00Z */
    const json_int_t want[] = { 1673780400000000LL, 1689415200000000LL, 1698537599000000LL, 1698544800000000LL };
    for (size_t i = 0; i < v.n; i++)
        cr_assert_eq(field_int(v.e[i], "ts"), want[i], "event %zu", i);
    envelopes_free(&v);
    run_free(&r);
}

/* The event time the Azure LLM trace's TIMESTAMP "2023-11-16 HH:MM:SS.fffffff"
 * (UTC) stands for, computed here without the tool's parser. */
static json_int_t azure_time_us(const char *line)
{
    const char prefix[] = "\"TIMESTAMP\":\"2023-11-16 ";
    const char *t = strstr(line, prefix);
    cr_assert_not_null(t, "%s", line);
    int h, m, s;
    char frac[8];
    cr_assert_eq(sscanf(t + sizeof prefix - 1, "%2d:%2d:%2d.%7[0-9]", &h, &m, &s, frac), 4, "%s", line);
    frac[6] = '\0'; /* microseconds: the seventh digit is dropped */
    return (1700092800LL + h * 3600 + m * 60 + s) * 1000000 + atoll(frac);
}

Test(cli, azure_trace_times_append_to_the_microsecond)
{
    const char *corpus = getenv("SIGLOG_CORPUS");
    char *path = corpus ? test_path(corpus, "llm_trace_azure2023_code.jsonl") : NULL;
    if (!path || access(path, R_OK) != 0) {
        free(path);
        cr_skip_test("the shared corpus is absent");
    }
    create_stream("one", "1");
    const char *args[] = { "--time-field", "TIMESTAMP", "--time-format", "%Y-%m-%d %H:%M:%S.%f", "--time-zone",
                           "UTC", NULL };
    append_file("one", path, args);

    size_t len;
    char *lines = run_slurp(path, &len);
    run_result r = REPLAY("one");
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, count_lines(lines), "one event per line");
    size_t i = 0, checked = 0;
    for (char *line = lines; *line; i++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        if (i % 97 == 0 || !nl[1]) {
            cr_assert_eq(field_int(v.e[i], "ts"), azure_time_us(line), "line %zu: %s", i + 1, line);
            checked++;
        }
        line = nl + 1;
    }
    cr_assert_gt(checked, 90);
    envelopes_free(&v);
    run_free(&r);
    free(lines);
    free(path);
}

/* ---- acknowledgements ---- */

/* Every acknowledgement (n "PARTITION OFFSET" lines in acks) names the
 * event of the same input line (lines: the input, one per line), and the
 * stream holds exactly n events. */
static void assert_acks_match(const char *stream, const char *acks, const char *lines, size_t n)
{
    cr_assert_eq(count_lines(acks), n, "acknowledgements: '%s'", acks);
    run_result r = REPLAY(stream);
    envelopes v = parse_envelopes(r.out);
    cr_assert_eq(v.n, n);
    const char *ack = acks, *line = lines;
    for (size_t i = 0; i < n; i++) {
        unsigned p;
        unsigned long long off;
        cr_assert_eq(sscanf(ack, "%u %llu", &p, &off), 2, "ack line %zu", i);
        int found = 0;
        for (size_t j = 0; j < v.n && !found; j++) {
            if (field_int(v.e[j], "partition") != (json_int_t)p || field_int(v.e[j], "offset") != (json_int_t)off)
                continue;
            char *val = json_dumps(json_object_get(v.e[j], "value"), JSON_COMPACT);
            const char *nl = strchr(line, '\n');
            found = strlen(val) == (size_t)(nl - line) && memcmp(val, line, strlen(val)) == 0;
            free(val);
        }
        cr_assert(found, "ack %u %llu does not match line %zu", p, off, i + 1);
        ack = strchr(ack, '\n') + 1;
        line = strchr(line, '\n') + 1;
    }
    envelopes_free(&v);
    run_free(&r);
}

Test(cli, ack_lines_name_each_event_partition_and_offset)
{
    create_stream("clicks", "4");
    char *in = gen_lines("in.jsonl", 200, 9, TS_STEP, NULL);
    run_result a = RUN(NULL, "append", env.store, "clicks", "--key-field", "user.id", "--ack", "--sync", "always", in);
    cr_assert_eq(a.status, 0, "%s", a.err);
    char *lines = run_slurp(in, NULL);
    assert_acks_match("clicks", a.out, lines, 200);
    free(lines);
    run_free(&a);
    free(in);
}

/* `append --ack` reads a pipe that stays open, into an interval stream
 * whose commit does not come by itself (interval:60000). Nothing may be
 * acknowledged before a commit: an acknowledgement then would be a promise
 * that a kill -9 or a power cut breaks. Then sig: the command stops
 * reading (its read is blocked on the pipe), syncs, acknowledges every
 * line it read and exits 128 + sig with one summary line. */
static void ack_then_signal(int sig)
{
    run_result c = RUN(NULL, "stream", "create", env.store, "slow", "--partitions", "2", "--sync", "interval:60000");
    cr_assert_eq(c.status, 0, "%s", c.err);
    run_free(&c);
    char *fifo = scratch("in.fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char *err = scratch("append.err");
    int out_fd;
    pid_t pid = run_start(fifo, err, &out_fd,
                          (const char *const[]){ "append", env.store, "slow", "--key-field", "user.id", "--ack", NULL });
    int in_fd = open(fifo, O_WRONLY | O_CLOEXEC);
    cr_assert(in_fd >= 0);
    size_t len;
    char *in = gen_lines("in.jsonl", 50, 5, TS_STEP, &len);
    char *lines = run_slurp(in, NULL);
    cr_assert_eq(write(in_fd, lines, len), (ssize_t)len);

    struct pollfd early = { .fd = out_fd, .events = POLLIN };
    cr_assert_eq(poll(&early, 1, 1000), 0, "acknowledged before any commit made the events durable");
    cr_assert_eq(kill(pid, sig), 0);
    size_t got;
    char *acks = run_read_lines(out_fd, 50, &got);
    int status = run_wait(pid);
    close(in_fd);
    cr_assert_eq(status, 128 + sig, "exit status %d after signal %d", status, sig);
    char *errtext = run_slurp(err, NULL);
    char want[160];
    snprintf(want, sizeof want,
             "siglog append: stopped by %s after input line 50: 50 events appended and synced, every one "
             "acknowledged; --skip-lines 50 resumes after it\n",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    cr_assert_str_eq(errtext, want);
    assert_acks_match("slow", acks, lines, 50);
    free(errtext);
    free(acks);
    free(lines);
    free(in);
    close(out_fd);
    free(err);
    free(fifo);
}

Test(cli, ack_waits_for_the_commit_and_sigterm_acknowledges_every_line_read)
{
    ack_then_signal(SIGTERM);
}

Test(cli, ack_waits_for_the_commit_and_sigint_acknowledges_every_line_read)
{
    ack_then_signal(SIGINT);
}

/* ---- following and pipes ---- */

/* Start `replay args...` with stdout on a pipe once the stream holds one
 * event, and return when that event has come through: from then on the
 * replay has the store open, so a writer can start beside it (a read-only
 * open of an idle store briefly takes the writer lock for recovery). */
static pid_t start_replay_after_first_event(const char *stream, const char *err, int *out_fd,
                                            const char *const *args)
{
    char *first = scratch("first.jsonl");
    run_write_file(first, "{\"first\":true}\n", 15);
    append_file(stream, first, NULL);
    pid_t pid = run_start(NULL, err, out_fd, args);
    size_t got;
    char *text = run_read_lines(*out_fd, 1, &got);
    cr_assert_eq(got, 1, "the replay did not show the first event: '%s'", text);
    free(text);
    free(first);
    return pid;
}

static void follow_then_signal(int sig)
{
    create_stream("clicks", "2");
    char *err = scratch("follow.err");
    int out_fd;
    pid_t pid = start_replay_after_first_event(
        "clicks", err, &out_fd,
        (const char *const[]){ "replay", env.store, "clicks", "--follow", "--merge", "--format", "value", NULL });
    /* Appended after the replay started: --follow must pick them up. */
    char *in = gen_lines("in.jsonl", 25, 5, TS_STEP, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", NULL });
    size_t got;
    char *text = run_read_lines(out_fd, 25, &got);
    cr_assert_eq(got, 25, "followed %zu of 25 events", got);
    size_t in_len;
    char *lines = run_slurp(in, &in_len);
    /* Each partition's events keep their order; all 25 arrive. */
    for (const char *l = lines; *l; l = strchr(l, '\n') + 1) {
        char *one = strndup(l, (size_t)(strchr(l, '\n') - l + 1));
        cr_assert(strstr(text, one), "missing followed event %s", one);
        free(one);
    }
    cr_assert_eq(kill(pid, sig), 0);
    int status = run_wait(pid);
    cr_assert_eq(status, 0, "replay --follow ended with %d on signal %d", status, sig);
    char *errtext = run_slurp(err, NULL);
    cr_assert_str_eq(errtext, "", "stderr: %s", errtext);
    free(errtext);
    free(lines);
    free(text);
    close(out_fd);
    free(in);
    free(err);
}

Test(cli, follow_sees_later_appends_and_exits_0_on_sigint)
{
    follow_then_signal(SIGINT);
}

Test(cli, follow_sees_later_appends_and_exits_0_on_sigterm)
{
    follow_then_signal(SIGTERM);
}

Test(cli, follow_ends_at_to_offset)
{
    create_stream("one", "1");
    char *err = scratch("follow.err");
    int out_fd;
    pid_t pid = start_replay_after_first_event(
        "one", err, &out_fd,
        (const char *const[]){ "replay", env.store, "one", "--follow", "--to-offset", "5", NULL });
    char *in = gen_lines("in.jsonl", 10, 5, TS_STEP, NULL);
    append_file("one", in, NULL);
    cr_assert_eq(run_wait(pid), 0, "the replay ends by itself once offset 5 is reached");
    size_t got;
    char *text = run_read_lines(out_fd, 100, &got);
    cr_assert_eq(got, 4, "offsets 1..4 after the first event");
    free(text);
    close(out_fd);
    free(in);
    free(err);
}

Test(cli, closed_pipe_ends_replay_quietly_with_0)
{
    create_stream("one", "1");
    char *in = gen_lines("in.jsonl", 20000, 5, TS_STEP, NULL);
    append_file("one", in, NULL);
    char *err = scratch("pipe.err");
    int out_fd;
    pid_t pid = run_start(NULL, err, &out_fd, (const char *const[]){ "replay", env.store, "one", NULL });
    size_t got;
    char *text = run_read_lines(out_fd, 1, &got);
    cr_assert_geq(got, 1);
    close(out_fd); /* like `| head -1` */
    cr_assert_eq(run_wait(pid), 0);
    char *errtext = run_slurp(err, NULL);
    cr_assert_str_eq(errtext, "");
    free(errtext);
    free(text);
    free(in);
    free(err);
}

Test(cli, write_error_on_stdout_fails_with_1)
{
    create_stream("one", "1");
    char *in = gen_lines("in.jsonl", 5000, 5, TS_STEP, NULL);
    append_file("one", in, NULL);
    run_result r = run_siglog_to(NULL, "/dev/full", (const char *const[]){ "replay", env.store, "one", NULL });
    cr_assert_eq(r.status, 1, "a full disk is a failure");
    cr_assert(strstr(r.err, "No space left on device"), "%s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
    run_free(&r);
    r = run_siglog_to(NULL, "/dev/full", (const char *const[]){ "stat", env.store, "--json", NULL });
    cr_assert_eq(r.status, 1);
    run_free(&r);
    free(in);
}

/* ---- stat ---- */

/* A store whose writer lost power after appending `events` durable
 * events "v0".."vN" to stream ev: the segments lost what was written
 * since the last checkpoint, the journal holds it. */
static char *crashed_store(const char *name, int events)
{
    char *dir = scratch(name);
    io_crash *c = io_crash_new(1);
    siglog *s = test_store_open(dir, io_crash_io(c));
    siglog_stream *st = test_stream_create(s, "ev", 1, SIGLOG_SYNC_ALWAYS, 0);
    for (int i = 0; i < events; i++) {
        char v[16];
        int n = snprintf(v, sizeof v, "v%d", i);
        siglog_event e = {.value = v, .value_len = (size_t)n};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    io_crash_die_after(c, io_crash_ops(c) + 1);
    siglog_close(s);
    cr_assert_eq(io_crash_power_cut(c, IO_CRASH_DROP_ALL), 0);
    io_crash_free(c);
    return dir;
}

Test(cli, read_commands_write_nothing_and_serve_commits_only_the_journal_holds)
{
    char *store = crashed_store("crashed", 50);
    char *pdir = test_path(store, "streams/ev/00000");
    char *before = test_tree_fingerprint(store);

    run_result r = RUN(NULL, "replay", store, "ev", "--format", "value");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(count_lines(r.out), 50, "replay serves every acknowledged event: %s", r.out);
    cr_assert(strncmp(r.out, "v0\nv1\n", 6) == 0 && strstr(r.out, "\nv49\n"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "stat", store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"next_offset\": 50") || strstr(r.out, "\"next_offset\":50"), "%s", r.out);
    run_free(&r);
    const char *const other[][3] = {{"stat", store, NULL}, {"verify", store, NULL}, {"dump", pdir, "--records"}};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        r = other[i][2] ? RUN(NULL, other[i][0], other[i][1], other[i][2]) : RUN(NULL, other[i][0], other[i][1]);
        cr_assert_lt(r.status, 2, "%s: %s", other[i][0], r.err);
        run_free(&r);
    }

    char *after = test_tree_fingerprint(store);
    cr_assert_str_eq(after, before, "a read command changed the store:\nbefore:\n%s\nafter:\n%s", before, after);
    free(before);
    free(after);
    free(pdir);
    free(store);
}

Test(cli, stat_json_describes_streams_and_partitions)
{
    create_stream("clicks", "4");
    create_stream("empty", "1");
    char *in = gen_lines("in.jsonl", 400, 13, TS_STEP, NULL);
    append_file("clicks", in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    run_result r = RUN(NULL, "stat", env.store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "stat --json is not JSON: %s", jerr.text);
    cr_assert_str_eq(field_str(doc, "store"), env.store);
    json_t *streams = json_object_get(doc, "streams");
    cr_assert_eq(json_array_size(streams), 2);
    json_t *clicks = json_array_get(streams, 0);
    cr_assert_str_eq(field_str(clicks, "name"), "clicks");
    json_t *parts = json_object_get(clicks, "partition_info");
    cr_assert_eq(json_array_size(parts), 4);
    json_int_t events = 0, min_ts = INT64_MAX, max_ts = 0;
    for (size_t p = 0; p < 4; p++) {
        json_t *pi = json_array_get(parts, p);
        cr_assert_eq(field_int(pi, "partition"), (json_int_t)p);
        cr_assert_eq(field_int(pi, "events"), field_int(pi, "next_offset") - field_int(pi, "log_start_offset"));
        cr_assert_str_eq(field_str(pi, "state"), "ok");
        cr_assert_geq(field_int(pi, "segments"), 1);
        events += field_int(pi, "events");
        if (field_int(pi, "events") > 0) {
            cr_assert_gt(field_int(pi, "bytes"), 0);
            if (field_int(pi, "first_timestamp_us") < min_ts)
                min_ts = field_int(pi, "first_timestamp_us");
            if (field_int(pi, "max_timestamp_us") > max_ts)
                max_ts = field_int(pi, "max_timestamp_us");
        }
    }
    cr_assert_eq(events, 400);
    cr_assert_eq(min_ts, 1396839069277000LL);
    cr_assert_eq(max_ts, 1396839069277000LL + 399000);
    json_decref(doc);
    run_free(&r);

    r = RUN(NULL, "stat", env.store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "stream clicks") && strstr(r.out, "stream empty"), "%s", r.out);
    run_free(&r);
    free(in);
}

/* ---- verify and dump ---- */

TestSuite(verify, .init = env_setup, .fini = env_teardown, .timeout = 120);
TestSuite(dump, .init = env_setup, .fini = env_teardown, .timeout = 120);

/* Stream `name` with small uncompressed segments (several per partition)
 * filled with n generated events keyed by user.id. */
static void fill_stream(const char *name, const char *partitions, size_t n)
{
    run_result r = RUN(NULL, "stream", "create", env.store, name, "--partitions", partitions, "--segment-bytes",
                       "64KiB", "--compression", "none");
    cr_assert_eq(r.status, 0, "stream create %s: %s", name, r.err);
    run_free(&r);
    char *in = gen_lines("fill.jsonl", n, 13, TS_STEP, NULL);
    append_file(name, in, (const char *const[]){ "--key-field", "user.id", "--time-field", "ts", NULL });
    free(in);
}

/* The directory of a partition (caller frees). */
static char *partition_dir(const char *stream, unsigned partition)
{
    char *dir = NULL;
    cr_assert(asprintf(&dir, "%s/streams/%s/%05u", env.store, stream, partition) > 0);
    return dir;
}

/* The path of the k-th file named *ext in dir, in name order; k < 0 counts
 * from the end. NULL when there is none (caller frees). */
static char *nth_file(const char *dir, const char *ext, int k)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), found = 0;
    cr_assert(n >= 0, "cannot list %s", dir);
    char *path = NULL, *match[256];
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > strlen(ext) && strcmp(names[i]->d_name + len - strlen(ext), ext) == 0 && found < 256)
            match[found++] = names[i]->d_name;
    }
    int idx = k < 0 ? found + k : k;
    if (idx >= 0 && idx < found)
        path = test_path(dir, match[idx]);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return path;
}

/* The numbers of a verify summary line; asserts there is exactly one. */
typedef struct verify_summary {
    unsigned long long files, batches, records, problems, repairs, remain;
    int has_repairs;
} verify_summary;

static verify_summary summary_of(const char *out)
{
    verify_summary s = { 0 };
    const char *line = strstr(out, "verify: ");
    cr_assert_not_null(line, "no summary line in: %s", out);
    cr_assert(line == out || line[-1] == '\n', "summary is not a line of its own: %s", out);
    cr_assert_null(strstr(line + 1, "verify: "), "more than one summary: %s", out);
    int n = sscanf(line, "verify: %llu files, %llu batches, %llu records, %llu problems, %llu repairs, %llu remain",
                   &s.files, &s.batches, &s.records, &s.problems, &s.repairs, &s.remain);
    cr_assert(n == 4 || n == 6, "unparsable summary: %s", line);
    s.has_repairs = n == 6;
    return s;
}

static size_t count_prefix(const char *out, const char *prefix)
{
    size_t n = 0, len = strlen(prefix);
    for (const char *p = out; *p; p = strchr(p, '\n') + 1) {
        n += strncmp(p, prefix, len) == 0;
        cr_assert_not_null(strchr(p, '\n'), "output ends without a newline");
    }
    return n;
}

/* Events of a stream as replay reads them. */
static size_t replayed_events(const char *stream)
{
    run_result r = REPLAY(stream);
    size_t n = count_lines(r.out);
    run_free(&r);
    return n;
}

Test(verify, clean_store_exits_0_with_one_summary_line)
{
    fill_stream("clicks", "2", 2000);
    run_result r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    verify_summary s = summary_of(r.out);
    cr_assert_eq(s.records, 2000);
    cr_assert_eq(s.problems, 0);
    cr_assert_geq(s.batches, 2);
    cr_assert_gt(s.files, 4, "store file, metadata, segments and indexes are counted: %s", r.out);
    cr_assert_not(s.has_repairs);
    cr_assert_eq(count_lines(r.out), 1, "nothing but the summary: %s", r.out);
    cr_assert_eq(r.err_len, 0, "no progress bar when stderr is no terminal: %s", r.err);
    run_free(&r);

    r = RUN(NULL, "verify", env.store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "verify --json is not JSON: %s", jerr.text);
    cr_assert_str_eq(field_str(doc, "store"), env.store);
    cr_assert_eq(field_int(doc, "records"), 2000);
    cr_assert_eq(field_int(doc, "batches"), (json_int_t)s.batches);
    cr_assert_eq(field_int(doc, "files"), (json_int_t)s.files);
    cr_assert_eq(field_int(doc, "remaining"), 0);
    cr_assert_eq(json_array_size(json_object_get(doc, "problems")), 0);
    cr_assert(json_is_true(json_object_get(doc, "ok")));
    json_decref(doc);
    run_free(&r);
}

Test(verify, flipped_byte_in_sealed_segment_is_named_with_file_and_position)
{
    fill_stream("clicks", "1", 3000);
    char *dir = partition_dir("clicks", 0);
    char *sealed = nth_file(dir, ".seg", 0), *last = nth_file(dir, ".seg", -1);
    cr_assert_str_neq(sealed, last, "the test needs a sealed segment");
    uint64_t size = test_file_size(sealed);
    /* Byte 100 lies in the body of the first batch, at byte 0. */
    test_flip_byte(sealed, 100, 0x10);

    char want[4200];
    snprintf(want, sizeof want, "problem: %s at byte 0: ", sealed);
    for (int repair = 0; repair < 2; repair++) {
        run_result r = repair ? RUN(NULL, "verify", env.store, "--repair") : RUN(NULL, "verify", env.store);
        cr_assert_eq(r.status, 1, "damage fails verify (repair %d): %s", repair, r.out);
        cr_assert(strstr(r.out, want), "no line '%s' in: %s", want, r.out);
        cr_assert(strstr(r.out, "sealed segment"), "%s", r.out);
        verify_summary s = summary_of(r.out);
        cr_assert_geq(s.problems, 1);
        cr_assert_lt(s.records, 3000, "the damaged batch's records are not counted");
        if (repair) {
            cr_assert_eq(s.remain, s.problems, "damage inside the log is never cut: %s", r.out);
            cr_assert_eq(count_prefix(r.out, "repaired: "), 0, "%s", r.out);
        }
        cr_assert_eq(count_lines(r.err), 1, "one line on stderr: %s", r.err);
        cr_assert(strstr(r.err, env.store), "%s", r.err);
        run_free(&r);
    }
    cr_assert_eq(test_file_size(sealed), size, "nothing was truncated");
    free(sealed);
    free(last);
    free(dir);
}

Test(verify, repair_cuts_a_torn_tail_and_keeps_every_event)
{
    fill_stream("clicks", "2", 2000);
    char *dir = partition_dir("clicks", 1);
    char *last = nth_file(dir, ".seg", -1);
    uint64_t size = test_file_size(last);
    FILE *f = fopen(last, "ab");
    cr_assert_not_null(f);
    fputs("half a batch: a crash cut this write short", f);
    cr_assert_eq(fclose(f), 0);

    run_result r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 1, "%s", r.out);
    char want[4200];
    snprintf(want, sizeof want, "problem: %s at byte %llu: torn tail", last, (unsigned long long)size);
    cr_assert(strstr(r.out, want), "no line '%s' in: %s", want, r.out);
    cr_assert_eq(test_file_size(last), size + 42, "verify alone changes nothing");
    run_free(&r);

    r = RUN(NULL, "verify", env.store, "--repair");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    verify_summary s = summary_of(r.out);
    cr_assert(s.has_repairs);
    cr_assert_eq(s.problems, 1, "%s", r.out);
    cr_assert_eq(s.repairs, 1, "%s", r.out);
    cr_assert_eq(s.remain, 0, "%s", r.out);
    snprintf(want, sizeof want, "repaired: %s: truncated torn tail", last);
    cr_assert(strstr(r.out, want), "repair says what it did: %s", r.out);
    run_free(&r);
    cr_assert_eq(test_file_size(last), size, "exactly the garbage was cut");

    r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 0, "second verify is clean: %s", r.out);
    cr_assert_eq(summary_of(r.out).problems, 0);
    run_free(&r);
    cr_assert_eq(replayed_events("clicks"), 2000, "every event still replays");
    free(last);
    free(dir);
}

Test(verify, repair_rebuilds_corrupt_indexes_of_sealed_and_active_segments)
{
    fill_stream("clicks", "1", 3000);
    char *dir = partition_dir("clicks", 0);
    char *sealed_tix = nth_file(dir, ".tix", 0), *active_oix = nth_file(dir, ".oix", -1);
    char *first_seg = nth_file(dir, ".seg", 0), *active_seg = nth_file(dir, ".seg", -1);
    cr_assert_str_neq(first_seg, active_seg, "the test needs a sealed segment");
    /* Break the magic number that opens each file's header. */
    for (uint64_t pos = 0; pos < 4; pos++) {
        test_flip_byte(sealed_tix, pos, 0x5a);
        test_flip_byte(active_oix, pos, 0x5a);
    }

    run_result r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 1, "%s", r.out);
    char want[4200];
    snprintf(want, sizeof want, "problem: %s", sealed_tix);
    cr_assert(strstr(r.out, want), "no '%s' in: %s", want, r.out);
    snprintf(want, sizeof want, "problem: %s", active_oix);
    cr_assert(strstr(r.out, want), "no '%s' in: %s", want, r.out);
    run_free(&r);

    r = RUN(NULL, "verify", env.store, "--repair");
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    verify_summary s = summary_of(r.out);
    cr_assert_eq(s.problems, 2, "%s", r.out);
    cr_assert_eq(s.repairs, 2, "one rebuild per segment: %s", r.out);
    cr_assert_eq(s.remain, 0);
    cr_assert_eq(count_prefix(r.out, "repaired: "), 2, "%s", r.out);
    /* Recovery rebuilds the active segment's indexes and says so, naming
     * the segment. */
    snprintf(want, sizeof want, "repaired: %.*s.seg: rebuilt", (int)(strlen(active_oix) - 4), active_oix);
    cr_assert(strstr(r.out, want), "the rebuild of the active index is reported (%s): %s", want, r.out);
    run_free(&r);

    r = RUN(NULL, "verify", env.store);
    cr_assert_eq(r.status, 0, "%s", r.out);
    run_free(&r);
    r = REPLAY("clicks", "--from-offset", "2500");
    cr_assert_eq(count_lines(r.out), 500, "the rebuilt offset index finds its batches");
    run_free(&r);
    free(sealed_tix);
    free(active_oix);
    free(first_seg);
    free(active_seg);
    free(dir);
}

Test(verify, a_path_that_is_no_store_fails_with_one_line)
{
    const char *paths[] = { env.dir, "/nonexistent/store" };
    for (size_t i = 0; i < 2; i++) {
        run_result r = RUN(NULL, "verify", paths[i]);
        cr_assert_eq(r.status, 1, "%s", paths[i]);
        cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
        cr_assert(strstr(r.err, paths[i]), "%s", r.err);
        cr_assert(strstr(r.err, "not a siglog store"), "%s", r.err);
        cr_assert_eq(r.out_len, 0, "%s", r.out);
        run_free(&r);
    }
}

/* One parsed batch line of dump. */
typedef struct dump_batch {
    unsigned long long position, base, last, count, stored, raw, checksum;
    char first_ts[64], max_ts[64], codec[16], valid[8];
} dump_batch;

/* Every batch line of a dump, checked for shape and for dense offsets
 * within each file; returns the sum of counts and the number of batches. */
static unsigned long long dump_counts(const char *out, size_t *batches)
{
    unsigned long long events = 0, next = 0, end_of_file = 0;
    int first_in_file = 1;
    *batches = 0;
    for (const char *p = out; *p; p = strchr(p, '\n') + 1) {
        cr_assert_not_null(strchr(p, '\n'));
        if (strncmp(p, "segment: ", 9) == 0) {
            first_in_file = 1;
            continue;
        }
        if (strncmp(p, "  offset: ", 10) == 0)
            continue;
        dump_batch b;
        int n = sscanf(p,
                       "position: %llu base_offset: %llu last_offset: %llu count: %llu first_ts: %63s max_ts: %63s "
                       "stored_bytes: %llu raw_bytes: %llu codec: %15s checksum: 0x%llx valid: %7s",
                       &b.position, &b.base, &b.last, &b.count, b.first_ts, b.max_ts, &b.stored, &b.raw, b.codec,
                       &b.checksum, b.valid);
        cr_assert_eq(n, 11, "unparsable batch line: %.*s", (int)(strchr(p, '\n') - p), p);
        cr_assert_str_eq(b.valid, "true");
        cr_assert(strcmp(b.codec, "none") == 0 || strcmp(b.codec, "lz4") == 0, "codec %s", b.codec);
        cr_assert_eq(b.last - b.base + 1, b.count);
        cr_assert_gt(b.raw, 0);
        if (!first_in_file) {
            cr_assert_eq(b.base, next, "offsets are dense");
            cr_assert_eq(b.position, end_of_file, "batches follow each other");
        }
        first_in_file = 0;
        next = b.last + 1;
        end_of_file = b.position + b.stored;
        events += b.count;
        ++*batches;
    }
    return events;
}

Test(dump, batches_of_segments_and_partitions_add_up_to_the_events)
{
    fill_stream("clicks", "2", 3000);
    unsigned long long total = 0;
    for (unsigned p = 0; p < 2; p++) {
        char *dir = partition_dir("clicks", p);
        run_result r = RUN(NULL, "dump", dir);
        cr_assert_eq(r.status, 0, "%s", r.err);
        size_t batches;
        unsigned long long events = dump_counts(r.out, &batches);
        cr_assert_gt(batches, 0);
        total += events;

        /* The directory is its segments in name order. */
        unsigned long long by_file = 0;
        size_t segments = 0;
        for (char *seg; (seg = nth_file(dir, ".seg", (int)segments)) != NULL; segments++) {
            run_result s = RUN(NULL, "dump", seg);
            cr_assert_eq(s.status, 0, "%s", s.err);
            cr_assert(strstr(r.out, s.out), "the dump of %s is part of the directory's", seg);
            size_t b;
            by_file += dump_counts(s.out, &b);
            run_free(&s);
            free(seg);
        }
        cr_assert_eq(count_prefix(r.out, "segment: "), segments);
        cr_assert_eq(by_file, events);
        run_free(&r);
        free(dir);
    }
    cr_assert_eq(total, 3000, "every appended event is in one batch");
}

Test(dump, records_are_listed_one_per_line_with_escaped_previews)
{
    create_stream("raw", "1");
    append_raw("raw", "k\"1", 3, "line\none\ttab \x01\xff", 15);
    char long_value[100];
    memset(long_value, 'v', sizeof long_value);
    append_raw("raw", NULL, 0, long_value, sizeof long_value);
    char *dir = partition_dir("raw", 0);
    run_result r = RUN(NULL, "dump", dir, "--records");
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t batches;
    unsigned long long events = dump_counts(r.out, &batches);
    cr_assert_eq(events, 2);
    cr_assert_eq(count_prefix(r.out, "  offset: "), 2, "%s", r.out);
    cr_assert(strstr(r.out, "  offset: 0 ts: 1970-01-01T00:00:00.000005Z key: \"k\\\"1\" schema: 0 headers: 0 flags: 0 "
                            "value_bytes: 15 value: \"line\\none\\ttab \\x01\\xff\"\n"),
              "%s", r.out);
    char want[200];
    snprintf(want, sizeof want, "  offset: 1 ts: 1970-01-01T00:00:00.000005Z key: null schema: 0 headers: 0 flags: 0 "
                                "value_bytes: 100 value: \"%.40s\"...\n", long_value);
    cr_assert(strstr(r.out, want), "a long value is cut to a preview: %s", r.out);
    run_free(&r);

    fill_stream("clicks", "1", 1500);
    free(dir);
    dir = partition_dir("clicks", 0);
    r = RUN(NULL, "dump", dir, "--records");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(dump_counts(r.out, &batches), 1500);
    cr_assert_eq(count_prefix(r.out, "  offset: "), 1500);
    unsigned long long expect = 0;
    for (const char *p = strstr(r.out, "  offset: "); p; p = strstr(p + 1, "\n  offset: ")) {
        unsigned long long off;
        cr_assert_eq(sscanf(p + (*p == '\n'), "  offset: %llu", &off), 1);
        cr_assert_eq(off, expect++, "records in offset order");
    }
    run_free(&r);
    free(dir);
}

Test(dump, corrupt_segment_prints_the_problem_and_exits_1)
{
    fill_stream("clicks", "1", 3000);
    char *dir = partition_dir("clicks", 0);
    char *seg = nth_file(dir, ".seg", 0);
    test_flip_byte(seg, 100, 0x10);
    const char *paths[] = { seg, dir };
    for (size_t i = 0; i < 2; i++) {
        run_result r = RUN(NULL, "dump", paths[i]);
        cr_assert_eq(r.status, 1, "%s", paths[i]);
        cr_assert(strstr(r.out, "position: 0 valid: false problem: "), "%s", r.out);
        cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
        cr_assert(strstr(r.err, seg) && strstr(r.err, "byte 0"), "names file and position: %s", r.err);
        run_free(&r);
    }
    run_result r = RUN(NULL, "dump", env.store);
    cr_assert_eq(r.status, 1, "a store is not a partition directory");
    cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
    run_free(&r);
    free(seg);
    free(dir);
}
