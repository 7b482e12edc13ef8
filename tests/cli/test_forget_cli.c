/*
 * `siglog forget`: the keys' events go (replay --key returns nothing, the
 * rest is replayed as before), --json reports the figures, --dry-run
 * writes nothing (every file's hash unchanged), one audit record per
 * partition changed; bad arguments exit 1 with the reason in one line, or
 * 2 for usage (an empty key file among them). --status lists a forget a
 * crash left (text and --json) and --finish finishes it, asking a live
 * writer to scrub its journal (one that does not answer: exit 1 after
 * --wait, the intent pending); a forget that would empty every sealed
 * segment after the cold tier exits 1 with its intent pending and every
 * other file as it was, and finishes once a later event is sealed. A key in an
 * active segment: rolled first, by the live writer when asked; a writer
 * that does not answer within --wait (stopped): exit 1, nothing changed.
 */
#include "forget_intent.h"
#include "run.h"
#include "store.h"
#include "support.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS 3000
#define KEYS 30

static char *dir, *store;

static char *write_file(const char *name, const char *text)
{
    char *path = test_path(dir, name);
    run_write_file(path, text, strlen(text));
    return path;
}

/* Stream "ev", 2 partitions of 64 KiB segments, keyed by KEYS users in
 * turn, then unkeyed padding that seals what the keyed events are in. */
static void setup(void)
{
    dir = test_tmpdir("cli-forget");
    store = test_path(dir, "store");
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "ev", "--partitions", "2", "--segment-bytes", "65536", "--compression", "none");
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < EVENTS; i++)
        fprintf(f, "{\"user\":\"user-%03d\",\"n\":\"value-%05d\"}\n", i % KEYS, i);
    fclose(f);
    RUN_OK("append", store, "ev", "--key-field", "user", in);
    f = fopen(in, "w");
    for (int i = 0; i < 600; i++)
        fprintf(f, "{\"pad\":\"%0400d\"}\n", i);
    fclose(f);
    RUN_OK("append", store, "ev", "--partition", "0", in);
    RUN_OK("append", store, "ev", "--partition", "1", in);
    free(in);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(cli_forget, .init = setup, .fini = teardown, .timeout = 120);

static size_t lines_of(const char *const *args)
{
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t n = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    run_free(&r);
    return n;
}

#define LINES(...) lines_of((const char *const[]){ __VA_ARGS__, NULL })

/* The audit trail's forget records (one line each). */
static size_t forget_records(void)
{
    run_result r = RUN(NULL, "audit", store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t n = 0;
    for (const char *p = r.out; (p = strstr(p, " forget command ")) != NULL; p++)
        n++;
    run_free(&r);
    return n;
}

Test(cli_forget, forgets_the_keys_and_nothing_else)
{
    size_t all = LINES("replay", store, "ev");
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-007"), EVENTS / KEYS);
    char *keys = write_file("keys", "user-007\nuser-012\n");
    json_t *doc = RUN_JSON("forget", store, "ev", "--key-file", keys, "--json");
    cr_assert_eq(run_json_int(doc, "keys"), 2);
    cr_assert_eq(run_json_int(doc, "events_removed"), 2 * EVENTS / KEYS);
    cr_assert_eq(run_json_int(doc, "partitions"), 2);
    cr_assert(json_is_false(json_object_get(doc, "dry_run")));
    cr_assert(json_is_true(json_object_get(doc, "journal_scrubbed")));
    json_int_t changed = run_json_int(doc, "partitions_changed");
    json_decref(doc);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-007"), 0);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-012"), 0);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-008"), EVENTS / KEYS);
    cr_assert_eq(LINES("replay", store, "ev"), all - 2 * EVENTS / KEYS);
    cr_assert_eq(forget_records(), (size_t)changed);
    run_result r = RUN(NULL, "audit", store);
    cr_assert_null(strstr(r.out, "user-0"), "the audit names a key: %s", r.out);
    run_free(&r);
    /* Again: nothing left to remove, nothing audited. */
    r = RUN(NULL, "forget", store, "ev", "--key", "user-007");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "forgot: 1 keys of stream ev: 0 events"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(forget_records(), (size_t)changed);
    free(keys);
}

