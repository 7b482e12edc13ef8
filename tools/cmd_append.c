/*
 * cmd_append — `siglog append`: JSON Lines in, one event per line.
 *
 * Each line is parsed (ingest.h: one JSON value per line) and stored
 * byte-for-byte as the event value; the key and event time come from
 * fields named by dot paths. Lines are grouped into batches of up to
 * APPEND_BATCH events per siglog_append call — but only lines already read
 * (lines.h), so a slow producer's lines on a pipe are appended promptly,
 * and acknowledged as soon as they are durable.
 *
 * Acknowledgement (--ack): "PARTITION OFFSET\n" per event, in input
 * order, printed only once the event is durable under the stream's sync
 * policy (acks.h): always — on disk when siglog_append returned; interval —
 * after the next interval commit that covers it, which the printer waits
 * for instead of forcing a sync per batch; none — once written to the
 * segment file, i.e. handed to the OS (a power cut may still take it).
 * With --sync always every batch is synced before the next is appended.
 * Whatever stdout shows is durable in that sense, so a harness may kill
 * the process at any moment, kill -9 included.
 *
 * Read from a file, the lines are parsed by the reading thread while an
 * appending thread appends the batch before (batch_pipe.h): parsing and
 * compressing share the cores. From a pipe or terminal each batch is
 * appended by the reading thread before it reads on.
 *
 * SIGINT and SIGTERM (interrupt.h) end the input: the lines already read
 * are appended, the store is synced, every remaining acknowledgement is
 * printed, and the command exits 128 + the signal with one summary line
 * that says how many input lines were consumed (--skip-lines resumes).
 */
#include "acks.h"
#include "args.h"
#include "batch_pipe.h"
#include "cli.h"
#include "headers.h"
#include "ingest.h"
#include "interrupt.h"
#include "jsonfast.h"
#include "jsonpath.h"
#include "lines.h"
#include "output.h"
#include "progress.h"
#include "timeparse.h"
#include "zonename.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPEND_BATCH 1000
/* Batches between the reading and the appending thread (batch_pipe.h).
 * The appending thread needs about two thirds of the reader's CPU, yet
 * with two slots the reader of the corpus waited for a free one for a
 * third of its parse (load 4 on two cores): the appender falls behind
 * whenever it is held up (a wake-up, a write, its core taken). Four let
 * the reader run three batches ahead; a batch holds at most
 * APPEND_BATCH_BYTES of copies, so at most 16 MiB are held. */
#define APPEND_SLOTS 4
/* A batch also ends once its copied lines, keys and header values reach
 * this many bytes, which bounds a batch's memory however long its lines. */
#define APPEND_BATCH_BYTES (4u << 20)
/* The engine's hard record limit (siglog.h: record_bytes_max <= 16 MiB):
 * a longer line can never be stored, so the reader need not hold it. */
#define APPEND_LINE_MAX (16u << 20)

