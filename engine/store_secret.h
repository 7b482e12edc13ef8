/*
 * store_secret — the store's own key: 32 random bytes in STORE/store.secret
 * (format-spec/FORMAT.md, "Store secret").
 *
 * What it keys: the hash chain of the audit trail (keyed BLAKE2b), so that
 * only someone holding the secret can forge a record that verifies, and
 * the pseudonyms of redaction, so that a pseudonym cannot be recomputed
 * from a guessed value by whoever reads the events. Hence the file is
 * always mode 0600, whatever modes the store gives its other files: a
 * reader group that may read events may not read the key.
 *
 * Lifecycle: made at store creation (before siglog.store, like every other
 * file of a new store), or by a writer's open of a store that has none (a
 * store from before the file). Never replaced: a new key would make every
 * audit record written under the old one fail verification, so a writer
 * that finds an audit trail but no secret does not make one, and anything
 * needing the key then fails naming the missing file.
 *
 * The file binds the key to its store's id: a secret copied from another
 * store is refused, not used.
 */
#ifndef SIGLOG_STORE_SECRET_H
#define SIGLOG_STORE_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define STORE_SECRET_FILE "store.secret"
#define STORE_SECRET_MAGIC 0x4b534753u /* "SGSK" */
#define STORE_SECRET_VERSION 1
#define STORE_SECRET_BYTES 32
#define STORE_SECRET_FILE_BYTES 56
/* Always this mode (plus the owner flag of the store's modes). */
#define STORE_SECRET_MODE 0600u

struct siglog;

/* store.secret codec. decode validates untrusted bytes (size, magic,
 * checksum, version, reserved zero) and that the file belongs to store_id:
 * SIGLOG_ECORRUPT or SIGLOG_EVERSION. */
void sl_store_secret_encode(uint8_t buf[STORE_SECRET_FILE_BYTES], uint64_t store_id,
                         const uint8_t secret[STORE_SECRET_BYTES]);
int sl_store_secret_decode(const uint8_t *buf, size_t len, uint64_t store_id, uint8_t secret[STORE_SECRET_BYTES]);

/* Make a new secret for store dir: random bytes (libsodium), written by
 * the atomic-replace recipe with mode STORE_SECRET_MODE plus the
 * IO_MODE_PARENT_OWNER bit of mode_flags. Fails with SIGLOG_EEXIST when
 * the store has one (a key is never replaced). */
int sl_store_secret_create(const siglog_io *io, const char *dir, uint64_t store_id, uint32_t mode_flags);

/* Read store dir's secret into out. SIGLOG_ENOENT when it has none,
 * SIGLOG_EPERM when this process may not read it (a reader that is not
 * the owner), SIGLOG_ECORRUPT when it is damaged; the detail names the
 * file. Writes nothing. */
int sl_store_secret_load(const siglog_io *io, const char *dir, uint64_t store_id, uint8_t out[STORE_SECRET_BYTES]);

/* A writer's open: load the secret, making it first when the store has
 * none and no audit trail (see above). With an audit trail and no secret,
 * the open goes on without one (sl_store_secret_get then fails). */
int sl_store_secret_open(struct siglog *s);

/* The store's secret: the writer's copy, or for a read-only handle read
 * from the file on each call (sl_store_secret_load's errors). The caller
 * wipes out (sodium_memzero) when done. Thread-safe. */
int sl_store_secret_get(struct siglog *s, uint8_t out[STORE_SECRET_BYTES]);

#endif
