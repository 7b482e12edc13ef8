/*
 * loss_journal — acknowledged events that only the commit journal holds
 * when segments of their partition are found missing (catalog_loss.h):
 * the writer's open leaves them in the journal, which no checkpoint
 * empties of them (neither a close nor a full journal), and once the loss
 * is accepted (siglog verify --repair --accept-loss) they are in the log,
 * at their offsets, the same events; the next append goes on after them.
 * Each scenario: a writer appends with SYNC_ALWAYS, so every call is
 * acknowledged through the journal, then a power cut drops every unsynced
 * write (the active segment's tail: only the journal has it), then a
 * segment is removed.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_crash.h"
#include "options_io.h"
#include "segment.h"
#include "support.h"

#define SEED 33
#define PER_CALL 1000

/* Events of the workload appended to partition `part` of st, PER_CALL a
 * call, each call acknowledged (SYNC_ALWAYS): event i is test_event_make
 * (SEED, i) at offset i. Returns one past the last acknowledged offset. */
static uint64_t append_acknowledged(siglog_stream *st, uint32_t part, uint64_t calls)
{
    static test_event t[PER_CALL];
    static siglog_event evs[PER_CALL];
    static uint64_t off[PER_CALL];
    uint64_t next = 0;
    for (uint64_t c = 0; c < calls; c++) {
        for (size_t i = 0; i < PER_CALL; i++) {
            test_event_make(&t[i], SEED, next + i);
            evs[i] = t[i].ev;
        }
        int rc = siglog_append(st, part, evs, PER_CALL, NULL, off);
        cr_assert_eq(rc, 0, "%s: %s", siglog_errname(rc), siglog_errdetail());
        cr_assert_eq(off[0], next);
        next = off[PER_CALL - 1] + 1;
    }
    return next;
}

/* A power cut of writer s (over crash, which this frees): every write
 * not synced is gone. */
static void power_cut(io_crash *crash, siglog *s)
{
    io_crash_die_after(crash, io_crash_ops(crash) + 1);
    siglog_close(s);
    cr_assert_eq(io_crash_power_cut(crash, IO_CRASH_DROP_ALL), 0);
    io_crash_free(crash);
}

static int accept_loss(const char *dir)
{
    return siglog_verify(dir, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL);
}

/* Partition `part` of stream "a" read from its start: every offset below
 * `acked` but those of [lost_from, lost_to), each the event appended at
 * it, and `gaps` SIGLOG_EGAP (a loss at the start moves the log start:
 * none to report). */
static void assert_read_back(const char *dir, uint32_t part, uint64_t acked, uint64_t lost_from, uint64_t lost_to,
                             uint64_t gaps)
{
    siglog *s = test_store_open_read_only(dir);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "a", &st), 0);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, part, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    uint64_t want = 0, seen = 0;
    for (;;) {
        if (want == lost_from)
            want = lost_to;
        const siglog_record *r;
        int rc = siglog_cursor_next(c, &r);
        if (rc == 0)
            break;
        if (rc == SIGLOG_EGAP) {
            seen++;
            continue;
        }
        cr_assert_eq(rc, 1, "%s: %s", siglog_errname(rc), siglog_errdetail());
        cr_assert_eq(r->offset, want, "offset %" PRIu64 " where %" PRIu64 " was expected", r->offset, want);
        test_event t;
        test_event_make(&t, SEED, want);
        test_assert_record_eq(r, &t.ev);
        want++;
    }
    cr_assert_eq(want, acked, "the log ends at %" PRIu64 ", %" PRIu64 " were acknowledged", want, acked);
    cr_assert_eq(seen, gaps);
    siglog_cursor_close(c);
    siglog_close(s);
}

/* The next append to partition `part` gets offset `acked`: none handed
 * out twice. */
