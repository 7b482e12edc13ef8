/*
 * schema_contract — the append-time check and the accounting of written
 * records; see schema_contract.h.
 */
#include "schema_contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schema_validate.h"

/* Enforce: the first violations of one event, "PATH REASON; PATH REASON". */
typedef struct event_check {
    char first[384];
    size_t first_len;
    size_t seen;
} event_check;

static void on_violation(void *ctx, const char *path, const char *reason)
{
    event_check *ec = ctx;
    if (ec->first_len < sizeof ec->first)
        ec->first_len += (size_t)snprintf(ec->first + ec->first_len, sizeof ec->first - ec->first_len, "%s%s %s",
                                          ec->seen ? "; " : "", path, reason);
    ec->seen++;
}

int sl_schema_contract_check(schema_registry *r, int contract, const char *stream, const siglog_event *events,
                             size_t n)
{
    if (contract == SIGLOG_CONTRACT_OFF)
        return 0;
    pthread_rwlock_rdlock(&r->lock);
    int rc = sl_schema_registry_usable(r);
    const schema_entry *entry = NULL;
    for (size_t i = 0; !rc && i < n; i++) {
        const siglog_event *e = &events[i];
        /* A call's events are mostly of one version: the last one found
         * stands until an event names another (the list cannot change
         * under the read lock). */
        if (!entry || entry->version != e->schema_version)
            entry = sl_schema_list_find(&r->list, e->schema_version);
        if (!entry) {
            rc = sl_err_set(SIGLOG_ESCHEMA,
                         "event %zu has schema version %u, which stream '%s' has not registered; nothing of this "
                         "call was appended",
                         i, e->schema_version, stream);
            break;
        }
        if (contract != SIGLOG_CONTRACT_ENFORCE)
            continue; /* warn: judged when written (sl_schema_usage_account) */
        event_check ec; /* not "= { 0 }": that cleared the message's 384 bytes for every event */
        ec.first[0] = '\0';
        ec.first_len = ec.seen = 0;
        sl_schema_validate(entry->def, e->value_len ? e->value : "", e->value_len, on_violation, &ec, 4);
        if (ec.seen)
            rc = sl_err_set(SIGLOG_ESCHEMA,
                         "event %zu does not conform to schema version %u of stream '%s': %s; nothing of this call "
                         "was appended",
                         i, e->schema_version, stream, ec.first);
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

/* Warn: the paths one event breaks. */
typedef struct event_paths {
    char path[SCHEMA_EVENT_VIOLATIONS_MAX][SCHEMA_PATH_MAX];
    const char *ptr[SCHEMA_EVENT_VIOLATIONS_MAX];
    size_t n;
} event_paths;

static void on_path(void *ctx, const char *path, const char *reason)
{
    (void)reason;
    event_paths *ep = ctx;
    if (ep->n < SCHEMA_EVENT_VIOLATIONS_MAX) {
        snprintf(ep->path[ep->n], sizeof ep->path[ep->n], "%s", path);
        ep->ptr[ep->n] = ep->path[ep->n];
        ep->n++;
    }
}

int sl_schema_usage_account(schema_usage *u, schema_registry *r, int contract, const siglog_record *rec)
{
    int rc = sl_schema_usage_add(u, rec->schema_version, rec->offset, rec->timestamp_us);
    if (rc || !r || contract != SIGLOG_CONTRACT_WARN)
        return rc;
    event_paths ep;
    ep.n = 0;
    pthread_rwlock_rdlock(&r->lock);
    const schema_entry *entry = r->failed ? NULL : sl_schema_list_find(&r->list, rec->schema_version);
    if (entry)
        sl_schema_validate(entry->def, rec->value_len ? rec->value : "", rec->value_len, on_path, &ep,
                        SCHEMA_EVENT_VIOLATIONS_MAX);
    pthread_rwlock_unlock(&r->lock);
    return ep.n ? sl_schema_usage_nonconforming(u, rec->schema_version, ep.ptr, ep.n) : 0;
}
