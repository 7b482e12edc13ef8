/*
 * make_seeds — writes the seed inputs of the fuzz corpora, built with the
 * engine's own encoders so that every seed is valid and each one reaches a
 * different part of the decoder (codecs, headers, tombstones, extreme
 * timestamps and offsets). `ninja fuzz-seeds` rewrites the seed-* files
 * under tests/fuzz/corpus/; other corpus files (regressions found by the
 * fuzzers) are left alone.
 *
 * Usage: make_seeds CORPUS_ROOT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "audit.h"
#include "batch.h"
#include "codec.h"
#include "consumer.h"
#include "forget_intent.h"
#include "roll_request.h"
#include "schema_usage.h"
#include "hwm.h"
#include "journal.h"
#include "keyfilter.h"
#include "store_secret.h"

static const char *corpus_root;

static void write_seed(const char *target, const char *name, const bytebuf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", corpus_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/seed-%s", corpus_root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static siglog_event ev(const char *key, const char *value, int64_t ts)
{
    return (siglog_event){
        .key = key, .key_len = key ? strlen(key) : 0,
        .value = value, .value_len = strlen(value),
        .timestamp_us = ts,
    };
}

/* One batch seed: evs[i] at offset at[i] over the range up to last_offset
 * (a batch with gaps, version 2, as a rewrite that dropped records leaves
 * it), or at dense offsets from base when at is NULL. */
static void batch_seed_at(const char *name, const siglog_event *evs, const uint64_t *at, size_t n, uint64_t base,
                          uint64_t last_offset, int compression)
{
    batch_builder b;
    bytebuf out = {0};
    batch_meta meta;
    sl_batch_builder_init(&b);
    sl_batch_builder_reset(&b, base, 0);
    for (size_t i = 0; i < n; i++)
        if ((at ? sl_batch_builder_add_at(&b, &evs[i], evs[i].timestamp_us, at[i])
                : sl_batch_builder_add(&b, &evs[i], evs[i].timestamp_us)) != 0)
            exit(1);
    if ((at && sl_batch_builder_cover(&b, last_offset) != 0) || sl_batch_builder_seal(&b, compression, &out, &meta) != 0) {
        fprintf(stderr, "seal %s: %s\n", name, siglog_errdetail());
        exit(1);
    }
    write_seed("decode_batch", name, &out);
    sl_bytebuf_free(&out);
    sl_batch_builder_free(&b);
}

static void batch_seed(const char *name, const siglog_event *evs, size_t n, uint64_t base, int compression)
{
    batch_seed_at(name, evs, NULL, n, base, 0, compression);
}

