/*
 * `siglog archive`, and archives given to `siglog replay` and `siglog
 * verify` in place of a store: what an archive replays alone is what the
 * store replays at its offsets, byte for byte, and what the reference
 * decoder reads from it; damage is refused naming the byte, with nothing
 * written to standard output; each export is audited.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *dir, *store, *out;

static void setup(void)
{
    dir = test_tmpdir("cli-archive");
    store = test_path(dir, "store");
    out = test_path(dir, "out");
    cr_assert_eq(mkdir(out, 0700), 0);
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "ev", "--partitions", "2", "--segment-bytes", "64K", "--compression", "none",
           "--batch-bytes", "4KiB");
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 3000; i++)
        fprintf(f, "{\"n\":%d,\"ts\":%d,\"pad\":\"%060d\"}\n", i, 1700000000 + i, i);
    fclose(f);
    RUN_OK("append", store, "ev", in, "--key-field", "n", "--time-field", "ts", "--time-unit", "s");
    free(in);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(out);
    free(dir);
}

TestSuite(cli_archive, .init = setup, .fini = teardown, .timeout = 240);

/* The reference decoder's envelopes of an archive, or NULL without it. */
static char *reference_replay(const char *archive)
{
    const char *decoder = getenv("SIGLOG_REFERENCE_DECODER");
    struct stat sb;
    if (!decoder || stat("/usr/bin/python3", &sb) != 0)
        return NULL;
    char *txt = test_path(dir, "ref.jsonl");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' --archive '%s' > '%s'", decoder, archive, txt);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "the reference decoder failed on %s", archive);
    size_t len;
    char *text = run_slurp(txt, &len);
    free(txt);
    return text;
}

Test(cli_archive, an_archive_replays_alone_what_the_store_holds)
{
    run_result r = RUN(NULL, "archive", store, "--to", out, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    run_free(&r);
    json_t *list = json_object_get(doc, "archives");
    cr_assert_eq(json_array_size(list), 2, "one archive per partition");
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        const char *path = json_string_value(json_object_get(a, "path"));
        char part[16], to[32];
        snprintf(part, sizeof part, "%lld", (long long)json_integer_value(json_object_get(a, "partition")));
        snprintf(to, sizeof to, "%lld", (long long)json_integer_value(json_object_get(a, "next_offset")));
        cr_assert_eq(json_integer_value(json_object_get(a, "first_offset")), 0);
        cr_assert_gt(json_integer_value(json_object_get(a, "records")), 0);
        run_result from_archive = RUN(NULL, "replay", path);
        cr_assert_eq(from_archive.status, 0, "%s", from_archive.err);
        run_result from_store = RUN(NULL, "replay", store, "ev", "--partition", part, "--to-offset", to);
        cr_assert_eq(from_store.status, 0, "%s", from_store.err);
        cr_assert_str_eq(from_archive.out, from_store.out, "partition %s", part);
        char *ref = reference_replay(path);
        if (ref)
            cr_assert_str_eq(ref, from_store.out, "the reference decoder, partition %s", part);
        free(ref);
        run_free(&from_archive);
        run_free(&from_store);
        /* Filters and formats apply as to a store. */
        run_result some = RUN(NULL, "replay", path, "--from-offset", "5", "--limit", "2", "--format", "value");
        run_result want = RUN(NULL, "replay", store, "ev", "--partition", part, "--from-offset", "5", "--limit", "2",
                              "--format", "value");
        cr_assert_eq(some.status, 0, "%s", some.err);
        cr_assert_str_eq(some.out, want.out);
        run_free(&some);
        run_free(&want);
        r = RUN(NULL, "verify", path);
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert(strstr(r.out, ": ok\n") && strstr(r.out, "stream ev partition "), "%s", r.out);
        run_free(&r);
    }
    json_decref(doc);
    r = RUN(NULL, "audit", store);
    cr_assert(strstr(r.out, " archive command ev/0 offsets=[0,") && strstr(r.out, " archive command ev/1 "), "%s",
              r.out);
    run_free(&r);
    RUN_OK("audit", store, "--verify");
}

