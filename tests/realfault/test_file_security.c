/*
 * file_security — what a store looks like to other users of the machine,
 * and that a stream name cannot reach outside the store.
 *
 * Proven: under umask 0 (so nothing but siglog's own modes decides) every
 * file of a new store, its streams, partitions, segments, indexes and
 * journal is 0600 and every directory 0700; siglog_options.file_mode and
 * dir_mode are used instead when given, except for the store's secret,
 * 0600 always; the real siglog binary refuses
 * hostile stream names (`.`, `..`, a slash, empty, 129 bytes, a newline,
 * a leading dot) with exit status 1 or 2 and a message, and creates
 * nothing anywhere, while a 128-byte name (the limit) is accepted.
 * (Lengths read from disk are bounded: the fuzz targets prove that.)
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../cli/run.h"
#include "siglog.h"
#include "support.h"

/* ---- modes of everything under a directory ------------------------------ */

static mode_t want_file, want_dir;
static unsigned seen_files, seen_dirs;

static int check_mode(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    mode_t mode = st->st_mode & 07777;
    if (type == FTW_F) {
        mode_t want = test_store_file_mode(path, want_file);
        cr_expect_eq(mode, want, "%s is %04o, not %04o", path, (unsigned)mode, (unsigned)want);
        seen_files++;
    } else if (type == FTW_D || type == FTW_DP) {
        cr_expect_eq(mode, want_dir, "directory %s is %04o, not %04o", path, (unsigned)mode, (unsigned)want_dir);
        seen_dirs++;
    }
    return 0;
}

/* A store created by siglog in a directory it creates itself, with one
 * stream that has rolled segments, holding a few events; then every mode
 * under it is checked. */
static void store_modes(uint32_t file_mode, uint32_t dir_mode, mode_t file_want, mode_t dir_want)
{
    char *tmp = test_tmpdir("file_security");
    char *dir = test_path(tmp, "store");
    mode_t old = umask(0);
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 1u << 20;
    if (file_mode)
        o.file_mode = file_mode;
    if (dir_mode)
        o.dir_mode = dir_mode;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, 0, "open: %s: %s", siglog_errname(rc), siglog_errdetail());
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 2;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    c.segment_bytes_max = 64u << 10;
    c.record_bytes_max = 16384; /* a batch must fit a quarter of the 1 MiB journal */
    c.compression = SIGLOG_COMPRESSION_NONE; /* so 200 KiB of values roll segments */
    cr_assert_eq(siglog_stream_create(s, "events", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "events", &st), 0);
    char value[1024];
    memset(value, 'v', sizeof value);
    for (uint32_t i = 0; i < 200; i++) {
        siglog_event ev = {.value = value, .value_len = sizeof value};
        cr_assert_eq(siglog_append(st, i % 2, &ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    siglog_partition_info info;
    cr_assert_eq(siglog_partition_info_get(st, 0, &info), 0);
    cr_assert_gt(info.segment_count, 1, "no segment roll: only one segment's files would be checked");
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    umask(old);

    want_file = file_want;
    want_dir = dir_want;
    seen_files = seen_dirs = 0;
    cr_assert_eq(nftw(dir, check_mode, 16, FTW_PHYS), 0);
    /* store, streams, the stream, two partitions */
    cr_assert_geq(seen_dirs, 5, "only %u directories checked", seen_dirs);
    cr_assert_geq(seen_files, 8, "only %u files checked", seen_files);
    test_rmtree(tmp);
    free(dir);
    free(tmp);
}

Test(file_security, new_store_files_are_0600_and_directories_0700_under_umask_0)
{
    store_modes(0, 0, 0600, 0700);
}

Test(file_security, file_mode_and_dir_mode_options_are_honoured)
{
    store_modes(0640, 0750, 0640, 0750);
}

/* ---- hostile stream names through the CLI -------------------------------- */

/* Every entry under root, as one string (path and type), to compare. */
static char *tree_listing;
static size_t tree_len;

static int list_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path) + 4;
    tree_listing = realloc(tree_listing, tree_len + n + 1);
    cr_assert_not_null(tree_listing);
    tree_len += (size_t)snprintf(tree_listing + tree_len, n + 1, "%s %d\n", path, type);
    return 0;
}

static char *tree_of(const char *root)
{
    tree_listing = NULL;
    tree_len = 0;
    cr_assert_eq(nftw(root, list_entry, 16, FTW_PHYS), 0);
    return tree_listing;
}

Test(file_security, hostile_stream_names_are_refused_by_the_cli_and_create_nothing)
{
    char *tmp = test_tmpdir("file_security");
    char *store = test_path(tmp, "store");
    run_result r = RUN(NULL, "init", store);
    cr_assert_eq(r.status, 0, "init: %s", r.err);
    run_free(&r);

    char long_name[130];
    memset(long_name, 'a', 129);
    long_name[129] = '\0';
    const char *hostile[] = {"..", ".", "a/b", "../outside", "/tmp/abs", "", long_name, "a\nb", ".hidden", "a b"};
    char *before = tree_of(tmp);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        r = RUN(NULL, "stream", "create", store, hostile[i], "--partitions", "1");
        cr_expect(r.status == 1 || r.status == 2, "stream name \"%s\" got exit status %d, not 1 or 2", hostile[i],
                  r.status);
        cr_expect_gt(r.err_len, 0, "stream name \"%s\" refused without a message", hostile[i]);
        run_free(&r);
        char *after = tree_of(tmp);
        cr_expect_str_eq(after, before, "stream name \"%s\" changed the files around the store", hostile[i]);
        free(after);
    }
    free(before);

    /* The limit itself is a valid name: the refusals above are not a
     * blanket refusal of long names. */
    long_name[128] = '\0';
    r = RUN(NULL, "stream", "create", store, long_name, "--partitions", "1");
    cr_expect_eq(r.status, 0, "a 128-byte name was refused: %s", r.err);
    run_free(&r);

    test_rmtree(tmp);
    free(store);
    free(tmp);
}