static void decode_batch_seeds(void)
{
    static const siglog_header provenance[] = {
        {"source", 6, "web", 3},
        {"consent", 7, "analytics", 9},
        {"", 0, "", 0},
    };

    siglog_event plain[] = {
        ev("user-7", "{\"action\":\"click\"}", 1700000000000000),
        ev(NULL, "{\"action\":\"view\"}", 1700000000000250),
        ev("user-8", "", 1700000000000100),
    };
    batch_seed("none-plain", plain, 3, 0, SIGLOG_COMPRESSION_NONE);

    siglog_event lz4[24];
    for (size_t i = 0; i < 24; i++)
        lz4[i] = ev("session-42", "{\"action\":\"scroll\",\"depth\":3,\"page\":\"/docs\"}", 1000 + (int64_t)i);
    lz4[5].flags = SIGLOG_EVENT_TOMBSTONE;
    lz4[9].headers = provenance;
    lz4[9].header_count = 3;
    batch_seed("lz4-mixed", lz4, 24, 4096, SIGLOG_COMPRESSION_LZ4);

    siglog_event tagged[] = {
        ev("tenant-a", "{\"outcome\":\"ok\"}", 5),
        ev("tenant-a", "{}", 4),
    };
    tagged[0].headers = provenance;
    tagged[0].header_count = 2;
    tagged[0].schema_version = 3;
    tagged[1].schema_version = UINT32_MAX;
    tagged[1].flags = SIGLOG_EVENT_TOMBSTONE;
    batch_seed("none-headers", tagged, 2, 77, SIGLOG_COMPRESSION_NONE);

    siglog_event extremes[] = {
        ev("k", "a", INT64_MAX),
        ev("k", "b", INT64_MIN),
        ev(NULL, "", -1),
    };
    extremes[2].flags = SIGLOG_EVENT_TOMBSTONE;
    batch_seed("none-extremes", extremes, 3, UINT64_MAX - 3, SIGLOG_COMPRESSION_NONE);

    siglog_event empty = ev(NULL, "", 0);
    batch_seed("none-empty-record", &empty, 1, 0, SIGLOG_COMPRESSION_NONE);

    siglog_event tombstones[40];
    for (size_t i = 0; i < 40; i++) {
        tombstones[i] = ev("user-1", "", -(int64_t)i * 1000);
        tombstones[i].flags = SIGLOG_EVENT_TOMBSTONE;
        tombstones[i].headers = provenance;
        tombstones[i].header_count = 1;
    }
    batch_seed("lz4-tombstones", tombstones, 40, 1u << 20, SIGLOG_COMPRESSION_LZ4);

    /* Gaps at the start, inside and at the end of the range. */
    static const uint64_t plain_at[] = {1002, 1003, 1010};
    batch_seed_at("gaps-none", plain, plain_at, 3, 1000, 1015, SIGLOG_COMPRESSION_NONE);
    uint64_t lz4_at[24];
    for (size_t i = 0; i < 24; i++)
        lz4_at[i] = 2 * i + 1; /* every other offset */
    batch_seed_at("gaps-lz4", lz4, lz4_at, 24, 0, 2 * 24, SIGLOG_COMPRESSION_LZ4);
    static const uint64_t far_at[] = {UINT32_MAX};
    batch_seed_at("gaps-widest-delta", &empty, far_at, 1, 0, UINT32_MAX, SIGLOG_COMPRESSION_NONE);
}

/* read_journal opens every input for this store id. */
#define JOURNAL_SEED_STORE_ID 0x5349474c4f471234ull
#define JOURNAL_SLOT_USED 32

static void sealed_batch(bytebuf *out, uint64_t base, size_t n, int compression)
{
    batch_builder b;
    batch_meta meta;
    sl_batch_builder_init(&b);
    sl_batch_builder_reset(&b, base, 0);
    for (size_t i = 0; i < n; i++) {
        siglog_event e = ev(i % 3 ? "device-9" : NULL, "{\"temp\":21.5,\"unit\":\"C\"}", 1700000000000000 + (int64_t)i);
        if (sl_batch_builder_add(&b, &e, e.timestamp_us) != 0)
            exit(1);
    }
    if (sl_batch_builder_seal(&b, compression, out, &meta) != 0) {
        fprintf(stderr, "seal: %s\n", siglog_errdetail());
        exit(1);
    }
    sl_batch_builder_free(&b);
}

static void journal_write_one(journal *j, uint32_t stream_id, uint32_t partition, const bytebuf *payload)
{
    journal_entry e = {stream_id, partition, payload->data, payload->len};
    if (sl_journal_write(j, &e, 1) != 0 || sl_journal_sync(j) != 0) {
        fprintf(stderr, "journal write: %s\n", siglog_errdetail());
        exit(1);
    }
}

/* The journal file as read_journal takes it: the two header slots, then
 * `data_bytes` from the start of the entries (the rest is zero). */
static void journal_seed(const char *dir, const char *name, uint64_t data_bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/journal", dir);
    FILE *f = fopen(path, "rb");
    bytebuf out = {0};
    if (!f || sl_bytebuf_reserve(&out, 2 * JOURNAL_SLOT_USED + data_bytes) != 0) {
        perror(path);
        exit(1);
    }
    int ok = fread(out.data, 1, JOURNAL_SLOT_USED, f) == JOURNAL_SLOT_USED &&
             fseek(f, JOURNAL_SLOT_BYTES, SEEK_SET) == 0 &&
             fread(out.data + JOURNAL_SLOT_USED, 1, JOURNAL_SLOT_USED, f) == JOURNAL_SLOT_USED &&
             fseek(f, JOURNAL_DATA_START, SEEK_SET) == 0 &&
             fread(out.data + 2 * JOURNAL_SLOT_USED, 1, data_bytes, f) == data_bytes;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: short read\n", path);
        exit(1);
    }
    out.len = 2 * JOURNAL_SLOT_USED + data_bytes;
    write_seed("read_journal", name, &out);
    sl_bytebuf_free(&out);
}

