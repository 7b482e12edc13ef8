/*
 * schema_registry — registering schema versions through the library:
 * the rules (no-op, conflicts, order, compatibility with every reason,
 * transitive modes), persistence across reopen, a power cut at every
 * mutating call of a registration, and a damaged registry file that is
 * reported without touching the log.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_crash.h"
#include "schema_registry.h"
#include "siglog.h"
#include "support.h"

#define V1 "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"n\":{\"type\":\"integer\"}}}"
#define V2_NO_N "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"}}}"
#define V3_N_STRING                                                                                               \
    "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\"},\"n\":{\"type\":\"string\"}}}"
#define V_REQUIRED_COUNTRY                                                                                        \
    "{\"type\":\"object\",\"required\":[\"id\",\"country\"],\"properties\":{\"id\":{\"type\":\"string\"},"        \
    "\"country\":{\"type\":\"string\"}}}"

static siglog *store;
static siglog_stream *stream;
static char *dir;

static void setup(void)
{
    dir = test_tmpdir("schema_registry");
    store = test_store_open(dir, NULL);
    stream = test_stream_create(store, "events", 1, SIGLOG_SYNC_ALWAYS, 0);
}

static void teardown(void)
{
    siglog_close(store);
    test_rmtree(dir);
}

static int add(uint32_t version, const char *name, const char *def, int compat)
{
    return siglog_schema_add(stream, version, name, def, strlen(def), compat, NULL, NULL);
}

typedef struct reasons_seen {
    char text[4096];
    size_t n;
    int count;
} reasons_seen;

static void collect(void *ctx, const siglog_schema_reason *r)
{
    reasons_seen *s = ctx;
    s->count++;
    s->n += (size_t)snprintf(s->text + s->n, sizeof s->text - s->n, "%sv%u %s | %s | %s | %s", s->n ? "\n" : "",
                             r->against, r->path, r->old_type, r->new_type, r->what);
}

static void reopen(void)
{
    siglog_close(store);
    store = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(store, "events", &stream), 0, "%s", siglog_errdetail());
}

TestSuite(schema_registry, .init = setup, .fini = teardown);

Test(schema_registry, versions_persist_with_name_fingerprint_mode_and_time)
{
    cr_assert_eq(add(1, "clicks", V1, SIGLOG_COMPAT_BACKWARD), 0, "%s", siglog_errdetail());
    cr_assert_eq(add(2, "clicks without n", V2_NO_N, SIGLOG_COMPAT_FULL), 0, "%s", siglog_errdetail());
    siglog_schema_info before;
    cr_assert_eq(siglog_schema_get(stream, 2, &before), 0);
    reopen();
    siglog_schema_info info;
    cr_assert_eq(siglog_schema_get(stream, 2, &info), 0, "%s", siglog_errdetail());
    cr_assert_eq(info.version, 2);
    cr_assert_str_eq(info.name, "clicks without n");
    cr_assert_eq(info.compat, SIGLOG_COMPAT_FULL);
    cr_assert_eq(info.fingerprint, before.fingerprint);
    cr_assert_eq(info.registered_at_us, before.registered_at_us);
    cr_assert_gt(info.registered_at_us, 0);
    cr_assert_str_eq(info.definition,
                     "{\"properties\":{\"id\":{\"type\":\"string\"}},\"required\":[\"id\"],\"type\":\"object\"}");
    cr_assert_eq(info.definition_len, strlen(info.definition));
    cr_assert_eq(siglog_schema_get(stream, 3, &info), SIGLOG_ENOENT);
}

static int count_versions(void *ctx, const siglog_schema_info *info)
{
    uint32_t *seen = ctx;
    cr_assert_eq(info->version, *seen + 1, "versions in ascending order");
    *seen = info->version;
    return 0;
}

Test(schema_registry, the_rules_of_registration)
{
    cr_assert_eq(add(0, NULL, V1, SIGLOG_COMPAT_NONE), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "version 0 is reserved"));
    cr_assert_eq(add(2, NULL, V1, SIGLOG_COMPAT_NONE), 0);
    /* The same definition again, spelled differently: a no-op. */
    const char *respelled = "{ \"properties\": {\"n\": {\"type\":\"integer\"}, \"id\": {\"type\":\"string\"}},"
                            " \"type\": \"object\", \"required\": [\"id\"] }";
    cr_assert_eq(add(2, NULL, respelled, SIGLOG_COMPAT_NONE), 0);
    cr_assert_eq(add(2, NULL, V2_NO_N, SIGLOG_COMPAT_NONE), SIGLOG_EEXIST);
    cr_assert(strstr(siglog_errdetail(), "version 2 is registered with another definition"), "%s", siglog_errdetail());
    cr_assert_eq(add(1, NULL, V2_NO_N, SIGLOG_COMPAT_NONE), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "below the latest"));
    cr_assert_eq(add(3, "bad\nname", V2_NO_N, SIGLOG_COMPAT_NONE), SIGLOG_EINVAL);
    cr_assert_eq(add(3, NULL, "{\"type\":\"object\",\"properties\":{\"a\":{\"pattern\":\"x\"}}}", SIGLOG_COMPAT_NONE),
                 SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "unknown keyword \"pattern\" at $.properties.a"), "%s", siglog_errdetail());
    uint32_t seen = 1;
    cr_assert_eq(siglog_schema_foreach(stream, count_versions, &seen), 0);
    cr_assert_eq(seen, 2);
}

