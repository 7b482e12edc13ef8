/*
 * loss — segments lost for good: offsets are never handed out again, a
 * partition that lost segments refuses to open naming the missing range,
 * and verify with SIGLOG_VERIFY_ACCEPT_LOSS records the loss in its
 * catalog (catalog_loss.h), after which the partition opens, appends go on
 * past every offset it had handed out, and readers get SIGLOG_EGAP naming
 * the lost range once, then the events after it. Also: verify reads the
 * catalog (entry figures, stray files) and an upgrade from a store without
 * a catalog fills the sealed entries' figures. A crash at every mutating
 * call of an accepted loss leaves the old catalog or the new one.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "catalog.h"
#include "catalog_floor.h"
#include "catalog_loss.h"
#include "io_crash.h"
#include "options_io.h"
#include "support.h"

#define EVENTS 1600
#define SEED 33

static char *dir, *pdir;
static uint64_t bases[64]; /* segment base offsets as written */
static size_t nseg;

static void setup(void)
{
    dir = test_tmpdir("loss");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "g", 1, SIGLOG_SYNC_NONE, 64 * 1024);
    test_append_flushed(s, st, SEED, EVENTS);
    cr_assert_eq(siglog_close(s), 0);
    pdir = test_path(dir, "streams/g/00000");
    nseg = test_segment_bases(pdir, bases, 64);
    cr_assert_geq(nseg, 4, "%zu segments", nseg);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
    free(pdir);
}

TestSuite(loss, .init = setup, .fini = teardown);

static void remove_segment(uint64_t base)
{
    test_remove_segment(pdir, base);
}

/* The writer's open serves the stream, but the partition refuses appends
 * naming `range`. */
static void assert_refused(const char *range)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "g", &st), 0);
    test_event t;
    test_event_make(&t, SEED, EVENTS);
    int rc = siglog_append(st, 0, &t.ev, 1, NULL, NULL);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s: %s", siglog_errname(rc), siglog_errdetail());
    cr_assert_not_null(strstr(siglog_errdetail(), range), "%s", siglog_errdetail());
    siglog_close(s);
}

static int accept_loss(void)
{
    return siglog_verify(dir, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL);
}

/* The loss records of the store's audit trail, "from..to-1;" each. */
static int loss_record(void *ctx, const siglog_audit_record *r)
{
    if (strcmp(r->action, "loss") == 0)
        snprintf((char *)ctx + strlen(ctx), 256, "%" PRIu64 "..%" PRIu64 ";", r->offset_start, r->offset_end - 1);
    return 0;
}

/* The audit trail's loss records are `want`, once or more. */
static void assert_audited_losses_among(const char *want, const char *trial)
{
    siglog *s = test_store_open(dir, NULL);
    char got[1024] = "";
    cr_assert_eq(siglog_audit_read(s, 1, loss_record, got, NULL), 0, "%s", siglog_errdetail());
    size_t w = strlen(want), g = strlen(got);
    cr_assert(g >= w && g % w == 0, "%s: %s", trial, got);
    for (size_t at = 0; at < g; at += w)
        cr_assert(strncmp(got + at, want, w) == 0, "%s: %s", trial, got);
    siglog_close(s);
}

static void assert_audited_losses(const char *want)
{
    siglog *s = test_store_open(dir, NULL);
    char got[1024] = "";
    cr_assert_eq(siglog_audit_read(s, 1, loss_record, got, NULL), 0, "%s", siglog_errdetail());
    cr_assert_str_eq(got, want);
    siglog_close(s);
}

/* Append one event (id EVENTS + k) and return its offset. */
static uint64_t append_one(uint64_t k)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "g", &st), 0);
    test_event t;
    test_event_make(&t, SEED, EVENTS + k);
    uint64_t off;
    cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, &off), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    return off;
}

/* The store opened read-only, and its stream "g". */
static siglog *open_read_only(siglog_stream **st)
{
    siglog *s = test_store_open_read_only(dir);
    cr_assert_eq(siglog_stream_get(s, "g", st), 0);
    return s;
}

/* Read the partition from (seek, arg) to its end: the offsets into out,
 * each SIGLOG_EGAP's detail into gaps (at most 4). */
static size_t read_through(int seek, int64_t arg, uint64_t *out, size_t max, char gaps[4][512], size_t *ngaps)
{
    siglog_stream *st;
    siglog *s = open_read_only(&st);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, seek, arg, 0), 0, "%s", siglog_errdetail());
    size_t n = 0;
    *ngaps = 0;
    for (;;) {
        const siglog_record *r;
        int rc = siglog_cursor_next(c, &r);
        if (rc == 0)
            break;
        if (rc == SIGLOG_EGAP) {
            cr_assert_lt(*ngaps, 4, "more gaps than expected: %s", siglog_errdetail());
            snprintf(gaps[(*ngaps)++], 512, "%s", siglog_errdetail());
            continue;
        }
        cr_assert_eq(rc, 1, "%s: %s", siglog_errname(rc), siglog_errdetail());
        cr_assert_lt(n, max);
        out[n++] = r->offset;
    }
    siglog_cursor_close(c);
    siglog_close(s);
    return n;
}

