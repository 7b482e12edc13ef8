/*
 * bench_keyfilter — `replay --key` over a long one-partition stream whose
 * sealed segments carry key filters (format-spec/FORMAT.md §23): how many
 * segments a cursor with a key reads, against how many hold the key.
 *
 *   --build=1 --events=N   fill a fresh LZ4 store first (timed apart:
 *                          build_events_per_s includes the key filter
 *                          every roll writes); pool events, keys Zipf over
 *                          100k users, and every --needle-every'th event
 *                          (default: one in 1 % of the segments) keyed
 *                          "needle"
 *   --segment-bytes=B      segment size (default 4 MiB: many segments)
 *   --keep=1               leave the store for the next repetition
 *
 * Figures (the target: a key present in 1 % of the segments reads at most
 * 5 % of them): segments, key_segments (holding the needle, from the
 * offsets found and the segment bases), key_segments_read (distinct .seg files the
 * key cursor opened, counted by an I/O backend wrapped around POSIX),
 * read_pct, and the times of the key read and of a full scan of the
 * partition.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "io.h"
#include "options_io.h"

#define NEEDLE "needle"

/* The distinct .seg files opened since the last reset. */
static char **segs_seen;
static size_t segs_opened, segs_cap;

static int counting_open(const siglog_io *io, const char *path, unsigned flags, uint32_t mode)
{
    (void)io;
    size_t n = strlen(path), i = 0;
    if (n > 4 && strcmp(path + n - 4, ".seg") == 0) {
        while (i < segs_opened && strcmp(segs_seen[i], path) != 0)
            i++;
        if (i == segs_opened) {
            if (segs_opened == segs_cap && !(segs_seen = realloc(segs_seen, (segs_cap = 2 * segs_cap + 64) * sizeof *segs_seen)))
                bench_die("out of memory");
            segs_seen[segs_opened++] = strdup(path);
        }
    }
    return sl_io_posix()->open_file(sl_io_posix(), path, flags, mode);
}

static void segs_reset(void)
{
    while (segs_opened)
        free(segs_seen[--segs_opened]);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorted base offsets of the partition's segment files. */
static size_t segment_bases(const char *dir, uint64_t **out)
{
    char pdir[4096];
    snprintf(pdir, sizeof pdir, "%s/streams/s0/00000", dir);
    DIR *d = opendir(pdir);
    if (!d)
        bench_die("opendir %s", pdir);
    size_t n = 0, cap = 1024;
    uint64_t *v = malloc(cap * sizeof *v);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len != 24 || strcmp(e->d_name + 20, ".seg") != 0)
            continue;
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = strtoull(e->d_name, NULL, 10);
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_u64);
    *out = v;
    return n;
}

/* Read partition 0, with the needle key or without: records read, and
 * the needle offsets into found (when not NULL). */
static uint64_t read_all(const char *dir, int with_key, uint64_t *found, size_t found_max, size_t *nfound,
                         double *secs)
{
    static siglog_io counting;
    counting = *sl_io_posix();
    counting.open_file = counting_open;
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    sl_options_set_io(&o, &counting);
    siglog *s;
    bench_check(siglog_open(&s, dir, &o), "siglog_open");
    siglog_stream *st;
    bench_check(siglog_stream_get(s, "s0", &st), "siglog_stream_get");
    segs_reset();
    uint64_t t0 = bench_now_ns(), n = 0;
    siglog_cursor *c;
    bench_check(siglog_cursor_open(&c, st, 0, SIGLOG_SEEK_START, 0, 0), "siglog_cursor_open");
    if (with_key)
        bench_check(siglog_cursor_set_key(c, NEEDLE, strlen(NEEDLE)), "siglog_cursor_set_key");
    const siglog_record *r;
    int rc;
    while ((rc = siglog_cursor_next(c, &r)) == 1) {
        if (found && *nfound < found_max)
            found[(*nfound)++] = r->offset;
        n++;
    }
    bench_check(rc, "siglog_cursor_next");
    *secs = (double)(bench_now_ns() - t0) / 1e9;
    siglog_cursor_close(c);
    bench_check(siglog_close(s), "siglog_close");
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = bench_opt(argc, argv, "dir", "bench/tmp/keyfilter");
    uint64_t events = (uint64_t)bench_opt_ll(argc, argv, "events", 1000000);
    bench_segment_bytes_max = (uint64_t)bench_opt_ll(argc, argv, "segment-bytes", 4 << 20);
    if (bench_opt_ll(argc, argv, "build", 1)) {
        /* ~100 LZ4 bytes an event: a segment holds segment_bytes / 100
         * events; one needle per 100 segments. */
        uint64_t every = (uint64_t)bench_opt_ll(argc, argv, "needle-every", (long long)(bench_segment_bytes_max));
        printf("build_events_per_s=%.1f ", bench_build_needle_store(dir, events, every ? every : 1, NEEDLE));
    }
    uint64_t *bases;
    size_t nseg = segment_bases(dir, &bases);
    size_t found_max = 1 << 20, nfound = 0;
    uint64_t *found = malloc(found_max * sizeof *found);
    double key_secs, scan_secs;
    uint64_t keyed = read_all(dir, 1, found, found_max, &nfound, &key_secs);
    size_t key_read = segs_opened;
    uint64_t all = read_all(dir, 0, NULL, 0, &nfound, &scan_secs);
    size_t scan_read = segs_opened;
    size_t holding = 0;
    for (size_t i = 0, s = 0; i < nfound; i++) {
        size_t seg = s;
        while (seg + 1 < nseg && bases[seg + 1] <= found[i])
            seg++;
        if (i == 0 || seg != s)
            holding++;
        s = seg;
    }
    printf("events=%llu segments=%zu needle_events=%llu key_segments=%zu key_segments_read=%zu "
           "scan_segments_read=%zu read_pct=%.2f key_pct=%.2f key_secs=%.4f scan_secs=%.4f speedup=%.1f\n",
           (unsigned long long)all, nseg, (unsigned long long)keyed, holding, key_read, scan_read,
           100.0 * (double)key_read / (double)nseg, 100.0 * (double)holding / (double)nseg, key_secs, scan_secs,
           scan_secs / key_secs);
    segs_reset();
    free(segs_seen);
    free(found);
    free(bases);
    if (!bench_opt_ll(argc, argv, "keep", 0))
        bench_rm_rf(dir);
    return 0;
}
