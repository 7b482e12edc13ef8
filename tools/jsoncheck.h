/*
 * jsoncheck — replay's one-pass answer to "can this value be embedded in a
 * jsonl envelope as stored?", building nothing and copying nothing.
 *
 * It answers only "yes, certainly": the text is one JSON value that
 * jansson's json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL) accepts, and it
 * holds no raw line break. Everything it does not decide cheaply is
 * "cannot say", and the caller asks jansson, which alone decides the
 * rest (FORMAT.md's envelope, "Valid JSON"). So it declines, besides
 * invalid text: a raw '\n' or '\r' (legal whitespace that the envelope
 * re-encodes), a \u0000 escape (jansson refuses it in an object key), a
 * \u escape of a surrogate, an integer part of 19 digits or more (int64
 * ends within 19 digits; jansson refuses what does not fit), an exponent
 * of more than two digits (a double may overflow, which jansson refuses),
 * and nesting deeper than JSONCHECK_DEPTH_MAX. Within those bounds every
 * number jansson reads is one it holds, and the UTF-8 rules are jansson's:
 * well-formed, no overlong forms, no surrogates, nothing above U+10FFFF.
 *
 * The differential fuzz target compare_jsoncheck holds every "yes" to
 * jansson's verdict; the unit suite jsoncheck covers each rule's edges.
 */
#ifndef SIGLOG_JSONCHECK_H
#define SIGLOG_JSONCHECK_H

#include <stddef.h>

#define JSONCHECK_DEPTH_MAX 256

/* Every text and dst below is a pointer to memory, never NULL, even when
 * len is 0 (an empty text is a pointer to no bytes): the walks compute
 * text + len, which is undefined for a null pointer. Callers pass values
 * and keys that point into their buffers. */

/* 1: text[0..len) is valid JSON (as above) without raw line breaks.
 * 0: cannot say (ask jansson). Reads nothing outside text[0..len). */
int jsoncheck_embeddable(const char *text, size_t len);

/* jsoncheck_embeddable's answer, text[0..len) copied to dst[0..len)
 * whatever it is: the pass over the quotes stores the bytes it loads,
 * where jsonl replay copied the value into its line after the check. dst
 * must not overlap text. */
int jsoncheck_embeddable_copy(const char *text, size_t len, char *dst);

/* jsoncheck_embeddable's answer with every string read by its bytes,
 * never from the quotes' pass: both ways must answer alike on every
 * text, which the fuzz target holds. */
int jsoncheck_embeddable_scanned(const char *text, size_t len);

/* 1: every byte of text[0..len) is plain, as in a string the check
 * passes over a word at a time: ASCII from 0x20 on, neither '"' nor
 * '\\'. Such bytes are valid UTF-8 and are their own JSON string between
 * quotes, with nothing to escape. 0 otherwise. */
int jsoncheck_plain(const char *text, size_t len);

/* jsoncheck_plain's answer, text[0..len) copied to dst[0..len) whatever
 * it is, with the words the test reads (no call to copy a short key).
 * dst must not overlap text. */
int jsoncheck_plain_copy(const char *text, size_t len, char *dst);

#endif