static int64_t ts_of(uint64_t i)
{
    test_event t;
    test_event_make(&t, SEED, i);
    return t.ev.timestamp_us;
}

Test(loss, a_lost_middle_segment_is_refused_then_accepted_as_a_recorded_gap)
{
    uint64_t from = bases[1], to = bases[2];
    remove_segment(from);
    char range[96];
    snprintf(range, sizeof range, "offsets %" PRIu64 "..%" PRIu64 " are missing", from, to - 1);
    assert_refused(range);
    /* Without accepting it, repair changes nothing. */
    cr_assert_eq(siglog_verify(dir, 1, NULL, NULL), SIGLOG_ECORRUPT);
    assert_refused(range);
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
    char want[64];
    snprintf(want, sizeof want, "%" PRIu64 "..%" PRIu64 ";", from, to - 1);
    assert_audited_losses(want);
    /* Appends go on where they were: no offset is handed out again. */
    cr_assert_eq(append_one(0), EVENTS);
    static uint64_t got[EVENTS + 1];
    char gaps[4][512], lost[96];
    size_t ngaps;
    snprintf(lost, sizeof lost, "offsets %" PRIu64 "..%" PRIu64 " were lost", from, to - 1);
    size_t n = read_through(SIGLOG_SEEK_START, 0, got, EVENTS + 1, gaps, &ngaps);
    cr_assert_eq(ngaps, 1);
    cr_assert_not_null(strstr(gaps[0], lost), "%s", gaps[0]);
    cr_assert_eq(n, EVENTS + 1 - (to - from));
    for (size_t i = 0, want = 0; i < n; i++, want++) {
        if (want == from)
            want = to;
        cr_assert_eq(got[i], want, "record %zu", i);
    }
    /* A time seek into the loss is told of it, then gets what follows. */
    n = read_through(SIGLOG_SEEK_TIME, ts_of(from + 3), got, EVENTS + 1, gaps, &ngaps);
    cr_assert_eq(ngaps, 1);
    cr_assert_not_null(strstr(gaps[0], lost), "%s", gaps[0]);
    cr_assert_gt(n, 0);
    cr_assert_geq(got[0], to);
    /* An offset seek into it too. */
    n = read_through(SIGLOG_SEEK_OFFSET, (int64_t)from + 5, got, EVENTS + 1, gaps, &ngaps);
    cr_assert_eq(ngaps, 1);
    cr_assert_eq(got[0], to);
    /* Accepting again finds nothing to do. */
    siglog_verify_stats stats;
    cr_assert_eq(siglog_verify(dir, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, &stats), 0);
    cr_assert_eq(stats.repairs, 0);
}

/* After an accepted loss at the start: a read from the start gets every
 * offset from start on, with no gap to report, and the next append gets
 * the old next offset (none is handed out again). */
static void assert_log_starts_at(uint64_t start)
{
    static uint64_t got[EVENTS + 1];
    char gaps[4][512];
    size_t ngaps;
    size_t n = read_through(SIGLOG_SEEK_START, 0, got, EVENTS + 1, gaps, &ngaps);
    cr_assert_eq(ngaps, 0);
    cr_assert_eq(n, EVENTS - start);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], start + i);
    cr_assert_eq(append_one(0), EVENTS);
}

Test(loss, a_lost_first_segment_moves_the_log_start)
{
    remove_segment(bases[0]);
    assert_refused("segments missing at the start");
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    char want[64];
    snprintf(want, sizeof want, "%" PRIu64 "..%" PRIu64 ";", bases[0], bases[1] - 1);
    assert_audited_losses(want);
    assert_log_starts_at(bases[1]);
}

Test(loss, a_lost_active_segment_goes_on_past_every_offset_handed_out)
{
    uint64_t last = bases[nseg - 1];
    remove_segment(last);
    assert_refused("segments missing at the end");
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    char want[64];
    snprintf(want, sizeof want, "%" PRIu64 "..%d;", last, EVENTS - 1);
    assert_audited_losses(want);
    /* The clean close recorded EVENTS as handed out: the log goes on
     * there, not at the lost segment's base. */
    cr_assert_eq(append_one(0), EVENTS);
    cr_assert_eq(append_one(1), EVENTS + 1);
    static uint64_t got[EVENTS + 2];
    char gaps[4][512], lost[96];
    size_t ngaps;
    size_t n = read_through(SIGLOG_SEEK_OFFSET, (int64_t)last - 1, got, EVENTS + 2, gaps, &ngaps);
    snprintf(lost, sizeof lost, "offsets %" PRIu64 "..%d were lost", last, EVENTS - 1);
    cr_assert_eq(ngaps, 1);
    cr_assert_not_null(strstr(gaps[0], lost), "%s", gaps[0]);
    cr_assert_eq(n, 3);
    cr_assert_eq(got[0], last - 1);
    cr_assert_eq(got[1], EVENTS);
    cr_assert_eq(got[2], EVENTS + 1);
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
}

