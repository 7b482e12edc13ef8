/*
 * cmd_replay — `siglog replay`: its options, the manifest it writes, and
 * the replay from a manifest. The reading itself is replay.c's.
 */
#include "archive_file.h"
#include "args.h"
#include "cli.h"
#include "manifest_check.h"
#include "output.h"
#include "replay.h"
#include "resume.h"
#include "timeparse.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const args_cmd cmd = {
    "replay",
    "siglog replay STORE STREAM[,STREAM]... [--stream STREAM]... [--partition P]... [--from-offset O] [--to-offset O]\n"
    "       [--from-time T] [--to-time T] [--time-unit s|ms|us] [--key K] [--schema-version V] [--merge] [--follow]\n"
    "       [--header NAME=VALUE]... [--order event-time [--memory SIZE] [--spill-dir DIR]]\n"
    "       [--max-lateness DUR [--memory SIZE]]\n"
    "       [--allow-gaps] [--limit N] [--format jsonl|value|binary] [--manifest FILE]\n"
    "       [--consumer NAME] [--redact internal|personal|secret [--redact-mode hash|drop]]\n"
    "       siglog replay --from-manifest FILE [STORE] [--format F] [--memory SIZE] [--spill-dir DIR]\n"
    "       siglog replay ARCHIVE [--from-offset O] [--to-offset O] [--from-time T] [--to-time T] [--key K]\n"
    "       [--schema-version V] [--header NAME=VALUE]... [--limit N] [--format jsonl|value|binary]",
    "Write the events of STREAM to standard output.\n"
    "\n"
    "Several streams (STREAM,STREAM or --stream repeated) are read as one:\n"
    "partition after partition of each stream in turn, or with --merge or\n"
    "--order event-time interleaved by (timestamp, stream, partition, offset);\n"
    "every filter (--key to follow one correlation key across them) applies\n"
    "to each, and the jsonl envelope's \"stream\" says where an event came from.\n"
    "\n"
    "  --stream S           read stream S too (repeatable; with it the STREAM\n"
    "                       operand may be left out)\n"
    "  --partition P        read partition P of each stream (repeatable); default:\n"
    "                       all, one after another in partition order\n"
    "  --from-offset O      start at offset O (inclusive) in every partition read\n"
    "  --to-offset O        stop before offset O (exclusive)\n"
    "  --from-time T        only events with timestamp >= T\n"
    "  --to-time T          only events with timestamp < T (exclusive)\n"
    "                       T is RFC 3339 (2014-04-07T03:11:09.277Z) or an integer\n"
    "                       count of --time-unit units since the epoch; 0 is the\n"
    "                       epoch and needs no unit, any other integer does\n"
    "  --time-unit U        s, ms or us: the unit of integer times, as for append\n"
    "  --key K              only events whose key is exactly K (sealed segments\n"
    "                       whose key filter excludes K are not read)\n"
    "  --schema-version V   only events of schema version V (sealed segments that\n"
    "                       hold none of it are not read)\n"
    "  --header NAME=VALUE  only events carrying header NAME with exactly VALUE\n"
    "                       (repeatable: every one must be carried)\n"
    "  --redact LEVEL       internal, personal or secret: every value of a field\n"
    "                       whose x-sensitivity, in the event's own schema\n"
    "                       version, is LEVEL or above is replaced by its keyed\n"
    "                       pseudonym (a hex string, the same for the same value\n"
    "                       in every stream of the store, so joins still work;\n"
    "                       FORMAT.md section 25 gives the formula, keyed with\n"
    "                       the store's secret). An event whose version is not\n"
    "                       registered, or whose value is not a JSON object\n"
    "                       when its version marks a field at LEVEL, ends the\n"
    "                       replay with status 1 rather than going out unredacted\n"
    "  --redact-mode MODE   hash (default): the pseudonym; drop: the field (or\n"
    "                       array element) is removed instead\n"
    "  --merge              interleave the partitions in (timestamp, partition,\n"
    "                       offset) order. This is a merge: each partition keeps\n"
    "                       its offset order, so the output is sorted by time\n"
    "                       when every partition's times are non-decreasing (as\n"
    "                       append times are)\n"
    "  --order event-time   every selected event in exact (timestamp, partition,\n"
    "                       offset) order, however late events arrived: an\n"
    "                       external sort that reads the whole selection before\n"
    "                       writing the first event (with --follow, only\n"
    "                       with --max-lateness)\n"
    "  --max-lateness DUR   event-time order as events arrive (100ms, 5s, 2m; 0\n"
    "                       for none): an event is written once the watermark,\n"
    "                       the greatest time read so far minus DUR, has passed\n"
    "                       it. An event read behind the watermark is written at\n"
    "                       once, out of order, with \"late\":true (jsonl), never\n"
    "                       dropped; standard error ends with the count of\n"
    "                       events and late ones. At the end (of the events\n"
    "                       without --follow, on SIGINT or SIGTERM with it) the\n"
    "                       events held back are written in order. --memory\n"
    "                       bounds what is held: past it the earliest go out\n"
    "                       early. Not with --merge, --manifest or\n"
    "                       --from-manifest: the order depends on when events\n"
    "                       arrived, which no manifest can reproduce\n"
    "  --memory SIZE        what the sort holds in memory before it spills sorted\n"
    "                       runs to files (default 256MiB, at least 1MiB; K/M/G\n"
    "                       suffixes as for stream create); with --max-lateness,\n"
    "                       what the events held back may take\n"
    "  --spill-dir DIR      where the runs go (default $TMPDIR, else /tmp). They\n"
    "                       have no name there, so none is left behind however\n"
    "                       the replay ends (a signal, kill -9 included)\n"
    "  --follow             keep waiting for new events (like tail -f); SIGINT or\n"
    "                       SIGTERM ends the replay with status 0. With several\n"
    "                       partitions and no --merge, partitions are read in turn.\n"
    "  --allow-gaps         return the events present when offsets are missing (a\n"
    "                       deleted segment); without it, reading over a hole\n"
    "                       fails naming the missing range, and so does a time\n"
    "                       window that starts after one\n"
    "  --limit N            stop after N events have been written\n"
    "  --format F           jsonl (default): one JSON object per event:\n"
    "                         {\"stream\",\"partition\",\"offset\",\"ts\" (microseconds),\n"
    "                          \"key\" (string, null when absent),\"schema\",\"value\"}\n"
    "                       the value is embedded as JSON when it is valid JSON,\n"
    "                       otherwise it is a base64 string and the object also\n"
    "                       has \"value_encoding\":\"base64\"; a key that is not\n"
    "                       UTF-8 is likewise base64 with \"key_encoding\":\"base64\";\n"
    "                       a tombstone adds \"tombstone\":true; an event with\n"
    "                       headers adds \"headers\":[[NAME,VALUE],...] after\n"
    "                       \"schema\", in stored order (names may repeat; a\n"
    "                       name or value that is not UTF-8 is {\"base64\":...}).\n"
    "                       value: each value followed by a newline (replaying\n"
    "                       what append read reproduces its lines exactly).\n"
    "                       binary: each value as a 4-byte little-endian length\n"
    "                       followed by its bytes.\n"
    "  --manifest FILE      when the replay ends cleanly, write FILE (atomically):\n"
    "                       a JSON manifest of the store (id and path), the\n"
    "                       streams, every filter and option, where each\n"
    "                       partition's reading ended, its delivered offset\n"
    "                       range and count, the schema versions seen with their\n"
    "                       fingerprints, the redaction, the event count and a\n"
    "                       BLAKE2b-256 digest of the delivered events (redacted\n"
    "                       values, as written) in delivery order\n"
    "                       (FORMAT.md section 22 says how to recompute it)\n"
    "  --consumer NAME      read on where consumer NAME left off: each partition\n"
    "                       from its committed offset (from the log's start for\n"
    "                       a new consumer), not with --from-offset or\n"
    "                       --from-time, one stream only. When the replay ends\n"
    "                       cleanly (--follow: on SIGINT or SIGTERM), each\n"
    "                       partition's offset is committed past the last event\n"
    "                       read, selected or not; after a failure, or when\n"
    "                       standard output went away, nothing is committed, so\n"
    "                       the next run reads those events again rather than\n"
    "                       skips them. A hold the consumer has is kept\n"
    "                       (siglog consumer)\n"
    "  --from-manifest FILE replay what the manifest FILE records, from STORE\n"
    "                       (default: the store it names, whose id must match):\n"
    "                       the same streams, filters, redaction, options and\n"
    "                       format (or\n"
    "                       --format F: the digest is the same in each), each\n"
    "                       partition read only below where its reading ended\n"
    "                       then. The replay is first run without output and\n"
    "                       compared with the manifest's event count and digest;\n"
    "                       when they differ nothing is written and it exits 1\n"
    "                       naming what changed (see siglog manifest verify).\n"
    "\n"
    "Without --follow the replay ends at the high-water mark seen at start.\n"
    "The store is opened read-only, so replay runs beside a writer; it writes\n"
    "nothing. With no writer, commits only the journal holds (a writer crashed\n"
    "before they reached their segments) are read from the journal and\n"
    "replayed after the segments' events, as a writer's recovery would put\n"
    "them. When the reader of standard output goes away (replay | head),\n"
    "replay stops quietly with status 0.\n"
    "\n"
    "Given an archive file (siglog archive) instead of STORE STREAM, replay its\n"
    "events alone, without the store, in offset order: the archive is checked\n"
    "whole first (a damaged one fails naming the byte, before any output), and\n"
    "the envelope names the archive's stream and partition. The offset, time,\n"
    "key, schema-version and header filters, --limit and --format apply.\n",
};

