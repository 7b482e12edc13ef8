/*
 * parse_roll_request: arbitrary bytes as a stream's roll.request (first
 * input byte: options), decoded for the store id the bytes name (so that
 * accepted inputs are reached), as a writer reads one a maintenance
 * process wrote. Bit 0 of the options repairs the trailing checksum so
 * that mutations reach the field checks. Oracles: an error is ECORRUPT or
 * EVERSION with a detail naming the file; accepted bytes re-encode to
 * exactly themselves (one encoding per set of partitions), their
 * partitions are strictly ascending and at most SIGLOG_PARTITIONS_MAX,
 * and the same bytes are refused for any other store.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_support.h"
#include "roll_request.h"
#include "siglog.h"

#define TARGET "parse_roll_request"
#define NAME "streams/t/roll.request"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *file = fuzz_file_opt_trailer(data, size, ROLL_REQUEST_HEADER_BYTES + ROLL_REQUEST_TRAILER_BYTES, &size);
    if (!file)
        return 0;
    uint64_t store_id = size >= 24 ? get_le64(file + 16) : 0;
    roll_request r;
    int rc = sl_roll_request_decode(file, size, store_id, NAME, &r);
    if (rc) {
        fuzz_check_refusal_names(TARGET, rc, NAME);
    } else {
        if (sl_roll_request_size(r.n) != size || r.n > SIGLOG_PARTITIONS_MAX)
            fuzz_fail(TARGET, "%u partitions accepted in %zu bytes", r.n, size);
        for (uint32_t i = 1; i < r.n; i++)
            if (r.parts[i - 1] >= r.parts[i])
                fuzz_fail(TARGET, "partition %u not above the one before", i);
        uint8_t *again = malloc(size);
        if (!again)
            abort();
        sl_roll_request_encode(again, &r);
        if (memcmp(again, file, size) != 0)
            fuzz_fail(TARGET, "accepted bytes re-encode differently");
        free(again);
        roll_request other;
        if (sl_roll_request_decode(file, size, ~store_id, NAME, &other) != SIGLOG_ECORRUPT)
            fuzz_fail(TARGET, "a request of store %016llx accepted for another store", (unsigned long long)store_id);
        sl_roll_request_free(&r);
    }
    free(file);
    return 0;
}