/* verify's report, for the checks below. */
typedef struct findings {
    char text[8192];
    size_t n;
} findings;

static void on_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    (void)pos;
    findings *f = ctx;
    f->n += (size_t)snprintf(f->text + f->n, sizeof f->text - f->n, "%s: %s\n", file, what);
}

static void rewrite_catalog_file(void (*edit)(catalog_checkpoint *b, catalog_segment *segs, size_t n))
{
    char *path = test_path(pdir, CATALOG_FILE);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static uint8_t buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int version;
    uint64_t gen;
    catalog_checkpoint b;
    catalog_segment *segs;
    size_t n;
    cr_assert_eq(sl_catalog_file_decode(buf, len, &version, &gen, &b, &segs, &n), 0, "%s", siglog_errdetail());
    edit(&b, segs, n);
    uint8_t *out;
    size_t out_len;
    cr_assert_eq(sl_catalog_file_encode(gen + 1, &b, segs, n, &out, &out_len), 0, "%s", siglog_errdetail());
    f = fopen(path, "wb");
    cr_assert_eq(fwrite(out, 1, out_len, f), out_len);
    fclose(f);
    free(out);
    free(segs);
    free(path);
}

static void wrong_time(catalog_checkpoint *b, catalog_segment *segs, size_t n)
{
    (void)b;
    cr_assert_gt(n, 2);
    segs[1].max_timestamp_us++;
}

Test(loss, verify_checks_each_sealed_entry_against_its_segment)
{
    rewrite_catalog_file(wrong_time);
    findings f = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &f};
    cr_assert_eq(siglog_verify(dir, 0, &cb, NULL), SIGLOG_ECORRUPT);
    char want[128];
    snprintf(want, sizeof want, "%020" PRIu64 ": its catalog entry says max time", bases[1]);
    cr_assert_not_null(strstr(f.text, want), "%s", f.text);
}

Test(loss, verify_names_segment_files_the_catalog_does_not)
{
    /* A copy of a sealed segment under a location no entry names. */
    char from[4200], to[4200], cmd[8600];
    snprintf(from, sizeof from, "%s/%020" PRIu64 ".seg", pdir, bases[1]);
    snprintf(to, sizeof to, "%s/%020" PRIu64 ".x1.seg", pdir, bases[1]);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    cr_assert_eq(system(cmd), 0);
    findings f = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &f};
    cr_assert_eq(siglog_verify(dir, 0, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(f.text, ".x1.seg: a segment file its catalog.ckpt does not name"), "%s", f.text);
    cr_assert_eq(f.n, strlen(f.text));
    cr_assert_eq(strchr(f.text, '\n') + 1, f.text + strlen(f.text), "one problem only: %s", f.text);
}

static void remove_catalog(void)
{
    char *ckpt = test_path(pdir, CATALOG_FILE);
    cr_assert_eq(unlink(ckpt), 0);
    free(ckpt);
}

/* A read-only handle is told what the writer is, and writes nothing. */
static void assert_read_refused(const char *what)
{
    char *before = test_tree_fingerprint(dir);
    siglog_stream *st;
    siglog *s = open_read_only(&st);
    siglog_cursor *c;
    int rc = siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s: %s", siglog_errname(rc), siglog_errdetail());
    cr_assert_not_null(strstr(siglog_errdetail(), what), "%s", siglog_errdetail());
    siglog_close(s);
    /* verify without repair reports it, writing nothing either. */
    findings f = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &f};
    cr_assert_eq(siglog_verify(dir, 0, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(f.text, what), "%s", f.text);
    char *after = test_tree_fingerprint(dir);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
}

/* The loss of offsets [from, to) of partition 0 in the audit trail, as
 * verify appends it before it records a loss in the catalog. */
