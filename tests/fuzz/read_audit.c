/*
 * read_audit: arbitrary bytes as a store's audit.log (first input byte:
 * options), read with the store's key. Bit 0 of the options repairs the
 * header checksum and re-chains every record that decodes (prev and mac
 * under the key), so that mutations reach the field and chain checks
 * instead of stopping at the first mac. Oracles: an error is ECORRUPT or
 * EVERSION with a detail; every record delivered re-encodes to exactly
 * the bytes it was read from; the whole records end within the file; and
 * on a readable trail an append succeeds, leaves the whole records before
 * it as they were (a torn tail is all it may cut), and reads back as one
 * more record with no torn tail.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "audit.h"
#include "codec.h"
#include "fuzz_support.h"
#include "io.h"
#include "names.h"

#define TARGET "read_audit"

static const uint8_t key[32] = {
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
};

typedef struct walk {
    const uint8_t *file;
    size_t size;
    uint64_t pos;
    uint8_t prev[AUDIT_MAC_BYTES];
    uint64_t delivered;
} walk;

static int check_record(void *ctx, const audit_record *r)
{
    walk *w = ctx;
    uint8_t again[AUDIT_RECORD_MAX];
    size_t n = sl_audit_record_encode(again, r, w->prev, key);
    if (w->pos + n > w->size || memcmp(again, w->file + w->pos, n) != 0)
        fuzz_fail(TARGET, "record %llu at byte %llu does not re-encode to its bytes",
                  (unsigned long long)r->seq, (unsigned long long)w->pos);
    memcpy(w->prev, again + n - AUDIT_MAC_BYTES, AUDIT_MAC_BYTES);
    w->pos += n;
    w->delivered++;
    return 0;
}

/* Give the header an honest checksum and every record that decodes an
 * honest chain. */
static void repair(uint8_t *p, size_t size)
{
    if (size < AUDIT_HEADER_BYTES)
        return;
    put_le64(p + 24, XXH3_64bits(p, 24));
    uint8_t prev[AUDIT_MAC_BYTES];
    sl_audit_mac(prev, key, p, AUDIT_HEADER_BYTES);
    for (size_t pos = AUDIT_HEADER_BYTES; pos < size;) {
        audit_record r;
        const uint8_t *rp, *mac;
        int n = sl_audit_record_decode(p + pos, size - pos, &r, &rp, &mac);
        if (n < 0)
            return;
        memcpy(p + pos + (size_t)n - 2 * AUDIT_MAC_BYTES, prev, AUDIT_MAC_BYTES);
        sl_audit_mac(p + pos + (size_t)n - AUDIT_MAC_BYTES, key, p + pos, (size_t)n - AUDIT_MAC_BYTES);
        memcpy(prev, p + pos + (size_t)n - AUDIT_MAC_BYTES, AUDIT_MAC_BYTES);
        pos += (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned opts;
    uint8_t *file = fuzz_options_and_file(data, size, &opts, &size);
    if (!file)
        return 0;
    if (opts & 1)
        repair(file, size);
    const char *dir = fuzz_scratch();
    fuzz_empty_dir(dir);
    char *path = fuzz_path(dir, STORE_AUDIT_FILE);
    fuzz_write_file(path, file, size);
    uint64_t store_id = size >= 16 ? get_le64(file + 8) : 0;

    audit_trail t = {sl_io_posix(), dir, store_id, key, 0600};
    walk w = {file, size, AUDIT_HEADER_BYTES, {0}, 0};
    if (size >= AUDIT_HEADER_BYTES)
        sl_audit_mac(w.prev, key, file, AUDIT_HEADER_BYTES);
    audit_result res;
    int rc = sl_audit_read(&t, check_record, &w, &res);
    if (rc && rc != SIGLOG_ECORRUPT && rc != SIGLOG_EVERSION)
        fuzz_fail(TARGET, "read returned %d", rc);
    if (rc && siglog_errdetail()[0] == '\0')
        fuzz_fail(TARGET, "error %d without a detail", rc);
    if (!rc) {
        if (w.delivered != res.records || res.end > size || res.end != w.pos)
            fuzz_fail(TARGET, "%llu records delivered, %llu counted, ending at %llu of %zu",
                      (unsigned long long)w.delivered, (unsigned long long)res.records,
                      (unsigned long long)res.end, size);
        audit_record r;
        sl_audit_record_init(&r, AUDIT_CONFIG, AUDIT_BY_COMMAND);
        if (sl_audit_append(&t, &r) != 0)
            fuzz_fail(TARGET, "append to a readable trail failed: %s", siglog_errdetail());
        size_t len;
        uint8_t *after = fuzz_read_file(path, &len);
        if (!after || len < res.end || memcmp(after, file, res.end) != 0)
            fuzz_fail(TARGET, "the append changed whole records before it");
        audit_result again;
        if (sl_audit_read(&t, NULL, NULL, &again) != 0 || again.records != res.records + 1 ||
            again.torn_at != UINT64_MAX)
            fuzz_fail(TARGET, "after an append: %llu records (expected %llu), torn at %llu",
                      (unsigned long long)again.records, (unsigned long long)res.records + 1,
                      (unsigned long long)again.torn_at);
        free(after);
    }
    free(path);
    free(file);
    return 0;
}
