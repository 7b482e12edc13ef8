/*
 * writer_tasks_crash — the maintenance a writer schedules itself, under
 * simulated power cuts (io_crash.h) at EVERY mutating I/O call: the
 * retention run of retention_interval (store_retention.c: the writer takes
 * the maintenance role in its own process, through its own backend) and
 * the compaction of compact_interval (compact_task.c: a maintenance handle
 * opened with the writer's options, BY_CLEANUP, here a merge) and the
 * age roll of segment_age_max_us (store_tasks.c: sl_partition_roll_if_old
 * once the clock passed the active segment's age limit, after a few
 * appends) and the answer to a maintenance process's roll request
 * (store_roll_request.c: a roll of the active segment, a checkpoint and
 * the journal's old bytes zeroed, then the request removed), each
 * followed by the writer's appends, which roll its active segment on top
 * of the catalog generation the task committed, and its close.
 *
 * The scheduler decides only when a task runs; each trial calls what the
 * task calls, on the writer's handle, so that the reference run and the
 * trials make the same calls in the same order. The writer's clock stands
 * still (at TEST_RETAIN_NOW, the seeded retention policy's moment, or for
 * the age roll at the real time, then two age limits later), so the
 * scheduler's own age-roll task has nothing to do before the trial moves
 * it; when it then rolls first, the trial's call finds nothing to do. The
 * roll request is the exception: the scheduler's own task answers it
 * (within ROLL_REQUEST_POLL_US of the request, written once the trial is
 * armed), and the trial waits for that answer, or for the cut, before it
 * appends; a request a cut left is answered by the next writer.
 *
 * What is proven: after a cut at call k, in every power-cut mode, and a
 * recovery by a writer's open or by a maintenance handle (alternately),
 *   - every event from the log start on reads back byte-identical, at its
 *     offset, up to the end of the log, which holds every acknowledged
 *     late append and nothing past the late appends;
 *   - the log starts where it did or where the purge moves it, and a
 *     moved start has its purge record in the audit trail;
 *   - a writer opened afterwards hands out the offset after the log's end,
 *     and then siglog_verify finds nothing wrong.
 * The fast suite cuts each call in one of the four modes in turn; with
 * SIGLOG_CRASH_ALL_MODES set (the slow suite) in all four.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io_crash.h"
#include "options_io.h"
#include "retain.h"
#include "roll_request.h"
#include "store.h"
#include "stream.h"
#include "support.h"

#define SEED 61
#define EVENTS 1000
#define LATE 40 /* appended by the writer after its task: a roll or two */
#define SEGMENT_BYTES (64u * 1024)

static char *root;
static char ctx[256]; /* the failing trial, in every assertion */

static void setup(void)
{
    root = test_tmpdir_fast("writer-tasks-crash");
}

static void teardown(void)
{
    test_rmtree_fast(root);
    free(root);
}

TestSuite(writer_tasks_crash, .init = setup, .fini = teardown);

/* The trial's backend with the writer's wall clock stopped at clock_us
 * (moved only by the trial); every other call is io_crash's (its state is
 * io->ctx, which the copy keeps). */
static int64_t clock_us;
static int64_t fixed_now(const siglog_io *io)
{
    (void)io;
    return __atomic_load_n(&clock_us, __ATOMIC_ACQUIRE);
}

enum writer_task { TASK_RETENTION, TASK_COMPACTION, TASK_AGE_ROLL, TASK_ROLL_REQUEST, TASK_SCRUB_REQUEST };
static const char *const task_names[] = {"retention", "compaction", "age roll", "roll request", "scrub request"};
#define AGE_MAX_US (3600LL * 1000000)
#define EARLY 5 /* appended before an age roll */

typedef struct writer_run {
    int task;       /* enum writer_task */
    uint64_t acked; /* late appends acknowledged */
    siglog_io io;
} writer_run;

