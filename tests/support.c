#include "support.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forget_intent.h"
#include "io_crash.h"
#include "maintenance.h"
#include "options_io.h"
#include "partition.h"
#include "store.h"
#include "stream.h"
#include "tree_fingerprint.h"

static const char *tmp_root(void)
{
    const char *r = getenv("SIGLOG_TEST_TMP");
    return r && *r ? r : "/tmp";
}

char *test_tmpdir(const char *tag)
{
    const char *root = tmp_root();
    mkdir(root, 0700);
    char *tmpl = NULL;
    cr_assert(asprintf(&tmpl, "%s/%s-XXXXXX", root, tag) > 0);
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp %s failed", tmpl);
    return tmpl;
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void test_rmtree(const char *path)
{
    if (path && strncmp(path, tmp_root(), strlen(tmp_root())) == 0)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t test_file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return (uint64_t)st.st_size;
}

void test_truncate(const char *path, uint64_t size)
{
    cr_assert_eq(truncate(path, (off_t)size), 0, "truncate %s", path);
}

void test_flip_byte(const char *path, uint64_t pos, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0, "open %s", path);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)pos), 1, "read byte %llu of %s", (unsigned long long)pos, path);
    b ^= mask;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
    close(fd);
}

char *test_path(const char *a, const char *b)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", a, b) > 0);
    return p;
}

unsigned test_store_file_mode(const char *path, unsigned store_mode)
{
    const char *base = strrchr(path, '/');
    return strcmp(base ? base + 1 : path, "store.secret") == 0 ? 0600u : store_mode;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void test_event_make(test_event *t, uint64_t seed, uint64_t i)
{
    uint64_t r = seed * 1000003u + i;
    uint64_t x = test_rand(&r);
    memset(&t->ev, 0, sizeof t->ev);
    if (i % 11 != 0) {
        snprintf(t->key, sizeof t->key, "user-%llu", (unsigned long long)(x % 1000));
        t->ev.key = t->key;
        t->ev.key_len = strlen(t->key);
    }
    static const char *const actions[] = {"click", "view", "purchase", "agent_step", "outcome"};
    int n = snprintf(t->value, sizeof t->value,
                     "{\"id\":%llu,\"action\":\"%s\",\"latency_ms\":%llu,\"model\":\"m-%llu\",\"pad\":\"",
                     (unsigned long long)i, actions[x % 5], (unsigned long long)(x >> 8) % 900,
                     (unsigned long long)(x >> 20) % 7);
    size_t pad = (x >> 32) % 340;
    for (size_t k = 0; k < pad; k++)
        t->value[n++] = (char)('a' + (x >> (k % 50)) % 26);
    n += snprintf(t->value + n, sizeof t->value - (size_t)n, "\"}");
    t->ev.value = t->value;
    t->ev.value_len = (size_t)n;
    t->ev.timestamp_us = 1700000000000000LL + (int64_t)i * 1000 + (int64_t)(x % 500);
    t->ev.schema_version = (uint32_t)(i % 3);
    if (i % 5 == 0) {
        t->hdr[0] = (siglog_header){"source", 6, "sdk-1.2", 7};
        t->hdr[1] = (siglog_header){"consent", 7, "analytics", 9};
        t->ev.headers = t->hdr;
        t->ev.header_count = 2;
    }
}

void test_assert_record_eq(const siglog_record *r, const siglog_event *e)
{
    cr_assert_eq(r->key_len, e->key_len, "offset %llu: key length %zu != %zu", (unsigned long long)r->offset,
                 r->key_len, e->key_len);
    if (e->key_len)
        cr_assert_eq(memcmp(r->key, e->key, e->key_len), 0, "offset %llu: key differs",
                     (unsigned long long)r->offset);
    cr_assert_eq(r->value_len, e->value_len, "offset %llu: value length %zu != %zu",
                 (unsigned long long)r->offset, r->value_len, e->value_len);
    if (e->value_len)
        cr_assert_eq(memcmp(r->value, e->value, e->value_len), 0, "offset %llu: value differs",
                     (unsigned long long)r->offset);
    if (e->timestamp_us)
        cr_assert_eq(r->timestamp_us, e->timestamp_us, "offset %llu: timestamp", (unsigned long long)r->offset);
    cr_assert_eq(r->schema_version, e->schema_version, "offset %llu: schema", (unsigned long long)r->offset);
    cr_assert_eq(r->flags, e->flags, "offset %llu: flags", (unsigned long long)r->offset);
    cr_assert_eq(r->header_count, e->header_count, "offset %llu: header count", (unsigned long long)r->offset);
    for (uint32_t h = 0; h < e->header_count; h++) {
        cr_assert_eq(r->headers[h].key_len, e->headers[h].key_len);
        cr_assert_eq(memcmp(r->headers[h].key, e->headers[h].key, e->headers[h].key_len), 0);
        cr_assert_eq(r->headers[h].value_len, e->headers[h].value_len);
        cr_assert_eq(memcmp(r->headers[h].value, e->headers[h].value, e->headers[h].value_len), 0);
    }
}

siglog *test_store_open(const char *dir, const struct siglog_io *io)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    sl_options_set_io(&o, io);
    /* Small enough that many test stores cost little disk, large enough for
     * the default 1 MiB record limit (a batch must fit in a quarter). */
    o.journal_bytes = 8u << 20;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "siglog_open(%s): %s: %s", dir, siglog_strerror(rc), siglog_errdetail());
    return s;
}