enum {
    OPT_PARTITION = 256,
    OPT_FROM_OFFSET,
    OPT_TO_OFFSET,
    OPT_FROM_TIME,
    OPT_TO_TIME,
    OPT_TIME_UNIT,
    OPT_KEY,
    OPT_SCHEMA,
    OPT_MERGE,
    OPT_FOLLOW,
    OPT_ALLOW_GAPS,
    OPT_LIMIT,
    OPT_FORMAT,
    OPT_HEADER,
    OPT_ORDER,
    OPT_MEMORY,
    OPT_SPILL_DIR,
    OPT_MANIFEST,
    OPT_STREAM,
    OPT_FROM_MANIFEST,
    OPT_CONSUMER,
    OPT_REDACT,
    OPT_REDACT_MODE,
    OPT_MAX_LATENESS,
};

/* What the command line asked beside the replay options. */
typedef struct replay_cli {
    replay_opts o;
    char *names;               /* the stream operand, split at commas in place */
    const char **streams;      /* grown by the operand and --stream */
    size_t nstreams;
    const char *from_manifest; /* --from-manifest FILE */
    const char *archive;       /* an archive file in place of STORE STREAM */
    int have_format;           /* --format given */
    int have_redact_mode;      /* --redact-mode given */
    int others;                /* options that --from-manifest takes from the manifest */
} replay_cli;

