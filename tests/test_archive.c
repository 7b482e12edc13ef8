/*
 * archive — siglog_archive_export and siglog_archive_open: an archive of
 * a partition's sealed segments reads back, alone, exactly the records the
 * store holds at those offsets; damage anywhere in the file is refused
 * before a record is handed out; the export is audited, leaves the store
 * as it was, writes nothing when nothing qualifies, and a power cut at any
 * of its I/O calls leaves no archive or a whole one.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_crash.h"
#include "options_io.h"
#include "support.h"

#define EVENTS 600

typedef struct fx {
    char *root, *store, *out;
} fx;

/* A store with stream "ev" (1 partition, 64 KiB segments, no
 * compression) and no event yet. */
static fx make_empty_store(const char *tag)
{
    fx f = { .root = test_tmpdir(tag) };
    f.store = test_path(f.root, "store");
    f.out = test_path(f.root, "out");
    cr_assert_eq(mkdir(f.out, 0700), 0);
    siglog *s = test_store_open(f.store, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 << 10;
    c.compression = SIGLOG_COMPRESSION_NONE;
    c.batch_bytes_max = 4 << 10;
    cr_assert_eq(siglog_stream_create(s, "ev", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    return f;
}

/* EVENTS test events of seed into "ev" of store: several sealed
 * segments. */
static void fill(const char *store, uint64_t seed)
{
    siglog *s = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, seed, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
}

static fx make_store(const char *tag)
{
    fx f = make_empty_store(tag);
    fill(f.store, 7);
    return f;
}

static void fx_free(fx *f)
{
    test_rmtree(f->root);
    free(f->root);
    free(f->store);
    free(f->out);
}

/* Export partition 0 of "ev" in the maintenance role on f->store. */
static int export_flags(const fx *f, int64_t before_us, unsigned flags, char *path, size_t cap)
{
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, f->store, NULL), 0, "%s", siglog_errdetail());
    int rc = siglog_archive_export(m, "ev", 0, before_us, f->out, flags, path, cap);
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_geq(rc, 0, "%s", detail);
    return rc;
}

static int export(const fx *f, int64_t before_us, char *path, size_t cap)
{
    return export_flags(f, before_us, 0, path, cap);
}

static size_t archives_in(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".sgar") && !strstr(e->d_name, ".tmp");
    closedir(d);
    return n;
}

/* Keep the last audit record's action, range and detail (copied). */
static int last_record(void *ctx, const siglog_audit_record *r)
{
    siglog_audit_record *keep = ctx;
    free((char *)keep->action);
    free((char *)keep->detail);
    *keep = *r;
    keep->action = strdup(r->action);
    keep->detail = strdup(r->detail);
    return 0;
}

