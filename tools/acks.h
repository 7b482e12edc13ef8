/*
 * acks — the acknowledgements of `siglog append --ack`: "PARTITION OFFSET"
 * per event, in input order, printed only once the event is durable under
 * its stream's sync policy (siglog_wait_durable; siglog.h says what that
 * means per policy). So whatever stdout shows survives a kill -9 of the
 * process at any moment, and for `interval` and `always` streams a power
 * cut too.
 *
 * The appending thread queues each event's partition and offset once
 * siglog_append returned; a printer thread sleeps in siglog_wait_durable
 * for the oldest queued event, then prints every queued event that is
 * durable by then, in order, and flushes them in one write. Appending never
 * waits for a commit (an interval stream keeps its throughput) unless the
 * queue is full, which bounds its memory.
 *
 * The printer thread must be started while SIGINT/SIGTERM are blocked
 * (interrupt.h), so they reach the reading thread.
 */
#ifndef SIGLOG_ACKS_H
#define SIGLOG_ACKS_H

#include <stddef.h>
#include <stdint.h>

#include "siglog.h"

typedef struct acks acks;

/* Start the printer for stream st. 0, or -1 (out of memory or no thread;
 * errno says which). */
int acks_start(acks **out, siglog_stream *st);
/* Queue n events' acknowledgements (blocking while the queue is full).
 * 0, or -1 once the printer has stopped on an error (acks_error). */
int acks_push(acks *q, const uint32_t *partitions, const uint64_t *offsets, size_t n);
/* No more pushes: wait until every queued acknowledgement is printed (or
 * the printer stopped on an error), stop the printer. 0 or -1
 * (acks_error). The caller should make everything durable first
 * (siglog_sync), or the last ones wait for the stream's own commit. */
int acks_finish(acks *q);
/* Why the printer stopped: one line; "" if it did not. */
const char *acks_error(const acks *q);
/* Non-zero when the printer stopped because standard output failed
 * (out_finish tells how). */
int acks_output_failed(const acks *q);
void acks_free(acks *q);

#endif
