/*
 * redact — the record filter siglog_redact (siglog.h): every value
 * of a field whose x-sensitivity (in the event's own schema version) is
 * at or above the level asked is replaced by a keyed pseudonym or dropped
 * (format-spec/FORMAT.md, "Redaction").
 *
 * Pseudonym: hex of keyed BLAKE2b-256 (libsodium crypto_generichash) of
 * the value's compact JSON text (jansson, keys sorted), keyed with a
 * sub-key of the store secret: BLAKE2b-256 of "siglog-redact-v1" keyed
 * with store.secret, so the pseudonyms share nothing with the audit
 * chain's MACs. The same value gives the same pseudonym in every stream
 * of the store (joins still work); without the secret it cannot be
 * recomputed from a guessed value.
 *
 * Refusals rather than leaks: an event whose version is not registered,
 * or whose value is not a JSON object while its definition marks a field
 * at the level, is SIGLOG_ESCHEMA naming its offset; nothing is passed
 * through unredacted.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "schema_registry.h"
#include "store.h"

#define REDACT_DOMAIN "siglog-redact-v1"
#define REDACT_HASH_BYTES 32

struct siglog_redactor {
    siglog_stream *st;
    int level;                  /* enum siglog_sensitivity */
    int mode;                   /* enum siglog_redact_mode */
    uint8_t key[crypto_generichash_KEYBYTES];
    char *out;                  /* the last redacted value */
};

SIGLOG_API int siglog_redactor_open(siglog_redactor **out, siglog_stream *st, int level, int mode)
{
    sl_err_clear();
    if (!out || !st)
        return sl_err_set(SIGLOG_EINVAL, "siglog_redactor_open: out and stream are required");
    *out = NULL;
    if (level < SIGLOG_SENSITIVITY_INTERNAL || level > SIGLOG_SENSITIVITY_SECRET ||
        (mode != SIGLOG_REDACT_HASH && mode != SIGLOG_REDACT_DROP))
        return sl_err_set(SIGLOG_EINVAL, "siglog_redactor_open: level %d or mode %d unknown", level, mode);
    int rc = sl_stream_usable(st);
    if (rc)
        return rc;
    siglog_redactor *r = calloc(1, sizeof *r);
    if (!r)
        return sl_err_set(SIGLOG_ENOMEM, "out of memory");
    *r = (siglog_redactor){ .st = st, .level = level, .mode = mode };
    if (mode == SIGLOG_REDACT_HASH) {
        uint8_t secret[STORE_SECRET_BYTES];
        if ((rc = sl_store_secret_get(st->store, secret)) != 0) {
            free(r);
            return rc;
        }
        crypto_generichash(r->key, sizeof r->key, (const uint8_t *)REDACT_DOMAIN, strlen(REDACT_DOMAIN), secret,
                           sizeof secret);
        sodium_memzero(secret, sizeof secret);
    }
    *out = r;
    return 0;
}

SIGLOG_API void siglog_redactor_close(siglog_redactor *r)
{
    if (!r)
        return;
    sodium_memzero(r->key, sizeof r->key);
    free(r->out);
    free(r);
}

/* The pseudonym of v: a JSON string of hex. NULL when out of memory. */
static json_t *pseudonym(const siglog_redactor *r, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return NULL;
    uint8_t h[REDACT_HASH_BYTES];
    crypto_generichash(h, sizeof h, (const uint8_t *)text, strlen(text), r->key, sizeof r->key);
    free(text);
    char hex[2 * REDACT_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    return json_string(hex);
}

static int redact_node(const siglog_redactor *r, const schema_node *n, json_t *v);

/* v is the value of a field whose definition is n (NULL: none, public):
 * redacted where it stands in its container by set (0 ok, -1 memory).
 * *drop set when the field is to be removed. */
static int redact_field(const siglog_redactor *r, const schema_node *n, json_t *v, json_t **replacement, int *drop)
{
    *replacement = NULL;
    *drop = 0;
    if (!n)
        return 0;
    if (n->sensitivity < r->level)
        return redact_node(r, n, v);
    if (r->mode == SIGLOG_REDACT_DROP) {
        *drop = 1;
        return 0;
    }
    *replacement = pseudonym(r, v);
    return *replacement ? 0 : -1;
}

/* Redact inside v (its definition n, public itself). 0 or -1 (memory). */
static int redact_node(const siglog_redactor *r, const schema_node *n, json_t *v)
{
    if (json_is_object(v)) {
        const char *name;
        json_t *child, *replacement;
        void *tmp;
        int drop;
        json_object_foreach_safe(v, tmp, name, child) {
            const schema_property *p = sl_schema_node_property(n, name);
            const schema_node *cn = p ? p->node : n->additional == SCHEMA_ADDITIONAL_SCHEMA ? n->additional_node : NULL;
            if (redact_field(r, cn, child, &replacement, &drop) != 0)
                return -1;
            if (drop)
                json_object_del(v, name);
            else if (replacement && json_object_set_new(v, name, replacement) != 0)
                return -1;
        }
    } else if (json_is_array(v) && n->items) {
        json_t *replacement;
        int drop;
        for (size_t i = json_array_size(v); i-- > 0;) {
            if (redact_field(r, n->items, json_array_get(v, i), &replacement, &drop) != 0)
                return -1;
            if (drop)
                json_array_remove(v, i);
            else if (replacement && json_array_set_new(v, i, replacement) != 0)
                return -1;
        }
    }
    return 0;
}

SIGLOG_API int siglog_redact(siglog_redactor *r, const siglog_record *rec, const void **value, size_t *len)
{
    sl_err_clear();
    if (!r || !rec || !value || !len)
        return sl_err_set(SIGLOG_EINVAL, "siglog_redact: redactor, record, value and len are required");
    schema_registry *reg = r->st->schemas;
    pthread_rwlock_rdlock(&reg->lock);
    int rc = sl_schema_registry_usable(reg);
    const schema_entry *e = rc ? NULL : sl_schema_list_find(&reg->list, rec->schema_version);
    json_t *root = NULL;
    if (!rc && !e)
        rc = sl_err_set(SIGLOG_ESCHEMA,
                        "offset %" PRIu64 " of partition %u has schema version %u, which stream '%s' has not "
                        "registered: its sensitive fields are unknown, so it cannot be redacted",
                        rec->offset, rec->partition, rec->schema_version, r->st->name);
    if (!rc && e->def->max_sensitivity < r->level) {
        *value = rec->value; /* nothing in this version is at the level */
        *len = rec->value_len;
    } else if (!rc) {
        json_error_t jerr;
        root = json_loadb(rec->value_len ? rec->value : "", rec->value_len, 0, &jerr);
        if (!json_is_object(root))
            rc = sl_err_set(SIGLOG_ESCHEMA,
                            "offset %" PRIu64 " of partition %u is not a JSON object, so its fields marked %s or "
                            "above in schema version %u cannot be redacted",
                            rec->offset, rec->partition, sl_schema_sensitivity_name(r->level), rec->schema_version);
        else if (redact_node(r, e->def->root, root) != 0)
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
    }
    pthread_rwlock_unlock(&reg->lock);
    if (root && !rc) {
        free(r->out);
        r->out = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!r->out)
            rc = sl_err_set(SIGLOG_ENOMEM, "out of memory");
        else {
            *value = r->out;
            *len = strlen(r->out);
        }
    }
    json_decref(root);
    return rc;
}
