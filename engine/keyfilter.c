/*
 * keyfilter — the split-block Bloom filter and its file; see keyfilter.h.
 * STEM.kf, little-endian (FORMAT.md, "Key filter"):
 *   0 u32 magic "SGKF"   4 u16 version   6 u16 reserved (0)
 *   8 u32 block_count    12 u32 reserved (0)
 *   16 u64 key_count     24 u64 base_offset   32 u64 end_offset
 *   40 u64 summary_checksum
 *   48 block_count x 8 u32 words
 *   then u64 XXH3-64 of every byte before it
 */
#include "keyfilter.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"

#define WORDS_PER_BLOCK 8

/* One odd multiplier per word: each spreads the low 32 bits of the hash
 * over the word's 32 bit positions independently of the others. */
static const uint32_t salt[WORDS_PER_BLOCK] = {0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
                                               0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u};

uint64_t sl_keyfilter_hash(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

uint32_t sl_keyfilter_blocks_for(uint64_t n)
{
    uint64_t bits = n * KEYFILTER_BITS_PER_KEY;
    uint64_t blocks = (bits + KEYFILTER_BLOCK_BYTES * 8 - 1) / (KEYFILTER_BLOCK_BYTES * 8);
    if (n > UINT64_MAX / KEYFILTER_BITS_PER_KEY || blocks > KEYFILTER_BLOCKS_MAX)
        return KEYFILTER_BLOCKS_MAX;
    return blocks ? (uint32_t)blocks : 1;
}

int sl_keyfilter_init(keyfilter *f, uint32_t block_count, const keyfilter_binding *of)
{
    memset(f, 0, sizeof *f);
    if (block_count == 0 || block_count > KEYFILTER_BLOCKS_MAX)
        return sl_err_set(SIGLOG_EINVAL, "key filter of %u blocks: 1..%u", block_count, KEYFILTER_BLOCKS_MAX);
    if (!(f->words = calloc((size_t)block_count * WORDS_PER_BLOCK, sizeof *f->words)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    f->block_count = block_count;
    f->of = *of;
    return 0;
}

void sl_keyfilter_free(keyfilter *f)
{
    free(f->words);
    f->words = NULL;
}

static uint32_t *block_of(const keyfilter *f, uint64_t hash)
{
    uint64_t i = ((hash >> 32) * f->block_count) >> 32;
    return f->words + i * WORDS_PER_BLOCK;
}

void sl_keyfilter_add(keyfilter *f, uint64_t hash)
{
    uint32_t *b = block_of(f, hash), lo = (uint32_t)hash;
    for (int i = 0; i < WORDS_PER_BLOCK; i++)
        b[i] |= 1u << ((lo * salt[i]) >> 27);
    f->key_count++;
}

int sl_keyfilter_may_contain(const keyfilter *f, uint64_t hash)
{
    const uint32_t *b = block_of(f, hash);
    uint32_t lo = (uint32_t)hash;
    for (int i = 0; i < WORDS_PER_BLOCK; i++)
        if (!(b[i] & (1u << ((lo * salt[i]) >> 27))))
            return 0;
    return 1;
}

static size_t file_bytes(uint32_t block_count)
{
    return KEYFILTER_HEADER_BYTES + (size_t)block_count * KEYFILTER_BLOCK_BYTES + 8;
}

int sl_keyfilter_encode(const keyfilter *f, uint8_t **out, size_t *len)
{
    size_t n = file_bytes(f->block_count);
    uint8_t *b = calloc(1, n);
    if (!b)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    put_le32(b, KEYFILTER_MAGIC);
    put_le16(b + 4, KEYFILTER_VERSION);
    put_le32(b + 8, f->block_count);
    put_le64(b + 16, f->key_count);
    put_le64(b + 24, f->of.base_offset);
    put_le64(b + 32, f->of.end_offset);
    put_le64(b + 40, f->of.summary_checksum);
    uint8_t *p = b + KEYFILTER_HEADER_BYTES;
    for (size_t i = 0; i < (size_t)f->block_count * WORDS_PER_BLOCK; i++, p += 4)
        put_le32(p, f->words[i]);
    put_le64(p, XXH3_64bits(b, n - 8));
    *out = b;
    *len = n;
    return 0;
}

int sl_keyfilter_decode(const uint8_t *buf, size_t len, keyfilter *f)
{
    memset(f, 0, sizeof *f);
    if (len < file_bytes(1) || len > KEYFILTER_FILE_MAX)
        return sl_err_set(SIGLOG_ECORRUPT, "key filter of %zu bytes: not a key filter", len);
    if (get_le32(buf) != KEYFILTER_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "bad key filter magic");
    if (get_le16(buf + 4) != KEYFILTER_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "key filter version %u (this build reads %u)", get_le16(buf + 4),
                          KEYFILTER_VERSION);
    uint32_t blocks = get_le32(buf + 8);
    if (blocks == 0 || blocks > KEYFILTER_BLOCKS_MAX || len != file_bytes(blocks))
        return sl_err_set(SIGLOG_ECORRUPT, "key filter of %zu bytes says it has %u blocks", len, blocks);
    if (get_le64(buf + len - 8) != XXH3_64bits(buf, len - 8))
        return sl_err_set(SIGLOG_ECORRUPT, "key filter checksum mismatch");
    if (get_le16(buf + 6) != 0 || get_le32(buf + 12) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "key filter reserved fields are not zero");
    keyfilter_binding of = {get_le64(buf + 24), get_le64(buf + 32), get_le64(buf + 40)};
    if (of.end_offset < of.base_offset)
        return sl_err_set(SIGLOG_ECORRUPT, "key filter of offsets %llu..%llu: the end is before the base",
                          (unsigned long long)of.base_offset, (unsigned long long)of.end_offset);
    int rc = sl_keyfilter_init(f, blocks, &of);
    if (rc)
        return rc;
    f->key_count = get_le64(buf + 16);
    const uint8_t *p = buf + KEYFILTER_HEADER_BYTES;
    for (size_t i = 0; i < (size_t)blocks * WORDS_PER_BLOCK; i++, p += 4)
        f->words[i] = get_le32(p);
    return 0;
}
