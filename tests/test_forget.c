/*
 * forget — siglog_forget over a stream's sealed segments against a model:
 * afterwards no event of a forgotten key is read (whole or by key), every
 * other event is read as it was appended, at its offset; the callback is
 * told each removed event once; one audit record per partition changed
 * names keyed hashes, never the key; and a byte search of every file of
 * the store, the commit journal included, finds neither a forgotten key
 * nor any of its values (beside a live writer too: it zeroes its
 * journal's old bytes when asked). A dry run changes no file; a key in an
 * active segment is rolled first, by the live writer on request when
 * there is one; a writer that does not answer (stopped) makes the forget
 * fail naming it, changing nothing, as an empty key and an unknown stream
 * do. The intent: on disk,
 * without the keys, while the segments are rewritten, gone after; one a
 * crash left is listed through a read-only handle (which writes nothing)
 * and finished by the next forget or by siglog_forget_finish.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forget_intent.h"
#include "store.h"
#include "support.h"

#define PARTITIONS 2
#define KEYS 40
#define EVENTS 3000
#define SEGMENT_BYTES (64 * 1024)

static char *dir;

/* Event i: key "key-%03u" of i % KEYS, to partition i % PARTITIONS, a
 * value naming both (so that a forgotten value is searchable). */
static void event_text(uint64_t i, char key[16], char value[80])
{
    snprintf(key, 16, "key-%03u", (unsigned)(i % KEYS));
    snprintf(value, 80, "{\"value\":\"secret-%06u-of-%s\"}", (unsigned)i, key);
}

static siglog *open_store(siglog_stream **st)
{
    siglog *s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "t", st), 0);
    return s;
}

