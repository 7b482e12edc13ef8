/*
 * parse_schema: feed arbitrary text to the schema definition parser.
 * Oracle: a refusal is SIGLOG_EINVAL with a detail that names a JSON path
 * in the definition (or says the text is not JSON or too long); an
 * accepted definition has a canonical form that parses again to the very
 * same canonical bytes and fingerprint (canonical is a fixed point), a
 * fingerprint that is XXH3-64 of those bytes, and properties sorted and
 * unique at every level (the validator's binary search relies on it).
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fuzz_support.h"
#include "schema_def.h"
#include "siglog.h"

#define TARGET "parse_schema"

static void check_node(const schema_node *n)
{
    for (size_t i = 0; i < n->prop_count; i++) {
        if (i > 0 && strcmp(n->props[i - 1].name, n->props[i].name) >= 0)
            fuzz_fail(TARGET, "properties not sorted and unique: \"%s\" then \"%s\"", n->props[i - 1].name,
                      n->props[i].name);
        if (sl_schema_node_property(n, n->props[i].name) != &n->props[i])
            fuzz_fail(TARGET, "property \"%s\" not found by name", n->props[i].name);
        check_node(n->props[i].node);
    }
    if (n->items)
        check_node(n->items);
    if ((n->additional == SCHEMA_ADDITIONAL_SCHEMA) != (n->additional_node != NULL))
        fuzz_fail(TARGET, "additionalProperties schema and its node disagree");
    if (n->additional_node)
        check_node(n->additional_node);
    if (n->types == 0 || (n->types & ~(unsigned)SCHEMA_ANY))
        fuzz_fail(TARGET, "type bits %#x", n->types);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    schema_def *d = NULL;
    int rc = sl_schema_def_parse(&d, data, size);
    if (rc) {
        const char *detail = siglog_errdetail();
        if (rc != SIGLOG_EINVAL)
            fuzz_fail(TARGET, "refused with %d, not EINVAL: %s", rc, detail);
        if (!strstr(detail, " at $") && !strstr(detail, "not JSON") && !strstr(detail, "bytes, more than"))
            fuzz_fail(TARGET, "refusal names no path: %s", detail);
        if (d)
            fuzz_fail(TARGET, "refused but returned a definition");
        return 0;
    }
    if (d->root->types != SCHEMA_OBJECT)
        fuzz_fail(TARGET, "accepted a root that is not an object");
    if (d->fingerprint != XXH3_64bits(d->canonical, d->canonical_len) || strlen(d->canonical) != d->canonical_len)
        fuzz_fail(TARGET, "fingerprint is not XXH3-64 of the canonical form");
    check_node(d->root);
    schema_def *again = NULL;
    if (sl_schema_def_parse(&again, d->canonical, d->canonical_len) != 0)
        fuzz_fail(TARGET, "canonical form refused: %s", siglog_errdetail());
    if (again->canonical_len != d->canonical_len || memcmp(again->canonical, d->canonical, d->canonical_len) != 0 ||
        again->fingerprint != d->fingerprint)
        fuzz_fail(TARGET, "canonical form is not a fixed point");
    sl_schema_def_free(again);
    sl_schema_def_free(d);
    return 0;
}