siglog *test_store_open_read_only(const char *dir)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "siglog_open(%s) read-only: %s: %s", dir, siglog_strerror(rc), siglog_errdetail());
    return s;
}

siglog *test_store_in_tmpdir(const char *tag, char **dir)
{
    *dir = test_tmpdir(tag);
    char *path = test_path(*dir, "store");
    siglog *s = test_store_open(path, NULL);
    free(path);
    return s;
}

void test_store_close_rmtree(siglog *s, char *dir)
{
    cr_assert_eq(siglog_close(s), 0);
    test_rmtree(dir);
    free(dir);
}

siglog *test_config_edit(const char *dir, const char *stream, siglog_stream_config *c)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, stream, &st), 0, "%s: %s", stream, siglog_errdetail());
    siglog_stream_config_get(st, c);
    return s;
}

void test_config_save(siglog *s, const char *stream, const siglog_stream_config *c)
{
    cr_assert_eq(siglog_stream_config_set(s, stream, c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
}

siglog_stream *test_stream_create(siglog *s, const char *name, uint32_t partitions, uint32_t sync,
                                  uint64_t segment_bytes)
{
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    c.sync_policy = sync;
    if (segment_bytes)
        c.segment_bytes_max = segment_bytes;
    int rc = siglog_stream_create(s, name, &c);
    cr_assert_eq(rc, 0, "stream_create %s: %s: %s", name, siglog_strerror(rc), siglog_errdetail());
    siglog_stream *st = NULL;
    cr_assert_eq(siglog_stream_get(s, name, &st), 0);
    return st;
}

uint64_t test_read_all(siglog_stream *st, uint32_t partition, void (*fn)(void *ctx, const siglog_record *r),
                       void *ctx)
{
    siglog_cursor *c = NULL;
    int rc = siglog_cursor_open(&c, st, partition, SIGLOG_SEEK_START, 0, 0);
    cr_assert_eq(rc, 0, "cursor_open: %s: %s", siglog_strerror(rc), siglog_errdetail());
    uint64_t n = 0;
    const siglog_record *r;
    /* A recorded loss (SIGLOG_EGAP) is stepped over: what the log holds. */
    while ((rc = siglog_cursor_next(c, &r)) == 1 || rc == SIGLOG_EGAP) {
        if (rc == SIGLOG_EGAP)
            continue;
        if (fn)
            fn(ctx, r);
        n++;
    }
    cr_assert_eq(rc, 0, "cursor_next: %s: %s", siglog_strerror(rc), siglog_errdetail());
    siglog_cursor_close(c);
    return n;
}

/* ---- scratch space for crash suites ---- */

static const char *fast_root(void)
{
    const char *r = getenv("SIGLOG_TEST_FAST_TMP");
    if (r && *r)
        return r;
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        return "/dev/shm/siglog-tests";
    return tmp_root();
}

char *test_tmpdir_fast(const char *tag)
{
    const char *root = fast_root();
    if (mkdir(root, 0700) != 0 && errno != EEXIST)
        return test_tmpdir(tag);
    char *tmpl = NULL;
    cr_assert(asprintf(&tmpl, "%s/%s-XXXXXX", root, tag) > 0);
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp %s failed", tmpl);
    return tmpl;
}

void test_rmtree_fast(const char *path)
{
    const char *root = fast_root();
    if (path && strncmp(path, root, strlen(root)) == 0)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        test_rmtree(path);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY);
    cr_assert(in >= 0, "open %s", from);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL, mode & 07777);
    cr_assert(out >= 0, "create %s", to);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        cr_assert_eq(write(out, buf, (size_t)n), n, "write %s", to);
    cr_assert_eq(n, 0, "read %s", from);
    close(in);
    close(out);
}

void test_copy_tree(const char *from, const char *to)
{
    struct stat st;
    cr_assert_eq(stat(from, &st), 0, "stat %s", from);
    cr_assert_eq(mkdir(to, st.st_mode & 07777), 0, "mkdir %s", to);
    DIR *d = opendir(from);
    cr_assert_not_null(d, "opendir %s", from);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *src = test_path(from, e->d_name), *dst = test_path(to, e->d_name);
        cr_assert_eq(lstat(src, &st), 0, "lstat %s", src);
        if (S_ISDIR(st.st_mode))
            test_copy_tree(src, dst);
        else if (S_ISREG(st.st_mode))
            copy_file(src, dst, st.st_mode);
        free(src);
        free(dst);
    }
    closedir(d);
}

