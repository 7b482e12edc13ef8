/*
 * schema_usage_tally — see schema_usage_tally.h.
 */
#include "schema_usage_tally.h"

int sl_schema_usage_tally_changed(const schema_usage *u, const catalog_snapshot *s)
{
    uint64_t events = 0;
    for (size_t i = 0; i < sl_catalog_snapshot_count(s); i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->base_offset >= u->tally_end)
            break;
        if (e->end_offset > u->tally_end)
            return 1;
        events += e->record_count;
    }
    return events != u->tally_events;
}

void sl_schema_usage_tally_advance(schema_usage *u, const catalog_snapshot *s)
{
    if (sl_schema_usage_tally_changed(u, s))
        return;
    uint64_t end = sl_catalog_snapshot_bounds(s)->log_start_offset, events = 0;
    for (size_t i = 0; i < sl_catalog_snapshot_count(s); i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(s, i);
        if (e->state != CATALOG_SEG_SEALED || e->end_offset > u->covered)
            break;
        end = e->end_offset;
        events += e->record_count;
    }
    u->tally_end = end < u->covered ? end : u->covered;
    u->tally_events = events;
}
