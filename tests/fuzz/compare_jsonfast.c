/*
 * compare_jsonfast: `siglog append`'s fast path (tools/jsonfast.cpp,
 * simdjson) against the jansson path it stands in for. Every input is one
 * line, read by ingest_parse twice with the same spec, once with the fast
 * path and once without: both must accept or refuse it, with the same
 * message, and take the same key, time, header values, schema version and tombstone
 * marker out of it. The
 * first two bytes of the input pick the fields and their paths (top-level
 * names, nested ones, paths through one another), so that the walk over
 * objects, repeated names and values of every type is exercised; the
 * rest is the line. On its own, whenever the fast path decides, its
 * verdict must be jansson's: what it accepts, jsonload accepts; and its
 * in-place form (jsonfast_parse_padded, what `siglog append` calls on the
 * line reader's buffer) must answer as the copying one, whatever bytes
 * follow the line. Replay's one-pass check (jsoncheck) is held to jansson
 * on the same lines, its strings' ends found from the quotes to the same
 * check reading every string by its bytes, and its word-at-a-time test
 * for bytes a JSON string holds as they are (jsoncheck_plain, how the
 * jsonl envelope writes a key) to a byte-by-byte one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "ingest.h"
#include "jsoncheck.h"
#include "jsonfast.h"
#include "jsonload.h"

#define TARGET "compare_jsonfast"
#define RECORD_MAX 4096

static jsonfast *fast;

static int fast_line(void *ctx, const char *text, size_t len, const jsonpath *const *paths, size_t n, json_t **tree)
{
    return jsonfast_parse(ctx, text, len, paths, n, tree);
}

static const char *const path_texts[] = {"k", "t", "a.b", "a", "a.b.c", "k.k", "x.y.z.w", "t.a"};
#define PATHS (sizeof path_texts / sizeof path_texts[0])
static jsonpath paths[PATHS];

static void compile_paths(void)
{
    for (size_t i = 0; i < PATHS; i++)
        if (jsonpath_compile(&paths[i], path_texts[i]) != 0)
            fuzz_fail(TARGET, "path %s", path_texts[i]);
    if (!(fast = jsonfast_new()))
        fuzz_fail(TARGET, "out of memory");
}

static void same_bytes(const char *what, const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen || (alen && memcmp(a, b, alen) != 0))
        fuzz_fail(TARGET, "%s differs: '%.*s' and '%.*s'", what, (int)alen, a, (int)blen, b);
}

/* jsonfast_parse_padded, which parses a text where it lies, answers as
 * jsonfast_parse, which copies it first, whatever the padding after the
 * text holds: here the line's own bytes again, then quotes. */
static void check_in_place(const char *line, size_t len, const jsonpath *const *ps, size_t n, int rc,
                           json_t *tree)
{
    char *padded = malloc(len + JSONFAST_PADDING);
    if (!padded)
        fuzz_fail(TARGET, "out of memory");
    memcpy(padded, line, len);
    for (size_t i = 0; i < JSONFAST_PADDING; i++)
        padded[len + i] = i < len ? line[i] : '"';
    json_t *in_place = NULL;
    int rc2 = jsonfast_parse_padded(fast, padded, len, ps, n, &in_place);
    if (rc2 != rc)
        fuzz_fail(TARGET, "jsonfast_parse answers %d, jsonfast_parse_padded %d", rc, rc2);
    if (rc == 1 && !json_equal(tree, in_place))
        fuzz_fail(TARGET, "jsonfast_parse_padded takes other fields out than jsonfast_parse");
    json_decref(in_place);
    free(padded);
}

/* replay's check (jsoncheck) says a value is embeddable only when jansson,
 * as the envelope reads it, accepts it and it holds no raw line break;
 * and it says so for plain valid JSON that the simdjson path accepts
 * (both bound numbers, nesting and escapes alike), so that it stays a fast
 * path and not merely a sound one. */
static void check_embeddable(const char *line, size_t len, int fast_rc)
{
    int yes = jsoncheck_embeddable(line, len);
    /* Its two ways of finding a string's end, from the text's quotes
     * (where the text allows) and by the string's bytes, answer alike;
     * so does the way that copies the text as it reads it, its copy the
     * text to the byte. */
    if (jsoncheck_embeddable_scanned(line, len) != yes)
        fuzz_fail(TARGET, "jsoncheck answers %d from the quotes and %d by the strings' bytes", yes, !yes);
    char *copy = malloc(len ? len : 1);
    if (!copy)
        fuzz_fail(TARGET, "out of memory");
    if (jsoncheck_embeddable_copy(line, len, copy) != yes || memcmp(copy, line, len) != 0)
        fuzz_fail(TARGET, "jsoncheck_embeddable_copy answers or copies otherwise");
    free(copy);
    int breaks = memchr(line, '\n', len) || memchr(line, '\r', len);
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (yes && (!v || breaks))
        fuzz_fail(TARGET, "jsoncheck takes a value jansson refuses or with a line break");
    json_decref(v);
    int plain = !breaks && !memchr(line, '\\', len) && !memchr(line, 'e', len) && !memchr(line, 'E', len);
    if (!yes && fast_rc == 1 && plain && len < 200)
        fuzz_fail(TARGET, "jsoncheck declines plain JSON the simdjson path accepts");
    size_t lead = 0;
    while (lead < len && (unsigned char)line[lead] >= 0x20 && (unsigned char)line[lead] < 0x80 &&
           line[lead] != '"' && line[lead] != '\\')
        lead++;
    if (jsoncheck_plain(line, len) != (lead == len))
        fuzz_fail(TARGET, "jsoncheck_plain says %d of bytes whose first escaped one is at %zu of %zu",
                  jsoncheck_plain(line, len), lead, len);
    copy = malloc(len ? len : 1);
    if (!copy)
        fuzz_fail(TARGET, "out of memory");
    if (jsoncheck_plain_copy(line, len, copy) != (lead == len) || memcmp(copy, line, len) != 0)
        fuzz_fail(TARGET, "jsoncheck_plain_copy answers or copies otherwise");
    free(copy);
}

