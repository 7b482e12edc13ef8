/*
 * forget_unvisited — the exports a forget reports as not visited
 * (siglog_forget_options.unvisited, "not visited: PATH"): those the audit
 * trail records from the stream into a directory not given, each once in
 * a call, and no other.
 *
 * An export records the directory resolved, so a forget run from another
 * working directory still knows one given relative; an older record
 * naming it relative is the directory given whose last components it
 * names; spellings of one path ("d//x", "./d/x") are one path; and a
 * forget that finishes an earlier intent first, which reads the same
 * audit trail, tells each path once.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "maintenance.h"
#include "support.h"

#define KEYS 20

static char *dir, *given, *elsewhere;

static void setup(void)
{
    dir = test_tmpdir("forget-unvisited");
    given = test_tmpdir("forget-unvisited-given");
    elsewhere = test_tmpdir("forget-unvisited-elsewhere");
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 1;
    c.segment_bytes_max = 64 * 1024;
    c.batch_bytes_max = 2048;
    c.sync_policy = SIGLOG_SYNC_NONE;
    c.linger_us = 60u * 1000 * 1000;
    cr_assert_eq(siglog_stream_create(s, "t", &c), 0, "%s", siglog_errdetail());
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "t", &st), 0);
    for (int i = 0; i < 4000; i++) {
        char key[16], value[96];
        snprintf(key, sizeof key, "key-%03d", i % KEYS);
        snprintf(value, sizeof value, "{\"n\":%d,\"pad\":\"%048d\"}", i, i);
        siglog_event e = {.key = key, .key_len = strlen(key), .value = value, .value_len = strlen(value)};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0, "%s", siglog_errdetail());
    }
    cr_assert_eq(siglog_close(s), 0);
}

static void teardown(void)
{
    char **v[] = {&dir, &given, &elsewhere};
    for (size_t i = 0; i < 3; i++) {
        test_rmtree(*v[i]);
        free(*v[i]);
    }
}

TestSuite(forget_unvisited, .init = setup, .fini = teardown, .timeout = 60);

static void export_to(const char *to)
{
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_archive_export(m, "t", 0, INT64_MAX, to, 0, NULL, 0), 1, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

/* What the forget told: each path and how often. */
typedef struct told {
    char paths[8][512];
    int times[8];
    size_t n;
    int calls;
} told;

static void note_path(void *ctx, const char *path)
{
    told *t = ctx;
    t->calls++;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->paths[i], path) == 0) {
            t->times[i]++;
            return;
        }
    cr_assert_lt(t->n, 8);
    snprintf(t->paths[t->n], sizeof t->paths[t->n], "%s", path);
    t->times[t->n++] = 1;
}

/* A forget of key-003 given only `given`. */
static siglog_forget_result forget(told *t)
{
    const char *dirs[] = {given};
    siglog_forget_options o = {.archive_dirs = dirs, .archive_dir_count = 1, .unvisited = note_path,
                               .unvisited_ctx = t};
    siglog_key key = {"key-003", 7};
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_forget_result res;
    cr_assert_eq(siglog_forget(m, "t", &key, 1, &o, &res), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    return res;
}

/* An export's record as one of the stream written before exports
 * recorded their resolved directory. */
static void old_export_record(const char *path)
{
    siglog_maintenance *m;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    audit_record r;
    sl_audit_record_init(&r, AUDIT_ARCHIVE, AUDIT_BY_COMMAND);
    snprintf(r.stream, sizeof r.stream, "t");
    snprintf(r.detail, sizeof r.detail, "copied 3 batches to %s", path);
    cr_assert_eq(sl_maintenance_audit(m, &r), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
}

Test(forget_unvisited, an_export_to_a_relative_directory_is_known_from_elsewhere)
{
    char *copy = strdup(given);
    cr_assert_eq(chdir(dirname(copy)), 0);
    free(copy);
    copy = strdup(given);
    export_to(basename(copy));
    free(copy);
    cr_assert_eq(chdir("/"), 0);
    told t = {0};
    siglog_forget_result res = forget(&t);
    cr_assert_eq(res.archives_read, 1);
    cr_assert_eq(res.archives_unvisited, 0, "reported: %s", t.paths[0]);
    cr_assert_eq(t.calls, 0);
}

Test(forget_unvisited, an_old_relative_record_is_the_directory_given_it_ends)
{
    char *copy = strdup(given), path[512];
    /* Not in the directory given (a forget removed it, say), but
     * exported there: the directory was read whole, so it is gone. */
    snprintf(path, sizeof path, "./%s//t.00000.gone.sgar", basename(copy));
    free(copy);
    old_export_record(path);
    cr_assert_eq(chdir("/"), 0);
    told t = {0};
    siglog_forget_result res = forget(&t);
    cr_assert_eq(res.archives_unvisited, 0, "reported: %s", t.paths[0]);
}

Test(forget_unvisited, spellings_of_one_path_are_one_path)
{
    old_export_record("exports//t.00000.x.sgar");
    old_export_record("./exports/./t.00000.x.sgar");
    old_export_record("exports/t.00000.x.sgar");
    told t = {0};
    siglog_forget_result res = forget(&t);
    cr_assert_eq(res.archives_unvisited, 1);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.paths[0], "exports/t.00000.x.sgar");
    cr_assert_eq(t.times[0], 1);
}

Test(forget_unvisited, an_export_is_told_once_when_an_earlier_intent_is_finished_first)
{
    export_to(elsewhere);
    test_write_interrupted_intent(dir, "t", "key-005");
    told t = {0};
    siglog_forget_result res = forget(&t);
    cr_assert_eq(res.intents_finished, 1);
    cr_assert_eq(res.archives_unvisited, 1);
    cr_assert_eq(t.n, 1);
    cr_assert(strstr(t.paths[0], elsewhere) == t.paths[0], "%s", t.paths[0]);
    cr_assert_eq(t.times[0], 1, "told %d times", t.times[0]);
}
