/*
 * faults — injected I/O errors and bad input.
 *
 * What is proven (DESIGN.md, "Errors and bad input"): a failed write or
 * sync of the journal or a segment (ENOSPC, EIO) makes the append return a
 * clear code whose detail names the file; nothing acknowledged before is
 * lost; the store stays readable (writer reopen, read-only open + cursor);
 * after a failed fsync the store or the partition refuses appends with
 * SIGLOG_EFAILED instead of retrying and pretending. Short writes are
 * completed. A failed read is an error, never data. Invalid names,
 * oversize records, unknown streams and partitions, a truncated store file
 * and a corrupt index get clear errors or are repaired; a second writer is
 * refused with the holder's pid.
 *
 * Faults come from io_fault over POSIX, armed after the state to protect
 * is in place, filtered by path ("journal", ".seg").
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "io_fault.h"
#include "options_io.h"
#include "siglog.h"
#include "support.h"

/* ---- events ------------------------------------------------------------ */

#define FX_VALUE_MAX 4096

/* Event i: a key, one or two headers, a value of `len` bytes (0: a size
 * that varies with i), explicit timestamp and schema version. */
typedef struct fx_event {
    siglog_event ev;
    siglog_header hdr[2];
    char key[24];
    char hval[16];
    uint8_t value[FX_VALUE_MAX];
} fx_event;

static void fx_event_make(fx_event *e, uint64_t i, size_t len)
{
    memset(e, 0, sizeof *e);
    uint64_t r = i * 0x9e3779b97f4a7c15ull + 7;
    e->ev.key_len = (size_t)snprintf(e->key, sizeof e->key, "session-%" PRIu64, i % 13);
    e->ev.key = e->key;
    if (!len)
        len = 16 + (size_t)(i * 37 % 900);
    cr_assert_leq(len, FX_VALUE_MAX);
    for (size_t k = 0; k < len; k++)
        e->value[k] = (uint8_t)(k % 7 ? 'a' + (test_rand(&r) % 26) : '{');
    e->ev.value = e->value;
    e->ev.value_len = len;
    e->ev.timestamp_us = 1700000000000000LL + (int64_t)i * 1000;
    e->ev.schema_version = (uint32_t)(i % 3);
    snprintf(e->hval, sizeof e->hval, "v%" PRIu64, i);
    e->hdr[0] = (siglog_header){"source", 6, e->hval, (uint32_t)strlen(e->hval)};
    e->hdr[1] = (siglog_header){"consent", 7, "yes", 3};
    e->ev.headers = e->hdr;
    e->ev.header_count = 1 + (uint32_t)(i % 2);
}

static int fx_same(const siglog_record *r, const siglog_event *e)
{
    if (r->key_len != e->key_len || memcmp(r->key, e->key, e->key_len) != 0 || r->value_len != e->value_len ||
        (e->value_len && memcmp(r->value, e->value, e->value_len) != 0) || r->timestamp_us != e->timestamp_us ||
        r->schema_version != e->schema_version || r->flags != e->flags || r->header_count != e->header_count)
        return 0;
    for (uint32_t h = 0; h < e->header_count; h++)
        if (r->headers[h].key_len != e->headers[h].key_len ||
            memcmp(r->headers[h].key, e->headers[h].key, e->headers[h].key_len) != 0 ||
            r->headers[h].value_len != e->headers[h].value_len ||
            memcmp(r->headers[h].value, e->headers[h].value, e->headers[h].value_len) != 0)
            return 0;
    return 1;
}

/* ---- what a partition must hold ------------------------------------------ */

#define FX_PARTS 4
#define FX_OFFSETS 2048

/* Per partition: the event appended at each offset (including calls that
 * failed: they may or may not be there), and how many offsets are
 * acknowledged and must be there. */
typedef struct fx_model {
    const char *stream;
    uint32_t partitions;
    const fx_event *at[FX_PARTS][FX_OFFSETS];
    uint64_t len[FX_PARTS];
    uint64_t acked[FX_PARTS];
} fx_model;

/* Append events [first, first+n) of pool to partition p. On success they
 * must land at the next offsets; with `durable` they are acknowledged. A
 * failed call's events are recorded as possibly present. */
