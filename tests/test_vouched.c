/*
 * vouched — nothing vouched is ever cut (format-spec/FORMAT.md, "Recovery"):
 * bytes a clean close's summary vouches for that turn out damaged (bit
 * rot, a file cut short or emptied) are reported with file and byte by
 * every open, read and verify, and no open, append, close or repair
 * changes them; the events before the damage stay readable, and so do the
 * events after it for a cursor that seeks past it.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define EVENTS 20       /* in partition 0 of stream "v", one batch each */
#define SEALED_EVENTS 600 /* in stream "s", several 64 KiB segments */

static char *dir, *seg, *sealed_seg;
static uint8_t *image;   /* partition 0's active segment after the clean close */
static uint64_t total;   /* its size */
static uint64_t batch_at[EVENTS + 1]; /* where each of its batches starts; [EVENTS] = total */

static uint8_t *read_whole(const char *path, uint64_t *len)
{
    *len = test_file_size(path);
    uint8_t *b = malloc(*len ? *len : 1);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void write_whole(const char *path, const uint8_t *b, uint64_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* The batch starts of a segment image, from each header's body_len. */
static size_t batch_starts(const uint8_t *b, uint64_t len, uint64_t *starts, size_t max)
{
    size_t n = 0;
    for (uint64_t pos = 0; pos + 64 <= len && n < max; n++) {
        starts[n] = pos;
        uint32_t body;
        memcpy(&body, b + pos + 20, 4);
        pos += 64 + body;
    }
    return n;
}

static void setup(void)
{
    dir = test_tmpdir("vouched");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *v = test_stream_create(s, "v", 2, SIGLOG_SYNC_ALWAYS, 0);
    siglog_stream *st = test_stream_create(s, "s", 1, SIGLOG_SYNC_NONE, 64 * 1024);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, 11, i);
        cr_assert_eq(siglog_append(v, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    for (uint64_t i = 0; i < SEALED_EVENTS; i++) {
        test_event t;
        test_event_make(&t, 12, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_flush(s), 0); /* one batch each */
    }
    cr_assert_eq(siglog_close(s), 0);
    seg = test_path(dir, "streams/v/00000/00000000000000000000.seg");
    sealed_seg = test_path(dir, "streams/s/00000/00000000000000000000.seg");
    image = read_whole(seg, &total);
    cr_assert_eq(batch_starts(image, total, batch_at, EVENTS + 1), EVENTS);
    batch_at[EVENTS] = total;
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
    free(seg);
    free(sealed_seg);
    free(image);
}

TestSuite(vouched, .init = setup, .fini = teardown, .timeout = 240);

/* The file holds exactly `want` (len bytes). */
static void assert_file_is(const char *path, const uint8_t *want, uint64_t len, const char *when)
{
    uint64_t n;
    uint8_t *b = read_whole(path, &n);
    cr_assert_eq(n, len, "%s: %s is %llu bytes, was %llu", when, path, (unsigned long long)n,
                 (unsigned long long)len);
    cr_assert(memcmp(b, want, len) == 0, "%s: %s changed", when, path);
    free(b);
}

static siglog *open_store(int read_only)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    siglog *s;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "open: %s: %s", siglog_errname(rc), siglog_errdetail());
    return s;
}

/* Read partition 0 of `stream` from offset `from`: the events seed/from..,
 * at most max of them, until an error or the end. Returns how many were
 * read and the last status in *rc. */
static uint64_t read_from(siglog *s, const char *stream, uint64_t seed, uint64_t from, uint64_t max, int *rc)
{
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, stream, &st), 0);
    siglog_cursor *c;
    *rc = siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_OFFSET, (int64_t)from, 0);
    if (*rc)
        return 0;
    const siglog_record *r;
    uint64_t n = 0;
    *rc = 0;
    while (n < max && (*rc = siglog_cursor_next(c, &r)) == 1) {
        test_event t;
        test_event_make(&t, seed, from + n);
        cr_assert_eq(r->offset, from + n, "offset %llu", (unsigned long long)r->offset);
        test_assert_record_eq(r, &t.ev);
        n++;
    }
    siglog_cursor_close(c);
    return n;
}

/* The error names the file and the byte of the damaged batch. */
static void assert_names(const char *detail, const char *file, uint64_t pos)
{
    char at[64];
    snprintf(at, sizeof at, "byte %" PRIu64, pos);
    cr_assert_not_null(strstr(detail, file), "names %s: %s", file, detail);
    cr_assert_not_null(strstr(detail, at), "names %s: %s", at, detail);
}

typedef struct found {
    int problems;
    char file[4096];
    uint64_t pos;
} found;

static void on_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    (void)what;
    found *f = ctx;
    if (f->problems++ == 0) {
        snprintf(f->file, sizeof f->file, "%s", file);
        f->pos = pos;
    }
}

/* verify (and verify --repair) report the damage at file/pos, and cut
 * nothing. */
