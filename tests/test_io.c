/*
 * io — the I/O layer: one conformance suite every backend passes (POSIX,
 * the fault backend disarmed, the crash backend alive), then what each test
 * backend adds: the fault backend fails exactly the calls it was armed for,
 * and the crash backend's power cut leaves exactly what was made durable.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "io.h"
#include "io_crash.h"
#include "io_fault.h"
#include "support.h"

/* ---- helpers ------------------------------------------------------------ */

enum backend_kind { BACKEND_POSIX, BACKEND_FAULT, BACKEND_CRASH, BACKEND_COUNT };

typedef struct backend {
    io_fault *fault;
    io_crash *crash;
    const siglog_io *io;
    char *dir;
} backend;

static const char *backend_names[] = { "posix", "fault", "crash" };

static backend backend_open(int kind)
{
    backend b = { 0 };
    b.dir = test_tmpdir(backend_names[kind]);
    switch (kind) {
    case BACKEND_FAULT:
        b.fault = io_fault_new(sl_io_posix());
        cr_assert_not_null(b.fault);
        b.io = io_fault_io(b.fault);
        break;
    case BACKEND_CRASH:
        b.crash = io_crash_new(1);
        cr_assert_not_null(b.crash);
        b.io = io_crash_io(b.crash);
        break;
    default:
        b.io = sl_io_posix();
        break;
    }
    return b;
}

static void backend_close(backend *b)
{
    io_fault_free(b->fault);
    io_crash_free(b->crash);
    test_rmtree(b->dir);
    free(b->dir);
}

static void fill_pattern(unsigned char *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)test_rand(&seed);
}

static int open_new(const siglog_io *io, const char *path)
{
    int fd = io->open_file(io, path, IO_WRITE | IO_CREATE | IO_TRUNC, 0644);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(-fd));
    return fd;
}

/* Write a whole file through io and make it and its name durable. */
static void write_durable(const siglog_io *io, const char *dir, const char *path, const void *data, size_t len)
{
    int fd = open_new(io, path);
    cr_assert_eq(sl_io_write_all(io, fd, data, len, 0), 0);
    cr_assert_eq(io->fsync(io, fd), 0);
    cr_assert_eq(io->close_file(io, fd), 0);
    cr_assert_eq(io->sync_dir(io, dir), 0);
}

/* Assert the file at path (read with plain POSIX) is exactly data. */
static void assert_content(const char *path, const void *data, size_t len)
{
    void *got = NULL;
    size_t got_len = 0;
    int rc = sl_io_read_file(sl_io_posix(), path, 1u << 26, &got, &got_len);
    cr_assert_eq(rc, 0, "read %s: %s", path, strerror(-rc));
    cr_assert_eq(got_len, len, "%s has %zu bytes, expected %zu", path, got_len, len);
    cr_assert(memcmp(got, data, len) == 0, "%s differs from what was expected", path);
    free(got);
}

static void assert_missing(const char *path)
{
    cr_assert_eq(sl_io_posix()->stat_path(sl_io_posix(), path, NULL, NULL), -ENOENT, "%s should not exist", path);
}

/* ---- conformance: every backend ----------------------------------------- */

/* Each conformance check runs once per backend, as its own test. */
#define CONFORMANCE(name)                                                    \
    static void check_##name(const siglog_io *io, const char *dir);         \
    ParameterizedTestParameters(io_conformance, name)                        \
    {                                                                        \
        static int kinds[] = { BACKEND_POSIX, BACKEND_FAULT, BACKEND_CRASH }; \
        return cr_make_param_array(int, kinds, BACKEND_COUNT);               \
    }                                                                        \
    ParameterizedTest(int *kind, io_conformance, name)                       \
    {                                                                        \
        backend b = backend_open(*kind);                                     \
        check_##name(b.io, b.dir);                                           \
        backend_close(&b);                                                   \
    }                                                                        \
    static void check_##name(const siglog_io *io, const char *dir)

CONFORMANCE(write_then_read_round_trips_with_zero_filled_hole)
{
    char *p = test_path(dir, "f");
    int fd = open_new(io, p);
    unsigned char data[5000], back[6000];
    fill_pattern(data, sizeof data, 7);
    cr_assert_eq(sl_io_write_all(io, fd, data, sizeof data, 1000), 0);
    uint64_t size = 0;
    cr_assert_eq(io->file_size(io, fd, &size), 0);
    cr_assert_eq(size, 6000);
    cr_assert_eq(sl_io_read_full(io, fd, back, sizeof back, 0), 6000);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(back[i], 0, "hole byte %d", i);
    cr_assert(memcmp(back + 1000, data, sizeof data) == 0);
    cr_assert_eq(io->close_file(io, fd), 0);
    free(p);
}

CONFORMANCE(read_at_end_of_file_is_short_then_empty)
{
    char *p = test_path(dir, "f");
    int fd = open_new(io, p);
    cr_assert_eq(sl_io_write_all(io, fd, "0123456789", 10, 0), 0);
    char buf[20];
    cr_assert_eq(sl_io_read_full(io, fd, buf, sizeof buf, 5), 5);
    cr_assert(memcmp(buf, "56789", 5) == 0);
    cr_assert_eq(io->pread(io, fd, buf, sizeof buf, 10), 0);
    cr_assert_eq(sl_io_read_full(io, fd, buf, sizeof buf, 50), 0);
    io->close_file(io, fd);
    free(p);
}

CONFORMANCE(pwritev_writes_the_vectors_in_order)
{
    char *p = test_path(dir, "f");
    int fd = open_new(io, p);
    struct iovec iov[4] = {
        { "abc", 3 }, { "", 0 }, { "defgh", 5 }, { "ij", 2 },
    };
    cr_assert_eq(sl_io_writev_all(io, fd, iov, 4, 3), 0);
    char buf[16] = { 0 };
    cr_assert_eq(sl_io_read_full(io, fd, buf, sizeof buf, 0), 13);
    cr_assert(memcmp(buf, "\0\0\0abcdefghij", 13) == 0);
    io->close_file(io, fd);
    free(p);
}

CONFORMANCE(ftruncate_shrinks_and_extends_with_zeros)
{
    char *p = test_path(dir, "f");
    int fd = open_new(io, p);
    cr_assert_eq(sl_io_write_all(io, fd, "abcdefgh", 8, 0), 0);
    cr_assert_eq(io->ftruncate(io, fd, 3), 0);
    cr_assert_eq(io->ftruncate(io, fd, 6), 0);
    uint64_t size = 0;
    cr_assert_eq(io->file_size(io, fd, &size), 0);
    cr_assert_eq(size, 6);
    char buf[8];
    cr_assert_eq(sl_io_read_full(io, fd, buf, sizeof buf, 0), 6);
    cr_assert(memcmp(buf, "abc\0\0\0", 6) == 0);
    io->close_file(io, fd);
    free(p);
}

