#include "catalog_floor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "siglog.h"

/* Layout (little-endian, FORMAT.md "Partition floor"): magic u32 at 0,
 * version u16 at 4, reserved u16 (zero) at 6, the generation of the
 * catalog write it follows u64 at 8, log start u64 at 16, next-offset
 * floor u64 at 24, XXH3-64 of bytes 0..31 at 32. */
#define FLOOR_GENERATION_AT 8
#define FLOOR_LOG_START_AT 16
#define FLOOR_FLOOR_AT 24
#define FLOOR_CHECKSUM_AT 32

char *sl_catalog_floor_path(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    char *p = malloc(n + sizeof CATALOG_FLOOR_SUFFIX);
    if (p) {
        memcpy(p, dir, n);
        memcpy(p + n, CATALOG_FLOOR_SUFFIX, sizeof CATALOG_FLOOR_SUFFIX);
    }
    return p;
}

void sl_catalog_floor_encode(uint8_t buf[CATALOG_FLOOR_BYTES], uint64_t generation, const catalog_checkpoint *b)
{
    memset(buf, 0, CATALOG_FLOOR_BYTES);
    put_le32(buf, CATALOG_FLOOR_MAGIC);
    put_le16(buf + 4, CATALOG_FLOOR_VERSION);
    put_le64(buf + FLOOR_GENERATION_AT, generation);
    put_le64(buf + FLOOR_LOG_START_AT, b->log_start_offset);
    put_le64(buf + FLOOR_FLOOR_AT, b->next_offset_floor);
    put_le64(buf + FLOOR_CHECKSUM_AT, XXH3_64bits(buf, FLOOR_CHECKSUM_AT));
}

int sl_catalog_floor_decode(const uint8_t *buf, size_t len, uint64_t *generation, catalog_checkpoint *b)
{
    if (len != CATALOG_FLOOR_BYTES)
        return sl_err_set(SIGLOG_ECORRUPT, "at byte %zu: a partition floor is %d bytes, this one %zu",
                          len < CATALOG_FLOOR_BYTES ? len : (size_t)CATALOG_FLOOR_BYTES, CATALOG_FLOOR_BYTES, len);
    if (get_le32(buf) != CATALOG_FLOOR_MAGIC)
        return sl_err_set(SIGLOG_ECORRUPT, "at byte 0: not a partition floor (bad magic)");
    if (get_le64(buf + FLOOR_CHECKSUM_AT) != XXH3_64bits(buf, FLOOR_CHECKSUM_AT))
        return sl_err_set(SIGLOG_ECORRUPT, "at byte %d: partition floor checksum mismatch (over bytes 0..%d)", FLOOR_CHECKSUM_AT,
                          FLOOR_CHECKSUM_AT - 1);
    if (get_le16(buf + 4) != CATALOG_FLOOR_VERSION)
        return sl_err_set(SIGLOG_EVERSION, "at byte 4: partition floor version %u, this build reads %d", get_le16(buf + 4),
                          CATALOG_FLOOR_VERSION);
    if (get_le16(buf + 6) != 0)
        return sl_err_set(SIGLOG_ECORRUPT, "at byte 6: partition floor: reserved bytes are not zero");
    uint64_t start = get_le64(buf + FLOOR_LOG_START_AT), floor = get_le64(buf + FLOOR_FLOOR_AT);
    if (start > floor)
        return sl_err_set(SIGLOG_ECORRUPT, "at byte %d: partition floor: log start %" PRIu64 " is past the floor %" PRIu64,
                          FLOOR_LOG_START_AT, start, floor);
    *generation = get_le64(buf + FLOOR_GENERATION_AT);
    *b = (catalog_checkpoint){.log_start_offset = start, .active_base = floor, .next_offset_floor = floor};
    return 0;
}

int sl_catalog_floor_read(const siglog_io *io, const char *dir, uint64_t *generation, catalog_checkpoint *b,
                          int *found)
{
    *found = 0;
    char *path = sl_catalog_floor_path(dir);
    if (!path)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    int rc = 0;
    int r = sl_io_read_file(io, path, CATALOG_FLOOR_BYTES + 1, &data, &len);
    if (r == -EFBIG)
        rc = sl_err_set(SIGLOG_ECORRUPT, "%s: at byte %d: larger than a partition floor", path, CATALOG_FLOOR_BYTES);
    else if (r < 0 && r != -ENOENT)
        rc = sl_err_errno(r, "reading %s", path);
    else if (r >= 0 && (rc = sl_catalog_floor_decode(data, len, generation, b)) != 0)
        rc = sl_err_set(rc, "%s: %s", path, siglog_errdetail());
    else if (r >= 0)
        *found = 1;
    free(data);
    free(path);
    return rc;
}

int sl_catalog_floor_write(const siglog_io *io, const char *dir, uint64_t generation, const catalog_checkpoint *b,
                           uint32_t mode)
{
    char *path = sl_catalog_floor_path(dir);
    char *parent = path ? strdup(path) : NULL;
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (!slash) {
        free(path);
        free(parent);
        return path ? sl_err_set(SIGLOG_EINVAL, "%s: a partition directory has a parent", dir)
                    : sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    *(slash == parent ? slash + 1 : slash) = '\0';
    uint8_t buf[CATALOG_FLOOR_BYTES];
    sl_catalog_floor_encode(buf, generation, b);
    int r = sl_io_replace_file(io, parent, path, buf, sizeof buf, mode);
    int rc = r < 0 ? sl_err_errno(r, "writing %s", path) : 0;
    free(parent);
    free(path);
    return rc;
}
