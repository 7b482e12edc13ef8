/*
 * make_vectors — writes the golden test vectors of format-spec/FORMAT.md.
 *
 *   make_vectors OUTDIR
 *
 * For each vector NAME it creates OUTDIR/NAME/store (a store written by
 * the engine) and OUTDIR/NAME/expected.jsonl: every event of the store in
 * the envelope of `siglog replay --format jsonl` (FORMAT.md, "Appendix: the replay envelope"),
 * streams by name, partitions ascending, offsets ascending.
 *
 * OUTDIR/NAME/expected-headers.jsonl is the same with every record's
 * headers, "[]" for none (the envelope has them only when there are some;
 * see put_envelope).
 * OUTDIR/routing.txt holds key -> partition vectors (see write_routing).
 *
 * expected.jsonl is written from the events this program appended, not
 * from reading the store back, so it is an oracle for any reader: the
 * engine's cursors, the CLI and the reference decoder are all checked
 * against what went in.
 *
 * Determinism: the stores are written through the POSIX I/O backend with
 * both clocks fixed, linger and age limits out of reach and explicit flush
 * points, so batch boundaries, segment rolls and every timestamp in every
 * file are the same on each run. The one exception is the store id in
 * siglog.store, drawn from getrandom. The commit journal (1 MiB of zeros
 * after a clean close), writer.lock (the writer's pid) and store.secret
 * (random, and a key published with the vectors would key nothing) are
 * removed: none holds data once the store is closed, and the next writer
 * open recreates them. The `loss` vector keeps store.secret: its audit
 * trail is chained with it. Its audit records carry the host, pid and
 * uid of the run.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "io.h"
#include "options_io.h"
#include "rewrite_gaps.h"
#include "siglog.h"
#include "utf8.h"

#define FIXED_NOW_US INT64_C(1700000000000000)

/* How the envelope shows a value: as stored (valid JSON), re-encoded
 * compactly (valid JSON with raw line breaks: `json` holds the expected
 * text), or as base64 (not JSON). */
enum value_kind { V_JSON, V_COMPACT, V_BASE64 };

typedef struct vec_event {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    int64_t ts;
    uint32_t schema;
    uint32_t flags;
    const siglog_header *headers;
    uint32_t header_count;
    enum value_kind kind;
    const char *json; /* V_COMPACT only */
} vec_event;

/* One appended event as it must come back. Owns copies of its bytes. */
typedef struct vec_record {
    const char *stream;
    uint32_t partition;
    uint64_t offset;
    vec_event ev;
} vec_record;

typedef struct vec_out {
    vec_record *recs;
    size_t count, cap;
} vec_out;

#define S(lit) lit, sizeof(lit) - 1
#define NOKEY NULL, 0

static void die(const char *what)
{
    fprintf(stderr, "make_vectors: %s: %s (%s)\n", what, siglog_errdetail(), strerror(errno));
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *q = xmalloc(n);
    if (n)
        memcpy(q, p, n);
    return q;
}

/* malloc'd "a/b". */
static char *path2(const char *a, const char *b)
{
    char *p;
    if (asprintf(&p, "%s/%s", a, b) < 0)
        die("out of memory");
    return p;
}

/* ---- clocks ---- */

static int64_t fixed_now_us(const siglog_io *io)
{
    (void)io;
    return FIXED_NOW_US;
}

static siglog_io fixed_io;

static const siglog_io *vector_io(void)
{
    fixed_io = *sl_io_posix();
    fixed_io.now_us = fixed_now_us;
    fixed_io.monotonic_us = fixed_now_us;
    return &fixed_io;
}

/* ---- writing stores ---- */

static siglog *store_create(const char *dir)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.file_mode = 0644;
    o.dir_mode = 0755;
    o.journal_bytes = 1u << 20;
    sl_options_set_io(&o, vector_io());
    siglog *s;
    if (siglog_open(&s, dir, &o) != 0)
        die(dir);
    return s;
}

static siglog_stream *stream_create(siglog *s, const char *name, uint32_t partitions, uint32_t compression,
                                    uint32_t sync, uint64_t segment_bytes, uint32_t batch_bytes,
                                    uint32_t index_interval)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    c.compression = compression;
    c.sync_policy = sync;
    c.segment_bytes_max = segment_bytes;
    c.segment_age_max_us = 0;
    c.batch_bytes_max = batch_bytes;
    c.record_bytes_max = 64 << 10; /* keeps a batch well inside the 1 MiB journal */
    c.linger_us = 60000000;
    c.sync_interval_ms = 60000;
    c.index_interval_bytes = index_interval;
    siglog_stream *st = NULL;
    if (siglog_stream_create(s, name, &c) != 0 || siglog_stream_get(s, name, &st) != 0)
        die(name);
    return st;
}

static void record_push(vec_out *out, const char *stream, uint32_t partition, uint64_t offset, const vec_event *e)
{
    if (out->count == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 64;
        out->recs = realloc(out->recs, out->cap * sizeof *out->recs);
        if (!out->recs)
            die("out of memory");
    }
    vec_record *r = &out->recs[out->count++];
    r->stream = dup_bytes(stream, strlen(stream) + 1);
    r->partition = partition;
    r->offset = offset;
    r->ev = *e;
    r->ev.key = dup_bytes(e->key, e->key_len);
    r->ev.value = dup_bytes(e->value, e->value_len);
    siglog_header *h = xmalloc(e->header_count * sizeof *h);
    for (uint32_t i = 0; i < e->header_count; i++) {
        h[i] = e->headers[i];
        h[i].key = dup_bytes(e->headers[i].key, e->headers[i].key_len);
        h[i].value = dup_bytes(e->headers[i].value, e->headers[i].value_len);
    }
    r->ev.headers = h;
}

