/*
 * test_read_phase — the engine's large reads land in memory at their file
 * offset's phase (engine/io.h, sl_io_read_phase): the kernel's copy of
 * page-cache data runs about five times slower on AMD Zen cores when the
 * destination lies 1 to 63 bytes past the source modulo the page, and the
 * journal scan every open runs copies the whole journal. An I/O backend
 * over the POSIX one checks every read of at least a page from the
 * journal and from segments: buffer address and file offset agree modulo
 * SL_IO_READ_ALIGN.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "options_io.h"
#include "siglog.h"
#include "support.h"

#define CHECKED_READ_BYTES 4096
#define FDS 1024

static siglog_io phase_io;
static int checked_fd[FDS];
static uint64_t reads_checked, reads_off_phase;
static uint64_t first_bad_off;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int phase_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    (void)io;
    int fd = sl_io_posix()->open_file(sl_io_posix(), path, flags, mode);
    if (fd >= 0 && fd < FDS)
        checked_fd[fd] = ends_with(path, "/journal") || ends_with(path, ".seg");
    return fd;
}

static ssize_t phase_pread(const siglog_io *io, int fd, void *buf, size_t len, uint64_t off)
{
    (void)io;
    if (fd >= 0 && fd < FDS && checked_fd[fd] && len >= CHECKED_READ_BYTES) {
        reads_checked++;
        if (((uintptr_t)buf - (uintptr_t)off) % SL_IO_READ_ALIGN != 0 && reads_off_phase++ == 0)
            first_bad_off = off;
    }
    return sl_io_posix()->pread(sl_io_posix(), fd, buf, len, off);
}

static void phase_io_init(void)
{
    phase_io = *sl_io_posix();
    phase_io.open_file = phase_open;
    phase_io.pread = phase_pread;
    memset(checked_fd, 0, sizeof checked_fd);
    reads_checked = reads_off_phase = first_bad_off = 0;
}

/* Every open reads the journal past its last entry to tell a torn end
 * from damage: from byte 8193 of a fresh journal, an odd phase. */
Test(read_phase, the_journal_scan_of_an_open_reads_at_the_offsets_phase)
{
    char *dir = test_tmpdir("read_phase_journal");
    phase_io_init();
    siglog *s = test_store_open(dir, &phase_io);
    siglog_stream *st = test_stream_create(s, "ev", 2, SIGLOG_SYNC_ALWAYS, 1u << 20);
    test_append_flushed(s, st, 5, 300);
    siglog_close(s);
    s = test_store_open(dir, &phase_io);
    siglog_close(s);
    cr_assert_gt(reads_checked, 0, "no read of the journal was seen");
    cr_assert_eq(reads_off_phase, 0, "%llu of %llu reads landed off their offset's phase, the first at byte %llu",
                 (unsigned long long)reads_off_phase, (unsigned long long)reads_checked,
                 (unsigned long long)first_bad_off);
    test_rmtree(dir);
    free(dir);
}

static void count_record(void *ctx, const siglog_record *r)
{
    (void)r;
    ++*(uint64_t *)ctx;
}

/* A cursor reads segments a window of several batches at a time, from
 * wherever the next batch starts. */
Test(read_phase, replay_reads_segment_windows_at_the_offsets_phase)
{
    char *dir = test_tmpdir("read_phase_replay");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "ev", 2, SIGLOG_SYNC_NONE, 1u << 20);
    test_append_flushed(s, st, 7, 4000);
    siglog_close(s);
    phase_io_init();
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    sl_options_set_io(&o, &phase_io);
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    uint64_t n = 0;
    for (uint32_t p = 0; p < 2; p++)
        test_read_all(st, p, count_record, &n);
    siglog_close(s);
    cr_assert_eq(n, 4000);
    cr_assert_gt(reads_checked, 0, "no read of a segment was seen");
    cr_assert_eq(reads_off_phase, 0, "%llu of %llu reads landed off their offset's phase, the first at byte %llu",
                 (unsigned long long)reads_off_phase, (unsigned long long)reads_checked,
                 (unsigned long long)first_bad_off);
    test_rmtree(dir);
    free(dir);
}