Test(cli_archive, a_damaged_archive_is_refused_naming_the_byte)
{
    run_result r = RUN(NULL, "archive", store, "--to", out, "--stream", "ev");
    cr_assert_eq(r.status, 0, "%s", r.err);
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)(strchr(r.out, '\t') - r.out), r.out);
    run_free(&r);
    test_flip_byte(path, 1000, 0x01);
    r = RUN(NULL, "verify", path);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "byte ") && strstr(r.err, "checksum mismatch"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "verify", path, "--json");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.out, "\"ok\": false"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "replay", path);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(r.out_len, 0, "nothing of a damaged archive is replayed");
    run_free(&r);
    r = RUN(NULL, "verify", path, "--repair");
    cr_assert_eq(r.status, 2, "an archive is never repaired");
    run_free(&r);
}

/* A flipped byte in a key filter: verify fails naming the filter and its
 * byte, while the archive still replays (the filter is not used). */
Test(cli_archive, a_damaged_key_filter_fails_verify_and_still_replays)
{
    run_result r = RUN(NULL, "archive", store, "--to", out, "--stream", "ev");
    cr_assert_eq(r.status, 0, "%s", r.err);
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)(strchr(r.out, '\t') - r.out), r.out);
    run_free(&r);
    RUN_OK("verify", path);
    FILE *f = fopen(path, "rb");
    uint8_t field[8];
    cr_assert(f && fseek(f, 112, SEEK_SET) == 0 && fread(field, 1, 8, f) == 8);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    uint64_t size = (uint64_t)ftell(f), filters = 0;
    fclose(f);
    for (int i = 7; i >= 0; i--)
        filters = filters << 8 | field[i];
    cr_assert_gt(filters, 0);
    uint64_t at = size - 16 - filters;
    test_flip_byte(path, at + 60, 0x01);
    r = RUN(NULL, "verify", path);
    cr_assert_eq(r.status, 1, "%s", r.out);
    char want[64];
    snprintf(want, sizeof want, "byte %llu", (unsigned long long)at);
    cr_assert(strstr(r.err, want) && strstr(r.err, "key filter"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "replay", path);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_gt(r.out_len, 0);
    run_free(&r);
}

Test(cli_archive, bounds_and_refusals)
{
    run_result r = RUN(NULL, "archive", store, "--to", out, "--before", "2000-01-01T00:00:00Z");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(r.out_len, 0, "nothing that old: %s", r.out);
    run_free(&r);
    cr_assert_eq(test_count_entries(out), 0);
    const char *const *usage[] = {
        (const char *const[]){ "archive", store, NULL },
        (const char *const[]){ "archive", store, "--to", out, "--before", "soon", NULL },
        (const char *const[]){ "archive", "--to", out, NULL },
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        r = run_siglog(NULL, usage[i]);
        cr_expect_eq(r.status, 2, "case %zu: %s", i, r.err);
        run_free(&r);
    }
    char *missing = test_path(dir, "missing");
    r = RUN(NULL, "archive", store, "--to", missing);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "missing"), "%s", r.err);
    run_free(&r);
    free(missing);
    r = RUN(NULL, "archive", store, "--to", out, "--stream", "nope");
    cr_assert_eq(r.status, 1);
    run_free(&r);
    r = RUN(NULL, "archive", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "usage"), "%s", r.out);
    run_free(&r);
}

/* --move beside a writer that holds the store open (and appends after):
 * per partition, the archive followed by what the store replays from its
 * new log start is, byte for byte, what the store replayed before; both
 * steps are audited. */
