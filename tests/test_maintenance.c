/*
 * maintenance — the maintenance role and the rewrite primitive
 * (maintenance.h, catalog.h): one maintenance handle per store, beside a
 * writer; a rewrite or a removal of sealed segments keeps every event the
 * log still holds readable, and a writer's roll keeps maintenance's
 * change (and the reverse); leftovers are removed only while no
 * maintenance runs.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog.h"
#include "compact.h"
#include "hwm.h"
#include "maintenance.h"
#include "options_io.h"
#include "rewrite_copy.h"
#include "support.h"

#define SEED 77
#define EVENTS 4000
#define SEGMENT_BYTES (64u * 1024)

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("maintenance");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(maintenance, .init = setup, .fini = teardown);

static const segment_params params = {.segment_bytes_max = SEGMENT_BYTES, .index_interval_bytes = 4096,
                                      .file_mode = 0600};

/* A store whose stream "m" holds `events` events in several segments. */
static void make_store(uint64_t events)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "m", 1, SIGLOG_SYNC_NONE, SEGMENT_BYTES);
    test_seeded_append(st, SEED, 0, events);
    cr_assert_eq(siglog_close(s), 0);
}

static maintenance *maint_open(void)
{
    maintenance *m = NULL;
    int rc = sl_maintenance_open(&m, dir, NULL);
    cr_assert_eq(rc, 0, "maintenance open: %s: %s", siglog_strerror(rc), siglog_errdetail());
    return m;
}

static catalog *maint_catalog(maintenance *m)
{
    catalog *c = NULL;
    int rc = sl_maintenance_catalog(m, "m", 0, &c);
    cr_assert_eq(rc, 0, "maintenance catalog: %s: %s", siglog_strerror(rc), siglog_errdetail());
    return c;
}

static char *partition_dir(void)
{
    return test_path(dir, "streams/m/00000");
}

/* Every event of partition 0 from the log start, checked against the
 * workload; returns the log start. */
static uint64_t check_events(uint64_t events)
{
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(dir, &st, "read back");
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    cr_assert_eq(info.next_offset, events);
    cr_assert_eq(test_check_seeded_records(st, SEED, info.log_start_offset, "read back"), events);
    siglog_close(s);
    return info.log_start_offset;
}

/* Whether the partition directory holds a file named name. */
static int has_file(const char *name)
{
    char *pd = partition_dir();
    char *p = test_path(pd, name);
    int there = access(p, F_OK) == 0;
    free(p);
    free(pd);
    return there;
}

static void touch(const char *name)
{
    char *pd = partition_dir();
    char *p = test_path(pd, name);
    FILE *f = fopen(p, "w");
    cr_assert(f, "%s", p);
    fputs("leftover", f);
    fclose(f);
    free(p);
    free(pd);
}

/* A child process holding the maintenance role until told to go (a byte
 * on *go); returns its pid once it holds it. */
static pid_t hold_maintenance_in_child(int *go)
{
    int ready[2], release[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(release), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        maintenance *m = NULL;
        int rc = sl_maintenance_open(&m, dir, NULL);
        char b = rc == 0 ? 'y' : 'n';
        if (write(ready[1], &b, 1) != 1 || rc)
            _exit(1);
        if (read(release[0], &b, 1) < 0)
            _exit(1);
        sl_maintenance_close(m);
        _exit(0);
    }
    char b = 0;
    cr_assert_eq(read(ready[0], &b, 1), 1);
    cr_assert_eq(b, 'y', "the child could not take the maintenance role");
    close(ready[0]);
    close(ready[1]);
    close(release[0]);
    *go = release[1];
    return pid;
}

