#include "tree_fingerprint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Growing output; NULL data after an allocation failure. */
typedef struct text {
    char *data;
    size_t len;
} text;

static int file_hash(const char *path, uint64_t *out)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    XXH3_state_t *h = XXH3_createState();
    if (!h) {
        close(fd);
        return -1;
    }
    XXH3_64bits_reset(h);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        XXH3_64bits_update(h, buf, (size_t)n);
    close(fd);
    *out = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return n < 0 ? -1 : 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int append_line(text *t, const char *rel, const struct stat *st, uint64_t hash)
{
    char *line = NULL;
    int l = asprintf(&line, "%s %o %lld %lld.%09ld %016llx\n", rel, (unsigned)st->st_mode, (long long)st->st_size,
                     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (unsigned long long)hash);
    if (l < 0)
        return -1;
    char *d = realloc(t->data, t->len + (size_t)l + 1);
    if (!d) {
        free(line);
        return -1;
    }
    memcpy(d + t->len, line, (size_t)l + 1);
    t->data = d;
    t->len += (size_t)l;
    free(line);
    return 0;
}

/* "a/b" (or b alone when a is empty), malloc'd. */
static char *join(const char *a, const char *b)
{
    char *p = NULL;
    return asprintf(&p, "%s%s%s", a, *a ? "/" : "", b) < 0 ? NULL : p;
}

static int walk(const char *root, const char *rel, text *t)
{
    char *dir = *rel ? join(root, rel) : strdup(root);
    DIR *d = dir ? opendir(dir) : NULL;
    free(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char **more = realloc(names, (n + 1) * sizeof *names);
        if (!more || !(more[n] = strdup(e->d_name)))
            rc = -1;
        if (more)
            names = more;
        if (!rc)
            n++;
    }
    closedir(d);
    if (n) /* names is NULL for an empty directory */
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        char *r = join(rel, names[i]);
        char *full = r ? join(root, r) : NULL;
        struct stat st;
        uint64_t hash = 0;
        if (rc || !full || lstat(full, &st) != 0 || (S_ISREG(st.st_mode) && file_hash(full, &hash) != 0) ||
            append_line(t, r, &st, hash) != 0 || (S_ISDIR(st.st_mode) && walk(root, r, t) != 0))
            rc = -1;
        free(full);
        free(r);
        free(names[i]);
    }
    free(names);
    return rc;
}

char *tree_fingerprint(const char *dir)
{
    text t = {strdup(""), 0};
    if (!t.data || walk(dir, "", &t) != 0) {
        free(t.data);
        return NULL;
    }
    return t.data;
}
