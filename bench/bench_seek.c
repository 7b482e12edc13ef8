/*
 * bench_seek — random seeks in one large partition, warm cache.
 *
 *   --build=1 --events=N   fill a fresh one-partition LZ4 store first (not
 *                          timed; prints build_events_per_s and
 *                          disk_bytes_per_event)
 *   --seeks=K              measured seeks of each kind (default 10000; a
 *                          fifth as many with fresh cursors), each after
 *                          as many unmeasured warm-up seeks
 *   --batch-bytes=B        batch size limit of the built stream (default:
 *                          siglog's, 64 KiB)
 *   --keep=1               leave the store for the next repetition
 *   --pin=0                do not keep the partition mapped (see pin_file)
 *
 * Two ways to seek, each timed until the caller holds the record:
 *   offset_* / time_*    siglog_cursor_seek on one long-lived cursor (what
 *                        an evaluation job seeking repeatedly does; the
 *                        cursor keeps the segments it has read open) +
 *                        the first siglog_cursor_next;
 *   fresh_offset_* / fresh_time_*   siglog_cursor_open + next + close;
 *   one_batch_*          re-seeks to one fixed offset: nothing but reading,
 *                        checking and decoding the batch that holds it —
 *                        the floor under any seek, whatever the index.
 * Every returned record is checked to be the one asked for.
 *
 * The same-run floor without siglog, over the same batches (found by one
 * walk of the partition's segment files):
 *   fetch_*              pread of a random batch, header and body;
 *   fetch_decode_*       the same plus its LZ4 decompression — what any
 *                        seek must do at least, with no index, checksum
 *                        or record decoding;
 *   stalls_*             how often a thread spinning on the clock loses
 *                        the CPU for more than 20 / 100 µs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static uint64_t rng = 0x1234567;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* One seek; cur == NULL: with a fresh cursor. */
static double one_seek(siglog_stream *st, siglog_cursor *cur, int by_time, uint64_t n)
{
    uint64_t off = next_rand() % n;
    int64_t t = BENCH_T0_US + (int64_t)off * BENCH_STEP_US;
    int seek = by_time ? SIGLOG_SEEK_TIME : SIGLOG_SEEK_OFFSET;
    int64_t arg = by_time ? t : (int64_t)off;
    siglog_cursor *c = cur;
    const siglog_record *r;
    uint64_t t0 = bench_now_ns();
    if (cur)
        bench_check(siglog_cursor_seek(c, seek, arg), "siglog_cursor_seek");
    else
        bench_check(siglog_cursor_open(&c, st, 0, seek, arg, 0), "siglog_cursor_open");
    if (siglog_cursor_next(c, &r) != 1)
        bench_die("seek to %llu found nothing: %s", (unsigned long long)off, siglog_errdetail());
    double us = (double)(bench_now_ns() - t0) / 1e3;
    if (r->offset != off || r->timestamp_us != t)
        bench_die("seek to %llu landed on %llu", (unsigned long long)off, (unsigned long long)r->offset);
    if (!cur)
        siglog_cursor_close(c);
    return us;
}

/* format-spec/FORMAT.md: every batch starts with a 64-byte header; the
 * body follows it (codec 1: one LZ4 block). */
#define BATCH_HEADER_BYTES 64
#define CODEC_LZ4 1

typedef struct batch_loc {
    int fd;
    uint64_t position;
    uint32_t stored_bytes, raw_bytes, codec;
} batch_loc;

typedef struct batch_list {
    batch_loc *v;
    size_t n, cap;
    int fd; /* of the segment being walked */
} batch_list;

static int collect_batch(void *ctx, const siglog_batch_info *b)
{
    batch_list *l = ctx;
    if (!b->valid)
        bench_die("segment walk: %s", b->problem);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        if (!(l->v = realloc(l->v, l->cap * sizeof *l->v)))
            bench_die("out of memory");
    }
    l->v[l->n++] = (batch_loc){l->fd, b->position, b->stored_bytes, b->raw_bytes, b->codec};
    return 0;
}

/* Call fn for every file of partition 0 of stream s0 whose name ends with
 * suffix (NULL: every file). */
static void for_each_partition_file(const char *dir, const char *suffix, void (*fn)(void *ctx, const char *path),
                                    void *ctx)
{
    char pdir[4096], path[4400];
    snprintf(pdir, sizeof pdir, "%s/streams/s0/00000", dir);
    DIR *d = opendir(pdir);
    if (!d)
        bench_die("cannot list %s", pdir);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;
        if (e->d_name[0] == '.' || len < sl || (suffix && strcmp(e->d_name + len - sl, suffix) != 0))
            continue;
        snprintf(path, sizeof path, "%s/%s", pdir, e->d_name);
        fn(ctx, path);
    }
    closedir(d);
}

