/*
 * damage — damage stays where it is: a damaged stream's metadata fails that
 * stream only, a missing partition or segment is reported (never recreated)
 * and offsets are never handed out twice.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "codec.h"
#include "io_fault.h"
#include "stream.h"
#include "support.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("damage");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(damage, .init = setup, .fini = teardown);

/* A file or directory of the store (caller frees). */
static char *store_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *store_path(const char *fmt, ...)
{
    char rel[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    return test_path(dir, rel);
}

static siglog *open_store(int read_only)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    o.journal_bytes = 8u << 20;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "open: %s: %s", siglog_strerror(rc), siglog_errdetail());
    return s;
}

/* Append events [from, to) of workload `seed` to partition p; cr_asserts
 * they get the offsets from `first` on. */
static void append_range(siglog_stream *st, uint32_t p, uint64_t seed, uint64_t from, uint64_t to, uint64_t first)
{
    for (uint64_t i = from; i < to; i++) {
        test_event e;
        test_event_make(&e, seed, i);
        uint64_t off;
        int rc = siglog_append(st, p, &e.ev, 1, NULL, &off);
        cr_assert_eq(rc, 0, "append %llu: %s", (unsigned long long)i, siglog_errdetail());
        cr_assert_eq(off, first + (i - from), "event %llu got offset %llu", (unsigned long long)i,
                     (unsigned long long)off);
    }
}

static void count_record(void *ctx, const siglog_record *r)
{
    (void)r;
    (*(uint64_t *)ctx)++;
}

typedef struct stream_states {
    char names[4][SIGLOG_NAME_MAX + 1];
    int codes[4];
    char details[4][512];
    int n;
} stream_states;

static int note_state(void *ctx, siglog_stream *st)
{
    stream_states *ss = ctx;
    cr_assert_lt(ss->n, 4);
    const char *why;
    snprintf(ss->names[ss->n], sizeof ss->names[0], "%s", siglog_stream_name(st));
    ss->codes[ss->n] = siglog_stream_state(st, &why);
    snprintf(ss->details[ss->n], sizeof ss->details[0], "%s", why);
    ss->n++;
    return 0;
}

/* Two streams "good" (2 partitions) and "hurt", 50 events each, closed. */
static void two_streams(void)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *good = test_stream_create(s, "good", 2, SIGLOG_SYNC_INTERVAL, 0);
    siglog_stream *hurt = test_stream_create(s, "hurt", 1, SIGLOG_SYNC_INTERVAL, 0);
    append_range(good, 0, 1, 0, 50, 0);
    append_range(hurt, 0, 2, 0, 50, 0);
    cr_assert_eq(siglog_close(s), 0);
}

/* With "hurt" damaged, both roles open the store; "good" works fully;
 * "hurt" is listed failed naming its metadata, and every use of it fails. */
static void only_hurt_fails(const char *what)
{
    for (int read_only = 0; read_only <= 1; read_only++) {
        siglog *s = open_store(read_only);
        stream_states ss = {0};
        cr_assert_eq(siglog_stream_foreach(s, note_state, &ss), 0);
        cr_assert_eq(ss.n, 2);
        cr_assert_str_eq(ss.names[0], "good");
        cr_assert_eq(ss.codes[0], 0);
        cr_assert_str_eq(ss.names[1], "hurt");
        cr_assert_eq(ss.codes[1], SIGLOG_ECORRUPT, "%s: state %d", what, ss.codes[1]);
        cr_assert(strstr(ss.details[1], "hurt/stream.meta"), "%s: detail does not name the file: %s", what,
                  ss.details[1]);

        siglog_stream *st;
        cr_assert_eq(siglog_stream_get(s, "hurt", &st), SIGLOG_ECORRUPT);
        cr_assert(strstr(siglog_errdetail(), "stream.meta"), "%s", siglog_errdetail());

        cr_assert_eq(siglog_stream_get(s, "good", &st), 0);
        if (!read_only) {
            append_range(st, 1, 1, 50, 60, 0);
            cr_assert_eq(siglog_sync(s), 0);
        }
        uint64_t n = 0;
        test_read_all(st, 0, count_record, &n);
        test_read_all(st, 1, count_record, &n);
        cr_assert_eq(n, 60, "%s: good stream reads %llu events", what, (unsigned long long)n);
        cr_assert_eq(siglog_close(s), 0);
    }
}

