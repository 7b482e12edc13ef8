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

int lines_init(lines *r, int fd, size_t line_max)
{
    *r = (lines){ .fd = fd, .line_max = line_max, .cap = LINES_READ_BYTES };
    r->buf = malloc(r->cap);
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
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->cap - r->end < LINES_READ_BYTES / 2) {
        if (r->end > r->line_max)
            return LINES_ERR_LONG;
        size_t cap = r->cap * 2;
        char *b = realloc(r->buf, cap);
        if (!b)
            return LINES_ERR_NOMEM;
        r->buf = b;
        r->cap = cap;
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