char *test_tree_fingerprint(const char *dir)
{
    char *f = tree_fingerprint(dir);
    cr_assert_not_null(f, "fingerprint of %s: %s", dir, strerror(errno));
    return f;
}

char *test_store_fingerprint(const char *dir)
{
    char *fp = test_tree_fingerprint(dir);
    char *line = strstr(fp, "maintenance.lock ");
    if (line) {
        char *end = strchr(line, '\n');
        memmove(line, end ? end + 1 : line + strlen(line), strlen(end ? end + 1 : line) + 1);
    }
    return fp;
}

/* Close s (NULL allowed) after a session; the first error wins and its
 * detail is kept. */
static int session_end(siglog *s, int rc, char *detail, size_t detail_len)
{
    if (rc && detail)
        snprintf(detail, detail_len, "%s", siglog_errdetail());
    int c = siglog_close(s);
    if (!rc && c && detail)
        snprintf(detail, detail_len, "%s", siglog_errdetail());
    return rc ? rc : c;
}

int test_append_rolling(const char *dir, const siglog_options *o, uint32_t n, char *detail, size_t detail_len)
{
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, o);
    if (rc)
        return session_end(NULL, rc, detail, detail_len);
    siglog_stream *st = NULL;
    rc = siglog_stream_get(s, "events", &st);
    if (rc == SIGLOG_ENOENT) {
        siglog_stream_config c;
        siglog_stream_config_default(&c);
        c.sync_policy = SIGLOG_SYNC_ALWAYS;
        c.segment_bytes_max = 64u << 10;
        c.record_bytes_max = 16384; /* a batch fits a quarter of a 1 MiB journal */
        c.compression = SIGLOG_COMPRESSION_NONE; /* so the values roll segments */
        rc = siglog_stream_create(s, "events", &c);
        if (!rc)
            rc = siglog_stream_get(s, "events", &st);
    }
    char value[1024];
    memset(value, 'v', sizeof value);
    for (uint32_t i = 0; i < n && !rc; i++) {
        siglog_event ev = {.value = value, .value_len = sizeof value};
        rc = siglog_append(st, 0, &ev, 1, NULL, NULL);
    }
    return session_end(s, rc, detail, detail_len);
}

long test_count_events(const char *dir, const struct siglog_io *io, char *detail, size_t detail_len)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    sl_options_set_io(&o, io);
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    if (rc)
        return session_end(NULL, rc, detail, detail_len);
    siglog_stream *st = NULL;
    siglog_cursor *cur = NULL;
    rc = siglog_stream_get(s, "events", &st);
    if (!rc)
        rc = siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0);
    long count = 0;
    const siglog_record *r;
    int got = 0;
    while (!rc && (got = siglog_cursor_next(cur, &r)) == 1)
        count++;
    if (!rc && got < 0)
        rc = got;
    siglog_cursor_close(cur);
    rc = session_end(s, rc, detail, detail_len);
    return rc ? rc : count;
}

size_t test_segment_bases(const char *dir, uint64_t *bases, size_t max)
{
    struct dirent **names;
    int count = scandir(dir, &names, NULL, alphasort);
    cr_assert(count >= 0, "cannot list %s", dir);
    size_t n = 0;
    for (int i = 0; i < count; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 4 && strcmp(names[i]->d_name + len - 4, ".seg") == 0) {
            if (n < max)
                bases[n] = strtoull(names[i]->d_name, NULL, 10);
            n++;
        }
        free(names[i]);
    }
    free(names);
    return n;
}

void test_remove_segment(const char *dir, uint64_t base)
{
    static const char *const exts[] = { ".seg", ".oix", ".tix", ".sum" };
    for (int e = 0; e < 4; e++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%020llu%s", dir, (unsigned long long)base, exts[e]);
        cr_assert(unlink(path) == 0 || errno == ENOENT, "%s", path);
    }
}

size_t test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d, "cannot read %s", dir);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- schema usage oracle ---- */

#define USAGE_ORACLE_VERSIONS 64

typedef struct usage_oracle {
    siglog_schema_usage v[USAGE_ORACLE_VERSIONS];
    size_t n;
    size_t seen;
    const char *ctx;
} usage_oracle;