static int fx_append(siglog_stream *st, fx_model *m, uint32_t p, const fx_event *pool, size_t first, size_t n,
                     int durable)
{
    siglog_event evs[16];
    uint64_t offs[16];
    cr_assert_leq(n, 16);
    for (size_t i = 0; i < n; i++)
        evs[i] = pool[first + i].ev;
    int rc = siglog_append(st, p, evs, n, NULL, offs);
    cr_assert_leq(m->len[p] + n, FX_OFFSETS);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            cr_assert_eq(offs[i], m->len[p] + i, "event landed at %" PRIu64 ", expected %" PRIu64, offs[i],
                         m->len[p] + i);
        m->at[p][m->len[p] + i] = &pool[first + i];
    }
    m->len[p] += n;
    if (rc == 0 && durable)
        m->acked[p] = m->len[p];
    return rc;
}

/* Everything written so far (NONE policy) became durable. */
static void fx_mark_synced(fx_model *m)
{
    for (uint32_t p = 0; p < m->partitions; p++)
        m->acked[p] = m->len[p];
}

/* Read every partition of m's stream through s: dense offsets from 0, each
 * record the one appended there, every acknowledged offset present. */
static void fx_check_store(siglog *s, const fx_model *m, const char *how)
{
    siglog_stream *st = NULL;
    int rc = siglog_stream_get(s, m->stream, &st);
    cr_assert_eq(rc, 0, "%s: stream %s: %s", how, m->stream, siglog_errdetail());
    for (uint32_t p = 0; p < m->partitions; p++) {
        siglog_cursor *c = NULL;
        rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0);
        cr_assert_eq(rc, 0, "%s: cursor on partition %u: %s", how, p, siglog_errdetail());
        const siglog_record *r;
        uint64_t i = 0;
        while ((rc = siglog_cursor_next(c, &r)) == 1) {
            cr_assert_eq(r->offset, i, "%s: partition %u: offset %" PRIu64 " where %" PRIu64 " was due", how, p,
                         r->offset, i);
            cr_assert(i < m->len[p] && m->at[p][i], "%s: partition %u: offset %" PRIu64 " was never appended", how,
                      p, i);
            cr_assert(fx_same(r, &m->at[p][i]->ev), "%s: partition %u offset %" PRIu64 " differs from its event",
                      how, p, i);
            i++;
        }
        cr_assert_eq(rc, 0, "%s: partition %u after offset %" PRIu64 ": %s: %s", how, p, i, siglog_strerror(rc),
                     siglog_errdetail());
        cr_assert_geq(i, m->acked[p],
                      "%s: partition %u: %" PRIu64 " events must be there (acknowledged, or durable in the "
                      "journal), only %" PRIu64 " read",
                      how, p, m->acked[p], i);
        siglog_cursor_close(c);
    }
}

/* After a fault: reopen as a writer with POSIX I/O, then read-only. */
static void fx_check_reopened(const char *dir, const fx_model *m)
{
    siglog_options o;
    siglog_options_default(&o);
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "writer reopen: %s: %s", siglog_strerror(rc), siglog_errdetail());
    fx_check_store(s, m, "writer reopen");
    cr_assert_eq(siglog_close(s), 0, "close: %s", siglog_errdetail());
    o.read_only = 1;
    rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "read-only open: %s: %s", siglog_strerror(rc), siglog_errdetail());
    fx_check_store(s, m, "read-only open");
    cr_assert_eq(siglog_close(s), 0);
}

/* ---- stores -------------------------------------------------------------- */

typedef struct fx_store {
    char *dir;
    io_fault *fault;
    siglog *s;
    siglog_stream *st;
    fx_model m;
    fx_event *pool;
} fx_store;

#define FX_POOL 1024

/* A store in a fresh directory, opened through io_fault, with one stream
 * named "events" of `partitions` partitions and the given policy. */
static void fx_store_open(fx_store *x, uint32_t partitions, uint32_t policy, uint64_t segment_bytes)
{
    memset(x, 0, sizeof *x);
    x->dir = test_tmpdir("faults");
    x->fault = io_fault_new(sl_io_posix());
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    sl_options_set_io(&o, io_fault_io(x->fault));
    int rc = siglog_open(&x->s, x->dir, &o);
    cr_assert_eq(rc, 0, "open: %s", siglog_errdetail());
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    c.sync_policy = policy;
    c.batch_bytes_max = 4096;
    c.segment_age_max_us = 0;
    if (segment_bytes)
        c.segment_bytes_max = segment_bytes;
    rc = siglog_stream_create(x->s, "events", &c);
    cr_assert_eq(rc, 0, "stream: %s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(x->s, "events", &x->st), 0);
    x->m.stream = "events";
    x->m.partitions = partitions;
    x->pool = calloc(FX_POOL, sizeof *x->pool);
    cr_assert_not_null(x->pool);
    for (size_t i = 0; i < FX_POOL; i++)
        fx_event_make(&x->pool[i], i, 0);
}

/* Close the faulty handle (its result does not matter after a fault) and
 * release everything but the directory. */
static void fx_store_close(fx_store *x)
{
    siglog_close(x->s);
    x->s = NULL;
    io_fault_free(x->fault);
    x->fault = NULL;
}

static void fx_store_free(fx_store *x)
{
    if (x->s)
        fx_store_close(x);
    test_rmtree(x->dir);
    free(x->dir);
    free(x->pool);
}

/* The end of most tests: close the faulty handle, prove that reopening
 * brings back every durable event and nothing else, release it all. */
static void fx_store_finish(fx_store *x)
{
    fx_store_close(x);
    fx_check_reopened(x->dir, &x->m);
    fx_store_free(x);
}

/* Partition p is marked failed (it refuses appends until reopened). */
static void fx_assert_partition_failed(const fx_store *x, uint32_t p)
{
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(x->st, p, &info), 0);
    cr_assert_eq(info.failed, 1, "partition %u is not marked failed", p);
}