CONFORMANCE(open_flags_behave_like_posix)
{
    char *p = test_path(dir, "f");
    cr_assert_eq(io->open_file(io, p, IO_READ, 0), -ENOENT);
    int fd = open_new(io, p);
    cr_assert_eq(sl_io_write_all(io, fd, "xyz", 3, 0), 0);
    io->close_file(io, fd);
    cr_assert_eq(io->open_file(io, p, IO_WRITE | IO_CREATE | IO_EXCL, 0644), -EEXIST);
    fd = io->open_file(io, p, IO_READ, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(io->pwrite(io, fd, "q", 1, 0), -EBADF, "a read-only descriptor refuses writes");
    io->close_file(io, fd);
    fd = io->open_file(io, p, IO_WRITE | IO_TRUNC, 0);
    cr_assert(fd >= 0);
    uint64_t size = 1;
    cr_assert_eq(io->file_size(io, fd, &size), 0);
    cr_assert_eq(size, 0, "IO_TRUNC empties the file");
    io->close_file(io, fd);
    free(p);
}

CONFORMANCE(rename_moves_and_replaces)
{
    char *a = test_path(dir, "a"), *b = test_path(dir, "b");
    write_durable(io, dir, a, "AAAA", 4);
    write_durable(io, dir, b, "BB", 2);
    cr_assert_eq(io->rename(io, a, b), 0);
    cr_assert_eq(io->stat_path(io, a, NULL, NULL), -ENOENT);
    assert_content(b, "AAAA", 4);
    cr_assert_eq(io->rename(io, a, b), -ENOENT);
    free(a);
    free(b);
}

CONFORMANCE(list_dir_is_sorted_bytewise_without_dot_entries)
{
    const char *names[] = { "b", "a.1", "\xffz", "B", "a", "00" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *p = test_path(dir, names[i]);
        io->close_file(io, open_new(io, p));
        free(p);
    }
    char *sub = test_path(dir, "sub");
    cr_assert_eq(io->mkdir(io, sub, 0755), 0);
    io_dirent_list l;
    cr_assert_eq(io->list_dir(io, dir, &l), 0);
    const char *want[] = { "00", "B", "a", "a.1", "b", "sub", "\xffz" };
    cr_assert_eq(l.count, sizeof want / sizeof *want);
    for (size_t i = 0; i < l.count; i++)
        cr_assert_str_eq(l.names[i], want[i], "entry %zu", i);
    sl_io_dirent_list_free(&l);
    cr_assert_eq(l.count, 0);
    cr_assert_eq(io->list_dir(io, sub, &l), 0);
    cr_assert_eq(l.count, 0);
    sl_io_dirent_list_free(&l);
    free(sub);
}

/* fs_space reports the filesystem of the path's directory, as statvfs
 * does (its size exactly; the free space moves with other processes). */
CONFORMANCE(fs_space_reports_the_filesystem_of_the_directory)
{
    char *absent = test_path(dir, "not-there-yet");
    struct statvfs v;
    cr_assert_eq(statvfs(dir, &v), 0);
    uint64_t avail = 0, total = 0;
    cr_assert_eq(io->fs_space(io, absent, &avail, &total), 0);
    cr_assert_eq(total, (uint64_t)v.f_blocks * v.f_frsize);
    cr_assert_gt(avail, 0);
    cr_assert_leq(avail, total);
    free(absent);
}

CONFORMANCE(stat_mkdir_rmdir_unlink_report_like_posix)
{
    char *f = test_path(dir, "f"), *d = test_path(dir, "d");
    write_durable(io, dir, f, "12345", 5);
    int is_dir = -1;
    uint64_t size = 0;
    cr_assert_eq(io->stat_path(io, f, &is_dir, &size), 0);
    cr_assert_eq(is_dir, 0);
    cr_assert_eq(size, 5);
    cr_assert_eq(io->mkdir(io, d, 0755), 0);
    cr_assert_eq(io->mkdir(io, d, 0755), -EEXIST);
    cr_assert_eq(io->stat_path(io, d, &is_dir, NULL), 0);
    cr_assert_eq(is_dir, 1);
    cr_assert_eq(io->rmdir(io, d), 0);
    cr_assert_eq(io->stat_path(io, d, &is_dir, NULL), -ENOENT);
    cr_assert_eq(io->unlink(io, f), 0);
    cr_assert_eq(io->unlink(io, f), -ENOENT);
    cr_assert_eq(io->sync_dir(io, dir), 0);
    char *missing = test_path(dir, "nope");
    cr_assert_eq(io->sync_dir(io, missing), -ENOENT);
    free(missing);
    free(f);
    free(d);
}

CONFORMANCE(second_lock_on_another_open_file_would_block)
{
    char *p = test_path(dir, "lock");
    int fd1 = open_new(io, p);
    int fd2 = io->open_file(io, p, IO_WRITE, 0);
    cr_assert(fd2 >= 0);
    cr_assert_eq(io->lock_file(io, fd1, 0), 0);
    cr_assert_eq(io->lock_file(io, fd2, 0), -EWOULDBLOCK);
    cr_assert_eq(io->lock_file(io, fd2, 1), -EWOULDBLOCK, "a shared lock waits for the exclusive one too");
    cr_assert_eq(io->close_file(io, fd1), 0);
    cr_assert_eq(io->lock_file(io, fd2, 0), 0, "closing the holder releases the lock");
    io->close_file(io, fd2);
    free(p);
}

CONFORMANCE(shared_locks_coexist_and_keep_an_exclusive_one_out)
{
    char *p = test_path(dir, "lock");
    int fd0 = open_new(io, p);
    int fd1 = io->open_file(io, p, IO_READ, 0);
    int fd2 = io->open_file(io, p, IO_READ, 0);
    cr_assert(fd1 >= 0 && fd2 >= 0);
    cr_assert_eq(io->lock_file(io, fd1, 1), 0, "a read-only descriptor takes a shared lock");
    cr_assert_eq(io->lock_file(io, fd2, 1), 0, "shared locks coexist");
    cr_assert_eq(io->lock_file(io, fd0, 0), -EWOULDBLOCK);
    io->close_file(io, fd1);
    io->close_file(io, fd2);
    cr_assert_eq(io->lock_file(io, fd0, 0), 0, "closing the readers releases their locks");
    io->close_file(io, fd0);
    free(p);
}

CONFORMANCE(mapped_writes_reach_the_file_and_reads_see_pwrites)
{
    char *p = test_path(dir, "ix");
    int fd = open_new(io, p);
    cr_assert_eq(io->ftruncate(io, fd, 8192), 0);
    void *m = NULL;
    cr_assert_eq(io->mmap_file(io, fd, 8192, 1, &m), 0);
    memcpy((char *)m + 4096, "mapped", 6);
    cr_assert_eq(io->msync_file(io, m, 8192), 0);
    cr_assert_eq(io->munmap_file(io, m, 8192), 0);
    char buf[6];
    cr_assert_eq(sl_io_read_full(io, fd, buf, 6, 4096), 6);
    cr_assert(memcmp(buf, "mapped", 6) == 0);
    cr_assert_eq(sl_io_write_all(io, fd, "pwrite", 6, 100), 0);
    cr_assert_eq(io->mmap_file(io, fd, 8192, 0, &m), 0);
    cr_assert(memcmp((char *)m + 100, "pwrite", 6) == 0);
    cr_assert_eq(io->munmap_file(io, m, 8192), 0);
    io->close_file(io, fd);
    free(p);
}

CONFORMANCE(replace_file_installs_new_content_and_leaves_no_temp)
{
    char *p = test_path(dir, "meta");
    cr_assert_eq(sl_io_replace_file(io, dir, p, "first", 5, 0644), 0);
    assert_content(p, "first", 5);
    cr_assert_eq(sl_io_replace_file(io, dir, p, "second!", 7, 0644), 0);
    assert_content(p, "second!", 7);
    io_dirent_list l;
    cr_assert_eq(io->list_dir(io, dir, &l), 0);
    cr_assert_eq(l.count, 1, "only the file itself, no temp left over");
    cr_assert_str_eq(l.names[0], "meta");
    sl_io_dirent_list_free(&l);
    char *bad = test_path(dir, "missing/meta");
    char *baddir = test_path(dir, "missing");
    cr_assert_eq(sl_io_replace_file(io, baddir, bad, "x", 1, 0644), -ENOENT);
    free(bad);
    free(baddir);
    free(p);
}

CONFORMANCE(read_file_is_bounded_by_max_len)
{
    char *p = test_path(dir, "f"), *e = test_path(dir, "empty");
    unsigned char data[100];
    fill_pattern(data, sizeof data, 3);
    write_durable(io, dir, p, data, sizeof data);
    write_durable(io, dir, e, "", 0);
    void *got = NULL;
    size_t len = 0;
    cr_assert_eq(sl_io_read_file(io, p, 100, &got, &len), 0);
    cr_assert_eq(len, 100);
    cr_assert(memcmp(got, data, 100) == 0);
    free(got);
    cr_assert_eq(sl_io_read_file(io, p, 99, &got, &len), -EFBIG);
    cr_assert_null(got);
    cr_assert_eq(sl_io_read_file(io, e, 10, &got, &len), 0);
    cr_assert_eq(len, 0);
    free(got);
    char *missing = test_path(dir, "missing");
    cr_assert_eq(sl_io_read_file(io, missing, 10, &got, &len), -ENOENT);
    free(missing);
    free(p);
    free(e);
}

CONFORMANCE(clocks_give_plausible_ordered_times)
{
    (void)dir;
    /* 2020-01-01 in microseconds: a wall clock before that is broken. */
    cr_assert_gt(io->now_us(io), INT64_C(1577836800000000));
    int64_t a = io->monotonic_us(io), b = io->monotonic_us(io);
    cr_assert_geq(b, a);
}

/* Threads writing and syncing disjoint regions of one shared file at once
 * (the engine's appenders and flusher do): every byte lands, and the
 * backend's bookkeeping stays consistent. */
typedef struct writer_arg {
    const siglog_io *io;
    int fd;
    int id;
} writer_arg;

#define WRITERS 4
#define WRITES_EACH 200
#define WRITE_BYTES 64

static void *writer_main(void *p)
{
    writer_arg *a = p;
    for (int i = 0; i < WRITES_EACH; i++) {
        unsigned char chunk[WRITE_BYTES];
        memset(chunk, a->id * 16 + i % 16, sizeof chunk);
        uint64_t off = ((uint64_t)i * WRITERS + (uint64_t)a->id) * WRITE_BYTES;
        if (sl_io_write_all(a->io, a->fd, chunk, sizeof chunk, off) != 0 ||
            (i % 50 == 49 && a->io->fdatasync(a->io, a->fd) != 0))
            return (void *)1;
    }
    return NULL;
}

CONFORMANCE(concurrent_writers_on_one_file_all_land)
{
    char *p = test_path(dir, "shared");
    int fd = open_new(io, p);
    pthread_t t[WRITERS];
    writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg){ io, fd, i };
        cr_assert_eq(pthread_create(&t[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        cr_assert_null(ret, "writer %d failed", i);
    }
    cr_assert_eq(io->fsync(io, fd), 0);
    io->close_file(io, fd);
    static unsigned char want[WRITERS * WRITES_EACH * WRITE_BYTES];
    for (int i = 0; i < WRITES_EACH; i++)
        for (int w = 0; w < WRITERS; w++)
            memset(want + ((size_t)i * WRITERS + (size_t)w) * WRITE_BYTES, w * 16 + i % 16, WRITE_BYTES);
    assert_content(p, want, sizeof want);
    free(p);
}

/* ---- conformance: the store is a jail ---------------------------------- */

/* What can be planted where the engine expects a file or a directory. */
enum plant { PLANT_FILE_LINK, PLANT_DIR_LINK, PLANT_FIFO, PLANT_DEVICE, PLANT_DIR, PLANT_FILE, PLANT_COUNT };
static const char *const plant_names[] = {"symlink to a file", "symlink to a directory", "FIFO",
                                          "character device", "directory", "file"};

/* A scratch jail: dir/jail is where paths are used, dir/outside holds a
 * decoy file that must never change and must stay alone. */
typedef struct jail_fixture {
    char *jail, *outside, *decoy;
} jail_fixture;

static const char DECOY[] = "decoy: nothing may write here\n";

static jail_fixture jail_fixture_make(const char *dir)
{
    jail_fixture j = {test_path(dir, "jail"), test_path(dir, "outside"), NULL};
    j.decoy = test_path(j.outside, "decoy");
    cr_assert_eq(mkdir(j.jail, 0700), 0);
    cr_assert_eq(mkdir(j.outside, 0700), 0);
    FILE *f = fopen(j.decoy, "w");
    cr_assert_not_null(f);
    fputs(DECOY, f);
    fclose(f);
    return j;
}

static void jail_fixture_assert_untouched(const jail_fixture *j, const char *what)
{
    assert_content(j->decoy, DECOY, strlen(DECOY));
    io_dirent_list l = {0};
    cr_assert_eq(sl_io_posix()->list_dir(sl_io_posix(), j->outside, &l), 0);
    cr_assert_eq(l.count, 1, "%s created %s in the directory outside", what, l.count > 1 ? l.names[0] : "?");
    sl_io_dirent_list_free(&l);
    struct stat st;
    cr_assert_eq(stat(j->decoy, &st), 0);
    cr_assert_eq(st.st_size, (off_t)strlen(DECOY), "%s", what);
}

static void jail_fixture_free(jail_fixture *j)
{
    free(j->jail);
    free(j->outside);
    free(j->decoy);
}

/* Plant `kind` at path; 0 if this kind cannot be made here (a device
 * needs root). */
static int plant(const jail_fixture *j, const char *path, int kind)
{
    int rc = 0;
    switch (kind) {
    case PLANT_FILE_LINK: rc = symlink(j->decoy, path); break;
    case PLANT_DIR_LINK: rc = symlink(j->outside, path); break;
    case PLANT_FIFO: rc = mkfifo(path, 0600); break;
    case PLANT_DEVICE:
        if (geteuid() != 0)
            return 0;
        rc = mknod(path, S_IFCHR | 0600, makedev(1, 3)); /* /dev/null's */
        break;
    case PLANT_DIR: rc = mkdir(path, 0700); break;
    default: {
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fclose(f);
    }
    }
    cr_assert_eq(rc, 0, "planting a %s at %s: %s", plant_names[kind], path, strerror(errno));
    return 1;
}

static void unplant(const char *path)
{
    if (unlink(path) != 0)
        rmdir(path);
}

/* rc must be a refusal naming `named` (the planted component). */
static void assert_refused(int rc, const char *named, const char *what)
{
    cr_assert_eq(rc, -IO_EJAIL, "%s: got %d (%s), not a refusal", what, rc, rc < 0 ? strerror(-rc) : "success");
    cr_assert(strstr(sl_io_jail_detail(), named), "%s: the refusal '%s' does not name %s", what, sl_io_jail_detail(), named);
}

/* The ops a store makes on one path, against every kind planted there.
 * A regular file is what belongs at x for the file ops, a directory for
 * the directory ops; anything else is refused and nothing outside moves. */
CONFORMANCE(a_symlink_fifo_device_or_wrong_kind_is_refused_and_nothing_outside_changes)
{
    jail_fixture j = jail_fixture_make(dir);
    char *x = test_path(j.jail, "x");
    char *y = test_path(j.jail, "y");
    for (int k = 0; k < PLANT_COUNT; k++) {
        int is_file = k == PLANT_FILE, is_dir = k == PLANT_DIR;
        struct {
            const char *what;
            int ok; /* expected to succeed */
            int other_err; /* expected -errno that is not a refusal (0: none) */
        } expect[] = {
            {"open read", is_file, 0},
            {"open write create", is_file, 0},
            {"open write trunc", is_file, 0},
            {"create temp", !is_dir, 0},
            {"mkdir", 0, is_dir ? EEXIST : 0},
            {"rmdir", is_dir, 0},
            {"list_dir", is_dir, 0},
            {"sync_dir", is_dir, 0},
            {"stat_path", is_file || is_dir, 0},
            {"rename from", is_file || is_dir, 0},
            {"rename onto", is_file, 0},
            {"unlink", !is_dir, is_dir ? EISDIR : 0},
        };
        for (size_t op = 0; op < sizeof expect / sizeof *expect; op++) {
            if (!plant(&j, x, k))
                break;
            int rc = 0;
            io_dirent_list l = {0};
            switch (op) {
            case 0: rc = io->open_file(io, x, IO_READ, 0); break;
            case 1: rc = io->open_file(io, x, IO_WRITE | IO_CREATE, 0600); break;
            case 2: rc = io->open_file(io, x, IO_WRITE | IO_CREATE | IO_TRUNC, 0600); break;
            case 3: rc = sl_io_create_temp(io, x, IO_WRITE, 0600); break;
            case 4: rc = io->mkdir(io, x, 0700); break;
            case 5: rc = io->rmdir(io, x); break;
            case 6: rc = io->list_dir(io, x, &l); break;
            case 7: rc = io->sync_dir(io, x); break;
            case 8: rc = io->stat_path(io, x, NULL, NULL); break;
            case 9: rc = io->rename(io, x, y); break;
            case 10: {
                int fd = io->open_file(io, y, IO_WRITE | IO_CREATE, 0600);
                cr_assert(fd >= 0);
                io->close_file(io, fd);
                rc = io->rename(io, y, x);
                break;
            }
            default: rc = io->unlink(io, x); break;
            }
            char what[128];
            snprintf(what, sizeof what, "%s on a %s", expect[op].what, plant_names[k]);
            if (rc >= 0 && (op <= 3))
                io->close_file(io, rc);
            sl_io_dirent_list_free(&l);
            if (expect[op].ok)
                cr_assert(rc >= 0, "%s: %s", what, rc < 0 ? strerror(-rc) : "");
            else if (expect[op].other_err)
                cr_assert_eq(rc, -expect[op].other_err, "%s: got %d", what, rc);
            else
                assert_refused(rc, x, what);
            if ((op == 3 || op == 11) && expect[op].ok) {
                /* Only the planted entry went: a link's target stays. */
                struct stat st;
                cr_assert(op == 11 ? lstat(x, &st) != 0 : lstat(x, &st) == 0 && S_ISREG(st.st_mode), "%s", what);
            }
            jail_fixture_assert_untouched(&j, what);
            unplant(x);
            unplant(y);
        }
    }
    free(y);
    free(x);
    jail_fixture_free(&j);
}

/* A symlink or a file in the middle of a path: nothing below it is
 * reached, and the refusal names that component. */
CONFORMANCE(a_symlink_or_file_in_the_middle_of_a_path_is_refused)
{
    jail_fixture j = jail_fixture_make(dir);
    char *sub = test_path(j.jail, "sub");
    char *below = test_path(sub, "f");
    for (int k = 0; k < PLANT_COUNT; k++) {
        if (k == PLANT_DIR || !plant(&j, sub, k))
            continue;
        assert_refused(io->open_file(io, below, IO_WRITE | IO_CREATE, 0600), sub, plant_names[k]);
        assert_refused(io->mkdir(io, below, 0700), sub, plant_names[k]);
        assert_refused(io->stat_path(io, below, NULL, NULL), sub, plant_names[k]);
        jail_fixture_assert_untouched(&j, plant_names[k]);
        unplant(sub);
    }
    free(below);
    free(sub);
    jail_fixture_free(&j);
}

/* ---- the fault backend --------------------------------------------------- */

typedef struct fault_fixture {
    io_fault *f;
    const siglog_io *io;
    char *dir;
} fault_fixture;

static fault_fixture fault_open(void)
{
    fault_fixture x;
    x.dir = test_tmpdir("fault");
    x.f = io_fault_new(sl_io_posix());
    cr_assert_not_null(x.f);
    x.io = io_fault_io(x.f);
    return x;
}

static void fault_close(fault_fixture *x)
{
    io_fault_free(x->f);
    test_rmtree(x->dir);
    free(x->dir);
}

Test(io_fault, fails_exactly_the_nth_matching_call_and_nothing_else)
{
    fault_fixture x = fault_open();
    char *p = test_path(x.dir, "f");
    int fd = open_new(x.io, p);
    /* A write before arming does not count towards nth. */
    cr_assert_eq(x.io->pwrite(x.io, fd, "0", 1, 0), 1);
    io_fault_arm(x.f, IO_FAULT_WRITE, 3, ENOSPC, 0, NULL);
    for (int i = 1; i <= 5; i++) {
        /* Reads and syncs in between are other classes: not counted. */
        char c;
        cr_assert_eq(x.io->pread(x.io, fd, &c, 1, 0), 1);
        cr_assert_eq(x.io->fdatasync(x.io, fd), 0);
        ssize_t n = x.io->pwrite(x.io, fd, "x", 1, (uint64_t)i);
        cr_assert_eq(n, i == 3 ? -ENOSPC : 1, "write %d returned %zd", i, n);
    }
    cr_assert_eq(io_fault_injected(x.f), 1);
    cr_assert_eq(io_fault_calls(x.f, IO_FAULT_WRITE), 6);
    cr_assert_eq(io_fault_calls(x.f, IO_FAULT_READ | IO_FAULT_SYNC), 10);
    cr_assert_eq(io_fault_calls(x.f, IO_FAULT_OPEN), 1);
    x.io->close_file(x.io, fd);
    /* The failed write never reached the file. */
    assert_content(p, "0xx\0xx", 6);
    free(p);
    fault_close(&x);
}

Test(io_fault, persistent_fault_fails_every_later_call_until_disarmed)
{
    fault_fixture x = fault_open();
    char *p = test_path(x.dir, "f");
    int fd = open_new(x.io, p);
    io_fault_arm(x.f, IO_FAULT_SYNC, 2, EIO, 1, NULL);
    cr_assert_eq(x.io->fsync(x.io, fd), 0);
    cr_assert_eq(x.io->fdatasync(x.io, fd), -EIO);
    cr_assert_eq(x.io->sync_dir(x.io, x.dir), -EIO);
    cr_assert_eq(x.io->fsync(x.io, fd), -EIO);
    cr_assert_eq(io_fault_injected(x.f), 3);
    io_fault_disarm(x.f);
    cr_assert_eq(x.io->fsync(x.io, fd), 0);
    cr_assert_eq(io_fault_injected(x.f), 3);
    x.io->close_file(x.io, fd);
    free(p);
    fault_close(&x);
}

Test(io_fault, rearming_replaces_the_previous_arm_and_counts_afresh)
{
    fault_fixture x = fault_open();
    char *p = test_path(x.dir, "f");
    int fd = open_new(x.io, p);
    io_fault_arm(x.f, IO_FAULT_WRITE, 2, EIO, 0, NULL);
    cr_assert_eq(x.io->pwrite(x.io, fd, "a", 1, 0), 1);
    io_fault_arm(x.f, IO_FAULT_TRUNCATE, 1, EROFS, 0, NULL);
    cr_assert_eq(x.io->pwrite(x.io, fd, "b", 1, 0), 1, "the old write arm is gone");
    cr_assert_eq(x.io->ftruncate(x.io, fd, 0), -EROFS);
    cr_assert_eq(x.io->ftruncate(x.io, fd, 0), 0, "a one-shot fault fires once");
    x.io->close_file(x.io, fd);
    free(p);
    fault_close(&x);
}

Test(io_fault, path_filter_fails_only_matching_descriptors_paths_and_mappings)
{
    fault_fixture x = fault_open();
    char *victim = test_path(x.dir, "000.seg"), *other = test_path(x.dir, "000.idx");
    int fv = open_new(x.io, victim), fo = open_new(x.io, other);
    io_fault_arm(x.f, IO_FAULT_ANY, 1, EIO, 1, ".seg");
    cr_assert_eq(x.io->pwrite(x.io, fo, "ok", 2, 0), 2);
    cr_assert_eq(x.io->pwrite(x.io, fv, "no", 2, 0), -EIO);
    cr_assert_eq(x.io->fsync(x.io, fo), 0);
    cr_assert_eq(x.io->fsync(x.io, fv), -EIO);
    cr_assert_eq(x.io->open_file(x.io, victim, IO_READ, 0), -EIO);
    /* A rename matches on either name. */
    char *moved = test_path(x.dir, "moved");
    cr_assert_eq(x.io->rename(x.io, victim, moved), -EIO);
    cr_assert_eq(x.io->rename(x.io, other, moved), 0);
    cr_assert_eq(x.io->rename(x.io, moved, victim), -EIO);
    /* A mapping remembers the path of its descriptor. */
    io_fault_arm(x.f, IO_FAULT_SYNC, 1, EIO, 1, ".idx");
    cr_assert_eq(x.io->ftruncate(x.io, fv, 4096), 0);
    cr_assert_eq(x.io->ftruncate(x.io, fo, 4096), 0);
    void *mv, *mo;
    cr_assert_eq(x.io->mmap_file(x.io, fv, 4096, 1, &mv), 0);
    cr_assert_eq(x.io->mmap_file(x.io, fo, 4096, 1, &mo), 0);
    cr_assert_eq(x.io->msync_file(x.io, mv, 4096), 0);
    cr_assert_eq(x.io->msync_file(x.io, mo, 4096), -EIO);
    x.io->munmap_file(x.io, mv, 4096);
    x.io->munmap_file(x.io, mo, 4096);
    x.io->close_file(x.io, fv);
    x.io->close_file(x.io, fo);
    free(victim);
    free(other);
    free(moved);
    fault_close(&x);
}

Test(io_fault, short_write_writes_half_and_write_all_completes_the_rest)
{
    fault_fixture x = fault_open();
    char *p = test_path(x.dir, "f");
    int fd = open_new(x.io, p);
    io_fault_arm(x.f, IO_FAULT_WRITE, 1, IO_FAULT_SHORT_WRITE, 0, NULL);
    cr_assert_eq(x.io->pwrite(x.io, fd, "0123456789", 10, 0), 5);
    assert_content(p, "01234", 5);
    unsigned char data[1000];
    fill_pattern(data, sizeof data, 11);
    /* Every write shortened: sl_io_write_all still gets all bytes there. */
    io_fault_arm(x.f, IO_FAULT_WRITE, 1, IO_FAULT_SHORT_WRITE, 1, NULL);
    cr_assert_eq(sl_io_write_all(x.io, fd, data, sizeof data, 0), 0);
    cr_assert_geq(io_fault_injected(x.f), 10, "1000 bytes halved each time take at least 10 calls");
    assert_content(p, data, sizeof data);
    x.io->close_file(x.io, fd);
    free(p);
    fault_close(&x);
}

Test(io_fault, short_pwritev_resumes_in_the_middle_of_a_vector)
{
    fault_fixture x = fault_open();
    char *p = test_path(x.dir, "f");
    int fd = open_new(x.io, p);
    unsigned char data[64];
    fill_pattern(data, sizeof data, 5);
    struct iovec iov[6] = {
        { data, 3 }, { data + 3, 0 }, { data + 3, 7 }, { data + 10, 1 }, { data + 11, 40 }, { data + 51, 13 },
    };
    io_fault_arm(x.f, IO_FAULT_WRITE, 1, IO_FAULT_SHORT_WRITE, 1, NULL);
    cr_assert_eq(sl_io_writev_all(x.io, fd, iov, 6, 0), 0);
    cr_assert_gt(io_fault_injected(x.f), 3);
    assert_content(p, data, sizeof data);
    x.io->close_file(x.io, fd);
    free(p);
    fault_close(&x);
}

Test(io_fault, write_all_reports_an_error_after_a_short_write)
{
    /* Stacked: the outer backend shortens every write, the inner one
     * fails its second write, so the error arrives mid-way. */
    fault_fixture x = fault_open();
    io_fault *outer = io_fault_new(x.io);
    const siglog_io *io = io_fault_io(outer);
    char *p = test_path(x.dir, "f");
    int fd = open_new(io, p);
    io_fault_arm(outer, IO_FAULT_WRITE, 1, IO_FAULT_SHORT_WRITE, 1, NULL);
    io_fault_arm(x.f, IO_FAULT_WRITE, 2, ENOSPC, 0, NULL);
    cr_assert_eq(sl_io_write_all(io, fd, "0123456789", 10, 0), -ENOSPC);
    assert_content(p, "01234", 5);
    io->close_file(io, fd);
    io_fault_free(outer);
    free(p);
    fault_close(&x);
}

Test(io_fault, short_write_armed_on_another_class_is_an_io_error)
{
    fault_fixture x = fault_open();
    io_fault_arm(x.f, IO_FAULT_MKDIR, 1, IO_FAULT_SHORT_WRITE, 0, NULL);
    char *d = test_path(x.dir, "d");
    cr_assert_eq(x.io->mkdir(x.io, d, 0755), -EIO);
    assert_missing(d);
    free(d);
    fault_close(&x);
}

/* ---- the crash backend ----------------------------------------------------- */

typedef struct crash_fixture {
    io_crash *c;
    const siglog_io *io;
    char *dir;
} crash_fixture;

static crash_fixture crash_open(uint64_t seed)
{
    crash_fixture x;
    x.dir = test_tmpdir("crash");
    x.c = io_crash_new(seed);
    cr_assert_not_null(x.c);
    x.io = io_crash_io(x.c);
    return x;
}

static void crash_close(crash_fixture *x)
{
    io_crash_free(x->c);
    test_rmtree(x->dir);
    free(x->dir);
}

static void power_cut(crash_fixture *x, int mode)
{
    int rc = io_crash_power_cut(x->c, mode);
    cr_assert_eq(rc, 0, "power cut: %s", strerror(-rc));
}

Test(io_crash, synced_data_survives_drop_all_byte_identical)
{
    crash_fixture x = crash_open(1);
    char *p = test_path(x.dir, "seg");
    static unsigned char data[256 * 1024];
    fill_pattern(data, sizeof data, 99);
    int fd = open_new(x.io, p);
    cr_assert_eq(x.io->sync_dir(x.io, x.dir), 0);
    /* Written in pieces, some overlapping, then one fdatasync. */
    cr_assert_eq(sl_io_write_all(x.io, fd, data, 1000, 0), 0);
    cr_assert_eq(sl_io_write_all(x.io, fd, data + 500, sizeof data - 500, 500), 0);
    cr_assert_eq(x.io->fdatasync(x.io, fd), 0);
    x.io->close_file(x.io, fd);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(p, data, sizeof data);
    free(p);
    crash_close(&x);
}

/* A durable file "f" holding `base`, then unsynced overwrite + append. */
static char *crash_unsynced_overwrite(crash_fixture *x, unsigned char *base, size_t base_len,
                                      unsigned char *after)
{
    char *p = test_path(x->dir, "f");
    fill_pattern(base, base_len, 1);
    write_durable(x->io, x->dir, p, base, base_len);
    int fd = x->io->open_file(x->io, p, IO_WRITE, 0);
    cr_assert(fd >= 0);
    memcpy(after, base, base_len);
    memset(after + 100, 'N', base_len); /* overwrites the tail and appends */
    cr_assert_eq(sl_io_write_all(x->io, fd, after + 100, base_len, 100), 0);
    x->io->close_file(x->io, fd);
    return p;
}

Test(io_crash, unsynced_write_is_dropped_by_drop_all)
{
    crash_fixture x = crash_open(1);
    unsigned char base[4096], after[4096 + 100];
    char *p = crash_unsynced_overwrite(&x, base, sizeof base, after);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(p, base, sizeof base);
    free(p);
    crash_close(&x);
}

Test(io_crash, unsynced_write_is_kept_by_keep_all)
{
    crash_fixture x = crash_open(1);
    unsigned char base[4096], after[4096 + 100];
    char *p = crash_unsynced_overwrite(&x, base, sizeof base, after);
    power_cut(&x, IO_CRASH_KEEP_ALL);
    assert_content(p, after, sizeof after);
    free(p);
    crash_close(&x);
}

Test(io_crash, unsynced_truncations_are_undone_by_drop_all)
{
    crash_fixture x = crash_open(1);
    char *shrunk = test_path(x.dir, "shrunk"), *grown = test_path(x.dir, "grown");
    unsigned char data[10000];
    fill_pattern(data, sizeof data, 4);
    write_durable(x.io, x.dir, shrunk, data, sizeof data);
    write_durable(x.io, x.dir, grown, data, 10);
    int fs = x.io->open_file(x.io, shrunk, IO_WRITE, 0);
    int fg = x.io->open_file(x.io, grown, IO_WRITE, 0);
    cr_assert_eq(x.io->ftruncate(x.io, fs, 100), 0);
    cr_assert_eq(x.io->ftruncate(x.io, fg, 1 << 20), 0);
    x.io->close_file(x.io, fs);
    x.io->close_file(x.io, fg);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(shrunk, data, sizeof data);
    assert_content(grown, data, 10);
    free(shrunk);
    free(grown);
    crash_close(&x);
}

Test(io_crash, file_synced_but_directory_not_vanishes_with_drop_all)
{
    crash_fixture x = crash_open(1);
    char *lost = test_path(x.dir, "lost"), *kept = test_path(x.dir, "kept");
    int fd = open_new(x.io, lost);
    cr_assert_eq(sl_io_write_all(x.io, fd, "data", 4, 0), 0);
    cr_assert_eq(x.io->fdatasync(x.io, fd), 0);
    x.io->close_file(x.io, fd);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_missing(lost);
    /* Control: the same with the directory synced survives. */
    write_durable(x.io, x.dir, kept, "data", 4);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(kept, "data", 4);
    free(lost);
    free(kept);
    crash_close(&x);
}

Test(io_crash, rename_not_covered_by_sync_dir_is_undone)
{
    crash_fixture x = crash_open(1);
    char *a = test_path(x.dir, "a"), *b = test_path(x.dir, "b");
    write_durable(x.io, x.dir, a, "AAAA", 4);
    write_durable(x.io, x.dir, b, "BB", 2);
    cr_assert_eq(x.io->rename(x.io, a, b), 0);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(a, "AAAA", 4);
    assert_content(b, "BB", 2);
    /* Control: with the directory synced the rename stays. */
    cr_assert_eq(x.io->rename(x.io, a, b), 0);
    cr_assert_eq(x.io->sync_dir(x.io, x.dir), 0);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_missing(a);
    assert_content(b, "AAAA", 4);
    free(a);
    free(b);
    crash_close(&x);
}

Test(io_crash, rename_across_directories_needs_both_synced)
{
    crash_fixture x = crash_open(1);
    char *d1 = test_path(x.dir, "d1"), *d2 = test_path(x.dir, "d2");
    cr_assert_eq(x.io->mkdir(x.io, d1, 0755), 0);
    cr_assert_eq(x.io->mkdir(x.io, d2, 0755), 0);
    cr_assert_eq(x.io->sync_dir(x.io, x.dir), 0);
    char *from = test_path(d1, "f"), *to = test_path(d2, "f");
    write_durable(x.io, d1, from, "F", 1);
    cr_assert_eq(x.io->rename(x.io, from, to), 0);
    cr_assert_eq(x.io->sync_dir(x.io, d2), 0);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(from, "F", 1);
    assert_missing(to);
    cr_assert_eq(x.io->rename(x.io, from, to), 0);
    cr_assert_eq(x.io->sync_dir(x.io, d2), 0);
    cr_assert_eq(x.io->sync_dir(x.io, d1), 0);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_missing(from);
    assert_content(to, "F", 1);
    free(from);
    free(to);
    free(d1);
    free(d2);
    crash_close(&x);
}

Test(io_crash, unlink_not_covered_by_sync_dir_comes_back_with_its_durable_content)
{
    crash_fixture x = crash_open(1);
    char *p = test_path(x.dir, "old.seg");
    unsigned char data[20000];
    fill_pattern(data, sizeof data, 8);
    write_durable(x.io, x.dir, p, data, sizeof data);
    /* An unsynced write before the unlink is lost too. */
    int fd = x.io->open_file(x.io, p, IO_WRITE, 0);
    cr_assert_eq(sl_io_write_all(x.io, fd, "garbage", 7, 0), 0);
    x.io->close_file(x.io, fd);
    cr_assert_eq(x.io->unlink(x.io, p), 0);
    assert_missing(p);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(p, data, sizeof data);
    /* Control: a synced unlink stays. */
    cr_assert_eq(x.io->unlink(x.io, p), 0);
    cr_assert_eq(x.io->sync_dir(x.io, x.dir), 0);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_missing(p);
    free(p);
    crash_close(&x);
}

Test(io_crash, unsynced_mkdir_vanishes_with_its_contents)
{
    crash_fixture x = crash_open(1);
    char *d = test_path(x.dir, "stream"), *f = test_path(d, "f");
    cr_assert_eq(x.io->mkdir(x.io, d, 0755), 0);
    write_durable(x.io, d, f, "x", 1); /* syncs d, not its parent */
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_missing(d);
    free(d);
    free(f);
    crash_close(&x);
}

Test(io_crash, writable_mapping_is_zeroed_by_drop_all_unless_synced_after_unmap)
{
    crash_fixture x = crash_open(1);
    char *p = test_path(x.dir, "ix"), *q = test_path(x.dir, "iy");
    unsigned char zeros[8192] = { 0 }, want[8192] = { 0 };
    memcpy(want + 5000, "entry", 5);
    const char *paths[] = { p, q };
    for (int i = 0; i < 2; i++) {
        int fd = open_new(x.io, paths[i]);
        cr_assert_eq(x.io->ftruncate(x.io, fd, 8192), 0);
        void *m;
        cr_assert_eq(x.io->mmap_file(x.io, fd, 8192, 1, &m), 0);
        memcpy((char *)m + 5000, "entry", 5);
        cr_assert_eq(x.io->msync_file(x.io, m, 8192), 0);
        cr_assert_eq(x.io->munmap_file(x.io, m, 8192), 0);
        if (i == 1)
            cr_assert_eq(x.io->fsync(x.io, fd), 0); /* durable: no mapping left */
        x.io->close_file(x.io, fd);
    }
    cr_assert_eq(x.io->sync_dir(x.io, x.dir), 0);
    power_cut(&x, IO_CRASH_DROP_ALL);
    assert_content(p, zeros, sizeof zeros);
    assert_content(q, want, sizeof want);
    free(p);
    free(q);
    crash_close(&x);
}

/* A small workload of every mutating kind, in x.dir. */
static void crash_workload(const siglog_io *io, const char *dir)
{
    char *a = test_path(dir, "a"), *b = test_path(dir, "b"), *d = test_path(dir, "d");
    int fd = io->open_file(io, a, IO_WRITE | IO_CREATE, 0644);
    if (fd >= 0) {
        io->pwrite(io, fd, "hello", 5, 0);
        io->fdatasync(io, fd);
        io->pwrite(io, fd, "world", 5, 5);
        io->ftruncate(io, fd, 7);
        io->close_file(io, fd);
    }
    io->sync_dir(io, dir);
    io->rename(io, a, b);
    io->mkdir(io, d, 0755);
    io->unlink(io, b);
    free(a);
    free(b);
    free(d);
}

Test(io_crash, die_after_fails_that_call_and_every_later_one_changing_nothing)
{
    crash_fixture x = crash_open(1);
    crash_workload(x.io, x.dir);
    uint64_t total = io_crash_ops(x.c);
    cr_assert_eq(total, 9, "create, write, sync, write, truncate, sync_dir, rename, mkdir, unlink");
    power_cut(&x, IO_CRASH_KEEP_ALL);
    cr_assert_eq(io_crash_ops(x.c), total, "the count runs on across power cuts");
    char *a = test_path(x.dir, "a"), *b = test_path(x.dir, "b"), *d = test_path(x.dir, "d");
    test_rmtree(d);
    io_crash_die_after(x.c, total + 3); /* create, write, then the fdatasync dies */
    crash_workload(x.io, x.dir);
    cr_assert(io_crash_dead(x.c));
    cr_assert_eq(io_crash_ops(x.c), total + 2);
    assert_content(a, "hello", 5);
    assert_missing(b);
    assert_missing(d);
    /* Dead: reads and metadata calls fail too. */
    cr_assert_eq(x.io->open_file(x.io, a, IO_READ, 0), -EIO);
    cr_assert_eq(x.io->stat_path(x.io, a, NULL, NULL), -EIO);
    io_dirent_list l;
    cr_assert_eq(x.io->list_dir(x.io, x.dir, &l), -EIO);
    cr_assert_eq(l.count, 0);
    power_cut(&x, IO_CRASH_KEEP_ALL);
    cr_assert_not(io_crash_dead(x.c));
    int fd = x.io->open_file(x.io, a, IO_READ, 0);
    cr_assert(fd >= 0, "alive again after the power cut");
    cr_assert_eq(x.io->close_file(x.io, fd), 0);
    free(a);
    free(b);
    free(d);
    crash_close(&x);
}

Test(io_crash, descriptors_from_before_a_power_cut_are_stale_but_closable)
{
    crash_fixture x = crash_open(1);
    char *p = test_path(x.dir, "f");
    write_durable(x.io, x.dir, p, "abc", 3);
    int fd = x.io->open_file(x.io, p, IO_WRITE, 0);
    io_crash_die_after(x.c, io_crash_ops(x.c) + 1);
    cr_assert_eq(x.io->pwrite(x.io, fd, "zzz", 3, 0), -EIO);
    cr_assert_eq(x.io->close_file(x.io, fd), 0, "close works while dead");
    power_cut(&x, IO_CRASH_DROP_ALL);
    int fd2 = x.io->open_file(x.io, p, IO_WRITE, 0);
    cr_assert(fd2 >= 0);
    power_cut(&x, IO_CRASH_KEEP_ALL);
    char c;
    cr_assert_eq(x.io->pread(x.io, fd2, &c, 1, 0), -EIO);
    cr_assert_eq(x.io->pwrite(x.io, fd2, "q", 1, 0), -EIO);
    cr_assert_eq(x.io->close_file(x.io, fd2), 0);
    assert_content(p, "abc", 3);
    free(p);
    crash_close(&x);
}

/* Unsynced writes over a durable file, then a power cut in `mode`. */
static void crash_random_scenario(uint64_t seed, int mode, unsigned char *out, size_t out_len)
{
    crash_fixture x = crash_open(seed);
    char *p = test_path(x.dir, "f");
    unsigned char base[8192];
    fill_pattern(base, sizeof base, 1);
    write_durable(x.io, x.dir, p, base, 4096);
    int fd = x.io->open_file(x.io, p, IO_WRITE, 0);
    for (unsigned i = 0; i < 16; i++) {
        unsigned char chunk[512];
        memset(chunk, (int)('a' + i), sizeof chunk);
        cr_assert_eq(sl_io_write_all(x.io, fd, chunk, sizeof chunk, (uint64_t)i * 512), 0);
    }
    x.io->close_file(x.io, fd);
    power_cut(&x, mode);
    memset(out, 0xee, out_len);
    void *got;
    size_t len;
    cr_assert_eq(sl_io_read_file(sl_io_posix(), p, out_len, &got, &len), 0);
    memcpy(out, got, len);
    out[out_len - 1] = (unsigned char)(len & 0xff); /* the size matters too */
    out[out_len - 2] = (unsigned char)(len >> 8);
    free(got);
    free(p);
    crash_close(&x);
}

Test(io_crash, random_with_a_fixed_seed_is_deterministic_and_seeds_differ)
{
    static unsigned char one[10000], two[10000], drop[10000], keep[10000];
    crash_random_scenario(42, IO_CRASH_RANDOM, one, sizeof one);
    crash_random_scenario(42, IO_CRASH_RANDOM, two, sizeof two);
    cr_assert(memcmp(one, two, sizeof one) == 0, "same seed, same outcome");
    crash_random_scenario(42, IO_CRASH_DROP_ALL, drop, sizeof drop);
    crash_random_scenario(42, IO_CRASH_KEEP_ALL, keep, sizeof keep);
    cr_assert(memcmp(one, drop, sizeof one) != 0 && memcmp(one, keep, sizeof one) != 0,
              "16 independent writes: RANDOM neither kept nor dropped them all");
    int differs = 0;
    for (uint64_t seed = 1; seed <= 8 && !differs; seed++) {
        crash_random_scenario(seed, IO_CRASH_RANDOM, two, sizeof two);
        differs = memcmp(one, two, sizeof one) != 0;
    }
    cr_assert(differs, "another seed gives another outcome");
}

Test(io_crash, random_and_garble_never_touch_bytes_no_unsynced_write_covered)
{
    for (int mode = IO_CRASH_RANDOM; mode <= IO_CRASH_GARBLE; mode++) {
        int grew = 0, same = 0;
        for (uint64_t seed = 1; seed <= 20; seed++) {
            crash_fixture x = crash_open(seed);
            char *p = test_path(x.dir, "f");
            unsigned char base[8192];
            fill_pattern(base, sizeof base, seed);
            write_durable(x.io, x.dir, p, base, sizeof base);
            int fd = x.io->open_file(x.io, p, IO_WRITE, 0);
            cr_assert_eq(sl_io_write_all(x.io, fd, "0123456789", 10, 1000), 0);
            cr_assert_eq(sl_io_write_all(x.io, fd, "abcdefghij", 10, 8192), 0);
            x.io->close_file(x.io, fd);
            power_cut(&x, mode);
            void *got;
            size_t len;
            cr_assert_eq(sl_io_read_file(sl_io_posix(), p, 1 << 20, &got, &len), 0);
            cr_assert(len >= 8192 && len <= 8202, "only the unsynced append may change the size");
            grew |= len > 8192;
            same |= len == 8192;
            unsigned char *g = got;
            cr_assert(memcmp(g, base, 1000) == 0, "mode %d seed %llu", mode, (unsigned long long)seed);
            cr_assert(memcmp(g + 1010, base + 1010, 8192 - 1010) == 0);
            free(got);
            free(p);
            crash_close(&x);
        }
        cr_assert(grew && same, "mode %d: the append's size change is sometimes kept, sometimes lost", mode);
    }
}

/* Each 512-byte sector of `g` is whole and one of the given fill bytes. */
static int sector_fill(const unsigned char *g, size_t sector)
{
    for (size_t i = 1; i < 512; i++)
        if (g[sector * 512 + i] != g[sector * 512])
            return -1;
    return g[sector * 512];
}

Test(io_crash, random_loses_whole_sectors_in_write_order)
{
    int torn = 0, middle = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        crash_fixture x = crash_open(seed);
        char *p = test_path(x.dir, "f");
        static unsigned char zeros[8192], a[4096], b[4096];
        memset(a, 'A', sizeof a);
        memset(b, 'B', sizeof b);
        write_durable(x.io, x.dir, p, zeros, sizeof zeros);
        int fd = x.io->open_file(x.io, p, IO_WRITE, 0);
        cr_assert_eq(sl_io_write_all(x.io, fd, a, sizeof a, 0), 0);
        cr_assert_eq(sl_io_write_all(x.io, fd, b, sizeof b, 0), 0);
        /* Two small writes into one sector: "Y" never survives without "X". */
        cr_assert_eq(sl_io_write_all(x.io, fd, "XXXX", 4, 4096), 0);
        cr_assert_eq(sl_io_write_all(x.io, fd, "YYYY", 4, 4100), 0);
        x.io->close_file(x.io, fd);
        power_cut(&x, IO_CRASH_RANDOM);
        void *got;
        size_t len;
        cr_assert_eq(sl_io_read_file(sl_io_posix(), p, 1 << 20, &got, &len), 0);
        cr_assert_eq(len, sizeof zeros);
        const unsigned char *g = got;
        int first = sector_fill(g, 0);
        for (size_t sct = 0; sct < 8; sct++) {
            int f = sector_fill(g, sct);
            cr_assert(f == 0 || f == 'A' || f == 'B', "seed %llu sector %zu is not whole", (unsigned long long)seed,
                      sct);
            torn |= f != first;
            middle |= f == 'A';
        }
        int x_kept = memcmp(g + 4096, "XXXX", 4) == 0, y_kept = memcmp(g + 4100, "YYYY", 4) == 0;
        cr_assert(x_kept || memcmp(g + 4096, "\0\0\0\0", 4) == 0);
        cr_assert(!y_kept || x_kept, "seed %llu: a later write in a sector outlived an earlier one",
                  (unsigned long long)seed);
        cr_assert(memcmp(g + 4104, zeros, sizeof zeros - 4104) == 0, "untouched bytes stay");
        free(got);
        free(p);
        crash_close(&x);
    }
    cr_assert(torn, "40 seeds and never a write torn between sectors");
    cr_assert(middle, "40 seeds and no sector ever held the earlier of two writes");
}

Test(io_crash, random_keeps_a_prefix_of_the_directory_operations)
{
    int partial = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        crash_fixture x = crash_open(seed);
        char *names[8];
        for (int i = 0; i < 8; i++) {
            char n[8];
            snprintf(n, sizeof n, "f%d", i);
            names[i] = test_path(x.dir, n);
            x.io->close_file(x.io, open_new(x.io, names[i]));
        }
        power_cut(&x, IO_CRASH_RANDOM);
        int present = 0, gap = 0;
        for (int i = 0; i < 8; i++) {
            int here = sl_io_posix()->stat_path(sl_io_posix(), names[i], NULL, NULL) == 0;
            gap |= here && present < i;
            present += here;
            free(names[i]);
        }
        cr_assert_not(gap, "seed %llu: a later create survived an earlier lost one", (unsigned long long)seed);
        partial |= present > 0 && present < 8;
        crash_close(&x);
    }
    cr_assert(partial, "20 seeds and the cut point never fell inside the operations");
}

