/*
 * verify — siglog_verify: check every byte of a store that a reader would
 * trust, and with repair mend what recovery is allowed to mend.
 *
 * The check is read-only and takes no lock, so it runs beside a writer
 * (the active segment's tail may then be seen mid-write and reported as a
 * torn tail; run it on a quiet store for a verdict). Problems are told
 * apart as recovery tells them (format-spec/FORMAT.md, "Recovery"): an
 * incomplete or invalid last batch of a partition's last segment is a torn
 * tail (repairable: cut); an invalid batch anywhere else, a hole between
 * segments or offsets out of order is damage (reported, never cut);
 * an index entry that names no batch, or the wrong prefix time, is an
 * index problem (repairable: rebuilt from the segment). The journal: both
 * header slots, every live entry (damage judged as recovery judges it,
 * journal_verdict.h), and commits only the journal holds (recovery has
 * work to do; repairable: a writer's open applies them).
 *
 * Repair = open the store as its writer (which cuts torn tails and repairs
 * the active segments' indexes), rebuild the other bad indexes under that
 * lock, then check again: what the second pass still finds is returned.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io_root.h"
#include "journal.h"
#include "journal_verdict.h"
#include "quarantine.h"
#include "names.h"
#include "options_io.h"
#include "segment.h"
#include "store.h"
#include "audit.h"
#include "audit_ranges.h"
#include "catalog.h"
#include "catalog_floor.h"
#include "catalog_loss.h"
#include "cold.h"
#include "maintenance.h"
#include "stream.h"

/* Progress is reported at most every this many bytes. */
#define PROGRESS_STEP (4u << 20)

typedef struct batch_pos {
    uint64_t pos;
    uint64_t base_offset;
    int64_t prefix_max_ts; /* over the records before this batch */
    uint64_t body_checksum;
} batch_pos;

/* A segment that needs work: its indexes rebuilt, or moved aside. */
typedef struct bad_index {
    char *dir;
    uint64_t base;
    segment_params params;
    int active;           /* the partition's last segment */
} bad_index;

typedef struct bad_list {
    bad_index *items;
    size_t count;
} bad_list;

/* Partitions with orphan archives in cold_dir, for repair to remove. */
typedef struct orphan_part {
    char stream[SIGLOG_NAME_MAX + 1];
    uint32_t part;
} orphan_part;

typedef struct orphan_list {
    orphan_part *items;
    size_t count;
} orphan_list;

typedef struct verifier {
    const siglog_io *io;
    const siglog_io *backend; /* unjailed: cold_dir lies outside the store */
    uint64_t store_id;        /* names the cold tier's archives */
    const siglog_verify_callbacks *cb;
    siglog_verify_stats st;
    uint64_t total, done, reported;
    bad_list bad;         /* segments whose indexes need a rebuild */
    bad_list damaged;     /* segments with damage repair may not cut */
    orphan_list orphans;  /* partitions with orphan archives */
    audit_ranges audit;   /* offsets the audit trail says are gone */
    char audit_error[256]; /* why it could not be read ("" when it was) */
    batch_pos *batches;   /* of the segment being checked, reused */
    size_t batch_cap;
    bytebuf body, scratch;
} verifier;

static void problem(verifier *v, const char *file, uint64_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(verifier *v, const char *file, uint64_t pos, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    v->st.problems++;
    if (v->cb && v->cb->problem)
        v->cb->problem(v->cb->ctx, file, pos, what);
}

static void progress(verifier *v, uint64_t bytes)
{
    v->done += bytes;
    if (v->cb && v->cb->progress && (v->done - v->reported >= PROGRESS_STEP || v->done == v->total)) {
        v->reported = v->done;
        v->cb->progress(v->cb->ctx, v->done, v->total);
    }
}

static int remember_batch(verifier *v, size_t n, const batch_header *h, uint64_t pos, int64_t prefix_max)
{
    if (n == v->batch_cap) {
        size_t cap = v->batch_cap ? v->batch_cap * 2 : 1024;
        batch_pos *b = realloc(v->batches, cap * sizeof *b);
        if (!b)
            return sl_err_set(SIGLOG_ENOMEM, "out of memory");
        v->batches = b;
        v->batch_cap = cap;
    }
    v->batches[n] = (batch_pos){pos, h->base_offset, prefix_max, h->body_checksum};
    return 0;
}

/* The batch at file position `key` (by_offset 0) or starting at offset
 * `key` (by_offset 1). The batches are the valid prefix in file order, so
 * both keys increase along the array. */
static const batch_pos *find_batch(const verifier *v, size_t n, uint64_t key, int by_offset)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((by_offset ? v->batches[mid].base_offset : v->batches[mid].pos) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n || (by_offset ? v->batches[lo].base_offset : v->batches[lo].pos) != key)
        return NULL;
    return &v->batches[lo];
}

static int note_bad(bad_list *l, const char *dir, uint64_t base, const segment_params *p, int active)
{
    bad_index *b = realloc(l->items, (l->count + 1) * sizeof *b);
    if (!b)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    l->items = b;
    char *d = strdup(dir);
    if (!d)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    l->items[l->count++] = (bad_index){d, base, *p, active};
    return 0;
}

static void bad_list_free(bad_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].dir);
    free(l->items);
}

/* Every entry of both indexes must name a batch of the segment. In a
 * segment with a torn tail or damage only the entries of the valid prefix
 * (offsets below valid_end) are judged: the rest go with the tail's repair
 * or the damage report. */
