/*
 * catalog_listing — a partition's segment list told from its directory
 * where no version 2 catalog.ckpt names it (catalog_listing.c says which
 * stems are the log and why; FORMAT.md, "Rebuilding a lost catalog").
 * Only the catalog module calls it (catalog.h: nothing else lists a
 * partition directory to learn which segments exist).
 */
#ifndef SIGLOG_CATALOG_LISTING_H
#define SIGLOG_CATALOG_LISTING_H

#include <stddef.h>

#include "catalog.h"

/* The entries of dir's segment files in offset order, *out malloc'd: one
 * per base, of the newest generation stem found, none whose offsets
 * newer entries hold; location the stem found; each sealed but the last
 * (active, end at its base); a ".j<G>" stem only for G <= j_above (the
 * floor file's generation; UINT64_MAX without one). Sealed entries end at the next base when
 * every stem is a plain name, else at their own figures' end (read from
 * the segment). SIGLOG_ECORRUPT naming both files when two overlap
 * without one holding the other; an error reading a segment's figures
 * names it. Writes nothing. */
int sl_catalog_listing_entries(const siglog_io *io, const char *dir, uint64_t j_above, catalog_segment **out,
                               size_t *count);

#endif
