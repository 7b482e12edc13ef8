/*
 * open_store: damage a small real store (one stream, two partitions,
 * several segments each, a journal still holding the last commits, as a
 * writer leaves it when it is killed, or when it loses power: then only
 * the journal holds those commits) with a few byte flips and truncations
 * chosen by the input, then check it with siglog_verify, read it all with
 * a read-only handle, recover it with a writer handle and read it all
 * again. Whatever the damage, a cursor may stop with an error but must
 * never return a record that differs from the event appended at that
 * offset (every change is under a checksum, and index entries are checked
 * against the batches they name); every error must be a SIGLOG_E* code
 * with a detail; verify and the read-only handle must leave every file
 * of the store as it was (tree_fingerprint: contents, size, mtime, and
 * nothing created or removed).
 *
 * Input: up to MUTATIONS_MAX groups of 6 bytes: file (index into the
 * store's files, sorted by path), position (u32, modulo the file size),
 * xor byte; xor 0 truncates the file at that position instead. An odd
 * input length picks the store whose writer lost power.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "fuzz_support.h"
#include "io_crash.h"
#include "options_io.h"
#include "siglog.h"
#include "tree_fingerprint.h"

#define TARGET "open_store"
#define PARTITIONS 2
#define EVENTS 400
#define MUTATION_BYTES 6
#define MUTATIONS_MAX 4
#define FILES_MAX 64
#define JOURNAL_BYTES (1u << 20)

/* The template store, in memory: rewritten for every input. */
typedef struct tfile {
    char *rel;       /* path below the store directory */
    int is_dir;
    uint8_t *data;
    size_t len;
} tfile;

typedef struct original {
    siglog_event ev;
    siglog_header hdr;
    char key[16];
    uint8_t value[512];
} original;

/* The two template stores: [0] its writer killed, [1] lost power. */
typedef struct template {
    tfile files[FILES_MAX];
    size_t count;
} template;

static template templates[2];
static original events[EVENTS];
static const original *by_offset[PARTITIONS][EVENTS];
static uint64_t partition_len[PARTITIONS];
static char *store_dir;

static void check_error(int rc, const char *what)
{
    if (rc >= 0 || rc > SIGLOG_EINVAL || rc < SIGLOG_EPERM || siglog_errdetail()[0] == '\0')
        fuzz_fail(TARGET, "%s failed with %d (%s) and detail \"%s\"", what, rc, siglog_errname(rc),
                  siglog_errdetail());
}

static void must(int rc, const char *what)
{
    if (rc != 0)
        fuzz_fail(TARGET, "building the template: %s: %s", what, siglog_errdetail());
}

static void make_events(void)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < EVENTS; i++) {
        original *o = &events[i];
        siglog_event *e = &o->ev;
        memset(o, 0, sizeof *o);
        if (i % 5) {
            snprintf(o->key, sizeof o->key, "user-%d", i % 7);
            e->key = o->key;
            e->key_len = strlen(o->key);
        }
        size_t len = 100 + (size_t)(i * 37 % 400);
        for (size_t k = 0; k < len; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            o->value[k] = (uint8_t)(state >> 56);
        }
        e->value = o->value;
        e->value_len = len;
        e->timestamp_us = 1700000000000000 + (int64_t)i * 1000 - (i % 3) * 700;
        e->schema_version = (uint32_t)(i % 3);
        e->flags = i % 13 == 0 ? SIGLOG_EVENT_TOMBSTONE : 0;
        if (i % 4 == 0) {
            o->hdr = (siglog_header){"source", 6, "fuzz", 4};
            e->headers = &o->hdr;
            e->header_count = 1;
        }
    }
}

static int path_order(const void *a, const void *b)
{
    return strcmp(((const tfile *)a)->rel, ((const tfile *)b)->rel);
}

