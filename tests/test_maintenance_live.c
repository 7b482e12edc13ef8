/*
 * maintenance_live — the concurrency proof of the maintenance role: a
 * maintenance process replaces sealed segments (a byte-for-byte copy
 * through the rewrite primitive) and removes sealed prefixes in a loop,
 * or runs siglog_retain (warm moves and purges, or cold moves and
 * purges of cold archives) in a loop, or
 * siglog_compact (merges and key compactions by turns) in a loop, or
 * siglog_forget of one key after another in a loop, while
 * a writer appends and four readers in other processes replay from
 * random offsets, following the writer.
 *
 * What is proven: every reader sees every offset from where it started
 * exactly once, in order, each event byte-identical, up to the last one
 * appended; the only offsets it does not see are those a removal took
 * before it got there, and it is told so (SIGLOG_EGAP) before it goes on
 * at the new log start, and, under key compaction, events whose key has
 * a newer event (those it may drop), and, under forget, events of the
 * keys it forgets. No process meets any error (a forget of a key in the
 * live writer's active segment asks that writer to roll it, and removes
 * the key's events from it then).
 *
 * SIGLOG_LIVE_EVENTS (default 20000) sets how many events the writer
 * appends; the slow suite appends 1M.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "maintenance.h"
#include "rewrite_copy.h"
#include "support.h"

#define SEED 5
#define READERS 4
#define SEGMENT_BYTES (64u * 1024)
#define FIRST_EVENTS 3000
/* The retention's clock: an hour past test_event_make's times. */
#define RETAIN_NOW (1700000000000000LL + 3600LL * 1000000)

static char *dir;
/* Key compaction runs: a reader may miss an event whose key has a newer
 * one. newest_of[k]: the last offset of key "user-k" below the total. */
static int keys_compacted;
static uint64_t newest_of[1000];
/* Forget runs: it forgets the keys "user-K" with K % FORGET_MOD ==
 * FORGET_REM, FORGET_KEYS a round, round after round. */
static int keys_forgotten;
#define FORGET_MOD 7
#define FORGET_REM 3
#define FORGET_KEYS 2
/* Forget runs, once the readers are done: the writer appends events of
 * LATE_KEY only, and every further forget round forgets it too, so that
 * a forget meets that key in the live writer's active segment (and has
 * the writer roll it) for certain, not by the chance that one of the
 * round's two keys is there. extra_rounds is set in the maintenance process then. */
#define LATE_KEY "late-writer"
static int extra_rounds;
/* Forget runs: the readers start once a forget has removed events (the
 * maintenance process writes READERS bytes to go_write then), so they
 * meet removed offsets for certain, and more forgets run as they read. */
static int go_read = -1, go_write = -1;
/* Retention with a cold tier runs: it counts cold moves where it counts
 * warm ones otherwise, and the readers start once a segment went cold,
 * the same way, and trail as under forget, so they read through cold
 * entries. */
static int cold_tier;

static void setup(void)
{
    dir = test_tmpdir("maintenance-live");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(maintenance_live, .init = setup, .fini = teardown);

/* Event i, keyed LATE_KEY (forget runs' appends once the readers are
 * done). */
static void append_late(siglog_stream *st, uint64_t i)
{
    test_event t;
    test_event_make(&t, SEED, i);
    t.ev.key = LATE_KEY;
    t.ev.key_len = strlen(LATE_KEY);
    uint64_t off;
    cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, &off), 0, "%s", siglog_errdetail());
    cr_assert_eq(off, i);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* One round of a maintenance process's changes; counts[0] and [1] count
 * its two kinds of change. */
typedef int (*maintenance_round)(maintenance *m, catalog *c, uint64_t round, uint64_t *rng, uint64_t counts[2]);

/* Copy a random sealed segment, and every third round remove the first
 * one while enough remain (counts: copies, removals). */