Test(schema_registry, incompatible_version_is_refused_with_every_reason_and_nothing_written)
{
    cr_assert_eq(add(1, NULL, V1, SIGLOG_COMPAT_NONE), 0);
    char *file = test_path(dir, "streams/events/schemas");
    uint64_t size = test_file_size(file);
    const char *v2 = "{\"type\":\"object\",\"required\":[\"id\",\"country\"],\"properties\":{\"id\":{\"type\":\"integer\"},"
                     "\"country\":{\"type\":\"string\"}}}";
    reasons_seen seen = { .n = 0 };
    cr_assert_eq(siglog_schema_add(stream, 2, NULL, v2, strlen(v2), SIGLOG_COMPAT_BACKWARD, collect, &seen),
                 SIGLOG_ESCHEMA);
    cr_assert(strstr(siglog_errdetail(), "version 2 is not backward compatible with version 1: 2 reasons"), "%s",
              siglog_errdetail());
    cr_assert_str_eq(seen.text,
                     "v1 $.country | absent | required string | old events may lack it; the new definition requires it\n"
                     "v1 $.id | string | integer | old events may hold string here, which the new definition refuses");
    cr_assert_eq(test_file_size(file), size);
    /* check says the same and writes nothing either. */
    reasons_seen again = { .n = 0 };
    cr_assert_eq(siglog_schema_check(stream, 2, v2, strlen(v2), SIGLOG_COMPAT_BACKWARD, collect, &again),
                 SIGLOG_ESCHEMA);
    cr_assert_str_eq(again.text, seen.text);
    cr_assert_eq(siglog_schema_check(stream, 2, v2, strlen(v2), SIGLOG_COMPAT_NONE, NULL, NULL), 0);
    cr_assert_eq(siglog_schema_get(stream, 2, &(siglog_schema_info){ 0 }), SIGLOG_ENOENT);
    free(file);
}

Test(schema_registry, transitive_modes_check_every_earlier_version)
{
    cr_assert_eq(add(1, NULL, V1, SIGLOG_COMPAT_NONE), 0);
    cr_assert_eq(add(2, NULL, V2_NO_N, SIGLOG_COMPAT_BACKWARD), 0);
    /* n comes back as a string: fine against v2, not against v1. */
    reasons_seen seen = { .n = 0 };
    cr_assert_eq(siglog_schema_check(stream, 3, V3_N_STRING, strlen(V3_N_STRING), SIGLOG_COMPAT_BACKWARD_TRANSITIVE,
                                     collect, &seen),
                 SIGLOG_ESCHEMA);
    cr_assert_str_eq(seen.text, "v1 $.n | integer | string | old events may hold integer here, which the new definition refuses");
    cr_assert(strstr(siglog_errdetail(), "with versions 1..2"), "%s", siglog_errdetail());
    cr_assert_eq(add(3, NULL, V3_N_STRING, SIGLOG_COMPAT_BACKWARD), 0, "%s", siglog_errdetail());
}