static void assert_verify_reports(const char *file, uint64_t pos, const uint8_t *img, uint64_t len)
{
    for (int repair = 0; repair < 2; repair++) {
        found f = {0};
        siglog_verify_callbacks cb = {.ctx = &f, .problem = on_problem};
        int rc = siglog_verify(dir, repair, &cb, NULL);
        cr_assert_eq(rc, SIGLOG_ECORRUPT, "verify%s: %s", repair ? " --repair" : "", siglog_errname(rc));
        cr_assert_eq(f.problems, 1, "verify%s found %d problems", repair ? " --repair" : "", f.problems);
        cr_assert_str_eq(f.file, file);
        cr_assert_eq(f.pos, pos, "verify names byte %llu, the damage is at %llu", (unsigned long long)f.pos,
                     (unsigned long long)pos);
        assert_file_is(file, img, len, repair ? "after verify --repair" : "after verify");
    }
}

/* Partition 0 of "v" holds damage that the batch at byte `at` (offset
 * first_bad) meets: a writer opens, refuses appends to that partition
 * only, cuts nothing; a reader gets the events before it and then the
 * error; verify reports it. img/len: the damaged file. */
static void check_damaged_active(uint64_t at, uint64_t first_bad, const uint8_t *img, uint64_t len, const char *what)
{
    siglog *s = open_store(0);
    siglog_stream *v;
    cr_assert_eq(siglog_stream_get(s, "v", &v), 0);
    siglog_event e = {.value = "x", .value_len = 1};
    int rc = siglog_append(v, 0, &e, 1, NULL, NULL);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s: append to the damaged partition: %s", what, siglog_errname(rc));
    assert_names(siglog_errdetail(), seg, at);
    cr_assert_eq(siglog_append(v, 1, &e, 1, NULL, NULL), 0, "%s: the other partition works: %s", what,
                 siglog_errdetail());
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(v, 0, &pi), 0);
    cr_assert(pi.failed, "%s: stat shows the partition failed", what);
    cr_assert_eq(pi.state, SIGLOG_PARTITION_DAMAGED, "%s: state %d", what, pi.state);
    assert_names(pi.detail, seg, at);
    cr_assert_eq(siglog_close(s), 0, "%s: %s", what, siglog_errdetail());
    assert_file_is(seg, img, len, what);

    s = open_store(1);
    uint64_t n = read_from(s, "v", 11, 0, EVENTS, &rc);
    cr_assert_eq(n, first_bad, "%s: %llu events before the damage read", what, (unsigned long long)n);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "%s: the reader meets the damage: %s", what, siglog_errname(rc));
    assert_names(siglog_errdetail(), seg, at);
    cr_assert_eq(siglog_stream_get(s, "v", &v), 0);
    cr_assert_eq(siglog_partition_info_get(v, 0, &pi), 0);
    cr_assert(pi.failed, "%s: a reader's stat shows the partition failed", what);
    cr_assert_eq(pi.state, SIGLOG_PARTITION_DAMAGED, "%s: a reader's state %d", what, pi.state);
    assert_names(pi.detail, seg, at);
    cr_assert_eq(siglog_close(s), 0);
    assert_file_is(seg, img, len, what);
    assert_verify_reports(seg, at, img, len);
}

Test(vouched, bit_rot_at_every_byte_of_the_last_batch_of_a_cleanly_closed_segment)
{
    uint64_t last = batch_at[EVENTS - 1];
    for (uint64_t pos = last; pos < total; pos++) {
        write_whole(seg, image, total);
        test_flip_byte(seg, pos, 0x10);
        image[pos] ^= 0x10;
        char what[64];
        snprintf(what, sizeof what, "flipped byte %llu", (unsigned long long)pos);
        check_damaged_active(last, EVENTS - 1, image, total, what);
        image[pos] ^= 0x10;
    }
}

Test(vouched, events_after_damage_stay_readable_by_offset)
{
    char *oix = test_path(dir, "streams/v/00000/00000000000000000000.oix");
    char *tix = test_path(dir, "streams/v/00000/00000000000000000000.tix");
    uint64_t k = EVENTS / 2; /* the damaged batch */
    image[batch_at[k] + 70] ^= 0x01;
    write_whole(seg, image, total);
    check_damaged_active(batch_at[k], k, image, total, "damage in the middle");
    /* With its indexes and, read-only, without them (a scan then passes
     * the damage on its way to the offset sought). */
    for (int indexes = 1; indexes >= 0; indexes--) {
        if (!indexes) {
            cr_assert_eq(unlink(oix), 0);
            cr_assert_eq(unlink(tix), 0);
        }
        siglog *s = open_store(1);
        for (uint64_t from = k + 1; from < EVENTS; from++) {
            int rc;
            uint64_t n = read_from(s, "v", 11, from, EVENTS, &rc);
            cr_assert_eq(rc, 0, "from %llu: %s", (unsigned long long)from, siglog_errdetail());
            cr_assert_eq(n, EVENTS - from, "from %llu (indexes %d): %llu read", (unsigned long long)from, indexes,
                         (unsigned long long)n);
        }
        int rc;
        read_from(s, "v", 11, k, EVENTS, &rc);
        cr_assert_eq(rc, SIGLOG_ECORRUPT, "the damaged batch itself is an error");
        cr_assert_eq(siglog_close(s), 0);
    }
    free(oix);
    free(tix);
}

