/*
 * keyfilter — a per-segment filter of the keys a sealed segment holds
 * (format-spec/FORMAT.md, "Key filter"), so that a reader looking for one
 * key can pass over segments that cannot hold it without reading them.
 *
 * The filter is a split-block Bloom filter: an array of 256-bit blocks of
 * eight 32-bit words. A key's hash is XXH3-64 of its bytes (seed 0; a
 * record without a key counts as the empty key, so that a search for "no
 * key" is answered too). Its high 32 bits pick the block
 * ((hi * blocks) >> 32), and its low 32 bits set one bit in each of the
 * eight words: bit ((lo * SALT[i]) >> 27) of word i. A key is possibly
 * present when all eight bits are set, and certainly absent otherwise.
 *
 * Size: ceil(10 * distinct keys / 256) blocks, at least one (10 bits per
 * key), at most KEYFILTER_BLOCKS_MAX (beyond it the false-positive rate
 * grows, never the answer's correctness). Expected false-positive rate at
 * 10 bits per key: 1.3 % (a block's load is Poisson with mean 25.6 keys,
 * a probe fails when all of its eight bits are set).
 *
 * Invariant: never a false negative for a key of a record of the segment
 * the filter was built from. The file binds itself to that segment (base
 * and end offset, checksum of its .sum): a filter that does not match the
 * catalog entry, or that fails its own checksum, is not used — the
 * segment is read instead, so a lost, stale or damaged filter costs time,
 * never an answer.
 */
#ifndef SIGLOG_KEYFILTER_H
#define SIGLOG_KEYFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "io.h"
#include "key_set.h"
#include "segment.h"

#define KEYFILTER_EXT ".kf"
#define KEYFILTER_MAGIC 0x464b4753u /* "SGKF" */
#define KEYFILTER_VERSION 1
#define KEYFILTER_HEADER_BYTES 48
#define KEYFILTER_BLOCK_BYTES 32
#define KEYFILTER_BITS_PER_KEY 10
/* 32 MiB of blocks: ~27 million distinct keys at 10 bits each. */
#define KEYFILTER_BLOCKS_MAX (1u << 20)
#define KEYFILTER_FILE_MAX (KEYFILTER_HEADER_BYTES + (size_t)KEYFILTER_BLOCKS_MAX * KEYFILTER_BLOCK_BYTES + 8)

/* What the filter is of: the segment it was built from. */
typedef struct keyfilter_binding {
    uint64_t base_offset;
    uint64_t end_offset;
    uint64_t summary_checksum; /* XXH3-64 of the segment's .sum */
} keyfilter_binding;

typedef struct keyfilter {
    keyfilter_binding of;
    uint64_t key_count;    /* distinct key hashes inserted */
    uint32_t block_count;
    uint32_t *words;       /* block_count * 8, host order */
} keyfilter;

uint64_t sl_keyfilter_hash(const void *key, size_t len);

/* Blocks for n distinct keys (10 bits each, within [1, BLOCKS_MAX]). */
uint32_t sl_keyfilter_blocks_for(uint64_t n);
/* A filter of block_count empty blocks. SIGLOG_ENOMEM. */
int sl_keyfilter_init(keyfilter *f, uint32_t block_count, const keyfilter_binding *of);
void sl_keyfilter_free(keyfilter *f);
void sl_keyfilter_add(keyfilter *f, uint64_t hash);
/* 0: certainly absent; 1: possibly present. */
int sl_keyfilter_may_contain(const keyfilter *f, uint64_t hash);

/* The file: encode into a malloc'd buffer; decode validates untrusted
 * bytes (size, magic, version, reserved zero, block count, checksum):
 * SIGLOG_ECORRUPT or SIGLOG_EVERSION, detail without a path. */
int sl_keyfilter_encode(const keyfilter *f, uint8_t **out, size_t *len);
int sl_keyfilter_decode(const uint8_t *buf, size_t len, keyfilter *f);

/* Build the filter of a sealed segment and write it beside it as STEM.kf
 * by atomic replace: from keys, the distinct key hashes of its records, or
 * with keys NULL from its records (every batch read and checked). */
int sl_keyfilter_write_segment(segment *s, const key_set *keys);

/* The filter of catalog entry e in partition directory dir, for a reader:
 * 1 and *f filled when a filter matching the entry is there, 0 when there
 * is none or it does not match (stale, or the entry is active), or
 * SIGLOG_ECORRUPT naming the file when it is damaged (the caller reads the
 * segment instead). Writes nothing. */
int sl_keyfilter_load(const siglog_io *io, const char *dir, const catalog_segment *e, keyfilter *f);

#endif