Test(cli_forget, dry_run_writes_nothing)
{
    RUN_OK("forget", store, "ev", "--key", "user-001", "--dry-run"); /* makes maintenance.lock */
    char *before = test_store_fingerprint(store);
    run_result r = RUN(NULL, "forget", store, "ev", "--key", "user-001", "--key", "user-002", "--dry-run");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "would forget: 2 keys of stream ev: 200 events"), "%s", r.out);
    run_free(&r);
    char *after = test_store_fingerprint(store);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    cr_assert_eq(forget_records(), 0);
}

static void refused(int status, const char *want, const char *const *args)
{
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, status, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, want), "%s", r.err);
    if (status == 1)
        cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "not one line: %s", r.err);
    run_free(&r);
}

#define REFUSED(status, want, ...) refused(status, want, (const char *const[]){ __VA_ARGS__, NULL })

Test(cli_forget, bad_arguments_are_named)
{
    char *empty = write_file("empty", "");
    char *blank = write_file("blank", "user-001\n\nuser-002\n");
    REFUSED(1, "no stream 'nope'", "forget", store, "nope", "--key", "user-001");
    REFUSED(2, "holds no key", "forget", store, "ev", "--key-file", empty);
    REFUSED(2, "line 2 is empty", "forget", store, "ev", "--key-file", blank);
    REFUSED(1, "cannot read key file", "forget", store, "ev", "--key-file", "/nonexistent/keys");
    REFUSED(2, "--key K or --key-file FILE is required", "forget", store, "ev");
    REFUSED(2, "exclude each other", "forget", store, "ev", "--key", "a", "--key-file", empty);
    REFUSED(2, "empty string", "forget", store, "ev", "--key", "");
    REFUSED(2, "STREAM", "forget", store, "--key", "a");
    run_result r = RUN(NULL, "forget", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "usage: siglog forget"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(forget_records(), 0, "a refused run is not audited");
    free(empty);
    free(blank);
}

/* With no writer, the forget rolls the active segment and removes the
 * late event too; beside a writer that does not answer (stopped), that
 * segment is the writer's: exit 1 after --wait, nothing changed; beside
 * a live writer (this process), the writer rolls it when asked. */
Test(cli_forget, a_key_in_the_active_segment_is_rolled_first_by_whoever_has_it)
{
    char *late = write_file("late.jsonl", "{\"user\":\"user-004\",\"n\":\"late-of-004\"}\n"
                                          "{\"user\":\"user-005\",\"n\":\"late-of-005\"}\n"
                                          "{\"user\":\"user-006\",\"n\":\"late-of-006\"}\n");
    RUN_OK("append", store, "ev", "--key-field", "user", late);
    int writer = test_writer_stopped(store);
    REFUSED(1, "waited 1000 ms for it to answer", "forget", store, "ev", "--key", "user-004", "--wait", "1");
    test_writer_stopped_end(writer);
    REFUSED(2, "--wait", "forget", store, "ev", "--key", "user-004", "--wait", "0");
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-004"), EVENTS / KEYS + 1);
    cr_assert_eq(forget_records(), 0, "a refused run is not audited");

    run_result r = RUN(NULL, "forget", store, "ev", "--key", "user-004");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "rolled 1 active segment holding events of the keys first"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-004"), 0);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-005"), EVENTS / KEYS + 1);
    r = RUN(NULL, "replay", store, "ev", "--format", "value");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "late-of-004"));
    cr_assert_not_null(strstr(r.out, "late-of-005"));
    run_free(&r);

    /* Another event of user-006, in an active segment again, now beside
     * a live writer. */
    RUN_OK("append", store, "ev", "--key-field", "user", late);
    siglog *s = test_store_open(store, NULL);
    run_result lr = RUN(NULL, "forget", store, "ev", "--key", "user-006", "--wait", "30", "--json");
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(lr.status, 0, "%s", lr.err);
    json_error_t jerr;
    json_t *doc = json_loads(lr.out, 0, &jerr);
    cr_assert_not_null(doc, "%s", lr.out);
    cr_assert_eq(json_integer_value(json_object_get(doc, "segments_rolled")), 1, "%s", lr.out);
    cr_assert(json_is_true(json_object_get(doc, "journal_scrubbed")), "%s", lr.out);
    json_decref(doc);
    run_free(&lr);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-006"), 0);
    free(late);
}

