/*
 * bytebuf — a growable byte buffer, reused on hot paths so that steady-state
 * appends and reads allocate (and first-touch) no new memory.
 */
#ifndef SIGLOG_BYTEBUF_H
#define SIGLOG_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct bytebuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} bytebuf;

/* Ensure room for `extra` more bytes after len. 0 or SIGLOG_ENOMEM. */
int sl_bytebuf_reserve(bytebuf *b, size_t extra);
int sl_bytebuf_append(bytebuf *b, const void *p, size_t n);
void sl_bytebuf_free(bytebuf *b);

#endif
