/*
 * test_readonly — a read-only handle never writes a byte, and serves what
 * a writer's recovery would serve, commits only the journal holds included
 * (DESIGN.md, "Write path" and "Crash safety").
 *
 * Each store state the crash tests produce (clean, crashed with commits
 * only the journal holds, torn tail, a flipped byte in a cleanly closed
 * tail, a missing index, a missing partition directory) is read through a
 * read-only open on one copy and through a writer's recovery on another:
 * the reader's copy must keep every file and directory exactly as it was
 * (contents, size, mode, mtime; nothing created, renamed or removed), and
 * the reader must serve exactly what the writer serves, or fail.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "io_crash.h"
#include "siglog.h"
#include "support.h"

#define PARTITIONS 2
#define EVENTS_PER_PARTITION 1000
#define EVENTS_PER_APPEND 10
#define SEGMENT_BYTES (64 * 1024)
#define SEED 77

/* What a handle serves: per partition, a hash of each record in order;
 * or the error that stopped it. */
typedef struct view {
    int rc;
    uint64_t count[PARTITIONS];
    uint64_t *records[PARTITIONS];
} view;

static uint64_t record_hash(const siglog_record *r)
{
    XXH3_state_t *h = XXH3_createState();
    XXH3_64bits_reset(h);
    XXH3_64bits_update(h, &r->offset, sizeof r->offset);
    XXH3_64bits_update(h, &r->timestamp_us, sizeof r->timestamp_us);
    XXH3_64bits_update(h, &r->key_len, sizeof r->key_len);
    if (r->key_len)
        XXH3_64bits_update(h, r->key, r->key_len);
    XXH3_64bits_update(h, r->value, r->value_len);
    uint64_t v = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return v;
}

static uint64_t event_hash(uint64_t offset, const siglog_event *e)
{
    siglog_record r = {.offset = offset, .timestamp_us = e->timestamp_us, .key = e->key, .key_len = e->key_len,
                       .value = e->value, .value_len = e->value_len};
    return record_hash(&r);
}

static void view_free(view *v)
{
    for (int p = 0; p < PARTITIONS; p++)
        free(v->records[p]);
    memset(v, 0, sizeof *v);
}

/* Read every partition of stream "ev" from the start; stops at the first
 * error (v->rc). */
static void read_view(siglog *s, view *v)
{
    memset(v, 0, sizeof *v);
    siglog_stream *st;
    if ((v->rc = siglog_stream_get(s, "ev", &st)) != 0)
        return;
    for (uint32_t p = 0; p < PARTITIONS; p++) {
        siglog_cursor *c;
        if ((v->rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0)) != 0)
            return;
        const siglog_record *r;
        int rc;
        while ((rc = siglog_cursor_next(c, &r)) == 1) {
            v->records[p] = realloc(v->records[p], (v->count[p] + 1) * sizeof *v->records[p]);
            v->records[p][v->count[p]++] = record_hash(r);
        }
        siglog_cursor_close(c);
        if ((v->rc = rc) < 0)
            return;
    }
}

/* Open dir (read-only or as the writer) and read it whole. */
static void open_and_read(const char *dir, int read_only, view *v)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    if (rc) {
        memset(v, 0, sizeof *v);
        v->rc = rc;
        return;
    }
    read_view(s, v);
    int c = siglog_close(s);
    if (!v->rc)
        v->rc = c;
}

static void assert_views_equal(const view *reader, const view *writer, const char *state)
{
    cr_assert_eq(reader->rc, writer->rc, "%s: reader returned %s, writer %s", state, siglog_errname(reader->rc),
                 siglog_errname(writer->rc));
    for (int p = 0; p < PARTITIONS; p++) {
        cr_assert_eq(reader->count[p], writer->count[p], "%s: partition %d: reader served %" PRIu64
                     " events, the writer's recovery %" PRIu64, state, p, reader->count[p], writer->count[p]);
        for (uint64_t i = 0; i < reader->count[p]; i++)
            cr_assert_eq(reader->records[p][i], writer->records[p][i], "%s: partition %d offset %" PRIu64 " differs",
                         state, p, i);
    }
}

static void test_event_of(test_event *t, uint32_t p, uint64_t i)
{
    test_event_make(t, SEED + p, i);
}

