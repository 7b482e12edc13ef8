#include "checksum.h"

#include <xxhash.h>

/* At or below this many bytes XXH3 uses no vector code (xxhash.h,
 * XXH3_MIDSIZE_MAX): the library's function is as fast. */
#define CHECKSUM_SCALAR_MAX 240

#ifdef SIGLOG_CHECKSUM_AVX2
int sl_checksum_avx2_usable(void)
{
    return __builtin_cpu_supports("avx2");
}
#else
/* No AVX2 build here: never usable, and the library's function stands in
 * for it so that callers link everywhere. */
int sl_checksum_avx2_usable(void)
{
    return 0;
}

uint64_t sl_checksum_avx2(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}
#endif

uint64_t sl_checksum_bulk(const void *p, size_t n)
{
    if (n > CHECKSUM_SCALAR_MAX && sl_checksum_avx2_usable())
        return sl_checksum_avx2(p, n);
    return XXH3_64bits(p, n);
}
