/*
 * schema — the public calls of schema contracts (siglog.h, "Schema
 * contracts") over the stream's registry (schema_registry.h).
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schema_contract.h"
#include "schema_registry.h"
#include "schema_validate.h"
#include "store.h"

_Static_assert((int)SIGLOG_COMPAT_FULL_TRANSITIVE == (int)SCHEMA_COMPAT_FULL_TRANSITIVE &&
                   (int)SIGLOG_COMPAT_BACKWARD == (int)SCHEMA_COMPAT_BACKWARD &&
                   (int)SIGLOG_COMPAT_FORWARD == (int)SCHEMA_COMPAT_FORWARD,
               "public and internal compatibility modes agree");

SIGLOG_API const char *siglog_compat_name(int compat)
{
    return sl_schema_compat_name(compat);
}

SIGLOG_API int siglog_compat_parse(const char *name)
{
    return sl_schema_compat_parse(name);
}

/* The stream's registry, or NULL with *rc set for a failed stream. */
static schema_registry *registry_of(siglog_stream *st, const char *fn, int *rc)
{
    *rc = st ? sl_stream_usable(st) : sl_err_set(SIGLOG_EINVAL, "%s: stream is required", fn);
    return *rc ? NULL : st->schemas;
}

static void report_reasons(const schema_reasons *r, siglog_schema_reason_fn fn, void *ctx)
{
    for (size_t i = 0; fn && i < r->count; i++) {
        const schema_reason *x = &r->v[i];
        siglog_schema_reason pub = { x->against, x->path, x->old_type, x->new_type, x->what };
        fn(ctx, &pub);
    }
}

static int add_or_check(siglog_stream *st, uint32_t version, const char *name, const void *definition, size_t len,
                        int compat, siglog_schema_reason_fn fn, void *ctx, int dry_run, const char *call)
{
    sl_err_clear();
    int rc;
    schema_registry *reg = registry_of(st, call, &rc);
    if (!reg)
        return rc;
    if (!dry_run && st->store->read_only)
        return sl_err_set(SIGLOG_ERDONLY, "%s: store %s is open read-only", call, st->store->path);
    if (!definition)
        return sl_err_set(SIGLOG_EINVAL, "%s: a definition is required", call);
    schema_def *def;
    rc = sl_schema_def_parse(&def, definition, len);
    if (rc)
        return rc;
    schema_reasons reasons = { 0 };
    const siglog_io *io = st->store->io;
    rc = sl_schema_registry_add(reg, io, st->store->opt.file_mode, version, name ? name : "", def, compat,
                             io->now_us(io), dry_run, &reasons);
    report_reasons(&reasons, fn, ctx);
    sl_schema_reasons_free(&reasons);
    return rc;
}

SIGLOG_API int siglog_schema_add(siglog_stream *st, uint32_t version, const char *name, const void *definition,
                                 size_t len, int compat, siglog_schema_reason_fn fn, void *ctx)
{
    return add_or_check(st, version, name, definition, len, compat, fn, ctx, 0, "siglog_schema_add");
}

SIGLOG_API int siglog_schema_check(siglog_stream *st, uint32_t version, const void *definition, size_t len,
                                   int compat, siglog_schema_reason_fn fn, void *ctx)
{
    return add_or_check(st, version, NULL, definition, len, compat, fn, ctx, 1, "siglog_schema_check");
}

static void info_of(const schema_entry *e, siglog_schema_info *out)
{
    *out = (siglog_schema_info){
        .version = e->version,
        .compat = (uint32_t)e->compat,
        .registered_at_us = e->registered_at_us,
        .fingerprint = e->def->fingerprint,
        .name = e->name,
        .definition = e->def->canonical,
        .definition_len = e->def->canonical_len,
    };
}

SIGLOG_API int siglog_schema_get(siglog_stream *st, uint32_t version, siglog_schema_info *out)
{
    sl_err_clear();
    int rc;
    schema_registry *reg = registry_of(st, "siglog_schema_get", &rc);
    if (!reg)
        return rc;
    if (!out)
        return sl_err_set(SIGLOG_EINVAL, "siglog_schema_get: out is required");
    pthread_rwlock_rdlock(&reg->lock);
    rc = sl_schema_registry_usable(reg);
    const schema_entry *e = rc ? NULL : sl_schema_list_find(&reg->list, version);
    if (e)
        info_of(e, out);
    else if (!rc)
        rc = sl_err_set(SIGLOG_ENOENT, "stream '%s' has no schema version %u", st->name, version);
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

SIGLOG_API int siglog_schema_foreach(siglog_stream *st, int (*fn)(void *ctx, const siglog_schema_info *info),
                                     void *ctx)
{
    sl_err_clear();
    int rc;
    schema_registry *reg = registry_of(st, "siglog_schema_foreach", &rc);
    if (!reg)
        return rc;
    if (!fn)
        return sl_err_set(SIGLOG_EINVAL, "siglog_schema_foreach: fn is required");
    pthread_rwlock_rdlock(&reg->lock);
    rc = sl_schema_registry_usable(reg);
    for (size_t i = 0; !rc && i < reg->list.count; i++) {
        siglog_schema_info info;
        info_of(&reg->list.v[i], &info);
        rc = fn(ctx, &info);
    }
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}

SIGLOG_API int siglog_schema_validate(siglog_stream *st, uint32_t version, const void *value, size_t len,
                                      void (*fn)(void *ctx, const char *path, const char *reason), void *ctx,
                                      size_t max)
{
    sl_err_clear();
    int rc;
    schema_registry *reg = registry_of(st, "siglog_schema_validate", &rc);
    if (!reg)
        return rc;
    if (!value && len)
        return sl_err_set(SIGLOG_EINVAL, "siglog_schema_validate: a length is set but the value is NULL");
    pthread_rwlock_rdlock(&reg->lock);
    rc = sl_schema_registry_usable(reg);
    const schema_entry *e = rc ? NULL : sl_schema_list_find(&reg->list, version);
    if (e) {
        size_t n = sl_schema_validate(e->def, value ? value : "", len, fn, ctx, max);
        rc = n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
    } else if (!rc) {
        rc = sl_err_set(SIGLOG_ENOENT, "stream '%s' has no schema version %u", st->name, version);
    }
    pthread_rwlock_unlock(&reg->lock);
    return rc;
}
