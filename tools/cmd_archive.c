/*
 * cmd_archive — `siglog archive STORE --to DIR`: copy (or with --move,
 * move) the oldest sealed segments of every partition (or one stream's)
 * out of the store as self-describing archive files
 * (siglog_archive_export, in the maintenance role: a writer may run),
 * and the description of one archive that `siglog verify ARCHIVE` prints.
 */
#include "archive_file.h"
#include "args.h"
#include "cli.h"
#include "maint_args.h"
#include "output.h"
#include "progress.h"
#include "streaminfo.h"
#include "timeparse.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const args_cmd cmd = {
    "archive",
    "siglog archive STORE --to DIR [--stream S] [--before T [--time-unit s|ms|us]] [--move] [--json]",
    "Copy, per partition, the oldest sealed segments whose newest event is\n"
    "older than T (default: every sealed segment) into one archive file in\n"
    "DIR, named STREAM.PPPPP.FIRST-NEXT.sgar (offsets in 20 digits). An\n"
    "archive holds the batches re-encoded with LZ4HC at the stream's\n"
    "warm_level (the same records, offsets and batch ranges) with its offset\n"
    "and time index, schema-version summary, store id, stream, partition,\n"
    "offset and time range, counts and a whole-file checksum (written as a\n"
    "stream: memory does not grow with the segments): siglog replay ARCHIVE and\n"
    "siglog verify ARCHIVE read it without the store (FORMAT.md, \"Archive\n"
    "files\"). Every tier is exported: cold segments are read from their\n"
    "archives in the stream's cold_dir, so an archive starts at the log start.\n"
    "The segments stay in the store unless --move is given.\n"
    "\n"
    "  --to DIR       the directory the archives go to (it must exist; nothing\n"
    "                 is written outside it and no symlink in it is followed)\n"
    "  --stream S     only stream S (default: every stream)\n"
    "  --before T     only segments whose newest event is before T (RFC 3339,\n"
    "                 or an integer in --time-unit units)\n"
    "  --time-unit U  s, ms or us: the unit of an integer T\n"
    "  --move         once an archive is written, synced and read back whole,\n"
    "                 remove its segments from the store (the log then starts\n"
    "                 after them, cold ones' archives leave cold_dir too;\n"
    "                 siglog restore brings them back)\n"
    "  --json         print {\"archives\": [{path, stream, partition, first_offset,\n"
    "                 next_offset, records, bytes}]} instead of a line each\n"
    "\n"
    "Every batch and record is checked first: damage is refused naming the\n"
    "segment file and byte and nothing is written for that partition. Each export is\n"
    "recorded in the audit trail (action archive) before its file is written\n"
    "by atomic replace, and with --move so is the removal, before it is done.\n"
    "Runs in the maintenance role, beside a running writer and readers (only\n"
    "sealed segments are archived); a second maintenance process makes it fail.\n"
    "On a terminal, a progress bar on stderr shows how far each partition's\n"
    "export is (its segments' bytes, read once to check and once to write).\n",
};

enum { OPT_TO = MAINT_OPT_END, OPT_BEFORE, OPT_MOVE };

typedef struct archive_run {
    const char *dir;
    int64_t before_us;
    unsigned flags;
    json_t *list; /* with --json */
    siglog *s;    /* read-only: which streams and partitions there are */
    siglog_maintenance *m;
    progress bar; /* drawn on a terminal only */
    int status;
} archive_run;

/* siglog_archive_export_with's progress: the bytes of one partition's
 * export, the bar starting again for each. */
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress *bar = ctx;
    bar->total = total;
    progress_update(bar, done);
}

