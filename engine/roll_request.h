/*
 * roll_request — the file by which a maintenance process asks the live
 * writer of its store to roll some active segments and scrub its commit
 * journal: streams/NAME/roll.request (FORMAT.md, "Roll request").
 *
 * Why: maintenance never touches an active segment or the journal (the
 * writer owns both), yet a forget must remove events that sit in an
 * active segment, and bytes of them the journal still holds from earlier
 * generations. Without a writer the forget opens the store as its writer
 * and does both itself (forget_roll.h); with one, it writes this file,
 * and the writer's background task (store_roll_request.c) rolls each
 * named partition as a size roll would, checkpoints and zeroes the
 * journal's old bytes, then removes the file: its absence is the answer.
 * The forget then reads the catalog generations the roll published and
 * checks that the segments it saw active are sealed.
 *
 * One per stream at a time (one maintenance handle per store). Written
 * by the atomic-replace recipe, so the writer sees no request or the
 * whole one; the writer parses it as untrusted input and leaves a bad one
 * in place (logged), which the asking forget withdraws when its wait ends.
 * Read-only handles never look at it.
 */
#ifndef SIGLOG_ROLL_REQUEST_H
#define SIGLOG_ROLL_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define ROLL_REQUEST_FILE "roll.request"
#define ROLL_REQUEST_HEADER_BYTES 32
#define ROLL_REQUEST_TRAILER_BYTES 8
#include "siglog.h"

/* A stream has at most SIGLOG_PARTITIONS_MAX partitions: a count beyond
 * is damage. */
#define ROLL_REQUEST_PARTS_MAX SIGLOG_PARTITIONS_MAX

typedef struct roll_request {
    uint64_t store_id;
    int64_t asked_us;  /* when it was written, unix microseconds */
    uint32_t n;        /* partitions to roll; 0: scrub the journal only */
    uint32_t *parts;   /* n partition numbers, strictly ascending */
} roll_request;

/* The encoding of r (ROLL_REQUEST_HEADER_BYTES + 4 n + 8 bytes into buf,
 * which holds them). */
size_t sl_roll_request_size(uint32_t n);
void sl_roll_request_encode(uint8_t *buf, const roll_request *r);
/* Untrusted bytes of a store with id store_id: SIGLOG_ECORRUPT (or
 * SIGLOG_EVERSION) naming the file `name` and the byte at fault; on
 * success *r owns a copy of the partitions (sl_roll_request_free). */
int sl_roll_request_decode(const uint8_t *buf, size_t len, uint64_t store_id, const char *name, roll_request *r);
void sl_roll_request_free(roll_request *r);

/* stream_dir's request: 1 and *r when there is one, 0 when none, or the
 * decoding error naming the file. */
int sl_roll_request_load(const siglog_io *io, const char *stream_dir, uint64_t store_id, roll_request *r);
/* Write r durably (atomic replace; the directory synced). */
int sl_roll_request_write(const siglog_io *io, const char *stream_dir, const roll_request *r, uint32_t mode);
/* Remove the request durably (the directory synced); none is fine. */
int sl_roll_request_remove(const siglog_io *io, const char *stream_dir);
/* 1 when stream_dir holds a request, 0 when not, or the I/O error. */
int sl_roll_request_pending(const siglog_io *io, const char *stream_dir);

#endif
