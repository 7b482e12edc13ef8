/*
 * `siglog consumer`: commit, list (text and --json) and delete beside a
 * live writer; --hold recorded in the audit trail; offsets past the end,
 * a missing consumer and bad command lines refused with one line.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir, *store;

static void setup(void)
{
    dir = test_tmpdir("cli-consumer");
    store = test_path(dir, "store");
    run_result r = RUN(NULL, "init", store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "stream", "create", store, "ev", "--partitions", "2");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 10; i++)
        fprintf(f, "{\"n\":%d}\n", i);
    fclose(f);
    r = RUN(NULL, "append", store, "ev", in, "--partition", "0");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
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
    run_result r = RUN(NULL, "consumer", "commit", store, "ev", "eval", "--partition", "0", "--offset", "7");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "consumer", "commit", store, "ev", "eval", "--partition", "1", "--offset", "0");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "consumer", "list", store, "ev");
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
    r = RUN(NULL, "consumer", "delete", store, "ev", "eval");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "consumer", "delete", store, "ev", "eval");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "no consumer 'eval'"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(siglog_close(w), 0);
}

Test(cli_consumer, a_hold_is_in_the_audit_trail)
{
    run_result r = RUN(NULL, "consumer", "commit", store, "ev", "eval", "--partition", "0", "--offset", "3", "--hold");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "consumer", "list", store, "ev");
    cr_assert(strstr(r.out, "eval (hold)"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store);
    cr_assert(strstr(r.out, " hold command ev/0 offsets=[0,3)") && strstr(r.out, "consumer eval commits"), "%s",
              r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store, "--verify");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
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