static void usage_oracle_add(void *ctx, const siglog_record *r)
{
    usage_oracle *o = ctx;
    size_t i = 0;
    while (i < o->n && o->v[i].version != r->schema_version)
        i++;
    if (i == o->n) {
        cr_assert_lt(o->n, USAGE_ORACLE_VERSIONS, "%s: too many versions for the oracle", o->ctx);
        o->v[o->n++] = (siglog_schema_usage){ .version = r->schema_version, .first_offset = r->offset,
                                              .min_timestamp_us = r->timestamp_us,
                                              .max_timestamp_us = r->timestamp_us };
    }
    siglog_schema_usage *u = &o->v[i];
    u->last_offset = r->offset;
    u->min_timestamp_us = r->timestamp_us < u->min_timestamp_us ? r->timestamp_us : u->min_timestamp_us;
    u->max_timestamp_us = r->timestamp_us > u->max_timestamp_us ? r->timestamp_us : u->max_timestamp_us;
    u->count++;
}

static int usage_oracle_check(void *ctx, const siglog_schema_usage *got)
{
    usage_oracle *o = ctx;
    size_t i = 0;
    while (i < o->n && o->v[i].version != got->version)
        i++;
    cr_assert_lt(i, o->n, "%s: usage names version %u, which the log does not hold", o->ctx, got->version);
    const siglog_schema_usage *want = &o->v[i];
    cr_assert(got->first_offset == want->first_offset && got->last_offset == want->last_offset &&
                  got->min_timestamp_us == want->min_timestamp_us &&
                  got->max_timestamp_us == want->max_timestamp_us && got->count == want->count,
              "%s: version %u: usage offsets %llu..%llu times %lld..%lld count %llu, the log: %llu..%llu "
              "%lld..%lld count %llu",
              o->ctx, got->version, (unsigned long long)got->first_offset, (unsigned long long)got->last_offset,
              (long long)got->min_timestamp_us, (long long)got->max_timestamp_us, (unsigned long long)got->count,
              (unsigned long long)want->first_offset, (unsigned long long)want->last_offset,
              (long long)want->min_timestamp_us, (long long)want->max_timestamp_us, (unsigned long long)want->count);
    o->seen++;
    return 0;
}

void test_check_schema_usage(siglog_stream *st, uint32_t partition, const char *ctx)
{
    usage_oracle o = { .n = 0, .seen = 0, .ctx = ctx };
    test_read_all(st, partition, usage_oracle_add, &o);
    int rc = siglog_schema_usage_foreach(st, partition, usage_oracle_check, &o);
    cr_assert_eq(rc, 0, "%s: schema usage of partition %u: %s", ctx, partition, siglog_errdetail());
    cr_assert_eq(o.seen, o.n, "%s: usage lists %zu versions, the log holds %zu", ctx, o.seen, o.n);
}

typedef struct paths_seen {
    char text[1024];
    size_t n;
} paths_seen;

static void collect_path(void *ctx, const char *path, uint64_t count)
{
    paths_seen *p = ctx;
    p->n += (size_t)snprintf(p->text + p->n, sizeof p->text - p->n, "%s%s=%llu", p->n ? " " : "", path,
                             (unsigned long long)count);
}

void test_check_violations(siglog_stream *st, uint32_t version, uint64_t total, const char *paths)
{
    uint64_t got = 99;
    paths_seen seen = { .n = 0 };
    cr_assert_eq(siglog_schema_violations(st, version, &got, collect_path, &seen), 0, "%s", siglog_errdetail());
    cr_assert_eq(got, total);
    cr_assert_str_eq(seen.text, paths);
}

void test_append_flushed(siglog *s, siglog_stream *st, uint64_t seed, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        test_event t;
        test_event_make(&t, seed, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
        cr_assert_eq(siglog_flush(s), 0);
    }
}

void test_append_keyed_runs(siglog_stream *st, uint32_t p, uint32_t from, uint32_t n)
{
    char value[400], key[8];
    for (uint32_t i = from; i < from + n; i++) {
        memset(value, 'a' + (int)(i % 26), sizeof value);
        snprintf(key, sizeof key, "k%u", i % 40);
        siglog_event e = { .key = key,
                           .key_len = i % 11 ? strlen(key) : 0,
                           .value = value,
                           .value_len = sizeof value,
                           .timestamp_us = 1000000 + (int64_t)((i * 7919u) % 5000u),
                           .schema_version = 1 + (i / 100) % 3 };
        cr_assert_eq(siglog_append(st, p, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
}

void test_seeded_config(siglog_stream_config *c, uint64_t segment_bytes)
{
    siglog_stream_config_default(c);
    c->compression = SIGLOG_COMPRESSION_NONE;
    c->segment_bytes_max = segment_bytes;
    c->batch_bytes_max = 16u << 10;
    c->record_bytes_max = 64u << 10;
}

void test_seeded_retention(siglog_stream_config *c)
{
    c->delete_after = 700000;
    c->warm_after = 100000;
}

void test_seeded_append(siglog_stream *st, uint64_t seed, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, seed, i);
        uint64_t off;
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, &off), 0, "%s", siglog_errdetail());
        cr_assert_eq(off, i);
    }
}

