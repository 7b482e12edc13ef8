/*
 * schema_usage — a partition's per-version figures and their file; see
 * schema_usage.h and FORMAT.md, "Schema usage".
 */
#include "schema_usage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "schema_def.h"

#define PATH_BYTES_MAX (SCHEMA_PATH_MAX - 1)

void sl_schema_usage_init(schema_usage *u, uint64_t covered)
{
    *u = (schema_usage){ .covered = covered, .tally_end = covered };
}

static void entry_free(schema_usage_entry *e)
{
    for (size_t i = 0; i < e->path_count; i++)
        free(e->paths[i].path);
    free(e->paths);
}

void sl_schema_usage_free(schema_usage *u)
{
    for (size_t i = 0; i < u->count; i++)
        entry_free(&u->v[i]);
    free(u->v);
    sl_schema_usage_init(u, 0);
}

int sl_schema_usage_copy(schema_usage *dst, const schema_usage *src)
{
    sl_schema_usage_init(dst, src->covered);
    dst->tally_end = src->tally_end;
    dst->tally_events = src->tally_events;
    if (src->count && !(dst->v = calloc(src->count, sizeof *dst->v)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (size_t i = 0; i < src->count; i++, dst->count++) {
        schema_usage_entry *d = &dst->v[i];
        const schema_usage_entry *s = &src->v[i];
        *d = *s;
        d->paths = NULL;
        d->path_count = 0;
        if (s->path_count && !(d->paths = calloc(s->path_count, sizeof *d->paths)))
            goto nomem;
        for (; d->path_count < s->path_count; d->path_count++) {
            d->paths[d->path_count].count = s->paths[d->path_count].count;
            if (!(d->paths[d->path_count].path = strdup(s->paths[d->path_count].path)))
                goto nomem;
        }
    }
    return 0;
nomem:
    dst->count++; /* the entry being copied holds what it got so far */
    sl_schema_usage_free(dst);
    return sl_err_set(SIGLOG_ENOMEM, "out of memory");
}

/* Index of version in u, or where it belongs (*found 0). */
static size_t position(const schema_usage *u, uint32_t version, int *found)
{
    if (u->last < u->count && u->v[u->last].version == version) {
        *found = 1;
        return u->last;
    }
    size_t lo = 0, hi = u->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->v[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < u->count && u->v[lo].version == version;
    return lo;
}

int sl_schema_usage_stale(const schema_usage *u, uint64_t log_start, uint64_t first_base, uint64_t first_end)
{
    uint64_t lowest = UINT64_MAX;
    for (size_t i = 0; i < u->count; i++) {
        if (u->v[i].first_offset < log_start)
            return 1;
        if (u->v[i].first_offset < lowest)
            lowest = u->v[i].first_offset;
    }
    return first_end > first_base && first_end <= lowest && first_base < u->covered;
}

const schema_usage_entry *sl_schema_usage_find(const schema_usage *u, uint32_t version)
{
    int found;
    size_t i = position(u, version, &found);
    return found ? &u->v[i] : NULL;
}

int sl_schema_usage_add_run(schema_usage *u, uint32_t version, uint64_t first_offset, uint64_t last_offset,
                            uint64_t count, int64_t min_us, int64_t max_us)
{
    int rc = sl_schema_usage_add(u, version, first_offset, min_us);
    if (rc)
        return rc;
    schema_usage_entry *e = &u->v[u->last];
    e->last_offset = last_offset;
    if (max_us > e->max_timestamp_us)
        e->max_timestamp_us = max_us;
    e->count += count - 1;
    u->covered = last_offset + 1;
    return 0;
}

int sl_schema_usage_add(schema_usage *u, uint32_t version, uint64_t offset, int64_t timestamp_us)
{
    int found;
    size_t i = position(u, version, &found);
    if (!found) {
        schema_usage_entry *v = realloc(u->v, (u->count + 1) * sizeof *v);
        if (!v)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        u->v = v;
        memmove(&v[i + 1], &v[i], (u->count - i) * sizeof *v);
        v[i] = (schema_usage_entry){ .version = version, .first_offset = offset, .min_timestamp_us = timestamp_us,
                                     .max_timestamp_us = timestamp_us };
        u->count++;
    }
    schema_usage_entry *e = &u->v[i];
    e->last_offset = offset;
    if (timestamp_us < e->min_timestamp_us)
        e->min_timestamp_us = timestamp_us;
    if (timestamp_us > e->max_timestamp_us)
        e->max_timestamp_us = timestamp_us;
    e->count++;
    u->last = i;
    u->covered = offset + 1;
    return 0;
}

/* The counter of path in e, made when there is room, else "*"'s. NULL
 * only when out of memory. */
static schema_usage_path *path_counter(schema_usage_entry *e, const char *path)
{
    for (size_t i = 0; i < e->path_count; i++)
        if (strcmp(e->paths[i].path, path) == 0)
            return &e->paths[i];
    if (e->path_count >= SCHEMA_USAGE_PATHS_MAX && strcmp(path, "*") != 0)
        return path_counter(e, "*");
    schema_usage_path *v = realloc(e->paths, (e->path_count + 1) * sizeof *v);
    if (!v)
        return NULL;
    e->paths = v;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    e->paths[e->path_count] = (schema_usage_path){ copy, 0 };
    return &e->paths[e->path_count++];
}

int sl_schema_usage_nonconforming(schema_usage *u, uint32_t version, const char *const *paths, size_t n)
{
    int found;
    size_t i = position(u, version, &found);
    if (!found || !n)
        return 0;
    schema_usage_entry *e = &u->v[i];
    e->nonconforming++;
    for (size_t k = 0; k < n; k++) {
        int repeat = 0;
        for (size_t j = 0; j < k && !repeat; j++)
            repeat = strcmp(paths[j], paths[k]) == 0;
        if (repeat)
            continue;
        schema_usage_path *c = path_counter(e, paths[k]);
        if (!c)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        c->count++;
    }
    return 0;
}

/* ---- the file ---- */

int sl_schema_usage_encode(const schema_usage *u, uint8_t **out, size_t *len)
{
    size_t n = SCHEMA_USAGE_HEADER_BYTES + 8;
    for (size_t i = 0; i < u->count; i++) {
        n += SCHEMA_USAGE_ENTRY_BYTES;
        for (size_t k = 0; k < u->v[i].path_count; k++)
            n += 10 + strlen(u->v[i].paths[k].path);
    }
    uint8_t *buf = calloc(1, n), *p = buf;
    if (!buf)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    put_le32(p, SCHEMA_USAGE_MAGIC);
    put_le16(p + 4, SCHEMA_USAGE_VERSION);
    put_le32(p + 8, (uint32_t)u->count);
    put_le64(p + 16, u->covered);
    put_le64(p + 24, u->tally_end);
    put_le64(p + 32, u->tally_events);
    p += SCHEMA_USAGE_HEADER_BYTES;
    for (size_t i = 0; i < u->count; i++) {
        const schema_usage_entry *e = &u->v[i];
        put_le32(p, e->version);
        put_le32(p + 4, (uint32_t)e->path_count);
        put_le64(p + 8, e->first_offset);
        put_le64(p + 16, e->last_offset);
        put_le64(p + 24, (uint64_t)e->min_timestamp_us);
        put_le64(p + 32, (uint64_t)e->max_timestamp_us);
        put_le64(p + 40, e->count);
        put_le64(p + 48, e->nonconforming);
        p += SCHEMA_USAGE_ENTRY_BYTES;
        for (size_t k = 0; k < e->path_count; k++) {
            size_t l = strlen(e->paths[k].path);
            put_le16(p, (uint16_t)l);
            memcpy(p + 2, e->paths[k].path, l);
            put_le64(p + 2 + l, e->paths[k].count);
            p += 10 + l;
        }
    }
    put_le64(p, XXH3_64bits(buf, n - 8));
    *out = buf;
    *len = n;
    return 0;
}

static int bad(size_t at, const char *what)
{
    return sl_err_set(SIGLOG_ECORRUPT, "schema usage: %s at byte %zu", what, at);
}

/* One entry's paths at *p: names 1..PATH_BYTES_MAX bytes without NUL,
 * distinct, counts 1..nonconforming. */
static int decode_paths(const uint8_t *buf, const uint8_t **pp, const uint8_t *end, schema_usage_entry *e,
                        uint32_t want)
{
    const uint8_t *p = *pp;
    for (; e->path_count < want; e->path_count++) {
        if (end - p < 10)
            return bad((size_t)(p - buf), "path past the end");
        size_t l = get_le16(p);
        if (l == 0 || l > PATH_BYTES_MAX || (size_t)(end - p) < 10 + l || memchr(p + 2, 0, l))
            return bad((size_t)(p - buf), "bad path length or a NUL byte in a path");
        uint64_t count = get_le64(p + 2 + l);
        if (count == 0 || count > e->nonconforming)
            return bad((size_t)(p - buf), "path count not within 1..nonconforming");
        char *s = strndup((const char *)p + 2, l);
        if (!s)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        for (size_t j = 0; j < e->path_count; j++)
            if (strcmp(e->paths[j].path, s) == 0) {
                free(s);
                return bad((size_t)(p - buf), "a path twice");
            }
        e->paths[e->path_count] = (schema_usage_path){ s, count };
        p += 10 + l;
    }
    *pp = p;
    return 0;
}

static int decode_entry(const uint8_t *buf, const uint8_t **pp, const uint8_t *end, const schema_usage *u,
                        schema_usage_entry *e)
{
    const uint8_t *p = *pp;
    size_t at = (size_t)(p - buf);
    if (end - p < SCHEMA_USAGE_ENTRY_BYTES)
        return bad(at, "entry past the end");
    *e = (schema_usage_entry){ .version = get_le32(p),
                               .first_offset = get_le64(p + 8),
                               .last_offset = get_le64(p + 16),
                               .min_timestamp_us = (int64_t)get_le64(p + 24),
                               .max_timestamp_us = (int64_t)get_le64(p + 32),
                               .count = get_le64(p + 40),
                               .nonconforming = get_le64(p + 48) };
    uint32_t paths = get_le32(p + 4);
    if (u->count && e->version <= u->v[u->count - 1].version)
        return bad(at, "versions not ascending");
    if (e->first_offset > e->last_offset || e->last_offset >= u->covered || e->count == 0 ||
        e->count - 1 > e->last_offset - e->first_offset)
        return bad(at, "offsets or count out of order (first <= last < covered, 1 <= count <= last - first + 1)");
    if (e->min_timestamp_us > e->max_timestamp_us || e->nonconforming > e->count)
        return bad(at, "times out of order or more nonconforming events than events");
    if (paths > SCHEMA_USAGE_PATHS_MAX + 1 || (paths && !e->nonconforming))
        return bad(at, "too many paths, or paths without nonconforming events");
    p += SCHEMA_USAGE_ENTRY_BYTES;
    if (paths && !(e->paths = calloc(paths, sizeof *e->paths)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = decode_paths(buf, &p, end, e, paths);
    *pp = p;
    return rc;
}

int sl_schema_usage_decode(const uint8_t *buf, size_t len, schema_usage *out)
{
    sl_schema_usage_init(out, 0);
    if (len < SCHEMA_USAGE_HEADER_BYTES + 8)
        return bad(0, "file shorter than its header and checksum");
    if (get_le32(buf) != SCHEMA_USAGE_MAGIC)
        return bad(0, "bad magic");
    if (get_le64(buf + len - 8) != XXH3_64bits(buf, len - 8))
        return bad(len - 8, "checksum mismatch");
    if (get_le16(buf + 4) != SCHEMA_USAGE_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "schema usage: format version %u, this build reads %d", get_le16(buf + 4),
                       SCHEMA_USAGE_VERSION);
    if (get_le16(buf + 6) || get_le32(buf + 12))
        return bad(6, "reserved bytes not zero");
    uint32_t n = get_le32(buf + 8);
    const uint8_t *p = buf + SCHEMA_USAGE_HEADER_BYTES, *end = buf + len - 8;
    if (n > SCHEMA_USAGE_VERSIONS_MAX || n > (size_t)(end - p) / SCHEMA_USAGE_ENTRY_BYTES)
        return bad(8, "more entries than the file holds");
    out->covered = get_le64(buf + 16);
    out->tally_end = get_le64(buf + 24);
    out->tally_events = get_le64(buf + 32);
    if (out->tally_end > out->covered)
        return bad(24, "tally_end above covered");
    if (n && !(out->v = calloc(n, sizeof *out->v)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    int rc = 0;
    while (!rc && out->count < n) {
        /* Zeroed: decode_entry may fail before it writes e, and the stack
         * slot still holds the previous entry, whose paths out->v owns. */
        schema_usage_entry e = { 0 };
        rc = decode_entry(buf, &p, end, out, &e);
        out->v[out->count++] = e; /* freed with the rest on failure */
    }
    if (!rc && p != end)
        rc = bad((size_t)(p - buf), "bytes after the last entry");
    if (rc)
        sl_schema_usage_free(out);
    return rc;
}

static void file_path(char *buf, size_t n, const char *dir)
{
    snprintf(buf, n, "%s/%s", dir, SCHEMA_USAGE_FILE);
}

int sl_schema_usage_load(const siglog_io *io, const char *dir, schema_usage *u, int *found)
{
    char path[4096];
    file_path(path, sizeof path, dir);
    sl_schema_usage_init(u, 0);
    *found = 0;
    void *data;
    size_t len;
    int rc = sl_io_read_file(io, path, SCHEMA_USAGE_BYTES_MAX, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc == -EFBIG)
        return sl_err_set(SIGLOG_ECORRUPT, "%s: larger than any schema usage file", path);
    if (rc < 0)
        return sl_err_errno(rc, "cannot read %s", path);
    rc = sl_schema_usage_decode(data, len, u);
    free(data);
    if (rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION) {
        char detail[SL_ERR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", siglog_errdetail());
        return sl_err_set(rc, "%s: %s", path, detail);
    }
    *found = rc == 0;
    return rc;
}

int sl_schema_usage_save(const siglog_io *io, const char *dir, uint32_t file_mode, const schema_usage *u)
{
    char path[4096];
    file_path(path, sizeof path, dir);
    uint8_t *bytes;
    size_t len;
    int rc = sl_schema_usage_encode(u, &bytes, &len);
    if (rc)
        return rc;
    rc = sl_io_replace_file(io, dir, path, bytes, len, file_mode);
    free(bytes);
    return rc < 0 ? sl_err_errno(rc, "cannot write %s", path) : 0;
}
