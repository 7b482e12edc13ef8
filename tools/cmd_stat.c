/*
 * cmd_stat — `siglog stat STORE [--json]`: streams, their settings and per
 * partition offsets, sizes and time ranges. Opens the store read-only, so
 * it runs beside a live writer.
 */
#include "args.h"
#include "cli.h"
#include "holds.h"
#include "output.h"
#include "schemausage.h"
#include "streaminfo.h"
#include "timeparse.h"

#include <inttypes.h>
#include <stdio.h>

static const args_cmd cmd = {
    "stat",
    "siglog stat STORE [--json]",
    "Show every stream of STORE with its settings and, per partition: the log\n"
    "start offset, the next offset, the number of offsets between them (the\n"
    "events, fewer where a rewrite left gaps), bytes of segments and of indexes on\n"
    "disk, segment count, the time range (first event's timestamp and the largest\n"
    "timestamp) and the state: ok; failed after a failed write or sync (appends\n"
    "refused until reopened); damaged, holding damage that must not be cut\n"
    "(readable before and after it, see siglog verify); unservable when it serves\n"
    "nothing (a missing directory or segment, a damaged checkpoint, journal\n"
    "damage). Any state but ok is followed by a line saying why (the file, the\n"
    "byte and what is wrong). Under each partition, one line per schema version its\n"
    "events carry: first and last offset, events, nonconforming events (counted\n"
    "under contract=warn) and the earliest and latest event time. A stream whose metadata is damaged is shown failed\n"
    "with its reason; the other streams are shown as usual. Exit status 1 when\n"
    "anything is not ok, after printing everything.\n"
    "\n"
    "  --json   one JSON document: {\"store\": PATH, \"streams\": [{name, partitions,\n"
    "           compression, sync, segment_bytes_max, segment_age_max_us,\n"
    "           batch_bytes_max, record_bytes_max, state, \"partition_info\":\n"
    "           [{partition, log_start_offset, next_offset, events, bytes,\n"
    "           index_bytes, segments, first_timestamp_us, max_timestamp_us,\n"
    "           state, error (unless ok), schema_versions: [{partition, version,\n"
    "           first_offset, last_offset, first_time_us, last_time_us, events,\n"
    "           nonconforming}]}], \"holds\": [{consumer, partition,\n"
    "           from_offset, to_offset, first_timestamp_us, until_us}]}]}; a failed\n"
    "           stream is {name, state: \"failed\", error}, a partition that cannot\n"
    "           be read {partition, state: \"unservable\" (or \"failed\" after an\n"
    "           I/O error), error}\n"
    "\n"
    "Holds: each consumer with a hold (siglog consumer commit --hold) keeps\n"
    "retention from purging the offsets [from, to) of a partition that it has\n"
    "not committed past; a line per partition says which, the time of the first\n"
    "of them and until when the hold keeps it: that time plus the stream's\n"
    "max_hold, or, when max_hold is 0, until the consumer commits past it (JSON:\n"
    "until_us null). first_timestamp_us is null when that event cannot be read.\n"
    "\n"
    "The store is opened read-only and nothing is written. With no writer, the\n"
    "counts include commits only the journal holds (a writer crashed before\n"
    "they reached their segments), as a writer's recovery would serve them.\n",
};

typedef struct stat_ctx {
    json_t *streams; /* NULL for text output */
    json_t *holds;   /* the stream's "holds" array, with --json */
    int status;
    uint64_t failed; /* streams and partitions shown failed */
} stat_ctx;

static const char *state_name(int state)
{
    static const char *const names[] = {"ok", "failed", "damaged", "unservable"};
    return state >= 0 && state < (int)(sizeof names / sizeof *names) ? names[state] : "failed";
}

