/*
 * store — create/open/close, one writer at a time, readers in other
 * processes beside the writer, streams and their persisted config.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("store");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, open_without_create_on_empty_dir_is_enoent)
{
    siglog *s;
    cr_assert_eq(siglog_open(&s, dir, NULL), SIGLOG_ENOENT);
    cr_assert_not_null(strstr(siglog_errdetail(), dir));
}

Test(store, second_writer_refused_with_holder_pid)
{
    siglog *s = test_store_open(dir, NULL);
    pid_t child = fork();
    if (child == 0) {
        siglog *t;
        siglog_options o;
        siglog_options_default(&o);
        int rc = siglog_open(&t, dir, &o);
        char pid[32];
        snprintf(pid, sizeof pid, "%ld", (long)getppid());
        _exit(rc == SIGLOG_ELOCKED && strstr(siglog_errdetail(), pid) ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child did not see ELOCKED with our pid");
    cr_assert_eq(siglog_close(s), 0);
    /* Once the writer is gone, a new one may open. */
    s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_close(s), 0);
}

static int count_stream(void *ctx, siglog_stream *st)
{
    (void)st;
    (*(int *)ctx)++;
    return 0;
}

Test(store, streams_and_config_persist)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    c.partitions = 3;
    c.sync_policy = SIGLOG_SYNC_ALWAYS;
    c.compression = SIGLOG_COMPRESSION_NONE;
    c.segment_bytes_max = 1 << 20;
    cr_assert_eq(siglog_stream_create(s, "outcomes", &c), 0);
    cr_assert_eq(siglog_stream_create(s, "clicks", &c), 0);
    cr_assert_eq(siglog_stream_create(s, "clicks", &c), SIGLOG_EEXIST);
    cr_assert_eq(siglog_close(s), 0);

    s = test_store_open(dir, NULL);
    int n = 0;
    cr_assert_eq(siglog_stream_foreach(s, count_stream, &n), 0);
    cr_assert_eq(n, 2);
    siglog_stream *st;
    cr_assert_eq(siglog_stream_get(s, "outcomes", &st), 0);
    siglog_stream_config got;
    siglog_stream_config_get(st, &got);
    cr_assert_eq(memcmp(&got, &c, sizeof c), 0, "config round trip");
    cr_assert_eq(siglog_stream_get(s, "missing", &st), SIGLOG_ENOENT);
    cr_assert_eq(siglog_close(s), 0);
}

Test(store, invalid_stream_names_and_configs_refused)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream_config c;
    siglog_stream_config_default(&c);
    char longname[SIGLOG_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"", ".", "..", ".hidden", "a/b", "../x", "sp ace", "caf\xc3\xa9", longname};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(siglog_stream_create(s, bad[i], &c), SIGLOG_EINVAL, "name '%s' accepted", bad[i]);
    longname[SIGLOG_NAME_MAX] = '\0';
    cr_assert_eq(siglog_stream_create(s, longname, &c), 0, "a %d-byte name is allowed", SIGLOG_NAME_MAX);
    c.partitions = 0;
    cr_assert_eq(siglog_stream_create(s, "zero", &c), SIGLOG_EINVAL);
    cr_assert_not_null(strstr(siglog_errdetail(), "partitions"));
    siglog_stream_config_default(&c);
    c.sync_policy = 9;
    cr_assert_eq(siglog_stream_create(s, "badsync", &c), SIGLOG_EINVAL);
    cr_assert_eq(siglog_close(s), 0);
}

Test(store, files_are_private_by_default)
{
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "x", 1, SIGLOG_SYNC_NONE, 0);
    cr_assert_eq(siglog_close(s), 0);
    struct stat sb;
    char *p = test_path(dir, "streams/x/00000");
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0700, "partition dir mode %o", sb.st_mode & 0777);
    free(p);
    p = test_path(dir, "siglog.store");
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600, "store file mode %o", sb.st_mode & 0777);
    free(p);
}

Test(store, truncated_store_file_is_corrupt)
{
    siglog *s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_close(s), 0);
    char *p = test_path(dir, "siglog.store");
    test_truncate(p, 10);
    cr_assert_eq(siglog_open(&s, dir, NULL), SIGLOG_ECORRUPT);
    cr_assert_not_null(strstr(siglog_errdetail(), "siglog.store"), "detail: %s", siglog_errdetail());
    free(p);
}