Test(damage, flipped_stream_meta_fails_that_stream_only)
{
    two_streams();
    char *meta = store_path("streams/hurt/stream.meta");
    test_flip_byte(meta, 20, 0x01);
    only_hurt_fails("flipped byte");
    free(meta);
}

Test(damage, lost_stream_meta_fails_that_stream_only)
{
    two_streams();
    char *meta = store_path("streams/hurt/stream.meta");
    cr_assert_eq(unlink(meta), 0);
    only_hurt_fails("missing file");
    free(meta);
}

static int pick_failed(void *ctx, siglog_stream *st)
{
    if (siglog_stream_state(st, NULL) != 0)
        *(siglog_stream **)ctx = st;
    return 0;
}

Test(damage, a_failed_stream_refuses_appends_cursors_and_queries)
{
    two_streams();
    char *meta = store_path("streams/hurt/stream.meta");
    test_truncate(meta, 10);
    siglog *s = open_store(0);
    siglog_stream *hurt = NULL;
    cr_assert_eq(siglog_stream_foreach(s, pick_failed, &hurt), 0);
    cr_assert_not_null(hurt);
    test_event e;
    test_event_make(&e, 3, 0);
    cr_assert_eq(siglog_append(hurt, SIGLOG_PARTITION_BY_KEY, &e.ev, 1, NULL, NULL), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "hurt/stream.meta"), "%s", siglog_errdetail());
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, hurt, 0, SIGLOG_SEEK_START, 0, 0), SIGLOG_ECORRUPT);
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(hurt, 0, &pi), SIGLOG_ECORRUPT);
    /* Nor can it be created again over its data. */
    siglog_stream_config cfg;
    siglog_stream_config_default(&cfg);
    cr_assert_eq(siglog_stream_create(s, "hurt", &cfg), SIGLOG_EEXIST);
    cr_assert_eq(siglog_close(s), 0);
    /* Nothing was rewritten: the damage is still there to inspect. */
    cr_assert_eq(test_file_size(meta), 10);
    free(meta);
}

/* A writer that dies without closing leaves its commits in the journal. */
static void crash_after_appending_to_hurt(void)
{
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        siglog *s = open_store(0);
        siglog_stream *st;
        if (siglog_stream_get(s, "hurt", &st) != 0)
            _exit(1);
        test_event e;
        test_event_make(&e, 2, 50);
        _exit(siglog_append(st, 0, &e.ev, 1, NULL, NULL) == 0 && siglog_sync(s) == 0 ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the crashing writer failed");
}

Test(damage, journal_commits_of_a_failed_stream_are_kept_not_recycled)
{
    two_streams();
    crash_after_appending_to_hurt();
    char *meta = store_path("streams/hurt/stream.meta");
    char *saved = store_path("stream.meta.saved");
    cr_assert_eq(rename(meta, saved), 0);
    /* The writer cannot tell whose commits they are: it refuses rather
     * than recycle the journal. */
    siglog_options o;
    siglog_options_default(&o);
    o.journal_bytes = 8u << 20;
    siglog *s;
    cr_assert_eq(siglog_open(&s, dir, &o), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "journal holds commits") && strstr(siglog_errdetail(), "'hurt'"), "%s",
              siglog_errdetail());
    /* With the metadata back, the commit is found. */
    cr_assert_eq(rename(saved, meta), 0);
    s = open_store(0);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "hurt", &st), 0);
    uint64_t n = 0;
    test_read_all(st, 0, count_record, &n);
    cr_assert_eq(n, 51);
    cr_assert_eq(siglog_close(s), 0);
    free(saved);
    free(meta);
}

/* ---- missing pieces are reported, never recreated; offsets never reused ---- */

#define ROLLING_EVENTS 3000

static size_t segment_bases(uint32_t p, uint64_t *bases, size_t cap);

