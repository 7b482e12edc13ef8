#include "catalog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "error.h"
#include "names.h"
#include "siglog.h"

/* catalog.ckpt, little-endian: 0 u32 magic, 4 u16 version, 6 u16 reserved,
 * 8 u64 log start offset, 16 u64 active base, 24 u64 next offset floor,
 * 32 u64 reserved, 40 u64 XXH3-64 of bytes 0..39. */
#define CATALOG_CHECKSUM_AT 40

struct catalog {
    const siglog_io *io;
    char *dir;
    char *path;
    uint32_t file_mode;
    catalog_checkpoint cp;
    int persisted; /* cp is what the file holds */
};

void catalog_encode(uint8_t buf[CATALOG_V1_FILE_BYTES], const catalog_checkpoint *c)
{
    memset(buf, 0, CATALOG_V1_FILE_BYTES);
    put_le32(buf, CATALOG_MAGIC);
    put_le16(buf + 4, 1);
    put_le64(buf + 8, c->log_start_offset);
    put_le64(buf + 16, c->active_base);
    put_le64(buf + 24, c->next_offset_floor);
    put_le64(buf + CATALOG_CHECKSUM_AT, XXH3_64bits(buf, CATALOG_CHECKSUM_AT));
}

int catalog_decode(const uint8_t *buf, size_t len, catalog_checkpoint *c)
{
    if (len != CATALOG_V1_FILE_BYTES)
        return err_set(SIGLOG_ECORRUPT, "partition checkpoint is %zu bytes, expected %d", len, CATALOG_V1_FILE_BYTES);
    if (get_le32(buf) != CATALOG_MAGIC)
        return err_set(SIGLOG_ECORRUPT, "not a partition checkpoint (bad magic)");
    if (get_le64(buf + CATALOG_CHECKSUM_AT) != XXH3_64bits(buf, CATALOG_CHECKSUM_AT))
        return err_set(SIGLOG_ECORRUPT, "partition checkpoint checksum mismatch");
    if (get_le16(buf + 4) != 1)
        return err_set(SIGLOG_EVERSION, "partition checkpoint version %u, this build reads %d", get_le16(buf + 4),
                       1);
    if (get_le16(buf + 6) != 0 || get_le64(buf + 32) != 0)
        return err_set(SIGLOG_ECORRUPT, "partition checkpoint: reserved bytes are not zero");
    catalog_checkpoint d = {get_le64(buf + 8), get_le64(buf + 16), get_le64(buf + 24)};
    if (d.log_start_offset > d.active_base || d.active_base > d.next_offset_floor)
        return err_set(SIGLOG_ECORRUPT,
                       "partition checkpoint: log start %" PRIu64 ", active base %" PRIu64 " and next offset "
                       "bound %" PRIu64 " are out of order",
                       d.log_start_offset, d.active_base, d.next_offset_floor);
    *c = d;
    return 0;
}