static json_t *partition_json(uint32_t p, const siglog_partition_info *pi)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
                     "partition", (json_int_t)p,
                     "log_start_offset", (json_int_t)pi->log_start_offset,
                     "next_offset", (json_int_t)pi->next_offset,
                     "events", (json_int_t)(pi->next_offset - pi->log_start_offset),
                     "bytes", (json_int_t)pi->bytes,
                     "index_bytes", (json_int_t)pi->index_bytes,
                     "segments", (json_int_t)pi->segment_count,
                     "first_timestamp_us", (json_int_t)pi->first_timestamp_us,
                     "max_timestamp_us", (json_int_t)pi->max_timestamp_us,
                     "state", state_name(pi->state));
    if (j && pi->state != SIGLOG_PARTITION_OK &&
        json_object_set_new(j, "error", streaminfo_text_json(pi->detail)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static void partition_text(uint32_t p, const siglog_partition_info *pi)
{
    char first[TIMEPARSE_RFC3339_MAX] = "-", last[TIMEPARSE_RFC3339_MAX] = "-";
    if (pi->next_offset > pi->log_start_offset) {
        timeparse_format(pi->first_timestamp_us, first);
        timeparse_format(pi->max_timestamp_us, last);
    }
    char line[384];
    snprintf(line, sizeof line,
             "  %5" PRIu32 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %14" PRIu64 " %12" PRIu64 " %8" PRIu64
             "  %-27s %-27s %s\n",
             p, pi->log_start_offset, pi->next_offset, pi->next_offset - pi->log_start_offset, pi->bytes,
             pi->index_bytes, pi->segment_count, first, last, state_name(pi->state));
    out_puts(line);
}

/* A partition that cannot be read: its number, its state and why,
 * nothing else. */
static json_t *partition_failed_json(uint32_t p, const char *state, const char *why)
{
    return json_pack("{s:I, s:s, s:o}", "partition", (json_int_t)p, "state", state, "error",
                     streaminfo_text_json(why));
}

/* "<what><state>: <why>" on a line. */
static void failed_text(const char *what, const char *state, const char *why)
{
    out_puts(what);
    out_puts(state);
    out_puts(": ");
    out_puts(why);
    out_puts("\n");
}

static int hold_text(const hold_row *h)
{
    char first[TIMEPARSE_RFC3339_MAX] = "unreadable", until[TIMEPARSE_RFC3339_MAX + 48];
    if (h->have_first)
        timeparse_format(h->first_us, first);
    if (!h->limited) {
        snprintf(until, sizeof until, "until committed past (max_hold 0)");
    } else if (h->have_first) {
        char when[TIMEPARSE_RFC3339_MAX];
        timeparse_format(h->until_us, when);
        snprintf(until, sizeof until, "kept until %s by max_hold", when);
    } else {
        snprintf(until, sizeof until, "kept for max_hold from its time");
    }
    char line[SIGLOG_NAME_MAX + 2 * TIMEPARSE_RFC3339_MAX + 160];
    snprintf(line, sizeof line,
             "  hold %s partition %" PRIu32 ": offsets [%" PRIu64 ", %" PRIu64 ") from %s, %s\n", h->consumer,
             h->partition, h->from, h->to, first, until);
    return out_puts(line) < 0 || out_failed() ? -1 : 0;
}

static int hold_one(void *ctx, const hold_row *h)
{
    stat_ctx *sc = ctx;
    if (!sc->holds)
        return hold_text(h);
    json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "consumer", h->consumer, "partition",
                          (json_int_t)h->partition, "from_offset", (json_int_t)h->from, "to_offset", (json_int_t)h->to,
                          "first_timestamp_us", h->have_first ? json_integer(h->first_us) : json_null(), "until_us",
                          h->limited && h->have_first ? json_integer(h->until_us) : json_null());
    return j && json_array_append_new(sc->holds, j) == 0 ? 0 : -1;
}

/* The stream's holds (see holds.h). A consumers file that cannot be read
 * is shown as the stream's failure and counted. */
static int stat_holds(stat_ctx *sc, siglog_stream *st, json_t *sj)
{
    if (sj && (!(sc->holds = json_array()) || json_object_set_new(sj, "holds", sc->holds) != 0))
        return -1;
    int rc = holds_foreach(st, hold_one, sc);
    if (rc >= -1)
        return rc;
    sc->failed++;
    if (sj)
        return json_object_set_new(sj, "holds_error", streaminfo_text_json(siglog_errdetail()));
    failed_text("  holds ", "failed", siglog_errdetail());
    return 0;
}

/* The partition's schema versions: lines under its row, or
 * "schema_versions" in its JSON object (the last of parts). A partition
 * whose log cannot be read back counts as failed. -1 when out of memory. */
static int stat_versions(stat_ctx *sc, siglog_stream *st, uint32_t p, json_t *parts)
{
    schemausage u;
    int rc = schemausage_collect(st, p, UINT32_MAX, &u);
    sc->failed += (uint64_t)(rc != 0);
    if (rc && !parts) {
        failed_text("        schema versions ", "failed", siglog_errdetail());
        return 0;
    }
    json_t *obj = parts ? json_array_get(parts, json_array_size(parts) - 1) : NULL;
    json_t *arr = parts && !rc ? json_array() : NULL;
    int nomem = parts && !rc && !arr;
    for (size_t i = 0; !rc && !nomem && i < u.n; i++)
        if (!parts)
            schemausage_text(&u.v[i], "        schema ", 0);
        else
            nomem = json_array_append_new(arr, schemausage_json(&u.v[i])) != 0;
    schemausage_free(&u);
    if (parts && !nomem)
        nomem = !obj || json_object_set_new(obj, rc ? "schema_versions_error" : "schema_versions",
                                            rc ? streaminfo_text_json(siglog_errdetail()) : json_incref(arr)) != 0;
    json_decref(arr);
    if (nomem) {
        sc->status = cli_fail(cmd.name, "out of memory");
        return -1;
    }
    return 0;
}

static int stat_stream(void *ctx, siglog_stream *st)
{
    stat_ctx *sc = ctx;
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    const char *why;
    int failed = siglog_stream_state(st, &why) != 0;
    sc->failed += (uint64_t)failed;
    json_t *sj = NULL, *parts = NULL;
    if (sc->streams) {
        sj = streaminfo_config_json(st);
        parts = failed ? NULL : json_array();
        if (!sj || (!failed && (!parts || json_object_set_new(sj, "partition_info", parts) != 0)) ||
            json_array_append_new(sc->streams, sj) != 0) {
            sc->status = cli_fail(cmd.name, "out of memory");
            return -1;
        }
    } else if (failed) {
        char head[SIGLOG_NAME_MAX + 16];
        snprintf(head, sizeof head, "stream %s: ", siglog_stream_name(st));
        failed_text(head, "failed", why);
    } else {
        char sync[32], head[SIGLOG_NAME_MAX + 160];
        snprintf(head, sizeof head,
                 "stream %s: partitions=%u compression=%s sync=%s segment_bytes_max=%" PRIu64 "\n"
                 "  %5s %12s %12s %12s %14s %12s %8s  %-27s %-27s %s\n",
                 siglog_stream_name(st), c.partitions, streaminfo_compression_text(&c),
                 streaminfo_sync_text(&c, sync, sizeof sync), c.segment_bytes_max, "part", "start", "next",
                 "events", "bytes", "index_bytes", "segments", "first_time", "max_time", "state");
        out_puts(head);
    }
    for (uint32_t p = 0; p < c.partitions; p++) {
        siglog_partition_info pi;
        int rc = siglog_partition_info_get(st, p, &pi);
        sc->failed += (uint64_t)(rc != 0 || pi.failed);
        /* An error leaves state and detail set only when it is the
         * partition's own state (unservable); otherwise the call failed. */
        const char *state = rc && pi.state != SIGLOG_PARTITION_UNSERVABLE ? "failed" : state_name(pi.state);
        if (rc != 0 && !parts) {
            char head[32];
            snprintf(head, sizeof head, "  %5" PRIu32 " ", p);
            failed_text(head, state, siglog_errdetail());
        } else if (!parts) {
            partition_text(p, &pi);
            if (pi.state != SIGLOG_PARTITION_OK)
                failed_text("        ", state, pi.detail);
        } else if (json_array_append_new(parts, rc ? partition_failed_json(p, state, siglog_errdetail())
                                                   : partition_json(p, &pi)) != 0) {
            sc->status = cli_fail(cmd.name, "out of memory");
            return -1;
        }
        if (rc == 0 && pi.state != SIGLOG_PARTITION_UNSERVABLE && stat_versions(sc, st, p, parts) != 0)
            return -1;
    }
    if (!failed && stat_holds(sc, st, sj) != 0) {
        if (!out_failed())
            sc->status = cli_fail(cmd.name, "out of memory");
        return -1;
    }
    return out_failed() ? -1 : 0;
}

int cmd_stat(int argc, char **argv)
{
    int json, exit_code = args_flag_only(&cmd, argc, argv, "json", &json);
    if (exit_code >= 0)
        return exit_code;
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    const char *path = ops[0];

    siglog *s;
    if (cli_open(cmd.name, path, CLI_OPEN_READ_ONLY, NULL, &s, NULL) != CLI_OK)
        return CLI_FAILURE;
    stat_ctx sc = { .status = CLI_OK };
    json_t *doc = NULL;
    if (json) {
        sc.streams = json_array();
        doc = json_pack("{s:s, s:o}", "store", path, "streams", sc.streams);
        if (!doc) {
            sc.status = cli_fail(cmd.name, "out of memory");
            goto out;
        }
    }
    /* A non-zero foreach without a status means stdout failed: out_finish
     * says how that ends. */
    int rc = siglog_stream_foreach(s, stat_stream, &sc);
    if (sc.status == CLI_OK && rc == 0 && doc) {
        json_t *d = doc;
        doc = NULL;
        if (out_json_doc(d) != 0 && !out_failed())
            sc.status = cli_fail(cmd.name, "out of memory");
    }
    if (sc.status == CLI_OK)
        sc.status = out_finish(cmd.name);
    if (sc.status == CLI_OK && sc.failed)
        sc.status = cli_fail(cmd.name, "%" PRIu64 " stream(s) or partition(s) of %s failed (see their state)",
                             sc.failed, path);
out:
    json_decref(doc);
    siglog_close(s);
    return sc.status;
}