static void record_free(vec_record *r)
{
    vec_event *e = &r->ev;
    for (uint32_t h = 0; h < e->header_count; h++) {
        free((void *)e->headers[h].key);
        free((void *)e->headers[h].value);
    }
    free((void *)e->headers);
    free((void *)r->stream);
    free((void *)e->key);
    free((void *)e->value);
}

/* Append n events in one call, so that for a durable stream they form one
 * commit; partition is a number or SIGLOG_PARTITION_BY_KEY. */
static void append(vec_out *out, siglog_stream *st, uint32_t partition, const vec_event *evs, size_t n)
{
    siglog_event *e = xmalloc(n * sizeof *e);
    uint32_t *parts = xmalloc(n * sizeof *parts);
    uint64_t *offs = xmalloc(n * sizeof *offs);
    for (size_t i = 0; i < n; i++)
        e[i] = (siglog_event){
            .key = evs[i].key,
            .key_len = evs[i].key_len,
            .value = evs[i].value,
            .value_len = evs[i].value_len,
            .timestamp_us = evs[i].ts,
            .schema_version = evs[i].schema,
            .flags = evs[i].flags,
            .headers = evs[i].headers,
            .header_count = evs[i].header_count,
        };
    if (siglog_append(st, partition, e, n, parts, offs) != 0)
        die("append");
    for (size_t i = 0; i < n; i++)
        record_push(out, siglog_stream_name(st), parts[i], offs[i], &evs[i]);
    free(e);
    free(parts);
    free(offs);
}

static void flush(siglog *s)
{
    if (siglog_flush(s) != 0)
        die("flush");
}

/* Drop what a closed store does not need (see the top): the first
 * `count` of these. A store with an audit trail keeps its secret, the
 * key of the trail's chain (without it the trail could never be checked,
 * nor appended to). */
static const char *const leftovers[] = {"journal", "writer.lock", "audit.lock", "store.secret"};

static void strip_leftovers(const char *dir, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char *path = path2(dir, leftovers[i]);
        if (unlink(path) != 0 && (errno != ENOENT || strcmp(leftovers[i], "audit.lock") != 0))
            die(path);
        free(path);
    }
}

/* Close, then drop what a closed store does not need. */
static void store_finish(siglog *s, const char *dir)
{
    if (siglog_close(s) != 0)
        die("close");
    strip_leftovers(dir, sizeof leftovers / sizeof *leftovers);
}

/* ---- the envelope ---- */

/* A JSON string: '"', '\\' and control characters escaped (\n \r \t
 * short, others \u00XX); every other byte as it is. */
static void put_json_string(FILE *f, const unsigned char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc((int)c, f);
    }
    fputc('"', f);
}

static void put_base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        fputc(a[v >> 18], f);
        fputc(a[(v >> 12) & 63], f);
        fputc(i + 1 < n ? a[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? a[v & 63] : '=', f);
    }
    fputc('"', f);
}

/* Bytes that are text as a JSON string, others as {"base64":"..."}. */
static void put_bytes(FILE *f, const void *p, size_t n)
{
    if (utf8_valid(p, n)) {
        put_json_string(f, p, n);
    } else {
        fputs("{\"base64\":", f);
        put_base64(f, p, n);
        fputc('}', f);
    }
}

/* The envelope line of one record: the member "headers":[[K,V],...]
 * after "schema" when it has headers, and with with_headers also "[]"
 * when it has none (expected-headers.jsonl). */
static void put_envelope(FILE *f, const vec_record *r, int with_headers)
{
    const vec_event *e = &r->ev;
    fputs("{\"stream\":", f);
    put_json_string(f, (const unsigned char *)r->stream, strlen(r->stream));
    fprintf(f, ",\"partition\":%" PRIu32 ",\"offset\":%" PRIu64 ",\"ts\":%" PRId64 ",\"key\":", r->partition,
            r->offset, e->ts);
    if (e->key_len == 0) {
        fputs("null", f);
    } else if (utf8_valid(e->key, e->key_len)) {
        put_json_string(f, (const unsigned char *)e->key, e->key_len);
    } else {
        put_base64(f, (const unsigned char *)e->key, e->key_len);
        fputs(",\"key_encoding\":\"base64\"", f);
    }
    fprintf(f, ",\"schema\":%" PRIu32, e->schema);
    if (with_headers || e->header_count) {
        fputs(",\"headers\":[", f);
        for (uint32_t h = 0; h < e->header_count; h++) {
            fputs(h ? ",[" : "[", f);
            put_bytes(f, e->headers[h].key, e->headers[h].key_len);
            fputc(',', f);
            put_bytes(f, e->headers[h].value, e->headers[h].value_len);
            fputc(']', f);
        }
        fputc(']', f);
    }
    if (e->flags & SIGLOG_EVENT_TOMBSTONE)
        fputs(",\"tombstone\":true", f);
    fputs(",\"value\":", f);
    switch (e->kind) {
    case V_JSON:
        fwrite(e->value, 1, e->value_len, f);
        break;
    case V_COMPACT:
        fputs(e->json, f);
        break;
    case V_BASE64:
        put_base64(f, (const unsigned char *)e->value, e->value_len);
        fputs(",\"value_encoding\":\"base64\"", f);
        break;
    }
    fputs("}\n", f);
}