static void read_journal_seeds(void)
{
    char dir[] = "/tmp/siglog-seeds-XXXXXX";
    if (!mkdtemp(dir)) {
        perror(dir);
        exit(1);
    }
    journal *j = NULL;
    if (sl_journal_open(sl_io_posix(), dir, JOURNAL_BYTES_MIN, JOURNAL_SEED_STORE_ID, 0600, &j) != 0) {
        fprintf(stderr, "journal open: %s\n", siglog_errdetail());
        exit(1);
    }
    bytebuf a = {0}, b = {0}, c = {0};
    sealed_batch(&a, 0, 3, SIGLOG_COMPRESSION_NONE);
    sealed_batch(&b, 0, 40, SIGLOG_COMPRESSION_LZ4);
    /* Two batches in one entry: a commit of one partition's run. */
    sealed_batch(&c, 3, 2, SIGLOG_COMPRESSION_NONE);
    sealed_batch(&c, 5, 1, SIGLOG_COMPRESSION_NONE);
    journal_write_one(j, 1, 0, &a);
    journal_write_one(j, 1, 1, &b);
    journal_write_one(j, 2, 0, &c);
    uint64_t first_gen = sl_journal_capacity(j) - sl_journal_space_left(j);
    journal_seed(dir, "three-entries", first_gen + JOURNAL_ENTRY_HEADER_BYTES);
    journal_seed(dir, "torn-last-entry", first_gen - c.len / 2);
    journal_seed(dir, "empty-generation-1", 0);

    /* A checkpoint, then one entry of the new generation in front of the
     * older generation's entries. */
    if (sl_journal_reset(j) != 0) {
        fprintf(stderr, "journal reset: %s\n", siglog_errdetail());
        exit(1);
    }
    journal_write_one(j, 1, 0, &a);
    journal_seed(dir, "after-checkpoint", first_gen);
    sl_journal_close(j);

    char path[4096];
    snprintf(path, sizeof path, "%s/journal", dir);
    unlink(path);
    rmdir(dir);
    sl_bytebuf_free(&a);
    sl_bytebuf_free(&b);
    sl_bytebuf_free(&c);
}

/* store.secret (parse_store_meta): a fixed key, so the seed is the same
 * on every run. */
static void secret_seed(void)
{
    uint8_t key[STORE_SECRET_BYTES], buf[STORE_SECRET_FILE_BYTES];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(0xa5 ^ i);
    sl_store_secret_encode(buf, 0x0123456789abcdefull, key);
    bytebuf b = {0};
    if (sl_bytebuf_append(&b, buf, sizeof buf) != 0)
        exit(1);
    write_seed("parse_store_meta", "store.secret", &b);
    sl_bytebuf_free(&b);
}

/* parse_hwm inputs are changes to the genuine file (see the target):
 * byte 0 bit 0 asks for honest checksums, the rest is XORed onto it. */
static void parse_hwm_seed(const char *name, uint8_t flags, size_t at, const uint8_t *xor, size_t n)
{
    bytebuf b = {0};
    uint8_t zero = 0;
    if (sl_bytebuf_append(&b, &flags, 1) != 0)
        exit(1);
    for (size_t i = 0; i < at + n; i++)
        if (sl_bytebuf_append(&b, i < at ? &zero : &xor[i - at], 1) != 0)
            exit(1);
    write_seed("parse_hwm", name, &b);
    sl_bytebuf_free(&b);
}