Test(io_crash, replace_file_leaves_old_or_new_at_every_crash_point)
{
    for (int mode = IO_CRASH_KEEP_ALL; mode <= IO_CRASH_GARBLE; mode++) {
        for (uint64_t die = 1;; die++) {
            crash_fixture x = crash_open(die * 31 + (uint64_t)mode);
            char *p = test_path(x.dir, "meta");
            write_durable(x.io, x.dir, p, "old", 3);
            uint64_t before = io_crash_ops(x.c);
            io_crash_die_after(x.c, before + die);
            int rc = sl_io_replace_file(x.io, x.dir, p, "new content", 11, 0644);
            int finished = !io_crash_dead(x.c);
            power_cut(&x, mode);
            void *got;
            size_t len;
            cr_assert_eq(sl_io_read_file(sl_io_posix(), p, 100, &got, &len), 0, "mode %d die %llu", mode,
                         (unsigned long long)die);
            int is_old = len == 3 && memcmp(got, "old", 3) == 0;
            int is_new = len == 11 && memcmp(got, "new content", 11) == 0;
            cr_assert(is_old || is_new, "mode %d die %llu: neither old nor new", mode, (unsigned long long)die);
            if (rc == 0)
                cr_assert(is_new, "a completed replace is durable");
            free(got);
            free(p);
            crash_close(&x);
            if (finished)
                break;
        }
    }
}
