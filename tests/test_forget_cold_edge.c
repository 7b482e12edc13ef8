/*
 * forget_cold_edge — a forget whose keys fill every sealed segment after
 * the cold tier. A cold entry is never rewritten through the catalog's
 * rewrite primitive (cold.h), so the emptied segment right after it must
 * give its offsets to a sealed segment after it that keeps an event;
 * with none, the forget stops with that error (sl_compact_no_keeper).
 *
 * The store (test_cold_edge_store): mixed events of forty keys, all cold;
 * then sealed segments holding the key "edge" alone; then the active
 * segment holding key-000 alone (no roll is needed). What is proven: the
 * forget fails with SIGLOG_EINVAL naming the segment after the cold tier,
 * having written its intent and nothing else (every file of the store and
 * of cold_dir as it was, byte for byte); siglog_forget_pending lists it;
 * a second forget fails the same, finishing it first; once an event is
 * appended and the active segment rolled, the next forget finishes it:
 * every event but the key's reads back at its offset, the cold archives
 * are as they were and verify is clean. A dry run fails the same, with
 * the same detail, writing nothing (not even the intent); with an event
 * of the key in the active segment beside others, which the forget's
 * roll seals and which then keeps the range, the dry run and the forget
 * both go through.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define KEYS 40
#define EDGE KEYS
#define COLD_EVENTS 2500

static char *dir, *cold;
static const char *key_names[KEYS + 1];
static char key_text[KEYS][16];
static test_token_log events = {.keys = key_names, .seed = 9300};

static void setup(void)
{
    test_token_key_names(key_names, key_text, KEYS, "edge");
    events.appended = 0;
    dir = test_tmpdir("forget-cold-edge");
    cold = test_tmpdir("forget-cold-edge-dir");
    test_cold_edge_store(dir, cold, &events, KEYS, EDGE, 50);
}

static void teardown(void)
{
    test_rmtree(dir);
    test_rmtree(cold);
    free(dir);
    free(cold);
}

TestSuite(forget_cold_edge, .init = setup, .fini = teardown, .timeout = 120);

static int forget_edge_as(uint32_t dry_run, siglog_forget_result *res)
{
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_key k = {"edge", 4};
    siglog_forget_options o = {.dry_run = dry_run};
    int rc = siglog_forget(m, "t", &k, 1, &o, res);
    siglog_maintenance_close(m);
    return rc;
}

static int forget_edge(siglog_forget_result *res)
{
    return forget_edge_as(0, res);
}

static size_t pending(void)
{
    siglog *s = test_store_open_read_only(dir);
    siglog_forget_intent *list;
    size_t n;
    cr_assert_eq(siglog_forget_pending(s, &list, &n), 0, "%s", siglog_errdetail());
    cr_assert(n == 0 || strcmp(list[0].stream, "t") == 0);
    siglog_forget_pending_free(list);
    cr_assert_eq(siglog_close(s), 0);
    return n;
}

static int is_edge(uint64_t offset)
{
    return events.key_at[offset] == EDGE;
}

Test(forget_cold_edge, a_forget_emptying_every_segment_after_the_cold_tier_waits_with_its_intent_pending)
{
    const char *dirs[] = {dir, cold};
    test_files was = {0}, cold_was = {0};
    test_files_load_below(&was, dir);
    test_files_load_below(&was, cold);
    test_files_load_below(&cold_was, cold);

    siglog_forget_result res;
    for (int run = 0; run < 2; run++) {
        cr_assert_eq(forget_edge(&res), SIGLOG_EINVAL, "run %d: %s", run, siglog_errdetail());
        char want[64];
        snprintf(want, sizeof want, "segment at offset %d follows the cold tier", COLD_EVENTS);
        cr_assert(strstr(siglog_errdetail(), want) && strstr(siglog_errdetail(), "would keep no event"), "%s",
                  siglog_errdetail());
        test_files_assert_same(&was, dirs, 2, "/streams/t/forget.intent", run ? "the second forget" : "the forget");
        cr_assert_eq(pending(), 1);
    }

    /* An event after the key's, sealed: it keeps the range. */
    test_token_session(dir, &events, 1, 1, 0);
    test_roll_idle(dir, "t");
    cr_assert_eq(forget_edge(&res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.intents_finished, 1);
    cr_assert_eq(res.events_removed, 0, "the finish removed them first");
    cr_assert_eq(pending(), 0);

    siglog_stream *st;
    siglog *s = test_store_open_read_only(dir);
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    test_token_walk w = {&events, is_edge, 0, 0};
    test_read_all(st, 0, test_token_check_record, &w);
    cr_assert_eq(siglog_close(s), 0);
    uint64_t kept = 0;
    for (uint64_t i = 0; i < events.appended; i++)
        kept += !is_edge(i);
    cr_assert_eq(w.read, kept, "%llu events read, %llu kept", (unsigned long long)w.read, (unsigned long long)kept);
    test_files_assert_same(&cold_was, dirs + 1, 1, NULL, "cold_dir after the finish");
    test_verify_clean(dir, "after the finish");
    test_files_free(&was);
    test_files_free(&cold_was);
}

Test(forget_cold_edge, a_dry_run_fails_as_the_forget_would_and_writes_nothing)
{
    const char *dirs[] = {dir, cold};
    test_files was = {0};
    test_files_load_below(&was, dir);
    test_files_load_below(&was, cold);

    siglog_forget_result res;
    cr_assert_eq(forget_edge_as(1, &res), SIGLOG_EINVAL, "the dry run: %s", siglog_errdetail());
    char said[1024];
    snprintf(said, sizeof said, "%s", siglog_errdetail());
    cr_assert(strstr(said, "follows the cold tier and would keep no event"), "%s", said);
    cr_assert_eq(res.events_removed, 1500, "the plan's figures: %llu events", (unsigned long long)res.events_removed);
    test_files_assert_same(&was, dirs, 2, NULL, "the dry run");
    cr_assert_eq(pending(), 0);

    cr_assert_eq(forget_edge(&res), SIGLOG_EINVAL, "%s", siglog_errdetail());
    cr_assert_str_eq(siglog_errdetail(), said, "the forget says other than its dry run");
    test_files_free(&was);
}

Test(forget_cold_edge, a_dry_run_takes_the_active_segment_as_the_roll_leaves_it)
{
    /* The active segment holds key-000's events, then one of the key's:
     * rolled by the forget, it keeps key-000's and takes the range. */
    test_token_session(dir, &events, 1, EDGE, 0);
    const char *dirs[] = {dir, cold};
    test_files was = {0};
    test_files_load_below(&was, dir);
    test_files_load_below(&was, cold);

    siglog_forget_result res;
    cr_assert_eq(forget_edge_as(1, &res), 0, "the dry run: %s", siglog_errdetail());
    cr_assert_eq(res.events_removed, 1501);
    cr_assert_eq(res.segments_rolled, 1);
    test_files_assert_same(&was, dirs, 2, NULL, "the dry run");

    cr_assert_eq(forget_edge(&res), 0, "%s", siglog_errdetail());
    cr_assert_eq(res.events_removed, 1501);
    cr_assert_eq(pending(), 0);
    test_verify_clean(dir, "after the forget");
    test_files_free(&was);
}
