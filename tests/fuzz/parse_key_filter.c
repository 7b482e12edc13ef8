/*
 * parse_key_filter: arbitrary bytes as a segment's key filter (.kf,
 * engine/keyfilter.h, FORMAT.md section 23), once as they are and once
 * with the trailing checksum made honest so that mutations reach the
 * field checks. Oracles: an error is ECORRUPT or EVERSION with a detail;
 * an accepted file re-encodes to exactly its bytes, its block count
 * matches its size, and a key added to it is then always possibly
 * present (the one property a reader relies on: no false negative),
 * probed with hashes taken from the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "keyfilter.h"

#define TARGET "parse_key_filter"

static void round_trip(const uint8_t *data, size_t size)
{
    keyfilter f;
    int rc = sl_keyfilter_decode(data, size, &f);
    if (rc) {
        fuzz_check_refusal(TARGET, rc);
        return;
    }
    if (size != KEYFILTER_HEADER_BYTES + (size_t)f.block_count * KEYFILTER_BLOCK_BYTES + 8)
        fuzz_fail(TARGET, "accepted %zu bytes holding %u blocks", size, f.block_count);
    uint8_t *again;
    size_t len;
    if (sl_keyfilter_encode(&f, &again, &len) != 0)
        abort();
    if (len != size || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "accepted (%u blocks) but re-encodes differently", f.block_count);
    free(again);
    for (size_t at = KEYFILTER_HEADER_BYTES; at + 8 <= size; at += 8 * 61) {
        uint64_t h;
        memcpy(&h, data + at, sizeof h);
        sl_keyfilter_add(&f, h);
        if (!sl_keyfilter_may_contain(&f, h))
            fuzz_fail(TARGET, "a hash just added is reported absent");
    }
    sl_keyfilter_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_with_honest_trailer(data, size, round_trip);
    return 0;
}
