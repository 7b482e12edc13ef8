/*
 * segment — a file of batches with its offset index, time index and, once
 * sealed, its summary sidecar. Byte layouts and validity rules are in
 * format-spec/FORMAT.md, sections "Segment file", "Index files" and "Summary
 * sidecar"; the recovery rules are repeated at the top of segment.h and in
 * its section "Recovery".
 *
 * State of a writable segment: `st` accounts for the batches in bytes
 * [0, st.pos) of the .seg file, which are all valid and whose offset
 * ranges tile the offsets from the base offset to st.next_offset (records
 * may leave gaps inside a batch's range, FORMAT.md "Batch"). Indexes never name a
 * batch outside that prefix. A writable segment that was opened (rather
 * than created) accepts appends only after sl_segment_adopt_tail has
 * established that state from a scan.
 *
 * Index entries: a batch gets an entry when at least index_interval_bytes
 * lie between the last indexed batch (or the start of the file) and its own
 * start; the first batch is never indexed (implied). The rule depends on the
 * file alone, so a rebuilt index equals the one written while appending.
 *
 * Vouched bytes: a valid summary sidecar's `bytes` were synced before it
 * was written and are never rewritten in place, so the file holds at
 * least that many valid bytes. A read-only open of a file shorter than
 * that counts it as that long (sl_segment_size), so that a reader meets the
 * cut as SIGLOG_ECORRUPT where the file ends instead of stopping short.
 *
 * Read-only opens never modify a file. An index that is missing or invalid
 * is then simply not used: segment_locate_* answer 0 (scan from the start).
 * The segment's next offset, record count and maximum timestamp are known
 * to a read-only open only from a valid summary sidecar that matches the
 * file's size (a sealed segment); otherwise they read as base offset, 0 and
 * INT64_MIN, and callers scan with sl_segment_read_batch.
 *
 * created_us: the wall clock at sl_segment_create, kept durable in the .sum
 * sidecar that sl_segment_create writes (empty) and sl_segment_seal rewrites
 * (complete), so the age of an active segment survives reopening. Event
 * timestamps are no stand-in: producers may backfill old events. Without a
 * valid sidecar (lost, or a store written before it existed), the age
 * restarts at open.
 */
#include "segment.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "keyfilter.h"

/* Summary sidecar field positions. */
enum {
    SUM_MAGIC = 0,
    SUM_VERSION = 4,
    SUM_RESERVED = 6,
    SUM_BASE_OFFSET = 8,
    SUM_NEXT_OFFSET = 16,
    SUM_RECORD_COUNT = 24,
    SUM_BYTES = 32,
    SUM_MAX_TS = 40,
    SUM_CREATED = 48,
    SUM_CHECKSUM = 56,
    SUM_BYTES_TOTAL = 64,
};

/* The damage search reads the file in chunks of this size. */
#define DAMAGE_CHUNK_BYTES (1u << 20)
#define DEFAULT_FILE_MODE 0644u
/* Longest stem and suffix appended to the directory: "/STEM.oix.tmp". */
#define SEGMENT_PATH_EXTRA (1 + SEGMENT_STEM_MAX + 8)

/* The batches accounted for in bytes [0, pos). */
typedef struct seg_state {
    uint64_t pos;
    uint64_t next_offset;
    uint64_t record_count;
    int64_t max_ts;
} seg_state;

struct segment {
    const siglog_io *io;
    int fd;
    int writable;
    int adopted;       /* writable and st established */
    int sealed;
    uint64_t trusted_offset; /* see sl_segment_trust_below */
    uint64_t durable_offset; /* see sl_segment_durable_offset */
    uint64_t vouched_bytes;  /* the summary's `bytes` (0 without one) */
    int indexes_rebuilt;     /* by a writable open */
    uint32_t index_faults;   /* entries a seek found wrong (and scanned) */
    segment_params p;
    uint64_t base;
    seg_state st;
    uint64_t last_index_pos; /* position of the last indexed batch, or 0 */
    uint64_t writeback_pos;  /* writer: the bytes below it were handed to
                              * write-back or were there when it adopted
                              * the file; <= st.pos (a cut below st.pos
                              * needs a new adopt, which resets it) */
    uint64_t origin;         /* where byte 0 lies in the file: 0 but for a
                              * window on an archive (sl_segment_open_window) */
    int64_t created_us;
    index_file *oix, *tix;
    /* Read-only handles: file bytes [win_pos, win_pos + win.len), read
     * by sl_segment_next_batch (ahead of the batch it needed) or by a
     * locate call (the batch its index entry names, header and body in
     * one pread, for the read that follows a seek). Never past the limit
     * the caller gave when it was read: bytes beyond a reader's limit may
     * still be in the writing. A writer's handle has none (it may cut
     * its tail). */
    bytebuf win;       /* its allocation; win.len counts the window's bytes */
    uint8_t *win_at;   /* where they start: win.data plus the shift that puts
                        * win_pos at its phase (io.h, sl_io_read_shift) */
    uint64_t win_pos;
    bytebuf scratch;   /* batch bodies during scans */
    bytebuf decoded;   /* their decompressed records */
    char *dir;
    char stem[SEGMENT_STEM_MAX + 1]; /* file name without extension */
    char *path;        /* the .seg file */
};

typedef struct seg_summary {
    uint64_t next_offset;
    uint64_t record_count;
    uint64_t bytes;
    int64_t max_ts;
    int64_t created_us;
} seg_summary;

const char *const sl_segment_file_exts[SEGMENT_FILE_EXTS] = {".seg", ".oix", ".tix", ".sum", KEYFILTER_EXT};

void sl_segment_path(char *buf, size_t n, const char *dir, uint64_t base_offset, const char *ext)
{
    snprintf(buf, n, "%s/%020" PRIu64 "%s", dir, base_offset, ext);
}

void sl_segment_stem(char buf[SEGMENT_STEM_MAX + 1], uint64_t base_offset)
{
    snprintf(buf, SEGMENT_STEM_MAX + 1, "%020" PRIu64, base_offset);
}

