/*
 * routing — an event appended with SIGLOG_PARTITION_BY_KEY goes to the
 * partition FORMAT.md promises, XXH3-64(key) % partitions, for every key
 * of the golden vectors (format-spec/vectors/routing.txt, written by
 * make_vectors from the formula and checked by the reference decoder's
 * own routing), and is read back from that partition at the offset the
 * append reported. Keyless events are not hashed: they go round robin.
 *
 * A golden file rather than a call to XXH3 here: the test must fail when
 * the engine hashes differently (another seed, another hash), and a
 * second computation inside the test would only prove that the test and
 * the engine agree with each other.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define COUNTS_MAX 16
#define KEY_MAX 4096

typedef struct route_vec {
    unsigned char *key; /* NULL for the keyless line */
    size_t key_len;
    int round_robin;
    uint32_t partition[COUNTS_MAX];
} route_vec;

typedef struct route_file {
    uint32_t counts[COUNTS_MAX];
    size_t ncounts;
    route_vec *vecs;
    size_t nvecs;
} route_file;

static int hex_nibble(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void parse_key(route_vec *v, const char *hex, int line)
{
    size_t n = strlen(hex);
    cr_assert(n % 2 == 0 && n / 2 <= KEY_MAX, "routing.txt:%d: bad key", line);
    v->key = malloc(n / 2 + 1);
    cr_assert_not_null(v->key);
    v->key_len = n / 2;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        cr_assert(hi >= 0 && lo >= 0, "routing.txt:%d: bad hex in key", line);
        v->key[i] = (unsigned char)(hi << 4 | lo);
    }
}

static void load(route_file *rf)
{
    const char *root = getenv("SIGLOG_FORMAT_VECTORS");
    cr_assert_not_null(root, "SIGLOG_FORMAT_VECTORS is not set (meson sets it to format-spec/vectors)");
    char *path = test_path(root, "routing.txt");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "open %s", path);
    memset(rf, 0, sizeof *rf);
    size_t cap = 0;
    static char line[2 * KEY_MAX + 256];
    for (int ln = 1; fgets(line, sizeof line, f); ln++) {
        cr_assert(strchr(line, '\n'), "routing.txt:%d: line too long", ln);
        char *save = NULL;
        char *tok = strtok_r(line, " \n", &save);
        if (!tok || tok[0] == '#')
            continue;
        if (strcmp(tok, "partitions") == 0) {
            while ((tok = strtok_r(NULL, " \n", &save))) {
                cr_assert(rf->ncounts < COUNTS_MAX, "routing.txt:%d: too many counts", ln);
                rf->counts[rf->ncounts++] = (uint32_t)strtoul(tok, NULL, 10);
            }
            continue;
        }
        cr_assert(rf->ncounts > 0, "routing.txt:%d: key before the partitions line", ln);
        if (rf->nvecs == cap) {
            cap = cap ? 2 * cap : 32;
            rf->vecs = realloc(rf->vecs, cap * sizeof *rf->vecs);
            cr_assert_not_null(rf->vecs);
        }
        route_vec *v = &rf->vecs[rf->nvecs++];
        memset(v, 0, sizeof *v);
        if (strcmp(tok, "-") != 0)
            parse_key(v, tok, ln);
        cr_assert_not_null(strtok_r(NULL, " \n", &save), "routing.txt:%d: no hash", ln);
        for (size_t i = 0; i < rf->ncounts; i++) {
            tok = strtok_r(NULL, " \n", &save);
            cr_assert_not_null(tok, "routing.txt:%d: %zu partitions, expected %zu", ln, i, rf->ncounts);
            if (strcmp(tok, "rr") == 0) {
                v->round_robin = 1;
            } else {
                v->partition[i] = (uint32_t)strtoul(tok, NULL, 10);
                cr_assert_lt(v->partition[i], rf->counts[i], "routing.txt:%d: partition out of range", ln);
            }
        }
        cr_assert(v->round_robin == (v->key == NULL), "routing.txt:%d: only the keyless line is round robin", ln);
    }
    fclose(f);
    free(path);
    cr_assert_gt(rf->nvecs, 1, "routing.txt holds no keys");
}

static void unload(route_file *rf)
{
    for (size_t i = 0; i < rf->nvecs; i++)
        free(rf->vecs[i].key);
    free(rf->vecs);
}

