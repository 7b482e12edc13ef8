/*
 * cmd_segments — `siglog segments`: a partition's catalog, one line (or
 * JSON object) per segment, with the generation it was read at. Opens the
 * store read-only: it runs beside a writer and a maintenance process and
 * shows their latest generation.
 */
#include "args.h"
#include "cli.h"
#include "output.h"
#include "timeparse.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

static const args_cmd segments_cmd = {
    "segments",
    "siglog segments STORE STREAM [--partition P] [--json]",
    "Print the segments of a partition as its catalog lists them, one line each:\n"
    "its offsets base..end (end excluded), record count, bytes, state (active,\n"
    "sealed, replacing), tier (hot, warm, cold, archive), file stem, first and\n"
    "largest event time and the schema versions it holds; then the line\n"
    "'generation N', the catalog's generation (it grows with every change by\n"
    "the writer or by maintenance).\n"
    "\n"
    "  --partition P   the partition (default 0)\n"
    "  --json          one JSON document: {\"store\", \"stream\", \"partition\",\n"
    "                  \"generation\", \"segments\": [{base_offset, end_offset,\n"
    "                  record_count, bytes, state, tier, location,\n"
    "                  first_timestamp_us, max_timestamp_us, schema_versions}]}\n"
    "\n"
    "Opens the store read-only and writes nothing.\n",
};

static const char *const state_names[] = {"active", "sealed", "replacing"};
static const char *const tier_names[] = {"hot", "warm", "cold", "archive"};

static const char *name_of(const char *const *names, size_t n, uint32_t v)
{
    return v < n ? names[v] : "unknown";
}

typedef struct seg_ctx {
    json_t *segs; /* NULL for text */
} seg_ctx;

static int one_segment(void *ctx, const siglog_segment_info *g)
{
    seg_ctx *sc = ctx;
    const char *state = name_of(state_names, 3, g->state), *tier = name_of(tier_names, 4, g->tier);
    if (sc->segs) {
        json_t *versions = json_array();
        for (uint32_t k = 0; versions && k < g->schema_count; k++)
            if (json_array_append_new(versions, json_integer(g->schema_versions[k])) != 0)
                return -1;
        json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:o}", "base_offset",
                              (json_int_t)g->base_offset, "end_offset", (json_int_t)g->end_offset, "record_count",
                              (json_int_t)g->record_count, "bytes", (json_int_t)g->bytes, "state", state, "tier",
                              tier, "location", g->location, "first_timestamp_us",
                              (json_int_t)g->first_timestamp_us, "max_timestamp_us",
                              (json_int_t)g->max_timestamp_us, "schema_versions", versions);
        return j && json_array_append_new(sc->segs, j) == 0 ? 0 : -1;
    }
    char line[512];
    snprintf(line, sizeof line, "%" PRIu64 "..%" PRIu64 " records=%" PRIu64 " bytes=%" PRIu64 " %s %s %s", g->base_offset,
             g->end_offset, g->record_count, g->bytes, state, tier, g->location);
    out_puts(line);
    if (g->record_count) {
        char first[TIMEPARSE_RFC3339_MAX], max[TIMEPARSE_RFC3339_MAX];
        timeparse_format(g->first_timestamp_us, first);
        timeparse_format(g->max_timestamp_us, max);
        snprintf(line, sizeof line, " first=%s max=%s", first, max);
        out_puts(line);
    }
    for (uint32_t k = 0; k < g->schema_count; k++) {
        snprintf(line, sizeof line, "%s%" PRIu32, k ? "," : " schemas=", g->schema_versions[k]);
        out_puts(line);
    }
    out_puts("\n");
    return out_failed() ? -1 : 0;
}

enum { OPT_JSON = 256, OPT_PARTITION };

int cmd_segments(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "partition", required_argument, NULL, OPT_PARTITION },
        { NULL, 0, NULL, 0 },
    };
    int json = 0;
    uint32_t partition = 0;
    args_begin();
    for (int ch; (ch = args_next(&segments_cmd, argc, argv, opts)) != -1;) {
        if (ch == OPT_JSON) {
            json = 1;
        } else if (ch == OPT_PARTITION) {
            if (args_u32(&segments_cmd, "--partition", optarg, 0, SIGLOG_PARTITIONS_MAX - 1, &partition))
                return CLI_USAGE;
        } else {
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        }
    }
    char **ops;
    if (args_operands(&segments_cmd, argc, argv, 2, "STORE STREAM", &ops))
        return CLI_USAGE;
    siglog *s;
    siglog_stream *st;
    if (cli_open(segments_cmd.name, ops[0], CLI_OPEN_READ_ONLY, ops[1], &s, &st) != CLI_OK)
        return CLI_FAILURE;
    seg_ctx sc = { json ? json_array() : NULL };
    int status = CLI_OK;
    uint64_t generation = 0;
    if (json && !sc.segs) {
        status = cli_fail(segments_cmd.name, "out of memory");
        goto out;
    }
    int rc = siglog_segments_foreach(st, partition, &generation, one_segment, &sc);
    if (rc < -1 || (rc == -1 && json))
        status = rc == -1 ? cli_fail(segments_cmd.name, "out of memory")
                          : cli_fail_lib(segments_cmd.name, rc, "segments of stream %s partition %u", ops[1], partition);
    if (status == CLI_OK && json) {
        json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:O}", "store", ops[0], "stream", ops[1], "partition",
                                (json_int_t)partition, "generation", (json_int_t)generation, "segments", sc.segs);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            status = cli_fail(segments_cmd.name, "out of memory");
    }
    if (status == CLI_OK && !json) {
        char line[64];
        snprintf(line, sizeof line, "generation %" PRIu64 "\n", generation);
        out_puts(line);
    }
    if (status == CLI_OK)
        status = out_finish(segments_cmd.name);
out:
    json_decref(sc.segs);
    siglog_close(s);
    return status;
}
