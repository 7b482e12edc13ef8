/*
 * stream_config — siglog_stream_config_set changes the mutable settings of
 * a stream all or nothing: stream.meta and the audit trail say so, a reopen
 * reads them back, immutable settings and bad values change nothing,
 * unknown entries survive, and a live stream works by the new settings at
 * once (a change of sync policy first makes what was appended durable).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "io_crash.h"
#include "names.h"
#include "options_io.h"
#include "settings.h"
#include "stream.h"
#include "support.h"

typedef struct fx {
    char *dir;
    siglog *s;
    siglog_stream *st;
} fx;

static void fx_open(fx *x, uint32_t sync)
{
    x->dir = test_tmpdir("stream-config");
    x->s = test_store_open(x->dir, NULL);
    x->st = test_stream_create(x->s, "clicks", 2, sync, 0);
}

static void fx_reopen(fx *x)
{
    cr_assert_eq(siglog_close(x->s), 0, "%s", siglog_errdetail());
    x->s = test_store_open(x->dir, NULL);
    cr_assert_eq(siglog_stream_get(x->s, "clicks", &x->st), 0, "%s", siglog_errdetail());
}

static void fx_close(fx *x)
{
    siglog_close(x->s);
    test_rmtree(x->dir);
    free(x->dir);
}

/* The stream's file `name`, whole (NULL, *len 0 when it is missing). */
static char *read_stream_file(const fx *x, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/streams/clicks/%s", x->dir, name);
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void write_meta(const fx *x, const uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/streams/clicks/stream.meta", x->dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* stream.meta as decoded from the disk. */
static void meta_on_disk(const fx *x, siglog_stream_config *c, stream_meta_extra *extra)
{
    size_t len;
    char *buf = read_stream_file(x, STREAM_META_FILE, &len);
    cr_assert_not_null(buf);
    char name[SIGLOG_NAME_MAX + 1];
    uint32_t id;
    cr_assert_eq(sl_stream_meta_decode((const uint8_t *)buf, len, name, &id, c, extra, NULL), 0, "%s",
                 siglog_errdetail());
    free(buf);
}

/* The details of the store's audit records of config changes to
 * "clicks", joined by newlines; how many there are. */
typedef struct config_records {
    char text[1 << 14];
    size_t len;
    int count;
} config_records;

static int collect_config(void *ctx, const siglog_audit_record *r)
{
    config_records *out = ctx;
    if (strcmp(r->action, "config") != 0 || strcmp(r->stream, "clicks") != 0)
        return 0;
    out->count++;
    int n = snprintf(out->text + out->len, sizeof out->text - out->len, "%s\n", r->detail);
    out->len += n > 0 ? (size_t)n : 0;
    return 0;
}

static config_records *config_changes(fx *x)
{
    config_records *out = calloc(1, sizeof *out);
    cr_assert_eq(siglog_audit_read(x->s, 1, collect_config, out, NULL), 0, "%s", siglog_errdetail());
    return out;
}

/* A valid value of a mutable setting other than its default: its minimum
 * (or its maximum when the minimum is the default). Minimums keep every
 * pair of sizes within the test journal. */
static uint64_t changed_value(const settings_row *r)
{
    return r->pub.min != r->pub.default_value ? r->pub.min : r->pub.max;
}

Test(stream_config, every_mutable_setting_round_trips)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    siglog_stream_config want;
    siglog_stream_config_get(x.st, &want);
    int mutable_rows = 0;
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
        if (!r->pub.is_mutable)
            continue;
        mutable_rows++;
        char entry[128];
        if (sl_settings_is_text(r)) {
            cr_assert_eq(siglog_setting_set_text(&want, &r->pub, "/mnt/cold"), 0, "%s", r->pub.name);
            snprintf(entry, sizeof entry, "%s: \"\" -> \"/mnt/cold\"", r->pub.name);
        } else {
            uint64_t from = sl_settings_get(&want, r), to = changed_value(r);
            cr_assert_eq(siglog_setting_set(&want, &r->pub, to), 0, "%s", r->pub.name);
            snprintf(entry, sizeof entry, "%s: %llu -> %llu", r->pub.name, (unsigned long long)from,
                     (unsigned long long)to);
        }
        cr_assert_eq(siglog_stream_config_set(x.s, "clicks", &want), 0, "%s: %s", r->pub.name, siglog_errdetail());
        siglog_stream_config live, disk;
        siglog_stream_config_get(x.st, &live);
        cr_assert(sl_settings_equal(&live, &want, r), "%s: the live stream", r->pub.name);
        meta_on_disk(&x, &disk, NULL);
        cr_assert(sl_settings_equal(&disk, &want, r), "%s: stream.meta", r->pub.name);
        config_records *audit = config_changes(&x);
        cr_assert(strstr(audit->text, entry), "the audit trail lacks %s:\n%s", entry, audit->text);
        free(audit);
    }
    cr_assert_gt(mutable_rows, 0);
    fx_reopen(&x);
    siglog_stream_config got;
    siglog_stream_config_get(x.st, &got);
    for (size_t i = 0; i < sl_settings_count(); i++)
        cr_assert(sl_settings_equal(&got, &want, sl_settings_row_at(i)), "%s after reopening",
                  sl_settings_row_at(i)->pub.name);
    config_records *audit = config_changes(&x);
    cr_assert_eq(audit->count, mutable_rows, "one audit record per change:\n%s", audit->text);
    free(audit);
    fx_close(&x);
}

