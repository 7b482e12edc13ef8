/*
 * background — the scheduler of periodic tasks; see background.h.
 */
#include "background.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"

typedef struct task {
    const char *name;
    background_fn fn;
    void *ctx;
    int64_t due_us; /* CLOCK_MONOTONIC */
} task;

struct background {
    pthread_mutex_t mu;  /* guards everything below */
    pthread_cond_t cv;   /* CLOCK_MONOTONIC: stop and new tasks */
    task tasks[BACKGROUND_TASKS_MAX];
    size_t count;
    int stop;
    int running;         /* the thread exists (start .. stop) */
    pthread_t thread;
};

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int64_t clamp_delay(int64_t us)
{
    return us < BACKGROUND_DELAY_MIN_US ? BACKGROUND_DELAY_MIN_US
           : us > BACKGROUND_DELAY_MAX_US ? BACKGROUND_DELAY_MAX_US
                                          : us;
}

background *sl_background_new(void)
{
    background *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &attr);
    pthread_condattr_destroy(&attr);
    return b;
}

int sl_background_register(background *b, const char *name, int64_t delay_us, background_fn fn, void *ctx)
{
    if (!name || !fn)
        return sl_err_set(SIGLOG_EINVAL, "background task: a name and a function are required");
    pthread_mutex_lock(&b->mu);
    int rc = 0;
    if (b->count == BACKGROUND_TASKS_MAX)
        rc = sl_err_set(SIGLOG_ELIMIT, "background task '%s': the scheduler holds %d tasks already", name,
                     BACKGROUND_TASKS_MAX);
    else
        b->tasks[b->count++] = (task){name, fn, ctx, now_us() + clamp_delay(delay_us)};
    pthread_cond_broadcast(&b->cv); /* it may fall due before the one waited for */
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* The task due first, or NULL when there is none. Caller holds mu. */
static task *first_due(background *b)
{
    task *first = NULL;
    for (size_t i = 0; i < b->count; i++)
        if (!first || b->tasks[i].due_us < first->due_us)
            first = &b->tasks[i];
    return first;
}

static void *background_main(void *arg)
{
    background *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        task *t = first_due(b);
        int64_t now = now_us();
        int64_t due = t ? t->due_us : now + BACKGROUND_DELAY_MAX_US;
        if (t && due <= now) {
            /* Tasks are only ever added, so t stays valid unlocked. */
            background_fn fn = t->fn;
            void *ctx = t->ctx;
            pthread_mutex_unlock(&b->mu);
            int64_t delay = fn(ctx);
            pthread_mutex_lock(&b->mu);
            t->due_us = now_us() + clamp_delay(delay);
            continue;
        }
        struct timespec until = {.tv_sec = (time_t)(due / 1000000), .tv_nsec = (long)(due % 1000000) * 1000};
        pthread_cond_timedwait(&b->cv, &b->mu, &until);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int sl_background_start(background *b)
{
    pthread_mutex_lock(&b->mu);
    b->stop = 0;
    int rc = b->running ? 0 : pthread_create(&b->thread, NULL, background_main, b);
    if (!rc)
        b->running = 1;
    pthread_mutex_unlock(&b->mu);
    return rc ? sl_err_errno(-rc, "starting the background thread") : 0;
}

void sl_background_stop(background *b)
{
    pthread_mutex_lock(&b->mu);
    int running = b->running;
    b->stop = 1;
    b->running = 0;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (running)
        pthread_join(b->thread, NULL);
}

void sl_background_free(background *b)
{
    if (!b)
        return;
    sl_background_stop(b);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}