static void parse_hwm_seeds(void)
{
    enum { SLOT0 = HWM_HEADER_BYTES, SLOT1 = HWM_HEADER_BYTES + HWM_SLOT_BYTES };
    const uint8_t one = 1, odd = 1, big[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    parse_hwm_seed("genuine", 0, 0, NULL, 0);
    parse_hwm_seed("next-offset-one-less", 1, SLOT0 + 24, &one, 1);
    parse_hwm_seed("active-bytes-changed", 1, SLOT1 + 40, &one, 1);
    parse_hwm_seed("last-batch-moved", 1, SLOT0 + 48, &one, 1);
    parse_hwm_seed("last-batch-unknown", 1, SLOT0 + 48, big, 8);
    parse_hwm_seed("checksum-wrong", 0, SLOT0 + 56, &one, 1);
    parse_hwm_seed("seq-odd", 0, SLOT1, &odd, 1);
    parse_hwm_seed("writer-id-other", 1, SLOT0 + 8, &one, 1);
    parse_hwm_seed("no-writer", 0, 16, big, 8);
    parse_hwm_seed("partitions-wrong", 0, 8, &one, 1);
    parse_hwm_seed("longer", 0, SLOT1 + HWM_SLOT_BYTES, &one, 1);
    uint8_t noise[HWM_HEADER_BYTES + 2 * HWM_SLOT_BYTES];
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < sizeof noise; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise[i] = (uint8_t)x;
    }
    parse_hwm_seed("garbage", 0, 0, noise, sizeof noise);
}

/* read_audit: a trail of three records (option byte first), whole, with
 * a torn last record, and unrepaired; fixed fields, so the same bytes on
 * every run. The key is the target's (0x5a bytes). */
static void audit_seeds(void)
{
    uint8_t key[32];
    memset(key, 0x5a, sizeof key);
    bytebuf b = {0};
    uint8_t opts = 1, hdr[AUDIT_HEADER_BYTES], rec[AUDIT_RECORD_MAX], prev[AUDIT_MAC_BYTES];
    sl_audit_header_encode(hdr, 0x0123456789abcdefull, 1700000000000000);
    sl_audit_mac(prev, key, hdr, sizeof hdr);
    if (sl_bytebuf_append(&b, &opts, 1) != 0 || sl_bytebuf_append(&b, hdr, sizeof hdr) != 0)
        exit(1);
    static const uint16_t actions[] = {AUDIT_PURGE, AUDIT_HOLD, AUDIT_CONFIG};
    size_t last = 0;
    for (uint64_t i = 0; i < 3; i++) {
        audit_record r;
        sl_audit_record_init(&r, actions[i], i == 0 ? AUDIT_BY_POLICY : AUDIT_BY_COMMAND);
        r.seq = i;
        r.time_us = 1700000000000000 + (int64_t)i;
        snprintf(r.stream, sizeof r.stream, "clicks");
        snprintf(r.host, sizeof r.host, "collector-1");
        snprintf(r.detail, sizeof r.detail, "seed record %u", (unsigned)i);
        r.partition = (uint32_t)i;
        r.offset_end = 100 * (i + 1);
        r.pid = 4242;
        size_t n = sl_audit_record_encode(rec, &r, prev, key);
        memcpy(prev, rec + n - AUDIT_MAC_BYTES, AUDIT_MAC_BYTES);
        last = b.len;
        if (sl_bytebuf_append(&b, rec, n) != 0)
            exit(1);
    }
    write_seed("read_audit", "three", &b);
    size_t whole = b.len;
    b.len = last + 50;
    write_seed("read_audit", "torn", &b);
    b.len = whole;
    b.data[0] = 0;
    write_seed("read_audit", "three-unrepaired", &b);
    sl_bytebuf_free(&b);
}

/* parse_consumers: two consumers, one holding, of a 3-partition stream. */
static void consumers_seed(void)
{
    uint64_t a[3] = {0, 17, 4096}, b[3] = {1, 2, 3};
    consumer_entry e[2] = {{.name = "eval", .flags = CONSUMER_HOLD, .committed_us = 1700000000000000,
                            .partitions = 3, .next = a},
                           {.name = "export", .committed_us = 1700000000000001, .partitions = 3, .next = b}};
    consumer_set s = {e, 2};
    uint8_t *bytes;
    size_t len;
    if (sl_consumers_encode(&s, &bytes, &len) != 0)
        exit(1);
    bytebuf buf = {bytes, len, len};
    write_seed("parse_consumers", "two", &buf);
    free(bytes);
}

