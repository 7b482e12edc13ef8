/*
 * maint_faults — maintenance operations meeting an I/O call that RETURNS
 * an error (io_fault.h), not a power cut: ENOSPC on a write (the disk is
 * full, and stays full) and EIO on a sync (once), at each such call an
 * operation makes in turn, one table of operations for all of them.
 *
 * What is proven for every operation, fault and call:
 *   - the operation returns an error (never success over a failed call);
 *   - afterwards the store reads every event from its log start to its end
 *     byte-identical, and the log starts where it did or where the
 *     operation moves it, never elsewhere (acknowledged events are kept);
 *     a store that refused reads before (segments lost, until their loss
 *     is accepted) may still refuse them, as verify then says;
 *   - once the fault is gone the operation runs again to the end, leaving
 *     the state of an undisturbed run, and verify finds nothing wrong.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_fault.h"
#include "options_io.h"
#include "support.h"

#define SEED 71
#define EVENTS 1000
#define SEGMENT_BYTES (64u * 1024)
/* Archives move the segments whose events are all before this. */
#define ARCHIVE_BEFORE (TEST_T0 + 500000)

static char *root, *tmpl, *moved, *lost, *archive_path;
static char ctx[256]; /* the failing trial, in every assertion */

/* ---- the operations ---- */

/* Events a writer's run appends after the template's, PER_CALL a call. */
#define ADDED 1200
#define PER_CALL 100
static uint64_t acked; /* of them, acknowledged in the current trial */

/* One operation on the store at path through io: what the library call
 * returned (0 or more on success), its first error otherwise. files is a
 * directory of the trial's own. rerun is what completes it once the fault
 * is gone. */
typedef int (*op_fn)(const char *store, const siglog_io *io, const char *files);
typedef struct fault_op {
    const char *name;
    char **template_dir; /* the store it starts from */
    op_fn run, rerun;
    uint64_t added; /* events it may append (acked of them must be kept) */
    int refused;    /* the template's partition refuses reads (segments
                     * lost) until the operation is done */
} fault_op;

/* The maintenance call of each maintenance operation. */
typedef int (*maint_fn)(siglog_maintenance *m, const char *files);

static int with_maintenance(const char *store, const siglog_io *io, const char *files, maint_fn fn)
{
    siglog_options o;
    siglog_options_default(&o);
    if (io)
        sl_options_set_io(&o, io);
    siglog_maintenance *m = NULL;
    int rc = siglog_maintenance_open(&m, store, &o);
    if (rc)
        return rc;
    rc = fn(m, files);
    siglog_maintenance_close(m);
    return rc;
}

static int retain(siglog_maintenance *m, const char *files)
{
    (void)files;
    return siglog_retain(m, TEST_RETAIN_NOW, NULL);
}

static int archive_move(siglog_maintenance *m, const char *files)
{
    return siglog_archive_export(m, "m", 0, ARCHIVE_BEFORE, files, SIGLOG_ARCHIVE_MOVE, NULL, 0);
}

static int compact(siglog_maintenance *m, const char *files)
{
    (void)files;
    siglog_compact_options o = {.mode = SIGLOG_COMPACT_MERGE, .partition = SIGLOG_COMPACT_ALL_PARTITIONS};
    siglog_compact_result r;
    return siglog_compact(m, "m", &o, &r);
}

static int restore(siglog_maintenance *m, const char *files)
{
    (void)files;
    siglog_restore_result r;
    return siglog_archive_restore(m, archive_path, &r);
}

static int run_retain(const char *store, const siglog_io *io, const char *files)
{
    return with_maintenance(store, io, files, retain);
}

static int run_archive_move(const char *store, const siglog_io *io, const char *files)
{
    return with_maintenance(store, io, files, archive_move);
}

static int run_compact(const char *store, const siglog_io *io, const char *files)
{
    return with_maintenance(store, io, files, compact);
}

static int run_restore(const char *store, const siglog_io *io, const char *files)
{
    return with_maintenance(store, io, files, restore);
}

/* The writer: appends that roll a segment (its key filter and figures
 * written) and cross journal checkpoints (the next-offset floor written
 * to the catalog), then a clean close (schemas.usage, the catalog). The
 * stream syncs every append (SIGLOG_SYNC_ALWAYS): each one that returned
 * 0 is acknowledged. */