static const args_cmd cmd = {
    "append",
    "siglog append STORE STREAM [--key-field PATH] [--time-field PATH] [--time-unit s|ms|us]\n"
    "       [--time-format PATTERN] [--time-zone ZONE] [--header NAME=VALUE|NAME=@PATH]...\n"
    "       [--tombstone-field PATH] [--schema-version V | --schema-field PATH] [--partition P] [--sync none|always] [--on-error stop|skip]\n"
    "       [--skip-lines N] [--ack] [--force-owner] [FILE|-]",
    "Append JSON Lines from FILE (or standard input when FILE is '-' or absent)\n"
    "to STREAM: one event per line, the line stored byte-for-byte as the value\n"
    "(without its newline). Every line must be exactly one JSON value, its\n"
    "numbers of any size or precision (only a key or time field must fit a\n"
    "64-bit integer or a double). A \\r before the newline is part of the line\n"
    "ending (CRLF), not of the value; a UTF-8 byte order mark at the start of\n"
    "the input is skipped; blank lines (nothing but spaces and tabs) are\n"
    "skipped and counted.\n"
    "\n"
    "  --key-field PATH     take the key from this field (dot path: user.id). A\n"
    "                       string gives its characters; a number its JSON text\n"
    "                       (shortest round-trip form: 1.50 -> \"1.5\"). Events\n"
    "                       with a key go to partition xxh3(key) % partitions;\n"
    "                       without --key-field events carry no key and go\n"
    "                       round-robin.\n"
    "  --time-field PATH    take the event time from this field: a number in\n"
    "                       --time-unit (fractions allowed: 1396839069.277 with\n"
    "                       --time-unit s) or an RFC 3339 string. Without it the\n"
    "                       append time is used. A time of exactly the epoch (0)\n"
    "                       is a bad line: the store reads 0 as the append time.\n"
    "  --time-unit U        s, ms (default) or us\n"
    "  --time-format PAT    read time strings in this strftime-style pattern\n"
    "                       instead of RFC 3339: %Y year, %m month (01-12), %b\n"
    "                       month (Jan-Dec), %d day, %H hour, %M minute, %S\n"
    "                       second, %f fraction (any number of digits; beyond\n"
    "                       microseconds dropped), %z zone (Z, +02:00, +0200),\n"
    "                       %F for %Y-%m-%d, %T for %H:%M:%S; a doubled % is a\n"
    "                       literal one. Numbers are zero-padded; a missing hour,\n"
    "                       minute or second is 0. E.g. '%Y-%m-%d %H:%M:%S.%f'\n"
    "  --time-zone ZONE     zone of --time-format times without %z (required\n"
    "                       then): UTC, an offset like +02:00 or -0930, or an\n"
    "                       IANA zone name like Europe/Berlin (from the system's\n"
    "                       zoneinfo), daylight saving time included; a local\n"
    "                       time the zone skips or shows twice is a bad line.\n"
    "  --header NAME=VALUE  store header NAME with the constant VALUE on every\n"
    "                       event (repeatable; provenance such as service=ranker)\n"
    "  --header NAME=@PATH  store header NAME with the field at PATH of each line\n"
    "                       as its value, read as --key-field reads the key; a\n"
    "                       line without the field is a bad line. A constant\n"
    "                       starting with @ is written @@: --header tag=@@x\n"
    "                       stores \"@x\"\n"
    "  --tombstone-field PATH\n"
    "                       store a line whose field at PATH is true as a\n"
    "                       tombstone (a deletion marker for its key, kept\n"
    "                       with the line as its value); false, null or no\n"
    "                       such field: an ordinary event; any other value is\n"
    "                       a bad line. replay shows \"tombstone\":true\n"
    "  --schema-version V   schema version stored with every event (default 0)\n"
    "  --schema-field PATH  each event's schema version is its field at PATH, an\n"
    "                       integer 0..4294967295 (e.g. schema_version); a line\n"
    "                       without it or with another value is a bad line. Not\n"
    "                       with --schema-version\n"
    "  --partition P        append every event to partition P\n"
    "  --sync MODE          none (default): acknowledge when the stream's own sync\n"
    "                       policy makes an event durable; always: also sync\n"
    "                       to disk after each batch (siglog_sync)\n"
    "  --on-error MODE      stop (default): at the first bad line append nothing\n"
    "                       after it and exit 1; skip: report each bad line on\n"
    "                       stderr, leave it out and go on (exit 0)\n"
    "  --force-owner        write even though this user does not own the store:\n"
    "                       new files get the owner's uid and gid (needs root)\n"
    "  --skip-lines N       skip the first N lines, blank ones included: after a\n"
    "                       failure at line L, L-1 resumes with that line (once\n"
    "                       mended), L after it\n"
    "  --ack                print \"PARTITION OFFSET\" on stdout for each event, in\n"
    "                       input order, once it is durable under the stream's\n"
    "                       sync policy: always - on disk; interval - on disk\n"
    "                       after the next interval commit that covers it (no\n"
    "                       extra syncs); none - written to the segment file,\n"
    "                       i.e. handed to the OS: it survives the process being\n"
    "                       killed, not a power cut. What was printed stays\n"
    "                       stored whenever the process dies, kill -9 included.\n"
    "\n"
    "A bad line (not one JSON value, a named field missing or of the wrong type,\n"
    "larger than the stream's record limit) is reported with its line number.\n"
    "A summary goes to stderr: events, value bytes, offsets per partition, and\n"
    "the lines skipped (--skip-lines, blank, bad).\n"
    "\n"
    "SIGINT or SIGTERM stops reading: the lines read so far are appended and\n"
    "synced, their acknowledgements printed, and the command exits 130 or 143\n"
    "with one line on stderr naming the last input line consumed.\n",
};