Test(cli_archive, move_runs_beside_a_writer_and_loses_nothing)
{
    run_result before[2];
    for (int p = 0; p < 2; p++) {
        before[p] = RUN(NULL, "replay", store, "ev", "--partition", p ? "1" : "0");
        cr_assert_eq(before[p].status, 0, "%s", before[p].err);
    }
    siglog *s = test_store_open(store, NULL);
    run_result r = RUN(NULL, "archive", store, "--to", out, "--move", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    run_free(&r);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    test_event t;
    test_event_make(&t, 3, 0);
    cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "the writer goes on: %s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    json_t *list = json_object_get(doc, "archives");
    cr_assert_eq(json_array_size(list), 2, "one archive per partition");
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        cr_assert(json_is_true(json_object_get(a, "moved")));
        long long p = json_integer_value(json_object_get(a, "partition"));
        char part[16], next[32], last[32];
        snprintf(part, sizeof part, "%lld", p);
        snprintf(next, sizeof next, "%lld", (long long)json_integer_value(json_object_get(a, "next_offset")));
        run_result from_archive = RUN(NULL, "replay", json_string_value(json_object_get(a, "path")));
        cr_assert_eq(from_archive.status, 0, "%s", from_archive.err);
        /* The store's end before the writer's last append. */
        run_result st_before = RUN(NULL, "stat", store, "--json");
        json_t *sd = json_loads(st_before.out, 0, NULL);
        run_free(&st_before);
        json_t *pi = json_array_get(
            json_object_get(json_array_get(json_object_get(sd, "streams"), 0), "partition_info"), (size_t)p);
        cr_assert_eq(json_integer_value(json_object_get(pi, "log_start_offset")),
                     json_integer_value(json_object_get(a, "next_offset")), "the log starts after the archive");
        snprintf(last, sizeof last, "%lld",
                 (long long)json_integer_value(json_object_get(pi, "next_offset")) - (p == 0));
        json_decref(sd);
        run_result from_store = RUN(NULL, "replay", store, "ev", "--partition", part, "--from-offset", next,
                                    "--to-offset", last);
        cr_assert_eq(from_store.status, 0, "%s", from_store.err);
        size_t la = strlen(from_archive.out);
        cr_assert_eq(la + strlen(from_store.out), strlen(before[p].out), "partition %s", part);
        cr_assert(memcmp(before[p].out, from_archive.out, la) == 0, "partition %s: the archive", part);
        cr_assert_str_eq(before[p].out + la, from_store.out, "partition %s: the store", part);
        run_free(&from_archive);
        run_free(&from_store);
    }
    json_decref(doc);
    for (int p = 0; p < 2; p++)
        run_free(&before[p]);
    r = RUN(NULL, "audit", store);
    cr_assert(strstr(r.out, "removed from the store"), "%s", r.out);
    run_free(&r);
    RUN_OK("audit", store, "--verify");
}

/* archive --move, then restore of both archives (given oldest partition
 * last, in one call): the store replays byte for byte what it replayed
 * before; a second restore changes nothing; usage errors exit 2. */
Test(cli_archive, restore_brings_moved_archives_back)
{
    run_result before = RUN(NULL, "replay", store, "ev");
    cr_assert_eq(before.status, 0, "%s", before.err);
    run_result r = RUN(NULL, "archive", store, "--to", out, "--move", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    run_free(&r);
    json_t *list = json_object_get(doc, "archives");
    cr_assert_eq(json_array_size(list), 2);
    const char *p0 = json_string_value(json_object_get(json_array_get(list, 0), "path"));
    const char *p1 = json_string_value(json_object_get(json_array_get(list, 1), "path"));
    r = RUN(NULL, "restore", p1, p0, "--into", store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *res = json_loads(r.out, 0, NULL);
    run_free(&r);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(res, "archives"), i, a) {
        cr_assert(json_is_true(json_object_get(a, "restored")), "archive %zu", i);
        cr_assert_eq(json_integer_value(json_object_get(a, "first_offset")), 0);
        cr_assert_gt(json_integer_value(json_object_get(a, "records")), 0);
    }
    json_decref(res);
    run_result after = RUN(NULL, "replay", store, "ev");
    cr_assert_eq(after.status, 0, "%s", after.err);
    cr_assert_str_eq(after.out, before.out, "the store replays what it did before the move");
    run_free(&after);
    run_free(&before);
    r = RUN(NULL, "restore", p0, "--into", store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "already in the store"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store);
    cr_assert(strstr(r.out, " restore command ev/0 offsets=[0,") && strstr(r.out, " restore command ev/1 "), "%s",
              r.out);
    run_free(&r);
    json_decref(doc);
    r = RUN(NULL, "restore", "--into", store);
    cr_assert_eq(r.status, 2, "no archive: %s", r.err);
    run_free(&r);
    r = RUN(NULL, "restore", out);
    cr_assert_eq(r.status, 2, "no --into: %s", r.err);
    run_free(&r);
    r = RUN(NULL, "restore", "--help");
    cr_assert_eq(r.status, 0);
    run_free(&r);
}