static int record_cmp(const void *a, const void *b)
{
    const vec_record *x = a, *y = b;
    int c = strcmp(x->stream, y->stream);
    if (c)
        return c;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void write_envelopes(const vec_out *out, const char *path, int with_headers)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    for (size_t i = 0; i < out->count; i++)
        put_envelope(f, &out->recs[i], with_headers);
    if (fclose(f) != 0)
        die(path);
}

/* expected.jsonl and expected-headers.jsonl of one vector directory. */
static void write_expected(vec_out *out, const char *dir)
{
    qsort(out->recs, out->count, sizeof *out->recs, record_cmp);
    char *path = path2(dir, "expected.jsonl");
    write_envelopes(out, path, 0);
    free(path);
    path = path2(dir, "expected-headers.jsonl");
    write_envelopes(out, path, 1);
    free(path);
    for (size_t i = 0; i < out->count; i++)
        record_free(&out->recs[i]);
    free(out->recs);
    out->recs = NULL;
    out->count = out->cap = 0;
}

/* ---- the vectors ---- */

/* Generated events keep their bytes here until appended. */
typedef struct gen_event {
    vec_event ev;
    char key[32];
    char value[512];
} gen_event;

static const siglog_header provenance[] = {
    {"source", 6, "web", 3},
    {"consent", 7, "granted", 7},
};
static const siglog_header empty_header[] = {{"", 0, "", 0}};

/* ---- schema registry ---- */

/* Two versions of `events` in basic, written already in canonical form
 * (FORMAT.md §21) so that expected-schemas.jsonl, whose fingerprints are
 * computed here with XXH3-64, does not depend on the engine's
 * canonicalisation: a writer that changed the bytes would fail the
 * reference decoder's comparison. */
static const struct {
    uint32_t version;
    const char *name;
    int compat;
    const char *definition;
} basic_schemas[] = {
    {1, "click", SIGLOG_COMPAT_NONE,
     "{\"properties\":{\"action\":{\"enum\":[\"click\",\"view\"]},\"item\":{\"type\":\"integer\"},"
     "\"user\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"}},\"required\":[\"action\"],\"type\":\"object\"}"},
    {2, "click with weight", SIGLOG_COMPAT_BACKWARD,
     "{\"properties\":{\"action\":{\"enum\":[\"click\",\"view\"]},\"item\":{\"type\":\"number\"},"
     "\"user\":{\"type\":\"string\",\"x-sensitivity\":\"personal\"},\"weight\":{\"type\":[\"number\",\"null\"]}},"
     "\"required\":[\"action\"],\"type\":\"object\"}"},
};

static void register_basic_schemas(siglog_stream *st)
{
    for (size_t i = 0; i < sizeof basic_schemas / sizeof basic_schemas[0]; i++)
        if (siglog_schema_add(st, basic_schemas[i].version, basic_schemas[i].name, basic_schemas[i].definition,
                              strlen(basic_schemas[i].definition), basic_schemas[i].compat, NULL, NULL) != 0)
            die(siglog_errdetail());
}

/* expected-schemas.jsonl: one line per version, as the reference decoder's
 * --schemas prints it. */
static void write_basic_schemas(const char *dir)
{
    char *path = path2(dir, "expected-schemas.jsonl");
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    for (size_t i = 0; i < sizeof basic_schemas / sizeof basic_schemas[0]; i++) {
        const char *def = basic_schemas[i].definition;
        fprintf(f, "{\"stream\":\"events\",\"version\":%u,\"name\":", basic_schemas[i].version);
        put_json_string(f, (const unsigned char *)basic_schemas[i].name, strlen(basic_schemas[i].name));
        fprintf(f, ",\"compat\":\"%s\",\"registered_at_us\":%" PRId64 ",\"fingerprint\":\"%016" PRIx64 "\",\"definition\":",
                siglog_compat_name(basic_schemas[i].compat), FIXED_NOW_US, (uint64_t)XXH3_64bits(def, strlen(def)));
        put_json_string(f, (const unsigned char *)def, strlen(def));
        fputs("}\n", f);
    }
    if (fclose(f) != 0)
        die(path);
    free(path);
}

/* Every field encoding in one uncompressed partition: headers, a
 * tombstone, no key, an empty value, binary and non-UTF-8 bytes, keys
 * that need escaping, timestamps out of order and before 1970. */
