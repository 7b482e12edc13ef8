/*
 * retain — siglog_retain's purge (siglog.h, "Retention"): delete_after
 * and max_bytes remove the oldest whole sealed segments and move the log
 * start; a consumer's hold keeps what it has not committed past unless
 * older than max_hold; a dry run changes and records nothing; every purge
 * is one audit record explaining exactly the offsets that went; the cold
 * tier takes what is older than cold_after into cold_dir as archives that
 * cursors, seeks and stat read as before.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define SEED 31
#define EVENTS 4000
#define SEGMENT_BYTES (64u * 1024)
/* test_event_make: event i is at T0 + i ms (plus under half a ms). */
#define T0 1700000000000000LL
#define MS 1000LL
#define SECOND (1000 * MS)

static char *dir;
static char *cold; /* a cold_dir outside the store */

static void setup(void)
{
    dir = test_tmpdir("retain");
    cold = test_tmpdir("retain-cold");
}

static void teardown(void)
{
    test_rmtree(dir);
    test_rmtree(cold);
    free(dir);
    free(cold);
}

TestSuite(retain, .init = setup, .fini = teardown);

/* A store whose stream "r" holds EVENTS events in several segments, with
 * the retention settings of `policy` (its other fields ignored). The same
 * segments every run: batches are sealed at batch_bytes_max, never by
 * linger_us (a minute), so how fast the appends ran (a loaded machine
 * sealed smaller batches) does not move where the segments roll. */
static void make_store(const siglog_stream_config *policy)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config deterministic;
    siglog_stream_config_default(&deterministic);
    deterministic.sync_policy = SIGLOG_SYNC_NONE;
    deterministic.segment_bytes_max = SEGMENT_BYTES;
    deterministic.batch_bytes_max = 4 * 1024;
    deterministic.linger_us = 60u * 1000 * 1000;
    cr_assert_eq(siglog_stream_create(s, "r", &deterministic), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "r", &st), 0);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.delete_after = policy->delete_after;
    c.max_bytes = policy->max_bytes;
    c.max_hold = policy->max_hold;
    c.warm_after = policy->warm_after;
    c.cold_after = policy->cold_after;
    c.cold_max_bytes = policy->cold_max_bytes;
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", policy->cold_dir);
    cr_assert_eq(siglog_stream_config_set(s, "r", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
}

static siglog *open_reader(siglog_stream **st)
{
    siglog *s = test_store_open_read_only(dir);
    cr_assert_eq(siglog_stream_get(s, "r", st), 0);
    return s;
}

typedef struct segs {
    size_t n;
    siglog_segment_info e[256];
} segs;

static int collect(void *ctx, const siglog_segment_info *seg)
{
    segs *s = ctx;
    cr_assert_lt(s->n, sizeof s->e / sizeof s->e[0]);
    s->e[s->n] = *seg;
    s->e[s->n].location = NULL;
    s->e[s->n].schema_versions = NULL;
    s->n++;
    return 0;
}

/* The partition's segments now, and every event from its log start
 * checked against the workload; returns the log start. */
static uint64_t check_log(segs *out)
{
    siglog_stream *st;
    siglog *s = open_reader(&st);
    memset(out, 0, sizeof *out);
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, collect, out), 0, "%s", siglog_errdetail());
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    cr_assert_eq(info.next_offset, EVENTS);
    cr_assert_eq(info.log_start_offset, out->e[0].base_offset);
    cr_assert_eq(test_check_seeded_records(st, SEED, info.log_start_offset, "read back"), EVENTS);
    siglog_close(s);
    return info.log_start_offset;
}

typedef struct reported {
    int calls;
    siglog_retain_partition last;
    char held_by[SIGLOG_NAME_MAX + 1];
    uint64_t progress_done, progress_total;
} reported;