int sl_segment_parse_name(const char *name, uint64_t *base_offset)
{
    uint64_t v = 0;
    for (int i = 0; i < SEGMENT_NAME_DIGITS; i++) {
        unsigned d = (unsigned)(unsigned char)name[i] - '0';
        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (strcmp(name + SEGMENT_NAME_DIGITS, ".seg") != 0)
        return -1;
    *base_offset = v;
    return 0;
}

static seg_state state_empty(const segment *s)
{
    return (seg_state){.pos = 0, .next_offset = s->base, .record_count = 0, .max_ts = INT64_MIN};
}

static void sibling_path(const segment *s, char *buf, const char *ext)
{
    snprintf(buf, PATH_MAX, "%s/%s%s", s->dir, s->stem, ext);
}

static int require_writable(const segment *s, const char *what)
{
    if (!s->writable)
        return sl_err_set(SIGLOG_ERDONLY, "%s: %s on a segment open read-only", s->path, what);
    if (s->sealed)
        return sl_err_set(SIGLOG_EINVAL, "%s: %s on a sealed segment", s->path, what);
    return 0;
}

/* Capacity for a new index: enough for a full segment (which may overrun
 * segment_bytes_max by its last batch) or for the file at hand. */
static uint32_t index_capacity_for(const segment_params *p, uint64_t file_bytes)
{
    uint64_t interval = p->index_interval_bytes ? p->index_interval_bytes : 1;
    uint64_t bytes = p->segment_bytes_max > file_bytes ? p->segment_bytes_max : file_bytes;
    uint64_t cap = bytes / interval + 2;
    return cap > INDEX_CAPACITY_MAX ? INDEX_CAPACITY_MAX : (uint32_t)cap;
}

/* ---- reading batches ---- */

/* Every read of batch bytes: positions are the segment's, the file's are
 * origin bytes further (a window on an archive). */
static ssize_t seg_pread(const segment *s, void *buf, size_t n, uint64_t pos)
{
    return sl_io_read_full(s->io, s->fd, buf, n, s->origin + pos);
}

/* Re-issue the batch codec's detail with the file and position. */
static int batch_error(const segment *s, uint64_t pos, int code)
{
    char reason[512];
    snprintf(reason, sizeof reason, "%s", siglog_errdetail());
    return sl_err_set(code, "%s: invalid batch at byte %" PRIu64 ": %s", s->path, pos, reason);
}

/* The file ended `got` bytes into the batch at pos: an incomplete batch
 * (0), unless the summary vouches for the bytes that are missing. */
static int file_ends_early(const segment *s, uint64_t pos, uint64_t got)
{
    if (pos + got >= s->vouched_bytes)
        return 0;
    return sl_err_set(SIGLOG_ECORRUPT,
                   "%s: invalid batch at byte %" PRIu64 ": the file ends at byte %" PRIu64
                   ", inside the %" PRIu64 " bytes its summary vouches for (cut short)",
                   s->path, pos, pos + got, s->vouched_bytes);
}

/* Read and decode the header at pos. 1 when a valid header is there, 0
 * when fewer than a header's bytes lie before limit, SIGLOG_ECORRUPT or
 * SIGLOG_EVERSION (with file and position) when invalid, or an I/O error. */
static int read_header(segment *s, uint64_t pos, uint64_t limit, batch_header *h)
{
    if (limit < pos || limit - pos < BATCH_HEADER_BYTES)
        return 0;
    uint8_t hdr[BATCH_HEADER_BYTES];
    ssize_t got = seg_pread(s, hdr, sizeof hdr, pos);
    if (got < 0)
        return sl_err_errno((int)got, "read of %s at byte %" PRIu64, s->path, pos);
    if (got < BATCH_HEADER_BYTES)
        return file_ends_early(s, pos, (uint64_t)got);
    int rc = sl_batch_header_decode(hdr, h);
    return rc ? batch_error(s, pos, rc) : 1;
}

int sl_segment_read_batch(segment *s, uint64_t pos, uint64_t limit, batch_header *h, bytebuf *buf)
{
    if (pos > limit)
        return sl_err_set(SIGLOG_EINVAL, "%s: read at byte %" PRIu64 " beyond the limit %" PRIu64, s->path, pos, limit);
    int rc = read_header(s, pos, limit, h);
    if (rc <= 0)
        return rc;
    /* The header checksum held, so body_len is bounded by the codec's
     * limit; it must also end before `limit`. */
    if (h->body_len > limit - pos - BATCH_HEADER_BYTES)
        return 0;
    buf->len = 0;
    if ((rc = sl_bytebuf_reserve(buf, h->body_len)) != 0)
        return rc;
    ssize_t got = seg_pread(s, buf->data, h->body_len, pos + BATCH_HEADER_BYTES);
    if (got < 0)
        return sl_err_errno((int)got, "read of %s at byte %" PRIu64, s->path, pos + BATCH_HEADER_BYTES);
    if ((size_t)got < h->body_len)
        return file_ends_early(s, pos, BATCH_HEADER_BYTES + (uint64_t)got);
    if ((rc = sl_batch_body_check(h, buf->data)) != 0)
        return batch_error(s, pos, rc);
    buf->len = h->body_len;
    return 1;
}

/* How much sl_segment_next_batch reads at a time: a few default batches
 * per pread, while the window stays well inside the L2 cache. */
#define WINDOW_READ_BYTES (128u * 1024u)

/* Make the window hold the bytes from pos: when it does not already hold
 * `need` of them, read min(want, limit - pos) from pos into it (want >=
 * need). Returns how many bytes from pos it holds (fewer than need where
 * the file or the limit ends first), or an I/O error. */
static int64_t window_at(segment *s, uint64_t pos, uint64_t need, uint64_t want, uint64_t limit)
{
    uint64_t held = pos >= s->win_pos && pos - s->win_pos <= s->win.len ? s->win.len - (pos - s->win_pos) : 0;
    if (held >= need)
        return (int64_t)held;
    uint64_t len = limit - pos < want ? limit - pos : want;
    s->win.len = 0;
    s->win_pos = pos;
    int rc = sl_bytebuf_reserve(&s->win, len + SL_IO_READ_ALIGN - 1);
    if (rc)
        return rc;
    s->win_at = s->win.data + sl_io_read_shift(s->win.data, s->origin + pos);
    ssize_t got = seg_pread(s, s->win_at, len, pos);
    if (got < 0)
        return sl_err_errno((int)got, "read of %s at byte %" PRIu64, s->path, pos);
    s->win.len = (size_t)got;
    return got;
}

int sl_segment_next_batch(segment *s, uint64_t pos, uint64_t limit, batch_header *h, const uint8_t **body)
{
    if (s->writable)
        return sl_err_set(SIGLOG_EINVAL, "%s: a window read on a writable segment", s->path);
    if (pos > limit)
        return sl_err_set(SIGLOG_EINVAL, "%s: read at byte %" PRIu64 " beyond the limit %" PRIu64, s->path, pos, limit);
    if (limit - pos < BATCH_HEADER_BYTES)
        return 0;
    int64_t held = window_at(s, pos, BATCH_HEADER_BYTES, WINDOW_READ_BYTES, limit);
    if (held < 0)
        return (int)held;
    if (held < BATCH_HEADER_BYTES)
        return file_ends_early(s, pos, (uint64_t)held);
    int rc = sl_batch_header_decode(s->win_at + (pos - s->win_pos), h);
    if (rc)
        return batch_error(s, pos, rc);
    /* The header checksum held, so body_len is bounded by the codec's
     * limit; it must also end before `limit`. */
    if (h->body_len > limit - pos - BATCH_HEADER_BYTES)
        return 0;
    uint64_t total = BATCH_HEADER_BYTES + (uint64_t)h->body_len;
    held = window_at(s, pos, total, total > WINDOW_READ_BYTES ? total : WINDOW_READ_BYTES, limit);
    if (held < 0)
        return (int)held;
    if ((uint64_t)held < total)
        return file_ends_early(s, pos, (uint64_t)held);
    *body = s->win_at + (pos - s->win_pos) + BATCH_HEADER_BYTES;
    if ((rc = sl_batch_body_check(h, *body)) != 0)
        return batch_error(s, pos, rc);
    return 1;
}

/* ---- indexing ---- */

/* Give the batch at pos index entries if the interval rule asks for them.
 * prefix_max_ts covers every record before that batch. A full index just
 * stays sparser. */
static void index_batch(segment *s, uint64_t pos, const batch_meta *m, int64_t prefix_max_ts)
{
    if (!s->oix || !s->tix || pos == 0 || pos - s->last_index_pos < s->p.index_interval_bytes)
        return;
    uint64_t rel = m->base_offset - s->base; /* > 0: only the first batch is at 0 */
    if (rel > UINT32_MAX || pos > UINT32_MAX)
        return;
    if (sl_index_add_offset(s->oix, (uint32_t)rel, (uint32_t)pos) != 0)
        return;
    /* The time index has the same capacity and the same relative offsets,
     * so it has room whenever the offset index had. */
    (void)sl_index_add_time(s->tix, prefix_max_ts, (uint32_t)rel, m->body_checksum);
    s->last_index_pos = pos;
}

static void state_add(segment *s, seg_state *st, int index, const batch_meta *m)
{
    if (index)
        index_batch(s, st->pos, m, st->max_ts);
    st->pos += m->bytes;
    st->next_offset = batch_meta_end_offset(m);
    st->record_count += m->record_count;
    if (m->max_timestamp_us > st->max_ts)
        st->max_ts = m->max_timestamp_us;
}

/* Advance st over the valid batches that follow it before limit: both
 * checksums hold, every record decodes (the checksums prove that a batch
 * holds the bytes its writer sealed, not that they decode: readers would
 * stop at a batch recovery kept) and offsets continue
 * st->next_offset. Stops at the first
 * batch that is invalid or incomplete. With `index`, adds index entries on
 * the way. 0, or an I/O error, or SIGLOG_EVERSION for a well-formed batch
 * of a format this build does not know (refused rather than cut). */
static int walk_valid(segment *s, seg_state *st, uint64_t limit, int index)
{
    for (;;) {
        batch_header h;
        int rc = sl_segment_read_batch(s, st->pos, limit, &h, &s->scratch);
        if (rc == 0 || rc == SIGLOG_ECORRUPT)
            return 0;
        if (rc < 0)
            return rc;
        if (h.base_offset != st->next_offset)
            return 0;
        if ((rc = sl_batch_records_valid(&h, s->scratch.data, &s->decoded)) <= 0)
            return rc;
        batch_meta m = batch_meta_of(&h);
        state_add(s, st, index, &m);
    }
}

/* Where a scan of the valid prefix below `limit` can start: just before
 * the batch named by the last index entry that both indexes agree on, that
 * lies below limit and below the trusted offset (sl_segment_trust_below), and
 * whose batch header matches it. The start of the file
 * when there is none. Returns the number of index entries up to and
 * including that one (the entries that can be trusted). */
static uint32_t resume_point(segment *s, uint64_t limit, seg_state *st)
{
    *st = state_empty(s);
    if (!s->oix || !s->tix)
        return 0;
    uint32_t k = sl_index_count(s->oix), kt = sl_index_count(s->tix);
    if (kt < k)
        k = kt;
    uint32_t rel = 0, pos = 0;
    while (k > 0) {
        sl_index_entry_offset(s->oix, k - 1, &rel, &pos);
        if ((uint64_t)pos + BATCH_HEADER_BYTES <= limit && s->base + rel <= s->trusted_offset)
            break;
        k--;
    }
    if (k == 0)
        return 0;
    int64_t ts;
    uint32_t trel;
    sl_index_entry_time(s->tix, k - 1, &ts, &trel);
    batch_header h;
    if (trel != rel || read_header(s, pos, limit, &h) != 1 || h.base_offset != s->base + rel ||
        !sl_index_entry_time_matches(s->tix, k - 1, h.body_checksum))
        return 0;
    /* record_count = rel holds for the dense segments appends write, the
     * only ones a writer resumes (a rewrite that leaves gaps replaces a
     * sealed segment whole, and scans it from byte 0). */
    *st = (seg_state){.pos = pos, .next_offset = s->base + rel, .record_count = rel, .max_ts = ts};
    return k;
}

/* An index entry a seek was about to use does not match its batch: the
 * seek scans instead, and the caller may report it. */
static int index_fault(segment *s)
{
    s->index_faults++;
    return 0;
}

/* The header of the batch an index entry names, at pos. A read-only
 * handle reads `span` bytes there (at most up to limit) into its window:
 * with span reaching to the next indexed batch, that is the whole batch,
 * which the sl_segment_next_batch after a seek then finds without a read
 * of its own. */
static int indexed_header(segment *s, uint64_t pos, uint64_t span, uint64_t limit, batch_header *h)
{
    if (s->writable)
        return read_header(s, pos, UINT64_MAX, h);
    if (limit < pos || limit - pos < BATCH_HEADER_BYTES)
        return 0;
    int64_t held = window_at(s, pos, BATCH_HEADER_BYTES, span > BATCH_HEADER_BYTES ? span : BATCH_HEADER_BYTES, limit);
    if (held < 0)
        return (int)held;
    if (held < BATCH_HEADER_BYTES)
        return 0;
    int rc = sl_batch_header_decode(s->win_at + (pos - s->win_pos), h);
    return rc ? batch_error(s, pos, rc) : 1;
}

/* Bytes from index entry i's batch to entry i + 1's: exactly that batch
 * when every batch is indexed (the default interval is far below the
 * default batch size), several small ones otherwise, capped at one
 * window read. 0 for the last entry (unknown) or entries out of order. */
static uint64_t entry_span(const segment *s, uint32_t i, uint32_t pos)
{
    if (i + 1 >= sl_index_count(s->oix))
        return 0;
    uint32_t rel, next;
    sl_index_entry_offset(s->oix, i + 1, &rel, &next);
    if (next <= pos)
        return 0;
    return next - pos < WINDOW_READ_BYTES ? next - pos : WINDOW_READ_BYTES;
}

/* Is the batch at pos the one index entry i (for rel) names (*h: its
 * header)? 1 yes, 0 no (an index fault), or an I/O error. */
static int entry_matches(segment *s, uint32_t i, uint32_t rel, uint32_t pos, uint64_t limit, batch_header *h)
{
    int rc = indexed_header(s, pos, entry_span(s, i, pos), limit, h);
    if (rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION)
        return index_fault(s);
    if (rc < 0)
        return rc;
    if (rc != 1 || h->base_offset != s->base + rel)
        return index_fault(s);
    return 1;
}

int sl_segment_locate_offset(segment *s, uint64_t target, uint64_t limit, uint64_t *pos)
{
    *pos = 0;
    if (!s->oix || target <= s->base)
        return 0;
    uint64_t want = target - s->base;
    uint32_t rel, at;
    uint32_t n = sl_index_lookup_offset(s->oix, want > UINT32_MAX ? UINT32_MAX : (uint32_t)want, &rel, &at);
    if (rel == 0)
        return 0;
    batch_header h;
    int rc = entry_matches(s, n - 1, rel, at, limit, &h);
    if (rc > 0)
        *pos = at;
    return rc < 0 ? rc : 0;
}

int sl_segment_locate_time(segment *s, int64_t ts, uint64_t limit, uint64_t *pos)
{
    *pos = 0;
    if (!s->oix || !s->tix)
        return 0;
    uint32_t rel, rel_found, at;
    uint32_t n = sl_index_lookup_time(s->tix, ts, &rel);
    if (rel == 0)
        return 0;
    uint32_t k = sl_index_lookup_offset(s->oix, rel, &rel_found, &at);
    if (rel_found != rel)
        return index_fault(s);
    /* The batch found must be the one the entry's time bound was
     * computed for. */
    batch_header h;
    int rc = entry_matches(s, k - 1, rel, at, limit, &h);
    if (rc > 0 && !sl_index_entry_time_matches(s->tix, n - 1, h.body_checksum))
        return index_fault(s);
    if (rc > 0)
        *pos = at;
    return rc < 0 ? rc : 0;
}

uint32_t sl_segment_index_faults(const segment *s)
{
    return s->index_faults;
}

/* ---- index files ---- */

static int open_indexes(segment *s, unsigned flags, uint32_t capacity)
{
    char path[PATH_MAX];
    uint32_t mode = s->p.file_mode;
    sibling_path(s, path, ".oix");
    int rc = sl_index_open(s->io, path, INDEX_KIND_OFFSET, s->base, capacity, flags, mode, &s->oix);
    if (rc == 0) {
        sibling_path(s, path, ".tix");
        rc = sl_index_open(s->io, path, INDEX_KIND_TIME, s->base, capacity, flags, mode, &s->tix);
    }
    if (rc) {
        sl_index_close(s->oix);
        s->oix = NULL;
    }
    return rc;
}

static void close_indexes(segment *s)
{
    sl_index_close(s->oix);
    sl_index_close(s->tix);
    s->oix = s->tix = NULL;
}

static int rename_sibling(const segment *s, const char *from, const char *ext)
{
    char to[PATH_MAX];
    sibling_path(s, to, ext);
    int e = s->io->rename(s->io, from, to);
    return e < 0 ? sl_err_errno(e, "rename of %s to %s", from, to) : 0;
}

/* Rebuild both indexes from the valid prefix of the file: fill new files
 * beside the old ones, sync them, rename them over, sync the directory.
 * Indexes still open (verify --repair of an active segment) are closed
 * first: their mappings and descriptors would outlive the handles. */
static int rebuild_indexes(segment *s, uint64_t file_bytes)
{
    close_indexes(s);
    char tmp_o[PATH_MAX], tmp_t[PATH_MAX];
    sibling_path(s, tmp_o, ".oix.tmp");
    sibling_path(s, tmp_t, ".tix.tmp");
    uint32_t capacity = index_capacity_for(&s->p, file_bytes);
    uint32_t mode = s->p.file_mode;
    int rc = sl_index_open(s->io, tmp_o, INDEX_KIND_OFFSET, s->base, capacity, IO_CREATE | IO_EXCL | IO_WRITE, mode,
                        &s->oix);
    if (rc == 0)
        rc = sl_index_open(s->io, tmp_t, INDEX_KIND_TIME, s->base, capacity, IO_CREATE | IO_EXCL | IO_WRITE, mode,
                        &s->tix);
    seg_state st = state_empty(s);
    s->last_index_pos = 0;
    if (rc == 0)
        rc = walk_valid(s, &st, file_bytes, 1);
    if (rc == 0)
        rc = sl_index_sync(s->oix);
    if (rc == 0)
        rc = sl_index_sync(s->tix);
    close_indexes(s);
    if (rc == 0)
        rc = rename_sibling(s, tmp_o, ".oix");
    if (rc == 0)
        rc = rename_sibling(s, tmp_t, ".tix");
    if (rc == 0) {
        int e = s->io->sync_dir(s->io, s->dir);
        if (e < 0)
            rc = sl_err_errno(e, "fsync of directory %s", s->dir);
    }
    if (rc) {
        s->io->unlink(s->io, tmp_o);
        s->io->unlink(s->io, tmp_t);
        return rc;
    }
    return open_indexes(s, IO_WRITE, 0);
}

/* ---- summary sidecar ---- */

static void summary_encode(const segment *s, uint8_t out[SUM_BYTES_TOTAL])
{
    memset(out, 0, SUM_BYTES_TOTAL);
    put_le32(out + SUM_MAGIC, SEGMENT_SUMMARY_MAGIC);
    put_le16(out + SUM_VERSION, SEGMENT_SUMMARY_VERSION);
    put_le64(out + SUM_BASE_OFFSET, s->base);
    put_le64(out + SUM_NEXT_OFFSET, s->st.next_offset);
    put_le64(out + SUM_RECORD_COUNT, s->st.record_count);
    put_le64(out + SUM_BYTES, s->st.pos);
    put_le64(out + SUM_MAX_TS, (uint64_t)s->st.max_ts);
    put_le64(out + SUM_CREATED, (uint64_t)s->created_us);
    put_le64(out + SUM_CHECKSUM, XXH3_64bits(out, SUM_CHECKSUM));
}

/* Replace the .sum sidecar with the segment's current state. */
static int summary_write(segment *s)
{
    uint8_t sum[SUM_BYTES_TOTAL];
    summary_encode(s, sum);
    char path[PATH_MAX];
    sibling_path(s, path, ".sum");
    int rc = sl_io_replace_file(s->io, s->dir, path, sum, sizeof sum, s->p.file_mode);
    if (rc < 0)
        return sl_err_errno(rc, "atomic replace of %s", path);
    s->vouched_bytes = s->st.pos;
    return 0;
}

/* Read and validate the .sum sidecar. 0, SIGLOG_ENOENT, SIGLOG_ECORRUPT,
 * SIGLOG_EVERSION or an I/O error. */
static int summary_read(const segment *s, seg_summary *sum)
{
    char path[PATH_MAX];
    sibling_path(s, path, ".sum");
    void *data = NULL;
    size_t len = 0;
    int rc = sl_io_read_file(s->io, path, SUM_BYTES_TOTAL, &data, &len);
    if (rc < 0)
        return rc == -EFBIG ? sl_err_set(SIGLOG_ECORRUPT, "%s: longer than %d bytes", path, SUM_BYTES_TOTAL)
                            : sl_err_errno(rc, "read of %s", path);
    const uint8_t *b = data;
    if (len != SUM_BYTES_TOTAL)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: %zu bytes, expected %d", path, len, SUM_BYTES_TOTAL);
    else if (get_le32(b + SUM_MAGIC) != SEGMENT_SUMMARY_MAGIC)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: not a segment summary (bad magic)", path);
    else if (get_le64(b + SUM_CHECKSUM) != XXH3_64bits(b, SUM_CHECKSUM))
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: checksum mismatch", path);
    else if (get_le16(b + SUM_VERSION) != SEGMENT_SUMMARY_VERSION)
        rc = sl_err_set(SIGLOG_EVERSION, "%s: summary version %u, this build reads version %u", path,
                     get_le16(b + SUM_VERSION), SEGMENT_SUMMARY_VERSION);
    else if (get_le16(b + SUM_RESERVED) != 0)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: reserved bytes are not zero", path);
    else if (get_le64(b + SUM_BASE_OFFSET) != s->base)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: base offset %" PRIu64 ", expected %" PRIu64, path,
                     get_le64(b + SUM_BASE_OFFSET), s->base);
    if (rc == 0) {
        *sum = (seg_summary){
            .next_offset = get_le64(b + SUM_NEXT_OFFSET),
            .record_count = get_le64(b + SUM_RECORD_COUNT),
            .bytes = get_le64(b + SUM_BYTES),
            .max_ts = (int64_t)get_le64(b + SUM_MAX_TS),
            .created_us = (int64_t)get_le64(b + SUM_CREATED),
        };
        int empty = sum->record_count == 0;
        if (sum->next_offset < s->base || sum->record_count > sum->next_offset - s->base ||
            empty != (sum->max_ts == INT64_MIN) || empty != (sum->bytes == 0))
            rc = sl_err_set(SIGLOG_ECORRUPT, "%s: inconsistent counts", path);
    }
    free(data);
    return rc;
}