static void audit_loss(uint64_t from, uint64_t to)
{
    siglog *s = test_store_open(dir, NULL);
    audit_record r;
    sl_audit_record_init(&r, AUDIT_LOSS, AUDIT_BY_COMMAND);
    snprintf(r.stream, sizeof r.stream, "g");
    r.partition = 0;
    r.offset_start = from;
    r.offset_end = to;
    cr_assert_eq(sl_store_audit(s, &r), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}

/* Record in the catalog the loss of the segments that are gone, as
 * verify does but without its audit record. */
static void accept_unaudited(void)
{
    catalog *cat;
    catalog_loss_plan plan;
    segment_params sp = {.segment_bytes_max = 64 * 1024, .index_interval_bytes = 4096, .file_mode = 0600};
    cr_assert_eq(sl_catalog_open(&cat, sl_io_posix(), pdir, 0600), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_catalog_loss_plan(cat, &sp, &plan), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_catalog_loss_accept(cat, &plan, &sp, NULL, NULL), 0, "%s", siglog_errdetail());
    sl_catalog_loss_plan_free(&plan);
    sl_catalog_close(cat);
}

/* verify reports the hole of offsets from..to-1 as unaccounted for. */
static void assert_hole_reported(uint64_t from, uint64_t to)
{
    char what[128];
    snprintf(what, sizeof what, "offsets %" PRIu64 "..%" PRIu64 " between", from, to - 1);
    findings f = {0};
    siglog_verify_callbacks cb = {.problem = on_problem, .ctx = &f};
    cr_assert_eq(siglog_verify(dir, 0, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(f.text, what), "%s", f.text);
    cr_assert_not_null(strstr(f.text, "no record of the audit trail"), "%s", f.text);
}

/* A hole between catalog entries is a loss only when the audit trail
 * accounts for it: records of the stream's partition whose ranges cover
 * it, together. Otherwise verify reports it with its offsets. */
Test(loss, a_hole_the_audit_trail_does_not_account_for_is_reported)
{
    uint64_t from = bases[1], to = bases[2];
    remove_segment(from);
    accept_unaudited();
    assert_hole_reported(from, to);
    audit_loss(from, to - 1); /* one offset short */
    assert_hole_reported(from, to);
    audit_loss(to - 1, to);
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
}

Test(loss, a_lost_catalog_with_the_first_segment_is_refused_then_accepted_below_the_first_base)
{
    remove_catalog();
    remove_segment(bases[0]);
    /* Taken as the truth, the listing would restart the log at bases[1]. */
    assert_refused(CATALOG_FILE " is missing");
    assert_read_refused(CATALOG_FILE " is missing");
    cr_assert_eq(siglog_verify(dir, 1, NULL, NULL), SIGLOG_ECORRUPT);
    assert_refused(CATALOG_FILE " is missing");
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
    char want[64];
    snprintf(want, sizeof want, "0..%" PRIu64 ";", bases[1] - 1);
    assert_audited_losses(want);
    assert_log_starts_at(bases[1]);
}

Test(loss, a_lost_catalog_alone_is_refused_then_rebuilt_with_the_figures_of_sealed_entries)
{
    remove_catalog();
    assert_refused(CATALOG_FILE " is missing");
    assert_read_refused(CATALOG_FILE " is missing");
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    assert_audited_losses(""); /* the log started at 0: nothing lost */
    cr_assert_eq(append_one(0), EVENTS);
    catalog_snapshot *s;
    cr_assert_eq(sl_catalog_snapshot_load(sl_io_posix(), pdir, &s), 0, "%s", siglog_errdetail());
    cr_assert_not(sl_catalog_snapshot_listed(s));
    cr_assert_eq(sl_catalog_snapshot_count(s), nseg);
    for (size_t i = 0; i + 1 < nseg; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        cr_assert_eq(e->state, CATALOG_SEG_SEALED);
        cr_assert_eq(e->end_offset, bases[i + 1]);
        cr_assert_eq(e->record_count, bases[i + 1] - bases[i], "entry %zu", i);
        cr_assert_eq(e->first_timestamp_us, ts_of(bases[i]), "entry %zu", i);
        cr_assert_gt(e->bytes, 0);
        cr_assert_neq(e->summary_checksum, 0);
        cr_assert_geq(e->max_timestamp_us, e->first_timestamp_us);
    }
    sl_catalog_snapshot_release(s);
    /* verify checks them (they are not the "unknown" zeros). */
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
}

Test(loss, a_fresh_partition_opens_without_its_catalog)
{
    /* A crash between the writer's creation of the first segment and the
     * catalog naming it leaves exactly this: one empty segment at 0. */
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "fresh", 1, SIGLOG_SYNC_NONE, 64 * 1024);
    cr_assert_eq(siglog_close(s), 0);
    char *fdir = test_path(dir, "streams/fresh/00000"), *ckpt = test_path(fdir, CATALOG_FILE);
    uint64_t b[2];
    cr_assert_eq(test_segment_bases(fdir, b, 2), 1);
    cr_assert_eq(unlink(ckpt), 0);
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
    s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "fresh", &st), 0);
    test_event t;
    test_event_make(&t, SEED, 0);
    uint64_t off;
    cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, &off), 0, "%s", siglog_errdetail());
    cr_assert_eq(off, 0);
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(access(ckpt, F_OK), 0);
    free(ckpt);
    free(fdir);
}

/* A crash at every mutating call of an accepted loss of the active
 * segment (a new segment, the directory sync, the catalog's atomic
 * replace): afterwards either the old catalog (the partition still
 * refuses, a new run accepts the loss) or the new one (it opens), and in
 * both cases appends go on at EVENTS, never below. */