static void fx_assert_detail_names(const char *what)
{
    const char *d = siglog_errdetail();
    cr_assert(strstr(d, what) != NULL, "the error detail does not name the %s: \"%s\"", what, d);
}

static const int fx_errnos[2] = {ENOSPC, EIO};
static const int fx_codes[2] = {SIGLOG_ENOSPC, SIGLOG_EIO};

/* ---- write and sync failures -------------------------------------------- */

/* A write to `target` fails while a durable append commits. */
static void fx_durable_write_fault(const char *target, int err, int code)
{
    fx_store x;
    fx_store_open(&x, 2, SIGLOG_SYNC_ALWAYS, 0);
    for (size_t i = 0; i < 20; i++)
        cr_assert_eq(fx_append(x.st, &x.m, (uint32_t)(i % 2), x.pool, i, 1, 1), 0, "%s", siglog_errdetail());
    io_fault_arm(x.fault, IO_FAULT_WRITE, 1, err, 1, target);
    int rc = fx_append(x.st, &x.m, 1, x.pool, 20, 3, 1);
    cr_assert_eq(rc, code, "write fault on %s: got %s (%s)", target, siglog_errname(rc), siglog_errdetail());
    fx_assert_detail_names(target);
    cr_assert_gt(io_fault_injected(x.fault), 0);
    io_fault_disarm(x.fault);
    /* No retry-and-pretend: the failed partition (or the whole store,
     * for the journal) refuses appends until it is reopened. */
    rc = fx_append(x.st, &x.m, 1, x.pool, 23, 1, 1);
    cr_assert_eq(rc, SIGLOG_EFAILED, "append after a failed write to %s: %s", target, siglog_errname(rc));
    fx_assert_partition_failed(&x, 1);
    fx_store_finish(&x);
}

Test(faults, journal_write_error_is_reported_and_loses_nothing)
{
    for (int i = 0; i < 2; i++)
        fx_durable_write_fault("journal", fx_errnos[i], fx_codes[i]);
}

Test(faults, segment_write_error_is_reported_and_loses_nothing)
{
    for (int i = 0; i < 2; i++)
        fx_durable_write_fault(".seg", fx_errnos[i], fx_codes[i]);
}

Test(faults, segment_write_error_after_the_journal_sync_keeps_the_batch)
{
    /* The journal made the batch durable before the segment write
     * failed: reopening replays it, though the append reported failure. */
    fx_store x;
    fx_store_open(&x, 1, SIGLOG_SYNC_ALWAYS, 0);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, i, 1, 1), 0);
    io_fault_arm(x.fault, IO_FAULT_WRITE, 1, EIO, 1, ".seg");
    cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, 5, 4, 1), SIGLOG_EIO);
    io_fault_disarm(x.fault);
    fx_store_close(&x);
    x.m.acked[0] = 9; /* not acknowledged, but durable: must come back */
    fx_check_reopened(x.dir, &x.m);
    fx_store_free(&x);
}

