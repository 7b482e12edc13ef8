/*
 * recovery — reopening after a crash keeps exactly the valid prefix: a
 * torn tail is cut at every possible byte, a damaged last batch that no
 * summary vouches for is cut, and what was cut is reported; indexes are
 * rebuilt when lost. (Damage to vouched bytes: test_vouched.c.)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options_io.h"
#include "support.h"

static char *dir;
static char *seg;        /* the active segment of stream "r" partition 0 */
static uint64_t prefix;  /* bytes of all batches but the last */
static uint64_t total;   /* bytes with the last batch */
static uint8_t *image;   /* the segment as written */
static char *sum;        /* its summary sidecar */
static uint8_t prefix_sum[64]; /* the summary a clean close of the prefix wrote */
static char *ckpt;       /* the partition's checkpoint (catalog.ckpt) */
static char *floor_file; /* its floor file beside the directory */
static uint8_t ckpt_before_last[4096]; /* it after the close before the last append */
static size_t ckpt_len;
#define EVENTS 20

static int log_lines;
static void count_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)msg;
    if (level >= SIGLOG_LOG_WARN)
        log_lines++;
}

static siglog *open_logged(void)
{
    siglog_options o;
    siglog_options_default(&o);
    o.log_fn = count_log;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "reopen: %s: %s", siglog_errname(rc), siglog_errdetail());
    return s;
}

static void append_events(siglog *s, uint64_t from, uint64_t to)
{
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "r", &st), 0);
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, 5, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0); /* ALWAYS: one batch each */
    }
}

static void setup(void)
{
    dir = test_tmpdir("recovery");
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "r", 1, SIGLOG_SYNC_ALWAYS, 0);
    append_events(s, 0, EVENTS - 1);
    cr_assert_eq(siglog_close(s), 0);
    seg = test_path(dir, "streams/r/00000/00000000000000000000.seg");
    sum = test_path(dir, "streams/r/00000/00000000000000000000.sum");
    prefix = test_file_size(seg);
    FILE *sf = fopen(sum, "rb");
    cr_assert_eq(fread(prefix_sum, 1, sizeof prefix_sum, sf), sizeof prefix_sum);
    fclose(sf);
    ckpt = test_path(dir, "streams/r/00000/catalog.ckpt");
    floor_file = test_path(dir, "streams/r/00000.floor");
    FILE *c = fopen(ckpt, "rb");
    cr_assert_not_null(c, "a clean close leaves a checkpoint");
    ckpt_len = fread(ckpt_before_last, 1, sizeof ckpt_before_last, c);
    fclose(c);
    s = test_store_open(dir, NULL);
    append_events(s, EVENTS - 1, EVENTS);
    cr_assert_eq(siglog_close(s), 0);
    total = test_file_size(seg);
    cr_assert_gt(total, prefix);
    image = malloc(total);
    FILE *f = fopen(seg, "rb");
    cr_assert_eq(fread(image, 1, total, f), total);
    fclose(f);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
    free(seg);
    free(sum);
    free(ckpt);
    free(floor_file);
    free(image);
}

TestSuite(recovery, .init = setup, .fini = teardown);

/* The segment cut at len, as a crash leaves it: the last append (and, when
 * len is below it, the clean close before it) never happened, so neither
 * did the checkpoints they wrote, nor the partition floor file each
 * checkpoint write is followed by. */
static void restore(uint64_t len)
{
    FILE *f = fopen(seg, "wb");
    cr_assert_eq(fwrite(image, 1, len, f), len);
    fclose(f);
    if (len < prefix) {
        cr_assert(unlink(ckpt) == 0 || errno == ENOENT);
        cr_assert(unlink(floor_file) == 0 || errno == ENOENT);
        return;
    }
    f = fopen(ckpt, "wb");
    cr_assert_eq(fwrite(ckpt_before_last, 1, ckpt_len, f), ckpt_len);
    fclose(f);
}

/* The state a crash after the last append leaves: its batch is in the
 * file (whole or not), the summary still vouches for the prefix only. */
static void restore_crashed(uint64_t len)
{
    restore(len);
    FILE *f = fopen(sum, "wb");
    cr_assert_eq(fwrite(prefix_sum, 1, sizeof prefix_sum, f), sizeof prefix_sum);
    fclose(f);
}

static void check_events(void *ctx, const siglog_record *r)
{
    uint64_t *next = ctx;
    test_event t;
    test_event_make(&t, 5, *next);
    cr_assert_eq(r->offset, *next);
    test_assert_record_eq(r, &t.ev);
    (*next)++;
}

/* Reopen as a writer; expect `records` valid ones, appends resuming at
 * that offset. */
static void expect_prefix(uint64_t records, uint64_t kept_bytes, const char *what, uint64_t pos)
{
    log_lines = 0;
    siglog *s = open_logged();
    /* What was cut is gone from the file, not just skipped by readers. */
    cr_assert_eq(test_file_size(seg), kept_bytes, "%s at byte %llu: the segment keeps exactly the valid batches",
                 what, (unsigned long long)pos);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "r", &st), 0);
    uint64_t next = 0;
    cr_assert_eq(test_read_all(st, 0, check_events, &next), records, "%s at byte %llu", what,
                 (unsigned long long)pos);
    siglog_event e = {.value = "after", .value_len = 5};
    uint64_t off;
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, &off), 0, "%s", siglog_errdetail());
    cr_assert_eq(off, records, "appends resume at the cut");
    cr_assert_eq(siglog_close(s), 0);
}

