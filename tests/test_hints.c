/*
 * hints — indexes are hints, never truth: with any field of an offset or
 * time index entry damaged (of a sealed and of the active segment), seeks
 * by offset and by time answer exactly what a full scan does, and
 * verify --repair puts back the index a writer derives from the segment.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_crash.h"
#include "support.h"

#define EVENTS 1600
#define SEED 31
#define HEADER 64 /* index file header bytes */

static char *dir, *pdir;
static uint64_t sealed_base, sealed_end, active_base, active_end; /* first and last segment */

static int64_t ts_of(uint64_t i)
{
    test_event t;
    test_event_make(&t, SEED, i);
    return t.ev.timestamp_us;
}

/* Stream "h" of s, one batch per event, EVENTS of them: a few segments. */
static siglog_stream *fill(siglog *s)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 1;
    c.sync_policy = SIGLOG_SYNC_NONE;
    c.segment_bytes_max = 64 * 1024;
    c.index_interval_bytes = 256; /* about every batch indexed */
    cr_assert_eq(siglog_stream_create(s, "h", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "h", &st), 0);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, SEED, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_flush(s), 0); /* one batch each */
    }
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(st, 0, &pi), 0);
    cr_assert_geq(pi.segment_count, 3);
    return st;
}

static void setup(void)
{
    dir = test_tmpdir("hints");
    pdir = test_path(dir, "streams/h/00000");
    siglog *s = test_store_open(dir, NULL);
    fill(s);
    cr_assert_eq(siglog_close(s), 0);
    /* Segment bases: the first is sealed, the last active. */
    int found = 0;
    for (uint64_t b = 0; b < EVENTS; b++) {
        char name[64];
        snprintf(name, sizeof name, "%020" PRIu64 ".seg", b);
        char *p = test_path(pdir, name);
        FILE *f = fopen(p, "rb");
        free(p);
        if (!f)
            continue;
        fclose(f);
        if (found++ == 1)
            sealed_end = b;
        active_base = b;
    }
    sealed_base = 0;
    active_end = EVENTS;
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
    free(pdir);
}

TestSuite(hints, .init = setup, .fini = teardown, .timeout = 240);

static uint8_t *slurp(const char *path, uint64_t *len)
{
    *len = test_file_size(path);
    uint8_t *b = malloc(*len);
    FILE *f = fopen(path, "rb");
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static char *index_path(uint64_t base, const char *ext)
{
    char name[64];
    snprintf(name, sizeof name, "%020" PRIu64 "%s", base, ext);
    return test_path(pdir, name);
}

/* Relative offsets of the entries of an index image (rel_offset at
 * rel_at in each entry_bytes slot, up to the first zero). */
static size_t entry_rels(const uint8_t *img, uint64_t len, uint32_t entry_bytes, uint32_t rel_at, uint32_t *rels,
                         size_t max)
{
    size_t n = 0;
    for (uint64_t at = HEADER; at + entry_bytes <= len && n < max; at += entry_bytes) {
        uint32_t rel;
        memcpy(&rel, img + at + rel_at, 4);
        if (rel == 0)
            break;
        rels[n++] = rel;
    }
    return n;
}

/* Seeks by offset and by time to the records around `rel` (and the
 * segment's edges) land where a full scan says: the first record is the
 * one asked for and the rest follow in order. */
static void assert_seeks_exact(siglog_stream *st, uint64_t base, uint64_t end, uint32_t rel, const char *what)
{
    uint64_t targets[] = {base, base + 1, base + rel - 1, base + rel, base + rel + 1, end - 1};
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        uint64_t want = targets[t];
        if (want < base || want >= end)
            continue;
        for (int by_time = 0; by_time < 2; by_time++) {
            int rc = by_time ? siglog_cursor_seek(c, SIGLOG_SEEK_TIME, ts_of(want))
                             : siglog_cursor_seek(c, SIGLOG_SEEK_OFFSET, (int64_t)want);
            cr_assert_eq(rc, 0, "%s: %s", what, siglog_errdetail());
            /* Timestamps grow with the offset here: a full scan's first
             * record at or after ts_of(want) is `want` itself. */
            for (uint64_t k = 0; k < 3 && want + k < EVENTS; k++) {
                const siglog_record *r;
                rc = siglog_cursor_next(c, &r);
                cr_assert_eq(rc, 1, "%s: seek %s %" PRIu64 ": %s", what, by_time ? "time of" : "offset", want,
                             siglog_errdetail());
                cr_assert_eq(r->offset, want + k, "%s: seek by %s to %" PRIu64 " read offset %" PRIu64, what,
                             by_time ? "time" : "offset", want, r->offset);
                test_event e;
                test_event_make(&e, SEED, want + k);
                test_assert_record_eq(r, &e.ev);
            }
        }
    }
    siglog_cursor_close(c);
}

