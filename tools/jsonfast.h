/*
 * jsonfast — `siglog append`'s fast path: one JSON Lines line validated
 * with simdjson (RFC 8259, UTF-8 included) and only the fields that paths
 * name taken out, instead of jansson building a tree of the whole line.
 *
 * It decides only what it can decide exactly as the jansson path would
 * (jsonload + jsonpath_get, ingest.c): a line it does not accept goes to
 * jansson, which accepts it or gives the error message it always gave.
 * So it declines, besides invalid text, every line where the two parsers'
 * rules differ: a \u0000 escape anywhere (jansson refuses it in an object
 * key), nesting beyond simdjson's depth limit, and numbers either cannot
 * hold (jsonload.h) — found cheaply as 19 digits in a row outside
 * strings, which every integer beyond int64 has. Where a name repeats in an object, the
 * last one counts, as in jansson. The differential fuzz target
 * compare_jsonfast checks every input against the jansson path.
 *
 * A C interface over a C++ translation unit (jsonfast.cpp); the tool
 * links it, the engine never does.
 */
#ifndef SIGLOG_JSONFAST_H
#define SIGLOG_JSONFAST_H

#include <jansson.h>
#include <stddef.h>

#include "jsonpath.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jsonfast jsonfast;

/* NULL when out of memory. One per thread. */
jsonfast *jsonfast_new(void);
void jsonfast_free(jsonfast *f);

/* Validate text[0..len) as one JSON value. 1: valid, and *tree (the
 * caller's) is an object holding, at each of the n paths present in the
 * text, the value found there as jansson would read it (containers, true,
 * false and null as empty stand-ins of their type), so jsonpath_get on it
 * answers as on jansson's tree of the whole text; the caller reads it and
 * json_decref's it, never changes it (with no paths it is one empty object
 * the handle shares among calls). 0: not decided here (see above): ask
 * jansson. -1: out of memory. */
int jsonfast_parse(jsonfast *f, const char *text, size_t len, const jsonpath *const *paths, size_t n,
                   json_t **tree);

/* Bytes past a text's end that jsonfast_parse_padded may read (simdjson
 * loads whole 64-byte blocks; what they hold past the end is ignored). */
#define JSONFAST_PADDING 64

/* jsonfast_parse of a text followed by at least JSONFAST_PADDING readable
 * (initialised) bytes, parsed where it lies: no copy into a padded
 * buffer of the parser's own. Same answers as jsonfast_parse. */
int jsonfast_parse_padded(jsonfast *f, const char *text, size_t len, const jsonpath *const *paths, size_t n,
                          json_t **tree);

#ifdef __cplusplus
}
#endif

#endif