Test(recovery, torn_tail_at_every_byte_of_last_batch, .timeout = 240)
{
    for (uint64_t cut = prefix; cut < total; cut++) {
        restore_crashed(cut);
        expect_prefix(EVENTS - 1, prefix, "torn tail", cut);
        if (cut > prefix)
            cr_assert_geq(log_lines, 1, "the cut at %llu was reported", (unsigned long long)cut);
    }
}

Test(recovery, flipped_byte_anywhere_in_last_batch, .timeout = 240)
{
    for (uint64_t pos = prefix; pos < total; pos++) {
        restore_crashed(total);
        test_flip_byte(seg, pos, 0x20);
        expect_prefix(EVENTS - 1, prefix, "flipped byte", pos);
        cr_assert_geq(log_lines, 1, "the cut at %llu was reported", (unsigned long long)pos);
    }
}

Test(recovery, intact_store_loses_nothing)
{
    expect_prefix(EVENTS, total, "intact", total);
    cr_assert_eq(log_lines, 0, "nothing to report on a clean store");
}

Test(recovery, zero_length_active_segment_is_a_normal_crash_state)
{
    /* A crash right after the segment was created: its summary vouches
     * for nothing yet. */
    restore(0);
    cr_assert_eq(unlink(sum), 0);
    expect_prefix(0, 0, "empty segment", 0);
}

Test(recovery, damage_before_a_valid_batch_is_refused_not_cut)
{
    /* Flip a byte in the batch before the last: a valid batch follows. */
    restore_crashed(total);
    test_flip_byte(seg, prefix - 10, 0x01);
    /* The store and the stream open (damage stays where it is); the
     * partition fails. */
    siglog *s;
    int rc = siglog_open(&s, dir, NULL);
    cr_assert_eq(rc, 0, "the store opens, the partition is failed: %s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "r", &st), 0);
    siglog_event e = {.value = "x", .value_len = 1};
    rc = siglog_append(st, 0, &e, 1, NULL, NULL);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "got %s", siglog_errname(rc));
    cr_assert_not_null(strstr(siglog_errdetail(), "valid batch at byte"), "names the position: %s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(test_file_size(seg), total, "nothing was truncated");
}

Test(recovery, lost_or_corrupt_indexes_are_rebuilt)
{
    char *oix = test_path(dir, "streams/r/00000/00000000000000000000.oix");
    char *tix = test_path(dir, "streams/r/00000/00000000000000000000.tix");
    cr_assert_eq(unlink(oix), 0);
    test_flip_byte(tix, 3, 0xff);
    expect_prefix(EVENTS, total, "rebuilt indexes", 0);
    cr_assert_gt(test_file_size(oix), 0, "offset index recreated");
    free(oix);
    free(tix);
}

/* ---- NONE-policy streams: what a clean close synced is trusted ---- */

#include "io_crash.h"
#include "io_fault.h"

static void append_none(siglog *s, uint64_t from, uint64_t to)
{
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "n", &st), 0);
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, 8, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
}

static void check_none_prefix(void *ctx, const siglog_record *r)
{
    uint64_t *next = ctx;
    test_event t;
    test_event_make(&t, 8, *next);
    cr_assert_eq(r->offset, *next);
    test_assert_record_eq(r, &t.ev);
    (*next)++;
}

Test(recovery, clean_close_lets_a_none_stream_open_without_scanning)
{
    char *d = test_tmpdir("none-open");
    siglog *s = test_store_open(d, NULL);
    test_stream_create(s, "n", 1, SIGLOG_SYNC_NONE, 0);
    append_none(s, 0, 20000);
    cr_assert_eq(siglog_close(s), 0);
    /* Count the reads a writer open makes: a scan of the ~4 MiB active
     * segment would take hundreds. */
    io_fault *f = io_fault_new(sl_io_posix());
    siglog_options o;
    siglog_options_default(&o);
    sl_options_set_io(&o, io_fault_io(f));
    cr_assert_eq(siglog_open(&s, d, &o), 0, "%s", siglog_errdetail());
    uint64_t reads = io_fault_calls(f, IO_FAULT_READ);
    cr_assert_lt(reads, 100, "a writer open read %llu times", (unsigned long long)reads);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "n", &st), 0);
    uint64_t next = 0;
    cr_assert_eq(test_read_all(st, 0, check_none_prefix, &next), 20000);
    cr_assert_eq(siglog_close(s), 0);
    io_fault_free(f);
    test_rmtree(d);
    free(d);
}

Test(recovery, none_stream_keeps_what_a_clean_close_synced_through_a_power_cut)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        char *d = test_tmpdir("none-cut");
        siglog *s = test_store_open(d, NULL);
        test_stream_create(s, "n", 1, SIGLOG_SYNC_NONE, 0);
        append_none(s, 0, 3000);
        cr_assert_eq(siglog_close(s), 0);
        /* More appends that no sync covers, then a power cut. */
        io_crash *c = io_crash_new(seed);
        s = test_store_open(d, io_crash_io(c));
        append_none(s, 3000, 6000);
        io_crash_die_after(c, io_crash_ops(c) + 1);
        siglog_close(s);
        cr_assert_eq(io_crash_power_cut(c, seed % 2 ? IO_CRASH_RANDOM : IO_CRASH_GARBLE), 0);
        io_crash_free(c);
        s = test_store_open(d, NULL);
        siglog_stream *st;
        cr_assert_eq(siglog_stream_get(s, "n", &st), 0);
        uint64_t next = 0;
        uint64_t n = test_read_all(st, 0, check_none_prefix, &next);
        cr_assert_geq(n, 3000, "seed %llu: the synced 3000 events must survive, %llu did",
                      (unsigned long long)seed, (unsigned long long)n);
        cr_assert_eq(siglog_close(s), 0);
        test_rmtree(d);
        free(d);
    }
}
