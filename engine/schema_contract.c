/*
 * schema_contract — the append-time check and the warn counts; see
 * schema_contract.h.
 */
#include "schema_contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schema_validate.h"

void sl_schema_warnings_free(schema_warnings *w)
{
    free(w->v);
    *w = (schema_warnings){ 0 };
}

/* What the validator reports for one event, gathered for either mode. */
typedef struct event_check {
    uint32_t version;
    schema_warnings *w;         /* warn: where violations go */
    int nomem;
    char first[384];            /* enforce: "PATH REASON; PATH REASON" */
    size_t first_len;
    size_t seen;
} event_check;

static void on_violation(void *ctx, const char *path, const char *reason)
{
    event_check *ec = ctx;
    if (ec->seen < 4 && ec->first_len < sizeof ec->first)
        ec->first_len += (size_t)snprintf(ec->first + ec->first_len, sizeof ec->first - ec->first_len, "%s%s %s",
                                          ec->seen ? "; " : "", path, reason);
    if (ec->w) {
        schema_warnings *w = ec->w;
        if (w->count == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 8;
            schema_warning *v = realloc(w->v, cap * sizeof *v);
            if (!v) {
                ec->nomem = 1;
                ec->seen++;
                return;
            }
            w->v = v;
            w->cap = cap;
        }
        schema_warning *x = &w->v[w->count++];
        x->version = ec->version;
        x->new_event = ec->seen == 0;
        snprintf(x->path, sizeof x->path, "%s", path);
    }
    ec->seen++;
}

int sl_schema_contract_check(schema_registry *r, int contract, const char *stream, const siglog_event *events, size_t n,
                          schema_warnings *w)
{
    if (contract == SIGLOG_CONTRACT_OFF)
        return 0;
    pthread_rwlock_rdlock(&r->lock);
    int rc = sl_schema_registry_usable(r);
    for (size_t i = 0; !rc && i < n; i++) {
        const siglog_event *e = &events[i];
        const schema_entry *entry = sl_schema_list_find(&r->list, e->schema_version);
        if (!entry) {
            rc = sl_err_set(SIGLOG_ESCHEMA,
                         "event %zu has schema version %u, which stream '%s' has not registered; nothing of this "
                         "call was appended",
                         i, e->schema_version, stream);
            break;
        }
        int enforce = contract == SIGLOG_CONTRACT_ENFORCE;
        event_check ec = { .version = e->schema_version, .w = enforce ? NULL : w };
        sl_schema_validate(entry->def, e->value_len ? e->value : "", e->value_len, on_violation, &ec,
                        enforce ? 4 : SCHEMA_EVENT_VIOLATIONS_MAX);
        if (ec.nomem)
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        else if (enforce && ec.seen)
            rc = sl_err_set(SIGLOG_ESCHEMA,
                         "event %zu does not conform to schema version %u of stream '%s': %s; nothing of this call "
                         "was appended",
                         i, e->schema_version, stream, ec.first);
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

/* The counter of path in e, made when there is room, else "*". Caller
 * holds quality_mu. NULL only when out of memory. */
static schema_path_count *path_counter(schema_entry *e, const char *path)
{
    for (size_t i = 0; i < e->path_count; i++)
        if (strcmp(e->paths[i].path, path) == 0)
            return &e->paths[i];
    if (e->path_count >= SCHEMA_QUALITY_PATHS_MAX)
        return strcmp(path, "*") == 0 ? NULL : path_counter(e, "*");
    schema_path_count *v = realloc(e->paths, (e->path_count + 1) * sizeof *v);
    if (!v)
        return NULL;
    e->paths = v;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    e->paths[e->path_count] = (schema_path_count){ copy, 0 };
    return &e->paths[e->path_count++];
}

void sl_schema_contract_count(schema_registry *r, const schema_warnings *w)
{
    if (!w->count)
        return;
    pthread_rwlock_rdlock(&r->lock);
    pthread_mutex_lock(&r->quality_mu);
    for (size_t i = 0; i < w->count; i++) {
        /* Entries are never removed: the version checked is still there. */
        schema_entry *e = (schema_entry *)sl_schema_list_find(&r->list, w->v[i].version);
        if (!e)
            continue;
        e->nonconforming += w->v[i].new_event;
        /* One event breaking one path several times counts once there. */
        int repeat = 0;
        for (size_t j = i; !w->v[i].new_event && j-- > 0;) {
            if (strcmp(w->v[j].path, w->v[i].path) == 0) {
                repeat = 1;
                break;
            }
            if (w->v[j].new_event)
                break;
        }
        schema_path_count *c = repeat ? NULL : path_counter(e, w->v[i].path);
        if (c)
            c->count++;
    }
    pthread_mutex_unlock(&r->quality_mu);
    pthread_rwlock_unlock(&r->lock);
}

int sl_schema_contract_violations(schema_registry *r, uint32_t version, uint64_t *total,
                               void (*fn)(void *ctx, const char *path, uint64_t count), void *ctx)
{
    pthread_rwlock_rdlock(&r->lock);
    int rc = sl_schema_registry_usable(r);
    const schema_entry *e = rc ? NULL : sl_schema_list_find(&r->list, version);
    if (!rc && !e)
        rc = sl_err_set(SIGLOG_ENOENT, "no schema version %u", version);
    if (e) {
        pthread_mutex_lock(&r->quality_mu);
        if (total)
            *total = e->nonconforming;
        for (size_t i = 0; fn && i < e->path_count; i++)
            fn(ctx, e->paths[i].path, e->paths[i].count);
        pthread_mutex_unlock(&r->quality_mu);
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}