static int copy_or_remove(maintenance *m, catalog *c, uint64_t round, uint64_t *rng, uint64_t counts[2])
{
    (void)m;
    const segment_params params = {.segment_bytes_max = SEGMENT_BYTES, .index_interval_bytes = 4096,
                                   .file_mode = 0600};
    int rc = sl_catalog_refresh(c);
    if (rc)
        return rc;
    catalog_snapshot *snap = sl_catalog_snapshot_get(c);
    size_t sealed = sl_catalog_snapshot_count(snap) - 1;
    sl_catalog_snapshot_release(snap);
    if (round % 3 == 2 && sealed >= 4) {
        counts[1]++;
        return sl_catalog_remove_prefix(c, 1);
    }
    if (sealed >= 1) {
        counts[0]++;
        return rewrite_copy(c, (size_t)(test_rand(rng) % sealed), 1, &params);
    }
    return 0;
}

static void count_retained(void *ctx, const siglog_retain_partition *p)
{
    uint64_t *counts = ctx;
    counts[0] += cold_tier ? p->cold_segments : p->warm_segments;
    counts[1] += p->purged_segments;
}

/* The stream's retention policy, as siglog retain applies it (counts:
 * segments moved to warm, or to cold with a cold tier, segments
 * purged). */
static int retain_round(maintenance *m, catalog *c, uint64_t round, uint64_t *rng, uint64_t counts[2])
{
    (void)c;
    (void)round;
    (void)rng;
    siglog_retain_options o = {.partition_done = count_retained, .ctx = counts};
    return siglog_retain(m, RETAIN_NOW, &o);
}

/* siglog compact by turns: a merge, then key compaction (counts:
 * merges that replaced segments, key compactions that dropped events). */
static int compact_round(maintenance *m, catalog *c, uint64_t round, uint64_t *rng, uint64_t counts[2])
{
    (void)c;
    (void)rng;
    siglog_compact_options o = {.mode = round % 2 ? SIGLOG_COMPACT_KEYS : SIGLOG_COMPACT_MERGE,
                                .partition = SIGLOG_COMPACT_ALL_PARTITIONS};
    siglog_compact_result r;
    int rc = siglog_compact(m, "live", &o, &r);
    if (!rc && o.mode == SIGLOG_COMPACT_MERGE)
        counts[0] += r.segments_in > r.segments_out;
    if (!rc && o.mode == SIGLOG_COMPACT_KEYS)
        counts[1] += r.events_dropped > 0;
    return rc;
}

/* siglog forget of the next FORGET_KEYS keys of the forgotten set
 * (counts: forgets that removed events, forgets whose keys the live
 * writer's active segment held, which it rolled when asked). */
static int forget_round(maintenance *m, catalog *c, uint64_t round, uint64_t *rng, uint64_t counts[2])
{
    (void)c;
    (void)rng;
    char keys[FORGET_KEYS][32];
    siglog_key k[FORGET_KEYS + 1];
    for (uint64_t i = 0; i < FORGET_KEYS; i++) {
        uint64_t n = (round * FORGET_KEYS + i) % (1000 / FORGET_MOD);
        snprintf(keys[i], sizeof keys[i], "user-%" PRIu64, n * FORGET_MOD + FORGET_REM);
        k[i] = (siglog_key){keys[i], strlen(keys[i])};
    }
    k[FORGET_KEYS] = (siglog_key){LATE_KEY, strlen(LATE_KEY)};
    siglog_forget_result r;
    int rc = siglog_forget(m, "live", k, FORGET_KEYS + (extra_rounds != 0), NULL, &r);
    counts[0] += !rc && r.events_removed > 0;
    counts[1] += !rc && r.segments_rolled > 0 && r.journal_scrubbed;
    return rc;
}

/* Whether every offset in [from, to) is an event of a key forget_round
 * forgets. */
static int all_forgettable(uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        if (!t.ev.key_len || strtoull(t.key + strlen("user-"), NULL, 10) % FORGET_MOD != FORGET_REM)
            return 0;
    }
    return 1;
}