Test(faults, journal_fsync_error_fails_the_store)
{
    for (int i = 0; i < 2; i++) {
        fx_store x;
        fx_store_open(&x, 2, SIGLOG_SYNC_ALWAYS, 0);
        for (size_t k = 0; k < 10; k++)
            cr_assert_eq(fx_append(x.st, &x.m, (uint32_t)(k % 2), x.pool, k, 1, 1), 0);
        io_fault_arm(x.fault, IO_FAULT_SYNC, 1, fx_errnos[i], 0, "journal");
        int rc = fx_append(x.st, &x.m, 0, x.pool, 10, 2, 1);
        cr_assert_eq(rc, fx_codes[i], "fdatasync fault: got %s (%s)", siglog_errname(rc), siglog_errdetail());
        fx_assert_detail_names("journal");
        /* The fault is gone, but the store does not retry and pretend:
         * both partitions refuse. */
        io_fault_disarm(x.fault);
        for (uint32_t p = 0; p < 2; p++) {
            rc = fx_append(x.st, &x.m, p, x.pool, 12 + p, 1, 1);
            cr_assert_eq(rc, SIGLOG_EFAILED, "partition %u after a failed journal sync: %s", p, siglog_errname(rc));
            cr_assert(strstr(siglog_errdetail(), "journal"), "EFAILED detail lost the cause: %s",
                      siglog_errdetail());
        }
        cr_assert_eq(siglog_sync(x.s), SIGLOG_EFAILED);
        fx_store_finish(&x);
    }
}

Test(faults, segment_fsync_error_at_roll_fails_the_partition)
{
    for (int i = 0; i < 2; i++) {
        fx_store x;
        fx_store_open(&x, 2, SIGLOG_SYNC_ALWAYS, 64 << 10);
        /* With ALWAYS, the first segment sync is the seal at the roll. */
        io_fault_arm(x.fault, IO_FAULT_SYNC, 1, fx_errnos[i], 1, ".seg");
        int rc = 0;
        size_t k = 0;
        while (rc == 0 && k < 300) {
            rc = fx_append(x.st, &x.m, 0, x.pool, k, 1, 1);
            k++;
        }
        cr_assert_eq(rc, fx_codes[i], "no failed roll after %zu appends: %s (%s)", k, siglog_errname(rc),
                     siglog_errdetail());
        fx_assert_detail_names(".seg");
        io_fault_disarm(x.fault);
        rc = fx_append(x.st, &x.m, 0, x.pool, k, 1, 1);
        cr_assert_eq(rc, SIGLOG_EFAILED, "append to the partition whose sync failed: %s", siglog_errname(rc));
        fx_assert_partition_failed(&x, 0);
        fx_store_finish(&x);
    }
}

Test(faults, segment_fsync_error_of_a_none_stream_fails_the_partition)
{
    fx_store x;
    fx_store_open(&x, 1, SIGLOG_SYNC_NONE, 0);
    for (size_t k = 0; k < 30; k++)
        cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, k, 1, 0), 0);
    cr_assert_eq(siglog_sync(x.s), 0, "%s", siglog_errdetail());
    fx_mark_synced(&x.m);
    for (size_t k = 30; k < 40; k++)
        cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, k, 1, 0), 0);
    io_fault_arm(x.fault, IO_FAULT_SYNC, 1, EIO, 0, ".seg");
    int rc = siglog_sync(x.s);
    cr_assert_eq(rc, SIGLOG_EIO, "sync with a failing fdatasync: %s (%s)", siglog_errname(rc), siglog_errdetail());
    fx_assert_detail_names(".seg");
    io_fault_disarm(x.fault);
    rc = fx_append(x.st, &x.m, 0, x.pool, 40, 1, 0);
    cr_assert_eq(rc, SIGLOG_EFAILED, "append after a failed fdatasync: %s", siglog_errname(rc));
    fx_store_finish(&x);
}

Test(faults, none_stream_enospc_on_segment_write_trims_and_recovers)
{
    fx_store x;
    fx_store_open(&x, 1, SIGLOG_SYNC_NONE, 0);
    for (size_t k = 0; k < 20; k++)
        cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, k, 1, 0), 0);
    cr_assert_eq(siglog_flush(x.s), 0, "%s", siglog_errdetail());
    siglog_partition_info before;
    cr_assert_eq(siglog_partition_info_get(x.st, 0, &before), 0);
    cr_assert_eq(before.next_offset, 20);

    io_fault_arm(x.fault, IO_FAULT_WRITE, 1, ENOSPC, 1, ".seg");
    int rc = 0;
    for (size_t k = 20; k < 30 && rc == 0; k++)
        rc = fx_append(x.st, &x.m, 0, x.pool, k, 1, 0);
    if (rc == 0)
        rc = siglog_flush(x.s);
    cr_assert_eq(rc, SIGLOG_ENOSPC, "segment write on a full disk: %s (%s)", siglog_errname(rc),
                 siglog_errdetail());
    fx_assert_detail_names(".seg");
    /* The batch that did not fit is gone, the segment ends on a batch
     * boundary, and its offsets are handed out again. */
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(x.st, 0, &info), 0);
    cr_assert_eq(info.next_offset, 20, "next offset %" PRIu64 " after the trimmed write", info.next_offset);
    cr_assert_eq(info.bytes, before.bytes, "segment is %" PRIu64 " bytes, was %" PRIu64, info.bytes, before.bytes);
    cr_assert_eq(info.failed, 0);

    io_fault_disarm(x.fault);
    x.m.len[0] = 20;
    for (size_t k = 100; k < 110; k++)
        cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, k, 1, 0), 0, "append after the disk has room: %s",
                     siglog_errdetail());
    cr_assert_eq(siglog_sync(x.s), 0, "%s", siglog_errdetail());
    fx_mark_synced(&x.m);
    fx_check_store(x.s, &x.m, "same handle");
    fx_store_finish(&x);
}

