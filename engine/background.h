/*
 * background — a small scheduler of named periodic tasks on one thread.
 *
 * The writer's periodic work (sealing lingering batches, interval
 * commits, rolling old segments; retention and compaction later) is a
 * list of tasks, each a function, its context and the time until its next
 * run. One thread runs whichever task is due, one at a time, in the order
 * they fall due; a task's function returns how long until it wants to run
 * again, so a task whose period follows a setting picks up a change at
 * its next run.
 *
 * Locking: `mu` (private) guards the task list and the stop flag; a task
 * runs without it, so a task may take any lock but must not call
 * sl_background_register or sl_background_stop of its own scheduler. Tasks may
 * be registered before or after start. sl_background_stop returns only once
 * the thread is gone: no task runs after it returns.
 */
#ifndef SIGLOG_BACKGROUND_H
#define SIGLOG_BACKGROUND_H

#include <stdint.h>

#define BACKGROUND_TASKS_MAX 8
/* A task's delay is clamped to this range: never a busy loop, and a
 * stop or a new registration is never more than this late. */
#define BACKGROUND_DELAY_MIN_US 1000
#define BACKGROUND_DELAY_MAX_US 1000000

typedef struct background background;

/* Run once; return the microseconds until the next run (clamped to
 * BACKGROUND_DELAY_MIN_US..BACKGROUND_DELAY_MAX_US). */
typedef int64_t (*background_fn)(void *ctx);

/* A scheduler with no task and no thread yet. NULL when out of memory. */
background *sl_background_new(void);
/* Add a task, first run delay_us from now. SIGLOG_ELIMIT beyond
 * BACKGROUND_TASKS_MAX tasks, SIGLOG_EINVAL without a name or function.
 * name must live as long as the scheduler. */
int sl_background_register(background *b, const char *name, int64_t delay_us, background_fn fn, void *ctx);
/* Start the thread. */
int sl_background_start(background *b);
/* Stop and join the thread (a running task finishes first). Idempotent. */
void sl_background_stop(background *b);
/* Stop, then free. NULL is a no-op. */
void sl_background_free(background *b);

#endif
