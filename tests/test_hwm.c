/*
 * test_hwm — the high-water mark file (engine/hwm.h): a writer publishes
 * each partition's mark there, readers in other processes take it instead
 * of scanning and sleep on its futex word instead of polling, and a mark
 * that is stale, forged, garbage or left by a dead writer never changes
 * what a reader reads.
 *
 * The cross-process tests fork a writer; the test process is the reader,
 * with a read-only handle (which maps the file read-only and writes
 * nothing: test_readonly.c checks that for every read-only command).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "hwm.h"
#include "io.h"
#include "support.h"

#define SEED 77
#define PARTS 2
#define SEGMENT_BYTES (64u << 10) /* the smallest: rolls every ~250 events */

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("hwm");
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "t", PARTS, SIGLOG_SYNC_ALWAYS, SEGMENT_BYTES);
    cr_assert_eq(siglog_close(s), 0);
}

static void teardown(void)
{
    test_rmtree(dir);
}

TestSuite(hwm, .init = setup, .fini = teardown, .timeout = 120);

/* Event i goes to partition i % PARTS, so offset j of partition p holds
 * event j * PARTS + p. */
static void append_events(siglog_stream *st, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        int rc = siglog_append(st, (uint32_t)(i % PARTS), &t.ev, 1, NULL, NULL);
        cr_assert_eq(rc, 0, "append %llu: %s", (unsigned long long)i, siglog_errdetail());
    }
}

static siglog *open_reader(void)
{
    siglog *s = test_store_open_read_only(dir);
    return s;
}

static siglog *open_writer(siglog_stream **st)
{
    siglog_options o;
    siglog_options_default(&o);
    o.journal_bytes = 8u << 20;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(s, "t", st), 0);
    return s;
}

/* Read every partition of the stream from the start (no follow) and check
 * that it holds exactly events 0 .. n-1, in order. */
static void assert_reads_exactly(siglog *reader, uint64_t n)
{
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(reader, "t", &st), 0);
    for (uint32_t p = 0; p < PARTS; p++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
        const siglog_record *r;
        uint64_t j = 0;
        int rc;
        while ((rc = siglog_cursor_next(c, &r)) == 1) {
            test_event t;
            test_event_make(&t, SEED, j * PARTS + p);
            cr_assert_eq(r->offset, j);
            test_assert_record_eq(r, &t.ev);
            j++;
        }
        cr_assert_eq(rc, 0, "partition %u: %s", p, siglog_errdetail());
        uint64_t want = n / PARTS + (p < n % PARTS);
        cr_assert_eq(j, want, "partition %u: read %llu events, %llu were appended", p, (unsigned long long)j,
                     (unsigned long long)want);
        siglog_cursor_close(c);
    }
}

static char *stream_dir(void)
{
    return test_path(dir, "streams/t");
}

static hwm_file *map_hint(void)
{
    char *sd = stream_dir();
    hwm_file *h = NULL;
    cr_assert_eq(sl_hwm_reader_open(sl_io_posix(), sd, PARTS, &h), 0);
    free(sd);
    return h;
}

static void write_hint_file(const uint8_t *bytes, size_t len)
{
    char *path = test_path(dir, "streams/t/" HWM_FILE);
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0, "%s", path);
    cr_assert_eq(pwrite(fd, bytes, len, 0), (ssize_t)len);
    close(fd);
    free(path);
}

static size_t read_hint_file(uint8_t *bytes, size_t cap)
{
    char *path = test_path(dir, "streams/t/" HWM_FILE);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s", path);
    ssize_t n = pread(fd, bytes, cap, 0);
    close(fd);
    free(path);
    cr_assert_gt(n, 0);
    return (size_t)n;
}