static siglog *writer_on(const char *store, const siglog_io *io, siglog_options *o)
{
    siglog_options_default(o);
    o->journal_bytes = 1u << 20;
    sl_options_set_io(o, io);
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, store, o), 0, "%s: writer open: %s", ctx, siglog_errdetail());
    return s;
}

/* What compact_task.c's worker does for the stream. */
static int compact_as_the_task(const char *store, const siglog_options *o)
{
    siglog_maintenance *m;
    int rc = siglog_maintenance_open(&m, store, o);
    if (rc)
        return rc;
    siglog_compact_options co = {.mode = SIGLOG_COMPACT_BY_CLEANUP, .partition = SIGLOG_COMPACT_ALL_PARTITIONS};
    siglog_compact_result r;
    rc = siglog_compact(m, "m", &co, &r);
    if (rc == 0 && r.segments_in <= r.segments_out)
        rc = -1000; /* the reference must merge something */
    siglog_maintenance_close(m);
    return rc;
}

/* Late event i appended to st: 1 when acknowledged. */
static int append_late(siglog_stream *st, uint64_t i)
{
    test_event e;
    test_event_make(&e, SEED, EVENTS + i);
    uint64_t off;
    if (siglog_append(st, 0, &e.ev, 1, NULL, &off) != 0)
        return 0;
    cr_assert_eq(off, EVENTS + i, "%s: late append %" PRIu64 " at %" PRIu64, ctx, i, off);
    return 1;
}

/* What the age-roll task does (store_tasks.c) once the active segment is
 * past segment_age_max_us: a few events appended first, so that it holds
 * some of this session's. */
static int roll_by_age(siglog_stream *st, writer_run *w)
{
    for (uint64_t i = 0; i < EARLY; i++) {
        if (!append_late(st, i))
            return -1;
        w->acked++;
    }
    __atomic_store_n(&clock_us, fixed_now(NULL) + 2 * AGE_MAX_US, __ATOMIC_RELEASE);
    return sl_partition_roll_if_old(st->parts[0], fixed_now(NULL));
}

/* A few events appended (acknowledged: in the journal, their segment not
 * yet synced), then a maintenance process's request to roll partition 0
 * (with w->task TASK_ROLL_REQUEST; the roll syncs the segment) and scrub
 * the journal (written durably, outside the trial's I/O, as another
 * process would), and the writer's background task answering it: returns
 * once the request is gone, or the cut came (then the answer cannot
 * finish). */
static int roll_on_request(siglog *s, siglog_stream *st, writer_run *w, const char *store, test_crash *t)
{
    for (uint64_t i = 0; i < EARLY; i++) {
        if (!append_late(st, i))
            return -1;
        w->acked++;
    }
    char *sdir = test_path(store, "streams/m");
    uint32_t parts[1] = {0};
    roll_request r = {.store_id = s->store_id, .asked_us = TEST_RETAIN_NOW, .n = w->task == TASK_ROLL_REQUEST,
                      .parts = parts};
    cr_assert_eq(sl_roll_request_write(sl_io_posix(), sdir, &r, 0600), 0, "%s: %s", ctx, siglog_errdetail());
    int pending;
    while ((pending = sl_roll_request_pending(sl_io_posix(), sdir)) == 1 && !test_crash_dead(t)) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    free(sdir);
    return pending == 0 ? 0 : -1;
}

static void writer_change(void *arg, const char *store, test_crash *t)
{
    writer_run *w = arg;
    w->io = *t->io;
    w->io.now_us = fixed_now;
    /* The retention policy's moment; an age roll's clock starts at the
     * real one, which the template's segments were made by. */
    clock_us = w->task == TASK_AGE_ROLL ? sl_io_posix()->now_us(sl_io_posix()) : TEST_RETAIN_NOW;
    siglog_options o;
    siglog *s = writer_on(store, &w->io, &o);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0, "%s", siglog_errdetail());
    test_crash_arm(t);
    w->acked = 0;
    int rc = w->task == TASK_COMPACTION ? compact_as_the_task(store, &o)
             : w->task == TASK_RETENTION ? sl_store_retain(s, "m", RETAIN_MOVES)
             : w->task == TASK_AGE_ROLL  ? roll_by_age(st, w)
                                         : roll_on_request(s, st, w, store, t);
    if (!t->die)
        cr_assert_eq(rc, 0, "reference run: %d %s", rc, siglog_errdetail());
    for (uint64_t i = w->acked; i < LATE; i++) {
        if (!append_late(st, i))
            break;
        w->acked++;
    }
    rc = siglog_close(s);
    if (!t->die)
        cr_assert(rc == 0 && w->acked == LATE, "reference run: %s", siglog_errdetail());
}

