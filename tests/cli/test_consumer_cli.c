/*
 * `siglog consumer`: commit, list (text and --json) and delete beside a
 * live writer; --hold recorded in the audit trail; offsets past the end,
 * a missing consumer and bad command lines refused with one line.
 * `siglog replay --consumer`: reads on from the committed offsets and
 * commits only after a clean end.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir, *store;

static void setup(void)
{
    dir = test_tmpdir("cli-consumer");
    store = test_path(dir, "store");
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "ev", "--partitions", "2");
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 10; i++)
        fprintf(f, "{\"n\":%d}\n", i);
    fclose(f);
    RUN_OK("append", store, "ev", in, "--partition", "0");
    free(in);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(cli_consumer, .init = setup, .fini = teardown, .timeout = 120);

Test(cli_consumer, commit_list_delete_beside_a_writer)
{
    /* A writer holds the store the whole time. */
    siglog *w = test_store_open(store, NULL);
    RUN_OK("consumer", "commit", store, "ev", "eval", "--partition", "0", "--offset", "7");
    RUN_OK("consumer", "commit", store, "ev", "eval", "--partition", "1", "--offset", "0");
    run_result r = RUN(NULL, "consumer", "list", store, "ev");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "eval committed ") && strstr(r.out, "next offsets: 0=7 1=0\n"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "consumer", "list", store, "ev", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    json_t *c = json_array_get(json_object_get(doc, "consumers"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(c, "name")), "eval");
    cr_assert(json_is_false(json_object_get(c, "hold")));
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(c, "next_offsets"), 0)), 7);
    json_decref(doc);
    run_free(&r);
    RUN_OK("consumer", "delete", store, "ev", "eval");
    r = RUN(NULL, "consumer", "delete", store, "ev", "eval");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "no consumer 'eval'"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(siglog_close(w), 0);
}

Test(cli_consumer, a_hold_is_in_the_audit_trail)
{
    RUN_OK("consumer", "commit", store, "ev", "eval", "--partition", "0", "--offset", "3", "--hold");
    run_result r = RUN(NULL, "consumer", "list", store, "ev");
    cr_assert(strstr(r.out, "eval (hold)"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store);
    cr_assert(strstr(r.out, " hold command ev/0 offsets=[0,3)") && strstr(r.out, "consumer eval commits"), "%s",
              r.out);
    run_free(&r);
    RUN_OK("audit", store, "--verify");
}

Test(cli_consumer, refusals)
{
    run_result r = RUN(NULL, "consumer", "commit", store, "ev", "eval", "--partition", "0", "--offset", "11");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "past the end"), "%s", r.err);
    run_free(&r);
    const char *const *cases[] = {
        (const char *const[]){ "consumer", NULL },
        (const char *const[]){ "consumer", "undo", NULL },
        (const char *const[]){ "consumer", "commit", "s", "ev", "eval", "--offset", "1", NULL },
        (const char *const[]){ "consumer", "commit", "s", "ev", "eval", "--partition", "x", "--offset", "1", NULL },
        (const char *const[]){ "consumer", "list", "s", NULL },
        (const char *const[]){ "consumer", "delete", "s", "ev", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = run_siglog(NULL, cases[i]);
        cr_expect_eq(r.status, 2, "case %zu exited %d", i, r.status);
        cr_expect(r.err_len > 0 && r.out_len == 0, "case %zu", i);
        run_free(&r);
    }
    const char *const helps[][4] = { { "consumer", "--help" }, { "consumer", "commit", "--help" },
                                     { "consumer", "list", "--help" }, { "consumer", "delete", "--help" } };
    for (size_t i = 0; i < 4; i++) {
        r = run_siglog(NULL, helps[i]);
        cr_expect_eq(r.status, 0, "help %zu", i);
        cr_expect(strstr(r.out, "usage"), "help %zu: %s", i, r.out);
        run_free(&r);
    }
}

static size_t count_newlines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* consumer list --json: consumer `name`'s next offset in partition p, or
 * -1 when there is no such consumer. */