static void on_partition(void *ctx, const siglog_retain_partition *p)
{
    reported *r = ctx;
    r->calls++;
    r->last = *p;
    cr_assert_str_eq(p->stream, "r");
    snprintf(r->held_by, sizeof r->held_by, "%s", p->held_by ? p->held_by : "");
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    reported *r = ctx;
    r->progress_done = done;
    r->progress_total = total;
}

static reported retain(int64_t now_us, int dry_run)
{
    reported r = {0};
    siglog_maintenance *m = NULL;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_retain_options o = {.dry_run = dry_run, .partition_done = on_partition, .progress = on_progress,
                               .ctx = &r};
    int rc = siglog_retain(m, now_us, &o);
    cr_assert_eq(rc, 0, "retain: %s: %s", siglog_strerror(rc), siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.progress_done, 1);
    cr_assert_eq(r.progress_total, 1);
    return r;
}

typedef struct purges {
    size_t n;
    siglog_audit_record r[8];
    char detail[8][256];
} purges;

static const char *audit_action = "purge";

static int collect_purge(void *ctx, const siglog_audit_record *r)
{
    purges *p = ctx;
    if (strcmp(r->action, audit_action) != 0)
        return 0;
    cr_assert_lt(p->n, 8u, "more records than expected");
    cr_assert_str_eq(r->cause, "policy");
    cr_assert_str_eq(r->stream, "r");
    snprintf(p->detail[p->n], sizeof p->detail[0], "%s", r->detail);
    p->r[p->n++] = *r;
    return 0;
}

/* The purge records of the audit trail, the chain verified. */
static purges audited(void)
{
    siglog_stream *st;
    siglog *s = open_reader(&st);
    purges p = {0};
    cr_assert_eq(siglog_audit_read(s, 1, collect_purge, &p, NULL), 0, "%s", siglog_errdetail());
    siglog_close(s);
    return p;
}

/* The one purge record explains exactly the offsets [0, start) that went:
 * every event of them, from the report's figures. */
static void check_purge_record(const siglog_retain_partition *rp, uint64_t start)
{
    purges p = audited();
    cr_assert_eq(p.n, 1);
    const siglog_audit_record *r = &p.r[0];
    cr_assert_eq(r->partition, 0);
    cr_assert_eq(r->offset_start, 0);
    cr_assert_eq(r->offset_end, start);
    cr_assert_eq(r->events, start); /* no gaps: every offset an event */
    cr_assert_eq(r->bytes, rp->purged_bytes);
    cr_assert(r->time_min_us >= T0 && r->time_min_us < T0 + MS, "the time of event 0");
    cr_assert_lt(r->time_max_us, T0 + (int64_t)start * MS);
    cr_assert_geq(r->time_max_us, T0 + (int64_t)(start - 1) * MS);
    cr_assert(strstr(p.detail[0], "delete_after=") && strstr(p.detail[0], "max_bytes="), "%s", p.detail[0]);
}

Test(retain, delete_after_purges_oldest_whole_segments)
{
    siglog_stream_config pol = {.delete_after = 1 * SECOND};
    make_store(&pol);
    segs before;
    cr_assert_eq(check_log(&before), 0);
    cr_assert_gt(before.n, 4, "the workload spans several segments");
    /* Events older than T0 + 2.5 s go: those of the first 2500 ms. */
    int64_t now = T0 + 3500 * MS, cut = now - 1 * SECOND;
    reported r = retain(now, 0);
    segs after;
    uint64_t start = check_log(&after);
    cr_assert_gt(start, 0);
    size_t gone = before.n - after.n;
    cr_assert_eq(r.last.purged_segments, gone);
    cr_assert_eq(r.last.purged_from, 0);
    cr_assert_eq(r.last.purged_to, start);
    cr_assert_eq(r.last.purged_events, start);
    cr_assert_eq(r.last.held_segments, 0);
    uint64_t bytes = 0;
    for (size_t i = 0; i < gone; i++) {
        cr_assert_lt(before.e[i].max_timestamp_us, cut, "segment %zu is older than delete_after", i);
        bytes += before.e[i].bytes;
    }
    cr_assert_eq(r.last.purged_bytes, bytes);
    /* The first segment kept has an event too young to go. */
    cr_assert_geq(after.e[0].max_timestamp_us, cut);
    check_purge_record(&r.last, start);
    /* Nothing more to do at the same time: no change, no record. */
    reported again = retain(now, 0);
    cr_assert_eq(again.last.purged_segments, 0);
    cr_assert_eq(check_log(&after), start);
    cr_assert_eq(audited().n, 1);
}

