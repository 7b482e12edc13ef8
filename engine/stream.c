#include "stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "catalog_floor.h"
#include "codec.h"
#include "error.h"
#include "options_io.h"
#include "names.h"
#include "schema_registry.h"
#include "settings.h"
#include "store.h"

#define MiB (1ull << 20)
#define KiB (1ull << 10)

SIGLOG_API void siglog_stream_config_default(siglog_stream_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sl_settings_count(); i++)
        sl_settings_put(c, sl_settings_row_at(i), sl_settings_row_at(i)->pub.default_value);
}

/* A text setting cannot be stored atomically as a number is: every live
 * stream's texts are copied in and out under this one lock (they are
 * read at a retention run and written at a config change, both rare). */
static pthread_mutex_t texts_mu = PTHREAD_MUTEX_INITIALIZER;

/* The texts of `from` into `to`, under texts_mu. */
static void copy_texts(siglog_stream_config *to, const siglog_stream_config *from)
{
    pthread_mutex_lock(&texts_mu);
    for (size_t i = 0; i < sl_settings_count(); i++)
        if (sl_settings_is_text(sl_settings_row_at(i)))
            sl_settings_put_text(to, sl_settings_row_at(i), sl_settings_text(from, sl_settings_row_at(i)));
    pthread_mutex_unlock(&texts_mu);
}

void sl_stream_config_load(const siglog_stream *st, siglog_stream_config *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sl_settings_count(); i++)
        sl_settings_put(out, sl_settings_row_at(i), sl_settings_load(&st->cfg, sl_settings_row_at(i)));
    copy_texts(out, &st->cfg);
}

void sl_stream_config_publish(siglog_stream *st, const siglog_stream_config *c)
{
    for (size_t i = 0; i < sl_settings_count(); i++)
        if (sl_settings_row_at(i)->pub.is_mutable)
            sl_settings_store(&st->cfg, sl_settings_row_at(i), sl_settings_get(c, sl_settings_row_at(i)));
    copy_texts(&st->cfg, c);
}

/* A segment goes hot -> warm -> cold -> purged: each tier's age, when
 * set, is at least that of every earlier tier that is set, so no tier a
 * policy names is skipped over. */
static int check_tier_order(const siglog_stream_config *c)
{
    const struct {
        const char *name;
        uint64_t age;
    } tiers[] = { { "warm_after", c->warm_after }, { "cold_after", c->cold_after }, { "delete_after", c->delete_after } };
    size_t n = sizeof tiers / sizeof tiers[0];
    for (size_t later = 1; later < n; later++)
        for (size_t earlier = 0; earlier < later; earlier++)
            if (tiers[later].age && tiers[earlier].age > tiers[later].age)
                return sl_err_set(SIGLOG_EINVAL, "stream config: %s (%llu us) must not be below %s (%llu us): a "
                                  "segment moves hot, warm, cold, purged in that order",
                                  tiers[later].name, (unsigned long long)tiers[later].age, tiers[earlier].name,
                                  (unsigned long long)tiers[earlier].age);
    return 0;
}

int sl_stream_config_normalize(siglog_stream_config *c, uint64_t journal_capacity)
{
    int rc = sl_settings_check_all(c);
    if (rc)
        return rc;
    if (c->reserved32)
        return sl_err_set(SIGLOG_EINVAL, "stream config: reserved32 must be 0");
    for (size_t i = 0; i < sizeof c->reserved / sizeof c->reserved[0]; i++)
        if (c->reserved[i])
            return sl_err_set(SIGLOG_EINVAL, "stream config: reserved[%zu] must be 0", i);
    if ((rc = check_tier_order(c)) != 0)
        return rc;
    /* One record (plus headers) must fit in a batch, and a batch must fit
     * in the journal with room to spare: the journal holds whole batches. */
    uint64_t batch_worst = (uint64_t)c->batch_bytes_max + c->record_bytes_max + 64 * 1024;
    if (c->sync_policy != SIGLOG_SYNC_NONE && batch_worst > journal_capacity / 4)
        return sl_err_set(SIGLOG_EINVAL,
                       "stream config: batch_bytes_max + record_bytes_max (%llu) must stay under a quarter of "
                       "the journal (%llu bytes); open the store with a larger journal_bytes",
                       (unsigned long long)batch_worst, (unsigned long long)journal_capacity);
    return 0;
}

