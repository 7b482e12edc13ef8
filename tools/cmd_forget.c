/*
 * cmd_forget — `siglog forget`: remove every event of some keys from a
 * stream's sealed segments through a maintenance handle (siglog_forget),
 * beside a live writer and readers.
 */
#include "args.h"
#include "cli.h"
#include "maint_args.h"
#include "output.h"
#include "progress.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const args_cmd forget_cmd = {
    "forget",
    "siglog forget STORE STREAM (--key K ... | --key-file FILE) [--dry-run]\n"
    "       [--force-owner] [--json]",
    "Remove every event whose key is one of the keys given from the stream's\n"
    "sealed segments (hot and warm), each segment rewritten without them\n"
    "through the catalog's rewrite primitive: a crash leaves it old or new,\n"
    "and a writer and readers go on beside it. Every other event keeps its\n"
    "offset, time and bytes; segments whose key filter excludes every key\n"
    "are not read.\n"
    "\n"
    "  --key K         a key to forget (repeatable)\n"
    "  --key-file FILE the keys to forget, one per line (an empty line is no\n"
    "                  key: refused)\n"
    "  --dry-run       say what would go and write nothing\n"
    "  --force-owner   run as another user than the store's owner, giving new\n"
    "                  files to the owner\n"
    "  --json          one JSON document: {\"store\", \"stream\", \"dry_run\",\n"
    "                  \"keys\", \"partitions\", \"partitions_changed\",\n"
    "                  \"segments_skipped\", \"segments_read\",\n"
    "                  \"segments_rewritten\", \"events_removed\",\n"
    "                  \"bytes_before\", \"bytes_after\", \"journal_scrubbed\"}\n"
    "\n"
    "Before a partition changes, one audit record (action forget) is written\n"
    "for it with the keyed BLAKE2b-256 (the store's secret) of each key it\n"
    "held events of, never the key, and the events, bytes and offsets\n"
    "removed. An active segment holding an event of a key is not touched:\n"
    "the forget then changes nothing and exits 1 (run it again once the\n"
    "writer sealed that segment). When no writer has the store, the commit\n"
    "journal's old bytes are zeroed at the end; beside a live writer they stay\n"
    "until it overwrites them, which the report says: run forget again once\n"
    "it has closed. Not covered yet: cold segments and archives.\n",
};

enum { OPT_KEY = MAINT_OPT_END, OPT_KEY_FILE };

/* The keys given, their bytes owned here. */
typedef struct key_list {
    siglog_key *v;
    size_t n, cap;
} key_list;

static int key_add(key_list *l, const char *data, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        siglog_key *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    l->v[l->n++] = (siglog_key){copy, len};
    return 0;
}

static void key_list_free(key_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->v[i].data);
    free(l->v);
}

/* Every line of path as a key: CLI_OK, or a usage error for an empty
 * file or line, CLI_FAIL when it cannot be read. */
static int read_key_file(const char *path, key_list *l)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(forget_cmd.name, "cannot read key file %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, before = l->n;
    ssize_t len;
    uint64_t lineno = 0;
    int status = CLI_OK;
    while (status == CLI_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len == 0)
            status = args_usage(&forget_cmd, "key file %s: line %" PRIu64 " is empty (no key)", path, lineno);
        else if (key_add(l, line, (size_t)len) != 0)
            status = cli_fail(forget_cmd.name, "out of memory");
    }
    if (status == CLI_OK && ferror(f))
        status = cli_fail(forget_cmd.name, "cannot read key file %s: %s", path, strerror(errno));
    if (status == CLI_OK && l->n == before)
        status = args_usage(&forget_cmd, "key file %s holds no key", path);
    free(line);
    fclose(f);
    return status;
}

