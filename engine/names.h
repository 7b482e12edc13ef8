/*
 * names — validation of user-given names and the file layout of a store.
 *
 * A stream name is 1..SIGLOG_NAME_MAX bytes of [A-Za-z0-9._-] and does not
 * start with '.', so it can never name "..", a hidden file, or a path
 * outside its store (format-spec/FORMAT.md, "Store layout").
 *
 *   STORE/siglog.store                  store file (magic, version, id)
 *   STORE/writer.lock                   flock'ed by the writer; holds its pid
 *   STORE/journal                       the commit journal
 *   STORE/store.secret                  the store's key (store_secret.h)
 *   STORE/audit.log                     the audit trail
 *   STORE/streams/NAME/stream.meta      stream config
 *   STORE/streams/NAME/PPPPP/           partition P (5 digits), segments
 */
#ifndef SIGLOG_NAMES_H
#define SIGLOG_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define STORE_FILE "siglog.store"
#define STORE_LOCK_FILE "writer.lock"
#define STORE_JOURNAL_FILE "journal"
#define STORE_STREAMS_DIR "streams"
#define STORE_AUDIT_FILE "audit.log"
#define STREAM_META_FILE "stream.meta"
#define PARTITION_DIR_DIGITS 5

/* 0 if valid, else SIGLOG_EINVAL with a detail saying why. */
int sl_name_validate_stream(const char *name);

/* malloc'd "a/b" (NULL on allocation failure). */
char *sl_path_join(const char *a, const char *b);
/* malloc'd "<stream_dir>/PPPPP". */
char *sl_path_partition_dir(const char *stream_dir, uint32_t partition);

#endif