void test_seeded_store(const char *dir, const siglog_stream_config *c, uint64_t seed, uint64_t n)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 1u << 20;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_create(s, "m", c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "m", &st), 0);
    for (uint64_t i = 0; i < n; i++) {
        test_event t;
        test_event_make(&t, seed, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
}

void test_seeded_cold_store(const char *dir, const char *cold, uint64_t seed, uint64_t n)
{
    cr_assert_eq(mkdir(cold, 0755), 0, "%s", cold);
    siglog_stream_config c;
    test_seeded_config(&c, 64u * 1024);
    c.cold_after = 300000; /* events before TEST_T0 + 800 ms at TEST_RETAIN_NOW */
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    test_seeded_store(dir, &c, seed, n);
}

char *test_seeded_cold_root(const char *tag, uint64_t seed, uint64_t n, char **store, char **cold)
{
    char *root = test_tmpdir(tag);
    *store = test_path(root, "store");
    *cold = test_path(root, "cold");
    test_seeded_cold_store(*store, *cold, seed, n);
    return root;
}

siglog *test_seeded_open_read_only(const char *store, siglog_stream **st, const char *ctx)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, store, &o), 0, "%s: %s", ctx, siglog_errdetail());
    cr_assert_eq(siglog_stream_get(s, "m", st), 0, "%s: %s", ctx, siglog_errdetail());
    return s;
}

uint64_t test_check_seeded_records(siglog_stream *st, uint64_t seed, uint64_t from, const char *ctx)
{
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s: %s", ctx, siglog_errdetail());
    const siglog_record *r;
    uint64_t want = from;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1) {
        cr_assert_eq(r->offset, want, "%s: offset %" PRIu64 " where %" PRIu64 " belongs", ctx, r->offset, want);
        test_event t;
        test_event_make(&t, seed, want);
        test_assert_record_eq(r, &t.ev);
        want++;
    }
    cr_assert_eq(rc, 0, "%s: cursor at %" PRIu64 ": %s: %s", ctx, want, siglog_strerror(rc), siglog_errdetail());
    siglog_cursor_close(cur);
    return want;
}

uint64_t test_check_seeded_log(const char *store, uint64_t seed, uint64_t *end, const char *ctx)
{
    siglog_stream *st;
    siglog *s = test_seeded_open_read_only(store, &st, ctx);
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0, "%s: %s", ctx, siglog_errdetail());
    *end = test_check_seeded_records(st, seed, info.log_start_offset, ctx);
    siglog_close(s);
    return info.log_start_offset;
}

/* ---- crash trials ---- */

const int test_crash_modes[TEST_CRASH_MODES] = { IO_CRASH_KEEP_ALL, IO_CRASH_DROP_ALL, IO_CRASH_RANDOM,
                                                 IO_CRASH_GARBLE };
const char *const test_crash_mode_names[TEST_CRASH_MODES] = { "KEEP_ALL", "DROP_ALL", "RANDOM", "GARBLE" };

void test_crash_arm(test_crash *t)
{
    t->start = io_crash_ops(t->crash);
    if (t->die)
        io_crash_die_after(t->crash, t->start + t->die);
}

int test_crash_dead(const test_crash *t)
{
    return io_crash_dead(t->crash);
}

uint64_t test_crash_trial(const char *tmpl, const char *store, uint64_t die, uint64_t seed, int mode,
                          test_crash_change change, void *arg)
{
    test_copy_tree(tmpl, store);
    test_crash t = { .crash = io_crash_new(seed), .die = die };
    cr_assert(t.crash, "out of memory");
    t.io = io_crash_io(t.crash);
    change(arg, store, &t);
    uint64_t calls = io_crash_ops(t.crash) - t.start;
    cr_assert_eq(io_crash_power_cut(t.crash, mode), 0, "power cut of %s", store);
    io_crash_free(t.crash);
    return calls;
}

siglog_maintenance *test_maintenance_on(const char *store, const siglog_io *io)
{
    siglog_options o;
    siglog_options_default(&o);
    sl_options_set_io(&o, io);
    siglog_maintenance *m = NULL;
    cr_assert_eq(siglog_maintenance_open(&m, store, &o), 0, "maintenance open of %s: %s", store, siglog_errdetail());
    return m;
}

siglog_compact_result test_compact_all(const char *store, const char *stream, uint32_t mode, const char *ctx)
{
    siglog_maintenance *m = test_maintenance_on(store, NULL);
    siglog_compact_options o = {.mode = mode, .partition = SIGLOG_COMPACT_ALL_PARTITIONS};
    siglog_compact_result r;
    cr_assert_eq(siglog_compact(m, stream, &o, &r), 0, "%s: %s", ctx, siglog_errdetail());
    siglog_maintenance_close(m);
    return r;
}