static void assert_appends_at(const char *dir, uint32_t part, uint64_t acked)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "a", &st), 0);
    test_event t;
    test_event_make(&t, SEED, acked);
    uint64_t off;
    cr_assert_eq(siglog_append(st, part, &t.ev, 1, NULL, &off), 0, "%s", siglog_errdetail());
    cr_assert_eq(off, acked);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
}

/* A new directory for a store, its path over 300 bytes long: an
 * operator's store may lie deep in a mount tree, and the detail naming it
 * twice must still end with what to do. */
static char *deep_store_dir(const char *tag, char **top_out)
{
    char *top = test_tmpdir(tag), *dir = NULL;
    cr_assert(asprintf(&dir, "%s/%0200d/%0100d", top, 0, 0) > 0);
    *strrchr(dir, '/') = '\0';
    cr_assert_eq(mkdir(dir, 0700), 0, "%s", dir);
    dir[strlen(dir)] = '/';
    cr_assert_eq(mkdir(dir, 0700), 0, "%s", dir);
    *top_out = top;
    return dir;
}

/* A sealed segment in the middle lost while the journal holds the
 * active segment's acknowledged events, which the power cut took from
 * the segment. A writer's open refuses the partition naming the missing
 * offsets and serves the other; its close, and a checkpoint its full
 * journal asks for, must not empty the journal of them (the checkpoint
 * fails instead, saying why, remedy included, whatever the store's path).
 * Accepted, the loss is the segment's offsets alone. */
Test(loss_journal, events_the_journal_held_past_a_lost_segment_are_in_the_log_once_it_is_accepted, .timeout = 240)
{
    char *top, *dir = deep_store_dir("lossj-middle", &top);
    io_crash *crash = io_crash_new(9);
    siglog *s = test_store_open(dir, io_crash_io(crash));
    siglog_stream *st = test_stream_create(s, "a", 2, SIGLOG_SYNC_ALWAYS, 64 * 1024);
    uint64_t acked = append_acknowledged(st, 0, 6);
    power_cut(crash, s);
    char *pdir = test_path(dir, "streams/a/00000");
    uint64_t bases[64];
    size_t nseg = test_segment_bases(pdir, bases, 64);
    cr_assert_geq(nseg, 3, "%zu segments", nseg);
    test_remove_segment(pdir, bases[1]);

    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "a", &st), 0);
    test_event t;
    test_event_make(&t, SEED, acked);
    cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), SIGLOG_ECORRUPT);
    char range[96];
    snprintf(range, sizeof range, "offsets %" PRIu64 "..%" PRIu64 " are missing", bases[1], bases[2] - 1);
    cr_assert_not_null(strstr(siglog_errdetail(), range), "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());

    /* Partition 1 fills the journal (8 MiB, test_store_open): the
     * checkpoint that would empty it fails. */
    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "a", &st), 0);
    int rc = 0;
    for (uint64_t c = 0; c < 400 && rc == 0; c++) {
        static test_event te[PER_CALL];
        static siglog_event evs[PER_CALL];
        for (size_t i = 0; i < PER_CALL; i++) {
            test_event_make(&te[i], SEED, c * PER_CALL + i);
            evs[i] = te[i].ev;
        }
        rc = siglog_append(st, 1, evs, PER_CALL, NULL, NULL);
    }
    cr_assert_eq(rc, SIGLOG_EFAILED, "%s: %s", siglog_errname(rc), siglog_errdetail());
    cr_assert_not_null(strstr(siglog_errdetail(), "--accept-loss"), "%s", siglog_errdetail());
    siglog_close(s);

    cr_assert_eq(accept_loss(dir), 0, "%s", siglog_errdetail());
    assert_read_back(dir, 0, acked, bases[1], bases[2], 1);
    assert_appends_at(dir, 0, acked);
    test_rmtree(top);
    free(top);
    free(dir);
    free(pdir);
}

