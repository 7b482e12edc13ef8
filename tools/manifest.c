/*
 * manifest — the digest and the delivered ranges of a replay, and the
 * manifest file that records them. See manifest.h.
 */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void manifest_begin(manifest *m)
{
    memset(m, 0, sizeof *m);
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

/* FORMAT.md §22: partition u32, offset u64, timestamp i64, key length u32,
 * key, value length u32, value; integers little-endian. */
static void digest_record(manifest *m, const siglog_record *r)
{
    unsigned char head[24], len[4];
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

static manifest_range *range_of(manifest *m, uint32_t partition)
{
    for (size_t i = 0; i < m->nranges; i++)
        if (m->ranges[i].partition == partition)
            return &m->ranges[i];
    manifest_range *grown = realloc(m->ranges, (m->nranges + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    m->ranges = grown;
    return memset(&m->ranges[m->nranges++], 0, sizeof *grown);
}

static int note_version(manifest *m, uint32_t version)
{
    for (size_t i = 0; i < m->nversions; i++)
        if (m->versions[i] == version)
            return 0;
    uint32_t *grown = realloc(m->versions, (m->nversions + 1) * sizeof *grown);
    if (!grown)
        return -1;
    m->versions = grown;
    m->versions[m->nversions++] = version;
    return 0;
}

void manifest_add(manifest *m, const siglog_record *r)
{
    digest_record(m, r);
    m->events++;
    manifest_range *rg = range_of(m, r->partition);
    if (!rg || note_version(m, r->schema_version) != 0) {
        m->failed = 1;
        return;
    }
    /* Event-time order visits a partition's offsets out of order. */
    if (rg->events == 0 || r->offset < rg->first_offset)
        rg->first_offset = r->offset;
    if (rg->events == 0 || r->offset > rg->last_offset)
        rg->last_offset = r->offset;
    rg->partition = r->partition;
    rg->events++;
}

static int by_partition(const void *a, const void *b)
{
    const manifest_range *x = a, *y = b;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static json_t *ranges_json(manifest *m)
{
    qsort(m->ranges, m->nranges, sizeof *m->ranges, by_partition);
    json_t *a = json_array();
    for (size_t i = 0; i < m->nranges; i++)
        json_array_append_new(a, json_pack("{s:I,s:I,s:I,s:I}", "partition", (json_int_t)m->ranges[i].partition,
                                           "first_offset", (json_int_t)m->ranges[i].first_offset, "last_offset",
                                           (json_int_t)m->ranges[i].last_offset, "events",
                                           (json_int_t)m->ranges[i].events));
    return a;
}

/* Each version seen with its registered fingerprint (16 hex digits), or
 * null when the stream's registry does not know it. */
static json_t *schemas_json(const manifest *m, siglog_stream *st)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->nversions; i++) {
        siglog_schema_info info;
        json_t *fp = json_null();
        if (siglog_schema_get(st, m->versions[i], &info) == 0) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)info.fingerprint);
            json_decref(fp);
            fp = json_string(hex);
        }
        json_array_append_new(a, json_pack("{s:I,s:o}", "version", (json_int_t)m->versions[i], "fingerprint", fp));
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

int manifest_write(manifest *m, siglog_stream *st, const char *stream, json_t *options, const char *path)
{
    if (m->failed) {
        json_decref(options);
        errno = ENOMEM;
        return -1;
    }
    unsigned char digest[MANIFEST_DIGEST_BYTES];
    char hex[2 * MANIFEST_DIGEST_BYTES + 1];
    crypto_generichash_final(&m->digest, digest, sizeof digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    json_t *doc = json_pack("{s:i,s:s,s:o,s:o,s:o,s:I,s:s,s:s}", "manifest_version", 1, "stream", stream, "options",
                            options, "partitions", ranges_json(m), "schemas", schemas_json(m, st), "events",
                            (json_int_t)m->events, "digest_algorithm", "blake2b-256", "digest", hex);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
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
    free(m->versions);
}
