/*
 * parse_manifest: feed arbitrary text to manifest_load (tools/
 * manifest_load.c), the reader of `replay --from-manifest` and `manifest
 * verify`. What it accepts must hold together: at least one stream, no
 * name twice, every "read" and "partitions" entry of a listed stream,
 * sorted by (stream, partition) without repeats, a 64-digit lowercase hex
 * digest, at most SIGLOG_HEADERS_MAX header filters with non-empty names.
 * And an accepted manifest, written again here from what was read (an
 * independent writer, jansson), must read back the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_load.h"

static void fail(const char *what)
{
    fprintf(stderr, "parse_manifest: %s\n", what);
    abort();
}

static int before(uint32_t s1, uint32_t p1, uint32_t s2, uint32_t p2)
{
    return s1 < s2 || (s1 == s2 && p1 < p2);
}

static void check_invariants(const manifest_spec *m)
{
    if (m->nstreams == 0)
        fail("no stream");
    for (size_t i = 0; i < m->nstreams; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->streams[i], m->streams[j]) == 0)
                fail("a stream twice");
    for (size_t i = 0; i < m->nends; i++)
        if (m->ends[i].stream >= m->nstreams || m->ends[i].start_offset > m->ends[i].end_offset ||
            (i && !before(m->ends[i - 1].stream, m->ends[i - 1].partition, m->ends[i].stream, m->ends[i].partition)))
            fail("\"read\" not sorted, repeated or of an unknown stream");
    for (size_t i = 0; i < m->nranges; i++)
        if (m->ranges[i].stream >= m->nstreams ||
            (i && !before(m->ranges[i - 1].stream, m->ranges[i - 1].partition, m->ranges[i].stream,
                          m->ranges[i].partition)))
            fail("\"partitions\" not sorted, repeated or of an unknown stream");
    if (strlen(m->digest) != MANIFEST_DIGEST_HEX - 1 || strspn(m->digest, "0123456789abcdef") != strlen(m->digest))
        fail("digest not 64 lowercase hex digits");
    if (m->o.nheaders > SIGLOG_HEADERS_MAX)
        fail("too many header filters");
    for (size_t i = 0; i < m->o.nheaders; i++)
        if (m->o.headers[i].name_len == 0 || memchr(m->o.headers[i].name, '=', m->o.headers[i].name_len))
            fail("a header filter without a name");
}

static json_t *nullable(int have, json_int_t v)
{
    return have ? json_integer(v) : json_null();
}

/* The manifest again, from what was read. */
static char *rewrite(const manifest_spec *m)
{
    static const char *const orders[] = { "partition", "merge", "event-time" };
    static const char *const formats[] = { "jsonl", "value", "binary" };
    const manifest_options *o = &m->o;
    json_t *streams = json_array(), *reads = json_array(), *ranges = json_array(), *headers = json_array();
    json_t *parts = o->parts ? json_array() : json_null();
    for (size_t i = 0; i < m->nstreams; i++)
        json_array_append_new(streams, json_string(m->streams[i]));
    for (size_t i = 0; i < m->nends; i++)
        json_array_append_new(reads, json_pack("{s:s,s:I,s:I,s:I}", "stream", m->streams[m->ends[i].stream],
                                               "partition", (json_int_t)m->ends[i].partition, "start_offset",
                                               (json_int_t)m->ends[i].start_offset, "end_offset",
                                               (json_int_t)m->ends[i].end_offset));
    for (size_t i = 0; i < m->nranges; i++) {
        const manifest_range *r = &m->ranges[i];
        json_array_append_new(ranges, json_pack("{s:s,s:I,s:I,s:I,s:I}", "stream", m->streams[r->stream],
                                                "partition", (json_int_t)r->partition, "first_offset",
                                                (json_int_t)r->first_offset, "last_offset",
                                                (json_int_t)r->last_offset, "events", (json_int_t)r->events));
    }
    for (size_t i = 0; o->parts && i < o->nparts; i++)
        json_array_append_new(parts, json_integer(o->parts[i]));
    for (size_t i = 0; i < o->nheaders; i++)
        json_array_append_new(headers, json_pack("[s#s]", o->headers[i].name, o->headers[i].name_len,
                                                 o->headers[i].value));
    json_t *opts = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:b,s:b,s:o,s:s}", "partitions", parts,
                             "from_offset", nullable(o->have_from_offset, (json_int_t)o->from_offset), "to_offset",
                             nullable(o->have_to_offset, (json_int_t)o->to_offset), "from_time_us",
                             nullable(o->have_from_time, o->from_time), "to_time_us",
                             nullable(o->have_to_time, o->to_time), "key",
                             o->key ? json_string(o->key) : json_null(), "schema_version",
                             nullable(o->have_schema, o->schema_version), "headers", headers, "order",
                             orders[o->order], "follow", o->follow, "allow_gaps", o->allow_gaps, "limit",
                             nullable(o->have_limit, (json_int_t)o->limit), "format", formats[o->format]);
    if (opts)
        json_object_set_new(opts, "consumer", o->consumer ? json_string(o->consumer) : json_null());
    char id[17];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)m->store_id);
    json_t *doc = json_pack("{s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:s,s:s}", "manifest_version", MANIFEST_VERSION,
                            "store_id", id, "store", m->store, "streams", streams, "options", opts, "read", reads,
                            "partitions", ranges, "events", (json_int_t)m->events, "digest_algorithm",
                            "blake2b-256", "digest", m->digest);
    char *text = doc ? json_dumps(doc, 0) : NULL;
    json_decref(doc);
    if (!text)
        fail("cannot write the manifest again");
    return text;
}

static void check_same(const manifest_spec *a, const manifest_spec *b)
{
    if (a->store_id != b->store_id || strcmp(a->store, b->store) != 0 || a->nstreams != b->nstreams ||
        a->nends != b->nends || a->nranges != b->nranges || a->events != b->events ||
        strcmp(a->digest, b->digest) != 0 || a->o.nparts != b->o.nparts || a->o.nheaders != b->o.nheaders ||
        a->o.order != b->o.order || a->o.format != b->o.format || a->o.limit != b->o.limit ||
        a->o.from_time != b->o.from_time || a->o.to_time != b->o.to_time || (a->o.key == NULL) != (b->o.key == NULL) ||
        (a->o.consumer == NULL) != (b->o.consumer == NULL))
        fail("read back differently");
    for (size_t i = 0; i < a->nstreams; i++)
        if (strcmp(a->streams[i], b->streams[i]) != 0)
            fail("a stream name read back differently");
    if ((a->nends && memcmp(a->ends, b->ends, a->nends * sizeof *a->ends) != 0) ||
        (a->nranges && memcmp(a->ranges, b->ranges, a->nranges * sizeof *a->ranges) != 0))
        fail("\"read\" or \"partitions\" read back differently");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    manifest_spec m, again;
    char err[256];
    if (manifest_load((const char *)data, size, &m, err, sizeof err) != 0) {
        if (!memchr(err, '\0', sizeof err) || !err[0])
            fail("refused without a reason");
        return 0;
    }
    check_invariants(&m);
    char *text = rewrite(&m);
    if (manifest_load(text, strlen(text), &again, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        fail("the manifest written again is refused");
    }
    check_same(&m, &again);
    manifest_spec_free(&again);
    manifest_spec_free(&m);
    free(text);
    return 0;
}
