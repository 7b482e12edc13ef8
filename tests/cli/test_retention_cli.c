/*
 * Retention from the command line: the policy's settings set at `stream
 * create` and by `stream config --set`, shown by `stream config` and
 * `stream list --json`, bad values refused naming the setting, every
 * change in the audit trail; a min_free the filesystem cannot keep
 * refuses `append`.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#define DAY_US 86400000000LL

static char *dir, *store;

static void setup(void)
{
    dir = test_tmpdir("cli-retention");
    store = test_path(dir, "store");
    RUN_OK("init", store);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(cli_retention, .init = setup, .fini = teardown, .timeout = 120);

/* `stream config STORE ev --json` as a JSON object. */
static json_t *config_json(void)
{
    run_result r = RUN(NULL, "stream", "config", store, "ev", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *o = json_loads(r.out, 0, NULL);
    cr_assert_not_null(o, "%s", r.out);
    run_free(&r);
    return o;
}

static json_int_t int_of(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    cr_assert(json_is_integer(v), "%s is no integer", name);
    return json_integer_value(v);
}

Test(cli_retention, a_policy_is_set_at_create_and_changed_by_config)
{
    RUN_OK("stream", "create", store, "ev", "--partitions", "1", "--set", "warm_after=7d", "--set", "cold_after=30d",
           "--set", "delete_after=90d", "--set", "min_free=10%", "--set", "max_bytes=2GiB", "--set", "max_hold=12h");
    json_t *o = config_json();
    cr_assert_eq(int_of(o, "warm_after"), 7 * DAY_US);
    cr_assert_eq(int_of(o, "cold_after"), 30 * DAY_US);
    cr_assert_eq(int_of(o, "delete_after"), 90 * DAY_US);
    cr_assert_eq(int_of(o, "max_bytes"), 2LL << 30);
    cr_assert_eq(int_of(o, "max_hold"), DAY_US / 2);
    cr_assert_eq(int_of(o, "warm_level"), 9, "the default");
    cr_assert_eq(int_of(o, "cold_max_bytes"), 0, "off by default");
    cr_assert_str_eq(json_string_value(json_object_get(o, "min_free")), "10%");
    json_decref(o);

    run_result r = RUN(NULL, "stream", "config", store, "ev", "--set", "min_free=512MiB", "--set", "warm_level=12");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\nmin_free=536870912\n") && strstr(r.out, "\nwarm_level=12\n"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "stream", "list", store, "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_eq(int_of(json_array_get(doc, 0), "min_free"), 512LL << 20, "%s", r.out);
    json_decref(doc);
    run_free(&r);

    /* A percent reads back as one, in text and in the audit trail. */
    r = RUN(NULL, "stream", "config", store, "ev", "--set", "min_free=5%");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\nmin_free=5%\n"), "%s", r.out);
    run_free(&r);
    r = RUN(NULL, "audit", store);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "min_free: 536870912 -> 5%"), "%s", r.out);
    cr_assert(strstr(r.out, "warm_level: 9 -> 12"), "%s", r.out);
    run_free(&r);
}

Test(cli_retention, bad_values_are_usage_errors_naming_the_setting)
{
    RUN_OK("stream", "create", store, "ev", "--partitions", "1");
    run_result r;
    const char *const bad[] = { "warm_after=7",      "warm_after=soon", "min_free=0%",   "min_free=100%",
                                "min_free=%",        "min_free=10.5%",  "max_bytes=2EiB", "warm_level=0",
                                "warm_level=13",     "max_hold=-1d",    "delete_after=101y",
                                "retention_interval=31d" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(strchr(bad[i], '=') - bad[i]), bad[i]);
        r = RUN(NULL, "stream", "config", store, "ev", "--set", bad[i]);
        cr_expect_eq(r.status, 2, "%s exited %d: %s", bad[i], r.status, r.err);
        cr_expect(strstr(r.err, name), "%s: the error names the setting: %s", bad[i], r.err);
        run_free(&r);
    }
    r = RUN(NULL, "audit", store, "--json");
    cr_assert(!strstr(r.out, "config"), "nothing was changed: %s", r.out);
    run_free(&r);
}

/* Tiers come in order: a cold age below the warm one is refused, naming
 * both, and nothing changes. */
Test(cli_retention, tier_ages_must_come_in_order)
{
    run_result r = RUN(NULL, "stream", "create", store, "ev", "--partitions", "1", "--set", "warm_after=7d", "--set",
                       "cold_after=1d");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "cold_after") && strstr(r.err, "warm_after"), "%s", r.err);
    run_free(&r);
    RUN_OK("stream", "create", store, "ev", "--partitions", "1", "--set", "warm_after=7d");
    r = RUN(NULL, "stream", "config", store, "ev", "--set", "delete_after=1d");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "delete_after") && strstr(r.err, "warm_after"), "%s", r.err);
    run_free(&r);
    json_t *o = config_json();
    cr_assert_eq(int_of(o, "delete_after"), 0, "nothing changed");
    json_decref(o);
    /* 0 is "never" and fits anywhere; equal ages are in order. */
    RUN_OK("stream", "config", store, "ev", "--set", "delete_after=7d", "--set", "cold_after=0");
}

/* min_free past the free space: `append` exits 1 naming the budget (and
 * its usual count of what it appended: nothing) (the filesystem under the test directory is
 * assumed under 99% free: skipped otherwise). */
Test(cli_retention, min_free_refuses_an_append_naming_the_budget)
{
    struct statvfs v;
    cr_assert_eq(statvfs(dir, &v), 0);
    if (v.f_bavail * 100 >= v.f_blocks * 99)
        cr_skip_test("the filesystem under the test directory is 99%% free");
    RUN_OK("stream", "create", store, "ev", "--partitions", "1", "--set", "min_free=99%");
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fputs("{\"a\":1}\n", f);
    fclose(f);
    run_result r = RUN(in, "append", store, "ev");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "min_free=99% keeps"), "%s", r.err);
    cr_assert(strstr(r.err, "0 events, 0 bytes appended"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "replay", store, "ev", "--format", "value");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "");
    run_free(&r);
    free(in);
}
