/*
 * validate_event: an arbitrary event value checked against a definition.
 * The input is DEFINITION NUL VALUE when it holds a NUL and the part
 * before it is a definition the parser accepts; otherwise the whole input
 * is the value and the definition is a fixed one using every keyword.
 * Oracle: as many callbacks as the count returned, every path starting at
 * "$"; a smaller max reports exactly the first violations of a larger one
 * (the walk is in document order and deterministic); a conforming value
 * written back by jansson conforms again, and one that does not conform
 * keeps its count through that round trip. When the one-pass scan
 * (schema_scan.h) says a value conforms, jansson reads it and the full
 * walk finds no violation. The hashed names of every definition node
 * (schema_lookup.h), which that scan uses, answer what the sorted
 * property array and the enum's JSON strings answer, for each declared
 * name and for bytes of the value taken as a name.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "schema_lookup.h"
#include "schema_scan.h"
#include "schema_validate.h"
#include "siglog.h"

#define TARGET "validate_event"
#define MAX_REPORTED 64

static const char fixed_def[] =
    "{\"type\":\"object\",\"required\":[\"user\",\"kind\"],\"additionalProperties\":false,\"properties\":{"
    "\"user\":{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\","
    "\"x-sensitivity\":\"personal\"}}},\"kind\":{\"type\":\"string\",\"enum\":[\"click\",\"view\"]},"
    "\"n\":{\"type\":\"integer\"},\"score\":{\"type\":[\"number\",\"null\"]},\"level\":{\"enum\":[1,2.5,null,[1]]},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"attrs\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"boolean\"}}}}";

typedef struct seen {
    size_t n;
    char text[MAX_REPORTED][SCHEMA_PATH_MAX + 256];
} seen;

static void record(void *ctx, const char *path, const char *reason)
{
    seen *s = ctx;
    if (path[0] != '$')
        fuzz_fail(TARGET, "path %s does not start at $", path);
    if (s->n >= MAX_REPORTED)
        fuzz_fail(TARGET, "more callbacks than max");
    snprintf(s->text[s->n++], sizeof s->text[0], "%s %s", path, reason);
}

/* Whether text[0..len) is one of n's enum strings, by jansson's values. */
static int enum_has_string(const schema_node *n, const uint8_t *text, size_t len)
{
    size_t i;
    const json_t *e;
    json_array_foreach(n->enum_values, i, e) if (json_is_string(e) && json_string_length(e) == len &&
                                                 memcmp(json_string_value(e), text, len) == 0) return 1;
    return 0;
}

/* The lookup tables of n and of every node below it against the tree. */
static void check_lookup(const schema_node *n, const uint8_t *probe, size_t probe_len)
{
    if (!n)
        return;
    const schema_property *p = sl_schema_node_property_n(n, (const char *)probe, probe_len);
    if (sl_schema_lookup_property(n->lookup, probe, probe_len) != (p ? p - n->props : -1))
        fuzz_fail(TARGET, "the hashed properties and the sorted ones disagree on a probe of %zu bytes", probe_len);
    int any_required = 0, required_beyond = 0;
    for (size_t i = 0; i < n->prop_count; i++) {
        const char *name = n->props[i].name;
        if (sl_schema_lookup_property(n->lookup, name, strlen(name)) != (long)i)
            fuzz_fail(TARGET, "property %s is not found at its index %zu", name, i);
        any_required |= n->props[i].required;
        required_beyond |= n->props[i].required && i >= 64;
        check_lookup(n->props[i].node, probe, probe_len);
    }
    if (sl_schema_lookup_required_seen(n->lookup, 0) == any_required ||
        sl_schema_lookup_required_seen(n->lookup, UINT64_MAX) == required_beyond)
        fuzz_fail(TARGET, "the required mask disagrees with the properties");
    if (n->enum_values) {
        size_t i;
        const json_t *e;
        json_array_foreach(n->enum_values, i, e) if (json_is_string(e) &&
                                                     !sl_schema_lookup_enum_string(n->lookup, json_string_value(e),
                                                                                   json_string_length(e)))
            fuzz_fail(TARGET, "enum string %s is not found", json_string_value(e));
    }
    if (sl_schema_lookup_enum_string(n->lookup, probe, probe_len) != (n->enum_values && enum_has_string(n, probe, probe_len)))
        fuzz_fail(TARGET, "the hashed enum strings and the enum disagree on a probe of %zu bytes", probe_len);
    check_lookup(n->additional_node, probe, probe_len);
    check_lookup(n->items, probe, probe_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    schema_def *d = NULL;
    const uint8_t *value = data;
    size_t value_len = size;
    const uint8_t *nul = memchr(data, 0, size);
    if (nul && sl_schema_def_parse(&d, data, (size_t)(nul - data)) == 0) {
        value = nul + 1;
        value_len = size - (size_t)(value - data);
    } else if (sl_schema_def_parse(&d, fixed_def, strlen(fixed_def)) != 0) {
        fuzz_fail(TARGET, "the fixed definition is refused: %s", siglog_errdetail());
    }

    /* Probes: the value's first bytes and the text of its first quoted
     * strings, which are most often names or enum strings. */
    check_lookup(d->root, value, value_len < 64 ? value_len : 64);
    const uint8_t *q = value, *end = value + value_len;
    for (int probes = 0; probes < 32 && (q = memchr(q, '"', (size_t)(end - q))) != NULL; probes++) {
        const uint8_t *close = memchr(q + 1, '"', (size_t)(end - q - 1));
        if (!close)
            break;
        check_lookup(d->root, q + 1, (size_t)(close - q - 1));
        q = close + 1;
    }

    static seen all, few;
    all.n = few.n = 0;
    size_t n = sl_schema_validate(d, value, value_len, record, &all, MAX_REPORTED);
    if (n != all.n)
        fuzz_fail(TARGET, "returned %zu violations but reported %zu", n, all.n);
    size_t n2 = sl_schema_validate(d, value, value_len, record, &few, 3);
    if (n2 != (n < 3 ? n : 3) || few.n != n2)
        fuzz_fail(TARGET, "max 3 gave %zu of %zu", n2, n);
    for (size_t i = 0; i < few.n; i++)
        if (strcmp(few.text[i], all.text[i]) != 0)
            fuzz_fail(TARGET, "violation %zu differs with a smaller max: %s / %s", i, few.text[i], all.text[i]);

    json_t *v = json_loadb((const char *)value, value_len, 0, NULL);
    if (sl_schema_scan_conforms(d, value, value_len) &&
        (!v || sl_schema_validate_json(d, v, NULL, NULL, MAX_REPORTED) != 0))
        fuzz_fail(TARGET, "the scan says it conforms, the full validator %s",
                  v ? "finds violations" : "cannot read it as JSON");
    if (v) {
        char *again = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (again) {
            size_t n3 = sl_schema_validate(d, again, strlen(again), NULL, NULL, MAX_REPORTED);
            if (n3 != n)
                fuzz_fail(TARGET, "%zu violations, %zu after a jansson round trip", n, n3);
            free(again);
        }
        json_decref(v);
    }
    sl_schema_def_free(d);
    return 0;
}
