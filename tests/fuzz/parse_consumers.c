/*
 * parse_consumers: arbitrary bytes as a stream's consumers file, once as
 * they are and once with the trailing checksum made honest so that
 * mutations reach the field checks. Oracles: an error is ECORRUPT or
 * EVERSION with a detail; an accepted file re-encodes to exactly its
 * bytes (one encoding per content), and what it decodes to is sorted,
 * distinct and within its bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "fuzz_support.h"

#define TARGET "parse_consumers"

static void round_trip(const uint8_t *data, size_t size)
{
    consumer_set s;
    int rc = sl_consumers_decode(data, size, &s);
    if (rc) {
        fuzz_check_refusal(TARGET, rc);
        return;
    }
    for (size_t i = 0; i < s.n; i++)
        if ((i && strcmp(s.e[i - 1].name, s.e[i].name) >= 0) || s.e[i].partitions < 1 ||
            s.e[i].partitions > 4096 || s.e[i].flags & ~CONSUMER_HOLD)
            fuzz_fail(TARGET, "accepted consumer %zu is out of bounds", i);
    uint8_t *again;
    size_t len;
    if (sl_consumers_encode(&s, &again, &len) != 0)
        abort();
    if (len != size || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "accepted (%zu consumers) but re-encodes differently", s.n);
    free(again);
    sl_consumer_set_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_with_honest_trailer(data, size, round_trip);
    return 0;
}