Test(loss, a_crash_at_every_call_of_an_accepted_loss_leaves_old_or_new, .timeout = 240)
{
    remove_segment(bases[nseg - 1]);
    /* What verify appends first: the accepted catalog's hole is then
     * accounted for. */
    audit_loss(bases[nseg - 1], EVENTS);
    char *base_copy = test_tmpdir("loss-base");
    test_rmtree(base_copy);
    test_copy_tree(dir, base_copy);
    uint64_t total = 0;
    for (uint64_t k = 1;; k++) {
        test_rmtree(dir);
        test_copy_tree(base_copy, dir);
        io_crash *crash = io_crash_new(k);
        const siglog_io *io = io_crash_io(crash);
        catalog *cat;
        catalog_loss_plan plan;
        cr_assert_eq(sl_catalog_open(&cat, io, pdir, 0600), 0, "%s", siglog_errdetail());
        segment_params sp = {.segment_bytes_max = 64 * 1024, .index_interval_bytes = 4096, .file_mode = 0600};
        cr_assert_eq(sl_catalog_loss_plan(cat, &sp, &plan), 0, "%s", siglog_errdetail());
        cr_assert_eq(plan.run_count, 1);
        io_crash_die_after(crash, io_crash_ops(crash) + k);
        int rc = sl_catalog_loss_accept(cat, &plan, &sp, NULL, NULL);
        int died = io_crash_dead(crash);
        sl_catalog_loss_plan_free(&plan);
        sl_catalog_close(cat);
        cr_assert_eq(io_crash_power_cut(crash, IO_CRASH_RANDOM), 0);
        io_crash_free(crash);
        if (!died) {
            cr_assert_eq(rc, 0, "%s", siglog_errdetail());
            total = k;
            break;
        }
        /* Old or new: a new run finishes it when it was the old. */
        int v = siglog_verify(dir, 0, NULL, NULL);
        if (v != 0)
            cr_assert_eq(accept_loss(), 0, "crash at call %" PRIu64 ": %s", k, siglog_errdetail());
        cr_assert_eq(append_one(0), EVENTS, "crash at call %" PRIu64, k);
        cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "crash at call %" PRIu64 ": %s", k, siglog_errdetail());
        cr_assert_lt(k, 100, "the accept never finished");
    }
    cr_assert_geq(total, 4, "only %" PRIu64 " calls", total);
    test_rmtree(base_copy);
    free(base_copy);
}

Test(loss, a_missing_partition_directory_is_reported_to_readers_writing_nothing)
{
    test_rmtree(pdir);
    assert_read_refused("partition directory");
}

/* The partition's floor file, beside its directory (catalog_floor.h). */
static char *floor_path(void)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s%s", pdir, CATALOG_FLOOR_SUFFIX) > 0);
    return p;
}

/* After a directory gone whole and its loss accepted: appends go on at
 * EVENTS (the floor the clean close left), the log starts there (a read
 * from the start gets the new event alone), the audit trail holds the
 * loss of every offset the partition had, and verify finds nothing. */
static void assert_goes_on_past_the_whole_partition_at(const char *trial);

static void assert_goes_on_past_the_whole_partition(void)
{
    assert_goes_on_past_the_whole_partition_at(NULL);
}

static void assert_goes_on_past_the_whole_partition_at(const char *trial)
{
    cr_assert_eq(append_one(0), EVENTS, "%s", trial ? trial : "");
    static uint64_t got[4];
    char gaps[4][512];
    size_t ngaps;
    size_t n = read_through(SIGLOG_SEEK_START, 0, got, 4, gaps, &ngaps);
    cr_assert_eq(ngaps, 0, "%s", trial ? trial : "");
    cr_assert_eq(n, 1, "%s", trial ? trial : "");
    cr_assert_eq(got[0], EVENTS, "%s", trial ? trial : "");
    char want[64];
    snprintf(want, sizeof want, "0..%d;", EVENTS - 1);
    /* A run cut after its audit record and before the catalog's write
     * leaves that record, and the run that finishes it writes another. */
    if (trial)
        assert_audited_losses_among(want, trial);
    else
        assert_audited_losses(want);
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s: %s", trial ? trial : "", siglog_errdetail());
}

Test(loss, the_floor_file_beside_the_partition_holds_its_bounds)
{
    catalog_checkpoint b;
    uint64_t generation;
    int found;
    cr_assert_eq(sl_catalog_floor_read(sl_io_posix(), pdir, &generation, &b, &found), 0, "%s", siglog_errdetail());
    cr_assert(found);
    cr_assert_eq(b.log_start_offset, 0);
    cr_assert_eq(b.next_offset_floor, EVENTS);
    cr_assert_gt(generation, 0);
}

/* rm -rf of a partition directory while the store is closed: the writer,
 * readers and verify refuse it naming the offsets its floor file says it
 * handed out; accepted, it is made again and goes on past all of them. */
Test(loss, a_missing_partition_directory_is_refused_then_accepted_past_every_offset_handed_out)
{
    test_rmtree(pdir);
    char range[64];
    snprintf(range, sizeof range, "offsets 0..%d", EVENTS - 1);
    assert_refused(range);
    assert_read_refused(range);
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    assert_goes_on_past_the_whole_partition();
}