static int check_indexes(verifier *v, const char *dir, const char *stem, uint64_t base, size_t nbatches,
                         uint64_t valid_end, int intact, const segment_params *p, int active)
{
    static const struct {
        const char *ext;
        int kind;
    } files[] = {{".oix", INDEX_KIND_OFFSET}, {".tix", INDEX_KIND_TIME}};
    int bad = 0;
    for (int f = 0; f < 2; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s%s", dir, stem, files[f].ext);
        index_file *ix;
        v->st.files++;
        int rc = sl_index_open(v->io, path, files[f].kind, base, 0, IO_READ, 0, &ix);
        if (rc == SIGLOG_ENOMEM)
            return rc;
        if (rc) {
            /* An index is derived from its segment: a zeroed one (a
             * power cut took its unsynced pages) costs seeks a scan,
             * never an event. Said so, not reported as damage. */
            problem(v, path, UINT64_MAX,
                    "unusable index, derived from the segment (no event is lost: reads scan the segment; "
                    "rebuilt by repair): %s",
                    siglog_errdetail());
            bad = 1;
            continue;
        }
        for (uint32_t i = 0; i < sl_index_count(ix) && !bad; i++) {
            uint32_t rel, position = 0;
            int64_t ts = 0;
            if (files[f].kind == INDEX_KIND_OFFSET)
                sl_index_entry_offset(ix, i, &rel, &position);
            else
                sl_index_entry_time(ix, i, &ts, &rel);
            if (base + rel >= valid_end && !intact)
                break;
            const batch_pos *b = files[f].kind == INDEX_KIND_TIME ? find_batch(v, nbatches, base + rel, 1)
                                                                  : find_batch(v, nbatches, position, 0);
            if (!b || b->base_offset != base + rel ||
                (files[f].kind == INDEX_KIND_TIME &&
                 (b->prefix_max_ts != ts || !sl_index_entry_time_matches(ix, i, b->body_checksum)))) {
                problem(v, path, INDEX_HEADER_BYTES + (uint64_t)i * (f ? INDEX_TIME_ENTRY_BYTES : INDEX_OFFSET_ENTRY_BYTES),
                        "index entry %u (relative offset %u) names no batch of the segment as it is%s", i, rel,
                        active ? " (a crash before recovery leaves this)" : "");
                bad = 1;
            }
        }
        sl_index_close(ix);
    }
    return bad ? note_bad(&v->bad, dir, base, p, active) : 0;
}

/* What a segment holds, as its catalog entry states it (catalog.h). */
typedef struct seg_figures {
    uint64_t end_offset, record_count, bytes, summary_checksum;
    int64_t first_ts, max_ts;
    int intact; /* read whole without damage or torn tail */
} seg_figures;

/* Check one segment, whose files are named by stem. *next_offset: in,
 * the offset it must start at (or UINT64_MAX when nothing says); out,
 * one past its last valid record. *fig: what it holds. */
static int check_segment(verifier *v, const char *dir, const char *stem, uint64_t base, int last,
                         const segment_params *p, uint64_t *next_offset, seg_figures *fig)
{
    segment *s;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.seg", dir, stem);
    v->st.files++;
    *fig = (seg_figures){.first_ts = 0, .max_ts = INT64_MIN};
    int rc = sl_segment_open_at(v->io, dir, stem, base, 0, p, &s);
    if (rc == SIGLOG_ENOENT || rc == SIGLOG_ECORRUPT) {
        problem(v, path, UINT64_MAX, "cannot open: %s", siglog_errdetail());
        *next_offset = UINT64_MAX;
        return 0;
    }
    if (rc)
        return rc;
    if (*next_offset != UINT64_MAX && base != *next_offset) {
        if (base > *next_offset)
            problem(v, path, UINT64_MAX, "offsets %" PRIu64 "..%" PRIu64 " are missing: no segment holds them",
                    *next_offset, base - 1);
        else
            problem(v, path, UINT64_MAX, "segment starts at offset %" PRIu64 ", inside the previous one (ends at %" PRIu64 ")",
                    base, *next_offset);
    }
    uint64_t records_before = v->st.records;
    uint64_t size = sl_segment_size(s), pos = 0, expect = base;
    int64_t prefix_max = INT64_MIN;
    int damaged = 0;
    size_t n = 0;
    while (pos < size) {
        batch_header h;
        int r = sl_segment_read_batch(s, pos, size, &h, &v->body);
        if (r < 0 && r != SIGLOG_ECORRUPT && r != SIGLOG_EVERSION) {
            rc = r;
            break;
        }
        if (r == 1 && h.base_offset != expect) {
            problem(v, path, pos, "batch holds offset %" PRIu64 ", expected %" PRIu64, h.base_offset, expect);
            damaged = 1;
            break;
        }
        if (r == 1) {
            batch_iter it;
            siglog_record rec;
            int d = sl_batch_iter_init(&it, &h, v->body.data, &v->scratch);
            if (!d)
                while ((d = sl_batch_iter_next(&it, &rec)) == 1)
                    v->st.records++;
            if (d < 0) {
                problem(v, path, pos, "record does not decode: %s", siglog_errdetail());
                damaged = 1;
                break;
            }
            if ((rc = remember_batch(v, n++, &h, pos, prefix_max)) != 0)
                break;
            if (n == 1)
                fig->first_ts = h.first_timestamp_us;
            if (h.max_timestamp_us > prefix_max)
                prefix_max = h.max_timestamp_us;
            v->st.batches++;
            uint64_t len = BATCH_HEADER_BYTES + (uint64_t)h.body_len;
            pos += len;
            expect = batch_end_offset(&h);
            progress(v, len);
            continue;
        }
        /* Invalid (r < 0) or incomplete (r == 0) batch at pos. Keep the
         * reason: the tail scan below sets details of its own. */
        char why[400];
        snprintf(why, sizeof why, "%s", r < 0 ? siglog_errdetail() : "incomplete batch");
        segment_tail t = {0};
        int scanned = last && sl_segment_scan_tail(s, &t) == 0;
        /* Only an unvouched tail is torn. */
        int torn = scanned && !t.damaged && !t.vouched_damage && t.valid_bytes == pos;
        damaged = !torn;
        if (torn)
            problem(v, path, pos, "torn tail: %" PRIu64 " bytes after the last valid batch (cut by repair)",
                    size - pos);
        else
            problem(v, path, pos, "%s%s", why,
                    scanned && t.vouched_damage ? " inside the bytes its summary vouches for: damage, not cut by repair"
                    : last ? " followed by valid data: damage inside the log, not cut by repair"
                           : " in a sealed segment: damage, not cut by repair");
        if (!torn)
            rc = note_bad(&v->damaged, dir, base, p, last);
        break;
    }
    progress(v, size > pos ? size - pos : 0);
    v->st.bytes += pos;
    fig->end_offset = expect;
    fig->record_count = v->st.records - records_before;
    fig->bytes = size;
    fig->max_ts = prefix_max;
    fig->summary_checksum = sl_segment_summary_checksum(s);
    fig->intact = pos == size && !damaged;
    if (!rc)
        rc = check_indexes(v, dir, stem, base, n, expect, pos == size, p, last);
    sl_segment_close(s);
    /* After damage, where the next segment must start is unknown. */
    *next_offset = damaged ? UINT64_MAX : expect;
    return rc;
}

