/*
 * cold — the cold tier's directory; see cold.h.
 */
#include "cold.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "error.h"
#include "io.h"

/* Whether path is dir or lies beneath it (both absolute, without "."
 * or ".." components and without a trailing '/', but for "/"). */
static int is_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return 1;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int sl_cold_dir_check(const char *store_path, const siglog_stream_config *c)
{
    if (!c->cold_dir[0])
        return 0;
    char *store = sl_io_real_path(store_path);
    if (!store)
        return errno == ENOMEM ? sl_err_set(SIGLOG_ENOMEM, "out of memory")
                               : sl_err_errno(-errno, "resolving the store's path %s", store_path);
    /* As given (a mount point that is not there yet) and as it resolves
     * now, or its parent does (a symlink from outside into the store). */
    char *real = sl_io_real_path(c->cold_dir);
    int inside = is_within(c->cold_dir, store) || (real && is_within(real, store));
    int rc = inside ? sl_err_set(SIGLOG_EINVAL, "stream config: cold_dir '%s' lies inside the store %s; the cold tier "
                                                "must be outside it", c->cold_dir, store)
                    : 0;
    free(real);
    free(store);
    return rc;
}

void sl_cold_location(char buf[CATALOG_LOCATION_MAX + 1], uint64_t base, uint32_t generation)
{
    if (generation == 0)
        snprintf(buf, CATALOG_LOCATION_MAX + 1, "%020" PRIu64 COLD_LOCATION_SUFFIX, base);
    else
        snprintf(buf, CATALOG_LOCATION_MAX + 1, "%020" PRIu64 COLD_LOCATION_SUFFIX "%" PRIu32, base, generation);
}

uint32_t sl_cold_generation(const catalog_segment *e)
{
    /* A location is checked when the catalog is read (digits and
     * lower-case letters after the base), so only the digits matter. */
    const char *g = e->location + SEGMENT_NAME_DIGITS + strlen(COLD_LOCATION_SUFFIX);
    if (strlen(e->location) <= SEGMENT_NAME_DIGITS + strlen(COLD_LOCATION_SUFFIX))
        return 0;
    uint64_t n = 0;
    for (; *g >= '0' && *g <= '9' && n <= UINT32_MAX; g++)
        n = 10 * n + (uint64_t)(*g - '0');
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int sl_cold_entry(const catalog_segment *e)
{
    return e->tier == CATALOG_TIER_COLD;
}

size_t sl_cold_prefix(const catalog_snapshot *s)
{
    size_t n = sl_catalog_snapshot_count(s);
    while (n > 0 && !sl_cold_entry(sl_catalog_snapshot_segment(s, n - 1)))
        n--;
    return n;
}

void sl_cold_archive_name(char buf[COLD_NAME_MAX + 1], uint64_t store_id, const char *stream, uint32_t partition,
                          uint64_t base, uint64_t end, uint32_t generation)
{
    char gen[16] = "";
    if (generation)
        snprintf(gen, sizeof gen, ".g%" PRIu32, generation);
    snprintf(buf, COLD_NAME_MAX + 1, "%016" PRIx64 ".%s.%05u.%020" PRIu64 "-%020" PRIu64 "%s%s", store_id, stream,
             partition, base, end, gen, ARCHIVE_SUFFIX);
}

void sl_cold_entry_archive_name(char buf[COLD_NAME_MAX + 1], uint64_t store_id, const char *stream,
                                uint32_t partition, const catalog_segment *e)
{
    sl_cold_archive_name(buf, store_id, stream, partition, e->base_offset, e->end_offset, sl_cold_generation(e));
}

int sl_cold_root_open(const siglog_io *backend, const char *store_path, const siglog_stream_config *c,
                      io_root **out, char **real)
{
    *out = NULL;
    *real = NULL;
    if (!c->cold_dir[0])
        return sl_err_set(SIGLOG_EINVAL, "the stream has no cold_dir");
    int rc = store_path ? sl_cold_dir_check(store_path, c) : 0;
    if (rc)
        return rc;
    /* As given: a symlink at its last component is refused (FORMAT.md
     * §4), one further up is the operator's mount layout. */
    if (!(*real = strdup(c->cold_dir)))
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    if ((rc = sl_io_root_open(backend, *real, out)) < 0) {
        rc = rc == -IO_EJAIL ? sl_err_set(SIGLOG_EPERM, "cold_dir %s: %s", c->cold_dir, sl_io_jail_detail())
                             : sl_err_errno(rc, "cold_dir %s", c->cold_dir);
        free(*real);
        *real = NULL;
    }
    return rc;
}
