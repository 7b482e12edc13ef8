/*
 * jail — the store is a jail, proven over every path the engine touches.
 *
 * A recording backend collects every path the engine passes to the I/O
 * layer while a store is built (create, stream create, appends across
 * segment rolls, close, reopen, replay) and the temporary names its
 * atomic replacements use. Then, for each of those paths and each kind of
 * thing an attacker (or an accident) can put there — a symlink to a file
 * outside, a symlink to a directory outside, a FIFO, a character device
 * (root only), the wrong one of file/directory — a copy of the store gets
 * the plant and goes through a writer session, a read-only replay and
 * verify --repair. Proven: a decoy file outside is byte-identical and its
 * directory gains nothing, nothing blocks, and every failure is
 * SIGLOG_ECORRUPT naming the planted path.
 *
 * Run twice (meson tests jail and jail_walk): the second time with
 * SIGLOG_TEST_JAIL_WALK set, every resolution takes the openat walk that
 * stands in for openat2 on kernels without it, so both are proven.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "io.h"
#include "io_jail.h"
#include "io_root.h"
#include "options_io.h"
#include "siglog.h"
#include "support.h"

/* Before Criterion forks the tests, so each inherits the choice. */
__attribute__((constructor)) static void choose_resolution(void)
{
    if (getenv("SIGLOG_TEST_JAIL_WALK"))
        sl_io_jail_force_walk(1);
}

/* ---- a backend that records every path it is given ---------------------- */

#define MAX_PATHS 512

typedef struct recorder {
    siglog_io io;
    const siglog_io *base;
    char *paths[MAX_PATHS];
    size_t count;
} recorder;

static recorder *rec_of(const siglog_io *io)
{
    return io->ctx;
}

static void note(const siglog_io *io, const char *path)
{
    recorder *r = rec_of(io);
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->paths[i], path) == 0)
            return;
    cr_assert_lt(r->count, MAX_PATHS);
    r->paths[r->count++] = strdup(path);
}

static int rec_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    note(io, path);
    return rec_of(io)->base->open_file(rec_of(io)->base, path, flags, mode);
}

static int rec_rename(const siglog_io *io, const char *from, const char *to)
{
    note(io, from);
    note(io, to);
    return rec_of(io)->base->rename(rec_of(io)->base, from, to);
}

static int rec_unlink(const siglog_io *io, const char *path)
{
    note(io, path);
    return rec_of(io)->base->unlink(rec_of(io)->base, path);
}

static int rec_mkdir(const siglog_io *io, const char *path, uint32_t mode)
{
    note(io, path);
    return rec_of(io)->base->mkdir(rec_of(io)->base, path, mode);
}

static int rec_rmdir(const siglog_io *io, const char *path)
{
    note(io, path);
    return rec_of(io)->base->rmdir(rec_of(io)->base, path);
}

static int rec_sync_dir(const siglog_io *io, const char *path)
{
    note(io, path);
    return rec_of(io)->base->sync_dir(rec_of(io)->base, path);
}

static int rec_list_dir(const siglog_io *io, const char *path, io_dirent_list *out)
{
    note(io, path);
    return rec_of(io)->base->list_dir(rec_of(io)->base, path, out);
}

static int rec_stat_path(const siglog_io *io, const char *path, int *is_dir, uint64_t *size)
{
    note(io, path);
    return rec_of(io)->base->stat_path(rec_of(io)->base, path, is_dir, size);
}

static recorder *recorder_new(void)
{
    recorder *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->base = sl_io_posix();
    r->io = *r->base; /* descriptor ops go straight to POSIX */
    r->io.open_file = rec_open;
    r->io.rename = rec_rename;
    r->io.unlink = rec_unlink;
    r->io.mkdir = rec_mkdir;
    r->io.rmdir = rec_rmdir;
    r->io.sync_dir = rec_sync_dir;
    r->io.list_dir = rec_list_dir;
    r->io.stat_path = rec_stat_path;
    r->io.ctx = r;
    return r;
}

static void recorder_free(recorder *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->paths[i]);
    free(r);
}

/* ---- the scenario ------------------------------------------------------- */

#define EVENTS_PER_SESSION 100

/* The detail of a session's first failure. */
static char session_detail[1024];

static int writer_session(const char *store, const siglog_io *io)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 1u << 20;
    sl_options_set_io(&o, io);
    return test_append_rolling(store, &o, EVENTS_PER_SESSION, session_detail, sizeof session_detail);
}

