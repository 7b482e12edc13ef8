/*
 * open_index: the input is an index file (.oix or .tix); open it
 * read-only as each kind, once as it is and once with its header checksum
 * repaired. When sl_index_open accepts it, the index must keep its documented
 * promises: count <= capacity, every entry with rel_offset > 0 and
 * strictly increasing (offset index: positions strictly increasing; time
 * index: timestamps non-decreasing), and every lookup must answer what a
 * linear scan of the entries answers. Rejections must be SIGLOG_E* codes
 * with a detail.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "fuzz_support.h"
#include "index.h"
#include "siglog.h"

#define TARGET "open_index"
#define IXH_BASE_OFFSET 16
#define IXH_CHECKSUM 56
/* Lookups probed per entry stay few, so that big indexes stay fast. */
#define ENTRIES_PROBED 128

static char *path;

static void linear_offset(const index_file *ix, uint32_t n, uint32_t rel, uint32_t *found, uint32_t *pos)
{
    *found = 0;
    *pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r, p;
        sl_index_entry_offset(ix, i, &r, &p);
        if (r <= rel) {
            *found = r;
            *pos = p;
        }
    }
}

static uint32_t linear_time(const index_file *ix, uint32_t n, int64_t ts)
{
    uint32_t found = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t t;
        uint32_t r;
        sl_index_entry_time(ix, i, &t, &r);
        if (t < ts)
            found = r;
    }
    return found;
}

static void probe_offset(const index_file *ix, uint32_t n, uint32_t rel)
{
    uint32_t f1, p1, f2, p2;
    sl_index_lookup_offset(ix, rel, &f1, &p1);
    linear_offset(ix, n, rel, &f2, &p2);
    if (f1 != f2 || p1 != p2)
        fuzz_fail(TARGET, "offset lookup of %u gave (%u, %u), the entries say (%u, %u)", rel, f1, p1, f2, p2);
}

static void probe_time(const index_file *ix, uint32_t n, int64_t ts)
{
    uint32_t a = 0;
    uint32_t before = sl_index_lookup_time(ix, ts, &a);
    uint32_t b = linear_time(ix, n, ts);
    if (a != b)
        fuzz_fail(TARGET, "time lookup of %lld gave rel %u, the entries say %u", (long long)ts, a, b);
    /* The count it returns names the entry whose check a seek verifies. */
    if (before > n)
        fuzz_fail(TARGET, "time lookup of %lld counted %u of %u entries", (long long)ts, before, n);
    if (before) {
        int64_t t;
        uint32_t r;
        sl_index_entry_time(ix, before - 1, &t, &r);
        if (r != a)
            fuzz_fail(TARGET, "time lookup of %lld: entry %u has rel %u, the lookup gave %u", (long long)ts,
                      before - 1, r, a);
    }
}

static void check_entries(const index_file *ix, int kind)
{
    uint32_t n = sl_index_count(ix);
    if (n > sl_index_capacity(ix))
        fuzz_fail(TARGET, "count %u exceeds capacity %u", n, sl_index_capacity(ix));
    uint32_t prev_rel = 0, prev_pos = 0;
    int64_t prev_ts = INT64_MIN;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t rel, pos = 0;
        int64_t ts = 0;
        if (kind == INDEX_KIND_OFFSET)
            sl_index_entry_offset(ix, i, &rel, &pos);
        else
            sl_index_entry_time(ix, i, &ts, &rel);
        if (rel <= prev_rel)
            fuzz_fail(TARGET, "entry %u: rel_offset %u after %u", i, rel, prev_rel);
        if (kind == INDEX_KIND_OFFSET && pos <= prev_pos)
            fuzz_fail(TARGET, "entry %u: position %u after %u", i, pos, prev_pos);
        if (kind == INDEX_KIND_TIME && ts < prev_ts)
            fuzz_fail(TARGET, "entry %u: timestamp %lld after %lld", i, (long long)ts, (long long)prev_ts);
        prev_rel = rel;
        prev_pos = pos;
        prev_ts = ts;
    }

    /* Probe around the first entries: the boundaries are where a binary
     * search goes wrong. */
    uint32_t probed = n < ENTRIES_PROBED ? n : ENTRIES_PROBED;
    if (kind == INDEX_KIND_OFFSET) {
        probe_offset(ix, n, 0);
        probe_offset(ix, n, UINT32_MAX);
        for (uint32_t i = 0; i < probed; i++) {
            uint32_t rel, pos;
            sl_index_entry_offset(ix, i, &rel, &pos);
            probe_offset(ix, n, rel - 1);
            probe_offset(ix, n, rel);
            if (rel < UINT32_MAX)
                probe_offset(ix, n, rel + 1);
        }
    } else {
        probe_time(ix, n, INT64_MIN);
        probe_time(ix, n, INT64_MAX);
        for (uint32_t i = 0; i < probed; i++) {
            int64_t ts;
            uint32_t rel;
            sl_index_entry_time(ix, i, &ts, &rel);
            if (ts > INT64_MIN)
                probe_time(ix, n, ts - 1);
            probe_time(ix, n, ts);
            if (ts < INT64_MAX)
                probe_time(ix, n, ts + 1);
        }
    }
}

static void open_as(const uint8_t *data, size_t size, int kind)
{
    fuzz_write_file(path, data, size);
    /* The base the header names, so that mutations get past that check
     * too; a wrong one is covered by the seeds of other segments. */
    uint64_t base = size >= IXH_BASE_OFFSET + 8 ? get_le64(data + IXH_BASE_OFFSET) : 0;
    index_file *ix = NULL;
    int rc = sl_index_open(sl_io_posix(), path, kind, base, 0, IO_READ, 0600, &ix);
    if (rc) {
        if (rc > SIGLOG_EINVAL || rc < SIGLOG_EPERM || siglog_errdetail()[0] == '\0')
            fuzz_fail(TARGET, "index_open failed with %d and detail \"%s\"", rc, siglog_errdetail());
        return;
    }
    check_entries(ix, kind);
    sl_index_close(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path)
        path = fuzz_path(fuzz_scratch(), "00000000000000000000.oix");
    open_as(data, size, INDEX_KIND_OFFSET);
    open_as(data, size, INDEX_KIND_TIME);
    if (size >= IXH_CHECKSUM + 8) {
        uint8_t *copy = malloc(size);
        if (!copy)
            abort();
        memcpy(copy, data, size);
        put_le64(copy + IXH_CHECKSUM, XXH3_64bits(copy, IXH_CHECKSUM));
        open_as(copy, size, INDEX_KIND_OFFSET);
        open_as(copy, size, INDEX_KIND_TIME);
        free(copy);
    }
    return 0;
}