static void release_child(pid_t pid, int go)
{
    cr_assert_eq(write(go, "x", 1), 1);
    close(go);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(maintenance, a_second_maintenance_process_gets_elocked_naming_the_holder)
{
    make_store(10);
    int go;
    pid_t pid = hold_maintenance_in_child(&go);
    maintenance *m = NULL;
    int rc = sl_maintenance_open(&m, dir, NULL);
    cr_assert_eq(rc, SIGLOG_ELOCKED, "%s", siglog_strerror(rc));
    char want[32];
    snprintf(want, sizeof want, "pid %ld", (long)pid);
    cr_assert(strstr(siglog_errdetail(), want), "detail: %s", siglog_errdetail());
    /* The public entry point says the same. */
    siglog_maintenance *pm = NULL;
    cr_assert_eq(siglog_maintenance_open(&pm, dir, NULL), SIGLOG_ELOCKED);
    release_child(pid, go);
    /* Released: the role is free again. */
    cr_assert_eq(siglog_maintenance_open(&pm, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(pm);
}

Test(maintenance, a_second_handle_in_the_same_process_is_refused_too)
{
    make_store(10);
    maintenance *m = maint_open();
    maintenance *again = NULL;
    cr_assert_eq(sl_maintenance_open(&again, dir, NULL), SIGLOG_ELOCKED);
    sl_maintenance_close(m);
}

Test(maintenance, the_role_needs_an_existing_store)
{
    siglog_maintenance *m = NULL;
    char *none = test_path(dir, "nothing-here");
    cr_assert_eq(siglog_maintenance_open(&m, none, NULL), SIGLOG_ENOENT);
    free(none);
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), SIGLOG_ENOENT, "a directory without a store");
}

/* `work` on partition 0's catalog in a maintenance process of its own,
 * beside this one; returns its pid (wait_maintenance checks it). */
static pid_t maintain_in_child(int (*work)(catalog *c))
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        maintenance *m = NULL;
        catalog *c = NULL;
        int rc = sl_maintenance_open(&m, dir, NULL);
        if (!rc)
            rc = sl_maintenance_catalog(m, "m", 0, &c);
        if (!rc)
            rc = work(c);
        if (rc)
            fprintf(stderr, "maintenance: %s\n", siglog_errdetail());
        sl_maintenance_close(m);
        _exit(rc ? 1 : 0);
    }
    return pid;
}

static void wait_maintenance(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the maintenance process failed");
}

static int copy_first_two(catalog *c)
{
    return rewrite_copy(c, 0, 2, &params);
}

static int remove_first_two(catalog *c)
{
    return sl_catalog_remove_prefix(c, 2);
}

Test(maintenance, a_writer_and_maintenance_work_side_by_side)
{
    make_store(EVENTS);
    /* The writer lives in this process, maintenance in another. */
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    pid_t pid = maintain_in_child(copy_first_two);
    /* Appends and rolls go on meanwhile. */
    test_seeded_append(st, SEED, EVENTS, 2 * EVENTS);
    wait_maintenance(pid);
    test_seeded_append(st, SEED, 2 * EVENTS, 3 * EVENTS);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    cr_assert_eq(check_events(3 * EVENTS), 0);
    /* The writer's rolls kept the rewrite: the catalog names the copies. */
    maintenance *m = maint_open();
    catalog_snapshot *cs = sl_catalog_snapshot_get(maint_catalog(m));
    cr_assert_geq(sl_catalog_snapshot_count(cs), 4);
    for (size_t i = 0; i < 2; i++)
        cr_assert(strstr(sl_catalog_snapshot_segment(cs, i)->location, ".r"), "entry %zu: %s", i,
                  sl_catalog_snapshot_segment(cs, i)->location);
    cr_assert_null(strstr(sl_catalog_snapshot_segment(cs, 2)->location, ".r"));
    sl_catalog_snapshot_release(cs);
    sl_maintenance_close(m);
}

