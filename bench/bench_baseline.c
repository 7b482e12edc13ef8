/*
 * bench_baseline — the physical limits siglog is measured against: the same
 * events, written the simplest way this design allows, in the same run.
 *
 *   --mode=raw               length-prefixed records (bench.h) written with
 *                            write() in 64 KiB buffers, one file per partition
 *   --mode=raw_lz4           the same, each 64 KiB block LZ4-compressed with
 *                            an XXH3-64 checksum: [u32 clen][u32 len][u64 xxh]
 *   --mode=raw_durable       raw, plus fdatasync of each partition file that
 *                            got data after every --batch events
 *   --mode=raw_1file_durable all partitions' bytes in one file, one
 *                            fdatasync per --batch events
 *   --mode=raw_sealed        raw, plus fdatasync of a partition file each
 *                            time it grew by --seal_mib MiB (default 64):
 *                            what a log that makes each finished segment
 *                            durable at its roll must wait for, and no more
 *   --mode=raw_rolled        the least a segment log with the same durability
 *                            as siglog's `none` must do, done the cheapest
 *                            way: raw, each partition in files of
 *                            --seal_mib MiB whose new bytes go to write-back
 *                            every --writeback_kib KiB (default 1024, as
 *                            siglog's segments: sync_file_range, waiting for
 *                            nothing), and at each roll fdatasync of the
 *                            finished file, the next file created and the
 *                            directory fsynced (the floor of uncompressed
 *                            append's wall time; bench/ANALYSIS.md)
 *   --mode=fdatasync         median/p99 of 4 KiB overwrite + fdatasync in a
 *                            preallocated file (what one group commit costs)
 *   --partitions=P (records go to xxh3(key) % P, as siglog routes them),
 *   --events=N, --batch=B, --data=gen|corpus, --corpus=DIR, --dir=SCRATCH,
 *   --read=1: then read every partition back (the scan baseline: checksum
 *   and decompress for raw_lz4, walk every record).
 */
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench.h"

typedef struct out {
    int fd;
    char *buf;
    size_t len;
    char *cbuf; /* raw_lz4: compressed block */
    uint64_t unsynced; /* raw_sealed, raw_rolled: bytes written since its last sync */
    uint64_t unhinted; /* raw_rolled: bytes written since the last write-back hint */
    uint32_t part, files; /* raw_rolled: its partition, files it opened so far */
} out;

static int lz4_mode;
static uint64_t seal_bytes; /* raw_sealed, raw_rolled: sync every this many; 0: never */
static uint64_t writeback_bytes; /* raw_rolled: hint every this many; 0: not rolled */
static uint64_t bytes_written;
static const char *out_dir;

/* raw_rolled: partition p's file number k, the name sorting in order. */
static void rolled_path(char *path, size_t cap, uint32_t p, uint32_t k)
{
    snprintf(path, cap, "%s/p%05u.%05u", out_dir, p, k);
}

/* raw_rolled: the file just synced is finished; the next one is created
 * and the directory synced so that its name is durable, as a roll must. */
static void out_roll(out *o)
{
    if (close(o->fd) != 0)
        bench_die("close");
    char path[4096];
    rolled_path(path, sizeof path, o->part, o->files++);
    o->fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (o->fd < 0)
        bench_die("open %s", path);
    int d = open(out_dir, O_RDONLY | O_DIRECTORY);
    if (d < 0 || fsync(d) != 0)
        bench_die("fsync of %s", out_dir);
    close(d);
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            bench_die("write failed");
        c += w;
        n -= (size_t)w;
    }
}

static void out_flush(out *o)
{
    if (!o->len)
        return;
    if (lz4_mode) {
        int c = LZ4_compress_default(o->buf, o->cbuf + 16, (int)o->len, LZ4_compressBound(RAW_BLOCK));
        uint32_t hdr[2] = {(uint32_t)c, (uint32_t)o->len};
        uint64_t h = XXH3_64bits(o->cbuf + 16, (size_t)c);
        memcpy(o->cbuf, hdr, 8);
        memcpy(o->cbuf + 8, &h, 8);
        write_all(o->fd, o->cbuf, 16 + (size_t)c);
        bytes_written += 16 + (size_t)c;
    } else {
        write_all(o->fd, o->buf, o->len);
        bytes_written += o->len;
        o->unsynced += o->len;
        o->unhinted += o->len;
    }
    o->len = 0;
    if (writeback_bytes && o->unhinted >= writeback_bytes) {
        /* Hands the bytes to the disk now; the roll's sync then waits
         * only for what the disk has not caught up with. A rolled file
         * begins at its last sync, so unsynced is its length. */
        (void)sync_file_range(o->fd, (off_t)(o->unsynced - o->unhinted), (off_t)o->unhinted,
                              SYNC_FILE_RANGE_WRITE);
        o->unhinted = 0;
    }
    if (seal_bytes && o->unsynced >= seal_bytes) {
        if (fdatasync(o->fd) != 0)
            bench_die("fdatasync");
        o->unsynced = 0;
        o->unhinted = 0;
        if (writeback_bytes)
            out_roll(o);
    }
}

