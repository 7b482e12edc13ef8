/*
 * parse_store_meta: feed arbitrary bytes to the two small metadata
 * decoders, siglog.store and stream.meta, once as they are and once with
 * their checksum repaired so that mutations reach the field checks. When a
 * decoder accepts the bytes, encoding what it returned must give back the
 * input byte for byte (the formats have one encoding, and a decoder that
 * accepted anything the encoder would not write lets bad files in), and
 * the decoded stream config must pass the same range checks as at
 * creation.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "fuzz_support.h"
#include "siglog.h"
#include "store.h"
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
    uint64_t id = 0;
    int rc = store_meta_decode(data, size, &id);
    if (rc) {
        check_error(rc);
        return;
    }
    /* created_us is carried over from the input: every other byte,
     * checksum included, must come from the decoded id alone. */
    uint8_t again[STORE_FILE_BYTES];
    store_meta_encode(again, id, (int64_t)get_le64(data + STORE_CREATED));
    if (size != STORE_FILE_BYTES || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "siglog.store accepted but re-encodes differently (id %016llx)", (unsigned long long)id);
}

static void stream_round_trip(const uint8_t *data, size_t size)
{
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id = 0;
    siglog_stream_config c;
    int rc = stream_meta_decode(data, size, name, &id, &c);
    if (rc) {
        check_error(rc);
        return;
    }
    siglog_stream_config normalized = c;
    if (stream_config_normalize(&normalized, UINT64_MAX) != 0)
        fuzz_fail(TARGET, "stream.meta accepted with a config that fails normalize: %s", siglog_errdetail());
    if (memcmp(&normalized, &c, sizeof c) != 0)
        fuzz_fail(TARGET, "normalize changed an accepted stream config");
    uint8_t again[STREAM_META_BYTES_MAX];
    size_t len = stream_meta_encode(again, name, id, &c);
    if (len != size || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "stream.meta accepted (stream %s, id %u) but re-encodes differently", name, id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_round_trip(data, size);
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
    if (size >= STREAM_META_FIXED_BYTES + 8) {
        size_t body = size - 8;
        put_le64(copy + body, XXH3_64bits(copy, body));
        stream_round_trip(copy, size);
    }
    free(copy);
    return 0;
}