/* Append every event, EVENTS_PER_APPEND at a time, alternating partitions. */
static void append_all(siglog_stream *st)
{
    for (uint64_t i = 0; i < EVENTS_PER_PARTITION; i += EVENTS_PER_APPEND)
        for (uint32_t p = 0; p < PARTITIONS; p++) {
            test_event te[EVENTS_PER_APPEND];
            siglog_event ev[EVENTS_PER_APPEND];
            for (uint64_t k = 0; k < EVENTS_PER_APPEND; k++) {
                test_event_of(&te[k], p, i + k);
                ev[k] = te[k].ev;
            }
            int rc = siglog_append(st, p, ev, EVENTS_PER_APPEND, NULL, NULL);
            cr_assert_eq(rc, 0, "append: %s", siglog_errdetail());
        }
}

/* Every event appended, in order. */
static void assert_view_complete(const view *v, const char *state)
{
    cr_assert_eq(v->rc, 0, "%s: %s: %s", state, siglog_errname(v->rc), siglog_errdetail());
    for (uint32_t p = 0; p < PARTITIONS; p++) {
        cr_assert_eq(v->count[p], EVENTS_PER_PARTITION, "%s: partition %u: %" PRIu64 " of %d events served",
                     state, p, v->count[p], EVENTS_PER_PARTITION);
        for (uint64_t i = 0; i < v->count[p]; i++) {
            test_event te;
            test_event_of(&te, p, i);
            cr_assert_eq(v->records[p][i], event_hash(i, &te.ev), "%s: partition %u offset %" PRIu64 " differs",
                         state, p, i);
        }
    }
}

static siglog_stream *create_stream(siglog *s)
{
    return test_stream_create(s, "ev", PARTITIONS, SIGLOG_SYNC_ALWAYS, SEGMENT_BYTES);
}

/* A store closed cleanly. */
static char *make_clean_store(void)
{
    char *dir = test_tmpdir("readonly");
    siglog *s = test_store_open(dir, NULL);
    append_all(create_stream(s));
    cr_assert_eq(siglog_close(s), 0);
    return dir;
}

/* A store whose writer lost power after its last commit: the segments
 * lost every write since the last checkpoint, the journal holds them. */
static char *make_crashed_store(void)
{
    char *dir = test_tmpdir("readonly");
    io_crash *c = io_crash_new(SEED);
    siglog *s = test_store_open(dir, io_crash_io(c));
    append_all(create_stream(s));
    io_crash_die_after(c, io_crash_ops(c) + 1);
    siglog_close(s); /* fails: the process is "dead" */
    cr_assert_eq(io_crash_power_cut(c, IO_CRASH_DROP_ALL), 0);
    io_crash_free(c);
    return dir;
}

/* "dir-tag": a scratch name beside dir, unique as dir is. */
static char *sibling(const char *dir, const char *tag)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s-%s", dir, tag) > 0);
    return path;
}

static char *partition_file(const char *dir, uint32_t p, const char *name)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/streams/ev/%05u%s%s", dir, p, name ? "/" : "", name ? name : "") > 0);
    return path;
}

/* The last .seg of partition p holding more than min_bytes (or, with
 * ext, that sibling). */
static char *last_segment_file(const char *dir, uint32_t p, const char *ext, uint64_t min_bytes)
{
    char *pd = partition_file(dir, p, NULL);
    char *found = NULL;
    for (uint64_t base = 0; base < EVENTS_PER_PARTITION; base++) {
        char name[64];
        snprintf(name, sizeof name, "%020" PRIu64 ".seg", base);
        char *seg = test_path(pd, name);
        struct stat st;
        if (stat(seg, &st) == 0 && (uint64_t)st.st_size >= min_bytes) {
            free(found);
            snprintf(name, sizeof name, "%020" PRIu64 "%s", base, ext);
            found = test_path(pd, name);
        }
        free(seg);
    }
    free(pd);
    cr_assert_not_null(found, "no segment in partition %u of %s", p, dir);
    return found;
}

/* The commits only the journal holds: fewer events are in the segments. */
static void assert_journal_holds_some(const char *dir)
{
    char *copy = sibling(dir, "segments-only");
    test_copy_tree(dir, copy);
    char *journal = test_path(copy, "journal");
    cr_assert_eq(unlink(journal), 0);
    free(journal);
    view v;
    open_and_read(copy, 1, &v);
    cr_assert_eq(v.rc, 0, "%s", siglog_errdetail());
    cr_assert_lt(v.count[0] + v.count[1], PARTITIONS * EVENTS_PER_PARTITION,
                 "the crash left nothing only the journal holds: the test proves nothing");
    view_free(&v);
    test_rmtree(copy);
    free(copy);
}