static void append_one(siglog_stream *st, uint32_t p, const char *key, const char *value)
{
    siglog_event e = {.key = key, .key_len = key ? strlen(key) : 0, .value = value, .value_len = strlen(value)};
    cr_assert_eq(siglog_append(st, p, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
}

/* Events without a key, enough to seal what each partition's active
 * segment holds. */
static void seal_all(siglog_stream *st, uint32_t partitions)
{
    char pad[1024];
    memset(pad, 'f', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (uint32_t p = 0; p < partitions; p++)
        for (int i = 0; i < 2 * SEGMENT_BYTES / (int)sizeof pad; i++)
            append_one(st, p, NULL, pad);
}

/* A new store in dir with stream "t": small segments of small batches. */
static siglog *create_store(uint32_t partitions, siglog_stream **st)
{
    dir = test_tmpdir("forget");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    c.segment_bytes_max = SEGMENT_BYTES;
    c.batch_bytes_max = 2048;
    c.compression = SIGLOG_COMPRESSION_NONE; /* so that a byte search means something */
    cr_assert_eq(siglog_stream_create(s, "t", &c), 0);
    cr_assert_eq(siglog_stream_get(s, "t", st), 0);
    return s;
}

static void setup(void)
{
    siglog_stream *st;
    siglog *s = create_store(PARTITIONS, &st);
    for (uint64_t i = 0; i < EVENTS; i++) {
        char key[16], value[80];
        event_text(i, key, value);
        append_one(st, (uint32_t)(i % PARTITIONS), key, value);
    }
    seal_all(st, PARTITIONS);
    cr_assert_eq(siglog_close(s), 0);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(forget, .init = setup, .fini = teardown, .timeout = 120);

static int forget_keys(const char *stream, const char *const *names, size_t n, const siglog_forget_options *o,
                       siglog_forget_result *res)
{
    siglog_key keys[8];
    for (size_t i = 0; i < n; i++)
        keys[i] = (siglog_key){names[i], strlen(names[i])};
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    int rc = siglog_forget(m, stream, keys, n, o, res);
    siglog_maintenance_close(m);
    return rc;
}

static int is_forgotten(const char *key, size_t len)
{
    return len == 7 && (memcmp(key, "key-003", 7) == 0 || memcmp(key, "key-017", 7) == 0);
}

static char *intent_path(void);
static int file_exists(const char *path);
static uint64_t events_of_key(siglog_stream *st, uint32_t p, const char *key);

typedef struct told {
    uint64_t n;
    int bad;
} told;

static void on_removed(void *ctx, const siglog_record *r)
{
    told *t = ctx;
    t->n++;
    t->bad |= !is_forgotten(r->key, r->key_len);
}

/* What reading partition p gives against the model: the next event of
 * the partition that is not forgotten, at its offset. */
typedef struct expect {
    uint64_t next_i; /* the next appended event (i) to expect */
    uint32_t p;
    uint64_t keyed_read;
} expect;

static void check_record(void *ctx, const siglog_record *r)
{
    expect *x = ctx;
    if (r->key_len == 0)
        return; /* the padding that sealed the segments */
    char key[16], value[80];
    for (;; x->next_i += PARTITIONS) {
        event_text(x->next_i, key, value);
        if (!is_forgotten(key, strlen(key)))
            break;
    }
    cr_assert_eq(r->offset, x->next_i / PARTITIONS, "partition %u: offset %lu, expected %lu", x->p,
                 (unsigned long)r->offset, (unsigned long)(x->next_i / PARTITIONS));
    cr_assert(r->key_len == strlen(key) && memcmp(r->key, key, r->key_len) == 0);
    cr_assert(r->value_len == strlen(value) && memcmp(r->value, value, r->value_len) == 0);
    x->next_i += PARTITIONS;
    x->keyed_read++;
}

/* Whether needle occurs in any file below path; names the first. */
static int found_below(const char *path, const char *needle, char *where, size_t cap)
{
    DIR *d = opendir(path);
    cr_assert(d, "%s", path);
    int found = 0;
    for (struct dirent *de; !found && (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = test_path(path, de->d_name);
        struct stat sb;
        cr_assert_eq(lstat(p, &sb), 0);
        if (S_ISDIR(sb.st_mode)) {
            found = found_below(p, needle, where, cap);
        } else if (S_ISREG(sb.st_mode)) {
            FILE *f = fopen(p, "rb");
            cr_assert(f, "%s", p);
            char *buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
            cr_assert(buf);
            cr_assert_eq(fread(buf, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
            fclose(f);
            found = memmem(buf, (size_t)sb.st_size, needle, strlen(needle)) != NULL;
            if (found)
                snprintf(where, cap, "%s", p);
            free(buf);
        }
        free(p);
    }
    closedir(d);
    return found;
}

/* Neither forgotten key nor any value of theirs is in any file of the
 * store. */
static void assert_no_byte_of_the_forgotten(void)
{
    char where[4096];
    cr_assert_not(found_below(dir, "key-003", where, sizeof where), "key-003 found in %s", where);
    cr_assert_not(found_below(dir, "key-017", where, sizeof where), "key-017 found in %s", where);
    for (uint64_t i = 0; i < EVENTS; i++) {
        char key[16], value[80];
        event_text(i, key, value);
        if (is_forgotten(key, strlen(key)))
            cr_assert_not(found_below(dir, strchr(value, 's'), where, sizeof where), "%s found in %s", value,
                          where);
    }
}

typedef struct audit_seen {
    uint64_t forget_records, events;
    int names_key;
} audit_seen;

static int on_audit(void *ctx, const siglog_audit_record *r)
{
    audit_seen *a = ctx;
    if (strcmp(r->action, "forget") != 0)
        return 0;
    a->forget_records++;
    a->events += r->events;
    a->names_key |= strstr(r->detail, "key-0") != NULL;
    return 0;
}

Test(forget, removes_the_keys_everywhere_and_nothing_else)
{
    static const char *const names[] = {"key-003", "key-017"};
    told t = {0};
    siglog_forget_options o = {.removed = on_removed, .removed_ctx = &t};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 2, &o, &res), 0, "%s", siglog_errdetail());
    /* key-003 lives in partition 1, key-017 in partition 1 too (odd i). */
    uint64_t expected = 2 * (EVENTS / KEYS);
    cr_assert_eq(res.events_removed, expected);
    cr_assert_eq(t.n, expected, "removed() told %lu events", (unsigned long)t.n);
    cr_assert_not(t.bad);
    cr_assert_eq(res.partitions, PARTITIONS);
    cr_assert_eq(res.partitions_changed, 1);
    cr_assert_gt(res.segments_skipped, 0, "partition 0's key filters exclude both keys");

    siglog_stream *st;
    siglog *s = open_store(&st);
    uint64_t kept = 0;
    for (uint32_t p = 0; p < PARTITIONS; p++) {
        expect x = {.next_i = p, .p = p};
        test_read_all(st, p, check_record, &x);
        kept += x.keyed_read;
    }
    cr_assert_eq(kept, EVENTS - expected);
    for (size_t k = 0; k < 2; k++) {
        siglog_cursor *c;
        cr_assert_eq(siglog_cursor_open(&c, st, 1, SIGLOG_SEEK_START, 0, 0), 0);
        cr_assert_eq(siglog_cursor_set_key(c, names[k], strlen(names[k])), 0);
        const siglog_record *r;
        cr_assert_eq(siglog_cursor_next(c, &r), 0, "%s still read by key", names[k]);
        siglog_cursor_close(c);
    }
    audit_seen a = {0};
    cr_assert_eq(siglog_audit_read(s, 1, on_audit, &a, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(a.forget_records, 1);
    cr_assert_eq(a.events, expected);
    cr_assert_not(a.names_key, "an audit record names a key");
    cr_assert_eq(siglog_close(s), 0);

    cr_assert_eq(res.journal_scrubbed, 1);
    assert_no_byte_of_the_forgotten();
}

typedef struct details {
    char text[4][1100];
    size_t n;
} details;

static int keep_forget_detail(void *ctx, const siglog_audit_record *r)
{
    details *d = ctx;
    if (strcmp(r->action, "forget") == 0 && d->n < 4)
        snprintf(d->text[d->n++], sizeof d->text[0], "%s", r->detail);
    return 0;
}

/* FORMAT.md, "Forget records", recomputed as an auditor would: the
 * secret's bytes from store.secret (16..47), K = BLAKE2b-256 of
 * "siglog-forget-v1" keyed with it, each key's hash = hex of BLAKE2b-256
 * of the key's bytes keyed with K. */
Test(forget, audit_names_each_key_by_the_documented_keyed_hash)
{
    static const char *const names[] = {"key-003", "key-017"};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 2, NULL, &res), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    siglog *s = open_store(&st);
    details d = {0};
    cr_assert_eq(siglog_audit_read(s, 1, keep_forget_detail, &d, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(d.n, 1);
    for (size_t k = 0; k < 2; k++) {
        char hex[65];
        test_documented_keyed_hash(dir, "siglog-forget-v1", names[k], strlen(names[k]), hex);
        cr_assert(strstr(d.text[0], hex), "%s's hash %s not in: %s", names[k], hex, d.text[0]);
    }
}

Test(forget, dry_run_changes_no_file_and_says_what_would_go)
{
    static const char *const names[] = {"key-003", "key-017"};
    char *before = test_store_fingerprint(dir);
    told t = {0};
    siglog_forget_options o = {.dry_run = 1, .removed = on_removed, .removed_ctx = &t};
    siglog_forget_result dry, real;
    cr_assert_eq(forget_keys("t", names, 2, &o, &dry), 0, "%s", siglog_errdetail());
    char *after = test_store_fingerprint(dir);
    cr_assert_str_eq(before, after);
    cr_assert_eq(t.n, 0, "a dry run tells of no removal");
    cr_assert_eq(forget_keys("t", names, 2, NULL, &real), 0, "%s", siglog_errdetail());
    cr_assert_eq(dry.events_removed, real.events_removed);
    cr_assert_eq(dry.segments_rewritten, real.segments_rewritten);
    cr_assert_eq(dry.bytes_before, real.bytes_before);
    cr_assert_eq(dry.bytes_after, 0);
    free(before);
    free(after);
}

/* Events of key-003 in partition 1's active segment (and key-late's in
 * partition 0's). A dry run says it would roll it and writes nothing. */
static void append_late(void)
{
    siglog_stream *st;
    siglog *s = open_store(&st);
    append_one(st, 0, "key-late", "{\"value\":\"late-of-key-late\"}");
    append_one(st, 1, "key-003", "{\"value\":\"secret-late-of-key-003\"}");
    append_one(st, 1, "key-late", "{\"value\":\"late-of-key-late\"}");
    cr_assert_eq(siglog_close(s), 0);
}

static uint64_t segment_count(siglog_stream *st, uint32_t p)
{
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, p, &info), 0);
    return info.segment_count;
}

Test(forget, a_key_in_an_active_segment_is_rolled_first)
{
    append_late();
    static const char *const names[] = {"key-003", "key-017"};
    char *before = test_store_fingerprint(dir);
    siglog_forget_options dry = {.dry_run = 1};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 2, &dry, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.segments_rolled, 1);
    cr_assert_eq(res.events_removed, 2 * (EVENTS / KEYS) + 1);
    char *after = test_store_fingerprint(dir);
    cr_assert_str_eq(before, after, "a dry run wrote");
    free(before);
    free(after);

    siglog_stream *st;
    siglog *s = open_store(&st);
    uint64_t segs0 = segment_count(st, 0), segs1 = segment_count(st, 1), next1;
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 1, &info), 0);
    next1 = info.next_offset;
    cr_assert_eq(siglog_close(s), 0);

    told t = {0};
    siglog_forget_options o = {.removed = on_removed, .removed_ctx = &t};
    cr_assert_eq(forget_keys("t", names, 2, &o, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.segments_rolled, 1);
    cr_assert_eq(res.events_removed, 2 * (EVENTS / KEYS) + 1);
    cr_assert_eq(t.n, res.events_removed);
    cr_assert_eq(res.journal_scrubbed, 1);

    s = open_store(&st);
    cr_assert_eq(segment_count(st, 0), segs0, "partition 0's active segment held no key: not rolled");
    cr_assert_eq(segment_count(st, 1), segs1 + 1, "partition 1's active segment was not rolled");
    cr_assert_eq(events_of_key(st, 1, "key-003"), 0);
    cr_assert_eq(events_of_key(st, 1, "key-late"), 1);
    cr_assert_eq(events_of_key(st, 0, "key-late"), 1);
    siglog_event next = {.key = "key-next", .key_len = 8, .value = "{}", .value_len = 2};
    uint64_t off;
    cr_assert_eq(siglog_append(st, 1, &next, 1, NULL, &off), 0, "%s", siglog_errdetail());
    cr_assert_eq(off, next1, "the next append got offset %lu", (unsigned long)off);
    cr_assert_eq(siglog_close(s), 0);
    char where[4096];
    cr_assert_not(found_below(dir, "secret-late-of-key-003", where, sizeof where), "found in %s", where);
    cr_assert(found_below(dir, "late-of-key-late", where, sizeof where));
    assert_no_byte_of_the_forgotten();
}

/* A store another user owns, forgotten with force_owner (as root, which
 * may own files for another): the writer that rolls the active segment
 * is opened with it too (it is refused otherwise). */
Test(forget, a_roll_for_a_forced_owner_opens_the_writer_forced_too)
{
    if (geteuid() != 0)
        cr_skip_test("needs root, to give the store to another user");
    append_late();
    cr_assert_eq(lchown(dir, 4242, 4242), 0);
    siglog_options o;
    siglog_options_default(&o);
    o.force_owner = 1;
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, &o), 0, "%s", siglog_errdetail());
    siglog_key k = {"key-003", 7};
    siglog_forget_result res;
    int rc = siglog_forget(m, "t", &k, 1, NULL, &res);
    siglog_maintenance_close(m);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(res.segments_rolled, 1);
    cr_assert_eq(res.events_removed, EVENTS / KEYS + 1);
    cr_assert_eq(lchown(dir, 0, 0), 0);
}

/* A writer that has the store owns its active segments: asked, it rolls
 * the one holding the key, and the forget removes the key's events from
 * it; the writer appends on, and no roll.request is left. */
Test(forget, a_key_in_the_active_segment_of_a_live_writer_is_rolled_by_it_on_request)
{
    append_late();
    siglog_stream *st;
    siglog *s = open_store(&st);
    static const char *const names[] = {"key-003"};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 1, NULL, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.segments_rolled, 1);
    cr_assert_eq(res.events_removed, EVENTS / KEYS + 1);
    cr_assert_eq(res.journal_scrubbed, 1);
    append_one(st, 1, "key-after", "{\"value\":\"after\"}");
    cr_assert_eq(siglog_close(s), 0);
    s = open_store(&st);
    cr_assert_eq(events_of_key(st, 1, "key-003"), 0);
    cr_assert_eq(events_of_key(st, 1, "key-late"), 1);
    cr_assert_eq(events_of_key(st, 1, "key-after"), 1);
    cr_assert_eq(siglog_close(s), 0);
    char *req = test_path(dir, "streams/t/roll.request");
    cr_assert_not(file_exists(req));
    free(req);
}

/* Blank the time of each directory line of a fingerprint ("PATH 40MODE
 * SIZE TIME HASH"). */
static void dir_times_cleared(char *fp)
{
    for (char *line = fp; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *mode = strchr(line, ' ');
        char *time = mode ? strchr(mode + 1, ' ') : NULL;
        time = time ? strchr(time + 1, ' ') : NULL;
        if (!mode || !time || strncmp(mode + 1, "40", 2) != 0)
            continue;
        for (char *c = time + 1; *c && *c != ' ' && *c != '\n'; c++)
            *c = '-';
    }
}

/* A writer that never answers (stopped): the forget fails after its wait
 * naming the writer whole (at a store path of over 600 bytes: the
 * writer's "store PATH is locked by writer pid N" is kept, the pid at
 * its end included) and what it waited for, and nothing is removed,
 * audited or left behind: the tree is as it was, request included. */
Test(forget, a_writer_that_does_not_answer_changes_nothing)
{
    char *top = test_tmpdir("forget-long"), *at = strdup(top);
    for (int i = 0; i < 3; i++) {
        char part[200];
        memset(part, 'a' + i, sizeof part - 1);
        part[sizeof part - 1] = '\0';
        char *deeper = test_path(at, part);
        cr_assert_eq(mkdir(deeper, 0755), 0);
        free(at);
        at = deeper;
    }
    char *moved = test_path(at, "store");
    cr_assert_eq(rename(dir, moved), 0);
    free(dir);
    dir = moved;
    append_late();
    int writer = test_writer_stopped(dir);
    char *before = test_store_fingerprint(dir);
    static const char *const names[] = {"key-003"};
    siglog_forget_options o = {.wait_ms = 300};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 1, &o, &res), SIGLOG_ELIMIT);
    char pid[64];
    snprintf(pid, sizeof pid, "is locked by writer pid %d)", writer);
    cr_assert(strstr(siglog_errdetail(), pid) && strstr(siglog_errdetail(), "waited 300 ms") &&
                  strstr(siglog_errdetail(), "roll.request") && strstr(siglog_errdetail(), "nothing was changed"),
              "%s", siglog_errdetail());
    char *after = test_store_fingerprint(dir);
    /* A directory's time moves with the request made and withdrawn in it. */
    dir_times_cleared(before);
    dir_times_cleared(after);
    cr_assert_str_eq(after, before, "the refused forget changed the store:\n%s\n---\n%s", before, after);
    test_writer_stopped_end(writer);
    siglog_stream *st;
    siglog *s = open_store(&st);
    cr_assert_eq(events_of_key(st, 1, "key-003"), EVENTS / KEYS + 1);
    audit_seen a = {0};
    cr_assert_eq(siglog_audit_read(s, 1, on_audit, &a, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(a.forget_records, 0);
    cr_assert_eq(siglog_close(s), 0);
    free(before);
    free(after);
    /* The teardown removes an empty directory in the store's place. */
    test_rmtree(top);
    free(top);
    free(at);
    free(dir);
    dir = test_tmpdir("forget");
}

Test(forget, bad_arguments_change_nothing)
{
    char *before = test_store_fingerprint(dir);
    siglog_forget_result res;
    static const char *const unknown[] = {"key-003"};
    cr_assert_eq(forget_keys("nosuch", unknown, 1, NULL, &res), SIGLOG_ENOENT);
    static const char *const empty[] = {""};
    cr_assert_eq(forget_keys("t", empty, 1, NULL, &res), SIGLOG_EINVAL);
    cr_assert_eq(forget_keys("t", unknown, 0, NULL, &res), SIGLOG_EINVAL);
    char *after = test_store_fingerprint(dir);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
}

/* A partition whose first and third segments hold only the key: the
 * first leaves the log (its start moves up), the third's range goes to
 * the second, and every other event stays. */
Test(forget, emptied_segments_leave_no_entry_of_their_own)
{
    test_rmtree(dir);
    free(dir);
    siglog_stream *st;
    siglog *s = create_store(1, &st);
    char value[1024];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    uint64_t per_segment = SEGMENT_BYTES / sizeof value + 8, kept = 0;
    for (int seg = 0; seg < 3; seg++)
        for (uint64_t i = 0; i < per_segment; i++) {
            int keep = seg == 1 && i % 2 == 0;
            append_one(st, 0, keep ? "other" : "gone", value);
            kept += keep;
        }
    seal_all(st, 1);
    cr_assert_eq(siglog_close(s), 0);
    static const char *const names[] = {"gone"};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 1, NULL, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.events_removed, 3 * per_segment - kept);
    s = open_store(&st);
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0);
    cr_assert_gt(info.log_start_offset, 0, "the emptied first segment left the log");
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    const siglog_record *r;
    uint64_t others = 0;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        cr_assert_neq(r->key_len, 4, "a forgotten event read at offset %lu", (unsigned long)r->offset);
        others += r->key_len == 5;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(others, kept);
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
}

