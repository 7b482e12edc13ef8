/*
 * `siglog replay --from-manifest` and `siglog manifest verify` when the
 * store changed under a manifest: a segment removed (its purge recorded in
 * the audit trail) fails both, naming the partition's range then and now
 * and the audit record, with nothing on standard output; without
 * --allow-gaps the missing offsets are named; another store is refused by
 * its id; verify writes nothing to the store. (The identical bytes after
 * appends, several streams and the digest are python/tests/test_manifest.py.)
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

#define EVENTS 3000

static char *dir, *store, *manifest_path;

/* Stream "h": one partition, 64 KiB segments, EVENTS events. */
static void setup(void)
{
    dir = test_tmpdir("cli-manifest");
    store = test_path(dir, "store");
    manifest_path = test_path(dir, "m.json");
    siglog *s = test_store_open(store, NULL);
    siglog_stream *st = test_stream_create(s, "h", 1, SIGLOG_SYNC_NONE, 64 << 10);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, 7, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(manifest_path);
    free(store);
    free(dir);
}

TestSuite(cli_manifest, .init = setup, .fini = teardown, .timeout = 120);

/* Remove the files of the second segment of h/0 and record it as a purge
 * in the audit trail; returns its range [*from, *to). */
static void purge_second_segment(uint64_t *from, uint64_t *to)
{
    char *pd = test_path(store, "streams/h/00000");
    uint64_t bases[3];
    cr_assert_geq(test_segment_bases(pd, bases, 3), 3, "at least three segments");
    test_remove_segment(pd, bases[1]);
    free(pd);
    *from = bases[1];
    *to = bases[2];
    siglog *s = test_store_open(store, NULL);
    audit_record r;
    sl_audit_record_init(&r, AUDIT_PURGE, AUDIT_BY_COMMAND);
    snprintf(r.stream, sizeof r.stream, "h");
    r.partition = 0;
    r.offset_start = *from;
    r.offset_end = *to;
    r.events = *to - *from;
    cr_assert_eq(sl_store_audit(s, &r), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(cli_manifest, a_purge_since_fails_naming_the_range_and_the_audit_record)
{
    RUN_OK("replay", store, "h", "--allow-gaps", "--manifest", manifest_path);
    run_result r = RUN(NULL, "manifest", "verify", manifest_path);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "intact: 3000 events, digest "), "%s", r.out);
    run_free(&r);

    uint64_t from, to;
    purge_second_segment(&from, &to);
    char then_now[160], audit[160];
    snprintf(then_now, sizeof then_now, "stream h partition 0: %d at offsets 0..%d then, %llu at offsets 0..%d now",
             EVENTS, EVENTS - 1, (unsigned long long)(EVENTS - (to - from)), EVENTS - 1);
    snprintf(audit, sizeof audit, "audit record 0: purge by command of h/0 offsets [%llu,%llu)",
             (unsigned long long)from, (unsigned long long)to);
    char *before = test_tree_fingerprint(store);
    const char *const runs[][6] = {
        { "replay", "--from-manifest", manifest_path, NULL },
        { "manifest", "verify", manifest_path, store, NULL },
    };
    for (size_t i = 0; i < 2; i++) {
        r = run_siglog(NULL, runs[i]);
        cr_assert_eq(r.status, 1, "%s: %s", runs[i][0], r.err);
        cr_assert_eq(r.out_len, 0, "nothing delivered: %s", r.out);
        cr_assert_eq(lines(r.err), 1, "%s", r.err);
        cr_assert(strstr(r.err, then_now), "%s", r.err);
        cr_assert(strstr(r.err, audit), "%s", r.err);
        run_free(&r);
    }
    char *after = test_tree_fingerprint(store);
    cr_assert_str_eq(before, after, "a check wrote to the store");
    free(before);
    free(after);
}

Test(cli_manifest, without_allow_gaps_the_missing_offsets_are_named)
{
    RUN_OK("replay", store, "h", "--manifest", manifest_path, "--format", "value");
    uint64_t from, to;
    purge_second_segment(&from, &to);
    char range[96];
    snprintf(range, sizeof range, "offsets %llu..%llu are missing", (unsigned long long)from,
             (unsigned long long)to - 1);
    run_result r = RUN(NULL, "replay", "--from-manifest", manifest_path);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(r.out_len, 0, "nothing delivered");
    cr_assert(strstr(r.err, range), "%s", r.err);
    run_free(&r);
}

Test(cli_manifest, another_store_is_refused_by_its_id)
{
    RUN_OK("replay", store, "h", "--manifest", manifest_path, "--limit", "10");
    char *other = test_path(dir, "other");
    siglog *s = test_store_open(other, NULL);
    test_stream_create(s, "h", 1, SIGLOG_SYNC_NONE, 64 << 10);
    cr_assert_eq(siglog_close(s), 0);
    run_result r = RUN(NULL, "manifest", "verify", manifest_path, other);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "is of store ") && strstr(r.err, other), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "replay", "--from-manifest", manifest_path, other);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "is of store "), "%s", r.err);
    run_free(&r);
    /* Usage: the manifest decides the streams and filters. */
    r = RUN(NULL, "replay", "--from-manifest", manifest_path, "--key", "x");
    cr_assert_eq(r.status, 2);
    run_free(&r);
    r = RUN(NULL, "manifest", "verify");
    cr_assert_eq(r.status, 2);
    run_free(&r);
    free(other);
}