static int run_append(const char *store, const siglog_io *io, const char *files)
{
    (void)files;
    siglog_options o;
    siglog_options_default(&o);
    o.journal_bytes = 1u << 20;
    if (io)
        sl_options_set_io(&o, io);
    siglog *s = NULL;
    int rc = siglog_open(&s, store, &o);
    if (rc)
        return rc;
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    static test_event t[PER_CALL];
    siglog_event ev[PER_CALL];
    for (uint64_t k = 0; k < ADDED / PER_CALL && !rc; k++) {
        for (uint64_t i = 0; i < PER_CALL; i++) {
            test_event_make(&t[i], SEED, EVENTS + k * PER_CALL + i);
            ev[i] = t[i].ev;
        }
        if ((rc = siglog_append(st, 0, ev, PER_CALL, NULL, NULL)) == 0)
            acked += PER_CALL;
    }
    int c = siglog_close(s);
    return rc ? rc : c;
}

/* After a failed writer run: a writer's open recovers, its close is clean. */
static int run_recovery(const char *store, const siglog_io *io, const char *files)
{
    (void)io;
    (void)files;
    siglog_options o;
    siglog_options_default(&o);
    o.journal_bytes = 1u << 20;
    siglog *s = NULL;
    int rc = siglog_open(&s, store, &o);
    return rc ? rc : siglog_close(s);
}

/* verify --repair --accept-loss: the loss audited, then recorded in the
 * catalog, under a writer's open and close. */
static int run_accept_loss(const char *store, const siglog_io *io, const char *files)
{
    (void)files;
    return sl_verify_io(io ? io : sl_io_posix(), store, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL);
}

static const fault_op ops[] = {
    {"retain (purge and warm rewrite)", &tmpl, run_retain, run_retain, 0, 0},
    {"archive --move", &tmpl, run_archive_move, run_archive_move, 0, 0},
    {"compact --merge (its audit record first)", &tmpl, run_compact, run_compact, 0, 0},
    {"restore", &moved, run_restore, run_restore, 0, 0},
    {"appends and a close", &tmpl, run_append, run_recovery, ADDED, 0},
    {"verify --repair --accept-loss (its audit record first)", &lost, run_accept_loss, run_accept_loss, 0, 1},
};

/* ---- the faults ---- */

typedef struct fault_kind {
    const char *name;
    unsigned op_mask;
    int err;
    int persistent;
} fault_kind;

static const fault_kind faults[] = {
    {"ENOSPC on write", IO_FAULT_WRITE, ENOSPC, 1},
    {"EIO on sync", IO_FAULT_SYNC, EIO, 0},
};

/* ---- the store ---- */