static json_int_t next_offset_of(const char *name, size_t p)
{
    run_result r = RUN(NULL, "consumer", "list", store, "ev", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    run_free(&r);
    json_int_t found = -1;
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(doc, "consumers"), i, c)
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            found = json_integer_value(json_array_get(json_object_get(c, "next_offsets"), p));
    json_decref(doc);
    return found;
}

/* `replay --consumer NAME --format value` with extra arguments: its
 * standard output. */
static char *replay_as(const char *name, const char *const *extra)
{
    const char *args[16] = { "replay", store, "ev", "--consumer", name, "--format", "value" };
    size_t n = 7;
    for (; extra && *extra; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char *out = r.out;
    r.out = NULL;
    run_free(&r);
    return out;
}

static void append_numbers(int from, int to)
{
    char *in = test_path(dir, "more.jsonl");
    FILE *f = fopen(in, "w");
    for (int i = from; i < to; i++)
        fprintf(f, "{\"n\":%d}\n", i);
    fclose(f);
    RUN_OK("append", store, "ev", in, "--partition", "0");
    free(in);
}

/* An evaluation job run again reads only what came since: each run
 * starts at the committed offsets and commits what it read. */
Test(cli_consumer, replay_reads_on_where_the_consumer_left_off)
{
    char *out = replay_as("eval", NULL);
    cr_assert_eq(count_newlines(out), 10, "a new consumer reads from the start: %s", out);
    free(out);
    cr_assert_eq(next_offset_of("eval", 0), 10);
    cr_assert_eq(next_offset_of("eval", 1), 0, "partition 1 read nothing");
    append_numbers(10, 15);
    out = replay_as("eval", NULL);
    cr_assert_str_eq(out, "{\"n\":10}\n{\"n\":11}\n{\"n\":12}\n{\"n\":13}\n{\"n\":14}\n");
    free(out);
    out = replay_as("eval", NULL);
    cr_assert_str_eq(out, "", "nothing new");
    free(out);
    cr_assert_eq(next_offset_of("eval", 0), 15);

    /* --limit commits what was delivered, no more; filters skip events
     * but the offset moves past them. */
    out = replay_as("lim", (const char *const[]){ "--limit", "3", NULL });
    cr_assert_str_eq(out, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
    free(out);
    cr_assert_eq(next_offset_of("lim", 0), 3);
    out = replay_as("lim", (const char *const[]){ "--merge", "--to-offset", "7", NULL });
    cr_assert_str_eq(out, "{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n{\"n\":6}\n");
    free(out);
    cr_assert_eq(next_offset_of("lim", 0), 7, "--to-offset bounds the commit");
    out = replay_as("lim", (const char *const[]){ "--key", "nobody", NULL });
    cr_assert_str_eq(out, "");
    free(out);
    cr_assert_eq(next_offset_of("lim", 0), 15, "filtered events are read and passed");
    append_numbers(15, 17);
    out = replay_as("lim", (const char *const[]){ "--order", "event-time", NULL });
    cr_assert_str_eq(out, "{\"n\":15}\n{\"n\":16}\n");
    free(out);
    cr_assert_eq(next_offset_of("lim", 0), 17, "a sorted replay commits the end it read to");
}

/* Nothing is committed unless every delivered event reached standard
 * output: not after a write error, not when the reader went away. */
Test(cli_consumer, replay_commits_nothing_unless_it_ends_cleanly)
{
    append_numbers(10, 20000); /* far more than a pipe holds */
    run_result r = run_siglog_to(NULL, "/dev/full", (const char *const[]){ "replay", store, "ev", "--consumer",
                                                                            "job", NULL });
    cr_assert_eq(r.status, 1, "a full disk is a failure: %s", r.err);
    run_free(&r);
    cr_assert_eq(next_offset_of("job", 0), -1, "no commit after a write error");

    char *err = test_path(dir, "err.txt");
    int fd;
    pid_t pid = run_start(NULL, err, &fd, (const char *const[]){ "replay", store, "ev", "--consumer", "job", NULL });
    size_t got;
    free(run_read_lines(fd, 1, &got));
    close(fd); /* the reader goes away mid-replay */
    cr_assert_eq(run_wait(pid), 0, "a reader going away ends the replay quietly");
    free(err);
    cr_assert_eq(next_offset_of("job", 0), -1, "no commit when the reader went away");

    /* A hold stays through replays. */
    RUN_OK("consumer", "commit", store, "ev", "job", "--partition", "0", "--offset", "5", "--hold");
    char *out = replay_as("job", (const char *const[]){ "--limit", "1", NULL });
    cr_assert_str_eq(out, "{\"n\":5}\n");
    free(out);
    r = RUN(NULL, "consumer", "list", store, "ev");
    cr_assert(strstr(r.out, "job (hold)") && strstr(r.out, "0=6 "), "%s", r.out);
    run_free(&r);
}

Test(cli_consumer, replay_refuses_a_consumer_with_a_start_of_its_own)
{
    const char *const *cases[] = {
        (const char *const[]){ "replay", store, "ev", "--consumer", "j", "--from-offset", "1", NULL },
        (const char *const[]){ "replay", store, "ev", "--consumer", "j", "--from-time", "0", NULL },
        (const char *const[]){ "replay", store, "ev", "--consumer", "j", "--order", "event-time", "--limit", "1",
                               NULL },
        (const char *const[]){ "replay", store, "ev", "--consumer", ".hidden", NULL },
        (const char *const[]){ "replay", store, "ev", "--consumer", "a/b", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run_siglog(NULL, cases[i]);
        cr_expect_eq(r.status, 2, "case %zu exited %d: %s", i, r.status, r.err);
        cr_expect(strstr(r.err, "--consumer"), "case %zu: %s", i, r.err);
        run_free(&r);
    }
    cr_assert_eq(next_offset_of("j", 0), -1, "nothing was committed");
}

/* stat says what each hold keeps and until when: the offsets it has not
 * committed past, the first one's time and, under max_hold, that time
 * plus max_hold. A plain consumer and a hold committed past the end keep
 * nothing. */
Test(cli_consumer, stat_shows_what_each_hold_keeps_alive)
{
    const char *const commits[][3] = { { "held", "4", "--hold" }, { "plain", "0", NULL }, { "done", "10", "--hold" } };
    for (size_t i = 0; i < 3; i++) {
        const char *args[] = { "consumer", "commit", store, "ev", commits[i][0], "--partition", "0", "--offset",
                               commits[i][1], commits[i][2], NULL };
        run_result r = run_siglog(NULL, args);
        cr_assert_eq(r.status, 0, "%s", r.err);
        run_free(&r);
    }
    run_result r = RUN(NULL, "stat", store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "  hold held partition 0: offsets [4, 10) from ") &&
                  strstr(r.out, ", until committed past (max_hold 0)\n"),
              "%s", r.out);
    cr_assert(!strstr(r.out, "hold plain") && !strstr(r.out, "hold done"), "%s", r.out);
    run_free(&r);

    RUN_OK("stream", "config", store, "ev", "--set", "max_hold=1h");
    r = RUN(NULL, "stat", store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    json_t *holds = json_object_get(json_array_get(json_object_get(doc, "streams"), 0), "holds");
    cr_assert_eq(json_array_size(holds), 1, "%s", r.out);
    json_t *h = json_array_get(holds, 0);
    cr_assert_str_eq(json_string_value(json_object_get(h, "consumer")), "held");
    cr_assert_eq(json_integer_value(json_object_get(h, "partition")), 0);
    cr_assert_eq(json_integer_value(json_object_get(h, "from_offset")), 4);
    cr_assert_eq(json_integer_value(json_object_get(h, "to_offset")), 10);
    json_int_t first = json_integer_value(json_object_get(h, "first_timestamp_us"));
    cr_assert_gt(first, 0);
    cr_assert_eq(json_integer_value(json_object_get(h, "until_us")), first + 3600000000LL);
    json_decref(doc);
    run_free(&r);
    r = RUN(NULL, "stat", store);
    cr_assert(strstr(r.out, " by max_hold\n"), "%s", r.out);
    run_free(&r);
}