/* stream.meta is still `meta`, and no config change was audited. */
static void assert_unchanged(fx *x, const char *meta, size_t meta_len)
{
    size_t len;
    char *now = read_stream_file(x, STREAM_META_FILE, &len);
    cr_assert(len == meta_len && memcmp(now, meta, len) == 0, "stream.meta changed");
    free(now);
    config_records *audit = config_changes(x);
    cr_assert_eq(audit->count, 0, "a change was audited: %s", audit->text);
    free(audit);
}

/* config_set(c) fails with code, its detail holding every word of
 * `words` (NULL-terminated), and neither the live stream nor its files
 * change. */
static void assert_refused(fx *x, const siglog_stream_config *c, int code, const char *const *words)
{
    size_t meta_len;
    char *meta = read_stream_file(x, STREAM_META_FILE, &meta_len);
    siglog_stream_config before, after;
    siglog_stream_config_get(x->st, &before);
    int rc = siglog_stream_config_set(x->s, "clicks", c);
    cr_assert_eq(rc, code, "%d %s", rc, siglog_errdetail());
    for (const char *const *w = words; *w; w++)
        cr_assert(strstr(siglog_errdetail(), *w), "'%s' not in: %s", *w, siglog_errdetail());
    siglog_stream_config_get(x->st, &after);
    cr_assert_eq(memcmp(&before, &after, sizeof before), 0, "the live config changed");
    assert_unchanged(x, meta, meta_len);
    free(meta);
}

Test(stream_config, immutable_settings_are_refused_by_name)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    siglog_stream_config c;
    siglog_stream_config_get(x.st, &c);
    c.partitions = 3;
    c.index_interval_bytes = 8192;
    c.linger_us = 7000; /* a mutable change beside them is not applied either */
    assert_refused(&x, &c, SIGLOG_EINVAL, (const char *[]){"partitions", "index_interval_bytes", "cannot change", NULL});
    fx_close(&x);
}

Test(stream_config, a_bad_value_changes_nothing)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    siglog_stream_config c;
    siglog_stream_config_get(x.st, &c);
    c.linger_us = 7000;
    c.batch_bytes_max = 10; /* below its minimum */
    assert_refused(&x, &c, SIGLOG_EINVAL, (const char *[]){"batch_bytes_max", NULL});
    /* Each value in range, together too large for the journal. */
    siglog_stream_config_get(x.st, &c);
    c.linger_us = 7000;
    c.record_bytes_max = 16u << 20;
    assert_refused(&x, &c, SIGLOG_EINVAL, (const char *[]){"journal", NULL});
    /* The same config again is no change: nothing is written. */
    siglog_stream_config_get(x.st, &c);
    assert_refused(&x, &c, 0, (const char *[]){NULL});
    fx_close(&x);
}

/* c with cold_dir set to path. */
static void set_cold_dir(siglog_stream_config *c, const char *path)
{
    cr_assert_eq(siglog_setting_set_text(c, siglog_setting_find("cold_dir"), path), 0, "%s: %s", path,
                 siglog_errdetail());
}

/* cold_dir must lie outside the store (cold.h): the store's directory,
 * a directory beneath it, and a symlink from outside to one of them are
 * refused naming it, by stream config and by stream create; a directory
 * outside is taken whether it exists yet or not. */