/* ---- setup ---- */

static int add_partition(replay_opts *o, const char *arg)
{
    uint32_t p;
    if (args_u32(&cmd, "--partition", arg, 0, SIGLOG_PARTITIONS_MAX - 1, &p))
        return CLI_USAGE;
    for (size_t i = 0; i < o->nparts; i++)
        if (o->parts[i] == p)
            return args_usage(&cmd, "partition %u given twice", p);
    uint32_t *grown = realloc(o->parts, (o->nparts + 1) * sizeof *grown);
    if (!grown)
        return cli_fail(cmd.name, "out of memory");
    o->parts = grown;
    o->parts[o->nparts++] = p;
    return CLI_OK;
}

/* A --from-time/--to-time operand in the --time-unit given anywhere on the
 * command line. An integer without a unit is refused rather than guessed:
 * seconds read as microseconds would silently select another window. */
static int parse_time_bound(const replay_opts *o, const char *opt, const char *s, int64_t *us)
{
    if (timeparse_time_arg(s, o->time_unit_us, us) == 0)
        return 0;
    if (timeparse_is_integer(s) && !o->time_unit_us)
        return args_usage(&cmd, "%s '%s' is an integer without a unit: add --time-unit s, ms or us", opt, s);
    if (timeparse_is_integer(s))
        return args_usage(&cmd, "%s '%s' is out of range", opt, s);
    return args_usage(&cmd, "%s wants an RFC 3339 time or an integer with --time-unit, not '%s'", opt, s);
}

