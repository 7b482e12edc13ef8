/*
 * cmd_restore — `siglog restore ARCHIVE... --into STORE`: bring archive
 * files back into the partitions they name (siglog_archive_restore, in
 * the maintenance role: a writer may run). Archives of one partition are
 * restored newest first, so that each reaches up to the log start the one
 * before it moved down, whatever order they are given in.
 */
#include "args.h"
#include "cli.h"
#include "maint_args.h"
#include "output.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const args_cmd cmd = {
    "restore",
    "siglog restore ARCHIVE... --into STORE [--json]",
    "Bring archive files (siglog archive) back into the partition each names\n"
    "(store id, stream, partition). The segments of an archive below the\n"
    "partition's log start come back and the log start moves down to the\n"
    "archive's first offset; an archive must reach up to the log start (of\n"
    "one partition, the newest is restored first, so give them all at once).\n"
    "The part of an archive the store still holds must be, record for record,\n"
    "what the store holds there: then it changes nothing; otherwise the\n"
    "archive is refused naming the offsets, and nothing of it is restored.\n"
    "Every archive is checked whole first; each restore is recorded in the\n"
    "audit trail (action restore) before it is done.\n"
    "\n"
    "  --into STORE  the store the archives came from\n"
    "  --json        print {\"archives\": [{path, stream, partition, first_offset,\n"
    "                next_offset, records, segments, restored}]} (the offsets,\n"
    "                records and segments restored; restored false when the\n"
    "                store held everything already)\n"
    "\n"
    "Runs in the maintenance role, beside a running writer and readers; a\n"
    "second maintenance process makes it fail. Stops at the first archive\n"
    "that fails (exit 1): those before it stay restored.\n",
};

enum { OPT_INTO = MAINT_OPT_END };

/* One archive operand and where it belongs. */
typedef struct operand {
    const char *path;
    char stream[SIGLOG_NAME_MAX + 1];
    uint32_t partition;
    uint64_t first_offset;
} operand;

/* By stream and partition, then the newest (highest offsets) first. */
static int newest_first(const void *a, const void *b)
{
    const operand *x = a, *y = b;
    int c = strcmp(x->stream, y->stream);
    if (c)
        return c;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->first_offset > y->first_offset ? -1 : x->first_offset < y->first_offset;
}

static int describe(const char *path, operand *o)
{
    siglog_archive *a;
    int rc = siglog_archive_open(&a, path);
    if (rc)
        return cli_fail_lib(cmd.name, rc, "archive %s", path);
    const siglog_archive_info *in = siglog_archive_info_get(a);
    o->path = path;
    snprintf(o->stream, sizeof o->stream, "%s", in->stream);
    o->partition = in->partition;
    o->first_offset = in->first_offset;
    siglog_archive_close(a);
    return CLI_OK;
}

/* What one restore did, as a line or a JSON object. */
static int report(json_t *list, const operand *o, const siglog_restore_result *r, int restored)
{
    if (list) {
        json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b}", "path", o->path, "stream", o->stream,
                              "partition", (json_int_t)o->partition, "first_offset", (json_int_t)r->first_offset,
                              "next_offset", (json_int_t)r->next_offset, "records", (json_int_t)r->records,
                              "segments", (json_int_t)r->segments, "restored", restored);
        return !e || json_array_append_new(list, e) != 0 ? cli_fail(cmd.name, "out of memory") : CLI_OK;
    }
    char line[SIGLOG_NAME_MAX + 160];
    if (restored)
        snprintf(line, sizeof line, "\tstream=%s partition=%u offsets=[%" PRIu64 ",%" PRIu64 ") records=%" PRIu64
                 " segments=%u restored\n", o->stream, o->partition, r->first_offset, r->next_offset, r->records,
                 r->segments);
    else
        snprintf(line, sizeof line, "\tstream=%s partition=%u already in the store\n", o->stream, o->partition);
    out_puts(o->path);
    out_puts(line);
    return CLI_OK;
}

int cmd_restore(int argc, char **argv)
{
    static const struct option opts[] = {
        { "into", required_argument, NULL, OPT_INTO },
        MAINT_OPTION_JSON,
        { NULL, 0, NULL, 0 },
    };
    const char *store = NULL;
    maint_args ma = { 0 };
    args_begin();
    for (int ch; (ch = maint_args_next(&cmd, argc, argv, opts, &ma)) != -1;) {
        if (ch == OPT_INTO)
            store = optarg;
        else
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
    }
    int first = args_operand_index(), n = argc - first;
    if (n < 1)
        return args_usage(&cmd, "missing ARCHIVE");
    if (!store)
        return args_usage(&cmd, "--into STORE is required");
    operand *ops = calloc((size_t)n, sizeof *ops);
    if (!ops)
        return cli_fail(cmd.name, "out of memory");
    int status = CLI_OK;
    for (int i = 0; i < n && status == CLI_OK; i++)
        status = describe(argv[first + i], &ops[i]);
    qsort(ops, (size_t)n, sizeof *ops, newest_first);
    siglog_maintenance *m = NULL;
    json_t *list = NULL;
    if (status == CLI_OK)
        status = maint_args_open(&cmd, &ma, store, &m);
    if (status == CLI_OK && ma.json && !(list = json_array()))
        status = cli_fail(cmd.name, "out of memory");
    for (int i = 0; i < n && status == CLI_OK && !out_failed(); i++) {
        siglog_restore_result r;
        int rc = siglog_archive_restore(m, ops[i].path, &r);
        status = rc < 0 ? cli_fail_lib(cmd.name, rc, "cannot restore into store %s", store)
                        : report(list, &ops[i], &r, rc == 1);
    }
    siglog_maintenance_close(m);
    if (status == CLI_OK && ma.json) {
        json_t *doc = json_pack("{s:O}", "archives", list);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            status = cli_fail(cmd.name, "out of memory");
    }
    if (status == CLI_OK)
        status = out_finish(cmd.name);
    json_decref(list);
    free(ops);
    return status;
}
