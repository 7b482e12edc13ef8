/*
 * fork_locks — a forked child lets go of its parent's locks.
 *
 * Each lock is an flock on a lock file, and a child forked while its
 * parent held one holds a copy of its descriptor. Proven for the writer's
 * lock, the maintenance lock and a catalog.lock held by an update in
 * progress: while a child forked under the lock is still alive (blocked
 * on a pipe), the parent lets the lock go and takes it again at once.
 * Before fork_release, the second take met the child's copy: the writer
 * and maintenance opens failed with SIGLOG_ELOCKED, and the catalog update
 * waited its 30 s out and failed so.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog.h"
#include "maintenance.h"
#include "support.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir("fork-locks");
}

static void teardown(void)
{
    test_rmtree(dir);
    free(dir);
}

TestSuite(fork_locks, .init = setup, .fini = teardown);

/* A child that lives, doing nothing, until child_end(). */
typedef struct child {
    pid_t pid;
    int hold; /* the write end: the child reads until it is closed */
} child;

static child child_start(void)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    child c = {fork(), p[1]};
    cr_assert_geq(c.pid, 0);
    if (c.pid == 0) {
        close(p[1]);
        char b;
        while (read(p[0], &b, 1) > 0)
            ;
        _exit(0);
    }
    close(p[0]);
    return c;
}

static void child_end(child c)
{
    close(c.hold);
    int status;
    cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(fork_locks, a_child_does_not_keep_the_writer_lock_after_its_parent_closed)
{
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "s", 1, SIGLOG_SYNC_NONE, 1 << 20);
    child c = child_start();
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    siglog_options o;
    siglog_options_default(&o);
    s = NULL;
    cr_expect_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    siglog_close(s);
    child_end(c);
}

Test(fork_locks, a_child_does_not_keep_the_maintenance_lock_after_its_parent_closed)
{
    siglog_close(test_store_open(dir, NULL));
    siglog_maintenance *m = NULL;
    cr_assert_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    child c = child_start();
    siglog_maintenance_close(m);
    m = NULL;
    cr_expect_eq(siglog_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    siglog_maintenance_close(m);
    child_end(c);
}

/* A change that forks (under catalog.lock) and changes nothing. */
static int fork_under_lock(catalog_snapshot *snap, void *arg)
{
    (void)snap;
    *(child *)arg = child_start();
    return CATALOG_UNCHANGED;
}

static int change_nothing(catalog_snapshot *snap, void *arg)
{
    (void)snap;
    (void)arg;
    return CATALOG_UNCHANGED;
}

Test(fork_locks, a_child_forked_during_a_catalog_update_does_not_keep_catalog_lock, .timeout = 120)
{
    siglog *s = test_store_open(dir, NULL);
    test_stream_create(s, "s", 1, SIGLOG_SYNC_NONE, 1 << 20);
    cr_assert_eq(siglog_close(s), 0, "%s", siglog_errdetail());
    maintenance *m = NULL;
    catalog *cat = NULL;
    cr_assert_eq(sl_maintenance_open(&m, dir, NULL), 0, "%s", siglog_errdetail());
    cr_assert_eq(sl_maintenance_catalog(m, "s", 0, &cat), 0, "%s", siglog_errdetail());
    child c;
    cr_assert_eq(sl_catalog_update(cat, fork_under_lock, &c), 0, "%s", siglog_errdetail());
    cr_expect_eq(sl_catalog_update(cat, change_nothing, NULL), 0, "%s", siglog_errdetail());
    sl_maintenance_close(m);
    child_end(c);
}