static int reader_session(const char *store, const siglog_io *io, uint64_t *events)
{
    long n = test_count_events(store, io, session_detail, sizeof session_detail);
    *events = n > 0 ? (uint64_t)n : 0;
    return n < 0 ? (int)n : 0;
}

/* ---- planting ------------------------------------------------------------- */

enum plant { PLANT_FILE_LINK, PLANT_DIR_LINK, PLANT_FIFO, PLANT_DEVICE, PLANT_WRONG_KIND, PLANT_COUNT };
static const char *const plant_names[] = {"symlink to a file outside", "symlink to a directory outside", "FIFO",
                                          "character device", "wrong kind (file for directory or reverse)"};

static const char DECOY[] = "decoy: nothing may write here\n";

static void run_cmd(const char *fmt, const char *a, const char *b)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void write_decoy(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(DECOY, f);
    fclose(f);
}

/* The decoy is byte-identical and alone in its directory. */
static void assert_outside_untouched(const char *outside, const char *decoy, const char *what)
{
    void *got = NULL;
    size_t len = 0;
    cr_assert_eq(sl_io_read_file(sl_io_posix(), decoy, 4096, &got, &len), 0, "%s", what);
    cr_assert(len == strlen(DECOY) && memcmp(got, DECOY, len) == 0, "%s: the decoy outside changed", what);
    free(got);
    io_dirent_list l = {0};
    cr_assert_eq(sl_io_posix()->list_dir(sl_io_posix(), outside, &l), 0);
    cr_assert_eq(l.count, 1, "%s: something was created outside the store", what);
    sl_io_dirent_list_free(&l);
}

/* Replace whatever is at path by `kind`; 0 if it cannot be made here. */
static int plant_at(const char *path, int kind, const char *outside, const char *decoy)
{
    struct stat st;
    int was_dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (kind == PLANT_DEVICE && geteuid() != 0)
        return 0;
    /* Inside a directory the scenario only had for a while (a stream is
     * built under a temporary name, then renamed): nothing to plant in. */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        if (lstat(parent, &st) != 0 && errno == ENOENT)
            return 0;
    }
    run_cmd("rm -rf '%s'%s", path, "");
    int rc = 0;
    switch (kind) {
    case PLANT_FILE_LINK: rc = symlink(decoy, path); break;
    case PLANT_DIR_LINK: rc = symlink(outside, path); break;
    case PLANT_FIFO: rc = mkfifo(path, 0600); break;
    case PLANT_DEVICE: rc = mknod(path, S_IFCHR | 0600, makedev(1, 3)); break;
    default:
        if (was_dir)
            write_decoy(path);
        else
            rc = mkdir(path, 0700);
    }
    cr_assert_eq(rc, 0, "planting at %s: %s", path, strerror(errno));
    return 1;
}

/* A failure must be SIGLOG_ECORRUPT and name what was planted; or, when
 * the refusal failed a partition in the background (a roll's summary),
 * SIGLOG_EFAILED naming it as the cause. */
static void assert_ok_or_named(int rc, const char *planted, const char *what)
{
    if (rc == 0)
        return;
    cr_assert(rc == SIGLOG_ECORRUPT || rc == SIGLOG_EFAILED, "%s: %s (%s), not a refusal", what, siglog_errname(rc),
              session_detail);
    cr_assert(strstr(session_detail, planted), "%s: '%s' does not name %s", what, session_detail, planted);
}

/* The temporary names of the atomic replacements, beside `path`. */
static void add_temp_names(recorder *r, const char *store)
{
    size_t n = r->count;
    for (size_t i = 0; i < n; i++) {
        const char *p = r->paths[i];
        size_t len = strlen(p);
        if (len > 4 && (strcmp(p + len - 4, ".seg") == 0)) {
            static const char *const sfx[] = {".oix.tmp", ".tix.tmp", ".sum.tmp"};
            for (int k = 0; k < 3; k++) {
                char t[4096];
                snprintf(t, sizeof t, "%.*s%s", (int)(len - 4), p, sfx[k]);
                note(&r->io, t);
            }
        }
    }
    static const char *const fixed[] = {"journal.tmp", "siglog.store.tmp", "streams/events/stream.meta.tmp"};
    for (int k = 0; k < 3; k++) {
        char t[4096];
        snprintf(t, sizeof t, "%s/%s", store, fixed[k]);
        note(&r->io, t);
    }
}