Test(faults, short_writes_are_completed, .timeout = 120)
{
    /* A write loop that loses its place would grow a file without end:
     * let it fail (EFBIG) long before it fills the disk. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit cap = {256u << 20, 256u << 20};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &cap), 0);
    fx_store x;
    fx_store_open(&x, 2, SIGLOG_SYNC_ALWAYS, 64 << 10);
    /* Every write of every file writes half of what it was asked. */
    io_fault_arm(x.fault, IO_FAULT_WRITE, 1, IO_FAULT_SHORT_WRITE, 1, NULL);
    for (size_t k = 0; k < 200; k += 2)
        cr_assert_eq(fx_append(x.st, &x.m, (uint32_t)(k / 2 % 2), x.pool, k, 2, 1), 0, "append %zu: %s", k,
                     siglog_errdetail());
    cr_assert_gt(io_fault_injected(x.fault), 200, "only %" PRIu64 " short writes", io_fault_injected(x.fault));
    fx_check_store(x.s, &x.m, "during short writes");
    cr_assert_eq(siglog_close(x.s), 0, "close under short writes: %s", siglog_errdetail());
    x.s = NULL;
    io_fault_free(x.fault);
    x.fault = NULL;
    fx_check_reopened(x.dir, &x.m);
    fx_store_free(&x);
}

/* ---- read failures ------------------------------------------------------- */

Test(faults, read_error_is_an_error_never_garbage)
{
    /* Segments of 64 KiB, each a read of its own: a cursor reads the
     * store with several reads although each reads ahead. */
    enum { EVENTS = 1020 };
    fx_store x;
    fx_store_open(&x, 1, SIGLOG_SYNC_ALWAYS, 64 << 10);
    for (size_t k = 0; k < EVENTS; k += 3)
        cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, k, 3, 1), 0);
    int midway = 0; /* failures met after records were handed out */
    for (int nth = 1; nth <= 8; nth++) {
        siglog_cursor *c = NULL;
        cr_assert_eq(siglog_cursor_open(&c, x.st, 0, SIGLOG_SEEK_START, 0, 0), 0);
        const siglog_record *r;
        /* Let the nth read of a segment fail (the first ones come before
         * any record, later ones midway): whatever is handed out must be
         * the real event. */
        io_fault_arm(x.fault, IO_FAULT_READ, (uint64_t)nth, EIO, 1, ".seg");
        int rc;
        uint64_t got = 0;
        while ((rc = siglog_cursor_next(c, &r)) == 1) {
            cr_assert_eq(r->offset, got);
            cr_assert(fx_same(r, &x.m.at[0][r->offset]->ev), "record %" PRIu64 " read under EIO differs", got);
            got++;
        }
        io_fault_disarm(x.fault);
        cr_assert_eq(rc, SIGLOG_EIO, "read %d failing: cursor ended with %s after %" PRIu64 " records", nth,
                     siglog_errname(rc), got);
        cr_assert_lt(got, EVENTS, "the cursor read everything although reads failed");
        midway += got > 0;
        fx_assert_detail_names(".seg");
        siglog_cursor_close(c);
    }
    cr_assert_gt(midway, 0, "no read failed after the first records");
    /* The fault did no harm: everything reads back. */
    fx_check_store(x.s, &x.m, "after read faults");
    fx_store_close(&x);
    fx_store_free(&x);
}

/* ---- bad input ----------------------------------------------------------- */

