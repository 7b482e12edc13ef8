/*
 * cursor — what the batch reader (cursor_batch.c) needs of a cursor beyond
 * the public calls: putting back the record it could not take, and keeping
 * an error for the next read when it already holds records to hand out.
 */
#ifndef SIGLOG_CURSOR_H
#define SIGLOG_CURSOR_H

#include "siglog.h"

/* The record the last siglog_cursor_next returned is returned again by
 * the next read (its bytes stay where they are until then). A seek
 * forgets it. */
void sl_cursor_unread(siglog_cursor *c);

/* The next read fails with `code` and this thread's current detail
 * instead of reading on: an error met after some records of a batch must
 * reach the caller once those are handed out, never be lost (a cursor
 * that met EGAP has moved on already). A seek forgets it. */
void sl_cursor_defer_error(siglog_cursor *c, int code);

#endif
