#include "catalog_loss.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_floor.h"
#include "error.h"
#include "siglog.h"

void sl_catalog_loss_plan_free(catalog_loss_plan *p)
{
    sl_catalog_snapshot_release(p->snap);
    free(p->runs);
    memset(p, 0, sizeof *p);
}

/* Adds the lost run [from, to) to the plan; first and count name the
 * entries of the plan's snapshot it takes with it. */
static int plan_run(catalog_loss_plan *out, uint64_t from, uint64_t to, size_t first, size_t count)
{
    catalog_lost_run *r = realloc(out->runs, (out->run_count + 1) * sizeof *r);
    if (!r)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    out->runs = r;
    out->runs[out->run_count++] = (catalog_lost_run){.from = from, .to = to, .first = first, .count = count};
    return 0;
}

/* A partition without its catalog.ckpt: the log is what is found. The
 * offsets below its first base are lost, from the floor file's log start
 * (below it retention removed them), or from 0 without one. Where the
 * floor file says the log went past the end of the last segment found
 * (the newest went with the file), the end is lost too: offsets from
 * that end to the floor, and the log goes on at the floor in a new active
 * segment, so no offset it handed out is handed out again. */
static int plan_rebuild(catalog *c, const catalog_snapshot *s, const segment_params *sp, catalog_loss_plan *out)
{
    out->rebuild = 1;
    size_t n = sl_catalog_snapshot_count(s);
    uint64_t first = sl_catalog_snapshot_segment(s, 0)->base_offset;
    catalog_checkpoint f;
    int has_floor = sl_catalog_snapshot_floor(s, &f);
    uint64_t from = !has_floor ? 0 : f.log_start_offset < first ? f.log_start_offset : first;
    int rc = from < first ? plan_run(out, from, first, 0, 0) : 0;
    if (rc || !has_floor || f.next_offset_floor <= sl_catalog_snapshot_segment(s, n - 1)->base_offset)
        return rc;
    catalog_segment last = *sl_catalog_snapshot_segment(s, n - 1);
    if ((rc = sl_catalog_read_figures(sl_catalog_io(c), sl_catalog_dir(c), sp, &last)) != 0)
        return rc;
    if (last.end_offset >= f.next_offset_floor)
        return 0;
    out->end_lost = 1;
    out->new_active_base = f.next_offset_floor;
    return plan_run(out, last.end_offset, f.next_offset_floor, n, 0);
}

/* A partition with no file and no segment whose floor file says offsets
 * were handed out (its directory went whole: verify made it again, or an
 * earlier accept of it was cut short): *planned 1 and the plan loses the
 * end, all of it, from the floor file's log start to its floor, where
 * the log goes on. */
static int plan_recreate(const catalog_snapshot *s, catalog_loss_plan *out, int *planned)
{
    *planned = 0;
    catalog_checkpoint b;
    if (!sl_catalog_snapshot_floor(s, &b) || b.next_offset_floor == 0)
        return 0;
    out->end_lost = 1;
    out->recreated = 1;
    out->new_active_base = b.next_offset_floor;
    *planned = 1;
    return plan_run(out, b.log_start_offset, b.next_offset_floor, 0, 0);
}

