/*
 * read_journal: the input is a commit journal after a crash, without the
 * unused parts of its header slots: bytes 0..31 are header slot 0, bytes
 * 32..63 header slot 1, the rest is what follows JOURNAL_DATA_START (the
 * target writes the file the format places them in, zero-padded to the
 * smallest journal open accepts). Open it for a fixed store id and replay
 * it, once as it is and once with every checksum repaired (header slots,
 * entry headers, batches), so that mutations reach the checks behind
 * them. Every payload replay hands over must be whole valid batches, each
 * of whose records decodes; entries and damage come in file order without
 * overlapping, and damage is followed by the entry it says follows; a
 * second replay must hand over the same; the write position must end
 * right after the last entry, inside the file.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "batch.h"
#include "codec.h"
#include "fuzz_support.h"
#include "journal.h"
#include "siglog.h"

#define TARGET "read_journal"
#define STORE_ID 0x5349474c4f471234ull /* the store id of the seeds */
#define SLOT_USED 32
#define INPUT_HEADER (2 * SLOT_USED)
#define SLOT_CHECKSUM 24
#define ENTRY_LEN 12
#define ENTRY_CHECKSUM 24
/* Entries remembered per replay; more are compared by count and bytes. */
#define ENTRIES_KEPT 256

typedef struct replay_log {
    size_t n;
    size_t damages;
    uint64_t bytes;
    uint64_t end;           /* one past the last entry handed over */
    uint64_t damage_next;   /* where the last damage said an entry follows */
    struct {
        uint32_t stream_id, partition;
        size_t len;
        uint64_t hash;
    } e[ENTRIES_KEPT];
} replay_log;

static char *dir, *journal_path;
static bytebuf scratch;

static void check_payload(const uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        batch_header h;
        if (len - pos < BATCH_HEADER_BYTES || sl_batch_header_decode(p + pos, &h) != 0 ||
            h.body_len > len - pos - BATCH_HEADER_BYTES || sl_batch_body_check(&h, p + pos + BATCH_HEADER_BYTES) != 0)
            fuzz_fail(TARGET, "replayed payload holds no valid batch at byte %zu of %zu", pos, len);
        batch_iter it;
        siglog_record r;
        uint32_t n = 0;
        int rc = sl_batch_iter_init(&it, &h, p + pos + BATCH_HEADER_BYTES, &scratch);
        if (rc == 0)
            while ((rc = sl_batch_iter_next(&it, &r)) == 1)
                n++;
        if (rc != 0 || n != h.record_count)
            fuzz_fail(TARGET, "replayed batch at byte %zu: record %u of %u does not decode: %s", pos, n,
                      h.record_count, siglog_errdetail());
        pos += BATCH_HEADER_BYTES + h.body_len;
    }
    if (len == 0)
        fuzz_fail(TARGET, "replay handed over an empty payload");
}

static int on_entry(void *ctx, uint64_t pos, uint32_t stream_id, uint32_t partition, const uint8_t *batches,
                    size_t len)
{
    replay_log *log = ctx;
    check_payload(batches, len);
    if (pos < log->end || (log->damage_next && pos != log->damage_next))
        fuzz_fail(TARGET, "entry at byte %llu after one ending at %llu (damage said %llu)", (unsigned long long)pos,
                  (unsigned long long)log->end, (unsigned long long)log->damage_next);
    log->end = pos + journal_entry_bytes(len);
    log->damage_next = 0;
    if (log->n < ENTRIES_KEPT) {
        log->e[log->n].stream_id = stream_id;
        log->e[log->n].partition = partition;
        log->e[log->n].len = len;
        log->e[log->n].hash = XXH3_64bits(batches, len);
    }
    log->n++;
    log->bytes += journal_entry_bytes(len);
    return 0;
}

static int on_damage(void *ctx, const char *path, uint64_t pos, uint64_t next, int known, uint32_t stream_id,
                     uint32_t partition)
{
    replay_log *log = ctx;
    (void)known;
    (void)stream_id;
    (void)partition;
    if (!path || pos < log->end || next <= pos || log->damage_next)
        fuzz_fail(TARGET, "damage at byte %llu..%llu after an entry ending at %llu", (unsigned long long)pos,
                  (unsigned long long)next, (unsigned long long)log->end);
    log->damage_next = next;
    log->damages++;
    return 0;
}