/* ---- lifecycle ---- */

static int segment_alloc(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset, int writable,
                         const segment_params *p, segment **out)
{
    *out = NULL;
    if (strlen(dir) + SEGMENT_PATH_EXTRA >= PATH_MAX)
        return sl_err_set(SIGLOG_EINVAL, "directory name too long: %s", dir);
    if (strlen(stem) > SEGMENT_STEM_MAX)
        return sl_err_set(SIGLOG_EINVAL, "segment name too long: %s", stem);
    segment *s = calloc(1, sizeof *s);
    if (!s)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory opening a segment in %s", dir);
    s->io = io;
    s->fd = -1;
    s->trusted_offset = UINT64_MAX;
    s->writable = writable;
    s->base = base_offset;
    strcpy(s->stem, stem);
    if (p)
        s->p = *p;
    if (!s->p.file_mode)
        s->p.file_mode = DEFAULT_FILE_MODE;
    s->st = state_empty(s);
    s->dir = strdup(dir);
    s->path = malloc(PATH_MAX);
    if (!s->dir || !s->path) {
        sl_segment_close(s);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory opening a segment in %s", dir);
    }
    sibling_path(s, s->path, ".seg");
    *out = s;
    return 0;
}

int sl_segment_create(const siglog_io *io, const char *dir, uint64_t base_offset, const segment_params *p,
                   segment **out)
{
    char stem[SEGMENT_STEM_MAX + 1];
    sl_segment_stem(stem, base_offset);
    return sl_segment_create_at(io, dir, stem, base_offset, p, out);
}