Test(retain, dry_run_changes_and_records_nothing)
{
    siglog_stream_config pol = {.delete_after = 1 * SECOND};
    make_store(&pol);
    char *fp = test_store_fingerprint(dir);
    reported plan = retain(T0 + 3500 * MS, 1);
    cr_assert_gt(plan.last.purged_segments, 0);
    char *fp2 = test_store_fingerprint(dir);
    cr_assert_str_eq(fp, fp2, "a dry run wrote nothing");
    free(fp);
    free(fp2);
    /* The plan is what the run then does. */
    reported did = retain(T0 + 3500 * MS, 0);
    cr_assert_eq(did.last.purged_segments, plan.last.purged_segments);
    cr_assert_eq(did.last.purged_bytes, plan.last.purged_bytes);
    cr_assert_eq(did.last.purged_to, plan.last.purged_to);
}

Test(retain, max_bytes_purges_until_within_budget)
{
    siglog_stream_config pol = {.max_bytes = 3 * SEGMENT_BYTES};
    make_store(&pol);
    segs before;
    check_log(&before);
    uint64_t total = 0;
    for (size_t i = 0; i < before.n; i++)
        total += before.e[i].bytes;
    cr_assert_gt(total, pol.max_bytes);
    reported r = retain(T0, 0);
    segs after;
    uint64_t start = check_log(&after);
    uint64_t left = total - r.last.purged_bytes;
    cr_assert_leq(left, pol.max_bytes, "within the budget after");
    /* Only as much as needed: the last segment purged was over it. */
    size_t gone = before.n - after.n;
    cr_assert_gt(gone, 0);
    cr_assert_gt(left + before.e[gone - 1].bytes, pol.max_bytes);
    check_purge_record(&r.last, start);
}

/* A holding consumer committed at `next` in partition 0. */
static void hold_at(uint64_t next)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "r", &st), 0);
    cr_assert_eq(siglog_consumer_commit(st, "evaluator", 0, next, SIGLOG_CONSUMER_HOLD), 0, "%s",
                 siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
}

Test(retain, hold_keeps_what_its_consumer_has_not_committed_past)
{
    siglog_stream_config pol = {.delete_after = 1 * SECOND};
    make_store(&pol);
    segs before;
    check_log(&before);
    /* Committed into the second segment: it and all after it are held. */
    uint64_t next = before.e[1].base_offset + 1;
    hold_at(next);
    int64_t now = T0 + 100 * SECOND; /* every sealed segment is old enough */
    reported r = retain(now, 0);
    segs after;
    uint64_t start = check_log(&after);
    cr_assert_eq(start, before.e[1].base_offset, "only the segment committed past went");
    cr_assert_eq(r.last.purged_segments, 1);
    cr_assert_eq(r.last.held_segments, before.n - 2, "every other sealed segment was held");
    cr_assert_str_eq(r.held_by, "evaluator");
    check_purge_record(&r.last, start);
}

