#include "fuzz_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "batch.h"
#include "codec.h"

/* Batch header fields the repair rewrites (format-spec, "Batch"). */
#define HDR_BODY_LEN 20
#define HDR_BODY_CHECKSUM 48
#define HDR_CHECKSUM 56

static char scratch[4096];

void fuzz_fail(const char *target, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: oracle failed: ", target);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        fuzz_empty_dir(path);
        rmdir(path);
    } else {
        unlink(path);
    }
}

void fuzz_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = fuzz_path(dir, e->d_name);
        remove_tree(p);
        free(p);
    }
    closedir(d);
}

static void remove_scratch(void)
{
    if (scratch[0])
        remove_tree(scratch);
}

const char *fuzz_scratch(void)
{
    if (scratch[0])
        return scratch;
    struct stat st;
    const char *root = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/siglog-fuzz-XXXXXX", root ? root : "/tmp");
    if (!mkdtemp(scratch)) {
        perror(scratch);
        abort();
    }
    atexit(remove_scratch);
    return scratch;
}

char *fuzz_path(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

void fuzz_mkdirs(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *s = buf + strlen(fuzz_scratch()) + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            perror(buf);
            abort();
        }
        *s = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        perror(buf);
        abort();
    }
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const uint8_t *p = data;
    while (fd >= 0 && len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
    if (fd < 0 || len != 0 || close(fd) != 0) {
        perror(path);
        abort();
    }
}

uint8_t *fuzz_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1)) != NULL) {
        ssize_t r = pread(fd, buf, (size_t)st.st_size, 0);
        if (r != st.st_size) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)st.st_size;
    }
    close(fd);
    return buf;
}

void fuzz_copy_tree(const char *src, const char *dst)
{
    if (mkdir(dst, 0700) != 0) {
        perror(dst);
        abort();
    }
    DIR *d = opendir(src);
    if (!d) {
        perror(src);
        abort();
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *from = fuzz_path(src, e->d_name), *to = fuzz_path(dst, e->d_name);
        struct stat st;
        if (lstat(from, &st) != 0)
            abort();
        if (S_ISDIR(st.st_mode)) {
            fuzz_copy_tree(from, to);
        } else {
            size_t len = 0;
            uint8_t *data = fuzz_read_file(from, &len);
            if (!data)
                abort();
            fuzz_write_file(to, data, len);
            free(data);
        }
        free(from);
        free(to);
    }
    closedir(d);
}

size_t fuzz_repair_batches(uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (len - pos >= BATCH_HEADER_BYTES && get_le32(p + pos) == BATCH_MAGIC) {
        uint8_t *h = p + pos;
        uint32_t body_len = get_le32(h + HDR_BODY_LEN);
        if (body_len > len - pos - BATCH_HEADER_BYTES)
            break;
        put_le64(h + HDR_BODY_CHECKSUM, XXH3_64bits(h + BATCH_HEADER_BYTES, body_len));
        put_le64(h + HDR_CHECKSUM, XXH3_64bits(h, HDR_CHECKSUM));
        pos += BATCH_HEADER_BYTES + (size_t)body_len;
    }
    return pos;
}

void fuzz_check_refusal(const char *target, int rc)
{
    if (rc != SIGLOG_ECORRUPT && rc != SIGLOG_EVERSION && rc != SIGLOG_ENOMEM)
        fuzz_fail(target, "decoder returned %d", rc);
    if (siglog_errdetail()[0] == '\0')
        fuzz_fail(target, "decoder error %d without a detail", rc);
}

void fuzz_check_refusal_names(const char *target, int rc, const char *name)
{
    if (rc != SIGLOG_ECORRUPT && rc != SIGLOG_EVERSION)
        fuzz_fail(target, "decoder returned %d", rc);
    if (!strstr(siglog_errdetail(), name))
        fuzz_fail(target, "error %d does not name the file: %s", rc, siglog_errdetail());
}

/* p[0..len) in a malloc'd buffer of at least one byte, so that an empty
 * copy is a pointer the caller frees like any other; aborts when out of
 * memory. */
static uint8_t *copy_of(const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, p, len);
    return copy;
}

void fuzz_with_honest_trailer(const uint8_t *data, size_t size, void (*check)(const uint8_t *data, size_t size))
{
    check(data, size);
    if (size < 8)
        return;
    uint8_t *copy = copy_of(data, size);
    fuzz_repair_trailer(copy, size, 8);
    check(copy, size);
    free(copy);
}

uint8_t *fuzz_options_and_file(const uint8_t *data, size_t size, unsigned *opts, size_t *len)
{
    if (size < 1)
        return NULL;
    *opts = data[0];
    *len = size - 1;
    return copy_of(data + 1, *len);
}

void fuzz_repair_trailer(uint8_t *p, size_t len, size_t min_len)
{
    if (len < 8 || len < min_len)
        return;
    put_le64(p + len - 8, XXH3_64bits(p, len - 8));
}

uint8_t *fuzz_file_opt_trailer(const uint8_t *data, size_t size, size_t min_len, size_t *len)
{
    unsigned opts;
    uint8_t *file = fuzz_options_and_file(data, size, &opts, len);
    if (file && (opts & 1))
        fuzz_repair_trailer(file, *len, min_len);
    return file;
}

uint8_t *fuzz_segment_bytes(const uint8_t *data, size_t size, int repair, size_t *len)
{
    if (size < 2)
        return NULL;
    *len = size - 2;
    uint8_t *seg = copy_of(data + 2, *len);
    if (repair)
        fuzz_repair_batches(seg, *len);
    return seg;
}

void fuzz_segment_paths(char **dir, char **seg_path)
{
    if (*dir)
        return;
    *dir = fuzz_path(fuzz_scratch(), "part");
    fuzz_mkdirs(*dir);
    *seg_path = fuzz_path(*dir, "00000000000000000000.seg");
}