/* One written archive, as a line or a JSON object. */
static int report(archive_run *ar, const char *path)
{
    siglog_archive *a;
    int rc = siglog_archive_open(&a, path);
    if (rc)
        return cli_fail_lib(cmd.name, rc, "reading back archive %s", path);
    const siglog_archive_info *in = siglog_archive_info_get(a);
    int bad = 0;
    if (ar->list) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b}", "path", path, "stream", in->stream,
                              "partition", (json_int_t)in->partition, "first_offset", (json_int_t)in->first_offset,
                              "next_offset", (json_int_t)in->next_offset, "records", (json_int_t)in->record_count,
                              "bytes", (json_int_t)in->bytes, "moved", (ar->flags & SIGLOG_ARCHIVE_MOVE) != 0);
        bad = !o || json_array_append_new(ar->list, o) != 0;
    } else {
        char line[SIGLOG_NAME_MAX + 160];
        snprintf(line, sizeof line, "\tstream=%s partition=%u offsets=[%" PRIu64 ",%" PRIu64 ") records=%" PRIu64
                 " bytes=%" PRIu64 "%s\n", in->stream, in->partition, in->first_offset, in->next_offset,
                 in->record_count, in->bytes, ar->flags & SIGLOG_ARCHIVE_MOVE ? " moved" : "");
        out_puts(path);
        out_puts(line);
    }
    siglog_archive_close(a);
    return bad ? cli_fail(cmd.name, "out of memory") : CLI_OK;
}

static int archive_stream(void *ctx, siglog_stream *st)
{
    archive_run *ar = ctx;
    siglog_stream_config c;
    siglog_stream_config_get(st, &c);
    for (uint32_t p = 0; p < c.partitions && ar->status == CLI_OK && !out_failed(); p++) {
        char path[4200];
        siglog_archive_export_options o = { .flags = ar->flags, .progress = on_progress, .progress_ctx = &ar->bar };
        int rc = siglog_archive_export_with(ar->m, siglog_stream_name(st), p, ar->before_us, ar->dir, &o, path,
                                            sizeof path);
        progress_end(&ar->bar);
        if (rc < 0)
            ar->status = cli_fail_lib(cmd.name, rc, "archiving stream %s partition %u", siglog_stream_name(st), p);
        else if (rc == 1)
            ar->status = report(ar, path);
    }
    return ar->status != CLI_OK || out_failed();
}

int cmd_archive(int argc, char **argv)
{
    static const struct option opts[] = {
        { "to", required_argument, NULL, OPT_TO },
        MAINT_OPTION_STREAM,
        { "before", required_argument, NULL, OPT_BEFORE },
        MAINT_OPTION_TIME_UNIT,
        { "move", no_argument, NULL, OPT_MOVE },
        MAINT_OPTION_JSON,
        { NULL, 0, NULL, 0 },
    };
    archive_run ar = { .before_us = INT64_MAX, .status = CLI_OK };
    maint_args ma = { 0 };
    const char *before = NULL;
    args_begin();
    for (int ch; (ch = maint_args_next(&cmd, argc, argv, opts, &ma)) != -1;) {
        if (ch == OPT_TO)
            ar.dir = optarg;
        else if (ch == OPT_BEFORE)
            before = optarg;
        else if (ch == OPT_MOVE)
            ar.flags |= SIGLOG_ARCHIVE_MOVE;
        else
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    if (!ar.dir)
        return args_usage(&cmd, "--to DIR is required");
    if (before && maint_args_time(&cmd, &ma, "--before", before, &ar.before_us))
        return CLI_USAGE;
    siglog_stream *st = NULL;
    if (cli_open(cmd.name, ops[0], CLI_OPEN_READ_ONLY, ma.stream, &ar.s, ma.stream ? &st : NULL) != CLI_OK)
        return CLI_FAILURE;
    if (maint_args_open(&cmd, &ma, ops[0], &ar.m)) {
        siglog_close(ar.s);
        return CLI_FAILURE;
    }
    progress_start(&ar.bar, "archive", 0);
    if (ma.json && !(ar.list = json_array()))
        ar.status = cli_fail(cmd.name, "out of memory");
    else if (st)
        archive_stream(&ar, st);
    else
        siglog_stream_foreach(ar.s, archive_stream, &ar);
    if (ar.status == CLI_OK && ma.json) {
        json_t *doc = json_pack("{s:O}", "archives", ar.list);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            ar.status = cli_fail(cmd.name, "out of memory");
    }
    if (ar.status == CLI_OK)
        ar.status = out_finish(cmd.name);
    json_decref(ar.list);
    siglog_maintenance_close(ar.m);
    int rc = siglog_close(ar.s);
    if (rc && ar.status == CLI_OK)
        ar.status = cli_fail_lib(cmd.name, rc, "closing store %s", ops[0]);
    return ar.status;
}

int archive_file_is(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char magic[4] = { 0 };
    int is = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "SGAV", 4) == 0;
    if (f)
        fclose(f);
    return is;
}