/* Stream "log" with 2 partitions of 64 KiB segments: partition 0 gets
 * ROLLING_EVENTS events (several segments), partition 1 ten. Closed.
 * The same segments every run: no commit round falls within the appends
 * (the interval is a minute), so batches end where they reach
 * batch_bytes_max and at the close, not where a round happened to fall;
 * a round's timing once left an empty segment at the end after a roll
 * at the last write, with nothing for the tests to cut. */
static void rolling_stream(void)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 2;
    c.sync_policy = SIGLOG_SYNC_INTERVAL;
    c.sync_interval_ms = 60000;
    c.segment_bytes_max = 64 * 1024;
    c.batch_bytes_max = 4 * 1024;
    cr_assert_eq(siglog_stream_create(s, "log", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "log", &st), 0);
    append_range(st, 0, 7, 0, ROLLING_EVENTS, 0);
    append_range(st, 1, 8, 0, 10, 0);
    cr_assert_eq(siglog_close(s), 0);
    uint64_t bases[64];
    size_t n = segment_bases(0, bases, 64);
    cr_assert(n >= 3 && bases[n - 1] < ROLLING_EVENTS, "%zu segments, the last at %llu: none to cut", n,
              (unsigned long long)bases[n - 1]);
}

/* The base offsets of partition p's segments, ascending. */
static size_t segment_bases(uint32_t p, uint64_t *bases, size_t cap)
{
    char *pd = store_path("streams/log/%05u", p);
    DIR *d = opendir(pd);
    cr_assert_not_null(d, "%s", pd);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        unsigned long long b;
        char ext[8];
        if (sscanf(e->d_name, "%20llu.%3s", &b, ext) == 2 && strcmp(ext, "seg") == 0 && n < cap)
            bases[n++] = b;
    }
    closedir(d);
    free(pd);
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && bases[k - 1] > bases[k]; k--) {
            uint64_t t = bases[k];
            bases[k] = bases[k - 1];
            bases[k - 1] = t;
        }
    return n;
}

/* Move segment `base` of partition 0 (all its files) into `aside`, or back. */
static void move_segment(uint64_t base, const char *aside, int back)
{
    static const char *const exts[] = {"seg", "oix", "tix", "sum"};
    for (size_t i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "%020llu.%s", (unsigned long long)base, exts[i]);
        char *in = store_path("streams/log/00000/%s", name);
        char *out = test_path(aside, name);
        int rc = back ? rename(out, in) : rename(in, out);
        cr_assert(rc == 0 || errno == ENOENT, "moving %s: %s", name, strerror(errno));
        free(in);
        free(out);
    }
}

/* The writer's open: the store and stream "log" open; partition p fails
 * alone (reads and appends get a detail holding both needles, nothing is
 * created), partition `good` takes appends and reads. */
static void writer_refuses_partition(uint32_t p, uint32_t good, const char *needle1, const char *needle2)
{
    siglog *s = open_store(0);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "log", &st), 0, "%s", siglog_errdetail());
    siglog_cursor *c;
    int rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "writer: got %s", siglog_errname(rc));
    cr_assert(strstr(siglog_errdetail(), needle1) && strstr(siglog_errdetail(), needle2),
              "writer's detail lacks '%s' or '%s': %s", needle1, needle2, siglog_errdetail());
    test_event e;
    test_event_make(&e, 9, 0);
    cr_assert_eq(siglog_append(st, p, &e.ev, 1, NULL, NULL), SIGLOG_ECORRUPT, "the failed partition took an append");
    cr_assert(strstr(siglog_errdetail(), needle2), "append's detail lacks '%s': %s", needle2, siglog_errdetail());
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(st, good, &pi), 0);
    append_range(st, good, 9, 0, 1, pi.next_offset);
    cr_assert_eq(siglog_sync(s), 0, "%s", siglog_errdetail());
    uint64_t n = 0;
    test_read_all(st, good, count_record, &n);
    cr_assert_eq(n, pi.next_offset + 1);
    cr_assert_eq(siglog_close(s), 0);
}

