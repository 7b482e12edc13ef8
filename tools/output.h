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

int out_write(const void *p, size_t n);
/* Inline, so that a literal's length is known where it is written:
 * jsonl replay writes a dozen literals per event. */
static inline int out_puts(const char *s)
{
    return out_write(s, strlen(s));
}
int out_u64(uint64_t v);
int out_i64(int64_t v);
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
