#include "support.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp_root(void)
{
    const char *r = getenv("SIGLOG_TEST_TMP");
    return r && *r ? r : "/tmp";
}

char *test_tmpdir(const char *tag)
{
    const char *root = tmp_root();
    mkdir(root, 0700);
    char *tmpl = NULL;
    cr_assert(asprintf(&tmpl, "%s/%s-XXXXXX", root, tag) > 0);
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp %s failed", tmpl);
    return tmpl;
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void test_rmtree(const char *path)
{
    if (path && strncmp(path, tmp_root(), strlen(tmp_root())) == 0)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t test_file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return (uint64_t)st.st_size;
}

void test_truncate(const char *path, uint64_t size)
{
    cr_assert_eq(truncate(path, (off_t)size), 0, "truncate %s", path);
}

void test_flip_byte(const char *path, uint64_t pos, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0, "open %s", path);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)pos), 1, "read byte %llu of %s", (unsigned long long)pos, path);
    b ^= mask;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
    close(fd);
}

char *test_path(const char *a, const char *b)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", a, b) > 0);
    return p;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