/* stream.meta (FORMAT.md §4).
 *
 * Version 2, little-endian:
 *    0 u32 magic  4 u16 version (2)  6 u16 name length  8 u32 stream id
 *   12 u32 entries length  16 name bytes, then the entries, then u64
 *   XXH3-64 of everything before it.
 * An entry is u16 tag, u16 value length, the value; tags strictly
 * ascending. A number setting's value is a u64; a text setting's is its
 * bytes (1..SIGLOG_SETTING_TEXT_MAX, no NUL), and an empty text (off) has
 * no entry. Bit 15 of a tag
 * (SETTINGS_TAG_MUST_UNDERSTAND) says whether a reader that does not know
 * the tag must refuse the stream or may ignore the entry.
 *
 * Version 1 (still read, never written) has the settings at fixed places:
 *    0 u32 magic  4 u16 version (1)  6 u16 reserved  8 u32 stream id
 *   12 u32 partitions  16 u32 compression  20 u32 sync policy
 *   24 u32 sync interval ms  28 u32 record bytes max  32 u64 segment bytes max
 *   40 u64 segment age max us  48 u32 batch bytes max  52 u32 linger us
 *   56 u32 index interval bytes  60 u32 name length
 *   64 name bytes, then u64 XXH3-64 of everything before it. */

#define SETTING_VALUE_BYTES 8

/* One entry to write: a known setting's tag and value, or an unknown
 * entry copied as it was. */
typedef struct meta_entry {
    uint16_t tag;
    uint64_t value;          /* known number */
    const char *text;        /* known text (not empty) */
    const uint8_t *encoded;  /* unknown: tag, length, value */
    size_t encoded_len;
} meta_entry;

static size_t collect_entries(meta_entry *out, const siglog_stream_config *c, const stream_meta_extra *extra)
{
    size_t n = 0;
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
        if (!sl_settings_is_text(r))
            out[n++] = (meta_entry){ .tag = r->tag, .value = sl_settings_get(c, r) };
        else if (*sl_settings_text(c, r))
            out[n++] = (meta_entry){ .tag = r->tag, .text = sl_settings_text(c, r) };
    }
    for (size_t at = 0; extra && at + STREAM_META_ENTRY_HEADER <= extra->len;) {
        size_t len = STREAM_META_ENTRY_HEADER + get_le16(extra->bytes + at + 2);
        out[n++] = (meta_entry){ .tag = get_le16(extra->bytes + at), .encoded = extra->bytes + at, .encoded_len = len };
        at += len;
    }
    /* Insertion sort by tag: a few dozen entries at most. */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && out[k - 1].tag > out[k].tag; k--) {
            meta_entry t = out[k];
            out[k] = out[k - 1];
            out[k - 1] = t;
        }
    return n;
}