/* A store whose stream "a" gets `calls` acknowledged calls on partition
 * 0, then `fill_calls` on partition 1, a power cut, partition 0's only
 * segment (never rolled: 256 MiB) lost, or with `whole` its directory,
 * and the loss accepted: a read gets the events the journal still held
 * (all of them, or none with `emptied`), and the next append goes on
 * after every acknowledged one. */
static void lose_the_end(const char *tag, uint64_t seed, uint64_t calls, uint64_t fill_calls, int emptied, int whole)
{
    char *dir = test_tmpdir(tag);
    io_crash *crash = io_crash_new(seed);
    siglog *s = test_store_open(dir, io_crash_io(crash));
    siglog_stream *st = test_stream_create(s, "a", 2, SIGLOG_SYNC_ALWAYS, 256u << 20);
    uint64_t acked = append_acknowledged(st, 0, calls);
    append_acknowledged(st, 1, fill_calls);
    power_cut(crash, s);
    char *pdir = test_path(dir, "streams/a/00000");
    if (whole)
        test_rmtree(pdir);
    else
        test_remove_segment(pdir, 0);
    cr_assert_eq(accept_loss(dir), 0, "%s", siglog_errdetail());
    assert_read_back(dir, 0, acked, 0, emptied ? acked : 0, 0);
    assert_appends_at(dir, 0, acked);
    test_rmtree(dir);
    free(dir);
    free(pdir);
}

/* The journal holds every event the active segment held (no checkpoint
 * since the first append): nothing is lost. The new active segment holds
 * the journal's batches, the next append goes on after them. */
Test(loss_journal, a_lost_active_segment_comes_back_from_the_journal, .timeout = 240)
{
    lose_the_end("lossj-active", 8, 20, 0, 0, 0);
}

/* A journal checkpoint empties the journal of what only the active
 * segment then holds: after the loss is accepted those events are lost
 * (the log starts past them), and no acknowledged offset may be handed
 * out again (the floor each checkpoint writes). Partition 1 fills the
 * journal (8 MiB, test_store_open) once more after partition 0's events,
 * so the journal holds nothing of partition 0 at the cut. */
Test(loss_journal, an_accepted_loss_of_the_active_segment_after_a_journal_checkpoint_reuses_no_offset, .timeout = 240)
{
    lose_the_end("lossj-checkpoint", 7, 50, 150, 1, 0);
}

/* The partition directory removed whole while the journal holds every
 * event it had (no checkpoint since the first append): its floor file
 * says the log goes on at 0, and the journal's batches fill it again. */
Test(loss_journal, a_lost_partition_directory_comes_back_from_the_journal, .timeout = 240)
{
    lose_the_end("lossj-dir", 8, 20, 0, 0, 1);
}

/* The partition directory removed whole after a journal checkpoint took
 * its events out of the journal: the floor file the checkpoint raised
 * says where the log goes on, past every acknowledged offset. */
Test(loss_journal, a_lost_partition_directory_after_a_journal_checkpoint_reuses_no_offset, .timeout = 240)
{
    lose_the_end("lossj-dir-checkpoint", 7, 50, 150, 1, 1);
}

/* A crash (io_crash: a power cut, unsynced writes surviving at random)
 * at every mutating call of an accept that puts the journal's batches
 * into the new active segment: afterwards the old catalog (a new run
 * finishes the accept) or the new one, and either way every acknowledged
 * event reads back at its offset and the next append goes on after them:
 * the journal keeps them until a segment does. */
