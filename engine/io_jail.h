/*
 * io_jail — symlink-free path resolution for the POSIX backend (io_jail.c).
 * Internal to the I/O layer: the rest of the engine sees only IO_EJAIL and
 * sl_io_jail_detail() (io.h).
 */
#ifndef SIGLOG_IO_JAIL_H
#define SIGLOG_IO_JAIL_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>

#include "io.h"

/* A store's directory: its descriptor (O_PATH) and its resolved path,
 * which every path the store passes begins with. */
typedef struct jail_root {
    int fd;
    const char *path;
    size_t len; /* strlen(path), no trailing slash */
} jail_root;

/* Make root this thread's root for the path op about to run (NULL: none);
 * returns the previous one, which sl_jail_root_leave restores. io_root.c
 * brackets every path op of a store with these. */
const jail_root *sl_jail_root_enter(const jail_root *root);
void sl_jail_root_leave(const jail_root *prev);

/* Tests only: 1 makes every resolution take the component-by-component
 * walk that stands in for openat2 where the kernel lacks it. */
void sl_io_jail_force_walk(int on);

enum jail_want { JAIL_FILE, JAIL_DIR, JAIL_FILE_OR_DIR };

/* A path split into its parent directory, opened O_PATH without following
 * any symlink, and its last component. */
typedef struct jail_entry {
    int dirfd;
    const char *parent; /* the directory part: into dir, or "." or "/" */
    const char *name;   /* the last component: into dir */
    const char *path; /* the caller's full path, for messages */
    char dir[PATH_MAX];
} jail_entry;

/* Open path's parent; 0, -ENOENT, -IO_EJAIL (detail set) or -errno. */
int sl_jail_parent(const char *path, jail_entry *e);
void sl_jail_entry_close(jail_entry *e);
/* lstat of the entry itself: 0 or -errno. */
int sl_jail_stat(const jail_entry *e, struct stat *st);

/* The directory path opened with oflags | O_DIRECTORY, no symlink
 * followed: a descriptor, -ENOENT, -IO_EJAIL (detail set) or -errno. */
int sl_jail_open_dir(const char *path, int oflags);

/* 0 if `found` is what `want` asks for, else -IO_EJAIL with the detail
 * "PATH is <found>, not <want>". */
int sl_jail_check(const char *path, mode_t found, enum jail_want want);
/* The refusal itself, naming the first path_len bytes of path. */
int sl_jail_refuse(const char *path, size_t path_len, mode_t found, enum jail_want want);

#endif