/* The directory made again empty (by hand, or by an accept cut short
 * before the catalog's write) is no fresh partition: it is refused, never
 * started again at offset 0. */
Test(loss, an_emptied_partition_directory_is_refused_not_started_again_at_offset_0)
{
    test_rmtree(pdir);
    cr_assert_eq(mkdir(pdir, 0700), 0);
    assert_refused("floor file says offsets up to");
    assert_read_refused("floor file says offsets up to");
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    assert_goes_on_past_the_whole_partition();
}

/* A store from before floor files: nothing says what the directory held,
 * so its loss cannot be accepted. */
Test(loss, a_missing_partition_directory_without_its_floor_file_cannot_be_accepted)
{
    test_rmtree(pdir);
    char *fp = floor_path();
    cr_assert_eq(unlink(fp), 0, "%s", fp);
    free(fp);
    assert_refused("partition directory");
    cr_assert_eq(accept_loss(), SIGLOG_ECORRUPT);
    assert_refused("no floor file");
    cr_assert_neq(access(pdir, F_OK), 0, "the directory was recreated");
}

/* A writer's open writes the floor file a store from before it lacks. */
Test(loss, a_writers_open_writes_a_missing_floor_file)
{
    char *fp = floor_path();
    cr_assert_eq(unlink(fp), 0, "%s", fp);
    siglog *s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    cr_assert_eq(access(fp, F_OK), 0, "%s", fp);
    free(fp);
    test_rmtree(pdir);
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    assert_goes_on_past_the_whole_partition();
}

/* A power cut at every mutating call of verify --repair --accept-loss of
 * the store as the test left it: after each, the loss is accepted again
 * when verify still finds it, and check(trial) holds. */
static void crash_every_call_of_accept(const char *name, void (*check)(const char *trial))
{
    char *base_copy = test_tmpdir(name);
    test_rmtree(base_copy);
    test_copy_tree(dir, base_copy);
    uint64_t k = 1;
    for (;; k++) {
        test_rmtree(dir);
        test_copy_tree(base_copy, dir);
        io_crash *crash = io_crash_new(k);
        io_crash_die_after(crash, k);
        int rc = sl_verify_io(io_crash_io(crash), dir, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL);
        int died = io_crash_dead(crash);
        cr_assert_eq(io_crash_power_cut(crash, IO_CRASH_RANDOM), 0);
        io_crash_free(crash);
        char trial[64];
        snprintf(trial, sizeof trial, "crash at call %" PRIu64, k);
        if (!died)
            cr_assert_eq(rc, 0, "%s", siglog_errdetail());
        else if (siglog_verify(dir, 0, NULL, NULL) != 0)
            cr_assert_eq(accept_loss(), 0, "%s: %s", trial, siglog_errdetail());
        check(trial);
        if (!died)
            break;
        cr_assert_lt(k, 1000, "the accept never finished");
    }
    cr_assert_geq(k, 4, "only %" PRIu64 " calls", k);
    test_rmtree(base_copy);
    free(base_copy);
}

/* A power cut at every mutating call of verify --repair --accept-loss of
 * a partition directory gone whole (the directory made again, its sync,
 * the audit record, the new active segment, the catalog's and the floor
 * file's atomic replaces): afterwards the partition is refused (a new run
 * accepts the loss) or goes on, and either way past every offset it
 * handed out, never at offset 0. */
Test(loss, a_crash_at_every_call_of_an_accepted_directory_loss_reuses_no_offset, .timeout = 240)
{
    test_rmtree(pdir);
    crash_every_call_of_accept("loss-dir-base", assert_goes_on_past_the_whole_partition_at);
}

/* FORMAT.md's worked example of a floor file, byte for byte, and what a
 * decoder refuses. */
Test(loss, the_floor_file_is_encoded_as_format_md_shows)
{
    static const uint8_t want[CATALOG_FLOOR_BYTES] = {
        0x53, 0x47, 0x46, 0x4c, 0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x51, 0x08, 0x48, 0xa5, 0x03, 0xb3, 0x87, 0xa0,
    };
    catalog_checkpoint b = {.log_start_offset = 100, .active_base = 1600, .next_offset_floor = 1600}, got;
    uint8_t buf[CATALOG_FLOOR_BYTES];
    sl_catalog_floor_encode(buf, 7, &b);
    cr_assert_arr_eq(buf, want, sizeof want);
    uint64_t generation;
    cr_assert_eq(sl_catalog_floor_decode(want, sizeof want, &generation, &got), 0, "%s", siglog_errdetail());
    cr_assert_eq(generation, 7);
    cr_assert_eq(got.log_start_offset, 100);
    cr_assert_eq(got.next_offset_floor, 1600);
    cr_assert_eq(sl_catalog_floor_decode(want, sizeof want - 1, &generation, &got), SIGLOG_ECORRUPT);
    for (size_t i = 0; i < sizeof want; i++) {
        memcpy(buf, want, sizeof want);
        buf[i] ^= 0x01;
        cr_assert_neq(sl_catalog_floor_decode(buf, sizeof buf, &generation, &got), 0, "byte %zu flipped", i);
    }
    /* A log start past the floor, checksummed as a writer would. */
    b.log_start_offset = 1601;
    sl_catalog_floor_encode(buf, 7, &b);
    cr_assert_eq(sl_catalog_floor_decode(buf, sizeof buf, &generation, &got), SIGLOG_ECORRUPT);
}

