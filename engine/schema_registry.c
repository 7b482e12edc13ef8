/*
 * schema_registry — the per-stream registry file and its rules; see
 * schema_registry.h and format-spec/FORMAT.md, "Schema registry".
 */
#include "schema_registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "names.h"

/* ---- the list ---- */

void sl_schema_list_free(schema_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->v[i].name);
        sl_schema_def_free(l->v[i].def);
    }
    free(l->v);
    *l = (schema_list){ 0 };
}

const schema_entry *sl_schema_list_find(const schema_list *l, uint32_t version)
{
    size_t lo = 0, hi = l->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].version == version)
            return &l->v[mid];
        if (l->v[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A name is shown in listings and error messages: no control bytes. */
static int name_ok(const char *name, size_t len)
{
    if (len > SCHEMA_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return 0;
    return 1;
}

int sl_schema_list_encode(const schema_list *l, uint8_t **out, size_t *len)
{
    size_t total = SCHEMA_REGISTRY_HEADER_BYTES + 8;
    for (size_t i = 0; i < l->count; i++)
        total += SCHEMA_ENTRY_FIXED_BYTES + strlen(l->v[i].name) + l->v[i].def->canonical_len;
    uint8_t *buf = calloc(1, total);
    if (!buf)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    put_le32(buf, SCHEMA_REGISTRY_MAGIC);
    put_le16(buf + 4, SCHEMA_REGISTRY_VERSION);
    put_le32(buf + 8, (uint32_t)l->count);
    size_t at = SCHEMA_REGISTRY_HEADER_BYTES;
    for (size_t i = 0; i < l->count; i++) {
        const schema_entry *e = &l->v[i];
        size_t name_len = strlen(e->name);
        put_le32(buf + at, e->version);
        buf[at + 4] = (uint8_t)e->compat;
        put_le64(buf + at + 8, (uint64_t)e->registered_at_us);
        put_le64(buf + at + 16, e->def->fingerprint);
        put_le16(buf + at + 24, (uint16_t)name_len);
        put_le32(buf + at + 28, (uint32_t)e->def->canonical_len);
        at += SCHEMA_ENTRY_FIXED_BYTES;
        memcpy(buf + at, e->name, name_len);
        at += name_len;
        memcpy(buf + at, e->def->canonical, e->def->canonical_len);
        at += e->def->canonical_len;
    }
    put_le64(buf + at, XXH3_64bits(buf, at));
    *out = buf;
    *len = total;
    return 0;
}

static int decode_entry(const uint8_t *buf, size_t end, size_t *at, uint32_t prev, schema_entry *e)
{
    size_t pos = *at;
    if (end - pos < SCHEMA_ENTRY_FIXED_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "entry at byte %zu is cut short", pos);
    const uint8_t *p = buf + pos;
    e->version = get_le32(p);
    e->compat = p[4];
    e->registered_at_us = (int64_t)get_le64(p + 8);
    uint64_t fingerprint = get_le64(p + 16);
    size_t name_len = get_le16(p + 24);
    size_t def_len = get_le32(p + 28);
    if (p[5] || p[6] || p[7] || get_le16(p + 26))
        return sl_err_set(SIGLOG_ECORRUPT, "entry at byte %zu: reserved bytes are not zero", pos);
    if (e->version <= prev)
        return sl_err_set(SIGLOG_ECORRUPT, "entry at byte %zu: version %u does not follow %u", pos, e->version, prev);
    if (e->compat >= SCHEMA_COMPAT_MODES)
        return sl_err_set(SIGLOG_ECORRUPT, "entry at byte %zu: unknown compatibility mode %d", pos, e->compat);
    pos += SCHEMA_ENTRY_FIXED_BYTES;
    if (name_len > end - pos || def_len > end - pos - name_len)
        return sl_err_set(SIGLOG_ECORRUPT, "entry at byte %zu: its name and definition run past the entries", *at);
    if (!name_ok((const char *)buf + pos, name_len))
        return sl_err_set(SIGLOG_ECORRUPT, "entry at byte %zu: invalid name", *at);
    e->name = strndup((const char *)buf + pos, name_len);
    if (!e->name)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    pos += name_len;
    int rc = sl_schema_def_parse(&e->def, buf + pos, def_len);
    if (rc)
        return rc == SIGLOG_ENOMEM ? rc
                                   : sl_err_set(SIGLOG_ECORRUPT, "version %u: invalid definition: %s", e->version,
                                             siglog_errdetail());
    if (e->def->canonical_len != def_len || memcmp(e->def->canonical, buf + pos, def_len) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "version %u: definition is not in canonical form", e->version);
    if (e->def->fingerprint != fingerprint)
        return sl_err_set(SIGLOG_ECORRUPT, "version %u: fingerprint %016llx, the definition's is %016llx", e->version,
                       (unsigned long long)fingerprint, (unsigned long long)e->def->fingerprint);
    *at = pos + def_len;
    return 0;
}

int sl_schema_list_decode(const uint8_t *buf, size_t len, schema_list *out)
{
    *out = (schema_list){ 0 };
    if (len < SCHEMA_REGISTRY_HEADER_BYTES + 8)
        return sl_err_set(SIGLOG_ECORRUPT, "%zu bytes, less than a header and checksum", len);
    if (get_le32(buf) != SCHEMA_REGISTRY_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "bad magic");
    if (get_le64(buf + len - 8) != XXH3_64bits(buf, len - 8))
        return sl_err_set(SIGLOG_ECORRUPT, "checksum mismatch (the file is damaged or cut short)");
    if (get_le16(buf + 4) != SCHEMA_REGISTRY_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "format version %u, this build reads %d", get_le16(buf + 4),
                       SCHEMA_REGISTRY_VERSION);
    if (get_le16(buf + 6) || get_le32(buf + 12))
        return sl_err_set(SIGLOG_ECORRUPT, "reserved header bytes are not zero");
    uint32_t count = get_le32(buf + 8);
    if (count > SCHEMA_VERSIONS_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "%u versions, more than %d", count, SCHEMA_VERSIONS_MAX);
    out->v = calloc(count ? count : 1, sizeof *out->v);
    if (!out->v)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    size_t at = SCHEMA_REGISTRY_HEADER_BYTES, end = len - 8;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < count; i++) {
        out->count++;
        int rc = decode_entry(buf, end, &at, prev, &out->v[i]);
        if (rc) {
            sl_schema_list_free(out);
            return rc;
        }
        prev = out->v[i].version;
    }
    if (at != end) {
        sl_schema_list_free(out);
        return sl_err_set(SIGLOG_ECORRUPT, "%zu bytes after the last entry", end - at);
    }
    return 0;
}

/* ---- the rules of registration ---- */

int sl_schema_list_admit(const schema_list *l, uint32_t version, const char *name, const schema_def *def, int compat,
                      schema_reasons *reasons, int *same)
{
    *same = 0;
    if (version == 0)
        return sl_err_set(SIGLOG_EINVAL, "schema version 0 is reserved for events without a schema");
    if (compat < 0 || compat >= SCHEMA_COMPAT_MODES)
        return sl_err_set(SIGLOG_EINVAL, "unknown compatibility mode %d", compat);
    if (!name_ok(name, strlen(name)))
        return sl_err_set(SIGLOG_EINVAL, "a schema name is at most %d bytes without control characters",
                       SCHEMA_NAME_MAX);
    const schema_entry *had = sl_schema_list_find(l, version);
    if (had) {
        if (had->def->fingerprint == def->fingerprint && strcmp(had->def->canonical, def->canonical) == 0) {
            *same = 1;
            return 0;
        }
        return sl_err_set(SIGLOG_EEXIST, "version %u is registered with another definition (fingerprint %016llx)",
                       version, (unsigned long long)had->def->fingerprint);
    }
    if (l->count == 0)
        return 0;
    const schema_entry *latest = &l->v[l->count - 1];
    if (version < latest->version)
        return sl_err_set(SIGLOG_EINVAL, "version %u is below the latest, %u: versions are registered in increasing order",
                       version, latest->version);
    if (l->count >= SCHEMA_VERSIONS_MAX)
        return sl_err_set(SIGLOG_ELIMIT, "the stream has %d schema versions, the most it may", SCHEMA_VERSIONS_MAX);
    size_t from = sl_schema_compat_transitive(compat) ? 0 : l->count - 1;
    for (size_t i = from; i < l->count; i++) {
        int rc = sl_schema_compat_check(l->v[i].def, l->v[i].version, def, compat, reasons);
        if (rc)
            return rc;
    }
    if (reasons->count == 0)
        return 0;
    return sl_err_set(SIGLOG_ESCHEMA, "version %u is not %s compatible with version%s %s%u: %zu reason%s", version,
                   sl_schema_compat_name(compat), from + 1 < l->count ? "s" : "", from + 1 < l->count ? "1.." : "",
                   latest->version, reasons->count + reasons->dropped, reasons->count + reasons->dropped == 1 ? "" : "s");
}

/* ---- the registry of a stream ---- */

int sl_schema_registry_open(schema_registry **out, const siglog_io *io, const char *dir)
{
    *out = NULL;
    schema_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir)) || !(r->path = sl_path_join(dir, SCHEMA_REGISTRY_FILE))) {
        if (r)
            free(r->dir);
        free(r);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    pthread_rwlock_init(&r->lock, NULL);
    void *data = NULL;
    size_t len = 0;
    int rc = sl_io_read_file(io, r->path, SCHEMA_REGISTRY_BYTES_MAX, &data, &len);
    if (rc == -ENOENT) {
        rc = 0;
    } else if (rc == -EFBIG) {
        r->failed = sl_err_set(SIGLOG_ECORRUPT, "%s: larger than any schema registry", r->path);
        rc = 0;
    } else if (rc < 0) {
        rc = sl_err_errno(rc, "reading %s", r->path);
    } else {
        rc = sl_schema_list_decode(data, len, &r->list);
        if (rc && rc != SIGLOG_ENOMEM) {
            r->failed = sl_err_set(rc, "%s: %s", r->path, siglog_errdetail());
            rc = 0;
        }
    }
    free(data);
    if (r->failed)
        snprintf(r->failed_detail, sizeof r->failed_detail, "%s", siglog_errdetail());
    if (rc) {
        sl_schema_registry_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void sl_schema_registry_close(schema_registry *r)
{
    if (!r)
        return;
    sl_schema_list_free(&r->list);
    pthread_rwlock_destroy(&r->lock);
    free(r->dir);
    free(r->path);
    free(r);
}

int sl_schema_registry_usable(const schema_registry *r)
{
    return r->failed ? sl_err_set(r->failed, "%s", r->failed_detail) : 0;
}

/* Persist list + the new entry e, then take e in (the list keeps it). */
static int persist_with(schema_registry *r, const siglog_io *io, uint32_t file_mode, schema_entry *e)
{
    schema_entry *v = realloc(r->list.v, (r->list.count + 1) * sizeof *v);
    if (!v)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    r->list.v = v;
    schema_list next = { v, r->list.count + 1 };
    v[r->list.count] = *e;
    uint8_t *bytes;
    size_t len;
    int rc = sl_schema_list_encode(&next, &bytes, &len);
    if (rc)
        return rc;
    rc = sl_io_replace_file(io, r->dir, r->path, bytes, len, file_mode);
    free(bytes);
    if (rc < 0)
        return sl_err_errno(rc, "writing %s", r->path);
    r->list.count++;
    return 0;
}

int sl_schema_registry_add(schema_registry *r, const siglog_io *io, uint32_t file_mode, uint32_t version,
                        const char *name, schema_def *def, int compat, int64_t now_us, int dry_run,
                        schema_reasons *reasons)
{
    pthread_rwlock_wrlock(&r->lock);
    int same = 0;
    int rc = sl_schema_registry_usable(r);
    if (!rc)
        rc = sl_schema_list_admit(&r->list, version, name, def, compat, reasons, &same);
    if (!rc && !same && !dry_run) {
        schema_entry e = { .version = version, .compat = compat, .registered_at_us = now_us, .name = strdup(name),
                           .def = def };
        rc = e.name ? persist_with(r, io, file_mode, &e) : sl_err_set(SIGLOG_ENOMEM, "out of memory");
        if (!rc)
            def = NULL; /* the list owns it now */
        else
            free(e.name);
    }
    pthread_rwlock_unlock(&r->lock);
    sl_schema_def_free(def);
    return rc;
}
