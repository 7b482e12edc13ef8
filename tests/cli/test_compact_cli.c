/*
 * `siglog compact`: --merge makes fewer segments of the same events, --keys
 * keeps the newest event per key, --dry-run writes nothing (every file's
 * hash unchanged), each run is one audit record; bad arguments exit 1 with
 * the reason or 2 for usage.
 */
#include "run.h"
#include "support.h"
#include "tree_fingerprint.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS 3000
#define KEYS 20

static char *dir, *store;

/* Stream "ev" (cleanup=delete) and stream "kv" (cleanup=compact), each
 * EVENTS events in 64 KiB segments, "kv" keyed by KEYS keys in turn. */
static void setup(void)
{
    dir = test_tmpdir("cli-compact");
    store = test_path(dir, "store");
    RUN_OK("init", store);
    RUN_OK("stream", "create", store, "ev", "--partitions", "1", "--segment-bytes", "65536", "--compression", "none");
    RUN_OK("stream", "create", store, "kv", "--partitions", "2", "--segment-bytes", "65536", "--compression", "none",
           "--set", "cleanup=compact");
    char *in = test_path(dir, "in.jsonl");
    FILE *f = fopen(in, "w");
    for (int i = 0; i < EVENTS; i++)
        fprintf(f, "{\"k\":\"key-%d\",\"n\":%d,\"pad\":\"%090d\"}\n", i % KEYS, i, i);
    fclose(f);
    RUN_OK("append", store, "ev", in);
    RUN_OK("append", store, "kv", "--key-field", "k", in);
    free(in);
}

static void teardown(void)
{
    test_rmtree(dir);
    free(store);
    free(dir);
}

TestSuite(cli_compact, .init = setup, .fini = teardown, .timeout = 120);

static size_t segment_count(const char *stream, const char *partition)
{
    json_t *doc = RUN_JSON("segments", store, stream, "--partition", partition, "--json");
    size_t n = json_array_size(json_object_get(doc, "segments"));
    json_decref(doc);
    return n;
}

/* Every event of a stream as replay prints it, one JSON line each. */
static char *replay_all(const char *stream)
{
    run_result r = RUN(NULL, "replay", store, stream);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char *out = r.out;
    r.out = NULL;
    run_free(&r);
    return out;
}

/* The audit trail's compact records: each names its partition (bit p of
 * the result's partitions) and a range of offsets. */
static int compact_records(unsigned *partitions)
{
    json_t *doc = RUN_JSON("audit", store, "--json");
    int n = 0;
    json_t *rec;
    size_t i;
    *partitions = 0;
    json_array_foreach(json_object_get(doc, "records"), i, rec) {
        if (strcmp(json_string_value(json_object_get(rec, "action")), "compact") != 0)
            continue;
        n++;
        json_t *part = json_object_get(rec, "partition");
        cr_assert(json_is_integer(part), "a compact record names no partition");
        *partitions |= 1u << json_integer_value(part);
        cr_assert_lt(run_json_int(rec, "offset_start"), run_json_int(rec, "offset_end"),
                     "a compact record names no offsets");
    }
    json_decref(doc);
    return n;
}

Test(cli_compact, merge_makes_fewer_segments_of_the_same_events)
{
    /* Larger segments from now on, so the 64 KiB ones are small. */
    RUN_OK("stream", "config", store, "ev", "--set", "segment_bytes_max=1MiB", "--set", "merge_below=128KiB");
    size_t before = segment_count("ev", "0");
    char *events = replay_all("ev");
    json_t *doc = RUN_JSON("compact", store, "--stream", "ev", "--merge", "--json");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "mode")), "merge");
    cr_assert_eq(run_json_int(doc, "events_dropped"), 0);
    cr_assert_eq(run_json_int(doc, "bytes_before"), run_json_int(doc, "bytes_after"));
    cr_assert_gt(run_json_int(doc, "segments_in"), run_json_int(doc, "segments_out"));
    size_t after = segment_count("ev", "0");
    cr_assert_eq(after, before - (size_t)(run_json_int(doc, "segments_in") - run_json_int(doc, "segments_out")), "%zu -> %zu", before,
                 after);
    json_decref(doc);
    char *again = replay_all("ev");
    cr_assert_str_eq(again, events, "a merge changed what replay reads");
    unsigned parts;
    cr_assert_eq(compact_records(&parts), 1, "one audit record per partition");
    cr_assert_eq(parts, 1u);
    free(events);
    free(again);
}