void test_crash_retain(void *arg, const char *store, test_crash *t)
{
    (void)arg;
    siglog_maintenance *m = test_maintenance_on(store, t->io);
    test_crash_arm(t);
    int rc = siglog_retain(m, TEST_RETAIN_NOW, NULL);
    if (!t->die)
        cr_assert_eq(rc, 0, "reference run: %s", siglog_errdetail());
    siglog_maintenance_close(m);
}

void test_crash_recover(const char *store, int by_writer, const char *stream, const char *ctx)
{
    if (by_writer) {
        siglog_options o;
        siglog_options_default(&o);
        o.journal_bytes = 1u << 20;
        siglog *s = NULL;
        cr_assert_eq(siglog_open(&s, store, &o), 0, "%s: writer open: %s", ctx, siglog_errdetail());
        cr_assert_eq(siglog_close(s), 0, "%s: %s", ctx, siglog_errdetail());
        return;
    }
    maintenance *m = NULL;
    cr_assert_eq(sl_maintenance_open(&m, store, NULL), 0, "%s: %s", ctx, siglog_errdetail());
    catalog *c;
    cr_assert_eq(sl_maintenance_catalog(m, stream, 0, &c), 0, "%s: maintenance open: %s", ctx, siglog_errdetail());
    sl_maintenance_close(m);
}

/* The modes [first, end) a sweep tries at call k, every step-th. */
static void sweep_modes(int modes, uint64_t k, int *first, int *end, int *step)
{
    *step = 1;
    if (modes == TEST_SWEEP_ONE_MODE && !getenv("SIGLOG_CRASH_ALL_MODES")) {
        *first = (int)(k % TEST_CRASH_MODES);
        *end = *first + 1;
    } else if (modes == TEST_SWEEP_TWO_MODES) {
        *first = (int)(k % 2);
        *end = TEST_CRASH_MODES;
        *step = 2;
    } else {
        *first = 0;
        *end = TEST_CRASH_MODES;
    }
}

void test_crash_sweep_run(const test_crash_sweep *s)
{
    const char *stride_env = getenv("SIGLOG_CRASH_STRIDE");
    uint64_t stride = stride_env && atoi(stride_env) > 0 ? (uint64_t)atoi(stride_env) : 1;
    for (uint64_t k = 1; k <= s->calls; k += stride) {
        int first, end, step;
        sweep_modes(s->modes, k, &first, &end, &step);
        for (int mi = first; mi < end; mi += step) {
            int by_writer = (k + (uint64_t)mi) % 2 == 0;
            snprintf(s->ctx, s->ctx_size, "%s%scrash at call %" PRIu64 " of %" PRIu64 ", %s%s%s",
                     s->label ? s->label : "", s->label ? ": " : "", k, s->calls, test_crash_mode_names[mi],
                     s->recover_stream ? ", recovered by " : "",
                     !s->recover_stream ? "" : by_writer ? "a writer" : "maintenance");
            char *store = test_path(s->root, "trial");
            test_crash_trial(s->tmpl, store, k, k * 4 + (uint64_t)mi, test_crash_modes[mi], s->change, s->change_arg);
            if (s->recover_stream)
                test_crash_recover(store, by_writer, s->recover_stream, s->ctx);
            test_crash_point pt = {.call = k, .calls = s->calls, .mode = mi, .by_writer = by_writer,
                                   .store = store, .ctx = s->ctx};
            s->check(s->check_arg, &pt);
            test_rmtree_fast(store);
            free(store);
        }
    }
}

void test_documented_hash_key(const char *store, const char *domain, uint8_t key[32])
{
    char *path = test_path(store, "store.secret");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    uint8_t file[56];
    cr_assert_eq(fread(file, 1, sizeof file, f), sizeof file, "%s is short", path);
    fclose(f);
    free(path);
    crypto_generichash(key, 32, (const uint8_t *)domain, strlen(domain), file + 16, 32);
}

void test_write_interrupted_intent(const char *store, const char *stream, const char *key)
{
    uint8_t hk[32], hash[32];
    test_documented_hash_key(store, "siglog-forget-v1", hk);
    crypto_generichash(hash, sizeof hash, (const uint8_t *)key, strlen(key), hk, sizeof hk);
    siglog *s = test_store_open_read_only(store);
    forget_intent it = {.store_id = s->store_id, .started_us = 1700000000000000, .n = 1, .hashes = hash};
    cr_assert_eq(siglog_close(s), 0);
    char *streams = test_path(store, "streams"), *sdir = test_path(streams, stream);
    cr_assert_eq(sl_forget_intent_write(sl_io_posix(), sdir, &it, 0644), 0, "%s", siglog_errdetail());
    free(sdir);
    free(streams);
}

