/*
 * forget_cold — siglog_forget over the cold tier (forget_cold.h): a cold
 * entry's archive in cold_dir is replaced by one without the keys' events
 * under the entry's next generation's name, the catalog commits it, the
 * old archive goes.
 *
 * The store's sealed segments all go cold: the first holds one key only
 * (the forget empties it: the log start moves past it and its archive
 * goes), one in the middle holds another key only (emptied: its range
 * joins the cold entry before it), the rest mix forty keys, one of which
 * is forgotten too. Proven: every other event reads back at its offset,
 * byte for byte, from the cold tier still; cold_dir holds exactly the
 * archives the catalog names; verify finds nothing wrong; and no file of
 * the store or of cold_dir holds a forgotten key or any forgotten value's
 * token, where before many did. A forget, and a cursor looking for a key,
 * read whole only the archives whose key filter may hold it; verify
 * reports a filter damaged or wrong.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "io.h"
#include "options_io.h"
#include "support.h"

#define KEYS 40
#define SEGMENT_BYTES (64 * 1024)

static char *dir, *cold;

static const char *key_names[KEYS + 2];
static char key_text[KEYS][16];
static test_token_log events = {.keys = key_names, .seed = 7000};

#define SOLO KEYS
#define MID (KEYS + 1)

static int is_forgotten(uint8_t k)
{
    return k == SOLO || k == MID || k == 3;
}

static int forgotten_at(uint64_t offset)
{
    return is_forgotten(events.key_at[offset]);
}

static void setup(void)
{
    for (int k = 0; k < KEYS; k++) {
        snprintf(key_text[k], sizeof key_text[k], "key-%03d", k);
        key_names[k] = key_text[k];
    }
    key_names[SOLO] = "solo";
    key_names[MID] = "mid";
    events.appended = 0;
    dir = test_tmpdir("forget-cold");
    cold = test_tmpdir("forget-cold-dir");
    siglog_stream_config c;
    test_token_config(&c, SEGMENT_BYTES);
    siglog_stream *st;
    siglog *s = test_token_store(dir, &c, &st);
    test_token_append_until_rolled(&events, st, SOLO, 1); /* the first segment: "solo" only */
    test_token_append_mixed(&events, st, 2500, KEYS);
    test_token_append_until_rolled(&events, st, MID, 2); /* one segment of "mid" only */
    test_token_append_mixed(&events, st, 2500, KEYS);
    test_token_append_until_rolled(&events, st, 0, 1); /* what the mixed events filled is sealed */
    cr_assert_eq(siglog_close(s), 0);

    /* Everything sealed goes cold. */
    s = test_config_edit(dir, "t", &c);
    c.cold_after = 1;
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    test_config_save(s, "t", &c);
    test_retain_all(dir);
}

static void teardown(void)
{
    test_rmtree(dir);
    test_rmtree(cold);
    free(dir);
    free(cold);
}

TestSuite(forget_cold, .init = setup, .fini = teardown, .timeout = 120);

typedef struct tiers {
    uint64_t cold, other, first_base;
} tiers;

static int count_tier(void *ctx, const siglog_segment_info *seg)
{
    tiers *t = ctx;
    if (t->cold + t->other == 0)
        t->first_base = seg->base_offset;
    t->cold += seg->tier == 2;
    t->other += seg->tier != 2;
    return 0;
}

static tiers tiers_of(void)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    tiers t = {0};
    cr_assert_eq(siglog_segments_foreach(st, 0, NULL, count_tier, &t), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    return t;
}

/* Every file of the store and cold_dir. */
static test_files every_file(void)
{
    test_files f = {0};
    test_files_load_below(&f, dir);
    test_files_load_below(&f, cold);
    return f;
}

static int found(const test_files *c, const char *needle)
{
    for (size_t i = 0; i < c->n; i++)
        if (test_files_holds(c, i, needle))
            return 1;
    return 0;
}

/* The forgotten values' tokens found in the store or cold_dir. */
static uint64_t forgotten_tokens_found(const test_files *c)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < events.appended; i++) {
        if (!forgotten_at(i))
            continue;
        char value[80];
        test_token_value(events.seed, i, value);
        n += found(c, strstr(value, ":\"") + 2);
    }
    return n;
}

