/*
 * cmd_compact — `siglog compact`: merge small sealed segments or keep the
 * newest event per key, through a maintenance handle (siglog_compact), so
 * it runs beside a live writer and readers.
 */
#include "args.h"
#include "cli.h"
#include "maint_args.h"
#include "output.h"
#include "progress.h"
#include "timeparse.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

static const args_cmd compact_cmd = {
    "compact",
    "siglog compact STORE [--stream S [--partition P]] [--merge | --keys] [--dry-run]\n"
    "       [--memory SIZE] [--force-owner] [--json]",
    "Rewrite the sealed segments (never the active one) of a stream, or of\n"
    "every stream, through the catalog's rewrite primitive: a crash leaves\n"
    "the old segments or the new ones, and a writer and readers go on beside\n"
    "it. Without --merge or --keys each stream is compacted as its cleanup\n"
    "setting says: --keys for cleanup=compact, --merge for cleanup=delete\n"
    "(what a writer runs every compact_interval).\n"
    "\n"
    "  --merge         consecutive sealed segments smaller than the stream's\n"
    "                  merge_below become segments up to segment_bytes_max;\n"
    "                  every event's offset, time and bytes unchanged\n"
    "  --keys          streams with cleanup=compact: of the events with a key,\n"
    "                  only the newest per key stays (the active segment\n"
    "                  counted); a newest that is a tombstone older than\n"
    "                  tombstone_retention goes too. Survivors keep their\n"
    "                  offsets; without --stream, the cleanup=compact streams\n"
    "  --stream S      the stream (default: every stream, in name order)\n"
    "  --partition P   one partition of S (default: every one)\n"
    "  --dry-run       say what would be done and write nothing (--keys cannot\n"
    "                  tell segments and bytes after without writing them)\n"
    "  --memory SIZE   --keys: memory for the key map (default 256MiB, at least\n"
    "                  1MiB; K/M/G suffixes); more distinct keys are mapped in\n"
    "                  several passes through a nameless temporary file in the\n"
    "                  partition's directory, with the same result\n"
    "  --force-owner   run as another user than the store's owner, giving new\n"
    "                  files to the owner\n"
    "  --json          one JSON document: {\"store\", \"stream\" (null: every\n"
    "                  one), \"mode\" (merge, keys or by-cleanup), \"dry_run\",\n"
    "                  \"streams\", \"partitions\", \"segments_in\", \"segments_out\",\n"
    "                  \"events_in\", \"events_dropped\", \"bytes_before\",\n"
    "                  \"bytes_after\", \"key_map_bytes\", \"key_passes\"} (null\n"
    "                  when a dry run cannot tell; the key map's peak bytes and\n"
    "                  passes over the keys are 0 for --merge)\n"
    "\n"
    "Prints segments in/out, events dropped and bytes before/after, with a\n"
    "progress bar over the partitions when stderr is a terminal. Each partition\n"
    "with sealed segments in scope gets one audit record (action compact,\n"
    "naming it and their offsets) before anything is replaced.\n",
};

enum { OPT_PARTITION = MAINT_OPT_END, OPT_MERGE, OPT_KEYS, OPT_MEMORY };

/* A figure, or "?" / null when a dry run cannot tell it. */
static void text_figure(char *buf, size_t cap, uint64_t v)
{
    if (v == SIGLOG_COMPACT_UNKNOWN)
        snprintf(buf, cap, "?");
    else
        snprintf(buf, cap, "%" PRIu64, v);
}

static json_t *json_figure(uint64_t v)
{
    return v == SIGLOG_COMPACT_UNKNOWN ? json_null() : json_integer((json_int_t)v);
}