static int warnings;
static void count_warnings(void *ctx, int level, const char *msg)
{
    (void)ctx;
    warnings += level == SIGLOG_LOG_WARN && strstr(msg, "index entry does not match") != NULL;
}

static void write_at(const char *path, const uint8_t *img, uint64_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_eq(fwrite(img, 1, len, f), len);
    fclose(f);
}

/* Damage every byte of a few entries of one index of the segment at
 * base, in turn (two bit patterns each), and check every seek and the
 * repair. */
static void damage_entries(uint64_t base, uint64_t end, const char *ext, uint32_t entry_bytes, uint32_t rel_at)
{
    char *path = index_path(base, ext);
    uint64_t len;
    uint8_t *img = slurp(path, &len);
    uint32_t rels[4096];
    size_t n = entry_rels(img, len, entry_bytes, rel_at, rels, 4096);
    cr_assert_geq(n, 8, "%s has %zu entries", path, n);
    size_t pick[] = {0, n / 2, n - 1};
    siglog_options ro;
    siglog_options_default(&ro);
    ro.read_only = 1;
    ro.log_fn = count_warnings;
    for (size_t p = 0; p < 3; p++) {
        for (uint32_t byte = 0; byte < entry_bytes; byte++) {
            static const uint8_t masks[] = {0x01, 0x80};
            for (int m = 0; m < 2; m++) {
                write_at(path, img, len);
                test_flip_byte(path, HEADER + pick[p] * entry_bytes + byte, masks[m]);
                char what[128];
                snprintf(what, sizeof what, "%s entry %zu byte %u mask 0x%02x", ext, pick[p], byte, masks[m]);
                siglog *s;
                cr_assert_eq(siglog_open(&s, dir, &ro), 0, "%s", siglog_errdetail());
                siglog_stream *st;
                cr_assert_eq(siglog_stream_get(s, "h", &st), 0);
                warnings = 0;
                assert_seeks_exact(st, base, end, rels[pick[p]], what);
                cr_assert_eq(siglog_close(s), 0);
                /* A damaged check leaves the entry valid in form: the time
                 * seek to its batch uses it, finds it wrong and says so.
                 * (Not the active segment's last entry: a writer's
                 * recovery before reading may have re-indexed it.) */
                if (entry_bytes == 16 && byte >= 12 && !(base == active_base && p == 2))
                    cr_assert_gt(warnings, 0, "%s: the wrong entry was reported", what);
                /* verify --repair rebuilds the index a writer derives,
                 * which is the one written while appending. */
                int rc = siglog_verify(dir, 1, NULL, NULL);
                cr_assert_eq(rc, 0, "%s: verify --repair: %s", what, siglog_errdetail());
                uint64_t got_len;
                uint8_t *got = slurp(path, &got_len);
                cr_assert(got_len == len && memcmp(got, img, len) == 0, "%s: the rebuilt index is the original",
                          what);
                free(got);
            }
        }
    }
    free(img);
    free(path);
}

Test(hints, damaged_offset_index_entries_of_a_sealed_segment)
{
    damage_entries(sealed_base, sealed_end, ".oix", 8, 0);
}

Test(hints, damaged_time_index_entries_of_a_sealed_segment)
{
    damage_entries(sealed_base, sealed_end, ".tix", 16, 8);
}

Test(hints, damaged_offset_index_entries_of_the_active_segment)
{
    damage_entries(active_base, active_end, ".oix", 8, 0);
}

Test(hints, damaged_time_index_entries_of_the_active_segment)
{
    damage_entries(active_base, active_end, ".tix", 16, 8);
}

