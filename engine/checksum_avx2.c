/*
 * XXH3_64bits compiled for AVX2 (this file alone is built with -mavx2;
 * see checksum.h for when it is called). xxhash.h's inline build picks
 * its AVX2 code path from the compiler's target.
 */
#include "checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#ifndef __AVX2__
#error "checksum_avx2.c must be compiled with -mavx2"
#endif

uint64_t sl_checksum_avx2(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}