enum {
    OPT_KEY_FIELD = 256,
    OPT_TIME_FIELD,
    OPT_TIME_UNIT,
    OPT_SCHEMA,
    OPT_PARTITION,
    OPT_SYNC,
    OPT_ON_ERROR,
    OPT_ACK,
    OPT_SKIP_LINES,
    OPT_FORCE_OWNER,
    OPT_TIME_FORMAT,
    OPT_TIME_ZONE,
    OPT_HEADER,
    OPT_TOMBSTONE_FIELD,
    OPT_SCHEMA_FIELD,
};

typedef struct append_opts {
    const char *store, *stream, *file; /* file NULL or "-": stdin */
    jsonpath key, time, tombstone, schema;
    int have_key, have_time, have_tombstone, have_schema_field, have_schema_version;
    jsonpath_time time_how;
    int have_zone;
    const char *zone_name; /* --time-zone was a zone name */
    uint32_t schema_version;
    uint32_t partition;
    int sync_always, ack, skip_bad, force_owner;
    uint64_t skip_lines; /* leading input lines to pass over */
    header_arg header_args[INGEST_HEADERS_MAX];
    jsonpath header_paths[INGEST_HEADERS_MAX]; /* of the @PATH ones */
    ingest_header headers[INGEST_HEADERS_MAX];
    size_t nheaders;
} append_opts;

/* One batch, built by the reading thread, then appended. Each line, its
 * key and its header values are copied into one growing arena and
 * addressed by offset until the batch is complete, since the arena may
 * move while it grows, and a line in the reader's buffer lasts only until
 * the reader refills it, which it may do while this batch is appended.
 * Event i's headers are hdr[i * nheaders ...], their values at
 * hdr_off[same]. */
typedef struct append_batch {
    siglog_event ev[APPEND_BATCH];
    size_t value_off[APPEND_BATCH], key_off[APPEND_BATCH];
    siglog_header *hdr;
    size_t *hdr_off;
    uint32_t parts[APPEND_BATCH];
    uint64_t offs[APPEND_BATCH];
    size_t n;
    char *arena;
    size_t arena_len, arena_cap;
} append_batch;

/* The reading thread owns the parse state and the input counters; the
 * appending thread (the pipe's consumer) the appended totals and the
 * acknowledgements, which the reading thread reads only once the pipe is
 * finished. */
typedef struct append_run {
    const append_opts *o;
    const char *source; /* input name for messages */
    siglog *s;
    siglog_stream *st;
    siglog_stream_config cfg;
    ingest_spec spec;
    append_batch batch[APPEND_SLOTS];
    batch_pipe *pipe;
    /* Totals for the summary. */
    uint64_t events, bytes, skipped, blank, skipped_head;
    uint64_t *first_off, *last_off; /* per partition; first > last: none */
    jsonfast *fast;      /* validates lines, takes out only the named fields */
    acks *acks;          /* --ack: the printer of durable acknowledgements */
    int interrupted;     /* the signal that ended the input, or 0 */
    uint64_t lines_read; /* input lines consumed when it did */
} append_run;

static int arena_add(append_batch *b, const char *p, size_t len, size_t *off)
{
    if (b->arena_cap - b->arena_len < len) {
        size_t cap = b->arena_cap ? b->arena_cap : 65536;
        while (cap - b->arena_len < len)
            cap *= 2;
        char *grown = realloc(b->arena, cap);
        if (!grown)
            return -1;
        b->arena = grown;
        b->arena_cap = cap;
    }
    if (len)
        memcpy(b->arena + b->arena_len, p, len);
    *off = b->arena_len;
    b->arena_len += len;
    return 0;
}

/* ingest_spec's fast path. Every line parse_line is given lies in the
 * line reader's buffer, followed by LINES_PAD initialised bytes (lines.h),
 * so simdjson parses it where it lies. */
_Static_assert(LINES_PAD >= JSONFAST_PADDING, "a line's padding is enough for the parser");
static int fast_line(void *ctx, const char *text, size_t len, const jsonpath *const *paths, size_t n, json_t **tree)
{
    return jsonfast_parse_padded(ctx, text, len, paths, n, tree);
}

/* Turn one line into the next event of batch b. On a bad line returns -1
 * with the reason in why. */