Test(forget_cold, rewrites_the_archives_and_leaves_no_byte_of_the_keys)
{
    tiers before = tiers_of();
    cr_assert_gt(before.cold, 4, "retention moved %lu segments cold", (unsigned long)before.cold);
    cr_assert_eq(test_count_entries(cold), before.cold);
    test_files c = every_file();
    uint64_t tokens = forgotten_tokens_found(&c);
    cr_assert_gt(tokens, 100, "only %lu of the tokens are literal before", (unsigned long)tokens);
    cr_assert(found(&c, "solo"));
    test_files_free(&c);

    uint64_t expected = 0;
    for (uint64_t i = 0; i < events.appended; i++)
        expected += forgotten_at(i);
    siglog_key keys[] = {{"solo", 4}, {"mid", 3}, {"key-003", 7}};
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_forget_result res;
    cr_assert_eq(siglog_forget(m, "t", keys, 3, NULL, &res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    cr_assert_eq(res.events_removed, expected);

    tiers after = tiers_of();
    /* The "solo" entry left the log, the "mid" one joined the one before. */
    cr_assert_eq(after.cold, before.cold - 2, "%lu cold entries, %lu before", (unsigned long)after.cold,
                 (unsigned long)before.cold);
    cr_assert_eq(after.other, before.other);
    cr_assert_gt(after.first_base, 0, "the log start moved past the emptied first entry");
    cr_assert_eq(test_count_entries(cold), after.cold, "cold_dir holds an archive the catalog does not name");

    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    test_token_walk w = {&events, forgotten_at, 0, 0};
    test_read_all(st, 0, test_token_check_record, &w);
    cr_assert_eq(w.read, events.appended - expected);
    cr_assert_eq(siglog_close(s), 0);
    test_verify_clean(dir, "after the forget");

    c = every_file();
    cr_assert_eq(forgotten_tokens_found(&c), 0);
    cr_assert_not(found(&c, "key-003") || found(&c, "solo") || found(&c, "mid"));
    test_files_free(&c);
}

/* ---- key filters: an archive whose filter excludes the keys is not read */

/* A backend that counts the bytes read from each cold archive. */
#define READ_PATHS_MAX 256

typedef struct read_counter {
    siglog_io io;
    const siglog_io *base;
    char *paths[READ_PATHS_MAX];
    uint64_t bytes[READ_PATHS_MAX];
    int path_of_fd[1024]; /* index + 1 into paths, 0: not an archive */
    size_t count;
} read_counter;

static int counting_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    read_counter *c = io->ctx;
    int fd = c->base->open_file(c->base, path, flags, mode);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (fd < 0 || fd >= 1024 || !strstr(name, ".sgar"))
        return fd;
    size_t i = 0;
    while (i < c->count && strcmp(c->paths[i], name) != 0)
        i++;
    if (i == c->count) {
        cr_assert_lt(c->count, READ_PATHS_MAX);
        c->paths[c->count++] = strdup(name);
    }
    c->path_of_fd[fd] = (int)i + 1;
    return fd;
}

static int counting_close(const siglog_io *io, int fd)
{
    read_counter *c = io->ctx;
    if (fd >= 0 && fd < 1024)
        c->path_of_fd[fd] = 0;
    return c->base->close_file(c->base, fd);
}

static ssize_t counting_pread(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    read_counter *c = io->ctx;
    ssize_t got = c->base->pread(c->base, fd, buf, len, off);
    if (got > 0 && fd >= 0 && fd < 1024 && c->path_of_fd[fd])
        c->bytes[c->path_of_fd[fd] - 1] += (uint64_t)got;
    return got;
}

/* Options whose I/O goes through c, set up to count from nothing. */
static void counter_options(read_counter *c, siglog_options *o)
{
    *c = (read_counter){.base = sl_io_posix()};
    c->io = *c->base;
    c->io.open_file = counting_open;
    c->io.close_file = counting_close;
    c->io.pread = counting_pread;
    c->io.ctx = c;
    siglog_options_default(o);
    sl_options_set_io(o, &c->io);
}

/* Whether the archive `name` in cold_dir may hold key k by its filter. */
static int filter_may_hold(const char *name, const char *k)
{
    char *path = test_path(cold, name);
    archive_file f;
    cr_assert_eq(sl_archive_file_open(&f, sl_io_posix(), path), 0, "%s", siglog_errdetail());
    cr_assert_eq(f.view.segment_count, 1);
    keyfilter kf;
    cr_assert_eq(sl_archive_file_filter(&f, 0, &kf), 1, "%s", siglog_errdetail());
    int may = sl_keyfilter_may_contain(&kf, sl_keyfilter_hash(k, strlen(k)));
    sl_keyfilter_free(&kf);
    sl_archive_file_close(&f);
    free(path);
    return may;
}

/* A forget of "solo" (its dry run: the plan is the same) reads whole the
 * cold archives whose filter may hold it, and of the others only their
 * head and filter; each of those is counted as passed over. Fails when
 * every cold archive is read. */
Test(forget_cold, an_archive_whose_filter_excludes_the_keys_is_not_read)
{
    tiers t = tiers_of();
    read_counter c;
    siglog_options o;
    counter_options(&c, &o);
    sl_options_set_io(&o, &c.io);
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, &o), 0, "%s", siglog_errdetail());
    siglog_key keys[] = {{"solo", 4}};
    siglog_forget_options fo = {.dry_run = 1};
    siglog_forget_result res;
    cr_assert_eq(siglog_forget(m, "t", keys, 1, &fo, &res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    uint64_t solo = 0;
    for (uint64_t i = 0; i < events.appended; i++)
        solo += events.key_at[i] == SOLO;
    cr_assert_eq(res.events_removed, solo);

    cr_assert_eq(c.count, t.cold, "every cold archive was opened, to read it or its filter");
    uint64_t whole = 0;
    for (size_t i = 0; i < c.count; i++) {
        struct stat sb;
        char *path = test_path(cold, c.paths[i]);
        cr_assert_eq(stat(path, &sb), 0);
        free(path);
        int may = filter_may_hold(c.paths[i], "solo");
        if (may)
            cr_assert_geq(c.bytes[i], (uint64_t)sb.st_size, "%s may hold the key: read whole", c.paths[i]);
        else
            cr_assert_lt(c.bytes[i] * 4, (uint64_t)sb.st_size, "%s: %lu of %lu bytes read", c.paths[i],
                         (unsigned long)c.bytes[i], (unsigned long)sb.st_size);
        whole += (uint64_t)may;
        free(c.paths[i]);
    }
    cr_assert_geq(whole, 1, "the archive of the segment holding the key");
    cr_assert_lt(whole, t.cold / 2, "%lu of %lu archives may hold the key", (unsigned long)whole,
                 (unsigned long)t.cold);
    /* The hot ones are read or passed over by their .kf. */
    cr_assert_eq(res.segments_read + res.segments_skipped, t.cold + t.other);
    cr_assert_geq(res.segments_skipped, t.cold - whole);
    cr_assert_leq(res.segments_read, whole + t.other);
}

typedef struct problems {
    char text[4096];
    int n;
} problems;

static void keep_problem(void *ctx, const char *file, uint64_t pos, const char *what)
{
    (void)pos;
    problems *p = ctx;
    p->n++;
    snprintf(p->text, sizeof p->text, "%s: %s", file, what);
}

/* The first cold archive's name (sorted), its filter's position and size. */
static char *first_archive(uint64_t *at, uint64_t *len, keyfilter_binding *of)
{
    DIR *d = opendir(cold);
    cr_assert_not_null(d);
    char *best = NULL;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".sgar") && (!best || strcmp(e->d_name, best) < 0)) {
            free(best);
            best = strdup(e->d_name);
        }
    closedir(d);
    char *path = test_path(cold, best);
    archive_file f;
    cr_assert_eq(sl_archive_file_open(&f, sl_io_posix(), path), 0, "%s", siglog_errdetail());
    archive_segment seg = sl_archive_segment_at(&f.view, 0);
    *at = f.view.filter_pos;
    *len = seg.filter_bytes;
    *of = (keyfilter_binding){seg.base_offset, seg.end_offset, 0};
    sl_archive_file_close(&f);
    free(best);
    return path;
}

