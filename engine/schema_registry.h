/*
 * schema_registry — a stream's registered schema versions, persisted in
 * STORE/streams/NAME/schemas (format-spec/FORMAT.md, "Schema registry").
 *
 *   header   16 bytes   magic "SGSR", format version 1, count of versions
 *   entries  count x    version, compatibility mode, registered_at,
 *                       fingerprint, name, canonical definition
 *   checksum  8 bytes   XXH3-64 of every byte before it
 *
 * Invariants: versions are >= 1 and strictly ascending (0 is what an
 * event without a schema carries); each definition is stored in canonical
 * form and its fingerprint is XXH3-64 of it (the decoder re-parses and
 * checks both); an entry never changes or goes once written, so a version
 * means one definition for the life of the stream.
 *
 * Writing: the whole file by the atomic-replace recipe (sl_io_replace_file),
 * so a crash leaves the old list or the new one. A registration is
 * acknowledged only once the new file and its directory are synced.
 * Reading: a missing file is an empty registry. A damaged file (checksum,
 * a length past the end, an invalid definition) does not fail the stream:
 * its log stays readable and appendable with the contract off, while every
 * schema operation and every append under a contract gets SIGLOG_ECORRUPT
 * naming the file and what is wrong. Nothing ever rewrites a damaged file.
 *
 * Thread-safety: the registry's own rwlock; lookups (append validation)
 * share it, registration takes it alone. Entries are never freed before
 * the registry, so pointers into them stay valid until sl_schema_registry_close.
 */
#ifndef SIGLOG_SCHEMA_REGISTRY_H
#define SIGLOG_SCHEMA_REGISTRY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "io.h"
#include "schema_compat.h"
#include "schema_def.h"

#define SCHEMA_REGISTRY_FILE "schemas"
#define SCHEMA_REGISTRY_MAGIC 0x52534753u /* "SGSR" */
#define SCHEMA_REGISTRY_VERSION 1
#define SCHEMA_REGISTRY_HEADER_BYTES 16
#define SCHEMA_ENTRY_FIXED_BYTES 32
#define SCHEMA_VERSIONS_MAX 1024
#define SCHEMA_NAME_MAX 128
#define SCHEMA_REGISTRY_BYTES_MAX (64u * 1024u * 1024u)

typedef struct schema_entry {
    uint32_t version;
    int compat;               /* enum schema_compat_mode it was registered under */
    int64_t registered_at_us;
    char *name;               /* 0..SCHEMA_NAME_MAX bytes, no control bytes */
    schema_def *def;
} schema_entry;

typedef struct schema_list {
    schema_entry *v;          /* ascending versions */
    size_t count;
} schema_list;

/* The file's bytes for list (malloc'd into *out). */
int sl_schema_list_encode(const schema_list *l, uint8_t **out, size_t *len);
/* Validate untrusted bytes: SIGLOG_ECORRUPT or SIGLOG_EVERSION with a
 * detail saying what is wrong and at which byte. */
int sl_schema_list_decode(const uint8_t *buf, size_t len, schema_list *out);
void sl_schema_list_free(schema_list *l);
const schema_entry *sl_schema_list_find(const schema_list *l, uint32_t version);

/* May def be registered as `version` under mode compat after l? 0 when
 * it may (*same = 1 when exactly this definition already is that
 * version: registering again changes nothing). SIGLOG_EINVAL for version
 * 0, a version below the latest, a bad name; SIGLOG_EEXIST for another
 * definition under an existing version; SIGLOG_ESCHEMA when incompatible,
 * every reason appended to reasons. */
int sl_schema_list_admit(const schema_list *l, uint32_t version, const char *name, const schema_def *def, int compat,
                      schema_reasons *reasons, int *same);

typedef struct schema_registry {
    pthread_rwlock_t lock;
    schema_list list;
    int failed;               /* SIGLOG code of a damaged file, else 0 */
    char failed_detail[SL_ERR_DETAIL_MAX];
    char *dir;                /* the stream directory */
    char *path;               /* dir/schemas */
} schema_registry;

/* Load the registry of stream directory dir (see the top comment for
 * damage). Fails only for memory or an I/O error other than a missing
 * file. Writes nothing. */
int sl_schema_registry_open(schema_registry **out, const siglog_io *io, const char *dir);
void sl_schema_registry_close(schema_registry *r);

/* SIGLOG_ECORRUPT with the file's damage, else 0. Caller holds the lock. */
int sl_schema_registry_usable(const schema_registry *r);

/* Register def (taken over: freed on every path) as version with name and
 * mode, persisted before return (see sl_schema_list_admit for refusals).
 * dry_run: only decide. */
int sl_schema_registry_add(schema_registry *r, const siglog_io *io, uint32_t file_mode, uint32_t version,
                        const char *name, schema_def *def, int compat, int64_t now_us, int dry_run,
                        schema_reasons *reasons);

#endif