static void vector_basic(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *st = stream_create(s, "events", 1, SIGLOG_COMPRESSION_NONE, SIGLOG_SYNC_ALWAYS, 64 << 10,
                                      64 << 10, 4096);
    register_basic_schemas(st);
    const int64_t t = FIXED_NOW_US;
    const vec_event first[] = {
        {S("user-1"), S("{\"action\":\"click\",\"item\":42}"), t, 1, 0, NULL, 0, V_JSON, NULL},
        {S("user-2"), S("{\"action\":\"view\",\"item\":7}"), t + 500, 1, 0, provenance, 2, V_JSON, NULL},
        {S("user-1"), S("\"just a string\""), t - 1000, 2, 0, NULL, 0, V_JSON, NULL},
    };
    const vec_event second[] = {
        {NOKEY, S("42"), t + 1000, 1, 0, NULL, 0, V_JSON, NULL},
        {S("user-3"), "", 0, t + 2000, 1, SIGLOG_EVENT_TOMBSTONE, NULL, 0, V_BASE64, NULL},
        {S("user-4"), S("not json at all"), t + 3000, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("user-4"), S("\x00\xff\x10\x80"), t + 4000, 3, 0, NULL, 0, V_BASE64, NULL},
        {S("user-5"), S("{\n  \"multi\": 1,\n  \"line\": [1, 2]\n}"), t + 5000, 1, 0, empty_header, 1, V_COMPACT,
         "{\"multi\":1,\"line\":[1,2]}"},
        {S("tab\there \"quoted\" \\ back\x01"), S("{\"escaped\":true}"), t + 6000, 1, 0, NULL, 0, V_JSON, NULL},
        {S("caf\xc3\xa9"), S("{\"unicode\":\"\xc3\xa9t\xc3\xa9\"}"), t + 7000, 1, 0, NULL, 0, V_JSON, NULL},
        {S("\xff\xfe"), S("null"), -1000000, 0, 0, NULL, 0, V_JSON, NULL},
    };
    const vec_event third[] = {
        {S("user-6"), S("  [1, 2, 3]  "), INT64_C(4102444800000000), 4294967295u, 0, provenance, 1, V_JSON, NULL},
    };
    append(out, st, 0, first, sizeof first / sizeof first[0]);
    append(out, st, 0, second, sizeof second / sizeof second[0]);
    append(out, st, 0, third, 1);
    store_finish(s, dir);
    char *parent = path2(dir, "..");
    write_basic_schemas(parent);
    free(parent);
}

static void gen_click(gen_event *g, uint32_t i)
{
    int kn = snprintf(g->key, sizeof g->key, "user-%u", i % 5);
    int vn = snprintf(g->value, sizeof g->value,
                      "{\"event\":\"click\",\"user\":\"user-%u\",\"page\":\"/products/%u\",\"latency_ms\":%u,"
                      "\"model\":\"ranker-v3\",\"outcome\":\"accepted\"}",
                      i % 5, i % 7, 10 + i % 13);
    g->ev = (vec_event){g->key, (size_t)kn, g->value, (size_t)vn, FIXED_NOW_US + (int64_t)i * 1000, 1 + i % 2, 0,
                        i % 4 == 0 ? provenance : NULL, i % 4 == 0 ? 2 : 0, V_JSON, NULL};
}

/* LZ4 batches (repetitive JSON compresses), routed by key over two
 * partitions, and one batch too small to compress (stored raw). */
static void vector_lz4(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *st = stream_create(s, "clicks", 2, SIGLOG_COMPRESSION_LZ4, SIGLOG_SYNC_ALWAYS, 64 << 10, 64 << 10,
                                      4096);
    gen_event g[20];
    vec_event e[20];
    for (uint32_t call = 0; call < 3; call++) {
        for (uint32_t i = 0; i < 20; i++) {
            gen_click(&g[i], call * 20 + i);
            e[i] = g[i].ev;
        }
        append(out, st, SIGLOG_PARTITION_BY_KEY, e, 20);
    }
    const vec_event tiny = {S("x"), S("1"), FIXED_NOW_US + 99000, 1, 0, NULL, 0, V_JSON, NULL};
    append(out, st, 1, &tiny, 1);
    store_finish(s, dir);
}

/* Deterministic hex noise for the values. */
static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Several segments (the smallest segment_bytes_max) with populated offset
 * and time indexes, written without the journal (sync policy none). */
static void vector_segments(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *st = stream_create(s, "telemetry", 1, SIGLOG_COMPRESSION_NONE, SIGLOG_SYNC_NONE, 64 << 10, 4096,
                                      1024);
    uint64_t rng = 7;
    for (uint32_t i = 0; i < 1100; i++) {
        gen_event g;
        char noise[65];
        for (int k = 0; k < 4; k++)
            snprintf(noise + 16 * k, 17, "%016" PRIx64, splitmix(&rng));
        int vn = snprintf(g.value, sizeof g.value, "{\"seq\":%u,\"route\":\"gpu-%u\",\"trace\":\"%s\"}", i, i % 3,
                          noise);
        int kn = snprintf(g.key, sizeof g.key, "node-%u", i % 9);
        /* Event time jitters around append order, as producers' clocks do. */
        int64_t ts = FIXED_NOW_US + (int64_t)i * 1000 + (int64_t)(splitmix(&rng) % 3000) - 1500;
        g.ev = (vec_event){g.key, (size_t)kn, g.value, (size_t)vn, ts, 7, 0, NULL, 0, V_JSON, NULL};
        append(out, st, 0, &g.ev, 1);
    }
    store_finish(s, dir);
}

/* ---- gaps: sealed segments rewritten without some records ---- */

#define GAPS_EVENTS 1500
#define GAPS_SEGMENTS_MAX 32

/* The segments of each partition of the `gaps` vector, as appended. */
static uint64_t gaps_bases[2][GAPS_SEGMENTS_MAX];
static size_t gaps_nseg[2];

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t list_segments(const char *pdir, uint64_t *bases)
{
    DIR *d = opendir(pdir);
    if (!d)
        die(pdir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t b;
        if (strlen(e->d_name) == SEGMENT_NAME_DIGITS + 4 && sl_segment_parse_name(e->d_name, &b) == 0) {
            if (n == GAPS_SEGMENTS_MAX)
                die("too many segments");
            bases[n++] = b;
        }
    }
    closedir(d);
    qsort(bases, n, sizeof *bases, u64_cmp);
    return n;
}

/* Which records the rewrite drops: a pure function of the place, so that
 * expected.jsonl can leave out the same ones. Partition 0: in every sealed
 * segment its first and last offsets, every third record, and a run of 70
 * that empties whole batches; partition 1: every other record of its
 * second segment only (its other segments stay dense, version 1 batches). */