/* A reader: partition p fails naming the gap; partition `good` reads. */
static void reader_refuses_partition(uint32_t p, uint32_t good, const char *needle)
{
    siglog *s = open_store(1);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "log", &st), 0, "%s", siglog_errdetail());
    siglog_cursor *c;
    int rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "reader: got %s", siglog_errname(rc));
    cr_assert(strstr(siglog_errdetail(), needle), "reader's detail lacks '%s': %s", needle, siglog_errdetail());
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(st, p, &pi), SIGLOG_ECORRUPT);
    uint64_t n = 0;
    test_read_all(st, good, count_record, &n);
    cr_assert_gt(n, 0);
    cr_assert_eq(siglog_close(s), 0);
}

static void note_problem(void *ctx, const char *file, uint64_t position, const char *what)
{
    (void)file;
    (void)position;
    snprintf(ctx, 512, "%s", what);
}

/* siglog_verify reports the damage, with `needle` in its last problem. */
static void verify_names(const char *needle)
{
    char last[512] = "";
    siglog_verify_callbacks cb = {.problem = note_problem, .ctx = last};
    cr_assert_eq(siglog_verify(dir, 0, &cb, NULL), SIGLOG_ECORRUPT);
    cr_assert(strstr(last, needle), "verify's problem lacks '%s': %s", needle, last);
}

Test(damage, deleted_partition_directory_is_reported_not_recreated)
{
    rolling_stream();
    char *pd = store_path("streams/log/00001");
    test_rmtree(pd);
    writer_refuses_partition(1, 0, "00001", "missing");
    reader_refuses_partition(1, 0, "00001 is missing");
    struct stat sb;
    cr_assert_neq(stat(pd, &sb), 0, "the partition directory was recreated");
    free(pd);
}

/* Segment k of partition 0's n moved aside: the writer, a reader and
 * verify report `what` with `detail`; nothing is recreated; once it is put
 * back, appends continue at the old next offset. */
static void segment_gone(const uint64_t *bases, size_t n, size_t k, const char *what, const char *detail)
{
    char *aside = store_path("aside");
    cr_assert_eq(mkdir(aside, 0700), 0);
    move_segment(bases[k], aside, 0);
    writer_refuses_partition(0, 1, what, detail);
    reader_refuses_partition(0, 1, detail);
    verify_names(detail);
    uint64_t left[64];
    cr_assert_eq(segment_bases(0, left, 64), n - 1, "nothing was recreated");
    move_segment(bases[k], aside, 1);
    siglog *s = open_store(0);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "log", &st), 0, "%s", siglog_errdetail());
    append_range(st, 0, 7, ROLLING_EVENTS, ROLLING_EVENTS + 1, ROLLING_EVENTS);
    cr_assert_eq(siglog_close(s), 0);
    free(aside);
}

Test(damage, first_segment_deleted_names_the_missing_offsets)
{
    rolling_stream();
    uint64_t bases[64];
    size_t n = segment_bases(0, bases, 64);
    cr_assert_geq(n, 3, "the stream rolled");
    char range[64];
    snprintf(range, sizeof range, "offsets 0..%llu", (unsigned long long)bases[1] - 1);
    segment_gone(bases, n, 0, "missing at the start", range);
}

Test(damage, last_segment_deleted_is_reported_and_its_offsets_never_reused)
{
    rolling_stream();
    uint64_t bases[64];
    size_t n = segment_bases(0, bases, 64);
    cr_assert_geq(n, 3, "the stream rolled");
    char from[64];
    snprintf(from, sizeof from, "offsets from %llu on are missing", (unsigned long long)bases[n - 1]);
    segment_gone(bases, n, n - 1, "missing at the end", from);
}

/* A writer that crashes before its first roll, with no clean close: the
 * catalog it wrote when it created the partition's only segment still
 * names that segment, so losing it fails the partition instead of
 * starting the log again at offset 0. */