/* ---- zeroed indexes: what a power cut does to an index it did not let
 * reach the disk (io_crash.h: a mapped file comes back zeroed, whole or
 * from a page boundary on, keeping its size) ---- */

typedef struct zeroing {
    const char *what;
    uint64_t oix_from, tix_from; /* zero from this byte on; UINT64_MAX: keep */
} zeroing;

#define OIX_ENTRY(k) (HEADER + (uint64_t)(k) * 8)
#define TIX_ENTRY(k) (HEADER + (uint64_t)(k) * 16)

static void zero_from(const char *path, const uint8_t *img, uint64_t len, uint64_t from)
{
    uint8_t *z = malloc(len);
    memcpy(z, img, len);
    if (from < len)
        memset(z + from, 0, len - from);
    write_at(path, z, len);
    free(z);
}

static int problems_seen;
static char problem_text[512];
static void note_problem(void *ctx, const char *file, uint64_t position, const char *what)
{
    (void)ctx;
    (void)position;
    problems_seen++;
    snprintf(problem_text, sizeof problem_text, "%s: %s", file, what);
}

/* A sealed segment's indexes zeroed whole or in part: reads by offset
 * and by time still answer exactly what a full scan does (nothing
 * skipped, nothing misplaced); verify says what a zeroed header is (an
 * index, derived from the segment, that repair rebuilds: no event named
 * as lost or damaged) and takes a zeroed tail for what it is, an index
 * with fewer entries, which the format allows; after repair the index is
 * the one the writer wrote. */
Test(hints, zeroed_indexes_of_a_sealed_segment_never_misplace_a_read)
{
    char *oix = index_path(sealed_base, ".oix"), *tix = index_path(sealed_base, ".tix");
    uint64_t olen, tlen;
    uint8_t *oimg = slurp(oix, &olen), *timg = slurp(tix, &tlen);
    uint32_t rels[4096];
    size_t n = entry_rels(oimg, olen, 8, 0, rels, 4096);
    cr_assert_geq(n, 8, "%s has %zu entries", oix, n);
    const zeroing cases[] = {
        {"both zeroed whole", 0, 0},
        {"the offset index zeroed whole", 0, UINT64_MAX},
        {"the time index zeroed whole", UINT64_MAX, 0},
        {"the time index zeroed from its middle entry", UINT64_MAX, TIX_ENTRY(n / 2)},
        {"the offset index zeroed from its middle entry", OIX_ENTRY(n / 2), UINT64_MAX},
        {"the offset index zeroed from a third, the time index from two thirds", OIX_ENTRY(n / 3),
         TIX_ENTRY(2 * n / 3)},
        {"the time index zeroed from a third, the offset index from two thirds", OIX_ENTRY(2 * n / 3),
         TIX_ENTRY(n / 3)},
        {"the entries zeroed, the headers kept", HEADER, HEADER},
    };
    siglog_options ro;
    siglog_options_default(&ro);
    ro.read_only = 1;
    siglog_verify_callbacks cb = {.problem = note_problem};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const zeroing *z = &cases[i];
        zero_from(oix, oimg, olen, z->oix_from);
        zero_from(tix, timg, tlen, z->tix_from);
        siglog *s;
        cr_assert_eq(siglog_open(&s, dir, &ro), 0, "%s", siglog_errdetail());
        siglog_stream *st;
        cr_assert_eq(siglog_stream_get(s, "h", &st), 0);
        /* Entries on both sides of each zeroed boundary, and the ends. */
        uint32_t picks[] = {rels[0],         rels[n / 3 - 1], rels[n / 3],    rels[n / 2 - 1],
                            rels[n / 2],     rels[2 * n / 3 - 1], rels[2 * n / 3], rels[n - 1]};
        for (size_t p = 0; p < sizeof picks / sizeof picks[0]; p++)
            assert_seeks_exact(st, sealed_base, sealed_end, picks[p], z->what);
        cr_assert_eq(siglog_close(s), 0);

        problems_seen = 0;
        int rc = siglog_verify(dir, 0, &cb, NULL);
        int header_gone = z->oix_from == 0 || z->tix_from == 0;
        if (header_gone) {
            cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s: verify: %s", z->what, siglog_errdetail());
            cr_assert_eq(problems_seen, (z->oix_from == 0) + (z->tix_from == 0), "%s: %s", z->what, problem_text);
            cr_assert_not_null(strstr(problem_text, "derived from the segment"), "%s: %s", z->what, problem_text);
            cr_assert_null(strstr(problem_text, "damage"), "%s: %s", z->what, problem_text);
        } else {
            cr_assert_eq(rc, 0, "%s: verify: %s (%s)", z->what, siglog_errdetail(), problem_text);
        }
        cr_assert_eq(siglog_verify(dir, 1, NULL, NULL), 0, "%s: verify --repair: %s", z->what, siglog_errdetail());
        if (header_gone) {
            uint64_t l1, l2;
            uint8_t *o = slurp(oix, &l1), *t = slurp(tix, &l2);
            cr_assert(l1 == olen && memcmp(o, oimg, olen) == 0, "%s: the rebuilt offset index is the original", z->what);
            cr_assert(l2 == tlen && memcmp(t, timg, tlen) == 0, "%s: the rebuilt time index is the original", z->what);
            free(o);
            free(t);
        }
    }
    write_at(oix, oimg, olen);
    write_at(tix, timg, tlen);
    free(oimg);
    free(timg);
    free(oix);
    free(tix);
}

