/*
 * util — clock, failure, scratch trees, disk usage, options and store
 * set-up for the benchmark programs.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_now_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        bench_die("getrusage failed");
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

void bench_span_start(bench_span *s)
{
    s->cpu0_ns = cpu_now_ns();
    s->wall0_ns = bench_now_ns();
}

void bench_span_stop(bench_span *s)
{
    s->secs = (double)(bench_now_ns() - s->wall0_ns) / 1e9;
    s->cpu_secs = (double)(cpu_now_ns() - s->cpu0_ns) / 1e9;
}

void bench_print_rates(const char *prefix, const bench_span *s, uint64_t events, uint64_t value_bytes)
{
    /* getrusage ticks in microseconds; a section shorter than that has no
     * meaningful CPU rate. */
    double cpu = s->cpu_secs > 1e-6 ? s->cpu_secs : 1e-6;
    printf(" %ssecs=%.6f %scpu_secs=%.6f %sevents_per_s=%.1f %smb_per_s=%.2f %scpu_events_per_s=%.1f "
           "%scpu_mb_per_s=%.2f",
           prefix, s->secs, prefix, s->cpu_secs, prefix, (double)events / s->secs, prefix,
           (double)value_bytes / s->secs / 1e6, prefix, (double)events / cpu, prefix, (double)value_bytes / cpu / 1e6);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void bench_check(int rc, const char *what)
{
    if (rc < 0)
        bench_die("%s: %s (%s)", what, siglog_strerror(rc), siglog_errdetail());
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bench_rm_rf(const char *path)
{
    nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static uint64_t du_total;
static const char *du_suffix;

static int du_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    size_t l = strlen(path), sl = du_suffix ? strlen(du_suffix) : 0;
    if (!du_suffix || (l >= sl && strcmp(path + l - sl, du_suffix) == 0))
        du_total += (uint64_t)sb->st_blocks * 512u;
    return 0;
}

uint64_t bench_disk_bytes(const char *path, const char *suffix)
{
    du_total = 0;
    du_suffix = suffix;
    nftw(path, du_one, 32, FTW_PHYS);
    return du_total;
}

long bench_maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

const char *bench_opt(int argc, char **argv, const char *name, const char *def)
{
    size_t l = strlen(name);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, l) == 0 && argv[i][2 + l] == '=')
            return argv[i] + 3 + l;
    return def;
}

long long bench_opt_ll(int argc, char **argv, const char *name, long long def)
{
    const char *v = bench_opt(argc, argv, name, NULL);
    return v ? strtoll(v, NULL, 10) : def;
}

uint64_t bench_segment_bytes_max;
uint32_t bench_batch_bytes_max;
uint32_t bench_cleanup;

siglog *bench_store_create(const char *dir, const char *stream, uint32_t partitions, int lz4, uint32_t sync_policy,
                           uint32_t interval_ms)
{
    bench_rm_rf(dir);
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    siglog *s;
    bench_check(siglog_open(&s, dir, &o), "siglog_open");
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = partitions;
    c.compression = lz4 ? SIGLOG_COMPRESSION_LZ4 : SIGLOG_COMPRESSION_NONE;
    c.sync_policy = sync_policy;
    if (interval_ms)
        c.sync_interval_ms = interval_ms;
    if (bench_segment_bytes_max)
        c.segment_bytes_max = bench_segment_bytes_max;
    if (bench_batch_bytes_max)
        c.batch_bytes_max = bench_batch_bytes_max;
    c.cleanup = bench_cleanup;
    bench_check(siglog_stream_create(s, stream, &c), "siglog_stream_create");
    return s;
}

char *bench_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        bench_die("cannot open %s", path);
    long size = ftell(f);
    rewind(f);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
        bench_die("cannot read %s", path);
    fclose(f);
    buf[size] = '\0';
    *len = (size_t)size;
    return buf;
}

void bench_append_range(siglog *s, const bench_pool *pool, uint64_t from, uint64_t events)
{
    siglog_stream *st;
    bench_check(siglog_stream_get(s, "s0", &st), "siglog_stream_get");
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    uint32_t partition = c.partitions > 1 ? SIGLOG_PARTITION_BY_KEY : 0;
    siglog_event evs[1000];
    for (uint64_t i = 0; i < events; i += 1000) {
        uint64_t n = events - i < 1000 ? events - i : 1000;
        for (uint64_t k = 0; k < n; k++)
            pool_event(pool, from + i + k, &evs[k]);
        bench_check(siglog_append(st, partition, evs, n, NULL, NULL), "siglog_append");
    }
}

long bench_build_store(const char *dir, const bench_pool *pool, uint64_t events, uint32_t partitions, int lz4)
{
    siglog *s = bench_store_create(dir, "s0", partitions, lz4, SIGLOG_SYNC_NONE, 0);
    bench_append_range(s, pool, 0, events);
    bench_check(siglog_close(s), "siglog_close");
    return bench_maxrss_kib();
}

double bench_build_needle_store(const char *dir, uint64_t events, uint64_t needle_every, const char *needle)
{
    bench_pool pool;
    pool_generate(&pool, 100000, 42);
    siglog *s = bench_store_create(dir, "s0", 1, 1, SIGLOG_SYNC_NONE, 0);
    siglog_stream *st;
    bench_check(siglog_stream_get(s, "s0", &st), "siglog_stream_get");
    siglog_event batch[1000];
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < events;) {
        size_t n = 0;
        for (; n < 1000 && i < events; n++, i++) {
            pool_event(&pool, i, &batch[n]);
            if (i % needle_every == needle_every / 2) {
                batch[n].key = needle;
                batch[n].key_len = strlen(needle);
            }
        }
        bench_check(siglog_append(st, 0, batch, n, NULL, NULL), "siglog_append");
    }
    bench_check(siglog_close(s), "siglog_close");
    pool_free(&pool);
    return (double)events / ((double)(bench_now_ns() - t0) / 1e9);
}

siglog *bench_open_reader(const char *dir, siglog_stream **st)
{
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s;
    bench_check(siglog_open(&s, dir, &o), "siglog_open (read-only)");
    bench_check(siglog_stream_get(s, "s0", st), "siglog_stream_get");
    return s;
}