static int parse_line(append_run *a, append_batch *b, const char *line, size_t len, char *why, size_t why_cap)
{
    ingest_line l;
    if (ingest_parse(&a->spec, line, len, &l, why, why_cap) != 0)
        return -1;
    siglog_event *e = &b->ev[b->n];
    size_t nh = a->o->nheaders;
    *e = (siglog_event){ .value_len = len, .timestamp_us = l.timestamp_us,
                         .schema_version = a->spec.schema ? l.schema_version : a->o->schema_version,
                         .key_len = l.key_len,
                         .header_count = (uint32_t)nh, .flags = l.tombstone ? SIGLOG_EVENT_TOMBSTONE : 0 };
    /* The key and header values may live in the parsed line: copy them
     * before releasing that. */
    int rc = arena_add(b, line, len, &b->value_off[b->n]);
    b->key_off[b->n] = 0;
    if (rc == 0 && l.key_len)
        rc = arena_add(b, l.key, l.key_len, &b->key_off[b->n]);
    for (size_t i = 0; i < nh && rc == 0; i++) {
        size_t at = b->n * nh + i;
        b->hdr[at] = (siglog_header){ .key = a->o->headers[i].name, .key_len = (uint32_t)a->o->headers[i].name_len,
                                      .value_len = (uint32_t)l.header_values[i].len };
        rc = arena_add(b, l.header_values[i].p, l.header_values[i].len, &b->hdr_off[at]);
    }
    ingest_release(&l);
    if (rc != 0) {
        snprintf(why, why_cap, "out of memory for a batch of lines");
        return -1;
    }
    b->n++;
    return 0;
}

/* The acknowledgement printer stopped: say why, once. Whoever reads the
 * acknowledgements may be gone (out_finish reports that, or keeps quiet
 * for a closed pipe); either way appending stops. */
static int acks_failure(append_run *a)
{
    acks_finish(a->acks);
    int out = acks_output_failed(a->acks) ? out_finish(cmd.name) : CLI_OK;
    return out != CLI_OK ? out : cli_fail(cmd.name, "%s", acks_error(a->acks));
}

/* The pipe's consumer: append batch b, make it durable when asked,
 * queue its acknowledgements (printed once durable), empty it. */
static int append_batch_out(void *ctx, void *batch)
{
    append_run *a = ctx;
    append_batch *b = batch;
    if (b->n == 0)
        return CLI_OK;
    size_t nh = a->o->nheaders;
    for (size_t i = 0; i < b->n; i++) {
        b->ev[i].value = b->arena + b->value_off[i];
        b->ev[i].key = b->ev[i].key_len ? b->arena + b->key_off[i] : NULL;
        b->ev[i].headers = nh ? &b->hdr[i * nh] : NULL;
        for (size_t h = i * nh; h < (i + 1) * nh; h++)
            b->hdr[h].value = b->arena + b->hdr_off[h];
    }
    int rc = siglog_append(a->st, a->o->partition, b->ev, b->n, b->parts, b->offs);
    if (rc != 0)
        return cli_fail_lib(cmd.name, rc, "appending lines %s to stream %s", a->source, a->o->stream);
    if (a->o->sync_always && (rc = siglog_sync(a->s)) != 0)
        return cli_fail_lib(cmd.name, rc, "syncing store %s", a->o->store);
    for (size_t i = 0; i < b->n; i++) {
        uint32_t p = b->parts[i];
        if (a->first_off[p] > a->last_off[p])
            a->first_off[p] = b->offs[i];
        a->last_off[p] = b->offs[i];
        a->bytes += b->ev[i].value_len;
    }
    a->events += b->n;
    if (a->acks && acks_push(a->acks, b->parts, b->offs, b->n) != 0)
        return acks_failure(a);
    b->n = 0;
    b->arena_len = 0;
    return CLI_OK;
}

static void print_summary(const append_run *a)
{
    fprintf(stderr, "siglog append: %" PRIu64 " events, %" PRIu64 " bytes appended to stream %s\n", a->events,
            a->bytes, a->o->stream);
    for (uint32_t p = 0; p < a->cfg.partitions; p++)
        if (a->first_off[p] <= a->last_off[p])
            fprintf(stderr, "  partition %" PRIu32 ": offsets %" PRIu64 "..%" PRIu64 "\n", p, a->first_off[p],
                    a->last_off[p]);
    if (a->skipped_head)
        fprintf(stderr, "  %" PRIu64 " leading lines skipped (--skip-lines)\n", a->skipped_head);
    if (a->blank)
        fprintf(stderr, "  %" PRIu64 " blank lines skipped\n", a->blank);
    if (a->skipped)
        fprintf(stderr, "  %" PRIu64 " bad lines skipped\n", a->skipped);
}

