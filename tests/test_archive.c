/*
 * archive — siglog_archive_export and siglog_archive_open: an archive of
 * a partition's sealed segments reads back, alone, exactly the records the
 * store holds at those offsets; damage anywhere in the file is refused
 * before a record is handed out; the export is audited, leaves the store
 * as it was, writes nothing when nothing qualifies, and a power cut at any
 * of its I/O calls leaves no archive or a whole one.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_crash.h"
#include "support.h"

#define EVENTS 600

typedef struct fx {
    char *root, *store, *out;
} fx;

/* A store with stream "ev" (1 partition, 64 KiB segments, no
 * compression) holding EVENTS test events: several sealed segments. */
static fx make_store(const char *tag)
{
    fx f = { .root = test_tmpdir(tag) };
    f.store = test_path(f.root, "store");
    f.out = test_path(f.root, "out");
    cr_assert_eq(mkdir(f.out, 0700), 0);
    siglog *s = test_store_open(f.store, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.segment_bytes_max = 64 << 10;
    c.compression = SIGLOG_COMPRESSION_NONE;
    c.batch_bytes_max = 4 << 10;
    cr_assert_eq(siglog_stream_create(s, "ev", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    for (uint64_t i = 0; i < EVENTS; i++) {
        test_event t;
        test_event_make(&t, 7, i);
        cr_assert_eq(siglog_append(st, 0, &t.ev, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
    return f;
}

static void fx_free(fx *f)
{
    test_rmtree(f->root);
    free(f->root);
    free(f->store);
    free(f->out);
}

/* Export partition 0 of "ev" from a writer handle on f->store. */
static int export(const fx *f, int64_t before_us, char *path, size_t cap)
{
    siglog *s = test_store_open(f->store, NULL);
    int rc = siglog_archive_export(s, "ev", 0, before_us, f->out, path, cap);
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_geq(rc, 0, "%s", detail);
    return rc;
}

static size_t archives_in(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".sgar") && !strstr(e->d_name, ".tmp");
    closedir(d);
    return n;
}

/* Keep the last audit record's action, range and detail (copied). */
static int last_record(void *ctx, const siglog_audit_record *r)
{
    siglog_audit_record *keep = ctx;
    free((char *)keep->action);
    free((char *)keep->detail);
    *keep = *r;
    keep->action = strdup(r->action);
    keep->detail = strdup(r->detail);
    return 0;
}

Test(archive, reads_back_alone_what_the_store_holds)
{
    fx f = make_store("archive-read");
    char path[4096];
    cr_assert_eq(export(&f, INT64_MAX, path, sizeof path), 1);
    siglog_archive *a;
    cr_assert_eq(siglog_archive_open(&a, path), 0, "%s", siglog_errdetail());
    const siglog_archive_info *in = siglog_archive_info_get(a);
    cr_assert_str_eq(in->stream, "ev");
    cr_assert_eq(in->partition, 0);
    cr_assert_eq(in->first_offset, 0);
    cr_assert_gt(in->segment_count, 1, "several sealed segments");
    cr_assert_lt(in->next_offset, EVENTS, "the active segment stays out");
    cr_assert_eq(in->record_count, in->next_offset, "dense offsets");
    /* Three schema versions (i % 3), each counted. */
    cr_assert_eq(in->schema_count, 3);
    uint64_t total = 0;
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t v;
        uint64_t n;
        cr_assert_eq(siglog_archive_schema(a, i, &v, &n), 0);
        cr_assert_eq(v, i);
        total += n;
    }
    cr_assert_eq(total, in->record_count);
    int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
    const siglog_record *r;
    uint64_t n = 0;
    int rc;
    while ((rc = siglog_archive_next(a, &r)) == 1) {
        test_event t;
        test_event_make(&t, 7, n);
        cr_assert_eq(r->offset, n);
        cr_assert_eq(r->partition, 0);
        test_assert_record_eq(r, &t.ev);
        min_ts = r->timestamp_us < min_ts ? r->timestamp_us : min_ts;
        max_ts = r->timestamp_us > max_ts ? r->timestamp_us : max_ts;
        n++;
    }
    cr_assert_eq(rc, 0, "%s", siglog_errdetail());
    cr_assert_eq(n, in->record_count);
    cr_assert_eq(in->min_timestamp_us, min_ts);
    cr_assert_eq(in->max_timestamp_us, max_ts);
    uint64_t in_next = in->next_offset;
    siglog_archive_close(a);

    /* Audited, and the store still holds and serves every event. */
    siglog *s = test_store_open(f.store, NULL);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
    cr_assert_eq(test_read_all(st, 0, NULL, NULL), EVENTS);
    siglog_audit_record seen = { 0 };
    cr_assert_eq(siglog_audit_read(s, 1, last_record, &seen, NULL), 0, "%s", siglog_errdetail());
    cr_assert_str_eq(seen.action, "archive");
    cr_assert_eq(seen.partition, 0);
    cr_assert_eq(seen.offset_start, 0);
    cr_assert_eq(seen.offset_end, in_next);
    cr_assert_eq(seen.events, in_next);
    cr_assert(strstr(seen.detail, ".sgar"), "%s", seen.detail);
    free((char *)seen.action);
    free((char *)seen.detail);
    cr_assert_eq(siglog_close(s), 0);
    fx_free(&f);
}

/* Every byte matters: a flipped bit anywhere (sampled), a cut file and
 * an extra byte are refused at open, naming the file. */
Test(archive, damage_anywhere_is_refused_at_open)
{
    fx f = make_store("archive-damage");
    char path[4096];
    cr_assert_eq(export(&f, INT64_MAX, path, sizeof path), 1);
    uint64_t size = test_file_size(path);
    char *copy = test_path(f.root, "copy.sgar");
    FILE *in = fopen(path, "rb");
    char *bytes = malloc(size);
    cr_assert_eq(fread(bytes, 1, size, in), size);
    fclose(in);
    for (uint64_t pos = 0; pos < size; pos += pos < 256 || pos > size - 256 ? 1 : 211) {
        FILE *out = fopen(copy, "wb");
        fwrite(bytes, 1, size, out);
        fclose(out);
        test_flip_byte(copy, pos, 0x10);
        siglog_archive *a = NULL;
        int rc = siglog_archive_open(&a, copy);
        cr_assert(rc == SIGLOG_ECORRUPT || rc == SIGLOG_EVERSION, "byte %llu flipped: %d",
                  (unsigned long long)pos, rc);
        cr_assert(strstr(siglog_errdetail(), "copy.sgar"), "%s", siglog_errdetail());
        cr_assert_null(a);
    }
    for (uint64_t cut = 0; cut < size; cut += size / 7 + 1) {
        FILE *out = fopen(copy, "wb");
        fwrite(bytes, 1, cut, out);
        fclose(out);
        siglog_archive *a = NULL;
        cr_assert_eq(siglog_archive_open(&a, copy), SIGLOG_ECORRUPT, "cut at %llu", (unsigned long long)cut);
    }
    FILE *out = fopen(copy, "wb");
    fwrite(bytes, 1, size, out);
    fputc(0, out);
    fclose(out);
    siglog_archive *a = NULL;
    cr_assert_eq(siglog_archive_open(&a, copy), SIGLOG_ECORRUPT, "a byte after the trailer");
    free(bytes);
    free(copy);
    fx_free(&f);
}

Test(archive, nothing_old_enough_writes_nothing_and_readers_cannot_export)
{
    fx f = make_store("archive-none");
    cr_assert_eq(export(&f, 0, NULL, 0), 0, "no segment is older than the epoch");
    cr_assert_eq(archives_in(f.out), 0);
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    siglog *s;
    cr_assert_eq(siglog_open(&s, f.store, &o), 0);
    cr_assert_eq(siglog_archive_export(s, "ev", 0, INT64_MAX, f.out, NULL, 0), SIGLOG_ERDONLY);
    cr_assert_eq(siglog_archive_export(s, "ev", 1, INT64_MAX, f.out, NULL, 0), SIGLOG_ERDONLY);
    siglog_close(s);
    s = test_store_open(f.store, NULL);
    cr_assert_eq(siglog_archive_export(s, "ev", 1, INT64_MAX, f.out, NULL, 0), SIGLOG_EINVAL, "no partition 1");
    cr_assert_eq(siglog_archive_export(s, "nope", 0, INT64_MAX, f.out, NULL, 0), SIGLOG_ENOENT);
    siglog_close(s);
    cr_assert_eq(archives_in(f.out), 0);
    fx_free(&f);
}

/* A process death at every mutating call of an export, then a power cut
 * in each mode: the target holds no archive, or one that opens whole, and
 * the store still serves every event. */
Test(archive, a_power_cut_anywhere_in_an_export_leaves_none_or_a_whole_one, .timeout = 600)
{
    fx f = make_store("archive-cut");
    static const int modes[] = { IO_CRASH_KEEP_ALL, IO_CRASH_DROP_ALL, IO_CRASH_RANDOM, IO_CRASH_GARBLE };
    int completed = 0, whole = 0;
    for (uint64_t k = 1; !completed; k++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            char name[64];
            snprintf(name, sizeof name, "trial-%llu-%zu", (unsigned long long)k, m);
            char *trial = test_path(f.root, name);
            cr_assert_eq(mkdir(trial, 0700), 0);
            char *store = test_path(trial, "store"), *out = test_path(trial, "out");
            test_copy_tree(f.store, store);
            cr_assert_eq(mkdir(out, 0700), 0);
            io_crash *crash = io_crash_new(k * 17 + m);
            siglog *s = test_store_open(store, io_crash_io(crash));
            io_crash_die_after(crash, io_crash_ops(crash) + k);
            int rc = siglog_archive_export(s, "ev", 0, INT64_MAX, out, NULL, 0);
            completed |= rc == 1 && !io_crash_dead(crash);
            siglog_close(s);
            cr_assert_eq(io_crash_power_cut(crash, modes[m]), 0);
            io_crash_free(crash);
            DIR *d = opendir(out);
            for (struct dirent *e; (e = readdir(d));) {
                size_t len = strlen(e->d_name);
                if (len < 5 || strcmp(e->d_name + len - 5, ".sgar") != 0)
                    continue; /* a temporary file a death left */
                char *p = test_path(out, e->d_name);
                siglog_archive *a;
                cr_assert_eq(siglog_archive_open(&a, p), 0, "call %llu mode %d: %s", (unsigned long long)k,
                             modes[m], siglog_errdetail());
                cr_assert_gt(siglog_archive_info_get(a)->record_count, 0);
                siglog_archive_close(a);
                whole++;
                free(p);
            }
            closedir(d);
            s = test_store_open(store, NULL);
            siglog_stream *st;
            cr_assert_eq(siglog_stream_get(s, "ev", &st), 0);
            cr_assert_eq(test_read_all(st, 0, NULL, NULL), EVENTS, "call %llu mode %d", (unsigned long long)k,
                         modes[m]);
            cr_assert_eq(siglog_close(s), 0);
            test_rmtree(trial);
            free(trial);
            free(store);
            free(out);
        }
    cr_assert_gt(whole, 0, "no trial kept the archive");
    fx_free(&f);
}
