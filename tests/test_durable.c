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
