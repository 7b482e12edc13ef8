/*
 * io_jail — how the POSIX backend reaches a path inside a store without
 * following a symbolic link or touching something that is not what the
 * store put there (io.h, "The store is a jail").
 *
 * Inside a store (a path op made through the store's io_root, which sets
 * this thread's root for the call) a path is resolved beneath the store
 * directory's descriptor, opened once when the store was opened, with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS):
 * the store's path string is only a label, so renaming or replacing the
 * store directory or a parent under a live handle cannot redirect an open,
 * and the kernel refuses a symlink in any component, atomically. A path
 * that does not lie below the root is refused. Outside a store (creating
 * one, test backends replaying a power cut) the path is resolved from the
 * working directory with RESOLVE_NO_SYMLINKS alone.
 *
 * Where openat2 is missing (ENOSYS: kernels before 5.6, some seccomp
 * filters) the same walk is made one component at a time from the same
 * starting directory with openat(O_PATH | O_NOFOLLOW | O_DIRECTORY), ".."
 * refused beneath a root. sl_io_jail_force_walk() makes every resolution take
 * that path, so the tests prove it as well as the kernel's.
 *
 * A refusal returns -IO_EJAIL and leaves this thread's sl_io_jail_detail()
 * naming the first component that is wrong and what was found there.
 */
#include "io_jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Thread_local char jail_detail[PATH_MAX + 64];

/* The store whose path op this thread is making (io_root.c), or NULL. */
static _Thread_local const jail_root *current_root;

static atomic_int force_walk;

const jail_root *sl_jail_root_enter(const jail_root *root)
{
    const jail_root *prev = current_root;
    current_root = root;
    return prev;
}

void sl_jail_root_leave(const jail_root *prev)
{
    current_root = prev;
}

void sl_io_jail_force_walk(int on)
{
    atomic_store(&force_walk, on);
}

const char *sl_io_jail_detail(void)
{
    return jail_detail;
}

static const char *kind_name(mode_t m)
{
    if (S_ISLNK(m))
        return "a symbolic link";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISREG(m))
        return "a file";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "of unknown type";
}

int sl_jail_refuse(const char *path, size_t path_len, mode_t found, enum jail_want want)
{
    static const char *const wanted[] = {"a file", "a directory", "a file or a directory"};
    snprintf(jail_detail, sizeof jail_detail, "%.*s is %s, not %s", (int)path_len, path, kind_name(found),
             wanted[want]);
    return -IO_EJAIL;
}

int sl_jail_check(const char *path, mode_t found, enum jail_want want)
{
    int ok = want == JAIL_FILE  ? S_ISREG(found)
             : want == JAIL_DIR ? S_ISDIR(found)
                                : S_ISREG(found) || S_ISDIR(found);
    return ok ? 0 : sl_jail_refuse(path, strlen(path), found, want);
}

/* Where a resolution of path starts: the directory *base and the path
 * *rel to walk from it. Beneath the current root, rel is path with the
 * root's own path taken off ("." for the root itself); a path not below
 * the root is refused. Without a root, the working directory and path. */
static int resolution_start(const char *path, int *base, const char **rel)
{
    const jail_root *r = current_root;
    if (!r) {
        *base = AT_FDCWD;
        *rel = path;
        return 0;
    }
    if (strncmp(path, r->path, r->len) != 0 || (path[r->len] != '/' && path[r->len] != '\0')) {
        snprintf(jail_detail, sizeof jail_detail, "%s is outside the store %s", path, r->path);
        return -IO_EJAIL;
    }
    const char *rest = path + r->len;
    while (*rest == '/')
        rest++;
    *base = r->fd;
    *rel = *rest ? rest : ".";
    return 0;
}

/* After a resolution of path (rel from base) failed with ELOOP or
 * ENOTDIR: find the first component that is not a directory and say what
 * it is. The kernel's answer already refused the path; this only names
 * the culprit, so a race here can at worst make the message vaguer. */
static int diagnose(const char *path, int base, const char *rel, int err)
{
    size_t len = strlen(rel);
    /* rel is the tail of path, or "." (nothing to name but the root). */
    size_t skipped = strlen(path) >= len ? strlen(path) - len : 0;
    for (size_t end = 1; end <= len; end++) {
        if (end < len && rel[end] != '/')
            continue;
        char prefix[PATH_MAX];
        if (end >= sizeof prefix)
            break;
        memcpy(prefix, rel, end);
        prefix[end] = '\0';
        struct stat st;
        if (fstatat(base, prefix, &st, AT_SYMLINK_NOFOLLOW) != 0)
            break;
        if (!S_ISDIR(st.st_mode))
            return sl_jail_refuse(path, skipped + end, st.st_mode, JAIL_DIR);
    }
    snprintf(jail_detail, sizeof jail_detail, "%s: a component is not a plain directory", path);
    return err == ENOENT ? -ENOENT : -IO_EJAIL;
}