Test(retain, max_hold_limits_a_hold)
{
    siglog_stream_config pol = {.delete_after = 1 * SECOND, .max_hold = 3 * SECOND};
    make_store(&pol);
    segs before;
    check_log(&before);
    hold_at(0); /* has read nothing */
    /* At T0 + 5 s, a hold keeps only segments with an event newer than
     * T0 + 2 s; delete_after wants every one older than T0 + 4 s. */
    int64_t now = T0 + 5 * SECOND, hold_cut = now - 3 * SECOND;
    reported r = retain(now, 0);
    segs after;
    uint64_t start = check_log(&after);
    cr_assert_gt(start, 0);
    size_t gone = before.n - after.n;
    for (size_t i = 0; i < gone; i++)
        cr_assert_lt(before.e[i].max_timestamp_us, hold_cut);
    cr_assert_geq(after.e[0].max_timestamp_us, hold_cut);
    cr_assert_gt(r.last.held_segments, 0);
    cr_assert_str_eq(r.held_by, "evaluator");
    check_purge_record(&r.last, start);
}

Test(retain, warm_rewrites_old_hot_segments_smaller_with_the_same_events)
{
    siglog_stream_config pol = {.warm_after = 1 * SECOND};
    make_store(&pol);
    segs before;
    check_log(&before);
    int64_t now = T0 + 3500 * MS, cut = now - 1 * SECOND;
    size_t want = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i + 1 < before.n; i++)
        if (before.e[i].max_timestamp_us < cut) {
            want++;
            bytes += before.e[i].bytes;
        }
    cr_assert_gt(want, 1);
    reported plan = retain(now, 1);
    cr_assert_eq(plan.last.warm_segments, want);
    cr_assert_eq(plan.last.warm_bytes, bytes);
    reported r = retain(now, 0);
    cr_assert_eq(r.last.warm_segments, want);
    cr_assert_eq(r.last.purged_segments, 0);
    cr_assert_lt(r.last.warm_bytes_after, bytes, "LZ4HC makes them smaller");
    segs after;
    cr_assert_eq(check_log(&after), 0, "every event still there, byte-identical");
    cr_assert_eq(after.n, before.n, "one segment for one");
    uint64_t bytes_after = 0;
    for (size_t i = 0; i < after.n; i++) {
        cr_assert_eq(after.e[i].base_offset, before.e[i].base_offset);
        cr_assert_eq(after.e[i].end_offset, before.e[i].end_offset);
        cr_assert_eq(after.e[i].record_count, before.e[i].record_count);
        cr_assert_eq(after.e[i].tier, i < want ? 1u : 0u, "segment %zu", i);
        if (i < want)
            bytes_after += after.e[i].bytes;
    }
    cr_assert_eq(bytes_after, r.last.warm_bytes_after);
    audit_action = "warm";
    cr_assert_eq(audited().n, want, "one warm record per segment moved");
    /* Warm segments stay warm: nothing more to do. */
    reported again = retain(now, 0);
    cr_assert_eq(again.last.warm_segments, 0);
}

/* The partition's directory, where hot and warm segments live. */
static char *partition_dir(void)
{
    char *streams = test_path(dir, "streams"), *r = test_path(streams, "r"), *p = test_path(r, "00000");
    free(streams);
    free(r);
    return p;
}

static int exists(const char *d, const char *name)
{
    char *path = test_path(d, name);
    struct stat sb;
    int there = stat(path, &sb) == 0;
    free(path);
    return there;
}

/* The entries before the active one whose newest event is older than cut. */
static size_t older_than(const segs *s, int64_t cut, uint64_t *bytes)
{
    size_t n = 0;
    *bytes = 0;
    while (n + 1 < s->n && s->e[n].max_timestamp_us < cut)
        *bytes += s->e[n++].bytes;
    return n;
}

