/*
 * resume — a consumer's committed offsets; see resume.h.
 */
#include "resume.h"

#include <string.h>

typedef struct find_ctx {
    const char *name;
    uint32_t partitions;
    uint64_t *next;
} find_ctx;

static int copy_if_named(void *ctx, const siglog_consumer_info *c)
{
    find_ctx *f = ctx;
    if (strcmp(c->name, f->name) != 0)
        return 0;
    /* The consumer's partition count is the stream's; a shorter list
     * (never written by this siglog) leaves the rest at the start. */
    for (uint32_t p = 0; p < f->partitions && p < c->partitions; p++)
        f->next[p] = c->next_offset[p];
    return 1;
}

int resume_load(siglog_stream *st, const char *name, uint32_t partitions, uint64_t *next, int *found)
{
    memset(next, 0, partitions * sizeof *next);
    find_ctx f = { name, partitions, next };
    int rc = siglog_consumer_foreach(st, copy_if_named, &f);
    *found = rc == 1;
    return rc < 0 ? rc : 0;
}

int resume_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > SIGLOG_NAME_MAX || name[0] == '.')
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}
