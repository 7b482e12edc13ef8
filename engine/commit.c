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

struct commit {
    pthread_mutex_t mu;             /* guards the fields below */
    pthread_cond_t cv;
    int leader;                     /* a thread is running a commit round,
                                     * or sl_commit_exclusive's function */
    int exclusive_waiting;          /* sl_commit_exclusive calls waiting to
                                     * lead: no round starts meanwhile */
    uint64_t rounds_started;
    uint64_t rounds_synced;         /* atomic: the last round whose journal
                                     * sync returned */
    uint64_t rounds_done;           /* written under mu, atomically:
                                     * waiters may poll it unlocked */
    int appending;                  /* atomic: ALWAYS appenders encoding */
    int waiting[2];                 /* atomic: threads waiting for round r,
                                     * at [r % 2] */
    int last_round_threads;         /* atomic: threads the last round served */
    int failed;                     /* SIGLOG code after a journal failure;
                                     * written under mu, atomically:
                                     * durability waiters read it under a
                                     * partition's mu (durable.c) */
    char failed_detail[SL_ERR_DETAIL_MAX];
};

commit *sl_commit_new(void)
{
    commit *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return c;
}

void sl_commit_free(commit *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void sl_commit_appender_enter(commit *c)
{
    __atomic_fetch_add(&c->appending, 1, __ATOMIC_ACQ_REL);
}

void sl_commit_appender_leave(commit *c)
{
    __atomic_fetch_sub(&c->appending, 1, __ATOMIC_ACQ_REL);
}

int sl_commit_failed(const commit *c)
{
    return __atomic_load_n(&c->failed, __ATOMIC_ACQUIRE);
}

const int *sl_commit_failed_flag(const commit *c)
{
    return &c->failed;
}

void sl_commit_failed_detail(commit *c, char *buf, size_t len)
{
    pthread_mutex_lock(&c->mu);
    snprintf(buf, len, "%s", c->failed_detail);
    pthread_mutex_unlock(&c->mu);
}

typedef struct round_state {
    journal_entry *entries;
    partition **parts;
    size_t count, cap;
    uint64_t bytes; /* journal bytes the gathered entries will take */
} round_state;

/* Record the first failure; 1 when this call recorded it. (nonnull, here
 * and on round_durable: gcc's UBSan null-check path otherwise trips
 * -Wstringop-overflow on the atomic stores.) */
__attribute__((nonnull)) static int record_failure(commit *c, int code)
{
    pthread_mutex_lock(&c->mu);
    int first = !c->failed;
    if (first) {
        snprintf(c->failed_detail, sizeof c->failed_detail, "%s", siglog_errdetail());
        __atomic_store_n(&c->failed, code, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&c->mu);
    return first;
}

static void fail_store(struct siglog *s, int code)
{
    if (record_failure(s->commit, code))
        sl_store_wake_durable_waiters(s);
}

static int round_push(round_state *r, uint32_t stream_id, partition *p, const partition_take *t)
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
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        r->cap = cap;
    }
    r->entries[r->count] = (journal_entry){stream_id, sl_partition_id(p), t->bytes, t->len};
    r->parts[r->count++] = p;
    r->bytes += journal_entry_bytes(t->len);
    return 0;
}

/* Journal write + one fdatasync for everything gathered. On failure the
 * store and the gathered partitions fail and nothing is kept. */
