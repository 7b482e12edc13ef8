/*
 * manifest_check — run a replay again from its manifest and say whether
 * the store still delivers exactly what the manifest records: the same
 * events (by partition, offset, time, key and value) in the same order.
 * Used by `replay --from-manifest` (which checks before it writes a byte)
 * and `manifest verify`.
 *
 * When it does not, the one-line failure names what changed: each
 * partition whose delivered range or count differs (then and now), the
 * part of a range no longer in the log, and the audit trail's records of
 * actions (purge, forget, compact, ...) over the manifest's offsets.
 */
#ifndef SIGLOG_TOOLS_MANIFEST_CHECK_H
#define SIGLOG_TOOLS_MANIFEST_CHECK_H

#include "manifest_load.h"
#include "replay.h"

typedef struct manifest_replay {
    const char *file;
    const char *store; /* the path opened */
    manifest_spec spec;
    replay_opts o;
    siglog *s;
    siglog_stream **st; /* one per spec.streams */
} manifest_replay;

/* Load the manifest FILE, open the store (store_arg, or the path the
 * manifest names when NULL) read-only, refuse it when its id is not the
 * manifest's, open the streams, and set mr->o to the recorded replay
 * bounded by where each partition's reading ended. A CLI status; on
 * failure reported, and mr needs no close. */
int manifest_replay_open(const char *who, const char *file, const char *store_arg, manifest_replay *mr);

/* Run the replay (quiet: writing nothing) and compare it with the
 * manifest. CLI_OK when identical; otherwise CLI_FAILURE with the
 * difference reported. */
int manifest_replay_check(const char *who, manifest_replay *mr, int quiet);

void manifest_replay_close(manifest_replay *mr);

#endif