size_t sl_stream_meta_encode(uint8_t *buf, const char *name, uint32_t id, const siglog_stream_config *c,
                          const stream_meta_extra *extra)
{
    meta_entry entries[STREAM_META_ENTRIES_MAX / STREAM_META_ENTRY_HEADER];
    size_t n = collect_entries(entries, c, extra);
    size_t name_len = strlen(name);
    memcpy(buf + STREAM_META_HEADER_BYTES, name, name_len);
    uint8_t *p = buf + STREAM_META_HEADER_BYTES + name_len;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].encoded) {
            memcpy(p, entries[i].encoded, entries[i].encoded_len);
            p += entries[i].encoded_len;
            continue;
        }
        size_t value_len = entries[i].text ? strlen(entries[i].text) : SETTING_VALUE_BYTES;
        put_le16(p, entries[i].tag);
        put_le16(p + 2, (uint16_t)value_len);
        if (entries[i].text)
            memcpy(p + STREAM_META_ENTRY_HEADER, entries[i].text, value_len);
        else
            put_le64(p + STREAM_META_ENTRY_HEADER, entries[i].value);
        p += STREAM_META_ENTRY_HEADER + value_len;
    }
    size_t entries_len = (size_t)(p - buf) - STREAM_META_HEADER_BYTES - name_len;
    put_le32(buf, STREAM_META_MAGIC);
    put_le16(buf + 4, STREAM_META_VERSION);
    put_le16(buf + 6, (uint16_t)name_len);
    put_le32(buf + 8, id);
    put_le32(buf + 12, (uint32_t)entries_len);
    size_t len = (size_t)(p - buf);
    put_le64(buf + len, XXH3_64bits(buf, len));
    return len + 8;
}

/* The name at buf (name_len bytes, within 1..SIGLOG_NAME_MAX) into name,
 * checked like a stream name given at creation. */
static int decode_name(const uint8_t *buf, size_t name_len, char name[SIGLOG_NAME_MAX + 1])
{
    memcpy(name, buf, name_len);
    name[name_len] = '\0';
    if (sl_name_validate_stream(name) != 0 || strlen(name) != name_len)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata holds an invalid stream name");
    return 0;
}

static int decode_v1(const uint8_t *buf, size_t len, char name[SIGLOG_NAME_MAX + 1], uint32_t *id,
                     siglog_stream_config *c)
{
    if (len < STREAM_META_V1_FIXED_BYTES + 8)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata version 1 of %zu bytes, less than its fixed part", len);
    uint32_t name_len = get_le32(buf + 60);
    if (name_len == 0 || name_len > SIGLOG_NAME_MAX || len != STREAM_META_V1_FIXED_BYTES + name_len + 8)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: name length %u does not match file size %zu", name_len,
                       len);
    size_t body = STREAM_META_V1_FIXED_BYTES + name_len;
    if (get_le64(buf + body) != XXH3_64bits(buf, body))
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata checksum mismatch");
    if (get_le16(buf + 6) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: reserved bytes are not zero");
    int rc = decode_name(buf + STREAM_META_V1_FIXED_BYTES, name_len, name);
    if (rc)
        return rc;
    *id = get_le32(buf + 8);
    c->partitions = get_le32(buf + 12);
    c->compression = get_le32(buf + 16);
    c->sync_policy = get_le32(buf + 20);
    c->sync_interval_ms = get_le32(buf + 24);
    c->record_bytes_max = get_le32(buf + 28);
    c->segment_bytes_max = get_le64(buf + 32);
    c->segment_age_max_us = get_le64(buf + 40);
    c->batch_bytes_max = get_le32(buf + 48);
    c->linger_us = get_le32(buf + 52);
    c->index_interval_bytes = get_le32(buf + 56);
    return 0;
}

/* A text setting's entry: 1..SIGLOG_SETTING_TEXT_MAX bytes without a NUL
 * (an empty text is written as no entry), checked by its rule. */
static int decode_text(const settings_row *r, const uint8_t *value, size_t value_len, siglog_stream_config *c)
{
    char text[SIGLOG_SETTING_TEXT_MAX + 1];
    if (value_len == 0 || value_len > SIGLOG_SETTING_TEXT_MAX || memchr(value, '\0', value_len))
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: %s (tag 0x%04x) has %zu value bytes or a NUL, not a "
                          "text of 1..%d bytes", r->pub.name, r->tag, value_len, SIGLOG_SETTING_TEXT_MAX);
    memcpy(text, value, value_len);
    text[value_len] = '\0';
    if (sl_settings_check_text(r, text) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: %s", siglog_errdetail());
    sl_settings_put_text(c, r, text);
    return 0;
}