Test(archive, reads_back_alone_what_the_store_holds)
{
    fx f = make_store("archive-read");
    char path[4096];
    cr_assert_eq(export(&f, INT64_MAX, path, sizeof path), 1);
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    const siglog_archive_info *in = siglog_archive_info_get(a);
    cr_assert_str_eq(in->stream, "ev");
    cr_assert_eq(in->partition, 0);
    cr_assert_eq(in->first_offset, 0);
    cr_assert_gt(in->segment_count, 1, "several sealed segments");
    cr_assert_lt(in->next_offset, EVENTS, "the active segment stays out");
    cr_assert_eq(in->record_count, in->next_offset, "dense offsets");
    /* Three schema versions (i % 3), each counted. */
    cr_assert_eq(in->schema_count, 3);
    uint64_t total = 0;
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t v;
        uint64_t n;
        cr_assert_eq(siglog_archive_schema(a, i, &v, &n), 0);
        cr_assert_eq(v, i);
        total += n;
    }
    cr_assert_eq(total, in->record_count);
    int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
    const siglog_record *r;
    uint64_t n = 0;
    int rc;
    while ((rc = siglog_archive_next(a, &r)) == 1) {
        test_event t;
        test_event_make(&t, 7, n);
        cr_assert_eq(r->offset, n);
        cr_assert_eq(r->partition, 0);
        test_assert_record_eq(r, &t.ev);
        min_ts = r->timestamp_us < min_ts ? r->timestamp_us : min_ts;
        max_ts = r->timestamp_us > max_ts ? r->timestamp_us : max_ts;
        n++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(n, in->record_count);
    cr_assert_eq(in->min_timestamp_us, min_ts);
    cr_assert_eq(in->max_timestamp_us, max_ts);
    uint64_t in_next = in->next_offset;
    siglog_archive_close(a);

    /* Audited, and the store still holds and serves every event. */
    siglog *s = test_store_open(f.store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    cr_assert_eq(test_read_all(st, 0, NULL, NULL), EVENTS);
    siglog_audit_record seen = { 0 };
    cr_assert_eq(siglog_audit_read(s, 1, last_record, &seen, NULL), 0, "%s", siglog_errdetail());
    cr_assert_str_eq(seen.action, "archive");
    cr_assert_eq(seen.partition, 0);
    cr_assert_eq(seen.offset_start, 0);
    cr_assert_eq(seen.offset_end, in_next);
    cr_assert_eq(seen.events, in_next);
    cr_assert(strstr(seen.detail, ".sgar"), "%s", seen.detail);
    free((char *)seen.action);
    free((char *)seen.detail);
    cr_assert_eq(siglog_close(s), 0);
    fx_free(&f);
}

/* Every byte but the key filters' matters: a flipped bit anywhere else
 * (sampled), a cut file and an extra byte are refused at open, naming the
 * file (a filter's own checksum guards it: filter_damage_costs_the_filter). */
Test(archive, damage_anywhere_is_refused_at_open)
{
    fx f = make_store("archive-damage");
    char path[4096];
    cr_assert_eq(export(&f, INT64_MAX, path, sizeof path), 1);
    uint64_t size = test_file_size(path);
    char *copy = test_path(f.root, "copy.sgar");
    FILE *in = fopen(path, "rb");
    char *bytes = malloc(size);
    cr_assert_eq(fread(bytes, 1, size, in), size);
    fclose(in);
    uint64_t filters = 0;
    memcpy(&filters, bytes + 112, 8); /* little-endian hosts only, as the tests are */
    cr_assert_gt(filters, 0);
    for (uint64_t pos = 0; pos < size; pos += pos < 256 || pos > size - 256 ? 1 : 211) {
        if (pos >= size - 16 - filters && pos < size - 16)
            continue;
        FILE *out = fopen(copy, "wb");
        fwrite(bytes, 1, size, out);
        fclose(out);
        test_flip_byte(copy, pos, 0x10);
        siglog_archive *a = NULL;
        int rc = siglog_archive_open(&a, copy);
        cr_assert(rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION, "byte %llu flipped: %d",
                  (unsigned long long)pos, rc);
        cr_assert(strstr(siglog_errdetail(), "copy.sgar"), "%s", siglog_errdetail());
        cr_assert_null(a);
    }
    for (uint64_t cut = 0; cut < size; cut += size / 7 + 1) {
        FILE *out = fopen(copy, "wb");
        fwrite(bytes, 1, cut, out);
        fclose(out);
        siglog_archive *a = NULL;
        cr_assert_eq(siglog_archive_open(&a, copy), SIGLOG_ECORRUPT, "cut at %llu", (unsigned long long)cut);
    }
    FILE *out = fopen(copy, "wb");
    fwrite(bytes, 1, size, out);
    fputc(0, out);
    fclose(out);
    siglog_archive *a = NULL;
    cr_assert_eq(siglog_archive_open(&a, copy), SIGLOG_ECORRUPT, "a byte after the trailer");
    free(bytes);
    free(copy);
    fx_free(&f);
}

Test(archive, nothing_old_enough_or_nothing_there_writes_nothing)
{
    fx f = make_store("archive-none");
    cr_assert_eq(export(&f, 0, NULL, 0), 0, "no segment is older than the epoch");
    cr_assert_eq(archives_in(f.out), 0);
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, f.store, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_archive_export(m, "ev", 1, INT64_MAX, f.out, 0, NULL, 0), SIGLOG_ENOENT, "no partition 1");
    cr_assert_eq(siglog_archive_export(m, "nope", 0, INT64_MAX, f.out, 0, NULL, 0), SIGLOG_ENOENT);
    cr_assert_eq(siglog_archive_export(m, "ev", 0, INT64_MAX, f.out, 2, NULL, 0), SIGLOG_EINVAL, "unknown flag");
    siglog_maintenance_close(m);
    cr_assert_eq(archives_in(f.out), 0);
    fx_free(&f);
}

