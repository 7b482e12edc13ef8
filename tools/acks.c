/*
 * acks — durable-only acknowledgements; see acks.h.
 *
 * Invariants: the queue is a ring of `cap` entries; ring[head .. head+count)
 * (mod cap) are queued in input order. Only the pusher writes free slots
 * and only the printer advances head, both under mu, so the printer may
 * read its snapshot of queued entries without the lock. An entry leaves
 * the queue only after its line went out in a successful write.
 */
#include "acks.h"

#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* 4 MiB of queue: at 1 M events/s about a quarter second, more than a
 * default 100 ms interval commit takes to come. */
#define ACKS_QUEUE_CAP (1u << 18)

typedef struct ack_entry {
    uint64_t offset;
    uint32_t partition;
} ack_entry;

struct acks {
    siglog_stream *st;
    pthread_t printer;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t changed; /* entries queued or printed, closing, failed */
    ack_entry *ring;
    size_t head, count;
    int closing;            /* no more pushes: print the rest, then end */
    int failed;             /* the printer stopped: why says why */
    int output_failed;
    char why[512];
    uint64_t *durable;      /* printer only: known durable offset per partition */
};

/* Print queued entries from head while they are durable, at most n; the
 * first is known durable. Returns how many went out, or -1 when standard
 * output failed. */
static long print_durable(acks *q, size_t n)
{
    size_t i = 0;
    for (; i < n; i++) {
        const ack_entry *e = &q->ring[(q->head + i) % ACKS_QUEUE_CAP];
        uint64_t *d = &q->durable[e->partition];
        if (e->offset >= *d && (siglog_durable_offset(q->st, e->partition, d) != 0 || e->offset >= *d))
            break;
        char line[48];
        int len = snprintf(line, sizeof line, "%" PRIu32 " %" PRIu64 "\n", e->partition, e->offset);
        if (out_write(line, (size_t)len) != 0)
            return -1;
    }
    return out_flush() != 0 ? -1 : (long)i;
}

static void *printer_main(void *arg)
{
    acks *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->count == 0 && !q->closing)
            pthread_cond_wait(&q->changed, &q->mu);
        if (q->count == 0)
            break;
        ack_entry first = q->ring[q->head];
        size_t queued = q->count;
        pthread_mutex_unlock(&q->mu);
        int rc = siglog_wait_durable(q->st, first.partition, first.offset, -1);
        long printed = 0;
        if (rc != 0)
            snprintf(q->why, sizeof q->why, "partition %" PRIu32 " offset %" PRIu64 " cannot be acknowledged: %s (%s)",
                     first.partition, first.offset, siglog_strerror(rc), siglog_errdetail());
        else if ((printed = print_durable(q, queued)) < 0)
            snprintf(q->why, sizeof q->why, "standard output failed; stopped appending");
        pthread_mutex_lock(&q->mu);
        if (rc != 0 || printed < 0) {
            q->failed = 1;
            q->output_failed = printed < 0;
            pthread_cond_broadcast(&q->changed);
            break;
        }
        q->head = (q->head + (size_t)printed) % ACKS_QUEUE_CAP;
        q->count -= (size_t)printed;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int acks_start(acks **out, siglog_stream *st)
{
    siglog_stream_config cfg;
    siglog_stream_config_get(st, &cfg);
    acks *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    q->st = st;
    q->ring = malloc(ACKS_QUEUE_CAP * sizeof *q->ring);
    q->durable = calloc(cfg.partitions, sizeof *q->durable);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->changed, NULL);
    int rc = q->ring && q->durable ? pthread_create(&q->printer, NULL, printer_main, q) : ENOMEM;
    if (rc) {
        acks_free(q);
        errno = rc;
        return -1;
    }
    q->running = 1;
    *out = q;
    return 0;
}

int acks_push(acks *q, const uint32_t *partitions, const uint64_t *offsets, size_t n)
{
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < n && !q->failed; i++) {
        while (q->count == ACKS_QUEUE_CAP && !q->failed)
            pthread_cond_wait(&q->changed, &q->mu);
        q->ring[(q->head + q->count) % ACKS_QUEUE_CAP] = (ack_entry){offsets[i], partitions[i]};
        q->count++;
    }
    pthread_cond_broadcast(&q->changed);
    int failed = q->failed;
    pthread_mutex_unlock(&q->mu);
    return failed ? -1 : 0;
}

int acks_finish(acks *q)
{
    if (q->running) {
        pthread_mutex_lock(&q->mu);
        q->closing = 1;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->printer, NULL);
        q->running = 0;
    }
    return q->failed ? -1 : 0;
}

const char *acks_error(const acks *q)
{
    return q->failed ? q->why : "";
}

int acks_output_failed(const acks *q)
{
    return q->output_failed;
}

void acks_free(acks *q)
{
    if (!q)
        return;
    acks_finish(q);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->changed);
    free(q->ring);
    free(q->durable);
    free(q);
}
