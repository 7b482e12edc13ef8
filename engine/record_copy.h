/*
 * record_copy — a siglog_record copied with its key, value and headers
 * into one caller-owned block of bytes, nothing pointing outside it, so
 * the copy outlives the cursor that produced the record (a batch of
 * records handed out at once, records held back for reordering).
 */
#ifndef SIGLOG_RECORD_COPY_H
#define SIGLOG_RECORD_COPY_H

#include <siglog.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes a copy of r takes when it is placed after `used` bytes already in
 * use (its header array is aligned for siglog_header). */
size_t sl_record_copy_bytes(const siglog_record *r, size_t used);

/* Copy r into *out and buf at *used, which moves past the copy; the
 * caller has checked that sl_record_copy_bytes(r, *used) bytes fit. */
void sl_record_copy(const siglog_record *r, siglog_record *out, uint8_t *buf, size_t *used);

#endif