/* What an export told its progress callback. */
typedef struct progress_seen {
    size_t calls;
    uint64_t done, total;
    int half_seen;  /* a call at done == total / 2: the check ended there */
    int backwards;  /* done went down, or total changed */
} progress_seen;

static void see_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_seen *p = ctx;
    if (p->calls && (done <= p->done || total != p->total))
        p->backwards = 1;
    p->calls++;
    p->done = done;
    p->total = total;
    p->half_seen |= 2 * done == total;
}

/* A long export tells how far it is: done grows batch by batch to the
 * segments' bytes counted twice (checked, then written), half way when
 * the check is done; an export of nothing tells nothing. */
Test(archive, an_export_reports_its_progress)
{
    fx f = make_store("archive-progress");
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, f.store, NULL), 0, "%s", siglog_errdetail());
    progress_seen seen = { 0 };
    siglog_archive_export_options o = { .progress = see_progress, .progress_ctx = &seen };
    cr_assert_eq(siglog_archive_export_with(m, "ev", 0, 0, f.out, &o, NULL, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(seen.calls, 0, "nothing qualified: no call");
    o.reserved[1] = 1;
    cr_assert_eq(siglog_archive_export_with(m, "ev", 0, INT64_MAX, f.out, &o, NULL, 0), SIGLOG_EINVAL);
    o.reserved[1] = 0;
    cr_assert_eq(siglog_archive_export_with(m, "ev", 0, INT64_MAX, f.out, &o, NULL, 0), 1, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_gt(seen.calls, 4, "one call per batch read, %zu calls", seen.calls);
    cr_assert_eq(seen.calls % 2, 0, "each batch read twice");
    cr_assert_not(seen.backwards);
    cr_assert(seen.half_seen);
    cr_assert_eq(seen.done, seen.total);
    fx_free(&f);
}

/* Where each of the EVENTS offsets was found: the store (its log start
 * and how often it replays each offset) and the archives in a directory
 * (how many hold each offset). Every record is checked against the event
 * appended at its offset. */
typedef struct whereabouts {
    uint64_t log_start;
    size_t archives;
    uint8_t in_store[EVENTS];
    uint8_t in_archives[EVENTS];
} whereabouts;

static void check_event(const siglog_record *r, const char *ctx)
{
    cr_assert_lt(r->offset, EVENTS, "%s: offset %llu", ctx, (unsigned long long)r->offset);
    test_event t;
    test_event_make(&t, 7, r->offset);
    test_assert_record_eq(r, &t.ev);
}

static void find_in_store(const char *store, whereabouts *w, const char *ctx)
{
    siglog *s = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(st, 0, &pi), 0, "%s: %s", ctx, siglog_errdetail());
    w->log_start = pi.log_start_offset;
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_OFFSET, (int64_t)w->log_start, 0), 0, "%s: %s", ctx,
                 siglog_errdetail());
    const siglog_record *r;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1) {
        check_event(r, ctx);
        w->in_store[r->offset]++;
    }
    cr_assert_eq(rc, 0, "%s: %s", ctx, siglog_errdetail());
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0);
}

/* Every whole archive in dir (a temporary file a death left is not one):
 * each must open. */
static void find_in_archives(const char *dir, whereabouts *w, const char *ctx)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".sgar") != 0)
            continue;
        char *p = test_path(dir, e->d_name);
        siglog_archive *a;
        cr_assert_eq(siglog_archive_open(&a, p), 0, "%s: %s", ctx, siglog_errdetail());
        w->archives++;
        const siglog_record *r;
        int rc;
        while ((rc = siglog_archive_next(a, &r)) == 1) {
            check_event(r, ctx);
            w->in_archives[r->offset]++;
        }
        cr_assert_eq(rc, 0, "%s: %s", ctx, siglog_errdetail());
        siglog_archive_close(a);
        free(p);
    }
    closedir(d);
}

/* Every event is readable exactly once: the store replays each offset
 * from its log start once, and each offset below it is in exactly one
 * archive (above it an archive may hold a copy: the store's is the one
 * replayed). */
