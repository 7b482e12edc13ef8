/*
 * parse_schema_registry: feed arbitrary bytes to the decoder of a stream's
 * schema registry file (FORMAT.md §21), once as they are and once with
 * the trailing checksum repaired so that mutations reach the field checks
 * and the definitions behind them. Oracle: a refusal is ECORRUPT or
 * EVERSION with a detail; an accepted file re-encodes to exactly its
 * bytes (one encoding: versions ascending, definitions canonical,
 * fingerprints true), so a decoder that let anything else in fails here.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "schema_registry.h"
#include "siglog.h"

#define TARGET "parse_schema_registry"

static void round_trip(const uint8_t *data, size_t size)
{
    schema_list l;
    int rc = sl_schema_list_decode(data, size, &l);
    if (rc) {
        if (rc != SIGLOG_ECORRUPT && rc != SIGLOG_EVERSION)
            fuzz_fail(TARGET, "decoder returned %d: %s", rc, siglog_errdetail());
        if (siglog_errdetail()[0] == '\0')
            fuzz_fail(TARGET, "decoder error %d without a detail", rc);
        return;
    }
    uint8_t *again;
    size_t len;
    if (sl_schema_list_encode(&l, &again, &len) != 0)
        fuzz_fail(TARGET, "an accepted registry does not encode: %s", siglog_errdetail());
    if (len != size || memcmp(again, data, size) != 0)
        fuzz_fail(TARGET, "accepted registry of %zu versions re-encodes differently", l.count);
    free(again);
    sl_schema_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_with_honest_trailer(data, size, round_trip);
    return 0;
}
