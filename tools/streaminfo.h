/*
 * streaminfo — how the tool names stream settings, both ways: parsing
 * --sync/--compression values and describing a stream's config for
 * `stream list` and `stat` (text and JSON), so the two commands agree.
 */
#ifndef SIGLOG_STREAMINFO_H
#define SIGLOG_STREAMINFO_H

#include "siglog.h"

#include <jansson.h>
#include <stdio.h>

/* "none", "always" or "interval:MS" (MS 1..60000) into c. -1 if malformed. */
int streaminfo_parse_sync(const char *s, siglog_stream_config *c);
/* The same text for c: buf of at least 32 bytes. */
const char *streaminfo_sync_text(const siglog_stream_config *c, char *buf, size_t cap);
const char *streaminfo_compression_text(const siglog_stream_config *c);

/* A value for setting set, spelled as the tool takes it: sizes with
 * units (64MiB), durations with units (100ms, 24h; converted to the
 * setting's unit, which must divide them), enum names, plain numbers.
 * -1 if malformed; the range is not checked. */
int streaminfo_parse_value(const siglog_setting *set, const char *text, uint64_t *out);
/* What a value of set looks like, for messages: buf of 64 bytes. */
const char *streaminfo_value_hint(const siglog_setting *set, char *buf, size_t cap);
/* Every setting with what it does, its default and range (for --help). */
void streaminfo_print_settings(FILE *f);
/* v of set as `stream config` prints it: an enum's name, a percent as
 * "10%", else the number in its unit; buf of 32 bytes. */
const char *streaminfo_value_text(const siglog_setting *set, uint64_t v, char *buf, size_t cap);
/* set's value in c: a string for enums and percents, else a number in
 * its unit. */
json_t *streaminfo_setting_json(const siglog_stream_config *c, const siglog_setting *set);

/* {"name","sync","state":"ok"} plus every setting by its name (see
 * streaminfo_setting_json), or for a stream that failed to open
 * {"name","state":"failed","error"}; NULL when out of memory. */
json_t *streaminfo_config_json(const siglog_stream *st);

/* text as a JSON string, bytes that are not UTF-8 replaced by '?' (error
 * details quote paths); NULL when out of memory. */
json_t *streaminfo_text_json(const char *text);

#endif
