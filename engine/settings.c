/*
 * settings — the table of stream settings; see settings.h.
 */
#include "settings.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define SECOND_US 1000000ull
#define DAY_US (86400 * SECOND_US)
/* Bounds that keep every retention value a JSON integer (below 2^63)
 * and an age added to a timestamp from overflowing. */
#define RETENTION_AGE_MAX (100 * 366 * DAY_US)
#define RETENTION_BYTES_MAX (1ull << 60)
#define SPACE_PERCENT_MAX 99

static const char *const compression_names[] = { "none", "lz4", NULL };
static const char *const sync_policy_names[] = { "none", "interval", "always", NULL };
static const char *const contract_names[] = { "off", "warn", "enforce", NULL };
static const char *const cleanup_names[] = { "delete", "compact", NULL };

#define FIELD(f) .width = sizeof(((siglog_stream_config *)0)->f), .offset = offsetof(siglog_stream_config, f)

/* Why each setting is mutable or not (`stream config`):
 *  - partitions: events are routed by XXH3-64(key) % partitions; another
 *    count would send a key's later events to another partition.
 *  - index_interval_bytes: an active segment's index files were sized
 *    from it when the segment was created; a smaller interval could
 *    overrun them.
 *  - compression is mutable: every batch says in its own header whether
 *    it is compressed (LZ4 is kept only when it saves bytes), so streams
 *    already mix both and a reader never consults the setting.
 *  - contract is mutable: it decides what an append accepts, and an
 *    event's own schema version says how to read it whatever the
 *    contract was when it was appended.
 *  - the others only steer the writer (when to sync, seal a batch, roll
 *    a segment, which events to refuse); nothing already written depends
 *    on them. record_bytes_max may go down too: it is checked at append
 *    only, never by a reader.
 *  - the retention settings say what the next retention run does with
 *    sealed segments; a warm, cold or purged segment is described by the
 *    catalog, never by the setting that moved it.
 * Tags with SETTINGS_TAG_MUST_UNDERSTAND are those a reader cannot
 * ignore: the partition count (a reader lists partition directories by
 * it). The others steer the writer, so a reader that does not know one
 * may still read the stream. Tags are never reused. */