/* A stream to read, from the operand (comma-separated) or --stream. */
static int add_stream(replay_cli *c, const char *name)
{
    if (!*name)
        return args_usage(&cmd, "an empty stream name");
    for (size_t i = 0; i < c->nstreams; i++)
        if (strcmp(c->streams[i], name) == 0)
            return args_usage(&cmd, "stream %s given twice", name);
    const char **grown = realloc(c->streams, (c->nstreams + 1) * sizeof *grown);
    if (!grown)
        return cli_fail(cmd.name, "out of memory");
    c->streams = grown;
    c->streams[c->nstreams++] = name;
    return CLI_OK;
}

static int add_stream_list(replay_cli *c, const char *arg)
{
    if (!(c->names = strdup(arg)))
        return cli_fail(cmd.name, "out of memory");
    for (char *p = c->names, *comma;; p = comma + 1) {
        if ((comma = strchr(p, ',')) != NULL)
            *comma = '\0';
        int rc = add_stream(c, p);
        if (rc != CLI_OK || !comma)
            return rc;
    }
}

/* The operands: STORE [STREAM[,STREAM]...], the streams optional when
 * --stream named them; with --from-manifest, [STORE] alone. */
static int take_operands(int argc, char **argv, replay_cli *c)
{
    int first = args_operand_index(), n = argc - first;
    if (n == 1 && !c->nstreams && !c->from_manifest && archive_file_is(argv[first])) {
        const replay_opts *o = &c->o;
        if (o->parts || o->order != ORDER_PARTITION || o->follow || o->consumer || o->manifest || o->allow_gaps)
            return args_usage(&cmd, "an archive is one partition read in offset order: not with --partition, "
                                    "--merge, --order, --follow, --consumer, --manifest or --allow-gaps");
        /* The sensitivities are the store's registry's, which an archive
         * read alone does not have. */
        if (o->redact != SIGLOG_SENSITIVITY_PUBLIC)
            return args_usage(&cmd, "--redact needs the store's schema registry: not with an archive file");
        c->archive = argv[first];
        return CLI_OK;
    }
    if (c->from_manifest) {
        if (c->others || c->nstreams)
            return args_usage(&cmd, "--from-manifest takes the streams, filters and options from the manifest "
                                    "(only --format, --memory and --spill-dir may be given)");
        if (n > 1)
            return args_usage(&cmd, "too many operands");
        c->o.store = n ? argv[first] : NULL;
        return CLI_OK;
    }
    if (n < 1 || (n < 2 && !c->nstreams))
        return args_usage(&cmd, "missing %s", n < 1 ? "STORE and STREAM" : "STREAM");
    if (n > 2)
        return args_usage(&cmd, "too many operands");
    c->o.store = argv[first];
    int rc = n == 2 ? add_stream_list(c, argv[first + 1]) : CLI_OK;
    c->o.streams = c->streams;
    c->o.nstreams = c->nstreams;
    return rc;
}