static void capture(template *t, const char *root, const char *rel)
{
    char *dir = rel[0] ? fuzz_path(root, rel) : strdup(root);
    DIR *d = opendir(dir);
    if (!d)
        abort();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (t->count == FILES_MAX)
            fuzz_fail(TARGET, "template store has more than %d files", FILES_MAX);
        tfile *f = &t->files[t->count++];
        f->rel = rel[0] ? fuzz_path(rel, e->d_name) : strdup(e->d_name);
        char *full = fuzz_path(root, f->rel);
        struct stat st;
        if (stat(full, &st) != 0)
            abort();
        f->is_dir = S_ISDIR(st.st_mode);
        if (f->is_dir)
            capture(t, root, f->rel);
        else if (!(f->data = fuzz_read_file(full, &f->len)))
            abort();
        free(full);
    }
    closedir(d);
    free(dir);
}

/* Build a template once: append every event, then take the files while
 * the writer still holds the store after a sync (its journal not yet
 * emptied), or, with power_cut, after it lost power (io_crash: the
 * segments lost every write since the last checkpoint). */
static void build_template(int power_cut)
{
    template *t = &templates[power_cut];
    char *dir = fuzz_path(fuzz_scratch(), power_cut ? "template-power-cut" : "template");
    io_crash *crash = power_cut ? io_crash_new(1) : NULL;
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = JOURNAL_BYTES;
    sl_options_set_io(&o, crash ? io_crash_io(crash) : NULL);
    siglog *s = NULL;
    must(siglog_open(&s, dir, &o), "open");
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = PARTITIONS;
    c.compression = SIGLOG_COMPRESSION_NONE;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    c.segment_bytes_max = 64 * 1024;
    c.batch_bytes_max = 2048;
    c.record_bytes_max = 64 * 1024; /* within a quarter of the small journal */
    c.index_interval_bytes = 64;
    c.segment_age_max_us = 0;
    must(siglog_stream_create(s, "events", &c), "stream create");
    siglog_stream *st = NULL;
    must(siglog_stream_get(s, "events", &st), "stream get");
    for (int i = 0; i < EVENTS; i += 8) {
        siglog_event evs[8];
        uint32_t parts[8];
        uint64_t offs[8];
        for (int k = 0; k < 8; k++)
            evs[k] = events[i + k].ev;
        must(siglog_append(st, SIGLOG_PARTITION_BY_KEY, evs, 8, parts, offs), "append");
        for (int k = 0; k < 8; k++) {
            if (parts[k] >= PARTITIONS || offs[k] >= EVENTS ||
                (by_offset[parts[k]][offs[k]] && by_offset[parts[k]][offs[k]] != &events[i + k]))
                fuzz_fail(TARGET, "building the template: odd partition %u or offset %llu", parts[k],
                          (unsigned long long)offs[k]);
            by_offset[parts[k]][offs[k]] = &events[i + k];
            if (offs[k] + 1 > partition_len[parts[k]])
                partition_len[parts[k]] = offs[k] + 1;
        }
    }
    if (crash) {
        io_crash_die_after(crash, io_crash_ops(crash) + 1);
        siglog_close(s); /* fails: the process is "dead" */
        if (io_crash_power_cut(crash, IO_CRASH_DROP_ALL) != 0)
            fuzz_fail(TARGET, "building the template: the power cut failed");
        io_crash_free(crash);
        capture(t, dir, "");
    } else {
        must(siglog_sync(s), "sync");
        capture(t, dir, "");
        must(siglog_close(s), "close");
    }
    qsort(t->files, t->count, sizeof t->files[0], path_order);
    free(dir);
}

static void write_store(const template *t)
{
    fuzz_empty_dir(store_dir);
    fuzz_mkdirs(store_dir);
    for (size_t i = 0; i < t->count; i++) {
        char *p = fuzz_path(store_dir, t->files[i].rel);
        if (t->files[i].is_dir)
            fuzz_mkdirs(p);
        else
            fuzz_write_file(p, t->files[i].data, t->files[i].len);
        free(p);
    }
}

static void mutate(const template *t, const uint8_t *m)
{
    /* Only regular files: the pick lands on one of them. */
    size_t regular = 0;
    for (size_t i = 0; i < t->count; i++)
        regular += !t->files[i].is_dir;
    size_t pick = m[0] % regular, i = 0;
    for (;; i++)
        if (!t->files[i].is_dir && pick-- == 0)
            break;
    char *p = fuzz_path(store_dir, t->files[i].rel);
    size_t len = 0;
    uint8_t *data = fuzz_read_file(p, &len);
    if (data && len > 0) {
        size_t pos = get_le32(m + 1) % len;
        if (m[5])
            data[pos] ^= m[5];
        else
            len = pos;
        fuzz_write_file(p, data, len);
    }
    free(data);
    free(p);
}