/* One entry of a v2 file: a known setting into c, an unknown one the
 * reader may ignore into extra, an unknown one it must understand
 * refused. */
static int decode_entry(uint16_t tag, const uint8_t *value, size_t value_len, siglog_stream_config *c,
                        stream_meta_extra *extra)
{
    const settings_row *r = sl_settings_by_tag(tag);
    if (!r) {
        if (sl_settings_by_tag(tag ^ SETTINGS_TAG_MUST_UNDERSTAND))
            return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: tag 0x%04x is a known setting with the wrong "
                           "must-understand bit", tag);
        if (tag & SETTINGS_TAG_MUST_UNDERSTAND)
            return sl_err_set(SIGLOG_EVERSION,
                           "stream metadata entry with tag 0x%04x must be understood, and this build does not "
                           "know it (a newer siglog wrote it)",
                           tag);
        size_t need = STREAM_META_ENTRY_HEADER + value_len;
        if (extra) {
            if (extra->len + need > sizeof extra->bytes)
                return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: more than %zu bytes of unknown entries",
                               sizeof extra->bytes);
            memcpy(extra->bytes + extra->len, value - STREAM_META_ENTRY_HEADER, need);
            extra->len += need;
        }
        return 0;
    }
    if (sl_settings_is_text(r))
        return decode_text(r, value, value_len, c);
    if (value_len != SETTING_VALUE_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: %s (tag 0x%04x) has %zu value bytes, not %d",
                       r->pub.name, tag, value_len, SETTING_VALUE_BYTES);
    uint64_t v = get_le64(value);
    /* Checked before it is stored: a u32 field would keep only the low
     * bits of a larger value. */
    int rc = sl_settings_check(r, v);
    if (rc)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: %s", siglog_errdetail());
    sl_settings_put(c, r, v);
    return 0;
}

static int decode_v2(const uint8_t *buf, size_t len, char name[SIGLOG_NAME_MAX + 1], uint32_t *id,
                     siglog_stream_config *c, stream_meta_extra *extra)
{
    if (len < STREAM_META_HEADER_BYTES + 8)
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata version 2 of %zu bytes, less than its header", len);
    uint32_t name_len = get_le16(buf + 6), entries_len = get_le32(buf + 12);
    if (name_len == 0 || name_len > SIGLOG_NAME_MAX || entries_len > STREAM_META_ENTRIES_MAX ||
        len != STREAM_META_HEADER_BYTES + name_len + entries_len + 8)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "stream metadata: name length %u and entries length %u do not match file size %zu",
                       name_len, entries_len, len);
    size_t body = len - 8;
    if (get_le64(buf + body) != XXH3_64bits(buf, body))
        return sl_err_set(SIGLOG_ECORRUPT, "stream metadata checksum mismatch");
    int rc = decode_name(buf + STREAM_META_HEADER_BYTES, name_len, name);
    if (rc)
        return rc;
    *id = get_le32(buf + 8);
    const uint8_t *p = buf + STREAM_META_HEADER_BYTES + name_len, *end = buf + body;
    uint32_t prev = 0;
    while (p < end) {
        if (end - p < STREAM_META_ENTRY_HEADER)
            return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: an entry header is cut at byte %td", p - buf);
        uint16_t tag = get_le16(p);
        size_t value_len = get_le16(p + 2);
        if (tag <= prev)
            return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: tag 0x%04x at byte %td is not above the one before",
                           tag, p - buf);
        if ((size_t)(end - p) - STREAM_META_ENTRY_HEADER < value_len)
            return sl_err_set(SIGLOG_ECORRUPT, "stream metadata: the value of tag 0x%04x runs past the entries",
                           tag);
        if ((rc = decode_entry(tag, p + STREAM_META_ENTRY_HEADER, value_len, c, extra)) != 0)
            return rc;
        prev = tag;
        p += STREAM_META_ENTRY_HEADER + value_len;
    }
    return 0;
}

