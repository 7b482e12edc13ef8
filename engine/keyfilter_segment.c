/*
 * keyfilter_segment — a sealed segment's key filter: built from its
 * records when it is sealed, loaded by a reader for its catalog entry
 * (keyfilter.h).
 *
 * Built at the seal, the one point every sealed segment passes (a roll, a
 * recovered tail, a rewrite): from the key hashes the writer kept as it
 * appended each record of the segment (key_hashes.h) when it has them
 * all, else by reading the segment back, so that a filter holds exactly
 * the keys the file holds whatever crashed or was replayed before. Both
 * ways give the same file: the same hashes, sorted and made distinct.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keyfilter.h"

typedef struct hash_list {
    uint64_t *v;
    size_t n, cap;
} hash_list;

static int hash_list_push(hash_list *l, uint64_t h)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        uint64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = h;
    return 0;
}

/* Sort v[0..n) ascending: least significant byte first, eight stable
 * counting passes through tmp (a pass where every value has the same byte
 * is skipped). Linear in n, several times qsort's speed on a segment's
 * hundreds of thousands of hashes. */
static void radix_sort_u64(uint64_t *v, uint64_t *tmp, size_t n)
{
    uint64_t *from = v, *to = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(from[i] >> shift) & 0xff]++;
        if (n == 0 || count[(from[0] >> shift) & 0xff] == n)
            continue;
        size_t pos = 0;
        for (size_t d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(from[i] >> shift) & 0xff]++] = from[i];
        uint64_t *t = from;
        from = to;
        to = t;
    }
    if (from != v)
        memcpy(v, from, n * sizeof *v);
}

/* The key hash of every record of the segment. */
static int collect_hashes(segment *s, hash_list *out)
{
    bytebuf body = {0}, scratch = {0};
    uint64_t pos = 0, size = sl_segment_size(s);
    int rc = 0;
    while (!rc && pos < size) {
        batch_header h;
        batch_iter it;
        int r = sl_segment_read_batch(s, pos, size, &h, &body);
        if (r == 0)
            r = sl_err_set(SIGLOG_ECORRUPT, "%s: incomplete batch at byte %" PRIu64 " of a sealed segment",
                           sl_segment_file_path(s), pos);
        if (r < 0 || (r = sl_batch_iter_init(&it, &h, body.data, &scratch)) != 0) {
            rc = r;
            break;
        }
        siglog_record rec;
        while (!rc && (r = sl_batch_iter_next(&it, &rec)) == 1)
            rc = hash_list_push(out, sl_keyfilter_hash(rec.key, rec.key_len));
        if (r < 0)
            rc = r;
        pos += BATCH_HEADER_BYTES + (uint64_t)h.body_len;
    }
    sl_bytebuf_free(&body);
    sl_bytebuf_free(&scratch);
    return rc;
}

int sl_keyfilter_write_segment(segment *s, uint64_t *hashes, size_t n)
{
    hash_list l = {0};
    int rc = 0;
    if (hashes) {
        l.v = hashes;
        l.n = n;
    } else {
        rc = collect_hashes(s, &l);
    }
    size_t distinct = 0;
    uint64_t *tmp = NULL;
    if (!rc && l.n && !(tmp = malloc(l.n * sizeof *tmp)))
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (!rc && l.n) {
        radix_sort_u64(l.v, tmp, l.n);
        for (size_t i = 0; i < l.n; i++)
            if (i == 0 || l.v[i] != l.v[distinct - 1])
                l.v[distinct++] = l.v[i];
    }
    free(tmp);
    keyfilter f = {0};
    keyfilter_binding of = {sl_segment_base_offset(s), sl_segment_next_offset(s), sl_segment_summary_checksum(s)};
    if (!rc)
        rc = sl_keyfilter_init(&f, sl_keyfilter_blocks_for(distinct), &of);
    for (size_t i = 0; !rc && i < distinct; i++)
        sl_keyfilter_add(&f, l.v[i]);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!rc)
        rc = sl_keyfilter_encode(&f, &buf, &len);
    if (!rc)
        rc = sl_segment_replace_sidecar(s, KEYFILTER_EXT, buf, len);
    free(buf);
    sl_keyfilter_free(&f);
    if (!hashes)
        free(l.v);
    return rc;
}

int sl_keyfilter_load(const siglog_io *io, const char *dir, const catalog_segment *e, keyfilter *f)
{
    memset(f, 0, sizeof *f);
    if (e->state == CATALOG_SEG_ACTIVE || e->summary_checksum == 0)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, e->location, KEYFILTER_EXT);
    void *data = NULL;
    size_t len = 0;
    int rc = sl_io_read_file(io, path, KEYFILTER_FILE_MAX, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc == -EFBIG ? sl_err_set(SIGLOG_ECORRUPT, "%s: longer than any key filter", path)
                            : sl_err_errno(rc, "read of %s", path);
    rc = sl_keyfilter_decode(data, len, f);
    free(data);
    if (rc)
        return sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    if (f->of.base_offset != e->base_offset || f->of.end_offset != e->end_offset ||
        f->of.summary_checksum != e->summary_checksum) {
        sl_keyfilter_free(f);
        return 0; /* of another segment with this name: stale */
    }
    return 1;
}