Test(damage, only_segment_deleted_after_a_crash_before_the_first_roll_is_reported)
{
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "log", 2, SIGLOG_SYNC_ALWAYS, 64 * 1024);
    cr_assert_eq(siglog_close(s), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        siglog *w = open_store(0);
        siglog_stream *st;
        if (siglog_stream_get(w, "log", &st) != 0)
            _exit(1);
        for (uint64_t i = 0; i < 20; i++) {
            test_event e;
            test_event_make(&e, 7, i);
            if (siglog_append(st, 0, &e.ev, 1, NULL, NULL) != 0)
                _exit(1);
        }
        _exit(0); /* no close: nothing a clean close writes */
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the crashing writer failed");
    uint64_t bases[4];
    cr_assert_eq(segment_bases(0, bases, 4), 1, "no roll happened");
    char *aside = store_path("aside");
    cr_assert_eq(mkdir(aside, 0700), 0);
    move_segment(bases[0], aside, 0);
    writer_refuses_partition(0, 1, "missing at the end", "offsets from 0 on are missing");
    reader_refuses_partition(0, 1, "offsets from 0 on are missing");
    uint64_t left[4];
    cr_assert_eq(segment_bases(0, left, 4), 0, "nothing was recreated");
    free(aside);
}

Test(damage, events_cut_from_the_end_after_a_clean_close_are_missing_offsets)
{
    rolling_stream();
    uint64_t bases[64];
    size_t n = segment_bases(0, bases, 64);
    char *seg = store_path("streams/log/00000/%020llu.seg", (unsigned long long)bases[n - 1]);
    char *sum = store_path("streams/log/00000/%020llu.sum", (unsigned long long)bases[n - 1]);
    unlink(sum); /* what the summary vouches for is not the point here */
    test_truncate(seg, 0);
    char range[96];
    snprintf(range, sizeof range, "offsets %llu..%d are missing", (unsigned long long)bases[n - 1],
             ROLLING_EVENTS - 1);
    writer_refuses_partition(0, 1, "the log ends at offset", range);
    reader_refuses_partition(0, 1, range);
    verify_names(range);
    free(sum);
    free(seg);
}

/* ---- stream create: all or nothing; remains are refused or adopted ---- */

/* The names in streams/, joined by spaces (static buffer). */
static const char *streams_listing(void)
{
    static char buf[4096];
    buf[0] = '\0';
    char *sd = store_path("streams");
    struct dirent **names;
    int n = scandir(sd, &names, NULL, alphasort);
    cr_assert_geq(n, 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            strncat(buf, names[i]->d_name, sizeof buf - strlen(buf) - 2);
            strcat(buf, " ");
        }
        free(names[i]);
    }
    free(names);
    free(sd);
    return buf;
}

#define MUTATING (IO_FAULT_OPEN | IO_FAULT_WRITE | IO_FAULT_SYNC | IO_FAULT_TRUNCATE | IO_FAULT_RENAME | \
                  IO_FAULT_UNLINK | IO_FAULT_MKDIR | IO_FAULT_MMAP)

/* A config of `partitions` and defaults otherwise. */
static siglog_stream_config config_of(uint32_t partitions)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    return c;
}

/* A refused create or adoption wrote no metadata for "old". */
static void old_has_no_meta(void)
{
    char *meta = store_path("streams/old/stream.meta");
    struct stat sb;
    cr_assert_neq(stat(meta, &sb), 0, "a refused create or adoption wrote %s", meta);
    free(meta);
}