static int parse_options(int argc, char **argv, replay_cli *c)
{
    static const struct option opts[] = {
        { "partition", required_argument, NULL, OPT_PARTITION },
        { "from-offset", required_argument, NULL, OPT_FROM_OFFSET },
        { "to-offset", required_argument, NULL, OPT_TO_OFFSET },
        { "from-time", required_argument, NULL, OPT_FROM_TIME },
        { "to-time", required_argument, NULL, OPT_TO_TIME },
        { "time-unit", required_argument, NULL, OPT_TIME_UNIT },
        { "key", required_argument, NULL, OPT_KEY },
        { "schema-version", required_argument, NULL, OPT_SCHEMA },
        { "merge", no_argument, NULL, OPT_MERGE },
        { "follow", no_argument, NULL, OPT_FOLLOW },
        { "allow-gaps", no_argument, NULL, OPT_ALLOW_GAPS },
        { "limit", required_argument, NULL, OPT_LIMIT },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "header", required_argument, NULL, OPT_HEADER },
        { "order", required_argument, NULL, OPT_ORDER },
        { "memory", required_argument, NULL, OPT_MEMORY },
        { "spill-dir", required_argument, NULL, OPT_SPILL_DIR },
        { "manifest", required_argument, NULL, OPT_MANIFEST },
        { "stream", required_argument, NULL, OPT_STREAM },
        { "from-manifest", required_argument, NULL, OPT_FROM_MANIFEST },
        { "consumer", required_argument, NULL, OPT_CONSUMER },
        { "redact", required_argument, NULL, OPT_REDACT },
        { "redact-mode", required_argument, NULL, OPT_REDACT_MODE },
        { "max-lateness", required_argument, NULL, OPT_MAX_LATENESS },
        { NULL, 0, NULL, 0 },
    };
    static const char *const formats[] = { "jsonl", "value", "binary", NULL };
    static const char *const orders[] = { "partition", "merge", "event-time", NULL };
    replay_opts *o = &c->o;
    int rc;

    args_begin();
    for (int ch; (ch = args_next(&cmd, argc, argv, opts)) != -1;) {
        /* Only these leave what a replay from a manifest delivers alone. */
        c->others += ch != OPT_FROM_MANIFEST && ch != OPT_MEMORY && ch != OPT_SPILL_DIR && ch != OPT_FORMAT &&
                     ch != ARGS_HELP;
        switch (ch) {
        case OPT_PARTITION:
            if ((rc = add_partition(o, optarg)) != CLI_OK)
                return rc;
            break;
        case OPT_FROM_OFFSET:
            if (args_u64(&cmd, "--from-offset", optarg, 0, UINT64_MAX, &o->from_offset))
                return CLI_USAGE;
            o->have_from_offset = 1;
            break;
        case OPT_TO_OFFSET:
            if (args_u64(&cmd, "--to-offset", optarg, 0, UINT64_MAX, &o->to_offset))
                return CLI_USAGE;
            o->have_to_offset = 1;
            break;
        case OPT_FROM_TIME:
            o->from_time_arg = optarg;
            o->have_from_time = 1;
            break;
        case OPT_TO_TIME:
            o->to_time_arg = optarg;
            o->have_to_time = 1;
            break;
        case OPT_TIME_UNIT:
            if (args_time_unit(&cmd, optarg, &o->time_unit_us))
                return CLI_USAGE;
            break;
        case OPT_KEY:
            o->key = optarg;
            o->have_key = 1;
            break;
        case OPT_SCHEMA:
            if (args_u32(&cmd, "--schema-version", optarg, 0, UINT32_MAX, &o->schema_version))
                return CLI_USAGE;
            o->have_schema = 1;
            break;
        case OPT_MERGE:
            o->order = ORDER_MERGE;
            break;
        case OPT_FOLLOW:
            o->follow = 1;
            break;
        case OPT_ALLOW_GAPS:
            o->allow_gaps = 1;
            break;
        case OPT_LIMIT:
            if (args_u64(&cmd, "--limit", optarg, 0, UINT64_MAX, &o->limit))
                return CLI_USAGE;
            o->have_limit = 1;
            break;
        case OPT_FORMAT:
            if (args_choice(&cmd, "--format", optarg, formats, &o->format))
                return CLI_USAGE;
            c->have_format = 1;
            break;
        case OPT_ORDER:
            if (args_choice(&cmd, "--order", optarg, orders, &o->order))
                return CLI_USAGE;
            break;
        case OPT_MEMORY:
            if (timeparse_size_bytes(optarg, &o->sort_memory) != 0 || o->sort_memory < (1u << 20))
                return args_usage(&cmd, "--memory wants a size of at least 1MiB such as 64MiB, not '%s'", optarg);
            break;
        case OPT_SPILL_DIR:
            o->spill_dir = optarg;
            break;
        case OPT_MANIFEST:
            o->manifest = optarg;
            break;
        case OPT_STREAM:
            if ((rc = add_stream(c, optarg)) != CLI_OK)
                return rc;
            break;
        case OPT_FROM_MANIFEST:
            c->from_manifest = optarg;
            break;
        case OPT_CONSUMER:
            if (!resume_name_ok(optarg))
                return args_usage(&cmd, "--consumer wants a name of 1..128 bytes of [A-Za-z0-9._-] not starting "
                                        "with '.', not '%s'", optarg);
            o->consumer = optarg;
            break;
        case OPT_REDACT:
            if (args_choice(&cmd, "--redact", optarg, manifest_redact_levels, &o->redact))
                return CLI_USAGE;
            if (o->redact == SIGLOG_SENSITIVITY_PUBLIC)
                return args_usage(&cmd, "--redact public would redact nothing: give internal, personal or secret");
            break;
        case OPT_REDACT_MODE:
            if (args_choice(&cmd, "--redact-mode", optarg, manifest_redact_modes, &o->redact_mode))
                return CLI_USAGE;
            c->have_redact_mode = 1;
            break;
        case OPT_MAX_LATENESS: {
            uint64_t us;
            if (timeparse_duration_us(optarg, &us) != 0 || us > INT64_MAX)
                return args_usage(&cmd, "--max-lateness wants a duration such as 5s or 100ms, not '%s'", optarg);
            o->max_lateness_us = (int64_t)us;
            o->have_lateness = 1;
            break;
        }
        case OPT_HEADER:
            if (o->nheaders == SIGLOG_HEADERS_MAX)
                return args_usage(&cmd, "at most %d --header filters", SIGLOG_HEADERS_MAX);
            if (header_arg_parse(optarg, 0, &o->headers[o->nheaders++]) != 0)
                return args_usage(&cmd, "--header wants NAME=VALUE with a NAME, not '%s'", optarg);
            break;
        case ARGS_HELP:
            return ARGS_HELP;
        default:
            return CLI_USAGE;
        }
    }
    if (c->have_redact_mode && o->redact == SIGLOG_SENSITIVITY_PUBLIC)
        return args_usage(&cmd, "--redact-mode goes with --redact");
    if (o->have_lateness) {
        if (o->order == ORDER_MERGE)
            return args_usage(&cmd, "--max-lateness orders by event time: not with --merge");
        if (o->manifest || c->from_manifest)
            return args_usage(&cmd, "--max-lateness writes events in an order that depends on when they arrived, "
                                    "which no manifest can reproduce: not with --manifest or --from-manifest");
        if (o->spill_dir)
            return args_usage(&cmd, "--max-lateness holds events in memory: --spill-dir goes with --order "
                                    "event-time alone");
        o->order = ORDER_EVENT_TIME;
    }
    if (o->order == ORDER_EVENT_TIME && o->follow && !o->have_lateness)
        return args_usage(&cmd, "--order event-time sorts a finished selection: with --follow, give "
                                "--max-lateness");
    if (o->order != ORDER_EVENT_TIME && (o->sort_memory || o->spill_dir) && !c->from_manifest)
        return args_usage(&cmd, "--memory and --spill-dir go with --order event-time or --max-lateness");
    if (o->consumer && (o->have_from_offset || o->have_from_time))
        return args_usage(&cmd, "--consumer starts where the consumer left off: not with --from-offset or "
                                "--from-time");
    /* A limited sort delivers the earliest events of every partition, no
     * partition's whole prefix: there would be no offset to commit. */
    if (o->consumer && o->order == ORDER_EVENT_TIME && o->have_limit)
        return args_usage(&cmd, "--consumer with --order event-time reads the whole selection: not with --limit");
    if ((o->have_from_time && parse_time_bound(o, "--from-time", o->from_time_arg, &o->from_time)) ||
        (o->have_to_time && parse_time_bound(o, "--to-time", o->to_time_arg, &o->to_time)))
        return CLI_USAGE;
    if ((rc = take_operands(argc, argv, c)) != CLI_OK)
        return rc;
    if (o->consumer && !c->archive && o->nstreams > 1)
        return args_usage(&cmd, "--consumer commits one stream's offsets: not with several streams");
    return CLI_OK;
}

