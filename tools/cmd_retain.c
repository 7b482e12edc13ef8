/*
 * cmd_retain — `siglog retain STORE`: apply the streams' retention policy
 * in the maintenance role (siglog_retain), or with --dry-run print what
 * it would do; one line (or JSON object) per partition.
 */
#include "args.h"
#include "cli.h"
#include "maint_args.h"
#include "output.h"
#include "progress.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <time.h>

static const args_cmd cmd = {
    "retain",
    "siglog retain STORE [--stream S] [--dry-run] [--now T [--time-unit s|ms|us]] [--json]",
    "Apply each stream's retention policy (stream config: delete_after,\n"
    "max_bytes, cold_max_bytes, max_hold, cold_after, cold_dir, warm_after,\n"
    "warm_level) to its sealed segments, beside a running writer and\n"
    "readers: the oldest whole segments whose newest event is older than\n"
    "delete_after, the oldest hot and warm ones while a partition holds more\n"
    "than max_bytes and the oldest cold ones while its cold archives hold\n"
    "more than cold_max_bytes are purged and the log start moves past them.\n"
    "A consumer with a hold keeps every segment holding an event it has not\n"
    "committed past, unless that segment's newest event is older than\n"
    "max_hold; a kept segment keeps every newer one too. Then the oldest\n"
    "sealed segments whose newest event is older than cold_after move to the\n"
    "cold tier: each is copied into cold_dir as an archive file (synced,\n"
    "read back and checked), the catalog names it, and only then is the\n"
    "store's file removed (cold tier: read as before, from cold_dir). Then\n"
    "each sealed hot segment whose newest event is older than warm_after is\n"
    "rewritten with LZ4HC at warm_level (warm tier: same offsets and events,\n"
    "smaller; read as before). Each purge and move is recorded in the audit\n"
    "trail (actions purge, cold, warm) before it is done. Prints per\n"
    "partition what was purged, what a hold kept and what went cold and\n"
    "warm. A cold_dir missing, read-only or full fails the run naming it;\n"
    "the segment stays in the store. Last, orphan archives are removed:\n"
    "files of this store's partitions in cold_dir (its store id in the\n"
    "name) that no catalog entry names, left by a move or purge cut short.\n"
    "\n"
    "  --stream S     only stream S (default: every stream)\n"
    "  --dry-run      print the plan; change and record nothing\n"
    "  --now T        measure ages against T instead of the clock (RFC 3339,\n"
    "                 or an integer in --time-unit units)\n"
    "  --time-unit U  s, ms or us: the unit of an integer T\n"
    "  --json         print {\"dry_run\", \"now_us\", \"partitions\": [{stream,\n"
    "                 partition, purged_segments, purged_bytes, purged_events,\n"
    "                 purged_from, purged_to, held_segments, held_by,\n"
    "                 cold_segments, cold_bytes, cold_bytes_after,\n"
    "                 warm_segments, warm_bytes, warm_bytes_after, cold_orphans}]}\n"
    "\n"
    "Takes the maintenance role (another siglog retain running makes it\n"
    "fail); a progress bar is drawn on a terminal.\n",
};

enum { OPT_NOW = MAINT_OPT_END };

typedef struct retain_run {
    int dry_run;
    json_t *list; /* with --json */
    progress bar;
    int failed;   /* out of memory building the JSON */
} retain_run;

static void line_of(const retain_run *rr, const siglog_retain_partition *p)
{
    char line[SIGLOG_NAME_MAX * 2 + 512];
    int n = snprintf(line, sizeof line, "%s/%u: ", p->stream, p->partition);
    if (p->purged_segments)
        n += snprintf(line + n, sizeof line - (size_t)n,
                      "%s %" PRIu64 " segment(s), %" PRIu64 " bytes, %" PRIu64 " events, offsets [%" PRIu64
                      ", %" PRIu64 ")",
                      rr->dry_run ? "would purge" : "purged", p->purged_segments, p->purged_bytes,
                      p->purged_events, p->purged_from, p->purged_to);
    else
        n += snprintf(line + n, sizeof line - (size_t)n, "nothing to purge");
    if (p->held_segments)
        n += snprintf(line + n, sizeof line - (size_t)n, "; %" PRIu64 " segment(s) kept by the hold of consumer %s",
                      p->held_segments, p->held_by);
    if (p->cold_segments && rr->dry_run)
        n += snprintf(line + n, sizeof line - (size_t)n,
                      "; would move %" PRIu64 " segment(s), %" PRIu64 " bytes, to cold", p->cold_segments,
                      p->cold_bytes);
    else if (p->cold_segments)
        n += snprintf(line + n, sizeof line - (size_t)n,
                      "; moved %" PRIu64 " segment(s) to cold, %" PRIu64 " bytes -> %" PRIu64, p->cold_segments,
                      p->cold_bytes, p->cold_bytes_after);
    if (p->warm_segments && rr->dry_run)
        n += snprintf(line + n, sizeof line - (size_t)n, "; would move %" PRIu64 " segment(s), %" PRIu64 " bytes, to warm",
                 p->warm_segments, p->warm_bytes);
    else if (p->warm_segments)
        n += snprintf(line + n, sizeof line - (size_t)n,
                      "; moved %" PRIu64 " segment(s) to warm, %" PRIu64 " bytes -> %" PRIu64, p->warm_segments,
                      p->warm_bytes, p->warm_bytes_after);
    if (p->cold_orphans)
        snprintf(line + n, sizeof line - (size_t)n, "; %s %" PRIu64 " orphan archive(s) from cold_dir",
                 rr->dry_run ? "would remove" : "removed", p->cold_orphans);
    out_puts(line);
    out_puts("\n");
}

