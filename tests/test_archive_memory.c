/*
 * archive_memory — archives stream: a 48 MiB segment is moved out as an
 * archive, the archive read through and restored, in a child whose
 * resident memory grows by at most 16 MiB at its peak (VmHWM, reset once
 * the store is open), and the store then holds every event again; the
 * archive (over 24 MiB) holds every record. An export, reader or restore
 * that held the segment or the archive in memory goes past the bound. Its batches come out
 * compressed (LZ4HC) from an uncompressed stream.
 * Likewise a forget of a key over such an archive, exported
 * (forget_archive.h): its rewrite stays within the bound (holding the
 * kept batches, it peaked at 70 MB), and the archive keeps every other
 * record at its offset.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define SEGMENT_BYTES (48u << 20)
#define VALUE_BYTES 4000
#define RANDOM_BYTES 3000
#define HEADROOM (16ull << 20)

/* A figure of /proc/self/status ("VmRSS:", "VmHWM:") in bytes. */
static uint64_t status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return UINT64_MAX;
    char line[256];
    unsigned long long kib = UINT64_MAX / 1024;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            sscanf(line + strlen(field), "%llu", &kib);
    fclose(f);
    return (uint64_t)kib * 1024;
}

/* Start measuring the peak resident size afresh (clear_refs 5 resets
 * VmHWM to VmRSS): 0, or -1 where the kernel cannot. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Values of random hex text (which LZ4 cannot shrink) for three
 * quarters and one repeated byte for the rest: the archive, compressed,
 * stays larger than the headroom. EVENTS of them: enough that the first
 * segment, full, is sealed. */
#define EVENTS ((SEGMENT_BYTES + (1u << 20)) / VALUE_BYTES)

/* keyed: event n's key is "k-<n % 10>" (else none). */
static int fill(const char *store, int keyed)
{
    static char value[VALUE_BYTES];
    siglog *s = test_store_open(store, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = SEGMENT_BYTES;
    c.compression = SIGLOG_COMPRESSION_NONE;
    siglog_stream *st;
    if (siglog_stream_create(s, "events", &c) != 0 || siglog_stream_get(s, "events", &st) != 0)
        return 1;
    uint64_t state = 42;
    for (uint64_t n = 0; n < EVENTS; n++) {
        memset(value, 'x', sizeof value);
        for (size_t i = 0; i + 16 <= RANDOM_BYTES; i += 16)
            snprintf(value + i, 17, "%016" PRIx64, test_rand(&state));
        value[RANDOM_BYTES] = 'x';
        char key[8];
        snprintf(key, sizeof key, "k-%d", (int)(n % 10));
        siglog_event ev = { .key = keyed ? key : NULL, .key_len = keyed ? strlen(key) : 0, .value = value,
                            .value_len = sizeof value, .timestamp_us = (int64_t)n + 1 };
        if (siglog_append(st, 0, &ev, 1, NULL, NULL) != 0)
            return 1;
    }
    return siglog_close(s) != 0;
}

/* Run fn(store, out) in a child and return its exit status: the memory a
 * child uses stays its own, so each starts from the test's. */
static int in_child(int (*fn)(const char *, const char *), const char *store, const char *out)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(fn(store, out));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int fill_child(const char *store, const char *out)
{
    (void)out;
    return fill(store, 0);
}

static int fill_keyed_child(const char *store, const char *out)
{
    (void)out;
    return fill(store, 1);
}

/* The path of the one archive in dir. */
static char *the_archive_in(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    char *path = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".sgar") || strstr(e->d_name, ".tmp"))
            continue;
        cr_assert_null(path, "more than one archive in %s", dir);
        path = test_path(dir, e->d_name);
    }
    closedir(d);
    cr_assert_not_null(path, "no archive in %s", dir);
    return path;
}

/* How many records the archive at path hands out in order, or -1. */
static long records_in(const char *path)
{
    siglog_archive *a;
    if (siglog_archive_open(&a, path) != 0)
        return -1;
    const siglog_record *r;
    long n = 0;
    int rc;
    while ((rc = siglog_archive_next(a, &r)) == 1 && r->offset == (uint64_t)n)
        n++;
    siglog_archive_close(a);
    return rc == 0 ? n : -1;
}

/* ASan's quarantine keeps freed memory resident, so under it the peak says
 * nothing of the code's own bound: the steps still run, unmeasured. */
#if defined(__SANITIZE_ADDRESS__)
#define RESIDENT_BOUND_HOLDS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RESIDENT_BOUND_HOLDS 0
#endif
#endif
#ifndef RESIDENT_BOUND_HOLDS
#define RESIDENT_BOUND_HOLDS 1
#endif

/* In a child: step(m, out) on a maintenance handle of store, its resident
 * memory growing by at most HEADROOM at its peak. 0, the step's non-zero
 * status, or 7 past the bound; said on stderr. */
static int within_bound(const char *store, const char *out, int (*step)(siglog_maintenance *m, const char *out))
{
    siglog_maintenance *m;
    if (siglog_maintenance_open(&m, store, NULL) != 0)
        return 2;
    uint64_t before = status_bytes("VmRSS:");
    if (reset_peak() != 0)
        return 3;
    int status = step(m, out);
    uint64_t peak = status_bytes("VmHWM:");
    if (!status && RESIDENT_BOUND_HOLDS && peak > before + HEADROOM)
        status = 7;
    if (status)
        fprintf(stderr, "step %d: %s; resident %llu bytes at the start, %llu at the peak\n", status,
                siglog_errdetail(), (unsigned long long)before, (unsigned long long)peak);
    siglog_maintenance_close(m);
    return status;
}

