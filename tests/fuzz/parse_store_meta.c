/*
 * parse_store_meta: feed arbitrary bytes to the small metadata decoders,
 * siglog.store, store.secret and stream.meta, once as they are and once
 * with their checksum repaired so that mutations reach the field checks.
 * store.secret: accepted bytes re-encode to themselves, and the same
 * bytes are refused for any other store id.
 * siglog.store: when the decoder accepts the bytes, encoding what it
 * returned must give back the input byte for byte (the format has one
 * encoding, and a decoder that accepted anything the encoder would not
 * write lets bad files in). stream.meta (versions 1 and 2): an accepted
 * config passes the creation range checks; what a rewrite would write
 * (version 2, unknown optional entries kept) decodes to the same stream
 * and re-encodes to itself; and a version 2 input holding every known
 * setting must be exactly that encoding.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "fuzz_support.h"
#include "siglog.h"
#include "store.h"
#include "store_secret.h"
#include "stream.h"

#define TARGET "parse_store_meta"
/* siglog.store: created_us (not returned by the decoder) and checksum. */
#define STORE_CREATED 24
#define STORE_CHECKSUM 32

static void check_error(int rc)
{
    if (rc != SIGLOG_ECORRUPT && rc != SIGLOG_EVERSION)
        fuzz_fail(TARGET, "decoder returned %d, not ECORRUPT or EVERSION", rc);
    if (siglog_errdetail()[0] == '\0')
        fuzz_fail(TARGET, "decoder error %d without a detail", rc);
}

static void store_round_trip(const uint8_t *data, size_t size)
{
    store_meta m;
    int rc = sl_store_meta_decode(data, size, &m);
    if (rc) {
        check_error(rc);
        return;
    }
    /* created_us is carried over from the input: every other byte,
     * checksum included, must come from the decoded fields alone. */
    uint8_t again[STORE_FILE_BYTES];
    sl_store_meta_encode(again, &m, (int64_t)get_le64(data + STORE_CREATED));
    if (size != STORE_FILE_BYTES || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "siglog.store accepted but re-encodes differently (id %016llx)",
                  (unsigned long long)m.store_id);
}

static void secret_round_trip(const uint8_t *data, size_t size)
{
    /* The store id the input names, so that accepted inputs are reached. */
    uint64_t id = size >= 16 ? get_le64(data + 8) : 0;
    uint8_t key[STORE_SECRET_BYTES], again[STORE_SECRET_FILE_BYTES];
    int rc = sl_store_secret_decode(data, size, id, key);
    if (rc) {
        check_error(rc);
        return;
    }
    sl_store_secret_encode(again, id, key);
    if (size != STORE_SECRET_FILE_BYTES || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "store.secret accepted but re-encodes differently");
    if (sl_store_secret_decode(data, size, ~id, key) != SIGLOG_ECORRUPT)
        fuzz_fail(TARGET, "store.secret of store %016llx accepted for another store", (unsigned long long)id);
}

static void stream_round_trip(const uint8_t *data, size_t size)
{
    char name[SIGLOG_NAME_MAX + 1], name2[SIGLOG_NAME_MAX + 1];
    uint32_t id = 0, id2 = 0;
    siglog_stream_config c, c2;
    stream_meta_extra extra, extra2;
    int version = 0;
    int rc = sl_stream_meta_decode(data, size, name, &id, &c, &extra, &version);
    if (rc) {
        check_error(rc);
        return;
    }
    siglog_stream_config normalized = c;
    if (sl_stream_config_normalize(&normalized, UINT64_MAX) != 0)
        fuzz_fail(TARGET, "stream.meta accepted with a config that fails normalize: %s", siglog_errdetail());
    if (memcmp(&normalized, &c, sizeof c) != 0)
        fuzz_fail(TARGET, "normalize changed an accepted stream config");
    /* What a rewrite writes (always version 2) reads back as the same
     * stream, unknown entries included, and is a fixed point. */
    uint8_t again[STREAM_META_BYTES_MAX], third[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(again, name, id, &c, &extra);
    if (sl_stream_meta_decode(again, len, name2, &id2, &c2, &extra2, NULL) != 0)
        fuzz_fail(TARGET, "stream.meta re-encoded from an accepted one is refused: %s", siglog_errdetail());
    if (strcmp(name, name2) != 0 || id != id2 || memcmp(&c, &c2, sizeof c) != 0 || extra.len != extra2.len ||
        memcmp(extra.bytes, extra2.bytes, extra.len) != 0)
        fuzz_fail(TARGET, "stream.meta %s (id %u) changes through encode and decode", name, id);
    if (sl_stream_meta_encode(third, name2, id2, &c2, &extra2) != len || memcmp(third, again, len) != 0)
        fuzz_fail(TARGET, "stream.meta encoding is not a fixed point");
    /* A version 2 file that holds every known setting (each entry of a
     * fixed size, so exactly then is it as long as the re-encoding) has
     * one encoding: the decoder must not accept any other. */
    if (version == 2 && len == size && memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "stream.meta accepted (stream %s, id %u) but re-encodes differently", name, id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_round_trip(data, size);
    secret_round_trip(data, size);
    stream_round_trip(data, size);

    /* The same bytes with honest checksums, or nearly every mutation
     * would stop there. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (size == STORE_FILE_BYTES) {
        put_le64(copy + STORE_CHECKSUM, XXH3_64bits(copy, STORE_CHECKSUM));
        store_round_trip(copy, size);
        memcpy(copy, data, size);
    }
    if (size == STORE_SECRET_FILE_BYTES) {
        put_le64(copy + 48, XXH3_64bits(copy, 48));
        secret_round_trip(copy, size);
        memcpy(copy, data, size);
    }
    if (size >= 16) { /* both versions end in a checksum of the rest */
        size_t body = size - 8;
        put_le64(copy + body, XXH3_64bits(copy, body));
        stream_round_trip(copy, size);
    }
    free(copy);
    return 0;
}