static int round_write_journal(struct siglog *s, round_state *r)
{
    int rc = sl_journal_write(s->journal, r->entries, r->count);
#ifndef SIGLOG_BROKEN_ACK_BEFORE_FSYNC
    if (!rc)
        rc = sl_journal_sync(s->journal);
#endif
    if (!rc)
        return 0;
    fail_store(s, rc);
    for (size_t i = 0; i < r->count; i++)
        sl_partition_fail_inflight(r->parts[i], rc);
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
        int a = sl_partition_apply_inflight(r->parts[i]);
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
__attribute__((nonnull)) static void round_durable(commit *c, uint64_t round)
{
    pthread_mutex_lock(&c->mu);
    __atomic_store_n(&c->rounds_synced, round, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

typedef struct sync_job {
    int (*checkpoint)(partition *p); /* what each partition does */
    partition **parts;
    size_t n;
    size_t next;         /* atomic */
    pthread_mutex_t mu;  /* guards rc and detail */
    int rc;              /* the first error */
    char detail[SL_ERR_DETAIL_MAX]; /* its detail: error details are per thread */
} sync_job;

static void *sync_worker(void *arg)
{
    sync_job *job = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->n)
            return NULL;
        int rc = job->checkpoint(job->parts[i]);
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

/* Checkpoint the given partitions (sl_partition_journal_checkpoint, or
 * at a close sl_partition_close_checkpoint: their segments synced, their
 * floors raised) with a few threads in parallel. The first error comes
 * back with its detail, whichever thread met it. */
static int sync_partitions(partition **parts, size_t n, int (*checkpoint)(partition *p))
{
    sync_job job = {.checkpoint = checkpoint, .parts = parts, .n = n};
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
    return job.rc ? sl_err_set(job.rc, "%s", job.detail) : 0;
}

static int checkpoint_with(struct siglog *s, int (*checkpoint)(partition *p))
{
    siglog_stream **streams;
    size_t ns;
    int rc = sl_store_streams_snapshot(s, &streams, &ns);
    if (rc)
        return rc;
    size_t total = 0;
    for (size_t i = 0; i < ns; i++)
        total += streams[i]->cfg.partitions;
    partition **dirty = malloc((total ? total : 1) * sizeof *dirty);
    if (!dirty) {
        free(streams);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    size_t nd = 0;
    int failed = 0;
    for (size_t i = 0; i < ns; i++)
        if (STREAM_SETTING(streams[i], sync_policy) != SIGLOG_SYNC_NONE)
            for (uint32_t p = 0; p < streams[i]->cfg.partitions; p++) {
                partition *pt = streams[i]->parts[p];
                dirty[nd++] = pt;
                if (!failed)
                    failed = sl_partition_check_journal_release(pt);
            }
    free(streams);
    /* A failed partition may have batches only the journal holds (its
     * segment write failed after the journal sync): never reset then. */
    rc = failed ? failed : sync_partitions(dirty, nd, checkpoint);
    free(dirty);
    if (!rc)
        rc = sl_journal_reset(s->journal);
    if (rc)
        fail_store(s, rc);
    return rc;
}

int sl_commit_checkpoint(struct siglog *s)
{
    return checkpoint_with(s, sl_partition_journal_checkpoint);
}

int sl_commit_close_checkpoint(struct siglog *s)
{
    return checkpoint_with(s, sl_partition_close_checkpoint);
}

/* Gather one partition's pending batches, possibly over several journal
 * writes when they exceed the journal's free space. */
static int gather_partition(struct siglog *s, round_state *r, uint32_t stream_id, partition *p)
{
    uint64_t below;
    int rc = sl_partition_commit_begin(p, &below);
    while (!rc) {
        /* What this round gathered from earlier partitions is not written
         * yet but will take its share of the free space. */
        uint64_t left = sl_journal_space_left(s->journal);
        uint64_t space = left > r->bytes ? left - r->bytes : 0;
        partition_take t;
        rc = sl_partition_take_pending(p, space > 2 * JOURNAL_ENTRY_HEADER_BYTES ? space - JOURNAL_ENTRY_HEADER_BYTES : 0,
                                    below, &t);
        if (rc)
            break;
        if (t.len) {
            rc = round_push(r, stream_id, p, &t);
            if (rc || !t.more)
                break;
            /* inflight is taken: write this part out before the next. */
            rc = round_flush(s, r);
            continue;
        }
        if (!t.first_bytes)
            break; /* nothing (more) to take */
        /* Full journal: write what we have, checkpoint, and try again. */
        rc = round_flush(s, r);
        if (!rc)
            rc = sl_commit_checkpoint(s);
        if (!rc && sl_journal_is_empty(s->journal) &&
            t.first_bytes + JOURNAL_ENTRY_HEADER_BYTES > sl_journal_space_left(s->journal))
            rc = sl_err_set(SIGLOG_ELIMIT, "%s: a batch of %u bytes is larger than the whole journal", sl_partition_path(p),
                         t.first_bytes);
    }
    return rc;
}

/* One round: every durable partition once, taking all it held when the
 * round reached it. */
static int commit_round(struct siglog *s, uint64_t round)
{
    siglog_stream **streams;
    size_t ns;
    int rc = sl_store_streams_snapshot(s, &streams, &ns);
    if (rc)
        return rc;
    round_state r = {0};
    for (size_t i = 0; i < ns && !rc; i++) {
        siglog_stream *st = streams[i];
        if (STREAM_SETTING(st, sync_policy) == SIGLOG_SYNC_NONE)
            continue;
        for (uint32_t p = 0; p < st->cfg.partitions && !rc; p++)
            rc = gather_partition(s, &r, st->id, st->parts[p]);
    }
    int f = 0;
    if (r.count) {
        f = round_write_journal(s, &r);
        if (!f) {
            round_durable(s->commit, round);
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
 * waits while fewer of them are encoding (appending) or waiting for
 * this round (waiting[round % 2]) than the last round served. A lone
 * appender never waits. */
static void wait_for_siblings(struct siglog *s, uint64_t round)
{
    commit *c = s->commit;
    int expected = __atomic_load_n(&c->last_round_threads, __ATOMIC_RELAXED) - 1;
    if (expected <= 0)
        return;
    int64_t until = s->io->monotonic_us(s->io) + SIBLING_WAIT_US;
    while (__atomic_load_n(&c->appending, __ATOMIC_ACQUIRE) +
                   __atomic_load_n(&c->waiting[round % 2], __ATOMIC_ACQUIRE) <
               expected &&
           s->io->monotonic_us(s->io) < until)
        sched_yield();
}

int sl_commit_sync(struct siglog *s)
{
    commit *c = s->commit;
    pthread_mutex_lock(&c->mu);
    uint64_t target = c->rounds_started + 1;
    int rc = 0, counted = 0, spun = 0;
    for (;;) {
        if (c->failed) {
            rc = sl_err_set(SIGLOG_EFAILED, "store refuses durable appends since an earlier failure: %s",
                         c->failed_detail);
            break;
        }
        if (c->rounds_done >= target)
            break;
        if (!c->leader && c->exclusive_waiting) {
            /* Waiters come back for the next round at once: without this
             * a sl_commit_exclusive caller could wait for ever. */
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        if (c->leader) {
            /* While a round runs, a waiter's target is that round or the
             * next: waiting[target % 2] counts it for exactly one round. */
            if (!counted) {
                __atomic_fetch_add(&c->waiting[target % 2], 1, __ATOMIC_ACQ_REL);
                counted = 1;
            }
            if (!spun && __atomic_load_n(&c->rounds_synced, __ATOMIC_ACQUIRE) >= target) {
                /* Durable; its leader is writing the segments, which
                 * takes microseconds unless writeback throttles it: yield
                 * that long, then sleep until the round's end. */
                spun = 1;
                pthread_mutex_unlock(&c->mu);
                int64_t until = s->io->monotonic_us(s->io) + SEGMENT_WRITE_SPIN_US;
                while (__atomic_load_n(&c->rounds_done, __ATOMIC_ACQUIRE) < target &&
                       s->io->monotonic_us(s->io) < until)
                    sched_yield();
                pthread_mutex_lock(&c->mu);
                continue;
            }
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        uint64_t round = c->rounds_started + 1; /* == target */
        if (counted)
            __atomic_fetch_sub(&c->waiting[round % 2], 1, __ATOMIC_ACQ_REL);
        c->leader = 1;
        pthread_mutex_unlock(&c->mu);
        wait_for_siblings(s, round);
        /* Counted only now: a thread that read the count before this
         * point enqueued its batches before, so this round gathers them
         * and it waits for this round, not the next. */
        pthread_mutex_lock(&c->mu);
        c->rounds_started++;
        pthread_mutex_unlock(&c->mu);
        rc = commit_round(s, round);
        pthread_mutex_lock(&c->mu);
        /* The threads this round serves: its leader and its waiters. */
        __atomic_store_n(&c->last_round_threads, 1 + __atomic_exchange_n(&c->waiting[round % 2], 0, __ATOMIC_ACQ_REL),
                         __ATOMIC_RELAXED);
        c->leader = 0;
        __atomic_store_n(&c->rounds_done, c->rounds_done + 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&c->mu);
        /* After the unlock: the threads this round served would otherwise
         * wake only to sleep again on the mutex the leader holds. Its own
         * round is its target (round >= target), so it is done. */
        pthread_cond_broadcast(&c->cv);
        return rc;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sl_commit_exclusive(struct siglog *s, int (*fn)(void *ctx), void *ctx)
{
    commit *c = s->commit;
    pthread_mutex_lock(&c->mu);
    c->exclusive_waiting++;
    while (c->leader)
        pthread_cond_wait(&c->cv, &c->mu);
    c->exclusive_waiting--;
    c->leader = 1;
    pthread_mutex_unlock(&c->mu);
    int rc = fn(ctx);
    pthread_mutex_lock(&c->mu);
    c->leader = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return rc;
}