Test(hwm, writer_publishes_marks_that_its_segments_confirm)
{
    siglog_stream *st;
    siglog *w = open_writer(&st);
    append_events(st, 0, 801); /* partition 0: 401 events, several segments */
    hwm_file *h = map_hint();
    cr_assert_not_null(h, "the writer made no hwm file");
    cr_assert(sl_hwm_writer_live(h));
    char *p0 = test_path(dir, "streams/t/00000");
    hwm_mark m;
    cr_assert_eq(sl_hwm_read(h, 0, &m), 1);
    cr_assert_eq(m.next_offset, 401);
    cr_assert_gt(m.active_base, 0, "the partition has rolled");
    cr_assert_eq(sl_hwm_check_segment(sl_io_posix(), p0, &m), 1);
    /* A mark of fewer events than the segment holds is refused. */
    hwm_mark fewer = m;
    fewer.next_offset--;
    cr_assert_eq(sl_hwm_check_segment(sl_io_posix(), p0, &fewer), 0);
    /* Closing says so, wakes and removes the file. */
    uint32_t change = sl_hwm_change(h);
    cr_assert_eq(siglog_close(w), 0);
    cr_assert_neq(sl_hwm_change(h), change);
    cr_assert_not(sl_hwm_writer_live(h));
    cr_assert_eq(sl_hwm_read(h, 0, &m), 0);
    char *path = test_path(dir, "streams/t/" HWM_FILE);
    cr_assert_eq(access(path, F_OK), -1, "%s outlived its writer", path);
    free(path);
    sl_hwm_reader_close(h);
    free(p0);
}

/* What a reader reads is the same whatever the file holds: a stale copy
 * of the writer's own marks, marks forged with a valid checksum, bytes
 * of garbage. */
Test(hwm, stale_forged_or_garbage_marks_do_not_change_what_is_read)
{
    siglog_stream *st;
    siglog *w = open_writer(&st);
    append_events(st, 0, 100);
    uint8_t old[HWM_HEADER_BYTES + PARTS * HWM_SLOT_BYTES];
    cr_assert_eq(read_hint_file(old, sizeof old), sizeof old);
    append_events(st, 100, 160);
    siglog *r = open_reader();

    /* Stale: the marks of 100 events, written back after 160. */
    write_hint_file(old, sizeof old);
    hwm_file *h = map_hint();
    hwm_mark m;
    cr_assert_eq(sl_hwm_read(h, 0, &m), 1, "the stale copy is consistent");
    cr_assert_eq(m.next_offset, 50);
    assert_reads_exactly(r, 160);

    /* Forged: consistent and checksummed, claiming fewer events, its
     * last batch where an earlier batch really starts. */
    hwm_header hdr;
    cr_assert_eq(sl_hwm_header_decode(old, sizeof old, PARTS, &hdr), 0);
    uint8_t forged[sizeof old];
    memcpy(forged, old, sizeof old);
    hwm_mark f = m;
    char *p0 = test_path(dir, "streams/t/00000");
    char seg[4096];
    snprintf(seg, sizeof seg, "%s/%020llu.seg", p0, (unsigned long long)m.active_base);
    f.active_bytes = test_file_size(seg);
    sl_hwm_slot_encode(forged + HWM_HEADER_BYTES, 2, hdr.writer_id, &f);
    write_hint_file(forged, sizeof forged);
    cr_assert_eq(sl_hwm_read(h, 0, &m), 1);
    cr_assert_eq(sl_hwm_check_segment(sl_io_posix(), p0, &m), 0);
    assert_reads_exactly(r, 160);

    /* Garbage, then half of a header over it. */
    uint64_t rs = 5;
    for (size_t i = 0; i < sizeof forged; i++)
        forged[i] = (uint8_t)test_rand(&rs);
    write_hint_file(forged, sizeof forged);
    assert_reads_exactly(r, 160);
    write_hint_file(old, HWM_HEADER_BYTES / 2);
    assert_reads_exactly(r, 160);

    /* The writer's next publishes put it right again. */
    append_events(st, 160, 170);
    assert_reads_exactly(r, 170);
    sl_hwm_reader_close(h);
    cr_assert_eq(siglog_close(r), 0);
    cr_assert_eq(siglog_close(w), 0);
    free(p0);
}