Test(faults, invalid_stream_names_are_refused)
{
    fx_store x;
    fx_store_open(&x, 1, SIGLOG_SYNC_NONE, 0);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    char long_name[SIGLOG_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0'; /* 129 bytes */
    const char *bad[] = {"", ".", "..", ".hidden", "a/b", "/abs", "../escape", "tab\there", "caf\xc3\xa9", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = siglog_stream_create(x.s, bad[i], &c);
        cr_assert_eq(rc, SIGLOG_EINVAL, "stream name \"%s\": %s", bad[i], siglog_errname(rc));
        cr_assert_neq(siglog_errdetail()[0], '\0', "no detail for \"%s\"", bad[i]);
        siglog_stream *st;
        cr_assert_eq(siglog_stream_get(x.s, bad[i], &st), SIGLOG_EINVAL, "stream_get \"%s\"", bad[i]);
    }
    long_name[SIGLOG_NAME_MAX] = '\0'; /* exactly the maximum is fine */
    cr_assert_eq(siglog_stream_create(x.s, long_name, &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_create(x.s, "ok.name_1-2", &c), 0, "%s", siglog_errdetail());
    /* Nothing escaped the store directory. */
    char *outside = test_path(x.dir, "../escape");
    cr_assert_neq(access(outside, F_OK), 0);
    free(outside);
    fx_store_free(&x);
}

Test(faults, oversize_record_appends_nothing_of_the_call)
{
    fx_store x;
    memset(&x, 0, sizeof x);
    x.dir = test_tmpdir("faults");
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    cr_assert_eq(siglog_open(&x.s, x.dir, &o), 0);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 2;
    c.record_bytes_max = 1024;
    cr_assert_eq(siglog_stream_create(x.s, "events", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(x.s, "events", &x.st), 0);
    static uint8_t big[2048];
    siglog_event ok = {.key = "k", .key_len = 1, .value = big, .value_len = 1000, .timestamp_us = 1};
    siglog_event too_big = ok;
    too_big.value_len = 1024; /* key + value = 1025 */
    siglog_header h = {"h", 1, big, 30};
    siglog_event big_headers = ok;
    big_headers.headers = &h;
    big_headers.header_count = 1; /* 1 + 1000 + 1 + 30 */
    siglog_event calls[2][3] = {{ok, ok, too_big}, {ok, big_headers, ok}};
    for (int i = 0; i < 2; i++) {
        int rc = siglog_append(x.st, SIGLOG_PARTITION_BY_KEY, calls[i], 3, NULL, NULL);
        cr_assert_eq(rc, SIGLOG_ETOOBIG, "call %d: %s", i, siglog_errname(rc));
        cr_assert(strstr(siglog_errdetail(), "1024"), "detail does not say the limit: %s", siglog_errdetail());
    }
    cr_assert_eq(siglog_sync(x.s), 0);
    for (uint32_t p = 0; p < 2; p++) {
        siglog_partition_info info;
        cr_assert_eq(siglog_partition_info_get(x.st, p, &info), 0);
        cr_assert_eq(info.next_offset, 0, "partition %u holds %" PRIu64 " events of refused calls", p,
                     info.next_offset);
    }
    /* At the limit is fine. */
    siglog_event at_limit = ok;
    at_limit.value_len = 1023;
    uint64_t off;
    cr_assert_eq(siglog_append(x.st, 0, &at_limit, 1, NULL, &off), 0, "%s", siglog_errdetail());
    cr_assert_eq(off, 0);
    cr_assert_eq(siglog_close(x.s), 0);
    x.s = NULL;
    fx_store_free(&x);
}

Test(faults, unknown_stream_and_partition_are_enoent)
{
    fx_store x;
    fx_store_open(&x, 2, SIGLOG_SYNC_NONE, 0);
    siglog_stream *st = (siglog_stream *)1;
    cr_assert_eq(siglog_stream_get(x.s, "nosuch", &st), SIGLOG_ENOENT);
    cr_assert_null(st);
    cr_assert(strstr(siglog_errdetail(), "nosuch"), "detail: %s", siglog_errdetail());
    siglog_event e = x.pool[0].ev;
    cr_assert_eq(siglog_append(x.st, 2, &e, 1, NULL, NULL), SIGLOG_ENOENT);
    cr_assert_eq(siglog_append(x.st, 4096, &e, 1, NULL, NULL), SIGLOG_ENOENT);
    siglog_cursor *c = NULL;
    cr_assert_eq(siglog_cursor_open(&c, x.st, 2, SIGLOG_SEEK_START, 0, 0), SIGLOG_ENOENT);
    cr_assert_null(c);
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(x.st, 7, &info), SIGLOG_ENOENT);
    /* Nothing of the refused calls landed anywhere. */
    for (uint32_t p = 0; p < 2; p++) {
        cr_assert_eq(siglog_partition_info_get(x.st, p, &info), 0);
        cr_assert_eq(info.next_offset, 0);
    }
    fx_store_free(&x);
}

Test(faults, truncated_store_file_is_ecorrupt)
{
    fx_store x;
    fx_store_open(&x, 1, SIGLOG_SYNC_ALWAYS, 0);
    cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, 0, 3, 1), 0);
    fx_store_close(&x);
    char *store_file = test_path(x.dir, "siglog.store");
    test_truncate(store_file, 10);
    for (int ro = 0; ro < 2; ro++) {
        siglog_options o;
        siglog_options_default(&o);
        o.read_only = ro;
        siglog *s = NULL;
        int rc = siglog_open(&s, x.dir, &o);
        cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s open of a store with a 10-byte store file: %s",
                     ro ? "read-only" : "writer", siglog_errname(rc));
        cr_assert_null(s);
        fx_assert_detail_names("siglog.store");
    }
    cr_assert_eq(test_file_size(store_file), 10, "opening rewrote the damaged store file");
    free(store_file);
    fx_store_free(&x);
}