static void assert_each_once(const char *store, const char *dir, const char *ctx, whereabouts *w)
{
    memset(w, 0, sizeof *w);
    find_in_store(store, w, ctx);
    find_in_archives(dir, w, ctx);
    for (uint64_t i = 0; i < EVENTS; i++)
        if (i < w->log_start)
            cr_assert_eq(w->in_archives[i], 1, "%s: offset %llu below the log start %llu is in %u archives", ctx,
                         (unsigned long long)i, (unsigned long long)w->log_start, w->in_archives[i]);
        else
            cr_assert_eq(w->in_store[i], 1, "%s: offset %llu replayed %u times", ctx, (unsigned long long)i,
                         w->in_store[i]);
}

/* --move: the archive holds the sealed segments, the store no longer
 * does (its log starts where the archive ends), and both removal and
 * copy are audited. */
Test(archive, move_takes_the_archived_segments_out_of_the_store)
{
    fx f = make_store("archive-move");
    char path[4096];
    cr_assert_eq(export_flags(&f, INT64_MAX, SIGLOG_ARCHIVE_MOVE, path, sizeof path), 1);
    whereabouts w;
    assert_each_once(f.store, f.out, "after the move", &w);
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    uint64_t next = siglog_archive_info_get(a)->next_offset;
    siglog_archive_close(a);
    cr_assert_eq(w.log_start, next, "the log starts after the archive");
    cr_assert_gt(w.log_start, 0);

    siglog *s = test_store_open(f.store, NULL);
    siglog_audit_record seen = { 0 };
    cr_assert_eq(siglog_audit_read(s, 1, last_record, &seen, NULL), 0, "%s", siglog_errdetail());
    cr_assert_str_eq(seen.action, "archive");
    cr_assert_eq(seen.offset_end, next);
    cr_assert(strstr(seen.detail, "removed from the store"), "%s", seen.detail);
    free((char *)seen.action);
    free((char *)seen.detail);
    cr_assert_eq(siglog_close(s), 0);

    /* Nothing sealed is left to move. */
    cr_assert_eq(export_flags(&f, INT64_MAX, SIGLOG_ARCHIVE_MOVE, NULL, 0), 0);
    fx_free(&f);
}

/* The maintenance role on store through crash's I/O. */
/* An export or a restore cut in a trial (test_crash_trial), its calls
 * counted from after the maintenance open; completed: it ran to its end. */
typedef struct archive_change {
    const char *out;     /* export: the directory written to */
    unsigned flags;      /* export: SIGLOG_ARCHIVE_* */
    const char *archive; /* restore: the file restored */
    int completed;
} archive_change;

static void export_change(void *arg, const char *store, test_crash *t)
{
    archive_change *a = arg;
    siglog_maintenance *m = test_maintenance_on(store, t->io);
    test_crash_arm(t);
    int rc = siglog_archive_export(m, "ev", 0, INT64_MAX, a->out, a->flags, NULL, 0);
    a->completed = rc == 1 && !test_crash_dead(t);
    siglog_maintenance_close(m);
}

static void restore_change(void *arg, const char *store, test_crash *t)
{
    archive_change *a = arg;
    siglog_maintenance *m = test_maintenance_on(store, t->io);
    test_crash_arm(t);
    int rc = siglog_archive_restore(m, a->archive, NULL);
    a->completed = rc == 1 && !test_crash_dead(t);
    siglog_maintenance_close(m);
}

/* One trial on a copy of f's store: an export with flags whose process
 * dies after call k, then a power cut in mode; *w where each event is
 * afterwards (assert_each_once). Returns 1 when the export ran to its
 * end. */
static int crash_trial(const fx *f, uint64_t k, int mode, unsigned flags, whereabouts *w)
{
    char name[64];
    snprintf(name, sizeof name, "trial-%llu-%d", (unsigned long long)k, mode);
    char *trial = test_path(f->root, name);
    cr_assert_eq(mkdir(trial, 0700), 0);
    char *store = test_path(trial, "store"), *out = test_path(trial, "out");
    cr_assert_eq(mkdir(out, 0700), 0);
    archive_change a = { .out = out, .flags = flags };
    test_crash_trial(f->store, store, k, k * 31 + (uint64_t)mode, mode, export_change, &a);
    snprintf(name, sizeof name, "call %llu mode %d", (unsigned long long)k, mode);
    assert_each_once(store, out, name, w);
    test_rmtree(trial);
    free(trial);
    free(store);
    free(out);
    return a.completed;
}