static int same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void check_record(uint32_t part, const siglog_record *r)
{
    if (r->partition != part || r->offset >= partition_len[part])
        fuzz_fail(TARGET, "partition %u returned a record at offset %llu (partition %u), beyond the %llu appended",
                  part, (unsigned long long)r->offset, r->partition, (unsigned long long)partition_len[part]);
    const siglog_event *e = &by_offset[part][r->offset]->ev;
    int ok = r->timestamp_us == e->timestamp_us && r->schema_version == e->schema_version &&
             r->flags == e->flags && r->header_count == e->header_count &&
             same_bytes(r->key, r->key_len, e->key, e->key_len) && (r->key == NULL) == (e->key_len == 0) &&
             same_bytes(r->value, r->value_len, e->value, e->value_len);
    for (uint32_t h = 0; ok && h < r->header_count; h++)
        ok = same_bytes(r->headers[h].key, r->headers[h].key_len, e->headers[h].key, e->headers[h].key_len) &&
             same_bytes(r->headers[h].value, r->headers[h].value_len, e->headers[h].value,
                        e->headers[h].value_len);
    if (!ok)
        fuzz_fail(TARGET, "partition %u offset %llu: the record read differs from the event appended", part,
                  (unsigned long long)r->offset);
}

static void read_all(siglog *s, const char *who)
{
    siglog_stream *st = NULL;
    int rc = siglog_stream_get(s, "events", &st);
    if (rc) {
        check_error(rc, who);
        return;
    }
    for (uint32_t p = 0; p < PARTITIONS; p++) {
        siglog_cursor *c = NULL;
        if ((rc = siglog_cursor_open(&c, st, p, SIGLOG_SEEK_START, 0, 0)) != 0) {
            check_error(rc, who);
            continue;
        }
        const siglog_record *r;
        uint64_t last = 0;
        int first = 1;
        while ((rc = siglog_cursor_next(c, &r)) == 1) {
            check_record(p, r);
            if (!first && r->offset <= last)
                fuzz_fail(TARGET, "partition %u: offset %llu after %llu", p, (unsigned long long)r->offset,
                          (unsigned long long)last);
            last = r->offset;
            first = 0;
        }
        if (rc < 0)
            check_error(rc, who);
        siglog_cursor_close(c);
    }
}

static void open_and_read(int read_only)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = read_only;
    o.journal_bytes = JOURNAL_BYTES;
    siglog *s = NULL;
    int rc = siglog_open(&s, store_dir, &o);
    if (rc) {
        check_error(rc, read_only ? "read-only open" : "writer open");
        return;
    }
    read_all(s, read_only ? "read-only read" : "read after recovery");
    rc = siglog_close(s);
    if (rc)
        check_error(rc, "close");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fingerprint(void)
{
    char *f = tree_fingerprint(store_dir);
    if (!f)
        fuzz_fail(TARGET, "cannot read the store's files back");
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store_dir) {
        make_events();
        build_template(0);
        build_template(1);
        store_dir = fuzz_path(fuzz_scratch(), "store");
    }
    const template *t = &templates[size % 2];
    write_store(t);
    for (size_t i = 0; i < MUTATIONS_MAX && (i + 1) * MUTATION_BYTES <= size; i++)
        mutate(t, data + i * MUTATION_BYTES);

    /* Reading writes nothing: not verify, not a read-only handle. */
    char *before = fingerprint();
    siglog_verify_stats stats;
    int rc = siglog_verify(store_dir, 0, NULL, &stats);
    if (rc)
        check_error(rc, "verify");
    open_and_read(1);
    char *after = fingerprint();
    if (strcmp(before, after) != 0)
        fuzz_fail(TARGET, "verify or a read-only handle changed the store:\nbefore:\n%s\nafter:\n%s", before, after);
    free(before);
    free(after);
    open_and_read(0);
    return 0;
}