Test(jail, every_path_the_engine_uses_refuses_what_is_planted_there, .timeout = 600)
{
    char *tmp = test_tmpdir_fast("jail");
    char *pristine = test_path(tmp, "pristine");
    char *outside = test_path(tmp, "outside");
    char *decoy = test_path(outside, "decoy");
    char *work = test_path(tmp, "work");
    cr_assert_eq(mkdir(outside, 0700), 0);
    write_decoy(decoy);

    /* The scenario, recorded. Two writer sessions so the second reopens a
     * store with rolled segments; then a reader. */
    recorder *r = recorder_new();
    cr_assert_eq(writer_session(pristine, &r->io), 0, "%s", session_detail);
    cr_assert_eq(writer_session(pristine, &r->io), 0, "%s", session_detail);
    uint64_t events = 0;
    cr_assert_eq(reader_session(pristine, &r->io, &events), 0, "%s", session_detail);
    cr_assert_eq(events, 2 * EVENTS_PER_SESSION);
    char *real = realpath(pristine, NULL);
    cr_assert_not_null(real);
    add_temp_names(r, real);
    size_t real_len = strlen(real);
    size_t segments = 0, checked = 0;

    for (size_t i = 0; i < r->count; i++) {
        const char *p = r->paths[i];
        if (strncmp(p, real, real_len) != 0 || p[real_len] != '/')
            continue; /* the store's own directory and its parent */
        const char *rel = p + real_len + 1;
        size_t rl = strlen(rel);
        segments += rl > 4 && strcmp(rel + rl - 4, ".seg") == 0;
        for (int k = 0; k < PLANT_COUNT; k++) {
            run_cmd("rm -rf '%s'%s", work, "");
            run_cmd("cp -a '%s' '%s'", pristine, work);
            char *target = test_path(work, rel);
            if (!plant_at(target, k, outside, decoy)) {
                free(target);
                continue;
            }
            char what[4096];
            snprintf(what, sizeof what, "%s at %s", plant_names[k], rel);
            assert_ok_or_named(writer_session(work, sl_io_posix()), target, what);
            assert_outside_untouched(outside, decoy, what);
            assert_ok_or_named(reader_session(work, sl_io_posix(), &events), target, what);
            assert_outside_untouched(outside, decoy, what);
            siglog_verify_stats vs;
            int v = siglog_verify(work, 1, NULL, &vs);
            cr_assert(v == 0 || v == SIGLOG_ECORRUPT, "verify --repair with a %s: %s (%s)", what, siglog_errname(v),
                      siglog_errdetail());
            assert_outside_untouched(outside, decoy, what);
            checked++;
            free(target);
        }
    }
    /* The scenario reached what it claims to cover. */
    cr_assert_geq(segments, 3, "the scenario rolled %zu segments, not 3", segments);
    cr_assert_gt(checked, 50);
    fprintf(stderr, "jail: %zu plants over %zu paths (%zu segments) checked\n", checked, r->count, segments);

    test_rmtree_fast(tmp);
    recorder_free(r);
    free(real);
    free(work);
    free(decoy);
    free(outside);
    free(pristine);
    free(tmp);
}

/* ---- the store's path moves under a live writer --------------------------- */

#define MOVED_EVENTS 400

/* Append events test_event_make numbers [from, to) to partition 0. */
static void append_range(siglog_stream *st, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        test_event t;
        test_event_make(&t, 7, i);
        int rc = siglog_append(st, 0, &t.ev, 1, NULL, NULL);
        cr_assert_eq(rc, 0, "append %llu: %s: %s", (unsigned long long)i, siglog_errname(rc), siglog_errdetail());
    }
}

/* A writer opens J/in/store; then J/in is renamed to J/moved and the old
 * path is taken over: by a copy of the store (a decoy that would take
 * every write resolved by name), or by a symlink to such a copy outside.
 * The writer keeps appending across segment rolls, creates a stream and
 * closes. Everything must land in the directory it opened: the decoy's
 * tree is identical to the byte and mtime, and the moved store holds it
 * all. */