/* The fallback walk from base: one openat(O_NOFOLLOW) per component. */
static int walk_dir(const char *path, int base, const char *rel)
{
    char buf[PATH_MAX];
    if (strlen(rel) >= sizeof buf)
        return -ENAMETOOLONG;
    strcpy(buf, rel);
    int fd = base == AT_FDCWD ? open(buf[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC)
                              : openat(base, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *save = NULL;
    for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (base != AT_FDCWD && strcmp(c, "..") == 0) {
            close(fd);
            snprintf(jail_detail, sizeof jail_detail, "%s climbs out of the store", path);
            return -IO_EJAIL;
        }
        int next = openat(fd, c, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (next < 0)
            return -e;
        fd = next;
    }
    return fd;
}

/* The directory rel below base, opened with oflags (which include
 * O_DIRECTORY), no symlink followed anywhere. */
static int open_dir_nofollow(const char *path, int base, const char *rel, int oflags)
{
    struct open_how how = {
        .flags = (uint64_t)(oflags | O_CLOEXEC),
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | (base == AT_FDCWD ? 0 : RESOLVE_BENEATH),
    };
    long fd = -1;
    errno = ENOSYS;
    if (!atomic_load(&force_walk)) {
        do
            fd = syscall(SYS_openat2, base, rel, &how, sizeof how);
        while (fd < 0 && errno == EINTR);
    }
    if (fd >= 0)
        return (int)fd;
    if (errno == EXDEV) { /* RESOLVE_BENEATH: rel climbed out of the root */
        snprintf(jail_detail, sizeof jail_detail, "%s climbs out of the store", path);
        return -IO_EJAIL;
    }
    if (errno != ENOSYS)
        return -errno;
    int pfd = walk_dir(path, base, rel);
    if (pfd < 0 || (oflags & O_PATH))
        return pfd;
    /* Reopen the O_PATH descriptor for what the caller needs. */
    int rfd = openat(pfd, ".", oflags | O_CLOEXEC);
    int e = errno;
    close(pfd);
    return rfd >= 0 ? rfd : -e;
}

int sl_jail_open_dir(const char *path, int oflags)
{
    int base;
    const char *rel;
    int rc = resolution_start(path, &base, &rel);
    if (rc < 0)
        return rc;
    int fd = open_dir_nofollow(path, base, rel, oflags | O_DIRECTORY);
    if (fd == -ELOOP || fd == -ENOTDIR)
        return diagnose(path, base, rel, -fd);
    return fd;
}

/* Split path (trailing slashes ignored) into its parent directory ("."
 * or "/" when it names none) and its last component, both pointing into
 * e->dir. */
static int split_path(const char *path, jail_entry *e)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof e->dir)
        return len ? -ENAMETOOLONG : -ENOENT;
    memcpy(e->dir, path, len);
    e->dir[len] = '\0';
    char *slash = strrchr(e->dir, '/');
    if (!slash) {
        e->parent = ".";
        e->name = e->dir;
    } else if (slash == e->dir) {
        e->parent = "/";
        e->name = slash + 1;
    } else {
        *slash = '\0';
        e->parent = e->dir;
        e->name = slash + 1;
    }
    e->path = path;
    e->dirfd = -1;
    return 0;
}

int sl_jail_parent(const char *path, jail_entry *e)
{
    int rc = split_path(path, e);
    if (rc < 0)
        return rc;
    const jail_root *r = current_root;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (r && len == r->len && strncmp(path, r->path, len) == 0) {
        /* The root itself (trailing slashes aside): its parent is outside
         * the store, so the entry is "." of the root. Every op on it is
         * one the kernel refuses or a stat. */
        e->parent = path;
        e->name = ".";
    }
    e->dirfd = sl_jail_open_dir(e->parent, O_PATH);
    return e->dirfd < 0 ? e->dirfd : 0;
}

void sl_jail_entry_close(jail_entry *e)
{
    if (e->dirfd >= 0)
        close(e->dirfd);
    e->dirfd = -1;
}

int sl_jail_stat(const jail_entry *e, struct stat *st)
{
    return fstatat(e->dirfd, e->name, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

char *sl_io_real_path(const char *path)
{
    char *real = realpath(path, NULL);
    if (real || errno != ENOENT)
        return real;
    /* Not there yet (a store being created): resolve the parent, keep the
     * last component as given. */
    jail_entry e;
    int rc = split_path(path, &e);
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    real = realpath(e.parent, NULL);
    if (!real)
        return NULL;
    char *joined = NULL;
    int n = asprintf(&joined, "%s%s%s", real, strcmp(real, "/") ? "/" : "", e.name);
    free(real);
    return n < 0 ? NULL : joined;
}