Test(cli_forget, status_lists_an_interrupted_forget_and_finish_finishes_it)
{
    run_result r = RUN(NULL, "forget", store, "--status");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "no forget to finish\n");
    run_free(&r);
    test_write_interrupted_intent(store, "ev", "user-007");
    char *before = test_store_fingerprint(store);
    r = RUN(NULL, "forget", store, "--status");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "stream ev: a forget of 1 keys started 2023-11-14T22:13:20.000000Z is not finished\n");
    run_free(&r);
    json_t *doc = RUN_JSON("forget", store, "--status", "--json");
    json_t *pending = json_object_get(doc, "pending");
    cr_assert_eq(json_array_size(pending), 1);
    json_t *e = json_array_get(pending, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "stream")), "ev");
    cr_assert_eq(json_integer_value(json_object_get(e, "keys")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "started")), "2023-11-14T22:13:20.000000Z");
    json_decref(doc);
    char *after = test_store_fingerprint(store);
    cr_assert_str_eq(after, before, "--status wrote");
    free(before);
    free(after);
    REFUSED(2, "takes the store alone", "forget", store, "--status", "--key", "user-001");
    REFUSED(2, "exclude each other", "forget", store, "--status", "--finish");

    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-007"), EVENTS / KEYS);
    doc = RUN_JSON("forget", store, "--finish", "--json");
    cr_assert_eq(run_json_int(doc, "intents_finished"), 1);
    cr_assert_eq(run_json_int(doc, "events_removed"), EVENTS / KEYS);
    json_decref(doc);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-007"), 0);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-008"), EVENTS / KEYS);
    r = RUN(NULL, "forget", store, "--status");
    cr_assert_str_eq(r.out, "no forget to finish\n");
    run_free(&r);
}

/* Whether a file of the store holds user-007, one of its values or a
 * late-007 value; the first such file into *which. */
static int store_holds_user_007(char **which)
{
    test_files f = {0};
    test_files_load_below(&f, store);
    int found = 0;
    for (size_t n = 0; n < f.n && !found; n++) {
        found = test_files_holds(&f, n, "user-007") || test_files_holds(&f, n, "late-007-");
        for (int i = 7; i < EVENTS && !found; i += KEYS) {
            char value[16];
            snprintf(value, sizeof value, "value-%05d", i);
            found = test_files_holds(&f, n, value);
        }
        if (found)
            *which = strdup(f.path[n]);
    }
    test_files_free(&f);
    return found;
}

static int note_last_base(void *ctx, const siglog_segment_info *seg)
{
    *(uint64_t *)ctx = seg->base_offset;
    return 0;
}

/* A forget died after its intent, its journal scrub not done, and a
 * writer opened since holds events of the key in its journal (appended,
 * then sealed by a size roll). --finish asks it for the scrub: beside a
 * stopped writer it exits 1 after --wait with the intent pending; beside
 * a live one no file of the store holds the key or a value of it
 * afterwards, while the writer still has the store. */
