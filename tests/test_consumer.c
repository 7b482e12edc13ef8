/*
 * consumer — committed offsets of named consumers: commits persist and
 * list back; a plain reader may not commit, the consumer role may while a
 * writer holds the store; offsets past the end and bad names are refused;
 * a commit of a holding consumer, and the deletion that releases the
 * hold, are in the audit trail and other commits are not; commits from
 * several processes are all kept; a damaged file is reported naming it;
 * a power cut at every I/O call of a commit leaves the old offsets or
 * the new ones.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "consumer.h"
#include "io_crash.h"
#include "names.h"
#include "store.h"
#include "store_secret.h"
#include "support.h"

static char *dir;
static siglog *s;
static siglog_stream *st;

static void setup(void)
{
    dir = test_tmpdir("consumer");
    s = test_store_open(dir, NULL);
    st = test_stream_create(s, "ev", 2, SIGLOG_SYNC_ALWAYS, 1u << 20);
    test_event e;
    for (uint64_t i = 0; i < 20; i++) {
        test_event_make(&e, 1, i);
        cr_assert_eq(siglog_append(st, (uint32_t)(i % 2), &e.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
}

static void teardown(void)
{
    siglog_close(s);
    test_rmtree(dir);
    free(dir);
}

TestSuite(consumer, .init = setup, .fini = teardown);

typedef struct found {
    char names[8][SIGLOG_NAME_MAX + 1];
    uint64_t next[8][2];
    int hold[8];
    int n;
} found;

static int collect(void *ctx, const siglog_consumer_info *c)
{
    found *f = ctx;
    cr_assert_lt(f->n, 8);
    snprintf(f->names[f->n], sizeof f->names[0], "%s", c->name);
    cr_assert_eq(c->partitions, 2);
    f->next[f->n][0] = c->next_offset[0];
    f->next[f->n][1] = c->next_offset[1];
    f->hold[f->n] = c->hold;
    f->n++;
    return 0;
}

static found list(siglog_stream *of)
{
    found f = {0};
    int rc = siglog_consumer_foreach(of, collect, &f);
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    return f;
}

static uint64_t audit_count(void)
{
    siglog_audit_summary sum;
    cr_assert_eq(siglog_audit_read(s, 1, NULL, NULL, &sum), 0, "%s", siglog_errdetail());
    return sum.records;
}

static siglog *open_as(int read_only, siglog_stream **out)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    siglog *r;
    cr_assert_eq(siglog_open(&r, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(r, "ev", out), 0, "%s", siglog_errdetail());
    return r;
}

Test(consumer, commits_persist_and_list_back_by_name)
{
    cr_assert_eq(siglog_consumer_commit(st, "zeta", 1, 4, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_consumer_commit(st, "alpha", 0, 10, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_consumer_commit(st, "alpha", 0, 3, 0), 0, "a consumer may go back to read again");
    found f = list(st);
    cr_assert_eq(f.n, 2);
    cr_assert_str_eq(f.names[0], "alpha");
    cr_assert_eq(f.next[0][0], 3);
    cr_assert_eq(f.next[0][1], 0, "nothing committed in partition 1");
    cr_assert_str_eq(f.names[1], "zeta");
    cr_assert_eq(f.next[1][1], 4);
    cr_assert_eq(siglog_close(s), 0);
    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    f = list(st);
    cr_assert_eq(f.n, 2);
    cr_assert_eq(f.next[1][1], 4);
}

Test(consumer, a_reader_may_not_commit_the_consumer_role_may_beside_the_writer)
{
    siglog_stream *rst;
    siglog *r = open_as(1, &rst);
    cr_assert_eq(siglog_consumer_commit(rst, "eval", 0, 1, 0), SIGLOG_ERDONLY);
    cr_assert_eq(list(rst).n, 0, "listing works for any handle");
    siglog_close(r);
    char *file = test_path(dir, "streams/ev/" CONSUMERS_FILE);
    cr_assert_eq(access(file, F_OK), -1, "a reader wrote the consumers file");
    r = open_as(SIGLOG_READ_ONLY_CONSUMER, &rst);
    cr_assert_eq(siglog_consumer_commit(rst, "eval", 0, 5, 0), 0, "%s", siglog_errdetail());
    siglog_close(r);
    cr_assert_eq(list(st).next[0][0], 5, "the writer sees the consumer's commit");
    free(file);
}

Test(consumer, offsets_past_the_end_and_bad_names_are_refused)
{
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 11, 0), SIGLOG_EINVAL);
    cr_assert(strstr(siglog_errdetail(), "past the end"), "%s", siglog_errdetail());
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 10, 0), 0, "the end itself is fine");
    cr_assert_eq(siglog_consumer_commit(st, "../x", 0, 1, 0), SIGLOG_EINVAL);
    cr_assert_eq(siglog_consumer_commit(st, "eval", 2, 1, 0), SIGLOG_ENOENT, "no partition 2");
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 1, 8), SIGLOG_EINVAL, "unknown flag");
    cr_assert_eq(siglog_consumer_delete(st, "nobody"), SIGLOG_ENOENT);
}

Test(consumer, holds_are_audited_other_commits_are_not)
{
    uint64_t before = audit_count();
    cr_assert_eq(siglog_consumer_commit(st, "plain", 0, 2, 0), 0);
    cr_assert_eq(audit_count(), before, "a commit without a hold is not audited");
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 2, SIGLOG_CONSUMER_HOLD), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 6, 0), 0, "%s", siglog_errdetail());
    found f = list(st);
    cr_assert(f.hold[0] && !f.hold[1], "eval holds (kept without the flag), plain does not");
    cr_assert_eq(siglog_consumer_delete(st, "eval"), 0);
    cr_assert_eq(audit_count(), before + 3, "two commits of a holding consumer and its deletion");
}

Test(consumer, commits_from_several_processes_are_all_kept, .timeout = 60)
{
    enum { PROCS = 4, EACH = 10 };
    pid_t kids[PROCS];
    for (int k = 0; k < PROCS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            siglog_stream *rst;
            siglog_options o;
            siglog_options_default(&o);
            o.read_only = SIGLOG_READ_ONLY_CONSUMER;
            siglog *r;
            if (siglog_open(&r, dir, &o) != 0 || siglog_stream_get(r, "ev", &rst) != 0)
                _exit(1);
            char name[16];
            snprintf(name, sizeof name, "job%d", k);
            for (int i = 1; i <= EACH; i++)
                if (siglog_consumer_commit(rst, name, (uint32_t)(i % 2), (uint64_t)i, 0) != 0)
                    _exit(1);
            siglog_close(r);
            _exit(0);
        }
    }
    for (int k = 0; k < PROCS; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "committer %d failed", k);
    }
    found f = list(st);
    cr_assert_eq(f.n, PROCS);
    for (int k = 0; k < PROCS; k++)
        cr_assert(f.next[k][0] == EACH && f.next[k][1] == EACH - 1, "job%d: %llu %llu", k,
                  (unsigned long long)f.next[k][0], (unsigned long long)f.next[k][1]);
}

Test(consumer, a_damaged_file_is_reported_naming_it)
{
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 2, 0), 0);
    char *file = test_path(dir, "streams/ev/" CONSUMERS_FILE);
    test_flip_byte(file, 20, 0x01);
    found f = {0};
    cr_assert_eq(siglog_consumer_foreach(st, collect, &f), SIGLOG_ECORRUPT);
    cr_assert(strstr(siglog_errdetail(), file), "%s", siglog_errdetail());
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 3, 0), SIGLOG_ECORRUPT, "no commit over damage");
    free(file);
}

/* A power cut at every mutating call of a commit, in every mode: the
 * offsets read back are the old ones or the new ones, never damage, and
 * the new ones once the commit returned. */