/* A sealed entry's figures against what its segment holds. All zero:
 * an entry a version 1 catalog was upgraded to before figures were
 * filled in at the upgrade: unknown, not checked. */
static void check_figures(verifier *v, const char *dir, const catalog_segment *e, const seg_figures *f)
{
    if (e->record_count == 0 && e->bytes == 0 && e->summary_checksum == 0 && f->bytes != 0)
        return;
    char what[512];
    size_t n = 0;
#define FIGURE_(name, fmt, want, got)                                                                       \
    if ((want) != (got) && n < sizeof what)                                                                 \
        n += (size_t)snprintf(what + n, sizeof what - n, "%s%s %" fmt " (the segment: %" fmt ")", n ? ", " : "", \
                              name, want, got);
    FIGURE_("end offset", PRIu64, e->end_offset, f->end_offset)
    FIGURE_("record count", PRIu64, e->record_count, f->record_count)
    FIGURE_("bytes", PRIu64, e->bytes, f->bytes)
    FIGURE_("first time", PRId64, e->first_timestamp_us, f->first_ts)
    FIGURE_("max time", PRId64, e->max_timestamp_us, f->max_ts)
    FIGURE_("summary checksum", PRIx64, e->summary_checksum, f->summary_checksum)
#undef FIGURE_
    if (n)
        problem(v, dir, UINT64_MAX, "%s: its catalog entry says %s", e->location, what);
}

/* Whether name is one of a segment's files ("<location>.seg|.oix|.tix|
 * .sum"): its stem into stem. */
static int segment_file_stem(const char *name, char stem[CATALOG_LOCATION_MAX + 1], int *is_seg)
{
    const char *dot = strrchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : 0;
    if (!dot || len > CATALOG_LOCATION_MAX || len < 20 ||
        (strcmp(dot, ".seg") && strcmp(dot, ".oix") && strcmp(dot, ".tix") && strcmp(dot, ".sum")))
        return 0;
    memcpy(stem, name, len);
    stem[len] = 0;
    uint64_t base = 0;
    for (size_t i = 0; i < 20; i++) {
        if (stem[i] < '0' || stem[i] > '9' || base > (UINT64_MAX - 9) / 10)
            return 0;
        base = base * 10 + (uint64_t)(stem[i] - '0');
    }
    *is_seg = strcmp(dot, ".seg") == 0;
    return sl_catalog_location_valid(stem, base);
}

/* Segment files a version 2 catalog does not name: the one listing of the
 * directory verify makes, to report them (nothing reads them). An empty
 * .seg past the last entry (and its indexes) is what a roll that crashed
 * before its catalog write leaves: the next writer's open removes it, so
 * it is no problem. */
static int report_strays(verifier *v, const char *dir, const catalog_snapshot *cs)
{
    io_dirent_list l = {0};
    int r = v->io->list_dir(v->io, dir, &l);
    if (r < 0)
        return r == -ENOENT ? 0 : sl_err_errno(r, "listing %s", dir);
    size_t n = sl_catalog_snapshot_count(cs);
    uint64_t last_base = n ? sl_catalog_snapshot_segment(cs, n - 1)->base_offset : 0;
    for (size_t i = 0; i < l.count; i++) {
        char stem[CATALOG_LOCATION_MAX + 1], seg[4200];
        int is_seg, named = 0;
        if (!segment_file_stem(l.names[i], stem, &is_seg))
            continue;
        for (size_t k = 0; k < n && !named; k++)
            named = strcmp(sl_catalog_snapshot_segment(cs, k)->location, stem) == 0;
        if (named)
            continue;
        snprintf(seg, sizeof seg, "%s/%s.seg", dir, stem);
        int is_dir;
        uint64_t size = 1, base = strtoull(stem, NULL, 10);
        if (strlen(stem) == 20 && base > last_base && v->io->stat_path(v->io, seg, &is_dir, &size) == 0 && size == 0)
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, l.names[i]);
        problem(v, path, UINT64_MAX, "a segment file its %s does not name: nothing reads it (left by hand or by an "
                "interrupted rewrite)", CATALOG_FILE);
    }
    sl_io_dirent_list_free(&l);
    return 0;
}

/* A partition whose catalog cannot be read: the segments listed are still
 * checked, so that their own damage is reported too. */
static int check_listed(verifier *v, const char *dir, const segment_params *p)
{
    uint64_t *bases = NULL;
    size_t n = 0;
    int rc = sl_catalog_list_segments(v->io, dir, &bases, &n);
    if (rc == SIGLOG_ENOENT)
        return 0;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < n && !rc; i++) {
        char stem[SEGMENT_STEM_MAX + 1];
        seg_figures f;
        sl_segment_stem(stem, bases[i]);
        rc = check_segment(v, dir, stem, bases[i], i + 1 == n, p, &next, &f);
    }
    free(bases);
    return rc;
}

/* A hole between the catalog entries before and after: the offsets of a
 * recorded loss, which the audit trail must account for (its record is
 * appended before the catalog changes, audit_ranges.h); without one it
 * is damage (someone edited the catalog, or the trail lost records). */
static void check_hole(verifier *v, const char *dir, const char *stream, uint32_t part, const catalog_segment *before,
                       const catalog_segment *after)
{
    if (sl_audit_ranges_cover(&v->audit, stream, part, before->end_offset, after->base_offset))
        return;
    char file[4200];
    snprintf(file, sizeof file, "%s/%s", dir, CATALOG_FILE);
    problem(v, file, UINT64_MAX,
            "offsets %" PRIu64 "..%" PRIu64 " between %s.seg and %s.seg are missing, and no record of the audit "
            "trail (loss, purge, compact or forget of stream '%s' partition %" PRIu32 ") accounts for them%s%s",
            before->end_offset, after->base_offset - 1, before->location, after->location, stream, part,
            v->audit_error[0] ? ": " : "", v->audit_error);
}

/* One partition through its catalog (FORMAT.md section 5): every entry's
 * segment checked in order, each sealed entry's figures against its
 * segment, the offsets tiling but for losses the catalog records (each
 * accounted for by the audit trail), the
 * log's end against the floor. A version 1 catalog or none: what the
 * catalog module lists, against the version 1 bounds; none where
 * catalog_required (a version 2 stream) and the partition holds more
 * than a fresh one is a problem, and its segments are checked as listed. */
/* Cold entry e: its archive in cold_dir, checked whole and against the
 * entry (cold_read.c), starting where the log before it ends. */
