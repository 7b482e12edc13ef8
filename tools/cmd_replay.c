/*
 * cmd_replay — `siglog replay`: read a stream back, partition by partition
 * or merged in time order, filtered by offset and time ranges, key and
 * schema version, and optionally following new events like tail -f.
 *
 * Ranges are half-open: --from-offset/--from-time are inclusive,
 * --to-offset/--to-time exclusive, so [from, to) ranges tile a log without
 * overlap. Event times within a partition need not grow with the offset,
 * so time bounds filter every record; the --from-time seek only skips
 * what the time index proves is earlier.
 *
 * Without --follow every cursor is opened before anything is read, so the
 * replay ends at the high-water marks seen at start.
 */
#include "args.h"
#include "cli.h"
#include "headers.h"
#include "manifest.h"
#include "output.h"
#include "utf8.h"
#include "progress.h"
#include "resume.h"
#include "timeparse.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const args_cmd cmd = {
    "replay",
    "siglog replay STORE STREAM [--partition P]... [--from-offset O] [--to-offset O]\n"
    "       [--from-time T] [--to-time T] [--time-unit s|ms|us] [--key K] [--schema-version V] [--merge] [--follow]\n"
    "       [--header NAME=VALUE]... [--order event-time [--memory SIZE] [--spill-dir DIR]]\n"
    "       [--allow-gaps] [--limit N] [--format jsonl|value|binary] [--manifest FILE]\n"
    "       [--consumer NAME]",
    "Write the events of STREAM to standard output.\n"
    "\n"
    "  --partition P        read partition P (repeatable); default: all partitions,\n"
    "                       one after another in partition order\n"
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
    "  --schema-version V   only events of schema version V\n"
    "  --header NAME=VALUE  only events carrying header NAME with exactly VALUE\n"
    "                       (repeatable: every one must be carried)\n"
    "  --merge              interleave the partitions in (timestamp, partition,\n"
    "                       offset) order. This is a merge: each partition keeps\n"
    "                       its offset order, so the output is sorted by time\n"
    "                       when every partition's times are non-decreasing (as\n"
    "                       append times are)\n"
    "  --order event-time   every selected event in exact (timestamp, partition,\n"
    "                       offset) order, however late events arrived: an\n"
    "                       external sort that reads the whole selection before\n"
    "                       writing the first event (not with --follow)\n"
    "  --memory SIZE        what the sort holds in memory before it spills sorted\n"
    "                       runs to files (default 256MiB, at least 1MiB; K/M/G\n"
    "                       suffixes as for stream create)\n"
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
    "                       a JSON manifest of the stream, every filter and\n"
    "                       option, each partition's delivered offset range and\n"
    "                       count, the schema versions seen with their\n"
    "                       fingerprints, the event count and a BLAKE2b-256\n"
    "                       digest of the delivered events in delivery order\n"
    "                       (FORMAT.md section 22 says how to recompute it)\n"
    "  --consumer NAME      read on where consumer NAME left off: each partition\n"
    "                       from its committed offset (from the log's start for\n"
    "                       a new consumer), not with --from-offset or\n"
    "                       --from-time. When the replay ends cleanly (--follow:\n"
    "                       on SIGINT or SIGTERM), each partition's offset is\n"
    "                       committed past the last event read, selected or\n"
    "                       not; after a failure, or when standard output went\n"
    "                       away, nothing is committed, so the next run reads\n"
    "                       those events again rather than skips them. A hold\n"
    "                       the consumer has is kept (siglog consumer)\n"
    "\n"
    "Without --follow the replay ends at the high-water mark seen at start.\n"
    "The store is opened read-only, so replay runs beside a writer; it writes\n"
    "nothing. With no writer, commits only the journal holds (a writer crashed\n"
    "before they reached their segments) are read from the journal and\n"
    "replayed after the segments' events, as a writer's recovery would put\n"
    "them. When the reader of standard output goes away (replay | head),\n"
    "replay stops quietly with status 0.\n",
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
    OPT_CONSUMER,
};

enum replay_format { FORMAT_JSONL, FORMAT_VALUE, FORMAT_BINARY };

