#include "commit.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* A checkpoint syncs dirty segments with this many threads: fdatasyncs of
 * different files overlap well on the devices we measured. */
#define CHECKPOINT_THREADS 4
/* How long a served thread yields for its round's segment writes before
 * it sleeps until the round ends (round_durable). */
#define SEGMENT_WRITE_SPIN_US 100
/* How long a new commit leader waits for appenders still encoding. */
#define SIBLING_WAIT_US 200

typedef struct round_state {
    journal_entry *entries;
    partition **parts;
    size_t count, cap;
    uint64_t bytes; /* journal bytes the gathered entries will take */
} round_state;

static void fail_store(struct siglog *s, int code)
{
    pthread_mutex_lock(&s->commit_mu);
    int first = !s->failed;
    if (first) {
        snprintf(s->failed_detail, sizeof s->failed_detail, "%s", siglog_errdetail());
        __atomic_store_n(&s->failed, code, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&s->commit_mu);
    if (first)
        store_wake_durable_waiters(s);
}

static int round_push(round_state *r, uint32_t stream_id, partition *p)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        journal_entry *e = realloc(r->entries, cap * sizeof *e);
        if (e)
            r->entries = e;
        partition **ps = realloc(r->parts, cap * sizeof *ps);
        if (ps)
            r->parts = ps;
        if (!e || !ps)
            return err_set(SIGLOG_ENOMEM, "out of memory");
        r->cap = cap;
    }
    r->entries[r->count] = (journal_entry){stream_id, p->id, p->inflight.bytes.data, p->inflight.bytes.len};
    r->parts[r->count++] = p;
    r->bytes += journal_entry_bytes(p->inflight.bytes.len);
    return 0;
}

/* Journal write + one fdatasync for everything gathered. On failure the
 * store and the gathered partitions fail and nothing is kept. */
static int round_write_journal(struct siglog *s, round_state *r)
{
    int rc = journal_write(s->journal, r->entries, r->count);
#ifndef SIGLOG_BROKEN_ACK_BEFORE_FSYNC
    if (!rc)
        rc = journal_sync(s->journal);
#endif
    if (!rc)
        return 0;
    fail_store(s, rc);
    for (size_t i = 0; i < r->count; i++) {
        pthread_mutex_lock(&r->parts[i]->mu);
        batch_run_clear(&r->parts[i]->inflight);
        partition_fail_locked(r->parts[i], rc);
        pthread_mutex_unlock(&r->parts[i]->mu);
    }
    r->count = 0;
    r->bytes = 0;
    return rc;
}

/* The journaled batches to their segments, and the new high-water marks
 * published. */
static int round_apply(round_state *r)
{
    int first_err = 0;
    for (size_t i = 0; i < r->count; i++) {
        partition *p = r->parts[i];
        pthread_mutex_lock(&p->mu);
        int a = partition_apply_inflight_locked(p);
        pthread_mutex_unlock(&p->mu);
        if (a && !first_err)
            first_err = a;
    }
    r->count = 0;
    r->bytes = 0;
    return first_err;
}

/* Journal first, segments after: nothing is published before the
 * journal sync returned. */
static int round_flush(struct siglog *s, round_state *r)
{
    if (r->count == 0)
        return 0;
    int rc = round_write_journal(s, r);
    return rc ? rc : round_apply(r);
}

/* The threads a round serves are asleep while its journal syncs, and
 * waking a thread takes longer (25-50 us on the 2-vCPU machines we
 * measured) than the leader's segment writes after the sync. So the
 * leader wakes them as soon as the round is durable and they wait the
 * rest of the round (its segment writes) yielding the CPU: their wake-up
 * overlaps those writes instead of following them. An appender still
 * returns only after its events are published: readable once
 * acknowledged. */
static void round_durable(struct siglog *s, uint64_t round)
{
    pthread_mutex_lock(&s->commit_mu);
    __atomic_store_n(&s->rounds_synced, round, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&s->commit_cv);
    pthread_mutex_unlock(&s->commit_mu);
}

typedef struct sync_job {
    partition **parts;
    size_t n;
    size_t next;         /* atomic */
    pthread_mutex_t mu;  /* guards rc and detail */
    int rc;              /* the first error */
    char detail[512];    /* its detail: error details are per thread */
} sync_job;

static void *sync_worker(void *arg)
{
    sync_job *job = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->n)
            return NULL;
        partition *p = job->parts[i];
        pthread_mutex_lock(&p->mu);
        int rc = partition_sync_locked(p);
        pthread_mutex_unlock(&p->mu);
        if (rc) {
            pthread_mutex_lock(&job->mu);
            if (!job->rc) {
                job->rc = rc;
                snprintf(job->detail, sizeof job->detail, "%s", siglog_errdetail());
            }
            pthread_mutex_unlock(&job->mu);
        }
    }
}