/* excl: IO_EXCL for every file (a rewrite's temporary names), or 0 (an
 * empty file left by a crash during an earlier create is taken over). */
static int create_files(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset,
                        const segment_params *p, unsigned excl, segment **out)
{
    segment *s;
    int rc = segment_alloc(io, dir, stem, base_offset, 1, p, &s);
    if (rc)
        return rc;
    s->fd = io->open_file(io, s->path, IO_CREATE | IO_WRITE | excl, s->p.file_mode);
    uint64_t size = 0;
    if (s->fd < 0) {
        rc = sl_err_errno(s->fd, "create of %s", s->path);
    } else if ((rc = io->file_size(io, s->fd, &size)) < 0) {
        rc = sl_err_errno(rc, "size of %s", s->path);
    } else if (size != 0) {
        /* An empty file is what a crash during an earlier create leaves. */
        rc = sl_err_set(SIGLOG_EEXIST, "%s already exists and holds %" PRIu64 " bytes", s->path, size);
    } else {
        rc = open_indexes(s, IO_CREATE | IO_WRITE | IO_TRUNC | excl, index_capacity_for(&s->p, 0));
    }
    if (rc) {
        sl_segment_close(s);
        return rc;
    }
    /* The new indexes are not synced here: an active segment's indexes
     * vouch for nothing until its seal syncs them read-only, before the
     * summary that vouches for the segment (sl_segment_seal). A writer's
     * open checks them against the segment and rebuilds unusable ones
     * (sl_segment_open_at); a reader that finds them unusable scans. */
    s->created_us = io->now_us(io);
    s->adopted = 1;
    if ((rc = summary_write(s)) != 0) {
        sl_segment_close(s);
        return rc;
    }
    s->durable_offset = base_offset; /* the empty summary vouches for that */
    *out = s;
    return 0;
}