static void replay(const uint8_t *data, size_t size)
{
    size_t tail = size - INPUT_HEADER;
    size_t file_len = JOURNAL_DATA_START + (tail > JOURNAL_ENTRY_HEADER_BYTES ? tail : JOURNAL_ENTRY_HEADER_BYTES);
    uint8_t *file = calloc(1, file_len);
    if (!file)
        abort();
    memcpy(file, data, SLOT_USED);
    memcpy(file + JOURNAL_SLOT_BYTES, data + SLOT_USED, SLOT_USED);
    memcpy(file + JOURNAL_DATA_START, data + INPUT_HEADER, tail);
    fuzz_write_file(journal_path, file, file_len);
    free(file);

    journal *j = NULL;
    int rc = sl_journal_open(sl_io_posix(), dir, 0, STORE_ID, 0600, &j);
    if (rc) {
        if (rc != SIGLOG_ECORRUPT || siglog_errdetail()[0] == '\0')
            fuzz_fail(TARGET, "journal_open failed with %d and detail \"%s\"", rc, siglog_errdetail());
        return;
    }
    static replay_log a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if ((rc = sl_journal_replay(j, on_entry, on_damage, &a)) != 0)
        fuzz_fail(TARGET, "replay failed: %d %s", rc, siglog_errdetail());
    uint64_t left = sl_journal_space_left(j);
    if ((rc = sl_journal_replay(j, on_entry, on_damage, &b)) != 0)
        fuzz_fail(TARGET, "second replay failed: %d %s", rc, siglog_errdetail());
    if (a.n != b.n || a.damages != b.damages || a.bytes != b.bytes || memcmp(a.e, b.e, sizeof a.e) != 0)
        fuzz_fail(TARGET, "two replays differ: %zu entries, then %zu", a.n, b.n);
    if (sl_journal_space_left(j) != left || left > sl_journal_capacity(j) || sl_journal_capacity(j) != file_len -
        JOURNAL_DATA_START)
        fuzz_fail(TARGET, "write position outside the file: %llu bytes left of %llu",
                  (unsigned long long)left, (unsigned long long)sl_journal_capacity(j));
    uint64_t end = a.n ? a.end : JOURNAL_DATA_START;
    if (JOURNAL_DATA_START + sl_journal_capacity(j) - left != end)
        fuzz_fail(TARGET, "write position %llu, the last replayed entry ends at %llu",
                  (unsigned long long)(JOURNAL_DATA_START + sl_journal_capacity(j) - left), (unsigned long long)end);
    sl_journal_close(j);
}

/* Honest checksums everywhere a writer would have put one. */
static void repair(uint8_t *p, size_t size)
{
    for (int i = 0; i < 2; i++)
        put_le64(p + i * SLOT_USED + SLOT_CHECKSUM, XXH3_64bits(p + i * SLOT_USED, SLOT_CHECKSUM));
    size_t pos = INPUT_HEADER;
    while (size - pos >= JOURNAL_ENTRY_HEADER_BYTES) {
        uint8_t *h = p + pos;
        put_le64(h + ENTRY_CHECKSUM, XXH3_64bits(h, ENTRY_CHECKSUM));
        uint32_t len = get_le32(h + ENTRY_LEN);
        pos += JOURNAL_ENTRY_HEADER_BYTES;
        if (len > size - pos)
            break;
        fuzz_repair_batches(p + pos, len);
        pos += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir) {
        dir = fuzz_path(fuzz_scratch(), "store");
        fuzz_mkdirs(dir);
        journal_path = fuzz_path(dir, "journal");
    }
    if (size < INPUT_HEADER)
        return 0;
    replay(data, size);
    uint8_t *copy = malloc(size);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    repair(copy, size);
    replay(copy, size);
    free(copy);
    return 0;
}
