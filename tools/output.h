/*
 * output — buffered writes to standard output that notice failure.
 *
 * stdio would hide a full disk until fclose and kill the process with
 * SIGPIPE on a closed pipe. Here every write(2) is checked; the first
 * failure is remembered, later writes are dropped, and commands poll
 * out_failed() to stop producing. At the end out_finish() decides:
 *   - a closed pipe (EPIPE, e.g. `siglog replay ... | head`): the reader
 *     chose to stop, so the command ends quietly with status 0;
 *   - any other write error (ENOSPC, EIO, ...): one line on stderr and
 *     status 1.
 * main() ignores SIGPIPE so EPIPE arrives as an error code.
 */
#ifndef SIGLOG_OUTPUT_H
#define SIGLOG_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OUT_BUF_BYTES (64 * 1024)

/* The buffer and the first write error (0 while all is well): output.c's,
 * here only so that out_write's common case is inline. */
struct out_state {
    char buf[OUT_BUF_BYTES];
    size_t len;
    int err;
};
extern struct out_state out_state;

/* out_write when the bytes do not fit the buffer or a write failed. */
int out_write_slow(const void *p, size_t n);

/* Buffer p[0..n) for standard output: 0, or -1 once a write failed.
 * Inline: jsonl replay writes a dozen pieces per event, most of them
 * literals whose copy the compiler then makes a move or two. */
static inline int out_write(const void *p, size_t n)
{
    if (n > OUT_BUF_BYTES - out_state.len || out_state.err)
        return out_write_slow(p, n);
    memcpy(out_state.buf + out_state.len, p, n);
    out_state.len += n;
    return 0;
}
/* out_reserve when the buffer lacks room or a write failed. */
char *out_reserve_slow(size_t n);

/* Room for n bytes at the buffer's end, sending what it holds first when
 * it lacks it: where a caller may build up to n bytes in place, then
 * passing their end to out_commit. NULL when n exceeds the buffer or a
 * write failed: then nothing was reserved. */
static inline char *out_reserve(size_t n)
{
    if (n > OUT_BUF_BYTES - out_state.len || out_state.err)
        return out_reserve_slow(n);
    return out_state.buf + out_state.len;
}

/* The bytes built since out_reserve, up to end, are the buffer's. */
static inline void out_commit(const char *end)
{
    out_state.len = (size_t)(end - out_state.buf);
}

/* Inline, so that a literal's length is known where it is written:
 * jsonl replay writes a dozen literals per event. */
static inline int out_puts(const char *s)
{
    return out_write(s, strlen(s));
}
int out_u64(uint64_t v);
int out_i64(int64_t v);
/* The longest decimal: 20 digits (a sign and 19 for int64). */
#define OUT_DECIMAL_MAX 20
/* v in decimal at dst, for a caller that builds a line in a buffer of its
 * own; returns past the last digit. dst needs room for OUT_DECIMAL_MAX
 * bytes (out_put_i64: one more). */
char *out_put_u64(char *dst, uint64_t v);
char *out_put_i64(char *dst, int64_t v);
/* v < 100 000 000 as eight digits, zeros leading, at dst; returns dst + 8. */
char *out_put_8digits(char *dst, uint32_t v);
/* Send the buffer to the file descriptor now. */
int out_flush(void);
/* Non-zero once a write failed. */
int out_failed(void);
/* Flush and turn the outcome into an exit status (see above). */
int out_finish(const char *cmd);

/* Byte c as a backslash escape in esc, returning its length: the short
 * forms \" \\ \n \r \t that JSON and C strings share, else long_prefix
 * ("u00" for JSON, "x" for C) and two lowercase hex digits. esc needs
 * 3 + strlen(long_prefix) bytes. */
size_t out_escape_byte(unsigned char c, const char *long_prefix, char *esc);
/* s as a quoted JSON string; s must be valid UTF-8 (utf8_valid). */
int out_json_string(const void *s, size_t n);
/* p in standard base64 with padding, quoted as a JSON string. */
int out_json_base64(const void *p, size_t n);


/* Write a JSON document (indented, keys in insertion order) and a newline;
 * takes ownership of doc (NULL means out of memory). 0 or -1. */
struct json_t;
int out_json_doc(struct json_t *doc);

#endif
