/*
 * `siglog segments`: a partition's catalog in text and --json, its
 * generation growing with a maintenance change made by another handle
 * (a byte-for-byte rewrite through the rewrite primitive); a missing
 * partition exits 1, a bad command line 2.
 */
#include "maintenance.h"
#include "rewrite_copy.h"
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
    dir = test_tmpdir("cli-segments");
    store = test_path(dir, "store");
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "ev", "--partitions", "1", "--segment-bytes", "65536", "--compression", "none");
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 2000; i++)
        fprintf(f, "{\"n\":%d,\"pad\":\"%090d\"}\n", i, i);
    fclose(f);
    RUN_OK("append", store, "ev", in);
    free(in);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(cli_segments, .init = setup, .fini = teardown, .timeout = 120);

static json_t *segments_json(void)
{
    return RUN_JSON("segments", store, "ev", "--json");
}

Test(cli_segments, lists_the_catalog_and_its_generation)
{
    json_t *doc = segments_json();
    json_t *segs = json_object_get(doc, "segments");
    size_t n = json_array_size(segs);
    cr_assert_geq(n, 3, "%zu segments", n);
    cr_assert_gt(json_integer_value(json_object_get(doc, "generation")), 0);
    json_int_t expect = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *g = json_array_get(segs, i);
        cr_assert_eq(json_integer_value(json_object_get(g, "base_offset")), expect, "segment %zu", i);
        expect = json_integer_value(json_object_get(g, "end_offset"));
        cr_assert_str_eq(json_string_value(json_object_get(g, "state")), i + 1 == n ? "active" : "sealed");
        cr_assert_str_eq(json_string_value(json_object_get(g, "tier")), "hot");
        if (i + 1 < n)
            cr_assert_eq(json_integer_value(json_object_get(g, "record_count")),
                         expect - json_integer_value(json_object_get(g, "base_offset")));
    }
    json_decref(doc);
    run_result r = RUN(NULL, "segments", store, "ev");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "0..") == r.out, "%s", r.out);
    cr_assert(strstr(r.out, " sealed hot 00000000000000000000 first="), "%s", r.out);
    cr_assert(strstr(r.out, "\ngeneration "), "%s", r.out);
    run_free(&r);
}

Test(cli_segments, shows_a_maintenance_change)
{
    json_t *before = segments_json();
    maintenance *m = NULL;
    cr_assert_eq(sl_maintenance_open(&m, store, NULL), 0, "%s", siglog_errdetail());
    catalog *c;
    cr_assert_eq(sl_maintenance_catalog(m, "ev", 0, &c), 0, "%s", siglog_errdetail());
    const segment_params params = {.segment_bytes_max = 65536, .index_interval_bytes = 4096, .file_mode = 0600};
    cr_assert_eq(rewrite_copy(c, 0, 1, &params), 0, "%s", siglog_errdetail());
    sl_maintenance_close(m);
    json_t *after = segments_json();
    cr_assert_gt(json_integer_value(json_object_get(after, "generation")),
                 json_integer_value(json_object_get(before, "generation")));
    json_t *first = json_array_get(json_object_get(after, "segments"), 0);
    cr_assert(strstr(json_string_value(json_object_get(first, "location")), ".r"), "%s",
              json_string_value(json_object_get(first, "location")));
    json_decref(before);
    json_decref(after);
}

Test(cli_segments, errors_exit_1_and_usage_2)
{
    run_result r = RUN(NULL, "segments", store, "ev", "--partition", "1");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "no partition 1"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "segments", store);
    cr_assert_eq(r.status, 2);
    run_free(&r);
    r = RUN(NULL, "segments", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "usage: siglog segments"), "%s", r.out);
    run_free(&r);
}
