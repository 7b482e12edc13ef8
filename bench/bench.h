/*
 * bench.h — what the benchmark programs share: a clock, statistics, the
 * deterministic event generator, the real-event corpus loader, scratch
 * directories and the baseline record encoding.
 *
 * Every program performs ONE repetition of one workload per invocation and
 * prints one line of `key=value` fields on stdout; bench/run repeats and
 * interleaves them and computes medians, so the C side stays simple.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <siglog.h>

/* ---- clock and failure ---- */
uint64_t bench_now_ns(void);
/* A measured section: wall time and this process's CPU time (user + sys of
 * every thread, from getrusage), so that bench/run can compute each ratio on
 * both. On a loaded machine wall times stretch while CPU times hold: a
 * CPU-time ratio that disagrees with its wall-time ratio says the run was
 * disturbed. */
typedef struct bench_span {
    uint64_t wall0_ns, cpu0_ns;
    double secs, cpu_secs; /* set by bench_span_stop */
} bench_span;
void bench_span_start(bench_span *s);
void bench_span_stop(bench_span *s);
/* Print " PREFIXsecs= PREFIXcpu_secs= PREFIXevents_per_s= PREFIXmb_per_s=
 * PREFIXcpu_events_per_s= PREFIXcpu_mb_per_s=" (leading space; MB of
 * value bytes). */
void bench_print_rates(const char *prefix, const bench_span *s, uint64_t events, uint64_t value_bytes);
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Die with siglog's detail when rc != 0. */
void bench_check(int rc, const char *what);

/* ---- statistics (stats.c) ---- */
/* Sorts v in place; q in [0,1]; nearest-rank percentile. */
double stats_percentile(double *v, size_t n, double q);
void stats_sort(double *v, size_t n);

/* ---- events (gen.c) ---- */
/* A pool of events held in one arena, fed identically to siglog and to the
 * raw baselines. Timestamps are assigned by the caller per append so that
 * cycling the pool keeps time increasing. */
typedef struct bench_pool {
    char *arena;
    siglog_event *ev;
    size_t n;
    uint64_t value_bytes; /* sum of value_len */
    uint64_t key_bytes;
} bench_pool;

/* n synthetic signal events (150-400 bytes of JSON each, user keys Zipf
 * over 100k users), fully determined by seed. */
void pool_generate(bench_pool *p, size_t n, uint64_t seed);
/* Every line of every *.jsonl file in dir (sorted by name), no keys.
 * Returns 0, or -1 when dir is absent. */
int pool_corpus(bench_pool *p, const char *dir);
void pool_free(bench_pool *p);
/* The pool a workload's options ask for: --data=corpus (the events of
 * --corpus=DIR; dies when absent) or --data=gen (the default: up to 100k
 * synthetic events, seed 42, cycled to make `events`). */
void pool_from_options(bench_pool *p, int argc, char **argv, uint64_t events);

/* Event i of an endless sequence: the pool cycled, time t0 + i*step. */
#define BENCH_T0_US 1767225600000000LL /* 2026-01-01T00:00:00Z */
#define BENCH_STEP_US 100
static inline void pool_event(const bench_pool *p, uint64_t i, siglog_event *out)
{
    *out = p->ev[i % p->n];
    out->timestamp_us = BENCH_T0_US + (int64_t)i * BENCH_STEP_US;
}

/* ---- scratch (util.c) ---- */
/* Remove a directory tree (no error if absent). */
void bench_rm_rf(const char *path);
/* Allocated bytes (st_blocks*512) of every file under path, and files
 * whose name ends with suffix (NULL: all). */
uint64_t bench_disk_bytes(const char *path, const char *suffix);
/* Peak resident set of this process in KiB. */
long bench_maxrss_kib(void);
/* Parse "--name=value" style options: returns the value or def. */
const char *bench_opt(int argc, char **argv, const char *name, const char *def);
long long bench_opt_ll(int argc, char **argv, const char *name, long long def);

/* Segment size for stores the benchmarks create; 0 = the default. */
extern uint64_t bench_segment_bytes_max;
/* Batch size limit for stores the benchmarks create; 0 = the default. */
extern uint32_t bench_batch_bytes_max;
/* enum siglog_cleanup of streams the benchmarks create (default DELETE). */
extern uint32_t bench_cleanup;
/* Create a store with one stream; returns the open writer. */
siglog *bench_store_create(const char *dir, const char *stream, uint32_t partitions, int lz4, uint32_t sync_policy,
                           uint32_t interval_ms);

/* ---- raw baseline record (baseline.c, also used by bench_replay) ---- */
/* [u32 len of what follows][i64 ts][u32 key_len][key][value] */
#define RAW_REC_HEADER 16u
#define RAW_BLOCK 65536u



/* A whole file, NUL-terminated, in a malloc'd buffer; dies on error. */
char *bench_read_file(const char *path, size_t *len);
/* Append pool events from .. from+events-1 to stream "s0" of s, 1000 a
 * call, by key when it has several partitions. */
void bench_append_range(siglog *s, const bench_pool *pool, uint64_t from, uint64_t events);
/* Fill a fresh store at dir with `events` pool events in 1000-event calls
 * (stream "s0", sync none; by key when partitions > 1) and close it.
 * Returns the writer's peak RSS in KiB at the end. */
long bench_build_store(const char *dir, const bench_pool *pool, uint64_t events, uint32_t partitions, int lz4);
/* Fill a fresh one-partition LZ4 store at dir (stream "s0", sync none)
 * with `events` pool events, every needle_every'th (from needle_every / 2
 * on) keyed `needle`, and close it. Returns the events appended per
 * second (the close included). */
double bench_build_needle_store(const char *dir, uint64_t events, uint64_t needle_every, const char *needle);
/* Open a store read-only and get stream "s0". */
siglog *bench_open_reader(const char *dir, siglog_stream **st);
#endif