/* A writer keeps its handle open and appends on after the forget: its
 * events and the survivors are all read, the forgotten ones never. The
 * journal is the writer's: asked, it zeroes its old bytes, so no file
 * holds a forgotten byte while it is still open. */
Test(forget, beside_a_live_writer)
{
    siglog_stream *st;
    siglog *s = open_store(&st);
    static const char *const names[] = {"key-003", "key-017"};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 2, NULL, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.journal_scrubbed, 1, "the live writer was not asked to scrub its journal");
    cr_assert_eq(res.segments_rolled, 0);
    assert_no_byte_of_the_forgotten();
    append_one(st, 1, "key-after", "{\"value\":\"after\"}");
    cr_assert_eq(siglog_flush(s), 0);
    expect x = {.next_i = 1, .p = 1};
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, 1, SIGLOG_SEEK_START, 0, 0), 0);
    const siglog_record *r;
    int rc, after = 0;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        if (r->key_len == 9 && memcmp(r->key, "key-after", 9) == 0)
            after++;
        else if (x.keyed_read < EVENTS / PARTITIONS - 2 * EVENTS / KEYS)
            check_record(&x, r);
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(after, 1);
    cr_assert_eq(x.keyed_read, EVENTS / PARTITIONS - 2 * EVENTS / KEYS);
    siglog_cursor_close(c);
    cr_assert_eq(siglog_close(s), 0);
    assert_no_byte_of_the_forgotten();
}

