/*
 * codec — little-endian fixed-width fields and LEB128 varints, the only
 * integer encodings of the on-disk format (format-spec/FORMAT.md,
 * "Conventions"). Decoders are bounded: they never read past `end`.
 */
#ifndef SIGLOG_CODEC_H
#define SIGLOG_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32); }

/* Whether p[0..n) are all zero: reserved fields and unused space, which
 * the decoders require zero. */
static inline int bytes_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

#define VARINT_MAX_BYTES 10

/* Writes v at p (room for VARINT_MAX_BYTES); returns bytes written. */
static inline size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from [*p, end); advances *p. Returns 0, or -1 if it runs
 * past end or over 10 bytes / 64 bits. */
static inline int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    unsigned shift = 0;
    const uint8_t *q = *p;
    while (q < end) {
        uint8_t b = *q++;
        if (shift == 63 && b > 1)
            return -1;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *v = r;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return -1;
    }
    return -1;
}

/* Bytes varint_put writes for v. */
static inline size_t varint_size(uint64_t v)
{
    return ((size_t)(64 - __builtin_clzll(v | 1)) + 6) / 7;
}

/* varint_get that also refuses a non-minimal encoding (a value written
 * in more bytes than varint_put uses): the general path, out of line. */
__attribute__((noinline, unused)) static int varint_get_minimal_slow(const uint8_t **p, const uint8_t *end,
                                                                      uint64_t *v)
{
    const uint8_t *start = *p;
    if (varint_get(p, end, v) != 0 || (size_t)(*p - start) != varint_size(*v)) {
        *p = start;
        return -1;
    }
    return 0;
}

/* The same, with the encodings of record fields inline: one byte
 * (deltas, small lengths), two (lengths up to 16 KiB) and three
 * (timestamp deltas up to 1 s either way). A varint of two or three bytes
 * is minimal exactly when its last byte is not 0. The fuzz target
 * compare_varint holds both paths to the same answers. */
static inline int varint_get_minimal(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *q = *p;
    if (q < end && q[0] < 0x80) {
        *v = q[0];
        *p = q + 1;
        return 0;
    }
    if (end - q >= 2 && (uint8_t)(q[1] - 1) < 0x7f) {
        *v = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
        *p = q + 2;
        return 0;
    }
    if (end - q >= 3 && (q[1] & 0x80) && (uint8_t)(q[2] - 1) < 0x7f) {
        *v = (uint64_t)(q[0] & 0x7f) | (uint64_t)(q[1] & 0x7f) << 7 | (uint64_t)q[2] << 14;
        *p = q + 3;
        return 0;
    }
    return varint_get_minimal_slow(p, end, v);
}

static inline uint64_t zigzag_encode(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t zigzag_decode(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

#endif
