#include "audit_ranges.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "error.h"

struct audit_range {
    char stream[SIGLOG_NAME_MAX + 1];
    uint32_t partition;
    uint64_t from, to; /* [from, to), from < to */
};

/* Actions that take offsets out of a partition's log. */
static int removes_offsets(uint16_t action)
{
    return action == AUDIT_LOSS || action == AUDIT_PURGE || action == AUDIT_COMPACT || action == AUDIT_FORGET;
}

static int add_record(void *ctx, const audit_record *r)
{
    audit_ranges *out = ctx;
    if (!removes_offsets(r->action) || r->partition == AUDIT_NO_PARTITION || r->offset_start >= r->offset_end)
        return 0;
    audit_range *items = realloc(out->items, (out->count + 1) * sizeof *items);
    if (!items)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    out->items = items;
    audit_range *a = &items[out->count++];
    memcpy(a->stream, r->stream, sizeof a->stream);
    a->partition = r->partition;
    a->from = r->offset_start;
    a->to = r->offset_end;
    return 0;
}

int sl_audit_ranges_load(const siglog_io *io, const char *store_dir, uint64_t store_id, audit_ranges *out)
{
    memset(out, 0, sizeof *out);
    audit_trail t = {.io = io, .dir = store_dir, .store_id = store_id};
    audit_result res;
    int rc = sl_audit_read(&t, add_record, out, &res);
    if (rc)
        sl_audit_ranges_free(out);
    return rc;
}

void sl_audit_ranges_free(audit_ranges *r)
{
    free(r->items);
    memset(r, 0, sizeof *r);
}

int sl_audit_ranges_cover(const audit_ranges *r, const char *stream, uint32_t partition, uint64_t from, uint64_t to)
{
    /* Each pass moves `from` past one range that holds it; a pass that
     * finds none ends it. Trails are short: quadratic is fine. */
    for (int moved = 1; from < to && moved;) {
        moved = 0;
        for (size_t i = 0; i < r->count && from < to; i++) {
            const audit_range *a = &r->items[i];
            if (a->partition == partition && a->from <= from && from < a->to && strcmp(a->stream, stream) == 0) {
                from = a->to;
                moved = 1;
            }
        }
    }
    return from >= to;
}