/* A reader in another process reads while this process appends. */
Test(store, reader_process_reads_while_writer_appends, .timeout = 60)
{
    siglog *s = test_store_open(dir, NULL);
    siglog_stream *st = test_stream_create(s, "live", 1, SIGLOG_SYNC_ALWAYS, 64 * 1024);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t child = fork();
    if (child == 0) {
        char go;
        if (read(ready[0], &go, 1) != 1)
            _exit(2);
        siglog *r;
        siglog_options o;
        siglog_options_default(&o);
        o.read_only = 1;
        if (siglog_open(&r, dir, &o) != 0)
            _exit(3);
        siglog_stream *rs;
        if (siglog_stream_get(r, "live", &rs) != 0)
            _exit(4);
        /* Follow until 2000 records, each checked. */
        siglog_cursor *c;
        if (siglog_cursor_open(&c, rs, 0, SIGLOG_SEEK_START, 0, SIGLOG_CURSOR_FOLLOW) != 0)
            _exit(5);
        uint64_t next = 0;
        for (int spins = 0; next < 2000 && spins < 20000;) {
            const siglog_record *rec;
            int rc = siglog_cursor_next(c, &rec);
            if (rc < 0) {
                fprintf(stderr, "reader: %s: %s\n", siglog_errname(rc), siglog_errdetail());
                _exit(6);
            }
            if (rc == 0) {
                siglog_cursor_wait(c, 5);
                spins++;
                continue;
            }
            char want[32];
            int n = snprintf(want, sizeof want, "event-%llu", (unsigned long long)next);
            if (rec->offset != next || rec->value_len != (size_t)n || memcmp(rec->value, want, (size_t)n))
                _exit(7);
            next++;
        }
        siglog_cursor_close(c);
        siglog_close(r);
        _exit(next == 2000 ? 0 : 8);
    }
    for (int i = 0; i < 2000; i++) {
        char v[32];
        int n = snprintf(v, sizeof v, "event-%d", i);
        siglog_event e = {.value = v, .value_len = (size_t)n};
        cr_assert_eq(siglog_append(st, 0, &e, 1, NULL, NULL), 0);
        if (i == 100)
            cr_assert_eq(write(ready[1], "g", 1), 1);
    }
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFEXITED(status), "reader died");
    cr_assert_eq(WEXITSTATUS(status), 0, "reader failed with step %d", WEXITSTATUS(status));
    cr_assert_eq(siglog_close(s), 0);
}

/* A process holding a shared lock on writer.lock, as a reader reading the
 * journal does, for hold_us (0: until killed); returned once it holds it.
 * Before it, a writer opened and closed the store. */
static pid_t reader_holding_the_lock(useconds_t hold_us)
{
    siglog *s = test_store_open(dir, NULL);
    cr_assert_eq(siglog_close(s), 0);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        char *lock = test_path(dir, "writer.lock");
        int fd = open(lock, O_RDONLY);
        if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) != 0)
            _exit(1);
        if (write(ready[1], "l", 1) != 1)
            _exit(1);
        if (hold_us)
            usleep(hold_us);
        else
            pause();
        _exit(0);
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the reader could not take its lock");
    return child;
}

/* A reader reading the journal holds a shared lock on writer.lock for a
 * moment: a writer starting then waits for it rather than failing. */
Test(store, writer_waits_for_a_reader_reading_the_journal, .timeout = 30)
{
    pid_t child = reader_holding_the_lock(300000);
    siglog *s;
    int rc = siglog_open(&s, dir, NULL);
    cr_assert_eq(rc, 0, "writer open: %s: %s", siglog_errname(rc), siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    int status;
    waitpid(child, &status, 0);
}

/* Readers that keep the lock longer than a writer waits: the writer gives
 * up, saying that no live writer holds the store (not naming a pid as a
 * writer's). */
Test(store, writer_waiting_for_readers_gives_up_saying_no_writer_holds_it, .timeout = 30)
{
    pid_t child = reader_holding_the_lock(0);
    siglog *s;
    int rc = siglog_open(&s, dir, NULL);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    cr_assert_eq(rc, SIGLOG_ELOCKED, "writer open: %s", siglog_errname(rc));
    cr_assert(strstr(siglog_errdetail(), "no live writer"), "%s", siglog_errdetail());
}

/* The id is siglog.store's bytes 16..23, the same for every handle, and
 * another store has another one. */
Test(store, store_id_is_the_store_files_and_every_handles)
{
    siglog *w = test_store_open(dir, NULL);
    uint64_t id = siglog_store_id(w);
    siglog_options ro;
    siglog_options_default(&ro);
    ro.read_only = 1;
    siglog *r;
    cr_assert_eq(siglog_open(&r, dir, &ro), 0);
    cr_assert_eq(siglog_store_id(r), id);
    cr_assert_eq(siglog_close(r), 0);
    cr_assert_eq(siglog_close(w), 0);

    char *meta = test_path(dir, "siglog.store");
    unsigned char bytes[40];
    FILE *f = fopen(meta, "rb");
    cr_assert(f && fread(bytes, 1, sizeof bytes, f) == sizeof bytes);
    fclose(f);
    free(meta);
    uint64_t stored = 0;
    for (int i = 7; i >= 0; i--)
        stored = stored << 8 | bytes[16 + i];
    cr_assert_eq(id, stored);

    char *other = test_path(dir, "other");
    siglog *o = test_store_open(other, NULL);
    cr_assert_neq(siglog_store_id(o), id);
    cr_assert_eq(siglog_close(o), 0);
    free(other);
    cr_assert_eq(siglog_store_id(NULL), 0);
}
