/*
 * lines — non-blocking-aware line reader; see lines.h.
 *
 * Invariant: buf[start..end) holds unread input; a line handed out lies in
 * it and is not overwritten until the caller asks with LINES_MAY_BLOCK,
 * because only that path compacts or reads.
 */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINES_READ_BYTES (1u << 20)
#define LINES_PHASE 64

/* The allocation behind cap usable bytes: the pad and room to shift the
 * data to a read's phase. */
static size_t lines_alloc_bytes(size_t cap)
{
    return cap + LINES_PAD + LINES_PHASE - 1;
}

int lines_init(lines *r, int fd, size_t line_max)
{
    *r = (lines){ .fd = fd, .line_max = line_max, .cap = LINES_READ_BYTES };
    /* Zeroed, so the bytes after the data are initialised wherever a line
     * ends (later they hold older input, also initialised). */
    r->buf = calloc(1, lines_alloc_bytes(r->cap));
    return r->buf ? 0 : LINES_ERR_NOMEM;
}

void lines_free(lines *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Make room and read once more. 0, or a LINES_ERR_* code. */
static int lines_fill(lines *r)
{
    size_t left = r->end - r->start;
    /* Room for half a read after the unread bytes, wherever their phase
     * puts them (up to LINES_PHASE - 1 bytes in). */
    if (r->cap - left < LINES_READ_BYTES / 2 + LINES_PHASE) {
        if (left > r->line_max)
            return LINES_ERR_LONG;
        size_t cap = r->cap * 2;
        char *b = realloc(r->buf, lines_alloc_bytes(cap));
        if (!b)
            return LINES_ERR_NOMEM;
        memset(b + lines_alloc_bytes(r->cap), 0, lines_alloc_bytes(cap) - lines_alloc_bytes(r->cap));
        r->buf = b;
        r->cap = cap;
    }
    /* The unread bytes go where the next read lands at its phase. */
    size_t to = (size_t)((r->read_bytes - left - (uint64_t)(uintptr_t)r->buf) & (LINES_PHASE - 1));
    if (r->start != to) {
        memmove(r->buf + to, r->buf + r->start, left);
        r->start = to;
        r->end = to + left;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return LINES_ERR_READ;
        if (n == 0)
            r->eof = 1;
        r->end += (size_t)n;
        r->read_bytes += (uint64_t)n;
        return 0;
    }
}

int lines_next(lines *r, int flags, const char **line, size_t *len)
{
    for (;;) {
        char *s = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = memchr(s, '\n', avail);
        if (nl || (r->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - s) : avail;
            if (n > r->line_max)
                return LINES_ERR_LONG;
            r->start += n + (nl ? 1 : 0);
            r->bytes_consumed += n + (nl ? 1 : 0);
            r->lineno++;
            *line = s;
            *len = n;
            return LINES_LINE;
        }
        if (r->eof)
            return LINES_EOF;
        if (!(flags & LINES_MAY_BLOCK))
            return LINES_PENDING;
        int rc = lines_fill(r);
        if (rc != 0)
            return rc;
    }
}
