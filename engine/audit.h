/*
 * audit — the store's audit trail, STORE/audit.log: one record per action
 * that removes, moves or exposes data or changes how it is kept (tier
 * moves, purges, archives, restores, consumer commits that hold data,
 * setting changes), so that every deletion can be explained to an auditor
 * (format-spec/FORMAT.md, "Audit trail").
 *
 *   audit.log = header (32 bytes) | record | record | ...
 *   record i  = fields of the action | strings | prev | mac
 *   prev_0    = BLAKE2b-256(key = store secret, header)
 *   prev_i    = mac_{i-1}
 *   mac_i     = BLAKE2b-256(key = store secret, record i up to its mac)
 *
 * The chain: each record carries the keyed hash of the one before and its
 * own, and a sequence number. Removing a record from the middle breaks the
 * next one's prev (and its sequence), editing one breaks its mac,
 * swapping two breaks both; without the store's secret (store_secret.h)
 * nobody can rebuild the chain after doing so. What a chain alone cannot
 * show is records cut from the END: `siglog audit --verify` prints the
 * last record's sequence and mac so that an auditor can keep them
 * elsewhere and check later that the trail still reaches them.
 *
 * Order: a record is appended and synced BEFORE the action it describes
 * begins (the intent), so no action ever happens unrecorded; a crash
 * between the two leaves a record of an action not done, or half done,
 * which the next run of the same policy or command completes (and records
 * again). Over-explaining is the safe side: a purge never leaves a gap in
 * the offsets that the trail does not account for.
 *
 * Torn tail: a record whose write a crash interrupted can only be the
 * last one. The last record is torn when it ends at or past the end of
 * the file and fails its checks (cut short, or garbled because its bytes
 * never reached the disk); since its action never began, cutting it loses
 * nothing. Readers report it and change nothing; the next appender cuts
 * it (under the lock) before it appends. A bad record with another after
 * it is damage or tampering: reported with its sequence and byte, never
 * cut.
 *
 * Concurrency: several processes append (the writer, maintenance, consumer
 * commits), serialised by an exclusive flock on STORE/audit.lock, held
 * from reading the tail to the sync of the new record. Readers take no
 * lock: a record being appended is, to them, a torn tail.
 */
#ifndef SIGLOG_AUDIT_H
#define SIGLOG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "siglog.h"

#define AUDIT_LOCK_FILE "audit.lock"
#define AUDIT_MAGIC 0x4c414753u        /* "SGAL": the header */
#define AUDIT_RECORD_MAGIC 0x52414753u /* "SGAR": each record */
#define AUDIT_VERSION 1
#define AUDIT_HEADER_BYTES 32
#define AUDIT_MAC_BYTES 32
#define AUDIT_RECORD_FIXED 96 /* fields before the strings */
#define AUDIT_RECORD_MIN (AUDIT_RECORD_FIXED + 2 * AUDIT_MAC_BYTES)
#define AUDIT_HOST_MAX 255
#define AUDIT_DETAIL_MAX 1024
#define AUDIT_RECORD_MAX (AUDIT_RECORD_MIN + SIGLOG_NAME_MAX + AUDIT_HOST_MAX + AUDIT_DETAIL_MAX)

/* Actions: the numbers are on disk (FORMAT.md); names are what people and
 * --json see. An unknown number (a later version's action) is read as
 * "action-N": its record is still checked and chained like any other. */
enum audit_action {
    AUDIT_WARM = 1,     /* sealed segments rewritten for the warm tier */
    AUDIT_COLD = 2,     /* sealed segments moved to the cold tier */
    AUDIT_PURGE = 3,    /* the oldest segments or archives deleted */
    AUDIT_ARCHIVE = 4,  /* sealed segments exported as archives */
    AUDIT_RESTORE = 5,  /* archives brought back into their partition */
    AUDIT_HOLD = 6,     /* a consumer commit with a hold */
    AUDIT_CONFIG = 7,   /* a stream setting changed */
    AUDIT_FORGET = 8,   /* events removed or redacted on request */
    AUDIT_COMPACT = 9,  /* records dropped by compaction */
    AUDIT_LOSS = 10,    /* lost segments accepted (verify --accept-loss) */
    AUDIT_ACTION_LAST = AUDIT_LOSS,
};
enum audit_cause { AUDIT_BY_POLICY = 1, AUDIT_BY_COMMAND = 2 };

