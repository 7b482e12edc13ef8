/*
 * forget_intent — the file a forget writes before its first rewrite and
 * removes after its last audit record: streams/NAME/forget.intent
 * (FORMAT.md, "Forget intent"). It names the keys only by their keyed
 * BLAKE2b-256 (forget.c, the same hashes its audit records list), so that
 * the file gives no key away, and a run that finds it after a crash
 * finishes the forget by hashing the key of every event it reads.
 *
 * One per stream at a time: a forget finishes the pending intents of the
 * store before it writes its own (one maintenance handle per store, so no
 * two forgets run at once). Written by the atomic-replace recipe: a crash
 * leaves no intent or the whole one.
 */
#ifndef SIGLOG_FORGET_INTENT_H
#define SIGLOG_FORGET_INTENT_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define FORGET_INTENT_FILE "forget.intent"
#define FORGET_INTENT_HASH_BYTES 32
#define FORGET_INTENT_HEADER_BYTES 32
#define FORGET_INTENT_TRAILER_BYTES 8
/* More keys than any forget needs; a count beyond is damage. */
#define FORGET_INTENT_KEYS_MAX (1u << 20)

typedef struct forget_intent {
    uint64_t store_id;
    int64_t started_us;
    uint32_t n;       /* keys */
    uint8_t *hashes;  /* n * FORGET_INTENT_HASH_BYTES, ascending, distinct */
} forget_intent;

/* The encoding of it (FORGET_INTENT_HEADER_BYTES + 32 n + 8 bytes into
 * buf, which holds them). */
size_t sl_forget_intent_size(uint32_t n);
void sl_forget_intent_encode(uint8_t *buf, const forget_intent *it);
/* Untrusted bytes of a store with id store_id: SIGLOG_ECORRUPT (or
 * SIGLOG_EVERSION) naming the file `name` and the byte at fault; on
 * success *it owns a copy of the hashes (sl_forget_intent_free). */
int sl_forget_intent_decode(const uint8_t *buf, size_t len, uint64_t store_id, const char *name,
                            forget_intent *it);
void sl_forget_intent_free(forget_intent *it);

/* stream_dir's intent: 1 and *it when there is one, 0 when none, or the
 * decoding error naming the file. */
int sl_forget_intent_load(const siglog_io *io, const char *stream_dir, uint64_t store_id, forget_intent *it);
/* Write it durably (atomic replace; the directory synced). */
int sl_forget_intent_write(const siglog_io *io, const char *stream_dir, const forget_intent *it, uint32_t mode);
/* Remove it durably (the directory synced); none is fine. */
int sl_forget_intent_remove(const siglog_io *io, const char *stream_dir);

#endif