typedef struct replay_opts {
    const char *store, *stream;
    uint32_t *parts; /* requested partitions; NULL: all */
    size_t nparts;
    uint64_t from_offset, to_offset;
    const char *from_time_arg, *to_time_arg; /* read once --time-unit is known */
    int64_t time_unit_us;                     /* 0: none given */
    int64_t from_time, to_time;
    int have_from_offset, have_to_offset, have_from_time, have_to_time;
    const char *key;
    int have_key;
    uint32_t schema_version;
    int have_schema;
    header_arg headers[SIGLOG_HEADERS_MAX]; /* --header filters */
    size_t nheaders;
    int order;             /* index into parse_options' orders */
    int event_time;        /* --order event-time */
    uint64_t sort_memory;  /* 0: the library's default */
    const char *spill_dir; /* NULL: the library's default */
    const char *manifest;  /* --manifest FILE; NULL: none */
    const char *consumer;  /* --consumer NAME; NULL: none */
    int merge, follow, allow_gaps;
    uint64_t limit;
    int have_limit;
    int format;
} replay_opts;

typedef struct replay_src {
    siglog_cursor *cursor;
    uint32_t partition;
    int done; /* reached --to-offset */
    /* --consumer: where the replay started, and one past the last event
     * read below --to-offset (what a clean end commits). */
    uint64_t start, next;
} replay_src;

typedef struct replay_run {
    const replay_opts *o;
    siglog_stream *st;
    replay_src *src;
    size_t nsrc, ndone;
    uint64_t written, read;
    manifest *delivered; /* with --manifest: what was written so far */
    uint64_t *committed; /* --consumer: its next offsets at the start, by partition */
    progress bar;
} replay_run;

static volatile sig_atomic_t replay_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    replay_stop = 1;
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: waits return early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- output formats ---- */

static void write_value_json(const siglog_record *r)
{
    json_t *v = json_loadb(r->value, r->value_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v) {
        out_json_base64(r->value, r->value_len);
        out_puts(",\"value_encoding\":\"base64\"");
        return;
    }
    /* Valid JSON is embedded as stored unless raw line breaks (legal JSON
     * whitespace) would split the envelope's line; then compactly re-encoded. */
    if (!memchr(r->value, '\n', r->value_len) && !memchr(r->value, '\r', r->value_len)) {
        out_write(r->value, r->value_len);
    } else {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text) {
            out_puts(text);
            free(text);
        } else {
            out_json_base64(r->value, r->value_len);
            out_puts(",\"value_encoding\":\"base64\"");
        }
    }
    json_decref(v);
}

static void write_jsonl(const replay_run *rr, const siglog_record *r)
{
    out_puts("{\"stream\":");
    out_json_string(rr->o->stream, strlen(rr->o->stream));
    out_puts(",\"partition\":");
    out_u64(r->partition);
    out_puts(",\"offset\":");
    out_u64(r->offset);
    out_puts(",\"ts\":");
    out_i64(r->timestamp_us);
    out_puts(",\"key\":");
    if (r->key_len == 0) {
        out_puts("null");
    } else if (utf8_valid(r->key, r->key_len)) {
        out_json_string(r->key, r->key_len);
    } else {
        out_json_base64(r->key, r->key_len);
        out_puts(",\"key_encoding\":\"base64\"");
    }
    out_puts(",\"schema\":");
    out_u64(r->schema_version);
    headers_write_json(r);
    if (r->flags & SIGLOG_EVENT_TOMBSTONE)
        out_puts(",\"tombstone\":true");
    out_puts(",\"value\":");
    write_value_json(r);
    out_puts("}\n");
}

static void write_record(const replay_run *rr, const siglog_record *r)
{
    if (rr->delivered)
        manifest_add(rr->delivered, r);
    switch (rr->o->format) {
    case FORMAT_VALUE:
        out_write(r->value, r->value_len);
        out_write("\n", 1);
        break;
    case FORMAT_BINARY: {
        uint32_t n = (uint32_t)r->value_len;
        unsigned char le[4] = { (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 24) };
        out_write(le, 4);
        out_write(r->value, r->value_len);
        break;
    }
    default:
        write_jsonl(rr, r);
    }
}

/* ---- reading ---- */

/* Whether r passes the filters other than --to-offset and --key (the
 * cursor hands out only the key's records, passing over the segments
 * whose key filter excludes it). */
static int selected(const replay_opts *o, const siglog_record *r)
{
    return !((o->have_from_time && r->timestamp_us < o->from_time) ||
             (o->have_to_time && r->timestamp_us >= o->to_time) ||
             (o->have_schema && r->schema_version != o->schema_version) ||
             !headers_match(r, o->headers, o->nheaders));
}

/* Filter and write one record. Returns 1 when the replay is complete
 * (--limit reached or stdout gone), else 0. */