/* A process death at every mutating call of an export, then a power cut
 * in each mode: the target holds no archive, or one that opens whole, and
 * the store still serves every event. */
Test(archive, a_power_cut_anywhere_in_an_export_leaves_none_or_a_whole_one, .timeout = 600)
{
    fx f = make_store("archive-cut");
    int completed = 0;
    size_t whole = 0;
    for (uint64_t k = 1; !completed; k++)
        for (size_t m = 0; m < TEST_CRASH_MODES; m++) {
            whereabouts w;
            completed |= crash_trial(&f, k, test_crash_modes[m], 0, &w);
            cr_assert_eq(w.log_start, 0, "a copy removes nothing");
            cr_assert_leq(w.archives, 1);
            whole += w.archives;
        }
    cr_assert_gt(whole, 0, "no trial kept the archive");
    fx_free(&f);
}

/* A move cut by a process death at every I/O call, then a power cut in
 * each mode: afterwards every event is readable exactly once, from the
 * store or (below its log start) from one whole archive. */
Test(archive, a_power_cut_anywhere_in_a_move_loses_and_doubles_nothing, .timeout = 600)
{
    fx f = make_store("archive-move-cut");
    int completed = 0, moved = 0;
    for (uint64_t k = 1; !completed; k++)
        for (size_t m = 0; m < TEST_CRASH_MODES; m++) {
            whereabouts w;
            completed |= crash_trial(&f, k, test_crash_modes[m], SIGLOG_ARCHIVE_MOVE, &w);
            moved += w.log_start > 0;
        }
    cr_assert_gt(moved, 0, "no trial moved the segments");
    fx_free(&f);
}

/* Restore archive path into store in the maintenance role (through
 * crash's I/O when not NULL): its return code, *res filled. */
static int restore(const char *store, const char *path, io_crash *crash, siglog_restore_result *res)
{
    siglog_maintenance *m = test_maintenance_on(store, crash ? io_crash_io(crash) : NULL);
    int rc = siglog_archive_restore(m, path, res);
    siglog_maintenance_close(m); /* keeps siglog_errdetail() */
    return rc;
}

/* A time past the events of the first of the (two) sealed segments the
 * archive at path holds, before those of the last: an export bound that
 * takes the first only. */
static int64_t first_segment_bound(const char *path)
{
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    const siglog_archive_info *in = siglog_archive_info_get(a);
    cr_assert_eq(in->segment_count, 2);
    int64_t bound = in->min_timestamp_us + (in->max_timestamp_us - in->min_timestamp_us) * 3 / 5;
    siglog_archive_close(a);
    return bound;
}

/* A move, then a restore of its archive: the store replays every event
 * from offset 0 again, once, byte for byte; audited; a second restore of
 * the same archive finds everything there (a no-op). */
Test(archive, restore_brings_a_moved_archive_back)
{
    fx f = make_store("archive-restore");
    char path[4096];
    cr_assert_eq(export_flags(&f, INT64_MAX, SIGLOG_ARCHIVE_MOVE, path, sizeof path), 1);
    whereabouts w;
    assert_each_once(f.store, f.out, "moved", &w);
    uint64_t moved_to = w.log_start;
    cr_assert_gt(moved_to, 0);
    siglog_restore_result res;
    cr_assert_eq(restore(f.store, path, NULL, &res), 1, "%s", siglog_errdetail());
    cr_assert_eq(res.first_offset, 0);
    cr_assert_eq(res.next_offset, moved_to);
    cr_assert_eq(res.records, moved_to);
    cr_assert_gt(res.segments, 1);
    memset(&w, 0, sizeof w);
    find_in_store(f.store, &w, "restored");
    cr_assert_eq(w.log_start, 0, "the log starts at 0 again");
    for (uint64_t i = 0; i < EVENTS; i++)
        cr_assert_eq(w.in_store[i], 1, "offset %llu replayed %u times", (unsigned long long)i, w.in_store[i]);

    siglog *s = test_store_open(f.store, NULL);
    siglog_audit_record seen = { 0 };
    cr_assert_eq(siglog_audit_read(s, 1, last_record, &seen, NULL), 0, "%s", siglog_errdetail());
    cr_assert_str_eq(seen.action, "restore");
    cr_assert_eq(seen.offset_start, 0);
    cr_assert_eq(seen.offset_end, moved_to);
    cr_assert_eq(seen.events, moved_to);
    free((char *)seen.action);
    free((char *)seen.detail);
    /* The restored entries carry their schema versions (a filter by
     * version passes over a segment whose entry lacks it). */
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_cursor_filter_schema(cur, 2), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    uint64_t twos = 0;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1)
        twos += r->schema_version == 2;
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(twos, EVENTS / 3, "every version-2 event, the restored ones too");
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0);

    cr_assert_eq(restore(f.store, path, NULL, &res), 0, "again: %s", siglog_errdetail());
    fx_free(&f);
}