int sl_catalog_loss_plan(catalog *c, const segment_params *sp, catalog_loss_plan *out)
{
    memset(out, 0, sizeof *out);
    catalog_snapshot *s = out->snap = sl_catalog_snapshot_get(c);
    if (!sl_catalog_snapshot_found(s) && sl_catalog_snapshot_count(s) == 0) {
        int planned, rc = plan_recreate(s, out, &planned);
        if (rc || planned)
            return rc;
    }
    if (!sl_catalog_snapshot_found(s) && sl_catalog_check_required(sl_catalog_dir(c), s) != 0) {
        sl_err_clear();
        return plan_rebuild(c, s, sp, out);
    }
    if (!sl_catalog_persisted(c))
        return sl_err_set(SIGLOG_EVERSION,
                          "%s: its %s is not version 2, so it names no segments and a loss cannot be told from "
                          "what never was: restore the files (a writer's open then upgrades it)",
                          sl_catalog_dir(c), CATALOG_FILE);
    size_t n = sl_catalog_snapshot_count(s);
    if (n == 0)
        return 0;
    const catalog_segment *last = sl_catalog_snapshot_segment(s, n - 1);
    /* Where the log goes on should its end be lost: past every offset the
     * catalog knows was handed out. */
    uint64_t floor = sl_catalog_snapshot_bounds(s)->next_offset_floor;
    out->new_active_base = last->end_offset > floor ? last->end_offset : floor;
    for (size_t i = 0; i < n;) {
        size_t after = i + 1;
        int rc = sl_catalog_missing_run(sl_catalog_io(c), sl_catalog_dir(c), s, i, &after);
        if (rc == 0) {
            i++;
            continue;
        }
        if (rc != SIGLOG_ECORRUPT)
            return rc;
        rc = plan_run(out, sl_catalog_snapshot_segment(s, i)->base_offset,
                      after < n ? sl_catalog_snapshot_segment(s, after)->base_offset : out->new_active_base, i,
                      after - i);
        if (rc)
            return rc;
        out->end_lost = after == n;
        i = after;
    }
    sl_err_clear();
    return 0;
}

void sl_catalog_loss_plan_journal(catalog_loss_plan *p, uint64_t from, uint64_t end)
{
    if (!p->end_lost || from >= end)
        return;
    /* Ending below where the log would go on, the journal's batches
     * cannot continue it (offsets between them and it were handed out and
     * are nowhere): they are lost with the segments, and the log goes on
     * past them as it would. */
    if (end < p->new_active_base)
        return;
    catalog_lost_run *run = &p->runs[p->run_count - 1];
    p->new_active_base = from > run->from ? from : run->from;
    run->to = p->new_active_base;
}

/* Whether entry i of the plan's snapshot is lost. */
static int planned_lost(const catalog_loss_plan *p, size_t i)
{
    for (size_t r = 0; r < p->run_count; r++)
        if (i >= p->runs[r].first && i < p->runs[r].first + p->runs[r].count)
            return 1;
    return 0;
}

/* What the accept commits: the plan, and when the end is lost the new
 * active segment's stem and end. */
typedef struct accept_change {
    catalog *c;
    const catalog_loss_plan *plan;
    const segment_params *sp;
    char location[CATALOG_LOCATION_MAX + 1];
    uint64_t end;
} accept_change;

/* The snapshot keeps its first `kept` entries and, when the plan loses
 * the end, goes on in the new active entry after them; the log starts at
 * the first. */
static int go_on(catalog_snapshot *s, size_t kept, const accept_change *a)
{
    const catalog_loss_plan *p = a->plan;
    catalog_checkpoint *b = sl_catalog_edit_bounds(s);
    catalog_segment *segs = sl_catalog_edit_resize(s, kept + (p->end_lost ? 1 : 0));
    if (!segs)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if (p->end_lost) {
        /* Its counts are lower bounds, as any active entry's; its end is
         * durable (synced), so the floor may go up to it. */
        catalog_segment *e = &segs[kept++];
        *e = (catalog_segment){.base_offset = p->new_active_base, .end_offset = a->end,
                               .max_timestamp_us = INT64_MIN, .tier = CATALOG_TIER_HOT,
                               .state = CATALOG_SEG_ACTIVE};
        memcpy(e->location, a->location, sizeof e->location);
        if (b->next_offset_floor < a->end)
            b->next_offset_floor = a->end;
    }
    b->log_start_offset = segs[0].base_offset;
    return 0;
}

static int change_accept(catalog_snapshot *s, void *arg)
{
    const accept_change *a = arg;
    const catalog_loss_plan *p = a->plan;
    if (sl_catalog_snapshot_generation(s) != sl_catalog_snapshot_generation(p->snap))
        return sl_err_set(SIGLOG_ELOCKED,
                          "the catalog changed since the loss was planned (generation %" PRIu64 ", now %" PRIu64
                          "): nothing was recorded; run it again",
                          sl_catalog_snapshot_generation(p->snap), sl_catalog_snapshot_generation(s));
    size_t n, kept = 0;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    for (size_t i = 0; i < n; i++)
        if (!planned_lost(p, i))
            segs[kept++] = segs[i];
    /* kept < n: at least one entry is lost, so go_on does not grow it,
     * except for a recreated partition's first entry (room is there). */
    return go_on(s, kept, a);
}

