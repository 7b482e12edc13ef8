/*
 * manifest — the digest, the delivered ranges and the reading ends of a
 * replay, and the manifest file that records them. See manifest.h.
 */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void manifest_begin(manifest *m, const char *const *streams, size_t nstreams)
{
    memset(m, 0, sizeof *m);
    m->streams = streams;
    m->nstreams = nstreams;
    /* sodium_init picks the fastest BLAKE2b; it fails only when libsodium
     * cannot run at all, and then no manifest is written. */
    if (sodium_init() < 0)
        m->failed = 1;
    crypto_generichash_init(&m->digest, NULL, 0, MANIFEST_DIGEST_BYTES);
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* FORMAT.md §22: when the replay reads several streams, the stream's name
 * length u32 and name; then partition u32, offset u64, timestamp i64, key
 * length u32, key, value length u32, value; integers little-endian. */
static void digest_record(manifest *m, uint32_t stream, const siglog_record *r)
{
    unsigned char head[24], len[4];
    if (m->nstreams > 1) {
        size_t n = strlen(m->streams[stream]);
        put_le(len, n, 4);
        crypto_generichash_update(&m->digest, len, sizeof len);
        crypto_generichash_update(&m->digest, (const unsigned char *)m->streams[stream], n);
    }
    put_le(head, r->partition, 4);
    put_le(head + 4, r->offset, 8);
    put_le(head + 12, (uint64_t)r->timestamp_us, 8);
    put_le(head + 20, (uint64_t)r->key_len, 4);
    crypto_generichash_update(&m->digest, head, sizeof head);
    crypto_generichash_update(&m->digest, r->key, r->key_len);
    put_le(len, (uint64_t)r->value_len, 4);
    crypto_generichash_update(&m->digest, len, sizeof len);
    crypto_generichash_update(&m->digest, r->value, r->value_len);
}

/* Grow *arr (of *n elements of size `size`) by one zeroed element. */
static void *grow(void *arr_ptr, size_t *n, size_t size)
{
    void **arr = arr_ptr;
    unsigned char *grown = realloc(*arr, (*n + 1) * size);
    if (!grown)
        return NULL;
    *arr = grown;
    return memset(grown + (*n)++ * size, 0, size);
}

static manifest_range *range_of(manifest *m, uint32_t stream, uint32_t partition)
{
    for (size_t i = 0; i < m->nranges; i++)
        if (m->ranges[i].stream == stream && m->ranges[i].partition == partition)
            return &m->ranges[i];
    manifest_range *rg = grow(&m->ranges, &m->nranges, sizeof *rg);
    if (rg) {
        rg->stream = stream;
        rg->partition = partition;
    }
    return rg;
}

static int note_version(manifest *m, uint32_t stream, uint32_t version)
{
    for (size_t i = 0; i < m->nversions; i++)
        if (m->versions[i].stream == stream && m->versions[i].version == version)
            return 0;
    manifest_version_seen *v = grow(&m->versions, &m->nversions, sizeof *v);
    if (!v)
        return -1;
    v->stream = stream;
    v->version = version;
    return 0;
}

void manifest_add(manifest *m, uint32_t stream, const siglog_record *r)
{
    digest_record(m, stream, r);
    m->events++;
    manifest_range *rg = range_of(m, stream, r->partition);
    if (!rg || note_version(m, stream, r->schema_version) != 0) {
        m->failed = 1;
        return;
    }
    /* Event-time order visits a partition's offsets out of order. */
    if (rg->events == 0 || r->offset < rg->first_offset)
        rg->first_offset = r->offset;
    if (rg->events == 0 || r->offset > rg->last_offset)
        rg->last_offset = r->offset;
    rg->events++;
}

void manifest_note_end(manifest *m, uint32_t stream, uint32_t partition, uint64_t start_offset,
                       uint64_t end_offset)
{
    manifest_end *e = grow(&m->ends, &m->nends, sizeof *e);
    if (!e) {
        m->failed = 1;
        return;
    }
    *e = (manifest_end){ stream, partition, start_offset, end_offset };
}

void manifest_finish(manifest *m)
{
    unsigned char digest[MANIFEST_DIGEST_BYTES];
    crypto_generichash_final(&m->digest, digest, sizeof digest);
    sodium_bin2hex(m->hex, sizeof m->hex, digest, sizeof digest);
    qsort(m->ranges, m->nranges, sizeof *m->ranges, manifest_by_stream_partition);
    qsort(m->ends, m->nends, sizeof *m->ends, manifest_by_stream_partition);
}

static json_t *ranges_json(const manifest *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->nranges; i++) {
        const manifest_range *r = &m->ranges[i];
        json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I,s:I}", "stream", m->streams[r->stream], "partition",
                                           (json_int_t)r->partition, "first_offset", (json_int_t)r->first_offset,
                                           "last_offset", (json_int_t)r->last_offset, "events",
                                           (json_int_t)r->events));
    }
    return a;
}

