/*
 * store_roll_request — the writer answers the roll requests a
 * maintenance process writes into a stream's directory (roll_request.h),
 * from a task of its background scheduler (store_tasks.c, "roll-request").
 *
 * An answer is: as the commit leader (sl_commit_exclusive: no batch
 * inflight, no round until it ends), roll the active segment of each
 * partition named (a size roll's protocol: seal, sync, next segment,
 * catalog roll, so the catalog generation the asker waits for is
 * published), checkpoint (every journaled segment synced, the journal
 * emptied) and zero the journal past its header slots; then remove the
 * request, which tells the asker it was answered. Every promise holds on
 * the way: what was acknowledged is in a synced segment before the
 * journal forgets it, and zeros never read as an entry. A crash anywhere
 * leaves the request in place, and the next writer's task answers it
 * again (a second roll of a fresh segment is a no-op when it is empty).
 *
 * A request that cannot be parsed, or that names a partition the stream
 * has not, is logged once and left alone: the asker withdraws it when its
 * wait ends, and says it went unanswered.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "commit.h"
#include "error.h"
#include "journal.h"
#include "roll_request.h"
#include "store.h"

typedef struct serve_job {
    struct siglog *s;
    siglog_stream *st;
    const roll_request *r;
} serve_job;

static int serve_locked(void *ctx)
{
    serve_job *job = ctx;
    int rc = 0;
    for (uint32_t i = 0; i < job->r->n && !rc; i++)
        rc = sl_partition_roll_asked(job->st->parts[job->r->parts[i]]);
    if (!rc)
        rc = sl_commit_checkpoint(job->s);
    return rc ? rc : sl_journal_scrub_live(job->s->journal);
}

/* The request's partitions are the stream's: 0, or an error naming the
 * first that is not. */
static int check_parts(const siglog_stream *st, const roll_request *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (r->parts[i] >= st->cfg.partitions || !st->parts[r->parts[i]])
            return sl_err_set(SIGLOG_ECORRUPT, "%s/%s names partition %" PRIu32 ", the stream has %" PRIu32,
                              st->dir, ROLL_REQUEST_FILE, r->parts[i], st->cfg.partitions);
    return 0;
}

/* Answer st's request, if it has one. */
static void serve_stream(struct siglog *s, siglog_stream *st)
{
    int pending = sl_roll_request_pending(s->io, st->dir);
    if (pending == 0)
        return;
    roll_request r = {0};
    int rc = pending < 0 ? pending : sl_roll_request_load(s->io, st->dir, s->store_id, &r);
    if (rc == 0)
        return; /* answered or withdrawn meanwhile */
    if (rc == 1 && (rc = check_parts(st, &r)) == 0) {
        serve_job job = {s, st, &r};
        if ((rc = sl_commit_exclusive(s, serve_locked, &job)) == 0)
            rc = sl_roll_request_remove(s->io, st->dir);
        if (rc == 0) {
            sl_store_log(s, SIGLOG_LOG_INFO, "%s: rolled %" PRIu32 " partition(s) and scrubbed the journal as "
                         "%s asked", st->dir, r.n, ROLL_REQUEST_FILE);
            st->roll_request_refused_us = 0;
        }
    }
    /* Once per request: the task comes back every poll until the asker
     * withdraws it. */
    if (rc && r.asked_us != st->roll_request_refused_us) {
        sl_store_log(s, SIGLOG_LOG_ERROR, "roll request not answered: %s", siglog_errdetail());
        st->roll_request_refused_us = r.asked_us;
    }
    sl_roll_request_free(&r);
}

int64_t sl_store_roll_request_task(void *ctx)
{
    struct siglog *s = ctx;
    siglog_stream **streams;
    size_t ns;
    if (sl_store_streams_snapshot(s, &streams, &ns) == 0) {
        for (size_t i = 0; i < ns; i++)
            if (!streams[i]->failed)
                serve_stream(s, streams[i]);
        free(streams);
    }
    return ROLL_REQUEST_POLL_US;
}