int archive_file_verify(const char *cmd_name, const char *path, int json)
{
    siglog_archive *a;
    int rc = siglog_archive_open(&a, path);
    /* Its key filters too: a reader passes over segments by them. */
    if (!rc && (rc = siglog_archive_check_filters(a)) != 0)
        siglog_archive_close(a);
    if (rc) {
        if (json) {
            json_t *doc = json_pack("{s:s, s:b, s:o}", "archive", path, "ok", 0, "problem",
                                    streaminfo_text_json(siglog_errdetail()));
            if (doc)
                out_json_doc(doc);
            out_finish(cmd_name);
        }
        return cli_fail_lib(cmd_name, rc, "archive %s", path);
    }
    const siglog_archive_info *in = siglog_archive_info_get(a);
    char first[TIMEPARSE_RFC3339_MAX], last[TIMEPARSE_RFC3339_MAX];
    timeparse_format(in->min_timestamp_us, first);
    timeparse_format(in->max_timestamp_us, last);
    int status = CLI_OK;
    if (json) {
        json_t *schemas = json_array();
        for (uint32_t i = 0; schemas && i < in->schema_count; i++) {
            uint32_t v;
            uint64_t n;
            siglog_archive_schema(a, i, &v, &n);
            json_array_append_new(schemas, json_pack("{s:I, s:I}", "version", (json_int_t)v, "records",
                                                     (json_int_t)n));
        }
        char store_id[24];
        snprintf(store_id, sizeof store_id, "%016" PRIx64, in->store_id);
        json_t *doc = json_pack("{s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
                                "archive", path, "ok", 1, "store_id", store_id, "stream", in->stream, "partition",
                                (json_int_t)in->partition, "segments", (json_int_t)in->segment_count,
                                "first_offset", (json_int_t)in->first_offset, "next_offset",
                                (json_int_t)in->next_offset, "records", (json_int_t)in->record_count, "batches",
                                (json_int_t)in->batch_count, "min_timestamp_us", (json_int_t)in->min_timestamp_us,
                                "max_timestamp_us", (json_int_t)in->max_timestamp_us, "bytes",
                                (json_int_t)in->bytes, "schemas", schemas);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            status = cli_fail(cmd_name, "out of memory");
    } else {
        char line[SIGLOG_NAME_MAX + 2 * TIMEPARSE_RFC3339_MAX + 256];
        snprintf(line, sizeof line,
                 ": store %016" PRIx64 " stream %s partition %u, offsets [%" PRIu64 ", %" PRIu64 "), %" PRIu64
                 " records in %" PRIu64 " batches of %u segment(s), %s .. %s, %" PRIu64 " bytes: ok\n",
                 in->store_id, in->stream, in->partition, in->first_offset, in->next_offset, in->record_count,
                 in->batch_count, in->segment_count, first, last, in->bytes);
        out_puts("archive ");
        out_puts(path);
        out_puts(line);
    }
    siglog_archive_close(a);
    return status == CLI_OK ? out_finish(cmd_name) : status;
}