static void check_cold(verifier *v, const char *dir, const char *stream, uint32_t part,
                       const siglog_stream_config *c, const catalog_segment *e, uint64_t *next)
{
    char name[COLD_NAME_MAX + 1], path[4096];
    sl_cold_entry_archive_name(name, v->store_id, stream, part, e);
    snprintf(path, sizeof path, "%s/%s", c->cold_dir, name);
    v->st.files++;
    if (*next != UINT64_MAX && e->base_offset != *next)
        problem(v, dir, UINT64_MAX, "cold entry %s starts at offset %" PRIu64 ", the log before it ends at %" PRIu64,
                e->location, e->base_offset, *next);
    segment *s;
    if (sl_cold_segment_open(v->backend, c, v->store_id, stream, part, e, &s) != 0) {
        problem(v, path, UINT64_MAX, "cold entry %s: %s", e->location, siglog_errdetail());
        *next = UINT64_MAX;
        return;
    }
    v->st.records += e->record_count;
    v->st.bytes += sl_segment_size(s);
    sl_segment_close(s);
    *next = e->end_offset;
    /* Its key filter, as a segment's .kf is checked: usable and holding
     * every key (a reader passes over what it excludes). */
    if (sl_cold_check_filters(v->backend, c, v->store_id, stream, part, e) != 0)
        problem(v, path, UINT64_MAX, "cold entry %s: %s", e->location, siglog_errdetail());
}

typedef struct orphan_ctx {
    verifier *v;
    size_t found;
} orphan_ctx;

static int report_orphan(void *ctx, const siglog_io *io, const char *dir, const char *name, uint64_t base,
                         uint64_t end)
{
    (void)io;
    orphan_ctx *o = ctx;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    problem(o->v, path, UINT64_MAX, "an orphan archive of this store: no cold entry of the catalog names offsets %"
            PRIu64 "..%" PRIu64 " (left by a cold move or purge cut short); no data is missing, nothing reads it, "
            "and siglog retain or verify --repair removes it", base, end);
    o->found++;
    return 0;
}

/* The partition's orphan archives in cold_dir (cold_orphans.c): each a
 * problem naming the file, the partition remembered for repair. */
static int report_orphans(verifier *v, const char *stream, uint32_t part, const siglog_stream_config *c,
                          const catalog_snapshot *cs)
{
    orphan_ctx o = {.v = v};
    int rc = sl_cold_orphans_list(v->backend, c, v->store_id, stream, part, cs, report_orphan, &o);
    if (rc || !o.found)
        return rc;
    orphan_part *grown = realloc(v->orphans.items, (v->orphans.count + 1) * sizeof *grown);
    if (!grown)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    v->orphans.items = grown;
    orphan_part *op = &grown[v->orphans.count++];
    snprintf(op->stream, sizeof op->stream, "%s", stream);
    op->part = part;
    return 0;
}

static int check_partition(verifier *v, const char *dir, const char *stream, uint32_t part, const segment_params *p,
                           const siglog_stream_config *c, int catalog_required)
{
    catalog_snapshot *cs = NULL;
    int rc = sl_catalog_snapshot_load(v->io, dir, &cs);
    if (!rc && catalog_required && (rc = sl_catalog_check_required(dir, cs)) != 0) {
        sl_catalog_snapshot_release(cs);
        cs = NULL;
    }
    if (rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION) {
        /* A missing directory, a damaged checkpoint, or a missing one. */
        problem(v, dir, UINT64_MAX, "%s", siglog_errdetail());
        return check_listed(v, dir, p);
    }
    if (rc)
        return rc;
    const catalog_checkpoint *cp = sl_catalog_snapshot_bounds(cs);
    int listed = sl_catalog_snapshot_listed(cs), found = sl_catalog_snapshot_found(cs), missing = 0;
    size_t n = sl_catalog_snapshot_count(cs);
    if (found)
        v->st.files++;
    if (listed && found && (missing = sl_catalog_check_listed(dir, cs) != 0))
        problem(v, dir, UINT64_MAX, "%s", siglog_errdetail());
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < n && !rc; i++) {
        const catalog_segment *e = sl_catalog_snapshot_segment(cs, i);
        size_t after;
        if (!listed && (rc = sl_catalog_missing_run(v->io, dir, cs, i, &after)) != 0) {
            if (rc != SIGLOG_ECORRUPT)
                break;
            problem(v, dir, UINT64_MAX, "%s", siglog_errdetail());
            rc = 0;
            missing = 1;
            next = UINT64_MAX;
            i = after - 1;
            continue;
        }
        /* A hole between entries is a loss the catalog records. */
        if (i > 0 && !listed && sl_catalog_snapshot_segment(cs, i - 1)->end_offset < e->base_offset) {
            check_hole(v, dir, stream, part, sl_catalog_snapshot_segment(cs, i - 1), e);
            next = UINT64_MAX;
        }
        if (e->tier == CATALOG_TIER_COLD && !listed) {
            check_cold(v, dir, stream, part, c, e, &next);
            continue;
        }
        seg_figures f;
        rc = check_segment(v, dir, e->location, e->base_offset, i + 1 == n, p, &next, &f);
        if (!rc && !listed && e->state != CATALOG_SEG_ACTIVE && f.intact)
            check_figures(v, dir, e, &f);
    }
    if (!rc && found && !missing && next != UINT64_MAX && sl_catalog_check_end(dir, cp, next) != 0)
        problem(v, dir, UINT64_MAX, "%s", siglog_errdetail());
    if (!rc && !listed)
        rc = report_strays(v, dir, cs);
    if (!rc && !listed && found)
        rc = report_orphans(v, stream, part, c, cs);
    sl_catalog_snapshot_release(cs);
    return rc;
}

static int check_stream(verifier *v, const char *dir)
{
    char *meta = sl_path_join(dir, STREAM_META_FILE);
    if (!meta)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    v->st.files++;
    int rc = sl_io_read_file(v->io, meta, STREAM_META_BYTES_MAX, &data, &len);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    siglog_stream_config c;
    int version;
    if (rc < 0) {
        problem(v, meta, UINT64_MAX, "unreadable stream metadata: %s", strerror(-rc));
        rc = 0;
    } else if (sl_stream_meta_decode(data, len, name, &id, &c, NULL, &version) != 0) {
        problem(v, meta, UINT64_MAX, "%s", siglog_errdetail());
    } else {
        segment_params p = {
            .segment_bytes_max = c.segment_bytes_max, .index_interval_bytes = c.index_interval_bytes, .file_mode = 0600};
        for (uint32_t part = 0; part < c.partitions && !rc; part++) {
            char *pd = sl_path_partition_dir(dir, part);
            rc = pd ? check_partition(v, pd, name, part, &p, &c, version >= 2) : sl_err_set(SIGLOG_ENOMEM, "out of memory");
            free(pd);
        }
    }
    free(data);
    free(meta);
    return rc;
}