/* Sync the given partitions' segments with a few threads in parallel.
 * The first error comes back with its detail, whichever thread met it. */
static int sync_partitions(partition **parts, size_t n)
{
    sync_job job = {.parts = parts, .n = n};
    pthread_mutex_init(&job.mu, NULL);
    pthread_t tids[CHECKPOINT_THREADS];
    size_t started = 0;
    for (size_t t = 1; t < CHECKPOINT_THREADS && t < n; t++)
        if (pthread_create(&tids[started], NULL, sync_worker, &job) == 0)
            started++;
    sync_worker(&job);
    for (size_t t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    pthread_mutex_destroy(&job.mu);
    return job.rc ? err_set(job.rc, "%s", job.detail) : 0;
}

int commit_checkpoint(struct siglog *s)
{
    siglog_stream **streams;
    size_t ns;
    int rc = store_streams_snapshot(s, &streams, &ns);
    if (rc)
        return rc;
    size_t total = 0;
    for (size_t i = 0; i < ns; i++)
        total += streams[i]->cfg.partitions;
    partition **dirty = malloc((total ? total : 1) * sizeof *dirty);
    if (!dirty) {
        free(streams);
        return err_set(SIGLOG_ENOMEM, "out of memory");
    }
    size_t nd = 0;
    int failed = 0;
    for (size_t i = 0; i < ns; i++)
        if (streams[i]->cfg.sync_policy != SIGLOG_SYNC_NONE)
            for (uint32_t p = 0; p < streams[i]->cfg.partitions; p++) {
                partition *pt = streams[i]->parts[p];
                dirty[nd++] = pt;
                pthread_mutex_lock(&pt->mu);
                /* A partition failed at open for damage has nothing in
                 * the journal (its open would have failed otherwise). */
                if (pt->failed && !pt->damaged && !failed)
                    failed = err_set(SIGLOG_EFAILED,
                                     "%s: failed partition (%s); the journal keeps its batches for the next open",
                                     pt->dir, pt->failed_detail);
                pthread_mutex_unlock(&pt->mu);
            }
    free(streams);
    /* A failed partition may have batches only the journal holds (its
     * segment write failed after the journal sync): never reset then. */
    rc = failed ? failed : sync_partitions(dirty, nd);
    free(dirty);
    if (!rc)
        rc = journal_reset(s->journal);
    if (rc)
        fail_store(s, rc);
    return rc;
}

/* Gather one partition's pending batches, possibly over several journal
 * writes when they exceed the journal's free space. */
static int gather_partition(struct siglog *s, round_state *r, uint32_t stream_id, partition *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = p->failed ? 0 : partition_seal_open_locked(p);
    uint64_t below = p->next_offset; /* what was appended before the round */
    while (!rc && !p->failed && p->pending.count && p->pending.metas[0].base_offset < below) {
        /* What this round gathered from earlier partitions is not written
         * yet but will take its share of the free space. */
        uint64_t left = journal_space_left(s->journal);
        uint64_t space = left > r->bytes ? left - r->bytes : 0;
        uint64_t taken = space > 2 * JOURNAL_ENTRY_HEADER_BYTES
                             ? partition_take_pending_locked(p, space - JOURNAL_ENTRY_HEADER_BYTES, below)
                             : 0;
        if (taken) {
            rc = round_push(r, stream_id, p);
            int more = p->pending.count && p->pending.metas[0].base_offset < below;
            if (rc || !more)
                break;
            /* inflight is taken: write this part out before the next. */
            pthread_mutex_unlock(&p->mu);
            rc = round_flush(s, r);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        /* Full journal: write what we have, checkpoint, and try again. */
        pthread_mutex_unlock(&p->mu);
        rc = round_flush(s, r);
        if (!rc)
            rc = commit_checkpoint(s);
        pthread_mutex_lock(&p->mu);
        if (!rc && journal_is_empty(s->journal) &&
            p->pending.metas[0].bytes + JOURNAL_ENTRY_HEADER_BYTES > journal_space_left(s->journal))
            rc = err_set(SIGLOG_ELIMIT, "%s: a batch of %u bytes is larger than the whole journal", p->dir,
                         p->pending.metas[0].bytes);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* One round: every durable partition once, taking all it held when the
 * round reached it. */
static int commit_round(struct siglog *s, uint64_t round)
{
    siglog_stream **streams;
    size_t ns;
    int rc = store_streams_snapshot(s, &streams, &ns);
    if (rc)
        return rc;
    round_state r = {0};
    for (size_t i = 0; i < ns && !rc; i++) {
        siglog_stream *st = streams[i];
        if (st->cfg.sync_policy == SIGLOG_SYNC_NONE)
            continue;
        for (uint32_t p = 0; p < st->cfg.partitions && !rc; p++)
            rc = gather_partition(s, &r, st->id, st->parts[p]);
    }
    int f = 0;
    if (r.count) {
        f = round_write_journal(s, &r);
        if (!f) {
            round_durable(s, round);
            f = round_apply(&r);
        }
    }
    free(streams);
    free(r.entries);
    free(r.parts);
    return rc ? rc : f;
}

/* Group commit only groups what has arrived. The threads a round served
 * come straight back with their next event, but the leader of that round
 * is already running and would lead the next one alone, so rounds would
 * alternate between one event and all the others. So the leader of round
 * `round` gives the threads of the last round a moment (yielding the CPU,
 * at most SIBLING_WAIT_US, well under one fdatasync) to enqueue again: it
 * waits while fewer of them are encoding (s->appending) or waiting for
 * this round (s->waiting[round % 2]) than the last round served. A lone
 * appender never waits. */
static void wait_for_siblings(struct siglog *s, uint64_t round)
{
    int expected = __atomic_load_n(&s->last_round_threads, __ATOMIC_RELAXED) - 1;
    if (expected <= 0)
        return;
    int64_t until = s->io->monotonic_us(s->io) + SIBLING_WAIT_US;
    while (__atomic_load_n(&s->appending, __ATOMIC_ACQUIRE) +
                   __atomic_load_n(&s->waiting[round % 2], __ATOMIC_ACQUIRE) <
               expected &&
           s->io->monotonic_us(s->io) < until)
        sched_yield();
}

int commit_sync(struct siglog *s)
{
    pthread_mutex_lock(&s->commit_mu);
    uint64_t target = s->rounds_started + 1;
    int rc = 0, counted = 0, spun = 0;
    for (;;) {
        if (s->failed) {
            rc = err_set(SIGLOG_EFAILED, "store refuses durable appends since an earlier failure: %s",
                         s->failed_detail);
            break;
        }
        if (s->rounds_done >= target)
            break;
        if (s->commit_leader) {
            /* While a round runs, a waiter's target is that round or the
             * next: waiting[target % 2] counts it for exactly one round. */
            if (!counted) {
                __atomic_fetch_add(&s->waiting[target % 2], 1, __ATOMIC_ACQ_REL);
                counted = 1;
            }
            if (!spun && __atomic_load_n(&s->rounds_synced, __ATOMIC_ACQUIRE) >= target) {
                /* Durable; its leader is writing the segments, which
                 * takes microseconds unless writeback throttles it: yield
                 * that long, then sleep until the round's end. */
                spun = 1;
                pthread_mutex_unlock(&s->commit_mu);
                int64_t until = s->io->monotonic_us(s->io) + SEGMENT_WRITE_SPIN_US;
                while (__atomic_load_n(&s->rounds_done, __ATOMIC_ACQUIRE) < target &&
                       s->io->monotonic_us(s->io) < until)
                    sched_yield();
                pthread_mutex_lock(&s->commit_mu);
                continue;
            }
            pthread_cond_wait(&s->commit_cv, &s->commit_mu);
            continue;
        }
        uint64_t round = s->rounds_started + 1; /* == target */
        if (counted)
            __atomic_fetch_sub(&s->waiting[round % 2], 1, __ATOMIC_ACQ_REL);
        s->commit_leader = 1;
        pthread_mutex_unlock(&s->commit_mu);
        wait_for_siblings(s, round);
        /* Counted only now: a thread that read the count before this
         * point enqueued its batches before, so this round gathers them
         * and it waits for this round, not the next. */
        pthread_mutex_lock(&s->commit_mu);
        s->rounds_started++;
        pthread_mutex_unlock(&s->commit_mu);
        rc = commit_round(s, round);
        pthread_mutex_lock(&s->commit_mu);
        /* The threads this round serves: its leader and its waiters. */
        __atomic_store_n(&s->last_round_threads, 1 + __atomic_exchange_n(&s->waiting[round % 2], 0, __ATOMIC_ACQ_REL),
                         __ATOMIC_RELAXED);
        s->commit_leader = 0;
        __atomic_store_n(&s->rounds_done, s->rounds_done + 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&s->commit_cv);
        if (rc)
            break;
    }
    pthread_mutex_unlock(&s->commit_mu);
    return rc;
}