void test_documented_keyed_hash(const char *store, const char *domain, const void *bytes, size_t len, char hex[65])
{
    uint8_t key[32], h[32];
    test_documented_hash_key(store, domain, key);
    crypto_generichash(h, sizeof h, bytes, len, key, sizeof key);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

void test_files_load_below(test_files *f, const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d, "%s", dir);
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = test_path(dir, de->d_name);
        struct stat sb;
        /* Beside a live writer, a temporary file (a catalog checkpoint's)
         * may go between the listing and the look: gone, it holds nothing. */
        FILE *in = NULL;
        if (lstat(p, &sb) != 0 || (S_ISREG(sb.st_mode) && !(in = fopen(p, "rb")))) {
            cr_assert_eq(errno, ENOENT, "%s: %s", p, strerror(errno));
            free(p);
            continue;
        }
        if (S_ISDIR(sb.st_mode))
            test_files_load_below(f, p);
        if (!S_ISREG(sb.st_mode)) {
            free(p);
            continue;
        }
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 64;
            f->path = realloc(f->path, f->cap * sizeof *f->path);
            f->bytes = realloc(f->bytes, f->cap * sizeof *f->bytes);
            f->len = realloc(f->len, f->cap * sizeof *f->len);
            cr_assert(f->path && f->bytes && f->len);
        }
        f->bytes[f->n] = malloc((size_t)sb.st_size + 1);
        cr_assert(f->bytes[f->n]);
        cr_assert_eq(fread(f->bytes[f->n], 1, (size_t)sb.st_size, in), (size_t)sb.st_size, "%s", p);
        fclose(in);
        f->len[f->n] = (size_t)sb.st_size;
        f->path[f->n++] = p;
    }
    closedir(d);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

void test_files_assert_same(const test_files *was, const char *const *dirs, size_t n, const char *extra,
                            const char *ctx)
{
    test_files now = {0};
    for (size_t d = 0; d < n; d++)
        test_files_load_below(&now, dirs[d]);
    size_t extras = 0;
    for (size_t i = 0; i < now.n; i++) {
        size_t k = 0;
        while (k < was->n && strcmp(was->path[k], now.path[i]) != 0)
            k++;
        if (k == was->n) {
            cr_assert(extra && ends_with(now.path[i], extra), "%s: %s is new", ctx, now.path[i]);
            extras++;
            continue;
        }
        cr_assert(was->len[k] == now.len[i] && memcmp(was->bytes[k], now.bytes[i], now.len[i]) == 0,
                  "%s: %s changed", ctx, now.path[i]);
    }
    cr_assert_eq(now.n - extras, was->n, "%s: %zu files were, %zu of them are", ctx, was->n, now.n - extras);
    cr_assert_eq(extras, extra ? 1u : 0u, "%s: no %s", ctx, extra ? extra : "");
    test_files_free(&now);
}

int test_files_holds(const test_files *f, size_t i, const char *needle)
{
    return memmem(f->bytes[i], f->len[i], needle, strlen(needle)) != NULL;
}

void test_files_free(test_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->bytes[i]);
        free(f->path[i]);
    }
    free(f->path);
    free(f->bytes);
    free(f->len);
    memset(f, 0, sizeof *f);
}

void test_token_value(uint64_t seed, uint64_t i, char value[80])
{
    uint64_t rng = seed + i, a = test_rand(&rng), b = test_rand(&rng);
    snprintf(value, 80, "{\"token\":\"%016llx%016llx\"}", (unsigned long long)a, (unsigned long long)b);
}

void test_token_config(siglog_stream_config *c, uint64_t segment_bytes)
{
    siglog_stream_config_default(c);
    c->partitions = 1;
    c->segment_bytes_max = segment_bytes;
    c->batch_bytes_max = 2048;
    c->sync_policy = SIGLOG_SYNC_NONE;
    c->linger_us = 60u * 1000 * 1000;
    c->compression = SIGLOG_COMPRESSION_NONE;
}

siglog *test_token_store(const char *dir, const siglog_stream_config *c, siglog_stream **st)
{
    siglog *s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_create(s, "t", c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(s, "t", st), 0);
    return s;
}

void test_token_append(test_token_log *l, siglog_stream *st, uint8_t k)
{
    cr_assert_lt(l->appended, TEST_TOKEN_EVENTS_MAX);
    char value[80];
    test_token_value(l->seed, l->appended, value);
    const char *key = l->keys[k];
    siglog_event e = {.key = key, .key_len = strlen(key), .value = value, .value_len = strlen(value)};
    cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    l->key_at[l->appended++] = k;
}

