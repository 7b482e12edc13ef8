/*
 * audit — the store's audit trail: records read back as written, with who
 * wrote them; the chain catches a removed, an edited and a swapped record
 * (naming the first bad one and its byte) and a trail or key from another
 * store; a torn last record (cut short, or garbled at full length) is
 * reported by readers without a change and cut by the next append; a bad
 * record with a good one after it is damage, never cut; appenders in
 * several processes keep one chain; a power cut at every I/O call of an
 * append leaves a trail that verifies with the record or without it.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "io_crash.h"
#include "names.h"
#include "store.h"
#include "store_secret.h"
#include "support.h"

static char *dir, *trail_path;
static uint64_t store_id;
static uint8_t key[STORE_SECRET_BYTES];

static void setup(void)
{
    dir = test_tmpdir("audit");
    siglog *s = test_store_open(dir, NULL);
    store_id = s->store_id;
    cr_assert_eq(sl_store_secret_get(s, key), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    trail_path = test_path(dir, STORE_AUDIT_FILE);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
    free(trail_path);
}

TestSuite(audit, .init = setup, .fini = teardown);

static audit_trail trail(const siglog_io *io, const uint8_t *k)
{
    return (audit_trail){io ? io : sl_io_posix(), dir, store_id, k, 0600};
}

/* Record i of a test: a purge of [100 i, 100 i + 100) of clicks/i%4. */
static void append_nth(const siglog_io *io, uint64_t i)
{
    audit_record r;
    sl_audit_record_init(&r, AUDIT_PURGE, AUDIT_BY_POLICY);
    snprintf(r.stream, sizeof r.stream, "clicks");
    r.partition = (uint32_t)(i % 4);
    r.offset_start = 100 * i;
    r.offset_end = 100 * i + 100;
    r.events = 100;
    r.bytes = 4096 * (i + 1);
    r.time_min_us = 1700000000000000 + (int64_t)i;
    r.time_max_us = r.time_min_us + 1000;
    snprintf(r.detail, sizeof r.detail, "delete_after=30d (record %" PRIu64 ")", i);
    audit_trail t = trail(io, key);
    int rc = sl_audit_append(&t, &r);
    cr_assert_eq(rc, 0, "append %" PRIu64 ": %s", i, siglog_errdetail());
    cr_assert_eq(r.seq, i);
}

typedef struct seen {
    uint64_t n;
    audit_record last;
} seen;

static int count_record(void *ctx, const audit_record *r)
{
    seen *s = ctx;
    cr_assert_eq(r->offset_start, 100 * s->n, "record %" PRIu64 " out of order", s->n);
    s->last = *r;
    s->n++;
    return 0;
}

/* Read (with the key) and return the code; *n records delivered. */
static int read_trail(audit_result *res, seen *s)
{
    memset(s, 0, sizeof *s);
    audit_trail t = trail(NULL, key);
    return sl_audit_read(&t, count_record, s, res);
}