static const settings_row rows[] = {
    { { "partitions", SIGLOG_SETTING_COUNT, 1, 0, 1, SIGLOG_PARTITIONS_MAX, 1, NULL,
        "number of partitions; events are routed by XXH3-64(key) % partitions" },
      .tag = 1 | SETTINGS_TAG_MUST_UNDERSTAND, FIELD(partitions) },
    { { "compression", SIGLOG_SETTING_ENUM, 1, 1, 0, SIGLOG_COMPRESSION_LZ4, SIGLOG_COMPRESSION_LZ4,
        compression_names, "how new batches are compressed (LZ4 is kept only where it saves bytes)" },
      .tag = 2, FIELD(compression) },
    { { "sync_policy", SIGLOG_SETTING_ENUM, 1, 1, 0, SIGLOG_SYNC_ALWAYS, SIGLOG_SYNC_INTERVAL, sync_policy_names,
        "when appended events reach the disk (siglog_append in siglog.h)" },
      .tag = 3, FIELD(sync_policy) },
    { { "sync_interval_ms", SIGLOG_SETTING_DURATION, 1000, 1, 1, 60000, 100, NULL,
        "with sync_policy interval: the time between background syncs" },
      .tag = 4, FIELD(sync_interval_ms) },
    { { "segment_bytes_max", SIGLOG_SETTING_SIZE, 1, 1, 64 * KiB, 1024 * MiB, 64 * MiB, NULL,
        "roll the active segment at this size" },
      .tag = 5, FIELD(segment_bytes_max) },
    { { "segment_age_max_us", SIGLOG_SETTING_DURATION, 1, 1, 0, UINT64_MAX, 24 * 3600 * SECOND_US, NULL,
        "roll an active segment this old (0: never by age)" },
      .tag = 6, FIELD(segment_age_max_us) },
    { { "record_bytes_max", SIGLOG_SETTING_SIZE, 1, 1, 1, 16 * MiB, 1 * MiB, NULL,
        "refuse a larger event (key, value and headers)" },
      .tag = 7, FIELD(record_bytes_max) },
    { { "batch_bytes_max", SIGLOG_SETTING_SIZE, 1, 1, 1 * KiB, 16 * MiB, 64 * KiB, NULL,
        "seal an open batch at this many uncompressed bytes" },
      .tag = 8, FIELD(batch_bytes_max) },
    { { "linger_us", SIGLOG_SETTING_DURATION, 1, 1, 0, 60 * SECOND_US, 5000, NULL,
        "seal an open batch this old" },
      .tag = 9, FIELD(linger_us) },
    { { "index_interval_bytes", SIGLOG_SETTING_SIZE, 1, 0, 64, 64 * MiB, 4 * KiB, NULL,
        "index a batch every this many segment bytes" },
      .tag = 10, FIELD(index_interval_bytes) },
    { { "contract", SIGLOG_SETTING_ENUM, 1, 1, 0, SIGLOG_CONTRACT_ENFORCE, SIGLOG_CONTRACT_OFF, contract_names,
        "what appends check against the schema versions: off, warn (count nonconforming events), enforce (refuse them)" },
      .tag = 11, FIELD(contract) },
    /* Retention: all off by default (see siglog.h). Tags from 0x10 on. */
    { { "warm_level", SIGLOG_SETTING_COUNT, 1, 1, 1, 12, 9, NULL,
        "LZ4HC level a warm rewrite compresses with (higher: smaller and slower)" },
      .tag = 0x10, FIELD(warm_level) },
    { { "warm_after", SIGLOG_SETTING_DURATION, 1, 1, 0, RETENTION_AGE_MAX, 0, NULL,
        "rewrite sealed segments whose newest event is older with LZ4HC (0: never)" },
      .tag = 0x11, FIELD(warm_after) },
    { { "cold_after", SIGLOG_SETTING_DURATION, 1, 1, 0, RETENTION_AGE_MAX, 0, NULL,
        "move sealed segments whose newest event is older to the cold directory as archives (0: never)" },
      .tag = 0x12, FIELD(cold_after) },
    { { "delete_after", SIGLOG_SETTING_DURATION, 1, 1, 0, RETENTION_AGE_MAX, 0, NULL,
        "purge segments and archives whose newest event is older (0: never)" },
      .tag = 0x13, FIELD(delete_after) },
    { { "max_bytes", SIGLOG_SETTING_SIZE, 1, 1, 0, RETENTION_BYTES_MAX, 0, NULL,
        "purge the oldest segments while hot and warm hold more (0: no limit)" },
      .tag = 0x14, FIELD(max_bytes) },
    { { "cold_max_bytes", SIGLOG_SETTING_SIZE, 1, 1, 0, RETENTION_BYTES_MAX, 0, NULL,
        "purge the oldest archives while the cold tier holds more (0: no limit)" },
      .tag = 0x15, FIELD(cold_max_bytes) },
    { { "min_free", SIGLOG_SETTING_SPACE, 1, 1, 0, RETENTION_BYTES_MAX, 0, NULL,
        "free space kept on the store's filesystem, bytes or a percent of it; below it appends are refused "
        "(0: none)" },
      .tag = 0x16, FIELD(min_free) },
    { { "max_hold", SIGLOG_SETTING_DURATION, 1, 1, 0, RETENTION_AGE_MAX, 0, NULL,
        "a consumer hold keeps no event older than this from purge (0: no limit)" },
      .tag = 0x17, FIELD(max_hold) },
    /* The one text setting. Its directory is the one path outside the
     * store siglog writes to: the operator makes it, the cold tier opens
     * it once without following a symlink and works beneath it. */
    { { "cold_dir", SIGLOG_SETTING_TEXT, 1, 1, 0, 0, 0, NULL,
        "the cold tier's directory, an absolute path outside the store made by the operator (\"\": none)" },
      .tag = 0x19, FIELD(cold_dir) },
    { { "retention_interval", SIGLOG_SETTING_DURATION, 1, 1, 0, 30 * DAY_US, 0, NULL,
        "how often the writer applies the retention policy itself (0: only siglog retain does)" },
      .tag = 0x18, FIELD(retention_interval) },
    /* Compaction. Tags from 0x20 on. */
    { { "cleanup", SIGLOG_SETTING_ENUM, 1, 1, 0, SIGLOG_CLEANUP_COMPACT, SIGLOG_CLEANUP_DELETE, cleanup_names,
        "delete (only retention removes events) or compact (key compaction keeps the newest event per key)" },
      .tag = 0x20, FIELD(cleanup) },
    { { "merge_below", SIGLOG_SETTING_SIZE, 1, 1, 0, 1024 * MiB, 0, NULL,
        "merge consecutive sealed segments smaller than this (0: a quarter of segment_bytes_max)" },
      .tag = 0x21, FIELD(merge_below) },
    { { "tombstone_retention", SIGLOG_SETTING_DURATION, 1, 1, 0, RETENTION_AGE_MAX, DAY_US, NULL,
        "key compaction keeps a key's newest tombstone this long, then drops the key" },
      .tag = 0x22, FIELD(tombstone_retention) },
    { { "compact_interval", SIGLOG_SETTING_DURATION, 1, 1, 0, 30 * DAY_US, 0, NULL,
        "how often the writer compacts the stream itself as its cleanup says (0: only siglog compact does)" },
      .tag = 0x23, FIELD(compact_interval) },
};