Test(retain, cold_moves_old_segments_into_cold_dir_and_reads_them_as_before)
{
    siglog_stream_config pol = {.cold_after = 1 * SECOND};
    snprintf(pol.cold_dir, sizeof pol.cold_dir, "%s", cold);
    make_store(&pol);
    segs before;
    check_log(&before);
    int64_t now = T0 + 3500 * MS;
    uint64_t bytes;
    size_t want = older_than(&before, now - 1 * SECOND, &bytes);
    cr_assert_gt(want, 1);
    reported plan = retain(now, 1);
    cr_assert_eq(plan.last.cold_segments, want);
    cr_assert_eq(plan.last.cold_bytes, bytes);
    cr_assert_eq(plan.last.cold_bytes_after, 0);
    reported r = retain(now, 0);
    cr_assert_eq(r.last.cold_segments, want);
    cr_assert_eq(r.last.purged_segments, 0);
    segs after;
    /* Cursors read the cold entries in place: every event, byte for byte. */
    cr_assert_eq(check_log(&after), 0, "every event still there, byte-identical");
    cr_assert_eq(after.n, before.n);
    siglog_stream *st;
    siglog *s = open_reader(&st);
    uint64_t store_id = siglog_store_id(s);
    char *pd = partition_dir();
    uint64_t cold_bytes = 0;
    for (size_t i = 0; i < after.n; i++) {
        cr_assert_eq(after.e[i].base_offset, before.e[i].base_offset);
        cr_assert_eq(after.e[i].end_offset, before.e[i].end_offset);
        cr_assert_eq(after.e[i].record_count, before.e[i].record_count);
        cr_assert_eq(after.e[i].tier, i < want ? 2u : 0u, "segment %zu", i);
        char stem[64], name[256];
        snprintf(stem, sizeof stem, "%020" PRIu64 ".seg", before.e[i].base_offset);
        snprintf(name, sizeof name, "%016" PRIx64 ".r.00000.%020" PRIu64 "-%020" PRIu64 ".sgar", store_id,
                 before.e[i].base_offset, before.e[i].end_offset);
        cr_assert_eq(exists(pd, stem), i >= want, "hot file of segment %zu", i);
        cr_assert_eq(exists(cold, name), i < want, "archive of segment %zu", i);
        if (i < want)
            cold_bytes += after.e[i].bytes;
    }
    cr_assert_eq(cold_bytes, r.last.cold_bytes_after, "entries say their archives' sizes");
    /* A seek into a cold entry, and one by time. */
    uint64_t mid = (before.e[1].base_offset + before.e[1].end_offset) / 2;
    siglog_cursor *cur;
    const siglog_record *rec;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_OFFSET, mid, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_cursor_next(cur, &rec), 1, "%s", siglog_errdetail());
    cr_assert_eq(rec->offset, mid);
    test_event t;
    test_event_make(&t, SEED, mid);
    test_assert_record_eq(rec, &t.ev);
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_TIME, (uint64_t)(T0 + (int64_t)mid * MS), 0), 0, "%s",
                 siglog_errdetail());
    cr_assert_eq(siglog_cursor_next(cur, &rec), 1, "%s", siglog_errdetail());
    cr_assert_eq(rec->offset, mid);
    siglog_cursor_close(cur);
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    cr_assert_eq(info.first_timestamp_us, before.e[0].first_timestamp_us);
    siglog_close(s);
    free(pd);
    audit_action = "cold";
    purges p = audited();
    cr_assert_eq(p.n, want, "one cold record per segment moved");
    cr_assert(strstr(p.detail[0], cold) && strstr(p.detail[0], "cold_after="), "%s", p.detail[0]);
    /* Cold stays cold, and verify checks the archives as the store's. */
    reported again = retain(now, 0);
    cr_assert_eq(again.last.cold_segments, 0);
    siglog_verify_stats vs;
    cr_assert_eq(siglog_verify(dir, 0, NULL, &vs), 0, "%s", siglog_errdetail());
    cr_assert_geq(vs.records, EVENTS);
}

typedef struct problems {
    int n;
    char file[4096], what[512];
} problems;

static void on_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    (void)pos;
    problems *p = ctx;
    if (p->n++ == 0) {
        snprintf(p->file, sizeof p->file, "%s", file);
        snprintf(p->what, sizeof p->what, "%s", what);
    }
}

