/*
 * durable — siglog_durable_offset and siglog_wait_durable keep siglog.h's
 * promise under each sync policy: an offset is reported durable only after
 * the fdatasync that makes it so (ALWAYS, INTERVAL) or the segment write
 * that hands it to the OS (NONE), a wait never forces a commit of its own
 * (an INTERVAL stream keeps its rhythm), and a failed write or sync ends
 * the wait with SIGLOG_EFAILED instead of letting it hang.
 *
 * The io_fault backend, never armed except in the failure tests, counts
 * the syncs and writes that happened, so "durable" is checked against
 * what really reached the file system.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io_fault.h"
#include "options_io.h"
#include "support.h"

/* Long enough that a test never sees a stray background commit. */
#define NEVER_MS 60000
/* Generous bound for a wait that must end: a broken wake-up makes the
 * test fail (timeout: 1) instead of hanging the suite. */
#define WAIT_BOUND_US (20 * 1000000LL)

typedef struct durable_fx {
    char *dir;
    io_fault *fault;
    siglog *s;
    siglog_stream *st;
} durable_fx;

static void fx_open(durable_fx *x, uint32_t policy, uint32_t interval_ms)
{
    memset(x, 0, sizeof *x);
    x->dir = test_tmpdir("durable");
    x->fault = io_fault_new(sl_io_posix());
    x->s = test_store_open(x->dir, io_fault_io(x->fault));
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 2;
    c.sync_policy = policy;
    c.sync_interval_ms = interval_ms;
    cr_assert_eq(siglog_stream_create(x->s, "events", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(x->s, "events", &x->st), 0);
}

static void fx_close(durable_fx *x)
{
    siglog_close(x->s);
    io_fault_free(x->fault);
    test_rmtree(x->dir);
    free(x->dir);
}

static uint64_t append_one(siglog_stream *st, uint32_t partition)
{
    siglog_event e = {.value = "{\"a\":1}", .value_len = 7};
    uint64_t off;
    int rc = siglog_append(st, partition, &e, 1, NULL, &off);
    cr_assert_eq(rc, 0, "append: %s", siglog_errdetail());
    return off;
}

static uint64_t durable_next(siglog_stream *st, uint32_t partition)
{
    uint64_t next = UINT64_MAX;
    cr_assert_eq(siglog_durable_offset(st, partition, &next), 0, "%s", siglog_errdetail());
    return next;
}

Test(durable, always_is_durable_when_append_returns)
{
    durable_fx x;
    fx_open(&x, SIGLOG_SYNC_ALWAYS, 100);
    cr_assert_eq(durable_next(x.st, 1), 0, "nothing appended, nothing durable");
    uint64_t syncs = io_fault_calls(x.fault, IO_FAULT_SYNC);
    uint64_t off = append_one(x.st, 1);
    cr_assert_gt(io_fault_calls(x.fault, IO_FAULT_SYNC), syncs);
    cr_assert_eq(durable_next(x.st, 1), off + 1);
    cr_assert_eq(siglog_wait_durable(x.st, 1, off, 0), 0);
    cr_assert_eq(durable_next(x.st, 0), 0, "the other partition has nothing");
    fx_close(&x);
}

Test(durable, interval_waits_for_its_commit_and_forces_none)
{
    durable_fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL, NEVER_MS);
    uint64_t syncs = io_fault_calls(x.fault, IO_FAULT_SYNC);
    uint64_t off = append_one(x.st, 0);
    cr_assert_eq(durable_next(x.st, 0), 0, "an interval append is not durable before its commit");
    cr_assert_eq(siglog_wait_durable(x.st, 0, off, 50000), 1, "the wait timed out: no commit came");
    cr_assert_eq(io_fault_calls(x.fault, IO_FAULT_SYNC), syncs, "waiting must not sync by itself");
    cr_assert_eq(durable_next(x.st, 0), 0);
    /* The next commit round, whoever runs it, covers the offset. */
    cr_assert_eq(siglog_sync(x.s), 0);
    cr_assert_eq(durable_next(x.st, 0), off + 1);
    cr_assert_eq(siglog_wait_durable(x.st, 0, off, 0), 0);
    fx_close(&x);
}

