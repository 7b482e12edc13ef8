/*
 * forget_pending — siglog_forget_pending: the forget intents a crash left
 * (forget_intent.h), listed through any store handle. It only reads: a
 * read-only handle may report an unfinished forget, never finish it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "forget_intent.h"
#include "names.h"
#include "store.h"

/* Append stream `name`'s intent, if any, to *list. */
static int pending_of(siglog *s, const char *streams_dir, const char *name, siglog_forget_intent **list, size_t *n)
{
    char *dir = sl_path_join(streams_dir, name);
    if (!dir)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    forget_intent it;
    int rc = sl_forget_intent_load(s->io, dir, s->store_id, &it);
    free(dir);
    if (rc != 1)
        return rc;
    siglog_forget_intent *grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown) {
        sl_forget_intent_free(&it);
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    *list = grown;
    siglog_forget_intent *e = &grown[(*n)++];
    memset(e, 0, sizeof *e);
    snprintf(e->stream, sizeof e->stream, "%s", name);
    e->keys = it.n;
    e->started_us = it.started_us;
    sl_forget_intent_free(&it);
    return 0;
}

SIGLOG_API int siglog_forget_pending(siglog *s, siglog_forget_intent **out, size_t *n)
{
    sl_err_clear();
    if (!s || !out || !n)
        return sl_err_set(SIGLOG_EINVAL, "siglog_forget_pending: the handle, out and n are required");
    *out = NULL;
    *n = 0;
    char *streams_dir = sl_path_join(s->path, STORE_STREAMS_DIR);
    if (!streams_dir)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    io_dirent_list l = {0};
    int r = s->io->list_dir(s->io, streams_dir, &l);
    int rc = r < 0 ? sl_err_errno(r, "listing %s", streams_dir) : 0;
    /* list_dir sorts the names: the list comes by stream name. */
    for (size_t i = 0; !rc && i < l.count; i++)
        if (sl_name_validate_stream(l.names[i]) == 0)
            rc = pending_of(s, streams_dir, l.names[i], out, n);
    if (!rc)
        sl_err_clear(); /* of the names passed over */
    sl_io_dirent_list_free(&l);
    free(streams_dir);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

SIGLOG_API void siglog_forget_pending_free(siglog_forget_intent *list)
{
    free(list);
}
