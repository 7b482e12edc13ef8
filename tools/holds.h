/*
 * holds — what the consumers' holds keep from retention, for `siglog
 * stat`: per holding consumer and partition, the offsets it has not
 * committed past and, under the stream's max_hold, until when they are
 * kept for it.
 */
#ifndef SIGLOG_HOLDS_H
#define SIGLOG_HOLDS_H

#include "siglog.h"

#include <stdint.h>

typedef struct hold_row {
    const char *consumer;
    uint32_t partition;
    uint64_t from, to;  /* offsets [from, to) the hold keeps; from < to */
    int64_t first_us;   /* timestamp of the event at from */
    int have_first;     /* 0 when from's event could not be read */
    int64_t until_us;   /* first_us + max_hold: when the hold stops keeping
                         * that event */
    int limited;        /* 0: max_hold is 0, kept until committed past */
} hold_row;

/* Call fn for every (holding consumer, partition) that keeps events, in
 * consumer name and partition order; fn's non-zero return stops and is
 * returned. A library error is returned as its code. */
int holds_foreach(siglog_stream *st, int (*fn)(void *ctx, const hold_row *h), void *ctx);

#endif
