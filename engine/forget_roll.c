/*
 * forget_roll — a forget's writer, opened to roll active segments
 * (forget_roll.h says why and when).
 */
#include <inttypes.h>
#include <stdio.h>

#include "error.h"
#include "forget_roll.h"
#include "options_io.h"
#include "partition.h"
#include "store.h"
#include "stream.h"

int sl_forget_roll(maintenance *m, const char *stream, const uint32_t *parts, size_t n)
{
    siglog_options o;
    siglog_options_default(&o);
    sl_options_set_io(&o, sl_maintenance_backend(m));
    o.force_owner = sl_maintenance_force_owner(m);
    siglog *s;
    int rc = siglog_open(&s, sl_maintenance_store_path(m), &o);
    /* The detail is copied before a new one is made of it. */
    char why[SL_ERR_DETAIL_MAX];
    snprintf(why, sizeof why, "%s", siglog_errdetail());
    if (rc == SIGLOG_ELOCKED)
        return sl_err_set(SIGLOG_ELIMIT,
                          "stream '%s' partition %" PRIu32 ": the active segment holds events of the keys, and "
                          "a writer has the store (%s): it seals that segment at segment_bytes_max or "
                          "segment_age_max; run the forget again then, or once the writer has closed (a forget "
                          "rolls it itself then); nothing was changed",
                          stream, parts[0], why);
    if (rc)
        return sl_err_set(rc, "rolling the active segments of stream '%s' needs the store as its writer: %s",
                          stream, why);
    siglog_stream *st;
    rc = siglog_stream_get(s, stream, &st);
    for (size_t i = 0; !rc && i < n; i++)
        rc = parts[i] < st->cfg.partitions && st->parts && st->parts[parts[i]]
                 ? sl_partition_roll_idle(st->parts[parts[i]])
                 : sl_err_set(SIGLOG_EFAILED, "stream '%s' partition %" PRIu32 " is not open for writing", stream,
                              parts[i]);
    /* The error kept first: closing clears the detail. */
    if (rc) {
        snprintf(why, sizeof why, "%s", siglog_errdetail());
        siglog_close(s);
        return sl_err_set(rc, "%s", why);
    }
    return siglog_close(s);
}