static json_t *ends_json(const manifest *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->nends; i++)
        json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I}", "stream", m->streams[m->ends[i].stream],
                                           "partition", (json_int_t)m->ends[i].partition, "start_offset",
                                           (json_int_t)m->ends[i].start_offset, "end_offset",
                                           (json_int_t)m->ends[i].end_offset));
    return a;
}

/* Each version seen with its registered fingerprint (16 hex digits), or
 * null when the stream's registry does not know it. */
static json_t *schemas_json(const manifest *m, siglog_stream *const *st)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->nversions; i++) {
        const manifest_version_seen *v = &m->versions[i];
        siglog_schema_info info;
        json_t *fp = json_null();
        if (siglog_schema_get(st[v->stream], v->version, &info) == 0) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)info.fingerprint);
            json_decref(fp);
            fp = json_string(hex);
        }
        json_array_append_new(a, json_pack("{s:s,s:I,s:o}", "stream", m->streams[v->stream], "version",
                                           (json_int_t)v->version, "fingerprint", fp));
    }
    return a;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* text to path through a synced temporary file beside it, renamed into
 * place and the directory synced: a reader sees the old file or the whole
 * new one, and the new one survives a power cut once this returns. */
static int replace_file(const char *path, const char *text)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8), *dircopy = strdup(path);
    int rc = -1, fd = -1;
    if (!tmp || !dircopy)
        goto out;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    if ((fd = mkstemp(tmp)) < 0)
        goto out;
    if (write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        errno = e;
        fd = -1;
        goto out;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        goto out;
    }
    int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        goto out;
    rc = fsync(dfd);
    close(dfd);
out:
    free(tmp);
    free(dircopy);
    return rc;
}

json_t *manifest_json(const manifest *m, siglog *s, const char *store_path, siglog_stream *const *st,
                      json_t *options)
{
    if (m->failed) {
        json_decref(options);
        return NULL;
    }
    char id[17];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)siglog_store_id(s));
    json_t *streams = json_array();
    for (size_t i = 0; i < m->nstreams; i++)
        json_array_append_new(streams, json_string(m->streams[i]));
    return json_pack("{s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:s,s:s}", "manifest_version", MANIFEST_VERSION,
                     "store_id", id, "store", store_path, "streams", streams, "options", options, "read",
                     ends_json(m), "partitions", ranges_json(m), "schemas", schemas_json(m, st), "events",
                     (json_int_t)m->events, "digest_algorithm", "blake2b-256", "digest", m->hex);
}

int manifest_write(const json_t *doc, const char *path)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        errno = ENOMEM;
        return -1;
    }
    memcpy(line + n, "\n", 2);
    int rc = replace_file(path, line);
    free(line);
    return rc;
}

void manifest_free(manifest *m)
{
    free(m->ranges);
    free(m->ends);
    free(m->versions);
}