Test(damage, failed_stream_create_leaves_nothing_at_every_call)
{
    io_fault *f = io_fault_new(sl_io_posix());
    siglog *s = test_store_open(dir, io_fault_io(f));
    siglog_stream_config c = config_of(3);
    /* Appends commit before they return: the background thread has
     * nothing to do, so every counted call is the create's. */
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    uint64_t before = io_fault_calls(f, MUTATING);
    cr_assert_eq(siglog_stream_create(s, "reference", &c), 0);
    uint64_t calls = io_fault_calls(f, MUTATING) - before;
    cr_assert_gt(calls, 10);
    for (uint64_t k = 1; k <= calls; k++) {
        char name[32];
        snprintf(name, sizeof name, "s%llu", (unsigned long long)k);
        char listing[4096];
        snprintf(listing, sizeof listing, "%s", streams_listing());
        io_fault_arm(f, MUTATING, k, EIO, 0, NULL);
        int rc = siglog_stream_create(s, name, &c);
        io_fault_disarm(f);
        siglog_stream *st;
        if (rc != 0) {
            cr_assert_str_eq(streams_listing(), listing, "create failing at call %llu left something behind",
                             (unsigned long long)k);
            cr_assert_eq(siglog_stream_get(s, name, &st), SIGLOG_ENOENT);
            rc = siglog_stream_create(s, name, &c);
            cr_assert_eq(rc, 0, "create after a failure at call %llu: %s", (unsigned long long)k,
                         siglog_errdetail());
        }
        cr_assert_eq(siglog_stream_get(s, name, &st), 0);
        append_range(st, 2, 9, 0, 3, 0);
    }
    cr_assert_eq(siglog_close(s), 0);
    /* Every stream reopens whole. */
    s = open_store(1);
    siglog_stream *failed = NULL;
    cr_assert_eq(siglog_stream_foreach(s, pick_failed, &failed), 0);
    cr_assert_null(failed, "stream %s failed: %s", siglog_stream_name(failed), siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    io_fault_free(f);
}

/* Stream "old" with 2 partitions and 20 events each, closed, then its
 * metadata removed. */
static void orphaned_partitions(void)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "old", 2, SIGLOG_SYNC_INTERVAL, 0);
    append_range(st, 0, 4, 0, 20, 0);
    append_range(st, 1, 5, 0, 20, 0);
    cr_assert_eq(siglog_close(s), 0);
    char *meta = store_path("streams/old/stream.meta");
    cr_assert_eq(unlink(meta), 0);
    free(meta);
}

