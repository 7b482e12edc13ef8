/*
 * streaminfo — how the tool names stream settings, both ways: parsing
 * --sync/--compression values and describing a stream's config for
 * `stream list` and `stat` (text and JSON), so the two commands agree.
 */
#ifndef SIGLOG_STREAMINFO_H
#define SIGLOG_STREAMINFO_H

#include "siglog.h"

#include <jansson.h>

/* "none", "always" or "interval:MS" (MS 1..60000) into c. -1 if malformed. */
int streaminfo_parse_sync(const char *s, siglog_stream_config *c);
/* The same text for c: buf of at least 32 bytes. */
const char *streaminfo_sync_text(const siglog_stream_config *c, char *buf, size_t cap);
const char *streaminfo_compression_text(const siglog_stream_config *c);

/* {"name","partitions","compression","sync","segment_bytes_max",
 *  "segment_age_max_us","batch_bytes_max","record_bytes_max","state":"ok"},
 * or for a stream that failed to open {"name","state":"failed","error"};
 * NULL when out of memory. */
json_t *streaminfo_config_json(const siglog_stream *st);

/* text as a JSON string, bytes that are not UTF-8 replaced by '?' (error
 * details quote paths); NULL when out of memory. */
json_t *streaminfo_text_json(const char *text);

#endif