#define AUDIT_NO_PARTITION UINT32_MAX

/* One record. The caller of sl_audit_append fills what the action is about;
 * sequence, time, host, pid and uid are filled in by sl_audit_append. An
 * offset range start == end, or a time range min > max, says "none". */
typedef struct audit_record {
    uint64_t seq;
    int64_t time_us;
    uint16_t action; /* enum audit_action */
    uint8_t cause;   /* enum audit_cause */
    uint32_t partition;
    uint64_t offset_start, offset_end; /* [start, end) */
    int64_t time_min_us, time_max_us;
    uint64_t bytes, events;
    uint32_t pid, uid;
    char stream[SIGLOG_NAME_MAX + 1];
    char host[AUDIT_HOST_MAX + 1];
    char detail[AUDIT_DETAIL_MAX + 1];
} audit_record;

/* A record with "nothing" in every range, for the caller to fill. */
void sl_audit_record_init(audit_record *r, uint16_t action, uint8_t cause);
/* "warm", "cold", ...; "action-N" for an unknown one (buf, 24 bytes). */
const char *sl_audit_action_name(uint16_t action, char buf[24]);
/* The number of a name, 0 when unknown. */
uint16_t sl_audit_action_find(const char *name);
const char *sl_audit_cause_name(uint8_t cause);

/* The trail of one store, as the module's calls need it. */
typedef struct audit_trail {
    const siglog_io *io;
    const char *dir;    /* the store directory */
    uint64_t store_id;
    const uint8_t *key; /* the store's secret; NULL: read without checking
                         * the chain (appends need it) */
    uint32_t file_mode; /* of the files an append creates */
} audit_trail;

/* Append r to the trail (creating it with its header when missing,
 * cutting a torn tail first), durable when this returns 0. Fills r's
 * sequence, time, host, pid and uid. The trail's own damage is
 * SIGLOG_ECORRUPT naming the record and byte: nothing is appended after
 * damage. */
int sl_audit_append(const audit_trail *t, audit_record *r);

/* What reading a trail found. */
typedef struct audit_result {
    uint64_t records;                 /* whole records read */
    uint64_t end;                     /* byte where the whole records end */
    uint64_t torn_at;                 /* byte of a torn tail, or UINT64_MAX */
    uint8_t head_mac[AUDIT_MAC_BYTES]; /* the last record's mac (the
                                      * header's chain start when none) */
} audit_result;

/* Read the trail in order, calling fn (when not NULL) for each
 * whole record; fn returning nonzero stops with that value. With key, the
 * chain is checked (sequence, prev, mac); without, only each record's
 * structure. A missing trail is an empty one. Damage is SIGLOG_ECORRUPT
 * naming the record's sequence and byte; a torn tail is not an error
 * (res->torn_at). Writes nothing. */
int sl_audit_read(const audit_trail *t, int (*fn)(void *ctx, const audit_record *r), void *ctx, audit_result *res);

/* Append r to the trail of an open store, with its secret (audit_store.c):
 * for the writer handle, whose secret was loaded at open, or a reader in
 * the consumer role, which reads it now (sl_store_secret_get's errors);
 * SIGLOG_ERDONLY for a plain reader. */
struct siglog;
int sl_store_audit(struct siglog *s, audit_record *r);

/* The record codec: encode returns the record's length (at most
 * AUDIT_RECORD_MAX) with its prev and mac; decode checks structure
 * (magic, length, reserved zero, string lengths and bytes) and returns
 * the length it used, or SIGLOG_ECORRUPT; the caller checks the chain
 * (sl_audit_mac). */
size_t sl_audit_record_encode(uint8_t *buf, const audit_record *r, const uint8_t prev[AUDIT_MAC_BYTES],
                           const uint8_t *key);
int sl_audit_record_decode(const uint8_t *buf, size_t len, audit_record *r, const uint8_t **prev,
                        const uint8_t **mac);
/* The keyed BLAKE2b-256 of bytes[0..len). */
void sl_audit_mac(uint8_t out[AUDIT_MAC_BYTES], const uint8_t *key, const uint8_t *bytes, size_t len);

/* The header codec: decode checks size, magic, checksum, version,
 * reserved zero and store id. */
void sl_audit_header_encode(uint8_t buf[AUDIT_HEADER_BYTES], uint64_t store_id, int64_t created_us);
int sl_audit_header_decode(const uint8_t *buf, size_t len, uint64_t store_id);

#endif