Test(maintenance, a_byte_for_byte_rewrite_replaces_the_files_and_keeps_every_event)
{
    make_store(EVENTS);
    maintenance *m = maint_open();
    catalog *c = maint_catalog(m);
    catalog_snapshot *before = sl_catalog_snapshot_get(c);
    size_t n = sl_catalog_snapshot_count(before);
    cr_assert_geq(n, 4, "%zu segments", n);
    cr_assert_eq(rewrite_copy(c, 0, n - 1, &params), 0, "%s", siglog_errdetail());
    catalog_snapshot *after = sl_catalog_snapshot_get(c);
    cr_assert_gt(sl_catalog_snapshot_generation(after), sl_catalog_snapshot_generation(before));
    cr_assert_eq(sl_catalog_snapshot_count(after), n);
    for (size_t i = 0; i + 1 < n; i++) {
        const catalog_segment *o = sl_catalog_snapshot_segment(before, i), *e = sl_catalog_snapshot_segment(after, i);
        cr_assert_eq(e->base_offset, o->base_offset);
        cr_assert_eq(e->end_offset, o->end_offset);
        cr_assert_eq(e->record_count, o->record_count);
        cr_assert_eq(e->bytes, o->bytes);
        cr_assert_eq(e->first_timestamp_us, o->first_timestamp_us);
        cr_assert_eq(e->max_timestamp_us, o->max_timestamp_us);
        cr_assert_eq(e->state, CATALOG_SEG_SEALED);
        cr_assert_neq(strcmp(e->location, o->location), 0);
        char name[96];
        snprintf(name, sizeof name, "%s.seg", o->location);
        cr_assert_not(has_file(name), "%s was not removed", name);
        snprintf(name, sizeof name, "%s.sum", e->location);
        cr_assert(has_file(name), "%s is missing", name);
        snprintf(name, sizeof name, "%s-tmp.seg", e->location);
        cr_assert_not(has_file(name), "%s was left", name);
    }
    sl_catalog_snapshot_release(before);
    sl_catalog_snapshot_release(after);
    sl_maintenance_close(m);
    cr_assert_eq(check_events(EVENTS), 0);
    /* A writer goes on after it, and rolls. */
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    test_seeded_append(st, SEED, EVENTS, 2 * EVENTS);
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(check_events(2 * EVENTS), 0);
}

Test(maintenance, removing_a_prefix_moves_the_log_start_and_survives_the_writers_roll)
{
    make_store(EVENTS);
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    maintenance *m = maint_open();
    catalog *c = maint_catalog(m);
    catalog_snapshot *before = sl_catalog_snapshot_get(c);
    cr_assert_geq(sl_catalog_snapshot_count(before), 4);
    uint64_t start = sl_catalog_snapshot_segment(before, 2)->base_offset;
    char gone[96];
    snprintf(gone, sizeof gone, "%s.seg", sl_catalog_snapshot_segment(before, 1)->location);
    sl_catalog_snapshot_release(before);
    cr_assert_eq(sl_catalog_remove_prefix(c, 2), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_catalog_get(c)->log_start_offset, start);
    cr_assert_not(has_file(gone));
    /* The writer rolls after the change: it keeps it. */
    test_seeded_append(st, SEED, EVENTS, 2 * EVENTS);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_catalog_refresh(c), 0);
    cr_assert_eq(sl_catalog_get(c)->log_start_offset, start);
    sl_maintenance_close(m);
    cr_assert_eq(check_events(2 * EVENTS), start);
}