/* --manifest: written only after a clean end, so a manifest always names
 * a replay whose every event reached standard output. */
static int write_manifest(manifest *delivered, siglog *s, siglog_stream *const *st, const replay_opts *o)
{
    if (out_failed())
        return cli_fail(cmd.name, "standard output closed before the replay ended: no manifest written");
    char *store = realpath(o->store, NULL);
    manifest_finish(delivered);
    json_t *doc = manifest_json(delivered, s, store ? store : o->store, st, replay_options_json(o));
    int rc = doc ? manifest_write(doc, o->manifest) : -1;
    int e = doc ? errno : ENOMEM;
    json_decref(doc);
    free(store);
    if (rc != 0)
        return cli_fail(cmd.name, "writing the manifest %s: %s", o->manifest, strerror(e));
    return CLI_OK;
}

/* --from-manifest: the recorded replay, checked before a byte is written
 * (the store must still deliver exactly what the manifest records) and
 * again at its end (nothing changed meanwhile). */
static int replay_from_manifest(const replay_cli *c)
{
    manifest_replay mr;
    int status = manifest_replay_open(cmd.name, c->from_manifest, c->o.store, &mr);
    if (status != CLI_OK)
        return status;
    mr.o.sort_memory = c->o.sort_memory;
    mr.o.spill_dir = c->o.spill_dir;
    if (c->have_format) /* the digest is the same in every format */
        mr.o.format = c->o.format;
    if ((status = manifest_replay_check(cmd.name, &mr, 1)) == CLI_OK)
        status = manifest_replay_check(cmd.name, &mr, 0);
    manifest_replay_close(&mr);
    return status;
}