/* A rebuild that loses the end: every entry found is sealed with its
 * figures (the last one was the active one, or the newest are gone), and
 * the log goes on in the new active entry. */
static int change_rebuild_end(catalog_snapshot *s, void *arg)
{
    const accept_change *a = arg;
    size_t n;
    catalog_segment *segs = sl_catalog_edit_segments(s, &n);
    for (size_t i = 0; i < n; i++) {
        segs[i].state = CATALOG_SEG_SEALED;
        int rc = sl_catalog_read_figures(sl_catalog_io(a->c), sl_catalog_dir(a->c), a->sp, &segs[i]);
        if (rc)
            return rc;
    }
    return go_on(s, n, a);
}

/* The new active segment of a plan that loses the end: created under
 * a->location (an interrupted earlier accept at this generation left its
 * files: they go first), filled, synced, the directory synced. */
static int create_active(catalog *c, const catalog_loss_plan *p, const segment_params *sp, catalog_loss_fill_fn fill,
                         void *fill_ctx, accept_change *a)
{
    const siglog_io *io = sl_catalog_io(c);
    const char *dir = sl_catalog_dir(c);
    snprintf(a->location, sizeof a->location, "%020" PRIu64 ".j%" PRIu64, p->new_active_base,
             sl_catalog_snapshot_generation(p->snap) + 1);
    /* An empty segment an interrupted roll left past the last entry goes
     * too: the catalog is about to name what follows it. */
    int rc = sl_catalog_unlink_segment(c, a->location);
    if (!rc)
        rc = sl_catalog_drop_unnamed_tail(c);
    segment *seg = NULL;
    if (!rc)
        rc = sl_segment_create_fresh(io, dir, a->location, p->new_active_base, sp, &seg);
    if (!rc && fill)
        rc = fill(fill_ctx, seg);
    if (!rc)
        rc = sl_segment_sync(seg);
    a->end = seg ? sl_segment_next_offset(seg) : p->new_active_base;
    sl_segment_close(seg);
    if (rc)
        return rc;
    int r = io->sync_dir(io, dir);
    return r < 0 ? sl_err_errno(r, "fsync of directory %s failed", dir) : 0;
}

/* The catalog of a rebuild plan written as version 2 from its listing:
 * the segments found, each sealed one with its figures; when the plan
 * loses the end, all of them sealed and the new active segment after. */
static int accept_rebuild(catalog *c, const catalog_loss_plan *p, const segment_params *sp, catalog_loss_fill_fn fill,
                          void *fill_ctx)
{
    size_t n = sl_catalog_snapshot_count(p->snap);
    uint64_t *bases = malloc(n * sizeof *bases);
    if (!bases)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        bases[i] = sl_catalog_snapshot_segment(p->snap, i)->base_offset;
    int rc = sl_catalog_match_segments(c, bases, n);
    free(bases);
    if (rc || !p->end_lost)
        return rc ? rc : sl_catalog_fill_figures(c, sp);
    accept_change a = {.c = c, .plan = p, .sp = sp};
    rc = create_active(c, p, sp, fill, fill_ctx, &a);
    return rc ? rc : sl_catalog_update(c, change_rebuild_end, &a);
}

int sl_catalog_loss_accept(catalog *c, const catalog_loss_plan *p, const segment_params *sp, catalog_loss_fill_fn fill,
                           void *fill_ctx)
{
    if (p->rebuild)
        return accept_rebuild(c, p, sp, fill, fill_ctx);
    if (p->run_count == 0)
        return 0;
    accept_change a = {.c = c, .plan = p, .sp = sp};
    int rc = p->end_lost ? create_active(c, p, sp, fill, fill_ctx, &a) : 0;
    return rc ? rc : sl_catalog_update(c, change_accept, &a);
}