static char *intent_path(void)
{
    return test_path(dir, "streams/t/" FORGET_INTENT_FILE);
}

static int file_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

typedef struct intent_seen {
    uint64_t removed, while_present;
    int names_key;
} intent_seen;

/* While a segment is rewritten the intent is on disk, without the keys. */
static void on_removed_check_intent(void *ctx, const siglog_record *r)
{
    intent_seen *t = ctx;
    (void)r;
    t->removed++;
    char *path = intent_path();
    FILE *f = fopen(path, "rb");
    if (f) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        t->while_present++;
        t->names_key |= memmem(buf, n, "key-0", 5) != NULL;
    }
    free(path);
}

Test(forget, intent_is_on_disk_while_rewriting_without_the_keys_and_gone_after)
{
    static const char *const names[] = {"key-003", "key-017"};
    intent_seen t = {0};
    siglog_forget_options o = {.removed = on_removed_check_intent, .removed_ctx = &t};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 2, &o, &res), 0, "%s", siglog_errdetail());
    cr_assert_gt(t.removed, 0);
    cr_assert_eq(t.while_present, t.removed, "the intent was missing during %lu removals",
                 (unsigned long)(t.removed - t.while_present));
    cr_assert_not(t.names_key, "the intent holds a key");
    char *path = intent_path();
    cr_assert_not(file_exists(path), "the intent is left after the forget");
    free(path);
    cr_assert_eq(res.intents_finished, 0);
}