Test(loss_journal, a_crash_at_every_call_of_the_accept_keeps_what_the_journal_held, .timeout = 600)
{
    char *base = test_tmpdir("lossj-crash-base"), *dir = test_tmpdir("lossj-crash");
    io_crash *crash = io_crash_new(10);
    siglog *s = test_store_open(base, io_crash_io(crash));
    siglog_stream *st = test_stream_create(s, "a", 1, SIGLOG_SYNC_ALWAYS, 256u << 20);
    uint64_t acked = append_acknowledged(st, 0, 2);
    power_cut(crash, s);
    char *pdir = test_path(base, "streams/a/00000");
    test_remove_segment(pdir, 0);
    free(pdir);
    uint64_t k = 1;
    for (;; k++) {
        test_rmtree(dir);
        test_copy_tree(base, dir);
        crash = io_crash_new(k);
        io_crash_die_after(crash, k);
        int rc = sl_verify_io(io_crash_io(crash), dir, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL);
        int died = io_crash_dead(crash);
        cr_assert_eq(io_crash_power_cut(crash, IO_CRASH_RANDOM), 0);
        io_crash_free(crash);
        if (!died) {
            cr_assert_eq(rc, 0, "%s", siglog_errdetail());
            break;
        }
        cr_assert_eq(accept_loss(dir), 0, "crash at call %" PRIu64 ": %s", k, siglog_errdetail());
        assert_read_back(dir, 0, acked, 0, 0, 0);
        assert_appends_at(dir, 0, acked);
        cr_assert_lt(k, 1000, "the accept never finished");
    }
    cr_assert_geq(k, 4, "only %" PRIu64 " calls", k);
    test_rmtree(base);
    test_rmtree(dir);
    free(base);
    free(dir);
}

/* Where the valid batches of segment file BASE in pdir end, as a scan
 * of the file alone finds it (read-only, no summary trusted). */
static uint64_t segment_file_end(const char *pdir, uint64_t base)
{
    segment *seg;
    cr_assert_eq(sl_segment_open(sl_io_posix(), pdir, base, 0, NULL, &seg), 0, "%s", siglog_errdetail());
    segment_tail t;
    cr_assert_eq(sl_segment_scan_tail(seg, &t), 0, "%s", siglog_errdetail());
    sl_segment_close(seg);
    return t.next_offset;
}

/* The partition's catalog.ckpt lost after a power cut that took the
 * active segment's tail, which only the journal then holds, past the end
 * of the last segment file. The writer's open refuses the partition
 * naming the file and keeps the journal's batches; accepted (the catalog
 * rebuilt from the segments found, nothing lost: the log started at 0),
 * every acknowledged event reads back at its offset, the journal's ones
 * included, and the next append goes on after them. */
Test(loss_journal, a_lost_catalog_keeps_the_batches_the_journal_held_past_the_last_segment, .timeout = 240)
{
    char *dir = test_tmpdir("lossj-catalog");
    io_crash *crash = io_crash_new(12);
    siglog *s = test_store_open(dir, io_crash_io(crash));
    siglog_stream *st = test_stream_create(s, "a", 1, SIGLOG_SYNC_ALWAYS, 64 * 1024);
    uint64_t acked = append_acknowledged(st, 0, 6);
    power_cut(crash, s);
    char *pdir = test_path(dir, "streams/a/00000");
    uint64_t bases[64];
    size_t nseg = test_segment_bases(pdir, bases, 64);
    cr_assert_geq(nseg, 2, "%zu segments", nseg);
    /* The journal's batches reach past the last segment file. */
    uint64_t last_end = segment_file_end(pdir, bases[nseg - 1]);
    cr_assert_lt(last_end, acked, "the segments hold offsets up to %" PRIu64 " of %" PRIu64, last_end, acked);
    char *ckpt = test_path(pdir, "catalog.ckpt");
    cr_assert_eq(unlink(ckpt), 0, "%s", ckpt);

    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "a", &st), 0);
    test_event t;
    test_event_make(&t, SEED, acked);
    cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(siglog_errdetail(), "catalog.ckpt is missing"), "%s", siglog_errdetail());
    cr_assert_not_null(strstr(siglog_errdetail(), "no offset below it is lost"), "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());

    cr_assert_eq(accept_loss(dir), 0, "%s", siglog_errdetail());
    assert_read_back(dir, 0, acked, 0, 0, 0);
    assert_appends_at(dir, 0, acked);
    test_rmtree(dir);
    free(dir);
    free(pdir);
    free(ckpt);
}
