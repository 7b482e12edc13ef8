/*
 * stream_config — siglog_stream_config_set: change a stream's mutable
 * settings, all or nothing (format-spec/FORMAT.md, "Stream metadata" and
 * "Audit trail").
 *
 * The order makes every step safe to interrupt:
 *   1. validate the whole new config (ranges, the journal rule, no
 *      immutable setting changed, cold_dir outside the store: cold.h):
 *      any failure writes nothing;
 *   2. append the change to the store's audit trail (action config, the
 *      detail naming each setting with its old and new value), durable:
 *      the trail is where every change of how data is kept is explained,
 *      tamper-evident (audit.h), so the stream has no history of its own;
 *   3. replace stream.meta (write temp, fsync, rename, fsync directory),
 *      keeping the entries an older or newer siglog wrote that this one
 *      does not know;
 *   4. apply it to the live stream: each partition under the commit
 *      (sl_commit_exclusive, so nothing is inflight while a partition whose
 *      sync policy changes settles, see sl_partition_set_config), then the
 *      stream's own copy that appenders and the background tasks read.
 * A crash or a failure between 2 and 3 leaves a record whose new values
 * stream.meta does not hold, as the trail allows (a record is the intent,
 * written before the action): the trail says what was asked and when,
 * stream.meta what holds.
 *
 * Another process: only a writer changes a stream's config, and a store
 * has one writer, so a change made through another process's handle is
 * read at this process's next open; readers never depend on the mutable
 * settings.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cold.h"
#include "commit.h"
#include "error.h"
#include "names.h"
#include "settings.h"
#include "store.h"

/* SIGLOG_EINVAL naming every immutable setting c changes from cur. */
static int check_immutable(const siglog_stream *st, const siglog_stream_config *cur, const siglog_stream_config *c)
{
    char names[512] = "";
    size_t used = 0;
    int count = 0;
    for (size_t i = 0; i < sl_settings_count(); i++) {
        const settings_row *r = sl_settings_row_at(i);
        if (r->pub.is_mutable || sl_settings_equal(cur, c, r))
            continue;
        int n = snprintf(names + used, sizeof names - used, "%s%s (%" PRIu64 " -> %" PRIu64 ")",
                         count ? ", " : "", r->pub.name, sl_settings_get(cur, r), sl_settings_get(c, r));
        if (n > 0 && (size_t)n < sizeof names - used)
            used += (size_t)n;
        count++;
    }
    if (!count)
        return 0;
    return sl_err_set(SIGLOG_EINVAL, "stream '%s': %s cannot change after the stream is created; nothing was changed",
                   st->name, names);
}

/* The audit record of a change from cur to c: each changed setting as
 * "NAME: OLD -> NEW" in the detail, numbers as stream.meta holds them,
 * texts in double quotes. */
static void config_record(audit_record *r, const siglog_stream *st, const siglog_stream_config *cur,
                          const siglog_stream_config *c)
{
    sl_audit_record_init(r, AUDIT_CONFIG, AUDIT_BY_COMMAND);
    snprintf(r->stream, sizeof r->stream, "%s", st->name);
    size_t n = 0;
    for (size_t i = 0; i < sl_settings_count() && n < sizeof r->detail; i++) {
        const settings_row *row = sl_settings_row_at(i);
        if (sl_settings_equal(cur, c, row))
            continue;
        char from[SIGLOG_SETTING_TEXT_MAX + 3], to[SIGLOG_SETTING_TEXT_MAX + 3];
        int w = snprintf(r->detail + n, sizeof r->detail - n, "%s%s: %s -> %s", n ? ", " : "", row->pub.name,
                         sl_settings_describe(cur, row, from, sizeof from), sl_settings_describe(c, row, to, sizeof to));
        n += w > 0 ? (size_t)w : 0;
    }
}

static int write_meta(struct siglog *s, const siglog_stream *st, const siglog_stream_config *c)
{
    char *meta = sl_path_join(st->dir, STREAM_META_FILE);
    if (!meta)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    uint8_t buf[STREAM_META_BYTES_MAX];
    size_t len = sl_stream_meta_encode(buf, st->name, st->id, c, &st->meta_extra);
    int r = sl_io_replace_file(s->io, st->dir, meta, buf, len, s->opt.file_mode);
    int rc = r < 0 ? sl_err_errno(r, "writing %s", meta) : 0;
    free(meta);
    return rc;
}

typedef struct apply_job {
    siglog_stream *st;
    const siglog_stream_config *c;
} apply_job;

/* Under the commit: every partition, then the stream's copy. The first
 * partition error is returned; the config is applied to all the same,
 * as it is on disk already. */
static int apply_live(void *ctx)
{
    apply_job *job = ctx;
    int first = 0;
    char detail[SL_ERR_DETAIL_MAX] = "";
    for (uint32_t p = 0; p < job->st->cfg.partitions; p++) {
        int rc = sl_partition_set_config(job->st->parts[p], job->c);
        if (rc && !first) {
            first = rc;
            snprintf(detail, sizeof detail, "%s", siglog_errdetail());
        }
    }
    sl_stream_config_publish(job->st, job->c);
    return first ? sl_err_set(first, "stream '%s': the new config is stored, but settling a partition to a new sync "
                                  "policy failed: %s",
                           job->st->name, detail)
                 : 0;
}

SIGLOG_API int siglog_stream_config_set(siglog *s, const char *name, const siglog_stream_config *c)
{
    sl_err_clear();
    if (!s || !name || !c)
        return sl_err_set(SIGLOG_EINVAL, "siglog_stream_config_set: store, name and config are required");
    if (s->read_only)
        return sl_err_set(SIGLOG_ERDONLY, "store %s is open read-only", s->path);
    siglog_stream *st;
    int rc = siglog_stream_get(s, name, &st);
    if (rc)
        return rc;
    siglog_stream_config cur, next = *c;
    pthread_mutex_lock(&s->config_mu);
    sl_stream_config_load(st, &cur);
    if ((rc = sl_stream_config_normalize(&next, sl_journal_capacity(s->journal))) != 0 ||
        (rc = check_immutable(st, &cur, &next)) != 0 || (rc = sl_cold_dir_check(s->path, &next)) != 0)
        goto out;
    int changes = 0;
    for (size_t i = 0; i < sl_settings_count(); i++)
        changes += !sl_settings_equal(&cur, &next, sl_settings_row_at(i));
    if (!changes)
        goto out; /* nothing is written */
    audit_record r;
    config_record(&r, st, &cur, &next);
    if ((rc = sl_store_audit(s, &r)) != 0 || (rc = write_meta(s, st, &next)) != 0)
        goto out;
    apply_job job = {st, &next};
    rc = sl_commit_exclusive(s, apply_live, &job);
out:
    pthread_mutex_unlock(&s->config_mu);
    return rc;
}