static void out_put(out *o, const siglog_event *e)
{
    uint32_t len = (uint32_t)(12 + e->key_len + e->value_len);
    if (o->len + 4 + len > RAW_BLOCK)
        out_flush(o);
    char *p = o->buf + o->len;
    uint32_t klen = (uint32_t)e->key_len;
    memcpy(p, &len, 4);
    memcpy(p + 4, &e->timestamp_us, 8);
    memcpy(p + 12, &klen, 4);
    memcpy(p + 16, e->key, e->key_len);
    memcpy(p + 16 + e->key_len, e->value, e->value_len);
    o->len += 4 + len;
}

/* Read one file back; returns events seen. Touches every value byte's
 * length, as a consumer walking records would. */
static uint64_t scan_file(const char *path, uint64_t *value_bytes)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        bench_die("open %s", path);
    char *buf = malloc(RAW_BLOCK + 16), *cbuf = malloc((size_t)LZ4_compressBound(RAW_BLOCK) + 16);
    uint64_t n = 0;
    for (;;) {
        size_t len;
        if (lz4_mode) {
            char hdr[16];
            ssize_t r = read(fd, hdr, 16);
            if (r == 0)
                break;
            if (r != 16)
                bench_die("short header");
            uint32_t h32[2];
            uint64_t sum;
            memcpy(h32, hdr, 8);
            memcpy(&sum, hdr + 8, 8);
            if (read(fd, cbuf, h32[0]) != (ssize_t)h32[0])
                bench_die("short block");
            if (XXH3_64bits(cbuf, h32[0]) != sum)
                bench_die("checksum");
            int d = LZ4_decompress_safe(cbuf, buf, (int)h32[0], RAW_BLOCK);
            if (d != (int)h32[1])
                bench_die("decompress");
            len = (size_t)d;
        } else {
            /* Blocks were written whole, so each 64 KiB read may end
             * mid-record: carry the tail over. */
            static size_t carry;
            ssize_t r = read(fd, buf + carry, RAW_BLOCK - carry);
            if (r < 0)
                bench_die("read");
            if (r == 0)
                break;
            len = carry + (size_t)r;
            size_t pos = 0;
            while (pos + 4 <= len) {
                uint32_t l;
                memcpy(&l, buf + pos, 4);
                if (pos + 4 + l > len)
                    break;
                uint32_t klen;
                memcpy(&klen, buf + pos + 12, 4);
                *value_bytes += l - 12 - klen;
                n++;
                pos += 4 + l;
            }
            carry = len - pos;
            memmove(buf, buf + pos, carry);
            continue;
        }
        size_t pos = 0;
        while (pos + 4 <= len) {
            uint32_t l, klen;
            memcpy(&l, buf + pos, 4);
            memcpy(&klen, buf + pos + 12, 4);
            *value_bytes += l - 12 - klen;
            n++;
            pos += 4 + l;
        }
    }
    close(fd);
    free(buf);
    free(cbuf);
    return n;
}

static void fdatasync_bench(const char *dir, int iters)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync.dat", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        bench_die("open %s", path);
    char *zero = calloc(1, 1 << 20);
    for (int i = 0; i < 16; i++)
        write_all(fd, zero, 1 << 20);
    fsync(fd);
    double *v = malloc((size_t)iters * sizeof *v);
    memset(zero, 'x', 4096);
    for (int i = 0; i < iters; i++) {
        if (pwrite(fd, zero, 4096, (off_t)i * 4096) != 4096)
            bench_die("pwrite");
        uint64_t t = bench_now_ns();
        if (fdatasync(fd) != 0)
            bench_die("fdatasync");
        v[i] = (double)(bench_now_ns() - t) / 1e3;
    }
    close(fd);
    unlink(path);
    printf("fdatasync_p50_us=%.1f fdatasync_p99_us=%.1f\n", stats_percentile(v, (size_t)iters, 0.5),
           stats_percentile(v, (size_t)iters, 0.99));
    free(v);
    free(zero);
}

