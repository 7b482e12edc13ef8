/*
 * forget_roll — a forget's writer, opened to roll active segments, or
 * the live writer asked to (forget_roll.h says why and when).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "catalog.h"
#include "error.h"
#include "forget_roll.h"
#include "journal.h"
#include "options_io.h"
#include "partition.h"
#include "roll_request.h"
#include "store.h"
#include "stream.h"

/* How often the asker looks whether its request was answered. */
#define ANSWER_POLL_NS 10000000L

/* Roll as the store's writer; SIGLOG_ELOCKED (detail kept in why) when
 * one has it. */
static int roll_as_writer(maintenance *m, const char *stream, const uint32_t *parts, size_t n, char *why,
                          size_t why_len)
{
    siglog_options o;
    siglog_options_default(&o);
    sl_options_set_io(&o, sl_maintenance_backend(m));
    o.force_owner = sl_maintenance_force_owner(m);
    siglog *s;
    int rc = siglog_open(&s, sl_maintenance_store_path(m), &o);
    /* The detail is copied before a new one is made of it. */
    snprintf(why, why_len, "%s", siglog_errdetail());
    if (rc == SIGLOG_ELOCKED)
        return rc;
    if (rc)
        return sl_err_set(rc, "rolling the active segments of stream '%s' needs the store as its writer: %s",
                          stream, why);
    siglog_stream *st;
    rc = siglog_stream_get(s, stream, &st);
    for (size_t i = 0; !rc && i < n; i++)
        rc = parts[i] < st->cfg.partitions && st->parts && st->parts[parts[i]]
                 ? sl_partition_roll_idle(st->parts[parts[i]])
                 : sl_err_set(SIGLOG_EFAILED, "stream '%s' partition %" PRIu32 " is not open for writing", stream,
                              parts[i]);
    /* The error kept first: closing clears the detail. */
    if (rc) {
        snprintf(why, why_len, "%s", siglog_errdetail());
        siglog_close(s);
        return sl_err_set(rc, "%s", why);
    }
    return siglog_close(s);
}

/* After the writer's answer: the segment of each partition parts[i] that
 * the forget saw active, at bases[i], is sealed now (by the roll asked
 * for, or by a size or age roll that came first), as the catalog the
 * writer published says. */
static int check_sealed(maintenance *m, const char *stream, const uint32_t *parts, const uint64_t *bases, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        catalog *c;
        if ((rc = sl_maintenance_catalog(m, stream, parts[i], &c)) != 0 || (rc = sl_catalog_refresh(c)) != 0)
            break;
        catalog_snapshot *snap = sl_catalog_snapshot_get(c);
        for (size_t k = 0; k < sl_catalog_snapshot_count(snap) && !rc; k++) {
            const catalog_segment *e = sl_catalog_snapshot_segment(snap, k);
            if (e->base_offset == bases[i] && e->state == CATALOG_SEG_ACTIVE)
                rc = sl_err_set(SIGLOG_EFAILED, "stream '%s' partition %" PRIu32 ": the writer answered %s, but "
                                "its segment at offset %" PRIu64 " is still active (catalog generation %" PRIu64
                                "); nothing was changed", stream, parts[i], ROLL_REQUEST_FILE, bases[i],
                                sl_catalog_generation(c));
        }
        sl_catalog_snapshot_release(snap);
    }
    return rc;
}

/* Wait up to wait_ms for the request in dir to go: 1 when it went, 0 when
 * the time ran out, or the error looking. */
static int await_answer(const siglog_io *io, const char *dir, uint32_t wait_ms)
{
    int64_t deadline = io->monotonic_us(io) + (int64_t)wait_ms * 1000;
    for (;;) {
        int pending = sl_roll_request_pending(io, dir);
        if (pending <= 0)
            return pending < 0 ? pending : 1;
        if (io->monotonic_us(io) >= deadline)
            return 0;
        struct timespec ts = {0, ANSWER_POLL_NS};
        nanosleep(&ts, NULL);
    }
}

/* Ask the live writer (holder: who it is) and wait for its answer. */
static int ask_writer(maintenance *m, const char *stream, const uint32_t *parts, const uint64_t *bases, size_t n,
                      uint32_t wait_ms, const char *holder)
{
    const siglog_io *io = sl_maintenance_io(m);
    char *dir = NULL;
    siglog_stream_config cfg;
    roll_request r = {.store_id = sl_maintenance_store_id(m), .asked_us = io->now_us(io), .n = (uint32_t)n,
                      .parts = (uint32_t *)parts};
    int rc = sl_maintenance_stream(m, stream, &dir, &cfg);
    if (!rc)
        rc = sl_roll_request_write(io, dir, &r, sl_maintenance_file_mode(m));
    int answered = rc ? 0 : await_answer(io, dir, wait_ms);
    if (!rc && answered == 0) {
        /* Withdrawn, so that the writer does not roll after the forget
         * gave up; should it have begun, its roll changes no event. */
        rc = sl_roll_request_remove(io, dir);
        if (!rc)
            rc = sl_err_set(SIGLOG_ELIMIT,
                            "stream '%s': %s the writer that has the store (%s) to roll %zu active segment(s) "
                            "holding events of the keys and scrub its journal, and waited %" PRIu32 " ms for it "
                            "to answer %s/%s; it did not, so the request was withdrawn and nothing was changed "
                            "(is the writer stopped? wait longer, or run the forget once it has closed)",
                            stream, n ? "asked" : "asked (with no segment to roll)", holder, n, wait_ms, dir,
                            ROLL_REQUEST_FILE);
    } else if (answered < 0) {
        rc = answered;
    }
    if (!rc)
        rc = check_sealed(m, stream, parts, bases, n);
    free(dir);
    return rc;
}

int sl_forget_roll(maintenance *m, const char *stream, const uint32_t *parts, const uint64_t *bases, size_t n,
                   uint32_t wait_ms, int *scrubbed)
{
    *scrubbed = 0;
    char why[SL_ERR_DETAIL_MAX] = "";
    int rc;
    if (n) {
        rc = roll_as_writer(m, stream, parts, n, why, sizeof why);
        if (rc != SIGLOG_ELOCKED)
            return rc;
    } else if ((rc = sl_journal_writer_live(sl_maintenance_io(m), sl_maintenance_store_path(m))) <= 0) {
        return rc; /* no writer: the forget scrubs the journal itself at its end */
    } else {
        snprintf(why, sizeof why, "%s", "writer.lock is held");
    }
    rc = ask_writer(m, stream, parts, bases, n, wait_ms, why);
    *scrubbed = !rc;
    return rc;
}
