/*
 * ownership — a store's recorded modes and its owner decide, not the
 * process that happens to open it.
 *
 * Proven: the modes given at creation are recorded in siglog.store
 * (version 2; the defaults leave it version 1) and every file and
 * directory a later writer creates gets them, whatever that writer's
 * options and umask say. As root (skipped otherwise): a writer open of a
 * store owned by `nobody` is refused with SIGLOG_EPERM and changes
 * nothing, a read-only open and verify change nothing either, and with
 * force_owner every new file and directory belongs to nobody:nogroup;
 * `nobody` (a forked child that drops to it) reads a root store of mode
 * 0640 shared with its group, is refused as a writer, and leaves every
 * file's owner, mode, size and time as they were.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cli/run.h"
#include "siglog.h"
#include "support.h"

#define EVENTS 200

static siglog_options options(uint32_t file_mode, uint32_t dir_mode)
{
    siglog_options o;
    siglog_options_default(&o);
    o.create = 1;
    o.journal_bytes = 1u << 20;
    if (file_mode)
        o.file_mode = file_mode;
    if (dir_mode)
        o.dir_mode = dir_mode;
    return o;
}

static int write_events(const char *dir, const siglog_options *o)
{
    return test_append_rolling(dir, o, EVENTS, NULL, 0);
}

static long read_events(const char *dir)
{
    return test_count_events(dir, NULL, NULL, 0);
}

/* ---- the state of every entry of a tree --------------------------------- */

static char *state;
static size_t state_len;
static uid_t want_uid;
static gid_t want_gid;
static mode_t want_file, want_dir;
static unsigned entries;

static int note_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    (void)ftw;
    char line[4200];
    int n = snprintf(line, sizeof line, "%s %u:%u %o %lld %lld.%09ld\n", path, (unsigned)st->st_uid,
                     (unsigned)st->st_gid, (unsigned)st->st_mode, (long long)st->st_size,
                     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    state = realloc(state, state_len + (size_t)n + 1);
    cr_assert_not_null(state);
    memcpy(state + state_len, line, (size_t)n + 1);
    state_len += (size_t)n;
    return 0;
}

/* Path, owner, mode, size and mtime of every entry under root. */
static char *tree_state(const char *root)
{
    state = NULL;
    state_len = 0;
    cr_assert_eq(nftw(root, note_entry, 16, FTW_PHYS), 0);
    return state;
}

static int check_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (want_uid != (uid_t)-1)
        cr_expect(st->st_uid == want_uid && st->st_gid == want_gid, "%s belongs to %u:%u, not %u:%u", path,
                  (unsigned)st->st_uid, (unsigned)st->st_gid, (unsigned)want_uid, (unsigned)want_gid);
    mode_t want = type == FTW_D ? want_dir : want_file ? test_store_file_mode(path, want_file) : 0;
    if (want)
        cr_expect_eq(st->st_mode & 07777, want, "%s is %04o, not %04o", path, (unsigned)(st->st_mode & 07777),
                     (unsigned)want);
    entries++;
    return 0;
}

/* Every entry under root has this owner ((uid_t)-1: any) and these modes
 * (0: any). */
static void check_tree(const char *root, uid_t uid, gid_t gid, mode_t file_mode, mode_t dir_mode)
{
    want_uid = uid;
    want_gid = gid;
    want_file = file_mode;
    want_dir = dir_mode;
    entries = 0;
    cr_assert_eq(nftw(root, check_entry, 16, FTW_PHYS), 0);
    cr_assert_geq(entries, 10, "only %u entries checked", entries);
}

static int chown_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return lchown(path, want_uid, want_gid);
}

static void chown_tree(const char *root, uid_t uid, gid_t gid)
{
    want_uid = uid;
    want_gid = gid;
    cr_assert_eq(nftw(root, chown_entry, 16, FTW_PHYS), 0);
}