/* The fast path's own verdict agrees with jansson's where it decides. */
static void check_verdict(const char *line, size_t len, const jsonpath *const *ps, size_t n)
{
    json_t *tree = NULL;
    int rc = jsonfast_parse(fast, line, len, ps, n, &tree);
    check_in_place(line, len, ps, n, rc, tree);
    check_embeddable(line, len, rc);
    json_decref(tree);
    if (rc != 1)
        return;
    /* ingest_parse looks for a raw NUL byte only in lines the fast path
     * left to jansson. */
    if (memchr(line, '\0', len))
        fuzz_fail(TARGET, "the fast path took a line with a raw NUL byte");
    json_error_t err;
    size_t replaced;
    json_t *root = jsonload(line, len, '0', &replaced, &err);
    if (!root)
        fuzz_fail(TARGET, "the fast path took a line jansson refuses: %s", err.text);
    if (replaced)
        fuzz_fail(TARGET, "the fast path took a line with numbers jansson cannot hold");
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fast)
        compile_paths();
    if (size < 2)
        return 0;
    /* Byte 0: which fields are read (1 key, 2 time, 4 headers, 8 the
     * tombstone marker, whose path bits 4-6 pick, 128 the schema version,
     * at the path after it); byte 1: the other paths (bits 0-2 the key's,
     * 3-5 the time's, 6-7 the header's). */
    unsigned use = data[0], pick = data[1];
    const char *line = (const char *)data + 2;
    size_t len = size - 2;
    ingest_header headers[2] = {
        {.name = "h", .name_len = 1, .field = &paths[pick >> 6]},
        {.name = "c", .name_len = 1, .value = "v"},
    };
    ingest_spec spec = {
        .key = use & 1 ? &paths[pick & 7] : NULL,
        .time = use & 2 ? &paths[(pick >> 3) & 7] : NULL,
        .time_how = {.unit_us = 1000},
        .record_bytes_max = RECORD_MAX,
        .headers = headers,
        .header_count = use & 4 ? 2 : 0,
        .tombstone = use & 8 ? &paths[(use >> 4) & 7] : NULL,
        .schema = use & 128 ? &paths[((use >> 4) + 1) & 7] : NULL,
    };
    const jsonpath *all[5] = {spec.key ? spec.key : &paths[0], spec.time ? spec.time : &paths[1], headers[0].field,
                              &paths[(use >> 4) & 7], &paths[((use >> 4) + 1) & 7]};
    check_verdict(line, len, all, 5);

    ingest_line slow_l, fast_l;
    char slow_why[512] = "", fast_why[512] = "";
    int slow_rc = ingest_parse(&spec, line, len, &slow_l, slow_why, sizeof slow_why);
    spec.fast = fast_line;
    spec.fast_ctx = fast;
    int fast_rc = ingest_parse(&spec, line, len, &fast_l, fast_why, sizeof fast_why);
    if (slow_rc != fast_rc)
        fuzz_fail(TARGET, "jansson %s the line, the fast path %s it (%s%s)", slow_rc ? "refuses" : "takes",
                  fast_rc ? "refuses" : "takes", slow_why, fast_why);
    if (slow_rc) {
        same_bytes("the reason", slow_why, strlen(slow_why), fast_why, strlen(fast_why));
        return 0;
    }
    same_bytes("the key", slow_l.key, slow_l.key_len, fast_l.key, fast_l.key_len);
    if (slow_l.tombstone != fast_l.tombstone)
        fuzz_fail(TARGET, "one path reads a tombstone, the other does not");
    if (slow_l.schema_version != fast_l.schema_version)
        fuzz_fail(TARGET, "the schema version differs: %u and %u", slow_l.schema_version, fast_l.schema_version);
    if (slow_l.timestamp_us != fast_l.timestamp_us)
        fuzz_fail(TARGET, "the time differs: %lld and %lld", (long long)slow_l.timestamp_us,
                  (long long)fast_l.timestamp_us);
    for (size_t i = 0; i < spec.header_count; i++)
        same_bytes("a header", slow_l.header_values[i].p, slow_l.header_values[i].len, fast_l.header_values[i].p,
                   fast_l.header_values[i].len);
    ingest_release(&slow_l);
    ingest_release(&fast_l);
    return 0;
}