Test(retain, damage_in_a_cold_archive_is_reported_naming_it)
{
    siglog_stream_config pol = {.cold_after = 1 * SECOND};
    snprintf(pol.cold_dir, sizeof pol.cold_dir, "%s", cold);
    make_store(&pol);
    retain(T0 + 3500 * MS, 0);
    segs after;
    check_log(&after);
    cr_assert_eq(after.e[0].tier, 2u);
    siglog_stream *st;
    siglog *s = open_reader(&st);
    char name[256];
    snprintf(name, sizeof name, "%016" PRIx64 ".r.00000.%020" PRIu64 "-%020" PRIu64 ".sgar", siglog_store_id(s),
             after.e[0].base_offset, after.e[0].end_offset);
    char *archive = test_path(cold, name);
    test_flip_byte(archive, after.e[0].bytes / 2, 0x10);
    siglog_cursor *cur;
    const siglog_record *rec;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_cursor_next(cur, &rec), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), archive), "%s", siglog_errdetail());
    siglog_cursor_close(cur);
    siglog_close(s);
    problems p = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &p};
    cr_assert_eq(siglog_verify(dir, 0, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert_eq(p.n, 1, "%s: %s", p.file, p.what);
    cr_assert_str_eq(p.file, archive);
    cr_assert(strstr(p.what, "byte"), "%s", p.what);
    free(archive);
}

Test(retain, cold_dir_missing_fails_naming_it_and_keeps_the_hot_tier)
{
    siglog_stream_config pol = {.cold_after = 1 * SECOND};
    char *missing = test_path(cold, "not-mounted");
    snprintf(pol.cold_dir, sizeof pol.cold_dir, "%s", missing);
    make_store(&pol);
    segs before, after;
    check_log(&before);
    siglog_maintenance *m = NULL;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    int rc = siglog_retain(m, T0 + 3500 * MS, NULL);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(siglog_errdetail(), missing) && strstr(siglog_errdetail(), "cold_dir"), "%s",
              siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(check_log(&after), 0);
    cr_assert_eq(after.n, before.n);
    for (size_t i = 0; i < after.n; i++)
        cr_assert_eq(after.e[i].tier, 0u, "segment %zu stays hot", i);
    free(missing);
}

Test(retain, cold_max_bytes_purges_the_oldest_archives)
{
    siglog_stream_config pol = {.cold_after = 1 * SECOND, .cold_max_bytes = 1};
    snprintf(pol.cold_dir, sizeof pol.cold_dir, "%s", cold);
    make_store(&pol);
    int64_t now = T0 + 3500 * MS;
    reported moved = retain(now, 0); /* purges run first: nothing is cold yet */
    cr_assert_eq(moved.last.purged_segments, 0);
    size_t n = moved.last.cold_segments;
    cr_assert_gt(n, 1);
    segs cold_now;
    check_log(&cold_now);
    uint64_t end = cold_now.e[n - 1].end_offset, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += cold_now.e[i].bytes;
    reported plan = retain(now, 1);
    cr_assert_eq(plan.last.purged_segments, n, "every archive is over the budget of 1 byte");
    reported r = retain(now, 0);
    cr_assert_eq(r.last.purged_segments, n);
    cr_assert_eq(r.last.purged_bytes, bytes);
    cr_assert_eq(r.last.purged_to, end);
    segs after;
    cr_assert_eq(check_log(&after), end, "the log starts after the cold tier");
    for (size_t i = 0; i < after.n; i++)
        cr_assert_neq(after.e[i].tier, 2u);
    DIR *d = opendir(cold);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        cr_assert(de->d_name[0] == '.', "%s stays in cold_dir", de->d_name);
    closedir(d);
    audit_action = "purge";
    purges p = audited();
    cr_assert_eq(p.n, 1);
    cr_assert_eq(p.r[0].offset_start, 0);
    cr_assert_eq(p.r[0].offset_end, end);
    cr_assert(strstr(p.detail[0], "cold_max_bytes=1"), "%s", p.detail[0]);
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
}