/* However the input ended (its end, a signal, a bad line, a failure):
 * make everything appended durable and print the acknowledgements still
 * queued, which need it. Returns the status, reporting only the first
 * failure. */
static int finish_run(append_run *a, int status)
{
    int rc = siglog_sync(a->s);
    if (rc != 0 && status == CLI_OK)
        status = cli_fail_lib(cmd.name, rc, "syncing store %s", a->o->store);
    if (a->acks && acks_finish(a->acks) != 0 && status == CLI_OK)
        status = acks_failure(a);
    if (status == CLI_OK && a->o->ack)
        status = out_finish(cmd.name);
    if (status == CLI_OK && a->interrupted) {
        cli_fail(cmd.name, "stopped by %s after input line %" PRIu64 ": %" PRIu64 " events appended and synced%s; "
                           "--skip-lines %" PRIu64 " resumes after it",
                 a->interrupted == SIGINT ? "SIGINT" : "SIGTERM", a->lines_read, a->events,
                 a->acks ? ", every one acknowledged" : "", a->lines_read);
        status = 128 + a->interrupted;
    }
    return status;
}

static int read_error(append_run *a, const lines *r, int rc)
{
    if (rc == LINES_ERR_LONG)
        return cli_fail(cmd.name, "%s line %" PRIu64 ": longer than %u bytes", a->source, r->lineno + 1,
                        APPEND_LINE_MAX);
    if (rc == LINES_ERR_NOMEM)
        return cli_fail(cmd.name, "reading %s: out of memory", a->source);
    return cli_fail(cmd.name, "reading %s: %s", a->source, strerror(errno));
}

/* The read-parse loop: full batches go to the pipe. Ends at the input's
 * end, a signal, a bad line (what came before it is appended, nothing
 * after), a read error or a failed append; the summary follows once the
 * pipe has appended every batch handed to it. */
static int append_all(append_run *a, int fd)
{
    lines r;
    if (lines_init(&r, fd, APPEND_LINE_MAX) != 0)
        return cli_fail(cmd.name, "out of memory");
    struct stat sb;
    progress bar;
    progress_start(&bar, "append", fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0);

    char why[256];
    uint64_t bad = 0; /* the bad line that stopped the input */
    int read_rc = 0;  /* the read error that did */
    append_batch *b;
    while ((b = batch_pipe_next(a->pipe)) != NULL) {
        /* Block for the first line of a batch only; then take what is
         * already buffered. */
        const char *line;
        size_t len;
        int rc = lines_next(&r, b->n == 0 ? LINES_MAY_BLOCK : 0, &line, &len);
        /* After a signal the input reads as ended: that end, or a line read
         * since, is not the input's. */
        if ((a->interrupted = interrupt_caught()) != 0) {
            a->lines_read = rc == LINES_LINE ? r.lineno - 1 : r.lineno;
            break;
        }
        if (rc == LINES_LINE && r.lineno <= a->o->skip_lines) {
            a->skipped_head++;
            continue;
        }
        if (rc == LINES_LINE && !ingest_content(&line, &len, r.lineno == 1)) {
            a->blank++;
            continue;
        }
        if (rc == LINES_LINE) {
            if (parse_line(a, b, line, len, why, sizeof why) == 0) {
                if (b->n < APPEND_BATCH && b->arena_len < APPEND_BATCH_BYTES)
                    continue;
            } else if (a->o->skip_bad) {
                cli_warn(cmd.name, "%s line %" PRIu64 ": %s; skipped", a->source, r.lineno, why);
                a->skipped++;
                continue;
            } else {
                bad = r.lineno;
                break;
            }
        }
        if (rc < 0) {
            read_rc = rc;
            break;
        }
        /* A full batch, nothing more buffered, or the end. */
        batch_pipe_submit(a->pipe);
        progress_update(&bar, r.bytes_consumed);
        if (rc == LINES_EOF) {
            b = NULL;
            break;
        }
    }
    /* Stopped with a batch being filled: what it holds goes too. */
    if (b)
        batch_pipe_submit(a->pipe);
    int status = batch_pipe_finish(a->pipe);
    a->pipe = NULL;
    progress_end(&bar);
    if (!a->interrupted)
        print_summary(a);
    if (status == CLI_OK && bad)
        status = cli_fail(cmd.name, "%s line %" PRIu64 ": %s (stopped there: nothing after it was appended)",
                          a->source, bad, why);
    if (status == CLI_OK && read_rc)
        status = read_error(a, &r, read_rc);
    lines_free(&r);
    return status;
}