/* Partition 0's schema usage figures as the store's writer reports them,
 * checked against a count of the log. */
typedef struct usage_figures {
    siglog_schema_usage v[8];
    size_t n;
} usage_figures;

static int keep_usage(void *ctx, const siglog_schema_usage *u)
{
    usage_figures *f = ctx;
    cr_assert_lt(f->n, 8);
    f->v[f->n++] = *u;
    return 0;
}

static usage_figures usage_of(const char *store, const char *ctx)
{
    usage_figures f = { .n = 0 };
    siglog *s = test_store_open(store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    test_check_schema_usage(st, 0, ctx);
    cr_assert_eq(siglog_schema_usage_foreach(st, 0, keep_usage, &f), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    return f;
}

/* The schema usage figures follow the events: after a move they count
 * what stays, after the restore what they counted before the move. */
Test(archive, schema_usage_follows_a_move_and_a_restore)
{
    fx f = make_store("archive-usage");
    usage_figures before = usage_of(f.store, "before the move");
    cr_assert_eq(before.n, 3);
    char path[4096];
    cr_assert_eq(export_flags(&f, INT64_MAX, SIGLOG_ARCHIVE_MOVE, path, sizeof path), 1);
    usage_figures moved = usage_of(f.store, "after the move");
    uint64_t left = 0;
    for (size_t i = 0; i < moved.n; i++)
        left += moved.v[i].count;
    cr_assert_lt(left, EVENTS, "the moved events are not counted");
    siglog_restore_result res;
    cr_assert_eq(restore(f.store, path, NULL, &res), 1, "%s", siglog_errdetail());
    usage_figures after = usage_of(f.store, "after the restore");
    cr_assert_eq(after.n, before.n);
    for (size_t i = 0; i < before.n; i++) {
        const siglog_schema_usage *a = &before.v[i], *b = &after.v[i];
        cr_assert(a->version == b->version && a->count == b->count && a->first_offset == b->first_offset &&
                      a->last_offset == b->last_offset && a->min_timestamp_us == b->min_timestamp_us &&
                      a->max_timestamp_us == b->max_timestamp_us,
                  "version %u: %llu events from %llu before the move, %llu from %llu after the restore", a->version,
                  (unsigned long long)a->count, (unsigned long long)a->first_offset, (unsigned long long)b->count,
                  (unsigned long long)b->first_offset);
    }
    fx_free(&f);
}

/* An archive whose offsets the store holds with other contents is
 * refused naming the offsets; one of another store too; one that ends
 * below the log start (a hole would stay) until the one above it is
 * back. */
Test(archive, restore_refuses_other_contents_other_stores_and_holes)
{
    fx f = make_empty_store("archive-restore-refuse");
    char *twin = test_path(f.root, "twin");
    test_copy_tree(f.store, twin); /* the same store id */
    fill(f.store, 7);
    fill(twin, 8);
    char path[4096];
    cr_assert_eq(export(&f, INT64_MAX, path, sizeof path), 1);
    int64_t mid = first_segment_bound(path);
    /* The first half: sealed in the twin too (whose events are longer). */
    char half[4096];
    cr_assert_eq(export(&f, mid, half, sizeof half), 1);
    cr_assert_eq(restore(twin, half, NULL, NULL), SIGLOG_EEXIST, "%s", siglog_errdetail());
    cr_assert(strstr(siglog_errdetail(), "other contents from offset 0"), "%s", siglog_errdetail());
    fx o = make_empty_store("archive-restore-other");
    cr_assert_eq(restore(o.store, path, NULL, NULL), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "not of store"), "%s", siglog_errdetail());
    fx_free(&o);

    /* Two moves: [0, a) and [a, b); the older alone leaves [a, b) out. */
    test_rmtree(f.out);
    cr_assert_eq(mkdir(f.out, 0700), 0);
    char older[4096], newer[4096];
    cr_assert_eq(export_flags(&f, mid, SIGLOG_ARCHIVE_MOVE, older, sizeof older), 1);
    cr_assert_eq(export_flags(&f, INT64_MAX, SIGLOG_ARCHIVE_MOVE, newer, sizeof newer), 1);
    cr_assert_eq(restore(f.store, older, NULL, NULL), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "would be missing"), "%s", siglog_errdetail());
    cr_assert_eq(restore(f.store, newer, NULL, NULL), 1, "%s", siglog_errdetail());
    cr_assert_eq(restore(f.store, older, NULL, NULL), 1, "%s", siglog_errdetail());
    whereabouts w = { 0 };
    find_in_store(f.store, &w, "both back");
    cr_assert_eq(w.log_start, 0);
    for (uint64_t i = 0; i < EVENTS; i++)
        cr_assert_eq(w.in_store[i], 1, "offset %llu", (unsigned long long)i);
    free(twin);
    fx_free(&f);
}

