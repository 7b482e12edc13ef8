/*
 * retain — siglog_retain's engine (retain.c), for the writer's own runs
 * (store_retention.c).
 */
#ifndef SIGLOG_RETAIN_H
#define SIGLOG_RETAIN_H

#include <stdint.h>

#include "maintenance.h"

/* What a run does besides the purge, which it always does. */
#define RETAIN_MOVES 1u /* tier moves (warm) */

/* siglog_retain with `what` chosen: 0 purges only, as min_free wants
 * before it refuses appends (a move needs room for its new files while
 * the old ones are still there). */
int sl_retain(maintenance *m, int64_t now_us, const siglog_retain_options *o, unsigned what);

#endif