/* --time-format and --time-zone only mean something together with a time
 * field, and a pattern without a zone needs one: guessing the machine's
 * local zone would silently shift every event. */
static int check_time_options(append_opts *o)
{
    int has_zone = 0;
    if (o->time_how.pattern && timeparse_pattern_check(o->time_how.pattern, &has_zone) != 0)
        return args_usage(&cmd, "--time-format '%s' is not a pattern of %%Y %%m|%%b %%d [%%H %%M %%S %%f %%z %%F %%T %%%%] "
                                "naming year, month and day once each", o->time_how.pattern);
    if ((o->time_how.pattern || o->have_zone) && !o->have_time)
        return args_usage(&cmd, "--time-format and --time-zone need --time-field");
    if (o->have_zone && !o->time_how.pattern)
        return args_usage(&cmd, "--time-zone applies to --time-format patterns (RFC 3339 times carry their zone)");
    o->time_how.pattern_has_zone = has_zone;
    if (o->time_how.pattern && !has_zone && !o->have_zone)
        return args_usage(&cmd, "--time-format '%s' has no %%z: say which zone its times are in with --time-zone",
                          o->time_how.pattern);
    return CLI_OK;
}

/* Where the field-path option ch goes. */
static void field_option(append_opts *o, int ch, jsonpath **p, int **have)
{
    switch (ch) {
    case OPT_KEY_FIELD:
        *p = &o->key;
        *have = &o->have_key;
        break;
    case OPT_TIME_FIELD:
        *p = &o->time;
        *have = &o->have_time;
        break;
    case OPT_TOMBSTONE_FIELD:
        *p = &o->tombstone;
        *have = &o->have_tombstone;
        break;
    default:
        *p = &o->schema;
        *have = &o->have_schema_field;
        break;
    }
}

/* One --header: a constant, or a field path compiled once. */
static int add_header(append_opts *o, const char *arg)
{
    if (o->nheaders == INGEST_HEADERS_MAX)
        return args_usage(&cmd, "at most %d --header options", INGEST_HEADERS_MAX);
    header_arg *h = &o->header_args[o->nheaders];
    if (header_arg_parse(arg, 1, h) != 0)
        return args_usage(&cmd, "--header wants NAME=VALUE or NAME=@PATH with a NAME, not '%s'", arg);
    jsonpath *path = &o->header_paths[o->nheaders];
    if (h->is_field && jsonpath_compile(path, h->value) != 0)
        return args_usage(&cmd, "'%s' is not a field path (names separated by '.', at most %d)", h->value,
                          JSONPATH_DEPTH_MAX);
    o->headers[o->nheaders++] = (ingest_header){ .name = h->name, .name_len = h->name_len,
                                                 .field = h->is_field ? path : NULL, .value = h->value };
    return CLI_OK;
}