static int take_record(replay_run *rr, replay_src *src, const siglog_record *r)
{
    const replay_opts *o = rr->o;
    rr->read++;
    if (o->have_to_offset && r->offset >= o->to_offset) {
        if (!src->done) {
            src->done = 1;
            rr->ndone++;
        }
        return 0;
    }
    src->next = r->offset + 1;
    if (!selected(o, r))
        return 0;
    write_record(rr, r);
    rr->written++;
    return (o->have_limit && rr->written >= o->limit) || out_failed();
}

/* Every reason to stop that does not depend on the next record. */
static int replay_finished(const replay_run *rr)
{
    return replay_stop || out_failed() || (rr->o->have_limit && rr->written >= rr->o->limit) ||
           (rr->nsrc > 0 && rr->ndone == rr->nsrc);
}

/* A cursor's error: EGAP is a warning (retention removed offsets under us;
 * the cursor moved on), anything else ends the replay. */
static int read_failed(const replay_run *rr, int rc, const replay_src *src)
{
    if (rc == SIGLOG_EGAP) {
        if (src)
            cli_warn(cmd.name, "stream %s partition %u: events were removed by retention; continuing at offset %" PRIu64,
                     rr->o->stream, src->partition, siglog_cursor_position(src->cursor));
        else
            cli_warn(cmd.name, "stream %s: events were removed by retention (%s); continuing", rr->o->stream,
                     siglog_errdetail());
        return 0;
    }
    if (src)
        return cli_fail_lib(cmd.name, rc, "reading stream %s partition %u at offset %" PRIu64, rr->o->stream,
                            src->partition, siglog_cursor_position(src->cursor));
    return cli_fail_lib(cmd.name, rc, "reading stream %s", rr->o->stream);
}

/* Read up to `budget` records of one source. Returns the number read, or
 * -1 after a failure was reported; *finished set when the replay is done. */
static int64_t drain(replay_run *rr, replay_src *src, uint64_t budget, int *finished)
{
    int64_t n = 0;
    while (!src->done && (uint64_t)n < budget && !replay_finished(rr)) {
        const siglog_record *r;
        int rc = siglog_cursor_next(src->cursor, &r);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (read_failed(rr, rc, src) != 0)
                return -1;
            continue;
        }
        n++;
        if (take_record(rr, src, r)) {
            *finished = 1;
            break;
        }
        if ((n & 1023) == 0)
            progress_update(&rr->bar, rr->read);
    }
    return n;
}

/* Sleep until some cursor may have news, a signal, or a short timeout.
 * Rotating over the cursors bounds the latency for every partition. */
static void wait_for_news(replay_run *rr, size_t *turn)
{
    out_flush();
    if (replay_stop || rr->nsrc == 0)
        return;
    size_t i = (*turn)++ % rr->nsrc;
    siglog_cursor_wait(rr->src[i].cursor, rr->nsrc == 1 ? 200 : 50);
}

static int replay_sequential(replay_run *rr)
{
    int finished = 0;
    size_t turn = 0;
    if (!rr->o->follow) {
        for (size_t i = 0; i < rr->nsrc && !finished; i++)
            if (drain(rr, &rr->src[i], UINT64_MAX, &finished) < 0)
                return CLI_FAILURE;
        return CLI_OK;
    }
    while (!finished && !replay_finished(rr)) {
        int64_t got = 0;
        for (size_t i = 0; i < rr->nsrc && !finished; i++) {
            int64_t n = drain(rr, &rr->src[i], 1024, &finished);
            if (n < 0)
                return CLI_FAILURE;
            got += n;
        }
        if (got == 0)
            wait_for_news(rr, &turn);
    }
    return CLI_OK;
}

static int replay_merged(replay_run *rr)
{
    siglog_cursor **cursors = malloc(rr->nsrc * sizeof *cursors);
    if (!cursors)
        return cli_fail(cmd.name, "out of memory");
    for (size_t i = 0; i < rr->nsrc; i++)
        cursors[i] = rr->src[i].cursor;
    siglog_merge *m = NULL;
    int rc = siglog_merge_open(&m, cursors, rr->nsrc);
    int status = CLI_OK;
    size_t turn = 0;
    if (rc != 0) {
        status = cli_fail_lib(cmd.name, rc, "merging the partitions of stream %s", rr->o->stream);
        goto out;
    }
    while (!replay_finished(rr)) {
        const siglog_record *r;
        size_t idx;
        rc = siglog_merge_next(m, &r, &idx);
        if (rc < 0) {
            if ((status = read_failed(rr, rc, NULL)) != CLI_OK)
                break;
            continue;
        }
        if (rc == 0) {
            if (!rr->o->follow)
                break;
            wait_for_news(rr, &turn);
            continue;
        }
        if (take_record(rr, &rr->src[idx], r))
            break;
        if ((rr->read & 1023) == 0)
            progress_update(&rr->bar, rr->read);
    }
out:
    siglog_merge_close(m);
    free(cursors);
    return status;
}

