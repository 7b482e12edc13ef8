/*
 * archive_memory — an export streams: exporting a 48 MiB segment in a
 * child whose address space may grow by only 24 MiB past what it had
 * after opening the store succeeds, and the archive holds every record.
 * An export that built the archive in memory needs the segment twice over
 * (its bytes and the file's) and fails there. Its batches come out
 * compressed (LZ4HC) from an uncompressed stream.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define SEGMENT_BYTES (48u << 20)
#define VALUE_BYTES 4000
#define HEADROOM (24ull << 20)

/* Pages of address space this process has now (/proc/self/statm). */
static uint64_t address_space_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    unsigned long pages = 0;
    cr_assert_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Text-like values (hex of a counter-seeded generator): compressible,
 * but not to nothing. Enough of them that the first segment, full,
 * is sealed. Returns how many. */
static uint64_t fill_one_big_segment(siglog_stream *st)
{
    static char value[VALUE_BYTES];
    uint64_t state = 42, n = 0;
    for (; n * VALUE_BYTES < SEGMENT_BYTES + (1u << 20); n++) {
        for (size_t i = 0; i + 16 <= sizeof value; i += 16)
            snprintf(value + i, 17, "%016" PRIx64, test_rand(&state) & UINT64_C(0xffff0fff00ff0f0f));
        siglog_event ev = { .value = value, .value_len = sizeof value, .timestamp_us = (int64_t)n + 1 };
        cr_assert_eq(siglog_append(st, 0, &ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    return n;
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

/* In a child under the address-space limit: export partition 0 of "big". */
static int export_under_limit(const char *store, const char *out)
{
    siglog_maintenance *m;
    if (siglog_maintenance_open(&m, store, NULL) != 0)
        return 2;
    struct rlimit lim = { address_space_bytes() + HEADROOM, RLIM_INFINITY };
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 3;
    char path[4096];
    int rc = siglog_archive_export(m, "big", 0, INT64_MAX, out, 0, path, sizeof path);
    if (rc != 1)
        fprintf(stderr, "export: %d %s\n", rc, siglog_errdetail());
    siglog_maintenance_close(m);
    return rc == 1 ? 0 : 1;
}

Test(archive_memory, an_export_streams_a_segment_larger_than_its_memory, .timeout = 300)
{
    char *root = test_tmpdir("archive-memory");
    char *store = test_path(root, "store"), *out = test_path(root, "out");
    cr_assert_eq(mkdir(out, 0700), 0);
    siglog *s = test_store_open(store, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = SEGMENT_BYTES;
    c.compression = SIGLOG_COMPRESSION_NONE;
    siglog_stream *st;
    cr_assert_eq(siglog_stream_create(s, "big", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_stream_get(s, "big", &st), 0);
    fill_one_big_segment(st);
    cr_assert_eq(siglog_close(s), 0);

    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(export_under_limit(store, out));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the export failed under the limit (status %#x)",
              status);

    /* The archive holds what the segment held, record for record. */
    siglog_archive *a = NULL;
    char *path = the_archive_in(out);
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    const siglog_archive_info *in = siglog_archive_info_get(a);
    cr_assert_eq(in->first_offset, 0);
    cr_assert_eq(in->record_count, in->next_offset);
    cr_assert_gt(in->record_count * VALUE_BYTES, SEGMENT_BYTES - (1u << 20));
    /* The store holds the values uncompressed; the archive's batches are
     * re-encoded with LZ4HC. */
    cr_assert_lt(in->bytes, in->record_count * VALUE_BYTES * 3 / 4, "%" PRIu64 " bytes for %" PRIu64 " records",
                 in->bytes, in->record_count);
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
    test_rmtree(root);
    free(root);
    free(store);
    free(out);
}