Test(consumer, power_cut_at_every_call_of_a_commit, .timeout = 120)
{
    cr_assert_eq(siglog_consumer_commit(st, "eval", 0, 2, 0), 0);
    char *sdir = test_path(dir, "streams/ev");
    for (int mode = IO_CRASH_KEEP_ALL; mode <= IO_CRASH_GARBLE; mode++) {
        for (uint64_t k = 1;; k++) {
            consumer_set set;
            io_crash *c = io_crash_new(k * 13 + (uint64_t)mode);
            io_crash_die_after(c, k);
            consumer_change ch = {.name = "eval", .partitions = 2, .partition = 0, .next_offset = 7};
            int rc = sl_consumers_change(io_crash_io(c), sdir, 0600, &ch, NULL, NULL);
            int died = io_crash_dead(c);
            cr_assert_eq(io_crash_power_cut(c, mode), 0);
            io_crash_free(c);
            cr_assert_eq(sl_consumers_load(sl_io_posix(), sdir, &set), 0, "mode %d call %llu: %s", mode,
                         (unsigned long long)k, siglog_errdetail());
            cr_assert_eq(set.n, 1);
            uint64_t got = set.e[0].next[0];
            cr_assert(got == 2 || got == 7, "mode %d call %llu: offset %llu", mode, (unsigned long long)k,
                      (unsigned long long)got);
            if (rc == 0)
                cr_assert_eq(got, 7, "mode %d call %llu: an acknowledged commit was lost", mode,
                             (unsigned long long)k);
            sl_consumer_set_free(&set);
            consumer_change back = {.name = "eval", .partitions = 2, .partition = 0, .next_offset = 2};
            cr_assert_eq(sl_consumers_change(sl_io_posix(), sdir, 0600, &back, NULL, NULL), 0, "%s",
                         siglog_errdetail());
            if (!died)
                break;
        }
    }
    free(sdir);
}