/* catalog.ckpt lost together with the newest segments: the segments left
 * end below the offsets the partition handed out, which its floor file
 * still names. */
static uint64_t lose_catalog_and_newest(size_t keep)
{
    remove_catalog();
    for (size_t i = keep; i < nseg; i++)
        remove_segment(bases[i]);
    return bases[keep];
}

/* After the loss of catalog.ckpt and the segments from `from` on was
 * accepted: the audit trail holds from..EVENTS-1, appends go on at EVENTS
 * (the floor the clean close left), a reader gets the events before
 * `from`, the gap, then the new event, and verify finds nothing. */
static void assert_rebuilt_past_the_floor_at(uint64_t from, const char *trial)
{
    cr_assert_eq(append_one(0), EVENTS, "%s", trial);
    char want[64];
    snprintf(want, sizeof want, "%" PRIu64 "..%d;", from, EVENTS - 1);
    assert_audited_losses_among(want, trial);
    static uint64_t got[EVENTS + 1];
    char gaps[4][512], lost[96];
    size_t ngaps;
    size_t n = read_through(SIGLOG_SEEK_START, 0, got, EVENTS + 1, gaps, &ngaps);
    snprintf(lost, sizeof lost, "offsets %" PRIu64 "..%d were lost", from, EVENTS - 1);
    cr_assert_eq(ngaps, 1, "%s", trial);
    cr_assert_not_null(strstr(gaps[0], lost), "%s: %s", trial, gaps[0]);
    cr_assert_eq(n, from + 1, "%s", trial);
    for (size_t i = 0; i < from; i++)
        cr_assert_eq(got[i], i, "%s", trial);
    cr_assert_eq(got[from], EVENTS, "%s", trial);
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s: %s", trial, siglog_errdetail());
}

/* catalog.ckpt and the segments from bases[keep] on lost: the writer, a
 * reader and verify refuse it naming the offsets the floor file says were
 * handed out; accepted, it goes on past them. */
static void assert_lost_catalog_goes_on_past_its_floor(size_t keep)
{
    uint64_t from = lose_catalog_and_newest(keep);
    char range[96];
    snprintf(range, sizeof range, "floor file says offsets 0..%d were handed out", EVENTS - 1);
    assert_refused(range);
    assert_read_refused(range);
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    assert_rebuilt_past_the_floor_at(from, "");
}

/* Rebuilt from the listing alone, the log would go on at the end of the
 * last segment left and hand out again offsets readers already saw. */
Test(loss, a_lost_catalog_with_the_newest_segments_goes_on_past_its_floor)
{
    assert_lost_catalog_goes_on_past_its_floor(nseg - 2);
}

/* Left with its first segment alone, at offset 0, the partition looked
 * like one whose catalog a crash had not written yet: a writer's open
 * took it as it was and appended after that segment. */
Test(loss, a_lost_catalog_with_every_segment_but_the_first_is_refused_then_goes_on_past_its_floor)
{
    cr_assert_eq(bases[0], 0);
    assert_lost_catalog_goes_on_past_its_floor(1);
}

static uint64_t rebuilt_from;

static void assert_rebuilt_past_the_floor(const char *trial)
{
    assert_rebuilt_past_the_floor_at(rebuilt_from, trial);
}

/* The rebuild writes (the audit record, the new active segment, the
 * catalog and the floor file): cut at each call, it is done again or
 * done, and goes on past the floor either way. */
Test(loss, a_crash_at_every_call_of_a_rebuild_past_the_floor_reuses_no_offset, .timeout = 240)
{
    rebuilt_from = lose_catalog_and_newest(nseg - 1);
    crash_every_call_of_accept("loss-rebuild-base", assert_rebuilt_past_the_floor);
}

/* Without catalog.ckpt, a damaged floor file is not taken for none: it
 * is reported naming the file and the byte, and nothing is written. */
