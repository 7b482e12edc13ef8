/*
 * jsonload — one JSON text parsed with jansson, numbers of any size or
 * precision included.
 *
 * JSON puts no limit on numbers, but jansson refuses an integer beyond
 * int64 ("too big integer") and a number beyond double ("real number
 * overflow"). Such a text is still taken when it parses once each number
 * jansson refused is replaced by one digit between spaces, to the same
 * length: validity stays jansson's to decide, and the replaced numbers
 * read as that digit in the tree. A text that fails either way fails with
 * jansson's first error, exactly as a plain json_loadb would report it.
 */
#ifndef SIGLOG_JSONLOAD_H
#define SIGLOG_JSONLOAD_H

#include <jansson.h>
#include <stddef.h>

/* Parse text[0..len) as any one JSON value (JSON_DECODE_ANY,
 * JSON_ALLOW_NUL). The numbers jansson cannot hold read as `digit`
 * ('0'..'9'); *replaced says how many there were. NULL on an invalid text,
 * with err filled, or when the text could not be checked: then *replaced
 * is JSONLOAD_TOO_MANY or JSONLOAD_NOMEM. */
json_t *jsonload(const char *text, size_t len, char digit, size_t *replaced, json_error_t *err);

/* Each replaced number costs one more parse of the whole text, so the
 * work is bounded: at most JSONLOAD_WORK_MAX bytes parsed again in all
 * (as many numbers as that allows: 256 for a 1 MiB text). */
#define JSONLOAD_WORK_MAX ((size_t)256 << 20)
#define JSONLOAD_TOO_MANY ((size_t)-1)
#define JSONLOAD_NOMEM ((size_t)-2)

#endif
