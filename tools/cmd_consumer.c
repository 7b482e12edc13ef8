/*
 * cmd_consumer — `siglog consumer commit|list|delete`: named consumers of a
 * stream and their committed offsets. Runs beside a live writer: commit
 * and delete open the store in the consumer role, which writes nothing but
 * the stream's consumers file (and, for a hold, an audit record).
 */
#include "args.h"
#include "cli.h"
#include "output.h"
#include "streaminfo.h"
#include "timeparse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const args_cmd consumer_cmd = {
    "consumer",
    "siglog consumer commit|list|delete STORE STREAM ...",
    "Named consumers of a stream and, per partition, their committed offset: the\n"
    "next offset the consumer will read (everything below it was delivered and\n"
    "processed). See siglog consumer commit --help, list --help, delete --help.\n",
};

static const args_cmd commit_cmd = {
    "consumer commit",
    "siglog consumer commit STORE STREAM NAME --partition P --offset O [--hold]",
    "Record that consumer NAME of STREAM has processed every event of partition P\n"
    "below offset O: its next read starts at O. O may be lower than before (to\n"
    "read again) and at most the partition's next offset. The consumer is\n"
    "created by its first commit. Durable when the command ends.\n"
    "\n"
    "  --partition P   the partition\n"
    "  --offset O      the next offset to read\n"
    "  --hold          the consumer holds retention back: events it has not\n"
    "                  committed past are not purged (unless older than the\n"
    "                  stream's max_hold). Kept until the consumer is deleted.\n"
    "                  Every commit of a holding consumer is recorded in the\n"
    "                  audit trail (siglog audit).\n"
    "\n"
    "Runs beside a live writer: it writes only the stream's consumers file.\n",
};

static const args_cmd list_cmd = {
    "consumer list",
    "siglog consumer list STORE STREAM [--json]",
    "Print each consumer of STREAM: its name, whether it holds, the time of its\n"
    "last commit and, per partition, its next offset.\n"
    "\n"
    "  --json   one JSON document: {\"store\", \"stream\", \"consumers\": [{name,\n"
    "           hold, committed_us, next_offsets: [per partition]}]}\n"
    "\n"
    "Opens the store read-only and writes nothing.\n",
};

static const args_cmd delete_cmd = {
    "consumer delete",
    "siglog consumer delete STORE STREAM NAME",
    "Delete consumer NAME of STREAM and its offsets; a hold it had is released\n"
    "(recorded in the audit trail). Exit 1 when there is no such consumer.\n",
};

enum { OPT_PARTITION = 256, OPT_OFFSET, OPT_HOLD };

static int consumer_commit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "partition", required_argument, NULL, OPT_PARTITION },
        { "offset", required_argument, NULL, OPT_OFFSET },
        { "hold", no_argument, NULL, OPT_HOLD },
        { NULL, 0, NULL, 0 },
    };
    uint32_t partition = 0;
    uint64_t offset = 0;
    int have_partition = 0, have_offset = 0;
    unsigned flags = 0;
    args_begin();
    for (int ch; (ch = args_next(&commit_cmd, argc, argv, opts)) != -1;) {
        if (ch == OPT_HOLD) {
            flags |= SIGLOG_CONSUMER_HOLD;
        } else if (ch == OPT_PARTITION) {
            if (args_u32(&commit_cmd, "--partition", optarg, 0, 4095, &partition))
                return CLI_USAGE;
            have_partition = 1;
        } else if (ch == OPT_OFFSET) {
            if (args_u64(&commit_cmd, "--offset", optarg, 0, UINT64_MAX, &offset))
                return CLI_USAGE;
            have_offset = 1;
        } else {
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        }
    }
    char **ops;
    if (args_operands(&commit_cmd, argc, argv, 3, "STORE STREAM NAME", &ops))
        return CLI_USAGE;
    if (!have_partition || !have_offset)
        return args_usage(&commit_cmd, "--partition and --offset are required");
    siglog *s;
    siglog_stream *st;
    if (cli_open(commit_cmd.name, ops[0], CLI_OPEN_CONSUMER, ops[1], &s, &st) != CLI_OK)
        return CLI_FAILURE;
    int rc = siglog_consumer_commit(st, ops[2], partition, offset, flags);
    int status = rc ? cli_fail_lib(commit_cmd.name, rc, "consumer %s of stream %s", ops[2], ops[1]) : CLI_OK;
    siglog_close(s);
    return status;
}