static int report(const char *store, const char *stream, const siglog_compact_options *o,
                  const siglog_compact_result *r, int json)
{
    const char *mode = o->mode == SIGLOG_COMPACT_MERGE ? "merge" : o->mode == SIGLOG_COMPACT_KEYS ? "keys" : "by-cleanup";
    if (json) {
        json_t *doc = json_pack("{s:s, s:s?, s:s, s:b, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:o, s:I, s:I}", "store",
                                store, "stream", stream, "mode", mode, "dry_run", (int)o->dry_run, "streams",
                                (json_int_t)r->streams, "partitions",
                                (json_int_t)r->partitions, "segments_in", (json_int_t)r->segments_in, "segments_out",
                                json_figure(r->segments_out), "events_in", (json_int_t)r->events_in,
                                "events_dropped", (json_int_t)r->events_dropped, "bytes_before",
                                (json_int_t)r->bytes_before, "bytes_after", json_figure(r->bytes_after),
                                "key_map_bytes", (json_int_t)r->key_map_bytes, "key_passes",
                                (json_int_t)r->key_passes);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            return cli_fail(compact_cmd.name, "out of memory");
        return out_finish(compact_cmd.name);
    }
    char seg_out[24], bytes_after[24], what[SIGLOG_NAME_MAX + 32], line[768];
    text_figure(seg_out, sizeof seg_out, r->segments_out);
    text_figure(bytes_after, sizeof bytes_after, r->bytes_after);
    if (stream)
        snprintf(what, sizeof what, "stream %s", stream);
    else
        snprintf(what, sizeof what, "%" PRIu32 " streams", r->streams);
    snprintf(line, sizeof line,
             "%s %s of %s (%" PRIu32 " partitions): segments %" PRIu64 " in, %s out; events %" PRIu64
             " in, %" PRIu64 " dropped; bytes %" PRIu64 " before, %s after\n",
             o->dry_run ? "would compact:" : "compacted:", mode, what, r->partitions, r->segments_in, seg_out,
             r->events_in, r->events_dropped, r->bytes_before, bytes_after);
    out_puts(line);
    return out_finish(compact_cmd.name);
}

int cmd_compact(int argc, char **argv)
{
    static const struct option opts[] = {
        MAINT_OPTION_JSON,
        { "partition", required_argument, NULL, OPT_PARTITION },
        MAINT_OPTION_STREAM,
        { "merge", no_argument, NULL, OPT_MERGE },
        { "keys", no_argument, NULL, OPT_KEYS },
        MAINT_OPTION_DRY_RUN,
        { "memory", required_argument, NULL, OPT_MEMORY },
        MAINT_OPTION_FORCE_OWNER,
        { NULL, 0, NULL, 0 },
    };
    maint_args ma = { 0 };
    siglog_compact_options o = {.partition = SIGLOG_COMPACT_ALL_PARTITIONS};
    args_begin();
    for (int ch; (ch = maint_args_next(&compact_cmd, argc, argv, opts, &ma)) != -1;) {
        if (ch == OPT_PARTITION) {
            if (args_u32(&compact_cmd, "--partition", optarg, 0, SIGLOG_PARTITIONS_MAX - 1, &o.partition))
                return CLI_USAGE;
        } else if (ch == OPT_MERGE || ch == OPT_KEYS) {
            uint32_t mode = ch == OPT_MERGE ? SIGLOG_COMPACT_MERGE : SIGLOG_COMPACT_KEYS;
            if (o.mode && o.mode != mode)
                return args_usage(&compact_cmd, "--merge and --keys exclude each other");
            o.mode = mode;
        } else if (ch == OPT_MEMORY) {
            if (timeparse_size_bytes(optarg, &o.memory_bytes) != 0 || o.memory_bytes < (1u << 20))
                return args_usage(&compact_cmd, "--memory wants a size of at least 1MiB such as 64MiB, not '%s'",
                                  optarg);
        } else {
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        }
    }
    char **ops;
    if (args_operands(&compact_cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    const char *stream = ma.stream;
    if (!stream && o.partition != SIGLOG_COMPACT_ALL_PARTITIONS)
        return args_usage(&compact_cmd, "--partition P needs --stream S");
    if (!o.mode)
        o.mode = SIGLOG_COMPACT_BY_CLEANUP;
    o.dry_run = ma.dry_run;
    siglog_maintenance *m;
    if (maint_args_open(&compact_cmd, &ma, ops[0], &m))
        return CLI_FAILURE;
    progress bar;
    progress_start(&bar, "compact", 0);
    o.progress = progress_partitions;
    o.progress_ctx = &bar;
    siglog_compact_result r;
    int rc = siglog_compact(m, stream, &o, &r);
    progress_end(&bar);
    int status = rc ? cli_fail_lib(compact_cmd.name, rc, "compacting %s%s", stream ? "stream " : "the streams of ",
                                   stream ? stream : ops[0])
                    : report(ops[0], stream, &o, &r, ma.json);
    siglog_maintenance_close(m);
    return status;
}