Test(durable, interval_background_commit_wakes_the_waiter)
{
    durable_fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL, 20);
    uint64_t last = 0;
    for (int i = 0; i < 50; i++)
        last = append_one(x.st, 1);
    uint64_t syncs = io_fault_calls(x.fault, IO_FAULT_SYNC);
    int rc = siglog_wait_durable(x.st, 1, last, WAIT_BOUND_US);
    cr_assert_eq(rc, 0, "wait: %d %s", rc, siglog_errdetail());
    cr_assert_gt(io_fault_calls(x.fault, IO_FAULT_SYNC), syncs, "durable only after a journal sync");
    cr_assert_geq(durable_next(x.st, 1), last + 1);
    fx_close(&x);
}

Test(durable, none_is_durable_once_written_without_a_sync)
{
    durable_fx x;
    fx_open(&x, SIGLOG_SYNC_NONE, 100);
    uint64_t syncs = io_fault_calls(x.fault, IO_FAULT_SYNC);
    uint64_t writes = io_fault_calls(x.fault, IO_FAULT_WRITE);
    uint64_t off = append_one(x.st, 0);
    /* The open batch lingers, then the background thread writes it. */
    int rc = siglog_wait_durable(x.st, 0, off, WAIT_BOUND_US);
    cr_assert_eq(rc, 0, "wait: %d %s", rc, siglog_errdetail());
    cr_assert_gt(io_fault_calls(x.fault, IO_FAULT_WRITE), writes, "handed to the OS: written");
    cr_assert_eq(io_fault_calls(x.fault, IO_FAULT_SYNC), syncs, "NONE promises no fdatasync");
    cr_assert_eq(durable_next(x.st, 0), off + 1);
    fx_close(&x);
}

typedef struct waiter {
    siglog_stream *st;
    uint32_t partition;
    uint64_t offset;
    int rc;
    char detail[512];
} waiter;

static void *wait_thread(void *arg)
{
    waiter *w = arg;
    w->rc = siglog_wait_durable(w->st, w->partition, w->offset, WAIT_BOUND_US);
    snprintf(w->detail, sizeof w->detail, "%s", siglog_errdetail());
    return NULL;
}

/* A thread waits for a fresh event of `partition` while this one commits
 * (with the journal's fdatasync failing when fail_sync): the commit, not a
 * timeout, must end the wait. */
static waiter wait_across_flush(durable_fx *x, uint32_t partition, int fail_sync, int flush_rc_expected)
{
    fx_open(x, SIGLOG_SYNC_INTERVAL, NEVER_MS);
    waiter w = {.st = x->st, .partition = partition, .offset = append_one(x->st, partition)};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
    usleep(20000); /* most likely asleep in the wait by now; either way it must end */
    if (fail_sync)
        io_fault_arm(x->fault, IO_FAULT_SYNC, 1, EIO, 1, "journal");
    cr_assert_eq(siglog_flush(x->s) == 0, flush_rc_expected == 0, "flush: %s", siglog_errdetail());
    pthread_join(t, NULL);
    return w;
}

Test(durable, a_sync_by_another_thread_wakes_the_waiter)
{
    durable_fx x;
    waiter w = wait_across_flush(&x, 1, 0, 0);
    cr_assert_eq(w.rc, 0, "wait: %d %s", w.rc, w.detail);
    fx_close(&x);
}

Test(durable, failed_journal_sync_ends_the_wait_with_the_error)
{
    durable_fx x;
    waiter w = wait_across_flush(&x, 0, 1, SIGLOG_EIO);
    cr_assert_eq(w.rc, SIGLOG_EFAILED, "wait after a failed sync: %d %s", w.rc, w.detail);
    cr_assert(strstr(w.detail, "journal"), "the cause is named: %s", w.detail);
    cr_assert_eq(durable_next(x.st, 0), 0, "nothing became durable");
    /* Later appends to the failed store's other partition: never durable,
     * and the wait says so at once. */
    uint64_t off = append_one(x.st, 1);
    cr_assert_eq(siglog_wait_durable(x.st, 1, off, WAIT_BOUND_US), SIGLOG_EFAILED);
    cr_assert(strstr(siglog_errdetail(), "journal"), "%s", siglog_errdetail());
    io_fault_disarm(x.fault);
    fx_close(&x);
}