Test(cli_forget, finish_beside_a_live_writer_has_it_scrub_its_journal)
{
    test_write_interrupted_intent(store, "ev", "user-007");
    int writer = test_writer_stopped(store);
    REFUSED(1, "waited 1000 ms for it to answer", "forget", store, "--finish", "--wait", "1");
    test_writer_stopped_end(writer);
    run_result r = RUN(NULL, "forget", store, "--status");
    cr_assert_str_eq(r.out, "stream ev: a forget of 1 keys started 2023-11-14T22:13:20.000000Z is not finished\n");
    run_free(&r);

    siglog *s = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    char value[480];
    uint64_t late_end = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(value, sizeof value, "{\"n\":\"late-007-%d\"}", i);
        siglog_event e = {.key = "user-007", .key_len = 8, .value = value, .value_len = strlen(value)};
        cr_assert_eq(siglog_append(st, 1, &e, 1, NULL, &late_end), 0, "%s", siglog_errdetail());
    }
    /* Past 64 KiB, each written at once: the late events' segment rolls. */
    uint64_t active_base = 0;
    for (int i = 0; i < 400 && active_base <= late_end; i++) {
        snprintf(value, sizeof value, "{\"pad\":\"%0400d\"}", i);
        siglog_event e = {.value = value, .value_len = strlen(value)};
        cr_assert_eq(siglog_append(st, 1, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_segments_foreach(st, 1, NULL, note_last_base, &active_base), 0, "%s", siglog_errdetail());
    }
    cr_assert_gt(active_base, late_end, "premise: the late events are in a sealed segment");
    char *which = NULL;
    cr_assert(store_holds_user_007(&which), "premise: the writer's journal holds late-007");
    free(which);
    which = NULL;

    json_t *doc = RUN_JSON("forget", store, "--finish", "--wait", "30", "--json");
    cr_assert_eq(run_json_int(doc, "intents_finished"), 1);
    cr_assert_eq(run_json_int(doc, "events_removed"), EVENTS / KEYS + 10);
    cr_assert(json_is_true(json_object_get(doc, "journal_scrubbed")), "the live writer was not asked");
    json_decref(doc);
    cr_assert_not(store_holds_user_007(&which), "%s holds user-007 or a value of it", which);
    cr_assert_eq(siglog_close(s), 0);
    r = RUN(NULL, "forget", store, "--status");
    cr_assert_str_eq(r.out, "no forget to finish\n");
    run_free(&r);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-007"), 0);
    cr_assert_eq(LINES("replay", store, "ev", "--key", "user-008"), EVENTS / KEYS);
}

/* A forget whose key fills every sealed segment after the cold tier has
 * no segment to give their offsets to (a cold entry is never rewritten):
 * its dry run says it would fail with that error and exits 1, writing
 * nothing; the forget exits 1 with that error, its intent listed by
 * --status and every file of the store and cold_dir as it was but the
 * intent; --finish fails the same; after an append and a roll the next
 * forget finishes it. */
static const char *edge_keys[] = {"key-000", "key-001", "edge"};
static test_token_log edge_log = {.keys = edge_keys, .seed = 9400};

Test(cli_forget, a_forget_emptying_every_segment_after_the_cold_tier_exits_1_with_its_intent_pending)
{
    char *edge = test_path(dir, "edge"), *edge_cold = test_path(dir, "edge-cold");
    cr_assert_eq(mkdir(edge_cold, 0755), 0);
    test_cold_edge_store(edge, edge_cold, &edge_log, 2, 2, 50);
    const char *dirs[] = {edge, edge_cold};
    test_files was = {0};
    test_files_load_below(&was, edge);
    test_files_load_below(&was, edge_cold);

    REFUSED(1, "would fail: forgetting keys of stream t: ", "forget", edge, "t", "--key", "edge", "--dry-run");
    REFUSED(1, "segment at offset 2500 follows the cold tier and would keep no event", "forget", edge, "t", "--key",
            "edge", "--dry-run");
    test_files_assert_same(&was, dirs, 2, NULL, "forget --dry-run");
    REFUSED(1, "segment at offset 2500 follows the cold tier and would keep no event", "forget", edge, "t", "--key",
            "edge");
    test_files_assert_same(&was, dirs, 2, "/streams/t/forget.intent", "forget");
    run_result r = RUN(NULL, "forget", edge, "--status");
    cr_assert_eq(r.status, 0, "%s", r.err);
    const char *listed = "stream t: a forget of 1 keys started ";
    cr_assert(strncmp(r.out, listed, strlen(listed)) == 0, "%s", r.out);
    run_free(&r);
    REFUSED(1, "follows the cold tier and would keep no event", "forget", edge, "--finish");
    test_files_assert_same(&was, dirs, 2, "/streams/t/forget.intent", "--finish");
    test_files_free(&was);

    test_token_session(edge, &edge_log, 1, 1, 0);
    test_roll_idle(edge, "t");
    r = RUN(NULL, "forget", edge, "t", "--key", "edge");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "finished 1 interrupted forget first"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(LINES("replay", edge, "t", "--key", "edge"), 0);
    cr_assert_eq(LINES("replay", edge, "t", "--key", "key-001"), 2500 / 2 + 1);
    r = RUN(NULL, "forget", edge, "--status");
    cr_assert_str_eq(r.out, "no forget to finish\n");
    run_free(&r);
    free(edge);
    free(edge_cold);
}