Test(maintenance, only_sealed_segments_are_changed)
{
    make_store(EVENTS);
    maintenance *m = maint_open();
    catalog *c = maint_catalog(m);
    size_t n = sl_catalog_snapshot_count(sl_catalog_snapshot_get(c));
    sl_catalog_snapshot_release(sl_catalog_snapshot_get(c)); /* the ref above */
    catalog_rewrite *rw = NULL;
    cr_assert_eq(sl_catalog_rewrite_begin(c, n - 1, 1, &rw), SIGLOG_EINVAL);
    cr_assert_eq(sl_catalog_rewrite_begin(c, 0, n, &rw), SIGLOG_EINVAL);
    cr_assert_eq(sl_catalog_remove_prefix(c, n), SIGLOG_EINVAL);
    cr_assert_eq(sl_catalog_remove_prefix(c, 0), SIGLOG_EINVAL);
    /* A new segment must start where the old one did, and fit. */
    cr_assert_eq(sl_catalog_rewrite_begin(c, 0, 1, &rw), 0);
    segment *sg;
    uint64_t base = sl_catalog_get(c)->log_start_offset;
    cr_assert_eq(sl_catalog_rewrite_segment(rw, base + 1, &params, &sg), SIGLOG_EINVAL);
    cr_assert_eq(sl_catalog_rewrite_segment(rw, base, &params, &sg), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s", sl_segment_file_path(sg));
    cr_assert(access(path, F_OK) == 0, "%s", path);
    sl_catalog_rewrite_abort(rw);
    cr_assert_neq(access(path, F_OK), 0, "abort left %s", path);
    sl_maintenance_close(m);
    cr_assert_eq(check_events(EVENTS), 0);
}

/* Entry i's schema versions are sorted, distinct and hold every one of
 * want[0..n). */
static void assert_versions(const catalog_segment *e, const uint32_t *want, size_t n)
{
    for (uint16_t k = 1; k < e->schema_count; k++)
        cr_assert_lt(e->schema_versions[k - 1], e->schema_versions[k], "versions out of order");
    for (size_t w = 0; w < n; w++) {
        int found = 0;
        for (uint16_t k = 0; k < e->schema_count && !found; k++)
            found = e->schema_versions[k] == want[w];
        cr_assert(found, "version %u is not recorded", want[w]);
    }
}

Test(maintenance, schema_versions_are_recorded_sorted_and_once)
{
    make_store(EVENTS);
    maintenance *m = maint_open();
    catalog *c = maint_catalog(m);
    uint64_t base = sl_catalog_get(c)->log_start_offset;
    uint64_t gen = sl_catalog_generation(c);
    catalog_snapshot *cs = sl_catalog_snapshot_get(c);
    uint16_t had = sl_catalog_snapshot_segment(cs, 0)->schema_count; /* the writer's, from its events */
    sl_catalog_snapshot_release(cs);
    cr_assert_eq(sl_catalog_segment_add_schema_versions(c, base, (const uint32_t[]){70, 50, 70}, 3), 0, "%s",
                 siglog_errdetail());
    cr_assert_eq(sl_catalog_segment_add_schema_versions(c, base, (const uint32_t[]){60}, 1), 0);
    uint64_t gen2 = sl_catalog_generation(c);
    cr_assert_eq(gen2, gen + 2);
    /* Nothing new: nothing written. */
    cr_assert_eq(sl_catalog_segment_add_schema_versions(c, base, (const uint32_t[]){50, 60}, 2), 0);
    cr_assert_eq(sl_catalog_generation(c), gen2);
    cs = sl_catalog_snapshot_get(c);
    const catalog_segment *e = sl_catalog_snapshot_segment(cs, 0);
    cr_assert_eq(e->schema_count, had + 3);
    assert_versions(e, (const uint32_t[]){50, 60, 70}, 3);
    /* The active segment is the writer's. */
    uint64_t active = sl_catalog_snapshot_segment(cs, sl_catalog_snapshot_count(cs) - 1)->base_offset;
    cr_assert_eq(sl_catalog_segment_add_schema_versions(c, active, (const uint32_t[]){1}, 1), SIGLOG_ENOENT);
    sl_catalog_snapshot_release(cs);
    /* A rewrite keeps them. */
    cr_assert_eq(rewrite_copy(c, 0, 1, &params), 0, "%s", siglog_errdetail());
    cs = sl_catalog_snapshot_get(c);
    cr_assert_eq(sl_catalog_snapshot_segment(cs, 0)->schema_count, had + 3);
    assert_versions(sl_catalog_snapshot_segment(cs, 0), (const uint32_t[]){50, 60, 70}, 3);
    sl_catalog_snapshot_release(cs);
    sl_maintenance_close(m);
}

/* Leftovers of an interrupted change beside a named segment. */
static void make_leftovers(void)
{
    touch("00000000000000000000.r99-tmp.seg");
    touch("00000000000000000000.r99-tmp.sum.tmp");
    touch("00000000000000000000.r98.oix");
    touch("00000000000000000001.seg"); /* an unnamed plain stem, sealed range */
}

static int leftovers_left(void)
{
    return has_file("00000000000000000000.r99-tmp.seg") + has_file("00000000000000000000.r99-tmp.sum.tmp") +
           has_file("00000000000000000000.r98.oix") + has_file("00000000000000000001.seg");
}

Test(maintenance, a_writer_removes_leftovers_only_while_no_maintenance_runs)
{
    make_store(EVENTS);
    /* No maintenance ever ran: a writer's open does not look for them. */
    make_leftovers();
    siglog_close(test_store_open(dir, NULL));
    cr_assert_eq(leftovers_left(), 4);
    /* Maintenance runs: they may be its own. */
    int go;
    pid_t pid = hold_maintenance_in_child(&go);
    siglog_close(test_store_open(dir, NULL));
    cr_assert_eq(leftovers_left(), 4);
    release_child(pid, go);
    /* The child's maintenance opened no partition, so they are still
     * there; now none runs and one ran before: the writer removes them. */
    siglog_close(test_store_open(dir, NULL));
    cr_assert_eq(leftovers_left(), 0);
    cr_assert(has_file("00000000000000000000.seg"), "a named segment was removed");
    cr_assert_eq(check_events(EVENTS), 0);
}

Test(maintenance, maintenance_removes_leftovers_when_it_opens_a_partition)
{
    make_store(EVENTS);
    make_leftovers();
    maintenance *m = maint_open();
    cr_assert_eq(leftovers_left(), 4, "the open alone touches no partition");
    maint_catalog(m);
    cr_assert_eq(leftovers_left(), 0);
    sl_maintenance_close(m);
    cr_assert_eq(check_events(EVENTS), 0);
}

Test(maintenance, unknown_streams_and_partitions_are_named)
{
    make_store(10);
    maintenance *m = maint_open();
    catalog *c;
    cr_assert_eq(sl_maintenance_catalog(m, "nope", 0, &c), SIGLOG_ENOENT);
    cr_assert_eq(sl_maintenance_catalog(m, "m", 1, &c), SIGLOG_ENOENT);
    cr_assert(strstr(siglog_errdetail(), "no partition 1"), "%s", siglog_errdetail());
    cr_assert_eq(sl_maintenance_catalog(m, "../m", 0, &c), SIGLOG_EINVAL);
    sl_maintenance_close(m);
}

/* The log start the writer publishes in the stream's hwm file. */
static uint64_t published_log_start(void)
{
    char *sdir = test_path(dir, "streams/m");
    hwm_file *h = NULL;
    cr_assert_eq(sl_hwm_reader_open(sl_io_posix(), sdir, 1, &h), 0, "%s", siglog_errdetail());
    hwm_mark mark;
    cr_assert_eq(sl_hwm_read(h, 0, &mark), 1, "no mark of a live writer");
    sl_hwm_reader_close(h);
    free(sdir);
    return mark.log_start_offset;
}

Test(maintenance, a_live_writer_picks_up_a_prefix_removed_by_another_process)
{
    make_store(EVENTS);
    char *pd = partition_dir();
    catalog_snapshot *cs;
    cr_assert_eq(sl_catalog_snapshot_load(sl_io_posix(), pd, &cs), 0, "%s", siglog_errdetail());
    cr_assert_geq(sl_catalog_snapshot_count(cs), 4);
    uint64_t start = sl_catalog_snapshot_segment(cs, 2)->base_offset;
    sl_catalog_snapshot_release(cs);
    free(pd);
    /* A live writer that appends one event (so readers get its mark) and
     * no more (so writes no catalog of its own), maintenance removing two
     * segments in another process. */
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    test_seeded_append(st, SEED, EVENTS, EVENTS + 1);
    cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    cr_assert_eq(published_log_start(), 0);
    /* Past the writer's first polls (every 200 ms), which read every
     * catalog: the change must reach it through the hwm file's catalog
     * counter, which maintenance bumps (not a latency target: an order of
     * events). */
    usleep(600 * 1000);
    wait_maintenance(maintain_in_child(remove_first_two));
    /* The writer reports and publishes the new start without a write of
     * its own (a bound, not a latency target: the check runs far more
     * often). */
    siglog_partition_info info = {0};
    for (int tries = 0; tries < 300; tries++) {
        cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
        if (info.log_start_offset == start)
            break;
        usleep(50 * 1000);
    }
    cr_assert_eq(info.log_start_offset, start, "the writer still reports %" PRIu64, info.log_start_offset);
    cr_assert_eq(published_log_start(), start);
    cr_assert_eq(info.next_offset, EVENTS + 1);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    cr_assert_eq(check_events(EVENTS + 1), start);
}

/* A merge of the first segments into one with the same base. */
static int merge_first(catalog *c)
{
    segment_params big = params;
    big.segment_bytes_max = 4 * SEGMENT_BYTES;
    compact_stats st;
    return sl_compact_partition_merge(c, &big, 2 * SEGMENT_BYTES, &st);
}

/* An I/O backend over POSIX that runs a merge in another process the
 * moment the reader closes a file of the watched segment that it opened
 * after being armed: the cursor has then read that segment to its end
 * (twice: at its end it looks at the file once more) and is about to
 * look for the next one. */
typedef struct merge_on_close {
    siglog_io io;
    const char *watched;  /* a segment's file stem */
    int armed;
    int fd;               /* opened after arming, or -1 */
    int merges;
} merge_on_close;

static int watch_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    merge_on_close *w = io->ctx;
    int fd = sl_io_posix()->open_file(sl_io_posix(), path, flags, mode);
    if (fd >= 0 && w->armed && strstr(path, w->watched))
        w->fd = fd;
    return fd;
}

