/*
 * `siglog audit`: the trail printed (text and --json, filtered by stream
 * and time), `--verify` passing on an intact trail and exiting 1 with one
 * line naming the first bad record for a deleted, an edited and a swapped
 * record; a torn tail reported and nothing written; usage errors exit 2.
 * The records are written through the engine (the library writes them
 * itself for the actions it records).
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "names.h"
#include "store.h"

static char *dir, *store, *trail;

static void append_records(void)
{
    siglog *s = test_store_open(store, NULL);
    static const char *const streams[] = {"clicks", "visits", "clicks", "visits"};
    for (int i = 0; i < 4; i++) {
        audit_record r;
        sl_audit_record_init(&r, i % 2 ? AUDIT_HOLD : AUDIT_PURGE, i % 2 ? AUDIT_BY_COMMAND : AUDIT_BY_POLICY);
        snprintf(r.stream, sizeof r.stream, "%s", streams[i]);
        r.partition = (uint32_t)i;
        r.offset_start = 100u * (unsigned)i;
        r.offset_end = 100u * (unsigned)i + 100;
        r.events = 100;
        snprintf(r.detail, sizeof r.detail, "line one\nline %d", i);
        cr_assert_eq(sl_store_audit(s, &r), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
}

static void setup(void)
{
    dir = test_tmpdir("cli-audit");
    store = test_path(dir, "store");
    run_result r = RUN(NULL, "init", store);
    cr_assert_eq(r.status, 0, "init failed: %s", r.err);
    run_free(&r);
    trail = test_path(store, STORE_AUDIT_FILE);
    append_records();
}

static void teardown(void)
{
    test_rmtree(dir);
    free(trail);
    free(store);
    free(dir);
}

TestSuite(cli_audit, .init = setup, .fini = teardown, .timeout = 120);

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Byte position of record i: the records here have one length. */
static uint64_t record_pos(int i)
{
    size_t len;
    char *all = run_slurp(trail, &len);
    uint64_t one = (uint8_t)all[36] | (uint64_t)(uint8_t)all[37] << 8;
    free(all);
    return AUDIT_HEADER_BYTES + (uint64_t)i * one;
}

