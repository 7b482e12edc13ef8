/*
 * journal_verdict — what a damaged journal means for each partition, judged
 * the same way by a writer's recovery, a reader's open and verify
 * (format-spec/FORMAT.md, "Recovery", step 2).
 *
 * sl_journal_replay hands on damage: an invalid entry that a valid entry of
 * the current generation follows, so no torn end. It may still be what a
 * power cut does to the last commit round: a round writes one entry per
 * partition with one write, and a disk may keep a later sector of that
 * write and lose an earlier one before its sync returned; such a round was
 * never acknowledged. But a round holds at most one entry per partition,
 * and the next round is written only after the previous one's sync
 * returned: when some partition is named twice from the damaged entry on
 * (by valid entries, or by damaged ones whose header is intact), a later
 * round exists, the damaged entry was acknowledged, and it is corruption:
 *   - a damaged entry whose header is intact names its partition: that
 *     partition is failed from the entry on (none of its later entries is
 *     applied), with an error naming the journal and the byte; the other
 *     partitions' commits are all applied;
 *   - a damaged entry whose header is not intact could be any partition's:
 *     the open fails, since we cannot tell which partition lost a commit.
 * Otherwise the damage may be such a torn last round: what follows is
 * applied and the damage is reported as a warning (and by siglog verify).
 * Whatever is undecided stays in the journal: a writer does not recycle a
 * journal while a partition is failed.
 */
#ifndef SIGLOG_JOURNAL_VERDICT_H
#define SIGLOG_JOURNAL_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

typedef struct journal_verdict journal_verdict;

/* One valid entry of the current generation. */
typedef struct journal_item {
    uint64_t pos;
    uint32_t stream_id;
    uint32_t partition;
    uint64_t base_offset; /* of its first batch */
} journal_item;

/* One damaged entry. */
typedef struct journal_damage {
    uint64_t pos;
    uint64_t next;        /* the valid entry that follows it */
    int known;            /* header intact: stream_id and partition hold */
    uint32_t stream_id;
    uint32_t partition;
    int acknowledged;     /* proven part of an acknowledged commit */
} journal_damage;

/* Scan j (sl_journal_replay) and judge. */
int sl_journal_verdict_build(journal *j, journal_verdict **out);
void sl_journal_verdict_free(journal_verdict *v);

/* The valid entries, in journal order. */
size_t sl_journal_verdict_items(const journal_verdict *v, const journal_item **items);
/* The damaged entries, in journal order. */
size_t sl_journal_verdict_damages(const journal_verdict *v, const journal_damage **damages);
/* The journal file's path (for messages). */
const char *sl_journal_verdict_path(const journal_verdict *v);
/* One line saying what damage d is and what it means, into buf (without
 * the file: see sl_journal_verdict_path). */
void sl_journal_verdict_describe(const journal_verdict *v, const journal_damage *d, char *buf, size_t n);

/* SIGLOG_ECORRUPT (with the detail) when the damage makes every
 * partition's journal commits untrustworthy (an acknowledged entry whose
 * header is damaged), else 0. */
int sl_journal_verdict_fatal(const journal_verdict *v);
/* The first acknowledged damage of (stream_id, partition), or NULL. */
const journal_damage *sl_journal_verdict_failing(const journal_verdict *v, uint32_t stream_id, uint32_t partition);
/* Whether the valid item may be applied (it is not after a damage that
 * fails its partition). */
int sl_journal_verdict_applies(const journal_verdict *v, const journal_item *item);

#endif
