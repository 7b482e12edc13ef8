/*
 * batch_pipe — batch slots between a reading and an appending thread
 * (batch_pipe.h says why).
 *
 * Invariant: the slots are filled and consumed in turn, 0, 1, ..., n - 1,
 * 0, ...: fill is the slot the reader fills next, take the one the
 * consumer takes next, and full[i] says slot i is submitted and not yet
 * consumed. The
 * reader touches a slot only while it is not full, the consumer only while
 * it is, and full changes under mu, so a slot has one user at a time.
 */
#include "batch_pipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct batch_pipe {
    void *slot[BATCH_PIPE_SLOTS_MAX];
    unsigned n;
    batch_pipe_consume consume;
    void *ctx;
    int threaded;
    pthread_t consumer;
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a slot submitted or freed, a failure, closing */
    int full[BATCH_PIPE_SLOTS_MAX];
    unsigned fill, take;
    int status;  /* the consumer's first failure, or 0 */
    int closing; /* nothing more will be submitted */
};

static void *consumer_main(void *arg)
{
    batch_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->full[p->take] && !p->closing)
            pthread_cond_wait(&p->changed, &p->mu);
        if (!p->full[p->take])
            break; /* closing, and every batch taken */
        int failed = p->status;
        pthread_mutex_unlock(&p->mu);
        int rc = failed ? 0 : p->consume(p->ctx, p->slot[p->take]);
        pthread_mutex_lock(&p->mu);
        if (rc && !p->status)
            p->status = rc;
        p->full[p->take] = 0;
        p->take = (p->take + 1) % p->n;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int batch_pipe_start(batch_pipe **out, void *const *slots, unsigned n, batch_pipe_consume consume, void *ctx,
                     int threaded)
{
    if (n < 1 || n > BATCH_PIPE_SLOTS_MAX) {
        errno = EINVAL;
        return -1;
    }
    batch_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    *p = (batch_pipe){ .n = n, .consume = consume, .ctx = ctx, .threaded = threaded };
    for (unsigned i = 0; i < n; i++)
        p->slot[i] = slots[i];
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->changed, NULL);
    int rc = threaded ? pthread_create(&p->consumer, NULL, consumer_main, p) : 0;
    if (rc != 0) {
        pthread_cond_destroy(&p->changed);
        pthread_mutex_destroy(&p->mu);
        free(p);
        errno = rc;
        return -1;
    }
    *out = p;
    return 0;
}

void *batch_pipe_next(batch_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->full[p->fill] && !p->status)
        pthread_cond_wait(&p->changed, &p->mu);
    void *s = p->status ? NULL : p->slot[p->fill];
    pthread_mutex_unlock(&p->mu);
    return s;
}

void batch_pipe_submit(batch_pipe *p)
{
    if (!p->threaded) {
        if (!p->status)
            p->status = p->consume(p->ctx, p->slot[p->fill]);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->full[p->fill] = 1;
    p->fill = (p->fill + 1) % p->n;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
}

int batch_pipe_finish(batch_pipe *p)
{
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->closing = 1;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->consumer, NULL);
    }
    int status = p->status;
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return status;
}
