/*
 * forget_archives — siglog_forget over archives exported with
 * siglog_archive_export (forget_archive.h), beside the store's own tiers.
 *
 * The store's first sealed segments are exported twice (to two archive
 * directories) and then moved cold; the next ones are rewritten warm; the
 * last events stay hot, some in the active segment. Beside our archives,
 * the archive directory holds another store's archive of a stream of the
 * same name with the same keys, which no forget of ours may touch.
 * Proven: a forget given both directories leaves no forgotten key or
 * value token in any file of the store, cold_dir or the archive
 * directories (other than the other store's archive, unchanged byte for
 * byte), the archives read back whole with every other event; a dry run
 * changes no file; an export into a directory not given is reported.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

#define KEYS 20
#define SEGMENT_BYTES (64 * 1024)
#define FORGOTTEN 3 /* key-003 */

static char *dir, *cold, *arch, *arch2, *other;
static const char *key_names[KEYS];
static char key_text[KEYS][16];
/* Our store's events; the other store's are of another seed. */
static test_token_log events = {.keys = key_names, .seed = 7000};
static test_token_log theirs = {.keys = key_names, .seed = 9000};

/* Store path's first sealed segments exported into each of dirs[0..n). */
static void export_to(const char *path, const char *const *dirs, size_t n)
{
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, path, NULL), 0, "%s", siglog_errdetail());
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(siglog_archive_export(m, "t", 0, INT64_MAX, dirs[i], 0, NULL, 0), 1, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

static void retain_with(uint64_t warm_after, uint64_t cold_after)
{
    siglog_stream_config c;
    siglog *s = test_config_edit(dir, "t", &c);
    c.warm_after = warm_after;
    c.cold_after = cold_after;
    snprintf(c.cold_dir, sizeof c.cold_dir, "%s", cold);
    test_config_save(s, "t", &c);
    test_retain_all(dir);
}

static void setup(void)
{
    for (int k = 0; k < KEYS; k++) {
        snprintf(key_text[k], sizeof key_text[k], "key-%03d", k);
        key_names[k] = key_text[k];
    }
    events.appended = 0;
    theirs.appended = 0;
    dir = test_tmpdir("forget-arch");
    cold = test_tmpdir("forget-arch-cold");
    arch = test_tmpdir("forget-arch-dir");
    arch2 = test_tmpdir("forget-arch-dir2");
    other = test_tmpdir("forget-arch-other");
    siglog_stream_config c;
    test_token_config(&c, SEGMENT_BYTES);

    /* Another store, stream "t" too, the same keys: its archive beside ours. */
    siglog_stream *st;
    siglog *s = test_token_store(other, &c, &st);
    test_token_append_mixed(&theirs, st, 1500, KEYS);
    cr_assert_eq(siglog_close(s), 0);
    const char *to_arch[] = {arch, arch2};
    export_to(other, to_arch, 1);

    s = test_token_store(dir, &c, &st);
    test_token_append_mixed(&events, st, 3000, KEYS);
    cr_assert_eq(siglog_close(s), 0);
    export_to(dir, to_arch, 2);
    retain_with(0, 1); /* the exported segments go cold */

    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    test_token_append_mixed(&events, st, 3000, KEYS);
    cr_assert_eq(siglog_close(s), 0);
    retain_with(1, 0); /* the next ones warm */

    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    test_token_append_mixed(&events, st, 100, KEYS); /* hot, in the active segment */
    cr_assert_eq(siglog_close(s), 0);
}

static void teardown(void)
{
    char **v[] = {&dir, &cold, &arch, &arch2, &other};
    for (size_t i = 0; i < 5; i++) {
        test_rmtree(*v[i]);
        free(*v[i]);
    }
}

TestSuite(forget_archives, .init = setup, .fini = teardown, .timeout = 180);

static test_files every_file(void)
{
    test_files f = {0};
    const char *dirs[] = {dir, cold, arch, arch2};
    for (size_t i = 0; i < 4; i++)
        test_files_load_below(&f, dirs[i]);
    return f;
}

/* The other store's archive: the one file of arch whose header is not
 * ours. */
static int is_others(const char *path)
{
    siglog_archive *a;
    if (strncmp(path, arch, strlen(arch)) != 0 || siglog_archive_open(&a, path) != 0)
        return 0;
    siglog *s = test_store_open(other, NULL);
    uint64_t id = siglog_store_id(s);
    cr_assert_eq(siglog_close(s), 0);
    int others = siglog_archive_info_get(a)->store_id == id;
    siglog_archive_close(a);
    return others;
}

/* Files outside the other store's archive that hold needle. */
static uint64_t found(const test_files *c, const char *needle)
{
    uint64_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (test_files_holds(c, i, needle) && !is_others(c->path[i]))
            n++;
    return n;
}

/* The forgotten values' tokens found. */
static uint64_t forgotten_tokens_found(const test_files *c)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < events.appended; i++) {
        if (events.key_at[i] != FORGOTTEN)
            continue;
        char value[80];
        test_token_value(events.seed, i, value);
        n += found(c, strstr(value, ":\"") + 2) != 0;
    }
    return n;
}

