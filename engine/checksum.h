/*
 * checksum — XXH3-64 of large buffers (batch bodies), the same function
 * as xxHash's XXH3_64bits, computed with AVX2 where the CPU has it.
 *
 * Why: the distribution's libxxhash is built for the x86-64 baseline
 * (SSE2), and a batch body's checksum is checked on every read and
 * computed on every append: with AVX2 it costs about a third as much
 * (27 KiB: 1.8 µs instead of 5.1 on this project's test machine), a
 * tenth of a seek. The choice is made per call from the CPU's features;
 * both paths give the same value for every input (tests/test_batch.c).
 */
#ifndef SIGLOG_CHECKSUM_H
#define SIGLOG_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* XXH3_64bits(p, n). */
uint64_t sl_checksum_bulk(const void *p, size_t n);
/* The AVX2 build of XXH3_64bits (on x86-64 builds, SIGLOG_CHECKSUM_AVX2;
 * elsewhere the library's function), to be called only where
 * sl_checksum_avx2_usable says the CPU runs it. */
uint64_t sl_checksum_avx2(const void *p, size_t n);
int sl_checksum_avx2_usable(void);

#endif