/* Sum of segment sizes, for progress. */
static void measure(verifier *v, const char *streams_dir, const io_dirent_list *names)
{
    for (size_t i = 0; i < names->count; i++) {
        char *sd = sl_path_join(streams_dir, names->names[i]);
        io_dirent_list parts = {0};
        if (sd && v->io->list_dir(v->io, sd, &parts) == 0)
            for (size_t k = 0; k < parts.count; k++) {
                char *pd = sl_path_join(sd, parts.names[k]);
                catalog_snapshot *cs;
                if (pd && sl_catalog_snapshot_load(v->io, pd, &cs) == 0) {
                    for (size_t b = 0; b < sl_catalog_snapshot_count(cs); b++) {
                        char path[4200];
                        int is_dir;
                        uint64_t size = 0;
                        snprintf(path, sizeof path, "%s/%s.seg", pd, sl_catalog_snapshot_segment(cs, b)->location);
                        if (v->io->stat_path(v->io, path, &is_dir, &size) == 0)
                            v->total += size;
                    }
                    sl_catalog_snapshot_release(cs);
                }
                free(pd);
            }
        sl_io_dirent_list_free(&parts);
        free(sd);
    }
}

/* Commits only the journal holds (a writer crashed before they reached
 * their segments): what a reader serves from the journal. Recovery has
 * work to do; nothing is lost. A store that does not open is reported by
 * the other checks. */
static void report_journal_only(verifier *v, const char *path)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    sl_options_set_io(&o, v->io);
    siglog *s;
    if (siglog_open(&s, path, &o) != 0)
        return;
    char *journal_path = sl_path_join(path, STORE_JOURNAL_FILE);
    for (size_t i = 0; journal_path && i < s->stream_count; i++) {
        siglog_stream *st = s->streams[i];
        for (uint32_t p = 0; !st->failed && p < st->cfg.partitions; p++) {
            partition_snapshot snap;
            if (sl_partition_snapshot_get(st->parts[p], &snap, 0) == 0 && snap.journal_from < snap.hwm_offset)
                problem(v, journal_path, UINT64_MAX,
                        "stream '%s' partition %u: offsets %" PRIu64 "..%" PRIu64 " are only in the journal "
                        "(a writer's open, or --repair, puts them into the segments)",
                        st->name, p, snap.journal_from, snap.hwm_offset - 1);
        }
    }
    free(journal_path);
    siglog_close(s);
}

/* The journal: both header slots, every live entry (damage judged as a
 * writer's recovery judges it, journal_verdict.h), and the commits only
 * the journal holds. */
static void check_journal(verifier *v, const char *path, uint64_t store_id)
{
    if (sl_journal_check(v->io, path, store_id) != 0) {
        problem(v, path, UINT64_MAX, "%s", siglog_errdetail());
        return;
    }
    journal *j;
    journal_verdict *jv = NULL;
    int rc = sl_journal_open_read(v->io, path, store_id, &j);
    if (!rc && j)
        rc = sl_journal_verdict_build(j, &jv);
    if (rc)
        problem(v, path, UINT64_MAX, "%s", siglog_errdetail());
    const journal_damage *d;
    size_t nd = jv ? sl_journal_verdict_damages(jv, &d) : 0;
    for (size_t i = 0; i < nd; i++) {
        char what[512];
        sl_journal_verdict_describe(jv, &d[i], what, sizeof what);
        problem(v, sl_journal_verdict_path(jv), d[i].pos, "%s", what);
    }
    int have_journal = j != NULL;
    sl_journal_verdict_free(jv);
    sl_journal_close(j);
    if (have_journal)
        report_journal_only(v, path);
}

/* What the audit trail says is gone (a trail that cannot be read
 * accounts for nothing: each hole says why). */
static void load_audit(verifier *v, const char *path, uint64_t store_id)
{
    if (sl_audit_ranges_load(v->io, path, store_id, &v->audit) != 0)
        snprintf(v->audit_error, sizeof v->audit_error, "the trail could not be read: %s", siglog_errdetail());
}

static int check_store(verifier *v, const char *path)
{
    char *store_file = sl_path_join(path, STORE_FILE);
    char *streams = sl_path_join(path, STORE_STREAMS_DIR);
    int rc = 0;
    if (!store_file || !streams) {
        rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        goto out;
    }
    void *data = NULL;
    size_t len = 0;
    v->st.files++;
    int r = sl_io_read_file(v->io, store_file, 4096, &data, &len);
    if (r < 0) {
        rc = r == -ENOENT ? sl_store_not_found(path) : sl_err_errno(r, "reading %s", store_file);
        goto out;
    }
    store_meta meta;
    if (sl_store_meta_decode(data, len, &meta) != 0)
        problem(v, store_file, UINT64_MAX, "%s", siglog_errdetail());
    else {
        v->store_id = meta.store_id;
        check_journal(v, path, meta.store_id);
        load_audit(v, path, meta.store_id);
    }
    free(data);
    io_dirent_list names = {0};
    r = v->io->list_dir(v->io, streams, &names);
    if (r < 0) {
        rc = sl_err_errno(r, "listing %s", streams);
        goto out;
    }
    measure(v, streams, &names);
    for (size_t i = 0; i < names.count && !rc; i++) {
        if (sl_name_validate_stream(names.names[i]) != 0)
            continue;
        char *sd = sl_path_join(streams, names.names[i]);
        rc = sd ? check_stream(v, sd) : sl_err_set(SIGLOG_ENOMEM, "out of memory");
        free(sd);
    }
    sl_io_dirent_list_free(&names);
out:
    free(store_file);
    free(streams);
    return rc;
}

static void repaired_log(void *ctx, int level, const char *msg)
{
    verifier *v = ctx;
    /* Errors are damage recovery refused to mend: the second check
     * reports it. */
    if (level != SIGLOG_LOG_WARN)
        return;
    v->st.repairs++;
    if (v->cb && v->cb->repaired)
        v->cb->repaired(v->cb->ctx, "", msg);
}