/* ---- a writer in another process ---- */

static void write_byte(int fd)
{
    if (write(fd, "x", 1) != 1)
        _exit(3);
}

static void read_byte(int fd)
{
    char b;
    cr_assert_eq(read(fd, &b, 1), 1, "the other process is gone");
}

/* Child: open the writer, say so on `ready`, then append events from..to,
 * one per call, each after a pause of `pause_us`; then wait for a byte on
 * `done` before closing (so the reader sees it live). */
static void writer_process(int ready, int done, uint64_t from, uint64_t to, long pause_us)
{
    siglog_options o;
    siglog_options_default(&o);
    o.journal_bytes = 8u << 20;
    siglog *s = NULL;
    siglog_stream *st = NULL;
    if (siglog_open(&s, dir, &o) != 0 || siglog_stream_get(s, "t", &st) != 0)
        _exit(2);
    write_byte(ready);
    for (uint64_t i = from; i < to; i++) {
        if (pause_us)
            nanosleep(&(struct timespec){0, pause_us * 1000}, NULL);
        test_event t;
        test_event_make(&t, SEED, i);
        if (siglog_append(st, (uint32_t)(i % PARTS), &t.ev, 1, NULL, NULL) != 0)
            _exit(4);
    }
    char b;
    if (read(done, &b, 1) < 0)
        _exit(5);
    _exit(siglog_close(s) == 0 ? 0 : 6);
}

static pid_t start_writer(int *ready_rd, int *done_wr, uint64_t from, uint64_t to, long pause_us)
{
    int ready[2], done[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(done), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        close(done[1]);
        writer_process(ready[1], done[0], from, to, pause_us);
    }
    close(ready[1]);
    close(done[0]);
    *ready_rd = ready[0];
    *done_wr = done[1];
    read_byte(*ready_rd);
    return pid;
}

static void finish_writer(pid_t pid, int ready_rd, int done_wr)
{
    write_byte(done_wr);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer ended with status %d", status);
    close(ready_rd);
    close(done_wr);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Follow every partition until `n` events arrived in all (or a generous
 * deadline passes), checking each is the next one expected. */
static void follow_all(siglog_stream *st, uint64_t n)
{
    siglog_cursor *c[PARTS];
    uint64_t next[PARTS] = {0};
    for (uint32_t p = 0; p < PARTS; p++)
        cr_assert_eq(siglog_cursor_open(&c[p], st, p, SIGLOG_SEEK_START, 0, SIGLOG_CURSOR_FOLLOW), 0);
    uint64_t got = 0;
    for (int64_t deadline = now_ms() + 60000; got < n && now_ms() < deadline;) {
        int progress = 0;
        for (uint32_t p = 0; p < PARTS; p++) {
            const siglog_record *r;
            int rc;
            while ((rc = siglog_cursor_next(c[p], &r)) == 1) {
                test_event t;
                test_event_make(&t, SEED, next[p] * PARTS + p);
                cr_assert_eq(r->offset, next[p], "partition %u: offset %llu after %llu", p,
                             (unsigned long long)r->offset, (unsigned long long)next[p]);
                test_assert_record_eq(r, &t.ev);
                next[p]++;
                got++;
                progress = 1;
            }
            cr_assert_eq(rc, 0, "partition %u: %s", p, siglog_errdetail());
        }
        if (!progress)
            siglog_cursor_wait(c[got % PARTS], 200);
    }
    cr_assert_eq(got, n, "followed %llu of %llu events", (unsigned long long)got, (unsigned long long)n);
    for (uint32_t p = 0; p < PARTS; p++)
        siglog_cursor_close(c[p]);
}

/* A read-only handle and a following cursor on its partition 0. */
static siglog_cursor *open_follower(siglog **r, int seek)
{
    *r = open_reader();
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(*r, "t", &st), 0);
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, seek, 0, SIGLOG_CURSOR_FOLLOW), 0, "%s", siglog_errdetail());
    return c;
}