/* Whether every offset in [from, to) is one key compaction may drop. */
static int all_superseded(uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        if (!t.ev.key_len || newest_of[strtoull(t.key + strlen("user-"), NULL, 10)] <= i)
            return 0;
    }
    return 1;
}

/* The maintenance process: until its parent closes *stop, a round of
 * changes every 2 ms, then a few more if one kind never happened. Exit
 * status 0 when every change succeeded and some of both kinds happened. */
static void maintenance_loop(int stop, maintenance_round change, const char *what)
{
    maintenance *m = NULL;
    catalog *c = NULL;
    int rc = sl_maintenance_open(&m, dir, NULL);
    if (!rc)
        rc = sl_maintenance_catalog(m, "live", 0, &c);
    uint64_t rng = 99, counts[2] = {0, 0};
    char b;
    uint64_t round = 0;
    for (; !rc && read(stop, &b, 1) != 0; round++) {
        rc = change(m, c, round, &rng, counts);
        if (go_write >= 0 && counts[0]) {
            char go[READERS] = {0};
            if (write(go_write, go, sizeof go) != (ssize_t)sizeof go)
                _exit(1);
            close(go_write);
            go_write = -1;
        }
        sleep_ms(2);
    }
    /* The writer may finish before a round found work of both kinds;
     * it goes on appending slowly (run_live), so a bounded number of
     * further rounds must find it, or the change never works. */
    extra_rounds = 1;
    for (uint64_t extra = 0; !rc && (counts[0] == 0 || counts[1] == 0) && extra < 400; extra++, round++) {
        rc = change(m, c, round, &rng, counts);
        sleep_ms(5);
    }
    if (rc)
        fprintf(stderr, "maintenance: %s: %s\n", siglog_strerror(rc), siglog_errdetail());
    sl_maintenance_close(m);
    fprintf(stderr, "maintenance: %s: %" PRIu64 " and %" PRIu64 "\n", what, counts[0], counts[1]);
    _exit(rc || counts[0] == 0 || counts[1] == 0 ? 1 : 0);
}

/* A reader process: from a random offset, follow the log up to `total`. */
static void reader_loop(uint64_t seed, uint64_t total)
{
    uint64_t rng = seed;
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s = NULL;
    siglog_stream *st = NULL;
    siglog_cursor *cur = NULL;
    uint64_t from = test_rand(&rng) % FIRST_EVENTS, want = from, gaps = 0, forgotten = 0;
    char go;
    if (go_read >= 0 && read(go_read, &go, 1) != 1)
        _exit(1);
    int rc = siglog_open(&s, dir, &o);
    if (!rc)
        rc = siglog_stream_get(s, "live", &st);
    if (!rc)
        rc = siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_OFFSET, (int64_t)from, SIGLOG_CURSOR_FOLLOW);
    int gap = 0;
    while (!rc && want < total) {
        const siglog_record *r;
        int n = siglog_cursor_next(cur, &r);
        if (n == SIGLOG_EGAP) {
            gap = 1; /* told: the next record may be further on */
            gaps++;
            continue;
        }
        if (n == 0) {
            siglog_cursor_wait(cur, 100);
            continue;
        }
        if (n < 0) {
            rc = n;
            break;
        }
        if (r->offset != want && !(gap && r->offset > want) &&
            !(keys_compacted && r->offset > want && all_superseded(want, r->offset)) &&
            !(keys_forgotten && r->offset > want && all_forgettable(want, r->offset) && ++forgotten)) {
            fprintf(stderr, "reader %" PRIu64 ": offset %" PRIu64 " where %" PRIu64 " belongs%s\n", seed, r->offset,
                    want, gap ? " after a gap" : "");
            _exit(1);
        }
        test_event t;
        test_event_make(&t, SEED, r->offset);
        if (r->value_len != t.ev.value_len || memcmp(r->value, t.ev.value, r->value_len) != 0 ||
            r->key_len != t.ev.key_len || r->timestamp_us != t.ev.timestamp_us) {
            fprintf(stderr, "reader %" PRIu64 ": offset %" PRIu64 " differs\n", seed, r->offset);
            _exit(1);
        }
        want = r->offset + 1;
        gap = 0;
        /* Readers trail the writer, so that maintenance changes the
         * segments they are reading (and a forget, slower than a copy,
         * has removed events before they get there). */
        if (want % (keys_forgotten || cold_tier ? 8 : 64) == 0)
            sleep_ms(1);
    }
    if (rc)
        fprintf(stderr, "reader %" PRIu64 " at %" PRIu64 ": %s: %s\n", seed, want, siglog_strerror(rc),
                siglog_errdetail());
    siglog_cursor_close(cur);
    siglog_close(s);
    /* Under forget: 3 when it met no removed offset. */
    _exit(rc ? 1 : keys_forgotten && !forgotten ? 3 : 0);
}