static int note_purge(void *arg, const siglog_audit_record *r)
{
    uint64_t *end = arg;
    if (strcmp(r->action, "purge") == 0 && r->offset_start == 0)
        *end = r->offset_end;
    return 0;
}

static size_t count_segments(const char *store)
{
    char *pdir = test_path(store, "streams/m/00000");
    uint64_t bases[1024];
    size_t n = test_segment_bases(pdir, bases, 1024);
    free(pdir);
    return n;
}

/* The store after a trial: the log from its start, byte-identical, ends
 * between the acknowledged late appends and all of them; a moved start
 * is audited; the next append goes on at the end. Returns the start. */
static uint64_t check_store(const char *store, uint64_t acked)
{
    uint64_t end;
    uint64_t start = test_check_seeded_log(store, SEED, &end, ctx);
    cr_assert(end >= EVENTS + acked && end <= EVENTS + LATE,
              "%s: the log ends at %" PRIu64 ", %" PRIu64 " late appends acknowledged", ctx, end, acked);
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    uint64_t purged = 0;
    cr_assert_eq(siglog_audit_read(s, 1, note_purge, &purged, NULL), 0, "%s: audit: %s", ctx, siglog_errdetail());
    cr_assert(start == 0 || purged == start, "%s: offsets [0, %" PRIu64 ") went without a purge record of them", ctx,
              start);
    siglog_close(s);

    siglog_options o;
    s = writer_on(store, sl_io_posix(), &o);
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0, "%s", siglog_errdetail());
    test_event e;
    test_event_make(&e, SEED, end);
    uint64_t off;
    cr_assert_eq(siglog_append(st, 0, &e.ev, 1, NULL, &off), 0, "%s: %s", ctx, siglog_errdetail());
    cr_assert_eq(off, end, "%s: the next append got %" PRIu64 ", the log ends at %" PRIu64, ctx, off, end);
    cr_assert_eq(siglog_close(s), 0, "%s: %s", ctx, siglog_errdetail());
    /* The catalog's entries, the audit trail's account of every hole and
     * each index agree with the segments. */
    cr_assert_eq(siglog_verify(store, 0, NULL, NULL), 0, "%s: verify: %s", ctx, siglog_errdetail());
    return start;
}

/* What the trials are checked against. */
typedef struct writer_sweep {
    writer_run *w;
    uint64_t moved_to; /* where the uncut run moved the log start */
} writer_sweep;

static void check_trial(void *arg, const test_crash_point *pt)
{
    writer_sweep *ws = arg;
    uint64_t start = check_store(pt->store, ws->w->acked);
    cr_assert(start == 0 || start == ws->moved_to, "%s: the log starts at %" PRIu64, ctx, start);
}