static void count_record(void *ctx, const siglog_record *r)
{
    (void)r;
    ++*(uint64_t *)ctx;
}

static problems verify_store(void)
{
    problems p = {.n = 0};
    siglog_verify_callbacks cb = {.problem = keep_problem, .ctx = &p};
    siglog_verify(dir, 0, &cb, NULL);
    return p;
}

/* verify checks a cold archive's filter as a segment's .kf: a damaged
 * one, and one that excludes keys its segment holds, are problems naming
 * the archive (and the filter's byte); a reader still reads it. */
Test(forget_cold, verify_reports_a_cold_archive_filter_damaged_or_wrong)
{
    cr_assert_eq(verify_store().n, 0);
    uint64_t at, len;
    keyfilter_binding of;
    char *path = first_archive(&at, &len, &of);
    test_flip_byte(path, at + len / 2, 0x08);
    problems p = verify_store();
    char want[64];
    snprintf(want, sizeof want, "byte %llu", (unsigned long long)at);
    cr_assert_eq(p.n, 1, "%s", p.text);
    cr_assert(strstr(p.text, path) && strstr(p.text, want) && strstr(p.text, "key filter"), "%s", p.text);
    test_flip_byte(path, at + len / 2, 0x08);
    cr_assert_eq(verify_store().n, 0);

    /* A well-formed filter of the segment's offsets with no key in it. */
    keyfilter empty;
    cr_assert_eq(sl_keyfilter_init(&empty, (uint32_t)((len - KEYFILTER_HEADER_BYTES - 8) / KEYFILTER_BLOCK_BYTES),
                                   &of), 0);
    uint8_t *bytes;
    size_t n;
    cr_assert_eq(sl_keyfilter_encode(&empty, &bytes, &n), 0);
    cr_assert_eq(n, len);
    FILE *fp = fopen(path, "r+b");
    cr_assert(fp && fseek(fp, (long)at, SEEK_SET) == 0 && fwrite(bytes, 1, n, fp) == n);
    fclose(fp);
    free(bytes);
    sl_keyfilter_free(&empty);
    p = verify_store();
    cr_assert_eq(p.n, 1, "%s", p.text);
    cr_assert(strstr(p.text, path) && strstr(p.text, "excludes the key"), "%s", p.text);
    siglog *s = test_store_open_read_only(dir);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    uint64_t read = 0;
    test_read_all(st, 0, count_record, &read);
    cr_assert_eq(read, events.appended);
    cr_assert_eq(siglog_close(s), 0);
    free(path);
}