static int gaps_dropped(uint32_t p, uint64_t o)
{
    for (size_t i = 0; i + 1 < gaps_nseg[p]; i++) {
        uint64_t first = gaps_bases[p][i], last = gaps_bases[p][i + 1] - 1;
        if (o < first || o > last)
            continue;
        if (p == 1)
            return i == 1 && o % 2 == 0;
        return o == first || o == last || o % 3 == 1 || (o - first >= 100 && o - first < 170);
    }
    return 0; /* the active segment is never rewritten */
}

static int gaps_drop(void *arg, uint64_t offset)
{
    return gaps_dropped(*(const uint32_t *)arg, offset);
}

/* GAPS_EVENTS events into each of the two partitions of st, in batches of
 * 1..24 (flushed), with keys, tombstones and headers here and there: the
 * raw material of the vectors that change sealed segments afterwards. */
static void append_mixed(vec_out *out, siglog *s, siglog_stream *st, uint64_t rng)
{
    for (uint32_t p = 0; p < 2; p++) {
        for (uint32_t i = 0; i < GAPS_EVENTS;) {
            /* Batches of 1..24 events. */
            for (uint32_t k = 1 + (uint32_t)(splitmix(&rng) % 24); k > 0 && i < GAPS_EVENTS; k--, i++) {
                gen_event g;
                char noise[33];
                for (int n = 0; n < 2; n++)
                    snprintf(noise + 16 * n, 17, "%016" PRIx64, splitmix(&rng));
                int vn = snprintf(g.value, sizeof g.value, "{\"seq\":%u,\"user\":\"u-%u\",\"sample\":\"%s\"}", i,
                                  i % 17, noise);
                int kn = snprintf(g.key, sizeof g.key, "u-%u", i % 17);
                int64_t ts = FIXED_NOW_US + (int64_t)i * 1000 - (int64_t)(i % 5) * 1700;
                uint32_t flags = i % 29 == 0 ? SIGLOG_EVENT_TOMBSTONE : 0;
                int tagged = i % 13 == 0;
                g.ev = (vec_event){g.key, (size_t)kn, g.value, (size_t)vn, ts, 3, flags, tagged ? provenance : NULL,
                                   tagged ? 2 : 0, V_JSON, NULL};
                append(out, st, p, &g.ev, 1);
            }
            flush(s);
        }
    }
}

/* A compacted stream: two partitions, sealed segments rewritten with
 * gaps (batch version 2) beside dense ones, offset and time indexes. */
static void vector_gaps(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *st = stream_create(s, "compacted", 2, SIGLOG_COMPRESSION_NONE, SIGLOG_SYNC_NONE, 64 << 10,
                                      8192, 1024);
    append_mixed(out, s, st, 11);
    store_finish(s, dir);

    segment_params params = {.segment_bytes_max = 64 << 10, .index_interval_bytes = 1024, .file_mode = 0644};
    for (uint32_t p = 0; p < 2; p++) {
        char rel[64];
        snprintf(rel, sizeof rel, "streams/compacted/%05u", p);
        char *pdir = path2(dir, rel);
        gaps_nseg[p] = list_segments(pdir, gaps_bases[p]);
        if (gaps_nseg[p] < 3)
            die("gaps: fewer than 3 segments");
        for (size_t i = 0; i + 1 < gaps_nseg[p]; i++) {
            uint64_t dropped;
            if (p == 1 && i != 1)
                continue;
            if (rewrite_dropping(vector_io(), pdir, gaps_bases[p][i], &params, SIGLOG_COMPRESSION_NONE, gaps_drop, &p,
                                 &dropped) != 0) {
                fprintf(stderr, "make_vectors: %s\n", siglog_errdetail());
                die("gaps: rewrite");
            }
        }
        free(pdir);
    }
    size_t kept = 0;
    for (size_t i = 0; i < out->count; i++) {
        vec_record *r = &out->recs[i];
        if (!gaps_dropped(r->partition, r->offset))
            out->recs[kept++] = *r;
        else
            record_free(r);
    }
    out->count = kept;
}

/* ---- loss: segments lost, the loss accepted ---- */

/* Offsets [loss_from[p], loss_to[p]) of partition p were lost. */
static uint64_t loss_from[2], loss_to[2];

/* A stream whose partition 0 lost its first segment and partition 1 its
 * second, the loss then accepted by `siglog verify --repair
 * --accept-loss`'s own code (FORMAT.md section 5, "Recorded loss"):
 * partition 0's log starts past offset 0, partition 1 has a recorded gap
 * between two entries, and the audit trail holds the `loss` record of
 * each, appended first; store.secret, its key, is kept. */