static int report(const char *store, const char *stream, size_t keys, int dry_run, const siglog_forget_result *r,
                  int json)
{
    if (json) {
        json_t *doc = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "store", store,
                                "stream", stream, "dry_run", dry_run, "keys", (json_int_t)keys, "partitions",
                                (json_int_t)r->partitions, "partitions_changed", (json_int_t)r->partitions_changed,
                                "segments_skipped", (json_int_t)r->segments_skipped, "segments_read",
                                (json_int_t)r->segments_read, "segments_rewritten",
                                (json_int_t)r->segments_rewritten, "events_removed", (json_int_t)r->events_removed,
                                "bytes_before", (json_int_t)r->bytes_before, "bytes_after",
                                (json_int_t)r->bytes_after, "journal_scrubbed", (int)r->journal_scrubbed);
        if (!doc || (out_json_doc(doc) != 0 && !out_failed()))
            return cli_fail(forget_cmd.name, "out of memory");
        return out_finish(forget_cmd.name);
    }
    char line[512];
    snprintf(line, sizeof line,
             "%s %zu keys of stream %s: %" PRIu64 " events in %" PRIu64 " segments of %" PRIu32 " of %" PRIu32
             " partitions (%" PRIu64 " segments read, %" PRIu64 " passed over by their key filters); bytes %" PRIu64
             " before, %" PRIu64 " after\n",
             dry_run ? "would forget:" : "forgot:", keys, stream, r->events_removed, r->segments_rewritten,
             r->partitions_changed, r->partitions, r->segments_read, r->segments_skipped, r->bytes_before,
             r->bytes_after);
    out_puts(line);
    if (!dry_run && !r->journal_scrubbed)
        out_puts("the commit journal may still hold bytes of the forgotten events until the writer overwrites "
                 "them: run forget again once no writer has the store\n");
    return out_finish(forget_cmd.name);
}

static int run(const char *store, const char *stream, const key_list *keys, const maint_args *ma)
{
    siglog_maintenance *m;
    if (maint_args_open(&forget_cmd, ma, store, &m))
        return CLI_FAILURE;
    progress bar;
    progress_start(&bar, "forget", 0);
    siglog_forget_options o = {.dry_run = (uint32_t)ma->dry_run, .progress = progress_partitions, .progress_ctx = &bar};
    siglog_forget_result r;
    int rc = siglog_forget(m, stream, keys->v, keys->n, &o, &r);
    progress_end(&bar);
    int status = rc ? cli_fail_lib(forget_cmd.name, rc, "forgetting keys of stream %s", stream)
                    : report(store, stream, keys->n, ma->dry_run, &r, ma->json);
    siglog_maintenance_close(m);
    return status;
}

int cmd_forget(int argc, char **argv)
{
    static const struct option opts[] = {
        MAINT_OPTION_JSON,
        { "key", required_argument, NULL, OPT_KEY },
        { "key-file", required_argument, NULL, OPT_KEY_FILE },
        MAINT_OPTION_DRY_RUN,
        MAINT_OPTION_FORCE_OWNER,
        { NULL, 0, NULL, 0 },
    };
    maint_args ma = { 0 };
    int status = CLI_OK;
    const char *key_file = NULL;
    key_list keys = {0};
    args_begin();
    for (int ch; status == CLI_OK && (ch = maint_args_next(&forget_cmd, argc, argv, opts, &ma)) != -1;) {
        if (ch == OPT_KEY) {
            if (!*optarg)
                status = args_usage(&forget_cmd, "--key wants a key, not an empty string");
            else if (key_add(&keys, optarg, strlen(optarg)) != 0)
                status = cli_fail(forget_cmd.name, "out of memory");
        } else if (ch == OPT_KEY_FILE) {
            key_file = optarg;
        } else {
            key_list_free(&keys);
            return ch == ARGS_HELP ? CLI_OK : CLI_USAGE;
        }
    }
    char **ops;
    if (status == CLI_OK && args_operands(&forget_cmd, argc, argv, 2, "STORE STREAM", &ops))
        status = CLI_USAGE;
    if (status == CLI_OK && key_file && keys.n)
        status = args_usage(&forget_cmd, "--key and --key-file exclude each other");
    if (status == CLI_OK && key_file)
        status = read_key_file(key_file, &keys);
    if (status == CLI_OK && !keys.n)
        status = args_usage(&forget_cmd, "one of --key K or --key-file FILE is required");
    if (status == CLI_OK)
        status = run(ops[0], ops[1], &keys, &ma);
    key_list_free(&keys);
    return status;
}