static void make_templates(void)
{
    root = test_tmpdir_fast("maint-faults");
    tmpl = test_path(root, "template");
    siglog_stream_config c;
    test_seeded_config(&c, SEGMENT_BYTES);
    test_seeded_retention(&c);
    test_seeded_store(tmpl, &c, SEED, EVENTS);
    siglog *s = test_store_open(tmpl, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    /* Segments of up to four of them now, each sealed one a candidate
     * for a merge. */
    siglog_stream_config_get(st, &c);
    c.segment_bytes_max = 4 * SEGMENT_BYTES;
    c.merge_below = 2 * SEGMENT_BYTES;
    c.sync_policy = SIGLOG_SYNC_ALWAYS; /* an append returns once durable */
    c.retention_interval = 0; /* the writer's own retention would race the table's */
    cr_assert_eq(siglog_stream_config_set(s, "m", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    /* The restore's starting point: the template with its oldest
     * segments archived away. */
    moved = test_path(root, "moved");
    test_copy_tree(tmpl, moved);
    char *adir = test_path(root, "archives");
    cr_assert_eq(mkdir(adir, 0700), 0);
    siglog_maintenance *m;
    siglog_options o;
    siglog_options_default(&o);
    cr_assert_eq(siglog_maintenance_open(&m, moved, &o), 0, "%s", siglog_errdetail());
    archive_path = malloc(4096);
    cr_assert_eq(siglog_archive_export(m, "m", 0, ARCHIVE_BEFORE, adir, SIGLOG_ARCHIVE_MOVE, archive_path, 4096), 1,
                 "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    free(adir);
    /* The accepted loss's: the template with its first segment gone. */
    lost = test_path(root, "lost");
    test_copy_tree(tmpl, lost);
    char *pdir = test_path(lost, "streams/m/00000");
    uint64_t first;
    cr_assert_geq(test_segment_bases(pdir, &first, 1), 1);
    test_remove_segment(pdir, first);
    free(pdir);
}

static void drop_templates(void)
{
    test_rmtree_fast(root);
    free(root);
    free(tmpl);
    free(moved);
    free(lost);
    free(archive_path);
}

TestSuite(maint_faults, .init = make_templates, .fini = drop_templates);

/* Every event from the log start on, byte-identical and in order, the
 * log ending at least at EVENTS + acked (every acknowledged one) and at
 * most at EVENTS + added; returns the log start. */
static uint64_t check_events(const char *store, uint64_t added)
{
    uint64_t end;
    uint64_t start = test_check_seeded_log(store, SEED, &end, ctx);
    cr_assert(end >= EVENTS + acked && end <= EVENTS + added,
              "%s: the log ends at %" PRIu64 ", %" PRIu64 " events were acknowledged", ctx, end, EVENTS + acked);
    return start;
}

/* Run op on a fresh copy of its template in root/trial (its files in
 * root/trial-files) through io_fault armed with fault at call nth of its
 * class (0: not armed). Returns what the operation returned; *calls gets
 * the calls of the class it made, *injected whether a fault was. */
static int run_trial(const fault_op *op, const fault_kind *fault, uint64_t nth, uint64_t *calls, int *injected)
{
    char *store = test_path(root, "trial"), *files = test_path(root, "trial-files");
    test_rmtree_fast(store);
    test_rmtree_fast(files);
    test_copy_tree(*op->template_dir, store);
    cr_assert_eq(mkdir(files, 0700), 0);
    io_fault *f = io_fault_new(sl_io_posix());
    if (nth)
        io_fault_arm(f, fault->op_mask, nth, fault->err, fault->persistent, NULL);
    acked = 0;
    int rc = op->run(store, io_fault_io(f), files);
    *calls = io_fault_calls(f, fault->op_mask);
    *injected = io_fault_injected(f) > 0;
    io_fault_free(f);
    free(store);
    free(files);
    return rc;
}

/* The operation completed without a fault, on the trial's store. */
static void rerun(const fault_op *op)
{
    char *store = test_path(root, "trial"), *files = test_path(root, "trial-files");
    int rc = op->rerun(store, NULL, files);
    cr_assert_geq(rc, 0, "%s: rerun: %s: %s", ctx, siglog_errname(rc), siglog_errdetail());
    free(store);
    free(files);
}

Test(maint_faults, an_error_at_any_call_is_returned_keeps_every_event_and_a_rerun_completes, .timeout = 600)
{
    char *store = test_path(root, "trial");
    for (size_t oi = 0; oi < sizeof ops / sizeof *ops; oi++) {
        const fault_op *op = &ops[oi];
        /* The undisturbed run: where the log starts after it. */
        uint64_t calls;
        int injected;
        snprintf(ctx, sizeof ctx, "%s: reference run", op->name);
        acked = 0;
        uint64_t start_before = op->refused ? UINT64_MAX : check_events(*op->template_dir, 0);
        int rc = run_trial(op, &faults[0], 0, &calls, &injected);
        cr_assert_geq(rc, 0, "%s: %s", ctx, siglog_errdetail());
        uint64_t start_after = check_events(store, op->added);
        cr_assert_eq(siglog_verify(store, 0, NULL, NULL), 0, "%s: %s", ctx, siglog_errdetail());
        for (size_t fi = 0; fi < sizeof faults / sizeof *faults; fi++) {
            const fault_kind *fault = &faults[fi];
            snprintf(ctx, sizeof ctx, "%s: %s: counting", op->name, fault->name);
            uint64_t total;
            run_trial(op, fault, 0, &total, &injected);
            cr_assert_gt(total, 0, "%s: no call to fail", ctx);
            for (uint64_t k = 1; k <= total; k++) {
                snprintf(ctx, sizeof ctx, "%s: %s at call %" PRIu64 " of %" PRIu64, op->name, fault->name, k, total);
                rc = run_trial(op, fault, k, &calls, &injected);
                cr_assert(injected, "%s: nothing failed", ctx);
                cr_assert_lt(rc, 0, "%s: returned %d over a failed call", ctx, rc);
                /* A partition that refused reads before may still (the
                 * loss is not recorded): verify says so. */
                if (!op->refused || siglog_verify(store, 0, NULL, NULL) == 0) {
                    uint64_t start = check_events(store, op->added);
                    cr_assert(start == start_before || start == start_after,
                              "%s: the log starts at %" PRIu64, ctx, start);
                }
                rerun(op);
                cr_assert_eq(check_events(store, op->added), start_after, "%s: after the rerun", ctx);
                cr_assert_eq(siglog_verify(store, 0, NULL, NULL), 0, "%s: after the rerun: %s", ctx,
                             siglog_errdetail());
            }
        }
    }
    free(store);
}