Test(cli_audit, prints_every_record_one_line_each)
{
    char *before = test_tree_fingerprint(store);
    run_result r = RUN(NULL, "audit", store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(lines(r.out), 4, "%s", r.out);
    cr_assert(strstr(r.out, "0 ") == r.out, "%s", r.out);
    cr_assert(strstr(r.out, " purge policy clicks/0 offsets=[0,100) times=- events=100"), "%s", r.out);
    cr_assert(strstr(r.out, " hold command visits/1 offsets=[100,200)"), "%s", r.out);
    cr_assert(strstr(r.out, "detail=line one\\nline 3\n"), "the detail stays on its line: %s", r.out);
    cr_assert_eq(r.err_len, 0, "%s", r.err);
    run_free(&r);
    char *after = test_tree_fingerprint(store);
    cr_assert_str_eq(before, after, "audit wrote to the store");
    free(before);
    free(after);
}

Test(cli_audit, filters_by_stream_and_time)
{
    run_result r = RUN(NULL, "audit", store, "--stream", "visits");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(lines(r.out), 2, "%s", r.out);
    cr_assert(!strstr(r.out, "clicks"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store, "--since", "9999-01-01T00:00:00Z");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(r.out_len, 0, "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store, "--since", "2000-01-01T00:00:00Z");
    cr_assert_eq(lines(r.out), 4, "%s", r.out);
    run_free(&r);
}

Test(cli_audit, json_lists_every_field)
{
    run_result r = RUN(NULL, "audit", store, "--json", "--stream", "clicks");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_error_t e;
    json_t *doc = json_loads(r.out, 0, &e);
    cr_assert_not_null(doc, "%s: %s", e.text, r.out);
    json_t *recs = json_object_get(doc, "records");
    cr_assert_eq(json_array_size(recs), 2);
    json_t *second = json_array_get(recs, 1);
    cr_assert_eq(json_integer_value(json_object_get(second, "seq")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(second, "action")), "purge");
    cr_assert_str_eq(json_string_value(json_object_get(second, "cause")), "policy");
    cr_assert_eq(json_integer_value(json_object_get(second, "partition")), 2);
    cr_assert_eq(json_integer_value(json_object_get(second, "offset_end")), 300);
    cr_assert_str_eq(json_string_value(json_object_get(second, "detail")), "line one\nline 2");
    const char *const fields[] = {"time_us", "stream", "offset_start", "time_min_us", "time_max_us", "events",
                                  "bytes", "host", "pid", "uid"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        cr_assert_not_null(json_object_get(second, fields[i]), "no %s", fields[i]);
    cr_assert(json_is_null(json_object_get(doc, "torn_at")));
    json_decref(doc);
    run_free(&r);
}

Test(cli_audit, verify_passes_on_an_intact_trail)
{
    run_result r = RUN(NULL, "audit", store, "--verify");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "4 audit records verified; head mac "), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store, "--verify", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(doc, "records")), 4);
    cr_assert(json_is_true(json_object_get(doc, "verified")));
    cr_assert_eq(strlen(json_string_value(json_object_get(doc, "head_mac"))), 64);
    json_decref(doc);
    run_free(&r);
}

/* --verify exits 1 with one line naming record `bad` at its byte. */
static void verify_fails_at(int bad, uint64_t pos)
{
    run_result r = RUN(NULL, "audit", store, "--verify");
    cr_assert_eq(r.status, 1, "tampering went unnoticed: %s", r.out);
    char want[64];
    snprintf(want, sizeof want, "record %d at byte %llu", bad, (unsigned long long)pos);
    cr_assert(strstr(r.err, want), "%s", r.err);
    cr_assert_eq(lines(r.err), 1, "one line: %s", r.err);
    run_free(&r);
}

Test(cli_audit, verify_catches_a_deleted_record)
{
    uint64_t a = record_pos(1), b = record_pos(2);
    size_t len;
    char *all = run_slurp(trail, &len);
    memmove(all + a, all + b, len - b);
    run_write_file(trail, all, len - (b - a));
    free(all);
    verify_fails_at(1, a);
}

Test(cli_audit, verify_catches_an_edited_record)
{
    uint64_t at = record_pos(2);
    test_flip_byte(trail, at + 72, 0x02); /* its event count */
    verify_fails_at(2, at);
}

Test(cli_audit, verify_catches_swapped_records)
{
    uint64_t a = record_pos(1), b = record_pos(2), c = record_pos(3);
    size_t len;
    char *all = run_slurp(trail, &len);
    char *first = malloc(b - a);
    memcpy(first, all + a, b - a);
    memmove(all + a, all + b, c - b);
    memcpy(all + a + (c - b), first, b - a);
    run_write_file(trail, all, len);
    free(first);
    free(all);
    verify_fails_at(1, a);
}

Test(cli_audit, a_torn_tail_is_reported_and_left_alone)
{
    uint64_t last = record_pos(3);
    test_truncate(trail, last + 20);
    run_result r = RUN(NULL, "audit", store, "--verify");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "3 audit records verified"), "%s", r.out);
    char want[64];
    snprintf(want, sizeof want, "at byte %llu", (unsigned long long)last);
    cr_assert(strstr(r.err, "torn") && strstr(r.err, want), "%s", r.err);
    cr_assert_eq(lines(r.err), 1, "%s", r.err);
    run_free(&r);
    cr_assert_eq(test_file_size(trail), last + 20, "a reader cut the torn tail");
}

Test(cli_audit, usage_errors_exit_2)
{
    const char *const *cases[] = {
        (const char *const[]){ "audit", NULL },
        (const char *const[]){ "audit", "a", "b", NULL },
        (const char *const[]){ "audit", "s", "--since", "yesterday", NULL },
        (const char *const[]){ "audit", "s", "--verify", "--stream", "x", NULL },
        (const char *const[]){ "audit", "s", "--bogus", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run_siglog(NULL, cases[i]);
        cr_expect_eq(r.status, 2, "case %zu exited %d", i, r.status);
        cr_expect(r.err_len > 0 && r.out_len == 0, "case %zu", i);
        run_free(&r);
    }
    run_result r = RUN(NULL, "audit", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--verify"), "%s", r.out);
    run_free(&r);
}
