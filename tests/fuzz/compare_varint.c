/*
 * compare_varint: the record decoder's varint reader (varint_get_minimal:
 * one- and two-byte encodings inline) against the general path
 * (varint_get, then the encoding's length checked against varint_size) on
 * the same bytes: from every start position of the input and with every
 * end, both accept or both refuse, with the same value and the same
 * length; a refusal leaves the position where it was, and an accepted
 * value re-encodes (varint_put) to exactly the bytes read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static void fail(const char *what, size_t at)
{
    fprintf(stderr, "compare_varint: %s at byte %zu\n", what, at);
    abort();
}

static void compare(const uint8_t *start, const uint8_t *end, size_t at)
{
    const uint8_t *fast = start, *general = start;
    uint64_t fv = 0, gv = 0;
    int frc = varint_get_minimal(&fast, end, &fv);
    int grc = varint_get(&general, end, &gv);
    if (grc == 0 && (size_t)(general - start) != varint_size(gv))
        grc = -1;
    if (frc != grc)
        fail(frc ? "fast path refused what the general one accepts" : "fast path accepted what the general one refuses",
             at);
    if (frc) {
        if (fast != start)
            fail("a refusal moved the position", at);
        return;
    }
    if (fv != gv || fast != general)
        fail("the paths read different values or lengths", at);
    uint8_t again[VARINT_MAX_BYTES];
    size_t n = varint_put(again, fv);
    if (n != (size_t)(fast - start) || memcmp(again, start, n) != 0)
        fail("an accepted value re-encodes to other bytes", at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        for (size_t end = i; end <= size && end <= i + VARINT_MAX_BYTES + 1; end++)
            compare(data + i, data + end, i);
    return 0;
}