static void vector_loss(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *st = stream_create(s, "lost", 2, SIGLOG_COMPRESSION_NONE, SIGLOG_SYNC_NONE, 64 << 10, 8192, 1024);
    append_mixed(out, s, st, 29);
    if (siglog_close(s) != 0)
        die("close");
    for (uint32_t p = 0; p < 2; p++) {
        char rel[64];
        snprintf(rel, sizeof rel, "streams/lost/%05u", p);
        char *pdir = path2(dir, rel);
        uint64_t bases[GAPS_SEGMENTS_MAX];
        size_t n = list_segments(pdir, bases);
        if (n < 3)
            die("loss: fewer than 3 segments");
        loss_from[p] = bases[p];
        loss_to[p] = bases[p + 1];
        static const char *const exts[] = {".seg", ".oix", ".tix", ".sum", ".kf"};
        for (size_t e = 0; e < sizeof exts / sizeof *exts; e++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%020" PRIu64 "%s", pdir, loss_from[p], exts[e]);
            if (unlink(path) != 0 && errno != ENOENT)
                die(path);
        }
        free(pdir);
    }
    /* Accepted as the tool accepts it: the audit records first, then the
     * catalogs. */
    if (sl_verify_io(vector_io(), dir, 1 | SIGLOG_VERIFY_ACCEPT_LOSS, NULL, NULL) != 0) {
        fprintf(stderr, "make_vectors: %s\n", siglog_errdetail());
        die("loss: accept");
    }
    strip_leftovers(dir, sizeof leftovers / sizeof *leftovers - 1);
    size_t kept = 0;
    for (size_t i = 0; i < out->count; i++) {
        vec_record *r = &out->recs[i];
        if (r->offset < loss_from[r->partition] || r->offset >= loss_to[r->partition])
            out->recs[kept++] = *r;
        else
            record_free(r);
    }
    out->count = kept;
}

/* ---- cold: the oldest segments moved into the cold tier ---- */

/* The `cold` vector's stream moves every sealed segment whose newest event
 * is older than this at the retention run below. */
#define COLD_AFTER_US INT64_C(1000000)

/* One partition in several segments (as `segments`), its sealed segments
 * then moved to the cold tier by siglog_retain (FORMAT.md section 4,
 * "Cold tier"): OUTDIR/cold/store's catalog names them as cold entries
 * and their archives lie in OUTDIR/cold/cold, the stream's cold_dir as
 * written (an absolute path of the run: a reader of the committed vector
 * is told where it lies now, as an operator who moved a cold_dir would
 * tell the store). The audit trail holds one `cold` record a move and
 * store.secret, its key, is kept. */
static void vector_cold(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *st = stream_create(s, "aged", 1, SIGLOG_COMPRESSION_NONE, SIGLOG_SYNC_NONE, 64 << 10, 4096, 1024);
    uint64_t rng = 11;
    for (uint32_t i = 0; i < 2500; i++) {
        gen_event g;
        char noise[33];
        for (int k = 0; k < 2; k++)
            snprintf(noise + 16 * k, 17, "%016" PRIx64, splitmix(&rng));
        int vn = snprintf(g.value, sizeof g.value, "{\"seq\":%u,\"note\":\"%s\"}", i, noise);
        int kn = snprintf(g.key, sizeof g.key, "host-%u", i % 5);
        int64_t ts = FIXED_NOW_US + (int64_t)i * 1000;
        g.ev = (vec_event){g.key, (size_t)kn, g.value, (size_t)vn, ts, 3, 0, NULL, 0, V_JSON, NULL};
        append(out, st, 0, &g.ev, 1);
    }
    char *up = path2(dir, "..");
    char *parent = realpath(up, NULL);
    if (!parent)
        die(up);
    char *cold = path2(parent, "cold");
    if (mkdir(cold, 0755) != 0)
        die(cold);
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    c.cold_after = COLD_AFTER_US;
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    if (siglog_stream_config_set(s, "aged", &c) != 0 || siglog_close(s) != 0)
        die("cold: config");
    siglog_options o;
    siglog_options_default(&o);
    sl_options_set_io(&o, vector_io());
    siglog_maintenance *m;
    if (siglog_maintenance_open(&m, dir, &o) != 0 || siglog_retain(m, FIXED_NOW_US + 3600 * COLD_AFTER_US, NULL) != 0) {
        fprintf(stderr, "make_vectors: %s\n", siglog_errdetail());
        die("cold: retain");
    }
    siglog_maintenance_close(m);
    strip_leftovers(dir, sizeof leftovers / sizeof *leftovers - 1);
    char *lock = path2(dir, "maintenance.lock"); /* the role's pid: no data */
    if (unlink(lock) != 0)
        die(lock);
    free(lock);
    free(cold);
    free(parent);
    free(up);
}

/* Several streams and partitions, one partition and one stream empty. */
static void vector_multi(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *alpha = stream_create(s, "alpha", 4, SIGLOG_COMPRESSION_LZ4, SIGLOG_SYNC_ALWAYS, 64 << 10,
                                         64 << 10, 4096);
    siglog_stream *beta = stream_create(s, "beta.v2_x-y", 3, SIGLOG_COMPRESSION_NONE, SIGLOG_SYNC_INTERVAL,
                                        64 << 10, 64 << 10, 4096);
    stream_create(s, "empty", 2, SIGLOG_COMPRESSION_LZ4, SIGLOG_SYNC_ALWAYS, 64 << 10, 64 << 10, 4096);
    for (uint32_t i = 0; i < 24; i++) {
        gen_event g;
        gen_click(&g, i);
        append(out, alpha, i % 4, &g.ev, 1);
        if (i % 3 != 2) {
            g.ev.ts += 17;
            append(out, beta, i % 2, &g.ev, 1);
        }
        if (i % 8 == 7)
            flush(s); /* batch boundaries for beta */
    }
    store_finish(s, dir);
}

/* Nesting limit of the envelope's JSON (FORMAT.md, Appendix). */
#define JSON_DEPTH_MAX 2048

/* `depth` nested arrays: "[[...]]". buf holds 2 * depth bytes. */
static size_t nested_arrays(char *buf, size_t depth)
{
    memset(buf, '[', depth);
    memset(buf + depth, ']', depth);
    return 2 * depth;
}