Test(loss, a_damaged_floor_file_without_the_catalog_is_reported_with_its_byte)
{
    lose_catalog_and_newest(nseg - 1);
    char *fp = floor_path();
    FILE *f = fopen(fp, "r+b");
    cr_assert_not_null(f, "%s", fp);
    cr_assert_eq(fseek(f, 20, SEEK_SET), 0);
    cr_assert_eq(fputc(0x7f, f), 0x7f);
    cr_assert_eq(fclose(f), 0);
    char what[PATH_MAX + 64];
    snprintf(what, sizeof what, "%s: at byte 32: partition floor checksum mismatch", fp);
    assert_read_refused(what);
    assert_refused(what);
    cr_assert_eq(accept_loss(), SIGLOG_ECORRUPT);
    assert_refused(what);
    free(fp);
}

/* A catalog change of nothing but its generation (as a rewrite that keeps
 * the bounds is). */
static int change_nothing(catalog_snapshot *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

/* The generation of the partition's catalog.ckpt, and a handle holding
 * it (as a reader's), after `writes` more changes of it that keep its
 * bounds. */
static uint64_t catalog_generation_after(int writes, catalog **held)
{
    cr_assert_eq(sl_catalog_open(held, sl_io_posix(), pdir, 0600), 0, "%s", siglog_errdetail());
    for (int i = 0; i < writes; i++)
        cr_assert_eq(sl_catalog_update(*held, change_nothing, NULL), 0, "%s", siglog_errdetail());
    return sl_catalog_generation(*held);
}

/* The handle picks up the catalog made again: its generation is newer. */
static void assert_picked_up_past(catalog *held, uint64_t before)
{
    cr_assert_eq(sl_catalog_refresh(held), 0, "%s", siglog_errdetail());
    cr_assert_gt(sl_catalog_generation(held), before);
    const catalog_checkpoint *b = sl_catalog_get(held);
    cr_assert_geq(b->next_offset_floor, EVENTS);
    sl_catalog_close(held);
}

/* Generations never go back: a catalog rebuilt without catalog.ckpt, or
 * made again with its directory, starts above every generation the lost
 * one reached, even when the last writes kept the bounds, so a handle
 * holding the old one picks the new one up. */
Test(loss, a_rebuilt_catalog_is_newer_than_every_generation_it_had)
{
    catalog *held;
    uint64_t before = catalog_generation_after(3, &held);
    remove_catalog();
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    assert_picked_up_past(held, before);
}

Test(loss, a_partition_made_again_is_newer_than_every_generation_it_had)
{
    catalog *held;
    uint64_t before = catalog_generation_after(3, &held);
    test_rmtree(pdir);
    cr_assert_eq(accept_loss(), 0, "%s", siglog_errdetail());
    assert_picked_up_past(held, before);
}

/* The committed vector stores carry no floor file, and a store without
 * them is valid (FORMAT.md, "Partition floor"): a read-only open reads
 * one as it is and writes nothing, and a writer's open writes each
 * partition's floor file from its catalog.ckpt, with its generation. */
Test(loss, a_vector_store_without_floor_files_gets_them_at_a_writers_open)
{
    const char *vectors = getenv("SIGLOG_FORMAT_VECTORS");
    cr_assert_not_null(vectors, "SIGLOG_FORMAT_VECTORS not set");
    char *src = test_path(vectors, "edge/store"), *copy = test_tmpdir("loss-vector");
    test_rmtree(copy);
    test_copy_tree(src, copy);
    static const char *const parts[] = {"streams/edge/00000", "streams/edge/00001"};
    char *floors[2];
    for (int i = 0; i < 2; i++) {
        cr_assert(asprintf(&floors[i], "%s/%s%s", copy, parts[i], CATALOG_FLOOR_SUFFIX) > 0);
        cr_assert_neq(access(floors[i], F_OK), 0, "%s", floors[i]);
    }
    char *before = test_tree_fingerprint(copy);
    siglog *s = test_store_open_read_only(copy);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    char *after = test_tree_fingerprint(copy);
    cr_assert_str_eq(after, before);
    cr_assert_eq(siglog_close(test_store_open(copy, NULL)), 0, "%s", siglog_errdetail());
    for (int i = 0; i < 2; i++) {
        char *p = test_path(copy, parts[i]);
        catalog_snapshot *cs;
        cr_assert_eq(sl_catalog_snapshot_load(sl_io_posix(), p, &cs), 0, "%s", siglog_errdetail());
        catalog_checkpoint b;
        uint64_t generation;
        int found;
        cr_assert_eq(sl_catalog_floor_read(sl_io_posix(), p, &generation, &b, &found), 0, "%s", siglog_errdetail());
        cr_assert(found, "%s", floors[i]);
        cr_assert_eq(generation, sl_catalog_snapshot_generation(cs), "%s", floors[i]);
        cr_assert_eq(b.log_start_offset, sl_catalog_snapshot_bounds(cs)->log_start_offset, "%s", floors[i]);
        cr_assert_eq(b.next_offset_floor, sl_catalog_snapshot_bounds(cs)->next_offset_floor, "%s", floors[i]);
        sl_catalog_snapshot_release(cs);
        free(p);
        free(floors[i]);
    }
    test_rmtree(copy);
    free(before);
    free(after);
    free(copy);
    free(src);
}
