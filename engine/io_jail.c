/*
 * io_jail — how the POSIX backend reaches a path inside a store without
 * following a symbolic link or touching something that is not what the
 * store put there (io.h, "The store is a jail").
 *
 * Every path is resolved with openat2(RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS): the kernel refuses a symlink in any component,
 * atomically. Where openat2 is missing (ENOSYS: kernels before 5.6, some
 * seccomp filters) the same walk is made one component at a time with
 * openat(O_PATH | O_NOFOLLOW | O_DIRECTORY). The store's own path was made
 * symlink-free by realpath when it was opened, so any symlink met here was
 * planted inside the store.
 *
 * A refusal returns -IO_EJAIL and leaves this thread's io_jail_detail()
 * naming the first component that is wrong and what was found there.
 */
#include "io_jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Thread_local char jail_detail[PATH_MAX + 64];

const char *io_jail_detail(void)
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

int jail_refuse(const char *path, size_t path_len, mode_t found, enum jail_want want)
{
    static const char *const wanted[] = {"a file", "a directory", "a file or a directory"};
    snprintf(jail_detail, sizeof jail_detail, "%.*s is %s, not %s", (int)path_len, path, kind_name(found),
             wanted[want]);
    return -IO_EJAIL;
}

int jail_check(const char *path, mode_t found, enum jail_want want)
{
    int ok = want == JAIL_FILE  ? S_ISREG(found)
             : want == JAIL_DIR ? S_ISDIR(found)
                                : S_ISREG(found) || S_ISDIR(found);
    return ok ? 0 : jail_refuse(path, strlen(path), found, want);
}

/* After a resolution failed with ELOOP or ENOTDIR: find the first
 * component of path that is not a directory and say what it is. The
 * kernel's answer already refused the path; this only names the culprit,
 * so a race here can at worst make the message vaguer. */
static int diagnose(const char *path, int err)
{
    size_t len = strlen(path);
    for (size_t end = 1; end <= len; end++) {
        if (end < len && path[end] != '/')
            continue;
        char prefix[PATH_MAX];
        if (end >= sizeof prefix)
            break;
        memcpy(prefix, path, end);
        prefix[end] = '\0';
        struct stat st;
        if (fstatat(AT_FDCWD, prefix, &st, AT_SYMLINK_NOFOLLOW) != 0)
            break;
        if (!S_ISDIR(st.st_mode))
            return jail_refuse(path, end, st.st_mode, JAIL_DIR);
    }
    snprintf(jail_detail, sizeof jail_detail, "%s: a component is not a plain directory", path);
    return err == ENOENT ? -ENOENT : -IO_EJAIL;
}

/* The fallback walk: one openat(O_NOFOLLOW) per component. */
static int walk_dir(const char *path)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return -ENAMETOOLONG;
    strcpy(buf, path);
    int fd = open(buf[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *save = NULL;
    for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (next < 0)
            return -e;
        fd = next;
    }
    return fd;
}

/* The directory `path`, opened with oflags (which include O_DIRECTORY),
 * no symlink followed anywhere. */
static int open_dir_nofollow(const char *path, int oflags)
{
    struct open_how how = {
        .flags = (uint64_t)(oflags | O_CLOEXEC),
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    do
        fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    if (fd >= 0)
        return (int)fd;
    if (errno != ENOSYS)
        return -errno;
    int pfd = walk_dir(path);
    if (pfd < 0 || (oflags & O_PATH))
        return pfd;
    /* Reopen the O_PATH descriptor for what the caller needs. */
    int rfd = openat(pfd, ".", oflags | O_CLOEXEC);
    int e = errno;
    close(pfd);
    return rfd >= 0 ? rfd : -e;
}

int jail_open_dir(const char *path, int oflags)
{
    int fd = open_dir_nofollow(path, oflags | O_DIRECTORY);
    if (fd == -ELOOP || fd == -ENOTDIR)
        return diagnose(path, -fd);
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

int jail_parent(const char *path, jail_entry *e)
{
    int rc = split_path(path, e);
    if (rc < 0)
        return rc;
    e->dirfd = jail_open_dir(e->parent, O_PATH);
    return e->dirfd < 0 ? e->dirfd : 0;
}

void jail_entry_close(jail_entry *e)
{
    if (e->dirfd >= 0)
        close(e->dirfd);
    e->dirfd = -1;
}

int jail_stat(const jail_entry *e, struct stat *st)
{
    return fstatat(e->dirfd, e->name, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

char *io_real_path(const char *path)
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
