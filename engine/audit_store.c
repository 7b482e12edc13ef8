/*
 * audit_store — the audit trail of an open store: the public reading call
 * and the writer's append (audit.h).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "error.h"
#include "store.h"
#include "store_secret.h"

static audit_trail trail_of(struct siglog *s, const uint8_t *key)
{
    return (audit_trail){s->io, s->path, s->store_id, key, s->opt.file_mode};
}

int sl_store_audit(struct siglog *s, audit_record *r)
{
    /* The writer, or a reader in the consumer role recording a hold. */
    if (s->read_only && s->opt.read_only != SIGLOG_READ_ONLY_CONSUMER)
        return sl_err_set(SIGLOG_ERDONLY, "store %s is open read-only: no audit record is written", s->path);
    uint8_t key[STORE_SECRET_BYTES];
    int rc = sl_store_secret_get(s, key);
    if (!rc) {
        audit_trail t = trail_of(s, key);
        rc = sl_audit_append(&t, r);
    }
    sodium_memzero(key, sizeof key);
    return rc;
}

typedef struct reading {
    int (*fn)(void *ctx, const siglog_audit_record *r);
    void *ctx;
} reading;

static int deliver(void *ctx, const audit_record *r)
{
    reading *rd = ctx;
    char action[24];
    siglog_audit_record out = {
        .seq = r->seq, .time_us = r->time_us,
        .action = sl_audit_action_name(r->action, action), .cause = sl_audit_cause_name(r->cause),
        .stream = r->stream, .partition = r->partition,
        .offset_start = r->offset_start, .offset_end = r->offset_end,
        .time_min_us = r->time_min_us, .time_max_us = r->time_max_us,
        .bytes = r->bytes, .events = r->events,
        .host = r->host, .pid = r->pid, .uid = r->uid, .detail = r->detail,
    };
    return rd->fn ? rd->fn(rd->ctx, &out) : 0;
}

SIGLOG_API int siglog_audit_read(siglog *s, int verify, int (*fn)(void *ctx, const siglog_audit_record *r),
                                 void *ctx, siglog_audit_summary *summary)
{
    sl_err_clear();
    if (!s)
        return sl_err_set(SIGLOG_EINVAL, "siglog_audit_read: the store handle is required");
    uint8_t key[STORE_SECRET_BYTES];
    int rc = verify ? sl_store_secret_get(s, key) : 0;
    audit_result res;
    memset(&res, 0, sizeof res);
    res.torn_at = UINT64_MAX;
    if (!rc) {
        audit_trail t = trail_of(s, verify ? key : NULL);
        reading rd = {fn, ctx};
        rc = sl_audit_read(&t, deliver, &rd, &res);
    } else {
        rc = sl_err_set(rc, "verifying the audit trail needs the store's secret: %s", siglog_errdetail());
    }
    sodium_memzero(key, sizeof key);
    if (summary) {
        memset(summary, 0, sizeof *summary);
        summary->records = res.records;
        summary->torn_at = res.torn_at;
        summary->verified = verify && !rc;
        if (summary->verified)
            sodium_bin2hex(summary->head_mac, sizeof summary->head_mac, res.head_mac, sizeof res.head_mac);
    }
    return rc;
}