static int parse_options(int argc, char **argv, append_opts *o)
{
    static const struct option opts[] = {
        { "key-field", required_argument, NULL, OPT_KEY_FIELD },
        { "time-field", required_argument, NULL, OPT_TIME_FIELD },
        { "time-unit", required_argument, NULL, OPT_TIME_UNIT },
        { "schema-version", required_argument, NULL, OPT_SCHEMA },
        { "partition", required_argument, NULL, OPT_PARTITION },
        { "sync", required_argument, NULL, OPT_SYNC },
        { "on-error", required_argument, NULL, OPT_ON_ERROR },
        { "ack", no_argument, NULL, OPT_ACK },
        { "skip-lines", required_argument, NULL, OPT_SKIP_LINES },
        { "force-owner", no_argument, NULL, OPT_FORCE_OWNER },
        { "time-format", required_argument, NULL, OPT_TIME_FORMAT },
        { "time-zone", required_argument, NULL, OPT_TIME_ZONE },
        { "header", required_argument, NULL, OPT_HEADER },
        { "tombstone-field", required_argument, NULL, OPT_TOMBSTONE_FIELD },
        { "schema-field", required_argument, NULL, OPT_SCHEMA_FIELD },
        { NULL, 0, NULL, 0 },
    };
    static const char *const syncs[] = { "none", "always", NULL };
    static const char *const on_error[] = { "stop", "skip", NULL };
    int choice;

    args_begin();
    for (int ch; (ch = args_next(&cmd, argc, argv, opts)) != -1;) {
        switch (ch) {
        case OPT_KEY_FIELD:
        case OPT_TIME_FIELD:
        case OPT_TOMBSTONE_FIELD:
        case OPT_SCHEMA_FIELD: {
            jsonpath *p;
            int *have;
            field_option(o, ch, &p, &have);
            if (*have)
                jsonpath_free(p);
            if (jsonpath_compile(p, optarg) != 0)
                return args_usage(&cmd, "'%s' is not a field path (names separated by '.', at most %d)", optarg,
                                  JSONPATH_DEPTH_MAX);
            *have = 1;
            break;
        }
        case OPT_TIME_UNIT:
            if (args_time_unit(&cmd, optarg, &o->time_how.unit_us))
                return CLI_USAGE;
            break;
        case OPT_SCHEMA:
            if (args_u32(&cmd, "--schema-version", optarg, 0, UINT32_MAX, &o->schema_version))
                return CLI_USAGE;
            o->have_schema_version = 1;
            break;
        case OPT_PARTITION:
            if (args_u32(&cmd, "--partition", optarg, 0, SIGLOG_PARTITIONS_MAX - 1, &o->partition))
                return CLI_USAGE;
            break;
        case OPT_SYNC:
            if (args_choice(&cmd, "--sync", optarg, syncs, &choice))
                return CLI_USAGE;
            o->sync_always = choice == 1;
            break;
        case OPT_ON_ERROR:
            if (args_choice(&cmd, "--on-error", optarg, on_error, &choice))
                return CLI_USAGE;
            o->skip_bad = choice == 1;
            break;
        case OPT_ACK:
            o->ack = 1;
            break;
        case OPT_FORCE_OWNER:
            o->force_owner = 1;
            break;
        case OPT_TIME_FORMAT:
            o->time_how.pattern = optarg;
            break;
        case OPT_TIME_ZONE:
            o->time_how.local_to_utc = NULL;
            o->zone_name = NULL;
            if (timeparse_zone(optarg, &o->time_how.zone_s) != 0) {
                if (zonename_select(optarg) != 0)
                    return args_usage(&cmd,
                                      "--time-zone wants UTC, an offset like +02:00 or a zone like Europe/Berlin, "
                                      "not '%s'",
                                      optarg);
                o->time_how.local_to_utc = zonename_to_utc;
                o->zone_name = optarg;
            }
            o->have_zone = 1;
            break;
        case OPT_HEADER:
            if (add_header(o, optarg) != CLI_OK)
                return CLI_USAGE;
            break;
        case OPT_SKIP_LINES:
            if (args_u64(&cmd, "--skip-lines", optarg, 0, UINT64_MAX, &o->skip_lines))
                return CLI_USAGE;
            break;
        case ARGS_HELP:
            return ARGS_HELP;
        default:
            return CLI_USAGE;
        }
    }
    if (check_time_options(o) != CLI_OK)
        return CLI_USAGE;
    if (o->have_schema_field && o->have_schema_version)
        return args_usage(&cmd, "--schema-version and --schema-field exclude each other");
    int i = args_operand_index();
    if (argc - i < 2)
        return args_usage(&cmd, "missing STORE or STREAM");
    if (argc - i > 3)
        return args_usage(&cmd, "too many operands");
    o->store = argv[i];
    o->stream = argv[i + 1];
    o->file = argc - i == 3 ? argv[i + 2] : NULL;
    return CLI_OK;
}