/* The record at (partition, offset) carries exactly this key. */
static void assert_key_at(siglog_stream *st, uint32_t partition, uint64_t offset, const route_vec *v)
{
    siglog_cursor *c = NULL;
    int rc = siglog_cursor_open(&c, st, partition, SIGLOG_SEEK_OFFSET, (int64_t)offset, 0);
    cr_assert_eq(rc, 0, "cursor_open: %s: %s", siglog_strerror(rc), siglog_errdetail());
    const siglog_record *r = NULL;
    cr_assert_eq(siglog_cursor_next(c, &r), 1, "no record at partition %u offset %llu", partition,
                 (unsigned long long)offset);
    cr_assert_eq(r->offset, offset);
    cr_assert(r->key_len == v->key_len && memcmp(r->key, v->key, v->key_len) == 0,
              "partition %u offset %llu holds another key", partition, (unsigned long long)offset);
    siglog_cursor_close(c);
}

Test(routing, keys_go_to_xxh3_modulo_partitions)
{
    route_file rf;
    load(&rf);
    /* A memory file system: a 1000-partition stream is thousands of
     * files and fsyncs, none of which this test is about. */
    char *dir = test_tmpdir_fast("routing");
    siglog *s = test_store_open(dir, NULL);
    siglog_event *evs = calloc(rf.nvecs, sizeof *evs);
    uint32_t *parts = calloc(rf.nvecs, sizeof *parts);
    uint64_t *offs = calloc(rf.nvecs, sizeof *offs);
    cr_assert(evs && parts && offs);
    size_t keyed = 0;
    for (size_t k = 0; k < rf.nvecs; k++)
        if (!rf.vecs[k].round_robin)
            evs[keyed++] = (siglog_event){.key = rf.vecs[k].key, .key_len = rf.vecs[k].key_len, .value = "v",
                                          .value_len = 1};
    for (size_t i = 0; i < rf.ncounts; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%u", rf.counts[i]);
        siglog_stream *st = test_stream_create(s, name, rf.counts[i], SIGLOG_SYNC_NONE, 0);
        int rc = siglog_append(st, SIGLOG_PARTITION_BY_KEY, evs, keyed, parts, offs);
        cr_assert_eq(rc, 0, "append: %s: %s", siglog_strerror(rc), siglog_errdetail());
        /* Readers see sealed batches only. */
        cr_assert_eq(siglog_flush(s), 0, "flush: %s", siglog_errdetail());
        size_t e = 0;
        for (size_t k = 0; k < rf.nvecs; k++) {
            const route_vec *v = &rf.vecs[k];
            if (v->round_robin)
                continue;
            cr_expect_eq(parts[e], v->partition[i], "%u partitions: key %zu of routing.txt (%zu bytes) went to %u, "
                         "expected %u", rf.counts[i], k, v->key_len, parts[e], v->partition[i]);
            assert_key_at(st, parts[e], offs[e], v);
            e++;
        }
    }
    cr_assert_eq(siglog_close(s), 0, "close: %s", siglog_errdetail());
    test_rmtree_fast(dir);
    free(dir);
    free(evs);
    free(parts);
    free(offs);
    unload(&rf);
}

/* Keyless events are not hashed (XXH3 of no bytes would send them all to
 * one partition): n of them in one call cover all n partitions. */
Test(routing, keyless_events_go_round_robin)
{
    route_file rf;
    load(&rf);
    int listed = 0;
    for (size_t k = 0; k < rf.nvecs; k++)
        listed |= rf.vecs[k].round_robin;
    cr_assert(listed, "routing.txt lists no keyless line");
    char *dir = test_tmpdir_fast("routing-rr");
    siglog *s = test_store_open(dir, NULL);
    for (size_t i = 0; i < rf.ncounts; i++) {
        uint32_t n = rf.counts[i];
        char name[32];
        snprintf(name, sizeof name, "p%u", n);
        siglog_stream *st = test_stream_create(s, name, n, SIGLOG_SYNC_NONE, 0);
        siglog_event *evs = calloc(n, sizeof *evs);
        uint32_t *parts = calloc(n, sizeof *parts);
        unsigned char *seen = calloc(n, 1);
        cr_assert(evs && parts && seen);
        for (uint32_t k = 0; k < n; k++)
            evs[k] = (siglog_event){.value = "v", .value_len = 1};
        int rc = siglog_append(st, SIGLOG_PARTITION_BY_KEY, evs, n, parts, NULL);
        cr_assert_eq(rc, 0, "append: %s: %s", siglog_strerror(rc), siglog_errdetail());
        for (uint32_t k = 0; k < n; k++) {
            cr_assert_lt(parts[k], n);
            cr_expect_not(seen[parts[k]], "%u partitions: partition %u got two of %u keyless events", n, parts[k], n);
            seen[parts[k]] = 1;
        }
        free(evs);
        free(parts);
        free(seen);
    }
    cr_assert_eq(siglog_close(s), 0, "close: %s", siglog_errdetail());
    test_rmtree_fast(dir);
    free(dir);
    unload(&rf);
}