size_t sl_settings_count(void)
{
    return sizeof rows / sizeof rows[0];
}

const settings_row *sl_settings_row_at(size_t i)
{
    return i < sl_settings_count() ? &rows[i] : NULL;
}

const settings_row *sl_settings_by_tag(uint16_t tag)
{
    for (size_t i = 0; i < sl_settings_count(); i++)
        if (rows[i].tag == tag)
            return &rows[i];
    return NULL;
}

uint64_t sl_settings_get(const siglog_stream_config *c, const settings_row *r)
{
    if (sl_settings_is_text(r))
        return 0;
    const unsigned char *p = (const unsigned char *)c + r->offset;
    if (r->width == 4) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

void sl_settings_put(siglog_stream_config *c, const settings_row *r, uint64_t v)
{
    unsigned char *p = (unsigned char *)c + r->offset;
    if (sl_settings_is_text(r)) {
        *p = '\0';
    } else if (r->width == 4) {
        uint32_t v32 = (uint32_t)v;
        memcpy(p, &v32, sizeof v32);
    } else {
        memcpy(p, &v, sizeof v);
    }
}

/* The fields are uint32_t or uint64_t (r->width), so the casts name
 * their real types. */
uint64_t sl_settings_load(const siglog_stream_config *c, const settings_row *r)
{
    const void *p = (const unsigned char *)c + r->offset;
    if (sl_settings_is_text(r))
        return 0;
    return r->width == 4 ? __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED)
                         : __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

void sl_settings_store(siglog_stream_config *c, const settings_row *r, uint64_t v)
{
    void *p = (unsigned char *)c + r->offset;
    if (sl_settings_is_text(r))
        return; /* published under the stream's lock (stream.c) */
    if (r->width == 4)
        __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED);
    else
        __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
}

int sl_settings_check(const settings_row *r, uint64_t v)
{
    if (r->pub.type == SIGLOG_SETTING_SPACE && (v & SIGLOG_SPACE_PERCENT)) {
        uint64_t pct = v & ~SIGLOG_SPACE_PERCENT;
        if (pct >= 1 && pct <= SPACE_PERCENT_MAX)
            return 0;
        return sl_err_set(SIGLOG_EINVAL, "stream config: %s is %llu%%, must be 1%%..%d%%", r->pub.name,
                          (unsigned long long)pct, SPACE_PERCENT_MAX);
    }
    if (v >= r->pub.min && v <= r->pub.max)
        return 0;
    return sl_err_set(SIGLOG_EINVAL, "stream config: %s is %llu, must be %llu..%llu", r->pub.name,
                   (unsigned long long)v, (unsigned long long)r->pub.min, (unsigned long long)r->pub.max);
}

const char *sl_settings_format(const settings_row *r, uint64_t v, char *buf, size_t cap)
{
    if (r->pub.type == SIGLOG_SETTING_SPACE && (v & SIGLOG_SPACE_PERCENT))
        snprintf(buf, cap, "%llu%%", (unsigned long long)(v & ~SIGLOG_SPACE_PERCENT));
    else
        snprintf(buf, cap, "%llu", (unsigned long long)v);
    return buf;
}

const char *sl_settings_text(const siglog_stream_config *c, const settings_row *r)
{
    return (const char *)c + r->offset;
}

/* cold_dir's rule (the only text setting): "" or an absolute path, each
 * component neither "." nor ".." (the path is opened as given, so it
 * must say plainly where), no control character. */