static void list_segment_batches(void *ctx, const char *path)
{
    batch_list *l = ctx;
    if ((l->fd = open(path, O_RDONLY)) < 0)
        bench_die("cannot open %s", path);
    bench_check(siglog_dump_segment(path, collect_batch, NULL, l), "siglog_dump_segment");
}

/* Every batch of the partition, each with an open descriptor. */
static void list_batches(const char *dir, batch_list *l)
{
    for_each_partition_file(dir, ".seg", list_segment_batches, l);
}

/* "Warm cache" needs the partition to stay in the page cache while it is
 * measured. Some machines reclaim page cache that no process maps once it
 * has gone unread for a while (this one runs a DAMON pageout scheme for
 * unmapped file pages idle for ~60 s), so a random seek would now and then
 * read from the disk. The benchmark maps every file of the partition for
 * the duration, which keeps it cached; siglog itself reads with pread. */
typedef struct pinned {
    void *addr[4096];
    size_t len[4096], n;
} pinned;

static void pin_file(void *ctx, const char *path)
{
    pinned *p = ctx;
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || p->n == sizeof p->addr / sizeof p->addr[0])
        bench_die("cannot pin %s", path);
    if (st.st_size > 0) {
        void *a = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (a == MAP_FAILED)
            bench_die("cannot map %s", path);
        p->addr[p->n] = a;
        p->len[p->n++] = (size_t)st.st_size;
    }
    close(fd);
}

static void unpin(pinned *p)
{
    for (size_t i = 0; i < p->n; i++)
        munmap(p->addr[i], p->len[i]);
    p->n = 0;
}

/* KiB the machine has read from block devices so far (/proc/vmstat). */
static long long disk_read_kib(void)
{
    FILE *f = fopen("/proc/vmstat", "r");
    long long v = -1;
    char name[64];
    long long x;
    while (f && fscanf(f, "%63s %lld", name, &x) == 2)
        if (strcmp(name, "pgpgin") == 0)
            v = x;
    if (f)
        fclose(f);
    return v;
}

/* PREFIX_p50_us, _p99_us and _cpu_us: the CPU time (user + sys) per
 * operation of the span that measured them, which a loaded machine
 * stretches far less than the wall-clock percentiles. */
static void print_latencies(const char *prefix, double *v, size_t n, const bench_span *span)
{
    printf("%s_p50_us=%.2f %s_p99_us=%.2f %s_cpu_us=%.2f ", prefix, stats_percentile(v, n, 0.5), prefix,
           stats_percentile(v, n, 0.99), prefix, span->cpu_secs * 1e6 / (double)n);
}

/* Fetch (and with decode, decompress) one random batch; returns µs. */
static double fetch_batch(const batch_list *l, int decode, uint8_t *in, uint8_t *out)
{
    const batch_loc *b = &l->v[next_rand() % l->n];
    uint64_t t0 = bench_now_ns();
    if (pread(b->fd, in, b->stored_bytes, (off_t)b->position) != (ssize_t)b->stored_bytes)
        bench_die("short read of a batch");
    if (decode && b->codec == CODEC_LZ4) {
        int body = (int)b->stored_bytes - BATCH_HEADER_BYTES;
        if (LZ4_decompress_safe((const char *)in + BATCH_HEADER_BYTES, (char *)out, body,
                                (int)b->raw_bytes) != (int)b->raw_bytes)
            bench_die("batch at %llu does not decompress", (unsigned long long)b->position);
    }
    return (double)(bench_now_ns() - t0) / 1e3;
}

static void fetch_floor(const char *dir, double *v, size_t seeks)
{
    batch_list l = {0};
    list_batches(dir, &l);
    uint8_t *in = malloc(1u << 20), *out = malloc(1u << 20);
    if (!l.n || !in || !out)
        bench_die("no batches to fetch");
    for (int decode = 0; decode < 2; decode++) {
        for (size_t i = 0; i < seeks; i++) /* unmeasured, as for the seeks */
            fetch_batch(&l, decode, in, out);
        bench_span span;
        bench_span_start(&span);
        for (size_t i = 0; i < seeks; i++)
            v[i] = fetch_batch(&l, decode, in, out);
        bench_span_stop(&span);
        const char *k = decode ? "fetch_decode" : "fetch";
        print_latencies(k, v, seeks, &span);
    }
    for (size_t i = 0; i < l.n; i++)
        if (i == 0 || l.v[i].fd != l.v[i - 1].fd)
            close(l.v[i].fd);
    free(l.v);
    free(in);
    free(out);
}