static void every_call(const char *tmpl, int task)
{
    writer_run w = {.task = task};
    char *ref = test_path(root, "reference");
    snprintf(ctx, sizeof ctx, "reference");
    size_t segs_before = count_segments(tmpl);
    uint64_t calls = test_crash_trial(tmpl, ref, 0, 1, IO_CRASH_KEEP_ALL, writer_change, &w);
    uint64_t moved_to = check_store(ref, w.acked);
    if (task == TASK_COMPACTION)
        cr_assert_lt(count_segments(ref), segs_before, "the compaction merges segments");
    else if (task == TASK_RETENTION)
        cr_assert_gt(moved_to, 0, "the writer's retention purges something");
    else if (task != TASK_SCRUB_REQUEST)
        cr_assert_gt(count_segments(ref), segs_before, "the %s adds a segment", task_names[task]);
    test_rmtree_fast(ref);
    free(ref);
    cr_assert_gt(calls, 4, "the writer made %" PRIu64 " calls", calls);
    /* One mode per call, in turn (every mode in the slow suite); a
     * sanitizer build, some five times slower, cuts at every stride-th
     * call (tests/meson.build), which still meets every mode and every
     * kind of call its checks are for. */
    writer_sweep ws = {.w = &w, .moved_to = moved_to};
    test_crash_sweep_run(&(test_crash_sweep){.tmpl = tmpl, .root = root, .change = writer_change, .change_arg = &w,
                                             .calls = calls, .modes = TEST_SWEEP_ONE_MODE, .recover_stream = "m",
                                             .label = task_names[task], .ctx = ctx, .ctx_size = sizeof ctx,
                                             .check = check_trial, .check_arg = &ws});
}

Test(writer_tasks_crash, the_writers_retention_run_then_appends_at_every_call, .timeout = 900)
{
    char *tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    c.sync_policy = SIGLOG_SYNC_ALWAYS; /* an append that returns is acknowledged */
    test_seeded_retention(&c);
    test_seeded_store(tmpl, &c, SEED, EVENTS);
    every_call(tmpl, TASK_RETENTION);
    free(tmpl);
}

Test(writer_tasks_crash, the_writers_scheduled_compaction_then_appends_at_every_call, .timeout = 900)
{
    char *tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    c.sync_policy = SIGLOG_SYNC_ALWAYS; /* an append that returns is acknowledged */
    test_seeded_store(tmpl, &c, SEED, EVENTS);
    /* Segments of four times the size the log was written with, every
     * sealed one small enough to merge. */
    c.segment_bytes_max = 4 * SEGMENT_BYTES;
    c.merge_below = 2 * SEGMENT_BYTES;
    siglog_options o;
    siglog *s = writer_on(tmpl, sl_io_posix(), &o);
    cr_assert_eq(siglog_stream_config_set(s, "m", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    every_call(tmpl, TASK_COMPACTION);
    free(tmpl);
}

Test(writer_tasks_crash, the_writers_age_roll_then_appends_at_every_call, .timeout = 900)
{
    char *tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    c.sync_policy = SIGLOG_SYNC_ALWAYS; /* an append that returns is acknowledged */
    c.segment_bytes_max = 1u << 20;     /* rolls by age only in the trial */
    c.segment_age_max_us = AGE_MAX_US;
    test_seeded_store(tmpl, &c, SEED, EVENTS);
    every_call(tmpl, TASK_AGE_ROLL);
    free(tmpl);
}

/* The active segment holds events of the template's log and the early
 * appends (a roll request rolls only one that holds something), and the
 * writer answers the request while nothing else is appended. With
 * nothing to roll, the early appends are in the journal and an unsynced
 * segment when the scrub comes (fails when the journal is zeroed before
 * the checkpoint syncs their segment). */
static void answer_at_every_call(int task)
{
    char *tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    c.sync_policy = SIGLOG_SYNC_ALWAYS; /* an append that returns is acknowledged */
    c.segment_bytes_max = 1u << 20;     /* no size roll in the trial */
    test_seeded_store(tmpl, &c, SEED, EVENTS);
    every_call(tmpl, task);
    free(tmpl);
}

Test(writer_tasks_crash, the_writers_answer_to_a_roll_request_then_appends_at_every_call, .timeout = 900)
{
    answer_at_every_call(TASK_ROLL_REQUEST);
}

Test(writer_tasks_crash, the_writers_answer_to_a_scrub_request_then_appends_at_every_call, .timeout = 900)
{
    answer_at_every_call(TASK_SCRUB_REQUEST);
}
