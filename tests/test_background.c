/*
 * background — the scheduler of named periodic tasks runs each task again
 * after the delay it asks for, runs them one at a time, takes tasks
 * registered while it sleeps, and stops cleanly: sl_background_stop waits
 * for a running task, and nothing runs after it returns. No timing
 * target: only order and counts.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>

#include "background.h"
#include "siglog.h"

typedef struct counter {
    int runs;          /* atomic: runs finished */
    int64_t delay_us;
    int *overlap;      /* set when two tasks ran at once */
    int *running;      /* shared count of tasks running */
} counter;

static int64_t count_task(void *ctx)
{
    counter *c = ctx;
    if (c->running && __atomic_add_fetch(c->running, 1, __ATOMIC_ACQ_REL) > 1)
        __atomic_store_n(c->overlap, 1, __ATOMIC_RELEASE);
    struct timespec work = {0, 100000};
    nanosleep(&work, NULL);
    if (c->running)
        __atomic_sub_fetch(c->running, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&c->runs, 1, __ATOMIC_ACQ_REL);
    return c->delay_us;
}

static int runs(counter *c)
{
    return __atomic_load_n(&c->runs, __ATOMIC_ACQUIRE);
}

/* Wait (generously: the machine may be loaded) until c ran n times. */
static int wait_runs(counter *c, int n)
{
    for (int i = 0; i < 30000 && runs(c) < n; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return runs(c) >= n;
}

Test(background, runs_each_task_again_and_again)
{
    background *b = sl_background_new();
    cr_assert_not_null(b);
    int running = 0, overlap = 0;
    counter fast = {.delay_us = 0, .running = &running, .overlap = &overlap};
    counter slow = {.delay_us = 2000, .running = &running, .overlap = &overlap};
    cr_assert_eq(sl_background_register(b, "fast", 0, count_task, &fast), 0);
    cr_assert_eq(sl_background_register(b, "slow", 0, count_task, &slow), 0);
    cr_assert_eq(sl_background_start(b), 0);
    cr_assert(wait_runs(&fast, 20), "the fast task ran %d times", runs(&fast));
    cr_assert(wait_runs(&slow, 5), "the slow task ran %d times", runs(&slow));
    sl_background_free(b);
    cr_assert_eq(overlap, 0, "two tasks ran at once");
}

Test(background, takes_a_task_registered_while_running)
{
    background *b = sl_background_new();
    counter first = {.delay_us = BACKGROUND_DELAY_MAX_US}, later = {.delay_us = 0};
    cr_assert_eq(sl_background_register(b, "first", 0, count_task, &first), 0);
    cr_assert_eq(sl_background_start(b), 0);
    cr_assert(wait_runs(&first, 1));
    struct timespec ms20 = {0, 20000000};
    nanosleep(&ms20, NULL);
    /* The thread now sleeps up to a second for "first": a new task wakes it. */
    cr_assert_eq(sl_background_register(b, "later", 0, count_task, &later), 0);
    cr_assert(wait_runs(&later, 3), "the task registered while running ran %d times", runs(&later));
    cr_assert_eq(runs(&first), 1, "the new task waited for the sleeping one's next run");
    sl_background_free(b);
}

/* A task that holds the scheduler in its run until the test releases it. */
typedef struct gate {
    int started;  /* atomic */
    int release;  /* atomic */
    int runs;     /* atomic: runs finished */
} gate;

static int64_t gated_task(void *ctx)
{
    gate *g = ctx;
    __atomic_store_n(&g->started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&g->release, __ATOMIC_ACQUIRE)) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    __atomic_add_fetch(&g->runs, 1, __ATOMIC_ACQ_REL);
    return 0;
}

typedef struct stopper {
    background *b;
    int done; /* atomic */
} stopper;

static void *stop_main(void *arg)
{
    stopper *s = arg;
    sl_background_stop(s->b);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

Test(background, stop_waits_for_the_running_task_and_nothing_runs_after)
{
    background *b = sl_background_new();
    gate g = {0};
    cr_assert_eq(sl_background_register(b, "gated", 0, gated_task, &g), 0);
    cr_assert_eq(sl_background_start(b), 0);
    while (!__atomic_load_n(&g.started, __ATOMIC_ACQUIRE)) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    stopper s = {.b = b};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_main, &s), 0);
    struct timespec ms20 = {0, 20000000};
    nanosleep(&ms20, NULL);
    cr_assert_eq(__atomic_load_n(&s.done, __ATOMIC_ACQUIRE), 0, "background_stop returned while a task ran");
    __atomic_store_n(&g.release, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    cr_assert_eq(__atomic_load_n(&g.runs, __ATOMIC_ACQUIRE), 1);
    nanosleep(&ms20, NULL);
    cr_assert_eq(__atomic_load_n(&g.runs, __ATOMIC_ACQUIRE), 1, "a task ran after background_stop returned");
    sl_background_stop(b); /* idempotent */
    sl_background_free(b);
}

Test(background, stop_without_start_and_free_null)
{
    background *b = sl_background_new();
    sl_background_stop(b);
    sl_background_free(b);
    sl_background_free(NULL);
}

Test(background, bounds_the_task_list)
{
    background *b = sl_background_new();
    counter c = {0};
    for (int i = 0; i < BACKGROUND_TASKS_MAX; i++)
        cr_assert_eq(sl_background_register(b, "t", BACKGROUND_DELAY_MAX_US, count_task, &c), 0);
    cr_assert_eq(sl_background_register(b, "one-too-many", 0, count_task, &c), SIGLOG_ELIMIT);
    cr_assert_eq(sl_background_register(b, NULL, 0, count_task, &c), SIGLOG_EINVAL);
    sl_background_free(b);
}