/* The writer's partition whose directory is dir, or NULL. */
static partition *writer_partition(siglog *s, const char *dir)
{
    for (size_t i = 0; i < s->stream_count; i++) {
        siglog_stream *st = s->streams[i];
        for (uint32_t p = 0; st->parts && p < st->cfg.partitions; p++)
            if (strcmp(sl_partition_path(st->parts[p]), dir) == 0)
                return st->parts[p];
    }
    return NULL;
}

/* Open as the writer (recovery cuts torn tails, repairs indexes it finds
 * unusable), then rebuild the bad indexes under the same lock: the active
 * segments' through the writer that holds them; with quarantine, move the
 * segments with damage aside (quarantine.h). */
static void quarantined(void *ctx, const char *from, const char *to)
{
    verifier *v = ctx;
    v->st.repairs++;
    if (v->cb && v->cb->repaired) {
        char what[4200];
        snprintf(what, sizeof what, "moved aside to %s (damage repair may not cut; its offsets are now missing)", to);
        v->cb->repaired(v->cb->ctx, from, what);
    }
}

/* Move each damaged segment into quarantine/, under the writer lock s
 * holds. The writer does not touch them meanwhile: a partition whose
 * active segment is damaged is failed (it writes nothing, not even at
 * close), and a sealed segment is never written again. */
static int quarantine_damaged(verifier *v, siglog *s)
{
    int64_t now_s = v->io->now_us(v->io) / 1000000;
    int rc = 0;
    for (size_t i = 0; i < v->damaged.count && !rc; i++) {
        bad_index *b = &v->damaged.items[i];
        rc = sl_quarantine_segment(v->io, s->path, b->dir, b->base, s->opt.dir_mode, now_s, quarantined, v);
    }
    return rc;
}

/* The journal's batches of one partition, put into the new active
 * segment of an accepted loss (catalog_loss_fill_fn): those that
 * continue it, byte for byte, as a writer's recovery would replay them. */
typedef struct journal_fill {
    siglog *s;
    uint32_t stream_id, partition;
    segment *seg;
    uint64_t batches, end;
} journal_fill;

static int fill_entry(void *ctx, uint64_t pos, uint32_t stream_id, uint32_t part, const uint8_t *batches, size_t len)
{
    journal_fill *f = ctx;
    (void)pos;
    (void)stream_id;
    (void)part;
    batch_header h;
    for (size_t at = 0; at < len; at += BATCH_HEADER_BYTES + h.body_len) {
        int rc = sl_batch_header_decode(batches + at, &h);
        if (rc)
            return rc;
        uint64_t next = sl_segment_next_offset(f->seg);
        if (batch_end_offset(&h) <= next)
            continue; /* below where the log goes on: lost with the segments */
        if (h.base_offset != next)
            return sl_err_set(SIGLOG_ECORRUPT, "the journal holds offsets from %" PRIu64 " where the log goes on at %" PRIu64,
                              h.base_offset, next);
        batch_meta m = batch_meta_of(&h);
        if ((rc = sl_segment_append(f->seg, batches + at, BATCH_HEADER_BYTES + h.body_len, &m, 1)) != 0)
            return rc;
        f->batches++;
        f->end = batch_end_offset(&h);
    }
    return 0;
}

static int journal_fill_segment(void *ctx, segment *seg)
{
    journal_fill *f = ctx;
    f->seg = seg;
    return sl_store_journal_each(f->s, f->stream_id, f->partition, fill_entry, f);
}

/* A partition directory gone whole, whose floor file beside it says what
 * it handed out, is made again, empty, and synced into the stream's
 * directory: the plan then loses all of it (catalog_loss.h). Without a
 * floor file it stays missing. */
static int remake_partition_dir(verifier *v, siglog *s, siglog_stream *st, const char *dir)
{
    int is_dir = 0;
    uint64_t size;
    int r = v->io->stat_path(v->io, dir, &is_dir, &size);
    if (r != -ENOENT)
        return 0; /* there, or not a directory: reported as it is */
    catalog_checkpoint b;
    uint64_t generation;
    int found;
    int rc = sl_catalog_floor_read(v->io, dir, &generation, &b, &found);
    if (rc || !found)
        return rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION ? 0 : rc;
    if ((r = v->io->mkdir(v->io, dir, s->opt.dir_mode)) < 0)
        return sl_err_errno(r, "making %s again", dir);
    if ((r = v->io->sync_dir(v->io, st->dir)) < 0)
        return sl_err_errno(r, "fsync of directory %s", st->dir);
    v->st.repairs++;
    if (v->cb && v->cb->repaired)
        v->cb->repaired(v->cb->ctx, dir, "made the missing partition directory again, empty");
    return 0;
}

/* The cold archives in cold_dir of a partition whose catalog.ckpt is
 * to be rebuilt, named in a list ("A, B, ..."). */
typedef struct cold_found {
    char names[400];
    size_t count;
} cold_found;

static int note_cold(void *ctx, const siglog_io *io, const char *dir, const char *name, uint64_t base, uint64_t end)
{
    (void)io, (void)dir, (void)base, (void)end;
    cold_found *f = ctx;
    size_t len = strlen(name), used = strlen(f->names);
    if (len > 4 && strcmp(name + len - 4, ".tmp") == 0)
        return 0; /* a move cut while it wrote: never an entry's */
    if (f->count++ < 4)
        snprintf(f->names + used, sizeof f->names - used, "%s%s", used ? ", " : "", name);
    return 0;
}

/* A rebuild lists the partition directory only, and a cold entry's
 * records lie in cold_dir (FORMAT.md, "Rebuilding a lost catalog"): a
 * catalog rebuilt beside this partition's cold archives would call
 * their offsets lost, and retention would then remove them as orphans.
 * So it is refused while any is there, a problem naming them; 1 then. */
static int cold_archives_refuse(verifier *v, siglog_stream *st, uint32_t part, const char *dir,
                                const catalog_loss_plan *plan, int *refused)
{
    cold_found f = {0};
    *refused = 0;
    int rc = sl_cold_orphans_list(v->backend, &st->cfg, v->store_id, st->name, part, plan->snap, note_cold, &f);
    if (rc || !f.count)
        return rc;
    *refused = 1;
    problem(v, dir, UINT64_MAX,
            "%s is missing and %zu cold archive(s) of this partition exist in cold_dir %s: %s%s; a catalog rebuilt "
            "from the partition directory would not name them (their offsets would be called lost and retention "
            "would remove them), so it is not rebuilt: restore %s",
            CATALOG_FILE, f.count, st->cfg.cold_dir, f.names, f.count > 4 ? ", ..." : "", CATALOG_FILE);
    return 0;
}