int main(int argc, char **argv)
{
    const char *mode = bench_opt(argc, argv, "mode", "raw");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 200000);
    uint32_t parts = (uint32_t)bench_opt_ll(argc, argv, "partitions", 1);
    uint64_t batch = (uint64_t)bench_opt_ll(argc, argv, "batch", 1000);
    int do_read = (int)bench_opt_ll(argc, argv, "read", 0);
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/baseline");
    out_dir = dir;
    bench_rm_rf(dir);
    if (mkdir(dir, 0700) != 0)
        bench_die("mkdir %s", dir);
    if (strcmp(mode, "fdatasync") == 0) {
        fdatasync_bench(dir, (int)bench_opt_ll(argc, argv, "iters", 300));
        bench_rm_rf(dir);
        return 0;
    }
    int durable = strcmp(mode, "raw_durable") == 0, onefile = strcmp(mode, "raw_1file_durable") == 0;
    lz4_mode = strcmp(mode, "raw_lz4") == 0;
    int rolled = strcmp(mode, "raw_rolled") == 0;
    if (strcmp(mode, "raw_sealed") == 0 || rolled)
        seal_bytes = (uint64_t)bench_opt_ll(argc, argv, "seal_mib", 64) << 20;
    if (rolled && !(writeback_bytes = (uint64_t)bench_opt_ll(argc, argv, "writeback_kib", 1024) << 10))
        bench_die("raw_rolled needs --writeback_kib > 0");
    if (rolled && do_read)
        bench_die("raw_rolled has no --read: its files are raw's, cut in pieces");
    if (!durable && !onefile && !lz4_mode && !seal_bytes && strcmp(mode, "raw") != 0)
        bench_die("bad --mode %s", mode);

    bench_pool pool;
    pool_from_options(&pool, argc, argv, events);

    uint32_t nfiles = onefile ? 1 : parts;
    out *o = calloc(parts, sizeof *o);
    for (uint32_t p = 0; p < parts; p++) {
        o[p].buf = malloc(RAW_BLOCK);
        o[p].cbuf = malloc((size_t)LZ4_compressBound(RAW_BLOCK) + 16);
        if (p < nfiles) {
            char path[4096];
            o[p].part = p;
            if (rolled)
                rolled_path(path, sizeof path, p, o[p].files++);
            else
                snprintf(path, sizeof path, "%s/p%05u", dir, p);
            o[p].fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (o[p].fd < 0)
                bench_die("open %s", path);
        } else {
            o[p].fd = o[0].fd;
        }
    }
    uint64_t value_bytes = 0;
    bench_span span;
    bench_span_start(&span);
    for (uint64_t i = 0; i < events; i++) {
        siglog_event e;
        pool_event(&pool, i, &e);
        uint32_t p = parts > 1 && e.key_len ? (uint32_t)(XXH3_64bits(e.key, e.key_len) % parts)
                                            : (uint32_t)(i % parts);
        out_put(&o[p], &e);
        value_bytes += e.value_len;
        if ((durable || onefile) && ((i + 1) % batch == 0 || i + 1 == events)) {
            for (uint32_t q = 0; q < parts; q++)
                out_flush(&o[q]);
            for (uint32_t q = 0; q < nfiles; q++)
                if (fdatasync(o[q].fd) != 0)
                    bench_die("fdatasync");
        }
    }
    for (uint32_t p = 0; p < parts; p++)
        out_flush(&o[p]);
    bench_span_stop(&span);
    for (uint32_t p = 0; p < nfiles; p++)
        close(o[p].fd);
    uint64_t disk = bench_disk_bytes(dir, NULL);
    printf("events=%llu", (unsigned long long)events);
    bench_print_rates("", &span, events, value_bytes);
    printf(" file_bytes_per_event=%.2f disk_bytes_per_event=%.2f", (double)bytes_written / (double)events, (double)disk / (double)events);
    if (do_read) {
        uint64_t vb = 0, n = 0;
        bench_span read;
        bench_span_start(&read);
        for (uint32_t p = 0; p < nfiles; p++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/p%05u", dir, p);
            n += scan_file(path, &vb);
        }
        bench_span_stop(&read);
        if (n != events)
            bench_die("read back %llu of %llu events", (unsigned long long)n, (unsigned long long)events);
        bench_print_rates("read_", &read, n, vb);
    }
    printf("\n");
    for (uint32_t p = 0; p < parts; p++) {
        free(o[p].buf);
        free(o[p].cbuf);
    }
    free(o);
    bench_rm_rf(dir);
    pool_free(&pool);
    return 0;
}
