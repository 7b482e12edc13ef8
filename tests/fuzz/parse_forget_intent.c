/*
 * parse_forget_intent: arbitrary bytes as a stream's forget.intent (first
 * input byte: options), decoded for the store id the bytes name (so that
 * accepted inputs are reached). Bit 0 of the options repairs the trailing
 * checksum so that mutations reach the field checks. Oracles: an error is
 * ECORRUPT or EVERSION with a detail naming the file; accepted bytes
 * re-encode to exactly themselves (one encoding per set of keys), their
 * hashes are strictly ascending, and the same bytes are refused for any
 * other store.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "forget_intent.h"
#include "fuzz_support.h"
#include "siglog.h"

#define TARGET "parse_forget_intent"
#define NAME "streams/t/forget.intent"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *file = fuzz_file_opt_trailer(data, size, FORGET_INTENT_HEADER_BYTES + FORGET_INTENT_TRAILER_BYTES, &size);
    if (!file)
        return 0;
    uint64_t store_id = size >= 24 ? get_le64(file + 16) : 0;
    forget_intent it;
    int rc = sl_forget_intent_decode(file, size, store_id, NAME, &it);
    if (rc) {
        fuzz_check_refusal_names(TARGET, rc, NAME);
    } else {
        if (sl_forget_intent_size(it.n) != size)
            fuzz_fail(TARGET, "%u keys accepted in %zu bytes", it.n, size);
        for (uint32_t i = 1; i < it.n; i++)
            if (memcmp(it.hashes + (size_t)(i - 1) * FORGET_INTENT_HASH_BYTES,
                       it.hashes + (size_t)i * FORGET_INTENT_HASH_BYTES, FORGET_INTENT_HASH_BYTES) >= 0)
                fuzz_fail(TARGET, "hash %u not above the one before", i);
        uint8_t *again = malloc(size);
        if (!again)
            abort();
        sl_forget_intent_encode(again, &it);
        if (memcmp(again, file, size) != 0)
            fuzz_fail(TARGET, "accepted bytes re-encode differently");
        free(again);
        forget_intent other;
        if (sl_forget_intent_decode(file, size, ~store_id, NAME, &other) != SIGLOG_ECORRUPT)
            fuzz_fail(TARGET, "an intent of store %016llx accepted for another store", (unsigned long long)store_id);
        sl_forget_intent_free(&it);
    }
    free(file);
    return 0;
}