static uint64_t events_of_key(siglog_stream *st, uint32_t p, const char *key)
{
    siglog_cursor *c;
    cr_assert_eq(siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0), 0);
    cr_assert_eq(siglog_cursor_set_key(c, key, strlen(key)), 0);
    const siglog_record *r;
    uint64_t n = 0;
    while (siglog_cursor_next(c, &r) == 1)
        n++;
    siglog_cursor_close(c);
    return n;
}

Test(forget, an_interrupted_forget_is_listed_read_only_and_finished)
{
    test_write_interrupted_intent(dir, "t", "key-003");
    char *before = test_store_fingerprint(dir);
    siglog_options ro;
    siglog_options_default(&ro);
    ro.read_only = 1;
    siglog *s;
    cr_assert_eq(siglog_open(&s, dir, &ro), 0, "%s", siglog_errdetail());
    siglog_forget_intent *list;
    size_t n;
    cr_assert_eq(siglog_forget_pending(s, &list, &n), 0, "%s", siglog_errdetail());
    cr_assert_eq(n, 1);
    cr_assert_str_eq(list[0].stream, "t");
    cr_assert_eq(list[0].keys, 1);
    cr_assert_eq(list[0].started_us, 1700000000000000);
    siglog_forget_pending_free(list);
    cr_assert_eq(siglog_close(s), 0);
    char *after = test_store_fingerprint(dir);
    cr_assert_str_eq(before, after, "listing the intents wrote");
    free(before);
    free(after);

    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_forget_result res;
    cr_assert_eq(siglog_forget_finish(m, NULL, &res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(res.intents_finished, 1);
    cr_assert_eq(res.events_removed, EVENTS / KEYS);
    char *path = intent_path();
    cr_assert_not(file_exists(path));
    free(path);

    siglog_stream *st;
    s = open_store(&st);
    cr_assert_eq(events_of_key(st, 1, "key-003"), 0);
    cr_assert_eq(events_of_key(st, 1, "key-017"), EVENTS / KEYS, "another key's events went");
    cr_assert_eq(siglog_forget_pending(s, &list, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(siglog_close(s), 0);
}

Test(forget, the_next_forget_finishes_an_interrupted_one_first)
{
    test_write_interrupted_intent(dir, "t", "key-003");
    static const char *const names[] = {"key-017"};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 1, NULL, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.intents_finished, 1);
    cr_assert_eq(res.events_removed, EVENTS / KEYS, "the figures are this forget's");
    char *path = intent_path();
    cr_assert_not(file_exists(path));
    free(path);
    assert_no_byte_of_the_forgotten();
}

Test(forget, a_damaged_intent_is_reported_with_its_byte_and_kept)
{
    test_write_interrupted_intent(dir, "t", "key-003");
    char *path = intent_path();
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 40, SEEK_SET), 0);
    fputc('x', f);
    fclose(f);
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_forget_result res;
    cr_assert_eq(siglog_forget_finish(m, NULL, &res), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "forget.intent") && strstr(siglog_errdetail(), "byte"), "%s",
              siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert(file_exists(path));
    free(path);
}

/* Event i of the warm test: key "key-%03u" of i % KEYS, a value holding
 * 32 hex digits of its own (so that LZ4HC leaves much of it as literals
 * a byte search can find). */
static void warm_value(uint64_t i, char value[80])
{
    uint64_t rng = 1000 + i, a = test_rand(&rng), b = test_rand(&rng);
    snprintf(value, 80, "{\"token\":\"%016llx%016llx\"}", (unsigned long long)a, (unsigned long long)b);
}

typedef struct warm_seen {
    uint64_t segments, bytes;
} warm_seen;

static int count_warm(void *ctx, const siglog_segment_info *seg)
{
    warm_seen *w = ctx;
    w->segments += seg->tier == 1;
    w->bytes += seg->tier == 1 ? seg->bytes : 0;
    return 0;
}

/* The tokens of the forgotten events' values found in some file of the
 * store. */
static uint64_t forgotten_tokens_found(void)
{
    uint64_t found = 0;
    char where[4096];
    for (uint64_t i = 3; i < EVENTS; i += KEYS) {
        char value[80];
        warm_value(i, value);
        found += found_below(dir, strstr(value, ":\"") + 2, where, sizeof where);
    }
    return found;
}

/* Segments moved to the warm tier (LZ4HC) by retention: the forget
 * rewrites them warm (LZ4HC still: no larger), every other event reads back as appended, and no
 * file of the store (the journal included) holds a forgotten value's
 * token any more; before, many were found (the search can see them). */
Test(forget, over_warm_segments_leaves_no_byte_of_the_keys)
{
    test_rmtree(dir);
    free(dir);
    siglog_stream *st;
    siglog *s = create_store(1, &st);
    for (uint64_t i = 0; i < EVENTS; i++) {
        char key[16], value[80];
        snprintf(key, sizeof key, "key-%03u", (unsigned)(i % KEYS));
        warm_value(i, value);
        append_one(st, 0, key, value);
    }
    seal_all(st, 1);
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.warm_after = 1;
    cr_assert_eq(siglog_stream_config_set(s, "t", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_retain(m, INT64_MAX / 2, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    s = open_store(&st);
    warm_seen warm = {0};
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_warm, &warm), 0);
    cr_assert_gt(warm.segments, 2, "retention moved %lu segments to warm", (unsigned long)warm.segments);
    cr_assert_eq(siglog_close(s), 0);
    uint64_t before = forgotten_tokens_found();
    cr_assert_gt(before, EVENTS / KEYS / 4, "only %lu of the tokens are literal", (unsigned long)before);

    static const char *const names[] = {"key-003"};
    siglog_forget_result res;
    cr_assert_eq(forget_keys("t", names, 1, NULL, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.events_removed, EVENTS / KEYS);
    cr_assert_eq(res.journal_scrubbed, 1);

    s = open_store(&st);
    warm_seen warm_after = {0};
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_warm, &warm_after), 0);
    cr_assert_eq(warm_after.segments, warm.segments, "the rewritten segments left the warm tier");
    cr_assert_leq(warm_after.bytes, warm.bytes, "the warm segments were rewritten without LZ4HC");
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0);
    const siglog_record *r;
    uint64_t kept = 0;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1) {
        if (r->key_len == 0)
            continue;
        char key[16], value[80];
        snprintf(key, sizeof key, "key-%03u", (unsigned)(r->offset % KEYS));
        warm_value(r->offset, value);
        cr_assert_neq(r->offset % KEYS, 3, "a forgotten event read at offset %lu", (unsigned long)r->offset);
        cr_assert(r->key_len == strlen(key) && memcmp(r->key, key, r->key_len) == 0);
        cr_assert(r->value_len == strlen(value) && memcmp(r->value, value, r->value_len) == 0);
        kept++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(kept, EVENTS - EVENTS / KEYS);
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(forgotten_tokens_found(), 0);
}