int sl_stream_meta_decode(const uint8_t *buf, size_t len, char name[SIGLOG_NAME_MAX + 1], uint32_t *id,
                       siglog_stream_config *c, stream_meta_extra *extra, int *version)
{
    if (len < 8 || get_le32(buf) != STREAM_META_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "not a stream metadata file (bad magic or %zu bytes)", len);
    /* The version says where the checksum is: a damaged version byte
     * makes the file fail the other layout's checks. */
    int v = get_le16(buf + 4), rc;
    siglog_stream_config_default(c);
    if (extra)
        extra->len = 0;
    if (v == 1)
        rc = decode_v1(buf, len, name, id, c);
    else if (v == 2)
        rc = decode_v2(buf, len, name, id, c, extra);
    else
        rc = sl_err_set(SIGLOG_EVERSION, "stream metadata version %d, this build reads 1 and 2", v);
    if (rc)
        return rc;
    if (version)
        *version = v;
    /* Same ranges as at creation; the journal bound is checked at open. */
    rc = sl_stream_config_normalize(c, UINT64_MAX);
    return rc == SIGLOG_EINVAL ? sl_err_set(SIGLOG_ECORRUPT, "stream metadata: %s", siglog_errdetail()) : rc;
}

/* The partitions of a stream work by its settings, the store's mode and
 * the version of its stream.meta (meta_version). */
static partition_config partition_config_of(const struct siglog *s, const char *name, const siglog_stream_config *c,
                                            int meta_version)
{
    partition_config pc = {.stream = *c,
                           .file_mode = s->opt.file_mode,
                           .remove_leftovers = s->maintenance_idle,
                           .catalog_required = meta_version >= 2,
                           .backend = sl_options_io(&s->opt),
                           .store_id = s->store_id};
    snprintf(pc.stream_name, sizeof pc.stream_name, "%s", name);
    return pc;
}

/* Remove a directory that stream creation made, with what it holds two
 * levels deep (partition directories and their files). Best effort: for
 * undoing a creation that failed, and the temporary directory of one a
 * crash interrupted. Only ever called on directories that hold no event
 * (a new stream, never appended to). */
static void remove_created(const siglog_io *io, const char *dir)
{
    io_dirent_list l = {0};
    if (io->list_dir(io, dir, &l) == 0)
        for (size_t i = 0; i < l.count; i++) {
            char *path = sl_path_join(dir, l.names[i]);
            io_dirent_list inner = {0};
            if (path && io->list_dir(io, path, &inner) == 0) {
                for (size_t k = 0; k < inner.count; k++) {
                    char *f = sl_path_join(path, inner.names[k]);
                    if (f)
                        io->unlink(io, f);
                    free(f);
                }
                sl_io_dirent_list_free(&inner);
                io->rmdir(io, path);
            } else if (path) {
                io->unlink(io, path);
            }
            free(path);
        }
    sl_io_dirent_list_free(&l);
    io->rmdir(io, dir);
}

void sl_stream_remove_new(struct siglog *s, const char *streams_dir, const char *name)
{
    char *dir = sl_path_join(streams_dir, name);
    if (dir) {
        remove_created(s->io, dir);
        s->io->sync_dir(s->io, streams_dir);
    }
    free(dir);
}

/* streams/NAME may be taken by a new stream only when it is absent or
 * empty: anything there is the remains of an earlier stream (partitions,
 * segments) that a new one must not silently adopt. */