/* What the sort keeps: every filter, --to-offset included (its cursor
 * reads on past it, since the sort reads each to its end). */
static int sort_keeps(void *ctx, const siglog_record *r)
{
    const replay_opts *o = ctx;
    return (!o->have_to_offset || r->offset < o->to_offset) && selected(o, r);
}

/* --order event-time: sort the selection, then write it. */
static int replay_event_time(replay_run *rr)
{
    siglog_cursor **cursors = malloc((rr->nsrc ? rr->nsrc : 1) * sizeof *cursors);
    if (!cursors)
        return cli_fail(cmd.name, "out of memory");
    for (size_t i = 0; i < rr->nsrc; i++)
        cursors[i] = rr->src[i].cursor;
    siglog_sort_options so;
    siglog_sort_options_default(&so);
    if (rr->o->sort_memory)
        so.memory_bytes = rr->o->sort_memory;
    so.spill_dir = rr->o->spill_dir;
    so.keep = sort_keeps;
    so.keep_ctx = (void *)rr->o;
    siglog_sort *s = NULL;
    int status = CLI_OK;
    int rc = siglog_sort_open(&s, cursors, rr->nsrc, &so);
    if (rc != 0)
        status = cli_fail_lib(cmd.name, rc, "sorting stream %s by event time", rr->o->stream);
    while (status == CLI_OK && !replay_finished(rr)) {
        const siglog_record *r;
        if ((rc = siglog_sort_next(s, &r, NULL)) <= 0) {
            if (rc < 0)
                status = cli_fail_lib(cmd.name, rc, "sorting stream %s by event time", rr->o->stream);
            break;
        }
        rr->read++;
        write_record(rr, r);
        rr->written++;
    }
    /* The sort read every cursor to its end and delivered what it kept:
     * everything below --to-offset was read. */
    for (size_t i = 0; status == CLI_OK && i < rr->nsrc; i++) {
        uint64_t end = siglog_cursor_position(rr->src[i].cursor);
        rr->src[i].next = rr->o->have_to_offset && rr->o->to_offset < end ? rr->o->to_offset : end;
        if (rr->src[i].next < rr->src[i].start)
            rr->src[i].next = rr->src[i].start;
    }
    siglog_sort_close(s);
    free(cursors);
    return status;
}

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

static int parse_options(int argc, char **argv, replay_opts *o)
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
        { "consumer", required_argument, NULL, OPT_CONSUMER },
        { NULL, 0, NULL, 0 },
    };
    static const char *const formats[] = { "jsonl", "value", "binary", NULL };
    static const char *const orders[] = { "partition", "merge", "event-time", NULL };
    int order = 0;
    int rc;

    args_begin();
    for (int ch; (ch = args_next(&cmd, argc, argv, opts)) != -1;) {
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
            o->merge = 1;
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
            break;
        case OPT_ORDER:
            if (args_choice(&cmd, "--order", optarg, orders, &order))
                return CLI_USAGE;
            o->merge = order == 1;
            o->event_time = order == 2;
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
        case OPT_CONSUMER:
            if (!resume_name_ok(optarg))
                return args_usage(&cmd, "--consumer wants a name of 1..128 bytes of [A-Za-z0-9._-] not starting "
                                        "with '.', not '%s'", optarg);
            o->consumer = optarg;
            break;
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
    o->order = order;
    if (o->event_time && o->follow)
        return args_usage(&cmd, "--order event-time sorts a finished selection: not with --follow");
    if (!o->event_time && (o->sort_memory || o->spill_dir))
        return args_usage(&cmd, "--memory and --spill-dir go with --order event-time");
    if (o->consumer && (o->have_from_offset || o->have_from_time))
        return args_usage(&cmd, "--consumer starts where the consumer left off: not with --from-offset or "
                                "--from-time");
    /* A limited sort delivers the earliest events of every partition, no
     * partition's whole prefix: there would be no offset to commit. */
    if (o->consumer && o->event_time && o->have_limit)
        return args_usage(&cmd, "--consumer with --order event-time reads the whole selection: not with --limit");
    if ((o->have_from_time && parse_time_bound(o, "--from-time", o->from_time_arg, &o->from_time)) ||
        (o->have_to_time && parse_time_bound(o, "--to-time", o->to_time_arg, &o->to_time)))
        return CLI_USAGE;
    char **ops;
    if (args_operands(&cmd, argc, argv, 2, "STORE or STREAM", &ops))
        return CLI_USAGE;
    o->store = ops[0];
    o->stream = ops[1];
    return CLI_OK;
}