static void on_partition(void *ctx, const siglog_retain_partition *p)
{
    retain_run *rr = ctx;
    if (!rr->list) {
        line_of(rr, p);
        return;
    }
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                          "stream", p->stream,
                          "partition", (json_int_t)p->partition, "purged_segments", (json_int_t)p->purged_segments,
                          "purged_bytes", (json_int_t)p->purged_bytes, "purged_events",
                          (json_int_t)p->purged_events, "purged_from", (json_int_t)p->purged_from, "purged_to",
                          (json_int_t)p->purged_to, "held_segments", (json_int_t)p->held_segments, "held_by",
                          p->held_by, "cold_segments", (json_int_t)p->cold_segments, "cold_bytes",
                          (json_int_t)p->cold_bytes, "cold_bytes_after", (json_int_t)p->cold_bytes_after,
                          "warm_segments", (json_int_t)p->warm_segments, "warm_bytes",
                          (json_int_t)p->warm_bytes, "warm_bytes_after", (json_int_t)p->warm_bytes_after,
                          "cold_orphans", (json_int_t)p->cold_orphans);
    if (!o || json_array_append_new(rr->list, o) != 0)
        rr->failed = 1;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    retain_run *rr = ctx;
    rr->bar.total = total;
    progress_update(&rr->bar, done);
}

int cmd_retain(int argc, char **argv)
{
    static const struct option opts[] = {
        MAINT_OPTION_STREAM,
        MAINT_OPTION_DRY_RUN,
        { "now", required_argument, NULL, OPT_NOW },
        MAINT_OPTION_TIME_UNIT,
        MAINT_OPTION_JSON,
        { NULL, 0, NULL, 0 },
    };
    retain_run rr = { 0 };
    maint_args ma = { 0 };
    const char *now_arg = NULL;
    args_begin();
    for (int ch; (ch = maint_args_next(&cmd, argc, argv, opts, &ma)) != -1;) {
        if (ch == OPT_NOW)
            now_arg = optarg;
        else
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }
    char **ops;
    if (args_operands(&cmd, argc, argv, 1, "STORE", &ops))
        return CLI_USAGE;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (now_arg && maint_args_time(&cmd, &ma, "--now", now_arg, &now_us))
        return CLI_USAGE;
    rr.dry_run = ma.dry_run;
    siglog_retain_options o = { .stream = ma.stream, .dry_run = ma.dry_run, .partition_done = on_partition,
                                .progress = on_progress, .ctx = &rr };
    siglog_maintenance *m = NULL;
    if (maint_args_open(&cmd, &ma, ops[0], &m))
        return CLI_FAILURE;
    if (ma.json && !(rr.list = json_array())) {
        siglog_maintenance_close(m);
        return cli_fail(cmd.name, "out of memory");
    }
    progress_start(&rr.bar, "retain", 0);
    int rc = siglog_retain(m, now_us, &o);
    progress_end(&rr.bar);
    int status = rc ? cli_fail_lib(cmd.name, rc, "store %s", ops[0]) : CLI_OK;
    siglog_maintenance_close(m);
    if (status == CLI_OK && rr.failed)
        status = cli_fail(cmd.name, "out of memory");
    if (status == CLI_OK && ma.json) {
        json_t *doc = json_pack("{s:b, s:I, s:O}", "dry_run", rr.dry_run, "now_us", (json_int_t)now_us,
                                "partitions", rr.list);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            status = cli_fail(cmd.name, "out of memory");
    }
    if (status == CLI_OK)
        status = out_finish(cmd.name);
    json_decref(rr.list);
    return status;
}