static int replay_streams(replay_cli *c)
{
    replay_opts *o = &c->o;
    siglog *s = NULL;
    siglog_stream **st = calloc(o->nstreams, sizeof *st);
    manifest delivered;
    int status = CLI_FAILURE;
    if (!st)
        return cli_fail(cmd.name, "out of memory");
    if (cli_open(cmd.name, o->store, o->consumer ? CLI_OPEN_CONSUMER : CLI_OPEN_READ_ONLY, o->streams[0], &s,
                 &st[0]) != CLI_OK)
        goto out;
    for (size_t i = 1; i < o->nstreams; i++) {
        int rc = siglog_stream_get(s, o->streams[i], &st[i]);
        if (rc != 0) {
            cli_fail_lib(cmd.name, rc, "cannot use stream %s of store %s", o->streams[i], o->store);
            goto out;
        }
    }
    if (o->manifest)
        manifest_begin(&delivered, o->streams, o->nstreams);
    status = replay_execute(cmd.name, st, o, o->manifest ? &delivered : NULL, 0);
    if (status == CLI_OK && o->manifest)
        status = write_manifest(&delivered, s, st, o);
    if (o->manifest)
        manifest_free(&delivered);
out:
    siglog_close(s);
    free(st);
    return status;
}

int cmd_replay(int argc, char **argv)
{
    replay_cli c = { .o = { .format = FORMAT_JSONL } };
    int status = parse_options(argc, argv, &c);
    if (status == CLI_OK)
        status = c.archive         ? replay_archive(cmd.name, c.archive, &c.o)
                 : c.from_manifest ? replay_from_manifest(&c)
                                   : replay_streams(&c);
    else if (status == ARGS_HELP)
        status = CLI_OK;
    free(c.o.parts);
    free(c.streams);
    free(c.names);
    return status;
}