/* A power cut (io_crash.h, every unsynced write dropped, every file a
 * writable mapping may have changed since its last sync zeroed) after
 * segments rolled: each sealed segment's indexes are on disk as they were
 * written, since the roll synced them and mapped them read-only; only the
 * active segment's may come back zeroed. */
Test(hints, a_power_cut_leaves_the_indexes_of_sealed_segments_as_written)
{
    char *cut = test_tmpdir("hints-cut");
    char *cut_pdir = test_path(cut, "streams/h/00000");
    io_crash *crash = io_crash_new(5);
    siglog *s = test_store_open(cut, io_crash_io(crash));
    fill(s);
    uint64_t bases[64];
    size_t nseg = test_segment_bases(cut_pdir, bases, 64);
    cr_assert_geq(nseg, 3);
    uint8_t *img[64][2];
    uint64_t len[64][2];
    static const char *const ext[2] = {".oix", ".tix"};
    for (size_t i = 0; i + 1 < nseg; i++)
        for (int e = 0; e < 2; e++) {
            char name[64];
            snprintf(name, sizeof name, "%020" PRIu64 "%s", bases[i], ext[e]);
            char *path = test_path(cut_pdir, name);
            img[i][e] = slurp(path, &len[i][e]);
            free(path);
        }
    io_crash_die_after(crash, io_crash_ops(crash) + 1);
    siglog_close(s);
    cr_assert_eq(io_crash_power_cut(crash, IO_CRASH_DROP_ALL), 0);
    io_crash_free(crash);
    for (size_t i = 0; i + 1 < nseg; i++)
        for (int e = 0; e < 2; e++) {
            char name[64];
            snprintf(name, sizeof name, "%020" PRIu64 "%s", bases[i], ext[e]);
            char *path = test_path(cut_pdir, name);
            uint64_t l;
            uint8_t *now = slurp(path, &l);
            cr_assert(l == len[i][e] && memcmp(now, img[i][e], l) == 0,
                      "%s of sealed segment %zu changed in the power cut", name, i);
            free(now);
            free(img[i][e]);
            free(path);
        }
    test_rmtree(cut);
    free(cut);
    free(cut_pdir);
}

static size_t open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    size_t n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* verify --repair rebuilds the indexes of the active segment, which the
 * writer it opens holds open: the old ones are closed, not left mapped
 * with their descriptors. */
Test(hints, repairing_the_active_segments_indexes_leaves_no_descriptor_open)
{
    char *path = index_path(active_base, ".oix");
    test_flip_byte(path, HEADER + 8 + 4, 0x01); /* the second entry's position */
    size_t before = open_descriptors();
    cr_assert_eq(siglog_verify(dir, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(open_descriptors(), before, "verify --repair left descriptors open");
    cr_assert_eq(siglog_verify(dir, 0, NULL, NULL), 0, "%s", siglog_errdetail());
    free(path);
}