int cmd_append(int argc, char **argv)
{
    append_opts o = { .time_how = { .unit_us = 1000 }, .partition = SIGLOG_PARTITION_BY_KEY };
    append_run a = { .o = &o };
    int fd = -1;
    int status = parse_options(argc, argv, &o);
    if (status != CLI_OK) {
        status = status == ARGS_HELP ? CLI_OK : status;
        goto out;
    }

    int from_stdin = !o.file || strcmp(o.file, "-") == 0;
    a.source = from_stdin ? "stdin" : o.file;
    fd = from_stdin ? STDIN_FILENO : open(o.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        status = cli_fail(cmd.name, "cannot open %s: %s", o.file, strerror(errno));
        goto out;
    }
    /* Held until the store's and the printer's threads exist: they inherit
     * the mask, so the signals reach this, the reading thread. */
    if (interrupt_install(fd) != 0) {
        status = cli_fail(cmd.name, "cannot handle SIGINT/SIGTERM: %s", strerror(errno));
        goto out;
    }
    if ((status = cli_open(cmd.name, o.store, o.force_owner ? CLI_OPEN_FORCE_OWNER : 0, o.stream, &a.s, &a.st)) != CLI_OK)
        goto out;
    if (o.ack && acks_start(&a.acks, a.st) != 0) {
        status = cli_fail(cmd.name, "cannot start acknowledging: %s", strerror(errno));
        goto out;
    }
    siglog_stream_config_get(a.st, &a.cfg);
    a.spec = (ingest_spec){ .key = o.have_key ? &o.key : NULL, .time = o.have_time ? &o.time : NULL,
                            .tombstone = o.have_tombstone ? &o.tombstone : NULL,
                            .schema = o.have_schema_field ? &o.schema : NULL,
                            .time_how = o.time_how, .zone_name = o.zone_name, .record_bytes_max = a.cfg.record_bytes_max,
                            .headers = o.headers, .header_count = o.nheaders, .fast = fast_line,
                            .fast_ctx = a.fast = jsonfast_new() };
    if (o.partition != SIGLOG_PARTITION_BY_KEY && o.partition >= a.cfg.partitions) {
        status = cli_fail(cmd.name, "stream %s has %u partitions: no partition %u", o.stream, a.cfg.partitions,
                          o.partition);
        goto out;
    }
    a.first_off = malloc(a.cfg.partitions * sizeof *a.first_off);
    a.last_off = calloc(a.cfg.partitions, sizeof *a.last_off);
    int have_memory = a.first_off && a.last_off && a.fast;
    void *slots[APPEND_SLOTS];
    for (size_t i = 0; i < APPEND_SLOTS; i++) {
        slots[i] = &a.batch[i];
        a.batch[i].hdr = calloc(APPEND_BATCH * o.nheaders + 1, sizeof *a.batch[i].hdr);
        a.batch[i].hdr_off = calloc(APPEND_BATCH * o.nheaders + 1, sizeof *a.batch[i].hdr_off);
        have_memory = have_memory && a.batch[i].hdr && a.batch[i].hdr_off;
    }
    if (!have_memory) {
        status = cli_fail(cmd.name, "out of memory");
        goto out;
    }
    memset(a.first_off, 0xff, a.cfg.partitions * sizeof *a.first_off);
    /* Started, like the printer, with the signals held. */
    struct stat sb;
    int from_file = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (batch_pipe_start(&a.pipe, slots, APPEND_SLOTS, append_batch_out, &a, from_file) != 0) {
        status = cli_fail(cmd.name, "cannot start appending: %s", strerror(errno));
        goto out;
    }
    interrupt_release();

    status = append_all(&a, fd);
out:
    if (a.s)
        status = finish_run(&a, status);
    acks_free(a.acks); /* before the close: the printer uses the stream */
    if (a.s) {
        /* Closing syncs whatever the stream's policy left pending. */
        int rc = siglog_close(a.s);
        if (rc != 0 && status == CLI_OK)
            status = cli_fail_lib(cmd.name, rc, "closing store %s", o.store);
    }
    if (fd > STDIN_FILENO)
        close(fd);
    free(a.first_off);
    free(a.last_off);
    for (size_t i = 0; i < APPEND_SLOTS; i++) {
        free(a.batch[i].arena);
        free(a.batch[i].hdr);
        free(a.batch[i].hdr_off);
    }
    jsonfast_free(a.fast);
    for (size_t i = 0; i < o.nheaders; i++)
        if (o.headers[i].field)
            jsonpath_free(&o.header_paths[i]);
    if (o.have_key)
        jsonpath_free(&o.key);
    if (o.have_time)
        jsonpath_free(&o.time);
    if (o.have_tombstone)
        jsonpath_free(&o.tombstone);
    if (o.have_schema_field)
        jsonpath_free(&o.schema);
    return status;
}