/* One cursor per selected partition, all opened before reading starts. */
static int open_sources(replay_run *rr)
{
    const replay_opts *o = rr->o;
    siglog_stream_config cfg;
    siglog_stream_config_get(rr->st, &cfg);
    rr->nsrc = o->parts ? o->nparts : cfg.partitions;
    rr->src = calloc(rr->nsrc ? rr->nsrc : 1, sizeof *rr->src);
    rr->committed = calloc(cfg.partitions ? cfg.partitions : 1, sizeof *rr->committed);
    if (!rr->src || !rr->committed)
        return cli_fail(cmd.name, "out of memory");
    int found = 0, rc;
    if (o->consumer && (rc = resume_load(rr->st, o->consumer, cfg.partitions, rr->committed, &found)) != 0)
        return cli_fail_lib(cmd.name, rc, "reading consumer %s of stream %s", o->consumer, o->stream);

    int seek = SIGLOG_SEEK_START;
    int64_t arg = 0;
    if (o->have_from_offset) {
        seek = SIGLOG_SEEK_OFFSET;
        arg = o->from_offset > INT64_MAX ? INT64_MAX : (int64_t)o->from_offset;
    } else if (o->have_from_time) {
        seek = SIGLOG_SEEK_TIME;
        arg = o->from_time;
    } else if (o->consumer) {
        seek = SIGLOG_SEEK_OFFSET; /* arg per partition, below */
    }
    uint64_t total = 0;
    int want_total = progress_wanted(); /* partition stats read every segment */
    for (size_t i = 0; i < rr->nsrc; i++) {
        replay_src *src = &rr->src[i];
        src->partition = o->parts ? o->parts[i] : (uint32_t)i;
        if (src->partition >= cfg.partitions)
            return cli_fail(cmd.name, "stream %s has %u partitions: no partition %u", o->stream, cfg.partitions,
                            src->partition);
        if (o->consumer)
            arg = rr->committed[src->partition] > INT64_MAX ? INT64_MAX : (int64_t)rr->committed[src->partition];
        rc = siglog_cursor_open(&src->cursor, rr->st, src->partition, seek, arg,
                                (o->follow ? SIGLOG_CURSOR_FOLLOW : 0u) | (o->allow_gaps ? SIGLOG_CURSOR_ALLOW_GAPS : 0u));
        if (rc == 0 && o->have_key)
            rc = siglog_cursor_set_key(src->cursor, o->key, strlen(o->key));
        if (rc != 0)
            return cli_fail_lib(cmd.name, rc, "opening stream %s partition %u", o->stream, src->partition);
        src->start = src->next = siglog_cursor_position(src->cursor);
        /* A seek below the log's start starts at it: say what the
         * consumer never read because retention purged it first. */
        if (found && rr->committed[src->partition] < src->start)
            cli_warn(cmd.name, "consumer %s: stream %s partition %u offsets [%" PRIu64 ", %" PRIu64 ") were purged "
                               "by retention before it read them; reading on from %" PRIu64,
                     o->consumer, o->stream, src->partition, rr->committed[src->partition], src->start, src->start);
        siglog_partition_info pi;
        if (want_total && siglog_partition_info_get(rr->st, src->partition, &pi) == 0)
            total += pi.next_offset - pi.log_start_offset;
        /* An empty range needs no reading at all. */
        if (o->have_to_offset && o->to_offset <= siglog_cursor_position(src->cursor)) {
            src->done = 1;
            rr->ndone++;
        }
    }
    progress_start(&rr->bar, "replay", o->follow ? 0 : total);
    if (o->follow)
        rr->bar.active = 0;
    return CLI_OK;
}

/* Every filter and option that shapes what a replay delivers, as the
 * manifest records them: times in microseconds, absent ones null. */