Test(hwm, reader_in_another_process_follows_every_event_once_in_order)
{
    int ready, done;
    pid_t pid = start_writer(&ready, &done, 0, 600, 200);
    siglog *r = open_reader();
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(r, "t", &st), 0);
    follow_all(st, 600);
    finish_writer(pid, ready, done);
    assert_reads_exactly(r, 600);
    cr_assert_eq(siglog_close(r), 0);
}

/* A follower sleeps through an idle writer (no polling) and wakes on its
 * commit, long before its timeout. */
Test(hwm, wait_sleeps_while_the_writer_is_idle_and_wakes_on_its_commit)
{
    int ready, done;
    pid_t pid = start_writer(&ready, &done, 0, 0, 0);
    siglog *r;
    siglog_cursor *c = open_follower(&r, SIGLOG_SEEK_END);
    const siglog_record *rec;
    cr_assert_eq(siglog_cursor_next(c, &rec), 0);
    int64_t t0 = now_ms();
    cr_assert_eq(siglog_cursor_wait(c, 1000), 0);
    int64_t idle = now_ms() - t0;
    cr_assert_geq(idle, 900, "the wait returned after %lld ms with nothing committed", (long long)idle);
    finish_writer(pid, ready, done);

    /* A writer appending one event a little after the reader sleeps. */
    pid = start_writer(&ready, &done, 0, 1, 100000);
    t0 = now_ms();
    int64_t waited = 0;
    int rc;
    while ((rc = siglog_cursor_next(c, &rec)) == 0 && waited < 10000) {
        siglog_cursor_wait(c, 10000);
        waited = now_ms() - t0;
    }
    cr_assert_eq(rc, 1, "%s", siglog_errdetail());
    cr_assert_lt(waited, 5000, "woke %lld ms after a wait of 10 s began", (long long)waited);
    test_event t;
    test_event_make(&t, SEED, 0);
    test_assert_record_eq(rec, &t.ev);
    siglog_cursor_close(c);
    finish_writer(pid, ready, done);
    cr_assert_eq(siglog_close(r), 0);
}

/* A writer killed mid-stream leaves its file behind, naming a dead pid:
 * readers scan instead, read every acknowledged event, and their waits
 * end without it. */
Test(hwm, killed_writer_leaves_readers_correct)
{
    int ready, done;
    pid_t pid = start_writer(&ready, &done, 0, 1000000, 100);
    siglog *r;
    siglog_cursor *c = open_follower(&r, SIGLOG_SEEK_START);
    const siglog_record *rec;
    uint64_t next = 0;
    while (next < 200) {
        int rc = siglog_cursor_next(c, &rec);
        cr_assert_geq(rc, 0, "%s", siglog_errdetail());
        if (rc == 0) {
            siglog_cursor_wait(c, 200);
            continue;
        }
        cr_assert_eq(rec->offset, next);
        next++;
    }
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    close(ready);
    close(done);
    char *path = test_path(dir, "streams/t/" HWM_FILE);
    cr_assert_eq(access(path, F_OK), 0, "a killed writer cannot remove its file");
    free(path);
    int64_t t0 = now_ms();
    cr_assert_eq(siglog_cursor_wait(c, 5000), 0);
    cr_assert_lt(now_ms() - t0, 2500, "waited for a dead writer");
    int rc;
    while ((rc = siglog_cursor_next(c, &rec)) == 1) {
        test_event t;
        test_event_make(&t, SEED, next * PARTS);
        cr_assert_eq(rec->offset, next);
        test_assert_record_eq(rec, &t.ev);
        next++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(r), 0);
    /* What the reader saw, a recovering writer keeps (ALWAYS: each
     * append was durable when it returned, and the reader read only
     * whole batches the segment holds). */
    siglog_stream *wst;
    siglog *w = open_writer(&wst);
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(wst, 0, &info), 0);
    cr_assert_geq(info.next_offset, next);
    cr_assert_eq(siglog_close(w), 0);
}