Test(cli_forget, a_damaged_intent_exits_1_naming_it)
{
    test_write_interrupted_intent(store, "ev", "user-007");
    char *path = test_path(store, "streams/ev/forget.intent");
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fputc('X', f);
    fclose(f);
    free(path);
    REFUSED(1, "forget.intent: bad magic (byte 0)", "forget", store, "--status");
    REFUSED(1, "forget.intent: bad magic (byte 0)", "forget", store, "--finish");
}

/* --archives: the exports in the directories given are rewritten (no
 * record of the key left in them); an export into a directory not given
 * is listed in archives_unvisited (and on stderr without --json); a
 * symlink in the directory is not followed: refused, nothing changed. */
Test(cli_forget, archives_given_are_rewritten_and_others_reported)
{
    char *exports = test_path(dir, "exports"), *elsewhere = test_path(dir, "elsewhere"),
         *link = test_path(exports, "linked.sgar");
    cr_assert_eq(mkdir(exports, 0755), 0);
    cr_assert_eq(mkdir(elsewhere, 0755), 0);
    RUN_OK("archive", store, "--stream", "ev", "--to", exports);
    RUN_OK("archive", store, "--stream", "ev", "--to", elsewhere);
    char *target = test_path(elsewhere, "ev.00000.00000000000000000000-00000000000000000000.sgar");
    cr_assert_eq(symlink(target, link), 0);
    run_result r = RUN(NULL, "forget", store, "ev", "--key", "user-007", "--archives", exports);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.err, "linked.sgar") && strstr(r.err, "symbolic link"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(forget_records(), 0);
    cr_assert_eq(unlink(link), 0);
    free(target);

    r = RUN(NULL, "forget", store, "ev", "--key", "user-007", "--archives", exports, "--dry-run");
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* The export of the partition without the key is passed over by its
     * filters. */
    cr_assert(strstr(r.out, "exported archives: 1 of the stream read, 1 passed over by their key filters, 1 would be "
                            "rewritten"), "%s", r.out);
    cr_assert(strstr(r.err, "not visited: ") && strstr(r.err, "elsewhere/ev.0000"), "%s", r.err);
    run_free(&r);

    json_t *doc = RUN_JSON("forget", store, "ev", "--key", "user-007", "--archives", exports, "--json");
    cr_assert_eq(run_json_int(doc, "archives_read"), 1);
    cr_assert_eq(run_json_int(doc, "archives_skipped"), 1);
    cr_assert_eq(run_json_int(doc, "archives_rewritten"), 1);
    json_t *unvisited = json_object_get(doc, "archives_unvisited");
    cr_assert(json_is_array(unvisited) && json_array_size(unvisited) == 2, "one per partition's export");
    cr_assert(strstr(json_string_value(json_array_get(unvisited, 0)), "elsewhere/ev.0000"));
    json_decref(doc);
    cr_assert_eq(forget_records(), 2, "the partition holding the key and its export");
    /* No record of user-007 in either export; the others' are there. */
    DIR *d = opendir(exports);
    cr_assert(d);
    size_t archives = 0, others = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char *path = test_path(exports, de->d_name);
        siglog_archive *a;
        cr_assert_eq(siglog_archive_open(&a, path), 0, "%s: %s", path, siglog_errdetail());
        const siglog_record *rec;
        while (siglog_archive_next(a, &rec) == 1) {
            cr_assert_not(rec->key_len == 8 && memcmp(rec->key, "user-007", 8) == 0, "%s", path);
            others += rec->key_len == 8 && memcmp(rec->key, "user-008", 8) == 0;
        }
        siglog_archive_close(a);
        archives++;
        free(path);
    }
    closedir(d);
    cr_assert_eq(archives, 2);
    cr_assert_gt(others, 0);
    free(exports);
    free(elsewhere);
    free(link);
}