Test(stream_config, cold_dir_must_lie_outside_the_store)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    char inside[4200], link[4200], outside[4200];
    snprintf(inside, sizeof inside, "%s/streams/cold", x.dir);
    snprintf(link, sizeof link, "%s-cold-link", x.dir);
    snprintf(outside, sizeof outside, "%s-cold/tier", x.dir);
    cr_assert_eq(symlink(x.dir, link), 0);
    const char *refused[] = { inside, x.dir, link };
    siglog_stream_config c;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        siglog_stream_config_get(x.st, &c);
        set_cold_dir(&c, refused[i]);
        assert_refused(&x, &c, SIGLOG_EINVAL, (const char *[]){"cold_dir", "inside the store", NULL});
        cr_assert_eq(siglog_stream_create(x.s, "other", &c), SIGLOG_EINVAL, "%s", refused[i]);
    }
    siglog_stream_config_get(x.st, &c);
    set_cold_dir(&c, outside);
    cr_assert_eq(siglog_stream_config_set(x.s, "clicks", &c), 0, "%s", siglog_errdetail());
    siglog_stream_config_get(x.st, &c);
    cr_assert_str_eq(c.cold_dir, outside);
    cr_assert_eq(unlink(link), 0);
    fx_close(&x);
}

/* stream.meta rewritten with one more entry: tag, 3 value bytes. */
static void add_unknown_entry(fx *x, uint16_t tag)
{
    siglog_stream_config c;
    stream_meta_extra extra = {0};
    meta_on_disk(x, &c, &extra);
    put_le16(extra.bytes + extra.len, tag);
    put_le16(extra.bytes + extra.len + 2, 3);
    memcpy(extra.bytes + extra.len + 4, "abc", 3);
    extra.len += 7;
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, "clicks", 1, &c, &extra);
    write_meta(x, buf, len);
}

Test(stream_config, an_unknown_optional_entry_survives_a_change)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    cr_assert_eq(siglog_close(x.s), 0);
    add_unknown_entry(&x, 0x0100);
    x.s = test_store_open(x.dir, NULL);
    cr_assert_eq(siglog_stream_get(x.s, "clicks", &x.st), 0, "%s", siglog_errdetail());
    siglog_stream_config c;
    siglog_stream_config_get(x.st, &c);
    c.linger_us = 9000;
    cr_assert_eq(siglog_stream_config_set(x.s, "clicks", &c), 0, "%s", siglog_errdetail());
    stream_meta_extra extra = {0};
    meta_on_disk(&x, &c, &extra);
    cr_assert_eq(c.linger_us, 9000);
    cr_assert_eq(extra.len, 7, "the unknown entry is kept");
    cr_assert_eq(get_le16(extra.bytes), 0x0100);
    cr_assert_eq(memcmp(extra.bytes + 4, "abc", 3), 0);
    fx_close(&x);
}

static int first_stream(void *ctx, siglog_stream *st)
{
    *(siglog_stream **)ctx = st;
    return 0;
}

Test(stream_config, an_unknown_must_understand_entry_is_refused)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    cr_assert_eq(siglog_close(x.s), 0);
    add_unknown_entry(&x, 0x8100);
    x.s = test_store_open(x.dir, NULL);
    /* The failed stream's handle: get refuses it. */
    cr_assert_eq(siglog_stream_foreach(x.s, first_stream, &x.st), 0);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 2;
    assert_refused(&x, &c, SIGLOG_EVERSION, (const char *[]){"0x8100", "must be understood", NULL});
    fx_close(&x);
}

Test(stream_config, a_read_only_handle_refuses)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    cr_assert_eq(siglog_close(x.s), 0);
    siglog_options o;
    siglog_options_default(&o);
    o.read_only = 1;
    cr_assert_eq(siglog_open(&x.s, x.dir, &o), 0);
    siglog_stream_config c;
    cr_assert_eq(siglog_stream_get(x.s, "clicks", &x.st), 0);
    siglog_stream_config_get(x.st, &c);
    c.linger_us = 9000;
    cr_assert_eq(siglog_stream_config_set(x.s, "clicks", &c), SIGLOG_ERDONLY);
    cr_assert_eq(siglog_stream_config_set(x.s, "nope", &c), SIGLOG_ERDONLY);
    fx_close(&x);
}

static uint64_t append_some(siglog_stream *st, uint32_t partition, int n)
{
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        siglog_event e = {.value = "{}", .value_len = 2};
        cr_assert_eq(siglog_append(st, partition, &e, 1, NULL, &off), 0, "%s", siglog_errdetail());
    }
    return off;
}

static uint64_t durable_next(siglog_stream *st, uint32_t partition)
{
    uint64_t next;
    cr_assert_eq(siglog_durable_offset(st, partition, &next), 0);
    return next;
}

/* The live stream changes policy: what INTERVAL had not committed yet is
 * durable when the change returns, and the new policy holds at once. */