static char *slurp(size_t *len)
{
    FILE *f = fopen(trail_path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *buf = malloc(*len + 1);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void spill(const char *buf, size_t len)
{
    FILE *f = fopen(trail_path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* Byte position of record i: the records of these tests all have the
 * length of the first (its length field), damaged trail or not. */
static uint64_t record_pos(uint64_t i)
{
    size_t len;
    char *all = slurp(&len);
    cr_assert_geq(len, AUDIT_HEADER_BYTES + 8);
    uint64_t one = (uint8_t)all[36] | (uint64_t)(uint8_t)all[37] << 8;
    free(all);
    return AUDIT_HEADER_BYTES + i * one;
}

Test(audit, records_read_back_with_who_wrote_them)
{
    audit_result res;
    seen s;
    cr_assert_eq(read_trail(&res, &s), 0, "a store without a trail has no records");
    cr_assert_eq(res.records, 0);
    for (uint64_t i = 0; i < 5; i++)
        append_nth(NULL, i);
    cr_assert_eq(read_trail(&res, &s), 0, "%s", siglog_errdetail());
    cr_assert_eq(s.n, 5);
    cr_assert_eq(res.torn_at, UINT64_MAX);
    cr_assert_eq(s.last.action, AUDIT_PURGE);
    cr_assert_eq(s.last.cause, AUDIT_BY_POLICY);
    cr_assert_str_eq(s.last.stream, "clicks");
    cr_assert_eq(s.last.partition, 0);
    cr_assert_eq(s.last.offset_end, 500);
    cr_assert_eq(s.last.bytes, 5 * 4096);
    cr_assert_eq(s.last.pid, (uint32_t)getpid());
    cr_assert_eq(s.last.uid, (uint32_t)geteuid());
    char host[AUDIT_HOST_MAX + 1];
    gethostname(host, sizeof host);
    cr_assert_str_eq(s.last.host, host);
    cr_assert_str_eq(s.last.detail, "delete_after=30d (record 4)");
    cr_assert_gt(s.last.time_us, 0);
}

Test(audit, public_read_verifies_and_gives_the_head)
{
    for (uint64_t i = 0; i < 3; i++)
        append_nth(NULL, i);
    siglog *s = test_store_open_read_only(dir);
    siglog_audit_summary sum;
    cr_assert_eq(siglog_audit_read(s, 1, NULL, NULL, &sum), 0, "%s", siglog_errdetail());
    cr_assert_eq(sum.records, 3);
    cr_assert_eq(sum.verified, 1);
    cr_assert_eq(strlen(sum.head_mac), 64);
    cr_assert_eq(siglog_close(s), 0);
}

/* Verification fails naming record `bad` at its byte. */
static void assert_bad_at(uint64_t bad, const char *why)
{
    audit_result res;
    seen s;
    int rc = read_trail(&res, &s);
    cr_assert_eq(rc, SIGLOG_ECORRUPT, "tampering went unnoticed (%d)", rc);
    char want[64];
    snprintf(want, sizeof want, "record %" PRIu64 " at byte %" PRIu64, bad, record_pos(bad));
    cr_assert(strstr(siglog_errdetail(), want) && strstr(siglog_errdetail(), why), "%s", siglog_errdetail());
    cr_assert_eq(s.n, bad, "the records before the bad one are delivered");
}

Test(audit, verify_catches_a_deleted_record)
{
    for (uint64_t i = 0; i < 5; i++)
        append_nth(NULL, i);
    uint64_t a = record_pos(2), b = record_pos(3);
    size_t len;
    char *all = slurp(&len);
    memmove(all + a, all + b, len - b);
    spill(all, len - (b - a));
    free(all);
    assert_bad_at(2, "sequence");
}

Test(audit, verify_catches_an_edited_record)
{
    for (uint64_t i = 0; i < 5; i++)
        append_nth(NULL, i);
    /* The purge's first offset, 100 -> 356: a record that lies. */
    test_flip_byte(trail_path, record_pos(1) + 32 + 1, 0x01);
    assert_bad_at(1, "mac");
}

Test(audit, verify_catches_an_edit_with_the_crc_style_repair_of_a_forger)
{
    /* Editing the detail and recomputing the mac with a wrong key (anyone
     * without the store's secret) is caught all the same. */
    for (uint64_t i = 0; i < 3; i++)
        append_nth(NULL, i);
    size_t len;
    char *all = slurp(&len);
    uint64_t at = record_pos(1), next = record_pos(2);
    char *detail = memmem(all + at, next - at, "record 1", 8);
    cr_assert_not_null(detail);
    detail[7] = '9';
    uint8_t guess[STORE_SECRET_BYTES] = {0};
    sl_audit_mac((uint8_t *)all + next - AUDIT_MAC_BYTES, guess, (uint8_t *)all + at,
              next - at - AUDIT_MAC_BYTES);
    spill(all, len);
    free(all);
    assert_bad_at(1, "mac");
}

Test(audit, verify_catches_swapped_records)
{
    for (uint64_t i = 0; i < 5; i++)
        append_nth(NULL, i);
    uint64_t a = record_pos(1), b = record_pos(2), c = record_pos(3);
    size_t len;
    char *all = slurp(&len);
    char *tmp = malloc(b - a);
    memcpy(tmp, all + a, b - a);
    memmove(all + a, all + b, c - b);
    memcpy(all + a + (c - b), tmp, b - a);
    spill(all, len);
    free(tmp);
    free(all);
    assert_bad_at(1, "sequence");
}

Test(audit, a_trail_or_key_of_another_store_is_refused)
{
    append_nth(NULL, 0);
    uint8_t other[STORE_SECRET_BYTES];
    memcpy(other, key, sizeof other);
    other[0] ^= 1;
    audit_trail t = trail(NULL, other);
    audit_result res;
    /* Under another key the first record does not verify; as the only,
     * last, record it reads as torn: nothing is delivered. */
    seen sn = {0};
    cr_assert_eq(sl_audit_read(&t, count_record, &sn, &res), 0);
    cr_assert_eq(sn.n, 0);
    cr_assert_eq(res.torn_at, AUDIT_HEADER_BYTES);
    append_nth(NULL, 1);
    cr_assert_eq(sl_audit_read(&t, NULL, NULL, &res), SIGLOG_ECORRUPT, "two records under the wrong key");
    t.store_id ^= 1;
    t.key = key;
    cr_assert_eq(sl_audit_read(&t, NULL, NULL, &res), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), "not of this store"), "%s", siglog_errdetail());
}

/* A torn last record at `cut` (or garbled from `cut` to the end): readers
 * see 3 whole records and the torn tail and change nothing; the next
 * append cuts it and verifies. */
static void torn_tail_case(int garble)
{
    for (uint64_t i = 0; i < 4; i++)
        append_nth(NULL, i);
    uint64_t last = record_pos(3);
    size_t len;
    char *all = slurp(&len);
    if (garble) {
        for (size_t i = last + 40; i < len; i++)
            all[i] = (char)(i * 131);
        spill(all, len);
    } else {
        spill(all, last + 50);
    }
    free(all);
    size_t before_len;
    char *before = slurp(&before_len);
    audit_result res;
    seen sn;
    cr_assert_eq(read_trail(&res, &sn), 0, "%s", siglog_errdetail());
    cr_assert_eq(sn.n, 3);
    cr_assert_eq(res.torn_at, last);
    size_t after_len;
    char *after = slurp(&after_len);
    cr_assert(before_len == after_len && memcmp(before, after, before_len) == 0, "a reader changed the trail");
    free(before);
    free(after);

    /* Shorter than the torn one, so what is not cut would show. */
    audit_record r;
    sl_audit_record_init(&r, AUDIT_CONFIG, AUDIT_BY_COMMAND);
    audit_trail t = trail(NULL, key);
    cr_assert_eq(sl_audit_append(&t, &r), 0, "%s", siglog_errdetail());
    cr_assert_eq(r.seq, 3, "the torn record's sequence number again");
    cr_assert_eq(sl_audit_read(&t, NULL, NULL, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.records, 4);
    cr_assert_eq(res.torn_at, UINT64_MAX);
}

Test(audit, a_record_cut_short_is_a_torn_tail_cut_by_the_next_append)
{
    torn_tail_case(0);
}

Test(audit, a_garbled_last_record_is_a_torn_tail_cut_by_the_next_append)
{
    torn_tail_case(1);
}

Test(audit, a_bad_record_before_a_good_one_is_damage_never_cut)
{
    for (uint64_t i = 0; i < 4; i++)
        append_nth(NULL, i);
    uint64_t at = record_pos(2);
    /* Its length field: a torn-looking record in the middle. */
    test_flip_byte(trail_path, at + 5, 0x40);
    size_t len;
    char *before = slurp(&len);
    audit_record r;
    sl_audit_record_init(&r, AUDIT_CONFIG, AUDIT_BY_COMMAND);
    audit_trail t = trail(NULL, key);
    cr_assert_eq(sl_audit_append(&t, &r), SIGLOG_ECORRUPT, "appended after damage");
    char want[64];
    snprintf(want, sizeof want, "record 2 at byte %" PRIu64, at);
    cr_assert(strstr(siglog_errdetail(), want), "%s", siglog_errdetail());
    size_t after_len;
    char *after = slurp(&after_len);
    cr_assert(len == after_len && memcmp(before, after, len) == 0, "the damaged trail was changed");
    free(before);
    free(after);
}

Test(audit, appenders_in_several_processes_keep_one_chain, .timeout = 60)
{
    enum { PROCS = 4, EACH = 25 };
    pid_t kids[PROCS];
    for (int k = 0; k < PROCS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < EACH; i++) {
                audit_record r;
                sl_audit_record_init(&r, AUDIT_HOLD, AUDIT_BY_COMMAND);
                audit_trail t = trail(NULL, key);
                if (sl_audit_append(&t, &r) != 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < PROCS; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "appender %d failed", k);
    }
    audit_trail t = trail(NULL, key);
    audit_result res;
    cr_assert_eq(sl_audit_read(&t, NULL, NULL, &res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.records, PROCS * EACH);
}

/* A power cut at every mutating I/O call of an append, in every mode:
 * afterwards the trail verifies and holds the earlier records, with the
 * new one or without it, and (once acknowledged) always with it; the next
 * append works and verifies. */
Test(audit, power_cut_at_every_call_of_an_append, .timeout = 120)
{
    append_nth(NULL, 0);
    size_t base_len;
    char *base = slurp(&base_len);
    for (int mode = IO_CRASH_KEEP_ALL; mode <= IO_CRASH_GARBLE; mode++) {
        for (uint64_t k = 1;; k++) {
            spill(base, base_len);
            io_crash *c = io_crash_new(k * 7 + (uint64_t)mode);
            io_crash_die_after(c, k);
            audit_record r;
            sl_audit_record_init(&r, AUDIT_PURGE, AUDIT_BY_POLICY);
            audit_trail t = trail(io_crash_io(c), key);
            int rc = sl_audit_append(&t, &r);
            int died = io_crash_dead(c);
            cr_assert_eq(io_crash_power_cut(c, mode), 0);
            io_crash_free(c);
            audit_trail plain = trail(NULL, key);
            audit_result res;
            cr_assert_eq(sl_audit_read(&plain, NULL, NULL, &res), 0, "mode %d call %" PRIu64 ": %s", mode, k,
                         siglog_errdetail());
            cr_assert(res.records == 1 || res.records == 2, "mode %d call %" PRIu64 ": %" PRIu64 " records", mode,
                      k, res.records);
            if (rc == 0)
                cr_assert_eq(res.records, 2, "mode %d call %" PRIu64 ": an acknowledged record was lost", mode, k);
            audit_record again;
            sl_audit_record_init(&again, AUDIT_PURGE, AUDIT_BY_POLICY);
            cr_assert_eq(sl_audit_append(&plain, &again), 0, "%s", siglog_errdetail());
            cr_assert_eq(sl_audit_read(&plain, NULL, NULL, &res), 0, "%s", siglog_errdetail());
            if (!died)
                break; /* the append finished before call k */
        }
    }
    free(base);
}
