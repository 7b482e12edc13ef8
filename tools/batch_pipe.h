/*
 * batch_pipe — `siglog append`'s hand-off of full batches from the
 * reading thread (read, parse) to an appending thread (encode, compress,
 * write): several slots deep, so batches are parsed while the ones before
 * them are appended, and the two halves of the work share the machine's
 * cores; more than two slots let the reader run on while the appending
 * thread is held up for a while (a sync, another process on its core).
 * Batches are consumed whole, one at a time, in the order submitted.
 *
 * Inline (threaded = 0), submit consumes the batch before it returns, as
 * a plain loop would. `siglog append` runs inline on a pipe or terminal,
 * where the producer sets the pace and where a reading thread blocked on
 * input must not keep a failed append from ending the command.
 *
 * Once the consumer fails, later batches are dropped unconsumed and
 * batch_pipe_next returns NULL: the reader stops there.
 */
#ifndef SIGLOG_BATCH_PIPE_H
#define SIGLOG_BATCH_PIPE_H

/* Consume one batch: 0, or a status that stops the pipe. */
typedef int (*batch_pipe_consume)(void *ctx, void *batch);

typedef struct batch_pipe batch_pipe;

/* Most slots a pipe takes. */
#define BATCH_PIPE_SLOTS_MAX 8
/* A pipe over the n batches slots[0..n), 1 <= n <= BATCH_PIPE_SLOTS_MAX.
 * With threaded, the consuming thread inherits the caller's signal mask.
 * 0, or -1 (out of memory, no thread, a bad n; errno says which). */
int batch_pipe_start(batch_pipe **out, void *const *slots, unsigned n, batch_pipe_consume consume, void *ctx,
                     int threaded);
/* The slot to fill next, free once its last batch was consumed (waits for
 * that); NULL once the consumer has failed. */
void *batch_pipe_next(batch_pipe *p);
/* Hand over the slot batch_pipe_next returned last. */
void batch_pipe_submit(batch_pipe *p);
/* Wait until every submitted batch is consumed (or dropped after a
 * failure), stop the consumer and free the pipe. 0, or the consumer's
 * first failure. */
int batch_pipe_finish(batch_pipe *p);

#endif