Test(schema_registry, read_only_handles_read_and_check_but_never_register)
{
    cr_assert_eq(add(1, "v1", V1, SIGLOG_COMPAT_NONE), 0);
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *ro;
    cr_assert_eq(siglog_open(&ro, dir, &o), 0, "%s", siglog_errdetail());
    siglog_stream *rs;
    cr_assert_eq(siglog_stream_get(ro, "events", &rs), 0);
    siglog_schema_info info;
    cr_assert_eq(siglog_schema_get(rs, 1, &info), 0);
    cr_assert_str_eq(info.name, "v1");
    cr_assert_eq(siglog_schema_check(rs, 2, V2_NO_N, strlen(V2_NO_N), SIGLOG_COMPAT_FULL, NULL, NULL), 0);
    cr_assert_eq(siglog_schema_add(rs, 2, NULL, V2_NO_N, strlen(V2_NO_N), SIGLOG_COMPAT_FULL, NULL, NULL),
                 SIGLOG_ERDONLY);
    const char *ok = "{\"id\":\"x\",\"n\":1}", *bad = "{\"n\":\"x\"}";
    cr_assert_eq(siglog_schema_validate(rs, 1, ok, strlen(ok), NULL, NULL, 8), 0);
    cr_assert_eq(siglog_schema_validate(rs, 1, bad, strlen(bad), NULL, NULL, 8), 2);
    cr_assert_eq(siglog_schema_validate(rs, 9, ok, strlen(ok), NULL, NULL, 8), SIGLOG_ENOENT);
    siglog_close(ro);
}

/* A tree's fingerprint without modification times: a writer's open
 * touches the indexes' times, never their bytes. */
static char *content_fingerprint(const char *d)
{
    char *fp = test_tree_fingerprint(d);
    char *out = calloc(1, strlen(fp) + 1), *w = out;
    for (char *line = strtok(fp, "\n"); line; line = strtok(NULL, "\n")) {
        char name[256], mode[16], size[32], mtime[64], hash[64];
        cr_assert_eq(sscanf(line, "%255s %15s %31s %63s %63s", name, mode, size, mtime, hash), 5, "%s", line);
        w += sprintf(w, "%s %s %s %s\n", name, mode, size, hash);
    }
    free(fp);
    return out;
}

static void damage_test(void (*damage)(const char *file))
{
    cr_assert_eq(add(1, NULL, V1, SIGLOG_COMPAT_NONE), 0);
    siglog_event e = { .value = "{\"id\":\"a\"}", .value_len = 10 };
    cr_assert_eq(siglog_append(stream, 0, &e, 1, NULL, NULL), 0);
    siglog_close(store);
    store = NULL;
    char *file = test_path(dir, "streams/events/schemas");
    damage(file);
    char *segments = test_path(dir, "streams/events/00000");
    char *before = content_fingerprint(segments);

    store = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(store, "events", &stream), 0, "the stream still opens: %s", siglog_errdetail());
    siglog_schema_info info;
    cr_assert_eq(siglog_schema_get(stream, 1, &info), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), file), "the detail names the file: %s", siglog_errdetail());
    cr_assert_eq(add(2, NULL, V2_NO_N, SIGLOG_COMPAT_NONE), SIGLOG_ECORRUPT);
    /* The log is untouched and still reads. */
    cr_assert_eq(test_read_all(stream, 0, NULL, NULL), 1);
    siglog_close(store);
    store = NULL;
    char *after = content_fingerprint(segments);
    cr_assert_str_eq(after, before);
    store = test_store_open(dir, NULL);
    free(before);
    free(after);
    free(segments);
    free(file);
}