static int check_name_free(const siglog_io *io, const char *dir, const char *name)
{
    io_dirent_list l = {0};
    int r = io->list_dir(io, dir, &l);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return sl_err_errno(r, "listing %s", dir);
    int rc = 0;
    if (l.count)
        rc = sl_err_set(SIGLOG_EEXIST,
                     "%s still holds %zu entries (%s%s) left by an earlier stream '%s': check them with siglog "
                     "verify, then take them over with stream create --adopt (same partition count), or move them "
                     "away",
                     dir, l.count, l.names[0], l.count > 1 ? ", ..." : "", name);
    sl_io_dirent_list_free(&l);
    return rc;
}

int sl_stream_create_files(struct siglog *s, const char *streams_dir, const char *name, uint32_t id,
                        const siglog_stream_config *c)
{
    const siglog_io *io = s->io;
    char tmp_name[SIGLOG_NAME_MAX + 8];
    snprintf(tmp_name, sizeof tmp_name, ".%s.tmp", name);
    char *dir = sl_path_join(streams_dir, name);
    char *tmp = sl_path_join(streams_dir, tmp_name);
    char *meta = tmp ? sl_path_join(tmp, STREAM_META_FILE) : NULL;
    int rc = 0, made = 0;
    if (!dir || !meta) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = check_name_free(io, dir, name)) != 0)
        goto out;
    remove_created(io, tmp); /* a creation a crash interrupted */
    int m = io->mkdir(io, tmp, s->opt.dir_mode);
    if (m < 0) {
        rc = sl_err_errno(m, "creating directory %s", tmp);
        goto out;
    }
    made = 1;
    for (uint32_t p = 0; p < c->partitions && !rc; p++) {
        char *pd = sl_path_partition_dir(tmp, p);
        int r = pd ? io->mkdir(io, pd, s->opt.dir_mode) : -ENOMEM;
        if (r < 0)
            rc = sl_err_errno(r, "creating directory %s", pd ? pd : tmp);
        free(pd);
    }
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, name, id, c, NULL);
    /* Its directory sync also makes the partition directories durable. */
    int r = rc ? 0 : sl_io_replace_file(io, tmp, meta, buf, len, s->opt.file_mode);
    if (r < 0)
        rc = sl_err_errno(r, "writing %s", meta);
    if (!rc && (r = io->rename(io, tmp, dir)) < 0)
        rc = sl_err_errno(r, "renaming %s to %s", tmp, dir);
    if (rc)
        goto out;
    made = 0;
    if ((r = io->sync_dir(io, streams_dir)) < 0) {
        rc = sl_err_errno(r, "fsync of directory %s failed", streams_dir);
        sl_stream_remove_new(s, streams_dir, name);
    }
out:
    if (made)
        remove_created(io, tmp);
    free(meta);
    free(tmp);
    free(dir);
    return rc;
}