/* Record each partition's lost segments in its catalog (catalog_loss.h),
 * under the writer lock s holds: planned, audited (the intent), then
 * accepted. A partition whose directory is gone without a floor file, or
 * whose catalog cannot record a loss, is left as it is: the re-check
 * still reports it. */
static int accept_partition_loss(verifier *v, siglog *s, siglog_stream *st, uint32_t part)
{
    char *dir = sl_path_partition_dir(st->dir, part);
    if (!dir)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    catalog *cat = NULL;
    catalog_loss_plan plan = {0};
    segment_params sp = {.segment_bytes_max = st->cfg.segment_bytes_max,
                         .index_interval_bytes = st->cfg.index_interval_bytes,
                         .file_mode = s->opt.file_mode};
    int rc = remake_partition_dir(v, s, st, dir);
    if (!rc)
        rc = sl_catalog_open(&cat, v->io, dir, s->opt.file_mode);
    if (!rc)
        rc = sl_catalog_loss_plan(cat, &sp, &plan);
    if (rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION)
        rc = 0; /* not acceptable: reported again by the re-check */
    int refused = 0;
    if (!rc && plan.rebuild)
        rc = cold_archives_refuse(v, st, part, dir, &plan, &refused);
    if (refused)
        sl_catalog_loss_plan_free(&plan); /* nothing to accept */
    /* The writer's open left the journal's batches of this partition out
     * (it found it incomplete), and the journal keeps them: the new active
     * segment takes those that continue the log (journal_fill). */
    partition *wp = writer_partition(s, dir);
    journal_fill fill = {.s = s, .stream_id = st->id, .partition = part};
    if (!rc && wp)
        sl_catalog_loss_plan_journal(&plan, sl_store_journal_start(s, st->id, part), sl_partition_unserved_end(wp));
    for (size_t i = 0; !rc && i < plan.run_count; i++) {
        const catalog_lost_run *run = &plan.runs[i];
        if (run->from == run->to)
            continue; /* the journal holds all of it */
        audit_record r;
        sl_audit_record_init(&r, AUDIT_LOSS, AUDIT_BY_COMMAND);
        snprintf(r.stream, sizeof r.stream, "%s", st->name);
        r.partition = part;
        r.offset_start = run->from;
        r.offset_end = run->to;
        if (plan.recreated)
            snprintf(r.detail, sizeof r.detail,
                     "the partition directory was missing or held nothing; its floor file names offsets %" PRIu64
                     "..%" PRIu64 " as handed out; loss accepted by verify",
                     run->from, run->to - 1);
        else if (plan.rebuild && plan.end_lost && i + 1 == plan.run_count)
            snprintf(r.detail, sizeof r.detail,
                     "%s was missing and its floor file says offsets up to %" PRIu64
                     " were handed out, past the last segment found; loss accepted by verify",
                     CATALOG_FILE, plan.new_active_base - 1);
        else if (plan.rebuild)
            snprintf(r.detail, sizeof r.detail,
                     "%s was missing and the first segment found is %s.seg; loss accepted by verify", CATALOG_FILE,
                     sl_catalog_snapshot_segment(plan.snap, 0)->location);
        else
            snprintf(r.detail, sizeof r.detail, "%zu segment(s) from %s.seg on were missing; loss accepted by verify",
                     run->count, sl_catalog_snapshot_segment(plan.snap, run->first)->location);
        rc = sl_store_audit(s, &r);
    }
    if (!rc)
        rc = sl_catalog_loss_accept(cat, &plan, &sp, journal_fill_segment, &fill);
    if (!rc && plan.rebuild) {
        v->st.repairs++;
        if (v->cb && v->cb->repaired)
            v->cb->repaired(v->cb->ctx, dir, "rebuilt its missing " CATALOG_FILE " from the segments found");
    }
    for (size_t i = 0; !rc && i < plan.run_count; i++) {
        const catalog_lost_run *run = &plan.runs[i];
        v->st.repairs++;
        if (v->cb && v->cb->repaired) {
            char what[512];
            if (run->from == run->to)
                snprintf(what, sizeof what, "%zu missing segment(s) from offset %" PRIu64 " on: the commit journal "
                         "held all their events, put into a new segment", run->count, run->from);
            else if (plan.recreated)
                snprintf(what, sizeof what,
                         "recorded the loss of offsets %" PRIu64 "..%" PRIu64 " (the whole partition) in its new %s; "
                         "the log goes on in a new segment",
                         run->from, run->to - 1, CATALOG_FILE);
            else
                snprintf(what, sizeof what,
                         "recorded the loss of offsets %" PRIu64 "..%" PRIu64 " (%zu missing segment(s)) in its %s%s",
                         run->from, run->to - 1, run->count, CATALOG_FILE,
                         run->to == plan.new_active_base && plan.end_lost ? "; the log goes on in a new segment" : "");
            v->cb->repaired(v->cb->ctx, dir, what);
        }
    }
    if (!rc && fill.batches) {
        v->st.repairs++;
        if (v->cb && v->cb->repaired) {
            char what[512];
            snprintf(what, sizeof what,
                     "put the %" PRIu64 " offsets from %" PRIu64 " the commit journal held into the new segment",
                     fill.end - plan.new_active_base, plan.new_active_base);
            v->cb->repaired(v->cb->ctx, dir, what);
        }
    }
    sl_catalog_loss_plan_free(&plan);
    sl_catalog_close(cat);
    free(dir);
    return rc;
}

static int accept_loss(verifier *v, siglog *s)
{
    int rc = 0;
    for (size_t i = 0; i < s->stream_count && !rc; i++)
        for (uint32_t p = 0; p < s->streams[i]->cfg.partitions && !rc; p++)
            rc = accept_partition_loss(v, s, s->streams[i], p);
    return rc;
}

/* Orphan archives go under the maintenance role, as retention removes
 * them (cold_orphans.c: only its holder can tell an orphan from an
 * archive a move is about to commit); each partition's catalog is read
 * again there, so one committed since the check is kept. */