static int watch_close(const siglog_io *io, int fd)
{
    merge_on_close *w = io->ctx;
    int rc = sl_io_posix()->close_file(sl_io_posix(), fd);
    if (w->armed && fd == w->fd) {
        w->armed = 0;
        w->merges++;
        wait_maintenance(maintain_in_child(merge_first));
    }
    return rc;
}

Test(maintenance, a_reader_at_the_end_of_a_segment_goes_on_in_a_merge_that_replaced_it)
{
    make_store(EVENTS);
    maintenance *m = maint_open();
    catalog_snapshot *cs = sl_catalog_snapshot_get(maint_catalog(m));
    cr_assert_geq(sl_catalog_snapshot_count(cs), 4);
    const catalog_segment *first = sl_catalog_snapshot_segment(cs, 0);
    uint64_t first_end = first->end_offset;
    char stem[SEGMENT_STEM_MAX + 1];
    snprintf(stem, sizeof stem, "%s", first->location);
    sl_catalog_snapshot_release(cs);
    sl_maintenance_close(m);

    merge_on_close w = {.io = *sl_io_posix(), .watched = stem, .fd = -1};
    w.io.ctx = &w;
    w.io.open_file = watch_open;
    w.io.close_file = watch_close;
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    sl_options_set_io(&o, &w.io);
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    uint64_t want = 0;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1) {
        cr_assert_eq(r->offset, want);
        test_event t;
        test_event_make(&t, SEED, want);
        test_assert_record_eq(r, &t.ev);
        if (++want == first_end)
            w.armed = 1; /* the merge comes while the reader looks past it */
    }
    cr_assert_eq(rc, 0, "at %" PRIu64 ": %s: %s", want, siglog_strerror(rc), siglog_errdetail());
    cr_assert_eq(want, EVENTS);
    cr_assert_eq(w.merges, 1, "the reader never closed the first segment after its end");
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0);
    /* The merge did replace the first segment by a longer one. */
    m = maint_open();
    cs = sl_catalog_snapshot_get(maint_catalog(m));
    cr_assert_gt(sl_catalog_snapshot_segment(cs, 0)->end_offset, first_end);
    sl_catalog_snapshot_release(cs);
    sl_maintenance_close(m);
}