int sl_stream_adopt_check(struct siglog *s, const char *dir, const siglog_stream_config *c)
{
    const siglog_io *io = s->io;
    io_dirent_list l = {0};
    int r = io->list_dir(io, dir, &l);
    if (r < 0)
        return sl_err_errno(r, "listing %s", dir);
    uint32_t parts = 0;
    int rc = 0;
    for (size_t i = 0; i < l.count && !rc; i++) {
        char want[16];
        snprintf(want, sizeof want, "%05u", parts);
        /* A partition's floor file (catalog_floor.h) sorts right after
         * its directory: "00000", "00000.floor", "00001", ... */
        char floor_name[32];
        snprintf(floor_name, sizeof floor_name, "%05u" CATALOG_FLOOR_SUFFIX, parts ? parts - 1 : 0);
        size_t fl = strlen(floor_name);
        int floor_file = parts > 0 && strncmp(l.names[i], floor_name, fl) == 0 &&
                         (l.names[i][fl] == '\0' || strcmp(l.names[i] + fl, ".tmp") == 0);
        if (strcmp(l.names[i], want) == 0)
            parts++;
        else if (!floor_file && strcmp(l.names[i], STREAM_META_FILE) != 0 &&
                 strcmp(l.names[i], STREAM_META_FILE ".tmp") != 0 && strcmp(l.names[i], HWM_FILE) != 0 &&
                 strcmp(l.names[i], HWM_FILE ".tmp") != 0)
            rc = sl_err_set(SIGLOG_EINVAL, "%s holds %s, which is no partition of a stream: not adopted", dir,
                         l.names[i]);
    }
    sl_io_dirent_list_free(&l);
    if (!rc && parts != c->partitions)
        rc = sl_err_set(SIGLOG_EINVAL,
                     "%s holds %u partition directories (00000 on), the config asks for %u: only the same count "
                     "is adopted",
                     dir, parts, c->partitions);
    /* What a reader checks, writing nothing: catalog and segments agree
     * and the log reaches its bound, by the rules of the version 2
     * stream.meta adoption writes. */
    partition_config pc = partition_config_of(s, "", c, 2);
    for (uint32_t p = 0; p < parts && !rc; p++) {
        char *pd = sl_path_partition_dir(dir, p);
        partition *part = NULL;
        partition_snapshot snap;
        rc = pd ? sl_partition_open(&part, io, pd, p, &pc, 0, UINT64_MAX, NULL, NULL)
                : sl_err_set(SIGLOG_ENOMEM, "out of memory");
        if (!rc && (rc = sl_partition_snapshot_get(part, &snap, 0)) != 0)
            rc = sl_err_set(rc, "not adopted: %s", siglog_errdetail());
        sl_partition_close(part);
        free(pd);
    }
    return rc;
}

int sl_stream_adopt_files(struct siglog *s, const char *dir, const char *name, uint32_t id,
                       const siglog_stream_config *c)
{
    char *meta = sl_path_join(dir, STREAM_META_FILE);
    if (!meta)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, name, id, c, NULL);
    int r = sl_io_replace_file(s->io, dir, meta, buf, len, s->opt.file_mode);
    int rc = r < 0 ? sl_err_errno(r, "writing %s", meta) : 0;
    free(meta);
    return rc;
}


/* Keep a stream that failed to open as a placeholder with no partitions
 * (see struct siglog_stream). Its name is its directory's, which the
 * caller validated as a stream name. */
static siglog_stream *become_failed(siglog_stream *st, int code)
{
    if (st->parts)
        for (uint32_t p = 0; p < st->cfg.partitions; p++)
            sl_partition_close(st->parts[p]);
    free(st->parts);
    st->parts = NULL;
    siglog_stream_config_default(&st->cfg);
    st->cfg.partitions = 0;
    const char *base = strrchr(st->dir, '/');
    snprintf(st->name, sizeof st->name, "%s", base ? base + 1 : st->dir);
    st->failed = code;
    snprintf(st->failed_detail, sizeof st->failed_detail, "%s", siglog_errdetail());
    return st;
}

void sl_stream_attach_hint(siglog_stream *st)
{
    struct siglog *s = st->store;
    if (st->failed || st->hint)
        return;
    if (sl_hwm_writer_open(s->io, st->dir, st->cfg.partitions, s->opt.file_mode, &st->hint) != 0) {
        sl_store_log(s, SIGLOG_LOG_WARN, "%s: readers in other processes will scan for new events instead", siglog_errdetail());
        sl_err_clear();
        return;
    }
    for (uint32_t p = 0; p < st->cfg.partitions; p++)
        sl_partition_attach_hint(st->parts[p], st->hint);
}

