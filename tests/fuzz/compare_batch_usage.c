/*
 * compare_batch_usage: the writer's schema-usage shortcut against the
 * general path. Builds up to three dense batches from the input (record
 * i: a schema version of 0..3 and a time of any sign), seals each (LZ4
 * or not) and accounts them twice into schema usage figures: once as the
 * writer does (sl_schema_usage_add_run from what the builder knew, when
 * the sealed batch says its records share one version), once record by
 * record from the sealed batch decoded. The two must agree on every
 * figure, and the batch must say "one version" exactly when its records
 * share one.
 *
 * Input: byte 0 bit 0 LZ4, bits 1-2 the number of batches (1..3, 0 read
 * as 1); then 5 bytes a record: version (low 2 bits), time (int32 LE, in
 * milliseconds). Records are split evenly among the batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "schema_usage.h"

#define RECORD_BYTES 5

static batch_builder builder;
static bytebuf sealed, scratch;

static void fail(const char *what)
{
    fprintf(stderr, "compare_batch_usage: %s\n", what);
    abort();
}

static void account_decoded(schema_usage *u, const bytebuf *b)
{
    batch_header h;
    batch_iter it;
    siglog_record r;
    int rc;
    if (sl_batch_header_decode(b->data, &h) != 0 ||
        sl_batch_iter_init(&it, &h, b->data + BATCH_HEADER_BYTES, &scratch) != 0)
        fail("a sealed batch does not decode");
    while ((rc = sl_batch_iter_next(&it, &r)) == 1)
        if (sl_schema_usage_add(u, r.schema_version, r.offset, r.timestamp_us) != 0)
            fail("out of memory");
    if (rc != 0)
        fail("a record of a sealed batch does not decode");
}

static void compare(const schema_usage *a, const schema_usage *b)
{
    if (a->covered != b->covered || a->count != b->count)
        fail("covered offsets or version count differ");
    for (size_t i = 0; i < a->count; i++) {
        const schema_usage_entry *x = &a->v[i], *y = &b->v[i];
        if (x->version != y->version || x->first_offset != y->first_offset || x->last_offset != y->last_offset ||
            x->min_timestamp_us != y->min_timestamp_us || x->max_timestamp_us != y->max_timestamp_us ||
            x->count != y->count)
            fail("a version's figures differ");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + RECORD_BYTES)
        return 0;
    int lz4 = data[0] & 1;
    size_t batches = (data[0] >> 1) & 3 ? (data[0] >> 1) & 3 : 1;
    size_t records = (size - 1) / RECORD_BYTES;
    if (records > BATCH_RECORDS_MAX)
        records = BATCH_RECORDS_MAX;
    if (batches > records)
        batches = records;
    schema_usage fast, general;
    sl_schema_usage_init(&fast, 1000);
    sl_schema_usage_init(&general, 1000);
    uint64_t offset = 1000;
    char value[16] = "value";
    for (size_t b = 0, i = 0; b < batches; b++) {
        size_t end = records * (b + 1) / batches;
        sl_batch_builder_reset(&builder, offset, 0);
        int same = 1;
        uint32_t first_version = data[1 + i * RECORD_BYTES] & 3;
        for (; i < end; i++) {
            const uint8_t *rec = data + 1 + i * RECORD_BYTES;
            int32_t ms = (int32_t)((uint32_t)rec[1] | (uint32_t)rec[2] << 8 | (uint32_t)rec[3] << 16 |
                                   (uint32_t)rec[4] << 24);
            siglog_event ev = {.value = value, .value_len = sizeof value, .schema_version = rec[0] & 3u};
            same &= ev.schema_version == first_version;
            if (sl_batch_builder_add(&builder, &ev, (int64_t)ms * 1000) != 0)
                fail("out of memory");
            offset++;
        }
        batch_meta meta;
        sealed.len = 0;
        if (sl_batch_builder_seal(&builder, lz4 ? SIGLOG_COMPRESSION_LZ4 : SIGLOG_COMPRESSION_NONE, &sealed,
                                  &meta) != 0)
            fail("sealing failed");
        if (meta.one_version != same || (same && meta.schema_version != first_version))
            fail("the batch's one version is wrong");
        if (meta.one_version) {
            if (sl_schema_usage_add_run(&fast, meta.schema_version, meta.base_offset,
                                        batch_meta_end_offset(&meta) - 1, meta.record_count, meta.min_timestamp_us,
                                        meta.max_timestamp_us) != 0)
                fail("out of memory");
        } else {
            account_decoded(&fast, &sealed);
        }
        account_decoded(&general, &sealed);
        compare(&fast, &general);
    }
    sl_schema_usage_free(&fast);
    sl_schema_usage_free(&general);
    return 0;
}