/* How often this thread loses the CPU for a while on this machine: spin
 * on the clock for one second and count the gaps. An operation of t µs
 * meets a gap of more than g µs with a probability of about
 * t x (gaps over g per µs); at p99 that decides a ~25 µs seek. */
static void measure_stalls(void)
{
    uint64_t start = bench_now_ns(), prev = start, over20 = 0, over100 = 0, lost = 0;
    while (prev - start < 1000000000ull) {
        uint64_t t = bench_now_ns(), gap = t - prev;
        if (gap > 20000) {
            over20++;
            lost += gap;
        }
        over100 += gap > 100000;
        prev = t;
    }
    printf("stalls_over_20us_per_s=%llu stalls_over_100us_per_s=%llu stalled_permille=%.2f ",
           (unsigned long long)over20, (unsigned long long)over100, (double)lost / 1e6);
}

int main(int argc, char **argv)
{
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/seek");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 1000000);
    size_t seeks = (size_t)bench_opt_ll(argc, argv, "seeks", 10000);
    bench_batch_bytes_max = (uint32_t)bench_opt_ll(argc, argv, "batch-bytes", 0);
    if (bench_opt_ll(argc, argv, "build", 1)) {
        bench_pool pool;
        pool_generate(&pool, 100000, 42);
        uint64_t t0 = bench_now_ns();
        bench_build_store(dir, &pool, events, 1, 1);
        printf("build_events_per_s=%.1f ", (double)events / ((double)(bench_now_ns() - t0) / 1e9));
        uint64_t disk = bench_disk_bytes(dir, ".seg") + bench_disk_bytes(dir, ".oix") + bench_disk_bytes(dir, ".tix");
        printf("disk_bytes_per_event=%.1f ", (double)disk / (double)events);
        pool_free(&pool);
    }
    siglog_stream *st;
    siglog *s = bench_open_reader(dir, &st);
    siglog_partition_info info;
    bench_check(siglog_partition_info_get(st, 0, &info), "siglog_partition_info_get");
    uint64_t n = info.next_offset;
    double *v = malloc(seeks * sizeof *v);
    static pinned pins;
    if (bench_opt_ll(argc, argv, "pin", 1))
        for_each_partition_file(dir, NULL, pin_file, &pins);
    long long disk_before = disk_read_kib();
    siglog_cursor *cur;
    bench_check(siglog_cursor_open(&cur, st, 0, SIGLOG_SEEK_START, 0, 0), "siglog_cursor_open");
    for (int fresh = 0; fresh < 2; fresh++) {
        if (fresh)
            fetch_floor(dir, v, seeks);
        for (int by_time = 0; by_time < 2; by_time++) {
            siglog_cursor *c = fresh ? NULL : cur;
            /* Fresh cursors cost ~1 ms a seek: a fifth as many keeps the
             * run short and still gives p99 from thousands. */
            size_t count = fresh ? seeks / 5 : seeks;
            /* Warm cache, as the target says: a full unmeasured pass first
             * (index pages of every segment touched once). */
            for (size_t i = 0; i < count; i++)
                one_seek(st, c, by_time, n);
            bench_span span;
            bench_span_start(&span);
            for (size_t i = 0; i < count; i++)
                v[i] = one_seek(st, c, by_time, n);
            bench_span_stop(&span);
            char k[32];
            snprintf(k, sizeof k, "%s%s", fresh ? "fresh_" : "", by_time ? "time" : "offset");
            print_latencies(k, v, count, &span);
        }
    }
    /* The floor: the same batch every time (page cache warm). */
    uint64_t fixed = n / 2;
    bench_span span;
    bench_span_start(&span);
    for (size_t i = 0; i < seeks; i++) {
        const siglog_record *r;
        uint64_t t0 = bench_now_ns();
        bench_check(siglog_cursor_seek(cur, SIGLOG_SEEK_OFFSET, (int64_t)fixed), "siglog_cursor_seek");
        if (siglog_cursor_next(cur, &r) != 1 || r->offset != fixed)
            bench_die("seek to %llu failed", (unsigned long long)fixed);
        v[i] = (double)(bench_now_ns() - t0) / 1e3;
    }
    bench_span_stop(&span);
    print_latencies("one_batch", v, seeks, &span);
    measure_stalls();
    siglog_cursor_close(cur);
    /* Disk reads by anyone on the machine while this measured: 0 when the
     * cache stayed warm. */
    printf("disk_read_kib=%lld events=%llu segments=%llu\n", disk_read_kib() - disk_before, (unsigned long long)n,
           (unsigned long long)info.segment_count);
    unpin(&pins);
    free(v);
    siglog_close(s);
    if (!bench_opt_ll(argc, argv, "keep", 0))
        bench_rm_rf(dir);
    return 0;
}