typedef struct list_ctx {
    json_t *consumers; /* NULL for text */
} list_ctx;

static int list_one(void *ctx, const siglog_consumer_info *c)
{
    list_ctx *lc = ctx;
    if (lc->consumers) {
        json_t *offs = json_array();
        for (uint32_t p = 0; offs && p < c->partitions; p++)
            if (json_array_append_new(offs, json_integer((json_int_t)c->next_offset[p])) != 0)
                return -1;
        json_t *j = json_pack("{s:s, s:b, s:I, s:o}", "name", c->name, "hold", c->hold, "committed_us",
                              (json_int_t)c->committed_us, "next_offsets", offs);
        return j && json_array_append_new(lc->consumers, j) == 0 ? 0 : -1;
    }
    char when[TIMEPARSE_RFC3339_MAX], line[SIGLOG_NAME_MAX + 128];
    timeparse_format(c->committed_us, when);
    snprintf(line, sizeof line, "%s%s committed %s next offsets:", c->name, c->hold ? " (hold)" : "", when);
    out_puts(line);
    for (uint32_t p = 0; p < c->partitions; p++) {
        snprintf(line, sizeof line, " %" PRIu32 "=%" PRIu64, p, c->next_offset[p]);
        out_puts(line);
    }
    out_puts("\n");
    return out_failed() ? -1 : 0;
}

static int consumer_list(int argc, char **argv)
{
    int json, exit_code = args_flag_only(&list_cmd, argc, argv, "json", &json);
    if (exit_code >= 0)
        return exit_code;
    char **ops;
    if (args_operands(&list_cmd, argc, argv, 2, "STORE STREAM", &ops))
        return CLI_USAGE;
    siglog *s;
    siglog_stream *st;
    if (cli_open(list_cmd.name, ops[0], CLI_OPEN_READ_ONLY, ops[1], &s, &st) != CLI_OK)
        return CLI_FAILURE;
    list_ctx lc = { json ? json_array() : NULL };
    int status = CLI_OK;
    if (json && !lc.consumers) {
        status = cli_fail(list_cmd.name, "out of memory");
        goto out;
    }
    int rc = siglog_consumer_foreach(st, list_one, &lc);
    if (rc < -1 || (rc == -1 && json))
        status = rc == -1 ? cli_fail(list_cmd.name, "out of memory")
                          : cli_fail_lib(list_cmd.name, rc, "consumers of stream %s", ops[1]);
    if (status == CLI_OK && json) {
        json_t *doc = json_pack("{s:s, s:s, s:O}", "store", ops[0], "stream", ops[1], "consumers", lc.consumers);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            status = cli_fail(list_cmd.name, "out of memory");
    }
    if (status == CLI_OK)
        status = out_finish(list_cmd.name);
out:
    json_decref(lc.consumers);
    siglog_close(s);
    return status;
}

static int consumer_delete(int argc, char **argv)
{
    static const struct option opts[] = { { NULL, 0, NULL, 0 } };
    args_begin();
    for (int ch; (ch = args_next(&delete_cmd, argc, argv, opts)) != -1;)
        return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
    char **ops;
    if (args_operands(&delete_cmd, argc, argv, 3, "STORE STREAM NAME", &ops))
        return CLI_USAGE;
    siglog *s;
    siglog_stream *st;
    if (cli_open(delete_cmd.name, ops[0], CLI_OPEN_CONSUMER, ops[1], &s, &st) != CLI_OK)
        return CLI_FAILURE;
    int rc = siglog_consumer_delete(st, ops[2]);
    int status = rc ? cli_fail_lib(delete_cmd.name, rc, "deleting consumer %s", ops[2]) : CLI_OK;
    siglog_close(s);
    return status;
}

int cmd_consumer(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } subs[] = { { "commit", consumer_commit }, { "list", consumer_list }, { "delete", consumer_delete } };
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof *subs; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n\n%s", consumer_cmd.synopsis, consumer_cmd.help);
        return CLI_OK;
    }
    if (argc < 2)
        return args_usage(&consumer_cmd, "missing subcommand (commit, list or delete)");
    return args_usage(&consumer_cmd, "unknown subcommand '%s'", argv[1]);
}