/* Move partition 0 of "events" out as an archive, read the archive
 * through, restore it. */
static int round_trip(siglog_maintenance *m, const char *out)
{
    char path[4096];
    int rc = siglog_archive_export(m, "events", 0, INT64_MAX, out, SIGLOG_ARCHIVE_MOVE, path, sizeof path);
    int status = rc == 1 ? 0 : 4;
    if (!status && records_in(path) <= 0)
        status = 5;
    siglog_restore_result res;
    if (!status && siglog_archive_restore(m, path, &res) != 1)
        status = 6;
    return status;
}

static int round_trip_within_bound(const char *store, const char *out)
{
    return within_bound(store, out, round_trip);
}

/* A store filled by fill in a child (the appends' memory stays out of
 * the process that the measured child is forked from) and an empty
 * directory out, both beneath a fresh root. */
typedef struct fixture {
    char *root, *store, *out;
} fixture;

static fixture filled(const char *tag, int (*fill)(const char *, const char *))
{
    fixture f = { .root = test_tmpdir(tag) };
    f.store = test_path(f.root, "store");
    f.out = test_path(f.root, "out");
    cr_assert_eq(mkdir(f.out, 0700), 0);
    cr_assert_eq(in_child(fill, f.store, f.out), 0, "filling the store failed");
    return f;
}

static void fixture_drop(fixture *f)
{
    test_rmtree(f->root);
    free(f->root);
    free(f->store);
    free(f->out);
}

Test(archive_memory, a_segment_larger_than_the_memory_moves_out_reads_and_comes_back, .timeout = 300)
{
    fixture fx = filled("archive-memory", fill_child);
    const char *store = fx.store, *out = fx.out;
    int status = in_child(round_trip_within_bound, store, out);
    cr_assert_eq(status, 0, "a step failed or went past the bound (exit %d)", status);
    char detail[512];
    cr_assert_eq(test_count_events(store, NULL, detail, sizeof detail), (long)EVENTS, "%s", detail);

    /* The archive holds what the segment held, record for record. */
    siglog_archive *a = NULL;
    char *path = the_archive_in(out);
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    const siglog_archive_info *in = siglog_archive_info_get(a);
    cr_assert_eq(in->first_offset, 0);
    cr_assert_eq(in->record_count, in->next_offset);
    cr_assert_gt(in->record_count * VALUE_BYTES, SEGMENT_BYTES - (1u << 20));
    /* The store holds the values uncompressed; the archive's batches are
     * re-encoded with LZ4HC, which leaves about the random part. */
    cr_assert_lt(in->bytes, in->record_count * VALUE_BYTES * 9 / 10, "%" PRIu64 " bytes for %" PRIu64 " records",
                 in->bytes, in->record_count);
    cr_assert_gt(in->bytes, HEADROOM * 3 / 2, "the archive (%" PRIu64 " bytes) must not fit the headroom", in->bytes);
    const siglog_record *r;
    uint64_t next = 0;
    int rc;
    while ((rc = siglog_archive_next(a, &r)) == 1) {
        cr_assert_eq(r->offset, next);
        cr_assert_eq(r->timestamp_us, (int64_t)next + 1);
        cr_assert_eq(r->value_len, VALUE_BYTES);
        next++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(next, in->record_count);
    siglog_archive_close(a);
    free(path);
    fixture_drop(&fx);
}

/* Forget key "k-3" over the archive directory out (the store's big
 * segment exported there): the rewrite streams, where holding the kept
 * batches (nine tenths of an archive over 24 MiB) goes past the bound. */
static int forget_k3(siglog_maintenance *m, const char *out)
{
    siglog_key key = { "k-3", 3 };
    const char *dirs[] = { out };
    siglog_forget_options o = { .archive_dirs = dirs, .archive_dir_count = 1 };
    siglog_forget_result res;
    return siglog_forget(m, "events", &key, 1, &o, &res) == 0 && res.archives_rewritten == 1 ? 0 : 4;
}

static int forget_within_bound(const char *store, const char *out)
{
    return within_bound(store, out, forget_k3);
}

Test(archive_memory, a_forget_over_an_archive_larger_than_the_memory_streams, .timeout = 300)
{
    fixture fx = filled("archive-memory-forget", fill_keyed_child);
    const char *store = fx.store, *out = fx.out;
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, store, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_archive_export(m, "events", 0, INT64_MAX, out, SIGLOG_ARCHIVE_MOVE, NULL, 0), 1, "%s",
                 siglog_errdetail());
    siglog_maintenance_close(m);
    char *path = the_archive_in(out);
    long records = records_in(path);
    cr_assert_gt(records, 0);
    int status = in_child(forget_within_bound, store, out);
    cr_assert_eq(status, 0, "the forget failed or went past the bound (exit %d)", status);

    /* The archive keeps every other record, at its offset. */
    siglog_archive *a = NULL;
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    cr_assert_gt(siglog_archive_info_get(a)->bytes, HEADROOM * 3 / 2);
    const siglog_record *r;
    long n = 0;
    int rc;
    while ((rc = siglog_archive_next(a, &r)) == 1) {
        cr_assert_neq(r->offset % 10, 3);
        cr_assert_eq(r->timestamp_us, (int64_t)r->offset + 1);
        n++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(n, records - (records + 6) / 10);
    siglog_archive_close(a);
    free(path);
    fixture_drop(&fx);
}