/* Every offset of partition 0 is found exactly by a seek. */
static void fx_check_seeks(siglog *s, const fx_model *m)
{
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, m->stream, &st), 0);
    for (uint64_t o = 0; o < m->len[0]; o++) {
        siglog_cursor *c = NULL;
        cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_OFFSET, (int64_t)o, 0), 0, "%s", siglog_errdetail());
        const siglog_record *r;
        int rc = siglog_cursor_next(c, &r);
        cr_assert_eq(rc, 1, "seek to %" PRIu64 ": %s", o, siglog_errdetail());
        cr_assert_eq(r->offset, o, "seek to %" PRIu64 " landed on %" PRIu64, o, r->offset);
        cr_assert(fx_same(r, &m->at[0][o]->ev));
        siglog_cursor_close(c);
    }
}

Test(faults, corrupt_offset_index_is_repaired_and_seeks_stay_exact)
{
    /* Damage three ways: the header, the entries, and garbage entries
     * pointing into the middle of batches. */
    for (int how = 0; how < 3; how++) {
        fx_store x;
        memset(&x, 0, sizeof x);
        x.dir = test_tmpdir("faults");
        siglog_options o;
        siglog_options_default(&o);
        o.create = 1;
        cr_assert_eq(siglog_open(&x.s, x.dir, &o), 0);
        siglog_stream_config c;
        siglog_stream_config_default(&c);
        c.sync_policy = SIGLOG_SYNC_ALWAYS;
        c.index_interval_bytes = 64; /* an entry for nearly every batch */
        cr_assert_eq(siglog_stream_create(x.s, "events", &c), 0);
        cr_assert_eq(siglog_stream_get(x.s, "events", &x.st), 0);
        x.m.stream = "events";
        x.m.partitions = 1;
        x.pool = calloc(FX_POOL, sizeof *x.pool);
        for (size_t i = 0; i < 120; i++)
            fx_event_make(&x.pool[i], i, 0);
        for (size_t i = 0; i < 120; i += 2)
            cr_assert_eq(fx_append(x.st, &x.m, 0, x.pool, i, 2, 1), 0);
        cr_assert_eq(siglog_close(x.s), 0);
        x.s = NULL;

        char *oix = test_path(x.dir, "streams/events/00000/00000000000000000000.oix");
        uint64_t size = test_file_size(oix);
        cr_assert_gt(size, 64 + 8 * 20, "index has no room for the entries");
        if (how == 0) {
            test_flip_byte(oix, 0, 0xff); /* magic */
            test_flip_byte(oix, 9, 0x5a);
        } else if (how == 1) {
            for (uint64_t pos = 64; pos < 64 + 8 * 20; pos += 5)
                test_flip_byte(oix, pos, 0xa5);
        } else {
            for (uint64_t e = 0; e < 20; e++)
                test_flip_byte(oix, 64 + 8 * e + 4, 0x10); /* positions moved by 16 bytes */
        }
        free(oix);

        for (int ro = 0; ro < 2; ro++) {
            siglog_options_default(&o);
            o.read_only = ro;
            siglog *s = NULL;
            int rc = siglog_open(&s, x.dir, &o);
            cr_assert_eq(rc, 0, "open (%s) with a damaged index (%d): %s", ro ? "reader" : "writer", how,
                         siglog_errdetail());
            fx_check_store(s, &x.m, "damaged index");
            fx_check_seeks(s, &x.m);
            cr_assert_eq(siglog_close(s), 0);
        }
        fx_store_free(&x);
    }
}

/* ---- the writer lock ----------------------------------------------------- */