enum damage { INTACT, TORN_TAIL, FLIPPED_CLOSED_TAIL, MISSING_INDEX, MISSING_PARTITION_DIR };

static void damage(const char *dir, enum damage how)
{
    char *path = NULL;
    switch (how) {
    case INTACT:
        return;
    case TORN_TAIL: {
        /* The start of a batch whose write never finished. */
        path = last_segment_file(dir, 1, ".seg", 0);
        FILE *f = fopen(path, "ab");
        cr_assert_not_null(f);
        static const char torn[37] = "SGB\x01 torn";
        cr_assert_eq(fwrite(torn, 1, sizeof torn, f), sizeof torn);
        cr_assert_eq(fclose(f), 0);
        break;
    }
    case FLIPPED_CLOSED_TAIL:
        path = last_segment_file(dir, 0, ".seg", 11);
        test_flip_byte(path, test_file_size(path) - 10, 0x40);
        break;
    case MISSING_INDEX:
        path = last_segment_file(dir, 0, ".oix", 0);
        cr_assert_eq(unlink(path), 0);
        break;
    case MISSING_PARTITION_DIR:
        path = partition_file(dir, 1, NULL);
        test_rmtree(path);
        break;
    }
    free(path);
}

/* Read `dir` read-only on one copy, as the writer on another: the
 * reader's copy is untouched and both serve the same (a reader may fail
 * instead where the writer's answer is not one: a missing partition). */
static void check_state(const char *dir, const char *state, int reader_may_fail)
{
    char *ro = sibling(dir, "ro"), *rw = sibling(dir, "rw");
    test_copy_tree(dir, ro);
    test_copy_tree(dir, rw);
    char *before = test_tree_fingerprint(ro);
    view reader, writer;
    open_and_read(ro, 1, &reader);
    char *after = test_tree_fingerprint(ro);
    cr_assert_str_eq(after, before, "%s: a read-only open and full read changed the store:\nbefore:\n%s\nafter:\n%s",
                     state, before, after);
    open_and_read(rw, 0, &writer);
    if (!(reader_may_fail && reader.rc < 0))
        assert_views_equal(&reader, &writer, state);
    view_free(&reader);
    view_free(&writer);
    free(before);
    free(after);
    test_rmtree(ro);
    test_rmtree(rw);
    free(ro);
    free(rw);
}

Test(readonly, every_store_state_is_read_without_a_write_and_as_recovery_serves_it, .timeout = 120)
{
    static const struct {
        enum damage how;
        const char *name;
    } states[] = {
        {INTACT, "intact"},
        {TORN_TAIL, "torn tail"},
        {FLIPPED_CLOSED_TAIL, "flipped byte in a closed tail"},
        {MISSING_INDEX, "missing index"},
        {MISSING_PARTITION_DIR, "missing partition directory"},
    };
    for (int crashed = 0; crashed < 2; crashed++)
        for (size_t i = 0; i < sizeof states / sizeof *states; i++) {
            char *dir = crashed ? make_crashed_store() : make_clean_store();
            char state[128];
            snprintf(state, sizeof state, "%s store, %s", crashed ? "crashed" : "clean", states[i].name);
            if (crashed && states[i].how == INTACT)
                assert_journal_holds_some(dir);
            damage(dir, states[i].how);
            check_state(dir, state, states[i].how == MISSING_PARTITION_DIR);
            test_rmtree(dir);
            free(dir);
        }
}

Test(readonly, commits_only_the_journal_holds_are_served_whole)
{
    char *dir = make_crashed_store();
    char *before = test_tree_fingerprint(dir);
    view v;
    open_and_read(dir, 1, &v);
    assert_view_complete(&v, "read-only open of a crashed store");
    view_free(&v);
    char *after = test_tree_fingerprint(dir);
    cr_assert_str_eq(after, before, "the read-only open changed the store");
    free(before);
    free(after);
    test_rmtree(dir);
    free(dir);
}

