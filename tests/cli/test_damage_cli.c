/*
 * The tool on damaged stores: damage is shown where it is, with its file and
 * reason, and the rest of the store stays usable.
 */
#include "run.h"
#include "support.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir, *store;

static void setup(void)
{
    dir = test_tmpdir("cli-damage");
    store = test_path(dir, "store");
    run_result r = RUN(NULL, "init", store);
    cr_assert_eq(r.status, 0, "init failed: %s", r.err);
    run_free(&r);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(cli_damage, .init = setup, .fini = teardown, .timeout = 120);

/* Run siglog, asserting its exit status; the caller frees the result. */
#define RUN_EXPECT(status_, ...) run_expect((status_), (const char *const[]){ __VA_ARGS__, NULL })
static run_result run_expect(int status, const char *const *args)
{
    run_result r = run_siglog(NULL, args);
    cr_assert_eq(r.status, status, "siglog %s %s: status %d, expected %d: %s", args[0], args[1], r.status, status,
                 r.err);
    return r;
}

/* Stream `name` with `partitions` and n events {"n":i}. */
static void stream_with_events(const char *name, const char *partitions, int n)
{
    run_result r = RUN_EXPECT(0, "stream", "create", store, name, "--partitions", partitions);
    run_free(&r);
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"n\":%d}\n", i);
    cr_assert_eq(fclose(f), 0);
    r = RUN_EXPECT(0, "append", store, name, in);
    run_free(&r);
    free(in);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(cli_damage, stat_shows_a_damaged_stream_and_the_others_work)
{
    stream_with_events("good", "2", 30);
    stream_with_events("hurt", "1", 30);
    char *meta = test_path(store, "streams/hurt/stream.meta");
    test_flip_byte(meta, 13, 0x40);

    run_result r = RUN_EXPECT(1, "stat", store);
    cr_assert(strstr(r.out, "stream good: partitions=2"), "%s", r.out);
    cr_assert(strstr(r.out, "stream hurt: failed: ") && strstr(r.out, "hurt/stream.meta"), "%s", r.out);
    cr_assert_eq(lines(r.err), 1, "one line on stderr: %s", r.err);
    cr_assert(strstr(r.err, "failed"), "%s", r.err);
    run_free(&r);

    r = RUN_EXPECT(1, "stat", store, "--json");
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "stat --json is not JSON: %s: %s", jerr.text, r.out);
    json_t *streams = json_object_get(doc, "streams");
    cr_assert_eq(json_array_size(streams), 2);
    json_t *good = json_array_get(streams, 0), *hurt = json_array_get(streams, 1);
    cr_assert_str_eq(json_string_value(json_object_get(good, "state")), "ok");
    cr_assert_eq(json_array_size(json_object_get(good, "partition_info")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(hurt, "name")), "hurt");
    cr_assert_str_eq(json_string_value(json_object_get(hurt, "state")), "failed");
    cr_assert(strstr(json_string_value(json_object_get(hurt, "error")), "stream.meta"));
    json_decref(doc);
    run_free(&r);

    r = RUN_EXPECT(0, "replay", store, "good");
    cr_assert_eq(lines(r.out), 30);
    run_free(&r);
    stream_with_events("good2", "1", 5);
    r = RUN_EXPECT(1, "replay", store, "hurt");
    cr_assert(strstr(r.err, "stream.meta"), "%s", r.err);
    run_free(&r);
    r = RUN_EXPECT(0, "stream", "list", store);
    cr_assert(strstr(r.out, "hurt\tfailed: "), "%s", r.out);
    run_free(&r);
    free(meta);
}