/* In a child: end with the test's process. When an assertion ends the
 * writer's test, readers following a log that no longer grows would wait
 * forever, holding the test's output open, and the run would end by
 * timeout instead of the failure's message. */
static void die_with_parent(void)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
        _exit(1);
}

/* The exit status of pid, -1 when it did not exit. */
static int exit_status(pid_t pid)
{
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A writer appends and READERS processes follow while a maintenance
 * process runs `change` in a loop; the stream gets `policy`'s retention
 * settings (NULL: none). */
static void run_live(maintenance_round change, const char *what, const siglog_stream_config *policy)
{
    const char *env = getenv("SIGLOG_LIVE_EVENTS");
    uint64_t total = env ? strtoull(env, NULL, 10) : 20000;
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "live", 1, SIGLOG_SYNC_NONE, SEGMENT_BYTES);
    if (policy) {
        siglog_stream_config c;
        siglog_stream_config_get(st, &c);
        c.max_bytes = policy->max_bytes;
        c.warm_after = policy->warm_after;
        c.cleanup = policy->cleanup;
        c.merge_below = policy->merge_below;
        if (policy->segment_age_max_us)
            c.segment_age_max_us = policy->segment_age_max_us;
        c.cold_after = policy->cold_after;
        c.cold_max_bytes = policy->cold_max_bytes;
        memcpy(c.cold_dir, policy->cold_dir, sizeof c.cold_dir);
        cr_assert_eq(siglog_stream_config_set(s, "live", &c), 0, "%s", siglog_errdetail());
    }
    if (keys_compacted)
        for (uint64_t i = 0; i < total; i++) {
            test_event t;
            test_event_make(&t, SEED, i);
            if (t.ev.key_len)
                newest_of[strtoull(t.key + strlen("user-"), NULL, 10)] = i;
        }
    test_seeded_append(st, SEED, 0, FIRST_EVENTS);
    cr_assert_eq(siglog_sync(s), 0);
    int stop[2], go[2];
    cr_assert_eq(pipe(stop), 0);
    if (keys_forgotten || cold_tier) {
        cr_assert_eq(pipe(go), 0);
        go_read = go[0];
        go_write = go[1];
    }
    pid_t maint = fork();
    cr_assert_geq(maint, 0);
    if (maint == 0) {
        die_with_parent();
        close(stop[1]);
        /* A non-blocking end: read() returns 0 once the parent closed. */
        int fl = fcntl(stop[0], F_GETFL);
        fcntl(stop[0], F_SETFL, fl | O_NONBLOCK);
        if (go_read >= 0)
            close(go_read);
        maintenance_loop(stop[0], change, what);
    }
    close(stop[0]);
    if (go_write >= 0)
        close(go_write);
    pid_t readers[READERS];
    for (int i = 0; i < READERS; i++) {
        readers[i] = fork();
        cr_assert_geq(readers[i], 0);
        if (readers[i] == 0) {
            die_with_parent();
            reader_loop(1000 + (uint64_t)i, total);
        }
    }
    for (uint64_t i = FIRST_EVENTS; i < total; i += 500) {
        test_seeded_append(st, SEED, i, i + 500 < total ? i + 500 : total);
        cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_sync(s), 0);
    int readers_ok = 1, met_removed = 0;
    for (int i = 0; i < READERS; i++) {
        int status = exit_status(readers[i]);
        readers_ok &= status == 0 || (keys_forgotten && status == 3);
        met_removed |= status == 0;
    }
    cr_assert(readers_ok, "a reader failed (see its stderr)");
    cr_assert(!keys_forgotten || met_removed, "no reader met an offset a forget removed");
    close(stop[1]);
    /* Until maintenance ends, one event every 25 ms past what the readers
     * check: an idle writer rolls its segment by age (where the stream
     * says so) into small ones, which a merge needs and a fast writer may
     * never have left before key compaction packed everything. */
    int status;
    pid_t done;
    for (uint64_t i = total; (done = waitpid(maint, &status, WNOHANG)) == 0; i++) {
        if (keys_forgotten)
            append_late(st, i);
        else
            test_seeded_append(st, SEED, i, i + 1);
        cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
        sleep_ms(25);
    }
    cr_assert(done == maint && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the maintenance process failed (see its stderr)");
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}

Test(maintenance_live, readers_see_every_offset_once_while_maintenance_replaces_and_removes, .timeout = 3600)
{
    run_live(copy_or_remove, "copies and removals", NULL);
}

/* siglog retain in its own process: every sealed segment goes warm as
 * soon as it is sealed (the clock far past every event), and the oldest
 * are purged beyond 8 segments' worth. */
Test(maintenance_live, readers_see_every_offset_once_while_retention_runs, .timeout = 3600)
{
    siglog_stream_config policy = {.max_bytes = 8 * SEGMENT_BYTES, .warm_after = 1000000};
    run_live(retain_round, "warm moves and purges", &policy);
}

/* siglog retain in its own process with a cold tier: the sealed
 * segments of the first 10 s of events (the first 10000) move to
 * cold_dir as archives as soon as they are sealed, newer ones go warm,
 * and the oldest archives are purged while the cold tier holds more than
 * four segments' worth. The readers start in the first 3000 once a
 * segment went cold, and trail the writer, so they read through cold
 * entries while retention moves and purges them. */
Test(maintenance_live, readers_see_every_offset_once_while_retention_moves_cold, .timeout = 3600)
{
    cold_tier = 1;
    char *cold = test_tmpdir("maintenance-live-cold");
    siglog_stream_config policy = {.warm_after = 1000000, .cold_after = 3590LL * 1000000,
                                   .cold_max_bytes = 4 * SEGMENT_BYTES};
    snprintf(policy.cold_dir, sizeof policy.cold_dir, "%s", cold);
    run_live(retain_round, "cold moves and purges", &policy);
    test_rmtree(cold);
    free(cold);
}

/* siglog compact in its own process, merges and key compactions by
 * turns: segments rolled by age every 20 ms are small enough to merge,
 * and key compaction drops the superseded events of cleanup=compact. */
Test(maintenance_live, readers_see_every_kept_offset_once_while_compaction_runs, .timeout = 3600)
{
    keys_compacted = 1;
    siglog_stream_config policy = {.cleanup = SIGLOG_CLEANUP_COMPACT, .merge_below = SEGMENT_BYTES / 2,
                                   .segment_age_max_us = 20000};
    run_live(compact_round, "merges and key compactions", &policy);
}

/* siglog forget in its own process, two keys after two others: forgets
 * that find the keys only in sealed segments remove their events under
 * the readers; those whose key the writer's active segment holds have
 * the writer roll it (a roll request) and remove them from it too.
 * Segments roll by age every 20 ms, so that most forgets find their keys
 * sealed. */
Test(maintenance_live, readers_see_every_other_offset_once_while_forget_runs, .timeout = 3600)
{
    keys_forgotten = 1;
    siglog_stream_config policy = {.segment_age_max_us = 20000};
    run_live(forget_round, "forgets that removed events and forgets the live writer rolled for", &policy);
}
