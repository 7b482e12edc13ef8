/*
 * cold — the cold tier's directory, the stream setting cold_dir
 * (format-spec/FORMAT.md §4).
 *
 * DESIGN NOTES
 *
 * cold_dir is the one directory outside the store that siglog writes
 * beneath: the store is a jail (io_jail.h), and the cold tier lives on
 * another disk or a network mount by design. So it must never lie inside
 * the store: a cold file there would be a stranger in the jail (a file
 * no catalog names, which the store's own cleanup may take for a
 * leftover) and a store copied or removed whole would take its cold tier
 * with it. The rule is checked when a config naming it is stored (stream
 * create, stream config), on the path as given and, when it exists, as
 * it resolves: the directory may be a mount that comes later, so its
 * absence is no error here.
 */
#ifndef SIGLOG_COLD_H
#define SIGLOG_COLD_H

#include "siglog.h"

/* SIGLOG_EINVAL naming cold_dir when c's cold_dir is the store at
 * store_path or beneath it (as given, or resolved when it exists); 0 when
 * it is outside, or empty. SIGLOG_ENOMEM. Reads metadata only. */
int sl_cold_dir_check(const char *store_path, const siglog_stream_config *c);

#endif