/* With every `op` on `path` failing, an event appended to partition 0 of
 * a fresh store is waited for: the background work that would make it
 * durable fails, and the wait must say so. Returns the event's offset. */
static uint64_t wait_under_fault(durable_fx *x, uint32_t policy, unsigned op, const char *path)
{
    fx_open(x, policy, 20);
    io_fault_arm(x->fault, op, 1, EIO, 1, path);
    uint64_t off = append_one(x->st, 0);
    int rc = siglog_wait_durable(x->st, 0, off, WAIT_BOUND_US);
    cr_assert_eq(rc, SIGLOG_EFAILED, "wait: %d %s", rc, siglog_errdetail());
    io_fault_disarm(x->fault);
    return off;
}

Test(durable, failed_background_commit_ends_the_wait)
{
    durable_fx x;
    wait_under_fault(&x, SIGLOG_SYNC_INTERVAL, IO_FAULT_SYNC, "journal");
    cr_assert(strstr(siglog_errdetail(), "journal"), "%s", siglog_errdetail());
    fx_close(&x);
}

Test(durable, failed_segment_write_ends_a_none_wait)
{
    durable_fx x;
    uint64_t off = wait_under_fault(&x, SIGLOG_SYNC_NONE, IO_FAULT_WRITE, ".seg");
    cr_assert(strstr(siglog_errdetail(), "dropped"), "%s", siglog_errdetail());
    /* The disk has room again: the offset is handed out anew, and a wait
     * for it still cannot tell whose event it holds. */
    cr_assert_eq(append_one(x.st, 0), off);
    cr_assert_eq(siglog_wait_durable(x.st, 0, off, WAIT_BOUND_US), SIGLOG_EFAILED);
    uint64_t later = append_one(x.st, 0);
    cr_assert_eq(siglog_wait_durable(x.st, 0, later, WAIT_BOUND_US), 0, "%s", siglog_errdetail());
    fx_close(&x);
}

Test(durable, bad_arguments_are_refused)
{
    durable_fx x;
    fx_open(&x, SIGLOG_SYNC_ALWAYS, 100);
    uint64_t next;
    cr_assert_eq(siglog_durable_offset(x.st, 2, &next), SIGLOG_ENOENT);
    cr_assert_eq(siglog_durable_offset(x.st, 0, NULL), SIGLOG_EINVAL);
    cr_assert_eq(siglog_durable_offset(NULL, 0, &next), SIGLOG_EINVAL);
    cr_assert_eq(siglog_wait_durable(x.st, 0, 0, -1), SIGLOG_EINVAL, "offset 0 was never appended");
    uint64_t off = append_one(x.st, 0);
    cr_assert_eq(siglog_wait_durable(x.st, 0, off + 1, -1), SIGLOG_EINVAL);
    cr_assert_eq(siglog_wait_durable(x.st, 0, off, -1), 0);
    cr_assert_eq(siglog_close(x.s), 0);

    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    cr_assert_eq(siglog_open(&x.s, x.dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(x.s, "events", &x.st), 0);
    cr_assert_eq(siglog_durable_offset(x.st, 0, &next), SIGLOG_ERDONLY);
    cr_assert_eq(siglog_wait_durable(x.st, 0, off, 0), SIGLOG_ERDONLY);
    fx_close(&x);
}

/* ---- appends while a commit round is half way ---- */

/* A backend that, once armed, appends one event to each stream after each
 * write to the journal: between two takes of a commit round that splits a
 * partition's batches over several journal writes, the partition gets an
 * open batch whose bytes follow the pending ones (a writer encodes records
 * into its pending run) and must keep them when the round takes the rest. */
#define MID_ROUND_STREAMS 8

typedef struct mid_round {
    siglog_io io;
    const siglog_io *base;
    int journal_fd;
    siglog_stream *st[MID_ROUND_STREAMS];
    uint64_t next[MID_ROUND_STREAMS];
    int armed;
    uint64_t writes;
} mid_round;

static int mid_round_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    mid_round *m = io->ctx;
    int fd = m->base->open_file(m->base, path, flags, mode);
    const char *name = strrchr(path, '/');
    if (fd >= 0 && strcmp(name ? name + 1 : path, "journal") == 0)
        m->journal_fd = fd;
    return fd;
}