Test(vouched, an_active_segment_cut_short_or_emptied_is_damage_not_adopted)
{
    uint64_t cuts[] = {batch_at[EVENTS / 2], batch_at[EVENTS / 2] + 30, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_whole(seg, image, cuts[i]);
        /* The reader reads every whole batch before the cut, then fails
         * where the file ends. */
        uint64_t whole = 0;
        while (whole < EVENTS && batch_at[whole + 1] <= cuts[i])
            whole++;
        char what[64];
        snprintf(what, sizeof what, "cut at byte %llu", (unsigned long long)cuts[i]);
        check_damaged_active(batch_at[whole], whole, image, cuts[i], what);
    }
}

Test(vouched, bit_rot_in_the_last_batch_of_a_sealed_segment)
{
    uint64_t len;
    uint8_t *img = read_whole(sealed_seg, &len);
    uint64_t starts[SEALED_EVENTS];
    size_t nb = batch_starts(img, len, starts, SEALED_EVENTS);
    cr_assert_gt(nb, 2);
    uint64_t next_base = nb; /* one event per batch */
    for (uint64_t pos = starts[nb - 1]; pos < len; pos += 7) {
        img[pos] ^= 0x04;
        write_whole(sealed_seg, img, len);
        siglog *s = open_store(0);
        siglog_stream *st;
        cr_assert_eq(siglog_stream_get(s, "s", &st), 0);
        siglog_event e = {.value = "y", .value_len = 1};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_close(s), 0);
        assert_file_is(sealed_seg, img, len, "writer open, append, close");
        s = open_store(1);
        int rc;
        cr_assert_eq(read_from(s, "s", 12, 0, SEALED_EVENTS, &rc), nb - 1);
        cr_assert_eq(rc, SIGLOG_ECORRUPT);
        assert_names(siglog_errdetail(), sealed_seg, starts[nb - 1]);
        /* The next segment's events, up to the "y" appended above. */
        cr_assert_eq(read_from(s, "s", 12, next_base, SEALED_EVENTS - next_base, &rc), SEALED_EVENTS - next_base,
                     "%s", siglog_errdetail());
        cr_assert_eq(rc, 1);
        cr_assert_eq(siglog_close(s), 0);
        found f = {0};
        siglog_verify_callbacks cb = {.ctx = &f, .problem = on_problem};
        cr_assert_eq(siglog_verify(dir, 1, &cb, NULL), SIGLOG_ECORRUPT);
        cr_assert_str_eq(f.file, sealed_seg);
        cr_assert_eq(f.pos, starts[nb - 1]);
        assert_file_is(sealed_seg, img, len, "verify --repair");
        img[pos] ^= 0x04;
        write_whole(sealed_seg, img, len);
    }
    free(img);
}

Test(vouched, bytes_a_checkpoint_synced_are_not_cut_even_without_a_summary)
{
    /* A writer appends one more event (journaled, durable) and dies: the
     * journal holds the partition from offset EVENTS on, so the last
     * checkpoint synced everything before it. */
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        siglog *s;
        siglog_stream *v;
        test_event t;
        test_event_make(&t, 11, EVENTS);
        _exit(siglog_open(&s, dir, NULL) == 0 && siglog_stream_get(s, "v", &v) == 0 &&
                      siglog_append(v, 0, &t.ev, 1, NULL, NULL) == 0
                  ? 0
                  : 1);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the dying writer failed");
    /* Its segment write did not reach the disk, no summary vouches for
     * the segment, and bit rot hit the last batch the checkpoint synced:
     * it looks like a torn tail, but it is vouched for. */
    char *sum = test_path(dir, "streams/v/00000/00000000000000000000.sum");
    cr_assert_eq(unlink(sum), 0);
    image[batch_at[EVENTS - 1] + 70] ^= 0x08;
    write_whole(seg, image, total);
    siglog *s;
    int rc = siglog_open(&s, dir, NULL);
    /* The journal's commit cannot be put back behind the damage, and
     * emptying the journal would lose it: the open is refused. */
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "got %s", siglog_errname(rc));
    assert_names(siglog_errdetail(), seg, batch_at[EVENTS - 1]);
    cr_assert_not_null(strstr(siglog_errdetail(), "checkpoint"), "%s", siglog_errdetail());
    assert_file_is(seg, image, total, "the refused writer open");
    free(sum);
}