Test(faults, second_writer_is_refused_with_the_holders_pid)
{
    char *dir = test_tmpdir("faults");
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, dir, &o), 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());

    /* flock belongs to the open file description: a second open in the
     * same process conflicts too. */
    siglog *again = NULL;
    int rc = siglog_open(&again, dir, &o);
    cr_assert_eq(rc, SIGLOG_ELOCKED, "second writer in the same process: %s", siglog_errname(rc));
    cr_assert_null(again);
    cr_assert(strstr(siglog_errdetail(), pid), "detail does not name pid %s: %s", pid, siglog_errdetail());

    /* Another process. It reports through its exit status only. */
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        siglog *t = NULL;
        int r = siglog_open(&t, dir, &o);
        if (r != SIGLOG_ELOCKED)
            _exit(1);
        if (!strstr(siglog_errdetail(), pid))
            _exit(2);
        /* A reader is welcome beside the writer. */
        siglog_options ro;
        siglog_options_default(&ro);
        ro.read_only = 1;
        if (siglog_open(&t, dir, &ro) != 0)
            _exit(3);
        siglog_close(t);
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status), "child did not exit normally");
    cr_assert_eq(WEXITSTATUS(status), 0,
                 "child: 1 = not ELOCKED, 2 = detail without the holder's pid, 3 = reader refused; got %d",
                 WEXITSTATUS(status));

    /* Once the writer is gone, the next one gets in. */
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    test_rmtree(dir);
    free(dir);
}

/* ---- store creation ------------------------------------------------------ */

/* Names in dir (which must exist). */
static size_t entries_in(const char *dir)
{
    io_dirent_list l = {0};
    cr_assert_eq(sl_io_posix()->list_dir(sl_io_posix(), dir, &l), 0, "listing %s", dir);
    size_t n = l.count;
    sl_io_dirent_list_free(&l);
    return n;
}

/* Creating a store, with ENOSPC injected at each mutating call in turn:
 * afterwards there is a whole store (the failure came after it was made,
 * and a plain open succeeds) or nothing at all — no directory when it did
 * not exist, an empty one when it did. */
static void creation_fails_whole_or_nothing(int dir_exists)
{
    char *tmp = test_tmpdir("create_faults");
    char *dir = test_path(tmp, "store");
    unsigned mutating = IO_FAULT_OPEN | IO_FAULT_WRITE | IO_FAULT_SYNC | IO_FAULT_TRUNCATE | IO_FAULT_RENAME |
                        IO_FAULT_MKDIR;
    uint64_t nothing_left = 0, whole = 0;
    for (uint64_t nth = 1;; nth++) {
        test_rmtree(dir);
        if (dir_exists)
            cr_assert_eq(mkdir(dir, 0700), 0);
        io_fault *f = io_fault_new(sl_io_posix());
        io_fault_arm(f, mutating, nth, ENOSPC, 0, NULL);
        siglog_options o;
        siglog_options_default(&o);
        o.create = 1;
        o.journal_bytes = 1u << 20;
        sl_options_set_io(&o, io_fault_io(f));
        siglog *s = NULL;
        int rc = siglog_open(&s, dir, &o);
        uint64_t injected = io_fault_injected(f);
        siglog_close(s);
        io_fault_free(f);
        if (!injected)
            break; /* past the last mutating call */
        char *store_file = test_path(dir, "siglog.store");
        if (access(store_file, F_OK) == 0) {
            sl_options_set_io(&o, NULL);
            o.create = 0;
            cr_assert_eq(siglog_open(&s, dir, &o), 0, "ENOSPC at call %" PRIu64 " left a broken store: %s", nth,
                         siglog_errdetail());
            siglog_close(s);
            whole++;
        } else {
            cr_assert_neq(rc, 0, "call %" PRIu64 ": no store, yet the open succeeded", nth);
            if (dir_exists)
                cr_assert_eq(entries_in(dir), 0, "ENOSPC at call %" PRIu64 " (%s) left files in %s", nth,
                             siglog_errdetail(), dir);
            else
                cr_assert_eq(access(dir, F_OK), -1, "ENOSPC at call %" PRIu64 " left %s", nth, dir);
            cr_assert_eq(entries_in(tmp), (size_t)dir_exists, "ENOSPC at call %" PRIu64 " left a temporary", nth);
            nothing_left++;
        }
        free(store_file);
    }
    /* The journal's preallocation is among the calls failed. */
    cr_assert_gt(nothing_left, 5, "only %" PRIu64 " failures before the store existed", nothing_left);
    cr_assert_gt(whole, 0);
    test_rmtree(tmp);
    free(dir);
    free(tmp);
}

Test(faults, creating_a_store_in_a_new_directory_fails_whole_or_nothing)
{
    creation_fails_whole_or_nothing(0);
}

Test(faults, creating_a_store_in_an_empty_directory_fails_whole_or_nothing)
{
    creation_fails_whole_or_nothing(1);
}