/* n events more to stream i, in calls of up to 100. */
static void mid_round_append(mid_round *m, size_t i, uint64_t n)
{
    test_event t[100];
    siglog_event evs[100];
    while (n) {
        size_t k = n < 100 ? (size_t)n : 100;
        for (size_t j = 0; j < k; j++) {
            test_event_make(&t[j], i, m->next[i] + j);
            evs[j] = t[j].ev;
        }
        cr_assert_eq(siglog_append(m->st[i], 0, evs, k, NULL, NULL), 0, "%s", siglog_errdetail());
        m->next[i] += k;
        n -= k;
    }
}

static void mid_round_note(mid_round *m, int fd)
{
    if (!m->armed || fd != m->journal_fd)
        return;
    m->writes++;
    for (size_t i = 0; i < MID_ROUND_STREAMS; i++)
        mid_round_append(m, i, 1);
}

static ssize_t mid_round_pwrite(const siglog_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
    mid_round *m = io->ctx;
    ssize_t n = m->base->pwrite(m->base, fd, buf, len, off);
    mid_round_note(m, fd);
    return n;
}

static ssize_t mid_round_pwritev(const siglog_io *io, int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
    mid_round *m = io->ctx;
    ssize_t n = m->base->pwritev(m->base, fd, iov, iovcnt, off);
    mid_round_note(m, fd);
    return n;
}

static void mid_round_check(void *ctx, const siglog_record *r)
{
    test_event t;
    test_event_make(&t, *(const size_t *)ctx, r->offset);
    test_assert_record_eq(r, &t.ev);
}

/* Every stream reads back as appended, from s or (s NULL) a fresh open. */
static void mid_round_check_all(mid_round *m, siglog *s, const char *dir)
{
    siglog *own = s ? NULL : test_store_open(dir, NULL);
    for (size_t i = 0; i < MID_ROUND_STREAMS; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%zu", i);
        siglog_stream *st;
        cr_assert_eq(siglog_stream_get(s ? s : own, name, &st), 0);
        cr_assert_eq(test_read_all(st, 0, mid_round_check, &i), m->next[i], "stream %s", name);
    }
    if (own)
        siglog_close(own);
}

Test(durable, appends_between_the_journal_writes_of_a_round_are_kept)
{
    char *dir = test_tmpdir("durable");
    mid_round m = {.base = sl_io_posix(), .journal_fd = -1};
    m.io = *m.base;
    m.io.ctx = &m;
    m.io.open_file = mid_round_open;
    m.io.pwrite = mid_round_pwrite;
    m.io.pwritev = mid_round_pwritev;
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 1u << 20; /* each stream may hold 256 KiB uncommitted */
    sl_options_set_io(&o, &m.io);
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.record_bytes_max = 64 << 10; /* a batch must fit in a quarter of the journal */
    c.sync_policy = SIGLOG_SYNC_INTERVAL;
    c.sync_interval_ms = 60000; /* only the flushes below commit */
    for (size_t i = 0; i < MID_ROUND_STREAMS; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%zu", i);
        cr_assert_eq(siglog_stream_create(s, name, &c), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_stream_get(s, name, &m.st[i]), 0);
    }
    /* Rounds of about 8 x 150 KiB, more than the journal holds: each
     * writes part, checkpoints and takes the rest. */
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < MID_ROUND_STREAMS; i++)
            mid_round_append(&m, i, 1000);
        m.armed = 1;
        cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
        m.armed = 0;
    }
    cr_assert_gt(m.writes, 3, "no round wrote the journal more than once (%llu writes)", (unsigned long long)m.writes);
    cr_assert_eq(siglog_flush(s), 0, "%s", siglog_errdetail());
    mid_round_check_all(&m, s, dir);
    siglog_close(s);
    mid_round_check_all(&m, NULL, dir);
    test_rmtree(dir);
    free(dir);
}