/* parse_key_filter: a one-block filter of three keys and a three-block
 * one of a hundred, as a seal would write them. */
static void key_filter_seed(const char *name, uint64_t keys, uint64_t base)
{
    keyfilter f;
    keyfilter_binding of = {base, base + keys, 0x0123456789abcdefull};
    if (sl_keyfilter_init(&f, sl_keyfilter_blocks_for(keys), &of) != 0)
        exit(1);
    for (uint64_t i = 0; i < keys; i++) {
        char k[32];
        int n = snprintf(k, sizeof k, "user-%llu", (unsigned long long)i);
        sl_keyfilter_add(&f, sl_keyfilter_hash(k, (size_t)n));
    }
    uint8_t *bytes;
    size_t len;
    if (sl_keyfilter_encode(&f, &bytes, &len) != 0)
        exit(1);
    bytebuf buf = {bytes, len, len};
    write_seed("parse_key_filter", name, &buf);
    free(bytes);
    sl_keyfilter_free(&f);
}

/* JetStream messages as `siglog ship` writes them, in parse_jsmsg's
 * input form: subject, header lines, an empty line, the data. */
static void jsmsg_seed(const char *name, const char *text)
{
    bytebuf b = { .data = (uint8_t *)text, .len = strlen(text) };
    write_seed("parse_jsmsg", name, &b);
}

static void jsmsg_seeds(void)
{
    jsmsg_seed("plain", "siglog.ev.0\nNats-Msg-Id: 91d12c8badd16f55:ev:0:0\nSiglog-Time: 1796314115036245\n"
                        "Siglog-Schema: 0\n\n{\"n\":3}");
    jsmsg_seed("full", "siglog.a.b.17\nNats-Msg-Id: 00000000000000ff:a.b:17:18446744073709551615\n"
                       "Siglog-Time: -9223372036854775808\nSiglog-Schema: 4294967295\nSiglog-Key: dXNlci0x\n"
                       "Siglog-Flags: 1\nSiglog-Header: dGVuYW50:YWNtZQ==\nSiglog-Header: :\n"
                       "Siglog-Header: bW9kZWw=:AAEC/w==\n\n");
    jsmsg_seed("refused", "x.y.z\nSiglog-Time: 01\nSiglog-Schema: 1\nSiglog-Key: dXNlci0x=\n\nv");
}

/* parse_schema_usage: three versions, one with nonconforming paths. */
static void schema_usage_seed(void)
{
    schema_usage u;
    sl_schema_usage_init(&u, 0);
    const char *paths[] = {"$.user", "$.n"};
    for (uint64_t o = 0; o < 9; o++)
        if (sl_schema_usage_add(&u, (uint32_t)(o % 3), o, 1700000000000000 + (int64_t)(o * 37 % 5)) != 0 ||
            (o % 3 == 1 && sl_schema_usage_nonconforming(&u, 1, paths, o == 4 ? 2 : 1) != 0))
            exit(1);
    uint8_t *bytes;
    size_t len;
    if (sl_schema_usage_encode(&u, &bytes, &len) != 0)
        exit(1);
    bytebuf buf = {bytes, len, len};
    write_seed("parse_schema_usage", "three", &buf);
    free(bytes);
    sl_schema_usage_free(&u);
}

/* parse_archive: two segments of one batch each (one LZ4, one with a
 * gap, three schema versions), as an export writes them. */