int sl_segment_create_at(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset,
                      const segment_params *p, segment **out)
{
    return create_files(io, dir, stem, base_offset, p, 0, out);
}

int sl_segment_create_fresh(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset,
                         const segment_params *p, segment **out)
{
    return create_files(io, dir, stem, base_offset, p, IO_EXCL, out);
}

int sl_segment_open(const siglog_io *io, const char *dir, uint64_t base_offset, int writable, const segment_params *p,
                 segment **out)
{
    char stem[SEGMENT_STEM_MAX + 1];
    sl_segment_stem(stem, base_offset);
    return sl_segment_open_at(io, dir, stem, base_offset, writable, p, out);
}

int sl_segment_open_at(const siglog_io *io, const char *dir, const char *stem, uint64_t base_offset, int writable,
                    const segment_params *p, segment **out)
{
    segment *s;
    int rc = segment_alloc(io, dir, stem, base_offset, writable, p, &s);
    if (rc)
        return rc;
    uint64_t size = 0;
    s->fd = io->open_file(io, s->path, writable ? IO_WRITE : IO_READ, 0);
    if (s->fd < 0) {
        rc = sl_err_errno(s->fd, "open of %s", s->path);
        goto fail;
    }
    if ((rc = io->file_size(io, s->fd, &size)) < 0) {
        rc = sl_err_errno(rc, "size of %s", s->path);
        goto fail;
    }

    if (writable) {
        rc = open_indexes(s, IO_WRITE, 0);
        if (rc == SIGLOG_ECORRUPT || rc == SIGLOG_ENOENT) {
            rc = rebuild_indexes(s, size);
            s->indexes_rebuilt = rc == 0;
        }
        if (rc)
            goto fail;
    } else if (open_indexes(s, IO_READ, 0) != 0) {
        s->oix = s->tix = NULL; /* unusable: locate answers 0, callers scan */
    }

    seg_summary sum;
    s->durable_offset = base_offset;
    if (summary_read(s, &sum) == 0) {
        s->created_us = sum.created_us;
        /* The summary was written after a sync of the first sum.bytes
         * bytes, which are never rewritten in place: a shorter file was
         * damaged, never a torn write (see "Vouched bytes" above). */
        s->durable_offset = sum.next_offset;
        s->vouched_bytes = sum.bytes;
        if (!writable && sum.bytes == size)
            s->st = (seg_state){.pos = sum.bytes, .next_offset = sum.next_offset, .record_count = sum.record_count,
                                .max_ts = sum.max_ts};
    } else {
        s->created_us = io->now_us(io);
    }
    if (!writable)
        s->st.pos = size > s->vouched_bytes ? size : s->vouched_bytes;
    sl_err_clear();
    *out = s;
    return 0;

fail:
    sl_segment_close(s);
    return rc;
}