static unsigned store_file_version(const char *dir)
{
    char *p = test_path(dir, "siglog.store");
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    unsigned char b[6];
    cr_assert_eq(fread(b, 1, 6, f), 6);
    fclose(f);
    free(p);
    return b[4] | (unsigned)b[5] << 8;
}

/* ---- modes ---------------------------------------------------------------- */

Test(ownership, recorded_modes_beat_a_later_writers_options_and_umask)
{
    char *tmp = test_tmpdir("ownership");
    char *dir = test_path(tmp, "store");
    char *plain = test_path(tmp, "plain");
    mode_t old = umask(0);
    siglog_options o = options(0640, 0750);
    siglog *s = NULL;
    cr_assert_eq(siglog_open(&s, dir, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    o = options(0, 0);
    cr_assert_eq(siglog_open(&s, plain, &o), 0, "%s", siglog_errdetail());
    cr_assert_eq(siglog_close(s), 0);
    cr_assert_eq(store_file_version(dir), 2, "modes recorded: version 2");
    cr_assert_eq(store_file_version(plain), 1, "the defaults recorded as none: still version 1");

    /* A later writer asks for 0600/0700 and runs under umask 077. */
    umask(077);
    siglog_options later = options(0, 0);
    later.create = 0;
    cr_assert_eq(write_events(dir, &later), 0, "%s", siglog_errdetail());
    umask(old);
    check_tree(dir, (uid_t)-1, (gid_t)-1, 0640, 0750);
    test_rmtree(tmp);
    free(plain);
    free(dir);
    free(tmp);
}

/* ---- owners (root) --------------------------------------------------------- */

static void nobody_ids(uid_t *uid, gid_t *gid)
{
    struct passwd *pw = getpwnam("nobody");
    struct group *gr = getgrnam("nogroup");
    if (!pw || !gr)
        cr_skip_test("no user nobody or group nogroup");
    *uid = pw->pw_uid;
    *gid = gr->gr_gid;
}

/* A scratch directory every user may traverse (the test tmp root is 0700). */
static char *open_tmpdir(void)
{
    char *d = strdup("/tmp/siglog-ownership-XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    cr_assert_eq(chmod(d, 0755), 0);
    return d;
}

static void remove_tmpdir(char *d)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
    free(d);
}

/* Root only (skips otherwise): nobody's ids, and a store made by root
 * with o in a scratch directory every user may traverse. */
static void root_fixture(const siglog_options *o, uid_t *nobody, gid_t *nogroup, char **tmp, char **dir)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    nobody_ids(nobody, nogroup);
    *tmp = open_tmpdir();
    *dir = test_path(*tmp, "store");
    cr_assert_eq(write_events(*dir, o), 0, "%s", siglog_errdetail());
}

Test(ownership, root_refuses_to_write_another_users_store_unless_forced)
{
    uid_t nobody;
    gid_t nogroup;
    char *tmp, *dir;
    siglog_options o = options(0, 0);
    root_fixture(&o, &nobody, &nogroup, &tmp, &dir);
    chown_tree(dir, nobody, nogroup);
    char *before = tree_state(dir);

    o.create = 0;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    cr_assert_eq(rc, SIGLOG_EPERM, "a writer open as root: %s (%s)", siglog_errname(rc), siglog_errdetail());
    cr_assert(strstr(siglog_errdetail(), "belongs to uid"), "%s", siglog_errdetail());
    cr_assert_eq(read_events(dir), EVENTS, "a read-only open as root serves every event");
    siglog_verify_stats vs;
    cr_assert_eq(siglog_verify(dir, 0, NULL, &vs), 0, "%s", siglog_errdetail());
    char *after = tree_state(dir);
    cr_assert_str_eq(after, before, "refused writer, reader and verify changed the store");

    /* Forced: root writes, and everything new belongs to the owner. */
    o.force_owner = 1;
    cr_assert_eq(write_events(dir, &o), 0, "%s", siglog_errdetail());
    check_tree(dir, nobody, nogroup, 0600, 0700);
    cr_assert_eq(read_events(dir), 2 * EVENTS);
    free(after);
    free(before);
    free(dir);
    remove_tmpdir(tmp);
}

/* In a child that is nobody:nogroup: 0 if it read every event of dir and
 * was refused as a writer, else a code saying what went wrong. */
static int as_nobody(const char *dir, uid_t nobody, gid_t nogroup)
{
    if (setgroups(0, NULL) != 0 || setgid(nogroup) != 0 || setuid(nobody) != 0)
        return 10;
    if (read_events(dir) != EVENTS)
        return 11;
    siglog_options o = options(0, 0);
    o.create = 0;
    siglog *s = NULL;
    int rc = siglog_open(&s, dir, &o);
    /* Refused for not being the owner, before trying the lock file. */
    int refused = rc == SIGLOG_EPERM && strstr(siglog_errdetail(), "belongs to uid");
    siglog_close(s);
    return refused ? 0 : 12;
}

Test(ownership, nobody_reads_a_root_store_of_mode_0640_and_cannot_write_it)
{
    uid_t nobody;
    gid_t nogroup;
    char *tmp, *dir;
    siglog_options o = options(0640, 0750);
    root_fixture(&o, &nobody, &nogroup, &tmp, &dir);
    chown_tree(dir, 0, nogroup); /* the group may read */
    char *before = tree_state(dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(as_nobody(dir, nobody, nogroup));
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "as nobody: exit %d (10 dropping privileges, 11 reading, 12 not refused as a writer)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    char *after = tree_state(dir);
    cr_assert_str_eq(after, before, "nobody changed the store");
    free(after);
    free(before);
    free(dir);
    remove_tmpdir(tmp);
}

/* The command line, as root on nobody's store: every writing command is
 * refused in one line naming the owner, and works with --force-owner,
 * giving what it makes to nobody. */
Test(ownership, writing_commands_take_force_owner)
{
    uid_t nobody;
    gid_t nogroup;
    char *tmp, *dir;
    siglog_options o = options(0, 0);
    o.journal_bytes = 8u << 20; /* room for a stream with default settings */
    root_fixture(&o, &nobody, &nogroup, &tmp, &dir);
    chown_tree(dir, nobody, nogroup);
    char *input = test_path(tmp, "events.jsonl");
    run_write_file(input, "{\"a\":1}\n{\"a\":2}\n", 16);
    /* Each command with room for --force-owner at its end. */
    const char *append[] = {"append", dir, "events", NULL, NULL};
    const char *create[] = {"stream", "create", dir, "more", "--partitions", "1", NULL, NULL};
    const char **commands[] = {append, create};
    const size_t lens[] = {3, 6};
    for (size_t i = 0; i < 2; i++) {
        const char **args = commands[i];
        char *before = tree_state(dir);
        run_result r = run_siglog(input, args);
        cr_assert_eq(r.status, 1, "%s without --force-owner: %d %s", args[0], r.status, r.err);
        cr_assert(strstr(r.err, "belongs to uid"), "%s", r.err);
        cr_assert_eq(strchr(r.err, '\n'), r.err + r.err_len - 1, "one line: %s", r.err);
        run_free(&r);
        char *after = tree_state(dir);
        cr_assert_str_eq(after, before, "a refused %s changed the store", args[0]);
        free(after);
        free(before);
        args[lens[i]] = "--force-owner";
        r = run_siglog(input, args);
        cr_assert_eq(r.status, 0, "%s --force-owner: %s", args[0], r.err);
        run_free(&r);
    }
    check_tree(dir, nobody, nogroup, 0600, 0700);
    run_result r = RUN(NULL, "verify", dir, "--force-owner");
    cr_assert_eq(r.status, 2, "--force-owner without --repair is a usage error: %s", r.err);
    run_free(&r);
    free(input);
    free(dir);
    remove_tmpdir(tmp);
}