/* A restore cut by a process death at every I/O call, then a power cut:
 * every event is readable exactly once (the store, or below its log
 * start the archive), and the restore run again completes it. The
 * archive is the first segment's. A restore makes many I/O calls (every
 * batch is appended and indexed), so the fast suite cuts each call in one
 * of the four modes in turn; with SIGLOG_CRASH_ALL_MODES set (the slow
 * suite) each in all four. */
Test(archive, a_power_cut_anywhere_in_a_restore_loses_and_doubles_nothing, .timeout = 900)
{
    fx f = make_store("archive-restore-cut");
    char path[4096];
    cr_assert_eq(export(&f, INT64_MAX, path, sizeof path), 1);
    int64_t mid = first_segment_bound(path);
    test_rmtree(f.out);
    cr_assert_eq(mkdir(f.out, 0700), 0);
    cr_assert_eq(export_flags(&f, mid, SIGLOG_ARCHIVE_MOVE, path, sizeof path), 1);
    const char *name = strrchr(path, '/') + 1;
    int all_modes = getenv("SIGLOG_CRASH_ALL_MODES") != NULL;
    int completed = 0, restored = 0;
    for (uint64_t k = 1; !completed; k++)
        for (size_t m = all_modes ? 0 : k % TEST_CRASH_MODES; m < (all_modes ? TEST_CRASH_MODES : k % TEST_CRASH_MODES + 1);
             m++) {
            char label[64];
            snprintf(label, sizeof label, "trial-%llu-%zu", (unsigned long long)k, m);
            char *trial = test_path(f.root, label);
            cr_assert_eq(mkdir(trial, 0700), 0);
            char *store = test_path(trial, "store"), *out = test_path(trial, "out");
            test_copy_tree(f.out, out);
            char *archive = test_path(out, name);
            archive_change a = { .archive = archive };
            test_crash_trial(f.store, store, k, k * 37 + m, test_crash_modes[m], restore_change, &a);
            completed |= a.completed;
            snprintf(label, sizeof label, "call %llu mode %d", (unsigned long long)k, test_crash_modes[m]);
            whereabouts w;
            assert_each_once(store, out, label, &w);
            restored += w.log_start == 0;
            cr_assert_geq(restore(store, archive, NULL, NULL), 0, "%s: again: %s", label, siglog_errdetail());
            memset(&w, 0, sizeof w);
            find_in_store(store, &w, label);
            cr_assert_eq(w.log_start, 0, "%s: restored in the end", label);
            test_rmtree(trial);
            free(archive);
            free(trial);
            free(store);
            free(out);
        }
    cr_assert_gt(restored, 0, "no trial restored");
    fx_free(&f);
}