int sl_segment_open_window(const siglog_io *io, int fd, const char *path, uint64_t origin,
                           const segment_window *w, segment **out)
{
    char stem[SEGMENT_STEM_MAX + 1];
    sl_segment_stem(stem, w->base_offset);
    segment *s;
    int rc = segment_alloc(io, "/", stem, w->base_offset, 0, NULL, &s);
    if (rc) {
        io->close_file(io, fd);
        return rc;
    }
    s->fd = fd;
    s->origin = origin;
    s->sealed = 1;
    /* Its bytes were checked whole when the archive was opened: they are
     * vouched for, so a file cut since reads as damage, not as an end. */
    s->vouched_bytes = w->bytes;
    s->durable_offset = w->next_offset;
    s->created_us = io->now_us(io);
    s->st = (seg_state){.pos = w->bytes, .next_offset = w->next_offset, .record_count = w->record_count,
                        .max_ts = w->max_timestamp_us};
    snprintf(s->path, PATH_MAX, "%s (batches from byte %" PRIu64 ")", path, origin);
    *out = s;
    return 0;
}

void sl_segment_close(segment *s)
{
    if (!s)
        return;
    close_indexes(s);
    if (s->fd >= 0)
        s->io->close_file(s->io, s->fd);
    sl_bytebuf_free(&s->scratch);
    sl_bytebuf_free(&s->decoded);
    sl_bytebuf_free(&s->win);
    free(s->dir);
    free(s->path);
    free(s);
}

/* ---- recovery ---- */

int sl_segment_find_batch(segment *s, uint64_t from, uint64_t limit, uint64_t min_offset, uint64_t *pos,
                       batch_header *h)
{
    static const uint8_t magic[4] = {BATCH_MAGIC & 0xff, (BATCH_MAGIC >> 8) & 0xff, (BATCH_MAGIC >> 16) & 0xff,
                                     BATCH_MAGIC >> 24};
    bytebuf *buf = &s->scratch;
    buf->len = 0;
    int rc = sl_bytebuf_reserve(buf, DAMAGE_CHUNK_BYTES + BATCH_HEADER_BYTES);
    if (rc)
        return rc;
    /* Chunks overlap by a header's length less one byte, so that every
     * start position is tried with its whole header in view. */
    for (uint64_t p = from; p < limit && limit - p >= BATCH_HEADER_BYTES; p += DAMAGE_CHUNK_BYTES) {
        uint64_t want = limit - p;
        if (want > DAMAGE_CHUNK_BYTES + BATCH_HEADER_BYTES - 1)
            want = DAMAGE_CHUNK_BYTES + BATCH_HEADER_BYTES - 1;
        ssize_t got = seg_pread(s, buf->data, (size_t)want, p);
        if (got < 0)
            return sl_err_errno((int)got, "read of %s at byte %" PRIu64, s->path, p);
        size_t n = (size_t)got, i = 0;
        while (n - i >= BATCH_HEADER_BYTES) {
            const uint8_t *c = memmem(buf->data + i, n - i, magic, sizeof magic);
            if (!c || (size_t)(buf->data + n - c) < BATCH_HEADER_BYTES)
                break;
            if (sl_batch_header_decode(c, h) == 0 && h->base_offset >= min_offset) {
                *pos = p + (uint64_t)(c - buf->data);
                return 1;
            }
            i = (size_t)(c - buf->data) + 1;
        }
    }
    return 0;
}

