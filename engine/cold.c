/*
 * cold — the cold tier's directory; see cold.h.
 */
#include "cold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