static void writer_survives_a_moved_store(int by_symlink)
{
    char *tmp = test_tmpdir_fast("jail-moved");
    char *in = test_path(tmp, "in");
    char *store = test_path(in, "store");
    char *moved = test_path(tmp, "moved");
    char *moved_store = test_path(moved, "store");
    char *outside = test_path(tmp, "outside");
    cr_assert_eq(mkdir(in, 0700), 0);

    siglog *s = test_store_open(store, NULL);
    siglog_stream *st = test_stream_create(s, "events", 1, SIGLOG_SYNC_ALWAYS, 64u << 10);
    append_range(st, 0, MOVED_EVENTS / 4);

    cr_assert_eq(rename(in, moved), 0);
    char *decoy_parent = by_symlink ? outside : in;
    char *decoy = test_path(decoy_parent, "store");
    cr_assert_eq(mkdir(decoy_parent, 0700), 0);
    test_copy_tree(moved_store, decoy);
    if (by_symlink)
        cr_assert_eq(symlink(outside, in), 0);
    char *before = test_tree_fingerprint(decoy_parent);

    append_range(st, MOVED_EVENTS / 4, MOVED_EVENTS);
    test_stream_create(s, "second", 2, SIGLOG_SYNC_INTERVAL, 0);
    siglog_close(s);

    char *after = test_tree_fingerprint(decoy_parent);
    cr_assert_str_eq(after, before, "something was written through the store's old path");
    char detail[512];
    long n = test_count_events(moved_store, NULL, detail, sizeof detail);
    cr_assert_eq(n, MOVED_EVENTS, "the moved store holds %ld events: %s", n, detail);
    siglog *r = NULL;
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    cr_assert_eq(siglog_open(&r, moved_store, &o), 0, "%s", siglog_errdetail());
    siglog_stream *second = NULL;
    cr_assert_eq(siglog_stream_get(r, "second", &second), 0, "the new stream is not in the moved store");
    siglog_close(r);

    test_rmtree_fast(tmp);
    free(after);
    free(before);
    free(decoy);
    free(outside);
    free(moved_store);
    free(moved);
    free(store);
    free(in);
    free(tmp);
}

Test(jail, a_store_renamed_under_its_writer_and_replaced_by_a_copy_keeps_every_write)
{
    writer_survives_a_moved_store(0);
}

Test(jail, a_store_whose_parent_becomes_a_symlink_under_its_writer_keeps_every_write)
{
    writer_survives_a_moved_store(1);
}

/* ---- beneath the root ------------------------------------------------------ */

/* Through a store's root, a path that names something outside it, by
 * another prefix or by "..", is refused, and nothing is made there. */
Test(jail, a_path_op_beneath_the_root_never_leaves_it)
{
    char *tmp = test_tmpdir("jail-root");
    char *store = test_path(tmp, "store");
    char *outside = test_path(tmp, "outside");
    cr_assert_eq(mkdir(store, 0700), 0);
    cr_assert_eq(mkdir(outside, 0700), 0);
    io_root *root;
    cr_assert_eq(sl_io_root_open(sl_io_posix(), store, &root), 0);
    const siglog_io *io = sl_io_root_io(root);

    char *inside = test_path(store, "file");
    int fd = io->open_file(io, inside, IO_WRITE | IO_CREATE, 0600);
    cr_assert_geq(fd, 0, "%s", strerror(-fd));
    io->close_file(io, fd);
    int is_dir = 0;
    cr_assert_eq(io->stat_path(io, store, &is_dir, NULL), 0, "the root itself");
    cr_assert(is_dir);

    char *climb = test_path(store, "../outside/climbed");
    char *other = test_path(outside, "other");
    const char *const escapes[] = {climb, other};
    for (size_t i = 0; i < 2; i++) {
        fd = io->open_file(io, escapes[i], IO_WRITE | IO_CREATE, 0600);
        cr_assert_eq(fd, -IO_EJAIL, "%s: %d", escapes[i], fd);
        cr_assert_eq(io->mkdir(io, escapes[i], 0700), -IO_EJAIL, "%s", escapes[i]);
    }
    io_dirent_list l = {0};
    cr_assert_eq(sl_io_posix()->list_dir(sl_io_posix(), outside, &l), 0);
    cr_assert_eq(l.count, 0, "something was created outside the store");
    sl_io_dirent_list_free(&l);

    sl_io_root_close(root);
    test_rmtree(tmp);
    free(tmp);
    free(other);
    free(climb);
    free(inside);
    free(outside);
    free(store);
}