static int remove_orphans(verifier *v, const char *path, const siglog_options *o)
{
    siglog_maintenance *m;
    int rc = sl_maintenance_open(&m, path, o);
    if (rc)
        return sl_err_set(rc, "removing orphan archives needs the maintenance role: %s", siglog_errdetail());
    for (size_t i = 0; i < v->orphans.count && !rc; i++) {
        const orphan_part *op = &v->orphans.items[i];
        char *dir = NULL;
        siglog_stream_config cfg;
        catalog *c;
        uint64_t n = 0;
        if ((rc = sl_maintenance_stream(m, op->stream, &dir, &cfg)) == 0 &&
            (rc = sl_maintenance_catalog(m, op->stream, op->part, &c)) == 0 &&
            (rc = sl_cold_orphans_remove(m, c, op->stream, op->part, &cfg, 0, &n)) == 0 && n) {
            v->st.repairs += n;
            if (v->cb && v->cb->repaired)
                v->cb->repaired(v->cb->ctx, cfg.cold_dir, "removed the orphan archives of this store's stream's "
                                                          "partition that no catalog entry names");
        }
        free(dir);
    }
    sl_maintenance_close(m);
    return rc;
}

static int repair(verifier *v, const char *path, const siglog_io *io, int force_owner, int quarantine, int lost)
{
    siglog_options o;
    siglog_options_default(&o);
    sl_options_set_io(&o, io);
    o.force_owner = (uint32_t)force_owner;
    o.log_fn = repaired_log;
    o.log_ctx = v;
    siglog *s;
    int rc = siglog_open(&s, path, &o);
    if (rc)
        return sl_err_set(rc, "repair needs the store as its writer: %s", siglog_errdetail());
    for (size_t i = 0; i < v->bad.count && !rc; i++) {
        bad_index *b = &v->bad.items[i];
        char oix[4096], tix[4096];
        sl_segment_path(oix, sizeof oix, b->dir, b->base, ".oix");
        sl_segment_path(tix, sizeof tix, b->dir, b->base, ".tix");
        partition *wp = b->active ? writer_partition(s, b->dir) : NULL;
        /* The writer has this segment open: it rebuilds them itself. */
        rc = wp ? sl_partition_rebuild_indexes(wp) : PARTITION_NOT_OPEN;
        if (rc == PARTITION_INDEXES_REBUILT) {
            rc = 0;
            continue;
        }
        if (rc == PARTITION_NOT_OPEN) {
            /* Removing them makes the writable open rebuild both. */
            v->io->unlink(v->io, oix);
            v->io->unlink(v->io, tix);
            segment *seg;
            rc = sl_segment_open(v->io, b->dir, b->base, 1, &b->params, &seg);
            if (!rc)
                sl_segment_close(seg);
        }
        if (!rc) {
            v->st.repairs++;
            if (v->cb && v->cb->repaired)
                v->cb->repaired(v->cb->ctx, oix, "rebuilt the offset and time indexes from the segment");
        }
    }
    if (!rc && quarantine)
        rc = quarantine_damaged(v, s);
    if (!rc && lost)
        rc = accept_loss(v, s);
    if (!rc && v->orphans.count)
        rc = remove_orphans(v, path, &o);
    /* The journal kept what partitions found incomplete could not take
     * (catalog_loss.h): with their loss accepted, a writer's open now
     * puts it into their segments and empties the journal. */
    int reopen = !rc && lost && s->journal_held;
    sl_err_later failed = {0};
    if (rc)
        sl_err_put_off(&failed, rc); /* the close must not lose why repair stopped */
    int c = siglog_close(s);
    if (rc)
        rc = sl_err_take_later(&failed);
    if (!rc && !c && reopen) {
        if ((c = siglog_open(&s, path, &o)) == 0)
            c = siglog_close(s);
    }
    return rc ? rc : c;
}

static void verifier_free(verifier *v)
{
    sl_audit_ranges_free(&v->audit);
    bad_list_free(&v->bad);
    bad_list_free(&v->damaged);
    free(v->orphans.items);
    free(v->batches);
    sl_bytebuf_free(&v->body);
    sl_bytebuf_free(&v->scratch);
}

SIGLOG_API int siglog_verify(const char *path, int do_repair, const siglog_verify_callbacks *cb,
                             siglog_verify_stats *stats)
{
    return sl_verify_io(sl_io_posix(), path, do_repair, cb, stats);
}

int sl_verify_io(const siglog_io *io, const char *path, int do_repair, const siglog_verify_callbacks *cb,
                 siglog_verify_stats *stats)
{
    sl_err_clear();
    if (!path)
        return sl_err_set(SIGLOG_EINVAL, "siglog_verify: path is required");
    char *real = sl_io_real_path(path);
    if (!real)
        return errno == ENOENT ? sl_store_not_found(path) : sl_err_errno(-errno, "resolving the store path %s", path);
    path = real;
    /* Every path below the directory opened here, whatever happens to
     * its name meanwhile (io_root.h). */
    io_root *root;
    int rc = sl_io_root_open(io, path, &root);
    if (rc < 0) {
        rc = rc == -ENOENT ? sl_store_not_found(path) : sl_err_errno(rc, "opening the store directory %s", path);
        free(real);
        return rc;
    }
    verifier v = {.io = sl_io_root_io(root), .backend = io, .cb = cb};
    rc = check_store(&v, path);
    if (!rc && v.st.problems && do_repair) {
        rc = repair(&v, path, io, (do_repair & SIGLOG_VERIFY_FORCE_OWNER) != 0,
                    (do_repair & SIGLOG_VERIFY_QUARANTINE) != 0, (do_repair & SIGLOG_VERIFY_ACCEPT_LOSS) != 0);
        if (!rc) {
            /* Check again, silently: what remains is the answer. */
            verifier again = {.io = v.io, .backend = io};
            rc = check_store(&again, path);
            if (!rc && again.st.problems)
                rc = sl_err_set(SIGLOG_ECORRUPT, "%llu of %llu problems remain after repair",
                             (unsigned long long)again.st.problems, (unsigned long long)v.st.problems);
            verifier_free(&again);
        }
    } else if (!rc && v.st.problems) {
        rc = sl_err_set(SIGLOG_ECORRUPT, "%llu problems found", (unsigned long long)v.st.problems);
    }
    if (stats)
        *stats = v.st;
    verifier_free(&v);
    sl_io_root_close(root);
    free(real);
    return rc;
}