static void forget(const char *const *dirs, size_t n, int dry_run, siglog_forget_options *o,
                   siglog_forget_result *res)
{
    siglog_key key = {"key-003", 7};
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    o->archive_dirs = dirs;
    o->archive_dir_count = n;
    o->dry_run = (uint32_t)dry_run;
    cr_assert_eq(siglog_forget(m, "t", &key, 1, o, res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

/* The records of each of our archives in d: every one not forgotten, as
 * appended; *read counts them. */
static void check_archives(const char *d, uint64_t *read)
{
    DIR *dd = opendir(d);
    cr_assert(dd);
    for (struct dirent *de; (de = readdir(dd));) {
        if (de->d_name[0] == '.')
            continue;
        char *p = test_path(d, de->d_name);
        if (!is_others(p)) {
            siglog_archive *a;
            cr_assert_eq(siglog_archive_open(&a, p), 0, "%s: %s", p, siglog_errdetail());
            const siglog_record *r;
            int rc;
            while ((rc = siglog_archive_next(a, &r)) == 1) {
                test_token_check_event(&events, r);
                cr_assert_neq(events.key_at[r->offset], FORGOTTEN);
                ++*read;
            }
            cr_assert_eq(rc, 0, "%s", siglog_errdetail());
            siglog_archive_close(a);
        }
        free(p);
    }
    closedir(dd);
}

/* Events of key-003 in the archive at path. */
static uint64_t key_events(const char *path)
{
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    const siglog_record *r;
    uint64_t n = 0;
    while (siglog_archive_next(a, &r) == 1)
        n += r->key_len == 7 && memcmp(r->key, "key-003", 7) == 0;
    siglog_archive_close(a);
    return n;
}

Test(forget_archives, removes_the_key_from_every_tier_and_exported_archive)
{
    test_files c = every_file();
    uint64_t tokens = forgotten_tokens_found(&c);
    cr_assert_gt(tokens, 20, "only %lu of the tokens are literal before", (unsigned long)tokens);
    /* LZ4 often writes the key as a match of a neighbour's "key-00" and a
     * literal '3', so how many files hold it whole depends on where batches
     * were cut (3 to 8 here); the value tokens above are the search's proof. */
    cr_assert_gt(found(&c, "key-003"), 0);
    char *other_bytes = NULL, other_path[4096];
    size_t other_len = 0;
    for (size_t i = 0; i < c.n; i++)
        if (is_others(c.path[i])) {
            cr_assert_null(other_bytes);
            other_bytes = malloc(c.len[i]);
            memcpy(other_bytes, c.bytes[i], c.len[i]);
            other_len = c.len[i];
            snprintf(other_path, sizeof other_path, "%s", c.path[i]);
        }
    cr_assert_not_null(other_bytes);
    cr_assert_gt(key_events(other_path), 0, "the other store's archive holds key-003's events");
    test_files_free(&c);
    uint64_t expected = 0, first_export = 0;
    for (uint64_t i = 0; i < events.appended; i++)
        expected += events.key_at[i] == FORGOTTEN;

    const char *dirs[] = {arch, arch2};
    siglog_forget_options o = {0};
    siglog_forget_result res;
    forget(dirs, 2, 0, &o, &res);
    cr_assert_eq(res.archives_read, 2);
    cr_assert_eq(res.archives_rewritten, 2);
    cr_assert_eq(res.archives_unvisited, 0);
    check_archives(arch, &first_export);
    uint64_t second = 0;
    check_archives(arch2, &second);
    cr_assert_eq(first_export, second);
    cr_assert_gt(first_export, 500);
    /* The exports' removed events counted as well as the store's. */
    cr_assert_gt(res.events_removed, expected);

    c = every_file();
    cr_assert_eq(forgotten_tokens_found(&c), 0);
    cr_assert_eq(found(&c, "key-003"), 0);
    /* The other store's archive is as it was, byte for byte. */
    size_t others = 0;
    for (size_t i = 0; i < c.n; i++)
        if (is_others(c.path[i])) {
            others++;
            cr_assert(c.len[i] == other_len && memcmp(c.bytes[i], other_bytes, other_len) == 0);
        }
    cr_assert_eq(others, 1);
    free(other_bytes);
    test_files_free(&c);
    cr_assert_eq(test_count_entries(arch), 2);
    cr_assert_eq(test_count_entries(arch2), 1);
}

static void note_path(void *ctx, const char *path)
{
    snprintf(ctx, 4096, "%s", path);
}

Test(forget_archives, dry_run_changes_nothing_and_an_archive_elsewhere_is_reported)
{
    test_files before = every_file();
    const char *dirs[] = {arch};
    char unvisited[4096] = "";
    siglog_forget_options o = {.unvisited = note_path, .unvisited_ctx = unvisited};
    siglog_forget_result res;
    forget(dirs, 1, 1, &o, &res);
    cr_assert_eq(res.archives_read, 1);
    cr_assert_eq(res.archives_rewritten, 1);
    cr_assert_eq(res.archives_unvisited, 1);
    cr_assert(strstr(unvisited, arch2) && strstr(unvisited, "t.00000."), "%s", unvisited);
    test_files after = every_file();
    cr_assert_eq(after.n, before.n);
    for (size_t i = 0; i < before.n; i++) {
        cr_assert_str_eq(after.path[i], before.path[i]);
        cr_assert(after.len[i] == before.len[i] && memcmp(after.bytes[i], before.bytes[i], before.len[i]) == 0,
                  "%s changed", before.path[i]);
    }
    test_files_free(&before);
    test_files_free(&after);

    /* The forget itself, given only arch: arch2's archive still holds the
     * key, and is reported. */
    memset(unvisited, 0, sizeof unvisited);
    forget(dirs, 1, 0, &o, &res);
    cr_assert_eq(res.archives_rewritten, 1);
    cr_assert_eq(res.archives_unvisited, 1);
    cr_assert(strstr(unvisited, arch2), "%s", unvisited);
}
