/*
 * lines — a line reader over a file descriptor that can say "no complete
 * line is buffered" without blocking, so `siglog append` can batch exactly
 * the lines that have already arrived: big batches from a file, prompt
 * acknowledgements from a slow pipe.
 *
 * Lines are returned in place (without their '\n'); they stay valid until
 * the next call with LINES_MAY_BLOCK, which is the only call that moves or
 * refills the buffer. A last line without '\n' is still a line. At least
 * LINES_PAD initialised bytes follow every line in the buffer, so a parser
 * that reads whole vectors past a text's end (simdjson) can take it where
 * it lies.
 *
 * Each read from the file lands at the phase of its file offset modulo 64
 * (the leftover of the previous read is moved to that phase first): the
 * kernel copies page-cache pages several times slower on AMD Zen cores to
 * a destination 1 to 63 bytes past the source modulo the page (see the
 * engine's sl_io_read_shift).
 */
#ifndef SIGLOG_LINES_H
#define SIGLOG_LINES_H

#include <stddef.h>
#include <stdint.h>

/* Initialised bytes after every line handed out. */
#define LINES_PAD 64

typedef struct lines {
    int fd;
    char *buf;               /* cap + LINES_PAD + 63 bytes, all initialised */
    size_t cap, start, end;  /* unread bytes are buf[start..end), end <= cap */
    uint64_t read_bytes;     /* read from fd so far: the next read's offset */
    size_t line_max;         /* longer lines are an error */
    int eof;
    uint64_t lineno;         /* of the line returned last */
    uint64_t bytes_consumed; /* of the lines returned so far, with '\n's */
} lines;

enum {
    LINES_LINE = 1,     /* *line, *len set */
    LINES_EOF = 0,
    LINES_PENDING = 2,  /* only without LINES_MAY_BLOCK: no whole line buffered */
    LINES_ERR_READ = -1, /* errno says why */
    LINES_ERR_LONG = -2, /* a line exceeds line_max */
    LINES_ERR_NOMEM = -3,
};
#define LINES_MAY_BLOCK 1

int lines_init(lines *r, int fd, size_t line_max);
int lines_next(lines *r, int flags, const char **line, size_t *len);
void lines_free(lines *r);

#endif