Test(damage, create_refuses_a_name_whose_directory_holds_partitions)
{
    orphaned_partitions();
    siglog *s = open_store(0);
    siglog_stream_config c = config_of(2);
    cr_assert_eq(siglog_stream_create(s, "old", &c), SIGLOG_EEXIST);
    cr_assert(strstr(siglog_errdetail(), "--adopt"), "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    old_has_no_meta();
    /* Leftovers of something else are refused the same way; an empty
     * directory is free. */
    char *junk = store_path("streams/junk");
    cr_assert_eq(mkdir(junk, 0700), 0);
    char *file = store_path("streams/junk/notes.txt");
    FILE *fp = fopen(file, "w");
    cr_assert_not_null(fp);
    fclose(fp);
    char *empty = store_path("streams/empty");
    cr_assert_eq(mkdir(empty, 0700), 0);
    s = open_store(0);
    cr_assert_eq(siglog_stream_create(s, "junk", &c), SIGLOG_EEXIST);
    cr_assert(strstr(siglog_errdetail(), "notes.txt"), "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "empty", &st), SIGLOG_ECORRUPT, "a directory without metadata is listed");
    cr_assert_eq(siglog_stream_create(s, "empty", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(s, "empty", &st), 0);
    append_range(st, 0, 6, 0, 3, 0);
    cr_assert_eq(siglog_close(s), 0);
    free(empty);
    free(file);
    free(junk);
}

Test(damage, adopt_takes_over_matching_partitions_with_their_offsets)
{
    orphaned_partitions();
    siglog *s = open_store(0);
    siglog_stream_config c = config_of(3);
    cr_assert_eq(siglog_stream_adopt(s, "old", &c), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "2 partition directories"), "%s", siglog_errdetail());
    old_has_no_meta();
    c.partitions = 2;
    siglog_stream *before = NULL;
    cr_assert_eq(siglog_stream_foreach(s, pick_failed, &before), 0);
    cr_assert_not_null(before);
    cr_assert_eq(siglog_stream_adopt(s, "old", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "old", &st), 0);
    cr_assert_neq(st, before);
    append_range(st, 0, 4, 20, 25, 20);
    /* The failed handle held from before stays valid, and keeps failing. */
    siglog_partition_info pi;
    cr_assert_eq(siglog_partition_info_get(before, 0, &pi), SIGLOG_ECORRUPT);
    cr_assert_eq(siglog_stream_adopt(s, "old", &c), SIGLOG_EEXIST, "a working stream is not adopted again");
    cr_assert_eq(siglog_close(s), 0);
    s = open_store(1);
    cr_assert_eq(siglog_stream_get(s, "old", &st), 0, "%s", siglog_errdetail());
    uint64_t n = 0;
    test_read_all(st, 0, count_record, &n);
    test_read_all(st, 1, count_record, &n);
    cr_assert_eq(n, 45);
    cr_assert_eq(siglog_close(s), 0);
}

Test(damage, adopt_refuses_partitions_that_do_not_check_out)
{
    orphaned_partitions();
    /* The partition's log reached offset 20; its segment now ends early. */
    char *seg = store_path("streams/old/00001/00000000000000000000.seg");
    char *sum = store_path("streams/old/00001/00000000000000000000.sum");
    unlink(sum);
    test_truncate(seg, 0);
    siglog *s = open_store(0);
    siglog_stream_config c = config_of(2);
    cr_assert_eq(siglog_stream_adopt(s, "old", &c), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "00001") && strstr(siglog_errdetail(), "missing"), "%s",
              siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    old_has_no_meta();
    free(sum);
    free(seg);
}

/* Rewrite stream "log"'s stream.meta as version 1 (FORMAT.md section 4),
 * as a store from before the checkpoint has it. */
static void stream_meta_to_v1(void)
{
    char *path = store_path("streams/log/stream.meta");
    static uint8_t v2[4096];
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t len = fread(v2, 1, sizeof v2, f);
    fclose(f);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    siglog_stream_config c;
    cr_assert_eq(sl_stream_meta_decode(v2, len, name, &id, &c, NULL, NULL), 0, "%s", siglog_errdetail());
    size_t name_len = strlen(name);
    uint8_t v1[200] = {0};
    memcpy(v1, "SGST", 4);
    put_le16(v1 + 4, 1);
    put_le32(v1 + 8, id);
    put_le32(v1 + 12, c.partitions);
    put_le32(v1 + 16, c.compression);
    put_le32(v1 + 20, c.sync_policy);
    put_le32(v1 + 24, c.sync_interval_ms);
    put_le32(v1 + 28, c.record_bytes_max);
    put_le64(v1 + 32, c.segment_bytes_max);
    put_le64(v1 + 40, c.segment_age_max_us);
    put_le32(v1 + 48, c.batch_bytes_max);
    put_le32(v1 + 52, c.linger_us);
    put_le32(v1 + 56, c.index_interval_bytes);
    put_le32(v1 + 60, (uint32_t)name_len);
    memcpy(v1 + 64, name, name_len);
    put_le64(v1 + 64 + name_len, XXH3_64bits(v1, 64 + name_len));
    cr_assert_not_null(f = fopen(path, "wb"));
    cr_assert_eq(fwrite(v1, 1, 64 + name_len + 8, f), 64 + name_len + 8);
    cr_assert_eq(fclose(f), 0);
    free(path);
}

/* A store from before the checkpoint existed (version 1 stream.meta):
 * the writer's first open takes the segments it finds as the truth and
 * records them, so from then on a segment lost at the end is noticed. */
Test(damage, a_store_without_checkpoints_gets_them_at_the_first_writer_open)
{
    rolling_stream();
    stream_meta_to_v1();
    char *ckpt0 = store_path("streams/log/00000/catalog.ckpt");
    char *ckpt1 = store_path("streams/log/00001/catalog.ckpt");
    cr_assert_eq(unlink(ckpt0), 0);
    cr_assert_eq(unlink(ckpt1), 0);
    /* Readers read it as before. */
    siglog *s = open_store(1);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "log", &st), 0);
    uint64_t n = 0;
    test_read_all(st, 0, count_record, &n);
    cr_assert_eq(n, ROLLING_EVENTS);
    cr_assert_eq(siglog_close(s), 0);
    s = open_store(0);
    cr_assert_eq(siglog_close(s), 0);
    struct stat sb;
    cr_assert_eq(stat(ckpt0, &sb), 0, "the writer recorded the checkpoint");
    uint64_t bases[64];
    size_t k = segment_bases(0, bases, 64);
    char from[64];
    snprintf(from, sizeof from, "offsets from %llu on are missing", (unsigned long long)bases[k - 1]);
    segment_gone(bases, k, k - 1, "missing at the end", from);
    free(ckpt1);
    free(ckpt0);
}
