/*
 * parse_schema_usage: arbitrary bytes as a partition's schemas.usage, once
 * as they are and once with the trailing checksum made honest so that
 * mutations reach the field checks. Oracles: an error is ECORRUPT,
 * EVERSION or ENOMEM with a detail; an accepted file re-encodes to exactly
 * its bytes (one encoding per content), and what it decodes to keeps the
 * invariants schema_usage.h states (versions ascending; first <= last <
 * covered; 1 <= count <= last - first + 1; nonconforming <= count; path
 * counts within 1..nonconforming).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "schema_usage.h"
#include "siglog.h"

#define TARGET "parse_schema_usage"

static void round_trip(const uint8_t *data, size_t size)
{
    schema_usage u;
    int rc = sl_schema_usage_decode(data, size, &u);
    if (rc) {
        fuzz_check_refusal(TARGET, rc);
        return;
    }
    for (size_t i = 0; i < u.count; i++) {
        const schema_usage_entry *e = &u.v[i];
        if ((i && u.v[i - 1].version >= e->version) || e->first_offset > e->last_offset ||
            e->last_offset >= u.covered || !e->count || e->count - 1 > e->last_offset - e->first_offset ||
            e->nonconforming > e->count || e->min_timestamp_us > e->max_timestamp_us)
            fuzz_fail(TARGET, "accepted entry %zu breaks an invariant", i);
        for (size_t k = 0; k < e->path_count; k++)
            if (!e->paths[k].count || e->paths[k].count > e->nonconforming)
                fuzz_fail(TARGET, "accepted path %zu of entry %zu is out of bounds", k, i);
    }
    uint8_t *again;
    size_t len;
    if (sl_schema_usage_encode(&u, &again, &len) != 0)
        abort();
    if (len != size || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "accepted (%zu versions) but re-encodes differently", u.count);
    free(again);
    sl_schema_usage_free(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_with_honest_trailer(data, size, round_trip);
    return 0;
}