void test_token_append_mixed(test_token_log *l, siglog_stream *st, uint64_t n, uint8_t keys)
{
    for (uint64_t i = 0; i < n; i++)
        test_token_append(l, st, (uint8_t)(l->appended % keys));
}

static int count_entry(void *ctx, const siglog_segment_info *seg)
{
    (void)seg;
    ++*(uint64_t *)ctx;
    return 0;
}

static uint64_t entries_of(siglog_stream *st)
{
    uint64_t n = 0;
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_entry, &n), 0, "%s", siglog_errdetail());
    return n;
}

void test_token_append_until_rolled(test_token_log *l, siglog_stream *st, uint8_t k, uint64_t more)
{
    uint64_t want = entries_of(st) + more;
    while (entries_of(st) < want)
        test_token_append(l, st, k);
}

void test_token_check_event(const test_token_log *l, const siglog_record *r)
{
    cr_assert_lt(r->offset, l->appended);
    char value[80];
    test_token_value(l->seed, r->offset, value);
    const char *key = l->keys[l->key_at[r->offset]];
    cr_assert(r->key_len == strlen(key) && memcmp(r->key, key, r->key_len) == 0, "offset %lu",
              (unsigned long)r->offset);
    cr_assert(r->value_len == strlen(value) && memcmp(r->value, value, r->value_len) == 0, "offset %lu",
              (unsigned long)r->offset);
}

void test_token_check_record(void *walk, const siglog_record *r)
{
    test_token_walk *w = walk;
    while (w->next < w->log->appended && w->gone && w->gone(w->next))
        w->next++;
    cr_assert_eq(r->offset, w->next, "offset %lu read where %lu was next", (unsigned long)r->offset,
                 (unsigned long)w->next);
    test_token_check_event(w->log, r);
    w->next++;
    w->read++;
}

static void fail_on_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    cr_assert_fail("%s: verify: %s at %lu: %s", (const char *)ctx, file, (unsigned long)pos, what);
}

void test_verify_clean(const char *dir, const char *ctx)
{
    siglog_verify_callbacks cb = {.problem = fail_on_problem, .ctx = (void *)ctx};
    cr_assert_eq(siglog_verify(dir, 0, &cb, NULL), 0, "%s: %s", ctx, siglog_errdetail());
}

void test_retain_all(const char *dir)
{
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_retain(m, INT64_MAX / 2, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

void test_roll_idle(const char *dir, const char *stream)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, stream, &st), 0, "%s", siglog_errdetail());
    for (uint32_t p = 0; p < st->cfg.partitions; p++)
        cr_assert_eq(sl_partition_roll_idle(st->parts[p]), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
}

void test_set_cold_after(const char *dir, uint64_t cold_after)
{
    siglog_stream_config c;
    siglog *s = test_config_edit(dir, "t", &c);
    c.cold_after = cold_after;
    test_config_save(s, "t", &c);
}

void test_token_session(const char *dir, test_token_log *l, uint64_t n, uint8_t k, uint8_t keys)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    for (uint64_t i = 0; i < n; i++)
        test_token_append(l, st, keys ? (uint8_t)(l->appended % keys) : k);
    cr_assert_eq(siglog_close(s), 0);
}

void test_token_key_names(const char **names, char (*text)[16], int n, const char *last)
{
    for (int k = 0; k < n; k++) {
        snprintf(text[k], 16, "key-%03d", k);
        names[k] = text[k];
    }
    names[n] = last;
}

void test_cold_edge_store(const char *dir, const char *cold, test_token_log *l, uint8_t keys, uint8_t edge,
                          uint64_t after)
{
    siglog_stream_config c;
    test_token_config(&c, 64 * 1024);
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    siglog_stream *st;
    siglog *s = test_token_store(dir, &c, &st);
    cr_assert_eq(siglog_close(s), 0);
    test_token_session(dir, l, 2500, 0, keys);
    test_roll_idle(dir, "t");
    test_set_cold_after(dir, 1);
    test_retain_all(dir);
    test_set_cold_after(dir, 0);
    test_token_session(dir, l, 1500, edge, 0);
    test_roll_idle(dir, "t");
    test_token_session(dir, l, after, 0, 0);
}

int test_writer_stopped(const char *dir)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* A failed assertion must not leave it stopped for ever, holding
         * the test's output open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        siglog *s;
        if (siglog_open(&s, dir, NULL) != 0)
            _exit(2);
        raise(SIGSTOP);
        _exit(siglog_close(s) == 0 ? 0 : 3);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
    cr_assert(WIFSTOPPED(status), "the writer did not stop (status %d)", status);
    return (int)pid;
}

void test_writer_stopped_end(int pid)
{
    cr_assert_eq(kill((pid_t)pid, SIGCONT), 0);
    int status;
    cr_assert_eq(waitpid((pid_t)pid, &status, 0), (pid_t)pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the stopped writer failed (status %d)", status);
}