/* What the tool's `append` cannot write: record headers (many, empty,
 * repeated, binary), tombstones with and without key and value, keys that
 * are not UTF-8 in each way UTF-8 can fail, and values at each edge of
 * the envelope's definition of JSON (FORMAT.md, Appendix): nesting at and
 * past the limit, integers and reals at the edges of their range, escapes
 * of lone surrogates, a byte order mark, duplicate member names. */
static void vector_edge(const char *dir, vec_out *out)
{
    siglog *s = store_create(dir);
    siglog_stream *st = stream_create(s, "edge", 2, SIGLOG_COMPRESSION_LZ4, SIGLOG_SYNC_ALWAYS, 64 << 10, 64 << 10,
                                      4096);
    const int64_t t = FIXED_NOW_US;
    static const siglog_header mixed[] = {
        {"trace", 5, "a1b2", 4},
        {"", 0, "empty key", 9},
        {"empty value", 11, "", 0},
        {"trace", 5, "repeated key", 12},
        {"\xff\x00" "bin", 5, "\x80\x81", 2},
        {"caf\xc3\xa9", 5, "\xe2\x82\xac", 3},
    };
    siglog_header many[SIGLOG_HEADERS_MAX];
    char many_keys[SIGLOG_HEADERS_MAX][4];
    for (uint32_t i = 0; i < SIGLOG_HEADERS_MAX; i++) {
        snprintf(many_keys[i], sizeof many_keys[i], "h%02u", i);
        many[i] = (siglog_header){many_keys[i], 3, &"0123456789"[i % 10], 1};
    }
    static char deep_ok[2 * JSON_DEPTH_MAX], deep_over[2 * (JSON_DEPTH_MAX + 1)];
    size_t deep_ok_len = nested_arrays(deep_ok, JSON_DEPTH_MAX);
    size_t deep_over_len = nested_arrays(deep_over, JSON_DEPTH_MAX + 1);
    const vec_event headers_and_tombstones[] = {
        {S("h-mixed"), S("{\"h\":1}"), t, 1, 0, mixed, sizeof mixed / sizeof mixed[0], V_JSON, NULL},
        {S("h-many"), S("{\"h\":64}"), t + 1, 1, 0, many, SIGLOG_HEADERS_MAX, V_JSON, NULL},
        {S("h-one-empty"), S("[]"), t + 2, 1, 0, empty_header, 1, V_JSON, NULL},
        {S("gone"), S("{\"last\":\"words\"}"), t + 3, 1, SIGLOG_EVENT_TOMBSTONE, NULL, 0, V_JSON, NULL},
        {NOKEY, "", 0, t + 4, 1, SIGLOG_EVENT_TOMBSTONE, NULL, 0, V_BASE64, NULL},
        {S("\xc3"), S("{\"tomb\":1}"), t + 5, 0, SIGLOG_EVENT_TOMBSTONE, mixed, 1, V_JSON, NULL},
    };
    const vec_event bad_keys[] = {
        {S("\x80"), S("1"), t + 10, 1, 0, NULL, 0, V_JSON, NULL},             /* lone continuation byte */
        {S("ab\xe2\x82"), S("2"), t + 11, 1, 0, NULL, 0, V_JSON, NULL},      /* truncated sequence */
        {S("\xc0\x80"), S("3"), t + 12, 1, 0, NULL, 0, V_JSON, NULL},        /* overlong NUL */
        {S("\xed\xb0\x80"), S("4"), t + 13, 1, 0, NULL, 0, V_JSON, NULL},    /* a surrogate */
        {S("\xf4\x90\x80\x80"), S("5"), t + 14, 1, 0, NULL, 0, V_JSON, NULL}, /* above U+10FFFF */
        {S("\xf0\x9f\x98\x80"), S("6"), t + 15, 1, 0, NULL, 0, V_JSON, NULL}, /* valid: U+1F600 */
        {S("nul\x00inside"), S("7"), t + 16, 1, 0, NULL, 0, V_JSON, NULL},    /* valid, escaped \u0000 */
    };
    const vec_event values[] = {
        {S("depth"), deep_ok, deep_ok_len, t + 20, 1, 0, NULL, 0, V_JSON, NULL},
        {S("depth"), deep_over, deep_over_len, t + 21, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("int"), S("9223372036854775807"), t + 22, 1, 0, NULL, 0, V_JSON, NULL},
        {S("int"), S("-9223372036854775808"), t + 23, 1, 0, NULL, 0, V_JSON, NULL},
        {S("int"), S("9223372036854775808"), t + 24, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("int"), S("[-9223372036854775809]"), t + 25, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("real"), S("1.7976931348623157e308"), t + 26, 1, 0, NULL, 0, V_JSON, NULL},
        {S("real"), S("1e309"), t + 27, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("real"), S("1e-400"), t + 28, 1, 0, NULL, 0, V_JSON, NULL},
        {S("real"), S("-0.0e0"), t + 29, 1, 0, NULL, 0, V_JSON, NULL},
        {S("spell"), S("01"), t + 30, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("spell"), S("NaN"), t + 31, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("spell"), S("[1,]"), t + 32, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("str"), S("\"\\ud83d\\ude00\""), t + 33, 1, 0, NULL, 0, V_JSON, NULL},
        {S("str"), S("\"\\ud800\""), t + 34, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("str"), S("\"\\udc00x\""), t + 35, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("str"), S("\"nul\\u0000\""), t + 36, 1, 0, NULL, 0, V_JSON, NULL},
        {S("str"), S("\"tab\there\""), t + 37, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("str"), S("\"\xed\xa0\x80\""), t + 38, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("text"), S("\xef\xbb\xbf{}"), t + 39, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("text"), S("{} {}"), t + 40, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("text"), S(" \t "), t + 41, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("text"), S("{}\f"), t + 42, 1, 0, NULL, 0, V_BASE64, NULL},
        {S("text"), S("{\"a\":1,\"b\":2,\"a\":3}"), t + 43, 1, 0, NULL, 0, V_JSON, NULL},
        {S("text"), S("{\"a\":1,\r\n\"b\":[true,null],\"a\":\"x\"}\r"), t + 44, 1, 0, NULL, 0, V_COMPACT,
         "{\"a\":\"x\",\"b\":[true,null]}"},
    };
    append(out, st, 0, headers_and_tombstones, sizeof headers_and_tombstones / sizeof headers_and_tombstones[0]);
    append(out, st, 0, bad_keys, sizeof bad_keys / sizeof bad_keys[0]);
    append(out, st, 1, values, sizeof values / sizeof values[0]);
    store_finish(s, dir);
}