static void flip(const char *file)
{
    test_flip_byte(file, 20, 0x01);
}

static void cut(const char *file)
{
    test_truncate(file, test_file_size(file) - 3);
}

Test(schema_registry, a_flipped_byte_is_reported_naming_the_file_and_the_log_is_untouched)
{
    damage_test(flip);
}

Test(schema_registry, a_truncated_file_is_reported_naming_the_file_and_the_log_is_untouched)
{
    damage_test(cut);
}

/* A power cut at each mutating call of a registration: afterwards the
 * registry holds the old list or the new one, never anything else, and
 * the new one whenever the call had returned 0. */
Test(schema_registry, power_cut_at_every_call_of_a_registration_leaves_old_or_new)
{
    const int modes[] = { IO_CRASH_DROP_ALL, IO_CRASH_RANDOM, IO_CRASH_GARBLE };
    int saw_new = 0, saw_old = 0;
    for (uint64_t k = 1;; k++) {
        int finished = 0;
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            char *d = test_tmpdir_fast("schema_cut");
            io_crash *crash = io_crash_new(k * 7 + m);
            siglog *s = test_store_open(d, io_crash_io(crash));
            siglog_stream *st = test_stream_create(s, "events", 1, SIGLOG_SYNC_ALWAYS, 0);
            cr_assert_eq(siglog_schema_add(st, 1, NULL, V1, strlen(V1), SIGLOG_COMPAT_NONE, NULL, NULL), 0);
            io_crash_die_after(crash, io_crash_ops(crash) + k);
            int rc = siglog_schema_add(st, 2, NULL, V2_NO_N, strlen(V2_NO_N), SIGLOG_COMPAT_FULL, NULL, NULL);
            finished = !io_crash_dead(crash);
            siglog_close(s);
            cr_assert_eq(io_crash_power_cut(crash, modes[m]), 0);
            io_crash_free(crash);

            s = test_store_open(d, NULL);
            cr_assert_eq(siglog_stream_get(s, "events", &st), 0);
            siglog_schema_info info;
            cr_assert_eq(siglog_schema_get(st, 1, &info), 0, "cut %llu mode %d: %s", (unsigned long long)k,
                         modes[m], siglog_errdetail());
            int has2 = siglog_schema_get(st, 2, &info) == 0;
            if (rc == 0)
                cr_assert(has2, "cut %llu mode %d: acknowledged version 2 lost", (unsigned long long)k, modes[m]);
            saw_new += has2;
            saw_old += !has2;
            siglog_close(s);
            test_rmtree_fast(d);
            free(d);
        }
        if (finished)
            break;
        cr_assert_lt(k, 100, "a registration never finished");
    }
    cr_assert_gt(saw_new, 0);
    cr_assert_gt(saw_old, 0);
}

Test(schema_registry, decoder_refuses_what_the_encoder_would_not_write)
{
    schema_def *d;
    cr_assert_eq(sl_schema_def_parse(&d, V1, strlen(V1)), 0);
    schema_entry e = { .version = 4, .compat = SCHEMA_COMPAT_FULL, .registered_at_us = 17, .name = "n", .def = d };
    schema_list l = { &e, 1 };
    uint8_t *bytes;
    size_t len;
    cr_assert_eq(sl_schema_list_encode(&l, &bytes, &len), 0);
    schema_list back;
    cr_assert_eq(sl_schema_list_decode(bytes, len, &back), 0, "%s", siglog_errdetail());
    cr_assert_eq(back.count, 1);
    cr_assert_eq(back.v[0].version, 4);
    cr_assert_eq(back.v[0].registered_at_us, 17);
    sl_schema_list_free(&back);
    for (size_t cut_at = 0; cut_at < len; cut_at++)
        cr_assert_eq(sl_schema_list_decode(bytes, cut_at, &back), SIGLOG_ECORRUPT, "cut at %zu accepted", cut_at);
    free(bytes);
    sl_schema_def_free(d);
}