static json_t *options_json(const replay_opts *o)
{
    static const char *const orders[] = { "partition", "merge", "event-time" };
    static const char *const formats[] = { "jsonl", "value", "binary" };
    json_t *parts = json_null(), *headers = json_array();
    if (o->parts) {
        json_decref(parts);
        parts = json_array();
        for (size_t i = 0; i < o->nparts; i++)
            json_array_append_new(parts, json_integer(o->parts[i]));
    }
    for (size_t i = 0; i < o->nheaders; i++)
        json_array_append_new(headers, json_pack("[s#s]", o->headers[i].name, o->headers[i].name_len,
                                                 o->headers[i].value));
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:b,s:b,s:o,s:s}", "partitions", parts, "from_offset",
                     o->have_from_offset ? json_integer((json_int_t)o->from_offset) : json_null(), "to_offset",
                     o->have_to_offset ? json_integer((json_int_t)o->to_offset) : json_null(), "from_time_us",
                     o->have_from_time ? json_integer(o->from_time) : json_null(), "to_time_us",
                     o->have_to_time ? json_integer(o->to_time) : json_null(), "key",
                     o->have_key ? json_string(o->key) : json_null(), "schema_version",
                     o->have_schema ? json_integer(o->schema_version) : json_null(), "headers", headers, "order",
                     orders[o->order], "follow", o->follow, "allow_gaps", o->allow_gaps, "limit",
                     o->have_limit ? json_integer((json_int_t)o->limit) : json_null(), "format", formats[o->format]);
}

/* --manifest: written only after a clean end, so a manifest always names
 * a replay whose every event reached standard output. */
static int write_manifest(const replay_run *rr)
{
    if (out_failed())
        return cli_fail(cmd.name, "standard output closed before the replay ended: no manifest written");
    if (manifest_write(rr->delivered, rr->st, rr->o->stream, options_json(rr->o), rr->o->manifest) != 0)
        return cli_fail(cmd.name, "writing the manifest %s: %s", rr->o->manifest, strerror(errno));
    return CLI_OK;
}

/* --consumer: commit each partition that moved, after a clean end only,
 * so what is committed reached standard output whole. The consumer's
 * hold, if any, stays (flags 0 keep it). */
static int commit_consumer(const replay_run *rr)
{
    if (out_failed())
        return CLI_OK; /* the reader went away: nothing is known processed */
    for (size_t i = 0; i < rr->nsrc; i++) {
        const replay_src *src = &rr->src[i];
        if (src->next == src->start)
            continue; /* nothing read: nothing to say */
        int rc = siglog_consumer_commit(rr->st, rr->o->consumer, src->partition, src->next, 0);
        if (rc != 0)
            return cli_fail_lib(cmd.name, rc, "committing consumer %s of stream %s partition %u at offset %" PRIu64,
                                rr->o->consumer, rr->o->stream, src->partition, src->next);
    }
    return CLI_OK;
}

int cmd_replay(int argc, char **argv)
{
    replay_opts o = { .format = FORMAT_JSONL };
    replay_run rr = { .o = &o };
    manifest delivered;
    siglog *s = NULL;
    int status = parse_options(argc, argv, &o);
    if (status != CLI_OK) {
        status = status == ARGS_HELP ? CLI_OK : status;
        goto out;
    }
    if ((status = cli_open(cmd.name, o.store, o.consumer ? CLI_OPEN_CONSUMER : CLI_OPEN_READ_ONLY, o.stream, &s,
                           &rr.st)) != CLI_OK)
        goto out;
    if (o.follow)
        install_stop_handlers();
    if (o.manifest) {
        manifest_begin(&delivered);
        rr.delivered = &delivered;
    }
    if ((status = open_sources(&rr)) != CLI_OK)
        goto out;
    status = o.event_time ? replay_event_time(&rr) : o.merge ? replay_merged(&rr) : replay_sequential(&rr);
    progress_end(&rr.bar);
    if (status == CLI_OK)
        status = out_finish(cmd.name);
    if (status == CLI_OK && rr.delivered)
        status = write_manifest(&rr);
    if (status == CLI_OK && o.consumer)
        status = commit_consumer(&rr);
    else if (status != CLI_OK)
        out_flush(); /* every record read before the failure, whole */
out:
    for (size_t i = 0; i < rr.nsrc && rr.src; i++)
        siglog_cursor_close(rr.src[i].cursor);
    free(rr.src);
    free(rr.committed);
    if (rr.delivered)
        manifest_free(rr.delivered);
    siglog_close(s);
    free(o.parts);
    return status;
}