/* ---- key routing ---- */

/* Partition counts of the routing vectors: one (everything to 0), small
 * ones where a wrong hash still often agrees, and large ones where it
 * almost never does. */
static const uint32_t routing_counts[] = {1, 2, 3, 8, 64, 1000};

/* Writes a key's line of routing.txt: key and hash in hex, then its
 * partition for each count, computed from the formula FORMAT.md states
 * (XXH3-64, seed 0, of the key bytes, modulo the partition count) and
 * not through the engine, so the file is an oracle for the engine's
 * routing rather than a record of it. A key of length 0 is no key: it is
 * not hashed but routed round robin ("rr"). */
static void put_route(FILE *f, const unsigned char *key, size_t len)
{
    if (len == 0) {
        fputs("- -", f);
        for (size_t i = 0; i < sizeof routing_counts / sizeof routing_counts[0]; i++)
            fputs(" rr", f);
        fputc('\n', f);
        return;
    }
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", key[i]);
    uint64_t h = XXH3_64bits(key, len);
    fprintf(f, " %016" PRIx64, h);
    for (size_t i = 0; i < sizeof routing_counts / sizeof routing_counts[0]; i++)
        fprintf(f, " %" PRIu64, h % routing_counts[i]);
    fputc('\n', f);
}

/* Keys of every length class XXH3 treats differently (0, 1..3, 4..8,
 * 9..16, 17..128, 129..240, longer, several 1 KiB blocks), text and binary,
 * valid and invalid UTF-8. */
static void write_routing(const char *path)
{
    static const struct {
        const char *bytes;
        size_t len;
    } fixed[] = {
        {S("")},
        {S("\x00")},
        {S("\xff")},
        {S("\xff\xfe")},         /* not UTF-8 */
        {S("abc")},
        {S("user-1")},
        {S("user-2")},
        {S("tenant-a")},
        {S("caf\xc3\xa9")},      /* UTF-8 text */
        {S("\xc0\xaf")},         /* overlong: not UTF-8 */
        {S("\xed\xa0\x80")},     /* a surrogate: not UTF-8 */
        {S("order-000000001")},
        {S("0123456789abcdef")},
        {S("0123456789abcdefg")},
        {S("\x00\x00\x00\x00\x00\x00\x00\x00")},
        {S(" key with spaces\n")},
    };
    static const size_t long_lens[] = {32, 128, 129, 240, 241, 1000, 4096};
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    fputs("# siglog key routing vectors, written by make_vectors (FORMAT.md, \"Stream metadata\"):\n"
          "# an event with a key and no explicit partition goes to XXH3-64(key) % partitions.\n"
          "# Columns: the key in hex (\"-\": no key), XXH3-64 of the key in hex, then the\n"
          "# partition for each count of the \"partitions\" line (\"rr\": round robin, not hashed).\n"
          "partitions",
          f);
    for (size_t i = 0; i < sizeof routing_counts / sizeof routing_counts[0]; i++)
        fprintf(f, " %" PRIu32, routing_counts[i]);
    fputc('\n', f);
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        put_route(f, (const unsigned char *)fixed[i].bytes, fixed[i].len);
    unsigned char key[4096];
    uint64_t rng = 42;
    for (size_t i = 0; i < sizeof long_lens / sizeof long_lens[0]; i++) {
        for (size_t k = 0; k < long_lens[i]; k++)
            key[k] = (unsigned char)splitmix(&rng);
        put_route(f, key, long_lens[i]);
    }
    if (fclose(f) != 0)
        die(path);
}

static const struct {
    const char *name;
    void (*make)(const char *dir, vec_out *out);
} vectors[] = {
    {"basic", vector_basic},
    {"lz4", vector_lz4},
    {"segments", vector_segments},
    {"multi", vector_multi},
    {"edge", vector_edge},
    {"gaps", vector_gaps},
    {"loss", vector_loss},
    {"cold", vector_cold},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_vectors OUTDIR\n");
        return 2;
    }
    const char *root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
        die(root);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char *dir = path2(root, vectors[i].name);
        char *store = path2(dir, "store");
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            die(dir);
        struct stat sb;
        if (stat(store, &sb) == 0) {
            fprintf(stderr, "make_vectors: %s exists; remove it first\n", store);
            return 1;
        }
        vec_out out = {0};
        vectors[i].make(store, &out);
        write_expected(&out, dir);
        free(dir);
        free(store);
    }
    char *routing = path2(root, "routing.txt");
    write_routing(routing);
    free(routing);
    return 0;
}