Test(cli_compact, every_stream_by_its_cleanup_without_a_stream_or_mode)
{
    RUN_OK("stream", "config", store, "ev", "--set", "segment_bytes_max=1MiB", "--set", "merge_below=128KiB");
    size_t ev_before = segment_count("ev", "0");
    char *events = replay_all("ev");
    json_t *doc = RUN_JSON("compact", store, "--json");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "mode")), "by-cleanup");
    cr_assert(json_is_null(json_object_get(doc, "stream")));
    cr_assert_eq(run_json_int(doc, "streams"), 2);
    cr_assert_eq(run_json_int(doc, "partitions"), 3);
    /* ev (cleanup=delete) merged: fewer segments, the same events... */
    cr_assert_lt(segment_count("ev", "0"), ev_before);
    char *again = replay_all("ev");
    cr_assert_str_eq(again, events, "a merge changed what replay reads");
    /* ...kv (cleanup=compact) key-compacted: only its events go. */
    cr_assert_gt(run_json_int(doc, "events_dropped"), 0);
    cr_assert_eq(run_json_int(doc, "key_passes"), 1);
    json_decref(doc);
    unsigned parts;
    cr_assert_eq(compact_records(&parts), 3, "one audit record per partition of each stream");
    /* --keys without a stream takes the cleanup=compact streams only. */
    doc = RUN_JSON("compact", store, "--keys", "--dry-run", "--json");
    cr_assert_eq(run_json_int(doc, "streams"), 1);
    cr_assert_eq(run_json_int(doc, "partitions"), 2);
    json_decref(doc);
    run_result r = RUN(NULL, "compact", store, "--merge", "--dry-run");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "would compact: merge of 2 streams (3 partitions)"), "%s", r.out);
    run_free(&r);
    free(events);
    free(again);
}

Test(cli_compact, keys_keep_the_newest_event_per_key)
{
    json_t *doc = RUN_JSON("compact", store, "--stream", "kv", "--keys", "--json");
    cr_assert_eq(run_json_int(doc, "partitions"), 2);
    cr_assert_gt(run_json_int(doc, "events_dropped"), 0);
    /* A handful of keys: mapped in one pass, within the default budget. */
    cr_assert_eq(run_json_int(doc, "key_passes"), 1);
    cr_assert_gt(run_json_int(doc, "key_map_bytes"), 0);
    cr_assert_lt(run_json_int(doc, "key_map_bytes"), 1 << 20);
    json_decref(doc);
    /* Each key's newest event is in the active segment of its partition,
     * so its sealed segments keep none of the keyed ones... */
    run_result r = RUN(NULL, "replay", store, "kv", "--key", "key-7");
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* ...and replay finds the key only where it was last written. */
    size_t lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    char newest[32];
    snprintf(newest, sizeof newest, "\"n\":%d,", EVENTS - KEYS + 7);
    cr_assert(strstr(r.out, newest), "the newest event of key-7 is gone: %s", r.out);
    run_free(&r);
    cr_assert_lt(lines, (size_t)(EVENTS / KEYS), "%zu events of key-7 left", lines);
    /* One record per partition, each naming its own offsets. */
    unsigned parts;
    cr_assert_eq(compact_records(&parts), 2);
    cr_assert_eq(parts, 3u);
}

/* Every file of the store (name, mode, size, time, content hash) but
 * maintenance.lock: the role's lock, made by the first maintenance handle
 * and rewritten with the holder's pid by each one. */
static char *data_fingerprint(void)
{
    char *fp = tree_fingerprint(store);
    cr_assert(fp);
    char *line = strstr(fp, "maintenance.lock ");
    if (line) {
        char *end = strchr(line, '\n');
        memmove(line, end ? end + 1 : line + strlen(line), strlen(end ? end + 1 : line) + 1);
    }
    return fp;
}

Test(cli_compact, dry_run_writes_nothing)
{
    RUN_OK("stream", "config", store, "ev", "--set", "segment_bytes_max=1MiB", "--set", "merge_below=128KiB");
    char *before = data_fingerprint();
    json_t *doc = RUN_JSON("compact", store, "--stream", "ev", "--merge", "--dry-run", "--json");
    cr_assert_gt(run_json_int(doc, "segments_in"), run_json_int(doc, "segments_out"));
    json_decref(doc);
    doc = RUN_JSON("compact", store, "--stream", "kv", "--keys", "--dry-run", "--json");
    cr_assert_gt(run_json_int(doc, "events_dropped"), 0);
    cr_assert(json_is_null(json_object_get(doc, "bytes_after")));
    json_decref(doc);
    char *after = data_fingerprint();
    cr_assert_str_eq(after, before, "a dry run changed a file of the store:\n%s\n%s", before, after);
    free(before);
    free(after);
    run_result r = RUN(NULL, "compact", store, "--stream", "kv", "--keys", "--dry-run");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "would compact: keys of stream kv (2 partitions)"), "%s", r.out);
    run_free(&r);
}

Test(cli_compact, bad_arguments_are_named)
{
    run_result r = RUN(NULL, "compact", store, "--stream", "nope", "--merge");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "no stream 'nope'"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "compact", store, "--stream", "ev", "--keys");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "cleanup=compact"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "compact", store, "--stream", "kv", "--keys", "--partition", "2");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "no partition 2"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "compact", store, "--stream", "ev", "--merge", "--keys");
    cr_assert_eq(r.status, 2);
    run_free(&r);
    r = RUN(NULL, "compact", store, "--merge", "--partition", "0");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--partition P needs --stream S"), "%s", r.err);
    run_free(&r);
    r = RUN(NULL, "compact", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "usage: siglog compact"), "%s", r.out);
    run_free(&r);
    unsigned parts;
    cr_assert_eq(compact_records(&parts), 0, "a refused run is not audited");
}