/* Seeks by offset and by time land on records only the journal holds. */
Test(readonly, seeks_reach_commits_only_the_journal_holds)
{
    char *dir = make_crashed_store();
    siglog *s = test_store_open_read_only(dir);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s", siglog_errdetail());
    cr_assert_eq(info.next_offset, EVENTS_PER_PARTITION, "stat's next offset counts the journal's commits");
    for (uint64_t i = 0; i < EVENTS_PER_PARTITION; i += 7) {
        test_event te;
        test_event_of(&te, 0, i);
        for (int by_time = 0; by_time < 2; by_time++) {
            siglog_cursor *c;
            cr_assert_eq(siglog_cursor_open(&c, st, 0, by_time ? SIGLOG_SEEK_TIME : SIGLOG_SEEK_OFFSET,
                                            by_time ? te.ev.timestamp_us : (int64_t)i, 0),
                         0, "%s", siglog_errdetail());
            const siglog_record *r;
            cr_assert_eq(siglog_cursor_next(c, &r), 1, "seek %s to %" PRIu64 ": %s", by_time ? "by time" : "by offset",
                         i, siglog_errdetail());
            cr_assert_eq(r->offset, i, "seek %s to %" PRIu64 " landed on %" PRIu64, by_time ? "by time" : "by offset",
                         i, r->offset);
            cr_assert_eq(record_hash(r), event_hash(i, &te.ev));
            siglog_cursor_close(c);
        }
    }
    cr_assert_eq(siglog_close(s), 0);
    test_rmtree(dir);
    free(dir);
}

/* chown (unless uid is -1) and a-w (or, with writable, u+w) a tree. */
static void chmod_tree_as(const char *dir, uid_t uid, gid_t gid, int writable)
{
    struct stat st;
    cr_assert_eq(lstat(dir, &st), 0);
    if (uid != (uid_t)-1)
        cr_assert_eq(lchown(dir, uid, gid), 0, "chown %s", dir);
    mode_t keep = S_ISDIR(st.st_mode) ? 0555 : 0444;
    cr_assert_eq(chmod(dir, writable ? (st.st_mode & 07777) | 0200 : st.st_mode & keep), 0);
    if (!S_ISDIR(st.st_mode))
        return;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char *p = test_path(dir, e->d_name);
            chmod_tree_as(p, uid, gid, writable);
            free(p);
        }
    closedir(d);
}

static void chmod_tree(const char *dir, uid_t uid, gid_t gid)
{
    chmod_tree_as(dir, uid, gid, 0);
}

static void chmod_tree_writable(const char *dir)
{
    chmod_tree_as(dir, (uid_t)-1, (gid_t)-1, 1);
}

/* A reader that may not write the store (everything a-w; as root, the
 * reader runs as nobody on a store nobody owns) sees the commits only the
 * journal holds. */
Test(readonly, reader_without_write_permission_sees_commits_only_the_journal_holds)
{
    char *crashed = make_crashed_store();
    char *dir = crashed, *outside = NULL;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("nobody");
        cr_assert_not_null(pw, "running as root needs a user nobody");
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        /* The test's scratch root is not nobody's to reach: a copy goes
         * where every parent may be searched. */
        outside = strdup("/tmp/siglog-readonly-XXXXXX");
        cr_assert_not_null(mkdtemp(outside));
        cr_assert_eq(chmod(outside, 0755), 0);
        dir = test_path(outside, "store");
        test_copy_tree(crashed, dir);
    }
    chmod_tree(dir, uid, gid);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        if (uid != (uid_t)-1 && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
            _exit(10);
        view v;
        open_and_read(dir, 1, &v);
        if (v.rc) {
            fprintf(stderr, "reader: %s: %s\n", siglog_errname(v.rc), siglog_errdetail());
            _exit(11);
        }
        for (uint32_t p = 0; p < PARTITIONS; p++)
            if (v.count[p] != EVENTS_PER_PARTITION) {
                fprintf(stderr, "reader: partition %u: %" PRIu64 " of %d events\n", p, v.count[p],
                        EVENTS_PER_PARTITION);
                _exit(12);
            }
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "reader without write permission: exit %d (10: setuid, 11: open or read failed, 12: events missing)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "rm -rf '%s'", outside ? outside : crashed) > 0);
    if (!outside)
        chmod_tree_writable(crashed);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
    if (outside) {
        test_rmtree(crashed);
        free(dir);
        free(outside);
    }
    free(crashed);
}