int sl_stream_open(struct siglog *s, const char *dir, int writable, siglog_stream **out)
{
    *out = NULL;
    siglog_stream *st = calloc(1, sizeof *st);
    if (!st || !(st->dir = strdup(dir))) {
        free(st);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    st->store = s;
    char *meta = sl_path_join(dir, STREAM_META_FILE);
    void *data = NULL;
    size_t len = 0;
    int rc;
    if (!meta) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto fail;
    }
    int r = sl_io_read_file(s->io, meta, STREAM_META_BYTES_MAX, &data, &len);
    if (r < 0) {
        /* The directory of a stream exists only once its metadata does
         * (sl_stream_create_files): without it, the metadata was lost. */
        rc = r == -EFBIG    ? sl_err_set(SIGLOG_ECORRUPT, "%s: larger than any stream metadata", meta)
             : r == -ENOENT ? sl_err_set(SIGLOG_ECORRUPT, "%s is missing", meta)
                            : sl_err_errno(r, "reading %s", meta);
        goto fail;
    }
    rc = sl_stream_meta_decode(data, len, st->name, &st->id, &st->cfg, &st->meta_extra, &st->meta_version);
    if (rc) {
        rc = sl_err_set(rc, "%s: %s", meta, siglog_errdetail());
        goto fail;
    }
    if (writable && (rc = sl_stream_config_normalize(&st->cfg, sl_journal_capacity(s->journal))) != 0)
        goto fail;
    partition_config pc = partition_config_of(s, st->name, &st->cfg, st->meta_version);
    /* What a writer holds appended but uncommitted is bounded per stream:
     * a quarter of the journal, at most 4 MiB, shared by its partitions
     * (each at least 256 KiB, a few batches). A bound per partition would
     * let a stream of many partitions hold many times as much while a
     * commit stalls on a checkpoint's syncs, and the writer's memory grow
     * with the partitions and the time its store has run. */
    uint64_t quarter = writable ? sl_journal_capacity(s->journal) / 4 : 0;
    uint64_t budget = quarter < 4 * MiB ? quarter : 4 * MiB;
    uint64_t share = budget / (st->cfg.partitions ? st->cfg.partitions : 1);
    st->pending_bytes_max = share > 256 * KiB ? share : budget < 256 * KiB ? budget : 256 * KiB;
    st->parts = calloc(st->cfg.partitions, sizeof *st->parts);
    if (!st->parts) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto fail;
    }
    /* A damaged registry does not fail the stream: it is kept failed in
     * the registry, for the calls that need it (schema_registry.h). */
    if ((rc = sl_schema_registry_open(&st->schemas, s->io, dir)) != 0)
        goto fail;
    pc.schemas = st->schemas;
    for (uint32_t p = 0; p < st->cfg.partitions; p++) {
        char *pd = sl_path_partition_dir(dir, p);
        if (!pd) {
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
            goto fail;
        }
        uint64_t journal_from = writable ? sl_store_journal_start(s, st->id, p) : UINT64_MAX;
        rc = sl_partition_open(&st->parts[p], s->io, pd, p, &pc, writable, journal_from, sl_store_log_cb,
                            s);
        free(pd);
        if (rc)
            goto fail;
    }
    free(meta);
    free(data);
    *out = st;
    return 0;
fail:
    free(meta);
    free(data);
    if (rc != SIGLOG_ENOMEM)
        *out = become_failed(st, rc);
    else
        sl_stream_close(st);
    return rc;
}

int sl_stream_usable(const siglog_stream *st)
{
    return st->failed ? sl_err_set(st->failed, "stream '%s' is unusable: %s", st->name, st->failed_detail) : 0;
}

int sl_stream_partition_usable(const siglog_stream *st, uint32_t partition)
{
    int rc = sl_stream_usable(st);
    if (!rc && partition >= st->cfg.partitions)
        rc = sl_err_set(SIGLOG_ENOENT, "stream '%s' has %u partitions, no partition %u", st->name, st->cfg.partitions,
                        partition);
    return rc;
}

void sl_stream_close(siglog_stream *st)
{
    if (!st)
        return;
    if (st->parts)
        for (uint32_t p = 0; p < st->cfg.partitions; p++)
            sl_partition_close(st->parts[p]);
    sl_hwm_writer_close(st->hint);
    free(st->parts);
    sl_schema_registry_close(st->schemas);
    free(st->dir);
    free(st);
}
