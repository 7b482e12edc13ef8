/*
 * quarantine — moving a damaged segment aside, for verify --repair
 * --quarantine (FORMAT.md §15, "Quarantine").
 *
 * Damage that recovery may not cut (vouched bytes, or valid batches after
 * an invalid one) is never thrown away. Only when the operator asks, its
 * segment is moved whole into STORE/quarantine/, under the path it had
 * relative to the store with ".<unix seconds>" appended: the .seg and
 * whichever of its .oix, .tix and .sum exist, each by one rename inside
 * the store (atomic: a crash leaves each file at its old or its new name,
 * never neither), the directories fsynced so the move is durable. Its
 * offsets are then missing from the log: the partition's checkpoint names
 * them as missing, so readers and writers report them and never continue
 * past them silently.
 */
#ifndef SIGLOG_QUARANTINE_H
#define SIGLOG_QUARANTINE_H

#include <stdint.h>

#include "io.h"

#define QUARANTINE_DIR "quarantine"

/* moved(ctx, from, to) after each file's move is durable. Returns 0, or a
 * SIGLOG code with the detail set (files already moved stay moved and
 * were reported). dir_mode: for the directories it creates. */
int sl_quarantine_segment(const siglog_io *io, const char *store, const char *dir, uint64_t base, uint32_t dir_mode,
                       int64_t now_s, void (*moved)(void *ctx, const char *from, const char *to), void *ctx);

#endif