static void archive_seed(void)
{
    siglog_event a[2] = { ev("k1", "{\"a\":1}", 1700000000000000), ev(NULL, "{\"a\":2}", 1700000000000500) };
    siglog_event b[2] = { ev("k2", "{\"b\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", 1699999999999000),
                          ev("k3", "{\"b\":3}", 1700000000002000) };
    a[1].schema_version = 2;
    b[0].schema_version = 5;
    bytebuf data = { 0 };
    batch_builder bb;
    batch_meta meta;
    sl_batch_builder_init(&bb);
    sl_batch_builder_reset(&bb, 10, 0);
    for (int i = 0; i < 2; i++)
        if (sl_batch_builder_add(&bb, &a[i], a[i].timestamp_us) != 0)
            exit(1);
    if (sl_batch_builder_seal(&bb, SIGLOG_COMPRESSION_LZ4, &data, &meta) != 0)
        exit(1);
    size_t first = data.len;
    sl_batch_builder_reset(&bb, 12, 0);
    if (sl_batch_builder_add_at(&bb, &b[0], b[0].timestamp_us, 12) != 0 ||
        sl_batch_builder_add_at(&bb, &b[1], b[1].timestamp_us, 15) != 0 || sl_batch_builder_cover(&bb, 16) != 0 ||
        sl_batch_builder_seal(&bb, SIGLOG_COMPRESSION_NONE, &data, &meta) != 0)
        exit(1);
    sl_batch_builder_free(&bb);
    archive_segment segs[2] = { { 10, 12, 2, first, 1700000000000500, 0 },
                                { 12, 17, 2, data.len - first, 1700000000002000, 0 } };
    archive_meta m = { .store_id = 0x1122334455667788ull, .stream = "clicks", .partition = 3,
                       .created_us = 1700000000009000 };
    bytebuf out = { 0 };
    if (sl_archive_encode(&m, segs, 2, data.data, data.len, &out) != 0)
        exit(1);
    write_seed("parse_archive", "two-segments", &out);
    sl_bytebuf_free(&out);
    sl_bytebuf_free(&data);
}

/* forget.intent (parse_forget_intent): one and three keys, each input
 * byte 0 (no checksum repair) and the genuine file. */
static void forget_intent_seed(const char *name, uint32_t n)
{
    uint8_t hashes[3 * FORGET_INTENT_HASH_BYTES];
    for (size_t i = 0; i < sizeof hashes; i++)
        hashes[i] = (uint8_t)(i / FORGET_INTENT_HASH_BYTES * 0x40 + i % 7);
    forget_intent it = {.store_id = 0x0123456789abcdefull, .started_us = 1700000000000000, .n = n, .hashes = hashes};
    uint8_t buf[1 + sizeof hashes + FORGET_INTENT_HEADER_BYTES + FORGET_INTENT_TRAILER_BYTES] = {0};
    sl_forget_intent_encode(buf + 1, &it);
    bytebuf b = {0};
    if (sl_bytebuf_append(&b, buf, 1 + sl_forget_intent_size(n)) != 0)
        exit(1);
    write_seed("parse_forget_intent", name, &b);
    sl_bytebuf_free(&b);
}

/* roll.request (parse_roll_request): no partition (a scrub alone) and
 * three, each input byte 0 (no checksum repair) and the genuine file. */
static void roll_request_seed(const char *name, uint32_t n)
{
    uint32_t parts[3] = {0, 5, 4095};
    roll_request r = {.store_id = 0x0123456789abcdefull, .asked_us = 1700000000000000, .n = n, .parts = parts};
    uint8_t buf[1 + sizeof parts + ROLL_REQUEST_HEADER_BYTES + ROLL_REQUEST_TRAILER_BYTES] = {0};
    sl_roll_request_encode(buf + 1, &r);
    bytebuf b = {0};
    if (sl_bytebuf_append(&b, buf, 1 + sl_roll_request_size(n)) != 0)
        exit(1);
    write_seed("parse_roll_request", name, &b);
    sl_bytebuf_free(&b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
        return 2;
    }
    corpus_root = argv[1];
    decode_batch_seeds();
    read_journal_seeds();
    secret_seed();
    parse_hwm_seeds();
    audit_seeds();
    consumers_seed();
    key_filter_seed("three", 3, 0);
    key_filter_seed("hundred", 100, 4096);
    jsmsg_seeds();
    schema_usage_seed();
    archive_seed();
    forget_intent_seed("one-key", 1);
    forget_intent_seed("three-keys", 3);
    roll_request_seed("scrub-only", 0);
    roll_request_seed("three-partitions", 3);
    return 0;
}
