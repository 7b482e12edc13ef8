/*
 * streaminfo — names of stream settings; see streaminfo.h.
 */
#include "streaminfo.h"

#include "timeparse.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int streaminfo_parse_sync(const char *s, siglog_stream_config *c)
{
    if (strcmp(s, "none") == 0) {
        c->sync_policy = SIGLOG_SYNC_NONE;
        return 0;
    }
    if (strcmp(s, "always") == 0) {
        c->sync_policy = SIGLOG_SYNC_ALWAYS;
        return 0;
    }
    uint64_t ms;
    if (strncmp(s, "interval:", 9) != 0 || timeparse_u64(s + 9, &ms) != 0 || ms < 1 || ms > 60000)
        return -1;
    c->sync_policy = SIGLOG_SYNC_INTERVAL;
    c->sync_interval_ms = (uint32_t)ms;
    return 0;
}

const char *streaminfo_sync_text(const siglog_stream_config *c, char *buf, size_t cap)
{
    switch (c->sync_policy) {
    case SIGLOG_SYNC_NONE:
        return "none";
    case SIGLOG_SYNC_ALWAYS:
        return "always";
    case SIGLOG_SYNC_INTERVAL:
        snprintf(buf, cap, "interval:%u", c->sync_interval_ms);
        return buf;
    default:
        snprintf(buf, cap, "unknown(%u)", c->sync_policy);
        return buf;
    }
}

const char *streaminfo_compression_text(const siglog_stream_config *c)
{
    switch (c->compression) {
    case SIGLOG_COMPRESSION_NONE:
        return "none";
    case SIGLOG_COMPRESSION_LZ4:
        return "lz4";
    default:
        return "unknown";
    }
}

json_t *streaminfo_text_json(const char *text)
{
    if (utf8_valid(text, strlen(text)))
        return json_string(text);
    /* A path in a detail may hold any bytes: JSON strings hold text. */
    char *copy = strdup(text);
    if (!copy)
        return NULL;
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    json_t *j = json_string(copy);
    free(copy);
    return j;
}

json_t *streaminfo_config_json(const siglog_stream *st)
{
    siglog_stream_config c;
    char sync[32];
    const char *why;
    siglog_stream_config_get(st, &c);
    if (siglog_stream_state(st, &why) != 0)
        return json_pack("{s:s, s:s, s:o}", "name", siglog_stream_name(st), "state", "failed", "error",
                         streaminfo_text_json(why));
    return json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:s}",
                     "name", siglog_stream_name(st),
                     "partitions", (json_int_t)c.partitions,
                     "compression", streaminfo_compression_text(&c),
                     "sync", streaminfo_sync_text(&c, sync, sizeof sync),
                     "segment_bytes_max", (json_int_t)c.segment_bytes_max,
                     "segment_age_max_us", (json_int_t)c.segment_age_max_us,
                     "batch_bytes_max", (json_int_t)c.batch_bytes_max,
                     "record_bytes_max", (json_int_t)c.record_bytes_max,
                     "state", "ok");
}
