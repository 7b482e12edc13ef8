/*
 * archive_filter — the key filter an archive carries per segment (archive
 * version 2, FORMAT.md §24): written by every export, holding every key of
 * its segment (never a false negative, over random keys), guarded by its
 * own checksum so that a damaged one is reported with the file and byte
 * and not used while the archive still reads; a version 1 archive (the
 * kept vector) still reads, without filters.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "io.h"
#include "support.h"

#define EVENTS 3000

/* A store whose stream "ev" holds EVENTS events of random keys (a few
 * without one) in several sealed segments, exported whole into root/out;
 * *path gets the archive. */
static char *export_random_keys(const char *root, uint64_t seed, char *path, size_t cap)
{
    char *store = test_path(root, "store"), *out = test_path(root, "out");
    cr_assert_eq(mkdir(out, 0700), 0);
    siglog *s = test_store_open(store, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 << 10;
    c.batch_bytes_max = 4 << 10;
    c.compression = SIGLOG_COMPRESSION_NONE;
    cr_assert_eq(siglog_stream_create(s, "ev", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    srand((unsigned)seed);
    for (int i = 0; i < EVENTS; i++) {
        char key[32], value[400];
        int klen = snprintf(key, sizeof key, "user-%d-%d", rand(), rand() % 7);
        snprintf(value, sizeof value, "{\"i\":%d,\"pad\":\"%0300d\"}", i, i);
        siglog_event ev = { .key = key, .key_len = i % 13 ? (size_t)klen : 0, .value = value,
                            .value_len = strlen(value), .timestamp_us = 1700000000000000 + i };
        cr_assert_eq(siglog_append(st, 0, &ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, store, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_archive_export(m, "ev", 0, INT64_MAX, out, 0, path, cap), 1, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    free(store);
    return out;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out);
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof buf, in)) > 0;)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

/* An export of random keys (export_random_keys) under a fresh root,
 * opened. */
typedef struct exported {
    char *root, *out;
    char path[4096];
    archive_file f;
} exported;

static void exported_open(exported *x, const char *tag, uint64_t seed)
{
    x->root = test_tmpdir(tag);
    x->out = export_random_keys(x->root, seed, x->path, sizeof x->path);
    cr_assert_eq(sl_archive_file_open(&x->f, sl_io_posix(), x->path), 0, "%s", siglog_errdetail());
}

static void exported_free(exported *x)
{
    sl_archive_file_close(&x->f);
    free(x->out);
    test_rmtree(x->root);
    free(x->root);
}

/* How many records f reads, every one read. */
static uint64_t records_of(archive_file *f)
{
    siglog_record rec;
    uint64_t n = 0;
    int rc;
    while ((rc = sl_archive_file_next(f, &rec)) == 1)
        n++;
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    return n;
}

/* Every record of archive f lies in a segment whose filter holds its key. */
static void assert_filters_hold_every_key(archive_file *f)
{
    cr_assert_eq(f->view.version, 2);
    cr_assert_gt(f->view.segment_count, 2, "several segments");
    for (uint32_t i = 0; i < f->view.segment_count; i++) {
        keyfilter kf;
        cr_assert_eq(sl_archive_file_filter(f, i, &kf), 1, "segment %u: %s", i, siglog_errdetail());
        archive_segment seg = sl_archive_segment_at(&f->view, i);
        archive_batch_file bf = sl_archive_file_segment(f, i);
        archive_records r = { .bf = bf };
        siglog_record rec;
        uint64_t n = 0;
        int rc;
        while ((rc = sl_archive_records_next(&r, &rec)) == 1) {
            cr_assert(rec.offset >= seg.base_offset && rec.offset < seg.end_offset);
            cr_assert(sl_keyfilter_may_contain(&kf, sl_keyfilter_hash(rec.key, rec.key_len)),
                      "segment %u excludes the key of offset %llu", i, (unsigned long long)rec.offset);
            n++;
        }
        cr_assert_eq(rc, 0, "%s", siglog_errdetail());
        cr_assert_eq(n, seg.record_count);
        sl_archive_records_free(&r);
        sl_keyfilter_free(&kf);
    }
}

Test(archive_filter, every_segment_carries_a_filter_of_its_keys)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        char tag[32];
        snprintf(tag, sizeof tag, "archive-filter-%llu", (unsigned long long)seed);
        exported x;
        exported_open(&x, tag, seed);
        assert_filters_hold_every_key(&x.f);
        cr_assert_eq(sl_archive_file_check_filters(&x.f), 0, "%s", siglog_errdetail());
        /* Past the last segment: refused, nothing read beyond the table. */
        keyfilter kf;
        cr_assert_eq(sl_archive_file_filter(&x.f, x.f.view.segment_count, &kf), SIGLOG_EINVAL);
        cr_assert(strstr(siglog_errdetail(), "no segment"), "%s", siglog_errdetail());
        exported_free(&x);
    }
}

/* Its filter's false positives stay near the design's 1.3 % (a key never
 * appended, tested against every segment). */
Test(archive_filter, keys_not_held_are_mostly_excluded)
{
    exported x;
    exported_open(&x, "archive-filter-fp", 9);
    archive_file f = x.f;
    uint64_t probes = 0, passed = 0;
    for (uint32_t i = 0; i < f.view.segment_count; i++) {
        keyfilter kf;
        cr_assert_eq(sl_archive_file_filter(&f, i, &kf), 1, "%s", siglog_errdetail());
        for (int k = 0; k < 20000; k++, probes++) {
            char key[32];
            int len = snprintf(key, sizeof key, "absent-%d", k);
            passed += (uint64_t)sl_keyfilter_may_contain(&kf, sl_keyfilter_hash(key, (size_t)len));
        }
        sl_keyfilter_free(&kf);
    }
    cr_assert_lt(passed * 1000, probes * 30, "%llu of %llu absent keys passed", (unsigned long long)passed,
                 (unsigned long long)probes);
    exported_free(&x);
}

/* A flipped byte anywhere in a segment's filter: the archive still opens
 * and reads every record; that filter is refused naming the file and the
 * filter's byte, the others are still used. */
Test(archive_filter, a_damaged_filter_costs_only_itself)
{
    exported x;
    exported_open(&x, "archive-filter-damage", 5);
    uint64_t at = x.f.view.filter_pos, len = sl_archive_segment_at(&x.f.view, 0).filter_bytes;
    uint64_t records = x.f.view.meta.record_count;
    char *copy = test_path(x.root, "copy.sgar");
    archive_file f;
    for (uint64_t pos = at; pos < at + len; pos += pos < at + 64 || pos > at + len - 16 ? 1 : 97) {
        copy_file(x.path, copy);
        test_flip_byte(copy, pos, 0x04);
        cr_assert_eq(sl_archive_file_open(&f, sl_io_posix(), copy), 0, "byte %llu: %s", (unsigned long long)pos,
                     siglog_errdetail());
        keyfilter kf;
        cr_assert_eq(sl_archive_file_filter(&f, 0, &kf), SIGLOG_ECORRUPT, "byte %llu", (unsigned long long)pos);
        char want[64];
        snprintf(want, sizeof want, "byte %llu", (unsigned long long)at);
        cr_assert(strstr(siglog_errdetail(), "copy.sgar") && strstr(siglog_errdetail(), want), "%s",
                  siglog_errdetail());
        cr_assert_eq(sl_archive_file_check_filters(&f), SIGLOG_ECORRUPT);
        cr_assert(strstr(siglog_errdetail(), want), "%s", siglog_errdetail());
        cr_assert_eq(sl_archive_file_filter(&f, 1, &kf), 1, "%s", siglog_errdetail());
        sl_keyfilter_free(&kf);
        uint64_t n = records_of(&f);
        cr_assert_eq(n, records);
        sl_archive_file_close(&f);
    }
    free(copy);
    exported_free(&x);
}

/* The version 1 archives of vectors-v1/cold, written before filters,
 * still open and read whole; they have no filter to use. */
Test(archive_filter, a_version_1_archive_reads_without_filters)
{
    const char *v1 = getenv("SIGLOG_FORMAT_VECTORS_V1");
    cr_assert_not_null(v1);
    char *dir = test_path(v1, "cold/cold");
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".sgar"))
            continue;
        char *path = test_path(dir, e->d_name);
        archive_file f;
        cr_assert_eq(sl_archive_file_open(&f, sl_io_posix(), path), 0, "%s", siglog_errdetail());
        cr_assert_eq(f.view.version, 1);
        keyfilter kf;
        cr_assert_eq(sl_archive_file_filter(&f, 0, &kf), 0);
        uint64_t n = records_of(&f);
        cr_assert_eq(n, f.view.meta.record_count);
        cr_assert_gt(n, 0);
        sl_archive_file_close(&f);
        free(path);
        seen++;
    }
    closedir(d);
    cr_assert_eq(seen, 2);
    free(dir);
}