Test(stream_config, a_sync_policy_change_settles_what_was_appended)
{
    fx x;
    fx_open(&x, SIGLOG_SYNC_INTERVAL);
    siglog_stream_config c;
    siglog_stream_config_get(x.st, &c);
    c.sync_interval_ms = 60000; /* no background commit during the test */
    cr_assert_eq(siglog_stream_config_set(x.s, "clicks", &c), 0, "%s", siglog_errdetail());
    uint64_t last = append_some(x.st, 0, 10);
    cr_assert_leq(durable_next(x.st, 0), last, "not committed yet");
    c.sync_policy = SIGLOG_SYNC_NONE;
    cr_assert_eq(siglog_stream_config_set(x.s, "clicks", &c), 0, "%s", siglog_errdetail());
    cr_assert_eq(durable_next(x.st, 0), last + 1, "the change made the appended events durable");
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    cr_assert_eq(siglog_stream_config_set(x.s, "clicks", &c), 0, "%s", siglog_errdetail());
    last = append_some(x.st, 1, 3);
    cr_assert_eq(durable_next(x.st, 1), last + 1, "ALWAYS holds at once");
    fx_reopen(&x);
    siglog_stream_config_get(x.st, &c);
    cr_assert_eq(c.sync_policy, SIGLOG_SYNC_ALWAYS);
    cr_assert_eq(durable_next(x.st, 0), 10);
    cr_assert_eq(durable_next(x.st, 1), 3);
    fx_close(&x);
}

/* A power cut at every mutating call of a change, in every cut mode: the
 * reopened stream holds the old settings or the new, never damage, and
 * holds the new only with its audit record (appended and synced first). */
Test(stream_config, a_power_cut_anywhere_in_a_change_leaves_old_or_new, .timeout = 300)
{
    char *root = test_tmpdir("stream-config-cut");
    char *template_dir = test_path(root, "template");
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 8u << 20; /* as test_store_open: the default sizes fit */
    siglog *s;
    cr_assert_eq(siglog_open(&s, template_dir, &o), 0, "%s", siglog_errdetail());
    test_stream_create(s, "clicks", 2, SIGLOG_SYNC_INTERVAL, 0);
    cr_assert_eq(siglog_close(s), 0);
    static const int modes[] = {IO_CRASH_KEEP_ALL, IO_CRASH_DROP_ALL, IO_CRASH_RANDOM, IO_CRASH_GARBLE};
    int completed = 0, trials = 0, took = 0;
    for (uint64_t k = 1; !completed; k++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            char name[64];
            snprintf(name, sizeof name, "trial-%d", trials++);
            fx x = {.dir = test_path(root, name)};
            test_copy_tree(template_dir, x.dir);
            io_crash *crash = io_crash_new(k * 31 + m);
            sl_options_set_io(&o, io_crash_io(crash));
            cr_assert_eq(siglog_open(&x.s, x.dir, &o), 0, "%s", siglog_errdetail());
            cr_assert_eq(siglog_stream_get(x.s, "clicks", &x.st), 0);
            siglog_stream_config c;
            siglog_stream_config_get(x.st, &c);
            c.linger_us = 9000;
            c.sync_policy = SIGLOG_SYNC_ALWAYS;
            io_crash_die_after(crash, io_crash_ops(crash) + k);
            int rc = siglog_stream_config_set(x.s, "clicks", &c);
            completed |= rc == 0 && !io_crash_dead(crash);
            siglog_close(x.s);
            cr_assert_eq(io_crash_power_cut(crash, modes[m]), 0);
            io_crash_free(crash);
            sl_options_set_io(&o, NULL);
            /* What a writer finds after the power came back. */
            x.s = test_store_open(x.dir, NULL);
            cr_assert_eq(siglog_stream_get(x.s, "clicks", &x.st), 0, "call %llu mode %d: %s",
                         (unsigned long long)k, modes[m], siglog_errdetail());
            siglog_stream_config_get(x.st, &c);
            int is_new = c.linger_us == 9000 && c.sync_policy == SIGLOG_SYNC_ALWAYS;
            cr_assert(is_new || (c.linger_us == 5000 && c.sync_policy == SIGLOG_SYNC_INTERVAL),
                      "call %llu mode %d: neither old nor new settings", (unsigned long long)k, modes[m]);
            config_records *audit = config_changes(&x);
            cr_assert(!is_new || audit->count == 1, "call %llu mode %d: new settings without their audit record",
                      (unsigned long long)k, modes[m]);
            took += is_new;
            free(audit);
            fx_close(&x);
        }
    cr_assert_gt(took, 0, "no trial kept the change");
    test_rmtree(root);
    free(template_dir);
    free(root);
}