/* After damage at t->valid_bytes: find the valid batch that follows it
 * (proof that the invalid batch is damage in the middle of the log, not a
 * torn tail) and the end of the valid run from there. */
static int scan_past_damage(segment *s, uint64_t size, segment_tail *t)
{
    batch_header h;
    uint64_t at;
    int rc = sl_segment_find_batch(s, t->valid_bytes + 1, size, t->next_offset, &at, &h);
    if (rc <= 0)
        return rc;
    t->damaged = 1;
    t->damage_next_pos = at;
    t->damage_next_offset = h.base_offset;
    seg_state after = {.pos = at, .next_offset = h.base_offset, .max_ts = INT64_MIN};
    if ((rc = walk_valid(s, &after, size, 0)) != 0)
        return rc;
    if (t->vouched_damage && after.pos > t->end_bytes) {
        t->end_bytes = after.pos;
        t->end_offset = after.next_offset;
    }
    return 0;
}

int sl_segment_scan_tail(segment *s, segment_tail *t)
{
    memset(t, 0, sizeof *t);
    uint64_t size = 0;
    int rc = s->io->file_size(s->io, s->fd, &size);
    if (rc < 0)
        return sl_err_errno(rc, "size of %s", s->path);
    seg_state st;
    resume_point(s, size, &st);
    if ((rc = walk_valid(s, &st, size, 0)) != 0)
        return rc;
    t->valid_bytes = t->end_bytes = st.pos;
    t->file_bytes = size;
    t->next_offset = t->end_offset = st.next_offset;
    t->max_timestamp_us = st.max_ts;
    t->record_count = st.record_count;
    if (st.pos < s->vouched_bytes) {
        t->vouched_damage = 1;
        t->end_bytes = s->vouched_bytes;
        if (s->durable_offset > t->end_offset)
            t->end_offset = s->durable_offset;
    }
    if (st.pos < size && (rc = scan_past_damage(s, size, t)) != 0)
        return rc;
    sl_err_clear();
    return 0;
}

int sl_segment_truncate(segment *s, uint64_t valid_bytes)
{
    int rc = require_writable(s, "truncate");
    if (rc)
        return rc;
    uint64_t size = 0;
    if ((rc = s->io->file_size(s->io, s->fd, &size)) < 0)
        return sl_err_errno(rc, "size of %s", s->path);
    if (valid_bytes > size)
        return sl_err_set(SIGLOG_EINVAL, "%s: cannot truncate %" PRIu64 " bytes to %" PRIu64, s->path, size,
                       valid_bytes);
    /* Drop the index entries first: an entry must never name a byte
     * position beyond the file. */
    uint32_t k = sl_index_count(s->oix), kt = sl_index_count(s->tix);
    while (k > 0) {
        uint32_t rel, pos;
        sl_index_entry_offset(s->oix, k - 1, &rel, &pos);
        if (pos < valid_bytes)
            break;
        k--;
    }
    if (kt < k)
        k = kt;
    sl_index_truncate(s->oix, k);
    sl_index_truncate(s->tix, k);
    if ((rc = s->io->ftruncate(s->io, s->fd, valid_bytes)) < 0)
        return sl_err_errno(rc, "truncate of %s to %" PRIu64 " bytes", s->path, valid_bytes);
    if ((rc = s->io->fdatasync(s->io, s->fd)) < 0)
        return sl_err_errno(rc, "fdatasync of %s", s->path);
    /* Cutting exactly at the end of the adopted state (after a failed
     * append left part of a write behind) keeps that state; any other cut
     * must be followed by a scan and sl_segment_adopt_tail. */
    if (valid_bytes != s->st.pos)
        s->adopted = 0;
    return 0;
}

int sl_segment_rebuild_indexes(segment *s)
{
    int rc = require_writable(s, "rebuild indexes");
    uint64_t size = 0;
    if (!rc && (rc = s->io->file_size(s->io, s->fd, &size)) < 0)
        rc = sl_err_errno(rc, "size of %s", s->path);
    return rc ? rc : rebuild_indexes(s, size);
}

int sl_segment_indexes_rebuilt(const segment *s)
{
    return s->indexes_rebuilt;
}

uint64_t sl_segment_durable_offset(const segment *s)
{
    return s->durable_offset;
}

int sl_segment_checkpoint(segment *s)
{
    int rc = require_writable(s, "checkpoint");
    if (!rc && !s->adopted)
        rc = sl_err_set(SIGLOG_EINVAL, "%s: checkpoint before the tail was scanned and adopted", s->path);
    if (!rc && (s->sealed || s->durable_offset == s->st.next_offset))
        return 0; /* its summary is final, or vouches for all of it */
    if (!rc)
        rc = sl_segment_sync(s);
    if (!rc)
        rc = summary_write(s);
    if (!rc)
        s->durable_offset = s->st.next_offset;
    return rc;
}

void sl_segment_trust_below(segment *s, uint64_t offset)
{
    s->trusted_offset = offset;
}

int sl_segment_adopt_tail(segment *s, const segment_tail *t)
{
    int rc = require_writable(s, "adopt tail");
    if (rc)
        return rc;
    seg_state st;
    uint32_t keep = resume_point(s, t->valid_bytes, &st);
    sl_index_truncate(s->oix, keep);
    sl_index_truncate(s->tix, keep);
    s->last_index_pos = st.pos;
    if ((rc = walk_valid(s, &st, t->valid_bytes, 1)) != 0)
        return rc;
    if (st.pos != t->valid_bytes || st.next_offset != t->next_offset)
        return sl_err_set(SIGLOG_ECORRUPT,
                       "%s: the valid prefix now ends at byte %" PRIu64 " (offset %" PRIu64 "), the tail scan found %" PRIu64
                       " (offset %" PRIu64 "): the file changed during recovery",
                       s->path, st.pos, st.next_offset, t->valid_bytes, t->next_offset);
    s->st = st;
    s->writeback_pos = st.pos;
    s->adopted = 1;
    return 0;
}

