/*
 * schema_usage_tally — whether a partition's schema usage figures still
 * describe its log after maintenance rewrote it: the figures remember
 * how many records the catalog's sealed entries held below tally_end
 * when they were saved (schema_usage.h); a key compaction or an accepted
 * loss (records dropped), a purge (entries removed) or a restore
 * (entries added) changes that number, a merge does not (the same
 * records in fewer entries). An entry that now straddles tally_end (a
 * merge across it) cannot be split by the catalog: the figures count as
 * stale then too, which costs a recount, never a wrong figure.
 */
#ifndef SIGLOG_SCHEMA_USAGE_TALLY_H
#define SIGLOG_SCHEMA_USAGE_TALLY_H

#include "catalog.h"
#include "schema_usage.h"

/* Move u's tally up to what s lists below u->covered (the sealed
 * entries from the first that end at or below it, their end and
 * records), unless s changed what u tallied: then u's figures are stale
 * and keep the tally that says so. Called where the figures were just
 * counted or saved, with the catalog they were counted against. */
void sl_schema_usage_tally_advance(schema_usage *u, const catalog_snapshot *s);

/* 1 when s no longer lists u->tally_events records below u->tally_end. */
int sl_schema_usage_tally_changed(const schema_usage *u, const catalog_snapshot *s);

#endif