int sl_settings_check_text(const settings_row *r, const char *v)
{
    size_t len = strlen(v);
    if (len > SIGLOG_SETTING_TEXT_MAX)
        return sl_err_set(SIGLOG_EINVAL, "stream config: %s is %zu bytes long, at most %d", r->pub.name, len,
                          SIGLOG_SETTING_TEXT_MAX);
    if (len == 0)
        return 0;
    if (v[0] != '/')
        return sl_err_set(SIGLOG_EINVAL, "stream config: %s '%s' must be an absolute path", r->pub.name, v);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return sl_err_set(SIGLOG_EINVAL, "stream config: %s holds a control character at byte %zu", r->pub.name,
                              (size_t)(p - v));
    for (const char *comp = v + 1; *comp;) {
        size_t n = strcspn(comp, "/");
        if ((n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.'))
            return sl_err_set(SIGLOG_EINVAL, "stream config: %s '%s' must not hold a '.' or '..' component",
                              r->pub.name, v);
        comp += n + (comp[n] == '/');
    }
    return 0;
}

void sl_settings_put_text(siglog_stream_config *c, const settings_row *r, const char *v)
{
    snprintf((char *)c + r->offset, r->width, "%s", v);
}

int sl_settings_equal(const siglog_stream_config *a, const siglog_stream_config *b, const settings_row *r)
{
    if (sl_settings_is_text(r))
        return strcmp(sl_settings_text(a, r), sl_settings_text(b, r)) == 0;
    return sl_settings_get(a, r) == sl_settings_get(b, r);
}

const char *sl_settings_describe(const siglog_stream_config *c, const settings_row *r, char *buf, size_t cap)
{
    if (sl_settings_is_text(r)) {
        snprintf(buf, cap, "\"%s\"", sl_settings_text(c, r));
        return buf;
    }
    return sl_settings_format(r, sl_settings_get(c, r), buf, cap);
}

int sl_settings_check_all(const siglog_stream_config *c)
{
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = &rows[i];
        int rc = sl_settings_is_text(r) ? sl_settings_check_text(r, sl_settings_text(c, r))
                                        : sl_settings_check(r, sl_settings_get(c, r));
        if (rc)
            return rc;
    }
    return 0;
}

SIGLOG_API size_t siglog_setting_count(void)
{
    return sl_settings_count();
}

SIGLOG_API const siglog_setting *siglog_setting_at(size_t i)
{
    const settings_row *r = sl_settings_row_at(i);
    return r ? &r->pub : NULL;
}

SIGLOG_API const siglog_setting *siglog_setting_find(const char *name)
{
    for (size_t i = 0; name && i < sl_settings_count(); i++)
        if (strcmp(rows[i].pub.name, name) == 0)
            return &rows[i].pub;
    return NULL;
}

/* The row a public pointer came from (it is the row's first member). */
static const settings_row *row_of(const siglog_setting *set)
{
    return (const settings_row *)(const void *)set;
}

SIGLOG_API uint64_t siglog_setting_get(const siglog_stream_config *c, const siglog_setting *set)
{
    return sl_settings_get(c, row_of(set));
}

SIGLOG_API int siglog_setting_set(siglog_stream_config *c, const siglog_setting *set, uint64_t value)
{
    sl_err_clear();
    if (sl_settings_is_text(row_of(set)))
        return sl_err_set(SIGLOG_EINVAL, "stream config: %s is a text setting (siglog_setting_set_text)", set->name);
    int rc = sl_settings_check(row_of(set), value);
    if (!rc)
        sl_settings_put(c, row_of(set), value);
    return rc;
}

SIGLOG_API const char *siglog_setting_text(const siglog_stream_config *c, const siglog_setting *set)
{
    return sl_settings_is_text(row_of(set)) ? sl_settings_text(c, row_of(set)) : NULL;
}

SIGLOG_API int siglog_setting_set_text(siglog_stream_config *c, const siglog_setting *set, const char *value)
{
    sl_err_clear();
    if (!value)
        return sl_err_set(SIGLOG_EINVAL, "siglog_setting_set_text: a value is required (\"\" for none)");
    if (!sl_settings_is_text(row_of(set)))
        return sl_err_set(SIGLOG_EINVAL, "stream config: %s takes a number (siglog_setting_set), not a text",
                          set->name);
    int rc = sl_settings_check_text(row_of(set), value);
    if (!rc)
        sl_settings_put_text(c, row_of(set), value);
    return rc;
}