/* ---- writing ---- */

/* The batches about to be appended must be what the metas say, continue the
 * segment's offsets, and stay addressable by 32-bit index entries. */
static int append_check(const segment *s, const uint8_t *buf, size_t len, const batch_meta *metas, size_t n)
{
    if (n == 0)
        return sl_err_set(SIGLOG_EINVAL, "%s: append of no batches", s->path);
    uint64_t next = s->st.next_offset, pos = s->st.pos;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const batch_meta *m = &metas[i];
        batch_header h;
        if (m->bytes < BATCH_HEADER_BYTES || m->bytes > len - at)
            return sl_err_set(SIGLOG_EINVAL, "%s: batch %zu of %u bytes does not fit the %zu-byte buffer", s->path, i,
                           m->bytes, len);
        if (sl_batch_header_decode(buf + at, &h) != 0)
            return batch_error(s, pos, SIGLOG_EINVAL);
        if (h.base_offset != m->base_offset || h.record_count != m->record_count ||
            h.last_offset_delta != m->last_offset_delta ||
            BATCH_HEADER_BYTES + (uint64_t)h.body_len != m->bytes || h.max_timestamp_us != m->max_timestamp_us ||
            h.body_checksum != m->body_checksum)
            return sl_err_set(SIGLOG_EINVAL, "%s: batch %zu disagrees with its description", s->path, i);
        if (m->base_offset != next)
            return sl_err_set(SIGLOG_EINVAL, "%s: batch %zu starts at offset %" PRIu64 ", expected %" PRIu64, s->path,
                           i, m->base_offset, next);
        if (m->base_offset - s->base > UINT32_MAX || pos > UINT32_MAX)
            return sl_err_set(SIGLOG_ELIMIT,
                           "%s: batch at offset %" PRIu64 " / byte %" PRIu64 " is beyond the 32-bit range of a segment",
                           s->path, m->base_offset, pos);
        next = batch_meta_end_offset(m);
        pos += m->bytes;
        at += m->bytes;
    }
    if (at != len)
        return sl_err_set(SIGLOG_EINVAL, "%s: %zu bytes of batches described, %zu given", s->path, at, len);
    return 0;
}

/* The bytes written since the last hint go to write-back once there are
 * writeback_bytes of them. Without it the kernel holds them dirty (up to
 * its background ratio, gigabytes here) and the seal's fdatasync writes
 * the whole segment while the partition's appenders wait for its lock. A
 * failed hint is ignored: the sync reports what write-back could not do. */
static void writeback_hint(segment *s)
{
    uint64_t pending = s->st.pos - s->writeback_pos;
    if (!s->p.writeback_bytes || !s->io->writeback || pending < s->p.writeback_bytes)
        return;
    (void)s->io->writeback(s->io, s->fd, s->writeback_pos, pending);
    s->writeback_pos = s->st.pos;
}

int sl_segment_append(segment *s, const uint8_t *buf, size_t len, const batch_meta *metas, size_t n)
{
    int rc = require_writable(s, "append");
    if (rc)
        return rc;
    if (!s->adopted)
        return sl_err_set(SIGLOG_EINVAL, "%s: append before the tail was scanned and adopted", s->path);
    if ((rc = append_check(s, buf, len, metas, n)) != 0)
        return rc;
    if ((rc = sl_io_write_all(s->io, s->fd, buf, len, s->st.pos)) < 0)
        return sl_err_errno(rc, "write of %zu bytes to %s at byte %" PRIu64, len, s->path, s->st.pos);
    for (size_t i = 0; i < n; i++)
        state_add(s, &s->st, 1, &metas[i]);
    writeback_hint(s);
    return 0;
}

int sl_segment_sync(segment *s)
{
    int rc = s->io->fdatasync(s->io, s->fd);
    if (rc < 0)
        return sl_err_errno(rc, "fdatasync of %s", s->path);
    return 0;
}

int sl_segment_seal(segment *s)
{
    return sl_segment_seal_keyed(s, NULL);
}

int sl_segment_seal_keyed(segment *s, const key_set *keys)
{
    int rc = require_writable(s, "seal");
    if (rc)
        return rc;
    if (!s->adopted)
        return sl_err_set(SIGLOG_EINVAL, "%s: seal before the tail was scanned and adopted", s->path);
    /* The indexes go read-only before their last sync: a sealed segment's
     * index is durable once its summary is, and nothing writes it after. */
    if ((rc = sl_segment_sync(s)) != 0 || (rc = sl_index_seal(s->oix)) != 0 || (rc = sl_index_seal(s->tix)) != 0)
        return rc;
    if ((rc = summary_write(s)) != 0 || (rc = sl_keyfilter_write_segment(s, keys)) != 0)
        return rc;
    s->sealed = 1;
    return 0;
}

int sl_segment_replace_sidecar(segment *s, const char *ext, const void *data, size_t len)
{
    char path[PATH_MAX];
    sibling_path(s, path, ext);
    int rc = sl_io_replace_file(s->io, s->dir, path, data, len, s->p.file_mode);
    return rc < 0 ? sl_err_errno(rc, "atomic replace of %s", path) : 0;
}

/* ---- accessors ---- */

uint64_t sl_segment_base_offset(const segment *s)
{
    return s->base;
}

uint64_t sl_segment_record_count(const segment *s)
{
    return s->st.record_count;
}

uint64_t sl_segment_summary_checksum(const segment *s)
{
    uint8_t sum[SUM_BYTES_TOTAL];
    summary_encode(s, sum);
    return XXH3_64bits(sum, sizeof sum);
}

uint64_t sl_segment_next_offset(const segment *s)
{
    return s->st.next_offset;
}

uint64_t sl_segment_size(const segment *s)
{
    return s->st.pos;
}

uint64_t sl_segment_index_bytes(const segment *s)
{
    return (s->oix ? sl_index_file_bytes(s->oix) : 0) + (s->tix ? sl_index_file_bytes(s->tix) : 0);
}

int64_t sl_segment_max_timestamp(const segment *s)
{
    return s->st.max_ts;
}

int64_t sl_segment_created_us(const segment *s)
{
    return s->created_us;
}

const char *sl_segment_file_path(const segment *s)
{
    return s->path;
}