/* A cursor looking for "solo" reads whole only the cold archives whose
 * filter may hold it (of the others their head and filter) and finds
 * every event of it. Fails when every cold archive is read. */
Test(forget_cold, a_cursor_with_a_key_passes_over_archives_whose_filter_excludes_it)
{
    tiers t = tiers_of();
    read_counter c;
    siglog_options o;
    counter_options(&c, &o);
    o.read_only = 1;
    siglog *s;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    siglog_cursor *cur;
    cr_assert_eq(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_cursor_set_key(cur, "solo", 4), 0);
    const siglog_record *r;
    uint64_t n = 0, solo = 0;
    int rc;
    while ((rc = siglog_cursor_next(cur, &r)) == 1) {
        cr_assert(r->key_len == 4 && memcmp(r->key, "solo", 4) == 0);
        n++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    siglog_cursor_close(cur);
    cr_assert_eq(siglog_close(s), 0);
    for (uint64_t i = 0; i < events.appended; i++)
        solo += events.key_at[i] == SOLO;
    cr_assert_eq(n, solo);
    uint64_t whole = 0, passed = 0;
    for (size_t i = 0; i < c.count; i++) {
        struct stat sb;
        char *path = test_path(cold, c.paths[i]);
        cr_assert_eq(stat(path, &sb), 0);
        free(path);
        if (filter_may_hold(c.paths[i], "solo")) {
            cr_assert_geq(c.bytes[i], (uint64_t)sb.st_size, "%s may hold the key: read whole", c.paths[i]);
            whole++;
        } else {
            cr_assert_lt(c.bytes[i] * 4, (uint64_t)sb.st_size, "%s: %lu of %lu bytes read", c.paths[i],
                         (unsigned long)c.bytes[i], (unsigned long)sb.st_size);
            passed++;
        }
        free(c.paths[i]);
    }
    cr_assert_geq(whole, 1);
    cr_assert_gt(passed, t.cold / 2, "%lu of %lu archives passed over", (unsigned long)passed,
                 (unsigned long)t.cold);
}