Test(cli_damage, stat_reports_a_deleted_partition_and_recreates_nothing)
{
    stream_with_events("clicks", "2", 40);
    char *pd = test_path(store, "streams/clicks/00001");
    test_rmtree(pd);
    run_result r = RUN_EXPECT(1, "stat", store);
    cr_assert(strstr(r.out, "unservable: ") && strstr(r.out, "00001 is missing"), "%s", r.out);
    cr_assert(strstr(r.out, "  0 "), "partition 0 is still shown: %s", r.out);
    run_free(&r);
    r = RUN_EXPECT(1, "stat", store, "--json");
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    json_t *parts = json_object_get(json_array_get(json_object_get(doc, "streams"), 0), "partition_info");
    json_t *gone = json_array_get(parts, 1);
    cr_assert_str_eq(json_string_value(json_object_get(gone, "state")), "unservable");
    cr_assert(strstr(json_string_value(json_object_get(gone, "error")), "00001 is missing"), "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(parts, 0), "state")), "ok");
    json_decref(doc);
    run_free(&r);
    struct stat sb;
    cr_assert_neq(stat(pd, &sb), 0, "stat recreated the partition directory");
    /* Appending there would hand its offsets out again: refused; the
     * other partition takes appends. */
    char *in = test_path(dir, "more.jsonl");
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fputs("{\"n\":1}\n", f);
    cr_assert_eq(fclose(f), 0);
    r = RUN_EXPECT(1, "append", store, "clicks", "--partition", "1", in);
    cr_assert(strstr(r.err, "00001"), "%s", r.err);
    run_free(&r);
    r = RUN_EXPECT(0, "append", store, "clicks", "--partition", "0", in);
    run_free(&r);
    cr_assert_neq(stat(pd, &sb), 0, "append recreated the partition directory");
    free(in);
    free(pd);
}

/* Bit rot inside a cleanly closed segment: the partition is damaged, and
 * stat says so with the file and the byte, in text and JSON, changing
 * nothing. */
Test(cli_damage, stat_shows_why_a_partition_is_damaged)
{
    stream_with_events("hurt", "2", 40);
    char *seg = test_path(store, "streams/hurt/00000/00000000000000000000.seg");
    uint64_t size = test_file_size(seg);
    cr_assert_gt(size, 10);
    test_flip_byte(seg, size - 10, 0x10);
    char *before = test_tree_fingerprint(store);

    run_result r = RUN_EXPECT(1, "stat", store);
    cr_assert(strstr(r.out, " damaged\n"), "the row's state: %s", r.out);
    const char *why = strstr(r.out, "        damaged: ");
    cr_assert(why && strstr(why, "00000000000000000000.seg") && strstr(why, "byte "),
              "the reason names the file and byte: %s", r.out);
    cr_assert_eq(lines(r.err), 1, "%s", r.err);
    run_free(&r);

    r = RUN_EXPECT(1, "stat", store, "--json");
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    json_t *parts = json_object_get(json_array_get(json_object_get(doc, "streams"), 0), "partition_info");
    json_t *hurt = json_array_get(parts, 0), *fine = json_array_get(parts, 1);
    cr_assert_str_eq(json_string_value(json_object_get(hurt, "state")), "damaged");
    const char *error = json_string_value(json_object_get(hurt, "error"));
    cr_assert(error && strstr(error, "00000000000000000000.seg") && strstr(error, "byte "), "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(fine, "state")), "ok");
    cr_assert_null(json_object_get(fine, "error"));
    json_decref(doc);
    run_free(&r);

    char *after = test_tree_fingerprint(store);
    cr_assert_str_eq(after, before, "stat changed the store");
    free(after);
    free(before);
    free(seg);
}

/* verify --repair --quarantine moves a damaged segment aside and says
 * exactly what it moved; without --quarantine nothing moves, and
 * --quarantine without --repair is a usage error. */
Test(cli_damage, verify_quarantines_only_when_asked_and_says_what_it_moved)
{
    stream_with_events("hurt", "2", 40);
    char *seg = test_path(store, "streams/hurt/00000/00000000000000000000.seg");
    char *qdir = test_path(store, "quarantine");
    test_flip_byte(seg, test_file_size(seg) - 10, 0x10);
    struct stat sb;

    run_result r = RUN_EXPECT(2, "verify", store, "--quarantine");
    cr_assert(strstr(r.err, "--quarantine goes with --repair"), "%s", r.err);
    run_free(&r);
    r = RUN_EXPECT(1, "verify", store, "--repair");
    cr_assert_null(strstr(r.out, "moved aside"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(stat(seg, &sb), 0, "--repair alone moved the segment");
    cr_assert_neq(stat(qdir, &sb), 0, "--repair alone made quarantine/");

    r = RUN_EXPECT(1, "verify", store, "--repair", "--quarantine", "--json");
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    json_t *repairs = json_object_get(doc, "repairs");
    cr_assert_eq(json_array_size(repairs), 4, "%s", r.out);
    json_t *first = json_array_get(repairs, 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "file")), seg);
    const char *what = json_string_value(json_object_get(first, "what"));
    cr_assert(strstr(what, "moved aside to ") && strstr(what, "/quarantine/streams/hurt/00000/00000000000000000000.seg."),
              "%s", what);
    cr_assert_eq(lines(r.err), 1, "%s", r.err);
    json_decref(doc);
    run_free(&r);
    cr_assert_neq(stat(seg, &sb), 0, "the segment is still in place");

    /* Its offsets are missing now, and said so; the other partition replays. */
    r = RUN_EXPECT(1, "stat", store);
    cr_assert(strstr(r.out, "unservable: ") && strstr(r.out, "missing"), "%s", r.out);
    run_free(&r);
    r = RUN_EXPECT(0, "replay", store, "hurt", "--partition", "1");
    cr_assert_eq(lines(r.out), 20);
    run_free(&r);
    free(qdir);
    free(seg);
}

Test(cli_damage, create_refuses_remains_and_adopt_takes_them_over)
{
    stream_with_events("clicks", "2", 40);
    char *meta = test_path(store, "streams/clicks/stream.meta");
    cr_assert_eq(unlink(meta), 0);
    run_result r = RUN_EXPECT(1, "stream", "create", store, "clicks", "--partitions", "2");
    cr_assert(strstr(r.err, "--adopt") && strstr(r.err, "verify"), "%s", r.err);
    cr_assert_eq(lines(r.err), 1, "%s", r.err);
    run_free(&r);
    r = RUN_EXPECT(1, "stream", "create", store, "clicks", "--partitions", "3", "--adopt");
    cr_assert(strstr(r.err, "partition"), "%s", r.err);
    run_free(&r);
    r = RUN_EXPECT(0, "stream", "create", store, "clicks", "--partitions", "2", "--adopt");
    run_free(&r);
    r = RUN_EXPECT(0, "replay", store, "clicks");
    cr_assert_eq(lines(r.out), 40);
    run_free(&r);
    free(meta);
}