int catalog_load(const siglog_io *io, const char *dir, catalog_checkpoint *out, int *found)
{
    *found = 0;
    int is_dir = 0;
    uint64_t size;
    int st = io->stat_path(io, dir, &is_dir, &size);
    if (st == -ENOENT || (st == 0 && !is_dir))
        return err_set(SIGLOG_ECORRUPT,
                       "partition directory %s is missing; it is not recreated (that would hand out its offsets "
                       "again): restore it, see siglog verify",
                       dir);
    if (st < 0)
        return err_errno(st, "stat of %s", dir);
    char *path = path_join(dir, CATALOG_FILE);
    if (!path)
        return err_set(SIGLOG_ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    int rc = 0;
    int r = io_read_file(io, path, CATALOG_V1_FILE_BYTES, &data, &len);
    if (r == -ENOENT)
        goto out;
    if (r < 0) {
        rc = r == -EFBIG ? err_set(SIGLOG_ECORRUPT, "%s: larger than a partition checkpoint", path)
                         : err_errno(r, "reading %s", path);
        goto out;
    }
    rc = catalog_decode(data, len, out);
    if (rc)
        rc = err_set(rc, "%s: %s", path, siglog_errdetail());
    else
        *found = 1;
out:
    free(data);
    free(path);
    return rc;
}

int catalog_check_segments(const char *dir, const catalog_checkpoint *c, const uint64_t *bases, size_t n)
{
    if (n == 0 && c->next_offset_floor > c->log_start_offset)
        return err_set(SIGLOG_ECORRUPT,
                       "%s: every segment is missing: offsets %" PRIu64 "..%" PRIu64 " were written (see its %s); "
                       "nothing was recreated",
                       dir, c->log_start_offset, c->next_offset_floor - 1, CATALOG_FILE);
    if (n > 0 && bases[0] > c->log_start_offset)
        return err_set(SIGLOG_ECORRUPT,
                       "%s: segments missing at the start: offsets %" PRIu64 "..%" PRIu64 " (the log starts at %" PRIu64
                       ", the first segment found at %" PRIu64 ")",
                       dir, c->log_start_offset, bases[0] - 1, c->log_start_offset, bases[0]);
    if (n > 0 && bases[n - 1] < c->active_base)
        return err_set(SIGLOG_ECORRUPT,
                       "%s: segments missing at the end: the active segment starts at offset %" PRIu64
                       " but the last segment found starts at %" PRIu64 "; offsets from %" PRIu64
                       " on are missing and are not handed out again",
                       dir, c->active_base, bases[n - 1], c->active_base);
    return 0;
}

int catalog_check_end(const char *dir, const catalog_checkpoint *c, uint64_t next_offset)
{
    if (next_offset >= c->next_offset_floor)
        return 0;
    return err_set(SIGLOG_ECORRUPT,
                   "%s: the log ends at offset %" PRIu64 " but offsets up to %" PRIu64 " were written and synced "
                   "(see its %s): offsets %" PRIu64 "..%" PRIu64 " are missing and are not handed out again",
                   dir, next_offset, c->next_offset_floor - 1, CATALOG_FILE, next_offset,
                   c->next_offset_floor - 1);
}

static int catalog_write(const siglog_io *io, const char *dir, const char *path, const catalog_checkpoint *cp,
                         uint32_t file_mode)
{
    uint8_t buf[CATALOG_V1_FILE_BYTES];
    catalog_encode(buf, cp);
    int r = io_replace_file(io, dir, path, buf, sizeof buf, file_mode);
    return r < 0 ? err_errno(r, "writing %s", path) : 0;
}

int catalog_open(catalog **out, const siglog_io *io, const char *dir, uint32_t file_mode)
{
    *out = NULL;
    catalog_checkpoint cp = {0, 0, 0};
    int found;
    int rc = catalog_load(io, dir, &cp, &found);
    if (rc)
        return rc;
    catalog *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir)) || !(c->path = path_join(dir, CATALOG_FILE))) {
        catalog_close(c);
        return err_set(SIGLOG_ENOMEM, "out of memory");
    }
    c->io = io;
    c->file_mode = file_mode;
    c->cp = cp;
    c->persisted = found;
    *out = c;
    return 0;
}

int catalog_match_segments(catalog *c, const uint64_t *bases, size_t n)
{
    if (c->persisted)
        return catalog_check_segments(c->dir, &c->cp, bases, n);
    uint64_t last = n ? bases[n - 1] : 0;
    c->cp = (catalog_checkpoint){n ? bases[0] : 0, last, last};
    return 0;
}

void catalog_close(catalog *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->dir);
    free(c);
}

const catalog_checkpoint *catalog_get(const catalog *c)
{
    return &c->cp;
}

int catalog_commit(catalog *c, uint64_t active_base, uint64_t next_offset_floor)
{
    catalog_checkpoint next = c->cp;
    if (active_base > next.active_base)
        next.active_base = active_base;
    if (next_offset_floor > next.next_offset_floor)
        next.next_offset_floor = next_offset_floor;
    if (next.next_offset_floor < next.active_base) /* the active segment starts where the sealed ones end */
        next.next_offset_floor = next.active_base;
    /* An empty log needs no file: its absence says the same. */
    static const catalog_checkpoint empty = {0, 0, 0};
    if (memcmp(&next, &c->cp, sizeof next) == 0 && (c->persisted || memcmp(&next, &empty, sizeof next) == 0))
        return 0;
    int rc = catalog_write(c->io, c->dir, c->path, &next, c->file_mode);
    if (rc)
        return rc;
    c->cp = next;
    c->persisted = 1;
    return 0;
}
