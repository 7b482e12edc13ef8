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

/* A size, or "P%" (P a whole number) as SIGLOG_SPACE_PERCENT | P. */
static int parse_space(const char *text, uint64_t *out)
{
    size_t len = strlen(text);
    if (len < 2 || text[len - 1] != '%')
        return timeparse_size_bytes(text, out);
    char digits[24];
    uint64_t pct;
    if (len - 1 >= sizeof digits)
        return -1;
    memcpy(digits, text, len - 1);
    digits[len - 1] = '\0';
    if (timeparse_u64(digits, &pct) != 0 || pct & SIGLOG_SPACE_PERCENT)
        return -1;
    *out = SIGLOG_SPACE_PERCENT | pct;
    return 0;
}

int streaminfo_parse_value(const siglog_setting *set, const char *text, uint64_t *out)
{
    uint64_t v;
    switch (set->type) {
    case SIGLOG_SETTING_SIZE:
        return timeparse_size_bytes(text, out);
    case SIGLOG_SETTING_DURATION:
        /* A value in a coarser unit than microseconds must be a whole
         * number of them: 1500us is no number of milliseconds. */
        if (timeparse_duration_us(text, &v) != 0 || v % set->unit_us)
            return -1;
        *out = v / set->unit_us;
        return 0;
    case SIGLOG_SETTING_SPACE:
        return parse_space(text, out);
    case SIGLOG_SETTING_ENUM:
        for (uint64_t i = 0; set->choices[i]; i++)
            if (strcmp(set->choices[i], text) == 0) {
                *out = i;
                return 0;
            }
        return -1;
    default:
        return timeparse_u64(text, out);
    }
}

const char *streaminfo_value_hint(const siglog_setting *set, char *buf, size_t cap)
{
    static const char *const hints[] = {
        [SIGLOG_SETTING_COUNT] = "a number",
        [SIGLOG_SETTING_SIZE] = "a size such as 64MiB",
        [SIGLOG_SETTING_DURATION] = "a duration such as 100ms or 24h",
        [SIGLOG_SETTING_SPACE] = "a size such as 2GiB or a percent such as 10%",
        [SIGLOG_SETTING_TEXT] = "an absolute path (empty for none)",
    };
    if (set->type != SIGLOG_SETTING_ENUM)
        return hints[set->type];
    size_t used = (size_t)snprintf(buf, cap, "one of");
    for (size_t i = 0; set->choices[i] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : " ", set->choices[i]);
    return buf;
}

/* v of set as a person would write it: the largest unit that divides
 * it (64MiB, 24h), so --help reads like the values it asks for. */
static void print_value(FILE *f, const siglog_setting *set, uint64_t v)
{
    static const struct {
        const char *name;
        uint64_t size;
    } sizes[] = { { "GiB", 1ull << 30 }, { "MiB", 1ull << 20 }, { "KiB", 1ull << 10 } },
      spans[] = { { "d", 86400000000ull }, { "h", 3600000000ull }, { "m", 60000000ull }, { "s", 1000000ull },
                  { "ms", 1000ull } };
    if (set->type == SIGLOG_SETTING_ENUM) {
        fputs(v <= set->max ? set->choices[v] : "?", f);
        return;
    }
    if (set->type == SIGLOG_SETTING_TEXT) {
        fputs("none", f); /* a text's only default: "" */
        return;
    }
    if (set->type == SIGLOG_SETTING_SPACE && (v & SIGLOG_SPACE_PERCENT)) {
        fprintf(f, "%llu%%", (unsigned long long)(v & ~SIGLOG_SPACE_PERCENT));
        return;
    }
    const char *unit = "";
    uint64_t per = 1;
    if (set->type == SIGLOG_SETTING_DURATION) {
        v *= set->unit_us;
        unit = "us";
        for (size_t i = 0; i < sizeof spans / sizeof spans[0] && per == 1; i++)
            if (v && v % spans[i].size == 0)
                unit = spans[i].name, per = spans[i].size;
    } else if (set->type == SIGLOG_SETTING_SIZE || set->type == SIGLOG_SETTING_SPACE) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && per == 1; i++)
            if (v && v % sizes[i].size == 0)
                unit = sizes[i].name, per = sizes[i].size;
    }
    fprintf(f, "%llu%s", (unsigned long long)(v / per), v ? unit : "");
}

void streaminfo_print_settings(FILE *f)
{
    for (size_t i = 0; i < siglog_setting_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        char hint[64];
        fprintf(f, "  %s%s\n      %s\n      %s; default ", set->name, set->is_mutable ? "" : " (fixed at creation)",
                set->summary, streaminfo_value_hint(set, hint, sizeof hint));
        print_value(f, set, set->default_value);
        if (set->type != SIGLOG_SETTING_ENUM && set->type != SIGLOG_SETTING_TEXT && set->max != UINT64_MAX) {
            fputs(", ", f);
            print_value(f, set, set->min);
            fputs("..", f);
            print_value(f, set, set->max);
        }
        fputs("\n", f);
    }
}

const char *streaminfo_value_text(const siglog_setting *set, uint64_t v, char *buf, size_t cap)
{
    if (set->type == SIGLOG_SETTING_ENUM)
        return v <= set->max ? set->choices[v] : "unknown";
    if (set->type == SIGLOG_SETTING_SPACE && (v & SIGLOG_SPACE_PERCENT))
        snprintf(buf, cap, "%llu%%", (unsigned long long)(v & ~SIGLOG_SPACE_PERCENT));
    else
        snprintf(buf, cap, "%llu", (unsigned long long)v);
    return buf;
}

json_t *streaminfo_setting_json(const siglog_stream_config *c, const siglog_setting *set)
{
    if (set->type == SIGLOG_SETTING_TEXT)
        return streaminfo_text_json(siglog_setting_text(c, set));
    uint64_t v = siglog_setting_get(c, set);
    char text[32];
    /* A percent is a string ("10%"): the bit that marks it would make the
     * number negative as a JSON integer. */
    if (set->type == SIGLOG_SETTING_ENUM || (set->type == SIGLOG_SETTING_SPACE && (v & SIGLOG_SPACE_PERCENT)))
        return json_string(streaminfo_value_text(set, v, text, sizeof text));
    return json_integer((json_int_t)v);
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
    /* "sync" is --sync's spelling of sync_policy and sync_interval_ms. */
    json_t *o = json_pack("{s:s, s:s, s:s}", "name", siglog_stream_name(st), "sync",
                          streaminfo_sync_text(&c, sync, sizeof sync), "state", "ok");
    for (size_t i = 0; o && i < siglog_setting_count(); i++) {
        const siglog_setting *set = siglog_setting_at(i);
        if (json_object_set_new(o, set->name, streaminfo_setting_json(&c, set)) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}
